/* ocispec_build (runtime-shims/oci/ocispec.c), table by table: Kubernetes' command/args over
 * the image's Entrypoint/Cmd, the env merge and PATH default, the working directory, the user
 * (numeric, uid:gid, resolved by name, runAsUser/runAsGroup, runAsNonRoot refused), the
 * capability sets (default, add, drop, ALL, privileged), noNewPrivileges, the read-only rootfs,
 * masked and read-only paths, the seccomp profile (present, its rules, absent when Unconfined
 * or privileged), namespaces with and without a netns, mounts (order, options, overrides),
 * resources and cgroupsPath; then ocispec_resolve_user over a fake rootfs, including the
 * symlinks and FIFO an image could plant. (tests/unit/test_ocispec_runc.c runs the result.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runtime-shims/oci/ocispec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char err[512];

static json_t *
parse (const char *s)
{
    if (!s)
        return NULL;
    json_error_t e;
    json_t *j = json_loads (s, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg ("bad test json %s: %s", s, e.text);
    return j;
}

static ocispec_opts_t
opts (void)
{
    return (ocispec_opts_t){.rootfs = "/run/troupe/rootfs/c1", .hostname = "web-0"};
}

/* Builds from JSON texts; NULL with err when the builder refuses. */
static json_t *
build_with (const char *req, const char *img, const ocispec_opts_t *o)
{
    json_t *r = parse (req), *i = parse (img);
    err[0] = 0;
    json_t *spec = ocispec_build (r, i, o, err, sizeof err);
    json_decref (r);
    json_decref (i);
    return spec;
}

static json_t *
build (const char *req, const char *img)
{
    ocispec_opts_t o = opts ();
    return build_with (req, img, &o);
}

static void
assert_json_eq (const json_t *got, const char *want_text)
{
    json_t *want = parse (want_text);
    if (!json_equal ((json_t *) got, want)) {
        char *g = json_dumps (got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg ("got %s, want %s", g ? g : "(null)", want_text);
    }
    json_decref (want);
}

static const json_t *
at (const json_t *j, const char *a, const char *b)
{
    const json_t *v = json_object_get (j, a);
    return b ? json_object_get (v, b) : v;
}

static int
has_string (const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (json_is_string (v) && !strcmp (json_string_value (v), s))
            return 1;
    }
    return 0;
}

#define HELLO "{\"command\":[\"/bin/true\"]}"

/* --- process.args --- */

static const struct {
    const char *req, *img, *args, *err;
} args_cases[] = {
    /* neither command nor args: Entrypoint + Cmd */
    {"{}", "{\"Entrypoint\":[\"/ep\",\"-x\"],\"Cmd\":[\"c1\",\"c2\"]}", "[\"/ep\",\"-x\",\"c1\",\"c2\"]", NULL},
    {"{\"command\":[],\"args\":[]}", "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}", "[\"/ep\",\"c1\"]", NULL},
    {"{}", "{\"Cmd\":[\"/bin/sh\"]}", "[\"/bin/sh\"]", NULL},
    {"{}", "{\"Entrypoint\":[\"/ep\"],\"Cmd\":null}", "[\"/ep\"]", NULL},
    /* command only: replaces Entrypoint and drops Cmd */
    {"{\"command\":[\"/x\"]}", "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}", "[\"/x\"]", NULL},
    {"{\"command\":[\"/x\"]}", NULL, "[\"/x\"]", NULL},
    /* command and args */
    {"{\"command\":[\"/x\",\"-v\"],\"args\":[\"a\",\"b\"]}", "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}",
     "[\"/x\",\"-v\",\"a\",\"b\"]", NULL},
    /* args only: Entrypoint + args, Cmd dropped */
    {"{\"args\":[\"a\"]}", "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}", "[\"/ep\",\"a\"]", NULL},
    {"{\"args\":[\"/bin/a\",\"b\"]}", "{\"Cmd\":[\"c1\"]}", "[\"/bin/a\",\"b\"]", NULL},
    /* nothing anywhere */
    {"{}", "{}", NULL, "command: no command specified"},
    {"{}", NULL, NULL, "command: no command specified"},
    {"{\"command\":[]}", "{\"Entrypoint\":[],\"Cmd\":[]}", NULL, "command: no command specified"},
    /* wrong types are named */
    {"{\"command\":\"/bin/sh\"}", NULL, NULL, "command: must be an array of strings"},
    {"{\"args\":[\"a\",1]}", NULL, NULL, "args[1]: must be a string"},
    {"{}", "{\"Cmd\":\"sh\"}", NULL, "image config Cmd: must be an array of strings"},
};

static void
args_merge (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof args_cases / sizeof args_cases[0]; i++) {
        json_t *spec = build (args_cases[i].req, args_cases[i].img);
        if (args_cases[i].err) {
            if (spec)
                fail_msg ("case %zu: built, want error %s", i, args_cases[i].err);
            assert_string_equal (err, args_cases[i].err);
        } else {
            if (!spec)
                fail_msg ("case %zu: %s", i, err);
            assert_json_eq (at (spec, "process", "args"), args_cases[i].args);
        }
        json_decref (spec);
    }
}

/* --- process.env --- */

