/* scheduler_actor — kube-scheduler as an actor, on the framework (framework.h): the Node and Pod
 * informers feed the snapshot (snapshot.h) and one queue per profile (sched_queue.h; profiles
 * from the actor's config `schedulerConfig: FILE`, else the default one); cluster events move
 * unschedulable pods back by the rejecting plugins' events (never on heartbeats). Each timer tick
 * schedules pods for up to 20 ms; a chosen node is assumed at once and the binding (patch of
 * subresource "binding" guarded by the pod's resourceVersion) sent without waiting; a failed
 * binding is unreserved, forgotten and requeued. Unschedulable pods get PodScheduled=False with
 * Kubernetes' FitError message and one FailedScheduling Event, only when the message changes.
 * Pod status is written as Kubernetes' scheduler writes it, by strategic merge patches of the
 * status subresource carrying only the condition set (conditions merge by type). */
#ifndef TROUPE_SCHEDULER_ACTOR_H
#define TROUPE_SCHEDULER_ACTOR_H

#include "core/actor.h"

const troupe_actor_t *scheduler_actor (void);

#endif
