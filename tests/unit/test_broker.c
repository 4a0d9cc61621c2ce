/* broker + store actor in one process: bad frames, unknown verb and kind, validation, CAS,
 * roles over CURVE tcp (unauthenticated, viewer, node), watch with credit and Expired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sodium.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "broker/encryption.h"
#include "core/bootstrap.h"
#include "core/client.h"
#include "core/conn.h"
#include "core/store_proto.h"
#include "core/value.h"
#include "tests/unit/watch_fixture.h"

typedef struct {
    char dir[256];
    char local[600];
    char tcp[64];
    zactor_t *store, *broker;
    zcert_t *server, *viewer, *node1, *admin, *ctrl;
    int ring_max, ring_window_ms; /* 0: the fixture's fixed ring of 64 events */
} fx_t;

static zcert_t *
client_cert (const char *pki, const char *name, const char *role)
{
    zcert_t *c = zcert_new ();
    zcert_set_meta (c, "name", "%s", name);
    zcert_set_meta (c, "role", "%s", role);
    char path[512];
    snprintf (path, sizeof path, "%s/clients/%s.cert", pki, name);
    zcert_save_public (c, path);
    return c;
}

static void
start_broker (fx_t *f)
{
    char pki[400], sep[64];
    snprintf (pki, sizeof pki, "%s/pki", f->dir);
    snprintf (sep, sizeof sep, "inproc://tb-store-%d", getpid ());
    broker_opts_t o = {.store_endpoint = sep, .local_endpoints = f->local, .tcp_endpoint = f->tcp,
                       .pki_dir = pki, .ring_size = 64, .ring_max = f->ring_max ? f->ring_max : 64,
                       .ring_window_ms = f->ring_window_ms};
    /* a broker started again right after one stopped: its inproc endpoint is released when ZeroMQ's
     * reaper closes the old socket, a moment later */
    for (int i = 0; i < 100 && !(f->broker = broker_new (&o)); i++)
        zclock_sleep (20);
    assert_non_null (f->broker);
}

static int
setup (void **state)
{
    fx_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/troupe-tb-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char path[512], pki[400], store[400];
    snprintf (pki, sizeof pki, "%s/pki", f->dir);
    snprintf (path, sizeof path, "%s/clients", pki);
    mkdir (pki, 0700);
    mkdir (path, 0700);
    snprintf (store, sizeof store, "%s/store", f->dir);
    mkdir (store, 0700);
    f->server = zcert_new ();
    snprintf (path, sizeof path, "%s/server.cert", pki);
    zcert_save (f->server, path);
    f->viewer = client_cert (pki, "alice", "viewer");
    f->node1 = client_cert (pki, "n1", "node");
    f->admin = client_cert (pki, "root", "admin");
    f->ctrl = client_cert (pki, "kcm", "controller");
    snprintf (f->local, sizeof f->local, "inproc://tb-broker-%d", getpid ());
    int port = 20000 + getpid () % 12000; /* below the ephemeral ports (32768+) */
    snprintf (f->tcp, sizeof f->tcp, "tcp://127.0.0.1:%d", port);
    encryption_t *enc = encryption_new (); /* what troupe init makes */
    char err[300];
    snprintf (path, sizeof path, "%s/%s", pki, ENC_CONFIG_FILE);
    assert_int_equal (encryption_save (enc, path, err, sizeof err), 0);
    encryption_destroy (&enc);
    char sep[64];
    snprintf (sep, sizeof sep, "inproc://tb-store-%d", getpid ());
    f->store = store_actor_new (store, sep);
    assert_non_null (f->store);
    start_broker (f);
    *state = f;
    return 0;
}

static int
teardown (void **state)
{
    fx_t *f = *state;
    zactor_destroy (&f->broker);
    zactor_destroy (&f->store);
    zcert_destroy (&f->server);
    zcert_destroy (&f->viewer);
    zcert_destroy (&f->node1);
    zcert_destroy (&f->admin);
    zcert_destroy (&f->ctrl);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

static tr_client_t *
local_client (fx_t *f)
{
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    assert_non_null (c);
    return c;
}

static tr_client_t *
tcp_client (fx_t *f, zcert_t *me)
{
    tr_creds_t cr;
    memset (&cr, 0, sizeof cr);
    strcpy (cr.server_key, zcert_public_txt (f->server));
    strcpy (cr.public_key, zcert_public_txt (me));
    strcpy (cr.secret_key, zcert_secret_txt (me));
    char err[256];
    tr_client_t *c = tr_client_new (f->tcp, &cr, err, sizeof err);
    assert_non_null (c);
    return c;
}

/* Sends one request; returns the reply's code (TR_TIMEOUT if none). */
static int
call (tr_client_t *c, tr_verb_t verb, const char *kind, const char *ns, const char *name, uint64_t rv, json_t *body,
      tr_env_t *out)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    if (kind)
        snprintf (req.kind, sizeof req.kind, "%s", kind);
    if (ns)
        snprintf (req.ns, sizeof req.ns, "%s", ns);
    if (name)
        snprintf (req.name, sizeof req.name, "%s", name);
    req.rv = rv;
    req.body = body;
    int rc = tr_client_call (c, &req, &rep, 5000);
    tr_env_clear (&req);
    if (rc)
        return TR_TIMEOUT;
    int code = rep.code;
    if (out)
        *out = rep;
    else
        tr_env_clear (&rep);
    return code;
}

static json_t *
cm (const char *name, const char *v)
{
    return json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", name,
                      "data", "k", v);
}

static void
raw_frames (void **state)
{
    fx_t *f = *state;
    zsock_t *s = zsock_new_dealer (f->local);
    zsock_set_rcvtimeo (s, 5000);
    const char *bad[] = {"\xc1", "\x81", "\x93\x01\x02", "\xdd\xff\xff\xff\xff"};
    const size_t len[] = {1, 1, 3, 5};
    for (int i = 0; i < 4; i++) {
        zsock_send (s, "b", bad[i], len[i]);
        zframe_t *r = zframe_recv (s);
        assert_non_null (r);
        tr_env_t e;
        assert_int_equal (tr_env_decode (&e, zframe_data (r), zframe_size (r), NULL, 0), TR_OK);
        assert_int_equal (e.code, TR_BAD_REQUEST);
        assert_non_null (e.msg);
        tr_env_clear (&e);
        zframe_destroy (&r);
    }
    /* two frames where one is expected */
    zsock_send (s, "ss", "a", "b");
    zframe_t *r = zframe_recv (s);
    assert_non_null (r);
    zframe_destroy (&r);
    /* an oversized frame */
    size_t big = TR_MAX_FRAME + 10;
    char *huge = calloc (1, big);
    zsock_send (s, "b", huge, big);
    free (huge);
    r = zframe_recv (s);
    assert_non_null (r);
    tr_env_t e;
    assert_int_equal (tr_env_decode (&e, zframe_data (r), zframe_size (r), NULL, 0), TR_OK);
    assert_int_equal (e.code, TR_TOO_LARGE);
    tr_env_clear (&e);
    zframe_destroy (&r);
    zsock_destroy (&s);
    /* the broker still serves */
    tr_client_t *c = local_client (f);
    assert_int_equal (call (c, TR_VERB_PING, NULL, NULL, NULL, 0, NULL, NULL), TR_OK);
    tr_client_destroy (&c);
}

