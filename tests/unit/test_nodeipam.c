/* nodeipam: the node IPAM controller's decisions — allocation from the cluster CIDR, subnets
 * Nodes already hold marked taken (a restarted controller), release when a Node is deleted,
 * a full range (CIDRNotAvailable once), failed patches, bad settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "actors/controllers/nodeipam.h"
#include "core/value.h"

static json_t *
node (const char *name, const char *cidr)
{
    json_t *n = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{}}", "apiVersion", "v1", "kind", "Node", "metadata", "name", name,
                           "uid", name, "spec");
    if (cidr)
        tv_set (n, "spec.podCIDR", json_string (cidr));
    return n;
}

/* The podCIDR patched for name in acts, or NULL; checks podCIDRs says the same. */
static const char *
patched (const ctrl_actions_t *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].verb == TR_VERB_PATCH && !strcmp (a->v[i].kind, "Node") && !strcmp (a->v[i].name, name)) {
            const char *c = tv_str (a->v[i].body, "spec.podCIDR");
            assert_non_null (c);
            assert_string_equal (json_string_value (json_array_get (tv_get (a->v[i].body, "spec.podCIDRs"), 0)), c);
            assert_int_equal (json_array_size (tv_get (a->v[i].body, "spec.podCIDRs")), 1);
            return c;
        }
    return NULL;
}

static int
events (const ctrl_actions_t *a, const char *reason)
{
    int n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].verb == TR_VERB_CREATE && !strcmp (a->v[i].kind, "Event") &&
             !strcmp (tv_str (a->v[i].body, "reason"), reason);
    return n;
}

/* Applies the patches of acts to the nodes (as the store would). */
static void
apply (json_t *nodes, const ctrl_actions_t *a)
{
    size_t i;
    json_t *n;
    json_array_foreach (nodes, i, n) {
        const char *c = patched (a, tv_str (n, "metadata.name"));
        if (c) {
            tv_set (n, "spec.podCIDR", json_string (c));
            tv_set (n, "spec.podCIDRs", json_pack ("[s]", c));
        }
    }
}

static void
allocates_distinct_subnets (void **state)
{
    (void) state;
    nodeipam_t s;
    char err[256];
    assert_int_equal (nodeipam_init (&s, NODEIPAM_CLUSTER_CIDR, NODEIPAM_MASK, err, sizeof err), 0);
    json_t *nodes = json_pack ("[o,o,o]", node ("a", NULL), node ("b", NULL), node ("c", "10.9.0.0/24"));
    ctrl_actions_t acts = {0};
    nodeipam_reconcile (&s, nodes, 0, &acts);
    assert_int_equal (acts.n, 2); /* c keeps its own (outside the range) */
    assert_string_equal (patched (&acts, "a"), "10.244.0.0/24");
    assert_string_equal (patched (&acts, "b"), "10.244.1.0/24");
    assert_null (patched (&acts, "c"));
    assert_int_equal (acts.v[0].rv, 0);
    /* in flight: the next round sends nothing again */
    ctrl_actions_t again = {0};
    nodeipam_reconcile (&s, nodes, 0, &again);
    assert_int_equal (again.n, 0);
    apply (nodes, &acts);
    nodeipam_reconcile (&s, nodes, 0, &again);
    assert_int_equal (again.n, 0);
    assert_int_equal (json_object_size (s.pending), 0);
    ctrl_actions_clear (&acts);
    json_decref (nodes);
    nodeipam_clear (&s);
}

static void
restart_marks_taken (void **state)
{
    (void) state;
    nodeipam_t s;
    char err[256];
    assert_int_equal (nodeipam_init (&s, "10.244.0.0/16", 24, err, sizeof err), 0);
    /* a fresh controller (next = 0) over Nodes holding .0 and .1 (one only in podCIDRs) */
    json_t *nodes = json_pack ("[o,o,o]", node ("a", "10.244.0.0/24"), node ("b", NULL), node ("new", NULL));
    tv_set (json_array_get (nodes, 1), "spec.podCIDRs", json_pack ("[s]", "10.244.1.0/24"));
    ctrl_actions_t acts = {0};
    nodeipam_reconcile (&s, nodes, 0, &acts);
    assert_int_equal (acts.n, 1);
    assert_string_equal (patched (&acts, "new"), "10.244.2.0/24");
    ctrl_actions_clear (&acts);
    json_decref (nodes);
    nodeipam_clear (&s);
    /* a wider subnet held by a node takes every /24 it covers */
    assert_int_equal (nodeipam_init (&s, "10.244.0.0/16", 24, err, sizeof err), 0);
    nodes = json_pack ("[o,o]", node ("wide", "10.244.0.0/23"), node ("new", NULL));
    nodeipam_reconcile (&s, nodes, 0, &acts);
    assert_string_equal (patched (&acts, "new"), "10.244.2.0/24");
    ctrl_actions_clear (&acts);
    json_decref (nodes);
    nodeipam_clear (&s);
}

