/* ocispec_user — ocispec_resolve_user (see ocispec.h): a user and group of an image resolved with
 * the rootfs's /etc/passwd and /etc/group.
 *
 * The rootfs belongs to the image, that is to whoever published it: its /etc/passwd may be a
 * symlink to /etc/shadow of the host, a FIFO that blocks the reader, or gigabytes. So the files
 * are opened with openat2(RESOLVE_IN_ROOT) — symlinks resolve inside the rootfs, as they would in
 * the container — or, on a kernel without openat2, component by component with O_NOFOLLOW (a
 * symlinked /etc or /etc/passwd is then refused); only a regular file is read, at most 4 MiB.
 */
#include "runtime-shims/oci/ocispec.h"
#include "core/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_DB_BYTES (4 << 20)

/* Opens rootfs/etc/<name> for reading without leaving the rootfs. fd, or -1 with errno
 * (ENOENT: no such file; ELOOP: a symlink where openat2 is missing). */
static int
open_in_root (int root, const char *name)
{
    char rel[64];
    snprintf (rel, sizeof rel, "etc/%s", name);
#ifdef SYS_openat2
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int) syscall (SYS_openat2, root, rel, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd; /* EPERM: a seccomp filter that forbids openat2; fall back */
#endif
    int etc = openat (root, "etc", O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW);
    if (etc < 0)
        return -1;
    int f = openat (etc, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    int saved = errno;
    close (etc);
    errno = saved;
    return f;
}

/* Reads rootfs/etc/<name> into a NUL-terminated buffer (caller frees). 0 (with *out NULL when
 * the file does not exist), or -1 with err. */
static int
read_db (int root, const char *name, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open_in_root (root, name);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        if (errno == ELOOP || errno == EXDEV)
            return tr_errf (err, errlen, "/etc/%s of the rootfs is a symlink: refused", name);
        return tr_errf (err, errlen, "/etc/%s of the rootfs: %s", name, strerror (errno));
    }
    struct stat st;
    if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_DB_BYTES) {
        close (fd);
        return tr_errf (err, errlen, "/etc/%s of the rootfs is not a regular file of at most 4 MiB", name);
    }
    char *buf = malloc ((size_t) st.st_size + 1);
    size_t n = 0;
    while (n < (size_t) st.st_size) {
        ssize_t r = read (fd, buf + n, (size_t) st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t) r;
    }
    close (fd);
    buf[n] = 0;
    *out = buf;
    return 0;
}

/* "123" → 0; else -1. Values up to 2^32-2 ((uid_t) -1 means "unchanged" to the kernel). */
static int
parse_id (const char *s, uint32_t *out)
{
    if (!*s || strlen (s) > 10)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t) (*p - '0');
    }
    if (v >= UINT32_MAX)
        return -1;
    *out = (uint32_t) v;
    return 0;
}

/* Finds in a passwd/group database the line whose field key_field (0: name, 2: id) equals key;
 * copies its fields 2 and 3 (passwd: uid, gid; group: gid, members) as ids. 1 found, 0 not. */
static int
db_find (const char *db, int key_field, const char *key, uint32_t *f2, uint32_t *f3)
{
    size_t klen = strlen (key);
    for (const char *line = db; line && *line;) {
        const char *end = strchr (line, '\n');
        size_t len = end ? (size_t) (end - line) : strlen (line);
        const char *field[4] = {0};
        size_t flen[4] = {0};
        const char *p = line;
        for (int f = 0; f < 4 && p <= line + len; f++) {
            const char *c = memchr (p, ':', (size_t) (line + len - p));
            field[f] = p;
            flen[f] = c ? (size_t) (c - p) : (size_t) (line + len - p);
            if (!c)
                break;
            p = c + 1;
        }
        if (line[0] != '#' && field[key_field] && flen[key_field] == klen
            && memcmp (field[key_field], key, klen) == 0) {
            char a[16] = "", b[16] = "";
            if (field[2] && flen[2] < sizeof a)
                memcpy (a, field[2], flen[2]), a[flen[2]] = 0;
            if (field[3] && flen[3] < sizeof b)
                memcpy (b, field[3], flen[3]), b[flen[3]] = 0;
            uint32_t x = 0, y = 0;
            if (parse_id (a, &x) == 0 && (!f3 || parse_id (b, &y) == 0)) {
                *f2 = x;
                if (f3)
                    *f3 = y;
                return 1;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

int
ocispec_resolve_user (const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid, char *err, size_t errlen)
{
    if (!user)
        user = "";
    char u[256], *g = NULL;
    if (strlen (user) >= sizeof u)
        return tr_errf (err, errlen, "user \"%.32s…\": too long", user);
    strcpy (u, user);
    char *colon = strchr (u, ':');
    if (colon) {
        *colon = 0;
        g = colon + 1;
    }
    uint32_t id_u = 0, id_g = 0;
    int u_numeric = parse_id (u, &id_u) == 0, g_numeric = g && parse_id (g, &id_g) == 0;
    if (!*u && (!g || !*g)) { /* no user: root */
        *uid = 0;
        *gid = 0;
        return 0;
    }
    if (!*u)
        return tr_errf (err, errlen, "user \"%s\": no user before the group", user);
    if (u_numeric && (!g || g_numeric) && g && *g) { /* "uid:gid": nothing to read */
        *uid = id_u;
        *gid = id_g;
        return 0;
    }

    int root = open (rootfs, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (root < 0)
        return tr_errf (err, errlen, "rootfs %s: %s", rootfs, strerror (errno));
    char *passwd = NULL, *group = NULL;
    int rc = -1;
    if (read_db (root, "passwd", &passwd, err, errlen) < 0)
        goto out;
    uint32_t pw_gid = 0;
    if (u_numeric) {
        /* a numeric user need not exist; its primary group is its passwd entry's, else 0 */
        uint32_t found_uid;
        char key[16];
        snprintf (key, sizeof key, "%u", id_u);
        if (passwd && !db_find (passwd, 2, key, &found_uid, &pw_gid))
            pw_gid = 0;
    } else if (!passwd || !db_find (passwd, 0, u, &id_u, &pw_gid)) {
        tr_errf (err, errlen, "user \"%s\": no such user in the image's /etc/passwd", u);
        goto out;
    }
    if (g && *g && !g_numeric) {
        if (read_db (root, "group", &group, err, errlen) < 0)
            goto out;
        if (!group || !db_find (group, 0, g, &id_g, NULL)) {
            tr_errf (err, errlen, "group \"%s\": no such group in the image's /etc/group", g);
            goto out;
        }
    } else if (!g || !*g)
        id_g = pw_gid;
    *uid = id_u;
    *gid = id_g;
    rc = 0;
out:
    free (passwd);
    free (group);
    close (root);
    return rc;
}
