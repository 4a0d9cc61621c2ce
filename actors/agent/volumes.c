/* volumes — see volumes.h. */
#include "actors/agent/volumes.h"
#include "actors/agent/podenv.h"
#include "core/quantity.h"
#include "core/value.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static int
fail (char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    if (err && errlen)
        vsnprintf (err, errlen, fmt, ap);
    va_end (ap);
    return rc;
}

static const char *
pod_ns (const json_t *pod)
{
    return tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "default";
}

void
volumes_refs (const json_t *pod, json_t *set)
{
    const char *ns = pod_ns (pod);
    size_t i, j;
    json_t *v, *s;
    json_array_foreach (tv_get (pod, "spec.volumes"), i, v) {
        podenv_ref_add (set, "ConfigMap", ns, tv_str (v, "configMap.name"));
        podenv_ref_add (set, "Secret", ns, tv_str (v, "secret.secretName"));
        json_array_foreach (tv_get (v, "projected.sources"), j, s) {
            podenv_ref_add (set, "ConfigMap", ns, tv_str (s, "configMap.name"));
            podenv_ref_add (set, "Secret", ns, tv_str (s, "secret.name"));
        }
    }
}

/* ---- the planner (pure) -------------------------------------------------------------------- */

int
volumes_subpath_ok (const char *sub, char *err, size_t errlen)
{
    if (!sub || !*sub)
        return 0;
    if (sub[0] == '/')
        return fail (err, errlen, -1, "subPath \"%s\": must be a relative path", sub);
    const char *p = sub;
    while (*p) {
        size_t n = strcspn (p, "/");
        if (n == 2 && !strncmp (p, "..", 2))
            return fail (err, errlen, -1, "subPath \"%s\": must not contain '..'", sub);
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* An item path: relative, no ".." component, not starting with "..". */
static int
item_path_ok (const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return fail (err, errlen, -1, "items[].path: must not be empty");
    if (path[0] == '/' || volumes_subpath_ok (path, NULL, 0) || !strncmp (path, "..", 2))
        return fail (err, errlen, -1, "items[].path \"%s\": must be a relative path without '..'", path);
    return 0;
}

/* A ConfigMap or Secret key used as a file name (no items): the API's IsConfigMapKey, at most 253
 * of [-._a-zA-Z0-9], not "." and not starting with "..": a key with '/' or ".." would write outside
 * the volume as root, and "..data" would replace the AtomicWriter's own link. */
static int
key_file_ok (const char *k)
{
    size_t n = strlen (k);
    if (n == 0 || n > 253 || !strcmp (k, ".") || !strncmp (k, "..", 2))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') ||
              k[i] == '-' || k[i] == '_' || k[i] == '.'))
            return 0;
    return 1;
}

static void
put_file (json_t *files, const char *path, const char *data, size_t len, json_int_t mode)
{
    json_object_set_new (files, path, json_pack ("{s:o,s:I}", "data", json_stringn_nocheck (data, len), "mode", mode));
}

