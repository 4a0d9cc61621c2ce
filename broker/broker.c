/* broker — the thread, request dispatch, reads and watches, the store's messages, start-up. See
 * broker.h; the write path is in broker_write.c, identities and roles in broker_auth.c, the watch
 * cache (objects + event ring + watchers) in broker_cache.c. */
#include "broker/broker.h"
#include "broker/broker_int.h"
#include "broker/priority.h"
#include "core/certdir.h"
#include "core/conn.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/zap.h"
#include "core/meta.h"
#include "core/schema.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- small helpers -------------------------------------------------------------------------- */

void
bk_rfc3339_now (char *buf, size_t len)
{
    tr_time_format ((int64_t) time (NULL) * 1000, buf, len);
}

#define ROUTER_SNDHWM 4096        /* messages queued in ZeroMQ per client pipe */
#define OUTQ_MAX 1024             /* replies held by the broker for a client whose pipe is full */
#define OUTQ_MAX_BYTES (16u << 20)
#define STORE_HWM 20000           /* broker → store: more than the requests allowed in flight */
#define DEF_MAX_INFLIGHT 4096
#define DEF_MAX_INFLIGHT_CLIENT 512
#define DEF_REQUEST_TIMEOUT_MS 20000
#define DEF_CLIENT_SILENCE_MS 10000
#define RETRY_AFTER_S 1
#define CUT_KEEP_MS 600000        /* how long a client whose watches were cut is remembered */
/* Nodes' writes served in one turn of the loop before the nodes' further writes wait (node_pump):
 * 8 beside the others' 64 is about the share Kubernetes' default configuration gives kubelets'
 * `system` priority level (30 of 245); and the messages one turn reads at most when the nodes'
 * are put aside unserved (docs/decisions.md, "Nodes' writes yield") */
#define NODE_TURN 8
#define TURN_READS 1024

/* Tests only (broker.h): paused, the broker signals its pipe and waits for "RESUME" (*step = 0)
 * or "STEP" (*step = 1: one turn of the loop, then paused again). -1 for anything else ("$TERM"). */
static int
hold (zsock_t *pipe, int *step)
{
    zsock_signal (pipe, 0);
    char *cmd = zstr_recv (pipe);
    int rc = cmd && !strcmp (cmd, "RESUME") ? 0 : cmd && !strcmp (cmd, "STEP") ? 1 : -1;
    free (cmd);
    *step = rc == 1;
    return rc < 0 ? -1 : 0;
}

/* The broker of this thread: bk_reply has no broker argument (it is called from every file), and
 * each broker runs on its own thread (tests run several in one process). */
static _Thread_local broker_t *tl_broker;

/* ---- clients: non-blocking output, liveness, share of requests in flight -------------------- */

static void
conn_key (broker_t *b, zsock_t *sock, zframe_t *rid, char key[24])
{
    size_t n = zframe_size (rid), o = 0;
    const unsigned char *d = zframe_data (rid);
    key[o++] = sock == b->remote ? 'r' : 'l';
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n && o + 3 < 24; i++) { /* looked up for every message: no snprintf */
        key[o++] = hex[d[i] >> 4];
        key[o++] = hex[d[i] & 15];
    }
    key[o] = 0;
}

static conn_t *
conn_get (broker_t *b, zsock_t *sock, zframe_t *rid, int create)
{
    if (!b || !sock || !rid)
        return NULL;
    char key[24];
    conn_key (b, sock, rid, key);
    conn_t *c = zhashx_lookup (b->conns, key);
    if (!c && create) {
        c = calloc (1, sizeof *c);
        c->sock = sock;
        c->rid = zframe_dup (rid);
        snprintf (c->key, sizeof c->key, "%s", key);
        c->outq = zlistx_new ();
        zlistx_set_destructor (c->outq, (zlistx_destructor_fn *) zframe_destroy);
        c->last_seen = zclock_mono ();
        zhashx_insert (b->conns, key, c);
    }
    return c;
}

static void
parked_free (void **item)
{
    parked_t *p = *item;
    if (p) {
        tr_env_clear (&p->req);
        free (p);
    }
    *item = NULL;
}

static void
conn_free (void **item)
{
    conn_t *c = *item;
    if (c) {
        zframe_destroy (&c->rid);
        zlistx_destroy (&c->outq);
        zlistx_destroy (&c->waitq);
        free (c);
    }
    *item = NULL;
}

static void
conn_drop (broker_t *b, conn_t *c)
{
    if (c->h_park) {
        /* its queued requests are answered first (if its pipe takes it; before its
         * queue of replies is counted out), never just forgotten */
        for (parked_t *p = zlistx_first (c->waitq); p; p = zlistx_next (c->waitq))
            bk_reply (c->sock, c->rid, &p->req, TR_UNAVAILABLE, NULL, 0,
                      "client not heard from: its queued request was dropped unserved; send it again");
        b->parked -= zlistx_size (c->waitq);
        zlistx_delete (b->parkers, c->h_park);
        c->h_park = NULL;
    }
    if (c->inflight)
        b->active--;
    b->queued -= zlistx_size (c->outq);
    zhashx_delete (b->conns, c->key);
}

/* Sends an encoded envelope to a client without ever blocking: straight into its pipe when
 * there is room, else behind the replies already waiting for it (order kept). A client whose
 * queue is full loses the reply (its request then times out on its side: it does not read). */
static void
out_send (broker_t *b, zsock_t *sock, zframe_t *rid, const char *buf, size_t len)
{
    conn_t *c = conn_get (b, sock, rid, 0);
    if (!c || !zlistx_size (c->outq)) {
        if (!tr_conn_send_bytes_nb (sock, rid, buf, len))
            return;
        if (errno != EAGAIN)
            return; /* EHOSTUNREACH: the client is gone */
        c = conn_get (b, sock, rid, 1);
        if (!c)
            return;
    }
    if (zlistx_size (c->outq) >= OUTQ_MAX || c->outq_bytes + len > OUTQ_MAX_BYTES) {
        if (!c->dropped++)
            TR_WARN (A, "client does not read its replies: dropping them client=%s queued=%zu", c->key,
                     zlistx_size (c->outq));
        return;
    }
    zlistx_add_end (c->outq, zframe_new (buf, len));
    c->outq_bytes += len;
    b->queued++;
}

/* Moves queued replies into pipes that have room again. */
static void
out_flush (broker_t *b)
{
    for (conn_t *c = zhashx_first (b->conns); c && b->queued; c = zhashx_next (b->conns)) {
        zframe_t *f;
        while ((f = zlistx_first (c->outq))) {
            if (tr_conn_send_bytes_nb (c->sock, c->rid, zframe_data (f), zframe_size (f)) && errno == EAGAIN)
                break;
            c->outq_bytes -= zframe_size (f);
            zlistx_delete (c->outq, zlistx_cursor (c->outq));
            b->queued--;
        }
    }
}

/* A request that was in flight to the store (or an agent) is over: the client's share frees. */
static void
inflight_done (broker_t *b, zsock_t *sock, zframe_t *rid)
{
    conn_t *c = conn_get (b, sock, rid, 0);
    if (c && c->inflight > 0 && !--c->inflight)
        b->active--;
}

/* How many requests a client may have in flight now: an equal share of the global cap among the
 * clients that have some (fair queuing, simplified), within [2, max_inflight_client]. */
static size_t
client_share (broker_t *b, const conn_t *c)
{
    size_t clients = b->active + (c->inflight ? 0 : 1);
    size_t share = b->max_inflight / (clients ? clients : 1);
    return share < 2 ? 2 : share > b->max_inflight_client ? b->max_inflight_client : share;
}

