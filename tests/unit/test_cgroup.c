/* Pod cgroups (runtime-shims/oci/cgroup.c): Kubernetes' QoS classes over the examples of its
 * docs and their edges, the kubelet's cpu shares / quota / memory / oomScoreAdj values at their
 * edges, the kubepods paths, v1/v2 detection, the removal of a pod's cgroups on fake v1 and v2
 * trees (deepest first, a busy one reported and kept, symlinks not followed, ".." refused), and
 * the OOM record read from fake memory.oom_control / memory.failcnt / memory.events files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/qos.h"
#include "runtime-shims/oci/cgroup.h"
#include "tests/unit/dir_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *
parse (const char *s)
{
    json_error_t e;
    json_t *j = json_loads (s, 0, &e);
    if (!j)
        fail_msg ("bad test json %s: %s", s, e.text);
    return j;
}

/* --- QoS --- */

#define C(res) "{\"name\":\"c\",\"resources\":" res "}"
#define GUAR_700 C ("{\"limits\":{\"cpu\":\"700m\",\"memory\":\"200Mi\"},\"requests\":{\"cpu\":\"700m\",\"memory\":\"200Mi\"}}")

static const struct {
    const char *spec;
    qos_class_t q;
} qos_cases[] = {
    /* the docs' Guaranteed example: limits = requests for cpu and memory */
    {"{\"containers\":[" GUAR_700 "]}", QOS_GUARANTEED},
    /* only limits: requests default to them */
    {"{\"containers\":[" C ("{\"limits\":{\"cpu\":\"700m\",\"memory\":\"200Mi\"}}") "]}", QOS_GUARANTEED},
    /* the docs' Burstable example: a memory limit above its request, no cpu */
    {"{\"containers\":[" C ("{\"limits\":{\"memory\":\"200Mi\"},\"requests\":{\"memory\":\"100Mi\"}}") "]}",
     QOS_BURSTABLE},
    /* the docs' BestEffort example: nothing */
    {"{\"containers\":[{\"name\":\"c\"}]}", QOS_BESTEFFORT},
    {"{\"containers\":[" C ("{}") "]}", QOS_BESTEFFORT},
    /* the docs' two-container example: one with a memory request, one without anything */
    {"{\"containers\":[" C ("{\"requests\":{\"memory\":\"200Mi\"}}") ",{\"name\":\"d\"}]}", QOS_BURSTABLE},
    /* one Guaranteed container beside a BestEffort one */
    {"{\"containers\":[" GUAR_700 ",{\"name\":\"d\"}]}", QOS_BURSTABLE},
    /* two Guaranteed containers */
    {"{\"containers\":[" GUAR_700 "," GUAR_700 "]}", QOS_GUARANTEED},
    /* requests below the limits */
    {"{\"containers\":[" C ("{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}") "]}",
     QOS_BURSTABLE},
    /* cpu only, even equal: memory has no limit */
    {"{\"containers\":[" C ("{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"1\"}}") "]}", QOS_BURSTABLE},
    /* a request without a limit */
    {"{\"containers\":[" C ("{\"requests\":{\"cpu\":\"100m\"}}") "]}", QOS_BURSTABLE},
    /* zero quantities count as absent */
    {"{\"containers\":[" C ("{\"requests\":{\"cpu\":\"0\",\"memory\":\"0Mi\"}}") "]}", QOS_BESTEFFORT},
    /* resources other than cpu and memory do not count */
    {"{\"containers\":[" C ("{\"requests\":{\"ephemeral-storage\":\"1Gi\"},\"limits\":{\"ephemeral-storage\":\"1Gi\"}}") "]}",
     QOS_BESTEFFORT},
    /* the same quantity written differently is equal */
    {"{\"containers\":[" C ("{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1073741824\"}}") "]}",
     QOS_GUARANTEED},
    /* JSON numbers as quantities */
    {"{\"containers\":[" C ("{\"limits\":{\"cpu\":2,\"memory\":1073741824},\"requests\":{\"cpu\":2,\"memory\":1073741824}}") "]}",
     QOS_GUARANTEED},
    /* init containers count: a BestEffort app with a Burstable init container */
    {"{\"containers\":[{\"name\":\"c\"}],\"initContainers\":[" C ("{\"requests\":{\"memory\":\"10Mi\"}}") "]}",
     QOS_BURSTABLE},
    /* a Guaranteed init container beside a Guaranteed app */
    {"{\"containers\":[" GUAR_700 "],\"initContainers\":[" GUAR_700 "]}", QOS_GUARANTEED},
    /* an init container without limits spoils Guaranteed */
    {"{\"containers\":[" GUAR_700 "],\"initContainers\":[{\"name\":\"i\"}]}", QOS_BURSTABLE},
    /* no containers at all */
    {"{}", QOS_BESTEFFORT},
};

