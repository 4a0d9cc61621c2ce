/* NodeName (Filter): a pod naming spec.nodeName fits only that node. */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

/* PreFilter: nothing to check for a pod naming no node (skips Filter on every node). */
static tr_sched_status_t
pre_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    (void) self, (void) cs;
    const char *want = pu_str (json_object_get (pod->obj, "spec"), "nodeName");
    return want && *want ? TR_SCHED_OK : (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) self, (void) cs;
    const char *want = pu_str (json_object_get (pod->obj, "spec"), "nodeName");
    if (!want || !*want || !strcmp (want, node->name))
        return TR_SCHED_OK;
    return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, "node(s) didn't match the requested node name"};
}

TR_SCHED_FILTER_NODES (filter)

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeName"), .pre_filter = pre_filter, .filter = filter, .filter_nodes = filter_nodes,
                                         .events = TR_SCHED_EV_NODE_ADD};

const tr_sched_plugin_t *
sched_plugin_nodename (void)
{
    return &plugin;
}
