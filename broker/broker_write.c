/* broker_write — the write path: create, update, patch, delete (validation, defaulting,
 * server-owned metadata, compare-and-swap), proposals to the store and their results. See
 * broker.h and broker_int.h. */
#include "broker/broker_int.h"
#include "core/conn.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/schema.h"
#include "core/store_proto.h"
#include "core/value.h"
#include "broker/immutable.h"
#include "broker/lease.h"
#include "broker/priority.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A random (version 4) UUID, as the api-server gives metadata.uid. The random bytes come from a
 * pool refilled UID_POOL uids at a time: each refill is a getrandom(2) (libsodium), once per
 * create it was a system call and 2 % of the broker's thread at 10,000 creates/s. */
#define UID_POOL 64
static void
new_uid (char *buf)
{
    static _Thread_local unsigned char pool[16 * UID_POOL];
    static _Thread_local unsigned used = UID_POOL;
    if (used == UID_POOL) {
        randombytes_buf (pool, sizeof pool);
        used = 0;
    }
    unsigned char *b = pool + 16 * used++;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    static const char hex[] = "0123456789abcdef";
    char *o = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = 0;
}

/* Debug builds (no NDEBUG: the unit and sanitizer builds) check that a write left the cached
 * object it started from as it was: the new version shares unchanged subtrees with it, and a
 * change made in place there would show old versions changed to watchers and to the cache. */
#ifndef NDEBUG
#define COW_SNAP(cur) json_t *cow_snap = json_deep_copy (cur)
#define COW_CHECK(cur) cow_check (cow_snap, (cur), __func__)
static void
cow_check (json_t *snap, const json_t *cur, const char *fn)
{
    if (!json_equal (snap, cur)) {
        char *was = json_dumps (snap, JSON_COMPACT), *now = json_dumps (cur, JSON_COMPACT);
        fprintf (stderr, "%s: the cached object was modified in place\nwas %s\nnow %s\n", fn, was, now);
        abort ();
    }
    json_decref (snap);
}
#else
#define COW_SNAP(cur) ((void) 0)
#define COW_CHECK(cur) ((void) 0)
#endif

/* ---- writes --------------------------------------------------------------------------------- */

