/* host: an actor's lifecycle, requests with callbacks, timers, an informer's add/update/delete,
 * its resync after the broker restarts (objects changed while it was away are reported), a
 * failover that leaves requests to peers alone, an informer listing in pages (a kind larger than
 * one message), requests told TooManyRequests sent again after the hint, and loading an actor
 * from a .so (ABI checked), an actor's own descriptor polled in its loop (troupe_fd_watch), an
 * informer keeping what a transform makes of each object, or only some fields of it, and an
 * object's versions sharing what did not change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "core/client.h"
#include "core/host.h"
#include "core/value.h"
#include "tests/unit/plane.h"

/* What the test actor saw; written on the actor's thread, read by the test under the lock. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int adds, updates, deletes, synced, timers, replies;
static char last_value[64];

static void
on_add (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    adds++;
    snprintf (last_value, sizeof last_value, "%s", tv_str (o, "data.k") ? tv_str (o, "data.k") : "");
    pthread_mutex_unlock (&mu);
}
static void
on_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) self;
    (void) ctx;
    (void) old;
    pthread_mutex_lock (&mu);
    updates++;
    snprintf (last_value, sizeof last_value, "%s", tv_str (o, "data.k") ? tv_str (o, "data.k") : "");
    pthread_mutex_unlock (&mu);
}
static void
on_delete (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    (void) o;
    pthread_mutex_lock (&mu);
    deletes++;
    pthread_mutex_unlock (&mu);
}
static void
on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    synced++;
    pthread_mutex_unlock (&mu);
}

static void
got_reply (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    (void) arg;
    pthread_mutex_lock (&mu);
    if (reply->code == TR_OK)
        replies++;
    pthread_mutex_unlock (&mu);
}

static void *
t_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    troupe_handlers_t h = {on_add, on_update, on_delete, on_synced};
    troupe_watch (ctx, "ConfigMap", NULL, NULL, &h);
    troupe_timer (ctx, 7, 50, 0);
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    strcpy (req.kind, "Namespace");
    strcpy (req.name, "default");
    troupe_request (ctx, &req, got_reply, NULL);
    return calloc (1, 1);
}
static int
t_timer (void *self, troupe_ctx_t *ctx, int id)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    if (id == 7)
        timers++;
    pthread_mutex_unlock (&mu);
    return 0;
}
static void
t_destroy (void **p)
{
    free (*p);
    *p = NULL;
}

static const troupe_actor_t test_actor = {TROUPE_ACTOR_ABI, "test", t_create, NULL, t_timer, t_destroy};
static const troupe_actor_t bad_abi = {TROUPE_ACTOR_ABI + 1, "bad", t_create, NULL, t_timer, t_destroy};

static int
counter (int *c)
{
    pthread_mutex_lock (&mu);
    int v = *c;
    pthread_mutex_unlock (&mu);
    return v;
}

static int
wait_until (int *c, int want)
{
    for (int i = 0; i < 200; i++) {
        if (counter (c) >= want)
            return 1;
        usleep (25000);
    }
    return 0;
}

static void
put_cm (tr_client_t *c, tr_verb_t verb, const char *name, const char *v)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    snprintf (req.name, sizeof req.name, "%s", name);
    if (verb != TR_VERB_DELETE)
        req.body = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                              name, "data", "k", v);
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&req);
    tr_env_clear (&rep);
}

static void
informer_and_restart (void **state)
{
    (void) state;
    char dir[] = "/tmp/troupe-th-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char store[300], ep[300], sep[100];
    snprintf (store, sizeof store, "%s/store", dir);
    mkdir (store, 0700);
    /* ipc, not inproc: a restarted broker must be reachable again by reconnection */
    snprintf (ep, sizeof ep, "ipc://%s/b.sock", dir);
    snprintf (sep, sizeof sep, "inproc://th-store-%d", getpid ());
    zactor_t *st = store_actor_new (store, sep);
    broker_opts_t bo = {.store_endpoint = sep, .local_endpoints = ep};
    zactor_t *br = broker_new (&bo);
    assert_non_null (br);
    char err[256];
    tr_client_t *c = tr_client_new (ep, NULL, err, sizeof err);
    put_cm (c, TR_VERB_CREATE, "before", "0");

    tr_host_opts_t ho = {.endpoint = ep, .node_name = "n1", .data_dir = dir};
    tr_host_t *h = tr_host_new (&ho);
    assert_int_equal (tr_host_start (h, &bad_abi, NULL), -1);
    assert_int_equal (tr_host_start (h, &test_actor, NULL), 0);
    assert_true (wait_until (&synced, 1));
    assert_true (wait_until (&adds, 1)); /* the object listed at start */
    assert_true (wait_until (&timers, 1));
    assert_true (wait_until (&replies, 1));

    put_cm (c, TR_VERB_CREATE, "a", "1");
    assert_true (wait_until (&adds, 2));
    put_cm (c, TR_VERB_UPDATE, "a", "2");
    assert_true (wait_until (&updates, 1));
    pthread_mutex_lock (&mu);
    assert_string_equal (last_value, "2");
    pthread_mutex_unlock (&mu);
    put_cm (c, TR_VERB_DELETE, "a", NULL);
    assert_true (wait_until (&deletes, 1));

    /* restart the broker (same store); meanwhile an object changes and one is added: the
     * informer notices the new instance, resumes its watch from the last revision it saw (no
     * relist: revisions are the store's) and reports both */
    tr_client_destroy (&c);
    zactor_destroy (&br);
    br = broker_new (&bo);
    assert_non_null (br);
    c = tr_client_new (ep, NULL, err, sizeof err);
    put_cm (c, TR_VERB_UPDATE, "before", "changed");
    put_cm (c, TR_VERB_CREATE, "after", "3");
    assert_true (wait_until (&updates, 2));
    assert_true (wait_until (&adds, 3));
    pthread_mutex_lock (&mu);
    assert_string_equal (last_value, "3");
    assert_int_equal (synced, 1); /* resumed, not relisted */
    pthread_mutex_unlock (&mu);
    tr_host_destroy (&h);
    assert_null (h);
    tr_client_destroy (&c);
    zactor_destroy (&br);
    zactor_destroy (&st);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

