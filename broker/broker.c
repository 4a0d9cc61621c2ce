/* broker — request handling, authorisation, writes through the store. See broker.h.
 * The watch cache (objects + event ring + watchers) lives in broker_cache.c. */
#include "broker/broker.h"
#include "broker/broker_cache.h"
#include "core/conn.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/schema.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define A "broker"

typedef enum { ROLE_NONE = 0, ROLE_VIEWER, ROLE_NODE, ROLE_CONTROLLER, ROLE_ADMIN } role_t;

typedef struct {
    char name[128];
    role_t role;
} ident_t;

/* A write waiting for the store. */
typedef struct {
    zsock_t *sock;
    zframe_t *rid;
    uint64_t req_id;
    json_t *obj;          /* the object as proposed (returned with its new resourceVersion) */
    int is_delete;
    char what[300];       /* `deployments.apps "web"` for messages */
    tr_env_t *retry;      /* the request, when a Conflict should be retried (no client precondition) */
    ident_t ident;
    int attempts;
} pending_write_t;

#define MAX_RETRIES 8

typedef struct {
    zsock_t *sock;
    zframe_t *rid;
    uint64_t req_id;
} forward_t;

typedef struct {
    zsock_t *local, *remote, *store;
    zactor_t *auth;
    zpoller_t *poller;
    schema_registry_t *schemas;
    bcache_t *cache;
    zhashx_t *pending;    /* proposal id → pending_write_t */
    int replicated;       /* the store answers "q" (status) */
    int reloading;        /* after "x": waiting for the range answer */
    int read_ready;       /* handle(): the read barrier has passed */
    zlistx_t *reload_events; /* zmsg_t: events that arrived while reloading */
    zhashx_t *forwards;   /* forward id → forward_t */
    zhashx_t *nodes;      /* node name → zframe_t* routing id on local or remote */
    zhashx_t *node_sock;  /* node name → zsock_t* */
    zhashx_t *clients;    /* CURVE public key (Z85) → ident_t* */
    uint64_t next_id;
    char instance[40];
    char pki_dir[1024];
    int64_t clients_loaded_at; /* monotonic ms of the last read of pki/clients */
} broker_t;

typedef struct {
    broker_t *b;
    zsock_t *sock;
    zframe_t *rid;
    tr_env_t *req;
    ident_t *id;
    const schema_kind_t *sk;
    char ns[TR_NAME_MAX + 1];
    char key[600];
    char what[300];
    int attempts;     /* how many times this request met a Conflict it retried */
    int retryable;    /* the client gave no resourceVersion: a Conflict is ours to retry */
} rq_t;

static void handle (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts);

/* ---- small helpers -------------------------------------------------------------------------- */

static void
rfc3339_now (char *buf, size_t len)
{
    tr_time_format ((int64_t) time (NULL) * 1000, buf, len);
}

