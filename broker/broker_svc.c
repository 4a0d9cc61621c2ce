/* broker_svc — Service writes: cluster IP and node port allocation (broker/svcalloc.h).
 *
 * Each allocated value is a reservation object in the store, created with the condition
 * "absent" before the Service itself is written: an IPAddress at /registry/ipaddresses/<ip>
 * (Kubernetes' networking.k8s.io IPAddress, one object per address, parentRef naming the
 * Service) and a ServiceNodePort at /registry/servicenodeports/<port> (Kubernetes keeps node
 * ports in a bitmap in etcd; an object per port is the same guard without a hot key). Two brokers
 * (HA) that pick the same value race on that create: the store lets exactly one through, the
 * other re-runs its request (an automatic value) or refuses it (a requested one). The taken sets
 * are read from the broker's watch cache (reservations and Services), so they survive a restart.
 *
 * Steps of a create (or an update that needs new node ports), each a proposal whose result runs
 * the next (pending_write_t.then):
 *   1. reservations, one batch, each "absent";
 *   2. all made: the Service (create "absent", update compare-and-swap); a reservation lost to
 *      another writer: the ones made are deleted, and the request is run again or refused;
 *   3. the Service not written (exists, conflict, no store leader): its new reservations are
 *      deleted. After any successful write of a Service (bk_svc_after_write), the reservations of
 *      that Service (same uid) it no longer holds are deleted: on delete, all of them.
 * A reservation left behind anyway (a server that died between steps 1 and 2) is an orphan: its
 * Service does not hold its value. Older than ORPHAN_MS it counts as free, and the next
 * allocation of that value takes it over with a compare-and-swap on its revision (Kubernetes'
 * repair loop, done lazily).
 */
#include "broker/broker_int.h"
#include "broker/svcalloc.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/store_proto.h"
#include "core/svcrules.h"
#include "core/value.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP_PLURAL "ipaddresses"
#define NP_PLURAL "servicenodeports"
#define UID_ANN "troupe.io/service-uid"
/* A reservation whose Service does not hold its value (gone, another uid, changed) is free again
 * after this long: past any request in flight (a broker answers within its request timeout), as
 * Kubernetes' repair loop reclaims leaked addresses and ports. */
#define ORPHAN_MS 60000

typedef struct {
    unsigned *v;
    size_t n, cap;
} uset_t;

