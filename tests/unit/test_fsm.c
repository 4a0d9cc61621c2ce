/* fsm: a Raft entry applied to the store — batch outcomes, events, idempotence by index (a
 * replayed entry changes nothing), determinism across replicas, malformed entries, and
 * snapshots (copy, index, restore into a fresh directory). No sockets, no Raft. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "actors/store/fsm.h"
#include "actors/store/raft_store_int.h"
#include "core/store_proto.h"
#include "tests/unit/dir_fixture.h"

static store_t *
open_sub (const char *sub)
{
    char path[256], err[256];
    snprintf (path, sizeof path, "%s/%s", fixture_dir, sub);
    mkdir (path, 0700);
    store_t *s = store_open (path, 0, err, sizeof err);
    assert_non_null (s);
    return s;
}

/* An entry: nprops proposals, each a list of ops. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} entry_t;

static void
entry_begin (entry_t *e, size_t nprops)
{
    msgpack_sbuffer_init (&e->sb);
    msgpack_packer_init (&e->pk, &e->sb, msgpack_sbuffer_write);
    msgpack_pack_array (&e->pk, nprops);
}

static void
entry_prop (entry_t *e, size_t nops)
{
    msgpack_pack_array (&e->pk, nops);
}

static void
entry_op (entry_t *e, int op, int cond, uint64_t expect, const char *key, const char *val)
{
    msgpack_pack_array (&e->pk, 5);
    msgpack_pack_int (&e->pk, op);
    msgpack_pack_int (&e->pk, cond);
    msgpack_pack_uint64 (&e->pk, expect);
    msgpack_pack_str (&e->pk, strlen (key));
    msgpack_pack_str_body (&e->pk, key, strlen (key));
    size_t n = val ? strlen (val) : 0;
    msgpack_pack_bin (&e->pk, n);
    msgpack_pack_bin_body (&e->pk, val ? val : "", n);
}

/* entry 1: two proposals (create a, create b); entry 2: CAS a at rev 1 ok, create a again fails,
 * CAS b with a stale rev fails, delete b */
static void
build_entries (entry_t *e1, entry_t *e2)
{
    entry_begin (e1, 2);
    entry_prop (e1, 1);
    entry_op (e1, STORE_PUT, STORE_IF_ABSENT, 0, "/registry/x/default/a", "A1");
    entry_prop (e1, 1);
    entry_op (e1, STORE_PUT, STORE_IF_ABSENT, 0, "/registry/x/default/b", "B1");
    entry_begin (e2, 3);
    entry_prop (e2, 1);
    entry_op (e2, STORE_PUT, STORE_IF_MOD_REV, 1, "/registry/x/default/a", "A2");
    entry_prop (e2, 2);
    entry_op (e2, STORE_PUT, STORE_IF_ABSENT, 0, "/registry/x/default/a", "A3");
    entry_op (e2, STORE_PUT, STORE_IF_MOD_REV, 1, "/registry/x/default/b", "B2");
    entry_prop (e2, 1);
    entry_op (e2, STORE_DELETE, STORE_IF_EXISTS, 0, "/registry/x/default/b", NULL);
}

