/* framework — see framework.h. */
#include "actors/scheduler/framework.h"
#include "actors/scheduler/filterpool.h"
#include "actors/scheduler/nodehot.h"
#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/nodesel.h"
#include "actors/scheduler/nominated.h"
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"
#include "actors/scheduler/snapshot.h"
#include "core/log.h"
#include "core/quantity.h"
#include "core/selector.h"
#include "core/strcopy.h"
#include "core/value.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NPOINTS 10
#define MAXINST 64

typedef struct {
    const tr_sched_plugin_t *p;
    void *self;
    void *dl;
    uint32_t points;
    int64_t weight;
    /* p's batch hooks (ABI 1.4), NULL when it has none or its descriptor predates them */
    void (*filter_nodes) (void *, tr_sched_cycle_t *, const tr_sched_pod_t *, const tr_sched_node_t *const *, size_t,
                          tr_sched_status_t *);
    tr_sched_status_t (*score_nodes) (void *, tr_sched_cycle_t *, const tr_sched_pod_t *,
                                      const tr_sched_node_t *const *, size_t, int64_t *);
    const nodehot_hooks_t *hot; /* a built-in's hooks over the nodes' hot lines, NULL for others */
} inst_t;

struct fw_profile {
    char *name;
    int pct;
    inst_t inst[MAXINST];
    size_t ninst;
    uint8_t order[NPOINTS][MAXINST];
    size_t norder[NPOINTS];
    uint64_t rng;
    size_t next_start;
    struct waiter **wait;     /* Permit: pods waiting (assumed, reserved), as waitingPodsMap */
    size_t nwait, capwait;
    int64_t (*now) (void *arg);
    void *now_arg;
    const json_t *(*ns_labels) (void *arg, const char *ns);
    void *ns_arg;
    int (*dsel) (void *arg, const tr_sched_pod_t *pod, json_t **selector); /* host->default_selector */
    void *dsel_arg;
    size_t (*pdbs) (void *arg, const char *ns, const tr_sched_pdb_t *const **out); /* host->pdbs */
    void *pdbs_arg;
    struct nomcache nomc;     /* the nominations' index (see fw_nomix_build) */
    /* PostFilter's nodes with their nominated pods (run_post_filter), kept from cycle to cycle
     * rather than two mallocs per node in every cycle */
    tr_sched_node_t *pf_nodes;
    size_t cap_pf_nodes;
    const tr_sched_pod_t **pf_pods;
    size_t cap_pf_pods;
    const tr_sched_node_t **pf_made; /* (see h_snapshot_node) */
    size_t cap_pf_made;
    /* Filter's long scans on several threads (see scan_parallel): KubeSchedulerConfiguration's
     * parallelism (1: one thread), the pool made at the first scan that needs it, and when a
     * scan goes parallel (after par_prefix nodes without enough feasible ones, with at least
     * par_min_rest nodes left) */
    int parallelism;
    int workers;              /* pool_workers (parallelism), worked out once when it is set */
    filterpool_t *pool;
    int pool_failed;
    size_t par_prefix, par_min_rest, par_chunk;
    int no_chunks;            /* fw_profile_set_batch (p, 0): node by node, one call per plugin and node */
    /* A cycle's per-node arrays, kept from cycle to cycle (a cycle does not nest in another of
     * its profile): at 5,000 nodes a status and a pointer a node were 120 KiB allocated and
     * zeroed for every pod, though a cycle that finds its sample reads none of the statuses */
    tr_sched_status_t *sc_st;
    const tr_sched_node_t **sc_feasible;
    const nodehot_t **sc_feasible_hot; /* the feasible nodes' hot lines, when the scan had them */
    size_t cap_sc_nodes;
    /* The nodes' hot lines (nodehot.h) in the order of the snapshot's nodes[] at layout
     * hot_layout, up to date at generation hot_gen (see hot_sync) */
    nodehot_t *hot;
    size_t cap_hot;
    uint64_t hot_layout, hot_gen;
    int64_t *sc_totals, *sc_scores;
    size_t cap_sc_scores;
};

/* Kubernetes' maxTimeout of a Permit wait. */
#define PERMIT_MAX_WAIT_MS (15 * 60 * 1000)

typedef struct waiter {
    tr_sched_pod_t *pod;      /* the framework's copy (snap_pod_new of the pod's object) */
    char node[254];
    tr_sched_cycle_t *cs;     /* the pod's cycle state, kept for PreBind and Bind */
    size_t npend;             /* plugins that have not allowed yet */
    struct {
        uint8_t inst;
        int64_t deadline, wait_ms;
    } pend[MAXINST];
    int rejected;             /* 1 by a plugin (msg), 2 timed out (msg) */
    int reject_inst;          /* the rejecting plugin (-1: none, the pod was deleted) */
    char msg[512];
} waiter_t;

/* ---- the cycle state ---------------------------------------------------------------------- */

typedef struct {
    char *key;
    void *data;
    void (*free_fn) (void *);
} kv_t;

struct tr_sched_cycle {
    const fw_env_t *env;
    fw_profile_t *prof;
    fw_result_t *out; /* where host->preempt records its nomination (NULL outside fw_schedule) */
    const tr_sched_snapshot_t *snap; /* PostFilter: the snapshot with the nominated pods added */
    const struct nomix *pf_ix;       /* PostFilter copying nodes on demand (h_snapshot_node) */
    const tr_sched_pod_t *pf_pod;
    const tr_sched_node_t **pf_made; /* node i's view once made (i < pf_n) */
    size_t pf_n;
    size_t pf_used;                  /* of the profile's pods room */
    kv_t *kv;
    size_t nkv, capkv;
    char **strs;
    size_t nstrs, capstrs;
    pthread_mutex_t mu;
};

static void
cs_init (tr_sched_cycle_t *cs, const fw_env_t *env, fw_profile_t *prof)
{
    memset (cs, 0, sizeof *cs);
    cs->env = env;
    cs->prof = prof;
    pthread_mutex_init (&cs->mu, NULL);
}

static void cs_clear (tr_sched_cycle_t *cs);

static void
waiter_free (waiter_t *w)
{
    if (!w)
        return;
    if (w->cs) {
        cs_clear (w->cs);
        free (w->cs);
    }
    snap_pod_free (w->pod);
    free (w);
}

static void
cs_clear (tr_sched_cycle_t *cs)
{
    for (size_t i = 0; i < cs->nkv; i++) {
        if (cs->kv[i].free_fn)
            cs->kv[i].free_fn (cs->kv[i].data);
        free (cs->kv[i].key);
    }
    for (size_t i = 0; i < cs->nstrs; i++)
        free (cs->strs[i]);
    free (cs->kv);
    free (cs->strs);
    pthread_mutex_destroy (&cs->mu);
}

static void
h_log (int level, const char *plugin, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    if (level == TR_SCHED_LOG_ERROR)
        TR_ERROR ("scheduler", "plugin=%s %s", plugin ? plugin : "?", buf);
    else if (level == TR_SCHED_LOG_WARN)
        TR_WARN ("scheduler", "plugin=%s %s", plugin ? plugin : "?", buf);
    else if (level == TR_SCHED_LOG_INFO)
        TR_INFO ("scheduler", "plugin=%s %s", plugin ? plugin : "?", buf);
    else
        TR_DEBUG ("scheduler", "plugin=%s %s", plugin ? plugin : "?", buf);
}

static const char *
h_intern (tr_sched_cycle_t *cs, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start (ap, fmt);
    if (vasprintf (&s, fmt, ap) < 0)
        s = NULL;
    va_end (ap);
    if (!s)
        return "";
    pthread_mutex_lock (&cs->mu);
    if (cs->nstrs == cs->capstrs) {
        cs->capstrs = cs->capstrs ? 2 * cs->capstrs : 8;
        cs->strs = realloc (cs->strs, cs->capstrs * sizeof *cs->strs);
    }
    cs->strs[cs->nstrs++] = s;
    pthread_mutex_unlock (&cs->mu);
    return s;
}

static void
h_write (tr_sched_cycle_t *cs, const char *key, void *data, void (*free_fn) (void *))
{
    for (size_t i = 0; i < cs->nkv; i++)
        if (!strcmp (cs->kv[i].key, key)) {
            if (cs->kv[i].free_fn && cs->kv[i].data != data)
                cs->kv[i].free_fn (cs->kv[i].data);
            cs->kv[i].data = data;
            cs->kv[i].free_fn = free_fn;
            return;
        }
    if (cs->nkv == cs->capkv) {
        cs->capkv = cs->capkv ? 2 * cs->capkv : 8;
        cs->kv = realloc (cs->kv, cs->capkv * sizeof *cs->kv);
    }
    cs->kv[cs->nkv++] = (kv_t) {strdup (key), data, free_fn};
}

static void *
h_read (tr_sched_cycle_t *cs, const char *key)
{
    for (size_t i = 0; i < cs->nkv; i++)
        if (!strcmp (cs->kv[i].key, key))
            return cs->kv[i].data;
    return NULL;
}

