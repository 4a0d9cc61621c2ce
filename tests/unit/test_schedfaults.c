/* The scheduler actor when the API misbehaves, driven through a fault-injecting proxy between
 * the scheduler's host and a real broker and store (all in this process):
 * - a binding whose answer is lost after it committed: the scheduler reads the pod back, finds it
 *   bound where it assumed it, and never binds it again;
 * - a binding lost before the broker saw it: the read-back finds the pod unbound and the binding
 *   is sent again, once;
 * - a binding refused (500): the pod is forgotten, requeued and bound on a later attempt;
 * - a victim's delete refused, then lost: the preemptor loses its nomination and preempts again,
 *   and is bound once its victim is gone.
 * Each case counts what crossed the proxy, so a scheduler that rebinds, never reads back or never
 * preempts again fails here. */
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

#include "actors/scheduler/scheduler_actor.h"
#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "core/client.h"
#include "core/conn.h"
#include "core/host.h"
#include "core/value.h"
#include "tests/unit/plane.h"

/* ---- the proxy -------------------------------------------------------------------------------- */

typedef enum { FP_PASS, FP_DROP_REQUEST, FP_DROP_REPLY, FP_FAIL } fp_action_t;

/* One rule: the first `times` requests with this verb, kind, subresource ("" none) and name get
 * the action (the first rule with times left acts). Counts every matching request, acted on or
 * not. */
typedef struct {
    tr_verb_t verb;
    const char *kind, *sub, *name;
    fp_action_t action;
    int times;
    int seen, acted;
} fp_rule_t;

#define FP_RULES 4
typedef struct {
    pthread_mutex_t mu;
    fp_rule_t rules[FP_RULES];
    int nrules;
    char front[300], back[300];
    zsock_t *router;      /* the scheduler's host connects here */
    zhashx_t *dealers;    /* routing id (hex) → DEALER to the broker */
    zhashx_t *drop;       /* "dealer-pointer:id" → replies to swallow */
    /* the last pods/binding request: its resourceVersion precondition and body's metadata.uid */
    int binds;
    uint64_t bind_rv;
    char bind_uid[128];
} proxy_t;

static int
rule_matches (const fp_rule_t *r, const tr_env_t *e)
{
    const char *sub = tv_str (e->opts, "subresource");
    return r->verb == e->verb && !strcmp (r->kind, e->kind) && !strcmp (r->sub, sub ? sub : "") &&
           !strcmp (r->name, e->name);
}

/* What to do with a request from the scheduler (counts it). */
static fp_action_t
proxy_decide (proxy_t *p, const tr_env_t *e)
{
    fp_action_t a = FP_PASS;
    int acted = 0;
    pthread_mutex_lock (&p->mu);
    const char *sub = tv_str (e->opts, "subresource");
    if (sub && !strcmp (sub, "binding")) {
        p->binds++;
        p->bind_rv = e->rv;
        snprintf (p->bind_uid, sizeof p->bind_uid, "%s", tv_str (e->body, "metadata.uid") ? tv_str (e->body, "metadata.uid") : "");
    }
    for (int i = 0; i < p->nrules; i++) {
        fp_rule_t *r = &p->rules[i];
        if (!rule_matches (r, e))
            continue;
        r->seen++;
        if (!acted && r->acted < r->times) { /* the first rule with times left acts */
            acted = 1;
            r->acted++;
            a = r->action;
        }
    }
    pthread_mutex_unlock (&p->mu);
    return a;
}

static zsock_t *
dealer_for (proxy_t *p, zframe_t *rid, zpoller_t *poller)
{
    char *hex = zframe_strhex (rid);
    zsock_t *d = zhashx_lookup (p->dealers, hex);
    if (!d) {
        char err[128];
        d = tr_conn_dealer (p->back, NULL, err, sizeof err);
        assert_non_null (d);
        zsock_set_rcvtimeo (d, 0);
        zhashx_insert (p->dealers, hex, d);
        zpoller_add (poller, d);
    }
    free (hex);
    return d;
}

