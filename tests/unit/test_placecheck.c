/* placecheck (bench/sched, the scheduling benchmark's placement checker): a clean cluster with
 * every kind of constraint satisfied (and allocatable exactly full, a terminated pod over it, a
 * pending pod) has no violation; then small clusters that each break one rule once: resources
 * (cpu, pods, an extended resource, memory from a limit only, an init container's larger
 * request), nodeSelector, nodeAffinity (In, Gt, matchFields), taints (NoSchedule; PreferNoSchedule
 * and a NoExecute added after binding are not errors), podAffinity (incl. the first pod of a
 * group, and a second "first" pod), podAntiAffinity (own term, symmetry, zone), topology spread
 * (maxSkew, minDomains, nodeAffinityPolicy), bound-once from Events, a missing node, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sched/placecheck.h"

/* JSON with ' for " */
static json_t *
J (const char *s)
{
    char *t = strdup (s);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t e;
    json_t *v = json_loads (t, 0, &e);
    if (!v)
        fail_msg ("bad test JSON: %s: %s", e.text, t);
    free (t);
    return v;
}

static json_t *
node (const char *name, const char *labels, const char *alloc, const char *taints)
{
    char b[2048];
    snprintf (b, sizeof b,
              "{'metadata': {'name': '%s', 'labels': {'kubernetes.io/hostname': '%s'%s%s}}, 'spec': {'taints': %s},"
              " 'status': {'allocatable': %s}}",
              name, name, labels ? ", " : "", labels ? labels : "", taints ? taints : "[]",
              alloc ? alloc : "{'cpu': '4', 'memory': '8Gi', 'pods': '110'}");
    return J (b);
}

/* a pod bound to nodename at second t (nodename NULL: pending); spec: extra spec fields */
static json_t *
pod (const char *name, const char *nodename, int t, const char *labels, const char *spec)
{
    char b[4096];
    snprintf (b, sizeof b,
              "{'metadata': {'name': '%s', 'namespace': 'default', 'uid': 'u-%s', 'labels': {%s}},"
              " 'spec': {%s%s%s 'containers': [{'name': 'c', 'resources': {'requests': {'cpu': '100m', 'memory': '10Mi'}}}]},"
              " 'status': {'phase': 'Running', 'conditions': [{'type': 'PodScheduled', 'status': '%s',"
              " 'lastTransitionTime': '2026-12-03T10:00:%02dZ'}]}}",
              name, name, labels ? labels : "", nodename ? "'nodeName': '" : "", nodename ? nodename : "",
              nodename ? "'," : "", nodename ? "True" : "False", t);
    json_t *p = J (b);
    if (spec) {
        json_t *s = J (spec);
        json_object_update (json_object_get (p, "spec"), s);
        json_decref (s);
    }
    return p;
}

typedef struct {
    json_t *pods, *nodes, *events;
    pc_result_t r;
} cl_t;

static void
cl_init (cl_t *c)
{
    memset (c, 0, sizeof *c);
    c->pods = json_pack ("{s:s,s:[]}", "kind", "List", "items");
    c->nodes = json_array ();
}

static void
addp (cl_t *c, json_t *p)
{
    json_array_append_new (json_object_get (c->pods, "items"), p);
}

static void
addn (cl_t *c, json_t *n)
{
    json_array_append_new (c->nodes, n);
}

static int
run (cl_t *c)
{
    char err[128];
    pc_result_clear (&c->r);
    int n = pc_check (c->pods, c->nodes, c->events, &c->r, err, sizeof err);
    for (size_t i = 0; i < c->r.nviol; i++)
        print_message ("  %s %s %s: %s\n", c->r.viol[i].pod, c->r.viol[i].node, c->r.viol[i].rule, c->r.viol[i].detail);
    return n;
}

static void
cl_free (cl_t *c)
{
    pc_result_clear (&c->r);
    json_decref (c->pods);
    json_decref (c->nodes);
    json_decref (c->events);
}

