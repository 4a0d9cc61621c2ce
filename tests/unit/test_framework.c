/* The scheduling framework with small fake plugins: the order of the extension points and their
 * effect, SKIP from PreFilter and PreScore, weights and NormalizeScore, Reserve failures undone by
 * Unreserve in reverse (and the assumption forgotten), Permit rejections, Bind SKIP, the FitError
 * text (counted, sorted as Kubernetes sorts) and the rejecting plugins' events,
 * percentageOfNodesToScore (adaptive, minimum, round-robin start), random tie-breaking, the host
 * table (cycle state, intern, selectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/scheduler/framework.h"
#include "actors/scheduler/nodehot.h"
#include "actors/scheduler/plugins/registry.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/snapshot.h"

static char trace[16384];

static void
rec (const char *fmt, ...)
{
    size_t off = strlen (trace);
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (trace + off, sizeof trace - off, fmt, ap);
    va_end (ap);
}

/* A plugin's behaviour is chosen by its args: {"tag": "A", "filter_reject": "n2", ...} */
typedef struct {
    char tag[8];
    json_t *args;
} fake_t;

static void *
f_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) host;
    if (json_is_true (json_object_get (args, "refuse"))) {
        snprintf (err, errlen, "refused on purpose");
        return NULL;
    }
    fake_t *f = calloc (1, sizeof *f);
    snprintf (f->tag, sizeof f->tag, "%s", json_string_value (json_object_get (args, "tag")));
    f->args = json_incref ((json_t *) args);
    return f;
}

static void
f_destroy (void *self)
{
    fake_t *f = self;
    json_decref (f->args);
    free (f);
}

static const char *
arg (fake_t *f, const char *k)
{
    return json_string_value (json_object_get (f->args, k));
}

static tr_sched_status_t
f_pre_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    (void) pod;
    fake_t *f = self;
    rec ("%s.prefilter ", f->tag);
    fw_host ()->write (cs, f->tag, strdup (f->tag), free);
    if (arg (f, "prefilter"))
        return (tr_sched_status_t) {!strcmp (arg (f, "prefilter"), "skip") ? TR_SCHED_SKIP : TR_SCHED_UNRESOLVABLE,
                                    "prefilter says no"};
    return TR_SCHED_OK;
}

static tr_sched_status_t
f_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) pod;
    fake_t *f = self;
    assert_string_equal (fw_host ()->read (cs, f->tag), f->tag); /* what PreFilter wrote */
    rec ("%s.filter(%s) ", f->tag, node->name);
    const char *bad = arg (f, "error");
    if (bad && strstr (bad, node->name))
        return (tr_sched_status_t) {TR_SCHED_ERROR, fw_host ()->intern (cs, "%s broke on %s", f->tag, node->name)};
    const char *rej = arg (f, "reject");
    if (rej && strstr (rej, node->name))
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, fw_host ()->intern (cs, "%s rejects", f->tag)};
    return TR_SCHED_OK;
}

static tr_sched_status_t
f_post_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_status_t *st, size_t n)
{
    (void) cs, (void) pod, (void) st;
    fake_t *f = self;
    rec ("%s.postfilter(%zu) ", f->tag, n);
    /* "postfilter": a code letter (S success, U unschedulable, R unresolvable, E error), the reason */
    const char *pf = arg (f, "postfilter");
    if (!pf || !*pf)
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, NULL};
    tr_sched_code_t code = *pf == 'S'   ? TR_SCHED_SUCCESS
                           : *pf == 'R' ? TR_SCHED_UNRESOLVABLE
                           : *pf == 'E' ? TR_SCHED_ERROR
                                        : TR_SCHED_UNSCHEDULABLE;
    return (tr_sched_status_t) {code, pf[1] ? pf + 1 : NULL};
}

static tr_sched_status_t
f_pre_score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes, size_t n)
{
    (void) cs, (void) pod, (void) nodes;
    fake_t *f = self;
    rec ("%s.prescore(%zu) ", f->tag, n);
    return (tr_sched_status_t) {arg (f, "prescore_skip") ? TR_SCHED_SKIP : TR_SCHED_SUCCESS, NULL};
}

static tr_sched_status_t
f_score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) cs, (void) pod;
    fake_t *f = self;
    rec ("%s.score(%s) ", f->tag, node->name);
    const char *fav = arg (f, "favour");
    *out = fav && !strcmp (fav, node->name) ? 10 : 5;
    return TR_SCHED_OK;
}

static tr_sched_status_t
f_normalize (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, int64_t *scores, size_t n)
{
    (void) cs, (void) pod;
    fake_t *f = self;
    rec ("%s.normalize ", f->tag);
    if (arg (f, "reverse"))
        for (size_t i = 0; i < n; i++)
            scores[i] = 100 - scores[i] * 10;
    return TR_SCHED_OK;
}

static tr_sched_status_t
f_reserve (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    (void) cs, (void) pod;
    fake_t *f = self;
    rec ("%s.reserve(%s) ", f->tag, node);
    return (tr_sched_status_t) {arg (f, "reserve_fail") ? TR_SCHED_ERROR : TR_SCHED_SUCCESS, "no room"};
}

static void
f_unreserve (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    (void) cs, (void) pod;
    rec ("%s.unreserve(%s) ", ((fake_t *) self)->tag, node);
}

static tr_sched_status_t
f_permit (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, int64_t *wait)
{
    (void) cs, (void) pod, (void) wait;
    fake_t *f = self;
    rec ("%s.permit(%s) ", f->tag, node);
    return (tr_sched_status_t) {arg (f, "permit_reject") ? TR_SCHED_UNSCHEDULABLE : TR_SCHED_SUCCESS, "not now"};
}

static tr_sched_status_t
f_pre_bind (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    (void) cs, (void) pod;
    rec ("%s.prebind(%s) ", ((fake_t *) self)->tag, node);
    return TR_SCHED_OK;
}

static tr_sched_status_t
f_bind (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    (void) cs, (void) pod;
    fake_t *f = self;
    rec ("%s.bind(%s) ", f->tag, node);
    return (tr_sched_status_t) {arg (f, "bind_skip") ? TR_SCHED_SKIP : TR_SCHED_SUCCESS, NULL};
}

static const tr_sched_plugin_t fakeA = {TR_SCHED_PLUGIN_HEADER ("A"), .init = f_init, .destroy = f_destroy,
                                        .pre_filter = f_pre_filter, .filter = f_filter, .post_filter = f_post_filter,
                                        .pre_score = f_pre_score, .score = f_score, .normalize_score = f_normalize,
                                        .reserve = f_reserve, .unreserve = f_unreserve, .permit = f_permit,
                                        .pre_bind = f_pre_bind, .bind = f_bind, .events = TR_SCHED_EV_NODE_ADD};
static const tr_sched_plugin_t fakeB = {TR_SCHED_PLUGIN_HEADER ("B"), .init = f_init, .destroy = f_destroy,
                                        .pre_filter = f_pre_filter, .filter = f_filter, .post_filter = f_post_filter,
                                        .pre_score = f_pre_score, .score = f_score, .normalize_score = f_normalize,
                                        .reserve = f_reserve, .unreserve = f_unreserve, .permit = f_permit,
                                        .pre_bind = f_pre_bind, .bind = f_bind, .events = TR_SCHED_EV_NODE_TAINT};

