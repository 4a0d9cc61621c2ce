/* The node reports the real machine (actors/agent/nodestatus.c): kubelet flags, measurements
 * read from fake /proc and cgroup v1/v2 trees, capacity and allocatable, and the conditions
 * MemoryPressure / DiskPressure / PIDPressure / Ready with the kubelet's reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "actors/agent/nodestatus.h"
#include "core/value.h"
#include "tests/unit/dir_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MI (1024LL * 1024)
#define GI (1024LL * MI)

/* ---- flags ---------------------------------------------------------------------------------- */

static void
reserved_flags (void **state)
{
    (void) state;
    nodestatus_res_t r;
    char err[400];
    assert_int_equal (nodestatus_parse_reserved ("cpu=100m,memory=100Mi,ephemeral-storage=1Gi", &r, err, sizeof err), 0);
    assert_true (r.cpu_milli == 100 && r.memory == 100 * MI && r.ephemeral_storage == GI);
    assert_int_equal (nodestatus_parse_reserved ("cpu=1.5", &r, err, sizeof err), 0);
    assert_true (r.cpu_milli == 1500 && r.memory == 0);
    assert_int_equal (nodestatus_parse_reserved ("", &r, err, sizeof err), 0);
    assert_true (r.cpu_milli == 0 && r.memory == 0 && r.ephemeral_storage == 0);
    assert_int_equal (nodestatus_parse_reserved (NULL, &r, err, sizeof err), 0);

    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"memory=1Gx", "memory: quantity \"1Gx\": unknown suffix \"Gx\""},
        {"cpu=-1", "cpu: \"-1\": must be greater than or equal to 0"},
        {"gpu=1", "gpu: unsupported resource"},
        {"pid=100", "pid: unsupported resource"},
        {"cpu", "\"cpu\": expected resource=quantity"},
        {"cpu=1,,memory=1Gi", "an empty item at offset 6"},
        {"cpu=1,", "an empty item at the end"},
        {"cpu=0x10", "cpu: quantity \"0x10\": invalid character 'x'"},
        {"memory=", "memory: quantity \"\": empty string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nodestatus_res_t keep = {.cpu_milli = 7};
        err[0] = 0;
        int rc = nodestatus_parse_reserved (bad[i].in, &keep, err, sizeof err);
        if (rc != -1 || !strstr (err, bad[i].msg) || keep.cpu_milli != 7)
            fail_msg ("\"%s\": rc %d err \"%s\", want \"%s\"", bad[i].in, rc, err, bad[i].msg);
    }
}

static void
eviction_flags (void **state)
{
    (void) state;
    nodestatus_config_t c;
    char err[400];
    nodestatus_config_default (&c);
    assert_true (c.max_pods == 110);
    assert_true (c.memory_available.set && c.memory_available.percent < 0 && c.memory_available.value == 100 * MI);
    assert_true (c.nodefs_available.set && c.nodefs_available.percent == 10);
    assert_true (c.nodefs_inodes_free.set && c.nodefs_inodes_free.percent == 5);
    assert_false (c.pid_available.set);   /* the kubelet has no default pid.available */

    assert_int_equal (nodestatus_parse_eviction ("memory.available<1Gi,pid.available<10%", &c, err, sizeof err), 0);
    assert_true (c.memory_available.value == GI && c.pid_available.set && c.pid_available.percent == 10);
    assert_true (c.nodefs_available.percent == 10);   /* unnamed: unchanged */
    assert_int_equal (nodestatus_parse_eviction ("pid.available<1000", &c, err, sizeof err), 0);
    assert_true (c.pid_available.value == 1000 && c.pid_available.percent == -1);
    assert_int_equal (nodestatus_parse_eviction ("", &c, err, sizeof err), 0);
    assert_false (c.memory_available.set || c.nodefs_available.set || c.nodefs_inodes_free.set || c.pid_available.set);

    nodestatus_config_default (&c);
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"memory.available=1Gi", "expected signal<quantity"},
        {"memory.available<1Gb", "memory.available: quantity \"1Gb\": unknown suffix"},
        {"nodefs.available<110%", "a percentage must be an integer from 0% to 100%"},
        {"nodefs.available<x%", "a percentage must be an integer"},
        {"imagefs.available<15%", "imagefs.available: unsupported signal"},
        {"memory.available<-1", "must be greater than or equal to 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = nodestatus_parse_eviction (bad[i].in, &c, err, sizeof err);
        if (rc != -1 || !strstr (err, bad[i].msg))
            fail_msg ("\"%s\": rc %d err \"%s\", want \"%s\"", bad[i].in, rc, err, bad[i].msg);
    }
    assert_true (c.memory_available.value == 100 * MI);   /* a refused value changes nothing */
}

