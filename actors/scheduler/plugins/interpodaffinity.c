/* InterPodAffinity — required and preferred pod affinity / anti-affinity by topologyKey, with
 * the semantics of Kubernetes' pkg/scheduler/framework/plugins/interpodaffinity.
 *
 * PreFilter scans the snapshot once and counts, per topology pair (key=value):
 *   existing_anti — existing pods' required anti-affinity terms the incoming pod matches
 *                   (symmetry), over the nodes holding pods with affinity only;
 *   affinity      — existing pods matching ALL the incoming pod's required affinity terms;
 *   anti          — existing pods matching one of its required anti-affinity terms.
 * Filter is then a few hash lookups per node (its topology values), never a scan of pods.
 * PreScore does the same for preferred terms (and existing pods' required affinity terms at
 * hardPodAffinityWeight), Score sums the node's pairs, NormalizeScore is min-max to 0..100.
 *
 * Namespaces of a term: `namespaces` plus the owner pod's namespace when both `namespaces` and
 * `namespaceSelector` are empty; `namespaceSelector: {}` is every namespace; a non-empty one
 * matches the namespaces whose labels (host->namespace_labels; an unknown namespace has none) it
 * selects. Under a host without namespace_labels (older than that call) it is taken as the owner
 * pod's own namespace (docs/decisions.md).
 */
#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/sched_plugin.h"
#include "actors/scheduler/plugins/labelmatch.h"
#include "actors/scheduler/plugins/objcache.h"
#include "actors/scheduler/plugins/sigcache.h"
#include "actors/scheduler/plugins/tpcount.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IPA_NAME "InterPodAffinity"
#define IPA_PREFILTER_KEY "PreFilterInterPodAffinity"
#define IPA_PRESCORE_KEY "PreScoreInterPodAffinity"

#define ERR_AFFINITY "node(s) didn't match pod affinity rules"
#define ERR_ANTI_AFFINITY "node(s) didn't match pod anti-affinity rules"
#define ERR_EXISTING_ANTI "node(s) didn't satisfy existing pods anti-affinity rules"

typedef struct centry centry_t;

typedef struct {
    const tr_sched_host_t *host;
    int64_t hard_weight;    /* hardPodAffinityWeight, default 1 */
    int ignore_existing;    /* ignorePreferredTermsOfExistingPods */
    sigcache_t cache; /* PreFilter's and PreScore's counts by term set */
    tr_sched_cycle_t *cs;   /* the cycle of the PreFilter / PreScore running (namespace labels) */
    json_t *no_labels;      /* {}: an unknown namespace's labels */
    objcache_t *pod_terms;  /* existing pods' terms (pod_terms_t) by their spec.affinity object */
} ipa_t;

/* One PodAffinityTerm as read from a pod (pointers into the pod object). */
typedef struct {
    const json_t *selector, *namespaces, *ns_selector;
    const char *owner_ns, *topology_key;
    nodelabels_key_t lkey; /* topology_key, hashed once: looked up on every node */
    int simple;           /* selector is matchLabels alone (labelmatch_simple): match_labels */
    const json_t *match_labels;
    int64_t weight;
} term_t;

typedef struct {
    term_t *v;
    size_t n;
} terms_t;

/* ---- terms ------------------------------------------------------------------------------- */

static const json_t *
affinity_list (const json_t *pod_obj, const char *kind, const char *when)
{
    const json_t *a = json_object_get (json_object_get (json_object_get (pod_obj, "spec"), "affinity"), kind);
    const json_t *l = json_object_get (a, when);
    return json_is_array (l) ? l : NULL;
}

static int
term_read (const json_t *t, const char *owner_ns, int64_t weight, term_t *out)
{
    const char *tk = json_string_value (json_object_get (t, "topologyKey"));
    if (!tk || !*tk)
        return -1;
    out->selector = json_object_get (t, "labelSelector");
    if (json_is_null (out->selector))
        out->selector = NULL;
    out->namespaces = json_object_get (t, "namespaces");
    out->ns_selector = json_object_get (t, "namespaceSelector");
    if (json_is_null (out->ns_selector))
        out->ns_selector = NULL;
    out->owner_ns = owner_ns ? owner_ns : "default";
    out->topology_key = tk;
    out->lkey = nodelabels_key (tk);
    out->simple = out->selector && labelmatch_simple (out->selector, &out->match_labels);
    out->weight = weight;
    return 0;
}

/* The terms of kind (podAffinity/podAntiAffinity), required or preferred (weighted), of the pod
 * object obj in namespace ns. */