/* ---- a broker failover leaves requests to peers (the runtime shim) alone ---------------------- */

static char peer_ep[300];
static int peer_code = -1, peer_synced;

static void
peer_replied (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    (void) arg;
    pthread_mutex_lock (&mu);
    peer_code = (int) reply->code;
    pthread_mutex_unlock (&mu);
}
static void
peer_on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    peer_synced++;
    pthread_mutex_unlock (&mu);
}
static void *
p_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    troupe_handlers_t h = {NULL, NULL, NULL, peer_on_synced};
    troupe_watch (ctx, "ConfigMap", NULL, NULL, &h);
    troupe_peer_t *shim = troupe_peer (ctx, peer_ep);
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST_CONTAINERS;
    troupe_peer_request (shim, &req, 60000, peer_replied, NULL);
    return calloc (1, 1);
}
static const troupe_actor_t peer_actor = {TROUPE_ACTOR_ABI, "peer-test", p_create, NULL, NULL, t_destroy};

static void
failover_keeps_peer_requests (void **state)
{
    (void) state;
    char dir[] = "/tmp/troupe-tf-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char store[300], ep[300], sep[100], eps[700], dead[300];
    snprintf (store, sizeof store, "%s/store", dir);
    mkdir (store, 0700);
    snprintf (ep, sizeof ep, "ipc://%s/b.sock", dir);
    snprintf (dead, sizeof dead, "ipc://%s/dead.sock", dir);
    snprintf (peer_ep, sizeof peer_ep, "ipc://%s/shim.sock", dir);
    snprintf (sep, sizeof sep, "inproc://tf-store-%d", getpid ());
    zactor_t *st = store_actor_new (store, sep);
    broker_opts_t bo = {.store_endpoint = sep, .local_endpoints = ep};
    zactor_t *br = broker_new (&bo);
    assert_non_null (br);
    /* a "broker" that never answers, listed first: the host gives up on it and switches */
    zsock_t *silent = zsock_new_router (dead);
    zsock_t *shim = zsock_new_router (peer_ep);
    assert_non_null (silent);
    assert_non_null (shim);
    snprintf (eps, sizeof eps, "%s,%s", dead, ep);
    tr_host_opts_t ho = {.endpoint = eps, .node_name = "n1", .data_dir = dir};
    tr_host_t *h = tr_host_new (&ho);
    assert_int_equal (tr_host_start (h, &peer_actor, NULL), 0);
    /* the runtime request arrives at the shim; it is answered only after the switch */
    zsock_set_rcvtimeo (shim, 5000);
    zmsg_t *m = zmsg_recv (shim);
    assert_non_null (m);
    for (int i = 0; i < 4 && !wait_until (&peer_synced, 1); i++)
        ; /* the switch comes after 6 s without an answer */
    assert_int_equal (counter (&peer_synced), 1); /* listed on the second server: switched */
    pthread_mutex_lock (&mu);
    assert_int_equal (peer_code, -1); /* not failed by the switch */
    pthread_mutex_unlock (&mu);
    zframe_t *rid = zmsg_pop (m);
    zframe_t *f = zmsg_first (m);
    tr_env_t req;
    char err[256];
    assert_int_equal (tr_env_decode (&req, zframe_data (f), zframe_size (f), err, sizeof err), 0);
    tr_env_t rep;
    tr_env_init (&rep);
    rep.id = req.id;
    rep.verb = TR_VERB_REPLY;
    assert_int_equal (tr_conn_send (shim, rid, &rep), 0);
    assert_true (wait_until (&peer_code, 0) && counter (&peer_code) == TR_OK);
    zframe_destroy (&rid);
    zmsg_destroy (&m);
    tr_env_clear (&req);
    tr_host_destroy (&h);
    zsock_destroy (&shim);
    zsock_destroy (&silent);
    zactor_destroy (&br);
    zactor_destroy (&st);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

/* ---- an informer lists in pages: a kind larger than one message still syncs ----------------- */

static int big_adds, big_synced;

static void
big_on_add (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    (void) o;
    pthread_mutex_lock (&mu);
    big_adds++;
    pthread_mutex_unlock (&mu);
}
static void
big_on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    big_synced++;
    pthread_mutex_unlock (&mu);
}
static void *
b_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    troupe_handlers_t h = {big_on_add, NULL, NULL, big_on_synced};
    troupe_watch (ctx, "ConfigMap", NULL, NULL, &h);
    return calloc (1, 1);
}
static const troupe_actor_t big_actor = {TROUPE_ACTOR_ABI, "big-test", b_create, NULL, NULL, t_destroy};

