/* sched_queue (kube-scheduler's PriorityQueue): activeQ order by priority then age (and a custom
 * QueueSort), back-off doubling from 1 s to the 10 s cap and its expiry at the exact ms, events
 * moving only the unschedulable pods that listen to them (mask 0 = any), the moveRequestCycle
 * rule for events during an attempt, the 5-minute leftover flush, updates of queued, backing-off,
 * unschedulable and in-flight pods, delete from every queue, stats, sq_next_ms, and 100,000 pods
 * in and out in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/scheduler/sched_queue.h"

typedef struct {
    tr_sched_pod_t p;
    char uid[32];
} tpod_t;

static tpod_t *
mk (const char *uid, int32_t prio, int64_t created)
{
    tpod_t *t = calloc (1, sizeof *t);
    snprintf (t->uid, sizeof t->uid, "%s", uid);
    t->p.size = sizeof t->p;
    t->p.uid = t->uid;
    t->p.name = t->uid;
    t->p.ns = "default";
    t->p.priority = prio;
    t->p.created_ms = created;
    return t;
}

static const char *
uid_of (tr_sched_pod_t *p)
{
    return p ? p->uid : "(null)";
}

static void
stats_are (sched_queue_t *q, size_t a, size_t b, size_t u, size_t f)
{
    sq_stats_t s;
    sq_stats (q, &s);
    assert_int_equal (s.active, a);
    assert_int_equal (s.backoff, b);
    assert_int_equal (s.unschedulable, u);
    assert_int_equal (s.in_flight, f);
}

static void
order_priority_then_age (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *a = mk ("a", 0, 300), *b = mk ("b", 10, 500), *c = mk ("c", 0, 100), *d = mk ("d", 10, 200),
           *e = mk ("e", -5, 0), *f = mk ("f", 0, 100);
    tpod_t *all[] = {a, b, c, d, e, f};
    for (int i = 0; i < 6; i++)
        sq_add (q, &all[i]->p, 0, 0);
    stats_are (q, 6, 0, 0, 0);
    /* 10 (older first), then 0 (older first; c and f equal: arrival order), then -5 */
    const char *want[] = {"d", "b", "c", "f", "a", "e"};
    for (int i = 0; i < 6; i++) {
        tr_sched_pod_t *p = sq_pop (q, 0);
        assert_non_null (p);
        assert_string_equal (p->uid, want[i]);
        sq_done (q, p->uid);
    }
    assert_null (sq_pop (q, 0));
    stats_are (q, 0, 0, 0, 0);
    sq_destroy (&q);
    assert_null (q);
    for (int i = 0; i < 6; i++)
        free (all[i]);
}

/* a QueueSort of the profile's: by name, descending */
static int
by_name_desc (void *arg, const tr_sched_pod_t *a, const tr_sched_pod_t *b)
{
    assert_ptr_equal (arg, (void *) 0x1234);
    return strcmp (a->name, b->name) > 0;
}

static void
custom_less (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (by_name_desc, (void *) 0x1234, NULL);
    tpod_t *a = mk ("a", 100, 0), *b = mk ("b", 0, 0), *c = mk ("c", 5, 0);
    sq_add (q, &a->p, 0, 0);
    sq_add (q, &b->p, 0, 0);
    sq_add (q, &c->p, 0, 0);
    assert_string_equal (uid_of (sq_pop (q, 0)), "c");
    assert_string_equal (uid_of (sq_pop (q, 0)), "b");
    assert_string_equal (uid_of (sq_pop (q, 0)), "a");
    sq_destroy (&q);
    free (a);
    free (b);
    free (c);
}

/* Requeued with an error (not unschedulable): backoffQ; expiry = requeue time + 1 s, 2 s, 4 s,
 * 8 s, then 10 s (cap). The pod is not returned one ms before expiry, and is at expiry. */
