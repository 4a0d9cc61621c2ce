/* The built-in scheduler plugins through the default profile (and alone, table-driven):
 * NodeResourcesFit (fit against bound and assumed pods, Kubernetes' reasons, LeastAllocated /
 * MostAllocated / RequestedToCapacityRatio scores), NodeAffinity (nodeSelector, required terms
 * with In/NotIn/Exists/DoesNotExist/Gt/Lt and matchFields, preferred weights), TaintToleration
 * (filter with the taint in the reason, PreferNoSchedule score), NodeUnschedulable, NodeReady,
 * NodeName, PrioritySort; spreading among equal nodes through assume; the FitError text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "actors/scheduler/framework.h"
#include "actors/scheduler/plugins/registry.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/snapshot.h"
#include "core/value.h"

static json_t *
node (const char *name, const char *cpu, const char *mem, int ready)
{
    return json_pack ("{s:{s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata", "name", name, "labels",
                      "zone", name, "spec", "status", "allocatable", "cpu", cpu, "memory", mem, "pods", "110",
                      "conditions", "type", "Ready", "status", ready ? "True" : "False");
}

static json_t *
pod (const char *uid, const char *cpu, const char *mem)
{
    return json_pack ("{s:{s:s,s:s,s:s},s:{s:[{s:s,s:{s:{s:s,s:s}}}]}}", "metadata", "name", uid, "namespace", "default",
                      "uid", uid, "spec", "containers", "name", "c", "resources", "requests", "cpu", cpu, "memory", mem);
}

typedef struct {
    sched_snap_t *snap;
    fw_profile_t *prof;
} env_t;


/* Schedules obj; returns 0 and the node in chosen, or -1 and the message in why. */
static int
schedule (env_t *e, json_t *obj, char *chosen, size_t clen, char *why, size_t wlen)
{
    fw_env_t env;
    fw_env_of_snapshot (&env, e->snap);
    tr_sched_pod_t p;
    assert_int_equal (snap_pod_fill (&p, obj), 0);
    fw_result_t r;
    fw_schedule (e->prof, &env, &p, &r);
    if (r.outcome == FW_SCHEDULED) {
        snprintf (chosen, clen, "%.60s", r.node);
        assert_true (r.host_binds);
        return 0;
    }
    snprintf (why, wlen, "%.500s", r.message);
    return -1;
}

static void
env_init (env_t *e)
{
    char err[256];
    e->snap = snap_new ();
    e->prof = sched_profile_default (NULL, 0, err, sizeof err);
    assert_non_null (e->prof);
    fw_profile_seed (e->prof, 42);
}

static void
env_fini (env_t *e)
{
    fw_profile_destroy (&e->prof);
    snap_destroy (&e->snap);
}

static void
add_node (env_t *e, json_t *n)
{
    snap_node_set (e->snap, n);
    json_decref (n);
}

static void
fit_and_score (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    add_node (&e, node ("a", "2", "4Gi", 1));
    add_node (&e, node ("b", "4", "8Gi", 1));
    char chosen[64], why[512];
    json_t *p = pod ("p1", "1", "1Gi");
    /* least allocated prefers the bigger, emptier node; the choice is assumed at once */
    assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), 0);
    assert_string_equal (chosen, "b");
    assert_true (snap_is_assumed (e.snap, "p1"));
    const tr_sched_node_t *b = snap_node (e.snap, "b");
    assert_int_equal (b->requested.milli_cpu, 1000);
    assert_int_equal (b->requested.memory, 1073741824);
    assert_int_equal (b->npods, 1);
    /* a 3.5-cpu pod no longer fits anywhere */
    json_t *big = pod ("p2", "3500m", "1Gi");
    assert_int_equal (schedule (&e, big, chosen, sizeof chosen, why, sizeof why), -1);
    assert_string_equal (why, "0/2 nodes are available: 2 Insufficient cpu. "
                              "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..");
    /* forgetting the assumed pod frees b again */
    snap_forget (e.snap, "p1");
    assert_int_equal (b->requested.milli_cpu, 0);
    assert_int_equal (schedule (&e, big, chosen, sizeof chosen, why, sizeof why), 0);
    assert_string_equal (chosen, "b");
    /* the informer confirming twice does not double count */
    tv_set (p, "spec.nodeName", json_string ("a"));
    snap_pod_bound (e.snap, p);
    snap_pod_bound (e.snap, p);
    const tr_sched_node_t *a = snap_node (e.snap, "a");
    assert_int_equal (a->requested.milli_cpu, 1000);
    assert_int_equal (a->npods, 1);
    json_decref (p);
    json_decref (big);
    env_fini (&e);
}

