/* The broker under bad clients, with real sockets (store actor + broker in this process, clients
 * over ipc): a client that stops reading never blocks the others, and its watches end with an
 * EXPIRED saying why once they fall out of the ring; a client that goes silent loses its watches
 * (and is told when it speaks again); a client flooding requests gets TooManyRequests past its
 * share, every request answered; a request the store never answers ends with Timeout; lists are
 * paged (limit/continue) and one too large for a message is TooLarge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "broker/broker_cache.h"
#include "core/client.h"
#include "core/store_proto.h"
#include "core/value.h"
#include "tests/unit/watch_fixture.h"

/* The fake and real stores' inproc endpoints, one number each: a fixture a failed test leaves
 * bound must not take the next test's endpoint */
static int store_seq;

typedef struct {
    char dir[256];
    char ep[400];
    char sep[64];
    zactor_t *store, *broker;
} fx_t;

static fx_t *
start (broker_opts_t o)
{
    fx_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/troupe-tbf-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char store[400];
    snprintf (store, sizeof store, "%s/store", f->dir);
    mkdir (store, 0700);
    snprintf (f->ep, sizeof f->ep, "ipc://%s/b.sock", f->dir);
    snprintf (f->sep, sizeof f->sep, "inproc://tbf-store-%d-%d", getpid (), store_seq++);
    f->store = store_actor_new (store, f->sep);
    assert_non_null (f->store);
    o.store_endpoint = f->sep;
    o.local_endpoints = f->ep;
    f->broker = broker_new (&o);
    assert_non_null (f->broker);
    return f;
}

static void
stop (fx_t **fp)
{
    fx_t *f = *fp;
    zactor_destroy (&f->broker);
    zactor_destroy (&f->store);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    *fp = NULL;
}

static json_t *
cm (const char *name)
{
    return json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", name,
                      "data", "k", "0123456789abcdef0123456789abcdef");
}

static void
send_req (zsock_t *s, uint64_t id, tr_verb_t verb, uint64_t rv, json_t *body, json_t *opts)
{
    tr_env_t e;
    tr_env_init (&e);
    e.id = id;
    e.verb = verb;
    strcpy (e.kind, "ConfigMap");
    strcpy (e.ns, "default");
    e.rv = rv;
    e.body = body;
    e.opts = opts;
    assert_int_equal (tr_conn_send (s, NULL, &e), 0);
    tr_env_clear (&e);
}

static int
recv_env (zsock_t *s, tr_env_t *e, int ms)
{
    zsock_set_rcvtimeo (s, ms);
    char err[200];
    return tr_conn_recv (s, NULL, e, err, sizeof err);
}

static double
now_s (void)
{
    return (double) zclock_usecs () / 1e6;
}

/* Eight watches on one connection that stops reading (its receive queue holds one message): the
 * broker's pipe to it fills. Creates from another client keep being answered at once, and once
 * the stopped client reads again, each of its watches has delivered events in revision order
 * and then EXPIRED ("too slow": its position left the 1,000-event ring) — no silent gap. */
static void
stopped_reader_blocks_nobody (void **state)
{
    (void) state;
    /* silence allowed for a minute: this test is about the full pipe, not the heartbeat (the
     * stopped client sends nothing while the creates run) */
    fx_t *f = start ((broker_opts_t) {.ring_size = 1000, .ring_max = 1000, .client_silence_ms = 60000});
    zsock_t *w = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (w, 1);
    zsock_set_linger (w, 0);
    assert_int_equal (zsock_connect (w, "%s", f->ep), 0);
    enum { NW = 8, N = 3000 };
    for (int i = 0; i < NW; i++)
        send_req (w, 100 + i, TR_VERB_WATCH, 0, NULL, json_pack ("{s:i}", "credit", 1 << 30));
    zclock_sleep (200); /* the watches are registered (their acks wait in the pipe) */
    char err[256];
    tr_client_t *c = tr_client_new (f->ep, NULL, err, sizeof err);
    double worst = 0, t0 = now_s ();
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf (name, sizeof name, "cm-%d", i);
        tr_env_t req, rep;
        tr_env_init (&req);
        req.verb = TR_VERB_CREATE;
        strcpy (req.kind, "ConfigMap");
        strcpy (req.ns, "default");
        req.body = cm (name);
        double s = now_s ();
        assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0); /* before: the broker blocked here */
        assert_int_equal (rep.code, TR_OK);
        if (now_s () - s > worst)
            worst = now_s () - s;
        tr_env_clear (&req);
        tr_env_clear (&rep);
    }
    printf ("# %d creates beside a stopped reader: %.2f s, slowest %.1f ms\n", N, now_s () - t0, worst * 1e3);
    assert_true (worst < 2.0);
    /* the stopped client reads again */
    uint64_t last[NW] = {0};
    int expired[NW] = {0}, events = 0, nexp = 0;
    for (int guard = 0; nexp < NW && guard < 200000; guard++) {
        tr_env_t e;
        if (recv_env (w, &e, 3000))
            break;
        if (e.verb == TR_VERB_EVENT && e.id >= 100 && e.id < 100 + NW) {
            int k = (int) (e.id - 100);
            const char *type = tv_str (e.opts, "type");
            assert_false (expired[k]); /* nothing after the end */
            if (!strcmp (type, "EXPIRED")) {
                expired[k] = 1;
                nexp++;
                assert_non_null (e.msg);
                assert_non_null (strstr (e.msg, "too slow"));
            } else {
                assert_string_equal (type, "ADDED");
                assert_true (e.rv == last[k] + 1 || !last[k]); /* consecutive: no gap */
                last[k] = e.rv;
                events++;
            }
        }
        tr_env_clear (&e);
    }
    printf ("# stopped reader then read %d events and %d EXPIRED\n", events, nexp);
    assert_int_equal (nexp, NW);
    /* at most the capped credit was outstanding per watch */
    for (int k = 0; k < NW; k++)
        assert_true (last[k] > 0);
    assert_true (events <= NW * BCACHE_MAX_CREDIT);
    zsock_destroy (&w);
    tr_client_destroy (&c);
    stop (&f);
}

/* A client silent for longer than client_silence_ms loses its watches: it is sent EXPIRED
 * ("not heard from"), and its next ping is answered watchesCut, so it resumes. */
