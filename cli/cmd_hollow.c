/* cmd_hollow — `troupe hollow`: one process playing N nodes, as kubemark's hollow node.
 *
 *   troupe hollow --nodes N [--server EP] [--cpu 4] [--memory 16Gi] [--pods 110]
 *                 [--ephemeral-storage 100Gi] [--labels k=v,…] [--taints k=v:NoSchedule,…]
 *                 [--zones z1,z2,…] [--prefix hollow-] [--startup-delay 1s] [--lease-period 10s]
 *                 [--data DIR]
 *
 * Every node has a connection of its own (a DEALER, the protocol of the agent's host) and, over
 * tcp, an identity of its own: a fresh CURVE key joined with a bootstrap token this command
 * creates with the admin credentials (as `troupe join`), kept under --data so that a restarted
 * hollow process is the same nodes without joining again. Over ipc (`troupe up`'s local socket)
 * every connection is the local admin, as the single-node cluster's own agent is.
 *
 * No thread per node: one epoll loop over the sockets' ZMQ_FDs and a 50 ms tick that registers
 * nodes (at most HOLLOW_WINDOW at a time), renews each Lease every --lease-period (spread: each
 * node keeps the phase it registered at, with jitter), pings a node that sent nothing for 4 s (the
 * broker drops the watches of a client silent for 10 s), and reports due pods Running. What is
 * said (the Node, the pod status) is cli/hollow.c's. */
#include "cli/cli.h"
#include "cli/hollow.h"
#include "core/bootstrap.h"
#include "core/conn.h"
#include "core/meta.h"
#include "core/value.h"

#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define HOLLOW_WINDOW 100        /* nodes registering at once */
#define HOLLOW_TICK_MS 50
#define HOLLOW_PING_MS 4000      /* something sent at least this often (broker: 10 s of silence) */
#define HOLLOW_HEARTBEAT_IVL_MS 30000
#define HOLLOW_HEARTBEAT_TIMEOUT_MS 15000
#define HOLLOW_RETRY_MS 20000    /* a request unanswered this long is sent again */
#define HOLLOW_CREDIT 1024
#define HOLLOW_CIDR_WAIT_MS 5000 /* pods wait this long after registration for the Node's podCIDR */

enum {
    OP_HELLO = 1, OP_JOIN, OP_NODE_GET, OP_NODE_WRITE, OP_NODE_CHECK, OP_LEASE_GET, OP_LEASE_WRITE, OP_LIST, OP_WATCH,
    OP_POD_STATUS, OP_POD_DELETE, OP_PING, OP_NONE
};
#define OP_BITS 4

enum { P_IDLE, P_JOINING, P_REGISTERING, P_UP, P_FAILED };
enum { S_DUE, S_REPORTING, S_RUNNING, S_DELETE_DUE, S_DELETING };

typedef struct {
    char uid[48];
    char *ns, *name;
    int state;
    int64_t due;     /* S_DUE / S_DELETE_DUE: when; S_REPORTING / S_DELETING: when sent */
    int slot;        /* pod address, -1 none */
    json_t *pod;     /* the last seen object, while S_DUE (for its spec) */
} hpod_t;

typedef struct {
    int idx;
    char name[72];
    zsock_t *sock;
    void *h;
    int phase;
    uint64_t seq;
    int64_t last_sent, next_lease, lease_at, check_at, list_at, reg_at, registered_at, due_min;
    json_t *lease;
    char cidr[48];
    int cidr_real, cidr_known;
    unsigned char *slots;
    int nslots;
    uint64_t rv, watch_id;
    int unacked, watching, listing;
    zhashx_t *pods;    /* uid → hpod_t */
    zhashx_t *ops;     /* request id → uid (pod status and delete in flight) */
    char instance[48];
    int dirty;
} hnode_t;

typedef struct {
    hollow_cfg_t cfg;
    char ep[256];
    int tcp;
    tr_creds_t admin;
    hnode_t *nodes;
    int next_start, registering, up, failed, joined_now;
    char token[128];
    cli_t *g;
    int ep_fd;
    int *dirty;
    int ndirty;
    char data[1024];
    json_t *pod_keep;  /* what a watch event's pod is decoded to (hollow_pod_keep) */
    json_t *ack_keep;  /* what the body of a status patch's or a delete's reply is decoded to: unread */
    json_t *running_keep; /* a pod's once the node has reported it Running (hollow_running_keep) */
    hnode_t *draining;    /* the node whose message is being decoded (hollow_prev) */
} hollow_t;

static volatile sig_atomic_t stop_flag;

static void
on_signal (int sig)
{
    (void) sig;
    stop_flag = 1;
}

static int64_t
mono (void)
{
    return zclock_mono ();
}

static void
now_str (char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    tr_time_format ((int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000, buf, len);
}

static void
mark_dirty (hollow_t *H, hnode_t *n)
{
    if (!n->dirty) {
        n->dirty = 1;
        H->dirty[H->ndirty++] = n->idx;
    }
}

/* Sends env on node n's connection; the request id carries op. Returns the id, 0 on failure. */
static uint64_t
nsend (hollow_t *H, hnode_t *n, tr_env_t *env, int op)
{
    if (!n->sock)
        return 0;
    env->id = (++n->seq << OP_BITS) | (uint64_t) op;
    if (tr_conn_send_nb (n->sock, NULL, env, NULL, 0)) {
        fprintf (stderr, "hollow: %s: send failed: %s\n", n->name, strerror (errno));
        return 0;
    }
    n->last_sent = mono ();
    mark_dirty (H, n);
    return env->id;
}

static uint64_t
send_simple (hollow_t *H, hnode_t *n, tr_verb_t verb, const char *kind, const char *ns, const char *name, uint64_t rv,
             json_t *body, json_t *opts, int op)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = verb;
    snprintf (req.kind, sizeof req.kind, "%s", kind ? kind : "");
    snprintf (req.ns, sizeof req.ns, "%s", ns ? ns : "");
    snprintf (req.name, sizeof req.name, "%s", name ? name : "");
    req.rv = rv;
    req.body = body;
    req.opts = opts;
    uint64_t id = nsend (H, n, &req, op);
    tr_env_clear (&req);
    return id;
}

