/* Controllers, pure: ReplicaSet (create, surplus ranking, adoption, others' pods, expectations,
 * status), Deployment (new RS with hash and revision, rolling update bounds simulated over many
 * rounds, Recreate order, history cleanup, identical template re-used), GC, work queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/controllers/deployment.h"
#include "actors/controllers/gc.h"
#include "actors/controllers/nodelife.h"
#include "actors/controllers/podindex.h"
#include "actors/controllers/replicaset.h"
#include "core/meta.h"
#include "core/value.h"
#include "core/workqueue.h"

#define NOW 1800000000000LL

static json_t *
pod (const char *name, const char *owner_uid, const char *app, const char *node, int ready, const char *created)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s}},s:{s:s},s:{s:s,s:[{s:s,s:s,s:s}]}}", "apiVersion", "v1",
                           "kind", "Pod", "metadata", "name", name, "namespace", "default", "uid", name,
                           "creationTimestamp", created, "labels", "app", app, "spec", "nodeName", node ? node : "",
                           "status", "phase", node ? "Running" : "Pending", "conditions", "type", "Ready", "status",
                           ready ? "True" : "False", "lastTransitionTime", "2020-01-01T00:00:00Z");
    if (!node)
        tv_del (p, "spec.nodeName");
    if (owner_uid)
        tv_set (p, "metadata.ownerReferences",
                json_pack ("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", "rs", "uid",
                           owner_uid, "controller", 1));
    return p;
}

static json_t *
rs (int replicas)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:i},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:[s]}]}}}}",
                      "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", "rs", "namespace", "default",
                      "uid", "rs-uid", "resourceVersion", "7", "generation", 1, "spec", "replicas", replicas, "selector",
                      "matchLabels", "app", "web", "template", "metadata", "labels", "app", "web", "spec", "containers",
                      "name", "c", "command", "sleep");
}

static int
count (const ctrl_actions_t *a, tr_verb_t verb, const char *kind)
{
    int n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].verb == verb && !strcmp (a->v[i].kind, kind);
    return n;
}

static void
rs_creates_and_expects (void **state)
{
    (void) state;
    json_t *r = rs (3), *pods = json_array ();
    json_array_append_new (pods, pod ("p1", "rs-uid", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    json_array_append_new (pods, pod ("other", "someone-else", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    rs_expect_t exp = {0};
    ctrl_actions_t a = {0};
    assert_int_equal (rs_reconcile (r, pods, &exp, NOW, &a), 2);
    assert_int_equal (count (&a, TR_VERB_CREATE, "Pod"), 2);
    const json_t *p = NULL;
    for (size_t i = 0; i < a.n; i++)
        if (a.v[i].verb == TR_VERB_CREATE && !strcmp (a.v[i].kind, "Pod"))
            p = a.v[i].body;
    assert_string_equal (tv_str (p, "metadata.generateName"), "rs-");
    assert_string_equal (tv_str (json_array_get (tv_get (p, "metadata.ownerReferences"), 0), "uid"), "rs-uid");
    assert_string_equal (tv_str (p, "metadata.labels.app"), "web");
    assert_non_null (tv_get (p, "spec.containers"));
    assert_int_equal (count (&a, TR_VERB_UPDATE_STATUS, "ReplicaSet"), 1);
    ctrl_actions_clear (&a);
    /* the creations are not visible yet: no second round of creates */
    assert_int_equal (rs_reconcile (r, pods, &exp, NOW + 1000, &a), 0);
    assert_int_equal (count (&a, TR_VERB_CREATE, "Pod"), 0);
    ctrl_actions_clear (&a);
    /* after the expectation times out, the controller acts again */
    assert_int_equal (rs_reconcile (r, pods, &exp, NOW + RS_EXPECTATION_TIMEOUT_MS + 1, &a), 2);
    ctrl_actions_clear (&a);
    json_decref (r);
    json_decref (pods);
}

/* burstReplicas and slowStartBatch: at most 500 creations per sync, sent in batches of 1, 2, 4,
 * ...; a failure in a batch stops the doubling (the rest are skipped); 1700 replicas from none
 * take 4 syncs (500, 500, 500, 200). */
static void
rs_burst_and_slow_start (void **state)
{
    (void) state;
    json_t *r = rs (1700), *pods = json_array ();
    rs_expect_t exp = {0};
    static const int per_sync[] = {500, 500, 500, 200};
    int syncs = 0;
    for (int round = 0; round < 10 && (int) json_array_size (pods) < 1700; round++) {
        ctrl_actions_t a = {0};
        int n = rs_reconcile (r, pods, &exp, NOW + round, &a);
        assert_true (syncs < 4);
        assert_int_equal (n, per_sync[syncs]);
        assert_int_equal (count (&a, TR_VERB_CREATE, "Pod"), per_sync[syncs]);
        assert_int_equal (exp.want, (int) json_array_size (pods) + n);
        /* the slow start of these creations, every one answered OK: 1, 2, 4, ... doubling */
        rs_slowstart_t st;
        rs_slowstart_init (&st, n);
        int batches = 0, expect_batch = 1, sent = 0, b;
        while ((b = rs_slowstart_next (&st)) > 0) {
            assert_int_equal (b, expect_batch < n - sent ? expect_batch : n - sent);
            assert_int_equal (rs_slowstart_next (&st), 0); /* nothing more while the batch is in flight */
            for (int k = 0; k < b; k++)
                rs_slowstart_result (&st, 1);
            sent += b;
            expect_batch *= 2;
            batches++;
        }
        assert_true (rs_slowstart_finished (&st));
        assert_int_equal (rs_slowstart_skipped (&st), 0);
        assert_int_equal (sent, n);
        assert_int_equal (batches, n == 500 ? 9 : 8); /* 1+2+...+256 = 511 ≥ 500; 1+...+128 = 255 ≥ 200 */
        for (int k = 0; k < n; k++) {
            char name[32];
            snprintf (name, sizeof name, "p%zu", json_array_size (pods));
            json_array_append_new (pods, pod (name, "rs-uid", "web", NULL, 0, "2020-01-01T00:00:00Z"));
        }
        ctrl_actions_clear (&a);
        syncs++;
    }
    assert_int_equal (syncs, 4);
    assert_int_equal (json_array_size (pods), 1700);
    ctrl_actions_t a = {0};
    assert_int_equal (rs_reconcile (r, pods, &exp, NOW + 100, &a), 0); /* reached */
    ctrl_actions_clear (&a);
    /* scaled to 0: at most 500 deletions per sync too */
    json_object_set_new (json_object_get (r, "spec"), "replicas", json_integer (0));
    exp.active = 0;
    assert_int_equal (rs_reconcile (r, pods, &exp, NOW + 200, &a), 500);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 500);
    assert_int_equal (exp.want, 1200);
    ctrl_actions_clear (&a);
    /* a failure in the batch of 8: that batch completes, no batch follows, 485 are skipped */
    rs_slowstart_t st;
    rs_slowstart_init (&st, 500);
    int b, seen = 0;
    while ((b = rs_slowstart_next (&st)) > 0) {
        for (int k = 0; k < b; k++)
            rs_slowstart_result (&st, !(b == 8 && k == 3));
        seen++;
    }
    assert_int_equal (seen, 4); /* 1, 2, 4, 8 */
    assert_int_equal (st.sent, 15);
    assert_int_equal (st.ok, 14);
    assert_int_equal (st.failed, 1);
    assert_true (rs_slowstart_finished (&st));
    assert_int_equal (rs_slowstart_skipped (&st), 485);
    /* the very first create failing: nothing else is tried */
    rs_slowstart_init (&st, 500);
    assert_int_equal (rs_slowstart_next (&st), 1);
    rs_slowstart_result (&st, 0);
    assert_int_equal (rs_slowstart_next (&st), 0);
    assert_int_equal (rs_slowstart_skipped (&st), 499);
    json_decref (r);
    json_decref (pods);
}

