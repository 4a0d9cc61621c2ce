/* nodeshare (the per-node sums InterPodAffinity and PodTopologySpread keep by generation) over
 * the scheduler's own snapshot: after every step of a seeded random walk (nodes added, relabelled,
 * deleted, made again under the same name with other labels, pods bound and unbound), the sums
 * kept incrementally equal the sums of a fresh nodeshare, whether they come from the snapshot's
 * journal (the nodes that moved) or a walk of every node; and the snapshot never gives two nodes,
 * old or new, the same generation (what lets nodeshare skip a node by struct and generation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/plugins/nodeshare.h"
#include "actors/scheduler/snapshot.h"

/* map 0: nodes per zone; map 1: pods per zone */
static void
per_node (void *arg, const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx)
{
    (void) arg;
    const char *z = fw_node_label (node, "zone");
    if (!z)
        return;
    emit (ctx, 0, "zone", z, 1);
    emit (ctx, 1, "zone", z, node->npods);
}

typedef struct {
    const tpcount_t *want;
    const tpcount_t *got;
    int bad;
} cmp_t;

static void
cmp_each (void *arg, const char *key, const char *value, int64_t n)
{
    cmp_t *c = arg;
    if (tpcount_get (c->got, key, value, NULL) != n) {
        print_error ("%s=%s: want %lld got %lld\n", key, value, (long long) n,
                     (long long) tpcount_get (c->got, key, value, NULL));
        c->bad = 1;
    }
}

static void
same_sums (const nodeshare_t *kept, const tr_sched_snapshot_t *view, int step)
{
    nodeshare_t *fresh = nodeshare_new (2);
    assert_int_equal (nodeshare_update (fresh, view, per_node, NULL), 0);
    for (int m = 0; m < 2; m++) {
        cmp_t a = {nodeshare_map (fresh, m), nodeshare_map (kept, m), 0}, b = {nodeshare_map (kept, m), nodeshare_map (fresh, m), 0};
        tpcount_each (a.want, cmp_each, &a);
        tpcount_each (b.want, cmp_each, &b); /* and nothing more kept than fresh (above 0) */
        if (a.bad || (b.bad && tpcount_positive (b.want) != tpcount_positive (b.got)))
            fail_msg ("step %d map %d: kept sums differ from fresh ones", step, m);
    }
    nodeshare_destroy (&fresh);
}

static void
node_json (sched_snap_t *s, int i, int zone)
{
    char t[160];
    snprintf (t, sizeof t,
              "{\"metadata\":{\"name\":\"n%d\",\"labels\":{\"zone\":\"z%d\"}},\"status\":{\"allocatable\":{\"cpu\":\"4\",\"pods\":\"110\"}}}",
              i, zone);
    json_t *j = json_loads (t, 0, NULL);
    snap_node_set (s, j);
    json_decref (j);
}

/* every: update after every step (1), or after a random 1..every steps; churn: that many pod
 * binds and unbinds before each update (past the journal's 4,096 moves: it no longer reaches back) */
static void
walk_with (int every, int churn, size_t *walks, int *updates)
{
    enum { NODES = 12, PODS = 40, STEPS = 400 };
    sched_snap_t *s = snap_new ();
    nodeshare_t *kept = nodeshare_new (2);
    int live[NODES] = {0}, bound[PODS];
    for (int p = 0; p < PODS; p++)
        bound[p] = -1;
    srand (7);
    for (int step = 0; step < STEPS; step++) {
        int r = rand () % 10, i = rand () % NODES, p = rand () % PODS;
        if (r < 3) {
            node_json (s, i, rand () % 3); /* add, relabel, or make again */
            live[i] = 1;
        } else if (r < 5) {
            char n[16];
            snprintf (n, sizeof n, "n%d", i);
            snap_node_delete (s, n);
            live[i] = 0;
        } else if (r < 8 && live[i] && bound[p] < 0) {
            char t[200];
            snprintf (t, sizeof t,
                      "{\"metadata\":{\"name\":\"p%d\",\"namespace\":\"d\",\"uid\":\"u%d\"},\"spec\":{\"nodeName\":\"n%d\","
                      "\"containers\":[]}}",
                      p, p, i);
            json_t *j = json_loads (t, 0, NULL);
            snap_pod_bound (s, j);
            json_decref (j);
            bound[p] = i;
        } else if (bound[p] >= 0) {
            char u[16];
            snprintf (u, sizeof u, "u%d", p);
            snap_pod_delete (s, u);
            bound[p] = -1;
        }
        int anylive = 0;
        for (int n = 0; n < NODES; n++)
            anylive |= live[n];
        for (int done = 0; anylive && done < churn;) { /* a pod on and off a live node: its generation moves twice */
            int n = rand () % NODES;
            if (!live[n])
                continue;
            done++;
            char t[200];
            snprintf (t, sizeof t,
                      "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\",\"uid\":\"churn\"},\"spec\":{\"nodeName\":\"n%d\","
                      "\"containers\":[]}}",
                      n);
            json_t *j = json_loads (t, 0, NULL);
            snap_pod_bound (s, j);
            json_decref (j);
            snap_pod_delete (s, "churn");
        }
        if (every > 1 && rand () % every)
            continue;
        const tr_sched_snapshot_t *view = snap_view (s);
        assert_int_equal (nodeshare_update (kept, view, per_node, NULL), 0);
        same_sums (kept, view, step);
        (*updates)++;
    }
    *walks = nodeshare_walks (kept);
    nodeshare_destroy (&kept);
    snap_destroy (&s);
}

static void
random_walk (void **state)
{
    (void) state;
    size_t walks;
    int updates = 0;
    walk_with (1, 0, &walks, &updates);
    /* nodes added or deleted in 2 steps out of 10: the others read the journal only */
    assert_true (walks > 0 && walks < (size_t) updates * 3 / 4);
    updates = 0;
    walk_with (8, 0, &walks, &updates); /* several moves between two updates */
    assert_true (walks < (size_t) updates);
    updates = 0;
    walk_with (1, 2100, &walks, &updates); /* 4,200 moves between updates: every update walks */
    assert_true (walks >= (size_t) updates - 2); /* (but those with no node live to churn on) */
}

/* A node deleted and made again (same name, other labels) shows a generation it never had. */
static void
generations_never_repeat (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    uint64_t max = 0;
    for (int round = 0; round < 50; round++) {
        node_json (s, 1, round % 2);
        node_json (s, 2, 0);
        const tr_sched_node_t *n1 = snap_node (s, "n1");
        assert_non_null (n1);
        assert_true (n1->generation > max);
        max = n1->generation > snap_node (s, "n2")->generation ? n1->generation : snap_node (s, "n2")->generation;
        snap_node_delete (s, "n1");
    }
    snap_destroy (&s);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (random_walk), cmocka_unit_test (generations_never_repeat)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
