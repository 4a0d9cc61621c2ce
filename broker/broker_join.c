/* broker_join — a node joins with a bootstrap token (NodeJoin).
 *
 * An unknown CURVE key reaches the broker (core/zap.h admits it on the broker's domain) and may
 * send one request: create NodeJoin {token, nodeName}. The token is checked against its Secret in
 * the watch cache (core/bootstrap.h); when it holds, the key becomes node nodeName's: its
 * certificate is written to DATA/pki/clients/node-NAME.cert (role node), which the other servers
 * of a replicated cluster take from the store (cli/cluster_pki.c). From then on the key is that
 * node and nothing else (NodeRestriction), as a kubelet's bootstrap ends with a node client
 * certificate. A name is not taken while its Node exists, nor for 10 minutes after another key
 * joined under it; a key that is somebody already cannot join as another. */
#include "broker/broker_int.h"
#include "core/bootstrap.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* A name another key joined under is held this long for its Node to appear (s). */
#define BK_JOIN_HOLD_S 600

/* A Node name as Kubernetes takes it (DNS subdomain), kept to 63 characters: it names a file. */
static int
valid_node_name (const char *n)
{
    size_t len = n ? strlen (n) : 0;
    if (len == 0 || len > 63 || n[0] == '-' || n[0] == '.' || n[len - 1] == '-' || n[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-' || n[i] == '.'))
            return 0;
    return 1;
}

static int64_t
now_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int
bk_is_join (const tr_env_t *req)
{
    return req->verb == TR_VERB_CREATE && !strcmp (req->kind, "NodeJoin");
}

/* 0 when the certificate file at path is on disk (fsync'd) and reads back as key's: zcert's save
 * does not check its writes, and a short one (a full disk) must not be renamed into clients/ */
static int
cert_settle (const char *path, const char *key)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    zcert_t *back = rc ? NULL : zcert_load (path);
    rc = back && !strcmp (zcert_public_txt (back), key) ? 0 : -1;
    zcert_destroy (&back);
    return rc;
}

void
bk_join (broker_t *b, zsock_t *sock, zframe_t *rid, const tr_env_t *req, const char *key, const ident_t *known)
{
    const char *token = tv_str (req->body, "token"), *node = tv_str (req->body, "nodeName");
    char err[400], path[1400];
    tr_token_t t;
    if (!key || strlen (key) != 40) {
        bk_reply (sock, rid, req, TR_UNAUTHORIZED, NULL, 0, "joining needs a CURVE connection");
        return;
    }
    if (!b->pki_dir[0]) {
        bk_reply (sock, rid, req, TR_BAD_REQUEST, NULL, 0, "this server has no tcp endpoint to join");
        return;
    }
    if (!valid_node_name (node)) {
        bk_reply (sock, rid, req, TR_INVALID, NULL, 0,
                  "nodeName: Invalid value: \"%s\": a lowercase RFC 1123 name of at most 63 characters "
                  "([a-z0-9.-], starting and ending with a letter or digit)", node ? node : "");
        return;
    }
    if (tr_token_parse (token, &t, err, sizeof err)) {
        bk_reply (sock, rid, req, TR_UNAUTHORIZED, NULL, 0, "%s", err);
        return;
    }
    char skey[300];
    snprintf (skey, sizeof skey, "/registry/secrets/" TR_TOKEN_NS "/" TR_TOKEN_SECRET_PREFIX "%s", t.id);
    const json_t *secret = bcache_get (b->cache, skey, NULL);
    if (tr_token_check (secret, &t, now_ms (), err, sizeof err) != TR_TOKEN_OK) {
        TR_INFO (A, "join refused node=%s key=%s reason=\"%s\"", node, key, err);
        bk_reply (sock, rid, req, TR_UNAUTHORIZED, NULL, 0, "%s", err);
        return;
    }
    if (known) {
        /* a key with a certificate already is somebody: only node nodeName may ask again (an
         * answer, nothing written); a second certificate for one key would be two identities */
        if (known->role == ROLE_NODE && !strcmp (known->name, node)) {
            json_t *out = json_pack ("{s:s, s:s}", "nodeName", node, "role", "node");
            bk_reply (sock, rid, req, TR_OK, out, 0, NULL);
            json_decref (out);
        } else
            bk_reply (sock, rid, req, TR_CONFLICT, NULL, 0, "this key is already %s \"%s\": it cannot join as node \"%s\"",
                      bk_role_name (known->role), known->name, node);
        return;
    }
    snprintf (path, sizeof path, "%s/clients/node-%s.cert", b->pki_dir, node);
    zcert_t *old = zcert_load (path);
    char nkey[300];
    snprintf (nkey, sizeof nkey, "/registry/nodes/%s", node);
    struct stat st;
    int fresh = old && stat (path, &st) == 0 && time (NULL) - st.st_mtime < BK_JOIN_HOLD_S;
    if ((old && strcmp (zcert_public_txt (old), key) && fresh) || bcache_get (b->cache, nkey, NULL)) {
        /* the name is somebody's: its Node exists (made by a node of another key, by the server's
         * own agent, or applied), or another key joined under it moments ago and has not
         * registered yet */
        zcert_destroy (&old);
        bk_reply (sock, rid, req, TR_CONFLICT, NULL, 0,
                  "node \"%s\" exists or has already joined with another key: delete it first (troupe delete node "
                  "%s) or join under another --node-name", node, node);
        return;
    }
    if (old && strcmp (zcert_public_txt (old), key))
        zhashx_delete (b->clients, zcert_public_txt (old)); /* its Node is gone: the name is free */
    if (!old || strcmp (zcert_public_txt (old), key)) {
        unsigned char pub[32], none[32] = {0};
        zmq_z85_decode (pub, key);
        zcert_t *c = zcert_new_from (pub, none);
        zcert_set_meta (c, "name", "%s", node);
        zcert_set_meta (c, "role", "node");
        zcert_set_meta (c, "joined-with", "%s", t.id);
        /* written whole or not at all (a temporary file beside clients/, then renamed): the
         * cluster's key sync reads that directory every 5 s and publishes what it finds to the
         * other servers, created-if-absent; a certificate it read half-written was published so,
         * installed back over this one, and the node's key was unknown from then on (seen with
         * 5,000 hollow nodes joining a 3-server cluster: "lease renewal failed: Unauthorized") */
        char tmp[1200];
        snprintf (tmp, sizeof tmp, "%s/.join-%s.tmp", b->pki_dir, node);
        int rc = zcert_save_public (c, tmp) || cert_settle (tmp, key) || rename (tmp, path) ? -1 : 0;
        if (rc)
            unlink (tmp);
        zcert_destroy (&c);
        if (rc) {
            zcert_destroy (&old);
            TR_ERROR (A, "join: cannot write path=%s", path);
            bk_reply (sock, rid, req, TR_INTERNAL, NULL, 0, "the server could not record the node's key");
            return;
        }
        /* this key is node nodeName's from now on: added here, not by reading every certificate
         * again (5,000 hollow nodes joining made that O(N²)); a replaced old key went above, and
         * bk_identify still rereads the directory when something else changed it */
        ident_t *id = calloc (1, sizeof *id);
        snprintf (id->name, sizeof id->name, "%s", node);
        id->role = ROLE_NODE;
        snprintf (id->key, sizeof id->key, "%s", key);
        zhashx_update (b->clients, key, id);
        TR_INFO (A, "node joined node=%s key=%s token=%s", node, key, t.id);
    }
    zcert_destroy (&old);
    json_t *out = json_pack ("{s:s, s:s}", "nodeName", node, "role", "node");
    bk_reply (sock, rid, req, TR_OK, out, 0, NULL);
    json_decref (out);
}