static double
mono_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* podindex: pods filed by controller uid, orphans by namespace; adoption and release move them;
 * a delete unfiles. And what it saves: a ReplicaSet's sync reads its own pods instead of every
 * pod (printed: 30,000 pods in 20 ReplicaSets, the pods of one gathered each way). */
static void
pod_index (void **state)
{
    (void) state;
    podindex_t x;
    podindex_init (&x);
    json_t *a = pod ("a", "rs-1", "web", "n1", 1, "2020-01-01T00:00:00Z");
    json_t *b = pod ("b", "rs-1", "web", "n1", 1, "2020-01-01T00:00:00Z");
    json_t *o = pod ("o", NULL, "web", NULL, 0, "2020-01-01T00:00:00Z");
    podindex_put (&x, a);
    podindex_put (&x, b);
    podindex_put (&x, o);
    podindex_put (&x, a); /* again: no change */
    assert_int_equal (json_object_size (podindex_owned (&x, "rs-1")), 2);
    assert_non_null (json_object_get (podindex_owned (&x, "rs-1"), "default/a"));
    assert_int_equal (json_object_size (podindex_orphans (&x, "default")), 1);
    assert_null (podindex_owned (&x, "rs-2"));
    assert_null (podindex_orphans (&x, "other"));
    assert_int_equal (podindex_size (&x), 3);
    /* every pod of a namespace, owned or not (the disruption controller's budgets read them); a
     * pod of another namespace, and its removal */
    assert_int_equal (json_object_size (podindex_ns (&x, "default")), 3);
    assert_non_null (json_object_get (podindex_ns (&x, "default"), "default/o"));
    json_t *y = pod ("y", "rs-1", "web", "n1", 1, "2020-01-01T00:00:00Z");
    tv_set_str (y, "metadata.namespace", "other");
    podindex_put (&x, y);
    assert_int_equal (json_object_size (podindex_ns (&x, "default")), 3);
    assert_int_equal (json_object_size (podindex_ns (&x, "other")), 1);
    assert_non_null (json_object_get (podindex_ns (&x, "other"), "other/y"));
    assert_int_equal (json_object_size (podindex_owned (&x, "rs-1")), 3);
    assert_int_equal (podindex_size (&x), 4);
    podindex_del (&x, y);
    assert_null (podindex_ns (&x, "other"));
    assert_int_equal (json_object_size (podindex_owned (&x, "rs-1")), 2);
    assert_int_equal (podindex_size (&x), 3);
    json_decref (y);
    /* the orphan adopted by rs-2, b released */
    json_t *o2 = pod ("o", "rs-2", "web", NULL, 0, "2020-01-01T00:00:00Z");
    podindex_put (&x, o2);
    assert_null (podindex_orphans (&x, "default"));
    assert_int_equal (json_object_size (podindex_owned (&x, "rs-2")), 1);
    json_t *b2 = pod ("b", NULL, "web", "n1", 1, "2020-01-01T00:00:00Z");
    podindex_put (&x, b2);
    assert_int_equal (json_object_size (podindex_owned (&x, "rs-1")), 1);
    assert_non_null (json_object_get (podindex_orphans (&x, "default"), "default/b"));
    podindex_del (&x, a);
    assert_null (podindex_owned (&x, "rs-1"));
    podindex_del (&x, a); /* unknown: nothing */
    assert_int_equal (podindex_size (&x), 2);
    assert_int_equal (json_object_size (podindex_ns (&x, "default")), 2); /* moves kept it, the delete took a */
    assert_null (json_object_get (podindex_ns (&x, "default"), "default/a"));
    json_decref (a), json_decref (b), json_decref (o), json_decref (o2), json_decref (b2);
    podindex_destroy (&x);
    /* what it saves */
    enum { NPODS = 30000, NRS = 20 };
    json_t *all = json_array ();
    podindex_init (&x);
    for (int i = 0; i < NPODS; i++) {
        char name[32], uid[16];
        snprintf (name, sizeof name, "p%d", i);
        snprintf (uid, sizeof uid, "rs-%d", i % NRS);
        json_t *p = pod (name, uid, "web", "n1", 1, "2020-01-01T00:00:00Z");
        json_array_append_new (all, p);
        podindex_put (&x, p);
    }
    double t0 = mono_s ();
    size_t got_scan = 0, got_idx = 0;
    for (int r = 0; r < 20; r++) { /* before: every pod of the namespace, then the owner check */
        json_t *out = json_array ();
        size_t i;
        json_t *p;
        json_array_foreach (all, i, p) if (!strcmp (tv_str (p, "metadata.namespace"), "default"))
            json_array_append (out, p);
        json_array_foreach (out, i, p) got_scan += ctrl_controller_uid (p) && !strcmp (ctrl_controller_uid (p), "rs-3");
        json_decref (out);
    }
    double t1 = mono_s ();
    for (int r = 0; r < 20; r++) {
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *) podindex_owned (&x, "rs-3"), k, v) got_idx++;
    }
    double t2 = mono_s ();
    assert_int_equal (got_scan, got_idx);
    assert_int_equal (got_idx, 20 * NPODS / NRS);
    printf ("# one ReplicaSet's pods among %d (20 syncs): every pod %.2f ms/sync, indexed %.3f ms/sync\n", NPODS,
            (t1 - t0) * 1e3 / 20, (t2 - t1) * 1e3 / 20);
    json_decref (all);
    podindex_destroy (&x);
}

/* The status a reconcile wrote (NULL: none) */
static const json_t *
status_written (const ctrl_actions_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].verb == TR_VERB_UPDATE_STATUS)
            return tv_get (a->v[i].body, "status");
    return NULL;
}

/* The facts podindex keeps of each pod (controller, active, Ready and since when), refreshed by
 * each version put, the version held by the index; a ReplicaSet's sync from them (as the actor
 * runs it) decides what rs_reconcile decides from the objects, and the selector memo of a pod is
 * dropped with its version when its labels change. */
