/* agent_stream — the agent's exec and logs, with the container log rotation (agent_int.h). */
#include "actors/agent/agent_int.h"

/* ---- exec ------------------------------------------------------------------------------------ */

static void
on_exec (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    tr_env_t req;
    tr_env_init (&req);
    req.id = *(uint64_t *) arg;
    troupe_reply (ctx, &req, reply->code, reply->body, reply->msg);
    free (arg);
}

/* exec: {command[], stdin?, timeoutSeconds?} on the pod's running container (opts.container or
 * the first); the runtime runs it (runc exec) and the answer {stdout, stderr, exitCode} goes back
 * to the client through the broker. */
/* A client's exec request sent on to the shim as verb with body (stolen); the shim's answer goes
 * back to the client as the answer of request msg (on_exec), or a timeout after wait_ms. */
static int
exec_forward (agent_t *a, const tr_env_t *msg, tr_verb_t verb, json_t *body, int wait_ms)
{
    tr_env_t rq;
    tr_env_init (&rq);
    rq.verb = verb;
    rq.body = body;
    uint64_t *rid = malloc (sizeof *rid);
    *rid = msg->id;
    troupe_peer_request (a->shim, &rq, wait_ms, on_exec, rid);
    tr_env_clear (&rq);
    return 0;
}

static int
h_exec (agent_t *a, troupe_ctx_t *ctx, const tr_env_t *msg, const json_t *pod, const char *container)
{
    const char *uid = tv_str (pod, "metadata.uid");
    const json_t *best = NULL;
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (tv_str (r, "podUid") && !strcmp (tv_str (r, "podUid"), uid) && tv_str (r, "name") &&
                                              !strcmp (tv_str (r, "name"), container) &&
                                              !strcmp (tv_str (r, "state") ? tv_str (r, "state") : "", CRI_STATE_RUNNING)) best = r;
    char m[700];
    if (!best) {
        snprintf (m, sizeof m, "container %s is not running in pod %s", container, msg->name);
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, m);
    }
    json_t *cmd = tv_get (msg->body, "command");
    if (!json_array_size (cmd))
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, "command: Required value");
    const char *op = tv_str (msg->opts, "op");
    if (op && !strcmp (op, "start")) {
        /* a streamed session: ExecStart → {session}; the client then sends ExecIOs (h_exec_io) */
        json_t *b = json_pack ("{s:s,s:O,s:b,s:b}", "containerId", tv_str (best, "containerId"), "cmd", cmd, "tty",
                               tv_bool (msg->body, "tty", false), "stdin", tv_bool (msg->body, "stdin", false));
        if (tv_int (msg->body, "rows", 0) > 0 && tv_int (msg->body, "cols", 0) > 0) {
            json_object_set (b, "rows", tv_get (msg->body, "rows"));
            json_object_set (b, "cols", tv_get (msg->body, "cols"));
        }
        return exec_forward (a, msg, TR_VERB_EXEC_START, b, 15000);
    }
    json_int_t tmo = tv_int (msg->body, "timeoutSeconds", 15);
    if (tmo <= 0 || tmo > 86400)
        tmo = tmo <= 0 ? 60 : 86400; /* the shim's default and bound */
    json_t *body = json_pack ("{s:s,s:O,s:I}", "containerId", tv_str (best, "containerId"), "cmd", cmd, "timeout", tmo);
    if (tv_str (msg->body, "stdin"))
        json_object_set (body, "stdin", tv_get (msg->body, "stdin"));
    return exec_forward (a, msg, TR_VERB_EXEC_SYNC, body, (int) tmo * 1000 + 5000); /* the command's time, then its answer */
}

/* exec, streamed: ExecIO {session, stdin?, eof?, resize?} is forwarded to the shim with the pod's
 * uid (the shim answers only for sessions in that pod's containers); the shim holds it until
 * there is output, the command ended, or ~250 ms passed. */
static int
h_exec_io (agent_t *a, const tr_env_t *msg, const json_t *pod)
{
    json_t *b = json_pack ("{s:s,s:s}", "session", tv_str (msg->body, "session") ? tv_str (msg->body, "session") : "",
                           "podUid", tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : "");
    const char *keys[] = {"stdin", "eof", "resize"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get (msg->body, keys[i]))
            json_object_set (b, keys[i], json_object_get (msg->body, keys[i]));
    return exec_forward (a, msg, TR_VERB_EXEC_IO, b, 15000);
}

/* ---- log rotation (the kubelet's container log manager) -------------------------------------- */

struct reopen {
    char *log, *rotated, *id;
};

static void
reopen_free (struct reopen *r)
{
    free (r->log);
    free (r->rotated);
    free (r->id);
    free (r);
}

/* ReopenContainerLog answered: on a failure that says the runtime did not reopen (the container
 * ended, the runtime refused) the rotated file is renamed back, as the kubelet does, so the next
 * check tries again and nothing is lost. On a timeout it stays: the runtime may still reopen, and
 * would then replace a renamed-back file; until a reopen succeeds the container writes to the
 * rotated file and every check asks again (ag_rotate_logs: a running container with no live log). */
