/* qos — the kubelet's resource decisions, pure: a pod's QoS class, its cgroup in the kubepods
 * hierarchy and each container's Linux resources (pkg/apis/core/v1/helper/qos,
 * pkg/kubelet/cm/helpers_linux.go, pkg/kubelet/qos/policy.go). The agent decides with them and
 * sends the results in the runtime protocol; the runtime (runtime-shims/oci/cgroup.c) only
 * applies and removes cgroups. Table-tested in test_cgroup.
 *
 * Hierarchy (cgroupfs driver, as the kubelet's): /kubepods (Guaranteed pods directly under it),
 * /kubepods/burstable, /kubepods/besteffort; a pod's cgroup "pod<uid>"; a container's below it,
 * named by its id. Several nodes on one machine use their own parent ("/troupe-<node>/kubepods").
 */
#ifndef TROUPE_QOS_H
#define TROUPE_QOS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { QOS_BESTEFFORT = 0, QOS_BURSTABLE, QOS_GUARANTEED } qos_class_t;

/* Kubernetes' QoS rules over spec.containers (and initContainers): every container has cpu and
 * memory limits equal to its requests (a request defaults to its limit) → Guaranteed; no
 * request or limit anywhere → BestEffort; else Burstable. */
qos_class_t qos_class_of (const json_t *pod_spec);
const char *qos_class_name (qos_class_t q);   /* "Guaranteed", "Burstable", "BestEffort" */

/* "/<parent>/kubepods[/burstable|/besteffort]/pod<uid>"; parent "" or "troupe-node1". */
void qos_pod_cgroup (const char *parent, qos_class_t q, const char *uid, char *buf, size_t len);

/* Per-container values from the container's resources, as the kubelet computes them:
 * cpu shares = request milli * 1024 / 1000 (min 2; no request: 2, or the limit's when only a
 * limit is set); quota = limit milli * period / 1000 (period 100000 µs, min 1000), 0 = none;
 * cpu shares at most 262144; memory limit bytes (0 = none; a request defaults to its limit
 * too); oomScoreAdj: Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000*memory request/
 * node capacity clamped to [3, 999] (policy.go: at least 1000 + the Guaranteed -997, so above a
 * Guaranteed pod using all memory; the docs' "max(2, …)" dates from when Guaranteed was -998;
 * node critical pods and sidecars' adjustments are the caller's). Returns a new object
 * {cpuShares, cpuQuota, cpuPeriod, memoryLimitBytes, oomScoreAdj}, or NULL with err naming the
 * quantity that does not parse. */
json_t *qos_container_resources (const json_t *container, qos_class_t q, int64_t node_memory_bytes, char *err,
                                    size_t errlen);

#endif
