/* logrotate — see logrotate.h. */
#include "actors/agent/logrotate.h"
#include "core/value.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <dirent.h>
#include <sys/stat.h>

#define GZ ".gz"
#define TMP ".tmp"

static int
ends_with (const char *s, const char *suffix)
{
    size_t a = strlen (s), b = strlen (suffix);
    return a >= b && !strcmp (s + a - b, suffix);
}

int
logrotate_policy_parse (const char *max_size, long long max_files, logrotate_policy_t *p, char *err, size_t errlen)
{
    p->max_size = LOGROTATE_DEFAULT_MAX_SIZE;
    p->max_files = LOGROTATE_DEFAULT_MAX_FILES;
    if (max_size) {
        json_t *v = json_string (max_size);
        int64_t milli = 0;
        char qerr[200] = "";
        int rc = v ? tv_quantity_milli (v, &milli, qerr, sizeof qerr) : -1;
        json_decref (v);
        if (rc || milli < 1000) {
            snprintf (err, errlen, "containerLogMaxSize \"%s\": must be a positive quantity of bytes such as 10Mi%s%s",
                      max_size, *qerr ? ": " : "", qerr);
            return -1;
        }
        p->max_size = (long long) (milli / 1000);
    }
    if (max_files >= 0) {
        if (max_files < 2 || max_files > 1000) {
            snprintf (err, errlen, "containerLogMaxFiles (%lld) must be between 2 and 1000", max_files);
            return -1;
        }
        p->max_files = (int) max_files;
    }
    return 0;
}

int
logrotate_interval_parse (const char *s, long long *ms, char *err, size_t errlen)
{
    *ms = LOGROTATE_DEFAULT_INTERVAL_MS;
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll (s, &end, 10);
    long long mult = !strcmp (end, "ms") ? 1 : !strcmp (end, "s") ? 1000 : !strcmp (end, "m") ? 60000 : 0;
    if (end == s || errno || !mult || v < 0 || v > 86400000LL / mult || v * mult < 3000) {
        snprintf (err, errlen, "containerLogMonitorInterval \"%s\": must be a duration of at least 3s such as 10s", s);
        return -1;
    }
    *ms = v * mult;
    return 0;
}

char *
logrotate_rotated_name (const char *log, time_t now)
{
    struct tm tm;
    char stamp[32];
    gmtime_r (&now, &tm);
    strftime (stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    char *s = NULL;
    return asprintf (&s, "%s.%s", log, stamp) < 0 ? NULL : s;
}

static int
cmp_str (const void *x, const void *y)
{
    return strcmp (*(char *const *) x, *(char *const *) y);
}

static int
push (logrotate_action_t **out, int *n, logrotate_op_t op, const char *dir, const char *name)
{
    logrotate_action_t *m = realloc (*out, (size_t) (*n + 1) * sizeof *m);
    if (!m)
        return -1;
    *out = m;
    char *path = NULL;
    if (asprintf (&path, "%s%s", dir, name) < 0)
        return -1;
    m[*n].op = op;
    m[*n].path = path;
    (*n)++;
    return 0;
}

static int
has_name (const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp (names[i], name))
            return 1;
    return 0;
}

