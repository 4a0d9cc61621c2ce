/* certdir — see certdir.h. */
#include "core/certdir.h"

#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    ino_t ino;
    off_t size;
    struct timespec mtime;
    unsigned scan; /* the scan that last saw it */
    certdir_cert_t cert;
} file_t;

struct certdir {
    char dir[1024];
    zhashx_t *files; /* file name → file_t (owned) */
    zhashx_t *keys;  /* public key → file_t (borrowed from files) */
    struct timespec mtime;
    int scanned;     /* a scan has read the directory */
    int racy;        /* the directory changed within the timestamps' granularity of the last scan:
                        a change since may have left the same time (ext4's are a tick coarse) */
    unsigned scan;
};

static void
file_free (void **p)
{
    free (*p);
    *p = NULL;
}

certdir_t *
certdir_new (const char *dir)
{
    certdir_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    self->files = zhashx_new ();
    self->keys = zhashx_new ();
    if (!self->files || !self->keys) {
        zhashx_destroy (&self->files);
        zhashx_destroy (&self->keys);
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->files, file_free);
    return self;
}

void
certdir_destroy (certdir_t **self_p)
{
    certdir_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhashx_destroy (&self->keys);
    zhashx_destroy (&self->files);
    free (self);
    *self_p = NULL;
}

static int
same_time (struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Parses path (a certificate's public part, as zcert_save_public writes it) into f->cert: 0, or -1
 * when it is not one. Read with zconfig from a string: zcert_load leaks what it allocated for a
 * file that does not parse (czmq 4.2), and reads the secret file beside it, not needed here. */
static int
parse (const char *path, file_t *f)
{
    FILE *fp = fopen (path, "re");
    if (!fp)
        return -1;
    char buf[8192];
    size_t n = fread (buf, 1, sizeof buf - 1, fp);
    int big = !feof (fp);
    fclose (fp);
    if (big || !n)
        return -1; /* a certificate is a few hundred bytes */
    buf[n] = 0;
    zconfig_t *root = zconfig_str_load (buf);
    if (!root)
        return -1;
    const char *key = zconfig_get (root, "curve/public-key", NULL);
    const char *name = zconfig_get (root, "metadata/name", NULL);
    const char *role = zconfig_get (root, "metadata/role", NULL);
    uint8_t raw[32];
    int rc = -1;
    if (key && strlen (key) == 40 && zmq_z85_decode (raw, key)) {
        snprintf (f->cert.key, sizeof f->cert.key, "%s", key);
        snprintf (f->cert.name, sizeof f->cert.name, "%s", name ? name : "");
        snprintf (f->cert.role, sizeof f->cert.role, "%s", role ? role : "");
        rc = 0;
    }
    zconfig_destroy (&root);
    return rc;
}

int
certdir_scan (certdir_t *self, int force)
{
    struct stat st;
    if (stat (self->dir, &st))
        return -1;
    if (!force && self->scanned && !self->racy && same_time (st.st_mtim, self->mtime))
        return 0;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t age_ms = ((int64_t) now.tv_sec - st.st_mtim.tv_sec) * 1000 + (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    self->racy = age_ms < 100;
    DIR *d = opendir (self->dir);
    if (!d)
        return -1;
    /* the directory's time before reading it: a file added during the scan changes it again, and
     * the next scan reads it */
    self->mtime = st.st_mtim;
    self->scanned = 1;
    unsigned scan = ++self->scan;
    int parsed = 0, changed = 0; /* parsed: certificates read, or gone */
    for (struct dirent *e; (e = readdir (d));) {
        size_t n = strlen (e->d_name);
        if (e->d_name[0] == '.' || n < 6 || strcmp (e->d_name + n - 5, ".cert"))
            continue; /* *.cert only: not *.cert_secret, not temporary files */
        file_t *f = zhashx_lookup (self->files, e->d_name);
        if (f && !force && f->ino == e->d_ino) {
            f->scan = scan; /* the same file (a replacement is renamed in: a new inode) */
            continue;
        }
        struct stat fs;
        if (fstatat (dirfd (d), e->d_name, &fs, 0) || !S_ISREG (fs.st_mode))
            continue;
        if (f && f->ino == fs.st_ino && f->size == fs.st_size && same_time (f->mtime, fs.st_mtim)) {
            f->scan = scan;
            continue;
        }
        char path[2400];
        snprintf (path, sizeof path, "%s/%s", self->dir, e->d_name);
        file_t nf = {.ino = fs.st_ino, .size = fs.st_size, .mtime = fs.st_mtim, .scan = scan};
        changed = 1;
        if (parse (path, &nf))
            nf.cert.key[0] = 0; /* not a certificate: remembered as such, not parsed again */
        if (nf.cert.key[0] || (f && f->cert.key[0]))
            parsed++; /* one read, or one no longer a certificate */
        if (!f) {
            f = malloc (sizeof *f);
            if (!f)
                continue;
            zhashx_insert (self->files, e->d_name, f);
        }
        *f = nf;
    }
    closedir (d);
    /* the files gone since the last scan */
    zlistx_t *gone = NULL;
    for (file_t *f = zhashx_first (self->files); f; f = zhashx_next (self->files))
        if (f->scan != scan) {
            if (!gone) {
                gone = zlistx_new ();
                zlistx_set_duplicator (gone, (zlistx_duplicator_fn *) strdup);
                zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
            }
            zlistx_add_end (gone, (void *) zhashx_cursor (self->files));
        }
    if (gone) {
        changed = 1;
        for (const char *name = zlistx_first (gone); name; name = zlistx_next (gone)) {
            file_t *f = zhashx_lookup (self->files, name);
            if (f && f->cert.key[0])
                parsed++;
            zhashx_delete (self->files, name);
        }
        zlistx_destroy (&gone);
    }
    if (changed) {
        /* keys again from the files (no parsing): a replaced certificate's old key goes */
        zhashx_purge (self->keys);
        for (file_t *f = zhashx_first (self->files); f; f = zhashx_next (self->files))
            if (f->cert.key[0])
                zhashx_update (self->keys, f->cert.key, f);
    }
    return parsed;
}

const certdir_cert_t *
certdir_lookup (certdir_t *self, const char *key)
{
    file_t *f = key ? zhashx_lookup (self->keys, key) : NULL;
    return f ? &f->cert : NULL;
}

const certdir_cert_t *
certdir_first (certdir_t *self)
{
    file_t *f = zhashx_first (self->keys);
    return f ? &f->cert : NULL;
}

const certdir_cert_t *
certdir_next (certdir_t *self)
{
    file_t *f = zhashx_next (self->keys);
    return f ? &f->cert : NULL;
}

size_t
certdir_size (certdir_t *self)
{
    return zhashx_size (self->keys);
}