static void
filters (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    json_t *c = node ("c", "2", "4Gi", 1), *d = node ("d", "2", "4Gi", 1);
    tv_set (c, "spec.taints", json_pack ("[{s:s,s:s,s:s}]", "key", "gpu", "value", "yes", "effect", "NoSchedule"));
    tv_set (d, "spec.unschedulable", json_true ());
    add_node (&e, node ("a", "2", "4Gi", 1));
    add_node (&e, node ("b", "2", "4Gi", 0));
    add_node (&e, c);
    add_node (&e, d);
    json_t *p = pod ("p", "100m", "1Mi");
    tv_set (p, "spec.nodeSelector", json_pack ("{s:s}", "zone", "c"));
    char chosen[64], why[512];
    /* only c matches the selector, but its taint is not tolerated: Kubernetes' exact text,
     * reasons sorted as strings */
    assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), -1);
    assert_string_equal (why, "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                              "1 node(s) had untolerated taint {gpu: yes}, 1 node(s) were not ready, "
                              "1 node(s) were unschedulable. "
                              "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling..");
    /* tolerate it: Equal with the value, then Exists with no key */
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s,s:s,s:s}]", "key", "gpu", "operator", "Equal", "value", "yes",
                                              "effect", "NoSchedule"));
    assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), 0);
    assert_string_equal (chosen, "c");
    snap_forget (e.snap, "p");
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s}]", "key", "gpu", "value", "no"));
    assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), -1);
    tv_set (p, "spec.tolerations", json_pack ("[{s:s}]", "operator", "Exists"));
    assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), 0);
    snap_forget (e.snap, "p");
    /* an Exists toleration also tolerates not-ready and unschedulable: with no selector every
     * node fits */
    json_object_del (tv_get (p, "spec"), "nodeSelector");
    int seen = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), 0);
        seen |= 1 << (chosen[0] - 'a');
        snap_forget (e.snap, "p");
    }
    assert_int_equal (seen, 0xf);
    json_decref (p);
    env_fini (&e);
}

static void
spreads_among_equals (void **state)
{
    (void) state;
    env_t e;
    env_init (&e);
    add_node (&e, node ("a", "2", "4Gi", 1));
    add_node (&e, node ("b", "2", "4Gi", 1));
    add_node (&e, node ("c", "2", "4Gi", 1));
    int seen[3] = {0};
    for (int i = 0; i < 6; i++) {
        char uid[32], chosen[64], why[256];
        snprintf (uid, sizeof uid, "x%d", i);
        json_t *p = pod (uid, "0", "0");
        /* pods asking nothing still count the non-zero defaults (100m, 200Mi) when scoring */
        assert_int_equal (schedule (&e, p, chosen, sizeof chosen, why, sizeof why), 0);
        seen[chosen[0] - 'a']++;
        json_decref (p);
    }
    assert_int_equal (seen[0], 2);
    assert_int_equal (seen[1], 2);
    assert_int_equal (seen[2], 2);
    env_fini (&e);
}

/* ---- plugins alone, table-driven ---------------------------------------------------------- */

typedef struct {
    const char *node_json, *pod_json;
    tr_sched_code_t code;
    const char *reason;
} ftc_t;

static void
run_filter_table (const char *plugin, const json_t *args, const ftc_t *t, size_t n)
{
    fw_profile_t *fp = fw_profile_new ("t", 100);
    char err[256];
    assert_int_equal (fw_profile_add (fp, sched_registry_find (plugin), args, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, sched_registry_find ("DefaultBinder"), NULL, FW_PT_ALL, 0, NULL, err,
                                      sizeof err), 0);
    for (size_t i = 0; i < n; i++) {
        json_t *nj = json_loads (t[i].node_json, 0, NULL), *pj = json_loads (t[i].pod_json, 0, NULL);
        assert_non_null (nj);
        assert_non_null (pj);
        sched_snap_t *s = snap_new ();
        snap_node_set (s, nj);
        fw_env_t env = {snap_view (s), NULL, NULL, NULL, NULL};
        tr_sched_pod_t p;
        assert_int_equal (snap_pod_fill (&p, pj), 0);
        fw_result_t r;
        fw_schedule (fp, &env, &p, &r);
        if (t[i].code == TR_SCHED_SUCCESS) {
            if (r.outcome != FW_SCHEDULED)
                fail_msg ("%s case %zu: %s", plugin, i, r.message);
        } else {
            assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
            char want[512];
            snprintf (want, sizeof want, "0/1 nodes are available: 1 %s.", t[i].reason);
            if (strcmp (want, r.message))
                fail_msg ("%s case %zu: got \"%s\" want \"%s\"", plugin, i, r.message, want);
        }
        snap_destroy (&s);
        json_decref (nj);
        json_decref (pj);
    }
    fw_profile_destroy (&fp);
}

#define N(extra) "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"z1\",\"gen\":\"5\"}}," extra "}"
#define P(spec) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":" spec "}"
#define ALLOC(cpu, mem, pods) "\"status\":{\"allocatable\":{\"cpu\":\"" cpu "\",\"memory\":\"" mem "\",\"pods\":\"" pods "\",\"example.com/gpu\":\"2\",\"ephemeral-storage\":\"10Gi\"}}"
#define REQ(x) "{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":" x "}}]}"