static void
uset_add (uset_t *s, unsigned x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc (s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static int
holds_port (const json_t *svc, json_int_t port);

/* Does the Service that made reservation res (its parentRef and uid annotation) hold its value? */
static int
owner_holds (broker_t *b, const json_t *res, int ip)
{
    char key[600];
    snprintf (key, sizeof key, "/registry/services/%s/%s", tv_str (res, "spec.parentRef.namespace") ? tv_str (res, "spec.parentRef.namespace") : "",
              tv_str (res, "spec.parentRef.name") ? tv_str (res, "spec.parentRef.name") : "");
    const json_t *svc = bcache_get (b->cache, key, NULL);
    const char *uid = json_string_value (json_object_get (tv_get (res, "metadata.annotations"), UID_ANN));
    const char *name = tv_str (res, "metadata.name");
    if (!svc || !uid || !name || !tv_str (svc, "metadata.uid") || strcmp (uid, tv_str (svc, "metadata.uid")))
        return 0;
    if (ip)
        return tv_str (svc, "spec.clusterIP") && !strcmp (tv_str (svc, "spec.clusterIP"), name);
    return holds_port (svc, atoi (name));
}

/* Every reservation and every Service's addresses and node ports (sorted), but for orphaned
 * reservations older than ORPHAN_MS: those go into orphans (key → mod_rev), free to take over
 * with a compare-and-swap on their revision. */
static void
taken_sets (broker_t *b, uset_t *ips, uset_t *ports, json_t *orphans)
{
    json_t *items;
    uint64_t rev;
    char err[64];
    size_t i;
    json_t *o;
    unsigned v;
    int64_t now = (int64_t) zclock_time ();
    const char *plurals[] = {IP_PLURAL, NP_PLURAL};
    for (int k = 0; k < 2; k++) {
        if (bcache_list (b->cache, plurals[k], "", NULL, NULL, &items, &rev, err, sizeof err))
            continue;
        json_array_foreach (items, i, o) {
            const char *name = tv_str (o, "metadata.name");
            if (!name)
                continue;
            int64_t born = tr_time_parse (tv_str (o, "metadata.creationTimestamp"));
            if (born >= 0 && born + ORPHAN_MS < now && !owner_holds (b, o, k == 0)) {
                char key[96];
                uint64_t mod = 0;
                snprintf (key, sizeof key, "/registry/%s/%s", plurals[k], name);
                bcache_get (b->cache, key, &mod);
                json_object_set_new (orphans, key, json_integer ((json_int_t) mod));
                continue;
            }
            if (k == 0 && svc_parse_ipv4 (name, &v))
                uset_add (ips, v);
            else if (k == 1)
                uset_add (ports, (unsigned) atoi (name));
        }
        json_decref (items);
    }
    if (!bcache_list (b->cache, "services", "", NULL, NULL, &items, &rev, err, sizeof err)) {
        json_array_foreach (items, i, o) {
            if (svc_parse_ipv4 (tv_str (o, "spec.clusterIP"), &v))
                uset_add (ips, v);
            size_t j;
            json_t *p;
            json_array_foreach (tv_get (o, "spec.ports"), j, p) if (tv_int (p, "nodePort", 0) > 0)
                uset_add (ports, (unsigned) tv_int (p, "nodePort", 0));
        }
        json_decref (items);
    }
    svcalloc_sort (ips->v, ips->n);
    svcalloc_sort (ports->v, ports->n);
}

/* The reservation op for key: created absent, or an orphan taken over by compare-and-swap. */
static json_t *
reserve_op (const char *key, json_t *obj, const json_t *orphans)
{
    json_t *mod = json_object_get (orphans, key);
    if (mod)
        TR_INFO (A, "taking over an orphaned reservation key=%s", key);
    return json_pack ("[s,o,i,I]", key, obj, mod ? 3 : 1, mod ? json_integer_value (mod) : 0);
}

static json_t *
reservation (const char *kind, const char *api, const char *name, const json_t *svc)
{
    char ts[32];
    bk_rfc3339_now (ts, sizeof ts);
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s,s:s,s:s,s:s}}}", "apiVersion", api, "kind", kind,
                      "metadata", "name", name, "creationTimestamp", ts, "annotations", UID_ANN,
                      tv_str (svc, "metadata.uid") ? tv_str (svc, "metadata.uid") : "", "spec", "parentRef", "group", "",
                      "resource", "services", "namespace", tv_str (svc, "metadata.namespace"), "name",
                      tv_str (svc, "metadata.name"));
}

/* Sends a batch of puts/deletes ([key, obj or null (delete), cond, expect]...) with p as its
 * pending write (NULL: nobody waits for the answer). */
