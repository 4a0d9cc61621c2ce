/* cmd_exec — exec [-i] [-t] POD [-c C] -- CMD…: the broker forwards to the pod's node agent,
 * which runs the command in the container (runc exec); `troupe exec` exits with its exit code,
 * as kubectl does.
 *
 * Streamed (docs/protocol.md "exec"): exec {op:start} makes a session on the node's shim; then
 * exec {op:io} requests carry stdin (-i: read as it comes, ≤ 64 KiB each) and come back with
 * output as soon as there is some (a long poll: the shim holds an empty one ~250 ms). At most
 * two are in flight: one waiting for output, one carrying input typed meanwhile (the shim
 * answers the older one at once). -t: the command gets a terminal (a pty on the node); the
 * local terminal is put in raw mode (restored on exit, SIGINT, SIGTERM, SIGHUP) and its size is
 * sent at start and on SIGWINCH. --timeout SECONDS keeps the old one-shot form (stdin read to
 * its end first, the output when the command ended). */
#include "cli/cli.h"
#include "core/value.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define EXEC_CHUNK 65536
#define EXEC_BACKLOG (256 * 1024) /* stdin the command has not read yet: stop reading ours */
#define EXEC_SILENCE_MS 30000     /* no answer for this long: the node is gone */

static volatile sig_atomic_t got_winch, got_term;
static int sig_pipe[2] = {-1, -1};
static struct termios saved_tio;
static int raw_on;

static void
restore_tty (void)
{
    if (raw_on)
        tcsetattr (0, TCSAFLUSH, &saved_tio);
    raw_on = 0;
}

