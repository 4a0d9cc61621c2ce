/* host: an actor's requests to the broker go through a window (at most 128 in flight unless the
 * actor sets another, the rest wait in order in the host), and a request refused with TooManyRequests is sent again after the
 * broker's retryAfterSeconds (same id), as client-go does: the actor's callback sees the final
 * answer only. Against a fake broker (a ROUTER in the test) that counts what is in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/host.h"

#define N 300
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int ok_replies, other_replies;

static void
done (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    (void) arg;
    pthread_mutex_lock (&mu);
    if (reply->code == TR_OK)
        ok_replies++;
    else
        other_replies++;
    pthread_mutex_unlock (&mu);
}

static void
reset_replies (void)
{
    pthread_mutex_lock (&mu);
    ok_replies = other_replies = 0;
    pthread_mutex_unlock (&mu);
}

/* Up to 1 s for the callbacks of n answers sent (they run on the actor's thread). */
static void
wait_replies (int n)
{
    for (int i = 0; i < 50; i++) {
        pthread_mutex_lock (&mu);
        int got = ok_replies + other_replies;
        pthread_mutex_unlock (&mu);
        if (got >= n)
            return;
        zclock_sleep (20);
    }
}

/* CREATE ConfigMap default/name, answered to done */
static void
create_cm (troupe_ctx_t *ctx, const char *name, int background)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    snprintf (req.name, sizeof req.name, "%s", name);
    if (background)
        troupe_request_background (ctx, &req, done, NULL);
    else
        troupe_request (ctx, &req, done, NULL);
}

static void *
w_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf (name, sizeof name, "cm-%d", i);
        create_cm (ctx, name, 0);
    }
    static int self;
    return &self;
}

static void
w_destroy (void **p)
{
    *p = NULL;
}

static const troupe_actor_t burst = {TROUPE_ACTOR_ABI, "burst", w_create, NULL, NULL, w_destroy};

typedef struct {
    zframe_t *rid;
    uint64_t id;
} held_t;

static void
reply (zsock_t *router, zframe_t *rid, uint64_t id, tr_code_t code, json_t *body)
{
    tr_env_t r;
    tr_env_init (&r);
    r.verb = TR_VERB_REPLY;
    r.id = id;
    r.code = code;
    r.body = body;
    assert_int_equal (tr_conn_send (router, rid, &r), 0);
    json_decref (body);
}

/* Takes every create the host sends until it pauses (the router's receive timeout): their
 * routing ids and ids into held (at most cap), each shown first to seen (when not NULL) with arg.
 * Returns how many it took. */
typedef void (seen_fn) (const tr_env_t *req, void *arg);

static int
take_all (zsock_t *router, held_t *held, int cap, seen_fn *seen, void *arg)
{
    int n = 0;
    for (;;) {
        zframe_t *rid = NULL;
        tr_env_t req;
        char err[128];
        int rc = tr_conn_recv (router, &rid, &req, err, sizeof err);
        if (rc == TR_UNAVAILABLE) {
            tr_env_clear (&req);
            return n;
        }
        assert_int_equal (rc, TR_OK);
        if (req.verb == TR_VERB_CREATE && n < cap) {
            if (seen)
                seen (&req, arg);
            held[n].rid = rid;
            held[n].id = req.id;
            n++;
            rid = NULL;
        }
        zframe_destroy (&rid);
        tr_env_clear (&req);
    }
}

/* window_and_retry: whether the refused request came again, and when */
typedef struct {
    uint64_t refused;
    int64_t refused_at, resent_after;
    int seen_again;
} retry_t;

static void
seen_retry (const tr_env_t *req, void *arg)
{
    retry_t *t = arg;
    if (t->refused && req->id == t->refused) {
        t->seen_again = 1;
        t->resent_after = zclock_mono () - t->refused_at;
    }
}

static void
window_and_retry (void **state)
{
    (void) state;
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-window-%d", getpid ());
    zsock_t *router = zsock_new_router (ep);
    assert_non_null (router);
    zsock_set_rcvtimeo (router, 300);
    tr_host_opts_t o = {.endpoint = ep, .node_name = "n", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&o);
    assert_int_equal (tr_host_start (h, &burst, NULL), 0);
    held_t held[N];
    int max_inflight = 0, answered = 0;
    retry_t t = {.resent_after = -1};
    int64_t end = zclock_mono () + 15000;
    while (answered < N && zclock_mono () < end) {
        int nheld = take_all (router, held, N, seen_retry, &t); /* until the host pauses */
        if (nheld > max_inflight)
            max_inflight = nheld;
        /* answer what is held: the very first request is refused once, with a 1 s hint */
        for (int i = 0; i < nheld; i++) {
            if (!t.refused) {
                t.refused = held[i].id;
                t.refused_at = zclock_mono ();
                reply (router, held[i].rid, held[i].id, TR_TOO_MANY_REQUESTS,
                       json_pack ("{s:s,s:{s:i}}", "reason", "TooManyRequests", "details", "retryAfterSeconds", 1));
            } else {
                reply (router, held[i].rid, held[i].id, TR_OK, json_object ());
                answered++;
            }
            zframe_destroy (&held[i].rid);
        }
    }
    tr_host_destroy (&h);
    zsock_destroy (&router);
    assert_int_equal (answered, N);
    assert_int_equal (max_inflight, 128); /* the window, full at first */
    assert_true (t.seen_again);
    assert_true (t.resent_after >= 900); /* not before the hint (housekeeping runs every 0.5 s) */
    pthread_mutex_lock (&mu);
    assert_int_equal (ok_replies, N); /* the 429 never reached the actor */
    assert_int_equal (other_replies, 0);
    pthread_mutex_unlock (&mu);
}

