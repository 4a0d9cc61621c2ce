/* zbridge — see zbridge.h. */
#include "actors/store/zbridge.h"
#include "core/log.h"
#include "core/zap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define A "store"
#define READ_CHUNK 65536
#define CONNECT_TIMEOUT_MS 2000

typedef struct zbridge_dealer dealer_t;

typedef struct {
    zbridge_t *zb;
    uint64_t id;
    dealer_t *dealer;   /* outbound: the DEALER it runs over */
    zframe_t *rid;      /* inbound: the peer's routing id on our ROUTER */
    uv_pipe_t *mine;    /* our end of the socketpair (NULL until the stream is up) */
    uint64_t tx, rx;    /* last sequence sent / received */
    struct raft_uv_connect *req; /* outbound, until the peer answers A */
    raft_uv_connect_cb cb;
    int64_t deadline;
} conn_t;

struct zbridge_dealer {
    zbridge_t *zb;
    char addr[256];
    zsock_t *sock;
    uv_poll_t poll;
};

struct zbridge {
    uv_loop_t *loop;
    zcert_t *cert;
    char cluster_key[41];
    zsock_t *router;
    uv_poll_t router_poll;
    zlistx_t *handshaking;      /* fd+1 of connections accepted, handshake not done yet */
    int64_t last_reject_log[2]; /* [0] malformed, [1] wrong key */
    uint64_t unlogged[2];
    void *monitor;     /* PAIR receiving the ROUTER's handshake failures (zmq_socket_monitor) */
    uv_poll_t monitor_poll;
    uv_prepare_t pump;
    uv_timer_t tick;
    zhashx_t *dealers; /* address → dealer_t */
    zhashx_t *conns;   /* "%016llx" id → conn_t */
    struct raft_uv_transport t;
    raft_id raft_id;
    char address[256];
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    uv_timer_t close_timer;
    zbridge_msg_fn *fn;
    void *arg;
    uint64_t rejected;
};

/* ---- sending without blocking -------------------------------------------------------------- */

static int
send_frames (zsock_t *sock, zframe_t *rid, const char *type, const void *f1, size_t l1, const void *f2, size_t l2,
             const void *f3, size_t l3)
{
    void *s = zsock_resolve (sock);
    const void *fr[5] = {rid ? zframe_data (rid) : NULL, type, f1, f2, f3};
    size_t ln[5] = {rid ? zframe_size (rid) : 0, 1, l1, l2, l3};
    int n = f3 ? 5 : f2 ? 4 : f1 ? 3 : 2;
    for (int i = rid ? 0 : 1; i < n; i++)
        if (zmq_send (s, fr[i], ln[i], ZMQ_DONTWAIT | (i < n - 1 ? ZMQ_SNDMORE : 0)) < 0)
            return -1; /* a partly sent multipart message is dropped by libzmq as a whole */
    return 0;
}

static int
send_msg (zsock_t *sock, zframe_t *rid, zmsg_t **msg)
{
    void *s = zsock_resolve (sock);
    int rc = 0;
    if (rid && zmq_send (s, zframe_data (rid), zframe_size (rid), ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
        rc = -1;
    size_t n = zmsg_size (*msg), i = 0;
    for (zframe_t *f = zmsg_first (*msg); !rc && f; f = zmsg_next (*msg), i++)
        if (zmq_send (s, zframe_data (f), zframe_size (f), ZMQ_DONTWAIT | (i < n - 1 ? ZMQ_SNDMORE : 0)) < 0)
            rc = -1;
    zmsg_destroy (msg);
    return rc;
}

/* ---- streams -------------------------------------------------------------------------------- */

static void
conn_key (uint64_t id, char key[20])
{
    snprintf (key, 20, "%016llx", (unsigned long long) id);
}

static void
on_handle_freed (uv_handle_t *h)
{
    free (h);
}

static void
conn_close (conn_t *c, int notify, int status)
{
    zbridge_t *zb = c->zb;
    if (notify) {
        if (c->dealer)
            send_frames (c->dealer->sock, NULL, "X", &c->id, 8, NULL, 0, NULL, 0);
        else if (c->rid)
            send_frames (zb->router, c->rid, "X", &c->id, 8, NULL, 0, NULL, 0);
    }
    if (c->req && c->cb) {
        struct raft_uv_connect *req = c->req;
        c->req = NULL;
        c->cb (req, NULL, status);
    }
    if (c->mine) {
        uv_read_stop ((uv_stream_t *) c->mine);
        uv_close ((uv_handle_t *) c->mine, on_handle_freed);
    }
    char key[20];
    conn_key (c->id, key);
    zhashx_delete (zb->conns, key);
    zframe_destroy (&c->rid);
    free (c);
}

static void
on_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h;
    (void) suggested;
    buf->base = malloc (READ_CHUNK);
    buf->len = buf->base ? READ_CHUNK : 0;
}

/* bytes libraft wrote to its end: carry them to the peer */
static void
on_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread > 0) {
        uint64_t seq = ++c->tx;
        zsock_t *sock = c->dealer ? c->dealer->sock : c->zb->router;
        if (send_frames (sock, c->rid, "D", &c->id, 8, &seq, 8, buf->base, (size_t) nread))
            conn_close (c, 0, RAFT_NOCONNECTION);
    } else if (nread < 0)
        conn_close (c, 1, RAFT_NOCONNECTION);
    free (buf->base);
}

