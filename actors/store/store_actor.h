/* store_actor — the store as an actor: a thread owning the LMDB writer, serving brokers over a
 * ROUTER with the messages of core/store_proto.h.
 *
 * Group commit: on each wake-up it drains every pending proposal (up to STORE_ACTOR_BATCH), applies
 * them in one LMDB transaction (one fsync), publishes the committed changes to every subscribed
 * broker, then replies to each proposer. With one replica, commit is the LMDB commit; Raft
 * (a later issue) slots in between receiving proposals and applying them.
 */
#ifndef TROUPE_STORE_ACTOR_H
#define TROUPE_STORE_ACTOR_H

#include <czmq.h>

#define STORE_ACTOR_BATCH 512
/* The change log keeps at least this many revisions; it is compacted when it holds twice as many.
 * A watcher further behind than this relists (brokers keep their own, smaller, ring). */
#define STORE_ACTOR_KEEP_REVISIONS 100000

/* Starts the store actor on data_dir, bound at endpoint (inproc://… or ipc://…).
 * Returns NULL (with a log line) if the store cannot be opened. zactor_destroy stops it. */
zactor_t *store_actor_new (const char *data_dir, const char *endpoint);

#endif