static const tr_sched_snapshot_t *
h_snapshot (tr_sched_cycle_t *cs)
{
    return cs->snap ? cs->snap : cs->env->snap;
}

static const tr_sched_node_t *
h_node (tr_sched_cycle_t *cs, const char *name)
{
    if (cs->snap) {
        for (uint32_t i = 0; i < cs->snap->nnodes; i++)
            if (!strcmp (cs->snap->nodes[i]->name, name))
                return cs->snap->nodes[i];
        return NULL;
    }
    if (cs->env->node)
        return cs->env->node (cs->env->arg, name);
    for (uint32_t i = 0; i < cs->env->snap->nnodes; i++)
        if (!strcmp (cs->env->snap->nodes[i]->name, name))
            return cs->env->snap->nodes[i];
    return NULL;
}

static int
h_quantity_milli (const char *text, int64_t *out)
{
    return text && !quantity_parse_milli (text, out, NULL, 0) ? 0 : -1;
}

static int
h_label_selector_match (const json_t *sel, const json_t *labels)
{
    if (!sel || json_is_null (sel))
        return 0;
    selector_t *s = selector_from_object (sel, NULL, 0);
    if (!s)
        return -1;
    int m = selector_matches (s, labels);
    selector_destroy (&s);
    return m;
}

/* Compiled for the call (nodesel.h); a plugin that matches one selector against many nodes
 * compiles it once instead (the built-in ones do). */
static int
h_node_selector_match (const json_t *terms, const tr_sched_node_t *node)
{
    nodesel_t *ns = nodesel_new (terms);
    if (!ns)
        return -1;
    int m = nodesel_match (ns, node);
    nodesel_destroy (&ns);
    return m;
}

/* The nomination is recorded in the cycle's result; the scheduler's I/O edge writes
 * status.nominatedNodeName and deletes the victims (as Kubernetes' prepareCandidate). */
static int
h_preempt (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, const tr_sched_pod_t *const *victims,
           size_t nvictims)
{
    (void) pod;
    if (!cs->out || !node || (nvictims && !victims) || (!*node && nvictims))
        return -1;
    if (!*node) { /* no candidate: the nomination goes */
        json_decref (cs->out->preempt);
        cs->out->preempt = NULL;
        cs->out->clear_nomination = 1;
        return 0;
    }
    cs->out->clear_nomination = 0;
    json_t *v = json_array ();
    for (size_t i = 0; i < nvictims; i++) {
        if (!victims[i] || !victims[i]->obj) {
            json_decref (v);
            return -1;
        }
        json_array_append (v, (json_t *) victims[i]->obj);
    }
    json_decref (cs->out->preempt);
    cs->out->preempt = json_pack ("{s:s,s:o}", "node", node, "victims", v);
    return cs->out->preempt ? 0 : -1;
}

/* ---- Permit's waiting pods (framework handle: GetWaitingPod, IterateOverWaitingPods) ---- */

static int
find_inst (const fw_profile_t *p, const char *name);

static waiter_t *
waiter_of (const fw_profile_t *p, const char *uid)
{
    for (size_t i = 0; p && i < p->nwait; i++)
        if (!strcmp (p->wait[i]->pod->uid, uid))
            return p->wait[i];
    return NULL;
}

/* WaitingPod.Allow (plugin): that plugin no longer holds the pod. */
static int
h_allow_waiting (tr_sched_cycle_t *cs, const char *uid, const char *plugin)
{
    waiter_t *w = uid && plugin ? waiter_of (cs->prof, uid) : NULL;
    int ii = w ? find_inst (cs->prof, plugin) : -1;
    if (!w || ii < 0 || w->rejected)
        return -1;
    for (size_t k = 0; k < w->npend; k++)
        if (w->pend[k].inst == ii) {
            w->pend[k] = w->pend[--w->npend];
            return 0;
        }
    return -1;
}

/* WaitingPod.Reject (plugin, msg): the whole pod is rejected, whoever else holds it. */
static int
h_reject_waiting (tr_sched_cycle_t *cs, const char *uid, const char *plugin, const char *message)
{
    waiter_t *w = uid ? waiter_of (cs->prof, uid) : NULL;
    if (!w || w->rejected)
        return -1;
    w->rejected = 1;
    w->reject_inst = plugin ? find_inst (cs->prof, plugin) : -1;
    snprintf (w->msg, sizeof w->msg, "pod rejected by Permit plugin \"%s\": %s", plugin ? plugin : "?",
              message ? message : "rejected");
    return 0;
}

static size_t
h_waiting_pods (tr_sched_cycle_t *cs, const tr_sched_pod_t **pods, const char **nodes, size_t max)
{
    const fw_profile_t *p = cs->prof;
    if (!p)
        return 0;
    for (size_t i = 0; i < p->nwait && i < max; i++) {
        if (pods)
            pods[i] = p->wait[i]->pod;
        if (nodes)
            nodes[i] = p->wait[i]->node;
    }
    return p->nwait;
}

static const json_t *
h_namespace_labels (tr_sched_cycle_t *cs, const char *ns)
{
    const fw_profile_t *p = cs ? cs->prof : NULL;
    return p && p->ns_labels && ns ? p->ns_labels (p->ns_arg, ns) : NULL;
}

static int
h_default_selector (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, json_t **selector)
{
    const fw_profile_t *p = cs ? cs->prof : NULL;
    *selector = NULL;
    return p && p->dsel && pod ? p->dsel (p->dsel_arg, pod, selector) : -1;
}

static size_t
h_pdbs (tr_sched_cycle_t *cs, const char *ns, const tr_sched_pdb_t *const **out)
{
    const fw_profile_t *p = cs ? cs->prof : NULL;
    *out = NULL;
    return p && p->pdbs ? p->pdbs (p->pdbs_arg, ns, out) : 0;
}

static const tr_sched_node_t *h_snapshot_node (tr_sched_cycle_t *cs, uint32_t i);

static const tr_sched_host_t host = {
    .size = sizeof (tr_sched_host_t),
    .log = h_log,
    .intern = h_intern,
    .write = h_write,
    .read = h_read,
    .snapshot = h_snapshot,
    .node = h_node,
    .quantity_milli = h_quantity_milli,
    .label_selector_match = h_label_selector_match,
    .node_selector_match = h_node_selector_match,
    .preempt = h_preempt,
    .allow_waiting = h_allow_waiting,
    .reject_waiting = h_reject_waiting,
    .waiting_pods = h_waiting_pods,
    .namespace_labels = h_namespace_labels,
    .default_selector = h_default_selector,
    .snapshot_node = h_snapshot_node,
    .pdbs = h_pdbs,
};

static const tr_sched_node_t *
senv_node (void *arg, const char *name)
{
    return snap_node (arg, name);
}

static int
senv_assume (void *arg, const tr_sched_pod_t *pod, const char *node)
{
    return snap_assume_pod (arg, pod, node);
}

static void
senv_forget (void *arg, const tr_sched_pod_t *pod)
{
    snap_forget (arg, pod->uid);
}

void
fw_env_of_snapshot (fw_env_t *env, sched_snap_t *snap)
{
    *env = (fw_env_t) {snap_view (snap), senv_node, senv_assume, senv_forget, snap};
}

const tr_sched_host_t *
fw_host (void)
{
    return &host;
}

/* ---- profiles ----------------------------------------------------------------------------- */

static int64_t
monotonic_ms (void *arg)
{
    (void) arg;
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
fw_profile_set_batch (fw_profile_t *p, int on)
{
    p->no_chunks = !on;
}

void
fw_profile_set_namespaces (fw_profile_t *p, const json_t *(*labels) (void *arg, const char *ns), void *arg)
{
    p->ns_labels = labels;
    p->ns_arg = arg;
}

void
fw_profile_set_default_selector (fw_profile_t *p, int (*dsel) (void *arg, const tr_sched_pod_t *pod, json_t **selector),
                                 void *arg)
{
    p->dsel = dsel;
    p->dsel_arg = arg;
}

void
fw_profile_set_pdbs (fw_profile_t *p, size_t (*pdbs) (void *arg, const char *ns, const tr_sched_pdb_t *const **out),
                     void *arg)
{
    p->pdbs = pdbs;
    p->pdbs_arg = arg;
}

void
fw_profile_set_clock (fw_profile_t *p, int64_t (*now_ms) (void *arg), void *arg)
{
    p->now = now_ms ? now_ms : monotonic_ms;
    p->now_arg = arg;
}

fw_profile_t *
fw_profile_new (const char *name, int percentage)
{
    fw_profile_t *p = calloc (1, sizeof *p);
    p->name = strdup (name);
    p->pct = percentage;
    p->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t) (uintptr_t) p;
    p->now = monotonic_ms;
    p->parallelism = 1;
    p->par_prefix = FW_PAR_PREFIX;
    p->par_min_rest = FW_PAR_MIN_REST;
    p->par_chunk = FW_PAR_CHUNK;
    return p;
}