static void
new_uid (char *buf)
{
    unsigned char b[16];
    randombytes_buf (b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf (buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
              b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Sends a reply; body is borrowed. A NULL sock (internal proposals) sends nothing. */
static void
reply (zsock_t *sock, zframe_t *rid, const tr_env_t *req, tr_code_t code, json_t *body, uint64_t rv, const char *fmt,
       ...) __attribute__ ((format (printf, 7, 8)));

static void
reply (zsock_t *sock, zframe_t *rid, const tr_env_t *req, tr_code_t code, json_t *body, uint64_t rv, const char *fmt,
       ...)
{
    if (!sock) /* an internal proposal (namespace clean-up, defaults): nobody waits */
        return;
    tr_env_t r;
    tr_env_init (&r);
    r.id = req ? req->id : 0;
    r.verb = TR_VERB_REPLY;
    r.code = code;
    r.body = body;
    r.rv = rv;
    if (fmt) {
        va_list ap;
        va_start (ap, fmt);
        if (vasprintf (&r.msg, fmt, ap) < 0)
            r.msg = NULL;
        va_end (ap);
    }
    tr_conn_send (sock, rid, &r);
    free (r.msg);
}

static const char *
role_name (role_t r)
{
    static const char *n[] = {"none", "viewer", "node", "controller", "admin"};
    return n[r];
}

static role_t
role_parse (const char *s)
{
    if (!s)
        return ROLE_NONE;
    if (!strcmp (s, "admin"))
        return ROLE_ADMIN;
    if (!strcmp (s, "controller"))
        return ROLE_CONTROLLER;
    if (!strcmp (s, "node"))
        return ROLE_NODE;
    if (!strcmp (s, "viewer"))
        return ROLE_VIEWER;
    return ROLE_NONE;
}

/* ---- authorisation -------------------------------------------------------------------------- */

static int
is_write (tr_verb_t v)
{
    return v == TR_VERB_CREATE || v == TR_VERB_UPDATE || v == TR_VERB_UPDATE_STATUS || v == TR_VERB_PATCH ||
           v == TR_VERB_DELETE;
}

/* Returns NULL if allowed, else the reason. A node may write its own Node and Lease, Events,
 * and the status (or final deletion) of pods bound to it. */
static const char *
authorize (const ident_t *id, tr_verb_t verb, const char *kind, const json_t *cur, const json_t *newobj,
           const char *name)
{
    if (id->role == ROLE_ADMIN || id->role == ROLE_CONTROLLER)
        return NULL;
    if (!is_write (verb))
        return id->role == ROLE_NONE ? "no role" : NULL;
    if (id->role != ROLE_NODE)
        return "role viewer may not write";
    const char *node = id->name;
    if (!strcmp (kind, "Node") || !strcmp (kind, "Lease"))
        return name && !strcmp (name, node) ? NULL : "a node may only write its own Node and Lease";
    if (!strcmp (kind, "Event"))
        return verb == TR_VERB_CREATE || verb == TR_VERB_UPDATE || verb == TR_VERB_PATCH ? NULL : "no";
    if (!strcmp (kind, "Pod")) {
        const char *bound = tv_str (cur ? cur : newobj, "spec.nodeName");
        if (!bound || strcmp (bound, node))
            return "a node may only write pods bound to it";
        if (verb == TR_VERB_UPDATE_STATUS || verb == TR_VERB_DELETE)
            return NULL;
        return "a node may only update the status of its pods";
    }
    return "a node may not write this kind";
}

/* ---- writes --------------------------------------------------------------------------------- */

static void
propose (broker_t *b, zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *key, int op, int cond,
         uint64_t expect, json_t *obj /* stolen */, const char *what, const rq_t *r)
{
    char *val = NULL;
    size_t len = 0;
    if (op == 1 && tv_encode (obj, &val, &len)) {
        reply (sock, rid, req, TR_INTERNAL, NULL, 0, "cannot encode object");
        json_decref (obj);
        return;
    }
    if (len > TR_MAX_FRAME) {
        reply (sock, rid, req, TR_TOO_LARGE, NULL, 0, "%s: object of %zu bytes exceeds the %u byte limit", what,
               len, TR_MAX_FRAME);
        free (val);
        json_decref (obj);
        return;
    }
    uint64_t pid = b->next_id++;
    sp_op_t o = {.op = op, .cond = cond, .expect = expect, .key = key, .val = val ? val : "", .len = len};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose (&sb, pid, &o, 1);
    free (val);
    pending_write_t *p = calloc (1, sizeof *p);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    p->obj = obj;
    p->is_delete = op == 2;
    snprintf (p->what, sizeof p->what, "%s", what);
    if (r && r->retryable && cond == 3 && r->attempts < MAX_RETRIES) {
        p->retry = calloc (1, sizeof *p->retry);
        *p->retry = *r->req;
        p->retry->body = r->req->body ? json_deep_copy (r->req->body) : NULL;
        p->retry->opts = r->req->opts ? json_deep_copy (r->req->opts) : NULL;
        p->retry->msg = NULL;
        p->ident = *r->id;
        p->attempts = r->attempts;
    }
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) pid);
    zhashx_insert (b->pending, k, p);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
on_store_result (broker_t *b, const msgpack_object *o)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) sp_u64 (sp_field (o, "id"), 0));
    pending_write_t *p = zhashx_lookup (b->pending, k);
    if (!p)
        return;
    zhashx_delete (b->pending, k);
    const msgpack_object *res = sp_field (o, "res");
    int result = 4;
    uint64_t rev = 0;
    if (res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1) {
        const msgpack_object *r = &res->via.array.ptr[0];
        if (r->type == MSGPACK_OBJECT_ARRAY && r->via.array.size == 3) {
            result = (int) r->via.array.ptr[0].via.u64;
            rev = r->via.array.ptr[1].via.u64;
        }
    }
    tr_env_t req;
    tr_env_init (&req);
    req.id = p->req_id;
    switch (result) {
    case 0: {
        char rvs[24];
        snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) rev);
        if (p->obj)
            tv_set_str (p->obj, "metadata.resourceVersion", rvs);
        reply (p->sock, p->rid, &req, TR_OK, p->obj, rev, NULL);
        break;
    }
    case 1:
        reply (p->sock, p->rid, &req, TR_ALREADY_EXISTS, NULL, 0, "%s already exists", p->what);
        break;
    case 2:
        reply (p->sock, p->rid, &req, TR_NOT_FOUND, NULL, 0, "%s not found", p->what);
        break;
    case 3:
        if (p->retry) {
            /* our read-modify-write raced another write; the cache already holds the newer
             * object (events precede results), so simply run the request again */
            handle (b, p->sock, p->rid, p->retry, &p->ident, p->attempts + 1);
            break;
        }
        reply (p->sock, p->rid, &req, TR_CONFLICT, NULL, 0,
               "Operation cannot be fulfilled on %s: the object has been modified; please apply your changes to "
               "the latest version and try again",
               p->what);
        break;
    case 6: /* replicated store: refused before reaching the log */
        reply (p->sock, p->rid, &req, TR_UNAVAILABLE, NULL, 0,
               "%s: the store has no leader: the write was not made (retry)", p->what);
        break;
    case 5: /* replicated store: in the log, but leadership was lost before it committed */
        reply (p->sock, p->rid, &req, TR_UNAVAILABLE, NULL, 0,
               "%s: the store lost its leader before the write committed: it may or may not have been made",
               p->what);
        break;
    default:
        reply (p->sock, p->rid, &req, TR_UNAVAILABLE, NULL, 0, "%s: the store could not commit the write", p->what);
    }
    json_decref (p->obj);
    zframe_destroy (&p->rid);
    if (p->retry) {
        tr_env_clear (p->retry);
        free (p->retry);
    }
    free (p);
}

/* Store administration on a replicated store: status (q), member removal (m), snapshot chunks
 * (v). The request goes to the store as {"t":t,"id":pid,...args}; its answer map becomes the reply
 * body ("status" for q). */
static void
store_call (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, const char *t, json_t *args)
{
    uint64_t pid = b->next_id++;
    json_t *m = args ? args : json_object ();
    json_object_set_new (m, "t", json_string (t));
    json_object_set_new (m, "id", json_integer ((json_int_t) pid));
    char *buf = NULL;
    size_t len = 0;
    if (tv_encode (m, &buf, &len)) {
        reply (sock, rid, req, TR_INTERNAL, NULL, 0, "cannot encode a store request");
        json_decref (m);
        return;
    }
    json_decref (m);
    pending_write_t *p = calloc (1, sizeof *p);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    snprintf (p->what, sizeof p->what, "store %s", t);
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) pid);
    zhashx_insert (b->pending, k, p);
    zsock_send (b->store, "b", buf, len);
    free (buf);
}

/* Kinds served by the replicated store itself, not by schema/: StoreStatus (get; opts.digest: with
 * the state machine's digest), StoreMember (delete NAME: an id or a peer address), StoreSnapshot
 * (get, opts.offset: 1 MiB chunks). */
static int
store_admin (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, const char *kind)
{
    int status = req->verb == TR_VERB_GET && !strcmp (kind, "StoreStatus");
    int member = req->verb == TR_VERB_DELETE && !strcmp (kind, "StoreMember");
    int snap = req->verb == TR_VERB_GET && !strcmp (kind, "StoreSnapshot");
    if (!status && !member && !snap)
        return 0;
    if (!b->replicated)
        reply (sock, rid, req, TR_NOT_FOUND, NULL, 0, "this server's store is not replicated (no --peer-listen)");
    else if (id->role != ROLE_ADMIN && !(status && id->role == ROLE_VIEWER))
        reply (sock, rid, req, TR_FORBIDDEN, NULL, 0, "%s: no: %s needs the admin role", id->name, kind);
    else if (status)
        store_call (b, sock, rid, req, "q",
                    tv_bool (req->opts, "digest", false) ? json_pack ("{s:b}", "digest", 1) : NULL);
    else if (member)
        store_call (b, sock, rid, req, "m", json_pack ("{s:s}", "remove", req->name));
    else
        store_call (b, sock, rid, req, "v", json_pack ("{s:I}", "offset", (json_int_t) tv_int (req->opts, "offset", 0)));
    return 1;
}

