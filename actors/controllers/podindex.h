/* podindex — the controllers' pods by their controller (ownerReference with controller: true)
 * and, for those without one, by namespace: a ReplicaSet's sync reads its own pods and its
 * namespace's orphans (the ones it may adopt), a Deployment's the pods of its ReplicaSets,
 * instead of walking every pod of the cluster on each sync (what Kubernetes' controllers get
 * from their informers' indexers); the disruption controller reads the pods of a budget's
 * namespace (podindex_ns) instead of copying every pod of the namespace out of the informer
 * on each budget sync. Kept by the pod informer's handlers. Pure.
 *
 * Each pod filed carries its facts (ctrl_podfacts_t: controller, active, Ready and since when),
 * taken when its version is put, with a reference to that version: a ReplicaSet's sync over
 * 10,000 pods reads those instead of looking each up in the informer and walking its
 * ownerReferences and conditions (at 10,000 replicas those walks took 1 ms of CPU a pod created,
 * the sync being run again for each batch of pod events). */
#ifndef TROUPE_PODINDEX_H
#define TROUPE_PODINDEX_H

#include "actors/controllers/ctrl.h"

#include <jansson.h>

typedef struct {
    json_t *owned;   /* controller uid → {"ns/name": entry} */
    json_t *orphans; /* namespace → {"ns/name": entry} */
    json_t *where;   /* namespace → {"ns/name": entry} */
    size_t n;        /* pods filed */
} podindex_t;

void podindex_init (podindex_t *x);
void podindex_destroy (podindex_t *x);
/* A pod added or changed (its controller may have changed: adoption, release). */
void podindex_put (podindex_t *x, const json_t *pod);
void podindex_del (podindex_t *x, const json_t *pod);
/* Borrowed sets, keys "ns/name", values entries (podindex_facts), or NULL when empty. */
const json_t *podindex_owned (const podindex_t *x, const char *uid);
const json_t *podindex_orphans (const podindex_t *x, const char *ns);
/* The pods of namespace ns, the same way, or NULL when there are none. */
const json_t *podindex_ns (const podindex_t *x, const char *ns);
size_t podindex_size (const podindex_t *x);
/* The facts of a set's value (their pod: the version last put; their memo may be written) */
ctrl_podfacts_t *podindex_facts (const json_t *entry);
/* Appends the facts of every pod of set (may be NULL) to *v (n used of cap, grown by realloc). */
void podindex_gather (const json_t *set, ctrl_podfacts_t ***v, size_t *n, size_t *cap);

#endif
