/* raft_store — the actor: see raft_store.h; the shared state and the other files in
 * raft_store_int.h. */
#include "actors/store/raft_store.h"
#include "actors/store/raft_store_int.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
ptr_cmp (const void *a, const void *b)
{
    return a == b ? 0 : a < b ? -1 : 1;
}

void
rs_send_to (zsock_t *router, zframe_t *rid, const void *data, size_t len)
{
    zmsg_t *m = zmsg_new ();
    zmsg_append (m, &(zframe_t *) {zframe_dup (rid)});
    zmsg_addmem (m, data, len);
    zmsg_send (&m, router);
    zmsg_destroy (&m); /* left to us if the send failed */
}

const char *
rs_leader_address (self_t *s)
{
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader (&s->raft, &lid, &addr);
    return lid ? addr : NULL;
}

/* ---- broker-facing socket ------------------------------------------------------------------- */

static void dispatch (self_t *s, zframe_t *rid, zframe_t *body);

static void
drain_router (self_t *s)
{
    while (s->router && (zsock_events (s->router) & ZMQ_POLLIN)) {
        zmsg_t *m = zmsg_recv (s->router);
        if (!m)
            break;
        zframe_t *rid = zmsg_first (m);
        zframe_t *body = zmsg_size (m) == 2 ? zmsg_last (m) : NULL;
        if (body)
            dispatch (s, rid, body);
        else
            TR_WARN (A, "dropped a message without a body");
        zmsg_destroy (&m);
    }
}

/* One request from a local broker. */
static void
dispatch (self_t *s, zframe_t *rid, zframe_t *body)
{
    {
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        char t[4] = "";
        if (msgpack_unpack_next (&up, (const char *) zframe_data (body), zframe_size (body), NULL) == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *tf = sp_field (&up.data, "t");
            if (tf)
                sp_str (tf, t, sizeof t);
        }
        if (!strcmp (t, "p"))
            rs_local_proposal (s, rid, body, &up.data);
        else if (!strcmp (t, "b"))
            rs_local_read (s, rid, body, &up.data);
        else if (!strcmp (t, "g"))
            rs_serve_range (s, rid, &up.data);
        else if (!strcmp (t, "s"))
            zlistx_add_end (s->subs, zframe_dup (rid));
        else if (!strcmp (t, "q"))
            rs_serve_status (s, rid, &up.data);
        else if (!strcmp (t, "m"))
            rs_local_member (s, rid, body, &up.data);
        else if (!strcmp (t, "v"))
            rs_serve_save (s, rid, &up.data);
        else
            TR_WARN (A, "dropped unknown message");
        msgpack_unpacked_destroy (&up);
    }
}

