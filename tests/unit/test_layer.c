/* layer: tarballs written here with libarchive's writer, unpacked and checked on disk — files,
 * dirs, symlinks, hard links, owners, modes, times, xattrs; OCI whiteouts in overlayfs form;
 * unsafe entries ("../escape", absolute paths, writes through a symlink, hard links out)
 * refused with IMG_ERR_CORRUPT and nothing written outside; a truncated gzip refused; gzip, zstd
 * and plain tar told apart by content; the copy fallback applying two layers; the diff id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/layer.h"

typedef struct {
    const char *path;
    char type;          /* f file, d dir, l symlink, h hard link */
    const char *data;   /* file content, or link target */
    int mode, uid, gid;
} ent_t;

enum { PLAIN, GZIP, ZSTD };

static char dir[64];

static int
make_tar (const char *out, const ent_t *e, size_t n, int filter)
{
    struct archive *a = archive_write_new ();
    archive_write_set_format_pax_restricted (a);
    if (filter == GZIP)
        archive_write_add_filter_gzip (a);
    if (filter == ZSTD && archive_write_add_filter_zstd (a) != ARCHIVE_OK) {
        archive_write_free (a);
        return -1;
    }
    assert_int_equal (archive_write_open_filename (a, out), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *x = archive_entry_new ();
        archive_entry_set_pathname (x, e[i].path);
        archive_entry_set_uid (x, e[i].uid);
        archive_entry_set_gid (x, e[i].gid);
        archive_entry_set_mtime (x, 1000000000 + (time_t) i, 0);
        switch (e[i].type) {
        case 'f':
            archive_entry_set_filetype (x, AE_IFREG);
            archive_entry_set_perm (x, e[i].mode ? e[i].mode : 0644);
            archive_entry_set_size (x, e[i].data ? (la_int64_t) strlen (e[i].data) : 0);
            if (!strcmp (e[i].path, "xattr-file"))
                archive_entry_xattr_add_entry (x, "user.troupe", "yes", 3);
            break;
        case 'd':
            archive_entry_set_filetype (x, AE_IFDIR);
            archive_entry_set_perm (x, e[i].mode ? e[i].mode : 0755);
            break;
        case 'l':
            archive_entry_set_filetype (x, AE_IFLNK);
            archive_entry_set_perm (x, 0777);
            archive_entry_set_symlink (x, e[i].data);
            break;
        case 'h':
            archive_entry_set_filetype (x, AE_IFREG);
            archive_entry_set_perm (x, 0644);
            archive_entry_set_hardlink (x, e[i].data);
            archive_entry_set_size (x, 0);
            break;
        }
        assert_int_equal (archive_write_header (a, x), ARCHIVE_OK);
        if (e[i].type == 'f' && e[i].data)
            archive_write_data (a, e[i].data, strlen (e[i].data));
        archive_entry_free (x);
    }
    archive_write_close (a);
    archive_write_free (a);
    return 0;
}

static char *
path (const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf (buf[k], sizeof buf[k], "%s/%s", dir, rel);
    return buf[k];
}

static void
slurp (const char *p, char *out, size_t len)
{
    FILE *f = fopen (p, "r");
    assert_non_null (f);
    size_t n = fread (out, 1, len - 1, f);
    out[n] = 0;
    fclose (f);
}

static int
setup (void **state)
{
    (void) state;
    strcpy (dir, "/tmp/troupe-layer.XXXXXX");
    assert_non_null (mkdtemp (dir));
    mkdir (path ("fs"), 0755);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    layer_remove (dir);
    return 0;
}

static const ent_t tree[] = {
    {"./", 'd', NULL, 0755, 0, 0},
    {"etc/", 'd', NULL, 0750, 0, 0},
    {"etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\n", 0644, 0, 0},
    {"etc/.wh.shadow", 'f', NULL, 0, 0, 0},
    {"home/user/notes", 'f', "hello\n", 0600, 1000, 1001},
    {"bin/busybox", 'f', "#!busybox\n", 0755, 0, 0},
    {"bin/sh", 'l', "busybox", 0, 0, 0},
    {"bin/ash", 'h', "bin/busybox", 0, 0, 0},
    {"var/cache/.wh..wh..opq", 'f', NULL, 0, 0, 0},
    {"var/cache/new", 'f', "n\n", 0644, 0, 0},
    {"xattr-file", 'f', "x", 0644, 0, 0},
};

