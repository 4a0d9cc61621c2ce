/* raft_store_int — the replicated store's private state, shared by its files:
 *   raft_store.c    the actor: its libuv loop, the broker-facing socket, peer messages, start/stop
 *   raft_propose.c  writes and reads: batching into entries, read barriers, forwarding, the FSM
 *   raft_admin.c    status, range reads, membership, snapshot save
 *   raft_faults.c   reactions to faults libraft 0.15 handles badly (a failed log write, removal)
 * Everything here runs on the store's one loop thread; nothing is locked.
 */
#ifndef TROUPE_RAFT_STORE_INT_H
#define TROUPE_RAFT_STORE_INT_H

#include "actors/store/fsm.h"
#include "actors/store/store.h"
#include "actors/store/zbridge.h"

#include <czmq.h>
#include <msgpack.h>
#include <raft.h>
#include <raft/uv.h>

#define A "store"
#define RESULT_UNKNOWN 5      /* proposed, but leadership was lost before commit: may or may not apply */
#define RESULT_NOT_PROPOSED 6 /* no leader, or refused before the log: definitely not applied */
#define FORWARD_TIMEOUT_MS 10000
#define WAIT_LEADER_MS 4000 /* a request waits this long for a leader (an election) before "not made" */

/* Who is waiting for the result of one proposal. */
typedef struct {
    zframe_t *rid;   /* broker routing id (local) or peer routing id (forwarded to us) */
    uint64_t token;  /* 0: a local broker; else the forwarding follower's token */
    uint64_t id;     /* the broker's proposal id */
    size_t nops;
    int read;        /* a read barrier ("b"), not a proposal */
} origin_t;

typedef struct {
    struct raft_apply req;
    size_t n;
    origin_t *origins;
    fsm_results_t results;
    int have_results;
} papply_t;

/* A proposal we forwarded to the leader. */
typedef struct {
    zframe_t *rid;
    uint64_t id;
    size_t nops;
    int read;
    int64_t deadline;
    raft_id leader; /* the leader it went to: another leader means it will never be answered */
} fwd_t;

/* A broker's request waiting for a leader to be known and reachable. */
typedef struct {
    zframe_t *rid, *body;
    int64_t deadline;
} wait_t;

/* A reply that waits until this server has applied its entry. */
typedef struct {
    zframe_t *rid;
    uint64_t index;
    zframe_t *body;
} held_t;

typedef struct {
    struct raft_change req;
    zframe_t *rid;
    raft_id id;
} change_t;

