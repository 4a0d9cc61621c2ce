/* raft_store — see raft_store.h. */
#include "actors/store/raft_store.h"
#include "actors/store/fsm.h"
#include "actors/store/store.h"
#include "actors/store/store_actor.h"
#include "actors/store/zbridge.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <errno.h>
#include <raft.h>
#include <raft/uv.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

    int joined;
    int64_t join_deadline, join_next;
    char join_error[256];
} self_t;

static int
ptr_cmp (const void *a, const void *b)
{
    return a == b ? 0 : a < b ? -1 : 1;
}

static void
send_to (zsock_t *router, zframe_t *rid, const void *data, size_t len)
{
    zmsg_t *m = zmsg_new ();
    zmsg_append (m, &(zframe_t *) {zframe_dup (rid)});
    zmsg_addmem (m, data, len);
    zmsg_send (&m, router);
    zmsg_destroy (&m); /* left to us if the send failed */
}

static const char *
state_name (int st)
{
    switch (st) {
    case RAFT_LEADER: return "leader";
    case RAFT_FOLLOWER: return "follower";
    case RAFT_CANDIDATE: return "candidate";
    default: return "unavailable";
    }
}

static const char *
leader_address (self_t *s)
{
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader (&s->raft, &lid, &addr);
    return lid ? addr : NULL;
}

/* ---- replies ------------------------------------------------------------------------------- */

static void
flush_held (self_t *s)
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
                send_to (s->router, h->rid, zframe_data (h->body), zframe_size (h->body));
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
static void
answer (self_t *s, const origin_t *o, uint64_t index, const msgpack_sbuffer *body)
{
    if (o->token) {
        zmsg_t *m = zmsg_new ();
        zmsg_addstr (m, "R");
        zmsg_addmem (m, &o->token, 8);
        zmsg_addmem (m, &index, 8);
        zmsg_addmem (m, body->data, body->size);
        zbridge_reply (s->zb, o->rid, &m);
    } else
        send_to (s->router, o->rid, body->data, body->size);
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
        answer (s, &o[i], index, &out);
    }
    msgpack_sbuffer_destroy (&out);
}

static void
fail_origins_code (self_t *s, origin_t *o, size_t n, int code)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer_clear (&out);
        if (o[i].read)
            pack_read_answer (&out, o[i].id, 0);
        else
            fsm_pack_failure (&out, o[i].id, o[i].nops, code);
        answer (s, &o[i], 0, &out);
    }
    msgpack_sbuffer_destroy (&out);
}

/* proposals that never reached the log (no leader, refused): definitely not applied */
static void
fail_origins (self_t *s, origin_t *o, size_t n)
{
    fail_origins_code (s, o, n, RESULT_NOT_PROPOSED);
}

/* proposals in the log whose fate is unknown (leadership lost, forward timed out) */
static void
unknown_origins (self_t *s, origin_t *o, size_t n)
{
    fail_origins_code (s, o, n, RESULT_UNKNOWN);
}

static void
free_origins (origin_t *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zframe_destroy (&o[i].rid);
    free (o);
}

/* ---- the FSM -------------------------------------------------------------------------------- */

static void
publish (self_t *s, fsm_events_t *ev)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (fsm_events_pack (ev, &out))
        for (zframe_t *rid = zlistx_first (s->subs); rid; rid = zlistx_next (s->subs))
            send_to (s->router, rid, out.data, out.size);
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
    publish (s, &ev);
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
    flush_held (s);
    return 0;
}

static int
fsm_snapshot_cb (struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    self_t *s = fsm->data;
    void *data;
    size_t len;
    if (fsm_snapshot (s->store, &data, &len))
        return RAFT_IOERR;
    struct raft_buffer *b = raft_malloc (sizeof *b);
    b->base = raft_malloc (len);
    memcpy (b->base, data, len);
    b->len = len;
    free (data);
    *bufs = b;
    *n_bufs = 1;
    TR_INFO (A, "snapshot taken index=%llu bytes=%zu", (unsigned long long) store_applied_index (s->store), len);
    return 0;
}

