/* podsync — see podsync.h. */
#include "actors/agent/podsync.h"
#include "actors/agent/podres.h"
#include "core/meta.h"
#include "core/value.h"
#include "runtime-shims/cri.h"

#include <stdio.h>
#include <string.h>

static void
add (podsync_result_t *r, podsync_kind_t k, const char *container, const char *id, int attempt, int timeout)
{
    if (r->n == PODSYNC_MAX_ACTIONS)
        return;
    podsync_action_t *a = &r->actions[r->n++];
    memset (a, 0, sizeof *a);
    a->kind = k;
    snprintf (a->container, sizeof a->container, "%s", container ? container : "");
    snprintf (a->id, sizeof a->id, "%s", id ? id : "");
    a->attempt = attempt;
    a->timeout_s = timeout;
}

static int
is (const json_t *rec, const char *state)
{
    const char *s = tv_str (rec, "state");
    return s && !strcmp (s, state);
}

/* Terminated state object of an exited runtime record. */
static json_t *
terminated (const json_t *rec)
{
    char a[32], b[32];
    tr_time_format (tv_int (rec, "startedAt", 0), a, sizeof a);
    tr_time_format (tv_int (rec, "finishedAt", 0), b, sizeof b);
    json_t *t = json_pack ("{s:I,s:s,s:s,s:s}", "exitCode", tv_int (rec, "exitCode", 0), "reason",
                           tv_str (rec, "reason") ? tv_str (rec, "reason") : "Error", "startedAt", a, "finishedAt", b);
    char cid[160];
    snprintf (cid, sizeof cid, "%s://%s", tv_str (rec, "runtime") ? tv_str (rec, "runtime") : "process",
              tv_str (rec, "containerId") ? tv_str (rec, "containerId") : "");
    json_object_set_new (t, "containerID", json_string (cid));
    if (tv_str (rec, "message") && *tv_str (rec, "message"))
        json_object_set_new (t, "message", json_string (tv_str (rec, "message")));
    return json_pack ("{s:o}", "terminated", t);
}

void
podsync_result_clear (podsync_result_t *r)
{
    json_decref (r->status);
    memset (r, 0, sizeof *r);
}

/* A start held back by a pull or create failure (backoff["wait:<name>"], set by the agent):
 * NULL when the start may go ahead; else the waiting state to report. *retry: the back-off has
 * passed, start again (the state then says the last failure until the outcome). */
static json_t *
held (const json_t *backoff, const char *name, int64_t now_ms, int *retry)
{
    char key[96];
    snprintf (key, sizeof key, "wait:%s", name);
    const json_t *w = json_object_get (backoff, key);
    *retry = 0;
    if (!w)
        return NULL;
    const char *reason = tv_str (w, "reason") ? tv_str (w, "reason") : "CreateContainerError";
    const char *msg = tv_str (w, "message") ? tv_str (w, "message") : "";
    if (now_ms >= tv_int (w, "notBefore", 0)) {
        *retry = 1;
        return json_pack ("{s:{s:s,s:s}}", "waiting", "reason", reason, "message", msg);
    }
    /* the kubelet: ErrImagePull on the sync that failed, ImagePullBackOff while it waits */
    if (!strcmp (reason, "ErrImagePull") && now_ms - tv_int (w, "at", 0) >= 1000) {
        char m[600];
        snprintf (m, sizeof m, "Back-off pulling image \"%s\": %s", tv_str (w, "image") ? tv_str (w, "image") : "", msg);
        return json_pack ("{s:{s:s,s:s}}", "waiting", "reason", "ImagePullBackOff", "message", m);
    }
    return json_pack ("{s:{s:s,s:s}}", "waiting", "reason", reason, "message", msg);
}

typedef struct {
    const json_t *pod, *runtime;
    json_t *backoff;
    int64_t now_ms;
    int grace, deleting;
    const char *runtime_name;
    podsync_result_t *out;
    char pod_ip[64];
} sync_t;

typedef struct {
    int running, ready, succeeded, failed, any_started;
    int done_ok;   /* the latest attempt exited 0 and is not restarted */
    int done_fail; /* the latest attempt failed and is not restarted */
} tally_t;

/* ready/started of a running container: the agent's prober verdict (backoff["probe:<name>"] for
 * that containerId) when there is one; else ready when there is no readiness or startup probe,
 * started when there is no startup probe. */
