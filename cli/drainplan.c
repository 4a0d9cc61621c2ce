/* drainplan — see drainplan.h. */
#include "cli/drainplan.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

static const json_t *
controller_of (const json_t *pod)
{
    size_t i;
    json_t *r;
    json_array_foreach (tv_get (pod, "metadata.ownerReferences"), i, r) if (json_is_true (json_object_get (r, "controller")))
        return r;
    return NULL;
}

static int
has_emptydir (const json_t *pod)
{
    size_t i;
    json_t *v;
    json_array_foreach (tv_get (pod, "spec.volumes"), i, v) if (json_object_get (v, "emptyDir"))
        return 1;
    return 0;
}

size_t
drain_plan (const json_t *pods, const drain_opts_t *o, drain_item_t *items, size_t cap, int *refused)
{
    size_t n = 0, i;
    json_t *p;
    *refused = 0;
    json_array_foreach (pods, i, p) {
        if (n >= cap)
            break;
        drain_item_t *it = &items[n++];
        it->pod = p;
        it->action = DRAIN_EVICT;
        it->why[0] = 0;
        const char *phase = tv_str (p, "status.phase");
        const json_t *ctl = controller_of (p);
        const char *ck = ctl ? tv_str (ctl, "kind") : NULL;
        if (json_object_get (json_object_get (json_object_get (p, "metadata"), "annotations"), "kubernetes.io/config.mirror")) {
            it->action = DRAIN_SKIP; /* a static pod's mirror: its node's manifest owns it */
            snprintf (it->why, sizeof it->why, "a mirror pod (static pod of the node)");
            continue;
        }
        if (phase && (!strcmp (phase, "Succeeded") || !strcmp (phase, "Failed")))
            continue; /* finished: deleted without further checks */
        if (ck && !strcmp (ck, "DaemonSet")) {
            if (o->ignore_daemonsets) {
                it->action = DRAIN_SKIP;
                snprintf (it->why, sizeof it->why, "DaemonSet-managed");
            } else {
                it->action = DRAIN_REFUSE;
                snprintf (it->why, sizeof it->why, "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)");
                (*refused)++;
            }
            continue;
        }
        if (!ctl && !o->force) {
            it->action = DRAIN_REFUSE;
            snprintf (it->why, sizeof it->why, "cannot delete Pods that declare no controller (use --force to override)");
            (*refused)++;
            continue;
        }
        if (has_emptydir (p) && !o->delete_emptydir) {
            it->action = DRAIN_REFUSE;
            snprintf (it->why, sizeof it->why, "cannot delete Pods with local storage (use --delete-emptydir-data to override)");
            (*refused)++;
        }
    }
    return n;
}
