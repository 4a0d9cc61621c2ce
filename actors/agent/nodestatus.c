/* nodestatus — see nodestatus.h. */
#include "actors/agent/nodestatus.h"
#include "core/quantity.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MI (1024LL * 1024)

void
nodestatus_config_default (nodestatus_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->max_pods = 110;
    cfg->memory_available = (nodestatus_threshold_t) {.value = 100 * MI, .percent = -1, .set = 1};
    cfg->nodefs_available = (nodestatus_threshold_t) {.value = 0, .percent = 10, .set = 1};
    cfg->nodefs_inodes_free = (nodestatus_threshold_t) {.value = 0, .percent = 5, .set = 1};
    cfg->pid_available = (nodestatus_threshold_t) {.value = 0, .percent = -1, .set = 0};
}

/* Splits spec at ',' and calls fn on each non-empty "item"; -1 at the first refusal. */
static int
each_item (const char *spec, int (*fn) (const char *item, void *arg, char *err, size_t errlen), void *arg, char *err,
           size_t errlen)
{
    const char *p = spec ? spec : "";
    while (*p) {
        const char *end = strchr (p, ',');
        size_t n = end ? (size_t) (end - p) : strlen (p);
        char item[256];
        if (n == 0 || n >= sizeof item) {
            snprintf (err, errlen, "%s item at offset %zu", n ? "too long an" : "an empty", (size_t) (p - spec));
            return -1;
        }
        memcpy (item, p, n);
        item[n] = 0;
        if (fn (item, arg, err, errlen))
            return -1;
        p += n + (end ? 1 : 0);
        if (end && !*p) {
            snprintf (err, errlen, "an empty item at the end");
            return -1;
        }
    }
    return 0;
}

static int
reserved_item (const char *item, void *arg, char *err, size_t errlen)
{
    nodestatus_res_t *r = arg;
    const char *eq = strchr (item, '=');
    if (!eq) {
        snprintf (err, errlen, "\"%s\": expected resource=quantity (e.g. cpu=100m,memory=100Mi)", item);
        return -1;
    }
    char name[64];
    snprintf (name, sizeof name, "%.*s", (int) (eq - item), item);
    int64_t milli;
    char qe[200];
    if (quantity_parse_milli (eq + 1, &milli, qe, sizeof qe)) {
        snprintf (err, errlen, "%s: %s", name, qe);
        return -1;
    }
    if (milli < 0) {
        snprintf (err, errlen, "%s: \"%s\": must be greater than or equal to 0", name, eq + 1);
        return -1;
    }
    int64_t units = milli / 1000 + (milli % 1000 != 0);
    if (!strcmp (name, "cpu"))
        r->cpu_milli = milli;
    else if (!strcmp (name, "memory"))
        r->memory = units;
    else if (!strcmp (name, "ephemeral-storage"))
        r->ephemeral_storage = units;
    else {
        snprintf (err, errlen, "%s: unsupported resource (supported: cpu, memory, ephemeral-storage; pid is not "
                  "supported yet)", name);
        return -1;
    }
    return 0;
}

int
nodestatus_parse_reserved (const char *spec, nodestatus_res_t *out, char *err, size_t errlen)
{
    nodestatus_res_t r = {0};
    if (each_item (spec, reserved_item, &r, err, errlen))
        return -1;
    *out = r;
    return 0;
}

static int
eviction_item (const char *item, void *arg, char *err, size_t errlen)
{
    nodestatus_config_t *cfg = arg;
    const char *lt = strchr (item, '<');
    if (!lt) {
        snprintf (err, errlen, "\"%s\": expected signal<quantity or signal<percent%% (e.g. memory.available<100Mi)",
                  item);
        return -1;
    }
    char name[64];
    snprintf (name, sizeof name, "%.*s", (int) (lt - item), item);
    nodestatus_threshold_t *t = !strcmp (name, "memory.available")    ? &cfg->memory_available
                                : !strcmp (name, "nodefs.available")  ? &cfg->nodefs_available
                                : !strcmp (name, "nodefs.inodesFree") ? &cfg->nodefs_inodes_free
                                : !strcmp (name, "pid.available")     ? &cfg->pid_available
                                                                      : NULL;
    if (!t) {
        snprintf (err, errlen, "%s: unsupported signal (supported: memory.available, nodefs.available, "
                  "nodefs.inodesFree, pid.available; imagefs is the data directory's filesystem here)", name);
        return -1;
    }
    const char *v = lt + 1;
    size_t n = strlen (v);
    if (n && v[n - 1] == '%') {
        char *end;
        long pct = strtol (v, &end, 10);
        if (end == v || *end != '%' || pct < 0 || pct > 100) {
            snprintf (err, errlen, "%s: \"%s\": a percentage must be an integer from 0%% to 100%%", name, v);
            return -1;
        }
        *t = (nodestatus_threshold_t) {.value = 0, .percent = (int) pct, .set = 1};
        return 0;
    }
    int64_t units;
    char qe[200];
    if (quantity_parse (v, &units, qe, sizeof qe)) {
        snprintf (err, errlen, "%s: %s", name, qe);
        return -1;
    }
    if (units < 0) {
        snprintf (err, errlen, "%s: \"%s\": must be greater than or equal to 0", name, v);
        return -1;
    }
    *t = (nodestatus_threshold_t) {.value = units, .percent = -1, .set = 1};
    return 0;
}