static void
probe_verdict (const sync_t *c, const json_t *spec, const json_t *cur, int *ready, int *started)
{
    char key[96];
    snprintf (key, sizeof key, "probe:%s", tv_str (spec, "name"));
    const json_t *v = json_object_get (c->backoff, key);
    const char *id = tv_str (cur, "containerId");
    if (v && id && tv_str (v, "containerId") && !strcmp (tv_str (v, "containerId"), id)) {
        *ready = tv_bool (v, "ready", false);
        *started = tv_bool (v, "started", false);
        return;
    }
    int sp = json_is_object (json_object_get (spec, "startupProbe"));
    *started = !sp;
    *ready = !sp && !json_is_object (json_object_get (spec, "readinessProbe"));
}

/* An exec probe or lifecycle hook: the process runtime has no ExecSync to run it. */
static int
exec_handler (const json_t *spec)
{
    static const char *const at[] = {"livenessProbe.exec", "readinessProbe.exec", "startupProbe.exec",
                                     "lifecycle.postStart.exec", "lifecycle.preStop.exec"};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        if (json_is_object (tv_get (spec, at[i])))
            return 1;
    return 0;
}

/* One container (app or init) under restart policy `policy`: its actions and its status. */
static json_t *
one_container (sync_t *c, const json_t *spec, const char *policy, int init, tally_t *t)
{
    podsync_result_t *out = c->out;
    const json_t *pod = c->pod, *runtime = c->runtime;
    json_t *backoff = c->backoff;
    int64_t now_ms = c->now_ms;
    int grace = c->grace, deleting = c->deleting;
    const char *runtime_name = c->runtime_name, *name = tv_str (spec, "name");
    /* the latest attempt and the one before it */
    const json_t *cur = NULL, *prev = NULL;
    size_t j;
    json_t *rec;
    json_array_foreach (runtime, j, rec) {
        if (!tv_str (rec, "name") || strcmp (tv_str (rec, "name"), name))
            continue;
        if (!cur || tv_int (rec, "attempt", 0) > tv_int (cur, "attempt", 0)) {
            prev = cur;
            cur = rec;
        } else if (!prev || tv_int (rec, "attempt", 0) > tv_int (prev, "attempt", 0))
            prev = rec;
    }
    /* exited attempts older than the previous one are garbage */
    json_array_foreach (runtime, j, rec) if (tv_str (rec, "name") && !strcmp (tv_str (rec, "name"), name) && rec != cur &&
                                             rec != prev && !is (rec, CRI_STATE_RUNNING))
        add (out, PODSYNC_REMOVE, name, tv_str (rec, "containerId"), 0, 0);
    int attempt = cur ? (int) tv_int (cur, "attempt", 0) : 0;
    json_t *state = NULL, *last = NULL;
    int is_ready = 0, is_started = 0;
    if (prev && is (prev, CRI_STATE_EXITED))
        last = terminated (prev);
    json_t *bo = json_object_get (backoff, name);
    if (deleting) {
        if (cur && is (cur, CRI_STATE_RUNNING)) {
            add (out, PODSYNC_STOP, name, tv_str (cur, "containerId"), 0, grace);
            t->running++;
            char s[32];
            tr_time_format (tv_int (cur, "startedAt", 0), s, sizeof s);
            state = json_pack ("{s:{s:s}}", "running", "startedAt", s);
        } else if (cur && is (cur, CRI_STATE_EXITED))
            state = terminated (cur);
        else
            state = json_pack ("{s:{s:s}}", "waiting", "reason", "ContainerCreating");
    } else if (!strcmp (runtime_name ? runtime_name : "process", "process") &&
               (json_object_size (tv_get (spec, "securityContext")) || json_object_size (tv_get (spec, "resources.limits")) ||
                json_object_size (tv_get (pod, "spec.securityContext")))) {
        /* what the process runtime cannot apply is not silently dropped */
        state = json_pack ("{s:{s:s,s:s}}", "waiting", "reason", "CreateContainerError", "message",
                           "the process runtime runs host processes: it applies no securityContext and no "
                           "resources.limits (runtimeClassName: oci does)");
    } else if (!strcmp (runtime_name ? runtime_name : "process", "process") && exec_handler (spec)) {
        state = json_pack ("{s:{s:s,s:s}}", "waiting", "reason", "CreateContainerError", "message",
                           "the process runtime cannot run a command inside a host process: exec probes and hooks "
                           "need runtimeClassName: oci (httpGet and tcpSocket work)");
    } else if (!strcmp (runtime_name ? runtime_name : "process", "process") && !json_array_size (tv_get (spec, "command"))) {
        char msg[300];
        snprintf (msg, sizeof msg,
                  "the process runtime runs command+args on the host and needs a command (image \"%s\" is recorded, not run)",
                  tv_str (spec, "image") ? tv_str (spec, "image") : "");
        state = json_pack ("{s:{s:s,s:s}}", "waiting", "reason", "CreateContainerError", "message", msg);
    } else if (!cur) {
        int retry;
        state = held (backoff, name, now_ms, &retry);
        if (!state || retry)
            add (out, PODSYNC_START, name, NULL, 0, 0);
        if (!state)
            state = json_pack ("{s:{s:s}}", "waiting", "reason", "ContainerCreating");
    } else if (is (cur, CRI_STATE_RUNNING)) {
        char s[32];
        tr_time_format (tv_int (cur, "startedAt", 0), s, sizeof s);
        state = json_pack ("{s:{s:s}}", "running", "startedAt", s);
        t->running++;
        if (init)
            is_started = 1; /* an init container is never ready while it runs */
        else
            probe_verdict (c, spec, cur, &is_ready, &is_started);
        t->any_started = 1;
        const char *want = tv_str (spec, "image"), *has = tv_str (cur, "image");
        if (want && has && *has && strcmp (want, has)) {
            /* the kubelet: the container's definition changed (a Pod's image may be updated):
             * stopped, then started again at once whatever the restart policy */
            add (out, PODSYNC_STOP, name, tv_str (cur, "containerId"), 0, grace);
            json_object_set_new (backoff, name, json_pack ("{s:I,s:I,s:I,s:b}", "delayMs", (json_int_t) 0, "notBefore",
                                                           (json_int_t) 0, "forAttempt", (json_int_t) attempt,
                                                           "respec", 1));
            bo = json_object_get (backoff, name);
        }
    } else if (is (cur, CRI_STATE_CREATED)) {
        add (out, PODSYNC_START, name, tv_str (cur, "containerId"), attempt, 0);
        state = json_pack ("{s:{s:s}}", "waiting", "reason", "ContainerCreating");
    } else { /* EXITED */
        t->any_started = 1;
        json_int_t code = tv_int (cur, "exitCode", 0);
        int respec = bo && tv_int (bo, "forAttempt", -1) == attempt && json_is_true (json_object_get (bo, "respec"));
        int restart = respec || !strcmp (policy, "Always") || (!strcmp (policy, "OnFailure") && code != 0);
        if (!restart) {
            state = terminated (cur);
            if (code == 0) {
                t->succeeded++;
                t->done_ok = 1;
                is_ready = init; /* a completed init container reports ready, as the kubelet */
            } else {
                t->failed++;
                t->done_fail = 1;
            }
        } else {
            json_int_t finished = tv_int (cur, "finishedAt", now_ms), started = tv_int (cur, "startedAt", finished);
            /* the delay for this exit is decided once, when it is first seen: the first
             * restart is immediate, then 10 s doubling to 300 s; a 10-minute run resets it */
            if (!bo || tv_int (bo, "forAttempt", -1) != attempt) {
                json_int_t d = 0;
                if (bo && finished - started < PODSYNC_BACKOFF_RESET_MS) {
                    d = tv_int (bo, "delayMs", 0);
                    d = d ? d * 2 : PODSYNC_BACKOFF_INITIAL_MS;
                    if (d > PODSYNC_BACKOFF_MAX_MS)
                        d = PODSYNC_BACKOFF_MAX_MS;
                }
                json_object_set_new (backoff, name, json_pack ("{s:I,s:I,s:I}", "delayMs", d, "notBefore",
                                                               finished + d, "forAttempt", (json_int_t) attempt));
                bo = json_object_get (backoff, name);
            }
            json_int_t not_before = tv_int (bo, "notBefore", 0);
            int retry;
            json_t *h = now_ms >= not_before ? held (backoff, name, now_ms, &retry) : NULL;
            if (h) {
                state = h;
                if (retry)
                    add (out, PODSYNC_START, name, NULL, attempt + 1, 0);
            } else if (now_ms >= not_before) {
                add (out, PODSYNC_START, name, NULL, attempt + 1, 0);
                state = json_pack ("{s:{s:s}}", "waiting", "reason", init ? "PodInitializing" : "ContainerCreating");
            } else {
                char msg[200];
                snprintf (msg, sizeof msg, "back-off %llds restarting failed container=%s pod=%s",
                          (long long) (tv_int (bo, "delayMs", 0) / 1000), name, tv_str (pod, "metadata.name"));
                state = json_pack ("{s:{s:s,s:s}}", "waiting", "reason", "CrashLoopBackOff", "message", msg);
            }
            json_decref (last);
            last = terminated (cur);
        }
    }
    t->ready += is_ready && !deleting;
    char cid[160] = "";
    if (cur)
        snprintf (cid, sizeof cid, "%s://%s", tv_str (cur, "runtime") ? tv_str (cur, "runtime") : "process",
                  tv_str (cur, "containerId") ? tv_str (cur, "containerId") : "");
    if (cur && tv_str (cur, "podIP") && *tv_str (cur, "podIP"))
        snprintf (c->pod_ip, sizeof c->pod_ip, "%s", tv_str (cur, "podIP"));
    json_t *cs = json_pack ("{s:s,s:s,s:s,s:b,s:b,s:i,s:o}", "name", name, "image",
                            tv_str (spec, "image") ? tv_str (spec, "image") : "", "imageID",
                            cur && tv_str (cur, "imageRef") ? tv_str (cur, "imageRef") : "", "ready",
                            is_ready && !deleting, "started", is_started, "restartCount", attempt, "state", state);
    if (cid[0])
        json_object_set_new (cs, "containerID", json_string (cid));
    json_object_set_new (cs, "lastState", last ? last : json_object ());
    return cs;
}