static void
informer_pages (void **state)
{
    (void) state;
    plane_t pl;
    plane_up (&pl, "tp");
    tr_client_t *c = pl.c;
    /* 6 x 900 KB: one list of them would be 5.4 MB, more than a message may carry (4 MiB) */
    char *big = malloc (900001);
    memset (big, 'x', 900000);
    big[900000] = 0;
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf (name, sizeof name, "big%d", i);
        put_cm (c, TR_VERB_CREATE, name, big);
    }
    free (big);
    /* and 1,100 small ones: more than two pages of 500 */
    for (int i = 0; i < 1100; i++) {
        char name[16];
        snprintf (name, sizeof name, "s%d", i);
        put_cm (c, TR_VERB_CREATE, name, "v");
    }
    tr_host_t *h = plane_host (&pl);
    assert_int_equal (tr_host_start (h, &big_actor, NULL), 0);
    assert_true (wait_until (&big_synced, 1));
    assert_int_equal (counter (&big_adds), 1106);
    tr_host_destroy (&h);
    plane_down (&pl);
}

/* ---- what an informer keeps (a transform), and versions sharing what did not change ----------- */

static int sl_adds, sl_updates, sl_deletes, sl_saw_big, sl_get_slim, full_updates, full_shared, sl_synced;
static int full_adds, full_cross_shared, full_bad;
static char full_prev[64];
static troupe_informer_t *sl_inf, *full_inf;

