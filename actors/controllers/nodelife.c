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

/* The taint this controller keeps for a Ready condition's status (NULL: none, Ready=True). */
static const char *
taint_for (const char *ready_status)
{
    if (!ready_status)
        return NULL;
    if (!strcmp (ready_status, "Unknown"))
        return NODELIFE_TAINT_UNREACHABLE;
    if (!strcmp (ready_status, "False"))
        return NODELIFE_TAINT_NOT_READY;
    return NULL;
}

static int
ours (const char *key)
{
    return key && (!strcmp (key, NODELIFE_TAINT_UNREACHABLE) || !strcmp (key, NODELIFE_TAINT_NOT_READY));
}

/* Keeps node's taints in step with its Ready status: a merge patch of spec.taints (the whole
 * list: others kept, ours replaced) when they differ. */
static void
sync_taints (const json_t *node, const char *want, int64_t now_ms, ctrl_actions_t *out)
{
    const char *name = tv_str (node, "metadata.name");
    int have_exec = 0, have_sched = 0, stale = 0;
    size_t i;
    json_t *t;
    json_t *keep = json_array ();
    json_array_foreach (tv_get (node, "spec.taints"), i, t) {
        const char *k = tv_str (t, "key"), *e = tv_str (t, "effect");
        if (!ours (k)) {
            json_array_append (keep, t);
            continue;
        }
        if (want && !strcmp (k, want) && e && !strcmp (e, "NoExecute"))
            have_exec = 1, json_array_append (keep, t);
        else if (want && !strcmp (k, want) && e && !strcmp (e, "NoSchedule"))
            have_sched = 1, json_array_append (keep, t);
        else
            stale = 1;
    }
    if (!stale && (!want || (have_exec && have_sched))) {
        json_decref (keep);
        return;
    }
    if (want) {
        char now[32];
        tr_time_format (now_ms, now, sizeof now);
        if (!have_sched)
            json_array_append_new (keep, json_pack ("{s:s, s:s}", "key", want, "effect", "NoSchedule"));
        if (!have_exec)
            json_array_append_new (keep, json_pack ("{s:s, s:s, s:s}", "key", want, "effect", "NoExecute", "timeAdded", now));
    }
    ctrl_actions_add (out, TR_VERB_PATCH, "Node", "", name, 0, json_pack ("{s:{s:o}}", "spec", "taints", keep), name);
}

int64_t
nodelife_toleration_ms (const json_t *pod, const json_t *taint, int64_t default_ms)
{
    const char *tkey = tv_str (taint, "key"), *tval = tv_str (taint, "value");
    size_t i;
    json_t *t;
    int matched = 0;
    int64_t min = -1;
    json_array_foreach (tv_get (pod, "spec.tolerations"), i, t) {
        const char *k = tv_str (t, "key"), *e = tv_str (t, "effect"), *op = tv_str (t, "operator");
        int exists = op && !strcmp (op, "Exists");
        if (k && *k ? strcmp (k, tkey ? tkey : "") : !exists)
            continue; /* an empty key tolerates every taint, with operator Exists only */
        if (e && *e && strcmp (e, "NoExecute"))
            continue;
        if (!exists && strcmp (tv_str (t, "value") ? tv_str (t, "value") : "", tval ? tval : ""))
            continue; /* Equal: the values must be equal */
        matched = 1;
        json_t *secs = json_object_get (t, "tolerationSeconds");
        if (!json_is_integer (secs))
            continue;
        int64_t ms = json_integer_value (secs) > 0 ? json_integer_value (secs) * 1000 : 0;
        if (min < 0 || ms < min)
            min = ms;
    }
    if (!matched)
        return default_ms;
    return min; /* -1: tolerated forever (no matching toleration has seconds) */
}

/* Ready=False on pods of a lost node (the node controller's MarkPodsNotReady), so their endpoints
 * leave the Services at once; the agent posts the truth when it comes back. */
static void
mark_not_ready (const json_t *pods, const char *node, int64_t now_ms, ctrl_actions_t *out)
{
    char now[32];
    tr_time_format (now_ms, now, sizeof now);
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p) {
        json_t *conds = json_array (), *c;
        size_t j;
        int changed = 0;
        json_array_foreach (tv_get (p, "status.conditions"), j, c) {
            const char *type = tv_str (c, "type"), *st = tv_str (c, "status");
            if (type && !strcmp (type, "Ready") && st && !strcmp (st, "True")) {
                json_t *nc = json_deep_copy (c);
                json_object_set_new (nc, "status", json_string ("False"));
                json_object_set_new (nc, "reason", json_string ("NodeNotReady"));
                json_object_set_new (nc, "message", json_string ("the node is not ready or not reachable"));
                json_object_set_new (nc, "lastTransitionTime", json_string (now));
                json_array_append_new (conds, nc);
                changed = 1;
            } else
                json_array_append (conds, c);
        }
        if (!changed) {
            json_decref (conds);
            continue;
        }
        ctrl_actions_add (out, TR_VERB_PATCH, "Pod", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"), 0,
                          json_pack ("{s:{s:o}}", "status", "conditions", conds), node);
        out->v[out->n - 1].opts = json_pack ("{s:s}", "subresource", "status");
    }
}

