/* Nominated pods in the framework (Kubernetes' PodNominator, addNominatedPods and
 * evaluateNominatedNode) through the default profile: a pod nominated to a node counts there
 * when filtering pods of lower or equal priority (never for higher ones, never for itself); the
 * nominated node is tried first and alone; PostFilter (DefaultPreemption) sees the nominated pods
 * so a second preemptor does not count on the room the first one freed; host->preempt records
 * the node and the victims in the result (fw_result_t.preempt); a pod whose nominated node still
 * has a terminating lower-priority pod does not preempt again (PodEligibleToPreemptOthers); a
 * PreFilter rejection runs PostFilter with every node at the PreFilter's status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "actors/scheduler/framework.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/snapshot.h"
#include "core/value.h"
#include "tests/unit/sched_objs.h"

#define node(name, cpu) sched_obj_node (name, cpu)
/* a pod of priority prio asking cpu; bound to on when not NULL */
#define pod(uid, prio, cpu, on) sched_obj_pod (uid, prio, cpu, on)

typedef struct {
    sched_snap_t *snap;
    fw_profile_t *prof;
    const tr_sched_pod_t *nom[8]; /* the nominated pods */
    const char *nom_on[8];        /* and their nodes */
    size_t nnom;
    const char *terminating;      /* uid of a pod whose delete was sent (not yet seen) */
    uint64_t version;             /* the nominator's version (0: the index is built every cycle) */
    int each_calls;
    fw_nomindex_t *ix;            /* the incremental index, kept by deltas from nom (see ix_sync) */
    const tr_sched_pod_t *ix_pod[8];
    const char *ix_on[8];
    size_t nix;
} env_t;

static size_t
e_nominated (void *arg, const char *node, const tr_sched_pod_t **out, size_t max)
{
    env_t *e = arg;
    size_t n = 0;
    for (size_t i = 0; i < e->nnom; i++)
        if (!strcmp (e->nom_on[i], node) && n < max)
            out[n++] = e->nom[i];
    return n;
}
static const char *
e_nominated_node (void *arg, const tr_sched_pod_t *p)
{
    env_t *e = arg;
    for (size_t i = 0; i < e->nnom; i++)
        if (!strcmp (e->nom[i]->uid, p->uid))
            return e->nom_on[i];
    return NULL;
}

static int
e_terminating (void *arg, const tr_sched_pod_t *p)
{
    env_t *e = arg;
    return e->terminating && !strcmp (e->terminating, p->uid);
}

/* the nominations all at once (fw_nominator_t.each): the framework's per-cycle index */
static void
e_each (void *arg, void (*fn) (void *ctx, const char *node, const tr_sched_pod_t *pod), void *ctx)
{
    env_t *e = arg;
    e->each_calls++;
    for (size_t i = 0; i < e->nnom; i++)
        fn (ctx, e->nom_on[i], e->nom[i]);
}

/* every test runs three times: the framework asking node by node (no each), with the index it
 * builds from each (), and with the nominator's incremental index (fw_nomindex_t) */
static int g_each;

static int
incremental (void **state)
{
    (void) state;
    g_each = 2;
    return 0;
}

/* the incremental index brought to e->nom by deltas: what left (or moved) removed, what came added */
static void
ix_sync (env_t *e)
{
    if (!e->ix)
        e->ix = fw_nomindex_new ();
    for (size_t i = 0; i < e->nix;) {
        size_t k = 0;
        while (k < e->nnom && !(e->nom[k] == e->ix_pod[i] && !strcmp (e->nom_on[k], e->ix_on[i])))
            k++;
        if (k < e->nnom) {
            i++;
            continue;
        }
        fw_nomindex_remove (e->ix, e->ix_pod[i]);
        memmove (e->ix_pod + i, e->ix_pod + i + 1, (e->nix - i - 1) * sizeof *e->ix_pod);
        memmove (e->ix_on + i, e->ix_on + i + 1, (e->nix - i - 1) * sizeof *e->ix_on);
        e->nix--;
    }
    for (size_t k = 0; k < e->nnom; k++) {
        size_t i = 0;
        while (i < e->nix && !(e->nom[k] == e->ix_pod[i] && !strcmp (e->nom_on[k], e->ix_on[i])))
            i++;
        if (i < e->nix)
            continue;
        assert_int_equal (fw_nomindex_add (e->ix, e->nom_on[k], e->nom[k]), 0);
        e->ix_pod[e->nix] = e->nom[k];
        e->ix_on[e->nix++] = e->nom_on[k];
    }
    assert_int_equal (fw_nomindex_count (e->ix), e->nnom);
}