/* ---- a slow broker: the request timeout counts from the send, not from the wait in the window ---- */

/* 300 requests, a 1 s request timeout, a broker that answers each 400 ms after it arrives: the
 * last ones wait about 1.4 s for room in the window, then 0.7 s for their answer, more than the
 * timeout from their creation, within it from their send: every one is answered OK (before,
 * the tail timed out while still in the actor's backlog: lost preemptions in the scheduling
 * benchmark). */
static void
slow_broker_tail_does_not_time_out (void **state)
{
    (void) state;
    reset_replies ();
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-slow-%d", getpid ());
    zsock_t *router = zsock_new_router (ep);
    assert_non_null (router);
    zsock_set_rcvtimeo (router, 20);
    tr_host_opts_t o = {.endpoint = ep, .node_name = "n", .data_dir = "/tmp", .request_timeout_ms = 1000};
    tr_host_t *h = tr_host_new (&o);
    int64_t t0 = zclock_mono ();
    assert_int_equal (tr_host_start (h, &burst, NULL), 0);
    static held_t held[N];
    static int64_t arrived[N];
    int nheld = 0, answered = 0, max_inflight = 0;
    int64_t last_answer_at = 0, end = zclock_mono () + 15000;
    while (answered < N && zclock_mono () < end) {
        zframe_t *rid = NULL;
        tr_env_t req;
        char err[128];
        int rc = tr_conn_recv (router, &rid, &req, err, sizeof err);
        if (rc == TR_OK && req.verb == TR_VERB_CREATE && nheld < N) {
            held[nheld].rid = rid;
            held[nheld].id = req.id;
            arrived[nheld++] = zclock_mono ();
            rid = NULL;
        }
        zframe_destroy (&rid);
        tr_env_clear (&req);
        if (nheld - answered > max_inflight)
            max_inflight = nheld - answered;
        while (answered < nheld && zclock_mono () - arrived[answered] >= 700) {
            reply (router, held[answered].rid, held[answered].id, TR_OK, json_object ());
            zframe_destroy (&held[answered].rid);
            answered++;
            last_answer_at = zclock_mono ();
        }
    }
    wait_replies (N);
    tr_host_destroy (&h);
    zsock_destroy (&router);
    assert_int_equal (answered, N);
    assert_int_equal (max_inflight, 128);
    assert_true (last_answer_at - t0 > 1000); /* the tail did wait longer than the timeout */
    pthread_mutex_lock (&mu);
    assert_int_equal (ok_replies, N);
    assert_int_equal (other_replies, 0);
    pthread_mutex_unlock (&mu);
}

/* ---- background requests (Events) go when nothing else waits ---------------------------- */

enum { NMIX = 200 };

static void *
m_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    for (int i = 0; i < NMIX; i++) { /* the window full, then every fourth a background one among the others */
        int bg = i >= 140 && i % 4 == 3;
        char name[32];
        snprintf (name, sizeof name, "%s-%d", bg ? "bg" : "fg", i);
        create_cm (ctx, name, bg);
    }
    static int self;
    return &self;
}

static const troupe_actor_t mixed = {TROUPE_ACTOR_ABI, "mixed", m_create, NULL, NULL, w_destroy};

/* background_waits_for_the_others: the requests seen so far of each kind */
typedef struct {
    int fg, bg, bg_early; /* bg_early: background ones seen before every other one was */
} mix_t;

static void
seen_mix (const tr_env_t *req, void *arg)
{
    mix_t *m = arg;
    if (!strncmp (req->name, "bg-", 3)) {
        m->bg++;
        if (m->fg < NMIX - 15)
            m->bg_early++;
    } else
        m->fg++;
}

/* 140 requests fill the window (128) and wait; then 45 more and 15 background ones among them:
 * the broker sees every one of the 185 before the first background one (a background request
 * goes when nothing else waits for room), and all 200 are answered. */
