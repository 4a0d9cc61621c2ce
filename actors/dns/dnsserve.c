/* dnsserve — see dnsserve.h. */
#include "actors/dns/dnsserve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TCP 128
#define MAX_FWD 1024
#define TCP_IDLE_MS 10000
#define UDP_BATCH 32        /* datagrams per recvmmsg/sendmmsg */
#define UDP_QMAX 4096       /* a longer UDP query is dropped (none is: EDNS0 sizes bound answers) */

typedef struct {
    int fd;
    uint64_t gen;        /* a forward's answer goes to this connection only if it is still it */
    int64_t last;
    size_t have;
    uint8_t buf[2 + 65535];
} tcpconn_t;

typedef struct {
    int fd;              /* -1: free */
    int upstream;        /* index being asked */
    int64_t deadline;
    uint8_t *q;          /* the query as received */
    size_t qlen;
    int tcp;             /* 0: answer to peer over UDP; 1: to tcp connection conn/gen */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    int conn;
    uint64_t gen;
    int stream;          /* 0: UDP; 1: TCP connecting; 2: TCP query sent, reading the answer */
    uint8_t *tc;         /* the upstream's truncated UDP answer, relayed if TCP fails */
    size_t tclen;
    uint8_t *rbuf;       /* TCP: the answer so far (2-byte length + message) */
    size_t rhave;
} fwd_t;

struct dnsserve {
    dns_view_t *view;
    dnsserve_opts_t o;
    struct sockaddr_storage up[DNSSERVE_MAX_UPSTREAMS];
    socklen_t uplen[DNSSERVE_MAX_UPSTREAMS];
    int nup;
    int timeout;
    int udp, lst, port;
    tcpconn_t *conns[MAX_TCP];
    uint64_t gen;
    fwd_t fwd[MAX_FWD];
    int nfwd;
    dnsserve_stats_t st;
    /* the UDP batch: queries in, answers out */
    uint8_t qbuf[UDP_BATCH][UDP_QMAX];
    struct sockaddr_storage qpeer[UDP_BATCH];
    struct iovec qiov[UDP_BATCH];
    struct mmsghdr qmsg[UDP_BATCH];
    uint8_t *abuf[UDP_BATCH];
    struct iovec aiov[UDP_BATCH];
    struct mmsghdr amsg[UDP_BATCH];
    int nout;
};