int
logrotate_plan (const char *log, long long size, const logrotate_policy_t *p, const char *const *names, size_t n,
                time_t now, logrotate_action_t **out)
{
    *out = NULL;
    if (size < p->max_size)
        return 0;
    const char *slash = strrchr (log, '/');
    const char *base = slash ? slash + 1 : log;
    size_t dirlen = (size_t) (base - log), blen = strlen (base);
    char *dir = strndup (log, dirlen);
    char *rot = logrotate_rotated_name (base, now);
    const char **kept = calloc (n + 1, sizeof *kept);
    int k = 0, rc = 0;
    if (!dir || !rot || !kept) {
        rc = -1;
        goto done;
    }
    char *rot_gz = NULL;
    if (asprintf (&rot_gz, "%s" GZ, rot) < 0) {
        rc = -1;
        goto done;
    }
    int taken = has_name (names, n, rot) || has_name (names, n, rot_gz);
    free (rot_gz);
    if (taken)
        goto done; /* rotated this second already: the next check does it */
    size_t nk = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *nm = names[i];
        if (strncmp (nm, base, blen) || nm[blen] != '.' || !nm[blen + 1])
            continue;
        /* leftovers of an interrupted rotation: a temporary file, or a file already compressed */
        int unused = ends_with (nm, TMP);
        if (!unused && !ends_with (nm, GZ)) {
            char *gz = NULL;
            if (asprintf (&gz, "%s" GZ, nm) < 0) {
                rc = -1;
                break;
            }
            unused = has_name (names, n, gz);
            free (gz);
        }
        if (unused)
            rc = push (out, &k, LOGROTATE_REMOVE, dir, nm);
        else
            kept[nk++] = nm;
    }
    if (rc)
        goto done;
    /* the timestamp sorts them oldest first; keep max_files-2 (room for the live log and the one
     * about to be rotated) */
    qsort (kept, nk, sizeof *kept, cmp_str);
    size_t keep = (size_t) (p->max_files - 2), first = nk > keep ? nk - keep : 0;
    for (size_t i = 0; i < first && rc == 0; i++)
        rc = push (out, &k, LOGROTATE_REMOVE, dir, kept[i]);
    for (size_t i = first; i < nk && rc == 0; i++)
        if (!ends_with (kept[i], GZ))
            rc = push (out, &k, LOGROTATE_COMPRESS, dir, kept[i]);
    if (rc == 0)
        rc = push (out, &k, LOGROTATE_ROTATE, dir, rot);
done:
    free (dir);
    free (rot);
    free (kept);
    if (rc) {
        logrotate_actions_free (*out, k);
        *out = NULL;
        return -1;
    }
    return k;
}

void
logrotate_actions_free (logrotate_action_t *a, int n)
{
    for (int i = 0; i < n; i++)
        free (a[i].path);
    free (a);
}

