/* agent_actor — see agent_actor.h. */
#include "core/eventrec.h"
#include "actors/agent/agent_int.h"
#include "actors/agent/poddns.h"
#include "actors/dns/dns_actor.h"

/* The node's resolv.conf (a small file): its text, malloc'd, or NULL. */
static char *
ag_read_small (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    char *buf = calloc (1, 65537);
    size_t n = fread (buf, 1, 65536, f);
    buf[n] = 0;
    fclose (f);
    return buf;
}

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

int
ag_inflight (agent_t *a, const char *key)
{
    json_t *t = json_object_get (a->inflight, key);
    return t && troupe_mono_ms () - json_integer_value (t) < INFLIGHT_MS;
}

void
ag_mark (agent_t *a, const char *key)
{
    json_object_set_new (a->inflight, key, json_integer (troupe_mono_ms ()));
}


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

void
ag_log_failure (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
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

void
ag_shim_call (troupe_ctx_t *ctx, agent_t *a, tr_verb_t verb, json_t *body /* stolen */, troupe_reply_fn *cb, void *arg)
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
void
ag_pod_event (troupe_ctx_t *ctx, agent_t *a, const char *ns, const char *name, const char *uid, const char *type,
           const char *reason, const char *msg)
{
    json_t *pod = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
                             "namespace", ns, "uid", uid ? uid : "");
    if (!a->events)
        a->events = tr_recorder_new ();
    tr_record (a->events, ctx, tr_event_new (pod, type, reason, msg, "kubelet", a->node, troupe_now_ms ()));
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
void
ag_runtime_put (agent_t *a, const json_t *st)
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
void
ag_on_started_kick (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    agent_t *a = self;
    ag_log_failure (self, ctx, reply, arg);
    if (reply->code == TR_OK && json_is_object (tv_get (reply->body, "status")))
        ag_runtime_put (a, tv_get (reply->body, "status"));
    troupe_timer_within (ctx, T_KICK, KICK_REPLY_MS);
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
        ag_start_created (ctx, a, c->pod_ns, c->pod_name, c->name, tv_str (reply->body, "containerId"));
        snprintf (msg, sizeof msg, "Started container %s", c->name);
        ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Normal", "Started", msg);
    } else {
        TR_WARN (A, "CreateContainer failed pod=%s container=%s msg=\"%s\"", c->uid, c->name, reply->msg ? reply->msg : "");
        if (reply->code != TR_TIMEOUT && reply->code != TR_UNAVAILABLE) {
            snprintf (msg, sizeof msg, "Error: %s", reply->msg ? reply->msg : tr_code_name (reply->code));
            hold (a, c, "CreateContainerError", reply->msg ? reply->msg : tr_code_name (reply->code));
            ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "Failed", msg);
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
            ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Normal", "Pulled", msg);
        }
    } else if (reply->code == TR_UNAVAILABLE && reply->msg && strstr (reply->msg, "oci runtime is not available")) {
        /* the node cannot run this runtime at all (runc or conmon missing): the kubelet learns it
         * from RunPodSandbox (its sandbox comes before the pull), so it is reported as that: the
         * pod stays ContainerCreating, tried again when the in-flight mark expires */
        ag_mark (a, key);
        snprintf (msg, sizeof msg, "Failed to create pod sandbox: %s", reply->msg);
        TR_WARN (A, "RunPodSandbox failed pod=%s/%s msg=\"%s\"", c->pod_ns, c->pod_name, reply->msg);
        ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "FailedCreatePodSandBox", msg);
    } else {
        int never = reply->code == TR_NOT_FOUND && reply->msg && strstr (reply->msg, "pull policy of Never");
        const char *m = reply->msg ? reply->msg : tr_code_name (reply->code);
        TR_WARN (A, "pull failed pod=%s/%s image=%s msg=\"%s\"", c->pod_ns, c->pod_name, c->image, m);
        hold (a, c, never ? "ErrImageNeverPull" : "ErrImagePull", m);
        json_object_del (a->pull_secrets, c->uid); /* read again for the next attempt, as the kubelet does */
        snprintf (msg, sizeof msg, "Failed to pull image \"%s\": %s", c->image, m);
        ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", never ? "ErrImageNeverPull" : "Failed", msg);
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
        ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "FailedCreatePodSandBox", msg);
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
        ag_pod_event (ctx, a, p->pod_ns, p->pod_name, p->uid, "Warning", "FailedToRetrieveImagePullSecret", msg);
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
    if (ag_inflight (a, k))
        return 1;
    ag_mark (a, k);
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
        if (ag_inflight (a, mk) || (at && troupe_mono_ms () - json_integer_value (at) < OBJ_REFRESH_MS))
            continue;
        char kind[32] = "", ns[TR_NAME_MAX + 1] = "", name[TR_NAME_MAX + 1] = "";
        if (sscanf (k, "%31[^/]/%253[^/]/%253s", kind, ns, name) != 3)
            continue;
        ag_mark (a, mk);
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

