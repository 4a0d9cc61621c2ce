/* core/strcopy.h: the same bytes as snprintf for every cut of a string, and decimal as "%llu". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/strcopy.h"

static void
strlcpy_as_snprintf (void **state)
{
    (void) state;
    const char *srcs[] = {"", "a", "hollow-04999", "default/a-rather-long-pod-name-0123456789"};
    for (size_t s = 0; s < sizeof srcs / sizeof srcs[0]; s++)
        for (size_t n = 1; n <= strlen (srcs[s]) + 2; n++) {
            char want[64], got[64];
            memset (want, 'x', sizeof want);
            memset (got, 'x', sizeof got);
            int wl = snprintf (want, n, "%s", srcs[s]);
            size_t gl = tr_strlcpy (got, srcs[s], n);
            assert_int_equal (gl, (size_t) wl);
            assert_memory_equal (got, want, sizeof got); /* nothing written past the cut either */
        }
    char z[4] = "abc";
    assert_int_equal (tr_strlcpy (z, "xyz", 0), 3); /* n == 0: nothing written */
    assert_string_equal (z, "abc");
    assert_int_equal (tr_strlcpy (z, NULL, sizeof z), 0);
    assert_string_equal (z, "");
}

static void
u64_as_llu (void **state)
{
    (void) state;
    const uint64_t vs[] = {0, 1, 9, 10, 99, 100, 4096, 1234567890123ULL, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        char want[32], got[TR_U64_DEC_LEN];
        int wl = snprintf (want, sizeof want, "%llu", (unsigned long long) vs[i]);
        assert_int_equal (tr_u64_dec (got, vs[i]), (size_t) wl);
        assert_string_equal (got, want);
    }
    /* every power of ten and its neighbours */
    for (uint64_t p = 1; p && p <= UINT64_MAX / 10; p *= 10)
        for (int d = -1; d <= 1; d++) {
            char want[32], got[TR_U64_DEC_LEN];
            snprintf (want, sizeof want, "%llu", (unsigned long long) (p + (uint64_t) d));
            tr_u64_dec (got, p + (uint64_t) d);
            assert_string_equal (got, want);
        }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (strlcpy_as_snprintf), cmocka_unit_test (u64_as_llu)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
