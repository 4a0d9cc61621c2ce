/* The scheduler's snapshot: a pod's effective requests (containers summed, init containers as a
 * maximum, overhead added, non-zero defaults), allocatable parsed once (garbage counts 0), the
 * events a node update raises (none for a heartbeat), assume / forget / confirm, pods of unknown
 * nodes, terminal and deleted pods, the affinity lists and the view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/snapshot.h"
#include "core/value.h"

static json_t *
J (const char *text)
{
    json_error_t e;
    json_t *j = json_loads (text, 0, &e);
    if (!j)
        fail_msg ("bad json: %s: %s", e.text, text);
    return j;
}

static void
pod_requests (void **state)
{
    (void) state;
    json_t *p = J ("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u1\",\"labels\":{\"a\":\"b\"}},"
                   "\"spec\":{\"priority\":7,\"overhead\":{\"cpu\":\"50m\",\"memory\":\"1Mi\"},"
                   "\"initContainers\":[{\"name\":\"i1\",\"resources\":{\"requests\":{\"cpu\":\"2\",\"example.com/x\":\"3\"}}},"
                   "{\"name\":\"i2\",\"resources\":{\"requests\":{\"memory\":\"100Mi\"}}}],"
                   "\"containers\":[{\"name\":\"c1\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"64Mi\",\"ephemeral-storage\":\"1Gi\"}}},"
                   "{\"name\":\"c2\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"example.com/x\":\"1\"}}},"
                   "{\"name\":\"c3\"}],"
                   "\"affinity\":{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"topologyKey\":\"k\"}]}}}}");
    tr_sched_pod_t t;
    assert_int_equal (snap_pod_fill (&t, p), 0);
    assert_string_equal (t.uid, "u1");
    assert_string_equal (t.ns, "d");
    assert_int_equal (t.priority, 7);
    assert_string_equal (json_string_value (json_object_get (t.labels, "a")), "b");
    /* cpu: max (750m, 2000m) + 50m; memory: max (64Mi, 100Mi) + 1Mi; x: max (1, 3) */
    assert_int_equal (t.requests.milli_cpu, 2050);
    assert_int_equal (t.requests.memory, 101LL * 1024 * 1024);
    assert_int_equal (t.requests.ephemeral_storage, 1LL << 30);
    assert_int_equal (t.requests.pods, 1);
    assert_int_equal (t.requests.nscalar, 1);
    assert_string_equal (t.requests.scalar[0].name, "example.com/x");
    assert_int_equal (t.requests.scalar[0].value, 3);
    /* non-zero: containers 500m + 250m + 100m (c3 asks none) = 850m vs init max (2000m) + 50m */
    assert_int_equal (t.nonzero_milli_cpu, 2050);
    /* memory: 64Mi + 200Mi + 200Mi = 464Mi vs init max (200Mi default for i1, 100Mi) → 464Mi + 1Mi */
    assert_int_equal (t.nonzero_memory, 465LL * 1024 * 1024);
    assert_true (t.has_affinity);
    assert_true (t.has_required_anti_affinity);
    assert_null (t.node_name);
    json_decref (p);
    /* a pod asking nothing: the non-zero defaults */
    p = J ("{\"metadata\":{\"name\":\"q\",\"uid\":\"u2\"},\"spec\":{\"containers\":[{\"name\":\"c\"}],\"nodeName\":\"n\"}}");
    assert_int_equal (snap_pod_fill (&t, p), 0);
    assert_int_equal (t.requests.milli_cpu, 0);
    assert_int_equal (t.nonzero_milli_cpu, 100);
    assert_int_equal (t.nonzero_memory, 200LL * 1024 * 1024);
    assert_string_equal (t.node_name, "n");
    assert_false (t.has_affinity);
    json_decref (p);
    p = J ("{\"metadata\":{\"name\":\"nouid\"}}");
    assert_int_equal (snap_pod_fill (&t, p), -1);
    json_decref (p);
}

