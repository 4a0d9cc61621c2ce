/* qos — see qos.h. */
#include "core/qos.h"
#include "core/errbuf.h"
#include "core/quantity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the kubelet's constants (pkg/kubelet/cm/helpers_linux.go, pkg/kubelet/qos/policy.go) */
#define MIN_SHARES 2
#define MAX_SHARES 262144
#define SHARES_PER_CPU 1024
#define MILLI_PER_CPU 1000
#define QUOTA_PERIOD 100000
#define MIN_QUOTA 1000
#define GUARANTEED_OOM_SCORE_ADJ (-997)
#define BESTEFFORT_OOM_SCORE_ADJ 1000

/* A resource of a requests/limits map in milli units: 1 and *milli when set, non-zero and
 * parsable; 0 otherwise (Kubernetes ignores zero quantities for the QoS class). Quantities may be
 * strings ("500m") or JSON numbers. */
static int
res_milli (const json_t *map, const char *name, int64_t *milli)
{
    const json_t *v = json_object_get (map, name);
    char buf[64];
    const char *s;
    if (json_is_string (v))
        s = json_string_value (v);
    else if (json_is_integer (v)) {
        snprintf (buf, sizeof buf, "%lld", (long long) json_integer_value (v));
        s = buf;
    } else
        return 0;
    if (quantity_parse_milli (s, milli, NULL, 0) < 0 || *milli == 0)
        return 0;
    return 1;
}

static const char *const qos_resources[] = {"cpu", "memory"};

/* Kubernetes' GetPodQOS: sums of requests and limits over all containers, cpu and memory only. */
qos_class_t
qos_class_of (const json_t *pod_spec)
{
    int64_t req_sum[2] = {0, 0}, lim_sum[2] = {0, 0};
    int req_any[2] = {0, 0}, lim_any[2] = {0, 0};
    int guaranteed = 1;
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (json_object_get (pod_spec, lists[l]), i, c) {
            const json_t *res = json_object_get (c, "resources");
            const json_t *requests = json_object_get (res, "requests");
            const json_t *limits = json_object_get (res, "limits");
            int limits_found = 0;
            for (int r = 0; r < 2; r++) {
                int64_t req = 0, lim = 0;
                int has_req = res_milli (requests, qos_resources[r], &req);
                int has_lim = res_milli (limits, qos_resources[r], &lim);
                if (!has_req && has_lim) { /* the API server's defaulting: request = limit */
                    req = lim;
                    has_req = 1;
                }
                if (has_req) {
                    req_sum[r] += req;
                    req_any[r] = 1;
                }
                if (has_lim) {
                    lim_sum[r] += lim;
                    lim_any[r] = 1;
                    limits_found++;
                }
            }
            if (limits_found < 2)
                guaranteed = 0;
        }
    }
    if (!req_any[0] && !req_any[1] && !lim_any[0] && !lim_any[1])
        return QOS_BESTEFFORT;
    /* Kubernetes also asks len(requests) == len(limits): implied here, since a Guaranteed
     * candidate has both limits everywhere and requests default to them */
    for (int r = 0; r < 2 && guaranteed; r++) {
        if (req_any[r] && (!lim_any[r] || lim_sum[r] != req_sum[r]))
            guaranteed = 0;
    }
    return guaranteed ? QOS_GUARANTEED : QOS_BURSTABLE;
}

const char *
qos_class_name (qos_class_t q)
{
    switch (q) {
    case QOS_GUARANTEED: return "Guaranteed";
    case QOS_BURSTABLE: return "Burstable";
    default: return "BestEffort";
    }
}

void
qos_pod_cgroup (const char *parent, qos_class_t q, const char *uid, char *buf, size_t len)
{
    if (!parent)
        parent = "";
    while (*parent == '/')
        parent++;
    int plen = (int) strlen (parent);
    while (plen > 0 && parent[plen - 1] == '/')
        plen--;
    const char *tier = q == QOS_BURSTABLE ? "/burstable" : q == QOS_BESTEFFORT ? "/besteffort" : "";
    snprintf (buf, len, "%s%.*s/kubepods%s/pod%s", plen ? "/" : "", plen, parent, tier, uid ? uid : "");
}

/* MilliCPUToShares */
static int64_t
milli_to_shares (int64_t milli)
{
    if (milli <= 0)
        return MIN_SHARES;
    int64_t shares = milli > INT64_MAX / SHARES_PER_CPU ? MAX_SHARES : milli * SHARES_PER_CPU / MILLI_PER_CPU;
    if (shares < MIN_SHARES)
        return MIN_SHARES;
    return shares > MAX_SHARES ? MAX_SHARES : shares;
}

