/* routes — see routes.h. */
#include "actors/agent/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int proto;          /* routes_list: the marker; -1: find the default route */
    hostgw_route_t *v;
    size_t n, cap;
    int oif;            /* default route: its interface */
    uint32_t prefsrc;   /* and preferred source (network order), 0 if none */
    int found;
} dump_t;

static int
attr_cb (const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type (attr);
    if (mnl_attr_type_valid (attr, RTA_MAX) < 0)
        return MNL_CB_OK;
    switch (type) {
    case RTA_DST:
    case RTA_GATEWAY:
    case RTA_PREFSRC:
    case RTA_OIF:
    case RTA_TABLE:
        if (mnl_attr_validate (attr, MNL_TYPE_U32) < 0)
            return MNL_CB_OK; /* malformed: ignored */
        break;
    default: break;
    }
    tb[type] = attr;
    return MNL_CB_OK;
}

static int
route_cb (const struct nlmsghdr *nlh, void *data)
{
    dump_t *d = data;
    struct rtmsg *rm = mnl_nlmsg_get_payload (nlh);
    struct nlattr *tb[RTA_MAX + 1] = {0};
    if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len (nlh) < sizeof *rm || rm->rtm_family != AF_INET ||
        rm->rtm_dst_len > 32)
        return MNL_CB_OK;
    mnl_attr_parse (nlh, sizeof *rm, attr_cb, tb);
    uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32 (tb[RTA_TABLE]) : rm->rtm_table;
    if (table != RT_TABLE_MAIN || rm->rtm_type != RTN_UNICAST)
        return MNL_CB_OK;
    if (d->proto < 0) {
        if (rm->rtm_dst_len == 0 && !d->found && tb[RTA_OIF]) {
            d->found = 1;
            d->oif = (int) mnl_attr_get_u32 (tb[RTA_OIF]);
            d->prefsrc = tb[RTA_PREFSRC] ? mnl_attr_get_u32 (tb[RTA_PREFSRC]) : 0;
        }
        return MNL_CB_OK;
    }
    if (rm->rtm_protocol != d->proto)
        return MNL_CB_OK;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        hostgw_route_t *nv = realloc (d->v, d->cap * sizeof *nv);
        if (!nv)
            return MNL_CB_ERROR;
        d->v = nv;
    }
    hostgw_route_t *r = &d->v[d->n++];
    r->plen = rm->rtm_dst_len;
    r->dst = tb[RTA_DST] ? ntohl (mnl_attr_get_u32 (tb[RTA_DST])) : 0;
    r->gw = tb[RTA_GATEWAY] ? ntohl (mnl_attr_get_u32 (tb[RTA_GATEWAY])) : 0;
    return MNL_CB_OK;
}

/* mnl_cb_run over the well-formed messages at the start of buf: each header whole, its length
 * at least a header's and within what is left. libmnl's own check reads nlmsg_len as an int, so
 * a length of 2^31 or more would walk it out of the buffer (found by fuzz_routes). -1 when
 * something malformed follows them (what came before is still run). */
static int
run (const char *buf, size_t len, unsigned seq, unsigned portid, mnl_cb_t cb, void *data)
{
    size_t ok = 0;
    while (len - ok >= sizeof (struct nlmsghdr)) {
        const struct nlmsghdr *h = (const struct nlmsghdr *) (buf + ok);
        if (h->nlmsg_len < sizeof *h || h->nlmsg_len > len - ok)
            break;
        size_t step = MNL_ALIGN (h->nlmsg_len);
        ok += step < len - ok ? step : len - ok;
    }
    int r = ok ? mnl_cb_run (buf, ok, seq, portid, cb, data) : MNL_CB_OK;
    if (ok < len && r > MNL_CB_STOP) {
        errno = EBADMSG;
        return -1;
    }
    return r;
}

