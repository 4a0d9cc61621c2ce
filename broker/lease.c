/* lease — see lease.h. */
#include "broker/lease.h"
#include "core/meta.h"
#include "core/value.h"

#include <string.h>

/* A copy without what a renewal may change or the server owns: shallow (obj is often a cached
 * object, or shares with one): only the root, spec and metadata are copied, to delete from. */
static json_t *
stripped (const json_t *obj)
{
    json_t *c = json_copy ((json_t *) obj);
    tv_unshare (c, "spec"); /* held by obj and c: copied */
    tv_unshare (c, "metadata");
    tv_del (c, "spec.renewTime");
    tv_del (c, "metadata.resourceVersion");
    tv_del (c, "metadata.generation");
    tv_del (c, "metadata.managedFields");
    tv_del (c, "status");
    return c;
}

int
lease_is_renewal (const json_t *cur, const json_t *next)
{
    if (!json_is_object (cur) || !json_is_object (next))
        return 0;
    const char *kind = tv_str (next, "kind");
    if (kind && strcmp (kind, "Lease"))
        return 0;
    const char *was = tv_str (cur, "spec.renewTime"), *now = tv_str (next, "spec.renewTime");
    if (!now || tr_time_parse (now) < 0)
        return 0;
    if (was && tr_time_parse (was) > tr_time_parse (now))
        return 0; /* time going backwards is not a renewal: let it be an ordinary write */
    json_t *a = stripped (cur), *b = stripped (next);
    int same = json_equal (a, b);
    json_decref (a);
    json_decref (b);
    return same;
}