static void
verbs_kinds_validation (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_GET, "Frobnicator", "default", "x", 0, NULL, &rep), TR_NOT_FOUND);
    assert_non_null (strstr (rep.msg, "Frobnicator"));
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_START_CONTAINER, "Pod", "default", "x", 0, NULL, NULL), TR_METHOD_NOT_ALLOWED);
    /* invalid: negative replicas names the field */
    json_t *d = json_loads ("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"bad\"},"
                            "\"spec\":{\"replicas\":-3,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{"
                            "\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}",
                            0, NULL);
    assert_int_equal (call (c, TR_VERB_CREATE, "Deployment", "default", NULL, 0, d, &rep), TR_INVALID);
    assert_non_null (strstr (rep.msg, "spec.replicas"));
    tr_env_clear (&rep);
    /* wrong type */
    json_t *w = json_loads ("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"w\"},\"data\":{\"k\":[1]}}",
                            0, NULL);
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, w, &rep), TR_INVALID);
    assert_non_null (strstr (rep.msg, "data"));
    tr_env_clear (&rep);
    /* missing name */
    json_t *nn = json_loads ("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, nn, &rep), TR_INVALID);
    assert_non_null (strstr (rep.msg, "name"));
    tr_env_clear (&rep);
    /* namespace must exist */
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "nowhere", NULL, 0, cm ("a", "1"), NULL), TR_NOT_FOUND);
    /* nothing of the above was stored */
    assert_int_equal (call (c, TR_VERB_LIST, "ConfigMap", "", NULL, 0, NULL, &rep), TR_OK);
    assert_int_equal (json_array_size (tv_get (rep.body, "items")), 0);
    tr_env_clear (&rep);
    tr_client_destroy (&c);
}

/* metadata.uid is a version 4 UUID, lower-case hex, and no two objects share one: 150 creates use
 * the broker's pool of random bytes past two refills (new_uid). */
static int
is_uuid4 (const char *u)
{
    if (!u || strlen (u) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !strchr ("0123456789abcdef", u[i]) || !u[i])
            return 0;
    }
    return u[14] == '4' && strchr ("89ab", u[19]) != NULL;
}

static void
uids_v4_distinct (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f);
    json_t *seen = json_object ();
    for (int i = 0; i < 150; i++) {
        char name[32];
        snprintf (name, sizeof name, "u%d", i);
        tr_env_t rep;
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "1"), &rep), TR_OK);
        const char *uid = tv_str (rep.body, "metadata.uid");
        if (!is_uuid4 (uid))
            fail_msg ("create %d: metadata.uid \"%s\" is not a version 4 UUID", i, uid ? uid : "(none)");
        assert_null (json_object_get (seen, uid));
        json_object_set_new (seen, uid, json_true ());
        tr_env_clear (&rep);
    }
    assert_int_equal (json_object_size (seen), 150);
    json_decref (seen);
    tr_client_destroy (&c);
}

static void
cas_and_crud (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("cfg", "1"), &rep), TR_OK);
    uint64_t rv1 = rep.rv;
    assert_true (rv1 > 0);
    assert_non_null (tv_str (rep.body, "metadata.uid"));
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("cfg", "1"), NULL), TR_ALREADY_EXISTS);
    assert_int_equal (call (c, TR_VERB_UPDATE, "ConfigMap", "default", "cfg", rv1, cm ("cfg", "2"), &rep), TR_OK);
    uint64_t rv2 = rep.rv;
    assert_true (rv2 > rv1);
    tr_env_clear (&rep);
    /* stale resourceVersion: Conflict, value unchanged */
    assert_int_equal (call (c, TR_VERB_UPDATE, "ConfigMap", "default", "cfg", rv1, cm ("cfg", "3"), &rep), TR_CONFLICT);
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_GET, "ConfigMap", "default", "cfg", 0, NULL, &rep), TR_OK);
    assert_string_equal (tv_str (rep.body, "data.k"), "2");
    assert_int_equal (rep.rv, rv2);
    tr_env_clear (&rep);
    /* merge patch */
    assert_int_equal (call (c, TR_VERB_PATCH, "ConfigMap", "default", "cfg", 0, json_pack ("{s:{s:s}}", "data", "x", "y"),
                            &rep),
                      TR_OK);
    assert_string_equal (tv_str (rep.body, "data.x"), "y");
    assert_string_equal (tv_str (rep.body, "data.k"), "2");
    /* a write's reply is the committed object (encoded once with its watch event): what a get
     * returns, resourceVersion included */
    tr_env_t got;
    assert_int_equal (call (c, TR_VERB_GET, "ConfigMap", "default", "cfg", 0, NULL, &got), TR_OK);
    assert_true (json_equal (rep.body, got.body));
    assert_int_equal (rep.rv, got.rv);
    tr_env_clear (&got);
    tr_env_clear (&rep);
    /* a Lease renewal (only renewTime moves) has no event of its own: its reply is still the
     * renewed object, not the event of the revision it keeps */
    json_t *lease = json_pack ("{s:s,s:s,s:{s:s},s:{s:s,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
                               "metadata", "name", "l1", "spec", "holderIdentity", "n1", "renewTime",
                               "2026-01-01T00:00:00.000000Z");
    assert_int_equal (call (c, TR_VERB_CREATE, "Lease", "default", NULL, 0, json_deep_copy (lease), &rep), TR_OK);
    tr_env_clear (&rep);
    static const char *renewals[] = {"2026-01-01T00:00:10.000000Z", "2026-01-01T00:00:20.000000Z"};
    for (size_t i = 0; i < 2; i++) {
        tv_set_str (lease, "spec.renewTime", renewals[i]);
        assert_int_equal (call (c, TR_VERB_UPDATE, "Lease", "default", "l1", 0, json_deep_copy (lease), &rep), TR_OK);
        assert_string_equal (tv_str (rep.body, "spec.renewTime"), renewals[i]);
        tr_env_clear (&rep);
    }
    json_decref (lease);
    /* label selector list */
    json_t *l = cm ("lab", "1");
    tv_set_str (l, "metadata.labels.app", "web");
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, l, NULL), TR_OK);
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    strcpy (req.kind, "ConfigMap");
    req.opts = json_pack ("{s:s}", "labelSelector", "app=web");
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    assert_int_equal (json_array_size (tv_get (rep.body, "items")), 1);
    tr_env_clear (&req);
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_DELETE, "ConfigMap", "default", "cfg", 0, NULL, NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_GET, "ConfigMap", "default", "cfg", 0, NULL, NULL), TR_NOT_FOUND);
    assert_int_equal (call (c, TR_VERB_DELETE, "ConfigMap", "default", "cfg", 0, NULL, NULL), TR_NOT_FOUND);
    tr_client_destroy (&c);
}

