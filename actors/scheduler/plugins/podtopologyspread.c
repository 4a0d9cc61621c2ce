/* PodTopologySpread — spec.topologySpreadConstraints with the semantics of Kubernetes'
 * pkg/scheduler/framework/plugins/podtopologyspread.
 *
 * Constraints: maxSkew, topologyKey, whenUnsatisfiable (DoNotSchedule filters, ScheduleAnyway
 * scores), labelSelector (+ matchLabelKeys: the pod's own values of those keys ANDed in),
 * minDomains (DoNotSchedule only; fewer eligible domains than minDomains make the global
 * minimum 0), nodeAffinityPolicy (Honor: only nodes matching the pod's nodeSelector and
 * required node affinity count) and nodeTaintsPolicy (Ignore by default; Honor: only nodes
 * whose NoSchedule/NoExecute taints the pod tolerates count).
 *
 * A pod without constraints gets the default ones (args defaultingType System: hostname maxSkew
 * 3 and topology.kubernetes.io/zone maxSkew 5, ScheduleAnyway; or List with defaultConstraints)
 * with Kubernetes' DefaultSelector, asked of the host (host->default_selector, ABI 1.1; the
 * scheduler actor answers from its Service and ReplicaSet informers, actors/scheduler/defaultsel.h):
 * the selectors of the Services of the pod's namespace selecting it, and of its controller
 * (ReplicationController, ReplicaSet, StatefulSet, looked up by name), ANDed; no default
 * constraints when that selector is empty. Under a host without the call (older host, or one
 * without listers), a pod whose controller is a ReplicaSet, ReplicationController or
 * StatefulSet gets its own labels as the selector (the template's labels, a superset of the
 * owner's selector) and Services are not consulted (docs/decisions.md).
 *
 * PreFilter counts matching pods (same namespace, not terminating) per domain on every node
 * that has all the constraints' keys and passes the inclusion policies; Filter is a hash
 * lookup per constraint: count + self-match - global minimum <= maxSkew.
 */
#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/sched_plugin.h"
#include "actors/scheduler/plugins/labelmatch.h"
#include "actors/scheduler/plugins/sigcache.h"
#include "actors/scheduler/plugins/tpcount.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PTS_NAME "PodTopologySpread"
#define PTS_PREFILTER_KEY "PreFilterPodTopologySpread"
#define PTS_PRESCORE_KEY "PreScorePodTopologySpread"
#define HOSTNAME_KEY "kubernetes.io/hostname"
#define ZONE_KEY "topology.kubernetes.io/zone"

#define ERR_NOT_MATCH "node(s) didn't match pod topology spread constraints"
#define ERR_MISSING_LABEL "node(s) didn't match pod topology spread constraints (missing required label)"

typedef struct pentry pentry_t;

typedef struct {
    const tr_sched_host_t *host;
    int system_defaulted;   /* defaultingType System */
    json_t *defaults;       /* the default constraints (array of TopologySpreadConstraint) */
    sigcache_t cache;       /* PreFilter's and PreScore's counts by pod signature */
} pts_t;

typedef struct {
    int64_t max_skew, min_domains;
    const char *key;        /* points into the pod or into self->defaults */
    nodelabels_key_t lkey;  /* key, hashed once for the nodes' labels */
    const char *ref;        /* key's ref in counts (NULL: no pair), resolved once counts are done */
    int hard;               /* DoNotSchedule */
    json_t *selector;       /* owned: labelSelector with matchLabelKeys merged; NULL matches nothing */
    int honor_affinity, honor_taints;
    int self_match;
    tpcount_t *counts;      /* (key, value) → matching pods in that domain */
    int64_t min;            /* global minimum over the eligible domains */
    size_t domains;
    double weight;          /* scoring: log(domains + 2) */
} constraint_t;

typedef struct {
    constraint_t *c;
    size_t n;
    /* scoring only */
    const tr_sched_node_t **ignored;
    size_t nignored;
    unsigned char *ignored_at; /* by index of the nodes given to pre_score */
    size_t nnodes;
    pentry_t *held;            /* counts belong to this cache entry */
    uint64_t version;          /* of held, when taken */
} cset_t;

