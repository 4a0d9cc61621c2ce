/* cni_exec — see cni_exec.h; the output parser is declared in cni.h. */
#include "runtime-shims/oci/cni_exec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STDERR_KEEP 2048

/* The first len bytes of s as one line of at most max printable characters (for messages). */
static void
excerpt (char *dst, size_t dstlen, const char *s, size_t len, size_t max)
{
    size_t j = 0;
    for (size_t i = 0; i < len && i < max && j + 1 < dstlen; i++) {
        unsigned char ch = (unsigned char) s[i];
        dst[j++] = (ch < 0x20 || ch >= 0x7f) ? ' ' : (char) ch;
    }
    if (dstlen)
        dst[j] = 0;
    while (j > 0 && dst[j - 1] == ' ')
        dst[--j] = 0;
}

int
cni_parse_output (const char *plugin, int exited_ok, const char *out, size_t len, json_t **result, char *err,
                  size_t errlen)
{
    if (result)
        *result = NULL;
    size_t i = 0;
    while (i < len && (out[i] == ' ' || out[i] == '\n' || out[i] == '\r' || out[i] == '\t'))
        i++;
    if (i == len) {
        if (exited_ok)
            return 0;   /* DEL and CHECK print nothing on success */
        snprintf (err, errlen, "plugin %s: failed and printed no error", plugin);
        return -1;
    }
    json_error_t je;
    json_t *j = json_loadb (out, len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object (j)) {
        char ex[200];
        excerpt (ex, sizeof ex, out + i, len - i, 160);
        snprintf (err, errlen, "plugin %s: %s output is not a JSON object (%s): %s", plugin,
                  exited_ok ? "its" : "failed and its", j ? "not an object" : je.text, ex);
        json_decref (j);
        return -1;
    }
    json_t *code = json_object_get (j, "code");
    if (!exited_ok || code) {
        /* the spec's error: {cniVersion, code, msg, details}; a plugin that fails always exits non-zero,
         * and an object with a code is an error even if the exit status said otherwise */
        const char *msg = json_string_value (json_object_get (j, "msg"));
        const char *details = json_string_value (json_object_get (j, "details"));
        if (!msg)
            msg = "failed without a message";
        if (json_is_integer (code) && details && *details)
            snprintf (err, errlen, "plugin %s: %s (code %lld): %s", plugin, msg, (long long) json_integer_value (code),
                      details);
        else if (json_is_integer (code))
            snprintf (err, errlen, "plugin %s: %s (code %lld)", plugin, msg, (long long) json_integer_value (code));
        else
            snprintf (err, errlen, "plugin %s: %s", plugin, msg);
        json_decref (j);
        return -1;
    }
    if (result)
        *result = j;
    else
        json_decref (j);
    return 0;
}

int
cni_result_ipv4 (const json_t *result, char *ip, size_t iplen)
{
    if (iplen)
        ip[0] = 0;
    json_t *ips = json_object_get (result, "ips");
    json_t *ifs = json_object_get (result, "interfaces");
    /* The pod's address: on an interface inside the sandbox when the result says which; else the first. */
    for (int pass = 0; pass < 2; pass++) {
        size_t k;
        json_t *e;
        json_array_foreach (ips, k, e) {
            const char *a = json_string_value (json_object_get (e, "address"));
            if (!a)
                continue;
            if (pass == 0) {
                json_t *idx = json_object_get (e, "interface");
                json_t *itf = json_is_integer (idx) ? json_array_get (ifs, (size_t) json_integer_value (idx)) : NULL;
                const char *sb = json_string_value (json_object_get (itf, "sandbox"));
                if (!sb || !*sb)
                    continue;
            }
            char buf[INET_ADDRSTRLEN + 8];
            const char *slash = strchr (a, '/');
            size_t n = slash ? (size_t) (slash - a) : strlen (a);
            if (n >= INET_ADDRSTRLEN)
                continue;
            memcpy (buf, a, n);
            buf[n] = 0;
            struct in_addr in;
            if (inet_pton (AF_INET, buf, &in) != 1 || n + 1 > iplen)
                continue;
            memcpy (ip, buf, n + 1);
            return 0;
        }
    }
    return -1;
}

static long long
now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    char *buf;
    size_t len, cap, max;
    int over;   /* more than max arrived */
} outbuf_t;

