/* libFuzzer target: the cluster DNS's answer path (actors/dns/dnsanswer.c), the decoder of every
 * packet a pod sends to the node's DNS. Input: one byte choosing UDP or TCP, then the query, asked
 * of a small fixed cluster (a ClusterIP Service with named ports, a headless one with endpoints
 * and hostnames, a pod with hostname/subdomain). Any input must give an answer, a forward or a
 * drop, never a crash; an answer must parse, be a response (QR) with the query's id, and fit the
 * transport: 512 bytes over UDP when the query has no EDNS0, 65535 over TCP. Each input is asked
 * twice of the view with the answer cache (the second may be a hit) and once of a copy without
 * it: the three answers must be byte-identical. */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/dns/dnsanswer.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static dns_view_t *view, *plain;

static void
put (const char *kind, const char *js)
{
    json_t *o = json_loads (js, 0, NULL);
    if (!o)
        abort ();
    dns_view_put (view, kind, o);
    dns_view_put (plain, kind, o);
    json_decref (o);
}

static void
cluster (void)
{
    view = dns_view_new ("cluster.local");
    plain = dns_view_new ("cluster.local");
    dns_view_set_cache (plain, 0, 0, 0);
    put ("Service", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.20\","
                    "\"clusterIPs\":[\"10.96.0.20\"],\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}");
    put ("Service", "{\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\"},\"spec\":{\"clusterIP\":\"None\","
                    "\"ports\":[{\"name\":\"pg\",\"port\":5432}]}}");
    put ("Service", "{\"metadata\":{\"name\":\"ext\",\"namespace\":\"default\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.org\"}}");
    put ("EndpointSlice", "{\"metadata\":{\"name\":\"db-1\",\"namespace\":\"prod\",\"labels\":{\"kubernetes.io/service-name\":\"db\"}},"
                          "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}],"
                          "\"endpoints\":[{\"addresses\":[\"10.244.1.5\"],\"hostname\":\"db-0\"},{\"addresses\":[\"10.244.2.6\"]},"
                          "{\"addresses\":[\"fd00::6\"]},{\"addresses\":[\"10.244.3.7\"],\"conditions\":{\"ready\":false}}]}");
    put ("Pod", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"prod\"},\"spec\":{\"hostname\":\"h\",\"subdomain\":\"db\"},"
                "\"status\":{\"podIP\":\"10.244.9.9\"}}");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!view)
        cluster ();
    if (size < 1 || size > 65536)
        return 0;
    int tcp = data[0] & 1;
    const uint8_t *q = data + 1;
    size_t qlen = size - 1;
    uint8_t *out = NULL;
    size_t outlen = 0;
    dns_verdict_t v = dns_answer (view, q, qlen, tcp, &out, &outlen);
    for (int again = 0; again < 2; again++) {   /* the cache's second answer, and no cache's */
        uint8_t *o2 = NULL;
        size_t l2 = 0;
        dns_verdict_t v2 = dns_answer (again ? plain : view, q, qlen, tcp, &o2, &l2);
        if (v2 != v || l2 != outlen || (outlen && memcmp (o2, out, outlen)))
            abort ();
        free (o2);
    }
    if (v != DNS_ANSWER) {
        if (out || (v != DNS_FORWARD && v != DNS_DROP))
            abort ();
        return 0;
    }
    if (!out || outlen < 12 || outlen > 65535 || !(out[2] & 0x80) || out[0] != q[0] || out[1] != q[1])
        abort ();   /* a response to this query */
    ldns_pkt *r = NULL, *qp = NULL;
    if (ldns_wire2pkt (&r, out, outlen) != LDNS_STATUS_OK)
        abort ();   /* what we send parses */
    if (!tcp && outlen > 512 && (ldns_wire2pkt (&qp, q, qlen) != LDNS_STATUS_OK || !ldns_pkt_edns (qp)))
        abort ();   /* over UDP, more than 512 bytes only to who said it can take them */
    ldns_pkt_free (qp);
    ldns_pkt_free (r);
    free (out);
    return 0;
}
