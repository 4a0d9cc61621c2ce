/* immutable: what an update may change per kind and subresource (Kubernetes' PrepareForUpdate and
 * ValidatePodUpdate / apps/v1 selector immutability), without a broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "broker/immutable.h"
#include "core/value.h"

static json_t *
pod (void)
{
    json_t *p = json_loads ("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\"}},"
                            "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"img:1\",\"command\":[\"sleep\",\"9\"]}],"
                            "\"initContainers\":[{\"name\":\"i\",\"image\":\"init:1\"}],"
                            "\"terminationGracePeriodSeconds\":30,"
                            "\"tolerations\":[{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoExecute\","
                            "\"tolerationSeconds\":60}]},"
                            "\"status\":{\"phase\":\"Running\"}}",
                            0, NULL);
    assert_non_null (p);
    return p;
}

/* Checks next against cur through sub; expect NULL = allowed, else a piece of the error. */
static void
expect (const char *kind, const json_t *cur, const json_t *next, imm_sub_t sub, const char *want)
{
    char err[1024] = "";
    int rc = immutable_check (kind, cur, next, sub, err, sizeof err);
    if (!want) {
        if (rc)
            fail_msg ("refused: %s", err);
        return;
    }
    assert_int_equal (rc, -1);
    if (!strstr (err, want))
        fail_msg ("error \"%s\" lacks \"%s\"", err, want);
}

static void
pod_spec_changes (void **state)
{
    (void) state;
    json_t *cur = pod ();
    json_t *n = json_deep_copy (cur);
    expect ("Pod", cur, n, IMM_SUB_NONE, NULL); /* nothing changed */
    /* images may change, labels and annotations too */
    json_object_set_new (json_array_get (tv_get (n, "spec.containers"), 0), "image", json_string ("img:2"));
    json_object_set_new (json_array_get (tv_get (n, "spec.initContainers"), 0), "image", json_string ("init:2"));
    tv_set_str (n, "metadata.labels.a", "c");
    tv_set_str (n, "metadata.annotations.note", "x");
    expect ("Pod", cur, n, IMM_SUB_NONE, NULL);
    /* the command may not: refused, with the field named */
    json_array_set_new (json_object_get (json_array_get (tv_get (n, "spec.containers"), 0), "command"), 1,
                        json_string ("10"));
    expect ("Pod", cur, n, IMM_SUB_NONE, "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`");
    expect ("Pod", cur, n, IMM_SUB_NONE, "(changed: spec.containers[0].command[1])");
    json_decref (n);
    /* a new field (restartPolicy) is a change too */
    n = json_deep_copy (cur);
    tv_set_str (n, "spec.restartPolicy", "Never");
    expect ("Pod", cur, n, IMM_SUB_NONE, "(changed: spec.restartPolicy)");
    json_decref (n);
    /* adding a container */
    n = json_deep_copy (cur);
    json_array_append_new (tv_get (n, "spec.containers"), json_pack ("{s:s,s:s}", "name", "d", "image", "x"));
    expect ("Pod", cur, n, IMM_SUB_NONE, "spec.containers: Forbidden: pod updates may not add or remove containers");
    json_decref (n);
    /* removing an init container */
    n = json_deep_copy (cur);
    json_array_clear (tv_get (n, "spec.initContainers"));
    expect ("Pod", cur, n, IMM_SUB_NONE, "spec.initContainers: Forbidden: pod updates may not add or remove containers");
    json_decref (n);
    /* an image emptied or padded */
    n = json_deep_copy (cur);
    json_object_set_new (json_array_get (tv_get (n, "spec.containers"), 0), "image", json_string (""));
    expect ("Pod", cur, n, IMM_SUB_NONE, "spec.containers[0].image: Required value");
    json_object_set_new (json_array_get (tv_get (n, "spec.containers"), 0), "image", json_string ("img:2 "));
    expect ("Pod", cur, n, IMM_SUB_NONE, "spec.containers[0].image: Invalid value: \"img:2 \": must not have leading or trailing whitespace");
    json_decref (n);
    /* the scheduling fields are part of the immutable pod spec, as in Kubernetes */
    static const char *const sched[][2] = {
        {"spec.affinity", "{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"topologyKey\":\"k\"}]}}"},
        {"spec.topologySpreadConstraints", "[{\"maxSkew\":1,\"topologyKey\":\"z\",\"whenUnsatisfiable\":\"DoNotSchedule\"}]"},
        {"spec.priority", "7"},
        {"spec.priorityClassName", "\"high\""},
        {"spec.preemptionPolicy", "\"Never\""},
    };
    for (size_t i = 0; i < sizeof sched / sizeof sched[0]; i++) {
        n = json_deep_copy (cur);
        json_object_set_new (json_object_get (n, "spec"), sched[i][0] + 5, json_loads (sched[i][1], JSON_DECODE_ANY, NULL));
        char want[200];
        snprintf (want, sizeof want, "(changed: %s", sched[i][0]);
        expect ("Pod", cur, n, IMM_SUB_NONE, want);
        json_decref (n);
    }
    /* status.nominatedNodeName is written through the status subresource */
    n = json_deep_copy (cur);
    tv_set_str (n, "status.nominatedNodeName", "n1");
    json_t *o = immutable_prepare (cur, n, IMM_SUB_STATUS);
    assert_string_equal (tv_str (o, "status.nominatedNodeName"), "n1");
    expect ("Pod", cur, o, IMM_SUB_STATUS, NULL);
    json_decref (o);
    o = immutable_prepare (cur, n, IMM_SUB_NONE); /* not through the object */
    assert_null (tv_str (o, "status.nominatedNodeName"));
    json_decref (o);
    /* shared, not copied: with cur only (immutable_prepare: n is a client's body) ... */
    json_t *snap = json_deep_copy (cur);
    o = immutable_prepare (cur, n, IMM_SUB_STATUS);
    assert_ptr_equal (tv_get (o, "spec"), tv_get (cur, "spec"));
    assert_ptr_not_equal (tv_get (o, "status"), tv_get (n, "status"));
    json_decref (o);
    o = immutable_prepare (cur, n, IMM_SUB_NONE);
    assert_ptr_equal (tv_get (o, "status"), tv_get (cur, "status"));
    assert_ptr_not_equal (tv_get (o, "spec"), tv_get (n, "spec"));
    json_decref (o);
    /* ... and with next too (immutable_prepare_own, which takes it) */
    json_t *own = json_deep_copy (n), *own_status = tv_get (own, "status"), *own_spec = tv_get (own, "spec");
    o = immutable_prepare_own (cur, own, IMM_SUB_STATUS);
    assert_ptr_equal (tv_get (o, "spec"), tv_get (cur, "spec"));
    assert_ptr_equal (tv_get (o, "metadata"), tv_get (cur, "metadata"));
    assert_ptr_equal (tv_get (o, "status"), own_status);
    assert_ptr_not_equal (o, cur);
    json_decref (o);
    own = json_deep_copy (n);
    own_spec = tv_get (own, "spec");
    o = immutable_prepare_own (cur, own, IMM_SUB_NONE);
    assert_ptr_equal (o, own);
    assert_ptr_equal (tv_get (o, "spec"), own_spec);
    assert_ptr_equal (tv_get (o, "status"), tv_get (cur, "status"));
    json_decref (o);
    assert_true (json_equal (cur, snap));
    json_decref (snap);
    json_decref (n);
    json_decref (cur);
}

