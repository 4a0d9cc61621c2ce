/* Lease renewals: which updates are renewals (lease_is_renewal, pure), and the whole path on a
 * replicated store in one process — 3 raft_store members, brokers on the leader and on a
 * follower: a renewal keeps its resourceVersion and appends no Raft entry, every broker's cache
 * and watchers see it (leader broadcast; a renewal through the follower comes back with its
 * value), anything else is an ordinary write, a stale resourceVersion is a Conflict, and after
 * the checkpoint period the renewal is written to the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/store/raft_store.h"
#include "broker/broker.h"
#include "broker/lease.h"
#include "core/client.h"
#include "core/store_proto.h"
#include "core/value.h"

#define CHECKPOINT_MS 3000

static json_t *
lease (const char *holder, const char *renew)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                      "Lease", "metadata", "name", "n1", "namespace", "kube-node-lease", "resourceVersion", "7",
                      "spec", "holderIdentity", holder, "leaseDurationSeconds", 40, "renewTime", renew);
}

static void
renewal_decision (void **state)
{
    (void) state;
    json_t *cur = lease ("n1", "2026-12-01T10:00:00.000000Z");
    json_t *next = lease ("n1", "2026-12-01T10:00:10.000000Z");
    assert_true (lease_is_renewal (cur, next));
    /* the server-owned metadata may differ */
    tv_set_str (next, "metadata.resourceVersion", "9");
    tv_set_int (next, "metadata.generation", 4);
    assert_true (lease_is_renewal (cur, next));
    /* the same time again is still a renewal (a retry) */
    assert_true (lease_is_renewal (cur, cur));
    /* a new holder, a new duration, a label, time going backwards, no time: ordinary writes */
    json_t *x = lease ("n2", "2026-12-01T10:00:10.000000Z");
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    x = json_deep_copy (next);
    tv_set_int (x, "spec.leaseDurationSeconds", 15);
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    x = json_deep_copy (next);
    tv_set_str (x, "metadata.labels.a", "b");
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    x = lease ("n1", "2026-12-01T09:59:00.000000Z");
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    x = json_deep_copy (next);
    tv_del (x, "spec.renewTime");
    assert_false (lease_is_renewal (cur, x));
    tv_set_str (x, "spec.renewTime", "not a time");
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    x = json_deep_copy (next);
    tv_set_str (x, "spec.acquireTime", "2026-12-01T10:00:10.000000Z");
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    x = json_deep_copy (next);
    tv_set_str (x, "kind", "ConfigMap");
    assert_false (lease_is_renewal (cur, x));
    json_decref (x);
    assert_false (lease_is_renewal (NULL, next));
    /* pure: neither object is changed (their spec and metadata are shared with others) */
    json_t *cs = json_deep_copy (cur), *ns = json_deep_copy (next);
    json_t *spec = json_incref (tv_get (next, "spec")), *meta = json_incref (tv_get (next, "metadata"));
    assert_true (lease_is_renewal (cur, next));
    assert_true (json_equal (cur, cs));
    assert_true (json_equal (next, ns));
    assert_non_null (tv_get (next, "spec.renewTime"));
    json_decref (spec);
    json_decref (meta);
    json_decref (cs);
    json_decref (ns);
    json_decref (cur);
    json_decref (next);
}

/* ---- the replicated path -------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    zcert_t *cluster;
    zactor_t *auth, *m[3], *b[2];
    char store_ep[3][128], broker_ep[2][128];
} fx_t;

/* store status field (lastIndex, …) of member k, asked over the store protocol */
static uint64_t
status_u64 (fx_t *f, int k, const char *field)
{
    zsock_t *d = zsock_new_dealer (f->store_ep[k]);
    zsock_set_rcvtimeo (d, 5000);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "q", 1, NULL);
    zsock_send (d, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    zmsg_t *r = zmsg_recv (d);
    uint64_t v = 0;
    if (r) {
        zframe_t *fr = zmsg_first (r);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        if (msgpack_unpack_next (&up, (const char *) zframe_data (fr), zframe_size (fr), NULL) == MSGPACK_UNPACK_SUCCESS)
            v = sp_u64 (sp_field (sp_field (&up.data, "status"), field), 0);
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&r);
    }
    zsock_destroy (&d);
    return v;
}

