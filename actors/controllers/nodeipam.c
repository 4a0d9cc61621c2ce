/* nodeipam — see nodeipam.h. */
#include "actors/controllers/nodeipam.h"
#include "core/meta.h"
#include "core/value.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
nodeipam_parse (const char *cidr, uint32_t *addr, int *bits, int loose)
{
    char ip[32];
    const char *slash = cidr ? strchr (cidr, '/') : NULL;
    if (!slash || (size_t) (slash - cidr) >= sizeof ip)
        return -1;
    memcpy (ip, cidr, (size_t) (slash - cidr));
    ip[slash - cidr] = 0;
    struct in_addr a;
    if (inet_pton (AF_INET, ip, &a) != 1)
        return -1;
    char *end;
    if (!slash[1] || slash[1] < '0' || slash[1] > '9')
        return -1;
    long n = strtol (slash + 1, &end, 10);
    if (*end || n < 0 || n > 32)
        return -1;
    uint32_t h = ntohl (a.s_addr), m = n ? ~0u << (32 - n) : 0;
    if (!loose && (h & ~m))
        return -1;
    *addr = h & m;
    *bits = (int) n;
    return 0;
}

int
nodeipam_init (nodeipam_t *s, const char *cluster_cidr, int mask, char *err, size_t errlen)
{
    memset (s, 0, sizeof *s);
    if (nodeipam_parse (cluster_cidr, &s->base, &s->cluster_bits, 0)) {
        snprintf (err, errlen, "clusterCIDR \"%s\": not an IPv4 CIDR with its host bits zero", cluster_cidr ? cluster_cidr : "");
        return -1;
    }
    if (mask <= s->cluster_bits || mask > 30 || mask - s->cluster_bits > 16) {
        snprintf (err, errlen,
                  "nodeCIDRMaskSize %d: must be longer than the cluster CIDR's /%d, at most 30 and at most 16 bits more",
                  mask, s->cluster_bits);
        return -1;
    }
    s->node_bits = mask;
    s->pending = json_object ();
    s->reported = json_object ();
    return 0;
}

void
nodeipam_clear (nodeipam_t *s)
{
    json_decref (s->pending);
    json_decref (s->reported);
    s->pending = s->reported = NULL;
}

static uint32_t
count_of (const nodeipam_t *s)
{
    return 1u << (s->node_bits - s->cluster_bits);
}

/* Marks every subnet of the range that cidr overlaps (none when it lies outside). */
static void
mark (const nodeipam_t *s, uint8_t *used, const char *cidr)
{
    uint32_t a;
    int bits;
    if (nodeipam_parse (cidr, &a, &bits, 1))
        return;
    /* the overlap of [a, a+size) with the range, in subnets */
    uint64_t lo = a, hi = (uint64_t) a + (bits ? (1ull << (32 - bits)) : (1ull << 32));
    uint64_t rlo = s->base, rhi = (uint64_t) s->base + (1ull << (32 - s->cluster_bits));
    if (hi <= rlo || lo >= rhi)
        return;
    if (lo < rlo)
        lo = rlo;
    if (hi > rhi)
        hi = rhi;
    int shift = 32 - s->node_bits;
    for (uint64_t i = (lo - rlo) >> shift; i < ((hi - rlo + (1ull << shift) - 1) >> shift); i++)
        used[i] = 1;
}

static void
format (const nodeipam_t *s, uint32_t idx, char *buf, size_t len)
{
    struct in_addr a = {htonl (s->base + (idx << (32 - s->node_bits)))};
    char ip[INET_ADDRSTRLEN];
    inet_ntop (AF_INET, &a, ip, sizeof ip);
    snprintf (buf, len, "%s/%d", ip, s->node_bits);
}

static const char *
pod_cidr_of (const json_t *node)
{
    const char *c = tv_str (node, "spec.podCIDR");
    if (c && *c)
        return c;
    c = json_string_value (json_array_get (tv_get (node, "spec.podCIDRs"), 0));
    return c && *c ? c : NULL;
}

void
nodeipam_reconcile (nodeipam_t *s, const json_t *nodes, int64_t now_ms, ctrl_actions_t *out)
{
    uint32_t n = count_of (s);
    uint8_t *used = calloc (n, 1);
    size_t i;
    json_t *node;
    json_t *seen = json_object ();
    json_array_foreach (nodes, i, node) {
        const char *name = tv_str (node, "metadata.name"), *c = pod_cidr_of (node);
        if (!name)
            continue;
        json_object_set_new (seen, name, json_true ());
        if (c) {
            mark (s, used, c);
            json_object_del (s->pending, name);
            json_object_del (s->reported, name);
        }
    }
    /* allocations in flight hold their subnet; those of Nodes gone are forgotten */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (s->pending, tmp, k, v) {
        if (!json_object_get (seen, k))
            json_object_del (s->pending, k);
        else
            mark (s, used, json_string_value (v));
    }
    json_object_foreach_safe (s->reported, tmp, k, v) if (!json_object_get (seen, k)) json_object_del (s->reported, k);
    json_array_foreach (nodes, i, node) {
        const char *name = tv_str (node, "metadata.name");
        if (!name || pod_cidr_of (node) || json_object_get (s->pending, name) || tv_get (node, "metadata.deletionTimestamp"))
            continue;
        uint32_t idx = n;
        for (uint32_t j = 0; j < n; j++)
            if (!used[(s->next + j) % n]) {
                idx = (s->next + j) % n;
                break;
            }
        if (idx == n) {
            if (!json_object_get (s->reported, name)) {
                char msg[300];
                snprintf (msg, sizeof msg, "Node %s status is now: CIDRNotAvailable", name);
                ctrl_actions_add (out, TR_VERB_CREATE, "Event", "default", NULL, 0,
                                  tr_event_new (node, "Normal", "CIDRNotAvailable", msg, "cidrAllocator", NULL, now_ms), name);
                json_object_set_new (s->reported, name, json_true ());
            }
            continue;
        }
        used[idx] = 1;
        s->next = (idx + 1) % n;
        char cidr[32];
        format (s, idx, cidr, sizeof cidr);
        json_object_set_new (s->pending, name, json_string (cidr));
        json_object_del (s->reported, name);
        ctrl_actions_add (out, TR_VERB_PATCH, "Node", "", name, 0, /* a heartbeat must not make it conflict */
                          json_pack ("{s:{s:s,s:[s]}}", "spec", "podCIDR", cidr, "podCIDRs", cidr), name);
    }
    json_decref (seen);
    free (used);
}

int
nodeipam_wants (const json_t *node)
{
    return !pod_cidr_of (node) && !tv_get (node, "metadata.deletionTimestamp");
}

void
nodeipam_failed (nodeipam_t *s, const char *node)
{
    json_object_del (s->pending, node);
}