static void
table_noderesourcesfit (void **state)
{
    (void) state;
    static const ftc_t t[] = {
        {N (ALLOC ("2", "1Gi", "10")), P (REQ ("{\"cpu\":\"2\"}")), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("2", "1Gi", "10")), P (REQ ("{\"cpu\":\"2001m\"}")), TR_SCHED_UNSCHEDULABLE, "Insufficient cpu"},
        {N (ALLOC ("2", "1Gi", "10")), P (REQ ("{\"memory\":\"2Gi\"}")), TR_SCHED_UNSCHEDULABLE, "Insufficient memory"},
        {N (ALLOC ("2", "1Gi", "0")), P (REQ ("{}")), TR_SCHED_UNSCHEDULABLE, "Too many pods"},
        {N (ALLOC ("2", "1Gi", "1")), P (REQ ("{\"ephemeral-storage\":\"11Gi\"}")), TR_SCHED_UNSCHEDULABLE,
         "Insufficient ephemeral-storage"},
        {N (ALLOC ("2", "1Gi", "1")), P (REQ ("{\"example.com/gpu\":\"2\"}")), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("2", "1Gi", "1")), P (REQ ("{\"example.com/gpu\":\"3\"}")), TR_SCHED_UNSCHEDULABLE,
         "Insufficient example.com/gpu"},
        {N (ALLOC ("2", "1Gi", "1")), P (REQ ("{\"example.com/other\":\"1\"}")), TR_SCHED_UNSCHEDULABLE,
         "Insufficient example.com/other"},
        /* init containers: max (sum of containers, each init container) */
        {N (ALLOC ("2", "1Gi", "1")),
         P ("{\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"3\"}}}],\"containers\":[{\"name\":\"c\"}]}"),
         TR_SCHED_UNSCHEDULABLE, "Insufficient cpu"},
        /* overhead adds */
        {N (ALLOC ("2", "1Gi", "1")), P ("{\"overhead\":{\"cpu\":\"1500m\"},\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"600m\"}}}]}"),
         TR_SCHED_UNSCHEDULABLE, "Insufficient cpu"},
    };
    run_filter_table ("NodeResourcesFit", NULL, t, sizeof t / sizeof t[0]);
}

/* Every short resource of a node is a reason and the FitError counts each, as Kubernetes'
 * fitsRequest + FitError.Error () (sort.Strings over "<count> <reason>"). */
static void
fit_reports_every_resource (void **state)
{
    (void) state;
#define NJ(nm, cpu, mem, pods)                                                                                  \
    "{\"metadata\":{\"name\":\"" nm "\"},\"status\":{\"allocatable\":{\"cpu\":\"" cpu "\",\"memory\":\"" mem \
    "\",\"pods\":\"" pods "\",\"example.com/gpu\":\"1\",\"example.com/fpga\":\"1\"},"                            \
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"
    static const struct {
        const char *nodes[3];
        const char *requests;
        const char *want;
    } t[] = {
        /* the example of the Kubernetes docs: two nodes short of cpu and memory, one full */
        {{NJ ("n1", "1", "1Gi", "110"), NJ ("n2", "1", "1Gi", "110"), NJ ("n3", "8", "8Gi", "0")},
         "{\"cpu\":\"2\",\"memory\":\"2Gi\"}",
         "0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu, 2 Insufficient memory."},
        /* one node short of everything: each reason once */
        {{NJ ("n1", "1", "1Gi", "0")},
         "{\"cpu\":\"2\",\"memory\":\"2Gi\",\"ephemeral-storage\":\"1Gi\",\"example.com/gpu\":\"2\","
         "\"example.com/fpga\":\"2\"}",
         "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient ephemeral-storage, 1 Insufficient "
         "example.com/fpga, 1 Insufficient example.com/gpu, 1 Insufficient memory, 1 Too many pods."},
        /* extended resources alone, and with pods */
        {{NJ ("n1", "1", "1Gi", "110"), NJ ("n2", "1", "1Gi", "0")}, "{\"example.com/gpu\":\"2\"}",
         "0/2 nodes are available: 1 Too many pods, 2 Insufficient example.com/gpu."},
        /* a single reason stays as it was */
        {{NJ ("n1", "1", "1Gi", "110")}, "{\"memory\":\"2Gi\"}", "0/1 nodes are available: 1 Insufficient memory."},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        fw_profile_t *fp = fw_profile_new ("t", 100);
        char err[256];
        assert_int_equal (fw_profile_add (fp, sched_registry_find ("NodeResourcesFit"), NULL, FW_PT_ALL, 1, NULL, err,
                                          sizeof err), 0);
        sched_snap_t *s = snap_new ();
        for (size_t k = 0; k < 3 && t[i].nodes[k]; k++) {
            json_t *nj = json_loads (t[i].nodes[k], 0, NULL);
            assert_non_null (nj);
            snap_node_set (s, nj);
            json_decref (nj);
        }
        char pj_text[512];
        snprintf (pj_text, sizeof pj_text, P (REQ ("%s")), t[i].requests);
        json_t *pj = json_loads (pj_text, 0, NULL);
        assert_non_null (pj);
        fw_env_t env = {snap_view (s), NULL, NULL, NULL, NULL};
        tr_sched_pod_t p;
        assert_int_equal (snap_pod_fill (&p, pj), 0);
        fw_result_t r;
        fw_schedule (fp, &env, &p, &r);
        assert_int_equal (r.outcome, FW_UNSCHEDULABLE);
        if (strcmp (r.message, t[i].want))
            fail_msg ("case %zu: got \"%s\" want \"%s\"", i, r.message, t[i].want);
        snap_destroy (&s);
        json_decref (pj);
        fw_profile_destroy (&fp);
    }
#undef NJ
}

