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
 * cpu shares at most 262144; memory limit bytes (0 = none; a request defaults to its limit
 * too); oomScoreAdj: Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000*memory request/
 * node capacity clamped to [3, 999] (policy.go: at least 1000 + the Guaranteed -997, so above a
 * Guaranteed pod using all memory; the docs' "max(2, …)" dates from when Guaranteed was -998;
 * node critical pods and sidecars' adjustments are the caller's). Returns a new object
 * {cpuShares, cpuQuota, cpuPeriod, memoryLimitBytes, oomScoreAdj}, or NULL with err naming the
 * quantity that does not parse. */
json_t *cgroup_container_resources (const json_t *container, qos_class_t q, int64_t node_memory_bytes, char *err,
                                    size_t errlen);

typedef enum { CGROUP_V1 = 1, CGROUP_V2 = 2 } cgroup_version_t;
/* Looks at the mount root ("/sys/fs/cgroup"): v2 if cgroup.controllers is there (unified),
 * else v1 (hybrid machines count as v1: the controllers are on v1). */
cgroup_version_t cgroup_detect (const char *mount_root);

/* Removes the pod's cgroup directories (every v1 controller directory under mount_root, or the
 * v2 dir), deepest first, only when empty (rmdir), never following symlinks; missing ones are
 * fine. 0, or -1 when one still has processes (or pod_path is not absolute or holds ".."); the
 * others are removed all the same. */
int cgroup_remove_pod (const char *mount_root, cgroup_version_t v, const char *pod_path);

/* After a container ended, before its cgroup is removed: did its cgroup record an OOM kill?
 * v1 memory.oom_control "oom_kill N" (Linux 4.13+), else memory.failcnt > 0 (the limit was hit);
 * v2 memory.events "oom_kill N". 1 yes, 0 no or unknown (no file). Used when conmon's "oom" file
 * is absent. */
int cgroup_oom_killed (const char *mount_root, cgroup_version_t v, const char *container_path);

#endif
