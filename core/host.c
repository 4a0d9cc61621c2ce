/* host — actor threads and their context. See host.h and actor.h.
 *
 * Inside an actor thread everything is single-threaded: the zloop reacts to the pipe (host
 * commands), the broker DEALER (replies, watch events, requests addressed to the actor), peer
 * DEALERs, actor timers and the host's own housekeeping timer (request deadlines, pings).
 */
#include "core/host.h"
#include "core/log.h"
#include "core/store_proto.h"
#include "core/strcopy.h"
#include "core/value.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define REQUEST_TIMEOUT_MS 10000
#define BACKLOG_WAIT_FACTOR 6
#define PING_EVERY_MS 2000
#define WATCH_CREDIT 1024
#define WATCH_BATCH 64 /* events the broker may send in one message (docs/protocol.md, `batch`) */
#define LIST_PAGE 500 /* objects per page of an informer's list (client-go's reflector pages by 500) */
#define MAX_ACTORS 32
/* Requests to the broker one actor keeps in flight by default; more wait in order in the host
 * (client-go limits its clients' rate the same way). Below the broker's share per client (512), so
 * that a burst of an actor's own (an agent reporting 200 pods) is paced here, not refused there.
 * An actor may set its own (troupe_set_window), up to WINDOW_MAX, still below that share. */
#define WINDOW 128
#define WINDOW_MAX 480
#define RETRY_AFTER_MAX_S 10

typedef struct {
    troupe_reply_fn *cb;
    void *arg;
    int64_t deadline;
    troupe_informer_t *list_for;  /* a LIST or WATCH issued by an informer */
    int is_watch;
    int to_peer;                  /* sent on a peer (troupe_peer: a runtime shim), not the broker */
    char *wire;                   /* windowed: the encoded request, kept to send later or again */
    size_t wire_len;
    int sent;                     /* windowed: counted in ctx->inflight */
    int64_t resend_at;            /* windowed, refused with TooManyRequests: sent again then */
    int timeout_ms;               /* windowed: the deadline once sent (first send + this) */
    int low;                      /* windowed: a background request (troupe_request_background) */
    int ever_sent;                /* windowed: sent at least once (the deadline counts from then) */
} pending_t;

struct troupe_peer {
    troupe_ctx_t *ctx;
    zsock_t *sock;
    char endpoint[256];
};

struct troupe_informer {
    troupe_ctx_t *ctx;
    char kind[64];
    char *lsel, *fsel;
    troupe_handlers_t h;
    zhashx_t *cache;       /* "ns/name" → json_t* (owned) */
    uint64_t rv;
    uint64_t watch_id;     /* id of the live WATCH request, 0 if none */
    int synced;
    int listing;
    int unacked;           /* events received since the last credit grant */
    troupe_transform_fn *transform; /* what the cache keeps of an object, or NULL: all of it */
    json_t *keep;          /* the fields decoded (tv_keep_new), or NULL: all of them */
    json_t *last;          /* the last event's body decoded for the cache: what an event of a key
                              the cache lacks is decoded like (informer_prev) */
    json_t *pages;         /* a paged list under way: the items of the pages so far */
    uint64_t pages_rv;     /* and its revision (the first page's) */
};

typedef struct {
    int id;
    int zid;     /* zloop timer id */
    int64_t due; /* monotonic ms a one-shot fires at; 0 for a repeating timer */
} timer_t_;

struct troupe_ctx {
    tr_host_t *host;
    const troupe_actor_t *def;
    void *self;
    json_t *config;
    zsock_t *pipe;
    zloop_t *loop;
    zsock_t *dealer;
    uint64_t next_id;
    zhashx_t *pending;     /* "id" → pending_t* */
    int inflight;          /* windowed requests sent to the broker and not yet answered */
    int window;            /* at most this many in flight (WINDOW unless the actor set it) */
    long throttled;        /* answers TooManyRequests (each sent again after the hint) */
    int64_t throttled_wait_ms; /* and the time they waited for it */
    zlistx_t *backlog;     /* ids (strings) of windowed requests waiting for room, in order */
    zlistx_t *backlog_low; /* the same for background requests: sent when backlog is empty */
    zlistx_t *informers;
    zlistx_t *peers;
    zlistx_t *fds;         /* fd_watch_t*: descriptors the actor polls (troupe_fd_watch) */
    timer_t_ timers[64];
    int ntimers;
    char instance[64];     /* broker instance seen last: a change means the broker restarted */
    int64_t last_pong;
    int lost;              /* pings unanswered: informers will relist when the broker is back */
    char eps[8][256];      /* the host's endpoints (several servers of one cluster) */
    int neps, cur;
    int64_t last_switch;
};

typedef struct {
    zactor_t *actor;
    char name[64];
} slot_t;

struct tr_host {
    char endpoint[512];
    tr_creds_t creds;
    int has_creds;
    char node_name[256];
    char data_dir[512];
    uint64_t fence;
    int request_timeout_ms;
    slot_t slots[MAX_ACTORS];
    int n;
};

typedef struct {
    tr_host_t *host;
    const troupe_actor_t *def;
    json_t *config;
} start_args_t;

int64_t
troupe_now_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t
troupe_mono_ms (void)
{
    return zclock_mono ();
}

const char *
troupe_node_name (troupe_ctx_t *ctx)
{
    return ctx->host->node_name;
}

const char *
troupe_data_dir (troupe_ctx_t *ctx)
{
    return ctx->host->data_dir;
}

const char *
troupe_actor_name (troupe_ctx_t *ctx)
{
    return ctx->def->name;
}

/* ---- pending requests ----------------------------------------------------------------------- */

static void
pending_key (char *buf, uint64_t id)
{
    tr_u64_dec (buf, id); /* buf holds 24 */
}

static pending_t *
pending_take (troupe_ctx_t *ctx, uint64_t id)
{
    char k[24];
    pending_key (k, id);
    pending_t *p = zhashx_lookup (ctx->pending, k);
    if (p)
        zhashx_delete (ctx->pending, k); /* no destructor: the caller now owns p */
    return p;
}

static void
pending_free (pending_t *p)
{
    free (p->wire);
    free (p);
}

/* A windowed request leaves the window (answered, refused, expired): its room goes to the next. */
static void
window_release (troupe_ctx_t *ctx, pending_t *p)
{
    if (p->wire && p->sent) {
        p->sent = 0;
        ctx->inflight--;
    }
}