static void
silent_client_loses_watches (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {.client_silence_ms = 1500});
    char err[256];
    tr_client_t *w = tr_client_new (f->ep, NULL, err, sizeof err);
    tr_client_t *c = tr_client_new (f->ep, NULL, err, sizeof err);
    tr_env_t req, rep;
    uint64_t wid = wf_watch (w, "ConfigMap", 0, 10);
    /* a client that pings stays */
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    uint64_t cwid = req.id;
    tr_env_clear (&req);
    tr_env_clear (&rep);
    int cut = 0;
    for (int i = 0; i < 12 && !cut; i++) {
        tr_env_init (&req);
        req.verb = TR_VERB_PING;
        assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
        assert_false (tv_bool (rep.body, "watchesCut", false));
        tr_env_clear (&rep);
        tr_env_t ev;
        if (tr_client_recv (w, &ev, 250) == 0 && ev.verb == TR_VERB_EVENT && ev.id == wid) {
            assert_string_equal (tv_str (ev.opts, "type"), "EXPIRED");
            assert_non_null (strstr (ev.msg, "not heard from"));
            cut = 1;
        }
        tr_env_clear (&ev);
    }
    assert_true (cut);
    tr_env_init (&req);
    req.verb = TR_VERB_PING;
    assert_int_equal (tr_client_call (w, &req, &rep, 5000), 0);
    assert_true (tv_bool (rep.body, "watchesCut", false));
    tr_env_clear (&rep);
    /* once told, not again */
    tr_env_init (&req);
    req.verb = TR_VERB_PING;
    assert_int_equal (tr_client_call (w, &req, &rep, 5000), 0);
    assert_false (tv_bool (rep.body, "watchesCut", false));
    tr_env_clear (&rep);
    /* the pinging client's watch still delivers; the silent one's does not (the create comes from
     * a third client: a call skips the events that arrive before its reply) */
    tr_client_t *x = tr_client_new (f->ep, NULL, err, sizeof err);
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    req.body = cm ("after");
    assert_int_equal (tr_client_call (x, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&req);
    tr_env_clear (&rep);
    tr_client_destroy (&x);
    tr_env_t ev;
    int got = 0;
    while (tr_client_recv (c, &ev, 500) == 0) {
        got += ev.verb == TR_VERB_EVENT && ev.id == cwid;
        tr_env_clear (&ev);
    }
    assert_int_equal (got, 1);
    while (tr_client_recv (w, &ev, 300) == 0) {
        assert_false (ev.verb == TR_VERB_EVENT && ev.id == wid);
        tr_env_clear (&ev);
    }
    tr_client_destroy (&w);
    tr_client_destroy (&c);
    stop (&f);
}

/* One client pipelines 300 creates with a share of 4 requests in flight: every request is
 * answered, either created or TooManyRequests with a retry hint; another client is served. */
static void
flood_gets_too_many_requests (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {.max_inflight_per_client = 4});
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", f->ep), 0);
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf (name, sizeof name, "f-%d", i);
        send_req (s, (uint64_t) i + 1, TR_VERB_CREATE, 0, cm (name), NULL);
    }
    int ok = 0, busy = 0, other = 0;
    char seen[N + 1] = {0};
    uint64_t rv[N + 1] = {0};
    for (int n = 0; n < N; n++) {
        tr_env_t e;
        if (recv_env (s, &e, 5000))
            break;
        assert_true (e.id >= 1 && e.id <= N && !seen[e.id]);
        seen[e.id] = 1;
        if (e.code == TR_OK) {
            ok++;
            rv[e.id] = e.rv;
        }
        else if (e.code == TR_TOO_MANY_REQUESTS) {
            busy++;
            assert_non_null (strstr (e.msg, "Too many requests"));
            assert_int_equal (tv_int (e.body, "details.retryAfterSeconds", 0), 1);
        } else
            other++;
        tr_env_clear (&e);
    }
    printf ("# %d pipelined creates, share 4: %d created, %d TooManyRequests, %d other\n", N, ok, busy, other);
    assert_int_equal (ok + busy, N);
    /* its share in flight and its queue's worth waiting are all served, in the order sent */
    assert_true (ok >= 4 + BROKER_QUEUE_PER_CLIENT);
    for (int i = 1; i <= 4 + BROKER_QUEUE_PER_CLIENT; i++) {
        assert_true (rv[i] > 0);
        if (i > 1)
            assert_true (rv[i] > rv[i - 1]);
    }
    assert_true (busy > 0);
    /* the synchronous client retries TooManyRequests after the hint: a call succeeds */
    char err[256];
    tr_client_t *c = tr_client_new (f->ep, NULL, err, sizeof err);
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    req.body = cm ("other-client");
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&req);
    tr_env_clear (&rep);
    tr_client_destroy (&c);
    zsock_destroy (&s);
    stop (&f);
}

/* nodes + 1 DEALERs connected to f's broker: the first nodes said hello as agents of nodes
 * prefix0, prefix1…, the last is a plain client; then the broker is paused (PAUSE), so that
 * what the test sends next waits in its socket until RESUME or STEP. */
static void
nodes_connect (fx_t *f, zsock_t **s, int nodes, const char *prefix)
{
    for (int i = 0; i <= nodes; i++) {
        s[i] = zsock_new (ZMQ_DEALER);
        zsock_set_linger (s[i], 0);
        assert_int_equal (zsock_connect (s[i], "%s", f->ep), 0);
    }
    for (int i = 0; i < nodes; i++) {
        char node[16];
        snprintf (node, sizeof node, "%s%d", prefix, i);
        send_req (s[i], 1, TR_VERB_HELLO, 0, json_pack ("{s:s,s:s}", "actor", "agent", "node", node), NULL);
        tr_env_t e;
        assert_int_equal (recv_env (s[i], &e, 5000), 0);
        assert_int_equal (e.code, TR_OK);
        tr_env_clear (&e);
    }
    zstr_send (f->broker, "PAUSE");
    assert_int_equal (zsock_wait (f->broker), 0);
}

/* Twenty nodes' agents (their hello says so) pipeline 20 writes each, then a client sends 20,
 * all while the broker is paused so that they wait together in its socket (otherwise a slow test
 * process would still be sending the client's while the broker, rightly, serves the nodes' it has):
 * the nodes' writes past a turn's node budget wait behind the others' (the api-server's priority
 * level for kubelets), so once the client's first is answered, fewer than a quarter of the nodes'
 * come before its last — not one node write each of the twenty a round, as ZeroMQ's reading of
 * one message a connection in turn gave them (about 380 in between). Every write is created. */