void
bk_pending_add (broker_t *b, uint64_t pid, pending_write_t *p)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) pid);
    zhashx_insert (b->pending, k, p);
    conn_t *c = conn_get (b, p->sock, p->rid, 0); /* NULL for internal proposals: nobody's share */
    if (c && !c->inflight++)
        b->active++; /* a client with requests in flight: the fair share divides among these */
}

/* Encodes and sends a reply (r->msg is freed); raw: the body already encoded (r->body unused). A
 * reply larger than a message may be becomes TooLarge saying so (a list that large is paged). */
static void
reply_send (zsock_t *sock, zframe_t *rid, const tr_env_t *req, tr_env_t *r, const char *raw, size_t raw_len)
{
    char *buf = NULL;
    size_t len = 0;
    if (raw ? tr_env_encode_with (r, raw, raw_len, &buf, &len) : tr_env_encode (r, &buf, &len))
        buf = NULL;
    if (buf && len > TR_MAX_FRAME) {
        size_t big = len;
        free (buf);
        free (r->msg);
        r->body = NULL;
        r->code = TR_TOO_LARGE;
        if (asprintf (&r->msg, "the reply is %zu bytes, more than the %u a message may carry%s", big, TR_MAX_FRAME,
                      req && req->verb == TR_VERB_LIST ? ": list it in pages (limit and continue; troupe get --chunk-size)"
                                                       : "") < 0)
            r->msg = NULL;
        if (tr_env_encode (r, &buf, &len))
            buf = NULL;
    }
    if (buf) {
        if (tl_broker)
            out_send (tl_broker, sock, rid, buf, len);
        else
            tr_conn_send_bytes_nb (sock, rid, buf, len);
        free (buf);
    }
    free (r->msg);
    r->msg = NULL;
}

static void
reply_init (tr_env_t *r, const tr_env_t *req, tr_code_t code, uint64_t rv)
{
    tr_env_init (r);
    r->id = req ? req->id : 0;
    r->verb = TR_VERB_REPLY;
    r->code = code;
    r->rv = rv;
}

void
bk_reply (zsock_t *sock, zframe_t *rid, const tr_env_t *req, tr_code_t code, json_t *body, uint64_t rv, const char *fmt,
          ...)
{
    if (!sock) /* an internal proposal (namespace clean-up, defaults): nobody waits */
        return;
    tr_env_t r;
    reply_init (&r, req, code, rv);
    r.body = body;
    if (fmt) {
        va_list ap;
        va_start (ap, fmt);
        if (vasprintf (&r.msg, fmt, ap) < 0)
            r.msg = NULL;
        va_end (ap);
    }
    reply_send (sock, rid, req, &r, NULL, 0);
}

void
bk_reply_encoded (zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *body, size_t body_len, uint64_t rv)
{
    if (!sock)
        return;
    tr_env_t r;
    reply_init (&r, req, TR_OK, rv);
    reply_send (sock, rid, req, &r, body, body_len);
}

static void
send_env (broker_t *b, zsock_t *sock, zframe_t *rid, const tr_env_t *env)
{
    char *buf;
    size_t len;
    if (!tr_env_encode (env, &buf, &len)) {
        out_send (b, sock, rid, buf, len);
        free (buf);
    }
}

/* Store administration on a replicated store: status (q), member removal (m), snapshot chunks
 * (v). The request goes to the store as {"t":t,"id":pid,...args}; its answer map becomes the reply
 * body ("status" for q). */
static void
store_call (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, const char *t, json_t *args)
{
    uint64_t pid = b->next_id++;
    json_t *m = args ? args : json_object ();
    json_object_set_new (m, "t", json_string (t));
    json_object_set_new (m, "id", json_integer ((json_int_t) pid));
    char *buf = NULL;
    size_t len = 0;
    if (tv_encode (m, &buf, &len)) {
        bk_reply (sock, rid, req, TR_INTERNAL, NULL, 0, "cannot encode a store request");
        json_decref (m);
        return;
    }
    json_decref (m);
    pending_write_t *p = calloc (1, sizeof *p);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    snprintf (p->what, sizeof p->what, "store %s", t);
    bk_pending_add (b, pid, p);
    zsock_send (b->store, "b", buf, len);
    free (buf);
}

/* Kinds served by the replicated store itself, not by schema/: StoreStatus (get; opts.digest: with
 * the state machine's digest), StoreMember (delete NAME: an id or a peer address), StoreSnapshot
 * (get, opts.offset: 1 MiB chunks). */
static int
store_admin (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, const char *kind)
{
    int status = req->verb == TR_VERB_GET && !strcmp (kind, "StoreStatus");
    int member = req->verb == TR_VERB_DELETE && !strcmp (kind, "StoreMember");
    int snap = req->verb == TR_VERB_GET && !strcmp (kind, "StoreSnapshot");
    if (!status && !member && !snap)
        return 0;
    if (!b->replicated)
        bk_reply (sock, rid, req, TR_NOT_FOUND, NULL, 0, "this server's store is not replicated (no --peer-listen)");
    else if (id->role != ROLE_ADMIN && !(status && id->role == ROLE_VIEWER))
        bk_reply (sock, rid, req, TR_FORBIDDEN, NULL, 0, "%s: no: %s needs the admin role", id->name, kind);
    else if (status)
        store_call (b, sock, rid, req, "q",
                    tv_bool (req->opts, "digest", false) ? json_pack ("{s:b}", "digest", 1) : NULL);
    else if (member)
        store_call (b, sock, rid, req, "m", json_pack ("{s:s}", "remove", req->name));
    else
        store_call (b, sock, rid, req, "v", json_pack ("{s:I}", "offset", (json_int_t) tv_int (req->opts, "offset", 0)));
    return 1;
}

pending_write_t *
bk_pending_take (broker_t *b, const msgpack_object *o)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) sp_u64 (sp_field (o, "id"), 0));
    pending_write_t *p = zhashx_lookup (b->pending, k);
    if (p) {
        zhashx_delete (b->pending, k);
        inflight_done (b, p->sock, p->rid);
    }
    return p;
}

static void
on_store_answer (broker_t *b, const msgpack_object *o)
{
    pending_write_t *p = bk_pending_take (b, o);
    if (!p)
        return;
    const msgpack_object *st = sp_field (o, "status");
    char err[200];
    json_t *body = tv_from_msgpack (st ? st : o, err, sizeof err);
    tr_env_t req;
    tr_env_init (&req);
    req.id = p->req_id;
    const char *e = body ? tv_str (body, "error") : NULL;
    if (!body)
        bk_reply (p->sock, p->rid, &req, TR_INTERNAL, NULL, 0, "%s: malformed answer", p->what);
    else if (e && *e)
        bk_reply (p->sock, p->rid, &req, tv_bool (body, "unavailable", false) ? TR_UNAVAILABLE : TR_BAD_REQUEST, NULL,
                  0, "%s", e);
    else
        bk_reply (p->sock, p->rid, &req, TR_OK, body, 0, NULL);
    json_decref (body);
    zframe_destroy (&p->rid);
    free (p);
}

static void on_read_ready (broker_t *b, const msgpack_object *o);
static json_t *too_many_body (void);
static void start_reload (broker_t *b);

void
bk_reload_cache (broker_t *b)
{
    if (!b->reloading)
        start_reload (b);
}

/* The replicated store replaced its data (a snapshot from the leader): reload the cache from it;
 * watchers get EXPIRED and relist, as after a watch-cache gap. */
