/* placecheck — see placecheck.h. Written from Kubernetes' documented semantics, independently of
 * actors/scheduler, so the checker does not share the scheduler's mistakes. */
#include "bench/sched/placecheck.h"

#include "core/meta.h"
#include "core/quantity.h"
#include "core/selector.h"
#include "core/value.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- model ----------------------------------------------------------------------------- */

#define PC_MAX_RES 24

typedef struct {
    uint32_t n;
    char name[PC_MAX_RES][64];
    int64_t milli[PC_MAX_RES];
} res_t;

typedef struct {
    const json_t *obj;
    const char *ns, *name, *uid, *node_name;
    const json_t *labels;
    int node;             /* index in nodes, -1 */
    int active;           /* bound, not terminated */
    int64_t bound_ms;     /* PodScheduled lastTransitionTime; -1 unknown */
    char key[320];        /* ns/name */
} pod_t;

typedef struct {
    const json_t *obj;
    const char *name;
    const json_t *labels;
    res_t alloc;
    size_t npods, cap;
    size_t *pods;         /* active pods here */
} node_t;

typedef struct {
    pod_t *pods;
    size_t npods;
    node_t *nodes;
    size_t nnodes;
    json_t *node_by_name; /* name → index */
    json_t *domains;      /* topologyKey → {value → [node index]} */
    json_t *spread_cache; /* group key → {counts: {value: n}, min: n} */
    json_t *anti_seen;    /* "later|earlier" pairs reported */
    json_t *anti_pending; /* pairs broken by symmetry only: → [pod index, detail] */
    json_t *empty;        /* {} for absent labels */
    pc_result_t *out;
} ctx_t;

static const json_t *
list_items (const json_t *v)
{
    if (json_is_array (v))
        return v;
    if (json_is_object (v) && json_is_array (json_object_get (v, "items")))
        return json_object_get (v, "items");
    return NULL;
}

static void
violation (ctx_t *c, const pod_t *p, const char *node, const char *rule, const char *fmt, ...)
{
    pc_result_t *r = c->out;
    if (r->nviol == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        pc_violation_t *nv = realloc (r->viol, ncap * sizeof *nv);
        if (!nv)
            return;
        r->viol = nv;
        r->cap = ncap;
    }
    pc_violation_t *v = &r->viol[r->nviol++];
    snprintf (v->pod, sizeof v->pod, "%s", p ? p->key : "");
    snprintf (v->node, sizeof v->node, "%s", node ? node : "");
    snprintf (v->rule, sizeof v->rule, "%s", rule);
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (v->detail, sizeof v->detail, fmt, ap);
    va_end (ap);
}

/* ---- resources ------------------------------------------------------------------------- */

static int64_t *
res_slot (res_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (!strcmp (r->name[i], name))
            return &r->milli[i];
    if (r->n == PC_MAX_RES)
        return NULL;
    snprintf (r->name[r->n], sizeof r->name[0], "%s", name);
    r->milli[r->n] = 0;
    return &r->milli[r->n++];
}

static int64_t
res_get (const res_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (!strcmp (r->name[i], name))
            return r->milli[i];
    return 0;
}

/* a map of name → quantity into r (added) */
static void
res_add_map (res_t *r, const json_t *m)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) m, k, v) {
        int64_t q;
        if (tv_quantity_milli (v, &q, NULL, 0) != 0)
            continue;
        int64_t *s = res_slot (r, k);
        if (s)
            *s += q;
    }
}

/* a container's requests, a request defaulting to its limit (API defaulting) */
static void
container_req (const json_t *ctr, res_t *out)
{
    memset (out, 0, sizeof *out);
    const json_t *req = tv_get (ctr, "resources.requests"), *lim = tv_get (ctr, "resources.limits");
    if (json_is_object (req))
        res_add_map (out, req);
    const char *k;
    json_t *v;
    if (json_is_object (lim))
        json_object_foreach ((json_t *) lim, k, v) {
            if (json_is_object (req) && json_object_get (req, k))
                continue;
            int64_t q;
            if (tv_quantity_milli (v, &q, NULL, 0) != 0)
                continue;
            int64_t *s = res_slot (out, k);
            if (s)
                *s += q;
        }
}