static void
roles (void **state)
{
    fx_t *f = *state;
    /* unauthenticated: a key the server does not know is anonymous (core/zap.h): it may join
     * with a bootstrap token and nothing else, not even ping */
    zcert_t *stranger = zcert_new ();
    tr_client_t *s = tcp_client (f, stranger);
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_PING;
    assert_int_equal (tr_client_call (s, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_UNAUTHORIZED);
    assert_non_null (strstr (rep.msg, "bootstrap token"));
    tr_env_clear (&rep);
    tr_env_clear (&req);
    assert_int_equal (call (s, TR_VERB_LIST, "ConfigMap", "", NULL, 0, NULL, NULL), TR_UNAUTHORIZED);
    assert_int_equal (call (s, TR_VERB_GET, "Secret", "kube-system", "bootstrap-token-abcdef", 0, NULL, NULL),
                      TR_UNAUTHORIZED);
    /* a join with a token that does not exist is refused, and says so */
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "NodeJoin");
    req.body = json_pack ("{s:s,s:s}", "token", "abcdef.0123456789abcdef", "nodeName", "n9");
    assert_int_equal (tr_client_call (s, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_UNAUTHORIZED);
    assert_non_null (strstr (rep.msg, "not found"));
    tr_env_clear (&rep);
    tr_env_clear (&req);
    tr_client_destroy (&s);
    zcert_destroy (&stranger);

    tr_client_t *v = tcp_client (f, f->viewer);
    assert_int_equal (call (v, TR_VERB_LIST, "ConfigMap", "", NULL, 0, NULL, NULL), TR_OK);
    assert_int_equal (call (v, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("v", "1"), NULL), TR_FORBIDDEN);
    tr_client_destroy (&v);

    /* an admin creates two pods bound to n1 and n2; node n1 may update only its own */
    tr_client_t *a = tcp_client (f, f->admin);
    const char *nodes[] = {"n1", "n2"};
    uint64_t rv[2];
    for (int i = 0; i < 2; i++) {
        json_t *p = json_pack ("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:s,s:s,s:[s]}]}}", "apiVersion", "v1", "kind", "Pod",
                               "metadata", "name", nodes[i], "spec", "nodeName", nodes[i], "containers", "name", "c",
                               "image", "x", "command", "true");
        assert_int_equal (call (a, TR_VERB_CREATE, "Pod", "default", NULL, 0, p, &rep), TR_OK);
        rv[i] = rep.rv;
        tr_env_clear (&rep);
    }
    tr_client_t *n = tcp_client (f, f->node1);
    json_t *st = json_pack ("{s:{s:s}}", "status", "phase", "Running");
    assert_int_equal (call (n, TR_VERB_UPDATE_STATUS, "Pod", "default", "n1", rv[0], st, NULL), TR_OK);
    st = json_pack ("{s:{s:s}}", "status", "phase", "Running");
    assert_int_equal (call (n, TR_VERB_UPDATE_STATUS, "Pod", "default", "n2", rv[1], st, &rep), TR_FORBIDDEN);
    tr_env_clear (&rep);
    assert_int_equal (call (n, TR_VERB_DELETE, "Pod", "default", "n2", 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (n, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("n", "1"), NULL), TR_FORBIDDEN);
    assert_int_equal (call (a, TR_VERB_GET, "Pod", "default", "n2", 0, NULL, &rep), TR_OK);
    assert_null (tv_get (rep.body, "status.phase")); /* unchanged by the refused write */
    tr_env_clear (&rep);

    /* the Node authorizer, through the broker: n1 gets the Secret its pod uses, no other, and
     * never lists or watches Secrets; a viewer reads no Secret */
    const char *secrets[] = {"s-used", "s-other"};
    for (int i = 0; i < 2; i++) {
        json_t *s = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name",
                               secrets[i], "stringData", "k", "v");
        assert_int_equal (call (a, TR_VERB_CREATE, "Secret", "default", NULL, 0, s, NULL), TR_OK);
    }
    /* a pod using a Secret through envFrom (served since the volumes issue): before it exists the
     * node may not read the Secret; once the broker's cache holds it, it may */
    json_t *user = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:[{s:s,s:s,s:[{s:{s:s}}]}]}}", "apiVersion", "v1",
                              "kind", "Pod", "metadata", "name", "user", "namespace", "default", "spec",
                              "nodeName", "n1", "containers", "name", "c", "image", "x", "envFrom", "secretRef", "name",
                              "s-used");
    assert_int_equal (call (n, TR_VERB_GET, "Secret", "default", "s-used", 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (a, TR_VERB_CREATE, "Pod", "default", NULL, 0, user, NULL), TR_OK);
    int seen = 0;
    for (int i = 0; i < 50 && !seen; i++, usleep (20 * 1000))
        seen = call (a, TR_VERB_GET, "Pod", "default", "user", 0, NULL, NULL) == TR_OK;
    assert_true (seen);
    assert_int_equal (call (n, TR_VERB_GET, "Secret", "default", "s-used", 0, NULL, NULL), TR_OK);
    assert_int_equal (call (n, TR_VERB_GET, "Secret", "default", "s-other", 0, NULL, &rep), TR_FORBIDDEN);
    assert_string_equal (rep.msg, "secrets \"s-other\" is forbidden: User \"system:node:n1\" cannot get resource "
                                  "\"secrets\" in API group \"\" in the namespace \"default\": no relationship found "
                                  "between node 'n1' and this object");
    tr_env_clear (&rep);
    assert_int_equal (call (n, TR_VERB_LIST, "Secret", "default", NULL, 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (n, TR_VERB_WATCH, "Secret", "", NULL, 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (n, TR_VERB_LIST, "Deployment", "", NULL, 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (n, TR_VERB_LIST, "Pod", "", NULL, 0, NULL, NULL), TR_OK);
    /* another node's Node: refused with NodeRestriction's reason */
    json_t *n2 = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name", "n2");
    assert_int_equal (call (n, TR_VERB_CREATE, "Node", NULL, NULL, 0, n2, &rep), TR_FORBIDDEN);
    assert_non_null (strstr (rep.msg, "User \"system:node:n1\" cannot create resource \"nodes\""));
    assert_non_null (strstr (rep.msg, "node \"n1\" is not allowed to modify node \"n2\""));
    tr_env_clear (&rep);
    /* once the pod is gone, so is the relation */
    assert_int_equal (call (a, TR_VERB_DELETE, "Pod", "default", "user", 0, NULL, NULL), TR_OK);
    tr_env_t del; /* the agent's final deletion, grace 0 */
    tr_env_init (&del);
    del.verb = TR_VERB_DELETE;
    strcpy (del.kind, "Pod");
    strcpy (del.ns, "default");
    strcpy (del.name, "user");
    del.opts = json_pack ("{s:i}", "gracePeriodSeconds", 0);
    assert_int_equal (tr_client_call (n, &del, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&del);
    tr_env_clear (&rep);
    assert_int_equal (call (a, TR_VERB_GET, "Pod", "default", "user", 0, NULL, NULL), TR_NOT_FOUND);
    assert_int_equal (call (n, TR_VERB_GET, "Secret", "default", "s-used", 0, NULL, NULL), TR_FORBIDDEN);
    /* the controller role: binds and reports, no more */
    tr_client_t *k = tcp_client (f, f->ctrl);
    json_t *free_pod = json_pack ("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind", "Pod", "metadata",
                                  "name", "free", "spec", "containers", "name", "c", "image", "x");
    assert_int_equal (call (k, TR_VERB_CREATE, "Pod", "default", NULL, 0, free_pod, NULL), TR_OK);
    tr_env_t b;
    tr_env_init (&b);
    b.verb = TR_VERB_PATCH;
    strcpy (b.kind, "Pod");
    strcpy (b.ns, "default");
    strcpy (b.name, "free");
    b.body = json_pack ("{s:{s:s}}", "spec", "nodeName", "n1");
    b.opts = json_pack ("{s:s}", "subresource", "binding");
    assert_int_equal (tr_client_call (k, &b, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    b.verb = TR_VERB_PATCH; /* the same binding by the node: refused (a node never binds) */
    assert_int_equal (tr_client_call (n, &b, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_FORBIDDEN);
    assert_non_null (strstr (rep.msg, "cannot create resource \"pods/binding\""));
    tr_env_clear (&rep);
    tr_env_clear (&b);
    assert_int_equal (call (k, TR_VERB_GET, "Secret", "default", "s-used", 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (k, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("k", "1"), NULL), TR_FORBIDDEN);
    /* namespaces: read (the scheduler's namespaceSelector, as system:kube-scheduler), never written */
    assert_int_equal (call (k, TR_VERB_LIST, "Namespace", "", NULL, 0, NULL, NULL), TR_OK);
    assert_int_equal (call (k, TR_VERB_DELETE, "Namespace", "", "default", 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (k, TR_VERB_DELETE, "Pod", "default", "free", 0, NULL, NULL), TR_OK);
    tr_client_destroy (&k);
    tr_client_t *v2 = tcp_client (f, f->viewer);
    assert_int_equal (call (v2, TR_VERB_GET, "Secret", "default", "s-used", 0, NULL, NULL), TR_FORBIDDEN);
    assert_int_equal (call (v2, TR_VERB_GET, "Pod", "default", "n1", 0, NULL, NULL), TR_OK);
    tr_client_destroy (&v2);
    tr_client_destroy (&n);
    tr_client_destroy (&a);
}

static void
watch_credit_and_expiry (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f), *w = local_client (f), *w2 = local_client (f);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("w0", "0"), &rep), TR_OK);
    uint64_t from = rep.rv;
    tr_env_clear (&rep);
    /* watch with credit 2: exactly two events arrive until more credit is granted. w2 watches the
     * same with the same watch id (both clients' first request): a credit is its client's alone */
    uint64_t wid = wf_watch (w, "ConfigMap", from, 2);
    assert_int_equal (wf_watch (w2, "ConfigMap", from, 2), wid);
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf (name, sizeof name, "w%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    int got = 0;
    tr_env_t ev;
    while (tr_client_recv (w, &ev, 500) == 0) {
        if (ev.verb == TR_VERB_EVENT && ev.id == wid) {
            assert_string_equal (tv_str (ev.opts, "type"), "ADDED");
            got++;
        }
        tr_env_clear (&ev);
    }
    assert_int_equal (got, 2);
    wf_credit (w, wid, 100);
    assert_int_equal (wf_count (w, wid, 500), 3);
    assert_int_equal (wf_count (w2, wid, 300), 2); /* w's credit did not reach it */
    tr_client_destroy (&w2);
    /* the ring keeps 64 events: a watch from revision 1 after 80 more writes is Expired */
    for (int i = 0; i < 80; i++) {
        char name[16];
        snprintf (name, sizeof name, "x%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    req.rv = 1;
    assert_int_equal (tr_client_call (w, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_EXPIRED);
    tr_env_clear (&req);
    tr_env_clear (&rep);

    /* a watcher out of credit whose kind has no event while the ring turns over with others' is
     * not cut: it has lost nothing (it skips to the ring's end), and its next event comes */
    tr_client_t *ws = local_client (f);
    uint64_t sid = wf_watch (ws, "Secret", 0, 1);
    json_t *sec = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name", "s1",
                             "stringData", "k", "v");
    assert_int_equal (call (c, TR_VERB_CREATE, "Secret", "default", NULL, 0, sec, NULL), TR_OK);
    assert_int_equal (wf_count (ws, sid, 500), 1); /* its credit spent */
    for (int i = 0; i < 80; i++) {
        char name[16];
        snprintf (name, sizeof name, "y%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    wf_credit (ws, sid, 10);
    sec = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name", "s2",
                     "stringData", "k", "v");
    assert_int_equal (call (c, TR_VERB_CREATE, "Secret", "default", NULL, 0, sec, NULL), TR_OK);
    got = 0;
    while (tr_client_recv (ws, &ev, 500) == 0) {
        if (ev.verb == TR_VERB_EVENT && ev.id == sid) {
            assert_string_equal (tv_str (ev.opts, "type"), "ADDED");
            assert_string_equal (tv_str (ev.body, "metadata.name"), "s2");
            got++;
        }
        tr_env_clear (&ev);
    }
    assert_int_equal (got, 1);
    tr_client_destroy (&ws);
    tr_client_destroy (&c);
    tr_client_destroy (&w);
}

/* The watch option `batch`: events owed go up to `batch` per message, one envelope per frame, in
 * revision order, never past the credit; tr_conn_recv_each hands them out one by one. */
static bool
readable (zsock_t *s, long ms)
{
    zmq_pollitem_t it = {zsock_resolve (s), 0, ZMQ_POLLIN, 0};
    return zmq_poll (&it, 1, ms) == 1;
}

static int
batch_frames (zsock_t *s, uint64_t wid, uint64_t *last_rv)
{
    if (!readable (s, 2000))
        return -1;
    zmsg_t *m = zmsg_recv (s);
    int n = 0;
    for (zframe_t *fr = zmsg_first (m); fr; fr = zmsg_next (m), n++) {
        tr_env_t e;
        char err[256];
        assert_int_equal (tr_env_decode (&e, zframe_data (fr), zframe_size (fr), err, sizeof err), TR_OK);
        assert_int_equal (e.verb, TR_VERB_EVENT);
        assert_int_equal (e.id, wid);
        assert_true (e.rv > *last_rv); /* in revision order, none twice */
        *last_rv = e.rv;
        tr_env_clear (&e);
    }
    zmsg_destroy (&m);
    return n;
}

static void
each_count (void *arg, tr_env_t *env, int rc, const char *err)
{
    (void) err;
    assert_int_equal (rc, TR_OK);
    assert_int_equal (env->verb, TR_VERB_EVENT);
    (*(int *) arg)++;
}

static void
watch_batch (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("b0", "0"), &rep), TR_OK);
    uint64_t from = rep.rv;
    tr_env_clear (&rep);
    for (int i = 1; i <= 20; i++) {
        char name[16];
        snprintf (name, sizeof name, "b%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    char err[256];
    zsock_t *s = tr_conn_dealer (f->local, NULL, err, sizeof err);
    assert_non_null (s);
    /* from before the 20 creates, batch 8, credit 18: 8 + 8 + 2 in three messages, then nothing */
    tr_env_t req;
    tr_env_init (&req);
    req.id = 7;
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    req.rv = from;
    req.opts = json_pack ("{s:i,s:i}", "credit", 18, "batch", 8);
    assert_int_equal (tr_conn_send (s, NULL, &req), 0);
    tr_env_clear (&req);
    assert_true (readable (s, 2000));
    assert_int_equal (tr_conn_recv (s, NULL, &rep, err, sizeof err), TR_OK);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    uint64_t last = from;
    assert_int_equal (batch_frames (s, 7, &last), 8);
    assert_int_equal (batch_frames (s, 7, &last), 8);
    assert_int_equal (batch_frames (s, 7, &last), 2);
    assert_false (readable (s, 300)); /* the credit is spent */
    /* two more: the last two creates as one message, read through tr_conn_recv_each */
    tr_env_init (&req);
    req.verb = TR_VERB_CREDIT;
    req.rv = 7;
    req.opts = json_pack ("{s:i}", "credit", 100);
    assert_int_equal (tr_conn_send (s, NULL, &req), 0);
    tr_env_clear (&req);
    assert_true (readable (s, 2000));
    int got = 0;
    assert_int_equal (tr_conn_recv_each (s, NULL, NULL, NULL, each_count, &got), 2);
    assert_int_equal (got, 2);
    /* a second live watch with the same id is refused: credits and cancels could not tell them apart */
    tr_env_init (&req);
    req.id = 7;
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    assert_int_equal (tr_conn_send (s, NULL, &req), 0);
    tr_env_clear (&req);
    assert_true (readable (s, 2000));
    assert_int_equal (tr_conn_recv (s, NULL, &rep, err, sizeof err), TR_OK);
    assert_int_equal (rep.code, TR_BAD_REQUEST);
    assert_non_null (strstr (rep.msg, "already a live watch"));
    tr_env_clear (&rep);
    /* a watch that did not ask for batches gets one event per message */
    tr_env_init (&req);
    req.id = 8;
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    req.rv = from;
    assert_int_equal (tr_conn_send (s, NULL, &req), 0);
    tr_env_clear (&req);
    assert_true (readable (s, 2000));
    assert_int_equal (tr_conn_recv (s, NULL, &rep, err, sizeof err), TR_OK);
    tr_env_clear (&rep);
    last = from;
    for (int i = 0; i < 20; i++)
        assert_int_equal (batch_frames (s, 8, &last), 1);
    zsock_destroy (&s);
    tr_client_destroy (&c);
}

/* Quantities are stored in Kubernetes' canonical form; writing the same manifest again (0.5 over
 * a stored "500m") is no change of spec; a bad quantity names its field. */
static void
quantities_canonical (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f);
    const char *tmpl = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"q\"},"
                       "\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{"
                       "\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
                       "\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":%s,\"memory\":\"1024Mi\"}}}]}}}}";
    char text[1024];
    tr_env_t rep;
    snprintf (text, sizeof text, tmpl, "0.5");
    assert_int_equal (call (c, TR_VERB_CREATE, "Deployment", "default", NULL, 0, json_loads (text, 0, NULL), &rep), TR_OK);
    json_t *ctr = json_array_get (tv_get (rep.body, "spec.template.spec.containers"), 0);
    assert_string_equal (tv_str (ctr, "resources.requests.cpu"), "500m");
    assert_string_equal (tv_str (ctr, "resources.requests.memory"), "1Gi");
    assert_int_equal (tv_int (rep.body, "metadata.generation", 0), 1);
    uint64_t rv = rep.rv;
    /* the stored object written back with 0.5 for "500m": the same spec once canonical, the
     * generation stays */
    json_t *back = json_deep_copy (rep.body);
    tr_env_clear (&rep);
    tv_set (json_array_get (tv_get (back, "spec.template.spec.containers"), 0), "resources.requests.cpu", json_real (0.5));
    assert_int_equal (call (c, TR_VERB_UPDATE, "Deployment", "default", "q", rv, back, &rep), TR_OK);
    assert_int_equal (tv_int (rep.body, "metadata.generation", 0), 1);
    rv = rep.rv;
    tr_env_clear (&rep);
    snprintf (text, sizeof text, tmpl, "\"600m\"");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Deployment", "default", "q", rv, json_loads (text, 0, NULL), &rep), TR_OK);
    assert_int_equal (tv_int (rep.body, "metadata.generation", 0), 2);
    tr_env_clear (&rep);
    snprintf (text, sizeof text, tmpl, "\"1.5.3\"");
    assert_int_equal (call (c, TR_VERB_CREATE, "Deployment", "default", NULL, 0, json_loads (text, 0, NULL), &rep), TR_INVALID);
    assert_non_null (strstr (rep.msg, "spec.template.spec.containers[0].resources.requests.cpu: Invalid value: "
                                      "quantity \"1.5.3\": invalid character '.' at position 4"));
    tr_env_clear (&rep);
    tr_client_destroy (&c);
}

/* 1 if the bytes of needle occur in the file at path */
static int
file_has (const char *path, const char *needle)
{
    FILE *fp = fopen (path, "rb");
    assert_non_null (fp);
    size_t cap = 1 << 20, n = 0, r;
    char *buf = malloc (cap);
    while ((r = fread (buf + n, 1, cap - n, fp)) > 0)
        if ((n += r) == cap)
            buf = realloc (buf, cap *= 2);
    fclose (fp);
    int found = memmem (buf, n, needle, strlen (needle)) != NULL;
    free (buf);
    return found;
}

static json_t *
secret (const char *name, const char *value)
{
    return json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name", name,
                      "stringData", "password", value);
}

static void
get_secret_value (tr_client_t *c, const char *name, const char *want)
{
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_GET, "Secret", "default", name, 0, NULL, &rep), TR_OK);
    char *text = json_dumps (rep.body, 0);
    if (!strstr (text, want))
        fail_msg ("secret %s: %s does not hold %s", name, text, want);
    free (text);
    tr_env_clear (&rep);
}

static void
secrets_encrypted_at_rest (void **state)
{
    fx_t *f = *state;
    char mdb[512], cfg[512], aside[600], err[300], m1[64], m2[64], mc[64], m3[64];
    snprintf (mdb, sizeof mdb, "%s/store/data.mdb", f->dir);
    snprintf (cfg, sizeof cfg, "%s/pki/%s", f->dir, ENC_CONFIG_FILE);
    snprintf (aside, sizeof aside, "%s.aside", cfg);
    snprintf (m1, sizeof m1, "pw-one-%d-zq", getpid ());
    snprintf (m2, sizeof m2, "pw-two-%d-zq", getpid ());
    snprintf (m3, sizeof m3, "pw-old-%d-zq", getpid ());
    snprintf (mc, sizeof mc, "cm-plain-%d-zq", getpid ());
    /* a Secret's stringData is stored as base64 data (as Kubernetes does): that is what a copy of
     * the store would show if it were not sealed, and what the API answers */
    char b1[96], b2[96], b3[96];
    sodium_bin2base64 (b1, sizeof b1, (const unsigned char *) m1, strlen (m1), sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64 (b2, sizeof b2, (const unsigned char *) m2, strlen (m2), sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64 (b3, sizeof b3, (const unsigned char *) m3, strlen (m3), sodium_base64_VARIANT_ORIGINAL);
    tr_client_t *c = local_client (f);
    assert_int_equal (call (c, TR_VERB_CREATE, "Secret", "default", NULL, 0, secret ("db", m1), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Secret", "default", NULL, 0, secret ("legacy", m3), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("plain", mc), NULL), TR_OK);
    get_secret_value (c, "db", b1);
    /* the scan finds what is stored in the clear (the ConfigMap), and not the Secret's value */
    assert_true (file_has (mdb, mc));
    assert_false (file_has (mdb, b1));
    assert_false (file_has (mdb, b3));
    assert_true (file_has (mdb, "k8s:enc:secretbox:v1:key1:"));

    /* rotation while the broker runs: key2 first (it writes), read again within a second */
    encryption_t *e = encryption_load (cfg, err, sizeof err);
    assert_non_null (e);
    char name[64];
    assert_int_equal (encryption_add_key (e, 1, name, sizeof name, err, sizeof err), 0);
    assert_string_equal (name, "key2");
    assert_int_equal (encryption_save (e, cfg, err, sizeof err), 0);
    usleep (1200 * 1000);
    assert_int_equal (call (c, TR_VERB_CREATE, "Secret", "default", NULL, 0, secret ("db2", m2), NULL), TR_OK);
    assert_true (file_has (mdb, "k8s:enc:secretbox:v1:key2:"));
    assert_false (file_has (mdb, b2));
    /* rewrite "db" (an unchanged update seals it with key2), not "legacy"; then drop key1 */
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_GET, "Secret", "default", "db", 0, NULL, &rep), TR_OK);
    assert_int_equal (call (c, TR_VERB_UPDATE, "Secret", "default", "db", 0, json_incref (rep.body), NULL), TR_OK);
    tr_env_clear (&rep);
    assert_int_equal (encryption_remove_key (e, "key2", err, sizeof err), -1); /* it writes */
    char with1[600];
    snprintf (with1, sizeof with1, "%s.with-key1", cfg);
    assert_int_equal (encryption_save (e, with1, err, sizeof err), 0);
    assert_int_equal (encryption_remove_key (e, "key1", err, sizeof err), 0);
    assert_int_equal (encryption_save (e, cfg, err, sizeof err), 0);
    encryption_destroy (&e);
    tr_client_destroy (&c);
    /* a broker started now has key2 only: db and db2 read back in plaintext; legacy, still sealed
     * with key1, is refused with the reason (never served as ciphertext), and can be deleted */
    zactor_destroy (&f->broker);
    start_broker (f);
    c = local_client (f);
    get_secret_value (c, "db", b1);
    get_secret_value (c, "db2", b2);
    assert_int_equal (call (c, TR_VERB_GET, "Secret", "default", "legacy", 0, NULL, &rep), TR_INTERNAL);
    assert_non_null (strstr (rep.msg, "encrypted with key \"key1\", which is not in this server's encryption"));
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_LIST, "Secret", "default", NULL, 0, NULL, NULL), TR_INTERNAL);
    /* key1 comes back (a key that reached this server late): the broker reads the Secrets it
     * could not open again, by itself */
    assert_int_equal (rename (with1, cfg), 0);
    int healed = 0;
    for (int i = 0; i < 400 && !healed; i++) {
        usleep (10 * 1000);
        int code = call (c, TR_VERB_GET, "Secret", "default", "legacy", 0, NULL, NULL);
        /* the request that finds the new file must not see the cache emptied for the reload */
        assert_int_not_equal (code, TR_NOT_FOUND);
        healed = code == TR_OK;
    }
    assert_true (healed);
    get_secret_value (c, "legacy", b3);
    assert_int_equal (call (c, TR_VERB_DELETE, "Secret", "default", "legacy", 0, NULL, NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_LIST, "Secret", "default", NULL, 0, NULL, &rep), TR_OK);
    assert_int_equal (json_array_size (json_object_get (rep.body, "items")), 2);
    tr_env_clear (&rep);
    tr_client_destroy (&c);
    /* a broker without the configuration refuses Secrets, reads and writes, and serves the rest */
    zactor_destroy (&f->broker);
    assert_int_equal (rename (cfg, aside), 0);
    start_broker (f);
    c = local_client (f);
    assert_int_equal (call (c, TR_VERB_GET, "Secret", "default", "db", 0, NULL, &rep), TR_UNAVAILABLE);
    assert_non_null (strstr (rep.msg, "no encryption configuration"));
    assert_null (rep.body);
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_LIST, "Secret", "", NULL, 0, NULL, NULL), TR_UNAVAILABLE);
    assert_int_equal (call (c, TR_VERB_WATCH, "Secret", "", NULL, 0, NULL, NULL), TR_UNAVAILABLE);
    assert_int_equal (call (c, TR_VERB_CREATE, "Secret", "default", NULL, 0, secret ("db3", "x"), NULL), TR_UNAVAILABLE);
    assert_int_equal (call (c, TR_VERB_GET, "ConfigMap", "default", "plain", 0, NULL, NULL), TR_OK);
    tr_client_destroy (&c);
    assert_int_equal (rename (aside, cfg), 0);
}


/* NodeJoin (broker/broker_join.c): a token makes an anonymous key a node; a key that is somebody
 * cannot become another; a name held by a Node, or just joined by another key, is not taken. */
static int
join_as (fx_t *f, zcert_t *me, const char *token, const char *node, char *msg, size_t len)
{
    tr_client_t *c = tcp_client (f, me);
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "NodeJoin");
    req.body = json_pack ("{s:s,s:s}", "token", token, "nodeName", node);
    int rc = tr_client_call (c, &req, &rep, 5000);
    tr_env_clear (&req);
    tr_client_destroy (&c);
    if (rc)
        return TR_TIMEOUT;
    snprintf (msg, len, "%s", rep.msg ? rep.msg : "");
    int code = rep.code;
    tr_env_clear (&rep);
    return code;
}

static void
node_join (void **state)
{
    fx_t *f = *state;
    tr_client_t *a = tcp_client (f, f->admin);
    tr_token_t t;
    tr_token_generate (&t);
    struct timeval tv;
    gettimeofday (&tv, NULL);
    int64_t now = (int64_t) tv.tv_sec * 1000;
    assert_int_equal (call (a, TR_VERB_CREATE, "Secret", "kube-system", NULL, 0, tr_token_secret (&t, now + 3600000, NULL), NULL),
                      TR_OK);
    char tok[100], msg[400], path[600];
    tr_token_format (&t, tok, sizeof tok);
    zcert_t *s1 = zcert_new (), *s2 = zcert_new ();
    /* a bad name, then a good join */
    assert_int_equal (join_as (f, s1, tok, "../x", msg, sizeof msg), TR_INVALID);
    assert_int_equal (join_as (f, s1, tok, "n9", msg, sizeof msg), TR_OK);
    snprintf (path, sizeof path, "%s/pki/clients/node-n9.cert", f->dir);
    zcert_t *c = zcert_load (path);
    assert_non_null (c);
    assert_string_equal (zcert_public_txt (c), zcert_public_txt (s1));
    assert_string_equal (zcert_meta (c, "role"), "node");
    assert_string_equal (zcert_meta (c, "name"), "n9");
    zcert_destroy (&c);
    /* written to a temporary file beside clients/ and renamed: none is left behind */
    snprintf (path, sizeof path, "%s/pki/.join-n9.tmp", f->dir);
    assert_int_not_equal (access (path, F_OK), 0);
    snprintf (path, sizeof path, "%s/pki/clients/node-n9.cert", f->dir);
    /* it is node n9 now: its own Node yes, another no */
    tr_client_t *n9 = tcp_client (f, s1);
    json_t *node9 = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name", "n9");
    assert_int_equal (call (n9, TR_VERB_CREATE, "Node", "", NULL, 0, node9, NULL), TR_OK);
    json_t *node8 = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name", "n8");
    assert_int_equal (call (n9, TR_VERB_CREATE, "Node", "", NULL, 0, node8, NULL), TR_FORBIDDEN);
    tr_client_destroy (&n9);
    /* asking again as itself: fine, nothing written; as another name: refused */
    assert_int_equal (join_as (f, s1, tok, "n9", msg, sizeof msg), TR_OK);
    assert_int_equal (join_as (f, s1, tok, "n10", msg, sizeof msg), TR_CONFLICT);
    assert_non_null (strstr (msg, "already node"));
    snprintf (path, sizeof path, "%s/pki/clients/node-n10.cert", f->dir);
    assert_int_not_equal (access (path, F_OK), 0);
    /* the viewer's key stays the viewer's */
    assert_int_equal (join_as (f, f->viewer, tok, "n11", msg, sizeof msg), TR_CONFLICT);
    tr_client_t *v = tcp_client (f, f->viewer);
    assert_int_equal (call (v, TR_VERB_LIST, "ConfigMap", "", NULL, 0, NULL, NULL), TR_OK);
    tr_client_destroy (&v);
    /* another key may not take n9 (its Node exists), nor a Node's name without a certificate */
    assert_int_equal (join_as (f, s2, tok, "n9", msg, sizeof msg), TR_CONFLICT);
    assert_non_null (strstr (msg, "troupe delete node n9"));
    json_t *bare = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name", "made-by-hand");
    assert_int_equal (call (a, TR_VERB_CREATE, "Node", "", NULL, 0, bare, NULL), TR_OK);
    assert_int_equal (join_as (f, s2, tok, "made-by-hand", msg, sizeof msg), TR_CONFLICT);
    /* nor a name another key joined under moments ago (its Node not made yet) */
    zcert_t *s3 = zcert_new ();
    assert_int_equal (join_as (f, s3, tok, "fresh", msg, sizeof msg), TR_OK);
    assert_int_equal (join_as (f, s2, tok, "fresh", msg, sizeof msg), TR_CONFLICT);
    /* an expired token */
    tr_token_t old;
    tr_token_generate (&old);
    assert_int_equal (call (a, TR_VERB_CREATE, "Secret", "kube-system", NULL, 0, tr_token_secret (&old, now - 1000, NULL), NULL),
                      TR_OK);
    tr_token_format (&old, tok, sizeof tok);
    assert_int_equal (join_as (f, s2, tok, "n12", msg, sizeof msg), TR_UNAUTHORIZED);
    assert_non_null (strstr (msg, "expired"));
    tr_client_destroy (&a);
    zcert_destroy (&s1);
    zcert_destroy (&s2);
    zcert_destroy (&s3);
}

/* ---- PriorityClass and the Priority admission plugin ------------------------------------- */

static json_t *
prio_pod (const char *name, const char *cls, json_int_t prio)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:[s]}]}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name",
                           name, "spec", "containers", "name", "c", "command", "sleep");
    tv_set_str (json_array_get (tv_get (p, "spec.containers"), 0), "image", "busybox");
    if (cls)
        tv_set_str (p, "spec.priorityClassName", cls);
    if (prio >= 0)
        tv_set_int (p, "spec.priority", prio);
    return p;
}

