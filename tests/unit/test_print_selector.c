/* kubectl-like output (tables, AGE, STATUS, describe), label selectors, quantities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/print.h"
#include "core/meta.h"
#include "core/quantity.h"
#include "core/selector.h"
#include "core/value.h"

static char *
capture_table (const char *kind, json_t *items, int wide, int64_t now)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    print_opts_t o = {.wide = wide, .now_ms = now};
    print_table (f, kind, items, &o);
    fclose (f);
    return buf;
}

static void
ages (void **state)
{
    (void) state;
    struct {
        int64_t s;
        const char *want;
    } c[] = {{5, "5s"}, {119, "119s"}, {192, "3m12s"}, {900, "15m"}, {3 * 3600 + 600, "3h10m"}, {20 * 3600, "20h"},
             {2 * 86400 + 3 * 3600, "2d3h"}, {45 * 86400, "45d"}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char b[32];
        print_age (b, sizeof b, c[i].s * 1000);
        assert_string_equal (b, c[i].want);
    }
    assert_int_equal (tr_time_parse ("1970-01-01T00:01:00Z"), 60000);
    assert_int_equal (tr_time_parse ("garbage"), -1);
}

static void
pod_table (void **state)
{
    (void) state;
    json_t *items = json_loads (
        "[{\"metadata\":{\"name\":\"web-1\",\"creationTimestamp\":\"1970-01-01T00:00:00Z\"},\"spec\":{\"nodeName\":\"n1\","
        "\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.2\",\"containerStatuses\":[{"
        "\"ready\":true,\"restartCount\":2,\"state\":{\"running\":{}}}]}},"
        "{\"metadata\":{\"name\":\"web-22\",\"creationTimestamp\":\"1970-01-01T00:00:00Z\"},\"spec\":{\"containers\":[{\"name\":"
        "\"c\"}]},\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"ready\":false,\"restartCount\":5,\"state\":{"
        "\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}},"
        "{\"metadata\":{\"name\":\"x\",\"creationTimestamp\":\"1970-01-01T00:00:00Z\",\"deletionTimestamp\":\"1970-01-01T00:00:01Z\"},"
        "\"spec\":{\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\"}}]",
        0, NULL);
    char *out = capture_table ("Pod", items, 0, 65000);
    assert_string_equal (out, "NAME     READY   STATUS             RESTARTS   AGE   NODE\n"
                              "web-1    1/1     Running            2          65s   n1\n"
                              "web-22   0/1     CrashLoopBackOff   5          65s   <none>\n"
                              "x        0/1     Terminating        0          65s   <none>\n");
    free (out);
    out = capture_table ("Pod", items, 1, 65000);
    assert_non_null (strstr (out, "IP"));
    assert_non_null (strstr (out, "10.0.0.2"));
    free (out);
    json_decref (items);
}

/* kubectl's PodDisruptionBudget columns: the unset bound is N/A, no status is 0 allowed */
static void
pdb_table (void **state)
{
    (void) state;
    json_t *items = json_loads ("[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"1970-01-01T00:00:00Z\"},"
                                "\"spec\":{\"minAvailable\":2},\"status\":{\"disruptionsAllowed\":1}},"
                                "{\"metadata\":{\"name\":\"db\",\"creationTimestamp\":\"1970-01-01T00:00:00Z\"},"
                                "\"spec\":{\"maxUnavailable\":\"25%\"}}]",
                                0, NULL);
    char *out = capture_table ("PodDisruptionBudget", items, 0, 61000);
    assert_string_equal (out, "NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\n"
                              "web    2               N/A               1                     61s\n"
                              "db     N/A             25%               0                     61s\n");
    free (out);
    json_decref (items);
}

static void
other_tables_and_describe (void **state)
{
    (void) state;
    json_t *d = json_loads ("[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"1970-01-01T00:00:00Z\"},\"spec\":{"
                            "\"replicas\":3},\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":2}}]",
                            0, NULL);
    char *out = capture_table ("Deployment", d, 0, 1000);
    assert_string_equal (out, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    2/3     3            2           1s\n");
    free (out);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    json_t *ev = json_loads ("[{\"type\":\"Normal\",\"reason\":\"ScalingReplicaSet\",\"message\":\"Scaled up replica set web-abc to 3\","
                             "\"source\":{\"component\":\"deployment-controller\"},\"lastTimestamp\":\"1970-01-01T00:00:00Z\"}]",
                             0, NULL);
    print_describe (f, "Deployment", json_array_get (d, 0), ev, 1000);
    fclose (f);
    assert_non_null (strstr (buf, "Name:           web"));
    assert_non_null (strstr (buf, "Replicas:       3 desired | 3 updated | 0 total | 2 available | 0 unavailable"));
    assert_non_null (strstr (buf, "ScalingReplicaSet"));
    assert_non_null (strstr (buf, "Scaled up replica set web-abc to 3"));
    free (buf);
    json_decref (ev);
    json_decref (d);
}

