/* Static pods from a folder, pure (actors/manifests/manifests.h): which files are read; a Pod
 * manifest becomes NAME-NODE in its namespace (default "default"), bound to the node, with the
 * config annotations, store-assigned fields dropped; several documents and a List; a Deployment,
 * a kindless document, a nameless pod and bad YAML refused with a message naming the file; the
 * hash ignores formatting but follows content; reconcile creates what is missing, replaces a
 * changed pod (delete now, create once it is gone), deletes a pod whose manifest went away, waits
 * for terminating pods, leaves pods that are not static alone, and does nothing when in step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/manifests/manifests.h"
#include "core/value.h"

static const char *POD_A = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\n"
                           "  uid: stale-uid\n  resourceVersion: \"7\"\n"
                           "spec:\n  containers:\n  - name: c\n    image: busybox\n    command: [sh, -c, 'sleep 1']\n"
                           "status: {phase: Running}\n";

static json_t *
parse (const char *text, const char *node)
{
    char err[600] = "";
    json_t *p = manifests_from_text (text, strlen (text), "dir/x.yaml", node, err, sizeof err);
    if (!p)
        fail_msg ("unexpected refusal: %s", err);
    return p;
}

static void
refused (const char *text, const char *want)
{
    char err[600] = "";
    json_t *p = manifests_from_text (text, strlen (text), "dir/bad.yaml", "n1", err, sizeof err);
    assert_null (p);
    assert_non_null (strstr (err, "dir/bad.yaml"));
    if (!strstr (err, want))
        fail_msg ("error \"%s\" does not say \"%s\"", err, want);
}

static const char *
ann (const json_t *pod, const char *key)
{
    return json_string_value (json_object_get (tv_get (pod, "metadata.annotations"), key));
}

static void
files_read (void **state)
{
    (void) state;
    assert_true (manifests_wanted_file ("web.yaml"));
    assert_true (manifests_wanted_file ("web.yml"));
    assert_true (manifests_wanted_file ("web.json"));
    assert_false (manifests_wanted_file (".web.yaml"));
    assert_false (manifests_wanted_file (".web.yaml.swp"));
    assert_false (manifests_wanted_file ("web.yaml~"));
    assert_false (manifests_wanted_file ("README.md"));
    assert_false (manifests_wanted_file (".yaml"));
    assert_false (manifests_wanted_file (""));
}

static void
pod_becomes_static (void **state)
{
    (void) state;
    json_t *ps = parse (POD_A, "Node1");
    assert_int_equal (json_array_size (ps), 1);
    json_t *p = json_array_get (ps, 0);
    assert_string_equal (tv_str (p, "metadata.name"), "web-node1");
    assert_string_equal (tv_str (p, "metadata.namespace"), "default");
    assert_string_equal (tv_str (p, "spec.nodeName"), "Node1");
    assert_string_equal (tv_str (p, "metadata.labels.app"), "web");
    assert_string_equal (ann (p, MANIFESTS_SOURCE_ANN), "file");
    assert_int_equal (strlen (ann (p, MANIFESTS_HASH_ANN)), 16);
    assert_string_equal (ann (p, MANIFESTS_HASH_ANN), ann (p, MANIFESTS_MIRROR_ANN));
    assert_null (tv_get (p, "metadata.uid"));
    assert_null (tv_get (p, "metadata.resourceVersion"));
    assert_null (tv_get (p, "status"));
    assert_true (manifests_is_static (p));
    /* the same content written otherwise hashes the same; other content does not */
    json_t *same = parse ("{\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": {\"resourceVersion\": \"7\", \"uid\": "
                          "\"stale-uid\", \"labels\": {\"app\": \"web\"}, \"name\": \"web\"}, \"status\": {\"phase\": "
                          "\"Running\"}, \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"busybox\", "
                          "\"command\": [\"sh\", \"-c\", \"sleep 1\"]}]}}",
                          "Node1");
    assert_string_equal (ann (json_array_get (same, 0), MANIFESTS_HASH_ANN), ann (p, MANIFESTS_HASH_ANN));
    char *edited = strdup (POD_A);
    strstr (edited, "sleep 1")[6] = '2';
    json_t *other = parse (edited, "Node1");
    assert_string_not_equal (ann (json_array_get (other, 0), MANIFESTS_HASH_ANN), ann (p, MANIFESTS_HASH_ANN));
    free (edited);
    json_decref (same);
    json_decref (other);
    json_decref (ps);
}

static void
documents_and_lists (void **state)
{
    (void) state;
    json_t *ps = parse ("kind: Pod\nmetadata: {name: a, namespace: tools}\nspec: {containers: [{name: c, image: x}]}\n"
                        "---\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: x}]}\n---\n",
                        "n1");
    assert_int_equal (json_array_size (ps), 2);
    assert_string_equal (tv_str (json_array_get (ps, 0), "metadata.namespace"), "tools");
    assert_string_equal (tv_str (json_array_get (ps, 0), "metadata.name"), "a-n1");
    assert_string_equal (tv_str (json_array_get (ps, 1), "metadata.name"), "b-n1");
    json_decref (ps);
    ps = parse ("apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n  spec: {containers: [{name: c, "
                "image: x}]}\n",
                "n1");
    assert_int_equal (json_array_size (ps), 1);
    assert_string_equal (tv_str (json_array_get (ps, 0), "metadata.name"), "a-n1");
    json_decref (ps);
    ps = parse ("", "n1");
    assert_int_equal (json_array_size (ps), 0);
    json_decref (ps);
}