/* The files of a configMap or secret source (volume or projection) into files. */
static int
plan_keys (const json_t *pod, const json_t *srcv, int secret, const podenv_src_t *src, json_int_t dmode, json_t *files,
           char *err, size_t errlen)
{
    const char *name = tv_str (srcv, secret ? "secretName" : "name");
    if (secret && !name)
        name = tv_str (srcv, "name"); /* a projected secret source says name */
    name = name ? name : "";
    int optional = tv_bool (srcv, "optional", false);
    const json_t *obj;
    int rc = podenv_object (src, secret ? "Secret" : "ConfigMap", pod_ns (pod), name, &obj, err, errlen);
    if (rc)
        return rc;
    if (!obj)
        return optional ? PODENV_OK
                        : fail (err, errlen, PODENV_ERROR, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    const json_t *items = tv_get (srcv, "items");
    size_t i;
    json_t *it;
    if (json_array_size (items)) {
        json_array_foreach (items, i, it) {
            const char *key = tv_str (it, "key") ? tv_str (it, "key") : "";
            const char *path = tv_str (it, "path");
            if (item_path_ok (path, err, errlen))
                return PODENV_ERROR;
            char *data;
            size_t len;
            if (podenv_key (obj, secret, key, &data, &len)) {
                if (optional)
                    continue;
                return fail (err, errlen, PODENV_ERROR, "%s references non-existent %s key: %s",
                             secret ? "secret" : "configmap", secret ? "secret" : "config", key);
            }
            put_file (files, path, data, len, tv_int (it, "mode", dmode));
            free (data);
        }
        return PODENV_OK;
    }
    static const char *maps[] = {"data", "binaryData"};
    for (int m = 0; m < (secret ? 1 : 2); m++) {
        const char *k;
        json_t *v;
        json_object_foreach (tv_get (obj, maps[m]), k, v) {
            char *data;
            size_t len;
            if (!key_file_ok (k))
                return fail (err, errlen, PODENV_ERROR, "%s \"%s\": key \"%s\" is not a valid file name (a-z, A-Z, 0-9, -_., not "
                             "starting with \"..\")", secret ? "secret" : "configmap", name, k);
            if (podenv_key (obj, secret, k, &data, &len))
                continue;
            put_file (files, k, data, len, dmode);
            free (data);
        }
    }
    return PODENV_OK;
}

static int
plan_downward (const json_t *pod, const json_t *srcv, const podenv_src_t *src, json_int_t dmode, json_t *files, char *err,
               size_t errlen)
{
    size_t i;
    json_t *it;
    json_array_foreach (tv_get (srcv, "items"), i, it) {
        const char *path = tv_str (it, "path");
        if (item_path_ok (path, err, errlen))
            return PODENV_ERROR;
        char *val = NULL;
        int rc;
        if (tv_get (it, "fieldRef"))
            rc = podenv_field (pod, tv_str (it, "fieldRef.fieldPath") ? tv_str (it, "fieldRef.fieldPath") : "", src, &val, err, errlen);
        else if (tv_get (it, "resourceFieldRef"))
            rc = podenv_resource (pod, tv_str (it, "resourceFieldRef.containerName"), tv_get (it, "resourceFieldRef"), src, &val,
                                  err, errlen);
        else
            rc = fail (err, errlen, PODENV_ERROR, "downwardAPI item %s: fieldRef or resourceFieldRef is required", path);
        if (rc)
            return rc;
        put_file (files, path, val, strlen (val), tv_int (it, "mode", dmode));
        free (val);
    }
    return PODENV_OK;
}

/* The kubelet's SetVolumeOwnership masks: files of a read-only volume get group read, of a
 * writable one group read-write; directories also group search and the setgid bit. */
#define OWN_RW 0660
#define OWN_RO 0440
#define OWN_DIR (02000 | 0110)

static int
plan_one (const json_t *pod, const json_t *v, const podenv_src_t *src, const char *vdir, json_t *out, char *err,
          size_t errlen)
{
    const char *name = tv_str (v, "name");
    const json_t *fsg = tv_get (pod, "spec.securityContext.fsGroup");
    char path[1400];
    json_t *files = NULL;
    const char *plugin = NULL;
    int rc = PODENV_OK, secret_tmpfs = 0;
    if (tv_get (v, "emptyDir")) {
        snprintf (path, sizeof path, "%s/kubernetes.io~empty-dir/%s", vdir, name);
        json_t *e = json_pack ("{s:s,s:s}", "type", "emptyDir", "path", path);
        int64_t limit = 0;
        if (tv_get (v, "emptyDir.sizeLimit") && tv_quantity_milli (tv_get (v, "emptyDir.sizeLimit"), &limit, err, errlen)) {
            json_decref (e);
            return PODENV_ERROR;
        }
        limit /= 1000;
        const char *medium = tv_str (v, "emptyDir.medium");
        if (medium && !strcmp (medium, "Memory")) {
            json_object_set_new (e, "medium", json_string ("Memory"));
            json_object_set_new (e, "tmpfs", json_integer (limit > 0 ? limit : (src ? src->alloc_mem_bytes : 0)));
        } else if (limit > 0) {
            json_object_set_new (e, "sizeLimit", json_integer (limit));
            json_object_set (e, "sizeLimitText", tv_get (v, "emptyDir.sizeLimit"));
        }
        if (json_is_integer (fsg))
            json_object_set (e, "fsGroup", (json_t *) fsg);
        json_object_set_new (out, name, e);
        return PODENV_OK;
    }
    if (tv_get (v, "hostPath")) {
        const char *hp = tv_str (v, "hostPath.path") ? tv_str (v, "hostPath.path") : "";
        if (hp[0] != '/')
            return fail (err, errlen, PODENV_ERROR, "hostPath \"%s\": must be an absolute path", hp);
        json_object_set_new (out, name, json_pack ("{s:s,s:s,s:s}", "type", "hostPath", "path", hp, "hostPathType",
                                                   tv_str (v, "hostPath.type") ? tv_str (v, "hostPath.type") : ""));
        return PODENV_OK;
    }
    files = json_object ();
    if (tv_get (v, "configMap")) {
        plugin = "configmap";
        rc = plan_keys (pod, tv_get (v, "configMap"), 0, src, tv_int (v, "configMap.defaultMode", 0644), files, err, errlen);
    } else if (tv_get (v, "secret")) {
        plugin = "secret";
        secret_tmpfs = 1;
        rc = plan_keys (pod, tv_get (v, "secret"), 1, src, tv_int (v, "secret.defaultMode", 0644), files, err, errlen);
    } else if (tv_get (v, "downwardAPI")) {
        plugin = "downward-api";
        rc = plan_downward (pod, tv_get (v, "downwardAPI"), src, tv_int (v, "downwardAPI.defaultMode", 0644), files, err, errlen);
    } else if (tv_get (v, "projected")) {
        plugin = "projected";
        json_int_t dmode = tv_int (v, "projected.defaultMode", 0644);
        size_t i;
        json_t *s;
        json_array_foreach (tv_get (v, "projected.sources"), i, s) {
            if (rc)
                break;
            if (tv_get (s, "configMap"))
                rc = plan_keys (pod, tv_get (s, "configMap"), 0, src, dmode, files, err, errlen);
            else if (tv_get (s, "secret"))
                rc = plan_keys (pod, tv_get (s, "secret"), 1, src, dmode, files, err, errlen);
            else if (tv_get (s, "downwardAPI"))
                rc = plan_downward (pod, tv_get (s, "downwardAPI"), src, dmode, files, err, errlen);
            else
                rc = fail (err, errlen, PODENV_ERROR, "volume \"%s\": projected source not supported (no ServiceAccount tokens, no cluster trust bundles)", name);
        }
    } else
        rc = fail (err, errlen, PODENV_ERROR, "volume \"%s\": no supported volume source", name);
    if (rc) {
        json_decref (files);
        return rc;
    }
    if (json_is_integer (fsg)) { /* group-readable: the files of these volumes are read-only */
        const char *k;
        json_t *f;
        json_object_foreach (files, k, f) json_object_set_new (f, "mode", json_integer (tv_int (f, "mode", 0644) | OWN_RO));
    }
    snprintf (path, sizeof path, "%s/kubernetes.io~%s/%s", vdir, plugin, name);
    json_t *e = json_pack ("{s:s,s:s,s:o,s:b}", "type", "files", "path", path, "files", files, "readOnly", 1);
    if (secret_tmpfs) /* as the kubelet: secrets on a tmpfs, sized by the node's memory */
        json_object_set_new (e, "tmpfs", json_integer (src && src->alloc_mem_bytes ? src->alloc_mem_bytes : 64 << 20));
    if (json_is_integer (fsg))
        json_object_set (e, "fsGroup", (json_t *) fsg);
    json_object_set_new (out, name, e);
    return PODENV_OK;
}

int
volumes_plan (const json_t *pod, const podenv_src_t *src, const char *pods_dir, json_t **out, char *err, size_t errlen)
{
    char vdir[1200];
    snprintf (vdir, sizeof vdir, "%s/%s/volumes", pods_dir, tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : "");
    json_t *plan = json_object ();
    size_t i;
    json_t *v;
    *out = NULL;
    int pending = 0;
    char perr[300] = "";
    json_array_foreach (tv_get (pod, "spec.volumes"), i, v) {
        if (!tv_str (v, "name"))
            continue;
        int rc = plan_one (pod, v, src, vdir, plan, err, errlen);
        if (rc == PODENV_ERROR) {
            json_decref (plan);
            return rc;
        }
        if (rc == PODENV_PENDING && !pending++)
            snprintf (perr, sizeof perr, "%s", err);
    }
    if (pending) {
        json_decref (plan);
        return fail (err, errlen, PODENV_PENDING, "%s", perr);
    }
    *out = plan;
    return PODENV_OK;
}

/* ---- the edge: files, directories, mounts -------------------------------------------------- */

static int
mkdirs (const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir (buf, mode) && errno != EEXIST)
        return -1;
    return 0;
}

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    if (flag == FTW_DP)
        return rmdir (path) && errno != ENOENT ? -1 : 0;
    return unlink (path) && errno != ENOENT ? -1 : 0;
}

