/* sched_fixture — see sched_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/sched_fixture.h"

#include "actors/scheduler/defaultsel.h"
#include "actors/scheduler/framework.h"
#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/pdblister.h"
#include "actors/scheduler/snapshot.h"

#include "core/meta.h"
#include "core/quantity.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_MAX 512

static int label_index; /* fx_label_index */

void
fx_label_index (int on)
{
    label_index = on;
}

struct fx {
    json_t *doc;                        /* every object built, kept alive here */
    tr_sched_node_t nodes[64];
    const tr_sched_node_t *node_ptrs[64];
    const tr_sched_node_t *aff_nodes[64];
    uint32_t nnodes;
    tr_sched_pod_t pods[FX_MAX];
    uint32_t npods;
    /* per node lists */
    const tr_sched_pod_t *lists[64][3][FX_MAX / 8];
    tr_sched_snapshot_t snap;
    pdblister_t *pdbl; /* "pdbs" of the fixture text, built at the first host->pdbs */
};

static void
res_add_scalar (tr_sched_res_t *r, const char *name, int64_t v)
{
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (!strcmp (r->scalar[i].name, name)) {
            r->scalar[i].value += v;
            return;
        }
    const char *in = r->nscalar < TR_SCHED_MAX_SCALAR ? snap_intern_resource (name) : NULL;
    if (in) {
        r->scalar[r->nscalar].name = in;
        r->scalar[r->nscalar++].value = v;
    }
}

static int64_t
q_units (const json_t *v)
{
    int64_t out = 0;
    if (json_is_integer (v))
        return json_integer_value (v);
    if (json_is_string (v) && quantity_parse (json_string_value (v), &out, NULL, 0) == 0)
        return out;
    return 0;
}

static int64_t
q_milli (const json_t *v)
{
    int64_t out = 0;
    if (json_is_integer (v))
        return json_integer_value (v) * 1000;
    if (json_is_string (v) && quantity_parse_milli (json_string_value (v), &out, NULL, 0) == 0)
        return out;
    return 0;
}

/* As Kubernetes' nextGeneration: one counter for every node of every fixture, so a node made
 * again (even at the same address) never carries a generation a cache has seen. */
static uint64_t
fx_next_generation (void)
{
    static uint64_t g;
    return ++g;
}

/* A new reference: v's when present (dflt then dropped), else dflt. */
static json_t *
or_new (json_t *v, json_t *dflt)
{
    if (!v)
        return dflt;
    json_decref (dflt);
    return json_incref (v);
}