static void
backoff_doubling_and_cap (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *a = mk ("a", 0, 0);
    sq_add (q, &a->p, 0, 0);
    int64_t now = 1000;
    int64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
    for (int i = 0; i < 7; i++) {
        tr_sched_pod_t *p = sq_pop (q, now);
        assert_ptr_equal (p, &a->p);
        stats_are (q, 0, 0, 0, 1);
        sq_requeue (q, p, 0, 0, now);
        stats_are (q, 0, 1, 0, 0);
        assert_int_equal (sq_next_ms (q, now), want[i]);
        assert_null (sq_pop (q, now + want[i] - 1));
        assert_int_equal (sq_next_ms (q, now + want[i] - 1), 1);
        now += want[i];
        assert_int_equal (sq_next_ms (q, now), 0);
        /* sq_flush moves it to activeQ at the exact ms */
        sq_flush (q, now);
        stats_are (q, 1, 0, 0, 0);
        assert_int_equal (sq_next_ms (q, now), 0);
    }
    /* done forgets the attempts: the next failure backs off 1 s again */
    assert_ptr_equal (sq_pop (q, now), &a->p);
    sq_done (q, "a");
    stats_are (q, 0, 0, 0, 0);
    assert_int_equal (sq_next_ms (q, now), -1);
    sq_add (q, &a->p, 0, now);
    assert_ptr_equal (sq_pop (q, now), &a->p);
    sq_requeue (q, &a->p, 0, 0, now);
    assert_int_equal (sq_next_ms (q, now), 1000);
    sq_destroy (&q);
    free (a);
}

static void
backoff_custom_opts (void **state)
{
    (void) state;
    sq_opts_t o = {.initial_backoff_ms = 50, .max_backoff_ms = 120, .max_unschedulable_ms = 1000};
    sched_queue_t *q = sq_new (NULL, NULL, &o);
    tpod_t *a = mk ("a", 0, 0);
    sq_add (q, &a->p, 0, 0);
    int64_t want[] = {50, 100, 120, 120};
    int64_t now = 0;
    for (int i = 0; i < 4; i++) {
        assert_non_null (sq_pop (q, now));
        sq_requeue (q, &a->p, 0, 0, now);
        assert_int_equal (sq_next_ms (q, now), want[i]);
        now += want[i];
    }
    sq_destroy (&q);
    free (a);
}

/* backoffQ is ordered by expiry, and expired pods join activeQ in priority order */
static void
backoff_order_and_pop_flush (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *lo = mk ("lo", 0, 0), *hi = mk ("hi", 9, 0), *late = mk ("late", 100, 0);
    sq_add (q, &lo->p, 0, 0);
    sq_add (q, &hi->p, 0, 0);
    sq_add (q, &late->p, 0, 0);
    assert_ptr_equal (sq_pop (q, 0), &late->p);
    sq_requeue (q, &late->p, 0, 0, 500); /* expires at 1500 */
    assert_ptr_equal (sq_pop (q, 0), &hi->p);
    sq_requeue (q, &hi->p, 0, 0, 0);      /* expires at 1000 */
    assert_ptr_equal (sq_pop (q, 0), &lo->p);
    sq_requeue (q, &lo->p, 0, 0, 0);      /* expires at 1000 */
    stats_are (q, 0, 3, 0, 0);
    assert_int_equal (sq_next_ms (q, 0), 1000);
    assert_null (sq_pop (q, 999));
    /* at 1000 hi and lo have expired (not late): pop flushes, hi first by priority */
    assert_ptr_equal (sq_pop (q, 1000), &hi->p);
    stats_are (q, 1, 1, 0, 1);
    assert_ptr_equal (sq_pop (q, 1000), &lo->p);
    assert_null (sq_pop (q, 1499));
    assert_ptr_equal (sq_pop (q, 1500), &late->p);
    sq_destroy (&q);
    free (lo);
    free (hi);
    free (late);
}

/* Only pods whose rejecting plugins listen to the event move; mask 0 listens to everything;
 * a pod whose back-off is over goes to activeQ, one still backing off to backoffQ. */