static void
cset_free (void *p)
{
    cset_t *s = p;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        json_decref (s->c[i].selector);
        if (!s->held)
            tpcount_destroy (&s->c[i].counts);
    }
    if (s->held)
        sigcache_release ((sc_entry_t *) s->held); /* its first member */
    free (s->c);
    free (s->ignored);
    free (s->ignored_at);
    free (s);
}

/* ---- matching ---------------------------------------------------------------------------- */

static const char *
node_label (const tr_sched_node_t *node, const char *key)
{
    return fw_node_label (node, key);
}

static int
pod_terminating (const tr_sched_pod_t *p)
{
    if (p->size >= offsetof (tr_sched_pod_t, terminating) + sizeof p->terminating)
        return p->terminating; /* the snapshot read it once */
    const json_t *dt = json_object_get (json_object_get (p->obj, "metadata"), "deletionTimestamp");
    return dt && !json_is_null (dt);
}

static int64_t
count_matching (const pts_t *self, const constraint_t *c, const tr_sched_node_t *node, const char *ns)
{
    if (!c->selector)
        return 0;
    int64_t n = 0;
    for (uint32_t i = 0; i < node->npods; i++) {
        const tr_sched_pod_t *p = node->pods[i];
        if (pod_terminating (p) || strcmp (p->ns ? p->ns : "default", ns))
            continue;
        if (labelmatch (self->host, c->selector, p->labels))
            n++;
    }
    return n;
}

static int
toleration_matches (const json_t *tol, const json_t *taint)
{
    const char *tkey = json_string_value (json_object_get (taint, "key"));
    const char *tval = json_string_value (json_object_get (taint, "value"));
    const char *teff = json_string_value (json_object_get (taint, "effect"));
    const char *key = json_string_value (json_object_get (tol, "key"));
    const char *op = json_string_value (json_object_get (tol, "operator"));
    const char *val = json_string_value (json_object_get (tol, "value"));
    const char *eff = json_string_value (json_object_get (tol, "effect"));
    if (eff && *eff && (!teff || strcmp (eff, teff)))
        return 0;
    if (op && !strcmp (op, "Exists"))
        return !key || !*key || (tkey && !strcmp (key, tkey));
    return key && tkey && !strcmp (key, tkey) && !strcmp (val ? val : "", tval ? tval : "");
}

/* Every NoSchedule / NoExecute taint of the node is tolerated by the pod. */
static int
taints_tolerated (const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    const json_t *taints = json_object_get (json_object_get (node->obj, "spec"), "taints");
    const json_t *tols = json_object_get (json_object_get (pod->obj, "spec"), "tolerations");
    size_t i, j;
    const json_t *t, *tol;
    json_array_foreach (taints, i, t) {
        const char *eff = json_string_value (json_object_get (t, "effect"));
        if (!eff || (strcmp (eff, "NoSchedule") && strcmp (eff, "NoExecute")))
            continue;
        int ok = 0;
        json_array_foreach (tols, j, tol) {
            if (toleration_matches (tol, t)) {
                ok = 1;
                break;
            }
        }
        if (!ok)
            return 0;
    }
    return 1;
}

/* The pod's nodeSelector and required node affinity (Kubernetes' RequiredNodeAffinity). */
static int
node_affinity_ok (const pts_t *self, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    const json_t *spec = json_object_get (pod->obj, "spec");
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) json_object_get (spec, "nodeSelector"), k, v) {
        const char *have = node_label (node, k);
        if (!have || !json_is_string (v) || strcmp (have, json_string_value (v)))
            return 0;
    }
    const json_t *req = json_object_get (json_object_get (json_object_get (spec, "affinity"), "nodeAffinity"),
                                         "requiredDuringSchedulingIgnoredDuringExecution");
    const json_t *terms = json_object_get (req, "nodeSelectorTerms");
    if (req && !json_is_null (req))
        return self->host->node_selector_match (terms, node) == 1;
    return 1;
}