/* ---- identities ------------------------------------------------------------------------------ */

static void
key_paths (hollow_t *H, hnode_t *n, char *cert, size_t clen, char *joined, size_t jlen)
{
    snprintf (cert, clen, "%s/%s.key", H->data, n->name);
    snprintf (joined, jlen, "%s/%s.joined", H->data, n->name);
}

static int
node_is_joined (hollow_t *H, hnode_t *n)
{
    char cert[1200], joined[1200], sec[1300];
    key_paths (H, n, cert, sizeof cert, joined, sizeof joined);
    snprintf (sec, sizeof sec, "%s_secret", cert);
    return access (joined, F_OK) == 0 && access (sec, R_OK) == 0;
}

/* The node's key: loaded from --data, else made and saved there. 0 or -1. */
static int
node_creds (hollow_t *H, hnode_t *n, tr_creds_t *c)
{
    char cert[1200], joined[1200], sec[1300];
    key_paths (H, n, cert, sizeof cert, joined, sizeof joined);
    snprintf (sec, sizeof sec, "%s_secret", cert);
    zcert_t *k = zcert_load (sec);
    if (!k) {
        k = zcert_new ();
        zcert_set_meta (k, "name", "%s", n->name);
        if (zcert_save (k, cert)) {
            fprintf (stderr, "hollow: cannot write %s: %s\n", cert, strerror (errno));
            zcert_destroy (&k);
            return -1;
        }
    }
    memset (c, 0, sizeof *c);
    snprintf (c->server_key, sizeof c->server_key, "%s", H->admin.server_key);
    snprintf (c->public_key, sizeof c->public_key, "%s", zcert_public_txt (k));
    snprintf (c->secret_key, sizeof c->secret_key, "%s", zcert_secret_txt (k));
    zcert_destroy (&k);
    return 0;
}

/* ---- registration ---------------------------------------------------------------------------- */

static void
node_register (hollow_t *H, hnode_t *n)
{
    n->phase = P_REGISTERING;
    n->reg_at = mono ();
    send_simple (H, n, TR_VERB_HELLO, NULL, NULL, NULL, 0, json_pack ("{s:s,s:s}", "actor", "agent", "node", n->name),
                 NULL, OP_HELLO);
    send_simple (H, n, TR_VERB_GET, "Node", NULL, n->name, 0, NULL, NULL, OP_NODE_GET);
}

static void
node_fail (hollow_t *H, hnode_t *n, const char *why)
{
    fprintf (stderr, "hollow: node %s: %s\n", n->name, why);
    if (n->phase == P_JOINING || n->phase == P_REGISTERING)
        H->registering--;
    n->phase = P_FAILED;
    H->failed++;
    if (n->sock) {
        epoll_ctl (H->ep_fd, EPOLL_CTL_DEL, zsock_fd (n->sock), NULL);
        zsock_destroy (&n->sock);
    }
}

static void
node_start (hollow_t *H, hnode_t *n)
{
    tr_creds_t c = {0}, *cp = NULL;
    if (H->tcp) {
        if (node_creds (H, n, &c)) {
            n->phase = P_FAILED;
            H->failed++;
            return;
        }
        cp = &c;
    }
    char err[300];
    n->sock = tr_conn_dealer (H->ep, cp, err, sizeof err);
    sodium_memzero (&c, sizeof c);
    if (!n->sock) {
        fprintf (stderr, "hollow: node %s: %s\n", n->name, err);
        n->phase = P_FAILED;
        H->failed++;
        return;
    }
    zsock_set_sndhwm (n->sock, 1000);
    zsock_set_rcvhwm (n->sock, 4096);
    n->h = zsock_resolve (n->sock);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t) n->idx};
    epoll_ctl (H->ep_fd, EPOLL_CTL_ADD, zsock_fd (n->sock), &ev);
    H->registering++;
    if (H->tcp && !node_is_joined (H, n)) {
        n->phase = P_JOINING;
        n->reg_at = mono ();
        send_simple (H, n, TR_VERB_CREATE, "NodeJoin", NULL, NULL, 0,
                     json_pack ("{s:s,s:s}", "token", H->token, "nodeName", n->name), NULL, OP_JOIN);
    } else
        node_register (H, n);
}

static void lease_renew (hollow_t *H, hnode_t *n);
static void pods_list (hollow_t *H, hnode_t *n);

static void
node_up (hollow_t *H, hnode_t *n)
{
    if (n->phase != P_REGISTERING)
        return;
    n->phase = P_UP;
    H->registering--;
    H->up++;
    n->registered_at = mono ();
    lease_renew (H, n);
    pods_list (H, n);
    /* the renewals keep the phase this node registered at, spread by registration's pace, with
     * up to 10% of jitter */
    n->next_lease = mono () + H->cfg.lease_period_ms - (H->cfg.lease_period_ms / 10) * (rand () % 1000) / 1000;
}

static void
node_write_status (hollow_t *H, hnode_t *n, const tr_env_t *got)
{
    char now[40];
    now_str (now, sizeof now);
    json_t *st = hollow_node_status (&H->cfg, n->idx, tv_get (got->body, "status.conditions"), now);
    send_simple (H, n, TR_VERB_UPDATE_STATUS, "Node", NULL, n->name, got->rv, json_pack ("{s:o}", "status", st), NULL,
                 OP_NODE_WRITE);
}