static void
start_reload (broker_t *b)
{
    TR_WARN (A, "the store was restored from a snapshot: reloading the cache, watchers must relist");
    bcache_reset (b->cache);
    b->reloading = 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "g", 0, "/registry/");
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
finish_reload (broker_t *b, const msgpack_object *o)
{
    if (bcache_load (b->cache, sp_field (o, "kvs"), sp_u64 (sp_field (o, "rev"), 0)))
        TR_ERROR (A, "cache reload: malformed range answer");
    b->reloading = 0;
    zmsg_t *m;
    while ((m = zlistx_first (b->reload_events))) {
        zlistx_delete (b->reload_events, zlistx_cursor (b->reload_events));
        zframe_t *f = zmsg_first (m);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        if (msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
            bcache_apply_events (b->cache, sp_field (&up.data, "ev"));
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&m);
    }
    TR_INFO (A, "cache reloaded objects=%zu revision=%llu", bcache_count (b->cache),
             (unsigned long long) bcache_revision (b->cache));
}

/* Unpacks a store message's first frame into up (initialised by the caller) and gives its type
 * in t ("e" events, "l" renewals, "k" a range, "x" a restore, "r" a write's result...; "" when it
 * has none). 0, or -1 when the frame is not msgpack. */
static int
store_msg_unpack (zmsg_t *m, msgpack_unpacked *up, char t[4])
{
    zframe_t *f = zmsg_first (m);
    t[0] = 0;
    if (!f || msgpack_unpack_next (up, (const char *) zframe_data (f), zframe_size (f), NULL) != MSGPACK_UNPACK_SUCCESS)
        return -1;
    const msgpack_object *tf = sp_field (&up->data, "t");
    if (tf)
        sp_str (tf, t, 4);
    return 0;
}

/* Reads and handles one message from the store. 0 when there was none (the loop's sockets do not
 * wait: rcvtimeo 0), 1 otherwise. */
static int
on_store_message (broker_t *b)
{
    zmsg_t *m = zmsg_recv (b->store);
    if (!m)
        return 0;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    char t[4];
    if (store_msg_unpack (m, &up, t) == 0) {
        if (!strcmp (t, "e") && b->reloading) {
            zlistx_add_end (b->reload_events, m); /* applied after the reload, those it lacks */
            m = NULL;
        } else if (!strcmp (t, "e"))
            bcache_apply_events (b->cache, sp_field (&up.data, "ev"));
        else if (!strcmp (t, "l") && !b->reloading)
            bcache_apply_renewals (b->cache, sp_field (&up.data, "kvs"));
        else if (!strcmp (t, "x"))
            start_reload (b);
        else if (!strcmp (t, "k") && b->reloading)
            finish_reload (b, &up.data);
        else if (!strcmp (t, "r"))
            bk_on_store_result (b, &up.data);
        else if (!strcmp (t, "q") || !strcmp (t, "m") || !strcmp (t, "v"))
            on_store_answer (b, &up.data);
        else if (!strcmp (t, "b"))
            on_read_ready (b, &up.data);
    }
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&m);
    return 1;
}

static void
h_get (rq_t *r)
{
    uint64_t mod_rev;
    const json_t *cur = bk_lookup (r, r->req->name, &mod_rev);
    if (!cur)
        return;
    size_t len;
    const char *enc = bcache_get_encoded (r->b->cache, r->key, &len, NULL);
    if (enc)
        bk_reply_encoded (r->sock, r->rid, r->req, enc, len, mod_rev);
    else
        bk_reply (r->sock, r->rid, r->req, TR_OK, (json_t *) cur, mod_rev, NULL);
}

/* list, paged as the api-server pages (opts.limit, opts.continue): a page's metadata carries
 * `continue` (the token of the next) and `remainingItemCount` while objects remain; every page is
 * of the first page's snapshot and carries its resourceVersion. The objects come encoded from the
 * cache (each encoded once), the List around them is packed here. */
static void
h_list (rq_t *r)
{
    char err[256];
    uint64_t rev = 0;
    json_t *lim = json_object_get (r->req->opts, "limit");
    if (lim && (!json_is_integer (lim) || json_integer_value (lim) < 0)) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "limit: Invalid value: must be a non-negative integer");
        return;
    }
    msgpack_sbuffer items;
    msgpack_sbuffer_init (&items);
    bcache_page_t pg;
    int rc = bcache_list_page (r->b->cache, schema_kind_plural (r->sk), r->ns, tv_str (r->req->opts, "labelSelector"),
                               tv_str (r->req->opts, "fieldSelector"), lim ? (long) json_integer_value (lim) : 0,
                               tv_str (r->req->opts, "continue"), &items, &rev, &pg, err, sizeof err);
    if (rc) {
        msgpack_sbuffer_destroy (&items);
        bk_reply (r->sock, r->rid, r->req, (tr_code_t) rc, NULL, 0, "%s", err);
        return;
    }
    TR_DEBUG (A, "list kind=%s ns=%s labelSelector=%s fieldSelector=%s bytes=%zu", schema_kind_plural (r->sk), r->ns,
              tv_str (r->req->opts, "labelSelector") ? tv_str (r->req->opts, "labelSelector") : "",
              tv_str (r->req->opts, "fieldSelector") ? tv_str (r->req->opts, "fieldSelector") : "", items.size);
    char rvs[24];
    snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) rev);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sp_pack_cstr (&pk, "apiVersion");
    sp_pack_cstr (&pk, "v1");
    sp_pack_cstr (&pk, "kind");
    sp_pack_cstr (&pk, "List");
    sp_pack_cstr (&pk, "metadata");
    msgpack_pack_map (&pk, pg.next[0] ? 3 : 1);
    sp_pack_cstr (&pk, "resourceVersion");
    sp_pack_cstr (&pk, rvs);
    if (pg.next[0]) {
        sp_pack_cstr (&pk, "continue");
        sp_pack_cstr (&pk, pg.next);
        sp_pack_cstr (&pk, "remainingItemCount");
        msgpack_pack_uint64 (&pk, pg.remaining);
    }
    sp_pack_cstr (&pk, "items");
    msgpack_sbuffer_write (&sb, items.data, items.size);
    msgpack_sbuffer_destroy (&items);
    if (r->sock) {
        tr_env_t rep;
        tr_env_init (&rep);
        rep.id = r->req->id;
        rep.verb = TR_VERB_REPLY;
        rep.rv = rev;
        reply_send (r->sock, r->rid, r->req, &rep, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy (&sb);
}

static void
h_watch (rq_t *r)
{
    char err[256];
    int rc = bcache_watch (r->b->cache, r->sock, r->rid, r->req->id, schema_kind_plural (r->sk), r->ns,
                           tv_str (r->req->opts, "labelSelector"), tv_str (r->req->opts, "fieldSelector"), r->req->rv,
                           tv_int (r->req->opts, "credit", 1000), err, sizeof err);
    if (rc)
        bk_reply (r->sock, r->rid, r->req, (tr_code_t) rc, NULL, 0, "%s", err);
    else {
        bcache_watch_batch (r->b->cache, r->rid, r->req->id, tv_int (r->req->opts, "batch", 1));
        bk_reply (r->sock, r->rid, r->req, TR_OK, NULL, 0, NULL);
        bcache_pump (r->b->cache);
    }
}

static void
h_logs (rq_t *r)
{
    uint64_t mod_rev;
    const json_t *pod = bk_lookup (r, r->req->name, &mod_rev);
    if (!pod)
        return;
    const char *node = tv_str (pod, "spec.nodeName");
    zframe_t *nrid = node ? zhashx_lookup (r->b->nodes, node) : NULL;
    if (!nrid) {
        bk_reply (r->sock, r->rid, r->req, TR_UNAVAILABLE, NULL, 0, "pod \"%s\": %s", r->req->name,
                  node ? "its node's agent is not connected" : "not scheduled to a node yet");
        return;
    }
    forward_t *f = calloc (1, sizeof *f);
    f->sock = r->sock;
    f->rid = zframe_dup (r->rid);
    f->req_id = r->req->id;
    f->deadline = zclock_mono () + r->b->request_timeout_ms;
    /* a one-shot exec answers when its command ended: its timeout (the agent's bound: 1 day),
     * plus the node's answer (the agent waits timeoutSeconds + 5 s for the shim) */
    json_int_t tmo = r->req->verb == TR_VERB_EXEC ? tv_int (r->req->body, "timeoutSeconds", 0) : 0;
    if (tmo > 86400) /* a client's number: bounded before any arithmetic */
        tmo = 86400;
    if (tmo > 0 && tmo * 1000 + 8000 > r->b->request_timeout_ms)
        f->deadline = zclock_mono () + tmo * 1000 + 8000;
    snprintf (f->node, sizeof f->node, "%s", node);
    uint64_t fid = r->b->next_id++;
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) fid);
    zhashx_insert (r->b->forwards, k, f);
    tr_env_t fwd = *r->req;
    fwd.id = fid;
    snprintf (fwd.ns, sizeof fwd.ns, "%s", r->ns);
    send_env (r->b, zhashx_lookup (r->b->node_sock, node), nrid, &fwd);
}