void
bk_propose (broker_t *b, zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *key, int op, int cond,
            uint64_t expect, json_t *obj /* stolen */, const char *what, const rq_t *r)
{
    char *val = NULL;
    size_t len = 0, meta_at = 0, meta_end = 0;
    json_t *meta = json_object_get (obj, "metadata");
    if (op == 1 && tv_encode_mark (obj, json_is_object (meta) ? meta : NULL, &val, &len, &meta_at, &meta_end) < 0) {
        bk_reply (sock, rid, req, TR_INTERNAL, NULL, 0, "cannot encode object");
        json_decref (obj);
        return;
    }
    char serr[300];
    const char *plain = val;
    if (op == 1 && bk_secrets_seal (b, key, &val, &len, serr, sizeof serr)) {
        bk_reply (sock, rid, req, TR_UNAVAILABLE, NULL, 0, "%s: %s", what, serr);
        free (val);
        json_decref (obj);
        return;
    }
    if (len > TR_MAX_FRAME) {
        bk_reply (sock, rid, req, TR_TOO_LARGE, NULL, 0, "%s: object of %zu bytes exceeds the %u byte limit", what,
                  len, TR_MAX_FRAME);
        free (val);
        json_decref (obj);
        return;
    }
    uint64_t pid = b->next_id++;
    sp_op_t o = {.op = op, .cond = cond, .expect = expect, .key = key, .val = val ? val : "", .len = len};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    json_int_t fence = req->opts ? json_integer_value (json_object_get (req->opts, "fence")) : 0;
    if (r && r->renewal && op == 1 && cond == 3)
        sp_pack_renewal (&sb, pid, &o);
    else /* a client's fence (a leader's controllers) goes to the store with the write */
        sp_pack_propose_fenced (&sb, pid, &o, 1, fence > 0 ? (uint64_t) fence : 0);
    pending_write_t *p = calloc (1, sizeof *p);
    /* its commit takes obj and val (not sealed, not a renewal: those have no event of their own
     * value; no resourceVersion in metadata: the reply appends it) */
    if (op == 1 && val == plain && meta_end && !(r && r->renewal && cond == 3) &&
        !json_object_get (meta, "resourceVersion")) {
        bcache_expect (b->cache, key, json_incref (obj), val, len, meta_at, meta_end);
        p->own_key = strdup (key);
    } else
        free (val);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    p->obj = obj;
    p->is_delete = op == 2;
    p->renewal = r && r->renewal && op == 1 && cond == 3;
    p->status_reply = r && r->status_reply;
    snprintf (p->what, sizeof p->what, "%s", what);
    if (r && r->retryable && cond == 3 && r->attempts < MAX_RETRIES) {
        p->retry = calloc (1, sizeof *p->retry);
        *p->retry = *r->req;
        /* shared, not copied: a request's body and opts are read-only once decoded (create
         * takes its body only when nothing retries it, update takes a deep copy by immutable_prepare,
         * patch builds a new tree from cur and reads the body; nothing sets into opts), and the
         * retry only reads them again */
        p->retry->body = json_incref (r->req->body);
        p->retry->opts = json_incref (r->req->opts);
        p->retry->msg = NULL;
        p->ident = *r->id;
        p->attempts = r->attempts;
    }
    bk_pending_add (b, pid, p);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

void
bk_on_store_result (broker_t *b, const msgpack_object *o)
{
    pending_write_t *p = bk_pending_take (b, o);
    if (!p)
        return;
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
    if (p->then)
        p->then (b, p, res);
    else
        bk_write_answered (b, p, result, rev);
    bk_pending_free (b, p);
}

void
bk_reply_success (pending_write_t *p, uint64_t rev)
{
    tr_env_t req;
    tr_env_init (&req);
    req.id = p->req_id;
    json_t *st = json_pack ("{s:s,s:s,s:{},s:s,s:i}", "kind", "Status", "apiVersion", "v1", "metadata", "status", "Success",
                            "code", 201);
    bk_reply (p->sock, p->rid, &req, TR_OK, st, rev, NULL);
    json_decref (st);
}

void
bk_write_answered (broker_t *b, pending_write_t *p, int result, uint64_t rev)
{
    tr_env_t req;
    tr_env_init (&req);
    req.id = p->req_id;
    switch (result) {
    case 0: {
        char rvs[24];
        snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) rev);
        const char *had = p->obj ? tv_str (p->obj, "metadata.resourceVersion") : NULL;
        if (p->obj && (!had || strcmp (had, rvs))) /* the commit's event may have set it (bcache_expect) */
            tv_set_str (p->obj, "metadata.resourceVersion", rvs);
        if (p->obj && tv_str (p->obj, "kind") && !strcmp (tv_str (p->obj, "kind"), "Service"))
            bk_svc_after_write (b, p->obj, p->is_delete);
        if (p->status_reply) {
            /* a binding: BindingREST answers Status Success, not the pod (whose whole bound
             * object the scheduler decoded only to drop it: a third of its pod decoding) */
            bk_reply_success (p, rev);
            break;
        }
        /* the reply is the committed object: the watch event of its revision carries it, encoded
         * once for the reply and for every watcher (the cache decoded the store's copy of it) */
        size_t elen = 0;
        const char *enc = p->obj && !p->is_delete && !p->renewal && p->sock ? bcache_event_encoding (b->cache, rev, p->obj, &elen) : NULL;
        if (enc)
            bk_reply_encoded (p->sock, p->rid, &req, enc, elen, rev);
        else
            bk_reply (p->sock, p->rid, &req, TR_OK, p->obj, rev, NULL);
        break;
    }
    case 1:
        bk_reply (p->sock, p->rid, &req, TR_ALREADY_EXISTS, NULL, 0, "%s already exists", p->what);
        break;
    case 2:
        bk_reply (p->sock, p->rid, &req, TR_NOT_FOUND, NULL, 0, "%s not found", p->what);
        break;
    case 3:
        if (p->retry) {
            /* our read-modify-write raced another write; the cache already holds the newer
             * object (events precede results), so simply run the request again */
            bk_handle (b, p->sock, p->rid, p->retry, &p->ident, p->attempts + 1);
            break;
        }
        bk_reply (p->sock, p->rid, &req, TR_CONFLICT, NULL, 0,
                  "Operation cannot be fulfilled on %s: the object has been modified; please apply your changes to "
               "the latest version and try again",
               p->what);
        break;
    case 6: /* replicated store: refused before reaching the log */
        bk_reply (p->sock, p->rid, &req, TR_UNAVAILABLE, NULL, 0,
                  "%s: the store has no leader: the write was not made (retry)", p->what);
        break;
    case 5: /* replicated store: in the log, but leadership was lost before it committed */
        bk_reply (p->sock, p->rid, &req, TR_UNAVAILABLE, NULL, 0,
                  "%s: the store lost its leader before the write committed: it may or may not have been made",
               p->what);
        break;
    default:
        bk_reply (p->sock, p->rid, &req, TR_UNAVAILABLE, NULL, 0, "%s: the store could not commit the write", p->what);
    }
}