static void
res_sum (res_t *acc, const res_t *x)
{
    for (uint32_t i = 0; i < x->n; i++) {
        int64_t *s = res_slot (acc, x->name[i]);
        if (s)
            *s += x->milli[i];
    }
}

static void
res_max (res_t *acc, const res_t *x)
{
    for (uint32_t i = 0; i < x->n; i++) {
        int64_t *s = res_slot (acc, x->name[i]);
        if (s && *s < x->milli[i])
            *s = x->milli[i];
    }
}

/* Kubernetes' effective pod request (resourcehelper.PodRequests): containers summed with the
 * restartable init containers (sidecars); each regular init container with the sidecars started
 * before it; the larger of the two per resource; + overhead; pods 1. */
static void
pod_request (const json_t *pod, res_t *out)
{
    memset (out, 0, sizeof *out);
    res_t sum = {0}, sidecars = {0}, init_max = {0}, one;
    size_t i;
    json_t *ctr;
    json_array_foreach (tv_get (pod, "spec.containers"), i, ctr) {
        container_req (ctr, &one);
        res_sum (&sum, &one);
    }
    json_array_foreach (tv_get (pod, "spec.initContainers"), i, ctr) {
        container_req (ctr, &one);
        const char *rp = tv_str (ctr, "restartPolicy");
        if (rp && !strcmp (rp, "Always")) {
            res_sum (&sidecars, &one);
            res_max (&init_max, &sidecars);
        } else {
            res_sum (&one, &sidecars);
            res_max (&init_max, &one);
        }
    }
    res_sum (&sum, &sidecars);
    res_max (&sum, &init_max);
    const json_t *ov = tv_get (pod, "spec.overhead");
    if (json_is_object (ov))
        res_add_map (&sum, ov);
    int64_t *p = res_slot (&sum, "pods");
    if (p)
        *p = 1000;
    *out = sum;
}

static void
fmt_milli (const char *res, int64_t m, char *buf, size_t len)
{
    if (!strcmp (res, "cpu"))
        snprintf (buf, len, "%" PRId64 "m", m);
    else if (m % 1000 == 0)
        snprintf (buf, len, "%" PRId64, m / 1000);
    else
        snprintf (buf, len, "%" PRId64 "m", m);
}

/* ---- node matching --------------------------------------------------------------------- */

static const char *
label (const json_t *labels, const char *k)
{
    return json_string_value (json_object_get (labels, k));
}

static int
in_values (const json_t *values, const char *v)
{
    size_t i;
    json_t *x;
    json_array_foreach (values, i, x) if (json_is_string (x) && !strcmp (json_string_value (x), v)) return 1;
    return 0;
}

static int
parse_int (const char *s, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    *out = strtoll (s, &end, 10);
    return *end ? -1 : 0;
}

static int
expr_match (const json_t *e, const char *value /* NULL: absent */)
{
    const char *op = tv_str (e, "operator");
    const json_t *values = json_object_get (e, "values");
    if (!op)
        return 0;
    if (!strcmp (op, "In"))
        return value && in_values (values, value);
    if (!strcmp (op, "NotIn"))
        return !value || !in_values (values, value);
    if (!strcmp (op, "Exists"))
        return value != NULL;
    if (!strcmp (op, "DoesNotExist"))
        return value == NULL;
    if (!strcmp (op, "Gt") || !strcmp (op, "Lt")) {
        long long have, want;
        if (!value || parse_int (value, &have) || json_array_size (values) != 1 ||
            parse_int (json_string_value (json_array_get (values, 0)), &want))
            return 0;
        return !strcmp (op, "Gt") ? have > want : have < want;
    }
    return 0;
}

/* v1.NodeSelectorTerm: every expression and field; an empty term matches nothing */
static int
term_match (const json_t *term, const node_t *n)
{
    const json_t *ex = json_object_get (term, "matchExpressions"), *fl = json_object_get (term, "matchFields");
    if (!json_array_size (ex) && !json_array_size (fl))
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach (ex, i, e) if (!expr_match (e, label (n->labels, tv_str (e, "key") ? tv_str (e, "key") : "")))
        return 0;
    json_array_foreach (fl, i, e) {
        const char *k = tv_str (e, "key");
        if (!k || strcmp (k, "metadata.name") || !expr_match (e, n->name))
            return 0;
    }
    return 1;
}

