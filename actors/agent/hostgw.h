/* hostgw — the pod network across nodes as flannel's host-gw backend, the decision (pure).
 *
 * Every node routes each other node's pod CIDR through that node's address on the shared
 * network: `<podCIDR> via <InternalIP>` in the main table. The routes the agent installs carry a
 * protocol marker of their own (HOSTGW_PROTO in rtm_protocol, `proto 84` in `ip route`), so that
 * after a restart it finds them again (routes.h lists them), replaces those whose node moved and
 * deletes those whose node is gone; routes with another protocol are never touched.
 *
 * Wanted: for every Node but this one with an IPv4 spec.podCIDR (or spec.podCIDRs[0]) and an
 * InternalIP in status.addresses — but not a Node whose InternalIP is this node's own (a route
 * through ourselves) nor one whose pod CIDR overlaps this node's (ours is on the bridge).
 */
#ifndef TROUPE_HOSTGW_H
#define TROUPE_HOSTGW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTGW_PROTO 84 /* rtm_protocol of the agent's routes (unassigned in iproute2's rt_protos) */

typedef struct {
    uint32_t dst;   /* network, host byte order */
    int plen;
    uint32_t gw;    /* host byte order */
} hostgw_route_t;

typedef enum { HOSTGW_ADD, HOSTGW_REPLACE, HOSTGW_DELETE } hostgw_op_t;

typedef struct {
    hostgw_op_t op;
    hostgw_route_t r;   /* DELETE: the route as it is */
} hostgw_action_t;

/* The routes wanted for nodes (an array of Nodes) as seen by node self with address self_ip
 * (dotted, may be NULL) and pod CIDR self_cidr (may be NULL). *out: malloc'd (free it), sorted
 * by dst; returns the count. */
size_t hostgw_want (const json_t *nodes, const char *self, const char *self_ip, const char *self_cidr,
                    hostgw_route_t **out);

/* What turns have (our routes as listed) into want: ADD for a destination we lack, REPLACE for
 * one through another gateway, DELETE for ours no longer wanted (and duplicates). *out:
 * malloc'd; returns the count (0: in step). */
size_t hostgw_plan (const hostgw_route_t *want, size_t nw, const hostgw_route_t *have, size_t nh,
                    hostgw_action_t **out);

/* "10.244.1.0/24 via 192.168.1.2" */
void hostgw_format (const hostgw_route_t *r, char *buf, size_t len);

#endif