static void
build_pod (fx_t *self, tr_sched_pod_t *p, json_t *c)
{
    const char *ns = json_string_value (json_object_get (c, "ns"));
    const char *name = json_string_value (json_object_get (c, "name"));
    json_t *labels = json_object_get (c, "labels");
    json_t *spec = json_object_get (c, "spec") ? json_deep_copy (json_object_get (c, "spec")) : json_object ();
    json_t *req = json_object ();
    if (json_object_get (c, "cpu"))
        json_object_set (req, "cpu", json_object_get (c, "cpu"));
    if (json_object_get (c, "memory"))
        json_object_set (req, "memory", json_object_get (c, "memory"));
    json_object_update (req, json_object_get (c, "ext"));
    json_object_set_new (spec, "containers", json_pack ("[{s:s,s:{s:o}}]", "name", "c", "resources", "requests", req));
    if (json_object_get (c, "node"))
        json_object_set (spec, "nodeName", json_object_get (c, "node"));
    if (json_object_get (c, "priority"))
        json_object_set (spec, "priority", json_object_get (c, "priority"));
    json_t *meta = json_pack ("{s:s,s:s,s:s,s:o}", "name", name ? name : "p", "namespace", ns ? ns : "default", "uid",
                              name ? name : "p", "labels", or_new (labels, json_object ()));
    if (json_object_get (c, "owner")) {
        const char *kind = json_string_value (json_object_get (c, "owner"));
        const char *av = kind && !strcmp (kind, "ReplicationController") ? "v1" : "apps/v1";
        const char *oname = json_string_value (json_object_get (c, "ownerName"));
        json_object_set_new (meta, "ownerReferences",
                             json_pack ("[{s:s,s:O,s:s,s:b}]", "apiVersion", av, "kind", json_object_get (c, "owner"),
                                        "name", oname ? oname : "owner", "controller", 1));
    }
    if (json_is_true (json_object_get (c, "deleting")))
        json_object_set_new (meta, "deletionTimestamp", json_string ("2026-01-01T00:00:00Z"));
    json_t *status = json_object ();
    if (json_object_get (c, "start"))
        json_object_set (status, "startTime", json_object_get (c, "start"));
    if (json_is_true (json_object_get (c, "preempted"))) /* marked by the scheduler's preemption */
        json_object_set_new (status, "conditions",
                             json_pack ("[{s:s,s:s,s:s}]", "type", "DisruptionTarget", "status", "True", "reason",
                                        "PreemptionByScheduler"));
    json_t *obj = json_pack ("{s:s,s:s,s:o,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", meta, "spec", spec,
                             "status", status);
    json_array_append_new (json_object_get (self->doc, "objs"), obj);
    meta = json_object_get (obj, "metadata");
    spec = json_object_get (obj, "spec");
    memset (p, 0, sizeof *p);
    p->size = sizeof *p;
    p->obj = obj;
    p->ns = json_string_value (json_object_get (meta, "namespace"));
    p->name = json_string_value (json_object_get (meta, "name"));
    p->uid = json_string_value (json_object_get (meta, "uid"));
    p->labels = json_object_get (meta, "labels");
    p->priority = (int32_t) json_integer_value (json_object_get (spec, "priority"));
    p->start_ms = json_string_value (json_object_get (c, "start")) ? tr_time_parse (json_string_value (json_object_get (c, "start")))
                                                                   : INT64_MAX;
    p->requests.milli_cpu = q_milli (json_object_get (req, "cpu"));
    p->requests.memory = q_units (json_object_get (req, "memory"));
    p->requests.ephemeral_storage = q_units (json_object_get (req, "ephemeral-storage"));
    p->requests.pods = 1;
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get (c, "ext"), k, v) {
        if (strcmp (k, "ephemeral-storage"))
            res_add_scalar (&p->requests, k, q_units (v));
    }
    p->nonzero_milli_cpu = p->requests.milli_cpu ? p->requests.milli_cpu : 100;
    p->nonzero_memory = p->requests.memory ? p->requests.memory : 200ll * 1024 * 1024;
    p->node_name = json_string_value (json_object_get (spec, "nodeName"));
    const json_t *aff = json_object_get (spec, "affinity");
    p->has_affinity = json_object_get (aff, "podAffinity") || json_object_get (aff, "podAntiAffinity");
    p->has_required_anti_affinity = json_array_size (json_object_get (
                                        json_object_get (aff, "podAntiAffinity"),
                                        "requiredDuringSchedulingIgnoredDuringExecution")) > 0;
    p->terminating = json_object_get (meta, "deletionTimestamp") != NULL;
}

static void
build_node (fx_t *self, tr_sched_node_t *n, json_t *c)
{
    const char *name = json_string_value (json_object_get (c, "name"));
    json_t *labels = json_object_get (c, "labels") ? json_deep_copy (json_object_get (c, "labels")) : json_object ();
    if (!json_object_get (labels, "kubernetes.io/hostname"))
        json_object_set_new (labels, "kubernetes.io/hostname", json_string (name));
    json_t *alloc = json_pack ("{s:o,s:o,s:o}", "cpu", or_new (json_object_get (c, "cpu"), json_string ("4")), "memory",
                               or_new (json_object_get (c, "memory"), json_string ("8Gi")), "pods",
                               or_new (json_object_get (c, "pods"), json_integer (110)));
    json_object_update (alloc, json_object_get (c, "ext"));
    json_t *spec = json_object ();
    if (json_object_get (c, "taints"))
        json_object_set (spec, "taints", json_object_get (c, "taints"));
    json_t *obj = json_pack ("{s:s,s:s,s:{s:s,s:o},s:o,s:{s:o}}", "apiVersion", "v1", "kind", "Node", "metadata", "name",
                             name, "labels", labels, "spec", spec, "status", "allocatable", alloc);
    json_array_append_new (json_object_get (self->doc, "objs"), obj);
    memset (n, 0, sizeof *n);
    n->size = sizeof *n;
    n->obj = obj;
    n->name = name;
    n->labels = json_object_get (json_object_get (obj, "metadata"), "labels");
    if (label_index)
        n->label_index = nodelabels_new (n->labels);
    n->generation = fx_next_generation ();
    n->allocatable.milli_cpu = q_milli (json_object_get (alloc, "cpu"));
    n->allocatable.memory = q_units (json_object_get (alloc, "memory"));
    n->allocatable.ephemeral_storage = q_units (json_object_get (alloc, "ephemeral-storage"));
    n->allocatable.pods = q_units (json_object_get (alloc, "pods"));
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get (c, "ext"), k, v) {
        if (strcmp (k, "ephemeral-storage"))
            res_add_scalar (&n->allocatable, k, q_units (v));
    }
}