static void
table_nodeaffinity (void **state)
{
    (void) state;
    const char *R = "node(s) didn't match Pod's node affinity/selector";
#define REQAFF(expr) "{\"containers\":[],\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":[" expr "]}}}}"
    const ftc_t t[] = {
        {N (ALLOC ("1", "1Gi", "9")), P ("{\"containers\":[],\"nodeSelector\":{\"zone\":\"z1\"}}"), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("1", "1Gi", "9")), P ("{\"containers\":[],\"nodeSelector\":{\"zone\":\"z2\"}}"), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\",\"z3\"]}]}")), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"z1\"]}]}")), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}")), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}")), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}")), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"5\"]}]}")), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}]}")), TR_SCHED_SUCCESS, NULL},
        /* terms are ORed; an empty term matches nothing */
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{},{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"NotIn\",\"values\":[\"n1\"]}]}")), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Bogus\"}]},{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]}]}")), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Bogus\"}]}")), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z9\"]}]},{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]}]}")), TR_SCHED_SUCCESS, NULL},
    };
    run_filter_table ("NodeAffinity", NULL, t, sizeof t / sizeof t[0]);
    /* addedAffinity (the profile's args): ANDed with the pod's own selector and affinity */
    json_t *added = json_loads ("{\"addedAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
                                "[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]}}}",
                                0, NULL);
    const ftc_t a[] = {
        {N (ALLOC ("1", "1Gi", "9")), P ("{\"containers\":[]}"), TR_SCHED_SUCCESS, NULL},
        {N (ALLOC ("1", "1Gi", "9")), P ("{\"containers\":[],\"nodeSelector\":{\"zone\":\"z2\"}}"), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]}]}")), TR_SCHED_SUCCESS, NULL},
    };
    run_filter_table ("NodeAffinity", added, a, sizeof a / sizeof a[0]);
    json_decref (added);
    added = json_loads ("{\"addedAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
                        "[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"5\"]}]}]}}}",
                        0, NULL);
    const ftc_t b[] = {
        {N (ALLOC ("1", "1Gi", "9")), P ("{\"containers\":[]}"), TR_SCHED_UNRESOLVABLE, R},
        {N (ALLOC ("1", "1Gi", "9")), P (REQAFF ("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]}]}")), TR_SCHED_UNRESOLVABLE, R},
    };
    run_filter_table ("NodeAffinity", added, b, sizeof b / sizeof b[0]);
    json_decref (added);
}

/* The host's node_selector_match (nodesel.c) as Kubernetes' LazyErrorNodeSelector: a malformed
 * term matches nothing but does not hide a later term that matches; -1 only when no term
 * matched and one was malformed. */
