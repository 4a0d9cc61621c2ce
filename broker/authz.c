/* authz — see authz.h. The rules are data (rules[] below); docs/roles.md is the same table for
 * people, and tests/unit/test_authz.c checks that they agree cell by cell. */
#include "broker/authz.h"
#include "core/value.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* ---- kinds ---------------------------------------------------------------------------------- */

typedef struct {
    const char *kind, *plural, *group;
    int namespaced;
} kind_info_t;

static const kind_info_t kinds[] = {
    {"Namespace", "namespaces", "", 0},  {"Pod", "pods", "", 1},
    {"ReplicaSet", "replicasets", "apps", 1}, {"Deployment", "deployments", "apps", 1},
    {"Node", "nodes", "", 0},            {"ConfigMap", "configmaps", "", 1},
    {"Secret", "secrets", "", 1},        {"Event", "events", "", 1},
    {"Lease", "leases", "coordination.k8s.io", 1},
    {"PriorityClass", "priorityclasses", "scheduling.k8s.io", 0},
    {"PodDisruptionBudget", "poddisruptionbudgets", "policy", 1},
    /* kinds of later issues, named here so that their rules below already hold */
    {"Service", "services", "", 1},      {"Endpoints", "endpoints", "", 1},
    {"EndpointSlice", "endpointslices", "discovery.k8s.io", 1},
};

/* A kind this table does not know (a later kind, a custom resource): its plural is the lowercased
 * kind + "s", core group — only admin and viewer rules (which name no kind) can match it. */
static void
kind_of (const char *kind, kind_info_t *out, char *plural, size_t plen)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp (kinds[i].kind, kind)) {
            *out = kinds[i];
            return;
        }
    size_t n = 0;
    for (; kind[n] && n + 2 < plen; n++)
        plural[n] = (char) tolower ((unsigned char) kind[n]);
    plural[n++] = 's';
    plural[n] = 0;
    *out = (kind_info_t) {kind, plural, "", 1};
}

/* ---- rules ---------------------------------------------------------------------------------- */

/* YES: any object; OWN: only objects related to the requesting node (checked by own_check). */
typedef enum { R_YES = 1, R_OWN } grant_t;

typedef struct {
    role_t role;
    const char *resource; /* "pods", "pods/status", ... ; "*" every resource but secrets (viewer) */
    const char *verbs;    /* space-separated */
    grant_t grant;
} rule_t;

static const rule_t rules[] = {
    /* viewer: Kubernetes' `view` ClusterRole — no Secrets */
    {ROLE_VIEWER, "*", "get list watch", R_YES},
    {ROLE_VIEWER, "pods/log", "get", R_YES},

    /* pods/eviction (create: the Eviction API, `troupe drain`): admin only. Kubernetes' default
     * roles give it to no controller, and the kubelet evicts without it (node-pressure eviction
     * stops the pod itself); viewer, controller and node have no rule for it. */

    /* controller: what actors/controllers and actors/scheduler send, nothing more */
    {ROLE_CONTROLLER, "pods", "get list watch create patch delete", R_YES},
    {ROLE_CONTROLLER, "pods/status", "update patch", R_YES},
    {ROLE_CONTROLLER, "pods/binding", "create", R_YES},
    {ROLE_CONTROLLER, "replicasets", "get list watch create patch delete", R_YES},
    {ROLE_CONTROLLER, "replicasets/status", "update patch", R_YES},
    {ROLE_CONTROLLER, "deployments", "get list watch", R_YES},
    {ROLE_CONTROLLER, "deployments/status", "update patch", R_YES},
    {ROLE_CONTROLLER, "nodes", "get list watch patch", R_YES}, /* spec.podCIDR (node IPAM), taints (node lifecycle) */
    {ROLE_CONTROLLER, "nodes/status", "update patch", R_YES},
    {ROLE_CONTROLLER, "leases", "get list watch", R_YES},
    {ROLE_CONTROLLER, "events", "create patch", R_YES}, /* patch: a repeated event counted (core/eventcorr.h) */
    {ROLE_CONTROLLER, "services", "get list watch", R_YES},
    {ROLE_CONTROLLER, "namespaces", "get list watch", R_YES}, /* the scheduler's namespaceSelector */
    {ROLE_CONTROLLER, "endpointslices", "get list watch create update delete", R_YES},
    {ROLE_CONTROLLER, "poddisruptionbudgets", "get list watch", R_YES}, /* disruption controller, preemption */
    {ROLE_CONTROLLER, "poddisruptionbudgets/status", "update patch", R_YES},

    /* node: Kubernetes' system:node role narrowed by the Node authorizer and NodeRestriction */
    {ROLE_NODE, "pods", "get list watch", R_YES},
    {ROLE_NODE, "pods", "delete", R_OWN},
    {ROLE_NODE, "pods/status", "update patch", R_OWN},
    {ROLE_NODE, "nodes", "get list watch", R_YES},
    {ROLE_NODE, "nodes", "create update patch delete", R_OWN},
    {ROLE_NODE, "nodes/status", "update patch", R_OWN},
    {ROLE_NODE, "leases", "get create update patch delete", R_OWN},
    {ROLE_NODE, "events", "create update patch", R_YES},
    {ROLE_NODE, "secrets", "get", R_OWN},
    {ROLE_NODE, "configmaps", "get", R_OWN},
    {ROLE_NODE, "services", "get list watch", R_YES}, /* kubelet: service env vars; proxy */
    {ROLE_NODE, "endpoints", "get list watch", R_YES},
    {ROLE_NODE, "endpointslices", "get list watch", R_YES},
};

