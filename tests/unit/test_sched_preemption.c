/* DefaultPreemption plugin (PostFilter): table-driven — each row a small cluster, the nodes'
 * filter statuses, an incoming pod, and the node nominated through host->preempt with its
 * victims (or the reason when there is none). Covers the choice among nodes (lowest
 * most-important victim, smallest priority sum, latest start), reprieve of victims, higher or
 * equal priority pods never victims, Unresolvable nodes and non-resource rejections skipped,
 * preemptionPolicy Never, pod-count and extended-resource room, and the candidate limit; and
 * PodEligibleToPreemptOthers: a pod whose nominated node still has a terminating pod of lower
 * priority does not preempt again.
 * Cases modelled on Kubernetes' defaultpreemption tests, written anew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_fixture.h"

const tr_sched_plugin_t *sched_plugin_defaultpreemption (void);

#define CPU "Insufficient cpu"
#define UNRES "!node(s) had untolerated taint {k: v}" /* '!' marks UnschedulableAndUnresolvable */

#define N(name, cpu) "{\"name\":\"" name "\",\"cpu\":\"" cpu "\"}"
#define P(name, node, prio, cpu) \
    "{\"name\":\"" name "\",\"node\":\"" node "\",\"priority\":" #prio ",\"cpu\":\"" cpu "\"}"
#define PS(name, node, prio, cpu, start)                                                                       \
    "{\"name\":\"" name "\",\"node\":\"" node "\",\"priority\":" #prio ",\"cpu\":\"" cpu "\",\"start\":\"" start "\"}"
#define IN(prio, cpu) "{\"name\":\"in\",\"priority\":" #prio ",\"cpu\":\"" cpu "\"}"
/* a pod labelled app=<app>; a PodDisruptionBudget (host->pdbs) of namespace ns with selector sel
 * and status.disruptionsAllowed allowed; the selector app=<app> */
#define PL(name, node, prio, cpu, app)                                                                         \
    "{\"name\":\"" name "\",\"node\":\"" node "\",\"priority\":" #prio ",\"cpu\":\"" cpu "\",\"labels\":{\"app\":\"" app \
    "\"}}"
#define PDB(name, ns, sel, allowed) "{\"name\":\"" name "\",\"ns\":\"" ns "\",\"selector\":" sel ",\"allowed\":" #allowed "}"
#define PDBD(name, ns, sel, allowed, disrupted)                                                                \
    "{\"name\":\"" name "\",\"ns\":\"" ns "\",\"selector\":" sel ",\"allowed\":" #allowed ",\"disrupted\":" disrupted "}"
#define SEL(app) "{\"matchLabels\":{\"app\":\"" app "\"}}"
/* n1 holds a (priority 1, app=db), n2 b (priority 5, app=web), 4 cpu each: without a budget n1 is
 * chosen (its victim has the lower priority) */
#define TWO_NODES(pdbs)                                                                                        \
    "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" PL ("a", "n1", 1, "4", "db") ","            \
    PL ("b", "n2", 5, "4", "web") "],\"pdbs\":[" pdbs "]}"

typedef struct {
    const char *name;
    const char *cluster;
    const char *pod;
    const char *status[4];   /* per node: filter reason; "!..." Unresolvable; "=" Success; NULL: Insufficient cpu */
    const char *want_node;   /* NULL: no nomination */
    const char *want_victims;/* comma-separated, most important first */
    const char *want_reason; /* the PostFilter reason */
} row_t;

