/* DefaultBinder (Bind): accepts every pod; the framework reports host_binds and the scheduler
 * actor sends the binding (subresource "binding") without waiting for it. */
#include "actors/scheduler/plugins/registry.h"

static tr_sched_status_t
bind (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    (void) self, (void) cs, (void) pod, (void) node;
    return TR_SCHED_OK;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("DefaultBinder"), .bind = bind};

const tr_sched_plugin_t *
sched_plugin_defaultbinder (void)
{
    return &plugin;
}
