/* raft_propose — the replicated store's write and read path: proposals batched into one Raft
 * entry per loop turn (held while the log is busy: rs_hold_batch), read barriers, forwarding to
 * the leader, the FSM callbacks, and the answers. See raft_store.h for the whole,
 * raft_store_int.h for the shared state. */
#include "actors/store/raft_store_int.h"
#include "actors/store/fsm.h"
#include "actors/store/store.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- replies ------------------------------------------------------------------------------- */

void
rs_flush_held (self_t *s)
{
    /* barrier entries advance libraft's applied index without reaching the FSM */
    uint64_t applied = store_applied_index (s->store);
    if (s->raft_inited && raft_last_applied (&s->raft) > applied)
        applied = raft_last_applied (&s->raft);
    int again = 1;
    while (again) {
        again = 0;
        for (held_t *h = zlistx_first (s->held); h; h = zlistx_next (s->held))
            if (h->index <= applied) {
                rs_send_to (s->router, h->rid, zframe_data (h->body), zframe_size (h->body));
                zframe_destroy (&h->rid);
                zframe_destroy (&h->body);
                zlistx_delete (s->held, zlistx_cursor (s->held));
                free (h);
                again = 1;
                break;
            }
    }
}

/* Answers one origin with packed reply `body` of entry `index` (0: a failure, no entry). */
void
rs_answer (self_t *s, const origin_t *o, uint64_t index, const msgpack_sbuffer *body)
{
    if (o->token) {
        zmsg_t *m = zmsg_new ();
        zmsg_addstr (m, "R");
        zmsg_addmem (m, &o->token, 8);
        zmsg_addmem (m, &index, 8);
        zmsg_addmem (m, body->data, body->size);
        zbridge_reply (s->zb, o->rid, &m);
    } else
        rs_send_to (s->router, o->rid, body->data, body->size);
}

/* {"t":"b","id":id,"ok":bool}: the answer to a read barrier */
static void
pack_read_answer (msgpack_sbuffer *out, uint64_t id, int ok)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "b");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "ok");
    if (ok)
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
}

/* index: the entry appended after the reads arrived, now committed. A read needs what was
 * committed before it arrived: everything before that entry (a follower waits to apply up to
 * index-1, not for the entry itself, whose commit it learns only with the next heartbeat). */
static void
answer_reads (self_t *s, origin_t *o, size_t n, uint64_t index)
{
    index = index ? index - 1 : 0;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer_clear (&out);
        pack_read_answer (&out, o[i].id, 1);
        rs_answer (s, &o[i], index, &out);
    }
    msgpack_sbuffer_destroy (&out);
}

void
rs_fail_origins_code (self_t *s, origin_t *o, size_t n, int code)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer_clear (&out);
        if (o[i].read)
            pack_read_answer (&out, o[i].id, 0);
        else
            fsm_pack_failure (&out, o[i].id, o[i].nops, code);
        rs_answer (s, &o[i], 0, &out);
    }
    msgpack_sbuffer_destroy (&out);
}

/* proposals that never reached the log (no leader, refused): definitely not applied */
void
rs_fail_origins (self_t *s, origin_t *o, size_t n)
{
    rs_fail_origins_code (s, o, n, RESULT_NOT_PROPOSED);
}

/* proposals in the log whose fate is unknown (leadership lost, forward timed out) */
void
rs_unknown_origins (self_t *s, origin_t *o, size_t n)
{
    rs_fail_origins_code (s, o, n, RESULT_UNKNOWN);
}

void
rs_free_origins (origin_t *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zframe_destroy (&o[i].rid);
    free (o);
}

/* ---- the FSM -------------------------------------------------------------------------------- */

void
rs_publish (self_t *s, fsm_events_t *ev)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (fsm_events_pack (ev, &out))
        for (zframe_t *rid = zlistx_first (s->subs); rid; rid = zlistx_next (s->subs))
            rs_send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
}