static void
on_store_answer (broker_t *b, const msgpack_object *o)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) sp_u64 (sp_field (o, "id"), 0));
    pending_write_t *p = zhashx_lookup (b->pending, k);
    if (!p)
        return;
    zhashx_delete (b->pending, k);
    const msgpack_object *st = sp_field (o, "status");
    char err[200];
    json_t *body = tv_from_msgpack (st ? st : o, err, sizeof err);
    tr_env_t req;
    tr_env_init (&req);
    req.id = p->req_id;
    const char *e = body ? tv_str (body, "error") : NULL;
    if (!body)
        reply (p->sock, p->rid, &req, TR_INTERNAL, NULL, 0, "%s: malformed answer", p->what);
    else if (e && *e)
        reply (p->sock, p->rid, &req, tv_bool (body, "unavailable", false) ? TR_UNAVAILABLE : TR_BAD_REQUEST, NULL,
               0, "%s", e);
    else
        reply (p->sock, p->rid, &req, TR_OK, body, 0, NULL);
    json_decref (body);
    zframe_destroy (&p->rid);
    free (p);
}

static void on_read_ready (broker_t *b, const msgpack_object *o);

/* The replicated store replaced its data (a snapshot from the leader): reload the cache from it;
 * watchers get EXPIRED and relist, as after a watch-cache gap. */
static void
start_reload (broker_t *b)
{
    TR_WARN (A, "the store was restored from a snapshot: reloading the cache, watchers must relist");
    bcache_reset (b->cache);
    b->reloading = 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "g", 0, "/registry/");
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
finish_reload (broker_t *b, const msgpack_object *o)
{
    if (bcache_load (b->cache, sp_field (o, "kvs"), sp_u64 (sp_field (o, "rev"), 0)))
        TR_ERROR (A, "cache reload: malformed range answer");
    b->reloading = 0;
    zmsg_t *m;
    while ((m = zlistx_first (b->reload_events))) {
        zlistx_delete (b->reload_events, zlistx_cursor (b->reload_events));
        zframe_t *f = zmsg_first (m);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        if (msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
            bcache_apply_events (b->cache, sp_field (&up.data, "ev"));
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&m);
    }
    TR_INFO (A, "cache reloaded objects=%zu revision=%llu", bcache_count (b->cache),
             (unsigned long long) bcache_revision (b->cache));
}

static void
on_store_message (broker_t *b)
{
    zmsg_t *m = zmsg_recv (b->store);
    if (!m)
        return;
    zframe_t *f = zmsg_first (m);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    if (f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS) {
        char t[4] = "";
        const msgpack_object *tf = sp_field (&up.data, "t");
        if (tf)
            sp_str (tf, t, sizeof t);
        if (!strcmp (t, "e") && b->reloading) {
            zlistx_add_end (b->reload_events, m); /* applied after the reload, those it lacks */
            m = NULL;
        } else if (!strcmp (t, "e"))
            bcache_apply_events (b->cache, sp_field (&up.data, "ev"));
        else if (!strcmp (t, "x"))
            start_reload (b);
        else if (!strcmp (t, "k") && b->reloading)
            finish_reload (b, &up.data);
        else if (!strcmp (t, "r"))
            on_store_result (b, &up.data);
        else if (!strcmp (t, "q") || !strcmp (t, "m") || !strcmp (t, "v"))
            on_store_answer (b, &up.data);
        else if (!strcmp (t, "b"))
            on_read_ready (b, &up.data);
    }
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&m);
}

/* ---- request handlers ----------------------------------------------------------------------- */


static void
make_key (rq_t *r, const char *ns, const char *name)
{
    if (schema_kind_namespaced (r->sk))
        snprintf (r->key, sizeof r->key, "/registry/%s/%s/%s", schema_kind_plural (r->sk), ns, name);
    else
        snprintf (r->key, sizeof r->key, "/registry/%s/%s", schema_kind_plural (r->sk), name);
    snprintf (r->what, sizeof r->what, "%s \"%s\"", schema_kind_plural (r->sk), name);
}

static int
ns_exists (broker_t *b, const char *ns)
{
    char key[300];
    snprintf (key, sizeof key, "/registry/namespaces/%s", ns);
    return bcache_get (b->cache, key, NULL) != NULL;
}

/* Fills server-owned metadata of a new object. */
static void
stamp_new (json_t *obj)
{
    char uid[40], ts[32];
    new_uid (uid);
    rfc3339_now (ts, sizeof ts);
    tv_set_str (obj, "metadata.uid", uid);
    tv_set_str (obj, "metadata.creationTimestamp", ts);
    tv_set_int (obj, "metadata.generation", 1);
    tv_del (obj, "metadata.resourceVersion");
    tv_del (obj, "metadata.deletionTimestamp");
}

static void
gen_name (json_t *obj)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    const char *g = tv_str (obj, "metadata.generateName");
    char name[TR_NAME_MAX + 1];
    size_t n = strlen (g);
    if (n > TR_NAME_MAX - 5)
        n = TR_NAME_MAX - 5;
    memcpy (name, g, n);
    for (int i = 0; i < 5; i++)
        name[n + (size_t) i] = alphabet[randombytes_uniform (sizeof alphabet - 1)];
    name[n + 5] = 0;
    tv_set_str (obj, "metadata.name", name);
}

static int
validate (rq_t *r, json_t *obj)
{
    char err[512];
    schema_default (r->b->schemas, obj);
    if (schema_validate (r->b->schemas, obj, err, sizeof err)) {
        const char *name = tv_str (obj, "metadata.name");
        reply (r->sock, r->rid, r->req, TR_INVALID, NULL, 0, "%s \"%s\" is invalid: %s", schema_kind_name (r->sk),
               name ? name : "", err);
        return -1;
    }
    return 0;
}

