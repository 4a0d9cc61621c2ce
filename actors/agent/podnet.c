/* podnet — the agent's part of the pod network (agent_int.h): its Node's spec.podCIDR handed
 * to the runtime (CRI UpdateRuntimeConfig, as the kubelet does), and the host-gw routes to the
 * other nodes' pod CIDRs (hostgw.h decides, routes.h applies), kept in step with the Nodes. */
#include "actors/agent/agent_int.h"
#include "actors/agent/hostgw.h"
#include "actors/agent/podcidr.h"
#include "actors/agent/routes.h"
#include "actors/controllers/nodeipam.h"

#define PODNET_WAIT_MS 30000    /* how long sandboxes wait for the Node's podCIDR */
#define ROUTES_EVERY_MS 30000   /* routes checked again (someone may have removed ours) */

static const char *
own_pod_cidr (agent_t *a)
{
    const json_t *me = a->nodes ? troupe_informer_get (a->nodes, "", a->node) : NULL;
    const char *c = tv_str (me, "spec.podCIDR");
    if (c && *c)
        return c;
    c = json_string_value (json_array_get (tv_get (me, "spec.podCIDRs"), 0));
    return c && *c ? c : NULL;
}

static void
on_runtime_config (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    char *cidr = arg;
    a->net_sending = 0;
    if (reply->code == TR_OK) {
        TR_INFO (A, "pod network %s (the node's podCIDR) handed to the runtime, cluster %s", cidr, a->cluster_cidr);
        snprintf (a->net_cidr, sizeof a->net_cidr, "%s", cidr);
        a->net_ready = 1;
        troupe_timer_within (ctx, T_KICK, 20);
    } else if (!a->has_oci) {
        a->net_ready = 1; /* no oci runtime: no pod network to wait for */
    } else
        TR_WARN (A, "UpdateRuntimeConfig podCidr=%s failed code=%s msg=\"%s\"", cidr, tr_code_name (reply->code),
                 reply->msg ? reply->msg : "");
    free (cidr);
}

static void
collect (void *arg, const json_t *o)
{
    json_array_append ((json_t *) arg, (json_t *) o);
}

static void
routes_step (agent_t *a, const char *own)
{
    json_t *nodes = json_array ();
    troupe_informer_foreach (a->nodes, collect, nodes);
    hostgw_route_t *want = NULL, *have = NULL;
    hostgw_action_t *acts = NULL;
    size_t nw = hostgw_want (nodes, a->node, a->host_ip, own, &want), nh = 0, n = 0;
    json_decref (nodes);
    char err[300] = "";
    if (routes_list (HOSTGW_PROTO, &have, &nh, err, sizeof err) == 0) {
        n = hostgw_plan (want, nw, have, nh, &acts);
        for (size_t i = 0; i < n; i++) {
            char what[80], e[300];
            hostgw_format (&acts[i].r, what, sizeof what);
            if (routes_apply (&acts[i], HOSTGW_PROTO, e, sizeof e))
                snprintf (err, sizeof err, "%s", e);
            else
                TR_INFO (A, "host-gw route %s %s", acts[i].op == HOSTGW_DELETE ? "deleted" : acts[i].op == HOSTGW_ADD ? "added" : "replaced",
                         what);
        }
    }
    if (*err && strcmp (err, a->routes_err)) /* said once until it changes */
        TR_WARN (A, "host-gw routes: %s", err);
    snprintf (a->routes_err, sizeof a->routes_err, "%s", err);
    free (want);
    free (have);
    free (acts);
}

