/* workqueue (client-go's rate-limited queue) and troupe_timer_within (batching by time): FIFO
 * order and de-duplication, delays that keep the sooner time, stale heap entries, per-key
 * exponential back-off reset by forget, the overall bucket after a burst, a large queue drained
 * in order, and a timer that still fires while events keep coming faster than its delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/host.h"
#include "core/workqueue.h"

static void
fifo_and_dedup (void **state)
{
    (void) state;
    workqueue_t *q = workqueue_new ();
    char k[64];
    workqueue_add (q, "a");
    workqueue_add (q, "b");
    workqueue_add (q, "a"); /* already waiting: not twice, and keeps its place */
    workqueue_add (q, "c");
    assert_int_equal (workqueue_len (q), 3);
    assert_int_equal (workqueue_next_in (q, 0), 0);
    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal (workqueue_pop (q, 0, k, sizeof k), 0);
        assert_string_equal (k, want[i]);
    }
    assert_int_equal (workqueue_pop (q, 0, k, sizeof k), -1);
    assert_int_equal (workqueue_next_in (q, 0), -1);
    /* popped keys may come back (being processed is over once popped: single-threaded owner) */
    workqueue_add (q, "a");
    assert_int_equal (workqueue_pop (q, 0, k, sizeof k), 0);
    assert_string_equal (k, "a");
    /* a key that does not fit is dropped, never truncated */
    workqueue_add (q, "a-very-long-key-indeed");
    workqueue_add (q, "d");
    char small[8];
    assert_int_equal (workqueue_pop (q, 0, small, sizeof small), 0);
    assert_string_equal (small, "d");
    workqueue_destroy (&q);
    assert_null (q);
}

static void
delays (void **state)
{
    (void) state;
    workqueue_t *q = workqueue_new ();
    char k[64];
    workqueue_add_after (q, "late", 300, 1000);
    workqueue_add_after (q, "soon", 100, 1000);
    workqueue_add_after (q, "late", 500, 1000); /* later than the one queued: ignored */
    assert_int_equal (workqueue_next_in (q, 1000), 100);
    workqueue_add_after (q, "late", 50, 1000); /* sooner: wins; the old heap entry goes stale */
    assert_int_equal (workqueue_next_in (q, 1000), 50);
    assert_int_equal (workqueue_len (q), 2);
    assert_int_equal (workqueue_pop (q, 1049, k, sizeof k), -1);
    assert_int_equal (workqueue_pop (q, 1050, k, sizeof k), 0);
    assert_string_equal (k, "late");
    assert_int_equal (workqueue_next_in (q, 1050), 50);
    assert_int_equal (workqueue_pop (q, 1100, k, sizeof k), 0);
    assert_string_equal (k, "soon");
    /* the stale entry of "late" (due 1300) surfaces and is skipped, not handed out again */
    assert_int_equal (workqueue_next_in (q, 1100), -1);
    assert_int_equal (workqueue_pop (q, 2000, k, sizeof k), -1);
    assert_int_equal (workqueue_len (q), 0);
    /* due keys join the FIFO behind the ready ones, in due order */
    workqueue_add_after (q, "x", 20, 0);
    workqueue_add_after (q, "y", 10, 0);
    workqueue_add (q, "now");
    workqueue_add_after (q, "z", 0, 0); /* no delay: ready at once */
    const char *want[] = {"now", "z", "y", "x"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal (workqueue_pop (q, 20, k, sizeof k), 0);
        assert_string_equal (k, want[i]);
    }
    workqueue_destroy (&q);
}

static void
backoff_and_forget (void **state)
{
    (void) state;
    workqueue_t *q = workqueue_new ();
    char k[64];
    int64_t expect = WORKQUEUE_BASE_DELAY_MS;
    for (int i = 0; i < 30; i++) {
        workqueue_add_rate_limited (q, "k", 0);
        assert_int_equal (workqueue_requeues (q, "k"), i + 1);
        assert_int_equal (workqueue_next_in (q, 0), expect);
        assert_int_equal (workqueue_pop (q, expect, k, sizeof k), 0);
        expect = expect * 2 > WORKQUEUE_MAX_DELAY_MS ? WORKQUEUE_MAX_DELAY_MS : expect * 2;
    }
    assert_int_equal (expect, WORKQUEUE_MAX_DELAY_MS); /* capped at 1000 s */
    workqueue_forget (q, "k"); /* a success resets it */
    assert_int_equal (workqueue_requeues (q, "k"), 0);
    workqueue_add_rate_limited (q, "k", 0);
    assert_int_equal (workqueue_next_in (q, 0), WORKQUEUE_BASE_DELAY_MS);
    /* back-off is per key: another key starts at the base delay */
    assert_int_equal (workqueue_pop (q, 100, k, sizeof k), 0);
    workqueue_add_rate_limited (q, "other", 100);
    assert_int_equal (workqueue_next_in (q, 100), WORKQUEUE_BASE_DELAY_MS);
    workqueue_destroy (&q);
}