static void
events_move_listeners (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *cpu = mk ("cpu", 0, 1), *taint = mk ("taint", 0, 2), *any = mk ("any", 0, 3), *two = mk ("two", 0, 4);
    tpod_t *all[] = {cpu, taint, any, two};
    uint32_t masks[] = {TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_POD_DELETE | TR_SCHED_EV_NODE_ALLOCATABLE,
                        TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_TAINT, 0,
                        TR_SCHED_EV_POD_LABEL | TR_SCHED_EV_POD_ADD};
    for (int i = 0; i < 4; i++)
        sq_add (q, &all[i]->p, 0, 0);
    for (int i = 0; i < 4; i++) {
        tr_sched_pod_t *p = sq_pop (q, 0);
        assert_ptr_equal (p, &all[i]->p);
        sq_requeue (q, p, 1, masks[i], 0);
    }
    stats_are (q, 0, 0, 4, 0);
    assert_null (sq_pop (q, 100000));
    /* a condition change: only "any" listens; still backing off at 500 → backoffQ */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_CONDITION, 500), 1);
    stats_are (q, 0, 1, 3, 0);
    assert_null (sq_pop (q, 999));
    assert_ptr_equal (sq_pop (q, 1000), &any->p);
    sq_done (q, "any");
    /* nobody listens to schedulable changes now */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_SCHEDULABLE, 2000), 0);
    stats_are (q, 0, 0, 3, 0);
    /* a taint change moves "taint" only; its back-off is over at 2000 → activeQ */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_TAINT, 2000), 1);
    stats_are (q, 1, 0, 2, 0);
    assert_ptr_equal (sq_pop (q, 2000), &taint->p);
    sq_done (q, "taint");
    /* a pod deleted: "cpu" */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_POD_DELETE, 2000), 1);
    assert_ptr_equal (sq_pop (q, 2000), &cpu->p);
    sq_done (q, "cpu");
    /* a pod added: "two" */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_POD_ADD, 2000), 1);
    assert_ptr_equal (sq_pop (q, 2000), &two->p);
    sq_done (q, "two");
    stats_are (q, 0, 0, 0, 0);
    /* a node added moves both that listen to it, and not "two" (requeued again) */
    for (int i = 0; i < 4; i++)
        sq_add (q, &all[i]->p, 0, 3000);
    for (int i = 0; i < 4; i++) {
        tr_sched_pod_t *p = sq_pop (q, 3000);
        sq_requeue (q, p, 1, masks[i], 3000);
    }
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_ADD, 9000), 3); /* cpu, taint, any */
    stats_are (q, 3, 0, 1, 0);
    sq_destroy (&q);
    for (int i = 0; i < 4; i++)
        free (all[i]);
}

/* moveRequestCycle: an event during the attempt that the pod's rejecting plugins listen to sends
 * the pod to backoffQ instead of unschedulable; an unrelated one does not; an event before the
 * pop does not count. */
static void
move_request_cycle (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *a = mk ("a", 0, 0), *b = mk ("b", 0, 1), *c = mk ("c", 0, 2);
    sq_add (q, &a->p, 0, 0);
    sq_add (q, &b->p, 0, 0);
    sq_add (q, &c->p, 0, 0);
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_ADD, 0), 0); /* before any pop */
    tr_sched_pod_t *pa = sq_pop (q, 0), *pb = sq_pop (q, 0);
    stats_are (q, 1, 0, 0, 2);
    /* a node is added while a and b are being scheduled */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_ADD, 10), 0);
    sq_requeue (q, pa, 1, TR_SCHED_EV_NODE_ADD, 20);           /* listens: backoffQ */
    sq_requeue (q, pb, 1, TR_SCHED_EV_POD_DELETE, 20);         /* does not: unschedulable */
    stats_are (q, 1, 1, 1, 0);
    /* c was popped after the event: unschedulable despite listening to it */
    tr_sched_pod_t *pc = sq_pop (q, 20);
    assert_ptr_equal (pc, &c->p);
    sq_requeue (q, pc, 1, TR_SCHED_EV_NODE_ADD, 30);
    stats_are (q, 0, 1, 2, 0);
    /* a's back-off (1 s from its requeue at 20) brings it back without another event */
    assert_ptr_equal (sq_pop (q, 1020), &a->p);
    /* mask 0 (any) during flight: rescued by any event */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_LABEL, 1030), 0);
    sq_requeue (q, &a->p, 1, 0, 1040);
    stats_are (q, 0, 1, 2, 0);
    sq_destroy (&q);
    free (a);
    free (b);
    free (c);
}