static json_t *
prio_class (const char *name, json_int_t value, int dflt, const char *policy)
{
    json_t *pc = json_pack ("{s:s,s:s,s:{s:s},s:I,s:b}", "apiVersion", "scheduling.k8s.io/v1", "kind", "PriorityClass",
                            "metadata", "name", name, "value", value, "globalDefault", dflt);
    if (policy)
        json_object_set_new (pc, "preemptionPolicy", json_string (policy));
    return pc;
}

/* code, and the reply's message holds want (when non-NULL); the reply's body in *body if asked */
static void
expect_call (tr_client_t *c, tr_verb_t verb, const char *kind, const char *name, json_t *body, int code, const char *want,
             json_t **out)
{
    tr_env_t rep;
    int got = call (c, verb, kind, kind && !strcmp (kind, "Pod") ? "default" : "", name, 0, body, &rep);
    if (got != code)
        fail_msg ("%s %s: code %d (want %d): %s", kind, name ? name : "", got, code, rep.msg ? rep.msg : "");
    if (want && (!rep.msg || !strstr (rep.msg, want)))
        fail_msg ("%s %s: message \"%s\" lacks \"%s\"", kind, name ? name : "", rep.msg ? rep.msg : "", want);
    if (out)
        *out = json_incref (rep.body);
    tr_env_clear (&rep);
}