/* Puts a pod built with spec.nodeName on its node. */
static int
attach (fx_t *self, tr_sched_pod_t *p)
{
    tr_sched_node_t *n = (tr_sched_node_t *) fx_node (self, p->node_name ? p->node_name : "");
    if (!n)
        return -1;
    size_t ni = (size_t) (n - self->nodes);
    self->lists[ni][0][n->npods++] = p;
    if (p->has_affinity)
        self->lists[ni][1][n->npods_with_affinity++] = p;
    if (p->has_required_anti_affinity)
        self->lists[ni][2][n->npods_with_required_anti_affinity++] = p;
    n->requested.milli_cpu += p->requests.milli_cpu;
    n->requested.memory += p->requests.memory;
    n->requested.ephemeral_storage += p->requests.ephemeral_storage;
    n->requested.pods++;
    for (uint32_t s = 0; s < p->requests.nscalar; s++)
        res_add_scalar (&n->requested, p->requests.scalar[s].name, p->requests.scalar[s].value);
    n->nonzero_milli_cpu += p->nonzero_milli_cpu;
    n->nonzero_memory += p->nonzero_memory;
    n->generation = fx_next_generation ();
    return 0;
}

/* The snapshot's list of nodes holding pods with affinity. */
static void
refresh (fx_t *self)
{
    uint32_t naff = 0;
    for (uint32_t k = 0; k < self->snap.nnodes; k++)
        if (self->nodes[k].npods_with_affinity)
            self->aff_nodes[naff++] = &self->nodes[k];
    self->snap.nnodes_with_affinity = naff;
    self->snap.nodes_with_affinity = self->aff_nodes;
}

static void
list_remove (const tr_sched_pod_t **l, uint32_t *n, const tr_sched_pod_t *p)
{
    for (uint32_t i = 0; i < *n; i++)
        if (l[i] == p) {
            l[i] = l[--*n];
            return;
        }
}

const tr_sched_pod_t *
fx_bind (fx_t *self, const char *json)
{
    const tr_sched_pod_t *p = fx_pod (self, json);
    if (!p || attach (self, (tr_sched_pod_t *) p) < 0)
        return NULL;
    refresh (self);
    return p;
}

int
fx_unbind (fx_t *self, const char *name)
{
    for (uint32_t k = 0; k < self->nnodes; k++) {
        tr_sched_node_t *n = &self->nodes[k];
        for (uint32_t i = 0; i < n->npods; i++) {
            const tr_sched_pod_t *p = n->pods[i];
            if (strcmp (p->name, name))
                continue;
            list_remove (self->lists[k][0], &n->npods, p);
            list_remove (self->lists[k][1], &n->npods_with_affinity, p);
            list_remove (self->lists[k][2], &n->npods_with_required_anti_affinity, p);
            n->requested.milli_cpu -= p->requests.milli_cpu;
            n->requested.memory -= p->requests.memory;
            n->requested.ephemeral_storage -= p->requests.ephemeral_storage;
            n->requested.pods--;
            n->nonzero_milli_cpu -= p->nonzero_milli_cpu;
            n->nonzero_memory -= p->nonzero_memory;
            n->generation = fx_next_generation ();
            refresh (self);
            return 0;
        }
    }
    return -1;
}

void
fx_set_nnodes (fx_t *self, uint32_t n)
{
    if (n <= self->nnodes)
        self->snap.nnodes = n;
    refresh (self);
}

