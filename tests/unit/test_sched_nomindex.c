/* The nominator's incremental index of nominations (fw_nomindex_t): after any sequence of
 * nominations, removals, moves, and nodes deleted and added again, each node's nominated pods
 * are those a rebuild from the whole list gives, in the nominator's order (the order of add),
 * whether the lookups come after every delta or after many. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/scheduler/framework.h"
#include "actors/scheduler/snapshot.h"
#include "core/value.h"

#define NNODES 6
#define NPODS 24

static json_t *
node (const char *name)
{
    return json_pack ("{s:{s:s},s:{},s:{s:{s:s,s:s,s:s}}}", "metadata", "name", name, "spec", "status", "allocatable",
                      "cpu", "4", "memory", "8Gi", "pods", "110");
}

static json_t *
pod (const char *uid, int prio)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:i,s:[{s:s}]},s:{}}", "apiVersion", "v1", "kind", "Pod", "metadata",
                      "name", uid, "namespace", "default", "uid", uid, "spec", "priority", prio, "containers", "name", "c",
                      "status");
}

static const char *names[NNODES + 1] = {"n0", "n1", "n2", "n3", "n4", "n5", "ghost"}; /* ghost: never a node */

typedef struct {
    int pod;  /* index in pods */
    int node; /* index in names */
} ent_t;

typedef struct {
    sched_snap_t *snap;
    tr_sched_pod_t pods[NPODS];
    json_t *objs[NPODS];
    int present[NNODES];
    ent_t model[NPODS]; /* the nominations in the nominator's order */
    size_t nmodel;
    fw_nomindex_t *ix;
} fx_t;

static void
set_node (fx_t *f, int i, int present)
{
    if (present) {
        json_t *n = node (names[i]);
        snap_node_set (f->snap, n);
        json_decref (n);
    } else
        snap_node_delete (f->snap, names[i]);
    f->present[i] = present;
    fw_nomindex_nodes_changed (f->ix);
}

static void
fx_init (fx_t *f)
{
    memset (f, 0, sizeof *f);
    f->snap = snap_new ();
    f->ix = fw_nomindex_new ();
    assert_non_null (f->ix);
    for (int i = 0; i < NNODES; i++)
        set_node (f, i, 1);
    for (int i = 0; i < NPODS; i++) {
        char uid[16];
        snprintf (uid, sizeof uid, "p%02d", i);
        f->objs[i] = pod (uid, (i % 4) * 10);
        assert_int_equal (snap_pod_fill (&f->pods[i], f->objs[i]), 0);
    }
}

static void
fx_fini (fx_t *f)
{
    fw_nomindex_free (f->ix);
    for (int i = 0; i < NPODS; i++)
        json_decref (f->objs[i]);
    snap_destroy (&f->snap);
}

/* as the scheduler's nominator: a pod's nomination removed, then (unless node < 0) added last */
static void
nominate (fx_t *f, int p, int node)
{
    for (size_t i = 0; i < f->nmodel; i++)
        if (f->model[i].pod == p) {
            fw_nomindex_remove (f->ix, &f->pods[p]);
            memmove (f->model + i, f->model + i + 1, (f->nmodel - i - 1) * sizeof *f->model);
            f->nmodel--;
            break;
        }
    if (node < 0)
        return;
    assert_int_equal (fw_nomindex_add (f->ix, names[node], &f->pods[p]), 0);
    f->model[f->nmodel++] = (ent_t) {p, node};
}