static void
priority_classes (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f);
    json_t *o = NULL;
    /* the built-ins are there from the start */
    expect_call (c, TR_VERB_GET, "PriorityClass", "system-node-critical", NULL, TR_OK, NULL, &o);
    assert_int_equal (tv_int (o, "value", 0), 2000001000);
    json_decref (o);
    expect_call (c, TR_VERB_GET, "PriorityClass", "system-cluster-critical", NULL, TR_OK, NULL, &o);
    assert_int_equal (tv_int (o, "value", 0), 2000000000);
    assert_string_equal (tv_str (o, "preemptionPolicy"), "PreemptLowerPriority");
    json_decref (o);
    expect_call (c, TR_VERB_DELETE, "PriorityClass", "system-node-critical", NULL, TR_FORBIDDEN,
                 "priorityclasses \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted", NULL);
    /* a pod without a class: priority 0, PreemptLowerPriority */
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p0", NULL, -1), TR_OK, NULL, &o);
    assert_int_equal (tv_int (o, "spec.priority", -1), 0);
    assert_string_equal (tv_str (o, "spec.preemptionPolicy"), "PreemptLowerPriority");
    json_decref (o);
    /* an unknown class */
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("px", "foo", -1), TR_FORBIDDEN,
                 "pods \"px\" is forbidden: no PriorityClass with name foo was found", NULL);
    /* user classes: value bounded, system- names reserved, preemptionPolicy defaulted */
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("huge", 1000000001, 0, NULL), TR_INVALID,
                 "PriorityClass \"huge\" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000", NULL);
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("system-mine", 5, 0, NULL), TR_INVALID,
                 "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only", NULL);
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("bad", 5, 0, "Sometimes"), TR_INVALID,
                 "preemptionPolicy: Unsupported value: \"Sometimes\"", NULL);
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("mid", 100, 0, NULL), TR_OK, NULL, &o);
    assert_string_equal (tv_str (o, "preemptionPolicy"), "PreemptLowerPriority");
    json_decref (o);
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("high", 1000, 0, "Never"), TR_OK, NULL, NULL);
    /* a pod naming a class gets its value and policy */
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p1", "high", -1), TR_OK, NULL, &o);
    assert_int_equal (tv_int (o, "spec.priority", -1), 1000);
    assert_string_equal (tv_str (o, "spec.preemptionPolicy"), "Never");
    json_decref (o);
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p2", "high", 1000), TR_OK, NULL, NULL); /* the same value */
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p3", "high", 5), TR_FORBIDDEN,
                 "pods \"p3\" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority "
                 "admission controller computed 1000 from the given PriorityClass name", NULL);
    json_t *pp = prio_pod ("p4", "mid", -1);
    tv_set_str (pp, "spec.preemptionPolicy", "Never");
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, pp, TR_FORBIDDEN,
                 "the string value of PreemptionPolicy (Never) must not be provided in pod spec", NULL);
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p5", NULL, 7), TR_FORBIDDEN,
                 "the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0", NULL);
    /* a globalDefault class: pods naming none get it; only one default */
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("dflt", 10, 1, NULL), TR_OK, NULL, NULL);
    expect_call (c, TR_VERB_CREATE, "PriorityClass", NULL, prio_class ("dflt2", 20, 1, NULL), TR_FORBIDDEN,
                 "PriorityClass dflt is already marked as default. Only one default can exist", NULL);
    expect_call (c, TR_VERB_UPDATE, "PriorityClass", "mid", prio_class ("mid", 100, 1, NULL), TR_FORBIDDEN,
                 "already marked as default", NULL);
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p6", NULL, -1), TR_OK, NULL, &o);
    assert_int_equal (tv_int (o, "spec.priority", -1), 10);
    assert_string_equal (tv_str (o, "spec.priorityClassName"), "dflt");
    json_decref (o);
    /* value and preemptionPolicy are immutable */
    expect_call (c, TR_VERB_UPDATE, "PriorityClass", "high", prio_class ("high", 1001, 0, "Never"), TR_INVALID,
                 "value: Forbidden: may not be changed in an update", NULL);
    expect_call (c, TR_VERB_UPDATE, "PriorityClass", "high", prio_class ("high", 1000, 0, "PreemptLowerPriority"), TR_INVALID,
                 "preemptionPolicy: Invalid value: \"PreemptLowerPriority\": field is immutable", NULL);
    json_t *upd = prio_class ("high", 1000, 0, "Never");
    json_object_set_new (upd, "description", json_string ("changed"));
    expect_call (c, TR_VERB_UPDATE, "PriorityClass", "high", upd, TR_OK, NULL, NULL);
    /* the pod's priority fields are immutable (the pod spec) */
    expect_call (c, TR_VERB_GET, "Pod", "p1", NULL, TR_OK, NULL, &o);
    tv_set_int (o, "spec.priority", 1);
    expect_call (c, TR_VERB_UPDATE, "Pod", "p1", o, TR_INVALID, "(changed: spec.priority)", NULL);
    /* a user class can be deleted */
    expect_call (c, TR_VERB_DELETE, "PriorityClass", "mid", NULL, TR_OK, NULL, NULL);
    expect_call (c, TR_VERB_CREATE, "Pod", NULL, prio_pod ("p7", "mid", -1), TR_FORBIDDEN, "no PriorityClass with name mid was found", NULL);
    tr_client_destroy (&c);
}