static void
apply_batches (void **state)
{
    (void) state;
    store_t *st = open_sub ("one");
    entry_t e1, e2;
    build_entries (&e1, &e2);
    fsm_events_t ev;
    fsm_events_init (&ev);
    fsm_results_t r;
    assert_int_equal (fsm_apply (st, 5, e1.sb.data, e1.sb.size, &r, &ev), 0);
    assert_int_equal (r.nprops, 2);
    assert_int_equal (r.count[0], 1);
    assert_int_equal (r.count[1], 1);
    assert_int_equal (r.res[r.first[0]].result, STORE_OK);
    assert_int_equal (r.res[r.first[0]].rev, 1);
    assert_int_equal (r.res[r.first[1]].rev, 2);
    assert_int_equal (ev.n, 2);
    assert_int_equal (store_applied_index (st), 5);
    fsm_results_free (&r);
    fsm_events_clear (&ev);

    assert_int_equal (fsm_apply (st, 6, e2.sb.data, e2.sb.size, &r, &ev), 0);
    assert_int_equal (r.nprops, 3);
    assert_int_equal (r.res[r.first[0]].result, STORE_OK);
    assert_int_equal (r.res[r.first[0]].rev, 3);
    assert_int_equal (r.count[1], 2);
    assert_int_equal (r.res[r.first[1]].result, STORE_ERR_EXISTS);
    assert_int_equal (r.res[r.first[1] + 1].result, STORE_ERR_CONFLICT);
    assert_int_equal (r.res[r.first[2]].result, STORE_OK);
    assert_int_equal (r.res[r.first[2]].rev, 4);
    assert_int_equal (ev.n, 2); /* the update of a and the delete of b */
    fsm_results_free (&r);
    fsm_events_clear (&ev);

    /* the packed event message is the store protocol's */
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    assert_int_equal (fsm_events_pack (&ev, &out), 0); /* nothing pending */
    msgpack_sbuffer_destroy (&out);

    /* replay after a restart: both entries are skipped, nothing changes */
    store_close (&st);
    st = open_sub ("one");
    assert_int_equal (store_applied_index (st), 6);
    assert_int_equal (fsm_apply (st, 5, e1.sb.data, e1.sb.size, &r, &ev), 1);
    assert_int_equal (r.nres, 0);
    assert_int_equal (fsm_apply (st, 6, e2.sb.data, e2.sb.size, &r, &ev), 1);
    assert_int_equal (ev.n, 0);
    assert_int_equal (store_revision (st), 4);
    void *val;
    size_t len;
    uint64_t mod, cr;
    assert_int_equal (store_get (st, "/registry/x/default/a", &val, &len, &mod, &cr), 0);
    assert_int_equal (len, 2);
    assert_memory_equal (val, "A2", 2);
    free (val);
    assert_int_equal (store_get (st, "/registry/x/default/b", &val, &len, &mod, &cr), STORE_ERR_NOT_FOUND);
    store_close (&st);
    msgpack_sbuffer_destroy (&e1.sb);
    msgpack_sbuffer_destroy (&e2.sb);
    msgpack_sbuffer_destroy (&ev.buf);
}

typedef struct {
    char keys[8][64];
    uint64_t mods[8];
    size_t n;
} dump_t;

static int
dump_cb (void *arg, const char *key, const void *val, size_t len, uint64_t mod_rev, uint64_t create_rev)
{
    (void) val;
    (void) len;
    (void) create_rev;
    dump_t *d = arg;
    if (d->n < 8) {
        snprintf (d->keys[d->n], sizeof d->keys[0], "%s", key);
        d->mods[d->n++] = mod_rev;
    }
    return 0;
}

