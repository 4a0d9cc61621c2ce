/* broker_int — the broker's private state, shared by its files:
 *   broker.c        the thread: sockets, dispatch, reads and watches, store messages, start-up
 *   broker_write.c  writes: create, update, patch, delete, proposals to the store and their results
 *   broker_auth.c   identities (CURVE key → name, role) and authorisation (role × verb × kind)
 * Everything runs on the broker's one thread.
 */
#ifndef TROUPE_BROKER_INT_H
#define TROUPE_BROKER_INT_H

#include "broker/authz.h"
#include "broker/broker_cache.h"
#include "broker/encryption.h"
#include "broker/svcalloc.h"
#include "core/envelope.h"
#include "core/schema.h"

#include <czmq.h>
#include <time.h>
#include <jansson.h>
#include <msgpack.h>

#define A "broker"

typedef struct {
    char name[128];
    role_t role;
    char key[41]; /* a tcp client's CURVE key (Z85), known or not; "" on the local socket */
} ident_t;

/* A write waiting for the store. */
typedef struct pending_write pending_write_t;
struct pending_write {
    zsock_t *sock;
    zframe_t *rid;
    uint64_t req_id;
    json_t *obj;          /* the object as proposed (returned with its new resourceVersion) */
    char *own_key;        /* its key when the cache expects its commit (bcache_expect), else NULL */
    int is_delete;
    int renewal;          /* a Lease renewal: held in the store's memory, no event of its own */
    int status_reply;     /* answered with a Status, not the object (pods/binding, as BindingREST) */
    char what[300];       /* `deployments.apps "web"` for messages */
    tr_env_t *retry;      /* the request, when a Conflict should be retried (no client precondition) */
    ident_t ident;
    int attempts;
    int64_t deadline;     /* monotonic ms after which the client gets Timeout (0: stamped by the
                             next sweep, within a second of the request) */
    /* a step of a multi-proposal write (broker_svc.c): called with the store's results instead
     * of answering the client; ctx is its state (freed with the pending write) */
    void (*then) (void *broker, pending_write_t *p, const msgpack_object *res);
    json_t *ctx;
};

#define MAX_RETRIES 8

typedef struct {
    zsock_t *sock;
    zframe_t *rid;
    uint64_t req_id;
    int64_t deadline;
    char node[TR_NAME_MAX + 1]; /* the agent asked: only its connection's reply answers */
} forward_t;

typedef struct bk_secrets bk_secrets_t; /* broker_secrets.c */
/* A client connection (routing id on local or remote), as the broker sees it: when it was last
 * heard from (watchers of a silent client are dropped), its requests in flight to the store
 * (TooManyRequests past a share), and the replies waiting for room in its pipe (the broker never
 * blocks on one client). */
typedef struct {
    zsock_t *sock;
    zframe_t *rid;
    char key[24];
    int64_t last_seen;
    zlistx_t *outq;       /* zframe_t*: encoded replies, in order */
    size_t outq_bytes;
    size_t dropped;       /* replies dropped because outq was full */
    int inflight;
    zlistx_t *waitq;      /* parked_t*: its requests over its share, waiting for it (or NULL) */
    void *h_park;         /* its handle in b->parkers while waitq holds some */
    int node;             /* a node's agent (its hello said so): its writes yield to the others' */
} conn_t;

/* A request that came over its client's share, queued until the share has room (as the
 * api-server's priority and fairness queues before it refuses): the decoded request and who
 * sent it. */
typedef struct {
    tr_env_t req;
    ident_t id;
    int64_t at; /* parked at (zclock_mono) */
} parked_t;

