/* controllers_actor — kube-controller-manager as one actor: ReplicaSet, Deployment and garbage
 * collection loops over shared informers (Deployment, ReplicaSet, Pod). Events enqueue keys in
 * de-duplicating work queues (a pod wakes its ReplicaSet, a ReplicaSet its Deployment); a timer
 * drains them, calls the pure reconcilers, and sends their actions. Failures are retried with
 * per-key back-off; everything is re-reconciled every 30 s (level-triggered). */
#ifndef TROUPE_CONTROLLERS_ACTOR_H
#define TROUPE_CONTROLLERS_ACTOR_H

#include "core/actor.h"

const troupe_actor_t *controllers_actor (void);

#endif