/* The routing id of a dealer (to send its replies back through the router). */
static zframe_t *
rid_of (proxy_t *p, zsock_t *d)
{
    for (zsock_t *x = zhashx_first (p->dealers); x; x = zhashx_next (p->dealers))
        if (x == d) {
            const char *hex = zhashx_cursor (p->dealers);
            size_t n = strlen (hex) / 2;
            byte *b = malloc (n ? n : 1);
            for (size_t i = 0; i < n; i++)
                sscanf (hex + 2 * i, "%2hhx", &b[i]);
            zframe_t *f = zframe_new (b, n);
            free (b);
            return f;
        }
    return NULL;
}

static void
proxy_actor (zsock_t *pipe, void *arg)
{
    proxy_t *p = arg;
    p->router = zsock_new_router (p->front);
    assert_non_null (p->router);
    zpoller_t *poller = zpoller_new (pipe, p->router, NULL);
    zsock_signal (pipe, 0);
    while (1) {
        zsock_t *which = zpoller_wait (poller, 1000);
        if (zpoller_terminated (poller) || which == pipe)
            break;
        if (!which)
            continue;
        if (which == p->router) {
            zmsg_t *m = zmsg_recv (p->router);
            if (!m)
                continue;
            zframe_t *rid = zmsg_pop (m), *body = zmsg_pop (m);
            zsock_t *d = dealer_for (p, rid, poller);
            tr_env_t e;
            char err[128];
            fp_action_t a = FP_PASS;
            if (body && !tr_env_decode (&e, zframe_data (body), zframe_size (body), err, sizeof err)) {
                a = proxy_decide (p, &e);
                if (a == FP_DROP_REPLY) {
                    char key[64];
                    snprintf (key, sizeof key, "%p:%llu", (void *) d, (unsigned long long) e.id);
                    zhashx_insert (p->drop, key, (void *) 1);
                } else if (a == FP_FAIL) {
                    tr_env_t rep;
                    tr_env_reply_error (&rep, &e, TR_INTERNAL, "injected by the test's proxy");
                    tr_conn_send (p->router, rid, &rep);
                    tr_env_clear (&rep);
                }
                tr_env_clear (&e);
            }
            if (body && (a == FP_PASS || a == FP_DROP_REPLY))
                zframe_send (&body, d, 0);
            zframe_destroy (&body);
            zframe_destroy (&rid);
            zmsg_destroy (&m);
        } else {
            zframe_t *body = zframe_recv (which);
            if (!body)
                continue;
            tr_env_t e;
            char err[128], key[64];
            int swallow = 0;
            if (!tr_env_decode (&e, zframe_data (body), zframe_size (body), err, sizeof err)) {
                snprintf (key, sizeof key, "%p:%llu", (void *) which, (unsigned long long) e.id);
                if (e.verb == TR_VERB_REPLY && zhashx_lookup (p->drop, key)) {
                    zhashx_delete (p->drop, key);
                    swallow = 1;
                }
                tr_env_clear (&e);
            }
            zframe_t *rid = swallow ? NULL : rid_of (p, which);
            if (rid) {
                zframe_send (&rid, p->router, ZFRAME_MORE);
                zframe_send (&body, p->router, 0);
            }
            zframe_destroy (&body);
        }
    }
    zpoller_destroy (&poller);
    for (zsock_t *d = zhashx_first (p->dealers); d; d = zhashx_next (p->dealers))
        zsock_destroy (&d);
    zsock_destroy (&p->router);
}

static void
rule_add (proxy_t *p, tr_verb_t verb, const char *kind, const char *sub, const char *name, fp_action_t a, int times)
{
    pthread_mutex_lock (&p->mu);
    assert_true (p->nrules < FP_RULES);
    p->rules[p->nrules++] = (fp_rule_t) {verb, kind, sub, name, a, times, 0, 0};
    pthread_mutex_unlock (&p->mu);
}