static int
fsm_snapshot_finalize_cb (struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    (void) fsm;
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
    if (fsm_snapshot_index (buf->base, buf->len, &idx)) {
        raft_free (buf->base);
        return RAFT_MALFORMED;
    }
    uint64_t have = store_applied_index (s->store);
    if (idx <= have) {
        /* our LMDB is already at or past the snapshot: entries after it are skipped by index */
        raft_free (buf->base);
        return 0;
    }
    char tmp[1200], path[1300], dst[1300];
    snprintf (tmp, sizeof tmp, "%s.restore", s->store_dir);
    int rc = fsm_snapshot_write (buf->base, buf->len, tmp);
    raft_free (buf->base);
    if (rc)
        return RAFT_IOERR;
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
        send_to (s->router, rid, out.data, out.size);
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
    if (status || !p->have_results) {
        if (status)
            TR_WARN (A, "proposal not committed index=%llu: %s", (unsigned long long) req->index,
                     raft_strerror (status));
        unknown_origins (s, p->origins, p->n);
    } else {
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        for (size_t i = 0; i < p->n; i++) {
            msgpack_sbuffer_clear (&out);
            fsm_pack_reply (&out, p->origins[i].id, p->results.res + p->results.first[i], p->results.count[i]);
            answer (s, &p->origins[i], req->index, &out);
        }
        msgpack_sbuffer_destroy (&out);
        fsm_results_free (&p->results);
    }
    if (c->nreads) {
        if (status)
            fail_origins (s, c->reads, c->nreads);
        else
            answer_reads (s, c->reads, c->nreads, req->index);
        free_origins (c->reads, c->nreads);
    }
    free_origins (p->origins, p->n);
    free (c);
}

static void
on_barrier (struct raft_barrier *req, int status)
{
    papply_ctx_t *c = req->data;
    self_t *s = c->s;
    if (status)
        fail_origins (s, c->reads, c->nreads);
    else
        answer_reads (s, c->reads, c->nreads, req->index);
    free_origins (c->reads, c->nreads);
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

static void
batch_reset (self_t *s)
{
    msgpack_sbuffer_clear (&s->batch);
    s->batch_n = 0;
    s->batch_origins = NULL;
    s->batch_cap = 0;
}

/* Adds a decoded proposal to this turn's batch; takes rid. */
static void
batch_add (self_t *s, zframe_t *rid, uint64_t token, const msgpack_object *prop)
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
        fail_origins (s, &o, 1);
        zframe_destroy (&rid);
        return;
    }
    origins_push (&s->batch_origins, &s->batch_n, &s->batch_cap, o);
    msgpack_pack_object (&s->batch_pk, *ops);
    uv_idle_start (&s->idle, on_idle); /* keep this turn's poll from blocking: on_check flushes */
}

static void
batch_flush (self_t *s)
{
    uv_idle_stop (&s->idle);
    if (!s->batch_n && !s->rbatch_n)
        return;
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
        if (rc) {
            fail_origins (s, c->reads, c->nreads);
            free_origins (c->reads, c->nreads);
            free (c);
        }
        return;
    }
    c->p.n = s->batch_n;
    c->p.origins = s->batch_origins;
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
    if (rc) {
        TR_WARN (A, "cannot propose: %s", raft_strerror (rc));
        raft_free (b.base);
        fail_origins (s, c->p.origins, c->p.n);
        free_origins (c->p.origins, c->p.n);
        fail_origins (s, c->reads, c->nreads);
        free_origins (c->reads, c->nreads);
        free (c);
        return;
    }
    zlistx_add_end (s->inflight, &c->p);
}

/* Adds a read barrier to this turn's batch; takes rid. */
static void
read_add (self_t *s, zframe_t *rid, uint64_t token, uint64_t id)
{
    origin_t o = {rid, token, id, 0, 1};
    if (raft_state (&s->raft) != RAFT_LEADER) {
        fail_origins (s, &o, 1);
        zframe_destroy (&rid);
        return;
    }
    origins_push (&s->rbatch, &s->rbatch_n, &s->rbatch_cap, o);
    uv_idle_start (&s->idle, on_idle);
}

