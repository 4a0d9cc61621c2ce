/* defaultsel — Kubernetes' DefaultSelector (pkg/scheduler/framework/plugins/helper/spread.go),
 * the selector PodTopologySpread's default constraints count with, from the scheduler's listers.
 *
 * A store of the selectors of Services, ReplicationControllers, ReplicaSets and StatefulSets by
 * namespace and name (fed by informers, see defaultsel_view), and the merge for a pod:
 *   - every Service of the pod's namespace whose spec.selector (a label map) is non-empty and
 *     matches the pod's labels: its selector merged into one label map (GetPodServices);
 *   - the pod's controller (the first ownerReference with controller: true), looked up by name in
 *     its namespace when it is a v1 ReplicationController (its label map merged into the same
 *     map, winning on a conflicting key, as labels.Merge) or an apps/v1 ReplicaSet or StatefulSet
 *     (its LabelSelector's requirements ANDed in; a malformed or nil selector adds nothing);
 *     any other owner, or one not found, adds nothing.
 * The result is a metav1.LabelSelector: matchLabels from the label map, and the owner set's
 * requirements as matchExpressions (matchLabels as "In [v]", so a key the map also holds is
 * required twice, as selector.Add). No requirement at all: NULL (selector.Empty ()).
 */
#ifndef TROUPE_SCHED_DEFAULTSEL_H
#define TROUPE_SCHED_DEFAULTSEL_H

#include <jansson.h>

typedef struct defaultsel defaultsel_t;

typedef enum { DSEL_SERVICE = 0, DSEL_RC, DSEL_RS, DSEL_SS, DSEL_NKINDS } dsel_kind_t;

defaultsel_t *defaultsel_new (void);
void defaultsel_destroy (defaultsel_t **self_p);
/* An object of that kind added or updated (its metadata.namespace, metadata.name, spec.selector;
 * namespace absent: "default"), or deleted. */
void defaultsel_put (defaultsel_t *self, dsel_kind_t kind, const json_t *obj);
void defaultsel_del (defaultsel_t *self, dsel_kind_t kind, const json_t *obj);
/* What an informer needs to keep of such an object (troupe_informer_set_transform): metadata
 * name and namespace, spec.selector. A new reference. */
json_t *defaultsel_view (const json_t *obj);
/* The merged selector for a pod (its object; ns NULL: "default"; labels NULL: none): a new
 * LabelSelector, or NULL when nothing selects it. */
json_t *defaultsel_of_pod (const defaultsel_t *self, const json_t *pod, const char *ns, const json_t *labels);

#endif
