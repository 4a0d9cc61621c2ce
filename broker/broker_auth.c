/* broker_auth — identities and authorisation. See broker.h (roles) and broker_int.h. */
#include "broker/broker_int.h"
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

int
bk_is_write (tr_verb_t v)
{
    return v == TR_VERB_CREATE || v == TR_VERB_UPDATE || v == TR_VERB_UPDATE_STATUS || v == TR_VERB_PATCH ||
           v == TR_VERB_DELETE;
}

/* Returns NULL if allowed, else the reason. A node may write its own Node and Lease, Events,
 * and the status (or final deletion) of pods bound to it. */
const char *
bk_authorize (const ident_t *id, tr_verb_t verb, const char *kind, const json_t *cur, const json_t *newobj,
              const char *name)
{
    if (id->role == ROLE_ADMIN || id->role == ROLE_CONTROLLER)
        return NULL;
    if (!bk_is_write (verb))
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
    ident_t *known = key ? zhashx_lookup (b->clients, key) : NULL;
    if (!known && key && zclock_mono () - b->clients_loaded_at > 1000) {
        /* zauth accepted the key, so its certificate was added after we started (troupe init
         * node): read the directory again, at most once a second */
        bk_load_clients (b, b->pki_dir);
        known = zhashx_lookup (b->clients, key);
    }
    if (!known)
        return -1;
    *id = *known;
    return 0;
}

int
bk_load_clients (broker_t *b, const char *pki_dir)
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