static int
has_word (const char *list, const char *w)
{
    size_t n = strlen (w);
    for (const char *p = list; (p = strstr (p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
            return 1;
    return 0;
}

static const char *const verbs[] = {"get", "list", "watch", "create", "update", "patch", "delete"};

static int
known_verb (const char *v)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp (verbs[i], v))
            return 1;
    return 0;
}

/* ---- the node authorizer -------------------------------------------------------------------- */

static int
str_eq (const char *a, const char *b)
{
    return a && b && !strcmp (a, b);
}

static int
ref_is (const json_t *o, const char *path, const char *name)
{
    return str_eq (tv_str (o, path), name);
}

static int
containers_use (const json_t *list, int secret, const char *name)
{
    size_t i, j;
    json_t *c, *e;
    json_array_foreach (list, i, c) {
        json_array_foreach (json_object_get (c, "env"), j, e)
            if (ref_is (e, secret ? "valueFrom.secretKeyRef.name" : "valueFrom.configMapKeyRef.name", name))
                return 1;
        json_array_foreach (json_object_get (c, "envFrom"), j, e)
            if (ref_is (e, secret ? "secretRef.name" : "configMapRef.name", name))
                return 1;
    }
    return 0;
}

int
az_pod_uses (const json_t *pod, int secret, const char *name)
{
    if (!name || !*name)
        return 0;
    const json_t *spec = json_object_get (pod, "spec");
    size_t i, j;
    json_t *v, *s;
    if (secret)
        json_array_foreach (json_object_get (spec, "imagePullSecrets"), i, v) if (ref_is (v, "name", name)) return 1;
    static const char *const secret_paths[] = {
        "secret.secretName", "csi.nodePublishSecretRef.name", "azureFile.secretName", "cephfs.secretRef.name",
        "cinder.secretRef.name", "flexVolume.secretRef.name", "iscsi.secretRef.name", "rbd.secretRef.name",
        "scaleIO.secretRef.name", "storageos.secretRef.name"};
    json_array_foreach (json_object_get (spec, "volumes"), i, v) {
        if (secret) {
            for (size_t k = 0; k < sizeof secret_paths / sizeof secret_paths[0]; k++)
                if (ref_is (v, secret_paths[k], name))
                    return 1;
        } else if (ref_is (v, "configMap.name", name))
            return 1;
        json_array_foreach (tv_get (v, "projected.sources"), j, s)
            if (ref_is (s, secret ? "secret.name" : "configMap.name", name))
                return 1;
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    for (size_t k = 0; k < 3; k++)
        if (containers_use (json_object_get (spec, lists[k]), secret, name))
            return 1;
    return 0;
}

/* Equal JSON values, an absent one equal to an absent one. */
static int
json_equal_or_absent (const json_t *a, const json_t *b)
{
    if (!a || !b)
        return !a && !b;
    return json_equal (a, b);
}

/* For an R_OWN rule of the node role: is the object the node's own? 1, or 0 with why. */
static int
own_check (const az_request_t *rq, const char *resource, const az_lookup_t *lk, char *why, size_t len)
{
    const char *node = rq->user ? rq->user : "";
    const char *name = rq->name && *rq->name ? rq->name : tv_str (rq->obj, "metadata.name");
    if (!strcmp (resource, "nodes") || !strcmp (resource, "nodes/status")) {
        if (!str_eq (name, node)) {
            snprintf (why, len, "node \"%s\" is not allowed to modify node \"%s\"", node, name ? name : "");
            return 0;
        }
        /* NodeRestriction: its own Node's taints (the node controller's NoExecute clock) and pod
         * CIDR (routes of every node point at it) are not the node's to change */
        if (!strcmp (resource, "nodes") && rq->old && rq->obj) {
            if (!json_equal_or_absent (tv_get (rq->old, "spec.taints"), tv_get (rq->obj, "spec.taints"))) {
                snprintf (why, len, "node \"%s\" is not allowed to modify taints", node);
                return 0;
            }
            if (!json_equal_or_absent (tv_get (rq->old, "spec.podCIDR"), tv_get (rq->obj, "spec.podCIDR")) ||
                !json_equal_or_absent (tv_get (rq->old, "spec.podCIDRs"), tv_get (rq->obj, "spec.podCIDRs"))) {
                snprintf (why, len, "node \"%s\" is not allowed to modify its pod CIDR", node);
                return 0;
            }
        }
        return 1;
    }
    if (!strcmp (resource, "leases")) {
        if (!str_eq (rq->ns, "kube-node-lease")) {
            snprintf (why, len, "can only access leases in the \"kube-node-lease\" namespace");
            return 0;
        }
        if (!str_eq (name, node)) {
            snprintf (why, len, "can only access node lease with the same name as the requesting node");
            return 0;
        }
        return 1;
    }
    if (!strcmp (resource, "pods") || !strcmp (resource, "pods/status")) {
        /* the stored pod decides (a write cannot move a pod onto this node) */
        const json_t *pod = rq->old ? rq->old : rq->obj;
        if (str_eq (tv_str (pod, "spec.nodeName"), node) &&
            (!rq->obj || !rq->old || str_eq (tv_str (rq->obj, "spec.nodeName"), node)))
            return 1;
        snprintf (why, len, "node \"%s\" can only %s pods with spec.nodeName set to itself", node,
                  !strcmp (resource, "pods") ? "delete" : "update pod status for");
        return 0;
    }
    if (!strcmp (resource, "secrets") || !strcmp (resource, "configmaps")) {
        int secret = !strcmp (resource, "secrets");
        if (!name || !*name) {
            snprintf (why, len, "node \"%s\" may only get %s used by its pods, one by name, never list or watch them",
                      node, resource);
            return 0;
        }
        json_t *pods = lk && lk->pods_on_node ? lk->pods_on_node (lk->arg, node, rq->ns ? rq->ns : "") : NULL;
        size_t i;
        json_t *p;
        int found = 0;
        json_array_foreach (pods, i, p) {
            if (str_eq (tv_str (p, "spec.nodeName"), node) && str_eq (tv_str (p, "metadata.namespace"), rq->ns) &&
                az_pod_uses (p, secret, name)) {
                found = 1;
                break;
            }
        }
        json_decref (pods);
        if (!found)
            snprintf (why, len, "no relationship found between node '%s' and this object", node);
        return found;
    }
    snprintf (why, len, "no rule for %s", resource);
    return 0;
}

/* ---- decision ------------------------------------------------------------------------------- */

int
az_decide (const az_request_t *rq, const az_lookup_t *lk, char *why, size_t len)
{
    why[0] = 0;
    if (!rq->verb || !known_verb (rq->verb)) {
        snprintf (why, len, "unknown verb \"%s\"", rq->verb ? rq->verb : "");
        return 0;
    }
    if (rq->role == ROLE_ADMIN)
        return 1;
    if (rq->role == ROLE_NONE) {
        snprintf (why, len, "the identity has no role");
        return 0;
    }
    kind_info_t ki;
    char plural[80];
    kind_of (rq->kind ? rq->kind : "", &ki, plural, sizeof plural);
    char resource[128];
    if (rq->subresource && *rq->subresource)
        snprintf (resource, sizeof resource, "%s/%s", ki.plural, rq->subresource);
    else
        snprintf (resource, sizeof resource, "%s", ki.plural);
    const char *own_why = NULL;
    char buf[300];
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule_t *r = &rules[i];
        if (r->role != rq->role || !has_word (r->verbs, rq->verb))
            continue;
        int match = !strcmp (r->resource, resource) ||
                    (!strcmp (r->resource, "*") && !strchr (resource, '/') && strcmp (resource, "secrets"));
        if (!match)
            continue;
        if (r->grant == R_YES)
            return 1;
        if (own_check (rq, resource, lk, buf, sizeof buf))
            return 1;
        own_why = buf;
    }
    if (own_why)
        snprintf (why, len, "%s", own_why);
    else if (rq->role == ROLE_NODE && !strcmp (resource, "pods") && !strcmp (rq->verb, "create"))
        snprintf (why, len, "node \"%s\" can only create mirror pods, which are not supported", rq->user ? rq->user : "");
    return 0;
}

int
az_role_may (const az_request_t *rq, char *why, size_t len)
{
    /* every "own" check passes for an imaginary object: only the role's rules are left */
    why[0] = 0;
    if (!rq->verb || !known_verb (rq->verb)) {
        snprintf (why, len, "unknown verb \"%s\"", rq->verb ? rq->verb : "");
        return 0;
    }
    if (rq->role == ROLE_ADMIN)
        return 1;
    kind_info_t ki;
    char plural[80], resource[128];
    kind_of (rq->kind ? rq->kind : "", &ki, plural, sizeof plural);
    if (rq->subresource && *rq->subresource)
        snprintf (resource, sizeof resource, "%s/%s", ki.plural, rq->subresource);
    else
        snprintf (resource, sizeof resource, "%s", ki.plural);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].role == rq->role && has_word (rules[i].verbs, rq->verb) &&
            (!strcmp (rules[i].resource, resource) ||
             (!strcmp (rules[i].resource, "*") && !strchr (resource, '/') && strcmp (resource, "secrets"))))
            return 1;
    if (rq->role == ROLE_NODE && !strcmp (resource, "pods") && !strcmp (rq->verb, "create"))
        snprintf (why, len, "node \"%s\" can only create mirror pods, which are not supported", rq->user ? rq->user : "");
    return 0;
}