/* Sends nlh and runs cb over the answers (a dump, or the acknowledgement) until done. */
static int
talk (struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *err, size_t errlen)
{
    struct mnl_socket *nl = mnl_socket_open (NETLINK_ROUTE);
    if (!nl) {
        snprintf (err, errlen, "netlink: %s", strerror (errno));
        return -1;
    }
    int rc = -1;
    if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf (err, errlen, "netlink bind: %s", strerror (errno));
        goto out;
    }
    unsigned portid = mnl_socket_get_portid (nl);
    if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0) {
        snprintf (err, errlen, "netlink send: %s", strerror (errno));
        goto out;
    }
    static __thread char buf[32768] __attribute__ ((aligned (8))); /* a dump's messages fit a page; room to spare */
    int r = MNL_CB_OK;
    while (r > MNL_CB_STOP) {
        ssize_t len = mnl_socket_recvfrom (nl, buf, sizeof buf);
        if (len < 0) {
            snprintf (err, errlen, "netlink receive: %s", strerror (errno));
            goto out;
        }
        r = run (buf, (size_t) len, nlh->nlmsg_seq, portid, cb, data);
    }
    if (r < 0) {
        snprintf (err, errlen, "%s", strerror (errno));
        goto out;
    }
    rc = 0;
out:
    mnl_socket_close (nl);
    return rc;
}

static int
dump (dump_t *d, char *err, size_t errlen)
{
    char buf[512] __attribute__ ((aligned (8)));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = (unsigned) time (NULL);
    struct rtmsg *rm = mnl_nlmsg_put_extra_header (nlh, sizeof *rm);
    rm->rtm_family = AF_INET;
    return talk (nlh, route_cb, d, err, errlen);
}

int
routes_list (int proto, hostgw_route_t **out, size_t *n, char *err, size_t errlen)
{
    dump_t d = {.proto = proto};
    *out = NULL;
    *n = 0;
    if (dump (&d, err, errlen)) {
        free (d.v);
        return -1;
    }
    *out = d.v;
    *n = d.n;
    return 0;
}

int
routes_parse (const void *buf, size_t len, int proto, hostgw_route_t **out, size_t *n)
{
    dump_t d = {.proto = proto};
    int r = run (buf, len, 0, 0, route_cb, &d);
    *out = d.v;
    *n = d.n;
    return r < 0 ? -1 : 0;
}

int
routes_apply (const hostgw_action_t *a, int proto, char *err, size_t errlen)
{
    char buf[512] __attribute__ ((aligned (8)));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
    nlh->nlmsg_type = a->op == HOSTGW_DELETE ? RTM_DELROUTE : RTM_NEWROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    if (a->op == HOSTGW_ADD)
        nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
    else if (a->op == HOSTGW_REPLACE)
        nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
    nlh->nlmsg_seq = (unsigned) time (NULL);
    struct rtmsg *rm = mnl_nlmsg_put_extra_header (nlh, sizeof *rm);
    rm->rtm_family = AF_INET;
    rm->rtm_dst_len = (unsigned char) a->r.plen;
    rm->rtm_table = RT_TABLE_MAIN;
    rm->rtm_protocol = (unsigned char) proto;
    rm->rtm_scope = a->op == HOSTGW_DELETE ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
    rm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32 (nlh, RTA_DST, htonl (a->r.dst));
    mnl_attr_put_u32 (nlh, RTA_GATEWAY, htonl (a->r.gw));
    char what[80];
    hostgw_format (&a->r, what, sizeof what);
    char e[200];
    if (talk (nlh, NULL, NULL, e, sizeof e)) {
        snprintf (err, errlen, "%s %s: %s", a->op == HOSTGW_DELETE ? "delete" : a->op == HOSTGW_ADD ? "add" : "replace",
                  what, e);
        return -1;
    }
    return 0;
}

int
routes_default_ip (char *ip, size_t len)
{
    dump_t d = {.proto = -1};
    char err[200];
    if (dump (&d, err, sizeof err) || !d.found)
        return -1;
    if (d.prefsrc) {
        struct in_addr a = {d.prefsrc};
        return inet_ntop (AF_INET, &a, ip, (socklen_t) len) ? 0 : -1;
    }
    char name[IF_NAMESIZE];
    if (!if_indextoname ((unsigned) d.oif, name))
        return -1;
    struct ifaddrs *ifs;
    if (getifaddrs (&ifs))
        return -1;
    int rc = -1;
    for (struct ifaddrs *i = ifs; i && rc; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp (i->ifa_name, name))
            rc = inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, ip, (socklen_t) len) ? 0 : -1;
    freeifaddrs (ifs);
    return rc;
}