static void
allocatable (void **state)
{
    (void) state;
    tr_sched_res_t r;
    char err[128] = "";
    json_t *a = J ("{\"cpu\":\"3500m\",\"memory\":\"1Gi\",\"pods\":\"110\",\"ephemeral-storage\":\"10G\",\"nvidia.com/gpu\":\"2\"}");
    assert_int_equal (snap_parse_res (a, &r, err, sizeof err), 0);
    assert_int_equal (r.milli_cpu, 3500);
    assert_int_equal (r.memory, 1LL << 30);
    assert_int_equal (r.pods, 110);
    assert_int_equal (r.ephemeral_storage, 10000000000LL);
    assert_int_equal (r.nscalar, 1);
    assert_int_equal (r.scalar[0].value, 2);
    json_decref (a);
    /* garbage: counted 0, named */
    a = J ("{\"cpu\":\"lots\",\"memory\":\"-1Gi\",\"pods\":{}}");
    assert_int_equal (snap_parse_res (a, &r, err, sizeof err), -1);
    assert_int_equal (r.milli_cpu, 0);
    assert_int_equal (r.memory, 0);
    assert_int_equal (r.pods, 0);
    assert_true (strlen (err) > 0);
    json_decref (a);
}

static json_t *
node (const char *name, const char *cpu)
{
    return json_pack ("{s:{s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s,s:s}]}}", "metadata", "name", name, "labels",
                      "zone", "a", "spec", "status", "allocatable", "cpu", cpu, "memory", "4Gi", "pods", "10", "conditions",
                      "type", "Ready", "status", "True", "lastHeartbeatTime", "t0");
}

static void
node_events (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    json_t *n = node ("n1", "2");
    assert_int_equal (snap_node_set (s, n), TR_SCHED_EV_NODE_ADD);
    const tr_sched_node_t *v = snap_node (s, "n1");
    assert_int_equal (v->allocatable.milli_cpu, 2000);
    assert_true (v->ready);
    uint64_t g = v->generation;
    /* a heartbeat: nothing */
    json_t *hb = json_deep_copy (n);
    tv_set (hb, "status.conditions", json_pack ("[{s:s,s:s,s:s}]", "type", "Ready", "status", "True", "lastHeartbeatTime", "t1"));
    assert_int_equal (snap_node_set (s, hb), 0);
    assert_int_equal (v->generation, g);
    /* each change its bit */
    json_t *c = json_deep_copy (hb);
    tv_set (c, "status.allocatable.cpu", json_string ("4"));
    assert_int_equal (snap_node_set (s, c), TR_SCHED_EV_NODE_ALLOCATABLE);
    assert_int_equal (v->allocatable.milli_cpu, 4000);
    assert_true (v->generation > g);
    /* informer objects are immutable: a new copy per update */
#define NEXT(c) do { json_t *x_ = json_deep_copy (c); json_decref (c); c = x_; } while (0)
    NEXT (c);
    tv_set (c, "metadata.labels.zone", json_string ("b"));
    assert_int_equal (snap_node_set (s, c), TR_SCHED_EV_NODE_LABEL);
    NEXT (c);
    tv_set (c, "spec.taints", json_pack ("[{s:s,s:s,s:s}]", "key", "k", "value", "v", "effect", "NoSchedule"));
    assert_int_equal (snap_node_set (s, c), TR_SCHED_EV_NODE_TAINT);
    assert_int_equal (v->ntaints, 1);
    assert_string_equal (v->taints[0].key, "k");
    assert_string_equal (v->taints[0].effect, "NoSchedule");
    NEXT (c);
    tv_set (c, "spec.unschedulable", json_true ());
    assert_int_equal (snap_node_set (s, c), TR_SCHED_EV_NODE_SCHEDULABLE);
    NEXT (c);
    tv_set (c, "status.conditions", json_pack ("[{s:s,s:s}]", "type", "Ready", "status", "False"));
    assert_int_equal (snap_node_set (s, c), TR_SCHED_EV_NODE_CONDITION);
    assert_false (v->ready);
    assert_int_equal (snap_view (s)->nnodes, 1);
    snap_node_delete (s, "n1");
    assert_null (snap_node (s, "n1"));
    assert_int_equal (snap_view (s)->nnodes, 0);
    json_decref (n);
    json_decref (hb);
    json_decref (c);
    snap_destroy (&s);
}