/* Pods unschedulable for more than 5 minutes are flushed (to activeQ once their back-off is
 * over), oldest first, exactly after 300000 ms and not at it. */
static void
leftover_flush_5min (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *a = mk ("a", 0, 0), *b = mk ("b", 0, 1);
    sq_add (q, &a->p, 0, 0);
    sq_add (q, &b->p, 0, 0);
    sq_requeue (q, sq_pop (q, 0), 1, TR_SCHED_EV_NODE_ADD, 1000);  /* a at 1000 */
    sq_requeue (q, sq_pop (q, 0), 1, TR_SCHED_EV_NODE_ADD, 61000); /* b at 61000 */
    stats_are (q, 0, 0, 2, 0);
    /* sleeping sq_next_ms wakes the caller right when the oldest is due */
    assert_int_equal (sq_next_ms (q, 1000), 300001);
    sq_flush (q, 301000);
    stats_are (q, 0, 0, 2, 0);
    sq_flush (q, 301001);
    stats_are (q, 1, 0, 1, 0);
    assert_ptr_equal (sq_pop (q, 301001), &a->p);
    sq_done (q, "a");
    assert_int_equal (sq_next_ms (q, 301001), 61000 + 300001 - 301001);
    sq_flush (q, 361001);
    stats_are (q, 1, 0, 0, 0);
    sq_destroy (&q);
    free (a);
    free (b);
}

/* A flushed pod still inside its back-off goes to backoffQ (small opts so it is). */
static void
leftover_flush_into_backoff (void **state)
{
    (void) state;
    sq_opts_t o = {.initial_backoff_ms = 1000, .max_backoff_ms = 10000, .max_unschedulable_ms = 100};
    sched_queue_t *q = sq_new (NULL, NULL, &o);
    tpod_t *a = mk ("a", 0, 0);
    sq_add (q, &a->p, 0, 0);
    sq_requeue (q, sq_pop (q, 0), 1, TR_SCHED_EV_NODE_ADD, 0);
    sq_flush (q, 101);
    stats_are (q, 0, 1, 0, 0);
    assert_int_equal (sq_next_ms (q, 101), 899);
    assert_ptr_equal (sq_pop (q, 1000), &a->p);
    sq_destroy (&q);
    free (a);
}

/* sq_add of a queued uid: the pointer is replaced everywhere; a changed unschedulable pod goes
 * to activeQ (back-off over) or backoffQ (not over); unchanged it stays; a priority change
 * reorders activeQ; a changed pod in flight is rescued from unschedulable and the newest
 * pointer is what gets queued. */
