/* broker_evict — pods/eviction, the Eviction API (a create with opts.subresource=eviction on a
 * Pod), as Kubernetes' EvictionREST. broker/eviction.h decides from the cached pod and the
 * namespace's PodDisruptionBudgets; this file does the writes, each a proposal whose store result
 * runs the next step (pending_write_t.then, as broker_svc.c):
 *   1. EVICT_DECREMENT: the budget's status at its revision (compare-and-swap). A Conflict (another
 *      eviction, the disruption controller) runs the whole request again from the cache, which
 *      holds the newer budget (events precede results), at most MAX_RETRIES times (then Timeout
 *      "couldn't update PodDisruptionBudget ... due to conflicts", as Kubernetes).
 *   2. the pod's deletion (a bound pod is marked, its agent stops it, with DisruptionTarget
 *      EvictionByEvictionAPI; bk_deletion), at the cached pod's revision, the client's
 *      preconditions checked again after a decrement (evict_preconditions). A Conflict there: after a decrement, the deletion alone again (the budget
 *      is spent: the request must not run again); for a Pending pod, the whole request again; for
 *      an unready pod deleted without spending the budget, TooManyRequests (it may be Ready now,
 *      as Kubernetes); with a client's resourceVersion precondition, Conflict.
 * The client's reply is a Status {status: Success} once the deletion is written. */
#include "broker/broker_int.h"
#include "broker/eviction.h"
#include "core/meta.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ON_CONFLICT_RERUN = 0, ON_CONFLICT_DELETE_AGAIN, ON_CONFLICT_TOO_MANY, ON_CONFLICT_REPLY };

static int
op_result (const msgpack_object *res, uint64_t *rev)
{
    if (!res || res->type != MSGPACK_OBJECT_ARRAY || res->via.array.size < 1)
        return 4;
    const msgpack_object *r = &res->via.array.ptr[0];
    if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 3)
        return 4;
    if (rev)
        *rev = r->via.array.ptr[1].via.u64;
    return (int) r->via.array.ptr[0].via.u64;
}

static tr_env_t *
env_share (const tr_env_t *req)
{
    tr_env_t *e = calloc (1, sizeof *e);
    *e = *req;
    e->body = json_incref (req->body); /* read-only once decoded: shared, as bk_propose does */
    e->opts = json_incref (req->opts);
    e->msg = NULL;
    return e;
}

/* A pending step answering the request of `from` (its connection, id, identity, the request to
 * run again). */
static pending_write_t *
step_new (zsock_t *sock, zframe_t *rid, const tr_env_t *req, const ident_t *id, int attempts, const char *what)
{
    pending_write_t *p = calloc (1, sizeof *p);
    p->sock = sock;
    p->rid = zframe_dup (rid);
    p->req_id = req->id;
    p->retry = env_share (req);
    p->ident = *id;
    p->attempts = attempts;
    snprintf (p->what, sizeof p->what, "%s", what);
    return p;
}