static const struct {
    const char *req, *img, *env, *err;
} env_cases[] = {
    /* image's, then the container's (later wins in place), HOSTNAME, PATH kept */
    {"{\"command\":[\"/x\"],\"env\":[{\"name\":\"A\",\"value\":\"x\"},{\"name\":\"C\",\"value\":\"3\"}]}",
     "{\"Env\":[\"PATH=/img/bin\",\"A=1\",\"B=2\"]}", "[\"HOSTNAME=web-0\",\"PATH=/img/bin\",\"A=x\",\"B=2\",\"C=3\"]",
     NULL},
    /* no PATH anywhere: the default, first */
    {HELLO, NULL,
     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"HOSTNAME=web-0\"]", NULL},
    /* the container's PATH wins over the image's; an image may override HOSTNAME */
    {"{\"command\":[\"/x\"],\"env\":[{\"name\":\"PATH\",\"value\":\"/mine\"}]}", "{\"Env\":[\"HOSTNAME=img\",\"PATH=/img\"]}",
     "[\"HOSTNAME=img\",\"PATH=/mine\"]", NULL},
    /* a value may be empty or absent; a repeated name keeps its last value */
    {"{\"command\":[\"/x\"],\"env\":[{\"name\":\"E\"},{\"name\":\"F\",\"value\":\"\"},{\"name\":\"E\",\"value\":\"2\"},"
     "{\"name\":\"PATH\",\"value\":\"/p\"}]}",
     NULL, "[\"HOSTNAME=web-0\",\"E=2\",\"F=\",\"PATH=/p\"]", NULL},
    /* values may hold '=' */
    {"{\"command\":[\"/x\"],\"env\":[{\"name\":\"Q\",\"value\":\"a=b\"}]}", "{\"Env\":[\"PATH=/p\",\"Q=c=d\"]}",
     "[\"HOSTNAME=web-0\",\"PATH=/p\",\"Q=a=b\"]", NULL},
    {"{\"command\":[\"/x\"],\"env\":[{\"value\":\"v\"}]}", NULL, NULL, "env[0].name: required"},
    {"{\"command\":[\"/x\"],\"env\":[{\"name\":\"A\"},{\"name\":\"B=C\"}]}", NULL, NULL,
     "env[1].name: must not contain '='"},
    {"{\"command\":[\"/x\"],\"env\":[{\"name\":\"A\",\"value\":1}]}", NULL, NULL, "env[0].value: must be a string"},
    {"{\"command\":[\"/x\"],\"env\":{}}", NULL, NULL, "env: must be an array of {name, value}"},
};

static void
env_merge (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof env_cases / sizeof env_cases[0]; i++) {
        json_t *spec = build (env_cases[i].req, env_cases[i].img);
        if (env_cases[i].err) {
            if (spec)
                fail_msg ("case %zu: built, want error %s", i, env_cases[i].err);
            assert_string_equal (err, env_cases[i].err);
        } else {
            if (!spec)
                fail_msg ("case %zu: %s", i, err);
            assert_json_eq (at (spec, "process", "env"), env_cases[i].env);
        }
        json_decref (spec);
    }
}

/* --- process.cwd --- */

static void
working_dir (void **state)
{
    (void) state;
    static const struct {
        const char *req, *img, *cwd;
    } cases[] = {
        {"{\"command\":[\"/x\"],\"workingDir\":\"/w\"}", "{\"WorkingDir\":\"/iw\"}", "/w"},
        {"{\"command\":[\"/x\"],\"workingDir\":\"\"}", "{\"WorkingDir\":\"/iw\"}", "/iw"},
        {HELLO, "{\"WorkingDir\":\"/iw\"}", "/iw"},
        {HELLO, "{\"WorkingDir\":\"\"}", "/"},
        {HELLO, NULL, "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *spec = build (cases[i].req, cases[i].img);
        assert_non_null (spec);
        assert_string_equal (json_string_value (at (spec, "process", "cwd")), cases[i].cwd);
        json_decref (spec);
    }
    assert_null (build ("{\"command\":[\"/x\"],\"workingDir\":\"rel\"}", NULL));
    assert_string_equal (err, "workingDir: \"rel\" must be an absolute path");
}

/* --- process.user --- */

static const struct {
    const char *sc;     /* securityContext, or NULL */
    const char *image_user;
    int resolved;       /* opts.user_resolved with uid/gid below */
    uint32_t r_uid, r_gid;
    const char *user;   /* expected process.user, or NULL for an error */
    const char *err;
} user_cases[] = {
    {NULL, NULL, 0, 0, 0, "{\"uid\":0,\"gid\":0}", NULL},
    {NULL, "", 0, 0, 0, "{\"uid\":0,\"gid\":0}", NULL},
    {NULL, "1000", 0, 0, 0, "{\"uid\":1000,\"gid\":0}", NULL},
    {NULL, "1000:2000", 0, 0, 0, "{\"uid\":1000,\"gid\":2000}", NULL},
    {NULL, "nginx", 0, 0, 0, NULL,
     "image config User: \"nginx\" is not numeric: resolve it against the rootfs (ocispec_resolve_user) first"},
    {NULL, "1000:staff", 0, 0, 0, NULL,
     "image config User: \"1000:staff\" is not numeric: resolve it against the rootfs (ocispec_resolve_user) first"},
    {NULL, "-1", 0, 0, 0, NULL,
     "image config User: \"-1\" is not numeric: resolve it against the rootfs (ocispec_resolve_user) first"},
    /* resolved by the caller */
    {NULL, "nginx", 1, 101, 102, "{\"uid\":101,\"gid\":102}", NULL},
    /* runAsUser / runAsGroup override the image */
    {"{\"runAsUser\":5}", "1000:2000", 0, 0, 0, "{\"uid\":5,\"gid\":0}", NULL},
    {"{\"runAsUser\":5}", "nginx", 0, 0, 0, "{\"uid\":5,\"gid\":0}", NULL},
    {"{\"runAsUser\":5}", NULL, 1, 5, 50, "{\"uid\":5,\"gid\":50}", NULL},
    {"{\"runAsUser\":5,\"runAsGroup\":6}", "1000:2000", 0, 0, 0, "{\"uid\":5,\"gid\":6}", NULL},
    {"{\"runAsGroup\":7}", "1000:2000", 0, 0, 0, "{\"uid\":1000,\"gid\":7}", NULL},
    {"{\"runAsGroup\":7}", "nginx", 1, 101, 102, "{\"uid\":101,\"gid\":7}", NULL},
    /* runAsNonRoot */
    {"{\"runAsNonRoot\":true}", NULL, 0, 0, 0, NULL,
     "securityContext.runAsNonRoot: container has runAsNonRoot and image will run as root"},
    {"{\"runAsNonRoot\":true}", "0:5", 0, 0, 0, NULL,
     "securityContext.runAsNonRoot: container has runAsNonRoot and image will run as root"},
    {"{\"runAsNonRoot\":true,\"runAsUser\":0}", "1000", 0, 0, 0, NULL,
     "securityContext.runAsNonRoot: container has runAsNonRoot and image will run as root"},
    {"{\"runAsNonRoot\":true}", "root", 1, 0, 0, NULL,
     "securityContext.runAsNonRoot: container has runAsNonRoot and image will run as root"},
    {"{\"runAsNonRoot\":true}", "1000", 0, 0, 0, "{\"uid\":1000,\"gid\":0}", NULL},
    {"{\"runAsNonRoot\":true,\"runAsUser\":1}", NULL, 0, 0, 0, "{\"uid\":1,\"gid\":0}", NULL},
    {"{\"runAsNonRoot\":false}", NULL, 0, 0, 0, "{\"uid\":0,\"gid\":0}", NULL},
    /* groups */
    {"{\"runAsUser\":1,\"supplementalGroups\":[10,20],\"fsGroup\":30}", NULL, 0, 0, 0,
     "{\"uid\":1,\"gid\":0,\"additionalGids\":[10,20,30]}", NULL},
    /* bad values are named */
    {"{\"runAsUser\":-1}", NULL, 0, 0, 0, NULL, "securityContext.runAsUser: -1 is not a valid id"},
    {"{\"runAsUser\":\"5\"}", NULL, 0, 0, 0, NULL, "securityContext.runAsUser: must be an integer"},
    {"{\"runAsNonRoot\":1}", NULL, 0, 0, 0, NULL, "securityContext.runAsNonRoot: must be true or false"},
    {"{\"supplementalGroups\":[1,\"x\"]}", NULL, 0, 0, 0, NULL,
     "securityContext.supplementalGroups[1]: not a valid group id"},
};

static void
user (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof user_cases / sizeof user_cases[0]; i++) {
        char req[512], img[256] = "{}";
        snprintf (req, sizeof req, "{\"command\":[\"/x\"]%s%s}", user_cases[i].sc ? ",\"securityContext\":" : "",
                  user_cases[i].sc ? user_cases[i].sc : "");
        if (user_cases[i].image_user)
            snprintf (img, sizeof img, "{\"User\":\"%s\"}", user_cases[i].image_user);
        ocispec_opts_t o = opts ();
        o.user_resolved = user_cases[i].resolved;
        o.uid = user_cases[i].r_uid;
        o.gid = user_cases[i].r_gid;
        json_t *spec = build_with (req, img, &o);
        if (user_cases[i].err) {
            if (spec)
                fail_msg ("case %zu: built, want error %s", i, user_cases[i].err);
            assert_string_equal (err, user_cases[i].err);
        } else {
            if (!spec)
                fail_msg ("case %zu: %s", i, err);
            assert_json_eq (at (spec, "process", "user"), user_cases[i].user);
        }
        json_decref (spec);
    }
}

