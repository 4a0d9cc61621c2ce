/* dnsserve — the cluster DNS's sockets: a UDP socket and a TCP listener on one address, answers
 * from dnsanswer, and the forwarding of other names to upstream resolvers. No loop of its own:
 * its owner polls the descriptors it is told about (watch callback) and calls dnsserve_readable
 * and dnsserve_tick, so it runs in an actor's zloop as in a test's poll().
 *
 * Forwarding: the query is sent as received over UDP from a fresh socket connected to the
 * first upstream (a random source port per query, and only that upstream's answer is read);
 * no answer within the timeout → the next upstream; none left → SERVFAIL to the client. A reply
 * is relayed only when its id matches the query's. TCP clients are forwarded over UDP too; an
 * answer with TC set is asked again over TCP of the same upstream (connect checked every tick),
 * and if that fails or times out the truncated answer is relayed.
 * UDP: up to 32 queries are read per recvmmsg and their answers sent with one sendmmsg; a UDP
 * query longer than 4096 bytes is dropped (counted in dropped).
 * TCP: length-prefixed messages, several per connection; a connection idle 10 s is closed, at
 * most 128 at a time (the oldest idle one goes), writes that would block close the connection.
 */
#ifndef TROUPE_DNSSERVE_H
#define TROUPE_DNSSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "actors/dns/dnsanswer.h"

#define DNSSERVE_MAX_UPSTREAMS 3

typedef struct dnsserve dnsserve_t;

/* on != 0: poll fd for reading from now on; 0: stop (the fd is about to be closed). */
typedef void (dnsserve_watch_fn) (void *arg, int fd, int on);

typedef struct {
    const char *ip;          /* listen address, "10.96.0.10" or "127.0.0.1" */
    int port;                /* 53; 0 picks a free port (see dnsserve_port) */
    const char *upstreams[DNSSERVE_MAX_UPSTREAMS]; /* "ip" (port 53) or "ip:port"; NULL-terminated */
    int forward_timeout_ms;  /* per upstream; 0 = 2000 */
    dnsserve_watch_fn *watch;
    void *watch_arg;
} dnsserve_opts_t;

/* Binds UDP and TCP on ip:port and reports both descriptors through watch. view is borrowed
 * (it must outlive the server). NULL with err set when a bind fails. */
dnsserve_t *dnsserve_new (dns_view_t *view, const dnsserve_opts_t *opts, char *err, size_t errlen);
/* Closes every socket (each unwatched first). */
void dnsserve_destroy (dnsserve_t **self_p);
int dnsserve_port (const dnsserve_t *self);
/* fd (one dnsserve watched) is readable. */
void dnsserve_readable (dnsserve_t *self, int fd);
/* Timeouts of forwarded queries and idle connections; call every ~100 ms. now: monotonic ms. */
void dnsserve_tick (dnsserve_t *self, int64_t now_ms);

/* The nameserver lines of a resolv.conf text, except exclude (the cluster DNS address itself),
 * into out (at most DNSSERVE_MAX_UPSTREAMS strings, malloc'd, the rest NULL). Returns the count. */
int dnsserve_upstreams_from_resolv (const char *text, const char *exclude, char **out);

/* Counters, for logs and tests. */
typedef struct {
    uint64_t udp, tcp, forwarded, servfail, dropped;
} dnsserve_stats_t;
dnsserve_stats_t dnsserve_stats (const dnsserve_t *self);

#endif