static void
on_peer (void *arg, const char *via, zframe_t *rid, zmsg_t *m)
{
    self_t *s = arg;
    char *type = zframe_strdup (zmsg_first (m));
    if (rid && !strcmp (type, "P") && zmsg_size (m) == 3) {
        zframe_t *tf = zmsg_next (m), *body = zmsg_next (m);
        uint64_t token = 0;
        if (zframe_size (tf) == 8)
            memcpy (&token, zframe_data (tf), 8);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        if (token && msgpack_unpack_next (&up, (const char *) zframe_data (body), zframe_size (body), NULL)
                         == MSGPACK_UNPACK_SUCCESS)
            rs_batch_add (s, zframe_dup (rid), token, &up.data);
        msgpack_unpacked_destroy (&up);
    } else if (rid && !strcmp (type, "B") && zmsg_size (m) == 3) {
        zframe_t *tf = zmsg_next (m), *body = zmsg_next (m);
        uint64_t token = 0;
        if (zframe_size (tf) == 8)
            memcpy (&token, zframe_data (tf), 8);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        if (token && msgpack_unpack_next (&up, (const char *) zframe_data (body), zframe_size (body), NULL)
                         == MSGPACK_UNPACK_SUCCESS)
            rs_read_add (s, zframe_dup (rid), token, sp_u64 (sp_field (&up.data, "id"), 0));
        msgpack_unpacked_destroy (&up);
    } else if (rid && !strcmp (type, "M") && zmsg_size (m) == 3) {
        zframe_t *tf = zmsg_next (m), *body = zmsg_next (m);
        uint64_t token = 0;
        if (zframe_size (tf) == 8)
            memcpy (&token, zframe_data (tf), 8);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        char who[256] = "";
        if (token && msgpack_unpack_next (&up, (const char *) zframe_data (body), zframe_size (body), NULL)
                         == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *w = sp_field (&up.data, "remove");
            if (w)
                sp_str (w, who, sizeof who);
            uint64_t id = sp_u64 (sp_field (&up.data, "id"), 0);
            if (raft_state (&s->raft) == RAFT_LEADER)
                rs_member_remove (s, zframe_dup (rid), token, id, who);
            else {
                origin_t o = {rid, token, id, 0, 0};
                rs_admin_answer (s, &o, "not the leader any more: retry");
            }
        }
        msgpack_unpacked_destroy (&up);
    } else if (via && ((!strcmp (type, "R") && zmsg_size (m) == 4) || (!strcmp (type, "RL") && zmsg_size (m) == 5))) {
        zframe_t *tf = zmsg_next (m), *ixf = zmsg_next (m), *body = zmsg_next (m), *kvs = zmsg_next (m);
        if (kvs) /* a renewal answered from the leader's memory: our brokers hear of it first */
            rs_lease_publish (s, zframe_data (kvs), zframe_size (kvs));
        uint64_t token = 0, index = 0;
        if (zframe_size (tf) == 8 && zframe_size (ixf) == 8) {
            memcpy (&token, zframe_data (tf), 8);
            memcpy (&index, zframe_data (ixf), 8);
        }
        char key[24];
        snprintf (key, sizeof key, "%llu", (unsigned long long) token);
        fwd_t *f = zhashx_lookup (s->forwarded, key);
        if (f) {
            held_t *h = calloc (1, sizeof *h);
            h->rid = f->rid;
            f->rid = NULL;
            h->index = index;
            h->body = zframe_dup (body);
            zlistx_add_end (s->held, h);
            zhashx_delete (s->forwarded, key);
            free (f);
            rs_flush_held (s);
        }
    } else if (rid && !strcmp (type, "L") && zmsg_size (m) == 2) {
        zframe_t *body = zmsg_next (m);
        rs_lease_publish (s, zframe_data (body), zframe_size (body));
    } else if (rid && !strcmp (type, "J"))
        rs_on_join_request (s, rid, m);
    else if (rid && !strcmp (type, "RM") && zmsg_size (m) == 2)
        rs_on_removed_notice (s, m);
    else if (via && !strcmp (type, "JR") && zmsg_size (m) == 3) {
        char *what = zframe_strdup (zmsg_next (m)), *detail = zframe_strdup (zmsg_next (m));
        if (!strcmp (what, "ok"))
            s->joined = 1;
        else if (!strcmp (what, "redirect") && strcmp (detail, s->join)) {
            TR_INFO (A, "join redirected to leader=%s", detail);
            snprintf (s->join, sizeof s->join, "%s", detail);
            s->join_next = 0;
        } else if (!strcmp (what, "refused"))
            snprintf (s->join_error, sizeof s->join_error, "%s", detail);
        free (what);
        free (detail);
    } else
        TR_WARN (A, "dropped a peer message type=%s", type);
    free (type);
}

/* ---- loop plumbing -------------------------------------------------------------------------- */

static void
on_raft_closed (struct raft *r)
{
    self_t *s = r->data;
    s->raft_closed = 1;
}

static void
begin_stop (self_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    uv_poll_stop (&s->pipe_poll);
    if (s->raft_inited)
        raft_close (&s->raft, on_raft_closed);
    else
        s->raft_closed = 1;
}

static void
drain_pipe (self_t *s)
{
    while (!s->stopping && (zsock_events (s->pipe) & ZMQ_POLLIN)) {
        char *cmd = zstr_recv (s->pipe);
        if (!cmd || !strcmp (cmd, "$TERM"))
            begin_stop (s);
        free (cmd);
    }
}

static void
on_poll (uv_poll_t *h, int status, int events)
{
    (void) status;
    (void) events;
    self_t *s = h->data;
    drain_pipe (s);
    drain_router (s);
}

static void
on_prepare (uv_prepare_t *h)
{
    self_t *s = h->data;
    drain_pipe (s);
    drain_router (s);
}

static void
on_check (uv_check_t *h)
{
    self_t *s = h->data;
    rs_lease_flush (s);
    rs_batch_flush (s);
    if (zlistx_size (s->held))
        rs_flush_held (s);
}

static void dispatch (self_t *s, zframe_t *rid, zframe_t *body);

/* Requests that waited for a leader go again (each keeps its first deadline); requests forwarded
 * to a leader that is no longer the leader will not be answered: their outcome is unknown. */
