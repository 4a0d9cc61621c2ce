/* PodTopologySpread plugin: table-driven Filter verdicts (maxSkew over zones from an uneven
 * start, missing topology label, minDomains, ScheduleAnyway never filtering, namespaces and
 * terminating pods, nodeAffinityPolicy / nodeTaintsPolicy, matchLabelKeys, two constraints) and
 * Score / NormalizeScore (soft zone and hostname constraints, nodes without the key ignored,
 * the system default constraints for a ReplicaSet's pod), the default constraints' selector
 * from host->default_selector (Services selecting the pod, merged; its ReplicaSet, StatefulSet or
 * ReplicationController looked up; other namespaces and empty selectors ignored; the cache
 * following a Service change), on hand-built clusters. Cases
 * modelled on Kubernetes' podtopologyspread filtering_test.go / scoring_test.go, written anew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_fixture.h"

const tr_sched_plugin_t *sched_plugin_podtopologyspread (void);

#define SKEW "node(s) didn't match pod topology spread constraints"
#define MISSING "node(s) didn't match pod topology spread constraints (missing required label)"

#define N(name, zone) "{\"name\":\"" name "\",\"labels\":{\"zone\":\"" zone "\"}}"
#define NODES3 "\"nodes\":[" N ("n1", "a") "," N ("n2", "b") "," N ("n3", "c") "]"
#define WEB "{\"app\":\"web\"}"
#define P(name, node) "{\"name\":\"" name "\",\"node\":\"" node "\",\"labels\":" WEB "}"
#define TSC(skew, key, when, extra)                                                                             \
    "{\"maxSkew\":" #skew ",\"topologyKey\":\"" key "\",\"whenUnsatisfiable\":\"" when                         \
    "\",\"labelSelector\":{\"matchLabels\":" WEB "}" extra "}"
#define POD(tscs) "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":{\"topologySpreadConstraints\":[" tscs "]}}"
/* zones a: 2 web pods, b: 1, c: 0 */
#define UNEVEN "{" NODES3 ",\"pods\":[" P ("w1", "n1") "," P ("w2", "n1") "," P ("w3", "n2") "]}"

typedef struct {
    const char *name;
    const char *cluster;
    const char *pod;
    const char *want[4];
    int skip;
} filter_row_t;