static void
replicas_agree (void **state)
{
    (void) state;
    store_t *a = open_sub ("a"), *b = open_sub ("b");
    entry_t e1, e2;
    build_entries (&e1, &e2);
    fsm_results_t ra, rb;
    store_t *sts[2] = {a, b};
    fsm_results_t *rs[2] = {&ra, &rb};
    for (int i = 0; i < 2; i++) {
        assert_int_equal (fsm_apply (sts[i], 1, e1.sb.data, e1.sb.size, rs[i], NULL), 0);
        fsm_results_free (rs[i]);
        assert_int_equal (fsm_apply (sts[i], 2, e2.sb.data, e2.sb.size, rs[i], NULL), 0);
    }
    assert_int_equal (ra.nres, rb.nres);
    for (size_t i = 0; i < ra.nres; i++) {
        assert_int_equal (ra.res[i].result, rb.res[i].result);
        assert_int_equal (ra.res[i].rev, rb.res[i].rev);
    }
    fsm_results_free (&ra);
    fsm_results_free (&rb);
    dump_t da = {0}, db = {0};
    uint64_t reva, revb;
    store_range (a, "/registry/", &reva, dump_cb, &da);
    store_range (b, "/registry/", &revb, dump_cb, &db);
    assert_int_equal (reva, revb);
    assert_int_equal (da.n, db.n);
    for (size_t i = 0; i < da.n; i++) {
        assert_string_equal (da.keys[i], db.keys[i]);
        assert_int_equal (da.mods[i], db.mods[i]);
    }
    /* the digest replicas compare (store status): equal, and any difference shows */
    unsigned char ga[FSM_DIGEST_BYTES], gb[FSM_DIGEST_BYTES];
    size_t ka = 0, kb = 0;
    assert_int_equal (fsm_digest (a, ga, &reva, &ka), 0);
    assert_int_equal (fsm_digest (b, gb, &revb, &kb), 0);
    assert_memory_equal (ga, gb, sizeof ga);
    assert_int_equal (ka, 1);
    assert_int_equal (kb, 1);
    assert_int_equal (reva, store_revision (a));
    entry_t e3;
    entry_begin (&e3, 1);
    entry_prop (&e3, 1);
    entry_op (&e3, STORE_PUT, STORE_IF_ANY, 0, "/registry/x/default/a", "A2"); /* same value, new mod_rev */
    fsm_results_t r3;
    assert_int_equal (fsm_apply (b, 3, e3.sb.data, e3.sb.size, &r3, NULL), 0);
    fsm_results_free (&r3);
    assert_int_equal (fsm_digest (b, gb, NULL, NULL), 0);
    assert_memory_not_equal (ga, gb, sizeof ga);
    msgpack_sbuffer_destroy (&e3.sb);
    store_close (&a);
    store_close (&b);
    msgpack_sbuffer_destroy (&e1.sb);
    msgpack_sbuffer_destroy (&e2.sb);
}

static void
malformed_entries (void **state)
{
    (void) state;
    store_t *st = open_sub ("m");
    fsm_results_t r;
    const char junk[] = {(char) 0xc1, 0x00, 0x01};
    assert_int_equal (fsm_apply (st, 3, junk, sizeof junk, &r, NULL), -1);
    fsm_results_free (&r);
    /* not an array of proposals: applied as nothing, the index still moves */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 0);
    assert_int_equal (fsm_apply (st, 4, sb.data, sb.size, &r, NULL), -1);
    fsm_results_free (&r);
    assert_int_equal (store_applied_index (st), 4);
    assert_int_equal (store_revision (st), 0);
    /* ops with wrong types are skipped, the good one in the same proposal applies */
    entry_t e;
    entry_begin (&e, 1);
    entry_prop (&e, 2);
    msgpack_pack_array (&e.pk, 5);
    msgpack_pack_str (&e.pk, 1);
    msgpack_pack_str_body (&e.pk, "x", 1);
    msgpack_pack_nil (&e.pk);
    msgpack_pack_nil (&e.pk);
    msgpack_pack_nil (&e.pk);
    msgpack_pack_nil (&e.pk);
    entry_op (&e, STORE_PUT, STORE_IF_ANY, 0, "/registry/x/default/ok", "v");
    assert_int_equal (fsm_apply (st, 5, e.sb.data, e.sb.size, &r, NULL), 0);
    assert_int_equal (r.count[0], 1);
    assert_int_equal (r.res[0].result, STORE_OK);
    fsm_results_free (&r);
    msgpack_sbuffer_destroy (&e.sb);
    msgpack_sbuffer_destroy (&sb);
    store_close (&st);
}

