/* raft_store — the store actor replicated with Raft (libraft), serving brokers exactly like
 * store_actor (core/store_proto.h), so a broker does not know whether its store is replicated.
 *
 * One thread runs a libuv loop that owns libraft (raft_uv_init: libraft's own segment files under
 * DATA/raft), the LMDB store (DATA/store, the FSM), the broker-facing ROUTER and the peer sockets
 * (zbridge: CURVE ZeroMQ, libraft's transport). A proposal from a broker becomes part of one Raft
 * entry with every other proposal that arrived in the same loop turn (batching); on a follower it
 * is forwarded to the leader first. Every server applies committed entries to its LMDB and
 * publishes the changes to its own brokers; a proposer is answered once the entry is applied on
 * the server it asked (so its broker's cache already holds the write). If no leader is known, or
 * leadership is lost before commit, the answer is result 5 (Unavailable, outcome unknown).
 *
 * Membership: the first server bootstraps a one-member cluster; a server started with a join
 * address asks a member (redirected to the leader) to add it, as a voter, one change at a time.
 *
 * Lease renewals (proposals marked "renew", core/store_proto.h) are answered from the leader's
 * memory and sent to every server's brokers, and reach the log once per checkpoint period
 * (raft_lease.c).
 *
 * Extra store-protocol message: {"t":"q","id":u64} → {"t":"q","id":u64,"status":{…}} (store
 * status: members, leader, term, commit/applied index, log and snapshot).
 */
#ifndef TROUPE_RAFT_STORE_H
#define TROUPE_RAFT_STORE_H

#include <czmq.h>

typedef struct {
    const char *data_dir;    /* DATA: the store in DATA/store, the Raft log in DATA/raft */
    const char *endpoint;    /* broker-facing endpoint, e.g. inproc://troupe-store */
    const char *peer_listen; /* this server's peer address, tcp://HOST:PORT (its Raft address) */
    const char *join;        /* a member's peer address to join through, or NULL to bootstrap */
    zcert_t *cluster;        /* the cluster certificate (public and secret key) */
    int join_timeout_ms;     /* how long a join may take before the start fails (0: 20 s) */
    unsigned snapshot_threshold; /* entries between snapshots (0: 8192) */
    unsigned snapshot_trailing;  /* entries kept after a snapshot (0: 8192: lagging followers
                                    catch up by log, snapshot installs stay rare) */
    int lease_checkpoint_ms;     /* a lease renewal is written to the log at most this often per
                                    lease, else held in the leader's memory (0: 300 s; < 0: every
                                    renewal is written) */
} raft_store_opts_t;

/* Starts the replicated store. Returns NULL (logged) if it cannot open its data, bind its
 * endpoints, or join within the timeout. zactor_destroy stops it. */
zactor_t *raft_store_new (const raft_store_opts_t *opts);

#endif