static void
test_unpack_tree (void **state)
{
    (void) state;
    char err[512] = "", buf[256];
    uint64_t bytes = 0;
    struct stat st, st2;
    make_tar (path ("l.tgz"), tree, sizeof tree / sizeof tree[0], GZIP);
    if (layer_unpack (path ("l.tgz"), path ("fs"), &bytes, err, sizeof err))
        fail_msg ("unpack: %s", err);
    assert_int_equal (bytes, strlen ("root:x:0:0::/root:/bin/sh\n") + 6 + 10 + 2 + 1);
    slurp (path ("fs/etc/passwd"), buf, sizeof buf);
    assert_string_equal (buf, "root:x:0:0::/root:/bin/sh\n");
    assert_int_equal (lstat (path ("fs/etc"), &st), 0);
    assert_int_equal (st.st_mode & 07777, 0750);
    assert_int_equal (st.st_mtime, 1000000001);   /* a directory's time survives what was written in it */
    assert_int_equal (lstat (path ("fs/home/user/notes"), &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    assert_int_equal (st.st_uid, 1000);
    assert_int_equal (st.st_gid, 1001);
    assert_int_equal (st.st_mtime, 1000000004);
    assert_int_equal (lstat (path ("fs/bin/sh"), &st), 0);
    assert_true (S_ISLNK (st.st_mode));
    ssize_t n = readlink (path ("fs/bin/sh"), buf, sizeof buf);
    assert_int_equal (n, 7);
    assert_memory_equal (buf, "busybox", 7);
    assert_int_equal (lstat (path ("fs/bin/busybox"), &st), 0);
    assert_int_equal (lstat (path ("fs/bin/ash"), &st2), 0);
    assert_int_equal (st.st_ino, st2.st_ino);   /* a hard link, not a copy */
    assert_int_equal (st.st_nlink, 2);
    /* whiteout: a 0:0 char device, the .wh. file itself absent */
    assert_int_equal (lstat (path ("fs/etc/shadow"), &st), 0);
    assert_true (S_ISCHR (st.st_mode));
    assert_int_equal (st.st_rdev, makedev (0, 0));
    assert_int_equal (st.st_uid, 0);
    assert_int_equal (lstat (path ("fs/etc/.wh.shadow"), &st), -1);
    /* opaque dir */
    n = lgetxattr (path ("fs/var/cache"), "trusted.overlay.opaque", buf, sizeof buf);
    assert_int_equal (n, 1);
    assert_int_equal (buf[0], 'y');
    assert_int_equal (lstat (path ("fs/var/cache/.wh..wh..opq"), &st), -1);
    assert_int_equal (lstat (path ("fs/var/cache/new"), &st), 0);
    /* xattrs kept */
    n = lgetxattr (path ("fs/xattr-file"), "user.troupe", buf, sizeof buf);
    assert_int_equal (n, 3);
    assert_memory_equal (buf, "yes", 3);
}

static void
refused_in (const ent_t *e, size_t n, const char *say, int copy_too)
{
    char err[512] = "";
    layer_remove (path ("fs"));
    mkdir (path ("fs"), 0755);
    make_tar (path ("bad.tar"), e, n, PLAIN);
    int rc = layer_unpack (path ("bad.tar"), path ("fs"), NULL, err, sizeof err);
    if (rc != IMG_ERR_CORRUPT || !strstr (err, say))
        fail_msg ("%s: rc %d, err \"%s\" (want IMG_ERR_CORRUPT saying \"%s\")", e[n - 1].path, rc, err, say);
    layer_remove (path ("fs"));
    mkdir (path ("fs"), 0755);
    if (!copy_too)
        return;
    rc = layer_apply_copy (path ("bad.tar"), path ("fs"), err, sizeof err);
    if (rc != IMG_ERR_CORRUPT)
        fail_msg ("copy %s: rc %d, err \"%s\"", e[n - 1].path, rc, err);
}

static void
refused (const ent_t *e, size_t n, const char *say)
{
    refused_in (e, n, say, 1);
}

static void
test_unsafe (void **state)
{
    (void) state;
    struct stat st;
    mkdir (path ("outside"), 0755);
    const ent_t dotdot[] = {{"ok", 'f', "1", 0, 0, 0}, {"../escape", 'f', "pwned", 0, 0, 0}};
    refused (dotdot, 2, "unsafe path ../escape");
    assert_int_equal (lstat (path ("escape"), &st), -1);
    const ent_t deep[] = {{"a/b/../../../escape2", 'f', "pwned", 0, 0, 0}};
    refused (deep, 1, "unsafe path");
    assert_int_equal (lstat (path ("escape2"), &st), -1);
    char abs[600];
    snprintf (abs, sizeof abs, "%s/abs-file", path ("outside"));
    const ent_t absolute[] = {{abs, 'f', "pwned", 0, 0, 0}};
    refused (absolute, 1, "unsafe path /");
    assert_int_equal (lstat (abs, &st), -1);
    /* a symlink to the outside, then a file written through it */
    const ent_t through[] = {{"link", 'l', path ("outside"), 0, 0, 0}, {"link/planted", 'f', "pwned", 0, 0, 0}};
    refused (through, 2, "link/planted");
    assert_int_equal (lstat (path ("outside/planted"), &st), -1);
    const ent_t rel_through[] = {{"up", 'l', "../outside", 0, 0, 0}, {"up/planted2", 'f', "pwned", 0, 0, 0}};
    refused (rel_through, 2, "up/planted2");
    assert_int_equal (lstat (path ("outside/planted2"), &st), -1);
    /* a whiteout through a symlink must not delete outside */
    int fd = open (path ("outside/victim"), O_CREAT | O_WRONLY, 0644);
    close (fd);
    const ent_t wh_through[] = {{"wl", 'l', path ("outside"), 0, 0, 0}, {"wl/.wh.victim", 'f', NULL, 0, 0, 0}};
    refused_in (wh_through, 2, "wl/.wh.victim", 0);
    assert_int_equal (lstat (path ("outside/victim"), &st), 0);
    /* copy fallback: whiteouts apply to the layers below, so the symlink comes from a lower one */
    char err[512] = "";
    make_tar (path ("lower.tar"), wh_through, 1, PLAIN);
    make_tar (path ("upper.tar"), wh_through + 1, 1, PLAIN);
    assert_int_equal (layer_apply_copy (path ("lower.tar"), path ("fs"), err, sizeof err), 0);
    assert_int_equal (layer_apply_copy (path ("upper.tar"), path ("fs"), err, sizeof err), IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, "wl/.wh.victim"));
    assert_int_equal (lstat (path ("outside/victim"), &st), 0);
    const ent_t opq_through[] = {{"wl/.wh..wh..opq", 'f', NULL, 0, 0, 0}};
    make_tar (path ("upper2.tar"), opq_through, 1, PLAIN);
    assert_int_equal (layer_apply_copy (path ("upper2.tar"), path ("fs"), err, sizeof err), IMG_ERR_CORRUPT);
    assert_int_equal (lstat (path ("outside/victim"), &st), 0);
    const ent_t hl[] = {{"hl", 'h', "../outside/victim", 0, 0, 0}};
    refused (hl, 1, "hard link");
}

static void
test_truncated_gzip (void **state)
{
    (void) state;
    char big[200001], err[512] = "";
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char) ('a' + (randombytes_uniform (26)));
    big[sizeof big - 1] = 0;
    const ent_t e[] = {{"big", 'f', big, 0, 0, 0}, {"after", 'f', "x", 0, 0, 0}};
    make_tar (path ("t.tgz"), e, 2, GZIP);
    struct stat st;
    assert_int_equal (stat (path ("t.tgz"), &st), 0);
    assert_int_equal (truncate (path ("t.tgz"), st.st_size / 2), 0);
    int rc = layer_unpack (path ("t.tgz"), path ("fs"), NULL, err, sizeof err);
    if (rc != IMG_ERR_CORRUPT)
        fail_msg ("truncated gzip: rc %d err %s", rc, err);
    assert_non_null (strstr (err, "big"));
    char id[80];
    assert_int_equal (layer_diff_id (path ("t.tgz"), id, err, sizeof err), IMG_ERR_CORRUPT);
    /* not an archive at all */
    FILE *f = fopen (path ("junk"), "w");
    fputs ("this is not a tarball, not even close, and it goes on for a while........................\n", f);
    fclose (f);
    assert_int_equal (layer_unpack (path ("junk"), path ("fs"), NULL, err, sizeof err), IMG_ERR_CORRUPT);
}

