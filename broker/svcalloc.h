/* svcalloc — Service cluster IPs and node ports, pure (the broker keeps the taken sets; see
 * broker_svc.c and docs/decisions.md "Service allocations").
 *
 * Cluster IPs come from the service CIDR (--service-cidr, default 10.96.0.0/16) without its
 * network and broadcast addresses, as Kubernetes' allocator. Two addresses are never given
 * automatically but may be requested: the first (.1, Kubernetes' `kubernetes` Service) and the
 * tenth (.10, the cluster DNS Service, SVCALLOC_DNS_OFFSET). Node ports come from
 * --service-node-port-range (default 30000-32767). A taken set is a sorted array of values;
 * automatic picks start at a random point (seed) and take the next free value, wrapping.
 */
#ifndef TROUPE_SVCALLOC_H
#define TROUPE_SVCALLOC_H

#include <stddef.h>

#define SVCALLOC_DEFAULT_CIDR "10.96.0.0/16"
#define SVCALLOC_DEFAULT_PORTS "30000-32767"
#define SVCALLOC_DNS_OFFSET 10

typedef struct {
    unsigned base; /* network address, host order */
    unsigned size; /* addresses in the block */
} svc_cidr_t;

typedef struct {
    int lo, hi;
} svc_ports_t;

enum { SVCALLOC_OK = 0, SVCALLOC_TAKEN = 1, SVCALLOC_OUT_OF_RANGE = 2, SVCALLOC_FULL = 3 };

/* "10.96.0.0/16": an IPv4 block of /8 to /28 whose host bits are zero. 0, or -1 with err. */
int svcalloc_cidr_parse (const char *s, svc_cidr_t *out, char *err, size_t errlen);
/* "30000-32767" within 1-65535, lo <= hi. 0, or -1 with err. */
int svcalloc_ports_parse (const char *s, svc_ports_t *out, char *err, size_t errlen);

/* Sorts a taken array in place (for the functions below). */
void svcalloc_sort (unsigned *taken, size_t n);

/* A requested address: SVCALLOC_OK, SVCALLOC_TAKEN, SVCALLOC_OUT_OF_RANGE. */
int svcalloc_ip_check (const svc_cidr_t *c, unsigned ip, const unsigned *taken, size_t n);
/* The next free address from a random point (seed), skipping the reserved ones: SVCALLOC_OK
 * with *out, or SVCALLOC_FULL. */
int svcalloc_ip_pick (const svc_cidr_t *c, const unsigned *taken, size_t n, unsigned seed, unsigned *out);

int svcalloc_port_check (const svc_ports_t *r, unsigned port, const unsigned *taken, size_t n);
int svcalloc_port_pick (const svc_ports_t *r, const unsigned *taken, size_t n, unsigned seed, unsigned *out);

/* "10.96.0.10" into buf (16 bytes at least). */
void svcalloc_ip_str (unsigned ip, char *buf, size_t len);

#endif