static int
fsm_apply_cb (struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    self_t *s = fsm->data;
    *result = NULL;
    /* libraft 0.15 does not pass the index: it is the one after the last applied */
    uint64_t index = raft_last_applied (&s->raft) + 1;
    fsm_events_t ev;
    fsm_events_init (&ev);
    fsm_results_t res;
    int rc = fsm_apply (s->store, index, buf->base, buf->len, &res, &ev);
    if (rc == -2) {
        /* the disk failed under LMDB: going on would diverge from the other replicas */
        TR_ERROR (A, "cannot apply entry index=%llu: LMDB transaction failed; stopping", (unsigned long long) index);
        abort ();
    }
    if (rc == -1)
        TR_WARN (A, "skipped a malformed entry index=%llu", (unsigned long long) index);
    rs_publish (s, &ev);
    rs_lease_applied (s, &ev); /* after the events: renewals waiting for them follow them */
    msgpack_sbuffer_destroy (&ev.buf);
    papply_t *mine = NULL;
    for (papply_t *p = zlistx_first (s->inflight); p; p = zlistx_next (s->inflight))
        if (p->req.index == index) {
            mine = p;
            break;
        }
    if (mine && rc == 0 && res.nprops == mine->n) {
        mine->results = res;
        mine->have_results = 1;
    } else
        fsm_results_free (&res);
    rs_flush_held (s);
    return 0;
}

/* Snapshots are taken in two steps (libraft's FSM version 3): on the Raft loop only the applied
 * index is noted, and the copy of the store (a whole compacted LMDB, its time growing with the
 * store's size) is made on libuv's thread pool, so heartbeats, appends and applies go on
 * meanwhile; before, the loop stopped for the copy (the writes behind it came out as one entry of
 * 700 in the 3-replica scheduling benchmark), longer than an election timeout for a large store. libraft starts no other snapshot,
 * and installs none (the store is never swapped under the copy), until finalize has run. */