static void
on_node_get (hollow_t *H, hnode_t *n, const tr_env_t *r)
{
    if (r->code == TR_NOT_FOUND) {
        char now[40];
        now_str (now, sizeof now);
        send_simple (H, n, TR_VERB_CREATE, "Node", NULL, NULL, 0, hollow_node_object (&H->cfg, n->idx, now), NULL,
                     OP_NODE_WRITE);
    } else if (r->code == TR_OK)
        node_write_status (H, n, r); /* a node that comes back: Ready again now */
    else
        fprintf (stderr, "hollow: node %s: cannot read its Node: %s %s\n", n->name, tr_code_name (r->code), r->msg ? r->msg : "");
}

static void
take_cidr (hnode_t *n, const json_t *node)
{
    const char *c = tv_str (node, "spec.podCIDR");
    n->cidr_known = 1;
    if (c && hollow_cidr_slots (c) > 0) {
        if (!n->cidr_real || strcmp (n->cidr, c)) {
            snprintf (n->cidr, sizeof n->cidr, "%s", c);
            n->cidr_real = 1;
            free (n->slots);
            n->slots = NULL;
        }
    }
}

static void
on_node_write (hollow_t *H, hnode_t *n, const tr_env_t *r)
{
    if (r->code == TR_OK) {
        take_cidr (n, r->body);
        node_up (H, n);
    } else if (r->code == TR_CONFLICT || r->code == TR_ALREADY_EXISTS)
        send_simple (H, n, TR_VERB_GET, "Node", NULL, n->name, 0, NULL, NULL, OP_NODE_GET);
    else if (n->phase == P_REGISTERING) {
        char why[600];
        snprintf (why, sizeof why, "registration refused: %s %s", tr_code_name (r->code), r->msg ? r->msg : "");
        node_fail (H, n, why);
    }
}

/* After each renewal, as the agent: the stored Node from the broker's cache; a status the
 * controller changed (Unknown after a pause) is posted again, and the podCIDR is learnt. */
static void
node_check (hollow_t *H, hnode_t *n)
{
    n->check_at = mono ();
    send_simple (H, n, TR_VERB_GET, "Node", NULL, n->name, 0, NULL, json_pack ("{s:b}", "stale", 1), OP_NODE_CHECK);
}

static void
on_node_check (hollow_t *H, hnode_t *n, const tr_env_t *r)
{
    n->check_at = 0;
    if (r->code != TR_OK)
        return;
    take_cidr (n, r->body);
    if (hollow_node_stale (&H->cfg, r->body))
        node_write_status (H, n, r);
}

/* ---- the Lease ------------------------------------------------------------------------------- */

static void
lease_renew (hollow_t *H, hnode_t *n)
{
    n->lease_at = mono ();
    if (!n->lease) {
        send_simple (H, n, TR_VERB_GET, "Lease", "kube-node-lease", n->name, 0, NULL, NULL, OP_LEASE_GET);
        return;
    }
    char now[40];
    now_str (now, sizeof now);
    json_t *body = json_deep_copy (n->lease);
    json_t *spec = json_object_get (body, "spec");
    if (!json_is_object (spec))
        json_object_set_new (body, "spec", (spec = json_object ()));
    json_object_set_new (spec, "holderIdentity", json_string (n->name));
    json_object_set_new (spec, "leaseDurationSeconds", json_integer (40));
    json_object_set_new (spec, "renewTime", json_string (now));
    const char *rvs = tv_str (n->lease, "metadata.resourceVersion");
    send_simple (H, n, TR_VERB_UPDATE, "Lease", "kube-node-lease", n->name, rvs ? strtoull (rvs, NULL, 10) : 0, body, NULL,
                 OP_LEASE_WRITE);
}

static void
on_lease_get (hollow_t *H, hnode_t *n, const tr_env_t *r)
{
    if (r->code == TR_NOT_FOUND) {
        char now[40];
        now_str (now, sizeof now);
        send_simple (H, n, TR_VERB_CREATE, "Lease", "kube-node-lease", NULL, 0,
                     json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                                "Lease", "metadata", "name", n->name, "namespace", "kube-node-lease", "spec",
                                "holderIdentity", n->name, "leaseDurationSeconds", 40, "renewTime", now),
                     NULL, OP_LEASE_WRITE);
    } else if (r->code == TR_OK && json_is_object (r->body)) {
        json_decref (n->lease);
        n->lease = json_incref (r->body);
        lease_renew (H, n);
    } else
        n->lease_at = 0;
}

static void
on_lease_write (hollow_t *H, hnode_t *n, const tr_env_t *r)
{
    n->lease_at = 0;
    json_decref (n->lease);
    n->lease = NULL;
    if (r->code == TR_OK && json_is_object (r->body)) {
        n->lease = json_incref (r->body);
        node_check (H, n);
    } else
        fprintf (stderr, "hollow: node %s: lease renewal failed: %s %s\n", n->name, tr_code_name (r->code),
                 r->msg ? r->msg : "");
}

/* ---- pods ------------------------------------------------------------------------------------ */

static void
hpod_free (void **p)
{
    hpod_t *x = *p;
    if (!x)
        return;
    free (x->ns);
    free (x->name);
    json_decref (x->pod);
    free (x);
    *p = NULL;
}

static void
slot_free (hnode_t *n, hpod_t *p)
{
    if (p->slot >= 0 && n->slots && p->slot < n->nslots)
        n->slots[p->slot / 8] &= (unsigned char) ~(1u << (p->slot % 8));
    p->slot = -1;
}