static void
leader_watch (self_t *s)
{
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader (&s->raft, &lid, &addr);
    if (lid != s->last_leader) {
        zlistx_t *gone = zlistx_new ();
        for (fwd_t *f = zhashx_first (s->forwarded); f; f = zhashx_next (s->forwarded))
            if (f->leader != lid)
                zlistx_add_end (gone, (void *) zhashx_cursor (s->forwarded));
        for (const char *key = zlistx_first (gone); key; key = zlistx_next (gone)) {
            fwd_t *f = zhashx_lookup (s->forwarded, key);
            origin_t o = {f->rid, 0, f->id, f->nops, f->read};
            if (f->read)
                rs_fail_origins (s, &o, 1); /* a read did nothing: retry is safe */
            else
                rs_unknown_origins (s, &o, 1);
            zframe_destroy (&f->rid);
            free (f);
            zhashx_delete (s->forwarded, key);
        }
        zlistx_destroy (&gone);
        s->last_leader = lid;
    }
    if (!lid || !zlistx_size (s->waiting))
        return;
    zlistx_t *again = s->waiting;
    s->waiting = zlistx_new ();
    zlistx_set_comparator (s->waiting, ptr_cmp);
    for (wait_t *w = zlistx_first (again); w; w = zlistx_next (again)) {
        s->dispatch_deadline = w->deadline;
        dispatch (s, w->rid, w->body);
        s->dispatch_deadline = 0;
        zframe_destroy (&w->rid);
        zframe_destroy (&w->body);
        free (w);
    }
    zlistx_destroy (&again);
}

static void
on_tick (uv_timer_t *h)
{
    self_t *s = h->data;
    int64_t now = zclock_mono ();
    leader_watch (s);
    rs_lease_tick (s);
    if (s->batch_n)
        rs_wake (s); /* a held batch goes after RS_HOLD_MAX_MS even if nothing is applied */
    /* waited too long for a leader: not made */
    zlistx_t *late_w = zlistx_new ();
    for (wait_t *w = zlistx_first (s->waiting); w; w = zlistx_next (s->waiting))
        if (now >= w->deadline)
            zlistx_add_end (late_w, w);
    for (wait_t *w = zlistx_first (late_w); w; w = zlistx_next (late_w)) {
        void *h = zlistx_find (s->waiting, w);
        if (h)
            zlistx_detach (s->waiting, h);
        s->dispatch_deadline = w->deadline; /* past: dispatch fails it instead of waiting again */
        dispatch (s, w->rid, w->body);
        s->dispatch_deadline = 0;
        zframe_destroy (&w->rid);
        zframe_destroy (&w->body);
        free (w);
    }
    zlistx_destroy (&late_w);
    zlistx_t *late = zlistx_new ();
    for (fwd_t *f = zhashx_first (s->forwarded); f; f = zhashx_next (s->forwarded))
        if (now > f->deadline)
            zlistx_add_end (late, (void *) zhashx_cursor (s->forwarded));
    for (const char *key = zlistx_first (late); key; key = zlistx_next (late)) {
        fwd_t *f = zhashx_lookup (s->forwarded, key);
        origin_t o = {f->rid, 0, f->id, f->nops, f->read};
        rs_unknown_origins (s, &o, 1); /* the leader may still commit it */
        zframe_destroy (&f->rid);
        free (f);
        zhashx_delete (s->forwarded, key);
    }
    zlistx_destroy (&late);
    if (s->join[0] && !s->joined && now >= s->join_next) {
        zmsg_t *m = zmsg_new ();
        zmsg_addstr (m, "J");
        zmsg_addmem (m, &s->id, 8);
        zmsg_addstr (m, s->peer);
        zbridge_send (s->zb, s->join, &m);
        s->join_next = now + 500;
    }
    rs_faults_tick (s);
}

/* ---- start and stop ------------------------------------------------------------------------- */

static int
read_id (self_t *s, raft_id *id)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/troupe-id", s->raft_dir);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    unsigned long long v = 0;
    int ok = fscanf (f, "%llu", &v) == 1 && v;
    fclose (f);
    *id = v;
    return ok ? 0 : -1;
}

static int
write_id (self_t *s, raft_id id)
{
    char path[1200], tmp[1300];
    snprintf (path, sizeof path, "%s/troupe-id", s->raft_dir);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen (tmp, "w");
    if (!f)
        return -1;
    fprintf (f, "%llu\n", (unsigned long long) id);
    int rc = fflush (f) || fsync (fileno (f));
    fclose (f);
    return rc || rename (tmp, path) ? -1 : 0;
}

