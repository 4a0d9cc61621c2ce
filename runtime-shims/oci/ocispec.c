/* ocispec — see ocispec.h. The config.json of one container, built from the CreateContainer
 * request, the image's config and the sandbox's paths, with containerd's CRI defaults. */
#include "runtime-shims/oci/ocispec.h"
#include "core/errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* containerd's default capabilities for a container that is not privileged */
static const char *const default_caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FSETID",     "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",          "CAP_SETUID",     "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL,
};

/* Every capability Linux has, by number (0 … 40, CAP_LAST_CAP of Linux 5.9 and later). */
const char *const ocispec_all_caps[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    NULL,
};

/* containerd's defaults: paths hidden behind /dev/null (files) or an empty tmpfs (dirs) ... */
static const char *const masked_paths[] = {
    "/proc/acpi",        "/proc/kcore",     "/proc/keys",   "/proc/latency_stats",
    "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",     "/sys/devices/virtual/powercap", NULL,
};
/* ... and paths remounted read-only */
static const char *const readonly_paths[] = {
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static json_t *
strings (const char *const *v)
{
    json_t *a = json_array ();
    for (; *v; v++)
        json_array_append_new (a, json_string (*v));
    return a;
}

/* A list of strings in the request: absent or null → *out NULL; else it must be an array of
 * strings. */
static int
string_list (const json_t *v, const char *field, const json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!v || json_is_null (v))
        return 0;
    if (!json_is_array (v))
        return tr_errf (err, errlen, "%s: must be an array of strings", field);
    size_t i;
    json_t *s;
    json_array_foreach (v, i, s) {
        if (!json_is_string (s))
            return tr_errf (err, errlen, "%s[%zu]: must be a string", field, i);
    }
    *out = v;
    return 0;
}

/* An optional integer field: absent/null → 0 and *present 0. */
static int
int_field (const json_t *obj, const char *name, const char *path, json_int_t *out, int *present, char *err,
           size_t errlen)
{
    const json_t *v = json_object_get (obj, name);
    *out = 0;
    if (present)
        *present = 0;
    if (!v || json_is_null (v))
        return 0;
    if (!json_is_integer (v))
        return tr_errf (err, errlen, "%s.%s: must be an integer", path, name);
    *out = json_integer_value (v);
    if (present)
        *present = 1;
    return 0;
}

/* An optional boolean field, dflt when absent. */
static int
bool_field (const json_t *obj, const char *name, const char *path, int dflt, int *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get (obj, name);
    *out = dflt;
    if (!v || json_is_null (v))
        return 0;
    if (!json_is_boolean (v))
        return tr_errf (err, errlen, "%s.%s: must be true or false", path, name);
    *out = json_is_true (v);
    return 0;
}

static const char *
str_field (const json_t *obj, const char *name)
{
    const char *s = json_string_value (json_object_get (obj, name));
    return s && *s ? s : NULL;
}

/* --- process.args: Kubernetes' command/args over the image's Entrypoint/Cmd --- */

static int
build_args (const json_t *req, const json_t *img, json_t *process, char *err, size_t errlen)
{
    const json_t *command, *args, *entrypoint, *cmd;
    if (string_list (json_object_get (req, "command"), "command", &command, err, errlen) < 0
        || string_list (json_object_get (req, "args"), "args", &args, err, errlen) < 0
        || string_list (json_object_get (img, "Entrypoint"), "image config Entrypoint", &entrypoint, err, errlen) < 0
        || string_list (json_object_get (img, "Cmd"), "image config Cmd", &cmd, err, errlen) < 0)
        return -1;
    const json_t *head, *tail;
    if (command && json_array_size (command)) {
        head = command;   /* command replaces Entrypoint and drops Cmd */
        tail = args;
    } else if (args && json_array_size (args)) {
        head = entrypoint; /* args alone replace Cmd */
        tail = args;
    } else {
        head = entrypoint;
        tail = cmd;
    }
    json_t *out = json_array ();
    if (head)
        json_array_extend (out, (json_t *) head);
    if (tail)
        json_array_extend (out, (json_t *) tail);
    if (json_array_size (out) == 0) {
        json_decref (out);
        return tr_errf (err, errlen, "command: no command specified");
    }
    json_object_set_new (process, "args", out);
    return 0;
}