static void
forward (self_t *s, const char *type, zframe_t *rid, zframe_t *body, uint64_t id, size_t nops, int read)
{
    const char *leader = leader_address (s);
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
        fail_origins (s, &o, 1);
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
static void
local_read (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *o)
{
    uint64_t id = sp_u64 (sp_field (o, "id"), 0);
    if (raft_state (&s->raft) == RAFT_LEADER)
        read_add (s, zframe_dup (rid), 0, id);
    else
        forward (s, "B", rid, body, id, 0, 1);
}

/* A proposal from a local broker: into the batch on the leader, forwarded on a follower. */
static void
local_proposal (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *prop)
{
    if (raft_state (&s->raft) == RAFT_LEADER) {
        batch_add (s, zframe_dup (rid), 0, prop);
        return;
    }
    const msgpack_object *ops = sp_field (prop, "ops");
    size_t nops = ops && ops->type == MSGPACK_OBJECT_ARRAY ? ops->via.array.size : 0;
    forward (s, "P", rid, body, sp_u64 (sp_field (prop, "id"), 0), nops, 0);
}

/* ---- status --------------------------------------------------------------------------------- */

/* A member's server name, registered under /troupe/members/<id> (cmd_cluster), or "". */
static void
member_name (self_t *s, raft_id id, char *buf, size_t len)
{
    char key[64];
    snprintf (key, sizeof key, "/troupe/members/%llu", (unsigned long long) id);
    void *val = NULL;
    size_t n = 0;
    uint64_t mr, cr;
    buf[0] = 0;
    if (store_get (s->store, key, &val, &n, &mr, &cr) == 0) {
        snprintf (buf, len, "%.*s", (int) n, (const char *) val);
        free (val);
    }
}

static void
serve_status (self_t *s, zframe_t *rid, uint64_t id)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "q");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "status");
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader (&s->raft, &lid, &laddr);
    char name[256], lname[256];
    member_name (s, s->id, name, sizeof name);
    if (lid)
        member_name (s, lid, lname, sizeof lname);
    else
        lname[0] = 0;
    msgpack_pack_map (&pk, 14);
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, s->id);
    sp_pack_cstr (&pk, "name");
    sp_pack_cstr (&pk, name);
    sp_pack_cstr (&pk, "address");
    sp_pack_cstr (&pk, s->peer);
    sp_pack_cstr (&pk, "state");
    sp_pack_cstr (&pk, state_name (raft_state (&s->raft)));
    sp_pack_cstr (&pk, "leaderId");
    msgpack_pack_uint64 (&pk, lid);
    /* the leading server's name (its --name), else its peer address */
    sp_pack_cstr (&pk, "leader");
    sp_pack_cstr (&pk, lname[0] ? lname : lid && laddr ? laddr : "");
    sp_pack_cstr (&pk, "leaderAddress");
    sp_pack_cstr (&pk, lid && laddr ? laddr : "");
    sp_pack_cstr (&pk, "term");
    msgpack_pack_uint64 (&pk, s->raft.current_term);
    sp_pack_cstr (&pk, "commitIndex");
    msgpack_pack_uint64 (&pk, s->raft.commit_index);
    sp_pack_cstr (&pk, "appliedIndex");
    msgpack_pack_uint64 (&pk, raft_last_applied (&s->raft));
    sp_pack_cstr (&pk, "lastIndex");
    msgpack_pack_uint64 (&pk, raft_last_index (&s->raft));
    sp_pack_cstr (&pk, "snapshotIndex");
    msgpack_pack_uint64 (&pk, s->raft.log.snapshot.last_index);
    sp_pack_cstr (&pk, "revision");
    msgpack_pack_uint64 (&pk, store_revision (s->store));
    sp_pack_cstr (&pk, "members");
    const struct raft_configuration *conf = &s->raft.configuration;
    msgpack_pack_array (&pk, conf->n);
    for (unsigned i = 0; i < conf->n; i++) {
        char mname[256];
        member_name (s, conf->servers[i].id, mname, sizeof mname);
        msgpack_pack_map (&pk, 4);
        sp_pack_cstr (&pk, "name");
        sp_pack_cstr (&pk, mname);
        sp_pack_cstr (&pk, "id");
        msgpack_pack_uint64 (&pk, conf->servers[i].id);
        sp_pack_cstr (&pk, "address");
        sp_pack_cstr (&pk, conf->servers[i].address);
        sp_pack_cstr (&pk, "role");
        sp_pack_cstr (&pk, conf->servers[i].role == RAFT_VOTER ? "voter"
                   : conf->servers[i].role == RAFT_STANDBY ? "standby"
                                                          : "spare");
    }
    send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
}

/* ---- range reads (a broker loading its cache) ----------------------------------------------- */

static void
serve_range (self_t *s, zframe_t *rid, const msgpack_object *o)
{
    char prefix[512] = "";
    const msgpack_object *p = sp_field (o, "prefix");
    if (p)
        sp_str (p, prefix, sizeof prefix);
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    fsm_pack_range (s->store, prefix, sp_u64 (sp_field (o, "id"), 0), &out);
    send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
}

/* ---- administration: member removal, snapshot save ----------------------------------------- */

#define SAVE_CHUNK (1024 * 1024)