/* ---- the watch index: pod watchers by spec.nodeName --------------------------------------- */

/* A watch of kind (selectors may be NULL) from revision rv (0: from now); its id. */
static uint64_t
start_watch_from (tr_client_t *w, const char *kind, const char *fsel, const char *lsel, uint64_t rv)
{
    return wf_watch_sel (w, kind, fsel, lsel, rv, 0);
}

static uint64_t
start_watch (tr_client_t *w, const char *kind, const char *fsel, const char *lsel)
{
    return start_watch_from (w, kind, fsel, lsel, 0);
}

/* pods/binding of default/name to node, as the scheduler binds */
static void
bind_pod (tr_client_t *c, const char *name, const char *node)
{
    tr_env_t b, rep;
    tr_env_init (&b);
    b.verb = TR_VERB_PATCH;
    strcpy (b.kind, "Pod");
    strcpy (b.ns, "default");
    snprintf (b.name, sizeof b.name, "%s", name);
    b.body = json_pack ("{s:{s:s}}", "spec", "nodeName", node);
    b.opts = json_pack ("{s:s}", "subresource", "binding");
    assert_int_equal (tr_client_call (c, &b, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    tr_env_clear (&b);
}

/* The events of watch id that come until ms of quiet, as "TYPE name," each, into seen. */
static void
events_of (tr_client_t *w, uint64_t id, char *seen, size_t len, int ms)
{
    tr_env_t ev;
    seen[0] = 0;
    while (tr_client_recv (w, &ev, ms) == 0) {
        if (ev.verb == TR_VERB_EVENT && ev.id == id) {
            size_t l = strlen (seen);
            snprintf (seen + l, len - l, "%s %s,", tv_str (ev.opts, "type"), tv_str (ev.body, "metadata.name"));
        }
        tr_env_clear (&ev);
    }
}

static json_t *
node_pod (const char *name, const char *node, const char *app)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind", "Pod", "metadata",
                           "name", name, "labels", "app", app, "spec", "containers", "name", "c", "image", "x");
    if (node)
        tv_set_str (p, "spec.nodeName", node);
    return p;
}

