/* sched — the scheduling decision, pure: (pod, nodes, what is already placed) → a node or the
 * reasons none fits. Kubernetes' framework split: filter plugins say yes/no per node with a
 * reason; score plugins rank the survivors 0..100, weighted; the best wins, ties spread
 * round-robin.
 *
 * Built-in plugins: NodeUnschedulable, NodeReady, NodeResourcesFit (cpu, memory, pod count vs
 * allocatable minus requests of pods bound or assumed there), NodeSelector, TaintToleration;
 * score NodeResourcesLeastAllocated.
 */
#ifndef TROUPE_SCHED_H
#define TROUPE_SCHED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sched sched_t;

typedef struct {
    int64_t cpu_milli;
    int64_t memory;
    int64_t pods;
} sched_res_t;

/* A filter returns NULL when the node fits, else a short reason ("Insufficient cpu"). */
typedef const char *(*sched_filter_fn) (sched_t *s, const json_t *pod, const json_t *node);
/* A score returns 0..100 for a node that passed every filter. */
typedef int (*sched_score_fn) (sched_t *s, const json_t *pod, const json_t *node);

sched_t *sched_new (void);
void sched_destroy (sched_t **self_p);

/* Registers a plugin (the built-ins are registered by sched_new). 0, or -1 when the table is full. */
int sched_add_filter (sched_t *self, const char *name, sched_filter_fn fn);
int sched_add_score (sched_t *self, const char *name, sched_score_fn fn, int weight);

/* Sum of the pod's container requests (missing requests count as 0; pods count 1). */
void sched_pod_requests (const json_t *pod, sched_res_t *out);
/* Accounts pod (by uid) on node; adding the same uid again moves it. Used both for pods the
 * informer shows bound and for pods just bound but not yet seen ("assumed"). */
void sched_usage_add (sched_t *self, const char *node, const json_t *pod);
/* Forgets a pod (deleted, or its binding failed). */
void sched_usage_remove (sched_t *self, const char *pod_uid);
/* Requests accounted on node. */
void sched_usage_of (sched_t *self, const char *node, sched_res_t *out);

/* Chooses a node among nodes (array of Node objects) for pod. Returns 0 with the name in
 * chosen, or -1 with why = Kubernetes' FitError text ("0/3 nodes are available: 1 Insufficient
 * cpu, 2 node(s) didn't match Pod's node affinity/selector."). */
int sched_schedule (sched_t *self, const json_t *pod, const json_t *nodes, char *chosen, size_t clen, char *why,
                    size_t wlen);

#endif