fx_t *
fx_new (const char *text)
{
    json_error_t jerr;
    json_t *in = json_loads (text, 0, &jerr);
    if (!in) {
        fprintf (stderr, "fixture: %s at line %d\n", jerr.text, jerr.line);
        return NULL;
    }
    fx_t *self = calloc (1, sizeof *self);
    self->doc = json_pack ("{s:o,s:o}", "in", in, "objs", json_array ());
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get (in, "nodes"), i, c) {
        build_node (self, &self->nodes[self->nnodes], c);
        self->node_ptrs[self->nnodes] = &self->nodes[self->nnodes];
        self->nnodes++;
    }
    json_array_foreach (json_object_get (in, "pods"), i, c) {
        tr_sched_pod_t *p = &self->pods[self->npods++];
        build_pod (self, p, c);
        if (attach (self, p) < 0)
            fprintf (stderr, "fixture: pod %s on unknown node\n", p->name);
    }
    for (uint32_t k = 0; k < self->nnodes; k++) {
        tr_sched_node_t *n = &self->nodes[k];
        n->pods = self->lists[k][0];
        n->pods_with_affinity = self->lists[k][1];
        n->pods_with_required_anti_affinity = self->lists[k][2];
    }
    self->snap.nnodes = self->nnodes;
    refresh (self);
    self->snap.size = sizeof self->snap;
    self->snap.nnodes = self->nnodes;
    self->snap.nodes = self->node_ptrs;
    return self;
}

void
fx_set_namespace (fx_t *self, const char *ns, const char *labels_json)
{
    json_t *in = json_object_get (self->doc, "in");
    if (!json_object_get (in, "namespaces"))
        json_object_set_new (in, "namespaces", json_object ());
    json_t *all = json_object_get (in, "namespaces");
    if (labels_json)
        json_object_set_new (all, ns, json_loads (labels_json, 0, NULL));
    else
        json_object_del (all, ns);
}

void
fx_set_listed (fx_t *self, const char *key, const char *objs_json)
{
    json_t *in = json_object_get (self->doc, "in");
    if (objs_json)
        json_object_set_new (in, key, json_loads (objs_json, 0, NULL));
    else
        json_object_del (in, key);
    pdblister_destroy (&self->pdbl); /* built again from "pdbs" when asked */
}

void
fx_destroy (fx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < sizeof (*self_p)->nodes / sizeof (*self_p)->nodes[0]; i++) {
        nodelabels_t *ix = (nodelabels_t *) (*self_p)->nodes[i].label_index;
        nodelabels_destroy (&ix);
    }
    json_decref ((*self_p)->doc);
    pdblister_destroy (&(*self_p)->pdbl);
    free (*self_p);
    *self_p = NULL;
}

const tr_sched_pod_t *
fx_pod (fx_t *self, const char *text)
{
    json_error_t jerr;
    json_t *c = json_loads (text, 0, &jerr);
    if (!c || self->npods >= FX_MAX) {
        fprintf (stderr, "fixture pod: %s\n", c ? "too many pods" : jerr.text);
        json_decref (c);
        return NULL;
    }
    json_array_append_new (json_object_get (self->doc, "objs"), c);
    tr_sched_pod_t *p = &self->pods[self->npods++];
    build_pod (self, p, c);
    return p;
}

const tr_sched_snapshot_t *
fx_snapshot (fx_t *self)
{
    return &self->snap;
}

const tr_sched_node_t *
fx_node (fx_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->nnodes; i++)
        if (!strcmp (self->nodes[i].name, name))
            return &self->nodes[i];
    return NULL;
}

/* ---- the host table ---------------------------------------------------------------------- */

static void
h_log (int level, const char *plugin, const char *fmt, ...)
{
    (void) level;
    (void) plugin;
    (void) fmt;
}

static const char *
h_intern (tr_sched_cycle_t *cs, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    if (cs->ninterned >= 64)
        return "(interned overflow)";
    return cs->interned[cs->ninterned++] = strdup (buf);
}

static void
h_write (tr_sched_cycle_t *cs, const char *key, void *data, void (*free_fn) (void *))
{
    int empty = -1;
    for (int i = 0; i < 16; i++) {
        if (cs->kv[i].key[0] && !strcmp (cs->kv[i].key, key)) {
            if (cs->kv[i].free_fn)
                cs->kv[i].free_fn (cs->kv[i].data);
            cs->kv[i].data = data;
            cs->kv[i].free_fn = free_fn;
            return;
        }
        if (!cs->kv[i].key[0] && empty < 0)
            empty = i;
    }
    if (empty < 0)
        abort ();
    snprintf (cs->kv[empty].key, sizeof cs->kv[0].key, "%s", key);
    cs->kv[empty].data = data;
    cs->kv[empty].free_fn = free_fn;
}