static int
rule_seen (proxy_t *p, int i)
{
    pthread_mutex_lock (&p->mu);
    int n = p->rules[i].seen;
    pthread_mutex_unlock (&p->mu);
    return n;
}

/* ---- the cluster ------------------------------------------------------------------------------ */

typedef struct {
    plane_t pl; /* the store, the broker, a client (tests/unit/plane.h) */
    zactor_t *px;
    proxy_t p;
    tr_client_t *c; /* pl.c */
    tr_host_t *h;
} rig_t;

static void
call_ok (tr_client_t *c, tr_verb_t verb, const char *kind, const char *name, json_t *body, json_t *opts)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    snprintf (req.kind, sizeof req.kind, "%s", kind);
    if (strcmp (kind, "Node") && strcmp (kind, "PriorityClass"))
        strcpy (req.ns, "default");
    snprintf (req.name, sizeof req.name, "%s", name);
    req.body = body;
    req.opts = opts;
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    if (rep.code != TR_OK)
        fail_msg ("%s %s %s: %s %s", tr_verb_name (verb), kind, name, tr_code_name (rep.code), rep.msg ? rep.msg : "");
    tr_env_clear (&req);
    tr_env_clear (&rep);
}

/* The pod as stored, or NULL when gone. */
static json_t *
pod_get (tr_client_t *c, const char *name)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    strcpy (req.kind, "Pod");
    strcpy (req.ns, "default");
    snprintf (req.name, sizeof req.name, "%s", name);
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    json_t *o = rep.code == TR_OK ? json_incref (rep.body) : NULL;
    if (rep.code != TR_OK)
        assert_int_equal (rep.code, TR_NOT_FOUND);
    tr_env_clear (&req);
    tr_env_clear (&rep);
    return o;
}

static void
node_add (rig_t *r, const char *name, const char *cpu)
{
    json_t *n = json_pack ("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}",
                           "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
                           "kubernetes.io/hostname", name, "status", "capacity", "cpu", cpu, "memory", "16Gi",
                           "pods", "110", "allocatable", "cpu", cpu, "memory", "16Gi", "pods", "110", "conditions",
                           "type", "Ready", "status", "True");
    call_ok (r->c, TR_VERB_CREATE, "Node", name, n, NULL);
}

static void
pod_add (rig_t *r, const char *name, const char *cpu, const char *pclass)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s,s:{s:{s:s}}}]}}", "apiVersion", "v1", "kind", "Pod",
                           "metadata", "name", name, "spec", "containers", "name", "c", "image", "busybox",
                           "resources", "requests", "cpu", cpu);
    if (pclass)
        tv_set_str (p, "spec.priorityClassName", pclass);
    call_ok (r->c, TR_VERB_CREATE, "Pod", name, p, NULL);
}

static void
rig_up (rig_t *r, const char *tag)
{
    memset (r, 0, sizeof *r);
    plane_up (&r->pl, tag);
    r->c = r->pl.c;
    pthread_mutex_init (&r->p.mu, NULL);
    snprintf (r->p.back, sizeof r->p.back, "%s", r->pl.ep);
    snprintf (r->p.front, sizeof r->p.front, "ipc://%s/proxy.sock", r->pl.dir);
    r->p.dealers = zhashx_new ();
    r->p.drop = zhashx_new ();
}

/* The scheduler behind the proxy; requests time out after 400 ms so lost answers show quickly. */
static void
rig_scheduler (rig_t *r)
{
    r->px = zactor_new (proxy_actor, &r->p);
    assert_non_null (r->px);
    tr_host_opts_t ho = {.endpoint = r->p.front, .node_name = "", .data_dir = r->pl.dir, .request_timeout_ms = 400};
    r->h = tr_host_new (&ho);
    assert_non_null (r->h);
    assert_int_equal (tr_host_start (r->h, scheduler_actor (), NULL), 0);
}