static void
pack_admin (msgpack_sbuffer *out, const char *t, uint64_t id, const char *error)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, error ? 4 : 3);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, t);
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "ok");
    if (error)
        msgpack_pack_false (&pk);
    else
        msgpack_pack_true (&pk);
    if (error) {
        sp_pack_cstr (&pk, "error");
        sp_pack_cstr (&pk, error);
    }
}

typedef struct {
    struct raft_change req;
    self_t *s;
    origin_t o;
    raft_id member;
} remove_ctx_t;

static void
admin_answer (self_t *s, const origin_t *o, const char *error)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    pack_admin (&out, "m", o->id, error);
    answer (s, o, 0, &out);
    msgpack_sbuffer_destroy (&out);
}

static void
on_removed (struct raft_change *req, int status)
{
    remove_ctx_t *x = req->data;
    self_t *s = x->s;
    if (status)
        TR_WARN (A, "removing member id=%llu failed: %s", (unsigned long long) x->member, raft_strerror (status));
    else
        TR_INFO (A, "member removed id=%llu", (unsigned long long) x->member);
    admin_answer (s, &x->o, status ? raft_strerror (status) : NULL);
    zframe_destroy (&x->o.rid);
    if (s->change == (change_t *) x)
        s->change = NULL;
    free (x);
}

/* Removes a member named by id or peer address; on the leader only (a follower forwards). Takes
 * rid. */
static void
member_remove (self_t *s, zframe_t *rid, uint64_t token, uint64_t id, const char *who)
{
    origin_t o = {rid, token, id, 0, 0};
    char err[300] = "";
    raft_id member = 0;
    const struct raft_configuration *conf = &s->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++) {
        char idtxt[24];
        snprintf (idtxt, sizeof idtxt, "%llu", (unsigned long long) conf->servers[i].id);
        char mname[256];
        member_name (s, conf->servers[i].id, mname, sizeof mname);
        if (!strcmp (who, idtxt) || !strcmp (who, conf->servers[i].address) || (mname[0] && !strcmp (who, mname)))
            member = conf->servers[i].id;
    }
    if (!member)
        snprintf (err, sizeof err, "no member with name, id or address \"%s\" (see troupe store status)", who);
    else if (s->change)
        snprintf (err, sizeof err, "another membership change is in progress: retry");
    if (!err[0]) {
        remove_ctx_t *x = calloc (1, sizeof *x);
        x->s = s;
        x->o = o;
        x->member = member;
        x->req.data = x;
        int rc = raft_remove (&s->raft, &x->req, member, on_removed);
        if (!rc) {
            s->change = (change_t *) x; /* only compared, never dereferenced as a change_t */
            return;
        }
        snprintf (err, sizeof err, "cannot remove member %llu: %s", (unsigned long long) member, raft_strerror (rc));
        free (x);
    }
    admin_answer (s, &o, err);
    zframe_destroy (&rid);
}

static void
local_member (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *o)
{
    uint64_t id = sp_u64 (sp_field (o, "id"), 0);
    char who[256] = "";
    const msgpack_object *w = sp_field (o, "remove");
    if (w)
        sp_str (w, who, sizeof who);
    if (raft_state (&s->raft) == RAFT_LEADER) {
        member_remove (s, zframe_dup (rid), 0, id, who);
        return;
    }
    const char *leader = leader_address (s);
    uint64_t token = ++s->next_token;
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "M");
    zmsg_addmem (m, &token, 8);
    zmsg_addmem (m, zframe_data (body), zframe_size (body));
    if (!leader || zbridge_send (s->zb, leader, &m)) {
        zmsg_destroy (&m);
        origin_t or = {rid, 0, id, 0, 0};
        admin_answer (s, &or, "the store has no leader: retry");
        return;
    }
    fwd_t *f = calloc (1, sizeof *f);
    f->rid = zframe_dup (rid);
    f->id = id;
    f->deadline = zclock_mono () + FORWARD_TIMEOUT_MS;
    char key[24];
    snprintf (key, sizeof key, "%llu", (unsigned long long) token);
    zhashx_insert (s->forwarded, key, f);
}