static void
nodes_writes_yield (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {0});
    enum { NODES = 20, PER = 20, ALL = NODES * PER + PER };
    zsock_t *s[NODES + 1];
    nodes_connect (f, s, NODES, "yn");
    for (int k = 0; k < PER; k++) /* the nodes' first, interleaved as they would arrive */
        for (int i = 0; i < NODES; i++) {
            char name[32];
            snprintf (name, sizeof name, "y-%d-%d", i, k);
            send_req (s[i], (uint64_t) k + 2, TR_VERB_CREATE, 0, cm (name), NULL);
        }
    for (int k = 0; k < PER; k++) {
        char name[32];
        snprintf (name, sizeof name, "y-user-%d", k);
        send_req (s[NODES], (uint64_t) k + 2, TR_VERB_CREATE, 0, cm (name), NULL);
    }
    zclock_sleep (500); /* ZeroMQ's I/O thread moves them into the broker's socket meanwhile */
    zstr_send (f->broker, "RESUME");
    zpoller_t *p = zpoller_new (NULL);
    for (int i = 0; i <= NODES; i++)
        zpoller_add (p, s[i]);
    /* the order of the writes is their revisions' (the store's commit order), not the order this
     * process happens to read the answers in (zpoller favours the sockets listed first) */
    int got = 0, ok = 0, user = 0;
    uint64_t rv[ALL], user_lo = UINT64_MAX, user_hi = 0;
    int64_t deadline = zclock_mono () + 20000;
    while (got < ALL && zclock_mono () < deadline) {
        zsock_t *which = zpoller_wait (p, 1000);
        if (!which)
            continue;
        tr_env_t e;
        if (recv_env (which, &e, 0))
            continue;
        if (e.code == TR_OK)
            ok++;
        else
            printf ("# %s: %s\n", tr_code_name (e.code), e.msg ? e.msg : "");
        rv[got++] = e.rv;
        if (which == s[NODES]) {
            user++;
            user_lo = e.rv < user_lo ? e.rv : user_lo;
            user_hi = e.rv > user_hi ? e.rv : user_hi;
        }
        tr_env_clear (&e);
    }
    /* the nodes' committed between the client's first and last: those its writes waited behind */
    int between = 0, before = 0;
    for (int i = 0; i < got; i++) {
        between += rv[i] > user_lo && rv[i] < user_hi;
        before += rv[i] < user_lo;
    }
    between -= PER - 2;
    printf ("# %d writes answered (%d created); %d nodes' committed before the client's first, %d between its "
            "first and last\n",
            got, ok, before, between);
    assert_int_equal (got, ALL);
    assert_int_equal (ok, ALL);
    assert_int_equal (user, PER);
    assert_true (user_lo > 0);
    assert_true (between < NODES * PER / 4);
    zpoller_destroy (&p);
    for (int i = 0; i <= NODES; i++)
        zsock_destroy (&s[i]);
    stop (&f);
}

/* A node's write put aside longer than a quarter of the request timeout is refused
 * TooManyRequests, with the retry hint (node_pump): twenty nodes pipeline 20 writes each and a
 * client 20; one turn of the broker (STEP) serves the client's and the turn's 8 node writes and
 * puts the others aside; held past the limit, those are refused, not served late. */
static void
late_node_writes_refused (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {.request_timeout_ms = 2000});
    enum { NODES = 20, PER = 20, ALL = NODES * PER + PER, NODE_TURN = 8 };
    zsock_t *s[NODES + 1];
    nodes_connect (f, s, NODES, "ln");
    for (int k = 0; k < PER; k++)
        for (int i = 0; i <= NODES; i++) {
            char name[32];
            snprintf (name, sizeof name, "l-%d-%d", i, k);
            send_req (s[i], (uint64_t) k + 2, TR_VERB_CREATE, 0, cm (name), NULL);
        }
    zclock_sleep (500);           /* all in the broker's socket */
    zstr_send (f->broker, "STEP"); /* one turn: the client's and 8 nodes' served, the rest aside */
    assert_int_equal (zsock_wait (f->broker), 0);
    zclock_sleep (1000);           /* past the quarter of the timeout (500 ms) */
    zstr_send (f->broker, "RESUME");
    zpoller_t *p = zpoller_new (NULL);
    for (int i = 0; i <= NODES; i++)
        zpoller_add (p, s[i]);
    int got = 0, node_ok = 0, node_busy = 0, user_ok = 0, other = 0;
    int64_t deadline = zclock_mono () + 20000;
    while (got < ALL && zclock_mono () < deadline) {
        zsock_t *which = zpoller_wait (p, 1000);
        if (!which)
            continue;
        tr_env_t e;
        if (recv_env (which, &e, 0))
            continue;
        got++;
        if (which == s[NODES])
            user_ok += e.code == TR_OK;
        else if (e.code == TR_OK)
            node_ok++;
        else if (e.code == TR_TOO_MANY_REQUESTS && e.msg && strstr (e.msg, "behind other nodes' writes") &&
                 tv_int (e.body, "details.retryAfterSeconds", 0) > 0)
            node_busy++;
        else {
            printf ("# %s: %s\n", tr_code_name (e.code), e.msg ? e.msg : "");
            other++;
        }
        tr_env_clear (&e);
    }
    printf ("# %d answered: the client's %d created, the nodes' %d created and %d refused, %d other\n", got, user_ok,
            node_ok, node_busy, other);
    assert_int_equal (got, ALL);
    assert_int_equal (user_ok, PER);
    assert_int_equal (node_ok, NODE_TURN);
    assert_int_equal (node_busy, NODES * PER - NODE_TURN);
    assert_int_equal (other, 0);
    zpoller_destroy (&p);
    for (int i = 0; i <= NODES; i++)
        zsock_destroy (&s[i]);
    stop (&f);
}

/* A fake store's message to the broker whose identity is rid: sb's bytes. */
static void
store_send (zsock_t *r, zframe_t *rid, const msgpack_sbuffer *sb)
{
    zmsg_t *out = zmsg_new ();
    zmsg_addmem (out, zframe_data (rid), zframe_size (rid));
    zmsg_addmem (out, sb->data, sb->size);
    zmsg_send (&out, r);
}

/* The store's range answer ("k") to request id: the four base namespaces at revision 4. */
static void
answer_range (zsock_t *r, zframe_t **rid_p, uint64_t id)
{
    zframe_t *rid = *rid_p;
    static const char *nss[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "k");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "rev");
    msgpack_pack_uint64 (&pk, 4);
    sp_pack_cstr (&pk, "kvs");
    msgpack_pack_array (&pk, 4);
    for (int i = 0; i < 4; i++) {
        char key[100], *val;
        size_t len;
        snprintf (key, sizeof key, "/registry/namespaces/%s", nss[i]);
        json_t *ns = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                                "name", nss[i]);
        assert_int_equal (tv_encode (ns, &val, &len), 0);
        json_decref (ns);
        msgpack_pack_array (&pk, 4);
        sp_pack_cstr (&pk, key);
        msgpack_pack_bin (&pk, len);
        msgpack_pack_bin_body (&pk, val, len);
        msgpack_pack_uint64 (&pk, (uint64_t) i + 1);
        msgpack_pack_uint64 (&pk, (uint64_t) i + 1);
        free (val);
    }
    store_send (r, rid, &sb);
    msgpack_sbuffer_destroy (&sb);
    zframe_destroy (rid_p);
}

/* One message from the broker to a fake store: *rid its sender and up its body (both the
 * caller's to free, with the message returned, which up's strings point into), t its type ("" when
 * it does not decode). */
