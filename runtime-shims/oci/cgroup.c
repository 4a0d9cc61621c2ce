/* cgroup — see cgroup.h. The kubelet's QoS class, pod cgroup paths and per-container values,
 * plus the few file operations on a cgroup mount (detection, removal, OOM record). */
#include "runtime-shims/oci/cgroup.h"
#include "core/quantity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the kubelet's constants (pkg/kubelet/cm/helpers_linux.go, pkg/kubelet/qos/policy.go) */
#define MIN_SHARES 2
#define MAX_SHARES 262144
#define SHARES_PER_CPU 1024
#define MILLI_PER_CPU 1000
#define QUOTA_PERIOD 100000
#define MIN_QUOTA 1000
#define GUARANTEED_OOM_SCORE_ADJ (-997)
#define BESTEFFORT_OOM_SCORE_ADJ 1000

static int
fail (char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, errlen, fmt, ap);
        va_end (ap);
    }
    return -1;
}

/* A resource of a requests/limits map in milli units: 1 and *milli when set, non-zero and
 * parsable; 0 otherwise (Kubernetes ignores zero quantities for the QoS class). Quantities may be
 * strings ("500m") or JSON numbers. */
static int
res_milli (const json_t *map, const char *name, int64_t *milli)
{
    const json_t *v = json_object_get (map, name);
    char buf[64];
    const char *s;
    if (json_is_string (v))
        s = json_string_value (v);
    else if (json_is_integer (v)) {
        snprintf (buf, sizeof buf, "%lld", (long long) json_integer_value (v));
        s = buf;
    } else
        return 0;
    if (quantity_parse_milli (s, milli, NULL, 0) < 0 || *milli == 0)
        return 0;
    return 1;
}

static const char *const qos_resources[] = {"cpu", "memory"};

/* Kubernetes' GetPodQOS: sums of requests and limits over all containers, cpu and memory only. */
qos_class_t
cgroup_qos (const json_t *pod_spec)
{
    int64_t req_sum[2] = {0, 0}, lim_sum[2] = {0, 0};
    int req_any[2] = {0, 0}, lim_any[2] = {0, 0};
    int guaranteed = 1;
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (json_object_get (pod_spec, lists[l]), i, c) {
            const json_t *res = json_object_get (c, "resources");
            const json_t *requests = json_object_get (res, "requests");
            const json_t *limits = json_object_get (res, "limits");
            int limits_found = 0;
            for (int r = 0; r < 2; r++) {
                int64_t req = 0, lim = 0;
                int has_req = res_milli (requests, qos_resources[r], &req);
                int has_lim = res_milli (limits, qos_resources[r], &lim);
                if (!has_req && has_lim) { /* the API server's defaulting: request = limit */
                    req = lim;
                    has_req = 1;
                }
                if (has_req) {
                    req_sum[r] += req;
                    req_any[r] = 1;
                }
                if (has_lim) {
                    lim_sum[r] += lim;
                    lim_any[r] = 1;
                    limits_found++;
                }
            }
            if (limits_found < 2)
                guaranteed = 0;
        }
    }
    if (!req_any[0] && !req_any[1] && !lim_any[0] && !lim_any[1])
        return QOS_BESTEFFORT;
    /* Kubernetes also asks len(requests) == len(limits): implied here, since a Guaranteed
     * candidate has both limits everywhere and requests default to them */
    for (int r = 0; r < 2 && guaranteed; r++) {
        if (req_any[r] && (!lim_any[r] || lim_sum[r] != req_sum[r]))
            guaranteed = 0;
    }
    return guaranteed ? QOS_GUARANTEED : QOS_BURSTABLE;
}

const char *
cgroup_qos_name (qos_class_t q)
{
    switch (q) {
    case QOS_GUARANTEED: return "Guaranteed";
    case QOS_BURSTABLE: return "Burstable";
    default: return "BestEffort";
    }
}

void
cgroup_pod_path (const char *parent, qos_class_t q, const char *uid, char *buf, size_t len)
{
    if (!parent)
        parent = "";
    while (*parent == '/')
        parent++;
    int plen = (int) strlen (parent);
    while (plen > 0 && parent[plen - 1] == '/')
        plen--;
    const char *tier = q == QOS_BURSTABLE ? "/burstable" : q == QOS_BESTEFFORT ? "/besteffort" : "";
    snprintf (buf, len, "%s%.*s/kubepods%s/pod%s", plen ? "/" : "", plen, parent, tier, uid ? uid : "");
}