/* --- process.env --- */

static size_t
env_name_len (const char *kv)
{
    const char *eq = strchr (kv, '=');
    return eq ? (size_t) (eq - kv) : strlen (kv);
}

/* Sets kv ("NAME=value") in env: replaces an entry of the same name where it is, else appends. */
static void
env_set (json_t *env, const char *kv)
{
    size_t n = env_name_len (kv), i;
    json_t *v;
    json_array_foreach (env, i, v) {
        const char *cur = json_string_value (v);
        if (env_name_len (cur) == n && strncmp (cur, kv, n) == 0) {
            json_array_set_new (env, i, json_string (kv));
            return;
        }
    }
    json_array_append_new (env, json_string (kv));
}

static int
env_has (const json_t *env, const char *name)
{
    size_t n = strlen (name), i;
    json_t *v;
    json_array_foreach (env, i, v) {
        const char *cur = json_string_value (v);
        if (env_name_len (cur) == n && strncmp (cur, name, n) == 0)
            return 1;
    }
    return 0;
}

static int
build_env (const json_t *req, const json_t *img, const ocispec_opts_t *o, json_t *process, char *err,
           size_t errlen)
{
    const json_t *img_env;
    if (string_list (json_object_get (img, "Env"), "image config Env", &img_env, err, errlen) < 0)
        return -1;
    const json_t *env_req = json_object_get (req, "env");
    if (env_req && !json_is_null (env_req) && !json_is_array (env_req))
        return tr_errf (err, errlen, "env: must be an array of {name, value}");
    json_t *env = json_array ();
    if (o->hostname && *o->hostname) {
        char kv[300];
        snprintf (kv, sizeof kv, "HOSTNAME=%s", o->hostname);
        env_set (env, kv);
    }
    size_t i;
    json_t *v;
    json_array_foreach (img_env, i, v) {
        if (*json_string_value (v))
            env_set (env, json_string_value (v));
    }
    json_array_foreach (env_req, i, v) {
        const char *name = json_string_value (json_object_get (v, "name"));
        const json_t *val = json_object_get (v, "value");
        if (!name || !*name || strchr (name, '=')) {
            json_decref (env);
            return tr_errf (err, errlen, "env[%zu].name: %s", i,
                         !name || !*name ? "required" : "must not contain '='");
        }
        if (val && !json_is_null (val) && !json_is_string (val)) {
            json_decref (env);
            return tr_errf (err, errlen, "env[%zu].value: must be a string", i);
        }
        const char *value = val ? json_string_value (val) : NULL;
        size_t len = strlen (name) + (value ? strlen (value) : 0) + 2;
        char *kv = malloc (len);
        snprintf (kv, len, "%s=%s", name, value ? value : "");
        env_set (env, kv);
        free (kv);
    }
    if (!env_has (env, "PATH"))
        json_array_insert_new (env, 0, json_string (DEFAULT_PATH_ENV));
    json_object_set_new (process, "env", env);
    return 0;
}

/* --- process.user --- */

/* "123" → 0 and *out 123; anything else (a name, a sign, spaces, out of range) → -1. */
static int
parse_id (const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit ((unsigned char) s[i]))
            return -1;
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    if (v >= UINT32_MAX) /* (uid_t) -1 means "no change" to the kernel */
        return -1;
    *out = (uint32_t) v;
    return 0;
}

static int
id_field (const json_t *sc, const char *name, uint32_t *out, int *present, char *err, size_t errlen)
{
    json_int_t v;
    if (int_field (sc, name, "securityContext", &v, present, err, errlen) < 0)
        return -1;
    if (*present && (v < 0 || v >= (json_int_t) UINT32_MAX))
        return tr_errf (err, errlen, "securityContext.%s: %lld is not a valid id", name, (long long) v);
    *out = (uint32_t) v;
    return 0;
}