/* MilliCPUToQuota: 0 = no quota */
static int64_t
milli_to_quota (int64_t milli, int64_t period)
{
    if (milli <= 0)
        return 0;
    if (milli > INT64_MAX / period)
        return INT64_MAX / MILLI_PER_CPU;
    int64_t quota = milli * period / MILLI_PER_CPU;
    return quota < MIN_QUOTA ? MIN_QUOTA : quota;
}

/* A container's resource in milli: 0 when absent; -1 with err when it does not parse. */
static int
container_milli (const json_t *map, const char *which, const char *name, int64_t *out, char *err, size_t errlen)
{
    *out = 0;
    const json_t *v = json_object_get (map, name);
    if (!v || json_is_null (v))
        return 0;
    char buf[64], qerr[160];
    const char *s;
    if (json_is_string (v))
        s = json_string_value (v);
    else if (json_is_integer (v)) {
        snprintf (buf, sizeof buf, "%lld", (long long) json_integer_value (v));
        s = buf;
    } else
        return tr_errf (err, errlen, "resources.%s.%s: must be a quantity", which, name);
    if (quantity_parse_milli (s, out, qerr, sizeof qerr) < 0)
        return tr_errf (err, errlen, "resources.%s.%s: %s", which, name, qerr);
    if (*out < 0)
        return tr_errf (err, errlen, "resources.%s.%s: must not be negative", which, name);
    return 0;
}

json_t *
qos_container_resources (const json_t *container, qos_class_t q, int64_t node_memory_bytes, char *err,
                            size_t errlen)
{
    const json_t *res = json_object_get (container, "resources");
    const json_t *requests = json_object_get (res, "requests");
    const json_t *limits = json_object_get (res, "limits");
    int64_t cpu_req, cpu_lim, mem_req, mem_lim;
    if (container_milli (requests, "requests", "cpu", &cpu_req, err, errlen) < 0
        || container_milli (limits, "limits", "cpu", &cpu_lim, err, errlen) < 0
        || container_milli (requests, "requests", "memory", &mem_req, err, errlen) < 0
        || container_milli (limits, "limits", "memory", &mem_lim, err, errlen) < 0)
        return NULL;
    if (cpu_req == 0 && cpu_lim != 0) /* the kubelet repeats the API server's defaulting */
        cpu_req = cpu_lim;
    if (mem_req == 0 && mem_lim != 0)
        mem_req = mem_lim;
    /* memory in bytes, rounded up as Quantity.Value() */
    int64_t mem_limit_bytes = mem_lim / 1000 + (mem_lim % 1000 != 0);
    int64_t mem_req_bytes = mem_req / 1000 + (mem_req % 1000 != 0);

    int64_t oom;
    if (q == QOS_GUARANTEED)
        oom = GUARANTEED_OOM_SCORE_ADJ;
    else if (q == QOS_BESTEFFORT)
        oom = BESTEFFORT_OOM_SCORE_ADJ;
    else {
        if (node_memory_bytes <= 0)
            return tr_errf (err, errlen, "node memory capacity: must be positive"), NULL;
        /* 1000 - 1000*request/capacity, without overflowing for huge requests */
        int64_t share = mem_req_bytes >= node_memory_bytes
                            ? 1000
                            : (int64_t) ((__int128) 1000 * mem_req_bytes / node_memory_bytes);
        oom = 1000 - share;
        if (oom < 1000 + GUARANTEED_OOM_SCORE_ADJ)
            oom = 1000 + GUARANTEED_OOM_SCORE_ADJ; /* above a Guaranteed pod using all memory */
        if (oom == BESTEFFORT_OOM_SCORE_ADJ)
            oom = BESTEFFORT_OOM_SCORE_ADJ - 1;   /* below BestEffort */
    }
    return json_pack ("{s:I, s:I, s:I, s:I, s:I}", "cpuShares", (json_int_t) milli_to_shares (cpu_req), "cpuQuota",
                      (json_int_t) milli_to_quota (cpu_lim, QUOTA_PERIOD), "cpuPeriod", (json_int_t) QUOTA_PERIOD,
                      "memoryLimitBytes", (json_int_t) mem_limit_bytes, "oomScoreAdj", (json_int_t) oom);
}