static int
slot_take (hnode_t *n)
{
    if (!n->slots) {
        n->nslots = hollow_cidr_slots (n->cidr);
        if (n->nslots > 4096)
            n->nslots = 4096;
        n->slots = calloc ((size_t) n->nslots / 8 + 1, 1);
    }
    for (int i = 0; i < n->nslots; i++)
        if (!(n->slots[i / 8] & (1u << (i % 8)))) {
            n->slots[i / 8] |= (unsigned char) (1u << (i % 8));
            return i;
        }
    return -1;
}

static void
pods_list (hollow_t *H, hnode_t *n)
{
    char fs[300];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", n->name);
    n->listing = 1;
    n->watching = 0;
    n->watch_id = 0;
    n->list_at = mono ();
    send_simple (H, n, TR_VERB_LIST, "Pod", NULL, NULL, 0, NULL, json_pack ("{s:s,s:b}", "fieldSelector", fs, "stale", 1),
                 OP_LIST);
}

static void
pods_watch (hollow_t *H, hnode_t *n)
{
    char fs[300];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", n->name);
    n->unacked = 0;
    n->watching = 1;
    n->watch_id = send_simple (H, n, TR_VERB_WATCH, "Pod", NULL, NULL, n->rv, NULL,
                               json_pack ("{s:i,s:s}", "credit", HOLLOW_CREDIT, "fieldSelector", fs), OP_WATCH);
}

static void
pod_due (hnode_t *n, int64_t at)
{
    if (!n->due_min || at < n->due_min)
        n->due_min = at;
}

static void
on_pod (hollow_t *H, hnode_t *n, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid"), *ns = tv_str (pod, "metadata.namespace"),
               *name = tv_str (pod, "metadata.name");
    if (!uid || !ns || !name)
        return;
    if (!n->pods) {
        n->pods = zhashx_new ();
        zhashx_set_destructor (n->pods, hpod_free);
    }
    hpod_t *p = zhashx_lookup (n->pods, uid);
    if (!p) {
        p = calloc (1, sizeof *p);
        snprintf (p->uid, sizeof p->uid, "%s", uid);
        p->ns = strdup (ns);
        p->name = strdup (name);
        p->slot = -1;
        p->state = -1;
        zhashx_insert (n->pods, uid, p);
    }
    int64_t now = mono ();
    switch (hollow_pod_decide (pod)) {
    case HOLLOW_POD_DELETE:
        if (p->state != S_DELETING && p->state != S_DELETE_DUE) {
            /* nothing runs: the containers are "stopped" at once, the object goes with grace 0 */
            p->state = S_DELETE_DUE;
            p->due = now;
            pod_due (n, now);
        }
        break;
    case HOLLOW_POD_NOTHING:
        if (p->state != S_RUNNING) {
            p->state = S_RUNNING;
            json_decref (p->pod);
            p->pod = NULL;
            /* after a restart: the address it has stays taken */
            const char *ip = tv_str (pod, "status.podIP");
            if (ip && p->slot < 0 && n->cidr_real)
                for (int i = 0; i < 4096; i++) {
                    char b[48];
                    if (hollow_pod_ip (n->cidr, i, b, sizeof b))
                        break;
                    if (!strcmp (b, ip)) {
                        slot_take (n); /* ensures the map */
                        n->slots[i / 8] |= (unsigned char) (1u << (i % 8));
                        p->slot = i;
                        break;
                    }
                }
        }
        break;
    case HOLLOW_POD_START:
        if (p->state == -1) {
            p->state = S_DUE;
            p->due = now + H->cfg.startup_delay_ms;
            pod_due (n, p->due);
        }
        if (p->state == S_DUE || p->state == S_REPORTING) {
            json_decref (p->pod);
            p->pod = json_incref ((json_t *) pod);
        }
        break;
    default:
        break;
    }
}

static void
on_pod_gone (hnode_t *n, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid");
    hpod_t *p = uid && n->pods ? zhashx_lookup (n->pods, uid) : NULL;
    if (!p)
        return;
    slot_free (n, p);
    zhashx_delete (n->pods, uid);
}

static void
op_remember (hnode_t *n, uint64_t id, const char *uid)
{
    if (!id)
        return;
    if (!n->ops) {
        n->ops = zhashx_new ();
        zhashx_set_destructor (n->ops, (zhashx_destructor_fn *) zstr_free);
    }
    char k[24];
    snprintf (k, sizeof k, "%llx", (unsigned long long) id);
    zhashx_update (n->ops, k, strdup (uid));
}

static hpod_t *
op_pod (hnode_t *n, uint64_t id)
{
    char k[24];
    snprintf (k, sizeof k, "%llx", (unsigned long long) id);
    char *uid = n->ops ? zhashx_lookup (n->ops, k) : NULL;
    hpod_t *p = uid && n->pods ? zhashx_lookup (n->pods, uid) : NULL;
    if (uid)
        zhashx_delete (n->ops, k);
    return p;
}

