/* podres — the kubelet's resource decisions for a pod, pure: its QoS class, its cgroup parent in
 * the kubepods hierarchy, and each container's Linux resources (cpu shares, quota, memory limit,
 * oom score) for the runtime's CreateContainer. The runtime applies them; the agent decides them,
 * as the kubelet does for CRI. */
#ifndef TROUPE_PODRES_H
#define TROUPE_PODRES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* "Guaranteed", "Burstable" or "BestEffort" (Kubernetes' rules over containers and init containers). */
const char *podres_qos (const json_t *pod);
/* "/<parent>/kubepods[/burstable|/besteffort]/pod<uid>". */
void podres_cgroup_parent (const char *parent, const json_t *pod, char *buf, size_t len);
/* {cpuShares, cpuQuota, cpuPeriod, memoryLimitBytes, oomScoreAdj} for container, or NULL + err. */
json_t *podres_container_linux (const json_t *container, const json_t *pod, int64_t node_memory_bytes, char *err,
                                size_t errlen);

#endif
