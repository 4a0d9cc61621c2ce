/* tpcount (topology-pair counts): tpcount_get_h, with the key's hash computed once, and
 * tpcount_get_ref, with the map's own key, give what tpcount_get gives for every pair held and
 * for pairs absent, whether the key is the map's own string (as InterPodAffinity's Filter passes
 * it) or another copy of it; ("ab", "c") and ("a", "bc") stay apart. Keys are interned (one
 * string per key per map, stable through growth; tpcount_key_ref NULL for a key without a
 * pair); the keys held (tpcount_keys) and the per-key tally of positive pairs
 * (tpcount_key_positive, tpcount_positive_keys)
 * follows adds and removals to 0 and back, against a plain model under a seeded random walk;
 * values around TPCOUNT_INLINE_MAX (kept in the slot or apart) read back the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "actors/scheduler/plugins/tpcount.h"

static void
keyed_get_same_as_get (void **state)
{
    (void) state;
    tpcount_t *m = tpcount_new ();
    assert_non_null (m);
    static const char *keys[] = {"kubernetes.io/hostname", "topology.kubernetes.io/zone", "k", "", "a-key-longer-than-eight"};
    const char *own[5] = {0};
    for (int i = 0; i < 500; i++) {
        char v[32];
        snprintf (v, sizeof v, "value-%d", i * 7);
        const char *ko;
        tpcount_add_ref (m, keys[i % 5], v, i % 3, &ko);
        assert_non_null (ko);
        own[i % 5] = ko;
    }
    for (int k = 0; k < 5; k++) {
        char copy[64];
        snprintf (copy, sizeof copy, "%s", keys[k]);
        uint64_t h = tpcount_key_hash (keys[k]);
        assert_true (h == tpcount_key_hash (copy));
        for (int i = 0; i < 600; i++) {
            char v[32];
            snprintf (v, sizeof v, "value-%d", i * 7);
            int f1 = -1, f2 = -1, f3 = -1, f4 = -1;
            int64_t a = tpcount_get (m, keys[k], v, &f1);
            assert_int_equal (tpcount_get_h (m, copy, h, v, &f2), a);
            assert_int_equal (tpcount_get_h (m, own[k], h, v, &f3), a);
            assert_int_equal (tpcount_get_ref (m, own[k], v, &f4), a);
            assert_int_equal (f1, f2);
            assert_int_equal (f1, f3);
            assert_int_equal (f1, f4);
            assert_int_equal (f1, i < 500 && i % 5 == k);
            if (f1)
                assert_int_equal (a, i % 3);
        }
    }
    tpcount_add (m, "ab", "c", 4);
    assert_int_equal (tpcount_get_h (m, "ab", tpcount_key_hash ("ab"), "c", NULL), 4);
    int found = 1;
    assert_int_equal (tpcount_get_h (m, "a", tpcount_key_hash ("a"), "bc", &found), 0);
    assert_false (found);
    tpcount_destroy (&m);
}

typedef struct {
    const char *ref;
    int bad, n;
} ref_walk_t;

/* Counts the hostname pairs; bad when one hands out another string than the ref. */
static void
ref_each (void *arg, const char *k, const char *v, int64_t n)
{
    (void) v;
    (void) n;
    ref_walk_t *w = arg;
    if (!strcmp (k, "kubernetes.io/hostname")) {
        w->n++;
        w->bad |= k != w->ref;
    }
}

static void
sum_each (void *arg, const char *k, const char *val, int64_t n)
{
    (void) k;
    *(int64_t *) arg += n * (int64_t) strlen (val);
}

