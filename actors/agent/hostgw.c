/* hostgw — see hostgw.h. */
#include "actors/agent/hostgw.h"
#include "actors/controllers/nodeipam.h"
#include "core/value.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
pod_cidr_of (const json_t *node)
{
    const char *c = tv_str (node, "spec.podCIDR");
    if (c && *c)
        return c;
    c = json_string_value (json_array_get (tv_get (node, "spec.podCIDRs"), 0));
    return c && *c ? c : NULL;
}

static const char *
internal_ip_of (const json_t *node)
{
    size_t i;
    json_t *a;
    json_array_foreach (tv_get (node, "status.addresses"), i, a) if (tv_str (a, "type") &&
                                                                    !strcmp (tv_str (a, "type"), "InternalIP"))
    {
        struct in_addr in;
        const char *ip = tv_str (a, "address");
        if (ip && inet_pton (AF_INET, ip, &in) == 1)
            return ip;
    }
    return NULL;
}

static int
overlap (uint32_t a, int al, uint32_t b, int bl)
{
    int l = al < bl ? al : bl;
    uint32_t m = l ? ~0u << (32 - l) : 0;
    return (a & m) == (b & m);
}

static int
by_dst (const void *x, const void *y)
{
    const hostgw_route_t *a = x, *b = y;
    if (a->dst != b->dst)
        return a->dst < b->dst ? -1 : 1;
    return a->plen - b->plen;
}

size_t
hostgw_want (const json_t *nodes, const char *self, const char *self_ip, const char *self_cidr, hostgw_route_t **out)
{
    size_t n = 0, i;
    json_t *node;
    *out = calloc (json_array_size (nodes) + 1, sizeof **out);
    uint32_t sdst = 0;
    int splen = -1;
    if (self_cidr && nodeipam_parse (self_cidr, &sdst, &splen, 1))
        splen = -1;
    struct in_addr sip = {0};
    int have_sip = self_ip && inet_pton (AF_INET, self_ip, &sip) == 1;
    json_array_foreach (nodes, i, node) {
        const char *name = tv_str (node, "metadata.name"), *cidr = pod_cidr_of (node), *ip = internal_ip_of (node);
        hostgw_route_t r;
        struct in_addr gw;
        if (!name || (self && !strcmp (name, self)) || !cidr || !ip || nodeipam_parse (cidr, &r.dst, &r.plen, 1) ||
            inet_pton (AF_INET, ip, &gw) != 1 || r.plen == 0)
            continue;
        r.gw = ntohl (gw.s_addr);
        if ((have_sip && gw.s_addr == sip.s_addr) || (splen >= 0 && overlap (r.dst, r.plen, sdst, splen)))
            continue;
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= (*out)[j].dst == r.dst && (*out)[j].plen == r.plen;
        if (!dup) /* two Nodes claiming one subnet: the first keeps it */
            (*out)[n++] = r;
    }
    qsort (*out, n, sizeof **out, by_dst);
    return n;
}

size_t
hostgw_plan (const hostgw_route_t *want, size_t nw, const hostgw_route_t *have, size_t nh, hostgw_action_t **out)
{
    size_t n = 0;
    *out = calloc (nw + nh + 1, sizeof **out);
    char *matched = calloc (nh + 1, 1);
    for (size_t i = 0; i < nw; i++) {
        size_t j;
        for (j = 0; j < nh; j++)
            if (!matched[j] && have[j].dst == want[i].dst && have[j].plen == want[i].plen)
                break;
        if (j == nh)
            (*out)[n++] = (hostgw_action_t){HOSTGW_ADD, want[i]};
        else {
            matched[j] = 1;
            if (have[j].gw != want[i].gw)
                (*out)[n++] = (hostgw_action_t){HOSTGW_REPLACE, want[i]};
        }
    }
    for (size_t j = 0; j < nh; j++)
        if (!matched[j])
            (*out)[n++] = (hostgw_action_t){HOSTGW_DELETE, have[j]};
    free (matched);
    return n;
}

void
hostgw_format (const hostgw_route_t *r, char *buf, size_t len)
{
    struct in_addr d = {htonl (r->dst)}, g = {htonl (r->gw)};
    char ds[INET_ADDRSTRLEN], gs[INET_ADDRSTRLEN];
    inet_ntop (AF_INET, &d, ds, sizeof ds);
    inet_ntop (AF_INET, &g, gs, sizeof gs);
    snprintf (buf, len, "%s/%d via %s", ds, r->plen, gs);
}