static int
rm_rf (const char *path)
{
    struct stat st;
    if (lstat (path, &st))
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR (st.st_mode))
        return unlink (path);
    return nftw (path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Does dir hold exactly files (through ..data)? */
static int
same_files (const char *dir, const json_t *files)
{
    char p[PATH_MAX], target[PATH_MAX];
    snprintf (p, sizeof p, "%s/..data", dir);
    ssize_t n = readlink (p, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    const char *k;
    json_t *f;
    size_t count = 0;
    json_object_foreach ((json_t *) files, k, f) {
        snprintf (p, sizeof p, "%s/..data/%s", dir, k);
        struct stat st;
        if (stat (p, &st) || !S_ISREG (st.st_mode) || (st.st_mode & 07777) != (mode_t) tv_int (f, "mode", 0644))
            return 0;
        size_t len = json_string_length (json_object_get (f, "data"));
        if ((size_t) st.st_size != len)
            return 0;
        FILE *fp = fopen (p, "rb");
        if (!fp)
            return 0;
        char *buf = malloc (len + 1);
        size_t got = fread (buf, 1, len, fp);
        fclose (fp);
        int eq = got == len && !memcmp (buf, json_string_value (json_object_get (f, "data")), len);
        free (buf);
        if (!eq)
            return 0;
        count++;
    }
    /* no extra top-level entries: count the user-visible names */
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    json_t *tops = json_object ();
    json_object_foreach ((json_t *) files, k, f) {
        char top[PATH_MAX];
        snprintf (top, sizeof top, "%.*s", (int) strcspn (k, "/"), k);
        json_object_set_new (tops, top, json_true ());
    }
    struct dirent *e;
    int extra = 0;
    while ((e = readdir (d)))
        if (strncmp (e->d_name, "..", 2) && strcmp (e->d_name, ".") && !json_object_get (tops, e->d_name))
            extra = 1;
    closedir (d);
    json_decref (tops);
    (void) count;
    return !extra;
}

/* The kubelet's changeFilePermission: group gid (lchown, so a symlink itself), and for what is not
 * a symlink the mode ORed with the group bits (a symlink's chmod would reach its target). */
static gid_t own_gid;
static int own_ro;

static int
own_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) ftw;
    if (lchown (path, (uid_t) -1, own_gid))
        return -1;
    if (flag == FTW_SL || S_ISLNK (st->st_mode))
        return 0;
    mode_t m = (st->st_mode & 07777) | (own_ro ? OWN_RO : OWN_RW);
    if (S_ISDIR (st->st_mode))
        m |= OWN_DIR;
    return chmod (path, m);
}