static void
background_waits_for_the_others (void **state)
{
    (void) state;
    reset_replies ();
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-bg-%d", getpid ());
    zsock_t *router = zsock_new_router (ep);
    assert_non_null (router);
    zsock_set_rcvtimeo (router, 200);
    tr_host_opts_t o = {.endpoint = ep, .node_name = "n", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&o);
    assert_int_equal (tr_host_start (h, &mixed, NULL), 0);
    static held_t held[NMIX];
    int nheld = 0, answered = 0;
    mix_t m = {0};
    int64_t end = zclock_mono () + 15000;
    while (answered < NMIX && zclock_mono () < end) {
        nheld += take_all (router, held + nheld, NMIX - nheld, seen_mix, &m);
        for (int i = answered; i < nheld; i++) {
            reply (router, held[i].rid, held[i].id, TR_OK, json_object ());
            zframe_destroy (&held[i].rid);
        }
        answered = nheld;
    }
    wait_replies (NMIX);
    tr_host_destroy (&h);
    zsock_destroy (&router);
    assert_int_equal (m.fg, NMIX - 15);
    assert_int_equal (m.bg, 15);
    assert_int_equal (m.bg_early, 0);
    pthread_mutex_lock (&mu);
    assert_int_equal (ok_replies, NMIX);
    pthread_mutex_unlock (&mu);
}

/* ---- an actor stopped with requests in flight: their callbacks run (Unavailable) and free ---- */

static int stopped_calls;

static void
freeing_done (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    if (reply->code == TR_UNAVAILABLE && reply->msg && strstr (reply->msg, "stopping"))
        stopped_calls++;
    pthread_mutex_unlock (&mu);
    free (arg); /* what a callback owns (a controller's sync state): leaked if never called */
}

static void *
s_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    for (int i = 0; i < 5; i++) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        strcpy (req.kind, "ConfigMap");
        snprintf (req.name, sizeof req.name, "x%d", i);
        troupe_request (ctx, &req, freeing_done, malloc (64));
    }
    static int self;
    return &self;
}

static const troupe_actor_t stopper = {TROUPE_ACTOR_ABI, "stopper", s_create, NULL, NULL, w_destroy};

static void
stop_with_requests_in_flight (void **state)
{
    (void) state;
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-stop-%d", getpid ());
    zsock_t *router = zsock_new_router (ep); /* a broker that never answers */
    assert_non_null (router);
    tr_host_opts_t o = {.endpoint = ep, .node_name = "n", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&o);
    assert_int_equal (tr_host_start (h, &stopper, NULL), 0);
    zclock_sleep (200);
    tr_host_destroy (&h);
    zsock_destroy (&router);
    pthread_mutex_lock (&mu);
    assert_int_equal (stopped_calls, 5);
    pthread_mutex_unlock (&mu);
}

/* ---- an actor sets its own window ---- */

static int set_rc[4];

/* Out-of-range windows are refused and leave it as it was; 400 is taken; then 450 requests. */
static void *
wide_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    set_rc[0] = troupe_set_window (ctx, 0);
    set_rc[1] = troupe_set_window (ctx, 481);
    set_rc[2] = troupe_set_window (ctx, -5);
    set_rc[3] = troupe_set_window (ctx, 400);
    for (int i = 0; i < 450; i++) {
        char name[32];
        snprintf (name, sizeof name, "w-%d", i);
        create_cm (ctx, name, 0);
    }
    static int self;
    return &self;
}

static const troupe_actor_t wide = {TROUPE_ACTOR_ABI, "wide", wide_create, NULL, NULL, w_destroy};

static void
window_set_by_the_actor (void **state)
{
    (void) state;
    reset_replies ();
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-wide-%d", getpid ());
    zsock_t *router = zsock_new_router (ep);
    assert_non_null (router);
    zsock_set_rcvtimeo (router, 300);
    tr_host_opts_t o = {.endpoint = ep, .node_name = "n", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&o);
    assert_int_equal (tr_host_start (h, &wide, NULL), 0);
    static held_t held[450];
    int first = take_all (router, held, 450, NULL, NULL);
    assert_int_equal (first, 400); /* its window, not the default 128 */
    for (int i = 0; i < 10; i++) { /* ten answers make room for ten more, no more */
        reply (router, held[i].rid, held[i].id, TR_OK, json_object ());
        zframe_destroy (&held[i].rid);
    }
    int second = take_all (router, held, 450, NULL, NULL);
    assert_int_equal (second, 10);
    for (int i = 10; i < first; i++)
        zframe_destroy (&held[i].rid);
    for (int i = 0; i < second; i++)
        zframe_destroy (&held[i].rid);
    tr_host_destroy (&h);
    zsock_destroy (&router);
    assert_int_equal (set_rc[0], -1);
    assert_int_equal (set_rc[1], -1);
    assert_int_equal (set_rc[2], -1);
    assert_int_equal (set_rc[3], 400);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (window_and_retry),
        cmocka_unit_test (slow_broker_tail_does_not_time_out),
        cmocka_unit_test (background_waits_for_the_others),
        cmocka_unit_test (stop_with_requests_in_flight),
        cmocka_unit_test (window_set_by_the_actor),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
