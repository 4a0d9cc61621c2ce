/* drainplan: kubectl drain's filters — controller-less pods, emptyDir, DaemonSets, mirror pods,
 * finished pods — and the flags that lift them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli/drainplan.h"

static json_t *
pods (void)
{
    json_error_t je;
    json_t *p = json_loads (
        "["
        "{\"metadata\":{\"name\":\"rs-pod\",\"namespace\":\"default\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"r\",\"controller\":true}]}},"
        "{\"metadata\":{\"name\":\"bare\",\"namespace\":\"default\"}},"
        "{\"metadata\":{\"name\":\"scratch\",\"namespace\":\"default\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"r\",\"controller\":true}]},"
        " \"spec\":{\"volumes\":[{\"name\":\"s\",\"emptyDir\":{}}]}},"
        "{\"metadata\":{\"name\":\"ds\",\"namespace\":\"kube-system\",\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"d\",\"controller\":true}]}},"
        "{\"metadata\":{\"name\":\"static-m1\",\"namespace\":\"default\",\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}}},"
        "{\"metadata\":{\"name\":\"done\",\"namespace\":\"default\"},\"status\":{\"phase\":\"Succeeded\"}}"
        "]",
        0, &je);
    assert_non_null (p);
    return p;
}

static void
defaults_refuse_what_kubectl_refuses (void **state)
{
    (void) state;
    json_t *p = pods ();
    drain_item_t it[8];
    drain_opts_t o = {0};
    int refused;
    size_t n = drain_plan (p, &o, it, 8, &refused);
    assert_int_equal (n, 6);
    assert_int_equal (refused, 3);
    assert_int_equal (it[0].action, DRAIN_EVICT);  /* owned by a ReplicaSet */
    assert_int_equal (it[1].action, DRAIN_REFUSE); /* no controller */
    assert_non_null (strstr (it[1].why, "--force"));
    assert_int_equal (it[2].action, DRAIN_REFUSE); /* emptyDir */
    assert_non_null (strstr (it[2].why, "--delete-emptydir-data"));
    assert_int_equal (it[3].action, DRAIN_REFUSE); /* DaemonSet */
    assert_non_null (strstr (it[3].why, "--ignore-daemonsets"));
    assert_int_equal (it[4].action, DRAIN_SKIP);   /* mirror pod */
    assert_int_equal (it[5].action, DRAIN_EVICT);  /* finished: deleted, no checks */
    json_decref (p);
}

static void
flags_lift_refusals (void **state)
{
    (void) state;
    json_t *p = pods ();
    drain_item_t it[8];
    drain_opts_t o = {.force = 1, .delete_emptydir = 1, .ignore_daemonsets = 1};
    int refused;
    size_t n = drain_plan (p, &o, it, 8, &refused);
    assert_int_equal (refused, 0);
    assert_int_equal (it[1].action, DRAIN_EVICT);
    assert_int_equal (it[2].action, DRAIN_EVICT);
    assert_int_equal (it[3].action, DRAIN_SKIP);
    assert_int_equal (it[4].action, DRAIN_SKIP);
    /* the cap bounds the plan */
    n = drain_plan (p, &o, it, 2, &refused);
    assert_int_equal (n, 2);
    json_decref (p);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (defaults_refuse_what_kubectl_refuses),
        cmocka_unit_test (flags_lift_refusals),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