static const row_t rows[] = {
    {"the node whose most important victim has the lowest priority",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" P ("a", "n1", 10, "4") "," P ("b", "n2", 5, "4") "]}",
     IN (100, "2"), {CPU, CPU}, "n2", "b", "preemption: nominated node n2 (1 victim)"},
    {"reprieve: only as many victims as needed, most important kept",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 1, "1") "," P ("b", "n1", 2, "1") "," P ("c", "n1", 3, "2") "]}",
     IN (10, "2"), {CPU}, "n1", "b,a", "preemption: nominated node n1 (2 victims)"},
    {"reprieve keeps a small low-priority pod when a bigger one makes room",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 1, "1") "," P ("b", "n1", 2, "3") "]}",
     IN (10, "3"), {CPU}, "n1", "b", "preemption: nominated node n1 (1 victim)"},
    {"pods of higher or equal priority are never victims",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 20, "2") "," P ("b", "n1", 10, "2") "]}",
     IN (10, "2"), {CPU}, NULL, NULL, "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
    {"an Unresolvable node is no candidate, however cheap",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" P ("a", "n1", 0, "4") "," P ("b", "n2", 50, "4") "]}",
     IN (100, "2"), {UNRES, CPU}, "n2", "b", "preemption: nominated node n2 (1 victim)"},
    {"no candidate anywhere: both counts in the reason",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "," N ("n3", "4") "],\"pods\":[" P ("a", "n1", 0, "4") ","
     P ("b", "n2", 200, "4") "," P ("c", "n3", 200, "4") "]}",
     IN (100, "2"), {UNRES, CPU, CPU}, NULL, NULL,
     "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."},
    {"a non-resource rejection is not checked away (no nomination)",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 0, "4") "]}",
     IN (100, "2"), {"node(s) didn't match pod anti-affinity rules"}, NULL, NULL,
     "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
    {"equal top priority: the smaller sum of priorities",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" P ("a1", "n1", 5, "2") "," P ("a2", "n1", 5, "2") ","
     P ("b1", "n2", 5, "2") "," P ("b2", "n2", 1, "2") "]}",
     IN (100, "4"), {CPU, CPU}, "n2", "b1,b2", "preemption: nominated node n2 (2 victims)"},
    {"equal priorities: fewer victims (the sum counts each victim)",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" P ("a1", "n1", 5, "2") "," P ("a2", "n1", 5, "2") ","
     P ("b1", "n2", 5, "4") "]}",
     IN (100, "4"), {CPU, CPU}, "n2", "b1", "preemption: nominated node n2 (1 victim)"},
    {"all else equal: the most important victim that started last",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" PS ("a", "n1", 5, "4", "2026-01-01T00:00:00Z") ","
     PS ("b", "n2", 5, "4", "2026-06-01T00:00:00Z") "]}",
     IN (100, "2"), {CPU, CPU}, "n2", "b", "preemption: nominated node n2 (1 victim)"},
    {"reprieve: among equal priorities the earlier started is kept (before the name)",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" PS ("a", "n1", 5, "2", "2026-06-01T00:00:00Z") ","
     PS ("b", "n1", 5, "2", "2026-01-01T00:00:00Z") "]}",
     IN (100, "2"), {CPU}, "n1", "a", "preemption: nominated node n1 (1 victim)"},
    {"reprieve: a pod not started yet counts as the latest",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 5, "2") "," PS ("b", "n1", 5, "2", "2026-01-01T00:00:00Z") "]}",
     IN (100, "2"), {CPU}, "n1", "a", "preemption: nominated node n1 (1 victim)"},
    {"reprieve: equal priorities and starts, by name; victims most important first",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" PS ("c", "n1", 5, "1", "2026-01-01T00:00:00Z") ","
     PS ("b", "n1", 5, "1", "2026-01-01T00:00:00Z") "," PS ("a", "n1", 5, "2", "2026-01-01T00:00:00Z") "]}",
     IN (100, "3"), {CPU}, "n1", "a,c", "preemption: nominated node n1 (2 victims)"},
    {"preemptionPolicy Never: no preemption",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 0, "4") "]}",
     "{\"name\":\"in\",\"priority\":100,\"cpu\":\"2\",\"spec\":{\"preemptionPolicy\":\"Never\"}}", {CPU}, NULL, NULL,
     "preemption: not eligible due to preemptionPolicy=Never."},
    {"room in pod slots: a full node by pod count",
     "{\"nodes\":[{\"name\":\"n1\",\"pods\":2}],\"pods\":[" P ("a", "n1", 1, "100m") "," P ("b", "n1", 2, "100m") "]}",
     IN (10, "100m"), {"Too many pods"}, "n1", "a", "preemption: nominated node n1 (1 victim)"},
    {"extended resources: only the pod holding the GPU goes",
     "{\"nodes\":[{\"name\":\"n1\",\"ext\":{\"example.com/gpu\":\"1\"}}],\"pods\":["
     "{\"name\":\"g\",\"node\":\"n1\",\"priority\":1,\"cpu\":\"1\",\"ext\":{\"example.com/gpu\":\"1\"}},"
     "{\"name\":\"c\",\"node\":\"n1\",\"priority\":0,\"cpu\":\"1\"}]}",
     "{\"name\":\"in\",\"priority\":10,\"cpu\":\"1\",\"ext\":{\"example.com/gpu\":\"1\"}}", {"Insufficient example.com/gpu"}, "n1",
     "g", "preemption: nominated node n1 (1 victim)"},
    {"even with every lower-priority pod gone the pod is too big",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" P ("a", "n1", 1, "1") "]}",
     IN (10, "8"), {CPU}, NULL, NULL, "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
    {"a node no filter rejected and where the pod fits: nominated without victims, before any other",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" P ("a", "n1", 0, "4") "]}",
     IN (100, "2"), {CPU, "="}, "n2", "", "preemption: nominated node n2 (0 victims)"},
    {"memory: victims chosen for memory room",
     "{\"nodes\":[{\"name\":\"n1\",\"memory\":\"4Gi\"}],\"pods\":[{\"name\":\"m\",\"node\":\"n1\",\"priority\":1,\"memory\":\"3Gi\"}]}",
     "{\"name\":\"in\",\"priority\":10,\"memory\":\"2Gi\"}", {"Insufficient memory"}, "n1", "m",
     "preemption: nominated node n1 (1 victim)"},
    /* PodDisruptionBudgets (Kubernetes' filterPodsWithPDBViolation, pickOneNodeForPreemption) */
    {"PDB: without a budget the lower-priority victim's node", TWO_NODES (""), IN (100, "2"), {CPU, CPU}, "n1", "a",
     "preemption: nominated node n1 (1 victim)"},
    {"PDB: the node without violations wins over one with lower-priority victims that violate",
     TWO_NODES (PDB ("db", "default", SEL ("db"), 0)), IN (100, "2"), {CPU, CPU}, "n2", "b",
     "preemption: nominated node n2 (1 victim)"},
    {"PDB: a budget with room: no violation",
     TWO_NODES (PDB ("db", "default", SEL ("db"), 1)), IN (100, "2"), {CPU, CPU}, "n1", "a",
     "preemption: nominated node n1 (1 victim)"},
    {"PDB: a pod in status.disruptedPods does not count",
     TWO_NODES (PDBD ("db", "default", SEL ("db"), 0, "{\"a\":\"2026-01-01T00:00:00Z\"}")), IN (100, "2"), {CPU, CPU}, "n1",
     "a", "preemption: nominated node n1 (1 victim)"},
    {"PDB: another pod in status.disruptedPods does not spare this one",
     TWO_NODES (PDBD ("db", "default", SEL ("db"), 0, "{\"x\":\"2026-01-01T00:00:00Z\"}")), IN (100, "2"), {CPU, CPU}, "n2",
     "b", "preemption: nominated node n2 (1 victim)"},
    {"PDB: a selector that does not match the pod is ignored",
     TWO_NODES (PDB ("db", "default", SEL ("other"), 0)), IN (100, "2"), {CPU, CPU}, "n1", "a",
     "preemption: nominated node n1 (1 victim)"},
    {"PDB: a budget of another namespace is ignored",
     TWO_NODES (PDB ("db", "other", SEL ("db"), 0)), IN (100, "2"), {CPU, CPU}, "n1", "a",
     "preemption: nominated node n1 (1 victim)"},
    {"PDB: an empty selector matches nothing in preemption (as Kubernetes)",
     TWO_NODES (PDB ("all", "default", "{}", 0)), IN (100, "2"), {CPU, CPU}, "n1", "a",
     "preemption: nominated node n1 (1 victim)"},
    {"PDB: a nil selector matches nothing", TWO_NODES (PDB ("none", "default", "null", 0)), IN (100, "2"), {CPU, CPU}, "n1",
     "a", "preemption: nominated node n1 (1 victim)"},
    {"PDB: a malformed selector matches nothing",
     TWO_NODES (PDB ("bad", "default", "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Bogus\"}]}", 0)),
     IN (100, "2"), {CPU, CPU}, "n1", "a", "preemption: nominated node n1 (1 victim)"},
    {"PDB: a pod without labels matches no budget, even one selecting by DoesNotExist",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" P ("a", "n1", 5, "4") ","
     "{\"name\":\"b\",\"node\":\"n2\",\"priority\":1,\"cpu\":\"4\",\"labels\":{\"x\":\"y\"}}],\"pdbs\":["
     PDB ("noapp", "default", "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"DoesNotExist\"}]}", 0) "]}",
     IN (100, "2"), {CPU, CPU}, "n1", "a", "preemption: nominated node n1 (1 victim)"},
    {"PDB: budget 1, two victims: the second violates (a per-node copy spent pod by pod)",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" PL ("a1", "n1", 1, "2", "db") ","
     PL ("a2", "n1", 1, "2", "db") "," PL ("b", "n2", 5, "4", "web") "],\"pdbs\":[" PDB ("db", "default", SEL ("db"), 1) "]}",
     IN (100, "4"), {CPU, CPU}, "n2", "b", "preemption: nominated node n2 (1 victim)"},
    {"PDB: budget 2, two victims: no violation",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" PL ("a1", "n1", 1, "2", "db") ","
     PL ("a2", "n1", 1, "2", "db") "," PL ("b", "n2", 5, "4", "web") "],\"pdbs\":[" PDB ("db", "default", SEL ("db"), 2) "]}",
     IN (100, "4"), {CPU, CPU}, "n1", "a1,a2", "preemption: nominated node n1 (2 victims)"},
    {"PDB: the violating victim is reprieved first (the other, more important, goes)",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" PL ("a", "n1", 1, "2", "db") "," PL ("b", "n1", 2, "2", "web") "],\"pdbs\":["
     PDB ("db", "default", SEL ("db"), 0) "]}",
     IN (10, "2"), {CPU}, "n1", "b", "preemption: nominated node n1 (1 victim)"},
    {"PDB: without the budget the less important victim goes",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" PL ("a", "n1", 1, "2", "db") "," PL ("b", "n1", 2, "2", "web") "]}",
     IN (10, "2"), {CPU}, "n1", "a", "preemption: nominated node n1 (1 victim)"},
    {"PDB: a violating victim that cannot be reprieved is counted and said; still deleted (best effort)",
     "{\"nodes\":[" N ("n1", "4") "],\"pods\":[" PL ("a", "n1", 1, "4", "db") "],\"pdbs\":[" PDB ("db", "default", SEL ("db"), 0) "]}",
     IN (10, "2"), {CPU}, "n1", "a", "preemption: nominated node n1 (1 victim, 1 violating a PodDisruptionBudget)"},
    {"PDB: violating reprieved first, most important first; victims listed most important first",
     "{\"nodes\":[" N ("n1", "6") "],\"pods\":[" PL ("c", "n1", 3, "2", "db") "," PL ("b", "n1", 2, "2", "web") ","
     PL ("a", "n1", 1, "2", "db") "],\"pdbs\":[" PDB ("db", "default", SEL ("db"), 0) "]}",
     IN (10, "4"), {CPU}, "n1", "b,a", "preemption: nominated node n1 (2 victims, 1 violating a PodDisruptionBudget)"},
    {"PDB: equal violations (one each): then the lower most important victim",
     "{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "],\"pods\":[" PL ("a", "n1", 1, "4", "db") "," PL ("b", "n2", 5, "4", "web") "],"
     "\"pdbs\":[" PDB ("db", "default", SEL ("db"), 0) "," PDB ("web", "default", SEL ("web"), 0) "," PDB ("db2", "default", SEL ("db"), 5) "]}",
     IN (100, "2"), {CPU, CPU}, "n1", "a", "preemption: nominated node n1 (1 victim, 1 violating a PodDisruptionBudget)"},
};