/* MilliCPUToShares */
static int64_t
milli_to_shares (int64_t milli)
{
    if (milli <= 0)
        return MIN_SHARES;
    int64_t shares = milli > INT64_MAX / SHARES_PER_CPU ? MAX_SHARES : milli * SHARES_PER_CPU / MILLI_PER_CPU;
    if (shares < MIN_SHARES)
        return MIN_SHARES;
    return shares > MAX_SHARES ? MAX_SHARES : shares;
}

/* MilliCPUToQuota: 0 = no quota */
static int64_t
milli_to_quota (int64_t milli, int64_t period)
{
    if (milli <= 0)
        return 0;
    if (milli > INT64_MAX / period)
        return INT64_MAX / MILLI_PER_CPU;
    int64_t quota = milli * period / MILLI_PER_CPU;
    return quota < MIN_QUOTA ? MIN_QUOTA : quota;
}

/* A container's resource in milli: 0 when absent; -1 with err when it does not parse. */
static int
container_milli (const json_t *map, const char *which, const char *name, int64_t *out, char *err, size_t errlen)
{
    *out = 0;
    const json_t *v = json_object_get (map, name);
    if (!v || json_is_null (v))
        return 0;
    char buf[64], qerr[160];
    const char *s;
    if (json_is_string (v))
        s = json_string_value (v);
    else if (json_is_integer (v)) {
        snprintf (buf, sizeof buf, "%lld", (long long) json_integer_value (v));
        s = buf;
    } else
        return fail (err, errlen, "resources.%s.%s: must be a quantity", which, name);
    if (quantity_parse_milli (s, out, qerr, sizeof qerr) < 0)
        return fail (err, errlen, "resources.%s.%s: %s", which, name, qerr);
    if (*out < 0)
        return fail (err, errlen, "resources.%s.%s: must not be negative", which, name);
    return 0;
}

json_t *
cgroup_container_resources (const json_t *container, qos_class_t q, int64_t node_memory_bytes, char *err,
                            size_t errlen)
{
    const json_t *res = json_object_get (container, "resources");
    const json_t *requests = json_object_get (res, "requests");
    const json_t *limits = json_object_get (res, "limits");
    int64_t cpu_req, cpu_lim, mem_req, mem_lim;
    if (container_milli (requests, "requests", "cpu", &cpu_req, err, errlen) < 0
        || container_milli (limits, "limits", "cpu", &cpu_lim, err, errlen) < 0
        || container_milli (requests, "requests", "memory", &mem_req, err, errlen) < 0
        || container_milli (limits, "limits", "memory", &mem_lim, err, errlen) < 0)
        return NULL;
    if (cpu_req == 0 && cpu_lim != 0) /* the kubelet repeats the API server's defaulting */
        cpu_req = cpu_lim;
    if (mem_req == 0 && mem_lim != 0)
        mem_req = mem_lim;
    /* memory in bytes, rounded up as Quantity.Value() */
    int64_t mem_limit_bytes = mem_lim / 1000 + (mem_lim % 1000 != 0);
    int64_t mem_req_bytes = mem_req / 1000 + (mem_req % 1000 != 0);

    int64_t oom;
    if (q == QOS_GUARANTEED)
        oom = GUARANTEED_OOM_SCORE_ADJ;
    else if (q == QOS_BESTEFFORT)
        oom = BESTEFFORT_OOM_SCORE_ADJ;
    else {
        if (node_memory_bytes <= 0)
            return fail (err, errlen, "node memory capacity: must be positive"), NULL;
        /* 1000 - 1000*request/capacity, without overflowing for huge requests */
        int64_t share = mem_req_bytes >= node_memory_bytes
                            ? 1000
                            : (int64_t) ((__int128) 1000 * mem_req_bytes / node_memory_bytes);
        oom = 1000 - share;
        if (oom < 1000 + GUARANTEED_OOM_SCORE_ADJ)
            oom = 1000 + GUARANTEED_OOM_SCORE_ADJ; /* above a Guaranteed pod using all memory */
        if (oom == BESTEFFORT_OOM_SCORE_ADJ)
            oom = BESTEFFORT_OOM_SCORE_ADJ - 1;   /* below BestEffort */
    }
    return json_pack ("{s:I, s:I, s:I, s:I, s:I}", "cpuShares", (json_int_t) milli_to_shares (cpu_req), "cpuQuota",
                      (json_int_t) milli_to_quota (cpu_lim, QUOTA_PERIOD), "cpuPeriod", (json_int_t) QUOTA_PERIOD,
                      "memoryLimitBytes", (json_int_t) mem_limit_bytes, "oomScoreAdj", (json_int_t) oom);
}

