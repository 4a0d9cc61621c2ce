/* YAML loading/dumping and schema validation + defaulting against the built-in definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/schema.h"
#include "core/value.h"
#include "core/yaml.h"
#include "tests/unit/schema_fixture.h"

static json_t *
load1 (const char *text)
{
    char err[256];
    json_t *docs = tr_yaml_load (text, strlen (text), err, sizeof err);
    if (!docs)
        fail_msg ("yaml: %s", err);
    json_t *d = json_incref (json_array_get (docs, 0));
    json_decref (docs);
    return d;
}

static void
yaml_scalars_and_docs (void **state)
{
    (void) state;
    char err[256];
    const char *t = "a: 1\nb: 0x1f\nc: 1.5\nd: true\ne: ~\nf: '123'\ng: hello\nh: -.inf\ni: \"\"\nj: 0644\nk: '0644'\nl: 0\n---\n---\nx: [1, {y: z}]\n";
    json_t *docs = tr_yaml_load (t, strlen (t), err, sizeof err);
    assert_non_null (docs);
    assert_int_equal (json_array_size (docs), 2); /* the empty document is skipped */
    json_t *d = json_array_get (docs, 0);
    assert_int_equal (tv_int (d, "a", 0), 1);
    assert_int_equal (tv_int (d, "b", 0), 31);
    assert_true (json_is_real (tv_get (d, "c")));
    assert_true (json_is_true (tv_get (d, "d")));
    assert_true (json_is_null (tv_get (d, "e")));
    assert_string_equal (tv_str (d, "f"), "123");
    assert_string_equal (tv_str (d, "g"), "hello");
    assert_string_equal (tv_str (d, "i"), "");
    assert_int_equal (tv_int (d, "j", 0), 0644); /* YAML 1.1 octal, as kubectl reads file modes */
    assert_string_equal (tv_str (d, "k"), "0644");
    assert_int_equal (tv_int (d, "l", -1), 0);
    assert_string_equal (tv_str (json_array_get (tv_get (json_array_get (docs, 1), "x"), 1), "y"), "z");
    /* round trip: strings that look like other types stay strings */
    char *out = tr_yaml_dump (d);
    json_t *back = tr_yaml_load (out, strlen (out), err, sizeof err);
    assert_non_null (back);
    assert_true (json_equal (json_array_get (back, 0), d));
    free (out);
    json_decref (back);
    json_decref (docs);
}

static void
yaml_errors (void **state)
{
    (void) state;
    char err[256];
    const char *bad = "a: b: c\n";
    assert_null (tr_yaml_load (bad, strlen (bad), err, sizeof err));
    assert_non_null (strstr (err, "line 1"));
    assert_null (tr_yaml_load ("\x93\xff\x00garbage", 11, err, sizeof err));
    assert_non_null (strstr (err, "yaml"));
    assert_null (tr_yaml_load ("\x93\xff garbage", 10, err, sizeof err)); /* invalid UTF-8, no NUL */
    const char *dup = "a: 1\na: 2\n";
    assert_null (tr_yaml_load (dup, strlen (dup), err, sizeof err));
    assert_non_null (strstr (err, "duplicate key"));
    /* a billion laughs is refused, not expanded */
    const char *bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    assert_null (tr_yaml_load (bomb, strlen (bomb), err, sizeof err));
    assert_non_null (strstr (err, "too many nodes"));
    /* aliases within budget work */
    json_t *d = load1 ("base: &b {x: 1}\nuse: *b\n");
    assert_int_equal (tv_int (d, "use.x", 0), 1);
    json_decref (d);
}

static const char *deploy =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\n"
    "spec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
    "    spec:\n      containers:\n      - name: web\n        image: busybox\n        command: [sleep, '1000']\n"
    "        ports: [{containerPort: 80}]\n        resources: {requests: {cpu: 100m, memory: 64Mi}}\n";

static void
expect_invalid (const char *yaml, const char *needle)
{
    json_t *d = load1 (yaml);
    char err[512];
    schema_default (schemas, d);
    int rc = schema_validate (schemas, d, err, sizeof err);
    if (rc == 0)
        fail_msg ("accepted: %s", yaml);
    if (!strstr (err, needle))
        fail_msg ("error \"%s\" lacks \"%s\"", err, needle);
    json_decref (d);
}