static void
propose_batch (broker_t *b, const json_t *ops, pending_write_t *p, uint64_t fence)
{
    size_t n = json_array_size (ops);
    sp_op_t *o = calloc (n ? n : 1, sizeof *o);
    char **vals = calloc (n ? n : 1, sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        json_t *op = json_array_get (ops, i);
        json_t *obj = json_array_get (op, 1);
        size_t len = 0;
        if (json_is_object (obj))
            tv_encode (obj, &vals[i], &len);
        o[i] = (sp_op_t) {.op = json_is_object (obj) ? 1 : 2, .cond = (int) json_integer_value (json_array_get (op, 2)),
                          .expect = (uint64_t) json_integer_value (json_array_get (op, 3)),
                          .key = json_string_value (json_array_get (op, 0)), .val = vals[i] ? vals[i] : "", .len = len};
    }
    uint64_t pid = b->next_id++;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose_fenced (&sb, pid, o, n, fence);
    for (size_t i = 0; i < n; i++)
        free (vals[i]);
    free (vals);
    free (o);
    if (p)
        bk_pending_add (b, pid, p);
    zsock_send (b->store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

/* Deletes reservations (keys) if they still belong to the Service uid. */
static void
release_keys (broker_t *b, const json_t *keys, const char *uid)
{
    json_t *ops = json_array ();
    size_t i;
    json_t *k;
    json_array_foreach (keys, i, k) {
        uint64_t mod;
        const json_t *cur = bcache_get (b->cache, json_string_value (k), &mod);
        /* tv_get walks dots: the annotation key has dots, so it is looked up directly */
        const char *owner = cur ? json_string_value (json_object_get (tv_get (cur, "metadata.annotations"), UID_ANN)) : NULL;
        if (owner && uid && !strcmp (owner, uid))
            json_array_append_new (ops, json_pack ("[O,n,i,I]", k, 3, (json_int_t) mod));
    }
    if (json_array_size (ops))
        propose_batch (b, ops, NULL, 0);
    json_decref (ops);
}

static int
op_result (const msgpack_object *res, size_t i, uint64_t *rev)
{
    if (!res || res->type != MSGPACK_OBJECT_ARRAY || i >= res->via.array.size)
        return 4;
    const msgpack_object *r = &res->via.array.ptr[i];
    if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 3)
        return 4;
    if (rev)
        *rev = r->via.array.ptr[1].via.u64;
    return (int) r->via.array.ptr[0].via.u64;
}

static pending_write_t *
pending_from (const pending_write_t *p)
{
    pending_write_t *q = calloc (1, sizeof *q);
    q->sock = p->sock;
    q->rid = zframe_dup (p->rid);
    q->req_id = p->req_id;
    snprintf (q->what, sizeof q->what, "%s", p->what);
    q->ident = p->ident;
    q->attempts = p->attempts;
    if (p->retry) {
        q->retry = calloc (1, sizeof *q->retry);
        *q->retry = *p->retry;
        q->retry->body = json_incref (p->retry->body); /* read-only: shared, as bk_propose does */
        q->retry->opts = json_incref (p->retry->opts);
        q->retry->msg = NULL;
    }
    return q;
}

/* Step 3: the Service's write answered. ctx: {keys: [new reservations]} */
static void
svc_written (void *broker, pending_write_t *p, const msgpack_object *res)
{
    broker_t *b = broker;
    uint64_t rev = 0;
    int result = op_result (res, 0, &rev);
    if (result != 0)
        release_keys (b, json_object_get (p->ctx, "keys"), tv_str (p->obj, "metadata.uid"));
    bk_write_answered (b, p, result, rev);
}

/* A lost race's retry, once the reservations it had won are deleted (their deletion applied, so
 * the new pick cannot see them as taken: in a small range that read as "full"). */
static void
retry_after_release (void *broker, pending_write_t *p, const msgpack_object *res)
{
    (void) res;
    bk_handle ((broker_t *) broker, p->sock, p->rid, p->retry, &p->ident, p->attempts + 1);
}

/* Step 2: the reservations answered. ctx: {keys, requested: [bool], key, cond, expect, fence} */
static void
reserved (void *broker, pending_write_t *p, const msgpack_object *res)
{
    broker_t *b = broker;
    json_t *keys = json_object_get (p->ctx, "keys");
    json_t *made = json_array ();
    json_t *undo = json_array (); /* the reservations this batch made, deleted at their revision */
    int lost = -1, other = 0;
    for (size_t i = 0; i < json_array_size (keys); i++) {
        uint64_t mrev = 0;
        int r = op_result (res, i, &mrev);
        if (r == 0) {
            json_array_append (made, json_array_get (keys, i));
            json_array_append_new (undo, json_pack ("[O,n,i,I]", json_array_get (keys, i), 3, (json_int_t) mrev));
        }
        else if ((r == 1 || r == 3) && lost < 0) /* exists; an orphan taken over meanwhile */
            lost = (int) i;
        else if (r != 1 && r != 3)
            other = r;
    }
    tr_env_t req;
    tr_env_init (&req);
    req.id = p->req_id;
    if (lost >= 0 || other) {
        json_decref (made);
        const char *k = json_string_value (json_array_get (keys, (size_t) (lost >= 0 ? lost : 0)));
        const char *val = k ? strrchr (k, '/') + 1 : "";
        int requested = lost >= 0 && json_is_true (json_array_get (json_object_get (p->ctx, "requested"), (size_t) lost));
        if (lost >= 0 && !requested && p->retry && p->attempts < 4 * MAX_RETRIES) {
            /* another writer took the value we picked: pick again from the cache, which has it now
             * (its event came before our answer), once what we won here is released */
            TR_INFO (A, "allocation raced another broker: picking again key=%s attempt=%d", k, p->attempts + 1);
            pending_write_t *q = pending_from (p);
            q->then = retry_after_release;
            if (json_array_size (undo))
                propose_batch (b, undo, q, 0);
            else {
                retry_after_release (b, q, NULL);
                bk_pending_free (b, q);
            }
            json_decref (undo);
            return;
        }
        if (json_array_size (undo))
            propose_batch (b, undo, NULL, 0); /* the won ones are ours: no need to read the cache */
        json_decref (undo);
        if (lost >= 0) {
            const char *path = json_string_value (json_array_get (json_object_get (p->ctx, "paths"), (size_t) lost));
            int is_ip = strstr (k, "/" IP_PLURAL "/") != NULL;
            if (is_ip)
                bk_reply (p->sock, p->rid, &req, TR_INVALID, NULL, 0,
                          "Service \"%s\" is invalid: %s: Invalid value: \"%s\": failed to allocate IP %s: provided IP is "
                          "already allocated",
                          tv_str (p->obj, "metadata.name"), path, val, val);
            else
                bk_reply (p->sock, p->rid, &req, TR_INVALID, NULL, 0,
                          "Service \"%s\" is invalid: %s: Invalid value: %s: provided port is already allocated",
                          tv_str (p->obj, "metadata.name"), path, val);
        }
        else
            bk_write_answered (b, p, other, 0);
        return;
    }
    json_decref (made);
    json_decref (undo);
    pending_write_t *q = pending_from (p);
    q->obj = json_incref (p->obj);
    q->then = svc_written;
    q->ctx = json_pack ("{s:O}", "keys", keys);
    json_t *ops = json_pack ("[[s,O,I,I]]", json_string_value (json_object_get (p->ctx, "key")), p->obj,
                             json_integer_value (json_object_get (p->ctx, "cond")),
                             json_integer_value (json_object_get (p->ctx, "expect")));
    propose_batch (b, ops, q, (uint64_t) json_integer_value (json_object_get (p->ctx, "fence")));
    json_decref (ops);
}

static void
invalid (rq_t *r, const json_t *svc, const char *fmt, const char *a, const char *b)
{
    char msg[400];
    snprintf (msg, sizeof msg, fmt, a, b);
    bk_reply (r->sock, r->rid, r->req, TR_INVALID, NULL, 0, "Service \"%s\" is invalid: %s", tv_str (svc, "metadata.name"),
              msg);
}

void
bk_svc_keep_allocated (const json_t *cur, json_t *next)
{
    /* as the api-server's patchAllocatedValues: an update that leaves clusterIP (or a nodePort of
     * the same port and protocol) out keeps the allocated one */
    json_t *spec = json_object_get (next, "spec");
    if (!json_is_object (spec))
        return;
    const char *ip = tv_str (spec, "clusterIP");
    if ((!ip || !*ip) && tv_str (cur, "spec.clusterIP") && !json_array_size (json_object_get (spec, "clusterIPs"))) {
        json_object_set (spec, "clusterIP", tv_get (cur, "spec.clusterIP"));
        if (tv_get (cur, "spec.clusterIPs"))
            json_object_set (spec, "clusterIPs", tv_get (cur, "spec.clusterIPs"));
    }
    if (!svc_needs_node_ports (next) || !svc_needs_node_ports (cur))
        return;
    size_t i, j;
    json_t *p, *q;
    json_array_foreach (json_object_get (spec, "ports"), i, p) {
        if (tv_int (p, "nodePort", 0))
            continue;
        json_array_foreach (tv_get (cur, "spec.ports"), j, q) {
            const char *pp = tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP";
            const char *qp = tv_str (q, "protocol") ? tv_str (q, "protocol") : "TCP";
            if (tv_int (p, "port", 0) == tv_int (q, "port", 0) && !strcmp (pp, qp) && tv_int (q, "nodePort", 0)) {
                json_object_set (p, "nodePort", json_object_get (q, "nodePort"));
                break;
            }
        }
    }
}

static int
holds_port (const json_t *svc, json_int_t port)
{
    size_t j;
    json_t *q;
    if (!svc || !svc_needs_node_ports (svc))
        return 0;
    json_array_foreach (tv_get (svc, "spec.ports"), j, q) if (tv_int (q, "nodePort", 0) == port) return 1;
    return 0;
}

int
bk_svc_write (rq_t *r, const json_t *cur, json_t *obj, int cond, uint64_t expect)
{
    broker_t *b = r->b;
    uset_t ips = {0}, ports = {0};
    json_t *orphans = json_object ();
    taken_sets (b, &ips, &ports, orphans);
    json_t *reserve = json_array (), *keys = json_array (), *requested = json_array (), *paths = json_array ();
    char ipbuf[20], key[64];
    int rc = 0;
    /* the cluster IP: only at creation (it is immutable) */
    const char *ip = tv_str (obj, "spec.clusterIP");
    if (!cur && !(ip && !strcmp (ip, "None"))) {
        unsigned v;
        int want = ip && *ip;
        if (want) {
            svc_parse_ipv4 (ip, &v);
            int c = svcalloc_ip_check (&b->svc_cidr, v, ips.v, ips.n);
            if (c == SVCALLOC_OUT_OF_RANGE) {
                char range[40];
                svcalloc_ip_str (b->svc_cidr.base, range, sizeof range);
                size_t l = strlen (range);
                snprintf (range + l, sizeof range - l, "/%d", 32 - __builtin_ctz (b->svc_cidr.size));
                invalid (r, obj,
                         "spec.clusterIPs: Invalid value: \"%s\": failed to allocate IP: the provided IP is not in the "
                         "valid range. The range of valid IPs is %s",
                         ip, range);
                rc = -1;
                goto out;
            }
            if (c == SVCALLOC_TAKEN) {
                invalid (r, obj, "spec.clusterIPs: Invalid value: \"%s\": failed to allocate IP %s: provided IP is already allocated", ip, ip);
                rc = -1;
                goto out;
            }
        } else if (svcalloc_ip_pick (&b->svc_cidr, ips.v, ips.n, randombytes_random (), &v) != SVCALLOC_OK) {
            invalid (r, obj, "spec.clusterIPs: Internal error: failed to allocate a serviceIP: range is full%s%s", "", "");
            rc = -1;
            goto out;
        }
        svcalloc_ip_str (v, ipbuf, sizeof ipbuf);
        tv_set_str (obj, "spec.clusterIP", ipbuf);
        tv_set (obj, "spec.clusterIPs", json_pack ("[s]", ipbuf));
        snprintf (key, sizeof key, "/registry/" IP_PLURAL "/%s", ipbuf);
        json_array_append_new (reserve, reserve_op (key, reservation ("IPAddress", "networking.k8s.io/v1", ipbuf, obj), orphans));
        json_array_append_new (keys, json_string (key));
        json_array_append_new (requested, json_boolean (want));
        json_array_append_new (paths, json_string ("spec.clusterIPs"));
    }
    /* node ports: those the Service did not hold already */
    if (svc_needs_node_ports (obj)) {
        size_t i;
        json_t *p;
        json_array_foreach (tv_get (obj, "spec.ports"), i, p) {
            json_int_t np = tv_int (p, "nodePort", 0);
            if (np && holds_port (cur, np))
                continue;
            unsigned v = (unsigned) np;
            if (np) {
                /* the same port for TCP and UDP of one Service is one reservation */
                int dup = 0;
                for (size_t j = 0; j < i; j++)
                    dup |= tv_int (json_array_get (tv_get (obj, "spec.ports"), j), "nodePort", 0) == np;
                if (dup)
                    continue;
                int c = svcalloc_port_check (&b->svc_ports, v, ports.v, ports.n);
                if (c != SVCALLOC_OK) {
                    char path[64], range[40], msg[200];
                    snprintf (path, sizeof path, "spec.ports[%zu].nodePort", i);
                    snprintf (range, sizeof range, "%d-%d", b->svc_ports.lo, b->svc_ports.hi);
                    if (c == SVCALLOC_TAKEN)
                        snprintf (msg, sizeof msg, "%lld: provided port is already allocated", (long long) np);
                    else
                        snprintf (msg, sizeof msg, "%lld: provided port is not in the valid range. The range of valid ports is %s",
                                  (long long) np, range);
                    invalid (r, obj, "%s: Invalid value: %s", path, msg);
                    rc = -1;
                    goto out;
                }
            } else if (svcalloc_port_pick (&b->svc_ports, ports.v, ports.n, randombytes_random (), &v) != SVCALLOC_OK) {
                invalid (r, obj, "spec.ports[].nodePort: Internal error: failed to allocate a nodePort: range is full%s%s", "", "");
                rc = -1;
                goto out;
            } else {
                tv_set_int (p, "nodePort", v);
                uset_add (&ports, v); /* the next port of this Service must not pick it again */
                svcalloc_sort (ports.v, ports.n);
            }
            char name[16];
            snprintf (name, sizeof name, "%u", v);
            snprintf (key, sizeof key, "/registry/" NP_PLURAL "/%s", name);
            json_array_append_new (reserve, reserve_op (key, reservation ("ServiceNodePort", "troupe.io/v1", name, obj), orphans));
            json_array_append_new (keys, json_string (key));
            json_array_append_new (requested, json_boolean (np != 0));
            char path[64];
            snprintf (path, sizeof path, "spec.ports[%zu].nodePort", i);
            json_array_append_new (paths, json_string (path));
        }
    }
    {
        json_int_t fence = r->req->opts ? json_integer_value (json_object_get (r->req->opts, "fence")) : 0;
        pending_write_t *p = calloc (1, sizeof *p);
        p->sock = r->sock;
        p->rid = zframe_dup (r->rid);
        p->req_id = r->req->id;
        snprintf (p->what, sizeof p->what, "%s", r->what);
        p->ident = *r->id;
        p->attempts = r->attempts;
        /* a retry runs the whole request again (new picks): only without a client precondition */
        if (!expect || r->retryable) {
            p->retry = calloc (1, sizeof *p->retry);
            *p->retry = *r->req;
            p->retry->body = json_incref (r->req->body); /* read-only: shared, as bk_propose does */
            p->retry->opts = json_incref (r->req->opts);
            p->retry->msg = NULL;
        }
        p->obj = obj;
        obj = NULL;
        p->ctx = json_pack ("{s:O,s:O,s:O,s:s,s:i,s:I,s:I}", "keys", keys, "requested", requested, "paths", paths, "key", r->key, "cond",
                            cond, "expect", (json_int_t) expect, "fence", fence);
        if (json_array_size (reserve)) {
            p->then = reserved;
            propose_batch (b, reserve, p, 0);
        } else {
            /* nothing new to reserve: straight to step 2 */
            p->then = svc_written;
            json_t *ops = json_pack ("[[s,O,I,I]]", r->key, p->obj, (json_int_t) cond, (json_int_t) expect);
            propose_batch (b, ops, p, (uint64_t) fence);
            json_decref (ops);
        }
    }
out:
    json_decref (obj);
    json_decref (reserve);
    json_decref (keys);
    json_decref (requested);
    json_decref (paths);
    json_decref (orphans);
    free (ips.v);
    free (ports.v);
    return rc;
}

void
bk_svc_after_write (broker_t *b, const json_t *svc, int deleted)
{
    const char *uid = tv_str (svc, "metadata.uid");
    if (!uid)
        return;
    json_t *stale = json_array ();
    const char *plurals[] = {IP_PLURAL, NP_PLURAL};
    for (int k = 0; k < 2; k++) {
        json_t *items;
        uint64_t rev;
        char err[64];
        if (bcache_list (b->cache, plurals[k], "", NULL, NULL, &items, &rev, err, sizeof err))
            continue;
        size_t i;
        json_t *o;
        json_array_foreach (items, i, o) {
            const char *owner = json_string_value (json_object_get (tv_get (o, "metadata.annotations"), UID_ANN));
            const char *name = tv_str (o, "metadata.name");
            if (!owner || strcmp (owner, uid) || !name)
                continue;
            int held = !deleted && (k == 0 ? !strcmp (name, tv_str (svc, "spec.clusterIP") ? tv_str (svc, "spec.clusterIP") : "")
                                           : holds_port (svc, atoi (name)));
            if (!held) {
                char key[96];
                snprintf (key, sizeof key, "/registry/%s/%s", plurals[k], name);
                json_array_append_new (stale, json_string (key));
            }
        }
        json_decref (items);
    }
    if (json_array_size (stale))
        release_keys (b, stale, uid);
    json_decref (stale);
}