static void
snapshot_restore (void **state)
{
    (void) state;
    store_t *st = open_sub ("src");
    entry_t e1, e2;
    build_entries (&e1, &e2);
    fsm_results_t r;
    assert_int_equal (fsm_apply (st, 10, e1.sb.data, e1.sb.size, &r, NULL), 0);
    fsm_results_free (&r);
    assert_int_equal (fsm_apply (st, 11, e2.sb.data, e2.sb.size, &r, NULL), 0);
    fsm_results_free (&r);
    void *buf;
    size_t len;
    assert_int_equal (fsm_snapshot (st, &buf, &len), 0);
    uint64_t idx = 0;
    assert_int_equal (fsm_snapshot_index (buf, len, &idx), 0);
    assert_int_equal (idx, 11);
    assert_int_equal (fsm_snapshot_index ("not a snapshot", 14, &idx), -1);
    assert_int_equal (fsm_snapshot_index (buf, 8, &idx), -1);
    char path[256];
    snprintf (path, sizeof path, "%s/dst", fixture_dir);
    assert_int_equal (fsm_snapshot_write (buf, len, path), 0);
    free (buf);
    char err[256];
    store_t *cp = store_open (path, 0, err, sizeof err);
    assert_non_null (cp);
    assert_int_equal (store_applied_index (cp), 11);
    assert_int_equal (store_revision (cp), store_revision (st));
    assert_int_equal (store_count (cp), 1);
    unsigned char gs[FSM_DIGEST_BYTES], gc[FSM_DIGEST_BYTES];
    assert_int_equal (fsm_digest (st, gs, NULL, NULL), 0);
    assert_int_equal (fsm_digest (cp, gc, NULL, NULL), 0);
    assert_memory_equal (gs, gc, sizeof gs); /* a restored snapshot holds the same state */
    /* the restored copy goes on applying where the source stopped */
    entry_t e3;
    entry_begin (&e3, 1);
    entry_prop (&e3, 1);
    entry_op (&e3, STORE_PUT, STORE_IF_MOD_REV, 3, "/registry/x/default/a", "A3");
    assert_int_equal (fsm_apply (cp, 12, e3.sb.data, e3.sb.size, &r, NULL), 0);
    assert_int_equal (r.res[0].result, STORE_OK);
    assert_int_equal (r.res[0].rev, 5);
    fsm_results_free (&r);
    store_close (&cp);
    store_close (&st);
    msgpack_sbuffer_destroy (&e1.sb);
    msgpack_sbuffer_destroy (&e2.sb);
    msgpack_sbuffer_destroy (&e3.sb);
}

/* One entry that creates key k<i> (for the snapshot taken while writing). */
static void
entry_create (entry_t *e, int i)
{
    char key[64], val[32];
    snprintf (key, sizeof key, "/registry/x/default/k%d", i);
    snprintf (val, sizeof val, "V%d", i);
    entry_begin (e, 1);
    entry_prop (e, 1);
    entry_op (e, STORE_PUT, STORE_IF_ABSENT, 0, key, val);
}

typedef struct {
    store_t *st;
    uint64_t idx;
    void *buf;
    size_t len;
    int rc;
} copier_t;

/* the allocator the copy is read into (libraft's, in the store): the buffer handed back is its */
static void *copy_buf;
static size_t copy_allocs;

static void *
copy_alloc (size_t n)
{
    copy_allocs++;
    return copy_buf = malloc (n);
}

static void *
copier (void *arg)
{
    copier_t *c = arg;
    c->rc = fsm_snapshot_at (c->st, c->idx, copy_alloc, free, &c->buf, &c->len);
    return NULL;
}

/* The Raft store's snapshot is copied on another thread while entries go on being applied
 * (libraft's snapshot_async): its header says the index noted when it began, its content may hold
 * later entries, and a replica restored from it then replays the log after the header's index:
 * the entries it already holds are skipped by index, and it ends equal to the source. */
