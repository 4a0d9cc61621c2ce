/* authz — who may do what: the broker's authoriser as one pure decision (no sockets, no broker
 * state), so that docs/roles.md and the code cannot drift (tests/unit/test_authz.c walks the
 * table and checks this function agrees with every cell).
 *
 * Roles (the role of a client certificate, cli/cmd_cluster.c):
 *   admin       everything (Kubernetes' cluster-admin).
 *   viewer      get/list/watch every kind except Secrets, and pods/log (Kubernetes' `view`).
 *   controller  the verbs and kinds the controllers and the scheduler use, nothing else
 *               (actors/controllers, actors/scheduler).
 *   node        Kubernetes' Node authorizer + NodeRestriction: reads pods and nodes; gets only the
 *               Secrets and ConfigMaps used by pods bound to it (never lists or watches them);
 *               writes only its own Node (and nodes/status), its own Lease (kube-node-lease/<node>),
 *               the status and the final deletion of pods bound to it, and Events.
 *
 * Verbs are Kubernetes' (get list watch create update patch delete); a subresource is "" (the
 * object), "status", "binding", "eviction" or "log". The broker maps its envelope verbs onto them
 * (az_verb_of): updateStatus = update of status, a patch with opts.subresource=binding = create of
 * pods/binding (as the api-server's Binding), a create with opts.subresource=eviction = create of
 * pods/eviction (the Eviction API), logs = get of pods/log.
 */
#ifndef TROUPE_AUTHZ_H
#define TROUPE_AUTHZ_H

#include "core/envelope.h"

#include <jansson.h>
#include <stddef.h>

typedef enum { ROLE_NONE = 0, ROLE_VIEWER, ROLE_NODE, ROLE_CONTROLLER, ROLE_ADMIN } role_t;

/* What the node authorizer needs from the cluster's state: the pods bound to node in namespace
 * ns (a new array, or NULL for none). In the broker, its watch cache. */
typedef struct {
    json_t *(*pods_on_node) (void *arg, const char *node, const char *ns);
    void *arg;
} az_lookup_t;

typedef struct {
    role_t role;
    const char *user;        /* the identity's name: a node's name for the node role */
    const char *verb;        /* get list watch create update patch delete */
    const char *kind;        /* schema kind name: "Pod", "Secret", ... */
    const char *subresource; /* "" or NULL, "status", "binding", "eviction", "log" */
    const char *ns;          /* namespace ("" for cluster-scoped kinds, or a list/watch of all) */
    const char *name;        /* object name ("" or NULL for list/watch/create without a name) */
    const json_t *obj;       /* the object as it would be stored (create, update, patch), or NULL */
    const json_t *old;       /* the stored object (update, patch, delete), or NULL */
} az_request_t;

/* 1 if allowed; 0 if not, with the reason (Kubernetes' wording where it has one) in why. */
int az_decide (const az_request_t *rq, const az_lookup_t *lookup, char *why, size_t whylen);

/* The role-level half of az_decide, for a write before its object is read (as the api-server's
 * authorizer runs before admission): 0, with why, when no rule of the role names this verb on this
 * resource, whatever the object; 1 when one might (az_decide then decides on the objects). */
int az_role_may (const az_request_t *rq, char *why, size_t whylen);

/* The api-server's Forbidden message for rq and the reason az_decide gave:
 *   nodes "n2" is forbidden: User "system:node:n1" cannot update resource "nodes" in API group ""
 *   at the cluster scope: a node may only write its own Node object */
void az_forbidden_message (const az_request_t *rq, const char *why, char *buf, size_t len);

/* Kubernetes' user name of an identity: "system:node:<name>" for a node, else the name. */
void az_user_name (role_t role, const char *name, char *buf, size_t len);

/* The Kubernetes verb and subresource of an envelope verb (opts: the request's options, for
 * opts.subresource). NULL verb for verbs that are not authorised per kind (ping, hello, ...). */
const char *az_verb_of (tr_verb_t verb, const json_t *opts, const char **subresource);

/* 1 if the pod uses Secret (secret != 0) or ConfigMap `name` in its own namespace: volumes
 * (secret, configMap, projected sources, csi and other plugins' secretRef), env valueFrom,
 * envFrom, imagePullSecrets — Kubernetes' podutil.VisitPodSecretNames/VisitPodConfigmapNames. */
int az_pod_uses (const json_t *pod, int secret, const char *name);

/* "admin", "viewer", ... and back (unknown: ROLE_NONE). */
const char *az_role_name (role_t r);
role_t az_role_parse (const char *s);

#endif
