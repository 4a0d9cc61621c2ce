/* svcalloc — see svcalloc.h. */
#include "broker/svcalloc.h"
#include "core/svcrules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
svcalloc_cidr_parse (const char *s, svc_cidr_t *out, char *err, size_t errlen)
{
    char ip[32];
    const char *slash = s ? strchr (s, '/') : NULL;
    unsigned base;
    char *end;
    if (!slash || (size_t) (slash - s) >= sizeof ip) {
        snprintf (err, errlen, "%s: not an IPv4 CIDR (like 10.96.0.0/16)", s ? s : "");
        return -1;
    }
    memcpy (ip, s, (size_t) (slash - s));
    ip[slash - s] = 0;
    long bits = strtol (slash + 1, &end, 10);
    if (!svc_parse_ipv4 (ip, &base) || *end || end == slash + 1 || bits < 8 || bits > 28) {
        snprintf (err, errlen, "%s: not an IPv4 CIDR of /8 to /28 (like 10.96.0.0/16)", s);
        return -1;
    }
    unsigned mask = bits == 0 ? 0 : ~0u << (32 - bits);
    if (base & ~mask) {
        snprintf (err, errlen, "%s: host bits are set (the network is %u.%u.%u.%u/%ld)", s, (base & mask) >> 24,
                  ((base & mask) >> 16) & 255, ((base & mask) >> 8) & 255, base & mask & 255, bits);
        return -1;
    }
    out->base = base;
    out->size = 1u << (32 - bits);
    return 0;
}

int
svcalloc_ports_parse (const char *s, svc_ports_t *out, char *err, size_t errlen)
{
    char *end;
    long lo = strtol (s ? s : "", &end, 10);
    long hi = -1;
    if (end != s && *end == '-') {
        const char *h = end + 1;
        hi = strtol (h, &end, 10);
        if (end == h)
            hi = -1;
    }
    if (!s || *end || lo < 1 || hi > 65535 || hi < lo) {
        snprintf (err, errlen, "%s: not a port range (like 30000-32767)", s ? s : "");
        return -1;
    }
    out->lo = (int) lo;
    out->hi = (int) hi;
    return 0;
}

static int
cmp_u (const void *a, const void *b)
{
    unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
    return x < y ? -1 : x > y;
}

void
svcalloc_sort (unsigned *taken, size_t n)
{
    if (n)
        qsort (taken, n, sizeof *taken, cmp_u);
}

static int
is_taken (unsigned v, const unsigned *taken, size_t n)
{
    return n && bsearch (&v, taken, n, sizeof *taken, cmp_u) != NULL;
}

int
svcalloc_ip_check (const svc_cidr_t *c, unsigned ip, const unsigned *taken, size_t n)
{
    /* the network and broadcast addresses are not in the valid range */
    if (ip <= c->base || ip >= c->base + c->size - 1)
        return SVCALLOC_OUT_OF_RANGE;
    return is_taken (ip, taken, n) ? SVCALLOC_TAKEN : SVCALLOC_OK;
}

int
svcalloc_ip_pick (const svc_cidr_t *c, const unsigned *taken, size_t n, unsigned seed, unsigned *out)
{
    unsigned usable = c->size - 2; /* offsets 1 .. size-2 */
    for (unsigned i = 0; i < usable; i++) {
        unsigned off = 1 + (seed + i) % usable;
        if (off == 1 || off == SVCALLOC_DNS_OFFSET)
            continue;
        if (!is_taken (c->base + off, taken, n)) {
            *out = c->base + off;
            return SVCALLOC_OK;
        }
    }
    return SVCALLOC_FULL;
}

int
svcalloc_port_check (const svc_ports_t *r, unsigned port, const unsigned *taken, size_t n)
{
    if (port < (unsigned) r->lo || port > (unsigned) r->hi)
        return SVCALLOC_OUT_OF_RANGE;
    return is_taken (port, taken, n) ? SVCALLOC_TAKEN : SVCALLOC_OK;
}

int
svcalloc_port_pick (const svc_ports_t *r, const unsigned *taken, size_t n, unsigned seed, unsigned *out)
{
    unsigned span = (unsigned) (r->hi - r->lo + 1);
    for (unsigned i = 0; i < span; i++) {
        unsigned p = (unsigned) r->lo + (seed + i) % span;
        if (!is_taken (p, taken, n)) {
            *out = p;
            return SVCALLOC_OK;
        }
    }
    return SVCALLOC_FULL;
}

void
svcalloc_ip_str (unsigned ip, char *buf, size_t len)
{
    snprintf (buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}