void
bk_pending_free (broker_t *b, pending_write_t *p)
{
    if (p->own_key)
        bcache_expect_done (b->cache, p->own_key, p->obj);
    free (p->own_key);
    json_decref (p->obj);
    zframe_destroy (&p->rid);
    if (p->retry) {
        tr_env_clear (p->retry);
        free (p->retry);
    }
    json_decref (p->ctx);
    free (p);
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

int
bk_ns_exists (broker_t *b, const char *ns)
{
    char key[300];
    snprintf (key, sizeof key, "/registry/namespaces/%s", ns);
    return bcache_get (b->cache, key, NULL) != NULL;
}

/* Fills server-owned metadata of a new object. */
void
bk_stamp_new (json_t *obj)
{
    char uid[40], ts[32];
    new_uid (uid);
    bk_rfc3339_now (ts, sizeof ts);
    tv_set_str (obj, "metadata.uid", uid);
    tv_set_str (obj, "metadata.creationTimestamp", ts);
    tv_set_int (obj, "metadata.generation", 1);
    tv_del (obj, "metadata.resourceVersion");
    tv_del (obj, "metadata.deletionTimestamp");
    tv_del (obj, "metadata.deletionGracePeriodSeconds"); /* set by a delete only, as the api-server does */
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

/* Defaults, then validates obj; prev is the stored object an update replaces (its unchanged
 * top-level fields are not walked again: schema_validate_update), NULL on a create. */
static int
validate (rq_t *r, json_t *obj, const json_t *prev)
{
    char err[512];
    schema_default_update (r->b->schemas, obj, prev);
    if (schema_validate_update (r->b->schemas, obj, prev, err, sizeof err)) {
        const char *name = tv_str (obj, "metadata.name");
        bk_reply (r->sock, r->rid, r->req, TR_INVALID, NULL, 0, "%s \"%s\" is invalid: %s", schema_kind_name (r->sk),
                  name ? name : "", err);
        return -1;
    }
    return 0;
}

/* The PriorityClasses (a new array) for the Priority admission plugin. */
static json_t *
priority_classes (rq_t *r)
{
    json_t *items = NULL;
    uint64_t rev;
    char err[128];
    if (bcache_list (r->b->cache, "priorityclasses", "", NULL, NULL, &items, &rev, err, sizeof err))
        return json_array ();
    return items;
}

/* Admission of a Pod create (Priority) and of a PriorityClass create or update: 0, or -1 replied. */
static int
priority_admission (rq_t *r, json_t *obj, const json_t *cur)
{
    const char *k = schema_kind_name (r->sk), *name = tv_str (obj, "metadata.name");
    int pod = !strcmp (k, "Pod");
    if (!pod && strcmp (k, "PriorityClass"))
        return 0;
    if (pod && cur)
        return 0; /* on update the pod spec is immutable */
    json_t *classes = priority_classes (r);
    char err[512];
    int forbidden = 1, rc = pod ? prio_admit_pod (obj, classes, err, sizeof err)
                                : prio_class_check (obj, cur, classes, &forbidden, err, sizeof err);
    json_decref (classes);
    if (!rc)
        return 0;
    if (forbidden)
        bk_reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0, "%s \"%s\" is forbidden: %s", schema_kind_plural (r->sk),
                  name ? name : "", err);
    else
        bk_reply (r->sock, r->rid, r->req, TR_INVALID, NULL, 0, "%s \"%s\" is invalid: %s", k, name ? name : "", err);
    return -1;
}

void
bk_h_create (rq_t *r)
{
    const char *sub = tv_str (r->req->opts, "subresource");
    if (sub && *sub) {
        if (!strcmp (sub, "eviction") && !strcmp (schema_kind_name (r->sk), "Pod"))
            bk_h_evict (r);
        else
            bk_reply (r->sock, r->rid, r->req, TR_NOT_FOUND, NULL, 0,
                      "the server could not find the requested resource: %s has no subresource \"%s\" to create%s",
                      schema_kind_plural (r->sk), sub, strcmp (schema_kind_name (r->sk), "Pod") ? "" : " (served: eviction)");
        return;
    }
    /* The body becomes the object. A create is never retried by bk_propose (cond 1), so the
     * request's own body, decoded for it alone, is taken rather than copied; a Service's create
     * may be run again (bk_svc_write keeps the body for it) and works on a copy, as does a body
     * held elsewhere too. */
    json_t *obj;
    if (r->req->body && r->req->body->refcount == 1 && strcmp (schema_kind_name (r->sk), "Service")) {
        obj = r->req->body;
        r->req->body = NULL;
    } else
        obj = r->req->body ? json_deep_copy (r->req->body) : NULL;
    if (!json_is_object (obj)) {
        json_decref (obj);
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "create: body must be an object");
        return;
    }
    if (!tv_str (obj, "kind"))
        tv_set_str (obj, "kind", schema_kind_name (r->sk));
    if (!tv_str (obj, "apiVersion"))
        tv_set_str (obj, "apiVersion", schema_kind_api_version (r->sk));
    if (strcmp (tv_str (obj, "kind"), schema_kind_name (r->sk))) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "kind: body says \"%s\", request says \"%s\"",
                  tv_str (obj, "kind"), schema_kind_name (r->sk));
        json_decref (obj);
        return;
    }
    if (schema_kind_namespaced (r->sk)) {
        const char *ons = tv_str (obj, "metadata.namespace");
        if (ons && *r->ns && strcmp (ons, r->ns)) {
            bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0,
                      "metadata.namespace: \"%s\" does not match the request's namespace \"%s\"", ons, r->ns);
            json_decref (obj);
            return;
        }
        tv_set_str (obj, "metadata.namespace", ons ? ons : (*r->ns ? r->ns : "default"));
    } else
        tv_del (obj, "metadata.namespace");
    if (!tv_str (obj, "metadata.name") && tv_str (obj, "metadata.generateName"))
        gen_name (obj);
    if (validate (r, obj, NULL)) {
        json_decref (obj);
        return;
    }
    const char *ns = schema_kind_namespaced (r->sk) ? tv_str (obj, "metadata.namespace") : "";
    const char *name = tv_str (obj, "metadata.name");
    if (bk_authorize (r, NULL, obj, name)) {
        json_decref (obj);
        return;
    }
    if (*ns && !bk_ns_exists (r->b, ns)) {
        bk_reply (r->sock, r->rid, r->req, TR_NOT_FOUND, NULL, 0, "namespaces \"%s\" not found", ns);
        json_decref (obj);
        return;
    }
    if (priority_admission (r, obj, NULL)) {
        json_decref (obj);
        return;
    }
    const char *k = schema_kind_name (r->sk);
    if (!strcmp (k, "Pod") || !strcmp (k, "Deployment") || !strcmp (k, "ReplicaSet"))
        tv_del (obj, "status"); /* status is written by controllers and agents, not by creators */
    bk_stamp_new (obj);
    make_key (r, ns, name);
    if (!strcmp (k, "Service")) {
        bk_svc_write (r, NULL, obj, 1, 0); /* with its cluster IP and node ports */
        return;
    }
    bk_propose (r->b, r->sock, r->rid, r->req, r->key, 1, 1, 0, obj, r->what, r);
}