static void
selectors (void **state)
{
    (void) state;
    char err[128];
    json_t *labels = json_pack ("{s:s,s:s,s:s}", "app", "web", "tier", "front", "env", "prod");
    struct {
        const char *sel;
        int match;
    } c[] = {{"", 1}, {"app=web", 1}, {"app==web", 1}, {"app=db", 0}, {"app!=db", 1}, {"tier!=front", 0},
             {"env in (prod, staging)", 1}, {"env notin (prod)", 0}, {"app", 1}, {"!app", 0}, {"!missing", 1},
             {"app=web,tier!=db,env in (prod)", 1}, {"app=web, missing", 0}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        selector_t *s = selector_parse (c[i].sel, err, sizeof err);
        if (!s)
            fail_msg ("%s: %s", c[i].sel, err);
        if (selector_matches (s, labels) != c[i].match)
            fail_msg ("%s should %smatch", c[i].sel, c[i].match ? "" : "not ");
        selector_destroy (&s);
    }
    assert_null (selector_parse ("app in (a", err, sizeof err));
    assert_non_null (strstr (err, "offset"));
    assert_null (selector_parse ("a=b,,", err, sizeof err));
    json_t *obj = json_loads ("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\","
                              "\"values\":[\"prod\"]}]}",
                              0, NULL);
    selector_t *s = selector_from_object (obj, err, sizeof err);
    assert_true (selector_matches (s, labels));
    selector_destroy (&s);
    json_decref (obj);
    obj = json_loads ("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Maybe\"}]}", 0, NULL);
    assert_null (selector_from_object (obj, err, sizeof err));
    assert_non_null (strstr (err, "Maybe"));
    json_decref (obj);
    json_decref (labels);
}

static void
quantities (void **state)
{
    (void) state;
    int64_t v;
    assert_int_equal (quantity_parse_milli ("500m", &v, NULL, 0), 0);
    assert_int_equal (v, 500);
    assert_int_equal (quantity_parse_milli ("2", &v, NULL, 0), 0);
    assert_int_equal (v, 2000);
    assert_int_equal (quantity_parse_milli ("1.5", &v, NULL, 0), 0);
    assert_int_equal (v, 1500);
    assert_int_equal (quantity_parse ("1Gi", &v, NULL, 0), 0);
    assert_int_equal (v, 1073741824);
    assert_int_equal (quantity_parse ("128Mi", &v, NULL, 0), 0);
    assert_int_equal (v, 134217728);
    assert_int_equal (quantity_parse ("1k", &v, NULL, 0), 0);
    assert_int_equal (v, 1000);
    assert_int_equal (quantity_parse ("500m", &v, NULL, 0), 0);
    assert_int_equal (v, 1); /* rounds up */
    assert_int_equal (quantity_parse ("lots", &v, NULL, 0), -1);
    assert_int_equal (quantity_parse ("5Xi", &v, NULL, 0), -1);
    assert_int_equal (quantity_parse ("-1", &v, NULL, 0), 0); /* parses, as in Kubernetes; */
    assert_int_equal (v, -1);                                   /* fields refuse it (schema) */
    assert_int_equal (quantity_parse ("", &v, NULL, 0), -1);
}

/* kubectl's columns for Services (PORT(S) 80:30080/TCP, headless None, -o wide SELECTOR) and
 * EndpointSlices (PORTS, the first three ENDPOINTS then "+ N more...") */
static void
service_tables (void **state)
{
    (void) state;
    json_error_t e;
    json_t *svcs = json_loads ("[{\"metadata\":{\"name\":\"np\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.5\","
                               "\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"nodePort\":30080,\"protocol\":\"TCP\"},"
                               "{\"port\":53,\"protocol\":\"UDP\"}]}},"
                               "{\"metadata\":{\"name\":\"hl\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"None\"}}]",
                               0, &e);
    assert_non_null (svcs);
    char *t = capture_table ("Service", svcs, 1, 0);
    assert_non_null (strstr (t, "NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)               AGE"));
    assert_non_null (strstr (t, "SELECTOR"));
    assert_non_null (strstr (t, "np     NodePort    10.96.0.5    <none>        80:30080/TCP,53/UDP"));
    assert_non_null (strstr (t, "app=web"));
    assert_non_null (strstr (t, "hl     ClusterIP   None         <none>        <none>"));
    free (t);
    json_t *slices = json_loads ("[{\"metadata\":{\"name\":\"np-abcde\"},\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080},{\"port\":53}],"
                                 "\"endpoints\":[{\"addresses\":[\"10.1.0.1\"]},{\"addresses\":[\"10.1.0.2\"]},"
                                 "{\"addresses\":[\"10.1.0.3\"]},{\"addresses\":[\"10.1.0.4\"]},{\"addresses\":[\"10.1.0.5\"]}]},"
                                 "{\"metadata\":{\"name\":\"hl-bcdfg\"},\"addressType\":\"IPv4\",\"endpoints\":[]}]",
                                 0, &e);
    assert_non_null (slices);
    t = capture_table ("EndpointSlice", slices, 0, 0);
    assert_non_null (strstr (t, "NAME       ADDRESSTYPE   PORTS     ENDPOINTS"));
    assert_non_null (strstr (t, "np-abcde   IPv4          8080,53   10.1.0.1,10.1.0.2,10.1.0.3 + 2 more..."));
    assert_non_null (strstr (t, "hl-bcdfg   IPv4          <unset>   <unset>"));
    free (t);
    json_decref (svcs);
    json_decref (slices);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (ages), cmocka_unit_test (pod_table),
                                       cmocka_unit_test (other_tables_and_describe), cmocka_unit_test (selectors),
                                       cmocka_unit_test (quantities), cmocka_unit_test (service_tables), cmocka_unit_test (pdb_table)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