static int
by_node (void **state)
{
    (void) state;
    g_each = 0;
    return 0;
}

static int
indexed (void **state)
{
    (void) state;
    g_each = 1;
    return 0;
}

static void
env_init (env_t *e)
{
    char err[256];
    memset (e, 0, sizeof *e);
    e->snap = snap_new ();
    e->prof = sched_profile_default (NULL, 0, err, sizeof err);
    assert_non_null (e->prof);
    fw_profile_seed (e->prof, 7);
}

static void
env_fini (env_t *e)
{
    fw_profile_destroy (&e->prof);
    snap_destroy (&e->snap);
    fw_nomindex_free (e->ix);
}

static void
add_node (env_t *e, const char *name, const char *cpu)
{
    json_t *n = node (name, cpu);
    snap_node_set (e->snap, n);
    json_decref (n);
}

static void
bind_pod (env_t *e, json_t *p)
{
    snap_pod_bound (e->snap, p);
    json_decref (p);
}

/* env_init with one node n1 of cpu cpus, holding the bound pods given (pod objects, stolen; the
 * list ends with NULL). */
static void
env_on_n1 (env_t *e, const char *cpu, ...)
{
    env_init (e);
    add_node (e, "n1", cpu);
    va_list ap;
    va_start (ap, cpu);
    for (json_t *p; (p = va_arg (ap, json_t *));)
        bind_pod (e, p);
    va_end (ap);
}

/* One cycle with (nominator 1) or without the nominator; the result in r (r->preempt released
 * by the caller). The chosen node is forgotten again so that the snapshot stays as it was. */
static void
cycle (env_t *e, const tr_sched_pod_t *p, int nominator, fw_result_t *r)
{
    fw_env_t env;
    fw_env_of_snapshot (&env, e->snap);
    fw_nominator_t nom = {e_nominated, e_nominated_node, e, e_terminating, g_each == 1 ? e_each : NULL, e->version, NULL};
    if (g_each == 2) {
        ix_sync (e);
        nom.index = e->ix;
    }
    fw_schedule_nominated (e->prof, &env, nominator ? &nom : NULL, p, r);
    if (r->outcome == FW_SCHEDULED)
        snap_forget (e->snap, p->uid);
}

/* A result whose preemption found no candidate: the pod's nomination is to be cleared
 * (host->preempt with node ""), as Kubernetes' PostFilterResult with NominatedNodeName "". */
static void
clears_nomination (fw_result_t *r)
{
    assert_null (r->preempt);
    assert_true (r->clear_nomination);
}