/* C: A's hooks, with the batch forms (ABI 1.4) recorded as such */
static void
f_filter_nodes (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
                size_t n, tr_sched_status_t *st)
{
    fake_t *f = self;
    rec ("%s.filter_nodes(", f->tag);
    for (size_t i = 0; i < n; i++)
        rec ("%s%s", i ? "," : "", nodes[i]->name);
    rec (") ");
    size_t mark = strlen (trace);
    for (size_t i = 0; i < n; i++)
        st[i] = f_filter (self, cs, pod, nodes[i]);
    trace[mark] = 0; /* the per-node calls made here are not the framework's */
}

static tr_sched_status_t
f_score_nodes (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
               size_t n, int64_t *scores)
{
    fake_t *f = self;
    rec ("%s.score_nodes(%zu) ", f->tag, n);
    size_t mark = strlen (trace);
    for (size_t i = 0; i < n; i++)
        f_score (self, cs, pod, nodes[i], &scores[i]);
    trace[mark] = 0;
    return TR_SCHED_OK;
}

static const tr_sched_plugin_t fakeC = {TR_SCHED_PLUGIN_HEADER ("C"), .init = f_init, .destroy = f_destroy,
                                        .pre_filter = f_pre_filter, .filter = f_filter, .pre_score = f_pre_score,
                                        .score = f_score, .filter_nodes = f_filter_nodes, .score_nodes = f_score_nodes};

/* ---- a tiny world ------------------------------------------------------------------------- */

typedef struct {
    sched_snap_t *snap;
    int assumed, forgotten;
} world_t;

static int
w_assume (void *arg, const tr_sched_pod_t *p, const char *n)
{
    world_t *w = arg;
    w->assumed++;
    rec ("assume(%s) ", n);
    return snap_assume (w->snap, p->obj, n);
}

static void
w_forget (void *arg, const tr_sched_pod_t *p)
{
    world_t *w = arg;
    w->forgotten++;
    rec ("forget ");
    snap_forget (w->snap, p->uid);
}

static void
world (world_t *w, size_t nnodes)
{
    memset (w, 0, sizeof *w);
    w->snap = snap_new ();
    for (size_t i = 0; i < nnodes; i++) {
        char name[32];
        snprintf (name, sizeof name, "n%zu", i + 1);
        json_t *n = json_pack ("{s:{s:s},s:{s:{s:s,s:s,s:s}}}", "metadata", "name", name, "status", "allocatable", "cpu",
                               "4", "memory", "8Gi", "pods", "110");
        snap_node_set (w->snap, n);
        json_decref (n);
    }
}

static fw_result_t
cycle (fw_profile_t *fp, world_t *w, const char *uid)
{
    json_t *obj = json_pack ("{s:{s:s,s:s,s:s},s:{s:[]}}", "metadata", "name", uid, "namespace", "d", "uid", uid, "spec",
                             "containers");
    tr_sched_pod_t p;
    snap_pod_fill (&p, obj);
    fw_env_t env = {snap_view (w->snap), NULL, w_assume, w_forget, w};
    fw_result_t r;
    trace[0] = 0;
    fw_schedule (fp, &env, &p, &r);
    json_decref (obj);
    return r;
}

static fw_profile_t *
profile2 (const char *a_args, const char *b_args, int64_t wa, int64_t wb)
{
    fw_profile_t *fp = fw_profile_new ("t", 100);
    char err[256];
    json_t *a = json_loads (a_args, 0, NULL), *b = json_loads (b_args, 0, NULL);
    assert_int_equal (fw_profile_add (fp, &fakeA, a, FW_PT_ALL, wa, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, &fakeB, b, FW_PT_ALL, wb, NULL, err, sizeof err), 0);
    json_decref (a);
    json_decref (b);
    return fp;
}

static void
order_of_points (void **state)
{
    (void) state;
    world_t w;
    world (&w, 2);
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\",\"favour\":\"n2\"}", "{\"tag\":\"B\"}", 1, 1);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, "n2");
    assert_false (r.host_binds); /* A bound it itself */
    /* Filter in chunks: each plugin on the nodes the ones before it passed (a node sees the
     * plugins in the profile's order) */
    assert_string_equal (trace, "A.prefilter B.prefilter A.filter(n1) A.filter(n2) B.filter(n1) B.filter(n2) "
                                "A.prescore(2) B.prescore(2) A.score(n1) A.score(n2) A.normalize B.score(n1) "
                                "B.score(n2) B.normalize assume(n2) A.reserve(n2) B.reserve(n2) A.permit(n2) "
                                "B.permit(n2) A.prebind(n2) B.prebind(n2) A.bind(n2) ");
    assert_true (snap_is_assumed (w.snap, "p1"));
    /* node by node: every plugin on a node before the next node */
    snap_forget (w.snap, "p1");
    fw_profile_set_batch (fp, 0);
    r = cycle (fp, &w, "p1");
    assert_string_equal (r.node, "n2");
    assert_non_null (strstr (trace, "B.prefilter A.filter(n1) B.filter(n1) A.filter(n2) B.filter(n2) A.prescore(2) "));
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

static void
skip_and_stop (void **state)
{
    (void) state;
    world_t w;
    world (&w, 3);
    /* A's PreFilter skips: A.filter never runs; B rejects n1 so n1 stops at B; A's PreScore
     * skips: A.score never runs; A's bind skips: B binds */
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\",\"prefilter\":\"skip\",\"prescore_skip\":\"y\",\"bind_skip\":\"y\"}",
                                 "{\"tag\":\"B\",\"reject\":\"n1\",\"favour\":\"n3\"}", 1, 1);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, "n3");
    assert_null (strstr (trace, "A.filter"));
    assert_null (strstr (trace, "A.score"));
    assert_non_null (strstr (trace, "B.filter(n1) B.filter(n2) B.filter(n3) "));
    assert_non_null (strstr (trace, "A.bind(n3) B.bind(n3) "));
    fw_profile_destroy (&fp);
    /* a filter stops at the first plugin that fails: B never sees n1 when A rejects it */
    fp = profile2 ("{\"tag\":\"A\",\"reject\":\"n1\"}", "{\"tag\":\"B\"}", 1, 1);
    r = cycle (fp, &w, "p2");
    assert_non_null (strstr (trace, "A.filter(n1) A.filter(n2) A.filter(n3) B.filter(n2) B.filter(n3) "));
    assert_null (strstr (trace, "B.filter(n1)"));
    snap_forget (w.snap, "p2");
    fw_profile_set_batch (fp, 0);
    r = cycle (fp, &w, "p2");
    assert_non_null (strstr (trace, "A.filter(n1) A.filter(n2) B.filter(n2) A.filter(n3) B.filter(n3) "));
    assert_null (strstr (trace, "B.filter(n1)"));
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

static void
weights_and_normalize (void **state)
{
    (void) state;
    world_t w;
    world (&w, 2);
    /* A favours n1 (10 vs 5) with weight 1; B favours n2 with weight 3: n2 wins */
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\",\"favour\":\"n1\"}", "{\"tag\":\"B\",\"favour\":\"n2\"}", 1, 3);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_string_equal (r.node, "n2");
    fw_profile_destroy (&fp);
    /* the same, B's normalize reverses its scores (100 - 10x): n1 now wins */
    fp = profile2 ("{\"tag\":\"A\",\"favour\":\"n1\"}", "{\"tag\":\"B\",\"favour\":\"n2\",\"reverse\":\"y\"}", 1, 3);
    r = cycle (fp, &w, "p2");
    assert_string_equal (r.node, "n1");
    /* the weights as given */
    const char *names[4];
    int64_t weights[4];
    assert_int_equal (fw_profile_list (fp, FW_PT_SCORE, names, weights, 4), 2);
    assert_string_equal (names[1], "B");
    assert_int_equal (weights[1], 3);
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