static int
setup (void **state)
{
    fx_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/troupe-tl-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char path[256];
    snprintf (path, sizeof path, "%s/pki", f->dir);
    mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/pki/clients", f->dir);
    mkdir (path, 0700);
    f->cluster = zcert_new ();
    snprintf (path, sizeof path, "%s/pki/clients/peer.cert", f->dir);
    zcert_save_public (f->cluster, path);
    snprintf (path, sizeof path, "%s/pki/server.cert", f->dir);
    zcert_t *server = zcert_new ();
    zcert_save (server, path);
    zcert_destroy (&server);
    f->auth = zactor_new (zauth, NULL);
    snprintf (path, sizeof path, "%s/pki/clients", f->dir);
    zstr_sendx (f->auth, "CURVE", path, NULL);
    zsock_wait (f->auth);
    int base = 20000 + (int) (getpid () % 12000); /* below the ephemeral ports (32768+) */
    char peers[3][64];
    for (int k = 0; k < 3; k++) {
        char data[128];
        snprintf (data, sizeof data, "%s/m%d", f->dir, k + 1);
        snprintf (f->store_ep[k], sizeof f->store_ep[k], "inproc://tl-store-%d-%d", getpid (), k);
        snprintf (peers[k], sizeof peers[k], "tcp://127.0.0.1:%d", base + k);
        raft_store_opts_t o = {.data_dir = data, .endpoint = f->store_ep[k], .peer_listen = peers[k],
                               .join = k ? peers[0] : NULL, .cluster = f->cluster,
                               .lease_checkpoint_ms = CHECKPOINT_MS};
        f->m[k] = raft_store_new (&o);
        assert_non_null (f->m[k]);
        if (k == 0) /* the first member elects itself */
            for (int i = 0; i < 100 && status_u64 (f, 0, "leaderId") != 1; i++)
                zclock_sleep (50);
    }
    for (int i = 0; i < 100 && status_u64 (f, 2, "appliedIndex") < status_u64 (f, 0, "commitIndex"); i++)
        zclock_sleep (50);
    snprintf (path, sizeof path, "%s/pki", f->dir);
    for (int k = 0; k < 2; k++) {
        snprintf (f->broker_ep[k], sizeof f->broker_ep[k], "inproc://tl-broker-%d-%d", getpid (), k);
        broker_opts_t bo = {.store_endpoint = f->store_ep[k], .local_endpoints = f->broker_ep[k], .pki_dir = path,
                            .auth_external = 1, .replicated = 1};
        f->b[k] = broker_new (&bo);
        assert_non_null (f->b[k]);
    }
    *state = f;
    return 0;
}