static void
qos_classes (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof qos_cases / sizeof qos_cases[0]; i++) {
        json_t *spec = parse (qos_cases[i].spec);
        qos_class_t q = qos_class_of (spec);
        if (q != qos_cases[i].q)
            fail_msg ("case %zu: %s, want %s", i, qos_class_name (q), qos_class_name (qos_cases[i].q));
        json_decref (spec);
    }
    assert_string_equal (qos_class_name (QOS_GUARANTEED), "Guaranteed");
    assert_string_equal (qos_class_name (QOS_BURSTABLE), "Burstable");
    assert_string_equal (qos_class_name (QOS_BESTEFFORT), "BestEffort");
}

/* --- values --- */

static const struct {
    const char *res;      /* the container's resources */
    qos_class_t q;
    int64_t shares, quota, mem, oom;
} value_cases[] = {
    /* no cpu at all: minimum shares, no quota */
    {"{}", QOS_BESTEFFORT, 2, 0, 0, 1000},
    /* 1m: shares 1 → 2, quota 100 → 1000 */
    {"{\"requests\":{\"cpu\":\"1m\"},\"limits\":{\"cpu\":\"1m\"}}", QOS_BURSTABLE, 2, 1000, 0, 999},
    {"{\"requests\":{\"cpu\":\"1m\"}}", QOS_BURSTABLE, 2, 0, 0, 999},
    /* only a limit: shares from it */
    {"{\"limits\":{\"cpu\":\"1m\"}}", QOS_BURSTABLE, 2, 1000, 0, 999},
    {"{\"limits\":{\"cpu\":\"500m\"}}", QOS_BURSTABLE, 512, 50000, 0, 999},
    /* 2m: shares exactly 2 */
    {"{\"requests\":{\"cpu\":\"2m\"},\"limits\":{\"cpu\":\"2m\"}}", QOS_BURSTABLE, 2, 1000, 0, 999},
    {"{\"requests\":{\"cpu\":\"3m\"}}", QOS_BURSTABLE, 3, 0, 0, 999},
    /* 10m is the smallest limit above the minimum quota */
    {"{\"limits\":{\"cpu\":\"10m\"}}", QOS_BURSTABLE, 10, 1000, 0, 999},
    {"{\"limits\":{\"cpu\":\"11m\"}}", QOS_BURSTABLE, 11, 1100, 0, 999},
    {"{\"requests\":{\"cpu\":\"999m\"},\"limits\":{\"cpu\":\"999m\"}}", QOS_BURSTABLE, 1022, 99900, 0, 999},
    {"{\"requests\":{\"cpu\":\"1\"},\"limits\":{\"cpu\":\"1\"}}", QOS_BURSTABLE, 1024, 100000, 0, 999},
    {"{\"requests\":{\"cpu\":\"100m\"},\"limits\":{\"cpu\":\"2\"}}", QOS_BURSTABLE, 102, 200000, 0, 999},
    /* 1000 cpus: shares capped at 262144 */
    {"{\"requests\":{\"cpu\":\"1000\"},\"limits\":{\"cpu\":\"1000\"}}", QOS_BURSTABLE, 262144, 100000000, 0, 999},
    {"{\"requests\":{\"cpu\":\"256\"}}", QOS_BURSTABLE, 262144, 0, 0, 999},
    /* Guaranteed */
    {"{\"requests\":{\"cpu\":\"700m\",\"memory\":\"200Mi\"},\"limits\":{\"cpu\":\"700m\",\"memory\":\"200Mi\"}}",
     QOS_GUARANTEED, 716, 70000, 209715200, -997},
    /* Burstable memory against a 4Gi node: 1000 - 1000*request/capacity, in [3, 999] */
    {"{\"requests\":{\"memory\":\"2Gi\"}}", QOS_BURSTABLE, 2, 0, 0, 500},
    {"{\"requests\":{\"memory\":\"1Gi\"},\"limits\":{\"memory\":\"2Gi\"}}", QOS_BURSTABLE, 2, 0, 2147483648, 750},
    {"{\"limits\":{\"memory\":\"1Gi\"}}", QOS_BURSTABLE, 2, 0, 1073741824, 750}, /* request = limit */
    {"{\"requests\":{\"memory\":\"4Gi\"}}", QOS_BURSTABLE, 2, 0, 0, 3},
    {"{\"requests\":{\"memory\":\"4294967295\"}}", QOS_BURSTABLE, 2, 0, 0, 3},        /* 1000 - 999 = 1 → 3 */
    {"{\"requests\":{\"memory\":\"4123168604\"}}", QOS_BURSTABLE, 2, 0, 0, 41},       /* 1000 - 959 */
    {"{\"requests\":{\"memory\":\"8Gi\"}}", QOS_BURSTABLE, 2, 0, 0, 3},
    {"{\"requests\":{\"memory\":\"1\"}}", QOS_BURSTABLE, 2, 0, 0, 999},              /* 1000 → 999 */
    {"{\"requests\":{\"memory\":\"8589935\"}}", QOS_BURSTABLE, 2, 0, 0, 998},        /* 1000 - 2 */
    /* memory limits in bytes, rounded up */
    {"{\"limits\":{\"memory\":\"1G\"},\"requests\":{\"memory\":\"1\"}}", QOS_BURSTABLE, 2, 0, 1000000000, 999},
    {"{\"limits\":{\"memory\":\"1.5Gi\"},\"requests\":{\"memory\":\"1\"}}", QOS_BURSTABLE, 2, 0, 1610612736, 999},
    {"{\"limits\":{\"memory\":\"100m\"},\"requests\":{\"memory\":\"1\"}}", QOS_BURSTABLE, 2, 0, 1, 999},
};

