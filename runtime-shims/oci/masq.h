/* masq — the node's one masquerade rule for its pod network, in an nftables table of its own
 * (libnftables), instead of the CNI bridge plugin's ipMasq, which adds an iptables chain and
 * rule per pod (four iptables runs per ADD, three per DEL, each slower as the nat table grows:
 * the largest share of a sandbox's cost in bench/runtime). flannel does the same (its --ip-masq
 * with the bridge's ipMasq off). The rule is what the plugin's per-pod chain says, once:
 *
 *   table ip <table> { chain postrouting { type nat hook postrouting priority srcnat;
 *       ip saddr <subnet> ip daddr != <cluster> ip daddr != 224.0.0.0/4 masquerade } }
 *
 * subnet is the node's pod CIDR, cluster the cluster's (every node's pod CIDR is in it; flannel's
 * Network): traffic from a pod to another pod, on this node or another, or to a multicast group
 * keeps its address; anything else leaving the node carries the node's. docs/decisions.md says why. */
#ifndef TROUPE_MASQ_H
#define TROUPE_MASQ_H

#include <stddef.h>

/* 1 if name can name the table here: 1 to 64 letters, digits or '_', not starting with a digit. */
int masq_table_valid (const char *name);

/* The rules for table, subnet and cluster (IPv4 CIDRs; cluster NULL or "": subnet), as nft's language: one transaction that makes
 * the table and chain if missing and replaces the chain's rules, so it can run any number of
 * times. NULL (err says which argument is wrong) when either is not valid. Caller frees. */
char *masq_ruleset (const char *table, const char *subnet, const char *cluster, char *err, size_t errlen);

/* Installs the ruleset (idempotent). 0, or -1 with nft's words in err. */
int masq_ensure (const char *table, const char *subnet, const char *cluster, char *err, size_t errlen);

/* Removes the table; one that does not exist is fine. 0, or -1 with err. */
int masq_remove (const char *table, char *err, size_t errlen);

/* The table's rules as `nft list table ip <table>` prints them (caller frees), or NULL when
 * there is no such table. For tests and `troupe runtime`-style inspection. */
char *masq_list (const char *table);

#endif