/* --- capabilities --- */

#define DEFAULT_CAPS                                                                                             \
    "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP "              \
    "CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE CAP_SETFCAP"

static const struct {
    const char *sc;
    const char *caps; /* the expected set, by number; "ALL" for all 41; NULL for an error */
    const char *err;
} cap_cases[] = {
    {NULL, DEFAULT_CAPS, NULL},
    {"{\"capabilities\":{}}", DEFAULT_CAPS, NULL},
    {"{\"capabilities\":{\"drop\":[\"NET_RAW\"]}}",
     "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP "
     "CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE CAP_SETFCAP",
     NULL},
    {"{\"capabilities\":{\"add\":[\"NET_ADMIN\"]}}",
     "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP "
     "CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE CAP_SETFCAP",
     NULL},
    {"{\"capabilities\":{\"drop\":[\"ALL\"]}}", "", NULL},
    {"{\"capabilities\":{\"drop\":[\"all\"],\"add\":[\"NET_BIND_SERVICE\"]}}", "CAP_NET_BIND_SERVICE", NULL},
    {"{\"capabilities\":{\"add\":[\"ALL\"]}}", "ALL", NULL},
    /* add ALL then drop one: all but CHOWN */
    {"{\"capabilities\":{\"add\":[\"ALL\"],\"drop\":[\"CHOWN\"]}}", "ALL-CAP_CHOWN", NULL},
    /* any case, with or without CAP_ */
    {"{\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"sys_time\",\"CAP_SYS_NICE\",\"cap_bpf\"]}}",
     "CAP_SYS_NICE CAP_SYS_TIME CAP_BPF", NULL},
    /* both added and dropped: dropped (containerd's order) */
    {"{\"capabilities\":{\"add\":[\"NET_ADMIN\"],\"drop\":[\"ALL\",\"NET_ADMIN\"]}}", "", NULL},
    /* privileged: everything, whatever is dropped */
    {"{\"privileged\":true,\"capabilities\":{\"drop\":[\"ALL\"]}}", "ALL", NULL},
    {"{\"capabilities\":{\"add\":[\"FOO\"]}}", NULL, "securityContext.capabilities.add[0]: unknown capability \"FOO\""},
    {"{\"capabilities\":{\"drop\":[\"KILL\",\"CAP_\"]}}", NULL,
     "securityContext.capabilities.drop[1]: unknown capability \"CAP_\""},
    {"{\"capabilities\":{\"add\":\"NET_ADMIN\"}}", NULL,
     "securityContext.capabilities.add: must be an array of strings"},
};

static void
capabilities (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cap_cases / sizeof cap_cases[0]; i++) {
        char req[512];
        snprintf (req, sizeof req, "{\"command\":[\"/x\"]%s%s}", cap_cases[i].sc ? ",\"securityContext\":" : "",
                  cap_cases[i].sc ? cap_cases[i].sc : "");
        json_t *spec = build (req, NULL);
        if (!cap_cases[i].caps) {
            if (spec)
                fail_msg ("case %zu: built, want error %s", i, cap_cases[i].err);
            assert_string_equal (err, cap_cases[i].err);
            continue;
        }
        if (!spec)
            fail_msg ("case %zu: %s", i, err);
        /* the expected list, in capability-number order */
        json_t *want = json_array ();
        const char *w = cap_cases[i].caps;
        for (int n = 0; ocispec_all_caps[n]; n++) {
            int in;
            if (!strncmp (w, "ALL", 3))
                in = !(w[3] == '-' && !strcmp (w + 4, ocispec_all_caps[n]));
            else {
                char pad[512];
                snprintf (pad, sizeof pad, " %s ", w);
                char name[64];
                snprintf (name, sizeof name, " %s ", ocispec_all_caps[n]);
                in = strstr (pad, name) != NULL;
            }
            if (in)
                json_array_append_new (want, json_string (ocispec_all_caps[n]));
        }
        const json_t *caps = at (at (spec, "process", NULL), "capabilities", NULL);
        char *ws = json_dumps (want, JSON_COMPACT);
        assert_json_eq (json_object_get (caps, "bounding"), ws);
        assert_json_eq (json_object_get (caps, "effective"), ws);
        assert_json_eq (json_object_get (caps, "permitted"), ws);
        assert_json_eq (json_object_get (caps, "inheritable"), "[]");
        assert_null (json_object_get (caps, "ambient"));
        free (ws);
        json_decref (want);
        json_decref (spec);
    }
    /* the default set is containerd's 14, and Linux's capabilities number 41 */
    json_t *spec = build (HELLO, NULL);
    assert_int_equal (json_array_size (at (at (spec, "process", NULL), "capabilities", "bounding")), 14);
    json_decref (spec);
    int n = 0;
    while (ocispec_all_caps[n])
        n++;
    assert_int_equal (n, 41);
    assert_string_equal (ocispec_all_caps[21], "CAP_SYS_ADMIN");
    assert_string_equal (ocispec_all_caps[40], "CAP_CHECKPOINT_RESTORE");
}