static zmsg_t *
store_msg_recv (zsock_t *r, zframe_t **rid, msgpack_unpacked *up, char t[4])
{
    zmsg_t *m = zmsg_recv (r);
    *rid = m ? zmsg_pop (m) : NULL;
    zframe_t *f = m ? zmsg_first (m) : NULL;
    msgpack_unpacked_init (up);
    t[0] = 0;
    if (f && msgpack_unpack_next (up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
        sp_str (sp_field (&up->data, "t"), t, 4);
    return m;
}

/* A fake store's loop until its pipe says stop: each message from the broker to on_msg, with its
 * sender (on_msg's to free or keep), its body and type (store_msg_recv). */
typedef void (store_msg_fn) (zsock_t *r, zframe_t **rid, const msgpack_unpacked *up, const char *t);

static void
store_loop (zsock_t *pipe, const char *endpoint, store_msg_fn *on_msg)
{
    zsock_t *r = zsock_new_router (endpoint);
    zsock_signal (pipe, 0);
    zpoller_t *p = zpoller_new (pipe, r, NULL);
    for (;;) {
        void *which = zpoller_wait (p, 1000);
        if (which == pipe || zpoller_terminated (p))
            break;
        if (which != r)
            continue;
        zframe_t *rid;
        msgpack_unpacked up;
        char t[4];
        zmsg_t *m = store_msg_recv (r, &rid, &up, t);
        on_msg (r, &rid, &up, t);
        msgpack_unpacked_destroy (&up);
        zframe_destroy (&rid);
        zmsg_destroy (&m);
    }
    zpoller_destroy (&p);
    zsock_destroy (&r);
}

/* A store that loads (namespaces only) and then never answers a proposal: the broker ends the
 * client's request with Timeout after request_timeout_ms instead of keeping it forever. */
static void
mute_msg (zsock_t *r, zframe_t **rid, const msgpack_unpacked *up, const char *t)
{
    if (!strcmp (t, "g"))
        answer_range (r, rid, sp_u64 (sp_field (&up->data, "id"), 0));
}

static void
mute_store (zsock_t *pipe, void *arg)
{
    store_loop (pipe, (const char *) arg, mute_msg);
}

/* A broker in front of a fake store actor (store_fn: mute_store, reload_store), on an ipc
 * socket in a fresh directory; opts give the limits, the endpoints are filled in here. */
typedef struct {
    char dir[32], sep[64], ep[300];
    zactor_t *st, *br;
} fake_t;

static void
fake_start (fake_t *f, zactor_fn *store_fn, broker_opts_t o)
{
    snprintf (f->dir, sizeof f->dir, "/tmp/troupe-tbf-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->sep, sizeof f->sep, "inproc://tbf-store-%d-%d", getpid (), store_seq++);
    snprintf (f->ep, sizeof f->ep, "ipc://%s/b.sock", f->dir);
    f->st = zactor_new (store_fn, f->sep);
    o.store_endpoint = f->sep;
    o.local_endpoints = f->ep;
    f->br = broker_new (&o);
    assert_non_null (f->br);
}

static void
fake_stop (fake_t *f)
{
    zactor_destroy (&f->br);
    zactor_destroy (&f->st);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
}

static void
overdue_store_answer_is_timeout (void **state)
{
    (void) state;
    fake_t fk;
    fake_start (&fk, mute_store, (broker_opts_t) {.request_timeout_ms = 1500});
    char err[256];
    tr_client_t *c = tr_client_new (fk.ep, NULL, err, sizeof err);
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    req.body = cm ("never");
    double t0 = now_s ();
    assert_int_equal (tr_client_call (c, &req, &rep, 10000), 0);
    double took = now_s () - t0;
    printf ("# unanswered create ended after %.1f s: %s\n", took, rep.msg ? rep.msg : "");
    assert_int_equal (rep.code, TR_TIMEOUT);
    assert_non_null (strstr (rep.msg, "did not answer"));
    assert_true (took >= 1.4 && took < 4.0);
    /* the write ended: its commit, if it ever comes, is decoded as anyone's (the cache holds nothing
     * for it) */
    uint64_t expected = 99;
    zstr_send (fk.br, "EXPECTED");
    assert_int_equal (zsock_recv (fk.br, "8", &expected), 0);
    assert_int_equal (expected, 0);
    tr_env_clear (&req);
    tr_env_clear (&rep);
    tr_client_destroy (&c);
    fake_stop (&fk);
}

/* Requests over a client's share wait in its queue a quarter of the request timeout at most:
 * with a store that never answers and a share of 2, the 2 in flight end with Timeout and the 3
 * queued are refused TooManyRequests, saying they waited, before that. */
static void
queue_wait_is_bounded (void **state)
{
    (void) state;
    fake_t fk;
    fake_start (&fk, mute_store, (broker_opts_t) {.request_timeout_ms = 2000, .max_inflight_per_client = 2});
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", fk.ep), 0);
    double t0 = now_s ();
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf (name, sizeof name, "q-%d", i);
        send_req (s, (uint64_t) i + 1, TR_VERB_CREATE, 0, cm (name), NULL);
    }
    int timeouts = 0, busy = 0;
    for (int n = 0; n < 5; n++) {
        tr_env_t e;
        assert_int_equal (recv_env (s, &e, 8000), 0);
        double took = now_s () - t0;
        if (e.code == TR_TOO_MANY_REQUESTS) {
            busy++;
            assert_true (e.id >= 3); /* the queued ones, not the two in flight */
            assert_non_null (strstr (e.msg, "in this client's queue"));
            assert_true (took >= 0.45 && took < 1.9); /* a quarter of 2 s, checked every 20 ms */
        } else {
            assert_int_equal (e.code, TR_TIMEOUT);
            assert_true (e.id <= 2);
            timeouts++;
        }
        tr_env_clear (&e);
    }
    assert_int_equal (busy, 3);
    assert_int_equal (timeouts, 2);
    zsock_destroy (&s);
    fake_stop (&fk);
}

/* A client that goes silent with requests queued is swept with them: each queued request is
 * answered (Unavailable, saying it was dropped), none is forgotten. */
static void
silent_client_queue_answered (void **state)
{
    (void) state;
    fake_t fk;
    fake_start (&fk, mute_store,
                (broker_opts_t) {.request_timeout_ms = 60000, .max_inflight_per_client = 2, .client_silence_ms = 1000});
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", fk.ep), 0);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf (name, sizeof name, "s-%d", i);
        send_req (s, (uint64_t) i + 1, TR_VERB_CREATE, 0, cm (name), NULL);
    }
    /* silent from now on: swept after 1 s (the sweep runs each second); its two queued requests
     * are answered then, long before their 15 s in the queue; the two in flight wait for the store */
    char seen[5] = {0};
    for (int n = 0; n < 2; n++) {
        tr_env_t e;
        assert_int_equal (recv_env (s, &e, 5000), 0);
        assert_int_equal (e.code, TR_UNAVAILABLE);
        assert_true (e.id == 3 || e.id == 4);
        assert_false (seen[e.id]);
        seen[e.id] = 1;
        assert_non_null (strstr (e.msg, "dropped unserved"));
        tr_env_clear (&e);
    }
    zsock_destroy (&s);
    fake_stop (&fk);
}

/* A store that holds every proposal until told: "ANSWER" on its pipe answers the oldest held one
 * (AlreadyExists: no event needed, the broker answers its client 409 and frees the slot), "KEYS"
 * replies with the keys proposed so far, in order, joined by ','. */
typedef struct {
    zframe_t *rid;
    uint64_t id;
} held_prop_t;

static void
gated_store (zsock_t *pipe, void *arg)
{
    zsock_t *r = zsock_new_router ((const char *) arg);
    zsock_signal (pipe, 0);
    zpoller_t *p = zpoller_new (pipe, r, NULL);
    held_prop_t held[64];
    size_t nheld = 0;
    char keys[2048] = "";
    for (;;) {
        void *which = zpoller_wait (p, 1000);
        if (zpoller_terminated (p))
            break;
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            if (!cmd || !strcmp (cmd, "$TERM")) {
                zstr_free (&cmd);
                break;
            }
            if (!strcmp (cmd, "KEYS"))
                zstr_send (pipe, keys);
            else if (!strcmp (cmd, "ANSWER") && nheld) {
                msgpack_sbuffer sb;
                msgpack_sbuffer_init (&sb);
                msgpack_packer pk;
                msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
                msgpack_pack_map (&pk, 3);
                sp_pack_cstr (&pk, "t");
                sp_pack_cstr (&pk, "r");
                sp_pack_cstr (&pk, "id");
                msgpack_pack_uint64 (&pk, held[0].id);
                sp_pack_cstr (&pk, "res");
                msgpack_pack_array (&pk, 1);
                msgpack_pack_array (&pk, 3);
                msgpack_pack_int (&pk, 1); /* STORE_ERR_EXISTS */
                msgpack_pack_uint64 (&pk, 0);
                msgpack_pack_uint64 (&pk, 0);
                store_send (r, held[0].rid, &sb);
                zframe_destroy (&held[0].rid);
                msgpack_sbuffer_destroy (&sb);
                memmove (held, held + 1, --nheld * sizeof *held);
                zstr_send (pipe, "OK");
            } else
                zstr_send (pipe, "NONE");
            zstr_free (&cmd);
            continue;
        }
        if (which != r)
            continue;
        zframe_t *rid;
        msgpack_unpacked up;
        char t[4];
        zmsg_t *m = store_msg_recv (r, &rid, &up, t);
        if (!strcmp (t, "g"))
            answer_range (r, &rid, sp_u64 (sp_field (&up.data, "id"), 0));
        else if (!strcmp (t, "p") && nheld < 64) {
            const msgpack_object *ops = sp_field (&up.data, "ops");
            char key[256] = "";
            if (ops && ops->type == MSGPACK_OBJECT_ARRAY && ops->via.array.size &&
                ops->via.array.ptr[0].type == MSGPACK_OBJECT_ARRAY && ops->via.array.ptr[0].via.array.size >= 4)
                sp_str (&ops->via.array.ptr[0].via.array.ptr[3], key, sizeof key);
            const char *last = strrchr (key, '/');
            if (strlen (keys) + strlen (last ? last + 1 : key) + 2 < sizeof keys) {
                if (*keys)
                    strcat (keys, ",");
                strcat (keys, last ? last + 1 : key);
            }
            held[nheld++] = (held_prop_t) {rid, sp_u64 (sp_field (&up.data, "id"), 0)};
            rid = NULL;
        }
        msgpack_unpacked_destroy (&up);
        zframe_destroy (&rid);
        zmsg_destroy (&m);
    }
    for (size_t i = 0; i < nheld; i++)
        zframe_destroy (&held[i].rid);
    zpoller_destroy (&p);
    zsock_destroy (&r);
}