/* Sends what waits in the backlog while the window has room. */
static void
window_pump (troupe_ctx_t *ctx)
{
    char *k;
    for (;;) {
        /* background requests only when nothing else waits, and within half the window: the
         * other half stays for what an actor's progress waits on */
        zlistx_t *l = zlistx_size (ctx->backlog) ? ctx->backlog : ctx->inflight < ctx->window / 2 ? ctx->backlog_low : NULL;
        if (ctx->inflight >= ctx->window || !l || !(k = zlistx_first (l)))
            break;
        pending_t *p = zhashx_lookup (ctx->pending, k);
        if (p && p->wire && !p->sent) {
            if (zsock_send (ctx->dealer, "b", p->wire, p->wire_len))
                break;
            p->sent = 1;
            ctx->inflight++;
            if (!p->ever_sent) { /* the broker's time to answer starts now, not in the backlog */
                p->ever_sent = 1;
                p->deadline = zclock_mono () + p->timeout_ms;
            }
        }
        zlistx_delete (l, zlistx_cursor (l));
    }
}

static uint64_t
send_tracked (troupe_ctx_t *ctx, zsock_t *sock, tr_env_t *req, troupe_reply_fn *cb, void *arg,
              troupe_informer_t *inf, int is_watch, int timeout_ms, int low)
{
    req->id = ctx->next_id++;
    json_t *opts = req->opts, *fenced = NULL;
    if (ctx->host->fence && sock == ctx->dealer) { /* the caller's opts stay as they were */
        fenced = opts ? json_copy (opts) : json_object ();
        json_object_set_new (fenced, "fence", json_integer ((json_int_t) ctx->host->fence));
        req->opts = fenced;
    }
    /* requests to the broker go through the window (not pings and hellos: they measure the
     * broker's liveness, nor watches: long-lived, answered by events) */
    int windowed = sock == ctx->dealer && !is_watch && req->verb != TR_VERB_PING && req->verb != TR_VERB_HELLO;
    char *wire = NULL;
    size_t wire_len = 0;
    int rc = 0;
    if (windowed)
        rc = tr_env_encode (req, &wire, &wire_len);
    else
        rc = tr_conn_send (sock, NULL, req);
    req->opts = opts;
    json_decref (fenced);
    if (rc)
        return 0;
    if (windowed) {
        pending_t *p = calloc (1, sizeof *p);
        p->cb = cb;
        p->arg = arg;
        p->list_for = inf;
        p->wire = wire;
        p->wire_len = wire_len;
        /* as client-go: the timeout is the request's, from its send; the wait for room in the
         * window (an actor sending faster than the broker answers) is bounded apart, longer */
        p->timeout_ms = timeout_ms > 0 ? timeout_ms : ctx->host->request_timeout_ms;
        p->deadline = zclock_mono () + (int64_t) BACKLOG_WAIT_FACTOR * p->timeout_ms;
        char k[24];
        pending_key (k, req->id);
        zhashx_insert (ctx->pending, k, p);
        p->low = low;
        zlistx_add_end (low ? ctx->backlog_low : ctx->backlog, strdup (k));
        window_pump (ctx);
        return req->id;
    }
    if (cb || inf) {
        pending_t *p = calloc (1, sizeof *p);
        p->cb = cb;
        p->arg = arg;
        p->list_for = inf;
        p->is_watch = is_watch;
        p->to_peer = sock != ctx->dealer;
        p->deadline = is_watch ? INT64_MAX : zclock_mono () + (timeout_ms > 0 ? timeout_ms : ctx->host->request_timeout_ms);
        char k[24];
        pending_key (k, req->id);
        zhashx_insert (ctx->pending, k, p);
    }
    return req->id;
}

int
troupe_set_window (troupe_ctx_t *ctx, int n)
{
    if (n < 1 || n > WINDOW_MAX)
        return -1;
    ctx->window = n;
    window_pump (ctx); /* a wider window sends what waited for room */
    return n;
}

int
troupe_request (troupe_ctx_t *ctx, const tr_env_t *req, troupe_reply_fn *cb, void *arg)
{
    tr_env_t copy = *req; /* shallow: only id changes */
    return send_tracked (ctx, ctx->dealer, &copy, cb, arg, NULL, 0, 0, 0) ? 0 : -1;
}

int
troupe_request_background (troupe_ctx_t *ctx, const tr_env_t *req, troupe_reply_fn *cb, void *arg)
{
    tr_env_t copy = *req;
    return send_tracked (ctx, ctx->dealer, &copy, cb, arg, NULL, 0, 0, 1) ? 0 : -1;
}

int
troupe_reply (troupe_ctx_t *ctx, const tr_env_t *req, tr_code_t code, const json_t *body, const char *msg)
{
    tr_env_t r;
    tr_env_init (&r);
    r.id = req->id;
    r.verb = TR_VERB_REPLY;
    r.code = code;
    r.body = (json_t *) body;
    r.msg = (char *) msg;
    return tr_conn_send (ctx->dealer, NULL, &r);
}

/* ---- peers ---------------------------------------------------------------------------------- */

static int on_socket (zloop_t *loop, zsock_t *sock, void *arg);

troupe_peer_t *
troupe_peer (troupe_ctx_t *ctx, const char *endpoint)
{
    char err[256];
    zsock_t *s = tr_conn_dealer (endpoint, ctx->host->has_creds ? &ctx->host->creds : NULL, err, sizeof err);
    if (!s) {
        TR_ERROR (ctx->def->name, "peer connect failed endpoint=%s error=\"%s\"", endpoint, err);
        return NULL;
    }
    troupe_peer_t *p = calloc (1, sizeof *p);
    p->ctx = ctx;
    p->sock = s;
    snprintf (p->endpoint, sizeof p->endpoint, "%s", endpoint);
    zlistx_add_end (ctx->peers, p);
    zloop_reader (ctx->loop, s, on_socket, ctx);
    return p;
}

int
troupe_peer_request (troupe_peer_t *peer, const tr_env_t *req, int timeout_ms, troupe_reply_fn *cb, void *arg)
{
    tr_env_t copy = *req;
    return send_tracked (peer->ctx, peer->sock, &copy, cb, arg, NULL, 0, timeout_ms, 0) ? 0 : -1;
}

/* ---- file descriptors ----------------------------------------------------------------------- */

/* An unwatched entry is not freed at once: zloop may still hold a copy of its poller (with
 * this entry as arg) for the current iteration, so it is marked dead (fn NULL) and freed by the
 * second housekeeping after, when zloop has long rebuilt its poll set. */