void
fw_profile_destroy (fw_profile_t **pp)
{
    fw_profile_t *p = *pp;
    if (!p)
        return;
    for (size_t i = 0; i < p->ninst; i++) {
        if (p->inst[i].p->destroy && p->inst[i].self)
            p->inst[i].p->destroy (p->inst[i].self);
        if (p->inst[i].dl)
            dlclose (p->inst[i].dl);
    }
    for (size_t i = 0; i < p->nwait; i++)
        waiter_free (p->wait[i]);
    free (p->wait);
    fw_nomcache_clear (&p->nomc);
    free (p->pf_nodes);
    free (p->pf_pods);
    free (p->pf_made);
    free (p->sc_st);
    free (p->sc_feasible);
    free (p->sc_feasible_hot);
    free (p->hot);
    free (p->sc_totals);
    free (p->sc_scores);
    filterpool_destroy (&p->pool);
    free (p->name);
    free (p);
    *pp = NULL;
}

const char *
fw_profile_name (const fw_profile_t *p)
{
    return p->name;
}

void
fw_profile_set_percentage (fw_profile_t *p, int percentage)
{
    p->pct = percentage;
}

static int pool_workers (int parallelism);

void
fw_profile_set_parallelism (fw_profile_t *p, int parallelism, size_t prefix, size_t min_rest, size_t chunk)
{
    p->parallelism = parallelism < 1 ? 1 : parallelism;
    p->par_prefix = prefix;
    p->par_min_rest = min_rest;
    p->par_chunk = chunk ? chunk : FW_PAR_CHUNK;
    p->workers = pool_workers (p->parallelism);
    if (p->pool && filterpool_workers (p->pool) != p->workers) {
        filterpool_destroy (&p->pool);
        p->pool_failed = 0;
    }
}

int
fw_profile_parallelism (const fw_profile_t *p)
{
    return p->parallelism;
}

void
fw_profile_seed (fw_profile_t *p, uint64_t seed)
{
    p->rng = seed ? seed : 1;
}

static uint64_t
rnd (fw_profile_t *p)
{
    uint64_t x = p->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return p->rng = x;
}

static int
implements (const tr_sched_plugin_t *pl, int pt)
{
    switch (pt) {
    case 0: return pl->less != NULL;
    case 1: return pl->pre_filter != NULL;
    case 2: return pl->filter != NULL;
    case 3: return pl->post_filter != NULL;
    case 4: return pl->pre_score != NULL;
    case 5: return pl->score != NULL;
    case 6: return pl->reserve != NULL || pl->unreserve != NULL;
    case 7: return pl->permit != NULL;
    case 8: return pl->pre_bind != NULL;
    case 9: return pl->bind != NULL;
    }
    return 0;
}

static int
find_inst (const fw_profile_t *p, const char *name)
{
    for (size_t i = 0; i < p->ninst; i++)
        if (!strcmp (p->inst[i].p->name, name))
            return (int) i;
    return -1;
}

int
fw_profile_add (fw_profile_t *p, const tr_sched_plugin_t *pl, const json_t *args, uint32_t points, int64_t weight,
                void *dl, char *err, size_t errlen)
{
    int idx = find_inst (p, pl->name);
    if (idx < 0) {
        if (p->ninst == MAXINST) {
            snprintf (err, errlen, "%s: too many plugins in profile %s", pl->name, p->name);
            return -1;
        }
        void *self = NULL;
        if (pl->init) {
            char e[512] = "";
            self = pl->init (args, &host, e, sizeof e);
            if (!self) {
                snprintf (err, errlen, "%s: %s", pl->name, *e ? e : "init refused");
                return -1;
            }
        }
        idx = (int) p->ninst++;
        p->inst[idx] = (inst_t) {pl, self, dl, 0, 1, NULL, NULL, nodehot_hooks (pl)};
        /* the batch hooks only from a descriptor large enough to hold them: one built against
         * 1.3 or older ends before them */
        if (pl->size >= offsetof (tr_sched_plugin_t, score_nodes) + sizeof pl->score_nodes) {
            p->inst[idx].filter_nodes = pl->filter ? pl->filter_nodes : NULL;
            p->inst[idx].score_nodes = pl->score ? pl->score_nodes : NULL;
        }
    } else if (dl)
        dlclose (dl); /* the instance has its own handle already */
    inst_t *in = &p->inst[idx];
    if (weight > 0)
        in->weight = weight;
    for (int pt = 0; pt < NPOINTS; pt++) {
        if (!(points & (1u << pt)) || !implements (pl, pt) || (in->points & (1u << pt)))
            continue;
        if (pt == 0)
            p->norder[0] = 0; /* one QueueSort per profile: the last one enabled */
        in->points |= 1u << pt;
        p->order[pt][p->norder[pt]++] = (uint8_t) idx;
    }
    return 0;
}

void
fw_profile_remove (fw_profile_t *p, const char *name, uint32_t points)
{
    int idx = find_inst (p, name);
    if (idx < 0)
        return;
    for (int pt = 0; pt < NPOINTS; pt++) {
        if (!(points & (1u << pt)))
            continue;
        size_t k = 0;
        for (size_t i = 0; i < p->norder[pt]; i++)
            if (p->order[pt][i] != idx)
                p->order[pt][k++] = p->order[pt][i];
        p->norder[pt] = k;
        p->inst[idx].points &= ~(1u << pt);
    }
}

static int
pt_index (uint32_t point)
{
    for (int i = 0; i < NPOINTS; i++)
        if (point == 1u << i)
            return i;
    return -1;
}

size_t
fw_profile_list (const fw_profile_t *p, uint32_t point, const char **names, int64_t *weights, size_t max)
{
    int pt = pt_index (point);
    if (pt < 0)
        return 0;
    for (size_t i = 0; i < p->norder[pt] && i < max; i++) {
        if (names)
            names[i] = p->inst[p->order[pt][i]].p->name;
        if (weights)
            weights[i] = p->inst[p->order[pt][i]].weight;
    }
    return p->norder[pt];
}

int
fw_profile_less (void *arg, const tr_sched_pod_t *a, const tr_sched_pod_t *b)
{
    fw_profile_t *p = arg;
    if (p && p->norder[0]) {
        inst_t *in = &p->inst[p->order[0][0]];
        return in->p->less (in->self, a, b);
    }
    if (a->priority != b->priority)
        return a->priority > b->priority;
    return a->created_ms < b->created_ms;
}

/* ---- one cycle ---------------------------------------------------------------------------- */

size_t
fw_nodes_to_find (int percentage, size_t n)
{
    if (n < 100 || percentage >= 100)
        return n;
    long pct = percentage;
    if (pct <= 0) {
        pct = 50 - (long) n / 125;
        if (pct < 5)
            pct = 5;
    }
    size_t k = n * (size_t) pct / 100;
    return k < 100 ? 100 : k;
}

typedef struct {
    char *text;
    size_t count;
} reason_t;

