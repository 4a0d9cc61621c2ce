/* bindverdict — see bindverdict.h. */
#include "actors/scheduler/bindverdict.h"
#include "core/envelope.h"
#include <string.h>

static int
unknown_outcome (int code)
{
    return code == TR_TIMEOUT || code == TR_UNAVAILABLE;
}

bind_verdict_t
bind_verdict_reply (int code)
{
    if (code == TR_OK)
        return BIND_DONE;
    if (unknown_outcome (code))
        return BIND_RECHECK;
    return code == TR_NOT_FOUND ? BIND_FORGET : BIND_REQUEUE;
}

bind_verdict_t
bind_verdict_readback (int code, const char *node, int deleting, const char *want)
{
    /* a read that timed out is read again; Unavailable (the server switched once more, or the
     * actor is stopping: its host fails what is pending) gives the pod back to the queue, so a
     * stopping scheduler's read-backs end */
    if (code == TR_TIMEOUT)
        return BIND_RECHECK;
    if (code == TR_NOT_FOUND)
        return BIND_FORGET;
    if (code != TR_OK)
        return BIND_REQUEUE;
    if (node && *node)
        return want && !strcmp (node, want) ? BIND_DONE : BIND_FORGET;
    return deleting ? BIND_FORGET : BIND_RETRY;
}