/* Looks up the target of an update/patch/delete/get; replies NotFound itself. */
const json_t *
bk_lookup (rq_t *r, const char *name, uint64_t *mod_rev)
{
    if (!name || !*name) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "metadata.name: Required value");
        return NULL;
    }
    make_key (r, r->ns, name);
    const json_t *cur = bcache_get (r->b->cache, r->key, mod_rev);
    if (!cur)
        bk_reply (r->sock, r->rid, r->req, TR_NOT_FOUND, NULL, 0, "%s not found", r->what);
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

/* The schema part of an update (write_update; bench_validate times it): next, a new version of
 * the cached cur sharing its unchanged subtrees with it, gets cur's server-owned metadata, its
 * kind, canonical quantities, its generation, defaults; then it is validated against cur (what is
 * unchanged is not walked again: schema_validate_update). update: a plain update (a Lease's may be
 * a renewal, *renewal set); svc_keep: a Service update keeps its allocations. 0, or -1 and err. */
int
bk_update_schema (const schema_registry_t *schemas, const schema_kind_t *sk, const json_t *cur, json_t *next,
                  int update, int svc_keep, int *renewal, char *err, size_t errlen)
{
    json_t *meta = tv_unshare (next, "metadata");
    const json_t *cmeta = json_object_get (cur, "metadata");
    /* server-owned metadata always comes from the stored object */
    static const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                                 "namespace", "name"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get (cmeta, keep[i]);
        if (meta && v)
            json_object_set (meta, keep[i], v);
        else if (meta)
            json_object_del (meta, keep[i]);
        else { /* no metadata map in next: tv_set makes one */
            char p[64];
            snprintf (p, sizeof p, "metadata.%s", keep[i]);
            if (v)
                tv_set (next, p, json_incref (v));
            else
                tv_del (next, p);
        }
    }
    tv_set_str (next, "kind", schema_kind_name (sk));
    if (!tv_str (next, "apiVersion"))
        tv_set_str (next, "apiVersion", schema_kind_api_version (sk));
    /* a renewal keeps the generation (Kubernetes' Lease strategy never bumps it): the store may
     * answer it from memory, with the object's resourceVersion unchanged */
    *renewal = update && !strcmp (schema_kind_name (sk), "Lease") && lease_is_renewal (cur, next);
    json_int_t gen = tv_int (cur, "metadata.generation", 1);
    /* defaults (with canonical quantities) before the generation: cpu 0.5 over a stored "500m",
     * or a default left out of a full update, is no change of spec (Kubernetes defaults when it
     * decodes, before its strategies compare). A Service keeps its allocations first (its
     * defaulting fills clusterIPs from clusterIP): canonical values only, then defaults. */
    if (svc_keep)
        schema_canonicalize_update (schemas, next, cur);
    else
        schema_default_update (schemas, next, cur);
    if (!*renewal && !json_equal (tv_get (cur, "spec"), tv_get (next, "spec")))
        gen++;
    tv_set_int (next, "metadata.generation", gen);
    if (svc_keep) {
        bk_svc_keep_allocated (cur, next);
        schema_default_update (schemas, next, cur);
    }
    return schema_validate_update (schemas, next, cur, err, errlen);
}

