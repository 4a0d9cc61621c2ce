/* The cluster DNS answers (actors/dns/dnsanswer.c) against a small cluster given as Kubernetes
 * v1 Service, discovery.k8s.io/v1 EndpointSlice and v1 Pod JSON: A of a ClusterIP Service, A of a
 * headless Service's ready endpoints (not-ready ones left out), SRV of named ports (ClusterIP:
 * target the Service; headless: one per endpoint, target hostname or dashed IP), endpoint and
 * pod hostname.subdomain names, pod A names, PTR of ClusterIPs/endpoints/pods, ExternalName
 * CNAME, NXDOMAIN with the SOA, NODATA, TTL 5, truncation with TC over UDP (512 and EDNS0) and
 * the whole answer over TCP, forwarding of other names, FORMERR/drop of malformed queries
 * (compression pointer loops, a 65535-byte query, junk), and updates/removals of the view.
 * The answer cache: a hit is byte-identical to the answer of a view without the cache (the
 * question echoed with the letters' case as sent, the id and RD of the query), a change of the
 * view (put, remove, readiness) is never answered from before it, UDP/EDNS0 sizes/DO/TCP are
 * separate entries, malformed or odd queries never touch the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/dns/dnsanswer.h"
#include "core/value.h"

static dns_view_t *view;

static void
load (const char *kind, const char *js)
{
    json_error_t e;
    json_t *o = json_loads (js, 0, &e);
    if (!o)
        fail_msg ("bad json: %s", e.text);
    dns_view_put (view, kind, o);
    json_decref (o);
}

static void
cluster (void)
{
    view = dns_view_new ("cluster.local");
    load ("Service", "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
                     "\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.20\",\"clusterIPs\":[\"10.96.0.20\"],"
                     "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080},"
                     "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}");
    load ("Service", "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\"},"
                     "\"spec\":{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"],"
                     "\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}]}}");
    load ("EndpointSlice",
          "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"db-abc\",\"namespace\":\"prod\","
          "\"labels\":{\"kubernetes.io/service-name\":\"db\"}},\"addressType\":\"IPv4\","
          "\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}],"
          "\"endpoints\":[{\"addresses\":[\"10.244.1.5\"],\"conditions\":{\"ready\":true},\"hostname\":\"db-0\"},"
          "{\"addresses\":[\"10.244.2.6\"],\"conditions\":{\"ready\":true}},"
          "{\"addresses\":[\"10.244.3.7\"],\"conditions\":{\"ready\":false}}]}");
    load ("Service", "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\",\"namespace\":\"default\"},"
                     "\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.org\"}}");
    load ("Service", "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"sub\",\"namespace\":\"default\"},"
                     "\"spec\":{\"clusterIP\":\"None\"}}");
    load ("Pod", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\"},"
                 "\"spec\":{\"hostname\":\"h1\",\"subdomain\":\"sub\",\"containers\":[]},\"status\":{\"podIP\":\"10.244.9.9\"}}");
}

static ldns_pkt *
ask_full (const char *name, ldns_rr_type t, int tcp, int edns, dns_verdict_t *verdict)
{
    ldns_pkt *q = ldns_pkt_query_new (ldns_dname_new_frm_str (name), t, LDNS_RR_CLASS_IN, LDNS_RD);
    ldns_pkt_set_id (q, 4242);
    if (edns)
        ldns_pkt_set_edns_udp_size (q, (uint16_t) edns);
    uint8_t *w;
    size_t wl;
    assert_int_equal (ldns_pkt2wire (&w, q, &wl), LDNS_STATUS_OK);
    ldns_pkt_free (q);
    uint8_t *out;
    size_t outlen;
    *verdict = dns_answer (view, w, wl, tcp, &out, &outlen);
    free (w);
    if (*verdict != DNS_ANSWER)
        return NULL;
    if (!tcp)
        assert_true (outlen <= (size_t) (edns > 512 ? edns : 512));
    ldns_pkt *r = NULL;
    assert_int_equal (ldns_wire2pkt (&r, out, outlen), LDNS_STATUS_OK);
    free (out);
    assert_int_equal (ldns_pkt_id (r), 4242);
    assert_true (ldns_pkt_qr (r));
    return r;
}

static ldns_pkt *
ask (const char *name, ldns_rr_type t)
{
    dns_verdict_t v;
    ldns_pkt *r = ask_full (name, t, 0, 0, &v);
    assert_int_equal (v, DNS_ANSWER);
    return r;
}

/* The section's records as text, one a line. */
static char *
section (ldns_pkt *r, ldns_pkt_section s)
{
    ldns_rr_list *l = s == LDNS_SECTION_ANSWER ? ldns_pkt_answer (r)
                      : s == LDNS_SECTION_AUTHORITY ? ldns_pkt_authority (r) : ldns_pkt_additional (r);
    char *txt = ldns_rr_list2str (l);
    return txt ? txt : strdup ("");
}