/* A chunk of a snapshot of this server's store, made at offset 0: header, LMDB copy, BLAKE2b. */
static void
serve_save (self_t *s, zframe_t *rid, const msgpack_object *o)
{
    uint64_t id = sp_u64 (sp_field (o, "id"), 0), off = sp_u64 (sp_field (o, "offset"), 0);
    if (off == 0 || !s->saved) {
        free (s->saved);
        s->saved = NULL;
        void *buf;
        size_t len;
        if (off == 0 && fsm_snapshot (s->store, &buf, &len) == 0) {
            s->saved = realloc (buf, len + crypto_generichash_BYTES);
            crypto_generichash (s->saved + len, crypto_generichash_BYTES, s->saved, len, NULL, 0);
            s->saved_len = len + crypto_generichash_BYTES;
            s->saved_at = zclock_mono ();
        }
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (!s->saved || off > s->saved_len) {
        pack_admin (&out, "v", id, off ? "the snapshot being saved is gone: start again" : "cannot copy the store");
        send_to (s->router, rid, out.data, out.size);
        msgpack_sbuffer_destroy (&out);
        return;
    }
    size_t n = s->saved_len - off < SAVE_CHUNK ? s->saved_len - off : SAVE_CHUNK;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 6);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "v");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "offset");
    msgpack_pack_uint64 (&pk, off);
    sp_pack_cstr (&pk, "total");
    msgpack_pack_uint64 (&pk, s->saved_len);
    sp_pack_cstr (&pk, "index");
    msgpack_pack_uint64 (&pk, store_applied_index (s->store));
    sp_pack_cstr (&pk, "data");
    msgpack_pack_bin (&pk, n);
    msgpack_pack_bin_body (&pk, s->saved + off, n);
    send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
    if (off + n >= s->saved_len) {
        free (s->saved);
        s->saved = NULL;
    }
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
            local_proposal (s, rid, body, &up.data);
        else if (!strcmp (t, "b"))
            local_read (s, rid, body, &up.data);
        else if (!strcmp (t, "g"))
            serve_range (s, rid, &up.data);
        else if (!strcmp (t, "s"))
            zlistx_add_end (s->subs, zframe_dup (rid));
        else if (!strcmp (t, "q"))
            serve_status (s, rid, sp_u64 (sp_field (&up.data, "id"), 0));
        else if (!strcmp (t, "m"))
            local_member (s, rid, body, &up.data);
        else if (!strcmp (t, "v"))
            serve_save (s, rid, &up.data);
        else
            TR_WARN (A, "dropped unknown message");
        msgpack_unpacked_destroy (&up);
    }
}

/* ---- peer messages -------------------------------------------------------------------------- */

static void
join_reply (self_t *s, zframe_t *rid, const char *what, const char *detail)
{
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "JR");
    zmsg_addstr (m, what);
    zmsg_addstr (m, detail ? detail : "");
    zbridge_reply (s->zb, rid, &m);
}

typedef struct {
    change_t c;
    self_t *s;
    int step; /* 0 add, 1 assign */
} change_ctx_t;

static void
on_change (struct raft_change *req, int status)
{
    change_ctx_t *x = req->data;
    self_t *s = x->s;
    if (!status && x->step == 0) {
        x->step = 1;
        int rc = raft_assign (&s->raft, &x->c.req, x->c.id, RAFT_VOTER, on_change);
        if (!rc)
            return;
        status = rc;
    }
    if (status) {
        TR_WARN (A, "membership change for id=%llu failed: %s", (unsigned long long) x->c.id, raft_strerror (status));
        join_reply (s, x->c.rid, "retry", raft_strerror (status));
    } else {
        TR_INFO (A, "member added id=%llu as voter", (unsigned long long) x->c.id);
        join_reply (s, x->c.rid, "ok", "");
    }
    zframe_destroy (&x->c.rid);
    if (s->change == &x->c)
        s->change = NULL;
    free (x);
}

