/* endpointslice — the EndpointSlice controller's decision, pure (Kubernetes' endpointslice
 * controller, discovery.k8s.io/v1).
 *
 * For a Service with a selector: its endpoints are the pods of its namespace that match the
 * selector, have a podIP, are not finished (Succeeded/Failed) and run on a node that exists;
 * each has addresses [podIP], conditions {ready: (Ready and not terminating) or the Service
 * publishes not-ready addresses, serving: Ready, terminating: deletionTimestamp set}, nodeName and
 * targetRef (the pod). Ports are resolved per pod: a numeric targetPort as is, a named one looked
 * up in the pod's containers' ports (name and protocol); a pod without it is left out of that port.
 * Pods with the same resolved ports share slices, at most EPS_MAX_ENDPOINTS endpoints each; a
 * Service with no endpoint keeps one empty slice (as Kubernetes' placeholder).
 *
 * Slices are IPv4, labelled kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by
 * = endpointslice-controller.k8s.io (plus the Service's labels), owned by the Service
 * (controller ownerReference). Names are `<service>-<5 chars>` derived from the Service's uid and
 * an ordinal, so that a create the controller's cache has not seen yet fails AlreadyExists instead
 * of making a second slice; updates and deletes carry the slice's resourceVersion.
 *
 * Actions: create the slices missing, update those whose content differs (an existing slice with
 * the same ports is reused), delete the managed ones left over. A Service without a selector gets
 * none of this (its slices are the user's). A deleted Service's slices go with it (garbage
 * collector, ownerReference).
 */
#ifndef TROUPE_ENDPOINTSLICE_H
#define TROUPE_ENDPOINTSLICE_H

#include "actors/controllers/ctrl.h"

#define EPS_MAX_ENDPOINTS 100
#define EPS_MANAGED_BY_LABEL "endpointslice.kubernetes.io/managed-by"
#define EPS_MANAGED_BY "endpointslice-controller.k8s.io"
#define EPS_SERVICE_LABEL "kubernetes.io/service-name"

/* svc: the Service; pods: pods of its namespace; slices: EndpointSlices of its namespace (those
 * the controller manages for svc are picked out); nodes: map node name → anything of the nodes
 * that exist (NULL: not checked). Appends actions to out; returns how many. */
int eps_reconcile (const json_t *svc, const json_t *pods, const json_t *slices, const json_t *nodes, ctrl_actions_t *out);

/* Is slice one the controller manages for the Service named svc_name? */
int eps_managed_for (const json_t *slice, const char *svc_name);

#endif
