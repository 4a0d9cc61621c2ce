/* podcidr: when the agent hands its Node's podCIDR to the runtime — the override ready at once,
 * a new podCIDR sent once (not while one is in flight, not before the runtime answers, not
 * again when taken), a changed one sent again, the bounded wait and what follows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "actors/agent/podcidr.h"

static void
decisions (void **state)
{
    (void) state;
    podcidr_in_t in = {.override = "10.4.0.0/24", .applied = "", .runtime_known = 0, .now_ms = 0, .deadline_ms = 30000};
    assert_int_equal (podcidr_decide (&in), PODCIDR_READY);
    in.ready = 1;
    in.own = "10.244.3.0/24"; /* the override wins over the Node's */
    assert_int_equal (podcidr_decide (&in), PODCIDR_NOTHING);

    podcidr_in_t w = {.override = "", .own = NULL, .applied = "", .now_ms = 1000, .deadline_ms = 30000};
    assert_int_equal (podcidr_decide (&w), PODCIDR_NOTHING); /* waiting */
    w.now_ms = 30000;
    assert_int_equal (podcidr_decide (&w), PODCIDR_GIVE_UP);
    w.ready = 1;
    assert_int_equal (podcidr_decide (&w), PODCIDR_NOTHING); /* said once */

    w.own = "10.244.3.0/24"; /* arrives late: still handed over */
    assert_int_equal (podcidr_decide (&w), PODCIDR_NOTHING); /* the runtime has not answered yet */
    w.runtime_known = 1;
    assert_int_equal (podcidr_decide (&w), PODCIDR_SEND);
    w.sending = 1;
    assert_int_equal (podcidr_decide (&w), PODCIDR_NOTHING);
    w.sending = 0;
    w.applied = "10.244.3.0/24";
    assert_int_equal (podcidr_decide (&w), PODCIDR_NOTHING);
    w.own = "10.244.4.0/24"; /* a Node made anew with another subnet */
    assert_int_equal (podcidr_decide (&w), PODCIDR_SEND);

    podcidr_in_t fast = {.override = NULL, .own = "10.244.0.0/24", .applied = "", .runtime_known = 1, .deadline_ms = 30000};
    assert_int_equal (podcidr_decide (&fast), PODCIDR_SEND); /* before the deadline, not ready yet */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (decisions)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