int
nodestatus_parse_eviction (const char *spec, nodestatus_config_t *cfg, char *err, size_t errlen)
{
    nodestatus_config_t c = *cfg;
    if (spec && !*spec) {   /* "": no thresholds at all */
        c.memory_available.set = c.nodefs_available.set = c.nodefs_inodes_free.set = c.pid_available.set = 0;
    } else if (each_item (spec, eviction_item, &c, err, errlen))
        return -1;
    *cfg = c;
    return 0;
}

/* ---- measuring ------------------------------------------------------------------------------ */

/* The first integer in file root/path, or -1 (also for "max"). */
static int64_t
read_int (const char *root, const char *path)
{
    char p[1400], buf[64];
    snprintf (p, sizeof p, "%s%s", root, path);
    FILE *f = fopen (p, "r");
    if (!f)
        return -1;
    int64_t v = -1;
    if (fgets (buf, sizeof buf, f)) {
        char *end;
        long long x = strtoll (buf, &end, 10);
        if (end != buf)
            v = x;
    }
    fclose (f);
    return v;
}

/* "/proc/meminfo" field in bytes, or -1. */
static int64_t
meminfo (const char *root, const char *field)
{
    char p[1100], line[256];
    snprintf (p, sizeof p, "%s/proc/meminfo", root);
    FILE *f = fopen (p, "r");
    if (!f)
        return -1;
    int64_t v = -1;
    size_t n = strlen (field);
    while (fgets (line, sizeof line, f))
        if (!strncmp (line, field, n) && line[n] == ':') {
            v = atoll (line + n + 1) * 1024;
            break;
        }
    fclose (f);
    return v;
}

/* The cgroup directory (under root) of the controller for this process: v1 when a hierarchy
 * holds the controller, else the unified (v2) one when it enables the controller. Writes the
 * mount directory to mnt and the cgroup path to path; 1 = v1, 2 = v2, 0 = none. */
