/* actor — the one interface of every Troupe actor, built-in or loaded from a .so.
 *
 * An actor runs in its own thread (the host gives each a zloop); its state is private to that
 * thread. Its only window on the world is its troupe_ctx_t: requests to the broker (answered by
 * a callback on the same thread), informers (list+watch with a local cache), timers, replies to
 * requests addressed to it, and logging. Because it never touches a socket itself, the same code
 * runs inproc (troupe up), over ipc, or over tcp with CURVE: only the host's endpoint changes.
 *
 * A third-party actor is a shared object exporting troupe_actor_entry(); `troupe server --actor
 * ./libmine.so` loads it. The ABI number is checked at load; see docs/extending.md.
 */
#ifndef TROUPE_ACTOR_H
#define TROUPE_ACTOR_H

#include <jansson.h>
#include <stdint.h>

#include "core/envelope.h"

#define TROUPE_ACTOR_ABI 1

typedef struct troupe_ctx troupe_ctx_t;
typedef struct troupe_informer troupe_informer_t;

typedef struct {
    uint32_t abi;      /* TROUPE_ACTOR_ABI */
    const char *name;  /* short, unique in a process: "scheduler", "echo" */
    /* Called on the actor's thread before anything else; config is the actor's section of the
     * server config (may be an empty map). Return NULL to refuse to start. */
    void *(*create) (troupe_ctx_t *ctx, const json_t *config);
    /* A request addressed to this actor (e.g. the broker forwarding `logs` to a node's agent).
     * Answer it with troupe_reply (now or later). May be NULL. */
    int (*message) (void *self, troupe_ctx_t *ctx, const tr_env_t *msg);
    /* A timer set with troupe_timer fired. May be NULL. */
    int (*timer) (void *self, troupe_ctx_t *ctx, int timer_id);
    /* Called on the actor's thread at shutdown; free everything and null *self_p. */
    void (*destroy) (void **self_p);
} troupe_actor_t;

/* The one symbol a .so exports. */
typedef const troupe_actor_t *(*troupe_actor_entry_fn) (void);
const troupe_actor_t *troupe_actor_entry (void);

/* ---- requests ---------------------------------------------------------------------------- */

/* Called with the reply (code TR_OK or an error; TR_UNAVAILABLE / TR_TIMEOUT when the broker
 * could not be reached within the deadline). The reply is borrowed for the call's duration. */
typedef void (troupe_reply_fn) (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);

/* Sends req (its id is assigned here) to the broker. cb may be NULL (fire and forget).
 * Returns 0 or -1 when the request could not be queued. The actor keeps ownership of req. */
int troupe_request (troupe_ctx_t *ctx, const tr_env_t *req, troupe_reply_fn *cb, void *arg);

/* As troupe_request, for a best-effort write nothing waits on (an Event): sent only when none of
 * the actor's other requests waits for room in its window, and within half of it, as
 * Kubernetes writes Events through a client of their own. It may wait longer than a request's
 * timeout for its turn (6 times, then TR_TIMEOUT); order among background requests is kept. */
int troupe_request_background (troupe_ctx_t *ctx, const tr_env_t *req, troupe_reply_fn *cb, void *arg);

/* How many of the actor's requests may be in flight to the broker at once; the others wait in
 * order in the host. 128 unless set; 1..480 (below the broker's share of a client, 512, so that
 * a burst is paced here, not refused there). An actor whose writes stream (the scheduler's
 * bindings) sets more: its throughput is at most the window over the broker's round trip.
 * Returns n, or -1 (unchanged) when n is out of range. */
int troupe_set_window (troupe_ctx_t *ctx, int n);

/* Replies to a request handed to actor->message. body is borrowed. */
int troupe_reply (troupe_ctx_t *ctx, const tr_env_t *req, tr_code_t code, const json_t *body,
                  const char *msg);

/* A connection to another endpoint that speaks envelopes (e.g. the agent's runtime shim at
 * ipc:///…/shim.sock). Requests on it behave like troupe_request. Owned by ctx. NULL on error. */
typedef struct troupe_peer troupe_peer_t;
troupe_peer_t *troupe_peer (troupe_ctx_t *ctx, const char *endpoint);
/* timeout_ms 0 = the default (10 s); on expiry cb gets TR_TIMEOUT. */
int troupe_peer_request (troupe_peer_t *peer, const tr_env_t *req, int timeout_ms,
                         troupe_reply_fn *cb, void *arg);

/* ---- informers --------------------------------------------------------------------------- */