static void
pod_index_facts (void **state)
{
    (void) state;
    podindex_t x;
    podindex_init (&x);
    json_t *a = pod ("a", "rs-uid", "web", "n1", 1, "2020-01-01T00:00:00Z");
    json_t *b = pod ("b", "rs-uid", "web", "n1", 0, "2020-01-01T00:00:00Z");
    json_t *o = pod ("o", NULL, "web", "n1", 1, "2020-01-01T00:00:00Z");
    podindex_put (&x, a);
    podindex_put (&x, b);
    podindex_put (&x, o);
    json_decref (a); /* the index holds its own reference */
    const ctrl_podfacts_t *fa = podindex_facts (json_object_get (podindex_owned (&x, "rs-uid"), "default/a"));
    assert_non_null (fa);
    assert_ptr_equal (fa->pod, a);
    assert_string_equal (tv_str (fa->pod, "metadata.name"), "a");
    assert_string_equal (fa->owner, "rs-uid");
    assert_int_equal (fa->active, 1);
    assert_int_equal (fa->ready, 1);
    assert_true (fa->ready_since_ms == tr_time_parse ("2020-01-01T00:00:00Z"));
    const ctrl_podfacts_t *fo = podindex_facts (json_object_get (podindex_orphans (&x, "default"), "default/o"));
    assert_null (fo->owner);
    /* what the actor's sync reads: the owned pods and the orphans */
    ctrl_podfacts_t **v = NULL;
    size_t n = 0, cap = 0;
    podindex_gather (podindex_owned (&x, "rs-uid"), &v, &n, &cap);
    podindex_gather (podindex_orphans (&x, "default"), &v, &n, &cap);
    podindex_gather (NULL, &v, &n, &cap);
    assert_int_equal (n, 3);
    json_t *r = rs (3), *objs = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append (objs, (json_t *) v[i]->pod);
    ctrl_actions_t from_facts = {0}, from_objs = {0};
    rs_reconcile_facts (r, v, n, NULL, NOW, &from_facts);
    rs_reconcile (r, objs, NULL, NOW, &from_objs);
    assert_int_equal (from_facts.n, from_objs.n);
    for (size_t i = 0; i < from_facts.n; i++) {
        assert_int_equal (from_facts.v[i].verb, from_objs.v[i].verb);
        assert_string_equal (from_facts.v[i].name, from_objs.v[i].name);
        assert_true (json_equal (from_facts.v[i].body, from_objs.v[i].body));
    }
    assert_int_equal (count (&from_facts, TR_VERB_PATCH, "Pod"), 1); /* o adopted */
    const json_t *st = status_written (&from_facts);
    assert_int_equal (tv_int (st, "replicas", -1), 3);
    assert_int_equal (tv_int (st, "readyReplicas", -1), 2);
    assert_int_equal (tv_int (st, "fullyLabeledReplicas", -1), 3);
    assert_string_equal (v[0]->match_uid, "rs-uid"); /* the memo, filled */
    ctrl_actions_clear (&from_facts);
    ctrl_actions_clear (&from_objs);
    json_decref (objs);
    /* b Ready now and relabeled (still owned: not matching is not a release here), o adopted: each
     * a new version, whose facts are taken anew (the memo of the old one gone with it) */
    json_t *b2 = pod ("b", "rs-uid", "db", "n1", 1, "2020-01-01T00:00:00Z");
    json_t *o2 = pod ("o", "rs-uid", "web", "n1", 1, "2020-01-01T00:00:00Z");
    podindex_put (&x, b2);
    podindex_put (&x, o2);
    const ctrl_podfacts_t *fb = podindex_facts (json_object_get (podindex_owned (&x, "rs-uid"), "default/b"));
    assert_ptr_equal (fb->pod, b2);
    assert_int_equal (fb->ready, 1);
    assert_string_equal (fb->match_uid, "");
    n = 0;
    podindex_gather (podindex_owned (&x, "rs-uid"), &v, &n, &cap);
    podindex_gather (podindex_orphans (&x, "default"), &v, &n, &cap);
    assert_int_equal (n, 3);
    ctrl_actions_t again = {0};
    rs_reconcile_facts (r, v, n, NULL, NOW, &again);
    assert_int_equal (count (&again, TR_VERB_PATCH, "Pod"), 0);
    st = status_written (&again);
    assert_int_equal (tv_int (st, "readyReplicas", -1), 3);
    assert_int_equal (tv_int (st, "fullyLabeledReplicas", -1), 2); /* b's labels no longer match */
    ctrl_actions_clear (&again);
    /* terminating: not active; not Ready: no since */
    json_t *a2 = pod ("a", "rs-uid", "web", "n1", 0, "2020-01-01T00:00:00Z");
    tv_set_str (a2, "metadata.deletionTimestamp", "2020-01-02T00:00:00Z");
    podindex_put (&x, a2);
    fa = podindex_facts (json_object_get (podindex_owned (&x, "rs-uid"), "default/a"));
    assert_int_equal (fa->active, 0);
    assert_int_equal (fa->ready, 0);
    assert_true (fa->ready_since_ms == -1);
    /* minReadySeconds: available once Ready that long */
    ctrl_podfacts_t f;
    ctrl_podfacts (&f, b2);
    assert_int_equal (ctrl_podfacts_available (&f, 0, NOW), 1);
    assert_int_equal (ctrl_podfacts_available (&f, 10, f.ready_since_ms + 9999), 0);
    assert_int_equal (ctrl_podfacts_available (&f, 10, f.ready_since_ms + 10000), 1);
    assert_int_equal (ctrl_podfacts_available (&f, 10, f.ready_since_ms + 10000), ctrl_pod_available (b2, 10, f.ready_since_ms + 10000));
    free (v);
    json_decref (r), json_decref (b), json_decref (o), json_decref (b2), json_decref (o2), json_decref (a2);
    podindex_destroy (&x); /* and with it the references it held (ASan: nothing leaks) */
}

