/* ocirun — see ocirun.h. */
#include "runtime-shims/oci/ocirun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void
ocirun_result_clear (ocirun_result_t *r)
{
    free (r->out);
    free (r->err);
    memset (r, 0, sizeof *r);
    r->exit_code = -1;
}

static long long
mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
append (char **buf, size_t *len, size_t max, const char *data, size_t n, int *trunc)
{
    if (*len + n > max) {
        *trunc = 1;
        n = *len < max ? max - *len : 0;
    }
    if (!n)
        return;
    char *nb = realloc (*buf, *len + n + 1);
    if (!nb)
        return;
    memcpy (nb + *len, data, n);
    *len += n;
    nb[*len] = 0;
    *buf = nb;
}

/* Spawns argv with stdin/stdout/stderr on pipes and extra fd 3 = extra (or -1). */
static pid_t
spawn (char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, int extra3)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init (&fa);
    posix_spawnattr_init (&at);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setsigmask (&at, &none);
    posix_spawnattr_setsigdefault (&at, &all);
    posix_spawnattr_setflags (&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_adddup2 (&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2 (&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2 (&fa, err_fd, 2);
    if (extra3 >= 0)
        posix_spawn_file_actions_adddup2 (&fa, extra3, 3);
    pid_t pid;
    int rc = posix_spawn (&pid, argv[0], &fa, &at, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy (&fa);
    posix_spawnattr_destroy (&at);
    if (rc) {
        errno = rc;
        return -1;
    }
    return pid;
}

static int
wait_status (int st)
{
    return WIFEXITED (st) ? WEXITSTATUS (st) : WIFSIGNALED (st) ? 128 + WTERMSIG (st) : -1;
}

int
ocirun_exec (char *const argv[], const char *in, size_t in_len, int timeout_ms, size_t max_out, ocirun_result_t *r)
{
    memset (r, 0, sizeof *r);
    r->exit_code = -1;
    int pin[2], pout[2], perr[2];
    if (pipe2 (pin, O_CLOEXEC))
        return -1;
    if (pipe2 (pout, O_CLOEXEC)) {
        close (pin[0]), close (pin[1]);
        return -1;
    }
    if (pipe2 (perr, O_CLOEXEC)) {
        close (pin[0]), close (pin[1]), close (pout[0]), close (pout[1]);
        return -1;
    }
    pid_t pid = spawn (argv, NULL, pin[0], pout[1], perr[1], -1);
    int e = errno;
    close (pin[0]);
    close (pout[1]);
    close (perr[1]);
    if (pid < 0) {
        close (pin[1]), close (pout[0]), close (perr[0]);
        errno = e;
        return -1;
    }
    fcntl (pin[1], F_SETFL, O_NONBLOCK);
    size_t in_off = 0;
    if (!in || !in_len) {
        close (pin[1]);
        pin[1] = -1;
    }
    long long deadline = mono_ms () + (timeout_ms > 0 ? timeout_ms : 30000);
    int open_out = 1, open_err = 1;
    char buf[16384];
    while (open_out || open_err || pin[1] >= 0) {
        struct pollfd fds[3] = {{open_out ? pout[0] : -1, POLLIN, 0}, {open_err ? perr[0] : -1, POLLIN, 0},
                                {pin[1], POLLOUT, 0}};
        long long left = deadline - mono_ms ();
        if (left <= 0) {
            r->timed_out = 1;
            kill (pid, SIGKILL);
            break;
        }
        int n = poll (fds, 3, (int) (left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++)
            if (fds[i].fd >= 0 && fds[i].revents) {
                ssize_t got = read (fds[i].fd, buf, sizeof buf);
                if (got <= 0) {
                    if (i == 0)
                        open_out = 0;
                    else
                        open_err = 0;
                } else if (i == 0)
                    append (&r->out, &r->out_len, max_out, buf, (size_t) got, &r->truncated);
                else
                    append (&r->err, &r->err_len, max_out, buf, (size_t) got, &r->truncated);
            }
        if (pin[1] >= 0 && fds[2].revents) {
            ssize_t w = fds[2].revents & POLLOUT ? write (pin[1], in + in_off, in_len - in_off) : -1;
            if (w > 0)
                in_off += (size_t) w;
            if (w < 0 || in_off >= in_len) {
                close (pin[1]);
                pin[1] = -1;
            }
        }
    }
    if (pin[1] >= 0)
        close (pin[1]);
    close (pout[0]);
    close (perr[0]);
    int st = 0;
    while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->exit_code = wait_status (st);
    return 0;
}

static void
trim (char *s)
{
    size_t n = strlen (s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
}

/* runc's error line: `time="…" level=error msg="…"` → the msg, unquoted. */
static void
runc_msg (const char *text, char *err, size_t errlen)
{
    const char *m = text ? strstr (text, "msg=\"") : NULL;
    if (!m) {
        snprintf (err, errlen, "%s", text ? text : "");
        trim (err);
        return;
    }
    m += 5;
    size_t k = 0;
    for (; *m && *m != '\n' && k + 1 < errlen; m++) {
        if (*m == '\\' && m[1]) {
            m++;
            err[k++] = *m;
            continue;
        }
        if (*m == '"')
            break;
        err[k++] = *m;
    }
    err[k] = 0;
}

static int
read_int_file (const char *path, long long *v)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    int ok = fscanf (f, "%lld", v) == 1;
    fclose (f);
    return ok ? 0 : -1;
}

int
ocirun_reopen_log (const char *bundle, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/ctl", bundle);
    /* non-blocking: with no conmon reading, open fails (ENXIO) instead of waiting */
    int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, errlen, "conmon's control fifo %s: %s", path, strerror (errno));
        return -1;
    }
    static const char msg[] = "2 0 0\n"; /* REOPEN_LOGS_EVENT, height, width */
    ssize_t w = write (fd, msg, sizeof msg - 1);
    int e = errno;
    close (fd);
    if (w != (ssize_t) sizeof msg - 1) {
        snprintf (err, errlen, "conmon's control fifo %s: %s", path, w < 0 ? strerror (e) : "short write");
        return -1;
    }
    return 0;
}

int
ocirun_start (const ocirun_paths_t *p, const char *id, const char *name, const char *bundle, const char *log_path,
              pid_t *pid, pid_t *conmon_pid, const char **stage, char *err, size_t errlen)
{
    *stage = "create";
    /* the binaries may have gone since the shim found them (a package upgrade, a removed file):
     * say which, as CRI-O's "executable file not found", rather than conmon's muddled failure */
    const char *need[][2] = {{"conmon", p->conmon}, {"runc", p->runc}};
    for (int i = 0; i < 2; i++)
        if (access (need[i][1], X_OK) < 0) {
            snprintf (err, errlen, "%s %s: %s (the OCI runtime cannot run)", need[i][0], need[i][1], strerror (errno));
            return -1;
        }
    char persist[PATH_MAX], pidfile[PATH_MAX], cpidfile[PATH_MAX], logarg[PATH_MAX + 16], rootarg[PATH_MAX + 16];
    snprintf (persist, sizeof persist, "%s/%s", p->persist_dir, id);
    mkdir (persist, 0700);
    snprintf (pidfile, sizeof pidfile, "%s/pidfile", bundle);
    snprintf (cpidfile, sizeof cpidfile, "%s/conmon.pid", bundle);
    snprintf (logarg, sizeof logarg, "k8s-file:%s", log_path);
    snprintf (rootarg, sizeof rootarg, "--root=%s", p->runc_root);
    char *argv[] = {(char *) p->conmon, "--api-version", "1", "-c", (char *) id, "-u", (char *) id, "-n", (char *) name,
                    "-r", (char *) p->runc, "-b", (char *) bundle, "-p", pidfile, "-P", cpidfile, "-l", logarg,
                    "--exit-dir", (char *) p->exits_dir, "--socket-dir-path",
                    (char *) p->sock_dir, "--persist-dir", persist, "--runtime-arg", rootarg, "--log-level", "error",
                    "--syslog", NULL};
    /* conmon reads _OCI_SYNCPIPE: it writes {"data": pid} (or -1 and the message) once runc create is done */
    int sp[2];
    if (pipe2 (sp, O_CLOEXEC)) {
        snprintf (err, errlen, "pipe: %s", strerror (errno));
        return -1;
    }
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc (ne + 2, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp (environ[i], "_OCI_", 5) && strncmp (environ[i], "NOTIFY_SOCKET=", 14))
            envp[k++] = environ[i];
    envp[k++] = "_OCI_SYNCPIPE=3";
    /* stdio on /dev/null: conmon's monitor outlives us and must hold no pipe of ours */
    int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t cp = spawn (argv, envp, devnull, devnull, devnull, sp[1]);
    int e = errno;
    free (envp);
    close (sp[1]);
    close (devnull);
    if (cp < 0) {
        close (sp[0]);
        snprintf (err, errlen, "cannot run %s: %s", p->conmon, strerror (e));
        return -1;
    }
    /* conmon forks: the parent exits at once, the monitor keeps the pipe until runc create ends */
    char buf[8192];
    size_t len = 0;
    long long deadline = mono_ms () + 60000;
    for (;;) {
        struct pollfd pf = {sp[0], POLLIN, 0};
        long long left = deadline - mono_ms ();
        if (left <= 0)
            break;
        int n = poll (&pf, 1, (int) left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ssize_t got = read (sp[0], buf + len, sizeof buf - 1 - len);
        if (got <= 0)
            break;
        len += (size_t) got;
        buf[len] = 0;
        if (memchr (buf, '}', len))
            break;
    }
    buf[len] = 0;
    close (sp[0]);
    int st;
    waitpid (cp, &st, 0);
    json_t *j = len ? json_loads (buf, 0, NULL) : NULL;
    json_int_t data = j ? json_integer_value (json_object_get (j, "data")) : 0;
    if (!j || data <= 0) {
        const char *m = j ? json_string_value (json_object_get (j, "message")) : NULL;
        if (m)
            runc_msg (m, err, errlen);
        else
            snprintf (err, errlen, "conmon did not report the container (%s; conmon exit status %d)",
                      len ? buf : "no answer", wait_status (st));
        json_decref (j);
        char e2[64];
        ocirun_delete (p, id, e2, sizeof e2);
        return -1;
    }
    json_decref (j);
    *pid = (pid_t) data;
    long long v;
    *conmon_pid = read_int_file (cpidfile, &v) == 0 ? (pid_t) v : 0;
    *stage = "start";
    char *sargv[] = {(char *) p->runc, rootarg, "start", (char *) id, NULL};
    ocirun_result_t r;
    if (ocirun_exec (sargv, NULL, 0, 30000, 65536, &r) || r.exit_code != 0) {
        runc_msg (r.err ? r.err : strerror (errno), err, errlen);
        ocirun_result_clear (&r);
        return -1;
    }
    ocirun_result_clear (&r);
    return 0;
}

int
ocirun_delete (const ocirun_paths_t *p, const char *id, char *err, size_t errlen)
{
    char rootarg[PATH_MAX + 16];
    snprintf (rootarg, sizeof rootarg, "--root=%s", p->runc_root);
    char *argv[] = {(char *) p->runc, rootarg, "delete", "--force", (char *) id, NULL};
    ocirun_result_t r;
    int rc = ocirun_exec (argv, NULL, 0, 30000, 65536, &r);
    if (rc != 0) /* runc could not be run at all (removed since): say so, never leave err unset */
        snprintf (err, errlen, "cannot run %s: %s", p->runc, strerror (errno));
    if (rc == 0 && r.exit_code != 0 && r.err && !strstr (r.err, "does not exist") && !strstr (r.err, "not exist")) {
        runc_msg (r.err, err, errlen);
        rc = -1;
    }
    ocirun_result_clear (&r);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", p->exits_dir, id);
    unlink (path);
    snprintf (path, sizeof path, "%s/%s/exit", p->persist_dir, id);
    unlink (path);
    snprintf (path, sizeof path, "%s/%s/oom", p->persist_dir, id);
    unlink (path);
    snprintf (path, sizeof path, "%s/%s", p->persist_dir, id);
    rmdir (path);
    return rc;
}

int
ocirun_exit_status (const ocirun_paths_t *p, const char *id, int *code, int *oom)
{
    char path[PATH_MAX];
    long long v;
    snprintf (path, sizeof path, "%s/%s", p->exits_dir, id);
    if (read_int_file (path, &v))
        return 1;
    *code = (int) v;
    snprintf (path, sizeof path, "%s/%s/oom", p->persist_dir, id);
    *oom = access (path, F_OK) == 0;
    return 0;
}

int
ocirun_alive (pid_t pid)
{
    if (pid <= 0 || kill (pid, 0) != 0)
        return 0;
    char path[64], buf[512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = 0;
    char *q = strrchr (buf, ')');
    return q && q[1] == ' ' && q[2] != 'Z' && q[2] != 'X';
}

/* ---- rootfs ----------------------------------------------------------------------------------- */

static int
rm_tree_at (int dirfd, const char *name, dev_t dev)
{
    struct stat st;
    if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR (st.st_mode))
        return unlinkat (dirfd, name, 0);
    if (st.st_dev != dev)
        return -1; /* a mount point: never cross it */
    int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir (fd);
    if (!d) {
        close (fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
            rc |= rm_tree_at (fd, e->d_name, dev);
    closedir (d);
    return unlinkat (dirfd, name, AT_REMOVEDIR) ? -1 : rc;
}

/* Copies the layer tree src onto dst, applying overlay-form whiteouts (0:0 char devices delete,
 * an opaque dir empties what lower layers put there). */
static int
copy_layer (const char *src, const char *dst, char *err, size_t errlen)
{
    DIR *d = opendir (src);
    if (!d) {
        snprintf (err, errlen, "open %s: %s", src, strerror (errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir (d))) {
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
            continue;
        char s[PATH_MAX], t[PATH_MAX];
        snprintf (s, sizeof s, "%s/%s", src, e->d_name);
        snprintf (t, sizeof t, "%s/%s", dst, e->d_name);
        struct stat st, dt;
        if (lstat (s, &st)) {
            rc = -1;
            break;
        }
        if (S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0)) { /* whiteout */
            struct stat x;
            if (lstat (t, &x) == 0) {
                int dfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                rm_tree_at (dfd, e->d_name, x.st_dev);
                close (dfd);
            }
            continue;
        }
        if (S_ISDIR (st.st_mode)) {
            char v[4] = "";
            int opaque = lgetxattr (s, "trusted.overlay.opaque", v, sizeof v) > 0 && v[0] == 'y';
            if (lstat (t, &dt) == 0 && (!S_ISDIR (dt.st_mode) || opaque)) {
                int dfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                rm_tree_at (dfd, e->d_name, dt.st_dev);
                close (dfd);
            }
            if (mkdir (t, st.st_mode & 07777) && errno != EEXIST) {
                rc = -1;
                break;
            }
            chmod (t, st.st_mode & 07777);
            if (lchown (t, st.st_uid, st.st_gid)) {
                /* best effort, as a copy */
            }
            rc = copy_layer (s, t, err, errlen);
            continue;
        }
        if (lstat (t, &dt) == 0) {
            int dfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            rm_tree_at (dfd, e->d_name, dt.st_dev);
            close (dfd);
        }
        if (S_ISLNK (st.st_mode)) {
            char l[PATH_MAX];
            ssize_t n = readlink (s, l, sizeof l - 1);
            if (n < 0 || (l[n] = 0, symlink (l, t))) {
                rc = -1;
                break;
            }
            if (lchown (t, st.st_uid, st.st_gid)) {
            }
        } else if (S_ISREG (st.st_mode)) {
            int in = open (s, O_RDONLY | O_CLOEXEC), out = open (t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
            char buf[65536];
            ssize_t n;
            while (in >= 0 && out >= 0 && (n = read (in, buf, sizeof buf)) > 0)
                if (write (out, buf, (size_t) n) != n) {
                    rc = -1;
                    break;
                }
            if (in < 0 || out < 0)
                rc = -1;
            if (out >= 0) {
                if (fchown (out, st.st_uid, st.st_gid)) {
                }
                fchmod (out, st.st_mode & 07777);
                close (out);
            }
            if (in >= 0)
                close (in);
        } else if (mknod (t, st.st_mode, st.st_rdev) && errno != EEXIST)
            rc = -1;
        if (rc)
            snprintf (err, errlen, "copy %s: %s", s, strerror (errno));
    }
    closedir (d);
    return rc;
}

int
ocirun_mount_rootfs (const char *dir, const json_t *lower, int *copied, char *err, size_t errlen)
{
    char rootfs[PATH_MAX], upper[PATH_MAX], work[PATH_MAX];
    snprintf (rootfs, sizeof rootfs, "%s/rootfs", dir);
    snprintf (upper, sizeof upper, "%s/upper", dir);
    snprintf (work, sizeof work, "%s/work", dir);
    *copied = 0;
    size_t n = json_array_size (lower);
    if (!n) {
        snprintf (err, errlen, "image has no layers");
        return -1;
    }
    if ((mkdir (rootfs, 0755) && errno != EEXIST) || (mkdir (upper, 0755) && errno != EEXIST) ||
        (mkdir (work, 0700) && errno != EEXIST)) {
        snprintf (err, errlen, "mkdir under %s: %s", dir, strerror (errno));
        return -1;
    }
    /* lowerdir: the top layer first; with one layer, overlayfs still needs upper for writes */
    size_t cap = 64 + strlen (upper) + strlen (work);
    for (size_t i = 0; i < n; i++)
        cap += strlen (json_string_value (json_array_get (lower, i)) ? json_string_value (json_array_get (lower, i)) : "") + 1;
    char *opts = malloc (cap);
    size_t k = (size_t) snprintf (opts, cap, "lowerdir=");
    for (size_t i = n; i-- > 0;)
        k += (size_t) snprintf (opts + k, cap - k, "%s%s", json_string_value (json_array_get (lower, i)), i ? ":" : "");
    snprintf (opts + k, cap - k, ",upperdir=%s,workdir=%s", upper, work);
    int rc = k < 4000 ? mount ("overlay", rootfs, "overlay", 0, opts) : (errno = E2BIG, -1);
    int e = errno;
    free (opts);
    if (rc == 0)
        return 0;
    /* overlayfs refused (an overlay upper on overlay, a filesystem without d_type, too many
     * layers for one page of options): copy the layers instead */
    for (size_t i = 0; i < n; i++)
        if (copy_layer (json_string_value (json_array_get (lower, i)), rootfs, err, errlen)) {
            char m[256];
            snprintf (m, sizeof m, "%s", err);
            snprintf (err, errlen, "overlayfs refused (%s) and the copy failed: %s", strerror (e), m);
            return -1;
        }
    *copied = 1;
    return 0;
}

int
ocirun_remove_dir (const char *dir)
{
    char rootfs[PATH_MAX];
    snprintf (rootfs, sizeof rootfs, "%s/rootfs", dir);
    if (umount2 (rootfs, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
        return -1;
    struct stat st;
    if (stat (dir, &st))
        return errno == ENOENT ? 0 : -1;
    char parent[PATH_MAX], *slash;
    snprintf (parent, sizeof parent, "%s", dir);
    slash = strrchr (parent, '/');
    if (!slash)
        return -1;
    *slash = 0;
    int pfd = open (parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return -1;
    int rc = rm_tree_at (pfd, slash + 1, st.st_dev);
    close (pfd);
    return rc;
}
