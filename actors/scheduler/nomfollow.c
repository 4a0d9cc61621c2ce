/* nomfollow — see nomfollow.h. */
#include "actors/scheduler/nomfollow.h"

#include <string.h>

static const char *
or_empty (const char *s)
{
    return s ? s : "";
}

nf_action_t
nomfollow (const char *held, const char *wrote, const char *onn, const char *nn, int *landed)
{
    const char *h = or_empty (held), *o = or_empty (onn), *n = or_empty (nn);
    if (landed)
        *landed = 0;
    if (wrote) {
        if (strcmp (n, wrote))
            return NF_KEEP; /* an echo from before our last write: memory is newer */
        if (landed)
            *landed = 1;
        /* our write is back: memory already holds it, unless it moved on without writing */
    }
    if (*n && strcmp (h, n))
        return NF_SET;
    if (!*n && *o && *h)
        return NF_CLEAR;
    return NF_KEEP;
}
