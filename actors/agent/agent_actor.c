/* agent_actor — see agent_actor.h. */
#include "actors/agent/agent_actor.h"
#include "actors/agent/podenv.h"
#include "actors/agent/nodestatus.h"
#include "actors/agent/podsync.h"
#include "actors/agent/crilog.h"
#include "actors/agent/logrotate.h"
#include "actors/agent/netprobe.h"
#include "actors/agent/prober.h"
#include "actors/agent/podres.h"
#include "actors/agent/volumes.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/value.h"
#include "runtime-shims/cri.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define A "agent"
#define T_SYNC 1
#define T_LEASE 2
#define T_KICK 3
#define T_NODE 4
#define T_NET 5 /* steps the httpGet/tcpSocket checks in flight */
#define T_LOGS 6 /* container log rotation: every containerLogMonitorInterval */
#define INFLIGHT_MS 15000
#define RELIST_MIN_MS 100
/* an answer of the runtime to the agent's own request moves its pod on within this; informer
 * events coalesce for 20 ms (they come in bursts from other clients, answers one per action) */
#define KICK_REPLY_MS 2
#define OBJ_REFRESH_MS 3000   /* referenced ConfigMaps and Secrets are read again this often */
#define DU_EVERY_MS 10000     /* emptyDir sizeLimit measured, orphaned volume dirs removed this often */

typedef struct {
    char node[TR_NAME_MAX + 1];
    char data[1024];
    char host_ip[64];
    troupe_peer_t *shim;
    troupe_informer_t *pods;
    json_t *runtime;       /* last ListContainers items */
    int runtime_fresh;     /* a ListContainers reply arrived since the last sync */
    int listing;
    json_t *backoff;       /* pod uid → podsync back-off map */
    json_t *inflight;      /* "uid/container/attempt" or "stop/<id>" → monotonic ms sent */
    json_t *sent_status;   /* pod uid → status last sent */
    int registered;
    json_t *lease;         /* our Lease as last written (with its resourceVersion), or NULL: read it */
    char shim_ep[512];
    nodestatus_config_t ncfg;   /* max pods, reservations, eviction thresholds */
    nodestatus_measure_t meas;  /* the machine, re-read at every status check; runtime_ok from ListContainers */
    int runtime_heard;          /* a ListContainers reply (or its timeout) has come back */
    char default_runtime[16];   /* "oci" where the shim serves it, else "process" (config defaultRuntime wins) */
    int runtimes_known;         /* the shim's Ping answered: which runtimes it serves */
    int has_oci;
    char oci_unavailable[300];
    json_t *pulled;             /* "uid/container/attempt" → true: the image is there for that start */
    json_t *sandboxes;          /* pod uid → {podIP} once RunPodSandbox answered */
    json_t *pull_secrets;       /* pod uid → merged dockerconfigjson auths of its imagePullSecrets */
    json_t *sandbox_list;       /* the runtime's sandboxes [{sandboxId, podUid}] at the last ListContainers */
    json_t *objs;               /* "ConfigMap|Secret/ns/name" → the object as last read, or null: NotFound */
    json_t *obj_at;             /* same keys → monotonic ms of the last answer */
    json_t *vol_applied;        /* pod uid → the volumes plan set up on the host */
    int64_t du_next;            /* monotonic ms of the next usage check and orphan sweep */
    int du_now;                 /* this sync round measures */
    char runtime_ns[64];        /* the runtime namespace of our pods and images (config runtimeNamespace) */
    int64_t listed_at;          /* monotonic ms of the last ListContainers sent */
    struct probe_ctr *probers;  /* per running container with probes or postStart: the prober's state */
    struct check *nets;         /* httpGet/tcpSocket checks in flight */
    json_t *hooks;              /* "post/<id>" → 1 while postStart runs; "pre/<id>" → 1 running, 2 done */
    logrotate_policy_t logs;    /* containerLogMaxSize, containerLogMaxFiles */
    long long logs_every_ms;    /* containerLogMonitorInterval */
} agent_t;

static void
host_ip (char *buf, size_t len)
{
    snprintf (buf, len, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs (&ifs))
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp (i->ifa_name, "lo")) {
            inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, buf, (socklen_t) len);
            break;
        }
    freeifaddrs (ifs);
}

static int
inflight (agent_t *a, const char *key)
{
    json_t *t = json_object_get (a->inflight, key);
    return t && troupe_mono_ms () - json_integer_value (t) < INFLIGHT_MS;
}

static void
mark (agent_t *a, const char *key)
{
    json_object_set_new (a->inflight, key, json_integer (troupe_mono_ms ()));
}

static troupe_reply_fn on_removed;

/* The logPath of container id as last listed (malloc'd), or NULL. */
static char *
log_path_of (const agent_t *a, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (id && tv_str (r, "containerId") && !strcmp (tv_str (r, "containerId"), id))
        return tv_str (r, "logPath") ? strdup (tv_str (r, "logPath")) : NULL;
    return NULL;
}

static void
log_failure (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    if (reply->code != TR_OK)
        TR_WARN (A, "%s failed code=%s msg=\"%s\"", (const char *) arg, tr_code_name (reply->code),
                 reply->msg ? reply->msg : "");
}

/* ---- node registration and heartbeat -------------------------------------------------------- */

/* The Node status as of now: the machine measured again, conditions keeping the transition
 * times of prev (the stored Node's status.conditions, or NULL). */
static json_t *
node_status (agent_t *a, const json_t *prev)
{
    char now[32];
    tr_time_format (troupe_now_ms (), now, sizeof now);
    nodestatus_measure ("", a->data, &a->meas);
    nodestatus_res_t cap, alloc;
    nodestatus_capacity (&a->meas, &a->ncfg, &cap);
    nodestatus_allocatable (&cap, &a->ncfg, &alloc);
    struct utsname u;
    uname (&u);
    return json_pack ("{s:o,s:o,s:o,s:{s:s,s:s,s:s,s:s,s:s},s:[{s:s,s:s},{s:s,s:s}]}", "capacity",
                      nodestatus_resources_json (&cap), "allocatable", nodestatus_resources_json (&alloc), "conditions",
                      nodestatus_conditions (&a->meas, &a->ncfg, prev, now), "nodeInfo", "architecture", u.machine,
                      "operatingSystem", "linux", "kernelVersion", u.release, "kubeletVersion", "troupe-0.1",
                      "containerRuntimeVersion", "process://0.1", "addresses", "type", "InternalIP", "address",
                      a->host_ip, "type", "Hostname", "address", a->node);
}

static void node_got (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);
static void check_node (troupe_ctx_t *ctx, agent_t *a);

static void
node_updated (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) arg;
    agent_t *a = self;
    if (reply->code == TR_OK) {
        if (!a->registered) {
            TR_INFO (A, "node registered name=%s ip=%s", a->node, a->host_ip);
            a->registered = 1;
            check_node (ctx, a); /* the runtime may have answered since the status was built */
        }
    } else if (reply->code == TR_CONFLICT) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        strcpy (req.kind, "Node");
        snprintf (req.name, sizeof req.name, "%s", a->node);
        troupe_request (ctx, &req, node_got, NULL);
    } else
        TR_WARN (A, "node status update failed code=%s msg=\"%s\"", tr_code_name (reply->code), reply->msg ? reply->msg : "");
}

static void
node_got (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) arg;
    agent_t *a = self;
    tr_env_t req;
    tr_env_init (&req);
    if (reply->code == TR_NOT_FOUND) {
        req.verb = TR_VERB_CREATE;
        strcpy (req.kind, "Node");
        req.body = json_pack ("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s}},s:{},s:o}", "apiVersion", "v1", "kind", "Node", "metadata",
                              "name", a->node, "labels", "kubernetes.io/hostname", a->node, "kubernetes.io/os", "linux",
                              "node-role.kubernetes.io/worker", "", "spec", "status", node_status (a, NULL));
    } else if (reply->code == TR_OK) {
        req.verb = TR_VERB_UPDATE_STATUS;
        strcpy (req.kind, "Node");
        snprintf (req.name, sizeof req.name, "%s", a->node);
        req.rv = reply->rv;
        req.body = json_pack ("{s:o}", "status", node_status (a, tv_get (reply->body, "status.conditions")));
    } else {
        TR_WARN (A, "cannot read node code=%s", tr_code_name (reply->code));
        return;
    }
    troupe_request (ctx, &req, node_updated, NULL);
    tr_env_clear (&req);
}

/* After a lease renewal (and when the runtime comes or goes): post the status if what it says
 * changed — a condition's status or reason, capacity or allocatable — as the kubelet does between
 * its full reports; this also answers an Unknown set by the node controller meanwhile (a pause
 * longer than the grace period) now rather than at the next full status post. */
static void
node_checked (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    if (reply->code != TR_OK)
        return;
    json_t *status = tv_get (reply->body, "status");
    json_t *now = node_status (a, tv_get (status, "conditions"));
    int changed = nodestatus_changed (status, now);
    json_decref (now);
    if (changed)
        node_got (self, ctx, reply, arg);
}

static void
check_node (troupe_ctx_t *ctx, agent_t *a)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    strcpy (req.kind, "Node");
    snprintf (req.name, sizeof req.name, "%s", a->node);
    /* every 10 s: from the broker's cache, not a linearizable read (which costs a log append on
     * a replicated store); a lagging cache only delays the re-post by one period */
    req.opts = json_pack ("{s:b}", "stale", 1);
    troupe_request (ctx, &req, node_checked, NULL);
    tr_env_clear (&req);
}

static void
register_node (troupe_ctx_t *ctx, agent_t *a)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    strcpy (req.kind, "Node");
    snprintf (req.name, sizeof req.name, "%s", a->node);
    troupe_request (ctx, &req, node_got, NULL);
}

static void lease_got (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);
static void write_lease (troupe_ctx_t *ctx, agent_t *a, const json_t *cur, uint64_t rv);

/* Every 10 s. Like the kubelet's lease controller, the agent keeps the Lease it last wrote and
 * updates that (a renewal: only spec.renewTime moves, which a replicated store answers from the
 * leader's memory); it reads the Lease only at start or after its update failed. */
static void
renew_lease (troupe_ctx_t *ctx, agent_t *a)
{
    if (a->lease) {
        const char *rvs = tv_str (a->lease, "metadata.resourceVersion");
        write_lease (ctx, a, a->lease, rvs ? strtoull (rvs, NULL, 10) : 0);
        return;
    }
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    strcpy (req.kind, "Lease");
    strcpy (req.ns, "kube-node-lease");
    snprintf (req.name, sizeof req.name, "%s", a->node);
    troupe_request (ctx, &req, lease_got, NULL);
}

static void
lease_written (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    (void) arg;
    agent_t *a = self;
    json_decref (a->lease);
    a->lease = NULL;
    if (reply->code == TR_OK && json_is_object (reply->body))
        a->lease = json_deep_copy (reply->body);
    else
        TR_WARN (A, "lease renewal failed code=%s msg=\"%s\"", tr_code_name (reply->code), reply->msg ? reply->msg : "");
}

static void
lease_got (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) arg;
    agent_t *a = self;
    if (reply->code == TR_NOT_FOUND)
        write_lease (ctx, a, NULL, 0);
    else if (reply->code == TR_OK)
        write_lease (ctx, a, reply->body, reply->rv);
}

/* Creates the Lease (cur NULL) or renews cur at resourceVersion rv. */
static void
write_lease (troupe_ctx_t *ctx, agent_t *a, const json_t *cur, uint64_t rv)
{
    char now[40];
    int64_t ms = troupe_now_ms ();
    tr_time_format (ms, now, sizeof now);
    tr_env_t req;
    tr_env_init (&req);
    strcpy (req.kind, "Lease");
    strcpy (req.ns, "kube-node-lease");
    json_t *spec = json_pack ("{s:s,s:i,s:s}", "holderIdentity", a->node, "leaseDurationSeconds", 40, "renewTime", now);
    if (!cur) {
        req.verb = TR_VERB_CREATE;
        req.body = json_pack ("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
                              "metadata", "name", a->node, "namespace", "kube-node-lease", "spec", spec);
    } else {
        req.verb = TR_VERB_UPDATE;
        snprintf (req.name, sizeof req.name, "%s", a->node);
        req.rv = rv;
        req.body = json_deep_copy (cur);
        json_t *old = json_object_get (req.body, "spec");
        if (json_is_object (old)) { /* keep what others set (acquireTime, transitions) */
            json_object_update (old, spec);
            json_decref (spec);
        } else
            json_object_set_new (req.body, "spec", spec);
    }
    troupe_request (ctx, &req, lease_written, NULL);
    tr_env_clear (&req);
}