/* The status of a container that waits for the init containers before it. */
static json_t *
initializing (const json_t *spec)
{
    return json_pack ("{s:s,s:s,s:s,s:b,s:b,s:i,s:{s:{s:s}},s:{}}", "name", tv_str (spec, "name"), "image",
                      tv_str (spec, "image") ? tv_str (spec, "image") : "", "imageID", "", "ready", 0, "started", 0,
                      "restartCount", 0, "state", "waiting", "reason", "PodInitializing", "lastState");
}

/* Any runtime record of an app container: the pod got past its init containers once. */
static int
app_started (const json_t *pod, const json_t *runtime)
{
    size_t i, j;
    json_t *spec, *rec;
    json_array_foreach (tv_get (pod, "spec.containers"), i, spec) json_array_foreach (runtime, j, rec) if (
        tv_str (rec, "name") && tv_str (spec, "name") && !strcmp (tv_str (rec, "name"), tv_str (spec, "name"))) return 1;
    return 0;
}

/* Evicted and nothing of the pod's left: a container without a runtime record keeps the status the
 * pod already reported when that was terminated (the kubelet's convertToAPIContainerStatuses), not
 * "ContainerCreating". */
static void
keep_terminated (json_t *statuses, const json_t *old_statuses, const json_t *runtime)
{
    size_t i, j;
    json_t *st, *o, *rec;
    json_array_foreach (statuses, i, st) {
        const char *name = tv_str (st, "name");
        int has = 0;
        json_array_foreach (runtime, j, rec) has |= name && tv_str (rec, "name") && !strcmp (tv_str (rec, "name"), name);
        if (has || !name)
            continue;
        json_array_foreach (old_statuses, j, o) if (tv_str (o, "name") && !strcmp (tv_str (o, "name"), name) &&
                                                    json_is_object (tv_get (o, "state.terminated"))) {
            json_array_set (statuses, i, o);
            break;
        }
    }
}