static void
clean_cluster (void **state)
{
    (void) state;
    cl_t c;
    cl_init (&c);
    addn (&c, node ("n1", "'zone': 'a', 'disk': 'ssd', 'rank': '5'", "{'cpu': '1', 'memory': '1Gi', 'pods': '10'}",
                    "[{'key': 'dedicated', 'value': 'x', 'effect': 'NoSchedule'}, {'key': 'soft', 'effect': 'PreferNoSchedule'}]"));
    addn (&c, node ("n2", "'zone': 'b'", NULL, NULL));
    addn (&c, node ("n3", "'zone': 'b'", NULL, NULL));
    /* fills n1's cpu exactly: 100m + 900m (limit-only request) */
    addp (&c, pod ("small", "n1", 1, "'app': 'db'",
                   "{'nodeSelector': {'disk': 'ssd'}, 'tolerations': [{'key': 'dedicated', 'operator': 'Equal', 'value': 'x'}]}"));
    addp (&c, pod ("big", "n1", 2, "'app': 'db'",
                   "{'tolerations': [{'operator': 'Exists'}],"
                   " 'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': ["
                   "   {'matchExpressions': [{'key': 'rank', 'operator': 'Gt', 'values': ['3']}]}]}}},"
                   " 'containers': [{'name': 'c', 'resources': {'limits': {'cpu': '900m'}}}]}"));
    /* a web pod beside a db pod in zone a, web pods one per host */
    const char *web = "{'tolerations': [{'key': 'dedicated', 'operator': 'Exists', 'effect': 'NoSchedule'}],"
                      " 'affinity': {'podAntiAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': ["
                      "   {'labelSelector': {'matchLabels': {'app': 'web'}}, 'topologyKey': 'kubernetes.io/hostname'}]}},"
                      " 'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'zone', 'whenUnsatisfiable': 'DoNotSchedule',"
                      "   'labelSelector': {'matchLabels': {'app': 'web'}}}]}";
    addp (&c, pod ("web1", "n2", 3, "'app': 'web'", web));
    addp (&c, pod ("web2", "n3", 4, "'app': 'web'", web));
    addp (&c, pod ("web3", "n1", 5, "'app': 'web'", web)); /* zone a: 1, zone b: 2 */
    /* podAffinity to db in its zone; the first pod of its own group is fine */
    addp (&c, pod ("near-db", "n1", 6, "'app': 'cache'",
                   "{'tolerations': [{'operator': 'Exists'}], 'affinity': {'podAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': ["
                   "   {'labelSelector': {'matchExpressions': [{'key': 'app', 'operator': 'In', 'values': ['db']}]}, 'topologyKey': 'zone'}]}}}"));
    addp (&c, pod ("seed", "n2", 7, "'grp': 'g'",
                   "{'affinity': {'podAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': ["
                   "   {'labelSelector': {'matchLabels': {'grp': 'g'}}, 'topologyKey': 'zone'}]}}}"));
    /* over n1's cpu but Succeeded: not counted; pending: not checked */
    json_t *done = pod ("done", "n1", 8, "", "{'containers': [{'name': 'c', 'resources': {'requests': {'cpu': '3'}}}]}");
    json_object_set_new (json_object_get (done, "status"), "phase", json_string ("Succeeded"));
    addp (&c, done);
    addp (&c, pod ("pending", NULL, 0, "", "{'nodeSelector': {'nowhere': 'x'}}"));
    c.events = J ("{'items': [{'reason': 'Scheduled', 'involvedObject': {'kind': 'Pod', 'uid': 'u-web1'}, 'count': 1,"
                  " 'message': 'Successfully assigned default/web1 to n2'},"
                  " {'reason': 'Started', 'involvedObject': {'kind': 'Pod', 'uid': 'u-web1'}, 'count': 3}]}");
    /* n1 now: small 100m + big 900m + web3 100m + near-db 100m > 1 cpu: make it 2 cpu */
    json_object_set_new (json_object_get (json_object_get (json_array_get (c.nodes, 0), "status"), "allocatable"), "cpu",
                         json_string ("1200m"));
    assert_int_equal (run (&c), 0);
    assert_int_equal (c.r.pods, 9);
    assert_int_equal (c.r.bound, 7);
    assert_int_equal (c.r.pending, 1);
    assert_int_equal (c.r.terminated, 1);
    assert_int_equal (c.r.nodes, 3);
    assert_true (c.r.events_checked);
    assert_int_equal (c.r.with_scheduled_event, 1);
    /* exactly full: one more millicpu is one violation, blamed on the last bound (near-db) */
    json_object_set_new (json_object_get (json_object_get (json_array_get (c.nodes, 0), "status"), "allocatable"), "cpu",
                         json_string ("1199m"));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].rule, "resources");
    assert_string_equal (c.r.viol[0].pod, "default/near-db");
    assert_string_equal (c.r.viol[0].node, "n1");
    assert_non_null (strstr (c.r.viol[0].detail, "Insufficient cpu"));
    cl_free (&c);
}