static void
post_filter_table (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_defaultpreemption ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const row_t *row = &rows[r];
        fx_t *fx = fx_new (row->cluster);
        if (!fx)
            fail_msg ("row %zu (%s): bad fixture", r, row->name);
        const tr_sched_pod_t *pod = fx_pod (fx, row->pod);
        assert_non_null (pod);
        const tr_sched_snapshot_t *snap = fx_snapshot (fx);
        tr_sched_status_t st[4];
        for (uint32_t i = 0; i < snap->nnodes; i++) {
            const char *s = row->status[i] ? row->status[i] : CPU;
            st[i] = s[0] == '!'   ? (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, s + 1}
                    : s[0] == '=' ? TR_SCHED_OK /* a node no filter rejected (not evaluated) */
                                  : (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, s};
        }
        tr_sched_cycle_t *cs = fx_cycle (fx);
        tr_sched_status_t out = pl->post_filter (self, cs, pod, st, snap->nnodes);
        tr_sched_code_t want_code = row->want_node ? TR_SCHED_SUCCESS : TR_SCHED_UNSCHEDULABLE; /* nominated: Success */
        if (out.code != want_code || !out.reason || strcmp (out.reason, row->want_reason))
            fail_msg ("row %zu (%s): code %d reason \"%s\", want \"%s\"", r, row->name, out.code,
                      out.reason ? out.reason : "(null)", row->want_reason);
        if (!row->want_node) {
            /* no candidate: the nomination is cleared (host->preempt with node ""); not eligible:
             * left alone */
            int clears = !strncmp (row->want_reason, "preemption: 0/", 14);
            if (cs->preempt_calls != clears || cs->preempt_node[0] || cs->npreempt_victims)
                fail_msg ("row %zu (%s): preempt calls %d node \"%s\", want %d call(s) clearing the nomination", r,
                          row->name, cs->preempt_calls, cs->preempt_node, clears);
        } else {
            char got[512] = "";
            for (size_t v = 0; v < cs->npreempt_victims; v++)
                snprintf (got + strlen (got), sizeof got - strlen (got), "%s%s", v ? "," : "", cs->preempt_victims[v]);
            if (cs->preempt_calls != 1 || strcmp (cs->preempt_node, row->want_node) || strcmp (got, row->want_victims))
                fail_msg ("row %zu (%s): preempt calls %d node %s victims %s; want %s victims %s", r, row->name,
                          cs->preempt_calls, cs->preempt_node, got, row->want_node, row->want_victims);
        }
        fx_cycle_end (&cs);
        fx_destroy (&fx);
    }
    pl->destroy (self);
}