typedef struct {
    char data[1024], store_dir[1100], raft_dir[1100], endpoint[1024], peer[256], join[256];
    zcert_t *cluster;
    int join_timeout_ms;
    unsigned snap_threshold, snap_trailing;
    uint64_t snap_index; /* the snapshot being taken: its index, noted on the loop (fsm_snapshot_cb) */
    int64_t lease_checkpoint_ms; /* a renewal is written at most this often per lease; <= 0: always */
    zsock_t *pipe;

    uv_loop_t loop;
    uv_poll_t pipe_poll, router_poll;
    uv_prepare_t prep;
    uv_check_t check;
    uv_idle_t idle;
    uv_timer_t tick;

    store_t *store;
    zsock_t *router;
    zlistx_t *subs;
    zbridge_t *zb;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    int raft_inited, raft_closed, stopping;
    raft_id id;

    /* the batch being gathered this loop turn */
    msgpack_sbuffer batch;
    msgpack_packer batch_pk;
    size_t batch_n, batch_cap;
    origin_t *batch_origins;
    int64_t batch_since;  /* when its first write came (zclock_mono), for rs_hold_batch */
    uint64_t batch_term;  /* the term it was gathered in: a batch never goes in a later one */
    /* group commit, told at stop: proposals (client writes) over entries, and the largest entry */
    uint64_t stat_entries, stat_writes, stat_max;
    origin_t *rbatch; /* read barriers of this turn */
    size_t rbatch_n, rbatch_cap;

    zlistx_t *inflight; /* papply_t */
    zhashx_t *forwarded; /* token → fwd_t */
    zlistx_t *waiting;   /* wait_t: no leader yet */
    int64_t dispatch_deadline; /* set while re-dispatching a waiting request */
    raft_id last_leader;
    zlistx_t *held;     /* held_t */
    uint64_t next_token;
    change_t *change;   /* the membership change in progress */
    unsigned char *saved; /* snapshot being saved by `troupe store snapshot save` (chunks) */
    size_t saved_len;
    int64_t saved_at;

    /* lease renewals held in memory (raft_lease.c) */
    zhashx_t *leases;         /* key → int64_t*: when this server last applied a write of it */
    msgpack_sbuffer ren;      /* this turn's renewals, packed [key,val,mod_rev,create_rev] each */
    msgpack_packer ren_pk;
    origin_t *ren_origins;    /* who waits for each (answered after the brokers heard) */
    uint64_t *ren_revs;
    size_t ren_n, ren_cap;
    int64_t ren_pruned_at;
    zlistx_t *ren_waiting;    /* zframe_t: need_rev(8) deadline(8) body: renewals from the leader
                                 of writes this server has not applied yet */

    int joined;
    int64_t join_deadline, join_next;
    char join_error[256];

    /* removal from the cluster (raft_faults.c) */
    int removed;               /* removed: the status says so and the server stops */
    raft_index member_since;   /* last committed configuration seen with this server in it */
    struct {
        raft_id id;            /* 0: free */
        char address[256];
        int64_t until, next;
    } notices[4];              /* removed members still being told */
} self_t;

/* raft_store.c */
/* Sends one frame to a ROUTER peer (a broker); a failed send is freed. */
void rs_send_to (zsock_t *router, zframe_t *rid, const void *data, size_t len);
/* The leader's peer address, or NULL when none is known. */
const char *rs_leader_address (self_t *s);

/* raft_propose.c */
void rs_fsm_init (self_t *s);
/* The leader's wait for an answer to an InstallSnapshot, from the snapshot's size (ms); and that
 * wait set on s's raft. */
unsigned rs_install_timeout_ms (uint64_t snapshot_bytes);
void rs_size_install_timeout (self_t *s, uint64_t snapshot_bytes);
void rs_inflight_free (self_t *s);
/* Sends the replies whose entry this server has now applied. */
void rs_flush_held (self_t *s);
/* Answers one origin with packed reply `body` of entry `index` (0: a failure, no entry). */
void rs_answer (self_t *s, const origin_t *o, uint64_t index, const msgpack_sbuffer *body);
void rs_fail_origins_code (self_t *s, origin_t *o, size_t n, int code);
/* proposals that never reached the log (no leader, refused): definitely not applied */
void rs_fail_origins (self_t *s, origin_t *o, size_t n);
/* proposals in the log whose fate is unknown (leadership lost, forward timed out) */
void rs_unknown_origins (self_t *s, origin_t *o, size_t n);
void rs_free_origins (origin_t *o, size_t n);
/* Committed changes to every subscribed broker. */
void rs_publish (self_t *s, fsm_events_t *ev);
/* Adds a decoded proposal to this turn's batch (leader); takes rid. */
void rs_batch_add (self_t *s, zframe_t *rid, uint64_t token, const msgpack_object *prop);
/* Appends this turn's batch as one entry (or a barrier for reads alone). */
void rs_batch_flush (self_t *s);
/* Whether the leader holds this turn's batch of n writes, begun age_ms ago, for a later entry
 * while `inflight` entries are still uncommitted (see raft_propose.c). Pure. */
