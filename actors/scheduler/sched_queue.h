/* sched_queue — kube-scheduler's scheduling queue, pure (time is passed in, no I/O, no timers):
 *
 *   activeQ         a heap ordered by the profile's QueueSort (less); pop takes its head
 *   backoffQ        pods waiting out their back-off (initial 1 s, doubled per attempt, max 10 s),
 *                   ordered by expiry; flushed into activeQ by pop / sq_flush when it has expired
 *   unschedulable   pods no node fits, until a cluster event one of their rejecting plugins
 *                   listens to (events mask, TR_SCHED_EV_*) moves them to backoffQ or activeQ, or
 *                   they have waited max_unschedulable_ms (Kubernetes: 5 min) there
 *
 * The moveRequestCycle rule: an event that arrives while a pod is being scheduled (after its pop,
 * before its requeue) sends it to backoffQ, not unschedulable, so it is not stranded.
 *
 * Pods are keyed by uid; the queue keeps the pointers it is given (the caller keeps a pod alive
 * until sq_delete or until it pops and is not requeued).
 */
#ifndef TROUPE_SCHED_QUEUE_H
#define TROUPE_SCHED_QUEUE_H

#include "actors/scheduler/sched_plugin.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sched_queue sched_queue_t;

/* a before b? NULL = priority (higher first), then created_ms (older first): PrioritySort. */
typedef int (*sq_less_fn) (void *arg, const tr_sched_pod_t *a, const tr_sched_pod_t *b);

typedef struct {
    int64_t initial_backoff_ms;   /* 1000 */
    int64_t max_backoff_ms;       /* 10000 */
    int64_t max_unschedulable_ms; /* 300000 */
} sq_opts_t;

sched_queue_t *sq_new (sq_less_fn less, void *less_arg, const sq_opts_t *opts /* NULL: defaults */);
void sq_destroy (sched_queue_t **self_p);

/* A pending pod appeared: into activeQ. Already queued (same uid): its pointer is replaced; an
 * unschedulable or backing-off pod whose spec/labels changed (changed != 0) goes to activeQ
 * (or backoffQ while its back-off runs), as Kubernetes' Update. */
void sq_add (sched_queue_t *self, tr_sched_pod_t *pod, int changed, int64_t now_ms);
/* Gone (deleted, bound by someone else): removed from whichever queue holds it. Returns the
 * pointer the queue held (for the caller to free) or NULL. */
tr_sched_pod_t *sq_delete (sched_queue_t *self, const char *uid);

/* The next pod to schedule (expired back-offs flushed first), NULL when activeQ is empty.
 * Counts a scheduling cycle; the pod is in no queue until sq_requeue (or it is bound). */
tr_sched_pod_t *sq_pop (sched_queue_t *self, int64_t now_ms);
/* After a failed attempt of a popped pod. unschedulable: no node fit (events = the union of the
 * rejecting plugins' masks; 0 = any event); else an error: straight to backoffQ. attempts++. */
void sq_requeue (sched_queue_t *self, tr_sched_pod_t *pod, int unschedulable, uint32_t events, int64_t now_ms);
/* A popped pod was bound (or given up): forget its attempts. */
void sq_done (sched_queue_t *self, const char *uid);

/* A cluster event (one TR_SCHED_EV_* bit): unschedulable pods listening to it move to backoffQ
 * (back-off not over) or activeQ. Returns how many moved. */
size_t sq_move_on_event (sched_queue_t *self, uint32_t event, int64_t now_ms);
/* Moves expired back-offs to activeQ and pods unschedulable for longer than
 * max_unschedulable_ms to backoffQ/activeQ (call periodically; pop does the first part). */
void sq_flush (sched_queue_t *self, int64_t now_ms);
/* Milliseconds until the next back-off expires (0: something is ready now), -1 if none waits. */
int64_t sq_next_ms (sched_queue_t *self, int64_t now_ms);

typedef struct {
    size_t active, backoff, unschedulable, in_flight;
} sq_stats_t;
void sq_stats (sched_queue_t *self, sq_stats_t *out);

#endif