/* minCandidateNodesAbsolute 1, percentage 0: the search stops at the first candidate found, so
 * a pod nominates the first node of its walk, not the cheapest of all. */
static void
candidate_limit (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_defaultpreemption ();
    char err[256] = "";
    json_t *args = json_pack ("{s:i,s:i}", "minCandidateNodesPercentage", 0, "minCandidateNodesAbsolute", 1);
    void *limited = pl->init (args, fx_host (), err, sizeof err);
    void *full = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (limited);
    assert_non_null (full);
    fx_t *fx = fx_new ("{\"nodes\":[" N ("n1", "4") "," N ("n2", "4") "," N ("n3", "4") "," N ("n4", "4") "],\"pods\":["
                       P ("a", "n1", 9, "4") "," P ("b", "n2", 8, "4") "," P ("c", "n3", 7, "4") "," P ("d", "n4", 1, "4") "]}");
    const tr_sched_pod_t *pod = fx_pod (fx, IN (100, "1"));
    tr_sched_status_t st[4] = {{TR_SCHED_UNSCHEDULABLE, CPU}, {TR_SCHED_UNSCHEDULABLE, CPU},
                               {TR_SCHED_UNSCHEDULABLE, CPU}, {TR_SCHED_UNSCHEDULABLE, CPU}};
    tr_sched_cycle_t *cs = fx_cycle (fx);
    pl->post_filter (full, cs, pod, st, 4);
    assert_string_equal (cs->preempt_node, "n4"); /* all four looked at: the cheapest */
    fx_cycle_end (&cs);
    int saw_other = 0;
    for (int k = 0; k < 16; k++) {
        char text[128];
        snprintf (text, sizeof text, "{\"name\":\"in%d\",\"priority\":100,\"cpu\":\"1\"}", k);
        const tr_sched_pod_t *p = fx_pod (fx, text);
        cs = fx_cycle (fx);
        pl->post_filter (limited, cs, p, st, 4);
        assert_int_equal (cs->preempt_calls, 1);
        assert_int_equal (cs->npreempt_victims, 1);
        saw_other |= strcmp (cs->preempt_node, "n4") != 0;
        fx_cycle_end (&cs);
    }
    assert_true (saw_other); /* one candidate only, from a pod-dependent offset */
    json_decref (args);
    args = json_pack ("{s:i,s:i}", "minCandidateNodesPercentage", 0, "minCandidateNodesAbsolute", 0);
    assert_null (pl->init (args, fx_host (), err, sizeof err));
    assert_non_null (strstr (err, "cannot both be 0"));
    json_decref (args);
    fx_destroy (&fx);
    pl->destroy (limited);
    pl->destroy (full);
}