/* One key string per key per map, the same through growth; another map has its own. */
static void
keys_interned (void **state)
{
    (void) state;
    tpcount_t *m = tpcount_new (), *other = tpcount_new ();
    assert_non_null (m);
    assert_non_null (other);
    assert_null (tpcount_key_ref (m, "kubernetes.io/hostname"));
    const char *first = NULL, *ko = NULL;
    char key[64];
    for (int i = 0; i < 3000; i++) { /* many grows of the pair table */
        char v[32];
        snprintf (v, sizeof v, "node-%d", i);
        snprintf (key, sizeof key, "kubernetes.io/hostname"); /* another copy every time */
        tpcount_add_ref (m, key, v, 1, &ko);
        assert_non_null (ko);
        assert_ptr_not_equal (ko, key);
        assert_string_equal (ko, "kubernetes.io/hostname");
        if (!first)
            first = ko;
        assert_ptr_equal (ko, first);
        if (i % 100 == 0) { /* and keys of their own between (grows of the key table) */
            snprintf (key, sizeof key, "key-%d", i);
            tpcount_add (m, key, v, 1);
        }
    }
    assert_ptr_equal (tpcount_key_ref (m, "kubernetes.io/hostname"), first);
    assert_int_equal (tpcount_nkeys (m), 31);
    tpcount_add_ref (other, "kubernetes.io/hostname", "node-1", 1, &ko);
    assert_ptr_not_equal (ko, first);
    assert_ptr_equal (tpcount_key_ref (other, "kubernetes.io/hostname"), ko);
    /* every pair hands out the same key string */
    ref_walk_t w = {first, 0, 0};
    tpcount_each (m, ref_each, &w);
    assert_int_equal (w.n, 3000);
    assert_int_equal (w.bad, 0);
    /* a key with no pair: NULL, and a NULL ref finds nothing */
    assert_null (tpcount_key_ref (m, "topology.kubernetes.io/zone"));
    assert_null (tpcount_key_ref (m, "kubernetes.io/hostnam"));
    int found = 1;
    assert_int_equal (tpcount_get_ref (m, NULL, "node-1", &found), 0);
    assert_false (found);
    assert_int_equal (tpcount_key_positive (m, NULL), 0);
    /* a known key, an unknown value */
    found = 1;
    assert_int_equal (tpcount_get_ref (m, first, "node-3000", &found), 0);
    assert_false (found);
    assert_int_equal (tpcount_get_ref (m, first, "node-2999", &found), 1);
    assert_true (found);
    tpcount_destroy (&m);
    tpcount_destroy (&other);
}

/* The per-key tally of positive pairs against a plain model, under adds and removals (to 0, below
 * and back), and the list of keys with a positive pair. */
#define NK 6
#define NV 40
static void
keys_tally (void **state)
{
    (void) state;
    static const char *keys[NK] = {"kubernetes.io/hostname", "topology.kubernetes.io/zone", "a", "b", "c", "d"};
    int64_t model[NK][NV] = {{0}};
    int held[NK][NV] = {{0}};
    tpcount_t *m = tpcount_new ();
    assert_non_null (m);
    unsigned seed = 20261205u;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int) ((seed >> 8) % NK), v = (int) ((seed >> 16) % NV);
        /* mostly back and forth by one, now and then further down or up */
        int64_t d = (seed >> 4) % 5 == 0 ? -2 : (seed >> 4) % 5 == 1 ? 2 : (seed >> 4) % 2 ? 1 : -1;
        if (k >= 4 && step < 10000)
            continue; /* c and d come in late */
        char val[16];
        snprintf (val, sizeof val, "v%d", v);
        model[k][v] += d;
        held[k][v] = 1;
        assert_int_equal (tpcount_add (m, keys[k], val, d), model[k][v]);
        if (step % 97)
            continue;
        size_t want_pos = 0, want_keys = 0, want_size = 0, want_nkeys = 0;
        const char *list[NK];
        size_t got_keys = tpcount_positive_keys (m, list, NK);
        for (int i = 0; i < NK; i++) {
            size_t pos = 0, pairs = 0;
            for (int j = 0; j < NV; j++) {
                pos += model[i][j] > 0;
                pairs += held[i][j];
            }
            want_pos += pos;
            want_size += pairs;
            want_nkeys += pairs > 0;
            const char *r = tpcount_key_ref (m, keys[i]);
            if (!pairs) {
                assert_null (r);
                continue;
            }
            assert_non_null (r);
            assert_int_equal (tpcount_key_positive (m, r), pos);
            int listed = 0;
            for (size_t x = 0; x < got_keys && x < NK; x++)
                listed += list[x] == r;
            assert_int_equal (listed, pos > 0);
            want_keys += pos > 0;
        }
        assert_int_equal (got_keys, want_keys);
        assert_int_equal (tpcount_positive (m), want_pos);
        assert_int_equal (tpcount_size (m), want_size);
        assert_int_equal (tpcount_nkeys (m), want_nkeys);
        /* every key held, those at 0 too */
        const char *all[NK];
        assert_int_equal (tpcount_keys (m, all, NK), want_nkeys);
        for (int i = 0; i < NK; i++) {
            const char *r = tpcount_key_ref (m, keys[i]);
            int listed = 0;
            for (size_t x = 0; x < want_nkeys; x++)
                listed += all[x] == r;
            assert_int_equal (listed, r != NULL);
        }
        assert_int_equal (tpcount_keys (m, all, 1), want_nkeys);
        /* a list shorter than the keys: its count, max of them given */
        const char *one[1] = {NULL};
        assert_int_equal (tpcount_positive_keys (m, one, 1), want_keys);
        if (want_keys)
            assert_non_null (one[0]);
    }
    /* every pair of one key back to 0: the key stays, listed no more */
    const char *r = tpcount_key_ref (m, "a");
    for (int j = 0; j < NV; j++) {
        char val[16];
        snprintf (val, sizeof val, "v%d", j);
        if (held[2][j])
            tpcount_add (m, "a", val, -model[2][j]);
    }
    assert_ptr_equal (tpcount_key_ref (m, "a"), r);
    assert_int_equal (tpcount_key_positive (m, r), 0);
    const char *list[NK];
    size_t n = tpcount_positive_keys (m, list, NK);
    for (size_t x = 0; x < n; x++)
        assert_ptr_not_equal (list[x], r);
    /* and one of them up again */
    tpcount_add (m, "a", "v7", 3);
    assert_int_equal (tpcount_key_positive (m, r), 1);
    n = tpcount_positive_keys (m, list, NK);
    int listed = 0;
    for (size_t x = 0; x < n; x++)
        listed += list[x] == r;
    assert_int_equal (listed, 1);
    tpcount_destroy (&m);
    /* an empty map lists nothing */
    m = tpcount_new ();
    assert_int_equal (tpcount_positive_keys (m, list, NK), 0);
    assert_int_equal (tpcount_nkeys (m), 0);
    tpcount_destroy (&m);
}