void
podsync_compute (const json_t *pod, const json_t *runtime, json_t *backoff, int64_t now_ms, const char *host_ip,
                 const char *runtime_name, podsync_result_t *out)
{
    memset (out, 0, sizeof *out);
    char now[32];
    tr_time_format (now_ms, now, sizeof now);
    const json_t *old = tv_get (pod, "status");
    const char *policy = tv_str (pod, "spec.restartPolicy");
    if (!policy)
        policy = "Always";
    sync_t c = {.pod = pod, .runtime = runtime, .backoff = backoff, .now_ms = now_ms, .runtime_name = runtime_name, .out = out};
    c.deleting = tv_get (pod, "metadata.deletionTimestamp") != NULL;
    int deleting = c.deleting;
    c.grace = (int) tv_int (pod, "metadata.deletionGracePeriodSeconds", tv_int (pod, "spec.terminationGracePeriodSeconds", 30));
    /* evicted (the agent's decision now, or the status it wrote before): terminal, every
     * container killed at once and none started again */
    const json_t *ev = json_object_get (backoff, "evict");
    const char *old_phase = tv_str (old, "phase"), *old_reason = tv_str (old, "reason");
    int evicted = ev || (old_phase && old_reason && !strcmp (old_phase, "Failed") && !strcmp (old_reason, "Evicted"));
    const char *ev_msg = ev ? tv_str (ev, "message") : tv_str (old, "message");
    if (evicted && !deleting)
        c.deleting = 1, c.grace = 0;
    /* the pod's IP: its sandbox's (oci), the node's for host processes and hostNetwork */
    int host_net = !strcmp (runtime_name ? runtime_name : "process", "process") || tv_bool (pod, "spec.hostNetwork", false);
    if (host_net)
        snprintf (c.pod_ip, sizeof c.pod_ip, "%s", host_ip);
    size_t ri;
    json_t *rr;
    json_array_foreach (runtime, ri, rr) if (!host_net && tv_str (rr, "podIP") && *tv_str (rr, "podIP"))
        snprintf (c.pod_ip, sizeof c.pod_ip, "%s", tv_str (rr, "podIP"));
    /* init containers, in order, each to success before the next; a failed one restarts unless
     * the pod's restartPolicy is Never (the pod then fails) */
    json_t *init_statuses = json_array ();
    int initialized = 1, init_failed = 0, init_running = 0;
    const char *init_policy = !strcmp (policy, "Never") ? "Never" : "OnFailure";
    int past_init = app_started (pod, runtime);
    size_t i;
    json_t *spec;
    json_array_foreach (tv_get (pod, "spec.initContainers"), i, spec) {
        if (!tv_str (spec, "name"))
            continue;
        if (!initialized || init_failed) {
            json_array_append_new (init_statuses, initializing (spec));
            continue;
        }
        tally_t t = {0};
        podsync_result_t *saved = c.out, scratch = {0};
        if (past_init)
            c.out = &scratch; /* the app runs: the init containers are done, whatever their records say */
        json_array_append_new (init_statuses, one_container (&c, spec, init_policy, 1, &t));
        if (past_init) {
            for (int k = 0; k < scratch.n; k++) /* but their garbage is still collected */
                if (scratch.actions[k].kind == PODSYNC_REMOVE)
                    add (saved, PODSYNC_REMOVE, scratch.actions[k].container, scratch.actions[k].id, 0, 0);
            c.out = saved;
            continue;
        }
        init_running += t.running;
        if (t.done_fail)
            init_failed = 1;
        if (!t.done_ok)
            initialized = 0;
    }
    if (past_init)
        initialized = 1, init_failed = 0;
    int n = 0;
    tally_t t = {0};
    json_t *statuses = json_array ();
    json_array_foreach (tv_get (pod, "spec.containers"), i, spec) {
        if (!tv_str (spec, "name"))
            continue;
        n++;
        json_array_append_new (statuses, initialized && !init_failed ? one_container (&c, spec, policy, 0, &t) : initializing (spec));
    }
    if (evicted) {
        keep_terminated (statuses, tv_get (old, "containerStatuses"), runtime);
        keep_terminated (init_statuses, tv_get (old, "initContainerStatuses"), runtime);
        if (!c.pod_ip[0] && tv_str (old, "podIP")) /* the sandbox is gone: the IP the pod had stays reported */
            snprintf (c.pod_ip, sizeof c.pod_ip, "%s", tv_str (old, "podIP"));
    }
    const char *phase;
    if (evicted)
        phase = "Failed";
    else if (init_failed)
        phase = "Failed";
    else if (!initialized)
        phase = "Pending";
    else if (t.running)
        phase = "Running";
    else if (n && t.succeeded == n)
        phase = "Succeeded";
    else if (n && t.succeeded + t.failed == n)
        phase = "Failed";
    else if (t.any_started && strcmp (policy, "Always") && !t.running && t.succeeded + t.failed < n)
        phase = "Running"; /* restarting under OnFailure */
    else if (t.any_started && !strcmp (policy, "Always"))
        phase = "Running";
    else
        phase = "Pending";
    int all_ready = n && t.ready == n && initialized && !init_failed;
    json_t *conds = json_array ();
    json_array_append_new (conds, tr_condition (tv_get (old, "conditions"), "Initialized", initialized && !init_failed,
                                                initialized && !init_failed ? NULL : "ContainersNotInitialized", NULL, now));
    json_array_append_new (conds, tr_condition (tv_get (old, "conditions"), "Ready", all_ready,
                                                all_ready ? NULL : "ContainersNotReady", NULL, now));
    json_array_append_new (conds, tr_condition (tv_get (old, "conditions"), "ContainersReady", all_ready,
                                                all_ready ? NULL : "ContainersNotReady", NULL, now));
    json_array_append_new (conds, tr_condition (tv_get (old, "conditions"), "PodScheduled", 1, NULL, NULL, now));
    if (evicted)
        json_array_append_new (conds, tr_condition (tv_get (old, "conditions"), "DisruptionTarget", 1, "TerminationByKubelet",
                                                    ev_msg, now));
    const char *start = tv_str (old, "startTime");
    const char *qos_class = podres_qos (pod);
    out->status = json_pack ("{s:s,s:o,s:s,s:s,s:o,s:s}", "phase", phase, "conditions", conds, "hostIP", host_ip,
                             "startTime", start ? start : now, "containerStatuses", statuses, "qosClass",
                             qos_class ? qos_class : "BestEffort");
    if (evicted) {
        json_object_set_new (out->status, "reason", json_string ("Evicted"));
        json_object_set_new (out->status, "message", json_string (ev_msg ? ev_msg : ""));
    }
    if (json_array_size (init_statuses))
        json_object_set_new (out->status, "initContainerStatuses", init_statuses);
    else
        json_decref (init_statuses);
    if (c.pod_ip[0]) {
        json_object_set_new (out->status, "podIP", json_string (c.pod_ip));
        json_object_set_new (out->status, "podIPs", json_pack ("[{s:s}]", "ip", c.pod_ip));
    }
    out->removable = deleting && t.running == 0 && init_running == 0;
    /* evicted and nothing runs: the pod's content goes while its object stays (the kubelet's
     * ShouldPodContentBeRemoved): every container record, then the sandbox and the volumes */
    if (evicted && !deleting && t.running == 0 && init_running == 0) {
        out->reclaim = 1;
        json_array_foreach (runtime, ri, rr) {
            const char *id = tv_str (rr, "containerId");
            int queued = 0;
            for (int k = 0; k < out->n; k++)
                queued |= out->actions[k].kind == PODSYNC_REMOVE && id && !strcmp (out->actions[k].id, id);
            if (id && !queued && !is (rr, CRI_STATE_RUNNING))
                add (out, PODSYNC_REMOVE, tv_str (rr, "name"), id, 0, 0);
        }
    }
}

