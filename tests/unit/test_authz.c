/* authz: the pure authoriser against docs/roles.md (every role × resource × verb cell), the node
 * authorizer's Secret/ConfigMap relations, the api-server's Forbidden messages, verb mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/authz.h"
#include "core/value.h"

/* ---- fixture: pods bound to n1 and n2 in "default" ------------------------------------------ */

static json_t *all_pods;

static json_t *
pod (const char *name, const char *node, const char *spec_extra_json)
{
    char err[200];
    json_error_t je;
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind", "Pod", "metadata",
                           "name", name, "namespace", "default", "spec", "nodeName", node, "containers", "name", "c",
                           "image", "x");
    if (spec_extra_json) {
        json_t *extra = json_loads (spec_extra_json, 0, &je);
        if (!extra)
            fail_msg ("bad fixture json: %s", je.text);
        json_object_update (json_object_get (p, "spec"), extra);
        json_decref (extra);
    }
    (void) err;
    return p;
}

static json_t *
lookup_pods (void *arg, const char *node, const char *ns)
{
    int *calls = arg;
    if (calls)
        (*calls)++;
    json_t *out = json_array ();
    size_t i;
    json_t *p;
    json_array_foreach (all_pods, i, p) if (!strcmp (tv_str (p, "spec.nodeName"), node) &&
                                            (!*ns || !strcmp (tv_str (p, "metadata.namespace"), ns)))
        json_array_append (out, p);
    return out;
}

static int
setup (void **state)
{
    (void) state;
    all_pods = json_array ();
    json_array_append_new (all_pods, pod ("p1", "n1",
                                          "{\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s-used\"}},"
                                          "{\"name\":\"c\",\"configMap\":{\"name\":\"cm-used\"}}]}"));
    json_array_append_new (all_pods, pod ("p2", "n2",
                                          "{\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s-other\"}},"
                                          "{\"name\":\"c\",\"configMap\":{\"name\":\"cm-other\"}}]}"));
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    json_decref (all_pods);
    return 0;
}

/* ---- the table in docs/roles.md ------------------------------------------------------------- */

typedef struct {
    char role[1024], resource[1024], verb[16], cell[1024];
} cell_t;

static int
parse_roles_md (cell_t *cells, int max)
{
    const char *src = getenv ("TROUPE_SRC");
    char path[1024];
    snprintf (path, sizeof path, "%s/docs/roles.md", src ? src : ".");
    FILE *f = fopen (path, "r");
    if (!f)
        fail_msg ("cannot open %s (TROUPE_SRC=%s)", path, src ? src : "unset");
    char line[1024], role[1024] = "", verbs[8][16];
    int nverbs = 0, n = 0;
    while (fgets (line, sizeof line, f)) {
        line[strcspn (line, "\n")] = 0;
        if (!strncmp (line, "## ", 3)) {
            snprintf (role, sizeof role, "%s", line + 3);
            nverbs = 0;
            continue;
        }
        if (line[0] != '|' || !role[0])
            continue;
        char *cols[10];
        int nc = 0;
        char *save = NULL;
        for (char *t = strtok_r (line, "|", &save); t && nc < 10; t = strtok_r (NULL, "|", &save)) {
            while (*t == ' ')
                t++;
            char *e = t + strlen (t);
            while (e > t && e[-1] == ' ')
                *--e = 0;
            cols[nc++] = t;
        }
        if (nc < 2)
            continue;
        if (!strcmp (cols[0], "resource")) {
            nverbs = 0;
            for (int i = 1; i < nc && nverbs < 8; i++)
                snprintf (verbs[nverbs++], 16, "%.15s", cols[i]);
            continue;
        }
        if (!strncmp (cols[0], "---", 3) || !nverbs)
            continue;
        assert_int_equal (nc - 1, nverbs);
        for (int i = 1; i < nc && n < max; i++, n++) {
            snprintf (cells[n].role, sizeof cells[n].role, "%s", role);
            snprintf (cells[n].resource, sizeof cells[n].resource, "%s", cols[0]);
            snprintf (cells[n].verb, sizeof cells[n].verb, "%.15s", verbs[i - 1]);
            snprintf (cells[n].cell, sizeof cells[n].cell, "%s", cols[i]);
        }
    }
    fclose (f);
    return n;
}

