/* nodeipam — the node IPAM controller's decision, pure (kube-controller-manager's nodeipam with
 * --allocate-node-cidrs and the RangeAllocator).
 *
 * Every Node without spec.podCIDR gets one subnet of nodeCIDRMaskSize (24) bits carved from
 * clusterCIDR (10.244.0.0/16): a PATCH of spec.podCIDR and spec.podCIDRs (one IPv4 CIDR). What
 * is taken is recomputed every round from the Nodes themselves (the informer's list) plus the
 * allocations in flight, so a restarted controller never hands out a subnet a Node already holds,
 * and a deleted Node's subnet is free again once the Node is gone. A Node whose podCIDR lies
 * outside the cluster CIDR keeps it (it takes nothing from the range). When the range is full
 * the Node gets an Event CIDRNotAvailable (once, until it gets a subnet) and is retried at the
 * next round.
 *
 * As in Kubernetes' cidrset, the search starts after the last subnet handed out (a released one
 * is not re-used at once while others are free).
 */
#ifndef TROUPE_NODEIPAM_H
#define TROUPE_NODEIPAM_H

#include "actors/controllers/ctrl.h"

#include <stdint.h>

#define NODEIPAM_CLUSTER_CIDR "10.244.0.0/16"
#define NODEIPAM_MASK 24

typedef struct {
    uint32_t base;       /* the cluster CIDR's network address (host order) */
    int cluster_bits;    /* its prefix length */
    int node_bits;       /* the nodes' prefix length */
    uint32_t next;       /* index of the subnet to try first */
    json_t *pending;     /* node name → "cidr" patched but not yet seen on the Node */
    json_t *reported;    /* node name → true: told CIDRNotAvailable */
} nodeipam_t;

/* Parses an IPv4 CIDR "a.b.c.d/n" (host bits must be zero unless loose). 0, or -1. */
int nodeipam_parse (const char *cidr, uint32_t *addr, int *bits, int loose);

/* cluster_cidr: IPv4, its host bits zero; mask: its prefix length < mask <= 30, and at most 16
 * more bits than the cluster's (Kubernetes' limit). 0, or -1 with err. */
int nodeipam_init (nodeipam_t *s, const char *cluster_cidr, int mask, char *err, size_t errlen);
void nodeipam_clear (nodeipam_t *s);

/* One round over every Node (an array): PATCHes for Nodes lacking a podCIDR, Events for those
 * that cannot get one. A PATCH that failed: nodeipam_failed (its subnet is free again). */
void nodeipam_reconcile (nodeipam_t *s, const json_t *nodes, int64_t now_ms, ctrl_actions_t *out);
void nodeipam_failed (nodeipam_t *s, const char *node);
/* Whether a round would give node a subnet: it has none (spec.podCIDR or spec.podCIDRs) and is
 * not being deleted. The controller runs rounds only while such a Node exists. */
int nodeipam_wants (const json_t *node);

#endif
