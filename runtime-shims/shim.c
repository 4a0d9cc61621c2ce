/* shim — see shim.h. */
#include "runtime-shims/shim.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/value.h"
#include "runtime-shims/execsess.h"
#include "runtime-shims/process/process_shim.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define A "shim"
#define MAX_JOBS 64
/* sandboxes set up (or torn down) at once: each runs CNI plugins that take the iptables lock;
 * 50 at once on 2 cores made every pod wait for all (bench/runtime), a few at a time lets the
 * first pods run early */
#define MAX_SANDBOX_JOBS 4

typedef struct waiter {
    zframe_t *rid;
    uint64_t id;
    struct waiter *next;
} waiter_t;

typedef struct running {
    oci_job_t *job;
    char key[700];
    waiter_t *waiters;
    struct running *next;        /* in the done list */
    struct server *srv;
} running_t;

typedef struct server {
    zsock_t *router;
    process_shim_t *proc;
    oci_shim_t *oci;
    char oci_err[512];
    zhashx_t *by_key;            /* key → running_t (coalescing) */
    zlistx_t *queued;            /* running_t waiting for a thread slot */
    zlistx_t *sb_queued;         /* sandbox jobs waiting for a sandbox slot */
    int threads;
    int sb_running;
    pthread_mutex_t mu;
    running_t *done;             /* finished jobs, handed back by the threads */
    int wake[2];                 /* a byte per finished job */
    execsess_table_t *xs;        /* streamed exec sessions */
    const shim_opts_t *opts;
    long long oci_probed_ms;     /* last try at the oci runtime while it was unavailable */
} server_t;

/* The oci runtime unavailable at start (runc or conmon missing) is tried again, at most every
 * second, when a request wants it: once the binary is installed the node serves it without a
 * restart (CRI-O refuses to start instead; the kubelet's retries then succeed either way). */
static void
oci_reprobe (server_t *s)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    long long now = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (s->oci || !s->opts || !s->opts->oci || now - s->oci_probed_ms < 1000)
        return;
    s->oci_probed_ms = now;
    char err[sizeof s->oci_err];
    if (oci_shim_available (&s->opts->oci_opts, err, sizeof err)) {
        snprintf (s->oci_err, sizeof s->oci_err, "%s", err);
        return;
    }
    s->oci = oci_shim_new (&s->opts->oci_opts, s->oci_err, sizeof s->oci_err);
    if (s->oci)
        TR_INFO (A, "oci runtime now available");
}

/* ---- streamed exec: sessions live in the loop (execsess), pending ExecIOs are answered later */

static void
xs_answer (void *arg, void *waiter, tr_code_t code, json_t *body, const char *msg)
{
    server_t *s = arg;
    waiter_t *w = waiter;
    tr_env_t rep;
    tr_env_init (&rep);
    rep.verb = TR_VERB_REPLY;
    rep.id = w->id;
    rep.code = code;
    rep.body = body;
    rep.msg = msg ? strdup (msg) : NULL;
    tr_conn_send (s->router, w->rid, &rep);
    tr_env_clear (&rep);
    zframe_destroy (&w->rid);
    free (w);
}

static void
xs_drop (void *arg, void *waiter)
{
    (void) arg;
    waiter_t *w = waiter;
    zframe_destroy (&w->rid);
    free (w);
}

static void
h_exec_start (server_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const char *cid = tv_str (req->body, "containerId");
    if (!s->oci || !oci_shim_owns (s->oci, cid)) {
        rep->code = TR_NOT_FOUND;
        if (asprintf (&rep->msg, "container \"%s\" is not an oci container (streamed exec is served by the oci runtime only)",
                      cid ? cid : "") < 0)
            rep->msg = NULL;
        return;
    }
    char id[33], pid_file[1024], proc_file[1024], owner[128];
    execsess_new_id (id);
    json_t *argv = oci_shim_exec_argv (s->oci, req, id, pid_file, sizeof pid_file, proc_file, sizeof proc_file, owner,
                                       sizeof owner, rep);
    if (!argv)
        return;
    size_t n = json_array_size (argv);
    char **av = calloc (n + 1, sizeof *av);
    for (size_t i = 0; i < n; i++)
        av[i] = (char *) json_string_value (json_array_get (argv, i));
    execsess_spec_t spec = {.id = id,
                            .owner = owner,
                            .argv = av,
                            .tty = tv_bool (req->body, "tty", false),
                            .raw = 1, /* runc relays to the container's own pty */
                            .stdin_open = tv_bool (req->body, "stdin", false),
                            .rows = (int) tv_int (req->body, "rows", 0),
                            .cols = (int) tv_int (req->body, "cols", 0),
                            .pid_file = pid_file,
                            .tmp_file = proc_file};
    char err[256];
    if (execsess_start (s->xs, &spec, err, sizeof err)) {
        unlink (proc_file);
        rep->code = TR_UNAVAILABLE;
        rep->msg = strdup (err);
    } else {
        rep->body = json_pack ("{s:s}", "session", id);
        TR_INFO (A, "exec session started session=%.8s container=%.12s tty=%d", id, cid, spec.tty);
    }
    free (av);
    json_decref (argv);
}