/* containers held back until the Services were read start now */
static void
services_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    troupe_timer_within (ctx, T_KICK, 20);
}

static void
add_to_list (void *arg, const json_t *o)
{
    json_array_append ((json_t *) arg, (json_t *) o);
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
    json_decref (a->svc_list);
    a->svc_list = json_array ();
    if (a->svcs)
        troupe_informer_foreach (a->svcs, add_to_list, a->svc_list);
    src->services = a->svc_list;
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
    if (a->svcs && !troupe_informer_synced (a->svcs)) {
        /* the kubelet's "services have not yet been read at least once": the service
         * environment would be incomplete */
        snprintf (err, errlen, "services have not yet been read at least once, cannot construct envvars");
        return PODENV_PENDING;
    }
    podenv_src_t src;
    src_of (a, pod, &src);
    json_t *warn = json_array (), *run = NULL;
    int rc = podenv_resolve (pod, spec, &src, &run, warn, err, errlen);
    size_t i;
    json_t *w;
    json_array_foreach (warn, i, w) ag_pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"),
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
        ag_pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), uid, "Warning", "Evicted", msg);
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

/* An evicted pod with nothing running (podsync's reclaim): its content goes while the object stays,
 * as the kubelet's for ShouldPodContentBeRemoved — once its container records are removed (podsync's
 * REMOVE actions), its sandbox (RemovePodSandbox: IP, netns, cgroup), then its volumes and logs.
 * Nothing makes them again: podsync starts nothing for it and volumes_refresh skips it. What fails is
 * retried at a later sync. */
static void
reclaim_evicted (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach (a->runtime, i, r) if (tv_str (r, "podUid") && !strcmp (tv_str (r, "podUid"), uid)) return;
    int sandbox = 0;
    char key[160];
    json_array_foreach (a->sandbox_list, i, r) {
        const char *sb = tv_str (r, "sandboxId");
        if (!sb || !tv_str (r, "podUid") || strcmp (tv_str (r, "podUid"), uid))
            continue;
        sandbox = 1;
        snprintf (key, sizeof key, "rmsb/%s", sb);
        if (ag_inflight (a, key))
            continue;
        ag_mark (a, key);
        TR_INFO (A, "removing the sandbox of evicted pod=%s/%s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"));
        ag_shim_call (ctx, a, TR_VERB_REMOVE_POD_SANDBOX, json_pack ("{s:s}", "sandboxId", sb), ag_log_failure, "RemovePodSandbox");
    }
    json_object_del (a->sandboxes, uid);
    if (sandbox)
        return; /* the volumes after it: nothing of the pod runs any more then */
    char vd[1400], sd[1400];
    struct stat st;
    snprintf (vd, sizeof vd, "%s/pods/%s/volumes", a->data, uid);
    snprintf (sd, sizeof sd, "%s/pods/%s/volume-subpaths", a->data, uid);
    snprintf (key, sizeof key, "reclaim/%s", uid);
    if ((stat (vd, &st) && stat (sd, &st)) || ag_inflight (a, key))
        return;
    ag_mark (a, key);
    TR_INFO (A, "removing the volumes of evicted pod=%s/%s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"));
    volumes_remove (a, uid);
}