static void *
h_read (tr_sched_cycle_t *cs, const char *key)
{
    for (int i = 0; i < 16; i++)
        if (cs->kv[i].key[0] && !strcmp (cs->kv[i].key, key))
            return cs->kv[i].data;
    return NULL;
}

static const tr_sched_snapshot_t *
h_snapshot (tr_sched_cycle_t *cs)
{
    return &cs->fx->snap;
}

static const tr_sched_node_t *
h_node (tr_sched_cycle_t *cs, const char *name)
{
    return fx_node (cs->fx, name);
}

/* The cycle-free services are the framework's own (fw_host), so plugin tests see the selector
 * semantics the scheduler runs with. */
static int
h_quantity_milli (const char *text, int64_t *out)
{
    return fw_host ()->quantity_milli (text, out);
}

static int
h_label_selector_match (const json_t *sel, const json_t *labels)
{
    return fw_host ()->label_selector_match (sel, labels);
}

static int
h_node_selector_match (const json_t *terms, const tr_sched_node_t *node)
{
    return fw_host ()->node_selector_match (terms, node);
}

/* "namespaces": {"name": {labels}} of the fixture text */
static const json_t *
h_namespace_labels (tr_sched_cycle_t *cs, const char *ns)
{
    return json_object_get (json_object_get (json_object_get (cs->fx->doc, "in"), "namespaces"), ns);
}

/* "services", "replicationcontrollers", "replicasets", "statefulsets" of the fixture text, through
 * the scheduler's own defaultsel; none of them: the host has no listers (-1) */
static int
h_default_selector (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, json_t **selector)
{
    static const char *const keys[DSEL_NKINDS] = {"services", "replicationcontrollers", "replicasets", "statefulsets"};
    const json_t *in = json_object_get (cs->fx->doc, "in");
    *selector = NULL;
    int any = 0;
    for (int k = 0; k < DSEL_NKINDS; k++)
        any |= json_object_get (in, keys[k]) != NULL;
    if (!any)
        return -1;
    defaultsel_t *ds = defaultsel_new ();
    for (int k = 0; k < DSEL_NKINDS; k++) {
        size_t i;
        const json_t *o;
        json_array_foreach (json_object_get (in, keys[k]), i, o) {
            json_t *obj = json_pack ("{s:{s:O*,s:O*},s:{s:O*}}", "metadata", "name", json_object_get (o, "name"), "namespace",
                                     json_object_get (o, "ns"), "spec", "selector", json_object_get (o, "selector"));
            json_t *view = defaultsel_view (obj);
            defaultsel_put (ds, (dsel_kind_t) k, view);
            json_decref (view);
            json_decref (obj);
        }
    }
    *selector = defaultsel_of_pod (ds, pod->obj, pod->ns, pod->labels);
    defaultsel_destroy (&ds);
    return 0;
}

/* "pdbs": [{"name", "ns", "selector", "allowed", "disrupted": {pod: time}}] of the fixture text,
 * as full PDB objects through the scheduler's own lister and its informer view */
static size_t
h_pdbs (tr_sched_cycle_t *cs, const char *ns, const tr_sched_pdb_t *const **out)
{
    fx_t *fx = cs->fx;
    *out = NULL;
    if (!fx->pdbl) {
        fx->pdbl = pdblister_new ();
        size_t i;
        const json_t *o;
        json_array_foreach (json_object_get (json_object_get (fx->doc, "in"), "pdbs"), i, o) {
            json_t *obj = json_pack ("{s:s,s:s,s:{s:O*,s:O*},s:{s:O*},s:{s:O*,s:O*,s:i}}", "apiVersion", "policy/v1", "kind",
                                     "PodDisruptionBudget", "metadata", "name", json_object_get (o, "name"), "namespace",
                                     json_object_get (o, "ns"), "spec", "selector", json_object_get (o, "selector"),
                                     "status", "disruptionsAllowed", json_object_get (o, "allowed"), "disruptedPods",
                                     json_object_get (o, "disrupted"), "currentHealthy", 9);
            json_t *view = pdblister_view (obj);
            pdblister_put (fx->pdbl, view);
            json_decref (view);
            json_decref (obj);
        }
    }
    return pdblister_list (fx->pdbl, ns, out);
}

