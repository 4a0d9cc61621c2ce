/* nodeshare — sums over the nodes of a snapshot of a per-node function, kept up to date by
 * node generation: only nodes that changed (or are new) are computed again, nodes gone from the
 * snapshot are taken out. What makes InterPodAffinity's and PodTopologySpread's PreFilter cost
 * O(nodes) comparisons instead of a walk of every pod of the cluster.
 *
 * The function emits (map, key, value, n) for a node; the sums are per map, in tpcounts (an
 * emission with n = 0 still creates the pair). It must depend only on the node (its labels,
 * taints, pods) and on what the caller fixed when making the cache: a node whose struct and
 * generation are unchanged is assumed to give the same shares — so the framework must move a
 * node's generation on every change of the node or its pods, and never give a node a generation
 * it gave before (Kubernetes' nextGeneration: one counter for all nodes).
 *
 * With a snapshot that keeps a journal (tr_sched_snapshot_t.layout), an update at the same layout
 * looks only at the nodes whose generation moved since the last one, not at every node.
 *
 * Not thread-safe: updated on the scheduler's thread; the maps may be read from several
 * threads between updates.
 */
#ifndef TROUPE_SCHED_NODESHARE_H
#define TROUPE_SCHED_NODESHARE_H

#include "actors/scheduler/plugins/tpcount.h"
#include "actors/scheduler/sched_plugin.h"

typedef struct nodeshare nodeshare_t;
typedef void (*nodeshare_emit_fn) (void *ctx, int map, const char *key, const char *value, int64_t n);
typedef void (*nodeshare_fn) (void *arg, const tr_sched_node_t *node, nodeshare_emit_fn emit, void *ctx);

/* NULL when out of memory. nmaps at most 16. */
nodeshare_t *nodeshare_new (int nmaps);
void nodeshare_destroy (nodeshare_t **self_p);
/* Brings the sums up to snap with fn (arg passed along). 0, or -1 when out of memory (the sums
 * are then wrong: destroy it). */
int nodeshare_update (nodeshare_t *self, const tr_sched_snapshot_t *snap, nodeshare_fn fn, void *arg);
const tpcount_t *nodeshare_map (const nodeshare_t *self, int map);
/* Updates so far that walked every node of the snapshot (the first, and any after its layout
 * changed or its journal no longer reached back); the others read only the journal. */
size_t nodeshare_walks (const nodeshare_t *self);

#endif