/* Kubernetes' PodEligibleToPreemptOthers: nominated to n1 where a lower-priority pod is still
 * terminating by preemption, the pod waits for it instead of preempting again; a terminating pod
 * of higher priority, one going for another reason, no nomination, or a nominated node that is
 * UnschedulableAndUnresolvable for it, does not stop it. */
static tr_sched_code_t elig_code = TR_SCHED_UNSCHEDULABLE; /* n1's filter status */

static tr_sched_status_t
run_eligibility (const char *cluster, const char *in, const char *nominated, char *node, size_t nlen)
{
    const tr_sched_plugin_t *pl = sched_plugin_defaultpreemption ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    fx_t *fx = fx_new (cluster);
    assert_non_null (fx);
    const tr_sched_pod_t *pod = fx_pod (fx, in);
    if (nominated) /* the fixture has no status fields: written into the pod built */
        json_object_set_new (json_object_get ((json_t *) pod->obj, "status"), "nominatedNodeName", json_string (nominated));
    tr_sched_status_t st[1] = {{elig_code, elig_code == TR_SCHED_UNRESOLVABLE ? "node(s) were unschedulable" : CPU}};
    tr_sched_cycle_t *cs = fx_cycle (fx);
    tr_sched_status_t out = pl->post_filter (self, cs, pod, st, 1);
    snprintf (node, nlen, "%s", cs->preempt_calls ? cs->preempt_node : "");
    static char reason[256];
    snprintf (reason, sizeof reason, "%s", out.reason ? out.reason : "");
    out.reason = reason;
    fx_cycle_end (&cs);
    fx_destroy (&fx);
    pl->destroy (self);
    return out;
}

