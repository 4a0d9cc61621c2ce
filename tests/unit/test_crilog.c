/* crilog: conmon's CRI log lines to the text `troupe logs` prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/agent/crilog.h"

static void
expect (const char *in, int ts, const char *want, size_t want_used)
{
    size_t used = 99, len = 0;
    char *out = crilog_text (in, strlen (in), ts, &used, &len);
    assert_string_equal (out, want);
    assert_int_equal (len, strlen (want));
    assert_int_equal (used, want_used);
    free (out);
}

static void
lines (void **state)
{
    (void) state;
    const char *in = "2026-12-03T10:21:04.414597173+00:00 stdout F hello\n"
                     "2026-12-03T10:21:04.414679225+00:00 stderr F err\n";
    expect (in, 0, "hello\nerr\n", strlen (in));
    expect (in, 1, "2026-12-03T10:21:04.414597173+00:00 hello\n2026-12-03T10:21:04.414679225+00:00 err\n", strlen (in));
    /* partial chunks joined; the timestamp is the first chunk's */
    const char *p = "T1 stdout P abc\nT2 stdout P def\nT3 stdout F gh\n";
    expect (p, 0, "abcdefgh\n", strlen (p));
    expect (p, 1, "T1 abcdefgh\n", strlen (p));
    /* a line still being written is left for the next read */
    const char *half = "T1 stdout F one\nT2 stdout F tw";
    expect (half, 0, "one\n", 16);
    /* an empty text, spaces inside the text, a line not in the format */
    expect ("T stdout F \nT stdout F a b  c\nplain line\n", 0, "\na b  c\nplain line\n", 41);
    expect ("T stdout F\nT stdout X y\n", 1, "T \nT stdout X y\n", 24);
    expect ("\0\0\0\0 \0\n", 1, "", 0); /* strlen stops at the NUL: nothing */
    expect ("", 0, "", 0);
}

int
main (void)
{
    const struct CMUnitTest t[] = {cmocka_unit_test (lines)};
    return cmocka_run_group_tests (t, NULL, NULL);
}