/* ---- pod sync ------------------------------------------------------------------------------- */

static void
shim_call (troupe_ctx_t *ctx, agent_t *a, tr_verb_t verb, json_t *body /* stolen */, troupe_reply_fn *cb, void *arg)
{
    (void) ctx;
    tr_env_t req;
    tr_env_init (&req);
    req.verb = verb;
    req.body = body;
    troupe_peer_request (a->shim, &req, 10000, cb, arg);
    tr_env_clear (&req);
}

typedef struct {
    char uid[64];
    char name[64];
    char pod_ns[TR_NAME_MAX + 1];
    char pod_name[TR_NAME_MAX + 1];
    char image[512];
    char key[256];
    int attempt;
} created_t;

static created_t *
created_new (const json_t *pod, const char *container, int attempt, const char *image)
{
    created_t *c = calloc (1, sizeof *c);
    snprintf (c->uid, sizeof c->uid, "%s", tv_str (pod, "metadata.uid"));
    snprintf (c->name, sizeof c->name, "%s", container);
    snprintf (c->pod_ns, sizeof c->pod_ns, "%s", tv_str (pod, "metadata.namespace"));
    snprintf (c->pod_name, sizeof c->pod_name, "%s", tv_str (pod, "metadata.name"));
    snprintf (c->image, sizeof c->image, "%s", image ? image : "");
    c->attempt = attempt;
    snprintf (c->key, sizeof c->key, "%s/%s/%d", c->uid, container, attempt);
    return c;
}

/* A kubelet event about a pod (Started, Killing). */
static void
pod_event (troupe_ctx_t *ctx, agent_t *a, const char *ns, const char *name, const char *uid, const char *type,
           const char *reason, const char *msg)
{
    json_t *pod = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
                             "namespace", ns, "uid", uid ? uid : "");
    tr_env_t ev;
    tr_env_init (&ev);
    ev.verb = TR_VERB_CREATE;
    strcpy (ev.kind, "Event");
    snprintf (ev.ns, sizeof ev.ns, "%s", ns);
    ev.body = tr_event_new (pod, type, reason, msg, "kubelet", a->node, troupe_now_ms ());
    troupe_request (ctx, &ev, NULL, NULL);
    tr_env_clear (&ev);
    json_decref (pod);
}

/* The pod's runtime: spec.runtimeClassName names the handler ("process" or "oci"), else the node's default. */
static const char *
runtime_for (agent_t *a, const json_t *pod)
{
    const char *rc = tv_str (pod, "spec.runtimeClassName");
    return rc && *rc ? rc : a->default_runtime;
}

/* A start held back (pull or create failure): the container waits with reason, retried after a
 * back-off of 10 s doubling to 300 s (backoff["wait:<container>"], read by podsync). */
static void
hold (agent_t *a, const created_t *c, const char *reason, const char *msg)
{
    json_t *bo = json_object_get (a->backoff, c->uid);
    if (!bo)
        return; /* the pod is gone */
    char key[96];
    snprintf (key, sizeof key, "wait:%s", c->name);
    json_int_t d = tv_int (json_object_get (bo, key), "delayMs", 0);
    d = d ? d * 2 : PODSYNC_BACKOFF_INITIAL_MS;
    if (d > PODSYNC_BACKOFF_MAX_MS)
        d = PODSYNC_BACKOFF_MAX_MS;
    int64_t now = troupe_now_ms ();
    json_object_set_new (bo, key, json_pack ("{s:s,s:s,s:s,s:I,s:I,s:I}", "reason", reason, "message", msg ? msg : "",
                                             "image", c->image, "at", (json_int_t) now, "notBefore", (json_int_t) now + d,
                                             "delayMs", d));
}

static void
unhold (agent_t *a, const created_t *c)
{
    json_t *bo = json_object_get (a->backoff, c->uid);
    char key[96];
    snprintf (key, sizeof key, "wait:%s", c->name);
    if (bo)
        json_object_del (bo, key);
}

/* StartContainer answers with the container's status (runtime-shims/cri.h): it replaces the
 * record of the last listing, so the pod's status says Running at once, not after the next relist
 * (up to RELIST_MIN_MS later: bench/runtime, 1 pod). A shim answer is never older than a listing
 * received before it (one connection, answered in order). */
static void
runtime_put (agent_t *a, const json_t *st)
{
    const char *id = tv_str (st, "containerId");
    if (!id || !a->runtime)
        return;
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (tv_str (r, "containerId") && !strcmp (tv_str (r, "containerId"), id)) {
        json_array_set (a->runtime, i, (json_t *) st);
        return;
    }
    json_array_append (a->runtime, (json_t *) st);
}

/* A container started (or not): its pod is synced within KICK_REPLY_MS, so its status (Running)
 * is written at once rather than at the next one-second sync (bench/runtime: +0.5 s per pod). */
static void
on_started_kick (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    log_failure (self, ctx, reply, arg);
    if (reply->code == TR_OK && json_is_object (tv_get (reply->body, "status")))
        runtime_put (a, tv_get (reply->body, "status"));
    troupe_timer_within (ctx, T_KICK, KICK_REPLY_MS);
}

/* ---- probes and lifecycle hooks --------------------------------------------------------------
 * The decisions are actors/agent/prober.c's; here they are carried out: exec handlers through the
 * shim's ExecSync, httpGet/tcpSocket handlers as netprobe state machines stepped by T_NET (the
 * actor never blocks). postStart runs once StartContainer answered, the container not started
 * (nor ready) until it succeeded; a failure kills it (FailedPostStartHook). preStop runs before
 * the StopContainer of any stop (deletion, liveness, definition change), within the grace period;
 * the SIGTERM then gets what is left of it (at least 2 s, as the kubelet). */

typedef struct probe_ctr {
    struct probe_ctr *next;
    char uid[64], name[64], id[80];
    prober_t pr;
    int seen, killed;
} probe_ctr_t;

typedef enum { CHECK_PROBE, CHECK_POSTSTART, CHECK_PRESTOP } check_what_t;

typedef struct check {
    struct check *next;
    netprobe_t *np;
    check_what_t what;
    probe_kind_t kind;
    char uid[64], name[64], id[80], ns[TR_NAME_MAX + 1], pod[TR_NAME_MAX + 1];
    int grace;
    int64_t t0; /* monotonic start */
} check_t;

static probe_ctr_t *
probe_find (agent_t *a, const char *uid, const char *name)
{
    for (probe_ctr_t *p = a->probers; p; p = p->next)
        if (!strcmp (p->uid, uid) && !strcmp (p->name, name))
            return p;
    return NULL;
}

static const json_t *
spec_of (const json_t *pod, const char *name)
{
    static const char *const lists[] = {"spec.containers", "spec.initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (tv_get (pod, lists[l]), i, c) if (tv_str (c, "name") && !strcmp (tv_str (c, "name"), name)) return c;
    }
    return NULL;
}

/* The latest attempt of a container among the pod's runtime records. */
static const json_t *
latest (const json_t *rt, const char *name)
{
    const json_t *cur = NULL;
    size_t i;
    json_t *r;
    json_array_foreach (rt, i, r) if (tv_str (r, "name") && !strcmp (tv_str (r, "name"), name) &&
                                      (!cur || tv_int (r, "attempt", 0) > tv_int (cur, "attempt", 0))) cur = r;
    return cur;
}

static const json_t *
record_by_id (agent_t *a, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (tv_str (r, "containerId") && !strcmp (tv_str (r, "containerId"), id)) return r;
    return NULL;
}

/* A handler's port: a number, or the name of one of the container's ports. */
static int
handler_port (const json_t *spec, const json_t *h)
{
    const json_t *p = json_object_get (h, "port");
    if (json_is_integer (p))
        return (int) json_integer_value (p);
    if (!json_is_string (p))
        return 0;
    const char *s = json_string_value (p);
    if (*s >= '0' && *s <= '9')
        return atoi (s);
    size_t i;
    json_t *cp;
    json_array_foreach (tv_get (spec, "ports"), i, cp) if (tv_str (cp, "name") && !strcmp (tv_str (cp, "name"), s)) return (int) tv_int (cp, "containerPort", 0);
    return 0;
}

static void check_done (troupe_ctx_t *ctx, agent_t *a, check_t *c, int ok, const char *msg);