int
volumes_own (const char *dir, gid_t gid, int readonly, char *err, size_t errlen)
{
    own_gid = gid;
    own_ro = readonly;
    if (nftw (dir, own_one, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH))
        return fail (err, errlen, -1, "fsGroup %u on %s: %s", (unsigned) gid, dir, strerror (errno));
    return 0;
}

/* Only path itself (lstat: a symlink is lchown'd, not followed). */
static int
own_path (const char *path, gid_t gid, int readonly)
{
    struct stat st;
    own_gid = gid;
    own_ro = readonly;
    if (lstat (path, &st))
        return -1;
    return own_one (path, &st, S_ISLNK (st.st_mode) ? FTW_SL : S_ISDIR (st.st_mode) ? FTW_DP : FTW_F, NULL);
}

void (*volumes_before_swap) (const char *gen);

int
volumes_write_atomic (const char *dir, const json_t *files, long gid, int readonly, char *err, size_t errlen)
{
    if (mkdirs (dir, 0755))
        return fail (err, errlen, -1, "mkdir %s: %s", dir, strerror (errno));
    if (same_files (dir, files))
        return 0;
    /* 1. the new generation, "..2026_12_03_10_55_58.<random>" */
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char stamp[64], gen[PATH_MAX];
    strftime (stamp, sizeof stamp, "..%Y_%m_%d_%H_%M_%S.", &tm);
    snprintf (gen, sizeof gen, "%s/%sXXXXXX", dir, stamp);
    if (!mkdtemp (gen))
        return fail (err, errlen, -1, "mkdtemp in %s: %s", dir, strerror (errno));
    chmod (gen, 0755);
    const char *genname = strrchr (gen, '/') + 1;
    const char *k;
    json_t *f;
    json_object_foreach ((json_t *) files, k, f) {
        char p[PATH_MAX * 2 + 2];
        snprintf (p, sizeof p, "%s/%s", gen, k);
        char *slash = strrchr (p, '/');
        *slash = 0;
        if (mkdirs (p, 0755)) {
            rm_rf (gen);
            return fail (err, errlen, -1, "mkdir %s: %s", p, strerror (errno));
        }
        *slash = '/';
        int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        const json_t *d = json_object_get (f, "data");
        size_t len = json_string_length (d), off = 0;
        while (fd >= 0 && off < len) {
            ssize_t w = write (fd, json_string_value (d) + off, len - off);
            if (w <= 0)
                break;
            off += (size_t) w;
        }
        if (fd < 0 || off < len || fchmod (fd, (mode_t) tv_int (f, "mode", 0644)) || close (fd)) {
            int e = errno;
            if (fd >= 0)
                close (fd);
            rm_rf (gen);
            return fail (err, errlen, -1, "write %s: %s", p, strerror (e));
        }
    }
    /* 2. fsGroup on the new generation while nothing sees it yet (the kubelet's AtomicWriter sets
     * ownership before the swap: a running container never meets a file it may not read) */
    if (gid >= 0 && volumes_own (gen, (gid_t) gid, readonly, err, errlen)) {
        rm_rf (gen);
        return -1;
    }
    /* 3. the old generation, then ..data swapped to the new one atomically */
    char data[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX] = "";
    snprintf (data, sizeof data, "%s/..data", dir);
    snprintf (tmp, sizeof tmp, "%s/..data_tmp", dir);
    ssize_t n = readlink (data, old, sizeof old - 1);
    old[n > 0 ? n : 0] = 0;
    unlink (tmp);
    if (volumes_before_swap)
        volumes_before_swap (gen);
    if (symlink (genname, tmp) || (gid >= 0 && own_path (tmp, (gid_t) gid, readonly)) || rename (tmp, data)) {
        int e = errno;
        unlink (tmp);
        rm_rf (gen);
        return fail (err, errlen, -1, "swap %s: %s", data, strerror (e));
    }
    /* 4. a symlink per top-level name (in the group too); names no longer there removed */
    json_t *tops = json_object ();
    json_object_foreach ((json_t *) files, k, f) {
        char top[PATH_MAX], link[PATH_MAX * 2 + 2], want[PATH_MAX + 8], have[PATH_MAX];
        snprintf (top, sizeof top, "%.*s", (int) strcspn (k, "/"), k);
        json_object_set_new (tops, top, json_true ());
        snprintf (link, sizeof link, "%s/%s", dir, top);
        snprintf (want, sizeof want, "..data/%s", top);
        ssize_t hn = readlink (link, have, sizeof have - 1);
        if (hn > 0 && (size_t) hn == strlen (want) && !memcmp (have, want, (size_t) hn))
            continue;
        unlink (link);
        if (symlink (want, link) || (gid >= 0 && own_path (link, (gid_t) gid, readonly))) {
            json_decref (tops);
            return fail (err, errlen, -1, "symlink %s: %s", link, strerror (errno));
        }
    }
    DIR *dd = opendir (dir);
    struct dirent *e;
    while (dd && (e = readdir (dd))) {
        if (!strcmp (e->d_name, ".") || !strncmp (e->d_name, "..", 2) || json_object_get (tops, e->d_name))
            continue;
        char p[PATH_MAX];
        snprintf (p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!lstat (p, &st) && S_ISLNK (st.st_mode))
            unlink (p);
    }
    if (dd)
        closedir (dd);
    json_decref (tops);
    /* 5. the old generation goes */
    if (*old && strcmp (old, genname) && !strncmp (old, "..", 2) && !strchr (old, '/')) {
        char p[PATH_MAX * 2 + 2];
        snprintf (p, sizeof p, "%s/%s", dir, old);
        rm_rf (p);
    }
    return 1;
}

