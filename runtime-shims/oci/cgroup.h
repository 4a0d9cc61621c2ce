/* cgroup — the kubelet's pod cgroups, for the oci runtime: QoS class, the kubepods hierarchy,
 * resource values, and cgroup v1 / v2 detection. The computations are pure (unit-tested); the
 * few file operations take the cgroup mount root as an argument so tests use a fake tree.
 *
 * Hierarchy (cgroupfs driver, as the kubelet's): /kubepods (Guaranteed pods directly under it),
 * /kubepods/burstable, /kubepods/besteffort; a pod's cgroup "pod<uid>"; a container's below it,
 * named by its id. Several nodes on one machine use their own parent ("/troupe-<node>/kubepods").
 */
#ifndef TROUPE_CGROUP_H
#define TROUPE_CGROUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { QOS_BESTEFFORT = 0, QOS_BURSTABLE, QOS_GUARANTEED } qos_class_t;

/* Kubernetes' QoS rules over spec.containers (and initContainers): every container has cpu and
 * memory limits equal to its requests (a request defaults to its limit) → Guaranteed; no
 * request or limit anywhere → BestEffort; else Burstable. */
qos_class_t cgroup_qos (const json_t *pod_spec);
const char *cgroup_qos_name (qos_class_t q);   /* "Guaranteed", "Burstable", "BestEffort" */

/* "/<parent>/kubepods[/burstable|/besteffort]/pod<uid>"; parent "" or "troupe-node1". */
void cgroup_pod_path (const char *parent, qos_class_t q, const char *uid, char *buf, size_t len);

/* Per-container values from the container's resources, as the kubelet computes them:
 * cpu shares = request milli * 1024 / 1000 (min 2; no request: 2, or the limit's when only a
 * limit is set); quota = limit milli * period / 1000 (period 100000 µs, min 1000), 0 = none;
 * memory limit bytes (0 = none); oomScoreAdj: Guaranteed -997, BestEffort 1000, Burstable
 * 1000 - 1000*request/node capacity clamped to [2, 999]. Returns a new object
 * {cpuShares, cpuQuota, cpuPeriod, memoryLimitBytes, oomScoreAdj}, or NULL with err naming the
 * quantity that does not parse. */
json_t *cgroup_container_resources (const json_t *container, qos_class_t q, int64_t node_memory_bytes, char *err,
                                    size_t errlen);

typedef enum { CGROUP_V1 = 1, CGROUP_V2 = 2 } cgroup_version_t;
/* Looks at the mount root ("/sys/fs/cgroup"): v2 if cgroup.controllers is there (unified),
 * else v1 (hybrid machines count as v1: the controllers are on v1). */
cgroup_version_t cgroup_detect (const char *mount_root);

/* Removes the pod's cgroup directories (every v1 controller, or the v2 dir), deepest first,
 * only when empty; missing ones are fine. 0, or -1 when one still has processes. */
int cgroup_remove_pod (const char *mount_root, cgroup_version_t v, const char *pod_path);

/* After a container ended: did its cgroup record an OOM kill? (v1 memory.oom_control
 * oom_kill / memory.failcnt, v2 memory.events oom_kill). Used when conmon's "oom" file is absent. */
int cgroup_oom_killed (const char *mount_root, cgroup_version_t v, const char *container_path);

#endif
