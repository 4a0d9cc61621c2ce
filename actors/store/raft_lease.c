/* raft_lease — lease renewals without a Raft entry each (docs/decisions.md "Lease renewals").
 *
 * 5,000 agents renewing their node Lease every 10 s are 500 writes a second, each a log append
 * and fsync on a majority and an LMDB transaction on every server, forever — for a timestamp
 * nobody needs durably: after a failover the node controller gives every node a fresh grace
 * period anyway (nodelife.h). So the leader keeps renewals in memory:
 *   - a proposal the broker marked "renew" (only spec.renewTime moved) whose CAS holds against
 *     the committed object is answered at once with the object's mod_rev unchanged; the new value
 *     goes to this server's brokers ("l") and to every other server ("L" → their brokers) before
 *     the answer, so every broker's cache and watchers see the renewal;
 *   - it is written to the log like any write when that lease has not been written for
 *     lease_checkpoint_ms (default 300 s, the period at which Kubernetes re-posts an unchanged
 *     node status): every server notes when it applied a write of each lease, so the log holds
 *     every lease at most one checkpoint old, and a new leader goes on from where the old one
 *     stopped (a renewal it has no note of is written).
 * Nothing here is part of the FSM: replicas stay identical, snapshots and restarts ignore it.
 */
#include "actors/store/raft_store_int.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <stdlib.h>
#include <string.h>

static void flush_waiting (self_t *s);

static void
at_free (void **p)
{
    free (*p);
    *p = NULL;
}

void
rs_lease_init (self_t *s)
{
    s->leases = zhashx_new ();
    zhashx_set_destructor (s->leases, at_free);
    s->ren_waiting = zlistx_new ();
    zlistx_set_destructor (s->ren_waiting, (zlistx_destructor_fn *) zframe_destroy);
    msgpack_sbuffer_init (&s->ren);
    msgpack_packer_init (&s->ren_pk, &s->ren, msgpack_sbuffer_write);
}

void
rs_lease_free (self_t *s)
{
    zhashx_destroy (&s->leases);
    zlistx_destroy (&s->ren_waiting);
    msgpack_sbuffer_destroy (&s->ren);
    rs_free_origins (s->ren_origins, s->ren_n);
    s->ren_origins = NULL;
    free (s->ren_revs);
    s->ren_revs = NULL;
    s->ren_n = s->ren_cap = 0;
}

int
rs_lease_renew (self_t *s, zframe_t *rid, uint64_t token, const msgpack_object *prop)
{
    if (s->lease_checkpoint_ms <= 0 || !sp_is_renewal (prop))
        return 0;
    const msgpack_object *ops = sp_field (prop, "ops");
    if (!ops || ops->type != MSGPACK_OBJECT_ARRAY || ops->via.array.size != 1)
        return 0;
    const msgpack_object *op = &ops->via.array.ptr[0];
    if (op->type != MSGPACK_OBJECT_ARRAY || op->via.array.size != 5)
        return 0;
    const msgpack_object *f = op->via.array.ptr;
    char key[600];
    if (sp_u64 (&f[0], 0) != STORE_PUT || sp_u64 (&f[1], 0) != STORE_IF_MOD_REV || f[4].type != MSGPACK_OBJECT_BIN ||
        sp_str (&f[3], key, sizeof key))
        return 0;
    uint64_t expect = sp_u64 (&f[2], 0), mod = 0, created = 0;
    void *val = NULL;
    size_t len = 0;
    int rc = store_get (s->store, key, &val, &len, &mod, &created);
    free (val);
    if (rc || mod != expect)
        return 0; /* the ordinary path answers Conflict or NotFound */
    int64_t now = zclock_mono ();
    int64_t *at = zhashx_lookup (s->leases, key);
    if (!at || now - *at >= s->lease_checkpoint_ms)
        return 0; /* checkpoint: this one goes to the log (noted when applied) */
    if (s->ren_n == s->ren_cap) {
        s->ren_cap = s->ren_cap ? s->ren_cap * 2 : 64;
        s->ren_origins = realloc (s->ren_origins, s->ren_cap * sizeof *s->ren_origins);
        s->ren_revs = realloc (s->ren_revs, s->ren_cap * sizeof *s->ren_revs);
    }
    s->ren_origins[s->ren_n] = (origin_t) {rid, token, sp_u64 (sp_field (prop, "id"), 0), 1, 0};
    s->ren_revs[s->ren_n] = mod;
    s->ren_n++;
    msgpack_pack_array (&s->ren_pk, 4);
    sp_pack_cstr (&s->ren_pk, key);
    msgpack_pack_object (&s->ren_pk, f[4]);
    msgpack_pack_uint64 (&s->ren_pk, mod);
    msgpack_pack_uint64 (&s->ren_pk, created);
    rs_wake (s);
    return 1;
}