static void
rig_down (rig_t *r)
{
    tr_host_destroy (&r->h);
    zactor_destroy (&r->px);
    zhashx_destroy (&r->p.dealers);
    zhashx_destroy (&r->p.drop);
    pthread_mutex_destroy (&r->p.mu);
    plane_down (&r->pl);
}

/* Waits (up to 15 s) until the pod is bound; returns its node (static buffer) or fails. */
static const char *
wait_bound (rig_t *r, const char *name)
{
    static char node[64];
    for (int i = 0; i < 300; i++) {
        json_t *p = pod_get (r->c, name);
        const char *n = p ? tv_str (p, "spec.nodeName") : NULL;
        if (n && *n) {
            snprintf (node, sizeof node, "%s", n);
            json_decref (p);
            return node;
        }
        json_decref (p);
        zclock_sleep (50);
    }
    fail_msg ("pod %s was never bound", name);
    return NULL;
}

/* ---- cases ------------------------------------------------------------------------------------ */

/* The binding committed but its answer was lost: read back, kept, never bound twice. */
static void
binding_answer_lost (void **state)
{
    (void) state;
    rig_t r;
    rig_up (&r, "sfa");
    node_add (&r, "n1", "4");
    rule_add (&r.p, TR_VERB_PATCH, "Pod", "binding", "p1", FP_DROP_REPLY, 1);
    rule_add (&r.p, TR_VERB_GET, "Pod", "", "p1", FP_PASS, 0);
    rig_scheduler (&r);
    pod_add (&r, "p1", "1", NULL);
    assert_string_equal (wait_bound (&r, "p1"), "n1");
    /* the read-back comes after the 400 ms timeout */
    for (int i = 0; i < 100 && !rule_seen (&r.p, 1); i++)
        zclock_sleep (50);
    assert_true (rule_seen (&r.p, 1) >= 1);
    /* the scheduler goes on: 3 more pods of 1 cpu fill the node exactly (p1 still counted) */
    pod_add (&r, "p2", "1", NULL);
    pod_add (&r, "p3", "1", NULL);
    pod_add (&r, "p4", "1", NULL);
    wait_bound (&r, "p2"), wait_bound (&r, "p3"), wait_bound (&r, "p4");
    pod_add (&r, "p5", "1", NULL);
    zclock_sleep (1000);
    json_t *p5 = pod_get (r.c, "p5");
    const char *n5 = tv_str (p5, "spec.nodeName");
    assert_true (!n5 || !*n5); /* no room: p1's cpu was never given back */
    json_decref (p5);
    assert_int_equal (rule_seen (&r.p, 0), 1); /* one binding of p1, never a second */
    rig_down (&r);
}

/* The binding never reached the broker: the read-back finds the pod unbound; bound again, once. */
static void
binding_request_lost (void **state)
{
    (void) state;
    rig_t r;
    rig_up (&r, "sfb");
    node_add (&r, "n1", "4");
    rule_add (&r.p, TR_VERB_PATCH, "Pod", "binding", "p1", FP_DROP_REQUEST, 1);
    rule_add (&r.p, TR_VERB_GET, "Pod", "", "p1", FP_PASS, 0);
    rig_scheduler (&r);
    pod_add (&r, "p1", "1", NULL);
    assert_string_equal (wait_bound (&r, "p1"), "n1");
    assert_true (rule_seen (&r.p, 1) >= 1);    /* read back */
    zclock_sleep (600);
    assert_int_equal (rule_seen (&r.p, 0), 2); /* the lost one and the one that landed */
    rig_down (&r);
}

/* The binding goes with the pod's UID as its precondition, never its resourceVersion (as
 * Kubernetes' DefaultBinder): a status write of the pending pod that lands between the cycle and
 * the binding (our own PodScheduled=False or nominatedNodeName patch) must not fail it. */