static int
cgroup_of (const char *root, const char *controller, char *mnt, size_t mntlen, char *path, size_t pathlen)
{
    char p[1100], line[1024];
    snprintf (p, sizeof p, "%s/proc/self/cgroup", root);
    FILE *f = fopen (p, "r");
    if (!f)
        return 0;
    int found = 0;
    char v2path[1024] = "";
    while (!found && fgets (line, sizeof line, f)) {
        line[strcspn (line, "\n")] = 0;
        char *c1 = strchr (line, ':');
        char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = 0;
        const char *ctrls = c1 + 1, *cg = c2 + 1;
        if (!*ctrls) {
            snprintf (v2path, sizeof v2path, "%s", cg);
            continue;
        }
        char list[256];
        snprintf (list, sizeof list, "%s", ctrls);
        for (char *save, *tok = strtok_r (list, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
            if (!strcmp (tok, controller))
                found = 1;
        if (found) {
            /* mounted as /sys/fs/cgroup/cpu,cpuacct (and often a cpu symlink), or by its name */
            snprintf (mnt, mntlen, "%s/sys/fs/cgroup/%s", root, ctrls);
            if (access (mnt, F_OK))
                snprintf (mnt, mntlen, "%s/sys/fs/cgroup/%s", root, controller);
            snprintf (path, pathlen, "%s", cg);
        }
    }
    fclose (f);
    if (found)
        return 1;
    if (!v2path[0])
        return 0;
    /* unified: the hierarchy is /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid
     * one (which has no controllers: v1 holds them) */
    snprintf (p, sizeof p, "%s/sys/fs/cgroup/cgroup.controllers", root);
    f = fopen (p, "r");
    if (!f)
        return 0;
    int enabled = 0;
    if (fgets (line, sizeof line, f)) {
        line[strcspn (line, "\n")] = 0;
        for (char *save, *tok = strtok_r (line, " ", &save); tok; tok = strtok_r (NULL, " ", &save))
            enabled |= !strcmp (tok, controller);
    }
    fclose (f);
    if (!enabled)
        return 0;
    snprintf (mnt, mntlen, "%s/sys/fs/cgroup", root);
    snprintf (path, pathlen, "%s", v2path);
    return 2;
}

/* Calls fn on dir = mnt + each of path, its parent ... "/" (a directory that is not there — the
 * agent in a container sees its own cgroup as the root — is skipped by fn failing to read). */
static void
walk_up (const char *mnt, const char *path, void (*fn) (const char *dir, void *arg), void *arg)
{
    char cur[1024];
    snprintf (cur, sizeof cur, "%s", path[0] ? path : "/");
    for (;;) {
        char dir[2200];
        snprintf (dir, sizeof dir, "%s%s", mnt, strcmp (cur, "/") ? cur : "");
        fn (dir, arg);
        char *slash = strrchr (cur, '/');
        if (!slash || slash == cur) {
            if (strcmp (cur, "/")) {
                strcpy (cur, "/");
                continue;
            }
            break;
        }
        *slash = 0;
    }
}

typedef struct {
    int v;
    int64_t best;    /* smallest limit */
    int64_t usage;   /* usage of the cgroup holding it */
} cg_acc_t;

static void
cpu_at (const char *dir, void *arg)
{
    cg_acc_t *a = arg;
    int64_t quota = -1, period = -1;
    if (a->v == 1) {
        quota = read_int (dir, "/cpu.cfs_quota_us");
        period = read_int (dir, "/cpu.cfs_period_us");
    } else {
        char p[2300], buf[64];
        snprintf (p, sizeof p, "%s/cpu.max", dir);
        FILE *f = fopen (p, "r");
        if (f) {
            long long q, per;
            if (fgets (buf, sizeof buf, f) && sscanf (buf, "%lld %lld", &q, &per) == 2)
                quota = q, period = per;
            fclose (f);
        }
    }
    if (quota > 0 && period > 0) {
        int64_t milli = quota * 1000 / period;
        if (a->best < 0 || milli < a->best)
            a->best = milli;
    }
}

static void
mem_at (const char *dir, void *arg)
{
    cg_acc_t *a = arg;
    int64_t limit = read_int (dir, a->v == 1 ? "/memory.limit_in_bytes" : "/memory.max");
    if (limit < 0 || limit >= (INT64_MAX / 2))   /* v1 writes "unlimited" as ~2^63 */
        return;
    if (a->best < 0 || limit < a->best) {
        a->best = limit;
        a->usage = read_int (dir, a->v == 1 ? "/memory.usage_in_bytes" : "/memory.current");
    }
}

int
nodestatus_measure (const char *root, const char *data_dir, nodestatus_measure_t *m)
{
    if (!root)
        root = "";
    int ok = m->runtime_ok;
    char msg[sizeof m->runtime_msg];
    memcpy (msg, m->runtime_msg, sizeof msg);
    memset (m, 0, sizeof *m);
    m->runtime_ok = ok;
    memcpy (m->runtime_msg, msg, sizeof msg);

    m->online_cpus = root[0] ? read_int (root, "/proc/cpus") : (int64_t) sysconf (_SC_NPROCESSORS_ONLN);
    m->mem_total = meminfo (root, "MemTotal");
    m->mem_available = meminfo (root, "MemAvailable");

    char mnt[1200], path[1024];
    cg_acc_t acc = {.best = -1, .usage = -1};
    if ((acc.v = cgroup_of (root, "cpu", mnt, sizeof mnt, path, sizeof path)))
        walk_up (mnt, path, cpu_at, &acc);
    m->cgroup_cpu_milli = acc.best;
    acc = (cg_acc_t) {.best = -1, .usage = -1};
    if ((acc.v = cgroup_of (root, "memory", mnt, sizeof mnt, path, sizeof path)))
        walk_up (mnt, path, mem_at, &acc);
    m->cgroup_mem_limit = acc.best;
    m->cgroup_mem_usage = acc.usage;

    struct statvfs st;
    if (data_dir && statvfs (data_dir, &st) == 0) {
        m->fs_bytes = (int64_t) st.f_blocks * (int64_t) st.f_frsize;
        m->fs_avail_bytes = (int64_t) st.f_bavail * (int64_t) st.f_frsize;
        m->fs_inodes = (int64_t) st.f_files;
        m->fs_inodes_free = (int64_t) st.f_ffree;
    } else
        m->fs_bytes = m->fs_avail_bytes = m->fs_inodes = m->fs_inodes_free = -1;

    int64_t pid_max = read_int (root, "/proc/sys/kernel/pid_max");
    int64_t threads_max = read_int (root, "/proc/sys/kernel/threads-max");
    m->pid_max = pid_max < 0 ? threads_max : threads_max < 0 ? pid_max : pid_max < threads_max ? pid_max : threads_max;
    m->pids_running = -1;
    char p[1100], buf[256];
    snprintf (p, sizeof p, "%s/proc/loadavg", root);
    FILE *f = fopen (p, "r");
    if (f) {
        long long running, total;
        if (fgets (buf, sizeof buf, f) && sscanf (buf, "%*s %*s %*s %lld/%lld", &running, &total) == 2)
            m->pids_running = total;
        fclose (f);
    }
    return 0;
}

/* ---- deciding ------------------------------------------------------------------------------- */

void
nodestatus_capacity (const nodestatus_measure_t *m, const nodestatus_config_t *cfg, nodestatus_res_t *cap)
{
    cap->cpu_milli = m->online_cpus > 0 ? m->online_cpus * 1000 : 0;
    if (m->cgroup_cpu_milli >= 0 && (cap->cpu_milli == 0 || m->cgroup_cpu_milli < cap->cpu_milli))
        cap->cpu_milli = m->cgroup_cpu_milli;
    cap->memory = m->mem_total > 0 ? m->mem_total : 0;
    if (m->cgroup_mem_limit >= 0 && (cap->memory == 0 || m->cgroup_mem_limit < cap->memory))
        cap->memory = m->cgroup_mem_limit;
    cap->ephemeral_storage = m->fs_bytes > 0 ? m->fs_bytes : 0;
    cap->pods = cfg->max_pods;
}

/* The threshold t as an absolute amount of a signal whose capacity is cap. */
static int64_t
threshold_of (const nodestatus_threshold_t *t, int64_t cap)
{
    if (!t->set)
        return 0;
    if (t->percent >= 0)
        return cap / 100 * t->percent + cap % 100 * t->percent / 100;
    return t->value;
}

static int64_t
sub0 (int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t r = a - b - c - d;
    return r > 0 ? r : 0;
}

void
nodestatus_allocatable (const nodestatus_res_t *cap, const nodestatus_config_t *cfg, nodestatus_res_t *alloc)
{
    alloc->cpu_milli = sub0 (cap->cpu_milli, cfg->kube_reserved.cpu_milli, cfg->system_reserved.cpu_milli, 0);
    alloc->memory = sub0 (cap->memory, cfg->kube_reserved.memory, cfg->system_reserved.memory,
                          threshold_of (&cfg->memory_available, cap->memory));
    alloc->ephemeral_storage = sub0 (cap->ephemeral_storage, cfg->kube_reserved.ephemeral_storage,
                                     cfg->system_reserved.ephemeral_storage,
                                     threshold_of (&cfg->nodefs_available, cap->ephemeral_storage));
    alloc->pods = cap->pods;
}

static json_t *
bytes_json (int64_t bytes)
{
    char buf[QUANTITY_STRLEN];
    if (bytes > INT64_MAX / 1000)
        snprintf (buf, sizeof buf, "%lld", (long long) bytes);
    else
        quantity_format (bytes * 1000, QUANTITY_BINARY_SI, buf, sizeof buf);
    return json_string (buf);
}

json_t *
nodestatus_resources_json (const nodestatus_res_t *r)
{
    char cpu[QUANTITY_STRLEN], pods[32];
    quantity_format (r->cpu_milli, QUANTITY_DECIMAL_SI, cpu, sizeof cpu);
    snprintf (pods, sizeof pods, "%lld", (long long) r->pods);
    return json_pack ("{s:s,s:o,s:o,s:s}", "cpu", cpu, "memory", bytes_json (r->memory), "ephemeral-storage",
                      bytes_json (r->ephemeral_storage), "pods", pods);
}

static json_t *
condition (const char *type, int status, const char *reason, const char *message, const json_t *prev, const char *now)
{
    const char *st = status ? "True" : "False";
    const char *since = now;
    size_t i;
    json_t *c;
    json_array_foreach (prev, i, c) {
        if (!tv_str (c, "type") || strcmp (tv_str (c, "type"), type))
            continue;
        if (tv_str (c, "status") && !strcmp (tv_str (c, "status"), st) && tv_str (c, "lastTransitionTime"))
            since = tv_str (c, "lastTransitionTime");
        break;
    }
    return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", st, "lastHeartbeatTime", now,
                      "lastTransitionTime", since, "reason", reason, "message", message);
}

json_t *
nodestatus_conditions (const nodestatus_measure_t *m, const nodestatus_config_t *cfg, const json_t *prev,
                       const char *now)
{
    nodestatus_res_t cap;
    nodestatus_capacity (m, cfg, &cap);

    /* memory.available: what the machine has free, or what the agent's limited cgroup has left */
    int64_t mem_avail = m->mem_available;
    if (m->cgroup_mem_limit >= 0 && m->cgroup_mem_usage >= 0) {
        int64_t left = m->cgroup_mem_limit - m->cgroup_mem_usage;
        if (mem_avail < 0 || left < mem_avail)
            mem_avail = left < 0 ? 0 : left;
    }
    int mem_pressure = cfg->memory_available.set && mem_avail >= 0 &&
                       mem_avail < threshold_of (&cfg->memory_available, cap.memory);
    int disk_pressure = (cfg->nodefs_available.set && m->fs_bytes > 0 && m->fs_avail_bytes >= 0 &&
                         m->fs_avail_bytes < threshold_of (&cfg->nodefs_available, m->fs_bytes)) ||
                        (cfg->nodefs_inodes_free.set && m->fs_inodes > 0 && m->fs_inodes_free >= 0 &&
                         m->fs_inodes_free < threshold_of (&cfg->nodefs_inodes_free, m->fs_inodes));
    int pid_pressure = cfg->pid_available.set && m->pid_max > 0 && m->pids_running >= 0 &&
                       m->pid_max - m->pids_running < threshold_of (&cfg->pid_available, m->pid_max);

    char ready_msg[600];
    if (m->runtime_ok)
        snprintf (ready_msg, sizeof ready_msg, "kubelet is posting ready status");
    else
        snprintf (ready_msg, sizeof ready_msg, "container runtime is down: %s",
                  m->runtime_msg[0] ? m->runtime_msg : "container runtime status check may not have completed yet");
    return json_pack (
        "[o,o,o,o]",
        mem_pressure ? condition ("MemoryPressure", 1, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available", prev, now)
                     : condition ("MemoryPressure", 0, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", prev, now),
        disk_pressure ? condition ("DiskPressure", 1, "KubeletHasDiskPressure", "kubelet has disk pressure", prev, now)
                      : condition ("DiskPressure", 0, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", prev, now),
        pid_pressure ? condition ("PIDPressure", 1, "KubeletHasInsufficientPID", "kubelet has insufficient PID available", prev, now)
                     : condition ("PIDPressure", 0, "KubeletHasSufficientPID", "kubelet has sufficient PID available", prev, now),
        condition ("Ready", m->runtime_ok, m->runtime_ok ? "KubeletReady" : "KubeletNotReady", ready_msg, prev, now));
}

int
nodestatus_changed (const json_t *a, const json_t *b)
{
    if (!json_equal (tv_get (a, "capacity"), tv_get (b, "capacity")) ||
        !json_equal (tv_get (a, "allocatable"), tv_get (b, "allocatable")))
        return 1;
    json_t *ca = tv_get (a, "conditions"), *cb = tv_get (b, "conditions");
    if (json_array_size (ca) != json_array_size (cb))
        return 1;
    for (size_t i = 0; i < json_array_size (ca); i++) {
        json_t *x = json_array_get (ca, i), *y = json_array_get (cb, i);
        static const char *keys[] = {"type", "status", "reason", "message"};
        for (int k = 0; k < 4; k++) {
            const char *s = tv_str (x, keys[k]), *t = tv_str (y, keys[k]);
            if (!s || !t || strcmp (s, t))
                return 1;
        }
    }
    return 0;
}
