/* defaultsel (Kubernetes' DefaultSelector for PodTopologySpread's default constraints): the
 * merged LabelSelector for a pod from stored Services, ReplicationControllers, ReplicaSets and
 * StatefulSets, table-driven and compared as JSON; the informer view; put, update and delete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/scheduler/defaultsel.h"

typedef struct {
    const char *name;
    const char *objs;   /* [[kind, ns, name, selector], ...] kind: 0 Service, 1 RC, 2 RS, 3 SS */
    const char *pod;    /* {"ns", "labels", "owner": ownerReference} */
    const char *want;   /* the selector, or "null" */
} row_t;

#define WEB "{\"app\":\"web\"}"
#define RSREF(av, name) "{\"apiVersion\":\"" av "\",\"kind\":\"ReplicaSet\",\"name\":\"" name "\",\"controller\":true}"

static const row_t rows[] = {
    {"a selecting Service", "[[0,\"default\",\"s\"," WEB "]]", "{\"labels\":{\"app\":\"web\",\"x\":\"1\"}}",
     "{\"matchLabels\":" WEB "}"},
    {"Services merged, the non-selecting one left out",
     "[[0,\"default\",\"s\"," WEB "],[0,\"default\",\"t\",{\"x\":\"1\"}],[0,\"default\",\"u\",{\"x\":\"2\"}]]",
     "{\"labels\":{\"app\":\"web\",\"x\":\"1\"}}", "{\"matchLabels\":{\"app\":\"web\",\"x\":\"1\"}}"},
    {"nil and empty selectors select nothing", "[[0,\"default\",\"s\",null],[0,\"default\",\"t\",{}]]",
     "{\"labels\":" WEB "}", "null"},
    {"namespace absent is default", "[[0,\"default\",\"s\"," WEB "]]", "{\"ns\":\"default\",\"labels\":" WEB "}",
     "{\"matchLabels\":" WEB "}"},
    {"another namespace", "[[0,\"other\",\"s\"," WEB "]]", "{\"labels\":" WEB "}", "null"},
    /* selector.Add: the RS's matchLabels as In requirements beside the Services' map, a
     * conflicting value kept (the selector then matches nothing, as in Kubernetes) */
    {"ReplicaSet requirements added, not merged",
     "[[0,\"default\",\"s\"," WEB "],[2,\"default\",\"rs\",{\"matchLabels\":{\"app\":\"db\"},"
     "\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\"}]}]]",
     "{\"labels\":" WEB ",\"owner\":" RSREF ("apps/v1", "rs") "}",
     "{\"matchLabels\":" WEB ",\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"db\"]},"
     "{\"key\":\"k\",\"operator\":\"Exists\"}]}"},
    {"ReplicaSet of another API version is no owner", "[[2,\"default\",\"rs\",{\"matchLabels\":" WEB "}]]",
     "{\"labels\":" WEB ",\"owner\":" RSREF ("extensions/v1beta1", "rs") "}", "null"},
    {"ReplicaSet with a nil selector adds nothing", "[[2,\"default\",\"rs\",null]]",
     "{\"labels\":" WEB ",\"owner\":" RSREF ("apps/v1", "rs") "}", "null"},
    {"ReplicaSet with a malformed selector adds nothing",
     "[[2,\"default\",\"rs\",{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\",\"values\":[\"v\"]}]}]]",
     "{\"labels\":" WEB ",\"owner\":" RSREF ("apps/v1", "rs") "}", "null"},
    {"an owner that is not the controller", "[[2,\"default\",\"rs\",{\"matchLabels\":" WEB "}]]",
     "{\"labels\":" WEB ",\"owner\":{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\"}}", "null"},
    {"StatefulSet", "[[3,\"default\",\"ss\",{\"matchLabels\":" WEB "}]]",
     "{\"labels\":" WEB ",\"owner\":{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"name\":\"ss\",\"controller\":true}}",
     "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"web\"]}]}"},
    /* labels.Merge: the RC's value wins over a Service's */
    {"ReplicationController merged into the map",
     "[[0,\"default\",\"s\"," WEB "],[1,\"default\",\"rc\",{\"app\":\"v2\",\"z\":\"1\"}]]", "{\"labels\":" WEB
     ",\"owner\":{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\",\"name\":\"rc\",\"controller\":true}}",
     "{\"matchLabels\":{\"app\":\"v2\",\"z\":\"1\"}}"},
};