static void
pods_step (hollow_t *H, hnode_t *n, int64_t now)
{
    if (!n->pods || !n->due_min || n->due_min > now)
        return;
    n->due_min = 0;
    int cidr_ok = n->cidr_real || (n->cidr_known && now - n->registered_at > HOLLOW_CIDR_WAIT_MS);
    if (!cidr_ok && !n->check_at)
        node_check (H, n);
    char nowtxt[40];
    now_str (nowtxt, sizeof nowtxt);
    for (hpod_t *p = zhashx_first (n->pods); p; p = zhashx_next (n->pods)) {
        if (p->state == S_REPORTING && now - p->due > HOLLOW_RETRY_MS)
            p->state = S_DUE;
        if (p->state == S_DELETING && now - p->due > HOLLOW_RETRY_MS)
            p->state = S_DELETE_DUE;
        if (p->state == S_DELETE_DUE && p->due <= now) {
            p->state = S_DELETING;
            p->due = now;
            uint64_t id = send_simple (H, n, TR_VERB_DELETE, "Pod", p->ns, p->name, 0, NULL,
                                       json_pack ("{s:i}", "gracePeriodSeconds", 0), OP_POD_DELETE);
            op_remember (n, id, p->uid);
        } else if (p->state == S_DUE && p->due <= now && p->pod) {
            if (!cidr_ok) {
                pod_due (n, now + 200);
                continue;
            }
            if (!n->cidr_real && !n->cidr[0])
                hollow_fake_cidr (n->idx, n->cidr, sizeof n->cidr);
            if (p->slot < 0)
                p->slot = slot_take (n);
            char ip[48] = "", host[48];
            if (p->slot < 0 || hollow_pod_ip (n->cidr, p->slot, ip, sizeof ip))
                snprintf (ip, sizeof ip, "%s", "0.0.0.0"); /* more pods than addresses: as a full IPAM, none */
            hollow_host_ip (n->idx, host, sizeof host);
            json_t *st = hollow_pod_status (p->pod, host, ip, nowtxt, nowtxt);
            /* a strategic merge patch of the status subresource with only the fields the node
             * owns (phase, its conditions merged by type, IPs, startTime, container statuses), as
             * the kubelet's status manager patches: what others wrote (nominatedNodeName,
             * conditions of other types, the scheduler's PodScheduled) stays, and a write made
             * since the pod was last seen from the watch is not undone */
            json_t *body = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s},s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                                      "name", p->name, "namespace", p->ns, "uid", p->uid, "status", st);
            p->state = S_REPORTING;
            p->due = now;
            uint64_t id = send_simple (H, n, TR_VERB_PATCH, "Pod", p->ns, p->name, 0, body,
                                       json_pack ("{s:s,s:s}", "subresource", "status", "patchType", "strategic"),
                                       OP_POD_STATUS);
            op_remember (n, id, p->uid);
        }
        if (p->state == S_DUE || p->state == S_DELETE_DUE)
            pod_due (n, p->due > now ? p->due : now + 200);
        else if (p->state == S_REPORTING || p->state == S_DELETING)
            pod_due (n, p->due + HOLLOW_RETRY_MS + 1);
    }
}

static void
on_pod_status (hnode_t *n, const tr_env_t *r)
{
    hpod_t *p = op_pod (n, r->id);
    if (!p || p->state != S_REPORTING)
        return;
    if (r->code == TR_OK) {
        p->state = S_RUNNING;
        json_decref (p->pod);
        p->pod = NULL;
    } else if (r->code != TR_NOT_FOUND) {
        fprintf (stderr, "hollow: %s: status of pod %s/%s: %s %s; again in 1 s\n", n->name, p->ns, p->name,
                 tr_code_name (r->code), r->msg ? r->msg : "");
        p->state = S_DUE;
        p->due = mono () + 1000;
        pod_due (n, p->due);
    }
}

static void
on_pod_delete (hnode_t *n, const tr_env_t *r)
{
    hpod_t *p = op_pod (n, r->id);
    if (!p || p->state != S_DELETING || r->code == TR_OK || r->code == TR_NOT_FOUND)
        return; /* the watch's DELETED forgets it */
    fprintf (stderr, "hollow: %s: delete of pod %s/%s: %s %s; again in 1 s\n", n->name, p->ns, p->name,
             tr_code_name (r->code), r->msg ? r->msg : "");
    p->state = S_DELETE_DUE;
    p->due = mono () + 1000;
    pod_due (n, p->due);
}

static void
on_list (hollow_t *H, hnode_t *n, const tr_env_t *r)
{
    n->listing = 0;
    if (r->code != TR_OK) {
        n->list_at = 0; /* the tick lists again */
        return;
    }
    const char *rvs = tv_str (r->body, "metadata.resourceVersion");
    n->rv = r->rv ? r->rv : rvs ? strtoull (rvs, NULL, 10) : 0;
    zhashx_t *seen = zhashx_new ();
    size_t i;
    json_t *pod;
    json_array_foreach (tv_get (r->body, "items"), i, pod) {
        if (tv_str (pod, "metadata.uid"))
            zhashx_insert (seen, tv_str (pod, "metadata.uid"), (void *) 1);
        on_pod (H, n, pod);
    }
    if (n->pods) { /* gone while we were not watching */
        zlistx_t *keys = zhashx_keys (n->pods);
        for (char *k = zlistx_first (keys); k; k = zlistx_next (keys))
            if (!zhashx_lookup (seen, k)) {
                hpod_t *p = zhashx_lookup (n->pods, k);
                slot_free (n, p);
                zhashx_delete (n->pods, k);
            }
        zlistx_destroy (&keys);
    }
    zhashx_destroy (&seen);
    pods_watch (H, n);
}