static int
fsm_snapshot_cb (struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    self_t *s = fsm->data;
    s->snap_index = store_applied_index (s->store);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int
fsm_snapshot_async_cb (struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    self_t *s = fsm->data;
    void *data;
    size_t len;
    int64_t t0 = zclock_mono ();
    struct raft_buffer *b = raft_malloc (sizeof *b);
    if (!b)
        return RAFT_NOMEM;
    if (fsm_snapshot_at (s->store, s->snap_index, raft_malloc, raft_free, &data, &len)) {
        raft_free (b);
        return RAFT_IOERR;
    }
    b->base = data;
    b->len = len;
    *bufs = b;
    *n_bufs = 1;
    TR_INFO (A, "snapshot taken index=%llu bytes=%zu in %lld ms",
             (unsigned long long) s->snap_index, len, (long long) (zclock_mono () - t0));
    return 0;
}

/* The copy on the loop, for an I/O without async_work. */
static int
fsm_snapshot_sync_cb (struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    fsm_snapshot_cb (fsm, bufs, n_bufs);
    return fsm_snapshot_async_cb (fsm, bufs, n_bufs);
}

/* How long a leader waits for a follower's answer to an InstallSnapshot before it sends it again
 * (libraft's install_snapshot_timeout, 30 s by default). libraft 0.15 drops an InstallSnapshot
 * unanswered when the follower is taking or installing a snapshot of its own ("the leader will
 * eventually retry"), and a follower far enough behind to need one was for that long behind still.
 * Sized from the store's snapshot: the time to send it at 10 MB/s (80 Mbit/s), at least 5 s. A
 * wait shorter than the transfer would cut every install of it and send it again, forever, so it
 * has no upper bound: past 300 MB it is longer than the default (which cut the installs of stores
 * over 300 MB on such a link). */
unsigned
rs_install_timeout_ms (uint64_t snapshot_bytes)
{
    uint64_t ms = snapshot_bytes / 10000; /* 10 MB/s: 10,000 bytes a millisecond */
    return ms < 5000 ? 5000 : ms > UINT_MAX ? UINT_MAX : (unsigned) ms;
}

void
rs_size_install_timeout (self_t *s, uint64_t snapshot_bytes)
{
    if (s->raft_inited)
        raft_set_install_snapshot_timeout (&s->raft, rs_install_timeout_ms (snapshot_bytes));
}

static int
fsm_snapshot_finalize_cb (struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    uint64_t bytes = 0;
    for (unsigned i = 0; i < *n_bufs; i++)
        bytes += (*bufs)[i].len;
    if (bytes) /* on the loop: the copy is done */
        rs_size_install_timeout (fsm->data, bytes);
    for (unsigned i = 0; i < *n_bufs; i++)
        raft_free ((*bufs)[i].base);
    raft_free (*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int
fsm_restore_cb (struct raft_fsm *fsm, struct raft_buffer *buf)
{
    self_t *s = fsm->data;
    uint64_t idx = 0;
    /* the buffer is ours only when the restore succeeds: on an error libraft frees it itself
     * (installSnapshotCb's discard, snapshotDestroy at start), and freeing it here too was a
     * double free (a malformed snapshot, or a full disk under fsm_snapshot_write) */
    if (fsm_snapshot_index (buf->base, buf->len, &idx))
        return RAFT_MALFORMED;
    uint64_t have = store_applied_index (s->store);
    if (idx <= have) {
        /* our LMDB is already at or past the snapshot: entries after it are skipped by index */
        raft_free (buf->base);
        return 0;
    }
    char tmp[1200], path[1300], dst[1300];
    snprintf (tmp, sizeof tmp, "%s.restore", s->store_dir);
    rs_size_install_timeout (s, buf->len);
    int rc = fsm_snapshot_write (buf->base, buf->len, tmp);
    if (rc)
        return RAFT_IOERR;
    raft_free (buf->base);
    snprintf (path, sizeof path, "%s/data.mdb", tmp);
    snprintf (dst, sizeof dst, "%s/data.mdb", s->store_dir);
    store_close (&s->store);
    if (rename (path, dst))
        TR_ERROR (A, "cannot move the restored snapshot into place: %s", strerror (errno));
    rmdir (tmp);
    char err[2048];
    s->store = store_open (s->store_dir, 0, err, sizeof err);
    if (!s->store) {
        TR_ERROR (A, "cannot reopen the store after restoring a snapshot: %s", err);
        abort (); /* nothing sensible to serve from */
    }
    store_set_sync (s->store, 0);
    TR_INFO (A, "restored snapshot index=%llu revision=%llu keys=%zu (was at index %llu)", (unsigned long long) idx,
             (unsigned long long) store_revision (s->store), store_count (s->store), (unsigned long long) have);
    /* brokers' caches no longer match: they reload, and their watchers get an explicit resync */
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "x");
    for (zframe_t *rid = zlistx_first (s->subs); rid; rid = zlistx_next (s->subs))
        rs_send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
    return 0;
}

/* ---- proposals ------------------------------------------------------------------------------ */

typedef struct {
    papply_t p;
    self_t *s;
    origin_t *reads; /* read barriers answered once this entry is applied */
    size_t nreads;
    struct raft_barrier barrier; /* when there was no write to ride on */
} papply_ctx_t;

static void
on_applied_ctx (struct raft_apply *req, int status, void *result)
{
    (void) result;
    papply_ctx_t *c = req->data;
    self_t *s = c->s;
    papply_t *p = &c->p;
    void *handle = zlistx_find (s->inflight, p);
    if (handle)
        zlistx_delete (s->inflight, handle);
    if (s->batch_n)
        rs_wake (s); /* a batch held behind this entry (rs_hold_batch) goes this turn */
    rs_check_disk (s, status, "append"); /* does not return on a disk error */
    if (status || !p->have_results) {
        if (status)
            TR_WARN (A, "proposal not committed index=%llu: %s", (unsigned long long) req->index,
                     raft_strerror (status));
        rs_unknown_origins (s, p->origins, p->n);
    } else {
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        for (size_t i = 0; i < p->n; i++) {
            msgpack_sbuffer_clear (&out);
            fsm_pack_reply (&out, p->origins[i].id, p->results.res + p->results.first[i], p->results.count[i]);
            rs_answer (s, &p->origins[i], req->index, &out);
        }
        msgpack_sbuffer_destroy (&out);
        fsm_results_free (&p->results);
    }
    if (c->nreads) {
        if (status)
            rs_fail_origins (s, c->reads, c->nreads);
        else
            answer_reads (s, c->reads, c->nreads, req->index);
        rs_free_origins (c->reads, c->nreads);
    }
    rs_free_origins (p->origins, p->n);
    free (c);
}

static void
on_barrier (struct raft_barrier *req, int status)
{
    papply_ctx_t *c = req->data;
    self_t *s = c->s;
    rs_check_disk (s, status, "barrier");
    if (status)
        rs_fail_origins (s, c->reads, c->nreads);
    else
        answer_reads (s, c->reads, c->nreads, req->index);
    rs_free_origins (c->reads, c->nreads);
    free (c);
}

static void
origins_push (origin_t **arr, size_t *n, size_t *cap, origin_t o)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = realloc (*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = o;
}

static void
on_idle (uv_idle_t *h)
{
    (void) h;
}

void
rs_wake (self_t *s)
{
    uv_idle_start (&s->idle, on_idle);
}

static void
batch_reset (self_t *s)
{
    msgpack_sbuffer_clear (&s->batch);
    s->batch_n = 0;
    s->batch_origins = NULL;
    s->batch_cap = 0;
}

/* Adds a decoded proposal to this turn's batch; takes rid. */
void
rs_batch_add (self_t *s, zframe_t *rid, uint64_t token, const msgpack_object *prop)
{
    const msgpack_object *ops = sp_field (prop, "ops");
    uint64_t id = sp_u64 (sp_field (prop, "id"), 0);
    if (!ops || ops->type != MSGPACK_OBJECT_ARRAY) {
        TR_WARN (A, "dropped a proposal without ops");
        zframe_destroy (&rid);
        return;
    }
    origin_t o = {rid, token, id, ops->via.array.size, 0};
    if (raft_state (&s->raft) != RAFT_LEADER) {
        rs_fail_origins (s, &o, 1);
        zframe_destroy (&rid);
        return;
    }
    uint64_t fence = sp_u64 (sp_field (prop, "fence"), 0);
    if (fence && fence != s->raft.current_term) { /* written for a leadership that has ended */
        TR_WARN (A, "refused a proposal fenced at term %llu (the term is %llu)", (unsigned long long) fence,
                 (unsigned long long) s->raft.current_term);
        rs_fail_origins (s, &o, 1);
        zframe_destroy (&rid);
        return;
    }
    if (rs_lease_renew (s, rid, token, prop))
        return; /* answered from the leader's memory, no entry */
    if (!s->batch_n) {
        s->batch_since = zclock_mono ();
        s->batch_term = s->raft.current_term;
    }
    origins_push (&s->batch_origins, &s->batch_n, &s->batch_cap, o);
    msgpack_pack_object (&s->batch_pk, *ops);
    uv_idle_start (&s->idle, on_idle); /* keep this turn's poll from blocking: on_check flushes */
}

/* A loop turn of the leader is short (libraft appends on libuv's pool), so one entry per turn
 * made entries of ~5 writes under load, each paying its own log fsync on every member, its own
 * AppendEntries and its own apply transaction. While an entry is uncommitted (RS_HOLD_INFLIGHT),
 * the writes that arrive wait for it to apply, as etcd's proposals wait out the Ready being
 * persisted: they would have waited behind its fsyncs anyway, and they go as one entry. (Two
 * entries in flight instead of one: 3-replica scheduling 10 % slower, the bare store at 64
 * clients within the noise; docs/benchmarks.md.) Bounded: a batch of RS_HOLD_MAX_WRITES, or
 * RS_HOLD_MAX_MS old, goes regardless, at the next loop turn (libraft's 25 ms timer, the 100 ms
 * tick or any message wakes it: up to ~75 ms in all). A lone writer never waits (nothing is in
 * flight when it writes). Reads gathered meanwhile wait with the writes and ride on their entry:
 * a read may now wait one commit more than before. */
int
rs_hold_batch (size_t n, size_t inflight, int64_t age_ms)
{
    return n && n < RS_HOLD_MAX_WRITES && inflight >= RS_HOLD_INFLIGHT && age_ms < RS_HOLD_MAX_MS;
}

void
rs_batch_flush (self_t *s)
{
    uv_idle_stop (&s->idle);
    if (!s->batch_n && !s->rbatch_n)
        return;
    if (rs_hold_batch (s->batch_n, zlistx_size (s->inflight), zclock_mono () - s->batch_since))
        return; /* on_applied_ctx, or a timer (libraft's, the tick), wakes the loop for it */
    if (s->batch_n && s->batch_term != s->raft.current_term) {
        /* gathered under an earlier term (fences were checked against it): not proposed. A term
         * change steps the leader down, which fails the entries in flight and so ends a hold in
         * the same turn: this guards an ordering of libuv's phases, not a path known to happen. */
        rs_fail_origins (s, s->batch_origins, s->batch_n);
        rs_free_origins (s->batch_origins, s->batch_n);
        batch_reset (s);
        if (!s->rbatch_n)
            return;
    }
    papply_ctx_t *c = calloc (1, sizeof *c);
    c->s = s;
    /* reads of this turn are answered once an entry appended after them is applied: that proves
     * this server was still the leader when they arrived (Raft's read index, §6.4). They ride on
     * this turn's write entry, or on a barrier (an empty entry) when there is none. */
    c->reads = s->rbatch;
    c->nreads = s->rbatch_n;
    s->rbatch = NULL;
    s->rbatch_n = s->rbatch_cap = 0;
    if (!s->batch_n) {
        c->barrier.data = c;
        int rc = raft_barrier (&s->raft, &c->barrier, on_barrier);
        rs_check_disk (s, rc, "barrier");
        if (rc) {
            rs_fail_origins (s, c->reads, c->nreads);
            rs_free_origins (c->reads, c->nreads);
            free (c);
        }
        return;
    }
    c->p.n = s->batch_n;
    c->p.origins = s->batch_origins;
    s->stat_entries++;
    s->stat_writes += s->batch_n;
    if (s->batch_n > s->stat_max)
        s->stat_max = s->batch_n;
    c->p.req.data = c;
    msgpack_sbuffer hdr;
    msgpack_sbuffer_init (&hdr);
    msgpack_packer hpk;
    msgpack_packer_init (&hpk, &hdr, msgpack_sbuffer_write);
    msgpack_pack_array (&hpk, s->batch_n);
    /* libraft 0.15's segment format expects entry data in whole 8-byte words: an unpadded entry
     * is written fine but cannot be read back from a closed segment. msgpack ignores the zeros. */
    struct raft_buffer b;
    b.len = (hdr.size + s->batch.size + 7) & ~(size_t) 7;
    b.base = raft_calloc (1, b.len);
    memcpy (b.base, hdr.data, hdr.size);
    memcpy ((char *) b.base + hdr.size, s->batch.data, s->batch.size);
    msgpack_sbuffer_destroy (&hdr);
    batch_reset (s);
    int rc = raft_apply (&s->raft, &c->p.req, &b, 1, on_applied_ctx);
    rs_check_disk (s, rc, "append");
    if (rc) {
        TR_WARN (A, "cannot propose: %s", raft_strerror (rc));
        raft_free (b.base);
        rs_fail_origins (s, c->p.origins, c->p.n);
        rs_free_origins (c->p.origins, c->p.n);
        rs_fail_origins (s, c->reads, c->nreads);
        rs_free_origins (c->reads, c->nreads);
        free (c);
        return;
    }
    zlistx_add_end (s->inflight, &c->p);
}

/* The configuration has one voter, this server. */
static int
sole_voter (self_t *s)
{
    const struct raft_configuration *conf = &s->raft.configuration;
    unsigned voters = 0, me = 0;
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].role == RAFT_VOTER) {
            voters++;
            me |= conf->servers[i].id == s->id;
        }
    return voters == 1 && me;
}