void
rs_lease_applied (self_t *s, const fsm_events_t *ev)
{
    if (zlistx_size (s->ren_waiting))
        flush_waiting (s);
    if (!ev->n || s->lease_checkpoint_ms <= 0)
        return;
    static const char prefix[] = "/registry/leases/";
    int64_t now = zclock_mono ();
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    size_t off = 0;
    while (msgpack_unpack_next (&up, ev->buf.data, ev->buf.size, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *e = &up.data;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 6)
            continue;
        const msgpack_object *k = &e->via.array.ptr[2];
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size < sizeof prefix - 1 || k->via.str.size >= 600 ||
            memcmp (k->via.str.ptr, prefix, sizeof prefix - 1))
            continue;
        char key[600];
        memcpy (key, k->via.str.ptr, k->via.str.size);
        key[k->via.str.size] = 0;
        if (sp_u64 (&e->via.array.ptr[1], 0) == STORE_EV_DELETE) {
            zhashx_delete (s->leases, key);
            continue;
        }
        int64_t *at = zhashx_lookup (s->leases, key);
        if (!at) {
            at = malloc (sizeof *at);
            zhashx_insert (s->leases, key, at);
        }
        *at = now;
    }
    msgpack_unpacked_destroy (&up);
}

/* {"t":"l","kvs":[…n packed kvs…]} */
static void
pack_renewals (msgpack_sbuffer *out, const void *kvs, size_t size, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "l");
    sp_pack_cstr (&pk, "kvs");
    msgpack_pack_array (&pk, n);
    msgpack_sbuffer_write (out, kvs, size);
}

static void
publish_now (self_t *s, const void *body, size_t len)
{
    for (zframe_t *rid = zlistx_first (s->subs); rid; rid = zlistx_next (s->subs))
        rs_send_to (s->router, rid, body, len);
}