typedef struct {
    troupe_ctx_t *ctx;
    int fd;
    troupe_fd_fn *fn;
    int dead;   /* housekeepings seen since unwatched */
} fd_watch_t;

static void
fd_reap (troupe_ctx_t *ctx)
{
    for (fd_watch_t *w = zlistx_first (ctx->fds); w; w = zlistx_next (ctx->fds))
        if (!w->fn)
            w->dead++;
    for (int again = 1; again;) {
        again = 0;
        for (fd_watch_t *w = zlistx_first (ctx->fds); w; w = zlistx_next (ctx->fds))
            if (!w->fn && w->dead >= 2) {
                zlistx_delete (ctx->fds, zlistx_cursor (ctx->fds));
                free (w);
                again = 1;
                break;
            }
    }
}

static int
on_actor_fd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    fd_watch_t *w = arg;
    if (w->fn)
        w->fn (w->ctx->self, w->ctx, w->fd);
    return 0;
}

int
troupe_fd_watch (troupe_ctx_t *ctx, int fd, troupe_fd_fn *fn)
{
    for (fd_watch_t *w = zlistx_first (ctx->fds); w; w = zlistx_next (ctx->fds))
        if (w->fn && w->fd == fd)
            return -1;
    fd_watch_t *w = calloc (1, sizeof *w);
    w->ctx = ctx;
    w->fd = fd;
    w->fn = fn;
    zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
    if (zloop_poller (ctx->loop, &item, on_actor_fd, w)) {
        free (w);
        return -1;
    }
    zlistx_add_end (ctx->fds, w);
    return 0;
}

void
troupe_fd_unwatch (troupe_ctx_t *ctx, int fd)
{
    for (fd_watch_t *w = zlistx_first (ctx->fds); w; w = zlistx_next (ctx->fds))
        if (w->fn && w->fd == fd) {
            zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
            zloop_poller_end (ctx->loop, &item);
            w->fn = NULL;
            w->fd = -1;
            return;
        }
}

/* ---- timers --------------------------------------------------------------------------------- */

static int
on_actor_timer (zloop_t *loop, int zid, void *arg)
{
    (void) loop;
    troupe_ctx_t *ctx = arg;
    for (int i = 0; i < ctx->ntimers; i++)
        if (ctx->timers[i].zid == zid) {
            int id = ctx->timers[i].id;
            if (ctx->timers[i].due) /* a one-shot: zloop forgets it after this call, so do we */
                ctx->timers[i] = ctx->timers[--ctx->ntimers];
            if (ctx->def->timer)
                ctx->def->timer (ctx->self, ctx, id);
            return 0;
        }
    return 0;
}

void
troupe_timer_cancel (troupe_ctx_t *ctx, int timer_id)
{
    for (int i = 0; i < ctx->ntimers; i++)
        if (ctx->timers[i].id == timer_id) {
            zloop_timer_end (ctx->loop, ctx->timers[i].zid);
            ctx->timers[i] = ctx->timers[--ctx->ntimers];
            return;
        }
}

int
troupe_timer (troupe_ctx_t *ctx, int timer_id, int ms, int repeat)
{
    troupe_timer_cancel (ctx, timer_id);
    if (ctx->ntimers == (int) (sizeof ctx->timers / sizeof ctx->timers[0]))
        return -1;
    if (ms < 1)
        ms = 1;
    int zid = zloop_timer (ctx->loop, (size_t) ms, repeat ? 0 : 1, on_actor_timer, ctx);
    if (zid < 0)
        return -1;
    ctx->timers[ctx->ntimers].id = timer_id;
    ctx->timers[ctx->ntimers].zid = zid;
    ctx->timers[ctx->ntimers].due = repeat ? 0 : troupe_mono_ms () + ms;
    ctx->ntimers++;
    return 0;
}

int
troupe_timer_within (troupe_ctx_t *ctx, int timer_id, int ms)
{
    if (ms < 1)
        ms = 1;
    for (int i = 0; i < ctx->ntimers; i++)
        if (ctx->timers[i].id == timer_id && ctx->timers[i].due && ctx->timers[i].due <= troupe_mono_ms () + ms)
            return 0; /* armed to fire sooner: events batch until it does */
    return troupe_timer (ctx, timer_id, ms, 0);
}

/* ---- informers ------------------------------------------------------------------------------ */

/* zhashx destructors receive the address of the item */
static void
json_item_free (void **item)
{
    json_decref (*item);
    *item = NULL;
}

/* "ns/name" (NULL as "") into buf[len], cut as snprintf would: the informer's key. */
static void
ns_name_key (char *buf, size_t len, const char *ns, const char *name)
{
    size_t n = tr_strlcpy (buf, ns, len);
    if (n + 1 < len) {
        buf[n] = '/';
        tr_strlcpy (buf + n + 1, name, len - n - 1);
    }
}

static void
obj_key (const json_t *obj, char *buf, size_t len)
{
    ns_name_key (buf, len, tv_str (obj, "metadata.namespace"), tv_str (obj, "metadata.name"));
}

/* Drops the informer's watch stream, if any; the broker forgets it (and tolerates a cancel for
 * a dead one). */
static void
informer_cancel (troupe_informer_t *inf)
{
    troupe_ctx_t *ctx = inf->ctx;
    if (!inf->watch_id)
        return;
    tr_env_t c;
    tr_env_init (&c);
    c.verb = TR_VERB_CANCEL;
    c.rv = inf->watch_id;
    pending_t *p = pending_take (ctx, inf->watch_id);
    pending_free (p);
    send_tracked (ctx, ctx->dealer, &c, NULL, NULL, NULL, 0, 0, 0);
    inf->watch_id = 0;
}

static void
informer_list_page (troupe_informer_t *inf, const char *cont)
{
    troupe_ctx_t *ctx = inf->ctx;
    if (!cont) {
        informer_cancel (inf);
        json_decref (inf->pages);
        inf->pages = NULL;
    }
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    snprintf (req.kind, sizeof req.kind, "%s", inf->kind);
    req.opts = json_object ();
    /* an informer lists then watches from the list's revision: a consistent snapshot of the
     * server's cache is enough, no read barrier (replicated stores) needed */
    json_object_set_new (req.opts, "stale", json_true ());
    if (inf->lsel)
        json_object_set_new (req.opts, "labelSelector", json_string (inf->lsel));
    if (inf->fsel)
        json_object_set_new (req.opts, "fieldSelector", json_string (inf->fsel));
    json_object_set_new (req.opts, "limit", json_integer (LIST_PAGE));
    if (cont)
        json_object_set_new (req.opts, "continue", json_string (cont));
    inf->listing = 1;
    send_tracked (ctx, ctx->dealer, &req, NULL, NULL, inf, 0, 0, 0);
    tr_env_clear (&req);
}