static void
on_check_exec (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    check_t *c = arg;
    char msg[600] = "";
    int ok = 0;
    if (reply->code != TR_OK)
        snprintf (msg, sizeof msg, "%s", reply->msg ? reply->msg : tr_code_name (reply->code));
    else if (tv_bool (reply->body, "timedOut", false))
        snprintf (msg, sizeof msg, "command timed out");
    else {
        ok = tv_int (reply->body, "exitCode", 1) == 0;
        snprintf (msg, sizeof msg, "%s%s", tv_str (reply->body, "stdout") ? tv_str (reply->body, "stdout") : "",
                  tv_str (reply->body, "stderr") ? tv_str (reply->body, "stderr") : "");
        size_t n = strlen (msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = 0;
        if (!ok && !n)
            snprintf (msg, sizeof msg, "command exited with code %lld", (long long) tv_int (reply->body, "exitCode", 1));
    }
    check_done (ctx, a, c, ok, msg);
}

/* Runs one handler (exec, httpGet, tcpSocket) of container `name` (runtime record rec); the
 * outcome goes to check_done with c (taken). */
static void
run_handler (troupe_ctx_t *ctx, agent_t *a, const json_t *spec, const json_t *h, const json_t *rec, int timeout_ms, check_t *c)
{
    c->t0 = troupe_mono_ms ();
    const json_t *ex = json_object_get (h, "exec"), *hg = json_object_get (h, "httpGet"), *ts = json_object_get (h, "tcpSocket");
    if (json_is_object (ex)) {
        json_t *cmd = json_object_get (ex, "command");
        if (!json_array_size (cmd)) {
            check_done (ctx, a, c, 0, "exec: no command");
            return;
        }
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_EXEC_SYNC;
        req.body = json_pack ("{s:s,s:O,s:i}", "containerId", c->id, "cmd", cmd, "timeout", (timeout_ms + 999) / 1000);
        troupe_peer_request (a->shim, &req, timeout_ms + 5000, on_check_exec, c);
        tr_env_clear (&req);
        return;
    }
    const json_t *net = json_is_object (hg) ? hg : ts;
    if (!json_is_object (net)) {
        check_done (ctx, a, c, 0, "no exec, httpGet or tcpSocket handler");
        return;
    }
    const char *host = tv_str (net, "host");
    const char *pod_ip = tv_str (rec, "podIP") && *tv_str (rec, "podIP") ? tv_str (rec, "podIP") : a->host_ip;
    const json_t *pod = troupe_informer_get (a->pods, c->ns, c->pod);
    if (tv_bool (pod, "spec.hostNetwork", false) || !tv_str (rec, "podIP"))
        pod_ip = a->host_ip;
    const char *path = NULL;
    if (net == hg)
        path = tv_str (hg, "path") ? tv_str (hg, "path") : "/";
    if (net == hg && tv_str (hg, "scheme") && strcmp (tv_str (hg, "scheme"), "HTTP")) {
        check_done (ctx, a, c, 0, "only the HTTP scheme is spoken");
        return;
    }
    /* from inside the pod's network namespace (oci, not hostNetwork), as if from the node */
    const char *netns = pod_ip == a->host_ip ? NULL : tv_str (json_object_get (a->sandboxes, c->uid), "netns");
    c->np = netprobe_start (netns, host && *host ? host : pod_ip, handler_port (spec, net), path,
                            net == hg ? json_object_get (hg, "httpHeaders") : NULL, timeout_ms, c->t0);
    c->next = a->nets;
    a->nets = c;
    troupe_timer_within (ctx, T_NET, 5);
}

static void
nets_step (troupe_ctx_t *ctx, agent_t *a)
{
    int64_t now = troupe_mono_ms ();
    check_t **pp = &a->nets;
    while (*pp) {
        check_t *c = *pp;
        int ok;
        char msg[300];
        if (!netprobe_step (c->np, now, &ok, msg, sizeof msg)) {
            pp = &c->next;
            continue;
        }
        *pp = c->next; /* unlinked before check_done, which may add checks at the head */
        netprobe_free (c->np);
        c->np = NULL;
        check_done (ctx, a, c, ok, msg);
    }
    if (a->nets)
        troupe_timer_within (ctx, T_NET, 50);
}

static check_t *
check_new (const json_t *pod, const char *name, const char *id, check_what_t what, probe_kind_t kind, int grace)
{
    check_t *c = calloc (1, sizeof *c);
    snprintf (c->uid, sizeof c->uid, "%s", tv_str (pod, "metadata.uid"));
    snprintf (c->ns, sizeof c->ns, "%s", tv_str (pod, "metadata.namespace"));
    snprintf (c->pod, sizeof c->pod, "%s", tv_str (pod, "metadata.name"));
    snprintf (c->name, sizeof c->name, "%s", name);
    snprintf (c->id, sizeof c->id, "%s", id);
    c->what = what;
    c->kind = kind;
    c->grace = grace;
    return c;
}

static int
pod_grace (const json_t *pod)
{
    return (int) tv_int (pod, "metadata.deletionGracePeriodSeconds", tv_int (pod, "spec.terminationGracePeriodSeconds", 30));
}

static void
send_stop (troupe_ctx_t *ctx, agent_t *a, const char *id, int timeout_s)
{
    shim_call (ctx, a, TR_VERB_STOP_CONTAINER, json_pack ("{s:s,s:i}", "containerId", id, "timeout", timeout_s), log_failure,
               "StopContainer");
}

/* Stops a running container: its preStop hook first (once), then SIGTERM with the grace left. */
static void
stop_container_hooked (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const char *name, const char *id, int grace)
{
    const json_t *spec = spec_of (pod, name);
    const json_t *pre = tv_get (spec, "lifecycle.preStop");
    char key[100];
    snprintf (key, sizeof key, "pre/%s", id);
    json_t *st = json_object_get (a->hooks, key);
    if (!json_is_object (pre) || (st && json_integer_value (st) == 2)) {
        send_stop (ctx, a, id, grace);
        return;
    }
    if (st)
        return; /* the hook runs; the stop follows it */
    const json_t *rec = record_by_id (a, id);
    json_object_set_new (a->hooks, key, json_integer (1));
    run_handler (ctx, a, spec, pre, rec, grace > 0 ? grace * 1000 : 1, check_new (pod, name, id, CHECK_PRESTOP, 0, grace));
}

static void
check_done (troupe_ctx_t *ctx, agent_t *a, check_t *c, int ok, const char *msg)
{
    const json_t *pod = troupe_informer_get (a->pods, c->ns, c->pod);
    char m[900], key[100];
    if (c->what == CHECK_PRESTOP) {
        snprintf (key, sizeof key, "pre/%s", c->id);
        json_object_set_new (a->hooks, key, json_integer (2));
        if (!ok) {
            snprintf (m, sizeof m, "PreStopHook failed: %s", msg);
            pod_event (ctx, a, c->ns, c->pod, c->uid, "Warning", "FailedPreStopHook", m);
        }
        int left = c->grace - (int) ((troupe_mono_ms () - c->t0) / 1000);
        send_stop (ctx, a, c->id, left < 2 ? 2 : left);
    } else if (c->what == CHECK_POSTSTART) {
        snprintf (key, sizeof key, "post/%s", c->id);
        json_object_del (a->hooks, key);
        if (!ok && pod) {
            snprintf (m, sizeof m, "PostStartHook failed: %s", msg);
            pod_event (ctx, a, c->ns, c->pod, c->uid, "Warning", "FailedPostStartHook", m);
            probe_ctr_t *p = probe_find (a, c->uid, c->name);
            if (p && !strcmp (p->id, c->id))
                p->killed = 1;
            stop_container_hooked (ctx, a, pod, c->name, c->id, pod_grace (pod));
        }
        troupe_timer_within (ctx, T_KICK, 20);
    } else {
        probe_ctr_t *p = probe_find (a, c->uid, c->name);
        if (p && !strcmp (p->id, c->id) && pod) {
            int changed = prober_result (&p->pr, c->kind, ok, msg, troupe_now_ms ());
            if (!ok) {
                snprintf (m, sizeof m, "%s probe failed: %s", prober_kind_name (c->kind), msg);
                pod_event (ctx, a, c->ns, c->pod, c->uid, "Warning", "Unhealthy", m);
            }
            if (p->pr.kill && !p->killed) {
                p->killed = 1;
                snprintf (m, sizeof m, "Container %s failed %s probe, will be restarted", c->name,
                          c->kind == PROBE_STARTUP ? "startup" : "liveness");
                pod_event (ctx, a, c->ns, c->pod, c->uid, "Normal", "Killing", m);
                TR_INFO (A, "killing container pod=%s/%s container=%s: %s", c->ns, c->pod, c->name, m);
                /* the probe's own terminationGracePeriodSeconds wins over the pod's */
                const json_t *spec = spec_of (pod, c->name);
                const char *f = c->kind == PROBE_STARTUP ? "startupProbe" : "livenessProbe";
                const json_t *pr = json_object_get (spec, f);
                int grace = (int) tv_int (pr, "terminationGracePeriodSeconds", pod_grace (pod));
                stop_container_hooked (ctx, a, pod, c->name, c->id, grace);
            }
            if (changed)
                troupe_timer_within (ctx, T_KICK, 20);
        }
    }
    free (c);
}

static int
has_probe (const json_t *spec)
{
    return json_is_object (json_object_get (spec, "livenessProbe")) || json_is_object (json_object_get (spec, "readinessProbe")) ||
           json_is_object (json_object_get (spec, "startupProbe"));
}

/* Before podsync: runs the probes that are due for the pod's running app containers and leaves
 * the verdict (ready, started) for podsync in bo["probe:<name>"]. */
static void
probes_sync (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const json_t *rt, json_t *bo)
{
    const char *uid = tv_str (pod, "metadata.uid");
    int64_t now = troupe_now_ms ();
    size_t i;
    json_t *spec;
    json_array_foreach (tv_get (pod, "spec.containers"), i, spec) {
        const char *name = tv_str (spec, "name");
        if (!name)
            continue;
        char vkey[96];
        snprintf (vkey, sizeof vkey, "probe:%s", name);
        int hooked = json_is_object (tv_get (spec, "lifecycle.postStart"));
        const json_t *cur = latest (rt, name);
        if ((!has_probe (spec) && !hooked) || !cur || strcmp (tv_str (cur, "state") ? tv_str (cur, "state") : "", CRI_STATE_RUNNING)) {
            json_object_del (bo, vkey);
            continue;
        }
        const char *id = tv_str (cur, "containerId") ? tv_str (cur, "containerId") : "";
        probe_ctr_t *p = probe_find (a, uid, name);
        if (!p) {
            p = calloc (1, sizeof *p);
            snprintf (p->uid, sizeof p->uid, "%s", uid);
            snprintf (p->name, sizeof p->name, "%s", name);
            p->next = a->probers;
            a->probers = p;
        }
        if (strcmp (p->id, id)) {
            snprintf (p->id, sizeof p->id, "%s", id);
            prober_init (&p->pr, spec, tv_int (cur, "startedAt", now));
            p->killed = 0;
        }
        p->seen = 1;
        char hk[100];
        snprintf (hk, sizeof hk, "post/%s", id);
        int post_running = json_object_get (a->hooks, hk) != NULL;
        if (!post_running && !p->killed && !tv_get (pod, "metadata.deletionTimestamp")) {
            int k;
            while ((k = prober_due (&p->pr, now)) >= 0) {
                const json_t *h = json_object_get (spec, k == PROBE_STARTUP ? "startupProbe" : k == PROBE_LIVENESS ? "livenessProbe" : "readinessProbe");
                run_handler (ctx, a, spec, h, cur, p->pr.p[k].spec.timeout_ms, check_new (pod, name, id, CHECK_PROBE, (probe_kind_t) k, 0));
            }
            int64_t next = prober_next (&p->pr);
            if (next != INT64_MAX)
                troupe_timer_within (ctx, T_KICK, next - now < 20 ? 20 : next - now > 60000 ? 60000 : (int) (next - now));
        }
        json_object_set_new (bo, vkey, json_pack ("{s:s,s:b,s:b}", "containerId", id, "ready", p->pr.ready && !post_running && !p->killed,
                                                  "started", p->pr.started && !post_running));
    }
}

/* After a sync round: probe states of containers no longer running are dropped; preStop marks of
 * containers the runtime no longer has are forgotten. */
static void
probes_gc (agent_t *a)
{
    for (probe_ctr_t **pp = &a->probers; *pp;) {
        probe_ctr_t *p = *pp;
        if (!p->seen) {
            *pp = p->next;
            free (p);
            continue;
        }
        p->seen = 0;
        pp = &p->next;
    }
    const char *k;
    json_t *v;
    void *tmp;
    /* "post/<id>" goes when its hook answers (a just-created container may not be listed yet) */
    json_object_foreach_safe (a->hooks, tmp, k, v) if (strncmp (k, "post/", 5) && (!strchr (k, '/') || !record_by_id (a, strchr (k, '/') + 1)))
        json_object_del (a->hooks, k);
}

static void
on_started (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    check_t *c = arg;
    const json_t *pod = troupe_informer_get (a->pods, c->ns, c->pod);
    const json_t *spec = spec_of (pod, c->name);
    if (reply->code != TR_OK || !pod || !spec) {
        char key[100];
        snprintf (key, sizeof key, "post/%s", c->id);
        json_object_del (a->hooks, key);
        if (reply->code != TR_OK)
            TR_WARN (A, "StartContainer failed code=%s msg=\"%s\"", tr_code_name (reply->code), reply->msg ? reply->msg : "");
        free (c);
        return;
    }
    if (json_is_object (tv_get (reply->body, "status")))
        runtime_put (a, tv_get (reply->body, "status"));
    /* the record (podIP) as of the last listing; the container has just started */
    json_t *rec = json_pack ("{s:s}", "containerId", c->id);
    const json_t *sb = json_object_get (a->sandboxes, c->uid);
    if (tv_str (sb, "podIP") && *tv_str (sb, "podIP"))
        json_object_set_new (rec, "podIP", json_string (tv_str (sb, "podIP")));
    run_handler (ctx, a, spec, tv_get (spec, "lifecycle.postStart"), rec, pod_grace (pod) * 1000 + 1000, c);
    json_decref (rec);
}

/* StartContainer of a created container: with a postStart hook, the hook runs once it answered. */
static void
start_created (troupe_ctx_t *ctx, agent_t *a, const char *ns, const char *podname, const char *name, const char *id)
{
    const json_t *pod = troupe_informer_get (a->pods, ns, podname);
    const json_t *spec = pod ? spec_of (pod, name) : NULL;
    if (!json_is_object (tv_get (spec, "lifecycle.postStart"))) {
        shim_call (ctx, a, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", id), on_started_kick, "StartContainer");
        return;
    }
    char key[100];
    snprintf (key, sizeof key, "post/%s", id);
    json_object_set_new (a->hooks, key, json_integer (1));
    shim_call (ctx, a, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", id), on_started,
               check_new (pod, name, id, CHECK_POSTSTART, 0, pod_grace (pod)));
}

/* CreateContainer fields of the lifecycle: where the termination message is read (the kubelet's
 * default /dev/termination-log, policy File). */
static void
lifecycle_create_fields (const json_t *spec, json_t *body)
{
    const char *p = tv_str (spec, "terminationMessagePath"), *pol = tv_str (spec, "terminationMessagePolicy");
    json_object_set_new (body, "terminationMessagePath", json_string (p && *p ? p : "/dev/termination-log"));
    json_object_set_new (body, "terminationMessagePolicy", json_string (pol && *pol ? pol : "File"));
}

static void
on_created (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    created_t *c = arg;
    char msg[700];
    if (reply->code == TR_OK && tv_str (reply->body, "containerId")) {
        unhold (a, c);
        start_created (ctx, a, c->pod_ns, c->pod_name, c->name, tv_str (reply->body, "containerId"));
        snprintf (msg, sizeof msg, "Started container %s", c->name);
        pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Normal", "Started", msg);
    } else {
        TR_WARN (A, "CreateContainer failed pod=%s container=%s msg=\"%s\"", c->uid, c->name, reply->msg ? reply->msg : "");
        if (reply->code != TR_TIMEOUT && reply->code != TR_UNAVAILABLE) {
            snprintf (msg, sizeof msg, "Error: %s", reply->msg ? reply->msg : tr_code_name (reply->code));
            hold (a, c, "CreateContainerError", reply->msg ? reply->msg : tr_code_name (reply->code));
            pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "Failed", msg);
        }
        json_object_del (a->inflight, c->key);
        troupe_timer_within (ctx, T_KICK, KICK_REPLY_MS);
    }
    free (c);
}

static void
on_pulled (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    created_t *c = arg;
    char msg[1200], key[300];
    snprintf (key, sizeof key, "pull/%s", c->key);
    json_object_del (a->inflight, key);
    if (reply->code == TR_OK) {
        /* one mark per container: the earlier attempts' go (a crash-looping container would add
         * one per restart for as long as its pod lives) */
        char pre[200];
        int pn = snprintf (pre, sizeof pre, "%s/%s/", c->uid, c->name);
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe (a->pulled, tmp, k, v) if (pn > 0 && !strncmp (k, pre, (size_t) pn)) json_object_del (a->pulled, k);
        json_object_set_new (a->pulled, c->key, json_true ());
        unhold (a, c);
        if (tv_bool (reply->body, "pulled", false)) {
            snprintf (msg, sizeof msg, "Successfully pulled image \"%s\"", c->image);
            pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Normal", "Pulled", msg);
        }
    } else if (reply->code == TR_UNAVAILABLE && reply->msg && strstr (reply->msg, "oci runtime is not available")) {
        /* the node cannot run this runtime at all (runc or conmon missing): the kubelet learns it
         * from RunPodSandbox (its sandbox comes before the pull), so it is reported as that: the
         * pod stays ContainerCreating, tried again when the in-flight mark expires */
        mark (a, key);
        snprintf (msg, sizeof msg, "Failed to create pod sandbox: %s", reply->msg);
        TR_WARN (A, "RunPodSandbox failed pod=%s/%s msg=\"%s\"", c->pod_ns, c->pod_name, reply->msg);
        pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "FailedCreatePodSandBox", msg);
    } else {
        int never = reply->code == TR_NOT_FOUND && reply->msg && strstr (reply->msg, "pull policy of Never");
        const char *m = reply->msg ? reply->msg : tr_code_name (reply->code);
        TR_WARN (A, "pull failed pod=%s/%s image=%s msg=\"%s\"", c->pod_ns, c->pod_name, c->image, m);
        hold (a, c, never ? "ErrImageNeverPull" : "ErrImagePull", m);
        json_object_del (a->pull_secrets, c->uid); /* read again for the next attempt, as the kubelet does */
        snprintf (msg, sizeof msg, "Failed to pull image \"%s\": %s", c->image, m);
        pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", never ? "ErrImageNeverPull" : "Failed", msg);
    }
    troupe_timer_within (ctx, T_KICK, KICK_REPLY_MS);
    free (c);
}