static int
obj_terms (const json_t *obj, const char *ns, const char *kind, int preferred, terms_t *out)
{
    out->v = NULL;
    out->n = 0;
    const json_t *l = affinity_list (obj, kind, preferred ? "preferredDuringSchedulingIgnoredDuringExecution"
                                                                : "requiredDuringSchedulingIgnoredDuringExecution");
    if (!l || json_array_size (l) == 0)
        return 0;
    out->v = calloc (json_array_size (l), sizeof *out->v);
    if (!out->v)
        return -1;
    size_t i;
    const json_t *e;
    json_array_foreach (l, i, e) {
        const json_t *t = preferred ? json_object_get (e, "podAffinityTerm") : e;
        int64_t w = preferred ? json_integer_value (json_object_get (e, "weight")) : 1;
        if (term_read (t, ns, w, &out->v[out->n]) == 0)
            out->n++;
    }
    return 0;
}

/* The pod's terms of kind, required or preferred. */
static int
terms_of (const tr_sched_pod_t *pod, const char *kind, int preferred, terms_t *out)
{
    return obj_terms (pod->obj, pod->ns, kind, preferred, out);
}

static int
ns_selector_empty (const json_t *sel)
{
    return json_object_size (json_object_get (sel, "matchLabels")) == 0 &&
           json_array_size (json_object_get (sel, "matchExpressions")) == 0;
}

/* The labels of namespace ns; NULL: the host cannot tell (no namespace_labels call). */
static const json_t *
ns_labels (const ipa_t *self, const char *ns)
{
    const tr_sched_host_t *h = self->host;
    if (h->size < offsetof (tr_sched_host_t, namespace_labels) + sizeof h->namespace_labels || !h->namespace_labels ||
        !self->cs)
        return NULL;
    const json_t *l = h->namespace_labels (self->cs, ns);
    return l ? l : self->no_labels;
}

/* owner_ns: the namespace of the pod the term belongs to. */
static int
term_namespace_ok (const ipa_t *self, const term_t *t, const char *owner_ns, const char *ns)
{
    size_t i;
    const json_t *e;
    json_array_foreach (t->namespaces, i, e) {
        if (!strcmp (json_string_value (e) ? json_string_value (e) : "", ns))
            return 1;
    }
    if (t->ns_selector) {
        if (ns_selector_empty (t->ns_selector))
            return 1;
        const json_t *l = ns_labels (self, ns);
        if (!l)
            return !strcmp (owner_ns, ns); /* an older host: no Namespace labels (docs/decisions.md) */
        return labelmatch (self->host, t->ns_selector, l);
    }
    return json_array_size (t->namespaces) == 0 && !strcmp (owner_ns, ns);
}

/* Whether the term, of a pod in namespace owner_ns, selects pod. */
static int
term_matches_of (const ipa_t *self, const term_t *t, const char *owner_ns, const tr_sched_pod_t *pod)
{
    if (!term_namespace_ok (self, t, owner_ns, pod->ns ? pod->ns : "default"))
        return 0;
    if (!t->selector)
        return 0; /* a nil labelSelector matches no pod */
    if (t->simple)
        return labelmatch_ml (t->match_labels, pod->labels); /* what labelmatch does, read once */
    return labelmatch (self->host, t->selector, pod->labels);
}

static int
term_matches (const ipa_t *self, const term_t *t, const tr_sched_pod_t *pod)
{
    return term_matches_of (self, t, t->owner_ns, pod);
}

static int
matches_all (const ipa_t *self, const terms_t *ts, const tr_sched_pod_t *pod)
{
    if (ts->n == 0)
        return 0;
    for (size_t i = 0; i < ts->n; i++)
        if (!term_matches (self, &ts->v[i], pod))
            return 0;
    return 1;
}

/* An existing pod's terms, read once per spec.affinity object (objcache) rather than from its JSON each
 * time a changed node's pods are walked: the required anti-affinity terms (symmetry, PreFilter)
 * and the required affinity and preferred terms (PreScore). They depend on the object alone:
 * their owner_ns is not set, the user passes the pod's namespace (owner_of). */
typedef struct {
    terms_t req_aff, req_anti, pref_aff, pref_anti;
} pod_terms_t;

/* The namespace of an existing pod's terms, as term_read gives it. */
static const char *
owner_of (const tr_sched_pod_t *ex)
{
    return ex->ns ? ex->ns : "default";
}

static void
pod_terms_free (void *p)
{
    pod_terms_t *pt = p;
    if (!pt)
        return;
    free (pt->req_aff.v);
    free (pt->req_anti.v);
    free (pt->pref_aff.v);
    free (pt->pref_anti.v);
    free (pt);
}

/* The terms of existing pod ex: from the cache, else read (and kept); read into *tmp (released
 * by pod_terms_done) when the cache cannot keep them. Valid until the next call. */
