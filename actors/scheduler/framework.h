/* framework — Kubernetes' scheduling framework over sched_plugin.h, pure: a profile is ordered
 * plugin instances per extension point (with score weights); one scheduling cycle of one pod runs
 *   PreFilter (SKIP honoured) → Filter over a sample of nodes (percentageOfNodesToScore, as
 *   Kubernetes: adaptive 50 - nodes/125 %, at least 5 %, at least 100 nodes, round-robin start)
 *   → none fits: PostFilter, FitError "0/N nodes are available: <count reason>, ... ." (sorted as
 *   Kubernetes sorts them) + " <PostFilter's message>." (fw_fit_error) and the rejecting
 *   plugins' events
 *   → PreScore → Score (+ NormalizeScore, × weight) → the highest total (ties at random,
 *   reservoir sampling as selectHost) → assume → Reserve (Unreserve in reverse on failure) →
 *   Permit → PreBind → Bind.
 * Permit WAIT, as Kubernetes' waitingPodsMap: the pod stays assumed and reserved, held by the
 *   profile (FW_WAITING) until every plugin that said WAIT allows it (host->allow_waiting), one
 *   rejects it (host->reject_waiting), or a wait runs out (each plugin's own, at most 15 min);
 *   fw_waiting_poll then finishes it: PreBind and Bind, or Unreserve + forget and Unschedulable
 *   ("rejected due to timeout after waiting 10s at plugin X"). Time: fw_profile_set_clock.
 * The host table (tr_sched_host_t) given to plugins is fw_host ().
 */
#ifndef TROUPE_SCHED_FRAMEWORK_H
#define TROUPE_SCHED_FRAMEWORK_H

#include "actors/scheduler/sched_plugin.h"

#include <stddef.h>
#include <stdint.h>

enum {
    FW_PT_QUEUE_SORT = 1u << 0,
    FW_PT_PRE_FILTER = 1u << 1,
    FW_PT_FILTER = 1u << 2,
    FW_PT_POST_FILTER = 1u << 3,
    FW_PT_PRE_SCORE = 1u << 4,
    FW_PT_SCORE = 1u << 5,
    FW_PT_RESERVE = 1u << 6,
    FW_PT_PERMIT = 1u << 7,
    FW_PT_PRE_BIND = 1u << 8,
    FW_PT_BIND = 1u << 9,
    FW_PT_ALL = 0x3ff,
};

typedef struct fw_profile fw_profile_t;

const tr_sched_host_t *fw_host (void);

/* An empty profile; percentage: percentageOfNodesToScore (0 = adaptive, 100 = every node). */
fw_profile_t *fw_profile_new (const char *scheduler_name, int percentage);
void fw_profile_destroy (fw_profile_t **self_p);
const char *fw_profile_name (const fw_profile_t *self);
void fw_profile_set_percentage (fw_profile_t *self, int percentage);
/* Filter on parallelism threads (KubeSchedulerConfiguration's parallelism; 1, the default of a
 * new profile: the scheduler's thread alone; never more threads than the machine has cores). Only a long scan goes parallel: one still short of
 * feasible nodes after prefix nodes, with at least min_rest nodes left, split in chunks of chunk
 * nodes (0: FW_PAR_CHUNK). The outcome is the one-thread one, whatever the threads: the same
 * feasible nodes, statuses and stop (framework.c, scan_parallel). */
#define FW_PAR_PREFIX 1024
#define FW_PAR_MIN_REST 2048
#define FW_PAR_CHUNK 128
void fw_profile_set_parallelism (fw_profile_t *self, int parallelism, size_t prefix, size_t min_rest, size_t chunk);
int fw_profile_parallelism (const fw_profile_t *self);
/* Seeds the tie-breaking random generator (tests). */
void fw_profile_seed (fw_profile_t *self, uint64_t seed);