typedef struct {
    zsock_t *local, *remote, *store;
    zactor_t *auth;
    zpoller_t *poller;
    schema_registry_t *schemas;
    bcache_t *cache;
    zhashx_t *pending;    /* proposal id → pending_write_t */
    int replicated;       /* the store answers "q" (status) */
    int reloading;        /* after "x": waiting for the range answer */
    int read_ready;       /* handle(): the read barrier has passed */
    zlistx_t *reload_events; /* zmsg_t: events that arrived while reloading */
    zhashx_t *forwards;   /* forward id → forward_t */
    zhashx_t *nodes;      /* node name → zframe_t* routing id on local or remote */
    zhashx_t *node_sock;  /* node name → zsock_t* */
    zhashx_t *clients;    /* CURVE public key (Z85) → ident_t* */
    uint64_t next_id;
    char instance[40];
    char pki_dir[1024];
    struct certdir *certs;      /* pki/clients, read incrementally (certdir.h): clients' source */
    int64_t clients_loaded_at; /* monotonic ms of the last forced read of pki/clients */
    int64_t clients_checked_at; /* monotonic ms of the last look at its mtime */
    bk_secrets_t *secrets;     /* encryption at rest of Secrets */
    zhashx_t *conns;      /* conn key → conn_t* */
    zhashx_t *cut;        /* conn key → monotonic ms: clients whose watches were dropped for silence */
    size_t queued;        /* replies in every conn's outq */
    size_t parked;        /* requests in every conn's waitq (at most max_inflight) */
    zlistx_t *parkers;    /* conn_t*: the conns whose waitq holds some, in the order they parked */
    zlistx_t *nodeq;      /* node_req_t* (broker.c): nodes' writes past this turn's node budget */
    int node_budget;      /* nodes' writes still served at once in this turn of the loop */
    size_t active;        /* conns with requests in flight: the share of each is max_inflight / active */
    int64_t last_sweep;
    size_t max_inflight, max_inflight_client;
    int silence_ms, request_timeout_ms;
    svc_cidr_t svc_cidr;  /* Service cluster IPs (--service-cidr) */
    svc_ports_t svc_ports; /* node ports (--service-node-port-range) */
} broker_t;

typedef struct {
    broker_t *b;
    zsock_t *sock;
    zframe_t *rid;
    tr_env_t *req;
    ident_t *id;
    const schema_kind_t *sk;
    char ns[TR_NAME_MAX + 1];
    char key[600];
    char what[300];
    int attempts;     /* how many times this request met a Conflict it retried */
    int retryable;    /* the client gave no resourceVersion: a Conflict is ours to retry */
    int renewal;      /* a Lease update that only moves spec.renewTime (lease.h) */
    int status_reply; /* success is answered with a Status (pods/binding), not the object */
} rq_t;

/* broker.c */
/* Sends a reply; body is borrowed. A NULL sock (internal proposals) sends nothing. */
void
bk_reply (zsock_t *sock, zframe_t *rid, const tr_env_t *req, tr_code_t code, json_t *body, uint64_t rv, const char *fmt,
          ...) __attribute__ ((format (printf, 7, 8)));
/* An OK reply whose body is already encoded (the committed object, as its watch event carries it). */
void bk_reply_encoded (zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *body, size_t body_len, uint64_t rv);
void bk_rfc3339_now (char *buf, size_t len);
/* Puts p in b->pending under proposal id pid; a client's request (p->sock set) takes one of that
 * client's share of requests in flight (released by bk_pending_take or the sweep's Timeout). */
void bk_pending_add (broker_t *b, uint64_t pid, pending_write_t *p);
/* The request waiting for the store's answer o (by its "id"), taken out of b->pending; or NULL. */
pending_write_t *bk_pending_take (broker_t *b, const msgpack_object *o);
/* Handles one decoded request (attempts: Conflicts already retried for it). */
void bk_handle (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts);
/* Reloads the watch cache from the store (watchers get EXPIRED and relist), as after a snapshot. */
void bk_reload_cache (broker_t *b);

/* broker_write.c */
/* Proposes one operation on key to the store; obj (stolen) is the object returned on success. */
void bk_propose (broker_t *b, zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *key, int op, int cond,
                 uint64_t expect, json_t *obj, const char *what, const rq_t *r);
/* Answers p's client with Kubernetes' Status of success ({kind: Status, status: Success, code: 201}),
 * as the api-server answers a Binding or an Eviction; rev goes in the reply's envelope (0: none). */
void bk_reply_success (pending_write_t *p, uint64_t rev);
/* A proposal's result from the store ({"t":"r"}): the client's reply, or a retry. */
void bk_on_store_result (broker_t *b, const msgpack_object *o);
int bk_ns_exists (broker_t *b, const char *ns);
/* Sets uid and creationTimestamp of a new object. */
void bk_stamp_new (json_t *obj);
/* The cached object `name` of the request's kind (NotFound replied when absent). */
const json_t *bk_lookup (rq_t *r, const char *name, uint64_t *mod_rev);
void bk_h_create (rq_t *r);
void bk_h_update (rq_t *r, int status_only);
void bk_h_patch (rq_t *r);
void bk_h_delete (rq_t *r);
/* The schema part of an update (server-owned metadata, canonical values, generation, defaults,
 * validation against cur): 0, or -1 and err. See broker_write.c. */