static void
on_sandbox (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    created_t *c = arg;
    if (reply->code == TR_OK) {
        json_object_set_new (a->sandboxes, c->uid,
                             json_pack ("{s:s,s:s}", "podIP", tv_str (reply->body, "podIP") ? tv_str (reply->body, "podIP") : "",
                                        "netns", tv_str (reply->body, "netns") ? tv_str (reply->body, "netns") : ""));
        char key[100];
        snprintf (key, sizeof key, "sb/%s", c->uid);
        json_object_del (a->inflight, key);
        troupe_timer_within (ctx, T_KICK, KICK_REPLY_MS);
    } else {
        char msg[800];
        snprintf (msg, sizeof msg, "Failed to create pod sandbox: %s", reply->msg ? reply->msg : tr_code_name (reply->code));
        TR_WARN (A, "RunPodSandbox failed pod=%s/%s msg=\"%s\"", c->pod_ns, c->pod_name, reply->msg ? reply->msg : "");
        pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "FailedCreatePodSandBox", msg);
        /* retried when the in-flight mark expires */
    }
    free (c);
}

/* imagePullSecrets: each Secret (kubernetes.io/dockerconfigjson, or the older .dockercfg) read
 * once per pod, their "auths" merged into one docker config object for the pulls of that pod; a
 * Secret missing or of another type is skipped with a warning event, as the kubelet does. */
typedef struct {
    char uid[64];
    char pod_ns[TR_NAME_MAX + 1];
    char pod_name[TR_NAME_MAX + 1];
    int left;
    json_t *auths;
} pull_secrets_t;

static void
on_pull_secret (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    pull_secrets_t *p = arg;
    const char *type = tv_str (reply->body, "type") ? tv_str (reply->body, "type") : "";
    const char *key = !strcmp (type, "kubernetes.io/dockercfg") ? ".dockercfg" : ".dockerconfigjson";
    /* (not tv_str: the key holds a dot, which tv paths split on) */
    const char *b64 = reply->code == TR_OK ? json_string_value (json_object_get (tv_get (reply->body, "data"), key)) : NULL;
    json_t *cfg = NULL;
    if (b64) {
        size_t n = strlen (b64), got = 0;
        unsigned char *raw = malloc (n + 1);
        if (!sodium_base642bin (raw, n, b64, n, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL))
            cfg = json_loadb ((const char *) raw, got, 0, NULL);
        free (raw);
    }
    json_t *entries = !strcmp (key, ".dockercfg") ? cfg : tv_get (cfg, "auths");
    if (json_is_object (entries))
        json_object_update (json_object_get (p->auths, "auths"), entries);
    else {
        char msg[600];
        snprintf (msg, sizeof msg, "Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.",
                  reply->code == TR_OK ? "not a kubernetes.io/dockerconfigjson Secret" : tr_code_name (reply->code));
        pod_event (ctx, a, p->pod_ns, p->pod_name, p->uid, "Warning", "FailedToRetrieveImagePullSecret", msg);
    }
    json_decref (cfg);
    if (--p->left == 0) {
        if (json_object_get (a->backoff, p->uid)) /* the pod is still ours */
            json_object_set (a->pull_secrets, p->uid, p->auths);
        char k[100];
        snprintf (k, sizeof k, "ps/%s", p->uid);
        json_object_del (a->inflight, k);
        troupe_timer_within (ctx, T_KICK, 20);
        json_decref (p->auths);
        free (p);
    }
}

/* 0 when the pod's pull secrets are known (or it has none); 1 while they are being read. */
static int
pull_secrets_ready (troupe_ctx_t *ctx, agent_t *a, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid");
    json_t *refs = tv_get (pod, "spec.imagePullSecrets");
    if (!json_array_size (refs) || json_object_get (a->pull_secrets, uid))
        return 0;
    char k[100];
    snprintf (k, sizeof k, "ps/%s", uid);
    if (inflight (a, k))
        return 1;
    mark (a, k);
    pull_secrets_t *p = calloc (1, sizeof *p);
    snprintf (p->uid, sizeof p->uid, "%s", uid);
    snprintf (p->pod_ns, sizeof p->pod_ns, "%s", tv_str (pod, "metadata.namespace"));
    snprintf (p->pod_name, sizeof p->pod_name, "%s", tv_str (pod, "metadata.name"));
    p->auths = json_pack ("{s:{}}", "auths");
    p->left = (int) json_array_size (refs);
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        strcpy (req.kind, "Secret");
        snprintf (req.ns, sizeof req.ns, "%s", p->pod_ns);
        snprintf (req.name, sizeof req.name, "%s", tv_str (r, "name") ? tv_str (r, "name") : "");
        troupe_request (ctx, &req, on_pull_secret, p);
        tr_env_clear (&req);
    }
    return 1;
}

/* The pod's security context merged into the container's (the container's fields win). */
static json_t *
security_context (const json_t *pod, const json_t *spec)
{
    json_t *sc = json_object ();
    static const char *podlevel[] = {"runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups", "fsGroup",
                                     "seccompProfile"};
    for (size_t i = 0; i < sizeof podlevel / sizeof podlevel[0]; i++) {
        json_t *v = tv_get (pod, "spec.securityContext");
        if (json_object_get (v, podlevel[i]))
            json_object_set (sc, podlevel[i], json_object_get (v, podlevel[i]));
    }
    json_t *c = tv_get (spec, "securityContext");
    if (json_is_object (c))
        json_object_update (sc, c);
    return sc;
}

/* ---- volumes and environment from ConfigMaps, Secrets and the pod ------------------------------ */

static void
obj_got (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    char *key = arg, mk[700];
    snprintf (mk, sizeof mk, "get/%s", key);
    json_object_del (a->inflight, mk);
    json_object_set_new (a->obj_at, key, json_integer (troupe_mono_ms ()));
    json_t *now = NULL;
    if (reply->code == TR_OK && json_is_object (reply->body))
        now = json_incref (reply->body);
    else if (reply->code == TR_NOT_FOUND)
        now = json_null ();
    else
        TR_WARN (A, "cannot read %s code=%s msg=\"%s\"", key, tr_code_name (reply->code), reply->msg ? reply->msg : "");
    if (now) {
        /* the resourceVersion alone moving changes nothing the pod sees */
        json_t *old = json_object_get (a->objs, key);
        int changed = !old || !json_equal (tv_get (old, "data"), tv_get (now, "data")) ||
                      !json_equal (tv_get (old, "binaryData"), tv_get (now, "binaryData")) || json_is_null (old) != json_is_null (now);
        json_object_set_new (a->objs, key, now);
        if (changed)
            troupe_timer_within (ctx, T_KICK, 20);
    }
    free (key);
}

static void
collect_refs (void *arg, const json_t *pod)
{
    if (!tv_get (pod, "metadata.deletionTimestamp")) {
        podenv_refs (pod, arg);
        volumes_refs (pod, arg);
    }
}

/* Reads the ConfigMaps and Secrets the node's pods reference (a GET each: the node may not list or
 * watch them) when the last read is older than OBJ_REFRESH_MS; forgets those no pod references. */
static void
objs_refresh (troupe_ctx_t *ctx, agent_t *a)
{
    json_t *set = json_object ();
    troupe_informer_foreach (a->pods, collect_refs, set);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach (set, k, v) {
        char mk[700];
        snprintf (mk, sizeof mk, "get/%s", k);
        json_t *at = json_object_get (a->obj_at, k);
        if (inflight (a, mk) || (at && troupe_mono_ms () - json_integer_value (at) < OBJ_REFRESH_MS))
            continue;
        char kind[32] = "", ns[TR_NAME_MAX + 1] = "", name[TR_NAME_MAX + 1] = "";
        if (sscanf (k, "%31[^/]/%253[^/]/%253s", kind, ns, name) != 3)
            continue;
        mark (a, mk);
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        snprintf (req.kind, sizeof req.kind, "%s", kind);
        snprintf (req.ns, sizeof req.ns, "%s", ns);
        snprintf (req.name, sizeof req.name, "%s", name);
        troupe_request (ctx, &req, obj_got, strdup (k));
        tr_env_clear (&req);
    }
    json_object_foreach_safe (a->objs, tmp, k, v) if (!json_object_get (set, k)) {
        json_object_del (a->obj_at, k); /* first: deleting it from objs frees k (ASan, e2e volumes) */
        json_object_del (a->objs, k);
    }
    /* read times of objects whose read failed (never in objs) and that nobody references now */
    json_object_foreach_safe (a->obj_at, tmp, k, v) if (!json_object_get (set, k)) json_object_del (a->obj_at, k);
    json_decref (set);
}

