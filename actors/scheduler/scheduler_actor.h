/* scheduler_actor — kube-scheduler as an actor: informers for Pods and Nodes, a queue of pending
 * pods, sched_schedule for each, a binding (patch of subresource "binding" guarded by the pod's
 * resourceVersion) for the winners; unschedulable pods get PodScheduled=False with the reasons
 * and a FailedScheduling event, and are retried when nodes change or every 10 s. */
#ifndef TROUPE_SCHEDULER_ACTOR_H
#define TROUPE_SCHEDULER_ACTOR_H

#include "core/actor.h"

const troupe_actor_t *scheduler_actor (void);

#endif