static void
rs_deletes_in_order_and_adopts (void **state)
{
    (void) state;
    json_t *r = rs (2), *pods = json_array ();
    json_array_append_new (pods, pod ("old-ready", "rs-uid", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    json_array_append_new (pods, pod ("new-ready", "rs-uid", "web", "n1", 1, "2020-01-02T00:00:00Z"));
    json_array_append_new (pods, pod ("not-ready", "rs-uid", "web", "n1", 0, "2020-01-01T00:00:00Z"));
    json_array_append_new (pods, pod ("unscheduled", "rs-uid", "web", NULL, 0, "2020-01-01T00:00:00Z"));
    json_array_append_new (pods, pod ("orphan", NULL, "web", "n1", 1, "2020-01-01T00:00:00Z"));
    json_array_append_new (pods, pod ("stranger", NULL, "db", "n1", 1, "2020-01-01T00:00:00Z"));
    ctrl_actions_t a = {0};
    assert_int_equal (rs_reconcile (r, pods, NULL, NOW, &a), 3); /* 5 active incl. the adopted orphan */
    const char *deleted[3];
    int nd = 0, adopted = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (a.v[i].verb == TR_VERB_DELETE)
            deleted[nd++] = a.v[i].name;
        if (a.v[i].verb == TR_VERB_PATCH) {
            assert_string_equal (a.v[i].name, "orphan");
            adopted = 1;
        }
    }
    assert_true (adopted);
    assert_int_equal (nd, 3);
    assert_string_equal (deleted[0], "unscheduled");
    assert_string_equal (deleted[1], "not-ready");
    assert_string_equal (deleted[2], "new-ready"); /* among ready ones, the newest goes first */
    ctrl_actions_clear (&a);
    json_decref (r);
    json_decref (pods);
}

static void
rs_status_only_when_changed (void **state)
{
    (void) state;
    json_t *r = rs (1), *pods = json_array ();
    json_array_append_new (pods, pod ("p1", "rs-uid", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    tv_set (r, "status", json_pack ("{s:i,s:i,s:i,s:i,s:i}", "replicas", 1, "fullyLabeledReplicas", 1, "readyReplicas",
                                    1, "availableReplicas", 1, "observedGeneration", 1));
    ctrl_actions_t a = {0};
    rs_reconcile (r, pods, NULL, NOW, &a);
    assert_int_equal (a.n, 0);
    ctrl_actions_clear (&a);
    json_decref (r);
    json_decref (pods);
}

/* ---- deployment simulation ------------------------------------------------------------------ */

typedef struct {
    json_t *d, *rss, *pods;
    int seq;
} world_t;

static json_t *
find (json_t *arr, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach (arr, i, o) if (!strcmp (tv_str (o, "metadata.name"), name)) return o;
    return NULL;
}

static void
apply_deploy_actions (world_t *w, ctrl_actions_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        ctrl_action_t *x = &a->v[i];
        if (x->verb == TR_VERB_CREATE && !strcmp (x->kind, "ReplicaSet")) {
            json_t *r = json_deep_copy (x->body);
            char uid[32];
            snprintf (uid, sizeof uid, "rs-%d", ++w->seq);
            tv_set_str (r, "metadata.uid", uid);
            tv_set_str (r, "metadata.resourceVersion", "1");
            json_array_append_new (w->rss, r);
        } else if (x->verb == TR_VERB_PATCH && !strcmp (x->kind, "ReplicaSet")) {
            json_t *r = find (w->rss, x->name);
            assert_non_null (r);
            tv_merge_patch (r, x->body);
        } else if (x->verb == TR_VERB_DELETE && !strcmp (x->kind, "ReplicaSet")) {
            size_t j;
            json_t *o;
            json_array_foreach (w->rss, j, o) if (!strcmp (tv_str (o, "metadata.name"), x->name)) {
                json_array_remove (w->rss, j);
                break;
            }
        } else if (x->verb == TR_VERB_UPDATE_STATUS && !strcmp (x->kind, "Deployment"))
            tv_set (w->d, "status", json_deep_copy (tv_get (x->body, "status")));
    }
}

/* The ReplicaSet controller and the kubelet, compressed: pods appear not-ready, become ready on
 * the next round, deleted pods vanish. */
static void
run_replicasets (world_t *w)
{
    size_t i;
    json_t *r;
    /* pods created in an earlier round become ready now */
    json_t *p;
    json_array_foreach (w->pods, i, p) tv_set (p, "status", json_pack ("{s:s,s:[{s:s,s:s}]}", "phase", "Running", "conditions",
                                                                        "type", "Ready", "status", "True"));
    json_array_foreach (w->rss, i, r) {
        ctrl_actions_t a = {0};
        rs_reconcile (r, w->pods, NULL, NOW, &a);
        for (size_t k = 0; k < a.n; k++) {
            ctrl_action_t *x = &a.v[k];
            if (x->verb == TR_VERB_CREATE && !strcmp (x->kind, "Pod")) {
                json_t *np = json_deep_copy (x->body);
                char name[64];
                snprintf (name, sizeof name, "pod-%d", ++w->seq);
                tv_set_str (np, "metadata.name", name);
                tv_set_str (np, "metadata.uid", name);
                tv_set_str (np, "spec.nodeName", "n1");
                tv_set (np, "status", json_pack ("{s:s}", "phase", "Pending"));
                json_array_append_new (w->pods, np);
            } else if (x->verb == TR_VERB_DELETE && !strcmp (x->kind, "Pod")) {
                size_t j;
                json_t *o;
                json_array_foreach (w->pods, j, o) if (!strcmp (tv_str (o, "metadata.name"), x->name)) {
                    json_array_remove (w->pods, j);
                    break;
                }
            }
        }
        ctrl_actions_clear (&a);
    }
}

static int
ready_pods (world_t *w)
{
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach (w->pods, i, p) n += ctrl_pod_ready (p);
    return n;
}

static json_t *
deployment (int replicas, const char *strategy, const char *version)
{
    json_t *d = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:i},s:{s:i,s:i,s:{s:{s:s}},s:{s:s,s:{s:i,s:i}},"
                           "s:{s:{s:{s:s}},s:{s:[{s:s,s:[s,s]}]}}}}",
                           "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", "web", "namespace", "default",
                           "uid", "d-uid", "resourceVersion", "1", "generation", 1, "spec", "replicas", replicas,
                           "revisionHistoryLimit", 1, "selector", "matchLabels", "app", "web", "strategy", "type", strategy,
                           "rollingUpdate", "maxSurge", 1, "maxUnavailable", 1, "template", "metadata", "labels", "app",
                           "web", "spec", "containers", "name", "c", "command", "echo", version);
    return d;
}

static int
settle (world_t *w, int rounds, int min_ready, int max_total)
{
    int lowest = 1 << 30;
    for (int i = 0; i < rounds; i++) {
        ctrl_actions_t a = {0};
        deploy_reconcile (w->d, w->rss, w->pods, NOW, &a);
        apply_deploy_actions (w, &a);
        ctrl_actions_clear (&a);
        run_replicasets (w);
        int ready = ready_pods (w);
        if (ready < lowest)
            lowest = ready;
        {
            if (ready < min_ready)
                fail_msg ("round %d: %d ready < %d", i, ready, min_ready);
            if ((int) json_array_size (w->pods) > max_total)
                fail_msg ("round %d: %zu pods > %d", i, json_array_size (w->pods), max_total);
        }
    }
    return lowest;
}

static void
deployment_rolling_update (void **state)
{
    (void) state;
    world_t w = {deployment (4, "RollingUpdate", "v1"), json_array (), json_array (), 0};
    settle (&w, 10, 0, 5);
    assert_int_equal (json_array_size (w.rss), 1);
    assert_int_equal (ready_pods (&w), 4);
    json_t *first = json_array_get (w.rss, 0);
    char hash[16];
    deploy_template_hash (tv_get (w.d, "spec.template"), hash);
    char want[64];
    snprintf (want, sizeof want, "web-%s", hash);
    assert_string_equal (tv_str (first, "metadata.name"), want);
    assert_string_equal (tv_str (first, "metadata.labels.pod-template-hash"), hash);
    assert_string_equal (json_string_value (json_object_get (tv_get (first, "metadata.annotations"), "deployment.kubernetes.io/revision")), "1");
    assert_int_equal (tv_int (w.d, "status.availableReplicas", 0), 4);
    /* new template: never fewer than 3 ready, never more than 5 pods */
    json_t *args = tv_get (json_array_get (tv_get (w.d, "spec.template.spec.containers"), 0), "command");
    json_array_set_new (args, 1, json_string ("v2"));
    settle (&w, 30, 3, 5);
    assert_int_equal (ready_pods (&w), 4);
    assert_int_equal (json_array_size (w.rss), 2); /* the old one kept as history (limit 1) at 0 */
    int zero = 0;
    size_t i;
    json_t *r;
    json_array_foreach (w.rss, i, r) zero += tv_int (r, "spec.replicas", -1) == 0;
    assert_int_equal (zero, 1);
    assert_int_equal (tv_int (w.d, "status.updatedReplicas", 0), 4);
    /* a third template: history beyond the limit is deleted */
    json_array_set_new (args, 1, json_string ("v3"));
    settle (&w, 30, 3, 5);
    assert_int_equal (json_array_size (w.rss), 2);
    /* back to v2 (rollout undo): the v2 ReplicaSet is re-used with a new revision */
    json_array_set_new (args, 1, json_string ("v2"));
    int before = w.seq;
    settle (&w, 30, 3, 5);
    (void) before;
    deploy_template_hash (tv_get (w.d, "spec.template"), hash);
    json_t *cur = NULL;
    json_array_foreach (w.rss, i, r) if (!strcmp (tv_str (r, "metadata.labels.pod-template-hash"), hash)) cur = r;
    assert_non_null (cur);
    assert_string_equal (json_string_value (json_object_get (tv_get (cur, "metadata.annotations"), "deployment.kubernetes.io/revision")), "4");
    json_decref (w.d);
    json_decref (w.rss);
    json_decref (w.pods);
}

static void
deployment_recreate (void **state)
{
    (void) state;
    world_t w = {deployment (3, "Recreate", "v1"), json_array (), json_array (), 0};
    settle (&w, 10, 0, 3);
    assert_int_equal (ready_pods (&w), 3);
    json_t *args = tv_get (json_array_get (tv_get (w.d, "spec.template.spec.containers"), 0), "command");
    json_array_set_new (args, 1, json_string ("v2"));
    /* Recreate: old pods all go before any new one exists: never more than 3 pods */
    settle (&w, 20, 0, 3);
    assert_int_equal (ready_pods (&w), 3);
    char hash[16];
    deploy_template_hash (tv_get (w.d, "spec.template"), hash);
    size_t i;
    json_t *p;
    json_array_foreach (w.pods, i, p) assert_string_equal (tv_str (p, "metadata.labels.pod-template-hash"), hash);
    json_decref (w.d);
    json_decref (w.rss);
    json_decref (w.pods);
}

/* spec.paused: no rollout, but scaling goes on (Kubernetes' sync of a paused Deployment) */
static void
deployment_paused_still_scales (void **state)
{
    (void) state;
    world_t w = {deployment (4, "RollingUpdate", "v1"), json_array (), json_array (), 0};
    settle (&w, 10, 0, 5);
    assert_int_equal (ready_pods (&w), 4);
    tv_set (w.d, "spec.paused", json_true ());
    /* a new template while paused: no new ReplicaSet */
    json_t *args = tv_get (json_array_get (tv_get (w.d, "spec.template.spec.containers"), 0), "command");
    json_array_set_new (args, 1, json_string ("v2"));
    settle (&w, 5, 4, 5);
    assert_int_equal (json_array_size (w.rss), 1);
    /* scaled while paused: the one active ReplicaSet takes the replicas, up and down */
    tv_set_int (w.d, "spec.replicas", 7);
    settle (&w, 5, 0, 7);
    assert_int_equal (ready_pods (&w), 7);
    assert_int_equal (tv_int (json_array_get (w.rss, 0), "spec.replicas", 0), 7);
    tv_set_int (w.d, "spec.replicas", 2);
    settle (&w, 5, 0, 7);
    assert_int_equal (ready_pods (&w), 2);
    /* resumed: the rollout to v2 happens */
    tv_set (w.d, "spec.paused", json_false ());
    settle (&w, 30, 1, 3);
    assert_int_equal (ready_pods (&w), 2);
    char hash[16];
    deploy_template_hash (tv_get (w.d, "spec.template"), hash);
    size_t i;
    json_t *p;
    json_array_foreach (w.pods, i, p) assert_string_equal (tv_str (p, "metadata.labels.pod-template-hash"), hash);
    json_decref (w.d);
    json_decref (w.rss);
    json_decref (w.pods);
}

/* Paused in the middle of a rollout (two active ReplicaSets): a scale is shared in proportion */
static void
deployment_paused_proportional (void **state)
{
    (void) state;
    json_t *d = deployment (10, "RollingUpdate", "v2");
    tv_set (d, "spec.paused", json_true ());
    tv_set_int (d, "spec.strategy.rollingUpdate.maxSurge", 0);
    char hash[16];
    deploy_template_hash (tv_get (d, "spec.template"), hash);
    json_t *rss = json_array ();
    const char *names[] = {"web-old", "web-new"};
    const char *hashes[] = {"oldhash", hash};
    int sizes[] = {6, 4};
    for (int k = 0; k < 2; k++) {
        json_t *r = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s},s:{s:s},s:[{s:s,s:s,s:s,s:b}]},s:{s:i}}",
                               "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", names[k], "namespace",
                               "default", "uid", names[k], "resourceVersion", "3", "labels", "pod-template-hash", hashes[k],
                               "annotations", "deployment.kubernetes.io/revision", k ? "2" : "1", "ownerReferences",
                               "kind", "Deployment", "name", "web", "uid", "d-uid", "controller", 1, "spec", "replicas",
                               sizes[k]);
        json_array_append_new (rss, r);
    }
    json_t *pods = json_array ();
    tv_set_int (d, "spec.replicas", 20); /* +10 over 10: 6 → 12, 4 → 8 */
    ctrl_actions_t a = {0};
    deploy_reconcile (d, rss, pods, NOW, &a);
    int seen = 0;
    for (size_t i = 0; i < a.n; i++)
        if (a.v[i].verb == TR_VERB_PATCH && !strcmp (a.v[i].kind, "ReplicaSet")) {
            int to = (int) tv_int (a.v[i].body, "spec.replicas", -1);
            assert_int_equal (to, !strcmp (a.v[i].name, "web-old") ? 12 : 8);
            seen++;
        }
    assert_int_equal (seen, 2);
    assert_int_equal (count (&a, TR_VERB_CREATE, "ReplicaSet"), 0);
    ctrl_actions_clear (&a);
    tv_set_int (d, "spec.replicas", 5); /* -5 over 10: 6 → 3, 4 → 2 */
    deploy_reconcile (d, rss, pods, NOW, &a);
    seen = 0;
    for (size_t i = 0; i < a.n; i++)
        if (a.v[i].verb == TR_VERB_PATCH && !strcmp (a.v[i].kind, "ReplicaSet")) {
            assert_int_equal ((int) tv_int (a.v[i].body, "spec.replicas", -1), !strcmp (a.v[i].name, "web-old") ? 3 : 2);
            seen++;
        }
    assert_int_equal (seen, 2);
    ctrl_actions_clear (&a);
    json_decref (d);
    json_decref (rss);
    json_decref (pods);
}