/* n1: 2 cpu, 1 used (priority 50); H (priority 100, 1 cpu) nominated to n1. */
static void
nominated_pods_count_for_lower_and_equal (void **state)
{
    (void) state;
    env_t e;
    env_on_n1 (&e, "2", pod ("used", 50, "1", "n1"), NULL);
    json_t *ho = pod ("h", 100, "1", NULL), *lo = pod ("l", 10, "1", NULL), *eo = pod ("e", 100, "1", NULL),
           *xo = pod ("x", 1000, "1", NULL);
    tr_sched_pod_t h, l, eq, x;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    assert_int_equal (snap_pod_fill (&l, lo), 0);
    assert_int_equal (snap_pod_fill (&eq, eo), 0);
    assert_int_equal (snap_pod_fill (&x, xo), 0);
    e.nom[0] = &h;
    e.nom_on[0] = "n1";
    e.nnom = 1;
    fw_result_t r;
    /* without the nominator the low pod takes the room */
    cycle (&e, &l, 0, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    json_decref (r.preempt);
    /* with it: H's request counts on n1 for lower and equal priorities */
    cycle (&e, &l, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                                    "1 No preemption victims found for incoming pod..");
    /* nothing of lower priority than l to evict: no candidate, so the result clears any
     * nomination l holds (node "", no victims), as Kubernetes' NominatedNodeName "" */
    clears_nomination (&r);
    cycle (&e, &eq, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    json_decref (r.preempt);
    /* not for a higher priority, and never for the nominated pod itself */
    cycle (&e, &x, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, "n1");
    cycle (&e, &h, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, "n1");
    /* fw_with_nominated: the node with H added, a generation of its own; n1 itself untouched */
    const tr_sched_node_t *n1 = snap_node (e.snap, "n1");
    tr_sched_node_t tmp;
    const tr_sched_pod_t **buf;
    fw_nominator_t nom = {e_nominated, e_nominated_node, &e, e_terminating, NULL, 0, NULL};
    const tr_sched_node_t *v = fw_with_nominated (&nom, &l, n1, &tmp, &buf);
    assert_ptr_equal (v, &tmp);
    assert_int_equal (v->requested.milli_cpu, 2000);
    assert_int_equal (v->npods, 2);
    assert_ptr_equal (v->pods[1], &h);
    assert_true (v->generation != n1->generation);
    assert_int_equal (n1->requested.milli_cpu, 1000);
    assert_int_equal (n1->npods, 1);
    free (buf);
    assert_ptr_equal (fw_with_nominated (&nom, &x, n1, &tmp, &buf), n1);
    assert_null (buf);
    assert_ptr_equal (fw_with_nominated (NULL, &l, n1, &tmp, &buf), n1);
    json_decref (ho);
    json_decref (lo);
    json_decref (eo);
    json_decref (xo);
    env_fini (&e);
}

/* container 0 of p asks value of resource too */
static void
ask (json_t *p, const char *resource, const char *value)
{
    json_object_set_new (json_object_get (json_object_get (json_array_get (tv_get (p, "spec.containers"), 0), "resources"),
                                          "requests"),
                         resource, json_string (value));
}

static void
gpu (json_t *p)
{
    ask (p, "example.com/gpu", "1");
}

/* What a nominated pod adds to its node: memory and pods as well as cpu, extended resources
 * (n1: 2 gpus, one used; H nominated asks one), and never the pod itself though the nominator
 * holds its own copy (another pointer, the same uid). */
static void
nominated_requests_counted (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    json_t *n = node ("n1", "8");
    json_object_set_new (tv_get (n, "status.allocatable"), "example.com/gpu", json_string ("2"));
    tv_set (n, "status.allocatable.pods", json_string ("4"));
    snap_node_set (e.snap, n);
    json_decref (n);
    json_t *u = pod ("used", 0, "1", "n1");
    gpu (u);
    bind_pod (&e, u);
    json_t *ho = pod ("h", 100, "1", NULL), *hc = pod ("h", 100, "1", NULL), *go = pod ("g", 50, "1", NULL),
           *mo = pod ("m", 50, "1", NULL), *po = pod ("p", 50, "1", NULL);
    gpu (ho);
    gpu (hc);
    gpu (go);
    ask (mo, "memory", "5Gi");
    json_t *mn = pod ("mn", 100, "1", NULL), *pn = pod ("pn", 100, "1", NULL);
    ask (mn, "memory", "4Gi");
    tr_sched_pod_t h, hcopy, g, m, mnom, p, pnom;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    assert_int_equal (snap_pod_fill (&hcopy, hc), 0);
    assert_int_equal (snap_pod_fill (&g, go), 0);
    assert_int_equal (snap_pod_fill (&m, mo), 0);
    assert_int_equal (snap_pod_fill (&mnom, mn), 0);
    assert_int_equal (snap_pod_fill (&p, po), 0);
    assert_int_equal (snap_pod_fill (&pnom, pn), 0);
    fw_result_t r;
    e.nom[0] = &hcopy; /* the nominator's copy of h */
    e.nom_on[0] = "n1";
    e.nnom = 1;
    cycle (&e, &g, 1, &r); /* the last gpu is h's */
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_non_null (strstr (r.message, "1 Insufficient example.com/gpu"));
    json_decref (r.preempt);
    cycle (&e, &h, 1, &r); /* h itself: its copy does not count against it */
    assert_int_equal (r.outcome, FW_SCHEDULED);
    json_decref (r.preempt);
    cycle (&e, &m, 1, &r); /* 5Gi of 8Gi: fits beside h (no memory asked) */
    assert_int_equal (r.outcome, FW_SCHEDULED);
    json_decref (r.preempt);
    e.nom[1] = &mnom; /* 4Gi nominated: 5Gi no longer fits */
    e.nom_on[1] = "n1";
    e.nnom = 2;
    cycle (&e, &m, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_non_null (strstr (r.message, "1 Insufficient memory"));
    assert_null (strstr (r.message, "Too many pods"));
    json_decref (r.preempt);
    e.nom[2] = &pnom; /* 4 pods allowed: used, h, mn, pn */
    e.nom_on[2] = "n1";
    e.nnom = 3;
    cycle (&e, &p, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_non_null (strstr (r.message, "1 Too many pods"));
    json_decref (r.preempt);
    e.nom[1] = &pnom; /* mn gone: m fits beside h and pn */
    e.nnom = 2;
    cycle (&e, &m, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    json_decref (r.preempt);
    json_t *objs[] = {ho, hc, go, mo, mn, po, pn};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++)
        json_decref (objs[i]);
    env_fini (&e);
}

/* The nominated node is tried first, alone: chosen even where scores prefer another node; when
 * it no longer fits, the pod goes elsewhere. */
static void
nominated_node_first (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    add_node (&e, "n1", "4");
    add_node (&e, "n2", "8"); /* least allocated prefers n2 */
    json_t *po = pod ("p", 100, "1", NULL);
    tr_sched_pod_t p;
    assert_int_equal (snap_pod_fill (&p, po), 0);
    fw_result_t r;
    cycle (&e, &p, 1, &r);
    assert_string_equal (r.node, "n2");
    e.nom[0] = &p;
    e.nom_on[0] = "n1";
    e.nnom = 1;
    for (int i = 0; i < 10; i++) {
        cycle (&e, &p, 1, &r);
        assert_int_equal (r.outcome, FW_SCHEDULED);
        assert_string_equal (r.node, "n1");
        assert_int_equal (r.evaluated, 1);
    }
    /* status.nominatedNodeName is read when the nominator has no callback for it */
    fw_env_t env;
    fw_env_of_snapshot (&env, e.snap);
    tv_set (po, "status.nominatedNodeName", json_string ("n1"));
    fw_schedule (e.prof, &env, &p, &r);
    assert_string_equal (r.node, "n1");
    snap_forget (e.snap, "p");
    bind_pod (&e, pod ("fill", 0, "4", "n1"));
    cycle (&e, &p, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, "n2");
    json_decref (po);
    env_fini (&e);
}

/* n1: 2 cpu holding two low pods of 1 cpu. H1 preempts one of them (the other is reprieved);
 * H2, with H1 nominated to n1, needs both gone: the dry run counts H1. */
static void
preemption_sees_nominated (void **state)
{
    (void) state;
    env_t e;
    env_on_n1 (&e, "2", pod ("low1", 1, "1", "n1"), pod ("low2", 1, "1", "n1"), NULL);
    json_t *h1o = pod ("h1", 100, "1", NULL), *h2o = pod ("h2", 100, "1", NULL);
    tr_sched_pod_t h1, h2;
    assert_int_equal (snap_pod_fill (&h1, h1o), 0);
    assert_int_equal (snap_pod_fill (&h2, h2o), 0);
    fw_result_t r;
    cycle (&e, &h1, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "0/1 nodes are available: 1 Insufficient cpu."); /* nominated: no PostFilter message */
    assert_non_null (r.preempt);
    assert_string_equal (tv_str (r.preempt, "node"), "n1");
    assert_int_equal (json_array_size (tv_get (r.preempt, "victims")), 1);
    const char *v1 = tv_str (json_array_get (tv_get (r.preempt, "victims"), 0), "metadata.name");
    assert_true (!strcmp (v1, "low1") || !strcmp (v1, "low2"));
    json_decref (r.preempt);
    /* without the nominator H2 would also get by with one victim */
    cycle (&e, &h2, 0, &r);
    assert_int_equal (json_array_size (tv_get (r.preempt, "victims")), 1);
    json_decref (r.preempt);
    e.nom[0] = &h1;
    e.nom_on[0] = "n1";
    e.nnom = 1;
    cycle (&e, &h2, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_non_null (r.preempt);
    assert_string_equal (tv_str (r.preempt, "node"), "n1");
    assert_int_equal (json_array_size (tv_get (r.preempt, "victims")), 2);
    json_decref (r.preempt);
    /* once both victims are gone, H2 fits next to H1 */
    snap_pod_delete (e.snap, "low1");
    snap_pod_delete (e.snap, "low2");
    cycle (&e, &h2, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_null (r.preempt);
    json_decref (h1o);
    json_decref (h2o);
    env_fini (&e);
}

/* A PostFilter of another plugin reads the snapshot as it is given (not through
 * host->snapshot_node): every node is copied with its nominated pods beforehand. */
static const tr_sched_host_t *peek_host;
static int64_t peek_cpu, peek_cpu_node;
static uint32_t peek_npods;

static void *
peek_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) args, (void) err, (void) errlen;
    peek_host = host;
    static int self;
    return &self;
}

static tr_sched_status_t
peek_post_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_status_t *st, size_t n)
{
    (void) self, (void) pod, (void) st, (void) n;
    const tr_sched_node_t *n0 = peek_host->snapshot (cs)->nodes[0];
    peek_cpu = n0->requested.milli_cpu;
    peek_npods = n0->npods;
    peek_cpu_node = peek_host->snapshot_node (cs, 0)->requested.milli_cpu;
    return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, "peeked"};
}

static const tr_sched_plugin_t peek = {TR_SCHED_PLUGIN_HEADER ("Peek"), .init = peek_init,
                                       .post_filter = peek_post_filter};

static void
other_post_filter_sees_nominated (void **state)
{
    (void) state;
    env_t e;
    env_on_n1 (&e, "3", pod ("low1", 1, "1", "n1"), pod ("low2", 1, "1", "n1"), NULL);
    char err[256];
    assert_int_equal (fw_profile_add (e.prof, &peek, NULL, FW_PT_POST_FILTER, 0, NULL, err, sizeof err), 0);
    json_t *ho = pod ("h", 100, "1", NULL), *xo = pod ("x", 1, "1", NULL);
    tr_sched_pod_t h, x;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    assert_int_equal (snap_pod_fill (&x, xo), 0);
    e.nom[0] = &h;
    e.nom_on[0] = "n1";
    e.nnom = 1;
    fw_result_t r;
    peek_cpu = peek_cpu_node = -1;
    cycle (&e, &x, 1, &r); /* no victim for x (DefaultPreemption fails), then Peek */
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_non_null (strstr (r.message, "peeked"));
    json_decref (r.preempt);
    assert_int_equal (peek_cpu, 3000);
    assert_int_equal (peek_npods, 3);
    assert_int_equal (peek_cpu_node, 3000);
    assert_int_equal (snap_node (e.snap, "n1")->requested.milli_cpu, 2000);
    json_decref (ho);
    json_decref (xo);
    env_fini (&e);
}

/* PodEligibleToPreemptOthers with the nominator: H nominated to n1 where its victim is going
 * (the delete sent, not yet seen: the nominator says so; or deletionTimestamp) does not preempt
 * again elsewhere though n2 offers a victim; once the victim is gone it is bound to n1. A
 * terminating pod of higher priority does not count. */
static void
no_second_preemption (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    add_node (&e, "n1", "1");
    add_node (&e, "n2", "1");
    bind_pod (&e, pod ("v1", 1, "1", "n1"));
    bind_pod (&e, pod ("v2", 1, "1", "n2"));
    json_t *ho = pod ("h", 100, "1", NULL);
    tr_sched_pod_t h;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    fw_result_t r;
    cycle (&e, &h, 1, &r);
    assert_non_null (r.preempt);
    const char *first = tv_str (r.preempt, "node");
    assert_non_null (first);
    char on[8], victim[8];
    snprintf (on, sizeof on, "%s", first);
    snprintf (victim, sizeof victim, "%s", !strcmp (on, "n1") ? "v1" : "v2");
    json_decref (r.preempt);
    e.nom[0] = &h;
    e.nom_on[0] = on;
    e.nnom = 1;
    e.terminating = victim;
    const tr_sched_node_t *nn = snap_node (e.snap, on);
    fw_nominator_t nom = {e_nominated, e_nominated_node, &e, e_terminating, NULL, 0, NULL};
    assert_int_equal (fw_eligible_to_preempt (&nom, nn, &h), 0);
    assert_int_equal (fw_eligible_to_preempt (&nom, NULL, &h), 1);
    cycle (&e, &h, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_null (r.preempt); /* not eligible: PostFilter not run, its answer given */
    assert_false (r.clear_nomination); /* and the nomination is kept */
    if (!strstr (r.message, ". preemption: not eligible due to a terminating pod on the nominated node.."))
        fail_msg ("message: %s", r.message);
    /* the nominated node cordoned (UnschedulableAndUnresolvable for h): eligible again, as
     * Kubernetes' PodEligibleToPreemptOthers, and it preempts on the other node */
    json_t *cordoned = node (on, "1");
    json_object_set_new (json_object_get (cordoned, "spec"), "unschedulable", json_true ());
    snap_node_set (e.snap, cordoned);
    json_decref (cordoned);
    cycle (&e, &h, 1, &r);
    assert_non_null (r.preempt);
    assert_string_equal (tv_str (r.preempt, "node"), strcmp (on, "n1") ? "n1" : "n2");
    json_decref (r.preempt);
    add_node (&e, on, "1"); /* uncordoned */
    /* without the nominator's knowledge it would preempt on the other node */
    e.terminating = NULL;
    cycle (&e, &h, 1, &r);
    assert_non_null (r.preempt);
    json_decref (r.preempt);
    /* a terminating pod of higher priority than the pod does not make it wait */
    json_t *xo = pod ("x", 0, "1", NULL); /* below the victim's 1 */
    tr_sched_pod_t x;
    assert_int_equal (snap_pod_fill (&x, xo), 0);
    e.terminating = victim;
    assert_int_equal (fw_eligible_to_preempt (&nom, nn, &x), 1);
    /* the victim gone: bound to its nominated node */
    snap_pod_delete (e.snap, victim);
    e.terminating = NULL;
    cycle (&e, &h, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, on);
    json_decref (ho);
    json_decref (xo);
    env_fini (&e);
}

/* The profile keeps the nominations' index while the nominator's version holds: one each () for
 * many cycles; a new version (a nomination changed) is read again and counts at once. */
static void
index_kept_while_version_holds (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    add_node (&e, "n1", "2");
    bind_pod (&e, pod ("used", 50, "1", "n1"));
    json_t *ho = pod ("h", 100, "1", NULL), *eo = pod ("e", 100, "1", NULL);
    tr_sched_pod_t h, eq;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    assert_int_equal (snap_pod_fill (&eq, eo), 0);
    e.version = 7;
    fw_result_t r;
    g_each = 1;
    for (int i = 0; i < 3; i++) { /* nothing nominated: eq fits */
        cycle (&e, &eq, 1, &r);
        assert_int_equal (r.outcome, FW_SCHEDULED);
        json_decref (r.preempt);
    }
    assert_int_equal (e.each_calls, 1);
    e.nom[0] = &h; /* H nominated to n1: a new version */
    e.nom_on[0] = "n1";
    e.nnom = 1;
    e.version = 8;
    for (int i = 0; i < 3; i++) { /* H's room counts: eq no longer fits */
        cycle (&e, &eq, 1, &r);
        assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
        json_decref (r.preempt);
    }
    assert_int_equal (e.each_calls, 2);
    e.version = 0; /* unversioned: read every cycle */
    cycle (&e, &eq, 1, &r);
    json_decref (r.preempt);
    cycle (&e, &eq, 1, &r);
    json_decref (r.preempt);
    assert_int_equal (e.each_calls, 4);
    json_decref (ho);
    json_decref (eo);
    env_fini (&e);
}

/* A PreFilter plugin that rejects every pod with q_code (a quota, say): the cycle is a FitError
 * all the same, every node with that status (Kubernetes' NodeToStatus.SetAbsentNodesStatus), and
 * PostFilter runs. */
static tr_sched_code_t q_code;
static const char *q_reason;

static void *
q_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) args, (void) host, (void) err, (void) errlen;
    static int self;
    return &self;
}

static tr_sched_status_t
q_pre_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    (void) self, (void) cs, (void) pod;
    return (tr_sched_status_t) {q_code, q_reason};
}