static const pod_terms_t *
pod_terms (const ipa_t *self, const tr_sched_pod_t *ex, pod_terms_t *tmp)
{
    /* the terms are spec.affinity's alone: kept by that object, which a pod's next version
     * shares when it did not change (the informer decodes with tv_decode_like), so a status
     * update or a binding does not read them again; no pod (anti-)affinity, nothing to read */
    static const pod_terms_t none;
    const json_t *aff = json_object_get (json_object_get (ex->obj, "spec"), "affinity");
    if (!json_object_get (aff, "podAffinity") && !json_object_get (aff, "podAntiAffinity"))
        return &none;
    pod_terms_t *pt = objcache_get (self->pod_terms, aff);
    if (pt)
        return pt;
    int ok = (pt = calloc (1, sizeof *pt)) && obj_terms (ex->obj, NULL, "podAffinity", 0, &pt->req_aff) == 0 &&
             obj_terms (ex->obj, NULL, "podAntiAffinity", 0, &pt->req_anti) == 0 &&
             obj_terms (ex->obj, NULL, "podAffinity", 1, &pt->pref_aff) == 0 &&
             obj_terms (ex->obj, NULL, "podAntiAffinity", 1, &pt->pref_anti) == 0;
    if (ok) {
        if (objcache_put (self->pod_terms, aff, pt) == 0)
            return pt;
        pt = NULL; /* freed by objcache_put */
    }
    pod_terms_free (pt);
    /* out of memory: read for this once (a list that cannot be allocated stays empty) */
    memset (tmp, 0, sizeof *tmp);
    obj_terms (ex->obj, ex->ns, "podAffinity", 0, &tmp->req_aff);
    obj_terms (ex->obj, ex->ns, "podAntiAffinity", 0, &tmp->req_anti);
    obj_terms (ex->obj, ex->ns, "podAffinity", 1, &tmp->pref_aff);
    obj_terms (ex->obj, ex->ns, "podAntiAffinity", 1, &tmp->pref_anti);
    return tmp;
}

static void
pod_terms_done (const pod_terms_t *pt, pod_terms_t *tmp)
{
    if (pt == tmp) {
        free (tmp->req_aff.v);
        free (tmp->req_anti.v);
        free (tmp->pref_aff.v);
        free (tmp->pref_anti.v);
    }
}

/* The node's value of the term's topology key. */
static const char *
node_label (const tr_sched_node_t *node, const term_t *t)
{
    return fw_node_label_h (node, &t->lkey);
}

/* ---- PreFilter: the counts, cached per term set and kept per node by generation --------- */

/* What the pod's required terms make of the cluster: three maps of topology-pair counts. */
enum { MAP_EXISTING_ANTI = 0, MAP_AFFINITY, MAP_ANTI, NMAPS };

/* A cache entry: the sums for one (namespace, labels, required terms) — every replica of a
 * Deployment shares it. Node shares are recomputed only for nodes whose generation (or struct)
 * changed since the entry last saw them, so a PreFilter costs O(nodes) comparisons plus the pods
 * of the nodes that changed (typically the one the previous pod was assumed on), not a walk of
 * every pod of the cluster. */
struct centry {
    sc_entry_t h;        /* first: the signature, the three maps kept per node, refs, version */
    int scoring;         /* PreScore's entry (preferred terms, one map) or PreFilter's */
    json_t *copy;        /* the pod fields the terms point into */
    tr_sched_pod_t pod;  /* the pod as far as the terms go: ns, labels, obj = copy */
    terms_t aff, anti;   /* required terms (PreFilter) or preferred ones (PreScore) */
    int self_match;
};

/* The topology keys a Filter or Score looks up on every node (a map's own strings, each hashed
 * once for the node's labels), so it reads the node's value of each (usually one:
 * kubernetes.io/hostname) instead of every label of the node; all: too many to list, walk the
 * labels. */
#define KEYSET_MAX 8
typedef struct {
    const char *keys[KEYSET_MAX];
    nodelabels_key_t lkeys[KEYSET_MAX];
    int n, all;
} keyset_t;

/* Fills ks from its keys, nk of them listed (tpcount_keys / tpcount_positive_keys into ks->keys). */
static void
keyset_index (keyset_t *ks, size_t nk)
{
    if (nk > KEYSET_MAX) {
        ks->all = 1;
        return;
    }
    ks->n = (int) nk;
    for (size_t i = 0; i < nk; i++)
        ks->lkeys[i] = nodelabels_key (ks->keys[i]);
}

typedef struct {
    tpcount_t *maps[NMAPS];
    terms_t aff_terms, anti_terms;
    int self_match; /* the pod matches all its own required affinity terms */
    centry_t *held; /* maps and terms belong to this cache entry (else to the state) */
    uint64_t version; /* of held, when taken */
    keyset_t anti; /* the keys of MAP_EXISTING_ANTI's positive pairs (its tally: tpcount_positive_keys) */
    /* per required term (aff_terms, then anti_terms): its key's ref in MAP_AFFINITY / MAP_ANTI,
     * NULL when no pair of that key is above 0 (no node's count can be: the lookup is skipped).
     * Resolved in PreFilter: the maps do not change while the entry's version stays the same
     * (Filter checks it first), and a ref, once given, lasts as long as its map. */
    const char **refs;
} pf_state_t;

