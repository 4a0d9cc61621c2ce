/* NodeAffinity: Filter — spec.nodeSelector (every label equal) and requiredDuringScheduling
 * nodeSelectorTerms (any term) → "node(s) didn't match Pod's node affinity/selector"; Score — the
 * sum of the weights of the preferred terms the node matches, normalized to 0..100. Args:
 * addedAffinity (a NodeAffinity applied to every pod of the profile, as Kubernetes). */
#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/nodesel.h"
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

#include <stdlib.h>

typedef struct {
    nodesel_t *sel;
    int64_t weight;
} pref_t;

/* Preferred terms, each compiled as a selector of its one preference term; NULL when none. */
typedef struct {
    pref_t *v;
    size_t n;
} prefs_t;

typedef struct {
    const tr_sched_host_t *host;
    json_t *added;
    nodesel_t *added_req;  /* addedAffinity's required terms compiled; NULL: none */
    prefs_t added_pref;
} na_t;

static void
prefs_free (prefs_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        nodesel_destroy (&p->v[i].sel);
    free (p->v);
    p->v = NULL;
    p->n = 0;
}

/* Appends affinity's preferredDuringScheduling terms (weight, preference) to p. */
static void
prefs_add (prefs_t *p, const json_t *affinity)
{
    const json_t *pref = json_object_get (affinity, "preferredDuringSchedulingIgnoredDuringExecution");
    size_t i, n = json_array_size (pref);
    json_t *t;
    if (!n)
        return;
    pref_t *v = realloc (p->v, (p->n + n) * sizeof *v);
    if (!v)
        return;
    p->v = v;
    json_array_foreach (pref, i, t) {
        json_t *terms = json_pack ("[O]", json_object_get (t, "preference"));
        nodesel_t *sel = terms ? nodesel_new (terms) : NULL;
        json_decref (terms); /* the preference itself lives in the pod (or the args) */
        if (sel)
            p->v[p->n++] = (pref_t) {sel, json_integer_value (json_object_get (t, "weight"))};
    }
}

static int64_t
prefs_score (const prefs_t *p, const tr_sched_node_t *node)
{
    int64_t sum = 0;
    for (size_t i = 0; i < p->n; i++)
        if (nodesel_match (p->v[i].sel, node) == 1)
            sum += p->v[i].weight;
    return sum;
}

static const json_t *
required_terms (const json_t *affinity)
{
    return json_object_get (json_object_get (affinity, "requiredDuringSchedulingIgnoredDuringExecution"),
                            "nodeSelectorTerms");
}

static const json_t *
pod_node_affinity (const tr_sched_pod_t *pod)
{
    return json_object_get (json_object_get (json_object_get (pod->obj, "spec"), "affinity"), "nodeAffinity");
}

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) err, (void) errlen;
    na_t *s = calloc (1, sizeof *s);
    s->host = host;
    s->added = json_incref (json_object_get (args, "addedAffinity"));
    if (required_terms (s->added))
        s->added_req = nodesel_new (required_terms (s->added));
    prefs_add (&s->added_pref, s->added);
    return s;
}

static void
destroy (void *self)
{
    na_t *s = self;
    nodesel_destroy (&s->added_req);
    prefs_free (&s->added_pref);
    json_decref (s->added);
    free (s);
}

static const char *REASON = "node(s) didn't match Pod's node affinity/selector";
static const char *PRE_KEY = "NodeAffinity/preFilter";
static const char *SCORE_KEY = "NodeAffinity/preScore";

/* PreFilter's state: the pod's nodeSelector and its required terms compiled once per cycle. */
typedef struct {
    const json_t *node_selector; /* the pod's, borrowed */
    nodesel_t *req;              /* NULL: no required terms */
} pre_t;

static void
pre_free (void *p)
{
    pre_t *st = p;
    if (st)
        nodesel_destroy (&st->req);
    free (st);
}

static pre_t *
pre_new (const tr_sched_pod_t *pod)
{
    pre_t *st = calloc (1, sizeof *st);
    if (!st)
        return NULL;
    st->node_selector = json_object_get (json_object_get (pod->obj, "spec"), "nodeSelector");
    const json_t *req = required_terms (pod_node_affinity (pod));
    if (req && !(st->req = nodesel_new (req))) {
        free (st);
        return NULL;
    }
    return st;
}

static int
node_fits (const na_t *s, const pre_t *st, const tr_sched_node_t *node)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) st->node_selector, k, v) {
        const char *have = fw_node_label (node, k);
        if (!have || !json_is_string (v) || strcmp (have, json_string_value (v)))
            return 0;
    }
    if (s->added && required_terms (s->added) && nodesel_match (s->added_req, node) != 1)
        return 0;
    return !st->req || nodesel_match (st->req, node) == 1;
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    na_t *s = self;
    const pre_t *st = s->host->read (cs, PRE_KEY);
    pre_t *own = NULL;
    if (!st && !(st = own = pre_new (pod))) /* PreFilter skipped or not run: compiled here */
        return (tr_sched_status_t) {TR_SCHED_ERROR, "NodeAffinity: out of memory"};
    int ok = node_fits (s, st, node);
    pre_free (own);
    return ok ? TR_SCHED_OK : (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, REASON};
}

/* PreFilter: a pod with no nodeSelector and no required node affinity (and no addedAffinity)
 * skips Filter on every node; the others have their selector compiled for the cycle. */
static tr_sched_status_t
pre_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    na_t *s = self;
    const json_t *spec = json_object_get (pod->obj, "spec");
    if (!json_object_size (json_object_get (spec, "nodeSelector")) && !s->added &&
        !json_object_get (pod_node_affinity (pod), "requiredDuringSchedulingIgnoredDuringExecution"))
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    pre_t *st = pre_new (pod);
    if (!st)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "NodeAffinity: out of memory"};
    s->host->write (cs, PRE_KEY, st, pre_free);
    return TR_SCHED_OK;
}

static void
prefs_state_free (void *p)
{
    if (p)
        prefs_free (p);
    free (p);
}

/* PreScore: the pod's preferred terms compiled once per cycle (the profile's added ones were at
 * init); skipped when there are none. */
static tr_sched_status_t
pre_score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes, size_t n)
{
    (void) nodes, (void) n;
    na_t *s = self;
    const json_t *a = pod_node_affinity (pod);
    if (!json_array_size (json_object_get (a, "preferredDuringSchedulingIgnoredDuringExecution")) && !s->added_pref.n)
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    prefs_t *p = calloc (1, sizeof *p);
    if (!p)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "NodeAffinity: out of memory"};
    prefs_add (p, a);
    s->host->write (cs, SCORE_KEY, p, prefs_state_free);
    return TR_SCHED_OK;
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    na_t *s = self;
    const prefs_t *p = s->host->read (cs, SCORE_KEY);
    prefs_t own = {0};
    if (!p) {
        prefs_add (&own, pod_node_affinity (pod));
        p = &own;
    }
    *out = prefs_score (p, node) + prefs_score (&s->added_pref, node);
    prefs_free (&own);
    return TR_SCHED_OK;
}

static tr_sched_status_t
normalize (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, int64_t *scores, size_t n)
{
    (void) self, (void) cs, (void) pod;
    pu_normalize (scores, n, 0);
    return TR_SCHED_OK;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeAffinity"), .init = init, .destroy = destroy,
                                         .pre_filter = pre_filter, .filter = filter, .pre_score = pre_score, .score = score,
                                         .normalize_score = normalize,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_LABEL};

const tr_sched_plugin_t *
sched_plugin_nodeaffinity (void)
{
    return &plugin;
}