static void *
job_thread (void *arg)
{
    running_t *r = arg;
    oci_job_run (r->job);
    server_t *s = r->srv;
    pthread_mutex_lock (&s->mu);
    r->next = s->done;
    s->done = r;
    pthread_mutex_unlock (&s->mu);
    char b = 1;
    if (write (s->wake[1], &b, 1) < 0) {
        /* the loop polls anyway */
    }
    return NULL;
}

static int
is_sandbox (const running_t *r)
{
    return !strncmp (r->key, "sandbox", 7);
}

static void
launch (server_t *s, running_t *r)
{
    if (is_sandbox (r) && s->sb_running >= MAX_SANDBOX_JOBS) {
        zlistx_add_end (s->sb_queued, r);
        return;
    }
    if (is_sandbox (r))
        s->sb_running++;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init (&at);
    pthread_attr_setdetachstate (&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create (&t, &at, job_thread, r) == 0)
        s->threads++;
    else {
        if (is_sandbox (r))
            s->sb_running--;
        zlistx_add_end (s->queued, r);
    }
    pthread_attr_destroy (&at);
}

static void
add_job (server_t *s, oci_job_t *job, zframe_t *rid, uint64_t id)
{
    const char *key = oci_job_key (job);
    waiter_t *w = calloc (1, sizeof *w);
    w->rid = zframe_dup (rid);
    w->id = id;
    running_t *r = key[0] ? zhashx_lookup (s->by_key, key) : NULL;
    if (r) { /* the same pull is already running: wait for it */
        w->next = r->waiters;
        r->waiters = w;
        oci_job_free (&job);
        return;
    }
    r = calloc (1, sizeof *r);
    r->job = job;
    r->srv = s;
    r->waiters = w;
    snprintf (r->key, sizeof r->key, "%s", key);
    if (key[0])
        zhashx_insert (s->by_key, key, r);
    if (s->threads < MAX_JOBS)
        launch (s, r);
    else
        zlistx_add_end (s->queued, r);
}

