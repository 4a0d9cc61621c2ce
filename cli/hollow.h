/* hollow — what `troupe hollow` (kubemark's hollow node) says, the pure part: its flags, the Node
 * it registers, the status it reports for a pod, the addresses it hands out. The process that
 * plays the nodes (one event loop over one connection per node) is cli/cmd_hollow.c.
 *
 * A hollow node registers as the agent does (labels kubernetes.io/hostname, kubernetes.io/os,
 * the --labels, topology.kubernetes.io/zone round-robin over --zones; --taints at registration
 * as the kubelet's --register-with-taints; capacity = allocatable = the flags; the agent's four
 * conditions, Ready True; status.images empty) and runs nothing: a pod bound to it is reported
 * Running after --startup-delay, every container running since then, with a pod IP from the
 * Node's spec.podCIDR (or, without one, from a /24 of 100.64.0.0/10 of its own). Its address
 * (pods' hostIP) is 198.18.0.0/15 (RFC 2544, benchmarking), and the Node lists no InternalIP, so
 * a real node's agent routes nothing through a machine that does not exist. */
#ifndef TROUPE_HOLLOW_H
#define TROUPE_HOLLOW_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define HOLLOW_MAX_NODES 20000

/* The flags as given (NULL: absent, the default applies). */
typedef struct {
    const char *nodes, *cpu, *memory, *pods, *ephemeral_storage, *labels, *taints, *zones, *prefix, *startup_delay,
        *lease_period, *data;
} hollow_flags_t;

typedef struct {
    int nodes;
    char cpu[32], memory[32], pods[32], ephemeral_storage[32]; /* quantities as given, checked */
    json_t *labels;          /* object: the --labels */
    json_t *taints;          /* array of {key, value?, effect} */
    json_t *zones;           /* array of strings (may be empty) */
    char prefix[64];
    int64_t startup_delay_ms;
    int64_t lease_period_ms;
    char data[1024];         /* "" = the default (XDG_DATA_HOME/troupe/hollow) */
} hollow_cfg_t;

/* Checks and fills cfg from f (defaults: --cpu 4 --memory 16Gi --pods 110 --ephemeral-storage
 * 100Gi --prefix hollow- --startup-delay 1s --lease-period 10s). 0, or -1 with err naming the flag
 * and the problem. cfg must be freed with hollow_cfg_free either way. */
int hollow_config (const hollow_flags_t *f, hollow_cfg_t *cfg, char *err, size_t errlen);
void hollow_cfg_free (hollow_cfg_t *cfg);

/* "k=v,k2=v2" (a value may be empty: "node-role.kubernetes.io/worker=") into obj. 0 or -1. */
int hollow_parse_labels (const char *s, json_t *obj, char *err, size_t errlen);
/* "k=v:NoSchedule,k:NoExecute" into arr ({key, value?, effect}). 0 or -1. */
int hollow_parse_taints (const char *s, json_t *arr, char *err, size_t errlen);

/* The name of node idx: prefix + idx. */
void hollow_node_name (const hollow_cfg_t *cfg, int idx, char *buf, size_t len);
/* Node idx's address (198.18.0.0/15, from idx), and a /24 of its own for pods when its Node has
 * no podCIDR (100.64.0.0/10, from idx). */
void hollow_host_ip (int idx, char *buf, size_t len);
void hollow_fake_cidr (int idx, char *buf, size_t len);
/* The slot-th pod address of cidr (IPv4 a.b.c.d/n): the network + 2 + slot (.1 is the bridge's,
 * as the agent's); 0, or -1 when cidr is not IPv4 or has no room for that slot. */
int hollow_pod_ip (const char *cidr, int slot, char *buf, size_t len);
/* How many pod addresses cidr holds (0 if not IPv4). */
int hollow_cidr_slots (const char *cidr);

/* Node idx's status at now (RFC 3339), keeping the conditions' transition times of prev
 * (status.conditions of the stored Node, may be NULL). New reference. */
json_t *hollow_node_status (const hollow_cfg_t *cfg, int idx, const json_t *prev, const char *now);
/* The whole Node to create. New reference. */
json_t *hollow_node_object (const hollow_cfg_t *cfg, int idx, const char *now);
/* 1 when the stored Node's status needs a post: Ready is not True (the node controller set
 * Unknown while we were away) or capacity differs from the flags. */
int hollow_node_stale (const hollow_cfg_t *cfg, const json_t *node);

/* The status of pod, running on a hollow node since started (RFC 3339), at now. New reference. */
json_t *hollow_pod_status (const json_t *pod, const char *host_ip, const char *pod_ip, const char *started,
                           const char *now);

/* The fields of a pod a hollow node reads (hollow_pod_decide, hollow_pod_status and the watch
 * handling in cmd_hollow.c), as a keep for tv_from_msgpack_keep: its watch events are decoded
 * only that far. Keep this list beside what those read. New reference. */
json_t *hollow_pod_keep (void);

/* The fields of a pod the node has reported Running already (hollow_pod_decide, and nothing
 * else is read of it): the echo of its own status patch, and later versions, are decoded that far
 * only. New reference. */
json_t *hollow_running_keep (void);

/* Copies the metadata.uid of a pod still in msgpack (a watch event's body before it is decoded)
 * into buf (len bytes); 0, or -1 when o is not a map with a string uid that fits. */
int hollow_msgpack_pod_uid (const msgpack_object *o, char *buf, size_t len);

/* What a hollow node does with a pod it watches: nothing, report it Running (after the startup
 * delay), or confirm its deletion (grace 0). */
typedef enum { HOLLOW_POD_NOTHING, HOLLOW_POD_START, HOLLOW_POD_DELETE } hollow_pod_action_t;
hollow_pod_action_t hollow_pod_decide (const json_t *pod);

#endif