static void
test_formats_and_diff_id (void **state)
{
    (void) state;
    const ent_t e[] = {{"hello", 'f', "world\n", 0, 0, 0}};
    char err[512] = "", id_plain[80], id_gz[80], id_zst[80], expect[80], buf[64];
    make_tar (path ("p.tar"), e, 1, PLAIN);
    make_tar (path ("g.tgz"), e, 1, GZIP);
    int have_zstd = make_tar (path ("z.tar.zst"), e, 1, ZSTD) == 0;
    assert_int_equal (layer_diff_id (path ("p.tar"), id_plain, err, sizeof err), 0);
    assert_int_equal (layer_diff_id (path ("g.tgz"), id_gz, err, sizeof err), 0);
    assert_string_equal (id_plain, id_gz);
    /* the diff id is the sha256 of the plain tar's bytes */
    FILE *f = fopen (path ("p.tar"), "rb");
    static unsigned char tarbytes[1 << 16];
    size_t n = fread (tarbytes, 1, sizeof tarbytes, f);
    fclose (f);
    unsigned char h[32];
    crypto_hash_sha256 (h, tarbytes, n);
    strcpy (expect, "sha256:");
    sodium_bin2hex (expect + 7, 65, h, 32);
    assert_string_equal (id_plain, expect);
    const char *files[] = {"p.tar", "g.tgz", "z.tar.zst"};
    for (int i = 0; i < (have_zstd ? 3 : 2); i++) {
        layer_remove (path ("fs"));
        mkdir (path ("fs"), 0755);
        if (layer_unpack (path (files[i]), path ("fs"), NULL, err, sizeof err))
            fail_msg ("%s: %s", files[i], err);
        slurp (path ("fs/hello"), buf, sizeof buf);
        assert_string_equal (buf, "world\n");
    }
    if (have_zstd) {
        assert_int_equal (layer_diff_id (path ("z.tar.zst"), id_zst, err, sizeof err), 0);
        assert_string_equal (id_zst, id_plain);
    } else {
        print_message ("zstd: libarchive's writer has no zstd here, only gzip and plain checked\n");
    }
}

