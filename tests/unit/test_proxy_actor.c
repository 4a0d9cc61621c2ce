/* The proxy actor (actors/proxy/proxy_actor.c) on a real host, fed by a fake broker (a ROUTER
 * that answers hello/ping, lists and watches Service and EndpointSlice in their v1 and
 * discovery.k8s.io/v1 shapes, and pushes watch events), programming the real kernel in a network
 * namespace this process unshares:
 * - a broker that does not serve the kinds: the proxy stays idle, no table;
 * - listed objects → the table (2 endpoints); an EndpointSlice MODIFIED → 3; a Service DELETED →
 *   its chains and ClusterIP element gone;
 * - a steady stream of events (one every 5 ms for 1.5 s) does not starve the sync: the table
 *   follows the stream before it ends;
 * - the table deleted behind its back is written again (checked every tableCheckSeconds);
 * - an orderly stop deletes the table; a stale chain left in the kernel (a proxy killed -9) is
 *   removed by the next proxy's first sync.
 * Skipped (77) when not root or without unshare(CLONE_NEWNET). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/proxy/proxy_actor.h"
#include "actors/proxy/proxynft.h"
#include "core/conn.h"
#include "core/host.h"
#include "core/value.h"

/* ---- the fake broker ------------------------------------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *objs;      /* {"Service": [..], "EndpointSlice": [..]} */
static json_t *outbox;    /* events to push: [{kind, type, obj}] */
static int serve_kinds;   /* 0: lists of both kinds answer NotFound */
static volatile int stop_broker;
static char endpoint[200];
static uint64_t rv = 10;

typedef struct {
    zframe_t *rid;
    uint64_t id;
    char kind[64];
} watcher_t;

static void *
broker_main (void *arg)
{
    (void) arg;
    zsock_t *r = zsock_new_router (endpoint);
    assert_non_null (r);
    zpoller_t *poll = zpoller_new (r, NULL);
    watcher_t w[16];
    int nw = 0;
    while (!stop_broker) {
        if (zpoller_wait (poll, 5) == r) {
            zframe_t *rid = NULL;
            tr_env_t e, rep;
            char err[200];
            if (tr_conn_recv (r, &rid, &e, err, sizeof err) == 0) {
                tr_env_init (&rep);
                rep.id = e.id;
                rep.verb = TR_VERB_REPLY;
                int send = 1;
                pthread_mutex_lock (&mu);
                if (e.verb == TR_VERB_HELLO || e.verb == TR_VERB_PING)
                    rep.body = json_pack ("{s:s}", "instance", "fake-1");
                else if (e.verb == TR_VERB_LIST && !serve_kinds) {
                    rep.code = TR_NOT_FOUND;
                    rep.msg = strdup ("no such kind");
                } else if (e.verb == TR_VERB_LIST) {
                    json_t *items = json_object_get (objs, e.kind);
                    rep.body = json_pack ("{s:O, s:{s:s}}", "items", items ? items : json_array (), "metadata",
                                          "resourceVersion", "10");
                    rep.rv = rv;
                } else if (e.verb == TR_VERB_WATCH && nw < 16) {
                    w[nw].rid = zframe_dup (rid);
                    w[nw].id = e.id;
                    snprintf (w[nw].kind, sizeof w[nw].kind, "%s", e.kind);
                    nw++;
                    send = 0;
                } else
                    send = e.verb != TR_VERB_CREDIT && e.verb != TR_VERB_WATCH;
                pthread_mutex_unlock (&mu);
                if (send)
                    tr_conn_send (r, rid, &rep);
                tr_env_clear (&rep);
            }
            tr_env_clear (&e);
            zframe_destroy (&rid);
        }
        pthread_mutex_lock (&mu);
        size_t i;
        json_t *ev;
        json_array_foreach (outbox, i, ev) {
            for (int k = 0; k < nw; k++) {
                if (strcmp (w[k].kind, tv_str (ev, "kind")))
                    continue;
                tr_env_t e;
                tr_env_init (&e);
                e.id = w[k].id;
                e.verb = TR_VERB_EVENT;
                e.rv = ++rv;
                e.opts = json_pack ("{s:s}", "type", tv_str (ev, "type"));
                e.body = json_incref (json_object_get (ev, "obj"));
                tr_conn_send (r, w[k].rid, &e);
                tr_env_clear (&e);
            }
        }
        json_array_clear (outbox);
        pthread_mutex_unlock (&mu);
    }
    for (int k = 0; k < nw; k++)
        zframe_destroy (&w[k].rid);
    zpoller_destroy (&poll);
    zsock_destroy (&r);
    return NULL;
}

static json_t *
service (const char *name, const char *ip)
{
    return json_pack ("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:s, s:i, s:i}]}}", "apiVersion", "v1", "kind",
                      "Service", "metadata", "namespace", "default", "name", name, "resourceVersion", "3", "spec", "type",
                      "ClusterIP", "clusterIP", ip, "ports", "name", "http", "protocol", "TCP", "port", 80,
                      "targetPort", 8080);
}

/* a slice of service name with n endpoints 10.244.1.(base+i) */
static json_t *
slice (const char *name, int n, int base)
{
    json_t *eps = json_array ();
    for (int i = 0; i < n; i++) {
        char ip[24];
        snprintf (ip, sizeof ip, "10.244.1.%d", base + i);
        json_array_append_new (eps, json_pack ("{s:[s], s:{s:b}}", "addresses", ip, "conditions", "ready", 1));
    }
    return json_pack ("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:s, s:o, s:[{s:s, s:s, s:i}]}", "apiVersion",
                      "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "namespace", "default", "name", name,
                      "resourceVersion", "4", "labels", "kubernetes.io/service-name", name, "addressType", "IPv4",
                      "endpoints", eps, "ports", "name", "http", "protocol", "TCP", "port", 8080);
}