static json_t *
slim (const json_t *o)
{
    const char *k = tv_str (o, "data.k");
    if (k && !strcmp (k, "drop"))
        return NULL;
    return json_pack ("{s:{s:s?,s:s?},s:{s:s?}}", "metadata", "name", tv_str (o, "metadata.name"), "namespace",
                      tv_str (o, "metadata.namespace"), "data", "k", k);
}
static void
sl_seen (const json_t *o)
{
    if (tv_get (o, "data.big") || tv_get (o, "metadata.labels"))
        sl_saw_big++;
    const json_t *g = troupe_informer_get (sl_inf, "default", tv_str (o, "metadata.name"));
    if (g && !tv_get (g, "data.big") && json_equal (g, o))
        sl_get_slim++;
}
static void
sl_add (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    sl_adds++;
    sl_seen (o);
    pthread_mutex_unlock (&mu);
}
static void
sl_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    sl_updates++;
    sl_seen (o);
    if (tv_get (old, "data.big"))
        sl_saw_big++;
    pthread_mutex_unlock (&mu);
}
static void
sl_delete (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    sl_deletes++;
    if (tv_get (o, "data.big"))
        sl_saw_big++;
    pthread_mutex_unlock (&mu);
}
/* An object new to the cache is decoded like the last event's (informer_prev): of another object,
 * equal labels are that object's, unequal ones its own, with its own values. */
static void
full_add (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    full_adds++;
    const json_t *p = *full_prev ? troupe_informer_get (full_inf, "default", full_prev) : NULL;
    const json_t *l = tv_get (o, "metadata.labels");
    if (p && l && l == tv_get (p, "metadata.labels"))
        full_cross_shared++;
    /* the values are the object's own: app is web but for y (db); data.k as written */
    const char *name = tv_str (o, "metadata.name"), *app = tv_str (o, "metadata.labels.app");
    if (!app || strcmp (app, strcmp (name, "y") ? "web" : "db") || (p && json_equal (p, o)))
        full_bad++;
    snprintf (full_prev, sizeof full_prev, "%s", name);
    pthread_mutex_unlock (&mu);
}
static void
full_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    full_updates++;
    snprintf (full_prev, sizeof full_prev, "%s", tv_str (o, "metadata.name"));
    /* metadata.labels did not change: the new version holds the old one's (tv_decode_like) */
    if (tv_get (o, "metadata.labels") && tv_get (o, "metadata.labels") == tv_get (old, "metadata.labels") &&
        strcmp (tv_str (o, "data.k"), tv_str (old, "data.k")))
        full_shared++;
    pthread_mutex_unlock (&mu);
}
static void
sl_on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    sl_synced++;
    pthread_mutex_unlock (&mu);
}
/* a third informer keeps only data.k and the labels (troupe_informer_set_fields) */
static int fl_adds, fl_updates, fl_bad, fl_shared;
static troupe_informer_t *fl_inf;
static void
fl_check (const json_t *o)
{
    /* never data.big; always the informer's own fields; the cache holds the same */
    if (tv_get (o, "data.big") || !tv_str (o, "data.k") || !tv_get (o, "metadata.labels") ||
        !tv_str (o, "metadata.name") || !tv_str (o, "kind") || !tv_str (o, "metadata.resourceVersion") ||
        !json_equal (troupe_informer_get (fl_inf, "default", tv_str (o, "metadata.name")), o))
        fl_bad++;
}
static void
fl_add (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    fl_adds++;
    fl_check (o);
    pthread_mutex_unlock (&mu);
}
static void
fl_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) self;
    (void) ctx;
    pthread_mutex_lock (&mu);
    fl_updates++;
    fl_check (o);
    if (tv_get (o, "metadata.labels") == tv_get (old, "metadata.labels"))
        fl_shared++;
    pthread_mutex_unlock (&mu);
}
static void *
sl_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    troupe_handlers_t h = {sl_add, sl_update, sl_delete, sl_on_synced};
    sl_inf = troupe_watch (ctx, "ConfigMap", NULL, NULL, &h);
    troupe_informer_set_transform (sl_inf, slim);
    troupe_handlers_t f = {full_add, full_update, NULL, sl_on_synced};
    full_inf = troupe_watch (ctx, "ConfigMap", NULL, NULL, &f);
    troupe_handlers_t fh = {fl_add, fl_update, NULL, sl_on_synced};
    fl_inf = troupe_watch (ctx, "ConfigMap", NULL, NULL, &fh);
    static const char *const fields[] = {"data.k", "metadata.labels"};
    troupe_informer_set_fields (fl_inf, fields, 2);
    return calloc (1, 1);
}
static const troupe_actor_t slim_actor = {TROUPE_ACTOR_ABI, "slim-test", sl_create, NULL, NULL, t_destroy};

