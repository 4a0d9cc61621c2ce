/* hollow: `troupe hollow`'s flags (defaults, each refusal naming its flag), the Node it registers
 * (labels, zone round-robin, taints, capacity = allocatable = the flags, the agent's conditions
 * with Ready True, no images, no InternalIP), the pod addresses (from the podCIDR, the bridge's .1
 * skipped, a full CIDR refused, the fake /24s distinct), the pod status (Running, four conditions
 * True keeping the scheduler's PodScheduled time, containers running, init containers completed)
 * and what is done with a pod (start, nothing, delete). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "cli/hollow.h"
#include "core/value.h"

static void
flags (void **state)
{
    (void) state;
    hollow_cfg_t c;
    char err[512];
    hollow_flags_t f = {.nodes = "200"};
    assert_int_equal (hollow_config (&f, &c, err, sizeof err), 0);
    assert_int_equal (c.nodes, 200);
    assert_string_equal (c.cpu, "4");
    assert_string_equal (c.memory, "16Gi");
    assert_string_equal (c.pods, "110");
    assert_string_equal (c.ephemeral_storage, "100Gi");
    assert_string_equal (c.prefix, "hollow-");
    assert_int_equal (c.startup_delay_ms, 1000);
    assert_int_equal (c.lease_period_ms, 10000);
    assert_int_equal (json_object_size (c.labels), 0);
    hollow_cfg_free (&c);

    hollow_flags_t g = {.nodes = "5", .cpu = "500m", .labels = "type=hollow,tier=", .taints = "a=b:NoSchedule,c:NoExecute",
                        .zones = "z1,z2,z3", .startup_delay = "0", .prefix = "h-"};
    assert_int_equal (hollow_config (&g, &c, err, sizeof err), 0);
    assert_string_equal (json_string_value (json_object_get (c.labels, "type")), "hollow");
    assert_string_equal (json_string_value (json_object_get (c.labels, "tier")), "");
    assert_int_equal (json_array_size (c.taints), 2);
    assert_string_equal (tv_str (json_array_get (c.taints, 0), "value"), "b");
    assert_null (tv_str (json_array_get (c.taints, 1), "value"));
    assert_string_equal (tv_str (json_array_get (c.taints, 1), "effect"), "NoExecute");
    assert_int_equal (json_array_size (c.zones), 3);
    assert_int_equal (c.startup_delay_ms, 0);
    hollow_cfg_free (&c);

    struct {
        hollow_flags_t f;
        const char *says;
    } bad[] = {
        {{.nodes = NULL}, "--nodes N is required"},
        {{.nodes = "0"}, "--nodes \"0\""},
        {{.nodes = "12x"}, "--nodes \"12x\""},
        {{.nodes = "99999"}, "--nodes \"99999\""},
        {{.nodes = "1", .cpu = "lots"}, "--cpu \"lots\""},
        {{.nodes = "1", .memory = "-1Gi"}, "--memory \"-1Gi\""},
        {{.nodes = "1", .pods = "1500m"}, "--pods \"1500m\": must be a positive whole number"},
        {{.nodes = "1", .labels = "novalue"}, "--labels: \"novalue\": expected key=value"},
        {{.nodes = "1", .labels = "bad key=v"}, "not a valid label key"},
        {{.nodes = "1", .labels = "k=bad value!"}, "not a valid label value"},
        {{.nodes = "1", .taints = "k=v"}, "expected key[=value]:effect"},
        {{.nodes = "1", .taints = "k=v:Sometimes"}, "effect \"Sometimes\""},
        {{.nodes = "1", .zones = ","}, "--zones"},
        {{.nodes = "1", .prefix = "Hollow"}, "--prefix \"Hollow\""},
        {{.nodes = "1", .startup_delay = "soon"}, "--startup-delay \"soon\""},
        {{.nodes = "1", .lease_period = "60s"}, "--lease-period \"60s\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal (hollow_config (&bad[i].f, &c, err, sizeof err), -1);
        if (!strstr (err, bad[i].says))
            fail_msg ("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
        hollow_cfg_free (&c);
    }
}

static void
node (void **state)
{
    (void) state;
    hollow_cfg_t c;
    char err[256];
    hollow_flags_t f = {.nodes = "4", .labels = "type=hollow", .taints = "d=x:NoSchedule", .zones = "a,b", .cpu = "8",
                        .memory = "32Gi", .pods = "50"};
    assert_int_equal (hollow_config (&f, &c, err, sizeof err), 0);
    json_t *n = hollow_node_object (&c, 3, "2026-12-03T10:00:00Z");
    assert_string_equal (tv_str (n, "metadata.name"), "hollow-3");
    json_t *l = tv_get (n, "metadata.labels");
    assert_string_equal (tv_str (l, "type"), "hollow");
    assert_string_equal (json_string_value (json_object_get (l, "kubernetes.io/hostname")), "hollow-3");
    assert_string_equal (json_string_value (json_object_get (l, "kubernetes.io/os")), "linux");
    assert_string_equal (json_string_value (json_object_get (l, "topology.kubernetes.io/zone")), "b");
    json_t *n2 = hollow_node_object (&c, 2, "2026-12-03T10:00:00Z");
    assert_string_equal (json_string_value (json_object_get (tv_get (n2, "metadata.labels"), "topology.kubernetes.io/zone")), "a");
    json_decref (n2);
    json_t *t = json_array_get (tv_get (n, "spec.taints"), 0);
    assert_string_equal (tv_str (t, "key"), "d");
    assert_string_equal (tv_str (t, "value"), "x");
    assert_string_equal (tv_str (t, "effect"), "NoSchedule");
    assert_string_equal (tv_str (n, "status.capacity.cpu"), "8");
    assert_string_equal (tv_str (n, "status.allocatable.memory"), "32Gi");
    assert_string_equal (tv_str (n, "status.allocatable.pods"), "50");
    assert_string_equal (tv_str (n, "status.allocatable.ephemeral-storage"), "100Gi");
    assert_int_equal (json_array_size (tv_get (n, "status.images")), 0);
    json_t *conds = tv_get (n, "status.conditions");
    assert_int_equal (json_array_size (conds), 4);
    const char *want[][3] = {{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
                             {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
                             {"PIDPressure", "False", "KubeletHasSufficientPID"},
                             {"Ready", "True", "KubeletReady"}};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal (tv_str (json_array_get (conds, i), "type"), want[i][0]);
        assert_string_equal (tv_str (json_array_get (conds, i), "status"), want[i][1]);
        assert_string_equal (tv_str (json_array_get (conds, i), "reason"), want[i][2]);
    }
    size_t i;
    json_t *a;
    json_array_foreach (tv_get (n, "status.addresses"), i, a) assert_string_not_equal (tv_str (a, "type"), "InternalIP");
    assert_int_equal (hollow_node_stale (&c, n), 0);
    /* the node controller's Unknown (we were away), or other capacity: post again */
    json_object_set_new (json_array_get (conds, 3), "status", json_string ("Unknown"));
    assert_int_equal (hollow_node_stale (&c, n), 1);
    json_object_set_new (json_array_get (conds, 3), "status", json_string ("True"));
    json_object_set_new (json_object_get (tv_get (n, "status"), "capacity"), "cpu", json_string ("4"));
    assert_int_equal (hollow_node_stale (&c, n), 1);
    /* a re-post keeps the transition time of a condition that did not change */
    json_t *st = hollow_node_status (&c, 3, conds, "2026-12-03T11:00:00Z");
    assert_string_equal (tv_str (json_array_get (tv_get (st, "conditions"), 0), "lastTransitionTime"), "2026-12-03T10:00:00Z");
    json_decref (st);
    json_decref (n);
    hollow_cfg_free (&c);
}