/* The ref of key in map when some pair of it is above 0, else NULL. */
static const char *
positive_ref (const tpcount_t *map, const char *key)
{
    const char *r = tpcount_key_ref (map, key);
    return r && tpcount_key_positive (map, r) > 0 ? r : NULL;
}

static void
pf_state_free (void *p)
{
    pf_state_t *s = p;
    if (!s)
        return;
    if (s->held)
        sigcache_release (&s->held->h);
    else {
        for (int i = 0; i < NMAPS; i++)
            tpcount_destroy (&s->maps[i]);
        free (s->aff_terms.v);
        free (s->anti_terms.v);
    }
    free (s->refs);
    free (s);
}


/* The node's share of the three maps for the pod's terms (Kubernetes' PreFilter, per node). */
static void
node_share (const ipa_t *self, const tr_sched_pod_t *pod, const terms_t *aff, const terms_t *anti,
            const tr_sched_node_t *node, nodeshare_emit_fn emit, void *arg)
{
    /* symmetry: existing pods' required anti-affinity terms the incoming pod matches */
    for (uint32_t j = 0; j < node->npods_with_required_anti_affinity; j++) {
        const tr_sched_pod_t *ex = node->pods_with_required_anti_affinity[j];
        pod_terms_t tmp = {0};
        const pod_terms_t *pt = pod_terms (self, ex, &tmp);
        for (size_t k = 0; k < pt->req_anti.n; k++) {
            const term_t *t = &pt->req_anti.v[k];
            const char *v;
            if ((v = node_label (node, t)) && term_matches_of (self, t, owner_of (ex), pod))
                emit (arg, MAP_EXISTING_ANTI, t->topology_key, v, 1);
        }
        pod_terms_done (pt, &tmp);
    }
    if (!aff->n && !anti->n)
        return;
    /* the incoming pod's own required terms against the node's pods */
    for (uint32_t j = 0; j < node->npods; j++) {
        const tr_sched_pod_t *ex = node->pods[j];
        if (matches_all (self, aff, ex))
            for (size_t k = 0; k < aff->n; k++) {
                const char *v = node_label (node, &aff->v[k]);
                if (v)
                    emit (arg, MAP_AFFINITY, aff->v[k].topology_key, v, 1);
            }
        for (size_t k = 0; k < anti->n; k++) {
            const char *v = node_label (node, &anti->v[k]);
            if (v && term_matches (self, &anti->v[k], ex))
                emit (arg, MAP_ANTI, anti->v[k].topology_key, v, 1);
        }
    }
}

static void
emit_direct (void *arg, int map, const char *key, const char *value, int64_t n)
{
    tpcount_add (((tpcount_t **) arg)[map], key, value, n);
}

/* ---- the cache ------------------------------------------------------------------------- */

static void
centry_free (sc_entry_t *h)
{
    centry_t *e = (centry_t *) h;
    sc_entry_fini (h);
    free (e->aff.v);
    free (e->anti.v);
    json_decref (e->copy);
    free (e);
}

/* A term of the pod's own (required, or preferred when scoring) with a non-empty
 * namespaceSelector: it reads other namespaces' labels, which no node generation follows, so such
 * a pod is computed afresh (as Kubernetes does every cycle) rather than from the cache. */
static int
own_ns_selector (const tr_sched_pod_t *pod, int scoring)
{
    static const char *const kinds[] = {"podAffinity", "podAntiAffinity"};
    const char *when = scoring ? "preferredDuringSchedulingIgnoredDuringExecution" : "requiredDuringSchedulingIgnoredDuringExecution";
    for (int k = 0; k < 2; k++) {
        size_t i;
        const json_t *t;
        json_array_foreach (affinity_list (pod->obj, kinds[k], when), i, t) {
            const json_t *term = scoring ? json_object_get (t, "podAffinityTerm") : t;
            const json_t *sel = json_object_get (term, "namespaceSelector");
            if (json_is_object (sel) && !ns_selector_empty (sel))
                return 1;
        }
    }
    return 0;
}

/* What an entry's sums depend on besides the nodes: the pod's namespace and labels, its terms,
 * and its namespace's labels (existing pods' terms with a namespaceSelector read them). */
