/* Scheduler plugins and choice: fit against usage (incl. assumed pods), node selector, taints
 * and tolerations, readiness, unschedulable nodes, least-allocated scoring, spreading among
 * equals, and Kubernetes' FitError message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "actors/scheduler/sched.h"
#include "core/value.h"

static json_t *
node (const char *name, const char *cpu, const char *mem, int ready)
{
    return json_pack ("{s:{s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata", "name", name, "labels",
                      "zone", name, "spec", "status", "allocatable", "cpu", cpu, "memory", mem, "pods", "110",
                      "conditions", "type", "Ready", "status", ready ? "True" : "False");
}

static json_t *
pod (const char *uid, const char *cpu, const char *mem)
{
    return json_pack ("{s:{s:s,s:s},s:{s:[{s:s,s:{s:{s:s,s:s}}}]}}", "metadata", "name", uid, "uid", uid, "spec",
                      "containers", "name", "c", "resources", "requests", "cpu", cpu, "memory", mem);
}

static void
fit_and_score (void **state)
{
    (void) state;
    sched_t *s = sched_new ();
    json_t *nodes = json_pack ("[o,o]", node ("a", "2", "4Gi", 1), node ("b", "4", "8Gi", 1));
    char chosen[64], why[512];
    json_t *p = pod ("p1", "1", "1Gi");
    /* least allocated prefers the bigger, emptier node */
    assert_int_equal (sched_schedule (s, p, nodes, chosen, sizeof chosen, why, sizeof why), 0);
    assert_string_equal (chosen, "b");
    /* fill b: usage is accounted, so a 3.5-cpu pod no longer fits anywhere */
    sched_usage_add (s, "b", p);
    sched_res_t u;
    sched_usage_of (s, "b", &u);
    assert_int_equal (u.cpu_milli, 1000);
    assert_int_equal (u.memory, 1073741824);
    json_t *big = pod ("p2", "3500m", "1Gi");
    assert_int_equal (sched_schedule (s, big, nodes, chosen, sizeof chosen, why, sizeof why), -1);
    assert_string_equal (why, "0/2 nodes are available: 2 Insufficient cpu.");
    /* forgetting the assumed pod frees b again */
    sched_usage_remove (s, "p1");
    assert_int_equal (sched_schedule (s, big, nodes, chosen, sizeof chosen, why, sizeof why), 0);
    assert_string_equal (chosen, "b");
    /* adding the same uid twice does not double count */
    sched_usage_add (s, "a", p);
    sched_usage_add (s, "a", p);
    sched_usage_of (s, "a", &u);
    assert_int_equal (u.cpu_milli, 1000);
    assert_int_equal (u.pods, 1);
    json_decref (p);
    json_decref (big);
    json_decref (nodes);
    sched_destroy (&s);
}

static void
filters (void **state)
{
    (void) state;
    sched_t *s = sched_new ();
    json_t *a = node ("a", "2", "4Gi", 1), *b = node ("b", "2", "4Gi", 0), *c = node ("c", "2", "4Gi", 1),
           *d = node ("d", "2", "4Gi", 1);
    tv_set (c, "spec.taints", json_pack ("[{s:s,s:s,s:s}]", "key", "gpu", "value", "yes", "effect", "NoSchedule"));
    tv_set (d, "spec.unschedulable", json_true ());
    json_t *nodes = json_pack ("[O,O,O,O]", a, b, c, d);
    json_t *p = pod ("p", "100m", "1Mi");
    tv_set (p, "spec.nodeSelector", json_pack ("{s:s}", "zone", "c"));
    char chosen[64], why[512];
    /* only c matches the selector, but its taint is not tolerated */
    assert_int_equal (sched_schedule (s, p, nodes, chosen, sizeof chosen, why, sizeof why), -1);
    assert_non_null (strstr (why, "0/4 nodes are available:"));
    assert_non_null (strstr (why, "1 node(s) were not ready"));
    assert_non_null (strstr (why, "1 node(s) had untolerated taint"));
    assert_non_null (strstr (why, "1 node(s) were unschedulable"));
    assert_non_null (strstr (why, "1 node(s) didn't match Pod's node affinity/selector"));
    /* tolerate it: Equal with the value, then Exists with no key */
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s,s:s,s:s}]", "key", "gpu", "operator", "Equal", "value", "yes",
                                              "effect", "NoSchedule"));
    assert_int_equal (sched_schedule (s, p, nodes, chosen, sizeof chosen, why, sizeof why), 0);
    assert_string_equal (chosen, "c");
    tv_set (p, "spec.tolerations", json_pack ("[{s:s,s:s}]", "key", "gpu", "value", "no"));
    assert_int_equal (sched_schedule (s, p, nodes, chosen, sizeof chosen, why, sizeof why), -1);
    tv_set (p, "spec.tolerations", json_pack ("[{s:s}]", "operator", "Exists"));
    assert_int_equal (sched_schedule (s, p, nodes, chosen, sizeof chosen, why, sizeof why), 0);
    json_decref (p);
    json_decref (nodes);
    json_decref (a);
    json_decref (b);
    json_decref (c);
    json_decref (d);
    sched_destroy (&s);
}

static void
spreads_among_equals (void **state)
{
    (void) state;
    sched_t *s = sched_new ();
    json_t *nodes = json_pack ("[o,o,o]", node ("a", "2", "4Gi", 1), node ("b", "2", "4Gi", 1), node ("c", "2", "4Gi", 1));
    int seen[3] = {0};
    for (int i = 0; i < 6; i++) {
        json_t *p = pod ("x", "0", "0");
        char chosen[64], why[256];
        assert_int_equal (sched_schedule (s, p, nodes, chosen, sizeof chosen, why, sizeof why), 0);
        seen[chosen[0] - 'a']++;
        json_decref (p);
    }
    assert_int_equal (seen[0], 2);
    assert_int_equal (seen[1], 2);
    assert_int_equal (seen[2], 2);
    json_decref (nodes);
    sched_destroy (&s);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (fit_and_score), cmocka_unit_test (filters),
                                       cmocka_unit_test (spreads_among_equals)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