static void
on_event (hollow_t *H, hnode_t *n, const tr_env_t *ev)
{
    const char *type = tv_str (ev->opts, "type");
    if (!type)
        return;
    if (!strcmp (type, "EXPIRED")) {
        n->watch_id = 0;
        if (n->rv)
            pods_watch (H, n);
        else
            pods_list (H, n);
        return;
    }
    if (ev->rv > n->rv)
        n->rv = ev->rv;
    if (++n->unacked >= HOLLOW_CREDIT / 2) {
        tr_env_t c;
        tr_env_init (&c);
        c.verb = TR_VERB_CREDIT;
        c.rv = n->watch_id;
        c.opts = json_pack ("{s:i}", "credit", n->unacked);
        n->unacked = 0;
        nsend (H, n, &c, OP_NONE);
        tr_env_clear (&c);
    }
    if (!ev->body || !strcmp (type, "BOOKMARK"))
        return;
    if (!strcmp (type, "DELETED"))
        on_pod_gone (n, ev->body);
    else
        on_pod (H, n, ev->body);
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static void
on_message (hollow_t *H, hnode_t *n, const tr_env_t *m)
{
    if (m->verb == TR_VERB_EVENT) {
        if (m->id == n->watch_id && n->watch_id)
            on_event (H, n, m);
        return;
    }
    if (m->verb != TR_VERB_REPLY)
        return;
    switch ((int) (m->id & ((1u << OP_BITS) - 1))) {
    case OP_JOIN:
        if (m->code == TR_OK && n->phase == P_JOINING) {
            char cert[1200], joined[1200];
            key_paths (H, n, cert, sizeof cert, joined, sizeof joined);
            FILE *f = fopen (joined, "w");
            if (f) {
                fprintf (f, "%s\n", H->ep);
                fclose (f);
            }
            H->joined_now++;
            node_register (H, n);
        } else if (n->phase == P_JOINING) {
            char why[600];
            snprintf (why, sizeof why, "join refused: %s %s", tr_code_name (m->code), m->msg ? m->msg : "");
            node_fail (H, n, why);
        }
        break;
    case OP_HELLO:
    case OP_PING: {
        const char *inst = tv_str (m->body, "instance");
        int changed = inst && n->instance[0] && strcmp (inst, n->instance);
        if (inst)
            snprintf (n->instance, sizeof n->instance, "%s", inst);
        if (n->phase == P_UP && (changed || tv_bool (m->body, "watchesCut", false))) {
            if (changed)
                send_simple (H, n, TR_VERB_HELLO, NULL, NULL, NULL, 0,
                             json_pack ("{s:s,s:s}", "actor", "agent", "node", n->name), NULL, OP_HELLO);
            if (n->rv && !changed)
                pods_watch (H, n);
            else
                pods_list (H, n);
        }
        break;
    }
    case OP_NODE_GET:
        on_node_get (H, n, m);
        break;
    case OP_NODE_WRITE:
        on_node_write (H, n, m);
        break;
    case OP_NODE_CHECK:
        on_node_check (H, n, m);
        break;
    case OP_LEASE_GET:
        on_lease_get (H, n, m);
        break;
    case OP_LEASE_WRITE:
        on_lease_write (H, n, m);
        break;
    case OP_LIST:
        on_list (H, n, m);
        break;
    case OP_WATCH:
        if (m->id == n->watch_id && m->code != TR_OK) {
            n->watch_id = 0;
            pods_list (H, n); /* Expired: the revision left the broker's window */
        }
        break;
    case OP_POD_STATUS:
        on_pod_status (n, m);
        break;
    case OP_POD_DELETE:
        on_pod_delete (n, m);
        break;
    default:
        break;
    }
}

/* tr_env_prev_fn: a pod event's body decoded only along the fields the node reads (fewer once the
 * pod runs), a status patch's or a delete's reply body (the whole pod, unread) hardly at all. */
static const json_t *
hollow_prev (void *arg, const tr_env_t *e, const msgpack_object *body, const json_t **keep)
{
    hollow_t *H = arg;
    int op = (int) (e->id & ((1u << OP_BITS) - 1));
    if (e->verb == TR_VERB_EVENT) {
        /* a pod already reported Running (the echo of the node's own status patch, mostly): only
         * what says whether it is being deleted */
        char uid[48];
        hnode_t *n = H->draining;
        hpod_t *p = n && n->pods && !hollow_msgpack_pod_uid (body, uid, sizeof uid) ? zhashx_lookup (n->pods, uid) : NULL;
        *keep = p && p->state == S_RUNNING ? H->running_keep : H->pod_keep;
    } else if (e->verb == TR_VERB_REPLY && (op == OP_POD_STATUS || op == OP_POD_DELETE))
        *keep = H->ack_keep;
    return NULL;
}

/* Reads everything waiting on n's socket: until a receive finds nothing (EAGAIN), which also
 * processes the socket's commands and so re-arms its ZMQ_FD as asking ZMQ_EVENTS does (one call a
 * message fewer: at 5,000 sockets asking first was a sixth of this thread). */
static void
drain (hollow_t *H, hnode_t *n)
{
    while (n->sock) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, n->h, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        int more = zmq_msg_more (&msg);
        tr_env_t env;
        char err[200];
        H->draining = n;
        if (!more && tr_env_decode_like (&env, zmq_msg_data (&msg), zmq_msg_size (&msg), hollow_prev, H, err,
                                         sizeof err) == 0) {
            on_message (H, n, &env);
            tr_env_clear (&env);
        }
        zmq_msg_close (&msg);
        while (more) { /* not ours: skip the rest */
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, n->h, ZMQ_DONTWAIT) < 0)
                more = 0;
            else
                more = zmq_msg_more (&msg);
            zmq_msg_close (&msg);
        }
    }
}

static void
drain_dirty (hollow_t *H)
{
    while (H->ndirty) {
        int idx = H->dirty[--H->ndirty];
        hnode_t *n = &H->nodes[idx];
        n->dirty = 0;
        drain (H, n);
    }
}