static int64_t
mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" */
static int
parse_addr (const char *s, int defport, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    int port = defport;
    memset (ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *e = strchr (s, ']');
        if (!e || (size_t) (e - s - 1) >= sizeof host)
            return -1;
        memcpy (host, s + 1, (size_t) (e - s - 1));
        host[e - s - 1] = 0;
        if (e[1] == ':')
            port = atoi (e + 2);
    } else {
        snprintf (host, sizeof host, "%s", s);
        char *c = strchr (host, ':');
        if (c && !strchr (c + 1, ':')) {   /* one colon: v4:port */
            *c = 0;
            port = atoi (c + 1);
        }
    }
    if (port < 0 || port > 65535)
        return -1;
    struct sockaddr_in *a4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) ss;
    if (inet_pton (AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons ((uint16_t) port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton (AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons ((uint16_t) port);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

int
dnsserve_upstreams_from_resolv (const char *text, const char *exclude, char **out)
{
    int n = 0;
    for (int i = 0; i < DNSSERVE_MAX_UPSTREAMS; i++)
        out[i] = NULL;
    char *copy = strdup (text ? text : "");
    for (char *ls = NULL, *line = strtok_r (copy, "\n", &ls); line && n < DNSSERVE_MAX_UPSTREAMS; line = strtok_r (NULL, "\n", &ls)) {
        char *s = NULL;
        char *k = strtok_r (line, " \t\r", &s);
        if (!k || strcmp (k, "nameserver"))
            continue;
        char *a = strtok_r (NULL, " \t\r", &s);
        struct sockaddr_storage ss;
        socklen_t l;
        if (!a || (exclude && !strcmp (a, exclude)) || parse_addr (a, 53, &ss, &l))
            continue;
        out[n++] = strdup (a);
    }
    free (copy);
    return n;
}

static void
watch (dnsserve_t *self, int fd, int on)
{
    if (self->o.watch)
        self->o.watch (self->o.watch_arg, fd, on);
}

dnsserve_t *
dnsserve_new (dns_view_t *view, const dnsserve_opts_t *opts, char *err, size_t errlen)
{
    dnsserve_t *self = calloc (1, sizeof *self);
    self->view = view;
    self->o = *opts;
    self->udp = self->lst = -1;
    self->timeout = opts->forward_timeout_ms > 0 ? opts->forward_timeout_ms : 2000;
    for (int i = 0; i < MAX_FWD; i++)
        self->fwd[i].fd = -1;
    for (int i = 0; i < DNSSERVE_MAX_UPSTREAMS && opts->upstreams[i]; i++)
        if (!parse_addr (opts->upstreams[i], 53, &self->up[self->nup], &self->uplen[self->nup]))
            self->nup++;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr (opts->ip ? opts->ip : "", opts->port, &ss, &sl)) {
        snprintf (err, errlen, "listen address \"%s\" is not an IP address", opts->ip ? opts->ip : "");
        free (self);
        return NULL;
    }
    self->udp = socket (ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (self->udp < 0 || bind (self->udp, (struct sockaddr *) &ss, sl)) {
        snprintf (err, errlen, "udp %s:%d: %s", opts->ip, opts->port, strerror (errno));
        goto fail;
    }
    /* the TCP port is the UDP one (when 0 was asked, the one the kernel gave UDP) */
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    getsockname (self->udp, (struct sockaddr *) &bound, &bl);
    self->port = ntohs (bound.ss_family == AF_INET ? ((struct sockaddr_in *) &bound)->sin_port
                                                   : ((struct sockaddr_in6 *) &bound)->sin6_port);
    self->lst = socket (ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (self->lst >= 0)
        setsockopt (self->lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (self->lst < 0 || bind (self->lst, (struct sockaddr *) &bound, bl) || listen (self->lst, 64)) {
        snprintf (err, errlen, "tcp %s:%d: %s", opts->ip, self->port, strerror (errno));
        goto fail;
    }
    watch (self, self->udp, 1);
    watch (self, self->lst, 1);
    return self;
fail:
    if (self->udp >= 0)
        close (self->udp);
    if (self->lst >= 0)
        close (self->lst);
    free (self);
    return NULL;
}

static void
conn_close (dnsserve_t *self, int i)
{
    watch (self, self->conns[i]->fd, 0);
    close (self->conns[i]->fd);
    free (self->conns[i]);
    self->conns[i] = NULL;
}

static void
fwd_end (dnsserve_t *self, fwd_t *f)
{
    if (f->stream != 1)   /* a connecting TCP socket is not watched yet */
        watch (self, f->fd, 0);
    close (f->fd);
    f->fd = -1;
    free (f->q);
    f->q = NULL;
    free (f->tc);
    f->tc = NULL;
    free (f->rbuf);
    f->rbuf = NULL;
    f->stream = 0;
    f->rhave = f->tclen = 0;
    self->nfwd--;
}

void
dnsserve_destroy (dnsserve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dnsserve_t *self = *self_p;
    for (int i = 0; i < MAX_TCP; i++)
        if (self->conns[i])
            conn_close (self, i);
    for (int i = 0; i < MAX_FWD; i++)
        if (self->fwd[i].fd >= 0)
            fwd_end (self, &self->fwd[i]);
    watch (self, self->udp, 0);
    watch (self, self->lst, 0);
    close (self->udp);
    close (self->lst);
    free (self);
    *self_p = NULL;
}

int
dnsserve_port (const dnsserve_t *self)
{
    return self->port;
}

dnsserve_stats_t
dnsserve_stats (const dnsserve_t *self)
{
    return self->st;
}

/* Writes one length-prefixed message; a write that cannot complete at once closes the
 * connection (a client that does not read its answers gets none). */
static void
tcp_send (dnsserve_t *self, int i, const uint8_t *msg, size_t len)
{
    uint8_t *b = malloc (len + 2);
    b[0] = (uint8_t) (len >> 8);
    b[1] = (uint8_t) len;
    memcpy (b + 2, msg, len);
    ssize_t n = send (self->conns[i]->fd, b, len + 2, MSG_NOSIGNAL);
    free (b);
    if (n != (ssize_t) len + 2)
        conn_close (self, i);
}

static void
deliver (dnsserve_t *self, fwd_t *f, const uint8_t *msg, size_t len)
{
    if (!f->tcp) {
        sendto (self->udp, msg, len, 0, (struct sockaddr *) &f->peer, f->peerlen);
        return;
    }
    if (self->conns[f->conn] && self->conns[f->conn]->gen == f->gen)
        tcp_send (self, f->conn, msg, len);
}

/* Sends f's query to its current upstream from a fresh socket; -1 when none is left. */
static int
fwd_try (dnsserve_t *self, fwd_t *f)
{
    for (; f->upstream < self->nup; f->upstream++) {
        int fd = socket (self->up[f->upstream].ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect (fd, (struct sockaddr *) &self->up[f->upstream], self->uplen[f->upstream]) ||
            send (fd, f->q, f->qlen, 0) != (ssize_t) f->qlen) {
            close (fd);
            continue;
        }
        f->fd = fd;
        f->deadline = mono_ms () + self->timeout;
        watch (self, fd, 1);
        return 0;
    }
    return -1;
}

static void
servfail (dnsserve_t *self, fwd_t *f)
{
    size_t len;
    uint8_t *r = dns_servfail (f->q, f->qlen, &len);
    self->st.servfail++;
    if (r)
        deliver (self, f, r, len);
    free (r);
}

static void
forward (dnsserve_t *self, const uint8_t *q, size_t qlen, int tcp, const struct sockaddr_storage *peer, socklen_t peerlen,
         int conn)
{
    fwd_t tmp = { .fd = -1, .q = (uint8_t *) q, .qlen = qlen, .tcp = tcp, .conn = conn };
    if (peer) {
        tmp.peer = *peer;
        tmp.peerlen = peerlen;
    }
    if (tcp)
        tmp.gen = self->conns[conn]->gen;
    fwd_t *f = NULL;
    for (int i = 0; i < MAX_FWD && !f; i++)
        if (self->fwd[i].fd < 0)
            f = &self->fwd[i];
    if (!f) {   /* too many in flight: fail fast rather than queue */
        servfail (self, &tmp);
        return;
    }
    *f = tmp;
    f->q = malloc (qlen);
    memcpy (f->q, q, qlen);
    if (fwd_try (self, f)) {
        servfail (self, f);
        free (f->q);
        f->q = NULL;
        f->fd = -1;
        return;
    }
    self->nfwd++;
    self->st.forwarded++;
}

/* Sends the UDP answers queued by handle (sendmmsg; what it does not take goes one by one). */
static void
udp_flush (dnsserve_t *self)
{
    int sent = 0;
    while (sent < self->nout) {
        int n = sendmmsg (self->udp, self->amsg + sent, (unsigned) (self->nout - sent), 0);
        if (n <= 0) {   /* the socket buffer is full or the peer is gone: that answer is lost, as with sendto */
            sent++;
            continue;
        }
        sent += n;
    }
    for (int i = 0; i < self->nout; i++)
        free (self->abuf[i]);
    self->nout = 0;
}

static void
handle (dnsserve_t *self, const uint8_t *q, size_t qlen, int tcp, const struct sockaddr_storage *peer, socklen_t peerlen,
        int conn)
{
    uint8_t *out;
    size_t outlen;
    dns_verdict_t v = dns_answer (self->view, q, qlen, tcp, &out, &outlen);
    if (v == DNS_ANSWER) {
        if (tcp) {
            tcp_send (self, conn, out, outlen);
            free (out);
        } else {   /* queued: sent with the batch's others */
            if (self->nout == UDP_BATCH)
                udp_flush (self);
            int i = self->nout++;
            self->abuf[i] = out;
            self->aiov[i] = (struct iovec){ .iov_base = out, .iov_len = outlen };
            self->amsg[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = (void *) peer, .msg_namelen = peerlen,
                                                           .msg_iov = &self->aiov[i], .msg_iovlen = 1 } };
        }
    } else if (v == DNS_FORWARD)
        forward (self, q, qlen, tcp, peer, peerlen, conn);
    else
        self->st.dropped++;
}

static void
on_accept (dnsserve_t *self)
{
    int fd = accept4 (self->lst, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    int slot = -1, oldest = -1;
    for (int i = 0; i < MAX_TCP; i++) {
        if (!self->conns[i]) {
            slot = i;
            break;
        }
        if (oldest < 0 || self->conns[i]->last < self->conns[oldest]->last)
            oldest = i;
    }
    if (slot < 0) {
        conn_close (self, oldest);
        slot = oldest;
    }
    int sndbuf = 256 * 1024;
    setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    tcpconn_t *c = malloc (sizeof *c);
    c->fd = fd;
    c->gen = ++self->gen;
    c->last = mono_ms ();
    c->have = 0;
    self->conns[slot] = c;
    watch (self, fd, 1);
}

static void
on_tcp (dnsserve_t *self, int i)
{
    tcpconn_t *c = self->conns[i];
    ssize_t n = recv (c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close (self, i);
        return;
    }
    c->have += (size_t) n;
    c->last = mono_ms ();
    while (self->conns[i] == c && c->have >= 2) {
        size_t len = (size_t) c->buf[0] << 8 | c->buf[1];
        if (c->have < 2 + len)
            return;
        self->st.tcp++;
        handle (self, c->buf + 2, len, 1, NULL, 0, i);
        if (self->conns[i] != c)
            return;   /* closed by a failed write */
        memmove (c->buf, c->buf + 2 + len, c->have - 2 - len);
        c->have -= 2 + len;
    }
}

/* A TCP client's query answered truncated over UDP: asked again over TCP of the same upstream
 * (a non-blocking connect, completed by the tick or at once). 0, or -1 (relay the truncated). */
static int
fwd_to_tcp (dnsserve_t *self, fwd_t *f, const uint8_t *tc, size_t tclen)
{
    int fd = socket (self->up[f->upstream].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect (fd, (struct sockaddr *) &self->up[f->upstream], self->uplen[f->upstream]) && errno != EINPROGRESS) {
        close (fd);
        return -1;
    }
    watch (self, f->fd, 0);
    close (f->fd);
    f->fd = fd;
    f->stream = 1;
    f->tc = malloc (tclen);
    memcpy (f->tc, tc, tclen);
    f->tclen = tclen;
    f->deadline = mono_ms () + self->timeout;
    return 0;
}

/* TCP connecting: once connected, the query goes (length-prefixed) and the answer is awaited. */
static void
fwd_tcp_progress (dnsserve_t *self, fwd_t *f)
{
    struct pollfd p = {.fd = f->fd, .events = POLLOUT};
    if (poll (&p, 1, 0) != 1)
        return;
    int soerr = 0;
    socklen_t l = sizeof soerr;
    getsockopt (f->fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
    uint8_t *b = malloc (f->qlen + 2);
    b[0] = (uint8_t) (f->qlen >> 8);
    b[1] = (uint8_t) f->qlen;
    memcpy (b + 2, f->q, f->qlen);
    ssize_t n = soerr ? -1 : send (f->fd, b, f->qlen + 2, MSG_NOSIGNAL);
    free (b);
    if (n != (ssize_t) f->qlen + 2) {
        deliver (self, f, f->tc, f->tclen);   /* what UDP gave, truncated as it is */
        fwd_end (self, f);
        return;
    }
    f->stream = 2;
    f->rbuf = malloc (2 + 65535);
    f->rhave = 0;
    watch (self, f->fd, 1);
}

static void
on_fwd_tcp (dnsserve_t *self, fwd_t *f)
{
    ssize_t n = recv (f->fd, f->rbuf + f->rhave, 2 + 65535 - f->rhave, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        f->rhave += (size_t) n;
    size_t len = f->rhave >= 2 ? ((size_t) f->rbuf[0] << 8 | f->rbuf[1]) : 0;
    if (f->rhave >= 2 && f->rhave >= 2 + len) {
        const uint8_t *m = f->rbuf + 2;
        if (len >= 12 && m[0] == f->q[0] && m[1] == f->q[1] && (m[2] & 0x80))
            deliver (self, f, m, len);
        else
            deliver (self, f, f->tc, f->tclen);
        fwd_end (self, f);
    } else if (n <= 0) {   /* closed or failed before the whole answer */
        deliver (self, f, f->tc, f->tclen);
        fwd_end (self, f);
    }
}

static void
on_fwd (dnsserve_t *self, fwd_t *f)
{
    if (f->stream == 2) {
        on_fwd_tcp (self, f);
        return;
    }
    uint8_t buf[65536];
    ssize_t n = recv (f->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 12 || buf[0] != f->q[0] || buf[1] != f->q[1] || !(buf[2] & 0x80)) {
        if (n < 0) {   /* ICMP unreachable: the next upstream now */
            watch (self, f->fd, 0);
            close (f->fd);
            f->fd = -1;
            f->upstream++;
            if (fwd_try (self, f)) {
                servfail (self, f);
                free (f->q);
                f->q = NULL;
                self->nfwd--;
            }
        }
        return;   /* not the answer: keep waiting for it */
    }
    if ((buf[2] & 0x02) && f->tcp && !fwd_to_tcp (self, f, buf, (size_t) n)) {
        fwd_tcp_progress (self, f);   /* often connected at once (loopback, LAN) */
        return;
    }
    deliver (self, f, buf, (size_t) n);
    fwd_end (self, f);
}

void
dnsserve_readable (dnsserve_t *self, int fd)
{
    if (fd == self->udp) {
        for (int round = 0; round < 2; round++) {   /* two batches, then let the loop breathe */
            for (int i = 0; i < UDP_BATCH; i++) {
                self->qiov[i] = (struct iovec){ .iov_base = self->qbuf[i], .iov_len = UDP_QMAX };
                self->qmsg[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &self->qpeer[i], .msg_namelen = sizeof self->qpeer[i],
                                                               .msg_iov = &self->qiov[i], .msg_iovlen = 1 } };
            }
            int n = recvmmsg (self->udp, self->qmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0)
                return;
            for (int i = 0; i < n; i++) {
                self->st.udp++;
                if (self->qmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
                    self->st.dropped++;
                    continue;
                }
                /* the peer address stays in qpeer[i] until the flush below */
                handle (self, self->qbuf[i], self->qmsg[i].msg_len, 0, &self->qpeer[i], self->qmsg[i].msg_hdr.msg_namelen, -1);
            }
            udp_flush (self);
            if (n < UDP_BATCH)
                return;
        }
        return;
    }
    if (fd == self->lst) {
        on_accept (self);
        return;
    }
    for (int i = 0; i < MAX_TCP; i++)
        if (self->conns[i] && self->conns[i]->fd == fd) {
            on_tcp (self, i);
            return;
        }
    for (int i = 0; i < MAX_FWD; i++)
        if (self->fwd[i].fd == fd) {
            on_fwd (self, &self->fwd[i]);
            return;
        }
}

void
dnsserve_tick (dnsserve_t *self, int64_t now_ms)
{
    (void) now_ms;   /* our own clock: the deadlines were set with it */
    int64_t now = mono_ms ();
    for (int i = 0; i < MAX_FWD && self->nfwd; i++) {
        fwd_t *f = &self->fwd[i];
        if (f->fd >= 0 && f->stream == 1 && f->deadline > now)
            fwd_tcp_progress (self, f);
        if (f->fd < 0 || f->deadline > now)
            continue;
        if (f->stream) {   /* TCP retry timed out: the truncated answer is still an answer */
            deliver (self, f, f->tc, f->tclen);
            fwd_end (self, f);
            continue;
        }
        watch (self, f->fd, 0);
        close (f->fd);
        f->fd = -1;
        f->upstream++;
        if (fwd_try (self, f)) {
            servfail (self, f);
            free (f->q);
            f->q = NULL;
            self->nfwd--;
        }
    }
    for (int i = 0; i < MAX_TCP; i++)
        if (self->conns[i] && now - self->conns[i]->last > TCP_IDLE_MS)
            conn_close (self, i);
}