static void
eligibility (void **state)
{
    (void) state;
    char node[64];
    const char *lowterm = "{\"nodes\":[" N ("n1", "4") "],\"pods\":["
                          "{\"name\":\"t\",\"node\":\"n1\",\"priority\":1,\"cpu\":\"2\",\"deleting\":true,\"preempted\":true},"
                          P ("b", "n1", 1, "2") "]}";
    tr_sched_status_t out = run_eligibility (lowterm, IN (10, "4"), "n1", node, sizeof node);
    assert_int_equal (out.code, TR_SCHED_UNSCHEDULABLE);
    assert_string_equal (out.reason, "preemption: not eligible due to a terminating pod on the nominated node.");
    assert_string_equal (node, "");
    /* not nominated: eligible (the terminating pod is a victim like any other) */
    run_eligibility (lowterm, IN (10, "4"), NULL, node, sizeof node);
    assert_string_equal (node, "n1");
    /* the terminating pod is of higher priority: not the pod's victim, eligible */
    const char *highterm = "{\"nodes\":[" N ("n1", "4") "],\"pods\":["
                           "{\"name\":\"t\",\"node\":\"n1\",\"priority\":50,\"cpu\":\"2\",\"deleting\":true,\"preempted\":true},"
                           P ("b", "n1", 1, "2") "]}";
    out = run_eligibility (highterm, IN (10, "2"), "n1", node, sizeof node);
    assert_string_equal (out.reason, "preemption: nominated node n1 (1 victim)");
    assert_string_equal (node, "n1");
    /* terminating for another reason (no DisruptionTarget by PreemptionByScheduler): as
     * Kubernetes' podTerminatingByPreemption, it does not hold the pod back */
    const char *otherterm = "{\"nodes\":[" N ("n1", "4") "],\"pods\":["
                            "{\"name\":\"t\",\"node\":\"n1\",\"priority\":1,\"cpu\":\"2\",\"deleting\":true},"
                            P ("b", "n1", 1, "2") "]}";
    out = run_eligibility (otherterm, IN (10, "4"), "n1", node, sizeof node);
    assert_string_equal (out.reason, "preemption: nominated node n1 (2 victims)");
    /* the nominated node UnschedulableAndUnresolvable for the pod: eligible again (and, the only
     * node, no candidate) */
    elig_code = TR_SCHED_UNRESOLVABLE;
    out = run_eligibility (lowterm, IN (10, "4"), "n1", node, sizeof node);
    elig_code = TR_SCHED_UNSCHEDULABLE;
    assert_string_equal (out.reason, "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.");
    assert_string_equal (node, ""); /* the nomination cleared: node "" */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (post_filter_table),
        cmocka_unit_test (candidate_limit),
        cmocka_unit_test (eligibility),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
