/* The EndpointSlice controller's decisions (actors/controllers/endpointslice.c): endpoints of
 * selected pods with their conditions, named ports, no slice for a Service without selector,
 * more than 100 endpoints in several slices, pods on a node that is gone, nothing to do when the
 * slices already say it, leftovers deleted, the placeholder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/controllers/endpointslice.h"
#include "core/value.h"

static json_t *
service (const char *targetPort, int publish)
{
    json_t *tp = targetPort[0] >= '0' && targetPort[0] <= '9' ? json_integer (atoi (targetPort)) : json_string (targetPort);
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:{s:s},s:[{s:s,s:s,s:i,s:o}],s:b}}", "apiVersion", "v1", "kind",
                      "Service", "metadata", "name", "web", "namespace", "default", "uid", "svc-uid", "labels", "tier",
                      "front", "spec", "selector", "app", "web", "ports", "name", "http", "protocol", "TCP", "port", 80,
                      "targetPort", tp, "publishNotReadyAddresses", publish);
}

static json_t *
pod (const char *name, const char *ip, int ready, int terminating, const char *node)
{
    json_t *p = json_pack ("{s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:[{s:s,s:i}]}]},s:{s:s,s:s,s:[{s:s,s:s}]}}",
                           "kind", "Pod", "metadata", "name", name, "namespace", "default", "uid", name, "labels", "app",
                           "web", "spec", "nodeName", node, "containers", "name", "c", "ports", "name", "web",
                           "containerPort", 8080, "status", "phase", "Running", "podIP", ip, "conditions", "type",
                           "Ready", "status", ready ? "True" : "False");
    if (terminating)
        tv_set_str (p, "metadata.deletionTimestamp", "2026-12-01T00:00:00Z");
    return p;
}

static json_t *
nodes (void)
{
    return json_pack ("{s:b,s:b}", "n1", 1, "n2", 1);
}

/* Runs the decision and returns the created/updated slice bodies, after checking counts. */
static int
count (const ctrl_actions_t *a, tr_verb_t verb)
{
    int n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].verb == verb;
    return n;
}

static json_t *
ep (const json_t *slice, size_t i)
{
    return json_array_get (json_object_get (slice, "endpoints"), i);
}

