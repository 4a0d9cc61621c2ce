/* dnsanswer — the cluster DNS answers, pure: a query packet and a read-only view of the cluster
 * (Services, EndpointSlices, Pods) in, a response packet or a "forward" verdict out. Packets are
 * parsed and built with libldns only. The names and records are CoreDNS's kubernetes plugin's
 * (https://github.com/kubernetes/dns/blob/master/docs/specification.md):
 *   <svc>.<ns>.svc.<domain>             A/AAAA: the ClusterIPs; headless: one per ready endpoint;
 *                                       ExternalName: a CNAME; SRV: one per port
 *   _<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV for a named port (headless: one per endpoint)
 *   <ep>.<svc>.<ns>.svc.<domain>        A/AAAA of a headless Service's endpoint, <ep> its hostname
 *                                       or its dashed address; also <hostname>.<subdomain> of a pod
 *   <a-b-c-d>.<ns>.pod.<domain>         A (as CoreDNS's default "pods insecure")
 *   <d.c.b.a>.in-addr.arpa              PTR of a ClusterIP, an endpoint or a pod IP
 * TTL 5. An unknown name in the domain is NXDOMAIN with the zone's SOA in authority; a known name
 * of another type is NODATA (same SOA). Names outside the domain, and PTRs of addresses the view
 * does not know, are for the upstream resolvers (DNS_FORWARD). A response larger than the
 * transport allows (512 bytes or the query's EDNS0 size over UDP, 65535 over TCP) keeps the
 * answers that fit and has TC set. A query that does not parse is answered FORMERR when its
 * header could be read, dropped otherwise; a response (QR set) is dropped: never a crash.
 */
#ifndef TROUPE_DNSANSWER_H
#define TROUPE_DNSANSWER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_TTL 5

typedef struct dns_view dns_view_t;

/* domain: the cluster domain without trailing dot ("cluster.local"). NULL on a bad domain. */
dns_view_t *dns_view_new (const char *domain);
void dns_view_destroy (dns_view_t **self_p);

/* kind "Service", "EndpointSlice" or "Pod" (others ignored); obj borrowed (a copy is kept).
 * put replaces the object of the same namespace/name; remove forgets it. */
void dns_view_put (dns_view_t *self, const char *kind, const json_t *obj);
void dns_view_remove (dns_view_t *self, const char *kind, const json_t *obj);
/* What of a Pod the view reads (name, namespace, spec.hostname/subdomain/hostNetwork,
 * status.podIP): a new object. The Pod informer keeps only this (troupe_informer_set_transform):
 * a 1.4 KiB pod is ~15 KiB as a json_t tree, and the cluster DNS held every pod of the cluster. */
json_t *dns_pod_view (const json_t *obj);
const char *dns_view_domain (const dns_view_t *self);
/* A view starts ready. Not ready (its informers have not listed yet): names in the cluster domain
 * are answered SERVFAIL (the client retries) rather than a wrong NXDOMAIN it would cache. A
 * change of readiness is a change of the view (the SOA serial moves, the answer cache empties). */
void dns_view_set_ready (dns_view_t *self, int ready);

/* The answer cache: an answer to a cluster name (positive, NXDOMAIN or NODATA, PTR) is kept as
 * wire bytes under (lower-cased qname, qtype, qclass, UDP/TCP, the query's EDNS0 OPT: present,
 * its payload size and flags, options or not), at most 10000 of them and 8 MiB of answers (full:
 * emptied), for at most DNS_TTL seconds
 * and only until the view changes (any put/remove or readiness change drops them all). A hit is
 * the cached bytes with the query's id, RD bit and question section (the name's letters as sent:
 * DNS 0x20) copied in: no libldns. Every cluster answer is built from the lower-cased query with
 * the question then copied from the query as sent, so a hit is byte-identical to a miss.
 * Forwarded names, error replies (FORMERR, NOTIMP, SERVFAIL) and queries the cache's own strict
 * parse does not accept (a compressed question, answer/authority records, anything after the OPT,
 * more than 4096 bytes) are never cached. On by default with these bounds and DNS_TTL seconds;
 * set_cache changes them (and empties it), 0 entries or bytes turns it off. */
#define DNS_CACHE_ENTRIES 10000
#define DNS_CACHE_BYTES (8u << 20)
void dns_view_set_cache (dns_view_t *self, size_t max_entries, size_t max_bytes, int max_age_ms);
typedef struct {
    uint64_t hits, misses, clears;
    size_t entries, bytes;
} dns_cache_stats_t;
dns_cache_stats_t dns_view_cache_stats (const dns_view_t *self);

typedef enum {
    DNS_ANSWER,   /* *out holds the response */
    DNS_FORWARD,  /* ask the upstream resolvers */
    DNS_DROP      /* no answer at all */
} dns_verdict_t;

/* q/qlen: the query as received; tcp: 0 for UDP (size limits above). On DNS_ANSWER *out is a
 * malloc'd response of *outlen bytes (free it). */
dns_verdict_t dns_answer (dns_view_t *self, const uint8_t *q, size_t qlen, int tcp, uint8_t **out,
                          size_t *outlen);

/* A SERVFAIL for query q (when the upstreams failed): malloc'd, or NULL when q cannot be read. */
uint8_t *dns_servfail (const uint8_t *q, size_t qlen, size_t *outlen);

#endif
