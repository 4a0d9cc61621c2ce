/* The config.json of ocispec_build run for real by Debian's runc (1.1.5, libseccomp 2.5.4) over a
 * busybox-static rootfs: runc accepts it and the container gets what it says — the uid asked,
 * NoNewPrivs, the default capability set (CapEff a80425fb) or none, /proc/sys mounted read-only
 * (busybox's `test -w` is always true for root, so /proc/self/mountinfo is read instead),
 * /proc/kcore masked, a read-only rootfs, the pids and memory limits in its cgroup, and the
 * RuntimeDefault seccomp profile refusing unshare(2) with EPERM — where the same container with
 * seccompProfile Unconfined may unshare, so the refusal is seccomp's (a user namespace needs no
 * capability, only the profile forbids it).
 * The pod's cgroups are made under /sys/fs/cgroup/<controller>/troupe-test-<pid>/… and removed
 * with cgroup_remove_pod, which must leave none behind.
 * Needs root, runc and /bin/busybox (busybox-static): exits 77 saying which is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runtime-shims/oci/cgroup.h"
#include "runtime-shims/oci/ocispec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];       /* the temp dir: bundle/, state/, out */
static char pod_root[128];  /* "/troupe-test-<pid>" */
static int seq;

static void
sh (const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    if (system (cmd) != 0)
        fprintf (stderr, "command failed: %s\n", cmd);
}

static char *
slurp (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return strdup ("");
    static char buf[65536];
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose (f);
    return strdup (buf);
}

/* Builds the config for req, runs it with runc, returns its stdout+stderr (caller frees). */
static char *
run (json_t *req)
{
    char id[64], cgpath[256], err[256];
    snprintf (id, sizeof id, "troupe-test-%d-%d", (int) getpid (), ++seq);
    snprintf (cgpath, sizeof cgpath, "%s/kubepods/besteffort/podtest/%s", pod_root, id);
    char rootfs[512];
    snprintf (rootfs, sizeof rootfs, "%s/bundle/rootfs", dir);
    ocispec_opts_t o = {.rootfs = rootfs, .hostname = "runc-test", .cgroups_path = cgpath};
    json_t *spec = ocispec_build (req, NULL, &o, err, sizeof err);
    assert_non_null (spec);
    char cfg[512];
    snprintf (cfg, sizeof cfg, "%s/bundle/config.json", dir);
    assert_int_equal (json_dump_file (spec, cfg, JSON_INDENT (1)), 0);
    json_decref (spec);
    sh ("runc --root %s/state run --bundle %s/bundle %s >%s/out 2>&1 </dev/null", dir, dir, id, dir);
    sh ("runc --root %s/state delete -f %s >/dev/null 2>&1 || true", dir, id);
    char out[512];
    snprintf (out, sizeof out, "%s/out", dir);
    char *s = slurp (out);
    printf ("--- %s\n%s---\n", id, s);
    return s;
}

static json_t *
script (const char *body)
{
    return json_pack ("{s:[s,s,s]}", "command", "/bin/sh", "-c", body);
}

/* Root, default securityContext, resources: what a plain Kubernetes container gets. */
static void
default_container_is_confined (void **state)
{
    (void) state;
    json_t *req = script ("id -u; grep -E '^(NoNewPrivs|CapEff)' /proc/self/status; "
                          "grep -q ' /proc/sys ro,' /proc/self/mountinfo && echo proc-sys-ro; "
                          "test -s /proc/kcore || echo kcore-masked; "
                          "echo pids=$(cat /sys/fs/cgroup/pids/pids.max); "
                          "echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); "
                          "unshare -U true || echo unshare-refused; echo end");
    /* allowPrivilegeEscalation defaults to true in Kubernetes (NoNewPrivs 0): asked off here */
    json_object_set_new (req, "securityContext",
                         json_pack ("{s:i, s:b}", "runAsUser", 0, "allowPrivilegeEscalation", 0));
    json_object_set_new (req, "linux", json_pack ("{s:i, s:i, s:i, s:i, s:i}", "pidsLimit", 64, "memoryLimitBytes",
                                                  64 << 20, "cpuShares", 512, "cpuQuota", 50000, "cpuPeriod", 100000));
    char *out = run (req);
    json_decref (req);

    /* the effective set the builder wrote, as a mask */
    char err[256];
    ocispec_opts_t o = {.rootfs = "/r"};
    json_t *x = script ("x");
    json_t *spec = ocispec_build (x, NULL, &o, err, sizeof err);
    json_decref (x);
    unsigned long long mask = 0;
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get (json_object_get (json_object_get (spec, "process"), "capabilities"), "effective"), i, c) {
        for (int n = 0; ocispec_all_caps[n]; n++)
            if (!strcmp (ocispec_all_caps[n], json_string_value (c)))
                mask |= 1ULL << n;
    }
    json_decref (spec);
    assert_int_equal (mask, 0xa80425fbULL); /* Docker's and containerd's well-known default */
    char want[64];
    snprintf (want, sizeof want, "CapEff:\t%016llx\n", mask);

    assert_true (strncmp (out, "0\n", 2) == 0); /* id -u */
    assert_non_null (strstr (out, want));
    assert_non_null (strstr (out, "NoNewPrivs:\t1\n"));
    assert_non_null (strstr (out, "proc-sys-ro\n"));
    assert_non_null (strstr (out, "kcore-masked\n"));
    assert_non_null (strstr (out, "pids=64\n"));
    assert_non_null (strstr (out, "mem=67108864\n"));
    assert_non_null (strstr (out, "Operation not permitted"));
    assert_non_null (strstr (out, "unshare-refused\n"));
    assert_non_null (strstr (out, "end\n"));
    free (out);
}

