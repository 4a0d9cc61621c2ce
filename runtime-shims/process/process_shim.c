/* process_shim — see process_shim.h. */
#include "runtime-shims/process/process_shim.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/value.h"
#include "runtime-shims/cri.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define A "shim"

typedef struct {
    char id[32];
    json_t *rec;          /* the record: status fields + spec (command, args, env, workingDir) */
    pid_t pid;
    unsigned long long start_ticks; /* /proc/<pid>/stat field 22, against pid reuse */
    int child;            /* our own child (waitpid works) or adopted from an earlier shim */
    int64_t kill_at;      /* monotonic ms at which SIGKILL follows a SIGTERM; 0 = none */
} ctr_t;

struct process_shim {
    char dir[1024];
    zhashx_t *ctrs;       /* id → ctr_t* */
    zhashx_t *sandboxes;  /* id → json_t* */
    unsigned seq;
};

static int64_t
wall_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Start time of pid in clock ticks (field 22 of /proc/<pid>/stat), or 0 if it is gone or a
 * zombie (dead, merely not reaped yet). */
static unsigned long long
proc_start_ticks (pid_t pid)
{
    char path[64], buf[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = 0;
    char *p = strrchr (buf, ')'); /* the command may hold spaces and parentheses */
    if (!p)
        return 0;
    unsigned long long v = 0;
    int field = 2;
    for (char *save, *t = strtok_r (p + 1, " ", &save); t; t = strtok_r (NULL, " ", &save)) {
        if (++field == 3 && (t[0] == 'Z' || t[0] == 'X'))
            return 0;
        if (field == 22) {
            v = strtoull (t, NULL, 10);
            break;
        }
    }
    return v;
}

static void
save (process_shim_t *s, ctr_t *c)
{
    char path[1100], tmp[1110];
    snprintf (path, sizeof path, "%s/%s.json", s->dir, c->id);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    json_object_set_new (c->rec, "pid", json_integer (c->pid));
    json_object_set_new (c->rec, "startTicks", json_integer ((json_int_t) c->start_ticks));
    if (json_dump_file (c->rec, tmp, JSON_COMPACT) == 0)
        rename (tmp, path);
}

static void
ctr_free (void **p)
{
    ctr_t *c = *p;
    if (c) {
        json_decref (c->rec);
        free (c);
    }
    *p = NULL;
}

static void
jfree (void **p)
{
    json_decref (*p);
    *p = NULL;
}

process_shim_t *
process_shim_new (const char *state_dir)
{
    if (mkdir (state_dir, 0700) && errno != EEXIST)
        return NULL;
    process_shim_t *s = calloc (1, sizeof *s);
    snprintf (s->dir, sizeof s->dir, "%s", state_dir);
    s->ctrs = zhashx_new ();
    zhashx_set_destructor (s->ctrs, ctr_free);
    s->sandboxes = zhashx_new ();
    zhashx_set_destructor (s->sandboxes, jfree);
    /* reload records of an earlier shim */
    zdir_t *d = zdir_new (state_dir, NULL);
    zfile_t **files = d ? zdir_flatten (d) : NULL;
    for (int i = 0; files && files[i]; i++) {
        const char *path = zfile_filename (files[i], NULL);
        size_t n = strlen (path);
        if (n < 5 || strcmp (path + n - 5, ".json"))
            continue;
        json_t *rec = json_load_file (path, 0, NULL);
        const char *id = tv_str (rec, "containerId");
        if (!id) {
            json_decref (rec);
            continue;
        }
        ctr_t *c = calloc (1, sizeof *c);
        snprintf (c->id, sizeof c->id, "%s", id);
        c->rec = rec;
        c->pid = (pid_t) tv_int (rec, "pid", 0);
        c->start_ticks = (unsigned long long) tv_int (rec, "startTicks", 0);
        const char *st = tv_str (rec, "state");
        if (st && !strcmp (st, CRI_STATE_RUNNING)) {
            if (!(c->pid > 0 && proc_start_ticks (c->pid) == c->start_ticks)) {
                json_object_set_new (rec, "state", json_string (CRI_STATE_EXITED));
                json_object_set_new (rec, "reason", json_string ("Unknown"));
                json_object_set_new (rec, "exitCode", json_integer (255));
                json_object_set_new (rec, "finishedAt", json_integer (wall_ms ()));
            } else
                TR_INFO (A, "re-adopted container id=%s pid=%d", c->id, (int) c->pid);
        }
        zhashx_update (s->ctrs, c->id, c);
        if (tv_str (rec, "sandboxId") && !zhashx_lookup (s->sandboxes, tv_str (rec, "sandboxId")))
            zhashx_update (s->sandboxes, tv_str (rec, "sandboxId"),
                           json_pack ("{s:s}", "podUid", tv_str (rec, "podUid") ? tv_str (rec, "podUid") : ""));
    }
    if (files)
        zdir_flatten_free (&files);
    zdir_destroy (&d);
    return s;
}

void
process_shim_destroy (process_shim_t **p)
{
    process_shim_t *s = *p;
    if (!s)
        return;
    zhashx_destroy (&s->ctrs);
    zhashx_destroy (&s->sandboxes);
    free (s);
    *p = NULL;
}

static json_t *
status_of (ctr_t *c)
{
    json_t *st = json_deep_copy (c->rec);
    json_object_del (st, "command");
    json_object_del (st, "args");
    json_object_del (st, "env");
    json_object_del (st, "startTicks");
    return st;
}

static void
mark_exited (process_shim_t *s, ctr_t *c, int status)
{
    int code = WIFEXITED (status) ? WEXITSTATUS (status) : WIFSIGNALED (status) ? 128 + WTERMSIG (status) : 255;
    json_object_set_new (c->rec, "state", json_string (CRI_STATE_EXITED));
    json_object_set_new (c->rec, "exitCode", json_integer (code));
    json_object_set_new (c->rec, "reason", json_string (code == 0 ? "Completed" : "Error"));
    json_object_set_new (c->rec, "finishedAt", json_integer (wall_ms ()));
    c->kill_at = 0;
    /* the rest of its process group goes with it (a shell's `sleep`) */
    if (c->pid > 0)
        kill (-c->pid, SIGKILL);
    save (s, c);
    TR_INFO (A, "container exited id=%s name=%s code=%d", c->id, tv_str (c->rec, "name"), code);
}

void
process_shim_tick (process_shim_t *s)
{
    int64_t now = zclock_mono ();
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs)) {
        const char *st = tv_str (c->rec, "state");
        if (!st || strcmp (st, CRI_STATE_RUNNING))
            continue;
        int status = 0;
        if (c->child) {
            pid_t r = waitpid (c->pid, &status, WNOHANG);
            if (r == c->pid || (r < 0 && errno == ECHILD)) {
                mark_exited (s, c, r == c->pid ? status : (255 << 8));
                continue;
            }
        } else if (proc_start_ticks (c->pid) != c->start_ticks) {
            mark_exited (s, c, 255 << 8); /* adopted: its exit code is not ours to know */
            json_object_set_new (c->rec, "reason", json_string ("Unknown"));
            save (s, c);
            continue;
        }
        if (c->kill_at && now >= c->kill_at) {
            kill (-c->pid, SIGKILL);
            kill (c->pid, SIGKILL);
            c->kill_at = 0;
        }
    }
}