static void
put_app (tr_client_t *c, tr_verb_t verb, const char *name, const char *k, const char *app)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    strcpy (req.kind, "ConfigMap");
    strcpy (req.ns, "default");
    snprintf (req.name, sizeof req.name, "%s", name);
    req.body = json_pack ("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s,s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                          "name", name, "labels", "app", app, "data", "k", k, "big", "0123456789abcdef");
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&req);
    tr_env_clear (&rep);
}

static void
put_labelled (tr_client_t *c, tr_verb_t verb, const char *name, const char *k)
{
    put_app (c, verb, name, k, "web");
}

static void
informer_transform (void **state)
{
    (void) state;
    plane_t pl;
    plane_up (&pl, "tt");
    tr_client_t *c = pl.c;
    put_labelled (c, TR_VERB_CREATE, "listed", "0"); /* seen through the first list */
    tr_host_t *h = plane_host (&pl);
    assert_int_equal (tr_host_start (h, &slim_actor, NULL), 0);
    assert_true (wait_until (&sl_adds, 1));
    assert_true (wait_until (&sl_synced, 3)); /* the informers listed: each sees every change below */
    put_labelled (c, TR_VERB_CREATE, "w", "1"); /* and through the watch */
    assert_true (wait_until (&sl_adds, 2));
    put_labelled (c, TR_VERB_UPDATE, "w", "2");
    assert_true (wait_until (&sl_updates, 1));
    assert_true (wait_until (&full_shared, 1));
    put_labelled (c, TR_VERB_UPDATE, "w", "drop"); /* the transform keeps nothing: a delete */
    assert_true (wait_until (&sl_deletes, 1));
    put_labelled (c, TR_VERB_UPDATE, "w", "3"); /* kept again: an add */
    assert_true (wait_until (&sl_adds, 3));
    assert_int_equal (counter (&sl_saw_big), 0);  /* the handlers never saw what the transform drops */
    assert_int_equal (counter (&sl_get_slim), 4); /* and the cache holds what they saw (3 adds, 1 update) */
    assert_int_equal (counter (&sl_updates), 1);
    assert_true (wait_until (&full_updates, 3));
    /* the fields informer: listed, then the watch's add and its 3 updates, each only what it keeps,
     * the unchanged labels shared from one version to the next */
    assert_true (wait_until (&fl_updates, 3));
    assert_int_equal (counter (&fl_adds), 2);
    assert_int_equal (counter (&fl_bad), 0);
    assert_int_equal (counter (&fl_shared), 3);
    /* new objects, decoded like the last event's: x's labels are w's (equal); y's are its own (db);
     * z's (web again) its own, y's being different; none equal to the one before, values their own */
    assert_int_equal (counter (&full_adds), 2); /* listed, w */
    put_labelled (c, TR_VERB_CREATE, "x", "4");
    assert_true (wait_until (&full_adds, 3));
    put_app (c, TR_VERB_CREATE, "y", "5", "db");
    assert_true (wait_until (&full_adds, 4));
    put_labelled (c, TR_VERB_CREATE, "z", "6");
    assert_true (wait_until (&full_adds, 5));
    assert_int_equal (counter (&full_cross_shared), 1);
    assert_int_equal (counter (&full_bad), 0);
    tr_host_destroy (&h);
    plane_down (&pl);
}

/* ---- a request told TooManyRequests is sent again after the hint (as client-go) ---------------- */

static int flood_ok, flood_other;

static void
flood_reply (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    (void) arg;
    pthread_mutex_lock (&mu);
    if (reply->code == TR_OK)
        flood_ok++;
    else
        flood_other++;
    pthread_mutex_unlock (&mu);
}
static void *
f_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    for (int i = 0; i < 12; i++) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_CREATE;
        strcpy (req.kind, "ConfigMap");
        strcpy (req.ns, "default");
        char name[16];
        snprintf (name, sizeof name, "f%d", i);
        req.body = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", name);
        troupe_request (ctx, &req, flood_reply, NULL);
        tr_env_clear (&req);
    }
    return calloc (1, 1);
}
static const troupe_actor_t flood_actor = {TROUPE_ACTOR_ABI, "flood-test", f_create, NULL, NULL, t_destroy};