static json_t *
pod (const char *uid, const char *node, const char *cpu, int affinity)
{
    json_t *p = json_pack ("{s:{s:s,s:s,s:s,s:{s:s}},s:{s:[{s:s,s:{s:{s:s}}}]}}", "metadata", "name", uid, "namespace",
                           "d", "uid", uid, "labels", "app", "x", "spec", "containers", "name", "c", "resources", "requests",
                           "cpu", cpu);
    if (node)
        tv_set (p, "spec.nodeName", json_string (node));
    if (affinity)
        tv_set (p, "spec.affinity", json_pack ("{s:{}}", "podAffinity"));
    return p;
}

static void
assume_forget_confirm (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    json_t *n1 = node ("n1", "2"), *n2 = node ("n2", "2");
    snap_node_set (s, n1);
    snap_node_set (s, n2);
    const tr_sched_node_t *a = snap_node (s, "n1"), *b = snap_node (s, "n2");
    json_t *p = pod ("u1", NULL, "500m", 1);
    /* unknown node: refused */
    assert_int_equal (snap_assume (s, p, "nope"), -1);
    assert_int_equal (snap_assume (s, p, "n1"), 0);
    assert_true (snap_is_assumed (s, "u1"));
    assert_int_equal (a->requested.milli_cpu, 500);
    assert_int_equal (a->nonzero_milli_cpu, 500);
    assert_int_equal (a->npods, 1);
    assert_string_equal (a->pods[0]->node_name, "n1");
    assert_int_equal (a->npods_with_affinity, 1);
    assert_int_equal (snap_view (s)->nnodes_with_affinity, 1);
    /* the journal: a move of n1 is in it; an affinity pod leaving changes the affinity list, not
     * nodes[] (the layout stays); a node added changes the layout and starts a new journal */
    uint64_t layout = snap_view (s)->layout, g0 = snap_view (s)->generation;
    assert_true (layout != 0);
    /* forget: gone */
    snap_forget (s, "u1");
    assert_int_equal (a->requested.milli_cpu, 0);
    assert_int_equal (a->npods, 0);
    const tr_sched_snapshot_t *v = snap_view (s);
    assert_int_equal (v->nnodes_with_affinity, 0);
    assert_true (v->layout == layout);
    assert_true (v->generation > g0 && v->njournal >= 1);
    assert_true (v->journal[v->njournal - 1].generation == a->generation);
    assert_ptr_equal (v->nodes[v->journal[v->njournal - 1].index], a);
    json_t *nj = node ("nj", "2");
    snap_node_set (s, nj);
    json_decref (nj);
    v = snap_view (s);
    assert_true (v->layout != layout);
    assert_int_equal (v->njournal, 0);
    assert_true (v->journal_from == v->generation);
    snap_node_delete (s, "nj");
    /* assume, then the informer shows it bound: confirmed, not counted twice; forget is a no-op */
    snap_assume (s, p, "n1");
    json_t *bound = pod ("u1", "n1", "500m", 1);
    assert_int_equal (snap_pod_bound (s, bound), TR_SCHED_EV_POD_ADD);
    assert_false (snap_is_assumed (s, "u1"));
    assert_int_equal (a->requested.milli_cpu, 500);
    assert_int_equal (a->npods, 1);
    snap_forget (s, "u1");
    assert_int_equal (a->npods, 1);
    /* a status update of the bound pod: nothing */
    json_t *st = json_deep_copy (bound);
    tv_set (st, "status.phase", json_string ("Running"));
    assert_int_equal (snap_pod_bound (s, st), 0);
    assert_int_equal (a->npods, 1);
    /* labels changed: the event */
    json_t *lab = json_deep_copy (st);
    tv_set (lab, "metadata.labels.app", json_string ("y"));
    assert_int_equal (snap_pod_bound (s, lab), TR_SCHED_EV_POD_LABEL);
    assert_string_equal (json_string_value (json_object_get (a->pods[0]->labels, "app")), "y");
    /* assumed on n2 but the informer says n1 (someone else bound it): moved */
    json_t *q = pod ("u2", NULL, "1", 0);
    snap_assume (s, q, "n2");
    assert_int_equal (b->requested.milli_cpu, 1000);
    json_t *qb = pod ("u2", "n1", "1", 0);
    snap_pod_bound (s, qb);
    assert_int_equal (b->requested.milli_cpu, 0);
    assert_int_equal (a->requested.milli_cpu, 1500);
    /* deletes */
    assert_int_equal (snap_pod_delete (s, "u2"), 1);
    assert_int_equal (snap_pod_delete (s, "u2"), 0);
    assert_int_equal (a->requested.milli_cpu, 500);
    /* a pod bound to a node not known yet is held and appears with the node */
    json_t *r = pod ("u3", "n3", "250m", 0);
    snap_pod_bound (s, r);
    assert_null (snap_node (s, "n3"));
    json_t *n3 = node ("n3", "1");
    snap_node_set (s, n3);
    assert_int_equal (snap_node (s, "n3")->requested.milli_cpu, 250);
    assert_int_equal (snap_view (s)->nnodes, 3);
    /* a node deleted with pods: gone from the view; its pods go when deleted */
    snap_node_delete (s, "n3");
    assert_int_equal (snap_view (s)->nnodes, 2);
    assert_int_equal (snap_pod_delete (s, "u3"), 1);
    /* assumed, then bound with another spec (its requests changed meanwhile): counted as bound */
    json_t *x = pod ("u5", NULL, "100m", 0), *xb = pod ("u5", "n1", "300m", 0);
    snap_assume (s, x, "n1");
    assert_int_equal (a->requested.milli_cpu, 600);
    assert_int_equal (snap_pod_bound (s, xb), TR_SCHED_EV_POD_ADD);
    assert_false (snap_is_assumed (s, "u5"));
    assert_int_equal (a->requested.milli_cpu, 800);
    assert_int_equal (a->npods, 2);
    /* bound as assumed (spec.nodeName set, nothing else): the counts stand, the node's generation
     * moves, the pod is the informer's object now, and it deletes as any bound pod */
    json_t *y = pod ("u6", NULL, "100m", 0), *yb = pod ("u6", "n1", "100m", 0);
    tv_set (yb, "metadata.labels", json_pack ("{s:s}", "app", "x")); /* an equal map, another object */
    snap_assume (s, y, "n1");
    assert_int_equal (a->requested.milli_cpu, 900);
    uint64_t g = a->generation;
    assert_int_equal (snap_pod_bound (s, yb), TR_SCHED_EV_POD_ADD);
    assert_false (snap_is_assumed (s, "u6"));
    assert_int_equal (a->requested.milli_cpu, 900);
    assert_int_equal (a->npods, 3);
    assert_true (a->generation > g);
    const tr_sched_pod_t *yp = NULL;
    for (uint32_t i = 0; i < a->npods; i++)
        if (!strcmp (a->pods[i]->uid, "u6"))
            yp = a->pods[i];
    assert_non_null (yp);
    assert_ptr_equal (yp->obj, yb);
    assert_ptr_equal (yp->labels, json_object_get (json_object_get (yb, "metadata"), "labels"));
    assert_string_equal (yp->uid, json_string_value (json_object_get (json_object_get (yb, "metadata"), "uid")));
    assert_string_equal (yp->node_name, "n1");
    json_decref (y); /* the assumed object: the snapshot holds none of it now */
    y = NULL;
    assert_int_equal (snap_pod_delete (s, "u6"), 1);
    assert_int_equal (a->requested.milli_cpu, 800);
    assert_int_equal (snap_pod_delete (s, "u5"), 1);
    const json_t *objs[] = {n1, n2, n3, p, bound, st, lab, q, qb, r, x, xb, yb};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        json_decref ((json_t *) objs[i]);
    snap_destroy (&s);
}

