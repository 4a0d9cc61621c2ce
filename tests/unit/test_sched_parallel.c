/* Filter on several threads (KubeSchedulerConfiguration's parallelism; framework.c scan_parallel,
 * filterpool.c): the outcome must be the one-thread outcome whatever the threads do. Two
 * identical worlds of 700 nodes, one scheduled by a profile on one thread, the other by the same
 * profile with parallelism 3 (as many threads as the machine has cores, up to 3; with a prefix of 16 nodes, chunks of 8, so every scan of any length goes
 * parallel), the same sequence of pods (each assumed where it went, so the worlds move on
 * together): node, outcome, FitError message, nodes evaluated and feasible, and the events must
 * be equal at every step. Cases: pods that fit almost anywhere (the scan stops early, inside the
 * threads' chunks), that fit a seventh of the nodes, that fit nowhere (PostFilter, its message),
 * that fit one node, with nominated pods on every third node (their copies made on the threads),
 * and a Filter plugin failing on two nearby nodes (the first in the scan's order is reported, as one
 * thread would). Also the pool alone: every chunk of a prefix runs once, nothing past it, and the
 * configuration's parallelism (default 1, refused out of 1..64). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* usleep */

#include "actors/scheduler/filterpool.h"
#include "actors/scheduler/framework.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/snapshot.h"
#include "core/value.h"
#include "tests/unit/sched_objs.h"

#define NNODES 700

static json_t *
node_obj (int i)
{
    char name[32];
    snprintf (name, sizeof name, "n-%03d", i);
    /* every 7th node has 8 cpu, the others 2; every 11th is tainted NoSchedule */
    json_t *n = json_pack ("{s:{s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata", "name", name, "labels",
                           "kubernetes.io/hostname", name, "spec", "status", "allocatable", "cpu", i % 7 ? "2" : "8", "memory",
                           "8Gi", "pods", "110", "conditions", "type", "Ready", "status", "True");
    if (i % 11 == 5)
        tv_set (n, "spec.taints", json_pack ("[{s:s,s:s,s:s}]", "key", "dedicated", "value", "x", "effect", "NoSchedule"));
    return n;
}

/* ---- a Filter plugin that fails on the nodes named in its args ---------------------------- */

static tr_sched_status_t
boom_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) cs;
    const json_t *on = self;
    if (!strncmp (pod->name, "boom", 4) && json_object_get (on, node->name))
        return (tr_sched_status_t) {TR_SCHED_ERROR, json_string_value (json_object_get (on, node->name))};
    return TR_SCHED_OK;
}

static void *
boom_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) host, (void) err, (void) errlen;
    return json_deep_copy (args);
}

static void
boom_destroy (void *self)
{
    json_decref (self);
}

static const tr_sched_plugin_t boom = {TR_SCHED_PLUGIN_HEADER ("Boom"), .init = boom_init, .destroy = boom_destroy,
                                       .filter = boom_filter};

/* ---- two worlds ----------------------------------------------------------------------------- */

typedef struct {
    sched_snap_t *snap;
    fw_profile_t *prof;
    json_t *objs;                 /* every object made (kept alive) */
    tr_sched_pod_t *nom[NNODES];  /* nominated pods (priority 50, 1 cpu), on every third node */
    const char *nom_on[NNODES];
    size_t nnom;
} world_t;

static size_t
w_nominated (void *arg, const char *node, const tr_sched_pod_t **out, size_t max)
{
    world_t *w = arg;
    size_t n = 0;
    for (size_t i = 0; i < w->nnom; i++)
        if (!strcmp (w->nom_on[i], node) && n < max)
            out[n++] = w->nom[i];
    return n;
}

static void
w_each (void *arg, void (*fn) (void *ctx, const char *node, const tr_sched_pod_t *pod), void *ctx)
{
    world_t *w = arg;
    for (size_t i = 0; i < w->nnom; i++)
        fn (ctx, w->nom_on[i], w->nom[i]);
}

static void
world_init (world_t *w, int parallelism)
{
    char err[256];
    memset (w, 0, sizeof *w);
    w->snap = snap_new ();
    w->objs = json_array ();
    w->prof = sched_profile_default (NULL, 0, err, sizeof err);
    assert_non_null (w->prof);
    json_t *args = json_pack ("{s:s,s:s}", "n-301", "boom at n-301", "n-308", "boom at n-308");
    assert_int_equal (fw_profile_add (w->prof, &boom, args, FW_PT_FILTER, 0, NULL, err, sizeof err), 0);
    json_decref (args);
    fw_profile_seed (w->prof, 11);
    fw_profile_set_parallelism (w->prof, parallelism, 16, 16, 8);
    assert_int_equal (fw_profile_parallelism (w->prof), parallelism);
    for (int i = 0; i < NNODES; i++) {
        json_t *n = node_obj (i);
        snap_node_set (w->snap, n);
        json_array_append_new (w->objs, n);
        /* the 2-cpu nodes hold one pod of 1 cpu (priority 10) */
        if (i % 7) {
            char uid[32], name[32];
            snprintf (uid, sizeof uid, "b-%03d", i);
            snprintf (name, sizeof name, "n-%03d", i);
            json_t *p = sched_obj_pod (uid, 10, "1", name);
            snap_pod_bound (w->snap, p);
            json_array_append_new (w->objs, p);
        }
    }
}

