/* broker_auth — identities and authorisation. See broker.h (roles) and broker_int.h. */
#include "broker/broker_int.h"
#include "core/certdir.h"
#include "core/conn.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/schema.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
bk_role_name (role_t r)
{
    return az_role_name (r);
}

/* ---- authorisation (the decision is authz.c's) ---------------------------------------------- */

int
bk_is_write (tr_verb_t v)
{
    return v == TR_VERB_CREATE || v == TR_VERB_UPDATE || v == TR_VERB_UPDATE_STATUS || v == TR_VERB_PATCH ||
           v == TR_VERB_DELETE;
}

/* The node authorizer's lookup: pods bound to node in ns, from the watch cache. */
static json_t *
pods_on_node (void *arg, const char *node, const char *ns)
{
    broker_t *b = arg;
    char fs[300], err[128];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", node);
    json_t *items = NULL;
    uint64_t rev;
    if (bcache_list (b->cache, "pods", ns, NULL, fs, &items, &rev, err, sizeof err))
        return NULL;
    return items;
}

static int
decide (rq_t *r, const json_t *cur, const json_t *newobj, const char *name, int role_only)
{
    const char *sub = "";
    az_request_t q = {.role = r->id->role, .user = r->id->name, .kind = schema_kind_name (r->sk), .name = name,
                      .obj = newobj, .old = cur};
    q.verb = az_verb_of (r->req->verb, r->req->opts, &sub);
    if (!q.verb)
        return 0; /* not a verb on objects: bk_handle answers MethodNotAllowed */
    q.subresource = sub;
    const char *ons = tv_str (cur ? cur : newobj, "metadata.namespace");
    q.ns = schema_kind_namespaced (r->sk) ? (ons ? ons : r->ns) : "";
    az_lookup_t lk = {.pods_on_node = pods_on_node, .arg = r->b};
    char why[400];
    if (role_only ? az_role_may (&q, why, sizeof why) : az_decide (&q, &lk, why, sizeof why))
        return 0;
    char msg[1024];
    az_forbidden_message (&q, why, msg, sizeof msg);
    TR_INFO (A, "forbidden user=%s role=%s verb=%s kind=%s ns=%s name=%s reason=\"%s\"", r->id->name,
             az_role_name (r->id->role), q.verb ? q.verb : "?", q.kind, q.ns, name ? name : "", why);
    bk_reply (r->sock, r->rid, r->req, TR_FORBIDDEN, NULL, 0, "%s", msg);
    return -1;
}

int
bk_authorize (rq_t *r, const json_t *cur, const json_t *newobj, const char *name)
{
    return decide (r, cur, newobj, name, 0);
}

int
bk_authorize_role (rq_t *r)
{
    return decide (r, NULL, NULL, r->req->name, 1);
}

int
bk_identify (broker_t *b, zsock_t *sock, zmsg_t *m, ident_t *id)
{
    if (sock == b->local) {
        snprintf (id->name, sizeof id->name, "local-admin");
        id->role = ROLE_ADMIN;
        return 0;
    }
    zframe_t *body = zmsg_last (m);
    const char *key = body ? zframe_meta (body, "User-Id") : NULL;
    snprintf (id->key, sizeof id->key, "%s", key ? key : "");
    int64_t now = zclock_mono ();
    if (key && now - b->clients_checked_at > 1000) {
        /* a certificate replaced or removed (a name taken over after its Node was deleted, a
         * synced directory): the old key must not stay somebody */
        b->clients_checked_at = now;
        bk_load_clients (b, b->pki_dir, 0);
    }
    ident_t *known = key ? zhashx_lookup (b->clients, key) : NULL;
    if (!known && key && now - b->clients_loaded_at > 1000) {
        /* zauth accepted the key, so its certificate was added after we started (a node joined
         * through another server), maybe rewritten in place: every file looked at again, at most
         * once a second (a joining node's first requests come with a key no file holds yet) */
        b->clients_loaded_at = now;
        bk_load_clients (b, b->pki_dir, 1);
        known = zhashx_lookup (b->clients, key);
    }
    if (!known)
        return -1;
    snprintf (id->name, sizeof id->name, "%s", known->name);
    id->role = known->role;
    return 0;
}

int
bk_load_clients (broker_t *b, const char *pki_dir, int force)
{
    if (!b->certs) {
        char dir[1100];
        snprintf (dir, sizeof dir, "%s/clients", pki_dir);
        b->certs = certdir_new (dir);
        if (!b->certs)
            return 0;
        force = 1;
    }
    /* only the certificates new or changed since the last read are parsed (certdir.h); the keys
     * are taken again from it when any changed, so one replaced or removed goes (bk_h_join adds
     * a key once its file is in place: the file holds it too) */
    if (certdir_scan (b->certs, force) > 0) {
        zhashx_purge (b->clients);
        for (const certdir_cert_t *c = certdir_first (b->certs); c; c = certdir_next (b->certs)) {
            ident_t *id = calloc (1, sizeof *id);
            if (!id)
                break;
            snprintf (id->name, sizeof id->name, "%s", c->name[0] ? c->name : "unnamed");
            id->role = az_role_parse (c->role[0] ? c->role : NULL);
            snprintf (id->key, sizeof id->key, "%s", c->key);
            zhashx_update (b->clients, c->key, id);
        }
    }
    return (int) zhashx_size (b->clients);
}