static void
container_values (void **state)
{
    (void) state;
    const int64_t node = 4LL << 30;
    char err[256];
    for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        char text[512];
        snprintf (text, sizeof text, "{\"name\":\"c\",\"resources\":%s}", value_cases[i].res);
        json_t *c = parse (text);
        json_t *v = qos_container_resources (c, value_cases[i].q, node, err, sizeof err);
        if (!v)
            fail_msg ("case %zu: %s", i, err);
        int64_t got[5] = {json_integer_value (json_object_get (v, "cpuShares")),
                          json_integer_value (json_object_get (v, "cpuQuota")),
                          json_integer_value (json_object_get (v, "cpuPeriod")),
                          json_integer_value (json_object_get (v, "memoryLimitBytes")),
                          json_integer_value (json_object_get (v, "oomScoreAdj"))};
        int64_t want[5] = {value_cases[i].shares, value_cases[i].quota, 100000, value_cases[i].mem, value_cases[i].oom};
        for (int k = 0; k < 5; k++)
            if (got[k] != want[k])
                fail_msg ("case %zu (%s): field %d = %lld, want %lld", i, value_cases[i].res, k, (long long) got[k],
                          (long long) want[k]);
        assert_int_equal (json_object_size (v), 5);
        json_decref (v);
        json_decref (c);
    }
    /* refusals name the quantity */
    static const struct {
        const char *res, *err;
    } bad[] = {
        {"{\"requests\":{\"cpu\":\"abc\"}}", "resources.requests.cpu: quantity \"abc\""},
        {"{\"limits\":{\"memory\":\"1KB\"}}", "resources.limits.memory: quantity \"1KB\": unknown suffix"},
        {"{\"limits\":{\"cpu\":\"-1\"}}", "resources.limits.cpu: must not be negative"},
        {"{\"requests\":{\"memory\":true}}", "resources.requests.memory: must be a quantity"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf (text, sizeof text, "{\"resources\":%s}", bad[i].res);
        json_t *c = parse (text);
        assert_null (qos_container_resources (c, QOS_BURSTABLE, node, err, sizeof err));
        if (!strstr (err, bad[i].err))
            fail_msg ("case %zu: error \"%s\", want \"%s\"", i, err, bad[i].err);
        json_decref (c);
    }
    /* Burstable needs the node's capacity */
    json_t *c = parse ("{\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}");
    assert_null (qos_container_resources (c, QOS_BURSTABLE, 0, err, sizeof err));
    assert_string_equal (err, "node memory capacity: must be positive");
    json_t *v = qos_container_resources (c, QOS_GUARANTEED, 0, err, sizeof err);
    assert_non_null (v);
    json_decref (v);
    json_decref (c);
}

/* --- paths --- */

