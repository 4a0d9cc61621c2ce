/* TaintToleration: Filter — a NoSchedule or NoExecute taint the pod does not tolerate rejects the
 * node ("node(s) had untolerated taint {key: value}"); Score — the count of PreferNoSchedule
 * taints not tolerated, normalized reversed (fewer is better). */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

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
    for (uint32_t i = 0; i < node->ntaints; i++) {
        const tr_sched_taint_t *t = &node->taints[i];
        if (strcmp (t->effect, "NoSchedule") && strcmp (t->effect, "NoExecute"))
            continue;
        if (pu_pod_tolerates (pod->obj, t->key, t->value, t->effect))
            continue;
        return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE,
                                    host->intern (cs, "node(s) had untolerated taint {%s: %s}", t->key, t->value)};
    }
    return TR_SCHED_OK;
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) self, (void) cs;
    int64_t n = 0;
    size_t j;
    json_t *tol;
    const json_t *tols = NULL; /* looked up at the first PreferNoSchedule taint: most nodes have none */
    for (uint32_t i = 0; i < node->ntaints; i++) {
        const tr_sched_taint_t *t = &node->taints[i];
        if (strcmp (t->effect, "PreferNoSchedule"))
            continue;
        if (!tols)
            tols = json_object_get (json_object_get (pod->obj, "spec"), "tolerations");
        int ok = 0;
        json_array_foreach (tols, j, tol) {
            const char *te = pu_str (tol, "effect");
            if ((!te || !*te || !strcmp (te, "PreferNoSchedule")) && pu_tolerates (tol, t->key, t->value, t->effect))
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

TR_SCHED_FILTER_NODES (filter)
TR_SCHED_SCORE_NODES (score)

/* a node without taints: nothing to tolerate, nothing preferred against */
static void
filter_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
            const nodehot_t *const *hot, size_t n, tr_sched_status_t *st)
{
    for (size_t i = 0; i < n; i++)
        st[i] = hot[i]->tainted ? filter (self, cs, pod, nodes[i]) : TR_SCHED_OK;
}

static tr_sched_status_t
score_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
           const nodehot_t *const *hot, size_t n, int64_t *scores)
{
    for (size_t i = 0; i < n; i++) {
        scores[i] = 0;
        tr_sched_status_t s = hot[i]->tainted ? score (self, cs, pod, nodes[i], &scores[i]) : TR_SCHED_OK;
        if (s.code != TR_SCHED_SUCCESS)
            return s;
    }
    return TR_SCHED_OK;
}

static const nodehot_hooks_t hot_hooks = {.filter = filter_hot, .score = score_hot};

const nodehot_hooks_t *
sched_plugin_tainttoleration_hot (void)
{
    return &hot_hooks;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("TaintToleration"), .init = init, .filter = filter, .filter_nodes = filter_nodes, .score = score, .score_nodes = score_nodes,
                                         .normalize_score = normalize,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_TAINT};

const tr_sched_plugin_t *
sched_plugin_tainttoleration (void)
{
    return &plugin;
}