static char *
pod_signature (const ipa_t *self, const tr_sched_pod_t *pod, int scoring)
{
    const json_t *aff = json_object_get (json_object_get (pod->obj, "spec"), "affinity");
    const char *when = scoring ? "preferredDuringSchedulingIgnoredDuringExecution" : "requiredDuringSchedulingIgnoredDuringExecution";
    const char *ns = pod->ns ? pod->ns : "default";
    json_t *sig = json_pack ("{s:b,s:s,s:O,s:O*,s:O*,s:O*}", "score", scoring, "ns", ns, "labels", pod->labels, "a",
                             json_object_get (json_object_get (aff, "podAffinity"), when), "n",
                             json_object_get (json_object_get (aff, "podAntiAffinity"), when), "nsl", ns_labels (self, ns));
    char *out = sig ? json_dumps (sig, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref (sig);
    return out;
}

static centry_t *
centry_new (const ipa_t *self, const tr_sched_pod_t *pod, char *sig, int scoring)
{
    centry_t *e = calloc (1, sizeof *e);
    if (!e) {
        free (sig);
        return NULL;
    }
    e->h.sig = sig;
    e->h.free_fn = centry_free;
    e->scoring = scoring;
    const json_t *aff = json_object_get (json_object_get (pod->obj, "spec"), "affinity");
    e->copy = json_pack ("{s:s,s:O,s:{s:O*}}", "ns", pod->ns ? pod->ns : "default", "labels", pod->labels, "spec",
                         "affinity", aff);
    e->h.share = nodeshare_new (scoring ? 1 : NMAPS);
    if (!e->copy || !e->h.share) {
        centry_free (&e->h);
        return NULL;
    }
    e->pod.size = sizeof e->pod;
    e->pod.obj = e->copy;
    e->pod.ns = json_string_value (json_object_get (e->copy, "ns"));
    e->pod.labels = json_object_get (e->copy, "labels");
    if (terms_of (&e->pod, "podAffinity", scoring, &e->aff) < 0 || terms_of (&e->pod, "podAntiAffinity", scoring, &e->anti) < 0) {
        centry_free (&e->h);
        return NULL;
    }
    e->self_match = matches_all (self, &e->aff, &e->pod);
    return e;
}

static void score_share (const ipa_t *self, const tr_sched_pod_t *pod, const terms_t *pa, const terms_t *panti,
                         const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx);

static void
entry_share (void *argp, const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx)
{
    const sc_share_t *a = argp;
    const ipa_t *self = a->ctx;
    const centry_t *e = (const centry_t *) a->entry;
    if (e->scoring)
        score_share (self, &e->pod, &e->aff, &e->anti, node, emit, ctx);
    else
        node_share (self, &e->pod, &e->aff, &e->anti, node, emit, ctx);
}

/* The entry for the pod, brought up to date; NULL: compute without the cache. */
typedef struct {
    const ipa_t *self;
    const tr_sched_pod_t *pod;
    int scoring;
} make_arg_t;

static sc_entry_t *
make_entry (void *argp, char *sig)
{
    make_arg_t *a = argp;
    centry_t *e = centry_new (a->self, a->pod, sig, a->scoring);
    return e ? &e->h : NULL;
}

static centry_t *
cache_get (ipa_t *self, const tr_sched_pod_t *pod, const tr_sched_snapshot_t *snap, int scoring)
{
    if (own_ns_selector (pod, scoring))
        return NULL;
    make_arg_t m = {self, pod, scoring};
    return (centry_t *) sigcache_get (&self->cache, pod_signature (self, pod, scoring), make_entry, &m, snap, entry_share,
                                      self);
}

/* Many nodes hold pods with affinity: walking them costs more than comparing generations. */
static int
cache_worth (const tr_sched_snapshot_t *snap)
{
    return snap->nnodes_with_affinity > 32 && snap->nnodes_with_affinity * 8 > snap->nnodes;
}

static tr_sched_status_t
pre_filter (ipa_t *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod);

static tr_sched_status_t
ipa_pre_filter (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    ipa_t *self = selfp;
    self->cs = cs; /* for the namespace labels the term walks read */
    tr_sched_status_t st = pre_filter (self, cs, pod);
    self->cs = NULL;
    return st;
}

static tr_sched_status_t
pre_filter (ipa_t *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    ipa_t *self = selfp;
    const tr_sched_host_t *h = self->host;
    const tr_sched_snapshot_t *snap = h->snapshot (cs);
    pf_state_t *s = calloc (1, sizeof *s);
    if (!s)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: out of memory"};
    /* The cache pays for pods with required terms of their own (a walk of every pod otherwise)
     * and where many nodes hold pods with affinity; otherwise (the usual pod, no pod with
     * affinity around) the walk of those few nodes is cheaper than a look at every node. */
    int own = pod->has_affinity && (affinity_list (pod->obj, "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution") ||
                                    affinity_list (pod->obj, "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"));
    centry_t *e = own || cache_worth (snap) ? cache_get (self, pod, snap, 0) : NULL;
    if (e) {
        sigcache_hold (&e->h);
        s->held = e;
        s->version = e->h.version;
        for (int i = 0; i < NMAPS; i++)
            s->maps[i] = (tpcount_t *) nodeshare_map (e->h.share, i);
        s->aff_terms = e->aff;
        s->anti_terms = e->anti;
        s->self_match = e->self_match;
    } else {
        for (int i = 0; i < NMAPS; i++)
            if (!(s->maps[i] = tpcount_new ())) {
                pf_state_free (s);
                return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: out of memory"};
            }
        if (terms_of (pod, "podAffinity", 0, &s->aff_terms) < 0 || terms_of (pod, "podAntiAffinity", 0, &s->anti_terms) < 0) {
            pf_state_free (s);
            return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: out of memory"};
        }
        /* without terms of its own, only existing pods' anti-affinity counts: on the nodes
         * holding pods with affinity only */
        int own = s->aff_terms.n || s->anti_terms.n;
        uint32_t nn = own ? snap->nnodes : snap->nnodes_with_affinity;
        const tr_sched_node_t *const *nodes = own ? snap->nodes : snap->nodes_with_affinity;
        for (uint32_t i = 0; i < nn; i++)
            node_share (self, pod, &s->aff_terms, &s->anti_terms, nodes[i], emit_direct, s->maps);
        s->self_match = matches_all (self, &s->aff_terms, pod);
    }
    if (!s->aff_terms.n && !s->anti_terms.n && tpcount_positive (s->maps[MAP_EXISTING_ANTI]) == 0) {
        pf_state_free (s);
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    }
    size_t na = s->aff_terms.n, nt = na + s->anti_terms.n;
    if (nt && !(s->refs = calloc (nt, sizeof *s->refs))) {
        pf_state_free (s);
        return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: out of memory"};
    }
    for (size_t i = 0; i < nt; i++)
        s->refs[i] = i < na ? positive_ref (s->maps[MAP_AFFINITY], s->aff_terms.v[i].topology_key)
                            : positive_ref (s->maps[MAP_ANTI], s->anti_terms.v[i - na].topology_key);
    keyset_index (&s->anti, tpcount_positive_keys (s->maps[MAP_EXISTING_ANTI], s->anti.keys, KEYSET_MAX));
    h->write (cs, IPA_PREFILTER_KEY, s, pf_state_free);
    return TR_SCHED_OK;
}

static int
satisfy_affinity (const pf_state_t *s, const tr_sched_node_t *node)
{
    int pods_exist = 1;
    for (size_t i = 0; i < s->aff_terms.n; i++) {
        const char *v = node_label (node, &s->aff_terms.v[i]);
        if (!v)
            return 0; /* the node lacks the topology key: never satisfiable here */
        if (!s->refs[i] || tpcount_get_ref (s->maps[MAP_AFFINITY], s->refs[i], v, NULL) <= 0)
            pods_exist = 0;
    }
    if (pods_exist)
        return 1;
    /* The first pod of a group: no pod matches the terms anywhere, and the pod matches them
     * itself — it may go anywhere (that has the keys), or the group could never start. */
    return tpcount_positive (s->maps[MAP_AFFINITY]) == 0 && s->self_match;
}

static int
satisfy_anti_affinity (const pf_state_t *s, const tr_sched_node_t *node)
{
    const char *const *refs = s->refs + s->aff_terms.n;
    for (size_t i = 0; i < s->anti_terms.n; i++) {
        if (!refs[i])
            continue; /* no pair of its key above 0: no node's is */
        const char *v = node_label (node, &s->anti_terms.v[i]);
        if (v && tpcount_get_ref (s->maps[MAP_ANTI], refs[i], v, NULL) > 0)
            return 0;
    }
    return 1;
}

static int
satisfy_existing_anti (const pf_state_t *s, const tr_sched_node_t *node)
{
    if (tpcount_positive (s->maps[MAP_EXISTING_ANTI]) == 0)
        return 1;
    if (!s->anti.all) {
        for (int i = 0; i < s->anti.n; i++) {
            const char *v = fw_node_label_h (node, &s->anti.lkeys[i]);
            if (v && tpcount_get_ref (s->maps[MAP_EXISTING_ANTI], s->anti.keys[i], v, NULL) > 0)
                return 0;
        }
        return 1;
    }
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) node->labels, k, v) {
        if (json_is_string (v) && tpcount_get (s->maps[MAP_EXISTING_ANTI], k, json_string_value (v), NULL) > 0)
            return 0;
    }
    return 1;
}

