/* proxy_actor — kube-proxy (nftables mode) as an actor on every node: informers for Services
 * and EndpointSlices; a change arms a sync within PROXY_BATCH_MS (troupe_timer_within: a stream
 * of events batches, it cannot push the sync back forever); a sync builds the rule model
 * (proxyrules.h) and applies only its difference with the last one as one nft transaction
 * (proxynft.h). At the first sync, and after a failed one, the table is read back from the
 * kernel and reconciled (a proxy killed -9 leaves nothing stale). A failed sync is retried with
 * back-off (1 s doubling to 30 s). Destroyed (orderly stop of the node): the table is deleted.
 * Until the broker serves both kinds (probed every 30 s) it waits quietly.
 * Every tableCheckSeconds (30) the table's presence is checked: deleted behind its back (`nft
 * flush ruleset`, a firewall reload) it is written again.
 * Config: clusterCIDR (default 10.244.0.0/16: traffic to a ClusterIP from outside it is
 * masqueraded, as kube-proxy's --cluster-cidr), tableCheckSeconds (30). */
#ifndef TROUPE_PROXY_ACTOR_H
#define TROUPE_PROXY_ACTOR_H

#include "core/actor.h"

#define PROXY_BATCH_MS 20

const troupe_actor_t *proxy_actor (void);

#endif