static int
build_user (const json_t *req, const json_t *img, const ocispec_opts_t *o, json_t *process, char *err,
            size_t errlen)
{
    const json_t *sc = json_object_get (req, "securityContext");
    uint32_t uid = 0, gid = 0, run_uid = 0, run_gid = 0;
    int have_uid, have_gid, nonroot;
    if (id_field (sc, "runAsUser", &run_uid, &have_uid, err, errlen) < 0
        || id_field (sc, "runAsGroup", &run_gid, &have_gid, err, errlen) < 0
        || bool_field (sc, "runAsNonRoot", "securityContext", 0, &nonroot, err, errlen) < 0)
        return -1;
    if (have_uid) {
        uid = run_uid;
        gid = o->user_resolved ? o->gid : 0;
    } else if (o->user_resolved) {
        uid = o->uid;
        gid = o->gid;
    } else {
        const char *user = str_field (img, "User");
        if (user) {
            const char *colon = strchr (user, ':');
            size_t ulen = colon ? (size_t) (colon - user) : strlen (user);
            if (parse_id (user, ulen, &uid) < 0 || (colon && parse_id (colon + 1, strlen (colon + 1), &gid) < 0))
                return tr_errf (err, errlen,
                             "image config User: \"%s\" is not numeric: resolve it against the rootfs "
                             "(ocispec_resolve_user) first",
                             user);
        }
    }
    if (have_gid)
        gid = run_gid;
    if (nonroot && uid == 0)
        return tr_errf (err, errlen, "securityContext.runAsNonRoot: container has runAsNonRoot and image will run as root");

    json_t *user = json_pack ("{s:I, s:I}", "uid", (json_int_t) uid, "gid", (json_int_t) gid);
    json_t *extra = json_array ();
    const json_t *groups = json_object_get (sc, "supplementalGroups");
    if (groups && !json_is_null (groups) && !json_is_array (groups)) {
        json_decref (user);
        json_decref (extra);
        return tr_errf (err, errlen, "securityContext.supplementalGroups: must be an array of integers");
    }
    size_t i;
    json_t *g;
    json_array_foreach (groups, i, g) {
        if (!json_is_integer (g) || json_integer_value (g) < 0 || json_integer_value (g) >= (json_int_t) UINT32_MAX) {
            json_decref (user);
            json_decref (extra);
            return tr_errf (err, errlen, "securityContext.supplementalGroups[%zu]: not a valid group id", i);
        }
        json_array_append (extra, g);
    }
    uint32_t fs_group;
    int have_fs;
    if (id_field (sc, "fsGroup", &fs_group, &have_fs, err, errlen) < 0) {
        json_decref (user);
        json_decref (extra);
        return -1;
    }
    if (have_fs)
        json_array_append_new (extra, json_integer (fs_group));
    if (json_array_size (extra))
        json_object_set_new (user, "additionalGids", extra);
    else
        json_decref (extra);
    json_object_set_new (process, "user", user);
    return 0;
}

/* --- capabilities --- */

/* "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" → "CAP_NET_ADMIN" in buf; -1 if Linux has no such
 * capability. */
static int
cap_name (const char *in, char *buf, size_t len)
{
    const char *p = in;
    if (strncasecmp (p, "CAP_", 4) == 0)
        p += 4;
    if (!*p || strlen (p) + 5 > len)
        return -1;
    strcpy (buf, "CAP_");
    for (size_t i = 0; p[i]; i++)
        buf[4 + i] = (char) toupper ((unsigned char) p[i]);
    buf[4 + strlen (p)] = 0;
    for (const char *const *c = ocispec_all_caps; *c; c++)
        if (strcmp (*c, buf) == 0)
            return 0;
    return -1;
}

static int
is_all (const char *s)
{
    return strcasecmp (s, "ALL") == 0 || strcasecmp (s, "CAP_ALL") == 0;
}

/* A capability set as one bit per capability number. */
static uint64_t
cap_bit (const char *name)
{
    for (int i = 0; ocispec_all_caps[i]; i++)
        if (strcmp (ocispec_all_caps[i], name) == 0)
            return 1ULL << i;
    return 0;
}

/* containerd's order: add ALL → every capability; drop ALL → none; then each added one; then
 * each dropped one (a capability both added and dropped ends dropped). */
