/* nodelife — the node lifecycle controller's decision, pure.
 *
 * A node's agent renews its Lease (kube-node-lease/<node>) every 10 s. When the renewal is older
 * than the grace period (40 s, Kubernetes' node-monitor-grace-period), the node's Ready condition
 * becomes Unknown (reason NodeStatusUnknown) and the scheduler stops placing pods there. Pods
 * bound to a node that has been Unknown for the eviction timeout (300 s, Kubernetes' default
 * toleration of node.kubernetes.io/unreachable) are deleted with grace 0 — their agent is gone —
 * so their ReplicaSets replace them elsewhere. An agent that comes back posts Ready=True itself.
 *
 * As Kubernetes since taint-based evictions: a node whose Ready is Unknown gets the taints
 * node.kubernetes.io/unreachable NoSchedule and NoExecute (timeAdded), one whose Ready is False
 * node.kubernetes.io/not-ready; they go when Ready is True again. Its pods' Ready condition turns
 * False at once (MarkPodsNotReady: their endpoints leave the Services). A pod is evicted when its
 * toleration of the NoExecute taint runs out: its own tolerationSeconds, forever for a toleration
 * without seconds, else the eviction timeout (DefaultTolerationSeconds' 300 s, configurable).
 *
 * As in Kubernetes (the controller's own probe timestamps), a controller that has just started —
 * after a failover, say — gives every node a full grace period from its start: it judges a
 * node by what it has seen itself. The stored renewTime may be up to a lease checkpoint old on a
 * replicated store (raft_lease.c), which therefore never flips a node to Unknown by itself.
 */
#ifndef TROUPE_NODELIFE_H
#define TROUPE_NODELIFE_H

#include "actors/controllers/ctrl.h"

#define NODELIFE_GRACE_MS 40000
#define NODELIFE_TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define NODELIFE_TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define NODELIFE_EVICT_MS 300000

/* How long pod tolerates the NoExecute taint (key, value): the least tolerationSeconds of its
 * matching tolerations (ms, ≥ 0), -1 if one matches without seconds (forever), default_ms if none
 * matches (what DefaultTolerationSeconds admission gives a pod). */
int64_t nodelife_toleration_ms (const json_t *pod, const json_t *taint, int64_t default_ms);

/* node: the Node; lease: its Lease or NULL; pods: pods bound to it; since_ms: when this
 * controller started (no node is judged older than that). */
void nodelife_reconcile (const json_t *node, const json_t *lease, const json_t *pods, int64_t now_ms,
                         int64_t since_ms, int64_t grace_ms, int64_t evict_ms, ctrl_actions_t *out);
/* Whether nodelife_reconcile reads the node's pods now: when its Ready is Unknown or its last
 * sign of life is older than the grace period, or it carries a NoExecute taint. Otherwise its
 * decision is the same with pods NULL, so the controller groups only these nodes' pods (a
 * round over 5,000 healthy nodes copied every pod into per-node lists every 5 s). */
int nodelife_wants_pods (const json_t *node, const json_t *lease, int64_t now_ms, int64_t since_ms, int64_t grace_ms);

#endif