/* Shared tail of update / updateStatus / patch: checks, then a CAS proposal on mod_rev. */
static void
write_update (rq_t *r, const json_t *cur, uint64_t mod_rev, json_t *next, tr_verb_t verb, uint64_t want, imm_sub_t sub)
{
    const char *name = tv_str (cur, "metadata.name");
    if (want && want != mod_rev) {
        bk_reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0,
                  "Operation cannot be fulfilled on %s: the object has been modified; please apply your changes to the "
               "latest version and try again",
               r->what);
        json_decref (next);
        return;
    }
    /* next shares unchanged subtrees with cur, a cached object (tv_merge_patch_new,
     * immutable_prepare_own): only its root is certainly new. What is changed below in place:
     * metadata (here, by defaulting, and resourceVersion when the store answers): made next's own
     * first. Defaulting and canonicalisation walk only what differs from cur, which is new (see
     * schema_default_update). Services are changed deep in spec.ports (svc_default,
     * bk_svc_keep_allocated, bk_svc_write's node ports): they are rare, they get a whole copy. */
    if (!strcmp (schema_kind_name (r->sk), "Service")) {
        json_t *own = json_deep_copy (next);
        json_decref (next);
        next = own;
    }
    char err[1024];
    int service = !strcmp (schema_kind_name (r->sk), "Service");
    if (sub == IMM_SUB_BINDING) {
        /* binding_next made next from the stored pod and two server-built values (nodeName, a
         * string, and the PodScheduled condition): nothing for defaults or the schema to see, as
         * the api-server's BindingREST, whose update goes to storage without the pod's
         * validation. The generation moves, as for any change of spec. (Both were a tenth of the
         * broker's thread at 10,000 bindings/s.) */
        tv_unshare (next, "metadata");
        tv_set_int (next, "metadata.generation", tv_int (cur, "metadata.generation", 1) + 1);
        r->renewal = 0;
        r->status_reply = 1;
    } else if (bk_update_schema (r->b->schemas, r->sk, cur, next, verb == TR_VERB_UPDATE,
                                 service && sub == IMM_SUB_NONE, &r->renewal, err, sizeof err)) {
        bk_reply (r->sock, r->rid, r->req, TR_INVALID, NULL, 0, "%s \"%s\" is invalid: %s", schema_kind_name (r->sk),
                  name ? name : "", err);
        json_decref (next);
        return;
    }
    if (bk_authorize (r, cur, next, name)) {
        json_decref (next);
        return;
    }
    if (immutable_check (schema_kind_name (r->sk), cur, next, sub, err, sizeof err)) {
        bk_reply (r->sock, r->rid, r->req, TR_INVALID, NULL, 0, "%s \"%s\" is invalid: %s", schema_kind_name (r->sk),
                  name ? name : "", err);
        json_decref (next);
        return;
    }
    if (sub == IMM_SUB_NONE && priority_admission (r, next, cur)) {
        json_decref (next);
        return;
    }
    tv_del (next, "metadata.resourceVersion");
    char key[600];
    snprintf (key, sizeof key, "%s", r->key);
    r->retryable = !want;
    if (service && sub == IMM_SUB_NONE) {
        bk_svc_write (r, cur, next, 3, mod_rev); /* new node ports are reserved first */
        return;
    }
    bk_propose (r->b, r->sock, r->rid, r->req, key, 1, 3, mod_rev, next, r->what, r);
}

