/* hollow — the pure part of `troupe hollow`. See hollow.h. */
#include "cli/hollow.h"
#include "actors/agent/nodestatus.h"
#include "actors/agent/podres.h"
#include "core/bootstrap.h"
#include "core/meta.h"
#include "core/quantity.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
set_err (char *err, size_t len, const char *fmt, const char *a, const char *b)
{
    snprintf (err, len, fmt, a, b);
    return -1;
}

/* A label key as Kubernetes takes it: [prefix/]name, name ≤ 63 of [A-Za-z0-9._-], alphanumeric ends. */
static int
valid_name_part (const char *s, size_t n, int allow_empty)
{
    if (n == 0)
        return allow_empty;
    if (n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '_' && c != '.')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
    }
    return 1;
}

static int
valid_key (const char *k)
{
    const char *slash = strchr (k, '/');
    if (slash) {
        size_t pl = (size_t) (slash - k);
        if (pl == 0 || pl > 253)
            return 0;
        for (size_t i = 0; i < pl; i++)
            if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-' || k[i] == '.'))
                return 0;
        k = slash + 1;
    }
    return valid_name_part (k, strlen (k), 0);
}

int
hollow_parse_labels (const char *s, json_t *obj, char *err, size_t errlen)
{
    char buf[4096];
    snprintf (buf, sizeof buf, "%s", s ? s : "");
    for (char *save, *it = strtok_r (buf, ",", &save); it; it = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (it, '=');
        if (!eq)
            return set_err (err, errlen, "--labels: \"%s\": expected key=value%s", it, "");
        *eq = 0;
        const char *v = eq + 1;
        if (!valid_key (it))
            return set_err (err, errlen, "--labels: \"%s\": not a valid label key%s", it, "");
        if (!valid_name_part (v, strlen (v), 1))
            return set_err (err, errlen, "--labels: %s=\"%s\": not a valid label value", it, v);
        json_object_set_new (obj, it, json_string (v));
    }
    return 0;
}

int
hollow_parse_taints (const char *s, json_t *arr, char *err, size_t errlen)
{
    char buf[4096];
    snprintf (buf, sizeof buf, "%s", s ? s : "");
    for (char *save, *it = strtok_r (buf, ",", &save); it; it = strtok_r (NULL, ",", &save)) {
        char *colon = strrchr (it, ':');
        if (!colon)
            return set_err (err, errlen, "--taints: \"%s\": expected key[=value]:effect%s", it, "");
        *colon = 0;
        const char *eff = colon + 1;
        if (strcmp (eff, "NoSchedule") && strcmp (eff, "PreferNoSchedule") && strcmp (eff, "NoExecute"))
            return set_err (err, errlen,
                            "--taints: %s: effect \"%s\": must be NoSchedule, PreferNoSchedule or NoExecute", it, eff);
        char *eq = strchr (it, '=');
        const char *v = NULL;
        if (eq) {
            *eq = 0;
            v = eq + 1;
        }
        if (!valid_key (it))
            return set_err (err, errlen, "--taints: \"%s\": not a valid taint key%s", it, "");
        if (v && !valid_name_part (v, strlen (v), 1))
            return set_err (err, errlen, "--taints: %s=\"%s\": not a valid taint value", it, v);
        json_t *t = json_pack ("{s:s,s:s}", "key", it, "effect", eff);
        if (v && *v)
            json_object_set_new (t, "value", json_string (v));
        json_array_append_new (arr, t);
    }
    return 0;
}

static int
quantity_flag (const char *name, const char *given, const char *dflt, int whole, char *out, size_t outlen, char *err,
               size_t errlen)
{
    const char *s = given ? given : dflt;
    int64_t m;
    char qerr[200];
    if (quantity_parse_milli (s, &m, qerr, sizeof qerr)) {
        snprintf (err, errlen, "--%s \"%s\": %s", name, s, qerr);
        return -1;
    }
    if (m <= 0 || (whole && m % 1000)) {
        snprintf (err, errlen, "--%s \"%s\": must be %s", name, s, whole ? "a positive whole number" : "positive");
        return -1;
    }
    snprintf (out, outlen, "%s", s);
    return 0;
}