static void
reserve_failure_unwinds (void **state)
{
    (void) state;
    world_t w;
    world (&w, 1);
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\"}", "{\"tag\":\"B\",\"reserve_fail\":\"y\"}", 1, 1);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_ERROR);
    assert_string_equal (r.message, "running Reserve plugin \"B\": no room");
    assert_non_null (strstr (trace, "A.reserve(n1) B.reserve(n1) B.unreserve(n1) A.unreserve(n1) forget "));
    assert_null (strstr (trace, "permit"));
    assert_false (snap_is_assumed (w.snap, "p1"));
    assert_int_equal (snap_node (w.snap, "n1")->npods, 0);
    fw_profile_destroy (&fp);
    /* Permit rejects: unschedulable, unwound the same way */
    fp = profile2 ("{\"tag\":\"A\",\"permit_reject\":\"y\"}", "{\"tag\":\"B\"}", 1, 1);
    r = cycle (fp, &w, "p2");
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "pod rejected by Permit plugin \"A\": not now");
    assert_non_null (strstr (trace, "B.unreserve(n1) A.unreserve(n1) forget "));
    assert_int_equal (snap_node (w.snap, "n1")->npods, 0);
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

static void
fit_error_text (void **state)
{
    (void) state;
    world_t w;
    world (&w, 5);
    /* A rejects 3 nodes, B the other 2: counts sorted as strings ("2 B..." < "3 A...") */
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\",\"reject\":\"n1n2n3\"}", "{\"tag\":\"B\",\"reject\":\"n4n5\"}", 1, 1);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "0/5 nodes are available: 2 B rejects, 3 A rejects.");
    assert_int_equal (r.events, TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_TAINT);
    assert_non_null (strstr (trace, "A.postfilter(5) B.postfilter(5)"));
    assert_int_equal (w.assumed, 0);
    fw_profile_destroy (&fp);
    /* only A rejects: only A's events */
    fp = profile2 ("{\"tag\":\"A\",\"reject\":\"n1n2n3n4n5\"}", "{\"tag\":\"B\"}", 1, 1);
    r = cycle (fp, &w, "p2");
    assert_string_equal (r.message, "0/5 nodes are available: 5 A rejects.");
    assert_int_equal (r.events, TR_SCHED_EV_NODE_ADD);
    fw_profile_destroy (&fp);
    /* PostFilter's message appended, as RunPostFilterPlugins gives it: every Unschedulable reason
     * joined ", "; the first Unresolvable or Error alone (later plugins not run); none after a
     * Success (a nomination) */
    static const struct {
        const char *a, *b, *want, *trace;
    } pf[] = {
        {"Upreemption: none", "Ubusy", "0/5 nodes are available: 5 A rejects. preemption: none, busy.", "B.postfilter"},
        {"U", "Ubusy", "0/5 nodes are available: 5 A rejects. busy.", "B.postfilter"},
        {"Rstop.", "Ubusy", "0/5 nodes are available: 5 A rejects. stop..", NULL},
        {"Unot me", "Eboom", "0/5 nodes are available: 5 A rejects. boom.", "B.postfilter"},
        {"Snominated n1", "Ubusy", "0/5 nodes are available: 5 A rejects.", NULL},
    };
    for (size_t i = 0; i < sizeof pf / sizeof pf[0]; i++) {
        char a[128], b[128], pod[8];
        snprintf (a, sizeof a, "{\"tag\":\"A\",\"reject\":\"n1n2n3n4n5\",\"postfilter\":\"%s\"}", pf[i].a);
        snprintf (b, sizeof b, "{\"tag\":\"B\",\"postfilter\":\"%s\"}", pf[i].b);
        snprintf (pod, sizeof pod, "q%zu", i);
        fp = profile2 (a, b, 1, 1);
        trace[0] = '\0';
        r = cycle (fp, &w, pod);
        assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
        if (strcmp (r.message, pf[i].want))
            fail_msg ("postfilter row %zu: \"%s\", want \"%s\"", i, r.message, pf[i].want);
        if ((strstr (trace, "B.postfilter") != NULL) != (pf[i].trace != NULL))
            fail_msg ("postfilter row %zu: trace %s", i, trace);
        fw_profile_destroy (&fp);
    }
    /* PreFilter rejects: its message */
    fp = profile2 ("{\"tag\":\"A\",\"prefilter\":\"no\"}", "{\"tag\":\"B\"}", 1, 1);
    r = cycle (fp, &w, "p3");
    assert_string_equal (r.message, "0/5 nodes are available: prefilter says no.");
    /* PostFilter runs all the same (Kubernetes: after any FitError), over every node, no Filter */
    assert_string_equal (trace, "A.prefilter A.postfilter(5) B.postfilter(5) ");
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
    /* no nodes at all */
    world (&w, 0);
    fp = profile2 ("{\"tag\":\"A\"}", "{\"tag\":\"B\"}", 1, 1);
    r = cycle (fp, &w, "p4");
    assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (r.message, "no nodes available to schedule pods");
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

/* A profile keeps its cycle's per-node arrays from cycle to cycle, unzeroed: a FitError must count
 * this cycle's statuses only, whatever the cycles before left there, as the node count grows and
 * shrinks (n6 passes every Filter; n1-n3 A rejects, n4-n5 B). */
static void
fit_error_after_other_cycles (void **state)
{
    (void) state;
    world_t w;
    world (&w, 5);
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\",\"reject\":\"n1n2n3\"}", "{\"tag\":\"B\",\"reject\":\"n4n5\"}", 1, 1);
    const char *want = "0/5 nodes are available: 2 B rejects, 3 A rejects.";
    fw_result_t r = cycle (fp, &w, "p1");
    assert_string_equal (r.message, want);
    json_t *n6 = json_pack ("{s:{s:s},s:{s:{s:s,s:s,s:s}}}", "metadata", "name", "n6", "status", "allocatable", "cpu", "4",
                            "memory", "8Gi", "pods", "110");
    for (int round = 0; round < 3; round++) {
        snap_node_set (w.snap, n6);
        char uid[16];
        snprintf (uid, sizeof uid, "s%d", round);
        r = cycle (fp, &w, uid);
        assert_int_equal (r.outcome, FW_SCHEDULED);
        assert_string_equal (r.node, "n6");
        snap_forget (w.snap, uid);
        snap_node_delete (w.snap, "n6");
        snprintf (uid, sizeof uid, "u%d", round);
        r = cycle (fp, &w, uid);
        assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
        if (strcmp (r.message, want))
            fail_msg ("round %d: \"%s\", want \"%s\"", round, r.message, want);
    }
    json_decref (n6);
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