static void
world_fini (world_t *w)
{
    for (size_t i = 0; i < w->nnom; i++)
        snap_pod_free (w->nom[i]);
    fw_profile_destroy (&w->prof);
    snap_destroy (&w->snap);
    json_decref (w->objs);
}

static void
world_nominate_every_third (world_t *w)
{
    static char names[NNODES][16];
    for (int i = 0; i < NNODES; i += 3) {
        char uid[32];
        snprintf (uid, sizeof uid, "nom-%03d", i);
        snprintf (names[i], sizeof names[i], "n-%03d", i);
        json_t *p = sched_obj_pod (uid, 50, "1", NULL);
        w->nom[w->nnom] = snap_pod_new (p);
        json_decref (p);
        w->nom_on[w->nnom++] = names[i];
    }
}

/* One cycle of pod (a new object named uid) in w; the chosen node is assumed (kept). */
static void
world_cycle (world_t *w, const char *uid, int prio, const char *cpu, int nominator, fw_result_t *r)
{
    fw_env_t env;
    fw_env_of_snapshot (&env, w->snap);
    json_t *obj = sched_obj_pod (uid, prio, cpu, NULL);
    json_array_append_new (w->objs, obj);
    tr_sched_pod_t *p = snap_pod_new (obj);
    fw_nominator_t nom = {w_nominated, NULL, w, NULL, w_each, 1, NULL};
    fw_schedule_nominated (w->prof, &env, nominator ? &nom : NULL, p, r);
    snap_pod_free (p);
}

static void
same (const fw_result_t *a, const fw_result_t *b, const char *what)
{
    if (a->outcome != b->outcome || strcmp (a->node, b->node) || strcmp (a->message, b->message) ||
        a->evaluated != b->evaluated || a->feasible != b->feasible || a->events != b->events)
        fail_msg ("%s: one thread gave outcome %d node \"%s\" evaluated %zu feasible %zu events %#x \"%s\"; three "
                  "gave %d \"%s\" %zu %zu %#x \"%s\"",
                  what, a->outcome, a->node, a->evaluated, a->feasible, a->events, a->message, b->outcome, b->node,
                  b->evaluated, b->feasible, b->events, b->message);
}

static void
step (world_t *one, world_t *three, const char *uid, int prio, const char *cpu, int nominator, fw_result_t *out)
{
    fw_result_t a, b;
    world_cycle (one, uid, prio, cpu, nominator, &a);
    world_cycle (three, uid, prio, cpu, nominator, &b);
    same (&a, &b, uid);
    json_decref (a.preempt);
    json_decref (b.preempt);
    if (out)
        *out = a;
}

