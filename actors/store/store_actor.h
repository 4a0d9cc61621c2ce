/* store_actor — the store as an actor: a thread owning the LMDB writer, serving brokers over a
 * ROUTER with the messages of core/store_proto.h.
 *
 * Group commit: on each wake-up it drains every pending proposal (up to STORE_ACTOR_BATCH), applies
 * them in one LMDB transaction (one fsync; paced under load, below), publishes the committed changes to every subscribed
 * broker, then replies to each proposer. With one replica, commit is the LMDB commit; Raft
 * (a later issue) slots in between receiving proposals and applying them. The actor's pipe also
 * answers "STATS" (tests): transactions, proposals, the largest, the last's size (uint64 each).
 */
#ifndef TROUPE_STORE_ACTOR_H
#define TROUPE_STORE_ACTOR_H

#include <czmq.h>

#define STORE_ACTOR_BATCH 512
/* Under load, commits are paced: after a transaction of at least STORE_ACTOR_PACE_MIN proposals,
 * the next starts STORE_ACTOR_PACE_US after it at the earliest, and the proposals of that interval
 * share it. A lone writer (transactions of one) or an idle store commits at once. Each commit
 * costs two syncs and, on the benchmark's VM, ~8 wake-ups of the store's thread on I/O
 * completions (TROUPE_STORE_PACE_US overrides the interval; 0: commit on each wake-up). */
#define STORE_ACTOR_PACE_US 1000
#define STORE_ACTOR_PACE_MIN 4

/* How long (µs) pending proposals still wait for their transaction: 0 when they commit now
 * (none pending, the last transaction held fewer than STORE_ACTOR_PACE_MIN, or pace_us has run
 * since it started at last_us). */
int64_t store_actor_pace_left (size_t pending, size_t last_n, int64_t last_us, int64_t now_us, int64_t pace_us);
/* The change log keeps at least this many revisions; it is compacted when it holds twice as many.
 * A watcher further behind than this relists (brokers keep their own, smaller, ring). */
#define STORE_ACTOR_KEEP_REVISIONS 100000

/* Starts the store actor on data_dir, bound at endpoint (inproc://… or ipc://…).
 * Returns NULL (with a log line) if the store cannot be opened. zactor_destroy stops it. */
zactor_t *store_actor_new (const char *data_dir, const char *endpoint);

#endif
