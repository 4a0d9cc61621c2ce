/* Gang — an example third-party scheduler plugin using Permit WAIT (as the coscheduling plugin of
 * kubernetes-sigs/scheduler-plugins, much reduced): pods labelled troupe.example/gang=<name> are
 * held, assumed on their nodes, until args.size pods of that gang wait together; the last one
 * allows the others and all are bound. A gang that does not fill up within args.timeoutSeconds
 * is rejected ("rejected due to timeout after waiting 10s at plugin Gang") and requeued.
 *
 *   profiles:
 *   - schedulerName: gang-scheduler
 *     plugins:
 *       multiPoint:
 *         enabled: [{name: Gang, path: /usr/lib/troupe/libsched-gang.so}]
 *     pluginConfig:
 *     - name: Gang
 *       args: {size: 3, timeoutSeconds: 10}
 *
 * Needs a host with the waiting-pod calls (host->size covers allow_waiting / waiting_pods).
 */
#include "actors/scheduler/sched_plugin.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GANG_LABEL "troupe.example/gang"

typedef struct {
    const tr_sched_host_t *host;
    int64_t size, timeout_ms;
} gang_t;

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    if (host->size < offsetof (tr_sched_host_t, waiting_pods) + sizeof host->waiting_pods) {
        snprintf (err, errlen, "the scheduler has no Permit waiting-pod calls (host table too old)");
        return NULL;
    }
    json_int_t size = json_integer_value (json_object_get (args, "size"));
    json_int_t timeout = json_integer_value (json_object_get (args, "timeoutSeconds"));
    if (size < 1) {
        snprintf (err, errlen, "args.size: an integer >= 1 required");
        return NULL;
    }
    gang_t *s = calloc (1, sizeof *s);
    s->host = host;
    s->size = size;
    s->timeout_ms = (timeout > 0 ? timeout : 10) * 1000;
    return s;
}

static void
destroy (void *self)
{
    free (self);
}

static const char *
gang_of (const tr_sched_pod_t *pod)
{
    return json_string_value (json_object_get (pod->labels, GANG_LABEL));
}

static tr_sched_status_t
permit (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, int64_t *wait_ms)
{
    (void) node;
    gang_t *s = self;
    const char *gang = gang_of (pod);
    if (!gang)
        return (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL};
    const tr_sched_pod_t *waiting[256];
    size_t n = s->host->waiting_pods (cs, waiting, NULL, 256), same = 0;
    for (size_t i = 0; i < n && i < 256; i++) {
        const char *g = gang_of (waiting[i]);
        same += g && !strcmp (g, gang);
    }
    if ((int64_t) same + 1 < s->size) {
        *wait_ms = s->timeout_ms;
        return (tr_sched_status_t) {TR_SCHED_WAIT, NULL};
    }
    for (size_t i = 0; i < n && i < 256; i++) {
        const char *g = gang_of (waiting[i]);
        if (g && !strcmp (g, gang))
            s->host->allow_waiting (cs, waiting[i]->uid, "Gang");
    }
    return (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL};
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("Gang"), .init = init, .destroy = destroy,
                                         .permit = permit, .events = TR_SCHED_EV_POD_ADD};

const tr_sched_plugin_t *
troupe_sched_plugin_entry (void)
{
    return &plugin;
}