static void
parallel_equals_one_thread (void **state)
{
    (void) state;
    world_t one, three;
    world_init (&one, 1);
    world_init (&three, 3);
    fw_result_t r;
    char uid[32];
    /* fits nearly everywhere: the scan stops at the want-th feasible node inside the chunks */
    for (int k = 0; k < 6; k++) {
        snprintf (uid, sizeof uid, "small-%d", k);
        step (&one, &three, uid, 0, "500m", 0, &r);
        assert_int_equal (r.outcome, FW_SCHEDULED);
    }
    /* 2 cpu: only the 8-cpu nodes (a seventh, fewer once filled): long scans */
    for (int k = 0; k < 40; k++) {
        snprintf (uid, sizeof uid, "two-%d", k);
        step (&one, &three, uid, 0, "2", 0, &r);
        assert_int_equal (r.outcome, FW_SCHEDULED);
        assert_true (r.evaluated > 16);
    }
    /* 9 cpu fits nowhere: every node filtered, PostFilter's message (priority 0: no victims) */
    step (&one, &three, "huge", 0, "9", 0, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_int_equal (r.evaluated, NNODES);
    assert_non_null (strstr (r.message, "Insufficient cpu"));
    /* a preemptor: priority 100 over the 10s, every node a candidate after the scan */
    step (&one, &three, "pre", 100, "2", 0, &r);
    /* with nominated pods on every third node (copies made on the threads) */
    world_nominate_every_third (&one);
    world_nominate_every_third (&three);
    for (int k = 0; k < 10; k++) {
        snprintf (uid, sizeof uid, "nom-two-%d", k);
        step (&one, &three, uid, 0, "2", 1, &r);
    }
    step (&one, &three, "nom-huge", 0, "9", 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    /* Boom fails on n-301 and n-308 (8-cpu nodes, where Fit passes; in
     * neighbouring chunks, often met by two threads at once), many times over for pods named boom*: the first met in the scan's order */
    for (int k = 0; k < 40; k++) {
        snprintf (uid, sizeof uid, "boom-%d", k);
        step (&one, &three, uid, 0, "2", k % 2, &r);
        assert_int_equal (r.outcome, FW_ERROR);
        assert_non_null (strstr (r.message, "boom at n-30"));
    }
    world_fini (&one);
    world_fini (&three);
}

/* ---- the pool alone ------------------------------------------------------------------------- */

typedef struct {
    atomic_int runs[1000];
    atomic_int chunks;
    size_t stop_after; /* chunks */
    int tids_seen[4];
} count_t;

static int
count_chunk (void *arg, size_t from, size_t to, int tid)
{
    count_t *c = arg;
    for (size_t i = from; i < to; i++)
        atomic_fetch_add (&c->runs[i], 1);
    if (tid >= 0 && tid < 4)
        c->tids_seen[tid] = 1;
    usleep (50); /* give the other threads a turn */
    return (size_t) atomic_fetch_add (&c->chunks, 1) + 1 >= c->stop_after;
}

static void
pool_runs_a_prefix_once (void **state)
{
    (void) state;
    filterpool_t *pool = filterpool_new (2);
    assert_non_null (pool);
    assert_int_equal (filterpool_workers (pool), 2);
    for (int round = 0; round < 20; round++) {
        count_t *c = calloc (1, sizeof *c);
        c->stop_after = round % 2 ? 1000 : 10 + (size_t) round;
        size_t n = 997, end = filterpool_run (pool, n, 7, count_chunk, c);
        /* every offset below end ran exactly once, none at or past it */
        for (size_t i = 0; i < n; i++)
            if (atomic_load (&c->runs[i]) != (i < end))
                fail_msg ("round %d: offset %zu ran %d times (end %zu)", round, i, atomic_load (&c->runs[i]), end);
        if (round % 2)
            assert_int_equal (end, n); /* never stopped: the whole range, the last chunk short */
        else
            assert_true (end >= c->stop_after * 7 && end < n);
        free (c);
    }
    assert_int_equal (filterpool_run (pool, 0, 7, count_chunk, NULL), 0);
    filterpool_destroy (&pool);
    assert_null (pool);
    assert_null (filterpool_new (0));
}

/* ---- configuration -------------------------------------------------------------------------- */

static void
config_parallelism (void **state)
{
    (void) state;
    sched_config_t cfg;
    char err[512];
    assert_int_equal (sched_config_load (NULL, NULL, &cfg, err, sizeof err), 0);
    assert_int_equal (fw_profile_parallelism (cfg.profiles[0]), 1); /* one thread unless asked */
    sched_config_clear (&cfg);
    json_t *doc = json_pack ("{s:s,s:s,s:i,s:[{s:s},{s:s}]}", "apiVersion", "kubescheduler.config.k8s.io/v1", "kind",
                             "KubeSchedulerConfiguration", "parallelism", 3, "profiles", "schedulerName", "a", "schedulerName",
                             "b");
    assert_int_equal (sched_config_load (doc, "s.yaml", &cfg, err, sizeof err), 0);
    assert_int_equal (cfg.nprofiles, 2);
    assert_int_equal (fw_profile_parallelism (cfg.profiles[0]), 3);
    assert_int_equal (fw_profile_parallelism (cfg.profiles[1]), 3);
    sched_config_clear (&cfg);
    const int bad[] = {0, -2, 65};
    for (size_t i = 0; i < 3; i++) {
        json_object_set_new (doc, "parallelism", json_integer (bad[i]));
        assert_int_equal (sched_config_load (doc, "s.yaml", &cfg, err, sizeof err), -1);
        assert_string_equal (err, "s.yaml: parallelism: must be an integer 1..64");
    }
    json_object_set_new (doc, "parallelism", json_string ("4"));
    assert_int_equal (sched_config_load (doc, "s.yaml", &cfg, err, sizeof err), -1);
    json_decref (doc);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (parallel_equals_one_thread), cmocka_unit_test (pool_runs_a_prefix_once),
                                       cmocka_unit_test (config_parallelism)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