static void
update_semantics (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *a = mk ("a", 0, 0), *a2 = mk ("a", 0, 0), *b = mk ("b", 5, 0), *b2 = mk ("b", 5, 0);
    sq_add (q, &a->p, 0, 0);
    sq_add (q, &b->p, 0, 0);
    sq_add (q, &a->p, 0, 0); /* same uid again: still 2 */
    stats_are (q, 2, 0, 0, 0);
    /* activeQ: priority raised reorders */
    a2->p.priority = 10;
    sq_add (q, &a2->p, 1, 0);
    stats_are (q, 2, 0, 0, 0);
    assert_ptr_equal (sq_pop (q, 0), &a2->p);
    assert_ptr_equal (sq_pop (q, 0), &b->p);
    /* both unschedulable at 0 (back-off until 1000) */
    sq_requeue (q, &a2->p, 1, TR_SCHED_EV_NODE_ADD, 0);
    sq_requeue (q, &b->p, 1, TR_SCHED_EV_NODE_ADD, 0);
    stats_are (q, 0, 0, 2, 0);
    /* unchanged (status only): stays unschedulable, pointer replaced */
    sq_add (q, &a->p, 0, 10);
    stats_are (q, 0, 0, 2, 0);
    /* changed while backing off: backoffQ */
    sq_add (q, &b2->p, 1, 500);
    stats_are (q, 0, 1, 1, 0);
    /* changed after the back-off: activeQ, and the pointer is the new one */
    sq_add (q, &a->p, 1, 1500);
    stats_are (q, 1, 1, 0, 0);
    assert_ptr_equal (sq_pop (q, 1500), &b2->p); /* b2 expired at 1000, priority 5 > 0 */
    assert_ptr_equal (sq_pop (q, 1500), &a->p);
    /* a in flight is updated (a2 pointer), fails unschedulable: rescued into backoffQ as a2 */
    sq_add (q, &a2->p, 1, 1600);
    stats_are (q, 0, 0, 0, 2);
    sq_requeue (q, &a->p, 1, TR_SCHED_EV_NODE_ADD, 1700);
    stats_are (q, 0, 1, 0, 1);
    sq_done (q, "b");
    /* a's second failure: back-off 2 s */
    assert_int_equal (sq_next_ms (q, 1700), 2000);
    /* what comes out of backoffQ is the newest pointer, a2 */
    assert_null (sq_pop (q, 3699));
    assert_ptr_equal (sq_pop (q, 3700), &a2->p);
    sq_requeue (q, &a2->p, 0, 0, 3700); /* third failure: 4 s, until 7700 */
    /* in backoffQ, changed but still backing off: stays; once over, it goes to activeQ */
    sq_add (q, &a->p, 1, 3800);
    stats_are (q, 0, 1, 0, 0);
    sq_add (q, &a->p, 1, 7700);
    stats_are (q, 1, 0, 0, 0);
    assert_ptr_equal (sq_delete (q, "a"), &a->p);
    stats_are (q, 0, 0, 0, 0);
    sq_destroy (&q);
    free (a);
    free (a2);
    free (b);
    free (b2);
}

/* delete from each queue returns the held pointer; from flight NULL and the requeue is dropped;
 * unknown NULL. */
static void
delete_from_each (void **state)
{
    (void) state;
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *act = mk ("act", 0, 0), *bo = mk ("bo", 3, 0), *us = mk ("us", 2, 0), *fl = mk ("fl", 1, 0);
    sq_add (q, &act->p, 0, 0);
    sq_add (q, &bo->p, 0, 0);
    sq_add (q, &us->p, 0, 0);
    sq_add (q, &fl->p, 0, 0);
    sq_requeue (q, sq_pop (q, 0), 0, 0, 0);                       /* bo: error → backoffQ */
    sq_requeue (q, sq_pop (q, 0), 1, TR_SCHED_EV_NODE_ADD, 0);   /* us: unschedulable */
    assert_ptr_equal (sq_pop (q, 0), &fl->p);                     /* fl: in flight */
    stats_are (q, 1, 1, 1, 1);
    assert_ptr_equal (sq_delete (q, "act"), &act->p);
    stats_are (q, 0, 1, 1, 1);
    assert_ptr_equal (sq_delete (q, "bo"), &bo->p);
    stats_are (q, 0, 0, 1, 1);
    assert_ptr_equal (sq_delete (q, "us"), &us->p);
    stats_are (q, 0, 0, 0, 1);
    assert_null (sq_delete (q, "fl"));
    stats_are (q, 0, 0, 0, 0);
    sq_requeue (q, &fl->p, 1, 0, 0); /* deleted in flight: not queued */
    stats_are (q, 0, 0, 0, 0);
    assert_null (sq_delete (q, "nope"));
    assert_null (sq_delete (q, "act"));
    /* an event after the deletes moves nothing */
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_ADD, 0), 0);
    assert_int_equal (sq_next_ms (q, 0), -1);
    /* the uid can come back */
    sq_add (q, &us->p, 0, 0);
    assert_ptr_equal (sq_pop (q, 0), &us->p);
    sq_destroy (&q);
    free (act);
    free (bo);
    free (us);
    free (fl);
}