static void
on_raft_handle_freed (uv_handle_t *h)
{
    raft_free (h);
}

/* Makes the socketpair: our end starts reading, libraft's end is returned as a stream it owns
 * (allocated with raft_malloc: libraft frees the handle when it closes it). */
static uv_stream_t *
conn_open (conn_t *c)
{
    int sv[2];
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return NULL;
    uv_pipe_t *theirs = raft_malloc (sizeof *theirs);
    c->mine = calloc (1, sizeof *c->mine);
    uv_pipe_init (c->zb->loop, c->mine, 0);
    uv_pipe_init (c->zb->loop, theirs, 0);
    if (uv_pipe_open (c->mine, sv[0]) || uv_pipe_open (theirs, sv[1])) {
        close (sv[0]);
        close (sv[1]);
        uv_close ((uv_handle_t *) theirs, on_raft_handle_freed);
        return NULL;
    }
    c->mine->data = c;
    uv_read_start ((uv_stream_t *) c->mine, on_alloc, on_read);
    return (uv_stream_t *) theirs;
}

typedef struct {
    uv_write_t req;
    char data[];
} wreq_t;

static void
on_written (uv_write_t *req, int status)
{
    conn_t *c = req->data;
    (void) c;
    free (req);
    (void) status; /* a failed write shows up as a read error/EOF on the same pipe */
}

static void
conn_deliver (conn_t *c, zframe_t *seqf, zframe_t *data)
{
    uint64_t seq = 0;
    if (zframe_size (seqf) == 8)
        memcpy (&seq, zframe_data (seqf), 8);
    if (!c->mine || seq != c->rx + 1) {
        TR_WARN (A, "peer stream lost data conn=%016llx seq=%llu expected=%llu: closing it",
                 (unsigned long long) c->id, (unsigned long long) seq, (unsigned long long) c->rx + 1);
        conn_close (c, 1, RAFT_NOCONNECTION);
        return;
    }
    c->rx = seq;
    size_t n = zframe_size (data);
    wreq_t *w = malloc (sizeof *w + n);
    memcpy (w->data, zframe_data (data), n);
    w->req.data = c;
    uv_buf_t b = uv_buf_init (w->data, (unsigned) n);
    if (uv_write (&w->req, (uv_stream_t *) c->mine, &b, 1, on_written)) {
        free (w);
        conn_close (c, 1, RAFT_NOCONNECTION);
    }
}

static conn_t *
conn_find (zbridge_t *zb, zframe_t *idf)
{
    if (!idf || zframe_size (idf) != 8)
        return NULL;
    uint64_t id;
    memcpy (&id, zframe_data (idf), 8);
    char key[20];
    conn_key (id, key);
    return zhashx_lookup (zb->conns, key);
}

