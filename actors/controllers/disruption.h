/* disruption — the disruption controller's decision, pure (Kubernetes' pkg/controller/disruption).
 *
 * Given a PodDisruptionBudget, the pods of its namespace, a way to look up a pod's controller
 * (ReplicaSet, Deployment) and the time, it computes the budget's status:
 * - the selected pods: spec.selector over the namespace's pods (absent selects none, {} all);
 * - expectedPods and desiredHealthy: an integer minAvailable expects the selected pods and wants
 *   minAvailable of them; a percentage minAvailable, or any maxUnavailable, expects the sum of the
 *   scales (spec.replicas) of the selected pods' distinct controllers (a ReplicaSet owned by a
 *   Deployment counts as that Deployment, as Kubernetes' finders do), percentages rounded up,
 *   desiredHealthy = expectedPods - maxUnavailable (never below 0);
 * - currentHealthy: selected pods that are Ready, not being deleted, and not in disruptedPods;
 * - disruptionsAllowed = max(0, currentHealthy - desiredHealthy), 0 when expectedPods <= 0;
 * - disruptedPods (written by the Eviction API): entries of pods gone, being deleted, or older than
 *   DISRUPTION_DELETION_TIMEOUT_MS are dropped; the earliest expiry of the others is returned so
 *   the caller re-checks then;
 * - condition DisruptionAllowed: True/SufficientPods when disruptions are allowed, else
 *   False/InsufficientPods; observedGeneration is metadata.generation.
 * Where the expected count comes from the controllers' scales, a selected pod without a controller
 * reference is left out of it (still counted healthy) and reported in unmanaged, for the
 * caller's UnmanagedPods Warning Event (Kubernetes >= 1.27; earlier versions failed the sync). A
 * pod whose controller is not found fails the sync (Kubernetes' failSafe): the old status with
 * disruptionsAllowed 0 and condition False/SyncFailed naming the pod.
 * The status is returned only when it differs from the PDB's (Kubernetes' updatePdbStatus test).
 */
#ifndef TROUPE_DISRUPTION_H
#define TROUPE_DISRUPTION_H

#include <jansson.h>
#include <stdint.h>

/* Kubernetes' DeletionTimeout: how long an evicted pod may stay in disruptedPods */
#define DISRUPTION_DELETION_TIMEOUT_MS 120000

/* The object of kind ("ReplicaSet", "Deployment") ns/name (borrowed), or NULL if unknown. */
typedef const json_t *(*disruption_get_fn) (void *arg, const char *kind, const char *ns, const char *name);

typedef struct {
    json_t *status;     /* the new status (owned by the caller), or NULL when unchanged */
    int64_t recheck_ms; /* earliest expiry (ms since the epoch) of a kept disruptedPods entry, or -1 */
    int failed;         /* 1: the sync failed (SyncFailed): retry with back-off */
    char message[400];  /* why it failed ("found no controllers for pod \"web-1\""), or "" */
    int unmanaged;      /* selected pods without a controller reference left out of expectedPods */
    char unmanaged_first[254]; /* the first of them */
} disruption_result_t;

/* Computes pdb's status from pods (an array: the namespace's pods, or only those pdb selects, as
 * the actor gives (pdbindex_select_pods); others are ignored), get/arg (controller lookup) and
 * now_ms. Fills *out; always returns 0. */
int disruption_sync (const json_t *pdb, const json_t *pods, disruption_get_fn get, void *arg, int64_t now_ms,
                     disruption_result_t *out);

/* 1 if pdb's selector selects a pod with these labels (a map, or NULL for none); an absent or
 * invalid selector selects nothing, an empty one everything. */
int disruption_selects (const json_t *pdb, const json_t *labels);

#endif