static void
pod_node_name_and_binding (void **state)
{
    (void) state;
    json_t *cur = pod ();
    json_t *n = json_deep_copy (cur);
    tv_set_str (n, "spec.nodeName", "n1");
    /* an update may not set it, even from empty */
    expect ("Pod", cur, n, IMM_SUB_NONE, "(changed: spec.nodeName)");
    /* a binding may, once */
    expect ("Pod", cur, n, IMM_SUB_BINDING, NULL);
    json_t *n2 = json_deep_copy (n);
    tv_set_str (n2, "spec.nodeName", "n2");
    expect ("Pod", n, n2, IMM_SUB_BINDING, "spec.nodeName: Forbidden: pod is already assigned to node \"n1\"");
    expect ("Pod", n, n2, IMM_SUB_NONE, "(changed: spec.nodeName)");
    /* nor may an update remove it */
    tv_del (n2, "spec.nodeName");
    expect ("Pod", n, n2, IMM_SUB_NONE, "(changed: spec.nodeName)");
    json_decref (n2);
    /* as the broker's merge makes it: spec's other members shared with cur's */
    json_t *sh = json_copy (cur), *spec = json_copy (json_object_get (cur, "spec"));
    json_object_set_new (spec, "nodeName", json_string ("n1"));
    json_object_set_new (sh, "spec", spec);
    expect ("Pod", cur, sh, IMM_SUB_BINDING, NULL);
    /* a member added beside nodeName, or one taken away, is refused */
    json_object_set_new (spec, "hostname", json_string ("h"));
    expect ("Pod", cur, sh, IMM_SUB_BINDING, "a binding may only set spec.nodeName (changed: spec.hostname)");
    json_object_del (spec, "hostname");
    json_object_del (spec, "containers");
    expect ("Pod", cur, sh, IMM_SUB_BINDING, "a binding may only set spec.nodeName (changed: spec.containers)");
    json_decref (sh);
    /* a binding changes nothing but nodeName, not even an image */
    json_object_set_new (json_array_get (tv_get (n, "spec.containers"), 0), "image", json_string ("img:2"));
    expect ("Pod", cur, n, IMM_SUB_BINDING, "a binding may only set spec.nodeName (changed: spec.containers[0].image)");
    json_decref (n);
    /* no binding subresource on other kinds */
    expect ("Deployment", cur, cur, IMM_SUB_BINDING, "only pods have a binding subresource");
    json_decref (cur);
}