static void
boot_id (char *buf, size_t len)
{
    snprintf (buf, len, "unknown");
    FILE *f = fopen ("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (fgets (buf, (int) len, f))
            buf[strcspn (buf, "\n")] = 0;
        fclose (f);
    }
}

/* LMDB runs without fsync under Raft. A process that dies leaves its writes in the page cache
 * (nothing lost); a machine that crashes may leave data.mdb torn. The marker DATA/store/unsynced
 * holds the boot id while the store runs unsynced: found with another boot id, the machine went
 * down under us, and data.mdb is set aside so libraft rebuilds it (restore of the last snapshot,
 * then the log after it, which libraft keeps until a snapshot covers it). */
static int
guard_unsynced (self_t *s, char *err, size_t errlen)
{
    char marker[1200], cur[64], was[64] = "";
    snprintf (marker, sizeof marker, "%s/unsynced", s->store_dir);
    boot_id (cur, sizeof cur);
    FILE *f = fopen (marker, "r");
    if (f) {
        if (fgets (was, sizeof was, f))
            was[strcspn (was, "\n")] = 0;
        fclose (f);
        if (strcmp (was, cur)) {
            char mdb[1200], aside[1300];
            snprintf (mdb, sizeof mdb, "%s/data.mdb", s->store_dir);
            snprintf (aside, sizeof aside, "%s/data.mdb.unsynced-%lld", s->store_dir, (long long) time (NULL));
            TR_WARN (A, "the machine restarted while the store ran unsynced (boot %s, now %s): rebuilding it from "
                        "the Raft snapshot and log; the old file is kept as %s", was, cur, aside);
            if (rename (mdb, aside) && errno != ENOENT) {
                snprintf (err, errlen, "cannot set %s aside: %s", mdb, strerror (errno));
                return -1;
            }
        }
    }
    f = fopen (marker, "w");
    if (!f || fprintf (f, "%s\n", cur) < 0 || fflush (f) || fsync (fileno (f))) {
        snprintf (err, errlen, "cannot write %s: %s", marker, strerror (errno));
        if (f)
            fclose (f);
        return -1;
    }
    fclose (f);
    return 0;
}