static void
h_forward_reply (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *env)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) env->id);
    forward_t *f = zhashx_lookup (b->forwards, k);
    if (!f)
        return;
    zframe_t *agent = zhashx_lookup (b->nodes, f->node);
    if (zhashx_lookup (b->node_sock, f->node) != sock || !agent || !zframe_eq (agent, rid)) {
        /* forward ids are sequential: anyone could answer in the agent's place */
        TR_WARN (A, "ignored a reply to a forwarded request from a client that is not node %s's agent", f->node);
        return;
    }
    zhashx_delete (b->forwards, k);
    env->id = f->req_id;
    send_env (b, f->sock, f->rid, env);
    zframe_destroy (&f->rid);
    free (f);
}

static void
h_hello (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id)
{
    const char *actor = tv_str (req->body, "actor");
    const char *node = tv_str (req->body, "node");
    if (actor && node && *node && !strcmp (actor, "agent")) {
        if (id->role == ROLE_NODE && strcmp (id->name, node)) {
            bk_reply (sock, rid, req, TR_FORBIDDEN, NULL, 0, "node \"%s\" may not register as \"%s\"", id->name, node);
            return;
        }
        zhashx_update (b->nodes, node, zframe_dup (rid));
        zhashx_update (b->node_sock, node, sock);
        conn_get (b, sock, rid, 1)->node = 1;
        TR_INFO (A, "agent connected node=%s", node);
    }
    json_t *body = json_pack ("{s:s,s:s}", "instance", b->instance, "identity", id->name);
    bk_reply (sock, rid, req, TR_OK, body, 0, NULL);
    json_decref (body);
}

/* ---- dispatch ------------------------------------------------------------------------------- */


/* A linearizable read on a replicated store: the cache may lag the leader (this server may be a
 * follower, or a deposed leader), so the request waits for the store's read barrier — the point
 * where this server has applied everything committed before the read arrived — and is then
 * served from the cache. opts.stale=true skips it (list-heavy clients that accept a lag). */
static void
read_barrier (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts)
{
    uint64_t pid = b->next_id++;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "b", pid, NULL);
    pending_write_t *p = calloc (1, sizeof *p);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    snprintf (p->what, sizeof p->what, "read");
    p->retry = calloc (1, sizeof *p->retry);
    *p->retry = *req;
    p->retry->body = json_incref (req->body); /* read-only: shared, as bk_propose does */
    p->retry->opts = json_incref (req->opts);
    p->retry->msg = NULL;
    p->ident = *id;
    p->attempts = attempts;
    bk_pending_add (b, pid, p);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
on_read_ready (broker_t *b, const msgpack_object *o)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) sp_u64 (sp_field (o, "id"), 0));
    pending_write_t *p = zhashx_lookup (b->pending, k);
    if (!p)
        return;
    zhashx_delete (b->pending, k);
    inflight_done (b, p->sock, p->rid);
    const msgpack_object *ok = sp_field (o, "ok");
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
        b->read_ready = 1;
        bk_handle (b, p->sock, p->rid, p->retry, &p->ident, p->attempts);
        b->read_ready = 0;
    } else
        bk_reply (p->sock, p->rid, p->retry, TR_UNAVAILABLE, NULL, 0,
                  "the store has no leader: a linearizable read cannot be served now (retry, or read with stale=true)");
    zframe_destroy (&p->rid);
    tr_env_clear (p->retry);
    free (p->retry);
    free (p);
}

/* Serves one decoded, authenticated request for a kind. attempts > 0 when re-run after a
 * Conflict on our own read-modify-write. */
void
bk_handle (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts)
{
    rq_t r = {.b = b, .sock = sock, .rid = rid, .req = req, .id = id, .attempts = attempts};
    const char *kind = req->kind[0] ? req->kind : tv_str (req->body, "kind");
    if (kind && store_admin (b, sock, rid, req, id, kind))
        return;
    r.sk = kind ? schema_kind_lookup (b->schemas, kind) : NULL;
    if (!r.sk) {
        bk_reply (sock, rid, req, TR_NOT_FOUND, NULL, 0, "the server doesn't have a resource type \"%s\"",
                  kind ? kind : "");
        return;
    }
    if (b->reloading) {
        /* the cache is empty until the store's range answer: a read would say NotFound (an empty
         * list) of objects that exist, which informers take for deletions. As the api-server
         * while its watch cache is not ready: 429, retry */
        json_t *body = too_many_body ();
        bk_reply (sock, rid, req, TR_TOO_MANY_REQUESTS, body, 0,
                  "storage is (re)initializing: the broker is reloading its cache from the store; retry after %d s",
                  RETRY_AFTER_S);
        json_decref (body);
        return;
    }
    if (schema_kind_namespaced (r.sk))
        snprintf (r.ns, sizeof r.ns, "%s", req->ns[0] ? req->ns : (req->verb == TR_VERB_LIST || req->verb == TR_VERB_WATCH ? "" : "default"));
    /* a linearizable read is authorised after its barrier: the node authorizer reads the cache */
    int barrier = b->replicated && !b->read_ready && (req->verb == TR_VERB_GET || req->verb == TR_VERB_LIST) &&
                  !tv_bool (req->opts, "stale", false);
    if (!bk_is_write (req->verb) && !barrier && bk_authorize (&r, NULL, NULL, req->name))
        return;
    if (bk_is_write (req->verb) && bk_authorize_role (&r)) /* the object's checks come later */
        return;
    if (!barrier && bk_secrets_guard (&r))
        return;
    if (barrier) {
        read_barrier (b, sock, rid, req, id, attempts);
        return;
    }
    switch (req->verb) {
    case TR_VERB_CREATE: bk_h_create (&r); break;
    case TR_VERB_GET: h_get (&r); break;
    case TR_VERB_LIST: h_list (&r); break;
    case TR_VERB_UPDATE: bk_h_update (&r, 0); break;
    case TR_VERB_UPDATE_STATUS: bk_h_update (&r, 1); break;
    case TR_VERB_PATCH: bk_h_patch (&r); break;
    case TR_VERB_DELETE: bk_h_delete (&r); break;
    case TR_VERB_WATCH: h_watch (&r); break;
    case TR_VERB_LOGS:
    case TR_VERB_EXEC: h_logs (&r); break;
    default:
        bk_reply (sock, rid, req, TR_METHOD_NOT_ALLOWED, NULL, 0, "verb \"%s\" is not served by the broker",
                  tr_verb_name (req->verb));
    }
}