int
hollow_config (const hollow_flags_t *f, hollow_cfg_t *cfg, char *err, size_t errlen)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->labels = json_object ();
    cfg->taints = json_array ();
    cfg->zones = json_array ();
    if (!f->nodes) {
        snprintf (err, errlen, "--nodes N is required");
        return -1;
    }
    char *end;
    long n = strtol (f->nodes, &end, 10);
    if (!*f->nodes || *end || n < 1 || n > HOLLOW_MAX_NODES) {
        snprintf (err, errlen, "--nodes \"%s\": must be a number from 1 to %d", f->nodes, HOLLOW_MAX_NODES);
        return -1;
    }
    cfg->nodes = (int) n;
    if (quantity_flag ("cpu", f->cpu, "4", 0, cfg->cpu, sizeof cfg->cpu, err, errlen) ||
        quantity_flag ("memory", f->memory, "16Gi", 0, cfg->memory, sizeof cfg->memory, err, errlen) ||
        quantity_flag ("pods", f->pods, "110", 1, cfg->pods, sizeof cfg->pods, err, errlen) ||
        quantity_flag ("ephemeral-storage", f->ephemeral_storage, "100Gi", 0, cfg->ephemeral_storage,
                       sizeof cfg->ephemeral_storage, err, errlen))
        return -1;
    if (hollow_parse_labels (f->labels, cfg->labels, err, errlen) || hollow_parse_taints (f->taints, cfg->taints, err, errlen))
        return -1;
    if (f->zones) {
        char buf[4096];
        snprintf (buf, sizeof buf, "%s", f->zones);
        for (char *save, *z = strtok_r (buf, ",", &save); z; z = strtok_r (NULL, ",", &save)) {
            if (!valid_name_part (z, strlen (z), 0)) {
                snprintf (err, errlen, "--zones: \"%s\": not a valid label value", z);
                return -1;
            }
            json_array_append_new (cfg->zones, json_string (z));
        }
        if (!json_array_size (cfg->zones)) {
            snprintf (err, errlen, "--zones: expected z1,z2,…");
            return -1;
        }
    }
    const char *p = f->prefix ? f->prefix : "hollow-";
    size_t pl = strlen (p);
    /* the names are node names (DNS labels, file names of their certificates): lowercase
     * [a-z0-9-.], starting with a letter or digit, room for the index */
    int ok = pl > 0 && pl <= 50 && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9'));
    for (size_t i = 0; ok && i < pl; i++)
        ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '.';
    if (!ok) {
        snprintf (err, errlen, "--prefix \"%s\": a node name prefix: up to 50 of [a-z0-9-.], starting with a letter or digit", p);
        return -1;
    }
    snprintf (cfg->prefix, sizeof cfg->prefix, "%s", p);
    const char *d = f->startup_delay ? f->startup_delay : "1s";
    cfg->startup_delay_ms = tr_duration_parse_ms (d);
    if (cfg->startup_delay_ms < 0) {
        snprintf (err, errlen, "--startup-delay \"%s\": expected a duration such as 1s, 500ms or 0", d);
        return -1;
    }
    const char *lp = f->lease_period ? f->lease_period : "10s";
    cfg->lease_period_ms = tr_duration_parse_ms (lp);
    if (cfg->lease_period_ms < 500 || cfg->lease_period_ms > 40000) {
        snprintf (err, errlen, "--lease-period \"%s\": expected a duration from 500ms to 40s (the Lease lasts 40 s)", lp);
        return -1;
    }
    if (f->data && !*f->data) {
        snprintf (err, errlen, "--data: empty");
        return -1;
    }
    snprintf (cfg->data, sizeof cfg->data, "%s", f->data ? f->data : "");
    return 0;
}

void
hollow_cfg_free (hollow_cfg_t *cfg)
{
    json_decref (cfg->labels);
    json_decref (cfg->taints);
    json_decref (cfg->zones);
    cfg->labels = cfg->taints = cfg->zones = NULL;
}

void
hollow_node_name (const hollow_cfg_t *cfg, int idx, char *buf, size_t len)
{
    snprintf (buf, len, "%s%d", cfg->prefix, idx);
}