static int
teardown (void **state)
{
    fx_t *f = *state;
    for (int k = 1; k >= 0; k--)
        zactor_destroy (&f->b[k]);
    for (int k = 2; k >= 0; k--)
        zactor_destroy (&f->m[k]);
    zactor_destroy (&f->auth);
    zcert_destroy (&f->cluster);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

static tr_client_t *
client (fx_t *f, int k)
{
    char err[256];
    tr_client_t *c = tr_client_new (f->broker_ep[k], NULL, err, sizeof err);
    assert_non_null (c);
    return c;
}

/* One request on Lease kube-node-lease/n1; returns the code, the reply in *out if given. */
static int
call (tr_client_t *c, tr_verb_t verb, uint64_t rv, json_t *body, int stale, tr_env_t *out)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    strcpy (req.kind, "Lease");
    strcpy (req.ns, "kube-node-lease");
    if (verb != TR_VERB_CREATE)
        strcpy (req.name, "n1");
    req.rv = rv;
    req.body = body;
    if (stale)
        req.opts = json_pack ("{s:b}", "stale", 1);
    int rc = tr_client_call (c, &req, &rep, 8000);
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

static uint64_t
rv_of (const tr_env_t *rep)
{
    const char *s = tv_str (rep->body, "metadata.resourceVersion");
    return s ? strtoull (s, NULL, 10) : 0;
}

/* The renewTime of Lease n1 as broker k serves it (stale: its cache). */
static char *
renew_time (tr_client_t *c, int stale)
{
    tr_env_t rep;
    if (call (c, TR_VERB_GET, 0, NULL, stale, &rep) != TR_OK)
        return NULL;
    char *t = tv_str (rep.body, "spec.renewTime") ? strdup (tv_str (rep.body, "spec.renewTime")) : NULL;
    tr_env_clear (&rep);
    return t;
}

static void
replicated_renewals (void **state)
{
    fx_t *f = *state;
    tr_client_t *lc = client (f, 0), *fc = client (f, 1), *w = client (f, 1);
    tr_env_t rep;
    /* the namespace is made by the brokers at start; the Lease through the leader's broker */
    int code = TR_NOT_FOUND;
    for (int i = 0; i < 50 && code != TR_OK; i++) {
        code = call (lc, TR_VERB_CREATE, 0, lease ("n1", "2026-12-01T10:00:00.000000Z"), 0, &rep);
        if (code != TR_OK) {
            tr_env_clear (&rep);
            zclock_sleep (100);
        }
    }
    assert_int_equal (code, TR_OK);
    uint64_t rv = rv_of (&rep);
    json_t *cur = json_deep_copy (rep.body);
    tr_env_clear (&rep);
    /* a watcher on the follower's broker */
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "Lease");
    req.rv = rv;
    assert_int_equal (tr_client_call (w, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    uint64_t wid = req.id;
    tr_env_clear (&req);
    tr_env_clear (&rep);
    /* renewals through the leader's broker: same resourceVersion, no entry */
    uint64_t last = status_u64 (f, 0, "lastIndex");
    const char *times[] = {"2026-12-01T10:00:10.000000Z", "2026-12-01T10:00:20.000000Z"};
    for (int i = 0; i < 2; i++) {
        json_t *next = json_deep_copy (cur);
        tv_set_str (next, "spec.renewTime", times[i]);
        assert_int_equal (call (lc, TR_VERB_UPDATE, rv, next, 0, &rep), TR_OK);
        assert_int_equal (rv_of (&rep), rv);
        assert_int_equal (rep.rv, rv);
        tr_env_clear (&rep);
    }
    assert_int_equal (status_u64 (f, 0, "lastIndex"), last);
    /* the follower's watcher saw both, MODIFIED, at the unchanged resourceVersion */
    int seen = 0;
    tr_env_t ev;
    while (seen < 2 && tr_client_recv (w, &ev, 3000) == 0) {
        if (ev.verb == TR_VERB_EVENT && ev.id == wid) {
            assert_string_equal (tv_str (ev.opts, "type"), "MODIFIED");
            assert_string_equal (tv_str (ev.body, "spec.renewTime"), times[seen]);
            assert_int_equal (rv_of (&ev), rv);
            assert_true (ev.rv >= rv); /* never behind what the watcher had already seen */
            seen++;
        }
        tr_env_clear (&ev);
    }
    assert_int_equal (seen, 2);
    /* both brokers serve the latest value (linearizable on the follower, from the leader's cache) */
    char *t = renew_time (fc, 0);
    assert_non_null (t);
    assert_string_equal (t, times[1]);
    free (t);
    t = renew_time (lc, 1);
    assert_string_equal (t, times[1]);
    free (t);
    /* a renewal through the follower's broker (forwarded): its own cache has it at once */
    last = status_u64 (f, 0, "lastIndex");
    json_t *next = json_deep_copy (cur);
    tv_set_str (next, "spec.renewTime", "2026-12-01T10:00:30.000000Z");
    assert_int_equal (call (fc, TR_VERB_UPDATE, rv, next, 0, &rep), TR_OK);
    assert_int_equal (rv_of (&rep), rv);
    tr_env_clear (&rep);
    t = renew_time (fc, 1);
    assert_string_equal (t, "2026-12-01T10:00:30.000000Z");
    free (t);
    assert_int_equal (status_u64 (f, 0, "lastIndex"), last);
    for (int i = 0; i < 50; i++) { /* the leader's broker hears it from its store too */
        t = renew_time (lc, 1);
        int ok = t && !strcmp (t, "2026-12-01T10:00:30.000000Z");
        free (t);
        if (ok)
            break;
        zclock_sleep (20);
    }
    t = renew_time (lc, 1);
    assert_string_equal (t, "2026-12-01T10:00:30.000000Z");
    free (t);
    /* anything else is an ordinary write: a new resourceVersion, an entry in the log */
    next = json_deep_copy (cur);
    tv_set_str (next, "spec.holderIdentity", "n2");
    assert_int_equal (call (lc, TR_VERB_UPDATE, rv, next, 0, &rep), TR_OK);
    uint64_t rv2 = rv_of (&rep);
    assert_true (rv2 > rv);
    json_decref (cur);
    cur = json_deep_copy (rep.body);
    tr_env_clear (&rep);
    assert_true (status_u64 (f, 0, "lastIndex") > last);
    /* a renewal at the old resourceVersion is a Conflict, as any stale update */
    next = json_deep_copy (cur);
    tv_set_str (next, "spec.renewTime", "2026-12-01T10:00:40.000000Z");
    assert_int_equal (call (lc, TR_VERB_UPDATE, rv, next, 0, NULL), TR_CONFLICT);
    /* past the checkpoint period the renewal goes to the log (new resourceVersion) */
    next = json_deep_copy (cur);
    tv_set_str (next, "spec.renewTime", "2026-12-01T10:00:50.000000Z");
    assert_int_equal (call (lc, TR_VERB_UPDATE, rv2, next, 0, &rep), TR_OK);
    assert_int_equal (rv_of (&rep), rv2); /* held: the write of n2 was just now */
    tr_env_clear (&rep);
    zclock_sleep (CHECKPOINT_MS + 200);
    last = status_u64 (f, 0, "lastIndex");
    next = json_deep_copy (cur);
    tv_set_str (next, "spec.renewTime", "2026-12-01T10:01:00.000000Z");
    assert_int_equal (call (lc, TR_VERB_UPDATE, rv2, next, 0, &rep), TR_OK);
    assert_true (rv_of (&rep) > rv2);
    tr_env_clear (&rep);
    assert_true (status_u64 (f, 0, "lastIndex") > last);
    /* and every member applied it: the follower's store holds the latest renewTime */
    t = renew_time (fc, 0);
    assert_string_equal (t, "2026-12-01T10:01:00.000000Z");
    free (t);
    json_decref (cur);
    tr_client_destroy (&lc);
    tr_client_destroy (&fc);
    tr_client_destroy (&w);
}

/* A ConfigMap write through client c, fenced by term (0: not fenced); returns the code. */
static int
cm_write (tr_client_t *c, tr_verb_t verb, const char *name, uint64_t fence)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    snprintf (req.name, sizeof req.name, "%s", name);
    if (verb != TR_VERB_DELETE && verb != TR_VERB_GET)
        req.body = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                              name, "namespace", "default", "data", "k", verb == TR_VERB_CREATE ? "v1" : "v2");
    if (fence)
        req.opts = json_pack ("{s:I}", "fence", (json_int_t) fence);
    int rc = tr_client_call (c, &req, &rep, 8000);
    tr_env_clear (&req);
    if (rc)
        return TR_TIMEOUT;
    int code = rep.code;
    tr_env_clear (&rep);
    return code;
}