static tr_sched_status_t
ipa_filter (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    ipa_t *self = selfp;
    (void) pod;
    const pf_state_t *s = self->host->read (cs, IPA_PREFILTER_KEY);
    if (!s)
        return TR_SCHED_OK; /* PreFilter skipped: nothing to check */
    if (s->held && s->version != s->held->h.version)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: Filter after the next pod's PreFilter"};
    if (!satisfy_affinity (s, node))
        return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, ERR_AFFINITY};
    if (!satisfy_anti_affinity (s, node))
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, ERR_ANTI_AFFINITY};
    if (!satisfy_existing_anti (s, node))
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, ERR_EXISTING_ANTI};
    return TR_SCHED_OK;
}

/* ---- PreScore / Score / NormalizeScore --------------------------------------------------- */

typedef struct {
    tpcount_t *scores;
    centry_t *held; /* scores belong to this cache entry */
    uint64_t version;
    keyset_t keys; /* the keys of scores (a few: the terms') */
} ps_state_t;

static void
ps_state_free (void *p)
{
    ps_state_t *s = p;
    if (!s)
        return;
    if (s->held)
        sigcache_release (&s->held->h);
    else
        tpcount_destroy (&s->scores);
    free (s);
}

/* Emits weight × mult for the existing pod's node's pair of every term that matches target. */
static void
score_terms (const ipa_t *self, const terms_t *ts, const char *owner_ns, const tr_sched_pod_t *target,
             const tr_sched_node_t *node, int64_t mult, int64_t fixed_weight, nodeshare_emit_fn emit, void *ctx)
{
    for (size_t i = 0; i < ts->n; i++) {
        const term_t *t = &ts->v[i];
        int64_t w = fixed_weight ? fixed_weight : t->weight;
        const char *v;
        if (w != 0 && (v = node_label (node, t)) &&
            term_matches_of (self, t, owner_ns ? owner_ns : t->owner_ns, target))
            emit (ctx, 0, t->topology_key, v, w * mult);
    }
}