static void
h_create (rq_t *r)
{
    json_t *obj = r->req->body ? json_deep_copy (r->req->body) : NULL;
    if (!json_is_object (obj)) {
        json_decref (obj);
        reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "create: body must be an object");
        return;
    }
    if (!tv_str (obj, "kind"))
        tv_set_str (obj, "kind", schema_kind_name (r->sk));
    if (!tv_str (obj, "apiVersion"))
        tv_set_str (obj, "apiVersion", schema_kind_api_version (r->sk));
    if (strcmp (tv_str (obj, "kind"), schema_kind_name (r->sk))) {
        reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "kind: body says \"%s\", request says \"%s\"",
               tv_str (obj, "kind"), schema_kind_name (r->sk));
        json_decref (obj);
        return;
    }
    if (schema_kind_namespaced (r->sk)) {
        const char *ons = tv_str (obj, "metadata.namespace");
        if (ons && *r->ns && strcmp (ons, r->ns)) {
            reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0,
                   "metadata.namespace: \"%s\" does not match the request's namespace \"%s\"", ons, r->ns);
            json_decref (obj);
            return;
        }
        tv_set_str (obj, "metadata.namespace", ons ? ons : (*r->ns ? r->ns : "default"));
    } else
        tv_del (obj, "metadata.namespace");
    if (!tv_str (obj, "metadata.name") && tv_str (obj, "metadata.generateName"))
        gen_name (obj);
    if (validate (r, obj)) {
        json_decref (obj);
        return;
    }
    const char *ns = schema_kind_namespaced (r->sk) ? tv_str (obj, "metadata.namespace") : "";
    const char *name = tv_str (obj, "metadata.name");
    const char *why = authorize (r->id, TR_VERB_CREATE, schema_kind_name (r->sk), NULL, obj, name);
    if (why) {
        reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0, "%s \"%s\" cannot create %s: %s", role_name (r->id->role),
               r->id->name, schema_kind_plural (r->sk), why);
        json_decref (obj);
        return;
    }
    if (*ns && !ns_exists (r->b, ns)) {
        reply (r->sock, r->rid, r->req, TR_NOT_FOUND, NULL, 0, "namespaces \"%s\" not found", ns);
        json_decref (obj);
        return;
    }
    const char *k = schema_kind_name (r->sk);
    if (!strcmp (k, "Pod") || !strcmp (k, "Deployment") || !strcmp (k, "ReplicaSet"))
        tv_del (obj, "status"); /* status is written by controllers and agents, not by creators */
    stamp_new (obj);
    make_key (r, ns, name);
    propose (r->b, r->sock, r->rid, r->req, r->key, 1, 1, 0, obj, r->what, r);
}

/* Looks up the target of an update/patch/delete/get; replies NotFound itself. */
static const json_t *
lookup (rq_t *r, const char *name, uint64_t *mod_rev)
{
    if (!name || !*name) {
        reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "metadata.name: Required value");
        return NULL;
    }
    make_key (r, r->ns, name);
    const json_t *cur = bcache_get (r->b->cache, r->key, mod_rev);
    if (!cur)
        reply (r->sock, r->rid, r->req, TR_NOT_FOUND, NULL, 0, "%s not found", r->what);
    return cur;
}

static uint64_t
wanted_rv (const tr_env_t *req, const json_t *body)
{
    if (req->rv)
        return req->rv;
    const char *s = tv_str (body, "metadata.resourceVersion");
    return s ? strtoull (s, NULL, 10) : 0;
}

/* Shared tail of update / updateStatus / patch: checks, then a CAS proposal on mod_rev. */
static void
write_update (rq_t *r, const json_t *cur, uint64_t mod_rev, json_t *next, tr_verb_t verb, uint64_t want)
{
    const char *name = tv_str (cur, "metadata.name");
    if (want && want != mod_rev) {
        reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0,
               "Operation cannot be fulfilled on %s: the object has been modified; please apply your changes to the "
               "latest version and try again",
               r->what);
        json_decref (next);
        return;
    }
    /* server-owned metadata always comes from the stored object */
    static const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                                 "namespace", "name"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        char p[64];
        snprintf (p, sizeof p, "metadata.%s", keep[i]);
        json_t *v = tv_get (cur, p);
        if (v)
            tv_set (next, p, json_incref (v));
        else
            tv_del (next, p);
    }
    tv_set_str (next, "kind", schema_kind_name (r->sk));
    if (!tv_str (next, "apiVersion"))
        tv_set_str (next, "apiVersion", schema_kind_api_version (r->sk));
    json_int_t gen = tv_int (cur, "metadata.generation", 1);
    if (!json_equal (tv_get (cur, "spec"), tv_get (next, "spec")))
        gen++;
    tv_set_int (next, "metadata.generation", gen);
    if (validate (r, next)) {
        json_decref (next);
        return;
    }
    const char *why = authorize (r->id, verb, schema_kind_name (r->sk), cur, next, name);
    if (why) {
        reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0, "%s \"%s\" cannot %s %s: %s", role_name (r->id->role),
               r->id->name, tr_verb_name (verb), r->what, why);
        json_decref (next);
        return;
    }
    tv_del (next, "metadata.resourceVersion");
    char key[600];
    snprintf (key, sizeof key, "%s", r->key);
    r->retryable = !want;
    propose (r->b, r->sock, r->rid, r->req, key, 1, 3, mod_rev, next, r->what, r);
}

static void
h_update (rq_t *r, int status_only)
{
    const json_t *body = r->req->body;
    const char *name = *r->req->name ? r->req->name : tv_str (body, "metadata.name");
    if (!json_is_object (body)) {
        reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "update: body must be an object");
        return;
    }
    uint64_t mod_rev;
    const json_t *cur = lookup (r, name, &mod_rev);
    if (!cur)
        return;
    json_t *next;
    if (status_only) {
        next = json_deep_copy (cur);
        json_t *st = json_object_get (body, "status");
        tv_set (next, "status", st ? json_deep_copy (st) : json_object ());
    } else {
        next = json_deep_copy (body);
        json_t *st = json_object_get (cur, "status");
        if (st)
            json_object_set (next, "status", st); /* status changes go through updateStatus */
        else
            json_object_del (next, "status");
    }
    write_update (r, cur, mod_rev, next, status_only ? TR_VERB_UPDATE_STATUS : TR_VERB_UPDATE, wanted_rv (r->req, body));
}

