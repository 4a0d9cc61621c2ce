/* imgstore — see imgstore.h. A pull: the registry resolves the reference to one image manifest
 * (registry.c), the blobs that are not here yet are fetched into tmp/ and renamed into blobs/,
 * each layer not yet unpacked (by chain id) is checked against its diff id and unpacked into
 * tmp/ then renamed into layers/, and the record is written last. Imports do the same with the
 * blobs of a tarball instead of a registry.
 *
 * Locking: pulls and imports hold ROOT/gc.lock shared (flock: they run in parallel), remove
 * and gc exclusive, so a blob or layer a pull has just found present is not deleted under it.
 * The lock is a file, taken on a descriptor opened for each holder, so it holds across handles
 * and across processes: `troupe runtime rmi` (its own process and handle) and the shim's pulls
 * and GC exclude each other. Remove and gc only try the lock (busy: remove fails, gc waits for
 * its next round), never blocking their caller for a download. rec_lock serializes the writes
 * of a record within a process (touch's read-modify-write, a pull's new record). */
#include "runtime-shims/oci/imgstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "runtime-shims/oci/imgref.h"
#include "runtime-shims/oci/layer.h"
#include "runtime-shims/oci/registry.h"

struct imgstore {
    char root[PATH_MAX];
    pthread_mutex_t rec_lock;
    uint64_t blob_fetches;   /* __atomic */
};

#define P_MAX (PATH_MAX + 512)

/* ROOT/gc.lock on a descriptor of its own: shared (waits for a remove or gc to end) or
 * exclusive-if-free. The descriptor, or -1 (busy, or the file cannot be opened). */