/* Writes fenced by a Raft term land only in that term, whether they reach the leader directly or
 * through a follower's forwarding (a deposed leader's controllers write through their own server,
 * now a follower): the leader refuses any other term's, and nothing of them is stored. */
static void
fenced_writes (void **state)
{
    fx_t *f = *state;
    uint64_t term = status_u64 (f, 0, "term");
    assert_true (term >= 1);
    tr_client_t *lc = client (f, 0), *fc = client (f, 1);
    assert_int_equal (cm_write (lc, TR_VERB_CREATE, "a", term), TR_OK);
    assert_int_equal (cm_write (fc, TR_VERB_CREATE, "b", term), TR_OK);
    assert_int_equal (cm_write (lc, TR_VERB_UPDATE, "a", term), TR_OK);
    assert_int_equal (cm_write (fc, TR_VERB_CREATE, "c", 0), TR_OK); /* unfenced: as before */
    uint64_t stale[] = {term + 1, term - 1 ? term - 1 : term + 2};
    for (int i = 0; i < 2; i++) {
        assert_int_equal (cm_write (lc, TR_VERB_CREATE, "x", stale[i]), TR_UNAVAILABLE);
        assert_int_equal (cm_write (fc, TR_VERB_CREATE, "y", stale[i]), TR_UNAVAILABLE);
        assert_int_equal (cm_write (fc, TR_VERB_UPDATE, "b", stale[i]), TR_UNAVAILABLE);
        assert_int_equal (cm_write (lc, TR_VERB_DELETE, "a", stale[i]), TR_UNAVAILABLE);
    }
    assert_int_equal (cm_write (lc, TR_VERB_GET, "x", 0), TR_NOT_FOUND);
    assert_int_equal (cm_write (fc, TR_VERB_GET, "y", 0), TR_NOT_FOUND);
    assert_int_equal (cm_write (fc, TR_VERB_GET, "a", 0), TR_OK); /* the fenced delete did nothing */
    assert_int_equal (cm_write (lc, TR_VERB_DELETE, "a", term), TR_OK);
    assert_int_equal (cm_write (lc, TR_VERB_GET, "a", 0), TR_NOT_FOUND);
    tr_client_destroy (&lc);
    tr_client_destroy (&fc);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    setenv ("TROUPE_LOG", "warn", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (renewal_decision),
        cmocka_unit_test_setup_teardown (replicated_renewals, setup, teardown),
        cmocka_unit_test_setup_teardown (fenced_writes, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
