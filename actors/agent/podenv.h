/* podenv — a container's command, args and env as the kubelet hands them to the runtime: with
 * Kubernetes' $(VAR_NAME) references expanded and the values taken from ConfigMaps, Secrets, the
 * pod's fields and the container's resources. Pure, no I/O: what the agent read (the objects, the
 * sandbox's IP, the node's allocatable) comes in a podenv_src_t.
 *
 * Rules (Kubernetes' expansion of command, args and env values):
 * - "$(NAME)" becomes NAME's value when NAME is defined, and stays "$(NAME)" when it is not
 *   (so a shell's "$(date +%T)" reaches the shell unchanged).
 * - "$$" becomes "$", so "$$(NAME)" is the literal "$(NAME)".
 * - "$" before anything else, and a "$(" never closed, stay as they are.
 * - env values see the variables defined before them in the list; command and args see all of
 *   the container's env.
 *
 * Rules (the kubelet's makeEnvironmentVariables):
 * - envFrom first, in order: every key of the ConfigMap/Secret, prefixed; a key that is not a
 *   valid variable name ([-._a-zA-Z][-._a-zA-Z0-9]*) is skipped and named in the warnings; a
 *   missing object fails (`configmap "x" not found`) unless optional.
 * - then env, in order: value (expanded), or valueFrom: configMapKeyRef / secretKeyRef (a missing
 *   object or key fails — `couldn't find key k in ConfigMap ns/x` — unless optional: the
 *   variable is then left out), fieldRef (metadata.name, metadata.namespace, metadata.uid,
 *   metadata.labels['k'], metadata.annotations['k'], spec.nodeName, spec.serviceAccountName,
 *   status.podIP, status.podIPs, status.hostIP, status.hostIPs) and resourceFieldRef
 *   (limits.cpu|memory, requests.cpu|memory, divided by divisor and rounded up; limits that are
 *   not set are the node's allocatable; requests not set are the limit when set, else 0).
 * - a name defined twice keeps the last value at the place of the first.
 */
#ifndef TROUPE_PODENV_H
#define TROUPE_PODENV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Outcomes of the resolving functions. */
#define PODENV_OK 0
#define PODENV_ERROR (-1)  /* the pod cannot start as it is: err says why (CreateContainerConfigError) */
#define PODENV_PENDING 1   /* an object the pod references has not been read yet: err names it */

/* What the agent knows when it starts a container. */
typedef struct {
    /* "ConfigMap/<namespace>/<name>" or "Secret/<namespace>/<name>" → the object as read, or JSON
     * null when the read said NotFound; a key absent: not read yet (PODENV_PENDING). */
    const json_t *objs;
    const char *pod_ip;   /* the sandbox's address ("" before it has one) */
    const char *host_ip;  /* the node's address */
    int64_t alloc_cpu_milli, alloc_mem_bytes; /* the node's allocatable: limits that are not set */
    /* Services the node knows (any namespaces; the pod's and default/kubernetes are used), or
     * NULL: none (the agent does not start a container before its Service informer synced, as
     * the kubelet) */
    const json_t *services;
} podenv_src_t;

/* The kubelet's service environment (getServiceEnvVarMap + FromServices): for each Service of the
 * pod's namespace with a cluster IP (not headless) — only when spec.enableServiceLinks is not false
 * — and the `kubernetes` Service of namespace default always: <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT
 * (first port), <NAME>_SERVICE_PORT_<PORTNAME> (named ports), and the Docker link variables
 * <NAME>_PORT=tcp://IP:PORT (first port), <NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}. NAME is
 * the Service's name upper-cased with '-' as '_'. Services in name order. A new map (ordered);
 * podenv_resolve puts them after the container's own env, which wins over them, and $(VAR)
 * references see them. */
json_t *podenv_service_vars (const json_t *pod, const json_t *services);

/* The expansion of in, looking names up in vars (a map of strings; NULL = none). New string. */
char *podenv_expand (const char *in, const json_t *vars);

/* {command, args, env} of the container spec, expanded, env from values only (valueFrom and
 * envFrom are left out). Keys absent in spec stay absent. A new reference. */
json_t *podenv_container (const json_t *spec);

/* {command, args, env} of container spec of pod, with valueFrom and envFrom resolved from src.
 * PODENV_OK with *out (new reference); else PODENV_ERROR or PODENV_PENDING with err. Invalid
 * envFrom keys skipped are appended to warnings (an array, may be NULL) as messages. */
int podenv_resolve (const json_t *pod, const json_t *spec, const podenv_src_t *src, json_t **out, json_t *warnings,
                    char *err, size_t errlen);

/* The value of a downward-API fieldRef path of pod (the list above). PODENV_OK with *out (new
 * string), or PODENV_ERROR with err for a path that is not supported. */
int podenv_field (const json_t *pod, const char *path, const podenv_src_t *src, char **out, char *err, size_t errlen);

/* The value of a resourceFieldRef {containerName?, resource, divisor?} for container `container`
 * of pod (the rules above). PODENV_OK with *out (new string), or PODENV_ERROR with err. */
int podenv_resource (const json_t *pod, const char *container, const json_t *ref, const podenv_src_t *src, char **out,
                     char *err, size_t errlen);

/* The bytes of key in a ConfigMap (data, then binaryData decoded) or a Secret (data decoded).
 * 0 with *out (malloc'd, NUL-terminated after *len bytes), or -1 when the key is absent. */
int podenv_key (const json_t *obj, int secret, const char *key, char **out, size_t *len);

/* The referenced object "Kind/ns/name" in src: PODENV_OK with *obj (NULL: not found) or
 * PODENV_PENDING (with err) when it was not read yet. */
int podenv_object (const podenv_src_t *src, const char *kind, const char *ns, const char *name, const json_t **obj,
                   char *err, size_t errlen);

/* Adds to set (an object used as a set) the "Kind/ns/name" of every ConfigMap and Secret the env
 * and envFrom of the pod's containers reference. */
void podenv_refs (const json_t *pod, json_t *set);

/* Adds "Kind/ns/name" (the key the agent reads objects by) to set; an empty name is skipped.
 * Shared with volumes.c, whose references use the same keys. */
void podenv_ref_add (json_t *set, const char *kind, const char *ns, const char *name);

#endif