static void
resources_each (void **state)
{
    (void) state;
    struct {
        const char *alloc, *spec, *want;
    } cases[] = {
        {"{'cpu': '1', 'memory': '1Gi', 'pods': '10'}", "{'containers': [{'name': 'c', 'resources': {'requests': {'cpu': '950m'}}}]}", "cpu"},
        {"{'cpu': '4', 'memory': '1Gi', 'pods': '1'}", NULL, "pods"},
        {"{'cpu': '4', 'memory': '1Gi', 'pods': '10'}",
         "{'containers': [{'name': 'c', 'resources': {'requests': {'example.com/gpu': '1'}}}]}", "example.com/gpu"},
        {"{'cpu': '4', 'memory': '100Mi', 'pods': '10'}", "{'containers': [{'name': 'c', 'resources': {'limits': {'memory': '95Mi'}}}]}",
         "memory"},
        {"{'cpu': '4', 'memory': '1Gi', 'pods': '10', 'ephemeral-storage': '1000Mi'}",
         "{'initContainers': [{'name': 'i', 'resources': {'requests': {'ephemeral-storage': '1Gi'}}}],"
         " 'containers': [{'name': 'c', 'resources': {'requests': {'ephemeral-storage': '1'}}}]}",
         "ephemeral-storage"},
        {"{'cpu': '1', 'memory': '1Gi', 'pods': '10'}",
         "{'overhead': {'cpu': '850m'}}", "cpu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cl_t c;
        cl_init (&c);
        addn (&c, node ("n1", NULL, cases[i].alloc, NULL));
        addp (&c, pod ("first", "n1", 1, "", NULL));
        addp (&c, pod ("second", "n1", 2, "", cases[i].spec));
        print_message ("case %zu (%s)\n", i, cases[i].want);
        assert_int_equal (run (&c), 1);
        assert_string_equal (c.r.viol[0].rule, "resources");
        assert_string_equal (c.r.viol[0].pod, "default/second");
        char want[96];
        snprintf (want, sizeof want, "Insufficient %s:", cases[i].want);
        assert_non_null (strstr (c.r.viol[0].detail, want));
        cl_free (&c);
    }
}

static void
node_rules_each (void **state)
{
    (void) state;
    struct {
        const char *spec, *taints, *rule; /* rule NULL: no violation */
    } cases[] = {
        {"{'nodeSelector': {'disk': 'hdd'}}", NULL, "nodeSelector"},
        {"{'nodeSelector': {'missing': 'x'}}", NULL, "nodeSelector"},
        {"{'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': ["
         "{'matchExpressions': [{'key': 'disk', 'operator': 'In', 'values': ['hdd']}]},"
         "{'matchExpressions': [{'key': 'rank', 'operator': 'Lt', 'values': ['5']}]}]}}}}",
         NULL, "nodeAffinity"},
        {"{'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': ["
         "{'matchExpressions': [{'key': 'disk', 'operator': 'In', 'values': ['hdd']}]},"
         "{'matchFields': [{'key': 'metadata.name', 'operator': 'In', 'values': ['n1']}]}]}}}}",
         NULL, NULL},
        {"{'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': ["
         "{'matchExpressions': [{'key': 'disk', 'operator': 'DoesNotExist'}]}]}}}}",
         NULL, "nodeAffinity"},
        {"{'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [{}]}}}}",
         NULL, "nodeAffinity"},
        {NULL, "[{'key': 'k', 'value': 'v', 'effect': 'NoSchedule'}]", "taint"},
        {"{'tolerations': [{'key': 'k', 'value': 'other'}]}", "[{'key': 'k', 'value': 'v', 'effect': 'NoSchedule'}]", "taint"},
        {"{'tolerations': [{'key': 'k', 'value': 'v', 'effect': 'NoExecute'}]}", "[{'key': 'k', 'value': 'v', 'effect': 'NoSchedule'}]",
         "taint"},
        {"{'tolerations': [{'key': 'k', 'operator': 'Exists'}]}", "[{'key': 'k', 'value': 'v', 'effect': 'NoSchedule'}]", NULL},
        {NULL, "[{'key': 'k', 'effect': 'PreferNoSchedule'}]", NULL},
        {NULL, "[{'key': 'k', 'effect': 'NoExecute', 'timeAdded': '2026-12-03T10:00:00Z'}]", "taint"},
        {NULL, "[{'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute', 'timeAdded': '2026-12-03T11:00:00Z'}]", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cl_t c;
        cl_init (&c);
        addn (&c, node ("n1", "'disk': 'ssd', 'rank': '5'", NULL, cases[i].taints));
        addp (&c, pod ("p", "n1", 30, "", cases[i].spec));
        print_message ("case %zu (%s)\n", i, cases[i].rule ? cases[i].rule : "clean");
        if (!cases[i].rule)
            assert_int_equal (run (&c), 0);
        else {
            assert_int_equal (run (&c), 1);
            assert_string_equal (c.r.viol[0].rule, cases[i].rule);
            assert_string_equal (c.r.viol[0].pod, "default/p");
            assert_string_equal (c.r.viol[0].node, "n1");
        }
        cl_free (&c);
    }
}

static const char *AFF_DB = "{'affinity': {'podAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': ["
                            "{'labelSelector': {'matchLabels': {'app': 'db'}}, 'topologyKey': 'zone'}]}}}";
static const char *ANTI_WEB_HOST = "{'affinity': {'podAntiAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': ["
                                   "{'labelSelector': {'matchLabels': {'app': 'web'}}, 'topologyKey': 'kubernetes.io/hostname'}]}}}";

static void
zones (cl_t *c)
{
    addn (c, node ("a1", "'zone': 'a'", NULL, NULL));
    addn (c, node ("a2", "'zone': 'a'", NULL, NULL));
    addn (c, node ("b1", "'zone': 'b'", NULL, NULL));
    addn (c, node ("c1", "'zone': 'c', 'special': 'yes'", NULL, NULL));
}

static void
pod_affinity (void **state)
{
    (void) state;
    cl_t c;
    /* db in zone b, the pod in zone a: one violation */
    cl_init (&c);
    zones (&c);
    addp (&c, pod ("db", "b1", 1, "'app': 'db'", NULL));
    addp (&c, pod ("app", "a1", 2, "'app': 'x'", AFF_DB));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].rule, "podAffinity");
    assert_string_equal (c.r.viol[0].pod, "default/app");
    cl_free (&c);
    /* same zone, other node: fine; in another namespace: not a match */
    cl_init (&c);
    zones (&c);
    addp (&c, pod ("db", "a2", 1, "'app': 'db'", NULL));
    addp (&c, pod ("app", "a1", 2, "'app': 'x'", AFF_DB));
    assert_int_equal (run (&c), 0);
    json_object_set_new (json_object_get (json_array_get (json_object_get (c.pods, "items"), 0), "metadata"), "namespace",
                         json_string ("other"));
    assert_int_equal (run (&c), 1);
    cl_free (&c);
    /* the first db pod matching its own term: fine; a second "first" in another zone bound
     * later: a violation */
    cl_init (&c);
    zones (&c);
    addp (&c, pod ("db1", "a1", 1, "'app': 'db'", AFF_DB));
    addp (&c, pod ("db2", "a2", 2, "'app': 'db'", AFF_DB));
    assert_int_equal (run (&c), 0);
    addp (&c, pod ("db3", "b1", 3, "'app': 'db'", AFF_DB));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].pod, "default/db3");
    assert_non_null (strstr (c.r.viol[0].detail, "bound before"));
    cl_free (&c);
}