int
process_shim_running (process_shim_t *s)
{
    int n = 0;
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        n += tv_str (c->rec, "state") && !strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING);
    return n;
}

static void
stop_one (ctr_t *c, int timeout_s)
{
    const char *st = tv_str (c->rec, "state");
    if (!st || strcmp (st, CRI_STATE_RUNNING) || c->pid <= 0)
        return;
    kill (-c->pid, SIGTERM);
    int64_t at = zclock_mono () + (int64_t) (timeout_s > 0 ? timeout_s : 0) * 1000;
    if (!c->kill_at || at < c->kill_at)
        c->kill_at = at;
}

void
process_shim_stop_all (process_shim_t *s, int grace_s)
{
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        stop_one (c, grace_s);
    int64_t end = zclock_mono () + (int64_t) grace_s * 1000 + 2000;
    while (process_shim_running (s) && zclock_mono () < end) {
        process_shim_tick (s);
        usleep (20000);
    }
}

/* ---- requests ------------------------------------------------------------------------------- */

static void
ok (tr_env_t *rep, json_t *body)
{
    rep->code = TR_OK;
    rep->body = body ? body : json_object ();
}

static void
bad (tr_env_t *rep, tr_code_t code, const char *fmt, const char *a, const char *b)
{
    rep->code = code;
    if (asprintf (&rep->msg, fmt, a ? a : "", b ? b : "") < 0)
        rep->msg = NULL;
}

