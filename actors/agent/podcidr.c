/* podcidr — see podcidr.h. */
#include "actors/agent/podcidr.h"

#include <string.h>

podcidr_step_t
podcidr_decide (const podcidr_in_t *in)
{
    if (in->override && *in->override)
        return in->ready ? PODCIDR_NOTHING : PODCIDR_READY;
    if (in->own && *in->own) {
        if (in->sending || !in->runtime_known || (in->applied && !strcmp (in->own, in->applied)))
            return PODCIDR_NOTHING;
        return PODCIDR_SEND;
    }
    return !in->ready && in->now_ms >= in->deadline_ms ? PODCIDR_GIVE_UP : PODCIDR_NOTHING;
}