static void
h_patch (rq_t *r)
{
    const json_t *body = r->req->body;
    if (!json_is_object (body)) {
        reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "patch: body must be a merge-patch object");
        return;
    }
    uint64_t mod_rev;
    const json_t *cur = lookup (r, r->req->name, &mod_rev);
    if (!cur)
        return;
    const char *sub = tv_str (r->req->opts, "subresource");
    json_t *next = json_deep_copy (cur);
    tr_verb_t verb = TR_VERB_PATCH;
    if (sub && !strcmp (sub, "binding")) {
        /* the scheduler's binding: only spec.nodeName, and only once */
        const char *node = tv_str (body, "spec.nodeName");
        if (!node || json_object_size (body) != 1 || json_object_size (tv_get (body, "spec")) != 1) {
            reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "binding: body must be {spec: {nodeName: ...}}");
            json_decref (next);
            return;
        }
        if (tv_str (cur, "spec.nodeName") && *tv_str (cur, "spec.nodeName")) {
            reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0, "pod %s is already assigned to node \"%s\"", r->what,
                   tv_str (cur, "spec.nodeName"));
            json_decref (next);
            return;
        }
        tv_set_str (next, "spec.nodeName", node);
    } else if (sub && !strcmp (sub, "status")) {
        json_t *st = tv_obj (next, "status");
        if (json_is_object (json_object_get (body, "status")) && st)
            tv_merge_patch (st, json_object_get (body, "status"));
        verb = TR_VERB_UPDATE_STATUS;
    } else {
        json_t *st = json_object_get (cur, "status");
        tv_merge_patch (next, body);
        if (st)
            json_object_set (next, "status", st);
    }
    write_update (r, cur, mod_rev, next, verb, r->req->rv);
}

static void
delete_key (rq_t *r, const json_t *cur, uint64_t mod_rev, const char *key, const char *what)
{
    /* Pods on a node terminate gracefully: mark them; the node's agent stops the containers and
     * then deletes with gracePeriodSeconds=0. */
    json_int_t grace = tv_int (r->req->opts, "gracePeriodSeconds", -1);
    if (!strcmp (tv_str (cur, "kind") ? tv_str (cur, "kind") : "", "Pod") && grace != 0 &&
        tv_str (cur, "spec.nodeName") && *tv_str (cur, "spec.nodeName")) {
        if (tv_get (cur, "metadata.deletionTimestamp")) {
            reply (r->sock, r->rid, r->req, TR_OK, (json_t *) cur, mod_rev, NULL);
            return;
        }
        json_t *next = json_deep_copy (cur);
        char ts[32];
        rfc3339_now (ts, sizeof ts);
        tv_set_str (next, "metadata.deletionTimestamp", ts);
        tv_set_int (next, "metadata.deletionGracePeriodSeconds",
                    grace > 0 ? grace : tv_int (cur, "spec.terminationGracePeriodSeconds", 30));
        tv_del (next, "metadata.resourceVersion");
        propose (r->b, r->sock, r->rid, r->req, key, 1, 3, mod_rev, next, what, r);
        return;
    }
    propose (r->b, r->sock, r->rid, r->req, key, 2, 3, mod_rev, json_deep_copy (cur), what, r);
}

static void broker_delete_object (void *broker, const char *key, const json_t *obj, uint64_t mod_rev);

static void
h_delete (rq_t *r)
{
    uint64_t mod_rev;
    const json_t *cur = lookup (r, r->req->name, &mod_rev);
    if (!cur)
        return;
    const char *why = authorize (r->id, TR_VERB_DELETE, schema_kind_name (r->sk), cur, NULL, r->req->name);
    if (why) {
        reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0, "%s \"%s\" cannot delete %s: %s", role_name (r->id->role),
               r->id->name, r->what, why);
        return;
    }
    if (r->req->rv && r->req->rv != mod_rev) {
        reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0, "Operation cannot be fulfilled on %s: precondition failed",
               r->what);
        return;
    }
    if (!strcmp (schema_kind_name (r->sk), "Namespace")) {
        /* Namespace deletion takes its contents with it (what Kubernetes' namespace controller does
         * asynchronously); each content deletion is its own proposal, so pods still terminate
         * gracefully through their agents. Their replies go nowhere (no client waits on them). */
        bcache_foreach_in_namespace (r->b->cache, r->req->name, broker_delete_object, r->b);
    }
    char key[600], what[300];
    snprintf (key, sizeof key, "%s", r->key);
    snprintf (what, sizeof what, "%s", r->what);
    r->retryable = !r->req->rv;
    delete_key (r, cur, mod_rev, key, what);
}

static void
broker_delete_object (void *broker, const char *key, const json_t *obj, uint64_t mod_rev)
{
    broker_t *b = broker;
    zframe_t *none = zframe_new ("", 0);
    tr_env_t req;
    tr_env_init (&req);
    json_int_t grace = -1;
    const char *kind = tv_str (obj, "kind");
    if (kind && !strcmp (kind, "Pod") && tv_str (obj, "spec.nodeName") && *tv_str (obj, "spec.nodeName") &&
        !tv_get (obj, "metadata.deletionTimestamp")) {
        json_t *next = json_deep_copy (obj);
        char ts[32];
        rfc3339_now (ts, sizeof ts);
        tv_set_str (next, "metadata.deletionTimestamp", ts);
        tv_set_int (next, "metadata.deletionGracePeriodSeconds",
                    grace > 0 ? grace : tv_int (obj, "spec.terminationGracePeriodSeconds", 30));
        tv_del (next, "metadata.resourceVersion");
        propose (b, NULL, none, &req, key, 1, 3, mod_rev, next, key, NULL);
    } else if (!(kind && !strcmp (kind, "Pod") && tv_get (obj, "metadata.deletionTimestamp")))
        propose (b, NULL, none, &req, key, 2, 3, mod_rev, json_deep_copy (obj), key, NULL);
    zframe_destroy (&none);
}

static void
h_get (rq_t *r)
{
    uint64_t mod_rev;
    const json_t *cur = lookup (r, r->req->name, &mod_rev);
    if (cur)
        reply (r->sock, r->rid, r->req, TR_OK, (json_t *) cur, mod_rev, NULL);
}

static void
h_list (rq_t *r)
{
    char err[256];
    json_t *items = NULL;
    uint64_t rev = 0;
    if (bcache_list (r->b->cache, schema_kind_plural (r->sk), r->ns, tv_str (r->req->opts, "labelSelector"),
                     tv_str (r->req->opts, "fieldSelector"), &items, &rev, err, sizeof err)) {
        reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "%s", err);
        return;
    }
    char rvs[24];
    snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) rev);
    json_t *body = json_pack ("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "v1", "kind", "List", "metadata",
                              "resourceVersion", rvs, "items", items);
    reply (r->sock, r->rid, r->req, TR_OK, body, rev, NULL);
    json_decref (body);
}

static void
h_watch (rq_t *r)
{
    char err[256];
    int rc = bcache_watch (r->b->cache, r->sock, r->rid, r->req->id, schema_kind_plural (r->sk), r->ns,
                           tv_str (r->req->opts, "labelSelector"), tv_str (r->req->opts, "fieldSelector"), r->req->rv,
                           tv_int (r->req->opts, "credit", 1000), err, sizeof err);
    if (rc)
        reply (r->sock, r->rid, r->req, (tr_code_t) rc, NULL, 0, "%s", err);
    else {
        reply (r->sock, r->rid, r->req, TR_OK, NULL, 0, NULL);
        bcache_pump (r->b->cache);
    }
}