static char *
gated_keys (zactor_t *st)
{
    zstr_send (st, "KEYS");
    return zstr_recv (st);
}

/* Waits until the store has been proposed want keys; returns them (freed by the caller). */
static char *
gated_wait (zactor_t *st, int want)
{
    for (int i = 0; i < 200; i++) {
        char *k = gated_keys (st);
        int n = *k ? 1 : 0;
        for (const char *c = k; *c; c++)
            n += *c == ',';
        if (n >= want)
            return k;
        zstr_free (&k);
        zclock_sleep (10);
    }
    return gated_keys (st);
}

/* At the global cap, a request queued earlier goes before one that arrives later, whoever sends
 * them: with room for 2 requests in flight in all, A's third waits in A's queue; the room the
 * store's answer to A's first frees goes to it, not to B's request sent after that answer, which
 * waits behind A's second and third until they are answered. */
static void
global_cap_keeps_queue_order (void **state)
{
    (void) state;
    fake_t fk;
    fake_start (&fk, gated_store, (broker_opts_t) {.request_timeout_ms = 20000, .max_inflight = 2});
    zsock_t *a = zsock_new (ZMQ_DEALER), *b = zsock_new (ZMQ_DEALER);
    zsock_set_linger (a, 0);
    zsock_set_linger (b, 0);
    assert_int_equal (zsock_connect (a, "%s", fk.ep), 0);
    assert_int_equal (zsock_connect (b, "%s", fk.ep), 0);
    /* the broker's own writes at start (the system PriorityClasses) are answered first: only the
     * clients' proposals after them are compared */
    zclock_sleep (300);
    for (int i = 0; i < 16; i++) {
        zstr_send (fk.st, "ANSWER");
        char *r = zstr_recv (fk.st);
        int none = !strcmp (r, "NONE");
        zstr_free (&r);
        if (none)
            break;
        zclock_sleep (50);
    }
    char *base = gated_keys (fk.st);
    int nbase = *base ? 1 : 0;
    for (const char *c = base; *c; c++)
        nbase += *c == ',';
    size_t skip = *base ? strlen (base) + 1 : 0;
    send_req (a, 1, TR_VERB_CREATE, 0, cm ("a1"), NULL);
    send_req (a, 2, TR_VERB_CREATE, 0, cm ("a2"), NULL);
    send_req (a, 3, TR_VERB_CREATE, 0, cm ("a3"), NULL);
    char *k = gated_wait (fk.st, nbase + 2);
    assert_string_equal (k + skip, "a1,a2");
    zstr_free (&k);
    zclock_sleep (100); /* a3 stays queued: the cap is full */
    k = gated_keys (fk.st);
    assert_string_equal (k + skip, "a1,a2");
    zstr_free (&k);
    zstr_send (fk.st, "ANSWER");
    k = zstr_recv (fk.st);
    assert_string_equal (k, "OK");
    zstr_free (&k);
    tr_env_t e;
    assert_int_equal (recv_env (a, &e, 5000), 0);
    assert_int_equal (e.id, 1);
    assert_int_equal (e.code, TR_ALREADY_EXISTS);
    tr_env_clear (&e);
    send_req (b, 1, TR_VERB_CREATE, 0, cm ("b1"), NULL);
    k = gated_wait (fk.st, nbase + 3);
    assert_string_equal (k + skip, "a1,a2,a3");
    zstr_free (&k);
    zclock_sleep (100); /* b1 waits: a2 and a3 fill the cap */
    k = gated_keys (fk.st);
    assert_string_equal (k + skip, "a1,a2,a3");
    zstr_free (&k);
    for (int i = 0; i < 2; i++) {
        zstr_send (fk.st, "ANSWER");
        k = zstr_recv (fk.st);
        zstr_free (&k);
    }
    k = gated_wait (fk.st, nbase + 4);
    assert_string_equal (k + skip, "a1,a2,a3,b1");
    zstr_free (&k);
    zstr_free (&base);
    zsock_destroy (&a);
    zsock_destroy (&b);
    fake_stop (&fk);
}