static void
pod_anti_affinity (void **state)
{
    (void) state;
    cl_t c;
    /* two web pods with anti-affinity on one host: one violation, against the later */
    cl_init (&c);
    zones (&c);
    addp (&c, pod ("w1", "a1", 1, "'app': 'web'", ANTI_WEB_HOST));
    addp (&c, pod ("w2", "a2", 2, "'app': 'web'", ANTI_WEB_HOST));
    assert_int_equal (run (&c), 0);
    addp (&c, pod ("w3", "a1", 3, "'app': 'web'", ANTI_WEB_HOST));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].rule, "podAntiAffinity");
    assert_string_equal (c.r.viol[0].pod, "default/w3");
    assert_string_equal (c.r.viol[0].node, "a1");
    assert_null (strstr (c.r.viol[0].detail, "symmetry")); /* its own term, not w1's */
    cl_free (&c);
    /* symmetry: the earlier pod's term matches a later pod that has no terms */
    cl_init (&c);
    zones (&c);
    addp (&c, pod ("guard", "b1", 1, "'app': 'guard'", ANTI_WEB_HOST));
    addp (&c, pod ("plain", "b1", 2, "'app': 'web'", NULL));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].pod, "default/plain");
    assert_non_null (strstr (c.r.viol[0].detail, "symmetry"));
    cl_free (&c);
    /* by zone: other nodes of one zone conflict, other zones do not */
    cl_init (&c);
    zones (&c);
    const char *anti_zone = "{'affinity': {'podAntiAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': ["
                            "{'labelSelector': {'matchLabels': {'app': 'z'}}, 'topologyKey': 'zone'}]}}}";
    addp (&c, pod ("z1", "a1", 1, "'app': 'z'", anti_zone));
    addp (&c, pod ("z2", "b1", 2, "'app': 'z'", anti_zone));
    assert_int_equal (run (&c), 0);
    addp (&c, pod ("z3", "a2", 3, "'app': 'z'", anti_zone));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].pod, "default/z3");
    cl_free (&c);
}

