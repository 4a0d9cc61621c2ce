/* immutable — what an update may change, per kind and subresource (pure: no I/O).
 *
 * Kubernetes splits a write to an existing object by subresource, and each has its strategy
 * (the api-server's PrepareForUpdate, then ValidateUpdate):
 *   - the object itself (update, patch): spec and metadata; status is kept from the stored object;
 *   - "status" (updateStatus, or update/patch with opts.subresource=status): status only; spec
 *     and metadata are kept from the stored object;
 *   - "binding" (Pods only, the scheduler's): sets spec.nodeName once, when it is empty.
 * Then what stays immutable:
 *   - Pod spec: nothing but spec.containers[*].image, spec.initContainers[*].image,
 *     spec.activeDeadlineSeconds (set when unset, or lowered), spec.tolerations (additions; an
 *     existing one may change only its tolerationSeconds) and spec.terminationGracePeriodSeconds
 *     (to 1 when it was negative) — ValidatePodUpdate. spec.nodeName is set only by a binding.
 *   - Deployment and ReplicaSet (apps/v1): spec.selector.
 *   - Node: spec.podCIDR and spec.podCIDRs, once set (ValidateNodeUpdate).
 *   - Service: spec.clusterIP ("spec.clusterIPs[0]: Invalid value: ...: may not change once set").
 * Errors read as Kubernetes' field errors: "spec.selector: Invalid value: {...}: field is
 * immutable", "spec: Forbidden: pod updates may not change fields other than ..." followed by
 * the first changed field path. The broker prefixes `Kind "name" is invalid: ` (code Invalid).
 */
#ifndef TROUPE_IMMUTABLE_H
#define TROUPE_IMMUTABLE_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    IMM_SUB_NONE = 0, /* the object itself */
    IMM_SUB_STATUS,   /* pods/status, deployments/status, ... */
    IMM_SUB_BINDING,  /* pods/binding */
    IMM_SUB_UNKNOWN   /* any other name: not served */
} imm_sub_t;

/* The subresource named by s (NULL or "" = the object; "status"; "binding"). */
imm_sub_t immutable_subresource (const char *s);

/* PrepareForUpdate: the object to store, from the stored one (cur) and the proposed one (next,
 * the client's body for an update, cur with the patch applied for a patch). For the object:
 * next with cur's status; for status: cur with next's status (an empty map when next has none);
 * for binding: next as is (immutable_check allows it only spec.nodeName). New reference. */
json_t *immutable_prepare (const json_t *cur, const json_t *next, imm_sub_t sub);
/* The same, taking next (stolen; the caller's alone at its root, e.g. tv_merge_patch_new's):
 * the result shares subtrees with cur and with next, and only its root is certainly new: a caller
 * modifies it below the root only through tv_unshare (cur may be a cached object). immutable_prepare
 * shares with cur only (next is the client's body there, kept to retry the request). */
json_t *immutable_prepare_own (const json_t *cur, json_t *next, imm_sub_t sub);

/* ValidateUpdate's immutability part, on defaulted objects of kind `kind`. 0 when next may
 * replace cur through sub; -1 with err holding "field.path: Reason: detail". */
int immutable_check (const char *kind, const json_t *cur, const json_t *next, imm_sub_t sub, char *err,
                     size_t errlen);

#endif