static void
push (const char *kind, const char *type, json_t *obj)
{
    pthread_mutex_lock (&mu);
    json_array_append_new (outbox, json_pack ("{s:s, s:s, s:o}", "kind", kind, "type", type, "obj", obj));
    pthread_mutex_unlock (&mu);
}

/* Waits up to ms for the table's listing to contain (want) or not contain (!want) needle. */
static int
table_has (const char *needle, int want, int ms)
{
    for (int t = 0;; t += 20) {
        char *l = pn_list ();
        int has = l && strstr (l, needle);
        if (!!has == !!want) {
            free (l);
            return 1;
        }
        if (t >= ms) {
            fprintf (stderr, "the table %s \"%s\":\n%s\n", want ? "lacks" : "still has", needle, l ? l : "(no table)");
            free (l);
            return 0;
        }
        free (l);
        usleep (20000);
    }
}

static tr_host_t *
start_proxy (void)
{
    tr_host_opts_t ho = {.endpoint = endpoint, .node_name = "n1", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&ho);
    assert_non_null (h);
    json_t *cfg = json_pack ("{s:s, s:i}", "clusterCIDR", "10.244.0.0/16", "tableCheckSeconds", 1);
    assert_int_equal (tr_host_start (h, proxy_actor (), cfg), 0);
    json_decref (cfg);
    return h;
}

static void
test_actor (void **state)
{
    (void) state;
    /* the kinds not served: nothing programmed */
    tr_host_t *h = start_proxy ();
    usleep (700000);
    assert_null (pn_list ());
    tr_host_destroy (&h);

    pthread_mutex_lock (&mu);
    serve_kinds = 1;
    json_object_set_new (objs, "Service", json_pack ("[o,o]", service ("web", "10.96.0.10"), service ("db", "10.96.0.20")));
    json_object_set_new (objs, "EndpointSlice", json_pack ("[o,o]", slice ("web", 2, 2), slice ("db", 1, 50)));
    pthread_mutex_unlock (&mu);
    h = start_proxy ();
    assert_true (table_has ("numgen random mod 2 vmap", 1, 5000));
    assert_true (table_has ("10.96.0.20 . tcp . 80 : goto service-", 1, 100));
    /* an endpoint added */
    push ("EndpointSlice", "MODIFIED", slice ("web", 3, 2));
    assert_true (table_has ("numgen random mod 3 vmap", 1, 3000));
    /* a Service deleted: its element and chains go, the other stays */
    push ("Service", "DELETED", service ("db", "10.96.0.20"));
    assert_true (table_has ("10.96.0.20", 0, 3000));
    assert_true (table_has ("default/db/", 0, 100));
    assert_true (table_has ("numgen random mod 3 vmap", 1, 100));
    /* a steady stream of changes: the table follows it while it lasts */
    int seen_during = 0;
    for (int k = 0; k < 300; k++) {
        push ("EndpointSlice", "MODIFIED", slice ("web", 1, 100 + k % 100));
        usleep (5000);
        if (k == 250) {
            char *l = pn_list ();
            seen_during = l && strstr (l, "numgen random mod 1 vmap");
            free (l);
        }
    }
    assert_true (seen_during);
    /* the table deleted behind the proxy's back (`nft flush ruleset`): programmed again */
    char err0[512];
    usleep (300000); /* the stream's last sync done: nothing but the check brings it back */
    assert_int_equal (pn_delete (err0, sizeof err0), 0);
    assert_true (table_has ("numgen random mod 1 vmap", 1, 4000));
    /* orderly stop: the table goes */
    tr_host_destroy (&h);
    assert_null (pn_list ());

    /* a proxy killed -9 left its table with a Service since deleted: the next one removes it */
    json_t *ss = json_pack ("[o]", service ("gone", "10.96.0.30"));
    json_t *sl = json_pack ("[o]", slice ("gone", 1, 60));
    pr_model_t *stale = pr_model_build (ss, sl, NULL, NULL), *none = NULL;
    char *script = pr_diff (NULL, stale), err[1024];
    assert_int_equal (pn_apply (script, err, sizeof err), 0);
    free (script);
    pr_model_free (&stale);
    json_decref (ss);
    json_decref (sl);
    assert_true (table_has ("default/gone/", 1, 0));
    h = start_proxy ();
    assert_true (table_has ("default/gone/", 0, 5000));
    assert_true (table_has ("10.96.0.30", 0, 100));
    assert_true (table_has ("10.96.0.10 . tcp . 80 : goto service-", 1, 3000));
    tr_host_destroy (&h);
    assert_int_equal (pn_read (&none, err, sizeof err), 0);
    assert_null (none);
}

int
main (void)
{
    if (geteuid () != 0) {
        printf ("skip: needs root (a network namespace, nftables)\n");
        return 77;
    }
    if (unshare (CLONE_NEWNET)) {
        printf ("skip: cannot unshare a network namespace\n");
        return 77;
    }
    char dir[] = "/tmp/troupe-tpa-XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    snprintf (endpoint, sizeof endpoint, "ipc://%s/b.sock", dir);
    objs = json_object ();
    outbox = json_array ();
    pthread_t t;
    zsys_init (); /* before the broker thread: czmq's first init is not thread-safe (two racing
                   * inits assert "zsys_set_thread_name_prefix() is not valid after creating sockets") */
    pthread_create (&t, NULL, broker_main, NULL);
    const struct CMUnitTest tests[] = {cmocka_unit_test (test_actor)};
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    stop_broker = 1;
    pthread_join (t, NULL);
    char err[256];
    pn_delete (err, sizeof err);
    json_decref (objs);
    json_decref (outbox);
    char cmd[100];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd))
        rc = 1;
    return rc;
}