/* The mount points of /proc/self/mountinfo, in its order (parents before what is mounted on them),
 * decoded: the kernel writes space, tab, newline and backslash in a path as \040 \011 \012 \134.
 * Lines are read whole (getline): a long one is not split. A new array, or NULL (unreadable). */
static json_t *
mount_points (void)
{
    FILE *f = fopen ("/proc/self/mountinfo", "re");
    if (!f)
        return NULL;
    json_t *out = json_array ();
    char *line = NULL;
    size_t cap = 0;
    while (getline (&line, &cap, f) > 0) {
        char *p = line;
        for (int i = 0; i < 4 && p; i++) { /* the 5th field is the mount point */
            p = strchr (p, ' ');
            if (p)
                p++;
        }
        if (!p)
            continue;
        size_t len = strcspn (p, " \n");
        char *dec = malloc (len + 1), *d = dec;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '\\' && i + 3 < len && p[i + 1] >= '0' && p[i + 1] <= '3' && p[i + 2] >= '0' &&
                p[i + 2] <= '7' && p[i + 3] >= '0' && p[i + 3] <= '7') {
                *d++ = (char) ((p[i + 1] - '0') << 6 | (p[i + 2] - '0') << 3 | (p[i + 3] - '0'));
                i += 3;
            } else
                *d++ = p[i];
        }
        *d = 0;
        json_array_append_new (out, json_stringn_nocheck (dec, (size_t) (d - dec))); /* a path need not be UTF-8 */
        free (dec);
    }
    free (line);
    fclose (f);
    return out;
}

/* Is path a mount point (listed in /proc/self/mountinfo)? 1, 0, or -1 (mountinfo unreadable). */
static int
mounted (const char *path)
{
    json_t *pts = mount_points ();
    if (!pts)
        return -1;
    size_t i;
    json_t *v;
    int found = 0;
    json_array_foreach (pts, i, v) if (!strcmp (json_string_value (v), path)) found = 1;
    json_decref (pts);
    return found;
}

