/* NodeResourcesFit: Filter — the pod's requests (cpu, memory, ephemeral-storage, extended
 * resources) and one pod slot against allocatable minus what the node's pods (bound or assumed)
 * request: "Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage",
 * "Insufficient <resource>", "Too many pods": every one that fails, as Kubernetes' fitsRequest
 * (the status carries them joined by '\n', see sched_plugin.h; "Too many pods" last so that the
 * first reason is a resource's whenever one is short).
 * Score — args.scoringStrategy: LeastAllocated (default), MostAllocated or
 * RequestedToCapacityRatio (shape of {utilization, score 0..10}), over resources
 * (default cpu and memory, weight 1), using the non-zero requests for cpu and memory. */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"
#include "actors/scheduler/plugins/resources.h"

#include <stdio.h>
#include <stdlib.h>

enum { LEAST = 0, MOST, RTCR };

typedef struct {
    const tr_sched_host_t *host;
    int strategy;
    sr_list_t res; /* scored resources, kinds resolved once */
    size_t nshape;
    struct {
        int64_t util, score;
    } shape[16];
    /* the joined reasons of every combination of the four fixed ones (bit 0 cpu, 1 memory,
     * 2 ephemeral-storage, 3 pods): built once, so Filter allocates only for extended resources */
    char fixed[16][96];
} fit_t;

static const char *const fixed_reason[4] = {"Insufficient cpu", "Insufficient memory",
                                            "Insufficient ephemeral-storage", "Too many pods"};

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    fit_t *s = calloc (1, sizeof *s);
    s->host = host;
    const json_t *ss = json_object_get (args, "scoringStrategy");
    const char *type = pu_str (ss, "type");
    if (!type || !strcmp (type, "LeastAllocated"))
        s->strategy = LEAST;
    else if (!strcmp (type, "MostAllocated"))
        s->strategy = MOST;
    else if (!strcmp (type, "RequestedToCapacityRatio"))
        s->strategy = RTCR;
    else {
        snprintf (err, errlen, "scoringStrategy.type: unknown \"%s\" (LeastAllocated, MostAllocated, "
                               "RequestedToCapacityRatio)", type);
        free (s);
        return NULL;
    }
    sr_list_parse (&s->res, json_object_get (ss, "resources"));
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get (json_object_get (ss, "requestedToCapacityRatio"), "shape"), i, r) {
        if (s->nshape == 16)
            break;
        int64_t u = json_integer_value (json_object_get (r, "utilization")), sc = json_integer_value (json_object_get (r, "score"));
        if (u < 0 || u > 100 || sc < 0 || sc > 10 || (s->nshape && u <= s->shape[s->nshape - 1].util)) {
            snprintf (err, errlen, "scoringStrategy.requestedToCapacityRatio.shape[%zu]: utilization 0..100 "
                                   "increasing, score 0..10", i);
            free (s);
            return NULL;
        }
        s->shape[s->nshape].util = u;
        s->shape[s->nshape++].score = sc * 10; /* MaxCustomPriorityScore 10 → MaxNodeScore 100 */
    }
    for (unsigned m = 1; m < 16; m++) {
        size_t off = 0;
        for (int b = 0; b < 4; b++)
            if (m & (1u << b))
                off += (size_t) snprintf (s->fixed[m] + off, sizeof s->fixed[m] - off, "%s%s", off ? "\n" : "",
                                          fixed_reason[b]);
    }
    if (s->strategy == RTCR && !s->nshape) {
        snprintf (err, errlen, "scoringStrategy.requestedToCapacityRatio.shape: required");
        free (s);
        return NULL;
    }
    return s;
}

static void
destroy (void *self)
{
    free (self);
}

/* The fixed reasons' bits (fixed_reason) of the pod slot, cpu and memory, from the node's pod
 * count and slots and what allocatable leaves of cpu and memory once requested is taken */
static unsigned
short_of (const tr_sched_res_t *w, int64_t npods, int64_t alloc_pods, int64_t free_cpu, int64_t free_mem)
{
    unsigned m = 0;
    if (npods + 1 > alloc_pods)
        m |= 8;
    if (w->milli_cpu > 0 && w->milli_cpu > free_cpu)
        m |= 1;
    if (w->memory > 0 && w->memory > free_mem)
        m |= 2;
    return m;
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    fit_t *s = self;
    const tr_sched_res_t *a = &node->allocatable, *u = &node->requested, *w = &pod->requests;
    unsigned m = short_of (w, node->npods, a->pods, a->milli_cpu - u->milli_cpu, a->memory - u->memory);
    if (w->ephemeral_storage > 0 && w->ephemeral_storage > a->ephemeral_storage - u->ephemeral_storage)
        m |= 4;
    char *ext = NULL;
    size_t extlen = 0;
    FILE *f = NULL;
    for (uint32_t i = 0; i < w->nscalar; i++) {
        if (w->scalar[i].value <= 0)
            continue;
        if (w->scalar[i].value > sr_scalar (a, w->scalar[i].name) - sr_scalar (u, w->scalar[i].name)) {
            if (!f && !(f = open_memstream (&ext, &extlen)))
                return (tr_sched_status_t) {TR_SCHED_ERROR, "out of memory"};
            fprintf (f, "%sInsufficient %s", ftell (f) > 0 ? "\n" : "", w->scalar[i].name);
        }
    }
    if (!f)
        return m ? (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, s->fixed[m]} : TR_SCHED_OK;
    fclose (f);
    /* cpu, memory, ephemeral-storage, the extended resources, then "Too many pods" */
    const char *r = s->host->intern (cs, "%s%s%s%s%s", s->fixed[m & 7], m & 7 ? "\n" : "", ext ? ext : "",
                                     m & 8 ? "\n" : "", m & 8 ? fixed_reason[3] : "");
    free (ext);
    return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, r};
}