static const filter_row_t filter_rows[] = {
    {"maxSkew 1 over 3 zones with an uneven start: only the empty zone", UNEVEN,
     POD (TSC (1, "zone", "DoNotSchedule", "")), {SKEW, SKEW, ""}, 0},
    {"maxSkew 2 admits the middle zone", UNEVEN, POD (TSC (2, "zone", "DoNotSchedule", "")), {SKEW, "", ""}, 0},
    {"a node without the topology key: missing required label",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") ",{\"name\":\"n3\"}],\"pods\":[" P ("w1", "n1") "]}",
     POD (TSC (1, "zone", "DoNotSchedule", "")), {SKEW, "", MISSING}, 0},
    {"minDomains above the domain count makes the global minimum 0",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") "],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     POD (TSC (1, "zone", "DoNotSchedule", ",\"minDomains\":3")), {SKEW, SKEW}, 0},
    {"minDomains reached: the real minimum",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") "],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     POD (TSC (1, "zone", "DoNotSchedule", ",\"minDomains\":2")), {"", ""}, 0},
    {"ScheduleAnyway never filters", UNEVEN, POD (TSC (1, "zone", "ScheduleAnyway", "")), {"", "", ""}, 1},
    {"pods of another namespace and terminating pods do not count",
     "{" NODES3 ",\"pods\":[{\"name\":\"o1\",\"ns\":\"other\",\"node\":\"n1\",\"labels\":" WEB "},"
     "{\"name\":\"t1\",\"node\":\"n2\",\"deleting\":true,\"labels\":" WEB "}]}",
     POD (TSC (1, "zone", "DoNotSchedule", "")), {"", "", ""}, 0},
    {"a pod the selector does not select adds no self-match", UNEVEN,
     "{\"name\":\"x\",\"labels\":{\"app\":\"x\"},\"spec\":{\"topologySpreadConstraints\":[" TSC (1, "zone", "DoNotSchedule", "") "]}}",
     {SKEW, "", ""}, 0},
    {"nodeAffinityPolicy Honor (default): only nodes the pod may use are domains",
     "{\"nodes\":[{\"name\":\"n1\",\"labels\":{\"zone\":\"a\",\"disk\":\"ssd\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"b\",\"disk\":\"ssd\"}},"
     N ("n3", "c") "],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":{\"nodeSelector\":{\"disk\":\"ssd\"},\"topologySpreadConstraints\":["
     TSC (1, "zone", "DoNotSchedule", "") "]}}",
     {"", "", ""}, 0},
    {"nodeAffinityPolicy Ignore: every node is a domain",
     "{\"nodes\":[{\"name\":\"n1\",\"labels\":{\"zone\":\"a\",\"disk\":\"ssd\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"b\",\"disk\":\"ssd\"}},"
     N ("n3", "c") "],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":{\"nodeSelector\":{\"disk\":\"ssd\"},\"topologySpreadConstraints\":["
     TSC (1, "zone", "DoNotSchedule", ",\"nodeAffinityPolicy\":\"Ignore\"") "]}}",
     {SKEW, SKEW, ""}, 0},
    {"nodeTaintsPolicy Ignore (default): a tainted empty zone still counts",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") ",{\"name\":\"n3\",\"labels\":{\"zone\":\"c\"},"
     "\"taints\":[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}]}],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     POD (TSC (1, "zone", "DoNotSchedule", "")), {SKEW, SKEW, ""}, 0},
    {"nodeTaintsPolicy Honor: an untolerated tainted zone is no domain",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") ",{\"name\":\"n3\",\"labels\":{\"zone\":\"c\"},"
     "\"taints\":[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}]}],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     POD (TSC (1, "zone", "DoNotSchedule", ",\"nodeTaintsPolicy\":\"Honor\"")), {"", "", ""}, 0},
    {"nodeTaintsPolicy Honor with a matching toleration keeps the domain",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") ",{\"name\":\"n3\",\"labels\":{\"zone\":\"c\"},"
     "\"taints\":[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}]}],\"pods\":[" P ("w1", "n1") "," P ("w2", "n2") "]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":{\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],"
     "\"topologySpreadConstraints\":[" TSC (1, "zone", "DoNotSchedule", ",\"nodeTaintsPolicy\":\"Honor\"") "]}}",
     {SKEW, SKEW, ""}, 0},
    {"matchLabelKeys: only pods of the incoming pod's version count",
     "{" NODES3 ",\"pods\":[{\"name\":\"v1a\",\"node\":\"n1\",\"labels\":{\"app\":\"web\",\"version\":\"v1\"}},"
     "{\"name\":\"v1b\",\"node\":\"n1\",\"labels\":{\"app\":\"web\",\"version\":\"v1\"}}]}",
     "{\"name\":\"w\",\"labels\":{\"app\":\"web\",\"version\":\"v2\"},\"spec\":{\"topologySpreadConstraints\":["
     TSC (1, "zone", "DoNotSchedule", ",\"matchLabelKeys\":[\"version\"]") "]}}",
     {"", "", ""}, 0},
    {"without matchLabelKeys every version counts",
     "{" NODES3 ",\"pods\":[{\"name\":\"v1a\",\"node\":\"n1\",\"labels\":{\"app\":\"web\",\"version\":\"v1\"}},"
     "{\"name\":\"v1b\",\"node\":\"n1\",\"labels\":{\"app\":\"web\",\"version\":\"v1\"}}]}",
     "{\"name\":\"w\",\"labels\":{\"app\":\"web\",\"version\":\"v2\"},\"spec\":{\"topologySpreadConstraints\":["
     TSC (1, "zone", "DoNotSchedule", "") "]}}",
     {SKEW, "", ""}, 0},
    {"zone and hostname constraints together",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "a") "," N ("n3", "b") "," N ("n4", "b") "],\"pods\":["
     P ("w1", "n1") "," P ("w2", "n3") "]}",
     POD (TSC (1, "zone", "DoNotSchedule", "") "," TSC (1, "kubernetes.io/hostname", "DoNotSchedule", "")),
     {SKEW, "", SKEW, ""}, 0},
};

static void
filter_table (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_podtopologyspread ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    for (int ix = 0; ix < 2; ix++) { /* the nodes' labels from the JSON, then packed (label_index) */
        fx_label_index (ix);
        for (size_t r = 0; r < sizeof filter_rows / sizeof filter_rows[0]; r++)
            fx_filter_row (pl, self, r, filter_rows[r].name, filter_rows[r].cluster, filter_rows[r].pod, filter_rows[r].want,
                           filter_rows[r].skip, MISSING);
    }
    fx_label_index (0);
    pl->destroy (self);
}

typedef struct {
    const char *name;
    const char *cluster;
    const char *pod;
    int64_t raw[4], norm[4];
    int skip;
} score_row_t;

#define ZN(name, zone) "{\"name\":\"" name "\",\"labels\":{\"topology.kubernetes.io/zone\":\"" zone "\"}}"

static const score_row_t score_rows[] = {
    /* weight log(3 + 2): a 2 pods → round (2 × 1.609) = 3, b → 2, c → 0; inverted min-max */
    {"soft zone constraint prefers the emptier zones", UNEVEN, POD (TSC (1, "zone", "ScheduleAnyway", "")),
     {3, 2, 0}, {0, 33, 100}, 0},
    {"soft hostname constraint counts per node", UNEVEN, POD (TSC (1, "kubernetes.io/hostname", "ScheduleAnyway", "")),
     {3, 2, 0}, {0, 33, 100}, 0},
    /* maxSkew - 1 is added to every node: maxSkew 3 → +2 */
    {"maxSkew shifts every score", UNEVEN, POD (TSC (3, "zone", "ScheduleAnyway", "")), {5, 4, 2}, {40, 60, 100}, 0},
    {"a node without the key is ignored (0 after normalizing)",
     "{\"nodes\":[" N ("n1", "a") "," N ("n2", "b") ",{\"name\":\"n3\"}],\"pods\":[" P ("w1", "n1") "]}",
     POD (TSC (1, "zone", "ScheduleAnyway", "")), {1, 0, 0}, {0, 100, 0}, 0},
    /* hostname maxSkew 3 (weight log 5) + zone maxSkew 5 (2 zones: weight log 4):
     * n1 = 2×1.609+2 + 2×1.386+4 = 11.99 → 12; n2 = 2 + 6.77 → 9; n3 = 2 + 4 = 6 */
    {"system default constraints for a ReplicaSet's pod",
     "{\"nodes\":[" ZN ("n1", "a") "," ZN ("n2", "a") "," ZN ("n3", "b") "],\"pods\":[" P ("w1", "n1") "," P ("w2", "n1") "]}",
     "{\"name\":\"w\",\"owner\":\"ReplicaSet\",\"labels\":" WEB "}", {12, 9, 6}, {50, 75, 100}, 0},
    {"no constraints and no owner: PreScore skips", UNEVEN, "{\"name\":\"w\",\"labels\":" WEB "}", {0, 0, 0}, {0, 0, 0}, 1},
};

static void
score_table (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_podtopologyspread ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    /* a pod with only soft (or default) constraints: PreFilter skips, nothing is filtered */
    for (int ix = 0; ix < 2; ix++) { /* the nodes' labels from the JSON, then packed (label_index) */
        fx_label_index (ix);
        for (size_t r = 0; r < sizeof score_rows / sizeof score_rows[0]; r++)
            fx_score_row (pl, self, r, score_rows[r].name, score_rows[r].cluster, score_rows[r].pod, TR_SCHED_SKIP,
                          score_rows[r].raw, score_rows[r].norm, score_rows[r].skip, 0);
    }
    fx_label_index (0);
    pl->destroy (self);
}

/* Kubernetes' DefaultSelector through the host's listers (the fixture's "services", "replicasets"...).
 * Zones a (n1, n2) and b (n3); n1 holds two pods {app: web, tier: fe}, n2 one {app: web}, n3 one
 * {app: db}. The incoming pod {app: web, tier: fe} has no constraints of its own.
 * Selector app=web: hostname counts 2, 1, 0, zones a 3, b 0 → raw 13, 12, 6 (hostname maxSkew 3
 * weight log 5, zone maxSkew 5 weight log 4); app=web AND tier=fe: 2, 0, 0 and a 2 → 12, 9, 6. */
#define DS_NODES "\"nodes\":[" ZN ("n1", "a") "," ZN ("n2", "a") "," ZN ("n3", "b") "]"
#define FE "{\"app\":\"web\",\"tier\":\"fe\"}"
#define DS_PODS                                                                                                   \
    "\"pods\":[{\"name\":\"f1\",\"node\":\"n1\",\"labels\":" FE "},{\"name\":\"f2\",\"node\":\"n1\",\"labels\":" FE "},"       \
    "{\"name\":\"w1\",\"node\":\"n2\",\"labels\":" WEB "},{\"name\":\"d1\",\"node\":\"n3\",\"labels\":{\"app\":\"db\"}}]"
#define DS(listed) "{" DS_NODES "," DS_PODS "," listed "}"
#define SVC(name, ns, sel) "{\"name\":\"" name "\",\"ns\":\"" ns "\",\"selector\":" sel "}"
#define BARE "{\"name\":\"w\",\"labels\":" FE "}"
#define OWNED(kind, oname) "{\"name\":\"w\",\"owner\":\"" kind "\",\"ownerName\":\"" oname "\",\"labels\":" FE "}"
#define WIDE {13, 12, 6}, {46, 53, 100}
#define NARROW {12, 9, 6}, {50, 75, 100}
#define NONE {0, 0, 0}, {0, 0, 0}

static const score_row_t dsel_rows[] = {
    {"a Service selecting the pod: the defaults apply with its selector",
     DS ("\"services\":[" SVC ("web", "default", WEB) "]"), BARE, WIDE, 0},
    {"a Service not selecting the pod: no defaults", DS ("\"services\":[" SVC ("db", "default", "{\"app\":\"db\"}") "]"),
     BARE, NONE, 1},
    {"two Services selecting the pod: their selectors ANDed",
     DS ("\"services\":[" SVC ("web", "default", WEB) "," SVC ("fe", "default", "{\"tier\":\"fe\"}") "]"), BARE, NARROW, 0},
    {"a Service with an empty selector selects nothing", DS ("\"services\":[" SVC ("all", "default", "{}") "]"), BARE,
     NONE, 1},
    {"a Service with an empty selector adds nothing to another's",
     DS ("\"services\":[" SVC ("all", "default", "{}") "," SVC ("web", "default", WEB) "]"), BARE, WIDE, 0},
    {"a Service of another namespace is ignored", DS ("\"services\":[" SVC ("web", "other", WEB) "]"), BARE, NONE, 1},
    {"no listed object and no owner: no defaults", DS ("\"services\":[]"), BARE, NONE, 1},
    {"the pod's ReplicaSet: its selector's requirements",
     DS ("\"replicasets\":[" SVC ("rs1", "default", "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"web\"]}]}") "]"),
     OWNED ("ReplicaSet", "rs1"), WIDE, 0},
    {"a Service and the pod's ReplicaSet: ANDed",
     DS ("\"services\":[" SVC ("web", "default", WEB) "],\"replicasets\":[" SVC ("rs1", "default", "{\"matchLabels\":{\"tier\":\"fe\"}}") "]"),
     OWNED ("ReplicaSet", "rs1"), NARROW, 0},
    {"a ReplicaSet that does not own the pod adds nothing",
     DS ("\"services\":[" SVC ("web", "default", WEB) "],\"replicasets\":[" SVC ("rs2", "default", "{\"matchLabels\":{\"tier\":\"fe\"}}") "]"),
     OWNED ("ReplicaSet", "rs1"), WIDE, 0},
    {"the pod's ReplicaSet unknown to the lister: no defaults (not its own labels)",
     DS ("\"replicasets\":[]"), OWNED ("ReplicaSet", "rs1"), NONE, 1},
    {"the pod's ReplicaSet in another namespace is not its own",
     DS ("\"replicasets\":[" SVC ("rs1", "other", "{\"matchLabels\":" WEB "}") "]"), OWNED ("ReplicaSet", "rs1"), NONE, 1},
    {"a malformed ReplicaSet selector adds nothing",
     DS ("\"services\":[" SVC ("web", "default", WEB) "],\"replicasets\":[" SVC ("rs1", "default", "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\"}]}") "]"),
     OWNED ("ReplicaSet", "rs1"), WIDE, 0},
    {"the pod's StatefulSet: its selector",
     DS ("\"statefulsets\":[" SVC ("ss1", "default", "{\"matchLabels\":" FE "}") "]"), OWNED ("StatefulSet", "ss1"), NARROW, 0},
    {"the pod's ReplicationController: its label map merged",
     DS ("\"replicationcontrollers\":[" SVC ("rc1", "default", WEB) "]"), OWNED ("ReplicationController", "rc1"), WIDE, 0},
};

static void
dsel_table (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_podtopologyspread ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    for (size_t r = 0; r < sizeof dsel_rows / sizeof dsel_rows[0]; r++)
        fx_score_row (pl, self, r, dsel_rows[r].name, dsel_rows[r].cluster, dsel_rows[r].pod, TR_SCHED_SKIP,
                      dsel_rows[r].raw, dsel_rows[r].norm, dsel_rows[r].skip, 0);
    pl->destroy (self);
}

/* A Service added, narrowed, removed between cycles: a warm plugin (counts cached by the pod's
 * signature) scores as a fresh one, and as the selector says. With a hard default (List), the
 * Service decides whether PreFilter filters at all. */
static void
dsel_follows_services (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_podtopologyspread ();
    char err[256] = "";
    void *warm = pl->init (NULL, fx_host (), err, sizeof err);
    fx_t *fx = fx_new (DS ("\"services\":[]"));
    assert_non_null (fx);
    const tr_sched_pod_t *pod = fx_pod (fx, BARE);
    static const char *const svcs[] = {
        "[]",
        "[" SVC ("web", "default", WEB) "]",
        "[" SVC ("web", "default", WEB) "," SVC ("fe", "default", "{\"tier\":\"fe\"}") "]",
        "[" SVC ("web", "default", WEB) "]",
        "[" SVC ("web", "other", WEB) "]",
    };
    static const int64_t want_n1[] = {-1, 13, 12, 13, -1}; /* raw on n1; -1: PreScore skips */
    for (int step = 0; step < 5; step++) {
        fx_set_listed (fx, "services", svcs[step]);
        void *fresh = pl->init (NULL, fx_host (), err, sizeof err);
        tr_sched_cycle_t *a = fx_cycle (fx), *b = fx_cycle (fx);
        assert_int_equal (fx_compare_score (pl, warm, fresh, a, b, pod, step), want_n1[step] >= 0);
        fx_cycle_end (&a);
        fx_cycle_end (&b);
        a = fx_cycle (fx);
        tr_sched_status_t st = pl->pre_score (warm, a, pod, fx_snapshot (fx)->nodes, fx_snapshot (fx)->nnodes);
        if (want_n1[step] >= 0) {
            int64_t sc = -1;
            assert_int_equal (st.code, TR_SCHED_SUCCESS);
            assert_int_equal (pl->score (warm, a, pod, fx_snapshot (fx)->nodes[0], &sc).code, TR_SCHED_SUCCESS);
            assert_int_equal (sc, want_n1[step]);
        } else
            assert_int_equal (st.code, TR_SCHED_SKIP);
        fx_cycle_end (&a);
        pl->destroy (fresh);
    }
    pl->destroy (warm);
    /* List, zone maxSkew 1 DoNotSchedule: zone a holds 3 app=web pods, b none */
    json_t *args = json_loads ("{\"defaultingType\":\"List\",\"defaultConstraints\":[{\"maxSkew\":1,"
                               "\"topologyKey\":\"topology.kubernetes.io/zone\",\"whenUnsatisfiable\":\"DoNotSchedule\"}]}",
                               0, NULL);
    void *hard = pl->init (args, fx_host (), err, sizeof err);
    assert_non_null (hard);
    fx_set_listed (fx, "services", "[]");
    tr_sched_cycle_t *cs = fx_cycle (fx);
    assert_int_equal (pl->pre_filter (hard, cs, pod).code, TR_SCHED_SKIP);
    fx_cycle_end (&cs);
    fx_set_listed (fx, "services", "[" SVC ("web", "default", WEB) "]");
    cs = fx_cycle (fx);
    assert_int_equal (pl->pre_filter (hard, cs, pod).code, TR_SCHED_SUCCESS);
    assert_string_equal (pl->filter (hard, cs, pod, fx_snapshot (fx)->nodes[0]).reason, SKEW);
    assert_int_equal (pl->filter (hard, cs, pod, fx_snapshot (fx)->nodes[2]).code, TR_SCHED_SUCCESS);
    fx_cycle_end (&cs);
    pl->destroy (hard);
    json_decref (args);
    fx_destroy (&fx);
}

static void
args (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_podtopologyspread ();
    char err[256] = "";
    json_t *a = json_pack ("{s:s}", "defaultingType", "Sometimes");
    assert_null (pl->init (a, fx_host (), err, sizeof err));
    assert_non_null (strstr (err, "defaultingType"));
    json_decref (a);
    /* List with no constraints: a ReplicaSet's pod gets none, PreScore skips */
    a = json_pack ("{s:s,s:[]}", "defaultingType", "List", "defaultConstraints");
    void *self = pl->init (a, fx_host (), err, sizeof err);
    assert_non_null (self);
    fx_t *fx = fx_new (UNEVEN);
    const tr_sched_pod_t *pod = fx_pod (fx, "{\"name\":\"w\",\"owner\":\"ReplicaSet\",\"labels\":" WEB "}");
    tr_sched_cycle_t *cs = fx_cycle (fx);
    const tr_sched_snapshot_t *snap = fx_snapshot (fx);
    assert_int_equal (pl->pre_score (self, cs, pod, snap->nodes, snap->nnodes).code, TR_SCHED_SKIP);
    fx_cycle_end (&cs);
    pl->destroy (self);
    json_decref (a);
    /* List with a hard default: it filters the ReplicaSet's pod */
    a = json_loads ("{\"defaultingType\":\"List\",\"defaultConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\","
                    "\"whenUnsatisfiable\":\"DoNotSchedule\"}]}", 0, NULL);
    self = pl->init (a, fx_host (), err, sizeof err);
    assert_non_null (self);
    cs = fx_cycle (fx);
    assert_int_equal (pl->pre_filter (self, cs, pod).code, TR_SCHED_SUCCESS);
    assert_string_equal (pl->filter (self, cs, pod, snap->nodes[0]).reason, SKEW);
    assert_int_equal (pl->filter (self, cs, pod, snap->nodes[2]).code, TR_SCHED_SUCCESS);
    fx_cycle_end (&cs);
    fx_destroy (&fx);
    pl->destroy (self);
    json_decref (a);
}

/* PreFilter's counts are cached per pod signature and kept per node by generation: a warm
 * plugin must give a fresh one's verdicts on every node through binding, unbinding and node
 * deletion. */
static const char *templates[] = {
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":{\"topologySpreadConstraints\":[" TSC (1, "zone", "DoNotSchedule", "") "]}}",
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":{\"topologySpreadConstraints\":[" TSC (1, "zone", "DoNotSchedule", "") ","
    TSC (2, "kubernetes.io/hostname", "DoNotSchedule", "") "]}}",
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":{\"nodeSelector\":{\"disk\":\"ssd\"},\"topologySpreadConstraints\":["
    TSC (1, "zone", "DoNotSchedule", ",\"minDomains\":3") "]}}",
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":{\"topologySpreadConstraints\":[" TSC (1, "zone", "DoNotSchedule", ",\"nodeTaintsPolicy\":\"Honor\"") "]}}",
    "{\"name\":\"%s\",\"labels\":{\"app\":\"x\"}}",
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":{\"topologySpreadConstraints\":[" TSC (1, "zone", "ScheduleAnyway", "") ","
    TSC (1, "kubernetes.io/hostname", "ScheduleAnyway", "") "]}}",
    "{\"name\":\"%s\",\"owner\":\"ReplicaSet\",\"labels\":" WEB "}",
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":{\"nodeSelector\":{\"disk\":\"ssd\"},\"topologySpreadConstraints\":["
    TSC (2, "zone", "ScheduleAnyway", "") "]}}",
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

static void
cache_matches_fresh (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_podtopologyspread ();
    char err[256] = "";
    void *warm = pl->init (NULL, fx_host (), err, sizeof err);
    fx_t *fx = fx_new ("{\"nodes\":[{\"name\":\"n1\",\"labels\":{\"zone\":\"a\",\"disk\":\"ssd\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"a\"}},"
                       "{\"name\":\"n3\",\"labels\":{\"zone\":\"b\",\"disk\":\"ssd\"}},{\"name\":\"n4\",\"labels\":{\"zone\":\"b\"},"
                       "\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]},{\"name\":\"n5\",\"labels\":{\"zone\":\"c\"}},"
                       "{\"name\":\"n6\",\"labels\":{\"zone\":\"d\",\"disk\":\"ssd\"}}],\"pods\":[]}");
    assert_non_null (fx);
    unsigned rnd = 11;
    int refused = 0, fitted = 0, scored = 0;
    char names[128][16];
    int nnames = 0;
    for (int step = 0; step < 150; step++) {
        rnd = rnd * 1103515245u + 12345u;
        char text[1024], name[16];
        snprintf (name, sizeof name, "p%d", step);
        snprintf (text, sizeof text, templates[(rnd >> 8) % NTEMPLATES], name);
        const tr_sched_pod_t *pod = fx_pod (fx, text);
        void *fresh = pl->init (NULL, fx_host (), err, sizeof err);
        tr_sched_cycle_t *a = fx_cycle (fx), *b = fx_cycle (fx);
        int first_fit;
        fx_compare_filter (pl, warm, fresh, a, b, pod, step, &first_fit);
        const tr_sched_snapshot_t *snap = fx_snapshot (fx);
        /* and the same scores */
        scored += fx_compare_score (pl, warm, fresh, a, b, pod, step);
        fx_cycle_end (&a);
        fx_cycle_end (&b);
        pl->destroy (fresh);
        refused += first_fit < 0;
        fitted += first_fit >= 0;
        int target = first_fit >= 0 && (rnd >> 24) % 3 ? first_fit : (int) ((rnd >> 16) % snap->nnodes);
        char bind[1100];
        snprintf (bind, sizeof bind, "%.*s,\"node\":\"%s\"}", (int) strlen (text) - 1, text, snap->nodes[target]->name);
        assert_non_null (fx_bind (fx, bind));
        snprintf (names[nnames++ % 128], 16, "%s", name);
        if ((rnd >> 20) % 3 == 0 && nnames > 2)
            fx_unbind (fx, names[(rnd >> 12) % (unsigned) (nnames < 128 ? nnames : 128)]);
        if (step % 40 == 10)
            fx_set_nnodes (fx, 5); /* zone d gone ... */
        if (step % 40 == 30)
            fx_set_nnodes (fx, 6); /* ... and back */
    }
    assert_true (refused > 0 && fitted > 0 && scored > 20);
    fx_destroy (&fx);
    pl->destroy (warm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (filter_table),
        cmocka_unit_test (score_table),
        cmocka_unit_test (dsel_table),
        cmocka_unit_test (dsel_follows_services),
        cmocka_unit_test (args),
        cmocka_unit_test (cache_matches_fresh),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