static json_t *
pod_of (const json_t *in)
{
    json_t *meta = json_pack ("{s:s,s:O}", "name", "p", "labels", json_object_get (in, "labels"));
    if (json_object_get (in, "ns"))
        json_object_set (meta, "namespace", json_object_get (in, "ns"));
    if (json_object_get (in, "owner"))
        json_object_set_new (meta, "ownerReferences", json_pack ("[O]", json_object_get (in, "owner")));
    return json_pack ("{s:o}", "metadata", meta);
}

static void
table (void **state)
{
    (void) state;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        defaultsel_t *ds = defaultsel_new ();
        json_t *objs = json_loads (rows[r].objs, 0, NULL), *in = json_loads (rows[r].pod, 0, NULL);
        json_t *want = json_loads (rows[r].want, JSON_DECODE_ANY, NULL);
        assert_non_null (objs);
        assert_non_null (in);
        assert_non_null (want);
        size_t i;
        json_t *o;
        json_array_foreach (objs, i, o) {
            json_t *obj = json_pack ("{s:{s:O,s:O},s:{s:O}}", "metadata", "namespace", json_array_get (o, 1), "name",
                                     json_array_get (o, 2), "spec", "selector", json_array_get (o, 3));
            if (json_is_null (json_array_get (o, 3)))
                json_object_del (json_object_get (obj, "spec"), "selector");
            defaultsel_put (ds, (dsel_kind_t) json_integer_value (json_array_get (o, 0)), obj);
            json_decref (obj);
        }
        json_t *pod = pod_of (in);
        json_t *got = defaultsel_of_pod (ds, pod, json_string_value (json_object_get (in, "ns")), json_object_get (in, "labels"));
        if (!json_equal (got ? got : json_null (), want)) {
            char *g = got ? json_dumps (got, JSON_COMPACT) : strdup ("null");
            fail_msg ("row %zu (%s): got %s want %s", r, rows[r].name, g, rows[r].want);
        }
        json_decref (got);
        json_decref (pod);
        json_decref (want);
        json_decref (in);
        json_decref (objs);
        defaultsel_destroy (&ds);
    }
}

static void
view_put_delete (void **state)
{
    (void) state;
    json_t *svc = json_loads ("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\",\"uid\":\"u\",\"labels\":{\"a\":\"b\"}},"
                              "\"spec\":{\"selector\":" WEB ",\"ports\":[{\"port\":80}],\"clusterIP\":\"10.0.0.1\"},"
                              "\"status\":{}}",
                              0, NULL);
    json_t *view = defaultsel_view (svc);
    json_t *want = json_loads ("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"spec\":{\"selector\":" WEB "}}", 0, NULL);
    assert_true (json_equal (view, want));
    defaultsel_t *ds = defaultsel_new ();
    json_t *pod = json_loads ("{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"labels\":" WEB "}}", 0, NULL);
    const json_t *labels = json_object_get (json_object_get (pod, "metadata"), "labels");
    defaultsel_put (ds, DSEL_SERVICE, view);
    json_t *got = defaultsel_of_pod (ds, pod, "n", labels);
    assert_non_null (got);
    json_decref (got);
    /* updated to a selector the pod does not match, then back, then deleted */
    json_object_set_new (json_object_get (view, "spec"), "selector", json_pack ("{s:s}", "app", "db"));
    defaultsel_put (ds, DSEL_SERVICE, view);
    assert_null (defaultsel_of_pod (ds, pod, "n", labels));
    json_object_set_new (json_object_get (view, "spec"), "selector", json_loads (WEB, 0, NULL));
    defaultsel_put (ds, DSEL_SERVICE, view);
    got = defaultsel_of_pod (ds, pod, "n", labels);
    assert_non_null (got);
    json_decref (got);
    defaultsel_del (ds, DSEL_SERVICE, view);
    assert_null (defaultsel_of_pod (ds, pod, "n", labels));
    defaultsel_destroy (&ds);
    assert_null (ds);
    json_decref (pod);
    json_decref (want);
    json_decref (view);
    json_decref (svc);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (table),
        cmocka_unit_test (view_put_delete),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
