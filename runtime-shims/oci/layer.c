/* layer — see layer.h. libarchive's write-disk does the writing (owners, modes, times, xattrs,
 * its own NODOTDOT and SYMLINKS checks); the paths are checked and made absolute here first, so
 * no chdir is needed and the checks do not depend on libarchive's version. */
#include "runtime-shims/oci/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sodium.h>
#include <unistd.h>

#include "runtime-shims/oci/imgstore.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* in → out: relative, '.' and empty components dropped. 0 ok, 1 the root itself, -1 unsafe
 * (absolute, or a ".." component). */
static int
clean_rel (const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    if (in[0] == '/')
        return -1;
    const char *p = in;
    while (*p) {
        const char *e = strchr (p, '/');
        size_t n = e ? (size_t) (e - p) : strlen (p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -1;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > outlen)
                return -1;
            if (o)
                out[o++] = '/';
            memcpy (out + o, p, n);
            o += n;
        }
        if (!e)
            break;
        p = e + 1;
    }
    out[o] = 0;
    return o ? 0 : 1;
}

/* Every directory above rel (under root) exists and none is a symlink; missing ones are made
 * (0755) when create. 0, or -1 (a symlink or non-directory on the way, or mkdir failed). */
static int
check_parents (const char *root, const char *rel, int create)
{
    char path[PATH_MAX];
    size_t rl = strlen (root);
    if (rl + 1 + strlen (rel) + 1 > sizeof path)
        return -1;
    memcpy (path, root, rl);
    path[rl] = '/';
    strcpy (path + rl + 1, rel);
    for (char *p = path + rl + 1; (p = strchr (p, '/')); p++) {
        *p = 0;
        struct stat st;
        if (lstat (path, &st) < 0) {
            if (errno != ENOENT || !create || mkdir (path, 0755) < 0) {
                *p = '/';
                return -1;
            }
        } else if (!S_ISDIR (st.st_mode)) {
            *p = '/';
            errno = ENOTDIR;
            return -1;
        }
        *p = '/';
    }
    return 0;
}

static int
rm_one (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return (type == FTW_DP ? rmdir (path) : unlink (path)) < 0 && errno != ENOENT ? -1 : 0;
}