static void
addresses (void **state)
{
    (void) state;
    char ip[48];
    assert_int_equal (hollow_cidr_slots ("10.244.7.0/24"), 253);
    assert_int_equal (hollow_pod_ip ("10.244.7.0/24", 0, ip, sizeof ip), 0);
    assert_string_equal (ip, "10.244.7.2"); /* .1 is the bridge's */
    assert_int_equal (hollow_pod_ip ("10.244.7.0/24", 252, ip, sizeof ip), 0);
    assert_string_equal (ip, "10.244.7.254");
    assert_int_equal (hollow_pod_ip ("10.244.7.0/24", 253, ip, sizeof ip), -1); /* the broadcast */
    assert_int_equal (hollow_pod_ip ("10.8.0.0/16", 300, ip, sizeof ip), 0);
    assert_string_equal (ip, "10.8.1.46");
    assert_int_equal (hollow_pod_ip ("fd00::/64", 0, ip, sizeof ip), -1);
    assert_int_equal (hollow_pod_ip ("garbage", 0, ip, sizeof ip), -1);
    assert_int_equal (hollow_cidr_slots ("10.0.0.0/31"), 0);
    char a[48], b[48];
    hollow_fake_cidr (0, a, sizeof a);
    assert_string_equal (a, "100.64.0.0/24");
    hollow_fake_cidr (4999, b, sizeof b);
    assert_string_equal (b, "100.83.135.0/24");
    hollow_host_ip (0, a, sizeof a);
    assert_string_equal (a, "198.18.0.1");
    hollow_host_ip (4999, b, sizeof b);
    assert_string_equal (b, "198.18.19.136");
}