static int
inclusion_ok (const pts_t *self, const constraint_t *c, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    if (c->honor_affinity && !node_affinity_ok (self, pod, node))
        return 0;
    if (c->honor_taints && !taints_tolerated (pod, node))
        return 0;
    return 1;
}

static int
node_has_all_keys (const cset_t *s, const tr_sched_node_t *node)
{
    for (size_t i = 0; i < s->n; i++)
        if (!fw_node_label_h (node, &s->c[i].lkey))
            return 0;
    return 1;
}

/* ---- constraints ------------------------------------------------------------------------- */

/* Without the host's DefaultSelector: the pod's own labels when a ReplicaSet, StatefulSet or
 * ReplicationController controls it (see the top comment). */
static json_t *
owner_selector (const tr_sched_pod_t *pod)
{
    const json_t *refs = json_object_get (json_object_get (pod->obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;
    json_array_foreach (refs, i, r) {
        const char *kind = json_string_value (json_object_get (r, "kind"));
        if (!json_is_true (json_object_get (r, "controller")) || !kind)
            continue;
        if ((!strcmp (kind, "ReplicaSet") || !strcmp (kind, "StatefulSet") || !strcmp (kind, "ReplicationController")) &&
            json_object_size (pod->labels) > 0)
            return json_pack ("{s:O}", "matchLabels", pod->labels);
    }
    return NULL;
}

#define HOST_HAS_DEFAULT_SELECTOR(h)                                                                   \
    ((h)->size >= offsetof (tr_sched_host_t, default_selector) + sizeof (void *) && (h)->default_selector)

/* The selector of the default constraints for a pod without its own (a new reference), NULL when
 * it gets none: no default constraints, or nothing selects it. */
static json_t *
pts_default_selector (const pts_t *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    const json_t *own = json_object_get (json_object_get (pod->obj, "spec"), "topologySpreadConstraints");
    if (json_array_size (own) > 0 || json_array_size (self->defaults) == 0)
        return NULL;
    if (HOST_HAS_DEFAULT_SELECTOR (self->host)) {
        json_t *sel = NULL;
        if (self->host->default_selector (cs, pod, &sel) == 0)
            return sel;
        json_decref (sel);
    }
    return owner_selector (pod);
}

/* labelSelector with the pod's values of matchLabelKeys ANDed in. */
static json_t *
constraint_selector (const json_t *c, const tr_sched_pod_t *pod)
{
    const json_t *ls = json_object_get (c, "labelSelector");
    if (!ls || json_is_null (ls))
        return NULL;
    json_t *sel = json_deep_copy (ls);
    const json_t *keys = json_object_get (c, "matchLabelKeys");
    size_t i;
    const json_t *k;
    json_array_foreach (keys, i, k) {
        const char *v = json_string_value (json_object_get (pod->labels, json_string_value (k) ? json_string_value (k) : ""));
        if (!v)
            continue;
        json_t *me = json_object_get (sel, "matchExpressions");
        if (!json_is_array (me)) {
            me = json_array ();
            json_object_set_new (sel, "matchExpressions", me);
        }
        json_array_append_new (me, json_pack ("{s:O,s:s,s:[s]}", "key", k, "operator", "In", "values", v));
    }
    return sel;
}

static int
policy_honor (const json_t *c, const char *field, int dflt)
{
    const char *v = json_string_value (json_object_get (c, field));
    if (!v)
        return dflt;
    return !strcmp (v, "Honor");
}

/* The pod's constraints (or the defaults, with dsel: pts_default_selector) with whenUnsatisfiable
 * hard (1) or soft (0). */
static cset_t *
constraints_of (const pts_t *self, const tr_sched_pod_t *pod, int hard, const json_t *dsel, int *defaulted)
{
    const json_t *own = json_object_get (json_object_get (pod->obj, "spec"), "topologySpreadConstraints");
    const json_t *list = own;
    *defaulted = 0;
    if (json_array_size (own) == 0) {
        if (json_array_size (self->defaults) == 0 || !dsel)
            return NULL;
        list = self->defaults;
        *defaulted = 1;
    }
    cset_t *s = calloc (1, sizeof *s);
    s->c = calloc (json_array_size (list), sizeof *s->c);
    size_t i;
    const json_t *c;
    json_array_foreach (list, i, c) {
        const char *when = json_string_value (json_object_get (c, "whenUnsatisfiable"));
        int is_hard = !when || strcmp (when, "ScheduleAnyway");
        const char *key = json_string_value (json_object_get (c, "topologyKey"));
        if (is_hard != hard || !key)
            continue;
        constraint_t *k = &s->c[s->n++];
        k->key = key;
        k->lkey = nodelabels_key (key);
        k->hard = is_hard;
        k->max_skew = json_integer_value (json_object_get (c, "maxSkew"));
        if (k->max_skew < 1)
            k->max_skew = 1;
        k->min_domains = json_object_get (c, "minDomains") ? json_integer_value (json_object_get (c, "minDomains")) : 1;
        k->selector = *defaulted ? json_incref ((json_t *) dsel) : constraint_selector (c, pod);
        k->honor_affinity = policy_honor (c, "nodeAffinityPolicy", 1);
        k->honor_taints = policy_honor (c, "nodeTaintsPolicy", 0);
        k->self_match = k->selector && self->host->label_selector_match (k->selector, pod->labels) == 1;
        k->counts = tpcount_new ();
    }
    if (s->n == 0) {
        cset_free (s);
        return NULL;
    }
    return s;
}

/* ---- PreFilter / Filter ------------------------------------------------------------------ */

typedef struct {
    int64_t min;
    size_t n;
} minacc_t;

static void
min_each (void *arg, const char *key, const char *value, int64_t n)
{
    (void) key;
    (void) value;
    minacc_t *a = arg;
    if (a->n++ == 0 || n < a->min)
        a->min = n;
}

/* ---- PreFilter's cache: counts per pod signature, kept per node by generation ------------ */

/* Maps 2j: matching pods per domain of constraint j; 2j + 1: eligible nodes per domain. */
#define PTS_CACHE_MAX_CONSTRAINTS 8

struct pentry {
    sc_entry_t h;         /* first: the signature, the maps kept per node, refs, version */
    int hard, require_all;
    json_t *copy;         /* the pod object the constraints point into */
    tr_sched_pod_t pod;
    cset_t *cs;           /* the constraints (their own counts unused) */
};

static void
pentry_free (sc_entry_t *h)
{
    pentry_t *e = (pentry_t *) h;
    sc_entry_fini (h);
    cset_free (e->cs);
    json_decref (e->copy);
    free (e);
}

/* What the counts depend on besides the nodes: namespace, labels, constraints, the node
 * inclusion inputs (nodeSelector, node affinity, tolerations), the default selector (a Service
 * or an owner changed: another entry). */
static char *
pts_signature (const tr_sched_pod_t *pod, int hard, const json_t *dsel)
{
    const json_t *spec = json_object_get (pod->obj, "spec");
    json_t *sig = json_pack ("{s:b,s:s,s:O,s:O*,s:O*,s:O*,s:O*,s:O*}", "hard", hard, "ns", pod->ns ? pod->ns : "default", "labels",
                             pod->labels, "tsc", json_object_get (spec, "topologySpreadConstraints"), "sel",
                             json_object_get (spec, "nodeSelector"), "na",
                             json_object_get (json_object_get (spec, "affinity"), "nodeAffinity"), "tol",
                             json_object_get (spec, "tolerations"), "dsel", dsel);
    char *out = sig ? json_dumps (sig, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref (sig);
    return out;
}

typedef struct {
    const pts_t *self;
    const cset_t *s;
    const tr_sched_pod_t *pod;
    int hard;        /* PreFilter's shares; else PreScore's */
    int require_all; /* PreScore: nodes lacking a key count for nothing */
} pshare_arg_t;

/* A node's share: per constraint, its domain's matching pods and itself as an eligible node. */
static void
pts_node_share_arg (const pshare_arg_t *a, const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx)
{
    const char *ns = a->pod->ns ? a->pod->ns : "default";
    if (!a->hard) {
        /* PreScore: matching pods per domain. Kubernetes counts the hostname domain in Score,
         * on the node, inclusion policies aside: the same count, kept here by generation. */
        if (a->require_all && !node_has_all_keys (a->s, node))
            return;
        for (size_t j = 0; j < a->s->n; j++) {
            const constraint_t *c = &a->s->c[j];
            if (strcmp (c->key, HOSTNAME_KEY) && !inclusion_ok (a->self, c, a->pod, node))
                continue;
            const char *v = fw_node_label_h (node, &c->lkey);
            emit (ctx, (int) j, c->key, v ? v : "", count_matching (a->self, c, node, ns));
        }
        return;
    }
    if (!node_has_all_keys (a->s, node))
        return;
    for (size_t j = 0; j < a->s->n; j++) {
        const constraint_t *c = &a->s->c[j];
        if (!inclusion_ok (a->self, c, a->pod, node))
            continue;
        const char *v = fw_node_label_h (node, &c->lkey);
        emit (ctx, (int) (2 * j), c->key, v, count_matching (a->self, c, node, ns));
        emit (ctx, (int) (2 * j + 1), c->key, v, 1);
    }
}

static pentry_t *
pentry_new (const pts_t *self, const tr_sched_pod_t *pod, char *sig, int hard, const json_t *dsel)
{
    pentry_t *e = calloc (1, sizeof *e);
    if (!e) {
        free (sig);
        return NULL;
    }
    e->h.sig = sig;
    e->h.free_fn = pentry_free;
    e->copy = json_deep_copy (pod->obj);
    if (!e->copy) {
        pentry_free (&e->h);
        return NULL;
    }
    e->pod = *pod;
    e->pod.obj = e->copy;
    const json_t *meta = json_object_get (e->copy, "metadata");
    e->pod.labels = json_object_get (meta, "labels") ? json_object_get (meta, "labels") : pod->labels;
    e->pod.ns = json_string_value (json_object_get (meta, "namespace"));
    e->pod.name = e->pod.uid = NULL;
    int defaulted;
    e->hard = hard;
    e->cs = constraints_of (self, &e->pod, hard, dsel, &defaulted);
    e->require_all = !defaulted || !self->system_defaulted;
    if (!e->cs || e->cs->n > PTS_CACHE_MAX_CONSTRAINTS ||
        !(e->h.share = nodeshare_new ((int) ((hard ? 2 : 1) * e->cs->n)))) {
        pentry_free (&e->h);
        return NULL;
    }
    return e;
}

/* A node's share for a cache entry (arg: sigcache's sc_share_t, ctx the plugin). */
static void
pts_entry_share (void *argp, const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx)
{
    const sc_share_t *sa = argp;
    const pentry_t *e = (const pentry_t *) sa->entry;
    pshare_arg_t a = {sa->ctx, e->cs, &e->pod, e->hard, e->require_all};
    pts_node_share_arg (&a, node, emit, ctx);
}

typedef struct {
    const pts_t *self;
    const tr_sched_pod_t *pod;
    int hard;
    const json_t *dsel;
} make_arg_t;

static sc_entry_t *
make_entry (void *argp, char *sig)
{
    make_arg_t *m = argp;
    pentry_t *e = pentry_new (m->self, m->pod, sig, m->hard, m->dsel);
    return e ? &e->h : NULL;
}

/* The entry for the pod, brought up to the snapshot; NULL: compute without the cache. */
static pentry_t *
pts_cache_get (pts_t *self, const tr_sched_pod_t *pod, const tr_sched_snapshot_t *snap, int hard, const json_t *dsel)
{
    make_arg_t m = {self, pod, hard, dsel};
    return (pentry_t *) sigcache_get (&self->cache, pts_signature (pod, hard, dsel), make_entry, &m, snap,
                                      pts_entry_share, self);
}

typedef struct {
    const tpcount_t *counts;
    int64_t min;
    size_t n;
} dommin_t;

/* Over the domains with at least one eligible node: the least matching count. */
static void
dommin_each (void *arg, const char *key, const char *value, int64_t nodes)
{
    dommin_t *a = arg;
    if (nodes <= 0)
        return;
    int64_t n = tpcount_get (a->counts, key, value, NULL);
    if (a->n++ == 0 || n < a->min)
        a->min = n;
}

static tr_sched_status_t
pts_pre_filter (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    pts_t *self = selfp;
    int defaulted;
    json_t *dsel = pts_default_selector (self, cs, pod);
    cset_t *s = constraints_of (self, pod, 1, dsel, &defaulted);
    if (!s) {
        json_decref (dsel);
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    }
    const tr_sched_snapshot_t *snap = self->host->snapshot (cs);
    pentry_t *e = pts_cache_get (self, pod, snap, 1, dsel);
    json_decref (dsel);
    if (e && e->cs->n == s->n) {
        sigcache_hold (&e->h);
        s->held = e;
        s->version = e->h.version;
        for (size_t j = 0; j < s->n; j++) {
            tpcount_destroy (&s->c[j].counts);
            s->c[j].counts = (tpcount_t *) nodeshare_map (e->h.share, (int) (2 * j));
            dommin_t a = {s->c[j].counts, 0, 0};
            tpcount_each (nodeshare_map (e->h.share, (int) (2 * j + 1)), dommin_each, &a);
            s->c[j].min = a.min;
            s->c[j].domains = a.n;
            s->c[j].ref = tpcount_key_ref (s->c[j].counts, s->c[j].key);
        }
        self->host->write (cs, PTS_PREFILTER_KEY, s, cset_free);
        return TR_SCHED_OK;
    }
    const char *ns = pod->ns ? pod->ns : "default";
    for (uint32_t i = 0; i < snap->nnodes; i++) {
        const tr_sched_node_t *node = snap->nodes[i];
        if (!node_has_all_keys (s, node))
            continue;
        for (size_t j = 0; j < s->n; j++) {
            constraint_t *c = &s->c[j];
            if (!inclusion_ok (self, c, pod, node))
                continue;
            tpcount_add (c->counts, c->key, fw_node_label_h (node, &c->lkey), count_matching (self, c, node, ns));
        }
    }
    for (size_t j = 0; j < s->n; j++) {
        minacc_t a = {0, 0};
        tpcount_each (s->c[j].counts, min_each, &a);
        s->c[j].min = a.min;
        s->c[j].domains = a.n;
        s->c[j].ref = tpcount_key_ref (s->c[j].counts, s->c[j].key);
    }
    self->host->write (cs, PTS_PREFILTER_KEY, s, cset_free);
    return TR_SCHED_OK;
}

static tr_sched_status_t
pts_filter (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    pts_t *self = selfp;
    (void) pod;
    const cset_t *s = self->host->read (cs, PTS_PREFILTER_KEY);
    if (!s)
        return TR_SCHED_OK;
    if (s->held && s->version != s->held->h.version)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "PodTopologySpread: Filter after the next pod's PreFilter"};
    for (size_t i = 0; i < s->n; i++) {
        const constraint_t *c = &s->c[i];
        const char *v = fw_node_label_h (node, &c->lkey);
        if (!v)
            return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, ERR_MISSING_LABEL};
        int64_t min = (int64_t) c->domains < c->min_domains ? 0 : c->min;
        int64_t skew = (c->ref ? tpcount_get_ref (c->counts, c->ref, v, NULL) : 0) + c->self_match - min;
        if (skew > c->max_skew)
            return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, ERR_NOT_MATCH};
    }
    return TR_SCHED_OK;
}