static void
src_of (agent_t *a, const json_t *pod, podenv_src_t *src)
{
    nodestatus_res_t cap, alloc;
    nodestatus_capacity (&a->meas, &a->ncfg, &cap);
    nodestatus_allocatable (&cap, &a->ncfg, &alloc);
    memset (src, 0, sizeof *src);
    src->objs = a->objs;
    src->pod_ip = tv_str (json_object_get (a->sandboxes, tv_str (pod, "metadata.uid")), "podIP");
    src->host_ip = a->host_ip;
    src->alloc_cpu_milli = alloc.cpu_milli;
    src->alloc_mem_bytes = alloc.memory;
}

/* The pod's volumes planned and made on the host (again when the plan changed: a ConfigMap or
 * Secret updated, labels changed). *plan: borrowed from a->vol_applied. PODENV_OK, _PENDING or
 * _ERROR with err. */
static int
volumes_ensure (agent_t *a, const json_t *pod, const json_t **plan, char *err, size_t errlen)
{
    podenv_src_t src;
    src_of (a, pod, &src);
    char pods_dir[1100];
    snprintf (pods_dir, sizeof pods_dir, "%s/pods", a->data);
    json_t *p;
    int rc = volumes_plan (pod, &src, pods_dir, &p, err, errlen);
    if (rc)
        return rc;
    const char *uid = tv_str (pod, "metadata.uid");
    json_t *last = json_object_get (a->vol_applied, uid);
    if (!last || !json_equal (last, p)) {
        if (volumes_setup (p, err, errlen)) {
            json_decref (p);
            return PODENV_ERROR;
        }
        if (last)
            TR_INFO (A, "volumes updated pod=%s/%s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"));
        json_object_set_new (a->vol_applied, uid, p);
    } else
        json_decref (p);
    *plan = json_object_get (a->vol_applied, uid);
    return PODENV_OK;
}

/* The parts of a CreateContainer body that come from objects and volumes: env (valueFrom, envFrom),
 * command and args expanded, mounts. PODENV_OK, _PENDING (objects not read yet: asked for) or
 * _ERROR with err (CreateContainerConfigError). */
static int
container_config (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const json_t *spec, int oci, json_t *body, char *err,
                  size_t errlen)
{
    podenv_src_t src;
    src_of (a, pod, &src);
    json_t *warn = json_array (), *run = NULL;
    int rc = podenv_resolve (pod, spec, &src, &run, warn, err, errlen);
    size_t i;
    json_t *w;
    json_array_foreach (warn, i, w) pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"),
                                               tv_str (pod, "metadata.uid"), "Warning", "InvalidEnvironmentVariableNames",
                                               json_string_value (w));
    json_decref (warn);
    if (!rc && json_array_size (tv_get (spec, "volumeMounts"))) {
        const json_t *plan = NULL;
        if (!oci)
            rc = PODENV_ERROR, snprintf (err, errlen, "the process runtime does not mount volumes (volumeMounts need runtimeClassName oci)");
        else
            rc = volumes_ensure (a, pod, &plan, err, errlen);
        char subpaths[1200];
        snprintf (subpaths, sizeof subpaths, "%s/pods/%s/volume-subpaths", a->data, tv_str (pod, "metadata.uid"));
        json_t *mounts = rc ? NULL : volumes_mounts (spec, plan, tv_get (run, "env"), subpaths, err, errlen);
        if (!rc && !mounts)
            rc = PODENV_ERROR;
        if (mounts)
            json_object_set_new (body, "mounts", mounts);
    }
    if (!rc)
        json_object_update (body, run);
    json_decref (run);
    if (rc == PODENV_PENDING)
        objs_refresh (ctx, a);
    return rc;
}

/* For a pod whose volumes are set up: ConfigMap/Secret/downward API updates reach its files; an
 * on-disk emptyDir past its sizeLimit evicts the pod (measured every DU_EVERY_MS), as the
 * kubelet's eviction manager: event Evicted, backoff["evict"] for podsync (containers killed, phase
 * Failed, reason Evicted). */
static void
volumes_refresh (troupe_ctx_t *ctx, agent_t *a, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid");
    if (!uid || !json_object_get (a->vol_applied, uid) || tv_get (pod, "metadata.deletionTimestamp"))
        return;
    json_t *bo = json_object_get (a->backoff, uid);
    const char *phase = tv_str (pod, "status.phase");
    if ((bo && json_object_get (bo, "evict")) || (phase && (!strcmp (phase, "Failed") || !strcmp (phase, "Succeeded"))))
        return; /* terminal: nothing runs that reads or writes its volumes */
    const json_t *plan;
    char err[600];
    if (volumes_ensure (a, pod, &plan, err, sizeof err) == PODENV_ERROR) {
        TR_WARN (A, "volumes of pod=%s/%s not updated: %s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), err);
        return;
    }
    if (!a->du_now || !bo)
        return;
    const char *name;
    json_t *v;
    json_object_foreach ((json_t *) json_object_get (a->vol_applied, uid), name, v) {
        json_int_t limit = tv_int (v, "sizeLimit", 0);
        if (!limit)
            continue;
        int64_t used = volumes_usage (tv_str (v, "path"));
        if (used <= limit)
            continue;
        char lim[64], msg[500];
        const json_t *text = json_object_get (v, "sizeLimitText");
        if (json_is_string (text))
            snprintf (lim, sizeof lim, "%s", json_string_value (text));
        else
            snprintf (lim, sizeof lim, "%lld", (long long) limit);
        /* the kubelet's emptyDirMessageFmt, trailing space included */
        snprintf (msg, sizeof msg, "Usage of EmptyDir volume \"%s\" exceeds the limit \"%s\". ", name, lim);
        TR_WARN (A, "evicting pod=%s/%s: %s(%lld bytes used)", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"),
                 msg, (long long) used);
        pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), uid, "Warning", "Evicted", msg);
        json_object_set_new (bo, "evict", json_pack ("{s:s}", "message", msg));
        return;
    }
}

/* The volumes of a pod that is gone. */
static void
volumes_remove (agent_t *a, const char *uid)
{
    char dir[1200];
    snprintf (dir, sizeof dir, "%s/pods/%s", a->data, uid);
    logrotate_clean_pod (dir); /* nothing of the pod runs any more: its logs go too, as the kubelet's */
    if (volumes_teardown (dir))
        TR_WARN (A, "volumes of pod uid=%s not all removed", uid);
    json_object_del (a->vol_applied, uid);
}

/* Volume directories of pods that are gone (deleted while the agent was away) with no container
 * left in the runtime: removed. */
static void
volumes_orphans (agent_t *a, const json_t *live)
{
    char pods[1100];
    snprintf (pods, sizeof pods, "%s/pods", a->data);
    DIR *d = opendir (pods);
    if (!d)
        return;
    struct dirent *e;
    json_t *gone = json_array ();
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.' || json_object_get (live, e->d_name))
            continue;
        size_t i;
        json_t *r;
        int has = 0;
        json_array_foreach (a->runtime, i, r) has |= tv_str (r, "podUid") && !strcmp (tv_str (r, "podUid"), e->d_name);
        char vd[1400];
        struct stat st;
        snprintf (vd, sizeof vd, "%s/%s/volumes", pods, e->d_name);
        if (!has && !stat (vd, &st))
            json_array_append_new (gone, json_string (e->d_name));
    }
    closedir (d);
    size_t i;
    json_t *u;
    json_array_foreach (gone, i, u) {
        TR_INFO (A, "removing the volumes of a pod that is gone uid=%s", json_string_value (u));
        volumes_remove (a, json_string_value (u));
    }
    json_decref (gone);
}

static void
start_container (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const podsync_action_t *act)
{
    const char *uid = tv_str (pod, "metadata.uid");
    char key[256];
    snprintf (key, sizeof key, "%s/%s/%d", uid, act->container, act->attempt);
    if (inflight (a, key))
        return;
    if (act->id[0]) { /* created earlier, never started */
        mark (a, key);
        start_created (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), act->container, act->id);
        return;
    }
    const json_t *spec = spec_of (pod, act->container); /* an app or an init container */
    if (!spec)
        return;
    const char *rt = runtime_for (a, pod);
    int oci = !strcmp (rt, "oci");
    const char *image = tv_str (spec, "image") ? tv_str (spec, "image") : "";
    char sandbox[96], logpath[1400], logdir[1300];
    snprintf (sandbox, sizeof sandbox, "sb-%.64s", uid);
    snprintf (logdir, sizeof logdir, "%s/pods/%s", a->data, uid);
    if (oci) {
        /* 1. the image, per imagePullPolicy (the shim answers at once when it has it and may keep it) */
        char pk[300];
        snprintf (pk, sizeof pk, "pull/%s", key);
        if (!json_object_get (a->pulled, key)) {
            if (inflight (a, pk) || pull_secrets_ready (ctx, a, pod))
                return;
            mark (a, pk);
            json_t *body = json_pack ("{s:s,s:s}", "image", image, "runtimeNamespace", a->runtime_ns);
            if (tv_str (spec, "imagePullPolicy"))
                json_object_set_new (body, "pullPolicy", json_string (tv_str (spec, "imagePullPolicy")));
            json_t *auths = json_object_get (a->pull_secrets, uid);
            if (json_is_object (auths))
                json_object_set (body, "auths", auths);
            tr_env_t req;
            tr_env_init (&req);
            req.verb = TR_VERB_PULL_IMAGE;
            req.body = body;
            troupe_peer_request (a->shim, &req, 15 * 60 * 1000, on_pulled, created_new (pod, act->container, act->attempt, image));
            tr_env_clear (&req);
            return;
        }
        /* 2. the sandbox: network namespace, CNI, hosts and resolv.conf, pod cgroup */
        if (!json_object_get (a->sandboxes, uid)) {
            char sk[100];
            snprintf (sk, sizeof sk, "sb/%s", uid);
            if (inflight (a, sk))
                return;
            mark (a, sk);
            char cg[600];
            char parent[300];
            snprintf (parent, sizeof parent, "troupe-%s", a->node);
            podres_cgroup_parent (parent, pod, cg, sizeof cg);
            json_t *ports = json_array ();
            size_t k, m;
            json_t *ct, *p;
            json_array_foreach (tv_get (pod, "spec.containers"), k, ct) json_array_foreach (tv_get (ct, "ports"), m, p) if (tv_int (p, "hostPort", 0) > 0)
                json_array_append_new (ports, json_pack ("{s:I,s:I,s:s,s:s}", "hostPort", tv_int (p, "hostPort", 0), "containerPort",
                                                         tv_int (p, "containerPort", 0), "protocol",
                                                         tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP", "hostIP",
                                                         tv_str (p, "hostIP") ? tv_str (p, "hostIP") : ""));
            const char *hostname = tv_str (pod, "spec.hostname") ? tv_str (pod, "spec.hostname") : tv_str (pod, "metadata.name");
            json_t *body = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:o,s:s,s:s,s:s}", "podUid", uid, "name",
                                      tv_str (pod, "metadata.name"), "namespace", tv_str (pod, "metadata.namespace"),
                                      "logDirectory", logdir, "hostname", hostname, "hostNetwork",
                                      tv_bool (pod, "spec.hostNetwork", false), "hostIP", a->host_ip, "portMappings", ports,
                                      "cgroupParent", cg, "runtimeHandler", "oci", "runtimeNamespace", a->runtime_ns);
            if (tv_get (pod, "spec.dnsConfig"))
                json_object_set (body, "dnsConfig", tv_get (pod, "spec.dnsConfig"));
            if (tv_get (pod, "spec.hostAliases"))
                json_object_set (body, "hostAliases", tv_get (pod, "spec.hostAliases"));
            tr_env_t req;
            tr_env_init (&req);
            req.verb = TR_VERB_RUN_POD_SANDBOX;
            req.body = body;
            troupe_peer_request (a->shim, &req, 120000, on_sandbox, created_new (pod, act->container, act->attempt, image));
            tr_env_clear (&req);
            return;
        }
    } else
        shim_call (ctx, a, TR_VERB_RUN_POD_SANDBOX,
                   json_pack ("{s:s,s:s,s:s,s:s,s:s}", "podUid", uid, "name", tv_str (pod, "metadata.name"), "namespace",
                              tv_str (pod, "metadata.namespace"), "logDirectory", logdir, "runtimeHandler", "process"),
                   log_failure, "RunPodSandbox");
    /* 3. the container */
    snprintf (logpath, sizeof logpath, "%s/%s/%d.log", logdir, act->container, act->attempt);
    json_t *body = json_pack ("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "sandboxId", sandbox, "podUid", uid, "podName",
                              tv_str (pod, "metadata.name"), "name", act->container, "attempt", act->attempt, "image", image,
                              "logPath", logpath, "runtimeHandler", rt, "runtimeNamespace", a->runtime_ns);
    /* command, args, env ($(VAR) expanded, valueFrom and envFrom resolved), mounts of the volumes */
    char cerr[700];
    int crc = container_config (ctx, a, pod, spec, oci, body, cerr, sizeof cerr);
    if (crc) {
        json_decref (body);
        if (crc == PODENV_ERROR) {
            created_t *c = created_new (pod, act->container, act->attempt, image);
            char msg[800];
            snprintf (msg, sizeof msg, "Error: %s", cerr);
            TR_WARN (A, "container config pod=%s/%s container=%s: %s", c->pod_ns, c->pod_name, c->name, cerr);
            hold (a, c, "CreateContainerConfigError", cerr);
            pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "Failed", msg);
            free (c);
            troupe_timer_within (ctx, T_KICK, 20);
        }
        return; /* pending: the objects were asked for, their answer kicks a sync */
    }
    mark (a, key);
    if (json_object_get (spec, "workingDir"))
        json_object_set (body, "workingDir", json_object_get (spec, "workingDir"));
    if (oci) {
        json_object_set_new (body, "securityContext", security_context (pod, spec));
        char err[300];
        json_t *lin = podres_container_linux (spec, pod, a->meas.mem_total, err, sizeof err);
        if (lin)
            json_object_set_new (body, "linux", lin);
        json_object_set_new (body, "tty", json_boolean (tv_bool (spec, "tty", false)));
        json_object_set_new (body, "stdin", json_boolean (tv_bool (spec, "stdin", false)));
        lifecycle_create_fields (spec, body);
    }
    shim_call (ctx, a, TR_VERB_CREATE_CONTAINER, body, on_created, created_new (pod, act->container, act->attempt, image));
    TR_INFO (A, "starting container pod=%s/%s container=%s attempt=%d runtime=%s", tv_str (pod, "metadata.namespace"),
             tv_str (pod, "metadata.name"), act->container, act->attempt, rt);
}