/* Proposes one operation (obj stolen, kept as p->obj); p (its then and ctx set) waits for it. */
static void
step_propose (broker_t *b, pending_write_t *p, const char *key, int op, uint64_t expect, json_t *obj)
{
    char *val = NULL;
    size_t len = 0;
    if (op == 1 && tv_encode (obj, &val, &len)) {
        tr_env_t req;
        tr_env_init (&req);
        req.id = p->req_id;
        bk_reply (p->sock, p->rid, &req, TR_INTERNAL, NULL, 0, "cannot encode object");
        json_decref (obj);
        bk_pending_free (b, p);
        return;
    }
    p->obj = obj;
    p->is_delete = op == 2;
    sp_op_t o = {.op = op, .cond = 3, .expect = expect, .key = key, .val = val ? val : "", .len = len};
    uint64_t pid = b->next_id++;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose (&sb, pid, &o, 1);
    free (val);
    bk_pending_add (b, pid, p);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
reply_too_many (zsock_t *sock, zframe_t *rid, uint64_t req_id, const char *msg, const char *cause, int retry_after)
{
    tr_env_t req;
    tr_env_init (&req);
    req.id = req_id;
    json_t *body = json_pack ("{s:s,s:s,s:s,s:s,s:i,s:s,s:{s:i,s:[{s:s,s:s}]}}", "kind", "Status", "apiVersion", "v1",
                              "status", "Failure", "message", msg, "code", 429, "reason", "TooManyRequests", "details",
                              "retryAfterSeconds", retry_after, "causes", "reason", "DisruptionBudget", "message", cause);
    bk_reply (sock, rid, &req, TR_TOO_MANY_REQUESTS, body, 0, "%s", msg);
    json_decref (body);
}

static void pod_deleted (void *broker, pending_write_t *p, const msgpack_object *res);

/* Step 2: the pod's deletion, at the cached pod's revision. */
static void
delete_pod (broker_t *b, pending_write_t *p, const char *key, const json_t *pod, uint64_t mod_rev, json_int_t grace,
            int on_conflict, const char *pdb)
{
    int op;
    json_t *next = bk_deletion (pod, grace, &op);
    if (!next) { /* being deleted already: evicted */
        bk_reply_success (p, 0);
        bk_pending_free (b, p);
        return;
    }
    if (op == 1) {
        /* a bound pod marked for deletion says why, in the same write: DisruptionTarget True,
         * EvictionByEvictionAPI (Kubernetes' addConditionAndDeletePod, PodDisruptionConditions GA
         * in 1.31; it writes the condition, then deletes). A pod deleted at once has no one to tell. */
        char now[32];
        bk_rfc3339_now (now, sizeof now);
        tv_unshare (next, "status");
        const json_t *old = tv_get (pod, "status.conditions");
        json_t *conds = json_array ();
        size_t i;
        json_t *c;
        json_array_foreach (old, i, c) if (!tv_str (c, "type") || strcmp (tv_str (c, "type"), "DisruptionTarget"))
            json_array_append (conds, c);
        json_array_append_new (conds, tr_condition (old, "DisruptionTarget", 1, "EvictionByEvictionAPI",
                                                    "Eviction API: evicting", now));
        tv_set (next, "status.conditions", conds);
    }
    p->then = pod_deleted;
    p->ctx = json_pack ("{s:s,s:I,s:i,s:s}", "key", key, "grace", grace, "onConflict", on_conflict, "pdb", pdb ? pdb : "");
    step_propose (b, p, key, op, mod_rev, next);
}

static pending_write_t *
step_from (const pending_write_t *p, int attempts)
{
    return step_new (p->sock, p->rid, p->retry, &p->ident, attempts, p->what);
}

/* The deletion after a spent budget, of the pod as the cache holds it now, under the client's
 * preconditions as Kubernetes' delete applies them: a pod changed (resourceVersion given) or made
 * again under the name (uid given) since the decision is a Conflict, not deleted. Takes q. */
static void
delete_after_decrement (broker_t *b, pending_write_t *q, const char *key, json_int_t grace, const char *pdb)
{
    uint64_t mod_rev = 0;
    const json_t *pod = bcache_get (b->cache, key, &mod_rev);
    tr_env_t req;
    tr_env_init (&req);
    req.id = q->req_id;
    if (!pod) {
        bk_reply (q->sock, q->rid, &req, TR_NOT_FOUND, NULL, 0, "%s not found", q->what);
        bk_pending_free (b, q);
        return;
    }
    const json_t *opts = tv_get (q->retry ? q->retry->body : NULL, "deleteOptions");
    char msg[512];
    if (evict_preconditions (pod, mod_rev, opts, msg, sizeof msg)) {
        bk_reply (q->sock, q->rid, &req, TR_CONFLICT, NULL, 0, "%s", msg);
        bk_pending_free (b, q);
        return;
    }
    /* with a resourceVersion precondition, a change before the deletion lands is the client's Conflict */
    int on = tv_str (opts, "preconditions.resourceVersion") ? ON_CONFLICT_REPLY : ON_CONFLICT_DELETE_AGAIN;
    delete_pod (b, q, key, pod, mod_rev, grace, on, pdb);
}

static void
pod_deleted (void *broker, pending_write_t *p, const msgpack_object *res)
{
    broker_t *b = broker;
    uint64_t rev = 0;
    int result = op_result (res, &rev);
    if (result == 0) {
        bk_reply_success (p, 0);
        return;
    }
    if (result != 3) {
        tr_env_t *keep = p->retry;
        p->retry = NULL; /* bk_write_answered would run a Conflict again: only Conflicts are ours */
        bk_write_answered (b, p, result, rev);
        p->retry = keep;
        return;
    }
    int on = (int) json_integer_value (json_object_get (p->ctx, "onConflict"));
    if (on == ON_CONFLICT_TOO_MANY) {
        char cause[400];
        snprintf (cause, sizeof cause, "The disruption budget %s is still being processed by the server.",
                  json_string_value (json_object_get (p->ctx, "pdb")));
        reply_too_many (p->sock, p->rid, p->req_id, "Cannot evict pod as it would violate the pod's disruption budget.", cause, 10);
        return;
    }
    if (on == ON_CONFLICT_REPLY || p->attempts >= MAX_RETRIES) {
        tr_env_t *keep = p->retry;
        p->retry = NULL; /* no request to run again: the client's Conflict */
        bk_write_answered (b, p, 3, 0);
        p->retry = keep;
        return;
    }
    if (on == ON_CONFLICT_RERUN) {
        bk_handle (b, p->sock, p->rid, p->retry, &p->ident, p->attempts + 1);
        return;
    }
    /* after a decrement: the deletion alone, of the pod as the cache holds it now */
    delete_after_decrement (b, step_from (p, p->attempts + 1), json_string_value (json_object_get (p->ctx, "key")),
                            json_integer_value (json_object_get (p->ctx, "grace")), NULL);
}

/* Step 1 answered: the budget's status written. */
static void
pdb_written (void *broker, pending_write_t *p, const msgpack_object *res)
{
    broker_t *b = broker;
    uint64_t rev = 0;
    int result = op_result (res, &rev);
    const char *pdb = json_string_value (json_object_get (p->ctx, "pdb"));
    if (result == 3) {
        if (p->attempts < MAX_RETRIES) {
            bk_handle (b, p->sock, p->rid, p->retry, &p->ident, p->attempts + 1);
            return;
        }
        tr_env_t req;
        tr_env_init (&req);
        req.id = p->req_id;
        bk_reply (p->sock, p->rid, &req, TR_TIMEOUT, NULL, 0, "couldn't update PodDisruptionBudget \"%s\" due to conflicts",
                  pdb);
        return;
    }
    if (result != 0) {
        tr_env_t *keep = p->retry;
        p->retry = NULL;
        bk_write_answered (b, p, result, rev);
        p->retry = keep;
        return;
    }
    pending_write_t *q = step_from (p, p->attempts);
    snprintf (q->what, sizeof q->what, "%s", json_string_value (json_object_get (p->ctx, "what")));
    delete_after_decrement (b, q, json_string_value (json_object_get (p->ctx, "key")),
                            json_integer_value (json_object_get (p->ctx, "grace")), pdb);
}

void
bk_h_evict (rq_t *r)
{
    const json_t *body = r->req->body;
    if (body && !json_is_object (body)) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "eviction: body must be an Eviction object");
        return;
    }
    const char *kind = tv_str (body, "kind"), *bname = tv_str (body, "metadata.name");
    const char *bns = tv_str (body, "metadata.namespace");
    if (kind && strcmp (kind, "Eviction")) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "not a Eviction object: %s", kind);
        return;
    }
    const char *name = *r->req->name ? r->req->name : bname;
    if (bname && name && strcmp (bname, name)) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0, "name in URL does not match name in Eviction object");
        return;
    }
    if (bns && *bns && strcmp (bns, r->ns)) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0,
                  "metadata.namespace: \"%s\" does not match the request's namespace \"%s\"", bns, r->ns);
        return;
    }
    const json_t *opts = tv_get (body, "deleteOptions");
    json_t *g = json_object_get (opts, "gracePeriodSeconds");
    if (opts && (!json_is_object (opts) || (g && !json_is_integer (g)))) {
        bk_reply (r->sock, r->rid, r->req, TR_BAD_REQUEST, NULL, 0,
                  "eviction: deleteOptions must be {gracePeriodSeconds: int, preconditions: {uid, resourceVersion}}");
        return;
    }
    json_int_t grace = g ? json_integer_value (g) : -1;
    uint64_t mod_rev;
    const json_t *pod = bk_lookup (r, name, &mod_rev);
    if (!pod)
        return;
    if (bk_authorize (r, pod, NULL, name))
        return;
    json_t *pdbs = NULL;
    uint64_t lrev;
    char err[128], now[32];
    if (bcache_list (r->b->cache, "poddisruptionbudgets", r->ns, NULL, NULL, &pdbs, &lrev, err, sizeof err))
        pdbs = json_array ();
    bk_rfc3339_now (now, sizeof now);
    evict_t e;
    evict_decide (pod, mod_rev, opts, pdbs, now, &e);
    int client_rv = tv_str (opts, "preconditions.resourceVersion") != NULL;
    switch (e.action) {
    case EVICT_CONFLICT:
        bk_reply (r->sock, r->rid, r->req, TR_CONFLICT, NULL, 0, "%s", e.msg);
        break;
    case EVICT_MULTIPLE:
        bk_reply (r->sock, r->rid, r->req, TR_INTERNAL, NULL, 0, "%s", e.msg);
        break;
    case EVICT_FORBIDDEN:
        bk_reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0, "%s", e.msg);
        break;
    case EVICT_TOO_MANY:
        reply_too_many (r->sock, r->rid, r->req->id, e.msg, e.cause, e.retry_after);
        break;
    case EVICT_DELETE: {
        int on = client_rv ? ON_CONFLICT_REPLY : e.unready ? ON_CONFLICT_TOO_MANY
                                                           : e.at_rv ? ON_CONFLICT_RERUN : ON_CONFLICT_DELETE_AGAIN;
        pending_write_t *p = step_new (r->sock, r->rid, r->req, r->id, r->attempts, r->what);
        char key[600];
        snprintf (key, sizeof key, "%s", r->key);
        delete_pod (r->b, p, key, pod, mod_rev, grace, on, e.pdb ? tv_str (e.pdb, "metadata.name") : NULL);
        break;
    }
    case EVICT_DECREMENT: {
        const char *pname = tv_str (e.pdb, "metadata.name");
        char key[600];
        snprintf (key, sizeof key, "/registry/poddisruptionbudgets/%s/%s", r->ns, pname);
        uint64_t pdb_rev = 0;
        const json_t *cached = bcache_get (r->b->cache, key, &pdb_rev);
        if (!cached) { /* listed, so cached: never */
            bk_reply (r->sock, r->rid, r->req, TR_INTERNAL, NULL, 0, "poddisruptionbudgets \"%s\": not in the cache", pname);
            break;
        }
        json_t *next = json_copy ((json_t *) cached); /* shares all but the root and status with it */
        tv_unshare (next, "metadata");
        tv_del (next, "metadata.resourceVersion");
        json_object_set (next, "status", e.status);
        char what[300];
        snprintf (what, sizeof what, "poddisruptionbudgets.policy \"%s\"", pname);
        pending_write_t *p = step_new (r->sock, r->rid, r->req, r->id, r->attempts, what);
        p->then = pdb_written;
        p->ctx = json_pack ("{s:s,s:s,s:I,s:s}", "key", r->key, "what", r->what, "grace", grace, "pdb", pname);
        step_propose (r->b, p, key, 1, pdb_rev, next);
        break;
    }
    }
    evict_clear (&e);
    json_decref (pdbs);
}