static void
pod_deadline_grace_tolerations (void **state)
{
    (void) state;
    json_t *cur = pod ();
    json_t *n = json_deep_copy (cur);
    /* activeDeadlineSeconds: set when unset, then only lowered, never unset */
    tv_set_int (n, "spec.activeDeadlineSeconds", 100);
    expect ("Pod", cur, n, IMM_SUB_NONE, NULL);
    json_t *c2 = json_deep_copy (n);
    tv_set_int (n, "spec.activeDeadlineSeconds", 50);
    expect ("Pod", c2, n, IMM_SUB_NONE, NULL);
    tv_set_int (n, "spec.activeDeadlineSeconds", 101);
    expect ("Pod", c2, n, IMM_SUB_NONE, "spec.activeDeadlineSeconds: Invalid value: 101: must be less than or equal to previous value");
    tv_set_int (n, "spec.activeDeadlineSeconds", -1);
    expect ("Pod", c2, n, IMM_SUB_NONE, "must be between 0 and 2147483647");
    tv_del (n, "spec.activeDeadlineSeconds");
    expect ("Pod", c2, n, IMM_SUB_NONE, "must not update from a positive integer to nil value");
    json_decref (c2);
    json_decref (n);
    /* terminationGracePeriodSeconds: only to 1 from a negative value */
    n = json_deep_copy (cur);
    tv_set_int (n, "spec.terminationGracePeriodSeconds", 1);
    expect ("Pod", cur, n, IMM_SUB_NONE, "(changed: spec.terminationGracePeriodSeconds)");
    c2 = json_deep_copy (cur);
    tv_set_int (c2, "spec.terminationGracePeriodSeconds", -1);
    expect ("Pod", c2, n, IMM_SUB_NONE, NULL);
    tv_set_int (n, "spec.terminationGracePeriodSeconds", 2);
    expect ("Pod", c2, n, IMM_SUB_NONE, "(changed: spec.terminationGracePeriodSeconds)");
    json_decref (c2);
    json_decref (n);
    /* tolerations: additions, and tolerationSeconds of an existing one */
    n = json_deep_copy (cur);
    json_array_append_new (tv_get (n, "spec.tolerations"), json_pack ("{s:s,s:s}", "key", "other", "operator", "Exists"));
    json_object_set_new (json_array_get (tv_get (n, "spec.tolerations"), 0), "tolerationSeconds", json_integer (5));
    expect ("Pod", cur, n, IMM_SUB_NONE, NULL);
    json_object_set_new (json_array_get (tv_get (n, "spec.tolerations"), 0), "value", json_string ("w"));
    expect ("Pod", cur, n, IMM_SUB_NONE,
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds");
    json_array_remove (tv_get (n, "spec.tolerations"), 0);
    expect ("Pod", cur, n, IMM_SUB_NONE, "spec.tolerations: Forbidden");
    json_decref (n);
    json_decref (cur);
}

static void
apps_selector (void **state)
{
    (void) state;
    const char *kinds[] = {"Deployment", "ReplicaSet"};
    for (int i = 0; i < 2; i++) {
        json_t *cur = json_pack ("{s:s,s:{s:s},s:{s:i,s:{s:{s:s}}}}", "kind", kinds[i], "metadata", "name", "web", "spec",
                                 "replicas", 2, "selector", "matchLabels", "app", "web");
        json_t *n = json_deep_copy (cur);
        tv_set_int (n, "spec.replicas", 5);
        expect (kinds[i], cur, n, IMM_SUB_NONE, NULL);
        tv_set_str (n, "spec.selector.matchLabels.tier", "front");
        expect (kinds[i], cur, n, IMM_SUB_NONE,
                "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"front\"}}: field is immutable");
        tv_del (n, "spec.selector");
        expect (kinds[i], cur, n, IMM_SUB_NONE, "spec.selector: Invalid value: null: field is immutable");
        json_decref (n);
        json_decref (cur);
    }
    /* other kinds hold nothing immutable here */
    json_t *a = json_pack ("{s:{s:s}}", "data", "k", "1"), *b = json_pack ("{s:{s:s}}", "data", "k", "2");
    expect ("ConfigMap", a, b, IMM_SUB_NONE, NULL);
    json_decref (a);
    json_decref (b);
}

static void
prepare_status_and_object (void **state)
{
    (void) state;
    assert_int_equal (immutable_subresource (NULL), IMM_SUB_NONE);
    assert_int_equal (immutable_subresource (""), IMM_SUB_NONE);
    assert_int_equal (immutable_subresource ("status"), IMM_SUB_STATUS);
    assert_int_equal (immutable_subresource ("binding"), IMM_SUB_BINDING);
    assert_int_equal (immutable_subresource ("scale"), IMM_SUB_UNKNOWN);
    json_t *cur = pod ();
    expect ("Pod", cur, cur, IMM_SUB_UNKNOWN, "subresource: Unsupported value");
    /* a body that changes spec, labels and status */
    json_t *body = json_deep_copy (cur);
    json_object_set_new (json_array_get (tv_get (body, "spec.containers"), 0), "image", json_string ("img:9"));
    tv_set_str (body, "metadata.labels.a", "z");
    tv_set_str (body, "status.phase", "Failed");
    /* through the object: spec and labels taken, status kept */
    json_t *o = immutable_prepare (cur, body, IMM_SUB_NONE);
    assert_string_equal (tv_str (o, "status.phase"), "Running");
    assert_string_equal (tv_str (o, "metadata.labels.a"), "z");
    assert_string_equal (tv_str (json_array_get (tv_get (o, "spec.containers"), 0), "image"), "img:9");
    json_decref (o);
    /* through status: status taken, spec and metadata kept */
    o = immutable_prepare (cur, body, IMM_SUB_STATUS);
    assert_string_equal (tv_str (o, "status.phase"), "Failed");
    assert_string_equal (tv_str (o, "metadata.labels.a"), "b");
    assert_true (json_equal (tv_get (o, "spec"), tv_get (cur, "spec")));
    expect ("Pod", cur, o, IMM_SUB_STATUS, NULL);
    json_decref (o);
    /* a status body without status empties it (a PUT of the status) */
    json_t *none = json_pack ("{s:{s:s}}", "metadata", "name", "x");
    o = immutable_prepare (cur, none, IMM_SUB_STATUS);
    assert_int_equal (json_object_size (tv_get (o, "status")), 0);
    json_decref (o);
    /* a stored object without status: the object's write may not add one */
    json_t *bare = json_deep_copy (cur);
    json_object_del (bare, "status");
    o = immutable_prepare (bare, body, IMM_SUB_NONE);
    assert_null (tv_get (o, "status"));
    json_decref (o);
    json_decref (bare);
    json_decref (none);
    json_decref (body);
    json_decref (cur);
}

/* ValidateNodeUpdate: podCIDR from unset to a value, never changed after */
static void
node_pod_cidr_once (void **state)
{
    (void) state;
    json_t *cur = json_pack ("{s:s,s:{s:s},s:{}}", "kind", "Node", "metadata", "name", "n1", "spec");
    json_t *n = json_pack ("{s:s,s:{s:s},s:{s:s,s:[s]}}", "kind", "Node", "metadata", "name", "n1", "spec", "podCIDR",
                           "10.244.1.0/24", "podCIDRs", "10.244.1.0/24");
    expect ("Node", cur, n, IMM_SUB_NONE, NULL);
    json_t *again = json_deep_copy (n);
    tv_set (again, "spec.unschedulable", json_true ());
    expect ("Node", n, again, IMM_SUB_NONE, NULL); /* other fields still change */
    tv_set (again, "spec.podCIDR", json_string ("10.244.2.0/24"));
    expect ("Node", n, again, IMM_SUB_NONE, "spec.podCIDR: Forbidden: node updates may not change podCIDR");
    tv_set (again, "spec.podCIDR", json_string ("10.244.1.0/24"));
    tv_del (again, "spec.podCIDRs");
    expect ("Node", n, again, IMM_SUB_NONE, "spec.podCIDRs: Forbidden");
    tv_set (again, "spec.podCIDRs", json_pack ("[]"));
    expect ("Node", n, again, IMM_SUB_NONE, "spec.podCIDRs: Forbidden");
    json_decref (cur);
    json_decref (n);
    json_decref (again);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (pod_spec_changes),
        cmocka_unit_test (pod_node_name_and_binding),
        cmocka_unit_test (pod_deadline_grace_tolerations),
        cmocka_unit_test (apps_selector),
        cmocka_unit_test (node_pod_cidr_once),
        cmocka_unit_test (prepare_status_and_object),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