static int
cmp_str (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Each of a status' reasons ('\n'-joined), as status.Reasons (), counted n times. */
static void
fit_count (json_t *counts, const char *r, json_int_t n)
{
    while (r && *r) {
        const char *nl = strchr (r, '\n');
        size_t rl = nl ? (size_t) (nl - r) : strlen (r);
        char one[512];
        snprintf (one, sizeof one, "%.*s", (int) (rl < sizeof one ? rl : sizeof one - 1), r);
        r = nl ? nl + 1 : NULL;
        if (!*one)
            continue;
        json_t *c = json_object_get (counts, one);
        if (c)
            json_integer_set (c, json_integer_value (c) + n);
        else
            json_object_set_new (counts, one, json_integer (n));
    }
}

void
fw_fit_error (char *out, size_t len, size_t nall, const tr_sched_status_t *st, size_t n, const char *prefilter,
              const char *postfilter)
{
    if (!nall) {
        snprintf (out, len, "no nodes available to schedule pods");
        return;
    }
    size_t off = (size_t) snprintf (out, len, "0/%zu nodes are available:", nall);
    if (prefilter && *prefilter)
        off += (size_t) snprintf (out + (off < len ? off : len), off < len ? len - off : 0, " %s.", prefilter);
    json_t *counts = json_object ();
    /* statuses share a few reason strings (the plugins' constants, a cycle's interned ones):
     * counted by pointer first, then each distinct string split and counted by text */
    enum { NDISTINCT = 32 };
    const char *dr[NDISTINCT];
    size_t dn[NDISTINCT], nd = 0;
    for (size_t i = 0; !prefilter && i < n; i++) {
        const char *r = st[i].reason ? st[i].reason : st[i].code == TR_SCHED_SUCCESS ? NULL : "unknown";
        if (!r)
            continue;
        size_t j = 0;
        while (j < nd && dr[j] != r)
            j++;
        if (j < nd) {
            dn[j]++;
            continue;
        }
        if (nd < NDISTINCT) {
            dr[nd] = r;
            dn[nd++] = 1;
            continue;
        }
        fit_count (counts, r, 1); /* beyond NDISTINCT distinct strings: one by one */
    }
    for (size_t j = 0; j < nd; j++)
        fit_count (counts, dr[j], (json_int_t) dn[j]);
    size_t m = json_object_size (counts), k = 0;
    char **items = calloc (m ? m : 1, sizeof *items);
    const char *r;
    json_t *c;
    json_object_foreach (counts, r, c) if (items && asprintf (&items[k], "%lld %s", (long long) json_integer_value (c), r) >= 0) k++;
    if (k > 1)
        qsort (items, k, sizeof *items, cmp_str);
    for (size_t i = 0; i < k; i++) {
        off += (size_t) snprintf (out + (off < len ? off : len), off < len ? len - off : 0, "%s%s%s", i ? ", " : " ",
                                  items[i], i + 1 == k ? "." : "");
        free (items[i]);
    }
    free (items);
    json_decref (counts);
    if (postfilter && *postfilter)
        snprintf (out + (off < len ? off : len), off < len ? len - off : 0, " %s.", postfilter);
}

static uint32_t
events_of (const inst_t *in)
{
    return in->p->events ? in->p->events : TR_SCHED_EV_ALL;
}

static void
run_unreserve (fw_profile_t *p, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    for (size_t k = p->norder[6]; k-- > 0;) {
        inst_t *in = &p->inst[p->order[6][k]];
        if (in->p->unreserve)
            in->p->unreserve (in->self, cs, pod, node);
    }
}

void
fw_unreserve (fw_profile_t *p, const fw_env_t *env, const tr_sched_pod_t *pod, const char *node)
{
    tr_sched_cycle_t cs;
    cs_init (&cs, env, p);
    run_unreserve (p, &cs, pod, node);
    cs_clear (&cs);
    if (env->forget)
        env->forget (env->arg, pod);
}

static void
fail (fw_result_t *out, fw_outcome_t o, const char *fmt, ...)
{
    out->outcome = o;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (out->message, sizeof out->message, fmt, ap);
    va_end (ap);
}

/* PreBind, then the binders in order until one does not SKIP. 0, or -1 with out filled. */
static int
bind_phase (fw_profile_t *p, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, fw_result_t *out)
{
    for (size_t k = 0; k < p->norder[8]; k++) {
        inst_t *in = &p->inst[p->order[8][k]];
        tr_sched_status_t s = in->p->pre_bind (in->self, cs, pod, node);
        if (s.code != TR_SCHED_SUCCESS) {
            fail (out, FW_ERROR, "running PreBind plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
            return -1;
        }
    }
    int bound = 0;
    for (size_t k = 0; k < p->norder[9] && !bound; k++) {
        inst_t *in = &p->inst[p->order[9][k]];
        tr_sched_status_t s = in->p->bind (in->self, cs, pod, node);
        if (s.code == TR_SCHED_SKIP)
            continue;
        if (s.code != TR_SCHED_SUCCESS) {
            fail (out, FW_ERROR, "running Bind plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
            return -1;
        }
        bound = 1;
        out->host_binds = !in->dl && !strcmp (in->p->name, "DefaultBinder");
    }
    if (!bound) {
        fail (out, FW_ERROR, "no Bind plugin bound pod %s/%s", pod->ns, pod->name);
        return -1;
    }
    out->outcome = FW_SCHEDULED;
    tr_strlcpy (out->node, node, sizeof out->node);
    return 0;
}

/* The Filter plugins on node: 1 all pass, 0 one rejects (*st, *rejected), -1 one failed. */
static int
run_filters (fw_profile_t *p, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node,
             const uint8_t *skip, tr_sched_status_t *st, uint64_t *rejected, fw_result_t *out)
{
    for (size_t k = 0; k < p->norder[2]; k++) {
        uint8_t ii = p->order[2][k];
        if (skip[ii])
            continue;
        inst_t *in = &p->inst[ii];
        tr_sched_status_t s = in->p->filter (in->self, cs, pod, node);
        if (s.code == TR_SCHED_SUCCESS)
            continue;
        if (s.code == TR_SCHED_ERROR) {
            fail (out, FW_ERROR, "running Filter plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
            return -1;
        }
        *st = s;
        if (!st->reason)
            st->reason = in->p->name;
        *rejected |= 1ull << ii;
        return 0;
    }
    return 1;
}

/* Nodes are separate allocations of about 500 bytes, their labels another; a scan of a thousand
 * of them per pod missed the cache on most lines it read. The scans below ask for the three lines
 * of a node a scan reads (sched_plugin.h: the first, allocatable's, requested's) FW_AHEAD nodes
 * before they reach it, and for its labels' index half as far ahead (its address is in a line
 * asked for by then). Hints only: no result changes. */
#define FW_AHEAD 8

static inline void
prefetch_node (const tr_sched_node_t *n)
{
    __builtin_prefetch (n); /* unschedulable ... name, label_index among them */
    __builtin_prefetch (&n->allocatable);
    __builtin_prefetch (&n->requested);
}

static inline void
prefetch_labels (const tr_sched_node_t *n)
{
    nodelabels_prefetch ((const nodelabels_t *) n->label_index);
}

/* Filter on one node as Kubernetes' RunFilterPluginsWithNominatedPods: with the pods nominated
 * there (of priority >= the pod's) added, then, when some were added and that passed, again
 * without them: a pod must fit whether or not they come (a plugin that counts pods for the pod,
 * e.g. an affinity, must not be satisfied by a nominated pod alone). 1 fits, 0 not, -1 error. */
static int
filter_node (fw_profile_t *p, tr_sched_cycle_t *cs, const nomix_t *ix, const tr_sched_pod_t *pod,
             const tr_sched_node_t *node0, const uint8_t *skip, tr_sched_status_t *st, uint64_t *rejected,
             fw_result_t *out)
{
    tr_sched_node_t tmp;
    const tr_sched_pod_t **buf;
    const tr_sched_pod_t *room[128];
    const tr_sched_node_t *node = fw_nomix_with (ix, pod, node0, &tmp, &buf, room, 128);
    int ok = run_filters (p, cs, pod, node, skip, st, rejected, out);
    if (ok == 1 && node != node0)
        ok = run_filters (p, cs, pod, node0, skip, st, rejected, out);
    free (buf);
    return ok;
}

/* ---- Filter over a chunk of nodes, plugin after plugin ---------------------------------- */

/* Nodes a chunk holds at most. The caller never asks for more than the feasible nodes it still
 * wants, so a chunk evaluates no node the node-by-node scan would not have reached. */
#define FW_CHUNK 64

/* Filters nodes[(start + o) % n] for o in [from, from + m), m <= FW_CHUNK: each plugin in the
 * profile's order on the nodes every plugin before it passed, through its filter_nodes when it has
 * one (one call for the chunk instead of one per node), else node by node. The outcome is the
 * node-by-node scan's (run_filters on each node in turn): a node's status is that of the first
 * plugin that rejected it, *rejected the plugins that rejected any, the feasible nodes appended in
 * the scan's order; an error is the one the scan would have stopped at, the first node in order
 * that one plugin failed on (no chunk goes past the node the scan would have ended at, and a
 * failed node is filtered no further, so its error is its first plugin's). 0, or -1 with out
 * failed. Labels are prefetched only for plugins without the batch form (a built-in batch form
 * that reads labels asks for them itself). */
static int
filter_chunk (fw_profile_t *p, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
              const nodehot_t *hot, size_t n, size_t start, size_t from, size_t m, const uint8_t *skip,
              tr_sched_status_t *st, uint64_t *rejected, const tr_sched_node_t **feasible, const nodehot_t **feasible_hot,
              size_t *nfeasible, fw_result_t *out)
{
    const tr_sched_node_t *live[FW_CHUNK];
    const nodehot_t *live_hot[FW_CHUNK]; /* live[j]'s hot line (hot: else unset) */
    uint32_t at[FW_CHUNK];   /* live[j]'s offset in the chunk */
    tr_sched_status_t s[FW_CHUNK];
    size_t nl = m, err_at = m, err_k = 0;
    tr_sched_status_t err = {0};
    for (size_t j = 0, idx = (start + from) % n; j < m; j++, idx = idx + 1 < n ? idx + 1 : 0) {
        live[j] = nodes[idx];
        if (hot)
            live_hot[j] = &hot[idx];
        at[j] = (uint32_t) j;
    }
    for (size_t k = 0; k < p->norder[2] && nl; k++) {
        uint8_t ii = p->order[2][k];
        if (skip[ii])
            continue;
        inst_t *in = &p->inst[ii];
        if (hot && in->hot && in->hot->filter)
            in->hot->filter (in->self, cs, pod, live, live_hot, nl, s);
        else if (in->filter_nodes)
            in->filter_nodes (in->self, cs, pod, live, nl, s);
        else
            for (size_t j = 0; j < nl; j++) {
                if (j + FW_AHEAD / 2 < nl)
                    prefetch_labels (live[j + FW_AHEAD / 2]);
                s[j] = in->p->filter (in->self, cs, pod, live[j]);
            }
        size_t keep = 0;
        for (size_t j = 0; j < nl; j++) {
            if (s[j].code == TR_SCHED_SUCCESS) {
                live[keep] = live[j];
                if (hot)
                    live_hot[keep] = live_hot[j];
                at[keep++] = at[j];
            } else if (s[j].code == TR_SCHED_ERROR) {
                if (at[j] < err_at) {
                    err_at = at[j];
                    err_k = ii;
                    err = s[j];
                }
            } else {
                tr_sched_status_t *o = &st[(start + from + at[j]) % n];
                *o = s[j];
                if (!o->reason)
                    o->reason = in->p->name;
                *rejected |= 1ull << ii;
            }
        }
        nl = keep;
    }
    if (err_at < m) {
        fail (out, FW_ERROR, "running Filter plugin \"%s\": %s", p->inst[err_k].p->name,
              err.reason ? err.reason : "error");
        return -1;
    }
    for (size_t j = 0; j < nl; j++) {
        if (hot)
            feasible_hot[*nfeasible] = live_hot[j];
        feasible[(*nfeasible)++] = live[j];
    }
    return 0;
}

/* Every feasible node's score by one plugin: its score_nodes in one call, else node by node. */
static tr_sched_status_t
score_all (const fw_profile_t *p, const inst_t *in, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
           const tr_sched_node_t *const *nodes, const nodehot_t *const *hot, size_t n, int64_t *scores)
{
    if (hot && in->hot && in->hot->score)
        return in->hot->score (in->self, cs, pod, nodes, hot, n, scores);
    if (in->score_nodes && !p->no_chunks)
        return in->score_nodes (in->self, cs, pod, nodes, n, scores);
    for (size_t i = 0; i < n; i++) {
        if (i + FW_AHEAD < n) {
            prefetch_node (nodes[i + FW_AHEAD]);
            prefetch_labels (nodes[i + FW_AHEAD / 2]);
        }
        scores[i] = 0;
        tr_sched_status_t s = in->p->score (in->self, cs, pod, nodes[i], &scores[i]);
        if (s.code != TR_SCHED_SUCCESS)
            return s;
    }
    return TR_SCHED_OK;
}

/* ---- Filter's long scans on several threads ---------------------------------------------- */

/* One parallel scan: nodes at offsets base.. of the rotation (start + offset) % n. verdict, rej:
 * by offset - base (verdict 2: not run); err[tid]: the first error thread tid met, at err_at. */
typedef struct {
    fw_profile_t *p;
    tr_sched_cycle_t *cs;
    const nomix_t *ix;
    const tr_sched_pod_t *pod;
    const tr_sched_node_t *const *nodes;
    size_t n, start, base, want;
    const uint8_t *skip;
    tr_sched_status_t *st;
    int8_t *verdict;
    uint64_t *rej;
    atomic_size_t found;
    fw_result_t *err;
    size_t *err_at;
} pscan_t;

static int
pscan_chunk (void *arg, size_t from, size_t to, int tid)
{
    pscan_t *a = arg;
    size_t found = 0;
    for (size_t o = from; o < to; o++) {
        size_t idx = (a->start + a->base + o) % a->n;
        if (o + FW_AHEAD < to) {
            prefetch_node (a->nodes[(idx + FW_AHEAD) % a->n]);
            prefetch_labels (a->nodes[(idx + FW_AHEAD / 2) % a->n]);
        }
        uint64_t rej = 0;
        int r = filter_node (a->p, a->cs, a->ix, a->pod, a->nodes[idx], a->skip, &a->st[idx], &rej, &a->err[tid]);
        a->rej[o] = rej;
        a->verdict[o] = (int8_t) r;
        if (r < 0) { /* this thread's first error (its chunks come in increasing order): stop */
            a->err_at[tid] = o;
            return 1;
        }
        found += r > 0;
    }
    return atomic_fetch_add (&a->found, found) + found >= a->want;
}

/* The workers a parallelism asks for, at most one fewer than the machine's cores (threads
 * beyond them only queue behind each other): 0 on one core. Reads sysfs: called when the
 * parallelism is set, not per scan. */
static int
pool_workers (int parallelism)
{
    if (parallelism < 2)
        return 0;
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    int w = parallelism - 1;
    if (cpus >= 1 && w > cpus - 1)
        w = (int) cpus - 1;
    return w > 0 ? w : 0;
}

static filterpool_t *
filter_pool (fw_profile_t *p)
{
    if (p->workers < 1 || p->pool_failed)
        return NULL;
    if (!p->pool && !(p->pool = filterpool_new (p->workers))) {
        p->pool_failed = 1; /* no thread: one thread it is, without asking again */
        TR_WARN ("scheduler", "profile %s: cannot start Filter threads: filtering on one", p->name);
    }
    return p->pool;
}

/* Filters the nodes from offset *processed on, on the pool, then replays the verdicts in order
 * as the one-thread loop would have met them: the same feasible nodes in the same order, the
 * same statuses, the same stop (the want-th feasible node, or the first error), so the result
 * does not depend on the threads. 0, or -1 with out filled (a plugin's error). */
static int
scan_parallel (fw_profile_t *p, filterpool_t *pool, tr_sched_cycle_t *cs, const nomix_t *ix, const tr_sched_pod_t *pod,
               const tr_sched_snapshot_t *snap, size_t start, size_t *processed, size_t *nfeasible, size_t want,
               const uint8_t *skip, tr_sched_status_t *st, const tr_sched_node_t **feasible, uint64_t *rejected,
               fw_result_t *out)
{
    size_t n = snap->nnodes, base = *processed, rest = n - base;
    int threads = filterpool_workers (pool) + 1;
    pscan_t a = {.p = p, .cs = cs, .ix = ix, .pod = pod, .nodes = snap->nodes, .n = n, .start = start, .base = base,
                 .want = want - *nfeasible, .skip = skip, .st = st};
    a.verdict = malloc (rest);
    a.rej = malloc (rest * sizeof *a.rej);
    a.err = calloc ((size_t) threads, sizeof *a.err);
    a.err_at = malloc ((size_t) threads * sizeof *a.err_at);
    int rc = 0;
    if (!a.verdict || !a.rej || !a.err || !a.err_at) {
        fail (out, FW_ERROR, "out of memory");
        rc = -1;
        goto out;
    }
    memset (a.verdict, 2, rest);
    for (int t = 0; t < threads; t++)
        a.err_at[t] = SIZE_MAX;
    atomic_init (&a.found, 0);
    size_t ran = filterpool_run (pool, rest, p->par_chunk, pscan_chunk, &a);
    size_t o = 0;
    for (; o < rest && *nfeasible < want; o++) {
        size_t idx = (start + base + o) % n;
        int r = a.verdict[o];
        if (r == 2) { /* not run (past a thread's error): cannot be before the stop, but filter it */
            uint64_t rej = 0;
            r = filter_node (p, cs, ix, pod, snap->nodes[idx], skip, &st[idx], &rej, out);
            *rejected |= rej;
        } else if (r < 0) {
            for (int t = 0; t < threads; t++)
                if (a.err_at[t] == o) {
                    out->outcome = a.err[t].outcome;
                    memcpy (out->message, a.err[t].message, sizeof out->message);
                }
        } else
            *rejected |= a.rej[o];
        if (r < 0) {
            o++;
            rc = -1;
            break;
        }
        if (r > 0)
            feasible[(*nfeasible)++] = snap->nodes[idx];
    }
    /* nodes the threads ran past the stop: as if never filtered */
    for (size_t k = o; k < ran; k++)
        st[(start + base + k) % n] = (tr_sched_status_t) {0};
    *processed = base + o;
out:
    free (a.verdict);
    free (a.rej);
    free (a.err);
    free (a.err_at);
    return rc;
}

int
fw_eligible_to_preempt (const fw_nominator_t *nom, const tr_sched_node_t *nominated, const tr_sched_pod_t *pod)
{
    if (!nominated)
        return 1;
    for (uint32_t i = 0; i < nominated->npods; i++) {
        const tr_sched_pod_t *q = nominated->pods[i];
        if (q->priority >= pod->priority)
            continue;
        /* terminating by preemption: as its object says, or a victim whose delete the nominator
         * sent (its object may not say so yet) */
        if (pu_terminating_by_preemption (q->obj) || (nom && nom->terminating && nom->terminating (nom->arg, q)))
            return 0;
    }
    return 1;
}

/* PostFilter after a FitError (Kubernetes' RunPostFilterPlugins with the Diagnosis' NodeToStatus):
 * st[i] is node i's status (after a PreFilter rejection, that status for every node). The plugins
 * see the nodes with their nominated pods (as Kubernetes' preemption dry run filters with
 * addNominatedPods): two preemptors do not count on the same freed room. PostFilter's message
 * in pf, as RunPostFilterPlugins: none after a Success (a nomination), the status of the first
 * plugin Unresolvable or in error, else every Unschedulable reason; a pod not eligible
 * (PodEligibleToPreemptOthers) gets DefaultPreemption's own answer, which the framework gives. */
/* PostFilter's view of node i (the node with its nominated pods added), in the profile's room */
static const tr_sched_node_t *
pf_make (fw_profile_t *p, tr_sched_cycle_t *cs, const nomix_t *ix, const tr_sched_pod_t *pod, size_t i)
{
    const tr_sched_node_t *orig = cs->env->snap->nodes[i];
    const tr_sched_pod_t **buf;
    const tr_sched_node_t *x = fw_nomix_with (ix, pod, orig, &p->pf_nodes[i], &buf,
                                               p->pf_pods ? p->pf_pods + cs->pf_used : NULL, p->cap_pf_pods - cs->pf_used);
    if (x != orig && !buf)
        cs->pf_used += x->npods;
    return x;
}

static const tr_sched_node_t *
h_snapshot_node (tr_sched_cycle_t *cs, uint32_t i)
{
    const tr_sched_snapshot_t *snap = h_snapshot (cs);
    if (i >= snap->nnodes)
        return NULL;
    if (!cs->pf_made || i >= cs->pf_n)
        return snap->nodes[i];
    if (!cs->pf_made[i])
        cs->pf_made[i] = pf_make (cs->prof, cs, cs->pf_ix, cs->pf_pod, i);
    return cs->pf_made[i];
}

/* Every PostFilter of p reads nodes through host->snapshot_node (the framework's own
 * DefaultPreemption): nodes are copied with their nominated pods only when it asks. */
static int
pf_lazy (const fw_profile_t *p)
{
    for (size_t k = 0; k < p->norder[3]; k++)
        if (p->inst[p->order[3][k]].p != sched_plugin_defaultpreemption ())
            return 0;
    return 1;
}

static void
run_post_filter (fw_profile_t *p, tr_sched_cycle_t *csp, const nomix_t *ix, const fw_nominator_t *nom,
                 const tr_sched_pod_t *pod, const tr_sched_status_t *st, size_t n, int eligible, char *pf,
                 size_t pflen)
{
    const tr_sched_snapshot_t *snap = csp->env->snap;
    tr_sched_snapshot_t nsnap;
    const tr_sched_node_t **made = NULL; /* node i's view, once made */
    int lazy = 0;
    *pf = '\0';
    size_t nv = n < snap->nnodes ? n : snap->nnodes; /* the nodes with a view */
    if (eligible && (ix->c ? ix->any : nom && nom->nominated) && p->norder[3] && nv) {
        /* the copies in the profile's room: n nodes, and the pods of every node plus those
         * nominated (a node's list on the heap when the room runs out) */
        size_t npods = ix->c ? ix->c->n : 0;
        for (size_t i = 0; i < nv; i++)
            npods += snap->nodes[i]->npods;
        if (p->cap_pf_nodes < nv) {
            free (p->pf_nodes);
            p->pf_nodes = malloc (nv * sizeof *p->pf_nodes);
            p->cap_pf_nodes = p->pf_nodes ? nv : 0;
        }
        if (p->cap_pf_pods < npods) {
            free (p->pf_pods);
            p->pf_pods = malloc (npods * sizeof *p->pf_pods);
            p->cap_pf_pods = p->pf_pods ? npods : 0;
        }
        if (p->cap_pf_made < nv) {
            free (p->pf_made);
            p->pf_made = malloc (nv * sizeof *p->pf_made);
            p->cap_pf_made = p->pf_made ? nv : 0;
        }
        if (p->pf_nodes && p->pf_made) {
            made = p->pf_made;
            memset (made, 0, nv * sizeof *made);
            csp->pf_used = 0;
            lazy = pf_lazy (p);
            if (lazy) {
                csp->pf_ix = ix;
                csp->pf_pod = pod;
                csp->pf_made = made;
                csp->pf_n = nv;
            } else {
                for (size_t i = 0; i < nv; i++)
                    made[i] = pf_make (p, csp, ix, pod, i);
                nsnap = *snap;
                nsnap.nodes = made;
                nsnap.nnodes = (uint32_t) nv;
                nsnap.layout = 0; /* copies, not the snapshot's nodes: no journal */
                nsnap.journal = NULL;
                nsnap.njournal = 0;
                csp->snap = &nsnap;
            }
        }
    }
    if (!eligible && p->norder[3])
        snprintf (pf, pflen, "preemption: not eligible due to a terminating pod on the nominated node.");
    for (size_t k = 0; eligible && k < p->norder[3]; k++) {
        inst_t *in = &p->inst[p->order[3][k]];
        tr_sched_status_t s = in->p->post_filter (in->self, csp, pod, st, n);
        if (s.code == TR_SCHED_SUCCESS) {
            *pf = '\0';
            break;
        }
        const char *why = s.reason ? s.reason : "";
        if (s.code != TR_SCHED_UNSCHEDULABLE) {
            snprintf (pf, pflen, "%s", why);
            break;
        }
        size_t used = strlen (pf);
        if (*why && used + 1 < pflen)
            snprintf (pf + used, pflen - used, "%s%s", used ? ", " : "", why);
    }
    csp->snap = NULL;
    csp->pf_made = NULL;
    csp->pf_ix = NULL;
    csp->pf_pod = NULL;
    for (size_t i = 0; made && i < nv; i++) /* the lists that did not fit the room */
        if (made[i] && made[i] != snap->nodes[i] &&
            !((uintptr_t) made[i]->pods >= (uintptr_t) p->pf_pods &&
              (uintptr_t) made[i]->pods < (uintptr_t) (p->pf_pods + p->cap_pf_pods)))
            free ((void *) made[i]->pods);
}

static const char *
nominated_node_of (const fw_nominator_t *env, const tr_sched_pod_t *pod)
{
    if (env && env->nominated_node)
        return env->nominated_node (env->arg, pod);
    return json_string_value (json_object_get (json_object_get (pod->obj, "status"), "nominatedNodeName"));
}

/* Room for n nodes in the cycle's arrays (unzeroed: see fw_schedule_nominated); 0 or -1. */
static int
scratch_nodes (fw_profile_t *p, size_t n)
{
    if (n <= p->cap_sc_nodes)
        return 0;
    tr_sched_status_t *st = realloc (p->sc_st, n * sizeof *st);
    if (st)
        p->sc_st = st;
    const tr_sched_node_t **f = realloc (p->sc_feasible, n * sizeof *f);
    if (f)
        p->sc_feasible = f;
    const nodehot_t **fh = realloc (p->sc_feasible_hot, n * sizeof *fh);
    if (fh)
        p->sc_feasible_hot = fh;
    if (!st || !f || !fh)
        return -1;
    p->cap_sc_nodes = n;
    return 0;
}

/* The nodes' hot lines (nodehot.h) for snap, in its nodes[] order: all of them made again when
 * its layout is not the one of the last call (or its journal no longer reaches back to it),
 * else those of the nodes its journal moved since. NULL when the snapshot keeps no journal
 * (layout 0: a hand-made one) or memory runs out: the plugins then read the nodes. */
static const nodehot_t *
hot_sync (fw_profile_t *p, const tr_sched_snapshot_t *snap)
{
    size_t n = snap->nnodes, k;
    if (!n || !snap->layout || snap->size < offsetof (tr_sched_snapshot_t, njournal) + sizeof snap->njournal)
        return NULL;
    if (n > p->cap_hot) {
        size_t cap = n + n / 4;
        nodehot_t *h = aligned_alloc (_Alignof (nodehot_t), cap * sizeof *h);
        if (!h)
            return NULL;
        free (p->hot);
        p->hot = h;
        p->cap_hot = cap;
        p->hot_layout = 0;
    }
    if (!pu_journal_since (snap, p->hot_layout, p->hot_gen, &k)) {
        for (size_t i = 0; i < n; i++)
            nodehot_of (snap->nodes[i], &p->hot[i]);
    } else
        for (; k < snap->njournal; k++) {
            const tr_sched_gen_move_t *j = &snap->journal[k];
            if (j->index < n)
                nodehot_of (snap->nodes[j->index], &p->hot[j->index]);
        }
    p->hot_layout = snap->layout;
    p->hot_gen = snap->generation;
    return p->hot;
}

const struct nodehot *
fw_hot_lines (fw_profile_t *p, const tr_sched_snapshot_t *snap)
{
    return hot_sync (p, snap);
}

static int
scratch_scores (fw_profile_t *p, size_t n)
{
    if (n <= p->cap_sc_scores)
        return 0;
    int64_t *t = realloc (p->sc_totals, n * sizeof *t);
    if (t)
        p->sc_totals = t;
    int64_t *s = realloc (p->sc_scores, n * sizeof *s);
    if (s)
        p->sc_scores = s;
    if (!t || !s)
        return -1;
    p->cap_sc_scores = n;
    return 0;
}

void
fw_schedule (fw_profile_t *p, const fw_env_t *env, const tr_sched_pod_t *pod, fw_result_t *out)
{
    fw_schedule_nominated (p, env, NULL, pod, out);
}

void
fw_schedule_nominated (fw_profile_t *p, const fw_env_t *env, const fw_nominator_t *nom, const tr_sched_pod_t *pod,
                       fw_result_t *out)
{
    memset (out, 0, sizeof *out);
    /* on the heap: a pod held by Permit keeps its cycle state until PreBind and Bind */
    tr_sched_cycle_t *csp = calloc (1, sizeof *csp);
    if (!csp) {
        fail (out, FW_ERROR, "out of memory");
        return;
    }
    cs_init (csp, env, p);
    csp->out = out;
    nomix_t ix;
    fw_nomix_build (&ix, &p->nomc, nom, env, pod);
    const tr_sched_snapshot_t *snap = env->snap;
    size_t n = snap->nnodes;
    uint8_t skip[MAXINST] = {0};
    tr_sched_status_t *st = NULL;
    const tr_sched_node_t **feasible = NULL;
    int64_t *totals = NULL, *scores = NULL;

    /* PreFilter */
    for (size_t k = 0; k < p->norder[1]; k++) {
        inst_t *in = &p->inst[p->order[1][k]];
        tr_sched_status_t s = in->p->pre_filter (in->self, csp, pod);
        if (s.code == TR_SCHED_SKIP)
            skip[p->order[1][k]] = 1;
        else if (s.code == TR_SCHED_UNSCHEDULABLE || s.code == TR_SCHED_UNRESOLVABLE) {
            /* a FitError all the same: every node has the PreFilter's status (Kubernetes'
             * NodeToStatus.SetAbsentNodesStatus) and PostFilter runs, so preemption considers
             * every node when the status is Unschedulable, none when UnschedulableAndUnresolvable.
             * The nominated node's status is that one too: Unresolvable makes the pod eligible
             * (PodEligibleToPreemptOthers) whatever terminates there. */
            if (scratch_nodes (p, n ? n : 1)) {
                fail (out, FW_ERROR, "out of memory");
                goto done;
            }
            st = p->sc_st;
            for (size_t i = 0; i < n; i++)
                st[i] = s;
            const char *nominated = nominated_node_of (nom, pod);
            const tr_sched_node_t *nn = nominated && *nominated ? h_node (csp, nominated) : NULL;
            char pf[512];
            run_post_filter (p, csp, &ix, nom, pod, st, n,
                             s.code == TR_SCHED_UNRESOLVABLE || fw_eligible_to_preempt (nom, nn, pod), pf, sizeof pf);
            out->outcome = FW_UNSCHEDULABLE;
            out->events = events_of (in);
            fw_fit_error (out->message, sizeof out->message, n, NULL, 0, s.reason ? s.reason : in->p->name, pf);
            goto done;
        } else if (s.code != TR_SCHED_SUCCESS) {
            fail (out, FW_ERROR, "running PreFilter plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
            goto done;
        }
    }

    /* Filter, over a sample; first the node the pod is nominated to, alone (evaluateNominatedNode).
     * The statuses are not zeroed: Filter writes a node's when it rejects it, and they are read
     * only when no node passed, that is when every node was filtered and rejected. */
    if (scratch_nodes (p, n ? n : 1)) {
        fail (out, FW_ERROR, "out of memory");
        goto done;
    }
    st = p->sc_st;
    feasible = p->sc_feasible;
    /* the feasible nodes' hot lines, while every feasible node came from a chunk that had them */
    const nodehot_t **feasible_hot = p->sc_feasible_hot;
    const nodehot_t *hot = NULL;
    int hot_ok = 1;
    size_t want = fw_nodes_to_find (p->pct, n), nfeasible = 0, processed = 0;
    size_t start = n ? p->next_start % n : 0;
    uint64_t rejected = 0;
    const char *nominated = nominated_node_of (nom, pod);
    const tr_sched_node_t *nn = nominated && *nominated ? h_node (csp, nominated) : NULL;
    tr_sched_status_t nn_status = {0}; /* the nominated node's, for PodEligibleToPreemptOthers */
    if (nn) {
        uint64_t rej = 0;
        int r = filter_node (p, csp, &ix, pod, nn, skip, &nn_status, &rej, out);
        if (r < 0)
            goto done;
        if (r > 0) {
            feasible[nfeasible++] = nn;
            hot_ok = 0;
            processed = n; /* the sample's start does not move */
            out->evaluated = 1;
            out->feasible = 1;
            goto chosen_nominated;
        }
    }
    int chunked = fw_nomix_none (&ix) && !p->no_chunks;
    if (chunked)
        hot = hot_sync (p, snap);
    hot_ok = hot != NULL;
    for (; processed < n && nfeasible < want; processed++) {
        filterpool_t *pool;
        if (processed == p->par_prefix && n - processed >= p->par_min_rest && (pool = filter_pool (p))) {
            hot_ok = 0;
            if (scan_parallel (p, pool, csp, &ix, pod, snap, start, &processed, &nfeasible, want, skip, st, feasible,
                               &rejected, out) < 0)
                goto done;
            break;
        }
        if (chunked) {
            /* no more nodes than feasible ones still wanted, and none past the parallel scan's start */
            size_t m = n - processed;
            if (m > want - nfeasible)
                m = want - nfeasible;
            if (m > FW_CHUNK)
                m = FW_CHUNK;
            if (p->workers > 0 && processed < p->par_prefix && m > p->par_prefix - processed)
                m = p->par_prefix - processed;
            if (filter_chunk (p, csp, pod, snap->nodes, hot, n, start, processed, m, skip, st, &rejected, feasible,
                              feasible_hot, &nfeasible, out))
                goto done;
            processed += m - 1; /* the loop's ++ makes it m */
            continue;
        }
        size_t idx = (start + processed) % n;
        const tr_sched_node_t *node = snap->nodes[idx];
        if (n > FW_AHEAD) {
            prefetch_node (snap->nodes[(idx + FW_AHEAD) % n]);
            prefetch_labels (snap->nodes[(idx + FW_AHEAD / 2) % n]);
        }
        int r = filter_node (p, csp, &ix, pod, node, skip, &st[idx], &rejected, out);
        if (r < 0)
            goto done;
        if (r > 0) {
            feasible[nfeasible++] = node;
            hot_ok = 0;
        }
    }
    if (n)
        p->next_start = (start + processed) % n;
    out->evaluated = processed;
    out->feasible = nfeasible;
chosen_nominated:

    if (!nfeasible) {
        for (size_t k = processed; k < n; k++) /* none: the scan ends at a feasible node or at n */
            st[(start + k) % n] = (tr_sched_status_t) {0};
        char pf[512];
        /* PodEligibleToPreemptOthers: a nominated node that is UnschedulableAndUnresolvable for
         * the pod no longer holds it back, whatever terminates there */
        run_post_filter (p, csp, &ix, nom, pod, st, n,
                         nn_status.code == TR_SCHED_UNRESOLVABLE || fw_eligible_to_preempt (nom, nn, pod), pf, sizeof pf);
        out->outcome = FW_UNSCHEDULABLE;
        for (size_t i = 0; i < p->ninst; i++)
            if (rejected & (1ull << i))
                out->events |= events_of (&p->inst[i]);
        if (!out->events)
            out->events = TR_SCHED_EV_ALL;
        fw_fit_error (out->message, sizeof out->message, n, st, n, NULL, pf);
        goto done;
    }

    /* PreScore, Score, NormalizeScore, weights */
    size_t chosen = 0;
    if (nfeasible > 1) {
        memset (skip, 0, sizeof skip);
        for (size_t k = 0; k < p->norder[4]; k++) {
            inst_t *in = &p->inst[p->order[4][k]];
            tr_sched_status_t s = hot_ok && in->hot && in->hot->pre_score
                                      ? in->hot->pre_score (in->self, csp, pod, feasible, feasible_hot, nfeasible)
                                      : in->p->pre_score (in->self, csp, pod, feasible, nfeasible);
            if (s.code == TR_SCHED_SKIP)
                skip[p->order[4][k]] = 1;
            else if (s.code != TR_SCHED_SUCCESS) {
                fail (out, FW_ERROR, "running PreScore plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
                goto done;
            }
        }
        if (scratch_scores (p, nfeasible)) {
            fail (out, FW_ERROR, "out of memory");
            goto done;
        }
        totals = p->sc_totals;
        scores = p->sc_scores;
        memset (totals, 0, nfeasible * sizeof *totals);
        for (size_t k = 0; k < p->norder[5]; k++) {
            uint8_t ii = p->order[5][k];
            if (skip[ii])
                continue;
            inst_t *in = &p->inst[ii];
            tr_sched_status_t s = score_all (p, in, csp, pod, feasible, hot_ok ? feasible_hot : NULL, nfeasible, scores);
            if (s.code != TR_SCHED_SUCCESS) {
                fail (out, FW_ERROR, "running Score plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
                goto done;
            }
            if (in->p->normalize_score) {
                tr_sched_status_t s = in->p->normalize_score (in->self, csp, pod, scores, nfeasible);
                if (s.code != TR_SCHED_SUCCESS) {
                    fail (out, FW_ERROR, "running NormalizeScore plugin \"%s\": %s", in->p->name,
                          s.reason ? s.reason : "error");
                    goto done;
                }
            }
            for (size_t i = 0; i < nfeasible; i++)
                totals[i] += scores[i] * in->weight;
        }
        /* selectHost: the highest total, one of its ties uniformly at random. Kubernetes draws
         * for each tie as it meets it (reservoir sampling); the same choice from one draw: on
         * balanced nodes every feasible node ties, 500 draws with a division each (a small
         * part of the cycle: bench_sched_cycle moved within its noise). */
        int64_t best = totals[0];
        size_t cnt = 1;
        for (size_t i = 1; i < nfeasible; i++) {
            if (totals[i] > best) {
                best = totals[i];
                chosen = i;
                cnt = 1;
            } else
                cnt += totals[i] == best;
        }
        if (cnt > 1)
            for (size_t i = chosen, k = rnd (p) % cnt;; i++)
                if (totals[i] == best && !k--) {
                    chosen = i;
                    break;
                }
    }
    const char *node = feasible[chosen]->name;
    tr_strlcpy (out->node, node, sizeof out->node);

    /* assume, Reserve, Permit, PreBind, Bind */
    if (env->assume && env->assume (env->arg, pod, node)) {
        fail (out, FW_ERROR, "assuming pod on node %s failed", node);
        goto done;
    }
    for (size_t k = 0; k < p->norder[6]; k++) {
        inst_t *in = &p->inst[p->order[6][k]];
        if (!in->p->reserve)
            continue;
        tr_sched_status_t s = in->p->reserve (in->self, csp, pod, node);
        if (s.code != TR_SCHED_SUCCESS) {
            fail (out, FW_ERROR, "running Reserve plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
            goto undo;
        }
    }
    waiter_t *w = NULL;
    for (size_t k = 0; k < p->norder[7]; k++) {
        uint8_t ii = p->order[7][k];
        inst_t *in = &p->inst[ii];
        int64_t wait = 0;
        tr_sched_status_t s = in->p->permit (in->self, csp, pod, node, &wait);
        if (s.code == TR_SCHED_SUCCESS)
            continue;
        if (s.code == TR_SCHED_WAIT) {
            /* held: the pod stays assumed and reserved until every waiting plugin allows it, one
             * rejects it, or a wait runs out (capped at 15 minutes, as Kubernetes) */
            if (!w && !(w = calloc (1, sizeof *w))) {
                fail (out, FW_ERROR, "out of memory");
                goto undo;
            }
            if (wait < 0)
                wait = 0;
            if (wait > PERMIT_MAX_WAIT_MS)
                wait = PERMIT_MAX_WAIT_MS;
            w->pend[w->npend].inst = ii;
            w->pend[w->npend].wait_ms = wait;
            w->pend[w->npend++].deadline = p->now (p->now_arg) + wait;
            continue;
        }
        free (w);
        w = NULL;
        if (s.code == TR_SCHED_UNSCHEDULABLE || s.code == TR_SCHED_UNRESOLVABLE) {
            fail (out, FW_UNSCHEDULABLE, "pod rejected by Permit plugin \"%s\": %s", in->p->name,
                  s.reason ? s.reason : "rejected");
            out->events = events_of (in);
        } else
            fail (out, FW_ERROR, "running Permit plugin \"%s\": %s", in->p->name, s.reason ? s.reason : "error");
        goto undo;
    }
    if (w) {
        if (p->nwait == p->capwait) {
            size_t cap = p->capwait ? 2 * p->capwait : 8;
            waiter_t **nw = realloc (p->wait, cap * sizeof *nw);
            if (!nw) {
                free (w);
                fail (out, FW_ERROR, "out of memory");
                goto undo;
            }
            p->wait = nw;
            p->capwait = cap;
        }
        if (!(w->pod = snap_pod_new (pod->obj))) {
            free (w);
            fail (out, FW_ERROR, "out of memory");
            goto undo;
        }
        w->pod->created_ms = pod->created_ms;
        w->reject_inst = -1;
        tr_strlcpy (w->node, node, sizeof w->node);
        csp->out = NULL; /* the caller's result: not this pod's once it waits */
        w->cs = csp;     /* kept for PreBind and Bind */
        csp = NULL;
        p->wait[p->nwait++] = w;
        out->outcome = FW_WAITING;
        goto done;
    }
    if (bind_phase (p, csp, pod, node, out))
        goto undo;
    out->outcome = FW_SCHEDULED;
    goto done;
undo:
    run_unreserve (p, csp, pod, node);
    if (env->forget)
        env->forget (env->arg, pod);
done:
    if (csp) {
        cs_clear (csp);
        free (csp);
    }
}

/* ---- Permit's waiting pods, finished --------------------------------------------------------- */

/* Go's time.Duration.String for whole milliseconds: "500ms", "10s", "1.5s", "2m30s". */
static void
go_duration (int64_t ms, char *out, size_t len)
{
    if (ms < 1000) {
        snprintf (out, len, ms ? "%lldms" : "0s", (long long) ms);
        return;
    }
    int64_t m = ms / 60000, rest = ms % 60000;
    char sec[32];
    if (rest % 1000)
        snprintf (sec, sizeof sec, "%lld.%03lld", (long long) (rest / 1000), (long long) (rest % 1000));
    else
        snprintf (sec, sizeof sec, "%lld", (long long) (rest / 1000));
    if (strchr (sec, '.'))
        for (size_t l = strlen (sec); sec[l - 1] == '0'; l--)
            sec[l - 1] = 0;
    if (m >= 60)
        snprintf (out, len, "%lldh%lldm%ss", (long long) (m / 60), (long long) (m % 60), sec);
    else if (m)
        snprintf (out, len, "%lldm%ss", (long long) m, sec);
    else
        snprintf (out, len, "%ss", sec);
}

size_t
fw_waiting_poll (fw_profile_t *p, const fw_env_t *env, fw_done_t *out, size_t max)
{
    size_t n = 0;
    int64_t now = p->now (p->now_arg);
    for (size_t i = 0; i < p->nwait && n < max;) {
        waiter_t *w = p->wait[i];
        /* a wait that ran out rejects the pod (the first plugin whose time is up) */
        for (size_t k = 0; !w->rejected && k < w->npend; k++)
            if (now >= w->pend[k].deadline) {
                char d[48];
                go_duration (w->pend[k].wait_ms, d, sizeof d);
                w->rejected = 2;
                w->reject_inst = w->pend[k].inst;
                snprintf (w->msg, sizeof w->msg, "rejected due to timeout after waiting %s at plugin %s", d,
                          p->inst[w->pend[k].inst].p->name);
            }
        if (!w->rejected && w->npend) {
            i++;
            continue;
        }
        p->wait[i] = p->wait[--p->nwait]; /* out of the map before its plugins run again */
        fw_done_t *d = &out[n++];
        memset (d, 0, sizeof *d);
        tr_strlcpy (d->uid, w->pod->uid, sizeof d->uid);
        tr_strlcpy (d->r.node, w->node, sizeof d->r.node);
        w->cs->env = env;
        if (w->rejected || bind_phase (p, w->cs, w->pod, w->node, &d->r)) {
            if (w->rejected) {
                d->r.outcome = FW_UNSCHEDULABLE;
                snprintf (d->r.message, sizeof d->r.message, "%s", w->msg);
                d->r.events = w->reject_inst >= 0 ? events_of (&p->inst[w->reject_inst]) : TR_SCHED_EV_ALL;
            }
            run_unreserve (p, w->cs, w->pod, w->node);
            if (env->forget)
                env->forget (env->arg, w->pod);
        }
        waiter_free (w);
    }
    return n;
}

int64_t
fw_waiting_next_ms (const fw_profile_t *p)
{
    int64_t best = -1, now = p->nwait ? p->now (p->now_arg) : 0;
    for (size_t i = 0; i < p->nwait; i++) {
        const waiter_t *w = p->wait[i];
        if (w->rejected || !w->npend)
            return 0;
        for (size_t k = 0; k < w->npend; k++) {
            int64_t d = w->pend[k].deadline - now;
            if (d < 0)
                d = 0;
            if (best < 0 || d < best)
                best = d;
        }
    }
    return best;
}

int
fw_waiting_reject (fw_profile_t *p, const char *uid, const char *message)
{
    waiter_t *w = waiter_of (p, uid);
    if (!w || w->rejected)
        return -1;
    w->rejected = 1;
    w->reject_inst = -1;
    snprintf (w->msg, sizeof w->msg, "%s", message ? message : "rejected");
    return 0;
}

int
fw_waiting_has (const fw_profile_t *p, const char *uid)
{
    return waiter_of (p, uid) != NULL;
}

size_t
fw_waiting_count (const fw_profile_t *p)
{
    return p->nwait;
}
