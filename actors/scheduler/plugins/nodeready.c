/* NodeReady (Filter, Troupe's): a node whose Ready condition is not True fits only pods
 * tolerating node.kubernetes.io/not-ready:NoSchedule. Kubernetes gets the same from the
 * not-ready taint the node lifecycle controller sets; this closes the window before the taint
 * lands (a node that registered a moment ago). See docs/decisions.md. */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) self, (void) cs;
    if (node->ready || pu_pod_tolerates (pod->obj, "node.kubernetes.io/not-ready", "", "NoSchedule"))
        return TR_SCHED_OK;
    return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, "node(s) were not ready"};
}

TR_SCHED_FILTER_NODES (filter)

static void
filter_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
            const nodehot_t *const *hot, size_t n, tr_sched_status_t *st)
{
    for (size_t i = 0; i < n; i++)
        st[i] = hot[i]->ready ? TR_SCHED_OK : filter (self, cs, pod, nodes[i]);
}

static const nodehot_hooks_t hot_hooks = {.filter = filter_hot};

const nodehot_hooks_t *
sched_plugin_nodeready_hot (void)
{
    return &hot_hooks;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeReady"), .filter = filter, .filter_nodes = filter_nodes,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_CONDITION};

const tr_sched_plugin_t *
sched_plugin_nodeready (void)
{
    return &plugin;
}
