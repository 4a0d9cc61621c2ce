/* dns_actor — the cluster DNS of a node, in the agent's process (as NodeLocal DNSCache runs on
 * every node): informers for Services, EndpointSlices and Pods fill a dns_view_t, and dnsserve
 * answers from it on the cluster DNS address, UDP and TCP port 53, in the actor's own loop (an
 * answer never waits for the store). Other names go to the node's resolvers. Until every
 * informer has listed (at most 5 s, CoreDNS's wait) cluster names are answered SERVFAIL, not an
 * NXDOMAIN a client would cache.
 *
 * Config (the node's config, as the agent gets it):
 *   clusterDNS     "10.96.0.10" (the kubelet's --cluster-dns; "" = no cluster DNS: not started)
 *   clusterDomain  "cluster.local"
 *   resolvConf     "/etc/resolv.conf": its nameservers (except clusterDNS) are the upstreams
 *   dnsListen      "IP:PORT" to listen there instead (tests): no interface is made
 *   dnsUpstreams   ["IP[:PORT]", …] instead of resolvConf's nameservers (tests)
 * Without dnsListen the address is put (as a /32) on a dummy interface troupe-dns0, made if
 * missing and deleted at an orderly shutdown (a kernel without the dummy driver: the address on
 * lo, labelled lo:troupe-dns, removed the same way). A failure to make it or to bind is logged and the
 * actor keeps running without sockets (the pods' DNS then fails, as with CoreDNS down).
 */
#ifndef TROUPE_DNS_ACTOR_H
#define TROUPE_DNS_ACTOR_H

#include "core/actor.h"

#define DNS_DEFAULT_CLUSTER_DNS "10.96.0.10"
#define DNS_DEFAULT_DOMAIN "cluster.local"
#define DNS_INTERFACE "troupe-dns0"

const troupe_actor_t *dns_actor (void);

#endif