/* Adds a plugin instance (init is called with args) at the extension points of points that it
 * implements (FW_PT_*), appended in call order; weight for Score (0 → 1). Adding the same plugin
 * again only adds the new points (and sets the weight if given), sharing the instance.
 * 0, or -1 with err ("NodeResourcesFit: init refused: ..."). dl: a dlopen handle the profile
 * closes on destroy (NULL for built-ins). */
int fw_profile_add (fw_profile_t *self, const tr_sched_plugin_t *plugin, const json_t *args, uint32_t points,
                    int64_t weight, void *dl, char *err, size_t errlen);
/* Removes a plugin from points (disabled: [{name}]). */
void fw_profile_remove (fw_profile_t *self, const char *name, uint32_t points);
/* Plugin names at one point, in order (tests, logs): writes up to max, returns the count. */
size_t fw_profile_list (const fw_profile_t *self, uint32_t point, const char **names, int64_t *weights, size_t max);
/* The QueueSort plugin's less (NULL: none), for the queue. */
int fw_profile_less (void *profile, const tr_sched_pod_t *a, const tr_sched_pod_t *b);

/* What the caller gives a cycle: the snapshot, a lookup, and assume/forget of the chosen node. */
typedef struct {
    const tr_sched_snapshot_t *snap;
    const tr_sched_node_t *(*node) (void *arg, const char *name);
    int (*assume) (void *arg, const tr_sched_pod_t *pod, const char *node);
    void (*forget) (void *arg, const tr_sched_pod_t *pod);
    void *arg;
} fw_env_t;

struct sched_snap;
/* The environment of a cycle on a scheduler snapshot (actors/scheduler/snapshot.h): its view,
 * its node lookup, assume and forget on it. */
void fw_env_of_snapshot (fw_env_t *env, struct sched_snap *snap);

typedef struct fw_nomindex fw_nomindex_t;

/* The nominator (Kubernetes' PodNominator), for fw_schedule_nominated. */
typedef struct {
    /* The pending pods nominated to node (status.nominatedNodeName, or a preemption of this
     * scheduler not yet written), up to max into out; returns their count. Filter counts those of
     * priority >= the pod's on their node (Kubernetes' addNominatedPods). */
    size_t (*nominated) (void *arg, const char *node, const tr_sched_pod_t **out, size_t max);
    /* The node pod is nominated to (NULL: none; the callback may be NULL: status.nominatedNodeName
     * is read): tried first, alone, as Kubernetes' evaluateNominatedNode. */
    const char *(*nominated_node) (void *arg, const tr_sched_pod_t *pod);
    void *arg;
    /* 1 when pod (bound) is going away though its object may not say so yet (a victim whose
     * delete was sent); may be NULL: metadata.deletionTimestamp alone. */
    int (*terminating) (void *arg, const tr_sched_pod_t *pod);
    /* Optional: calls fn for every nomination (a pending pod and the node it is nominated to).
     * When set, a cycle reads the nominations once into an index sorted by node, instead of
     * calling nominated () for each node it filters (thousands of lookups per cycle while many
     * preemptors wait for their victims). */
    void (*each) (void *arg, void (*fn) (void *ctx, const char *node, const tr_sched_pod_t *pod), void *ctx);
    /* With each: the nominations' version. A profile keeps the index it built (with the pod
     * and node pointers in it) while the version stays the same, so the nominator bumps it
     * whenever a nomination, a nominated pod's object or the set of nodes changes. 0: the index
     * is built again every cycle. */
    uint64_t version;
    /* Optional, preferred to each: the nominations' index, which the nominator keeps by deltas
     * (fw_nomindex_add / fw_nomindex_remove / fw_nomindex_nodes_changed) as they happen. */
    fw_nomindex_t *index;
} fw_nominator_t;