static const char *SPREAD = "{'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'zone', 'whenUnsatisfiable': "
                            "'DoNotSchedule', 'labelSelector': {'matchLabels': {'app': 's'}}}]}";

static void
topology_spread (void **state)
{
    (void) state;
    cl_t c;
    /* zone a 3, b 1, c 0 → skew 3 for the constrained pod in a */
    cl_init (&c);
    zones (&c);
    addp (&c, pod ("s1", "a1", 1, "'app': 's'", NULL));
    addp (&c, pod ("s2", "b1", 2, "'app': 's'", NULL));
    addp (&c, pod ("s3", "c1", 3, "'app': 's'", NULL));
    addp (&c, pod ("s4", "a2", 4, "'app': 's'", SPREAD)); /* a 2, b 1, c 1: skew 1 */
    assert_int_equal (run (&c), 0);
    addp (&c, pod ("s5", "a1", 5, "'app': 's'", SPREAD)); /* a 3: skew 2 for s4 and s5 */
    assert_int_equal (run (&c), 2);
    assert_int_equal (pc_count (&c.r, "topologySpread"), 2);
    /* ScheduleAnyway is not checked */
    json_t *sp = J ("[{'maxSkew': 1, 'topologyKey': 'zone', 'whenUnsatisfiable': 'ScheduleAnyway', 'labelSelector': {'matchLabels': {'app': 's'}}}]");
    json_object_set (json_object_get (json_array_get (json_object_get (c.pods, "items"), 3), "spec"), "topologySpreadConstraints", sp);
    json_object_set (json_object_get (json_array_get (json_object_get (c.pods, "items"), 4), "spec"), "topologySpreadConstraints", sp);
    json_decref (sp);
    assert_int_equal (run (&c), 0);
    cl_free (&c);
    /* nodeAffinityPolicy Honor (default): zone c is not eligible for a pod that selects zone a|b */
    cl_init (&c);
    zones (&c);
    const char *sel = "{'nodeSelector': {'zone': 'a'}, 'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'zone',"
                      " 'whenUnsatisfiable': 'DoNotSchedule', 'labelSelector': {'matchLabels': {'app': 's'}}}]}";
    addp (&c, pod ("s1", "a1", 1, "'app': 's'", sel));
    addp (&c, pod ("s2", "a2", 2, "'app': 's'", sel));
    assert_int_equal (run (&c), 0); /* only zone a is eligible: skew 0 */
    /* Ignore: zones b and c (0 pods) count: skew 2 */
    const char *ign = "{'nodeSelector': {'zone': 'a'}, 'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'zone',"
                      " 'nodeAffinityPolicy': 'Ignore', 'whenUnsatisfiable': 'DoNotSchedule', 'labelSelector': {'matchLabels': {'app': 's'}}}]}";
    addp (&c, pod ("s3", "a1", 3, "'app': 's'", ign));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].pod, "default/s3");
    cl_free (&c);
    /* minDomains 3 with only 2 zones eligible: the minimum is 0 */
    cl_init (&c);
    addn (&c, node ("a1", "'zone': 'a'", NULL, NULL));
    addn (&c, node ("b1", "'zone': 'b'", NULL, NULL));
    const char *md = "{'topologySpreadConstraints': [{'maxSkew': 1, 'minDomains': 3, 'topologyKey': 'zone',"
                     " 'whenUnsatisfiable': 'DoNotSchedule', 'labelSelector': {'matchLabels': {'app': 's'}}}]}";
    addp (&c, pod ("s1", "a1", 1, "'app': 's'", md));
    addp (&c, pod ("s2", "b1", 2, "'app': 's'", md));
    assert_int_equal (run (&c), 0);
    addp (&c, pod ("s3", "a1", 3, "'app': 's'", md)); /* a 2 - 0 > 1 */
    assert_int_equal (run (&c), 2);                    /* s1 and s3 sit in a */
    cl_free (&c);
    /* a node without the key */
    cl_init (&c);
    addn (&c, node ("n", NULL, NULL, NULL));
    addp (&c, pod ("s1", "n", 1, "'app': 's'", SPREAD));
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].rule, "topologySpread");
    cl_free (&c);
}

