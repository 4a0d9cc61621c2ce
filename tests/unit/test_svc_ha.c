/* Service allocations with two brokers on one store (HA): each broker picks from its own watch
 * cache, so two creates at the same moment can pick the same cluster IP or node port; the
 * reservation created "absent" in the store lets one through and the other broker picks again.
 * Services created at once through two brokers in a /28 (twelve addresses to give) with a
 * 4-port node port range: every node port and address given once, then "range is full"; of two
 * creates requesting the same address exactly one wins, the other is told it is allocated. A
 * deleted Service's address is given again; a reservation left behind by a server that died
 * (its Service does not exist) is taken over once older than a minute, not before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "core/client.h"
#include "core/store_proto.h"
#include "core/value.h"

static char dir[64], sep[64], ep[2][64];
static zactor_t *store, *brokers[2];

static int
call (tr_client_t *c, tr_verb_t verb, const char *kind, const char *name, json_t *body, tr_env_t *out)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    snprintf (req.kind, sizeof req.kind, "%s", kind);
    if (strcmp (kind, "Namespace"))
        snprintf (req.ns, sizeof req.ns, "default");
    if (name)
        snprintf (req.name, sizeof req.name, "%s", name);
    req.body = body;
    int rc = tr_client_call (c, &req, &rep, 10000);
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
service (const char *name, const char *ip, int node_port)
{
    json_t *s = json_pack ("{s:s,s:s,s:{s:s},s:{s:[{s:i}]}}", "apiVersion", "v1", "kind", "Service", "metadata", "name",
                           name, "spec", "ports", "port", 80);
    if (ip)
        tv_set_str (s, "spec.clusterIP", ip);
    if (node_port >= 0) {
        tv_set_str (s, "spec.type", "NodePort");
        if (node_port)
            json_object_set_new (json_array_get (tv_get (s, "spec.ports"), 0), "nodePort", json_integer (node_port));
    }
    return s;
}

typedef struct {
    int which, n, node_port;
    const char *prefix, *ip;
    int codes[16];
    char msg[16][300];
} job_t;

static void *
creator (void *arg)
{
    job_t *j = arg;
    char err[200];
    tr_client_t *c = tr_client_new (ep[j->which], NULL, err, sizeof err);
    for (int i = 0; c && i < j->n; i++) {
        char name[32];
        snprintf (name, sizeof name, "%s%d-%d", j->prefix, j->which, i);
        tr_env_t rep;
        j->codes[i] = call (c, TR_VERB_CREATE, "Service", NULL, service (name, j->ip, j->node_port), &rep);
        if (j->codes[i] != TR_TIMEOUT) {
            snprintf (j->msg[i], sizeof j->msg[i], "%s", rep.msg ? rep.msg : "");
            tr_env_clear (&rep);
        }
    }
    tr_client_destroy (&c);
    return NULL;
}

/* Runs two creators at once, one per broker. */
static void
race (job_t *a, job_t *b)
{
    pthread_t t[2];
    pthread_create (&t[0], NULL, creator, a);
    pthread_create (&t[1], NULL, creator, b);
    pthread_join (t[0], NULL);
    pthread_join (t[1], NULL);
}

static json_t *
list_services (void)
{
    char err[200];
    tr_client_t *c = tr_client_new (ep[0], NULL, err, sizeof err);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_LIST, "Service", NULL, NULL, &rep), TR_OK);
    json_t *items = json_incref (json_object_get (rep.body, "items"));
    tr_env_clear (&rep);
    tr_client_destroy (&c);
    return items;
}

/* distinct values of field over the Services named prefix*; fails on a repeat */
static size_t
distinct (const char *prefix, const char *field)
{
    json_t *items = list_services ();
    json_t *seen = json_object ();
    size_t i;
    json_t *s;
    json_array_foreach (items, i, s) {
        if (strncmp (tv_str (s, "metadata.name"), prefix, strlen (prefix)))
            continue;
        char v[32];
        if (!strcmp (field, "nodePort"))
            snprintf (v, sizeof v, "%lld", (long long) tv_int (json_array_get (tv_get (s, "spec.ports"), 0), "nodePort", 0));
        else
            snprintf (v, sizeof v, "%s", tv_str (s, "spec.clusterIP") ? tv_str (s, "spec.clusterIP") : "");
        if (json_object_get (seen, v))
            fail_msg ("%s %s given twice", field, v);
        /* never automatically: network, broadcast, .1, .10 */
        assert_true (!strncmp (tv_str (s, "metadata.name"), "want", 4) || strcmp (v, "10.96.0.1")) ;
        assert_true (strcmp (v, "10.96.0.10") && strcmp (v, "10.96.0.0") && strcmp (v, "10.96.0.15"));
        json_object_set_new (seen, v, json_true ());
    }
    size_t n = json_object_size (seen);
    json_decref (seen);
    json_decref (items);
    return n;
}