static void
on_reopened (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    agent_t *a = self;
    struct reopen *r = arg;
    char key[200];
    snprintf (key, sizeof key, "logs/%s", r->id);
    json_object_del (a->inflight, key);
    if (reply->code == TR_OK)
        TR_DEBUG (A, "container log reopened id=%.12s rotated to %s", r->id, r->rotated ? r->rotated : "(before)");
    else {
        struct stat st;
        TR_WARN (A, "ReopenContainerLog failed id=%.12s code=%s msg=\"%s\"", r->id, tr_code_name (reply->code),
                 reply->msg ? reply->msg : "");
        if (r->rotated && reply->code != TR_TIMEOUT && reply->code != TR_UNAVAILABLE && stat (r->log, &st) &&
            rename (r->rotated, r->log))
            TR_WARN (A, "cannot rename %s back to %s: %s", r->rotated, r->log, strerror (errno));
    }
    reopen_free (r);
}

/* Every running container whose CRI log (the oci runtime's: the process runtime's processes
 * write their file directly and nothing can reopen it) reached containerLogMaxSize: old rotated
 * files removed or compressed, the live one renamed, the runtime asked to reopen it. The file
 * work is small (at most one compression per container per check) and done here. */
void
ag_rotate_logs (troupe_ctx_t *ctx, agent_t *a)
{
    size_t i;
    json_t *r;
    time_t now = time (NULL);
    json_array_foreach (a->runtime, i, r) {
        const char *id = tv_str (r, "containerId"), *log = tv_str (r, "logPath"), *fmt = tv_str (r, "logFormat");
        if (!id || !log || !fmt || strcmp (fmt, "cri") || strcmp (tv_str (r, "state") ? tv_str (r, "state") : "", CRI_STATE_RUNNING))
            continue;
        char key[200], err[600];
        snprintf (key, sizeof key, "logs/%s", id);
        if (ag_inflight (a, key))
            continue;
        struct stat st;
        if (stat (log, &st) && errno == ENOENT) { /* a reopen that timed out: asked again */
            struct reopen *ro = calloc (1, sizeof *ro);
            ro->log = strdup (log);
            ro->id = strdup (id);
            ag_mark (a, key);
            ag_shim_call (ctx, a, TR_VERB_REOPEN_CONTAINER_LOG, json_pack ("{s:s}", "containerId", id), on_reopened, ro);
            continue;
        }
        char *rotated = NULL;
        int rc = logrotate_prepare (log, &a->logs, now, &rotated, err, sizeof err);
        if (rc < 0)
            TR_WARN (A, "container log rotation id=%.12s: %s", id, err);
        if (rc != 1)
            continue;
        if (rename (log, rotated)) {
            TR_WARN (A, "cannot rename %s to %s: %s", log, rotated, strerror (errno));
            free (rotated);
            continue;
        }
        struct reopen *ro = calloc (1, sizeof *ro);
        ro->log = strdup (log);
        ro->rotated = rotated;
        ro->id = strdup (id);
        ag_mark (a, key);
        ag_shim_call (ctx, a, TR_VERB_REOPEN_CONTAINER_LOG, json_pack ("{s:s}", "containerId", id), on_reopened, ro);
    }
}

/* RemoveContainer answered: the container's log and rotated logs go with it (the kubelet's Clean). */
void
ag_on_removed (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    char *log = arg;
    if (reply->code != TR_OK && reply->code != TR_NOT_FOUND)
        TR_WARN (A, "RemoveContainer failed code=%s msg=\"%s\"", tr_code_name (reply->code), reply->msg ? reply->msg : "");
    else if (log)
        logrotate_clean (log); /* removed, or already gone */
    free (log);
}

/* ---- logs ----------------------------------------------------------------------------------- */

/* TR_OK with a body made for it (troupe_reply borrows its body) */
static int
reply_owned (troupe_ctx_t *ctx, const tr_env_t *msg, json_t *body)
{
    int rc = troupe_reply (ctx, msg, TR_OK, body, NULL);
    json_decref (body);
    return rc;
}

