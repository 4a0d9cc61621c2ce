/* tpcount (topology-pair counts): tpcount_get_h, with the key's hash computed once, gives what
 * tpcount_get gives for every pair held and for pairs absent, whether the key is the map's own
 * string (as InterPodAffinity's Filter passes it) or another copy of it; ("ab", "c") and
 * ("a", "bc") stay apart. */
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
        const char *ko, *vo;
        tpcount_add_ref (m, keys[i % 5], v, i % 3, &ko, &vo);
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
            int f1 = -1, f2 = -1, f3 = -1;
            int64_t a = tpcount_get (m, keys[k], v, &f1);
            assert_int_equal (tpcount_get_h (m, copy, h, v, &f2), a);
            assert_int_equal (tpcount_get_h (m, own[k], h, v, &f3), a);
            assert_int_equal (f1, f2);
            assert_int_equal (f1, f3);
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (keyed_get_same_as_get),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
