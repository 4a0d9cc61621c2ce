/* agent_probes — the agent's probes and lifecycle hooks (agent_int.h). */
#include "actors/agent/agent_int.h"

/* ---- probes and lifecycle hooks --------------------------------------------------------------
 * The decisions are actors/agent/prober.c's; here they are carried out: exec handlers through the
 * shim's ExecSync, httpGet/tcpSocket handlers as netprobe state machines stepped by T_NET (the
 * actor never blocks). postStart runs once StartContainer answered, the container not started
 * (nor ready) until it succeeded; a failure kills it (FailedPostStartHook). preStop runs before
 * the StopContainer of any stop (deletion, liveness, definition change), within the grace period;
 * the SIGTERM then gets what is left of it (at least 2 s, as the kubelet). */


static probe_ctr_t *
probe_find (agent_t *a, const char *uid, const char *name)
{
    for (probe_ctr_t *p = a->probers; p; p = p->next)
        if (!strcmp (p->uid, uid) && !strcmp (p->name, name))
            return p;
    return NULL;
}

const json_t *
ag_spec_of (const json_t *pod, const char *name)
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

void
ag_nets_step (troupe_ctx_t *ctx, agent_t *a)
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

int
ag_pod_grace (const json_t *pod)
{
    return (int) tv_int (pod, "metadata.deletionGracePeriodSeconds", tv_int (pod, "spec.terminationGracePeriodSeconds", 30));
}

static void
send_stop (troupe_ctx_t *ctx, agent_t *a, const char *id, int timeout_s)
{
    ag_shim_call (ctx, a, TR_VERB_STOP_CONTAINER, json_pack ("{s:s,s:i}", "containerId", id, "timeout", timeout_s), ag_log_failure,
               "StopContainer");
}

/* Stops a running container: its preStop hook first (once), then SIGTERM with the grace left. */
void
ag_stop_container_hooked (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const char *name, const char *id, int grace)
{
    const json_t *spec = ag_spec_of (pod, name);
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
            ag_pod_event (ctx, a, c->ns, c->pod, c->uid, "Warning", "FailedPreStopHook", m);
        }
        int left = c->grace - (int) ((troupe_mono_ms () - c->t0) / 1000);
        send_stop (ctx, a, c->id, left < 2 ? 2 : left);
    } else if (c->what == CHECK_POSTSTART) {
        snprintf (key, sizeof key, "post/%s", c->id);
        json_object_del (a->hooks, key);
        if (!ok && pod) {
            snprintf (m, sizeof m, "PostStartHook failed: %s", msg);
            ag_pod_event (ctx, a, c->ns, c->pod, c->uid, "Warning", "FailedPostStartHook", m);
            probe_ctr_t *p = probe_find (a, c->uid, c->name);
            if (p && !strcmp (p->id, c->id))
                p->killed = 1;
            ag_stop_container_hooked (ctx, a, pod, c->name, c->id, ag_pod_grace (pod));
        }
        troupe_timer_within (ctx, T_KICK, 20);
    } else {
        probe_ctr_t *p = probe_find (a, c->uid, c->name);
        if (p && !strcmp (p->id, c->id) && pod) {
            int changed = prober_result (&p->pr, c->kind, ok, msg, troupe_now_ms ());
            if (!ok) {
                snprintf (m, sizeof m, "%s probe failed: %s", prober_kind_name (c->kind), msg);
                ag_pod_event (ctx, a, c->ns, c->pod, c->uid, "Warning", "Unhealthy", m);
            }
            if (p->pr.kill && !p->killed) {
                p->killed = 1;
                snprintf (m, sizeof m, "Container %s failed %s probe, will be restarted", c->name,
                          c->kind == PROBE_STARTUP ? "startup" : "liveness");
                ag_pod_event (ctx, a, c->ns, c->pod, c->uid, "Normal", "Killing", m);
                TR_INFO (A, "killing container pod=%s/%s container=%s: %s", c->ns, c->pod, c->name, m);
                /* the probe's own terminationGracePeriodSeconds wins over the pod's */
                const json_t *spec = ag_spec_of (pod, c->name);
                const char *f = c->kind == PROBE_STARTUP ? "startupProbe" : "livenessProbe";
                const json_t *pr = json_object_get (spec, f);
                int grace = (int) tv_int (pr, "terminationGracePeriodSeconds", ag_pod_grace (pod));
                ag_stop_container_hooked (ctx, a, pod, c->name, c->id, grace);
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
void
ag_probes_sync (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const json_t *rt, json_t *bo)
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
void
ag_probes_gc (agent_t *a)
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
    const json_t *spec = ag_spec_of (pod, c->name);
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
        ag_runtime_put (a, tv_get (reply->body, "status"));
    /* the record (podIP) as of the last listing; the container has just started */
    json_t *rec = json_pack ("{s:s}", "containerId", c->id);
    const json_t *sb = json_object_get (a->sandboxes, c->uid);
    if (tv_str (sb, "podIP") && *tv_str (sb, "podIP"))
        json_object_set_new (rec, "podIP", json_string (tv_str (sb, "podIP")));
    run_handler (ctx, a, spec, tv_get (spec, "lifecycle.postStart"), rec, ag_pod_grace (pod) * 1000 + 1000, c);
    json_decref (rec);
}

/* StartContainer of a created container: with a postStart hook, the hook runs once it answered. */
void
ag_start_created (troupe_ctx_t *ctx, agent_t *a, const char *ns, const char *podname, const char *name, const char *id)
{
    const json_t *pod = troupe_informer_get (a->pods, ns, podname);
    const json_t *spec = pod ? ag_spec_of (pod, name) : NULL;
    if (!json_is_object (tv_get (spec, "lifecycle.postStart"))) {
        ag_shim_call (ctx, a, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", id), ag_on_started_kick, "StartContainer");
        return;
    }
    char key[100];
    snprintf (key, sizeof key, "post/%s", id);
    json_object_set_new (a->hooks, key, json_integer (1));
    ag_shim_call (ctx, a, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", id), on_started,
               check_new (pod, name, id, CHECK_POSTSTART, 0, ag_pod_grace (pod)));
}
