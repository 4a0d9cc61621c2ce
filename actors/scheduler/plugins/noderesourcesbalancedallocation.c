/* NodeResourcesBalancedAllocation (Score): favours nodes whose resource fractions (requested with
 * this pod / allocatable, each capped at 1) are close to each other: score = (1 - std) * 100 over
 * args.resources (default cpu and memory), with the pods' actual requests, as Kubernetes. */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { R_CPU = 0, R_MEM, R_EPH, R_SCALAR };

typedef struct {
    size_t n;
    char name[TR_SCHED_MAX_SCALAR + 4][64];
    int kind[TR_SCHED_MAX_SCALAR + 4]; /* resolved once, not per node */
} ba_t;

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) host, (void) err, (void) errlen;
    ba_t *s = calloc (1, sizeof *s);
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get (args, "resources"), i, r) {
        if (s->n == sizeof s->name / sizeof s->name[0] || !pu_str (r, "name"))
            break;
        snprintf (s->name[s->n++], sizeof s->name[0], "%s", pu_str (r, "name"));
    }
    if (!s->n) {
        snprintf (s->name[0], sizeof s->name[0], "cpu");
        snprintf (s->name[1], sizeof s->name[1], "memory");
        s->n = 2;
    }
    for (size_t k = 0; k < s->n; k++)
        s->kind[k] = !strcmp (s->name[k], "cpu")                 ? R_CPU
                     : !strcmp (s->name[k], "memory")            ? R_MEM
                     : !strcmp (s->name[k], "ephemeral-storage") ? R_EPH
                                                                 : R_SCALAR;
    return s;
}

static void
destroy (void *self)
{
    free (self);
}

static int64_t
scalar_of (const tr_sched_res_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (!strcmp (r->scalar[i].name, name))
            return r->scalar[i].value;
    return 0;
}

static int64_t
pick (const tr_sched_res_t *r, int kind, const char *name)
{
    switch (kind) {
    case R_CPU: return r->milli_cpu;
    case R_MEM: return r->memory;
    case R_EPH: return r->ephemeral_storage;
    }
    return scalar_of (r, name);
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) cs;
    ba_t *s = self;
    double f[TR_SCHED_MAX_SCALAR + 4], sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t alloc = pick (&node->allocatable, s->kind[i], s->name[i]);
        if (alloc <= 0)
            continue; /* not on this node: not counted */
        double x = (double) (pick (&node->requested, s->kind[i], s->name[i]) + pick (&pod->requests, s->kind[i], s->name[i])) /
                   (double) alloc;
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
    *out = (int64_t) ((1 - std) * 100);
    return TR_SCHED_OK;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeResourcesBalancedAllocation"), .init = init,
                                         .destroy = destroy, .score = score,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_ALLOCATABLE |
                                                   TR_SCHED_EV_POD_DELETE};

const tr_sched_plugin_t *
sched_plugin_noderesourcesbalancedallocation (void)
{
    return &plugin;
}