static json_t *
runtime_of (agent_t *a, const char *uid)
{
    json_t *out = json_array ();
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (tv_str (r, "podUid") && !strcmp (tv_str (r, "podUid"), uid))
        json_array_append (out, r);
    return out;
}

static void
status_written (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    agent_t *a = self;
    char *uid = arg;
    if (reply->code != TR_OK) {
        json_object_del (a->sent_status, uid); /* write again on the next round */
        if (reply->code != TR_CONFLICT && reply->code != TR_NOT_FOUND)
            TR_WARN (A, "status update failed pod=%s code=%s msg=\"%s\"", uid, tr_code_name (reply->code),
                     reply->msg ? reply->msg : "");
    }
    free (uid);
}

static void
sync_pod (void *arg, const json_t *pod)
{
    troupe_ctx_t *ctx = ((void **) arg)[0];
    agent_t *a = ((void **) arg)[1];
    const char *uid = tv_str (pod, "metadata.uid");
    if (!uid)
        return;
    json_t *bo = json_object_get (a->backoff, uid);
    if (!bo) {
        json_object_set_new (a->backoff, uid, json_object ());
        bo = json_object_get (a->backoff, uid);
    }
    json_t *rt = runtime_of (a, uid);
    probes_sync (ctx, a, pod, rt, bo);
    podsync_result_t r;
    podsync_compute (pod, rt, bo, troupe_now_ms (), a->host_ip, runtime_for (a, pod), &r);
    json_decref (rt);
    for (int i = 0; i < r.n; i++) {
        podsync_action_t *act = &r.actions[i];
        char key[128];
        if (act->kind == PODSYNC_START)
            start_container (ctx, a, pod, act);
        else if (act->kind == PODSYNC_STOP) {
            snprintf (key, sizeof key, "stop/%s", act->id);
            if (!inflight (a, key)) {
                mark (a, key);
                stop_container_hooked (ctx, a, pod, act->container, act->id, act->timeout_s);
                char msg[200];
                snprintf (msg, sizeof msg, "Stopping container %s", act->container);
                pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), uid, "Normal",
                           "Killing", msg);
            }
        } else if (act->kind == PODSYNC_REMOVE) {
            snprintf (key, sizeof key, "rm/%s", act->id);
            if (!inflight (a, key)) {
                mark (a, key);
                shim_call (ctx, a, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", act->id), on_removed,
                           log_path_of (a, act->id));
            }
        }
    }
    const json_t *cur = tv_get (pod, "status");
    json_t *last = json_object_get (a->sent_status, uid);
    if (!json_equal (cur, r.status) && !(last && json_equal (last, r.status))) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_UPDATE_STATUS;
        strcpy (req.kind, "Pod");
        snprintf (req.ns, sizeof req.ns, "%s", tv_str (pod, "metadata.namespace"));
        snprintf (req.name, sizeof req.name, "%s", tv_str (pod, "metadata.name"));
        const char *rvs = tv_str (pod, "metadata.resourceVersion");
        req.rv = rvs ? strtoull (rvs, NULL, 10) : 0;
        req.body = json_pack ("{s:O}", "status", r.status);
        json_object_set (a->sent_status, uid, r.status);
        troupe_request (ctx, &req, status_written, strdup (uid));
        tr_env_clear (&req);
    }
    if (r.removable) {
        char key[128];
        snprintf (key, sizeof key, "delete/%s", uid);
        if (!inflight (a, key)) {
            mark (a, key);
            char sb[96];
            snprintf (sb, sizeof sb, "sb-%.64s", uid);
            shim_call (ctx, a, TR_VERB_REMOVE_POD_SANDBOX, json_pack ("{s:s}", "sandboxId", sb), log_failure, "RemovePodSandbox");
            json_object_del (a->sandboxes, uid);
            tr_env_t req;
            tr_env_init (&req);
            req.verb = TR_VERB_DELETE;
            strcpy (req.kind, "Pod");
            snprintf (req.ns, sizeof req.ns, "%s", tv_str (pod, "metadata.namespace"));
            snprintf (req.name, sizeof req.name, "%s", tv_str (pod, "metadata.name"));
            req.opts = json_pack ("{s:i}", "gracePeriodSeconds", 0);
            troupe_request (ctx, &req, log_failure, "final pod deletion");
            tr_env_clear (&req);
            TR_INFO (A, "pod terminated pod=%s/%s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"));
            volumes_remove (a, uid); /* after the sandbox: nothing of the pod runs any more */
        }
    }
    volumes_refresh (ctx, a, pod);
    podsync_result_clear (&r);
}

/* Containers of pods that are gone (deleted while we were away, or force-deleted) are
 * stopped and removed. */
static void
collect_uid (void *arg, const json_t *pod)
{
    json_t *set = arg;
    const char *uid = tv_str (pod, "metadata.uid");
    if (uid)
        json_object_set_new (set, uid, json_true ());
}

static void
stop_orphans (troupe_ctx_t *ctx, agent_t *a)
{
    json_t *live = json_object ();
    troupe_informer_foreach (a->pods, collect_uid, live);
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) {
        const char *uid = tv_str (r, "podUid"), *id = tv_str (r, "containerId");
        if (!uid || !id || json_object_get (live, uid))
            continue;
        char key[128];
        if (!strcmp (tv_str (r, "state") ? tv_str (r, "state") : "", CRI_STATE_RUNNING)) {
            snprintf (key, sizeof key, "stop/%s", id);
            if (!inflight (a, key)) {
                mark (a, key);
                TR_INFO (A, "stopping container of a deleted pod uid=%s container=%s", uid, tv_str (r, "name"));
                shim_call (ctx, a, TR_VERB_STOP_CONTAINER, json_pack ("{s:s,s:i}", "containerId", id, "timeout", 2),
                           log_failure, "StopContainer");
            }
        } else {
            snprintf (key, sizeof key, "rm/%s", id);
            if (!inflight (a, key)) {
                mark (a, key);
                shim_call (ctx, a, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", id), on_removed,
                           log_path_of (a, id));
            }
        }
    }
    /* sandboxes of pods that are gone (deleted while the agent was away, or force-deleted), once
     * their containers are: their network, netns and cgroup go */
    json_array_foreach (a->sandbox_list, i, r) {
        const char *uid = tv_str (r, "podUid"), *sb = tv_str (r, "sandboxId");
        if (!uid || !sb || json_object_get (live, uid))
            continue;
        int busy = 0;
        size_t j;
        json_t *c;
        json_array_foreach (a->runtime, j, c) busy |= tv_str (c, "podUid") && !strcmp (tv_str (c, "podUid"), uid);
        char key[128];
        snprintf (key, sizeof key, "rmsb/%s", sb);
        if (busy || inflight (a, key))
            continue;
        mark (a, key);
        TR_INFO (A, "removing the sandbox of a deleted pod uid=%s", uid);
        shim_call (ctx, a, TR_VERB_REMOVE_POD_SANDBOX, json_pack ("{s:s}", "sandboxId", sb), log_failure, "RemovePodSandbox");
    }
    json_decref (live);
}

static void decide (troupe_ctx_t *ctx, agent_t *a);

static void
on_list (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) arg;
    agent_t *a = self;
    a->listing = 0;
    int was_ok = a->meas.runtime_ok, first = !a->runtime_heard;
    a->runtime_heard = 1;
    a->meas.runtime_ok = reply->code == TR_OK;
    if (reply->code != TR_OK)
        snprintf (a->meas.runtime_msg, sizeof a->meas.runtime_msg, "runtime shim %.200s: ListContainers failed: %s%s%.200s",
                  a->shim_ep, tr_code_name (reply->code), reply->msg ? ": " : "", reply->msg ? reply->msg : "");
    if (was_ok != a->meas.runtime_ok || first) {
        TR_INFO (A, "runtime %s shim=%s", a->meas.runtime_ok ? "ready" : "not ready", a->shim_ep);
        if (a->registered)
            check_node (ctx, a); /* Ready changes now, not at the next lease renewal */
    }
    if (reply->code != TR_OK) {
        TR_WARN (A, "runtime shim not answering code=%s", tr_code_name (reply->code));
        return;
    }
    json_decref (a->sandbox_list);
    a->sandbox_list = json_incref (tv_get (reply->body, "sandboxes"));
    json_decref (a->runtime);
    a->runtime = json_incref (tv_get (reply->body, "items"));
    if (!a->runtime)
        a->runtime = json_array ();
    decide (ctx, a);
}

/* The kubelet's decisions for every pod from the runtime's state as last listed. */
static void
decide (troupe_ctx_t *ctx, agent_t *a)
{
    if (!troupe_informer_synced (a->pods) || !a->runtimes_known)
        return; /* no decisions before we know which pods are ours and which runtimes serve them */
    a->du_now = troupe_mono_ms () >= a->du_next;
    if (a->du_now)
        a->du_next = troupe_mono_ms () + DU_EVERY_MS;
    objs_refresh (ctx, a);
    void *args[2] = {ctx, a};
    troupe_informer_foreach (a->pods, sync_pod, args);
    probes_gc (a);
    stop_orphans (ctx, a);
    if (a->du_now) {
        json_t *live = json_object ();
        troupe_informer_foreach (a->pods, collect_uid, live);
        volumes_orphans (a, live);
        json_decref (live);
    }
    /* forget in-flight marks that expired */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (a->inflight, tmp, k, v) if (troupe_mono_ms () - json_integer_value (v) >= INFLIGHT_MS)
        json_object_del (a->inflight, k);
}