static void
h_logs (rq_t *r)
{
    uint64_t mod_rev;
    const json_t *pod = lookup (r, r->req->name, &mod_rev);
    if (!pod)
        return;
    const char *node = tv_str (pod, "spec.nodeName");
    zframe_t *nrid = node ? zhashx_lookup (r->b->nodes, node) : NULL;
    if (!nrid) {
        reply (r->sock, r->rid, r->req, TR_UNAVAILABLE, NULL, 0, "pod \"%s\": %s", r->req->name,
               node ? "its node's agent is not connected" : "not scheduled to a node yet");
        return;
    }
    forward_t *f = calloc (1, sizeof *f);
    f->sock = r->sock;
    f->rid = zframe_dup (r->rid);
    f->req_id = r->req->id;
    uint64_t fid = r->b->next_id++;
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) fid);
    zhashx_insert (r->b->forwards, k, f);
    tr_env_t fwd = *r->req;
    fwd.id = fid;
    snprintf (fwd.ns, sizeof fwd.ns, "%s", r->ns);
    tr_conn_send (zhashx_lookup (r->b->node_sock, node), nrid, &fwd);
}

static void
h_forward_reply (broker_t *b, tr_env_t *env)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) env->id);
    forward_t *f = zhashx_lookup (b->forwards, k);
    if (!f)
        return;
    zhashx_delete (b->forwards, k);
    env->id = f->req_id;
    tr_conn_send (f->sock, f->rid, env);
    zframe_destroy (&f->rid);
    free (f);
}

static void
h_hello (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id)
{
    const char *actor = tv_str (req->body, "actor");
    const char *node = tv_str (req->body, "node");
    if (actor && node && *node && !strcmp (actor, "agent")) {
        if (id->role == ROLE_NODE && strcmp (id->name, node)) {
            reply (sock, rid, req, TR_FORBIDDEN, NULL, 0, "node \"%s\" may not register as \"%s\"", id->name, node);
            return;
        }
        zhashx_update (b->nodes, node, zframe_dup (rid));
        zhashx_update (b->node_sock, node, sock);
        TR_INFO (A, "agent connected node=%s", node);
    }
    json_t *body = json_pack ("{s:s,s:s}", "instance", b->instance, "identity", id->name);
    reply (sock, rid, req, TR_OK, body, 0, NULL);
    json_decref (body);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void handle (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts);

/* A linearizable read on a replicated store: the cache may lag the leader (this server may be a
 * follower, or a deposed leader), so the request waits for the store's read barrier — the point
 * where this server has applied everything committed before the read arrived — and is then
 * served from the cache. opts.stale=true skips it (list-heavy clients that accept a lag). */
static void
read_barrier (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts)
{
    uint64_t pid = b->next_id++;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "b", pid, NULL);
    pending_write_t *p = calloc (1, sizeof *p);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    snprintf (p->what, sizeof p->what, "read");
    p->retry = calloc (1, sizeof *p->retry);
    *p->retry = *req;
    p->retry->body = req->body ? json_deep_copy (req->body) : NULL;
    p->retry->opts = req->opts ? json_deep_copy (req->opts) : NULL;
    p->retry->msg = NULL;
    p->ident = *id;
    p->attempts = attempts;
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) pid);
    zhashx_insert (b->pending, k, p);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
on_read_ready (broker_t *b, const msgpack_object *o)
{
    char k[24];
    snprintf (k, sizeof k, "%llu", (unsigned long long) sp_u64 (sp_field (o, "id"), 0));
    pending_write_t *p = zhashx_lookup (b->pending, k);
    if (!p)
        return;
    zhashx_delete (b->pending, k);
    const msgpack_object *ok = sp_field (o, "ok");
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
        b->read_ready = 1;
        handle (b, p->sock, p->rid, p->retry, &p->ident, p->attempts);
        b->read_ready = 0;
    } else
        reply (p->sock, p->rid, p->retry, TR_UNAVAILABLE, NULL, 0,
               "the store has no leader: a linearizable read cannot be served now (retry, or read with stale=true)");
    zframe_destroy (&p->rid);
    tr_env_clear (p->retry);
    free (p->retry);
    free (p);
}

/* Serves one decoded, authenticated request for a kind. attempts > 0 when re-run after a
 * Conflict on our own read-modify-write. */
static void
handle (broker_t *b, zsock_t *sock, zframe_t *rid, tr_env_t *req, ident_t *id, int attempts)
{
    rq_t r = {.b = b, .sock = sock, .rid = rid, .req = req, .id = id, .attempts = attempts};
    const char *kind = req->kind[0] ? req->kind : tv_str (req->body, "kind");
    if (kind && store_admin (b, sock, rid, req, id, kind))
        return;
    r.sk = kind ? schema_kind_lookup (b->schemas, kind) : NULL;
    if (!r.sk) {
        reply (sock, rid, req, TR_NOT_FOUND, NULL, 0, "the server doesn't have a resource type \"%s\"",
               kind ? kind : "");
        return;
    }
    if (schema_kind_namespaced (r.sk))
        snprintf (r.ns, sizeof r.ns, "%s", req->ns[0] ? req->ns : (req->verb == TR_VERB_LIST || req->verb == TR_VERB_WATCH ? "" : "default"));
    const char *why = is_write (req->verb) ? NULL : authorize (id, req->verb, schema_kind_name (r.sk), NULL, NULL, NULL);
    if (why) {
        reply (sock, rid, req, TR_FORBIDDEN, NULL, 0, "%s: %s", id->name, why);
        return;
    }
    if (b->replicated && !b->read_ready && (req->verb == TR_VERB_GET || req->verb == TR_VERB_LIST) &&
        !tv_bool (req->opts, "stale", false)) {
        read_barrier (b, sock, rid, req, id, attempts);
        return;
    }
    switch (req->verb) {
    case TR_VERB_CREATE: h_create (&r); break;
    case TR_VERB_GET: h_get (&r); break;
    case TR_VERB_LIST: h_list (&r); break;
    case TR_VERB_UPDATE: h_update (&r, 0); break;
    case TR_VERB_UPDATE_STATUS: h_update (&r, 1); break;
    case TR_VERB_PATCH: h_patch (&r); break;
    case TR_VERB_DELETE: h_delete (&r); break;
    case TR_VERB_WATCH: h_watch (&r); break;
    case TR_VERB_LOGS: h_logs (&r); break;
    default:
        reply (sock, rid, req, TR_METHOD_NOT_ALLOWED, NULL, 0, "verb \"%s\" is not served by the broker",
               tr_verb_name (req->verb));
    }
}


