/* nodehot — what the default profile's Filter and Score read of a node for a plain pod, packed
 * in one cache line per node, in the snapshot's node order.
 *
 * A tr_sched_node_t is 464 bytes; a scan reads three of its lines (the flags, allocatable's
 * start, requested's start: ABI 2.0's layout), scattered over 2.3 MB at 5,000 nodes, which the
 * other threads of a busy server evict between two cycles: in a cluster a SchedulingBasic cycle
 * took twice its warm time (docs/benchmarks.md, session 40). The framework keeps this array of
 * one line a node beside the snapshot (rebuilt when the snapshot's layout changes, else only the
 * nodes its generation journal names), and hands the built-in plugins that know it (the hooks
 * below, internal: not part of the plugin ABI) the nodes' lines alongside the nodes. A hook
 * answers from the line what the line holds, and calls the plugin's own node-by-node function
 * for anything else (a taint to look at, a pod asking for ephemeral storage or an extended
 * resource, a scored resource other than cpu and memory): same answers, by construction. */
#ifndef TROUPE_SCHED_NODEHOT_H
#define TROUPE_SCHED_NODEHOT_H

#include "actors/scheduler/sched_plugin.h"

#include <stdint.h>

typedef struct nodehot {
    _Alignas (64) int64_t alloc_cpu; /* allocatable.milli_cpu */
    int64_t alloc_mem;               /* allocatable.memory */
    int64_t req_cpu, req_mem;        /* requested.milli_cpu, .memory */
    int64_t nz_cpu, nz_mem;          /* nonzero_milli_cpu, nonzero_memory */
    int32_t alloc_pods;              /* allocatable.pods, clamped to int32 (the comparison with
                                      * npods + 1 stays the same) */
    uint32_t npods;
    uint8_t unschedulable, ready;
    uint8_t tainted;                 /* ntaints > 0 */
    uint8_t imaged;                  /* nimages > 0 */
} nodehot_t;

_Static_assert (sizeof (nodehot_t) == 64, "a node's hot fields are one cache line");

/* The line of a node, from the node. */
void nodehot_of (const tr_sched_node_t *node, nodehot_t *out);

/* A built-in plugin's hooks over the nodes' lines (any may be NULL: the plugin's batch or node
 * hook runs instead). hot[i] is nodes[i]'s line. */
typedef struct {
    void (*filter) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
                    const nodehot_t *const *hot, size_t n, tr_sched_status_t *st);
    tr_sched_status_t (*pre_score) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                    const tr_sched_node_t *const *nodes, const nodehot_t *const *hot, size_t n);
    tr_sched_status_t (*score) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                const tr_sched_node_t *const *nodes, const nodehot_t *const *hot, size_t n,
                                int64_t *scores);
} nodehot_hooks_t;

/* A plugin whose Score is an int64_t fn (self, pod, node, hot) (hot: the node's line or NULL,
 * when fn reads the node itself) gets its node hook `score` and its hot hook `score_hot` from
 * it: NODEHOT_SCORE (fn). */
#define NODEHOT_SCORE(fn)                                                                               \
    static tr_sched_status_t score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,         \
                                    const tr_sched_node_t *node, int64_t *out)                          \
    {                                                                                                   \
        (void) cs;                                                                                      \
        *out = fn (self, pod, node, NULL);                                                              \
        return TR_SCHED_OK;                                                                             \
    }                                                                                                   \
    static tr_sched_status_t score_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,     \
                                        const tr_sched_node_t *const *nodes, const nodehot_t *const *hot, \
                                        size_t n, int64_t *scores)                                      \
    {                                                                                                   \
        (void) cs;                                                                                      \
        for (size_t i_ = 0; i_ < n; i_++)                                                               \
            scores[i_] = fn (self, pod, nodes[i_], hot[i_]);                                            \
        return TR_SCHED_OK;                                                                             \
    }

/* The hooks of a built-in plugin's descriptor (by pointer: a .so of the same name has none). */
const nodehot_hooks_t *nodehot_hooks (const tr_sched_plugin_t *p);

#endif
