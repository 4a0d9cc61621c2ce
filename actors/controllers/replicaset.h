/* replicaset — the ReplicaSet controller's decision, pure.
 *
 * Given a ReplicaSet and the pods of its namespace: adopt matching orphans (ownerReference
 * patch), create pods from the template until spec.replicas active pods exist, delete surplus
 * ones (unscheduled first, then pending, then not ready, then newest), and report status
 * (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration) only
 * when it changed. Pods owned by another controller are never touched.
 *
 * Expectations, as Kubernetes keeps them: after asking for N creations (deletions) the
 * controller waits until it sees them, or 30 s pass, before deciding again, so a lagging cache
 * never makes it create twice.
 */
#ifndef TROUPE_REPLICASET_H
#define TROUPE_REPLICASET_H

#include "actors/controllers/ctrl.h"

#define RS_EXPECTATION_TIMEOUT_MS 30000

typedef struct {
    int active;        /* 1 while an expectation is outstanding */
    int want;          /* active pod count we expect to observe */
    int up;            /* 1: we created (wait for >= want); 0: we deleted (wait for <= want) */
    int64_t deadline;  /* ms */
} rs_expect_t;

/* Appends the actions for rs to out. exp may be NULL (no expectations). Returns the number of
 * creations + deletions decided. */
int rs_reconcile (const json_t *rs, const json_t *pods, rs_expect_t *exp, int64_t now_ms, ctrl_actions_t *out);

#endif
