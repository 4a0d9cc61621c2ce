/* eviction — the decision of the Eviction API (pods/eviction), as Kubernetes' EvictionREST
 * (pkg/registry/core/pod/storage/eviction.go). Pure: the stored pod, the namespace's
 * PodDisruptionBudgets and the time in, one action out; the broker (broker_evict.c) does the I/O.
 *
 * In order:
 *   - deleteOptions.preconditions (uid, resourceVersion) that the pod fails: Conflict (Kubernetes
 *     finds it at the delete, after a budget may have been spent; here before, so none is, and
 *     again at the deletion: evict_preconditions);
 *   - a pod Succeeded, Failed, Pending or being deleted: delete, no budget consulted (canIgnorePDB;
 *     a Pending pod is deleted at the resourceVersion read, as shouldEnforceResourceVersion);
 *   - the budgets of the pod's namespace whose spec.selector matches its labels (an absent, empty
 *     or invalid selector matches nothing, as EvictionREST reads policy/v1 budgets): none: delete; more
 *     than one: InternalError (500) "This pod has more than one PodDisruptionBudget, which the
 *     eviction subresource does not support.";
 *   - one budget, the pod not Ready: with unhealthyPodEvictionPolicy AlwaysAllow, or (IfHealthyBudget,
 *     the default) currentHealthy >= desiredHealthy > 0: delete at the pod's resourceVersion without
 *     spending the budget (a Conflict there is TooManyRequests: the pod may have become Ready);
 *   - status.observedGeneration < metadata.generation: TooManyRequests (retry after 10 s) "Cannot
 *     evict pod as it would violate the pod's disruption budget.", cause "The disruption budget X is
 *     still being processed by the server.";
 *   - disruptionsAllowed < 0, or more than EVICT_MAX_DISRUPTED disruptedPods: Forbidden;
 *   - disruptionsAllowed == 0: TooManyRequests (no retry hint), cause "The disruption budget X
 *     needs D healthy pods and has C currently";
 *   - else: the budget's new status (disruptionsAllowed - 1, disruptedPods[pod] = now, the
 *     DisruptionAllowed condition False/InsufficientPods when it reaches 0), written at the
 *     budget's resourceVersion, then the pod deleted.
 */
#ifndef TROUPE_EVICTION_H
#define TROUPE_EVICTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVICT_MAX_DISRUPTED 2000 /* Kubernetes' MaxDisruptedPodSize */

typedef enum {
    EVICT_DELETE = 0, /* delete the pod; the budget untouched */
    EVICT_DECREMENT,  /* write status to the budget `pdb`, then delete the pod */
    EVICT_TOO_MANY,   /* 429 TooManyRequests: msg, cause, retry_after */
    EVICT_FORBIDDEN,  /* 403: msg */
    EVICT_MULTIPLE,   /* 500: msg */
    EVICT_CONFLICT,   /* 409: a precondition failed: msg */
} evict_action_t;

typedef struct {
    evict_action_t action;
    int at_rv;           /* EVICT_DELETE: only at the pod's resourceVersion (a Pending pod, an unready one) */
    int unready;         /* EVICT_DELETE of an unready pod under a budget: a Conflict is TooManyRequests */
    int retry_after;     /* EVICT_TOO_MANY: details.retryAfterSeconds (0: no hint, the client decides) */
    const json_t *pdb;   /* the matching budget (borrowed from pdbs), or NULL */
    json_t *status;      /* EVICT_DECREMENT: the budget's new status (owned; evict_clear frees it) */
    char msg[512];
    char cause[512];     /* EVICT_TOO_MANY: details.causes[0].message (type DisruptionBudget) */
} evict_t;

/* Decides the eviction of pod (the stored object; pod_rv its resourceVersion) with opts (the
 * Eviction's deleteOptions, or NULL), pdbs (an array of PodDisruptionBudgets, any namespace),
 * now (RFC 3339, for disruptedPods and a condition's lastTransitionTime). */
void evict_decide (const json_t *pod, uint64_t pod_rv, const json_t *opts, const json_t *pdbs, const char *now,
                   evict_t *out);
void evict_clear (evict_t *e);
/* The client's deleteOptions.preconditions (uid, resourceVersion) against pod at pod_rv: 0, or -1
 * with Kubernetes' Conflict message in msg. The broker checks them again at the deletion that
 * follows a spent budget (the pod may have changed or been made again meanwhile). */
int evict_preconditions (const json_t *pod, uint64_t pod_rv, const json_t *opts, char *msg, size_t len);

/* Does the budget's spec.selector select these labels (policy/v1 semantics, above)? */
int evict_pdb_selects (const json_t *pdb, const json_t *labels);
/* The pod's Ready condition is True. */
int evict_pod_ready (const json_t *pod);

#endif
