/* podsync — the kubelet's decisions for one pod, pure: (pod, runtime containers, back-off
 * state, now) → (actions, status). No I/O and no clock of its own, so every rule below is
 * unit-tested directly.
 *
 * Rules (Kubernetes' kubelet):
 * - A container with no runtime record is created and started (attempt 0).
 * - An exited container restarts per restartPolicy: Always: always; OnFailure: if exitCode != 0;
 *   Never: not. The first restart is immediate, then 10 s, 20 s, 40 s ... capped at 300 s; the
 *   back-off resets when the container had run 10 minutes. While waiting, the status says
 *   CrashLoopBackOff.
 * - The process runtime needs a command: without one the container waits in
 *   CreateContainerError and nothing is started (the oci runtime takes the image's). So does a
 *   container with an exec probe or hook there (it cannot exec into a host process).
 * - A pod with metadata.deletionTimestamp has its running containers stopped with its grace
 *   period; once none runs, the result says it may be removed.
 * - A running container whose image differs from the spec's (a Pod's image was updated) is stopped
 *   with the pod's grace period and started again at once, whatever the restart policy.
 * - Older exited attempts are removed; the last exited one stays for `logs --previous`.
 * - Init containers (spec.initContainers) run one at a time, in order, each to exit code 0, before
 *   any app container: the phase is Pending, Initialized False, the app containers wait with
 *   PodInitializing. A failed one restarts with the same back-off (restartPolicy Always acts as
 *   OnFailure for them); under Never the pod is Failed. Once an app container has a record, the
 *   init containers are done for good. status.initContainerStatuses: a completed one is ready.
 * - Eviction (the kubelet's eviction manager): backoff["evict"] = {message}, set by the agent, or a
 *   stored status phase Failed / reason Evicted (so it survives an agent restart): every running
 *   container is stopped with grace 0, nothing starts again, the status is phase Failed, reason
 *   Evicted, that message, and a DisruptionTarget condition (TerminationByKubelet). The pod object
 *   stays (its controller makes a new one); it is removed only once deleted. Its content does not
 *   wait for that (the kubelet's ShouldPodContentBeRemoved): once nothing runs, every container
 *   record is removed and `reclaim` says the sandbox (IP, netns) and the volumes may go; a
 *   container with no record left keeps the terminated status already reported, and the pod its
 *   podIP.
 * - Readiness: backoff["probe:<name>"] = {containerId, ready, started}, the agent's prober verdict
 *   for that running container (actors/agent/prober.h); without one, a container with a readiness
 *   or startup probe is not ready (and with a startup probe not started), else ready when running.
 */
#ifndef TROUPE_PODSYNC_H
#define TROUPE_PODSYNC_H

#include <jansson.h>
#include <stdint.h>

#define PODSYNC_BACKOFF_INITIAL_MS 10000
#define PODSYNC_BACKOFF_MAX_MS 300000
#define PODSYNC_BACKOFF_RESET_MS 600000

typedef enum { PODSYNC_START = 1, PODSYNC_STOP, PODSYNC_REMOVE } podsync_kind_t;

typedef struct {
    podsync_kind_t kind;
    char container[64];   /* spec name (START) */
    char id[80];          /* runtime containerId (STOP, REMOVE; the oci runtime's are 64 hex) */
    int attempt;          /* START: the attempt number to create */
    int timeout_s;        /* STOP: grace period */
} podsync_action_t;

#define PODSYNC_MAX_ACTIONS 64

typedef struct {
    podsync_action_t actions[PODSYNC_MAX_ACTIONS];
    int n;
    json_t *status;        /* new reference: the pod status to report */
    int removable;         /* deleting and nothing runs: the pod object may be deleted */
    int reclaim;           /* evicted, not deleting, nothing runs: its sandbox and volumes may go (the
                            * object stays); REMOVE actions name its container records */
} podsync_result_t;

/* Computes actions and status. runtime: array of container statuses (runtime-shims/cri.h) of
 * this pod. backoff: a map the caller keeps per pod (container → {delayMs, notBefore}); updated
 * in place; the agent adds "wait:<container>" → {reason, message, image, at, notBefore} when a pull
 * or a create failed (ErrImagePull, ErrImageNeverPull, CreateContainerError…): the container
 * waits with that reason (ErrImagePull becomes ImagePullBackOff after a second) and is started
 * again once notBefore passed. host_ip names the node's address. runtime_name: the pod's runtime
 * ("process": the pod's IP is the node's and a command is required; "oci": the sandbox's IP from
 * the records' podIP). now_ms: wall clock. */
void podsync_compute (const json_t *pod, const json_t *runtime, json_t *backoff, int64_t now_ms,
                      const char *host_ip, const char *runtime_name, podsync_result_t *out);
void podsync_result_clear (podsync_result_t *r);

/* The status write for the status podsync_compute made, against the pod's current status: NULL
 * when nothing the agent owns differs, else a new body {status: {...}} for a strategic merge patch
 * of the status subresource (the kubelet status manager's mergePodStatus + PatchPodStatus). It
 * carries only the fields the agent owns (phase, hostIP, startTime, podIP(s), qosClass, reason,
 * message, containerStatuses and initContainerStatuses, both replaced whole) that differ, null for
 * those it no longer reports, and the conditions it reports (Initialized, Ready, ContainersReady,
 * PodScheduled, and DisruptionTarget when evicted) that differ, merged by type, each with null for
 * a key it dropped (a Ready turning True loses its reason). Everything else stays: what the
 * scheduler or a controller wrote (status.nominatedNodeName, conditions of other types). */
json_t *podsync_status_patch (const json_t *current, const json_t *status);

#endif