/* The last sign of life of node: its lease's renewal, else its own heartbeat; no earlier than
 * since_ms (a full grace period under this controller first). -1: never heard of. */
static int64_t
last_seen (const json_t *node, const json_t *lease, const json_t *ready, int64_t since_ms)
{
    int64_t seen = tr_time_parse (tv_str (lease, "spec.renewTime"));
    int64_t hb = tr_time_parse (tv_str (ready, "lastHeartbeatTime"));
    (void) node;
    if (hb > seen)
        seen = hb;
    if (seen < 0)
        return -1;
    return seen < since_ms ? since_ms : seen;
}

int
nodelife_wants_pods (const json_t *node, const json_t *lease, int64_t now_ms, int64_t since_ms, int64_t grace_ms)
{
    const json_t *ready = ready_condition (node);
    int64_t seen = last_seen (node, lease, ready, since_ms);
    if (!tv_str (node, "metadata.name") || seen < 0)
        return 0;
    const char *status = tv_str (ready, "status");
    if ((status && !strcmp (status, "Unknown")) || now_ms - seen > grace_ms)
        return 1; /* lost, or being lost now: its pods are marked not ready */
    size_t i;
    json_t *t;
    json_array_foreach (tv_get (node, "spec.taints"), i, t) {
        const char *e = tv_str (t, "effect");
        if (e && !strcmp (e, "NoExecute"))
            return 1; /* the taint manager reads its pods' tolerations */
    }
    return 0;
}

void
nodelife_reconcile (const json_t *node, const json_t *lease, const json_t *pods, int64_t now_ms, int64_t since_ms,
                    int64_t grace_ms, int64_t evict_ms, ctrl_actions_t *out)
{
    const char *name = tv_str (node, "metadata.name");
    if (!name)
        return;
    const json_t *ready = ready_condition (node);
    int64_t seen = last_seen (node, lease, ready, since_ms);
    if (seen < 0)
        return; /* never heard of: nothing to judge yet */
    const char *status = tv_str (ready, "status");
    int unknown = status && !strcmp (status, "Unknown");
    if (now_ms - seen > grace_ms && !unknown) {
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
        sync_taints (node, NODELIFE_TAINT_UNREACHABLE, now_ms, out);
        mark_not_ready (pods, name, now_ms, out);
        char msg[300];
        snprintf (msg, sizeof msg, "Node %s status is now: NodeNotReady", name);
        ctrl_actions_add (out, TR_VERB_CREATE, "Event", "default", NULL, 0,
                          tr_event_new (node, "Normal", "NodeNotReady", msg, "node-controller", NULL, now_ms), name);
        return;
    }
    /* the taints follow the Ready condition as it stands (TaintNodesByCondition): an agent that
     * returns posts Ready=True itself, and ours go */
    if (!ready)
        return;
    sync_taints (node, taint_for (status), now_ms, out);
    /* the taint manager: a pod on a node with NoExecute taints goes when its toleration of one
     * of them runs out. Not tolerated: at once, but for ours (not-ready, unreachable), which
     * DefaultTolerationSeconds admission gives every pod the eviction timeout for. A taint
     * without timeAdded counts from now (the api-server stamps it; ours always carry it). */
    const char *key = taint_for (status);
    if (unknown)
        mark_not_ready (pods, name, now_ms, out); /* pods bound since the node was lost */
    size_t i, j;
    json_t *p, *t;
    json_array_foreach (pods, i, p) {
        if (tv_get (p, "metadata.deletionTimestamp") && (!unknown || tv_int (p, "metadata.deletionGracePeriodSeconds", 1) == 0))
            continue; /* going already; on a lost node only grace 0 makes it go (its agent is gone) */
        const char *why = NULL;
        json_array_foreach (tv_get (node, "spec.taints"), j, t) {
            const char *e = tv_str (t, "effect"), *k = tv_str (t, "key");
            if (!e || strcmp (e, "NoExecute") || (ours (k) && (!key || strcmp (k, key))))
                continue; /* ours count only while the condition they stand for holds */
            int64_t added = tr_time_parse (tv_str (t, "timeAdded"));
            if (added < 0)
                added = now_ms;
            int64_t tol = nodelife_toleration_ms (p, t, ours (k) ? evict_ms : 0);
            if (tol >= 0 && now_ms - added >= tol) {
                why = k ? k : "";
                break;
            }
        }
        if (!why)
            continue;
        ctrl_actions_add (out, TR_VERB_DELETE, "Pod", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"), 0,
                          NULL, name);
        if (unknown) /* its agent is gone: nobody would stop it gracefully */
            out->v[out->n - 1].opts = json_pack ("{s:i}", "gracePeriodSeconds", 0);
        char msg[600];
        snprintf (msg, sizeof msg, "Marking for deletion Pod %s/%s: node %s has taint %s:NoExecute",
                  tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"), name, why);
        ctrl_actions_add (out, TR_VERB_CREATE, "Event", tv_str (p, "metadata.namespace"), NULL, 0,
                          tr_event_new (p, "Normal", "TaintManagerEviction", msg, "node-controller", NULL, now_ms), name);
    }
}