static const tr_sched_plugin_t quota = {TR_SCHED_PLUGIN_HEADER ("Quota"), .init = q_init, .pre_filter = q_pre_filter};

/* n1: 2 cpu full with a low pod; H (priority 100, 1 cpu). Quota's PreFilter rejects H:
 * Unschedulable, DefaultPreemption nominates n1 (low the victim); UnschedulableAndUnresolvable,
 * no node is a candidate. Before, PostFilter never ran after a PreFilter rejection. Nominated to
 * n1 where low is terminating: Unschedulable, not eligible; Unresolvable (the nominated node's
 * status too), eligible (PodEligibleToPreemptOthers), no candidate. */
static void
prefilter_rejection_runs_postfilter (void **state)
{
    (void) state;
    env_t e;
    env_on_n1 (&e, "2", pod ("low", 1, "2", "n1"), NULL);
    char err[256];
    assert_int_equal (fw_profile_add (e.prof, &quota, NULL, FW_PT_PRE_FILTER, 0, NULL, err, sizeof err), 0);
    json_t *ho = pod ("h", 100, "1", NULL);
    tr_sched_pod_t h;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    fw_result_t r;
    q_code = TR_SCHED_UNSCHEDULABLE;
    q_reason = "Insufficient cpu"; /* a reason DefaultPreemption can check away (resources) */
    cycle (&e, &h, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "0/1 nodes are available: Insufficient cpu."); /* nominated: no suffix */
    assert_non_null (r.preempt);
    assert_string_equal (tv_str (r.preempt, "node"), "n1");
    assert_int_equal (json_array_size (tv_get (r.preempt, "victims")), 1);
    assert_string_equal (tv_str (json_array_get (tv_get (r.preempt, "victims"), 0), "metadata.name"), "low");
    json_decref (r.preempt);
    q_code = TR_SCHED_UNRESOLVABLE;
    q_reason = "quota exceeded";
    cycle (&e, &h, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "0/1 nodes are available: quota exceeded. preemption: 0/1 nodes are available: "
                                    "1 Preemption is not helpful for scheduling..");
    clears_nomination (&r); /* no candidate */
    /* nominated to n1, low's delete sent */
    e.nom[0] = &h;
    e.nom_on[0] = "n1";
    e.nnom = 1;
    e.terminating = "low";
    q_code = TR_SCHED_UNSCHEDULABLE;
    q_reason = "Insufficient cpu";
    cycle (&e, &h, 1, &r);
    assert_string_equal (r.message, "0/1 nodes are available: Insufficient cpu. preemption: not eligible due to a "
                                    "terminating pod on the nominated node..");
    assert_null (r.preempt);
    q_code = TR_SCHED_UNRESOLVABLE;
    q_reason = "quota exceeded";
    cycle (&e, &h, 1, &r);
    assert_string_equal (r.message, "0/1 nodes are available: quota exceeded. preemption: 0/1 nodes are available: "
                                    "1 Preemption is not helpful for scheduling..");
    clears_nomination (&r); /* no candidate */
    json_decref (ho);
    env_fini (&e);
}