/* The node's share of the scores (Kubernetes' processExistingPod for each of its pods): the
 * pod's preferred terms (pa, panti) against the node's pods, and their terms against the pod.
 * Without preferred terms of its own, only the node's pods with affinity can contribute. */
static void
score_share (const ipa_t *self, const tr_sched_pod_t *pod, const terms_t *pa, const terms_t *panti,
             const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx)
{
    if (json_object_size (node->labels) == 0)
        return;
    int has_constraints = pa->n || panti->n;
    uint32_t np = has_constraints ? node->npods : node->npods_with_affinity;
    const tr_sched_pod_t *const *pods = has_constraints ? node->pods : node->pods_with_affinity;
    for (uint32_t j = 0; j < np; j++) {
        const tr_sched_pod_t *ex = pods[j];
        score_terms (self, pa, NULL, ex, node, 1, 0, emit, ctx);
        score_terms (self, panti, NULL, ex, node, -1, 0, emit, ctx);
        if (!ex->has_affinity)
            continue;
        pod_terms_t tmp = {0};
        const pod_terms_t *pt = pod_terms (self, ex, &tmp);
        if (self->hard_weight > 0)
            score_terms (self, &pt->req_aff, owner_of (ex), pod, node, 1, self->hard_weight, emit, ctx);
        score_terms (self, &pt->pref_aff, owner_of (ex), pod, node, 1, 0, emit, ctx);
        score_terms (self, &pt->pref_anti, owner_of (ex), pod, node, -1, 0, emit, ctx);
        pod_terms_done (pt, &tmp);
    }
}

static tr_sched_status_t
pre_score (ipa_t *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes, size_t n);

static tr_sched_status_t
ipa_pre_score (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
               size_t n)
{
    ipa_t *self = selfp;
    self->cs = cs;
    tr_sched_status_t st = pre_score (self, cs, pod, nodes, n);
    self->cs = NULL;
    return st;
}

static tr_sched_status_t
pre_score (ipa_t *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes, size_t n)
{
    ipa_t *self = selfp;
    const tr_sched_snapshot_t *snap = self->host->snapshot (cs);
    (void) nodes;
    if (n == 0)
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    terms_t pa = {0}, panti = {0};
    ps_state_t *s = calloc (1, sizeof *s);
    if (!s || !(s->scores = tpcount_new ()) || terms_of (pod, "podAffinity", 1, &pa) < 0 ||
        terms_of (pod, "podAntiAffinity", 1, &panti) < 0) {
        ps_state_free (s);
        free (pa.v);
        return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: out of memory"};
    }
    int has_constraints = pa.n || panti.n;
    if (!has_constraints && self->ignore_existing) {
        ps_state_free (s);
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    }
    centry_t *e = has_constraints || cache_worth (snap) ? cache_get (self, pod, snap, 1) : NULL;
    if (e) {
        sigcache_hold (&e->h);
        s->held = e;
        s->version = e->h.version;
        tpcount_destroy (&s->scores);
        s->scores = (tpcount_t *) nodeshare_map (e->h.share, 0);
    } else {
        /* Without preferred terms of its own, only pods with affinity can contribute. */
        uint32_t nn = has_constraints ? snap->nnodes : snap->nnodes_with_affinity;
        const tr_sched_node_t *const *all = has_constraints ? snap->nodes : snap->nodes_with_affinity;
        tpcount_t *maps[1] = {s->scores};
        for (uint32_t i = 0; i < nn; i++)
            score_share (self, pod, &pa, &panti, all[i], emit_direct, maps);
    }
    free (pa.v);
    free (panti.v);
    if (tpcount_size (s->scores) == 0) {
        ps_state_free (s);
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    }
    keyset_index (&s->keys, tpcount_keys (s->scores, s->keys.keys, KEYSET_MAX));
    self->host->write (cs, IPA_PRESCORE_KEY, s, ps_state_free);
    return TR_SCHED_OK;
}

