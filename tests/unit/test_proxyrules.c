/* The Service proxy's rule model and diff (actors/proxy/proxyrules.c), pure: Services and
 * EndpointSlices in the exact v1 / discovery.k8s.io/v1 JSON shapes → chains, map elements, sets;
 * old + new model → the nft transaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/proxy/proxyrules.h"
#include "core/value.h"

static json_t *
svc (const char *ns, const char *name, const char *type, const char *cip, const char *ports_json)
{
    json_t *p = json_loads (ports_json, 0, NULL);
    assert_non_null (p);
    return json_pack ("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:o}}", "apiVersion", "v1", "kind", "Service",
                      "metadata", "namespace", ns, "name", name, "spec", "type", type, "clusterIP", cip, "ports", p);
}

/* eps_json: [{"addresses":["10.244.0.5"],"conditions":{"ready":true}}, …] */
static json_t *
slice (const char *ns, const char *svcname, const char *sname, const char *eps_json, const char *ports_json)
{
    json_t *e = json_loads (eps_json, 0, NULL), *p = json_loads (ports_json, 0, NULL);
    assert_non_null (e);
    assert_non_null (p);
    return json_pack ("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:o, s:o}", "apiVersion", "discovery.k8s.io/v1", "kind",
                      "EndpointSlice", "metadata", "namespace", ns, "name", sname, "labels",
                      "kubernetes.io/service-name", svcname, "addressType", "IPv4", "endpoints", e, "ports", p);
}

#define WEB_PORTS "[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}]"
#define WEB_SLICE_PORTS "[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]"
#define EP(ip, ready) "{\"addresses\":[\"" ip "\"],\"conditions\":{\"ready\":" ready "}}"

static const char *
chain_named (const pr_model_t *m, const char *prefix, const char *suffix)
{
    for (size_t i = 0; i < m->nchains; i++)
        if (!strncmp (m->chains[i].name, prefix, strlen (prefix)) &&
            strlen (m->chains[i].name) >= strlen (suffix) &&
            !strcmp (m->chains[i].name + strlen (m->chains[i].name) - strlen (suffix), suffix))
            return m->chains[i].name;
    return NULL;
}

static int
has_rule (const pr_chain_t *c, const char *needle)
{
    for (size_t i = 0; c && i < c->nrules; i++)
        if (strstr (c->rules[i], needle))
            return 1;
    return 0;
}

static void
test_clusterip (void **state)
{
    (void) state;
    json_t *ss = json_pack ("[o]", svc ("default", "web", "ClusterIP", "10.96.0.10", WEB_PORTS));
    json_t *sl = json_pack ("[o]", slice ("default", "web", "web-abc",
                                          "[" EP ("10.244.1.3", "true") "," EP ("10.244.1.2", "true") "," EP (
                                              "10.244.2.7", "true") "," EP ("10.244.2.9", "false") "]",
                                          WEB_SLICE_PORTS));
    int skipped = -1;
    pr_model_t *m = pr_model_build (ss, sl, "10.244.0.0/16", &skipped);
    assert_int_equal (skipped, 0);
    char h[9];
    pr_hash ("default/web/tcp/http", h);
    char sc[100];
    snprintf (sc, sizeof sc, "service-%s-default/web/tcp/http", h);
    const pr_chain_t *c = pr_model_chain (m, sc);
    assert_non_null (c);
    /* from outside the cluster CIDR (the host): masqueraded */
    assert_true (has_rule (c, "ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade"));
    /* three ready endpoints, the not-ready one skipped, in a stable order */
    assert_true (has_rule (c, "numgen random mod 3 vmap { 0 : goto endpoint-"));
    assert_true (has_rule (c, "__10.244.1.2/8080, 1 : goto endpoint-"));
    assert_false (has_rule (c, "10.244.2.9"));
    assert_int_equal (pr_model_count_chains (m, "endpoint-"), 3);
    const char *ep = chain_named (m, "endpoint-", "default/web/tcp/http__10.244.2.7/8080");
    assert_non_null (ep);
    const pr_chain_t *e = pr_model_chain (m, ep);
    assert_true (has_rule (e, "ip saddr 10.244.2.7 jump mark-for-masquerade")); /* hairpin */
    assert_true (has_rule (e, "meta l4proto tcp dnat to 10.244.2.7:8080"));
    char v[120];
    snprintf (v, sizeof v, "goto %s", sc);
    assert_string_equal (pr_model_elem (m, "service-ips", "10.96.0.10 . tcp . 80"), v);
    assert_null (pr_model_elem (m, "no-endpoint-services", "10.96.0.10 . tcp . 80"));
    /* the base: hooks, the maps' lookups, masquerade of marked packets, reject */
    assert_non_null (pr_model_chain (m, "nat-prerouting")->spec);
    assert_true (has_rule (pr_model_chain (m, "services"), "ip daddr . meta l4proto . th dport vmap @service-ips"));
    assert_true (has_rule (pr_model_chain (m, "services"), "fib daddr type local"));
    assert_true (has_rule (pr_model_chain (m, "masquerading"), "masquerade"));
    assert_true (has_rule (pr_model_chain (m, "reject-chain"), "reject with tcp reset"));
    /* names are stable: the same objects give the same model */
    pr_model_t *m2 = pr_model_build (ss, sl, "10.244.0.0/16", NULL);
    char *d = pr_diff (m, m2);
    assert_string_equal (d, "");
    free (d);
    pr_model_free (&m2);
    pr_model_free (&m);
    json_decref (ss);
    json_decref (sl);
}

