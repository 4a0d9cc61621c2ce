/* sched_fixture — small clusters for scheduler plugin tests, built by hand from JSON text.
 *
 * fx_new ('{"nodes": [...], "pods": [...], "namespaces": {"ns": {labels}}}') with compact nodes
 * and pods (namespaces: what host->namespace_labels answers; absent: unknown). What
 * host->default_selector sees (through actors/scheduler/defaultsel.h): "services",
 * "replicationcontrollers", "replicasets", "statefulsets": [{"name", "ns", "selector"}]; none of
 * these keys: the host answers -1 (no listers). What host->pdbs lists (through
 * actors/scheduler/pdblister.h): "pdbs": [{"name", "ns", "selector", "allowed"
 * (status.disruptionsAllowed), "disrupted" (status.disruptedPods)}]:
 *   node: {"name": "n1", "labels": {...}, "cpu": "4", "memory": "8Gi", "pods": 110,
 *          "taints": [...], "ext": {"example.com/gpu": "2"}}     (kubernetes.io/hostname added)
 *   pod:  {"name": "p", "ns": "default", "node": "n1", "labels": {...}, "priority": 0,
 *          "cpu": "1", "memory": "1Gi", "ext": {...}, "start": "2026-01-01T00:00:00Z",
 *          "owner": "ReplicaSet" (apiVersion apps/v1, v1 for ReplicationController; named "owner"
 *          or "ownerName"), "deleting": true, "preempted": true (DisruptionTarget by
 *          PreemptionByScheduler), "spec": {...merged into spec}}
 * A pod with "node" is bound there; fx_pod builds an incoming (pending) pod the same way.
 * fx_host is a host table: quantity_milli, label_selector_match and node_selector_match are the
 * framework's (fw_host), with the fixture's own cycle-state map, intern, and preempt recorded in
 * the cycle.
 */
#ifndef TROUPE_TEST_SCHED_FIXTURE_H
#define TROUPE_TEST_SCHED_FIXTURE_H

#include "actors/scheduler/sched_plugin.h"

typedef struct fx fx_t;

struct tr_sched_cycle {
    fx_t *fx;
    struct {
        char key[64];
        void *data;
        void (*free_fn) (void *);
    } kv[16];
    char *interned[64];
    size_t ninterned;
    /* what post_filter nominated through host->preempt */
    char preempt_node[64];
    char preempt_victims[32][64];
    size_t npreempt_victims;
    int preempt_calls;
};

/* NULL (and a message on stderr) on malformed fixture text. */
fx_t *fx_new (const char *json);
void fx_destroy (fx_t **self_p);
/* An incoming pod, owned by the fixture. */
const tr_sched_pod_t *fx_pod (fx_t *self, const char *json);
/* Binds a new pod (JSON with "node") to its node, as an assumed or bound pod: the node's
 * generation moves on (one counter for all fixtures, as Kubernetes' nextGeneration). */
const tr_sched_pod_t *fx_bind (fx_t *self, const char *json);
/* Takes the pod named name off its node (generation moves on). 0, or -1 when not found. */
int fx_unbind (fx_t *self, const char *name);
/* Shows only the first n nodes in the snapshot (a node deleted from the end). */
void fx_set_nnodes (fx_t *self, uint32_t n);
/* on: the nodes of fixtures made from now on carry their labels packed (label_index, as the
 * scheduler's snapshot gives them), so fw_node_label answers from it; off (the default): from
 * the JSON, as for a node built by hand. */
void fx_label_index (int on);
const tr_sched_snapshot_t *fx_snapshot (fx_t *self);
/* Sets a namespace's labels (JSON text; NULL: the namespace is gone). No node generation moves,
 * as a Namespace update leaves the nodes alone. */
void fx_set_namespace (fx_t *self, const char *ns, const char *labels_json);
const tr_sched_node_t *fx_node (fx_t *self, const char *name);
/* Replaces what host->default_selector lists under key ("services"...: a JSON array; NULL:
 * drops the key). No node generation moves. */
void fx_set_listed (fx_t *self, const char *key, const char *objs_json);
const tr_sched_host_t *fx_host (void);
/* A fresh cycle state over the fixture's snapshot; fx_cycle_end frees it (and its data). */
tr_sched_cycle_t *fx_cycle (fx_t *self);
void fx_cycle_end (tr_sched_cycle_t **cs_p);

/* Table rows (cmocka: a mismatch fails the test naming row and label).
 * fx_filter_row: a fixture from cluster, the incoming pod, PreFilter (SKIP when skip, else
 * SUCCESS), then Filter on every node: want[i] the reason on node i ("" or NULL: fits); a reason
 * equal to unresolvable must come as UnschedulableAndUnresolvable, any other as Unschedulable. */
void fx_filter_row (const tr_sched_plugin_t *pl, void *self, size_t row, const char *label, const char *cluster,
                    const char *pod, const char *const *want, int skip, const char *unresolvable);
/* fx_score_row: the same fixture; PreFilter when pre_filter ≥ 0 (that code expected), PreScore
 * (SKIP when skip), then, unless skip and !score_skipped, Score per node = raw[i] and
 * NormalizeScore = norm[i]. */
void fx_score_row (const tr_sched_plugin_t *pl, void *self, size_t row, const char *label, const char *cluster,
                   const char *pod, int pre_filter, const int64_t *raw, const int64_t *norm, int skip, int score_skipped);
/* A plugin with caches (warm) against a new instance (fresh), cycles a and b over one fixture:
 * fx_compare_filter runs PreFilter and Filter of both on every node, fails at the first
 * disagreement (code or reason), returns PreFilter's code and the first node that fits
 * (*first_fit, -1: none). fx_compare_score runs PreScore, Score and NormalizeScore of both and
 * fails at the first disagreement; returns 1 when scored (PreScore did not SKIP). */
tr_sched_code_t fx_compare_filter (const tr_sched_plugin_t *pl, void *warm, void *fresh, tr_sched_cycle_t *a,
                                   tr_sched_cycle_t *b, const tr_sched_pod_t *pod, int step, int *first_fit);
int fx_compare_score (const tr_sched_plugin_t *pl, void *warm, void *fresh, tr_sched_cycle_t *a, tr_sched_cycle_t *b,
                      const tr_sched_pod_t *pod, int step);

#endif