static void
watch_index_by_node (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f), *w = local_client (f);
    static const char *const fsel[] = {"spec.nodeName=n1", "spec.nodeName=n2", "spec.nodeName=", NULL,
                                       "spec.nodeName=n1", "spec.nodeName!=n1", "spec.nodeName=n9"};
    static const char *const lsel[] = {NULL, NULL, NULL, NULL, "app=x", NULL, NULL};
    enum { NW = 7 };
    uint64_t id[NW];
    for (int i = 0; i < NW; i++)
        id[i] = start_watch (w, "Pod", fsel[i], lsel[i]);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "default", NULL, 0, node_pod ("p1", "n1", "x"), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "default", NULL, 0, node_pod ("p2", NULL, "x"), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("noise", "1"), NULL), TR_OK);
    /* p2 bound to n2: from "" to n2 */
    bind_pod (c, "p2", "n2");
    /* p1's label changes: it leaves the app=x watch */
    tr_env_t b;
    tr_env_init (&b);
    b.verb = TR_VERB_PATCH;
    strcpy (b.kind, "Pod");
    strcpy (b.ns, "default");
    strcpy (b.name, "p1");
    b.body = json_pack ("{s:{s:{s:s}}}", "metadata", "labels", "app", "y");
    assert_int_equal (tr_client_call (c, &b, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    tr_env_clear (&b);
    /* an unbound pod created and deleted */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "default", NULL, 0, node_pod ("p3", NULL, "z"), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_DELETE, "Pod", "default", "p3", 0, NULL, NULL), TR_OK);
    static const char *const want[NW] = {
        "ADDED p1,MODIFIED p1,",
        "ADDED p2,",
        "ADDED p2,DELETED p2,ADDED p3,DELETED p3,",
        "ADDED p1,ADDED p2,MODIFIED p2,MODIFIED p1,ADDED p3,DELETED p3,",
        "ADDED p1,DELETED p1,",
        "ADDED p2,MODIFIED p2,ADDED p3,DELETED p3,",
        "",
    };
    char got[NW][256];
    memset (got, 0, sizeof got);
    tr_env_t ev;
    while (tr_client_recv (w, &ev, 700) == 0) {
        for (int i = 0; i < NW; i++)
            if (ev.verb == TR_VERB_EVENT && ev.id == id[i]) {
                size_t l = strlen (got[i]);
                snprintf (got[i] + l, sizeof got[i] - l, "%s %s,", tv_str (ev.opts, "type"), tv_str (ev.body, "metadata.name"));
            }
        tr_env_clear (&ev);
    }
    for (int i = 0; i < NW; i++)
        if (strcmp (got[i], want[i]))
            fail_msg ("watch %d (%s %s): got \"%s\", want \"%s\"", i, fsel[i] ? fsel[i] : "-", lsel[i] ? lsel[i] : "-",
                      got[i], want[i]);
    /* a watch of n2 from before the binding, resumed from revision 1: the binding arrives as ADDED */
    uint64_t late = start_watch_from (w, "Pod", "spec.nodeName=n2", NULL, 1);
    char seen[256];
    events_of (w, late, seen, sizeof seen, 500);
    assert_string_equal (seen, "ADDED p2,");
    tr_client_destroy (&c);
    tr_client_destroy (&w);
}

