/* volumes: the planner (paths, modes, items, optional, downward API, projected merge, subPath
 * rules), the AtomicWriter on a temp dir (..data swapped, old generation removed, a concurrent
 * reader never sees a partial file or a mix), setup of emptyDir / hostPath checks, subPath
 * resolution refusing escapes (also against a concurrent symlink swap), subPath binds, fsGroup
 * ownership, teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "actors/agent/volumes.h"
#include "core/value.h"

static json_t *
load (const char *js)
{
    json_error_t e;
    json_t *v = json_loads (js, 0, &e);
    if (!v)
        fail_msg ("bad json: %s: %s", e.text, js);
    return v;
}

static json_t *
pod_with (const char *volumes)
{
    json_t *p = load ("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"ns1\",\"uid\":\"u1\",\"labels\":{\"app\":\"web\"}},"
                      "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":{\"memory\":\"32Mi\"}}}]}}");
    json_object_set_new (json_object_get (p, "spec"), "volumes", load (volumes));
    return p;
}

static json_t *
objs (void)
{
    /* Secret "tok" = dG9r, "pw" = cHc= */
    return load ("{\"ConfigMap/ns1/cfg\":{\"data\":{\"a.conf\":\"A=1\",\"b.conf\":\"B=2\"},\"binaryData\":{\"bin\":\"AAEC\"}},"
                 "\"Secret/ns1/creds\":{\"data\":{\"token\":\"dG9r\",\"password\":\"cHc=\"}},"
                 "\"ConfigMap/ns1/evil\":{\"data\":{\"ok\":\"1\",\"../../../../etc/cron.d/x\":\"boom\"}},"
                 "\"ConfigMap/ns1/evil2\":{\"data\":{\"..data\":\"boom\"}},"
                 "\"ConfigMap/ns1/gone\":null}");
}

static int
plan (const char *volumes, json_t **out, char *err)
{
    json_t *p = pod_with (volumes), *o = objs ();
    podenv_src_t src = {.objs = o, .pod_ip = "10.88.0.5", .alloc_mem_bytes = 1LL << 30, .alloc_cpu_milli = 2000};
    int rc = volumes_plan (p, &src, "/data/pods", out, err, 300);
    json_decref (p);
    json_decref (o);
    return rc;
}

static const char *
file_data (const json_t *pl, const char *vol, const char *path)
{
    return tv_str (json_object_get (tv_get (json_object_get (pl, vol), "files"), path), "data");
}

static json_int_t
file_mode (const json_t *pl, const char *vol, const char *path)
{
    return tv_int (json_object_get (tv_get (json_object_get (pl, vol), "files"), path), "mode", -1);
}

static void
plan_paths_and_kinds (void **state)
{
    (void) state;
    json_t *pl;
    char err[300];
    assert_int_equal (plan ("[{\"name\":\"scratch\",\"emptyDir\":{}},{\"name\":\"ram\",\"emptyDir\":{\"medium\":\"Memory\",\"sizeLimit\":\"8Mi\"}},"
                            "{\"name\":\"ram2\",\"emptyDir\":{\"medium\":\"Memory\"}},{\"name\":\"disk\",\"emptyDir\":{\"sizeLimit\":\"1Mi\"}},"
                            "{\"name\":\"logs\",\"hostPath\":{\"path\":\"/var/log\",\"type\":\"Directory\"}},"
                            "{\"name\":\"conf\",\"configMap\":{\"name\":\"cfg\"}},{\"name\":\"sec\",\"secret\":{\"secretName\":\"creds\"}}]",
                            &pl, err),
                      PODENV_OK);
    assert_string_equal (tv_str (json_object_get (pl, "scratch"), "path"), "/data/pods/u1/volumes/kubernetes.io~empty-dir/scratch");
    assert_null (tv_get (json_object_get (pl, "scratch"), "tmpfs"));
    assert_int_equal (tv_int (json_object_get (pl, "ram"), "tmpfs", 0), 8 << 20);
    assert_int_equal (tv_int (json_object_get (pl, "ram2"), "tmpfs", 0), 1 << 30); /* the node's allocatable */
    assert_int_equal (tv_int (json_object_get (pl, "disk"), "sizeLimit", 0), 1 << 20);
    assert_string_equal (tv_str (json_object_get (pl, "logs"), "path"), "/var/log");
    assert_string_equal (tv_str (json_object_get (pl, "logs"), "hostPathType"), "Directory");
    assert_string_equal (tv_str (json_object_get (pl, "conf"), "path"), "/data/pods/u1/volumes/kubernetes.io~configmap/conf");
    assert_string_equal (tv_str (json_object_get (pl, "sec"), "path"), "/data/pods/u1/volumes/kubernetes.io~secret/sec");
    assert_true (tv_bool (json_object_get (pl, "conf"), "readOnly", false));
    assert_non_null (tv_get (json_object_get (pl, "sec"), "tmpfs")); /* secrets never on disk */
    /* every key, default mode 0644; binaryData decoded; secrets decoded */
    assert_string_equal (file_data (pl, "conf", "a.conf"), "A=1");
    assert_int_equal (file_mode (pl, "conf", "a.conf"), 0644);
    assert_int_equal (json_string_length (tv_get (json_object_get (tv_get (json_object_get (pl, "conf"), "files"), "bin"), "data")), 3);
    assert_string_equal (file_data (pl, "sec", "token"), "tok");
    assert_string_equal (file_data (pl, "sec", "password"), "pw");
    json_decref (pl);
}