int bk_update_schema (const schema_registry_t *schemas, const schema_kind_t *sk, const json_t *cur, json_t *next,
                      int update, int svc_keep, int *renewal, char *err, size_t errlen);
/* The client's answer to a write whose store result is `result` (store.h numbers) at rev; a
 * Conflict with p->retry runs the request again. Does not free p. */
void bk_write_answered (broker_t *b, pending_write_t *p, int result, uint64_t rev);
/* Frees a pending write, and forgets its commit if the cache still expects it (bcache_expect):
 * answered, timed out or dropped, it is no longer ours to take. */
void bk_pending_free (broker_t *b, pending_write_t *p);
/* What a delete of the cached object cur writes (new reference): a pod bound to a node is marked
 * (*op 1, a put with deletionTimestamp; grace: deleteOptions.gracePeriodSeconds, -1 unset), anything
 * else removed (*op 2). NULL: a bound pod already being deleted, nothing to write. */
json_t *bk_deletion (const json_t *cur, json_int_t grace, int *op);

/* broker_evict.c — pods/eviction (broker/eviction.h decides) */
/* A create with opts.subresource=eviction on a Pod: body an Eviction {metadata: {name, namespace},
 * deleteOptions}. Replies itself (a Status Success once the pod is deleted or marked). */
void bk_h_evict (rq_t *r);

/* broker_svc.c — Service writes with their cluster IP and node port reservations */
/* Writes the Service obj (stolen) at r->key (cond, expect as a proposal), after reserving what
 * it newly holds (cur: the stored Service of an update, NULL for a create). Replies itself; -1
 * when refused at once. */
int bk_svc_write (rq_t *r, const json_t *cur, json_t *obj, int cond, uint64_t expect);
/* Before an update's validation: keeps the allocated clusterIP and nodePorts the update left out. */
void bk_svc_keep_allocated (const json_t *cur, json_t *next);
/* After a Service was written (or deleted): deletes the reservations it no longer holds. */
void bk_svc_after_write (broker_t *b, const json_t *svc, int deleted);

/* broker_auth.c */
const char *bk_role_name (role_t r);
int bk_is_write (tr_verb_t v);
/* 0 if r's identity may do r's request (its verb and opts.subresource) on the object `name` of
 * r's kind (cur: the stored object, newobj: the one proposed); else replies Forbidden, with the
 * api-server's message (authz.h), and returns -1. */
int bk_authorize (rq_t *r, const json_t *cur, const json_t *newobj, const char *name);
/* The same before the object is read (a write): refused when the role may never do it. 0 or -1. */
int bk_authorize_role (rq_t *r);
/* The identity of a message's sender (local socket: admin; tcp: its CURVE key). 0 or -1. */
int bk_identify (broker_t *b, zsock_t *sock, zmsg_t *m, ident_t *id);
/* Loads the certificates in pki_dir/clients into b->clients. Returns how many are known. */
int bk_load_clients (broker_t *b, const char *pki_dir, int force);

/* broker_join.c — a node joins with a bootstrap token */
/* Is req a NodeJoin (create, kind NodeJoin)? */
int bk_is_join (const tr_env_t *req);
/* Checks req's token, records key as node req.body.nodeName's, replies. known: the key's identity
 * when it has a certificate already (NULL: anonymous). */
void bk_join (broker_t *b, zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *key, const ident_t *known);

/* broker_secrets.c — Secrets encrypted at rest (broker/encryption.h) */
#define BK_SECRETS_CONFIG ENC_CONFIG_FILE /* in the pki directory */
/* Reads pki_dir/BK_SECRETS_CONFIG (pki_dir may be NULL: Secrets are then refused) and lets the
 * watch cache open sealed values. Before the cache is loaded. 0. */
int bk_secrets_init (broker_t *b, const char *pki_dir);
void bk_secrets_destroy (broker_t *b);
/* Called by the broker's loop: re-reads the configuration when it changed (at most a stat a second). */
void bk_secrets_tick (broker_t *b);
/* Seals *val (replaced, malloc'd) when key is a Secret's. 0, or -1 with err (not configured). */
int bk_secrets_seal (broker_t *b, const char *key, char **val, size_t *len, char *err, size_t errlen);
/* For a Secret request: 1 if it was answered with a refusal (no configuration; a value this
 * server cannot decrypt), else 0. */
int bk_secrets_guard (rq_t *r);

#endif