/* The subresource a write names (opts.subresource; updateStatus is "status"), or a reply saying
 * it is not served (IMM_SUB_UNKNOWN returned). */
static imm_sub_t
write_subresource (rq_t *r, int status_verb)
{
    const char *s = tv_str (r->req->opts, "subresource");
    imm_sub_t sub = immutable_subresource (s);
    if (status_verb && sub != IMM_SUB_NONE && sub != IMM_SUB_STATUS)
        sub = IMM_SUB_UNKNOWN;
    else if (status_verb)
        sub = IMM_SUB_STATUS;
    if (sub == IMM_SUB_BINDING && strcmp (schema_kind_name (r->sk), "Pod"))
        sub = IMM_SUB_UNKNOWN;
    if (sub == IMM_SUB_UNKNOWN)
        bk_reply (r->sock, r->rid, r->req, TR_NOT_FOUND, NULL, 0,
                  "the server could not find the requested resource: %s has no subresource \"%s\" (served: status%s)",
                  schema_kind_plural (r->sk), s ? s : "", strcmp (schema_kind_name (r->sk), "Pod") ? "" : ", binding");
    return sub;
}

/* pods/binding, as the api-server's BindingREST: body {spec: {nodeName}} or a Binding
 * {target: {name}}, either with an optional metadata.uid precondition (Kubernetes' scheduler
 * binds with the pod's UID, never its resourceVersion: a status write in between must not fail
 * the binding); sets spec.nodeName when it is empty (Conflict otherwise, when the UID differs, or
 * when the pod is being deleted) and the PodScheduled condition. The new object, or NULL
 * (replied). */