static void
drain_done (server_t *s)
{
    char buf[256];
    while (read (s->wake[0], buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock (&s->mu);
    running_t *list = s->done;
    s->done = NULL;
    pthread_mutex_unlock (&s->mu);
    while (list) {
        running_t *r = list;
        list = r->next;
        s->threads--;
        if (is_sandbox (r))
            s->sb_running--;
        if (r->key[0])
            zhashx_delete (s->by_key, r->key);
        tr_env_t rep;
        tr_env_init (&rep);
        rep.verb = TR_VERB_REPLY;
        oci_job_finish (s->oci, r->job, &rep);
        for (waiter_t *w = r->waiters, *nx; w; w = nx) {
            nx = w->next;
            rep.id = w->id;
            tr_conn_send (s->router, w->rid, &rep);
            zframe_destroy (&w->rid);
            free (w);
        }
        tr_env_clear (&rep);
        free (r);
    }
    while (s->sb_running < MAX_SANDBOX_JOBS && zlistx_size (s->sb_queued) && s->threads < MAX_JOBS)
        launch (s, zlistx_detach (s->sb_queued, NULL));
    while (s->threads < MAX_JOBS && zlistx_size (s->queued))
        launch (s, zlistx_detach (s->queued, NULL));
}

/* Which runtime serves req: 1 oci, 0 process. */
static int
route (server_t *s, const tr_env_t *req)
{
    const char *h = tv_str (req->body, "runtimeHandler");
    switch (req->verb) {
    case TR_VERB_PULL_IMAGE:
    case TR_VERB_LIST_IMAGES:
    case TR_VERB_REMOVE_IMAGE:
    case TR_VERB_UPDATE_RUNTIME_CONFIG: return 1;
    case TR_VERB_RUN_POD_SANDBOX:
    case TR_VERB_CREATE_CONTAINER: return !(h && !strcmp (h, "process"));
    case TR_VERB_STOP_POD_SANDBOX:
    case TR_VERB_REMOVE_POD_SANDBOX: return s->oci && oci_shim_owns_sandbox (s->oci, tv_str (req->body, "sandboxId"));
    default: return s->oci && oci_shim_owns (s->oci, tv_str (req->body, "containerId"));
    }
}

static void
handle (server_t *s, zframe_t *rid, const tr_env_t *req)
{
    tr_env_t rep;
    tr_env_init (&rep);
    rep.id = req->id;
    rep.verb = TR_VERB_REPLY;
    if (req->verb == TR_VERB_EXEC_IO) {
        waiter_t *w = calloc (1, sizeof *w);
        w->rid = zframe_dup (rid);
        w->id = req->id;
        execsess_io (s->xs, req->body, tv_str (req->body, "podUid"), w);
        return;
    }
    if (req->verb == TR_VERB_EXEC_START)
        h_exec_start (s, req, &rep);
    else if (req->verb == TR_VERB_LIST_CONTAINERS || req->verb == TR_VERB_PING) {
        if (req->verb == TR_VERB_PING)
            oci_reprobe (s);
        process_shim_handle (s->proc, req, &rep);
        if (rep.code == TR_OK && s->oci && req->verb == TR_VERB_LIST_CONTAINERS) {
            json_t *more = oci_shim_list (s->oci, tv_str (req->body, "podUid"));
            json_array_extend (json_object_get (rep.body, "items"), more);
            json_decref (more);
            /* the oci sandboxes too (a sandbox outlives its containers): the agent removes those
             * of pods that are gone */
            json_object_set_new (rep.body, "sandboxes", oci_shim_sandboxes (s->oci));
        }
        if (rep.code == TR_OK && req->verb == TR_VERB_PING) {
            json_decref (rep.body);
            rep.body = json_pack ("{s:[s]}", "runtimes", "process");
            if (s->oci)
                json_array_append_new (json_object_get (rep.body, "runtimes"), json_string ("oci"));
            else
                json_object_set_new (rep.body, "ociUnavailable", json_string (s->oci_err));
        }
    } else if (route (s, req)) {
        oci_reprobe (s);
        if (!s->oci) {
            rep.code = TR_UNAVAILABLE;
            if (asprintf (&rep.msg, "the oci runtime is not available on this node: %s", s->oci_err) < 0)
                rep.msg = NULL;
        } else {
            tr_env_clear (&rep);
            oci_job_t *job = NULL;
            if (oci_shim_handle (s->oci, req, &rep, &job) == 1) {
                tr_env_clear (&rep);
                add_job (s, job, rid, req->id);
                return;
            }
        }
    } else
        process_shim_handle (s->proc, req, &rep);
    tr_conn_send (s->router, rid, &rep);
    tr_env_clear (&rep);
}

int
shim_serve (const shim_opts_t *o, volatile int *stop, int stop_pods)
{
    server_t s = {0};
    s.opts = o;
    /* a write to a child that has gone (ExecSync's stdin to a command that does not read it, runc
     * exec ending early) must fail with EPIPE, not kill the shim; children get SIGPIPE back
     * (posix_spawn's SETSIGDEF, the CNI and process runtimes' SIG_DFL) */
    signal (SIGPIPE, SIG_IGN);
    s.proc = process_shim_new (o->process_state);
    if (!s.proc) {
        TR_ERROR (A, "cannot use state dir=%s", o->process_state);
        return -1;
    }
    if (o->oci) {
        s.oci = oci_shim_new (&o->oci_opts, s.oci_err, sizeof s.oci_err);
        if (!s.oci)
            TR_WARN (A, "oci runtime unavailable, serving the process runtime only: %s", s.oci_err);
    } else
        snprintf (s.oci_err, sizeof s.oci_err, "not enabled (troupe shim --runtime process)");
    s.by_key = zhashx_new ();
    s.queued = zlistx_new ();
    s.sb_queued = zlistx_new ();
    s.xs = execsess_new (xs_answer, xs_drop, &s);
    pthread_mutex_init (&s.mu, NULL);
    if (pipe2 (s.wake, O_CLOEXEC | O_NONBLOCK)) {
        process_shim_destroy (&s.proc);
        oci_shim_destroy (&s.oci);
        return -1;
    }
    s.router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (s.router, 0);
    if (!strncmp (o->endpoint, "ipc://", 6))
        unlink (o->endpoint + 6); /* a stale socket of a dead shim */
    if (zsock_bind (s.router, "%s", o->endpoint) < 0) {
        TR_ERROR (A, "cannot bind endpoint=%s error=\"%s\"", o->endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&s.router);
        process_shim_destroy (&s.proc);
        oci_shim_destroy (&s.oci);
        return -1;
    }
    if (!strncmp (o->endpoint, "ipc://", 6))
        chmod (o->endpoint + 6, 0600);
    TR_INFO (A, "runtime shim serving endpoint=%s runtimes=%s", o->endpoint, s.oci ? "process,oci" : "process");
    while (!*stop) {
        zmq_pollitem_t items[2 + 3 * EXECSESS_MAX] = {{zsock_resolve (s.router), 0, ZMQ_POLLIN, 0},
                                                      {NULL, s.wake[0], ZMQ_POLLIN, 0}};
        struct pollfd xfds[3 * EXECSESS_MAX];
        int nx = execsess_fds (s.xs, xfds, 3 * EXECSESS_MAX);
        for (int i = 0; i < nx; i++)
            items[2 + i] = (zmq_pollitem_t) {NULL, xfds[i].fd, xfds[i].events == POLLOUT ? ZMQ_POLLOUT : ZMQ_POLLIN, 0};
        int n = zmq_poll (items, 2 + nx, execsess_timeout_ms (s.xs, 100));
        if (n < 0 && zmq_errno () != EINTR)
            break;
        if (items[1].revents)
            drain_done (&s);
        if (items[0].revents)
            for (int i = 0; i < 256; i++) {
                zmsg_t *m = zmsg_recv_nowait (s.router);
                if (!m)
                    break;
                zframe_t *rid = zmsg_pop (m);
                zframe_t *f = zmsg_first (m);
                tr_env_t req;
                char err[256];
                int rc = f && zmsg_size (m) == 1 ? tr_env_decode (&req, zframe_data (f), zframe_size (f), err, sizeof err)
                                                 : (snprintf (err, sizeof err, "envelope: expected 1 frame"), TR_BAD_REQUEST);
                if (rid && rc == TR_OK)
                    handle (&s, rid, &req);
                else if (rid) {
                    tr_env_t rep;
                    tr_env_reply_error (&rep, NULL, (tr_code_t) rc, "%s", err);
                    tr_conn_send (s.router, rid, &rep);
                    tr_env_clear (&rep);
                }
                if (rc == TR_OK)
                    tr_env_clear (&req);
                zframe_destroy (&rid);
                zmsg_destroy (&m);
            }
        execsess_tick (s.xs);
        process_shim_tick (s.proc);
        if (s.oci)
            oci_shim_tick (s.oci);
    }
    execsess_destroy (&s.xs);
    /* queued jobs are dropped; running ones may end (bounded), so no thread touches freed state */
    zlistx_t *lists[] = {s.queued, s.sb_queued};
    for (int l = 0; l < 2; l++) {
        for (running_t *r = zlistx_first (lists[l]); r; r = zlistx_next (lists[l])) {
            for (waiter_t *w = r->waiters, *nx; w; w = nx) {
                nx = w->next;
                zframe_destroy (&w->rid);
                free (w);
            }
            oci_job_free (&r->job);
            free (r);
        }
        zlistx_purge (lists[l]);
    }
    for (int i = 0; i < 600 && s.threads > 0; i++) {
        usleep (50000);
        drain_done (&s);
    }
    if (stop_pods && *stop != 2) {
        TR_INFO (A, "stopping running=%d", process_shim_running (s.proc) + (s.oci ? oci_shim_running (s.oci) : 0));
        process_shim_stop_all (s.proc, 10);
        if (s.oci)
            oci_shim_stop_all (s.oci, 10);
    }
    zsock_destroy (&s.router);
    process_shim_destroy (&s.proc);
    if (s.threads == 0)
        oci_shim_destroy (&s.oci); /* else a stuck job thread still holds it: leave it to exit */
    zhashx_destroy (&s.by_key);
    zlistx_destroy (&s.queued);
    zlistx_destroy (&s.sb_queued);
    close (s.wake[0]);
    close (s.wake[1]);
    return 0;
}