/* Once a second: requests whose store (or agent) answer is overdue end with Timeout; clients
 * silent past client_silence_ms lose their watches (they are remembered, so that a ping from
 * them is told, and they resume or relist); the table of clients is trimmed. */
static void
sweep (broker_t *b)
{
    int64_t now = zclock_mono ();
    zlistx_t *keys = zhashx_keys (b->pending);
    for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
        pending_write_t *p = zhashx_lookup (b->pending, k);
        if (!p->deadline) {
            p->deadline = now + b->request_timeout_ms;
            continue;
        }
        if (p->deadline > now)
            continue;
        zhashx_delete (b->pending, k);
        inflight_done (b, p->sock, p->rid);
        tr_env_t req;
        tr_env_init (&req);
        req.id = p->retry ? p->retry->id : p->req_id;
        TR_WARN (A, "store answer overdue: request ended with Timeout what=\"%s\" after_ms=%d", p->what,
                 b->request_timeout_ms);
        bk_reply (p->sock, p->rid, &req, TR_TIMEOUT, NULL, 0,
                  "%s: the store did not answer within %.1f s (a write may or may not have been made)", p->what,
                  b->request_timeout_ms / 1000.0);
        bk_pending_free (b, p);
    }
    zlistx_destroy (&keys);
    keys = zhashx_keys (b->forwards);
    for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
        forward_t *f = zhashx_lookup (b->forwards, k);
        if (f->deadline > now)
            continue;
        zhashx_delete (b->forwards, k);
        tr_env_t req;
        tr_env_init (&req);
        req.id = f->req_id;
        bk_reply (f->sock, f->rid, &req, TR_TIMEOUT, NULL, 0, "the node's agent did not answer within %.1f s",
                  b->request_timeout_ms / 1000.0);
        zframe_destroy (&f->rid);
        free (f);
    }
    zlistx_destroy (&keys);
    keys = zhashx_keys (b->conns);
    for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
        conn_t *c = zhashx_lookup (b->conns, k);
        if (now - c->last_seen <= b->silence_ms)
            continue;
        char why[120];
        snprintf (why, sizeof why, "watch cut: client not heard from for %d s", b->silence_ms / 1000);
        size_t n = bcache_unwatch_client (b->cache, c->sock, c->rid, why);
        if (n) {
            TR_INFO (A, "client silent (gone or stopped): its watches were dropped client=%s watches=%zu silent_ms=%lld", c->key, n,
                     (long long) (now - c->last_seen));
            if (zhashx_size (b->cut) < 65536) {
                int64_t *t = malloc (sizeof *t);
                *t = now;
                zhashx_update (b->cut, c->key, t);
            }
        }
        if (c->dropped)
            TR_WARN (A, "client did not read its replies client=%s dropped=%zu", c->key, c->dropped);
        conn_drop (b, c);
    }
    zlistx_destroy (&keys);
    keys = zhashx_keys (b->cut);
    for (char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
        int64_t *t = zhashx_lookup (b->cut, k);
        if (now - *t > CUT_KEEP_MS)
            zhashx_delete (b->cut, k);
    }
    zlistx_destroy (&keys);
    bcache_pump (b->cache); /* drops the watchers cut above */
}

/* Does this request need the store (a write, or a linearizable read on a replicated store)? Those
 * are what a full broker refuses with TooManyRequests; cached reads and watches are served. */
static int
needs_store (broker_t *b, const tr_env_t *req)
{
    if (bk_is_write (req->verb))
        return 1;
    return b->replicated && (req->verb == TR_VERB_GET || req->verb == TR_VERB_LIST) &&
           !tv_bool (req->opts, "stale", false);
}

static json_t *
too_many_body (void)
{
    return json_pack ("{s:s,s:s,s:i,s:s,s:{s:i}}", "kind", "Status", "status", "Failure", "code", 429, "reason",
                      "TooManyRequests", "details", "retryAfterSeconds", RETRY_AFTER_S);
}

static void
too_many (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, conn_t *c, size_t share)
{
    size_t all = zhashx_size (b->pending);
    json_t *body = too_many_body ();
    if (all >= b->max_inflight)
        bk_reply (sock, rid, req, TR_TOO_MANY_REQUESTS, body, 0,
                  "Too many requests, please try again later: %zu requests in flight (limit %zu); retry after %d s",
                  all, b->max_inflight, RETRY_AFTER_S);
    else
        bk_reply (sock, rid, req, TR_TOO_MANY_REQUESTS, body, 0,
                  "Too many requests, please try again later: this client has %d requests in flight (its share: %zu "
                  "of %zu, among %zu clients); retry after %d s",
                  c->inflight, share, b->max_inflight, b->active, RETRY_AFTER_S);
    json_decref (body);
}

/* Queues req (moved: the caller's is left empty) behind c's other waiting requests. */
static void
park (broker_t *b, conn_t *c, tr_env_t *req, const ident_t *id)
{
    parked_t *p = calloc (1, sizeof *p);
    p->req = *req;
    tr_env_init (req);
    p->id = *id;
    p->at = zclock_mono ();
    if (!c->waitq) {
        c->waitq = zlistx_new ();
        zlistx_set_destructor (c->waitq, parked_free);
    }
    zlistx_add_end (c->waitq, p);
    if (!c->h_park)
        c->h_park = zlistx_add_end (b->parkers, c);
    b->parked++;
}

/* Serves the queued requests whose client's share has room again, oldest first per client; one
 * that waited longer than a quarter of the request timeout is refused TooManyRequests (as the
 * api-server's queues time out), and the client sends it again after the hint. */
static void
waitq_pump (broker_t *b)
{
    int64_t now = zclock_mono (), wait_max = b->request_timeout_ms / 4;
    conn_t *c = zlistx_first (b->parkers);
    while (c) {
        conn_t *next = zlistx_next (b->parkers);
        parked_t *p;
        while ((p = zlistx_first (c->waitq))) {
            int late = now - p->at > wait_max;
            size_t share = client_share (b, c);
            if (!late && (zhashx_size (b->pending) >= b->max_inflight || (size_t) c->inflight >= share))
                break;
            zlistx_detach_cur (c->waitq);
            b->parked--;
            if (late) {
                json_t *body = too_many_body ();
                bk_reply (c->sock, c->rid, &p->req, TR_TOO_MANY_REQUESTS, body, 0,
                          "Too many requests, please try again later: it waited %lld ms in this client's queue "
                          "(%d requests in flight, its share %zu of %zu, among %zu clients); retry after %d s",
                          (long long) (now - p->at), c->inflight, share, b->max_inflight, b->active, RETRY_AFTER_S);
                json_decref (body);
            } else
                bk_handle (b, c->sock, c->rid, &p->req, &p->id, 0);
            parked_free ((void **) &p);
        }
        if (!zlistx_size (c->waitq)) {
            zlistx_delete (b->parkers, c->h_park);
            c->h_park = NULL;
        }
        c = next;
    }
}

/* A node's write put aside (b->nodeq): who sent it and the decoded request. */
typedef struct {
    parked_t p;
    zsock_t *sock;
    zframe_t *rid;
} node_req_t;

