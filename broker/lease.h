/* lease — which Lease updates are renewals (pure).
 *
 * An agent renews its node's Lease (kube-node-lease/<node>) every 10 s by moving spec.renewTime.
 * Such an update carries no other change, and on a replicated store it need not cost a Raft
 * entry on every server: the broker marks it as a renewal and the store may keep it in the
 * leader's memory (core/store_proto.h, docs/decisions.md "Lease renewals"). Anything else —
 * a new holder, duration, acquireTime, transitions, labels, annotations — is an ordinary write.
 */
#ifndef TROUPE_LEASE_H
#define TROUPE_LEASE_H

#include <jansson.h>

/* 1 if next differs from cur only in spec.renewTime (a string, later than or equal to cur's), the
 * server-owned metadata.resourceVersion / generation / managedFields aside; else 0. */
int lease_is_renewal (const json_t *cur, const json_t *next);

#endif
