/* snapshot — the scheduler's view of the cluster, kept incrementally from the Node and Pod
 * informers (no per-tick rebuild): one tr_sched_node_t per node with its allocatable parsed once
 * into integers, the sums of the requests of the pods bound or assumed there, those pods, and a
 * generation moved on every change (from one counter for all nodes, as Kubernetes'
 * nextGeneration: a node deleted and made again never shows a generation it had). Pure: no I/O,
 * no clock.
 *
 * Pods the snapshot accounts are its own copies (tr_sched_pod_t filled once from the Pod JSON,
 * which it keeps a reference to). A pod is either bound (the informer showed spec.nodeName) or
 * assumed (the scheduler chose a node; the binding has not committed yet):
 *   assume  — placed before its binding commits, so the next pod sees it
 *   forget  — the binding failed: the assumption goes
 *   confirm — the informer shows it bound (snap_pod_bound): assumed → bound, or moved
 */
#ifndef TROUPE_SCHED_SNAPSHOT_H
#define TROUPE_SCHED_SNAPSHOT_H

#include "actors/scheduler/sched_plugin.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sched_snap sched_snap_t;

/* Fills pod from a Pod object (kept by reference, not copied: the caller keeps obj alive as
 * long as pod is used): names, labels, priority, effective requests = max (sum of containers,
 * each init container) + overhead, nonzero requests (100m / 200Mi for a container asking none),
 * node_name, has_affinity. Returns 0, or -1 when obj is not a Pod with a uid. */
int snap_pod_fill (tr_sched_pod_t *pod, const json_t *obj);
/* A heap copy holding a reference to obj (snap_pod_free releases both). */
tr_sched_pod_t *snap_pod_new (const json_t *obj);
void snap_pod_free (tr_sched_pod_t *pod);

/* A Node's allocatable → integers (cpu milli, bytes, pods, extended resources); a malformed
 * quantity counts 0 and is named in err (when not NULL). */
int snap_parse_res (const json_t *list, tr_sched_res_t *out, char *err, size_t errlen);
/* name interned for the process (what tr_sched_scalar_t.name points to), or NULL when it is 64
 * bytes or longer or the process already holds 1,024 names. */
const char *snap_intern_resource (const char *name);

sched_snap_t *snap_new (void);
void snap_destroy (sched_snap_t **self_p);

/* Node add or update: returns the TR_SCHED_EV_* bits of what changed that could matter to a
 * scheduling decision (0 for a heartbeat: only timestamps changed). */
uint32_t snap_node_set (sched_snap_t *self, const json_t *node);
void snap_node_delete (sched_snap_t *self, const char *name);

/* The informer shows the pod bound to spec.nodeName (confirms an assumption, or moves it).
 * Returns TR_SCHED_EV_POD_ADD when it is new here, TR_SCHED_EV_POD_LABEL when its labels
 * changed, 0 otherwise. */
uint32_t snap_pod_bound (sched_snap_t *self, const json_t *pod);
/* Deleted (or no longer bound): 1 if it was accounted. */
int snap_pod_delete (sched_snap_t *self, const char *uid);
/* Places pod on node before its binding commits. 0, or -1 if the node is unknown. */
int snap_assume (sched_snap_t *self, const json_t *pod, const char *node);
/* The same from the pod as snap_pod_new filled it (the scheduler's pending pod): its requests,
 * labels and times are taken as they are, not read from the object again. */
int snap_assume_pod (sched_snap_t *self, const tr_sched_pod_t *pod, const char *node);
/* The binding failed: drops the assumption (a confirmed pod stays). */
void snap_forget (sched_snap_t *self, const char *uid);
/* 1 if uid is accounted and still only assumed. */
int snap_is_assumed (sched_snap_t *self, const char *uid);

const tr_sched_snapshot_t *snap_view (sched_snap_t *self);
const tr_sched_node_t *snap_node (sched_snap_t *self, const char *name);

#endif