static json_t *
binding_next (rq_t *r, const json_t *cur, const json_t *body)
{
    const char *node = tv_str (body, "spec.nodeName");
    size_t keys = json_object_size (body) - (json_is_object (tv_get (body, "metadata")) ? 1 : 0);
    int ok = node && keys == 1 && json_object_size (tv_get (body, "spec")) == 1;
    if (!node && tv_str (body, "target.name")) {
        node = tv_str (body, "target.name");
        const char *k = tv_str (body, "target.kind");
        ok = !k || !*k || !strcmp (k, "Node");
    }
    if (!ok || !*node) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0,
                  "binding: body must be {spec: {nodeName: NODE}} or a Binding {target: {kind: Node, name: NODE}}");
        return NULL;
    }
    const char *name = tv_str (cur, "metadata.name");
    const char *want_uid = tv_str (body, "metadata.uid"), *uid = tv_str (cur, "metadata.uid");
    if (want_uid && *want_uid && strcmp (want_uid, uid ? uid : "")) {
        bk_reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0,
                  "Operation cannot be fulfilled on pods/binding \"%s\": Precondition failed: UID in precondition: %s, "
                  "UID in object meta: %s",
                  name, want_uid, uid ? uid : "");
        return NULL;
    }
    const char *was = tv_str (cur, "spec.nodeName");
    if (was && *was) {
        bk_reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0,
                  "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already assigned to node \"%s\"", name,
                  name, was);
        return NULL;
    }
    if (tv_get (cur, "metadata.deletionTimestamp")) {
        bk_reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0,
                  "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is being deleted, cannot be assigned to a host",
                  name, name);
        return NULL;
    }
    json_t *next = json_copy ((json_t *) cur); /* shares all but what is set here with cur */
    tv_unshare (next, "spec");
    tv_unshare (next, "status");
    tv_set_str (next, "spec.nodeName", node);
    char now[32];
    bk_rfc3339_now (now, sizeof now);
    json_t *conds = json_array ();
    size_t i;
    json_t *c;
    const json_t *old = tv_get (cur, "status.conditions");
    json_array_foreach (old, i, c) if (!tv_str (c, "type") || strcmp (tv_str (c, "type"), "PodScheduled"))
        json_array_append (conds, c);
    json_array_append_new (conds, tr_condition (old, "PodScheduled", 1, NULL, NULL, now));
    tv_set (next, "status.conditions", conds);
    return next;
}

void
bk_h_update (rq_t *r, int status_only)
{
    const json_t *body = r->req->body;
    const char *name = *r->req->name ? r->req->name : tv_str (body, "metadata.name");
    if (!json_is_object (body)) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "update: body must be an object");
        return;
    }
    imm_sub_t sub = write_subresource (r, status_only);
    if (sub == IMM_SUB_UNKNOWN)
        return;
    uint64_t mod_rev;
    const json_t *cur = bk_lookup (r, name, &mod_rev);
    if (!cur)
        return;
    COW_SNAP (cur);
    json_t *next = sub == IMM_SUB_BINDING ? binding_next (r, cur, body) : immutable_prepare (cur, body, sub);
    if (next) {
        tr_verb_t verb = sub == IMM_SUB_STATUS ? TR_VERB_UPDATE_STATUS : sub == IMM_SUB_BINDING ? TR_VERB_PATCH : TR_VERB_UPDATE;
        write_update (r, cur, mod_rev, next, verb, wanted_rv (r->req, body), sub);
    }
    COW_CHECK (cur);
}

void
bk_h_patch (rq_t *r)
{
    const json_t *body = r->req->body;
    if (!json_is_object (body)) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "patch: body must be a merge-patch object");
        return;
    }
    /* opts.patchType: "merge" (RFC 7386, the default, kubectl's --type merge) or "strategic"
     * (status conditions merge by type, as the Kubernetes scheduler and kubelet write them) */
    const json_t *pt = json_object_get (r->req->opts, "patchType");
    const char *type = json_is_string (pt) ? json_string_value (pt) : "merge";
    int strategic = !strcmp (type, "strategic");
    if (pt && (!json_is_string (pt) || (!strategic && strcmp (type, "merge")))) {
        char *shown = json_dumps (pt, JSON_ENCODE_ANY | JSON_COMPACT);
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0,
                  "patch: unsupported patchType %s (want \"merge\" or \"strategic\")", shown ? shown : "?");
        free (shown);
        return;
    }
    imm_sub_t sub = write_subresource (r, 0);
    if (sub == IMM_SUB_UNKNOWN)
        return;
    uint64_t mod_rev;
    const json_t *cur = bk_lookup (r, r->req->name, &mod_rev);
    if (!cur)
        return;
    COW_SNAP (cur);
    json_t *next;
    if (sub == IMM_SUB_BINDING) {
        next = binding_next (r, cur, body);
        if (!next) {
            COW_CHECK (cur);
            return;
        }
    } else {
        /* a new tree sharing with cur (cached, immutable) what the patch does not touch */
        json_t *merged = strategic ? tv_strategic_patch_new (cur, body) : tv_merge_patch_new (cur, body);
        next = immutable_prepare_own (cur, merged, sub);
    }
    tr_verb_t verb = sub == IMM_SUB_STATUS ? TR_VERB_UPDATE_STATUS : TR_VERB_PATCH;
    write_update (r, cur, mod_rev, next, verb, r->req->rv, sub);
    COW_CHECK (cur);
}

