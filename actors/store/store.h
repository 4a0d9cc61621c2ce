/* store — Troupe's keyspace on LMDB (the etcd of Troupe), without any I/O but the disk.
 *
 * Promise: a batch returned by store_apply() is durable (LMDB commit with fsync): it survives
 * kill -9 of the process. Readers never block the writer (LMDB MVCC).
 *
 * Model (like etcd's mvcc): keys are byte strings ("/registry/pods/default/web-1"), values are
 * opaque bytes (msgpack objects). A global revision counts writes; each key records the revision
 * that created it and the one that last modified it (its resourceVersion). Every write appends a
 * record to a change log keyed by revision, which feeds watches; compaction trims it.
 *
 * Shape: propose → commit → apply. A proposal is a batch of operations, each with its own
 * precondition; store_apply() applies a whole array of proposals in ONE LMDB transaction (group
 * commit: one fsync), each proposal succeeding or failing on its own. The same function is the
 * Raft FSM's apply later: a committed log entry is an encoded batch (store_batch_encode).
 *
 * Only one thread may call store_apply/store_compact (LMDB's single writer); any thread may read.
 */
#ifndef TROUPE_STORE_H
#define TROUPE_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

typedef enum { STORE_PUT = 1, STORE_DELETE = 2 } store_op_kind_t;

/* Precondition on the key's current mod revision. */
typedef enum {
    STORE_IF_ANY = 0,      /* no precondition */
    STORE_IF_ABSENT,       /* key must not exist (create) */
    STORE_IF_EXISTS,       /* key must exist */
    STORE_IF_MOD_REV       /* key must exist with mod_rev == expect_rev (compare-and-swap) */
} store_cond_t;

typedef struct {
    store_op_kind_t kind;
    store_cond_t cond;
    uint64_t expect_rev;   /* for STORE_IF_MOD_REV */
    const char *key;       /* NUL-terminated */
    const void *val;       /* STORE_PUT only */
    size_t len;
} store_op_t;

/* Result codes of one operation. */
typedef enum {
    STORE_OK = 0,
    STORE_ERR_EXISTS = 1,     /* STORE_IF_ABSENT failed */
    STORE_ERR_NOT_FOUND = 2,  /* STORE_IF_EXISTS / IF_MOD_REV / DELETE on a missing key */
    STORE_ERR_CONFLICT = 3,   /* STORE_IF_MOD_REV with another revision */
    STORE_ERR_IO = 4          /* the transaction failed; nothing of the batch was applied */
} store_result_t;

typedef struct {
    store_result_t result;
    uint64_t rev;          /* revision given to this write (0 if it failed) */
    uint64_t prev_mod_rev; /* key's mod revision before the write (0 if absent) */
} store_op_result_t;

/* A change-log record, as read back by store_log_read / handed to the apply callback. */
typedef enum { STORE_EV_PUT = 1, STORE_EV_DELETE = 2 } store_ev_kind_t;
typedef struct {
    uint64_t rev;
    store_ev_kind_t kind;
    const char *key;
    const void *val;       /* PUT: the new value; DELETE: the value just before deletion */
    size_t len;
    uint64_t create_rev;
    int created;           /* PUT that created the key (ADDED rather than MODIFIED) */
} store_event_t;

/* Opens (creating if needed) the store in directory dir. map_size 0 = default (1 GiB); the map
 * grows when a write finds it full (store_map_size).
 * Returns NULL with err set ("store: cannot open /x: Permission denied"). */
store_t *store_open (const char *dir, size_t map_size, char *err, size_t errlen);
void store_close (store_t **self_p);

/* Current global revision (0 for an empty store). */
uint64_t store_revision (store_t *self);
/* Oldest revision still in the change log (compacted revision + 1); 1 when never compacted. */
uint64_t store_oldest_rev (store_t *self);

/* Applies n operations in one transaction, one fsync. Each op gets the next revision if it
 * succeeds; a failed precondition fails only that op (results[i].result), not the batch.
 * Every successful op is appended to the change log. Returns 0, or -1 if the transaction itself
 * failed (then every result is STORE_ERR_IO and nothing changed). If on_event is given it is
 * called after the commit for each successful op, in revision order. */
int store_apply (store_t *self, const store_op_t *ops, size_t n, store_op_result_t *results,
                 void (*on_event) (void *arg, const store_event_t *ev), void *arg);

/* The same, recording index as the last Raft entry applied, in the same transaction (so a
 * replayed entry can be recognised and skipped). n may be 0: only the index moves. */
int store_apply_at (store_t *self, uint64_t index, const store_op_t *ops, size_t n, store_op_result_t *results,
                    void (*on_event) (void *arg, const store_event_t *ev), void *arg);
/* Last Raft index recorded by store_apply_at (0 if never). */
uint64_t store_applied_index (store_t *self);
/* Sets it (a restored backup starts a new Raft log: 0). 0 or -1. */
int store_set_applied_index (store_t *self, uint64_t index);
/* Writes a compacted copy of the whole store (a valid data.mdb) to fd: a Raft snapshot. 0 or -1. */
int store_copy_fd (store_t *self, int fd);
/* The size of LMDB's map now: it starts at store_open's map_size and doubles whenever a write
 * finds it full (a snapshot's copy being made is waited for first). */
size_t store_map_size (store_t *self);
/* fsync on commit (default on). Under Raft the log is the durability: off (MDB_NOSYNC) commits
 * reach the page cache only, so they survive the process being killed but not the machine
 * crashing, which may also leave the file inconsistent — the replicated store then rebuilds it
 * from the Raft snapshot and log (raft_store.c, "unsynced" marker). 0 or -1. */
int store_set_sync (store_t *self, int on);
/* Flushes everything to disk (after store_set_sync(0)). 0 or -1. */
int store_sync (store_t *self);

/* Reads one key. Returns 0 and fills a malloc'd copy (*val, *len) and revisions,
 * or STORE_ERR_NOT_FOUND. */
int store_get (store_t *self, const char *key, void **val, size_t *len, uint64_t *mod_rev,
               uint64_t *create_rev);

/* Calls cb for each key starting with prefix, in key order, from one consistent read
 * transaction; *at_rev receives the revision of that snapshot. cb returning non-zero stops.
 * Returns 0 or -1. */
int store_range (store_t *self, const char *prefix, uint64_t *at_rev,
                 int (*cb) (void *arg, const char *key, const void *val, size_t len,
                            uint64_t mod_rev, uint64_t create_rev),
                 void *arg);

/* Calls cb for every change-log record with rev >= from_rev, in order. Returns 0, -1 on error,
 * or STORE_ERR_NOT_FOUND if from_rev < store_oldest_rev (compacted away). */
int store_log_read (store_t *self, uint64_t from_rev,
                    int (*cb) (void *arg, const store_event_t *ev), void *arg);

/* Drops change-log records with rev < keep_from. Returns the number dropped, or -1. */
long store_compact (store_t *self, uint64_t keep_from);

/* Number of keys; bytes of the data file in use. */
size_t store_count (store_t *self);

#endif