static void
snapshot_while_writing (void **state)
{
    (void) state;
    enum { BEFORE = 50, AHEAD = 20, AFTER = 400 };
    store_t *st = open_sub ("src");
    entry_t e[BEFORE + AFTER];
    fsm_results_t r;
    for (int i = 0; i < BEFORE + AFTER; i++)
        entry_create (&e[i], i);
    for (int i = 0; i < BEFORE; i++) {
        assert_int_equal (fsm_apply (st, (uint64_t) i + 1, e[i].sb.data, e[i].sb.size, &r, NULL), 0);
        fsm_results_free (&r);
    }
    copier_t c = {.st = st, .idx = store_applied_index (st)};
    assert_int_equal (c.idx, BEFORE);
    /* entries applied between the noted index and the copy's start (libuv's pool may start it
     * late): the copy is ahead of its header by AHEAD at least */
    for (int i = BEFORE; i < BEFORE + AHEAD; i++) {
        assert_int_equal (fsm_apply (st, (uint64_t) i + 1, e[i].sb.data, e[i].sb.size, &r, NULL), 0);
        fsm_results_free (&r);
    }
    pthread_t t;
    assert_int_equal (pthread_create (&t, NULL, copier, &c), 0);
    for (int i = BEFORE + AHEAD; i < BEFORE + AFTER; i++) {
        assert_int_equal (fsm_apply (st, (uint64_t) i + 1, e[i].sb.data, e[i].sb.size, &r, NULL), 0);
        assert_int_equal (r.res[0].result, STORE_OK);
        fsm_results_free (&r);
    }
    assert_int_equal (pthread_join (t, NULL), 0);
    assert_int_equal (c.rc, 0);
    assert_int_equal (copy_allocs, 1); /* read straight into the caller's buffer, no copy of it */
    assert_ptr_equal (c.buf, copy_buf);
    uint64_t idx = 0;
    assert_int_equal (fsm_snapshot_index (c.buf, c.len, &idx), 0);
    assert_int_equal (idx, BEFORE); /* the index noted, not where the copy's read began */
    char path[256];
    snprintf (path, sizeof path, "%s/dst", fixture_dir);
    assert_int_equal (fsm_snapshot_write (c.buf, c.len, path), 0);
    free (c.buf);
    char err[256];
    store_t *cp = store_open (path, 0, err, sizeof err);
    assert_non_null (cp);
    uint64_t held = store_applied_index (cp);
    assert_true (held >= BEFORE + AHEAD && held <= BEFORE + AFTER);
    assert_int_equal (store_count (cp), held); /* every entry up to its own index, none after */
    /* Raft replays every entry after the snapshot's index: those the copy holds are skipped (1),
     * the others applied (0) */
    for (int i = BEFORE; i < BEFORE + AFTER; i++) {
        uint64_t index = (uint64_t) i + 1;
        assert_int_equal (fsm_apply (cp, index, e[i].sb.data, e[i].sb.size, &r, NULL), index <= held ? 1 : 0);
        fsm_results_free (&r);
    }
    assert_int_equal (store_applied_index (cp), BEFORE + AFTER);
    assert_int_equal (store_count (cp), BEFORE + AFTER);
    assert_int_equal (store_revision (cp), store_revision (st));
    unsigned char gs[FSM_DIGEST_BYTES], gc[FSM_DIGEST_BYTES];
    assert_int_equal (fsm_digest (st, gs, NULL, NULL), 0);
    assert_int_equal (fsm_digest (cp, gc, NULL, NULL), 0);
    assert_memory_equal (gs, gc, sizeof gs);
    store_close (&cp);
    store_close (&st);
    for (int i = 0; i < BEFORE + AFTER; i++)
        msgpack_sbuffer_destroy (&e[i].sb);
}

/* The leader's wait before sending an unanswered InstallSnapshot again (a follower busy with its
 * own snapshot drops it): the snapshot's transfer at 10 MB/s, never under 5 s, and never shorter
 * than a transfer at that rate however large (a shorter one would cut every install). */
static void
install_timeout (void **state)
{
    (void) state;
    assert_int_equal (rs_install_timeout_ms (0), 5000);
    assert_int_equal (rs_install_timeout_ms (1 << 20), 5000);
    assert_int_equal (rs_install_timeout_ms (75132944), 7513); /* the 3-replica benchmark's 75 MB */
    assert_int_equal (rs_install_timeout_ms (300000000), 30000);
    assert_int_equal (rs_install_timeout_ms (1ull << 30), 107374);
    assert_int_equal (rs_install_timeout_ms (UINT64_MAX), UINT_MAX);
}