static void
valid_and_defaults (void **state)
{
    (void) state;
    json_t *d = load1 (deploy);
    char err[512];
    assert_int_equal (schema_default (schemas, d), 0);
    if (schema_validate (schemas, d, err, sizeof err))
        fail_msg ("%s", err);
    assert_string_equal (tv_str (d, "spec.strategy.type"), "RollingUpdate");
    assert_string_equal (tv_str (d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
    assert_int_equal (tv_int (d, "spec.revisionHistoryLimit", -1), 10);
    assert_string_equal (tv_str (d, "spec.template.spec.restartPolicy"), "Always");
    assert_int_equal (tv_int (d, "spec.template.spec.terminationGracePeriodSeconds", -1), 30);
    json_t *c = json_array_get (tv_get (d, "spec.template.spec.containers"), 0);
    assert_string_equal (tv_str (json_array_get (tv_get (c, "ports"), 0), "protocol"), "TCP");
    json_decref (d);
    json_t *cm = load1 ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n");
    assert_int_equal (schema_validate (schemas, cm, err, sizeof err), 0);
    json_decref (cm);
}

static void
invalid (void **state)
{
    (void) state;
    expect_invalid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: -3, selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}\n",
                    "spec.replicas: Invalid value: -3: must be greater than or equal to 0");
    expect_invalid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: many, selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}\n",
                    "spec.replicas: Invalid type: expected integer, got string");
    expect_invalid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {containers: [{image: x}]}}}\n",
                    "spec.template.spec.containers[0].name: Required value");
    expect_invalid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replica: 2, selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}\n",
                    "spec.replica: unknown field");
    expect_invalid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c}]}}}\n",
                    "does not match template");
    expect_invalid ("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: [{name: c}]}\n",
                    "metadata.name: Invalid value: \"Bad_Name\"");
    expect_invalid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {restartPolicy: Sometimes, containers: [{name: c}]}\n",
                    "spec.restartPolicy: Unsupported value: \"Sometimes\"");
    expect_invalid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n", "spec.containers");
    expect_invalid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}\n",
                    "spec.containers[0].resources.requests.cpu");
    expect_invalid ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: [1]}\n", "data.k");
    expect_invalid ("apiVersion: v2\nkind: ConfigMap\nmetadata: {name: c}\n", "apiVersion");
    expect_invalid ("apiVersion: v1\nkind: Frobnicator\nmetadata: {name: c}\n", "unknown kind \"Frobnicator\"");
    expect_invalid ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n", "metadata.name: Required value");
}

/* The error of an invalid object, validated as loaded (no defaults). */
static void
first_error (const char *yaml, char *err, size_t errlen)
{
    json_t *d = load1 (yaml);
    err[0] = 0;
    assert_int_not_equal (schema_validate (schemas, d, err, errlen), 0);
    assert_true (err[0]);
    json_decref (d);
}

/* A valid object's own keys are walked, not its schema's (schema.c validate_props); an invalid
 * one is still reported as the schema-order walk finds it: the same error whatever the order of
 * the keys, at the top and nested, and an invalid known field before an unknown one. */