static void
pods (void **state)
{
    (void) state;
    json_t *pod = json_loads ("{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\"},"
                      "\"spec\":{\"nodeName\":\"hollow-1\",\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox\"}],"
                      "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}},"
                      "{\"name\":\"d\",\"image\":\"nginx\"}]},"
                      "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\","
                      "\"lastTransitionTime\":\"2026-12-03T09:00:00Z\"}]}}",
                      0, NULL);
    assert_non_null (pod);
    assert_int_equal (hollow_pod_decide (pod), HOLLOW_POD_START);
    json_t *st = hollow_pod_status (pod, "198.18.0.2", "10.244.1.2", "2026-12-03T10:00:01Z", "2026-12-03T10:00:01Z");
    assert_string_equal (tv_str (st, "phase"), "Running");
    assert_string_equal (tv_str (st, "podIP"), "10.244.1.2");
    assert_string_equal (tv_str (json_array_get (tv_get (st, "podIPs"), 0), "ip"), "10.244.1.2");
    assert_string_equal (tv_str (st, "hostIP"), "198.18.0.2");
    assert_string_equal (tv_str (st, "startTime"), "2026-12-03T10:00:01Z");
    assert_string_equal (tv_str (st, "qosClass"), "Burstable");
    json_t *conds = tv_get (st, "conditions");
    assert_int_equal (json_array_size (conds), 4);
    size_t i;
    json_t *c;
    int sched = 0;
    json_array_foreach (conds, i, c) {
        assert_string_equal (tv_str (c, "status"), "True");
        if (!strcmp (tv_str (c, "type"), "PodScheduled")) {
            sched = 1;
            assert_string_equal (tv_str (c, "lastTransitionTime"), "2026-12-03T09:00:00Z"); /* the scheduler's */
        }
    }
    assert_true (sched);
    json_t *cs = tv_get (st, "containerStatuses");
    assert_int_equal (json_array_size (cs), 2);
    assert_string_equal (tv_str (json_array_get (cs, 1), "name"), "d");
    assert_string_equal (tv_str (json_array_get (cs, 1), "image"), "nginx");
    assert_true (tv_bool (json_array_get (cs, 0), "ready", false));
    assert_string_equal (tv_str (json_array_get (cs, 0), "state.running.startedAt"), "2026-12-03T10:00:01Z");
    assert_string_equal (tv_str (json_array_get (tv_get (st, "initContainerStatuses"), 0), "state.terminated.reason"), "Completed");
    json_decref (st);

    json_object_set_new (json_object_get (pod, "status"), "phase", json_string ("Running"));
    assert_int_equal (hollow_pod_decide (pod), HOLLOW_POD_NOTHING); /* reported already (a restarted hollow) */
    json_object_set_new (json_object_get (pod, "metadata"), "deletionTimestamp", json_string ("2026-12-03T10:01:00Z"));
    assert_int_equal (hollow_pod_decide (pod), HOLLOW_POD_DELETE);
    json_decref (pod);
}

/* A pod decoded only along hollow_pod_keep gives the same decision and the same status as the
 * whole pod, for each state a node sees it in; what the node does not read is not decoded. */