/* Adds a read barrier to this turn's batch; takes rid. */
void
rs_read_add (self_t *s, zframe_t *rid, uint64_t token, uint64_t id)
{
    origin_t o = {rid, token, id, 0, 1};
    if (raft_state (&s->raft) != RAFT_LEADER) {
        rs_fail_origins (s, &o, 1);
        zframe_destroy (&rid);
        return;
    }
    if (sole_voter (s)) {
        /* no other server can be elected: this one is the leader for as long as it runs, and
         * every write acknowledged so far is applied here; no barrier needed */
        answer_reads (s, &o, 1, raft_last_applied (&s->raft) + 1);
        zframe_destroy (&rid);
        return;
    }
    origins_push (&s->rbatch, &s->rbatch_n, &s->rbatch_cap, o);
    uv_idle_start (&s->idle, on_idle);
}

static void
forward (self_t *s, const char *type, zframe_t *rid, zframe_t *body, uint64_t id, size_t nops, int read)
{
    const char *leader = rs_leader_address (s);
    uint64_t token = ++s->next_token;
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, type);
    zmsg_addmem (m, &token, 8);
    zmsg_addmem (m, zframe_data (body), zframe_size (body));
    if (!leader || zbridge_send (s->zb, leader, &m)) {
        zmsg_destroy (&m);
        int64_t now = zclock_mono ();
        int64_t deadline = s->dispatch_deadline ? s->dispatch_deadline : now + WAIT_LEADER_MS;
        if (now < deadline) { /* an election is likely under way: wait for its winner */
            wait_t *w = calloc (1, sizeof *w);
            w->rid = zframe_dup (rid);
            w->body = zframe_dup (body);
            w->deadline = deadline;
            zlistx_add_end (s->waiting, w);
            return;
        }
        origin_t o = {rid, 0, id, nops, read};
        rs_fail_origins (s, &o, 1);
        return;
    }
    fwd_t *f = calloc (1, sizeof *f);
    f->rid = zframe_dup (rid);
    f->id = id;
    f->nops = nops;
    f->read = read;
    f->deadline = zclock_mono () + FORWARD_TIMEOUT_MS;
    raft_leader (&s->raft, &f->leader, &leader);
    char key[24];
    snprintf (key, sizeof key, "%llu", (unsigned long long) token);
    zhashx_insert (s->forwarded, key, f);
}