static void
node_req_free (void **item)
{
    node_req_t *n = *item;
    if (!n)
        return;
    tr_env_clear (&n->p.req);
    zframe_destroy (&n->rid);
    free (n);
    *item = NULL;
}

static void admit (broker_t *b, zsock_t *sock, zframe_t *rid, conn_t *c, tr_env_t *req, ident_t *id);

/* Serves the nodes' writes put aside, oldest first, as many as the turn's node budget allows; one
 * that waited longer than a quarter of the request timeout is refused TooManyRequests (the node
 * sends it again after the hint), one whose client is gone is dropped. */
static void
node_pump (broker_t *b)
{
    int64_t now = zclock_mono (), wait_max = b->request_timeout_ms / 4;
    node_req_t *n;
    while ((n = zlistx_first (b->nodeq))) {
        int late = now - n->p.at > wait_max;
        if (!late && b->node_budget <= 0)
            break;
        zlistx_detach_cur (b->nodeq);
        conn_t *c = conn_get (b, n->sock, n->rid, 0);
        if (c && late) {
            json_t *body = too_many_body ();
            bk_reply (n->sock, n->rid, &n->p.req, TR_TOO_MANY_REQUESTS, body, 0,
                      "Too many requests, please try again later: it waited %lld ms behind other nodes' writes "
                      "(%zu waiting); retry after %d s",
                      (long long) (now - n->p.at), zlistx_size (b->nodeq) + 1, RETRY_AFTER_S);
            json_decref (body);
        } else if (c) {
            b->node_budget--;
            admit (b, n->sock, n->rid, c, &n->p.req, &n->p.id);
        }
        node_req_free ((void **) &n);
    }
}

/* A write that needs the store, from c: served now, or queued behind c's others. */
static void
admit (broker_t *b, zsock_t *sock, zframe_t *rid, conn_t *c, tr_env_t *req, ident_t *id)
{
    size_t share = client_share (b, c);
    if (zhashx_size (b->pending) >= b->max_inflight || (size_t) c->inflight >= share || c->h_park) {
        /* over its share (or behind its own queued ones): it waits its turn in the client's
         * queue, served in order as the client's requests in flight end (waitq_pump); a full
         * queue, or every queue together holding as many as may be in flight, is refused */
        if (b->parked < b->max_inflight && (!c->waitq || zlistx_size (c->waitq) < BROKER_QUEUE_PER_CLIENT))
            park (b, c, req, id);
        else
            too_many (b, sock, rid, req, c, share);
        return;
    }
    bk_handle (b, sock, rid, req, id, 0); /* what it puts in flight counts (bk_pending_add) */
}

/* Reads and serves one client message. Returns 1 when it was a node's write put aside (cheap: the
 * turn reads on), 0 otherwise, -1 when none was waiting (rcvtimeo 0). */
static int
on_client (broker_t *b, zsock_t *sock)
{
    int aside = 0;
    zmsg_t *m = zmsg_recv (sock);
    if (!m)
        return -1;
    ident_t id = {"", ROLE_NONE, ""};
    int known = bk_identify (b, sock, m, &id) == 0;
    zframe_t *rid = zmsg_pop (m);
    tr_env_t req;
    tr_env_init (&req);
    char err[300];
    int rc = zmsg_size (m) == 1 ? tr_env_decode (&req, zframe_data (zmsg_first (m)), zframe_size (zmsg_first (m)),
                                                 err, sizeof err)
                                : (snprintf (err, sizeof err, "envelope: expected 1 frame, got %zu", zmsg_size (m)),
                                   TR_BAD_REQUEST);
    zmsg_destroy (&m);
    if (!rid) {
        tr_env_clear (&req);
        return 0;
    }
    if (rc != TR_OK) {
        TR_WARN (A, "bad request from=%s error=\"%s\"", id.name[0] ? id.name : "?", err);
        bk_reply (sock, rid, &req, (tr_code_t) rc, NULL, 0, "%s", err);
        goto done;
    }
    if (bk_is_join (&req)) {
        bk_join (b, sock, rid, &req, id.key, known ? &id : NULL);
        goto done;
    }
    if (!known) {
        /* an anonymous key (core/zap.h) may only join */
        bk_reply (sock, rid, &req, TR_UNAUTHORIZED, NULL, 0,
                  "unknown client key: join the cluster with a bootstrap token (troupe join --token) or use "
                  "credentials made by troupe init");
        goto done;
    }
    conn_t *c = conn_get (b, sock, rid, 1);
    c->last_seen = zclock_mono ();
    switch (req.verb) {
    case TR_VERB_PING: {
        json_t *pong = json_pack ("{s:s}", "instance", b->instance);
        if (zhashx_lookup (b->cut, c->key)) {
            /* its watches were dropped while it was silent: it resumes (or relists) them */
            json_object_set_new (pong, "watchesCut", json_true ());
            zhashx_delete (b->cut, c->key);
        }
        bk_reply (sock, rid, &req, TR_OK, pong, 0, NULL);
        json_decref (pong);
        goto done;
    }
    case TR_VERB_HELLO:
        h_hello (b, sock, rid, &req, &id);
        goto done;
    case TR_VERB_REPLY:
        h_forward_reply (b, sock, rid, &req);
        goto done;
    case TR_VERB_CANCEL:
        bcache_unwatch (b->cache, rid, req.rv);
        goto done;
    case TR_VERB_CREDIT:
        bcache_credit (b->cache, rid, req.rv, tv_int (req.opts, "credit", 0));
        bcache_pump (b->cache);
        goto done;
    default:
        break;
    }
    if (needs_store (b, &req)) {
        /* a node's write past the turn's node budget (or behind the nodes' put aside) waits in
         * b->nodeq, as the api-server keeps kubelets' requests in a priority level of their own:
         * thousands of nodes reporting at once do not hold back the scheduler's bindings or a
         * user's creates (node_pump) */
        if (c->node && (zlistx_size (b->nodeq) || b->node_budget <= 0)) {
            if (zlistx_size (b->nodeq) >= b->max_inflight) {
                json_t *body = too_many_body ();
                bk_reply (sock, rid, &req, TR_TOO_MANY_REQUESTS, body, 0,
                          "Too many requests, please try again later: %zu nodes' writes wait already (limit %zu); "
                          "retry after %d s",
                          zlistx_size (b->nodeq), b->max_inflight, RETRY_AFTER_S);
                json_decref (body);
                goto done;
            }
            node_req_t *n = calloc (1, sizeof *n);
            n->p.req = req;
            tr_env_init (&req);
            n->p.id = id;
            n->p.at = zclock_mono ();
            n->sock = sock;
            n->rid = rid;
            rid = NULL;
            zlistx_add_end (b->nodeq, n);
            aside = 1;
            goto done;
        }
        if (c->node)
            b->node_budget--;
        admit (b, sock, rid, c, &req, &id);
        goto done;
    }
    bk_handle (b, sock, rid, &req, &id, 0);
done:
    zframe_destroy (&rid);
    tr_env_clear (&req);
    return aside;
}

/* ---- start-up ------------------------------------------------------------------------------- */

static int
load_cache (broker_t *b)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "s", 0, NULL);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_clear (&sb);
    sp_pack_request (&sb, "g", 0, "/registry/");
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    /* the answer is the first "k": the store may publish events ("e"), lease renewals ("l") or a
     * restore ("x") between the subscription and the range, and those are in the range already
     * (the store answers in order, on one thread) */
    int64_t deadline = zclock_mono () + 30000;
    int rc = -1;
    for (;;) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zsock_set_rcvtimeo (b->store, (int) left);
        zmsg_t *m = zmsg_recv (b->store);
        if (!m)
            break;
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        char t[4];
        int done = store_msg_unpack (m, &up, t) == 0 && !strcmp (t, "k");
        if (done)
            rc = bcache_load (b->cache, sp_field (&up.data, "kvs"), sp_u64 (sp_field (&up.data, "rev"), 0));
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&m);
        if (done)
            break;
    }
    zsock_set_rcvtimeo (b->store, -1);
    return rc;
}