static void
errors_in_schema_order (void **state)
{
    (void) state;
    static const char *const pairs[][2] = {
        {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {restartPolicy: Sometimes, containers: [{name: c, "
         "resources: {requests: {cpu: lots}}}]}\n",
         "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {requests: {cpu: "
         "lots}}}], restartPolicy: Sometimes}\n"},
        {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, imagePullPolicy: Sometimes, "
         "resources: {requests: {cpu: lots}}}]}\n",
         "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{resources: {requests: {cpu: lots}}, "
         "imagePullPolicy: Sometimes, name: c}]}\n"},
        {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {bogus: 1, restartPolicy: Sometimes, containers: [{name: "
         "c}]}\n",
         "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}], restartPolicy: Sometimes, "
         "bogus: 1}\n"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char a[512], b[512];
        first_error (pairs[i][0], a, sizeof a);
        first_error (pairs[i][1], b, sizeof b);
        assert_string_equal (a, b);
    }
    /* which one: the known field's error, not the unknown field */
    char e[512];
    first_error (pairs[2][0], e, sizeof e);
    assert_non_null (strstr (e, "spec.restartPolicy: Unsupported value"));
    /* a required field missing is reported before a wrong one */
    first_error ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: x, imagePullPolicy: "
                 "Sometimes}]}\n",
                 e, sizeof e);
    assert_non_null (strstr (e, "spec.containers[0].name: Required value"));
}

static void
lookup (void **state)
{
    (void) state;
    const char *names[][2] = {{"po", "Pod"}, {"pods", "Pod"}, {"deploy", "Deployment"}, {"deployments.apps", "Deployment"},
                              {"rs", "ReplicaSet"}, {"cm", "ConfigMap"}, {"ns", "Namespace"}, {"no", "Node"},
                              {"ev", "Event"}, {"Lease", "Lease"}, {"secret", "Secret"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const schema_kind_t *k = schema_kind_lookup (schemas, names[i][0]);
        assert_non_null (k);
        assert_string_equal (schema_kind_name (k), names[i][1]);
    }
    assert_null (schema_kind_lookup (schemas, "widgets"));
    assert_false (schema_kind_namespaced (schema_kind_lookup (schemas, "Node")));
    assert_true (schema_kind_namespaced (schema_kind_lookup (schemas, "Pod")));
    assert_string_equal (schema_kind_api_version (schema_kind_lookup (schemas, "Deployment")), "apps/v1");
    /* the same definitions load from the folder */
    char err[256], dir[1024];
    snprintf (dir, sizeof dir, "%s/schema", getenv ("TROUPE_SRC") ? getenv ("TROUPE_SRC") : "..");
    schema_registry_t *r2 = schema_registry_load_dir (dir, err, sizeof err);
    assert_non_null (r2);
    assert_non_null (schema_kind_lookup (r2, "deploy"));
    schema_registry_destroy (&r2);
}

/* schema_validate_update: an update is checked where it differs from the stored object only
 * (ratcheting), down nested objects, never through arrays; a create checks everything. */
static void
update_ratchets_unchanged (void **state)
{
    (void) state;
    char err[512];
    json_t *prev = load1 ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                          "spec: {containers: [{name: c, image: busybox}], activeDeadlineSeconds: soon, priority: 3}\n");
    /* stored before a rule tightened: the create path refuses it, naming the field */
    assert_int_equal (schema_validate (schemas, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.activeDeadlineSeconds"));
    /* an update leaving spec.activeDeadlineSeconds as it was passes; a new bad value is refused by its path */
    json_t *next = json_deep_copy (prev);
    tv_set (next, "status", json_pack ("{s:s}", "phase", "Running"));
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("unchanged spec re-checked: %s", err);
    tv_set_str (next, "spec.priority", "high"); /* a changed sibling in the same object */
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.priority"));
    json_decref (next);
    next = json_deep_copy (prev);
    tv_set_int (next, "spec.nodeName", 5);
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.nodeName"));
    json_decref (next);
    /* nested: a changed sibling does not hide an unchanged bad field, a changed array is whole */
    next = json_deep_copy (prev);
    tv_set_int (next, "spec.priority", 4);
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("unchanged spec.activeDeadlineSeconds re-checked: %s", err);
    json_array_append_new (tv_get (next, "spec.containers"), json_pack ("{s:s,s:i}", "name", "d", "image", 5));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.containers[1].image"));
    json_decref (next);
    /* defaulting and canonical quantities: what changed is filled, what did not is left */
    json_t *old = load1 ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                         "spec: {containers: [{name: c, image: busybox, resources: {requests: {cpu: 1000m}}}]}\n");
    next = json_deep_copy (old);
    assert_int_equal (schema_default_update (schemas, next, old), 0);
    assert_null (tv_get (next, "spec.restartPolicy"));
    assert_string_equal (tv_str (json_array_get (tv_get (next, "spec.containers"), 0), "resources.requests.cpu"), "1000m");
    tv_set_str (next, "spec.hostname", "h");
    assert_int_equal (schema_default_update (schemas, next, old), 0);
    assert_string_equal (tv_str (next, "spec.restartPolicy"), "Always");
    assert_string_equal (tv_str (json_array_get (tv_get (next, "spec.containers"), 0), "resources.requests.cpu"), "1000m");
    tv_set_str (json_array_get (tv_get (next, "spec.containers"), 0), "image", "busybox:1"); /* the array changed */
    assert_int_equal (schema_default_update (schemas, next, old), 0);
    assert_string_equal (tv_str (json_array_get (tv_get (next, "spec.containers"), 0), "resources.requests.cpu"), "1");
    json_decref (next);
    json_decref (old);
    /* NULL prev: a create */
    assert_int_equal (schema_validate_update (schemas, prev, NULL, err, sizeof err), -1);
    json_decref (prev);
}

/* The rules across a pod spec (pod_spec_rules), allowedValues, the selector check and metadata
 * run on what an update changed. The stored objects here break today's rules (as if written
 * before a rule tightened; a create refuses each): a status update or a binding, which leave what
 * is broken as it was, is accepted, as Kubernetes' ValidatePodStatusUpdate (metadata and status,
 * not the spec) and BindingREST (no pod validation at all) accept it; a change of the broken part
 * is refused by its path. */
static void
update_rules_on_what_changed (void **state)
{
    (void) state;
    char err[512];
    json_t *prev = load1 ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {bad: '-x-'}}\n"
                          "spec:\n  containers: [{name: c, image: busybox, readinessProbe: {exec: {command: [t]}, "
                          "httpGet: {port: 80}}}]\n"
                          "  initContainers: [{name: i, image: busybox}]\n"
                          "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
                          "[{matchExpressions: [{key: zone, operator: In}]}]}}}\n");
    assert_int_equal (schema_validate (schemas, prev, err, sizeof err), -1); /* the label, first */
    json_t *fixed = json_deep_copy (prev);
    tv_set_str (fixed, "metadata.labels.bad", "x");
    assert_int_equal (schema_validate (schemas, fixed, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                                  ".matchExpressions[0].values: Required value"));
    json_object_del (json_object_get (fixed, "spec"), "affinity");
    assert_int_equal (schema_validate (schemas, fixed, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.containers[0].readinessProbe: Forbidden: may not specify more than 1 handler type"));
    json_decref (fixed);
    /* a status update (as the broker builds it: a new root and metadata, spec shared) */
    json_t *next = json_copy (prev);
    tv_unshare (next, "metadata");
    tv_set (next, "status", json_pack ("{s:s}", "phase", "Running"));
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("a status update re-checked what it did not change: %s", err);
    /* (b) a status that is not a map is refused, by its path */
    tv_set (next, "status", json_string ("Running"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "status: Invalid type: expected object, got string");
    json_decref (next);
    /* a binding: spec.nodeName changes, containers and affinity are the stored ones */
    next = json_copy (prev);
    tv_unshare (next, "spec");
    tv_set_str (next, "spec.nodeName", "n1");
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("a binding re-checked the spec's rules: %s", err);
    tv_set_int (next, "spec.nodeName", 1); /* what changed is still validated */
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.nodeName: Invalid type: expected string, got integer");
    json_decref (next);
    /* (a) a change of the spec runs the rules of what it changed: its path in the error */
    next = json_deep_copy (prev);
    tv_set_str (json_array_get (tv_get (next, "spec.containers"), 0), "image", "busybox:2");
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.containers[0].readinessProbe: Forbidden: may not specify more than 1 handler type"));
    json_decref (next);
    next = json_deep_copy (prev);
    json_object_set_new (json_array_get (tv_get (next, "spec.initContainers"), 0), "livenessProbe",
                         json_pack ("{s:{s:[s]}}", "exec", "command", "t"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers");
    json_object_del (json_array_get (tv_get (next, "spec.initContainers"), 0), "livenessProbe");
    tv_set_str (json_array_get (tv_get (next, "spec.initContainers"), 0), "name", "c"); /* against the stored containers */
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.initContainers[0].name: Duplicate value: \"c\"");
    json_decref (next);
    next = json_deep_copy (prev);
    tv_set (next, "spec.topologySpreadConstraints",
            json_pack ("[{s:i,s:s,s:s}]", "maxSkew", 1, "topologyKey", "", "whenUnsatisfiable", "DoNotSchedule"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty");
    json_decref (next);
    next = json_deep_copy (prev);
    json_array_append_new (tv_get (next, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"),
                           json_pack ("{s:[{s:s,s:s}]}", "matchExpressions", "key", "k", "operator", "Exists"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "nodeSelectorTerms[0].matchExpressions[0].values: Required value"));
    json_decref (next);
    /* metadata: unchanged labels are not walked again; changed ones are, whole (a map, as
     * Kubernetes' ValidateLabels on every update); a missing required property is still named
     * while another one changed */
    next = json_copy (prev);
    json_t *meta = tv_unshare (next, "metadata");
    json_object_set_new (meta, "annotations", json_pack ("{s:s}", "a", "b"));
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("unchanged labels re-checked: %s", err);
    json_object_set_new (meta, "annotations", json_pack ("{s:i}", "a", 1));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "metadata.annotations.a: Invalid type: expected string, got integer");
    json_object_del (meta, "annotations");
    json_object_set_new (meta, "labels", json_pack ("{s:s,s:s}", "bad", "-x-", "new", "ok"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "metadata.labels.bad: Invalid value: \"-x-\""));
    json_object_set_new (meta, "labels", json_incref (tv_get (prev, "metadata.labels")));
    json_object_set_new (meta, "generation", json_string ("two"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "metadata.generation: Invalid type: expected integer, got string");
    json_decref (next);
    next = json_copy (prev);
    json_t *spec = tv_unshare (next, "spec");
    json_object_del (spec, "containers");
    json_object_set_new (spec, "nodeName", json_string ("n1"));
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.containers: Required value");
    json_object_set_new (spec, "containers", json_incref (tv_get (prev, "spec.containers")));
    json_object_set_new (spec, "bogus", json_true ()); /* an unknown field beside a changed one */
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.bogus: unknown field");
    json_object_set_new (spec, "nodeName", json_integer (3)); /* the changed field's error comes first */
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_string_equal (err, "spec.nodeName: Invalid type: expected string, got integer");
    json_decref (next);
    json_decref (prev);
    /* a workload: allowedValues and the selector check on what changed */
    prev = load1 ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
                  "spec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: a}}, "
                  "spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n");
    assert_int_equal (schema_validate (schemas, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.template.spec.restartPolicy: Unsupported value"));
    next = json_copy (prev);
    tv_set (next, "status", json_pack ("{s:i}", "replicas", 1));
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("a status update re-checked allowedValues: %s", err);
    json_decref (next);
    next = json_deep_copy (prev);
    tv_set_int (next, "spec.replicas", 3); /* restartPolicy unchanged: passes */
    if (schema_validate_update (schemas, next, prev, err, sizeof err))
        fail_msg ("an unchanged restartPolicy re-checked: %s", err);
    tv_set_str (next, "spec.template.metadata.labels.app", "b"); /* the selector check on a changed spec */
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.template.metadata.labels: Invalid value"));
    tv_set_str (next, "spec.template.metadata.labels.app", "a");
    tv_set_str (next, "spec.template.spec.restartPolicy", "OnFailure");
    assert_int_equal (schema_validate_update (schemas, next, prev, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\""));
    json_decref (next);
    json_decref (prev);
}

/* schema_default_update on a new version sharing subtrees with the stored one (as the broker's
 * patches build it: tv_*_patch_new) writes only into its own parts: the stored object is left as
 * it was, even where it is not in canonical form (stored before a rule) */
static void
update_leaves_shared_alone (void **state)
{
    (void) state;
    json_t *prev = load1 ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, ownerReferences: [{kind: ReplicaSet, name: r, uid: u}]}\n"
                          "spec: {containers: [{name: c, image: busybox, resources: {requests: {cpu: 1000m}}}]}\n"
                          "status: {conditions: [{type: Ready, status: 'False'}]}\n");
    json_t *snap = json_deep_copy (prev);
    /* a status patch: the conditions list is new, its Ready element is prev's */
    json_t *patch = json_pack ("{s:{s:[{s:s,s:s}]}}", "status", "conditions", "type", "PodScheduled", "status", "True");
    json_t *next = tv_strategic_patch_new (prev, patch);
    tv_unshare (next, "metadata");
    assert_int_equal (schema_default_update (schemas, next, prev), 0);
    assert_true (json_equal (prev, snap));
    json_decref (next);
    json_decref (patch);
    /* a container added: the array is new, the first container is prev's and stays as it is */
    next = json_copy (prev);
    json_t *spec = tv_unshare (next, "spec"), *cs = json_copy (json_object_get (spec, "containers"));
    json_array_append_new (cs, json_pack ("{s:s,s:s,s:{s:{s:s}}}", "name", "d", "image", "x", "resources", "requests", "cpu", "0.5"));
    json_object_set_new (spec, "containers", cs);
    assert_int_equal (schema_default_update (schemas, next, prev), 0);
    assert_true (json_equal (prev, snap));
    assert_ptr_equal (json_array_get (cs, 0), json_array_get (tv_get (prev, "spec.containers"), 0));
    assert_string_equal (tv_str (json_array_get (cs, 1), "resources.requests.cpu"), "500m");
    json_decref (next);
    json_decref (prev);
    json_decref (snap);
    /* a Secret's stringData goes into a copy of the stored data map */
    prev = load1 ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==}\n");
    snap = json_deep_copy (prev);
    patch = json_pack ("{s:{s:s}}", "stringData", "b", "x");
    next = tv_merge_patch_new (prev, patch);
    assert_int_equal (schema_default_update (schemas, next, prev), 0);
    assert_string_equal (tv_str (next, "data.b"), "eA==");
    assert_string_equal (tv_str (next, "data.a"), "YQ==");
    assert_null (tv_get (next, "stringData"));
    assert_true (json_equal (prev, snap));
    json_decref (next);
    json_decref (patch);
    json_decref (prev);
    json_decref (snap);
}

/* Kubernetes' ValidatePodDisruptionBudgetSpec: one bound at most, each a non-negative integer or
 * a percent string of at most 100%, a valid selector; errors name the field path. */
static void
pdb_validation (void **state)
{
    (void) state;
    static const struct {
        const char *spec;
        const char *err; /* NULL: accepted */
    } cases[] = {
        {"{minAvailable: 2, selector: {matchLabels: {app: web}}}", NULL},
        {"{minAvailable: 0}", NULL},
        {"{minAvailable: '50%', selector: {}}", NULL},
        {"{maxUnavailable: '100%'}", NULL},
        {"{maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow}", NULL},
        {"{selector: {matchLabels: {app: web}}}", NULL},
        {"{minAvailable: 1, maxUnavailable: 1}", "spec: Invalid value: "},
        {"{minAvailable: 1, maxUnavailable: 1}", "minAvailable and maxUnavailable cannot be both set"},
        {"{minAvailable: -1}", "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"},
        {"{maxUnavailable: -2}", "spec.maxUnavailable: Invalid value: -2: must be greater than or equal to 0"},
        {"{minAvailable: 'abc'}", "spec.minAvailable: Invalid value: \"abc\": a valid percent string must be a numeric string followed by an ending '%'"},
        {"{minAvailable: '2'}", "spec.minAvailable: Invalid value: \"2\": a valid percent string"},
        {"{maxUnavailable: '%'}", "spec.maxUnavailable: Invalid value: \"%\": a valid percent string"},
        {"{maxUnavailable: '-5%'}", "spec.maxUnavailable: Invalid value: \"-5%\": a valid percent string"},
        {"{maxUnavailable: '1.5%'}", "spec.maxUnavailable: Invalid value: \"1.5%\": a valid percent string"},
        {"{minAvailable: '101%'}", "spec.minAvailable: Invalid value: \"101%\": must not be greater than 100%"},
        {"{maxUnavailable: '1000%'}", "spec.maxUnavailable: Invalid value: \"1000%\": must not be greater than 100%"},
        {"{minAvailable: 1.5}", "spec.minAvailable"},
        {"{selector: {matchExpressions: [{key: app, operator: In}]}}",
         "spec.selector.matchExpressions[0].values: Required value"},
        {"{selector: {matchExpressions: [{key: app, operator: Exists, values: [a]}]}}",
         "spec.selector.matchExpressions[0].values: Forbidden"},
        {"{selector: {matchLabels: {app: 'bad value!'}}}", "spec.selector"},
        {"{unhealthyPodEvictionPolicy: Sometimes}", "spec.unhealthyPodEvictionPolicy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char y[600], err[512];
        snprintf (y, sizeof y, "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p, namespace: default}\nspec: %s\n",
                  cases[i].spec);
        if (!cases[i].err) {
            json_t *d = load1 (y);
            schema_default (schemas, d);
            if (schema_validate (schemas, d, err, sizeof err))
                fail_msg ("case %zu refused: %s", i, err);
            json_decref (d);
        } else
            expect_invalid (y, cases[i].err);
    }
}

/* The schema is compiled once (core/schema_node.h): a kind with many fields (the property table's
 * probes), a recursive definition, a chain of references carrying a default and "required". Each
 * field is found and checked, an unknown one refused, the recursion walked to depth. */
static void
compiled_schema (void **state)
{
    (void) state;
    char dir[] = "/tmp/troupe-schema-XXXXXX", path[1100], err[512];
    assert_non_null (mkdtemp (dir));
    snprintf (path, sizeof path, "%s/defs.yaml", dir);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs ("definitions:\n"
           "  ObjectMeta: {type: object, properties: {name: {type: string, format: dns-subdomain}}}\n"
           "  Tree:\n"
           "    type: object\n"
           "    properties:\n"
           "      name: {type: string, required: true}\n"
           "      children: {type: array, items: {type: ref, ref: Tree}}\n"
           "  Size: {type: ref, ref: Size2}\n"
           "  Size2: {type: integer, minimum: 1, default: 3}\n", f);
    fclose (f);
    snprintf (path, sizeof path, "%s/widget.yaml", dir);
    assert_non_null (f = fopen (path, "w"));
    fputs ("apiVersion: example.com/v1\nkind: Widget\nplural: widgets\nfields:\n  spec:\n    type: object\n"
           "    properties:\n      tree: {type: ref, ref: Tree}\n      size: {type: ref, ref: Size}\n"
           "      want: {type: ref, ref: Size, required: true}\n", f);
    for (int i = 0; i < 40; i++)
        fprintf (f, "      f%d: {type: %s}\n", i, i % 2 ? "integer" : "string");
    fclose (f);
    schema_registry_t *r = schema_registry_load_dir (dir, err, sizeof err);
    assert_non_null (r);
    /* every field found: each with its own type */
    for (int i = 0; i < 40; i++) {
        char y[300];
        snprintf (y, sizeof y, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {want: 1, f%d: %s}\n", i,
                  i % 2 ? "7" : "seven");
        json_t *d = load1 (y);
        if (schema_validate (r, d, err, sizeof err))
            fail_msg ("f%d refused: %s", i, err);
        json_decref (d);
        snprintf (y, sizeof y, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {want: 1, f%d: %s}\n", i,
                  i % 2 ? "seven" : "[7]");
        d = load1 (y);
        assert_int_equal (schema_validate (r, d, err, sizeof err), -1);
        char want[64];
        snprintf (want, sizeof want, "spec.f%d: Invalid type: expected %s", i, i % 2 ? "integer" : "string");
        if (!strstr (err, want))
            fail_msg ("f%d: %s", i, err);
        json_decref (d);
    }
    json_t *d = load1 ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {want: 1, f40: x}\n");
    assert_int_equal (schema_validate (r, d, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.f40: unknown field"));
    json_decref (d);
    /* required through a reference; the default through two */
    d = load1 ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {f0: x}\n");
    assert_int_equal (schema_validate (r, d, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.want: Required value"));
    schema_default (r, d);
    assert_int_equal (json_integer_value (tv_get (d, "spec.size")), 3);
    assert_int_equal (json_integer_value (tv_get (d, "spec.want")), 3);
    json_decref (d);
    d = load1 ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {want: 0}\n");
    assert_int_equal (schema_validate (r, d, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.want: Invalid value: 0: must be greater than or equal to 1"));
    json_decref (d);
    /* the recursive definition, three levels down */
    d = load1 ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {want: 1, tree: {name: a, children: "
               "[{name: b}, {name: c, children: [{name: d}, {name: e, children: [{name: 5}]}]}]}}\n");
    assert_int_equal (schema_validate (r, d, err, sizeof err), -1);
    assert_non_null (strstr (err, "spec.tree.children[1].children[1].children[0].name: Invalid type: expected string"));
    json_t *leaf = tv_get (d, "spec.tree");
    for (int i = 0; i < 3; i++) /* children[1].children[1].children[0] */
        leaf = json_array_get (json_object_get (leaf, "children"), i < 2 ? 1 : 0);
    assert_non_null (leaf);
    json_object_set_new (leaf, "name", json_string ("f"));
    if (schema_validate (r, d, err, sizeof err))
        fail_msg ("tree refused: %s", err);
    json_decref (d);
    schema_registry_destroy (&r);
    snprintf (path, sizeof path, "%s/defs.yaml", dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/widget.yaml", dir);
    unlink (path);
    rmdir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (yaml_scalars_and_docs), cmocka_unit_test (yaml_errors), cmocka_unit_test (valid_and_defaults),
        cmocka_unit_test (invalid), cmocka_unit_test (errors_in_schema_order), cmocka_unit_test (lookup), cmocka_unit_test (update_ratchets_unchanged),
        cmocka_unit_test (update_rules_on_what_changed),
        cmocka_unit_test (update_leaves_shared_alone), cmocka_unit_test (pdb_validation), cmocka_unit_test (compiled_schema),
    };
    return cmocka_run_group_tests (tests, schema_fixture_setup, schema_fixture_teardown);
}