static void
informer_list (troupe_informer_t *inf)
{
    informer_list_page (inf, NULL);
}

static void
informer_watch (troupe_informer_t *inf)
{
    troupe_ctx_t *ctx = inf->ctx;
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    snprintf (req.kind, sizeof req.kind, "%s", inf->kind);
    req.rv = inf->rv;
    req.opts = json_pack ("{s:i,s:i}", "credit", WATCH_CREDIT, "batch", WATCH_BATCH);
    if (inf->lsel)
        json_object_set_new (req.opts, "labelSelector", json_string (inf->lsel));
    if (inf->fsel)
        json_object_set_new (req.opts, "fieldSelector", json_string (inf->fsel));
    inf->unacked = 0;
    inf->watch_id = send_tracked (ctx, ctx->dealer, &req, NULL, NULL, inf, 1, 0, 0);
    tr_env_clear (&req);
}

/* What the informer's cache keeps of obj (a new reference), or NULL to keep nothing. A listed
 * object is projected on its kept fields here; an event's body was decoded projected already
 * (informer_prev). */
static json_t *
keep_of (troupe_informer_t *inf, json_t *obj, int listed)
{
    json_t *p = listed && inf->keep ? tv_project (obj, inf->keep) : json_incref (obj);
    if (!inf->transform)
        return p;
    json_t *t = inf->transform (p);
    json_decref (p);
    return t;
}

void
troupe_informer_set_fields (troupe_informer_t *inf, const char *const *paths, size_t n)
{
    if (!inf)
        return;
    /* the informer's own key, and what a handler may compare versions by */
    static const char *const own[] = {"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.uid",
                                      "metadata.resourceVersion"};
    const char *all[64];
    size_t k = 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        all[k++] = own[i];
    for (size_t i = 0; i < n && k < sizeof all / sizeof all[0]; i++)
        all[k++] = paths[i];
    json_decref (inf->keep);
    inf->keep = tv_keep_new (all, k);
}

void
troupe_informer_set_transform (troupe_informer_t *inf, troupe_transform_fn *fn)
{
    if (inf)
        inf->transform = fn;
}

/* A (re)list arrived: report the difference with the cache, replace it, then watch. */
static void
informer_on_list (troupe_informer_t *inf, const tr_env_t *reply)
{
    troupe_ctx_t *ctx = inf->ctx;
    inf->listing = 0;
    if (reply->code != TR_OK) {
        TR_WARN (ctx->def->name, "list failed kind=%s code=%s msg=\"%s\"; retrying", inf->kind,
                 tr_code_name (reply->code), reply->msg ? reply->msg : "");
        json_decref (inf->pages);
        inf->pages = NULL;
        return; /* the housekeeping timer relists informers that are neither listing nor watching */
    }
    /* a paged list: gather the pages, then compare the whole with the cache */
    const char *cont = tv_str (reply->body, "metadata.continue");
    if (!inf->pages) {
        inf->pages = json_array ();
        const char *rvs = tv_str (reply->body, "metadata.resourceVersion");
        inf->pages_rv = reply->rv ? reply->rv : (rvs ? strtoull (rvs, NULL, 10) : 0);
    }
    json_array_extend (inf->pages, tv_get (reply->body, "items"));
    if (cont && *cont) {
        informer_list_page (inf, cont);
        return;
    }
    json_t *items = inf->pages;
    inf->pages = NULL;
    zhashx_t *fresh = zhashx_new ();
    zhashx_set_destructor (fresh, json_item_free);
    size_t i;
    json_t *obj;
    char key[600];
    json_array_foreach (items, i, obj) {
        json_t *keep = keep_of (inf, obj, 1);
        if (!keep)
            continue;
        obj_key (obj, key, sizeof key);
        zhashx_update (fresh, key, keep);
    }
    zhashx_t *old = inf->cache;
    inf->cache = fresh;
    /* over lists of the keys, not the tables' cursors: a handler may look the cache up
     * (troupe_informer_get), and a lookup moves the cursor of czmq's zhashx (a relist that
     * did so reported the same add forever) */
    zlistx_t *keys = zhashx_keys (fresh);
    for (const char *k = keys ? zlistx_first (keys) : NULL; k; k = zlistx_next (keys)) {
        json_t *o = zhashx_lookup (fresh, k), *prev = zhashx_lookup (old, k);
        if (!prev) {
            if (inf->h.on_add)
                inf->h.on_add (ctx->self, ctx, o);
        } else if (!json_equal (prev, o)) {
            if (inf->h.on_update)
                inf->h.on_update (ctx->self, ctx, prev, o);
        } else /* unchanged: the version handlers saw stays the cached one (indexes that hold it,
                * as the controllers' podindex does, keep pointing at what the cache holds) */
            zhashx_update (fresh, k, json_incref (prev));
    }
    zlistx_destroy (&keys);
    keys = zhashx_keys (old);
    for (const char *k = keys ? zlistx_first (keys) : NULL; k; k = zlistx_next (keys))
        if (!zhashx_lookup (fresh, k) && inf->h.on_delete)
            inf->h.on_delete (ctx->self, ctx, zhashx_lookup (old, k));
    zlistx_destroy (&keys);
    zhashx_destroy (&old);
    json_decref (items);
    inf->rv = inf->pages_rv;
    inf->synced = 1;
    if (inf->h.on_synced)
        inf->h.on_synced (ctx->self, ctx);
    informer_watch (inf);
}