static int load_clients (broker_t *b, const char *pki_dir);

static int
identify (broker_t *b, zsock_t *sock, zmsg_t *m, ident_t *id)
{
    if (sock == b->local) {
        snprintf (id->name, sizeof id->name, "local-admin");
        id->role = ROLE_ADMIN;
        return 0;
    }
    zframe_t *body = zmsg_last (m);
    const char *key = body ? zframe_meta (body, "User-Id") : NULL;
    ident_t *known = key ? zhashx_lookup (b->clients, key) : NULL;
    if (!known && key && zclock_mono () - b->clients_loaded_at > 1000) {
        /* zauth accepted the key, so its certificate was added after we started (troupe init
         * node): read the directory again, at most once a second */
        load_clients (b, b->pki_dir);
        known = zhashx_lookup (b->clients, key);
    }
    if (!known)
        return -1;
    *id = *known;
    return 0;
}

static void
on_client (broker_t *b, zsock_t *sock)
{
    zmsg_t *m = zmsg_recv (sock);
    if (!m)
        return;
    ident_t id = {"", ROLE_NONE};
    int known = identify (b, sock, m, &id) == 0;
    zframe_t *rid = zmsg_pop (m);
    tr_env_t req;
    tr_env_init (&req);
    char err[300];
    int rc = zmsg_size (m) == 1 ? tr_env_decode (&req, zframe_data (zmsg_first (m)), zframe_size (zmsg_first (m)),
                                                 err, sizeof err)
                                : (snprintf (err, sizeof err, "envelope: expected 1 frame, got %zu", zmsg_size (m)),
                                   TR_BAD_REQUEST);
    zmsg_destroy (&m);
    if (!rid) {
        tr_env_clear (&req);
        return;
    }
    if (rc != TR_OK) {
        TR_WARN (A, "bad request from=%s error=\"%s\"", id.name[0] ? id.name : "?", err);
        reply (sock, rid, &req, (tr_code_t) rc, NULL, 0, "%s", err);
        goto done;
    }
    if (!known) {
        reply (sock, rid, &req, TR_UNAUTHORIZED, NULL, 0, "unknown client key");
        goto done;
    }
    switch (req.verb) {
    case TR_VERB_PING: {
        json_t *pong = json_pack ("{s:s}", "instance", b->instance);
        reply (sock, rid, &req, TR_OK, pong, 0, NULL);
        json_decref (pong);
        goto done;
    }
    case TR_VERB_HELLO:
        h_hello (b, sock, rid, &req, &id);
        goto done;
    case TR_VERB_REPLY:
        h_forward_reply (b, &req);
        goto done;
    case TR_VERB_CANCEL:
        bcache_unwatch (b->cache, rid, req.rv);
        goto done;
    case TR_VERB_CREDIT:
        bcache_credit (b->cache, rid, req.rv, tv_int (req.opts, "credit", 0));
        bcache_pump (b->cache);
        goto done;
    default:
        break;
    }
    handle (b, sock, rid, &req, &id, 0);
done:
    zframe_destroy (&rid);
    tr_env_clear (&req);
}

/* ---- start-up ------------------------------------------------------------------------------- */

static int
load_cache (broker_t *b)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "s", 0, NULL);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_clear (&sb);
    sp_pack_request (&sb, "g", 0, "/registry/");
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    zsock_set_rcvtimeo (b->store, 30000);
    zmsg_t *m = zmsg_recv (b->store);
    zsock_set_rcvtimeo (b->store, -1);
    if (!m)
        return -1;
    zframe_t *f = zmsg_first (m);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    int rc = -1;
    if (msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
        rc = bcache_load (b->cache, sp_field (&up.data, "kvs"), sp_u64 (sp_field (&up.data, "rev"), 0));
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&m);
    return rc;
}

static void
ensure_namespaces (broker_t *b)
{
    static const char *base[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
    zframe_t *none = zframe_new ("", 0);
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        if (ns_exists (b, base[i]))
            continue;
        json_t *ns = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                                "name", base[i], "status", "phase", "Active");
        stamp_new (ns);
        char key[300];
        snprintf (key, sizeof key, "/registry/namespaces/%s", base[i]);
        tr_env_t req;
        tr_env_init (&req);
        propose (b, NULL, none, &req, key, 1, 1, 0, ns, key, NULL);
    }
    zframe_destroy (&none);
    /* wait for them before serving: a create in "default" must not race its namespace */
    int64_t deadline = zclock_mono () + 10000;
    while (zhashx_size (b->pending) && zclock_mono () < deadline) {
        zpoller_t *p = zpoller_new (b->store, NULL);
        if (zpoller_wait (p, 1000) == b->store)
            on_store_message (b);
        zpoller_destroy (&p);
    }
}

static int
load_clients (broker_t *b, const char *pki_dir)
{
    char dir[1024];
    snprintf (dir, sizeof dir, "%s/clients", pki_dir);
    zdir_t *d = zdir_new (dir, NULL);
    if (!d)
        return 0;
    zfile_t **files = zdir_flatten (d);
    for (int i = 0; files[i]; i++) {
        const char *path = zfile_filename (files[i], NULL);
        if (strstr (path, "_secret"))
            continue;
        zcert_t *c = zcert_load (path);
        if (!c)
            continue;
        ident_t *id = calloc (1, sizeof *id);
        const char *name = zcert_meta (c, "name");
        snprintf (id->name, sizeof id->name, "%s", name ? name : "unnamed");
        id->role = role_parse (zcert_meta (c, "role"));
        zhashx_update (b->clients, zcert_public_txt (c), id);
        zcert_destroy (&c);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&d);
    b->clients_loaded_at = zclock_mono ();
    return (int) zhashx_size (b->clients);
}

