/* proxyrules — the Service proxy's pure part: Services + EndpointSlices → the nftables rule model
 * (kube-proxy's nftables mode), and old model + new model → one nft transaction.
 *
 * Layout of table `ip troupe-proxy` (as kube-proxy's `ip kube-proxy`):
 *   maps    service-ips        ipv4_addr . inet_proto . inet_service : verdict  (ClusterIP → goto service-…)
 *           service-nodeports  inet_proto . inet_service : verdict              (NodePort → goto external-…)
 *           no-endpoint-services / no-endpoint-nodeports                         (→ goto reject-chain)
 *   base    nat-prerouting, nat-output (dstnat: jump services), nat-postrouting (srcnat: jump masquerading),
 *           filter-input, filter-forward, filter-output (priority -110: the no-endpoint checks)
 *   chains  services: ClusterIP vmap, then `fib daddr type local` NodePort vmap
 *           service-HASH-ns/name/proto/port: masquerade traffic from outside the cluster CIDR,
 *             session affinity (ip saddr @affinity-… goto endpoint-…), then
 *             numgen random mod N vmap { 0 : goto endpoint-…, … }
 *           external-HASH-…: mark for masquerade, goto service-…
 *           endpoint-HASH-…__ip/port: hairpin mark (ip saddr = the endpoint), [update affinity set], dnat
 *           mark-for-masquerade, masquerading (mark 0x4000 → masquerade fully-random), reject-chain
 * Endpoints: ready ones (conditions.ready absent = ready); when none is ready, the serving and
 * terminating ones (kube-proxy's fallback); none → the Service port is rejected.
 * Every text that reaches the nft script is validated here (names, addresses, ports): the
 * script cannot be injected into from an object's fields. */
#ifndef TROUPE_PROXYRULES_H
#define TROUPE_PROXYRULES_H

#include <jansson.h>
#include <stddef.h>

#define PR_TABLE "troupe-proxy"

typedef struct {
    char *name;
    char *spec;     /* base chains: "{ type nat hook … }"; NULL for regular chains */
    char **rules;   /* rule texts as given to `add rule` */
    size_t nrules;
    int unknown;    /* read back from the kernel: its rules are not known, rewrite it */
} pr_chain_t;

typedef struct {
    char *map;      /* service-ips, service-nodeports, no-endpoint-services, no-endpoint-nodeports */
    char *key;      /* "10.96.0.10 . tcp . 53" or "tcp . 30080" */
    char *value;    /* "goto service-…" */
} pr_elem_t;

typedef struct {
    char *name;
    char *spec;     /* "{ type ipv4_addr; flags dynamic,timeout; timeout 10800s; }" */
} pr_set_t;

typedef struct {
    pr_chain_t *chains; size_t nchains, cchains;   /* sorted by name */
    pr_elem_t *elems; size_t nelems, celems;       /* sorted by map, key */
    pr_set_t *sets; size_t nsets, csets;           /* sorted by name */
    int readback;   /* made by pr_model_from_nft_json: the table exists, chain contents unknown */
} pr_model_t;

/* The desired model. services: array of v1 Service objects; slices: array of discovery.k8s.io/v1
 * EndpointSlice objects; cluster_cidr "10.244.0.0/16" (NULL/"": no masquerade of off-cluster
 * ClusterIP traffic). Objects with invalid fields are skipped (counted in *skipped if given). */
pr_model_t *pr_model_build (const json_t *services, const json_t *slices, const char *cluster_cidr, int *skipped);

/* The model of a table as listed by `nft -j list table ip troupe-proxy` (libnftables JSON output):
 * chains (rules unknown), sets and map elements. NULL if the text is not such a listing. */
pr_model_t *pr_model_from_nft_json (const char *text);

/* The nft script turning old into new. old NULL: the table does not exist (the whole table is
 * created). old->readback: every desired chain is flushed and rewritten, stale chains, sets and
 * elements deleted. Otherwise only what differs: new chains added, changed chains flushed and
 * refilled, removed ones flushed and deleted, map elements added/deleted one by one.
 * Returns "" (allocated) when nothing differs; NULL on out of memory. */
char *pr_diff (const pr_model_t *old, const pr_model_t *new_);

/* Script deleting the table (ok when absent on nft 1.0.6: add first). */
char *pr_delete_script (void);

void pr_model_free (pr_model_t **m);

/* The stable short hash of kube-proxy's chain names: 8 lowercase base32 characters of key. */
void pr_hash (const char *key, char out[9]);

/* A chain's rules, for tests; NULL if absent. */
const pr_chain_t *pr_model_chain (const pr_model_t *m, const char *name);
/* Number of chains whose name starts with prefix. */
size_t pr_model_count_chains (const pr_model_t *m, const char *prefix);
/* The value of map's element key, or NULL. */
const char *pr_model_elem (const pr_model_t *m, const char *map, const char *key);

#endif