static void
test_terminating_fallback_and_reject (void **state)
{
    (void) state;
    json_t *ss = json_pack ("[o,o]", svc ("default", "web", "ClusterIP", "10.96.0.10", WEB_PORTS),
                            svc ("default", "empty", "NodePort", "10.96.0.11",
                                 "[{\"port\":53,\"protocol\":\"UDP\",\"nodePort\":30053}]"));
    /* none ready: serving + terminating used; not serving skipped */
    json_t *sl = json_pack (
        "[o]", slice ("default", "web", "web-abc",
                      "[{\"addresses\":[\"10.244.1.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
                      "{\"addresses\":[\"10.244.1.3\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}}]",
                      WEB_SLICE_PORTS));
    pr_model_t *m = pr_model_build (ss, sl, NULL, NULL);
    assert_int_equal (pr_model_count_chains (m, "endpoint-"), 1);
    assert_non_null (chain_named (m, "endpoint-", "__10.244.1.2/8080"));
    /* no cluster CIDR: no masquerade rule */
    assert_false (has_rule (pr_model_chain (m, chain_named (m, "service-", "default/web/tcp/http")), "saddr !="));
    /* no endpoint at all: rejected, on the ClusterIP and the NodePort */
    assert_string_equal (pr_model_elem (m, "no-endpoint-services", "10.96.0.11 . udp . 53"), "goto reject-chain");
    assert_string_equal (pr_model_elem (m, "no-endpoint-nodeports", "udp . 30053"), "goto reject-chain");
    assert_null (pr_model_elem (m, "service-ips", "10.96.0.11 . udp . 53"));
    assert_null (pr_model_elem (m, "service-nodeports", "udp . 30053"));
    pr_model_free (&m);
    json_decref (ss);
    json_decref (sl);
}