/* The leader holds a turn's writes for a later entry while RS_HOLD_INFLIGHT entries are
 * uncommitted, within bounds: never an empty batch, never a full one, never past RS_HOLD_MAX_MS. */
static void
hold_batch (void **state)
{
    (void) state;
    assert_int_equal (RS_HOLD_INFLIGHT, 1);
    assert_false (rs_hold_batch (0, 5, 0));                  /* nothing to hold (reads alone go) */
    assert_false (rs_hold_batch (1, 0, 0));                  /* a lone writer goes at once */
    assert_false (rs_hold_batch (1, RS_HOLD_INFLIGHT - 1, 0)); /* room in the pipeline */
    assert_true (rs_hold_batch (1, RS_HOLD_INFLIGHT, 0));
    assert_true (rs_hold_batch (RS_HOLD_MAX_WRITES - 1, RS_HOLD_INFLIGHT + 3, RS_HOLD_MAX_MS - 1));
    assert_false (rs_hold_batch (RS_HOLD_MAX_WRITES, RS_HOLD_INFLIGHT, 0)); /* full: goes */
    assert_false (rs_hold_batch (5, RS_HOLD_INFLIGHT, RS_HOLD_MAX_MS));     /* old enough: goes */
}

/* A write proposal {t:p, id, ops:[]} added to s's batch as if s led (at term); raft_apply then
 * refuses it (s is left unavailable: "not proposed" answers, sent to a router nobody reads). */
static void
hold_add (self_t *s, uint64_t id, uint64_t term)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose (&sb, id, NULL, 0);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    assert_int_equal (msgpack_unpack_next (&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    s->raft.state = RAFT_LEADER;
    s->raft.current_term = term;
    rs_batch_add (s, zframe_new ("rid", 3), 0, &up.data);
    s->raft.state = RAFT_UNAVAILABLE;
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&sb);
}

/* rs_batch_flush wired to the hold: a batch waits while an entry is in flight (the loop free to
 * sleep), goes once RS_HOLD_MAX_MS old or when nothing is in flight, never in a later term than
 * its writes were gathered in, and one held at the stop is freed whole (the sanitizer build). */
static void
hold_wiring (void **state)
{
    (void) state;
    zsys_init ();
    self_t *s = calloc (1, sizeof *s);
    assert_non_null (s);
    s->router = zsock_new_router ("inproc://test-fsm-hold");
    assert_non_null (s->router);
    assert_int_equal (uv_loop_init (&s->loop), 0);
    uv_idle_init (&s->loop, &s->idle);
    s->inflight = zlistx_new ();
    msgpack_sbuffer_init (&s->batch);
    msgpack_packer_init (&s->batch_pk, &s->batch, msgpack_sbuffer_write);
    static int entry; /* stands for a papply_t in flight */
    zlistx_add_end (s->inflight, &entry);
    hold_add (s, 1, 1);
    hold_add (s, 2, 1);
    rs_read_add (s, zframe_new ("r", 1), 0, 9); /* not leader: answered at once */
    rs_batch_flush (s);
    assert_int_equal (s->batch_n, 2); /* held */
    assert_false (uv_is_active ((uv_handle_t *) &s->idle));
    s->batch_since -= RS_HOLD_MAX_MS;
    rs_batch_flush (s);
    assert_int_equal (s->batch_n, 0); /* old enough: proposed (refused: not leader) */
    assert_int_equal (s->stat_entries, 1);
    zlistx_purge (s->inflight); /* the entry applied */
    hold_add (s, 3, 1);
    rs_batch_flush (s);
    assert_int_equal (s->batch_n, 0); /* a lone writer goes at once */
    assert_int_equal (s->stat_entries, 2);
    /* gathered at term 1, flushed at term 2: answered "not proposed", no entry */
    zlistx_add_end (s->inflight, &entry);
    hold_add (s, 4, 1);
    rs_batch_flush (s);
    assert_int_equal (s->batch_n, 1);
    s->raft.current_term = 2;
    zlistx_purge (s->inflight);
    rs_batch_flush (s);
    assert_int_equal (s->batch_n, 0);
    assert_int_equal (s->stat_entries, 2);
    /* held at the stop: finish () frees it so */
    zlistx_add_end (s->inflight, &entry);
    hold_add (s, 5, 2);
    rs_batch_flush (s);
    assert_int_equal (s->batch_n, 1);
    rs_free_origins (s->batch_origins, s->batch_n);
    msgpack_sbuffer_destroy (&s->batch);
    zlistx_destroy (&s->inflight);
    uv_close ((uv_handle_t *) &s->idle, NULL);
    uv_run (&s->loop, UV_RUN_DEFAULT);
    assert_int_equal (uv_loop_close (&s->loop), 0);
    zsock_destroy (&s->router);
    free (s);
}

