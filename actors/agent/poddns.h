/* poddns — a pod's DNS configuration (what becomes its /etc/resolv.conf) as the kubelet computes
 * it (pkg/kubelet/network/dns GetPodDNS), pure: the pod, the node's cluster DNS settings and the
 * text of the node's resolv.conf in, {nameservers, searches, options[{name, value}]} out (the
 * shape of the pod's spec.dnsConfig, which the runtime writes as resolv.conf).
 *
 * dnsPolicy (default ClusterFirst):
 * - ClusterFirst: nameserver the cluster DNS, search <ns>.svc.<domain> svc.<domain> <domain> and
 *   the node's search domains, options ndots:5. With hostNetwork it is Default. Without a
 *   cluster DNS address (--cluster-dns "") it is Default too (the kubelet's fallback).
 * - ClusterFirstWithHostNet: ClusterFirst, hostNetwork or not.
 * - Default: the node's nameservers (loopback ones left out: unreachable from the pod's network
 *   namespace, as the oci shim always did), its last search/domain line, its options.
 * - None: nothing but spec.dnsConfig.
 * spec.dnsConfig is then merged: nameservers and searches appended without duplicates, options
 * by name (the pod's value wins). At most 3 nameservers and 32 search domains of 2048 characters
 * in all are kept (the kubelet's limits); what was cut is said in warnings.
 */
#ifndef TROUPE_PODDNS_H
#define TROUPE_PODDNS_H

#include <jansson.h>

typedef struct {
    const char *cluster_dns;    /* "10.96.0.10" or a comma-separated list; NULL or "": none */
    const char *cluster_domain; /* "cluster.local"; NULL or "": no cluster search domains */
    const char *host_resolv;    /* the node's resolv.conf text (NULL: empty) */
} poddns_node_t;

/* New {nameservers, searches, options}. warnings (may be NULL): an array to append messages to. */
json_t *poddns_config (const json_t *pod, const poddns_node_t *node, json_t *warnings);

#endif