static int
outbuf_read (outbuf_t *o, int fd)
{
    char tmp[16384];
    ssize_t n = read (fd, tmp, sizeof tmp);
    if (n < 0)
        return (errno == EINTR || errno == EAGAIN) ? 1 : 0;
    if (n == 0)
        return 0;
    size_t take = (size_t) n;
    if (o->len + take > o->max) {
        take = o->max - o->len;
        o->over = 1;
    }
    if (o->len + take + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 16384;
        while (cap < o->len + take + 1)
            cap *= 2;
        char *nb = realloc (o->buf, cap);
        if (!nb) {
            o->over = 1;
            return 1;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy (o->buf + o->len, tmp, take);
    o->len += take;
    o->buf[o->len] = 0;
    return 1;
}

/* Waits for pid until deadline; kills its process group first when kill_now or on expiry.
 * Returns the wait status; *timed_out set when it had to be killed for time. */
static int
reap (pid_t pid, long long deadline, int kill_now, int *timed_out)
{
    int st = 0;
    if (kill_now)
        kill (-pid, SIGKILL);
    for (;;) {
        pid_t r = waitpid (pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (now_ms () >= deadline) {
            *timed_out = 1;
            kill (-pid, SIGKILL);
            while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep (&ts, NULL);
    }
    /* anything the plugin left running in its group (a stuck iptables) goes too */
    kill (-pid, SIGKILL);
    return st;
}

int
cni_exec_plugin (const cni_config_t *c, const char *command, const char *id, const char *netns, const char *ifname,
                 const json_t *conf, json_t **result, char *err, size_t errlen)
{
    if (result)
        *result = NULL;
    const char *type = json_string_value (json_object_get (conf, "type"));
    if (!type || !*type || strchr (type, '/') || !strcmp (type, ".") || !strcmp (type, "..")) {
        snprintf (err, errlen, "plugin config: \"type\" must name a binary in %s", c->bin_dir);
        return -1;
    }
    char path[1024];
    if ((size_t) snprintf (path, sizeof path, "%s/%s", c->bin_dir, type) >= sizeof path) {
        snprintf (err, errlen, "plugin %s: path too long", type);
        return -1;
    }
    struct stat sb;
    if (stat (path, &sb) != 0 || !S_ISREG (sb.st_mode) || access (path, X_OK) != 0) {
        snprintf (err, errlen, "plugin %s: %s %s", type, path,
                  stat (path, &sb) != 0 ? "does not exist" : "is not an executable file");
        return -1;
    }
    char *input = json_dumps (conf, JSON_COMPACT);
    if (!input) {
        snprintf (err, errlen, "plugin %s: cannot encode its config", type);
        return -1;
    }
    /* everything the child needs is built before fork: after it, only async-signal-safe calls */
    char e_cmd[32], e_id[300], e_netns[1100], e_if[64], e_path[600];
    snprintf (e_cmd, sizeof e_cmd, "CNI_COMMAND=%s", command);
    snprintf (e_id, sizeof e_id, "CNI_CONTAINERID=%s", id);
    snprintf (e_netns, sizeof e_netns, "CNI_NETNS=%s", netns ? netns : "");
    snprintf (e_if, sizeof e_if, "CNI_IFNAME=%s", ifname);
    snprintf (e_path, sizeof e_path, "CNI_PATH=%s", c->bin_dir);
    char *envp[] = { e_cmd, e_id, e_netns, e_if, e_path,
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", NULL };
    char *argv[] = { path, NULL };

    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
    if (pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (er, O_CLOEXEC)) {
        snprintf (err, errlen, "plugin %s: pipe: %s", type, strerror (errno));
        for (int k = 0; k < 2; k++) {
            if (in[k] >= 0) close (in[k]);
            if (out[k] >= 0) close (out[k]);
            if (er[k] >= 0) close (er[k]);
        }
        free (input);
        return -1;
    }
    /* a plugin that exits before reading its stdin must not kill us with SIGPIPE */
    sigset_t pipeset, oldset;
    sigemptyset (&pipeset);
    sigaddset (&pipeset, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipeset, &oldset);

    pid_t pid = fork ();
    if (pid == 0) {
        setpgid (0, 0);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGPIPE, SIG_DFL);
        if (dup2 (in[0], 0) < 0 || dup2 (out[1], 1) < 0 || dup2 (er[1], 2) < 0)
            _exit (126);
        close_range (3, ~0U, 0);
        execve (path, argv, envp);
        static const char m[] = "exec failed\n";
        ssize_t w = write (2, m, sizeof m - 1);
        (void) w;
        _exit (127);
    }
    close (in[0]);
    close (out[1]);
    close (er[1]);
    if (pid < 0) {
        snprintf (err, errlen, "plugin %s: fork: %s", type, strerror (errno));
        close (in[1]);
        close (out[0]);
        close (er[0]);
        pthread_sigmask (SIG_SETMASK, &oldset, NULL);
        free (input);
        return -1;
    }
    setpgid (pid, pid);   /* also here, so kill(-pid) works even before the child ran */

    int timeout_s = c->timeout_s > 0 ? c->timeout_s : 10;
    long long deadline = now_ms () + (long long) timeout_s * 1000;
    size_t inlen = strlen (input), inoff = 0;
    fcntl (in[1], F_SETFL, O_NONBLOCK);
    outbuf_t o = { .max = CNI_EXEC_MAX_OUT }, e = { .max = STDERR_KEEP };
    int win = in[1], rout = out[0], rerr = er[0], timed_out = 0;
    if (inlen == 0) {
        close (win);
        win = -1;
    }
    while ((rout >= 0 || rerr >= 0) && !o.over) {
        struct pollfd p[3];
        int n = 0, iw = -1, io = -1, ie = -1;
        if (win >= 0) { iw = n; p[n].fd = win; p[n++].events = POLLOUT; }
        if (rout >= 0) { io = n; p[n].fd = rout; p[n++].events = POLLIN; }
        if (rerr >= 0) { ie = n; p[n].fd = rerr; p[n++].events = POLLIN; }
        long long left = deadline - now_ms ();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int r = poll (p, (nfds_t) n, (int) (left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (iw >= 0 && p[iw].revents) {
            ssize_t w = write (win, input + inoff, inlen - inoff);
            if (w > 0)
                inoff += (size_t) w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || inoff == inlen) {
                close (win);   /* EOF tells the plugin its config is complete */
                win = -1;
            }
        }
        if (io >= 0 && p[io].revents && !outbuf_read (&o, rout)) {
            close (rout);
            rout = -1;
        }
        if (ie >= 0 && p[ie].revents) {
            if (e.over) {   /* keep the beginning of stderr, drain the rest */
                char junk[4096];
                ssize_t k = read (rerr, junk, sizeof junk);
                if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) {
                    close (rerr);
                    rerr = -1;
                }
            } else if (!outbuf_read (&e, rerr)) {
                close (rerr);
                rerr = -1;
            }
        }
    }
    int st = reap (pid, deadline, timed_out || o.over, &timed_out);
    if (win >= 0) close (win);
    if (rout >= 0) close (rout);
    if (rerr >= 0) close (rerr);
    free (input);
    /* a SIGPIPE raised by our write is pending on this thread: take it before unblocking */
    struct timespec zero = { 0, 0 };
    sigset_t pending;
    sigpending (&pending);
    if (sigismember (&pending, SIGPIPE))
        sigtimedwait (&pipeset, NULL, &zero);
    pthread_sigmask (SIG_SETMASK, &oldset, NULL);

    int rc = -1;
    if (timed_out) {
        snprintf (err, errlen, "plugin %s: %s did not finish within %d s and was killed", type, command, timeout_s);
    } else if (o.over) {
        snprintf (err, errlen, "plugin %s: printed more than %d bytes and was killed", type, CNI_EXEC_MAX_OUT);
    } else if (st == -1 || WIFSIGNALED (st)) {
        snprintf (err, errlen, "plugin %s: killed by signal %d", type, st == -1 ? 0 : WTERMSIG (st));
    } else {
        int ok = WIFEXITED (st) && WEXITSTATUS (st) == 0;
        rc = cni_parse_output (type, ok, o.buf ? o.buf : "", o.len, result, err, errlen);
        if (rc && !ok && o.len == 0) {
            char ex[300];
            excerpt (ex, sizeof ex, e.buf ? e.buf : "", e.len, 240);
            snprintf (err, errlen, "plugin %s: exit status %d%s%s", type, WEXITSTATUS (st), *ex ? ": " : "", ex);
        }
    }
    free (o.buf);
    free (e.buf);
    return rc;
}