/* A restore that fails leaves the snapshot's buffer to libraft, which frees it (installSnapshotCb's
 * discard, snapshotDestroy at start): freed here too, it was a double free, which the sanitizer
 * build or glibc's own check stops at the raft_free below. */
static void
restore_errors (void **state)
{
    (void) state;
    self_t *s = calloc (1, sizeof *s);
    assert_non_null (s);
    rs_fsm_init (s);
    /* not a snapshot */
    struct raft_buffer b = {.base = raft_malloc (8), .len = 8};
    memset (b.base, 0, 8);
    assert_int_equal (s->fsm.restore (&s->fsm, &b), RAFT_MALFORMED);
    raft_free (b.base); /* as libraft does */
    /* a snapshot ahead of the store that cannot be written (no such directory) */
    store_t *src = open_sub ("src");
    store_op_t op = {STORE_PUT, STORE_IF_ANY, 0, "/registry/x", "1", 1};
    store_op_result_t r;
    assert_int_equal (store_apply_at (src, 7, &op, 1, &r, NULL, NULL), 0);
    void *snap;
    size_t len;
    assert_int_equal (fsm_snapshot_at (src, 7, raft_malloc, raft_free, &snap, &len), 0);
    store_close (&src);
    s->store = open_sub ("dst");
    snprintf (s->store_dir, sizeof s->store_dir, "%s/no/such/dir", fixture_dir);
    b = (struct raft_buffer) {.base = snap, .len = len};
    assert_int_equal (s->fsm.restore (&s->fsm, &b), RAFT_IOERR);
    raft_free (b.base); /* as libraft does */
    assert_int_equal (store_applied_index (s->store), 0); /* the store as it was */
    store_close (&s->store);
    free (s);
}

static void
replies (void **state)
{
    (void) state;
    store_op_result_t res[2] = {{STORE_OK, 7, 3}, {STORE_ERR_CONFLICT, 0, 5}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    fsm_pack_reply (&sb, 42, res, 2);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    assert_int_equal (msgpack_unpack_next (&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (sp_u64 (sp_field (&up.data, "id"), 0), 42);
    const msgpack_object *r = sp_field (&up.data, "res");
    assert_non_null (r);
    assert_int_equal (r->via.array.size, 2);
    assert_int_equal (r->via.array.ptr[0].via.array.ptr[1].via.u64, 7);
    assert_int_equal (r->via.array.ptr[1].via.array.ptr[0].via.u64, STORE_ERR_CONFLICT);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_clear (&sb);
    fsm_pack_failure (&sb, 43, 3, 5);
    msgpack_unpacked_init (&up);
    assert_int_equal (msgpack_unpack_next (&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    r = sp_field (&up.data, "res");
    assert_int_equal (r->via.array.size, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal (r->via.array.ptr[i].via.array.ptr[0].via.u64, 5);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&sb);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (apply_batches, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (replicas_agree, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (malformed_entries, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (snapshot_restore, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (snapshot_while_writing, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test (install_timeout),
        cmocka_unit_test (hold_batch),
        cmocka_unit_test (hold_wiring),
        cmocka_unit_test_setup_teardown (restore_errors, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test (replies),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
