/* Services: defaulting and validation beyond the schema (core/svcrules.c, through
 * schema_default/schema_validate as the broker calls them) and the allocator of cluster IPs and
 * node ports (broker/svcalloc.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/svcalloc.h"
#include "core/schema.h"
#include "core/svcrules.h"
#include "core/value.h"
#include "core/yaml.h"
#include "tests/unit/schema_fixture.h"

/* obj's value at path, where "a.b[0].c" indexes arrays (tv_get walks maps only) */
static json_t *
at (const json_t *obj, const char *path)
{
    char buf[256], *save = NULL;
    snprintf (buf, sizeof buf, "%s", path);
    const json_t *v = obj;
    for (char *t = strtok_r (buf, ".", &save); t && v; t = strtok_r (NULL, ".", &save)) {
        char *br = strchr (t, '[');
        if (br)
            *br = 0;
        v = json_object_get (v, t);
        if (br)
            v = json_array_get (v, (size_t) atoi (br + 1));
    }
    return (json_t *) v;
}
#define S(o, p) (json_string_value (at (o, p)) ? json_string_value (at (o, p)) : "<absent>")
#define I(o, p) json_integer_value (at (o, p))

static json_t *
svc (const char *spec)
{
    char text[2048];
    snprintf (text, sizeof text, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: %s\n",
              spec);
    char err[256];
    json_t *o = tr_yaml_load (text, strlen (text), err, sizeof err);
    if (!o)
        fail_msg ("yaml: %s: %s", err, text);
    if (json_is_array (o)) {
        json_t *d = json_incref (json_array_get (o, 0));
        json_decref (o);
        o = d;
    }
    schema_default (schemas, o);
    return o;
}

static void
refused (const char *spec, const char *needle)
{
    json_t *o = svc (spec);
    char err[512] = "";
    if (!schema_validate (schemas, o, err, sizeof err))
        fail_msg ("accepted: %s", spec);
    if (!strstr (err, needle))
        fail_msg ("%s: error \"%s\" lacks \"%s\"", spec, err, needle);
    json_decref (o);
}

static json_t *
valid (const char *spec)
{
    json_t *o = svc (spec);
    char err[512] = "";
    if (schema_validate (schemas, o, err, sizeof err))
        fail_msg ("refused: %s: %s", spec, err);
    return o;
}

static void
defaults (void **state)
{
    (void) state;
    json_t *o = valid ("{selector: {app: web}, ports: [{port: 80}]}");
    assert_string_equal (S (o, "spec.type"), "ClusterIP");
    assert_string_equal (S (o, "spec.sessionAffinity"), "None");
    assert_string_equal (S (o, "spec.ports[0].protocol"), "TCP");
    assert_int_equal (I (o, "spec.ports[0].targetPort"), 80);
    assert_string_equal (S (o, "spec.ipFamilies[0]"), "IPv4");
    assert_string_equal (S (o, "spec.ipFamilyPolicy"), "SingleStack");
    assert_string_equal (S (o, "spec.internalTrafficPolicy"), "Cluster");
    assert_null (tv_get (o, "spec.externalTrafficPolicy"));
    assert_null (tv_get (o, "spec.sessionAffinityConfig"));
    assert_true (json_is_object (tv_get (o, "status.loadBalancer")));
    json_decref (o);
    o = valid ("{type: NodePort, sessionAffinity: ClientIP, ports: [{port: 80, targetPort: http}]}");
    assert_int_equal (I (o, "spec.sessionAffinityConfig.clientIP.timeoutSeconds"), 10800);
    assert_string_equal (S (o, "spec.externalTrafficPolicy"), "Cluster");
    assert_string_equal (S (o, "spec.ports[0].targetPort"), "http");
    json_decref (o);
    o = valid ("{clusterIP: None}");
    assert_string_equal (S (o, "spec.clusterIPs[0]"), "None");
    json_decref (o);
    o = valid ("{clusterIPs: [10.96.0.7], ports: [{port: 1}]}");
    assert_string_equal (S (o, "spec.clusterIP"), "10.96.0.7");
    json_decref (o);
}

