/* registry — see registry.h. */
#include "actors/scheduler/plugins/registry.h"

#include <string.h>

static const tr_sched_plugin_t *(*const builtins[]) (void) = {
    sched_plugin_prioritysort,    sched_plugin_nodename,     sched_plugin_nodeunschedulable,
    sched_plugin_nodeready,       sched_plugin_noderesourcesfit, sched_plugin_nodeaffinity,
    sched_plugin_tainttoleration, sched_plugin_defaultbinder,
    sched_plugin_noderesourcesbalancedallocation, sched_plugin_nodeports, sched_plugin_imagelocality,
    sched_plugin_interpodaffinity, sched_plugin_podtopologyspread, sched_plugin_defaultpreemption,
};

const tr_sched_plugin_t *
sched_registry_find (const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (!strcmp (builtins[i] ()->name, name))
            return builtins[i] ();
    return NULL;
}

static const struct {
    const tr_sched_plugin_t *(*plugin) (void);
    const nodehot_hooks_t *(*hooks) (void);
} hot[] = {
    {sched_plugin_nodeunschedulable, sched_plugin_nodeunschedulable_hot},
    {sched_plugin_nodeready, sched_plugin_nodeready_hot},
    {sched_plugin_tainttoleration, sched_plugin_tainttoleration_hot},
    {sched_plugin_noderesourcesfit, sched_plugin_noderesourcesfit_hot},
    {sched_plugin_noderesourcesbalancedallocation, sched_plugin_noderesourcesbalancedallocation_hot},
    {sched_plugin_imagelocality, sched_plugin_imagelocality_hot},
};

const nodehot_hooks_t *
nodehot_hooks (const tr_sched_plugin_t *p)
{
    for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++)
        if (hot[i].plugin () == p)
            return hot[i].hooks ();
    return NULL;
}

/* Kubernetes' getDefaultPlugins (v1), the built-ins that exist, in its order and weights;
 * NodeReady (Troupe's) after NodeUnschedulable. */
static const sched_default_t defaults[] = {
    {"PrioritySort", 0},
    {"NodeUnschedulable", 0},
    {"NodeReady", 0},
    {"NodeName", 0},
    {"TaintToleration", 3},
    {"NodeAffinity", 2},
    {"NodePorts", 0},
    {"NodeResourcesFit", 1},
    {"PodTopologySpread", 2},
    {"InterPodAffinity", 2},
    {"DefaultPreemption", 0},
    {"NodeResourcesBalancedAllocation", 1},
    {"ImageLocality", 1},
    {"DefaultBinder", 0},
};

size_t
sched_registry_defaults (const sched_default_t **out)
{
    *out = defaults;
    return sizeof defaults / sizeof defaults[0];
}
