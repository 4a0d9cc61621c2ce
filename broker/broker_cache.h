/* broker_cache — the broker's watch cache, as the Kubernetes api-server keeps one: every object
 * in memory (per kind), a ring of the most recent events (one per store revision, so an event is
 * found by its revision in O(1)), and the registered watchers with their credit.
 *
 * A watcher receives events in revision order while it has credit; it resumes where it stopped
 * when granted more. If the revision it needs next has left the ring, it gets one EXPIRED event
 * and is dropped: the client relists (no silent gap). Lease renewals a replicated store keeps in
 * memory (no revision of their own) follow in a second, smaller ring: sent to watchers that are
 * caught up with the committed events, skipped for one that is far behind (the next renewal
 * supersedes it) — never at the cost of a committed event.
 */
#ifndef TROUPE_BROKER_CACHE_H
#define TROUPE_BROKER_CACHE_H

#include <czmq.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>

#include "core/schema.h"

typedef struct bcache bcache_t;

bcache_t *bcache_new (schema_registry_t *schemas, int ring_size);
void bcache_destroy (bcache_t **self_p);

/* Opens a stored value before it is decoded (Secrets encrypted at rest, broker/encryption.h):
 * 1 leaves it as it is, 0 gives the plaintext in *out (malloc'd), -1 means it cannot be opened:
 * the cache then holds a stand-in with the object's name and BCACHE_UNDECRYPTABLE set to err,
 * so that a read of it can be refused with the reason. */
typedef int (*bcache_open_fn) (void *arg, const char *key, const char *val, size_t len, char **out, size_t *outlen,
                               char *err, size_t errlen);
#define BCACHE_UNDECRYPTABLE "troupe:undecryptable"
void bcache_set_opener (bcache_t *self, bcache_open_fn fn, void *arg);

/* Loads the store's range reply (array of [key, val, mod_rev, create_rev]) taken at rev. 0/-1. */
int bcache_load (bcache_t *self, const msgpack_object *kvs, uint64_t rev);
/* The broker proposed obj for key (an object without metadata.resourceVersion), encoded as
 * val[0..len) (taken), its metadata map at val[meta_at..meta_end) (tv_encode_mark): when that
 * value commits, its event takes obj (a reference taken; nothing may change it until then) and
 * an encoding made from val, instead of decoding and encoding again. bcache_expect_done (its
 * answer came) forgets it if no commit took it. */
void bcache_expect (bcache_t *self, const char *key, json_t *obj, char *val, size_t len, size_t meta_at, size_t meta_end);
void bcache_expect_done (bcache_t *self, const char *key, const json_t *obj);
/* How many are held (tests). */
size_t bcache_expected (bcache_t *self);
/* Applies committed events (array of [rev, kind, key, val, create_rev, created]). */
void bcache_apply_events (bcache_t *self, const msgpack_object *ev);
/* Applies lease renewals the store holds in memory (array of [key, val, mod_rev, create_rev]):
 * an object whose cached mod_rev is mod_rev takes the new value, and watchers of its kind get
 * MODIFIED (same resourceVersion). A renewal of an object changed since is dropped. */
void bcache_apply_renewals (bcache_t *self, const msgpack_object *kvs);
/* The encoding of the object the event of revision rev carries (made now if no watcher needed it
 * yet, and kept for them), or NULL when that event has left the ring, is a delete or is not of
 * the object `like` names (kind, name, namespace). Valid until the next apply. A write's reply
 * is that object: encoded once for the reply and every watcher. */
const char *bcache_event_encoding (bcache_t *self, uint64_t rev, const json_t *like, size_t *len);
/* Forgets every object and event and sends EXPIRED to every watcher (they relist): the store
 * was replaced under us (a replicated store restored a snapshot). bcache_load follows. */
void bcache_reset (bcache_t *self);

/* Borrowed object (with metadata.resourceVersion) at key, or NULL; *mod_rev if non-NULL. */
const json_t *bcache_get (bcache_t *self, const char *key, uint64_t *mod_rev);
/* The object at key encoded (msgpack; made once, as for a list, and kept until the object
 * changes), *len its length; NULL if absent. Valid until the cache next changes. A GET answers
 * with it: the nodes' agents read their Node every 10 s, each read packed the whole Node again. */
const char *bcache_get_encoded (bcache_t *self, const char *key, size_t *len, uint64_t *mod_rev);
/* New array of matching objects of kind plural in ns ("" = all). 0, or -1 with err for a bad
 * selector. *rev = the cache's revision. */
int bcache_list (bcache_t *self, const char *plural, const char *ns, const char *label_selector,
                 const char *field_selector, json_t **items, uint64_t *rev, char *err, size_t errlen);