static void
ensure_namespaces (broker_t *b)
{
    static const char *base[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
    zframe_t *none = zframe_new ("", 0);
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        if (bk_ns_exists (b, base[i]))
            continue;
        json_t *ns = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                                "name", base[i], "status", "phase", "Active");
        bk_stamp_new (ns);
        char key[300];
        snprintf (key, sizeof key, "/registry/namespaces/%s", base[i]);
        tr_env_t req;
        tr_env_init (&req);
        bk_propose (b, NULL, none, &req, key, 1, 1, 0, ns, key, NULL);
    }
    /* the built-in PriorityClasses (system-cluster-critical, system-node-critical), as the api-server's
     * scheduling post-start hook makes them */
    json_t *pc;
    for (size_t i = 0; (pc = prio_builtin (i)); i++) {
        char key[300];
        snprintf (key, sizeof key, "/registry/priorityclasses/%s", tv_str (pc, "metadata.name"));
        if (bcache_get (b->cache, key, NULL)) {
            json_decref (pc);
            continue;
        }
        bk_stamp_new (pc);
        tr_env_t req;
        tr_env_init (&req);
        bk_propose (b, NULL, none, &req, key, 1, 1, 0, pc, key, NULL);
    }
    zframe_destroy (&none);
    /* wait for them before serving: a create in "default" must not race its namespace */
    int64_t deadline = zclock_mono () + 10000;
    while (zhashx_size (b->pending) && zclock_mono () < deadline) {
        zpoller_t *p = zpoller_new (b->store, NULL);
        if (zpoller_wait (p, 1000) == b->store)
            on_store_message (b);
        zpoller_destroy (&p);
    }
}

