/* NodeNamePrefix — an example third-party scheduler plugin (Filter + Score), built as a shared
 * object and loaded from a profile:
 *
 *   profiles:
 *   - schedulerName: prefix-scheduler
 *     plugins:
 *       multiPoint:
 *         enabled: [{name: NodeNamePrefix, path: /usr/lib/troupe/libsched-nodenameprefix.so, weight: 2}]
 *     pluginConfig:
 *     - name: NodeNamePrefix
 *       args: {prefix: "gpu-", prefer: "gpu-a"}
 *
 * Filter: only nodes whose name starts with args.prefix ("node(s) didn't have the name prefix
 * gpu-"). Score: 100 for nodes whose name starts with args.prefer, else 0.
 *
 * It includes only sched_plugin.h and links against nothing of Troupe: everything it calls comes
 * through the host table given to init.
 */
#include "actors/scheduler/sched_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const tr_sched_host_t *host;
    char prefix[128], prefer[128], reason[200];
} npx_t;

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    const char *prefix = json_string_value (json_object_get (args, "prefix"));
    if (!prefix) {
        snprintf (err, errlen, "args.prefix: required");
        return NULL;
    }
    const char *prefer = json_string_value (json_object_get (args, "prefer"));
    npx_t *s = calloc (1, sizeof *s);
    s->host = host;
    snprintf (s->prefix, sizeof s->prefix, "%s", prefix);
    snprintf (s->prefer, sizeof s->prefer, "%s", prefer ? prefer : "");
    /* a reason that lives as long as the plugin: no need to intern it per cycle */
    snprintf (s->reason, sizeof s->reason, "node(s) didn't have the name prefix %s", s->prefix);
    host->log (TR_SCHED_LOG_INFO, "NodeNamePrefix", "prefix=%s prefer=%s", s->prefix, s->prefer);
    return s;
}

static void
destroy (void *self)
{
    free (self);
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) cs, (void) pod;
    npx_t *s = self;
    if (!strncmp (node->name, s->prefix, strlen (s->prefix)))
        return (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL};
    return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, s->reason};
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) cs, (void) pod;
    npx_t *s = self;
    *out = *s->prefer && !strncmp (node->name, s->prefer, strlen (s->prefer)) ? 100 : 0;
    return (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL};
}

/* the batch forms (ABI 1.4): the loops over a chunk of nodes, filter and score inlined in them */
TR_SCHED_FILTER_NODES (filter)
TR_SCHED_SCORE_NODES (score)

static const tr_sched_plugin_t plugin = {
    TR_SCHED_PLUGIN_HEADER ("NodeNamePrefix"),
    .init = init,
    .destroy = destroy,
    .filter = filter,
    .score = score,
    .filter_nodes = filter_nodes,
    .score_nodes = score_nodes,
    .events = TR_SCHED_EV_NODE_ADD, /* only a new node can help a pod this plugin rejected */
};

const tr_sched_plugin_t *
troupe_sched_plugin_entry (void)
{
    return &plugin;
}