void
ag_podnet_step (troupe_ctx_t *ctx, agent_t *a)
{
    if (!a->nodes || !troupe_informer_synced (a->nodes))
        return;
    const char *own = a->pod_cidr_cfg[0] ? a->pod_cidr_cfg : own_pod_cidr (a);
    podcidr_in_t in = {a->pod_cidr_cfg, own, a->net_cidr, a->net_sending, a->runtimes_known, a->net_ready,
                       troupe_mono_ms (), a->net_deadline};
    switch (podcidr_decide (&in)) {
    case PODCIDR_NOTHING: break;
    case PODCIDR_READY: a->net_ready = 1; break;
    case PODCIDR_SEND:
        a->net_sending = 1;
        ag_shim_call (ctx, a, TR_VERB_UPDATE_RUNTIME_CONFIG,
                      json_pack ("{s:s,s:s}", "podCidr", own, "clusterCidr", a->cluster_cidr), on_runtime_config,
                      strdup (own));
        break;
    case PODCIDR_GIVE_UP:
        TR_WARN (A, "node %s has no spec.podCIDR after %d s (is the controllers' node IPAM running?): pods get "
                 "addresses from the runtime's own pod network",
                 a->node, PODNET_WAIT_MS / 1000);
        a->net_ready = 1;
        troupe_timer_within (ctx, T_KICK, 20);
        break;
    }
    if (troupe_mono_ms () >= a->routes_next || a->routes_dirty) {
        a->routes_next = troupe_mono_ms () + ROUTES_EVERY_MS;
        a->routes_dirty = 0;
        routes_step (a, own);
    }
}

static void
node_event (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    agent_t *a = self;
    (void) node;
    a->routes_dirty = 1;
    troupe_timer_within (ctx, T_PODNET, 50);
}

static void
node_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *node)
{
    agent_t *a = self;
    (void) old;
    /* a status post changes neither podCIDR nor addresses most of the time: routes only when they do */
    if (!json_equal (tv_get (old, "spec"), tv_get (node, "spec")) ||
        !json_equal (tv_get (old, "status.addresses"), tv_get (node, "status.addresses")))
        a->routes_dirty = 1;
    troupe_timer_within (ctx, T_PODNET, 50);
}

static void
nodes_synced (void *self, troupe_ctx_t *ctx)
{
    agent_t *a = self;
    a->routes_dirty = 1;
    troupe_timer_within (ctx, T_PODNET, 10);
}

int
ag_podnet_start (troupe_ctx_t *ctx, agent_t *a, const json_t *config, char *err, size_t errlen)
{
    const char *pc = tv_str (config, "podCIDR"), *cc = tv_str (config, "clusterCIDR"), *ip = tv_str (config, "nodeIP");
    uint32_t x;
    int b;
    struct in_addr in;
    if ((pc && nodeipam_parse (pc, &x, &b, 1)) || (cc && nodeipam_parse (cc, &x, &b, 1)) ||
        (ip && inet_pton (AF_INET, ip, &in) != 1) || (pc && strlen (pc) >= sizeof a->pod_cidr_cfg) ||
        (cc && strlen (cc) >= sizeof a->cluster_cidr)) {
        snprintf (err, errlen, "podCIDR, clusterCIDR must be IPv4 CIDRs, nodeIP an IPv4 address");
        return -1;
    }
    snprintf (a->pod_cidr_cfg, sizeof a->pod_cidr_cfg, "%s", pc ? pc : "");
    /* kube-proxy's --cluster-cidr: what pods reach without masquerade */
    snprintf (a->cluster_cidr, sizeof a->cluster_cidr, "%s", cc ? cc : pc ? pc : NODEIPAM_CLUSTER_CIDR);
    /* the kubelet's --node-ip, else the address of the default route's interface */
    if (ip)
        snprintf (a->host_ip, sizeof a->host_ip, "%s", ip);
    else
        routes_default_ip (a->host_ip, sizeof a->host_ip); /* else host_ip as agent_create found it */
    a->net_deadline = troupe_mono_ms () + PODNET_WAIT_MS;
    if (!pc)
        TR_INFO (A, "pods wait up to %d s for node %s's spec.podCIDR (the controllers' node IPAM)", PODNET_WAIT_MS / 1000,
                 a->node);
    troupe_handlers_t h = {node_event, node_update, node_event, nodes_synced};
    a->nodes = troupe_watch (ctx, "Node", NULL, NULL, &h);
    /* of each Node, what routes are made from (hostgw.c) and node_update compares: not the status
     * a node posts (conditions, capacity, images, nodeInfo), most of a Node's tree, held here for
     * every node of the cluster */
    static const char *const node_fields[] = {"spec", "status.addresses"};
    troupe_informer_set_fields (a->nodes, node_fields, sizeof node_fields / sizeof *node_fields);
    troupe_timer (ctx, T_PODNET, 5000, 1);
    return 0;
}
