/* broker — Troupe's api-server: the one front door.
 *
 * Every request goes through: decode (bad frames get BadRequest/TooLarge, never a crash) →
 * identity (local socket: the machine's admin, guarded by the socket directory's permissions;
 * tcp: CURVE key → identity → role) → authorisation (role × verb × kind, nodes limited to their
 * own objects) → validation and defaulting against schema/ → a proposal to the store actor.
 * Reads (get/list) and watches are served from the watch cache: every object in memory plus a
 * ring of recent events, fed by the store's commit stream. A watcher gets events while it has
 * credit; one that falls behind the ring gets an explicit EXPIRED event, never a silent gap.
 */
#ifndef TROUPE_BROKER_H
#define TROUPE_BROKER_H

#include <czmq.h>

/* Requests a client may have waiting beyond its share before it is answered TooManyRequests
 * (docs/protocol.md, Limits); each waits at most a quarter of request_timeout_ms. */
#define BROKER_QUEUE_PER_CLIENT 128

typedef struct {
    const char *store_endpoint;   /* the store actor, e.g. inproc://troupe-store */
    const char *local_endpoints;  /* comma-separated inproc://… and ipc://… (no auth) */
    const char *tcp_endpoint;     /* tcp://host:port or NULL: CURVE */
    const char *pki_dir;          /* server.cert(+_secret) and clients/ certs, for tcp */
    int ring_size;                /* watch cache events kept at least; 0 = default 10000 */
    int ring_max;                 /* ... and kept while younger than ring_window_ms, up to this many;
                                     0 = default 102400 (Kubernetes' watch cache upper bound) */
    int ring_window_ms;           /* 0 = default 75000 (Kubernetes' eventFreshDuration) */
    int replicated;               /* the store is raft_store: serves `get StoreStatus` */
    int auth_external;            /* the process already runs zauth on pki_dir/clients (one per
                                     process: the replicated store's peer sockets need it too) */
    /* Limits (0 = default). Requests in flight to the store, in all (4096) and per client (512):
     * past them a request that needs the store gets TooManyRequests (retry after 1 s). A store
     * answer (or an agent's, for logs) not back within request_timeout_ms (20000) ends the
     * request with Timeout. A client not heard from for client_silence_ms (10000; clients ping
     * every 2 s) loses its watches. */
    int max_inflight, max_inflight_per_client, request_timeout_ms, client_silence_ms;
    /* Services: the block cluster IPs come from (NULL: 10.96.0.0/16) and the node port range
     * (NULL: 30000-32767), checked by the caller (broker/svcalloc.h) */
    const char *service_cidr, *node_port_range;
} broker_opts_t;

/* The actor's pipe takes "$TERM" (zactor_destroy) and, for tests, "EXPECTED": it answers (picture
 * "8") how many of its writes in flight its watch cache holds for their commit (bcache_expect);
 * "PAUSE": it signals (zsock_wait) and reads nothing more until "RESUME", or "STEP": one turn of
 * its loop, then it signals and waits again ("$TERM" still ends it). */
/* Starts the broker thread. Returns NULL (logged) when it cannot bind or load its schemas.
 * zactor_destroy stops it. */
zactor_t *broker_new (const broker_opts_t *opts);

#endif
