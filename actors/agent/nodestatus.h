/* nodestatus — what the agent reports about its machine in Node.status, as the kubelet does:
 * capacity, allocatable and the conditions MemoryPressure, DiskPressure, PIDPressure, Ready.
 *
 * Split as measure (I/O: /proc, /sys/fs/cgroup, statvfs, under a root prefix so tests can give
 * a fake tree) → decide (pure: measurements + configuration → resources and conditions).
 *
 *   capacity.cpu       online CPUs, limited by the cgroup CPU quota of the agent's cgroup or an
 *                      ancestor (v1 cpu.cfs_quota_us / cpu.cfs_period_us, v2 cpu.max), in milli
 *   capacity.memory    MemTotal, limited by the cgroup memory limit (v1 memory.limit_in_bytes,
 *                      v2 memory.max, the smallest along the ancestors)
 *   capacity.ephemeral-storage   statvfs of the data directory (blocks × fragment size)
 *   capacity.pods      --max-pods (110)
 *   allocatable        capacity − kube-reserved − system-reserved − the hard eviction threshold
 *                      (memory.available for memory, nodefs.available for ephemeral-storage),
 *                      never below 0 — the kubelet's Node Allocatable.
 * Conditions (the kubelet's order, types, reasons and messages):
 *   MemoryPressure  True when memory.available (MemAvailable, or limit − usage of a limited
 *                   cgroup if smaller) < evictionHard memory.available (100Mi)
 *   DiskPressure    True when nodefs.available < 10% or nodefs.inodesFree < 5% (of the data
 *                   directory's filesystem)
 *   PIDPressure     True when pid.available (min(pid_max, threads-max) − tasks running) is below
 *                   evictionHard pid.available, which like the kubelet's has no default (off)
 *   Ready           True only when the runtime shim answered its last call; else False,
 *                   KubeletNotReady, "container runtime is down: ..."
 * A condition keeps its lastTransitionTime while its status does not change.
 */
#ifndef TROUPE_NODESTATUS_H
#define TROUPE_NODESTATUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Node resources; memory and ephemeral storage in bytes, cpu in thousandths of a CPU. */
typedef struct {
    int64_t cpu_milli;
    int64_t memory;
    int64_t ephemeral_storage;
    int64_t pods;
} nodestatus_res_t;

/* An eviction threshold: an absolute quantity, or a percentage of the signal's capacity. */
typedef struct {
    int64_t value;   /* bytes, inodes or pids; used when percent < 0 */
    int percent;     /* 0..100, or -1 */
    int set;         /* 0: no threshold for this signal */
} nodestatus_threshold_t;

typedef struct {
    nodestatus_res_t kube_reserved, system_reserved;
    int64_t max_pods;                      /* 110 */
    nodestatus_threshold_t memory_available, nodefs_available, nodefs_inodes_free, pid_available;
} nodestatus_config_t;

/* What the machine says. -1 where unknown (or, for cgroup limits, where there is none). */
typedef struct {
    int64_t online_cpus;
    int64_t cgroup_cpu_milli;   /* quota × 1000 / period, -1: no quota */
    int64_t mem_total;          /* bytes (MemTotal) */
    int64_t mem_available;      /* bytes (MemAvailable) */
    int64_t cgroup_mem_limit;   /* bytes, -1: no limit */
    int64_t cgroup_mem_usage;   /* bytes, -1: unknown */
    int64_t fs_bytes, fs_avail_bytes, fs_inodes, fs_inodes_free;
    int64_t pid_max;            /* min(kernel.pid_max, kernel.threads-max) */
    int64_t pids_running;       /* tasks on the machine (/proc/loadavg) */
    int runtime_ok;             /* the runtime shim answered its last call */
    char runtime_msg[512];      /* why not, when !runtime_ok */
} nodestatus_measure_t;

/* The kubelet's defaults: max-pods 110, no reservations, evictionHard memory.available<100Mi,
 * nodefs.available<10%, nodefs.inodesFree<5%, no pid.available. */
void nodestatus_config_default (nodestatus_config_t *cfg);

/* Parses a kubelet --kube-reserved / --system-reserved value: "cpu=100m,memory=100Mi,
 * ephemeral-storage=1Gi,pid=1000" (any subset; empty is none). 0, or -1 with err naming the
 * item ("memory: quantity \"1Gx\": unknown suffix ..."; "gpu: unsupported resource ..."). */
int nodestatus_parse_reserved (const char *spec, nodestatus_res_t *out, char *err, size_t errlen);
/* Parses a kubelet --eviction-hard value: "memory.available<100Mi,nodefs.available<10%,
 * nodefs.inodesFree<5%,pid.available<1000". Signals not named keep their value in cfg
 * (the kubelet replaces the whole default set; an explicitly empty value "" clears them all).
 * 0, or -1 with err. */
int nodestatus_parse_eviction (const char *spec, nodestatus_config_t *cfg, char *err, size_t errlen);

/* Reads the machine under root ("" for the real one; a test passes a directory holding
 * proc/self/cgroup, proc/meminfo, proc/loadavg, proc/sys/kernel/{pid_max,threads-max},
 * sys/fs/cgroup/...). data_dir is statvfs'd as is. online_cpus comes from sysconf when root
 * is "" and from proc/cpus (a number) in a test tree. Leaves runtime_ok/msg alone.
 * Returns 0 (what cannot be read stays -1). */
int nodestatus_measure (const char *root, const char *data_dir, nodestatus_measure_t *m);

/* Pure: capacity and allocatable from measurements and configuration. */
void nodestatus_capacity (const nodestatus_measure_t *m, const nodestatus_config_t *cfg, nodestatus_res_t *cap);
void nodestatus_allocatable (const nodestatus_res_t *cap, const nodestatus_config_t *cfg, nodestatus_res_t *alloc);
/* {"cpu": "2", "memory": "16318416Ki", "ephemeral-storage": "...", "pods": "110"}: new reference. */
json_t *nodestatus_resources_json (const nodestatus_res_t *r);

/* Pure: the four conditions for measurements m at time now (RFC 3339), keeping each
 * lastTransitionTime of prev (the Node's current status.conditions, may be NULL) whose status is
 * unchanged. New reference (an array). */
json_t *nodestatus_conditions (const nodestatus_measure_t *m, const nodestatus_config_t *cfg, const json_t *prev,
                               const char *now);

/* 1 if the conditions (type, status, reason, message — not their times) or the resources of two
 * Node statuses differ (what makes the kubelet post before its report period), else 0. */
int nodestatus_changed (const json_t *old_status, const json_t *new_status);

#endif