static void
refusals (void **state)
{
    (void) state;
    refused ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n",
             "kind Deployment is not run: static pods are Pods only");
    /* one bad document refuses the whole file (its good pods too) */
    refused ("kind: Pod\nmetadata: {name: a}\nspec: {}\n---\nkind: Service\nmetadata: {name: s}\n", "kind Service");
    refused ("metadata: {name: a}\n", "kind (none)");
    refused ("kind: Pod\nmetadata: {labels: {a: b}}\nspec: {}\n", "metadata.name: Required value");
    refused ("kind: Pod\nmetadata: {name: [unclosed\n", "dir/bad.yaml: ");
    char longname[300];
    memset (longname, 'a', 251);
    longname[251] = 0;
    char text[400];
    snprintf (text, sizeof text, "kind: Pod\nmetadata: {name: %.251s}\nspec: {}\n", longname);
    refused (text, "longer than 253");
}

/* a store pod as the informer has it: the desired pod plus what the store adds */
static json_t *
stored (const json_t *desired, const char *uid, int terminating)
{
    json_t *p = json_deep_copy (desired);
    json_object_set_new (json_object_get (p, "metadata"), "uid", json_string (uid));
    if (terminating)
        json_object_set_new (json_object_get (p, "metadata"), "deletionTimestamp", json_string ("2030-01-01T00:00:00Z"));
    return p;
}

static json_t *
desired_of (json_t *pods)
{
    json_t *d = json_object ();
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p) {
        char key[600];
        snprintf (key, sizeof key, "%s/%s", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
        json_object_set (d, key, p);
    }
    return d;
}

static void
reconcile_cases (void **state)
{
    (void) state;
    json_t *ps = parse ("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n---\n"
                        "kind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: x}]}\n",
                        "n1");
    json_t *want = desired_of (ps);
    json_t *obs = json_array ();
    ctrl_actions_t acts = {0};
    /* nothing in the store: both created, with the desired body */
    manifests_reconcile (want, obs, &acts);
    assert_int_equal (acts.n, 2);
    for (size_t i = 0; i < acts.n; i++) {
        assert_int_equal (acts.v[i].verb, TR_VERB_CREATE);
        assert_string_equal (acts.v[i].kind, "Pod");
        assert_string_equal (acts.v[i].ns, "default");
        assert_string_equal (acts.v[i].owner, "new");
        assert_true (json_equal (acts.v[i].body, json_object_get (want, acts.v[i].name[0] == 'a' ? "default/a-n1" : "default/b-n1")));
    }
    ctrl_actions_clear (&acts);
    /* in step: nothing */
    json_array_append_new (obs, stored (json_array_get (ps, 0), "u1", 0));
    json_array_append_new (obs, stored (json_array_get (ps, 1), "u2", 0));
    manifests_reconcile (want, obs, &acts);
    assert_int_equal (acts.n, 0);
    /* a's manifest changed: a deleted (not created: the name is still taken) */
    json_t *ps2 = parse ("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: y}]}\n---\n"
                         "kind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: x}]}\n",
                         "n1");
    json_t *want2 = desired_of (ps2);
    manifests_reconcile (want2, obs, &acts);
    assert_int_equal (acts.n, 1);
    assert_int_equal (acts.v[0].verb, TR_VERB_DELETE);
    assert_string_equal (acts.v[0].name, "a-n1");
    assert_string_equal (acts.v[0].owner, "changed");
    ctrl_actions_clear (&acts);
    /* while it terminates: nothing; once gone: the new a created */
    json_array_set_new (obs, 0, stored (json_array_get (ps, 0), "u1", 1));
    manifests_reconcile (want2, obs, &acts);
    assert_int_equal (acts.n, 0);
    json_array_remove (obs, 0);
    manifests_reconcile (want2, obs, &acts);
    assert_int_equal (acts.n, 1);
    assert_int_equal (acts.v[0].verb, TR_VERB_CREATE);
    assert_string_equal (tv_str (json_array_get (tv_get (acts.v[0].body, "spec.containers"), 0), "image"), "y");
    ctrl_actions_clear (&acts);
    /* b's file removed: b deleted; a pod not from a file is left alone, even under a static pod's name */
    json_t *only_a = json_object ();
    json_object_set (only_a, "default/a-n1", json_object_get (want2, "default/a-n1"));
    json_array_append_new (obs, stored (json_object_get (want2, "default/a-n1"), "u3", 0));
    json_t *mine = json_pack ("{s:s,s:{s:s,s:s,s:s},s:{s:s}}", "kind", "Pod", "metadata", "name", "other", "namespace",
                              "default", "uid", "u9", "spec", "nodeName", "n1");
    json_array_append_new (obs, mine);
    json_t *taken = json_pack ("{s:s,s:{s:s,s:s,s:s},s:{s:s}}", "kind", "Pod", "metadata", "name", "c-n1", "namespace",
                               "default", "uid", "u8", "spec", "nodeName", "n1");
    json_array_append_new (obs, taken);
    json_t *c = parse ("kind: Pod\nmetadata: {name: c}\nspec: {containers: [{name: c, image: x}]}\n", "n1");
    json_object_set (only_a, "default/c-n1", json_array_get (c, 0));
    manifests_reconcile (only_a, obs, &acts);
    assert_int_equal (acts.n, 1);
    assert_int_equal (acts.v[0].verb, TR_VERB_DELETE);
    assert_string_equal (acts.v[0].name, "b-n1");
    assert_string_equal (acts.v[0].owner, "removed");
    ctrl_actions_clear (&acts);
    json_decref (c);
    json_decref (only_a);
    json_decref (want2);
    json_decref (ps2);
    json_decref (obs);
    json_decref (want);
    json_decref (ps);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (files_read),       cmocka_unit_test (pod_becomes_static), cmocka_unit_test (documents_and_lists),
        cmocka_unit_test (refusals),         cmocka_unit_test (reconcile_cases),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
