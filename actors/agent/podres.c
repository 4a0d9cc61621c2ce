/* podres — see podres.h. The kubelet's rules: pkg/apis/core/v1/helper/qos (QoS),
 * pkg/kubelet/cm (MilliCPUToShares, MilliCPUToQuota, kubepods hierarchy) and
 * pkg/kubelet/qos/policy.go (oom_score_adj). */
#include "actors/agent/podres.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

#define MIN_SHARES 2
#define MAX_SHARES 262144
#define QUOTA_PERIOD 100000
#define MIN_QUOTA 1000

/* milli of resources.<which>.<res>, or -1 when absent (0 is a value) */
static int64_t
get_milli (const json_t *c, const char *which, const char *res)
{
    char path[96];
    snprintf (path, sizeof path, "resources.%s.%s", which, res);
    const json_t *v = tv_get (c, path);
    int64_t m;
    char err[128];
    if (!v || tv_quantity_milli (v, &m, err, sizeof err))
        return -1;
    return m;
}

const char *
podres_qos (const json_t *pod)
{
    int any = 0, guaranteed = 1;
    const char *lists[] = {"spec.containers", "spec.initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (tv_get (pod, lists[l]), i, c) {
            const char *res[] = {"cpu", "memory"};
            for (int r = 0; r < 2; r++) {
                int64_t req = get_milli (c, "requests", res[r]), lim = get_milli (c, "limits", res[r]);
                if (req < 0)
                    req = lim; /* a request defaults to its limit */
                if (req > 0 || lim > 0)
                    any = 1;
                if (lim <= 0 || req != lim)
                    guaranteed = 0;
            }
        }
    }
    if (!any)
        return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
}

void
podres_cgroup_parent (const char *parent, const json_t *pod, char *buf, size_t len)
{
    const char *q = podres_qos (pod);
    const char *sub = !strcmp (q, "Guaranteed") ? "" : !strcmp (q, "Burstable") ? "/burstable" : "/besteffort";
    const char *uid = tv_str (pod, "metadata.uid");
    char u[80];
    snprintf (u, sizeof u, "%s", uid ? uid : "");
    for (char *p = u; *p; p++) /* the kubelet's cgroupfs names: dashes kept */
        if (*p == '/')
            *p = '_';
    snprintf (buf, len, "%s%s/kubepods%s/pod%s", parent && *parent ? "/" : "", parent ? parent : "", sub, u);
}

json_t *
podres_container_linux (const json_t *c, const json_t *pod, int64_t node_memory_bytes, char *err, size_t errlen)
{
    (void) err;
    (void) errlen;
    const char *q = podres_qos (pod);
    int64_t cpu_req = get_milli (c, "requests", "cpu"), cpu_lim = get_milli (c, "limits", "cpu");
    int64_t mem_req = get_milli (c, "requests", "memory"), mem_lim = get_milli (c, "limits", "memory");
    if (cpu_req < 0)
        cpu_req = cpu_lim;
    if (mem_req < 0)
        mem_req = mem_lim;
    int64_t shares = cpu_req > 0 ? cpu_req * 1024 / 1000 : MIN_SHARES;
    if (shares < MIN_SHARES)
        shares = MIN_SHARES;
    if (shares > MAX_SHARES)
        shares = MAX_SHARES;
    int64_t quota = 0;
    if (cpu_lim > 0) {
        quota = cpu_lim * QUOTA_PERIOD / 1000;
        if (quota < MIN_QUOTA)
            quota = MIN_QUOTA;
    }
    int64_t mem = mem_lim > 0 ? mem_lim / 1000 : 0;
    int64_t oom;
    if (!strcmp (q, "Guaranteed"))
        oom = -997;
    else if (!strcmp (q, "BestEffort"))
        oom = 1000;
    else {
        int64_t req = mem_req > 0 ? mem_req / 1000 : 0;
        oom = node_memory_bytes > 0 ? 1000 - (1000 * req) / node_memory_bytes : 999;
        if (oom < 2)
            oom = 2;
        if (oom >= 999)
            oom = 999;
    }
    return json_pack ("{s:I,s:I,s:I,s:I,s:I}", "cpuShares", (json_int_t) shares, "cpuQuota", (json_int_t) quota,
                      "cpuPeriod", (json_int_t) QUOTA_PERIOD, "memoryLimitBytes", (json_int_t) mem, "oomScoreAdj",
                      (json_int_t) oom);
}