static void
informer_on_event (troupe_informer_t *inf, const tr_env_t *ev)
{
    troupe_ctx_t *ctx = inf->ctx;
    const char *type = tv_str (ev->opts, "type");
    if (!type)
        return;
    if (!strcmp (type, "EXPIRED")) {
        /* the broker ended the watch (too slow, silent, or its cache was replaced): resume from
         * the last revision seen; a refusal (Expired: it left the broker's window) relists */
        TR_INFO (ctx->def->name, "watch ended by the broker kind=%s rv=%llu reason=\"%s\"; resuming", inf->kind,
                 (unsigned long long) inf->rv, ev->msg ? ev->msg : "");
        pending_t *p = pending_take (ctx, inf->watch_id);
        pending_free (p);
        inf->watch_id = 0;
        if (inf->synced && inf->rv)
            informer_watch (inf);
        else
            informer_list (inf);
        return;
    }
    if (ev->rv > inf->rv)
        inf->rv = ev->rv;
    if (++inf->unacked >= WATCH_CREDIT / 2) {
        tr_env_t c;
        tr_env_init (&c);
        c.verb = TR_VERB_CREDIT;
        c.rv = inf->watch_id;
        c.opts = json_pack ("{s:i}", "credit", inf->unacked);
        inf->unacked = 0;
        send_tracked (ctx, ctx->dealer, &c, NULL, NULL, NULL, 0, 0, 0);
        tr_env_clear (&c);
    }
    if (!strcmp (type, "BOOKMARK") || !ev->body)
        return;
    char key[600];
    obj_key (ev->body, key, sizeof key);
    json_t *prev = zhashx_lookup (inf->cache, key);
    if (!strcmp (type, "DELETED")) {
        if (prev) {
            json_incref (prev);
            zhashx_delete (inf->cache, key);
            json_t *last = keep_of (inf, ev->body, 0);
            if (inf->h.on_delete && last)
                inf->h.on_delete (ctx->self, ctx, last);
            json_decref (last);
            json_decref (prev);
        }
        return;
    }
    json_t *obj = keep_of (inf, ev->body, 0);
    json_decref (inf->last);
    inf->last = json_incref (ev->body);
    if (!obj) { /* nothing of it is kept: as a delete */
        if (prev) {
            json_incref (prev);
            zhashx_delete (inf->cache, key);
            if (inf->h.on_delete)
                inf->h.on_delete (ctx->self, ctx, prev);
            json_decref (prev);
        }
        return;
    }
    if (prev)
        json_incref (prev);
    zhashx_update (inf->cache, key, obj);
    if (!prev) {
        if (inf->h.on_add)
            inf->h.on_add (ctx->self, ctx, obj);
    } else {
        if (inf->h.on_update)
            inf->h.on_update (ctx->self, ctx, prev, obj);
        json_decref (prev);
    }
}

troupe_informer_t *
troupe_watch (troupe_ctx_t *ctx, const char *kind, const char *label_selector, const char *field_selector,
              const troupe_handlers_t *h)
{
    troupe_informer_t *inf = calloc (1, sizeof *inf);
    inf->ctx = ctx;
    snprintf (inf->kind, sizeof inf->kind, "%s", kind);
    inf->lsel = label_selector && *label_selector ? strdup (label_selector) : NULL;
    inf->fsel = field_selector && *field_selector ? strdup (field_selector) : NULL;
    if (h)
        inf->h = *h;
    inf->cache = zhashx_new ();
    zhashx_set_destructor (inf->cache, json_item_free);
    zlistx_add_end (ctx->informers, inf);
    informer_list (inf);
    return inf;
}

const json_t *
troupe_informer_get (troupe_informer_t *inf, const char *ns, const char *name)
{
    char key[600];
    snprintf (key, sizeof key, "%s/%s", ns ? ns : "", name);
    return zhashx_lookup (inf->cache, key);
}

void
troupe_informer_foreach (troupe_informer_t *inf, void (*fn) (void *arg, const json_t *obj), void *arg)
{
    /* collect first: fn may trigger work that touches the cache through other paths */
    size_t n = zhashx_size (inf->cache), i = 0;
    json_t **all = calloc (n ? n : 1, sizeof *all);
    for (json_t *o = zhashx_first (inf->cache); o && i < n; o = zhashx_next (inf->cache))
        all[i++] = json_incref (o);
    for (size_t j = 0; j < i; j++) {
        fn (arg, all[j]);
        json_decref (all[j]);
    }
    free (all);
}

size_t
troupe_informer_count (troupe_informer_t *inf)
{
    return zhashx_size (inf->cache);
}

int
troupe_informer_synced (troupe_informer_t *inf)
{
    return inf->synced;
}

static void
informer_destroy (troupe_informer_t **p)
{
    troupe_informer_t *inf = *p;
    zhashx_destroy (&inf->cache);
    json_decref (inf->pages);
    json_decref (inf->keep);
    json_decref (inf->last);
    free (inf->lsel);
    free (inf->fsel);
    free (inf);
    *p = NULL;
}

/* ---- the actor loop ------------------------------------------------------------------------- */

/* After a broker restart or a failover to another server: an informer that was watching asks
 * the (new) broker to resume from the last revision it saw — revisions are the store's, the same
 * on every server — and relists only if that is refused (Expired: the revision left that
 * broker's ring), as a Kubernetes reflector re-watches from its last resourceVersion. */
static void
resume_all (troupe_ctx_t *ctx)
{
    for (troupe_informer_t *inf = zlistx_first (ctx->informers); inf; inf = zlistx_next (ctx->informers)) {
        if (inf->listing)
            continue;
        if (!inf->synced || !inf->rv) {
            informer_list (inf);
            continue;
        }
        informer_cancel (inf);
        TR_DEBUG (ctx->def->name, "resuming watch kind=%s from rv=%llu", inf->kind, (unsigned long long) inf->rv);
        informer_watch (inf);
    }
}

static void ping_reply (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);

static void
send_hello (troupe_ctx_t *ctx)
{
    tr_env_t hello;
    tr_env_init (&hello);
    hello.verb = TR_VERB_HELLO;
    hello.body = json_pack ("{s:s,s:s}", "actor", ctx->def->name, "node", ctx->host->node_name);
    /* the reply names the broker instance, like a pong: a restart is noticed from then on */
    send_tracked (ctx, ctx->dealer, &hello, ping_reply, NULL, NULL, 0, PING_EVERY_MS * 2, 0);
    tr_env_clear (&hello);
}

static void
on_pong (troupe_ctx_t *ctx, const tr_env_t *reply)
{
    const char *inst = tv_str (reply->body, "instance");
    TR_DEBUG (ctx->def->name, "pong instance=%s seen=%s lost=%d", inst ? inst : "-", ctx->instance, ctx->lost);
    if (!inst)
        return;
    int changed = ctx->instance[0] && strcmp (ctx->instance, inst);
    snprintf (ctx->instance, sizeof ctx->instance, "%s", inst);
    ctx->last_pong = zclock_mono ();
    int cut = tv_bool (reply->body, "watchesCut", false);
    if (changed || ctx->lost || cut) {
        TR_INFO (ctx->def->name, "broker %s; resuming informers",
                 changed ? "restarted" : ctx->lost ? "reachable again" : "dropped our watches while we were silent");
        send_hello (ctx); /* a restarted broker has forgotten who we are */
        resume_all (ctx);
    }
    ctx->lost = 0;
}

