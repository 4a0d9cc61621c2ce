/* nominated — the nominated pods a scheduling cycle counts on their nodes (Kubernetes'
 * addNominatedPods), internal to the framework (framework.c): the nominator's index kept by
 * deltas (fw_nomindex_*, framework.h), a profile's index built from the nominator's each () while
 * its version holds (fw_nomix_build), and a node seen with the nominated pods that count for a pod
 * added (fw_nomix_with). */
#ifndef TROUPE_SCHED_NOMINATED_H
#define TROUPE_SCHED_NOMINATED_H

#include "actors/scheduler/framework.h"

#include <stddef.h>
#include <stdint.h>

/* At most this many nominated pods count on one node in a cycle. */
#define MAX_NOMINATED 256

typedef struct {
    const tr_sched_node_t *node;
    const tr_sched_pod_t *pod;
    size_t seq;       /* the nominator's order, kept among a node's pods */
    int32_t priority; /* the pod's, and a hash of its uid: a cycle's test of whether it counts */
    uint32_t uidh;    /* mostly needs no pointer chased (every node × every cycle) */
    /* the pod's requests, when it has no extended resource (scalar 0), that Filter adds to its
     * node: read here, not in the pod (a cache miss per nominated pod per node per cycle) */
    int64_t milli_cpu, memory, ephemeral_storage, pods, nonzero_milli_cpu, nonzero_memory;
    int scalar;
} nom_ent_t;

/* The nominations sorted by node (see fw_nomix_build): a profile's own, or the nominator's index's. */
struct nomcache {
    uint64_t version; /* the nominator's when built; 0: rebuilt every cycle */
    nom_ent_t *e;
    size_t n, cap;
    uintptr_t *keys;  /* e[i].node, what a node's binary search reads: 8 bytes an entry, not 96 */
    size_t capkeys;
    int32_t max_priority;
    const fw_env_t *env;  /* while building: node names resolved in this cycle's view */
};

/* The nominations, read from the nominator into an index sorted by node (a node's are found by
 * a binary search), kept by the profile while the nominator's version stays the same (its
 * pointers stay valid that long: the nominator bumps it when a nominated pod or a node changes).
 * A cycle counts those of priority >= its pod's, not itself (Kubernetes' addNominatedPods), and
 * skips the lookups when none can count. */
typedef struct nomix {
    const fw_nominator_t *env; /* asked node by node when it has no each () */
    const struct nomcache *c;  /* the index, when the nominator has each () */
    int any;                   /* some nomination may count for pod */
    const tr_sched_pod_t *pod;
    uint32_t uidh;             /* uid_hash of pod's uid */
} nomix_t;

/* ix for a cycle of pod: the nominator's index (nom->index, brought up to date), else own (the
 * profile's, built again from nom->each () when nom->version moved), else nom->nominated asked
 * node by node. Node names are resolved in env's view. */
void fw_nomix_build (nomix_t *ix, struct nomcache *own, const fw_nominator_t *nom, const fw_env_t *env,
                     const tr_sched_pod_t *pod);
/* node with the nominated pods that count for pod added (tmp; *buf set when their list did not
 * fit in room[nroom] and was allocated: the caller frees it), or node itself when none counts. */
const tr_sched_node_t *fw_nomix_with (const nomix_t *ix, const tr_sched_pod_t *pod, const tr_sched_node_t *node,
                                      tr_sched_node_t *tmp, const tr_sched_pod_t ***buf, const tr_sched_pod_t **room,
                                      size_t nroom);
/* 1 when Filter sees every node as it is, no nominated pod added (fw_nomix_with returns the node
 * itself): the nodes can then be filtered in chunks. */
int fw_nomix_none (const nomix_t *ix);
/* Frees what own holds (its arrays); own may be reused after. */
void fw_nomcache_clear (struct nomcache *own);

#endif