static void
conditions_and_shape (void **state)
{
    (void) state;
    json_t *svc = service ("8080", 0);
    json_t *pods = json_pack ("[o,o,o,o,o]", pod ("a", "10.1.0.1", 1, 0, "n1"), pod ("b", "10.1.0.2", 0, 0, "n1"),
                              pod ("c", "10.1.0.3", 1, 1, "n2"), pod ("d", "", 1, 0, "n1"), pod ("e", "10.1.0.5", 1, 0, "gone"));
    json_t *other = pod ("x", "10.1.0.9", 1, 0, "n1");
    tv_set_str (other, "metadata.labels.app", "db");
    json_array_append_new (pods, other);
    json_t *done = pod ("f", "10.1.0.6", 1, 0, "n1");
    tv_set_str (done, "status.phase", "Succeeded");
    json_array_append_new (pods, done);
    json_t *nd = nodes (), *none = json_array ();
    ctrl_actions_t a = {0};
    assert_int_equal (eps_reconcile (svc, pods, none, nd, &a), 1);
    assert_int_equal (a.v[0].verb, TR_VERB_CREATE);
    json_t *s = a.v[0].body;
    assert_string_equal (tv_str (s, "apiVersion"), "discovery.k8s.io/v1");
    assert_string_equal (tv_str (s, "addressType"), "IPv4");
    assert_true (eps_managed_for (s, "web"));
    assert_string_equal (json_string_value (json_object_get (tv_get (s, "metadata.labels"), "tier")), "front");
    assert_string_equal (tv_str (json_array_get (tv_get (s, "metadata.ownerReferences"), 0), "kind"), "Service");
    assert_string_equal (tv_str (json_array_get (tv_get (s, "metadata.ownerReferences"), 0), "uid"), "svc-uid");
    assert_true (json_is_true (json_object_get (json_array_get (tv_get (s, "metadata.ownerReferences"), 0), "controller")));
    assert_int_equal (strncmp (tv_str (s, "metadata.name"), "web-", 4), 0);
    assert_int_equal (strlen (tv_str (s, "metadata.name")), 9);
    /* a, b, c: d has no IP, e's node is gone, x is not selected, f is finished */
    assert_int_equal (json_array_size (json_object_get (s, "endpoints")), 3);
    assert_string_equal (tv_str (ep (s, 0), "targetRef.name"), "a");
    assert_string_equal (tv_str (ep (s, 0), "targetRef.kind"), "Pod");
    assert_string_equal (tv_str (ep (s, 0), "nodeName"), "n1");
    assert_string_equal (json_string_value (json_array_get (json_object_get (ep (s, 0), "addresses"), 0)), "10.1.0.1");
    assert_true (tv_bool (ep (s, 0), "conditions.ready", false) && tv_bool (ep (s, 0), "conditions.serving", false));
    assert_false (tv_bool (ep (s, 0), "conditions.terminating", true));
    /* b: not Ready → not ready, not serving */
    assert_false (tv_bool (ep (s, 1), "conditions.ready", true) || tv_bool (ep (s, 1), "conditions.serving", true));
    /* c: Ready but terminating → serving, not ready */
    assert_false (tv_bool (ep (s, 2), "conditions.ready", true));
    assert_true (tv_bool (ep (s, 2), "conditions.serving", false) && tv_bool (ep (s, 2), "conditions.terminating", false));
    json_t *p0 = json_array_get (json_object_get (s, "ports"), 0);
    assert_string_equal (tv_str (p0, "name"), "http");
    assert_int_equal (tv_int (p0, "port", 0), 8080);
    assert_string_equal (tv_str (p0, "protocol"), "TCP");
    /* the same state again, the slice stored: nothing to do */
    json_t *stored = json_deep_copy (s);
    tv_set_str (stored, "metadata.resourceVersion", "42");
    json_t *slices = json_pack ("[o]", stored);
    ctrl_actions_t b = {0};
    assert_int_equal (eps_reconcile (svc, pods, slices, nd, &b), 0);
    /* a turns not Ready: the slice is updated at once, with its resourceVersion */
    json_object_set_new (json_array_get (tv_get (json_array_get (pods, 0), "status.conditions"), 0), "status", json_string ("False"));
    assert_int_equal (eps_reconcile (svc, pods, slices, nd, &b), 1);
    assert_int_equal (b.v[0].verb, TR_VERB_UPDATE);
    assert_int_equal (b.v[0].rv, 42);
    assert_string_equal (b.v[0].name, tv_str (stored, "metadata.name"));
    assert_false (tv_bool (ep (b.v[0].body, 0), "conditions.ready", true));
    /* publishNotReadyAddresses: every endpoint ready */
    json_t *pub = service ("8080", 1);
    ctrl_actions_t c = {0};
    eps_reconcile (pub, pods, none, nd, &c);
    for (size_t i = 0; i < 3; i++)
        assert_true (tv_bool (ep (c.v[0].body, i), "conditions.ready", false));
    ctrl_actions_clear (&a), ctrl_actions_clear (&b), ctrl_actions_clear (&c);
    json_decref (svc), json_decref (pub), json_decref (pods), json_decref (nd), json_decref (none), json_decref (slices);
}

static void
named_port (void **state)
{
    (void) state;
    json_t *svc = service ("web", 0);
    json_t *nameless = pod ("b", "10.1.0.2", 1, 0, "n1");
    json_object_del (json_array_get (tv_get (nameless, "spec.containers"), 0), "ports");
    json_t *pods = json_pack ("[o,o]", pod ("a", "10.1.0.1", 1, 0, "n1"), nameless);
    json_t *none = json_array ();
    ctrl_actions_t a = {0};
    /* a resolves "web" to 8080; b has no such port: it goes to a slice without that port */
    assert_int_equal (eps_reconcile (svc, pods, none, NULL, &a), 2);
    int with = -1, without = -1;
    for (size_t i = 0; i < a.n; i++) {
        if (json_array_size (tv_get (a.v[i].body, "ports")))
            with = (int) i;
        else
            without = (int) i;
    }
    assert_true (with >= 0 && without >= 0);
    assert_int_equal (tv_int (json_array_get (tv_get (a.v[with].body, "ports"), 0), "port", 0), 8080);
    assert_string_equal (tv_str (ep (a.v[with].body, 0), "targetRef.name"), "a");
    assert_string_equal (tv_str (ep (a.v[without].body, 0), "targetRef.name"), "b");
    assert_string_not_equal (a.v[0].name, a.v[1].name);
    ctrl_actions_clear (&a);
    json_decref (svc), json_decref (pods), json_decref (none);
}

