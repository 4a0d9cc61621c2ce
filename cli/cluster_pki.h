/* cluster_pki — every server of a replicated cluster serves with the same keys, so a client
 * config listing all servers authenticates to any of them (k3s keeps its CA in the datastore the
 * same way). The first server publishes its pki (server key pair, admin key, client
 * certificates) into the replicated store under /troupe/pki/ — outside /registry/, invisible to
 * the API — sealed with a key derived from the cluster key (libsodium secretbox); a server that
 * joins installs them in its own DATA/pki before its broker starts.
 */
#ifndef TROUPE_CLUSTER_PKI_H
#define TROUPE_CLUSTER_PKI_H

#include <czmq.h>

typedef struct store store_t;

/* Installs the cluster's keys from the store at store_endpoint into data/pki, publishing this
 * server's own first if the store has none and joining is 0. 0 or -1 (none within timeout_ms). */
int cluster_pki_sync (const char *data, const char *store_endpoint, zcert_t *cluster, int joining, int timeout_ms);

/* One round: publishes local files the store lacks (a node certificate made here with
 * `troupe init node`), installs those made elsewhere. Servers run it every few seconds. */
void cluster_pki_refresh (const char *data, const char *store_endpoint, zcert_t *cluster);

/* How many files this process has proposed, and sealed store entries it has opened, since it
 * started (each round does only what changed: tests). */
void cluster_pki_counts (size_t *proposed, size_t *opened);

/* Deletes every key under /troupe/pki/ from st, the store of a snapshot being restored: the old
 * cluster's keys (sealed with its cluster key) do not belong to the new one, whose first server
 * publishes its own. 0, or -1 when a deletion failed. */
int cluster_pki_drop (store_t *st);

/* Records this server's name for its Raft id (/troupe/members/<id>), shown by `store status`.
 * Retries until the store has a leader. 0 or -1. */
int cluster_register_member (const char *store_endpoint, const char *name, int timeout_ms);

#endif
