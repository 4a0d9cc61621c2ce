/* nomfollow — what an update of a pending pod does to its nomination in the scheduler's memory.
 *
 * Kubernetes' PodNominator follows status.nominatedNodeName on every update of a pending pod
 * (UpdateNominatedPod), keeping the in-memory node only when the field is absent before and
 * after. The scheduler writes that field itself (a preemption's node, or "" to clear it) and
 * decides again before its write comes back, so the echo of an older write can carry a node the
 * pod has already left: followed, it would move the pod's reserved room back to the old node
 * until the newer echo came, and in between another pod of the same priority could be placed or
 * nominated on the node the first was going to. (First suspected of the Preemption benchmark's
 * 5-minute tail, which came from the bindings instead: docs/decisions.md.) So while a write of ours is in flight (wrote != NULL: the value last
 * written and not seen back yet), memory is newer and stays; the update that carries exactly that
 * value lands it. With nothing in flight, the field is followed as Kubernetes does. Pure.
 */
#ifndef TROUPE_SCHED_NOMFOLLOW_H
#define TROUPE_SCHED_NOMFOLLOW_H

typedef enum {
    NF_KEEP = 0, /* memory stays as it is */
    NF_SET,      /* nominate the pod to the update's node */
    NF_CLEAR,    /* the pod's nomination goes */
} nf_action_t;

/* held: the node memory holds (NULL: none); wrote: see above ("" a clear in flight); onn, nn: the
 * update's old and new status.nominatedNodeName (NULL or "": none). *landed (may be NULL) is set
 * to 1 when the update carries the write in flight (the caller forgets wrote), else 0. */
nf_action_t nomfollow (const char *held, const char *wrote, const char *onn, const char *nn, int *landed);

#endif