static void
plan_items_modes_optional (void **state)
{
    (void) state;
    json_t *pl;
    char err[300];
    assert_int_equal (plan ("[{\"name\":\"conf\",\"configMap\":{\"name\":\"cfg\",\"defaultMode\":256,"
                            "\"items\":[{\"key\":\"a.conf\",\"path\":\"sub/dir/a\"},{\"key\":\"b.conf\",\"path\":\"b\",\"mode\":384}]}},"
                            "{\"name\":\"sec\",\"secret\":{\"secretName\":\"creds\",\"defaultMode\":256}},"
                            "{\"name\":\"opt\",\"configMap\":{\"name\":\"gone\",\"optional\":true}},"
                            "{\"name\":\"optkey\",\"configMap\":{\"name\":\"cfg\",\"optional\":true,\"items\":[{\"key\":\"nope\",\"path\":\"n\"}]}}]",
                            &pl, err),
                      PODENV_OK);
    json_t *files = tv_get (json_object_get (pl, "conf"), "files");
    assert_int_equal (json_object_size (files), 2); /* only the items */
    assert_string_equal (file_data (pl, "conf", "sub/dir/a"), "A=1");
    assert_int_equal (file_mode (pl, "conf", "sub/dir/a"), 0400);
    assert_int_equal (file_mode (pl, "conf", "b"), 0600);
    assert_int_equal (file_mode (pl, "sec", "token"), 0400);
    assert_int_equal (json_object_size (tv_get (json_object_get (pl, "opt"), "files")), 0);
    assert_int_equal (json_object_size (tv_get (json_object_get (pl, "optkey"), "files")), 0);
    json_decref (pl);
    /* missing, not optional */
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"gone\"}}]", &pl, err), PODENV_ERROR);
    assert_string_equal (err, "configmap \"gone\" not found");
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"nope\",\"path\":\"n\"}]}}]", &pl, err),
                      PODENV_ERROR);
    assert_string_equal (err, "configmap references non-existent config key: nope");
    assert_int_equal (plan ("[{\"name\":\"s\",\"secret\":{\"secretName\":\"unread\"}}]", &pl, err), PODENV_PENDING);
    /* item paths may not escape */
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"a.conf\",\"path\":\"../x\"}]}}]", &pl, err),
                      PODENV_ERROR);
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"a.conf\",\"path\":\"/etc/x\"}]}}]", &pl, err),
                      PODENV_ERROR);
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"a.conf\",\"path\":\"..data\"}]}}]", &pl, err),
                      PODENV_ERROR);
    assert_int_equal (plan ("[{\"name\":\"h\",\"hostPath\":{\"path\":\"rel\"}}]", &pl, err), PODENV_ERROR);
    /* every key as a file: a key is a file name (the API's config key rules), never a path */
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"evil\"}}]", &pl, err), PODENV_ERROR);
    assert_non_null (strstr (err, "is not a valid file name"));
    assert_int_equal (plan ("[{\"name\":\"c\",\"projected\":{\"sources\":[{\"configMap\":{\"name\":\"evil2\"}}]}}]", &pl, err),
                      PODENV_ERROR);
    /* with items, only the items' paths count */
    assert_int_equal (plan ("[{\"name\":\"c\",\"configMap\":{\"name\":\"evil\",\"items\":[{\"key\":\"ok\",\"path\":\"ok\"}]}}]", &pl, err),
                      PODENV_OK);
    json_decref (pl);
}

static void
plan_downward_and_projected (void **state)
{
    (void) state;
    json_t *pl;
    char err[300];
    assert_int_equal (plan ("[{\"name\":\"info\",\"downwardAPI\":{\"items\":["
                            "{\"path\":\"name\",\"fieldRef\":{\"fieldPath\":\"metadata.name\"}},"
                            "{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\"},\"mode\":292},"
                            "{\"path\":\"mem\",\"resourceFieldRef\":{\"containerName\":\"c\",\"resource\":\"limits.memory\",\"divisor\":\"1Mi\"}}]}},"
                            "{\"name\":\"all\",\"projected\":{\"defaultMode\":288,\"sources\":["
                            "{\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"a.conf\",\"path\":\"a\"}]}},"
                            "{\"secret\":{\"name\":\"creds\",\"items\":[{\"key\":\"token\",\"path\":\"t\",\"mode\":256}]}},"
                            "{\"downwardAPI\":{\"items\":[{\"path\":\"ns\",\"fieldRef\":{\"fieldPath\":\"metadata.namespace\"}}]}}]}}]",
                            &pl, err),
                      PODENV_OK);
    assert_string_equal (file_data (pl, "info", "name"), "web-1");
    assert_string_equal (file_data (pl, "info", "labels"), "app=\"web\"");
    assert_int_equal (file_mode (pl, "info", "labels"), 0444);
    assert_string_equal (file_data (pl, "info", "mem"), "32");
    assert_string_equal (tv_str (json_object_get (pl, "all"), "path"), "/data/pods/u1/volumes/kubernetes.io~projected/all");
    assert_int_equal (json_object_size (tv_get (json_object_get (pl, "all"), "files")), 3); /* merged */
    assert_string_equal (file_data (pl, "all", "a"), "A=1");
    assert_string_equal (file_data (pl, "all", "t"), "tok");
    assert_string_equal (file_data (pl, "all", "ns"), "ns1");
    assert_int_equal (file_mode (pl, "all", "a"), 0440);
    assert_int_equal (file_mode (pl, "all", "t"), 0400);
    json_decref (pl);
    assert_int_equal (plan ("[{\"name\":\"tok\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"t\"}}]}}]", &pl, err), PODENV_ERROR);
    assert_non_null (strstr (err, "ServiceAccount"));
    /* references of volumes */
    json_t *p = pod_with ("[{\"name\":\"a\",\"configMap\":{\"name\":\"x\"}},{\"name\":\"b\",\"secret\":{\"secretName\":\"y\"}},"
                          "{\"name\":\"c\",\"projected\":{\"sources\":[{\"secret\":{\"name\":\"z\"}},{\"configMap\":{\"name\":\"w\"}}]}}]");
    json_t *set = json_object ();
    volumes_refs (p, set);
    assert_int_equal (json_object_size (set), 4);
    assert_non_null (json_object_get (set, "Secret/ns1/z"));
    assert_non_null (json_object_get (set, "ConfigMap/ns1/w"));
    json_decref (set);
    json_decref (p);
}