static int
gc_lock (const imgstore_t *s, int exclusive)
{
    char p[P_MAX];
    snprintf (p, sizeof p, "%s/gc.lock", s->root);
    int fd = open (p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    while (flock (fd, exclusive ? LOCK_EX | LOCK_NB : LOCK_SH)) {
        if (errno == EINTR)
            continue;
        close (fd);
        return -1;
    }
    return fd;
}

static void
gc_unlock (int fd)
{
    if (fd >= 0)
        close (fd); /* the lock goes with the last descriptor of its open file */
}

int
imgstore_pin (imgstore_t *self)
{
    return gc_lock (self, 0);
}

void
imgstore_unpin (int pin)
{
    gc_unlock (pin);
}

static int64_t
now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
mkdir_p (const char *path)
{
    char p[P_MAX];
    snprintf (p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir (p, 0755) < 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir (p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int
exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

static int
disk_err (const char *what, const char *path, char *err, size_t errlen)
{
    int e = errno;
    snprintf (err, errlen, "%s %.1024s: %s", what, path, strerror (e));
    return IMG_ERR_DISK;
}

static void
blob_path (const imgstore_t *s, const char *digest, char *buf, size_t len)
{
    snprintf (buf, len, "%s/blobs/sha256/%s", s->root, digest + 7);
}

static void
ns_dir (const imgstore_t *s, const char *ns, char *buf, size_t len)
{
    snprintf (buf, len, "%s/images/%s", s->root, ns);
}

static void
record_path (const imgstore_t *s, const char *ns, const char *name, char *buf, size_t len)
{
    char d[80];
    registry_digest (name, strlen (name), d);
    snprintf (buf, len, "%s/images/%s/%s.json", s->root, ns, d + 7);
}

static int
ns_ok (const char *ns)
{
    return ns && *ns && !strchr (ns, '/') && strcmp (ns, ".") && strcmp (ns, "..") && strlen (ns) < 200;
}

/* "sha256:" and 64 lowercase hex digits: a digest that may name a file. */
static int
sha256_ok (const char *d)
{
    if (!d || strncmp (d, "sha256:", 7) || strlen (d) != 71)
        return 0;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static int inside (const char *dir, const char *path);

/* A temp file under tmp/: fd, its path in path. */
static int
tmp_file (const imgstore_t *s, char *path, size_t len)
{
    snprintf (path, len, "%s/tmp/blob-XXXXXX", s->root);
    return mkstemp (path);
}

static int
write_all (int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write (fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t) w;
    }
    return 0;
}

/* data → final, through a temp file and a rename. */
static int
write_atomic (const imgstore_t *s, const char *final, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[P_MAX];
    int fd = tmp_file (s, tmp, sizeof tmp);
    if (fd < 0)
        return disk_err ("create", tmp, err, errlen);
    if (write_all (fd, data, len) < 0 || fsync (fd) < 0) {
        int rc = disk_err ("write", tmp, err, errlen);
        close (fd);
        unlink (tmp);
        return rc;
    }
    close (fd);
    if (chmod (tmp, 0644) < 0 || rename (tmp, final) < 0) {
        int rc = disk_err ("rename to", final, err, errlen);
        unlink (tmp);
        return rc;
    }
    return 0;
}

static char *
read_all (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = (n + 65536 + 1) * 2;
            char *b = realloc (buf, cap);
            if (!b) {
                free (buf);
                fclose (f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread (buf + n, 1, 65536, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror (f);
    fclose (f);
    if (bad) {
        free (buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* "sha256:<hex>" of a file's content, and its size. */
static int
file_digest (const char *path, char *out, uint64_t *size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    char buf[65536];
    uint64_t n = 0;
    crypto_hash_sha256_init (&st);
    for (;;) {
        ssize_t r = read (fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close (fd);
            return -1;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update (&st, (unsigned char *) buf, (unsigned long long) r);
        n += (uint64_t) r;
    }
    close (fd);
    crypto_hash_sha256_final (&st, h);
    strcpy (out, "sha256:");
    sodium_bin2hex (out + 7, 65, h, sizeof h);
    if (size)
        *size = n;
    return 0;
}

/* ---- where blobs come from ---- */

typedef struct blob_src blob_src_t;
struct blob_src {
    /* writes the blob into fd (empty), verified (size: its descriptor's, -1 unknown); 0 or an img_err_t */
    int (*fetch) (blob_src_t *src, const char *digest, int64_t size, int fd, char *err, size_t errlen);
    imgstore_t *store;
    registry_t *reg;
    const char *dir;    /* OCI layout: dir/blobs/sha256/<hex> */
    json_t *files;      /* docker-archive: digest → path */
};

static int
fetch_registry (blob_src_t *src, const char *digest, int64_t size, int fd, char *err, size_t errlen)
{
    int rc = registry_get_blob (src->reg, digest, size, fd, NULL, err, errlen);
    if (!rc)
        __atomic_add_fetch (&src->store->blob_fetches, 1, __ATOMIC_RELAXED);
    return rc;
}

static int
copy_verified (const char *from, const char *digest, int fd, char *err, size_t errlen)
{
    int in = open (from, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat fst;
    if (in < 0 || fstat (in, &fst) || !S_ISREG (fst.st_mode)) { /* never a device or a FIFO */
        snprintf (err, errlen, "blob %s: %s: %s", digest, from, in < 0 ? strerror (errno) : "not a regular file");
        if (in >= 0)
            close (in);
        return IMG_ERR_CORRUPT;
    }
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    char buf[65536], got[80];
    crypto_hash_sha256_init (&st);
    for (;;) {
        ssize_t r = read (in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0) {
                snprintf (err, errlen, "blob %s: read %s: %s", digest, from, strerror (errno));
                close (in);
                return IMG_ERR_CORRUPT;
            }
            break;
        }
        crypto_hash_sha256_update (&st, (unsigned char *) buf, (unsigned long long) r);
        if (write_all (fd, buf, (size_t) r) < 0) {
            snprintf (err, errlen, "blob %s: write: %s", digest, strerror (errno));
            close (in);
            return IMG_ERR_DISK;
        }
    }
    close (in);
    crypto_hash_sha256_final (&st, h);
    strcpy (got, "sha256:");
    sodium_bin2hex (got + 7, 65, h, sizeof h);
    if (strcmp (got, digest)) {
        snprintf (err, errlen, "blob %s: digest mismatch: expected %s, got %s", digest, digest, got);
        return IMG_ERR_DIGEST;
    }
    return 0;
}

static int
fetch_layout (blob_src_t *src, const char *digest, int64_t size, int fd, char *err, size_t errlen)
{
    (void) size;   /* a local file: its digest is checked, its length costs nothing to read */
    char p[P_MAX];
    snprintf (p, sizeof p, "%s/blobs/sha256/%s", src->dir, digest + 7);
    if (!sha256_ok (digest) || !inside (src->dir, p)) { /* a symlink in the layout pointing out of it */
        snprintf (err, errlen, "blob %s: not in the layout", digest);
        return IMG_ERR_CORRUPT;
    }
    return copy_verified (p, digest, fd, err, errlen);
}

static int
fetch_files (blob_src_t *src, const char *digest, int64_t size, int fd, char *err, size_t errlen)
{
    (void) size;
    const char *p = json_string_value (json_object_get (src->files, digest));
    if (!p) {
        snprintf (err, errlen, "blob %s: not in the archive", digest);
        return IMG_ERR_CORRUPT;
    }
    return copy_verified (p, digest, fd, err, errlen);
}

/* The blob is in blobs/ when this returns 0. */
static int
ensure_blob (imgstore_t *s, blob_src_t *src, const char *digest, int64_t size, char *err, size_t errlen)
{
    char final[P_MAX], tmp[P_MAX];
    blob_path (s, digest, final, sizeof final);
    if (exists (final))
        return 0;
    int fd = tmp_file (s, tmp, sizeof tmp);
    if (fd < 0)
        return disk_err ("create", tmp, err, errlen);
    int rc = src->fetch (src, digest, size, fd, err, errlen);
    if (!rc && fsync (fd) < 0)
        rc = disk_err ("write", tmp, err, errlen);
    close (fd);
    if (!rc && (chmod (tmp, 0644) < 0 || rename (tmp, final) < 0))
        rc = disk_err ("rename to", final, err, errlen);
    if (rc)
        unlink (tmp);
    return rc;
}

static int
store_blob_mem (imgstore_t *s, const char *digest, const char *data, size_t len, char *err, size_t errlen)
{
    char final[P_MAX];
    blob_path (s, digest, final, sizeof final);
    return exists (final) ? 0 : write_atomic (s, final, data, len, err, errlen);
}

/* ---- installing an image whose manifest is known ---- */

static void
chain_next (const char *prev, const char *diff, char *out)
{
    char buf[160];
    if (!prev[0]) {
        strcpy (out, diff);
        return;
    }
    int n = snprintf (buf, sizeof buf, "%s %s", prev, diff);
    registry_digest (buf, (size_t) n, out);
}

/* layers/<chain>/fs from the blob, unless there already. *path: its fs dir. */
static int
ensure_layer (imgstore_t *s, const char *blob_digest, const char *diff_id, const char *chain, char *path,
              size_t pathlen, char *err, size_t errlen)
{
    char final[P_MAX], tmp[P_MAX], fs[P_MAX + 8], blob[P_MAX], got[80], e2[512];
    snprintf (final, sizeof final, "%s/layers/%s", s->root, chain + 7);
    snprintf (path, pathlen, "%s/fs", final);
    if (exists (path))
        return 0;
    blob_path (s, blob_digest, blob, sizeof blob);
    int rc = layer_diff_id (blob, got, e2, sizeof e2);
    if (rc) {
        snprintf (err, errlen, "layer %s: %s", blob_digest, e2);
        return rc;
    }
    if (strcmp (got, diff_id)) {
        snprintf (err, errlen, "layer %s: diff id mismatch: expected %s, got %s", blob_digest, diff_id, got);
        return IMG_ERR_DIGEST;
    }
    snprintf (tmp, sizeof tmp, "%s/tmp/layer-XXXXXX", s->root);
    if (!mkdtemp (tmp))
        return disk_err ("mkdtemp", tmp, err, errlen);
    snprintf (fs, sizeof fs, "%s/fs", tmp);
    if (mkdir (fs, 0755) < 0) {
        rc = disk_err ("mkdir", fs, err, errlen);
    } else if ((rc = layer_unpack (blob, fs, NULL, e2, sizeof e2))) {
        snprintf (err, errlen, "layer %s: %s", blob_digest, e2);
    } else if (chmod (tmp, 0755) < 0 || rename (tmp, final) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            rc = 0;   /* a parallel pull unpacked it first */
        else
            rc = disk_err ("rename to", final, err, errlen);
    } else {
        return 0;
    }
    layer_remove (tmp);
    return rc;
}

typedef struct {
    const char *top_digest, *top_body;
    size_t top_len;
    const char *digest, *body;
    size_t len;
    const registry_manifest_t *m;
} manifest_in_t;

static int
install_image (imgstore_t *s, const char *ns, const char *name, const manifest_in_t *mi, blob_src_t *src,
               json_t **record, char *err, size_t errlen)
{
    char p[P_MAX], chain[80] = "", lpath[P_MAX + 8];
    int rc = 0;
    if (mi->top_body && (rc = store_blob_mem (s, mi->top_digest, mi->top_body, mi->top_len, err, errlen)))
        return rc;
    if ((rc = store_blob_mem (s, mi->digest, mi->body, mi->len, err, errlen)))
        return rc;
    if ((rc = ensure_blob (s, src, mi->m->config, mi->m->config_size, err, errlen)))
        return rc;
    blob_path (s, mi->m->config, p, sizeof p);
    size_t clen;
    char *cbody = read_all (p, &clen);
    json_t *cfg = cbody ? json_loadb (cbody, clen, 0, NULL) : NULL;
    free (cbody);
    json_t *diffs = json_object_get (json_object_get (cfg, "rootfs"), "diff_ids");
    if (!json_is_object (cfg) || !json_is_array (diffs) || json_array_size (diffs) != json_array_size (mi->m->layers)) {
        snprintf (err, errlen, "config %s: not an image config, or rootfs.diff_ids does not match the %zu layers",
                  mi->m->config, json_array_size (mi->m->layers));
        json_decref (cfg);
        return IMG_ERR_CORRUPT;
    }
    json_t *blobs = json_array (), *layers = json_array ();
    if (mi->top_body)
        json_array_append_new (blobs, json_string (mi->top_digest));
    json_array_append_new (blobs, json_string (mi->digest));
    json_array_append_new (blobs, json_string (mi->m->config));
    int64_t size = 0;
    size_t i;
    json_t *l;
    json_array_foreach (mi->m->layers, i, l) {
        const char *d = json_string_value (json_object_get (l, "digest"));
        const char *diff = json_string_value (json_array_get (diffs, i));
        if (!sha256_ok (diff)) { /* the first layer's chain id is its diff id: it names a directory */
            snprintf (err, errlen, "config %s: rootfs.diff_ids[%zu] is not a sha256 digest", mi->m->config, i);
            rc = IMG_ERR_CORRUPT;
            break;
        }
        json_t *lsz = json_object_get (l, "size");
        if ((rc = ensure_blob (s, src, d, lsz ? (int64_t) json_integer_value (lsz) : -1, err, errlen)))
            break;
        chain_next (chain, diff, chain);
        if ((rc = ensure_layer (s, d, diff, chain, lpath, sizeof lpath, err, errlen)))
            break;
        struct stat st;
        blob_path (s, d, p, sizeof p);
        if (stat (p, &st) == 0)
            size += st.st_size;
        json_array_append_new (blobs, json_string (d));
        json_array_append_new (layers, json_string (lpath));
    }
    if (rc) {
        json_decref (cfg);
        json_decref (blobs);
        json_decref (layers);
        return rc;
    }
    json_t *c = json_object_get (cfg, "config");
    int64_t now = now_ms ();
    json_t *rec = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:I,s:O,s:s,s:s,s:o,s:o,s:I,s:I}", "name", name, "namespace", ns,
                             "digest", mi->top_digest, "manifestDigest", mi->digest, "configDigest", mi->m->config,
                             "size", (json_int_t) size, "config", json_is_object (c) ? c : json_object (),
                             "architecture", json_string_value (json_object_get (cfg, "architecture")) ?: "",
                             "os", json_string_value (json_object_get (cfg, "os")) ?: "", "layers", layers, "blobs",
                             blobs, "pulledAt", (json_int_t) now, "lastUsed", (json_int_t) now);
    if (!json_is_object (c) && json_object_get (rec, "config"))
        json_decref (json_object_get (rec, "config"));   /* s:O took its own reference */
    /* given to the node offline (import, preload, seed) or pulled: imports serve later pulls of
     * their name as the node's local mirror (see imgstore.h) */
    json_object_set_new (rec, "source", json_string (src->reg ? "pull" : "import"));
    json_decref (cfg);
    char dir[P_MAX];
    ns_dir (s, ns, dir, sizeof dir);
    if (mkdir_p (dir) < 0) {
        json_decref (rec);
        return disk_err ("mkdir", dir, err, errlen);
    }
    char *txt = json_dumps (rec, JSON_COMPACT | JSON_SORT_KEYS);
    record_path (s, ns, name, p, sizeof p);
    pthread_mutex_lock (&s->rec_lock); /* against imgstore_touch writing back the record it read */
    rc = txt ? write_atomic (s, p, txt, strlen (txt), err, errlen) : IMG_ERR_DISK;
    pthread_mutex_unlock (&s->rec_lock);
    free (txt);
    if (!rc && record)
        *record = json_incref (rec);
    json_decref (rec);
    return rc;
}

/* ---- the store ---- */

imgstore_t *
imgstore_open (const char *root, char *err, size_t errlen)
{
    char p[P_MAX];
    if (sodium_init () < 0) {
        snprintf (err, errlen, "imgstore: libsodium did not initialise");
        return NULL;
    }
    if (mkdir_p (root) < 0) {
        snprintf (err, errlen, "imgstore: mkdir %s: %s", root, strerror (errno));
        return NULL;
    }
    imgstore_t *s = calloc (1, sizeof *s);
    if (!s || !realpath (root, s->root)) {
        snprintf (err, errlen, "imgstore: %s: %s", root, strerror (errno));
        free (s);
        return NULL;
    }
    if (strlen (s->root) > 3000) {   /* room for blobs/sha256/<hex>, layers/<hex>/fs/… */
        snprintf (err, errlen, "imgstore: %s: path too long", root);
        free (s);
        return NULL;
    }
    /* a crash mid-pull leaves its temp files here: swept, unless a pull or an import runs now
     * (another process's: `troupe runtime rmi` opens the store while the shim pulls) */
    snprintf (p, sizeof p, "%s/tmp", s->root);
    int lk = gc_lock (s, 1);
    if (lk >= 0) {
        layer_remove (p);
        gc_unlock (lk);
    }
    const char *dirs[] = {"tmp", "blobs/sha256", "layers", "images"};
    for (size_t i = 0; i < 4; i++) {
        snprintf (p, sizeof p, "%s/%s", s->root, dirs[i]);
        if (mkdir_p (p) < 0) {
            snprintf (err, errlen, "imgstore: mkdir %s: %s", p, strerror (errno));
            free (s);
            return NULL;
        }
    }
    chmod (p, 0700);
    pthread_mutex_init (&s->rec_lock, NULL);
    return s;
}

void
imgstore_destroy (imgstore_t **self_p)
{
    imgstore_t *s = *self_p;
    if (!s)
        return;
    pthread_mutex_destroy (&s->rec_lock);
    free (s);
    *self_p = NULL;
}

const char *
imgstore_root (const imgstore_t *self)
{
    return self->root;
}

uint64_t
imgstore_blob_fetches (imgstore_t *self)
{
    return __atomic_load_n (&self->blob_fetches, __ATOMIC_RELAXED);
}

static json_t *
load_record (const char *path)
{
    return json_load_file (path, 0, NULL);
}

static json_t *
list_ns (imgstore_t *s, const char *ns, json_t *out)
{
    char dir[P_MAX], p[P_MAX + 300];
    ns_dir (s, ns, dir, sizeof dir);
    DIR *d = opendir (dir);
    struct dirent *de;
    if (!d)
        return out;
    while ((de = readdir (d))) {
        size_t n = strlen (de->d_name);
        if (n < 6 || strcmp (de->d_name + n - 5, ".json"))
            continue;
        snprintf (p, sizeof p, "%s/%s", dir, de->d_name);
        json_t *r = load_record (p);
        if (json_is_object (r))
            json_array_append (out, r);
        json_decref (r);
    }
    closedir (d);
    return out;
}

json_t *
imgstore_list (imgstore_t *self, const char *ns)
{
    json_t *out = json_array ();
    if (ns)
        return ns_ok (ns) ? list_ns (self, ns, out) : out;
    char dir[P_MAX];
    snprintf (dir, sizeof dir, "%s/images", self->root);
    DIR *d = opendir (dir);
    struct dirent *de;
    if (!d)
        return out;
    while ((de = readdir (d)))
        if (de->d_name[0] != '.')
            list_ns (self, de->d_name, out);
    closedir (d);
    return out;
}

json_t *
imgstore_get (imgstore_t *self, const char *ns, const char *ref)
{
    imgref_t r;
    char name[1024], p[P_MAX];
    if (!ns_ok (ns) || imgref_parse (ref, &r, NULL, 0))
        return NULL;
    imgref_format (&r, name, sizeof name);
    record_path (self, ns, name, p, sizeof p);
    json_t *rec = load_record (p);
    if (rec || !r.digest[0])
        return rec;
    /* by digest: any record of that repository whose image has it */
    json_t *all = list_ns (self, ns, json_array ());
    size_t i;
    json_t *x;
    json_array_foreach (all, i, x) {
        imgref_t xr;
        if (imgref_parse (json_string_value (json_object_get (x, "name")) ?: "", &xr, NULL, 0) ||
            strcmp (xr.registry, r.registry) || strcmp (xr.repository, r.repository))
            continue;
        if (!strcmp (json_string_value (json_object_get (x, "digest")) ?: "", r.digest) ||
            !strcmp (json_string_value (json_object_get (x, "manifestDigest")) ?: "", r.digest)) {
            rec = json_incref (x);
            break;
        }
    }
    json_decref (all);
    return rec;
}

int
imgstore_pull (imgstore_t *self, const char *ns, const char *ref, const imgpull_opts_t *o, json_t **record,
               char *err, size_t errlen)
{
    imgref_t r;
    char name[1024], e2[1536];
    if (record)
        *record = NULL;
    if (!ns_ok (ns)) {
        snprintf (err, errlen, "pull %s: bad namespace \"%s\"", ref, ns ? ns : "");
        return IMG_ERR_INVALID;
    }
    if (imgref_parse (ref, &r, e2, sizeof e2)) {
        snprintf (err, errlen, "pull: %s", e2);
        return IMG_ERR_INVALID;
    }
    imgref_format (&r, name, sizeof name);
    registry_t *reg = registry_new (&r, o, e2, sizeof e2);
    if (!reg) {
        snprintf (err, errlen, "pull %s: %s", name, e2);
        return IMG_ERR_NETWORK;
    }
    registry_resolved_t res;
    int lk = gc_lock (self, 0);
    if (lk < 0) {
        registry_destroy (&reg);
        return disk_err ("lock", self->root, err, errlen);
    }
    int rc = registry_resolve (reg, &res, e2, sizeof e2);
    if (!rc) {
        manifest_in_t mi = {res.top_digest, res.top_body, res.top_len, res.digest, res.body, res.len, &res.m};
        blob_src_t src = {.fetch = fetch_registry, .store = self, .reg = reg};
        rc = install_image (self, ns, name, &mi, &src, record, e2, sizeof e2);
        registry_resolved_clear (&res);
    }
    gc_unlock (lk);
    registry_destroy (&reg);
    if (rc)
        snprintf (err, errlen, "pull %s: %s", name, e2);
    return rc;
}

/* ---- import ---- */

/* The OCI layout's manifest d (maybe an index) resolved to one image manifest and installed. */
static int
import_oci_one (imgstore_t *s, const char *ns, const char *dir, const char *name, const char *digest, json_t *names,
                char *err, size_t errlen)
{
    char p[P_MAX], got[80], e2[512];
    size_t len = 0, tlen = 0;
    char *body = NULL, *top = NULL;
    char mdigest[80];
    registry_manifest_t m = {0};
    int rc = 0;
    snprintf (mdigest, sizeof mdigest, "%s", digest);
    for (int depth = 0; depth < 2; depth++) {
        snprintf (p, sizeof p, "%s/blobs/sha256/%s", dir, mdigest + 7);
        free (body);
        struct stat mst;
        body = !sha256_ok (mdigest) || !inside (dir, p) || stat (p, &mst) || !S_ISREG (mst.st_mode) ||
                       mst.st_size > REGISTRY_MANIFEST_MAX
                   ? NULL
                   : read_all (p, &len);
        if (!body) {
            snprintf (err, errlen, "import %s: manifest %s is not in the layout", name, mdigest);
            rc = IMG_ERR_CORRUPT;
            break;
        }
        registry_digest (body, len, got);
        if (strcmp (got, mdigest)) {
            snprintf (err, errlen, "import %s: manifest %s: digest mismatch: expected %s, got %s", name, mdigest,
                      mdigest, got);
            rc = IMG_ERR_DIGEST;
            break;
        }
        if ((rc = registry_parse_manifest (body, len, NULL, registry_default_arch (), &m, e2, sizeof e2))) {
            snprintf (err, errlen, "import %s: manifest %s: %s", name, mdigest, e2);
            break;
        }
        if (!m.is_index)
            break;
        if (depth == 1) {
            snprintf (err, errlen, "import %s: an index inside an index", name);
            rc = IMG_ERR_CORRUPT;
            break;
        }
        top = body;
        tlen = len;
        body = NULL;
        snprintf (mdigest, sizeof mdigest, "%s", m.pick);
        registry_manifest_clear (&m);
    }
    if (!rc) {
        manifest_in_t mi = {digest, top, tlen, mdigest, body, len, &m};
        blob_src_t src = {.fetch = fetch_layout, .store = s, .dir = dir};
        rc = install_image (s, ns, name, &mi, &src, NULL, e2, sizeof e2);
        if (rc)
            snprintf (err, errlen, "import %s: %s", name, e2);
        else
            json_array_append_new (names, json_string (name));
    }
    registry_manifest_clear (&m);
    free (body);
    free (top);
    return rc;
}

/* An annotation's name: a full reference when it has '/' or ':', else a tag of
 * "localhost/<the tarball's base name>". */
static int
import_name (const char *ann, const char *tar_path, char *out, size_t len, char *err, size_t errlen)
{
    imgref_t r;
    char buf[1024], e2[512];
    if (strchr (ann, '/') || strchr (ann, ':') || strchr (ann, '@')) {
        snprintf (buf, sizeof buf, "%s", ann);
    } else {
        const char *b = strrchr (tar_path, '/') ? strrchr (tar_path, '/') + 1 : tar_path;
        size_t n = strcspn (b, ".");
        snprintf (buf, sizeof buf, "localhost/%.*s:%s", (int) n, b, ann);
    }
    if (imgref_parse (buf, &r, e2, sizeof e2)) {
        snprintf (err, errlen, "import: image name \"%s\": %s", ann, e2);
        return IMG_ERR_INVALID;
    }
    imgref_format (&r, out, len);
    return 0;
}

static int
import_oci (imgstore_t *s, const char *ns, const char *dir, const char *tar_path, json_t *names, char *err,
            size_t errlen)
{
    char p[P_MAX], name[1024];
    snprintf (p, sizeof p, "%s/index.json", dir);
    json_t *idx = json_load_file (p, 0, NULL);
    json_t *ms = json_object_get (idx, "manifests");
    size_t i;
    json_t *d;
    int rc = 0;
    if (!json_is_array (ms)) {
        snprintf (err, errlen, "import: index.json has no manifests");
        json_decref (idx);
        return IMG_ERR_CORRUPT;
    }
    json_array_foreach (ms, i, d) {
        json_t *ann = json_object_get (d, "annotations");
        const char *n = json_string_value (json_object_get (ann, "io.containerd.image.name"));
        if (!n)
            n = json_string_value (json_object_get (ann, "org.opencontainers.image.ref.name"));
        const char *dg = json_string_value (json_object_get (d, "digest"));
        if (!n)
            continue;   /* an unnamed image: nothing to record it under */
        if ((rc = import_name (n, tar_path, name, sizeof name, err, errlen)) ||
            (rc = import_oci_one (s, ns, dir, name, dg ? dg : "", names, err, errlen)))
            break;
    }
    json_decref (idx);
    return rc;
}

/* path, symlinks resolved (docker save links a layer.tar to another), is below dir; errno set when not. */
static int
inside (const char *dir, const char *path)
{
    char real[PATH_MAX];
    size_t n = strlen (dir);
    if (!realpath (path, real))
        return 0;
    if (strncmp (real, dir, n) || real[n] != '/') {
        errno = EXDEV;
        return 0;
    }
    return 1;
}

static int
import_docker (imgstore_t *s, const char *ns, const char *dir, json_t *names, char *err, size_t errlen)
{
    char p[P_MAX], cd[80], ld[80], e2[512];
    snprintf (p, sizeof p, "%s/manifest.json", dir);
    json_t *man = json_load_file (p, 0, NULL);
    size_t i, k;
    json_t *img, *x;
    int rc = 0;
    if (!json_is_array (man)) {
        snprintf (err, errlen, "import: manifest.json is not an array");
        json_decref (man);
        return IMG_ERR_CORRUPT;
    }
    json_array_foreach (man, i, img) {
        const char *cfg = json_string_value (json_object_get (img, "Config"));
        json_t *tags = json_object_get (img, "RepoTags");
        json_t *files = json_object (), *layers = json_array ();
        uint64_t size;
        if (!cfg || strstr (cfg, "..") || cfg[0] == '/') {
            snprintf (err, errlen, "import: manifest.json[%zu]: Config missing or unsafe", i);
            rc = IMG_ERR_CORRUPT;
        }
        snprintf (p, sizeof p, "%s/%s", dir, cfg ? cfg : "");
        if (!rc && (!inside (dir, p) || file_digest (p, cd, &size) < 0)) {
            snprintf (err, errlen, "import: %s: %s", cfg, strerror (errno));
            rc = IMG_ERR_CORRUPT;
        }
        json_t *mj = NULL;
        if (!rc) {
            json_object_set_new (files, cd, json_string (p));
            mj = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                            "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                            "application/vnd.oci.image.config.v1+json", "digest", cd, "size", (json_int_t) size,
                            "layers", layers);
            json_array_foreach (json_object_get (img, "Layers"), k, x) {
                const char *lf = json_string_value (x);
                if (!lf || strstr (lf, "..") || lf[0] == '/') {
                    snprintf (err, errlen, "import: manifest.json[%zu]: Layers[%zu] missing or unsafe", i, k);
                    rc = IMG_ERR_CORRUPT;
                    break;
                }
                snprintf (p, sizeof p, "%s/%s", dir, lf);
                if (!inside (dir, p) || file_digest (p, ld, &size) < 0) {
                    snprintf (err, errlen, "import: %s: %s", lf, strerror (errno));
                    rc = IMG_ERR_CORRUPT;
                    break;
                }
                json_object_set_new (files, ld, json_string (p));
                json_array_append_new (layers, json_pack ("{s:s,s:s,s:I}", "mediaType",
                                                          "application/vnd.oci.image.layer.v1.tar", "digest", ld,
                                                          "size", (json_int_t) size));
            }
        }
        char *body = mj && !rc ? json_dumps (mj, JSON_COMPACT) : NULL;
        if (!mj)
            json_decref (layers); /* mj did not take it */
        json_decref (mj);
        registry_manifest_t m = {0};
        char md[80];
        if (body) {
            registry_digest (body, strlen (body), md);
            if ((rc = registry_parse_manifest (body, strlen (body), NULL, registry_default_arch (), &m, e2,
                                               sizeof e2)))
                snprintf (err, errlen, "import: %s", e2);
        }
        json_array_foreach (tags, k, x) {
            char name[1024];
            if (rc || !body)
                break;
            if ((rc = import_name (json_string_value (x) ?: "", "", name, sizeof name, err, errlen)))
                break;
            manifest_in_t mi = {md, NULL, 0, md, body, strlen (body), &m};
            blob_src_t src = {.fetch = fetch_files, .store = s, .files = files};
            if ((rc = install_image (s, ns, name, &mi, &src, NULL, e2, sizeof e2)))
                snprintf (err, errlen, "import %s: %s", name, e2);
            else
                json_array_append_new (names, json_string (name));
        }
        registry_manifest_clear (&m);
        free (body);
        json_decref (files);
        if (rc)
            break;
    }
    json_decref (man);
    return rc;
}

int
imgstore_import (imgstore_t *self, const char *ns, const char *tar_path, json_t **names_out, char *err,
                 size_t errlen)
{
    char tmp[PATH_MAX], p[P_MAX], e2[1024];
    json_t *names = json_array ();
    int rc;
    if (names_out)
        *names_out = NULL;
    if (!ns_ok (ns)) {
        snprintf (err, errlen, "import %s: bad namespace \"%s\"", tar_path, ns ? ns : "");
        json_decref (names);
        return IMG_ERR_INVALID;
    }
    snprintf (tmp, sizeof tmp, "%.3500s/tmp/import-XXXXXX", self->root);
    if (!mkdtemp (tmp)) {
        json_decref (names);
        return disk_err ("mkdtemp", tmp, err, errlen);
    }
    int lk = gc_lock (self, 0);
    if (lk < 0) {
        layer_remove (tmp);
        json_decref (names);
        return disk_err ("lock", self->root, err, errlen);
    }
    /* the tarball is unpacked with the layers' safe extraction: no entry lands outside tmp */
    if ((rc = layer_unpack (tar_path, tmp, NULL, e2, sizeof e2))) {
        snprintf (err, errlen, "import %s: %s", tar_path, e2);
    } else {
        snprintf (p, sizeof p, "%s/index.json", tmp);
        if (exists (p)) {
            rc = import_oci (self, ns, tmp, tar_path, names, err, errlen);
        } else {
            snprintf (p, sizeof p, "%s/manifest.json", tmp);
            if (exists (p)) {
                rc = import_docker (self, ns, tmp, names, err, errlen);
            } else {
                snprintf (err, errlen, "import %s: neither an OCI layout (index.json) nor a docker archive "
                          "(manifest.json)", tar_path);
                rc = IMG_ERR_CORRUPT;
            }
        }
        if (!rc && json_array_size (names) == 0) {
            snprintf (err, errlen, "import %s: no named image in the archive", tar_path);
            rc = IMG_ERR_NOT_FOUND;
        }
    }
    gc_unlock (lk);
    layer_remove (tmp);
    if (!rc && names_out)
        *names_out = json_incref (names);
    json_decref (names);
    return rc;
}

/* ---- remove, gc, touch ---- */

static int
digest_in (const json_t *rec, const json_t *in_use)
{
    size_t i;
    json_t *d;
    const char *a = json_string_value (json_object_get (rec, "digest"));
    const char *b = json_string_value (json_object_get (rec, "manifestDigest"));
    json_array_foreach (in_use, i, d) {
        const char *s = json_string_value (d);
        if (s && ((a && !strcmp (s, a)) || (b && !strcmp (s, b))))
            return 1;
    }
    return 0;
}

/* Deletes blobs and layers no record names. Caller holds gc.lock exclusive. */
static void
sweep_unreferenced (imgstore_t *s)
{
    json_t *all = imgstore_list (s, NULL), *used = json_object ();
    size_t i, k;
    json_t *r, *x;
    char dir[P_MAX], p[P_MAX + 300];
    json_array_foreach (all, i, r) {
        json_array_foreach (json_object_get (r, "blobs"), k, x) {
            const char *d = json_string_value (x);
            if (d && strlen (d) == 71)
                json_object_set_new (used, d + 7, json_true ());
        }
        json_array_foreach (json_object_get (r, "layers"), k, x) {
            /* ".../layers/<chain>/fs" */
            char buf[P_MAX];
            snprintf (buf, sizeof buf, "%s", json_string_value (x) ?: "");
            char *e = strrchr (buf, '/');
            if (!e)
                continue;
            *e = 0;
            e = strrchr (buf, '/');
            if (e)
                json_object_set_new (used, e + 1, json_true ());
        }
    }
    const char *sub[] = {"blobs/sha256", "layers"};
    for (int t = 0; t < 2; t++) {
        snprintf (dir, sizeof dir, "%s/%s", s->root, sub[t]);
        DIR *d = opendir (dir);
        struct dirent *de;
        if (!d)
            continue;
        while ((de = readdir (d))) {
            if (de->d_name[0] == '.' || json_object_get (used, de->d_name))
                continue;
            snprintf (p, sizeof p, "%s/%s", dir, de->d_name);
            layer_remove (p);
        }
        closedir (d);
    }
    json_decref (used);
    json_decref (all);
}

int
imgstore_remove (imgstore_t *self, const char *ns, const char *ref, const json_t *in_use, char *err, size_t errlen)
{
    char p[P_MAX];
    json_t *rec = imgstore_get (self, ns, ref);
    if (!rec) {
        snprintf (err, errlen, "remove %s: no such image in namespace %s", ref, ns ? ns : "");
        return IMG_ERR_NOT_FOUND;
    }
    if (digest_in (rec, in_use)) {
        snprintf (err, errlen, "remove %s: image is in use by a container (%s)", ref,
                  json_string_value (json_object_get (rec, "digest")));
        json_decref (rec);
        return -1;
    }
    record_path (self, ns, json_string_value (json_object_get (rec, "name")) ?: "", p, sizeof p);
    json_decref (rec);
    /* not waited for: a pull or import holds the lock for its whole download, and the caller is
     * the shim's serve loop */
    int lk = gc_lock (self, 1);
    if (lk < 0) {
        snprintf (err, errlen, "remove %s: a pull, an import or an image GC is running; try again", ref);
        return -1;
    }
    int rc = unlink (p) < 0 && errno != ENOENT ? disk_err ("remove", p, err, errlen) : 0;
    if (!rc)
        sweep_unreferenced (self);
    gc_unlock (lk);
    return rc;
}

static int
by_last_used (const void *a, const void *b)
{
    json_int_t x = json_integer_value (json_object_get (*(json_t *const *) a, "lastUsed"));
    json_int_t y = json_integer_value (json_object_get (*(json_t *const *) b, "lastUsed"));
    return x < y ? -1 : x > y;
}

int
imgstore_gc (imgstore_t *self, int high_pct, int low_pct, const json_t *in_use)
{
    struct statvfs v;
    if (statvfs (self->root, &v) < 0 || v.f_blocks == 0)
        return 0;
    double cap = (double) v.f_blocks * (double) v.f_frsize;
    double used = cap - (double) v.f_bavail * (double) v.f_frsize;
    if (used * 100.0 < (double) high_pct * cap)
        return 0;
    /* as the kubelet: free (usage - low) bytes, by the images' sizes, least recently used first */
    double to_free = used - (double) low_pct * cap / 100.0, freed = 0;
    json_t *all = imgstore_list (self, NULL);
    size_t n = json_array_size (all);
    json_t **v_ = calloc (n ? n : 1, sizeof *v_);
    for (size_t i = 0; i < n; i++)
        v_[i] = json_array_get (all, i);
    qsort (v_, n, sizeof *v_, by_last_used);
    int removed = 0;
    char p[P_MAX];
    int lk = gc_lock (self, 1);
    if (lk < 0) { /* a pull runs (or a remove): the next round (see imgstore_remove) */
        free (v_);
        json_decref (all);
        return 0;
    }
    for (size_t i = 0; i < n && freed < to_free; i++) {
        if (digest_in (v_[i], in_use))
            continue;
        const char *ns = json_string_value (json_object_get (v_[i], "namespace"));
        const char *name = json_string_value (json_object_get (v_[i], "name"));
        if (!ns_ok (ns) || !name)
            continue;
        record_path (self, ns, name, p, sizeof p);
        if (unlink (p) == 0) {
            removed++;
            freed += (double) json_integer_value (json_object_get (v_[i], "size"));
        }
    }
    if (removed)
        sweep_unreferenced (self);
    gc_unlock (lk);
    free (v_);
    json_decref (all);
    return removed;
}

void
imgstore_touch (imgstore_t *self, const char *ns, const char *ref)
{
    char p[P_MAX], err[256];
    pthread_mutex_lock (&self->rec_lock);
    json_t *rec = imgstore_get (self, ns, ref);
    if (rec) {
        json_object_set_new (rec, "lastUsed", json_integer (now_ms ()));
        record_path (self, ns, json_string_value (json_object_get (rec, "name")) ?: "", p, sizeof p);
        char *txt = json_dumps (rec, JSON_COMPACT | JSON_SORT_KEYS);
        if (txt)
            write_atomic (self, p, txt, strlen (txt), err, sizeof err);
        free (txt);
        json_decref (rec);
    }
    pthread_mutex_unlock (&self->rec_lock);
}