int
ag_message (void *self, troupe_ctx_t *ctx, const tr_env_t *msg)
{
    agent_t *a = self;
    if (msg->verb != TR_VERB_LOGS && msg->verb != TR_VERB_EXEC)
        return troupe_reply (ctx, msg, TR_METHOD_NOT_ALLOWED, NULL, "the agent answers logs and exec only");
    const json_t *pod = troupe_informer_get (a->pods, msg->ns, msg->name);
    if (!pod)
        return troupe_reply (ctx, msg, TR_NOT_FOUND, NULL, "pod not on this node");
    if (msg->verb == TR_VERB_EXEC && tv_str (msg->opts, "op") && !strcmp (tv_str (msg->opts, "op"), "io"))
        return h_exec_io (a, msg, pod);
    const char *container = tv_str (msg->opts, "container");
    if (!container && msg->verb == TR_VERB_EXEC)
        container = tv_str (msg->body, "container");
    if (!container)
        container = tv_str (json_array_get (tv_get (pod, "spec.containers"), 0), "name");
    if (container && msg->verb == TR_VERB_EXEC)
        return h_exec (a, ctx, msg, pod, container);
    if (!container)
        container = tv_str (json_array_get (tv_get (pod, "spec.containers"), 0), "name");
    if (!container)
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, "a container name is required");
    const char *uid = tv_str (pod, "metadata.uid");
    int previous = tv_bool (msg->opts, "previous", false);
    /* the latest attempt (or the one before) that the runtime knows for that container */
    const json_t *best = NULL, *second = NULL;
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) {
        if (!tv_str (r, "podUid") || strcmp (tv_str (r, "podUid"), uid) || !tv_str (r, "name") ||
            strcmp (tv_str (r, "name"), container))
            continue;
        if (!best || tv_int (r, "attempt", 0) > tv_int (best, "attempt", 0)) {
            second = best;
            best = r;
        } else if (!second || tv_int (r, "attempt", 0) > tv_int (second, "attempt", 0))
            second = r;
    }
    const json_t *rec = previous ? second : best;
    if (!rec) {
        char m[700];
        snprintf (m, sizeof m, "container \"%s\" in pod \"%s\" has no %slogs yet", container, msg->name,
                  previous ? "previous " : "");
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, m);
    }
    const char *path = tv_str (rec, "logPath");
    int fd = path ? open (path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st = {0};
    if (fd >= 0)
        fstat (fd, &st);
    json_int_t limit = tv_int (msg->opts, "limitBytes", 1 << 20);
    json_int_t off = tv_int (msg->opts, "offset", -1);
    /* a follower's offset is in the file it read (opts.file, an inode): once the log rotated, the
     * rest of that file (the newest rotated one, kept uncompressed for this) and then the new
     * live file from its start, as the kubelet's follow. Between the rename and conmon's reopen
     * there is no live file: the rest of the rotated one is read all the same, and once it is
     * read the follower is told to wait where it is (its offset and file unchanged). */
    json_int_t was = tv_int (msg->opts, "file", -1);
    if (path && off >= 0 && was >= 0 && (fd < 0 || (json_int_t) st.st_ino != was)) {
        int rfd = logrotate_open_rotated (path, (unsigned long long) was);
        struct stat rst;
        if (rfd >= 0 && !fstat (rfd, &rst) && off < rst.st_size) {
            if (fd >= 0)
                close (fd);
            fd = rfd;
            st = rst;
        } else {
            if (rfd >= 0)
                close (rfd);
            if (fd < 0)
                return reply_owned (ctx, msg, json_pack ("{s:s,s:I,s:I}", "data", "", "offset", off, "file", was));
            off = 0;
        }
    }
    if (fd < 0)
        return reply_owned (ctx, msg, json_pack ("{s:s,s:i}", "data", "", "offset", 0));
    json_int_t tail = tv_int (msg->opts, "tailLines", -1);
    if (off < 0 && tail >= 0) {
        /* walk back tail newlines from the end (bounded by limit) */
        json_int_t from = st.st_size > limit ? st.st_size - limit : 0;
        size_t n = (size_t) (st.st_size - from);
        char *buf = malloc (n + 1);
        ssize_t got = pread (fd, buf, n, from);
        off = from;
        if (got > 0) {
            json_int_t lines = 0;
            for (ssize_t p = got - 1; p >= 0; p--)
                if (buf[p] == '\n' && p != got - 1 && ++lines == tail) {
                    off = from + p + 1;
                    break;
                }
            if (tail == 0)
                off = st.st_size;
        }
        free (buf);
    }
    if (off < 0)
        off = 0;
    if (off > st.st_size)
        off = st.st_size;
    size_t n = (size_t) (st.st_size - off < limit ? st.st_size - off : limit);
    char *buf = malloc (n + 1);
    ssize_t got = n ? pread (fd, buf, n, off) : 0;
    close (fd);
    if (got < 0)
        got = 0;
    json_t *data;
    if (!strcmp (tv_str (rec, "logFormat") ? tv_str (rec, "logFormat") : "", "cri")) {
        size_t used, tl;
        char *t = crilog_text (buf, (size_t) got, tv_bool (msg->opts, "timestamps", false), &used, &tl);
        data = json_stringn_nocheck (t, tl);
        free (t);
        got = (ssize_t) used;
    } else
        data = json_stringn_nocheck (buf, (size_t) got);
    json_t *body = json_pack ("{s:o,s:I,s:s,s:I}", "data", data, "offset", off + (json_int_t) got, "container", container,
                              "file", (json_int_t) st.st_ino);
    free (buf);
    return reply_owned (ctx, msg, body);
}