#define RS_HOLD_INFLIGHT 1   /* entries appended and not applied before a batch waits */
#define RS_HOLD_MAX_WRITES 1024
#define RS_HOLD_MAX_MS 50
int rs_hold_batch (size_t n, size_t inflight, int64_t age_ms);
/* Adds a read barrier to this turn's batch (leader); takes rid. */
void rs_read_add (self_t *s, zframe_t *rid, uint64_t token, uint64_t id);
/* A read barrier / a proposal from a local broker: batched on the leader, forwarded elsewhere. */
void rs_local_read (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *o);
void rs_local_proposal (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *prop);

/* Keeps this loop turn from blocking in poll, so on_check flushes what it gathered. */
void rs_wake (self_t *s);

/* raft_lease.c: lease renewals without a Raft entry (core/store_proto.h "renew") */
void rs_lease_init (self_t *s);
void rs_lease_free (self_t *s);
/* A renewal this leader answers from memory: 1 (rid taken, answered at rs_lease_flush), or 0:
 * the caller proposes it as an ordinary write (not a renewal, a CAS that will fail, or its
 * checkpoint is due). */
int rs_lease_renew (self_t *s, zframe_t *rid, uint64_t token, const msgpack_object *prop);
/* Notes when this server applied a write of each lease (the events of one entry). */
void rs_lease_applied (self_t *s, const fsm_events_t *ev);
/* This turn's renewals to the local brokers and the other servers, then their answers. */
void rs_lease_flush (self_t *s);
/* Renewals from the leader ("L" body, or "RL"'s last frame): to the local brokers, once this
 * server has applied the writes they renew. */
void rs_lease_publish (self_t *s, const void *body, size_t len);
/* Forgets leases not renewed for two checkpoint periods. */
void rs_lease_tick (self_t *s);

/* raft_admin.c */
/* A member's server name, registered under /troupe/members/<id> (cmd_cluster), or "". */
void rs_member_name (self_t *s, raft_id id, char *buf, size_t len);
/* {"t":"q","id"[,"digest":true]}: status, with the FSM digest (fsm_digest) when asked. */
void rs_serve_status (self_t *s, zframe_t *rid, const msgpack_object *o);
void rs_serve_range (self_t *s, zframe_t *rid, const msgpack_object *o);
void rs_serve_save (self_t *s, zframe_t *rid, const msgpack_object *o);
void rs_admin_answer (self_t *s, const origin_t *o, const char *error);
/* Removes a member named by id, name or peer address (leader only); takes rid. */
void rs_member_remove (self_t *s, zframe_t *rid, uint64_t token, uint64_t id, const char *who);
/* A member removal from a local broker: done on the leader, forwarded elsewhere. */
void rs_local_member (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *o);
/* A peer asks to join ("J"): added, then promoted to voter, on the leader. */
void rs_on_join_request (self_t *s, zframe_t *rid, zmsg_t *m);

/* raft_faults.c */
/* The status of a libraft request means the Raft log could not be written (I/O, no space). */
int rs_is_disk_error (int status);
/* If status is a disk error: logs it and ends the process at once with exit status 74 (EX_IOERR);
 * a leader that cannot write its log must not stay leader (canonical/raft#320). `what` names the
 * request ("append", "barrier", ...). Otherwise does nothing. */
void rs_check_disk (self_t *s, int status, const char *what);
/* 0, or -1 with err saying how to join again if this data directory was removed from the cluster
 * (DATA/raft/removed): it must not start. */
int rs_refuse_removed (self_t *s, char *err, size_t errlen);
/* This server was removed: marks DATA/raft/removed, logs it; the status then says "removed" and
 * the server stops (cmd_cluster.c). */
void rs_removed (self_t *s, const char *why);
/* The leader: member id at address was removed (committed); it is told to stop for a while. */
void rs_notify_removed (self_t *s, raft_id id, const char *address);
/* A peer's "RM" id(8): the leader says the member id was removed. */
void rs_on_removed_notice (self_t *s, zmsg_t *m);
/* Called by the 100 ms tick: resends removal notices, checks this server's own membership. */
void rs_faults_tick (self_t *s);

#endif