/* snap_assume_pod: the pending pod as snap_pod_new filled it, placed as snap_assume places its
 * object (the same accounting), the copy its own: the pending pod freed and its object released,
 * the assumed pod still reads its uid, labels and requests; forget and the bound echo as ever. */
static void
assume_filled_pod (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    json_t *n1 = node ("n1", "2");
    snap_node_set (s, n1);
    const tr_sched_node_t *a = snap_node (s, "n1");
    json_t *obj = pod ("u7", NULL, "750m", 1);
    tr_sched_pod_t *pending = snap_pod_new (obj);
    assert_non_null (pending);
    pending->created_ms = 42;
    assert_int_equal (snap_assume_pod (s, pending, "nope"), -1);
    assert_int_equal (a->npods, 0);
    assert_int_equal (snap_assume_pod (s, pending, "n1"), 0);
    snap_pod_free (pending);
    json_decref (obj);
    assert_true (snap_is_assumed (s, "u7"));
    assert_int_equal (a->npods, 1);
    assert_int_equal (a->requested.milli_cpu, 750);
    assert_int_equal (a->nonzero_milli_cpu, 750);
    assert_int_equal (a->npods_with_affinity, 1);
    const tr_sched_pod_t *ap = a->pods[0];
    assert_string_equal (ap->uid, "u7");
    assert_string_equal (ap->node_name, "n1");
    assert_string_equal (json_string_value (json_object_get (ap->labels, "app")), "x");
    assert_int_equal (ap->created_ms, 42);
    assert_int_equal (ap->size, sizeof *ap);
    /* assumed again (a retry): replaced, not counted twice */
    json_t *obj2 = pod ("u7", NULL, "750m", 1);
    tr_sched_pod_t *again = snap_pod_new (obj2);
    assert_int_equal (snap_assume_pod (s, again, "n1"), 0);
    snap_pod_free (again);
    assert_int_equal (a->npods, 1);
    assert_int_equal (a->requested.milli_cpu, 750);
    /* assumed again from the snapshot's own pod and node name (what it holds is dropped first):
     * the copy is taken before, the counts stand */
    assert_int_equal (snap_assume_pod (s, a->pods[0], a->pods[0]->node_name), 0);
    assert_int_equal (a->npods, 1);
    assert_int_equal (a->requested.milli_cpu, 750);
    assert_string_equal (a->pods[0]->uid, "u7");
    assert_string_equal (a->pods[0]->node_name, "n1");
    /* the binding's echo confirms it; a forget after that keeps it */
    json_t *bound = pod ("u7", "n1", "750m", 1);
    snap_pod_bound (s, bound);
    assert_false (snap_is_assumed (s, "u7"));
    snap_forget (s, "u7");
    assert_int_equal (a->npods, 1);
    assert_int_equal (a->requested.milli_cpu, 750);
    /* an assumption forgotten: gone */
    json_t *obj3 = pod ("u8", NULL, "250m", 0);
    tr_sched_pod_t *p3 = snap_pod_new (obj3);
    assert_int_equal (snap_assume_pod (s, p3, "n1"), 0);
    assert_int_equal (a->requested.milli_cpu, 1000);
    snap_forget (s, "u8");
    assert_int_equal (a->requested.milli_cpu, 750);
    assert_int_equal (a->npods, 1);
    snap_pod_free (p3);
    json_decref (obj3);
    json_decref (obj2);
    json_decref (bound);
    json_decref (n1);
    snap_destroy (&s);
}

