/* nodelife — see nodelife.h. */
#include "actors/controllers/nodelife.h"
#include "core/meta.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

static const json_t *
ready_condition (const json_t *node)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (node, "status.conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), "Ready"))
        return c;
    return NULL;
}

void
nodelife_reconcile (const json_t *node, const json_t *lease, const json_t *pods, int64_t now_ms, int64_t since_ms,
                    int64_t grace_ms, int64_t evict_ms, ctrl_actions_t *out)
{
    const char *name = tv_str (node, "metadata.name");
    if (!name)
        return;
    /* the last sign of life: the lease renewal, else the node's own heartbeat */
    int64_t seen = tr_time_parse (tv_str (lease, "spec.renewTime"));
    const json_t *ready = ready_condition (node);
    int64_t hb = tr_time_parse (tv_str (ready, "lastHeartbeatTime"));
    if (hb > seen)
        seen = hb;
    if (seen < 0)
        return; /* never heard of: nothing to judge yet */
    if (seen < since_ms)
        seen = since_ms; /* a full grace period under this controller first */
    const char *status = tv_str (ready, "status");
    int unknown = status && !strcmp (status, "Unknown");
    if (now_ms - seen <= grace_ms)
        return; /* alive; an agent that returns sets Ready=True itself */
    if (!unknown) {
        char now[32];
        tr_time_format (now_ms, now, sizeof now);
        json_t *conds = json_array ();
        size_t i;
        json_t *c;
        json_array_foreach (tv_get (node, "status.conditions"), i, c) if (c != ready) json_array_append (conds, c);
        json_t *nc = tr_condition (NULL, "Ready", 0, "NodeStatusUnknown", "Kubelet stopped posting node status.", now);
        json_object_set_new (nc, "status", json_string ("Unknown"));
        json_object_set_new (nc, "lastHeartbeatTime", json_string (tv_str (ready, "lastHeartbeatTime") ? tv_str (ready, "lastHeartbeatTime") : now));
        json_array_append_new (conds, nc);
        json_t *status_obj = json_deep_copy (tv_get (node, "status"));
        if (!status_obj)
            status_obj = json_object ();
        json_object_set_new (status_obj, "conditions", conds);
        ctrl_actions_add (out, TR_VERB_UPDATE_STATUS, "Node", "", name, ctrl_rv (node), json_pack ("{s:o}", "status", status_obj), name);
        char msg[300];
        snprintf (msg, sizeof msg, "Node %s status is now: NodeNotReady", name);
        ctrl_actions_add (out, TR_VERB_CREATE, "Event", "default", NULL, 0,
                          tr_event_new (node, "Normal", "NodeNotReady", msg, "node-controller", NULL, now_ms), name);
        return;
    }
    int64_t since = tr_time_parse (tv_str (ready, "lastTransitionTime"));
    if (since < 0 || now_ms - since < evict_ms)
        return;
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p) {
        if (tv_get (p, "metadata.deletionTimestamp") && tv_int (p, "metadata.deletionGracePeriodSeconds", 1) == 0)
            continue;
        ctrl_actions_add (out, TR_VERB_DELETE, "Pod", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"), 0,
                          NULL, name);
        out->v[out->n - 1].opts = json_pack ("{s:i}", "gracePeriodSeconds", 0); /* its agent is gone */
        char msg[600];
        snprintf (msg, sizeof msg, "Marking for deletion Pod %s/%s: node %s unreachable", tv_str (p, "metadata.namespace"),
                  tv_str (p, "metadata.name"), name);
        ctrl_actions_add (out, TR_VERB_CREATE, "Event", tv_str (p, "metadata.namespace"), NULL, 0,
                          tr_event_new (p, "Normal", "TaintManagerEviction", msg, "node-controller", NULL, now_ms), name);
    }
}