cgroup_version_t
cgroup_detect (const char *mount_root)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/cgroup.controllers", mount_root);
    return access (path, F_OK) == 0 ? CGROUP_V2 : CGROUP_V1;
}

/* A cgroup path relative to a controller root: absolute, no "..", not the root itself. */
static int
path_ok (const char *p)
{
    if (!p || p[0] != '/')
        return 0;
    const char *s = p;
    while (*s == '/')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0))
            return 0;
    }
    return 1;
}

/* Removes dir (relative to parent fd) and the directories below it, deepest first, never
 * following a symlink. 0 (also when it does not exist), or -1 when one could not go (busy). */
static int
rmdir_tree (int parent, const char *name, int depth)
{
    if (depth > 64)
        return -1;
    int fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *d = fdopendir (fd);
    if (!d) {
        close (fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
            continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat (fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
        }
        if (is_dir && rmdir_tree (fd, e->d_name, depth + 1) < 0)
            rc = -1;
    }
    closedir (d);
    if (unlinkat (parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

/* Removes mount_root/<sub>/<pod_path> (sub "" for v2). */
static int
remove_under (const char *mount_root, const char *sub, const char *pod_path)
{
    char base[4096];
    const char *slash = strrchr (pod_path, '/');
    snprintf (base, sizeof base, "%s%s%s%.*s", mount_root, *sub ? "/" : "", sub, (int) (slash - pod_path), pod_path);
    int dfd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    int rc = rmdir_tree (dfd, slash + 1, 0);
    close (dfd);
    return rc;
}

int
cgroup_remove_pod (const char *mount_root, cgroup_version_t v, const char *pod_path)
{
    char path[4096];
    snprintf (path, sizeof path, "%s", pod_path ? pod_path : "");
    size_t n = strlen (path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = 0;
    if (!path_ok (path))
        return -1;
    if (v == CGROUP_V2)
        return remove_under (mount_root, "", path);
    /* v1: every controller hierarchy mounted under the root (cpu, memory, pids, …; symlinks such
     * as cpu → cpu,cpuacct are skipped: their target is visited under its own name) */
    DIR *d = opendir (mount_root);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        char sub[4096];
        snprintf (sub, sizeof sub, "%s/%s", mount_root, e->d_name);
        if (lstat (sub, &st) < 0 || !S_ISDIR (st.st_mode))
            continue;
        if (remove_under (mount_root, e->d_name, path) < 0)
            rc = -1;
    }
    closedir (d);
    return rc;
}

/* The value of "key N" in a flat-keyed cgroup file: 1 found, 0 not (or no file). */
static int
read_key (const char *file, const char *key, long long *out)
{
    FILE *f = fopen (file, "re");
    if (!f)
        return 0;
    char line[256];
    size_t klen = strlen (key);
    int found = 0;
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, key, klen) == 0 && line[klen] == ' ') {
            *out = strtoll (line + klen + 1, NULL, 10);
            found = 1;
            break;
        }
    }
    fclose (f);
    return found;
}

int
cgroup_oom_killed (const char *mount_root, cgroup_version_t v, const char *container_path)
{
    if (!path_ok (container_path))
        return 0;
    char file[4096];
    long long n = 0;
    if (v == CGROUP_V2) {
        snprintf (file, sizeof file, "%s%s/memory.events", mount_root, container_path);
        return read_key (file, "oom_kill", &n) && n > 0;
    }
    snprintf (file, sizeof file, "%s/memory%s/memory.oom_control", mount_root, container_path);
    if (read_key (file, "oom_kill", &n)) /* Linux 4.13 and later count the kills */
        return n > 0;
    /* older kernels: the limit was hit (a kill is then the likely end of a process that stopped) */
    snprintf (file, sizeof file, "%s/memory%s/memory.failcnt", mount_root, container_path);
    FILE *f = fopen (file, "re");
    if (!f)
        return 0;
    if (fscanf (f, "%lld", &n) != 1)
        n = 0;
    fclose (f);
    return n > 0;
}
