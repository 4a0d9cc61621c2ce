/* seed — see seed.h. */
#include "runtime-shims/oci/seed.h"
#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/ocirun.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *buf;
    size_t len, cap;
} mem_t;

static la_ssize_t
mem_write (struct archive *a, void *arg, const void *data, size_t n)
{
    (void) a;
    mem_t *m = arg;
    if (m->len + n > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 1 << 20);
        while (cap < m->len + n)
            cap *= 2;
        char *nb = realloc (m->buf, cap);
        if (!nb)
            return -1;
        m->buf = nb;
        m->cap = cap;
    }
    memcpy (m->buf + m->len, data, n);
    m->len += n;
    return (la_ssize_t) n;
}

static int
add_entry (struct archive *a, const char *path, mode_t type, mode_t perm, const void *data, size_t len,
           const char *link)
{
    struct archive_entry *e = archive_entry_new ();
    archive_entry_set_pathname (e, path);
    archive_entry_set_filetype (e, type);
    archive_entry_set_perm (e, perm);
    archive_entry_set_uid (e, 0);
    archive_entry_set_gid (e, 0);
    archive_entry_set_mtime (e, 0, 0); /* reproducible: the same busybox gives the same digest */
    if (link)
        archive_entry_set_symlink (e, link);
    archive_entry_set_size (e, type == AE_IFREG ? (la_int64_t) len : 0);
    int rc = archive_write_header (a, e);
    if (rc == ARCHIVE_OK && type == AE_IFREG && len)
        rc = archive_write_data (a, data, len) == (la_ssize_t) len ? ARCHIVE_OK : ARCHIVE_FATAL;
    archive_entry_free (e);
    return rc == ARCHIVE_OK ? 0 : -1;
}

static void
digest_of (const void *data, size_t len, char *out /* 72 */)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (h, data, len);
    strcpy (out, "sha256:");
    for (int i = 0; i < 32; i++)
        snprintf (out + 7 + 2 * i, 3, "%02x", h[i]);
}

static const char *
goarch (void)
{
    static struct utsname u;
    uname (&u);
    if (!strcmp (u.machine, "x86_64"))
        return "amd64";
    if (!strcmp (u.machine, "aarch64"))
        return "arm64";
    if (!strncmp (u.machine, "arm", 3))
        return "arm";
    return u.machine;
}

static char *
read_all (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc (buf, cap);
            if (!nb) {
                free (buf);
                fclose (f);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread (buf + *len, 1, 65536, f);
        *len += n;
        if (n < 65536)
            break;
    }
    fclose (f);
    return buf;
}