static int
h_preempt (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, const tr_sched_pod_t *const *victims,
           size_t n)
{
    (void) pod;
    cs->preempt_calls++;
    snprintf (cs->preempt_node, sizeof cs->preempt_node, "%s", node);
    cs->npreempt_victims = 0;
    for (size_t i = 0; i < n && i < 32; i++)
        snprintf (cs->preempt_victims[cs->npreempt_victims++], 64, "%s", victims[i]->name);
    return 0;
}

static const tr_sched_host_t fx_host_table = {
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
    .namespace_labels = h_namespace_labels,
    .default_selector = h_default_selector,
    .pdbs = h_pdbs,
};

const tr_sched_host_t *
fx_host (void)
{
    return &fx_host_table;
}

tr_sched_cycle_t *
fx_cycle (fx_t *self)
{
    tr_sched_cycle_t *cs = calloc (1, sizeof *cs);
    cs->fx = self;
    return cs;
}

void
fx_cycle_end (tr_sched_cycle_t **cs_p)
{
    tr_sched_cycle_t *cs = *cs_p;
    if (!cs)
        return;
    for (int i = 0; i < 16; i++)
        if (cs->kv[i].key[0] && cs->kv[i].free_fn)
            cs->kv[i].free_fn (cs->kv[i].data);
    for (size_t i = 0; i < cs->ninterned; i++)
        free (cs->interned[i]);
    free (cs);
    *cs_p = NULL;
}

/* ---- table rows --------------------------------------------------------------------------- */

/* A row's fixture, incoming pod and cycle. */
static tr_sched_cycle_t *
row_begin (size_t r, const char *label, const char *cluster, const char *podj, fx_t **fx, const tr_sched_pod_t **pod)
{
    if (!(*fx = fx_new (cluster)))
        fail_msg ("row %zu (%s): bad fixture", r, label);
    *pod = fx_pod (*fx, podj);
    assert_non_null (*pod);
    return fx_cycle (*fx);
}

void
fx_filter_row (const tr_sched_plugin_t *pl, void *self, size_t r, const char *label, const char *cluster,
               const char *podj, const char *const *want_r, int skip, const char *unresolvable)
{
    fx_t *fx;
    const tr_sched_pod_t *pod;
    tr_sched_cycle_t *cs = row_begin (r, label, cluster, podj, &fx, &pod);
    tr_sched_status_t st = pl->pre_filter (self, cs, pod);
    if (st.code != (skip ? TR_SCHED_SKIP : TR_SCHED_SUCCESS))
        fail_msg ("row %zu (%s): pre_filter code %d", r, label, st.code);
    const tr_sched_snapshot_t *snap = fx_snapshot (fx);
    for (uint32_t i = 0; i < snap->nnodes; i++) {
        tr_sched_status_t f = pl->filter (self, cs, pod, snap->nodes[i]);
        const char *want = want_r[i] ? want_r[i] : "";
        const char *got = f.code == TR_SCHED_SUCCESS ? "" : (f.reason ? f.reason : "(null)");
        if (strcmp (want, got))
            fail_msg ("row %zu (%s): node %s: want \"%s\", got \"%s\"", r, label, snap->nodes[i]->name, want, got);
        if (unresolvable && !strcmp (want, unresolvable))
            assert_int_equal (f.code, TR_SCHED_UNRESOLVABLE);
        else if (*want)
            assert_int_equal (f.code, TR_SCHED_UNSCHEDULABLE);
    }
    fx_cycle_end (&cs);
    fx_destroy (&fx);
}

