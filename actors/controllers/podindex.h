/* podindex — the controllers' pods by their controller (ownerReference with controller: true)
 * and, for those without one, by namespace: a ReplicaSet's sync reads its own pods and its
 * namespace's orphans (the ones it may adopt), a Deployment's the pods of its ReplicaSets,
 * instead of walking every pod of the cluster on each sync (what Kubernetes' controllers get
 * from their informers' indexers); the disruption controller reads the pods of a budget's
 * namespace (podindex_ns) instead of copying every pod of the namespace out of the informer
 * on each budget sync. Kept by the pod informer's handlers. Pure: keys only
 * ("ns/name"); the objects stay in the informer. */
#ifndef TROUPE_PODINDEX_H
#define TROUPE_PODINDEX_H

#include <jansson.h>

typedef struct {
    json_t *owned;   /* controller uid → {"ns/name": true} */
    json_t *orphans; /* namespace → {"ns/name": true} */
    json_t *where;   /* namespace → {"ns/name" → the uid or "ns:<namespace>" it is filed under} */
    size_t n;        /* pods filed */
} podindex_t;

void podindex_init (podindex_t *x);
void podindex_destroy (podindex_t *x);
/* A pod added or changed (its controller may have changed: adoption, release). */
void podindex_put (podindex_t *x, const json_t *pod);
void podindex_del (podindex_t *x, const json_t *pod);
/* Borrowed sets of keys, or NULL when empty. */
const json_t *podindex_owned (const podindex_t *x, const char *uid);
const json_t *podindex_orphans (const podindex_t *x, const char *ns);
/* The pods of namespace ns: a borrowed object whose keys are their "ns/name" (the values are
 * where each is filed), or NULL when there are none. */
const json_t *podindex_ns (const podindex_t *x, const char *ns);
size_t podindex_size (const podindex_t *x);

#endif
