/* nodelife — the node lifecycle controller's decision, pure.
 *
 * A node's agent renews its Lease (kube-node-lease/<node>) every 10 s. When the renewal is older
 * than the grace period (40 s, Kubernetes' node-monitor-grace-period), the node's Ready condition
 * becomes Unknown (reason NodeStatusUnknown) and the scheduler stops placing pods there. Pods
 * bound to a node that has been Unknown for the eviction timeout (300 s, Kubernetes' default
 * toleration of node.kubernetes.io/unreachable) are deleted with grace 0 — their agent is gone —
 * so their ReplicaSets replace them elsewhere. An agent that comes back posts Ready=True itself.
 */
#ifndef TROUPE_NODELIFE_H
#define TROUPE_NODELIFE_H

#include "actors/controllers/ctrl.h"

#define NODELIFE_GRACE_MS 40000
#define NODELIFE_EVICT_MS 300000

/* node: the Node; lease: its Lease or NULL; pods: pods bound to it. */
void nodelife_reconcile (const json_t *node, const json_t *lease, const json_t *pods, int64_t now_ms,
                         int64_t grace_ms, int64_t evict_ms, ctrl_actions_t *out);

#endif