/* fw_fit_error, one row a case (statuses: up to 4, a NULL reason with code 0 a node that passed). */
static void
fit_error_table (void **state)
{
    (void) state;
    const tr_sched_status_t U1 = {TR_SCHED_UNSCHEDULABLE, "Insufficient cpu"},
                            U2 = {TR_SCHED_UNSCHEDULABLE, "Insufficient cpu\nInsufficient memory"},
                            R1 = {TR_SCHED_UNRESOLVABLE, "node(s) were unschedulable"}, OK = TR_SCHED_OK,
                            NR = {TR_SCHED_UNSCHEDULABLE, NULL};
    static const char *const NOVIC = "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    const struct {
        size_t nall, n;
        tr_sched_status_t st[4];
        const char *pre, *post, *want;
    } rows[] = {
        {3, 3, {U1, U1, U1}, NULL, NULL, "0/3 nodes are available: 3 Insufficient cpu."},
        /* kube-scheduler's FailedScheduling when preemption found nothing: ". preemption: … pod.." */
        {3, 3, {U1, U1, U1}, NULL, NOVIC,
         "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
         "3 No preemption victims found for incoming pod.."},
        {3, 3, {U2, U1, R1}, NULL, "preemption: not eligible due to preemptionPolicy=Never.",
         "0/3 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, 2 Insufficient cpu. "
         "preemption: not eligible due to preemptionPolicy=Never.."},
        {3, 3, {U1, U1, U1}, NULL, "", "0/3 nodes are available: 3 Insufficient cpu."},
        {3, 0, {OK}, "persistentvolumeclaim \"x\" not found", NOVIC,
         "0/3 nodes are available: persistentvolumeclaim \"x\" not found. preemption: 0/3 nodes are available: "
         "3 No preemption victims found for incoming pod.."},
        {2, 2, {OK, NR}, NULL, NULL, "0/2 nodes are available: 1 unknown."},
        {2, 2, {OK, OK}, NULL, "x", "0/2 nodes are available: x."},
        {0, 0, {OK}, NULL, NOVIC, "no nodes available to schedule pods"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[512];
        fw_fit_error (out, sizeof out, rows[i].nall, rows[i].st, rows[i].n, rows[i].pre, rows[i].post);
        if (strcmp (out, rows[i].want))
            fail_msg ("row %zu: \"%s\", want \"%s\"", i, out, rows[i].want);
    }
    /* truncated, never overrun: every length from 0 to the whole */
    char want[512], small[512];
    fw_fit_error (want, sizeof want, 3, rows[2].st, 3, NULL, rows[2].post);
    for (size_t len = 1; len <= strlen (want) + 1; len++) {
        memset (small, 'Z', sizeof small);
        fw_fit_error (small, len, 3, rows[2].st, 3, NULL, rows[2].post);
        assert_int_equal (strlen (small), len - 1);
        assert_memory_equal (small, want, len - 1);
        assert_int_equal (small[len], 'Z');
    }
    /* counted by text, whatever the pointers: 5,000 statuses over 40 distinct strings (more than
     * are counted by pointer) of the same two texts, some joined reasons among them */
    enum { NST = 5000, NSTR = 40 };
    static char texts[NSTR][64];
    static tr_sched_status_t many[NST];
    for (size_t i = 0; i < NSTR; i++)
        snprintf (texts[i], sizeof texts[i], "%s", i % 4 == 0 ? "Insufficient cpu\nToo many pods" : "Insufficient cpu");
    size_t joined = 0;
    for (size_t i = 0; i < NST; i++) {
        many[i] = (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, texts[(i * 7) % NSTR]};
        joined += (i * 7) % NSTR % 4 == 0;
    }
    char out[512], exp[512];
    fw_fit_error (out, sizeof out, NST, many, NST, NULL, NULL);
    /* sorted as strings, as Kubernetes: "1250 Too many pods" before "5000 Insufficient cpu" */
    snprintf (exp, sizeof exp, "0/%d nodes are available: %zu Too many pods, %d Insufficient cpu.", NST, joined, NST);
    assert_string_equal (out, exp);
}