/* The highest mod_rev in an {"t":"l","kvs":[...]} body. */
static uint64_t
needed_revision (const void *body, size_t len)
{
    uint64_t need = 0;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    if (msgpack_unpack_next (&up, body, len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *kvs = sp_field (&up.data, "kvs");
        for (uint32_t i = 0; kvs && kvs->type == MSGPACK_OBJECT_ARRAY && i < kvs->via.array.size; i++) {
            const msgpack_object *kv = &kvs->via.array.ptr[i];
            if (kv->type == MSGPACK_OBJECT_ARRAY && kv->via.array.size == 4 && sp_u64 (&kv->via.array.ptr[2], 0) > need)
                need = sp_u64 (&kv->via.array.ptr[2], 0);
        }
    }
    msgpack_unpacked_destroy (&up);
    return need;
}

/* Renewals wait, in order, until this server has applied the writes they renew: the leader's
 * broadcast can outrun the commit of the object it renews (a follower learns of a commit with
 * the next append). Dropped after 10 s: the next renewal supersedes them. */
static void
flush_waiting (self_t *s)
{
    uint64_t rev = store_revision (s->store);
    int64_t now = zclock_mono ();
    zframe_t *f;
    while ((f = zlistx_first (s->ren_waiting))) {
        uint64_t need;
        int64_t deadline;
        memcpy (&need, zframe_data (f), 8);
        memcpy (&deadline, (char *) zframe_data (f) + 8, 8);
        if (need > rev && now < deadline)
            break;
        if (need <= rev)
            publish_now (s, (char *) zframe_data (f) + 16, zframe_size (f) - 16);
        zlistx_delete (s->ren_waiting, zlistx_cursor (s->ren_waiting));
    }
}

void
rs_lease_publish (self_t *s, const void *body, size_t len)
{
    uint64_t need = needed_revision (body, len);
    if (!zlistx_size (s->ren_waiting) && need <= store_revision (s->store)) {
        publish_now (s, body, len);
        return;
    }
    int64_t deadline = zclock_mono () + 10000;
    zframe_t *f = zframe_new (NULL, 16 + len);
    memcpy (zframe_data (f), &need, 8);
    memcpy ((char *) zframe_data (f) + 8, &deadline, 8);
    memcpy ((char *) zframe_data (f) + 16, body, len);
    zlistx_add_end (s->ren_waiting, f);
}

void
rs_lease_flush (self_t *s)
{
    if (!s->ren_n)
        return;
    msgpack_sbuffer all;
    msgpack_sbuffer_init (&all);
    pack_renewals (&all, s->ren.data, s->ren.size, s->ren_n);
    publish_now (s, all.data, all.size); /* the leader has applied what they renew */
    const struct raft_configuration *conf = &s->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].id == s->id)
            continue;
        zmsg_t *m = zmsg_new ();
        zmsg_addstr (m, "L");
        zmsg_addmem (m, all.data, all.size);
        if (zbridge_send (s->zb, conf->servers[i].address, &m))
            zmsg_destroy (&m); /* not connected now: its brokers see the next one, or the checkpoint */
    }
    msgpack_sbuffer_destroy (&all);
    /* the answers; a forwarding follower gets its renewal in the answer itself ("RL"), so that
     * its brokers hold it before their client hears back (the "L" above may come later) */
    msgpack_sbuffer out, one;
    msgpack_sbuffer_init (&out);
    msgpack_sbuffer_init (&one);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    size_t off = 0;
    for (size_t i = 0; i < s->ren_n; i++) {
        origin_t *o = &s->ren_origins[i];
        store_op_result_t res = {STORE_OK, s->ren_revs[i], s->ren_revs[i]};
        msgpack_sbuffer_clear (&out);
        fsm_pack_reply (&out, o->id, &res, 1);
        size_t start = off;
        if (msgpack_unpack_next (&up, s->ren.data, s->ren.size, &off) != MSGPACK_UNPACK_SUCCESS)
            off = s->ren.size;
        if (!o->token) {
            rs_answer (s, o, 0, &out);
            continue;
        }
        msgpack_sbuffer_clear (&one);
        pack_renewals (&one, s->ren.data + start, off - start, 1);
        uint64_t index = 0;
        zmsg_t *m = zmsg_new ();
        zmsg_addstr (m, "RL");
        zmsg_addmem (m, &o->token, 8);
        zmsg_addmem (m, &index, 8);
        zmsg_addmem (m, out.data, out.size);
        zmsg_addmem (m, one.data, one.size);
        zbridge_reply (s->zb, o->rid, &m);
    }
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&out);
    msgpack_sbuffer_destroy (&one);
    rs_free_origins (s->ren_origins, s->ren_n);
    s->ren_origins = NULL;
    free (s->ren_revs);
    s->ren_revs = NULL;
    s->ren_n = s->ren_cap = 0;
    msgpack_sbuffer_clear (&s->ren);
}

void
rs_lease_tick (self_t *s)
{
    int64_t now = zclock_mono ();
    if (zlistx_size (s->ren_waiting))
        flush_waiting (s); /* drops the expired */
    if (s->lease_checkpoint_ms <= 0 || now - s->ren_pruned_at < 10000)
        return;
    s->ren_pruned_at = now;
    zlistx_t *old = zlistx_new ();
    for (int64_t *at = zhashx_first (s->leases); at; at = zhashx_next (s->leases))
        if (now - *at > 2 * s->lease_checkpoint_ms)
            zlistx_add_end (old, (void *) zhashx_cursor (s->leases));
    for (const char *k = zlistx_first (old); k; k = zlistx_next (old))
        zhashx_delete (s->leases, k);
    zlistx_destroy (&old);
}