/* A new version of the cached cur sharing all with it but the root and metadata (which a delete
 * sets, and bk_write_answered stamps with the resourceVersion). */
static json_t *
cow_metadata (const json_t *cur)
{
    json_t *next = json_copy ((json_t *) cur);
    tv_unshare (next, "metadata");
    return next;
}

json_t *
bk_deletion (const json_t *cur, json_int_t grace, int *op)
{
    /* Pods on a node terminate gracefully: mark them; the node's agent stops the containers and
     * then deletes with gracePeriodSeconds=0. */
    if (!strcmp (tv_str (cur, "kind") ? tv_str (cur, "kind") : "", "Pod") && grace != 0 &&
        tv_str (cur, "spec.nodeName") && *tv_str (cur, "spec.nodeName")) {
        if (tv_get (cur, "metadata.deletionTimestamp"))
            return NULL;
        json_t *next = cow_metadata (cur);
        char ts[32];
        bk_rfc3339_now (ts, sizeof ts);
        tv_set_str (next, "metadata.deletionTimestamp", ts);
        tv_set_int (next, "metadata.deletionGracePeriodSeconds",
                    grace > 0 ? grace : tv_int (cur, "spec.terminationGracePeriodSeconds", 30));
        tv_del (next, "metadata.resourceVersion");
        *op = 1;
        return next;
    }
    *op = 2;
    return cow_metadata (cur);
}

static void
delete_key (rq_t *r, const json_t *cur, uint64_t mod_rev, const char *key, const char *what)
{
    int op;
    json_t *next = bk_deletion (cur, tv_int (r->req->opts, "gracePeriodSeconds", -1), &op);
    if (!next) { /* being deleted already */
        bk_reply (r->sock, r->rid, r->req, TR_OK, (json_t *) cur, mod_rev, NULL);
        return;
    }
    bk_propose (r->b, r->sock, r->rid, r->req, key, op, 3, mod_rev, next, what, r);
}

static void broker_delete_object (void *broker, const char *key, const json_t *obj, uint64_t mod_rev);

void
bk_h_delete (rq_t *r)
{
    uint64_t mod_rev;
    const json_t *cur = bk_lookup (r, r->req->name, &mod_rev);
    if (!cur)
        return;
    if (bk_authorize (r, cur, NULL, r->req->name))
        return;
    if (!strcmp (schema_kind_name (r->sk), "PriorityClass") && prio_is_builtin (r->req->name)) {
        bk_reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0,
                  "priorityclasses \"%s\" is forbidden: this is a system priority class and cannot be deleted", r->req->name);
        return;
    }
    if (r->req->rv && r->req->rv != mod_rev) {
        bk_reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0, "Operation cannot be fulfilled on %s: precondition failed",
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
    COW_SNAP (cur);
    delete_key (r, cur, mod_rev, key, what);
    COW_CHECK (cur);
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
        json_t *next = cow_metadata (obj);
        char ts[32];
        bk_rfc3339_now (ts, sizeof ts);
        tv_set_str (next, "metadata.deletionTimestamp", ts);
        tv_set_int (next, "metadata.deletionGracePeriodSeconds",
                    grace > 0 ? grace : tv_int (obj, "spec.terminationGracePeriodSeconds", 30));
        tv_del (next, "metadata.resourceVersion");
        bk_propose (b, NULL, none, &req, key, 1, 3, mod_rev, next, key, NULL);
    } else if (!(kind && !strcmp (kind, "Pod") && tv_get (obj, "metadata.deletionTimestamp")))
        bk_propose (b, NULL, none, &req, key, 2, 3, mod_rev, cow_metadata (obj), key, NULL);
    zframe_destroy (&none);
}