/* ---- PreScore / Score / NormalizeScore --------------------------------------------------- */

static int
cmp_ptr (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const void *const *) a, y = (uintptr_t) * (const void *const *) b;
    return x < y ? -1 : x > y;
}

static int
is_ignored (const cset_t *s, const tr_sched_node_t *node)
{
    return s->nignored && bsearch (&node, s->ignored, s->nignored, sizeof *s->ignored, cmp_ptr) != NULL;
}

/* PreScore without the cache: straight into the constraints' counts. */
static void
emit_into_cset (void *ctx, int map, const char *key, const char *value, int64_t n)
{
    cset_t *s = ctx;
    tpcount_add (s->c[map].counts, key, value, n);
}

static tr_sched_status_t
pts_pre_score (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
               size_t n)
{
    pts_t *self = selfp;
    int defaulted;
    if (n == 0)
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    json_t *dsel = pts_default_selector (self, cs, pod);
    cset_t *s = constraints_of (self, pod, 0, dsel, &defaulted);
    if (!s) {
        json_decref (dsel);
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    }
    int require_all = !defaulted || !self->system_defaulted;
    s->ignored = calloc (n, sizeof *s->ignored);
    s->ignored_at = calloc (n, 1);
    s->nnodes = n;
    /* the domains of the candidate nodes; hostname is counted per node in Score */
    for (size_t i = 0; i < n; i++) {
        if (require_all && !node_has_all_keys (s, nodes[i])) {
            s->ignored[s->nignored++] = nodes[i];
            s->ignored_at[i] = 1;
            continue;
        }
        for (size_t j = 0; j < s->n; j++) {
            constraint_t *c = &s->c[j];
            if (strcmp (c->key, HOSTNAME_KEY)) {
                /* c->counts holds the candidates' domains for now (the counts come below) */
                const char *v = fw_node_label_h (nodes[i], &c->lkey);
                int found;
                tpcount_get (c->counts, c->key, v ? v : "", &found);
                if (!found) {
                    tpcount_add (c->counts, c->key, v ? v : "", 0);
                    c->domains++;
                }
            }
        }
    }
    for (size_t j = 0; j < s->n; j++) {
        constraint_t *c = &s->c[j];
        size_t size = strcmp (c->key, HOSTNAME_KEY) ? c->domains : n - s->nignored;
        c->weight = log ((double) size + 2);
    }
    /* matching pods per domain over every node (only the candidates' domains are read) */
    const tr_sched_snapshot_t *snap = self->host->snapshot (cs);
    pentry_t *e = pts_cache_get (self, pod, snap, 0, dsel);
    json_decref (dsel);
    if (e && e->cs->n == s->n) {
        sigcache_hold (&e->h);
        s->held = e;
        s->version = e->h.version;
        for (size_t j = 0; j < s->n; j++) {
            tpcount_destroy (&s->c[j].counts);
            s->c[j].counts = (tpcount_t *) nodeshare_map (e->h.share, (int) j);
        }
    } else {
        pshare_arg_t arg = {self, s, pod, 0, require_all};
        for (uint32_t i = 0; i < snap->nnodes; i++)
            pts_node_share_arg (&arg, snap->nodes[i], emit_into_cset, s);
    }
    if (s->nignored > 1)
        qsort (s->ignored, s->nignored, sizeof *s->ignored, cmp_ptr);
    for (size_t j = 0; j < s->n; j++)
        s->c[j].ref = tpcount_key_ref (s->c[j].counts, s->c[j].key);
    self->host->write (cs, PTS_PRESCORE_KEY, s, cset_free);
    return TR_SCHED_OK;
}