/* The top-level status fields the agent owns (conditions apart). */
static const char *const owned[] = {"phase",   "hostIP", "startTime", "podIP",             "podIPs",
                                    "qosClass", "reason", "message",   "containerStatuses", "initContainerStatuses"};

/* The element of the list conds whose type is type, or NULL. */
static const json_t *
condition_of (const json_t *conds, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach (conds, i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), type)) return c;
    return NULL;
}

json_t *
podsync_status_patch (const json_t *current, const json_t *status)
{
    json_t *patch = json_object ();
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        const json_t *want = json_object_get (status, owned[i]), *has = json_object_get (current, owned[i]);
        if (want && !json_equal (want, has))
            json_object_set (patch, owned[i], (json_t *) want);
        else if (!want && has && !json_is_null (has))
            json_object_set_new (patch, owned[i], json_null ());
    }
    json_t *conds = json_array ();
    size_t i;
    const json_t *c;
    json_array_foreach (json_object_get (status, "conditions"), i, c) {
        const char *type = tv_str (c, "type");
        const json_t *old = type ? condition_of (json_object_get (current, "conditions"), type) : NULL;
        if (!type || json_equal (c, old))
            continue;
        json_t *e = json_deep_copy (c);
        const char *k;
        const json_t *v;
        json_object_foreach ((json_t *) old, k, v) if (!json_object_get (c, k)) json_object_set_new (e, k, json_null ());
        json_array_append_new (conds, e);
    }
    if (json_array_size (conds))
        json_object_set_new (patch, "conditions", conds);
    else
        json_decref (conds);
    if (!json_object_size (patch)) {
        json_decref (patch);
        return NULL;
    }
    return json_pack ("{s:o}", "status", patch);
}