int
layer_remove (const char *path)
{
    struct stat st;
    if (lstat (path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR (st.st_mode))
        return unlink (path);
    return nftw (path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Removes what dir holds, keeping dir. */
static int
empty_dir (const char *dir)
{
    char cmd[PATH_MAX + 300];
    DIR *d = opendir (dir);
    struct dirent *de;
    int rc = 0;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir (d))) {
        if (!strcmp (de->d_name, ".") || !strcmp (de->d_name, ".."))
            continue;
        snprintf (cmd, sizeof cmd, "%s/%s", dir, de->d_name);
        if (layer_remove (cmd) < 0)
            rc = -1;
    }
    closedir (d);
    return rc;
}

static int
classify (int e)
{
    return e == ENOSPC || e == EIO || e == EDQUOT || e == EROFS ? IMG_ERR_DISK : IMG_ERR_CORRUPT;
}

static int
ar_fail (struct archive *a, const char *what, const char *entry, char *err, size_t errlen)
{
    int code = classify (archive_errno (a));
    snprintf (err, errlen, "layer: %s %s: %s", what, entry, archive_error_string (a) ? archive_error_string (a) : "error");
    return code;
}

static struct archive *
open_reader (const char *tar_path, char *err, size_t errlen)
{
    struct archive *a = archive_read_new ();
    if (!a) {
        snprintf (err, errlen, "layer: out of memory");
        return NULL;
    }
    archive_read_support_filter_all (a);   /* gzip, zstd, xz, bzip2 … or none: by content */
    archive_read_support_format_tar (a);
    if (archive_read_open_filename (a, tar_path, 1 << 16) != ARCHIVE_OK) {
        snprintf (err, errlen, "layer: open %s: %s", tar_path, archive_error_string (a));
        archive_read_free (a);
        return NULL;
    }
    return a;
}

typedef enum { MODE_OVERLAY, MODE_COPY_WHITEOUTS, MODE_COPY_ENTRIES } unpack_mode_t;

static int
whiteout (const char *root, const char *rel, unpack_mode_t mode, char *err, size_t errlen)
{
    char parent[PATH_MAX], target[2 * PATH_MAX];
    const char *slash = strrchr (rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (check_parents (root, rel, mode == MODE_OVERLAY) < 0) {
        if (mode == MODE_COPY_WHITEOUTS && errno == ENOENT)
            return 0;   /* nothing below to hide */
        snprintf (err, errlen, "layer: unsafe path %s (a parent is a symlink or not a directory)", rel);
        return IMG_ERR_CORRUPT;
    }
    if (slash)
        snprintf (parent, sizeof parent, "%s/%.*s", root, (int) (slash - rel), rel);
    else
        snprintf (parent, sizeof parent, "%s", root);
    if (!strcmp (base, WH_OPAQUE)) {
        if (mode == MODE_COPY_WHITEOUTS) {
            if (empty_dir (parent) < 0) {
                snprintf (err, errlen, "layer: opaque %s: %s", parent, strerror (errno));
                return classify (errno);
            }
            return 0;
        }
        if (lsetxattr (parent, "trusted.overlay.opaque", "y", 1, 0) < 0) {
            snprintf (err, errlen, "layer: setxattr trusted.overlay.opaque on %s: %s", parent, strerror (errno));
            return IMG_ERR_DISK;
        }
        return 0;
    }
    const char *name = base + strlen (WH_PREFIX);
    if (!*name || !strcmp (name, ".") || !strcmp (name, "..")) {
        snprintf (err, errlen, "layer: unsafe whiteout %s", rel);
        return IMG_ERR_CORRUPT;
    }
    snprintf (target, sizeof target, "%s/%s", parent, name);
    if (layer_remove (target) < 0) {
        snprintf (err, errlen, "layer: whiteout %s: %s", target, strerror (errno));
        return classify (errno);
    }
    if (mode == MODE_COPY_WHITEOUTS)
        return 0;
    if (mknod (target, S_IFCHR | 0000, makedev (0, 0)) < 0 || lchown (target, 0, 0) < 0) {
        snprintf (err, errlen, "layer: whiteout device %s: %s", target, strerror (errno));
        return IMG_ERR_DISK;
    }
    return 0;
}

static int
copy_data (struct archive *r, struct archive *w, const char *rel, char *err, size_t errlen)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    for (;;) {
        int rc = archive_read_data_block (r, &buf, &size, &off);
        if (rc == ARCHIVE_EOF)
            return 0;
        if (rc < ARCHIVE_WARN)
            return ar_fail (r, "read", rel, err, errlen);
        if (archive_write_data_block (w, buf, size, off) < ARCHIVE_WARN)
            return ar_fail (w, "write", rel, err, errlen);
    }
}

static int
one_pass (const char *tar_path, const char *root, unpack_mode_t mode, uint64_t *bytes, char *err, size_t errlen)
{
    struct archive *r = open_reader (tar_path, err, errlen);
    if (!r)
        return IMG_ERR_CORRUPT;
    struct archive *w = archive_write_disk_new ();
    /* numeric owners (no lookup: the host's /etc/passwd says nothing about the image's) */
    archive_write_disk_set_options (w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                           ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                           ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    int rc = 0;
    char rel[PATH_MAX], abs[PATH_MAX + 2], lrel[PATH_MAX], labs[PATH_MAX + 2];
    struct archive_entry *e;
    rel[0] = 0;
    if (bytes)
        *bytes = 0;
    for (;;) {
        int h = archive_read_next_header (r, &e);
        if (h == ARCHIVE_EOF)
            break;
        if (h < ARCHIVE_WARN) {
            rc = ar_fail (r, "read header after", rel[0] ? rel : "start", err, errlen);
            break;
        }
        const char *path = archive_entry_pathname (e);
        if (!path) {
            snprintf (err, errlen, "layer: an entry without a path");
            rc = IMG_ERR_CORRUPT;
            break;
        }
        int c = clean_rel (path, rel, sizeof rel);
        if (c < 0) {
            snprintf (err, errlen, "layer: unsafe path %s", path);
            rc = IMG_ERR_CORRUPT;
            break;
        }
        if (c == 1)
            continue;   /* "./": the root's own metadata is the store's */
        const char *base = strrchr (rel, '/') ? strrchr (rel, '/') + 1 : rel;
        int is_wh = !strncmp (base, WH_PREFIX, strlen (WH_PREFIX));
        if (is_wh) {
            if (mode != MODE_COPY_ENTRIES && (rc = whiteout (root, rel, mode, err, errlen)))
                break;
            continue;
        }
        if (mode == MODE_COPY_WHITEOUTS)
            continue;
        snprintf (abs, sizeof abs, "%s/%s", root, rel);
        archive_entry_set_pathname (e, abs);
        const char *link = archive_entry_hardlink (e);
        if (link) {
            if (clean_rel (link, lrel, sizeof lrel) != 0 || check_parents (root, lrel, 0) < 0) {
                snprintf (err, errlen, "layer: unsafe hard link %s -> %s", path, link);
                rc = IMG_ERR_CORRUPT;
                break;
            }
            snprintf (labs, sizeof labs, "%s/%s", root, lrel);
            archive_entry_set_hardlink (e, labs);
        }
        if (archive_write_header (w, e) < ARCHIVE_WARN) {
            rc = ar_fail (w, "write", rel, err, errlen);
            if (rc == IMG_ERR_CORRUPT) /* libarchive's refusals: a symlink on the way, ".." */
                snprintf (err, errlen, "layer: unsafe path %s: %s", rel, archive_error_string (w));
            break;
        }
        if (archive_entry_filetype (e) == AE_IFREG && !link) {
            if ((rc = copy_data (r, w, rel, err, errlen)))
                break;
            if (bytes)
                *bytes += (uint64_t) archive_entry_size (e);
        }
        if (archive_write_finish_entry (w) < ARCHIVE_WARN) {
            rc = ar_fail (w, "finish", rel, err, errlen);
            break;
        }
    }
    if (archive_write_close (w) < ARCHIVE_WARN && !rc)   /* directory modes and times, last */
        rc = ar_fail (w, "close", root, err, errlen);
    archive_write_free (w);
    archive_read_free (r);
    return rc;
}

static int
real_root (const char *dir, char *out, char *err, size_t errlen)
{
    if (!realpath (dir, out)) {
        snprintf (err, errlen, "layer: %s: %s", dir, strerror (errno));
        return IMG_ERR_DISK;
    }
    return 0;
}

int
layer_unpack (const char *tar_path, const char *dir, uint64_t *bytes, char *err, size_t errlen)
{
    char root[PATH_MAX];
    int rc = real_root (dir, root, err, errlen);
    return rc ? rc : one_pass (tar_path, root, MODE_OVERLAY, bytes, err, errlen);
}

int
layer_apply_copy (const char *tar_path, const char *dir, char *err, size_t errlen)
{
    char root[PATH_MAX];
    int rc = real_root (dir, root, err, errlen);
    if (!rc)
        rc = one_pass (tar_path, root, MODE_COPY_WHITEOUTS, NULL, err, errlen);
    if (!rc)
        rc = one_pass (tar_path, root, MODE_COPY_ENTRIES, NULL, err, errlen);
    return rc;
}

int
layer_diff_id (const char *tar_path, char *out, char *err, size_t errlen)
{
    struct archive *a = archive_read_new ();
    struct archive_entry *e;
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    int rc = 0;
    archive_read_support_filter_all (a);
    archive_read_support_format_raw (a);   /* the decompressed stream itself, as one entry */
    if (archive_read_open_filename (a, tar_path, 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header (a, &e) != ARCHIVE_OK) {
        snprintf (err, errlen, "layer: %s: %s", tar_path, archive_error_string (a));
        archive_read_free (a);
        return IMG_ERR_CORRUPT;
    }
    crypto_hash_sha256_init (&st);
    char buf[1 << 16];
    for (;;) {
        la_ssize_t n = archive_read_data (a, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            snprintf (err, errlen, "layer: %s: %s", tar_path, archive_error_string (a));
            rc = IMG_ERR_CORRUPT;
            break;
        }
        crypto_hash_sha256_update (&st, (const unsigned char *) buf, (unsigned long long) n);
    }
    archive_read_free (a);
    if (rc)
        return rc;
    crypto_hash_sha256_final (&st, h);
    strcpy (out, "sha256:");
    sodium_bin2hex (out + 7, 65, h, sizeof h);
    return 0;
}