/* A node's watch started after its pods' events, resumed from revision 1, when no watch was
 * indexed as they entered the ring (each pod event carries its node's hash from then on: a watch
 * pinned to a node skips, unmatched, the events of other nodes' pods), among many other nodes'. */
static void
watch_index_late_first (void **state)
{
    fx_t *f = *state;
    tr_client_t *c = local_client (f), *w = local_client (f);
    char name[32], node[32];
    for (int i = 0; i < 40; i++) {
        snprintf (name, sizeof name, "o%d", i);
        snprintf (node, sizeof node, "n%d", 10 + i);
        assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "default", NULL, 0, node_pod (name, node, "x"), NULL), TR_OK);
        if (i == 20)
            assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "default", NULL, 0, node_pod ("mine", "n5", "x"), NULL),
                              TR_OK);
    }
    uint64_t id = start_watch_from (w, "Pod", "spec.nodeName=n5", NULL, 1);
    /* and one more of its own once it is indexed, bound from "" */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "default", NULL, 0, node_pod ("later", NULL, "x"), NULL), TR_OK);
    bind_pod (c, "later", "n5");
    char seen[256];
    events_of (w, id, seen, sizeof seen, 500);
    assert_string_equal (seen, "ADDED mine,ADDED later,");
    tr_client_destroy (&c);
    tr_client_destroy (&w);
}

/* ---- the event ring, sized by events and by time ------------------------------------------ */

static uint64_t
watch_from (tr_client_t *w, uint64_t rv)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    req.rv = rv;
    assert_int_equal (tr_client_call (w, &req, &rep, 5000), 0);
    int code = rep.code;
    tr_env_clear (&req);
    tr_env_clear (&rep);
    return (uint64_t) code;
}

static void
ring_by_events_and_time (void **state)
{
    fx_t *f = *state;
    /* at least 64 events, up to 256 while younger than 1.5 s */
    zactor_destroy (&f->broker);
    f->ring_max = 256;
    f->ring_window_ms = 1500;
    start_broker (f);
    tr_client_t *c = local_client (f), *w = local_client (f);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("r-first", "0"), &rep), TR_OK);
    uint64_t first = rep.rv;
    tr_env_clear (&rep);
    for (int i = 0; i < 150; i++) {
        char name[16];
        snprintf (name, sizeof name, "r%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    /* 151 events in well under the window: the ring grew past 64 and still holds the first */
    assert_int_equal (watch_from (w, first - 1), TR_OK);
    /* past the upper bound: 300 more events, the first has left even though it is recent */
    for (int i = 0; i < 300; i++) {
        char name[16];
        snprintf (name, sizeof name, "s%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    assert_int_equal (watch_from (w, first - 1), TR_EXPIRED);
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm ("t-mid", "x"), &rep), TR_OK);
    uint64_t mid = rep.rv;
    tr_env_clear (&rep);
    assert_int_equal (watch_from (w, mid - 1), TR_OK);
    /* once older than the window, events beyond the 64 kept regardless are dropped: 70 writes
     * later, mid (71 events back) is gone although the ring could hold 256 */
    zclock_sleep (1700);
    for (int i = 0; i < 70; i++) {
        char name[16];
        snprintf (name, sizeof name, "u%d", i);
        assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", "default", NULL, 0, cm (name, "x"), NULL), TR_OK);
    }
    assert_int_equal (watch_from (w, mid - 1), TR_EXPIRED);
    tr_client_destroy (&c);
    tr_client_destroy (&w);
}

/* tcp DEALERs carry ZMTP heartbeats (2 s / 6 s), spaced out by tr_conn_set_heartbeat for the
 * ones made after it (troupe hollow's thousands of connections); an ipc one has none */
static void
dealer_heartbeat (void **state)
{
    (void) state;
    zcert_t *srv = zcert_new (), *me = zcert_new ();
    tr_creds_t c = {0};
    snprintf (c.server_key, sizeof c.server_key, "%s", zcert_public_txt (srv));
    snprintf (c.public_key, sizeof c.public_key, "%s", zcert_public_txt (me));
    snprintf (c.secret_key, sizeof c.secret_key, "%s", zcert_secret_txt (me));
    char err[300];
    zsock_t *d = tr_conn_dealer ("tcp://127.0.0.1:9", &c, err, sizeof err); /* connects in the background */
    assert_non_null (d);
    assert_int_equal (zsock_heartbeat_ivl (d), 2000);
    assert_int_equal (zsock_heartbeat_timeout (d), 6000);
    zsock_destroy (&d);
    tr_conn_set_heartbeat (30000, 15000);
    d = tr_conn_dealer ("tcp://127.0.0.1:9", &c, err, sizeof err);
    assert_non_null (d);
    assert_int_equal (zsock_heartbeat_ivl (d), 30000);
    assert_int_equal (zsock_heartbeat_timeout (d), 15000);
    zsock_destroy (&d);
    tr_conn_set_heartbeat (2000, 6000);
    d = tr_conn_dealer ("ipc:///tmp/tb-heartbeat-none.sock", NULL, err, sizeof err);
    assert_non_null (d);
    assert_int_equal (zsock_heartbeat_ivl (d), 0);
    zsock_destroy (&d);
    zcert_destroy (&srv);
    zcert_destroy (&me);
}

int
main (void)
{
    setenv ("TROUPE_LOG", getenv ("TB_LOG") ? getenv ("TB_LOG") : "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (dealer_heartbeat),
        cmocka_unit_test_setup_teardown (raw_frames, setup, teardown),
        cmocka_unit_test_setup_teardown (verbs_kinds_validation, setup, teardown),
        cmocka_unit_test_setup_teardown (cas_and_crud, setup, teardown),
        cmocka_unit_test_setup_teardown (uids_v4_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown (roles, setup, teardown),
        cmocka_unit_test_setup_teardown (node_join, setup, teardown),
        cmocka_unit_test_setup_teardown (watch_credit_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown (watch_batch, setup, teardown),
        cmocka_unit_test_setup_teardown (quantities_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown (secrets_encrypted_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown (priority_classes, setup, teardown),
        cmocka_unit_test_setup_teardown (watch_index_by_node, setup, teardown),
        cmocka_unit_test_setup_teardown (watch_index_late_first, setup, teardown),
        cmocka_unit_test_setup_teardown (ring_by_events_and_time, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