static const char *
kind_of_plural (const char *plural)
{
    static const char *const map[][2] = {
        {"namespaces", "Namespace"}, {"pods", "Pod"},         {"replicasets", "ReplicaSet"}, {"deployments", "Deployment"},
        {"nodes", "Node"},           {"configmaps", "ConfigMap"}, {"secrets", "Secret"},    {"events", "Event"},
        {"leases", "Lease"},         {"services", "Service"}, {"priorityclasses", "PriorityClass"}, {"endpointslices", "EndpointSlice"},
        {"poddisruptionbudgets", "PodDisruptionBudget"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp (map[i][0], plural))
            return map[i][1];
    fail_msg ("docs/roles.md names an unknown resource \"%s\"", plural);
    return NULL;
}

/* A request for resource/verb by node n1 (the identity for every role), on an object that is
 * n1's own (own=1) or related to n2 only (own=0). The objects live as long as the test: leaked
 * into keep. */
static az_request_t
request_for (role_t role, const char *resource, const char *verb, int own, json_t *keep)
{
    char plural[64];
    snprintf (plural, sizeof plural, "%s", resource);
    char *slash = strchr (plural, '/');
    const char *sub = "";
    if (slash) {
        *slash = 0;
        sub = resource + (slash - plural) + 1;
    }
    const char *kind = kind_of_plural (plural);
    az_request_t q = {.role = role, .user = "n1", .verb = verb, .kind = kind, .subresource = sub, .ns = "default"};
    int collection = !strcmp (verb, "list") || !strcmp (verb, "watch");
    const char *who = own ? "n1" : "n2";
    json_t *obj = NULL;
    if (!strcmp (plural, "nodes")) {
        q.ns = "";
        q.name = who;
        obj = json_pack ("{s:s,s:{s:s}}", "kind", "Node", "metadata", "name", who);
    } else if (!strcmp (plural, "priorityclasses")) {
        q.ns = "";
        q.name = "high";
        obj = json_pack ("{s:s,s:{s:s}}", "kind", "PriorityClass", "metadata", "name", "high");
    } else if (!strcmp (plural, "namespaces")) {
        q.ns = "";
        q.name = "default";
        obj = json_pack ("{s:s,s:{s:s}}", "kind", "Namespace", "metadata", "name", "default");
    } else if (!strcmp (plural, "leases")) {
        q.ns = "kube-node-lease";
        q.name = who;
        obj = json_pack ("{s:s,s:{s:s,s:s}}", "kind", "Lease", "metadata", "name", who, "namespace", "kube-node-lease");
    } else if (!strcmp (plural, "pods")) {
        obj = json_deep_copy (json_array_get (all_pods, own ? 0 : 1));
        q.name = tv_str (obj, "metadata.name");
    } else if (!strcmp (plural, "secrets") || !strcmp (plural, "configmaps")) {
        int secret = !strcmp (plural, "secrets");
        q.name = secret ? (own ? "s-used" : "s-other") : (own ? "cm-used" : "cm-other");
        obj = json_pack ("{s:s,s:{s:s,s:s}}", "kind", kind, "metadata", "name", q.name, "namespace", "default");
    } else {
        q.name = "x";
        obj = json_pack ("{s:s,s:{s:s,s:s}}", "kind", kind, "metadata", "name", "x", "namespace", "default");
    }
    json_array_append_new (keep, obj);
    if (collection) {
        q.name = "";
        return q;
    }
    if (!strcmp (verb, "create"))
        q.obj = obj;
    else if (!strcmp (verb, "update") || !strcmp (verb, "patch")) {
        q.obj = obj;
        q.old = obj;
    } else if (!strcmp (verb, "delete"))
        q.old = obj;
    return q;
}

static void
table_agrees_with_code (void **state)
{
    (void) state;
    static cell_t cells[1024];
    int n = parse_roles_md (cells, 1024);
    /* 4 roles × 23 resources × 7 verbs: a table that lost rows would pass vacuously */
    assert_int_equal (n, 4 * 23 * 7);
    json_t *keep = json_array ();
    int calls = 0;
    az_lookup_t lk = {.pods_on_node = lookup_pods, .arg = &calls};
    int checked = 0, own_cells = 0;
    for (int i = 0; i < n; i++) {
        role_t role = az_role_parse (cells[i].role);
        if (role == ROLE_NONE)
            fail_msg ("docs/roles.md: unknown role section \"%s\"", cells[i].role);
        char why[400];
        az_request_t mine = request_for (role, cells[i].resource, cells[i].verb, 1, keep);
        az_request_t other = request_for (role, cells[i].resource, cells[i].verb, 0, keep);
        int a = az_decide (&mine, &lk, why, sizeof why), b = az_decide (&other, &lk, why, sizeof why);
        int want_mine, want_other;
        if (!strcmp (cells[i].cell, "yes"))
            want_mine = want_other = 1;
        else if (!strcmp (cells[i].cell, "no"))
            want_mine = want_other = 0;
        else if (!strcmp (cells[i].cell, "own")) {
            want_mine = 1;
            want_other = 0;
            own_cells++;
        } else {
            fail_msg ("docs/roles.md: %s %s %s: cell \"%s\" is not yes/no/own", cells[i].role, cells[i].resource,
                      cells[i].verb, cells[i].cell);
            return;
        }
        /* the role-level check (before the object is read) lets through exactly the yes and own cells */
        az_request_t bare = mine;
        bare.obj = bare.old = NULL;
        if (az_role_may (&bare, why, sizeof why) != (want_mine || want_other))
            fail_msg ("az_role_may disagrees with docs/roles.md on %s %s %s (%s)", cells[i].role, cells[i].verb,
                      cells[i].resource, cells[i].cell);
        if (a != want_mine || b != want_other)
            fail_msg ("docs/roles.md says %s may %s %s: %s, but az_decide answers %d (own object) and %d (another "
                      "node's)",
                      cells[i].role, cells[i].verb, cells[i].resource, cells[i].cell, a, b);
        checked++;
    }
    assert_int_equal (checked, 4 * 23 * 7);
    assert_int_equal (own_cells, 16); /* the node's "own" cells */
    assert_true (calls > 0);          /* Secrets and ConfigMaps were decided from the pods */
    json_decref (keep);
}

/* ---- the node authorizer in detail ---------------------------------------------------------- */

static int
node_gets (const char *kind, const char *ns, const char *name)
{
    az_lookup_t lk = {.pods_on_node = lookup_pods};
    az_request_t q = {.role = ROLE_NODE, .user = "n1", .verb = "get", .kind = kind, .ns = ns, .name = name};
    char why[300];
    return az_decide (&q, &lk, why, sizeof why);
}

static void
node_secret_references (void **state)
{
    (void) state;
    const char *specs[] = {
        "{\"volumes\":[{\"name\":\"v\",\"projected\":{\"sources\":[{\"secret\":{\"name\":\"ref\"}}]}}]}",
        "{\"volumes\":[{\"name\":\"v\",\"csi\":{\"driver\":\"d\",\"nodePublishSecretRef\":{\"name\":\"ref\"}}}]}",
        "{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"E\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"ref\",\"key\":\"k\"}}}]}]}",
        "{\"initContainers\":[{\"name\":\"i\",\"envFrom\":[{\"secretRef\":{\"name\":\"ref\"}}]}]}",
        "{\"ephemeralContainers\":[{\"name\":\"e\",\"envFrom\":[{\"secretRef\":{\"name\":\"ref\"}}]}]}",
        "{\"imagePullSecrets\":[{\"name\":\"ref\"}]}",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        json_t *p = pod ("q", "n1", specs[i]);
        assert_true (az_pod_uses (p, 1, "ref"));
        assert_false (az_pod_uses (p, 1, "other"));
        assert_false (az_pod_uses (p, 0, "ref")); /* a Secret reference is not a ConfigMap's */
        json_decref (p);
    }
    const char *cms[] = {
        "{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"ref\"}}]}",
        "{\"volumes\":[{\"name\":\"v\",\"projected\":{\"sources\":[{\"configMap\":{\"name\":\"ref\"}}]}}]}",
        "{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"E\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"ref\",\"key\":\"k\"}}}]}]}",
        "{\"containers\":[{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"ref\"}}]}]}",
    };
    for (size_t i = 0; i < sizeof cms / sizeof cms[0]; i++) {
        json_t *p = pod ("q", "n1", cms[i]);
        assert_true (az_pod_uses (p, 0, "ref"));
        assert_false (az_pod_uses (p, 1, "ref"));
        json_decref (p);
    }
    /* the same secret name in another namespace is not related */
    assert_true (node_gets ("Secret", "default", "s-used"));
    assert_false (node_gets ("Secret", "other", "s-used"));
    assert_false (node_gets ("Secret", "default", "s-other"));
    assert_true (node_gets ("ConfigMap", "default", "cm-used"));
    assert_false (node_gets ("ConfigMap", "default", "s-used"));
    /* a pod that moves away takes the permission with it */
    json_object_set_new (json_object_get (json_array_get (all_pods, 0), "spec"), "nodeName", json_string ("n3"));
    assert_false (node_gets ("Secret", "default", "s-used"));
    /* list and watch of secrets: refused even with pods using them */
    az_lookup_t lk = {.pods_on_node = lookup_pods};
    char why[300];
    az_request_t l = {.role = ROLE_NODE, .user = "n2", .verb = "list", .kind = "Secret", .ns = "default"};
    assert_false (az_decide (&l, &lk, why, sizeof why));
    l.verb = "watch";
    assert_false (az_decide (&l, &lk, why, sizeof why));
    /* no lookup at all: denied, never a crash */
    az_request_t g = {.role = ROLE_NODE, .user = "n2", .verb = "get", .kind = "Secret", .ns = "default", .name = "s-other"};
    assert_false (az_decide (&g, NULL, why, sizeof why));
    assert_true (az_decide (&g, &lk, why, sizeof why));
}

static void
node_restriction (void **state)
{
    (void) state;
    char why[300];
    /* a status write may not move the pod to this node */
    json_t *old = pod ("x", "n2", NULL), *next = pod ("x", "n1", NULL);
    az_request_t q = {.role = ROLE_NODE, .user = "n1", .verb = "update", .kind = "Pod", .subresource = "status",
                      .ns = "default", .name = "x", .obj = next, .old = old};
    assert_false (az_decide (&q, NULL, why, sizeof why));
    q.old = next;
    q.obj = old; /* nor away from it */
    assert_false (az_decide (&q, NULL, why, sizeof why));
    q.old = q.obj = next;
    assert_true (az_decide (&q, NULL, why, sizeof why));
    json_decref (old);
    json_decref (next);
    /* its lease only in kube-node-lease */
    az_request_t l = {.role = ROLE_NODE, .user = "n1", .verb = "update", .kind = "Lease", .ns = "default", .name = "n1"};
    assert_false (az_decide (&l, NULL, why, sizeof why));
    assert_string_equal (why, "can only access leases in the \"kube-node-lease\" namespace");
    /* no role, an unknown verb: denied */
    az_request_t z = {.role = ROLE_NONE, .user = "x", .verb = "get", .kind = "Pod", .ns = "default", .name = "p"};
    assert_false (az_decide (&z, NULL, why, sizeof why));
    az_request_t u = {.role = ROLE_ADMIN, .user = "x", .verb = "escalate", .kind = "Pod", .ns = "default"};
    assert_false (az_decide (&u, NULL, why, sizeof why));
    /* a kind the table does not know: admin's, readable by viewer */
    az_request_t c = {.role = ROLE_VIEWER, .user = "v", .verb = "list", .kind = "Widget", .ns = "default"};
    assert_true (az_decide (&c, NULL, why, sizeof why));
    c.verb = "create";
    assert_false (az_decide (&c, NULL, why, sizeof why));
    c.role = ROLE_CONTROLLER;
    c.verb = "get";
    assert_false (az_decide (&c, NULL, why, sizeof why));
    /* kinds of later issues: a node reads services and endpoints, writes none */
    az_request_t s = {.role = ROLE_NODE, .user = "n1", .verb = "watch", .kind = "EndpointSlice", .ns = ""};
    assert_true (az_decide (&s, NULL, why, sizeof why));
    s.kind = "Service";
    s.verb = "create";
    assert_false (az_decide (&s, NULL, why, sizeof why));
    char msg[600];
    s.kind = "EndpointSlice";
    s.ns = "default";
    az_forbidden_message (&s, why, msg, sizeof msg);
    assert_non_null (strstr (msg, "endpointslices.discovery.k8s.io is forbidden"));
}

static void
forbidden_messages (void **state)
{
    (void) state;
    char why[300], msg[1024];
    json_t *n2 = json_pack ("{s:s,s:{s:s}}", "kind", "Node", "metadata", "name", "n2");
    az_request_t q = {.role = ROLE_NODE, .user = "n1", .verb = "update", .kind = "Node", .ns = "", .name = "n2",
                      .obj = n2, .old = n2};
    assert_false (az_decide (&q, NULL, why, sizeof why));
    az_forbidden_message (&q, why, msg, sizeof msg);
    assert_string_equal (msg, "nodes \"n2\" is forbidden: User \"system:node:n1\" cannot update resource \"nodes\" in API "
                              "group \"\" at the cluster scope: node \"n1\" is not allowed to modify node \"n2\"");
    json_decref (n2);
    /* NodeRestriction: its own Node, but not its taints or pod CIDR; labels and status are fine */
    json_t *old = json_pack ("{s:s,s:{s:s},s:{s:s,s:[{s:s,s:s}]}}", "kind", "Node", "metadata", "name", "n1", "spec",
                             "podCIDR", "10.244.1.0/24", "taints", "key", "node.kubernetes.io/unreachable", "effect",
                             "NoExecute");
    json_t *next = json_deep_copy (old);
    json_object_set_new (json_object_get (next, "metadata"), "labels", json_pack ("{s:s}", "a", "b"));
    az_request_t own = {.role = ROLE_NODE, .user = "n1", .verb = "patch", .kind = "Node", .ns = "", .name = "n1",
                        .obj = next, .old = old};
    assert_true (az_decide (&own, NULL, why, sizeof why));
    json_object_del (json_object_get (next, "spec"), "taints");
    assert_false (az_decide (&own, NULL, why, sizeof why));
    assert_string_equal (why, "node \"n1\" is not allowed to modify taints");
    json_object_set (json_object_get (next, "spec"), "taints", json_object_get (json_object_get (old, "spec"), "taints"));
    json_object_set_new (json_object_get (next, "spec"), "podCIDR", json_string ("10.244.2.0/24"));
    assert_false (az_decide (&own, NULL, why, sizeof why));
    assert_string_equal (why, "node \"n1\" is not allowed to modify its pod CIDR");
    json_decref (old);
    json_decref (next);
    az_request_t s = {.role = ROLE_NODE, .user = "n1", .verb = "get", .kind = "Secret", .ns = "default", .name = "db"};
    az_lookup_t lk = {.pods_on_node = lookup_pods};
    assert_false (az_decide (&s, &lk, why, sizeof why));
    az_forbidden_message (&s, why, msg, sizeof msg);
    assert_string_equal (msg, "secrets \"db\" is forbidden: User \"system:node:n1\" cannot get resource \"secrets\" in "
                              "API group \"\" in the namespace \"default\": no relationship found between node 'n1' and "
                              "this object");
    az_request_t d = {.role = ROLE_VIEWER, .user = "alice", .verb = "list", .kind = "Secret", .ns = ""};
    assert_false (az_decide (&d, NULL, why, sizeof why));
    az_forbidden_message (&d, why, msg, sizeof msg);
    assert_string_equal (msg, "secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" at "
                              "the cluster scope");
    az_request_t r = {.role = ROLE_CONTROLLER, .user = "kcm", .verb = "update", .kind = "Deployment", .ns = "prod",
                      .name = "web"};
    assert_false (az_decide (&r, NULL, why, sizeof why));
    az_forbidden_message (&r, why, msg, sizeof msg);
    assert_string_equal (msg, "deployments.apps \"web\" is forbidden: User \"kcm\" cannot update resource \"deployments\" "
                              "in API group \"apps\" in the namespace \"prod\"");
}

static void
verb_mapping (void **state)
{
    (void) state;
    const char *sub;
    json_t *binding = json_pack ("{s:s}", "subresource", "binding"), *status = json_pack ("{s:s}", "subresource", "status");
    assert_string_equal (az_verb_of (TR_VERB_PATCH, binding, &sub), "create");
    assert_string_equal (sub, "binding");
    assert_string_equal (az_verb_of (TR_VERB_PATCH, status, &sub), "patch");
    assert_string_equal (sub, "status");
    assert_string_equal (az_verb_of (TR_VERB_UPDATE_STATUS, NULL, &sub), "update");
    assert_string_equal (sub, "status");
    assert_string_equal (az_verb_of (TR_VERB_UPDATE, status, &sub), "update");
    assert_string_equal (sub, "status");
    assert_string_equal (az_verb_of (TR_VERB_PATCH, NULL, &sub), "patch");
    assert_string_equal (sub, "");
    assert_string_equal (az_verb_of (TR_VERB_LOGS, NULL, &sub), "get");
    assert_string_equal (sub, "log");
    json_t *eviction = json_pack ("{s:s}", "subresource", "eviction");
    assert_string_equal (az_verb_of (TR_VERB_CREATE, eviction, &sub), "create");
    assert_string_equal (sub, "eviction"); /* the Eviction API: create of pods/eviction */
    assert_string_equal (az_verb_of (TR_VERB_CREATE, NULL, &sub), "create");
    assert_string_equal (sub, "");
    json_decref (eviction);
    assert_null (az_verb_of (TR_VERB_PING, NULL, &sub));
    json_decref (binding);
    json_decref (status);
    assert_int_equal (az_role_parse ("controller"), ROLE_CONTROLLER);
    assert_int_equal (az_role_parse ("peer"), ROLE_NONE);
    assert_int_equal (az_role_parse (NULL), ROLE_NONE);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (table_agrees_with_code, setup, teardown),
        cmocka_unit_test_setup_teardown (node_secret_references, setup, teardown),
        cmocka_unit_test_setup_teardown (node_restriction, setup, teardown),
        cmocka_unit_test_setup_teardown (forbidden_messages, setup, teardown),
        cmocka_unit_test (verb_mapping),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