static int
list_call (tr_client_t *c, long limit, const char *cont, tr_env_t *rep)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    strcpy (req.kind, "ConfigMap");
    req.opts = json_object ();
    if (limit >= 0)
        json_object_set_new (req.opts, "limit", json_integer (limit));
    if (cont)
        json_object_set_new (req.opts, "continue", json_string (cont));
    int rc = tr_client_call (c, &req, rep, 10000);
    tr_env_clear (&req);
    return rc;
}

static void
create_cm (tr_client_t *c, const char *name, json_t *obj)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    req.body = obj ? obj : cm (name);
    assert_int_equal (tr_client_call (c, &req, &rep, 10000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&req);
    tr_env_clear (&rep);
}

/* limit/continue: 25 objects in pages of 10 come back once each, in order, with
 * remainingItemCount, every page at the first page's resourceVersion and of its snapshot (an
 * object created between pages is not in them); a bad token is BadRequest, a forgotten one
 * Expired; a negative limit BadRequest; an unpaged list too large for a message is TooLarge. */
static void
list_paging (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {0});
    char err[256];
    tr_client_t *c = tr_client_new (f->ep, NULL, err, sizeof err);
    for (int i = 0; i < 25; i++) {
        char name[16];
        snprintf (name, sizeof name, "p%02d", i);
        create_cm (c, name, NULL);
    }
    tr_env_t rep;
    assert_int_equal (list_call (c, 10, NULL, &rep), 0);
    assert_int_equal (rep.code, TR_OK);
    assert_int_equal (json_array_size (tv_get (rep.body, "items")), 10);
    assert_int_equal (tv_int (rep.body, "metadata.remainingItemCount", -1), 15);
    uint64_t rv0 = rep.rv;
    char cont[64];
    snprintf (cont, sizeof cont, "%s", tv_str (rep.body, "metadata.continue"));
    tr_env_clear (&rep);
    create_cm (c, "p99-late", NULL); /* after the first page: not in this list */
    {
        /* the token continues only the list it was issued for: not one in another namespace, or
         * with other selectors (its objects would come back as if they matched) */
        tr_env_t req, bad;
        tr_env_init (&req);
        req.verb = TR_VERB_LIST;
        strcpy (req.kind, "ConfigMap");
        strcpy (req.ns, "kube-system");
        req.opts = json_pack ("{s:i,s:s}", "limit", 10, "continue", cont);
        assert_int_equal (tr_client_call (c, &req, &bad, 5000), 0);
        assert_int_equal (bad.code, TR_BAD_REQUEST);
        assert_non_null (strstr (bad.msg, "continue"));
        tr_env_clear (&req);
        tr_env_clear (&bad);
        tr_env_init (&req);
        req.verb = TR_VERB_LIST;
        strcpy (req.kind, "ConfigMap");
        req.opts = json_pack ("{s:i,s:s,s:s}", "limit", 10, "continue", cont, "labelSelector", "app=x");
        assert_int_equal (tr_client_call (c, &req, &bad, 5000), 0);
        assert_int_equal (bad.code, TR_BAD_REQUEST);
        tr_env_clear (&req);
        tr_env_clear (&bad);
    }
    int seen = 10, page = 1;
    while (cont[0]) {
        assert_int_equal (list_call (c, 10, cont, &rep), 0);
        assert_int_equal (rep.code, TR_OK);
        assert_true (rep.rv == rv0);
        json_t *items = tv_get (rep.body, "items");
        for (size_t i = 0; i < json_array_size (items); i++) {
            char want[16];
            snprintf (want, sizeof want, "p%02d", seen + (int) i);
            assert_string_equal (tv_str (json_array_get (items, i), "metadata.name"), want);
        }
        seen += (int) json_array_size (items);
        const char *n = tv_str (rep.body, "metadata.continue");
        snprintf (cont, sizeof cont, "%s", n ? n : "");
        page++;
        tr_env_clear (&rep);
    }
    assert_int_equal (seen, 25);
    assert_int_equal (page, 3);
    /* the session is gone after its last page: its tokens are Expired */
    assert_int_equal (list_call (c, 10, "1.a", &rep), 0);
    assert_int_equal (rep.code, TR_EXPIRED);
    assert_non_null (strstr (rep.msg, "continue"));
    tr_env_clear (&rep);
    assert_int_equal (list_call (c, 10, "not a token", &rep), 0);
    assert_int_equal (rep.code, TR_BAD_REQUEST);
    tr_env_clear (&rep);
    assert_int_equal (list_call (c, -1, NULL, &rep), 0);
    assert_int_equal (rep.code, TR_OK);
    assert_int_equal (json_array_size (tv_get (rep.body, "items")), 26); /* unpaged: everything */
    assert_null (tv_get (rep.body, "metadata.continue"));
    tr_env_clear (&rep);
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    strcpy (req.kind, "ConfigMap");
    req.opts = json_pack ("{s:i}", "limit", -3);
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_BAD_REQUEST);
    assert_non_null (strstr (rep.msg, "limit"));
    tr_env_clear (&req);
    tr_env_clear (&rep);
    /* 6 ConfigMaps of 900 KB: one list of them is more than a 4 MiB message; pages are not */
    char *big = malloc (900001);
    memset (big, 'x', 900000);
    big[900000] = 0;
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf (name, sizeof name, "big%d", i);
        create_cm (c, name,
                   json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                              name, "data", "k", big));
    }
    free (big);
    assert_int_equal (list_call (c, -1, NULL, &rep), 0);
    assert_int_equal (rep.code, TR_TOO_LARGE);
    assert_non_null (strstr (rep.msg, "pages"));
    tr_env_clear (&rep);
    /* a page also stops at 3 MiB of objects: 3 of the 900 KB ones, then the rest */
    assert_int_equal (list_call (c, 500, NULL, &rep), 0);
    assert_int_equal (rep.code, TR_OK);
    assert_int_equal (json_array_size (tv_get (rep.body, "items")), 3);
    assert_int_equal (tv_int (rep.body, "metadata.remainingItemCount", -1), 29);
    snprintf (cont, sizeof cont, "%s", tv_str (rep.body, "metadata.continue"));
    tr_env_clear (&rep);
    assert_int_equal (list_call (c, 500, cont, &rep), 0);
    assert_int_equal (rep.code, TR_OK);
    assert_int_equal (json_array_size (tv_get (rep.body, "items")), 29); /* 3 more big ones fit, and the rest */
    assert_null (tv_get (rep.body, "metadata.continue"));
    tr_env_clear (&rep);
    tr_client_destroy (&c);
    stop (&f);
}

