/* deployment — the Deployment controller's decision, pure.
 *
 * Given a Deployment, the ReplicaSets and the pods of its namespace:
 * - the pod template's hash names the new ReplicaSet "<deployment>-<hash>" (label
 *   pod-template-hash on its selector and template); a template seen before (rollout undo)
 *   re-uses its ReplicaSet and gets a new revision (annotation deployment.kubernetes.io/revision);
 * - RollingUpdate scales the new ReplicaSet up within replicas + maxSurge and old ones down while
 *   at least replicas - maxUnavailable pods stay available (Kubernetes' reconcileNewReplicaSet /
 *   reconcileOldReplicaSets, surge rounded up, unavailable down, never both 0);
 * - Recreate scales old ReplicaSets to 0 and waits for their pods to be gone first;
 * - old ReplicaSets at 0 beyond revisionHistoryLimit are deleted;
 * - status (observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
 *   unavailableReplicas, conditions Available and Progressing) is written when it changed.
 * One step per call: the controller calls again when the world moves (level-triggered).
 */
#ifndef TROUPE_DEPLOYMENT_H
#define TROUPE_DEPLOYMENT_H

#include "actors/controllers/ctrl.h"

/* The template's hash as Kubernetes prints it (10 characters of "bcdfghjklmnpqrstvwxz2456789"). */
void deploy_template_hash (const json_t *template, char out[16]);
/* int-or-percent of total: "25%" of 4 with round_up → 1; 2 → 2. */
int deploy_scaled_value (const json_t *v, int total, int round_up);

/* Appends the actions for d to out, given its namespace's ReplicaSets and the facts of the pods of
 * those (each counted under the ReplicaSet its controller uid names). */
void deploy_reconcile_facts (const json_t *d, const json_t *rss, const ctrl_podfacts_t *const *pods, size_t npods,
                             int64_t now_ms, ctrl_actions_t *out);
/* The same from the pod objects (an array) */
void deploy_reconcile (const json_t *d, const json_t *rss, const json_t *pods, int64_t now_ms, ctrl_actions_t *out);

#endif