void
az_user_name (role_t role, const char *name, char *buf, size_t len)
{
    if (role == ROLE_NODE)
        snprintf (buf, len, "system:node:%s", name ? name : "");
    else
        snprintf (buf, len, "%s", name ? name : "");
}

void
az_forbidden_message (const az_request_t *rq, const char *why, char *buf, size_t len)
{
    kind_info_t ki;
    char plural[80], user[200], qual[200], res[200], scope[300];
    kind_of (rq->kind ? rq->kind : "", &ki, plural, sizeof plural);
    az_user_name (rq->role, rq->user, user, sizeof user);
    if (*ki.group)
        snprintf (qual, sizeof qual, "%s.%s", ki.plural, ki.group);
    else
        snprintf (qual, sizeof qual, "%s", ki.plural);
    if (rq->subresource && *rq->subresource)
        snprintf (res, sizeof res, "%s/%s", ki.plural, rq->subresource);
    else
        snprintf (res, sizeof res, "%s", ki.plural);
    if (ki.namespaced && rq->ns && *rq->ns)
        snprintf (scope, sizeof scope, "in the namespace \"%s\"", rq->ns);
    else
        snprintf (scope, sizeof scope, "at the cluster scope");
    char head[300];
    if (rq->name && *rq->name)
        snprintf (head, sizeof head, "%s \"%s\"", qual, rq->name);
    else
        snprintf (head, sizeof head, "%s", qual);
    snprintf (buf, len, "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s%s%s", head, user,
              rq->verb ? rq->verb : "", res, ki.group, scope, why && *why ? ": " : "", why ? why : "");
}