/* Handlers run on the actor's thread. old/new are borrowed (valid during the call).
 * on_add: new object (also for each object of a (re)list); on_update: old and new;
 * on_delete: last known object; on_synced: the cache holds a complete list (after each relist). */
typedef struct {
    void (*on_add) (void *self, troupe_ctx_t *ctx, const json_t *obj);
    void (*on_update) (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *obj);
    void (*on_delete) (void *self, troupe_ctx_t *ctx, const json_t *obj);
    void (*on_synced) (void *self, troupe_ctx_t *ctx);
} troupe_handlers_t;

/* Lists kind (all namespaces; label_selector/field_selector may be NULL) then watches from the
 * list's revision, keeping a local cache. On an Expired watch or a reconnect to a restarted
 * broker it relists and reports the differences as add/update/delete, so handlers see a
 * level-consistent stream. Returns the informer (owned by ctx) or NULL. */
troupe_informer_t *troupe_watch (troupe_ctx_t *ctx, const char *kind, const char *label_selector,
                                 const char *field_selector, const troupe_handlers_t *h);

/* What an informer keeps of each object it receives (as Kubernetes' SharedIndexInformer
 * SetTransform): a new reference the informer owns, e.g. a Pod reduced to the fields the actor
 * reads, or NULL to keep nothing of it (as if it were deleted). The cache, the handlers and
 * troupe_informer_get/foreach then see only that; the key stays the received object's
 * namespace/name. Set it right after troupe_watch (before the first list answers). */
typedef json_t *(troupe_transform_fn) (const json_t *obj);
void troupe_informer_set_transform (troupe_informer_t *inf, troupe_transform_fn *fn);
/* The fields an informer keeps of each object, as dotted paths ("spec.nodeName", "status";
 * "spec.containers.ports": each container's ports; apiVersion, kind, and metadata's name,
 * namespace, uid and resourceVersion always): the rest of a watch event is never decoded, nor held. A transform, if
 * any, sees the object so reduced. Set it right after troupe_watch. At most 60 paths. */
void troupe_informer_set_fields (troupe_informer_t *inf, const char *const *paths, size_t n);

/* Borrowed cached object, or NULL. ns "" for cluster-scoped kinds. */
const json_t *troupe_informer_get (troupe_informer_t *inf, const char *ns, const char *name);
/* Calls fn for every cached object (in no particular order). */
void troupe_informer_foreach (troupe_informer_t *inf, void (*fn) (void *arg, const json_t *obj),
                              void *arg);
size_t troupe_informer_count (troupe_informer_t *inf);
/* True once the first list has been received. */
int troupe_informer_synced (troupe_informer_t *inf);

/* ---- file descriptors ------------------------------------------------------------------- */

/* Called on the actor's thread when fd is readable. */
typedef void (troupe_fd_fn) (void *self, troupe_ctx_t *ctx, int fd);
/* Polls fd (owned by the actor) for reading in the actor's loop: the way an actor serves a
 * socket of its own (the cluster DNS). 0, or -1 (fd already watched, or no room). */
int troupe_fd_watch (troupe_ctx_t *ctx, int fd, troupe_fd_fn *fn);
/* Stops polling fd; call before closing it. */
void troupe_fd_unwatch (troupe_ctx_t *ctx, int fd);

/* ---- timers, identity, logging ----------------------------------------------------------- */

/* Arms timer_id to fire after ms milliseconds; repeat != 0 fires every ms. Re-arming an armed
 * id replaces it. Returns 0 or -1. */
int troupe_timer (troupe_ctx_t *ctx, int timer_id, int ms, int repeat);
/* Makes one-shot timer_id fire within ms: armed now unless it is already armed to fire sooner.
 * The way to batch work behind events: batch by time, not by quiet. Re-arming on every event
 * with troupe_timer would push the work back forever under a steady stream. 0 or -1. */
int troupe_timer_within (troupe_ctx_t *ctx, int timer_id, int ms);
void troupe_timer_cancel (troupe_ctx_t *ctx, int timer_id);

/* Name of the node this actor runs on (host's --node-name), e.g. for the agent. */
const char *troupe_node_name (troupe_ctx_t *ctx);
/* Data directory of this process (for actors that keep files: the agent's logs). */
const char *troupe_data_dir (troupe_ctx_t *ctx);
/* The actor's name, for logs. */
const char *troupe_actor_name (troupe_ctx_t *ctx);

/* Milliseconds since the epoch (wall clock) and since an arbitrary start (monotonic). */
int64_t troupe_now_ms (void);
int64_t troupe_mono_ms (void);

#endif