/* A Filter that wants company: a node with no pod is rejected (as an affinity to pods that are
 * not there yet). */
static tr_sched_status_t
company_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) self, (void) cs, (void) pod;
    return node->npods ? TR_SCHED_OK : (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, "node(s) had no pod"};
}

static const tr_sched_plugin_t company = {TR_SCHED_PLUGIN_HEADER ("Company"), .init = q_init, .filter = company_filter};

/* Kubernetes' RunFilterPluginsWithNominatedPods: with the nominated pods added, then without. On
 * an empty n1 where H (priority 100) is nominated, X (100: H counts for it) passes Company only
 * thanks to H; the second pass, without H, rejects it: a nominated pod that may never come does
 * not satisfy it. Once a pod is really bound there X fits. */
static void
filters_again_without_nominated (void **state)
{
    (void) state;
    env_t e;
    env_on_n1 (&e, "4", NULL);
    char err[256];
    assert_int_equal (fw_profile_add (e.prof, &company, NULL, FW_PT_FILTER, 0, NULL, err, sizeof err), 0);
    json_t *ho = pod ("h", 100, "1", NULL), *xo = pod ("x", 100, "1", NULL);
    tr_sched_pod_t h, x;
    assert_int_equal (snap_pod_fill (&h, ho), 0);
    assert_int_equal (snap_pod_fill (&x, xo), 0);
    e.nom[0] = &h;
    e.nom_on[0] = "n1";
    e.nnom = 1;
    fw_result_t r;
    cycle (&e, &x, 1, &r);
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_true (strncmp (r.message, "0/1 nodes are available: 1 node(s) had no pod.", 46) == 0);
    json_decref (r.preempt);
    bind_pod (&e, pod ("other", 0, "1", "n1"));
    cycle (&e, &x, 1, &r);
    assert_int_equal (r.outcome, FW_SCHEDULED);
    json_decref (r.preempt);
    json_decref (ho);
    json_decref (xo);
    env_fini (&e);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (nominated_pods_count_for_lower_and_equal, by_node),
        cmocka_unit_test_setup (nominated_node_first, by_node),
        cmocka_unit_test_setup (preemption_sees_nominated, by_node),
        cmocka_unit_test_setup (no_second_preemption, by_node),
        cmocka_unit_test_setup (nominated_pods_count_for_lower_and_equal, indexed),
        cmocka_unit_test_setup (nominated_node_first, indexed),
        cmocka_unit_test_setup (preemption_sees_nominated, indexed),
        cmocka_unit_test_setup (no_second_preemption, indexed),
        cmocka_unit_test_setup (prefilter_rejection_runs_postfilter, by_node),
        cmocka_unit_test_setup (prefilter_rejection_runs_postfilter, indexed),
        cmocka_unit_test (index_kept_while_version_holds),
        cmocka_unit_test_setup (filters_again_without_nominated, by_node),
        cmocka_unit_test_setup (filters_again_without_nominated, indexed),
        cmocka_unit_test_setup (nominated_pods_count_for_lower_and_equal, incremental),
        cmocka_unit_test_setup (nominated_node_first, incremental),
        cmocka_unit_test_setup (preemption_sees_nominated, incremental),
        cmocka_unit_test_setup (no_second_preemption, incremental),
        cmocka_unit_test_setup (prefilter_rejection_runs_postfilter, incremental),
        cmocka_unit_test_setup (filters_again_without_nominated, incremental),
        cmocka_unit_test_setup (nominated_requests_counted, by_node),
        cmocka_unit_test_setup (nominated_requests_counted, indexed),
        cmocka_unit_test_setup (nominated_requests_counted, incremental),
        cmocka_unit_test_setup (other_post_filter_sees_nominated, by_node),
        cmocka_unit_test_setup (other_post_filter_sees_nominated, indexed),
        cmocka_unit_test_setup (other_post_filter_sees_nominated, incremental),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
