/* prober, pure: defaults, initial delay and period, thresholds and ready flips, startup gating,
 * the liveness and startup kill decisions, late results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "actors/agent/prober.h"

#define T0 1800000000000LL

static json_t *
ctr (const char *probes)
{
    json_t *c = json_loads (probes, 0, NULL);
    assert_non_null (c);
    return c;
}

static void
defaults (void **state)
{
    (void) state;
    probe_spec_t s;
    json_t *p = json_pack ("{s:{s:[s]}}", "exec", "command", "true");
    prober_spec (p, &s);
    assert_true (s.present);
    assert_int_equal (s.period_ms, 10000);
    assert_int_equal (s.timeout_ms, 1000);
    assert_int_equal (s.success_threshold, 1);
    assert_int_equal (s.failure_threshold, 3);
    assert_int_equal (s.initial_delay_ms, 0);
    json_decref (p);
    prober_spec (NULL, &s);
    assert_false (s.present);
    json_t *c = ctr ("{}");
    prober_t pr;
    prober_init (&pr, c, T0);
    assert_true (pr.started);
    assert_true (pr.ready); /* no probe: ready once running */
    assert_int_equal (prober_due (&pr, T0 + 100000), -1);
    assert_true (prober_next (&pr) == INT64_MAX);
    json_decref (c);
}

static void
readiness_flips (void **state)
{
    (void) state;
    json_t *c = ctr ("{\"readinessProbe\":{\"initialDelaySeconds\":5,\"periodSeconds\":2,\"successThreshold\":2,"
                     "\"failureThreshold\":2,\"exec\":{\"command\":[\"true\"]}}}");
    prober_t p;
    prober_init (&p, c, T0);
    assert_true (p.started);
    assert_false (p.ready); /* readiness starts as failure */
    assert_int_equal (prober_due (&p, T0 + 4999), -1); /* initial delay */
    assert_true (prober_next (&p) == T0 + 5000);
    assert_int_equal (prober_due (&p, T0 + 5000), PROBE_READINESS);
    assert_int_equal (prober_due (&p, T0 + 5000), -1);          /* one run at a time */
    assert_int_equal (prober_due (&p, T0 + 8000), -1);          /* still running */
    assert_int_equal (prober_result (&p, PROBE_READINESS, 1, NULL, T0 + 5100), 0); /* 1 of 2 successes */
    assert_false (p.ready);
    assert_int_equal (prober_due (&p, T0 + 6999), -1); /* period 2 s from the last run's start */
    assert_int_equal (prober_due (&p, T0 + 7000), PROBE_READINESS);
    assert_int_equal (prober_result (&p, PROBE_READINESS, 1, NULL, T0 + 7100), 1);
    assert_true (p.ready);
    assert_int_equal (prober_due (&p, T0 + 9000), PROBE_READINESS);
    assert_int_equal (prober_result (&p, PROBE_READINESS, 0, "exit 1", T0 + 9100), 0); /* 1 of 2 failures */
    assert_true (p.ready);
    assert_int_equal (prober_due (&p, T0 + 11000), PROBE_READINESS);
    assert_int_equal (prober_result (&p, PROBE_READINESS, 0, "exit 1", T0 + 11100), 1);
    assert_false (p.ready);
    assert_false (p.kill); /* readiness never kills */
    /* a success in between resets the failure count */
    assert_int_equal (prober_due (&p, T0 + 13000), PROBE_READINESS);
    prober_result (&p, PROBE_READINESS, 1, NULL, T0 + 13100);
    assert_int_equal (prober_due (&p, T0 + 15000), PROBE_READINESS);
    prober_result (&p, PROBE_READINESS, 1, NULL, T0 + 15100);
    assert_true (p.ready);
    json_decref (c);
}