/* A bound pod marked for deletion (metadata.deletionTimestamp, spec and labels unchanged) is
 * terminating in the snapshot, and its node's generation moves (PodTopologySpread's counts,
 * kept by generation, leave it out); a later status update of the terminating pod moves
 * nothing. */
static void
pod_terminating (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    json_t *n1 = node ("n1", "2");
    snap_node_set (s, n1);
    const tr_sched_node_t *a = snap_node (s, "n1");
    json_t *bound = pod ("u1", "n1", "500m", 0);
    snap_pod_bound (s, bound);
    assert_int_equal (a->npods, 1);
    assert_false (a->pods[0]->terminating);
    uint64_t g = a->generation;
    json_t *del = json_deep_copy (bound);
    tv_set (del, "metadata.deletionTimestamp", json_string ("2026-01-01T00:00:00Z"));
    snap_pod_bound (s, del);
    assert_int_equal (a->npods, 1);
    assert_true (a->pods[0]->terminating);
    assert_true (a->generation > g);
    g = a->generation;
    json_t *st = json_deep_copy (del);
    tv_set (st, "status.phase", json_string ("Running"));
    assert_int_equal (snap_pod_bound (s, st), 0);
    assert_true (a->pods[0]->terminating);
    assert_true (a->pods[0]->obj == st);
    assert_int_equal (a->generation, g);
    tr_sched_pod_t t;
    assert_int_equal (snap_pod_fill (&t, bound), 0);
    assert_false (t.terminating);
    json_t *nul = json_deep_copy (bound);
    tv_set (nul, "metadata.deletionTimestamp", json_null ());
    assert_int_equal (snap_pod_fill (&t, nul), 0);
    assert_false (t.terminating);
    const json_t *objs[] = {n1, bound, del, st, nul};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        json_decref ((json_t *) objs[i]);
    snap_destroy (&s);
}