/* v: a value of len bytes for round (the same length, a different value each round, differing at
 * the end: a prefix match is no match). 1 when there is none ("" and "x": one value each, round 0). */
static int
round_value (char *v, size_t len, int round)
{
    memset (v, 'x', len);
    v[len] = 0;
    if (len >= 2) {
        v[len - 2] = (char) ('A' + round / 26);
        v[len - 1] = (char) ('a' + round % 26);
        return 0;
    }
    return round != 0;
}

/* Values up to TPCOUNT_INLINE_MAX bytes in the slot, longer ones apart: every length reads back
 * (get, get_ref, each) through growth, and only the long ones are counted apart. */
static void
inline_and_long_values (void **state)
{
    (void) state;
    tpcount_t *m = tpcount_new ();
    assert_non_null (m);
    static const size_t lens[] = {0, 1, 7, 8, 23, 24, TPCOUNT_INLINE_MAX - 1, TPCOUNT_INLINE_MAX,
                                  TPCOUNT_INLINE_MAX + 1, TPCOUNT_INLINE_MAX + 2, 64, 200};
    const size_t nl = sizeof lens / sizeof lens[0];
    size_t nlong = 0;
    char v[256];
    for (int round = 0; round < 60; round++)
        for (size_t i = 0; i < nl; i++) {
            if (round_value (v, lens[i], round))
                continue;
            tpcount_add (m, "k", v, (int64_t) (round * 100 + i + 1));
            nlong += lens[i] > TPCOUNT_INLINE_MAX;
        }
    assert_int_equal (tpcount_long_values (m), nlong);
    assert_true (nlong > 0 && nlong < tpcount_size (m));
    const char *r = tpcount_key_ref (m, "k");
    for (int round = 0; round < 60; round++)
        for (size_t i = 0; i < nl; i++) {
            if (round_value (v, lens[i], round))
                continue;
            int found = 0;
            assert_int_equal (tpcount_get (m, "k", v, &found), round * 100 + i + 1);
            assert_true (found);
            assert_int_equal (tpcount_get_ref (m, r, v, NULL), round * 100 + i + 1);
            /* one byte shorter or longer: another pair (absent unless that one is held) */
            if (lens[i] == TPCOUNT_INLINE_MAX || lens[i] == TPCOUNT_INLINE_MAX + 1) {
                strcat (v, "?");
                assert_int_equal (tpcount_get_ref (m, r, v, &found), 0);
                assert_false (found);
            }
        }
    int64_t sum = 0, want = 0;
    tpcount_each (m, sum_each, &sum);
    for (int round = 0; round < 60; round++)
        for (size_t i = 0; i < nl; i++)
            if (lens[i] >= 2 || !round)
                want += (round * 100 + (int64_t) i + 1) * (int64_t) lens[i];
    assert_int_equal (sum, want); /* each gives every value at its length with its count */
    tpcount_destroy (&m);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (keyed_get_same_as_get),
        cmocka_unit_test (keys_interned),
        cmocka_unit_test (keys_tally),
        cmocka_unit_test (inline_and_long_values),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