/* Paged lists (limit/continue, as the api-server): a first page with limit > 0 that leaves objects
 * out keeps the rest of that snapshot (references, sorted) for BCACHE_LIST_TTL_MS after each page;
 * at most BCACHE_LIST_SESSIONS at once (the oldest gives way; its token then gets Expired). */
#define BCACHE_LIST_SESSIONS 64
#define BCACHE_LIST_TTL_MS 60000
#define BCACHE_PAGE_BYTES (3u << 20) /* a page also ends before this many bytes of objects */
typedef struct {
    char next[48];     /* the continue token of the next page, "" on the last one */
    size_t count;      /* objects in this page */
    size_t remaining;  /* objects after this page */
} bcache_page_t;
/* One page of at most limit objects (0: all; a page also stops before BCACHE_PAGE_BYTES), from the start or from cont (a token of a previous
 * page), appended to items (initialised by the caller) as one msgpack array of the objects — each
 * object's encoding is made once and kept until it changes, so lists do not re-encode. 0, or
 * TR_BAD_REQUEST (bad selector or token) / TR_EXPIRED (token too old) with err. *rev: the revision
 * of the first page (every page is of that snapshot). */
int bcache_list_page (bcache_t *self, const char *plural, const char *ns, const char *label_selector,
                      const char *field_selector, long limit, const char *cont, msgpack_sbuffer *items, uint64_t *rev,
                      bcache_page_t *pg, char *err, size_t errlen);

/* Most events a watcher may have outstanding (sent, not yet acknowledged by a credit grant),
 * whatever it asks for: the credit a watch starts with and can accumulate. */
#define BCACHE_MAX_CREDIT 1024

/* Registers a watch from revision from_rv (exclusive; 0 = from now). Returns 0, or a tr_code_t
 * (TR_EXPIRED when from_rv has left the ring, TR_BAD_REQUEST for a bad selector) with err. */
int bcache_watch (bcache_t *self, zsock_t *sock, zframe_t *rid, uint64_t id, const char *plural, const char *ns,
                  const char *label_selector, const char *field_selector, uint64_t from_rv, long credit, char *err,
                  size_t errlen);
/* Lets the watch (rid, id) get up to n of its events in one message, one envelope per frame
 * (the watch option `batch`, docs/protocol.md); n is capped at BCACHE_MAX_BATCH, 1 or less: one
 * event per message. */
#define BCACHE_MAX_BATCH 64
void bcache_watch_batch (bcache_t *self, zframe_t *rid, uint64_t id, long n);
void bcache_unwatch (bcache_t *self, zframe_t *rid, uint64_t id);
/* Ends every watch of the client (sock, rid): each gets an EXPIRED event saying why, if its pipe
 * takes it, and is dropped at the next pump. Returns how many. */
size_t bcache_unwatch_client (bcache_t *self, zsock_t *sock, zframe_t *rid, const char *why);
void bcache_credit (bcache_t *self, zframe_t *rid, uint64_t id, long credit);
/* Sends every watcher what it may receive now. Never blocks: a watcher whose client's pipe is
 * full keeps its position and is retried at the next pump, as one without credit; one whose
 * position leaves the ring is ended with EXPIRED ("too slow"), sent once its pipe has room. */
size_t bcache_pump (bcache_t *self); /* returns how many watchers wait for room in a pipe */

/* Calls fn for each object of any namespaced kind in namespace ns. */
void bcache_foreach_in_namespace (bcache_t *self, const char *ns,
                                  void (*fn) (void *arg, const char *key, const json_t *obj, uint64_t mod_rev),
                                  void *arg);

/* The watch index (pod watchers by the spec.nodeName they pin) is on by default; off, every
 * watcher is matched against every event (the path before it, kept for bench_watch). Set before
 * the first watch. */
void bcache_set_watch_index (bcache_t *self, int on);
size_t bcache_watchers_indexed (bcache_t *self);

/* The event ring (see broker_cache.c): ring_size events at least (bcache_new), every event younger
 * than window_ms (default 75 s) up to max_events (default 102,400). 0 leaves a limit as it is. */
void bcache_set_ring_limits (bcache_t *self, size_t max_events, int64_t window_ms);
size_t bcache_ring_capacity (bcache_t *self);

size_t bcache_count (bcache_t *self);
uint64_t bcache_revision (bcache_t *self);
size_t bcache_watchers (bcache_t *self);

/* Field selectors: "spec.nodeName=n1,metadata.name!=x" (dotted paths, = == !=). */
typedef struct fsel fsel_t;
fsel_t *fsel_parse (const char *text, char *err, size_t errlen);
int fsel_matches (const fsel_t *self, const json_t *obj);
void fsel_destroy (fsel_t **self_p);

#endif
