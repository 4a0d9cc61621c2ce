/* routes — the host-gw routes on this machine, through rtnetlink (libmnl): list the IPv4 routes
 * of the main table with a given protocol marker, add / replace / delete one (hostgw.h decides
 * which), and the address of the interface the default route leaves by (the node's InternalIP,
 * as the kubelet picks it).
 *
 * ADD is NLM_F_CREATE|NLM_F_EXCL: a route to the same destination that is not ours stays, and the
 * add fails (EEXIST, said in err). REPLACE replaces ours. DELETE names protocol and gateway: the
 * kernel removes only a route that has both. Each call opens its own netlink socket (in the
 * caller's network namespace) and waits for the kernel's acknowledgement.
 */
#ifndef TROUPE_ROUTES_H
#define TROUPE_ROUTES_H

#include "actors/agent/hostgw.h"

#include <stddef.h>

/* Our routes: IPv4, main table, rtm_protocol == proto. *out malloc'd. 0, or -1 with err. */
int routes_list (int proto, hostgw_route_t **out, size_t *n, char *err, size_t errlen);

/* The routes of protocol proto in buf, netlink messages as a route dump brings them (what
 * routes_list reads; fuzzed: tests/fuzz/fuzz_routes.c). *out malloc'd (may be NULL when *n is
 * 0). 0, or -1 when buf is malformed or holds an error (the routes before it are kept). */
int routes_parse (const void *buf, size_t len, int proto, hostgw_route_t **out, size_t *n);

/* Applies one action with protocol proto. 0, or -1 with err (strerror of the kernel's answer). */
int routes_apply (const hostgw_action_t *a, int proto, char *err, size_t errlen);

/* The IPv4 address of the interface of the main table's default route (the first address of
 * that interface; the route's preferred source when it has one). 0, or -1 (no default route, or
 * no address on its interface). */
int routes_default_ip (char *ip, size_t len);

#endif