static void
no_selector_and_placeholder (void **state)
{
    (void) state;
    json_t *svc = service ("8080", 0);
    json_t *pods = json_pack ("[o]", pod ("a", "10.1.0.1", 1, 0, "n1"));
    json_t *none = json_array ();
    ctrl_actions_t a = {0};
    json_t *bare = json_deep_copy (svc);
    json_object_del (json_object_get (bare, "spec"), "selector");
    assert_int_equal (eps_reconcile (bare, pods, none, NULL, &a), 0);
    /* no pod selected: one empty slice */
    tv_set_str (svc, "spec.selector.app", "nothing");
    assert_int_equal (eps_reconcile (svc, pods, none, NULL, &a), 1);
    assert_int_equal (json_array_size (tv_get (a.v[0].body, "endpoints")), 0);
    assert_int_equal (json_array_size (tv_get (a.v[0].body, "ports")), 0);
    ctrl_actions_clear (&a);
    json_decref (svc), json_decref (bare), json_decref (pods), json_decref (none);
}

static void
many_endpoints (void **state)
{
    (void) state;
    json_t *svc = service ("8080", 0);
    json_t *pods = json_array ();
    for (int i = 0; i < 250; i++) {
        char n[16], ip[20];
        snprintf (n, sizeof n, "p%03d", i);
        snprintf (ip, sizeof ip, "10.1.%d.%d", i / 200, i % 200 + 1);
        json_array_append_new (pods, pod (n, ip, 1, 0, "n1"));
    }
    json_t *none = json_array ();
    ctrl_actions_t a = {0};
    assert_int_equal (eps_reconcile (svc, pods, none, NULL, &a), 3);
    size_t total = 0;
    for (size_t i = 0; i < a.n; i++) {
        size_t n = json_array_size (tv_get (a.v[i].body, "endpoints"));
        assert_true (n <= EPS_MAX_ENDPOINTS);
        total += n;
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal (a.v[i].name, a.v[j].name);
    }
    assert_int_equal (total, 250);
    /* stored; scale down to 50: one slice updated, two deleted */
    json_t *slices = json_array ();
    for (size_t i = 0; i < a.n; i++) {
        json_t *s = json_deep_copy (a.v[i].body);
        tv_set_str (s, "metadata.resourceVersion", "7");
        json_array_append_new (slices, s);
    }
    json_t *fewer = json_array ();
    for (size_t i = 0; i < 50; i++)
        json_array_append (fewer, json_array_get (pods, i));
    ctrl_actions_t b = {0};
    eps_reconcile (svc, fewer, slices, NULL, &b);
    assert_int_equal (count (&b, TR_VERB_DELETE), 2);
    assert_int_equal (count (&b, TR_VERB_CREATE), 0);
    assert_true (count (&b, TR_VERB_UPDATE) <= 1);
    /* another Service's slices and unmanaged ones are never touched */
    json_t *foreign = json_deep_copy (json_array_get (slices, 0));
    json_object_set_new (json_object_get (tv_get (foreign, "metadata"), "labels"), EPS_SERVICE_LABEL, json_string ("db"));
    json_t *user = json_deep_copy (json_array_get (slices, 1));
    json_object_del (tv_get (user, "metadata.labels"), EPS_MANAGED_BY_LABEL);
    json_t *only = json_pack ("[o,o]", foreign, user);
    ctrl_actions_t c = {0};
    eps_reconcile (svc, fewer, only, NULL, &c);
    assert_int_equal (count (&c, TR_VERB_DELETE), 0);
    assert_int_equal (count (&c, TR_VERB_CREATE), 1);
    ctrl_actions_clear (&a), ctrl_actions_clear (&b), ctrl_actions_clear (&c);
    json_decref (svc), json_decref (pods), json_decref (none), json_decref (slices), json_decref (fewer), json_decref (only);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (conditions_and_shape),
        cmocka_unit_test (named_port),
        cmocka_unit_test (no_selector_and_placeholder),
        cmocka_unit_test (many_endpoints),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