/* One request on a raw connection (no TooManyRequests retry, unlike tr_client_call): its code. */
static int
raw_call (zsock_t *s, uint64_t id, tr_verb_t verb, const char *kind, const char *ns, const char *name, json_t *body)
{
    tr_env_t e;
    tr_env_init (&e);
    e.id = id;
    e.verb = verb;
    snprintf (e.kind, sizeof e.kind, "%s", kind);
    snprintf (e.ns, sizeof e.ns, "%s", ns);
    if (name)
        snprintf (e.name, sizeof e.name, "%s", name);
    e.body = body;
    assert_int_equal (tr_conn_send (s, NULL, &e), 0);
    tr_env_clear (&e);
    for (;;) {
        tr_env_t r;
        assert_int_equal (recv_env (s, &r, 5000), 0);
        int code = r.code, mine = r.id == id;
        tr_env_clear (&r);
        if (mine)
            return code;
    }
}

/* Deleting a namespace proposes the deletion of each object in it; those internal proposals are
 * nobody's requests, so they must not take the deleting client's share of requests in flight:
 * with a share of 4, a client that deleted a namespace of 10 objects is still served. */
static void
namespace_delete_keeps_share (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {.max_inflight_per_client = 4});
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", f->ep), 0);
    uint64_t id = 1;
    assert_int_equal (raw_call (s, id++, TR_VERB_CREATE, "Namespace", "", NULL,
                                json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                                           "name", "big")),
                      TR_OK);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        assert_int_equal (raw_call (s, id++, TR_VERB_CREATE, "ConfigMap", "big", NULL, cm (name)), TR_OK);
    }
    assert_int_equal (raw_call (s, id++, TR_VERB_DELETE, "Namespace", "", "big", NULL), TR_OK);
    zclock_sleep (300); /* the contents' deletions commit */
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf (name, sizeof name, "after%d", i);
        assert_int_equal (raw_call (s, id++, TR_VERB_CREATE, "ConfigMap", "default", NULL, cm (name)), TR_OK);
    }
    zsock_destroy (&s);
    stop (&f);
}

/* A credit grant is capped whatever its size: a client granting INT64_MAX (the sum overflowed a
 * long: the watch stalled, and an UBSan build aborted) keeps receiving events. */
static void
huge_credit_is_capped (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {0});
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", f->ep), 0);
    send_req (s, 1, TR_VERB_WATCH, 0, NULL, json_pack ("{s:i}", "credit", 10));
    tr_env_t e;
    assert_int_equal (recv_env (s, &e, 5000), 0);
    assert_int_equal (e.code, TR_OK);
    tr_env_clear (&e);
    send_req (s, 2, TR_VERB_CREDIT, 1, NULL, json_pack ("{s:I}", "credit", (json_int_t) INT64_MAX));
    zsock_t *o = zsock_new (ZMQ_DEALER); /* the create from another client: s only sees events */
    zsock_set_linger (o, 0);
    assert_int_equal (zsock_connect (o, "%s", f->ep), 0);
    assert_int_equal (raw_call (o, 3, TR_VERB_CREATE, "ConfigMap", "default", NULL, cm ("c1")), TR_OK);
    zsock_destroy (&o);
    int got = 0;
    while (!got && recv_env (s, &e, 2000) == 0) {
        got = e.verb == TR_VERB_EVENT && e.id == 1;
        tr_env_clear (&e);
    }
    assert_true (got);
    zsock_destroy (&s);
    stop (&f);
}

/* A store that loads, then, told "RELOAD" on its pipe, tells the broker its data was replaced
 * ({"t":"x"}, as a replicated store after a snapshot) and answers the broker's reload 1.5 s late. */
static void
reload_store (zsock_t *pipe, void *arg)
{
    zsock_t *r = zsock_new_router ((const char *) arg);
    zsock_signal (pipe, 0);
    zpoller_t *p = zpoller_new (pipe, r, NULL);
    zframe_t *broker = NULL, *late = NULL;
    uint64_t late_id = 0;
    int64_t late_at = 0;
    for (;;) {
        void *which = zpoller_wait (p, 50);
        if (late && zclock_mono () >= late_at)
            answer_range (r, &late, late_id);
        if (zpoller_terminated (p))
            break;
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            int term = !cmd || !strcmp (cmd, "$TERM");
            if (cmd && !strcmp (cmd, "RELOAD") && broker) {
                msgpack_sbuffer sb;
                msgpack_sbuffer_init (&sb);
                sp_pack_request (&sb, "x", 0, NULL);
                store_send (r, broker, &sb);
                msgpack_sbuffer_destroy (&sb);
            }
            zstr_free (&cmd);
            if (term)
                break;
            continue;
        }
        if (which != r)
            continue;
        zframe_t *rid;
        msgpack_unpacked up;
        char t[4];
        zmsg_t *m = store_msg_recv (r, &rid, &up, t);
        if (!broker)
            broker = zframe_dup (rid);
        if (!strcmp (t, "g") && !late_at)
            answer_range (r, &rid, sp_u64 (sp_field (&up.data, "id"), 0)), late_at = -1;
        else if (!strcmp (t, "g")) {
            late = zframe_dup (rid);
            late_id = sp_u64 (sp_field (&up.data, "id"), 0);
            late_at = zclock_mono () + 1500;
        }
        msgpack_unpacked_destroy (&up);
        zframe_destroy (&rid);
        zmsg_destroy (&m);
    }
    zframe_destroy (&broker);
    zframe_destroy (&late);
    zpoller_destroy (&p);
    zsock_destroy (&r);
}

/* A store that, as a replicated store can while it applies or installs a snapshot at start-up,
 * publishes an event, a lease renewal and a restore to the broker between its subscription and
 * the answer to its first range: the broker starts from the range (which holds them), it does
 * not take the first message for the answer (it did, failed its load and the server exited). */