/* every node's nominated pods: the index's, a rebuilt index's and the model's are the same */
static void
check (fx_t *f)
{
    fw_env_t env;
    fw_env_of_snapshot (&env, f->snap);
    fw_nomindex_t *fresh = fw_nomindex_new ();
    for (size_t i = 0; i < f->nmodel; i++)
        assert_int_equal (fw_nomindex_add (fresh, names[f->model[i].node], &f->pods[f->model[i].pod]), 0);
    assert_int_equal (fw_nomindex_count (f->ix), f->nmodel);
    for (int n = 0; n < NNODES; n++) {
        const tr_sched_node_t *nd = snap_node (f->snap, names[n]);
        if (!nd) {
            assert_false (f->present[n]);
            continue;
        }
        const tr_sched_pod_t *got[NPODS], *want[NPODS], *rebuilt[NPODS];
        size_t ng = fw_nomindex_lookup (f->ix, &env, nd, got, NPODS);
        size_t nr = fw_nomindex_lookup (fresh, &env, nd, rebuilt, NPODS);
        size_t nw = 0;
        for (size_t i = 0; i < f->nmodel; i++)
            if (f->model[i].node == n)
                want[nw++] = &f->pods[f->model[i].pod];
        assert_int_equal (ng, nw);
        assert_int_equal (nr, nw);
        for (size_t i = 0; i < nw; i++) {
            assert_ptr_equal (got[i], want[i]);
            assert_ptr_equal (rebuilt[i], want[i]);
        }
    }
    fw_nomindex_free (fresh);
}

/* A node's pods in the order of add; a move goes last on its new node; a removal keeps the
 * others' order; nominations to an unknown node count once it is added. */
static void
order_and_nodes (void **state)
{
    (void) state;
    fx_t f;
    fx_init (&f);
    fw_env_t env;
    fw_env_of_snapshot (&env, f.snap);
    const tr_sched_node_t *n1 = snap_node (f.snap, "n1");
    const tr_sched_pod_t *out[8];
    nominate (&f, 3, 1);
    nominate (&f, 1, 1);
    nominate (&f, 2, 2);
    nominate (&f, 0, 1);
    assert_int_equal (fw_nomindex_lookup (f.ix, &env, n1, out, 8), 3);
    assert_ptr_equal (out[0], &f.pods[3]);
    assert_ptr_equal (out[1], &f.pods[1]);
    assert_ptr_equal (out[2], &f.pods[0]);
    nominate (&f, 1, -1); /* removed, after being resolved */
    nominate (&f, 2, 1);  /* moved from n2 */
    nominate (&f, 4, 1);
    nominate (&f, 4, -1); /* removed before a cycle resolved it */
    assert_int_equal (fw_nomindex_lookup (f.ix, &env, n1, out, 8), 3);
    assert_ptr_equal (out[0], &f.pods[3]);
    assert_ptr_equal (out[1], &f.pods[0]);
    assert_ptr_equal (out[2], &f.pods[2]);
    assert_int_equal (fw_nomindex_lookup (f.ix, &env, snap_node (f.snap, "n2"), out, 8), 0);
    check (&f);
    /* n5 deleted: its nominations are kept but count nowhere; back, they count again */
    nominate (&f, 5, 5);
    check (&f);
    set_node (&f, 5, 0);
    nominate (&f, 6, 5);
    check (&f);
    set_node (&f, 5, 1);
    assert_int_equal (fw_nomindex_lookup (f.ix, &env, snap_node (f.snap, "n5"), out, 8), 2);
    assert_ptr_equal (out[0], &f.pods[5]);
    assert_ptr_equal (out[1], &f.pods[6]);
    check (&f);
    fx_fini (&f);
}

/* Random sequences of deltas, the index checked against a rebuild after each, or after many. */
static void
random_sequences (void **state)
{
    (void) state;
    unsigned seed = 12345;
    for (int round = 0; round < 60; round++) {
        fx_t f;
        fx_init (&f);
        int every = round % 3 == 0 ? 1 : 1 + round % 7; /* deltas between checks */
        for (int step = 0; step < 400; step++) {
            int r = rand_r (&seed) % 100, p = rand_r (&seed) % NPODS;
            if (r < 55)
                nominate (&f, p, rand_r (&seed) % (NNODES + 1));
            else if (r < 90)
                nominate (&f, p, -1);
            else {
                int n = rand_r (&seed) % NNODES;
                set_node (&f, n, !f.present[n]);
            }
            if (step % every == 0)
                check (&f);
        }
        check (&f);
        fx_fini (&f);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (order_and_nodes),
        cmocka_unit_test (random_sequences),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