/* status.startTime is parsed once into start_ms (INT64_MAX before the pod starts or when the
 * time is garbage), and a status update that only starts the pod (the swap of the object, no
 * event) carries the new start. */
static void
pod_start_time (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    json_t *n1 = node ("n1", "2");
    snap_node_set (s, n1);
    const tr_sched_node_t *a = snap_node (s, "n1");
    json_t *bound = pod ("u1", "n1", "500m", 0);
    snap_pod_bound (s, bound);
    assert_true (a->pods[0]->start_ms == INT64_MAX);
    json_t *st = json_deep_copy (bound);
    tv_set (st, "status.phase", json_string ("Running"));
    tv_set (st, "status.startTime", json_string ("2026-12-06T10:00:01Z"));
    assert_int_equal (snap_pod_bound (s, st), 0);
    assert_true (a->pods[0]->obj == st);
    assert_true (a->pods[0]->start_ms == 1796551201000LL);
    tr_sched_pod_t t;
    json_t *bad = json_deep_copy (bound);
    tv_set (bad, "status.startTime", json_string ("yesterday"));
    assert_int_equal (snap_pod_fill (&t, bad), 0);
    assert_true (t.start_ms == INT64_MAX);
    tv_set (bad, "status.startTime", json_string ("1970-01-01T00:00:00Z"));
    assert_int_equal (snap_pod_fill (&t, bad), 0);
    assert_true (t.start_ms == 0);
    const json_t *objs[] = {n1, bound, st, bad};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        json_decref ((json_t *) objs[i]);
    snap_destroy (&s);
}

/* The packed labels (nodelabels.h): what a lookup in the JSON gives, before and after the node's
 * labels change, for a node built by hand without an index too. */
static void
node_label_index (void **state)
{
    (void) state;
    nodelabels_t *ix = nodelabels_new (NULL);
    assert_non_null (ix);
    assert_int_equal (nodelabels_size (ix), 0);
    assert_null (nodelabels_get (ix, "a"));
    nodelabels_destroy (&ix);
    json_t *l = J ("{\"zone\":\"z1\",\"kubernetes.io/hostname\":\"n1\",\"empty\":\"\",\"num\":5,\"zonE\":\"other\"}");
    ix = nodelabels_new (l);
    assert_int_equal (nodelabels_size (ix), 4); /* the number is left out */
    assert_string_equal (nodelabels_get (ix, "zone"), "z1");
    assert_string_equal (nodelabels_get (ix, "zonE"), "other");
    assert_string_equal (nodelabels_get (ix, "kubernetes.io/hostname"), "n1");
    assert_string_equal (nodelabels_get (ix, "empty"), "");
    assert_null (nodelabels_get (ix, "num"));
    assert_null (nodelabels_get (ix, "zon"));
    assert_null (nodelabels_get (ix, NULL));
    /* with the key's hash and length computed once: the same answers */
    static const char *const keys[] = {"zone", "zonE", "kubernetes.io/hostname", "empty", "num", "zon", "zones", "",
                                       "kubernetes.io/hostnamE", "z"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        nodelabels_key_t k = nodelabels_key (keys[i]);
        assert_int_equal (k.len, strlen (keys[i]));
        assert_ptr_equal (nodelabels_get_h (ix, &k), nodelabels_get (ix, keys[i]));
        assert_null (nodelabels_get_h (NULL, &k));
    }
    nodelabels_key_t none = nodelabels_key (NULL);
    assert_null (nodelabels_get_h (ix, &none));
    /* a prefetch is a hint: on no index, a small one (its span runs past the block: under ASan
     * too, a prefetch reads nothing) and this one, the lookups after it answer the same */
    nodelabels_prefetch (NULL);
    json_t *one = J ("{\"a\":\"b\"}");
    nodelabels_t *small = nodelabels_new (one);
    nodelabels_prefetch (small);
    assert_string_equal (nodelabels_get (small, "a"), "b");
    nodelabels_destroy (&small);
    json_decref (one);
    nodelabels_prefetch (ix);
    assert_string_equal (nodelabels_get (ix, "zone"), "z1");
    assert_string_equal (nodelabels_get (ix, "kubernetes.io/hostname"), "n1");
    nodelabels_destroy (&ix);
    assert_null (ix);
    json_decref (l);

    sched_snap_t *s = snap_new ();
    json_t *n = J ("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"z1\",\"rack\":\"r1\"}}}");
    snap_node_set (s, n);
    json_decref (n);
    const tr_sched_node_t *nd = snap_node (s, "n1");
    assert_non_null (nd->label_index);
    assert_string_equal (fw_node_label (nd, "zone"), "z1");
    assert_string_equal (fw_node_label (nd, "rack"), "r1");
    nodelabels_key_t kz = nodelabels_key ("zone"), kr = nodelabels_key ("rack"), kx = nodelabels_key ("rac");
    assert_ptr_equal (fw_node_label_h (nd, &kz), fw_node_label (nd, "zone"));
    assert_string_equal (fw_node_label_h (nd, &kr), "r1");
    assert_null (fw_node_label_h (nd, &kx));
    n = J ("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"z2\"}}}");
    snap_node_set (s, n);
    json_decref (n);
    nd = snap_node (s, "n1");
    assert_string_equal (fw_node_label (nd, "zone"), "z2");
    assert_null (fw_node_label (nd, "rack"));
    assert_string_equal (fw_node_label_h (nd, &kz), "z2");
    assert_null (fw_node_label_h (nd, &kr));
    n = J ("{\"metadata\":{\"name\":\"n1\"}}");
    snap_node_set (s, n);
    json_decref (n);
    nd = snap_node (s, "n1");
    assert_null (fw_node_label (nd, "zone"));
    snap_destroy (&s);

    /* a node made by hand (a plugin test's): no index, the JSON answers */
    json_t *hl = J ("{\"zone\":\"z3\"}");
    tr_sched_node_t hand = {.size = sizeof hand, .name = "h", .labels = hl};
    assert_string_equal (fw_node_label (&hand, "zone"), "z3");
    assert_string_equal (fw_node_label_h (&hand, &kz), "z3");
    assert_null (fw_node_label_h (&hand, &kr));
    hand.size = (uint32_t) offsetof (tr_sched_node_t, label_index); /* built against an older header */
    hand.label_index = (const void *) 1;                             /* not read: beyond its size */
    assert_string_equal (fw_node_label (&hand, "zone"), "z3");
    assert_string_equal (fw_node_label_h (&hand, &kz), "z3");
    json_decref (hl);
}