static void
expect (ldns_pkt *r, ldns_pkt_rcode rc, int nanswer, const char *want_answer, const char *want_additional)
{
    assert_int_equal (ldns_pkt_get_rcode (r), rc);
    assert_int_equal (ldns_pkt_ancount (r), nanswer);
    char *an = section (r, LDNS_SECTION_ANSWER), *ad = section (r, LDNS_SECTION_ADDITIONAL);
    if (want_answer && !strstr (an, want_answer))
        fail_msg ("answer lacks \"%s\":\n%s", want_answer, an);
    if (want_additional && !strstr (ad, want_additional))
        fail_msg ("additional lacks \"%s\":\n%s", want_additional, ad);
    free (an);
    free (ad);
    ldns_pkt_free (r);
}

static void
test_service_a (void **state)
{
    (void) state;
    cluster ();
    ldns_pkt *r = ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A);
    assert_true (ldns_pkt_aa (r));
    assert_int_equal (ldns_rr_ttl (ldns_rr_list_rr (ldns_pkt_answer (r), 0)), 5);
    expect (r, LDNS_RCODE_NOERROR, 1, "web.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.20", NULL);
    /* case-insensitive, the question's case kept */
    expect (ask ("WEB.Default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "WEB.Default.svc.cluster.local.\t5\tIN\tA\t10.96.0.20", NULL);
    /* headless: the ready endpoints only */
    r = ask ("db.prod.svc.cluster.local.", LDNS_RR_TYPE_A);
    char *an = section (r, LDNS_SECTION_ANSWER);
    assert_null (strstr (an, "10.244.3.7"));
    free (an);
    expect (r, LDNS_RCODE_NOERROR, 2, "A\t10.244.2.6", NULL);
    expect (ask ("db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 2, "A\t10.244.1.5", NULL);
    /* an endpoint by hostname and by dashed address; a pod's hostname.subdomain */
    expect (ask ("db-0.db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "A\t10.244.1.5", NULL);
    expect (ask ("10-244-2-6.db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "A\t10.244.2.6", NULL);
    expect (ask ("h1.sub.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "A\t10.244.9.9", NULL);
    /* pod names */
    expect (ask ("10-244-9-9.default.pod.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1,
            "10-244-9-9.default.pod.cluster.local.\t5\tIN\tA\t10.244.9.9", NULL);
    /* ExternalName */
    expect (ask ("ext.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "CNAME\texample.org.", NULL);
    dns_view_destroy (&view);
}

static void
test_srv (void **state)
{
    (void) state;
    cluster ();
    expect (ask ("_http._tcp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV), LDNS_RCODE_NOERROR, 1,
            "SRV\t0 100 80 web.default.svc.cluster.local.", "web.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.20");
    expect (ask ("_dns._udp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV), LDNS_RCODE_NOERROR, 1, "SRV\t0 100 53 web", NULL);
    /* a port with the wrong protocol does not exist */
    expect (ask ("_dns._tcp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    /* SRV of the Service's name: every port */
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV), LDNS_RCODE_NOERROR, 2, "SRV\t0 50 53 web", NULL);
    /* headless: one per ready endpoint, target its hostname or dashed address */
    ldns_pkt *r = ask ("_pg._tcp.db.prod.svc.cluster.local.", LDNS_RR_TYPE_SRV);
    char *an = section (r, LDNS_SECTION_ANSWER);
    assert_non_null (strstr (an, "SRV\t0 50 5432 db-0.db.prod.svc.cluster.local."));
    assert_non_null (strstr (an, "SRV\t0 50 5432 10-244-2-6.db.prod.svc.cluster.local."));
    free (an);
    expect (r, LDNS_RCODE_NOERROR, 2, NULL, "db-0.db.prod.svc.cluster.local.\t5\tIN\tA\t10.244.1.5");
    dns_view_destroy (&view);
}

static void
test_ptr (void **state)
{
    (void) state;
    cluster ();
    expect (ask ("20.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "PTR\tweb.default.svc.cluster.local.", NULL);
    expect (ask ("5.1.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "PTR\tdb-0.db.prod.svc.cluster.local.", NULL);
    expect (ask ("6.2.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "PTR\t10-244-2-6.db.prod.svc.cluster.local.", NULL);
    expect (ask ("9.9.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "PTR\t10-244-9-9.default.pod.cluster.local.", NULL);
    /* an address nobody in the cluster has: the upstreams' */
    dns_verdict_t v;
    assert_null (ask_full ("1.1.168.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, 0, 0, &v));
    assert_int_equal (v, DNS_FORWARD);
    /* the index follows changes */
    json_t *svc = json_pack ("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", "web", "namespace", "default", "spec", "clusterIP", "10.96.0.21");
    dns_view_put (view, "Service", svc);
    expect (ask ("21.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "web.default", NULL);
    assert_null (ask_full ("20.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, 0, 0, &v));
    assert_int_equal (v, DNS_FORWARD);
    dns_view_remove (view, "Service", svc);
    json_decref (svc);
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    dns_view_destroy (&view);
}

static void
test_nxdomain_nodata (void **state)
{
    (void) state;
    cluster ();
    ldns_pkt *r = ask ("nope.default.svc.cluster.local.", LDNS_RR_TYPE_A);
    char *au = section (r, LDNS_SECTION_AUTHORITY);
    assert_non_null (strstr (au, "cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local."));
    free (au);
    expect (r, LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    expect (ask ("x.y.z.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    expect (ask ("web.nons.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    expect (ask ("nohost.db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    /* NODATA: an IPv4 Service asked AAAA, the SOA in authority */
    r = ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
    assert_int_equal (ldns_pkt_nscount (r), 1);
    expect (r, LDNS_RCODE_NOERROR, 0, NULL, NULL);
    /* a headless Service without ready endpoints: NXDOMAIN (kubernetes/dns#245); with IPv4
     * endpoints only, AAAA is NODATA */
    expect (ask ("sub.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    expect (ask ("db.prod.svc.cluster.local.", LDNS_RR_TYPE_AAAA), LDNS_RCODE_NOERROR, 0, NULL, NULL);
    expect (ask ("default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 0, NULL, NULL);
    expect (ask ("svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 0, NULL, NULL);
    expect (ask ("cluster.local.", LDNS_RR_TYPE_SOA), LDNS_RCODE_NOERROR, 1, "SOA\tns.dns.cluster.local.", NULL);
    /* not ready (informers not listed yet): SERVFAIL, not an NXDOMAIN the client would cache */
    dns_view_set_ready (view, 0);
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_SERVFAIL, 0, NULL, NULL);
    dns_view_set_ready (view, 1);
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, NULL, NULL);
    /* other names: forward */
    dns_verdict_t v;
    assert_null (ask_full ("example.org.", LDNS_RR_TYPE_A, 0, 0, &v));
    assert_int_equal (v, DNS_FORWARD);
    assert_null (ask_full ("notcluster.local.", LDNS_RR_TYPE_A, 0, 0, &v));
    assert_int_equal (v, DNS_FORWARD);
    dns_view_destroy (&view);
}

static void
test_truncation (void **state)
{
    (void) state;
    view = dns_view_new ("cluster.local");
    load ("Service", "{\"metadata\":{\"name\":\"big\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\"}}");
    json_t *eps = json_array ();
    for (int i = 0; i < 200; i++) {
        char ip[32];
        snprintf (ip, sizeof ip, "10.1.%d.%d", i / 100, i % 100 + 1);
        json_array_append_new (eps, json_pack ("{s:[s]}", "addresses", ip));
    }
    json_t *slice = json_pack ("{s:{s:s,s:s,s:{s:s}},s:s,s:o}", "metadata", "name", "big-1", "namespace", "default", "labels",
                               "kubernetes.io/service-name", "big", "addressType", "IPv4", "endpoints", eps);
    dns_view_put (view, "EndpointSlice", slice);
    json_decref (slice);
    dns_verdict_t v;
    ldns_pkt *r = ask_full ("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0, 0, &v);
    assert_true (ldns_pkt_tc (r));
    assert_true (ldns_pkt_ancount (r) > 0 && ldns_pkt_ancount (r) < 200);
    int n512 = ldns_pkt_ancount (r);
    ldns_pkt_free (r);
    r = ask_full ("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0, 1232, &v);   /* EDNS0 */
    assert_true (ldns_pkt_tc (r));
    assert_true (ldns_pkt_ancount (r) > n512);
    assert_true (ldns_pkt_edns (r));
    ldns_pkt_free (r);
    r = ask_full ("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, 0, &v);   /* TCP: all */
    assert_false (ldns_pkt_tc (r));
    assert_int_equal (ldns_pkt_ancount (r), 200);
    ldns_pkt_free (r);
    r = ask_full ("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0, 4096, &v);
    assert_false (ldns_pkt_tc (r));
    assert_int_equal (ldns_pkt_ancount (r), 200);
    ldns_pkt_free (r);
    dns_view_destroy (&view);
}

static dns_verdict_t
raw (const uint8_t *q, size_t len, uint8_t **out, size_t *outlen)
{
    return dns_answer (view, q, len, 1, out, outlen);
}

static void
test_malformed (void **state)
{
    (void) state;
    cluster ();
    uint8_t *out;
    size_t ol;
    /* shorter than a header: dropped */
    uint8_t tiny[5] = { 1, 2, 3, 4, 5 };
    assert_int_equal (raw (tiny, sizeof tiny, &out, &ol), DNS_DROP);
    /* a response: dropped (no answer loops) */
    uint8_t resp[12] = { 0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
    assert_int_equal (raw (resp, sizeof resp, &out, &ol), DNS_DROP);
    /* a question that ends early: FORMERR with the id */
    uint8_t cut[17] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'e', 'b', 7 };
    assert_int_equal (raw (cut, sizeof cut, &out, &ol), DNS_ANSWER);
    ldns_pkt *r = NULL;
    assert_int_equal (ldns_wire2pkt (&r, out, ol), LDNS_STATUS_OK);
    assert_int_equal (ldns_pkt_id (r), 0x1234);
    assert_int_equal (ldns_pkt_get_rcode (r), LDNS_RCODE_FORMERR);
    ldns_pkt_free (r);
    free (out);
    /* a compression pointer to itself, and two pointing at each other */
    uint8_t loop1[18] = { 0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
    assert_int_equal (raw (loop1, sizeof loop1, &out, &ol), DNS_ANSWER);
    free (out);
    uint8_t loop2[22] = { 0, 3, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12, 0, 1 };
    dns_verdict_t v = raw (loop2, sizeof loop2, &out, &ol);
    assert_true (v == DNS_ANSWER || v == DNS_DROP);
    if (v == DNS_ANSWER)
        free (out);
    /* two questions: FORMERR */
    uint8_t two[12 + 10] = { 0, 4, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1 };
    assert_int_equal (raw (two, sizeof two, &out, &ol), DNS_ANSWER);
    r = NULL;
    assert_int_equal (ldns_wire2pkt (&r, out, ol), LDNS_STATUS_OK);
    assert_int_equal (ldns_pkt_get_rcode (r), LDNS_RCODE_FORMERR);
    ldns_pkt_free (r);
    free (out);
    /* a 65535-byte query (what TCP's length allows): a valid question then junk, or all junk */
    uint8_t *big = calloc (1, 65535);
    memcpy (big, "\0\5\1\0\0\1\0\0\0\0\0\0\3web\7default\3svc\7cluster\5local\0\0\1\0\1", 47);
    v = raw (big, 65535, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    for (size_t i = 12; i < 65535; i++)
        big[i] = (uint8_t) (i * 7919 >> 3);
    big[5] = 1;
    v = raw (big, 65535, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    free (big);
    /* not a query: NOTIMP */
    uint8_t notify[12] = { 0, 6, 4 << 3, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal (raw (notify, sizeof notify, &out, &ol), DNS_ANSWER);
    free (out);
    /* SERVFAIL for a failed forward */
    uint8_t okq[49];
    memcpy (okq, "\0\7\1\0\0\1\0\0\0\0\0\0\3web\7example\3org\0\0\1\0\1", 33);
    out = dns_servfail (okq, 33, &ol);
    assert_non_null (out);
    r = NULL;
    assert_int_equal (ldns_wire2pkt (&r, out, ol), LDNS_STATUS_OK);
    assert_int_equal (ldns_pkt_get_rcode (r), LDNS_RCODE_SERVFAIL);
    assert_int_equal (ldns_pkt_qdcount (r), 1);
    ldns_pkt_free (r);
    free (out);
    dns_view_destroy (&view);
}

/* ---- the answer cache ---- */

/* The wire query for name/type: id, RD, EDNS0 payload size (0: no OPT), DO bit. */
static uint8_t *
wire_query (const char *name, ldns_rr_type t, uint16_t id, int rd, int edns, int dnssec_ok, size_t *len)
{
    ldns_rdf *dn = NULL;
    assert_int_equal (ldns_str2rdf_dname (&dn, name), LDNS_STATUS_OK);
    ldns_pkt *q = ldns_pkt_query_new (dn, t, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
    ldns_pkt_set_id (q, id);
    if (edns) {
        ldns_pkt_set_edns_udp_size (q, (uint16_t) edns);
        ldns_pkt_set_edns_do (q, dnssec_ok);
    }
    uint8_t *w;
    assert_int_equal (ldns_pkt2wire (&w, q, len), LDNS_STATUS_OK);
    ldns_pkt_free (q);
    return w;
}

/* Asks v (cached) and plain (no cache) the same query; asserts the same verdict and bytes. */
static void
same_answer (dns_view_t *plain, const uint8_t *q, size_t ql, int tcp)
{
    uint8_t *a, *b;
    size_t al, bl;
    dns_verdict_t va = dns_answer (view, q, ql, tcp, &a, &al), vb = dns_answer (plain, q, ql, tcp, &b, &bl);
    assert_int_equal (va, vb);
    if (va != DNS_ANSWER)
        return;
    assert_int_equal (al, bl);
    assert_memory_equal (a, b, al);
    /* the question section is the query's, byte for byte (0x20 case) */
    size_t o = 12;
    while (o < ql && q[o])
        o += 1u + q[o];
    assert_true (o + 5 <= al);
    assert_memory_equal (a + 12, q + 12, o + 5 - 12);
    free (a);
    free (b);
}

static void
test_cache_identical (void **state)
{
    (void) state;
    cluster ();
    dns_view_t *cached = view;
    cluster ();
    dns_view_t *plain = view;
    dns_view_set_cache (plain, 0, 0, 0);
    view = cached;
    struct {
        const char *name;
        ldns_rr_type t;
    } qs[] = {
        { "web.default.svc.cluster.local.", LDNS_RR_TYPE_A },    { "WeB.DeFauLT.svc.CLUSTER.local.", LDNS_RR_TYPE_A },
        { "web.default.svc.cluster.local.", LDNS_RR_TYPE_AAAA }, { "web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV },
        { "_HTTP._tcp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV },
        { "db.prod.svc.cluster.local.", LDNS_RR_TYPE_A },        { "DB-0.db.prod.svc.cluster.local.", LDNS_RR_TYPE_A },
        { "nope.default.svc.cluster.local.", LDNS_RR_TYPE_A },   { "NoPe.default.svc.cluster.local.", LDNS_RR_TYPE_A },
        { "ext.default.svc.cluster.local.", LDNS_RR_TYPE_A },    { "cluster.local.", LDNS_RR_TYPE_SOA },
        { "20.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR },        { "10-244-9-9.default.pod.cluster.local.", LDNS_RR_TYPE_A },
        { "h1.sub.default.svc.cluster.local.", LDNS_RR_TYPE_A }, { "example.org.", LDNS_RR_TYPE_A },
    };
    int edns[] = { 0, 1232, 4096 };
    for (int round = 0; round < 2; round++)   /* the first fills, the second hits */
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
            for (int e = 0; e < 3; e++)
                for (int tcp = 0; tcp < 2; tcp++) {
                    size_t ql;
                    uint8_t *q = wire_query (qs[i].name, qs[i].t, (uint16_t) (1000 * round + i), (int) (i & 1), edns[e],
                                             e == 2, &ql);
                    same_answer (plain, q, ql, tcp);
                    free (q);
                }
    dns_cache_stats_t st = dns_view_cache_stats (view);
    assert_true (st.hits >= 13 * 3 * 2);   /* every cluster name of round 2 (example.org is forwarded) */
    assert_true (st.entries > 0);
    assert_int_equal (dns_view_cache_stats (plain).hits + dns_view_cache_stats (plain).entries, 0);
    /* a hit answers with the asker's id, RD bit and letters */
    size_t ql;
    uint8_t *q = wire_query ("wEB.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0xbeef, 0, 0, 0, &ql);
    uint64_t hits = dns_view_cache_stats (view).hits;
    uint8_t *out;
    size_t ol;
    assert_int_equal (dns_answer (view, q, ql, 0, &out, &ol), DNS_ANSWER);
    assert_int_equal (dns_view_cache_stats (view).hits, hits + 1);
    assert_int_equal (out[0] << 8 | out[1], 0xbeef);
    assert_int_equal (out[2] & 1, 0);
    assert_memory_equal (out + 12, q + 12, ql - 12);
    ldns_pkt *r = NULL;
    assert_int_equal (ldns_wire2pkt (&r, out, ol), LDNS_STATUS_OK);
    char *an = section (r, LDNS_SECTION_ANSWER);
    assert_non_null (strstr (an, "10.96.0.20"));
    free (an);
    ldns_pkt_free (r);
    free (out);
    free (q);
    dns_view_destroy (&plain);
    dns_view_destroy (&view);
}

static void
test_cache_invalidation (void **state)
{
    (void) state;
    cluster ();
    /* cached, then the Service's address changes: the new one at once */
    for (int i = 0; i < 2; i++)
        expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.20", NULL);
    assert_true (dns_view_cache_stats (view).hits >= 1);
    load ("Service", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
                     "\"spec\":{\"clusterIP\":\"10.96.0.21\",\"clusterIPs\":[\"10.96.0.21\"]}}");
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.21", NULL);
    /* a cached NXDOMAIN, then the Service appears */
    for (int i = 0; i < 2; i++)
        expect (ask ("new.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    load ("Service", "{\"metadata\":{\"name\":\"new\",\"namespace\":\"default\"},"
                     "\"spec\":{\"clusterIP\":\"10.96.0.30\",\"clusterIPs\":[\"10.96.0.30\"]}}");
    expect (ask ("new.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.30", NULL);
    /* an endpoint of a cached headless answer becomes not ready, then the slice goes */
    expect (ask ("db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 2, "10.244.2.6", NULL);
    load ("EndpointSlice", "{\"metadata\":{\"name\":\"db-abc\",\"namespace\":\"prod\","
                           "\"labels\":{\"kubernetes.io/service-name\":\"db\"}},\"addressType\":\"IPv4\","
                           "\"endpoints\":[{\"addresses\":[\"10.244.1.5\"],\"hostname\":\"db-0\"},"
                           "{\"addresses\":[\"10.244.2.6\"],\"conditions\":{\"ready\":false}}]}");
    expect (ask ("db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.244.1.5", NULL);
    json_t *gone = json_pack ("{s:{s:s,s:s,s:{s:s}}}", "metadata", "name", "db-abc", "namespace", "prod", "labels",
                              "kubernetes.io/service-name", "db");
    dns_view_remove (view, "EndpointSlice", gone);
    json_decref (gone);
    expect (ask ("db.prod.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
    /* a PTR cached, the Service removed: no longer ours (forwarded) */
    expect (ask ("21.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "web.default.svc.cluster.local.", NULL);
    expect (ask ("21.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "web.default.svc.cluster.local.", NULL);
    json_t *web = json_pack ("{s:{s:s,s:s}}", "metadata", "name", "web", "namespace", "default");
    dns_view_remove (view, "Service", web);
    json_decref (web);
    dns_verdict_t v;
    assert_null (ask_full ("21.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, 0, 0, &v));
    assert_int_equal (v, DNS_FORWARD);
    /* not ready: SERVFAIL, not the cached answer; ready again: the answer */
    expect (ask ("new.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.30", NULL);
    dns_view_set_ready (view, 0);
    expect (ask ("new.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_SERVFAIL, 0, NULL, NULL);
    dns_view_set_ready (view, 1);
    expect (ask ("new.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.30", NULL);
    dns_view_destroy (&view);
    /* the age bound (DNS_TTL by default; 100 ms here): a hit before it, a miss after */
    cluster ();
    dns_view_set_cache (view, 100, DNS_CACHE_BYTES, 100);
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.20", NULL);
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.20", NULL);
    dns_cache_stats_t st = dns_view_cache_stats (view);
    assert_int_equal (st.hits, 1);
    assert_int_equal (st.misses, 1);
    struct timespec ts = { 0, 150 * 1000000L };
    nanosleep (&ts, NULL);
    expect (ask ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.96.0.20", NULL);
    st = dns_view_cache_stats (view);
    assert_int_equal (st.hits, 1);
    assert_int_equal (st.misses, 2);
    assert_int_equal (st.entries, 1);
    dns_view_destroy (&view);
}

/* Truncation differs by transport and EDNS0 size: each has its entry, asked in both orders. */
static void
test_cache_sizes (void **state)
{
    (void) state;
    view = dns_view_new ("cluster.local");
    load ("Service", "{\"metadata\":{\"name\":\"big\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\"}}");
    json_t *eps = json_array ();
    for (int i = 0; i < 200; i++) {
        char ip[32];
        snprintf (ip, sizeof ip, "10.1.%d.%d", i / 100, i % 100 + 1);
        json_array_append_new (eps, json_pack ("{s:[s]}", "addresses", ip));
    }
    json_t *slice = json_pack ("{s:{s:s,s:s,s:{s:s}},s:s,s:o}", "metadata", "name", "big-1", "namespace", "default", "labels",
                               "kubernetes.io/service-name", "big", "addressType", "IPv4", "endpoints", eps);
    dns_view_put (view, "EndpointSlice", slice);
    json_decref (slice);
    struct {
        int tcp, edns, dnssec_ok, tc, all;
    } cases[] = { { 0, 0, 0, 1, 0 }, { 0, 1232, 0, 1, 0 }, { 0, 1232, 1, 1, 0 }, { 1, 0, 0, 0, 1 },
                  { 0, 4096, 0, 0, 1 }, { 1, 1232, 0, 0, 1 }, { 0, 600, 0, 1, 0 } };
    size_t nc = sizeof cases / sizeof cases[0];
    size_t lens[16] = { 0 };
    for (int round = 0; round < 2; round++)
        for (size_t k = 0; k < nc; k++) {
            size_t i = round ? nc - 1 - k : k;
            size_t ql, ol;
            uint8_t *q = wire_query ("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 7, 1, cases[i].edns, cases[i].dnssec_ok, &ql);
            uint8_t *out;
            assert_int_equal (dns_answer (view, q, ql, cases[i].tcp, &out, &ol), DNS_ANSWER);
            free (q);
            if (!cases[i].tcp)
                assert_true (ol <= (size_t) (cases[i].edns > 512 ? cases[i].edns : 512));
            if (round)
                assert_int_equal (ol, lens[i]);   /* the same answer as when it was built */
            lens[i] = ol;
            ldns_pkt *r = NULL;
            assert_int_equal (ldns_wire2pkt (&r, out, ol), LDNS_STATUS_OK);
            assert_int_equal (ldns_pkt_tc (r), cases[i].tc);
            if (cases[i].all)
                assert_int_equal (ldns_pkt_ancount (r), 200);
            assert_int_equal (ldns_pkt_edns (r), cases[i].edns != 0);
            assert_int_equal (ldns_pkt_edns_do (r), cases[i].dnssec_ok);
            ldns_pkt_free (r);
            free (out);
        }
    dns_cache_stats_t st = dns_view_cache_stats (view);
    assert_int_equal (st.entries, nc);
    assert_int_equal (st.hits, nc);
    /* bounded in bytes: the whole 200-record answer (~3.3 KiB) under 40 EDNS0 sizes, 32 KiB at most */
    dns_view_set_cache (view, 1000, 32 << 10, DNS_TTL * 1000);
    for (int size = 3500; size < 3540; size++) {
        size_t ql, ol;
        uint8_t *q = wire_query ("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 7, 1, size, 0, &ql);
        uint8_t *out;
        assert_int_equal (dns_answer (view, q, ql, 0, &out, &ol), DNS_ANSWER);
        free (q);
        free (out);
        assert_true (dns_view_cache_stats (view).bytes <= 32 << 10);
        assert_true (dns_view_cache_stats (view).entries >= 1);
    }
    assert_true (dns_view_cache_stats (view).clears >= 3);
    dns_view_destroy (&view);
    /* bounded in entries: 101 unknown names in a cache of 100 */
    cluster ();
    dns_view_set_cache (view, 100, DNS_CACHE_BYTES, DNS_TTL * 1000);
    for (int i = 0; i <= 100; i++) {
        char name[64];
        snprintf (name, sizeof name, "n%d.default.svc.cluster.local.", i);
        size_t ql, ol;
        uint8_t *q = wire_query (name, LDNS_RR_TYPE_A, 7, 1, 0, 0, &ql);
        uint8_t *out;
        assert_int_equal (dns_answer (view, q, ql, 0, &out, &ol), DNS_ANSWER);
        free (q);
        free (out);
        assert_true (dns_view_cache_stats (view).entries <= 100);
    }
    st = dns_view_cache_stats (view);
    assert_int_equal (st.clears, 1);
    assert_int_equal (st.entries, 1);
    dns_view_destroy (&view);
}

/* Queries the cache does not take never hit it nor fill it, even for a name it holds. */
static void
test_cache_malformed (void **state)
{
    (void) state;
    cluster ();
    size_t ql, ol;
    uint8_t *q = wire_query ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 9, 1, 0, 0, &ql);
    uint8_t *out;
    assert_int_equal (dns_answer (view, q, ql, 0, &out, &ol), DNS_ANSWER);
    free (out);
    dns_cache_stats_t st0 = dns_view_cache_stats (view);
    assert_int_equal (st0.entries, 1);
    uint8_t b[600];
    dns_verdict_t v;
    /* cut in the qtype/qclass: FORMERR, not the cached answer */
    for (size_t cut = ql - 4; cut < ql; cut++) {
        v = dns_answer (view, q, cut, 0, &out, &ol);
        assert_int_equal (v, DNS_ANSWER);
        assert_int_equal (out[3] & 0xf, LDNS_RCODE_FORMERR);
        free (out);
    }
    /* junk after the question */
    memcpy (b, q, ql);
    memcpy (b + ql, "junk", 4);
    v = dns_answer (view, b, ql + 4, 0, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    /* an answer record count, an OPT whose option overruns, an OPT that is not type 41 */
    memcpy (b, q, ql);
    b[7] = 1;
    v = dns_answer (view, b, ql, 0, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    size_t el;
    uint8_t *e = wire_query ("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 9, 1, 1232, 0, &el);
    memcpy (b, e, el);
    const uint8_t opt10[4] = { 0, 10, 0, 32 };
    memcpy (b + el, opt10, 4);   /* option 10, length 32, no data */
    b[el - 1] = 4;                       /* rdlength 4 */
    v = dns_answer (view, b, el + 4, 0, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    memcpy (b, e, el);
    b[ql + 2] = 42;
    v = dns_answer (view, b, el, 0, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    /* the question through a compression pointer (to the name in a second copy after it) */
    uint8_t ptrq[12 + 2 + 4] = { 0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
    v = dns_answer (view, ptrq, sizeof ptrq, 0, &out, &ol);
    if (v == DNS_ANSWER)
        free (out);
    /* a response, and a notify */
    memcpy (b, q, ql);
    b[2] |= 0x80;
    assert_int_equal (dns_answer (view, b, ql, 0, &out, &ol), DNS_DROP);
    memcpy (b, q, ql);
    b[2] = 4 << 3;
    v = dns_answer (view, b, ql, 0, &out, &ol);
    if (v == DNS_ANSWER) {
        assert_int_equal (out[3] & 0xf, LDNS_RCODE_NOTIMPL);
        free (out);
    }
    dns_cache_stats_t st = dns_view_cache_stats (view);
    assert_int_equal (st.hits, st0.hits);
    assert_int_equal (st.misses, st0.misses);
    assert_int_equal (st.entries, st0.entries);
    free (e);
    free (q);
    dns_view_destroy (&view);
}

/* The SOA serial of the view (it moves on every change of what answers read). */
static long
soa_serial (void)
{
    ldns_pkt *r = ask ("cluster.local.", LDNS_RR_TYPE_SOA);
    char *an = section (r, LDNS_SECTION_ANSWER);
    const char *p = strstr (an, "hostmaster.cluster.local. ");
    long serial = p ? strtol (p + strlen ("hostmaster.cluster.local. "), NULL, 10) : -1;
    free (an);
    ldns_pkt_free (r);
    return serial;
}

/* A pod update that changes nothing DNS reads (binding, conditions, labels) is not a change of
 * the view; a new podIP or hostname is, and is answered. */
static void
test_pod_updates (void **state)
{
    (void) state;
    cluster ();
    long s0 = soa_serial ();
    assert_true (s0 > 0);
    load ("Pod", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\","
                 "\"labels\":{\"a\":\"b\"}},\"spec\":{\"hostname\":\"h1\",\"subdomain\":\"sub\",\"nodeName\":\"n1\","
                 "\"containers\":[]},\"status\":{\"podIP\":\"10.244.9.9\",\"phase\":\"Running\"}}");
    assert_int_equal (soa_serial (), s0);
    expect (ask ("h1.sub.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.244.9.9", NULL);
    load ("Pod", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\"},"
                 "\"spec\":{\"hostname\":\"h1\",\"subdomain\":\"sub\",\"containers\":[]},\"status\":{\"podIP\":\"10.244.9.10\"}}");
    assert_true (soa_serial () != s0);
    expect (ask ("h1.sub.default.svc.cluster.local.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, 1, "10.244.9.10", NULL);
    expect (ask ("10.9.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, 1, "PTR\t10-244-9-10.default.pod.cluster.local.", NULL);
    /* removing it is a change; removing it again is not */
    json_t *p = json_pack ("{s:{s:s,s:s}}", "metadata", "name", "p1", "namespace", "default");
    dns_view_remove (view, "Pod", p);
    long s1 = soa_serial ();
    assert_true (s1 != s0);
    dns_view_remove (view, "Pod", p);
    assert_int_equal (soa_serial (), s1);
    json_decref (p);
    dns_view_destroy (&view);
}

/* dns_pod_view keeps what json_pack's "s?"/"O?" kept (null for an absent field), for pods of
 * every shape; and a view stays unchanged only while none of its six fields changes. */
static void
test_pod_view (void **state)
{
    (void) state;
    const char *pods[] = {
        ("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"hostname\":\"h\",\"subdomain\":\"s\","
         "\"hostNetwork\":true},\"status\":{\"podIP\":\"10.0.0.1\"}}"),
        "{\"metadata\":{\"name\":\"p\"}}",
        "{\"metadata\":{\"name\":7,\"namespace\":\"d\"},\"spec\":[],\"status\":{\"podIP\":null}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof pods / sizeof *pods; i++) {
        json_t *obj = json_loads (pods[i], 0, NULL);
        assert_non_null (obj);
        json_t *want = json_pack ("{s:{s:s?,s:s?},s:{s:O?,s:O?,s:O?},s:{s:O?}}", "metadata", "name",
                                  tv_str (obj, "metadata.name"), "namespace", tv_str (obj, "metadata.namespace"), "spec",
                                  "hostname", tv_get (obj, "spec.hostname"), "subdomain", tv_get (obj, "spec.subdomain"),
                                  "hostNetwork", tv_get (obj, "spec.hostNetwork"), "status", "podIP",
                                  tv_get (obj, "status.podIP"));
        json_t *got = dns_pod_view (obj);
        assert_true (json_equal (got, want));
        json_decref (got);
        json_decref (want);
        json_decref (obj);
    }
    /* each field's change is a change of the view; a field outside it is not */
    cluster ();
    const char *base = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"q\",\"namespace\":\"default\"},"
                       "\"spec\":{\"hostname\":\"h\",\"subdomain\":\"s\",\"hostNetwork\":false},\"status\":{\"podIP\":\"10.1.1.1\"}}";
    const char *paths[] = {"spec.hostname", "spec.subdomain", "spec.hostNetwork", "status.podIP", "spec.nodeName"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        load ("Pod", base);
        long s0 = soa_serial ();
        json_t *obj = json_loads (base, 0, NULL);
        if (i == 2)
            json_object_set_new (json_object_get (obj, "spec"), "hostNetwork", json_true ());
        else
            tv_set_str (obj, paths[i], "x");
        dns_view_put (view, "Pod", obj);
        if (i == 4)
            assert_int_equal (soa_serial (), s0);
        else
            assert_true (soa_serial () != s0);
        /* and a field taken away */
        long s1 = soa_serial ();
        if (i < 4) {
            json_object_del (json_object_get (obj, i == 3 ? "status" : "spec"), strchr (paths[i], '.') + 1);
            dns_view_put (view, "Pod", obj);
            assert_true (soa_serial () != s1);
        }
        json_decref (obj);
    }
    dns_view_destroy (&view);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_service_a), cmocka_unit_test (test_srv),      cmocka_unit_test (test_ptr),
        cmocka_unit_test (test_nxdomain_nodata), cmocka_unit_test (test_truncation), cmocka_unit_test (test_malformed),
        cmocka_unit_test (test_cache_identical), cmocka_unit_test (test_cache_invalidation), cmocka_unit_test (test_cache_sizes),
        cmocka_unit_test (test_cache_malformed), cmocka_unit_test (test_pod_updates), cmocka_unit_test (test_pod_view),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