static void
test_nodeport_affinity (void **state)
{
    (void) state;
    json_t *s = svc ("shop", "api", "NodePort", "10.96.3.4",
                     "[{\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080}]");
    json_object_set_new (json_object_get (s, "spec"), "sessionAffinity", json_string ("ClientIP"));
    json_t *ss = json_pack ("[o]", s);
    json_t *sl = json_pack ("[o]", slice ("shop", "api", "api-1", "[" EP ("10.244.1.2", "true") "," EP ("10.244.1.3", "true") "]",
                                          WEB_SLICE_PORTS));
    pr_model_t *m = pr_model_build (ss, sl, "10.244.0.0/16", NULL);
    const char *x = chain_named (m, "external-", "shop/api/tcp/http");
    assert_non_null (x);
    const pr_chain_t *xc = pr_model_chain (m, x);
    assert_int_equal (xc->nrules, 2);
    assert_string_equal (xc->rules[0], "jump mark-for-masquerade");
    assert_string_equal (xc->rules[1] + 5, chain_named (m, "service-", "shop/api/tcp/http"));
    char v[120];
    snprintf (v, sizeof v, "goto %s", x);
    assert_string_equal (pr_model_elem (m, "service-nodeports", "tcp . 30080"), v);
    /* ClientIP affinity: a set per endpoint with the default 3 h timeout, filled by the endpoint
     * chain and looked up first by the service chain */
    assert_int_equal (m->nsets, 2);
    assert_non_null (strstr (m->sets[0].spec, "timeout 10800s"));
    assert_true (has_rule (pr_model_chain (m, chain_named (m, "service-", "shop/api/tcp/http")), "ip saddr @affinity-"));
    assert_true (has_rule (pr_model_chain (m, chain_named (m, "endpoint-", "__10.244.1.3/8080")), "update @affinity-"));
    /* a ClusterIP Service's stray nodePort is ignored */
    json_object_set_new (json_object_get (s, "spec"), "type", json_string ("ClusterIP"));
    pr_model_t *m2 = pr_model_build (ss, sl, "10.244.0.0/16", NULL);
    assert_null (pr_model_elem (m2, "service-nodeports", "tcp . 30080"));
    assert_int_equal (pr_model_count_chains (m2, "external-"), 0);
    pr_model_free (&m2);
    pr_model_free (&m);
    json_decref (ss);
    json_decref (sl);
}

/* nothing from an object's fields reaches the script unchecked */
static void
test_invalid_skipped (void **state)
{
    (void) state;
    json_t *ss = json_pack ("[o,o,o,o]", svc ("default", "a;flush ruleset", "ClusterIP", "10.96.0.1", WEB_PORTS),
                            svc ("default", "b", "ClusterIP", "10.96.0.2 ; flush ruleset", WEB_PORTS),
                            svc ("default", "c", "ClusterIP", "10.96.0.3", "[{\"port\":70000}]"),
                            svc ("default", "d", "ClusterIP", "None", WEB_PORTS)); /* headless: nothing, no error */
    json_t *sl = json_pack ("[o]", slice ("default", "c", "c-1", "[{\"addresses\":[\"1.2.3.4 } flush\"]}]", WEB_SLICE_PORTS));
    int skipped = 0;
    pr_model_t *m = pr_model_build (ss, sl, "nope", &skipped);
    assert_int_equal (skipped, 4); /* two services, one port, the CIDR */
    assert_int_equal (pr_model_count_chains (m, "service-"), 1); /* service-endpoints-check, the base */
    assert_int_equal (m->nelems, 0);
    pr_model_free (&m);
    json_decref (ss);
    json_decref (sl);
}

static json_t *
many_services (int n)
{
    json_t *a = json_array ();
    for (int i = 0; i < n; i++) {
        char name[16], ip[24];
        snprintf (name, sizeof name, "s%d", i);
        snprintf (ip, sizeof ip, "10.96.1.%d", i + 1);
        json_array_append_new (a, svc ("default", name, "NodePort", ip,
                                       "[{\"name\":\"http\",\"port\":80,\"nodePort\":0}]"));
        json_object_set_new (json_array_get (json_object_get (tv_get (json_array_get (a, (size_t) i), "spec"), "ports"), 0),
                             "nodePort", json_integer (30000 + i));
    }
    return a;
}

static json_t *
many_slices (int n, const char *last_ip_of_s1)
{
    json_t *a = json_array ();
    for (int i = 0; i < n; i++) {
        char name[16], eps[200];
        snprintf (name, sizeof name, "s%d", i);
        snprintf (eps, sizeof eps, "[{\"addresses\":[\"10.244.%d.2\"]},{\"addresses\":[\"%s\"]}]", i,
                  i == 1 ? last_ip_of_s1 : "10.244.9.9");
        json_array_append_new (a, slice ("default", name, name, eps, WEB_SLICE_PORTS));
    }
    return a;
}

