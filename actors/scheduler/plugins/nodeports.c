/* NodePorts: PreFilter gathers the pod's host ports (containers' ports with hostPort; protocol
 * TCP and hostIP 0.0.0.0 by default), SKIP when none; Filter rejects a node where a pod holds the
 * same protocol and port on the same or a wildcard address: "node(s) didn't have free ports for
 * the requested pod ports". */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

#include <stdio.h>
#include <stdlib.h>

#define KEY "PreFilterNodePorts"

typedef struct {
    char proto[8];
    char ip[64];
    int64_t port;
} hp_t;

typedef struct {
    size_t n;
    hp_t p[];
} hps_t;

static size_t
ports_of (const json_t *pod, hp_t *out, size_t max)
{
    size_t n = 0, i, j;
    json_t *c, *p;
    json_array_foreach (json_object_get (json_object_get (pod, "spec"), "containers"), i, c)
        json_array_foreach (json_object_get (c, "ports"), j, p) {
            int64_t hp = json_integer_value (json_object_get (p, "hostPort"));
            if (hp <= 0)
                continue;
            if (out && n < max) {
                const char *proto = pu_str (p, "protocol"), *ip = pu_str (p, "hostIP");
                snprintf (out[n].proto, sizeof out[n].proto, "%s", proto && *proto ? proto : "TCP");
                snprintf (out[n].ip, sizeof out[n].ip, "%s", ip && *ip ? ip : "0.0.0.0");
                out[n].port = hp;
            }
            n++;
        }
    return n;
}

static tr_sched_status_t
pre_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    const tr_sched_host_t *host = self;
    size_t n = ports_of (pod->obj, NULL, 0);
    if (!n)
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    hps_t *h = calloc (1, sizeof *h + n * sizeof h->p[0]);
    h->n = ports_of (pod->obj, h->p, n);
    host->write (cs, KEY, h, free);
    return TR_SCHED_OK;
}

static int
conflict (const hp_t *a, const hp_t *b)
{
    if (a->port != b->port || strcmp (a->proto, b->proto))
        return 0;
    return !strcmp (a->ip, "0.0.0.0") || !strcmp (b->ip, "0.0.0.0") || !strcmp (a->ip, b->ip);
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) pod;
    const tr_sched_host_t *host = self;
    hps_t *want = host->read (cs, KEY);
    if (!want)
        return TR_SCHED_OK;
    for (uint32_t i = 0; i < node->npods; i++) {
        hp_t have[32];
        size_t n = ports_of (node->pods[i]->obj, have, 32);
        for (size_t a = 0; a < n && a < 32; a++)
            for (size_t b = 0; b < want->n; b++)
                if (conflict (&have[a], &want->p[b]))
                    return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE,
                                                "node(s) didn't have free ports for the requested pod ports"};
    }
    return TR_SCHED_OK;
}

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) args, (void) err, (void) errlen;
    return (void *) host;
}

TR_SCHED_FILTER_NODES (filter)

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodePorts"), .init = init, .pre_filter = pre_filter,
                                         .filter = filter, .filter_nodes = filter_nodes, .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_POD_DELETE};

const tr_sched_plugin_t *
sched_plugin_nodeports (void)
{
    return &plugin;
}