static void
all_ok (const job_t *a, const job_t *b)
{
    for (int i = 0; i < a->n; i++)
        if (a->codes[i] != TR_OK || b->codes[i] != TR_OK)
            fail_msg ("create %d: %d %s / %d %s", i, a->codes[i], a->msg[i], b->codes[i], b->msg[i]);
}

static void
node_ports_race (void **state)
{
    (void) state;
    /* a 4-port range: two NodePort Services per broker at once take all four */
    job_t a = {.which = 0, .n = 2, .node_port = 0, .prefix = "np"}, b = a;
    b.which = 1;
    race (&a, &b);
    all_ok (&a, &b);
    assert_int_equal (distinct ("np", "nodePort"), 4);
    assert_int_equal (distinct ("np", "clusterIP"), 4);
    job_t c = {.which = 1, .n = 1, .node_port = 0, .prefix = "npfull"};
    creator (&c);
    assert_int_equal (c.codes[0], TR_INVALID);
    assert_non_null (strstr (c.msg[0], "range is full"));
}

static void
requested_ip_race (void **state)
{
    (void) state;
    /* .1 is never given automatically: free to request, once */
    job_t a = {.which = 0, .n = 1, .node_port = -1, .prefix = "want", .ip = "10.96.0.1"}, b = a;
    b.which = 1;
    race (&a, &b);
    assert_true ((a.codes[0] == TR_OK) != (b.codes[0] == TR_OK));
    const char *lost = a.codes[0] == TR_OK ? b.msg[0] : a.msg[0];
    if (!strstr (lost, "provided IP is already allocated"))
        fail_msg ("the loser's error: %s", lost);
}

static void
automatic_ips_race (void **state)
{
    (void) state;
    /* 12 addresses to give in a /28, 4 taken by the NodePort Services: 4 per broker at once */
    job_t a = {.which = 0, .n = 4, .node_port = -1, .prefix = "auto"}, b = a;
    b.which = 1;
    race (&a, &b);
    all_ok (&a, &b);
    assert_int_equal (distinct ("auto", "clusterIP"), 8);
    assert_int_equal (distinct ("", "clusterIP"), 13); /* with np* and want* */
    job_t c = {.which = 1, .n = 1, .node_port = -1, .prefix = "full"};
    creator (&c);
    assert_int_equal (c.codes[0], TR_INVALID);
    assert_non_null (strstr (c.msg[0], "range is full"));
}