static void
pod_paths (void **state)
{
    (void) state;
    static const struct {
        const char *parent;
        qos_class_t q;
        const char *want;
    } cases[] = {
        {"", QOS_GUARANTEED, "/kubepods/pod0b5d-11"},
        {"", QOS_BURSTABLE, "/kubepods/burstable/pod0b5d-11"},
        {"", QOS_BESTEFFORT, "/kubepods/besteffort/pod0b5d-11"},
        {NULL, QOS_BURSTABLE, "/kubepods/burstable/pod0b5d-11"},
        {"troupe-node1", QOS_BESTEFFORT, "/troupe-node1/kubepods/besteffort/pod0b5d-11"},
        {"/troupe-node1/", QOS_GUARANTEED, "/troupe-node1/kubepods/pod0b5d-11"},
        {"/", QOS_BURSTABLE, "/kubepods/burstable/pod0b5d-11"},
        {"a/b", QOS_BURSTABLE, "/a/b/kubepods/burstable/pod0b5d-11"},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qos_pod_cgroup (cases[i].parent, cases[i].q, "0b5d-11", buf, sizeof buf);
        assert_string_equal (buf, cases[i].want);
    }
    /* a small buffer is cut, never overrun */
    char small[12];
    memset (small, 'x', sizeof small);
    qos_pod_cgroup ("", QOS_BURSTABLE, "0b5d-11", small, 10);
    assert_string_equal (small, "/kubepods");
    assert_int_equal (small[11], 'x');
}

/* --- file operations on fake trees --- */

static void
mk (const char *rel)
{
    char cmd[512];
    snprintf (cmd, sizeof cmd, "mkdir -p '%s/%s'", fixture_dir, rel);
    assert_int_equal (system (cmd), 0);
}

static void
put (const char *rel, const char *text)
{
    char p[512];
    snprintf (p, sizeof p, "%s/%s", fixture_dir, rel);
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static int
exists (const char *rel)
{
    char p[512];
    struct stat st;
    snprintf (p, sizeof p, "%s/%s", fixture_dir, rel);
    return lstat (p, &st) == 0;
}

static void
detect (void **state)
{
    (void) state;
    assert_int_equal (cgroup_detect (fixture_dir), CGROUP_V1); /* empty */
    mk ("cpu");
    mk ("memory");
    mk ("unified");
    assert_int_equal (cgroup_detect (fixture_dir), CGROUP_V1); /* v1 or hybrid */
    put ("cgroup.controllers", "cpuset cpu io memory pids\n");
    assert_int_equal (cgroup_detect (fixture_dir), CGROUP_V2);
    assert_int_equal (cgroup_detect ("/nonexistent/cgroup"), CGROUP_V1);
}

static void
remove_pod_v1 (void **state)
{
    (void) state;
    const char *pod = "/kubepods/burstable/podX";
    /* cpu and memory hold the pod and its containers (nested), pids holds nothing of it */
    mk ("cpu/kubepods/burstable/podX/c1");
    mk ("cpu/kubepods/burstable/podX/c2/nested/deeper");
    mk ("memory/kubepods/burstable/podX/c1");
    mk ("memory/kubepods/burstable/podY/c1");
    mk ("pids/kubepods");
    mk ("outside/keep");
    char link[512];
    snprintf (link, sizeof link, "%s/cpuacct", fixture_dir); /* as cpu → cpu,cpuacct on some machines */
    assert_int_equal (symlink ("cpu", link), 0);
    put ("release_agent", "");
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, pod), 0);
    assert_false (exists ("cpu/kubepods/burstable/podX"));
    assert_false (exists ("memory/kubepods/burstable/podX"));
    assert_true (exists ("cpu/kubepods/burstable"));       /* only the pod's own */
    assert_true (exists ("memory/kubepods/burstable/podY/c1"));
    assert_true (exists ("pids/kubepods"));
    /* again: nothing left is fine; a trailing slash too */
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, "/kubepods/burstable/podX/"), 0);

    /* a container that still has processes (here: a file in its directory) keeps it and its
     * parents, reports -1; the rest goes */
    mk ("cpu/kubepods/burstable/podY/c1");
    mk ("memory/kubepods/burstable/podY/c2/sub");
    put ("memory/kubepods/burstable/podY/c1/cgroup.procs", "4242\n");
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, "/kubepods/burstable/podY"), -1);
    assert_true (exists ("memory/kubepods/burstable/podY/c1"));
    assert_false (exists ("memory/kubepods/burstable/podY/c2"));
    assert_false (exists ("cpu/kubepods/burstable/podY"));
    char f[512];
    snprintf (f, sizeof f, "%s/memory/kubepods/burstable/podY/c1/cgroup.procs", fixture_dir);
    unlink (f);
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, "/kubepods/burstable/podY"), 0);
    assert_false (exists ("memory/kubepods/burstable/podY"));

    /* a symlink inside a pod's tree is not followed: what it points to survives */
    mk ("cpu/kubepods/besteffort/podZ");
    snprintf (link, sizeof link, "%s/cpu/kubepods/besteffort/podZ/link", fixture_dir);
    char target[512];
    snprintf (target, sizeof target, "%s/outside", fixture_dir);
    assert_int_equal (symlink (target, link), 0);
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, "/kubepods/besteffort/podZ"), -1);
    assert_true (exists ("outside/keep"));

    /* paths that are not a pod's */
    static const char *const bad[] = {"", "/", "//", "kubepods/podX", "/kubepods/../outside", "/..", "/a/..", NULL};
    for (const char *const *b = bad; *b; b++) {
        if (cgroup_remove_pod (fixture_dir, CGROUP_V1, *b) != -1)
            fail_msg ("path \"%s\" accepted", *b);
    }
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, NULL), -1);
    assert_true (exists ("outside/keep"));
    /* a missing mount root is fine */
    assert_int_equal (cgroup_remove_pod ("/nonexistent/cgroup", CGROUP_V1, "/kubepods/podA"), 0);
    /* names with dots that are not ".." are pods like others */
    mk ("cpu/kubepods/pod..x/c");
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V1, "/kubepods/pod..x"), 0);
    assert_false (exists ("cpu/kubepods/pod..x"));
}