static void
sampling (void **state)
{
    (void) state;
    /* numFeasibleNodesToFind */
    assert_int_equal (fw_nodes_to_find (0, 50), 50);
    assert_int_equal (fw_nodes_to_find (0, 200), 100);   /* 49 % = 98 → at least 100 */
    assert_int_equal (fw_nodes_to_find (0, 1000), 420);  /* 50 - 8 = 42 % */
    assert_int_equal (fw_nodes_to_find (0, 5000), 500);  /* 50 - 40 = 10 % */
    assert_int_equal (fw_nodes_to_find (0, 100000), 5000); /* at least 5 % */
    assert_int_equal (fw_nodes_to_find (30, 1000), 300);
    assert_int_equal (fw_nodes_to_find (100, 1000), 1000);
    /* the cycle stops after enough feasible nodes and the next one starts where it stopped */
    world_t w;
    world (&w, 1000);
    fw_profile_t *fp = fw_profile_new ("t", 0);
    char err[128];
    assert_int_equal (fw_profile_add (fp, sched_registry_find ("NodeResourcesFit"), NULL, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, sched_registry_find ("DefaultBinder"), NULL, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_true (r.host_binds);
    assert_int_equal (r.evaluated, 420);
    assert_int_equal (r.feasible, 420);
    const tr_sched_snapshot_t *v = snap_view (w.snap);
    size_t idx = 0;
    while (strcmp (v->nodes[idx]->name, r.node))
        idx++;
    assert_true (idx < 420);
    r = cycle (fp, &w, "p2");
    idx = 0;
    while (strcmp (v->nodes[idx]->name, r.node))
        idx++;
    assert_true (idx >= 420 && idx < 840); /* round-robin start */
    /* 100 % : every node */
    fw_profile_set_percentage (fp, 100);
    r = cycle (fp, &w, "p3");
    assert_int_equal (r.evaluated, 1000);
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

static void
random_ties (void **state)
{
    (void) state;
    world_t w;
    world (&w, 4);
    fw_profile_t *fp = profile2 ("{\"tag\":\"A\"}", "{\"tag\":\"B\"}", 1, 1); /* every node scores the same */
    int seen[4] = {0};
    for (int i = 0; i < 400; i++) {
        char uid[32];
        snprintf (uid, sizeof uid, "p%d", i);
        fw_result_t r = cycle (fp, &w, uid);
        seen[r.node[1] - '1']++;
        snap_forget (w.snap, uid);
    }
    for (int i = 0; i < 4; i++)
        assert_in_range (seen[i], 60, 140); /* uniform-ish: 100 expected each */
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

static void
init_refusal_and_shared_instance (void **state)
{
    (void) state;
    fw_profile_t *fp = fw_profile_new ("t", 0);
    char err[256];
    json_t *a = json_pack ("{s:b}", "refuse", 1);
    assert_int_equal (fw_profile_add (fp, &fakeA, a, FW_PT_ALL, 1, NULL, err, sizeof err), -1);
    assert_string_equal (err, "A: refused on purpose");
    json_decref (a);
    /* adding at two points shares one instance */
    a = json_pack ("{s:s}", "tag", "A");
    assert_int_equal (fw_profile_add (fp, &fakeA, a, FW_PT_FILTER, 0, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, &fakeA, a, FW_PT_SCORE, 7, NULL, err, sizeof err), 0);
    int64_t wt;
    assert_int_equal (fw_profile_list (fp, FW_PT_SCORE, NULL, &wt, 1), 1);
    assert_int_equal (wt, 7);
    assert_int_equal (fw_profile_list (fp, FW_PT_PRE_FILTER, NULL, NULL, 0), 0);
    fw_profile_remove (fp, "A", FW_PT_FILTER);
    assert_int_equal (fw_profile_list (fp, FW_PT_FILTER, NULL, NULL, 0), 0);
    json_decref (a);
    fw_profile_destroy (&fp);
}

static void
host_table (void **state)
{
    (void) state;
    const tr_sched_host_t *h = fw_host ();
    assert_int_equal (h->size, sizeof (tr_sched_host_t));
    int64_t m;
    assert_int_equal (h->quantity_milli ("500m", &m), 0);
    assert_int_equal (m, 500);
    assert_int_equal (h->quantity_milli ("1Gi", &m), 0);
    assert_int_equal (m, 1073741824000LL);
    assert_int_equal (h->quantity_milli ("bad", &m), -1);
    json_t *labels = json_pack ("{s:s,s:s}", "app", "web", "tier", "fe");
    json_t *sel = json_pack ("{s:{s:s},s:[{s:s,s:s,s:[s]}]}", "matchLabels", "app", "web", "matchExpressions", "key",
                             "tier", "operator", "In", "values", "fe");
    assert_int_equal (h->label_selector_match (sel, labels), 1);
    json_t *empty = json_object ();
    assert_int_equal (h->label_selector_match (empty, labels), 1);
    assert_int_equal (h->label_selector_match (NULL, labels), 0);
    json_t *badsel = json_pack ("{s:[{s:s,s:s}]}", "matchExpressions", "key", "x", "operator", "Nope");
    assert_int_equal (h->label_selector_match (badsel, labels), -1);
    /* node selector terms: a malformed operator is -1 */
    tr_sched_node_t n = {.size = sizeof n, .name = "n1", .labels = labels};
    json_t *terms = json_pack ("[{s:[{s:s,s:s}]}]", "matchExpressions", "key", "app", "operator", "Bogus");
    assert_int_equal (h->node_selector_match (terms, &n), -1);
    json_decref (terms);
    terms = json_pack ("[{s:[{s:s,s:s,s:[s]}]}]", "matchExpressions", "key", "app", "operator", "Gt", "values", "x");
    assert_int_equal (h->node_selector_match (terms, &n), -1);
    json_decref (terms);
    json_decref (labels);
    json_decref (sel);
    json_decref (empty);
    json_decref (badsel);
}

/* Not an assertion of speed: prints what one cycle costs at 5,000 nodes with the default
 * profile (docs/status.md quotes it). */
static void
cost_at_5000_nodes (void **state)
{
    (void) state;
    sched_snap_t *s = snap_new ();
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf (name, sizeof name, "node-%d", i);
        json_t *n = json_pack ("{s:{s:s,s:{s:s}},s:{s:[{s:s,s:s,s:s}]},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata",
                               "name", name, "labels", "kubernetes.io/hostname", name, "spec", "taints", "key", "k",
                               "value", "v", "effect", i % 5 ? "PreferNoSchedule" : "NoSchedule", "status", "allocatable",
                               "cpu", "4", "memory", "16Gi", "pods", "110", "conditions", "type", "Ready", "status", "True");
        snap_node_set (s, n);
        json_decref (n);
    }
    char err[256];
    for (int pct = 0; pct <= 100; pct += 100) {
        fw_profile_t *fp = sched_profile_default (NULL, pct, err, sizeof err);
        assert_non_null (fp);
        struct timespec t0, t1;
        int n = pct ? 200 : 2000;
        clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int i = 0; i < n; i++) {
            char uid[32];
            snprintf (uid, sizeof uid, "p%d-%d", pct, i);
            json_t *obj = json_pack ("{s:{s:s,s:s,s:s},s:{s:[{s:s,s:{s:{s:s,s:s}}}]}}", "metadata", "name", uid,
                                     "namespace", "d", "uid", uid, "spec", "containers", "name", "c", "resources",
                                     "requests", "cpu", "10m", "memory", "10Mi");
            tr_sched_pod_t p;
            snap_pod_fill (&p, obj);
            fw_env_t env = {snap_view (s), NULL, NULL, NULL, NULL};
            fw_result_t r;
            fw_schedule (fp, &env, &p, &r);
            assert_int_equal (r.outcome, FW_SCHEDULED);
            json_decref (obj);
        }
        clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t1);
        double us = ((double) (t1.tv_sec - t0.tv_sec) * 1e6 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
        print_message ("cycle at 5000 nodes, percentageOfNodesToScore=%d: %.1f us of CPU\n", pct, us);
        fw_profile_destroy (&fp);
    }
    snap_destroy (&s);
}

/* ---- batch forms (ABI 1.4) and the chunked Filter ---------------------------------------- */

static fw_profile_t *
profile_ac (const char *a_args, const char *c_args, const tr_sched_plugin_t *c, int pct)
{
    fw_profile_t *fp = fw_profile_new ("t", pct);
    char err[256];
    json_t *a = json_loads (a_args, 0, NULL), *cj = json_loads (c_args, 0, NULL);
    assert_int_equal (fw_profile_add (fp, &fakeA, a, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, c, cj, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    json_decref (a);
    json_decref (cj);
    return fp;
}

static size_t
count (const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr (p, needle)); p++)
        n++;
    return n;
}

static void
batch_hooks (void **state)
{
    (void) state;
    world_t w;
    world (&w, 3);
    /* A (node by node) rejects n1; C has the batch forms: one call for the nodes A passed */
    fw_profile_t *fp = profile_ac ("{\"tag\":\"A\",\"reject\":\"n1\"}", "{\"tag\":\"C\",\"favour\":\"n3\"}", &fakeC, 100);
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_string_equal (r.node, "n3");
    assert_non_null (strstr (trace, "A.filter(n1) A.filter(n2) A.filter(n3) C.filter_nodes(n2,n3) "));
    assert_non_null (strstr (trace, "C.score_nodes(2) "));
    assert_null (strstr (trace, "C.filter("));
    assert_null (strstr (trace, "C.score("));
    /* off: the per-node hooks, node by node, the same choice */
    snap_forget (w.snap, "p1");
    fw_profile_set_batch (fp, 0);
    r = cycle (fp, &w, "p1");
    assert_string_equal (r.node, "n3");
    assert_non_null (strstr (trace, "A.filter(n1) A.filter(n2) C.filter(n2) A.filter(n3) C.filter(n3) "));
    assert_non_null (strstr (trace, "C.score(n2) C.score(n3) "));
    assert_null (strstr (trace, "_nodes("));
    fw_profile_destroy (&fp);
    /* a descriptor built against 1.3 ends before the batch hooks: whatever lies there is not read */
    tr_sched_plugin_t old = fakeC;
    old.size = (uint32_t) offsetof (tr_sched_plugin_t, filter_nodes);
    fp = profile_ac ("{\"tag\":\"A\"}", "{\"tag\":\"C\"}", &old, 100);
    r = cycle (fp, &w, "p2");
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_non_null (strstr (trace, "C.filter(n1) C.filter(n2) C.filter(n3) "));
    assert_non_null (strstr (trace, "C.score(n1) "));
    assert_null (strstr (trace, "_nodes("));
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

/* A chunk holds no more nodes than the feasible ones still wanted: at 250 nodes and 10 % the
 * sample is 100 nodes (the minimum), and Filter sees exactly those, as node by node. */
static void
batch_chunk_bound (void **state)
{
    (void) state;
    world_t w;
    world (&w, 250);
    for (int batch = 1; batch >= 0; batch--) {
        fw_profile_t *fp = profile_ac ("{\"tag\":\"A\"}", "{\"tag\":\"C\"}", &fakeC, 10);
        fw_profile_set_batch (fp, batch);
        fw_result_t r = cycle (fp, &w, "p1");
        assert_int_equal (r.outcome, FW_SCHEDULED);
        assert_int_equal (r.evaluated, 100);
        assert_int_equal (r.feasible, 100);
        assert_int_equal (count (trace, "A.filter("), 100);
        assert_int_equal (count (trace, batch ? "C.filter_nodes(" : "C.filter("), batch ? 2 : 100); /* 64 + 36 */
        snap_forget (w.snap, "p1");
        fw_profile_destroy (&fp);
    }
    snap_destroy (&w.snap);
}

/* An error is the one the node-by-node scan stops at: the first node, in the scan's order, that a
 * plugin failed on, and the first plugin that failed there. */
static void
batch_error_is_the_scans (void **state)
{
    (void) state;
    world_t w;
    world (&w, 3);
    const char *cases[][3] = {
        {"{\"tag\":\"A\",\"error\":\"n3\"}", "{\"tag\":\"C\",\"error\":\"n2\"}", "C broke on n2"},
        {"{\"tag\":\"A\",\"error\":\"n2\"}", "{\"tag\":\"C\",\"error\":\"n2\"}", "A broke on n2"},
        {"{\"tag\":\"A\",\"reject\":\"n1\"}", "{\"tag\":\"C\",\"error\":\"n1 n3\"}", "C broke on n3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[2][sizeof ((fw_result_t *) 0)->message];
        for (int batch = 0; batch < 2; batch++) {
            fw_profile_t *fp = profile_ac (cases[i][0], cases[i][1], &fakeC, 100);
            fw_profile_set_batch (fp, batch);
            fw_result_t r = cycle (fp, &w, "p1");
            if (r.outcome != FW_ERROR || !strstr (r.message, cases[i][2]))
                fail_msg ("case %zu, batch %d: outcome %d \"%s\", want an error naming \"%s\"", i, batch, r.outcome,
                          r.message, cases[i][2]);
            snprintf (msg[batch], sizeof msg[batch], "%s", r.message);
            assert_false (snap_is_assumed (w.snap, "p1"));
            fw_profile_destroy (&fp);
        }
        assert_string_equal (msg[0], msg[1]);
    }
    snap_destroy (&w.snap);
}

/* The default profile's built-in plugins, batch forms on and off, on the same varied cluster
 * (cordoned, not Ready, tainted NoSchedule and PreferNoSchedule, extended resources, images,
 * small pod slots) and the same pods (requests, tolerations, extended resources, images, some
 * that fit nowhere): every cycle the same outcome, node, message and sample. */
static json_t *
varied_node (int i)
{
    char name[32];
    snprintf (name, sizeof name, "v%03d", i);
    json_t *alloc = json_pack ("{s:i,s:s,s:i}", "cpu", 1 + i % 8, "memory", i % 2 ? "2Gi" : "4Gi", "pods", 3 + i % 7);
    if (i % 4 == 0)
        json_object_set_new (alloc, "example.com/gpu", json_string ("2"));
    json_t *n = json_pack ("{s:{s:s,s:{s:s}},s:{},s:{s:o,s:[{s:s,s:s}]}}", "metadata", "name", name, "labels",
                           "kubernetes.io/hostname", name, "spec", "status", "allocatable", alloc, "conditions", "type",
                           "Ready", "status", i % 31 == 0 ? "False" : "True");
    json_t *spec = json_object_get (n, "spec"), *taints = json_array ();
    if (i % 23 == 0)
        json_object_set_new (spec, "unschedulable", json_true ());
    if (i % 7 == 0)
        json_array_append_new (taints, json_pack ("{s:s,s:s,s:s}", "key", "dedicated", "value", "db", "effect", "NoSchedule"));
    if (i % 5 == 0)
        json_array_append_new (taints, json_pack ("{s:s,s:s}", "key", "spot", "effect", "PreferNoSchedule"));
    json_object_set_new (spec, "taints", taints);
    if (i % 3 == 0)
        json_object_set_new (json_object_get (n, "status"), "images",
                             json_pack ("[{s:[s],s:i}]", "names", "img/a:1", "sizeBytes", 300000000));
    return n;
}

static json_t *
varied_pod (int i)
{
    char uid[32], cpu[16];
    snprintf (uid, sizeof uid, "q%04d", i);
    snprintf (cpu, sizeof cpu, "%dm", i % 50 == 49 ? 100000 : (i % 4 + 1) * 250);
    json_t *req = json_pack ("{s:s,s:s}", "cpu", cpu, "memory", i % 3 ? "256Mi" : "768Mi");
    if (i % 9 == 0)
        json_object_set_new (req, "example.com/gpu", json_string ("1"));
    if (i % 11 == 5) /* no node offers it: refused everywhere, through the plugins' own Filter */
        json_object_set_new (req, "ephemeral-storage", json_string ("1Gi"));
    json_t *p = json_pack ("{s:{s:s,s:s,s:s},s:{s:[{s:s,s:s,s:{s:o}}]},s:{}}", "metadata", "name", uid, "namespace", "d",
                           "uid", uid, "spec", "containers", "name", "c", "image", i % 2 ? "img/a:1" : "img/b:1",
                           "resources", "requests", req, "status");
    json_t *tol = json_array ();
    if (i % 6 == 0)
        json_array_append_new (tol, json_pack ("{s:s,s:s,s:s,s:s}", "key", "dedicated", "operator", "Equal", "value", "db",
                                               "effect", "NoSchedule"));
    if (i % 10 == 0)
        json_array_append_new (tol, json_pack ("{s:s,s:s,s:s}", "key", "spot", "operator", "Exists", "effect",
                                               "PreferNoSchedule"));
    json_object_set_new (json_object_get (p, "spec"), "tolerations", tol);
    return p;
}

static void
batch_same_as_node_by_node (void **state)
{
    (void) state;
    sched_snap_t *snap[2] = {snap_new (), snap_new ()};
    for (int i = 0; i < 300; i++) {
        json_t *n = varied_node (i);
        snap_node_set (snap[0], n);
        snap_node_set (snap[1], n);
        json_decref (n);
    }
    char err[256];
    fw_profile_t *fp[2];
    for (int b = 0; b < 2; b++) {
        fp[b] = sched_profile_default (NULL, 0, err, sizeof err);
        assert_non_null (fp[b]);
        fw_profile_set_batch (fp[b], b);
        fw_profile_seed (fp[b], 42);
    }
    int placed = 0, refused = 0;
    for (int i = 0; i < 2500; i++) {
        if (i % 97 == 96 || i % 211 == 210) { /* a node changes shape, or goes (the scans' layout moves) */
            char name[32];
            snprintf (name, sizeof name, "v%03d", i % 300);
            json_t *n = varied_node (i % 300 + 1);
            json_object_set_new (json_object_get (n, "metadata"), "name", json_string (name));
            for (int b = 0; b < 2; b++)
                if (i % 97 == 96)
                    snap_node_set (snap[b], n);
                else
                    snap_node_delete (snap[b], name);
            json_decref (n);
        }
        json_t *obj = varied_pod (i);
        fw_result_t r[2];
        for (int b = 0; b < 2; b++) {
            tr_sched_pod_t p;
            snap_pod_fill (&p, obj);
            fw_env_t env;
            fw_env_of_snapshot (&env, snap[b]);
            fw_schedule (fp[b], &env, &p, &r[b]);
            json_decref (r[b].preempt);
        }
        if (r[0].outcome != r[1].outcome || strcmp (r[0].node, r[1].node) || strcmp (r[0].message, r[1].message) ||
            r[0].evaluated != r[1].evaluated || r[0].feasible != r[1].feasible || r[0].events != r[1].events)
            fail_msg ("pod %d: node by node %d %s \"%s\" (%zu/%zu), batch %d %s \"%s\" (%zu/%zu)", i, r[0].outcome,
                      r[0].node, r[0].message, (size_t) r[0].feasible, (size_t) r[0].evaluated, r[1].outcome, r[1].node,
                      r[1].message, (size_t) r[1].feasible, (size_t) r[1].evaluated);
        placed += r[0].outcome == FW_SCHEDULED;
        refused += r[0].outcome == FW_UNSCHEDULABLE;
        json_decref (obj);
    }
    /* the cluster fills: both kinds of cycle happened, many of each */
    print_message ("%d pods placed, %d refused\n", placed, refused);
    assert_true (placed > 300);
    assert_true (refused > 300);
    for (int b = 0; b < 2; b++) {
        fw_profile_destroy (&fp[b]);
        snap_destroy (&snap[b]);
    }
}

/* The framework's hot lines (nodehot.h) equal the nodes' own fields after every kind of change
 * the snapshot takes: pods assumed, bound, forgotten and deleted, nodes changed (allocatable,
 * taints, unschedulable, readiness, images), removed and added; none for a hand-made snapshot. */
static void
assert_hot_lines (fw_profile_t *fp, sched_snap_t *snap)
{
    const tr_sched_snapshot_t *v = snap_view (snap);
    const nodehot_t *h = (const nodehot_t *) fw_hot_lines (fp, v);
    assert_non_null (h);
    for (uint32_t i = 0; i < v->nnodes; i++) {
        nodehot_t want;
        nodehot_of (v->nodes[i], &want);
        if (memcmp (&want, &h[i], sizeof want))
            fail_msg ("node %s (%u of %u): hot line cpu %lld/%lld mem %lld/%lld pods %u/%d flags %d%d%d%d, node "
                      "cpu %lld/%lld mem %lld/%lld pods %u/%d flags %d%d%d%d",
                      v->nodes[i]->name, i, v->nnodes, (long long) h[i].req_cpu, (long long) h[i].alloc_cpu,
                      (long long) h[i].req_mem, (long long) h[i].alloc_mem, h[i].npods, h[i].alloc_pods,
                      h[i].unschedulable, h[i].ready, h[i].tainted, h[i].imaged, (long long) want.req_cpu,
                      (long long) want.alloc_cpu, (long long) want.req_mem, (long long) want.alloc_mem, want.npods,
                      want.alloc_pods, want.unschedulable, want.ready, want.tainted, want.imaged);
    }
}

static void
hot_lines_follow_the_snapshot (void **state)
{
    (void) state;
    sched_snap_t *snap = snap_new ();
    for (int i = 0; i < 40; i++) {
        json_t *n = varied_node (i);
        snap_node_set (snap, n);
        json_decref (n);
    }
    char err[256];
    fw_profile_t *fp = sched_profile_default (NULL, 0, err, sizeof err);
    assert_non_null (fp);
    assert_hot_lines (fp, snap);
    /* images alone are no scheduling event, but the line follows them (ImageLocality's PreScore) */
    json_t *im = varied_node (1);
    json_object_set_new (json_object_get (im, "status"), "images",
                         json_pack ("[{s:[s],s:i}]", "names", "img/c:1", "sizeBytes", 1000));
    assert_int_equal (snap_node_set (snap, im), 0);
    json_decref (im);
    assert_hot_lines (fp, snap);
    unsigned seed = 7;
    for (int round = 0; round < 400; round++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 8) % 100, k = (seed >> 16) % 60;
        char name[32], uid[32];
        snprintf (name, sizeof name, "v%03u", k % 45);
        snprintf (uid, sizeof uid, "q%04u", (unsigned) round);
        if (r < 40) { /* a pod assumed, then bound there or forgotten */
            json_t *pod = varied_pod ((int) k);
            json_object_set_new (json_object_get (pod, "metadata"), "uid", json_string (uid));
            json_object_set_new (json_object_get (pod, "metadata"), "name", json_string (uid));
            if (!snap_assume (snap, pod, name)) {
                if (r < 30) {
                    json_object_set_new (json_object_get (pod, "spec"), "nodeName", json_string (name));
                    snap_pod_bound (snap, pod);
                } else
                    snap_forget (snap, uid);
            }
            json_decref (pod);
        } else if (r < 55) { /* a pod deleted */
            snprintf (uid, sizeof uid, "q%04u", k * 7 % (round + 1));
            snap_pod_delete (snap, uid);
        } else if (r < 85) { /* a node changed: another node's shape under its name */
            json_t *n = varied_node ((int) k * 3 + round);
            json_object_set_new (json_object_get (n, "metadata"), "name", json_string (name));
            snap_node_set (snap, n);
            json_decref (n);
        } else if (r < 93) {
            snap_node_delete (snap, name);
        } else { /* a node added back */
            json_t *n = varied_node ((int) (k % 45));
            snap_node_set (snap, n);
            json_decref (n);
        }
        if (round % 3 == 0 || r >= 85)
            assert_hot_lines (fp, snap);
    }
    assert_hot_lines (fp, snap);
    /* a snapshot made by hand keeps no journal: no hot lines, the plugins read the nodes */
    tr_sched_snapshot_t hand = *snap_view (snap);
    hand.layout = 0;
    assert_null (fw_hot_lines (fp, &hand));
    fw_profile_destroy (&fp);
    snap_destroy (&snap);
}

/* ---- Permit WAIT ------------------------------------------------------------------------- */

/* W, a gang plugin: its Permit holds pods until "n" of them have come (the n-th allows the others
 * through host->allow_waiting and passes), for "wait" ms; a pod named "rej..." rejects every
 * waiting pod (host->reject_waiting). */
typedef struct {
    int n, seen;
    int64_t wait;
} gang_t;

static void *
g_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) err, (void) errlen;
    assert_true (host->size >= sizeof (tr_sched_host_t)); /* the appended calls are there */
    gang_t *g = calloc (1, sizeof *g);
    g->n = (int) json_integer_value (json_object_get (args, "n"));
    g->wait = json_integer_value (json_object_get (args, "wait"));
    return g;
}

static tr_sched_status_t
g_permit (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, int64_t *wait)
{
    gang_t *g = self;
    const tr_sched_host_t *h = fw_host ();
    const tr_sched_pod_t *pods[16];
    size_t nw = h->waiting_pods (cs, pods, NULL, 16);
    rec ("W.permit(%s,%s,%zu waiting) ", pod->uid, node, nw);
    if (!strncmp (pod->uid, "rej", 3)) {
        for (size_t i = 0; i < nw; i++)
            assert_int_equal (h->reject_waiting (cs, pods[i]->uid, "W", "gang broken"), 0);
        return TR_SCHED_OK;
    }
    if (++g->seen < g->n) {
        *wait = g->wait;
        return (tr_sched_status_t) {TR_SCHED_WAIT, NULL};
    }
    for (size_t i = 0; i < nw; i++)
        assert_int_equal (h->allow_waiting (cs, pods[i]->uid, "W"), 0);
    assert_int_equal (h->allow_waiting (cs, "nobody", "W"), -1);
    return TR_SCHED_OK;
}

static void
g_unreserve (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node)
{
    (void) self, (void) cs;
    rec ("W.unreserve(%s,%s) ", pod->uid, node);
}

static const tr_sched_plugin_t gangW = {TR_SCHED_PLUGIN_HEADER ("W"), .init = g_init, .destroy = free,
                                        .unreserve = g_unreserve, .permit = g_permit,
                                        .events = TR_SCHED_EV_POD_ADD};

static int64_t fake_now;

static int64_t
fake_clock (void *arg)
{
    (void) arg;
    return fake_now;
}

static fw_profile_t *
gang_profile (int n, int64_t wait)
{
    fw_profile_t *fp = fw_profile_new ("t", 100);
    fw_profile_set_clock (fp, fake_clock, NULL);
    char err[256];
    json_t *a = json_pack ("{s:s}", "tag", "A"), *g = json_pack ("{s:i,s:I}", "n", n, "wait", (json_int_t) wait);
    assert_int_equal (fw_profile_add (fp, &fakeA, a, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, &gangW, g, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    json_decref (a);
    json_decref (g);
    return fp;
}

static size_t
poll (fw_profile_t *fp, world_t *w, fw_done_t *done, size_t max)
{
    fw_env_t env = {snap_view (w->snap), NULL, w_assume, w_forget, w};
    trace[0] = 0;
    return fw_waiting_poll (fp, &env, done, max);
}

/* A pod held by Permit stays assumed and reserved, without PreBind or Bind, until the plugin
 * allows it; then the next poll binds it. */
static void
permit_wait_then_allow (void **state)
{
    (void) state;
    world_t w;
    world (&w, 1);
    fake_now = 1000;
    fw_profile_t *fp = gang_profile (3, 60000);
    fw_done_t done[4];
    fw_result_t r = cycle (fp, &w, "p1");
    assert_int_equal (r.outcome, FW_WAITING);
    assert_string_equal (r.node, "n1");
    assert_string_equal (trace, "A.prefilter A.filter(n1) assume(n1) A.reserve(n1) A.permit(n1) W.permit(p1,n1,0 waiting) ");
    assert_true (snap_is_assumed (w.snap, "p1"));
    assert_int_equal (snap_node (w.snap, "n1")->npods, 1); /* its room is taken */
    r = cycle (fp, &w, "p2");
    assert_int_equal (r.outcome, FW_WAITING);
    assert_int_equal (fw_waiting_count (fp), 2);
    assert_true (fw_waiting_has (fp, "p1"));
    assert_int_equal (poll (fp, &w, done, 4), 0); /* nobody allowed yet */
    assert_int_equal (fw_waiting_next_ms (fp), 60000);
    /* the third pod allows the two others and passes itself */
    r = cycle (fp, &w, "p3");
    assert_int_equal (r.outcome, FW_SCHEDULED);
    assert_non_null (strstr (trace, "W.permit(p3,n1,2 waiting) A.prebind(n1) A.bind(n1) "));
    assert_int_equal (fw_waiting_next_ms (fp), 0);
    size_t n = poll (fp, &w, done, 4);
    assert_int_equal (n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (done[i].r.outcome, FW_SCHEDULED);
        assert_string_equal (done[i].r.node, "n1");
        assert_true (!strcmp (done[i].uid, "p1") || !strcmp (done[i].uid, "p2"));
    }
    assert_string_equal (trace, "A.prebind(n1) A.bind(n1) A.prebind(n1) A.bind(n1) ");
    assert_int_equal (fw_waiting_count (fp), 0);
    assert_int_equal (fw_waiting_next_ms (fp), -1);
    assert_int_equal (w.forgotten, 0);
    assert_int_equal (snap_node (w.snap, "n1")->npods, 3);
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

/* A waiting pod rejected by a plugin: Unreserve in reverse, forgotten, Unschedulable with the
 * plugin's message and events. */
static void
permit_wait_then_reject (void **state)
{
    (void) state;
    world_t w;
    world (&w, 1);
    fake_now = 0;
    fw_profile_t *fp = gang_profile (5, 60000);
    fw_done_t done[4];
    assert_int_equal (cycle (fp, &w, "p1").outcome, FW_WAITING);
    assert_int_equal (cycle (fp, &w, "rej").outcome, FW_SCHEDULED);
    assert_int_equal (poll (fp, &w, done, 4), 1);
    assert_string_equal (done[0].uid, "p1");
    assert_int_equal (done[0].r.outcome, FW_UNSCHEDULABLE);
    assert_string_equal (done[0].r.message, "pod rejected by Permit plugin \"W\": gang broken");
    assert_int_equal (done[0].r.events, TR_SCHED_EV_POD_ADD);
    assert_string_equal (trace, "W.unreserve(p1,n1) A.unreserve(n1) forget ");
    assert_false (snap_is_assumed (w.snap, "p1"));
    assert_int_equal (snap_node (w.snap, "n1")->npods, 1); /* "rej" only */
    /* the caller rejects (the pod was deleted): any event may help */
    assert_int_equal (cycle (fp, &w, "p2").outcome, FW_WAITING);
    assert_int_equal (fw_waiting_reject (fp, "p2", "pod deleted"), 0);
    assert_int_equal (fw_waiting_reject (fp, "p2", "again"), -1);
    assert_int_equal (fw_waiting_reject (fp, "nobody", "x"), -1);
    assert_int_equal (poll (fp, &w, done, 4), 1);
    assert_string_equal (done[0].r.message, "pod deleted");
    assert_int_equal (done[0].r.events, TR_SCHED_EV_ALL);
    assert_false (snap_is_assumed (w.snap, "p2"));
    /* a pod still waiting when the profile goes is freed with it (ASan) */
    assert_int_equal (cycle (fp, &w, "p3").outcome, FW_WAITING);
    fw_profile_destroy (&fp);
    snap_destroy (&w.snap);
}

/* A wait that runs out rejects the pod as Kubernetes words it; the wait is capped at 15 min. */
static void
permit_wait_times_out (void **state)
{
    (void) state;
    static const struct {
        int64_t wait, expires;
        const char *text;
    } t[] = {
        {10000, 10000, "10s"},
        {1500, 1500, "1.5s"},
        {250, 250, "250ms"},
        {90000, 90000, "1m30s"},
        {3600000, 900000, "15m0s"}, /* maxTimeout */
        {0, 0, "0s"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        world_t w;
        world (&w, 2);
        fake_now = 5000;
        fw_profile_t *fp = gang_profile (2, t[i].wait);
        fw_done_t done[2];
        fw_result_t r = cycle (fp, &w, "p1");
        assert_int_equal (r.outcome, FW_WAITING);
        assert_int_equal (fw_waiting_next_ms (fp), t[i].expires);
        if (t[i].expires) {
            fake_now = 5000 + t[i].expires - 1;
            assert_int_equal (poll (fp, &w, done, 2), 0);
            assert_int_equal (fw_waiting_next_ms (fp), 1);
        }
        fake_now = 5000 + t[i].expires;
        assert_int_equal (fw_waiting_next_ms (fp), 0);
        assert_int_equal (poll (fp, &w, done, 2), 1);
        assert_int_equal (done[0].r.outcome, FW_UNSCHEDULABLE);
        char want[128];
        snprintf (want, sizeof want, "rejected due to timeout after waiting %s at plugin W", t[i].text);
        assert_string_equal (done[0].r.message, want);
        assert_non_null (strstr (trace, "W.unreserve(p1,"));
        assert_int_equal (w.forgotten, 1);
        assert_int_equal (snap_node (w.snap, r.node)->npods, 0);
        assert_int_equal (fw_waiting_count (fp), 0);
        fw_profile_destroy (&fp);
        snap_destroy (&w.snap);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (order_of_points), cmocka_unit_test (skip_and_stop),    cmocka_unit_test (weights_and_normalize),
        cmocka_unit_test (reserve_failure_unwinds), cmocka_unit_test (fit_error_text), cmocka_unit_test (fit_error_after_other_cycles),
        cmocka_unit_test (fit_error_table), cmocka_unit_test (sampling),
        cmocka_unit_test (random_ties),     cmocka_unit_test (init_refusal_and_shared_instance),
        cmocka_unit_test (host_table), cmocka_unit_test (permit_wait_then_allow),
        cmocka_unit_test (permit_wait_then_reject), cmocka_unit_test (permit_wait_times_out),      cmocka_unit_test (cost_at_5000_nodes),
        cmocka_unit_test (batch_hooks), cmocka_unit_test (batch_chunk_bound), cmocka_unit_test (batch_error_is_the_scans),
        cmocka_unit_test (batch_same_as_node_by_node),
        cmocka_unit_test (hot_lines_follow_the_snapshot),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
