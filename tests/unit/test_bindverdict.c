/* bindverdict: a binding whose answer was lost is read back, never forgotten blind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "actors/scheduler/bindverdict.h"
#include "core/envelope.h"

static void
reply (void **state)
{
    (void) state;
    assert_int_equal (bind_verdict_reply (TR_OK), BIND_DONE);
    /* the answer was lost: the binding may be committed, so the pod stays assumed */
    assert_int_equal (bind_verdict_reply (TR_TIMEOUT), BIND_RECHECK);
    assert_int_equal (bind_verdict_reply (TR_UNAVAILABLE), BIND_RECHECK);
    /* refused for certain */
    assert_int_equal (bind_verdict_reply (TR_CONFLICT), BIND_REQUEUE);
    assert_int_equal (bind_verdict_reply (TR_FORBIDDEN), BIND_REQUEUE);
    assert_int_equal (bind_verdict_reply (TR_NOT_FOUND), BIND_FORGET);
}

static void
readback (void **state)
{
    (void) state;
    /* the lost binding was committed */
    assert_int_equal (bind_verdict_readback (TR_OK, "n1", 0, "n1"), BIND_DONE);
    assert_int_equal (bind_verdict_readback (TR_OK, "n1", 1, "n1"), BIND_DONE);
    /* it was not: bind again, still holding the room */
    assert_int_equal (bind_verdict_readback (TR_OK, "", 0, "n1"), BIND_RETRY);
    assert_int_equal (bind_verdict_readback (TR_OK, NULL, 0, "n1"), BIND_RETRY);
    /* being deleted, gone, or bound by someone else: nothing to hold */
    assert_int_equal (bind_verdict_readback (TR_OK, NULL, 1, "n1"), BIND_FORGET);
    assert_int_equal (bind_verdict_readback (TR_NOT_FOUND, NULL, 0, "n1"), BIND_FORGET);
    assert_int_equal (bind_verdict_readback (TR_OK, "n2", 0, "n1"), BIND_FORGET);
    /* the read-back was lost too: read again */
    assert_int_equal (bind_verdict_readback (TR_TIMEOUT, NULL, 0, "n1"), BIND_RECHECK);
    /* Unavailable: the actor is stopping (its host fails every pending request): no new read */
    assert_int_equal (bind_verdict_readback (TR_UNAVAILABLE, NULL, 0, "n1"), BIND_REQUEUE);
    assert_int_equal (bind_verdict_readback (TR_FORBIDDEN, NULL, 0, "n1"), BIND_REQUEUE);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (reply), cmocka_unit_test (readback)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