static void
on_ping (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) arg;
    agent_t *a = self;
    if (reply->code != TR_OK)
        return;
    size_t i;
    json_t *r;
    a->has_oci = 0;
    json_array_foreach (tv_get (reply->body, "runtimes"), i, r) a->has_oci |= json_is_string (r) && !strcmp (json_string_value (r), "oci");
    snprintf (a->oci_unavailable, sizeof a->oci_unavailable, "%s",
              tv_str (reply->body, "ociUnavailable") ? tv_str (reply->body, "ociUnavailable") : "");
    if (!a->default_runtime[0] || !a->runtimes_known)
        if (!a->default_runtime[0])
            snprintf (a->default_runtime, sizeof a->default_runtime, "%s", a->has_oci ? "oci" : "process");
    if (!a->runtimes_known)
        TR_INFO (A, "runtimes oci=%s default=%s%s%s", a->has_oci ? "yes" : "no", a->default_runtime,
                 a->has_oci ? "" : " why=", a->oci_unavailable);
    a->runtimes_known = 1;
    troupe_timer_within (ctx, T_KICK, 20);
}

static void
sync_all (troupe_ctx_t *ctx, agent_t *a)
{
    if (!a->runtimes_known) {
        shim_call (ctx, a, TR_VERB_PING, json_object (), on_ping, NULL);
    }
    if (a->listing)
        return;
    /* the runtime is listed at most every RELIST_MIN_MS (as the kubelet's PLEG relists on a
     * period): a burst of pod events is decided from the last listing at once, and the listing
     * that follows within RELIST_MIN_MS brings what the runtime did meanwhile (a stream of 200
     * pod starts had the shim serialize its whole table 50 times a second: e2e starvation) */
    int64_t now = troupe_mono_ms ();
    if (a->runtime_heard && a->meas.runtime_ok && now - a->listed_at < RELIST_MIN_MS) {
        decide (ctx, a);
        troupe_timer_within (ctx, T_KICK, (int) (RELIST_MIN_MS - (now - a->listed_at)));
        return;
    }
    a->listed_at = now;
    a->listing = 1;
    shim_call (ctx, a, TR_VERB_LIST_CONTAINERS, json_object (), on_list, NULL);
}

static void
kick (void *self, troupe_ctx_t *ctx, const json_t *obj)
{
    (void) obj;
    (void) self;
    troupe_timer_within (ctx, T_KICK, 20); /* coalesce bursts of events into one sync, within 20 ms */
}

static int
same (const json_t *a, const json_t *b)
{
    return a == b || (a && b && json_equal (a, b));
}

/* A pod update that changes what the kubelet does — its spec, its deletion — syncs within 20 ms;
 * one that touches only metadata or status (a label, an annotation, the status we wrote) waits
 * for the periodic sync (1 s), as the kubelet's pod workers do not act on those either: a stream
 * of annotation writes to the node's pods no longer has the agent re-sync every pod 50 times a
 * second (e2e starvation). */
static void
kick_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *obj)
{
    if (old && same (tv_get (old, "spec"), tv_get (obj, "spec")) &&
        same (tv_get (old, "metadata.deletionTimestamp"), tv_get (obj, "metadata.deletionTimestamp")) &&
        same (tv_get (old, "metadata.deletionGracePeriodSeconds"), tv_get (obj, "metadata.deletionGracePeriodSeconds")))
        return;
    kick (self, ctx, obj);
}

static void
forget_pod (void *self, troupe_ctx_t *ctx, const json_t *obj)
{
    agent_t *a = self;
    const char *uid = tv_str (obj, "metadata.uid");
    if (uid) {
        json_object_del (a->backoff, uid);
        json_object_del (a->sent_status, uid);
        json_object_del (a->sandboxes, uid);
        json_object_del (a->pull_secrets, uid);
        const char *k;
        json_t *v;
        void *tmp;
        size_t n = strlen (uid);
        json_object_foreach_safe (a->pulled, tmp, k, v) if (!strncmp (k, uid, n) && k[n] == '/') json_object_del (a->pulled, k);
    }
    kick (self, ctx, obj);
}

/* ---- exec ------------------------------------------------------------------------------------ */

static void
on_exec (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    tr_env_t req;
    tr_env_init (&req);
    req.id = *(uint64_t *) arg;
    troupe_reply (ctx, &req, reply->code, reply->body, reply->msg);
    free (arg);
}

/* exec: {command[], stdin?, timeoutSeconds?} on the pod's running container (opts.container or
 * the first); the runtime runs it (runc exec) and the answer {stdout, stderr, exitCode} goes back
 * to the client through the broker. */
static int
h_exec (agent_t *a, troupe_ctx_t *ctx, const tr_env_t *msg, const json_t *pod, const char *container)
{
    const char *uid = tv_str (pod, "metadata.uid");
    const json_t *best = NULL;
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (tv_str (r, "podUid") && !strcmp (tv_str (r, "podUid"), uid) && tv_str (r, "name") &&
                                              !strcmp (tv_str (r, "name"), container) &&
                                              !strcmp (tv_str (r, "state") ? tv_str (r, "state") : "", CRI_STATE_RUNNING)) best = r;
    char m[700];
    if (!best) {
        snprintf (m, sizeof m, "container %s is not running in pod %s", container, msg->name);
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, m);
    }
    json_t *cmd = tv_get (msg->body, "command");
    if (!json_array_size (cmd))
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, "command: Required value");
    const char *op = tv_str (msg->opts, "op");
    if (op && !strcmp (op, "start")) {
        /* a streamed session: ExecStart → {session}; the client then sends ExecIOs (h_exec_io) */
        json_t *b = json_pack ("{s:s,s:O,s:b,s:b}", "containerId", tv_str (best, "containerId"), "cmd", cmd, "tty",
                               tv_bool (msg->body, "tty", false), "stdin", tv_bool (msg->body, "stdin", false));
        if (tv_int (msg->body, "rows", 0) > 0 && tv_int (msg->body, "cols", 0) > 0) {
            json_object_set (b, "rows", tv_get (msg->body, "rows"));
            json_object_set (b, "cols", tv_get (msg->body, "cols"));
        }
        tr_env_t rq;
        tr_env_init (&rq);
        rq.verb = TR_VERB_EXEC_START;
        rq.body = b;
        uint64_t *rid = malloc (sizeof *rid);
        *rid = msg->id;
        troupe_peer_request (a->shim, &rq, 15000, on_exec, rid);
        tr_env_clear (&rq);
        return 0;
    }
    json_int_t tmo = tv_int (msg->body, "timeoutSeconds", 15);
    if (tmo <= 0 || tmo > 86400)
        tmo = tmo <= 0 ? 60 : 86400; /* the shim's default and bound */
    json_t *body = json_pack ("{s:s,s:O,s:I}", "containerId", tv_str (best, "containerId"), "cmd", cmd, "timeout", tmo);
    if (tv_str (msg->body, "stdin"))
        json_object_set (body, "stdin", tv_get (msg->body, "stdin"));
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_EXEC_SYNC;
    req.body = body;
    uint64_t *id = malloc (sizeof *id);
    *id = msg->id;
    troupe_peer_request (a->shim, &req, (int) tmo * 1000 + 5000, on_exec, id); /* the command's time, then its answer */
    tr_env_clear (&req);
    return 0;
}

/* exec, streamed: ExecIO {session, stdin?, eof?, resize?} is forwarded to the shim with the pod's
 * uid (the shim answers only for sessions in that pod's containers); the shim holds it until
 * there is output, the command ended, or ~250 ms passed. */
static int
h_exec_io (agent_t *a, const tr_env_t *msg, const json_t *pod)
{
    json_t *b = json_pack ("{s:s,s:s}", "session", tv_str (msg->body, "session") ? tv_str (msg->body, "session") : "",
                           "podUid", tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : "");
    const char *keys[] = {"stdin", "eof", "resize"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get (msg->body, keys[i]))
            json_object_set (b, keys[i], json_object_get (msg->body, keys[i]));
    tr_env_t rq;
    tr_env_init (&rq);
    rq.verb = TR_VERB_EXEC_IO;
    rq.body = b;
    uint64_t *rid = malloc (sizeof *rid);
    *rid = msg->id;
    troupe_peer_request (a->shim, &rq, 15000, on_exec, rid);
    tr_env_clear (&rq);
    return 0;
}

/* ---- log rotation (the kubelet's container log manager) -------------------------------------- */

struct reopen {
    char *log, *rotated, *id;
};

static void
reopen_free (struct reopen *r)
{
    free (r->log);
    free (r->rotated);
    free (r->id);
    free (r);
}

/* ReopenContainerLog answered: on a failure that says the runtime did not reopen (the container
 * ended, the runtime refused) the rotated file is renamed back, as the kubelet does, so the next
 * check tries again and nothing is lost. On a timeout it stays: the runtime may still reopen, and
 * would then replace a renamed-back file; until a reopen succeeds the container writes to the
 * rotated file and every check asks again (rotate_logs: a running container with no live log). */
static void
on_reopened (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    agent_t *a = self;
    struct reopen *r = arg;
    char key[200];
    snprintf (key, sizeof key, "logs/%s", r->id);
    json_object_del (a->inflight, key);
    if (reply->code == TR_OK)
        TR_DEBUG (A, "container log reopened id=%.12s rotated to %s", r->id, r->rotated ? r->rotated : "(before)");
    else {
        struct stat st;
        TR_WARN (A, "ReopenContainerLog failed id=%.12s code=%s msg=\"%s\"", r->id, tr_code_name (reply->code),
                 reply->msg ? reply->msg : "");
        if (r->rotated && reply->code != TR_TIMEOUT && reply->code != TR_UNAVAILABLE && stat (r->log, &st) &&
            rename (r->rotated, r->log))
            TR_WARN (A, "cannot rename %s back to %s: %s", r->rotated, r->log, strerror (errno));
    }
    reopen_free (r);
}

/* Every running container whose CRI log (the oci runtime's: the process runtime's processes
 * write their file directly and nothing can reopen it) reached containerLogMaxSize: old rotated
 * files removed or compressed, the live one renamed, the runtime asked to reopen it. The file
 * work is small (at most one compression per container per check) and done here. */
static void
rotate_logs (troupe_ctx_t *ctx, agent_t *a)
{
    size_t i;
    json_t *r;
    time_t now = time (NULL);
    json_array_foreach (a->runtime, i, r) {
        const char *id = tv_str (r, "containerId"), *log = tv_str (r, "logPath"), *fmt = tv_str (r, "logFormat");
        if (!id || !log || !fmt || strcmp (fmt, "cri") || strcmp (tv_str (r, "state") ? tv_str (r, "state") : "", CRI_STATE_RUNNING))
            continue;
        char key[200], err[600];
        snprintf (key, sizeof key, "logs/%s", id);
        if (inflight (a, key))
            continue;
        struct stat st;
        if (stat (log, &st) && errno == ENOENT) { /* a reopen that timed out: asked again */
            struct reopen *ro = calloc (1, sizeof *ro);
            ro->log = strdup (log);
            ro->id = strdup (id);
            mark (a, key);
            shim_call (ctx, a, TR_VERB_REOPEN_CONTAINER_LOG, json_pack ("{s:s}", "containerId", id), on_reopened, ro);
            continue;
        }
        char *rotated = NULL;
        int rc = logrotate_prepare (log, &a->logs, now, &rotated, err, sizeof err);
        if (rc < 0)
            TR_WARN (A, "container log rotation id=%.12s: %s", id, err);
        if (rc != 1)
            continue;
        if (rename (log, rotated)) {
            TR_WARN (A, "cannot rename %s to %s: %s", log, rotated, strerror (errno));
            free (rotated);
            continue;
        }
        struct reopen *ro = calloc (1, sizeof *ro);
        ro->log = strdup (log);
        ro->rotated = rotated;
        ro->id = strdup (id);
        mark (a, key);
        shim_call (ctx, a, TR_VERB_REOPEN_CONTAINER_LOG, json_pack ("{s:s}", "containerId", id), on_reopened, ro);
    }
}