static void
on_signal (int sig)
{
    if (sig == SIGWINCH)
        got_winch = 1;
    else
        got_term = sig;
    char b = 1;
    if (write (sig_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
}

static void
window_size (int *rows, int *cols)
{
    struct winsize ws;
    *rows = *cols = 0;
    if ((!ioctl (0, TIOCGWINSZ, &ws) || !ioctl (1, TIOCGWINSZ, &ws)) && ws.ws_row && ws.ws_col) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

static void
write_all (int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write (fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* our reader is gone: the output is lost, as kubectl's would be */
        p += w;
        n -= (size_t) w;
    }
}

static void
io_send (tr_client_t *c, const tr_env_t *start, const char *session, const char *data, size_t len, int eof,
         int resize, uint64_t *ids, int *inflight)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_EXEC;
    snprintf (req.kind, sizeof req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", start->ns);
    snprintf (req.name, sizeof req.name, "%s", start->name);
    req.opts = json_pack ("{s:s}", "op", "io");
    req.body = json_pack ("{s:s}", "session", session);
    if (len)
        json_object_set_new (req.body, "stdin", json_stringn_nocheck (data, len));
    if (eof)
        json_object_set_new (req.body, "eof", json_true ());
    if (resize) {
        int rows, cols;
        window_size (&rows, &cols);
        if (rows && cols)
            json_object_set_new (req.body, "resize", json_pack ("{s:i,s:i}", "rows", rows, "cols", cols));
    }
    if (*inflight < 2 && tr_client_send (c, &req) == 0)
        ids[(*inflight)++] = req.id;
    tr_env_clear (&req);
}

/* The stream after ExecStart answered {session}. Returns the command's exit code. */
static int
stream (cli_t *g, const tr_env_t *start, const char *session, int in, int tty)
{
    tr_client_t *c = cli_client (g);
    zsock_t *sock = tr_client_sock (c);
    uint64_t ids[2];
    int inflight = 0, in_open = in, eof_pending = 0, code = -1;
    long long backlog = 0;
    int64_t last_answer = zclock_mono ();
    char *buf = malloc (EXEC_CHUNK);
    io_send (c, start, session, NULL, 0, 0, 0, ids, &inflight);
    while (code < 0) {
        if (got_term) {
            restore_tty ();
            fprintf (stderr, "error: interrupted (signal %d); the command is ended when the node notices (within a minute)\n",
                     (int) got_term);
            code = 128 + got_term;
            break;
        }
        if (got_winch && inflight < 2) {
            got_winch = 0;
            if (tty)
                io_send (c, start, session, NULL, 0, 0, 1, ids, &inflight);
        }
        if (eof_pending && inflight < 2) {
            io_send (c, start, session, NULL, 0, 1, 0, ids, &inflight);
            eof_pending = 0;
        }
        int want_in = in_open && inflight < 2 && backlog < EXEC_BACKLOG;
        zmq_pollitem_t items[3] = {{zsock_resolve (sock), 0, ZMQ_POLLIN, 0},
                                   {NULL, sig_pipe[0], ZMQ_POLLIN, 0},
                                   {NULL, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll (items, want_in ? 3 : 2, 1000);
        if (n < 0 && zmq_errno () != EINTR)
            break;
        if (n > 0 && items[1].revents) {
            char tmp[64];
            while (read (sig_pipe[0], tmp, sizeof tmp) > 0)
                ;
        }
        if (n > 0 && want_in && items[2].revents) {
            ssize_t got = read (0, buf, EXEC_CHUNK);
            if (got > 0)
                io_send (c, start, session, buf, (size_t) got, 0, 0, ids, &inflight);
            else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                in_open = 0;
                if (inflight < 2)
                    io_send (c, start, session, NULL, 0, 1, 0, ids, &inflight);
                else
                    eof_pending = 1;
            }
        }
        while (code < 0) {
            tr_env_t rep;
            int rc = tr_client_recv (c, &rep, 0);
            if (rc == TR_TIMEOUT)
                break;
            int mine = -1;
            for (int i = 0; i < inflight; i++)
                if (rc == TR_OK && rep.verb == TR_VERB_REPLY && rep.id == ids[i])
                    mine = i;
            if (mine < 0) {
                tr_env_clear (&rep);
                continue;
            }
            ids[mine] = ids[--inflight];
            last_answer = zclock_mono ();
            if (rep.code != TR_OK) {
                restore_tty ();
                cli_print_error (&rep);
                tr_env_clear (&rep);
                code = 1;
                break;
            }
            json_t *o = tv_get (rep.body, "stdout"), *e = tv_get (rep.body, "stderr");
            if (json_is_string (o) && json_string_length (o))
                write_all (1, json_string_value (o), json_string_length (o));
            if (json_is_string (e) && json_string_length (e))
                write_all (2, json_string_value (e), json_string_length (e));
            backlog = tv_int (rep.body, "stdinPending", 0);
            if (tv_bool (rep.body, "exited", false))
                code = (int) tv_int (rep.body, "exitCode", 1);
            tr_env_clear (&rep);
        }
        if (code < 0 && inflight == 0)
            io_send (c, start, session, NULL, 0, 0, 0, ids, &inflight);
        if (code < 0 && zclock_mono () - last_answer > EXEC_SILENCE_MS) {
            restore_tty ();
            fprintf (stderr, "error: the node did not answer for %d s\n", EXEC_SILENCE_MS / 1000);
            code = 1;
        }
    }
    free (buf);
    restore_tty ();
    return code < 0 ? 1 : code;
}

static int
exec_streamed (cli_t *g, const char *pod, const char *container, json_t *cmd /* stolen */, int in, int tty)
{
    /* as kubectl (StreamOptions.SetupTTY): a terminal goes with stdin — `-t` alone is dropped
     * silently — and with a local stdin that is a terminal, else the warning and none */
    if (tty && !in)
        tty = 0;
    else if (tty && !isatty (0)) {
        fprintf (stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
        tty = 0;
    }
    zsys_handler_set (NULL); /* our handlers below */
    if (pipe2 (sig_pipe, O_CLOEXEC | O_NONBLOCK)) {
        json_decref (cmd);
        return 1;
    }
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset (&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction (sigs[i], &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_EXEC;
    snprintf (req.kind, sizeof req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
    snprintf (req.name, sizeof req.name, "%s", pod);
    req.opts = json_pack ("{s:s}", "op", "start");
    req.body = json_pack ("{s:o,s:b,s:b}", "command", cmd, "tty", tty, "stdin", in);
    if (container)
        json_object_set_new (req.body, "container", json_string (container));
    if (tty) {
        int rows, cols;
        window_size (&rows, &cols);
        if (rows && cols) {
            json_object_set_new (req.body, "rows", json_integer (rows));
            json_object_set_new (req.body, "cols", json_integer (cols));
        }
    }
    int rc = cli_call (g, &req, &rep);
    if (rc) {
        tr_env_clear (&req);
        return 1;
    }
    if (rep.code != TR_OK || !tv_str (rep.body, "session")) {
        cli_print_error (&rep);
        tr_env_clear (&rep);
        tr_env_clear (&req);
        return 1;
    }
    char session[64];
    snprintf (session, sizeof session, "%s", tv_str (rep.body, "session"));
    tr_env_clear (&rep);
    if (tty && !tcgetattr (0, &saved_tio)) {
        struct termios raw = saved_tio;
        cfmakeraw (&raw);
        if (!tcsetattr (0, TCSANOW, &raw))
            raw_on = 1;
    }
    /* stdin stays blocking (its file description may be the shell's): it is read only when poll
     * says it is readable, and one read then takes what is there */
    int code = stream (g, &req, session, in, tty);
    tr_env_clear (&req);
    return code;
}

int
cmd_exec (cli_t *g, int argc, char **argv)
{
    const char *container = cli_opt (&argc, argv, "--container", "-c");
    const char *timeout = cli_opt (&argc, argv, "--timeout", NULL);
    int in = cli_flag (&argc, argv, "--stdin", "-i");
    int tty = cli_flag (&argc, argv, "--tty", "-t");
    int dash = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp (argv[i], "--")) {
            dash = i;
            break;
        }
    /* kubectl's combined short flags */
    for (int i = 1; i < (dash ? dash : argc); i++)
        if (!strcmp (argv[i], "-it") || !strcmp (argv[i], "-ti")) {
            in = tty = 1;
            memmove (&argv[i], &argv[i + 1], (size_t) (argc - i - 1) * sizeof *argv);
            argc--;
            if (dash)
                dash--;
            i--;
        }
    if (dash != 2 || dash + 1 >= argc) {
        fprintf (stderr, "usage: troupe exec [-i] [-t] POD [-c CONTAINER] [--timeout SECONDS] -- COMMAND [ARG...]\n");
        return 1;
    }
    if (timeout) {
        char *end = NULL;
        long t = strtol (timeout, &end, 10);
        if (!*timeout || *end || t <= 0 || t > 86400) {
            fprintf (stderr, "error: --timeout \"%s\": must be a whole number of seconds from 1 to 86400\n", timeout);
            return 1;
        }
    }
    if (tty && timeout) {
        fprintf (stderr, "error: --timeout runs the command to its end without a terminal: it does not go with -t\n");
        return 1;
    }
    const char *pod = argv[1];
    if (!strncmp (pod, "pod/", 4))
        pod += 4;
    json_t *cmd = json_array ();
    for (int i = dash + 1; i < argc; i++)
        json_array_append_new (cmd, json_string (argv[i]));
    if (!timeout)
        return exec_streamed (g, pod, container, cmd, in, tty);
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_EXEC;
    snprintf (req.kind, sizeof req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
    snprintf (req.name, sizeof req.name, "%s", pod);
    req.body = json_pack ("{s:o}", "command", cmd);
    if (container)
        json_object_set_new (req.body, "container", json_string (container));
    if (timeout)
        json_object_set_new (req.body, "timeoutSeconds", json_integer (atoi (timeout)));
    if (in) {
        size_t len;
        char *data = cli_read_file ("-", &len);
        if (len > (1u << 20)) {
            fprintf (stderr, "error: stdin is %zu bytes; exec -i takes at most 1 MiB\n", len);
            free (data);
            tr_env_clear (&req);
            return 1;
        }
        json_object_set_new (req.body, "stdin", json_stringn_nocheck (data ? data : "", data ? len : 0));
        free (data);
    }
    /* the command's time, then the node's answer through the broker (which waits as long) */
    if (cli_call_ms (g, &req, &rep, atoi (timeout) * 1000 + 10000)) {
        tr_env_clear (&req);
        return 1;
    }
    tr_env_clear (&req);
    if (rep.code != TR_OK) {
        cli_print_error (&rep);
        tr_env_clear (&rep);
        return 1;
    }
    json_t *o = tv_get (rep.body, "stdout"), *e = tv_get (rep.body, "stderr");
    if (json_is_string (o))
        fwrite (json_string_value (o), 1, json_string_length (o), stdout);
    if (json_is_string (e))
        fwrite (json_string_value (e), 1, json_string_length (e), stderr);
    fflush (stdout);
    int code = (int) tv_int (rep.body, "exitCode", 1);
    if (tv_bool (rep.body, "timedOut", false)) {
        fprintf (stderr, "error: command timed out\n");
        code = code ? code : 1;
    }
    tr_env_clear (&rep);
    return code;
}
