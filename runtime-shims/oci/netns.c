/* netns — pinned network namespaces (cni_netns_create / cni_netns_remove in cni.h).
 *
 * Done as iproute2's `ip netns add` does (ip/ipnetns.c netns_add): the directory is made a
 * shared mount (bind-mounted onto itself first when it is not a mount point yet), so that the
 * unmount of a namespace file in one mount namespace propagates to the others (a container
 * runtime's mount namespace may hold a copy) and the namespace is freed as soon as it is
 * removed; an empty file is created with O_EXCL and the namespace bind-mounted onto it.
 * Unlike ip, the namespace is made by a child (unshare(CLONE_NEWNET)) and mounted from
 * /proc/<child>/ns/net by the parent, so the calling thread never changes namespace. The
 * directory is locked (flock) while it is set up, as ip does, against a concurrent creator.
 */
#include "runtime-shims/oci/cni.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* An id names files: letters, digits, '-', '_', '.', not starting with '.', at most 128. */
int
cni_id_valid (const char *id)
{
    size_t n = id ? strlen (id) : 0;
    if (n == 0 || n > 128 || id[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

static int
mkdir_p (const char *dir, mode_t mode)
{
    char p[1024];
    if (snprintf (p, sizeof p, "%s", dir) >= (int) sizeof p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir (p, mode) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return (mkdir (p, mode) && errno != EEXIST) ? -1 : 0;
}

/* netns_dir as a shared mount, as ip-netns makes /run/netns. */
static int
netns_dir_shared (const char *dir, char *err, size_t errlen)
{
    int made = 0;
    while (mount ("", dir, "none", MS_SHARED | MS_REC, NULL)) {
        if (errno != EINVAL || made) {
            snprintf (err, errlen, "netns dir %s: mount --make-shared: %s", dir, strerror (errno));
            return -1;
        }
        /* not a mount point yet: make it one */
        if (mount (dir, dir, "none", MS_BIND | MS_REC, NULL)) {
            snprintf (err, errlen, "netns dir %s: mount --bind onto itself: %s", dir, strerror (errno));
            return -1;
        }
        made = 1;
    }
    return 0;
}

/* In a forked child: closes every descriptor from 3 up but a and b (async-signal-safe). */
static void
close_others (int a, int b)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;
#ifdef SYS_close_range
    if ((lo <= 3 || syscall (SYS_close_range, 3U, (unsigned) lo - 1, 0U) == 0) &&
        (hi <= lo + 1 || syscall (SYS_close_range, (unsigned) lo + 1, (unsigned) hi - 1, 0U) == 0) &&
        syscall (SYS_close_range, (unsigned) hi + 1, ~0U, 0U) == 0)
        return;
#endif
    long max = sysconf (_SC_OPEN_MAX);
    if (max < 0 || max > 1 << 20)
        max = 1 << 20;
    for (long fd = 3; fd < max; fd++)
        if (fd != a && fd != b)
            close ((int) fd);
}

int
cni_netns_create (const cni_config_t *c, const char *id, char *path, size_t pathlen, char *err, size_t errlen)
{
    if (!cni_id_valid (id)) {
        snprintf (err, errlen, "netns: id \"%s\" is not a valid name (letters, digits, -_. only)", id ? id : "");
        return -1;
    }
    char p[1024];
    if ((size_t) snprintf (p, sizeof p, "%s/%s", c->netns_dir, id) >= sizeof p || strlen (p) >= pathlen) {
        snprintf (err, errlen, "netns %s: path too long", id);
        return -1;
    }
    if (mkdir_p (c->netns_dir, 0755)) {
        snprintf (err, errlen, "netns dir %s: %s", c->netns_dir, strerror (errno));
        return -1;
    }
    int lock = open (c->netns_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock >= 0)
        flock (lock, LOCK_EX);
    int rc = netns_dir_shared (c->netns_dir, err, errlen);
    if (lock >= 0)
        close (lock);   /* releases the lock */
    if (rc)
        return -1;

    int fd = open (p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) {
        snprintf (err, errlen, "netns %s: cannot create %s: %s", id, p, strerror (errno));
        return -1;
    }
    close (fd);

    /* go: the child has unshared (a byte with 0, or its errno); done: the parent has mounted */
    int go[2], done[2];
    if (pipe2 (go, O_CLOEXEC)) {
        snprintf (err, errlen, "netns %s: pipe: %s", id, strerror (errno));
        unlink (p);
        return -1;
    }
    if (pipe2 (done, O_CLOEXEC)) {
        snprintf (err, errlen, "netns %s: pipe: %s", id, strerror (errno));
        close (go[0]);
        close (go[1]);
        unlink (p);
        return -1;
    }
    pid_t pid = fork ();
    if (pid == 0) {
        /* keep only our two pipe ends: a descriptor inherited from another thread's work (another
         * sandbox's done pipe, a CNI plugin's stdout) would be held open by this child, which
         * never execs, until it exits — two sandboxes made at once then wait on each other's
         * EOF, and a plugin's output never ends (seen with 10 pods at once: bench/runtime) */
        close_others (go[1], done[0]);
        unsigned char b = 0;
        if (unshare (CLONE_NEWNET))
            b = (unsigned char) (errno ? errno : 1);
        ssize_t w = write (go[1], &b, 1);
        (void) w;
        char x;
        while (read (done[0], &x, 1) < 0 && errno == EINTR)   /* EOF: the parent is done with us */
            ;
        _exit (b ? 1 : 0);
    }
    close (go[1]);
    close (done[0]);
    if (pid < 0) {
        snprintf (err, errlen, "netns %s: fork: %s", id, strerror (errno));
        close (go[0]);
        close (done[1]);
        unlink (p);
        return -1;
    }
    unsigned char b = 255;
    ssize_t r;
    while ((r = read (go[0], &b, 1)) < 0 && errno == EINTR)
        ;
    rc = 0;
    if (r != 1 || b != 0) {
        snprintf (err, errlen, "netns %s: unshare(CLONE_NEWNET): %s", id, r == 1 ? strerror (b) : "child died");
        rc = -1;
    } else {
        char src[64];
        snprintf (src, sizeof src, "/proc/%d/ns/net", (int) pid);
        if (mount (src, p, "none", MS_BIND, NULL)) {
            snprintf (err, errlen, "netns %s: bind mount %s onto %s: %s", id, src, p, strerror (errno));
            rc = -1;
        }
    }
    close (go[0]);
    close (done[1]);
    while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (rc) {
        unlink (p);
        return -1;
    }
    memcpy (path, p, strlen (p) + 1);
    return 0;
}

int
cni_netns_remove (const cni_config_t *c, const char *id)
{
    if (!cni_id_valid (id))
        return -1;
    char p[1024];
    if ((size_t) snprintf (p, sizeof p, "%s/%s", c->netns_dir, id) >= sizeof p)
        return -1;
    /* lazily: a process still inside keeps the namespace, not the mount */
    if (umount2 (p, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
        return -1;
    if (unlink (p) && errno != ENOENT)
        return -1;
    return 0;
}