int
seed_busybox_layout (const char *busybox, const char *out_tar, char *err, size_t errlen)
{
    if (sodium_init () < 0) {
        snprintf (err, errlen, "libsodium init failed");
        return -1;
    }
    size_t bblen;
    char *bb = read_all (busybox, &bblen);
    if (!bb) {
        snprintf (err, errlen, "read %s: %s", busybox, strerror (errno));
        return -1;
    }
    char *argv[] = {(char *) busybox, "--list", NULL};
    ocirun_result_t r;
    if (ocirun_exec (argv, NULL, 0, 10000, 1 << 20, &r) || r.exit_code != 0 || !r.out) {
        snprintf (err, errlen, "%s --list failed (busybox-static is needed)", busybox);
        ocirun_result_clear (&r);
        free (bb);
        return -1;
    }
    /* the layer: /bin/busybox and a link per applet, /etc/passwd and /etc/group, /tmp, /root */
    mem_t layer = {0};
    struct archive *a = archive_write_new ();
    archive_write_set_format_pax_restricted (a);
    archive_write_open (a, &layer, NULL, mem_write, NULL);
    static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    static const char group[] = "root:x:0:\nnogroup:x:65534:\n";
    int rc = add_entry (a, "bin", AE_IFDIR, 0755, NULL, 0, NULL) | add_entry (a, "etc", AE_IFDIR, 0755, NULL, 0, NULL) |
             add_entry (a, "tmp", AE_IFDIR, 01777, NULL, 0, NULL) | add_entry (a, "root", AE_IFDIR, 0700, NULL, 0, NULL) |
             add_entry (a, "etc/passwd", AE_IFREG, 0644, passwd, sizeof passwd - 1, NULL) |
             add_entry (a, "etc/group", AE_IFREG, 0644, group, sizeof group - 1, NULL) |
             add_entry (a, "bin/busybox", AE_IFREG, 0755, bb, bblen, NULL);
    free (bb);
    for (char *save, *app = strtok_r (r.out, "\n", &save); app && !rc; app = strtok_r (NULL, "\n", &save)) {
        if (!*app || strchr (app, '/') || !strcmp (app, "busybox"))
            continue;
        char p[300];
        snprintf (p, sizeof p, "bin/%s", app);
        rc |= add_entry (a, p, AE_IFLNK, 0777, NULL, 0, "busybox");
    }
    ocirun_result_clear (&r);
    archive_write_close (a);
    archive_write_free (a);
    if (rc) {
        free (layer.buf);
        snprintf (err, errlen, "cannot build the busybox layer");
        return -1;
    }
    char ldig[80], cdig[80], mdig[80];
    digest_of (layer.buf, layer.len, ldig);
    json_t *config = json_pack ("{s:s,s:s,s:s,s:{s:[s],s:[s]},s:{s:s,s:[s]},s:[{s:s,s:s}]}", "created",
                                "1970-01-01T00:00:00Z", "architecture", goarch (), "os", "linux", "config", "Env",
                                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "Cmd", "sh", "rootfs",
                                "type", "layers", "diff_ids", ldig, "history", "created_by",
                                "troupe: Debian's busybox-static", "created", "1970-01-01T00:00:00Z");
    char *ctext = json_dumps (config, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (config);
    digest_of (ctext, strlen (ctext), cdig);
    json_t *manifest = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2, "mediaType",
                                  "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                                  "application/vnd.oci.image.config.v1+json", "digest", cdig, "size",
                                  (json_int_t) strlen (ctext), "layers", "mediaType", "application/vnd.oci.image.layer.v1.tar",
                                  "digest", ldig, "size", (json_int_t) layer.len);
    char *mtext = json_dumps (manifest, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (manifest);
    digest_of (mtext, strlen (mtext), mdig);
    json_t *index = json_pack ("{s:i,s:s,s:[{s:s,s:s,s:I,s:{s:s},s:{s:s,s:s}}]}", "schemaVersion", 2, "mediaType",
                               "application/vnd.oci.image.index.v1+json", "manifests", "mediaType",
                               "application/vnd.oci.image.manifest.v1+json", "digest", mdig, "size",
                               (json_int_t) strlen (mtext), "annotations", "org.opencontainers.image.ref.name",
                               "docker.io/library/busybox:latest", "platform", "architecture", goarch (), "os", "linux");
    char *itext = json_dumps (index, JSON_COMPACT);
    json_decref (index);
    /* the OCI image layout, as one tarball */
    char tmp[PATH_MAX];
    snprintf (tmp, sizeof tmp, "%s.tmp", out_tar);
    a = archive_write_new ();
    archive_write_set_format_pax_restricted (a);
    rc = archive_write_open_filename (a, tmp) == ARCHIVE_OK ? 0 : -1;
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    char p[200];
    rc = rc || add_entry (a, "oci-layout", AE_IFREG, 0644, layout, sizeof layout - 1, NULL) ||
         add_entry (a, "index.json", AE_IFREG, 0644, itext, strlen (itext), NULL) ||
         add_entry (a, "blobs", AE_IFDIR, 0755, NULL, 0, NULL) || add_entry (a, "blobs/sha256", AE_IFDIR, 0755, NULL, 0, NULL);
    snprintf (p, sizeof p, "blobs/sha256/%s", mdig + 7);
    rc = rc || add_entry (a, p, AE_IFREG, 0644, mtext, strlen (mtext), NULL);
    snprintf (p, sizeof p, "blobs/sha256/%s", cdig + 7);
    rc = rc || add_entry (a, p, AE_IFREG, 0644, ctext, strlen (ctext), NULL);
    snprintf (p, sizeof p, "blobs/sha256/%s", ldig + 7);
    rc = rc || add_entry (a, p, AE_IFREG, 0644, layer.buf, layer.len, NULL);
    if (archive_write_close (a) != ARCHIVE_OK)
        rc = -1;
    archive_write_free (a);
    free (layer.buf);
    free (ctext);
    free (mtext);
    free (itext);
    if (rc || rename (tmp, out_tar)) {
        snprintf (err, errlen, "cannot write %s: %s", out_tar, strerror (errno));
        unlink (tmp);
        return -1;
    }
    return 0;
}