/* ---- measuring from fake trees -------------------------------------------------------------- */

static void
put (const char *path, const char *text)
{
    char p[1024];
    snprintf (p, sizeof p, "%s/%s", fixture_dir, path);
    /* mkdir -p of the parent */
    for (char *s = p + strlen (fixture_dir) + 1; (s = strchr (s, '/')); s++) {
        *s = 0;
        mkdir (p, 0755);
        *s = '/';
    }
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static void
proc_common (void)
{
    put ("proc/cpus", "8\n");
    put ("proc/meminfo", "MemTotal:       16318416 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n");
    put ("proc/loadavg", "0.50 0.40 0.30 3/1234 56789\n");
    put ("proc/sys/kernel/pid_max", "4194304\n");
    put ("proc/sys/kernel/threads-max", "100000\n");
}

static void
measure_cgroup_v1 (void **state)
{
    (void) state;
    proc_common ();
    /* hybrid v1 as this CI machine: a quota of 1.5 CPUs on a parent, 2Gi on the leaf */
    put ("proc/self/cgroup", "12:pids:/\n4:memory:/kubepods/pod1/agent\n3:cpu,cpuacct:/kubepods/pod1/agent\n0::/\n");
    put ("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    put ("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    put ("sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us", "150000\n");
    put ("sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us", "100000\n");
    put ("sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/agent/cpu.cfs_quota_us", "-1\n");
    put ("sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/agent/cpu.cfs_period_us", "100000\n");
    put ("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    put ("sys/fs/cgroup/memory/kubepods/memory.limit_in_bytes", "4294967296\n");
    put ("sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes", "100\n");
    put ("sys/fs/cgroup/memory/kubepods/pod1/agent/memory.limit_in_bytes", "2147483648\n");
    put ("sys/fs/cgroup/memory/kubepods/pod1/agent/memory.usage_in_bytes", "1073741824\n");
    put ("sys/fs/cgroup/unified/cgroup.controllers", "");
    nodestatus_measure_t m = {.runtime_ok = 1};
    assert_int_equal (nodestatus_measure (fixture_dir, "/tmp", &m), 0);
    assert_true (m.runtime_ok);   /* left alone */
    assert_true (m.online_cpus == 8);
    assert_true (m.cgroup_cpu_milli == 1500);
    assert_true (m.mem_total == 16318416LL * 1024);
    assert_true (m.mem_available == 8000000LL * 1024);
    assert_true (m.cgroup_mem_limit == 2 * GI);
    assert_true (m.cgroup_mem_usage == GI);
    assert_true (m.pid_max == 100000);   /* min(pid_max, threads-max) */
    assert_true (m.pids_running == 1234);
    assert_true (m.fs_bytes > 0 && m.fs_avail_bytes >= 0 && m.fs_inodes >= 0);

    nodestatus_config_t c;
    nodestatus_config_default (&c);
    nodestatus_res_t cap;
    nodestatus_capacity (&m, &c, &cap);
    assert_true (cap.cpu_milli == 1500);
    assert_true (cap.memory == 2 * GI);
    assert_true (cap.pods == 110);
    json_t *j = nodestatus_resources_json (&cap);
    assert_string_equal (tv_str (j, "cpu"), "1500m");
    assert_string_equal (tv_str (j, "memory"), "2Gi");
    assert_string_equal (tv_str (j, "pods"), "110");
    json_decref (j);
}

static void
measure_cgroup_v1_in_a_container (void **state)
{
    (void) state;
    proc_common ();
    /* the container sees its own cgroup as the mount's root: /docker/abc is not there */
    put ("proc/self/cgroup", "4:memory:/docker/abc\n3:cpu:/docker/abc\n");
    put ("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000\n");
    put ("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    put ("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
    put ("sys/fs/cgroup/memory/memory.usage_in_bytes", "500000000\n");
    nodestatus_measure_t m = {0};
    nodestatus_measure (fixture_dir, "/tmp", &m);
    assert_true (m.cgroup_cpu_milli == 500);
    assert_true (m.cgroup_mem_limit == 512 * MI);
    assert_true (m.cgroup_mem_usage == 500000000);
}

static void
measure_cgroup_v2 (void **state)
{
    (void) state;
    proc_common ();
    put ("proc/self/cgroup", "0::/system.slice/troupe.service\n");
    put ("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    put ("sys/fs/cgroup/system.slice/cpu.max", "max 100000\n");
    put ("sys/fs/cgroup/system.slice/memory.max", "max\n");
    put ("sys/fs/cgroup/system.slice/troupe.service/cpu.max", "250000 100000\n");
    put ("sys/fs/cgroup/system.slice/troupe.service/memory.max", "1073741824\n");
    put ("sys/fs/cgroup/system.slice/troupe.service/memory.current", "1048576\n");
    nodestatus_measure_t m = {0};
    nodestatus_measure (fixture_dir, "/tmp", &m);
    assert_true (m.cgroup_cpu_milli == 2500);
    assert_true (m.cgroup_mem_limit == GI);
    assert_true (m.cgroup_mem_usage == MI);
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    nodestatus_res_t cap;
    nodestatus_capacity (&m, &c, &cap);
    assert_true (cap.cpu_milli == 2500 && cap.memory == GI);
}

static void
measure_without_cgroups (void **state)
{
    (void) state;
    proc_common ();
    nodestatus_measure_t m = {0};
    nodestatus_measure (fixture_dir, "/nonexistent/data", &m);
    assert_true (m.cgroup_cpu_milli == -1 && m.cgroup_mem_limit == -1);
    assert_true (m.fs_bytes == -1);
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    nodestatus_res_t cap;
    nodestatus_capacity (&m, &c, &cap);
    assert_true (cap.cpu_milli == 8000 && cap.memory == 16318416LL * 1024 && cap.ephemeral_storage == 0);
    json_t *j = nodestatus_resources_json (&cap);
    assert_string_equal (tv_str (j, "cpu"), "8");
    assert_string_equal (tv_str (j, "memory"), "16318416Ki");
    assert_string_equal (tv_str (j, "ephemeral-storage"), "0");
    json_decref (j);
}

static void
measure_this_machine (void **state)
{
    (void) state;
    nodestatus_measure_t m = {0};
    nodestatus_measure ("", "/tmp", &m);
    assert_true (m.online_cpus >= 1);
    assert_true (m.mem_total > 0 && m.mem_available > 0);
    assert_true (m.fs_bytes > 0 && m.fs_inodes >= 0);
    assert_true (m.pid_max > 0 && m.pids_running > 0);
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    nodestatus_res_t cap;
    nodestatus_capacity (&m, &c, &cap);
    assert_true (cap.cpu_milli > 0 && cap.cpu_milli <= m.online_cpus * 1000);
    assert_true (cap.memory > 0 && cap.memory <= m.mem_total);
}

/* ---- deciding ------------------------------------------------------------------------------- */

static nodestatus_measure_t
healthy (void)
{
    nodestatus_measure_t m = {
        .online_cpus = 4, .cgroup_cpu_milli = -1, .mem_total = 8 * GI, .mem_available = 4 * GI,
        .cgroup_mem_limit = -1, .cgroup_mem_usage = -1, .fs_bytes = 100 * GI, .fs_avail_bytes = 50 * GI,
        .fs_inodes = 1000000, .fs_inodes_free = 500000, .pid_max = 100000, .pids_running = 500, .runtime_ok = 1,
    };
    return m;
}

static void
allocatable (void **state)
{
    (void) state;
    nodestatus_measure_t m = healthy ();
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    char err[200];
    assert_int_equal (nodestatus_parse_reserved ("cpu=100m,memory=100Mi,ephemeral-storage=1Gi", &c.kube_reserved, err, sizeof err), 0);
    assert_int_equal (nodestatus_parse_reserved ("cpu=400m,memory=300Mi", &c.system_reserved, err, sizeof err), 0);
    c.max_pods = 50;
    nodestatus_res_t cap, alloc;
    nodestatus_capacity (&m, &c, &cap);
    nodestatus_allocatable (&cap, &c, &alloc);
    assert_true (cap.cpu_milli == 4000 && alloc.cpu_milli == 3500);
    /* memory: capacity − 100Mi − 300Mi − evictionHard memory.available 100Mi */
    assert_true (alloc.memory == 8 * GI - 500 * MI);
    /* storage: capacity − 1Gi − nodefs.available 10% */
    assert_true (alloc.ephemeral_storage == 100 * GI - GI - 10 * GI);
    assert_true (cap.pods == 50 && alloc.pods == 50);
    json_t *j = nodestatus_resources_json (&alloc);
    assert_string_equal (tv_str (j, "cpu"), "3500m");
    assert_string_equal (tv_str (j, "memory"), "7692Mi");
    assert_string_equal (tv_str (j, "ephemeral-storage"), "89Gi");
    assert_string_equal (tv_str (j, "pods"), "50");
    json_decref (j);
    /* reservations larger than the machine leave 0, never a negative quantity */
    assert_int_equal (nodestatus_parse_reserved ("cpu=64,memory=1Ti", &c.system_reserved, err, sizeof err), 0);
    nodestatus_allocatable (&cap, &c, &alloc);
    assert_true (alloc.cpu_milli == 0 && alloc.memory == 0);
    /* defaults only: memory less 100Mi */
    nodestatus_config_default (&c);
    nodestatus_capacity (&m, &c, &cap);
    nodestatus_allocatable (&cap, &c, &alloc);
    assert_true (alloc.cpu_milli == 4000 && alloc.memory == 8 * GI - 100 * MI && alloc.pods == 110);
}

static const json_t *
cond (const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) if (!strcmp (tv_str (c, "type"), type)) return c;
    return NULL;
}

static void
expect (const json_t *conds, const char *type, const char *status, const char *reason, const char *msg)
{
    const json_t *c = cond (conds, type);
    assert_non_null (c);
    if (strcmp (tv_str (c, "status"), status) || strcmp (tv_str (c, "reason"), reason) ||
        !strstr (tv_str (c, "message"), msg))
        fail_msg ("%s: %s %s \"%s\", want %s %s \"%s\"", type, tv_str (c, "status"), tv_str (c, "reason"),
                  tv_str (c, "message"), status, reason, msg);
}

static void
conditions_healthy (void **state)
{
    (void) state;
    nodestatus_measure_t m = healthy ();
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    json_t *k = nodestatus_conditions (&m, &c, NULL, "2026-12-03T08:00:00Z");
    assert_int_equal (json_array_size (k), 4);
    /* the kubelet's order */
    assert_string_equal (tv_str (json_array_get (k, 0), "type"), "MemoryPressure");
    assert_string_equal (tv_str (json_array_get (k, 1), "type"), "DiskPressure");
    assert_string_equal (tv_str (json_array_get (k, 2), "type"), "PIDPressure");
    assert_string_equal (tv_str (json_array_get (k, 3), "type"), "Ready");
    expect (k, "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available");
    expect (k, "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure");
    expect (k, "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available");
    expect (k, "Ready", "True", "KubeletReady", "kubelet is posting ready status");
    assert_string_equal (tv_str (json_array_get (k, 3), "lastHeartbeatTime"), "2026-12-03T08:00:00Z");
    assert_string_equal (tv_str (json_array_get (k, 3), "lastTransitionTime"), "2026-12-03T08:00:00Z");
    json_decref (k);
}

static void
conditions_pressure (void **state)
{
    (void) state;
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    const char *now = "2026-12-03T08:00:00Z";

    /* memory.available < 100Mi: at 100Mi exactly there is no pressure */
    nodestatus_measure_t m = healthy ();
    m.mem_available = 100 * MI;
    json_t *k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "MemoryPressure", "False", "KubeletHasSufficientMemory", "");
    json_decref (k);
    m.mem_available = 100 * MI - 1;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available");
    expect (k, "Ready", "True", "KubeletReady", "");   /* pressure does not make a node NotReady */
    json_decref (k);
    /* a limited cgroup: what is left under its limit counts */
    m = healthy ();
    m.cgroup_mem_limit = GI;
    m.cgroup_mem_usage = GI - 50 * MI;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "MemoryPressure", "True", "KubeletHasInsufficientMemory", "");
    json_decref (k);

    /* nodefs.available < 10% */
    m = healthy ();
    m.fs_avail_bytes = 10 * GI;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "DiskPressure", "False", "KubeletHasNoDiskPressure", "");
    json_decref (k);
    m.fs_avail_bytes = 10 * GI - 1;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure");
    json_decref (k);
    /* nodefs.inodesFree < 5% */
    m = healthy ();
    m.fs_inodes_free = 49999;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "DiskPressure", "True", "KubeletHasDiskPressure", "");
    json_decref (k);

    /* pid.available: no default threshold; with pid.available<10% */
    m = healthy ();
    m.pids_running = 95000;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "PIDPressure", "False", "KubeletHasSufficientPID", "");
    json_decref (k);
    char err[200];
    assert_int_equal (nodestatus_parse_eviction ("pid.available<10%", &c, err, sizeof err), 0);
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available");
    json_decref (k);
    m.pids_running = 90000;   /* 10,000 left: not below 10% */
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "PIDPressure", "False", "KubeletHasSufficientPID", "");
    json_decref (k);

    /* unknown measurements never raise a pressure */
    nodestatus_config_default (&c);
    m = healthy ();
    m.mem_available = -1;
    m.fs_bytes = m.fs_avail_bytes = m.fs_inodes = m.fs_inodes_free = -1;
    k = nodestatus_conditions (&m, &c, NULL, now);
    expect (k, "MemoryPressure", "False", "KubeletHasSufficientMemory", "");
    expect (k, "DiskPressure", "False", "KubeletHasNoDiskPressure", "");
    json_decref (k);
}