static int
tmpfs_at (const char *path, int64_t size, char *err, size_t errlen)
{
    int m = mounted (path);
    if (m < 0)
        return fail (err, errlen, -1, "/proc/self/mountinfo: %s", strerror (errno));
    if (m)
        return 0;
    char opts[64];
    snprintf (opts, sizeof opts, "mode=0777,size=%lld", (long long) (size > 0 ? size : 64 << 20));
    if (mount ("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts))
        return fail (err, errlen, -1, "mount tmpfs at %s: %s", path, strerror (errno));
    return 0;
}

static int
host_path_check (const char *path, const char *type, char *err, size_t errlen)
{
    struct stat st;
    int have = !stat (path, &st);
    if (!*type)
        return 0;
    if (!strcmp (type, "DirectoryOrCreate")) {
        if (!have && mkdirs (path, 0755))
            return fail (err, errlen, -1, "hostPath type check failed: cannot create %s: %s", path, strerror (errno));
        type = "Directory";
        have = !stat (path, &st);
    } else if (!strcmp (type, "FileOrCreate") && !have) {
        int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return fail (err, errlen, -1, "hostPath type check failed: cannot create %s: %s", path, strerror (errno));
        close (fd);
        return 0;
    }
    static const struct {
        const char *type, *what;
        mode_t fmt;
    } t[] = {{"Directory", "a directory", S_IFDIR},       {"File", "a file", S_IFREG},
             {"FileOrCreate", "a file", S_IFREG},         {"Socket", "a socket file", S_IFSOCK},
             {"CharDevice", "a character device", S_IFCHR}, {"BlockDevice", "a block device", S_IFBLK}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp (type, t[i].type)) {
            if (!have || (st.st_mode & S_IFMT) != t[i].fmt)
                return fail (err, errlen, -1, "hostPath type check failed: %s is not %s", path, t[i].what);
            return 0;
        }
    return fail (err, errlen, -1, "hostPath type \"%s\": unknown", type);
}

int
volumes_setup (const json_t *plan, char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    json_object_foreach ((json_t *) plan, name, v) {
        const char *type = tv_str (v, "type"), *path = tv_str (v, "path");
        if (!strcmp (type, "hostPath")) {
            if (host_path_check (path, tv_str (v, "hostPathType"), err, errlen))
                return -1;
            continue;
        }
        struct stat st;
        int fresh = stat (path, &st) != 0;
        if (mkdirs (path, !strcmp (type, "emptyDir") ? 0777 : 0755))
            return fail (err, errlen, -1, "mkdir %s: %s", path, strerror (errno));
        if (!strcmp (type, "emptyDir") && fresh)
            chmod (path, 0777);
        if (json_object_get (v, "tmpfs") && tmpfs_at (path, tv_int (v, "tmpfs", 0), err, errlen))
            return -1;
        /* fsGroup: an emptyDir once, when made (it is empty then; what the pod writes later is
         * the pod's); a files volume's directory when made, its files each time they are written,
         * before they are visible (volumes_write_atomic) */
        const json_t *fsg = json_object_get (v, "fsGroup");
        long gid = json_is_integer (fsg) ? (long) json_integer_value (fsg) : -1;
        int ro = tv_bool (v, "readOnly", false);
        if (!strcmp (type, "files")) {
            if (gid >= 0 && fresh && own_path (path, (gid_t) gid, ro))
                return fail (err, errlen, -1, "fsGroup %ld on %s: %s", gid, path, strerror (errno));
            if (volumes_write_atomic (path, json_object_get (v, "files"), gid, ro, err, errlen) < 0)
                return -1;
        } else if (gid >= 0 && fresh && volumes_own (path, (gid_t) gid, ro, err, errlen))
            return -1;
    }
    return 0;
}

/* fd (O_PATH) of rel below the directory dirfd, no symlink followed anywhere (so nothing can lead
 * out of the volume, whatever is swapped in meanwhile): openat2 RESOLVE_BENEATH|NO_SYMLINKS, or
 * on a kernel without it (before 5.6) one O_NOFOLLOW component at a time. -1 with errno (ELOOP:
 * a symlink on the way). */
static int
open_beneath (int dirfd, const char *rel)
{
    if (!*rel)
        return fcntl (dirfd, F_DUPFD_CLOEXEC, 0);
#ifdef SYS_openat2
    struct open_how how = {.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int) syscall (SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd;
#endif
    return volumes_open_nofollow (dirfd, rel);
}

int
volumes_open_nofollow (int dirfd, const char *rel)
{
    int cur = fcntl (dirfd, F_DUPFD_CLOEXEC, 0);
    const char *p = rel;
    while (cur >= 0 && *p) {
        size_t n = strcspn (p, "/");
        char comp[NAME_MAX + 1];
        if (n == 0 || n > NAME_MAX || (n == 2 && !strncmp (p, "..", 2))) {
            close (cur);
            errno = EINVAL;
            return -1;
        }
        memcpy (comp, p, n);
        comp[n] = 0;
        int next = openat (cur, comp, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (next >= 0 && (fstat (next, &st) || S_ISLNK (st.st_mode))) { /* O_PATH|O_NOFOLLOW opens a link itself */
            close (next);
            next = -1;
            errno = ELOOP;
        }
        int e = errno;
        close (cur);
        errno = e;
        cur = next;
        p += n;
        while (*p == '/')
            p++;
    }
    return cur;
}

int
volumes_subpath_open (const char *vol, const char *sub, char *err, size_t errlen)
{
    if (volumes_subpath_ok (sub, err, errlen))
        return -1;
    char base[PATH_MAX], full[PATH_MAX * 2], real[PATH_MAX];
    if (!realpath (vol, base))
        return fail (err, errlen, -1, "volume %s: %s", vol, strerror (errno));
    size_t n = strlen (base);
    /* the longest prefix that exists, resolved (a symlink inside the volume may lead elsewhere
     * inside it, as in Kubernetes) and checked to stay inside; the rest is made below it */
    snprintf (full, sizeof full, "%s", base);
    const char *p = sub, *make = "";
    struct stat st;
    while (*p) {
        size_t k = strcspn (p, "/");
        char next[PATH_MAX * 2];
        if (snprintf (next, sizeof next, "%s/%.*s", full, (int) k, p) >= (int) sizeof next)
            return fail (err, errlen, -1, "subPath %s: too long", sub);
        if (lstat (next, &st)) {
            if (errno != ENOENT)
                return fail (err, errlen, -1, "subPath %s: %s", sub, strerror (errno));
            make = p;
            break;
        }
        snprintf (full, sizeof full, "%s", next);
        p += k;
        while (*p == '/')
            p++;
    }
    if (!realpath (full, real))
        return fail (err, errlen, -1, "subPath %s: %s", sub, strerror (errno));
    /* inside: real is base or below it ("/" as base: everything is) */
    if (strncmp (real, base, n) || (n > 1 && real[n] != '/' && real[n] != 0))
        return fail (err, errlen, -1, "subPath %s: resolves to %s, outside the volume", sub, real);
    const char *rel = n == 1 ? real + 1 : real[n] == '/' ? real + n + 1 : real + n;
    int bfd = open (base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (bfd < 0)
        return fail (err, errlen, -1, "volume %s: %s", vol, strerror (errno));
    int fd = open_beneath (bfd, rel);
    close (bfd);
    if (fd < 0)
        return fail (err, errlen, -1, "subPath %s: %s (changed while it was checked?)", sub, strerror (errno));
    /* the rest made as directories, one at a time under the fd, never through a symlink */
    while (*make) {
        size_t k = strcspn (make, "/");
        char comp[NAME_MAX + 1];
        if (k > NAME_MAX) {
            close (fd);
            return fail (err, errlen, -1, "subPath %s: mkdir %.*s: %s", sub, (int) k, make, strerror (ENAMETOOLONG));
        }
        memcpy (comp, make, k);
        comp[k] = 0;
        if (mkdirat (fd, comp, 0755) && errno != EEXIST) { /* an O_PATH fd serves as a dirfd */
            int e = errno;
            close (fd);
            return fail (err, errlen, -1, "subPath %s: mkdir %s: %s", sub, comp, strerror (e));
        }
        int next = volumes_open_nofollow (fd, comp);
        int e = errno;
        close (fd);
        if (next < 0)
            return fail (err, errlen, -1, "subPath %s: %s: %s", sub, comp, strerror (e));
        fd = next;
        make += k;
        while (*make == '/')
            make++;
    }
    return fd;
}

int
volumes_subpath_resolve (const char *vol, const char *sub, char *out, size_t outlen, char *err, size_t errlen)
{
    int fd = volumes_subpath_open (vol, sub, err, errlen);
    if (fd < 0)
        return -1;
    char link[64];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (link, out, outlen - 1);
    close (fd);
    if (n <= 0)
        return fail (err, errlen, -1, "subPath %s: %s", sub, strerror (errno));
    out[n] = 0;
    return 0;
}

/* The subPath's fd bind-mounted at target (made as a file or a directory like the source): the
 * kubelet's doBindSubPath. What the runtime later mounts is target, a path no container controls. */
static int
bind_subpath (int fd, const char *target, char *err, size_t errlen)
{
    char parent[PATH_MAX], src[64];
    snprintf (parent, sizeof parent, "%s", target);
    *strrchr (parent, '/') = 0;
    if (mkdirs (parent, 0750))
        return fail (err, errlen, -1, "mkdir %s: %s", parent, strerror (errno));
    /* whatever is mounted there goes first (all of it: binds must not stack up at each restart) */
    int m;
    while ((m = mounted (target)) == 1)
        if (umount2 (target, MNT_DETACH))
            return fail (err, errlen, -1, "umount %s: %s", target, strerror (errno));
    if (m < 0)
        return fail (err, errlen, -1, "/proc/self/mountinfo: %s", strerror (errno));
    struct stat st, tst;
    if (fstat (fd, &st))
        return fail (err, errlen, -1, "subPath: %s", strerror (errno));
    /* the other kind there (the subPath changed from a file to a directory): removed alone, never
     * recursively — a directory there is only ever an empty mount point */
    if (!lstat (target, &tst) && (S_ISDIR (tst.st_mode) != S_ISDIR (st.st_mode) || S_ISLNK (tst.st_mode)) &&
        (S_ISDIR (tst.st_mode) ? rmdir (target) : unlink (target)) && errno != ENOENT)
        return fail (err, errlen, -1, "remove %s: %s", target, strerror (errno));
    if (S_ISDIR (st.st_mode)) {
        if (mkdir (target, 0750) && errno != EEXIST)
            return fail (err, errlen, -1, "mkdir %s: %s", target, strerror (errno));
    } else {
        int t = open (target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (t < 0)
            return fail (err, errlen, -1, "create %s: %s", target, strerror (errno));
        close (t);
    }
    snprintf (src, sizeof src, "/proc/self/fd/%d", fd);
    if (mount (src, target, NULL, MS_BIND, NULL))
        return fail (err, errlen, -1, "bind subPath onto %s: %s", target, strerror (errno));
    return 0;
}

json_t *
volumes_mounts (const json_t *spec, const json_t *plan, const json_t *env, const char *subpaths_dir, char *err,
                size_t errlen)
{
    json_t *out = json_array (), *vars = json_object ();
    size_t i;
    json_t *m;
    json_array_foreach (env, i, m) if (tv_str (m, "name") && tv_str (m, "value"))
        json_object_set_new (vars, tv_str (m, "name"), json_string (tv_str (m, "value")));
    json_array_foreach (tv_get (spec, "volumeMounts"), i, m) {
        const char *name = tv_str (m, "name") ? tv_str (m, "name") : "", *cpath = tv_str (m, "mountPath");
        const json_t *v = json_object_get (plan, name);
        const char *prop = tv_str (m, "mountPropagation");
        if (!v) {
            fail (err, errlen, -1, "volumeMount \"%s\": no volume of that name in the pod", name);
            goto bad;
        }
        if (!cpath || cpath[0] != '/') {
            fail (err, errlen, -1, "volumeMount \"%s\": mountPath must be an absolute path", name);
            goto bad;
        }
        if (prop && *prop && strcmp (prop, "None")) {
            fail (err, errlen, -1, "volumeMount \"%s\": mountPropagation %s is not supported (None only)", name, prop);
            goto bad;
        }
        char host[PATH_MAX];
        snprintf (host, sizeof host, "%s", tv_str (v, "path"));
        char *sub = tv_str (m, "subPathExpr") ? podenv_expand (tv_str (m, "subPathExpr"), vars)
                                               : strdup (tv_str (m, "subPath") ? tv_str (m, "subPath") : "");
        if (*sub && subpaths_dir) {
            int fd = volumes_subpath_open (host, sub, err, errlen);
            free (sub);
            if (fd < 0)
                goto bad;
            snprintf (host, sizeof host, "%s/%s/%s/%zu", subpaths_dir, name, tv_str (spec, "name") ? tv_str (spec, "name") : "",
                      i);
            int rc = bind_subpath (fd, host, err, errlen);
            close (fd);
            if (rc)
                goto bad;
        } else if (*sub) {
            char real[PATH_MAX];
            int rc = volumes_subpath_resolve (host, sub, real, sizeof real, err, errlen);
            free (sub);
            if (rc)
                goto bad;
            snprintf (host, sizeof host, "%s", real);
        } else
            free (sub);
        int ro = tv_bool (m, "readOnly", false) || tv_bool (v, "readOnly", false);
        json_array_append_new (out, json_pack ("{s:s,s:s,s:b,s:s}", "containerPath", cpath, "hostPath", host, "readonly", ro,
                                               "propagation", "PROPAGATION_PRIVATE"));
    }
    json_decref (vars);
    return out;
bad:
    json_decref (vars);
    json_decref (out);
    return NULL;
}

static int64_t usage_sum;

static int
usage_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) path;
    (void) flag;
    (void) ftw;
    usage_sum += (int64_t) st->st_blocks * 512;
    return 0;
}

int64_t
volumes_usage (const char *dir)
{
    usage_sum = 0;
    if (nftw (dir, usage_one, 16, FTW_PHYS | FTW_MOUNT))
        return -1;
    return usage_sum;
}

/* Unmounts everything mounted below dir (deepest first: mountinfo lists parents first). 0, or -1
 * (mountinfo unreadable, or an unmount failed). */
static int
unmount_below (const char *dir)
{
    json_t *pts = mount_points ();
    if (!pts)
        return -1;
    size_t n = strlen (dir);
    int rc = 0;
    for (size_t i = json_array_size (pts); i > 0; i--) {
        const char *p = json_string_value (json_array_get (pts, i - 1));
        if (!strncmp (p, dir, n) && p[n] == '/' && umount2 (p, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
            rc = -1;
    }
    json_decref (pts);
    return rc;
}

/* Is anything still mounted at or below dir? 1, 0, or -1 (mountinfo unreadable). */
static int
mounted_below (const char *dir)
{
    json_t *pts = mount_points ();
    if (!pts)
        return -1;
    size_t n = strlen (dir), i;
    json_t *v;
    int found = 0;
    json_array_foreach (pts, i, v) {
        const char *p = json_string_value (v);
        if (!strncmp (p, dir, n) && (p[n] == '/' || p[n] == 0))
            found = 1;
    }
    json_decref (pts);
    return found;
}

/* entry of dir (depth: levels left below it): a directory with its entries, each removed alone
 * with rmdir/unlink — never recursively into what it holds past the fixed depth, so a bind still
 * mounted there (whose contents are the host's) fails with EBUSY/ENOTEMPTY instead of being
 * emptied. */
static int
remove_fixed (int dirfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR (st.st_mode))
        return unlinkat (dirfd, name, 0) && errno != ENOENT ? -1 : 0;
    int rc = 0;
    if (depth > 0) {
        int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir (fd);
        if (!d) {
            if (fd >= 0)
                close (fd);
            return -1;
        }
        struct dirent *e;
        while ((e = readdir (d)))
            if (strcmp (e->d_name, ".") && strcmp (e->d_name, "..") && remove_fixed (fd, e->d_name, depth - 1))
                rc = -1;
        closedir (d);
    }
    if (unlinkat (dirfd, name, AT_REMOVEDIR) && errno != ENOENT)
        rc = -1;
    return rc;
}

int
volumes_remove_subpaths (const char *dir)
{
    char parent[PATH_MAX];
    snprintf (parent, sizeof parent, "%s", dir);
    char *slash = strrchr (parent, '/');
    if (!slash || !slash[1])
        return -1;
    *slash = 0;
    int pfd = open (*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = remove_fixed (pfd, slash + 1, 3); /* <volume>/<container>/<index> */
    close (pfd);
    return rc;
}

int
volumes_teardown (const char *pod_dir)
{
    char vdir[PATH_MAX];
    /* the subPath binds first: they pin the volumes, and some are of host paths */
    snprintf (vdir, sizeof vdir, "%s/volume-subpaths", pod_dir);
    int rc = unmount_below (vdir);
    if (volumes_remove_subpaths (vdir))
        rc = -1;
    if (rc)
        return -1; /* a bind may still be there: the volumes stay too, retried at the next sync */
    snprintf (vdir, sizeof vdir, "%s/volumes", pod_dir);
    unmount_below (vdir);
    int m = mounted_below (vdir);
    if (m != 0)
        return -1; /* never removed recursively while anything is mounted below */
    if (rm_rf (vdir))
        return -1;
    rmdir (pod_dir); /* only when empty: the runtime's logs may still be there */
    return 0;
}