static int
node_selector_ok (const json_t *pod, const node_t *n, char *why, size_t wlen)
{
    const json_t *ns = tv_get (pod, "spec.nodeSelector");
    const char *k;
    json_t *v;
    if (json_is_object (ns))
        json_object_foreach ((json_t *) ns, k, v) {
            const char *have = label (n->labels, k);
            if (!have || !json_is_string (v) || strcmp (have, json_string_value (v))) {
                snprintf (why, wlen, "nodeSelector %s=%s: node has %s", k, json_string_value (v) ? json_string_value (v) : "?",
                          have ? have : "no such label");
                return 0;
            }
        }
    return 1;
}

static int
node_affinity_ok (const json_t *pod, const node_t *n)
{
    const json_t *terms = tv_get (pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
    if (!terms)
        return 1;
    size_t i;
    json_t *t;
    json_array_foreach (terms, i, t) if (term_match (t, n)) return 1;
    return 0;
}

static int
tolerates (const json_t *tols, const json_t *taint)
{
    const char *tk = tv_str (taint, "key") ? tv_str (taint, "key") : "";
    const char *tv = tv_str (taint, "value") ? tv_str (taint, "value") : "";
    const char *te = tv_str (taint, "effect") ? tv_str (taint, "effect") : "";
    size_t i;
    json_t *t;
    json_array_foreach (tols, i, t) {
        const char *eff = tv_str (t, "effect"), *op = tv_str (t, "operator"), *k = tv_str (t, "key");
        const char *v = tv_str (t, "value") ? tv_str (t, "value") : "";
        if (eff && *eff && strcmp (eff, te))
            continue;
        int exists = op && !strcmp (op, "Exists");
        if (!k || !*k) {
            if (exists)
                return 1;
            continue;
        }
        if (strcmp (k, tk))
            continue;
        if (exists || !strcmp (v, tv))
            return 1;
    }
    return 0;
}

/* the first NoSchedule/NoExecute taint of n that pod does not tolerate (NULL: none); with
 * bound_ms >= 0, NoExecute taints added after it are skipped */
static const json_t *
untolerated (const json_t *pod, const node_t *n, int64_t bound_ms)
{
    const json_t *tols = tv_get (pod, "spec.tolerations");
    size_t i;
    json_t *t;
    json_array_foreach (tv_get (n->obj, "spec.taints"), i, t) {
        const char *eff = tv_str (t, "effect");
        if (!eff || (strcmp (eff, "NoSchedule") && strcmp (eff, "NoExecute")))
            continue;
        if (bound_ms >= 0 && !strcmp (eff, "NoExecute") && tv_str (t, "timeAdded")) {
            int64_t added = tr_time_parse (tv_str (t, "timeAdded"));
            if (added > bound_ms)
                continue;
        }
        if (!tolerates (tols, t))
            return t;
    }
    return NULL;
}

/* ---- topology domains ------------------------------------------------------------------ */

/* value → [node index] for key (cached) */
static json_t *
domains_of (ctx_t *c, const char *key)
{
    json_t *d = json_object_get (c->domains, key);
    if (d)
        return d;
    d = json_object ();
    for (size_t i = 0; i < c->nnodes; i++) {
        const char *v = label (c->nodes[i].labels, key);
        if (!v)
            continue;
        json_t *a = json_object_get (d, v);
        if (!a) {
            a = json_array ();
            json_object_set_new (d, v, a);
        }
        json_array_append_new (a, json_integer ((json_int_t) i));
    }
    json_object_set_new (c->domains, key, d);
    return d;
}

/* the pod's namespace is in the term's namespaces: 1, 0, or -1 when a namespaceSelector that
 * needs Namespace labels decides */
static int
term_ns (const json_t *term, const char *owner_ns, const char *ns)
{
    const json_t *nss = json_object_get (term, "namespaces"), *nsel = json_object_get (term, "namespaceSelector");
    if (json_is_object (nsel)) {
        if (json_object_size (nsel) == 0)
            return 1; /* {}: every namespace */
        if (in_values (nss, ns))
            return 1;
        return -1;
    }
    if (json_array_size (nss))
        return in_values (nss, ns);
    return !strcmp (owner_ns, ns);
}

/* ---- the checks ------------------------------------------------------------------------ */

static int
by_bound (const void *a, const void *b, void *arg)
{
    const ctx_t *c = arg;
    const pod_t *x = &c->pods[*(const size_t *) a], *y = &c->pods[*(const size_t *) b];
    if (x->bound_ms != y->bound_ms)
        return x->bound_ms < y->bound_ms ? -1 : 1;
    return strcmp (x->key, y->key);
}

/* p was bound after q (ties: by name, so the blame is stable) */
static int
later (ctx_t *c, const pod_t *p, const pod_t *q)
{
    size_t a = (size_t) (p - c->pods), b = (size_t) (q - c->pods);
    return by_bound (&a, &b, c) > 0;
}

static void
check_resources (ctx_t *c, pc_result_t *out)
{
    double sum = 0, sq = 0;
    for (size_t ni = 0; ni < c->nnodes; ni++) {
        node_t *n = &c->nodes[ni];
        if (n->npods > 1) /* qsort_r (NULL, 0, …) is undefined */
            qsort_r (n->pods, n->npods, sizeof *n->pods, by_bound, c);
        res_t used = {0};
        for (size_t k = 0; k < n->npods; k++) {
            pod_t *p = &c->pods[n->pods[k]];
            res_t req;
            pod_request (p->obj, &req);
            res_sum (&used, &req);
            for (uint32_t r = 0; r < req.n; r++) {
                if (req.milli[r] <= 0)
                    continue;
                int64_t have = res_get (&n->alloc, req.name[r]), now = res_get (&used, req.name[r]);
                if (now > have) {
                    char a[32], b[32];
                    fmt_milli (req.name[r], now, a, sizeof a);
                    fmt_milli (req.name[r], have, b, sizeof b);
                    violation (c, p, n->name, "resources", "Insufficient %s: %s requested on the node with this pod, %s allocatable",
                               req.name[r], a, b);
                }
            }
        }
        int64_t cpu = res_get (&n->alloc, "cpu");
        if (cpu > 0 && !tv_bool (n->obj, "spec.unschedulable", false)) {
            double f = (double) res_get (&used, "cpu") / (double) cpu;
            if (!out->balance_nodes || f < out->cpu_min)
                out->cpu_min = f;
            if (!out->balance_nodes || f > out->cpu_max)
                out->cpu_max = f;
            out->balance_nodes++;
            sum += f;
            sq += f * f;
        }
    }
    if (out->balance_nodes) {
        double nn = (double) out->balance_nodes;
        out->cpu_mean = sum / nn;
        double var = sq / nn - out->cpu_mean * out->cpu_mean;
        out->cpu_sd = var > 0 ? sqrt (var) : 0;
    }
}

static void
check_node_rules (ctx_t *c, pod_t *p)
{
    node_t *n = &c->nodes[p->node];
    char why[300];
    if (!node_selector_ok (p->obj, n, why, sizeof why))
        violation (c, p, n->name, "nodeSelector", "%s", why);
    if (!node_affinity_ok (p->obj, n))
        violation (c, p, n->name, "nodeAffinity", "no required nodeSelectorTerm matches the node");
    const json_t *t = untolerated (p->obj, n, p->bound_ms);
    if (t)
        violation (c, p, n->name, "taint", "untolerated taint %s=%s:%s", tv_str (t, "key") ? tv_str (t, "key") : "",
                   tv_str (t, "value") ? tv_str (t, "value") : "", tv_str (t, "effect"));
}

/* does q match term (owned by o)? 1/0, -1 unknown (namespaceSelector) */
static int
term_matches_pod (const json_t *term, const selector_t *sel, const pod_t *o, const pod_t *q)
{
    int nsok = term_ns (term, o->ns, q->ns);
    if (nsok <= 0)
        return nsok;
    return sel && selector_matches (sel, q->labels);
}

static void
check_pod_affinity (ctx_t *c, pod_t *p, int anti)
{
    const char *path = anti ? "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                            : "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    const char *rule = anti ? "podAntiAffinity" : "podAffinity";
    node_t *n = &c->nodes[p->node];
    size_t ti;
    json_t *term;
    json_array_foreach (tv_get (p->obj, path), ti, term) {
        const char *key = tv_str (term, "topologyKey");
        const json_t *ls = json_object_get (term, "labelSelector");
        const json_t *nsel = json_object_get (term, "namespaceSelector");
        if (json_object_size (nsel) > 0) {
            c->out->unchecked_terms++;
            continue;
        }
        selector_t *sel = json_is_object (ls) ? selector_from_object (ls, NULL, 0) : NULL;
        const char *dv = key ? label (n->labels, key) : NULL;
        if (!dv) {
            if (!anti)
                violation (c, p, n->name, rule, "term %zu: the node has no %s label", ti, key ? key : "(topologyKey)");
            selector_destroy (&sel);
            continue;
        }
        json_t *nodes = json_object_get (domains_of (c, key), dv);
        int found = 0;
        size_t k;
        json_t *ix;
        json_array_foreach (nodes, k, ix) {
            node_t *m = &c->nodes[json_integer_value (ix)];
            for (size_t j = 0; j < m->npods; j++) {
                pod_t *q = &c->pods[m->pods[j]];
                if (q == p || term_matches_pod (term, sel, p, q) != 1)
                    continue;
                found = 1;
                if (anti) {
                    /* the later binding broke it: p's own term, or q broke p's term (symmetry);
                     * one report per (later, earlier) pair */
                    const pod_t *bad = later (c, p, q) ? p : q, *other = bad == p ? q : p;
                    char pk[700];
                    snprintf (pk, sizeof pk, "%s|%s", bad->key, other->key);
                    if (json_object_get (c->anti_seen, pk))
                        continue;
                    if (bad == p) {
                        json_object_set_new (c->anti_seen, pk, json_true ());
                        violation (c, p, n->name, rule, "term %zu (%s=%s) matches %s on %s", ti, key, dv, q->key,
                                   c->nodes[q->node].name);
                    } else if (!json_object_get (c->anti_pending, pk)) {
                        /* reported at the end unless q's own term catches it */
                        char d[512];
                        snprintf (d, sizeof d, "symmetry: %s's term %zu (%s=%s) on %s matches this pod", p->key, ti, key,
                                  dv, n->name);
                        json_object_set_new (c->anti_pending, pk,
                                             json_pack ("[I,s]", (json_int_t) (q - c->pods), d));
                    }
                } else
                    break;
            }
            if (found && !anti)
                break;
        }
        if (!anti && !found) {
            /* the first pod of a group may match its own term when no matching pod existed */
            int self = term_matches_pod (term, sel, p, p) == 1;
            const pod_t *earlier = NULL;
            if (self)
                for (size_t j = 0; j < c->npods && !earlier; j++) {
                    pod_t *q = &c->pods[j];
                    if (q != p && q->active && q->bound_ms >= 0 && p->bound_ms >= 0 && q->bound_ms < p->bound_ms &&
                        term_matches_pod (term, sel, p, q) == 1)
                        earlier = q;
                }
            if (!self)
                violation (c, p, n->name, rule, "term %zu: no matching pod in its %s=%s domain", ti, key, dv);
            else if (earlier)
                violation (c, p, n->name, rule, "term %zu: alone in %s=%s though %s (matching) was bound before it on %s", ti,
                           key, dv, earlier->key, c->nodes[earlier->node].name);
        }
        selector_destroy (&sel);
    }
}

/* the pod matches the constraint's selector and matchLabelKeys taken from owner */
static int
spread_matches (const selector_t *sel, const json_t *mlk, const pod_t *owner, const pod_t *q)
{
    if (strcmp (owner->ns, q->ns) || !sel || !selector_matches (sel, q->labels))
        return 0;
    if (tv_get (q->obj, "metadata.deletionTimestamp"))
        return 0;
    size_t i;
    json_t *k;
    json_array_foreach (mlk, i, k) {
        const char *want = label (owner->labels, json_string_value (k) ? json_string_value (k) : "");
        if (!want)
            continue; /* a key the pod lacks is ignored, as Kubernetes */
        const char *have = label (q->labels, json_string_value (k));
        if (!have || strcmp (have, want))
            return 0;
    }
    return 1;
}

static void
check_spread (ctx_t *c, pod_t *p)
{
    const json_t *cons = tv_get (p->obj, "spec.topologySpreadConstraints");
    if (!json_array_size (cons))
        return;
    node_t *n = &c->nodes[p->node];
    size_t i;
    json_t *sc;
    /* the node must carry every DoNotSchedule constraint's key; so must the eligible nodes */
    json_t *keys = json_array ();
    json_array_foreach (cons, i, sc) {
        const char *w = tv_str (sc, "whenUnsatisfiable");
        if (w && strcmp (w, "DoNotSchedule"))
            continue;
        if (tv_str (sc, "topologyKey"))
            json_array_append_new (keys, json_string (tv_str (sc, "topologyKey")));
    }
    json_array_foreach (cons, i, sc) {
        const char *w = tv_str (sc, "whenUnsatisfiable"), *key = tv_str (sc, "topologyKey");
        if ((w && strcmp (w, "DoNotSchedule")) || !key)
            continue;
        const char *dv = label (n->labels, key);
        if (!dv) {
            violation (c, p, n->name, "topologySpread", "constraint %zu: the node has no %s label", i, key);
            continue;
        }
        const char *nap = tv_str (sc, "nodeAffinityPolicy"), *ntp = tv_str (sc, "nodeTaintsPolicy");
        int honor_aff = !nap || !strcmp (nap, "Honor"), honor_taints = ntp && !strcmp (ntp, "Honor");
        /* a group: same namespace, constraint, keys, and node filters → same counts */
        json_t *gk = json_pack ("[s,O,O,O,O,O,b,b]", p->ns, sc, keys, tv_get (p->obj, "spec.nodeSelector") ? tv_get (p->obj, "spec.nodeSelector") : json_null (),
                                tv_get (p->obj, "spec.affinity.nodeAffinity") ? tv_get (p->obj, "spec.affinity.nodeAffinity") : json_null (),
                                honor_taints && tv_get (p->obj, "spec.tolerations") ? tv_get (p->obj, "spec.tolerations") : json_null (),
                                honor_aff, honor_taints);
        json_t *mlk = json_object_get (sc, "matchLabelKeys");
        if (json_array_size (mlk)) {
            json_t *vals = json_array ();
            size_t k;
            json_t *kk;
            json_array_foreach (mlk, k, kk) {
                const char *v = label (p->labels, json_string_value (kk) ? json_string_value (kk) : "");
                json_array_append_new (vals, v ? json_string (v) : json_null ());
            }
            json_array_append_new (gk, vals);
        }
        char *gks = json_dumps (gk, JSON_SORT_KEYS | JSON_COMPACT);
        json_decref (gk);
        json_t *g = json_object_get (c->spread_cache, gks);
        if (!g) {
            json_t *counts = json_object ();
            selector_t *sel = json_is_object (json_object_get (sc, "labelSelector"))
                                  ? selector_from_object (json_object_get (sc, "labelSelector"), NULL, 0)
                                  : NULL;
            for (size_t ni = 0; ni < c->nnodes; ni++) {
                node_t *m = &c->nodes[ni];
                size_t k;
                json_t *kk;
                int ok = 1;
                json_array_foreach (keys, k, kk) if (!label (m->labels, json_string_value (kk))) ok = 0;
                char why[8];
                if (ok && honor_aff && (!node_selector_ok (p->obj, m, why, sizeof why) || !node_affinity_ok (p->obj, m)))
                    ok = 0;
                if (ok && honor_taints && untolerated (p->obj, m, -1))
                    ok = 0;
                if (!ok)
                    continue;
                const char *v = label (m->labels, key);
                json_int_t cnt = json_integer_value (json_object_get (counts, v));
                for (size_t j = 0; j < m->npods; j++)
                    if (spread_matches (sel, mlk, p, &c->pods[m->pods[j]]))
                        cnt++;
                json_object_set_new (counts, v, json_integer (cnt));
            }
            selector_destroy (&sel);
            json_int_t min = -1;
            const char *dk;
            json_t *dvv;
            json_object_foreach (counts, dk, dvv) if (min < 0 || json_integer_value (dvv) < min) min = json_integer_value (dvv);
            json_int_t min_domains = tv_int (sc, "minDomains", 1);
            if ((json_int_t) json_object_size (counts) < min_domains || min < 0)
                min = 0;
            g = json_pack ("{s:o,s:I}", "counts", counts, "min", min);
            json_object_set_new (c->spread_cache, gks, g);
        }
        free (gks);
        json_t *cv = json_object_get (json_object_get (g, "counts"), dv);
        if (!cv) {
            violation (c, p, n->name, "topologySpread", "constraint %zu: the node is not eligible for the pod's own constraint", i);
            continue;
        }
        json_int_t here = json_integer_value (cv), min = json_integer_value (json_object_get (g, "min"));
        json_int_t max_skew = tv_int (sc, "maxSkew", 1);
        if (here - min > max_skew)
            violation (c, p, n->name, "topologySpread", "constraint %zu: %s=%s holds %lld matching pods, the least %lld: skew %lld > maxSkew %lld",
                       i, key, dv, (long long) here, (long long) min, (long long) (here - min), (long long) max_skew);
    }
    json_decref (keys);
}

static void
check_events (ctx_t *c, const json_t *events)
{
    json_t *count = json_object (), *where = json_object ();
    size_t i;
    json_t *e;
    json_array_foreach (events, i, e) {
        const char *reason = tv_str (e, "reason"), *kind = tv_str (e, "involvedObject.kind");
        if (!reason || strcmp (reason, "Scheduled") || (kind && strcmp (kind, "Pod")))
            continue;
        const char *uid = tv_str (e, "involvedObject.uid");
        char key[400];
        if (uid && *uid)
            snprintf (key, sizeof key, "uid:%s", uid);
        else
            snprintf (key, sizeof key, "%s/%s", tv_str (e, "involvedObject.namespace") ? tv_str (e, "involvedObject.namespace") : "",
                      tv_str (e, "involvedObject.name") ? tv_str (e, "involvedObject.name") : "");
        json_int_t n = tv_int (e, "count", 1);
        if (n < 1)
            n = 1;
        json_object_set_new (count, key, json_integer (json_integer_value (json_object_get (count, key)) + n));
        const char *msg = tv_str (e, "message");
        const char *to = msg ? strstr (msg, " to ") : NULL;
        if (to) {
            const char *last;
            while ((last = strstr (to + 4, " to ")))
                to = last;
            json_t *arr = json_object_get (where, key);
            if (!arr) {
                arr = json_array ();
                json_object_set_new (where, key, arr);
            }
            json_array_append_new (arr, json_string (to + 4));
        }
    }
    for (size_t pi = 0; pi < c->npods; pi++) {
        pod_t *p = &c->pods[pi];
        if (!p->node_name)
            continue;
        char k1[400], k2[400];
        snprintf (k1, sizeof k1, "uid:%s", p->uid ? p->uid : "");
        snprintf (k2, sizeof k2, "%s", p->key);
        json_int_t n = json_integer_value (json_object_get (count, k1)) + json_integer_value (json_object_get (count, k2));
        if (n > 0)
            c->out->with_scheduled_event++;
        if (n > 1)
            violation (c, p, p->node_name, "bound-once", "%lld Scheduled events", (long long) n);
        const json_t *arrs[2] = {json_object_get (where, k1), json_object_get (where, k2)};
        for (int a = 0; a < 2; a++) {
            size_t j;
            json_t *s;
            json_array_foreach (arrs[a], j, s) if (strcmp (json_string_value (s), p->node_name))
                violation (c, p, p->node_name, "bound-once", "a Scheduled event assigned it to %s", json_string_value (s));
        }
    }
    json_decref (count);
    json_decref (where);
}

static int64_t
bound_time (const json_t *pod)
{
    size_t i;
    json_t *cd;
    json_array_foreach (tv_get (pod, "status.conditions"), i, cd) {
        const char *t = tv_str (cd, "type"), *s = tv_str (cd, "status");
        if (t && !strcmp (t, "PodScheduled") && s && !strcmp (s, "True") && tv_str (cd, "lastTransitionTime"))
            return tr_time_parse (tv_str (cd, "lastTransitionTime"));
    }
    return -1;
}

int
pc_check (const json_t *pods_in, const json_t *nodes_in, const json_t *events_in, pc_result_t *out, char *err,
          size_t errlen)
{
    memset (out, 0, sizeof *out);
    const json_t *pods = list_items (pods_in), *nodes = list_items (nodes_in);
    if (!pods || !nodes) {
        snprintf (err, errlen, "%s is not a list (kind List with items, or an array)", !pods ? "pods" : "nodes");
        return -1;
    }
    ctx_t c = {0};
    c.out = out;
    c.npods = json_array_size (pods);
    c.nnodes = json_array_size (nodes);
    c.pods = calloc (c.npods + 1, sizeof *c.pods);
    c.nodes = calloc (c.nnodes + 1, sizeof *c.nodes);
    c.node_by_name = json_object ();
    c.domains = json_object ();
    c.spread_cache = json_object ();
    c.anti_seen = json_object ();
    c.anti_pending = json_object ();
    c.empty = json_object ();
    const json_t *empty = c.empty;
    size_t i;
    json_t *o;
    json_array_foreach (nodes, i, o) {
        node_t *n = &c.nodes[i];
        n->obj = o;
        n->name = tv_str (o, "metadata.name") ? tv_str (o, "metadata.name") : "";
        n->labels = json_is_object (tv_get (o, "metadata.labels")) ? tv_get (o, "metadata.labels") : empty;
        const json_t *al = tv_get (o, "status.allocatable");
        if (!json_is_object (al))
            al = tv_get (o, "status.capacity");
        if (json_is_object (al))
            res_add_map (&n->alloc, al);
        json_object_set_new (c.node_by_name, n->name, json_integer ((json_int_t) i));
    }
    out->nodes = c.nnodes;
    out->pods = c.npods;
    json_array_foreach (pods, i, o) {
        pod_t *p = &c.pods[i];
        p->obj = o;
        p->ns = tv_str (o, "metadata.namespace") ? tv_str (o, "metadata.namespace") : "default";
        p->name = tv_str (o, "metadata.name") ? tv_str (o, "metadata.name") : "";
        p->uid = tv_str (o, "metadata.uid");
        p->labels = json_is_object (tv_get (o, "metadata.labels")) ? tv_get (o, "metadata.labels") : empty;
        p->node_name = tv_str (o, "spec.nodeName");
        if (p->node_name && !*p->node_name)
            p->node_name = NULL;
        p->node = -1;
        p->bound_ms = bound_time (o);
        snprintf (p->key, sizeof p->key, "%s/%s", p->ns, p->name);
        const char *phase = tv_str (o, "status.phase");
        int terminated = phase && (!strcmp (phase, "Succeeded") || !strcmp (phase, "Failed"));
        if (!p->node_name) {
            out->pending++;
            continue;
        }
        if (terminated) {
            out->terminated++;
            continue;
        }
        out->bound++;
        json_t *ix = json_object_get (c.node_by_name, p->node_name);
        if (!ix) {
            violation (&c, p, p->node_name, "node", "bound to a node that does not exist");
            continue;
        }
        p->node = (int) json_integer_value (ix);
        p->active = 1;
        node_t *n = &c.nodes[p->node];
        if (n->npods == n->cap) {
            n->cap = n->cap ? n->cap * 2 : 8;
            n->pods = realloc (n->pods, n->cap * sizeof *n->pods);
        }
        n->pods[n->npods++] = i;
    }
    check_resources (&c, out);
    for (size_t pi = 0; pi < c.npods; pi++) {
        pod_t *p = &c.pods[pi];
        if (!p->active)
            continue;
        check_node_rules (&c, p);
        check_pod_affinity (&c, p, 0);
        check_pod_affinity (&c, p, 1);
        check_spread (&c, p);
    }
    const char *pk;
    json_t *pv;
    json_object_foreach (c.anti_pending, pk, pv) {
        if (json_object_get (c.anti_seen, pk))
            continue;
        pod_t *q = &c.pods[json_integer_value (json_array_get (pv, 0))];
        violation (&c, q, c.nodes[q->node].name, "podAntiAffinity", "%s", json_string_value (json_array_get (pv, 1)));
    }
    if (events_in) {
        const json_t *events = list_items (events_in);
        if (events) {
            out->events_checked = 1;
            check_events (&c, events);
        }
    }
    for (size_t ni = 0; ni < c.nnodes; ni++)
        free (c.nodes[ni].pods);
    free (c.nodes);
    free (c.pods);
    json_decref (c.node_by_name);
    json_decref (c.domains);
    json_decref (c.spread_cache);
    json_decref (c.anti_seen);
    json_decref (c.anti_pending);
    json_decref (c.empty);
    return (int) out->nviol;
}

void
pc_result_clear (pc_result_t *r)
{
    if (!r)
        return;
    free (r->viol);
    memset (r, 0, sizeof *r);
}

size_t
pc_count (const pc_result_t *r, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nviol; i++)
        if (!strcmp (r->viol[i].rule, rule))
            n++;
    return n;
}