static void
test_apply_copy (void **state)
{
    (void) state;
    char err[512] = "", buf[64];
    struct stat st;
    const ent_t l1[] = {
        {"a/x", 'f', "x1", 0, 0, 0},    {"a/y", 'f', "y1", 0, 0, 0},         {"d/keep", 'f', "k", 0, 0, 0},
        {"opq/old", 'f', "o", 0, 0, 0}, {"opq/sub/deep", 'f', "dd", 0, 0, 0}, {"gone-dir/f", 'f', "g", 0, 0, 0},
        {"ln", 'l', "a/x", 0, 0, 0},
    };
    const ent_t l2[] = {
        {"a/.wh.x", 'f', NULL, 0, 0, 0},     {"a/y", 'f', "y2", 0, 0, 0},
        {"opq/new", 'f', "n", 0, 0, 0},      {"opq/.wh..wh..opq", 'f', NULL, 0, 0, 0},   /* after a new child */
        {".wh.gone-dir", 'f', NULL, 0, 0, 0}, {"b", 'f', "b2", 0, 0, 0},
        {".wh.nothing-here", 'f', NULL, 0, 0, 0},
    };
    make_tar (path ("l1.tgz"), l1, sizeof l1 / sizeof l1[0], GZIP);
    make_tar (path ("l2.tar"), l2, sizeof l2 / sizeof l2[0], PLAIN);
    layer_remove (path ("fs"));
    mkdir (path ("fs"), 0755);
    if (layer_apply_copy (path ("l1.tgz"), path ("fs"), err, sizeof err) ||
        layer_apply_copy (path ("l2.tar"), path ("fs"), err, sizeof err))
        fail_msg ("apply: %s", err);
    assert_int_equal (lstat (path ("fs/a/x"), &st), -1);          /* whited out, no device left */
    slurp (path ("fs/a/y"), buf, sizeof buf);
    assert_string_equal (buf, "y2");                               /* overwritten */
    slurp (path ("fs/d/keep"), buf, sizeof buf);
    assert_string_equal (buf, "k");                                /* untouched */
    assert_int_equal (lstat (path ("fs/opq/old"), &st), -1);       /* opaque: the lower content gone */
    assert_int_equal (lstat (path ("fs/opq/sub"), &st), -1);
    slurp (path ("fs/opq/new"), buf, sizeof buf);
    assert_string_equal (buf, "n");                                /* … this layer's kept */
    assert_int_equal (lstat (path ("fs/opq/.wh..wh..opq"), &st), -1);
    assert_int_equal (lstat (path ("fs/gone-dir"), &st), -1);      /* a whole dir whited out */
    slurp (path ("fs/b"), buf, sizeof buf);
    assert_string_equal (buf, "b2");
    assert_int_equal (lstat (path ("fs/ln"), &st), 0);             /* a dangling symlink is still there */
    assert_true (S_ISLNK (st.st_mode));
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    if (geteuid () != 0) {
        printf ("SKIP: test_layer needs root (owners, whiteout devices, trusted.* xattrs)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_unpack_tree, setup, teardown),
        cmocka_unit_test_setup_teardown (test_unsafe, setup, teardown),
        cmocka_unit_test_setup_teardown (test_truncated_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown (test_formats_and_diff_id, setup, teardown),
        cmocka_unit_test_setup_teardown (test_apply_copy, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