static void
tick (hollow_t *H)
{
    int64_t now = mono ();
    while (H->registering < HOLLOW_WINDOW && H->next_start < H->cfg.nodes)
        node_start (H, &H->nodes[H->next_start++]);
    for (int i = 0; i < H->next_start; i++) {
        hnode_t *n = &H->nodes[i];
        if (n->phase == P_FAILED || !n->sock)
            continue;
        if ((n->phase == P_JOINING || n->phase == P_REGISTERING) && now - n->reg_at > HOLLOW_RETRY_MS) {
            if (n->phase == P_JOINING)
                send_simple (H, n, TR_VERB_CREATE, "NodeJoin", NULL, NULL, 0,
                             json_pack ("{s:s,s:s}", "token", H->token, "nodeName", n->name), NULL, OP_JOIN);
            else
                send_simple (H, n, TR_VERB_GET, "Node", NULL, n->name, 0, NULL, NULL, OP_NODE_GET);
            n->reg_at = now;
        }
        if (n->phase != P_UP) {
            if (now - n->last_sent >= HOLLOW_PING_MS)
                send_simple (H, n, TR_VERB_PING, NULL, NULL, NULL, 0, NULL, NULL, OP_PING);
            continue;
        }
        if (now >= n->next_lease) {
            if (n->lease_at && now - n->lease_at > HOLLOW_RETRY_MS)
                n->lease_at = 0;
            if (!n->lease_at) {
                lease_renew (H, n);
                n->next_lease += H->cfg.lease_period_ms;
                if (n->next_lease <= now)
                    n->next_lease = now + H->cfg.lease_period_ms;
            }
        }
        if (n->check_at && now - n->check_at > HOLLOW_RETRY_MS)
            n->check_at = 0;
        if (!n->watching && (!n->listing || now - n->list_at > HOLLOW_RETRY_MS))
            pods_list (H, n);
        pods_step (H, n, now);
        if (now - n->last_sent >= HOLLOW_PING_MS)
            send_simple (H, n, TR_VERB_PING, NULL, NULL, NULL, 0, NULL, NULL, OP_PING);
    }
}

/* ---- the bootstrap token --------------------------------------------------------------------- */

static int
token_make (hollow_t *H)
{
    tr_token_t t;
    tr_token_generate (&t);
    if (strlen (H->admin.server_key) != 40) {
        fprintf (stderr, "error: %s: no server key in the client config: the admin config of a tcp server is needed\n", H->ep);
        return -1;
    }
    zmq_z85_decode (t.server_key, H->admin.server_key);
    t.has_server_key = 1;
    struct timeval tv;
    gettimeofday (&tv, NULL);
    int64_t exp = ((int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000) + 3600 * 1000;
    json_t *made = cli_do (H->g, TR_VERB_CREATE, "Secret", TR_TOKEN_NS, NULL,
                           tr_token_secret (&t, exp, "troupe hollow: hollow nodes joining"), NULL, NULL);
    if (!made)
        return -1;
    json_decref (made);
    tr_token_format (&t, H->token, sizeof H->token);
    return 0;
}

static void
token_drop (hollow_t *H)
{
    if (!H->token[0])
        return;
    tr_token_t t;
    char err[200], name[64];
    if (!tr_token_parse (H->token, &t, err, sizeof err)) {
        snprintf (name, sizeof name, TR_TOKEN_SECRET_PREFIX "%s", t.id);
        int code;
        json_decref (cli_do (H->g, TR_VERB_DELETE, "Secret", TR_TOKEN_NS, name, NULL, NULL, &code));
    }
    H->token[0] = 0;
}

/* ---- the command ----------------------------------------------------------------------------- */

static long
rss_kib (void)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf (f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose (f);
    }
    return res * (sysconf (_SC_PAGESIZE) / 1024);
}