static void
scaled_values (void **state)
{
    (void) state;
    json_t *pct = json_string ("25%"), *n = json_integer (2);
    assert_int_equal (deploy_scaled_value (pct, 4, 1), 1);
    assert_int_equal (deploy_scaled_value (pct, 5, 1), 2);
    assert_int_equal (deploy_scaled_value (pct, 5, 0), 1);
    assert_int_equal (deploy_scaled_value (n, 10, 0), 2);
    json_decref (pct);
    json_decref (n);
}

static void
gc_and_workqueue (void **state)
{
    (void) state;
    json_t *deps = json_array ();
    json_array_append_new (deps, pod ("orphaned", "gone-uid", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    json_array_append_new (deps, pod ("owned", "live-uid", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    json_array_append_new (deps, pod ("free", NULL, "web", "n1", 1, "2020-01-01T00:00:00Z"));
    json_t *live = json_pack ("{s:b}", "live-uid", 1);
    static const char *const kinds[] = {"ReplicaSet", NULL};
    ctrl_actions_t a = {0};
    size_t i;
    json_t *o;
    json_array_foreach (deps, i, o) gc_collect_one (o, live, kinds, &a); /* a pass over every dependent */
    assert_int_equal (a.n, 1);
    assert_string_equal (a.v[0].name, "orphaned");
    assert_int_equal (a.v[0].verb, TR_VERB_DELETE);
    ctrl_actions_clear (&a);
    static const char *const none[] = {NULL};
    json_array_foreach (deps, i, o) gc_collect_one (o, live, none, &a); /* an owner kind nobody tracks is presumed alive */
    assert_int_equal (a.n, 0);
    gc_collect_one (json_array_get (deps, 0), live, kinds, &a); /* one dependent alone */
    assert_int_equal (a.n, 1);
    assert_string_equal (a.v[0].name, "orphaned");
    ctrl_actions_clear (&a);
    gc_collect_one (json_array_get (deps, 2), live, kinds, &a);
    assert_int_equal (a.n, 0);
    /* what the collector is told of (gc_dependent_changed): a dependent come with owners, or
     * re-owned; not one come without owners, nor a change of anything else */
    json_t *owned = json_array_get (deps, 1), *free_pod = json_array_get (deps, 2);
    assert_true (gc_dependent_changed (NULL, owned));
    assert_false (gc_dependent_changed (NULL, free_pod));
    json_t *status = json_deep_copy (owned);
    json_object_set_new (status, "status", json_pack ("{s:s}", "phase", "Running"));
    assert_false (gc_dependent_changed (owned, status));
    json_t *reowned = json_deep_copy (owned);
    json_object_set_new (json_array_get (tv_get (reowned, "metadata.ownerReferences"), 0), "uid", json_string ("gone-uid"));
    assert_true (gc_dependent_changed (owned, reowned));
    assert_true (gc_dependent_changed (free_pod, owned)); /* adopted */
    assert_false (gc_dependent_changed (owned, free_pod)); /* released: never garbage */
    /* an owner deleted and created again under its name while the watch was down: the relist
     * gives an update whose uid changed, and the dependents of the one gone are garbage */
    json_t *rs1 = json_pack ("{s:s,s:{s:s,s:s,s:s}}", "kind", "ReplicaSet", "metadata", "name", "web", "namespace",
                             "default", "uid", "live-uid");
    json_t *rs1b = json_deep_copy (rs1);
    json_object_set_new (rs1b, "spec", json_pack ("{s:i}", "replicas", 3)); /* scaled: the same object */
    json_t *rs2 = json_deep_copy (rs1);
    json_object_set_new (json_object_get (rs2, "metadata"), "uid", json_string ("new-uid"));
    assert_false (gc_owner_replaced (rs1, rs1b));
    assert_true (gc_owner_replaced (rs1, rs2));
    assert_false (gc_owner_replaced (NULL, rs2)); /* an add: its own handler */
    json_object_clear (live);
    json_object_set_new (live, "new-uid", json_true ()); /* what the pass then finds alive */
    gc_collect_one (owned, live, kinds, &a);
    assert_int_equal (a.n, 1);
    assert_string_equal (a.v[0].name, "owned");
    ctrl_actions_clear (&a);
    json_decref (rs1);
    json_decref (rs1b);
    json_decref (rs2);
    /* a delete of the collector's that failed is looked at again by a full pass; one that
     * succeeded, or found the object gone, is not */
    assert_false (gc_delete_failed (TR_OK));
    assert_false (gc_delete_failed (TR_NOT_FOUND));
    assert_true (gc_delete_failed (TR_CONFLICT));
    assert_true (gc_delete_failed (TR_UNAVAILABLE));
    assert_true (gc_delete_failed (TR_TOO_MANY_REQUESTS));
    json_decref (status);
    json_decref (reowned);
    json_decref (deps);
    json_decref (live);

    workqueue_t *q = workqueue_new ();
    char k[64];
    workqueue_add (q, "a");
    workqueue_add (q, "a");
    workqueue_add_after (q, "b", 100, 1000);
    assert_int_equal (workqueue_len (q), 2);
    assert_int_equal (workqueue_pop (q, 1000, k, sizeof k), 0);
    assert_string_equal (k, "a");
    assert_int_equal (workqueue_pop (q, 1000, k, sizeof k), -1); /* b is not due */
    assert_int_equal (workqueue_next_in (q, 1000), 100);
    assert_int_equal (workqueue_pop (q, 1100, k, sizeof k), 0);
    assert_string_equal (k, "b");
    workqueue_add_rate_limited (q, "c", 0); /* 5 ms */
    workqueue_pop (q, 5, k, sizeof k);
    workqueue_add_rate_limited (q, "c", 0); /* 10 ms */
    assert_int_equal (workqueue_pop (q, 9, k, sizeof k), -1);
    assert_int_equal (workqueue_pop (q, 10, k, sizeof k), 0);
    workqueue_forget (q, "c");
    workqueue_add_rate_limited (q, "c", 0);
    assert_int_equal (workqueue_next_in (q, 0), 5);
    workqueue_destroy (&q);
}

/* Sets the node's Ready condition back to True at time t. */
static void
ready_again (json_t *node, const char *t)
{
    json_t *conds = json_pack ("[{s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "True", "lastHeartbeatTime", t,
                               "lastTransitionTime", t);
    tv_set (node, "status.conditions", conds);
}

/* Applies the actions' Node status update and taint patch to node (what the broker would do). */
static void
apply_node (json_t *node, const ctrl_actions_t *a)
{
    for (size_t k = 0; k < a->n; k++) {
        if (strcmp (a->v[k].kind, "Node"))
            continue;
        if (a->v[k].verb == TR_VERB_UPDATE_STATUS)
            tv_set (node, "status", json_deep_copy (tv_get (a->v[k].body, "status")));
        else if (a->v[k].verb == TR_VERB_PATCH)
            tv_set (node, "spec.taints", json_deep_copy (tv_get (a->v[k].body, "spec.taints")));
    }
}

/* The taints of key in the patch of a, as "NoSchedule,NoExecute" ("" if none, "-" if no patch). */
static void
patched_taints (const ctrl_actions_t *a, const char *key, char *buf, size_t len)
{
    snprintf (buf, len, "-");
    for (size_t k = 0; k < a->n; k++)
        if (a->v[k].verb == TR_VERB_PATCH && !strcmp (a->v[k].kind, "Node")) {
            buf[0] = 0;
            size_t i;
            json_t *t;
            json_array_foreach (tv_get (a->v[k].body, "spec.taints"), i, t) if (!strcmp (tv_str (t, "key"), key)) {
                if (buf[0])
                    strncat (buf, ",", len - strlen (buf) - 1);
                strncat (buf, tv_str (t, "effect"), len - strlen (buf) - 1);
                if (!strcmp (tv_str (t, "effect"), "NoExecute"))
                    assert_non_null (tv_str (t, "timeAdded"));
            }
        }
}

/* nodelife_reconcile, checking what the controller counts on (nodelife_wants_pods): a node
 * that does not want its pods decides the same with none given. */
static int wanted_pods, spared_pods;

static void
reconcile_checked (const json_t *node, const json_t *lease, const json_t *pods, int64_t now, int64_t since,
                   int64_t grace, int64_t evict, ctrl_actions_t *a)
{
    size_t before = a->n;
    nodelife_reconcile (node, lease, pods, now, since, grace, evict, a);
    if (nodelife_wants_pods (node, lease, now, since, grace)) {
        wanted_pods++;
        return;
    }
    spared_pods++;
    ctrl_actions_t b = {0};
    nodelife_reconcile (node, lease, NULL, now, since, grace, evict, &b);
    assert_int_equal (b.n, a->n - before);
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal (b.v[i].verb, a->v[before + i].verb);
        assert_string_equal (b.v[i].kind, a->v[before + i].kind);
        assert_true (json_equal (b.v[i].body, a->v[before + i].body) || (!b.v[i].body && !a->v[before + i].body));
    }
    ctrl_actions_clear (&b);
}

static void
node_lifecycle (void **state)
{
    (void) state;
    char t0[32], taints[200];
    tr_time_format (NOW, t0, sizeof t0);
    json_t *node = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:[{s:s,s:s}]},s:{s:[{s:s,s:s,s:s,s:s}]}}", "apiVersion", "v1", "kind",
                              "Node", "metadata", "name", "n1", "resourceVersion", "3", "spec", "taints", "key",
                              "example.com/other", "effect", "NoSchedule", "status", "conditions", "type", "Ready",
                              "status", "True", "lastHeartbeatTime", t0, "lastTransitionTime", t0);
    json_t *lease = json_pack ("{s:{s:s}}", "spec", "renewTime", t0);
    json_t *pods = json_array ();
    json_array_append_new (pods, pod ("p1", "rs-uid", "web", "n1", 1, "2020-01-01T00:00:00Z"));
    ctrl_actions_t a = {0};
    /* renewed 30 s ago: alive, and no taint of ours to remove */
    reconcile_checked (node, lease, pods, NOW + 30000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (a.n, 0);
    /* 41 s: Ready becomes Unknown, the unreachable taints are added (the other taint kept), the
     * pod turns not Ready at once (its endpoints go), nothing evicted yet */
    reconcile_checked (node, lease, pods, NOW + 41000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_UPDATE_STATUS, "Node"), 1);
    assert_int_equal (count (&a, TR_VERB_PATCH, "Node"), 1);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 0);
    patched_taints (&a, NODELIFE_TAINT_UNREACHABLE, taints, sizeof taints);
    assert_string_equal (taints, "NoSchedule,NoExecute");
    patched_taints (&a, "example.com/other", taints, sizeof taints);
    assert_string_equal (taints, "NoSchedule");
    assert_int_equal (count (&a, TR_VERB_PATCH, "Pod"), 1);
    for (size_t k = 0; k < a.n; k++)
        if (a.v[k].verb == TR_VERB_PATCH && !strcmp (a.v[k].kind, "Pod")) {
            assert_string_equal (tv_str (a.v[k].opts, "subresource"), "status");
            const json_t *c = json_array_get (tv_get (a.v[k].body, "status.conditions"), 0);
            assert_string_equal (tv_str (c, "type"), "Ready");
            assert_string_equal (tv_str (c, "status"), "False");
        }
    json_t *st = json_deep_copy (tv_get (a.v[0].body, "status"));
    const json_t *rc = NULL;
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (st, "conditions"), i, c) if (!strcmp (tv_str (c, "type"), "Ready")) rc = c;
    assert_string_equal (tv_str (rc, "status"), "Unknown");
    assert_string_equal (tv_str (rc, "reason"), "NodeStatusUnknown");
    json_decref (st);
    apply_node (node, &a);
    ctrl_actions_clear (&a);
    tv_set_str (json_array_get (tv_get (json_array_get (pods, 0), "status.conditions"), 0), "status", "False");
    /* before the toleration runs out nothing more happens, after it the pod goes, grace 0 */
    reconcile_checked (node, lease, pods, NOW + 41000 + NODELIFE_EVICT_MS - 1000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (a.n, 0);
    reconcile_checked (node, lease, pods, NOW + 42000 + NODELIFE_EVICT_MS, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 1);
    for (size_t k = 0; k < a.n; k++)
        if (a.v[k].verb == TR_VERB_DELETE)
            assert_int_equal (tv_int (a.v[k].opts, "gracePeriodSeconds", -1), 0);
    ctrl_actions_clear (&a);
    /* a pod's own toleration decides: 10 s; forever; another key's does not count */
    json_t *p = json_array_get (pods, 0);
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s,s:s,s:i}]", "key", NODELIFE_TAINT_UNREACHABLE, "operator",
                                              "Exists", "effect", "NoExecute", "tolerationSeconds", 10));
    reconcile_checked (node, lease, pods, NOW + 41000 + 9000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 0);
    reconcile_checked (node, lease, pods, NOW + 41000 + 10000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 1);
    ctrl_actions_clear (&a);
    tv_set (p, "spec.tolerations", json_pack ("[{s:s}]", "operator", "Exists")); /* tolerates everything, forever */
    reconcile_checked (node, lease, pods, NOW + 10000000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 0);
    ctrl_actions_clear (&a);
    json_t *ut = json_pack ("{s:s,s:s}", "key", NODELIFE_TAINT_UNREACHABLE, "effect", "NoExecute");
    assert_int_equal (nodelife_toleration_ms (p, ut, 5000), -1);
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s,s:i},{s:s,s:s,s:s}]", "key", "other", "operator", "Exists",
                                              "tolerationSeconds", 1, "key", NODELIFE_TAINT_UNREACHABLE, "effect",
                                              "NoSchedule", "operator", "Exists"));
    assert_int_equal (nodelife_toleration_ms (p, ut, 5000), 5000); /* none match */
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:i},{s:s,s:i}]", "key", NODELIFE_TAINT_UNREACHABLE,
                                              "tolerationSeconds", 30, "key", NODELIFE_TAINT_UNREACHABLE,
                                              "tolerationSeconds", -5));
    assert_int_equal (nodelife_toleration_ms (p, ut, 5000), 0); /* the least, ≥ 0 */
    json_decref (ut);
    tv_del (p, "spec.tolerations");
    /* the agent is back: a fresh renewal and Ready=True; our taints go, the other stays */
    char t1[32];
    tr_time_format (NOW + 500000, t1, sizeof t1);
    tv_set_str (lease, "spec.renewTime", t1);
    ready_again (node, t1);
    reconcile_checked (node, lease, pods, NOW + 501000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (a.n, 1);
    patched_taints (&a, NODELIFE_TAINT_UNREACHABLE, taints, sizeof taints);
    assert_string_equal (taints, "");
    patched_taints (&a, "example.com/other", taints, sizeof taints);
    assert_string_equal (taints, "NoSchedule");
    apply_node (node, &a);
    ctrl_actions_clear (&a);
    reconcile_checked (node, lease, pods, NOW + 502000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (a.n, 0);
    /* Ready=False from the agent (its runtime is down): the not-ready taints, eviction after the
     * default toleration with the pod's own grace period (the agent is there to stop it) */
    tv_set_str (json_array_get (tv_get (node, "status.conditions"), 0), "status", "False");
    reconcile_checked (node, lease, pods, NOW + 503000, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    patched_taints (&a, NODELIFE_TAINT_NOT_READY, taints, sizeof taints);
    assert_string_equal (taints, "NoSchedule,NoExecute");
    apply_node (node, &a);
    ctrl_actions_clear (&a);
    char t2[32];
    tr_time_format (NOW + 503000 + NODELIFE_EVICT_MS, t2, sizeof t2);
    tv_set_str (lease, "spec.renewTime", t2); /* the agent still renews: alive, not ready */
    reconcile_checked (node, lease, pods, NOW + 503000 + NODELIFE_EVICT_MS, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 1);
    for (size_t k = 0; k < a.n; k++)
        if (a.v[k].verb == TR_VERB_DELETE)
            assert_null (a.v[k].opts);
    ctrl_actions_clear (&a);
    /* a NoExecute taint of the user's on a Ready node: an intolerant pod goes at once, with its
     * own grace period; Equal with the taint's value tolerates it, another value does not */
    tv_set_str (json_array_get (tv_get (node, "status.conditions"), 0), "status", "True");
    tv_set (node, "spec.taints", json_pack ("[{s:s,s:s,s:s,s:s}]", "key", "dedicated", "value", "db", "effect",
                                             "NoExecute", "timeAdded", t2));
    reconcile_checked (node, lease, pods, NOW + 503000 + NODELIFE_EVICT_MS, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 1);
    assert_int_equal (count (&a, TR_VERB_PATCH, "Node"), 0); /* the user's taint is left alone */
    ctrl_actions_clear (&a);
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s,s:s}]", "key", "dedicated", "value", "db", "effect", "NoExecute"));
    reconcile_checked (node, lease, pods, NOW + 503000 + NODELIFE_EVICT_MS, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 0);
    tv_set_str (json_array_get (tv_get (p, "spec.tolerations"), 0), "value", "web");
    reconcile_checked (node, lease, pods, NOW + 503000 + NODELIFE_EVICT_MS, 0, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_DELETE, "Pod"), 1);
    ctrl_actions_clear (&a);
    tv_del (p, "spec.tolerations");
    /* a controller that started after the last renewal it could see (a failover) waits a full
     * grace period from its own start before it judges the node */
    tv_set_str (lease, "spec.renewTime", t0);
    ready_again (node, t0);
    tv_del (node, "spec.taints");
    int64_t started = NOW + 100000;
    reconcile_checked (node, lease, pods, started + 1000, started, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (a.n, 0);
    reconcile_checked (node, lease, pods, started + NODELIFE_GRACE_MS, started, NODELIFE_GRACE_MS, NODELIFE_EVICT_MS, &a);
    assert_int_equal (a.n, 0);
    reconcile_checked (node, lease, pods, started + NODELIFE_GRACE_MS + 1000, started, NODELIFE_GRACE_MS,
                       NODELIFE_EVICT_MS, &a);
    assert_int_equal (count (&a, TR_VERB_UPDATE_STATUS, "Node"), 1);
    ctrl_actions_clear (&a);
    /* both kinds of round were met: nodes spared the grouping of their pods, and nodes given them */
    assert_true (wanted_pods > 0 && spared_pods > 0);
    assert_false (nodelife_wants_pods (node, lease, started + 1000, started, NODELIFE_GRACE_MS)); /* alive */
    assert_true (nodelife_wants_pods (node, lease, started + NODELIFE_GRACE_MS + 1000, started, NODELIFE_GRACE_MS));
    json_decref (node);
    json_decref (lease);
    json_decref (pods);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (rs_creates_and_expects), cmocka_unit_test (rs_burst_and_slow_start), cmocka_unit_test (pod_index), cmocka_unit_test (pod_index_facts), cmocka_unit_test (rs_deletes_in_order_and_adopts),
        cmocka_unit_test (rs_status_only_when_changed), cmocka_unit_test (deployment_rolling_update),
        cmocka_unit_test (deployment_recreate),
        cmocka_unit_test (deployment_paused_still_scales),
        cmocka_unit_test (deployment_paused_proportional), cmocka_unit_test (scaled_values), cmocka_unit_test (gc_and_workqueue), cmocka_unit_test (node_lifecycle),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
