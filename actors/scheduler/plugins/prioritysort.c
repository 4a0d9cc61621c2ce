/* PrioritySort (QueueSort): higher spec.priority first, then the older pod. */
#include "actors/scheduler/plugins/registry.h"

static int
less (void *self, const tr_sched_pod_t *a, const tr_sched_pod_t *b)
{
    (void) self;
    if (a->priority != b->priority)
        return a->priority > b->priority;
    return a->created_ms < b->created_ms;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("PrioritySort"), .less = less};

const tr_sched_plugin_t *
sched_plugin_prioritysort (void)
{
    return &plugin;
}