static void
busy_msg (zsock_t *r, zframe_t **rid, const msgpack_unpacked *up, const char *t)
{
    if (strcmp (t, "g"))
        return;
    static const char *early[] = {"e", "l", "x"};
    for (int i = 0; i < 3; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 2);
        sp_pack_cstr (&pk, "t");
        sp_pack_cstr (&pk, early[i]);
        sp_pack_cstr (&pk, i == 0 ? "ev" : "kvs");
        msgpack_pack_array (&pk, 0);
        store_send (r, *rid, &sb);
        msgpack_sbuffer_destroy (&sb);
    }
    answer_range (r, rid, sp_u64 (sp_field (&up->data, "id"), 0));
}

static void
busy_store (zsock_t *pipe, void *arg)
{
    store_loop (pipe, (const char *) arg, busy_msg);
}

static void
load_skips_early_store_messages (void **state)
{
    (void) state;
    fake_t fk;
    fake_start (&fk, busy_store, (broker_opts_t) {0}); /* asserts the broker started */
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", fk.ep), 0);
    assert_int_equal (raw_call (s, 1, TR_VERB_GET, "Namespace", "", "kube-node-lease", NULL), TR_OK);
    zsock_destroy (&s);
    fake_stop (&fk);
}

/* While the broker reloads its cache from the store (a replicated store installed a snapshot, or
 * new encryption keys let it open Secrets it could not), the cache is empty: a read must not
 * answer NotFound or an empty list for objects that exist — clients' informers would take that
 * for deletions. It answers TooManyRequests "storage is (re)initializing", retry after 1 s, as
 * the api-server does while its watch cache is not ready; served again once reloaded. */
static void
reads_wait_for_a_reload (void **state)
{
    (void) state;
    fake_t fk;
    fake_start (&fk, reload_store, (broker_opts_t) {0});
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", fk.ep), 0);
    assert_int_equal (raw_call (s, 1, TR_VERB_GET, "Namespace", "", "default", NULL), TR_OK);
    zstr_send (fk.st, "RELOAD");
    zclock_sleep (300);
    assert_int_equal (raw_call (s, 2, TR_VERB_GET, "Namespace", "", "default", NULL), TR_TOO_MANY_REQUESTS);
    assert_int_equal (raw_call (s, 3, TR_VERB_LIST, "Namespace", "", NULL, NULL), TR_TOO_MANY_REQUESTS);
    assert_int_equal (raw_call (s, 4, TR_VERB_WATCH, "Namespace", "", NULL, NULL), TR_TOO_MANY_REQUESTS);
    int ok = 0;
    for (int i = 0; i < 40 && !ok; i++) {
        zclock_sleep (100);
        ok = raw_call (s, 10 + (uint64_t) i, TR_VERB_GET, "Namespace", "", "default", NULL) == TR_OK;
    }
    assert_true (ok);
    zsock_destroy (&s);
    fake_stop (&fk);
}

/* Sends env on s (its id set by the caller). */
static void
send_env_raw (zsock_t *s, tr_env_t *e)
{
    assert_int_equal (tr_conn_send (s, NULL, e), 0);
    tr_env_clear (e);
}

/* A logs request is forwarded to the pod's node's agent; only that agent's reply answers it. A
 * reply with the forward's id from any other client (ids are sequential, easy to guess) is
 * ignored: it must not reach the requester in the agent's place. */
static void
logs_reply_only_from_the_agent (void **state)
{
    (void) state;
    fx_t *f = start ((broker_opts_t) {0});
    zsock_t *a = zsock_new (ZMQ_DEALER), *c = zsock_new (ZMQ_DEALER), *x = zsock_new (ZMQ_DEALER);
    zsock_t *all[] = {a, c, x};
    for (int i = 0; i < 3; i++) {
        zsock_set_linger (all[i], 0);
        assert_int_equal (zsock_connect (all[i], "%s", f->ep), 0);
    }
    tr_env_t e;
    tr_env_init (&e);
    e.id = 1;
    e.verb = TR_VERB_HELLO;
    e.body = json_pack ("{s:s,s:s}", "actor", "agent", "node", "n1");
    send_env_raw (a, &e);
    assert_int_equal (recv_env (a, &e, 5000), 0);
    assert_int_equal (e.code, TR_OK);
    tr_env_clear (&e);
    assert_int_equal (raw_call (c, 2, TR_VERB_CREATE, "Pod", "default", NULL,
                                json_pack ("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind", "Pod",
                                           "metadata", "name", "lp", "spec", "nodeName", "n1", "containers", "name",
                                           "c", "image", "img")),
                      TR_OK);
    tr_env_init (&e);
    e.id = 3;
    e.verb = TR_VERB_LOGS;
    strcpy (e.kind, "Pod");
    strcpy (e.ns, "default");
    strcpy (e.name, "lp");
    send_env_raw (c, &e);
    tr_env_t fwd;
    assert_int_equal (recv_env (a, &fwd, 5000), 0);
    assert_int_equal (fwd.verb, TR_VERB_LOGS);
    uint64_t fid = fwd.id;
    tr_env_clear (&fwd);
    tr_env_init (&e); /* the impostor answers first */
    e.id = fid;
    e.verb = TR_VERB_REPLY;
    e.body = json_pack ("{s:s,s:i}", "data", "forged", "offset", 6);
    send_env_raw (x, &e);
    zclock_sleep (100);
    tr_env_init (&e);
    e.id = fid;
    e.verb = TR_VERB_REPLY;
    e.body = json_pack ("{s:s,s:i}", "data", "real", "offset", 4);
    send_env_raw (a, &e);
    assert_int_equal (recv_env (c, &e, 5000), 0);
    assert_int_equal (e.id, 3);
    assert_string_equal (tv_str (e.body, "data"), "real");
    tr_env_clear (&e);
    for (int i = 0; i < 3; i++)
        zsock_destroy (&all[i]);
    stop (&f);
}

int
main (void)
{
    setenv ("TROUPE_LOG", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (stopped_reader_blocks_nobody),
        cmocka_unit_test (silent_client_loses_watches),
        cmocka_unit_test (flood_gets_too_many_requests), cmocka_unit_test (nodes_writes_yield),
        cmocka_unit_test (late_node_writes_refused),
        cmocka_unit_test (overdue_store_answer_is_timeout),
        cmocka_unit_test (list_paging),
        cmocka_unit_test (namespace_delete_keeps_share),
        cmocka_unit_test (queue_wait_is_bounded),
        cmocka_unit_test (silent_client_queue_answered),
        cmocka_unit_test (global_cap_keeps_queue_order),
        cmocka_unit_test (huge_credit_is_capped),
        cmocka_unit_test (reads_wait_for_a_reload),
        cmocka_unit_test (load_skips_early_store_messages),
        cmocka_unit_test (logs_reply_only_from_the_agent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