/* Writes a reservation straight into the store, as a server that died after its first step left it. */
static void
plant_orphan (const char *ip, const char *created)
{
    char key[64];
    snprintf (key, sizeof key, "/registry/ipaddresses/%s", ip);
    json_t *o = json_pack ("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s,s:s,s:s,s:s}}}", "apiVersion", "networking.k8s.io/v1", "kind",
                           "IPAddress", "metadata", "name", ip, "creationTimestamp", created, "annotations",
                           "troupe.io/service-uid", "ghost-uid", "spec", "parentRef", "group", "", "resource", "services",
                           "namespace", "default", "name", "ghost");
    char *val;
    size_t len;
    assert_int_equal (tv_encode (o, &val, &len), 0);
    json_decref (o);
    sp_op_t op = {.op = 1, .cond = 0, .key = key, .val = val, .len = len};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose (&sb, 777, &op, 1);
    free (val);
    zsock_t *s = zsock_new_dealer (sep);
    assert_non_null (s);
    zsock_send (s, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    zsock_set_rcvtimeo (s, 5000);
    zmsg_t *m = zmsg_recv (s); /* the proposal's result */
    assert_non_null (m);
    zmsg_destroy (&m);
    zsock_destroy (&s);
    zclock_sleep (300); /* the brokers' caches have it */
}

static const char *
ip_of (const char *name, char *buf, size_t len)
{
    json_t *items = list_services ();
    size_t i;
    json_t *s;
    buf[0] = 0;
    json_array_foreach (items, i, s) if (!strcmp (tv_str (s, "metadata.name"), name))
        snprintf (buf, len, "%s", tv_str (s, "spec.clusterIP"));
    json_decref (items);
    return buf;
}

/* creates name through broker `which`, trying for up to 3 s while the range is full (a release
 * reaches the brokers' caches a moment after the delete's answer); the reply's code */
static int
create_soon (int which, const char *name, char *ip, size_t iplen)
{
    char err[200];
    tr_client_t *c = tr_client_new (ep[which], NULL, err, sizeof err);
    int code = TR_TIMEOUT;
    for (int i = 0; i < 30; i++) {
        tr_env_t rep;
        code = call (c, TR_VERB_CREATE, "Service", NULL, service (name, NULL, -1), &rep);
        if (code == TR_OK)
            snprintf (ip, iplen, "%s", tv_str (rep.body, "spec.clusterIP"));
        tr_env_clear (&rep);
        if (code != TR_INVALID)
            break;
        zclock_sleep (100);
    }
    tr_client_destroy (&c);
    return code;
}

static void
release_and_orphans (void **state)
{
    (void) state;
    char err[200], was[32], got[32];
    tr_client_t *c = tr_client_new (ep[0], NULL, err, sizeof err);
    /* deleted through one broker, given again through the other */
    ip_of ("auto0-0", was, sizeof was);
    assert_int_equal (call (c, TR_VERB_DELETE, "Service", "auto0-0", NULL, NULL), TR_OK);
    assert_int_equal (create_soon (1, "again", got, sizeof got), TR_OK);
    assert_string_equal (got, was);
    /* an orphan of two minutes ago is taken over */
    ip_of ("auto0-1", was, sizeof was);
    assert_int_equal (call (c, TR_VERB_DELETE, "Service", "auto0-1", NULL, NULL), TR_OK);
    zclock_sleep (300);
    plant_orphan (was, "2020-01-01T00:00:00Z");
    assert_int_equal (create_soon (1, "reclaim", got, sizeof got), TR_OK);
    assert_string_equal (got, was);
    /* a fresh one is not */
    ip_of ("auto0-2", was, sizeof was);
    assert_int_equal (call (c, TR_VERB_DELETE, "Service", "auto0-2", NULL, NULL), TR_OK);
    zclock_sleep (300);
    char now[40];
    time_t t = time (NULL);
    strftime (now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime (&t));
    plant_orphan (was, now);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "Service", NULL, service ("blocked", NULL, -1), &rep), TR_INVALID);
    assert_non_null (strstr (rep.msg, "range is full"));
    tr_env_clear (&rep);
    tr_client_destroy (&c);
}

static int
setup (void **state)
{
    (void) state;
    snprintf (dir, sizeof dir, "/tmp/troupe-svcha-XXXXXX");
    assert_non_null (mkdtemp (dir));
    snprintf (sep, sizeof sep, "inproc://svcha-store-%d", getpid ());
    store = store_actor_new (dir, sep);
    assert_non_null (store);
    for (int i = 0; i < 2; i++) {
        snprintf (ep[i], sizeof ep[i], "inproc://svcha-broker%d-%d", i, getpid ());
        broker_opts_t o = {.store_endpoint = sep, .local_endpoints = ep[i], .service_cidr = "10.96.0.0/28",
                           .node_port_range = "30000-30003"};
        brokers[i] = broker_new (&o);
        assert_non_null (brokers[i]);
    }
    char err[200];
    tr_client_t *c = tr_client_new (ep[0], NULL, err, sizeof err);
    json_t *ns = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", "default");
    int code = call (c, TR_VERB_CREATE, "Namespace", NULL, ns, NULL);
    assert_true (code == TR_OK || code == TR_ALREADY_EXISTS);
    tr_client_destroy (&c);
    /* the other broker's cache has the namespace before anything is created through it */
    zclock_sleep (300);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    zactor_destroy (&brokers[0]);
    zactor_destroy (&brokers[1]);
    zactor_destroy (&store);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (node_ports_race),
        cmocka_unit_test (requested_ip_race),
        cmocka_unit_test (automatic_ips_race),
        cmocka_unit_test (release_and_orphans),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
