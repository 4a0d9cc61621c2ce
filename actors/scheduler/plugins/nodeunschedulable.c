/* NodeUnschedulable (Filter): spec.unschedulable nodes fit only pods tolerating
 * node.kubernetes.io/unschedulable:NoSchedule. */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) self, (void) cs;
    if (!node->unschedulable || pu_pod_tolerates (pod->obj, "node.kubernetes.io/unschedulable", "", "NoSchedule"))
        return TR_SCHED_OK;
    return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, "node(s) were unschedulable"};
}

TR_SCHED_FILTER_NODES (filter)

static void
filter_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
            const nodehot_t *const *hot, size_t n, tr_sched_status_t *st)
{
    for (size_t i = 0; i < n; i++)
        st[i] = hot[i]->unschedulable ? filter (self, cs, pod, nodes[i]) : TR_SCHED_OK;
}

static const nodehot_hooks_t hot_hooks = {.filter = filter_hot};

const nodehot_hooks_t *
sched_plugin_nodeunschedulable_hot (void)
{
    return &hot_hooks;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeUnschedulable"), .filter = filter, .filter_nodes = filter_nodes,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_SCHEDULABLE |
                                                   TR_SCHED_EV_NODE_TAINT};

const tr_sched_plugin_t *
sched_plugin_nodeunschedulable (void)
{
    return &plugin;
}