/* many endpoints (the model's arrays grow while a Service's chains are being filled) */
static void
test_many_endpoints (void **state)
{
    (void) state;
    json_t *ss = json_pack ("[o]", svc ("default", "big", "NodePort", "10.96.0.50",
                                        "[{\"name\":\"http\",\"port\":80,\"nodePort\":30050}]"));
    json_t *eps = json_array ();
    for (int i = 0; i < 40; i++) {
        char ip[24];
        snprintf (ip, sizeof ip, "10.244.3.%d", i + 2);
        json_array_append_new (eps, json_pack ("{s:[s]}", "addresses", ip));
    }
    json_t *s1 = slice ("default", "big", "big-1", "[]", WEB_SLICE_PORTS);
    json_object_set_new (s1, "endpoints", eps);
    json_t *sl = json_pack ("[o]", s1);
    json_object_set_new (json_object_get (json_array_get (ss, 0), "spec"), "sessionAffinity", json_string ("ClientIP"));
    pr_model_t *m = pr_model_build (ss, sl, "10.244.0.0/16", NULL);
    const pr_chain_t *c = pr_model_chain (m, chain_named (m, "service-", "default/big/tcp/http"));
    assert_non_null (c);
    assert_int_equal (c->nrules, 1 + 40 + 1); /* masquerade, 40 affinity lookups, numgen */
    assert_true (has_rule (c, "numgen random mod 40 vmap { 0 : goto endpoint-"));
    assert_true (has_rule (c, "39 : goto endpoint-"));
    assert_int_equal (pr_model_count_chains (m, "endpoint-"), 40);
    assert_int_equal (pr_model_chain (m, chain_named (m, "external-", "default/big/tcp/http"))->nrules, 2);
    pr_model_free (&m);
    json_decref (ss);
    json_decref (sl);
}

/* one endpoint of one Service changes: the transaction touches that Service's chains and nothing else */
static void
test_diff_one_endpoint (void **state)
{
    (void) state;
    json_t *ss = many_services (5);
    json_t *before = many_slices (5, "10.244.7.7"), *after = many_slices (5, "10.244.7.8");
    pr_model_t *a = pr_model_build (ss, before, "10.244.0.0/16", NULL), *b = pr_model_build (ss, after, "10.244.0.0/16", NULL);
    assert_int_equal (pr_model_count_chains (a, "service-"), 5 + 1); /* + service-endpoints-check */
    char *d = pr_diff (a, b);
    assert_non_null (d);
    /* every line names s1's chains only; no table, map or base chain is recreated */
    int lines = 0;
    for (char *l = strtok (d, "\n"); l; l = strtok (NULL, "\n"), lines++) {
        assert_non_null (strstr (l, "default/s1/tcp/http"));
        assert_null (strstr (l, "add table"));
        assert_null (strstr (l, "add map"));
    }
    free (d);
    d = pr_diff (a, b);
    /* old endpoint chain: flushed then deleted; new one added with its rules; service chain rewritten */
    assert_non_null (strstr (d, "add chain ip troupe-proxy endpoint-"));
    assert_non_null (strstr (d, "default/s1/tcp/http__10.244.7.8/8080\n"));
    assert_non_null (strstr (d, "flush chain ip troupe-proxy service-"));
    assert_non_null (strstr (d, "dnat to 10.244.7.8:8080"));
    assert_non_null (strstr (d, "delete chain ip troupe-proxy endpoint-"));
    assert_non_null (strstr (d, "default/s1/tcp/http__10.244.7.7/8080\n"));
    assert_null (strstr (d, "element")); /* the Service's map elements did not change */
    assert_true (lines <= 8);
    free (d);
    /* the Service deleted: its elements and chains go, the others stay */
    json_array_remove (ss, 1);
    pr_model_t *c = pr_model_build (ss, after, "10.244.0.0/16", NULL);
    d = pr_diff (b, c);
    assert_non_null (strstr (d, "delete element ip troupe-proxy service-ips { 10.96.1.2 . tcp . 80 }"));
    assert_non_null (strstr (d, "delete element ip troupe-proxy service-nodeports { tcp . 30001 }"));
    assert_null (strstr (d, "default/s0/"));
    assert_null (strstr (d, "add "));
    free (d);
    /* from nothing: the whole table */
    d = pr_diff (NULL, a);
    assert_true (!strncmp (d, "add table ip troupe-proxy\n", 26));
    assert_non_null (strstr (d, "add chain ip troupe-proxy nat-prerouting { type nat hook prerouting"));
    assert_non_null (strstr (d, "add element ip troupe-proxy service-nodeports { tcp . 30004 : goto external-"));
    free (d);
    pr_model_free (&a);
    pr_model_free (&b);
    pr_model_free (&c);
    json_decref (ss);
    json_decref (before);
    json_decref (after);
}

