/* execsess — see execsess.h. */
#include "runtime-shims/execsess.h"
#include "core/value.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- bounded buffer (pure) ------------------------------------------------------------------ */

void
execbuf_init (execbuf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->max = max;
}

void
execbuf_free (execbuf_t *b)
{
    free (b->data);
    b->data = NULL;
    b->len = 0;
}

size_t
execbuf_room (const execbuf_t *b)
{
    return b->len < b->max ? b->max - b->len : 0;
}

size_t
execbuf_put (execbuf_t *b, const void *p, size_t n)
{
    size_t take = n < execbuf_room (b) ? n : execbuf_room (b);
    if (!take)
        return 0;
    if (!b->data) {
        b->data = malloc (b->max);
        if (!b->data)
            return 0;
    }
    memcpy (b->data + b->len, p, take);
    b->len += take;
    return take;
}

void
execbuf_consume (execbuf_t *b, size_t n)
{
    if (n >= b->len) {
        /* an idle session holds no buffer */
        execbuf_free (b);
        return;
    }
    memmove (b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- sessions -------------------------------------------------------------------------------- */

typedef struct sess {
    char id[33];
    char owner[128];
    char pid_file[PATH_MAX];
    char tmp_file[PATH_MAX];
    pid_t pid;
    int tty;
    int in_fd, out_fd, err_fd;  /* -1: closed; tty: in_fd is a dup of the master, out_fd the master */
    execbuf_t in, out, err;
    int eof;                    /* the client's stdin ended: close in_fd once in is written */
    int exited, code;
    int dead;                   /* killed, waiting to be reaped */
    int64_t exited_at, last_io;
    void *waiter;
    int64_t deadline;           /* of the waiter's answer */
    struct sess *next;
} sess_t;

struct execsess_table {
    sess_t *list;
    int n;
    execsess_answer_fn *answer;
    execsess_drop_fn *drop;
    void *arg;
    int idle_ms;
};

static int64_t
mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

execsess_table_t *
execsess_new (execsess_answer_fn *answer, execsess_drop_fn *drop, void *arg)
{
    execsess_table_t *t = calloc (1, sizeof *t);
    if (!t)
        return NULL;
    t->answer = answer;
    t->drop = drop;
    t->arg = arg;
    t->idle_ms = EXECSESS_IDLE_MS;
    return t;
}

void
execsess_new_id (char id[33])
{
    unsigned char r[16];
    if (getrandom (r, sizeof r, 0) != (ssize_t) sizeof r)
        for (size_t i = 0; i < sizeof r; i++) /* never in practice; still unguessable enough to be unique */
            r[i] = (unsigned char) (rand () ^ (int) mono_ms ());
    for (size_t i = 0; i < sizeof r; i++)
        snprintf (id + 2 * i, 3, "%02x", r[i]);
}

static void
close_fd (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

static int
wait_status (int st)
{
    return WIFEXITED (st) ? WEXITSTATUS (st) : WIFSIGNALED (st) ? 128 + WTERMSIG (st) : -1;
}

/* The child: only async-signal-safe calls (the shim has threads). */
static void
child (const execsess_spec_t *spec, int in, int out, int err)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &sa, NULL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    setsid ();
    if (spec->tty)
        ioctl (in, TIOCSCTTY, 0); /* runc (or the command) gets the pty as its terminal: SIGWINCH on resize */
    if (dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (err, 2) < 0)
        _exit (127);
    closefrom (3);
    execv (spec->argv[0], spec->argv);
    static const char msg[] = "troupe exec: cannot run the command\n";
    if (write (2, msg, sizeof msg - 1) < 0) {
        /* nothing to do */
    }
    _exit (127);
}

static void
nonblock (int fd)
{
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    fcntl (fd, F_SETFD, FD_CLOEXEC);
}

int
execsess_start (execsess_table_t *t, const execsess_spec_t *spec, char *err, size_t errlen)
{
    if (t->n >= EXECSESS_MAX) {
        snprintf (err, errlen, "too many exec sessions on this node (%d)", EXECSESS_MAX);
        return -1;
    }
    int c_in = -1, c_out = -1, c_err = -1;    /* the child's ends */
    int p_in = -1, p_out = -1, p_err = -1;    /* ours */
    if (spec->tty) {
        struct winsize ws = {.ws_row = (unsigned short) (spec->rows > 0 ? spec->rows : 0),
                             .ws_col = (unsigned short) (spec->cols > 0 ? spec->cols : 0)};
        int m, s;
        if (openpty (&m, &s, NULL, NULL, &ws)) {
            snprintf (err, errlen, "cannot open a pty: %s", strerror (errno));
            return -1;
        }
        struct termios tio;
        if (spec->raw && !tcgetattr (s, &tio)) {
            cfmakeraw (&tio);
            tcsetattr (s, TCSANOW, &tio);
        }
        nonblock (m);
        fcntl (s, F_SETFD, FD_CLOEXEC);
        p_out = m;
        p_in = fcntl (m, F_DUPFD_CLOEXEC, 3);
        c_in = c_out = c_err = s;
    } else {
        int sp[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
        int ok = 1;
        if (spec->stdin_open)
            ok = !socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
        else
            ok = (sp[0] = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
        if (ok)
            ok = !pipe2 (po, O_CLOEXEC) && !pipe2 (pe, O_CLOEXEC);
        if (!ok) {
            snprintf (err, errlen, "cannot make pipes: %s", strerror (errno));
            int all[] = {sp[0], sp[1], po[0], po[1], pe[0], pe[1]};
            for (int i = 0; i < 6; i++)
                close_fd (&all[i]);
            return -1;
        }
        if (spec->stdin_open)
            shutdown (sp[0], SHUT_WR); /* the command only reads its stdin */
        c_in = sp[0], p_in = sp[1];
        c_out = po[1], p_out = po[0];
        c_err = pe[1], p_err = pe[0];
        if (p_in >= 0)
            nonblock (p_in);
        nonblock (p_out);
        nonblock (p_err);
    }
    pid_t pid = fork ();
    if (pid == 0)
        child (spec, c_in, c_out, c_err);
    int e = errno;
    close_fd (&c_in);
    if (!spec->tty) {
        close_fd (&c_out);
        close_fd (&c_err);
    }
    if (pid < 0) {
        close_fd (&p_in), close_fd (&p_out), close_fd (&p_err);
        snprintf (err, errlen, "cannot fork: %s", strerror (e));
        return -1;
    }
    sess_t *s = calloc (1, sizeof *s);
    snprintf (s->id, sizeof s->id, "%s", spec->id);
    snprintf (s->owner, sizeof s->owner, "%s", spec->owner ? spec->owner : "");
    snprintf (s->pid_file, sizeof s->pid_file, "%s", spec->pid_file ? spec->pid_file : "");
    snprintf (s->tmp_file, sizeof s->tmp_file, "%s", spec->tmp_file ? spec->tmp_file : "");
    s->pid = pid;
    s->tty = spec->tty;
    s->in_fd = p_in;
    s->out_fd = p_out;
    s->err_fd = p_err;
    execbuf_init (&s->in, EXECSESS_BUF_MAX);
    execbuf_init (&s->out, EXECSESS_BUF_MAX);
    execbuf_init (&s->err, EXECSESS_BUF_MAX);
    s->last_io = mono_ms ();
    s->next = t->list;
    t->list = s;
    t->n++;
    return 0;
}

static sess_t *
find (execsess_table_t *t, const char *id)
{
    for (sess_t *s = t->list; s; s = s->next)
        if (id && !s->dead && !strcmp (s->id, id))
            return s;
    return NULL;
}

static void
pump_in (sess_t *s)
{
    while (s->in_fd >= 0 && s->in.len) {
        ssize_t w = s->tty ? write (s->in_fd, s->in.data, s->in.len)
                           : send (s->in_fd, s->in.data, s->in.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            execbuf_consume (&s->in, (size_t) w);
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        /* the command closed its stdin (or is gone): what it did not read is dropped */
        execbuf_free (&s->in);
        close_fd (&s->in_fd);
    }
    if (s->in_fd >= 0 && !s->in.len && s->eof) {
        if (s->tty) {
            /* a terminal has no end: the line discipline's EOF character, as typing ^D */
            char eot = 4;
            if (write (s->in_fd, &eot, 1) < 0) {
                /* the command is gone */
            }
        }
        close_fd (&s->in_fd);
    }
}

static void
pump_out_one (int *fd, execbuf_t *b)
{
    char buf[65536];
    while (*fd >= 0 && execbuf_room (b)) {
        size_t want = execbuf_room (b) < sizeof buf ? execbuf_room (b) : sizeof buf;
        ssize_t got = read (*fd, buf, want);
        if (got > 0) {
            execbuf_put (b, buf, (size_t) got);
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close_fd (fd); /* end of output (a pty says EIO when its slave side is closed) */
    }
}

static void
pump_out (sess_t *s)
{
    pump_out_one (&s->out_fd, &s->out);
    pump_out_one (&s->err_fd, &s->err);
}

static void
kill_cmd (sess_t *s)
{
    if (s->pid_file[0]) {
        FILE *f = fopen (s->pid_file, "re");
        int p = 0;
        if (f) {
            if (fscanf (f, "%d", &p) != 1)
                p = 0;
            fclose (f);
        }
        if (p > 1)
            kill (p, SIGKILL);
    }
    if (s->pid > 0)
        kill (s->pid, SIGKILL);
}

static void
sess_free (execsess_table_t *t, sess_t *s)
{
    for (sess_t **pp = &t->list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    t->n--;
    if (s->waiter && t->drop)
        t->drop (t->arg, s->waiter);
    close_fd (&s->in_fd);
    close_fd (&s->out_fd);
    close_fd (&s->err_fd);
    execbuf_free (&s->in);
    execbuf_free (&s->out);
    execbuf_free (&s->err);
    if (s->pid_file[0])
        unlink (s->pid_file);
    if (s->tmp_file[0])
        unlink (s->tmp_file);
    free (s);
}

/* Answers the waiter if there is something to say (or force). 1 if the session was freed. */
static int
maybe_answer (execsess_table_t *t, sess_t *s, int64_t now, int force)
{
    if (!s->waiter)
        return 0;
    int finished = s->exited && s->out_fd < 0 && s->err_fd < 0;
    if (!s->out.len && !s->err.len && !finished && !force && now < s->deadline)
        return 0;
    json_t *body = json_pack ("{s:s%,s:s%,s:b,s:I}", "stdout", s->out.data ? s->out.data : "", s->out.len, "stderr",
                              s->err.data ? s->err.data : "", s->err.len, "exited", finished, "stdinPending",
                              (json_int_t) s->in.len);
    if (finished)
        json_object_set_new (body, "exitCode", json_integer (s->code));
    execbuf_consume (&s->out, s->out.len);
    execbuf_consume (&s->err, s->err.len);
    void *w = s->waiter;
    s->waiter = NULL;
    s->last_io = now;
    t->answer (t->arg, w, TR_OK, body, NULL);
    if (finished) {
        sess_free (t, s);
        return 1;
    }
    return 0;
}

void
execsess_io (execsess_table_t *t, const json_t *body, const char *owner, void *waiter)
{
    sess_t *s = find (t, tv_str (body, "session"));
    if (!s || (s->owner[0] && (!owner || strcmp (owner, s->owner)))) {
        t->answer (t->arg, waiter, TR_NOT_FOUND, NULL, "no such exec session (it ended, or was abandoned)");
        return;
    }
    int64_t now = mono_ms ();
    if (s->waiter && maybe_answer (t, s, now, 1)) {
        /* one ExecIO at a time: the older one is answered now — and it carried the end */
        t->answer (t->arg, waiter, TR_NOT_FOUND, NULL, "the exec session ended");
        return;
    }
    s->last_io = now;
    json_t *in = json_object_get (body, "stdin");
    if (json_is_string (in) && json_string_length (in)) {
        if (s->in_fd >= 0 && !s->eof) {
            size_t n = json_string_length (in);
            if (execbuf_put (&s->in, json_string_value (in), n) < n) {
                execbuf_free (&s->in); /* cannot happen with a client that heeds stdinPending */
                t->answer (t->arg, waiter, TR_TOO_MANY_REQUESTS, NULL,
                           "exec: more than 1 MiB of stdin is waiting for the command to read it");
                return;
            }
        }
    }
    if (tv_bool (body, "eof", false))
        s->eof = 1;
    const json_t *rs = json_object_get (body, "resize");
    if (s->tty && json_is_object (rs) && s->out_fd >= 0) {
        struct winsize ws = {.ws_row = (unsigned short) tv_int (rs, "rows", 24),
                             .ws_col = (unsigned short) tv_int (rs, "cols", 80)};
        ioctl (s->out_fd, TIOCSWINSZ, &ws); /* the kernel signals SIGWINCH to the pty's foreground group */
    }
    pump_in (s);
    pump_out (s);
    s->waiter = waiter;
    s->deadline = now + EXECSESS_POLL_MS;
    maybe_answer (t, s, now, 0);
}

int
execsess_fds (execsess_table_t *t, struct pollfd *fds, int max)
{
    int n = 0;
    for (sess_t *s = t->list; s; s = s->next) {
        if (s->dead)
            continue;
        if (n < max && s->out_fd >= 0 && execbuf_room (&s->out))
            fds[n++] = (struct pollfd) {.fd = s->out_fd, .events = POLLIN};
        if (n < max && s->err_fd >= 0 && execbuf_room (&s->err))
            fds[n++] = (struct pollfd) {.fd = s->err_fd, .events = POLLIN};
        if (n < max && s->in_fd >= 0 && s->in.len)
            fds[n++] = (struct pollfd) {.fd = s->in_fd, .events = POLLOUT};
    }
    return n;
}

int
execsess_timeout_ms (execsess_table_t *t, int dflt)
{
    /* the end of a command is not an fd event: while sessions exist, look often */
    return t->list && dflt > 20 ? 20 : dflt;
}

void
execsess_tick (execsess_table_t *t)
{
    int64_t now = mono_ms ();
    for (sess_t *s = t->list, *nx; s; s = nx) {
        nx = s->next;
        if (s->dead) {
            int st;
            if (s->exited || waitpid (s->pid, &st, WNOHANG) != 0)
                sess_free (t, s);
            continue;
        }
        pump_in (s);
        pump_out (s);
        if (!s->exited) {
            int st;
            pid_t r = waitpid (s->pid, &st, WNOHANG);
            if (r == s->pid || (r < 0 && errno == ECHILD)) {
                s->exited = 1;
                s->code = r == s->pid ? wait_status (st) : -1;
                s->exited_at = now;
                close_fd (&s->in_fd);
                execbuf_free (&s->in);
                pump_out (s); /* what it wrote just before it ended */
            }
        }
        if (s->exited && (s->out_fd >= 0 || s->err_fd >= 0) && now - s->exited_at > EXECSESS_DRAIN_MS) {
            /* a background child holds the output open: the session ends with its command */
            pump_out (s);
            close_fd (&s->out_fd);
            close_fd (&s->err_fd);
        }
        if (s->waiter) {
            maybe_answer (t, s, now, 0);
            continue;
        }
        if (now - s->last_io > t->idle_ms) {
            /* no ExecIO for a minute: the client is gone */
            if (!s->exited)
                kill_cmd (s);
            s->dead = 1;
            close_fd (&s->in_fd);
            close_fd (&s->out_fd);
            close_fd (&s->err_fd);
        }
    }
}

void
execsess_set_idle_ms (execsess_table_t *t, int ms)
{
    t->idle_ms = ms;
}

int
execsess_count (execsess_table_t *t)
{
    int n = 0;
    for (sess_t *s = t->list; s; s = s->next)
        n += !s->dead;
    return n;
}

void
execsess_destroy (execsess_table_t **t_p)
{
    execsess_table_t *t = *t_p;
    if (!t)
        return;
    while (t->list) {
        sess_t *s = t->list;
        if (!s->exited)
            kill_cmd (s);
        if (!s->exited && s->pid > 0)
            while (waitpid (s->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        s->exited = 1;
        sess_free (t, s);
    }
    free (t);
    *t_p = NULL;
}
