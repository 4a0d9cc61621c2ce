/* bench_cluster — what bench_raft, bench_watch and bench_lease share: a replicated store of 1..7 raft_store
 * members in this process (each its own thread, libraft log with fsync and LMDB in its own
 * directory under /var/tmp, peers over CURVE TCP on 127.0.0.1, a zauth admitting the cluster key as
 * `troupe server` does), a check that every member joined as a voter, and timing helpers.
 * Header-only (static functions): each bench_*.c is its own executable (CMakeLists.txt).
 */
#ifndef TROUPE_BENCH_CLUSTER_H
#define TROUPE_BENCH_CLUSTER_H

#include "actors/store/raft_store.h"
#include "core/store_proto.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BC_MAX 7

static inline double
bc_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static inline int
bc_cmpd (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

typedef struct {
    char dir[64];             /* /var/tmp/troupe-bench-raft-XXXXXX */
    int members;
    zactor_t *auth;
    zcert_t *cluster;
    zactor_t *m[BC_MAX];
    char eps[BC_MAX][256];    /* store endpoints (ipc), member k at eps[k]; member 0 leads */
    char peers[BC_MAX][64];
} bc_cluster_t;

/* Member k's store status ("q" over the store protocol) into *up; the status map, or NULL when
 * it did not answer in 5 s. Strings in *up point into *msg: the caller destroys *up, then *msg. */
static inline const msgpack_object *
bc_query (bc_cluster_t *c, int k, msgpack_unpacked *up, zmsg_t **msg)
{
    msgpack_unpacked_init (up);
    zsock_t *d = zsock_new_dealer (c->eps[k]);
    zsock_set_rcvtimeo (d, 5000);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "q", 1, NULL);
    zsock_send (d, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    const msgpack_object *st = NULL;
    *msg = zmsg_recv (d);
    zframe_t *f = *msg ? zmsg_first (*msg) : NULL;
    if (f && msgpack_unpack_next (up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
        st = sp_field (&up->data, "status");
    zsock_destroy (&d);
    return st;
}

/* A number in member k's store status (lastIndex, commitIndex, ...); 0 when it did not answer. */
static inline uint64_t
bc_status_u64 (bc_cluster_t *c, int k, const char *field)
{
    msgpack_unpacked up;
    zmsg_t *msg;
    const msgpack_object *st = bc_query (c, k, &up, &msg);
    uint64_t v = st ? sp_u64 (sp_field (st, field), 0) : 0;
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&msg);
    return v;
}

/* Asks member k's store for its status and counts the voters it knows and whether it leads.
 * 0, or -1 when it did not answer in 5 s. */
static inline int
bc_status (bc_cluster_t *c, int k, int *voters, int *leader)
{
    msgpack_unpacked up;
    zmsg_t *msg;
    const msgpack_object *st = bc_query (c, k, &up, &msg);
    *leader = 0;
    *voters = 0;
    if (st) {
        const msgpack_object *ms = sp_field (st, "members");
        char state[32] = "";
        if (sp_field (st, "state"))
            sp_str (sp_field (st, "state"), state, sizeof state);
        *leader = !strcmp (state, "leader");
        if (ms && ms->type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t i = 0; i < ms->via.array.size; i++) {
                char role[16] = "";
                const msgpack_object *ro = sp_field (&ms->via.array.ptr[i], "role");
                if (ro && !sp_str (ro, role, sizeof role) && !strcmp (role, "voter"))
                    (*voters)++;
            }
    }
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&msg);
    return st ? 0 : -1;
}

/* Starts n members (the first bootstraps and leads, the others join it one after the other) and
 * checks that member 0 leads a configuration of n voters; lease_checkpoint_ms as in
 * raft_store_opts_t (0: the default). 0, or -1 (printed) on failure. */
static inline int
bc_start_with (bc_cluster_t *c, int n, int lease_checkpoint_ms)
{
    memset (c, 0, sizeof *c);
    c->members = n;
    snprintf (c->dir, sizeof c->dir, "/var/tmp/troupe-bench-raft-XXXXXX");
    if (n < 1 || n > BC_MAX || !mkdtemp (c->dir)) {
        perror ("bench: mkdtemp");
        return -1;
    }
    /* the cluster key, and a ZAP handler that admits it (as `troupe server` does) */
    char path[256];
    snprintf (path, sizeof path, "%s/clients", c->dir);
    mkdir (path, 0700);
    c->cluster = zcert_new ();
    snprintf (path, sizeof path, "%s/clients/peer.cert", c->dir);
    zcert_save_public (c->cluster, path);
    c->auth = zactor_new (zauth, NULL);
    snprintf (path, sizeof path, "%s/clients", c->dir);
    zstr_sendx (c->auth, "CURVE", path, NULL);
    zsock_wait (c->auth);
    int base = 20000 + (int) (getpid () % 12000); /* below the ephemeral ports (32768+) */
    for (int k = 0; k < n; k++) {
        char data[256];
        snprintf (data, sizeof data, "%s/m%d", c->dir, k + 1);
        snprintf (c->eps[k], sizeof c->eps[k], "ipc://%s/m%d.sock", c->dir, k + 1);
        snprintf (c->peers[k], sizeof c->peers[k], "tcp://127.0.0.1:%d", base + k);
        raft_store_opts_t o = {.data_dir = data, .endpoint = c->eps[k], .peer_listen = c->peers[k],
                               .join = k ? c->peers[0] : NULL, .cluster = c->cluster,
                               .lease_checkpoint_ms = lease_checkpoint_ms};
        c->m[k] = raft_store_new (&o);
        if (!c->m[k]) {
            fprintf (stderr, "bench: member %d did not start\n", k + 1);
            return -1;
        }
        int voters = 0, leader = 0;
        /* the first member elects itself; each joins as a voter before the next starts (a disk
         * still flushing the previous run's writes can make that slow: wait, bounded) */
        for (int i = 0; i < 200 && (bc_status (c, 0, &voters, &leader) || !leader || voters < k + 1); i++)
            zclock_sleep (100);
    }
    int voters = 0, leader = 0;
    if (bc_status (c, 0, &voters, &leader) || !leader || voters != n) {
        fprintf (stderr, "bench: member 1 is %s with %d voters, expected the leader of %d\n",
                 leader ? "leader" : "not the leader", voters, n);
        return -1;
    }
    return 0;
}

static inline int
bc_start (bc_cluster_t *c, int n)
{
    return bc_start_with (c, n, 0);
}

/* Stops the members (last first) and removes their data. 0, or -1 if the rm failed. */
static inline int
bc_stop (bc_cluster_t *c)
{
    for (int k = c->members - 1; k >= 0; k--)
        zactor_destroy (&c->m[k]);
    zactor_destroy (&c->auth);
    zcert_destroy (&c->cluster);
    if (!c->dir[0])
        return 0;
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    return system (cmd) ? -1 : 0;
}

#endif