static void
release_on_delete_and_full (void **state)
{
    (void) state;
    nodeipam_t s;
    char err[256];
    /* a /29 cut in /30s: two subnets */
    assert_int_equal (nodeipam_init (&s, "192.168.5.0/29", 30, err, sizeof err), 0);
    json_t *nodes = json_pack ("[o,o,o]", node ("a", NULL), node ("b", NULL), node ("c", NULL));
    ctrl_actions_t acts = {0};
    nodeipam_reconcile (&s, nodes, 1000, &acts);
    assert_string_equal (patched (&acts, "a"), "192.168.5.0/30");
    assert_string_equal (patched (&acts, "b"), "192.168.5.4/30");
    assert_null (patched (&acts, "c"));
    assert_int_equal (events (&acts, "CIDRNotAvailable"), 1);
    for (size_t i = 0; i < acts.n; i++)
        if (acts.v[i].verb == TR_VERB_CREATE) {
            assert_string_equal (tv_str (acts.v[i].body, "involvedObject.name"), "c");
            assert_string_equal (tv_str (acts.v[i].body, "involvedObject.kind"), "Node");
        }
    apply (nodes, &acts);
    ctrl_actions_clear (&acts);
    /* still full: no second event */
    nodeipam_reconcile (&s, nodes, 2000, &acts);
    assert_int_equal (acts.n, 0);
    /* a deleted: its subnet goes to c */
    json_array_remove (nodes, 0);
    nodeipam_reconcile (&s, nodes, 3000, &acts);
    assert_int_equal (acts.n, 1);
    assert_string_equal (patched (&acts, "c"), "192.168.5.0/30");
    ctrl_actions_clear (&acts);
    /* a failed patch frees the subnet: c retried, the same subnet */
    nodeipam_failed (&s, "c");
    nodeipam_reconcile (&s, nodes, 4000, &acts);
    assert_string_equal (patched (&acts, "c"), "192.168.5.0/30");
    ctrl_actions_clear (&acts);
    /* a node deleted while its patch was in flight: forgotten, the subnet free */
    json_array_remove (nodes, 1);
    nodeipam_reconcile (&s, nodes, 5000, &acts);
    assert_int_equal (acts.n, 0);
    assert_int_equal (json_object_size (s.pending), 0);
    json_decref (nodes);
    nodeipam_clear (&s);
}

static void
next_after_last_and_terminating (void **state)
{
    (void) state;
    nodeipam_t s;
    char err[256];
    assert_int_equal (nodeipam_init (&s, "10.0.0.0/22", 24, err, sizeof err), 0);
    json_t *nodes = json_pack ("[o]", node ("a", NULL));
    ctrl_actions_t acts = {0};
    nodeipam_reconcile (&s, nodes, 0, &acts);
    assert_string_equal (patched (&acts, "a"), "10.0.0.0/24");
    ctrl_actions_clear (&acts);
    json_decref (nodes);
    /* a gone, b new: not a's subnet straight away */
    nodes = json_pack ("[o]", node ("b", NULL));
    nodeipam_reconcile (&s, nodes, 0, &acts);
    assert_string_equal (patched (&acts, "b"), "10.0.1.0/24");
    ctrl_actions_clear (&acts);
    json_decref (nodes);
    /* a Node being deleted gets none */
    nodes = json_pack ("[o]", node ("d", NULL));
    tv_set (json_array_get (nodes, 0), "metadata.deletionTimestamp", json_string ("2020-01-01T00:00:00Z"));
    nodeipam_reconcile (&s, nodes, 0, &acts);
    assert_int_equal (acts.n, 0);
    /* nodeipam_wants, which decides whether the controller runs a round, agrees with the round:
     * false for a Node being deleted, for one with spec.podCIDR and for one with only
     * spec.podCIDRs; true for one with neither */
    assert_false (nodeipam_wants (json_array_get (nodes, 0)));
    json_t *plain = node ("e", NULL), *with = node ("f", "10.0.2.0/24"), *list_only = node ("g", NULL);
    tv_set (list_only, "spec.podCIDRs", json_pack ("[s]", "10.0.3.0/24"));
    assert_true (nodeipam_wants (plain));
    assert_false (nodeipam_wants (with));
    assert_false (nodeipam_wants (list_only));
    json_t *round = json_pack ("[O,O,O]", plain, with, list_only);
    nodeipam_reconcile (&s, round, 0, &acts);
    assert_non_null (patched (&acts, "e"));
    assert_null (patched (&acts, "f"));
    assert_null (patched (&acts, "g"));
    ctrl_actions_clear (&acts);
    json_decref (round);
    json_decref (plain);
    json_decref (with);
    json_decref (list_only);
    json_decref (nodes);
    nodeipam_clear (&s);
}

static void
bad_settings (void **state)
{
    (void) state;
    nodeipam_t s;
    char err[256];
    assert_int_equal (nodeipam_init (&s, "10.244.0.1/16", 24, err, sizeof err), -1);
    assert_non_null (strstr (err, "clusterCIDR"));
    assert_int_equal (nodeipam_init (&s, "10.244.0.0", 24, err, sizeof err), -1);
    assert_int_equal (nodeipam_init (&s, "fd00::/64", 24, err, sizeof err), -1);
    assert_int_equal (nodeipam_init (&s, "10.244.0.0/16", 16, err, sizeof err), -1);
    assert_non_null (strstr (err, "nodeCIDRMaskSize"));
    assert_int_equal (nodeipam_init (&s, "10.0.0.0/8", 25, err, sizeof err), -1); /* 17 bits */
    assert_int_equal (nodeipam_init (&s, "10.0.0.0/8", 24, err, sizeof err), 0);
    nodeipam_clear (&s);
    uint32_t a;
    int b;
    assert_int_equal (nodeipam_parse ("10.1.2.3/24", &a, &b, 1), 0);
    assert_int_equal (a, 0x0a010200u);
    assert_int_equal (nodeipam_parse ("10.1.2.3/24", &a, &b, 0), -1);
    assert_int_equal (nodeipam_parse ("10.1.2.0/33", &a, &b, 1), -1);
    assert_int_equal (nodeipam_parse ("10.1.2.0/", &a, &b, 1), -1);
    assert_int_equal (nodeipam_parse ("10.1.2.0/-1", &a, &b, 1), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (allocates_distinct_subnets), cmocka_unit_test (restart_marks_taken),
        cmocka_unit_test (release_on_delete_and_full), cmocka_unit_test (next_after_last_and_terminating),
        cmocka_unit_test (bad_settings),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