/* The nominator's index of nominations (Kubernetes' nominator.nominatedPods), kept by deltas:
 * a cycle reads it sorted by node, a node's pods in the nominator's order (the order of add),
 * resolving only the node names added since the last cycle (all again after
 * fw_nomindex_nodes_changed, or on another snapshot view). pod stays the caller's: it must
 * outlive its entry (fw_nomindex_remove before freeing it). */
fw_nomindex_t *fw_nomindex_new (void);
void fw_nomindex_free (fw_nomindex_t *x);
/* pod nominated to node, after every other nomination in the order; 0, or -1 out of memory */
int fw_nomindex_add (fw_nomindex_t *x, const char *node, const tr_sched_pod_t *pod);
/* pod's nomination gone (none: nothing) */
void fw_nomindex_remove (fw_nomindex_t *x, const tr_sched_pod_t *pod);
/* a node was added or deleted: names are resolved again at the next cycle */
void fw_nomindex_nodes_changed (fw_nomindex_t *x);
size_t fw_nomindex_count (const fw_nomindex_t *x);
/* For tests: the pods nominated to node (resolved in env's snapshot), in order, up to max. */
size_t fw_nomindex_lookup (fw_nomindex_t *x, const fw_env_t *env, const tr_sched_node_t *node,
                           const tr_sched_pod_t **out, size_t max);

typedef enum {
    FW_SCHEDULED = 0,     /* node chosen, assumed, reserved, permitted, pre-bound, bound */
    FW_UNSCHEDULABLE,     /* no node fits: message = FitError, events = rejecting plugins' mask */
    FW_ERROR,             /* a plugin failed: message says which */
    FW_WAITING,           /* node chosen, assumed, reserved; Permit said wait: see fw_waiting_poll */
} fw_outcome_t;

typedef struct {
    fw_outcome_t outcome;
    char node[254];
    char message[1024];
    uint32_t events;          /* union of the rejecting plugins' events (0 plugin events → ALL) */
    int host_binds;           /* the DefaultBinder took it: the caller sends the binding */
    size_t evaluated, feasible; /* nodes filtered, nodes that passed */
    /* FW_UNSCHEDULABLE after a PostFilter nominated a node (host->preempt): {"node": name,
     * "victims": [Pod objects]}; the caller sets status.nominatedNodeName, deletes the victims,
     * and json_decref's it. NULL otherwise. */
    json_t *preempt;
    /* FW_UNSCHEDULABLE after a PostFilter found no candidate (host->preempt with node ""): the
     * pod's nomination, if any, is to be cleared (Kubernetes' NominatedNodeName ""). */
    int clear_nomination;
} fw_result_t;

/* One cycle for pod (out->preempt, when set, is the caller's to release). */
void fw_schedule (fw_profile_t *self, const fw_env_t *env, const tr_sched_pod_t *pod, fw_result_t *out);
/* The same with nominated pods accounted (nom may be NULL: none; the nominated node is then read
 * from status.nominatedNodeName). */
void fw_schedule_nominated (fw_profile_t *self, const fw_env_t *env, const fw_nominator_t *nom, const tr_sched_pod_t *pod,
                            fw_result_t *out);
/* The binding the caller sent failed: Unreserve (reverse order) and forget. */
void fw_unreserve (fw_profile_t *self, const fw_env_t *env, const tr_sched_pod_t *pod, const char *node);

/* ---- Permit's waiting pods ---- */
typedef struct {
    char uid[128];
    fw_result_t r;   /* FW_SCHEDULED (r.host_binds: send the binding), FW_UNSCHEDULABLE (rejected or
                      * timed out: Unreserved and forgotten, r.events for the queue), FW_ERROR
                      * (PreBind or Bind failed: Unreserved and forgotten) */
} fw_done_t;
/* The clock Permit deadlines are measured with (ms; default CLOCK_MONOTONIC); tests set theirs. */
void fw_profile_set_clock (fw_profile_t *self, int64_t (*now_ms) (void *arg), void *arg);
/* Filter in chunks and Score in one call per plugin where plugins have the batch forms (ABI 1.4;
 * on, the default), or node by node, one call per plugin and node (0; the tests compare both). */