static void
node_selector_terms (void **state)
{
    (void) state;
    json_t *nj = json_loads (N ("\"spec\":{}"), 0, NULL);
    sched_snap_t *s = snap_new ();
    snap_node_set (s, nj);
    const tr_sched_node_t *n1 = snap_node (s, "n1");
    assert_non_null (n1);
    static const struct {
        const char *terms;
        int want;
    } t[] = {
        {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z0\",\"z1\"]}]}]", 1},
        {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Bogus\"}]},"
         "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]}]}]", 1},
        {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Bogus\"}]}]", -1},
        {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z2\"]}]},"
         "{\"matchExpressions\":[{\"operator\":\"Exists\"}]}]", -1},
        {"[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"x\"]}]}]", -1},
        {"[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\",\"3\"]}]}]", -1},
        {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]", 0}, /* label not a number */
        {"[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"6\"]}]}]", 1},
        {"[{\"matchFields\":[{\"key\":\"metadata.labels\",\"operator\":\"In\",\"values\":[\"n1\"]}]}]", -1},
        {"[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"Exists\"}]}]", -1},
        {"[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"NotIn\",\"values\":[\"n2\"]}]}]", 1},
        /* requirements of a term are ANDed */
        {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"},{\"key\":\"gen\",\"operator\":\"DoesNotExist\"}]}]", 0},
        {"[{}]", 0},
        {"[]", 0},
        {"{}", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_t *terms = json_loads (t[i].terms, 0, NULL);
        assert_non_null (terms);
        int got = fw_host ()->node_selector_match (terms, n1);
        if (got != t[i].want)
            fail_msg ("case %zu %s: got %d want %d", i, t[i].terms, got, t[i].want);
        json_decref (terms);
    }
    snap_destroy (&s);
    json_decref (nj);
}

static void
table_taints (void **state)
{
    (void) state;
#define TAINT(k, v, e) "\"spec\":{\"taints\":[{\"key\":\"" k "\",\"value\":\"" v "\",\"effect\":\"" e "\"}]}"
    const ftc_t t[] = {
        {N (TAINT ("a", "b", "NoSchedule")), P ("{\"containers\":[]}"), TR_SCHED_UNRESOLVABLE, "node(s) had untolerated taint {a: b}"},
        {N (TAINT ("a", "b", "NoExecute")), P ("{\"containers\":[]}"), TR_SCHED_UNRESOLVABLE, "node(s) had untolerated taint {a: b}"},
        {N (TAINT ("a", "b", "PreferNoSchedule")), P ("{\"containers\":[]}"), TR_SCHED_SUCCESS, NULL},
        {N (TAINT ("a", "b", "NoSchedule")), P ("{\"containers\":[],\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}"), TR_SCHED_SUCCESS, NULL},
        {N (TAINT ("a", "b", "NoSchedule")), P ("{\"containers\":[],\"tolerations\":[{\"key\":\"a\",\"value\":\"b\",\"effect\":\"NoExecute\"}]}"), TR_SCHED_UNRESOLVABLE, "node(s) had untolerated taint {a: b}"},
        {N (TAINT ("a", "b", "NoSchedule")), P ("{\"containers\":[],\"tolerations\":[{\"key\":\"a\",\"value\":\"b\"}]}"), TR_SCHED_SUCCESS, NULL},
    };
    run_filter_table ("TaintToleration", NULL, t, sizeof t / sizeof t[0]);
    const ftc_t u[] = {
        {N ("\"spec\":{\"unschedulable\":true}"), P ("{\"containers\":[]}"), TR_SCHED_UNRESOLVABLE, "node(s) were unschedulable"},
        {N ("\"spec\":{\"unschedulable\":true}"), P ("{\"containers\":[],\"tolerations\":[{\"key\":\"node.kubernetes.io/unschedulable\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}"), TR_SCHED_SUCCESS, NULL},
        {N ("\"spec\":{}"), P ("{\"containers\":[]}"), TR_SCHED_SUCCESS, NULL},
    };
    run_filter_table ("NodeUnschedulable", NULL, u, sizeof u / sizeof u[0]);
    const ftc_t r[] = {
        {N ("\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}"), P ("{\"containers\":[]}"), TR_SCHED_UNRESOLVABLE, "node(s) were not ready"},
        {N ("\"status\":{}"), P ("{\"containers\":[]}"), TR_SCHED_UNRESOLVABLE, "node(s) were not ready"},
        {N ("\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}"), P ("{\"containers\":[],\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\"}]}"), TR_SCHED_SUCCESS, NULL},
        {N ("\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}"), P ("{\"containers\":[]}"), TR_SCHED_SUCCESS, NULL},
    };
    run_filter_table ("NodeReady", NULL, r, sizeof r / sizeof r[0]);
    const ftc_t nn[] = {
        {N ("\"spec\":{}"), P ("{\"containers\":[],\"nodeName\":\"n2\"}"), TR_SCHED_UNRESOLVABLE, "node(s) didn't match the requested node name"},
        {N ("\"spec\":{}"), P ("{\"containers\":[],\"nodeName\":\"n1\"}"), TR_SCHED_SUCCESS, NULL},
    };
    run_filter_table ("NodeName", NULL, nn, sizeof nn / sizeof nn[0]);
}

/* The cycle state of scores_of: the framework's host table with read/write over this map (the
 * test has no framework cycle; the plugin only passes cs back to the host). */
static struct {
    const char *key;
    void *data;
    void (*free_fn) (void *);
} score_kv[8];

static void
score_kv_write (tr_sched_cycle_t *cs, const char *key, void *data, void (*free_fn) (void *))
{
    (void) cs;
    size_t i = 0;
    while (i < 8 && score_kv[i].key && strcmp (score_kv[i].key, key))
        i++;
    assert_true (i < 8);
    if (score_kv[i].free_fn && score_kv[i].data != data)
        score_kv[i].free_fn (score_kv[i].data);
    score_kv[i].key = key;
    score_kv[i].data = data;
    score_kv[i].free_fn = free_fn;
}

static void *
score_kv_read (tr_sched_cycle_t *cs, const char *key)
{
    (void) cs;
    for (size_t i = 0; i < 8 && score_kv[i].key; i++)
        if (!strcmp (score_kv[i].key, key))
            return score_kv[i].data;
    return NULL;
}

static void
score_kv_end (void)
{
    for (size_t i = 0; i < 8 && score_kv[i].key; i++)
        if (score_kv[i].free_fn)
            score_kv[i].free_fn (score_kv[i].data);
    memset (score_kv, 0, sizeof score_kv);
}

/* Score tables: one plugin, its raw (then normalized) score for a pod on each of two nodes;
 * PreScore runs first, as in the framework (a plugin that skips is still scored: its Score
 * must then work without PreScore's state). */
static void
scores_of (const char *plugin, const char *args_json, const char *n1, const char *n2, const char *pj, int64_t out[2])
{
    fw_profile_t *fp = fw_profile_new ("t", 100);
    char err[256];
    json_t *args = args_json ? json_loads (args_json, 0, NULL) : NULL;
    assert_int_equal (fw_profile_add (fp, sched_registry_find (plugin), args, FW_PT_SCORE, 1, NULL, err, sizeof err), 0);
    json_decref (args);
    const tr_sched_plugin_t *pl = sched_registry_find (plugin);
    sched_snap_t *s = snap_new ();
    json_t *a = json_loads (n1, 0, NULL), *b = json_loads (n2, 0, NULL), *p = json_loads (pj, 0, NULL);
    assert_non_null (a);
    assert_non_null (b);
    assert_non_null (p);
    snap_node_set (s, a);
    snap_node_set (s, b);
    tr_sched_pod_t tp;
    snap_pod_fill (&tp, p);
    /* call the hooks as the framework does, on an instance made by init */
    tr_sched_host_t host = *fw_host ();
    host.read = score_kv_read;
    host.write = score_kv_write;
    void *self = pl->init ? pl->init (NULL, &host, err, sizeof err) : NULL;
    if (args_json) {
        json_t *aj = json_loads (args_json, 0, NULL);
        if (pl->destroy && self)
            pl->destroy (self);
        self = pl->init (aj, &host, err, sizeof err);
        json_decref (aj);
    }
    const tr_sched_node_t *nodes[2] = {snap_node (s, "n1"), snap_node (s, "n2")};
    if (!nodes[1])
        nodes[1] = snap_view (s)->nodes[1];
    if (pl->pre_score) {
        tr_sched_code_t c = pl->pre_score (self, NULL, &tp, nodes, 2).code;
        assert_true (c == TR_SCHED_SUCCESS || c == TR_SCHED_SKIP);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal (pl->score (self, NULL, &tp, nodes[i], &out[i]).code, TR_SCHED_SUCCESS);
    if (pl->normalize_score)
        pl->normalize_score (self, NULL, &tp, out, 2);
    score_kv_end ();
    if (pl->destroy && self)
        pl->destroy (self);
    json_decref (a);
    json_decref (b);
    json_decref (p);
    snap_destroy (&s);
    fw_profile_destroy (&fp);
}

#define NODE2(name, cpu, mem) "{\"metadata\":{\"name\":\"" name "\"},\"status\":{\"allocatable\":{\"cpu\":\"" cpu "\",\"memory\":\"" mem "\",\"pods\":\"10\"}}}"

static void
table_scores (void **state)
{
    (void) state;
    int64_t sc[2];
    const char *pj = P (REQ ("{\"cpu\":\"1\",\"memory\":\"1Gi\"}"));
    /* LeastAllocated: (cap - req) * 100 / cap, averaged: n1 4cpu/4Gi → 75; n2 2cpu/2Gi → 50 */
    scores_of ("NodeResourcesFit", NULL, NODE2 ("n1", "4", "4Gi"), NODE2 ("n2", "2", "2Gi"), pj, sc);
    assert_int_equal (sc[0], 75);
    assert_int_equal (sc[1], 50);
    scores_of ("NodeResourcesFit", "{\"scoringStrategy\":{\"type\":\"MostAllocated\"}}", NODE2 ("n1", "4", "4Gi"),
               NODE2 ("n2", "2", "2Gi"), pj, sc);
    assert_int_equal (sc[0], 25);
    assert_int_equal (sc[1], 50);
    /* weights: cpu 3, memory 1 on n1 8cpu/2Gi: cpu (8-1)/8 = 87, mem 50 → (87*3+50)/4 = 77 */
    scores_of ("NodeResourcesFit",
               "{\"scoringStrategy\":{\"type\":\"LeastAllocated\",\"resources\":[{\"name\":\"cpu\",\"weight\":3},{\"name\":\"memory\",\"weight\":1}]}}",
               NODE2 ("n1", "8", "2Gi"), NODE2 ("n2", "2", "2Gi"), pj, sc);
    assert_int_equal (sc[0], 77);
    /* RequestedToCapacityRatio, shape 0→0, 100→10: like MostAllocated scaled */
    scores_of ("NodeResourcesFit",
               "{\"scoringStrategy\":{\"type\":\"RequestedToCapacityRatio\",\"requestedToCapacityRatio\":{\"shape\":[{\"utilization\":0,\"score\":0},{\"utilization\":100,\"score\":10}]}}}",
               NODE2 ("n1", "4", "4Gi"), NODE2 ("n2", "2", "2Gi"), pj, sc);
    assert_int_equal (sc[0], 25);
    assert_int_equal (sc[1], 50);
    /* TaintToleration: PreferNoSchedule counted, normalized reversed */
    scores_of ("TaintToleration", NULL,
               "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"taints\":[{\"key\":\"a\",\"effect\":\"PreferNoSchedule\"}]}}",
               "{\"metadata\":{\"name\":\"n2\"}}", P ("{\"containers\":[]}"), sc);
    assert_int_equal (sc[0], 0);
    assert_int_equal (sc[1], 100);
    /* NodeAffinity preferred: weights summed, normalized by the max */
    scores_of ("NodeAffinity", NULL, "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"disk\":\"ssd\"}}}",
               "{\"metadata\":{\"name\":\"n2\",\"labels\":{\"disk\":\"hdd\"}}}",
               P ("{\"containers\":[],\"affinity\":{\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
                  "{\"weight\":20,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\"]}]}},"
                  "{\"weight\":10,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"Exists\"}]}}]}}}"),
               sc);
    assert_int_equal (sc[0], 100);
    assert_int_equal (sc[1], 33);
    /* the profile's addedAffinity preferences add to the pod's (here the pod has none) */
    scores_of ("NodeAffinity",
               "{\"addedAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
               "{\"weight\":30,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"NotIn\",\"values\":[\"ssd\"]}]}}]}}",
               "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"disk\":\"ssd\"}}}",
               "{\"metadata\":{\"name\":\"n2\",\"labels\":{\"disk\":\"hdd\"}}}", P ("{\"containers\":[]}"), sc);
    assert_int_equal (sc[0], 0);
    assert_int_equal (sc[1], 100);
    scores_of ("NodeAffinity",
               "{\"addedAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
               "{\"weight\":30,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"NotIn\",\"values\":[\"ssd\"]}]}}]}}",
               "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"disk\":\"ssd\"}}}",
               "{\"metadata\":{\"name\":\"n2\",\"labels\":{\"disk\":\"hdd\"}}}",
               P ("{\"containers\":[],\"affinity\":{\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
                  "{\"weight\":60,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\"]}]}}]}}}"),
               sc);
    assert_int_equal (sc[0], 100); /* 60 */
    assert_int_equal (sc[1], 50);  /* 30 */
}

static void
table_nodeports (void **state)
{
    (void) state;
    /* a pod already on n1 holding TCP 8080 on 10.0.0.1 and UDP 53 on every address */
    env_t e;
    env_init (&e);
    add_node (&e, json_pack ("{s:{s:s},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata", "name", "n1", "status",
                             "allocatable", "cpu", "4", "memory", "4Gi", "pods", "10", "conditions", "type", "Ready",
                             "status", "True"));
    json_t *held = json_loads (P ("{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,\"hostPort\":8080,\"hostIP\":\"10.0.0.1\"},{\"containerPort\":53,\"hostPort\":53,\"protocol\":\"UDP\"}]}]}"), 0, NULL);
    json_object_set_new (json_object_get (held, "metadata"), "uid", json_string ("held"));
    snap_pod_bound (e.snap, held);
    struct {
        const char *ports;
        int fits;
    } t[] = {
        {"[{\"containerPort\":1,\"hostPort\":8080}]", 0},                          /* 0.0.0.0 vs 10.0.0.1 */
        {"[{\"containerPort\":1,\"hostPort\":8080,\"hostIP\":\"10.0.0.2\"}]", 1}, /* another address */
        {"[{\"containerPort\":1,\"hostPort\":8080,\"hostIP\":\"10.0.0.1\"}]", 0},
        {"[{\"containerPort\":1,\"hostPort\":8080,\"protocol\":\"UDP\"}]", 1},   /* another protocol */
        {"[{\"containerPort\":1,\"hostPort\":53,\"protocol\":\"UDP\",\"hostIP\":\"10.9.9.9\"}]", 0},
        {"[{\"containerPort\":53}]", 1},                                              /* no hostPort */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char text[512], chosen[64], why[512];
        snprintf (text, sizeof text, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"p%zu\"},"
                                     "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":%s}]}}", i, t[i].ports);
        json_t *p = json_loads (text, 0, NULL);
        assert_non_null (p);
        int rc = schedule (&e, p, chosen, sizeof chosen, why, sizeof why);
        if (t[i].fits ? rc != 0 : rc != -1)
            fail_msg ("case %zu: rc %d (%s)", i, rc, rc ? why : chosen);
        if (!t[i].fits)
            assert_string_equal (why, "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. "
                                      "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..");
        snap_forget (e.snap, json_string_value (json_object_get (json_object_get (p, "metadata"), "uid")));
        json_decref (p);
    }
    json_decref (held);
    env_fini (&e);
}