static void
subpath_rules (void **state)
{
    (void) state;
    char err[300];
    assert_int_equal (volumes_subpath_ok ("a/b", err, sizeof err), 0);
    assert_int_equal (volumes_subpath_ok ("a..b/c", err, sizeof err), 0); /* ".." inside a name is fine */
    assert_int_equal (volumes_subpath_ok ("../etc", err, sizeof err), -1);
    assert_int_equal (volumes_subpath_ok ("a/../../etc", err, sizeof err), -1);
    assert_int_equal (volumes_subpath_ok ("a/..", err, sizeof err), -1);
    assert_int_equal (volumes_subpath_ok ("/etc", err, sizeof err), -1);
    /* on disk: a symlink inside pointing out is refused; an absent path is made */
    char tmpl[] = "/tmp/test_volumes_XXXXXX";
    char *t = mkdtemp (tmpl);
    assert_non_null (t);
    char vol[300], p[400], out[4096];
    snprintf (vol, sizeof vol, "%s/vol", t);
    mkdir (vol, 0755);
    snprintf (p, sizeof p, "%s/out", vol);
    assert_int_equal (symlink ("/etc", p), 0);
    snprintf (p, sizeof p, "%s/in", vol);
    assert_int_equal (symlink ("made", p), 0);
    assert_int_equal (volumes_subpath_resolve (vol, "out", out, sizeof out, err, sizeof err), -1);
    assert_non_null (strstr (err, "outside the volume"));
    assert_int_equal (volumes_subpath_resolve (vol, "out/passwd", out, sizeof out, err, sizeof err), -1);
    assert_int_equal (volumes_subpath_resolve (vol, "../vol", out, sizeof out, err, sizeof err), -1);
    assert_int_equal (volumes_subpath_resolve (vol, "made/deeper", out, sizeof out, err, sizeof err), 0);
    struct stat st;
    assert_int_equal (stat (out, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    assert_int_equal (volumes_subpath_resolve (vol, "in", out, sizeof out, err, sizeof err), 0); /* a symlink that stays inside */
    /* an absent subPath below a symlink pointing out: refused before anything is made out there */
    char outside[300];
    snprintf (outside, sizeof outside, "%s/outside", t);
    mkdir (outside, 0755);
    snprintf (p, sizeof p, "%s/esc", vol);
    assert_int_equal (symlink (outside, p), 0);
    assert_int_equal (volumes_subpath_resolve (vol, "esc/new/deeper", out, sizeof out, err, sizeof err), -1);
    assert_non_null (strstr (err, "outside the volume"));
    snprintf (p, sizeof p, "%s/new", outside);
    assert_int_equal (access (p, F_OK), -1);
    /* mounts of a container: names, subPath, forced read-only for configMap volumes, propagation */
    char pl_json[1200];
    snprintf (pl_json, sizeof pl_json, "{\"v\":{\"type\":\"emptyDir\",\"path\":\"%s\"},\"c\":{\"type\":\"files\",\"path\":\"%s\",\"readOnly\":true}}",
              vol, vol);
    json_t *pl = load (pl_json);
    json_t *spec = load ("{\"name\":\"x\",\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/data\",\"subPath\":\"made\"},"
                         "{\"name\":\"c\",\"mountPath\":\"/etc/c\"},{\"name\":\"v\",\"mountPath\":\"/per\",\"subPathExpr\":\"$(POD)\"}]}");
    json_t *env = load ("[{\"name\":\"POD\",\"value\":\"p1\"}]");
    json_t *m = volumes_mounts (spec, pl, env, NULL, err, sizeof err);
    assert_non_null (m);
    assert_int_equal (json_array_size (m), 3);
    char want[400];
    snprintf (want, sizeof want, "%s/made", vol);
    assert_string_equal (tv_str (json_array_get (m, 0), "hostPath"), want);
    assert_false (tv_bool (json_array_get (m, 0), "readonly", true));
    assert_true (tv_bool (json_array_get (m, 1), "readonly", false));
    snprintf (want, sizeof want, "%s/p1", vol);
    assert_string_equal (tv_str (json_array_get (m, 2), "hostPath"), want);
    json_decref (m);
    json_decref (spec);
    spec = load ("{\"name\":\"x\",\"volumeMounts\":[{\"name\":\"nope\",\"mountPath\":\"/d\"}]}");
    assert_null (volumes_mounts (spec, pl, env, NULL, err, sizeof err));
    json_decref (spec);
    spec = load ("{\"name\":\"x\",\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/d\",\"mountPropagation\":\"Bidirectional\"}]}");
    assert_null (volumes_mounts (spec, pl, env, NULL, err, sizeof err));
    json_decref (spec);
    spec = load ("{\"name\":\"x\",\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/d\",\"subPath\":\"out\"}]}");
    assert_null (volumes_mounts (spec, pl, env, NULL, err, sizeof err));
    json_decref (spec);
    json_decref (env);
    json_decref (pl);
    assert_int_equal (volumes_teardown (t), 0); /* t/volumes absent: fine */
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", t);
    assert_int_equal (system (cmd), 0);
}

/* ---- the AtomicWriter ------------------------------------------------------------------------- */

static int
count_gens (const char *dir)
{
    DIR *d = opendir (dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        if (!strncmp (e->d_name, "..2", 3))
            n++;
    closedir (d);
    return n;
}

static char *
slurp (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc (1 << 20);
    *len = fread (buf, 1, 1 << 20, f);
    fclose (f);
    buf[*len] = 0;
    return buf;
}

typedef struct {
    const char *dir;
    volatile int stop;
    int reads, bad;
    char why[200];
} reader_t;

#define BIG (256 * 1024)

/* Reads a and b through one resolution of ..data: both whole and of the same generation. */
static void *
reader (void *arg)
{
    reader_t *r = arg;
    while (!r->stop) {
        char p[600];
        snprintf (p, sizeof p, "%s/..data", r->dir);
        int dfd = open (p, O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
            continue;
        char *got[2] = {NULL, NULL};
        size_t len[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            int fd = openat (dfd, i ? "b" : "a", O_RDONLY);
            if (fd < 0)
                break;
            got[i] = malloc (BIG + 1);
            ssize_t n;
            while ((n = read (fd, got[i] + len[i], BIG + 1 - len[i])) > 0)
                len[i] += (size_t) n;
            close (fd);
        }
        close (dfd);
        if (got[0] && got[1]) {
            r->reads++;
            if (len[0] != BIG || len[1] != BIG || got[0][0] != got[1][0] || got[0][BIG - 1] != got[0][0]) {
                r->bad++;
                snprintf (r->why, sizeof r->why, "a=%zu(%c) b=%zu(%c)", len[0], got[0][0], len[1], got[1][0]);
            }
        }
        free (got[0]);
        free (got[1]);
    }
    return NULL;
}

static json_t *
files_of (char c, int with_c)
{
    char *big = malloc (BIG);
    memset (big, c, BIG);
    json_t *f = json_pack ("{s:{s:o,s:i},s:{s:o,s:i}}", "a", "data", json_stringn (big, BIG), "mode", 0644, "b", "data",
                           json_stringn (big, BIG), "mode", 0400);
    if (with_c)
        json_object_set_new (f, "sub/c", json_pack ("{s:s,s:i}", "data", "nested", "mode", 0644));
    free (big);
    return f;
}

static void
atomic_writer (void **state)
{
    (void) state;
    char tmpl[] = "/tmp/test_volumes_XXXXXX";
    char *t = mkdtemp (tmpl);
    char dir[300], p[1000], link[500];
    snprintf (dir, sizeof dir, "%s/vol", t);
    char err[300];
    json_t *f1 = files_of ('1', 1);
    assert_int_equal (volumes_write_atomic (dir, f1, -1, 0, err, sizeof err), 1);
    assert_int_equal (volumes_write_atomic (dir, f1, -1, 0, err, sizeof err), 0); /* same files: nothing written */
    assert_int_equal (count_gens (dir), 1);
    /* the layout: key -> ..data/key, ..data -> ..<timestamp> */
    snprintf (p, sizeof p, "%s/a", dir);
    ssize_t n = readlink (p, link, sizeof link - 1);
    assert_true (n > 0);
    link[n] = 0;
    assert_string_equal (link, "..data/a");
    snprintf (p, sizeof p, "%s/sub", dir);
    n = readlink (p, link, sizeof link - 1);
    link[n] = 0;
    assert_string_equal (link, "..data/sub");
    snprintf (p, sizeof p, "%s/..data", dir);
    n = readlink (p, link, sizeof link - 1);
    link[n] = 0;
    assert_true (!strncmp (link, "..2", 3));
    char first[500];
    snprintf (first, sizeof first, "%s", link);
    struct stat st;
    snprintf (p, sizeof p, "%s/b", dir);
    assert_int_equal (stat (p, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0400);
    size_t len;
    snprintf (p, sizeof p, "%s/sub/c", dir);
    char *c = slurp (p, &len);
    assert_string_equal (c, "nested");
    free (c);
    /* updates while a reader reads: never a partial file, never a mix of generations */
    reader_t r = {.dir = dir};
    pthread_t th;
    pthread_create (&th, NULL, reader, &r);
    for (int i = 0; i < 40; i++) {
        json_t *f = files_of ((char) ('A' + i % 20), 0);
        assert_int_equal (volumes_write_atomic (dir, f, -1, 0, err, sizeof err), 1);
        json_decref (f);
        usleep (2000);
    }
    r.stop = 1;
    pthread_join (th, NULL);
    if (r.bad)
        fail_msg ("the reader saw %d partial or mixed states of %d (%s)", r.bad, r.reads, r.why);
    assert_true (r.reads > 0);
    /* after the updates: one generation, the old one gone, the removed key's link gone */
    assert_int_equal (count_gens (dir), 1);
    snprintf (p, sizeof p, "%s/%s", dir, first);
    assert_int_equal (lstat (p, &st), -1);
    snprintf (p, sizeof p, "%s/sub", dir);
    assert_int_equal (lstat (p, &st), -1);
    snprintf (p, sizeof p, "%s/a", dir);
    c = slurp (p, &len);
    assert_int_equal (len, BIG);
    assert_int_equal (c[0], 'A' + 39 % 20);
    free (c);
    json_decref (f1);
    /* an empty set: no key left, ..data still there */
    json_t *none = json_object ();
    assert_int_equal (volumes_write_atomic (dir, none, -1, 0, err, sizeof err), 1);
    snprintf (p, sizeof p, "%s/a", dir);
    assert_int_equal (lstat (p, &st), -1);
    json_decref (none);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", t);
    assert_int_equal (system (cmd), 0);
}

static void
setup_and_teardown (void **state)
{
    (void) state;
    char tmpl[] = "/tmp/test_volumes_XXXXXX";
    char *t = mkdtemp (tmpl);
    char pod[300], js[3000], err[300], sock[100];
    snprintf (pod, sizeof pod, "%s/pods/u1", t);
    snprintf (sock, sizeof sock, "%s/s.sock", t);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf (sa.sun_path, sizeof sa.sun_path, "%s", sock);
    assert_int_equal (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
    snprintf (js, sizeof js,
              "{\"e\":{\"type\":\"emptyDir\",\"path\":\"%s/volumes/kubernetes.io~empty-dir/e\"},"
              "\"c\":{\"type\":\"files\",\"path\":\"%s/volumes/kubernetes.io~configmap/c\",\"files\":{\"k\":{\"data\":\"v\",\"mode\":420}}},"
              "\"d\":{\"type\":\"hostPath\",\"path\":\"%s/made/here\",\"hostPathType\":\"DirectoryOrCreate\"},"
              "\"f\":{\"type\":\"hostPath\",\"path\":\"%s/file\",\"hostPathType\":\"FileOrCreate\"},"
              "\"s\":{\"type\":\"hostPath\",\"path\":\"%s\",\"hostPathType\":\"Socket\"},"
              "\"n\":{\"type\":\"hostPath\",\"path\":\"/nonexistent/x\",\"hostPathType\":\"\"}}",
              pod, pod, t, t, sock);
    json_t *pl = load (js);
    assert_int_equal (volumes_setup (pl, err, sizeof err), 0);
    struct stat st;
    char p[600];
    snprintf (p, sizeof p, "%s/volumes/kubernetes.io~empty-dir/e", pod);
    assert_int_equal (stat (p, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0777);
    snprintf (p, sizeof p, "%s/volumes/kubernetes.io~configmap/c/k", pod);
    assert_int_equal (stat (p, &st), 0);
    snprintf (p, sizeof p, "%s/made/here", t);
    assert_int_equal (stat (p, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    snprintf (p, sizeof p, "%s/file", t);
    assert_int_equal (stat (p, &st), 0);
    assert_true (S_ISREG (st.st_mode));
    json_decref (pl);
    /* failed checks, with the kubelet's words */
    static const char *bad[][2] = {{"Directory", "is not a directory"}, {"File", "is not a file"},
                                   {"Socket", "is not a socket file"},  {"CharDevice", "is not a character device"},
                                   {"BlockDevice", "is not a block device"}};
    for (size_t i = 0; i < 5; i++) {
        snprintf (js, sizeof js, "{\"x\":{\"type\":\"hostPath\",\"path\":\"%s/%s\",\"hostPathType\":\"%s\"}}", t,
                  !strcmp (bad[i][0], "Directory") ? "file" : "made", bad[i][0]);
        pl = load (js);
        assert_int_equal (volumes_setup (pl, err, sizeof err), -1);
        if (!strstr (err, "hostPath type check failed") || !strstr (err, bad[i][1]))
            fail_msg ("%s: %s", bad[i][0], err);
        json_decref (pl);
    }
    assert_true (volumes_usage (t) > 0);
    /* teardown removes the volumes and the pod dir (empty once they are gone) */
    assert_int_equal (volumes_teardown (pod), 0);
    assert_int_equal (stat (pod, &st), -1);
    close (fd);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", t);
    assert_int_equal (system (cmd), 0);
}

/* fsGroup, pure: the plan carries the gid on emptyDir and files volumes (not hostPath) and the
 * files' modes gain group read (0400 → 0440), as the kubelet's SetVolumeOwnership leaves them. */
static void
fsgroup_plan (void **state)
{
    (void) state;
    json_t *p = pod_with ("[{\"name\":\"e\",\"emptyDir\":{\"sizeLimit\":\"1Mi\"}},"
                          "{\"name\":\"s\",\"secret\":{\"secretName\":\"creds\",\"defaultMode\":256}},"
                          "{\"name\":\"h\",\"hostPath\":{\"path\":\"/tmp\"}}]");
    json_object_set_new (json_object_get (p, "spec"), "securityContext", load ("{\"fsGroup\":2000}"));
    json_t *o = objs (), *pl = NULL;
    podenv_src_t src = {.objs = o, .pod_ip = "10.88.0.5", .alloc_mem_bytes = 1LL << 30, .alloc_cpu_milli = 2000};
    char err[300];
    assert_int_equal (volumes_plan (p, &src, "/data/pods", &pl, err, sizeof err), PODENV_OK);
    assert_int_equal (tv_int (json_object_get (pl, "e"), "fsGroup", -1), 2000);
    assert_int_equal (tv_int (json_object_get (pl, "e"), "sizeLimit", -1), 1 << 20);
    assert_string_equal (tv_str (json_object_get (pl, "e"), "sizeLimitText"), "1Mi");
    assert_int_equal (tv_int (json_object_get (pl, "s"), "fsGroup", -1), 2000);
    assert_int_equal (file_mode (pl, "s", "token"), 0440);
    assert_null (json_object_get (json_object_get (pl, "h"), "fsGroup"));
    json_decref (pl);
    /* without fsGroup: the modes as written */
    json_object_del (json_object_get (p, "spec"), "securityContext");
    assert_int_equal (volumes_plan (p, &src, "/data/pods", &pl, err, sizeof err), PODENV_OK);
    assert_int_equal (file_mode (pl, "s", "token"), 0400);
    assert_null (json_object_get (json_object_get (pl, "e"), "fsGroup"));
    json_decref (pl);
    json_decref (p);
    json_decref (o);
}

/* The hook volumes_write_atomic calls just before the swap: the new generation's group and modes
 * then, and where ..data pointed then. */
static char swap_seen[2000];

static void
check_before_swap (const char *gen)
{
    char p[PATH_MAX], data[PATH_MAX], old[256];
    struct stat st;
    int n = 0;
    snprintf (p, sizeof p, "%s", gen);
    if (!lstat (p, &st) && st.st_gid == 2000 && (st.st_mode & 07777) == 02755)
        n++;
    snprintf (p, sizeof p, "%s/k", gen);
    if (!lstat (p, &st) && st.st_gid == 2000 && (st.st_mode & 07777) == 0440)
        n++;
    snprintf (p, sizeof p, "%s/d/n", gen);
    if (!lstat (p, &st) && st.st_gid == 2000 && (st.st_mode & 07777) == 0644)
        n++;
    snprintf (data, sizeof data, "%.*s/..data", (int) (strrchr (gen, '/') - gen), gen);
    ssize_t l = readlink (data, old, sizeof old - 1);
    old[l > 0 ? l : 0] = 0;
    snprintf (swap_seen, sizeof swap_seen, "%d owned, ..data -> %s, new %s", n, old, strrchr (gen, '/') + 1);
}

/* fsGroup, the edge: an emptyDir made with fsGroup is group 2000, 02777; a secret-like files
 * volume has every file, directory and symlink in group 2000, files 0440, directories setgid; on
 * an update the new generation is owned before ..data is swapped to it (the hook sees it owned
 * while ..data still names the old one). */
static void
fsgroup_setup (void **state)
{
    (void) state;
    if (geteuid () != 0) {
        skip (); /* lchown to another group needs root (the agent runs as root) */
        return;
    }
    char tmpl[] = "/tmp/test_volumes_XXXXXX";
    char *t = mkdtemp (tmpl);
    char js[2000], err[300], p[600];
    snprintf (js, sizeof js,
              "{\"e\":{\"type\":\"emptyDir\",\"path\":\"%s/e\",\"fsGroup\":2000},"
              "\"c\":{\"type\":\"files\",\"path\":\"%s/c\",\"readOnly\":true,\"fsGroup\":2000,"
              "\"files\":{\"k\":{\"data\":\"v\",\"mode\":288},\"d/n\":{\"data\":\"w\",\"mode\":420}}}}",
              t, t);
    json_t *pl = load (js);
    assert_int_equal (volumes_setup (pl, err, sizeof err), 0);
    struct stat st;
    snprintf (p, sizeof p, "%s/e", t);
    assert_int_equal (stat (p, &st), 0);
    assert_int_equal (st.st_gid, 2000);
    assert_int_equal (st.st_mode & 07777, 02777);
    /* a file made in it inherits the group (setgid) */
    snprintf (p, sizeof p, "%s/e/new", t);
    int fd = open (p, O_CREAT | O_WRONLY, 0644);
    assert_true (fd >= 0);
    close (fd);
    assert_int_equal (stat (p, &st), 0);
    assert_int_equal (st.st_gid, 2000);
    static const struct {
        const char *rel;
        int link;
        unsigned mode;
    } want[] = {{"", 0, 02755}, {"k", 1, 0}, {"..data", 1, 0}, {"..data/k", 0, 0440}, {"..data/d", 0, 02755},
                {"..data/d/n", 0, 0644}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf (p, sizeof p, "%s/c/%s", t, want[i].rel);
        assert_int_equal (lstat (p, &st), 0);
        if ((unsigned) st.st_gid != 2000)
            fail_msg ("%s: group %u", want[i].rel, (unsigned) st.st_gid);
        if (want[i].link)
            assert_true (S_ISLNK (st.st_mode));
        else if ((st.st_mode & 07777) != want[i].mode)
            fail_msg ("%s: mode %o, want %o", want[i].rel, st.st_mode & 07777, want[i].mode);
    }
    /* an update (the ConfigMap changed) */
    char oldgen[256], newgen[256];
    snprintf (p, sizeof p, "%s/c/..data", t);
    ssize_t l = readlink (p, oldgen, sizeof oldgen - 1);
    assert_true (l > 0);
    oldgen[l] = 0;
    json_object_set_new (tv_get (pl, "c.files.k"), "data", json_string ("v2"));
    json_object_set_new (tv_get (pl, "c.files"), "top", json_pack ("{s:s,s:i}", "data", "t", "mode", 0644));
    swap_seen[0] = 0;
    volumes_before_swap = check_before_swap;
    assert_int_equal (volumes_setup (pl, err, sizeof err), 0);
    volumes_before_swap = NULL;
    l = readlink (p, newgen, sizeof newgen - 1);
    assert_true (l > 0);
    newgen[l] = 0;
    assert_string_not_equal (oldgen, newgen);
    char want_seen[2000];
    snprintf (want_seen, sizeof want_seen, "3 owned, ..data -> %s, new %s", oldgen, newgen);
    assert_string_equal (swap_seen, want_seen);
    snprintf (p, sizeof p, "%s/c/%s", t, oldgen); /* the old generation is gone */
    assert_int_equal (access (p, F_OK), -1);
    static const char *const after[] = {"..data", "top", "k", "..data/top", "..data/k"};
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
        snprintf (p, sizeof p, "%s/c/%s", t, after[i]);
        assert_int_equal (lstat (p, &st), 0);
        if ((unsigned) st.st_gid != 2000)
            fail_msg ("after the update, %s: group %u", after[i], (unsigned) st.st_gid);
    }
    json_decref (pl);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", t);
    assert_int_equal (system (cmd), 0);
}

/* subPath against a swap (CVE-2017-1002101): the no-follow open refuses any symlink on the way,
 * even one pointing inside; while another thread swaps a directory of the volume with a symlink
 * out of it (RENAME_EXCHANGE, as fast as it can), every fd volumes_subpath_open returns is inside
 * the volume (or the call refuses); with a subpaths dir the mount is a bind of the opened fd
 * (same inode), removed by volumes_teardown. */
typedef struct {
    char a[400], b[400];
    volatile int stop;
    int swaps;
} swapper_t;

static void *
swapper (void *arg)
{
    swapper_t *w = arg;
    while (!w->stop)
        if (!renameat2 (AT_FDCWD, w->a, AT_FDCWD, w->b, RENAME_EXCHANGE))
            w->swaps++;
    return NULL;
}

static void
subpath_swap (void **state)
{
    (void) state;
    char tmpl[] = "/tmp/test_volumes_XXXXXX";
    char *t = mkdtemp (tmpl);
    char vol[300], p[600], q[600], err[300];
    snprintf (vol, sizeof vol, "%s/pod/volumes/v", t);
    snprintf (p, sizeof p, "mkdir -p %s/made/deep %s/outside/deep", vol, t);
    assert_int_equal (system (p), 0);
    snprintf (p, sizeof p, "%s/in", vol);
    assert_int_equal (symlink ("made", p), 0);
    int vfd = open (vol, O_PATH | O_DIRECTORY);
    assert_true (vfd >= 0);
    int fd = volumes_open_nofollow (vfd, "made/deep");
    assert_true (fd >= 0);
    close (fd);
    errno = 0;
    assert_int_equal (volumes_open_nofollow (vfd, "in/deep"), -1);
    assert_int_equal (errno, ELOOP);
    assert_int_equal (volumes_open_nofollow (vfd, "in"), -1);
    close (vfd);
    /* the race: vol/x flips between a directory and a symlink to t/outside */
    swapper_t w = {0};
    snprintf (w.a, sizeof w.a, "%s/x", vol);
    snprintf (w.b, sizeof w.b, "%s/x-link", vol);
    snprintf (p, sizeof p, "%s/deep", w.a);
    assert_int_equal (mkdir (w.a, 0755), 0);
    assert_int_equal (mkdir (p, 0755), 0);
    snprintf (q, sizeof q, "%s/outside", t);
    assert_int_equal (symlink (q, w.b), 0);
    char real_vol[PATH_MAX];
    assert_non_null (realpath (vol, real_vol));
    pthread_t th;
    pthread_create (&th, NULL, swapper, &w);
    int ok = 0, refused = 0, escaped = 0;
    for (int i = 0; i < 3000; i++) {
        int f = volumes_subpath_open (vol, "x/deep", err, sizeof err);
        if (f < 0) {
            refused++;
            continue;
        }
        char link[64], where[PATH_MAX];
        snprintf (link, sizeof link, "/proc/self/fd/%d", f);
        ssize_t n = readlink (link, where, sizeof where - 1);
        close (f);
        assert_true (n > 0);
        where[n] = 0;
        if (strncmp (where, real_vol, strlen (real_vol)))
            escaped++;
        else
            ok++;
    }
    w.stop = 1;
    pthread_join (th, NULL);
    if (escaped)
        fail_msg ("%d of 3000 opens escaped the volume (%d swaps)", escaped, w.swaps);
    assert_true (ok + refused == 3000);
    assert_true (w.swaps > 0);
    snprintf (p, sizeof p, "%s/outside/deep/new", t); /* nothing made out there either */
    assert_int_equal (access (p, F_OK), -1);
    /* the bind: DATA/pods/<uid>/volume-subpaths/<vol>/<container>/<index> is the opened dir */
    if (geteuid () == 0) {
        char sp[400], pl_json[800];
        snprintf (sp, sizeof sp, "%s/pod/volume-subpaths", t);
        snprintf (pl_json, sizeof pl_json, "{\"v\":{\"type\":\"emptyDir\",\"path\":\"%s\"}}", vol);
        json_t *pl = load (pl_json), *env = json_array ();
        json_t *spec = load ("{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/a\"},"
                             "{\"name\":\"v\",\"mountPath\":\"/d\",\"subPath\":\"made/deep\"}]}");
        json_t *m = volumes_mounts (spec, pl, env, sp, err, sizeof err);
        if (!m)
            fail_msg ("mounts: %s", err);
        snprintf (q, sizeof q, "%s/v/c/1", sp);
        assert_string_equal (tv_str (json_array_get (m, 1), "hostPath"), q);
        struct stat s1, s2;
        snprintf (p, sizeof p, "%s/made/deep", vol);
        assert_int_equal (stat (p, &s1), 0);
        assert_int_equal (stat (q, &s2), 0);
        assert_true (s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev);
        json_decref (m);
        m = volumes_mounts (spec, pl, env, sp, err, sizeof err); /* again (a restart): the old bind replaced */
        assert_non_null (m);
        json_decref (m);
        snprintf (p, sizeof p, "%s/pod", t);
        assert_int_equal (volumes_teardown (p), 0);
        assert_int_equal (access (q, F_OK), -1);
        FILE *mi = fopen ("/proc/self/mountinfo", "r");
        char line[4096];
        while (fgets (line, sizeof line, mi))
            if (strstr (line, sp))
                fail_msg ("left mounted: %s", line);
        fclose (mi);
        json_decref (spec);
        json_decref (pl);
        json_decref (env);
    }
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", t);
    assert_int_equal (system (cmd), 0);
}

/* How many times path is a mount point in /proc/self/mountinfo (the path encoded as the kernel
 * writes it: space \040, tab \011, newline \012, backslash \134). */
static int
mount_count (const char *path)
{
    char enc[4096], *e = enc;
    for (const char *c = path; *c && e < enc + sizeof enc - 5; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\\')
            e += sprintf (e, "\\%03o", (unsigned char) *c);
        else
            *e++ = *c;
    *e = 0;
    FILE *f = fopen ("/proc/self/mountinfo", "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline (&line, &cap, f) > 0) {
        char *p = line;
        for (int i = 0; i < 4 && p; i++)
            if ((p = strchr (p, ' ')))
                p++;
        size_t len = strlen (enc);
        if (p && !strncmp (p, enc, len) && p[len] == ' ')
            n++;
    }
    free (line);
    fclose (f);
    return n;
}

/* Anything mounted at or below dir (encoded as above)? */
static int
mounted_under (const char *dir)
{
    char enc[4096], *e = enc;
    for (const char *c = dir; *c && e < enc + sizeof enc - 5; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\\')
            e += sprintf (e, "\\%03o", (unsigned char) *c);
        else
            *e++ = *c;
    *e = 0;
    FILE *f = fopen ("/proc/self/mountinfo", "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline (&line, &cap, f) > 0)
        if (strstr (line, enc))
            n++;
    free (line);
    fclose (f);
    return n;
}

/* Teardown never deletes through a subPath bind of a host path: with a data dir whose name
 * mountinfo escapes (a space, a backslash), a hostPath subPath bound twice (one mount, not two
 * stacked), then volumes_teardown: the host's file survives, nothing stays mounted; a bind that
 * teardown does not unmount (made by the test, volumes_remove_subpaths alone) makes removal fail
 * and leaves the host's file; something that cannot be removed under volume-subpaths makes
 * volumes_teardown refuse and keep the volumes. */
static void
subpath_teardown_host (void **state)
{
    (void) state;
    if (geteuid () != 0) {
        skip (); /* bind mounts need root (the agent runs as root) */
        return;
    }
    char tmpl[] = "/tmp/test vol\\umes_XXXXXX";
    char *t = mkdtemp (tmpl);
    assert_non_null (t);
    char host[600], keep[700], pod[600], sp[700], target[800], err[300], js[1500];
    snprintf (host, sizeof host, "%s/host", t);
    snprintf (keep, sizeof keep, "%s/host/sub/keep", t);
    snprintf (pod, sizeof pod, "%s/pods/uid1", t);
    snprintf (sp, sizeof sp, "%s/volume-subpaths", pod);
    snprintf (target, sizeof target, "%s/h/c/0", sp);
    assert_int_equal (mkdir (host, 0755), 0);
    snprintf (js, sizeof js, "%s/sub", host);
    assert_int_equal (mkdir (js, 0755), 0);
    FILE *f = fopen (keep, "w");
    fputs ("precious", f);
    fclose (f);
    snprintf (js, sizeof js, "%s/volumes/kubernetes.io~empty-dir/e", pod);
    json_t *pl = json_pack ("{s:{s:s,s:s,s:s},s:{s:s,s:s}}", "h", "type", "hostPath", "path", host, "hostPathType", "", "e", "type", "emptyDir", "path", js),
           *env = json_array ();
    assert_int_equal (volumes_setup (pl, err, sizeof err), 0);
    json_t *spec = load ("{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"h\",\"mountPath\":\"/d\",\"subPath\":\"sub\"}]}");
    for (int round = 0; round < 2; round++) { /* a container restart mounts again */
        json_t *m = volumes_mounts (spec, pl, env, sp, err, sizeof err);
        if (!m)
            fail_msg ("mounts: %s", err);
        assert_string_equal (tv_str (json_array_get (m, 0), "hostPath"), target);
        json_decref (m);
        assert_int_equal (mount_count (target), 1);
    }
    snprintf (js, sizeof js, "%s/keep", target);
    assert_int_equal (access (js, F_OK), 0); /* the host's file, through the bind */
    assert_int_equal (volumes_teardown (pod), 0);
    assert_int_equal (access (keep, F_OK), 0);
    assert_int_equal (mounted_under (pod), 0);
    assert_int_equal (access (pod, F_OK), -1);

    /* a bind teardown did not unmount: removal fails on it, the host's file stays */
    snprintf (js, sizeof js, "%s/h/c", sp);
    char cmd[4000];
    snprintf (cmd, sizeof cmd, "mkdir -p '%s' '%s'", target, js);
    assert_int_equal (system (cmd), 0);
    snprintf (js, sizeof js, "%s/sub", host);
    assert_int_equal (mount (js, target, NULL, MS_BIND, NULL), 0);
    assert_int_equal (volumes_remove_subpaths (sp), -1);
    assert_int_equal (access (keep, F_OK), 0);
    assert_int_equal (mount_count (target), 1);
    assert_int_equal (umount2 (target, MNT_DETACH), 0);
    assert_int_equal (volumes_remove_subpaths (sp), 0);
    assert_int_equal (access (sp, F_OK), -1);
    assert_int_equal (volumes_remove_subpaths (sp), 0); /* absent: fine */

    /* what cannot be removed below volume-subpaths (an index not empty, as a bind's contents
     * would be): teardown refuses, the host's file and the pod's volumes stay */
    assert_int_equal (volumes_setup (pl, err, sizeof err), 0);
    snprintf (cmd, sizeof cmd, "mkdir -p '%s' && echo x > '%s'/stray", target, target);
    assert_int_equal (system (cmd), 0);
    assert_int_equal (volumes_teardown (pod), -1);
    snprintf (js, sizeof js, "%s/volumes/kubernetes.io~empty-dir/e", pod);
    assert_int_equal (access (js, F_OK), 0);
    assert_int_equal (access (keep, F_OK), 0);
    snprintf (js, sizeof js, "%s/stray", target);
    assert_int_equal (access (js, F_OK), 0);
    assert_int_equal (unlink (js), 0);
    assert_int_equal (volumes_teardown (pod), 0); /* retried: now it goes */
    assert_int_equal (access (pod, F_OK), -1);
    json_decref (spec);
    json_decref (pl);
    json_decref (env);
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", t);
    assert_int_equal (system (cmd), 0);
}

/* subPath edges: a component longer than NAME_MAX is refused (ENAMETOOLONG), not truncated; a
 * hostPath "/" takes a subPath; a subPath may cross a mount nested in the volume (as Kubernetes). */
static void
subpath_edges (void **state)
{
    (void) state;
    char tmpl[] = "/tmp/test_volumes_XXXXXX";
    char *t = mkdtemp (tmpl);
    assert_non_null (t);
    char err[1200], out[4096], sub[600], real[PATH_MAX];
    memset (sub, 'a', sizeof sub);
    memcpy (sub, "new/", 4);
    sub[4 + NAME_MAX + 1] = 0;
    assert_int_equal (volumes_subpath_resolve (t, sub, out, sizeof out, err, sizeof err), -1);
    if (!strstr (err, strerror (ENAMETOOLONG)))
        fail_msg ("want ENAMETOOLONG: %s", err);
    sub[4 + NAME_MAX] = 0; /* exactly NAME_MAX: fine */
    assert_int_equal (volumes_subpath_resolve (t, sub, out, sizeof out, err, sizeof err), 0);
    /* hostPath "/" */
    assert_non_null (realpath (t, real));
    if (volumes_subpath_resolve ("/", real + 1, out, sizeof out, err, sizeof err))
        fail_msg ("hostPath / with subPath %s: %s", real + 1, err);
    assert_string_equal (out, real);
    /* a nested mount crossed */
    if (geteuid () == 0) {
        char mnt[400];
        snprintf (mnt, sizeof mnt, "%s/mnt", t);
        assert_int_equal (mkdir (mnt, 0755), 0);
        assert_int_equal (mount ("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
        if (volumes_subpath_resolve (t, "mnt/x", out, sizeof out, err, sizeof err))
            fail_msg ("subPath across a mount: %s", err);
        char want[PATH_MAX + 8];
        snprintf (want, sizeof want, "%s/mnt/x", real);
        assert_string_equal (out, want);
        assert_int_equal (umount2 (mnt, MNT_DETACH), 0);
    }
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", t);
    assert_int_equal (system (cmd), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (plan_paths_and_kinds), cmocka_unit_test (plan_items_modes_optional),
        cmocka_unit_test (plan_downward_and_projected), cmocka_unit_test (subpath_rules),
        cmocka_unit_test (atomic_writer), cmocka_unit_test (setup_and_teardown),
        cmocka_unit_test (fsgroup_plan),  cmocka_unit_test (fsgroup_setup), cmocka_unit_test (subpath_swap),
        cmocka_unit_test (subpath_teardown_host), cmocka_unit_test (subpath_edges),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