/* Filter from the node's hot line (nodehot.h): the pod slot, cpu and memory; a pod asking for
 * ephemeral storage or an extended resource is looked at on the node itself */
static void
filter_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
            const nodehot_t *const *hot, size_t n, tr_sched_status_t *st)
{
    fit_t *s = self;
    const tr_sched_res_t *w = &pod->requests;
    int plain = w->ephemeral_storage <= 0;
    for (uint32_t i = 0; i < w->nscalar && plain; i++)
        plain = w->scalar[i].value <= 0;
    for (size_t i = 0; i < n; i++) {
        if (!plain) {
            st[i] = filter (self, cs, pod, nodes[i]);
            continue;
        }
        const nodehot_t *h = hot[i];
        unsigned m = short_of (w, h->npods, h->alloc_pods, h->alloc_cpu - h->req_cpu, h->alloc_mem - h->req_mem);
        st[i] = m ? (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, s->fixed[m]} : TR_SCHED_OK;
    }
}

/* (allocatable, requested with this pod) of one scored resource; 0 allocatable: not scored.
 * cpu and memory with the non-zero requests, from the node's hot line when there is one. */
static void
alloc_req (const tr_sched_pod_t *pod, const tr_sched_node_t *node, const nodehot_t *h, int kind, const char *name,
           int64_t *alloc, int64_t *req)
{
    if (h && kind == SR_CPU) {
        *alloc = h->alloc_cpu;
        *req = h->nz_cpu + pod->nonzero_milli_cpu;
        return;
    }
    if (h && kind == SR_MEM) {
        *alloc = h->alloc_mem;
        *req = h->nz_mem + pod->nonzero_memory;
        return;
    }
    *alloc = sr_pick (&node->allocatable, kind, name);
    if (kind == SR_CPU)
        *req = node->nonzero_milli_cpu + pod->nonzero_milli_cpu;
    else if (kind == SR_MEM)
        *req = node->nonzero_memory + pod->nonzero_memory;
    else
        *req = sr_pick (&node->requested, kind, name) + sr_pick (&pod->requests, kind, name);
}

static int64_t
shape_score (const fit_t *s, int64_t util)
{
    if (util <= s->shape[0].util)
        return s->shape[0].score;
    for (size_t i = 1; i < s->nshape; i++)
        if (util <= s->shape[i].util) {
            int64_t u0 = s->shape[i - 1].util, u1 = s->shape[i].util, s0 = s->shape[i - 1].score, s1 = s->shape[i].score;
            return s0 + (s1 - s0) * (util - u0) / (u1 - u0);
        }
    return s->shape[s->nshape - 1].score;
}

static int64_t
score_of (const fit_t *s, const tr_sched_pod_t *pod, const tr_sched_node_t *node, const nodehot_t *h)
{
    int64_t sum = 0, wsum = 0;
    for (size_t i = 0; i < s->res.n; i++) {
        int64_t alloc, req;
        alloc_req (pod, node, h, s->res.r[i].kind, s->res.r[i].name, &alloc, &req);
        if (alloc <= 0)
            continue;
        int64_t sc;
        if (s->strategy == LEAST)
            sc = req > alloc ? 0 : (alloc - req) * 100 / alloc;
        else if (s->strategy == MOST)
            sc = (req > alloc ? alloc : req) * 100 / alloc;
        else
            sc = shape_score (s, (req > alloc ? alloc : req) * 100 / alloc);
        sum += sc * s->res.r[i].weight;
        wsum += s->res.r[i].weight;
    }
    return wsum ? sum / wsum : 0;
}

NODEHOT_SCORE (score_of)

TR_SCHED_FILTER_NODES (filter)
TR_SCHED_SCORE_NODES (score)

static const nodehot_hooks_t hot_hooks = {.filter = filter_hot, .score = score_hot};

const nodehot_hooks_t *
sched_plugin_noderesourcesfit_hot (void)
{
    return &hot_hooks;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeResourcesFit"), .init = init, .destroy = destroy,
                                         .filter = filter, .filter_nodes = filter_nodes, .score = score, .score_nodes = score_nodes,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_ALLOCATABLE |
                                                   TR_SCHED_EV_POD_DELETE | TR_SCHED_EV_POD_RESOURCES};

const tr_sched_plugin_t *
sched_plugin_noderesourcesfit (void)
{
    return &plugin;
}