static void
liveness_kills_after_threshold (void **state)
{
    (void) state;
    json_t *c = ctr ("{\"livenessProbe\":{\"periodSeconds\":1,\"tcpSocket\":{\"port\":80}}}");
    prober_t p;
    prober_init (&p, c, T0);
    assert_true (p.ready); /* no readiness probe */
    int64_t t = T0;
    for (int i = 0; i < 2; i++, t += 1000) {
        assert_int_equal (prober_due (&p, t), PROBE_LIVENESS);
        assert_int_equal (prober_result (&p, PROBE_LIVENESS, 0, "connection refused", t + 10), 0);
        assert_false (p.kill);
    }
    /* a success resets the count: three more failures are needed */
    assert_int_equal (prober_due (&p, t), PROBE_LIVENESS);
    prober_result (&p, PROBE_LIVENESS, 1, NULL, t + 10);
    t += 1000;
    for (int i = 0; i < 3; i++, t += 1000) {
        assert_int_equal (prober_due (&p, t), PROBE_LIVENESS);
        int changed = prober_result (&p, PROBE_LIVENESS, 0, "HTTP probe failed with statuscode: 404", t + 10);
        assert_int_equal (changed, i == 2);
        assert_int_equal (p.kill, i == 2);
    }
    assert_int_equal (p.kill_by, PROBE_LIVENESS);
    assert_string_equal (p.kill_message, "HTTP probe failed with statuscode: 404");
    assert_false (p.ready);
    assert_int_equal (prober_due (&p, t + 100000), -1); /* probing stops */
    json_decref (c);
}

static void
startup_gates (void **state)
{
    (void) state;
    json_t *c = ctr ("{\"startupProbe\":{\"periodSeconds\":1,\"failureThreshold\":5,\"exec\":{\"command\":[\"x\"]}},"
                     "\"livenessProbe\":{\"periodSeconds\":3,\"exec\":{\"command\":[\"x\"]}},"
                     "\"readinessProbe\":{\"periodSeconds\":3,\"exec\":{\"command\":[\"x\"]}}}");
    prober_t p;
    prober_init (&p, c, T0);
    assert_false (p.started);
    assert_false (p.ready);
    for (int i = 0; i < 4; i++) {
        int64_t t = T0 + i * 1000;
        assert_int_equal (prober_due (&p, t), PROBE_STARTUP); /* only the startup probe runs */
        assert_int_equal (prober_due (&p, t), -1);
        prober_result (&p, PROBE_STARTUP, 0, "not yet", t + 10);
        assert_false (p.kill); /* 4 of 5 */
    }
    assert_int_equal (prober_due (&p, T0 + 4000), PROBE_STARTUP);
    assert_int_equal (prober_result (&p, PROBE_STARTUP, 1, NULL, T0 + 4010), 1);
    assert_true (p.started);
    assert_false (p.ready); /* readiness has not passed yet */
    int a = prober_due (&p, T0 + 4010), b = prober_due (&p, T0 + 4010);
    assert_true ((a == PROBE_LIVENESS && b == PROBE_READINESS) || (a == PROBE_READINESS && b == PROBE_LIVENESS));
    assert_int_equal (prober_due (&p, T0 + 100000), -1); /* both running, startup done */
    prober_result (&p, PROBE_READINESS, 1, NULL, T0 + 4020);
    assert_true (p.ready);
    /* a late startup answer changes nothing */
    assert_int_equal (prober_result (&p, PROBE_STARTUP, 0, "late", T0 + 4030), 0);
    assert_true (p.started);
    json_decref (c);
}

static void
startup_failure_kills (void **state)
{
    (void) state;
    json_t *c = ctr ("{\"startupProbe\":{\"periodSeconds\":1,\"failureThreshold\":2,\"exec\":{\"command\":[\"x\"]}}}");
    prober_t p;
    prober_init (&p, c, T0);
    assert_int_equal (prober_due (&p, T0), PROBE_STARTUP);
    prober_result (&p, PROBE_STARTUP, 0, "no", T0 + 1);
    assert_false (p.kill);
    assert_int_equal (prober_due (&p, T0 + 1000), PROBE_STARTUP);
    prober_result (&p, PROBE_STARTUP, 0, "no", T0 + 1001);
    assert_true (p.kill);
    assert_int_equal (p.kill_by, PROBE_STARTUP);
    json_decref (c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (defaults),
        cmocka_unit_test (readiness_flips),
        cmocka_unit_test (liveness_kills_after_threshold),
        cmocka_unit_test (startup_gates),
        cmocka_unit_test (startup_failure_kills),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