static void
start_container (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const podsync_action_t *act)
{
    const char *uid = tv_str (pod, "metadata.uid");
    char key[256];
    snprintf (key, sizeof key, "%s/%s/%d", uid, act->container, act->attempt);
    if (ag_inflight (a, key))
        return;
    if (act->id[0]) { /* created earlier, never started */
        ag_mark (a, key);
        ag_start_created (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), act->container, act->id);
        return;
    }
    const json_t *spec = ag_spec_of (pod, act->container); /* an app or an init container */
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
            if (ag_inflight (a, pk) || pull_secrets_ready (ctx, a, pod))
                return;
            ag_mark (a, pk);
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
            if (ag_inflight (a, sk))
                return;
            if (!a->net_ready && !tv_bool (pod, "spec.hostNetwork", false)) {
                /* the pod network waits for the Node's podCIDR (podnet.c); said as the kubelet */
                char nk[100];
                snprintf (nk, sizeof nk, "netnr/%s", uid);
                if (!ag_inflight (a, nk)) {
                    ag_mark (a, nk);
                    ag_pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), uid, "Warning",
                                  "NetworkNotReady",
                                  "network is not ready: container runtime network not ready: NetworkReady=false "
                                  "reason:NetworkPluginNotReady message:the node has no spec.podCIDR yet");
                }
                return;
            }
            ag_mark (a, sk);
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
            /* the pod's DNS as the kubelet computes it (dnsPolicy, the cluster DNS, the node's
             * resolv.conf, spec.dnsConfig): the runtime writes it as the pod's resolv.conf */
            char *host_resolv = ag_read_small (a->resolv_conf);
            poddns_node_t dn = {a->cluster_dns, a->cluster_domain, host_resolv};
            json_t *dwarn = json_array ();
            json_object_set_new (body, "dnsConfig", poddns_config (pod, &dn, dwarn));
            free (host_resolv);
            size_t wi;
            json_t *wv;
            json_array_foreach (dwarn, wi, wv) ag_pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"),
                                                               uid, "Warning", "DNSConfigForming", json_string_value (wv));
            json_decref (dwarn);
            /* hostname + subdomain: the pod's FQDN in its /etc/hosts (the kubelet's GeneratePodHostNameAndDomain) */
            const char *subdomain = tv_str (pod, "spec.subdomain");
            if (subdomain && *subdomain) {
                char hd[600];
                snprintf (hd, sizeof hd, "%s.%s.svc.%s", subdomain, tv_str (pod, "metadata.namespace"), a->cluster_domain);
                json_object_set_new (body, "hostDomain", json_string (hd));
            }
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
        ag_shim_call (ctx, a, TR_VERB_RUN_POD_SANDBOX,
                   json_pack ("{s:s,s:s,s:s,s:s,s:s}", "podUid", uid, "name", tv_str (pod, "metadata.name"), "namespace",
                              tv_str (pod, "metadata.namespace"), "logDirectory", logdir, "runtimeHandler", "process"),
                   ag_log_failure, "RunPodSandbox");
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
            ag_pod_event (ctx, a, c->pod_ns, c->pod_name, c->uid, "Warning", "Failed", msg);
            free (c);
            troupe_timer_within (ctx, T_KICK, 20);
        }
        return; /* pending: the objects were asked for, their answer kicks a sync */
    }
    ag_mark (a, key);
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
    ag_shim_call (ctx, a, TR_VERB_CREATE_CONTAINER, body, on_created, created_new (pod, act->container, act->attempt, image));
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
    ag_probes_sync (ctx, a, pod, rt, bo);
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
            if (!ag_inflight (a, key)) {
                ag_mark (a, key);
                ag_stop_container_hooked (ctx, a, pod, act->container, act->id, act->timeout_s);
                char msg[200];
                snprintf (msg, sizeof msg, "Stopping container %s", act->container);
                ag_pod_event (ctx, a, tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), uid, "Normal",
                           "Killing", msg);
            }
        } else if (act->kind == PODSYNC_REMOVE) {
            snprintf (key, sizeof key, "rm/%s", act->id);
            if (!ag_inflight (a, key)) {
                ag_mark (a, key);
                ag_shim_call (ctx, a, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", act->id), ag_on_removed,
                           log_path_of (a, act->id));
            }
        }
    }
    /* a strategic merge patch of pods/status with only what the agent owns and changed, as the
     * kubelet's status manager (mergePodStatus, then PatchPodStatus): what others wrote
     * (status.nominatedNodeName, conditions of other types) stays. It carries the resourceVersion
     * the status was computed from (the broker checks it on a patch too): a pod changed since
     * (deleted, evicted, patched by another writer) conflicts and is computed again next round. */
    json_t *last = json_object_get (a->sent_status, uid);
    json_t *patch = last && json_equal (last, r.status) ? NULL : podsync_status_patch (tv_get (pod, "status"), r.status);
    if (patch) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_PATCH;
        strcpy (req.kind, "Pod");
        snprintf (req.ns, sizeof req.ns, "%s", tv_str (pod, "metadata.namespace"));
        snprintf (req.name, sizeof req.name, "%s", tv_str (pod, "metadata.name"));
        const char *rvs = tv_str (pod, "metadata.resourceVersion");
        req.rv = rvs ? strtoull (rvs, NULL, 10) : 0;
        req.opts = json_pack ("{s:s,s:s}", "subresource", "status", "patchType", "strategic");
        req.body = patch;
        json_object_set (a->sent_status, uid, r.status);
        troupe_request (ctx, &req, status_written, strdup (uid));
        tr_env_clear (&req);
    }
    if (r.removable) {
        char key[128];
        snprintf (key, sizeof key, "delete/%s", uid);
        if (!ag_inflight (a, key)) {
            ag_mark (a, key);
            char sb[96];
            snprintf (sb, sizeof sb, "sb-%.64s", uid);
            ag_shim_call (ctx, a, TR_VERB_REMOVE_POD_SANDBOX, json_pack ("{s:s}", "sandboxId", sb), ag_log_failure, "RemovePodSandbox");
            json_object_del (a->sandboxes, uid);
            tr_env_t req;
            tr_env_init (&req);
            req.verb = TR_VERB_DELETE;
            strcpy (req.kind, "Pod");
            snprintf (req.ns, sizeof req.ns, "%s", tv_str (pod, "metadata.namespace"));
            snprintf (req.name, sizeof req.name, "%s", tv_str (pod, "metadata.name"));
            req.opts = json_pack ("{s:i}", "gracePeriodSeconds", 0);
            troupe_request (ctx, &req, ag_log_failure, "final pod deletion");
            tr_env_clear (&req);
            TR_INFO (A, "pod terminated pod=%s/%s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"));
            volumes_remove (a, uid); /* after the sandbox: nothing of the pod runs any more */
        }
    }
    if (r.reclaim)
        reclaim_evicted (ctx, a, pod, uid);
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
            if (!ag_inflight (a, key)) {
                ag_mark (a, key);
                TR_INFO (A, "stopping container of a deleted pod uid=%s container=%s", uid, tv_str (r, "name"));
                ag_shim_call (ctx, a, TR_VERB_STOP_CONTAINER, json_pack ("{s:s,s:i}", "containerId", id, "timeout", 2),
                           ag_log_failure, "StopContainer");
            }
        } else {
            snprintf (key, sizeof key, "rm/%s", id);
            if (!ag_inflight (a, key)) {
                ag_mark (a, key);
                ag_shim_call (ctx, a, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", id), ag_on_removed,
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
        if (busy || ag_inflight (a, key))
            continue;
        ag_mark (a, key);
        TR_INFO (A, "removing the sandbox of a deleted pod uid=%s", uid);
        ag_shim_call (ctx, a, TR_VERB_REMOVE_POD_SANDBOX, json_pack ("{s:s}", "sandboxId", sb), ag_log_failure, "RemovePodSandbox");
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
    ag_probes_gc (a);
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
    troupe_timer_within (ctx, T_PODNET, 10);
}

static void
sync_all (troupe_ctx_t *ctx, agent_t *a)
{
    if (!a->runtimes_known) {
        ag_shim_call (ctx, a, TR_VERB_PING, json_object (), on_ping, NULL);
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
    ag_shim_call (ctx, a, TR_VERB_LIST_CONTAINERS, json_object (), on_list, NULL);
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
    json_decref (a->svc_list);
        json_decref (a->hooks);
        free (a);
        return NULL;
    }
    snprintf (a->default_runtime, sizeof a->default_runtime, "%s", dr ? dr : "");
    const char *rns = tv_str (config, "runtimeNamespace");
    snprintf (a->runtime_ns, sizeof a->runtime_ns, "%s", rns && *rns ? rns : "troupe.io");
    const char *cdns = tv_str (config, "clusterDNS"), *cdom = tv_str (config, "clusterDomain"), *rcf = tv_str (config, "resolvConf");
    snprintf (a->cluster_dns, sizeof a->cluster_dns, "%s", cdns ? cdns : DNS_DEFAULT_CLUSTER_DNS);
    snprintf (a->cluster_domain, sizeof a->cluster_domain, "%s", cdom && *cdom ? cdom : DNS_DEFAULT_DOMAIN);
    snprintf (a->resolv_conf, sizeof a->resolv_conf, "%s", rcf && *rcf ? rcf : "/etc/resolv.conf");
    char fs[300];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", a->node);
    troupe_handlers_t h = {.on_add = kick, .on_update = kick_update, .on_delete = forget_pod};
    a->pods = troupe_watch (ctx, "Pod", NULL, fs, &h);
    troupe_handlers_t sh = {.on_synced = services_synced};
    a->svcs = troupe_watch (ctx, "Service", NULL, NULL, &sh);
    if (ag_podnet_start (ctx, a, config, err, sizeof err)) { /* the commands check these first */
        TR_ERROR (A, "bad node configuration: %s: the runtime's own pod network, no routes", err);
        a->net_ready = 1;
    }
    register_node (ctx, a);
    renew_lease (ctx, a);
    troupe_timer (ctx, T_SYNC, 1000, 1);
    troupe_timer (ctx, T_LEASE, AGENT_LEASE_RENEW_MS, 1);
    /* the Lease is the heartbeat (every 2.5 s, where the kubelet renews every 10 s, a quarter of
     * its 40 s duration: a node monitor grace period of 10 s, issue 8's fail-over setting, must
     * not flap on a renewal that comes a little late); the full status is re-posted every 5 min, as the
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
        ag_nets_step (ctx, a);
    else if (id == T_LOGS)
        ag_rotate_logs (ctx, a);
    else if (id == T_PODNET)
        ag_podnet_step (ctx, a);
    return 0;
}

static void
agent_destroy (void **p)
{
    agent_t *a = *p;
    if (!a)
        return;
    tr_recorder_destroy (&a->events);
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
    json_decref (a->svc_list);
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

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "agent", agent_create, ag_message, agent_timer, agent_destroy};

const troupe_actor_t *
agent_actor (void)
{
    return &def;
}