static void
too_many_requests_retried (void **state)
{
    (void) state;
    char dir[] = "/tmp/troupe-tq-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char store[300], ep[300], sep[100];
    snprintf (store, sizeof store, "%s/store", dir);
    mkdir (store, 0700);
    snprintf (ep, sizeof ep, "ipc://%s/b.sock", dir);
    snprintf (sep, sizeof sep, "inproc://tq-store-%d", getpid ());
    zactor_t *st = store_actor_new (store, sep);
    /* a share of 4 requests in flight: of 12 sent at once, 8 meet TooManyRequests (retry after 1 s) */
    broker_opts_t bo = {.store_endpoint = sep, .local_endpoints = ep, .max_inflight_per_client = 4};
    zactor_t *br = broker_new (&bo);
    assert_non_null (br);
    tr_host_opts_t ho = {.endpoint = ep, .node_name = "n1", .data_dir = dir};
    tr_host_t *h = tr_host_new (&ho);
    assert_int_equal (tr_host_start (h, &flood_actor, NULL), 0);
    for (int i = 0; i < 3 && !wait_until (&flood_ok, 12); i++)
        ;
    assert_int_equal (counter (&flood_ok), 12);
    assert_int_equal (counter (&flood_other), 0);
    tr_host_destroy (&h);
    zactor_destroy (&br);
    zactor_destroy (&st);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

/* troupe_fd_watch: an actor's own descriptor polled in its loop; unwatched from its own
 * callback, it is not called again; a second watch of the same fd is refused. */
static int fd_pipe[2], fd_reads, fd_dup_refused;

static void
fd_readable (void *self, troupe_ctx_t *ctx, int fd)
{
    (void) self;
    char c = 0;
    if (read (fd, &c, 1) != 1)
        return;
    pthread_mutex_lock (&mu);
    fd_reads++;
    pthread_mutex_unlock (&mu);
    if (c == 'u')
        troupe_fd_unwatch (ctx, fd);
}
static void *
fd_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    int ok = troupe_fd_watch (ctx, fd_pipe[0], fd_readable) == 0;
    fd_dup_refused = troupe_fd_watch (ctx, fd_pipe[0], fd_readable) == -1;
    return ok ? calloc (1, 1) : NULL;
}
static const troupe_actor_t fd_actor = {TROUPE_ACTOR_ABI, "fd-test", fd_create, NULL, NULL, t_destroy};

static void
fd_watch (void **state)
{
    (void) state;
    assert_int_equal (pipe (fd_pipe), 0);
    tr_host_opts_t ho = {.endpoint = "inproc://nobody-home", .node_name = "n1", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&ho);
    assert_int_equal (tr_host_start (h, &fd_actor, NULL), 0);
    assert_true (fd_dup_refused);
    assert_int_equal (write (fd_pipe[1], "ab", 2), 2);
    assert_true (wait_until (&fd_reads, 2));
    assert_int_equal (write (fd_pipe[1], "u", 1), 1);
    assert_true (wait_until (&fd_reads, 3));
    assert_int_equal (write (fd_pipe[1], "c", 1), 1);
    usleep (1200 * 1000);   /* past two housekeeping ticks: the dead entry is freed, never called */
    assert_int_equal (counter (&fd_reads), 3);
    tr_host_destroy (&h);
    close (fd_pipe[0]);
    close (fd_pipe[1]);
}

static void
load_so (void **state)
{
    (void) state;
    tr_host_opts_t ho = {.endpoint = "inproc://nobody-home", .node_name = "n1", .data_dir = "/tmp"};
    tr_host_t *h = tr_host_new (&ho);
    char err[512];
    assert_int_equal (tr_host_load (h, "/nonexistent/libx.so", NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "/nonexistent/libx.so"));
    /* a library without the entry symbol */
    assert_int_equal (tr_host_load (h, "libm.so.6", NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "troupe_actor_entry"));
    tr_host_destroy (&h);
}

int
main (void)
{
    setenv ("TROUPE_LOG", "error", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (informer_and_restart),
        cmocka_unit_test (failover_keeps_peer_requests),
        cmocka_unit_test (informer_pages),
        cmocka_unit_test (informer_transform),
        cmocka_unit_test (too_many_requests_retried),
        cmocka_unit_test (load_so),
        cmocka_unit_test (fd_watch),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