static void
pod_fields (void **state)
{
    (void) state;
    json_t *keep = hollow_pod_keep (), *running = hollow_running_keep ();
    const char *pods[] = {
        ("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\",\"labels\":{\"a\":\"b\"},\"resourceVersion\":\"9\"},"
        "\"spec\":{\"nodeName\":\"hollow-1\",\"schedulerName\":\"default-scheduler\",\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"
        "\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox\",\"command\":[\"true\"],"
        "\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}],"
        "\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}],"
        "\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]},"
        "\"status\":{\"phase\":\"Pending\",\"qosClass\":\"Guaranteed\",\"conditions\":[{\"type\":\"PodScheduled\","
        "\"status\":\"True\",\"lastTransitionTime\":\"2026-12-03T09:00:00Z\"}]}}"),
        ("{\"metadata\":{\"name\":\"q\",\"namespace\":\"ns\",\"uid\":\"u2\"},\"spec\":{\"containers\":[{\"name\":\"c\","
        "\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]},\"status\":{\"phase\":\"Running\","
        "\"podIP\":\"10.0.0.9\",\"startTime\":\"2026-12-03T09:00:00Z\",\"containerStatuses\":[{\"name\":\"c\"}]}}"),
        ("{\"metadata\":{\"name\":\"r\",\"namespace\":\"ns\",\"uid\":\"u3\",\"deletionTimestamp\":\"2026-12-03T10:00:00Z\"},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}"),
    };
    for (size_t k = 0; k < sizeof pods / sizeof *pods; k++) {
        json_t *pod = json_loads (pods[k], 0, NULL);
        assert_non_null (pod);
        /* as a watch event's body is decoded: from msgpack along the keep */
        char *buf;
        size_t len;
        assert_int_equal (tv_encode (pod, &buf, &len), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        assert_int_equal (msgpack_unpack_next (&u, buf, len, NULL), MSGPACK_UNPACK_SUCCESS);
        char err[256];
        json_t *kept = tv_from_msgpack_keep (&u.data, NULL, keep, err, sizeof err);
        assert_non_null (kept);
        /* the uid read before decoding picks the keep; once reported Running, the pod is decoded
         * along hollow_running_keep: the same decision, and none of its spec */
        char uid[48], tiny[8];
        assert_int_equal (hollow_msgpack_pod_uid (&u.data, uid, sizeof uid), 0);
        assert_string_equal (uid, tv_str (pod, "metadata.uid"));
        assert_int_equal (hollow_msgpack_pod_uid (&u.data, tiny, 2), -1); /* does not fit */
        json_t *slim = tv_from_msgpack_keep (&u.data, NULL, running, err, sizeof err);
        assert_non_null (slim);
        assert_int_equal (hollow_pod_decide (slim), hollow_pod_decide (pod));
        assert_null (tv_get (slim, "spec"));
        assert_null (tv_get (slim, "status.conditions"));
        assert_string_equal (tv_str (slim, "metadata.name"), tv_str (pod, "metadata.name"));
        json_decref (slim);
        msgpack_unpacked_destroy (&u);
        free (buf);
        assert_null (tv_get (kept, "spec.nodeName"));
        assert_null (tv_get (kept, "metadata.labels"));
        assert_int_equal (hollow_pod_decide (kept), hollow_pod_decide (pod));
        json_t *a = hollow_pod_status (pod, "198.18.0.2", "10.0.0.2", "2026-12-03T10:00:01Z", "2026-12-03T10:00:02Z");
        json_t *b = hollow_pod_status (kept, "198.18.0.2", "10.0.0.2", "2026-12-03T10:00:01Z", "2026-12-03T10:00:02Z");
        assert_true (json_equal (a, b));
        assert_string_equal (tv_str (kept, "metadata.uid"), tv_str (pod, "metadata.uid"));
        if (tv_str (pod, "status.podIP"))
            assert_string_equal (tv_str (kept, "status.podIP"), tv_str (pod, "status.podIP"));
        json_decref (a);
        json_decref (b);
        json_decref (kept);
        json_decref (pod);
    }
    json_decref (keep);
    json_decref (running);
    /* no uid to read: not a map, a map without metadata, a uid that is not a string */
    const char *bad[] = {"[1,2]", "{\"kind\":\"Pod\"}", "{\"metadata\":{\"uid\":7}}", "{\"metadata\":\"x\"}"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        json_t *v = json_loads (bad[k], 0, NULL);
        char *buf, uid[48];
        size_t len;
        assert_int_equal (tv_encode (v, &buf, &len), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        assert_int_equal (msgpack_unpack_next (&u, buf, len, NULL), MSGPACK_UNPACK_SUCCESS);
        if (hollow_msgpack_pod_uid (&u.data, uid, sizeof uid) != -1)
            fail_msg ("%s: a uid read", bad[k]);
        msgpack_unpacked_destroy (&u);
        free (buf);
        json_decref (v);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (flags),
        cmocka_unit_test (node),
        cmocka_unit_test (addresses),
        cmocka_unit_test (pods),
        cmocka_unit_test (pod_fields),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