static void
dispatch (troupe_ctx_t *ctx, tr_env_t *env)
{
    if (env->verb == TR_VERB_REPLY) {
        char k[24];
        pending_key (k, env->id);
        pending_t *p = zhashx_lookup (ctx->pending, k);
        if (!p)
            return; /* late reply after a timeout */
        if (p->is_watch) {
            if (env->code != TR_OK) {
                troupe_informer_t *inf = p->list_for;
                pending_take (ctx, env->id);
                pending_free (p);
                inf->watch_id = 0;
                informer_list (inf); /* watch refused (e.g. Expired): start over */
            }
            return; /* the watch stays registered for its events */
        }
        window_release (ctx, p);
        if (p->wire && env->code == TR_TOO_MANY_REQUESTS) {
            /* refused for now: sent again after the broker's hint, as client-go retries a 429,
             * while the request's own deadline allows */
            json_int_t ra = json_integer_value (json_object_get (json_object_get (env->body, "details"), "retryAfterSeconds"));
            int64_t at = zclock_mono () + 1000 * (ra > 0 && ra <= RETRY_AFTER_MAX_S ? ra : 1);
            ctx->throttled++;
            ctx->throttled_wait_ms += at - zclock_mono ();
            if (at < p->deadline) {
                p->resend_at = at;
                window_pump (ctx);
                return;
            }
        }
        pending_take (ctx, env->id);
        if (p->list_for)
            informer_on_list (p->list_for, env);
        else if (p->cb)
            p->cb (ctx->self, ctx, env, p->arg);
        pending_free (p);
        window_pump (ctx);
        return;
    }
    if (env->verb == TR_VERB_EVENT) {
        char k[24];
        pending_key (k, env->id);
        pending_t *p = zhashx_lookup (ctx->pending, k);
        if (p && p->is_watch && p->list_for)
            informer_on_event (p->list_for, env);
        return;
    }
    if (ctx->def->message)
        ctx->def->message (ctx->self, ctx, env);
    else
        troupe_reply (ctx, env, TR_METHOD_NOT_ALLOWED, NULL, "this actor takes no requests");
}

/* The string at key k of msgpack map m, copied into buf: 0, or -1 (absent, not a string, too long). */
static int
mp_str (const msgpack_object *m, const char *k, char *buf, size_t len)
{
    const msgpack_object *v = m && m->type == MSGPACK_OBJECT_MAP ? sp_field (m, k) : NULL;
    if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= len)
        return -1;
    if (v->via.str.size)
        memcpy (buf, v->via.str.ptr, v->via.str.size);
    buf[v->via.str.size] = 0;
    return 0;
}

/* A watch event's object as the informer holds it now (tr_env_prev_fn): the event's body shares
 * with it what did not change, so a status patch of a pod costs the actor the maps along the
 * changed paths, not the whole pod decoded and the old one freed; and the informer's fields
 * (troupe_informer_set_fields), so what it does not keep is never decoded. An object the cache
 * does not hold yet (ADDED) is decoded like the last event's: a pod made from the same template
 * as the one before it (a ReplicaSet's, a benchmark's) shares its spec and labels instead of
 * decoding them again (compared, not allocated; nothing below an object's first level is written
 * once cached, so sharing across objects is as safe as across versions). */
static const json_t *
informer_prev (void *arg, const tr_env_t *e, const msgpack_object *body, const json_t **keep)
{
    troupe_ctx_t *ctx = arg;
    if (e->verb != TR_VERB_EVENT)
        return NULL;
    char k[24];
    pending_key (k, e->id);
    pending_t *p = zhashx_lookup (ctx->pending, k);
    if (!p || !p->is_watch || !p->list_for)
        return NULL;
    *keep = p->list_for->keep; /* the event's body is decoded only as far as the informer keeps it */
    if (body->type != MSGPACK_OBJECT_MAP)
        return NULL;
    const msgpack_object *md = sp_field (body, "metadata");
    char ns[TR_NAME_MAX + 1] = "", name[TR_NAME_MAX + 1], key[600];
    if (mp_str (md, "name", name, sizeof name))
        return NULL;
    mp_str (md, "namespace", ns, sizeof ns); /* none: cluster-scoped, as obj_key */
    ns_name_key (key, sizeof key, ns, name);
    const json_t *held = zhashx_lookup (p->list_for->cache, key);
    return held ? held : p->list_for->last;
}

static void
on_envelope (void *arg, tr_env_t *env, int rc, const char *err)
{
    troupe_ctx_t *ctx = arg;
    if (rc == TR_OK)
        dispatch (ctx, env);
    else
        TR_WARN (ctx->def->name, "dropped undecodable message error=\"%s\"", err);
}

/* Messages: each a reply, a request, or a watch's events (up to WATCH_BATCH, one per frame). From
 * the server's connection, what is there (up to ON_SOCKET_READS): its reads do not wait
 * (serve_dealer), and reading until it is empty costs libzmq's two system calls (getpid, poll)
 * once, where a return to the loop costs them for each socket of the loop (zmq_poll asks every
 * one). A callback may replace the connection (switch_broker): the reads stop then. */
#define ON_SOCKET_READS 32
static int
on_socket (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    troupe_ctx_t *ctx = arg;
    for (int i = 0; i < ON_SOCKET_READS; i++)
        if (tr_conn_recv_each (sock, NULL, informer_prev, ctx, on_envelope, ctx) < 0 || sock != ctx->dealer)
            break;
    return 0;
}

/* The server's connection joins the loop, its reads not waiting (on_socket). */
static void
serve_dealer (troupe_ctx_t *ctx)
{
    zsock_set_rcvtimeo (ctx->dealer, 0);
    zloop_reader (ctx->loop, ctx->dealer, on_socket, ctx);
}

static void
ping_reply (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) arg;
    if (reply->code == TR_OK)
        on_pong (ctx, reply);
}


/* The broker stopped answering and the host knows other servers of the cluster: move to the
 * next one. Requests in flight to the broker are failed (TR_UNAVAILABLE), watches end; the new
 * broker's different instance makes every informer resume (on_pong), as after a broker restart.
 * Requests to peers (the runtime shim) share the table but not the connection: they stay. */