static int
start (self_t *s, char *err, size_t errlen)
{
    if (rs_refuse_removed (s, err, errlen))
        return -1;
    mkdir (s->data, 0700);
    mkdir (s->store_dir, 0700);
    mkdir (s->raft_dir, 0700);
    if (guard_unsynced (s, err, errlen))
        return -1;
    s->store = store_open (s->store_dir, 0, err, errlen);
    if (!s->store)
        return -1;
    store_set_sync (s->store, 0); /* the Raft log is the durability (store.h) */
    s->router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (s->router, 0);
    zsock_set_rcvhwm (s->router, 0);
    zsock_set_sndhwm (s->router, 0);
    if (zsock_bind (s->router, "%s", s->endpoint) < 0) {
        snprintf (err, errlen, "cannot bind %s: %s", s->endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    if (uv_loop_init (&s->loop)) {
        snprintf (err, errlen, "libuv loop");
        return -1;
    }
    s->zb = zbridge_new (&s->loop, s->cluster, s->peer, on_peer, s, err, errlen);
    if (!s->zb)
        return -1;
    uv_poll_init (&s->loop, &s->pipe_poll, zsock_fd (s->pipe));
    s->pipe_poll.data = s;
    uv_poll_start (&s->pipe_poll, UV_READABLE, on_poll);
    uv_poll_init (&s->loop, &s->router_poll, zsock_fd (s->router));
    s->router_poll.data = s;
    uv_poll_start (&s->router_poll, UV_READABLE, on_poll);
    uv_prepare_init (&s->loop, &s->prep);
    s->prep.data = s;
    uv_prepare_start (&s->prep, on_prepare);
    uv_check_init (&s->loop, &s->check);
    s->check.data = s;
    uv_check_start (&s->check, on_check);
    uv_idle_init (&s->loop, &s->idle);
    s->idle.data = s;
    uv_timer_init (&s->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start (&s->tick, on_tick, 100, 100);

    int have_id = read_id (s, &s->id) == 0;
    int bootstrap = 0;
    if (!have_id) {
        if (s->join[0]) {
            do
                randombytes_buf (&s->id, sizeof s->id);
            while (s->id <= 1);
            s->id &= 0x7fffffffffffffffull;
        } else {
            s->id = 1;
            bootstrap = 1;
        }
    } else
        s->joined = 1; /* a member already: its configuration is in its log */
    int rc = raft_uv_init (&s->io, &s->loop, s->raft_dir, zbridge_transport (s->zb));
    if (rc) {
        snprintf (err, errlen, "raft io: %s", s->io.errmsg);
        return -1;
    }
    raft_uv_set_connect_retry_delay (&s->io, 200);
    rs_fsm_init (s);
    rc = raft_init (&s->raft, &s->io, &s->fsm, s->id, s->peer);
    if (rc) {
        snprintf (err, errlen, "raft: %s", raft_errmsg (&s->raft));
        raft_uv_close (&s->io);
        return -1;
    }
    s->raft.data = s;
    s->raft_inited = 1;
    raft_set_pre_vote (&s->raft, true);
    /* A follower learns that an entry is committed with the leader's next append: with no write
     * after it, the next heartbeat (libraft's default: 100 ms), which is how long the last
     * change waits before a follower applies it, its watchers see it, its reads may answer.
     * 25 ms costs each follower 40 small messages a second when idle (bench_watch). */
    raft_set_heartbeat_timeout (&s->raft, 25);
    raft_set_snapshot_threshold (&s->raft, s->snap_threshold);
    raft_set_snapshot_trailing (&s->raft, s->snap_trailing);
    /* until the first snapshot, from the data file (not compacted: an upper bound) */
    char mdb[1200];
    struct stat mst;
    snprintf (mdb, sizeof mdb, "%.1100s/data.mdb", s->store_dir);
    rs_size_install_timeout (s, stat (mdb, &mst) == 0 ? (uint64_t) mst.st_size : 0);
    if (bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init (&conf);
        raft_configuration_add (&conf, s->id, s->peer, RAFT_VOTER);
        rc = raft_bootstrap (&s->raft, &conf);
        raft_configuration_close (&conf);
        if (rc && rc != RAFT_CANTBOOTSTRAP) {
            snprintf (err, errlen, "raft bootstrap: %s", raft_errmsg (&s->raft));
            return -1;
        }
    }
    rc = raft_start (&s->raft);
    if (rc) {
        snprintf (err, errlen, "raft start: %s", raft_errmsg (&s->raft));
        return -1;
    }
    if (bootstrap && write_id (s, s->id)) {
        snprintf (err, errlen, "cannot write %s/troupe-id", s->raft_dir);
        return -1;
    }
    if (!s->joined && s->join[0]) {
        /* run the loop until a member has added us (or give up) */
        s->join_deadline = zclock_mono () + s->join_timeout_ms;
        TR_INFO (A, "joining through %s as id=%llu", s->join, (unsigned long long) s->id);
        while (!s->joined && !s->join_error[0] && !s->stopping && zclock_mono () < s->join_deadline)
            uv_run (&s->loop, UV_RUN_ONCE);
        if (!s->joined) {
            snprintf (err, errlen, "could not join the cluster through %s: %s", s->join,
                      s->join_error[0] ? s->join_error
                                       : "no rs_answer (is it running? a wrong --token cannot authenticate)");
            return -1;
        }
        if (write_id (s, s->id)) {
            snprintf (err, errlen, "cannot write %s/troupe-id", s->raft_dir);
            return -1;
        }
    }
    TR_INFO (A, "replicated store up id=%llu peer=%s revision=%llu applied=%llu", (unsigned long long) s->id,
             s->peer, (unsigned long long) store_revision (s->store),
             (unsigned long long) store_applied_index (s->store));
    return 0;
}

static void
on_walk_close (uv_handle_t *h, void *arg)
{
    (void) arg;
    if (!uv_is_closing (h))
        uv_close (h, NULL);
}

static void
finish (self_t *s)
{
    if (s->stat_entries)
        TR_INFO (A, "group commit: %llu writes in %llu entries (mean %.1f, largest %llu)",
                 (unsigned long long) s->stat_writes, (unsigned long long) s->stat_entries,
                 (double) s->stat_writes / (double) s->stat_entries, (unsigned long long) s->stat_max);
    if (s->raft_inited && !s->raft_closed) {
        begin_stop (s);
        while (!s->raft_closed)
            uv_run (&s->loop, UV_RUN_ONCE);
    }
    if (s->raft_inited)
        raft_uv_close (&s->io); /* frees what raft_uv_init allocated (raft_close does not) */
    /* answer whatever still waits: the store is going away */
    rs_inflight_free (s);
    for (fwd_t *f = zhashx_first (s->forwarded); f; f = zhashx_next (s->forwarded)) {
        zframe_destroy (&f->rid);
        free (f);
    }
    for (held_t *h = zlistx_first (s->held); h; h = zlistx_next (s->held)) {
        zframe_destroy (&h->rid);
        zframe_destroy (&h->body);
        free (h);
    }
    zbridge_destroy (&s->zb);
    if (s->loop.data == s) {
        uv_walk (&s->loop, on_walk_close, NULL);
        uv_run (&s->loop, UV_RUN_DEFAULT);
        uv_loop_close (&s->loop);
    }
    rs_free_origins (s->batch_origins, s->batch_n); /* a batch held at the stop (rs_hold_batch) */
    free (s->saved);
    rs_free_origins (s->rbatch, s->rbatch_n);
    msgpack_sbuffer_destroy (&s->batch);
    rs_lease_free (s);
    zlistx_destroy (&s->inflight);
    zlistx_destroy (&s->held);
    zhashx_destroy (&s->forwarded);
    for (wait_t *w = zlistx_first (s->waiting); w; w = zlistx_next (s->waiting)) {
        zframe_destroy (&w->rid);
        zframe_destroy (&w->body);
        free (w);
    }
    zlistx_destroy (&s->waiting);
    zlistx_destroy (&s->subs);
    zsock_destroy (&s->router);
    if (s->store && store_sync (s->store) == 0) {
        char marker[1200];
        snprintf (marker, sizeof marker, "%s/unsynced", s->store_dir);
        unlink (marker); /* everything is on disk: a later machine crash cannot tear it */
    }
    store_close (&s->store);
    zcert_destroy (&s->cluster);
}

static void
raft_store_thread (zsock_t *pipe, void *arg)
{
    self_t *s = arg;
    s->pipe = pipe;
    zsock_signal (pipe, 0); /* zactor_new's handshake; the start status follows */
    tr_thread_name ("raft");
    s->subs = zlistx_new ();
    zlistx_set_destructor (s->subs, (zlistx_destructor_fn *) zframe_destroy);
    s->inflight = zlistx_new ();
    zlistx_set_comparator (s->inflight, ptr_cmp);
    s->held = zlistx_new ();
    s->forwarded = zhashx_new ();
    s->waiting = zlistx_new ();
    zlistx_set_comparator (s->waiting, ptr_cmp);
    msgpack_sbuffer_init (&s->batch);
    rs_lease_init (s);
    msgpack_packer_init (&s->batch_pk, &s->batch, msgpack_sbuffer_write);
    char err[4096] = "";
    int rc = start (s, err, sizeof err);
    if (s->zb)
        s->loop.data = s; /* the loop was initialised: finish() must close it */
    if (rc) {
        TR_ERROR (A, "cannot start the replicated store dir=%s: %s", s->data, err);
        finish (s);
        free (s);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    while (!s->stopping)
        uv_run (&s->loop, UV_RUN_ONCE);
    finish (s);
    free (s);
}

zactor_t *
raft_store_new (const raft_store_opts_t *o)
{
    /* libraft writes to its stream ends after zbridge may have closed ours: EPIPE, not a signal */
    signal (SIGPIPE, SIG_IGN);
    self_t *s = calloc (1, sizeof *s);
    snprintf (s->data, sizeof s->data, "%s", o->data_dir);
    snprintf (s->store_dir, sizeof s->store_dir, "%s/store", o->data_dir);
    snprintf (s->raft_dir, sizeof s->raft_dir, "%s/raft", o->data_dir);
    snprintf (s->endpoint, sizeof s->endpoint, "%s", o->endpoint);
    snprintf (s->peer, sizeof s->peer, "%s", o->peer_listen);
    snprintf (s->join, sizeof s->join, "%s", o->join ? o->join : "");
    s->cluster = zcert_dup (o->cluster);
    s->join_timeout_ms = o->join_timeout_ms > 0 ? o->join_timeout_ms : 20000;
    s->snap_threshold = o->snapshot_threshold ? o->snapshot_threshold : 8192;
    s->snap_trailing = o->snapshot_trailing ? o->snapshot_trailing : 8192;
    s->lease_checkpoint_ms = o->lease_checkpoint_ms ? o->lease_checkpoint_ms : 300000;
    zactor_t *z = zactor_new (raft_store_thread, s);
    if (z && zsock_wait (z))
        zactor_destroy (&z);
    return z;
}