const char *
az_verb_of (tr_verb_t verb, const json_t *opts, const char **subresource)
{
    const char *sub = tv_str (opts, "subresource");
    *subresource = "";
    switch (verb) {
    case TR_VERB_GET: return "get";
    case TR_VERB_LIST: return "list";
    case TR_VERB_WATCH: return "watch";
    case TR_VERB_CREATE:
        if (sub && !strcmp (sub, "eviction"))
            *subresource = "eviction"; /* the api-server's Eviction: a create of pods/eviction */
        return "create";
    case TR_VERB_DELETE: return "delete";
    case TR_VERB_UPDATE:
        if (sub && (!strcmp (sub, "status") || !strcmp (sub, "binding")))
            *subresource = sub;
        return "update";
    case TR_VERB_UPDATE_STATUS: *subresource = "status"; return "update";
    case TR_VERB_PATCH:
        if (sub && !strcmp (sub, "binding")) {
            *subresource = "binding"; /* the api-server's Binding is a create of pods/binding */
            return "create";
        }
        if (sub && !strcmp (sub, "status"))
            *subresource = "status";
        return "patch";
    case TR_VERB_LOGS: *subresource = "log"; return "get";
    case TR_VERB_EXEC: *subresource = "exec"; return "create";
    default: return NULL;
    }
}

const char *
az_role_name (role_t r)
{
    static const char *n[] = {"none", "viewer", "node", "controller", "admin"};
    return (unsigned) r < 5 ? n[r] : "none";
}

role_t
az_role_parse (const char *s)
{
    if (!s)
        return ROLE_NONE;
    for (int r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
        if (!strcmp (s, az_role_name ((role_t) r)))
            return (role_t) r;
    return ROLE_NONE;
}