/* A read barrier from a local broker ({"t":"b","id"}): linearizable reads wait for it. */
void
rs_local_read (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *o)
{
    uint64_t id = sp_u64 (sp_field (o, "id"), 0);
    if (raft_state (&s->raft) == RAFT_LEADER)
        rs_read_add (s, zframe_dup (rid), 0, id);
    else
        forward (s, "B", rid, body, id, 0, 1);
}

/* A proposal from a local broker: into the batch on the leader, forwarded on a follower. */
void
rs_local_proposal (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *prop)
{
    if (raft_state (&s->raft) == RAFT_LEADER) {
        rs_batch_add (s, zframe_dup (rid), 0, prop);
        return;
    }
    const msgpack_object *ops = sp_field (prop, "ops");
    size_t nops = ops && ops->type == MSGPACK_OBJECT_ARRAY ? ops->via.array.size : 0;
    forward (s, "P", rid, body, sp_u64 (sp_field (prop, "id"), 0), nops, 0);
}

void
rs_fsm_init (self_t *s)
{
    s->fsm.data = s;
    s->fsm.apply = fsm_apply_cb;
    s->fsm.snapshot_finalize = fsm_snapshot_finalize_cb;
    s->fsm.restore = fsm_restore_cb;
    /* libraft 0.15's libuv I/O has async_work but says version 1 (its only version 2 field): say 2
     * for it. An I/O without async_work gets the copy on the loop, in one step (FSM version 2). */
    if (s->io.async_work) {
        if (s->io.version < 2)
            s->io.version = 2;
        s->fsm.version = 3;
        s->fsm.snapshot = fsm_snapshot_cb;
        s->fsm.snapshot_async = fsm_snapshot_async_cb;
        return;
    }
    s->fsm.version = 2;
    s->fsm.snapshot = fsm_snapshot_sync_cb;
}

/* Frees the proposals still in flight at shutdown (their clients hear nothing: the store stops). */
void
rs_inflight_free (self_t *s)
{
    papply_t *p;
    while ((p = zlistx_first (s->inflight))) {
        zlistx_delete (s->inflight, zlistx_cursor (s->inflight));
        papply_ctx_t *c = (papply_ctx_t *) p; /* p is the first member of its context */
        rs_free_origins (p->origins, p->n);
        rs_free_origins (c->reads, c->nreads);
        fsm_results_free (&p->results);
        free (c);
    }
}