static void
binding_by_uid (void **state)
{
    (void) state;
    rig_t r;
    rig_up (&r, "sfu");
    node_add (&r, "n1", "4");
    rig_scheduler (&r);
    pod_add (&r, "p1", "1", NULL);
    assert_string_equal (wait_bound (&r, "p1"), "n1");
    json_t *p1 = pod_get (r.c, "p1");
    pthread_mutex_lock (&r.p.mu);
    assert_int_equal (r.p.binds, 1);
    assert_true (r.p.bind_rv == 0);
    assert_string_equal (r.p.bind_uid, tv_str (p1, "metadata.uid"));
    pthread_mutex_unlock (&r.p.mu);
    json_decref (p1);
    rig_down (&r);
}

/* The binding refused: Unreserve, forget, requeue; a later attempt binds it. */
static void
binding_refused (void **state)
{
    (void) state;
    rig_t r;
    rig_up (&r, "sfc");
    node_add (&r, "n1", "4");
    rule_add (&r.p, TR_VERB_PATCH, "Pod", "binding", "p1", FP_FAIL, 2);
    rig_scheduler (&r);
    pod_add (&r, "p1", "4", NULL);
    assert_string_equal (wait_bound (&r, "p1"), "n1");
    assert_int_equal (rule_seen (&r.p, 0), 3); /* two refused, the third bound */
    /* the refused attempts gave the node's room back: it is full now, not over-full */
    pod_add (&r, "p2", "1", NULL);
    zclock_sleep (800);
    json_t *p2 = pod_get (r.c, "p2");
    const char *n2 = tv_str (p2, "spec.nodeName");
    assert_true (!n2 || !*n2);
    json_decref (p2);
    rig_down (&r);
}

/* The victim's delete refused once, then lost once: the preemptor preempts again until the
 * delete lands; once the victim is gone (the test plays the kubelet), the preemptor is bound. */
static void
victim_delete_fails (void **state)
{
    (void) state;
    rig_t r;
    rig_up (&r, "sfd");
    call_ok (r.c, TR_VERB_CREATE, "PriorityClass", "low",
             json_pack ("{s:s,s:s,s:{s:s},s:i}", "apiVersion", "scheduling.k8s.io/v1", "kind", "PriorityClass",
                        "metadata", "name", "low", "value", 10),
             NULL);
    call_ok (r.c, TR_VERB_CREATE, "PriorityClass", "high",
             json_pack ("{s:s,s:s,s:{s:s},s:i}", "apiVersion", "scheduling.k8s.io/v1", "kind", "PriorityClass",
                        "metadata", "name", "high", "value", 1000),
             NULL);
    node_add (&r, "n1", "2");
    rule_add (&r.p, TR_VERB_DELETE, "Pod", "", "low", FP_FAIL, 1);
    rule_add (&r.p, TR_VERB_DELETE, "Pod", "", "low", FP_DROP_REQUEST, 1);
    rig_scheduler (&r);
    pod_add (&r, "low", "2", "low");
    assert_string_equal (wait_bound (&r, "low"), "n1");
    pod_add (&r, "high", "2", "high");
    /* the victim marked for deletion: only the third delete could land */
    int marked = 0;
    for (int i = 0; i < 300 && !marked; i++) {
        json_t *v = pod_get (r.c, "low");
        marked = v && tv_get (v, "metadata.deletionTimestamp");
        json_decref (v);
        if (!marked)
            zclock_sleep (50);
    }
    assert_true (marked);
    assert_true (rule_seen (&r.p, 0) >= 3);
    /* the kubelet's part: the containers stopped, the pod deleted for good */
    call_ok (r.c, TR_VERB_DELETE, "Pod", "low", NULL, json_pack ("{s:i}", "gracePeriodSeconds", 0));
    assert_string_equal (wait_bound (&r, "high"), "n1");
    rig_down (&r);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (binding_answer_lost),
        cmocka_unit_test (binding_request_lost),
        cmocka_unit_test (binding_refused),
        cmocka_unit_test (binding_by_uid),
        cmocka_unit_test (victim_delete_fails),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