/* --- privileged, noNewPrivileges, rootfs, paths --- */

static const char *const masked[] = {"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                                     "/sys/firmware", NULL};
static const char *const readonly[] = {"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger", NULL};

static const json_t *
mount_at (const json_t *spec, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get (spec, "mounts"), i, m) {
        if (!strcmp (json_string_value (json_object_get (m, "destination")), dest))
            return m;
    }
    return NULL;
}

static void
masked_and_readonly_paths (void **state)
{
    (void) state;
    json_t *spec = build (HELLO, NULL);
    const json_t *l = json_object_get (spec, "linux");
    for (const char *const *p = masked; *p; p++)
        if (!has_string (json_object_get (l, "maskedPaths"), *p))
            fail_msg ("%s not masked", *p);
    for (const char *const *p = readonly; *p; p++)
        if (!has_string (json_object_get (l, "readonlyPaths"), *p))
            fail_msg ("%s not read-only", *p);
    assert_false (has_string (json_object_get (l, "maskedPaths"), "/proc/sys"));
    /* the root is writable unless asked; the spec names its version and rootfs */
    assert_json_eq (json_object_get (spec, "root"), "{\"path\":\"/run/troupe/rootfs/c1\",\"readonly\":false}");
    assert_string_equal (json_string_value (json_object_get (spec, "ociVersion")), "1.0.2");
    assert_json_eq (at (at (spec, "linux", NULL), "resources", "devices"), "[{\"allow\":false,\"access\":\"rwm\"}]");
    assert_true (has_string (json_object_get (mount_at (spec, "/sys"), "options"), "ro"));
    json_decref (spec);
}

static void
privileged_container (void **state)
{
    (void) state;
    json_t *spec = build ("{\"command\":[\"/x\"],\"securityContext\":{\"privileged\":true,"
                          "\"allowPrivilegeEscalation\":false,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}",
                          NULL);
    assert_non_null (spec);
    const json_t *l = json_object_get (spec, "linux");
    assert_null (json_object_get (l, "maskedPaths"));
    assert_null (json_object_get (l, "readonlyPaths"));
    assert_null (json_object_get (l, "seccomp"));
    assert_json_eq (at (l, "resources", "devices"), "[{\"allow\":true,\"access\":\"rwm\"}]");
    assert_json_eq (at (spec, "process", "noNewPrivileges"), "false");
    assert_true (has_string (json_object_get (mount_at (spec, "/sys"), "options"), "rw"));
    assert_true (has_string (json_object_get (mount_at (spec, "/sys/fs/cgroup"), "options"), "rw"));
    json_decref (spec);
}

static void
no_new_privileges (void **state)
{
    (void) state;
    static const struct {
        const char *sc, *nnp;
    } cases[] = {
        {"{}", "false"}, /* allowPrivilegeEscalation defaults to true in Kubernetes */
        {"{\"allowPrivilegeEscalation\":true}", "false"},
        {"{\"allowPrivilegeEscalation\":false}", "true"},
        {"{\"allowPrivilegeEscalation\":false,\"privileged\":true}", "false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        snprintf (req, sizeof req, "{\"command\":[\"/x\"],\"securityContext\":%s}", cases[i].sc);
        json_t *spec = build (req, NULL);
        assert_json_eq (at (spec, "process", "noNewPrivileges"), cases[i].nnp);
        json_decref (spec);
    }
}

static void
readonly_rootfs (void **state)
{
    (void) state;
    ocispec_opts_t o = opts ();
    o.hosts_path = "/sb/hosts";
    o.resolv_path = "/sb/resolv.conf";
    o.hostname_path = "/sb/hostname";
    json_t *spec = build_with ("{\"command\":[\"/x\"],\"securityContext\":{\"readOnlyRootFilesystem\":true}}", NULL, &o);
    assert_json_eq (json_object_get (spec, "root"), "{\"path\":\"/run/troupe/rootfs/c1\",\"readonly\":true}");
    /* the sandbox's files follow the rootfs */
    assert_json_eq (json_object_get (mount_at (spec, "/etc/hosts"), "options"), "[\"rbind\",\"rprivate\",\"ro\"]");
    assert_json_eq (json_object_get (mount_at (spec, "/etc/resolv.conf"), "options"), "[\"rbind\",\"rprivate\",\"ro\"]");
    json_decref (spec);
    spec = build_with (HELLO, NULL, &o);
    assert_json_eq (json_object_get (mount_at (spec, "/etc/hostname"), "options"), "[\"rbind\",\"rprivate\",\"rw\"]");
    json_decref (spec);
}

/* --- seccomp --- */

static const json_t *
rule_for (const json_t *seccomp, const char *name, int with_args)
{
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get (seccomp, "syscalls"), i, r) {
        if (has_string (json_object_get (r, "names"), name) && (json_object_get (r, "args") != NULL) == with_args)
            return r;
    }
    return NULL;
}

