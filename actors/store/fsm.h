/* fsm — the store as a replicated state machine.
 *
 * A Raft entry is one batch: a msgpack array of proposals, each the "ops" array of the store
 * protocol ([[op,cond,expect_rev,key,val]...], core/store_proto.h). Applying entry `index`
 * runs the whole batch through store_apply_at() in one LMDB transaction that also records
 * `index`, so an entry replayed after a restart (LMDB ahead of the Raft snapshot) is recognised
 * and skipped: apply is idempotent by index. Every replica applies the same entries in the same
 * order from the same state, so revisions and outcomes (Conflict, AlreadyExists) are identical.
 *
 * A snapshot is a compacted LMDB copy behind a 16-byte header (magic, applied index); restore
 * replaces the data file only when the snapshot is ahead of what LMDB already holds.
 *
 * Pure in the sense that matters for tests: a store in, results and events out, no sockets.
 * The same helpers (ops decoding, replies, event batches) serve the unreplicated store actor.
 */
#ifndef TROUPE_FSM_H
#define TROUPE_FSM_H

#include "actors/store/store.h"

#include <msgpack.h>

/* Outcome of one applied entry: per proposal, its ops' results. */
typedef struct {
    size_t nprops;
    size_t *first, *count; /* proposal i owns res[first[i] .. first[i]+count[i]) */
    store_op_result_t *res;
    size_t nres;
} fsm_results_t;

/* Committed events packed as the store protocol's {"t":"e","ev":[...]} message. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    size_t n;
} fsm_events_t;

/* Appends the ops of a protocol ops array to *ops (growing *cap); keys are copied. Malformed
 * ops are skipped. Returns how many were appended. */
size_t fsm_decode_ops (const msgpack_object *arr, store_op_t **ops, size_t *nops, size_t *cap);
void fsm_free_ops (store_op_t *ops, size_t n);

/* {"t":"r","id":id,"res":[[result,rev,prev_mod_rev]...]} into out (initialised by caller). */
void fsm_pack_reply (msgpack_sbuffer *out, uint64_t id, const store_op_result_t *res, size_t n);
/* The same with every op failed with result code `code` (e.g. 5: no leader). */
void fsm_pack_failure (msgpack_sbuffer *out, uint64_t id, size_t n, int code);

void fsm_events_init (fsm_events_t *ev);
/* store_apply's on_event: arg is an fsm_events_t. */
void fsm_on_event (void *arg, const store_event_t *e);
/* The whole message into out (initialised by caller); 0 if there were no events. */
int fsm_events_pack (fsm_events_t *ev, msgpack_sbuffer *out);
void fsm_events_clear (fsm_events_t *ev);

/* The store protocol's range answer {"t":"k","id":id,"rev":r,"kvs":[[key,val,mod_rev,create_rev]…]}
 * for every key starting with prefix, from one read transaction, into out (initialised by caller). */
void fsm_pack_range (store_t *st, const char *prefix, uint64_t id, msgpack_sbuffer *out);
/* The same for a decoded range request {"t":"g","id":id,"prefix":str}. */
void fsm_answer_range (store_t *st, const msgpack_object *req, msgpack_sbuffer *out);

/* A digest of the whole state machine, to compare replicas: BLAKE2b-256 over every key in key
 * order (key, value, mod_rev, create_rev, each length-prefixed, integers little-endian), then the
 * store revision, all from one read transaction. Two replicas that applied the same entries have
 * the same digest; the change log (compacted independently) is not part of it. *rev and *keys
 * (either may be NULL) receive the revision and the number of keys hashed. 0 or -1. */
#define FSM_DIGEST_BYTES 32
int fsm_digest (store_t *st, unsigned char out[FSM_DIGEST_BYTES], uint64_t *rev, size_t *keys);

/* Applies entry `index`. Returns 0 applied, 1 skipped (index already applied: results empty),
 * -1 malformed entry (only the index is recorded, every proposal gets nothing), -2 the LMDB
 * transaction failed. out is always initialised; free it with fsm_results_free. */
int fsm_apply (store_t *st, uint64_t index, const void *buf, size_t len, fsm_results_t *out, fsm_events_t *ev);
void fsm_results_free (fsm_results_t *r);

/* Snapshot of the whole store: header + compacted LMDB copy, malloc'd into *buf. 0 or -1. */
int fsm_snapshot (store_t *st, void **buf, size_t *len);
/* The same with idx as the snapshot's index, read by the caller before: the copy (its own LMDB read
 * transaction, safe on another thread while st's thread writes) holds every entry up to idx and
 * maybe later ones, which fsm_apply skips by the index LMDB records (a restore keeps it). *buf
 * comes from alloc, and release frees it on failure (raft_malloc and raft_free for the buffer
 * handed to libraft: the copy is read into it straight, the store held twice at the peak, not
 * three times). */
int fsm_snapshot_at (store_t *st, uint64_t idx, void *(*alloc) (size_t), void (*release) (void *), void **buf,
                     size_t *len);
/* Index recorded in a snapshot; -1 if buf is not one. */
int fsm_snapshot_index (const void *buf, size_t len, uint64_t *index);
/* Writes the snapshot's data file as dir/data.mdb (dir created if needed). 0 or -1. */
int fsm_snapshot_write (const void *buf, size_t len, const char *dir);

#endif