int
cmd_hollow (cli_t *g, int argc, char **argv)
{
    hollow_flags_t f = {0};
    f.nodes = cli_opt (&argc, argv, "--nodes", NULL);
    f.cpu = cli_opt (&argc, argv, "--cpu", NULL);
    f.memory = cli_opt (&argc, argv, "--memory", NULL);
    f.pods = cli_opt (&argc, argv, "--pods", NULL);
    f.ephemeral_storage = cli_opt (&argc, argv, "--ephemeral-storage", NULL);
    f.labels = cli_opt (&argc, argv, "--labels", NULL);
    f.taints = cli_opt (&argc, argv, "--taints", NULL);
    f.zones = cli_opt (&argc, argv, "--zones", NULL);
    f.prefix = cli_opt (&argc, argv, "--prefix", NULL);
    f.startup_delay = cli_opt (&argc, argv, "--startup-delay", NULL);
    f.lease_period = cli_opt (&argc, argv, "--lease-period", NULL);
    f.data = cli_opt (&argc, argv, "--data", NULL);
    static hollow_t H; /* large; one per process */
    memset (&H, 0, sizeof H);
    char err[512];
    if (argc > 1) {
        fprintf (stderr, "error: hollow: unexpected argument \"%s\"\n", argv[1]);
        return 2;
    }
    if (hollow_config (&f, &H.cfg, err, sizeof err)) {
        fprintf (stderr, "error: %s\nusage: troupe hollow --nodes N [--server EP] [--cpu 4] [--memory 16Gi] [--pods 110] "
                         "[--ephemeral-storage 100Gi] [--labels k=v,…] [--taints k=v:NoSchedule,…] [--zones z1,…] "
                         "[--prefix hollow-] [--startup-delay 1s] [--lease-period 10s] [--data DIR]\n", err);
        hollow_cfg_free (&H.cfg);
        return 2;
    }
    /* two sockets a node (its DEALER and the ZMQ_FD's mailbox), and room for the rest */
    struct rlimit rl;
    rlim_t want = (rlim_t) H.cfg.nodes * 3 + 256;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
    }
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
        fprintf (stderr, "warning: RLIMIT_NOFILE %llu is below the %llu descriptors %d nodes need\n",
                 (unsigned long long) rl.rlim_cur, (unsigned long long) want, H.cfg.nodes);
    zsys_set_max_sockets (0); /* as many as ZeroMQ allows (ZMQ_SOCKET_LIMIT) */
    zsys_handler_set (NULL);
    H.g = g;
    if (!cli_client (g)) {
        hollow_cfg_free (&H.cfg);
        return 1;
    }
    int code = 0; /* the server answers (and the caller may read Nodes), or nothing starts */
    json_t *probe = cli_do (g, TR_VERB_GET, "Node", NULL, "troupe-hollow-probe", NULL, NULL, &code);
    json_decref (probe);
    if (code != TR_OK && code != TR_NOT_FOUND) {
        hollow_cfg_free (&H.cfg);
        return 1;
    }
    snprintf (H.ep, sizeof H.ep, "%s", g->eps[g->cur]);
    H.tcp = !strncmp (H.ep, "tcp://", 6);
    /* ZMTP heartbeats with client-go's HTTP/2 health check figures (30 s, 15 s to answer; libzmq
     * pings every 30 s whether or not the connection is idle), not the single agent's 2 s: with
     * 5,000 connections in one IO thread, libzmq's cancelling of each ping's timeout timer walked
     * all 5,000 timers, 2,500 times a second (48 % of the IO thread, 6 % of the machine in a
     * 3-server run: tr_conn_set_heartbeat). Each node's own request every HOLLOW_PING_MS keeps
     * the broker's view of it alive. */
    tr_conn_set_heartbeat (HOLLOW_HEARTBEAT_IVL_MS, HOLLOW_HEARTBEAT_TIMEOUT_MS);
    if (g->have_creds)
        H.admin = g->creds;
    if (H.cfg.data[0])
        snprintf (H.data, sizeof H.data, "%s", H.cfg.data);
    else {
        char d[900];
        tr_conn_default_data_dir (d, sizeof d);
        snprintf (H.data, sizeof H.data, "%s/hollow", d);
    }
    for (char *p = H.data + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (H.data, 0700);
            *p = '/';
        }
    if (mkdir (H.data, 0700) && errno != EEXIST) {
        fprintf (stderr, "error: --data %s: %s\n", H.data, strerror (errno));
        hollow_cfg_free (&H.cfg);
        return 1;
    }
    H.nodes = calloc ((size_t) H.cfg.nodes, sizeof *H.nodes);
    H.dirty = calloc ((size_t) H.cfg.nodes, sizeof *H.dirty);
    for (int i = 0; i < H.cfg.nodes; i++) {
        H.nodes[i].idx = i;
        hollow_node_name (&H.cfg, i, H.nodes[i].name, sizeof H.nodes[i].name);
    }
    int need_token = 0;
    for (int i = 0; H.tcp && i < H.cfg.nodes && !need_token; i++)
        need_token = !node_is_joined (&H, &H.nodes[i]);
    if (need_token && token_make (&H)) {
        free (H.nodes);
        free (H.dirty);
        hollow_cfg_free (&H.cfg);
        return 1;
    }
    H.ep_fd = epoll_create1 (EPOLL_CLOEXEC);
    H.pod_keep = hollow_pod_keep ();
    H.ack_keep = tv_keep_new ((const char *const[]) {"metadata.name"}, 1);
    H.running_keep = hollow_running_keep ();
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    srand ((unsigned) getpid ());
    printf ("hollow: %d nodes %s%d..%s%d on %s (%s), data %s\n", H.cfg.nodes, H.cfg.prefix, 0, H.cfg.prefix,
            H.cfg.nodes - 1, H.ep, H.tcp ? "a CURVE identity each" : "local socket: the local admin", H.data);
    fflush (stdout);
    int64_t t0 = mono (), next_tick = 0, next_report = t0 + 10000;
    int all_up_said = 0;
    struct epoll_event evs[512];
    while (!stop_flag) {
        int64_t now = mono ();
        int wait = next_tick > now ? (int) (next_tick - now) : 0;
        int ne = epoll_wait (H.ep_fd, evs, 512, wait);
        for (int i = 0; i < ne; i++)
            mark_dirty (&H, &H.nodes[evs[i].data.u32]);
        drain_dirty (&H);
        now = mono ();
        if (now >= next_tick) {
            tick (&H);
            drain_dirty (&H);
            next_tick = now + HOLLOW_TICK_MS;
        }
        if (!all_up_said && H.up + H.failed == H.cfg.nodes) {
            all_up_said = 1;
            token_drop (&H);
            printf ("hollow: %d nodes registered in %.1f s (%d joined now, %d failed); RSS %ld KiB (%.1f KiB a node)\n",
                    H.up, (double) (now - t0) / 1000, H.joined_now, H.failed, rss_kib (),
                    (double) rss_kib () / H.cfg.nodes);
            fflush (stdout);
        }
        if (now >= next_report) {
            int pods = 0;
            for (int i = 0; i < H.cfg.nodes; i++)
                pods += H.nodes[i].pods ? (int) zhashx_size (H.nodes[i].pods) : 0;
            struct rusage ru;
            getrusage (RUSAGE_SELF, &ru);
            printf ("hollow: up %d/%d, pods %d, RSS %ld KiB, cpu %.1f s\n", H.up, H.cfg.nodes, pods, rss_kib (),
                    (double) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
            fflush (stdout);
            next_report = now + 60000;
        }
    }
    /* SIGINT/SIGTERM: the connections close; the Nodes and their pods stay, as kubemark's do when
     * its hollow nodes stop: the node controller marks them unreachable after its grace period */
    token_drop (&H);
    for (int i = 0; i < H.cfg.nodes; i++) {
        hnode_t *n = &H.nodes[i];
        zsock_destroy (&n->sock);
        zhashx_destroy (&n->pods);
        zhashx_destroy (&n->ops);
        json_decref (n->lease);
        free (n->slots);
    }
    close (H.ep_fd);
    json_decref (H.pod_keep);
    json_decref (H.ack_keep);
    json_decref (H.running_keep);
    printf ("hollow: stopped (%d nodes left registered)\n", H.up);
    free (H.nodes);
    free (H.dirty);
    hollow_cfg_free (&H.cfg);
    return 0;
}