static tr_sched_status_t
ipa_score (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *score)
{
    ipa_t *self = selfp;
    (void) pod;
    *score = 0;
    const ps_state_t *s = self->host->read (cs, IPA_PRESCORE_KEY);
    if (!s)
        return TR_SCHED_OK;
    if (s->held && s->version != s->held->h.version)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "InterPodAffinity: Score after the next pod's PreScore"};
    if (!s->keys.all) {
        for (int i = 0; i < s->keys.n; i++) {
            const char *v = fw_node_label_h (node, &s->keys.lkeys[i]);
            if (v)
                *score += tpcount_get_ref (s->scores, s->keys.keys[i], v, NULL);
        }
        return TR_SCHED_OK;
    }
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) node->labels, k, v) {
        if (json_is_string (v))
            *score += tpcount_get (s->scores, k, json_string_value (v), NULL);
    }
    return TR_SCHED_OK;
}

static tr_sched_status_t
ipa_normalize (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, int64_t *scores, size_t n)
{
    ipa_t *self = selfp;
    (void) pod;
    const ps_state_t *s = self->host->read (cs, IPA_PRESCORE_KEY);
    if (!s || tpcount_size (s->scores) == 0 || n == 0)
        return TR_SCHED_OK;
    int64_t mx = scores[0], mn = scores[0];
    for (size_t i = 1; i < n; i++) {
        if (scores[i] > mx)
            mx = scores[i];
        if (scores[i] < mn)
            mn = scores[i];
    }
    int64_t diff = mx - mn;
    for (size_t i = 0; i < n; i++)
        scores[i] = diff > 0 ? (int64_t) (100.0 * ((double) (scores[i] - mn) / (double) diff)) : 0;
    return TR_SCHED_OK;
}

/* ---- init -------------------------------------------------------------------------------- */

static void *
ipa_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    ipa_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->host = host;
    self->hard_weight = 1;
    const json_t *w = json_object_get (args, "hardPodAffinityWeight");
    if (w) {
        if (!json_is_integer (w) || json_integer_value (w) < 0 || json_integer_value (w) > 100) {
            snprintf (err, errlen, "InterPodAffinity: hardPodAffinityWeight: must be an integer in 0..100");
            free (self);
            return NULL;
        }
        self->hard_weight = json_integer_value (w);
    }
    const json_t *ig = json_object_get (args, "ignorePreferredTermsOfExistingPods");
    if (ig && !json_is_boolean (ig)) {
        snprintf (err, errlen, "InterPodAffinity: ignorePreferredTermsOfExistingPods: must be a boolean");
        free (self);
        return NULL;
    }
    self->ignore_existing = json_is_true (ig);
    if (!(self->no_labels = json_object ()) || !(self->pod_terms = objcache_new (pod_terms_free))) {
        snprintf (err, errlen, "out of memory");
        json_decref (self->no_labels);
        free (self);
        return NULL;
    }
    return self;
}

static void
ipa_destroy (void *selfp)
{
    ipa_t *self = selfp;
    if (!self)
        return;
    sigcache_clear (&self->cache);
    objcache_destroy (&self->pod_terms);
    json_decref (self->no_labels);
    free (self);
}

static const tr_sched_plugin_t ipa_plugin = {
    TR_SCHED_PLUGIN_HEADER (IPA_NAME),
    .init = ipa_init,
    .destroy = ipa_destroy,
    .pre_filter = ipa_pre_filter,
    .filter = ipa_filter,
    .pre_score = ipa_pre_score,
    .score = ipa_score,
    .normalize_score = ipa_normalize,
    .events = TR_SCHED_EV_POD_ADD | TR_SCHED_EV_POD_DELETE | TR_SCHED_EV_POD_LABEL | TR_SCHED_EV_NODE_ADD |
              TR_SCHED_EV_NODE_LABEL,
};

const tr_sched_plugin_t *
sched_plugin_interpodaffinity (void)
{
    return &ipa_plugin;
}