static conn_t *
conn_new (zbridge_t *zb, uint64_t id)
{
    conn_t *c = calloc (1, sizeof *c);
    c->zb = zb;
    c->id = id;
    char key[20];
    conn_key (id, key);
    zhashx_insert (zb->conns, key, c);
    return c;
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void
stream_message (zbridge_t *zb, dealer_t *d, zframe_t *rid, zmsg_t *m)
{
    zframe_t *type = zmsg_first (m);
    char t = (char) zframe_data (type)[0];
    zframe_t *idf = zmsg_next (m);
    conn_t *c = conn_find (zb, idf);
    if (t == 'C' && rid && idf && zmsg_size (m) == 4 && !c) {
        zframe_t *rf = zmsg_next (m), *af = zmsg_next (m);
        uint64_t id;
        raft_id peer = 0;
        memcpy (&id, zframe_data (idf), 8);
        if (zframe_size (rf) == 8)
            memcpy (&peer, zframe_data (rf), 8);
        char *addr = zframe_strdup (af);
        if (!zb->accept_cb || !peer) {
            send_frames (zb->router, rid, "X", &id, 8, NULL, 0, NULL, 0);
            free (addr);
            return;
        }
        c = conn_new (zb, id);
        c->rid = zframe_dup (rid);
        uv_stream_t *s = conn_open (c);
        if (!s) {
            conn_close (c, 1, 0);
            free (addr);
            return;
        }
        send_frames (zb->router, rid, "A", &id, 8, NULL, 0, NULL, 0);
        zb->accept_cb (&zb->t, peer, addr, s);
        free (addr);
    } else if (t == 'A' && c && d && c->dealer == d && c->req) {
        uv_stream_t *s = conn_open (c);
        struct raft_uv_connect *req = c->req;
        raft_uv_connect_cb cb = c->cb;
        c->req = NULL;
        if (!s) {
            cb (req, NULL, RAFT_NOCONNECTION);
            conn_close (c, 1, 0);
        } else
            cb (req, s, 0);
    } else if (t == 'D' && zmsg_size (m) == 4) {
        if (!c) { /* a stream we do not know (we restarted): tell the sender to drop it */
            if (idf && zframe_size (idf) == 8) {
                if (rid)
                    send_frames (zb->router, rid, "X", zframe_data (idf), 8, NULL, 0, NULL, 0);
                else if (d)
                    send_frames (d->sock, NULL, "X", zframe_data (idf), 8, NULL, 0, NULL, 0);
            }
            return;
        }
        zframe_t *seqf = zmsg_next (m), *data = zmsg_next (m);
        conn_deliver (c, seqf, data);
    } else if (t == 'X' && c)
        conn_close (c, 0, RAFT_NOCONNECTION);
}

static int
is_stream_type (zframe_t *type)
{
    return zframe_size (type) == 1 && strchr ("CADX", zframe_data (type)[0]);
}

static void
drain_router (zbridge_t *zb)
{
    while (zb->router && (zsock_events (zb->router) & ZMQ_POLLIN)) {
        zmsg_t *m = zmsg_recv (zb->router);
        if (!m)
            break;
        zframe_t *rid = zmsg_pop (m);
        zframe_t *type = zmsg_first (m);
        const char *who = type ? zframe_meta (type, "User-Id") : NULL;
        if (!type || !who || strcmp (who, zb->cluster_key)) {
            if (zb->rejected++ % 1000 == 0)
                TR_WARN (A, "rejected a peer message: %s (total=%llu)",
                         !type ? "empty" : "not signed with the cluster key", (unsigned long long) zb->rejected);
        } else if (is_stream_type (type))
            stream_message (zb, NULL, rid, m);
        else if (zb->fn)
            zb->fn (zb->arg, NULL, rid, m);
        zframe_destroy (&rid);
        zmsg_destroy (&m);
    }
}

static void
drain_dealer (zbridge_t *zb, dealer_t *d)
{
    while (zsock_events (d->sock) & ZMQ_POLLIN) {
        zmsg_t *m = zmsg_recv (d->sock);
        if (!m)
            break;
        zframe_t *type = zmsg_first (m);
        if (type && is_stream_type (type))
            stream_message (zb, d, NULL, m);
        else if (type && zb->fn)
            zb->fn (zb->arg, d->addr, NULL, m);
        zmsg_destroy (&m);
    }
}

static int
fd_cmp (const void *a, const void *b)
{
    return a == b ? 0 : a < b ? -1 : 1;
}

/* A connection that failed the ZMTP/CURVE handshake: garbage, or a peer without the cluster key. */
static void
drain_monitor (zbridge_t *zb)
{
    int ev;
    size_t sz = sizeof ev;
    while (zb->monitor && zmq_getsockopt (zb->monitor, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN)) {
        unsigned char head[6];
        char addr[256] = "";
        int n = zmq_recv (zb->monitor, head, sizeof head, ZMQ_DONTWAIT);
        int more = 0;
        size_t ms = sizeof more;
        zmq_getsockopt (zb->monitor, ZMQ_RCVMORE, &more, &ms);
        if (more) {
            int a = zmq_recv (zb->monitor, addr, sizeof addr - 1, 0);
            addr[a > 0 ? (a < (int) sizeof addr - 1 ? a : (int) sizeof addr - 1) : 0] = 0;
        }
        if (n < 6)
            continue;
        uint16_t event;
        uint32_t value;
        memcpy (&event, head, 2);
        memcpy (&value, head + 2, 4);
        /* ACCEPTED and DISCONNECTED carry the fd, handshake results do not: a result settles the
         * oldest pending accept (best effort when handshakes overlap) */
        if (event == ZMQ_EVENT_ACCEPTED) {
            zlistx_add_end (zb->handshaking, (void *) (uintptr_t) (value + 1));
            continue;
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            if (zlistx_first (zb->handshaking))
                zlistx_delete (zb->handshaking, zlistx_cursor (zb->handshaking));
            continue;
        }
        if (event == ZMQ_EVENT_DISCONNECTED) {
            /* closed before its handshake completed: libzmq drops garbage without a failure event */
            void *h = zlistx_find (zb->handshaking, (void *) (uintptr_t) (value + 1));
            if (!h)
                continue;
            zlistx_delete (zb->handshaking, h);
            event = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
            value = 0;
        } else if (zlistx_first (zb->handshaking))
            zlistx_delete (zb->handshaking, zlistx_cursor (zb->handshaking));
        zb->rejected++;
        int crypto = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                     (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                      (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC || value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH));
        int64_t now = zclock_mono ();
        zb->unlogged[crypto]++;
        if (zb->last_reject_log[crypto] && now - zb->last_reject_log[crypto] < 5000)
            continue; /* a refused peer retries several times a second: one line per 5 s and kind */
        zb->last_reject_log[crypto] = now;
        TR_WARN (A, "rejected a peer connection: %s (remote endpoint %s, %llu refused since the last line)",
                 crypto ? "not authenticated with the cluster key" : "malformed handshake (not a Troupe peer)",
                 addr[0] ? addr : "?", (unsigned long long) zb->unlogged[crypto]);
        zb->unlogged[crypto] = 0;
    }
}

static void
pump (zbridge_t *zb)
{
    drain_monitor (zb);
    drain_router (zb);
    for (dealer_t *d = zhashx_first (zb->dealers); d; d = zhashx_next (zb->dealers))
        drain_dealer (zb, d);
}

static void
on_pump (uv_prepare_t *h)
{
    pump (h->data);
}

static void
on_poll (uv_poll_t *h, int status, int events)
{
    (void) status;
    (void) events;
    pump (h->data);
}

static void
on_tick (uv_timer_t *h)
{
    zbridge_t *zb = h->data;
    int64_t now = zclock_mono ();
    zlistx_t *late = zlistx_new ();
    for (conn_t *c = zhashx_first (zb->conns); c; c = zhashx_next (zb->conns))
        if (c->req && now > c->deadline)
            zlistx_add_end (late, c);
    for (conn_t *c = zlistx_first (late); c; c = zlistx_next (late))
        conn_close (c, 1, RAFT_NOCONNECTION);
    zlistx_destroy (&late);
}

static dealer_t *
dealer_get (zbridge_t *zb, const char *addr)
{
    dealer_t *d = zhashx_lookup (zb->dealers, addr);
    if (d)
        return d;
    d = calloc (1, sizeof *d);
    d->zb = zb;
    snprintf (d->addr, sizeof d->addr, "%s", addr);
    d->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (d->sock, 0);
    zsock_set_immediate (d->sock, 1); /* no queueing for a peer that is not there */
    zsock_set_sndhwm (d->sock, 0);
    zsock_set_rcvhwm (d->sock, 0);
    zsock_set_reconnect_ivl (d->sock, 100);
    zsock_set_reconnect_ivl_max (d->sock, 1000);
    zcert_apply (zb->cert, d->sock);
    zsock_set_curve_serverkey (d->sock, zb->cluster_key);
    if (zsock_connect (d->sock, "%s", addr) < 0) {
        TR_WARN (A, "cannot connect to peer address=%s error=\"%s\"", addr, zmq_strerror (zmq_errno ()));
        zsock_destroy (&d->sock);
        free (d);
        return NULL;
    }
    uv_poll_init (zb->loop, &d->poll, zsock_fd (d->sock));
    d->poll.data = zb;
    uv_poll_start (&d->poll, UV_READABLE, on_poll);
    zhashx_insert (zb->dealers, addr, d);
    return d;
}

/* ---- libraft transport ---------------------------------------------------------------------- */

static int
t_init (struct raft_uv_transport *t, raft_id id, const char *address)
{
    zbridge_t *zb = t->impl;
    zb->raft_id = id;
    snprintf (zb->address, sizeof zb->address, "%s", address);
    return 0;
}

static int
t_listen (struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    zbridge_t *zb = t->impl;
    zb->accept_cb = cb;
    return 0;
}

static int
t_connect (struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id, const char *address,
           raft_uv_connect_cb cb)
{
    (void) id;
    zbridge_t *zb = t->impl;
    dealer_t *d = dealer_get (zb, address);
    if (!d)
        return RAFT_NOCONNECTION;
    uint64_t cid;
    char key[20];
    do {
        randombytes_buf (&cid, sizeof cid);
        conn_key (cid, key);
    } while (!cid || zhashx_lookup (zb->conns, key));
    uint64_t me = zb->raft_id;
    if (send_frames (d->sock, NULL, "C", &cid, 8, &me, 8, zb->address, strlen (zb->address)))
        return RAFT_NOCONNECTION; /* not connected (yet): libraft retries after its delay */
    conn_t *c = conn_new (zb, cid);
    c->dealer = d;
    c->req = req;
    c->cb = cb;
    c->deadline = zclock_mono () + CONNECT_TIMEOUT_MS;
    return 0;
}

static void
on_close_timer (uv_timer_t *h)
{
    zbridge_t *zb = h->data;
    raft_uv_transport_close_cb cb = zb->close_cb;
    zb->close_cb = NULL;
    if (cb)
        cb (&zb->t);
}

static void
t_close (struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    zbridge_t *zb = t->impl;
    zb->accept_cb = NULL;
    zlistx_t *pending = zlistx_new ();
    for (conn_t *c = zhashx_first (zb->conns); c; c = zhashx_next (zb->conns))
        if (c->req)
            zlistx_add_end (pending, c);
    for (conn_t *c = zlistx_first (pending); c; c = zlistx_next (pending))
        conn_close (c, 1, RAFT_CANCELED);
    zlistx_destroy (&pending);
    zb->close_cb = cb;
    uv_timer_start (&zb->close_timer, on_close_timer, 0, 0); /* libraft expects it later, not inside */
}

/* ---- life cycle ----------------------------------------------------------------------------- */

zbridge_t *
zbridge_new (uv_loop_t *loop, zcert_t *cluster, const char *listen, zbridge_msg_fn *fn, void *arg, char *err,
             size_t errlen)
{
    if (sodium_init () < 0) {
        snprintf (err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    zbridge_t *zb = calloc (1, sizeof *zb);
    zb->loop = loop;
    zb->cert = zcert_dup (cluster);
    snprintf (zb->cluster_key, sizeof zb->cluster_key, "%s", zcert_public_txt (cluster));
    zb->fn = fn;
    zb->arg = arg;
    zb->dealers = zhashx_new ();
    zb->conns = zhashx_new ();
    zb->handshaking = zlistx_new ();
    zlistx_set_comparator (zb->handshaking, fd_cmp);
    zb->router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (zb->router, 0);
    zsock_set_router_mandatory (zb->router, 1);
    zsock_set_router_handover (zb->router, 1);
    zsock_set_sndhwm (zb->router, 0);
    zsock_set_rcvhwm (zb->router, 0);
    zcert_apply (zb->cert, zb->router);
    zsock_set_curve_server (zb->router, 1);
    zsock_set_zap_domain (zb->router, TR_ZAP_DOMAIN_PEER);
    if (zsock_bind (zb->router, "%s", listen) < 0) {
        snprintf (err, errlen, "cannot bind peer endpoint %s: %s", listen, zmq_strerror (zmq_errno ()));
        zsock_destroy (&zb->router);
        zlistx_destroy (&zb->handshaking);
        zhashx_destroy (&zb->dealers);
        zhashx_destroy (&zb->conns);
        zcert_destroy (&zb->cert);
        free (zb);
        return NULL;
    }
    char mon[64];
    snprintf (mon, sizeof mon, "inproc://zbridge-monitor-%p", (void *) zb);
    if (zmq_socket_monitor (zsock_resolve (zb->router), mon,
                            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
        zb->monitor = zmq_socket (zsys_init (), ZMQ_PAIR);
        int zero = 0;
        zmq_setsockopt (zb->monitor, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect (zb->monitor, mon)) {
            zmq_close (zb->monitor);
            zb->monitor = NULL;
        } else {
            int fd;
            size_t fs = sizeof fd;
            zmq_getsockopt (zb->monitor, ZMQ_FD, &fd, &fs);
            uv_poll_init (loop, &zb->monitor_poll, fd);
            zb->monitor_poll.data = zb;
            uv_poll_start (&zb->monitor_poll, UV_READABLE, on_poll);
        }
    }
    uv_poll_init (loop, &zb->router_poll, zsock_fd (zb->router));
    zb->router_poll.data = zb;
    uv_poll_start (&zb->router_poll, UV_READABLE, on_poll);
    uv_prepare_init (loop, &zb->pump);
    zb->pump.data = zb;
    uv_prepare_start (&zb->pump, on_pump);
    uv_timer_init (loop, &zb->tick);
    zb->tick.data = zb;
    uv_timer_start (&zb->tick, on_tick, 200, 200);
    uv_timer_init (loop, &zb->close_timer);
    zb->close_timer.data = zb;
    zb->t.impl = zb;
    zb->t.init = t_init;
    zb->t.listen = t_listen;
    zb->t.connect = t_connect;
    zb->t.close = t_close;
    return zb;
}

struct raft_uv_transport *
zbridge_transport (zbridge_t *self)
{
    return &self->t;
}

int
zbridge_send (zbridge_t *self, const char *address, zmsg_t **msg)
{
    dealer_t *d = dealer_get (self, address);
    if (!d) {
        zmsg_destroy (msg);
        return -1;
    }
    return send_msg (d->sock, NULL, msg);
}

int
zbridge_reply (zbridge_t *self, zframe_t *rid, zmsg_t **msg)
{
    return send_msg (self->router, rid, msg);
}

uint64_t
zbridge_rejected (zbridge_t *self)
{
    return self->rejected;
}

static void
on_dealer_poll_closed (uv_handle_t *h)
{
    dealer_t *d = (dealer_t *) ((char *) h - offsetof (dealer_t, poll));
    zsock_destroy (&d->sock);
    free (d);
}

static void
on_bridge_closed (uv_handle_t *h)
{
    zbridge_t *zb = h->data;
    if (zb->monitor) {
        zmq_socket_monitor (zsock_resolve (zb->router), NULL, 0);
        zmq_close (zb->monitor);
    }
    zsock_destroy (&zb->router);
    zcert_destroy (&zb->cert);
    free (zb);
}

void
zbridge_destroy (zbridge_t **self_p)
{
    zbridge_t *zb = *self_p;
    if (!zb)
        return;
    *self_p = NULL;
    zlistx_t *all = zlistx_new ();
    for (conn_t *c = zhashx_first (zb->conns); c; c = zhashx_next (zb->conns))
        zlistx_add_end (all, c);
    for (conn_t *c = zlistx_first (all); c; c = zlistx_next (all))
        conn_close (c, 0, RAFT_CANCELED);
    zlistx_destroy (&all);
    for (dealer_t *d = zhashx_first (zb->dealers); d; d = zhashx_next (zb->dealers))
        uv_close ((uv_handle_t *) &d->poll, on_dealer_poll_closed);
    zhashx_destroy (&zb->dealers);
    zhashx_destroy (&zb->conns);
    zlistx_destroy (&zb->handshaking);
    uv_close ((uv_handle_t *) &zb->router_poll, NULL);
    if (zb->monitor)
        uv_close ((uv_handle_t *) &zb->monitor_poll, NULL);
    uv_close ((uv_handle_t *) &zb->pump, NULL);
    uv_close ((uv_handle_t *) &zb->tick, NULL);
    uv_close ((uv_handle_t *) &zb->close_timer, on_bridge_closed); /* closed last: frees zb */
    zb->close_timer.data = zb;
}