/* The control: the same unshare succeeds without the profile, so the EPERM above was seccomp's. */
static void
unconfined_may_unshare (void **state)
{
    (void) state;
    json_t *req = script ("unshare -U true && echo unshare-ok; grep -E '^Seccomp:' /proc/self/status");
    json_object_set_new (req, "securityContext",
                         json_pack ("{s:i, s:{s:s}}", "runAsUser", 0, "seccompProfile", "type", "Unconfined"));
    char *out = run (req);
    json_decref (req);
    assert_non_null (strstr (out, "unshare-ok\n"));
    assert_non_null (strstr (out, "Seccomp:\t0\n"));
    free (out);
}

/* A non-root user with a read-only rootfs, no capabilities, escalation allowed. */
static void
non_root_read_only (void **state)
{
    (void) state;
    json_t *req = script ("id -u; id -g; id -G; grep -E '^(NoNewPrivs|CapEff|CapBnd|Seccomp):' /proc/self/status; "
                          "touch /x || echo rootfs-ro; echo end");
    json_object_set_new (req, "securityContext",
                         json_pack ("{s:i, s:i, s:[i], s:b, s:b, s:{s:[s]}}", "runAsUser", 1000, "runAsGroup", 1000,
                                    "supplementalGroups", 2000, "readOnlyRootFilesystem", 1,
                                    "allowPrivilegeEscalation", 1, "capabilities", "drop", "ALL"));
    char *out = run (req);
    json_decref (req);
    assert_non_null (strstr (out, "1000\n1000\n1000 2000\n"));
    assert_non_null (strstr (out, "NoNewPrivs:\t0\n"));
    assert_non_null (strstr (out, "CapEff:\t0000000000000000\n"));
    assert_non_null (strstr (out, "CapBnd:\t0000000000000000\n"));
    assert_non_null (strstr (out, "Seccomp:\t2\n"));
    assert_non_null (strstr (out, "Read-only file system"));
    assert_non_null (strstr (out, "rootfs-ro\n"));
    free (out);
}

static int
setup (void **state)
{
    (void) state;
    snprintf (dir, sizeof dir, "/tmp/troupe-ocispec.XXXXXX");
    if (!mkdtemp (dir))
        return -1;
    snprintf (pod_root, sizeof pod_root, "/troupe-test-%d", (int) getpid ());
    sh ("mkdir -p %s/state %s/bundle/rootfs/bin %s/bundle/rootfs/proc %s/bundle/rootfs/dev %s/bundle/rootfs/sys "
        "%s/bundle/rootfs/etc %s/bundle/rootfs/tmp",
        dir, dir, dir, dir, dir, dir, dir);
    sh ("cp /bin/busybox %s/bundle/rootfs/bin/busybox", dir);
    static const char *const applets[] = {"sh", "id", "cat", "grep", "test", "true", "unshare", "touch", "echo", NULL};
    for (const char *const *a = applets; *a; a++)
        sh ("ln -s busybox %s/bundle/rootfs/bin/%s", dir, *a);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    /* runc removed each container's cgroup; the pod's parents are ours to remove */
    cgroup_version_t v = cgroup_detect ("/sys/fs/cgroup");
    int rc = cgroup_remove_pod ("/sys/fs/cgroup", v, pod_root);
    char probe[256];
    snprintf (probe, sizeof probe, "/sys/fs/cgroup/%s%s", v == CGROUP_V2 ? "" : "memory", pod_root);
    int left = access (probe, F_OK) == 0;
    sh ("rm -rf %s", dir);
    if (rc != 0 || left) {
        fprintf (stderr, "cgroup_remove_pod %s: rc %d, %s\n", pod_root, rc, left ? "still there" : "gone");
        return -1;
    }
    return 0;
}

int
main (void)
{
    if (geteuid () != 0) {
        printf ("SKIP: runc needs root (euid %d)\n", (int) geteuid ());
        return 77;
    }
    if (system ("command -v runc >/dev/null 2>&1") != 0) {
        printf ("SKIP: runc is not installed (scripts/deps.sh installs it)\n");
        return 77;
    }
    if (access ("/bin/busybox", X_OK) != 0) {
        printf ("SKIP: /bin/busybox is missing (Debian's busybox-static)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (default_container_is_confined),
        cmocka_unit_test (unconfined_may_unshare),
        cmocka_unit_test (non_root_read_only),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