void fw_profile_set_batch (fw_profile_t *self, int on);
/* The nodes' hot lines (nodehot.h) the chunked scans of self read, brought up to date with snap
 * (as a cycle does first), in snap->nodes order; NULL when snap keeps no journal. For tests. */
struct nodehot;
const struct nodehot *fw_hot_lines (fw_profile_t *self, const tr_sched_snapshot_t *snap);
/* Where host->namespace_labels looks (the caller's Namespace informer); none: NULL for all. */
void fw_profile_set_namespaces (fw_profile_t *self, const json_t *(*labels) (void *arg, const char *ns), void *arg);
/* What host->default_selector answers with (the caller's Service and controller informers, see
 * defaultsel.h); none: -1 for all, PodTopologySpread falls back to the pod's owner. */
void fw_profile_set_default_selector (fw_profile_t *self,
                                      int (*dsel) (void *arg, const tr_sched_pod_t *pod, json_t **selector), void *arg);
/* What host->pdbs answers with (the caller's PodDisruptionBudget informer, see pdblister.h);
 * none: no PDB at all. */
void fw_profile_set_pdbs (fw_profile_t *self,
                          size_t (*pdbs) (void *arg, const char *ns, const tr_sched_pdb_t *const **out), void *arg);
/* Finishes the waiting pods decided by now: allowed → PreBind, Bind; rejected or timed
 * out → Unreserve (reverse), forget. Up to max into out; returns how many (call again while it
 * returns max). */
size_t fw_waiting_poll (fw_profile_t *self, const fw_env_t *env, fw_done_t *out, size_t max);
/* ms until a waiting pod needs fw_waiting_poll (0: now), -1 when none waits. */
int64_t fw_waiting_next_ms (const fw_profile_t *self);
/* Rejects a waiting pod (deleted, or changed): 0, or -1 when it does not wait here. */
int fw_waiting_reject (fw_profile_t *self, const char *uid, const char *message);
int fw_waiting_has (const fw_profile_t *self, const char *uid);
size_t fw_waiting_count (const fw_profile_t *self);
/* node with the nominated pods of priority >= pod's (other than pod) added to its pods and
 * requests, as Kubernetes' addNominatedPods, into tmp (pods array in *buf, caller frees); returns
 * node itself when there are none. */
const tr_sched_node_t *fw_with_nominated (const fw_nominator_t *nom, const tr_sched_pod_t *pod, const tr_sched_node_t *node,
                                          tr_sched_node_t *tmp, const tr_sched_pod_t ***buf);

/* Kubernetes' PodEligibleToPreemptOthers, as the nominator knows it: 0 when nominated (the
 * node: nominated, NULL when none or unknown) holds a terminating pod of lower priority than pod —
 * the room it makes is coming, no second preemption (PostFilter is not run); else 1. */
int fw_eligible_to_preempt (const fw_nominator_t *nom, const tr_sched_node_t *nominated, const tr_sched_pod_t *pod);

/* Kubernetes' FitError.Error() into out: "0/nall nodes are available:", then " <prefilter>." when
 * PreFilter rejected (its message), else " " + every reason of the n statuses st counted,
 * "<count> <reason>" sorted as strings, joined ", ", + "."; then " <postfilter>." when PostFilter
 * said something (DefaultPreemption: "preemption: 0/3 nodes are available: 3 No preemption victims
 * found for incoming pod.", so the message ends "pod.." exactly as kube-scheduler's). No nodes at
 * all: "no nodes available to schedule pods". Truncated to len. */
void fw_fit_error (char *out, size_t len, size_t nall, const tr_sched_status_t *st, size_t n, const char *prefilter,
                   const char *postfilter);

/* Kubernetes' numFeasibleNodesToFind. */
size_t fw_nodes_to_find (int percentage, size_t nnodes);

#endif