static ctr_t *
find (process_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const char *id = tv_str (req->body, "containerId");
    ctr_t *c = id ? zhashx_lookup (s->ctrs, id) : NULL;
    if (!c)
        bad (rep, TR_NOT_FOUND, "container \"%s\" not found%s", id, NULL);
    return c;
}

static void
h_create (process_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const json_t *b = req->body;
    const char *name = tv_str (b, "name");
    json_t *cmd = tv_get (b, "command");
    if (!name) {
        bad (rep, TR_INVALID, "name: Required value%s%s", NULL, NULL);
        return;
    }
    if (!json_array_size (cmd) || !json_is_string (json_array_get (cmd, 0))) {
        bad (rep, TR_INVALID,
             "container \"%s\": the process runtime runs command+args on the host and needs a command (image \"%s\" "
             "is recorded, not run)",
             name, tv_str (b, "image") ? tv_str (b, "image") : "");
        return;
    }
    if (!tv_str (b, "logPath")) {
        bad (rep, TR_INVALID, "container \"%s\": logPath: Required value%s", name, NULL);
        return;
    }
    ctr_t *c = calloc (1, sizeof *c);
    snprintf (c->id, sizeof c->id, "%08x%04x%04x", (unsigned) wall_ms (), (unsigned) getpid () & 0xffff,
              (++s->seq) & 0xffff);
    c->rec = json_deep_copy (b);
    json_object_set_new (c->rec, "containerId", json_string (c->id));
    json_object_set_new (c->rec, "state", json_string (CRI_STATE_CREATED));
    json_object_set_new (c->rec, "createdAt", json_integer (wall_ms ()));
    zhashx_update (s->ctrs, c->id, c);
    save (s, c);
    ok (rep, json_pack ("{s:s}", "containerId", c->id));
}

static void
mkparents (const char *path)
{
    char tmp[1024];
    snprintf (tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (tmp, 0755);
            *p = '/';
        }
}