static void
bound_once_and_input (void **state)
{
    (void) state;
    cl_t c;
    cl_init (&c);
    addn (&c, node ("n1", NULL, NULL, NULL));
    addn (&c, node ("n2", NULL, NULL, NULL));
    addp (&c, pod ("p", "n1", 1, "", NULL));
    addp (&c, pod ("q", "n2", 1, "", NULL));
    assert_int_equal (run (&c), 0);
    assert_false (c.r.events_checked);
    /* p: two Scheduled events (one aggregated count 2) → once; q: assigned elsewhere → once */
    c.events = J ("{'kind': 'List', 'items': ["
                  "{'reason': 'Scheduled', 'involvedObject': {'kind': 'Pod', 'uid': 'u-p'}, 'count': 2,"
                  " 'message': 'Successfully assigned default/p to n1'},"
                  "{'reason': 'Scheduled', 'involvedObject': {'kind': 'Pod', 'uid': 'u-q'}, 'count': 1,"
                  " 'message': 'Successfully assigned default/q to n1'}]}");
    assert_int_equal (run (&c), 2);
    assert_int_equal (pc_count (&c.r, "bound-once"), 2);
    assert_int_equal (c.r.with_scheduled_event, 2);
    /* a pod on a node that does not exist */
    addp (&c, pod ("ghost", "n9", 1, "", NULL));
    json_decref (c.events);
    c.events = NULL;
    assert_int_equal (run (&c), 1);
    assert_string_equal (c.r.viol[0].rule, "node");
    cl_free (&c);
    /* not lists */
    pc_result_t r;
    char err[128];
    json_t *bad = J ("{'kind': 'Pod'}"), *ok = J ("[]");
    assert_int_equal (pc_check (bad, ok, NULL, &r, err, sizeof err), -1);
    assert_non_null (strstr (err, "pods"));
    assert_int_equal (pc_check (ok, bad, NULL, &r, err, sizeof err), -1);
    assert_non_null (strstr (err, "nodes"));
    assert_int_equal (pc_check (ok, ok, NULL, &r, err, sizeof err), 0);
    pc_result_clear (&r);
    json_decref (bad);
    json_decref (ok);
}

/* The balance figures: cpu requested per schedulable node, as a fraction of allocatable; a
 * cordoned node and one without cpu are left out. */
static void
balance (void **state)
{
    (void) state;
    cl_t c;
    cl_init (&c);
    addn (&c, node ("n1", NULL, "{'cpu': '1', 'memory': '1Gi', 'pods': '110'}", NULL));
    addn (&c, node ("n2", NULL, "{'cpu': '1', 'memory': '1Gi', 'pods': '110'}", NULL));
    json_t *cordoned = node ("n3", NULL, "{'cpu': '1', 'memory': '1Gi', 'pods': '110'}", NULL);
    json_object_set_new (json_object_get (cordoned, "spec"), "unschedulable", json_true ());
    addn (&c, cordoned);
    addn (&c, node ("n4", NULL, "{'memory': '1Gi', 'pods': '110'}", NULL));
    addp (&c, pod ("a", "n1", 1, NULL, NULL));
    for (int i = 0; i < 3; i++) {
        char nm[8];
        snprintf (nm, sizeof nm, "b%d", i);
        addp (&c, pod (nm, "n2", 2 + i, NULL, NULL));
    }
    assert_int_equal (run (&c), 0);
    assert_int_equal (c.r.balance_nodes, 2);
    assert_true (c.r.cpu_min > 0.099 && c.r.cpu_min < 0.101);
    assert_true (c.r.cpu_max > 0.299 && c.r.cpu_max < 0.301);
    assert_true (c.r.cpu_mean > 0.199 && c.r.cpu_mean < 0.201);
    assert_true (c.r.cpu_sd > 0.099 && c.r.cpu_sd < 0.101);
    cl_free (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (clean_cluster),     cmocka_unit_test (resources_each),  cmocka_unit_test (node_rules_each),
        cmocka_unit_test (pod_affinity),      cmocka_unit_test (pod_anti_affinity), cmocka_unit_test (topology_spread),
        cmocka_unit_test (bound_once_and_input), cmocka_unit_test (balance),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