static void
seccomp_profile (void **state)
{
    (void) state;
    json_t *spec = build (HELLO, NULL);
    const json_t *s = at (spec, "linux", "seccomp");
    assert_non_null (s);
    assert_string_equal (json_string_value (json_object_get (s, "defaultAction")), "SCMP_ACT_ERRNO");
    assert_int_equal (json_integer_value (json_object_get (s, "defaultErrnoRet")), 1); /* EPERM */
#if defined(__x86_64__)
    assert_json_eq (json_object_get (s, "architectures"), "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]");
    assert_non_null (rule_for (s, "arch_prctl", 0));
#elif defined(__aarch64__)
    assert_json_eq (json_object_get (s, "architectures"), "[\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_ARM\"]");
#endif
    static const char *const allowed[] = {"read", "write", "openat", "execve", "futex", "clock_gettime", "exit_group",
                                          "rt_sigreturn", "socket", "epoll_wait", "io_uring_setup", "setuid", NULL};
    for (const char *const *n = allowed; *n; n++)
        if (!rule_for (s, *n, 0))
            fail_msg ("%s is not allowed", *n);
    /* not allowed without their capability, whatever the args (chroot: SYS_CHROOT is a default) */
    static const char *const refused[] = {"mount", "umount2", "unshare", "setns", "reboot", "kexec_load",
                                          "init_module", "bpf", "keyctl", "add_key", "swapon", "pivot_root",
                                          "open_by_handle_at", "perf_event_open", "syslog", "acct", NULL};
    for (const char *const *n = refused; *n; n++)
        if (rule_for (s, *n, 0) || rule_for (s, *n, 1))
            fail_msg ("%s is allowed", *n);
    /* clone only without namespace flags, clone3 → ENOSYS, personality by value */
    const json_t *clone = rule_for (s, "clone", 1);
    assert_non_null (clone);
    assert_null (rule_for (s, "clone", 0));
    assert_json_eq (json_object_get (clone, "args"),
                    "[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]");
    assert_json_eq (rule_for (s, "clone3", 0), "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}");
    assert_non_null (rule_for (s, "personality", 1));
    assert_null (rule_for (s, "personality", 0));
    json_decref (spec);

    /* capabilities open their syscalls: SYS_ADMIN (mount, unshare, clone unconditional),
     * SYS_CHROOT is in the default set, SYS_PTRACE */
    spec = build ("{\"command\":[\"/x\"],\"securityContext\":{\"capabilities\":{\"add\":[\"SYS_ADMIN\",\"SYS_PTRACE\"]}}}",
                  NULL);
    s = at (spec, "linux", "seccomp");
    assert_non_null (rule_for (s, "mount", 0));
    assert_non_null (rule_for (s, "unshare", 0));
    assert_non_null (rule_for (s, "clone", 0));
    assert_null (rule_for (s, "clone", 1));
    assert_null (rule_for (s, "clone3", 0) ? json_object_get (rule_for (s, "clone3", 0), "errnoRet") : NULL);
    assert_non_null (rule_for (s, "process_vm_readv", 0));
    assert_non_null (rule_for (s, "chroot", 0));
    json_decref (spec);
    /* dropping SYS_CHROOT closes chroot */
    spec = build ("{\"command\":[\"/x\"],\"securityContext\":{\"capabilities\":{\"drop\":[\"SYS_CHROOT\"]}}}", NULL);
    assert_null (rule_for (at (spec, "linux", "seccomp"), "chroot", 0));
    json_decref (spec);

    /* absent when Unconfined or privileged; RuntimeDefault is the default */
    static const struct {
        const char *sc;
        int present;
    } cases[] = {
        {"{\"seccompProfile\":{\"type\":\"Unconfined\"}}", 0},
        {"{\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}", 1},
        {"{\"seccompProfile\":{}}", 1},
        {"{\"privileged\":true}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        snprintf (req, sizeof req, "{\"command\":[\"/x\"],\"securityContext\":%s}", cases[i].sc);
        spec = build (req, NULL);
        assert_non_null (spec);
        assert_int_equal (at (spec, "linux", "seccomp") != NULL, cases[i].present);
        json_decref (spec);
    }
    assert_null (build ("{\"command\":[\"/x\"],\"securityContext\":{\"seccompProfile\":{\"type\":\"Localhost\"}}}", NULL));
    assert_string_equal (err, "securityContext.seccompProfile.type: Localhost profiles are not supported");
    assert_null (build ("{\"command\":[\"/x\"],\"securityContext\":{\"seccompProfile\":{\"type\":\"Bogus\"}}}", NULL));
    assert_string_equal (err, "securityContext.seccompProfile.type: unknown \"Bogus\"");
}

/* --- namespaces --- */

static void
namespaces (void **state)
{
    (void) state;
    ocispec_opts_t o = opts ();
    o.netns_path = "/run/troupe/netns/sb1";
    json_t *spec = build_with (HELLO, NULL, &o);
    assert_json_eq (at (spec, "linux", "namespaces"),
                    "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"mount\"},"
                    "{\"type\":\"network\",\"path\":\"/run/troupe/netns/sb1\"},{\"type\":\"uts\"}]");
    assert_string_equal (json_string_value (json_object_get (spec, "hostname")), "web-0");
    json_decref (spec);
    /* hostNetwork: the host's network and uts, no hostname to set */
    spec = build (HELLO, NULL);
    assert_json_eq (at (spec, "linux", "namespaces"), "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"mount\"}]");
    assert_null (json_object_get (spec, "hostname"));
    json_decref (spec);
}

/* --- mounts --- */

static void
mounts (void **state)
{
    (void) state;
    ocispec_opts_t o = opts ();
    o.hosts_path = "/sb/hosts";
    o.resolv_path = "/sb/resolv.conf";
    o.hostname_path = "/sb/hostname";
    json_t *spec = build_with (
        "{\"command\":[\"/x\"],\"mounts\":["
        "{\"containerPath\":\"/data/sub\",\"hostPath\":\"/h/sub\",\"readonly\":true},"
        "{\"containerPath\":\"/data\",\"hostPath\":\"/h/data\"},"
        "{\"containerPath\":\"/logs\",\"hostPath\":\"/h/logs\",\"readonly\":false,\"propagation\":\"HostToContainer\"}]}",
        NULL, &o);
    assert_non_null (spec);
    json_t *dests = json_array ();
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get (spec, "mounts"), i, m)
        json_array_append (dests, json_object_get (m, "destination"));
    char *d = json_dumps (dests, JSON_COMPACT);
    assert_string_equal (d, "[\"/proc\",\"/dev\",\"/dev/pts\",\"/dev/shm\",\"/dev/mqueue\",\"/sys\",\"/sys/fs/cgroup\","
                            "\"/etc/hosts\",\"/etc/resolv.conf\",\"/etc/hostname\",\"/data\",\"/logs\",\"/data/sub\"]");
    free (d);
    json_decref (dests);
    assert_json_eq (mount_at (spec, "/proc"),
                    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]}");
    assert_json_eq (json_object_get (mount_at (spec, "/dev/shm"), "type"), "\"tmpfs\"");
    assert_json_eq (json_object_get (mount_at (spec, "/sys/fs/cgroup"), "options"),
                    "[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]");
    assert_json_eq (mount_at (spec, "/data/sub"), "{\"destination\":\"/data/sub\",\"type\":\"bind\",\"source\":\"/h/sub\","
                                                  "\"options\":[\"rbind\",\"rprivate\",\"ro\"]}");
    assert_json_eq (json_object_get (mount_at (spec, "/data"), "options"), "[\"rbind\",\"rprivate\",\"rw\"]");
    assert_json_eq (json_object_get (mount_at (spec, "/logs"), "options"), "[\"rbind\",\"rslave\",\"rw\"]");
    assert_json_eq (json_object_get (mount_at (spec, "/etc/hosts"), "source"), "\"/sb/hosts\"");
    assert_json_eq (at (spec, "linux", "rootfsPropagation"), "\"rslave\"");
    json_decref (spec);

    /* the sandbox's shm, a volume replacing /etc/hosts, Bidirectional */
    o.shm_path = "/sb/shm";
    spec = build_with ("{\"command\":[\"/x\"],\"mounts\":[{\"containerPath\":\"/etc/hosts\",\"hostPath\":\"/mine\"},"
                       "{\"containerPath\":\"/b\",\"hostPath\":\"/hb\",\"propagation\":\"PROPAGATION_BIDIRECTIONAL\"}]}",
                       NULL, &o);
    assert_json_eq (mount_at (spec, "/dev/shm"), "{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"/sb/shm\","
                                                 "\"options\":[\"rbind\",\"rprivate\",\"rw\"]}");
    int hosts = 0;
    json_array_foreach (json_object_get (spec, "mounts"), i, m) {
        if (!strcmp (json_string_value (json_object_get (m, "destination")), "/etc/hosts")) {
            hosts++;
            assert_string_equal (json_string_value (json_object_get (m, "source")), "/mine");
        }
    }
    assert_int_equal (hosts, 1);
    assert_json_eq (json_object_get (mount_at (spec, "/b"), "options"), "[\"rbind\",\"rshared\",\"rw\"]");
    assert_json_eq (at (spec, "linux", "rootfsPropagation"), "\"rshared\"");
    json_decref (spec);

    static const struct {
        const char *req, *err;
    } bad[] = {
        {"{\"command\":[\"/x\"],\"mounts\":[{\"containerPath\":\"rel\",\"hostPath\":\"/h\"}]}",
         "mounts[0].containerPath: must be an absolute path"},
        {"{\"command\":[\"/x\"],\"mounts\":[{\"containerPath\":\"/a\",\"hostPath\":\"/h\"},{\"containerPath\":\"/b\"}]}",
         "mounts[1].hostPath: must be an absolute path"},
        {"{\"command\":[\"/x\"],\"mounts\":[{\"containerPath\":\"/a\",\"hostPath\":\"/h\",\"readonly\":\"yes\"}]}",
         "mounts[0].readonly: must be true or false"},
        {"{\"command\":[\"/x\"],\"mounts\":[{\"containerPath\":\"/a\",\"hostPath\":\"/h\",\"propagation\":\"Sideways\"}]}",
         "mounts[0].propagation: unknown \"Sideways\""},
        {"{\"command\":[\"/x\"],\"mounts\":{}}", "mounts: must be an array of {containerPath, hostPath, readonly}"},
    };
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null (build (bad[i].req, NULL));
        assert_string_equal (err, bad[i].err);
    }
}