static void
overall_bucket (void **state)
{
    (void) state;
    workqueue_t *q = workqueue_new ();
    char k[64];
    /* a burst of first failures of distinct keys: the first BURST go at the base delay, then one
     * every 1000/QPS ms (client-go's 10 qps, burst 100) */
    for (int i = 0; i < WORKQUEUE_BURST; i++) {
        snprintf (k, sizeof k, "k%d", i);
        workqueue_add_rate_limited (q, k, 0);
    }
    assert_int_equal (workqueue_next_in (q, 0), WORKQUEUE_BASE_DELAY_MS);
    for (int i = 0; i < WORKQUEUE_BURST; i++)
        assert_int_equal (workqueue_pop (q, WORKQUEUE_BASE_DELAY_MS, k, sizeof k), 0);
    workqueue_add_rate_limited (q, "extra1", 0);
    workqueue_add_rate_limited (q, "extra2", 0);
    assert_int_equal (workqueue_next_in (q, 0), 1000 / WORKQUEUE_QPS);
    assert_int_equal (workqueue_pop (q, 1000 / WORKQUEUE_QPS, k, sizeof k), 0);
    assert_string_equal (k, "extra1");
    assert_int_equal (workqueue_next_in (q, 1000 / WORKQUEUE_QPS), 1000 / WORKQUEUE_QPS);
    /* the bucket refills with time: a retry 100 s later is not held back */
    assert_int_equal (workqueue_pop (q, 100000, k, sizeof k), 0);
    workqueue_add_rate_limited (q, "fresh", 100000);
    assert_int_equal (workqueue_next_in (q, 100000), WORKQUEUE_BASE_DELAY_MS);
    workqueue_destroy (&q);
}

static void
large_queue_in_order (void **state)
{
    (void) state;
    workqueue_t *q = workqueue_new ();
    char k[64];
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        snprintf (k, sizeof k, "ns/p%d", i);
        workqueue_add (q, k);
        if (i % 3 == 0)
            workqueue_add_after (q, k, 1 + i % 1000, 0);
    }
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf (want, sizeof want, "ns/p%d", i);
        assert_int_equal (workqueue_pop (q, 0, k, sizeof k), 0);
        assert_string_equal (k, want);
    }
    int delayed = 0;
    int64_t last = 0;
    while (workqueue_next_in (q, last) >= 0) {
        int64_t at = last + workqueue_next_in (q, last);
        assert_true (at >= last);
        assert_int_equal (workqueue_pop (q, at, k, sizeof k), 0);
        last = at;
        delayed++;
    }
    assert_int_equal (delayed, (N + 2) / 3);
    workqueue_destroy (&q);
}

/* ---- troupe_timer_within: an actor whose events come every 2 ms batches work within 20 ms ---- */

#define T_EVENT 1
#define T_WORK 2
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int events, works, use_within;

static void *
b_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    troupe_timer (ctx, T_EVENT, 2, 1);
    static int self;
    return &self;
}

static int
b_timer (void *self, troupe_ctx_t *ctx, int id)
{
    (void) self;
    pthread_mutex_lock (&mu);
    if (id == T_EVENT) {
        events++;
        if (use_within)
            troupe_timer_within (ctx, T_WORK, 20);
        else
            troupe_timer (ctx, T_WORK, 20, 0); /* re-armed on every event: pushed back forever */
    } else if (id == T_WORK)
        works++;
    pthread_mutex_unlock (&mu);
    return 0;
}

static void
b_destroy (void **p)
{
    *p = NULL;
}

static const troupe_actor_t batcher = {TROUPE_ACTOR_ABI, "batcher", b_create, NULL, b_timer, b_destroy};

static void
run_batcher (int within, int *ev, int *wk)
{
    pthread_mutex_lock (&mu);
    events = works = 0;
    use_within = within;
    pthread_mutex_unlock (&mu);
    tr_host_opts_t o = {.endpoint = "inproc://test-workqueue-no-broker", .node_name = "n", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&o);
    assert_int_equal (tr_host_start (h, &batcher, NULL), 0);
    usleep (600 * 1000);
    tr_host_destroy (&h);
    pthread_mutex_lock (&mu);
    *ev = events;
    *wk = works;
    pthread_mutex_unlock (&mu);
}

static void
timer_within_batches_by_time (void **state)
{
    (void) state;
    int ev, wk;
    run_batcher (0, &ev, &wk);
    /* the control: events every 2 ms re-arming a 20 ms timer starve it (the old arm()) */
    assert_true (ev > 50);
    assert_true (wk <= 2); /* 0, unless the machine stalled the loop for over 20 ms */
    run_batcher (1, &ev, &wk);
    assert_true (ev > 50);
    /* 600 ms of events: one batch per 20 ms at most, and at least a handful even on a loaded machine */
    assert_true (wk >= 5);
    assert_true (wk <= 600 / 20 + 1);
    assert_true (wk < ev);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (fifo_and_dedup),
        cmocka_unit_test (delays),
        cmocka_unit_test (backoff_and_forget),
        cmocka_unit_test (overall_bucket),
        cmocka_unit_test (large_queue_in_order),
        cmocka_unit_test (timer_within_batches_by_time),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