static void
broker_thread (zsock_t *pipe, void *arg)
{
    broker_opts_t *o = arg;
    zsock_signal (pipe, 0);
    tr_thread_name ("broker");
    broker_t b = {0};
    b.next_id = 1;
    tl_broker = &b;
    b.conns = zhashx_new ();
    b.parkers = zlistx_new ();
    b.nodeq = zlistx_new ();
    zlistx_set_destructor (b.nodeq, node_req_free);
    zhashx_set_destructor (b.conns, conn_free);
    b.cut = zhashx_new ();
    zhashx_set_destructor (b.cut, (zhashx_destructor_fn *) zstr_free);
    b.max_inflight = o->max_inflight > 0 ? (size_t) o->max_inflight : DEF_MAX_INFLIGHT;
    b.max_inflight_client = o->max_inflight_per_client > 0 ? (size_t) o->max_inflight_per_client : DEF_MAX_INFLIGHT_CLIENT;
    b.request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : DEF_REQUEST_TIMEOUT_MS;
    b.silence_ms = o->client_silence_ms > 0 ? o->client_silence_ms : DEF_CLIENT_SILENCE_MS;
    char err[512];
    if (svcalloc_cidr_parse (o->service_cidr ? o->service_cidr : SVCALLOC_DEFAULT_CIDR, &b.svc_cidr, err, sizeof err))
        svcalloc_cidr_parse (SVCALLOC_DEFAULT_CIDR, &b.svc_cidr, err, sizeof err);
    if (svcalloc_ports_parse (o->node_port_range ? o->node_port_range : SVCALLOC_DEFAULT_PORTS, &b.svc_ports, err, sizeof err))
        svcalloc_ports_parse (SVCALLOC_DEFAULT_PORTS, &b.svc_ports, err, sizeof err);
    randombytes_buf (err, 8);
    snprintf (b.instance, sizeof b.instance, "%02x%02x%02x%02x%02x%02x%02x%02x", (unsigned char) err[0],
              (unsigned char) err[1], (unsigned char) err[2], (unsigned char) err[3], (unsigned char) err[4],
              (unsigned char) err[5], (unsigned char) err[6], (unsigned char) err[7]);
    b.schemas = schema_registry_load_embedded (err, sizeof err);
    b.pending = zhashx_new ();
    b.forwards = zhashx_new ();
    b.nodes = zhashx_new ();
    zhashx_set_destructor (b.nodes, (zhashx_destructor_fn *) zframe_destroy);
    b.node_sock = zhashx_new ();
    b.clients = zhashx_new ();
    zhashx_set_destructor (b.clients, (zhashx_destructor_fn *) zstr_free);
    int ok = b.schemas != NULL;
    if (!ok)
        TR_ERROR (A, "cannot load schemas error=\"%s\"", err);
    b.replicated = o->replicated;
    b.reload_events = zlistx_new ();
    zlistx_set_destructor (b.reload_events, (zlistx_destructor_fn *) zmsg_destroy);
    b.cache = ok ? bcache_new (b.schemas, o->ring_size) : NULL;
    if (b.cache)
        bcache_set_ring_limits (b.cache, o->ring_max > 0 ? (size_t) o->ring_max : 0, o->ring_window_ms);
    if (b.cache)
        bk_secrets_init (&b, o->pki_dir);
    b.store = ok ? zsock_new (ZMQ_DEALER) : NULL;
    if (b.store) {
        /* towards the store: bounded, and never reached — at most max_inflight requests are in
         * flight. From the store: not bounded here, a dropped commit event would be a silent gap
         * in the cache; the same cap bounds it (one result and its events per request) */
        zsock_set_sndhwm (b.store, STORE_HWM);
        zsock_set_rcvhwm (b.store, 0);
        zsock_set_linger (b.store, 0);
        ok = zsock_connect (b.store, "%s", o->store_endpoint) == 0 && load_cache (&b) == 0;
        if (!ok)
            TR_ERROR (A, "cannot load the store endpoint=%s", o->store_endpoint);
    }
    if (ok) {
        b.local = zsock_new (ZMQ_ROUTER);
        zsock_set_linger (b.local, 0);
        zsock_set_sndhwm (b.local, ROUTER_SNDHWM); /* sends never wait (tr_conn_send_nb): a full pipe
                                                      pauses that client's watches, queues its replies */
        zsock_set_router_handover (b.local, 1);
        zsock_set_router_mandatory (b.local, 1); /* a send to a gone client fails: its watches are dropped */
        char eps[2048];
        snprintf (eps, sizeof eps, "%s", o->local_endpoints);
        for (char *save, *ep = strtok_r (eps, ",", &save); ep && ok; ep = strtok_r (NULL, ",", &save))
            if (zsock_bind (b.local, "%s", ep) < 0) {
                TR_ERROR (A, "cannot bind endpoint=%s error=\"%s\"", ep, zmq_strerror (zmq_errno ()));
                ok = 0;
            } else if (!strncmp (ep, "ipc://", 6))
                chmod (ep + 6, 0600);
    }
    if (ok && o->tcp_endpoint && *o->tcp_endpoint) {
        char path[1100];
        snprintf (path, sizeof path, "%s/server.cert_secret", o->pki_dir);
        zcert_t *server = zcert_load (path);
        snprintf (b.pki_dir, sizeof b.pki_dir, "%s", o->pki_dir);
        int n = bk_load_clients (&b, o->pki_dir, 1);
        if (!server) {
            TR_ERROR (A, "tcp endpoint needs %s (run `troupe init`)", path);
            ok = 0;
        } else {
            if (!o->auth_external) {
                snprintf (path, sizeof path, "%s/clients", o->pki_dir);
                b.auth = tr_zap_new (path);
                if (!b.auth) { /* without a handler libzmq would admit every CURVE key */
                    TR_ERROR (A, "no ZAP handler: the tcp endpoint is not served");
                    ok = 0;
                }
            }
            b.remote = zsock_new (ZMQ_ROUTER);
            zsock_set_linger (b.remote, 0);
            zsock_set_sndhwm (b.remote, ROUTER_SNDHWM);
            zsock_set_router_handover (b.remote, 1);
            zsock_set_router_mandatory (b.remote, 1);
            zcert_apply (server, b.remote);
            zsock_set_curve_server (b.remote, 1);
            zsock_set_zap_domain (b.remote, TR_ZAP_DOMAIN_BROKER);
            if (!ok)
                ;
            else if (zsock_bind (b.remote, "%s", o->tcp_endpoint) < 0) {
                TR_ERROR (A, "cannot bind endpoint=%s error=\"%s\"", o->tcp_endpoint, zmq_strerror (zmq_errno ()));
                ok = 0;
            } else
                TR_INFO (A, "serving endpoint=%s curve=on clients=%d", o->tcp_endpoint, n);
            zcert_destroy (&server);
        }
    }
    if (ok)
        ensure_namespaces (&b);
    zsock_signal (pipe, ok ? 0 : 1);
    if (ok) {
        TR_INFO (A, "serving endpoints=%s objects=%zu revision=%llu", o->local_endpoints, bcache_count (b.cache),
                 (unsigned long long) bcache_revision (b.cache));
        /* the loop reads until a socket is empty rather than asking first (zsock_events costs
         * libzmq's getpid and poll system calls each time; a read that finds a message, none) */
        zsock_set_rcvtimeo (b.store, 0);
        zsock_set_rcvtimeo (b.local, 0);
        if (b.remote)
            zsock_set_rcvtimeo (b.remote, 0);
        b.poller = zpoller_new (pipe, b.local, b.store, NULL);
        if (b.remote)
            zpoller_add (b.poller, b.remote);
        b.last_sweep = zclock_mono ();
        size_t paused = 0;
        int step = 0; /* tests: one turn, then paused again (hold) */
        for (;;) {
            /* replies or events waiting for room in a client's pipe: look again soon (a ROUTER does
             * not say which pipe drained) */
            /* nodes' writes put aside: come straight back for them */
            void *which = zpoller_wait (b.poller, zlistx_size (b.nodeq) ? 0 : b.queued || paused || b.parked ? 20 : 1000);
            if (zpoller_terminated (b.poller))
                break;
            if (which == pipe) {
                /* "$TERM" (zactor_destroy) ends it; "EXPECTED" (tests) is answered with how many
                 * of its writes the cache expects (bcache_expect), as a uint64; "PAUSE" (tests):
                 * nothing is read until "RESUME" or "STEP" (hold), so that a test's requests all
                 * wait in the sockets before the first is read */
                char *cmd = zstr_recv (pipe);
                int expected = cmd && !strcmp (cmd, "EXPECTED"), pause = cmd && !strcmp (cmd, "PAUSE");
                free (cmd);
                if (pause) {
                    if (hold (pipe, &step))
                        break;
                    continue;
                }
                if (!expected)
                    break;
                zsock_send (pipe, "8", (uint64_t) bcache_expected (b.cache));
                continue;
            }
            /* the store first: its answers finish requests (and free their share); zpoller
             * favours the first socket of its list, so a flood of clients would starve it */
            for (int i = 0; i < 4096 && on_store_message (&b); i++)
                bcache_pump (b.cache); /* watchers keeping up see every renewal, each before the next */
            /* what the answers freed goes first to the requests already waiting for it, not to
             * newer requests of other clients in the turn below */
            if (b.parked)
                waitq_pump (&b);
            /* then a turn of clients, local and remote alternately: 64 messages served, nodes'
             * writes put aside not counted (ZeroMQ reads a message a client in turn, so a turn
             * that served each of a thousand nodes' status first would reach the others late) */
            b.node_budget = NODE_TURN;
            /* a socket found empty is not read again in this turn: asking costs libzmq two
             * system calls (getpid, poll), where reading what is there costs none */
            for (int i = 0, reads = 0, rl = 0, rr = b.remote ? 0 : -1; i < 64 && reads < TURN_READS;) {
                if (rl >= 0 && (rl = on_client (&b, b.local)) >= 0) {
                    i += !rl;
                    reads++;
                }
                if (rr >= 0 && (rr = on_client (&b, b.remote)) >= 0) {
                    i += !rr;
                    reads++;
                }
                if (rl < 0 && rr < 0)
                    break;
            }
            if (b.parked)
                waitq_pump (&b);
            if (zlistx_size (b.nodeq))
                node_pump (&b);
            if (b.queued)
                out_flush (&b);
            paused = bcache_pump (b.cache);
            if (zclock_mono () - b.last_sweep >= 1000) {
                b.last_sweep = zclock_mono ();
                sweep (&b);
            }
            bk_secrets_tick (&b);
            if (step && hold (pipe, &step))
                break;
        }
        zpoller_destroy (&b.poller);
    }
    for (pending_write_t *p = zhashx_first (b.pending); p; p = zhashx_next (b.pending)) {
        bk_pending_free (&b, p);
    }
    zhashx_destroy (&b.pending);
    for (forward_t *f = zhashx_first (b.forwards); f; f = zhashx_next (b.forwards)) {
        zframe_destroy (&f->rid);
        free (f);
    }
    zhashx_destroy (&b.forwards);
    zhashx_destroy (&b.conns);
    zlistx_destroy (&b.parkers);
    zlistx_destroy (&b.nodeq);
    zhashx_destroy (&b.cut);
    tl_broker = NULL;
    zhashx_destroy (&b.nodes);
    zhashx_destroy (&b.node_sock);
    zhashx_destroy (&b.clients);
    certdir_destroy (&b.certs);
    bcache_destroy (&b.cache);
    bk_secrets_destroy (&b);
    zsock_destroy (&b.local);
    zsock_destroy (&b.remote);
    zactor_destroy (&b.auth);
    zlistx_destroy (&b.reload_events);
    zsock_destroy (&b.store);
    schema_registry_destroy (&b.schemas);
    free ((char *) o->store_endpoint);
    free ((char *) o->local_endpoints);
    free ((char *) o->tcp_endpoint);
    free ((char *) o->pki_dir);
    free ((char *) o->service_cidr);
    free ((char *) o->node_port_range);
    free (o);
}

zactor_t *
broker_new (const broker_opts_t *opts)
{
    broker_opts_t *o = calloc (1, sizeof *o);
    *o = *opts; /* strings are copied: the caller's may not outlive the thread */
    o->store_endpoint = strdup (opts->store_endpoint);
    o->local_endpoints = strdup (opts->local_endpoints);
    o->tcp_endpoint = opts->tcp_endpoint ? strdup (opts->tcp_endpoint) : NULL;
    o->pki_dir = opts->pki_dir ? strdup (opts->pki_dir) : NULL;
    o->service_cidr = opts->service_cidr ? strdup (opts->service_cidr) : NULL;
    o->node_port_range = opts->node_port_range ? strdup (opts->node_port_range) : NULL;
    zactor_t *z = zactor_new (broker_thread, o);
    if (z && zsock_wait (z))
        zactor_destroy (&z);
    return z;
}