static void
switch_broker (troupe_ctx_t *ctx)
{
    int next = (ctx->cur + 1) % ctx->neps;
    char err[256];
    zsock_t *d = tr_conn_dealer (ctx->eps[next], ctx->host->has_creds ? &ctx->host->creds : NULL, err, sizeof err);
    if (!d) {
        TR_ERROR (ctx->def->name, "cannot use server endpoint=%s error=\"%s\"", ctx->eps[next], err);
        ctx->cur = next;
        return;
    }
    TR_WARN (ctx->def->name, "server %s not answering: switching to %s", ctx->eps[ctx->cur], ctx->eps[next]);
    zloop_reader_end (ctx->loop, ctx->dealer);
    zsock_destroy (&ctx->dealer);
    ctx->dealer = d;
    ctx->cur = next;
    serve_dealer (ctx);
    zhashx_t *old = ctx->pending;
    ctx->pending = zhashx_new ();
    ctx->inflight = 0; /* the old connection's window goes with it; callbacks below may queue anew */
    zlistx_purge (ctx->backlog);
    zlistx_purge (ctx->backlog_low);
    for (pending_t *p = zhashx_first (old); p; p = zhashx_next (old)) {
        if (p->to_peer) {
            zhashx_insert (ctx->pending, zhashx_cursor (old), p);
            continue;
        }
        if (p->list_for) {
            p->list_for->listing = 0;
            if (p->is_watch)
                p->list_for->watch_id = 0;
        } else if (p->cb) {
            tr_env_t t;
            tr_env_init (&t);
            t.id = strtoull (zhashx_cursor (old), NULL, 10);
            t.verb = TR_VERB_REPLY;
            t.code = TR_UNAVAILABLE;
            t.msg = "server switched: request lost";
            p->cb (ctx->self, ctx, &t, p->arg);
        }
        pending_free (p);
    }
    zhashx_destroy (&old);
    ctx->lost = 1;
    ctx->last_switch = zclock_mono ();
    send_hello (ctx);
}

static int
on_housekeeping (zloop_t *loop, int zid, void *arg)
{
    (void) loop;
    (void) zid;
    troupe_ctx_t *ctx = arg;
    int64_t now = zclock_mono ();
    fd_reap (ctx);
    /* expire requests past their deadline: the callback sees TR_TIMEOUT */
    zlistx_t *keys = zhashx_keys (ctx->pending);
    for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
        pending_t *p = zhashx_lookup (ctx->pending, k);
        if (!p || p->deadline > now)
            continue;
        zhashx_delete (ctx->pending, k);
        tr_env_t t;
        tr_env_init (&t);
        t.id = strtoull (k, NULL, 10);
        t.verb = TR_VERB_REPLY;
        t.code = TR_TIMEOUT;
        char why[200];
        if (p->wire && !p->ever_sent)
            snprintf (why, sizeof why,
                      "request timed out: it waited %d s for room in this client's window (%d in flight, %zu waiting): "
                      "the broker answers slower than this actor sends",
                      BACKLOG_WAIT_FACTOR * p->timeout_ms / 1000, ctx->inflight,
                      zlistx_size (ctx->backlog) + zlistx_size (ctx->backlog_low));
        else
            snprintf (why, sizeof why, "request timed out: broker not answering");
        t.msg = why;
        window_release (ctx, p);
        if (p->list_for)
            p->list_for->listing = 0; /* relisted below once the broker answers again */
        else if (p->cb)
            p->cb (ctx->self, ctx, &t, p->arg);
        pending_free (p);
    }
    /* requests refused with TooManyRequests whose hint has passed: back in line */
    for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
        pending_t *p = zhashx_lookup (ctx->pending, k);
        if (p && p->wire && !p->sent && p->resend_at && p->resend_at <= now) {
            p->resend_at = 0;
            zlistx_add_end (p->low ? ctx->backlog_low : ctx->backlog, strdup (k));
        }
    }
    zlistx_destroy (&keys);
    window_pump (ctx);
    if (ctx->last_pong && now - ctx->last_pong > 3 * PING_EVERY_MS)
        ctx->lost = 1;
    int64_t heard = ctx->last_pong > ctx->last_switch ? ctx->last_pong : ctx->last_switch;
    if (ctx->neps > 1 && now - heard > 3 * PING_EVERY_MS)
        switch_broker (ctx);
    for (troupe_informer_t *inf = zlistx_first (ctx->informers); inf; inf = zlistx_next (ctx->informers))
        if (!inf->listing && !inf->watch_id && !ctx->lost)
            informer_list (inf);
    tr_env_t ping;
    tr_env_init (&ping);
    ping.verb = TR_VERB_PING;
    send_tracked (ctx, ctx->dealer, &ping, ping_reply, NULL, NULL, 0, PING_EVERY_MS * 2, 0);
    return 0;
}

static int
on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    char *cmd = zstr_recv (pipe);
    int stop = !cmd || !strcmp (cmd, "$TERM");
    zstr_free (&cmd);
    return stop ? -1 : 0;
}

/* The actor stops: its requests still waiting for an answer get Unavailable, so that their
 * callbacks free what they hold (their arg) while the actor's state still exists. A callback may
 * send again: a few rounds, then what is left is freed without a call. */
static void
fail_all_pending (troupe_ctx_t *ctx)
{
    for (int round = 0; round < 3; round++) {
        int any = 0;
        zlistx_t *keys = zhashx_keys (ctx->pending);
        for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
            pending_t *p = zhashx_lookup (ctx->pending, k);
            if (!p || !p->cb || p->list_for)
                continue;
            zhashx_delete (ctx->pending, k);
            window_release (ctx, p);
            tr_env_t t;
            tr_env_init (&t);
            t.id = strtoull (k, NULL, 10);
            t.verb = TR_VERB_REPLY;
            t.code = TR_UNAVAILABLE;
            t.msg = "the actor is stopping";
            p->cb (ctx->self, ctx, &t, p->arg);
            pending_free (p);
            any = 1;
        }
        zlistx_destroy (&keys);
        if (!any)
            break;
    }
}