static void
remove_pod_v2 (void **state)
{
    (void) state;
    put ("cgroup.controllers", "cpu memory pids\n");
    mk ("troupe-n1/kubepods/besteffort/podQ/c1");
    mk ("troupe-n1/kubepods/besteffort/podQ/c2");
    mk ("troupe-n1/kubepods/besteffort/podR");
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V2, "/troupe-n1/kubepods/besteffort/podQ"), 0);
    assert_false (exists ("troupe-n1/kubepods/besteffort/podQ"));
    assert_true (exists ("troupe-n1/kubepods/besteffort/podR"));
    /* v2 does not walk the subdirectories of the root as controllers */
    mk ("cpu/troupe-n1/kubepods/besteffort/podR");
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V2, "/troupe-n1/kubepods/besteffort/podR"), 0);
    assert_true (exists ("cpu/troupe-n1/kubepods/besteffort/podR"));
    assert_false (exists ("troupe-n1/kubepods/besteffort/podR"));
    put ("troupe-n1/kubepods/besteffort/cgroup.procs", "1\n");
    mk ("troupe-n1/kubepods/besteffort/podS");
    put ("troupe-n1/kubepods/besteffort/podS/cgroup.procs", "1\n");
    assert_int_equal (cgroup_remove_pod (fixture_dir, CGROUP_V2, "/troupe-n1/kubepods/besteffort/podS"), -1);
}

static void
oom_record (void **state)
{
    (void) state;
    const char *c = "/kubepods/burstable/podX/c1";
    mk ("memory/kubepods/burstable/podX/c1");
    /* nothing recorded yet: no files */
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V1, c), 0);
    put ("memory/kubepods/burstable/podX/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    put ("memory/kubepods/burstable/podX/c1/memory.failcnt", "12\n");
    /* the kill count wins over failcnt (the limit was hit, reclaim sufficed) */
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V1, c), 0);
    put ("memory/kubepods/burstable/podX/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V1, c), 1);
    /* an older kernel without the count: failcnt */
    put ("memory/kubepods/burstable/podX/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V1, c), 1);
    put ("memory/kubepods/burstable/podX/c1/memory.failcnt", "0\n");
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V1, c), 0);

    /* v2 */
    mk ("kubepods/burstable/podX/c1");
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V2, c), 0);
    put ("kubepods/burstable/podX/c1/memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 0\noom_group_kill 3\n");
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V2, c), 0);
    put ("kubepods/burstable/podX/c1/memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n");
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V2, c), 1);
    /* paths that are not a container's */
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V2, "/kubepods/../x"), 0);
    assert_int_equal (cgroup_oom_killed (fixture_dir, CGROUP_V2, NULL), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (qos_classes),
        cmocka_unit_test (container_values),
        cmocka_unit_test (pod_paths),
        cmocka_unit_test_setup_teardown (detect, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (remove_pod_v1, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (remove_pod_v2, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (oom_record, dir_fixture_setup, dir_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