static int
build_caps (const json_t *sc, int privileged, json_t *process, char *err, size_t errlen)
{
    uint64_t set = 0;
    for (const char *const *c = default_caps; *c; c++)
        set |= cap_bit (*c);
    const json_t *caps = json_object_get (sc, "capabilities");
    const json_t *add, *drop;
    if (string_list (json_object_get (caps, "add"), "securityContext.capabilities.add", &add, err, errlen) < 0
        || string_list (json_object_get (caps, "drop"), "securityContext.capabilities.drop", &drop, err, errlen) < 0)
        return -1;
    size_t i;
    json_t *v;
    uint64_t add_bits = 0, drop_bits = 0;
    int add_all = 0, drop_all = 0;
    char buf[64];
    json_array_foreach (add, i, v) {
        if (is_all (json_string_value (v)))
            add_all = 1;
        else if (cap_name (json_string_value (v), buf, sizeof buf) < 0)
            return tr_errf (err, errlen, "securityContext.capabilities.add[%zu]: unknown capability \"%s\"", i,
                         json_string_value (v));
        else
            add_bits |= cap_bit (buf);
    }
    json_array_foreach (drop, i, v) {
        if (is_all (json_string_value (v)))
            drop_all = 1;
        else if (cap_name (json_string_value (v), buf, sizeof buf) < 0)
            return tr_errf (err, errlen, "securityContext.capabilities.drop[%zu]: unknown capability \"%s\"", i,
                         json_string_value (v));
        else
            drop_bits |= cap_bit (buf);
    }
    if (privileged)
        set = ~0ULL;
    else {
        if (add_all)
            set = ~0ULL;
        if (drop_all)
            set = 0;
        set = (set | add_bits) & ~drop_bits;
    }
    json_t *list = json_array ();
    for (int n = 0; ocispec_all_caps[n]; n++)
        if (set & (1ULL << n))
            json_array_append_new (list, json_string (ocispec_all_caps[n]));
    json_object_set_new (process, "capabilities",
                         json_pack ("{s:O, s:O, s:O, s:[]}", "bounding", list, "effective", list, "permitted", list,
                                    "inheritable"));
    json_decref (list);
    return 0;
}

/* --- mounts --- */

static json_t *
mount_of (const char *dest, const char *type, const char *src, const char *const *opts)
{
    return json_pack ("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", src, "options",
                      strings (opts));
}

static size_t
path_depth (const char *p)
{
    size_t n = 0;
    for (const char *c = p; *c; c++)
        if (*c == '/' && c[1] && c[1] != '/')
            n++;
    return n;
}

static int
req_has_mount (const json_t *mounts, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach (mounts, i, m) {
        const char *d = json_string_value (json_object_get (m, "containerPath"));
        if (d && strcmp (d, dest) == 0)
            return 1;
    }
    return 0;
}

/* Appends the default mount unless a volume of the request takes its place (containerd does so
 * for /dev/shm, /etc/hosts ...: the user's mount wins). */
static void
add_default (json_t *out, const json_t *req_mounts, json_t *m)
{
    if (req_has_mount (req_mounts, json_string_value (json_object_get (m, "destination"))))
        json_decref (m);
    else
        json_array_append_new (out, m);
}

