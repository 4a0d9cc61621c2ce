/* NodeResourcesBalancedAllocation (Score): favours nodes whose resource fractions (requested with
 * this pod / allocatable, each capped at 1) are close to each other: score = (1 - std) * 100 over
 * args.resources (default cpu and memory), with the pods' actual requests, as Kubernetes. */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"
#include "actors/scheduler/plugins/resources.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    sr_list_t res; /* the weights are not used: Kubernetes' balanced allocation ignores them */
} ba_t;

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) host, (void) err, (void) errlen;
    ba_t *s = calloc (1, sizeof *s);
    sr_list_parse (&s->res, json_object_get (args, "resources"));
    return s;
}

static void
destroy (void *self)
{
    free (self);
}

/* cpu and memory from the node's hot line h when there is one (nodehot.h), the rest from the node */
static int64_t
score_of (const ba_t *s, const tr_sched_pod_t *pod, const tr_sched_node_t *node, const nodehot_t *h)
{
    double f[SR_MAX], sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->res.n; i++) {
        int kind = s->res.r[i].kind;
        const char *name = s->res.r[i].name;
        int64_t alloc, req;
        if (h && (kind == SR_CPU || kind == SR_MEM)) {
            alloc = kind == SR_CPU ? h->alloc_cpu : h->alloc_mem;
            req = kind == SR_CPU ? h->req_cpu : h->req_mem;
        } else {
            alloc = sr_pick (&node->allocatable, kind, name);
            req = sr_pick (&node->requested, kind, name);
        }
        if (alloc <= 0)
            continue; /* not on this node: not counted */
        double x = (double) (req + sr_pick (&pod->requests, kind, name)) / (double) alloc;
        f[n++] = x > 1 ? 1 : x;
        sum += f[n - 1];
    }
    double std = 0;
    if (n == 2)
        std = fabs ((f[0] - f[1]) / 2);
    else if (n > 2) {
        double mean = sum / (double) n, var = 0;
        for (size_t i = 0; i < n; i++)
            var += (f[i] - mean) * (f[i] - mean);
        std = sqrt (var / (double) n);
    }
    return (int64_t) ((1 - std) * 100);
}

NODEHOT_SCORE (score_of)

TR_SCHED_SCORE_NODES (score)

static const nodehot_hooks_t hot_hooks = {.score = score_hot};

const nodehot_hooks_t *
sched_plugin_noderesourcesbalancedallocation_hot (void)
{
    return &hot_hooks;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeResourcesBalancedAllocation"), .init = init,
                                         .destroy = destroy, .score = score, .score_nodes = score_nodes,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_ALLOCATABLE |
                                                   TR_SCHED_EV_POD_DELETE};

const tr_sched_plugin_t *
sched_plugin_noderesourcesbalancedallocation (void)
{
    return &plugin;
}