static void
h_start (process_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    ctr_t *c = find (s, req, rep);
    if (!c)
        return;
    if (strcmp (tv_str (c->rec, "state"), CRI_STATE_CREATED)) {
        bad (rep, TR_CONFLICT, "container \"%s\" is %s, not CREATED", c->id, tv_str (c->rec, "state"));
        return;
    }
    /* everything the child needs is prepared before fork: after it, only async-signal-safe calls */
    json_t *cmd = tv_get (c->rec, "command"), *args = tv_get (c->rec, "args"), *env = tv_get (c->rec, "env");
    size_t na = json_array_size (cmd) + json_array_size (args);
    char **argv = calloc (na + 1, sizeof *argv);
    size_t k = 0, i;
    json_t *x;
    json_array_foreach (cmd, i, x) argv[k++] = (char *) (json_string_value (x) ? json_string_value (x) : "");
    json_array_foreach (args, i, x) argv[k++] = (char *) (json_string_value (x) ? json_string_value (x) : "");
    size_t ne = json_array_size (env) + 4;
    char **envp = calloc (ne + 1, sizeof *envp);
    size_t e = 0;
    envp[e++] = strdup ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (asprintf (&envp[e], "HOSTNAME=%s", tv_str (c->rec, "podName") ? tv_str (c->rec, "podName") : "") >= 0)
        e++;
    if (getenv ("HOME") && asprintf (&envp[e], "HOME=%s", getenv ("HOME")) >= 0)
        e++;
    json_array_foreach (env, i, x) {
        const char *n = tv_str (x, "name"), *v = tv_str (x, "value");
        if (n && asprintf (&envp[e], "%s=%s", n, v ? v : "") >= 0)
            e++;
    }
    const char *logp = tv_str (c->rec, "logPath");
    mkparents (logp);
    int logfd = open (logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int nullfd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    const char *wd = tv_str (c->rec, "workingDir");
    pid_t pid = logfd >= 0 && nullfd >= 0 ? fork () : -1;
    if (pid == 0) {
        setsid ();
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGPIPE, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        dup2 (nullfd, 0);
        dup2 (logfd, 1);
        dup2 (logfd, 2);
        if (wd && chdir (wd) != 0)
            _exit (126);
        execvpe (argv[0], argv, envp);
        static const char msg[] = "troupe process runtime: exec failed\n";
        ssize_t w = write (2, msg, sizeof msg - 1);
        (void) w;
        _exit (127);
    }
    int err = errno;
    if (logfd >= 0)
        close (logfd);
    if (nullfd >= 0)
        close (nullfd);
    free (argv);
    for (size_t j = 0; j < e; j++)
        free (envp[j]);
    free (envp);
    if (pid < 0) {
        bad (rep, TR_INTERNAL, "container \"%s\": cannot start: %s", c->id, strerror (err));
        return;
    }
    c->pid = pid;
    c->child = 1;
    c->start_ticks = proc_start_ticks (pid);
    json_object_set_new (c->rec, "state", json_string (CRI_STATE_RUNNING));
    json_object_set_new (c->rec, "startedAt", json_integer (wall_ms ()));
    save (s, c);
    TR_INFO (A, "container started id=%s name=%s pid=%d", c->id, tv_str (c->rec, "name"), (int) pid);
    ok (rep, json_pack ("{s:o}", "status", status_of (c)));
}

static void
h_list (process_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const char *uid = tv_str (req->body, "podUid");
    json_t *items = json_array ();
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs)) {
        const char *cu = tv_str (c->rec, "podUid");
        if (!uid || (cu && !strcmp (cu, uid)))
            json_array_append_new (items, status_of (c));
    }
    ok (rep, json_pack ("{s:o}", "items", items));
}

void
process_shim_handle (process_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    tr_env_init (rep);
    rep->id = req->id;
    rep->verb = TR_VERB_REPLY;
    ctr_t *c;
    switch (req->verb) {
    case TR_VERB_RUN_POD_SANDBOX: {
        const char *uid = tv_str (req->body, "podUid");
        if (!uid) {
            bad (rep, TR_INVALID, "podUid: Required value%s%s", NULL, NULL);
            return;
        }
        char id[96];
        snprintf (id, sizeof id, "sb-%.64s", uid);
        zhashx_update (s->sandboxes, id, json_deep_copy (req->body));
        ok (rep, json_pack ("{s:s}", "sandboxId", id));
        return;
    }
    case TR_VERB_STOP_POD_SANDBOX:
    case TR_VERB_REMOVE_POD_SANDBOX: {
        const char *sb = tv_str (req->body, "sandboxId");
        int running = 0;
        for (c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
            if (sb && tv_str (c->rec, "sandboxId") && !strcmp (tv_str (c->rec, "sandboxId"), sb)) {
                if (req->verb == TR_VERB_STOP_POD_SANDBOX)
                    stop_one (c, (int) tv_int (req->body, "timeout", 0));
                running |= !strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING);
            }
        if (req->verb == TR_VERB_REMOVE_POD_SANDBOX) {
            if (running) {
                bad (rep, TR_CONFLICT, "sandbox \"%s\" still has running containers%s", sb, NULL);
                return;
            }
            zlistx_t *ids = zhashx_keys (s->ctrs);
            for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
                c = zhashx_lookup (s->ctrs, id);
                if (sb && tv_str (c->rec, "sandboxId") && !strcmp (tv_str (c->rec, "sandboxId"), sb)) {
                    char path[1100];
                    snprintf (path, sizeof path, "%s/%s.json", s->dir, c->id);
                    unlink (path);
                    zhashx_delete (s->ctrs, id);
                }
            }
            zlistx_destroy (&ids);
            if (sb)
                zhashx_delete (s->sandboxes, sb);
        }
        ok (rep, NULL);
        return;
    }
    case TR_VERB_CREATE_CONTAINER:
        h_create (s, req, rep);
        return;
    case TR_VERB_START_CONTAINER:
        h_start (s, req, rep);
        return;
    case TR_VERB_STOP_CONTAINER:
        if ((c = find (s, req, rep))) {
            stop_one (c, (int) tv_int (req->body, "timeout", 0));
            ok (rep, NULL);
        }
        return;
    case TR_VERB_REMOVE_CONTAINER:
        if ((c = find (s, req, rep))) {
            if (!strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING)) {
                bad (rep, TR_CONFLICT, "container \"%s\" is running; stop it first%s", c->id, NULL);
                return;
            }
            char path[1100];
            snprintf (path, sizeof path, "%s/%s.json", s->dir, c->id);
            unlink (path);
            zhashx_delete (s->ctrs, c->id);
            ok (rep, NULL);
        }
        return;
    case TR_VERB_CONTAINER_STATUS:
        if ((c = find (s, req, rep)))
            ok (rep, status_of (c));
        return;
    case TR_VERB_LIST_CONTAINERS:
        h_list (s, req, rep);
        return;
    case TR_VERB_PING:
        ok (rep, NULL);
        return;
    case TR_VERB_REOPEN_CONTAINER_LOG:
        /* the process writes its log file itself (stdout and stderr are that file): nothing
         * between it and the file can reopen it; the agent does not rotate these logs */
        if ((c = find (s, req, rep)))
            bad (rep, TR_METHOD_NOT_ALLOWED, "container \"%s\": the process runtime cannot reopen a container's log%s",
                 c->id, NULL);
        return;
    default:
        bad (rep, TR_METHOD_NOT_ALLOWED, "verb \"%s\" is not a runtime verb%s", tr_verb_name (req->verb), NULL);
    }
}

