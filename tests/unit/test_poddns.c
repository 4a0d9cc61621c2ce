/* A pod's DNS configuration as the kubelet computes it (actors/agent/poddns.c): ClusterFirst
 * (cluster nameserver, the namespace's search path then the node's, ndots:5), ClusterFirst with
 * hostNetwork and without a cluster DNS address fall back to Default, ClusterFirstWithHostNet,
 * Default (the node's file, loopback nameservers dropped, last search line), None (dnsConfig
 * only), dnsConfig merged (duplicates dropped, options replaced by name) and the limits (3
 * nameservers, 32 search domains) with a warning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/agent/poddns.h"

static const char *HOST = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch old.example\n"
                          "search corp.example. lab.example\noptions edns0 timeout:2\n";

static json_t *
pod (const char *spec_json)
{
    char buf[2048];
    snprintf (buf, sizeof buf, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"team\"},\"spec\":%s}", spec_json);
    json_error_t e;
    json_t *p = json_loads (buf, 0, &e);
    if (!p)
        fail_msg ("bad json %s", e.text);
    return p;
}

/* The config as one line: "ns=a,b search=c,d opts=x:1,y" */
static void
expect (const char *spec_json, const poddns_node_t *node, const char *want, int nwarn)
{
    json_t *p = pod (spec_json), *w = json_array ();
    json_t *c = poddns_config (p, node, w);
    char got[4096] = "ns=";
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (c, "nameservers"), i, v) {
        strcat (got, i ? "," : "");
        strcat (got, json_string_value (v));
    }
    strcat (got, " search=");
    json_array_foreach (json_object_get (c, "searches"), i, v) {
        strcat (got, i ? "," : "");
        strcat (got, json_string_value (v));
    }
    strcat (got, " opts=");
    json_array_foreach (json_object_get (c, "options"), i, v) {
        strcat (got, i ? "," : "");
        strcat (got, json_string_value (json_object_get (v, "name")));
        if (json_object_get (v, "value")) {
            strcat (got, ":");
            strcat (got, json_string_value (json_object_get (v, "value")));
        }
    }
    if (strcmp (got, want))
        fail_msg ("%s\n got: %s\nwant: %s", spec_json, got, want);
    assert_int_equal (json_array_size (w), nwarn);
    json_decref (c);
    json_decref (p);
    json_decref (w);
}

static const poddns_node_t NODE = { "10.96.0.10", "cluster.local", NULL };

static void
test_policies (void **state)
{
    (void) state;
    poddns_node_t n = NODE;
    n.host_resolv = HOST;
    const char *cluster = "ns=10.96.0.10 search=team.svc.cluster.local,svc.cluster.local,cluster.local,corp.example,lab.example opts=ndots:5";
    const char *host = "ns=192.0.2.1 search=corp.example,lab.example opts=edns0,timeout:2";
    expect ("{}", &n, cluster, 0);
    expect ("{\"dnsPolicy\":\"ClusterFirst\"}", &n, cluster, 0);
    expect ("{\"dnsPolicy\":\"ClusterFirst\",\"hostNetwork\":true}", &n, host, 0);
    expect ("{\"dnsPolicy\":\"ClusterFirstWithHostNet\",\"hostNetwork\":true}", &n, cluster, 0);
    expect ("{\"dnsPolicy\":\"Default\"}", &n, host, 0);
    expect ("{\"dnsPolicy\":\"None\",\"dnsConfig\":{\"nameservers\":[\"1.1.1.1\"],\"searches\":[\"a.example\"],"
            "\"options\":[{\"name\":\"ndots\",\"value\":\"2\"}]}}", &n, "ns=1.1.1.1 search=a.example opts=ndots:2", 0);
    /* no cluster DNS address: Default, with a warning */
    poddns_node_t none = n;
    none.cluster_dns = "";
    expect ("{}", &none, host, 1);
    /* no node resolv.conf */
    expect ("{\"dnsPolicy\":\"Default\"}", &NODE, "ns= search= opts=", 0);
    expect ("{}", &NODE, "ns=10.96.0.10 search=team.svc.cluster.local,svc.cluster.local,cluster.local opts=ndots:5", 0);
}

static void
test_merge_and_limits (void **state)
{
    (void) state;
    poddns_node_t n = NODE;
    n.host_resolv = HOST;
    expect ("{\"dnsConfig\":{\"nameservers\":[\"10.96.0.10\",\"9.9.9.9\"],\"searches\":[\"svc.cluster.local\",\"x.example\"],"
            "\"options\":[{\"name\":\"ndots\",\"value\":\"1\"},{\"name\":\"single-request\"}]}}",
            &n, "ns=10.96.0.10,9.9.9.9 search=team.svc.cluster.local,svc.cluster.local,cluster.local,corp.example,lab.example,x.example "
                "opts=ndots:1,single-request", 0);
    expect ("{\"dnsPolicy\":\"Default\",\"dnsConfig\":{\"nameservers\":[\"1.1.1.1\",\"2.2.2.2\",\"3.3.3.3\"]}}", &n,
            "ns=192.0.2.1,1.1.1.1,2.2.2.2 search=corp.example,lab.example opts=edns0,timeout:2", 1);
    char spec[2048] = "{\"dnsPolicy\":\"None\",\"dnsConfig\":{\"searches\":[";
    for (int i = 0; i < 40; i++)
        sprintf (spec + strlen (spec), "%s\"d%d.example\"", i ? "," : "", i);
    strcat (spec, "]}}");
    json_t *p = pod (spec), *w = json_array ();
    json_t *c = poddns_config (p, &n, w);
    assert_int_equal (json_array_size (json_object_get (c, "searches")), 32);
    assert_int_equal (json_array_size (w), 1);
    json_decref (c);
    json_decref (p);
    json_decref (w);
}

int
main (void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test (test_policies), cmocka_unit_test (test_merge_and_limits) };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