/* Extended-resource names are interned (ABI 2.0): one pointer per name for the process, the
 * string outliving the objects it came from; a name of 64 bytes or more is not held. */
static void
resource_names_interned (void **state)
{
    (void) state;
    char name[80];
    snprintf (name, sizeof name, "example.com/interned");
    const char *a = snap_intern_resource (name);
    assert_non_null (a);
    assert_string_equal (a, "example.com/interned");
    memset (name, 0, sizeof name); /* the caller's buffer may go */
    assert_string_equal (a, "example.com/interned");
    assert_ptr_equal (snap_intern_resource ("example.com/interned"), a);
    assert_ptr_not_equal (snap_intern_resource ("example.com/other"), a);
    memset (name, 'x', 63);
    name[63] = 0;
    assert_non_null (snap_intern_resource (name));
    name[63] = 'x';
    name[64] = 0;
    assert_null (snap_intern_resource (name));
    assert_null (snap_intern_resource (NULL));
    /* two pods asking for the same resource share the name */
    json_t *p = J ("{\"metadata\":{\"name\":\"p\",\"uid\":\"u1\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":"
                   "{\"requests\":{\"example.com/interned\":\"2\"}}}]}}");
    tr_sched_pod_t t;
    assert_int_equal (snap_pod_fill (&t, p), 0);
    json_decref (p);
    assert_int_equal (t.requests.nscalar, 1);
    assert_ptr_equal (t.requests.scalar[0].name, a);
    assert_int_equal (t.requests.scalar[0].value, 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (pod_requests), cmocka_unit_test (allocatable),
                                       cmocka_unit_test (node_events), cmocka_unit_test (assume_forget_confirm), cmocka_unit_test (assume_filled_pod), cmocka_unit_test (pod_terminating), cmocka_unit_test (pod_start_time),
                                       cmocka_unit_test (node_label_index), cmocka_unit_test (resource_names_interned)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
