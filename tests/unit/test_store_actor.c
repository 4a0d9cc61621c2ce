/* store_actor: group commit and its pacing under load. The decision is a pure function
 * (store_actor_pace_left, table-driven); the actor is then driven over its ROUTER with real
 * proposals and its "STATS" pipe command counts the transactions: a lone writer is never held,
 * and after a large transaction two proposals sent 50 ms apart share the next one (paced), where
 * an unpaced store gives them one each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "core/store_proto.h"
#include "tests/unit/dir_fixture.h"

static void
pace_decisions (void **state)
{
    (void) state;
    const int64_t P = 2000; /* µs */
    struct {
        size_t pending, last_n;
        int64_t last, now, want;
    } t[] = {
        {0, 100, 1000, 1500, 0},                        /* nothing waits */
        {1, 0, 0, 10, 0},                               /* first transaction */
        {1, 1, 1000, 1100, 0},                          /* a lone writer: never held */
        {5, STORE_ACTOR_PACE_MIN - 1, 1000, 1100, 0},   /* the last was small: at once */
        {1, STORE_ACTOR_PACE_MIN, 1000, 1100, 1900},    /* under load: the rest of the interval */
        {9, 300, 1000, 2999, 1},                        /* one µs left */
        {9, 300, 1000, 3000, 0},                        /* the interval has run */
        {9, 300, 1000, 90000, 0},                       /* long idle */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t got = store_actor_pace_left (t[i].pending, t[i].last_n, t[i].last, t[i].now, P);
        if (got != t[i].want)
            fail_msg ("row %zu: pending=%zu last_n=%zu: %lld µs left, want %lld", i, t[i].pending, t[i].last_n,
                      (long long) got, (long long) t[i].want);
    }
    assert_int_equal (store_actor_pace_left (3, 300, 1000, 1100, 0), 0); /* pace 0: never held */
}

typedef struct {
    zactor_t *store;
    zsock_t *d;
    uint64_t id;
} fx_t;

static void
start (fx_t *f, const char *pace_us)
{
    static int seq;
    char ep[96];
    snprintf (ep, sizeof ep, "inproc://tsa-%d-%d", (int) getpid (), seq++);
    setenv ("TROUPE_STORE_PACE_US", pace_us, 1);
    f->store = store_actor_new (fixture_dir, ep);
    unsetenv ("TROUPE_STORE_PACE_US");
    assert_non_null (f->store);
    f->d = zsock_new_dealer (ep);
    assert_non_null (f->d);
    zsock_set_rcvtimeo (f->d, 10000);
    f->id = 0;
}

static void
stop (fx_t *f)
{
    zsock_destroy (&f->d);
    zactor_destroy (&f->store);
}

typedef struct {
    uint64_t txns, writes, max, last_n;
} stats_t;

static stats_t
stats (fx_t *f)
{
    stats_t s = {0};
    zstr_send (f->store, "STATS");
    assert_int_equal (zsock_recv (f->store, "8888", &s.txns, &s.writes, &s.max, &s.last_n), 0);
    return s;
}

/* Sends one proposal (one put of key) with the next id; returns the id. */
static uint64_t
propose (fx_t *f, const char *key)
{
    sp_op_t op = {1, 0, 0, key, "v", 1};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose (&sb, ++f->id, &op, 1);
    assert_int_equal (zsock_send (f->d, "b", sb.data, sb.size), 0);
    msgpack_sbuffer_destroy (&sb);
    return f->id;
}

/* Waits for n proposal replies (events are not subscribed, so replies are all that comes). */
static void
replies (fx_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zframe_t *fr = zframe_recv (f->d);
        assert_non_null (fr); /* 10 s: a reply that never came */
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        assert_int_equal (msgpack_unpack_next (&up, (const char *) zframe_data (fr), zframe_size (fr), NULL),
                          MSGPACK_UNPACK_SUCCESS);
        char t[4] = "";
        sp_str (sp_field (&up.data, "t"), t, sizeof t);
        assert_string_equal (t, "r");
        msgpack_unpacked_destroy (&up);
        zframe_destroy (&fr);
    }
}

static void
lone_writer_not_held (void **state)
{
    (void) state;
    fx_t f;
    start (&f, "5000000"); /* 5 s: a held write would time the reply out (2 s) */
    zsock_set_rcvtimeo (f.d, 2000);
    char key[64];
    for (int i = 0; i < 10; i++) {
        snprintf (key, sizeof key, "/lone/%d", i);
        propose (&f, key);
        replies (&f, 1);
    }
    stats_t s = stats (&f);
    assert_int_equal (s.txns, 10);
    assert_int_equal (s.writes, 10);
    stop (&f);
}

/* Bursts of 32 proposals until the last transaction held at least STORE_ACTOR_PACE_MIN (how the
 * store drains a burst depends on when its thread wakes: bounded tries), then two proposals 50 ms
 * apart; returns the transactions those two took. */
static uint64_t
two_after_a_burst (const char *pace_us)
{
    fx_t f;
    start (&f, pace_us);
    char key[64];
    stats_t s = {0};
    int tries;
    for (tries = 0; tries < 50; tries++) {
        for (int i = 0; i < 32; i++) {
            snprintf (key, sizeof key, "/burst/%d/%d", tries, i);
            propose (&f, key);
        }
        replies (&f, 32);
        s = stats (&f);
        if (s.last_n >= STORE_ACTOR_PACE_MIN)
            break;
    }
    assert_true (tries < 50);
    propose (&f, "/pair/a");
    zclock_sleep (50);
    propose (&f, "/pair/b");
    replies (&f, 2);
    stats_t after = stats (&f);
    assert_int_equal (after.writes, s.writes + 2);
    stop (&f);
    return after.txns - s.txns;
}

static void
paced_under_load (void **state)
{
    (void) state;
    /* 2 s interval: the pair arrives well inside it and shares one transaction */
    assert_int_equal (two_after_a_burst ("2000000"), 1);
}

static void
unpaced_commits_each (void **state)
{
    (void) state;
    assert_int_equal (two_after_a_burst ("0"), 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (pace_decisions),
        cmocka_unit_test_setup_teardown (lone_writer_not_held, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (paced_under_load, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (unpaced_commits_each, dir_fixture_setup, dir_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