static void
table_balanced_and_images (void **state)
{
    (void) state;
    int64_t sc[2];
    /* fractions cpu 1/4 mem 1/4 → std 0 → 100; cpu 1/2, mem 1/8 → std 0.1875 → 81 */
    scores_of ("NodeResourcesBalancedAllocation", NULL, NODE2 ("n1", "4", "4Gi"), NODE2 ("n2", "2", "8Gi"),
               P (REQ ("{\"cpu\":\"1\",\"memory\":\"1Gi\"}")), sc);
    assert_int_equal (sc[0], 100);
    assert_int_equal (sc[1], 81);
    /* ImageLocality: n1 holds the pod's 500 MB image (short name in the pod, full on the node),
     * n2 another one: with ImageLocality the only scorer, n1 wins every time */
    const char *pj = P ("{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}");
    fw_profile_t *fp = fw_profile_new ("t", 100);
    char err[128];
    const tr_sched_plugin_t *il = sched_registry_find ("ImageLocality");
    sched_snap_t *s = snap_new ();
    json_t *a = json_pack ("{s:{s:s},s:{s:[{s:[s],s:I}]}}", "metadata", "name", "n1", "status", "images", "names",
                           "docker.io/library/busybox:latest", "sizeBytes", (json_int_t) (500LL * 1024 * 1024));
    json_t *b = json_pack ("{s:{s:s},s:{s:[{s:[s],s:I}]}}", "metadata", "name", "n2", "status", "images", "names",
                           "docker.io/library/nginx:1.25", "sizeBytes", (json_int_t) (100LL * 1024 * 1024));
    snap_node_set (s, a);
    snap_node_set (s, b);
    json_t *p = json_loads (pj, 0, NULL);
    tr_sched_pod_t tp;
    snap_pod_fill (&tp, p);
    const tr_sched_node_t *nodes[2] = {snap_node (s, "n1"), snap_node (s, "n2")};
    assert_int_equal (nodes[0]->nimages, 1);
    fw_env_t env = {snap_view (s), NULL, NULL, NULL, NULL};
    /* through the framework with only ImageLocality scoring: n1 wins */
    assert_int_equal (fw_profile_add (fp, il, NULL, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    assert_int_equal (fw_profile_add (fp, sched_registry_find ("DefaultBinder"), NULL, FW_PT_ALL, 1, NULL, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        fw_result_t r;
        fw_schedule (fp, &env, &tp, &r);
        assert_int_equal (r.outcome, FW_SCHEDULED);
        assert_string_equal (r.node, "n1");
    }
    char norm[256];
    sched_image_normalize ("busybox", norm, sizeof norm);
    assert_string_equal (norm, "docker.io/library/busybox:latest");
    sched_image_normalize ("quay.io/x/y", norm, sizeof norm);
    assert_string_equal (norm, "quay.io/x/y:latest");
    sched_image_normalize ("me/app:v1", norm, sizeof norm);
    assert_string_equal (norm, "docker.io/me/app:v1");
    sched_image_normalize ("localhost:5000/app@sha256:ab", norm, sizeof norm);
    assert_string_equal (norm, "localhost:5000/app@sha256:ab");
    json_decref (a);
    json_decref (b);
    json_decref (p);
    snap_destroy (&s);
    fw_profile_destroy (&fp);
}

static void
priority_sort (void **state)
{
    (void) state;
    const tr_sched_plugin_t *ps = sched_registry_find ("PrioritySort");
    tr_sched_pod_t a = {.priority = 10, .created_ms = 5}, b = {.priority = 0, .created_ms = 1},
                   c = {.priority = 10, .created_ms = 1};
    assert_true (ps->less (NULL, &a, &b));
    assert_false (ps->less (NULL, &b, &a));
    assert_true (ps->less (NULL, &c, &a));
    assert_null (sched_registry_find ("NoSuchPlugin"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (fit_and_score),          cmocka_unit_test (filters),        cmocka_unit_test (spreads_among_equals),
        cmocka_unit_test (table_noderesourcesfit), cmocka_unit_test (fit_reports_every_resource), cmocka_unit_test (table_nodeaffinity), cmocka_unit_test (node_selector_terms), cmocka_unit_test (table_taints),
        cmocka_unit_test (table_scores),           cmocka_unit_test (table_nodeports),
        cmocka_unit_test (table_balanced_and_images), cmocka_unit_test (priority_sort),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