static tr_sched_status_t
pts_score (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *score)
{
    pts_t *self = selfp;
    (void) pod;
    *score = 0;
    const cset_t *s = self->host->read (cs, PTS_PRESCORE_KEY);
    if (!s || is_ignored (s, node))
        return TR_SCHED_OK;
    if (s->held && s->version != s->held->h.version)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "PodTopologySpread: Score after the next pod's PreScore"};
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        const constraint_t *c = &s->c[i];
        const char *v = fw_node_label_h (node, &c->lkey);
        if (!v)
            continue;
        int64_t cnt = c->ref ? tpcount_get_ref (c->counts, c->ref, v, NULL) : 0;
        sum += (double) cnt * c->weight + (double) (c->max_skew - 1);
    }
    *score = (int64_t) llround (sum);
    return TR_SCHED_OK;
}

static tr_sched_status_t
pts_normalize (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, int64_t *scores, size_t n)
{
    pts_t *self = selfp;
    (void) pod;
    const cset_t *s = self->host->read (cs, PTS_PRESCORE_KEY);
    if (!s)
        return TR_SCHED_OK;
    int64_t mn = INT64_MAX, mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (i < s->nnodes && s->ignored_at[i])
            continue;
        if (scores[i] < mn)
            mn = scores[i];
        if (scores[i] > mx)
            mx = scores[i];
    }
    /* fewer matching pods around a node is better: invert into 0..100 */
    for (size_t i = 0; i < n; i++) {
        if (i < s->nnodes && s->ignored_at[i])
            scores[i] = 0;
        else if (mx == 0)
            scores[i] = 100;
        else
            scores[i] = 100 * (mx + mn - scores[i]) / mx;
    }
    return TR_SCHED_OK;
}