static void
actor_thread (zsock_t *pipe, void *args)
{
    start_args_t *sa = args;
    zsock_signal (pipe, 0); /* zactor_new's handshake; create()'s outcome is signalled below */
    tr_thread_name (sa->def->name);
    troupe_ctx_t *ctx = calloc (1, sizeof *ctx);
    ctx->host = sa->host;
    ctx->def = sa->def;
    ctx->config = sa->config ? sa->config : json_object ();
    ctx->pipe = pipe;
    ctx->next_id = 1;
    ctx->pending = zhashx_new ();
    ctx->window = WINDOW;
    ctx->backlog = zlistx_new ();
    zlistx_set_destructor (ctx->backlog, (zlistx_destructor_fn *) zstr_free);
    ctx->backlog_low = zlistx_new ();
    zlistx_set_destructor (ctx->backlog_low, (zlistx_destructor_fn *) zstr_free);
    ctx->informers = zlistx_new ();
    ctx->peers = zlistx_new ();
    ctx->fds = zlistx_new ();
    ctx->loop = zloop_new ();
    char err[256], eps[512];
    snprintf (eps, sizeof eps, "%s", sa->host->endpoint);
    for (char *save, *ep = strtok_r (eps, ",", &save); ep && ctx->neps < 8; ep = strtok_r (NULL, ",", &save))
        snprintf (ctx->eps[ctx->neps++], sizeof ctx->eps[0], "%s", ep);
    ctx->last_switch = zclock_mono ();
    ctx->dealer = ctx->neps ? tr_conn_dealer (ctx->eps[0], sa->host->has_creds ? &sa->host->creds : NULL, err, sizeof err)
                            : NULL;
    if (!ctx->neps)
        snprintf (err, sizeof err, "no endpoint");
    free (sa);
    if (ctx->dealer) {
        serve_dealer (ctx);
        zloop_reader (ctx->loop, pipe, on_pipe, ctx);
        zloop_timer (ctx->loop, 500, 0, on_housekeeping, ctx);
        send_hello (ctx);
        ctx->self = ctx->def->create (ctx, ctx->config);
    } else
        TR_ERROR (ctx->def->name, "cannot reach broker error=\"%s\"", err);
    int ok = ctx->self != NULL;
    zsock_signal (pipe, ok ? 0 : 1);
    if (ok) {
        zloop_start (ctx->loop);
        if (ctx->throttled) /* as the store's group-commit figures: what flow control cost this actor */
            TR_INFO (ctx->def->name, "requests refused with TooManyRequests: %ld (sent again after %lld ms in all)",
                     ctx->throttled, (long long) ctx->throttled_wait_ms);
        fail_all_pending (ctx);
        ctx->def->destroy (&ctx->self);
    }
    for (troupe_informer_t *inf = zlistx_first (ctx->informers); inf; inf = zlistx_next (ctx->informers))
        informer_destroy (&inf);
    zlistx_destroy (&ctx->informers);
    for (troupe_peer_t *p = zlistx_first (ctx->peers); p; p = zlistx_next (ctx->peers)) {
        zsock_destroy (&p->sock);
        free (p);
    }
    zlistx_destroy (&ctx->peers);
    for (fd_watch_t *w = zlistx_first (ctx->fds); w; w = zlistx_next (ctx->fds))
        free (w);   /* the actor's destroy unwatched its fds; these it forgot */
    zlistx_destroy (&ctx->fds);
    for (pending_t *p = zhashx_first (ctx->pending); p; p = zhashx_next (ctx->pending))
        pending_free (p);
    zlistx_destroy (&ctx->backlog);
    zlistx_destroy (&ctx->backlog_low);
    zhashx_destroy (&ctx->pending);
    zloop_destroy (&ctx->loop);
    zsock_destroy (&ctx->dealer);
    json_decref (ctx->config);
    free (ctx);
    if (!ok)
        return; /* zactor_destroy still sends $TERM; nobody reads it, which is fine */
}

tr_host_t *
tr_host_new (const tr_host_opts_t *o)
{
    tr_host_t *h = calloc (1, sizeof *h);
    snprintf (h->endpoint, sizeof h->endpoint, "%s", o->endpoint);
    if (o->creds) {
        h->creds = *o->creds;
        h->has_creds = 1;
    }
    snprintf (h->node_name, sizeof h->node_name, "%s", o->node_name ? o->node_name : "");
    snprintf (h->data_dir, sizeof h->data_dir, "%s", o->data_dir ? o->data_dir : "");
    h->fence = o->fence;
    h->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : REQUEST_TIMEOUT_MS;
    return h;
}

int
tr_host_start (tr_host_t *self, const troupe_actor_t *def, const json_t *config)
{
    if (!def || def->abi != TROUPE_ACTOR_ABI || !def->create || !def->destroy || !def->name) {
        TR_ERROR ("host", "actor refused: ABI %u, this host speaks %d", def ? def->abi : 0, TROUPE_ACTOR_ABI);
        return -1;
    }
    if (self->n == MAX_ACTORS)
        return -1;
    start_args_t *sa = calloc (1, sizeof *sa);
    sa->host = self;
    sa->def = def;
    sa->config = config ? json_deep_copy (config) : NULL;
    zactor_t *a = zactor_new (actor_thread, sa);
    if (!a)
        return -1;
    if (zsock_wait (a)) {
        zactor_destroy (&a);
        TR_ERROR ("host", "actor %s failed to start", def->name);
        return -1;
    }
    self->slots[self->n].actor = a;
    snprintf (self->slots[self->n].name, sizeof self->slots[self->n].name, "%s", def->name);
    self->n++;
    TR_INFO ("host", "actor started name=%s", def->name);
    return 0;
}

int
tr_host_load (tr_host_t *self, const char *path, const json_t *config, char *err, size_t errlen)
{
    void *so = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        snprintf (err, errlen, "actor %s: %s", path, dlerror ());
        return -1;
    }
    troupe_actor_entry_fn entry = (troupe_actor_entry_fn) (uintptr_t) dlsym (so, "troupe_actor_entry");
    if (!entry) {
        snprintf (err, errlen, "actor %s: no troupe_actor_entry symbol", path);
        dlclose (so);
        return -1;
    }
    const troupe_actor_t *def = entry ();
    if (!def || def->abi != TROUPE_ACTOR_ABI) {
        snprintf (err, errlen, "actor %s: ABI %u, this troupe speaks %d", path, def ? def->abi : 0,
                  TROUPE_ACTOR_ABI);
        dlclose (so);
        return -1;
    }
    /* the .so stays loaded for the life of the process: its code runs on the actor's thread */
    if (tr_host_start (self, def, config)) {
        snprintf (err, errlen, "actor %s: create() refused to start", path);
        return -1;
    }
    return 0;
}

void
tr_host_destroy (tr_host_t **self_p)
{
    tr_host_t *h = *self_p;
    if (!h)
        return;
    for (int i = h->n - 1; i >= 0; i--)
        zactor_destroy (&h->slots[i].actor);
    free (h);
    *self_p = NULL;
}