static void
rules (void **state)
{
    (void) state;
    refused ("{selector: {app: web}}", "spec.ports: Required value");
    refused ("{ports: [{port: 80}, {port: 81}]}", "spec.ports[0].name: Required value");
    refused ("{ports: [{name: a, port: 80}, {name: a, port: 81}]}", "spec.ports[1].name: Duplicate value: \"a\"");
    refused ("{ports: [{name: a, port: 80}, {name: b, port: 80}]}", "spec.ports[1]: Duplicate value");
    json_decref (valid ("{ports: [{name: a, port: 53}, {name: b, port: 53, protocol: UDP}]}"));
    refused ("{ports: [{port: 80, nodePort: 30001}]}",
             "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
    json_decref (valid ("{type: NodePort, ports: [{port: 80, nodePort: 30001}]}"));
    refused ("{ports: [{port: 80, targetPort: 0}]}", "spec.ports[0].targetPort: Invalid value: 0");
    refused ("{ports: [{port: 80, targetPort: Web_Port}]}", "spec.ports[0].targetPort: Invalid value: \"Web_Port\"");
    refused ("{ports: [{port: 70000}]}", "spec.ports[0].port");
    refused ("{clusterIP: 10.96.1, ports: [{port: 80}]}", "spec.clusterIPs[0]: Invalid value: \"10.96.1\": must be a valid IP");
    refused ("{type: NodePort, clusterIP: None, ports: [{port: 80}]}", "may not be set to 'None' for NodePort services");
    refused ("{clusterIP: 10.96.0.5, clusterIPs: [10.96.0.6], ports: [{port: 80}]}", "spec.clusterIPs");
    refused ("{sessionAffinityConfig: {clientIP: {timeoutSeconds: 5}}, ports: [{port: 80}]}",
             "spec.sessionAffinityConfig: Forbidden");
    refused ("{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 90000}}, ports: [{port: 80}]}",
             "timeoutSeconds");
    refused ("{type: LoadBalancer, ports: [{port: 80}]}", "spec.type: Unsupported value: \"LoadBalancer\": not supported yet by Troupe");
    refused ("{type: Bogus, ports: [{port: 80}]}", "spec.type");
    refused ("{ports: [{port: 80}], externalIPs: [1.2.3.4]}", "spec.externalIPs: Unsupported");
    refused ("{ports: [{port: 80, protocol: SCTP}]}", "spec.ports[0].protocol: Unsupported");
    refused ("{ports: [{port: 80}], internalTrafficPolicy: Local}", "spec.internalTrafficPolicy: Unsupported");
    refused ("{ports: [{port: 80}], clusterIPs: [10.96.0.5, 'fd00::5']}", "spec.clusterIPs: Unsupported");
    refused ("{ports: [{port: 80}], ipFamilies: [IPv6]}", "spec.ipFamilies: Unsupported");
}

static void
ipv4 (void **state)
{
    (void) state;
    unsigned v;
    assert_true (svc_parse_ipv4 ("10.96.0.10", &v));
    assert_int_equal (v, (10u << 24) | (96u << 16) | 10u);
    assert_false (svc_parse_ipv4 ("10.96.0", NULL));
    assert_false (svc_parse_ipv4 ("10.96.0.256", NULL));
    assert_false (svc_parse_ipv4 ("10.96.00.1", NULL));
    assert_false (svc_parse_ipv4 ("10.96.0.1 ", NULL));
    assert_false (svc_parse_ipv4 ("", NULL));
}

static void
cidr_and_ranges (void **state)
{
    (void) state;
    svc_cidr_t c;
    svc_ports_t p;
    char err[200];
    assert_int_equal (svcalloc_cidr_parse ("10.96.0.0/16", &c, err, sizeof err), 0);
    assert_int_equal (c.size, 65536);
    assert_int_equal (svcalloc_cidr_parse ("10.96.0.1/16", &c, err, sizeof err), -1);
    assert_non_null (strstr (err, "host bits"));
    assert_int_equal (svcalloc_cidr_parse ("10.96.0.0/29", &c, err, sizeof err), -1);
    assert_int_equal (svcalloc_cidr_parse ("10.96.0.0", &c, err, sizeof err), -1);
    assert_int_equal (svcalloc_cidr_parse ("10.96.0.0/x", &c, err, sizeof err), -1);
    assert_int_equal (svcalloc_ports_parse ("30000-32767", &p, err, sizeof err), 0);
    assert_int_equal (p.lo, 30000);
    assert_int_equal (p.hi, 32767);
    assert_int_equal (svcalloc_ports_parse ("32767-30000", &p, err, sizeof err), -1);
    assert_int_equal (svcalloc_ports_parse ("30000-70000", &p, err, sizeof err), -1);
    assert_int_equal (svcalloc_ports_parse ("30000", &p, err, sizeof err), -1);
}

static void
ip_allocation (void **state)
{
    (void) state;
    svc_cidr_t c;
    char err[200], s[20];
    assert_int_equal (svcalloc_cidr_parse ("10.96.0.0/28", &c, err, sizeof err), 0);
    unsigned base = c.base, ip;
    /* network and broadcast are out of range; .1 and .10 may be requested */
    assert_int_equal (svcalloc_ip_check (&c, base, NULL, 0), SVCALLOC_OUT_OF_RANGE);
    assert_int_equal (svcalloc_ip_check (&c, base + 15, NULL, 0), SVCALLOC_OUT_OF_RANGE);
    assert_int_equal (svcalloc_ip_check (&c, base + 16, NULL, 0), SVCALLOC_OUT_OF_RANGE);
    assert_int_equal (svcalloc_ip_check (&c, base + 1, NULL, 0), SVCALLOC_OK);
    assert_int_equal (svcalloc_ip_check (&c, base + 10, NULL, 0), SVCALLOC_OK);
    unsigned taken[16] = {base + 5, base + 3};
    svcalloc_sort (taken, 2);
    assert_int_equal (svcalloc_ip_check (&c, base + 5, taken, 2), SVCALLOC_TAKEN);
    /* every automatic pick, from any seed, avoids .0 .1 .10 .15 and the taken ones; the block
     * fills up after 16 - 4 - 2 = 10 picks */
    size_t n = 2;
    for (int i = 0; i < 10; i++) {
        assert_int_equal (svcalloc_ip_pick (&c, taken, n, (unsigned) (i * 7919), &ip), SVCALLOC_OK);
        unsigned off = ip - base;
        assert_true (off >= 2 && off <= 14 && off != 10);
        assert_int_equal (svcalloc_ip_check (&c, ip, taken, n), SVCALLOC_OK);
        taken[n++] = ip;
        svcalloc_sort (taken, n);
    }
    assert_int_equal (svcalloc_ip_pick (&c, taken, n, 3, &ip), SVCALLOC_FULL);
    svcalloc_ip_str (base + 10, s, sizeof s);
    assert_string_equal (s, "10.96.0.10");
}

static void
port_allocation (void **state)
{
    (void) state;
    svc_ports_t r = {30000, 30003};
    unsigned taken[4] = {30002}, p;
    size_t n = 1;
    assert_int_equal (svcalloc_port_check (&r, 80, taken, n), SVCALLOC_OUT_OF_RANGE);
    assert_int_equal (svcalloc_port_check (&r, 30004, taken, n), SVCALLOC_OUT_OF_RANGE);
    assert_int_equal (svcalloc_port_check (&r, 30002, taken, n), SVCALLOC_TAKEN);
    assert_int_equal (svcalloc_port_check (&r, 30003, taken, n), SVCALLOC_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (svcalloc_port_pick (&r, taken, n, 2, &p), SVCALLOC_OK);
        assert_true (p >= 30000 && p <= 30003 && p != 30002);
        taken[n++] = p;
        svcalloc_sort (taken, n);
    }
    assert_int_equal (svcalloc_port_pick (&r, taken, n, 0, &p), SVCALLOC_FULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (defaults),      cmocka_unit_test (rules),           cmocka_unit_test (ipv4),
        cmocka_unit_test (cidr_and_ranges), cmocka_unit_test (ip_allocation), cmocka_unit_test (port_allocation),
    };
    return cmocka_run_group_tests (tests, schema_fixture_setup, schema_fixture_teardown);
}