static void
ready_follows_the_runtime (void **state)
{
    (void) state;
    nodestatus_config_t c;
    nodestatus_config_default (&c);
    nodestatus_measure_t m = healthy ();
    json_t *before = nodestatus_conditions (&m, &c, NULL, "2026-12-03T08:00:00Z");
    m.runtime_ok = 0;
    snprintf (m.runtime_msg, sizeof m.runtime_msg, "runtime shim ipc:///x/shim.sock: ListContainers failed: Unavailable");
    json_t *down = nodestatus_conditions (&m, &c, before, "2026-12-03T08:00:10Z");
    expect (down, "Ready", "False", "KubeletNotReady",
            "container runtime is down: runtime shim ipc:///x/shim.sock: ListContainers failed: Unavailable");
    /* Ready changed at 08:00:10; the pressures did not, and keep their transition time */
    assert_string_equal (tv_str (cond (down, "Ready"), "lastTransitionTime"), "2026-12-03T08:00:10Z");
    assert_string_equal (tv_str (cond (down, "MemoryPressure"), "lastTransitionTime"), "2026-12-03T08:00:00Z");
    assert_string_equal (tv_str (cond (down, "MemoryPressure"), "lastHeartbeatTime"), "2026-12-03T08:00:10Z");
    m.runtime_ok = 1;
    json_t *up = nodestatus_conditions (&m, &c, down, "2026-12-03T08:00:20Z");
    expect (up, "Ready", "True", "KubeletReady", "");
    assert_string_equal (tv_str (cond (up, "Ready"), "lastTransitionTime"), "2026-12-03T08:00:20Z");
    /* never heard from the runtime */
    m.runtime_ok = 0;
    m.runtime_msg[0] = 0;
    json_t *never = nodestatus_conditions (&m, &c, NULL, "2026-12-03T08:00:00Z");
    expect (never, "Ready", "False", "KubeletNotReady", "container runtime status check may not have completed yet");

    /* what makes the agent post: a status or reason, not a heartbeat */
    json_t *s1 = json_pack ("{s:O,s:{s:s},s:{s:s}}", "conditions", before, "capacity", "cpu", "4", "allocatable", "cpu", "4");
    json_t *s2 = json_pack ("{s:O,s:{s:s},s:{s:s}}", "conditions", up, "capacity", "cpu", "4", "allocatable", "cpu", "4");
    json_t *s3 = json_pack ("{s:O,s:{s:s},s:{s:s}}", "conditions", down, "capacity", "cpu", "4", "allocatable", "cpu", "4");
    json_t *s4 = json_pack ("{s:O,s:{s:s},s:{s:s}}", "conditions", up, "capacity", "cpu", "4", "allocatable", "cpu", "3");
    json_t *s5 = json_pack ("{s:[],s:{s:s},s:{s:s}}", "conditions", "capacity", "cpu", "4", "allocatable", "cpu", "4");
    assert_int_equal (nodestatus_changed (s1, s2), 0);   /* only times differ */
    assert_int_equal (nodestatus_changed (s1, s3), 1);
    assert_int_equal (nodestatus_changed (s2, s4), 1);
    assert_int_equal (nodestatus_changed (s5, s1), 1);   /* the node controller's Unknown-only status, say */
    json_decref (s1);
    json_decref (s2);
    json_decref (s3);
    json_decref (s4);
    json_decref (s5);
    json_decref (before);
    json_decref (down);
    json_decref (up);
    json_decref (never);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (reserved_flags),
        cmocka_unit_test (eviction_flags),
        cmocka_unit_test_setup_teardown (measure_cgroup_v1, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (measure_cgroup_v1_in_a_container, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (measure_cgroup_v2, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (measure_without_cgroups, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test (measure_this_machine),
        cmocka_unit_test (allocatable),
        cmocka_unit_test (conditions_healthy),
        cmocka_unit_test (conditions_pressure),
        cmocka_unit_test (ready_follows_the_runtime),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