void
fx_score_row (const tr_sched_plugin_t *pl, void *self, size_t r, const char *label, const char *cluster,
              const char *podj, int pre_filter, const int64_t *raw, const int64_t *norm, int skip, int score_skipped)
{
    fx_t *fx;
    const tr_sched_pod_t *pod;
    tr_sched_cycle_t *cs = row_begin (r, label, cluster, podj, &fx, &pod);
    const tr_sched_snapshot_t *snap = fx_snapshot (fx);
    if (pre_filter >= 0)
        assert_int_equal (pl->pre_filter (self, cs, pod).code, pre_filter);
    tr_sched_status_t st = pl->pre_score (self, cs, pod, snap->nodes, snap->nnodes);
    if (st.code != (skip ? TR_SCHED_SKIP : TR_SCHED_SUCCESS))
        fail_msg ("row %zu (%s): pre_score code %d", r, label, st.code);
    if (!skip || score_skipped) {
        int64_t scores[64] = {0};
        for (uint32_t i = 0; i < snap->nnodes; i++) {
            assert_int_equal (pl->score (self, cs, pod, snap->nodes[i], &scores[i]).code, TR_SCHED_SUCCESS);
            if (scores[i] != raw[i])
                fail_msg ("row %zu (%s): node %u raw %lld want %lld", r, label, i, (long long) scores[i],
                          (long long) raw[i]);
        }
        assert_int_equal (pl->normalize_score (self, cs, pod, scores, snap->nnodes).code, TR_SCHED_SUCCESS);
        for (uint32_t i = 0; i < snap->nnodes; i++)
            if (scores[i] != norm[i])
                fail_msg ("row %zu (%s): node %u normalized %lld want %lld", r, label, i, (long long) scores[i],
                          (long long) norm[i]);
    }
    fx_cycle_end (&cs);
    fx_destroy (&fx);
}

tr_sched_code_t
fx_compare_filter (const tr_sched_plugin_t *pl, void *warm, void *fresh, tr_sched_cycle_t *a, tr_sched_cycle_t *b,
                   const tr_sched_pod_t *pod, int step, int *first_fit)
{
    tr_sched_status_t sa = pl->pre_filter (warm, a, pod), sb = pl->pre_filter (fresh, b, pod);
    assert_int_equal (sa.code, sb.code);
    const tr_sched_snapshot_t *snap = &a->fx->snap;
    *first_fit = -1;
    for (uint32_t i = 0; i < snap->nnodes; i++) {
        tr_sched_status_t fa = pl->filter (warm, a, pod, snap->nodes[i]);
        tr_sched_status_t fb = pl->filter (fresh, b, pod, snap->nodes[i]);
        if (fa.code != fb.code || (fa.reason && (!fb.reason || strcmp (fa.reason, fb.reason))))
            fail_msg ("step %d node %s: cached %d \"%s\", fresh %d \"%s\"", step, snap->nodes[i]->name, fa.code,
                      fa.reason ? fa.reason : "", fb.code, fb.reason ? fb.reason : "");
        if (fa.code == TR_SCHED_SUCCESS && *first_fit < 0)
            *first_fit = (int) i;
    }
    return sa.code;
}

int
fx_compare_score (const tr_sched_plugin_t *pl, void *warm, void *fresh, tr_sched_cycle_t *a, tr_sched_cycle_t *b,
                  const tr_sched_pod_t *pod, int step)
{
    const tr_sched_snapshot_t *snap = &a->fx->snap;
    tr_sched_status_t pa = pl->pre_score (warm, a, pod, snap->nodes, snap->nnodes);
    tr_sched_status_t pb = pl->pre_score (fresh, b, pod, snap->nodes, snap->nnodes);
    assert_int_equal (pa.code, pb.code);
    if (pa.code != TR_SCHED_SUCCESS)
        return 0;
    int64_t xa[64], xb[64];
    for (uint32_t i = 0; i < snap->nnodes; i++) {
        pl->score (warm, a, pod, snap->nodes[i], &xa[i]);
        pl->score (fresh, b, pod, snap->nodes[i], &xb[i]);
        if (xa[i] != xb[i])
            fail_msg ("step %d node %s: cached raw score %lld, fresh %lld", step, snap->nodes[i]->name, (long long) xa[i],
                      (long long) xb[i]);
    }
    pl->normalize_score (warm, a, pod, xa, snap->nnodes);
    pl->normalize_score (fresh, b, pod, xb, snap->nnodes);
    for (uint32_t i = 0; i < snap->nnodes; i++)
        if (xa[i] != xb[i])
            fail_msg ("step %d node %s: cached score %lld, fresh %lld", step, snap->nodes[i]->name, (long long) xa[i],
                      (long long) xb[i]);
    return 1;
}