static int
build_mounts (const json_t *req, const ocispec_opts_t *o, int privileged, int ro_rootfs, json_t *spec,
              const char **rootfs_propagation, char *err, size_t errlen)
{
    const json_t *req_mounts = json_object_get (req, "mounts");
    if (req_mounts && !json_is_null (req_mounts) && !json_is_array (req_mounts))
        return tr_errf (err, errlen, "mounts: must be an array of {containerPath, hostPath, readonly}");
    size_t n = json_array_size (req_mounts), i;
    /* check the request first: nothing is built from a bad one */
    for (i = 0; i < n; i++) {
        const json_t *m = json_array_get (req_mounts, i);
        const char *c = json_string_value (json_object_get (m, "containerPath"));
        const char *h = json_string_value (json_object_get (m, "hostPath"));
        if (!c || c[0] != '/')
            return tr_errf (err, errlen, "mounts[%zu].containerPath: must be an absolute path", i);
        if (!h || h[0] != '/')
            return tr_errf (err, errlen, "mounts[%zu].hostPath: must be an absolute path", i);
        const json_t *ro = json_object_get (m, "readonly");
        if (ro && !json_is_null (ro) && !json_is_boolean (ro))
            return tr_errf (err, errlen, "mounts[%zu].readonly: must be true or false", i);
        const char *prop = json_string_value (json_object_get (m, "propagation"));
        if (prop && *prop && strcmp (prop, "PROPAGATION_PRIVATE") && strcmp (prop, "None")
            && strcmp (prop, "PROPAGATION_HOST_TO_CONTAINER") && strcmp (prop, "HostToContainer")
            && strcmp (prop, "PROPAGATION_BIDIRECTIONAL") && strcmp (prop, "Bidirectional"))
            return tr_errf (err, errlen, "mounts[%zu].propagation: unknown \"%s\"", i, prop);
    }

    json_t *out = json_array ();
    static const char *const proc_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *const pts_o[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL};
    static const char *const shm_o[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL};
    static const char *const mq_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const sys_ro[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    static const char *const sys_rw[] = {"nosuid", "noexec", "nodev", "rw", NULL};
    static const char *const cg_ro[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
    static const char *const cg_rw[] = {"nosuid", "noexec", "nodev", "relatime", "rw", NULL};
    static const char *const bind_rw[] = {"rbind", "rprivate", "rw", NULL};
    static const char *const bind_ro[] = {"rbind", "rprivate", "ro", NULL};

    add_default (out, req_mounts, mount_of ("/proc", "proc", "proc", proc_o));
    add_default (out, req_mounts, mount_of ("/dev", "tmpfs", "tmpfs", dev_o));
    add_default (out, req_mounts, mount_of ("/dev/pts", "devpts", "devpts", pts_o));
    if (o->shm_path)
        add_default (out, req_mounts, mount_of ("/dev/shm", "bind", o->shm_path, bind_rw));
    else
        add_default (out, req_mounts, mount_of ("/dev/shm", "tmpfs", "shm", shm_o));
    add_default (out, req_mounts, mount_of ("/dev/mqueue", "mqueue", "mqueue", mq_o));
    add_default (out, req_mounts, mount_of ("/sys", "sysfs", "sysfs", privileged ? sys_rw : sys_ro));
    add_default (out, req_mounts, mount_of ("/sys/fs/cgroup", "cgroup", "cgroup", privileged ? cg_rw : cg_ro));
    /* the sandbox's files follow the rootfs: read-only when it is */
    const char *const *etc_o = ro_rootfs ? bind_ro : bind_rw;
    if (o->hosts_path)
        add_default (out, req_mounts, mount_of ("/etc/hosts", "bind", o->hosts_path, etc_o));
    if (o->resolv_path)
        add_default (out, req_mounts, mount_of ("/etc/resolv.conf", "bind", o->resolv_path, etc_o));
    if (o->hostname_path)
        add_default (out, req_mounts, mount_of ("/etc/hostname", "bind", o->hostname_path, etc_o));

    /* the volumes, parents before children (containerd sorts by depth, stably) */
    size_t *order = calloc (n ? n : 1, sizeof *order);
    for (i = 0; i < n; i++)
        order[i] = i;
    for (i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        size_t cur = order[i], j = i;
        size_t d = path_depth (json_string_value (json_object_get (json_array_get (req_mounts, cur), "containerPath")));
        while (j > 0
               && path_depth (json_string_value (
                      json_object_get (json_array_get (req_mounts, order[j - 1]), "containerPath")))
                      > d) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = cur;
    }
    *rootfs_propagation = NULL;
    for (i = 0; i < n; i++) {
        const json_t *m = json_array_get (req_mounts, order[i]);
        const char *prop = json_string_value (json_object_get (m, "propagation"));
        const char *p = "rprivate";
        if (prop && (!strcmp (prop, "PROPAGATION_HOST_TO_CONTAINER") || !strcmp (prop, "HostToContainer"))) {
            p = "rslave";
            if (!*rootfs_propagation)
                *rootfs_propagation = "rslave";
        } else if (prop && (!strcmp (prop, "PROPAGATION_BIDIRECTIONAL") || !strcmp (prop, "Bidirectional"))) {
            p = "rshared";
            *rootfs_propagation = "rshared";
        }
        const char *opts[] = {"rbind", p, json_is_true (json_object_get (m, "readonly")) ? "ro" : "rw", NULL};
        json_array_append_new (out, mount_of (json_string_value (json_object_get (m, "containerPath")), "bind",
                                              json_string_value (json_object_get (m, "hostPath")), opts));
    }
    free (order);
    json_object_set_new (spec, "mounts", out);
    return 0;
}

/* --- linux.resources --- */

static int
build_resources (const json_t *req, json_t *linux_, json_t *process, int privileged, char *err, size_t errlen)
{
    const json_t *l = json_object_get (req, "linux");
    json_int_t shares, quota, period, mem, oom, pids;
    int have_oom;
    if (int_field (l, "cpuShares", "linux", &shares, NULL, err, errlen) < 0
        || int_field (l, "cpuQuota", "linux", &quota, NULL, err, errlen) < 0
        || int_field (l, "cpuPeriod", "linux", &period, NULL, err, errlen) < 0
        || int_field (l, "memoryLimitBytes", "linux", &mem, NULL, err, errlen) < 0
        || int_field (l, "oomScoreAdj", "linux", &oom, &have_oom, err, errlen) < 0
        || int_field (l, "pidsLimit", "linux", &pids, NULL, err, errlen) < 0)
        return -1;
    if (shares < 0)
        return tr_errf (err, errlen, "linux.cpuShares: must not be negative");
    if (period < 0 || (period && (period < 1000 || period > 1000000)))
        return tr_errf (err, errlen, "linux.cpuPeriod: must be between 1000 and 1000000 µs");
    if (mem < 0)
        return tr_errf (err, errlen, "linux.memoryLimitBytes: must not be negative");
    if (have_oom && (oom < -1000 || oom > 1000))
        return tr_errf (err, errlen, "linux.oomScoreAdj: must be between -1000 and 1000");
    json_t *r = json_object ();
    json_object_set_new (r, "devices", json_pack ("[{s:b, s:s}]", "allow", privileged, "access", "rwm"));
    if (shares || quota > 0 || period) {
        json_t *cpu = json_object ();
        if (shares)
            json_object_set_new (cpu, "shares", json_integer (shares));
        if (quota > 0)
            json_object_set_new (cpu, "quota", json_integer (quota));
        if (period)
            json_object_set_new (cpu, "period", json_integer (period));
        json_object_set_new (r, "cpu", cpu);
    }
    if (mem > 0) /* swap = limit: no swap beyond the memory limit */
        json_object_set_new (r, "memory", json_pack ("{s:I, s:I}", "limit", mem, "swap", mem));
    if (pids > 0)
        json_object_set_new (r, "pids", json_pack ("{s:I}", "limit", pids));
    json_object_set_new (linux_, "resources", r);
    if (have_oom)
        json_object_set_new (process, "oomScoreAdj", json_integer (oom));
    return 0;
}

/* --- the whole --- */

json_t *
ocispec_build (const json_t *req, const json_t *image_config, const ocispec_opts_t *o, char *err, size_t errlen)
{
    if (!json_is_object (req))
        return tr_errf (err, errlen, "request: must be an object"), NULL;
    if (!o || !o->rootfs || o->rootfs[0] != '/')
        return tr_errf (err, errlen, "rootfs: must be an absolute path"), NULL;
    const json_t *sc = json_object_get (req, "securityContext");
    if (sc && !json_is_null (sc) && !json_is_object (sc))
        return tr_errf (err, errlen, "securityContext: must be an object"), NULL;
    int privileged, allow_esc, ro_rootfs, tty;
    if (bool_field (sc, "privileged", "securityContext", 0, &privileged, err, errlen) < 0
        || bool_field (sc, "allowPrivilegeEscalation", "securityContext", 1, &allow_esc, err, errlen) < 0
        || bool_field (sc, "readOnlyRootFilesystem", "securityContext", 0, &ro_rootfs, err, errlen) < 0
        || bool_field (req, "tty", "request", 0, &tty, err, errlen) < 0)
        return NULL;
    const char *seccomp_type = str_field (json_object_get (sc, "seccompProfile"), "type");
    if (seccomp_type && strcmp (seccomp_type, "RuntimeDefault") && strcmp (seccomp_type, "Unconfined")) {
        if (!strcmp (seccomp_type, "Localhost"))
            tr_errf (err, errlen, "securityContext.seccompProfile.type: Localhost profiles are not supported");
        else
            tr_errf (err, errlen, "securityContext.seccompProfile.type: unknown \"%s\"", seccomp_type);
        return NULL;
    }

    json_t *spec = json_pack ("{s:s, s:{s:s, s:b}}", "ociVersion", "1.0.2", "root", "path", o->rootfs, "readonly",
                              ro_rootfs);
    json_t *process = json_pack ("{s:b}", "terminal", tty);
    json_t *linux_ = json_object ();
    json_object_set_new (spec, "process", process);
    json_object_set_new (spec, "linux", linux_);

    const char *cwd = str_field (req, "workingDir");
    if (!cwd)
        cwd = str_field (image_config, "WorkingDir");
    if (!cwd)
        cwd = "/";
    if (cwd[0] != '/') {
        tr_errf (err, errlen, "workingDir: \"%s\" must be an absolute path", cwd);
        goto bad;
    }
    if (build_args (req, image_config, process, err, errlen) < 0
        || build_env (req, image_config, o, process, err, errlen) < 0
        || build_user (req, image_config, o, process, err, errlen) < 0
        || build_caps (sc, privileged, process, err, errlen) < 0)
        goto bad;
    json_object_set_new (process, "cwd", json_string (cwd));
    json_object_set_new (process, "noNewPrivileges", json_boolean (!privileged && !allow_esc ? 1 : 0));

    const char *propagation = NULL;
    if (build_mounts (req, o, privileged, ro_rootfs, spec, &propagation, err, errlen) < 0)
        goto bad;
    if (propagation)
        json_object_set_new (linux_, "rootfsPropagation", json_string (propagation));

    /* namespaces: the host's network (and so its UTS, as containerd does) without a netns path */
    json_t *ns = json_pack ("[{s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type", "mount");
    if (o->netns_path) {
        json_array_append_new (ns, json_pack ("{s:s, s:s}", "type", "network", "path", o->netns_path));
        json_array_append_new (ns, json_pack ("{s:s}", "type", "uts"));
        if (o->hostname && *o->hostname)
            json_object_set_new (spec, "hostname", json_string (o->hostname));
    }
    json_object_set_new (linux_, "namespaces", ns);

    if (build_resources (req, linux_, process, privileged, err, errlen) < 0)
        goto bad;
    if (o->cgroups_path)
        json_object_set_new (linux_, "cgroupsPath", json_string (o->cgroups_path));
    if (!privileged) {
        json_object_set_new (linux_, "maskedPaths", strings (masked_paths));
        json_object_set_new (linux_, "readonlyPaths", strings (readonly_paths));
        if (!seccomp_type || strcmp (seccomp_type, "Unconfined"))
            json_object_set_new (
                linux_, "seccomp",
                ocispec_seccomp_default (json_object_get (json_object_get (process, "capabilities"), "bounding")));
    }
    return spec;
bad:
    json_decref (spec);
    return NULL;
}

json_t *
ocispec_exec_process (const json_t *ctr_process, const json_t *cmd, int tty, int rows, int cols, char *err,
                      size_t errlen)
{
    if (!json_is_object (ctr_process)) {
        snprintf (err, errlen, "the container's config.json has no process");
        return NULL;
    }
    if (!json_is_array (cmd) || !json_array_size (cmd)) {
        snprintf (err, errlen, "cmd: Required value");
        return NULL;
    }
    size_t i;
    json_t *a;
    json_array_foreach (cmd, i, a) {
        if (!json_is_string (a)) {
            snprintf (err, errlen, "cmd[%zu]: not a string", i);
            return NULL;
        }
    }
    json_t *p = json_deep_copy (ctr_process);
    json_object_set_new (p, "args", json_deep_copy (cmd));
    json_object_set_new (p, "terminal", json_boolean (tty));
    json_object_del (p, "consoleSize");
    if (tty && rows > 0 && cols > 0 && rows <= 65535 && cols <= 65535)
        json_object_set_new (p, "consoleSize", json_pack ("{s:i,s:i}", "height", rows, "width", cols));
    return p;
}
