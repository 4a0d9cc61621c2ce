/* cni — pod networking through the CNI plugins (Debian containernetworking-plugins), as the
 * CNI spec 1.0 says a runtime calls them: the plugin binary from bin_dir, CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH in its environment, the network config
 * (with name, cniVersion, prevResult for chained plugins) on stdin, the result or an error
 * ({code, msg, details}) as JSON on stdout. Parsed with jansson.
 *
 * netns: each sandbox's network namespace is made by a child that unshares CLONE_NEWNET; the
 * parent bind-mounts /proc/<child>/ns/net onto <netns_dir>/<id> (as CRI-O's pinns, ip-netns):
 * the mount keeps it alive with no process in it. As ip-netns does with /run/netns, netns_dir
 * is made a shared mount (bound onto itself first if it is not a mount point) and stays one;
 * whoever removes the directory unmounts it (umount2 MNT_DETACH) first.
 *
 * Cache: state_dir/results/<id>.json (as libcni's /var/lib/cni/results) holds the conflist a
 * sandbox was ADDed with, its port mappings and the final result; DEL and CHECK use it, gc
 * finds orphans by it. IPAM leases live in state_dir/ipam (host-local's dataDir).
 * Debian 12's plugins (1.1.1) have two faults worked around here: bridge leaves its ipMasq
 * iptables chain when DEL comes without the netns (removed by cni_del itself, for sandboxes
 * ADDed when the conflist still had ipMasq on), and portmap's
 * CHECK of an IPv4-only pod with host ports fails on ip6tables (plugins#819; that error ignored).
 *
 * The conflist the node uses (written to conf_dir/10-troupe.conflist by cni_write_conflist):
 *   bridge (bridge name, isGateway, forceAddress — a new pod CIDR re-addresses the bridge —, ipMasq off — the node masquerades once, masq.h —, hairpinMode,
 *   ipam host-local over subnet with its
 *   dataDir under the node's data) → portmap (capabilities portMappings) → loopback handled
 *   separately on "lo".
 * Every call is bounded in time (timeout_s; a plugin that hangs is killed) and leaves nothing
 * half done that DEL would not remove.
 */
#ifndef TROUPE_CNI_H
#define TROUPE_CNI_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    char bin_dir[512];      /* "/usr/lib/cni" (Debian) */
    char conf_path[1024];   /* the conflist file */
    char netns_dir[512];    /* where pinned namespaces live, e.g. /run/troupe/<node>/netns */
    char state_dir[512];    /* host-local's dataDir and the cached results (for DEL after a crash) */
    char bridge[16];        /* "troupe0" (per node on a shared machine) */
    char subnet[64];        /* "10.88.0.0/16" → the pod CIDR */
    int timeout_s;          /* per plugin call; 0 = 10 */
    int ip_masq;            /* the bridge plugin's ipMasq: only where the node cannot masquerade (masq.h) */
} cni_config_t;

/* 1 if id can name a sandbox here (it names files): letters, digits, '-', '_', '.', not
 * starting with '.', 1 to 128 characters. Every function below refuses other ids. */
int cni_id_valid (const char *id);

/* Writes the conflist for c (atomically). 0 or -1 with err. */
int cni_write_conflist (const cni_config_t *c, char *err, size_t errlen);

/* Creates and pins a network namespace named id: path = <netns_dir>/<id>. An existing one is
 * refused (-1, err says so): remove it first. */
int cni_netns_create (const cni_config_t *c, const char *id, char *path, size_t pathlen, char *err, size_t errlen);
/* Unmounts (MNT_DETACH) and removes it; a missing one is fine. 0, or -1 (an invalid id, or the
 * unmount/unlink failed). */
int cni_netns_remove (const cni_config_t *c, const char *id);

/* The chain a pod runs: the conflist's plugins, but portmap (a plugin serving only the
 * portMappings capability) when the pod maps no host port — it would only take the iptables lock
 * for nothing (bench/runtime: 3 plugin runs per sandbox, the cost of 50 pods at once). New ref. */
json_t *cni_chain_for (const json_t *list, const json_t *port_mappings);

/* ADD on "eth0" (and "lo" up, by the loopback plugin). port_mappings: [{hostPort,
 * containerPort, protocol, hostIP}] as in a Pod's ports, or NULL; those without a hostPort are
 * dropped, protocols lower-cased. *result: the final CNI result (new ref; result may be NULL);
 * *ip: the pod's IPv4 address without prefix ("" if the result has none). A plugin failing in
 * the chain: DEL of every plugin up to it in reverse, then -1 with the plugin's error in err;
 * if that DEL fails too the cache record stays for a later cni_del or cni_gc. */
int cni_add (const cni_config_t *c, const char *id, const char *netns_path, const json_t *port_mappings, json_t **result,
             char *ip, size_t iplen, char *err, size_t errlen);
/* CHECK (each plugin in order, prevResult = the cached result). -1 with err when there is no
 * cached result, the netns is gone, or a plugin finds something wrong. 0 for a version < 0.4.0. */
int cni_check (const cni_config_t *c, const char *id, const char *netns_path, char *err, size_t errlen);
/* DEL, plugins in reverse (works without the netns, from the cached config and result, as the
 * spec wants; netns_path NULL or "" = the cached one). Every plugin is tried; the cache record
 * is removed only when all succeeded. DEL of an unknown id runs the current conflist: 0. */
int cni_del (const cni_config_t *c, const char *id, const char *netns_path, char *err, size_t errlen);

/* Orphans: every pinned netns, cached result and host-local lease whose id is not a key of live
 * is DELeted and its netns removed. Returns the number of ids fully cleaned (a failing DEL is
 * retried by the next gc). */
int cni_gc (const cni_config_t *c, const json_t *live);

/* What a plugin printed on stdout (out, len; need not end in NUL), exited_ok = it exited 0.
 * Success: 0 and *result = the result object (new ref; NULL when out is empty, as after DEL and
 * CHECK). An error object ({code, msg, details}, or any object with a code) or a failure:
 * -1 and err = "plugin <plugin>: <msg> (code N): <details>". Anything else: -1 naming what it
 * was. Never trusts out: it is fuzzed (tests/fuzz/fuzz_cni_result.c). result may be NULL. */
int cni_parse_output (const char *plugin, int exited_ok, const char *out, size_t len, json_t **result, char *err,
                      size_t errlen);
/* The pod's IPv4 address in a CNI result (0.3.0 to 1.0 shapes: ips[].address "a.b.c.d/len"),
 * without the prefix: the first on an interface inside the sandbox, else the first IPv4.
 * 0, or -1 with ip "" when there is none. */
int cni_result_ipv4 (const json_t *result, char *ip, size_t iplen);

/* The pod's /etc/hosts (localhost lines, then "<ip>\t<hostname>", then host_aliases [{ip,
 * hostnames[]}]) and /etc/resolv.conf (host_resolv's — NULL: /etc/resolv.conf — nameserver,
 * search and options lines, loopback nameservers dropped as unreachable from the pod, so none
 * may remain; or only dns_config {nameservers, searches, options[{name, value}]} when given)
 * as the kubelet writes them. Written atomically; a field that would break a line is refused. */
/* host_domain (NULL or ""): the pod's <subdomain>.<ns>.svc.<domain>; the pod's line is then
 * "ip<TAB>hostname.host_domain<TAB>hostname", as the kubelet writes it. */
int cni_write_hosts (const char *path, const char *ip, const char *hostname, const char *host_domain,
                     const json_t *host_aliases, char *err, size_t errlen);
int cni_write_resolv (const char *path, const char *host_resolv, const json_t *dns_config, char *err, size_t errlen);

#endif