static void
broker_thread (zsock_t *pipe, void *arg)
{
    broker_opts_t *o = arg;
    zsock_signal (pipe, 0);
    broker_t b = {0};
    b.next_id = 1;
    char err[512];
    randombytes_buf (err, 8);
    snprintf (b.instance, sizeof b.instance, "%02x%02x%02x%02x%02x%02x%02x%02x", (unsigned char) err[0],
              (unsigned char) err[1], (unsigned char) err[2], (unsigned char) err[3], (unsigned char) err[4],
              (unsigned char) err[5], (unsigned char) err[6], (unsigned char) err[7]);
    b.schemas = schema_registry_load_embedded (err, sizeof err);
    b.pending = zhashx_new ();
    b.forwards = zhashx_new ();
    b.nodes = zhashx_new ();
    zhashx_set_destructor (b.nodes, (zhashx_destructor_fn *) zframe_destroy);
    b.node_sock = zhashx_new ();
    b.clients = zhashx_new ();
    zhashx_set_destructor (b.clients, (zhashx_destructor_fn *) zstr_free);
    int ok = b.schemas != NULL;
    if (!ok)
        TR_ERROR (A, "cannot load schemas error=\"%s\"", err);
    b.replicated = o->replicated;
    b.reload_events = zlistx_new ();
    zlistx_set_destructor (b.reload_events, (zlistx_destructor_fn *) zmsg_destroy);
    b.cache = ok ? bcache_new (b.schemas, o->ring_size) : NULL;
    b.store = ok ? zsock_new (ZMQ_DEALER) : NULL;
    if (b.store) {
        zsock_set_sndhwm (b.store, 0);
        zsock_set_rcvhwm (b.store, 0);
        zsock_set_linger (b.store, 0);
        ok = zsock_connect (b.store, "%s", o->store_endpoint) == 0 && load_cache (&b) == 0;
        if (!ok)
            TR_ERROR (A, "cannot load the store endpoint=%s", o->store_endpoint);
    }
    if (ok) {
        b.local = zsock_new (ZMQ_ROUTER);
        zsock_set_linger (b.local, 0);
        zsock_set_router_handover (b.local, 1);
        zsock_set_router_mandatory (b.local, 1); /* a send to a gone client fails: its watches are dropped */
        char eps[2048];
        snprintf (eps, sizeof eps, "%s", o->local_endpoints);
        for (char *save, *ep = strtok_r (eps, ",", &save); ep && ok; ep = strtok_r (NULL, ",", &save))
            if (zsock_bind (b.local, "%s", ep) < 0) {
                TR_ERROR (A, "cannot bind endpoint=%s error=\"%s\"", ep, zmq_strerror (zmq_errno ()));
                ok = 0;
            } else if (!strncmp (ep, "ipc://", 6))
                chmod (ep + 6, 0600);
    }
    if (ok && o->tcp_endpoint && *o->tcp_endpoint) {
        char path[1100];
        snprintf (path, sizeof path, "%s/server.cert_secret", o->pki_dir);
        zcert_t *server = zcert_load (path);
        snprintf (b.pki_dir, sizeof b.pki_dir, "%s", o->pki_dir);
        int n = load_clients (&b, o->pki_dir);
        if (!server) {
            TR_ERROR (A, "tcp endpoint needs %s (run `troupe init`)", path);
            ok = 0;
        } else {
            if (!o->auth_external) {
                b.auth = zactor_new (zauth, NULL);
                snprintf (path, sizeof path, "%s/clients", o->pki_dir);
                zstr_sendx (b.auth, "CURVE", path, NULL);
                zsock_wait (b.auth);
            }
            b.remote = zsock_new (ZMQ_ROUTER);
            zsock_set_linger (b.remote, 0);
            zsock_set_router_handover (b.remote, 1);
            zsock_set_router_mandatory (b.remote, 1);
            zcert_apply (server, b.remote);
            zsock_set_curve_server (b.remote, 1);
            zsock_set_zap_domain (b.remote, "troupe");
            if (zsock_bind (b.remote, "%s", o->tcp_endpoint) < 0) {
                TR_ERROR (A, "cannot bind endpoint=%s error=\"%s\"", o->tcp_endpoint, zmq_strerror (zmq_errno ()));
                ok = 0;
            } else
                TR_INFO (A, "serving endpoint=%s curve=on clients=%d", o->tcp_endpoint, n);
            zcert_destroy (&server);
        }
    }
    if (ok)
        ensure_namespaces (&b);
    zsock_signal (pipe, ok ? 0 : 1);
    if (ok) {
        TR_INFO (A, "serving endpoints=%s objects=%zu revision=%llu", o->local_endpoints, bcache_count (b.cache),
                 (unsigned long long) bcache_revision (b.cache));
        b.poller = zpoller_new (pipe, b.local, b.store, NULL);
        if (b.remote)
            zpoller_add (b.poller, b.remote);
        for (;;) {
            void *which = zpoller_wait (b.poller, 1000);
            if (which == pipe || zpoller_terminated (b.poller))
                break;
            if (which == b.store)
                on_store_message (&b);
            else if (which == b.local || (b.remote && which == b.remote))
                on_client (&b, which);
            bcache_pump (b.cache);
        }
        zpoller_destroy (&b.poller);
    }
    for (pending_write_t *p = zhashx_first (b.pending); p; p = zhashx_next (b.pending)) {
        json_decref (p->obj);
        zframe_destroy (&p->rid);
        if (p->retry) {
            tr_env_clear (p->retry);
            free (p->retry);
        }
        free (p);
    }
    zhashx_destroy (&b.pending);
    for (forward_t *f = zhashx_first (b.forwards); f; f = zhashx_next (b.forwards)) {
        zframe_destroy (&f->rid);
        free (f);
    }
    zhashx_destroy (&b.forwards);
    zhashx_destroy (&b.nodes);
    zhashx_destroy (&b.node_sock);
    zhashx_destroy (&b.clients);
    bcache_destroy (&b.cache);
    zsock_destroy (&b.local);
    zsock_destroy (&b.remote);
    zactor_destroy (&b.auth);
    zlistx_destroy (&b.reload_events);
    zsock_destroy (&b.store);
    schema_registry_destroy (&b.schemas);
    free ((char *) o->store_endpoint);
    free ((char *) o->local_endpoints);
    free ((char *) o->tcp_endpoint);
    free ((char *) o->pki_dir);
    free (o);
}

zactor_t *
broker_new (const broker_opts_t *opts)
{
    broker_opts_t *o = calloc (1, sizeof *o);
    *o = *opts; /* strings are copied: the caller's may not outlive the thread */
    o->store_endpoint = strdup (opts->store_endpoint);
    o->local_endpoints = strdup (opts->local_endpoints);
    o->tcp_endpoint = opts->tcp_endpoint ? strdup (opts->tcp_endpoint) : NULL;
    o->pki_dir = opts->pki_dir ? strdup (opts->pki_dir) : NULL;
    zactor_t *z = zactor_new (broker_thread, o);
    if (z && zsock_wait (z))
        zactor_destroy (&z);
    return z;
}
