/* value: msgpack round trips, decode errors, path helpers, merge patch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

static void
round_trip (void **state)
{
    (void) state;
    json_t *v = json_loads ("{\"a\":1,\"b\":[true,false,null,-5,2.5,\"x\"],\"c\":{\"d\":\"\\u00e9\"},\"big\":9007199254740993}",
                            0, NULL);
    assert_non_null (v);
    char *buf;
    size_t len;
    assert_int_equal (tv_encode (v, &buf, &len), 0);
    char err[128];
    json_t *back = tv_decode (buf, len, err, sizeof err);
    assert_non_null (back);
    assert_true (json_equal (v, back));
    /* key order is kept: maps are ordered like the input */
    const char *k;
    json_t *x;
    const char *order[] = {"a", "b", "c", "big"};
    int i = 0;
    json_object_foreach (back, k, x) assert_string_equal (k, order[i++]);
    free (buf);
    json_decref (v);
    json_decref (back);
}

static void
decode_errors (void **state)
{
    (void) state;
    char err[128];
    /* truncated: a map announcing one pair, then nothing */
    assert_null (tv_decode ("\x81", 1, err, sizeof err));
    assert_non_null (strstr (err, "truncated"));
    /* trailing bytes */
    assert_null (tv_decode ("\xc0\xc0", 2, err, sizeof err));
    assert_non_null (strstr (err, "trailing"));
    /* non-string key */
    assert_null (tv_decode ("\x81\x01\x02", 3, err, sizeof err));
    assert_non_null (strstr (err, "key"));
    /* reserved byte 0xc1 is malformed */
    assert_null (tv_decode ("\xc1", 1, err, sizeof err));
    /* deep nesting is refused, not a crash */
    char deep[200];
    memset (deep, 0x91, sizeof deep - 1);
    deep[sizeof deep - 1] = (char) 0xc0;
    assert_null (tv_decode (deep, sizeof deep, err, sizeof err));
    /* an array claiming 2^32-1 elements in 5 bytes */
    assert_null (tv_decode ("\xdd\xff\xff\xff\xff", 5, err, sizeof err));
}

static void
paths (void **state)
{
    (void) state;
    json_t *o = json_object ();
    assert_int_equal (tv_set_str (o, "metadata.name", "web"), 0);
    assert_int_equal (tv_set_int (o, "spec.replicas", 3), 0);
    assert_string_equal (tv_str (o, "metadata.name"), "web");
    assert_int_equal (tv_int (o, "spec.replicas", -1), 3);
    assert_int_equal (tv_int (o, "spec.missing", -1), -1);
    /* a real: integral and in range is an integer; out of range (UB to cast) or fractional is not */
    assert_int_equal (tv_set (o, "spec.r", json_real (4.0)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), 4);
    assert_int_equal (tv_set (o, "spec.r", json_real (6e53)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), -1);
    assert_int_equal (tv_set (o, "spec.r", json_real (-1e19)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), -1);
    assert_int_equal (tv_set (o, "spec.r", json_real (2.5)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), -1);
    assert_null (tv_str (o, "spec.replicas")); /* wrong type: NULL, not a crash */
    assert_null (tv_get (o, "spec.replicas.deeper"));
    assert_int_equal (tv_set_str (o, "spec.replicas.x", "y"), -1); /* step through a non-map */
    assert_true (tv_bool (o, "spec.paused", true));
    tv_del (o, "metadata.name");
    assert_null (tv_get (o, "metadata.name"));
    assert_non_null (tv_obj (o, "a.b.c"));
    assert_true (json_is_object (tv_get (o, "a.b")));
    json_decref (o);
}

static void
merge_patch (void **state)
{
    (void) state;
    json_t *t = json_loads ("{\"spec\":{\"replicas\":3,\"paused\":true},\"keep\":1}", 0, NULL);
    json_t *p = json_loads ("{\"spec\":{\"replicas\":5,\"paused\":null},\"new\":{\"a\":null,\"b\":2}}", 0, NULL);
    assert_int_equal (tv_merge_patch (t, p), 0);
    json_t *want = json_loads ("{\"spec\":{\"replicas\":5},\"keep\":1,\"new\":{\"b\":2}}", 0, NULL);
    assert_true (json_equal (t, want));
    json_t *arr = json_array ();
    assert_int_equal (tv_merge_patch (t, arr), -1);
    json_decref (arr);
    json_decref (t);
    json_decref (p);
    json_decref (want);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (round_trip),
        cmocka_unit_test (decode_errors),
        cmocka_unit_test (paths),
        cmocka_unit_test (merge_patch),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
