/* TaintToleration: Filter — a NoSchedule or NoExecute taint the pod does not tolerate rejects the
 * node ("node(s) had untolerated taint {key: value}"); Score — the count of PreferNoSchedule
 * taints not tolerated, normalized reversed (fewer is better). */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

static const json_t *
taints (const tr_sched_node_t *node)
{
    return json_object_get (json_object_get (node->obj, "spec"), "taints");
}

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) args, (void) err, (void) errlen;
    return (void *) host;
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    const tr_sched_host_t *host = self;
    size_t i;
    json_t *t;
    json_array_foreach (taints (node), i, t) {
        const char *e = pu_str (t, "effect"), *k = pu_str (t, "key"), *v = pu_str (t, "value");
        if (!e || (strcmp (e, "NoSchedule") && strcmp (e, "NoExecute")))
            continue;
        if (pu_pod_tolerates (pod->obj, k, v, e))
            continue;
        return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE,
                                    host->intern (cs, "node(s) had untolerated taint {%s: %s}", k ? k : "", v ? v : "")};
    }
    return TR_SCHED_OK;
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) self, (void) cs;
    int64_t n = 0;
    size_t i, j;
    json_t *t, *tol;
    const json_t *tols = json_object_get (json_object_get (pod->obj, "spec"), "tolerations");
    json_array_foreach (taints (node), i, t) {
        const char *e = pu_str (t, "effect");
        if (!e || strcmp (e, "PreferNoSchedule"))
            continue;
        int ok = 0;
        json_array_foreach (tols, j, tol) {
            const char *te = pu_str (tol, "effect");
            if ((!te || !*te || !strcmp (te, "PreferNoSchedule")) && pu_tolerates (tol, pu_str (t, "key"), pu_str (t, "value"), e))
                ok = 1;
        }
        n += !ok;
    }
    *out = n;
    return TR_SCHED_OK;
}

static tr_sched_status_t
normalize (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, int64_t *scores, size_t n)
{
    (void) self, (void) cs, (void) pod;
    pu_normalize (scores, n, 1);
    return TR_SCHED_OK;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("TaintToleration"), .init = init, .filter = filter, .score = score,
                                         .normalize_score = normalize,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_TAINT};

const tr_sched_plugin_t *
sched_plugin_tainttoleration (void)
{
    return &plugin;
}