int
process_shim_serve (const char *endpoint, const char *state_dir, volatile int *stop)
{
    process_shim_t *s = process_shim_new (state_dir);
    if (!s) {
        TR_ERROR (A, "cannot use state dir=%s", state_dir);
        return -1;
    }
    zsock_t *r = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (r, 0);
    if (!strncmp (endpoint, "ipc://", 6))
        unlink (endpoint + 6); /* a stale socket of a dead shim */
    if (zsock_bind (r, "%s", endpoint) < 0) {
        TR_ERROR (A, "cannot bind endpoint=%s error=\"%s\"", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&r);
        process_shim_destroy (&s);
        return -1;
    }
    if (!strncmp (endpoint, "ipc://", 6))
        chmod (endpoint + 6, 0600);
    TR_INFO (A, "process runtime serving endpoint=%s containers=%zu", endpoint, zhashx_size (s->ctrs));
    zpoller_t *p = zpoller_new (r, NULL);
    while (!*stop) {
        void *which = zpoller_wait (p, 100);
        if (which == r) {
            for (int i = 0; i < 256; i++) {
                zmsg_t *m = zmsg_recv_nowait (r);
                if (!m)
                    break;
                zframe_t *rid = zmsg_pop (m);
                zframe_t *f = zmsg_first (m);
                tr_env_t req, rep;
                char err[256];
                int rc = f && zmsg_size (m) == 1 ? tr_env_decode (&req, zframe_data (f), zframe_size (f), err, sizeof err)
                                                 : (snprintf (err, sizeof err, "envelope: expected 1 frame"), TR_BAD_REQUEST);
                if (rc == TR_OK)
                    process_shim_handle (s, &req, &rep);
                else
                    tr_env_reply_error (&rep, NULL, (tr_code_t) rc, "%s", err);
                if (rid)
                    tr_conn_send (r, rid, &rep);
                tr_env_clear (&req);
                tr_env_clear (&rep);
                zframe_destroy (&rid);
                zmsg_destroy (&m);
            }
        }
        process_shim_tick (s);
    }
    TR_INFO (A, "stopping running=%d", process_shim_running (s));
    process_shim_stop_all (s, 10);
    zpoller_destroy (&p);
    zsock_destroy (&r);
    process_shim_destroy (&s);
    return 0;
}