/* 100,000 pods with random priorities and ages come out in order; then delete half from the
 * middle (every other uid) while they sit in activeQ, and the rest still come out in order. */
static void
large_in_order (void **state)
{
    (void) state;
    enum { N = 100000 };
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    tpod_t *pods = calloc (N, sizeof *pods);
    srand (42);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf (pods[i].uid, sizeof pods[i].uid, "uid-%d", i);
            pods[i].p.uid = pods[i].uid;
            pods[i].p.priority = rand () % 7;
            pods[i].p.created_ms = rand () % 100000;
            sq_add (q, &pods[i].p, 0, 0);
        }
        stats_are (q, N, 0, 0, 0);
        if (round == 1)
            for (int i = 0; i < N; i += 2)
                assert_ptr_equal (sq_delete (q, pods[i].uid), &pods[i].p);
        size_t want = round == 0 ? N : N / 2;
        tr_sched_pod_t *prev = NULL;
        size_t n = 0;
        for (tr_sched_pod_t *p; (p = sq_pop (q, 0)); n++) {
            if (prev) {
                assert_true (prev->priority >= p->priority);
                if (prev->priority == p->priority)
                    assert_true (prev->created_ms <= p->created_ms);
            }
            if (round == 1)
                assert_int_equal (atoi (p->uid + 4) % 2, 1);
            prev = p;
            sq_done (q, p->uid);
        }
        assert_int_equal (n, want);
        stats_are (q, 0, 0, 0, 0);
    }
    /* at size through unschedulable and back: all requeued, one event moves all */
    for (int i = 0; i < N; i++)
        sq_add (q, &pods[i].p, 0, 0);
    for (tr_sched_pod_t *p; (p = sq_pop (q, 0));)
        sq_requeue (q, p, 1, TR_SCHED_EV_NODE_ADD, 0);
    stats_are (q, 0, 0, N, 0);
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_POD_ADD, 0), 0);
    assert_int_equal (sq_move_on_event (q, TR_SCHED_EV_NODE_ADD, 5000), N);
    stats_are (q, N, 0, 0, 0);
    sq_destroy (&q);
    free (pods);
}

static void
null_safety (void **state)
{
    (void) state;
    sq_stats_t s;
    sq_stats (NULL, &s);
    assert_int_equal (s.active, 0);
    assert_null (sq_pop (NULL, 0));
    assert_null (sq_delete (NULL, "x"));
    assert_int_equal (sq_next_ms (NULL, 0), -1);
    sq_destroy (NULL);
    sched_queue_t *q = NULL;
    sq_destroy (&q);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (order_priority_then_age),
        cmocka_unit_test (custom_less),
        cmocka_unit_test (backoff_doubling_and_cap),
        cmocka_unit_test (backoff_custom_opts),
        cmocka_unit_test (backoff_order_and_pop_flush),
        cmocka_unit_test (events_move_listeners),
        cmocka_unit_test (move_request_cycle),
        cmocka_unit_test (leftover_flush_5min),
        cmocka_unit_test (leftover_flush_into_backoff),
        cmocka_unit_test (update_semantics),
        cmocka_unit_test (delete_from_each),
        cmocka_unit_test (large_in_order),
        cmocka_unit_test (null_safety),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
