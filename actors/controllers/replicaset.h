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
/* Kubernetes' burstReplicas: at most this many creations (or deletions) decided per sync */
#define RS_BURST_REPLICAS 500

typedef struct {
    int active;        /* 1 while an expectation is outstanding */
    int want;          /* active pod count we expect to observe */
    int up;            /* 1: we created (wait for >= want); 0: we deleted (wait for <= want) */
    int64_t deadline;  /* ms */
} rs_expect_t;

/* Appends the actions for rs to out, given the facts of the pods it may act on (its own and its
 * namespace's orphans; others' are skipped; their selector memo is filled). exp may be NULL (no expectations). Returns the number
 * of creations + deletions decided. */
int rs_reconcile_facts (const json_t *rs, ctrl_podfacts_t *const *pods, size_t n, rs_expect_t *exp,
                        int64_t now_ms, ctrl_actions_t *out);
/* The same from the pod objects (an array) */
int rs_reconcile (const json_t *rs, const json_t *pods, rs_expect_t *exp, int64_t now_ms, ctrl_actions_t *out);

/* Kubernetes' slowStartBatch: a sync's creations go out in batches of 1, 2, 4, ... (each batch's
 * requests in flight together); the next batch starts when the previous one is answered, and
 * none does after a batch with a failure (the rest are skipped: the API is refusing, e.g. a
 * quota or an admission error, and a thousand more refusals would not help). */
typedef struct {
    int total;    /* creations to make */
    int sent, ok, failed, inflight;
    int batch;    /* the next batch's size */
} rs_slowstart_t;

void rs_slowstart_init (rs_slowstart_t *s, int total);
/* How many to send now (0 while a batch is in flight, after a failure, or when all are sent). */
int rs_slowstart_next (rs_slowstart_t *s);
/* One creation answered. */
void rs_slowstart_result (rs_slowstart_t *s, int ok);
/* 1 when nothing more will be sent and nothing is in flight. */
int rs_slowstart_finished (const rs_slowstart_t *s);
/* Creations never sent (a batch failed). */
int rs_slowstart_skipped (const rs_slowstart_t *s);

#endif
