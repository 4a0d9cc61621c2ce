/* raft_admin — the replicated store's administration: status, range reads for a broker's cache,
 * membership (joins, removal: one change at a time), and snapshot save. See raft_store.h. */
#include "actors/store/raft_store_int.h"
#include "actors/store/fsm.h"
#include "actors/store/store.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- status --------------------------------------------------------------------------------- */

/* A member's server name, registered under /troupe/members/<id> (cmd_cluster), or "". */
void
rs_member_name (self_t *s, raft_id id, char *buf, size_t len)
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

void
rs_serve_status (self_t *s, zframe_t *rid, const msgpack_object *o)
{
    uint64_t id = sp_u64 (sp_field (o, "id"), 0);
    const msgpack_object *dg = sp_field (o, "digest");
    /* computed on demand, on this loop, so it is the state at exactly appliedIndex below: O(store) */
    int digest = dg && dg->type == MSGPACK_OBJECT_BOOLEAN && dg->via.boolean;
    char hex[2 * FSM_DIGEST_BYTES + 1] = "";
    size_t nkeys = 0;
    if (digest) {
        unsigned char d[FSM_DIGEST_BYTES];
        if (fsm_digest (s->store, d, NULL, &nkeys) == 0)
            sodium_bin2hex (hex, sizeof hex, d, sizeof d);
        else
            TR_WARN (A, "cannot compute the store digest: LMDB read failed");
    }
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
    rs_member_name (s, s->id, name, sizeof name);
    if (lid)
        rs_member_name (s, lid, lname, sizeof lname);
    else
        lname[0] = 0;
    msgpack_pack_map (&pk, 15 + (digest ? 3 : 0));
    sp_pack_cstr (&pk, "removed"); /* removed from the cluster: the server stops */
    if (s->removed)
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
    if (digest) {
        sp_pack_cstr (&pk, "digest");
        sp_pack_cstr (&pk, hex);
        sp_pack_cstr (&pk, "digestIndex");
        msgpack_pack_uint64 (&pk, raft_last_applied (&s->raft));
        sp_pack_cstr (&pk, "digestKeys");
        msgpack_pack_uint64 (&pk, nkeys);
    }
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
        rs_member_name (s, conf->servers[i].id, mname, sizeof mname);
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
    rs_send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
}

/* ---- range reads (a broker loading its cache) ----------------------------------------------- */

void
rs_serve_range (self_t *s, zframe_t *rid, const msgpack_object *o)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    fsm_answer_range (s->store, o, &out);
    rs_send_to (s->router, rid, out.data, out.size);
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
    char address[256]; /* the member's, to tell it once removed */
} remove_ctx_t;

void
rs_admin_answer (self_t *s, const origin_t *o, const char *error)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    pack_admin (&out, "m", o->id, error);
    rs_answer (s, o, 0, &out);
    msgpack_sbuffer_destroy (&out);
}

static void
on_removed (struct raft_change *req, int status)
{
    remove_ctx_t *x = req->data;
    self_t *s = x->s;
    rs_check_disk (s, status, "membership change");
    if (status)
        TR_WARN (A, "removing member id=%llu failed: %s", (unsigned long long) x->member, raft_strerror (status));
    else
        TR_INFO (A, "member removed id=%llu", (unsigned long long) x->member);
    rs_admin_answer (s, &x->o, status ? raft_strerror (status) : NULL);
    if (!status)
        rs_notify_removed (s, x->member, x->address);
    zframe_destroy (&x->o.rid);
    if (s->change == (change_t *) x)
        s->change = NULL;
    free (x);
}

/* Removes a member named by id or peer address; on the leader only (a follower forwards). Takes
 * rid. */
void
rs_member_remove (self_t *s, zframe_t *rid, uint64_t token, uint64_t id, const char *who)
{
    origin_t o = {rid, token, id, 0, 0};
    char err[300] = "";
    raft_id member = 0;
    const char *address = "";
    const struct raft_configuration *conf = &s->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++) {
        char idtxt[24];
        snprintf (idtxt, sizeof idtxt, "%llu", (unsigned long long) conf->servers[i].id);
        char mname[256];
        rs_member_name (s, conf->servers[i].id, mname, sizeof mname);
        if (!strcmp (who, idtxt) || !strcmp (who, conf->servers[i].address) || (mname[0] && !strcmp (who, mname))) {
            member = conf->servers[i].id;
            address = conf->servers[i].address;
        }
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
        snprintf (x->address, sizeof x->address, "%s", address);
        x->req.data = x;
        int rc = raft_remove (&s->raft, &x->req, member, on_removed);
        if (!rc) {
            s->change = (change_t *) x; /* only compared, never dereferenced as a change_t */
            return;
        }
        snprintf (err, sizeof err, "cannot remove member %llu: %s", (unsigned long long) member, raft_strerror (rc));
        free (x);
    }
    rs_admin_answer (s, &o, err);
    zframe_destroy (&rid);
}

void
rs_local_member (self_t *s, zframe_t *rid, zframe_t *body, const msgpack_object *o)
{
    uint64_t id = sp_u64 (sp_field (o, "id"), 0);
    char who[256] = "";
    const msgpack_object *w = sp_field (o, "remove");
    if (w)
        sp_str (w, who, sizeof who);
    if (raft_state (&s->raft) == RAFT_LEADER) {
        rs_member_remove (s, zframe_dup (rid), 0, id, who);
        return;
    }
    const char *leader = rs_leader_address (s);
    uint64_t token = ++s->next_token;
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "M");
    zmsg_addmem (m, &token, 8);
    zmsg_addmem (m, zframe_data (body), zframe_size (body));
    if (!leader || zbridge_send (s->zb, leader, &m)) {
        zmsg_destroy (&m);
        origin_t or = {rid, 0, id, 0, 0};
        rs_admin_answer (s, &or, "the store has no leader: retry");
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
void
rs_serve_save (self_t *s, zframe_t *rid, const msgpack_object *o)
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
        rs_send_to (s->router, rid, out.data, out.size);
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
    rs_send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
    if (off + n >= s->saved_len) {
        free (s->saved);
        s->saved = NULL;
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
    rs_check_disk (s, status, "membership change");
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

void
rs_on_join_request (self_t *s, zframe_t *rid, zmsg_t *m)
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
        const char *leader = rs_leader_address (s);
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