void
hollow_host_ip (int idx, char *buf, size_t len)
{
    uint32_t a = (198u << 24) | (18u << 16);
    a += (uint32_t) (idx % 131070) + 1;
    snprintf (buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

void
hollow_fake_cidr (int idx, char *buf, size_t len)
{
    uint32_t a = (100u << 24) | (64u << 16);
    a += (uint32_t) (idx % 16384) << 8;
    snprintf (buf, len, "%u.%u.%u.0/24", a >> 24, (a >> 16) & 255, (a >> 8) & 255);
}

static int
cidr_parse (const char *cidr, uint32_t *net, int *plen)
{
    char buf[64];
    snprintf (buf, sizeof buf, "%s", cidr ? cidr : "");
    char *slash = strchr (buf, '/');
    if (!slash)
        return -1;
    *slash = 0;
    char *end;
    long p = strtol (slash + 1, &end, 10);
    struct in_addr in;
    if (*end || p < 1 || p > 30 || inet_pton (AF_INET, buf, &in) != 1)
        return -1;
    uint32_t mask = p == 32 ? 0xffffffffu : ~(0xffffffffu >> p);
    *net = ntohl (in.s_addr) & mask;
    *plen = (int) p;
    return 0;
}

int
hollow_cidr_slots (const char *cidr)
{
    uint32_t net;
    int plen;
    if (cidr_parse (cidr, &net, &plen))
        return 0;
    uint64_t size = 1ull << (32 - plen);
    uint64_t n = size - 3; /* network, the bridge (.1), broadcast */
    return n > 65536 ? 65536 : (int) n;
}

int
hollow_pod_ip (const char *cidr, int slot, char *buf, size_t len)
{
    uint32_t net;
    int plen;
    if (cidr_parse (cidr, &net, &plen) || slot < 0 || slot >= hollow_cidr_slots (cidr))
        return -1;
    uint32_t a = net + 2 + (uint32_t) slot;
    snprintf (buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return 0;
}

json_t *
hollow_node_status (const hollow_cfg_t *cfg, int idx, const json_t *prev, const char *now)
{
    /* the agent's own conditions, for a machine with room to spare and a runtime that answers */
    nodestatus_measure_t m;
    memset (&m, 0, sizeof m);
    m.online_cpus = 4;
    m.cgroup_cpu_milli = m.cgroup_mem_limit = m.cgroup_mem_usage = -1;
    m.mem_total = m.mem_available = 1ll << 40;
    m.fs_bytes = m.fs_avail_bytes = 1ll << 40;
    m.fs_inodes = m.fs_inodes_free = 1ll << 30;
    m.pid_max = 4194304;
    m.pids_running = 1;
    m.runtime_ok = 1;
    nodestatus_config_t nc;
    nodestatus_config_default (&nc);
    json_t *res = json_pack ("{s:s,s:s,s:s,s:s}", "cpu", cfg->cpu, "memory", cfg->memory, "ephemeral-storage",
                             cfg->ephemeral_storage, "pods", cfg->pods);
    char name[128];
    hollow_node_name (cfg, idx, name, sizeof name);
    (void) idx;
    return json_pack ("{s:O,s:o,s:o,s:{s:s,s:s,s:s,s:s,s:s,s:s},s:[{s:s,s:s}],s:[]}", "capacity", res, "allocatable", res,
                      "conditions", nodestatus_conditions (&m, &nc, prev, now), "nodeInfo", "architecture", "amd64",
                      "operatingSystem", "linux", "osImage", "hollow", "kernelVersion", "hollow", "kubeletVersion",
                      "troupe-0.1", "containerRuntimeVersion", "hollow://0.1", "addresses", "type", "Hostname",
                      "address", name, "images");
}

json_t *
hollow_node_object (const hollow_cfg_t *cfg, int idx, const char *now)
{
    char name[128];
    hollow_node_name (cfg, idx, name, sizeof name);
    json_t *labels = json_deep_copy (cfg->labels);
    json_object_set_new (labels, "kubernetes.io/hostname", json_string (name));
    json_object_set_new (labels, "kubernetes.io/os", json_string ("linux"));
    json_object_set_new (labels, "kubernetes.io/arch", json_string ("amd64"));
    size_t nz = json_array_size (cfg->zones);
    if (nz)
        json_object_set (labels, "topology.kubernetes.io/zone", json_array_get (cfg->zones, (size_t) idx % nz));
    json_t *spec = json_object ();
    if (json_array_size (cfg->taints))
        json_object_set_new (spec, "taints", json_deep_copy (cfg->taints));
    return json_pack ("{s:s,s:s,s:{s:s,s:o},s:o,s:o}", "apiVersion", "v1", "kind", "Node", "metadata", "name", name,
                      "labels", labels, "spec", spec, "status", hollow_node_status (cfg, idx, NULL, now));
}

int
hollow_node_stale (const hollow_cfg_t *cfg, const json_t *node)
{
    size_t i;
    json_t *c;
    int ready = 0;
    json_array_foreach (tv_get (node, "status.conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), "Ready"))
        ready = tv_str (c, "status") && !strcmp (tv_str (c, "status"), "True");
    if (!ready)
        return 1;
    const char *cpu = tv_str (node, "status.capacity.cpu"), *mem = tv_str (node, "status.capacity.memory");
    const char *pods = tv_str (node, "status.capacity.pods");
    return !cpu || strcmp (cpu, cfg->cpu) || !mem || strcmp (mem, cfg->memory) || !pods || strcmp (pods, cfg->pods);
}

static json_t *
cond (const json_t *old, const char *type, const char *now)
{
    return tr_condition (old, type, 1, NULL, NULL, now);
}

json_t *
hollow_pod_status (const json_t *pod, const char *host_ip, const char *pod_ip, const char *started, const char *now)
{
    const json_t *old = tv_get (pod, "status.conditions");
    const char *uid = tv_str (pod, "metadata.uid");
    json_t *conds = json_pack ("[o,o,o,o]", cond (old, "Initialized", now),
                               cond (old, "Ready", now), cond (old, "ContainersReady", now),
                               cond (old, "PodScheduled", now));
    json_t *cs = json_array (), *ics = json_array ();
    size_t i;
    json_t *c;
    char id[256];
    json_array_foreach (tv_get (pod, "spec.initContainers"), i, c) {
        const char *name = tv_str (c, "name");
        if (!name)
            continue;
        snprintf (id, sizeof id, "hollow://%.64s-init-%.100s", uid ? uid : "", name);
        json_array_append_new (ics, json_pack ("{s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:{s:{s:i,s:s,s:s,s:s}},s:{}}", "name", name,
                                               "image", tv_str (c, "image") ? tv_str (c, "image") : "", "imageID", "",
                                               "containerID", id, "ready", 1, "started", 0, "restartCount", 0, "state",
                                               "terminated", "exitCode", 0, "reason", "Completed", "startedAt", started,
                                               "finishedAt", started, "lastState"));
    }
    json_array_foreach (tv_get (pod, "spec.containers"), i, c) {
        const char *name = tv_str (c, "name");
        if (!name)
            continue;
        snprintf (id, sizeof id, "hollow://%.64s-%.100s", uid ? uid : "", name);
        json_array_append_new (cs, json_pack ("{s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:{s:{s:s}},s:{}}", "name", name, "image",
                                              tv_str (c, "image") ? tv_str (c, "image") : "", "imageID", "",
                                              "containerID", id, "ready", 1, "started", 1, "restartCount", 0, "state",
                                              "running", "startedAt", started, "lastState"));
    }
    const char *qos = podres_qos (pod);
    json_t *st = json_pack ("{s:s,s:o,s:s,s:[{s:s}],s:s,s:[{s:s}],s:s,s:o,s:s}", "phase", "Running", "conditions", conds,
                            "hostIP", host_ip, "hostIPs", "ip", host_ip, "podIP", pod_ip, "podIPs", "ip", pod_ip,
                            "startTime", started, "containerStatuses", cs, "qosClass", qos ? qos : "BestEffort");
    if (json_array_size (ics))
        json_object_set_new (st, "initContainerStatuses", ics);
    else
        json_decref (ics);
    return st;
}

json_t *
hollow_pod_keep (void)
{
    static const char *const paths[] = {
        "metadata.name", "metadata.namespace", "metadata.uid", "metadata.deletionTimestamp",
        "spec.containers.name", "spec.containers.image", "spec.containers.resources", /* statuses, QoS class */
        "spec.initContainers.name", "spec.initContainers.image", "spec.initContainers.resources",
        "status.phase", "status.conditions", "status.podIP",
    };
    return tv_keep_new (paths, sizeof paths / sizeof *paths);
}

json_t *
hollow_running_keep (void)
{
    static const char *const paths[] = {
        "metadata.name", "metadata.namespace", "metadata.uid", "metadata.deletionTimestamp", "status.phase",
    };
    return tv_keep_new (paths, sizeof paths / sizeof *paths);
}

int
hollow_msgpack_pod_uid (const msgpack_object *o, char *buf, size_t len)
{
    const msgpack_object *uid = sp_field (sp_field (o, "metadata"), "uid");
    return uid && uid->type == MSGPACK_OBJECT_STR ? sp_str (uid, buf, len) : -1;
}

hollow_pod_action_t
hollow_pod_decide (const json_t *pod)
{
    if (tv_get (pod, "metadata.deletionTimestamp"))
        return HOLLOW_POD_DELETE;
    const char *phase = tv_str (pod, "status.phase");
    if (phase && (!strcmp (phase, "Running") || !strcmp (phase, "Succeeded") || !strcmp (phase, "Failed")))
        return HOLLOW_POD_NOTHING;
    return HOLLOW_POD_START;
}
