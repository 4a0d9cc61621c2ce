/* Scheduler plugin fixtures for test_profile, one shared object per variant (CMake MODULE
 * targets schedfx-*): FIXTURE_GOOD (a Filter rejecting the nodes named in args.reject),
 * FIXTURE_ABI1 (built for ABI 1.4), FIXTURE_NEXTABI (built for the next major), FIXTURE_BIGPOD (expects a larger tr_sched_pod_t),
 * FIXTURE_CRASH (init dereferences NULL), FIXTURE_EXIT (init calls exit (7)), FIXTURE_NOENTRY (no
 * entry symbol). */
#include "actors/scheduler/sched_plugin.h"

#pragma GCC diagnostic ignored "-Woverride-init" /* the variants overwrite the header's fields */

#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE_NOENTRY
static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) host, (void) err, (void) errlen;
#ifdef FIXTURE_CRASH
    *(volatile int *) (uintptr_t) json_integer_value (json_object_get (args, "address")) = 1;
#endif
#ifdef FIXTURE_EXIT
    exit (7);
#endif
    return json_incref ((json_t *) (args ? args : json_object ()));
}

static void
destroy (void *self)
{
    json_decref (self);
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) cs, (void) pod;
    const char *rej = json_string_value (json_object_get (self, "reject"));
    if (rej && !strcmp (rej, node->name))
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, "rejected by Fixture"};
    return (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL};
}

static const tr_sched_plugin_t plugin = {
    TR_SCHED_PLUGIN_HEADER ("Fixture"),
#ifdef FIXTURE_ABI1 /* built against the header before ABI 2.0 (the node's layout changed) */
    .abi_major = 1,
    .abi_minor = 4,
#endif
#ifdef FIXTURE_NEXTABI /* built against a header of the next major */
    .abi_major = TR_SCHED_ABI_MAJOR + 1,
    .abi_minor = 0,
#endif
#ifdef FIXTURE_BIGPOD
    .pod_size = sizeof (tr_sched_pod_t) + 8,
#endif
    .init = init,
    .destroy = destroy,
    .filter = filter,
};

const tr_sched_plugin_t *
troupe_sched_plugin_entry (void)
{
    return &plugin;
}
#else
int troupe_sched_plugin_fixture_without_entry;
#endif