/* RemoveContainer answered: the container's log and rotated logs go with it (the kubelet's Clean). */
static void
on_removed (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    char *log = arg;
    if (reply->code != TR_OK && reply->code != TR_NOT_FOUND)
        TR_WARN (A, "RemoveContainer failed code=%s msg=\"%s\"", tr_code_name (reply->code), reply->msg ? reply->msg : "");
    else if (log)
        logrotate_clean (log); /* removed, or already gone */
    free (log);
}

/* ---- logs ----------------------------------------------------------------------------------- */

static int
agent_message (void *self, troupe_ctx_t *ctx, const tr_env_t *msg)
{
    agent_t *a = self;
    if (msg->verb != TR_VERB_LOGS && msg->verb != TR_VERB_EXEC)
        return troupe_reply (ctx, msg, TR_METHOD_NOT_ALLOWED, NULL, "the agent answers logs and exec only");
    const json_t *pod = troupe_informer_get (a->pods, msg->ns, msg->name);
    if (!pod)
        return troupe_reply (ctx, msg, TR_NOT_FOUND, NULL, "pod not on this node");
    if (msg->verb == TR_VERB_EXEC && tv_str (msg->opts, "op") && !strcmp (tv_str (msg->opts, "op"), "io"))
        return h_exec_io (a, msg, pod);
    const char *container = tv_str (msg->opts, "container");
    if (!container && msg->verb == TR_VERB_EXEC)
        container = tv_str (msg->body, "container");
    if (!container)
        container = tv_str (json_array_get (tv_get (pod, "spec.containers"), 0), "name");
    if (container && msg->verb == TR_VERB_EXEC)
        return h_exec (a, ctx, msg, pod, container);
    if (!container)
        container = tv_str (json_array_get (tv_get (pod, "spec.containers"), 0), "name");
    if (!container)
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, "a container name is required");
    const char *uid = tv_str (pod, "metadata.uid");
    int previous = tv_bool (msg->opts, "previous", false);
    /* the latest attempt (or the one before) that the runtime knows for that container */
    const json_t *best = NULL, *second = NULL;
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) {
        if (!tv_str (r, "podUid") || strcmp (tv_str (r, "podUid"), uid) || !tv_str (r, "name") ||
            strcmp (tv_str (r, "name"), container))
            continue;
        if (!best || tv_int (r, "attempt", 0) > tv_int (best, "attempt", 0)) {
            second = best;
            best = r;
        } else if (!second || tv_int (r, "attempt", 0) > tv_int (second, "attempt", 0))
            second = r;
    }
    const json_t *rec = previous ? second : best;
    if (!rec) {
        char m[700];
        snprintf (m, sizeof m, "container \"%s\" in pod \"%s\" has no %slogs yet", container, msg->name,
                  previous ? "previous " : "");
        return troupe_reply (ctx, msg, TR_BAD_REQUEST, NULL, m);
    }
    const char *path = tv_str (rec, "logPath");
    int fd = path ? open (path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return troupe_reply (ctx, msg, TR_OK, json_pack ("{s:s,s:i}", "data", "", "offset", 0), NULL);
    struct stat st;
    fstat (fd, &st);
    json_int_t limit = tv_int (msg->opts, "limitBytes", 1 << 20);
    json_int_t off = tv_int (msg->opts, "offset", -1);
    /* a follower's offset is in the file it read (opts.file, an inode): once the log rotated, the
     * rest of that file (the newest rotated one, kept uncompressed for this) and then the new
     * live file from its start, as the kubelet's follow */
    json_int_t was = tv_int (msg->opts, "file", -1);
    if (off >= 0 && was >= 0 && (json_int_t) st.st_ino != was) {
        int rfd = logrotate_open_rotated (path, (unsigned long long) was);
        struct stat rst;
        if (rfd >= 0 && !fstat (rfd, &rst) && off < rst.st_size) {
            close (fd);
            fd = rfd;
            st = rst;
        } else {
            if (rfd >= 0)
                close (rfd);
            off = 0;
        }
    }
    json_int_t tail = tv_int (msg->opts, "tailLines", -1);
    if (off < 0 && tail >= 0) {
        /* walk back tail newlines from the end (bounded by limit) */
        json_int_t from = st.st_size > limit ? st.st_size - limit : 0;
        size_t n = (size_t) (st.st_size - from);
        char *buf = malloc (n + 1);
        ssize_t got = pread (fd, buf, n, from);
        off = from;
        if (got > 0) {
            json_int_t lines = 0;
            for (ssize_t p = got - 1; p >= 0; p--)
                if (buf[p] == '\n' && p != got - 1 && ++lines == tail) {
                    off = from + p + 1;
                    break;
                }
            if (tail == 0)
                off = st.st_size;
        }
        free (buf);
    }
    if (off < 0)
        off = 0;
    if (off > st.st_size)
        off = st.st_size;
    size_t n = (size_t) (st.st_size - off < limit ? st.st_size - off : limit);
    char *buf = malloc (n + 1);
    ssize_t got = n ? pread (fd, buf, n, off) : 0;
    close (fd);
    if (got < 0)
        got = 0;
    json_t *data;
    if (!strcmp (tv_str (rec, "logFormat") ? tv_str (rec, "logFormat") : "", "cri")) {
        size_t used, tl;
        char *t = crilog_text (buf, (size_t) got, tv_bool (msg->opts, "timestamps", false), &used, &tl);
        data = json_stringn_nocheck (t, tl);
        free (t);
        got = (ssize_t) used;
    } else
        data = json_stringn_nocheck (buf, (size_t) got);
    json_t *body = json_pack ("{s:o,s:I,s:s,s:I}", "data", data, "offset", off + (json_int_t) got, "container", container,
                              "file", (json_int_t) st.st_ino);
    free (buf);
    int rc = troupe_reply (ctx, msg, TR_OK, body, NULL);
    json_decref (body);
    return rc;
}

/* ---- actor ---------------------------------------------------------------------------------- */

static void *
agent_create (troupe_ctx_t *ctx, const json_t *config)
{
    agent_t *a = calloc (1, sizeof *a);
    const char *node = tv_str (config, "nodeName");
    snprintf (a->node, sizeof a->node, "%s", node ? node : troupe_node_name (ctx));
    snprintf (a->data, sizeof a->data, "%s", tv_str (config, "dataDir") ? tv_str (config, "dataDir") : troupe_data_dir (ctx));
    const char *shim = tv_str (config, "shimEndpoint");
    if (!shim) {
        TR_ERROR (A, "config shimEndpoint is required");
        free (a);
        return NULL;
    }
    snprintf (a->shim_ep, sizeof a->shim_ep, "%s", shim);
    nodestatus_config_default (&a->ncfg);
    char err[400];
    json_int_t max_pods = tv_int (config, "maxPods", 110);
    if (max_pods < 0 || max_pods > 1000000 ||
        logrotate_policy_parse (tv_str (config, "containerLogMaxSize"), tv_int (config, "containerLogMaxFiles", -1),
                                &a->logs, err, sizeof err) ||
        logrotate_interval_parse (tv_str (config, "containerLogMonitorInterval"), &a->logs_every_ms, err, sizeof err) ||
        nodestatus_parse_reserved (tv_str (config, "kubeReserved"), &a->ncfg.kube_reserved, err, sizeof err) ||
        nodestatus_parse_reserved (tv_str (config, "systemReserved"), &a->ncfg.system_reserved, err, sizeof err) ||
        (tv_str (config, "evictionHard") &&
         nodestatus_parse_eviction (tv_str (config, "evictionHard"), &a->ncfg, err, sizeof err))) {
        TR_ERROR (A, "bad node configuration: %s", max_pods < 0 || max_pods > 1000000 ? "maxPods out of range" : err);
        free (a);
        return NULL;
    }
    a->ncfg.max_pods = max_pods;
    snprintf (a->meas.runtime_msg, sizeof a->meas.runtime_msg,
              "container runtime status check may not have completed yet (shim %s)", shim);
    host_ip (a->host_ip, sizeof a->host_ip);
    a->shim = troupe_peer (ctx, shim);
    if (!a->shim) {
        free (a);
        return NULL;
    }
    a->runtime = json_array ();
    a->backoff = json_object ();
    a->inflight = json_object ();
    a->sent_status = json_object ();
    a->pulled = json_object ();
    a->sandboxes = json_object ();
    a->pull_secrets = json_object ();
    a->objs = json_object ();
    a->obj_at = json_object ();
    a->vol_applied = json_object ();
    a->hooks = json_object ();
    const char *dr = tv_str (config, "defaultRuntime");
    if (dr && strcmp (dr, "oci") && strcmp (dr, "process")) {
        TR_ERROR (A, "bad node configuration: defaultRuntime must be oci or process");
        json_decref (a->runtime);
        json_decref (a->backoff);
        json_decref (a->inflight);
        json_decref (a->sent_status);
        json_decref (a->pulled);
        json_decref (a->sandboxes);
        json_decref (a->pull_secrets);
        json_decref (a->objs);
        json_decref (a->obj_at);
        json_decref (a->vol_applied);
        json_decref (a->hooks);
        free (a);
        return NULL;
    }
    snprintf (a->default_runtime, sizeof a->default_runtime, "%s", dr ? dr : "");
    const char *rns = tv_str (config, "runtimeNamespace");
    snprintf (a->runtime_ns, sizeof a->runtime_ns, "%s", rns && *rns ? rns : "troupe.io");
    char fs[300];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", a->node);
    troupe_handlers_t h = {.on_add = kick, .on_update = kick_update, .on_delete = forget_pod};
    a->pods = troupe_watch (ctx, "Pod", NULL, fs, &h);
    register_node (ctx, a);
    renew_lease (ctx, a);
    troupe_timer (ctx, T_SYNC, 1000, 1);
    troupe_timer (ctx, T_LEASE, 10000, 1);
    /* the Lease is the heartbeat (every 10 s); the full status is re-posted every 5 min, as the
     * kubelet's nodeStatusReportFrequency (an Unknown set by the controller is answered at the
     * next lease renewal: check_node) */
    troupe_timer (ctx, T_NODE, 300000, 1);
    troupe_timer (ctx, T_LOGS, (int) a->logs_every_ms, 1);
    TR_INFO (A, "agent starting node=%s shim=%s", a->node, shim);
    return a;
}

static int
agent_timer (void *self, troupe_ctx_t *ctx, int id)
{
    agent_t *a = self;
    if (id == T_SYNC || id == T_KICK)
        sync_all (ctx, a);
    else if (id == T_LEASE) {
        renew_lease (ctx, a);
        if (!a->registered)
            register_node (ctx, a);
        else
            check_node (ctx, a);
    } else if (id == T_NODE)
        register_node (ctx, a); /* refresh status (heartbeat time, capacity) */
    else if (id == T_NET)
        nets_step (ctx, a);
    else if (id == T_LOGS)
        rotate_logs (ctx, a);
    return 0;
}

static void
agent_destroy (void **p)
{
    agent_t *a = *p;
    if (!a)
        return;
    json_decref (a->runtime);
    json_decref (a->lease);
    json_decref (a->backoff);
    json_decref (a->inflight);
    json_decref (a->sent_status);
    json_decref (a->pulled);
    json_decref (a->sandboxes);
    json_decref (a->pull_secrets);
    json_decref (a->sandbox_list);
    json_decref (a->objs);
    json_decref (a->obj_at);
    json_decref (a->vol_applied);
    json_decref (a->hooks);
    while (a->probers) {
        struct probe_ctr *n = a->probers->next;
        free (a->probers);
        a->probers = n;
    }
    while (a->nets) {
        struct check *n = a->nets->next;
        netprobe_free (a->nets->np);
        free (a->nets);
        a->nets = n;
    }
    free (a);
    *p = NULL;
}

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "agent", agent_create, agent_message, agent_timer, agent_destroy};

const troupe_actor_t *
agent_actor (void)
{
    return &def;
}