/* the model of a table read back (nft's JSON): rewritten, stale chains, sets and elements deleted */
static void
test_readback (void **state)
{
    (void) state;
    const char *listing =
        "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}},"
        "{\"table\": {\"family\": \"ip\", \"name\": \"troupe-proxy\", \"handle\": 1}},"
        "{\"map\": {\"family\": \"ip\", \"name\": \"service-ips\", \"table\": \"troupe-proxy\", \"map\": \"verdict\","
        " \"elem\": [[{\"concat\": [\"10.96.9.9\", \"tcp\", 80]}, {\"goto\": {\"target\": \"service-zzzzzzzz-old/gone/tcp/80\"}}]]}},"
        "{\"map\": {\"family\": \"ip\", \"name\": \"service-nodeports\", \"table\": \"troupe-proxy\", \"map\": \"verdict\"}},"
        "{\"set\": {\"family\": \"ip\", \"name\": \"affinity-old\", \"table\": \"troupe-proxy\", \"type\": \"ipv4_addr\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"troupe-proxy\", \"name\": \"services\", \"handle\": 2}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"troupe-proxy\", \"name\": \"service-zzzzzzzz-old/gone/tcp/80\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"other\", \"name\": \"foreign\"}},"
        "{\"rule\": {\"family\": \"ip\", \"table\": \"troupe-proxy\", \"chain\": \"services\", \"expr\": []}}]}";
    pr_model_t *old = pr_model_from_nft_json (listing);
    assert_non_null (old);
    assert_int_equal (old->nchains, 2);
    assert_true (old->chains[0].unknown);
    assert_string_equal (pr_model_elem (old, "service-ips", "10.96.9.9 . tcp . 80"), "goto service-zzzzzzzz-old/gone/tcp/80");
    assert_null (pr_model_from_nft_json ("not json"));
    json_t *ss = many_services (1), *sl = many_slices (1, "10.244.7.7");
    pr_model_t *nw = pr_model_build (ss, sl, NULL, NULL);
    char *d = pr_diff (old, nw);
    assert_non_null (strstr (d, "add table ip troupe-proxy\n"));
    assert_non_null (strstr (d, "flush chain ip troupe-proxy services\n")); /* existing: rewritten */
    assert_non_null (strstr (d, "add chain ip troupe-proxy nat-output { type nat hook output"));
    assert_non_null (strstr (d, "delete element ip troupe-proxy service-ips { 10.96.9.9 . tcp . 80 }"));
    assert_non_null (strstr (d, "delete chain ip troupe-proxy service-zzzzzzzz-old/gone/tcp/80\n"));
    assert_non_null (strstr (d, "delete set ip troupe-proxy affinity-old\n"));
    assert_null (strstr (d, "foreign"));
    /* deletes of chains come after the element that pointed at them */
    assert_true (strstr (d, "delete chain ip troupe-proxy service-zzzz") > strstr (d, "delete element"));
    free (d);
    pr_model_free (&old);
    pr_model_free (&nw);
    json_decref (ss);
    json_decref (sl);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_clusterip),          cmocka_unit_test (test_terminating_fallback_and_reject),
        cmocka_unit_test (test_nodeport_affinity),  cmocka_unit_test (test_invalid_skipped),
        cmocka_unit_test (test_diff_one_endpoint), cmocka_unit_test (test_readback),
        cmocka_unit_test (test_many_endpoints),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