int
logrotate_compress (const char *path, char *err, size_t errlen)
{
    char gz[4096], tmp[4200];
    snprintf (gz, sizeof gz, "%s" GZ, path);
    snprintf (tmp, sizeof tmp, "%s" TMP, gz);
    int in = open (path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf (err, errlen, "open %s: %s", path, strerror (errno));
        return -1;
    }
    int outfd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    gzFile z = outfd >= 0 ? gzdopen (outfd, "wb") : NULL;
    if (!z) {
        snprintf (err, errlen, "create %s: %s", tmp, strerror (errno));
        if (outfd >= 0)
            close (outfd);
        close (in);
        unlink (tmp);
        return -1;
    }
    char buf[65536];
    ssize_t got;
    int bad = 0;
    while ((got = read (in, buf, sizeof buf)) > 0)
        if (gzwrite (z, buf, (unsigned) got) != (int) got) {
            bad = 1;
            break;
        }
    if (got < 0)
        bad = 1;
    int e = errno;
    close (in);
    if (gzclose (z) != Z_OK)
        bad = 1;
    if (bad || rename (tmp, gz)) {
        snprintf (err, errlen, "compress %s: %s", path, strerror (bad ? e : errno));
        unlink (tmp);
        return -1;
    }
    if (unlink (path)) {
        snprintf (err, errlen, "remove %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

int
logrotate_apply (const logrotate_action_t *a, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (a[i].op == LOGROTATE_REMOVE && unlink (a[i].path) && errno != ENOENT) {
            snprintf (err, errlen, "remove %s: %s", a[i].path, strerror (errno));
            return -1;
        }
        if (a[i].op == LOGROTATE_COMPRESS && logrotate_compress (a[i].path, err, errlen))
            return -1;
    }
    return 0;
}

/* The names in log's directory (a NULL-terminated malloc'd array of malloc'd names), NULL on error. */
static char **
dir_names (const char *log, size_t *n)
{
    const char *slash = strrchr (log, '/');
    char *dir = slash ? strndup (log, (size_t) (slash - log) + 1) : strdup (".");
    DIR *d = dir ? opendir (dir) : NULL;
    free (dir);
    *n = 0;
    if (!d)
        return NULL;
    char **v = calloc (1, sizeof *v);
    struct dirent *e;
    while (v && (e = readdir (d))) {
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
            continue;
        char **m = realloc (v, (*n + 2) * sizeof *v);
        if (!m)
            break;
        v = m;
        v[(*n)++] = strdup (e->d_name);
        v[*n] = NULL;
    }
    closedir (d);
    return v;
}

static void
names_free (char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free (v[i]);
    free (v);
}

int
logrotate_prepare (const char *log, const logrotate_policy_t *p, time_t now, char **rotated, char *err, size_t errlen)
{
    *rotated = NULL;
    struct stat st;
    if (stat (log, &st) || st.st_size < p->max_size)
        return 0;
    size_t n;
    char **names = dir_names (log, &n);
    if (!names) {
        snprintf (err, errlen, "cannot read the directory of %s: %s", log, strerror (errno));
        return -1;
    }
    logrotate_action_t *a;
    int k = logrotate_plan (log, (long long) st.st_size, p, (const char *const *) names, n, now, &a);
    names_free (names, n);
    if (k < 0) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    int rc = logrotate_apply (a, k, err, errlen);
    if (rc == 0 && k > 0 && a[k - 1].op == LOGROTATE_ROTATE) {
        *rotated = a[k - 1].path;
        a[k - 1].path = NULL;
        rc = 1;
    }
    logrotate_actions_free (a, k);
    return rc;
}

void
logrotate_clean (const char *log)
{
    unlink (log);
    size_t n;
    char **names = dir_names (log, &n);
    const char *slash = strrchr (log, '/');
    const char *base = slash ? slash + 1 : log;
    size_t dirlen = (size_t) (base - log), blen = strlen (base);
    for (size_t i = 0; names && i < n; i++)
        if (!strncmp (names[i], base, blen) && names[i][blen] == '.') {
            char path[4200];
            snprintf (path, sizeof path, "%.*s%s", (int) dirlen, log, names[i]);
            unlink (path);
        }
    names_free (names, n);
}

static int
is_log_name (const char *s)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    return p > s && !strncmp (p, ".log", 4) && (p[4] == 0 || p[4] == '.');
}

void
logrotate_clean_pod (const char *pod_dir)
{
    DIR *d = opendir (pod_dir);
    struct dirent *e;
    while (d && (e = readdir (d))) {
        if (e->d_name[0] == '.' || !strcmp (e->d_name, "volumes"))
            continue;
        char sub[4200];
        snprintf (sub, sizeof sub, "%s/%s", pod_dir, e->d_name);
        struct stat st;
        if (lstat (sub, &st) || !S_ISDIR (st.st_mode))
            continue;
        DIR *c = opendir (sub);
        struct dirent *f;
        while (c && (f = readdir (c)))
            if (is_log_name (f->d_name)) {
                char path[8400];
                snprintf (path, sizeof path, "%s/%s", sub, f->d_name);
                if (!lstat (path, &st) && S_ISREG (st.st_mode))
                    unlink (path);
            }
        if (c)
            closedir (c);
        rmdir (sub);
    }
    if (d)
        closedir (d);
}

int
logrotate_open_rotated (const char *log, unsigned long long ino)
{
    size_t n;
    char **names = dir_names (log, &n);
    const char *slash = strrchr (log, '/');
    const char *base = slash ? slash + 1 : log;
    size_t dirlen = (size_t) (base - log), blen = strlen (base);
    int fd = -1;
    for (size_t i = 0; names && i < n && fd < 0; i++) {
        if (strncmp (names[i], base, blen) || names[i][blen] != '.' || ends_with (names[i], GZ) || ends_with (names[i], TMP))
            continue;
        char path[4200];
        snprintf (path, sizeof path, "%.*s%s", (int) dirlen, log, names[i]);
        int f = open (path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (f >= 0 && !fstat (f, &st) && (unsigned long long) st.st_ino == ino)
            fd = f;
        else if (f >= 0)
            close (f);
    }
    names_free (names, n);
    return fd;
}