/* --- resources, cgroupsPath --- */

static void
resources (void **state)
{
    (void) state;
    ocispec_opts_t o = opts ();
    o.cgroups_path = "/kubepods/burstable/podu1/c1";
    json_t *spec = build_with ("{\"command\":[\"/x\"],\"linux\":{\"cpuShares\":512,\"cpuQuota\":50000,\"cpuPeriod\":100000,"
                               "\"memoryLimitBytes\":1073741824,\"pidsLimit\":100,\"oomScoreAdj\":-997}}",
                               NULL, &o);
    assert_non_null (spec);
    const json_t *r = at (spec, "linux", "resources");
    assert_json_eq (json_object_get (r, "cpu"), "{\"shares\":512,\"quota\":50000,\"period\":100000}");
    assert_json_eq (json_object_get (r, "memory"), "{\"limit\":1073741824,\"swap\":1073741824}");
    assert_json_eq (json_object_get (r, "pids"), "{\"limit\":100}");
    assert_json_eq (at (spec, "process", "oomScoreAdj"), "-997");
    assert_json_eq (at (spec, "linux", "cgroupsPath"), "\"/kubepods/burstable/podu1/c1\"");
    json_decref (spec);

    /* nothing asked: no limits, no cgroupsPath (runc's default), no oomScoreAdj */
    spec = build (HELLO, NULL);
    r = at (spec, "linux", "resources");
    assert_null (json_object_get (r, "cpu"));
    assert_null (json_object_get (r, "memory"));
    assert_null (json_object_get (r, "pids"));
    assert_null (at (spec, "process", "oomScoreAdj"));
    assert_null (at (spec, "linux", "cgroupsPath"));
    json_decref (spec);
    /* shares alone (BestEffort: 2, no quota) */
    spec = build ("{\"command\":[\"/x\"],\"linux\":{\"cpuShares\":2,\"cpuQuota\":0,\"cpuPeriod\":100000,\"oomScoreAdj\":1000}}",
                  NULL);
    assert_json_eq (at (at (spec, "linux", "resources"), "cpu", NULL), "{\"shares\":2,\"period\":100000}");
    assert_json_eq (at (spec, "process", "oomScoreAdj"), "1000");
    json_decref (spec);

    static const struct {
        const char *linux_, *err;
    } bad[] = {
        {"{\"oomScoreAdj\":1001}", "linux.oomScoreAdj: must be between -1000 and 1000"},
        {"{\"memoryLimitBytes\":-1}", "linux.memoryLimitBytes: must not be negative"},
        {"{\"cpuShares\":\"2\"}", "linux.cpuShares: must be an integer"},
        {"{\"cpuPeriod\":10}", "linux.cpuPeriod: must be between 1000 and 1000000 µs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[256];
        snprintf (req, sizeof req, "{\"command\":[\"/x\"],\"linux\":%s}", bad[i].linux_);
        assert_null (build (req, NULL));
        assert_string_equal (err, bad[i].err);
    }
}

static void
terminal_and_bad_requests (void **state)
{
    (void) state;
    json_t *spec = build ("{\"command\":[\"/x\"],\"tty\":true}", NULL);
    assert_json_eq (at (spec, "process", "terminal"), "true");
    json_decref (spec);
    spec = build (HELLO, NULL);
    assert_json_eq (at (spec, "process", "terminal"), "false");
    json_decref (spec);
    assert_null (build ("[]", NULL));
    assert_string_equal (err, "request: must be an object");
    assert_null (build ("{\"command\":[\"/x\"],\"securityContext\":5}", NULL));
    assert_string_equal (err, "securityContext: must be an object");
    ocispec_opts_t o = opts ();
    o.rootfs = "rel";
    assert_null (build_with (HELLO, NULL, &o));
    assert_string_equal (err, "rootfs: must be an absolute path");
}

/* --- ocispec_exec_process: runc exec's --process --- */

static void
exec_process (void **state)
{
    (void) state;
    json_t *spec = build ("{\"command\":[\"/x\"],\"workingDir\":\"/w\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
                          "\"securityContext\":{\"runAsUser\":7,\"allowPrivilegeEscalation\":false,"
                          "\"capabilities\":{\"drop\":[\"ALL\"]}},\"tty\":true}",
                          NULL);
    assert_non_null (spec);
    json_t *ctr = json_deep_copy (json_object_get (spec, "process"));
    json_object_set_new (ctr, "consoleSize", json_pack ("{s:i,s:i}", "height", 1, "width", 2));
    json_t *before = json_deep_copy (ctr);
    json_t *cmd = parse ("[\"sh\",\"-c\",\"stty size\"]");
    /* a terminal of a known size: runc sizes its pty from consoleSize before the command runs */
    json_t *p = ocispec_exec_process (ctr, cmd, 1, 30, 100, err, sizeof err);
    assert_non_null (p);
    assert_json_eq (at (p, "args", NULL), "[\"sh\",\"-c\",\"stty size\"]");
    assert_json_eq (at (p, "terminal", NULL), "true");
    assert_json_eq (at (p, "consoleSize", NULL), "{\"height\":30,\"width\":100}");
    /* the rest is the container's: env, cwd, user, capabilities, noNewPrivileges */
    const char *same[] = {"env", "cwd", "user", "capabilities", "noNewPrivileges"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (!json_equal (json_object_get (p, same[i]), json_object_get (ctr, same[i])))
            fail_msg ("exec process %s differs from the container's", same[i]);
    assert_json_eq (at (p, "cwd", NULL), "\"/w\"");
    assert_json_eq (at (p, "user", "uid"), "7");
    assert_true (has_string (json_object_get (p, "env"), "A=1"));
    assert_true (json_equal (ctr, before)); /* the container's process is not changed */
    json_decref (p);
    /* a terminal of unknown or impossible size: no consoleSize (not even the container's) */
    int sizes[][2] = {{0, 0}, {30, 0}, {0, 100}, {-1, 80}, {70000, 80}, {24, 65536}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        p = ocispec_exec_process (ctr, cmd, 1, sizes[i][0], sizes[i][1], err, sizeof err);
        assert_non_null (p);
        assert_json_eq (at (p, "terminal", NULL), "true");
        if (json_object_get (p, "consoleSize"))
            fail_msg ("consoleSize for %dx%d", sizes[i][0], sizes[i][1]);
        json_decref (p);
    }
    p = ocispec_exec_process (ctr, cmd, 1, 65535, 1, err, sizeof err);
    assert_json_eq (at (p, "consoleSize", NULL), "{\"height\":65535,\"width\":1}");
    json_decref (p);
    /* no terminal (the container has one): terminal false, no size even when one is given */
    p = ocispec_exec_process (ctr, cmd, 0, 30, 100, err, sizeof err);
    assert_json_eq (at (p, "terminal", NULL), "false");
    assert_null (json_object_get (p, "consoleSize"));
    json_decref (p);
    /* refused: no process, no command, a command that is not strings */
    assert_null (ocispec_exec_process (NULL, cmd, 1, 30, 100, err, sizeof err));
    assert_string_equal (err, "the container's config.json has no process");
    json_t *bad = parse ("[]");
    assert_null (ocispec_exec_process (ctr, bad, 0, 0, 0, err, sizeof err));
    assert_string_equal (err, "cmd: Required value");
    json_decref (bad);
    bad = parse ("[\"sh\",5]");
    assert_null (ocispec_exec_process (ctr, bad, 0, 0, 0, err, sizeof err));
    assert_string_equal (err, "cmd[1]: not a string");
    json_decref (bad);
    json_decref (cmd);
    json_decref (before);
    json_decref (ctr);
    json_decref (spec);
}

/* --- ocispec_resolve_user over a fake rootfs --- */

static char tmp[128];

static void
put (const char *rel, const char *text)
{
    char p[512];
    snprintf (p, sizeof p, "%s/%s", tmp, rel);
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static int
have_openat2 (void)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    int fd = (int) syscall (SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd < 0)
        return 0;
    close (fd);
    return 1;
}

static void
resolve_user (void **state)
{
    (void) state;
    snprintf (tmp, sizeof tmp, "/tmp/troupe-resolve.XXXXXX");
    assert_non_null (mkdtemp (tmp));
    char p[512];
    snprintf (p, sizeof p, "%s/rootfs/etc", tmp);
    assert_int_equal (system ((snprintf (p, sizeof p, "mkdir -p %s/rootfs/etc %s/outside", tmp, tmp), p)), 0);
    put ("rootfs/etc/passwd", "# comment\nroot:x:0:0:root:/root:/bin/sh\nnginx:x:101:102:nginx:/:/bin/false\n"
                              "bad:x:notanumber:1::/:\n\nlast:x:7:8::/:");
    put ("rootfs/etc/group", "root:x:0:\nnginx:x:102:\nwww-data:x:33:nginx,root\n");
    put ("outside/passwd", "evil:x:666:666::/:/bin/sh\nnginx:x:666:666::/:/bin/sh\n");
    char rootfs[256];
    snprintf (rootfs, sizeof rootfs, "%s/rootfs", tmp);

    static const struct {
        const char *user;
        uint32_t uid, gid;
        const char *err; /* a piece of it */
    } cases[] = {
        {"", 0, 0, NULL},
        {"root", 0, 0, NULL},
        {"nginx", 101, 102, NULL},
        {"nginx:www-data", 101, 33, NULL},
        {"nginx:44", 101, 44, NULL},
        {"101", 101, 102, NULL},       /* numeric, in passwd: its group */
        {"5000", 5000, 0, NULL},       /* numeric, unknown: group 0 */
        {"5000:33", 5000, 33, NULL},
        {"5000:www-data", 5000, 33, NULL},
        {"last", 7, 8, NULL},          /* a last line without newline */
        {"nobody", 0, 0, "user \"nobody\": no such user in the image's /etc/passwd"},
        {"bad", 0, 0, "user \"bad\": no such user"},
        {"nginx:staff", 0, 0, "group \"staff\": no such group in the image's /etc/group"},
        {":5", 0, 0, "no user before the group"},
        {"comment", 0, 0, "no such user"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t uid = 99, gid = 99;
        err[0] = 0;
        int rc = ocispec_resolve_user (rootfs, cases[i].user, &uid, &gid, err, sizeof err);
        if (cases[i].err) {
            if (rc == 0)
                fail_msg ("case %s: resolved to %u:%u, want error", cases[i].user, uid, gid);
            if (!strstr (err, cases[i].err))
                fail_msg ("case %s: error \"%s\", want \"%s\"", cases[i].user, err, cases[i].err);
        } else {
            if (rc != 0)
                fail_msg ("case %s: %s", cases[i].user, err);
            assert_int_equal (uid, cases[i].uid);
            assert_int_equal (gid, cases[i].gid);
        }
    }

    /* an image's symlinks never reach the host: absolute and relative links out of the rootfs
     * resolve inside it (openat2) or are refused — never to the outside file's 666 */
    uint32_t uid = 0, gid = 0;
    char target[512];
    snprintf (target, sizeof target, "%s/outside/passwd", tmp);
    snprintf (p, sizeof p, "%s/etc/passwd", rootfs);
    static const char *const links[] = {NULL, "../../outside/passwd", "/../../../../../outside/passwd"};
    for (size_t i = 0; i < 3; i++) {
        unlink (p);
        assert_int_equal (symlink (links[i] ? links[i] : target, p), 0);
        assert_int_equal (ocispec_resolve_user (rootfs, "evil", &uid, &gid, err, sizeof err), -1);
        int rc = ocispec_resolve_user (rootfs, "nginx", &uid, &gid, err, sizeof err);
        assert_true (rc == -1 || uid != 666);
    }
    /* a symlink that stays in the rootfs works where openat2 is there, refused otherwise */
    unlink (p);
    put ("rootfs/etc/passwd.real", "app:x:1234:1235::/:\n");
    assert_int_equal (symlink ("/etc/passwd.real", p), 0);
    int rc = ocispec_resolve_user (rootfs, "app", &uid, &gid, err, sizeof err);
    if (have_openat2 ()) {
        assert_int_equal (rc, 0);
        assert_int_equal (uid, 1234);
        assert_int_equal (gid, 1235);
    } else {
        assert_int_equal (rc, -1);
        assert_non_null (strstr (err, "symlink"));
    }
    /* a FIFO would block a reader: refused at once; a directory too */
    unlink (p);
    assert_int_equal (mkfifo (p, 0644), 0);
    assert_int_equal (ocispec_resolve_user (rootfs, "app", &uid, &gid, err, sizeof err), -1);
    assert_non_null (strstr (err, "/etc/passwd of the rootfs is not a regular file"));
    unlink (p);
    assert_int_equal (mkdir (p, 0755), 0);
    assert_int_equal (ocispec_resolve_user (rootfs, "app", &uid, &gid, err, sizeof err), -1);
    rmdir (p);
    /* no /etc/passwd: numeric users still resolve, names do not */
    assert_int_equal (ocispec_resolve_user (rootfs, "42", &uid, &gid, err, sizeof err), 0);
    assert_int_equal (uid, 42);
    assert_int_equal (gid, 0);
    assert_int_equal (ocispec_resolve_user (rootfs, "nginx", &uid, &gid, err, sizeof err), -1);
    /* a rootfs that does not exist */
    assert_int_equal (ocispec_resolve_user ("/nonexistent/rootfs", "nginx", &uid, &gid, err, sizeof err), -1);
    assert_non_null (strstr (err, "rootfs /nonexistent/rootfs"));
    snprintf (p, sizeof p, "rm -rf %s", tmp);
    assert_int_equal (system (p), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (args_merge),
        cmocka_unit_test (env_merge),
        cmocka_unit_test (working_dir),
        cmocka_unit_test (user),
        cmocka_unit_test (capabilities),
        cmocka_unit_test (masked_and_readonly_paths),
        cmocka_unit_test (privileged_container),
        cmocka_unit_test (no_new_privileges),
        cmocka_unit_test (readonly_rootfs),
        cmocka_unit_test (seccomp_profile),
        cmocka_unit_test (namespaces),
        cmocka_unit_test (mounts),
        cmocka_unit_test (resources),
        cmocka_unit_test (terminal_and_bad_requests),
        cmocka_unit_test (exec_process),
        cmocka_unit_test (resolve_user),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