static void
on_join_request (self_t *s, zframe_t *rid, zmsg_t *m)
{
    zframe_t *idf = zmsg_next (m), *af = zmsg_next (m);
    if (!idf || !af || zframe_size (idf) != 8) {
        join_reply (s, rid, "refused", "malformed join request");
        return;
    }
    raft_id id;
    memcpy (&id, zframe_data (idf), 8);
    char *addr = zframe_strdup (af);
    if (raft_state (&s->raft) != RAFT_LEADER) {
        const char *leader = leader_address (s);
        join_reply (s, rid, leader ? "redirect" : "retry", leader ? leader : "no leader yet");
        free (addr);
        return;
    }
    const struct raft_configuration *conf = &s->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].id == id && conf->servers[i].role == RAFT_VOTER) {
            join_reply (s, rid, "ok", "");
            free (addr);
            return;
        }
    if (s->change) {
        join_reply (s, rid, "retry", "another membership change is in progress");
        free (addr);
        return;
    }
    change_ctx_t *x = calloc (1, sizeof *x);
    x->s = s;
    x->c.rid = zframe_dup (rid);
    x->c.id = id;
    x->c.req.data = x;
    int known = 0;
    for (unsigned i = 0; i < conf->n; i++)
        known |= conf->servers[i].id == id;
    x->step = known ? 1 : 0;
    int rc = known ? raft_assign (&s->raft, &x->c.req, id, RAFT_VOTER, on_change)
                   : raft_add (&s->raft, &x->c.req, id, addr, on_change);
    TR_INFO (A, "join request id=%llu address=%s: %s", (unsigned long long) id, addr, rc ? raft_strerror (rc) : "adding");
    free (addr);
    if (rc) {
        join_reply (s, rid, "retry", raft_strerror (rc));
        zframe_destroy (&x->c.rid);
        free (x);
        return;
    }
    s->change = &x->c;
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
            batch_add (s, zframe_dup (rid), token, &up.data);
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
            read_add (s, zframe_dup (rid), token, sp_u64 (sp_field (&up.data, "id"), 0));
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
                member_remove (s, zframe_dup (rid), token, id, who);
            else {
                origin_t o = {rid, token, id, 0, 0};
                admin_answer (s, &o, "not the leader any more: retry");
            }
        }
        msgpack_unpacked_destroy (&up);
    } else if (via && !strcmp (type, "R") && zmsg_size (m) == 4) {
        zframe_t *tf = zmsg_next (m), *ixf = zmsg_next (m), *body = zmsg_next (m);
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
            flush_held (s);
        }
    } else if (rid && !strcmp (type, "J"))
        on_join_request (s, rid, m);
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
    batch_flush (s);
    if (zlistx_size (s->held))
        flush_held (s);
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
                fail_origins (s, &o, 1); /* a read did nothing: retry is safe */
            else
                unknown_origins (s, &o, 1);
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
        unknown_origins (s, &o, 1); /* the leader may still commit it */
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
    s->fsm.version = 2;
    s->fsm.data = s;
    s->fsm.apply = fsm_apply_cb;
    s->fsm.snapshot = fsm_snapshot_cb;
    s->fsm.snapshot_finalize = fsm_snapshot_finalize_cb;
    s->fsm.restore = fsm_restore_cb;
    rc = raft_init (&s->raft, &s->io, &s->fsm, s->id, s->peer);
    if (rc) {
        snprintf (err, errlen, "raft: %s", raft_errmsg (&s->raft));
        raft_uv_close (&s->io);
        return -1;
    }
    s->raft.data = s;
    s->raft_inited = 1;
    raft_set_pre_vote (&s->raft, true);
    raft_set_snapshot_threshold (&s->raft, s->snap_threshold);
    raft_set_snapshot_trailing (&s->raft, s->snap_trailing);
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
                                       : "no answer (is it running? a wrong --token cannot authenticate)");
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
    if (s->raft_inited && !s->raft_closed) {
        begin_stop (s);
        while (!s->raft_closed)
            uv_run (&s->loop, UV_RUN_ONCE);
    }
    if (s->raft_inited)
        raft_uv_close (&s->io); /* frees what raft_uv_init allocated (raft_close does not) */
    /* answer whatever still waits: the store is going away */
    papply_t *p;
    while ((p = zlistx_first (s->inflight))) {
        zlistx_delete (s->inflight, zlistx_cursor (s->inflight));
        papply_ctx_t *c = (papply_ctx_t *) p; /* p is the first member of its context */
        free_origins (p->origins, p->n);
        free_origins (c->reads, c->nreads);
        fsm_results_free (&p->results);
        free (c);
    }
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
    free (s->batch_origins);
    free (s->saved);
    free_origins (s->rbatch, s->rbatch_n);
    msgpack_sbuffer_destroy (&s->batch);
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
    s->subs = zlistx_new ();
    zlistx_set_destructor (s->subs, (zlistx_destructor_fn *) zframe_destroy);
    s->inflight = zlistx_new ();
    zlistx_set_comparator (s->inflight, ptr_cmp);
    s->held = zlistx_new ();
    s->forwarded = zhashx_new ();
    s->waiting = zlistx_new ();
    zlistx_set_comparator (s->waiting, ptr_cmp);
    msgpack_sbuffer_init (&s->batch);
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
    zactor_t *z = zactor_new (raft_store_thread, s);
    if (z && zsock_wait (z))
        zactor_destroy (&z);
    return z;
}