/* ---- init -------------------------------------------------------------------------------- */

static void *
pts_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    pts_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->host = host;
    const char *dt = json_string_value (json_object_get (args, "defaultingType"));
    const json_t *dc = json_object_get (args, "defaultConstraints");
    if (dt && strcmp (dt, "System") && strcmp (dt, "List")) {
        snprintf (err, errlen, "PodTopologySpread: defaultingType: must be System or List, not \"%s\"", dt);
        free (self);
        return NULL;
    }
    self->system_defaulted = !dt || !strcmp (dt, "System");
    if (self->system_defaulted) {
        if (json_array_size (dc) > 0) {
            snprintf (err, errlen, "PodTopologySpread: defaultConstraints: must be empty with defaultingType System");
            free (self);
            return NULL;
        }
        self->defaults = json_pack ("[{s:i,s:s,s:s},{s:i,s:s,s:s}]", "maxSkew", 3, "topologyKey", HOSTNAME_KEY,
                                    "whenUnsatisfiable", "ScheduleAnyway", "maxSkew", 5, "topologyKey", ZONE_KEY,
                                    "whenUnsatisfiable", "ScheduleAnyway");
    } else {
        size_t i;
        const json_t *c;
        json_array_foreach (dc, i, c) {
            if (json_integer_value (json_object_get (c, "maxSkew")) < 1 ||
                !json_string_value (json_object_get (c, "topologyKey")) || json_object_get (c, "labelSelector")) {
                snprintf (err, errlen,
                          "PodTopologySpread: defaultConstraints[%zu]: needs maxSkew >= 1 and a topologyKey, "
                          "and no labelSelector", i);
                free (self);
                return NULL;
            }
        }
        self->defaults = dc ? json_deep_copy (dc) : json_array ();
    }
    return self;
}

static void
pts_destroy (void *selfp)
{
    pts_t *self = selfp;
    if (!self)
        return;
    sigcache_clear (&self->cache);
    json_decref (self->defaults);
    free (self);
}

static const tr_sched_plugin_t pts_plugin = {
    TR_SCHED_PLUGIN_HEADER (PTS_NAME),
    .init = pts_init,
    .destroy = pts_destroy,
    .pre_filter = pts_pre_filter,
    .filter = pts_filter,
    .pre_score = pts_pre_score,
    .score = pts_score,
    .normalize_score = pts_normalize,
    .events = TR_SCHED_EV_POD_ADD | TR_SCHED_EV_POD_DELETE | TR_SCHED_EV_POD_LABEL | TR_SCHED_EV_NODE_ADD |
              TR_SCHED_EV_NODE_DELETE | TR_SCHED_EV_NODE_LABEL | TR_SCHED_EV_NODE_TAINT,
};

const tr_sched_plugin_t *
sched_plugin_podtopologyspread (void)
{
    return &pts_plugin;
}
