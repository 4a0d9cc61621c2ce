/* podsync, pure: first start, running status, restart policies and phases, back-off 0/10/20/40..300
 * s and its reset, CrashLoopBackOff, CreateContainerError without a command, graceful deletion,
 * removal of old attempts, init containers in order (failure under Always and Never), readiness and
 * started from the prober's verdict; the status write, a patch that keeps what others wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "actors/agent/podsync.h"
#include "core/value.h"

#define T0 1800000000000LL

static json_t *
pod (const char *policy)
{
    return json_pack ("{s:{s:s,s:s,s:s},s:{s:s,s:i,s:[{s:s,s:s,s:[s]}]}}", "metadata", "name", "p", "namespace", "default",
                      "uid", "u1", "spec", "restartPolicy", policy, "terminationGracePeriodSeconds", 7, "containers",
                      "name", "c", "image", "busybox", "command", "sleep");
}

static json_t *
rec (const char *id, int attempt, const char *state, int code, int64_t started, int64_t finished)
{
    return json_pack ("{s:s,s:s,s:s,s:i,s:s,s:i,s:I,s:I,s:s}", "containerId", id, "podUid", "u1", "name", "c", "attempt",
                      attempt, "state", state, "exitCode", code, "startedAt", (json_int_t) started, "finishedAt",
                      (json_int_t) finished, "reason", code ? "Error" : "Completed");
}

static const char *
waiting_reason (const podsync_result_t *r)
{
    return tv_str (json_array_get (tv_get (r->status, "containerStatuses"), 0), "state.waiting.reason");
}

static void
start_then_running (void **state)
{
    (void) state;
    json_t *p = pod ("Always"), *bo = json_object (), *rt = json_array ();
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_START);
    assert_int_equal (r.actions[0].attempt, 0);
    assert_string_equal (tv_str (r.status, "phase"), "Pending");
    assert_string_equal (waiting_reason (&r), "ContainerCreating");
    podsync_result_clear (&r);
    json_array_append_new (rt, rec ("c0", 0, "RUNNING", 0, T0, 0));
    podsync_compute (p, rt, bo, T0 + 1000, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 0);
    assert_string_equal (tv_str (r.status, "phase"), "Running");
    assert_string_equal (tv_str (r.status, "podIP"), "10.0.0.1");
    json_t *cs = json_array_get (tv_get (r.status, "containerStatuses"), 0);
    assert_true (json_is_true (json_object_get (cs, "ready")));
    assert_string_equal (tv_str (cs, "containerID"), "process://c0");
    size_t i;
    json_t *c;
    int ready = 0;
    json_array_foreach (tv_get (r.status, "conditions"), i, c) ready |= !strcmp (tv_str (c, "type"), "Ready") && !strcmp (tv_str (c, "status"), "True");
    assert_true (ready);
    podsync_result_clear (&r);
    json_decref (p);
    json_decref (bo);
    json_decref (rt);
}

static void
backoff_sequence (void **state)
{
    (void) state;
    json_t *p = pod ("Always"), *bo = json_object ();
    int64_t t = T0;
    int64_t expect[] = {0, 10000, 20000, 40000, 80000, 160000, 300000, 300000};
    for (int attempt = 0; attempt < 8; attempt++) {
        json_t *rt = json_array ();
        json_array_append_new (rt, rec ("x", attempt, "EXITED", 1, t, t + 1000)); /* crashes after 1 s */
        podsync_result_t r;
        /* just before the delay: CrashLoopBackOff (except the first, immediate restart) */
        if (expect[attempt]) {
            podsync_compute (p, rt, bo, t + 1000 + expect[attempt] - 1, "h", "process", &r);
            assert_int_equal (r.n, 0);
            assert_string_equal (waiting_reason (&r), "CrashLoopBackOff");
            assert_int_equal (tv_int (json_array_get (tv_get (r.status, "containerStatuses"), 0), "restartCount", -1), attempt);
            assert_string_equal (tv_str (r.status, "phase"), "Running");
            podsync_result_clear (&r);
        }
        podsync_compute (p, rt, bo, t + 1000 + expect[attempt], "h", "process", &r);
        assert_int_equal (r.n, 1);
        assert_int_equal (r.actions[0].kind, PODSYNC_START);
        assert_int_equal (r.actions[0].attempt, attempt + 1);
        podsync_result_clear (&r);
        json_decref (rt);
        t += 1000 + expect[attempt];
    }
    /* a run of 10 minutes resets the back-off: the next restart is immediate */
    json_t *rt = json_array ();
    json_array_append_new (rt, rec ("y", 8, "EXITED", 1, t, t + PODSYNC_BACKOFF_RESET_MS));
    podsync_result_t r;
    podsync_compute (p, rt, bo, t + PODSYNC_BACKOFF_RESET_MS, "h", "process", &r);
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_START);
    podsync_result_clear (&r);
    json_decref (rt);
    json_decref (p);
    json_decref (bo);
}

static void
policies_and_phases (void **state)
{
    (void) state;
    struct {
        const char *policy;
        int code;
        int restarts;
        const char *phase;
    } cases[] = {{"Never", 0, 0, "Succeeded"}, {"Never", 3, 0, "Failed"}, {"OnFailure", 0, 0, "Succeeded"},
                 {"OnFailure", 3, 1, "Running"}, {"Always", 0, 1, "Running"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *p = pod (cases[i].policy), *bo = json_object (), *rt = json_array ();
        json_array_append_new (rt, rec ("z", 0, "EXITED", cases[i].code, T0, T0 + 5));
        podsync_result_t r;
        podsync_compute (p, rt, bo, T0 + 10, "h", "process", &r);
        assert_int_equal (r.n, cases[i].restarts);
        if (strcmp (tv_str (r.status, "phase"), cases[i].phase))
            fail_msg ("%s exit %d: phase %s, want %s", cases[i].policy, cases[i].code, tv_str (r.status, "phase"), cases[i].phase);
        if (!cases[i].restarts)
            assert_int_equal (tv_int (json_array_get (tv_get (r.status, "containerStatuses"), 0), "state.terminated.exitCode", -1),
                              cases[i].code);
        podsync_result_clear (&r);
        json_decref (p);
        json_decref (bo);
        json_decref (rt);
    }
}

static void
no_command_and_deletion (void **state)
{
    (void) state;
    json_t *p = pod ("Always"), *bo = json_object (), *rt = json_array ();
    json_object_del (json_array_get (tv_get (p, "spec.containers"), 0), "command");
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0, "h", "process", &r);
    assert_int_equal (r.n, 0);
    assert_string_equal (waiting_reason (&r), "CreateContainerError");
    assert_non_null (strstr (tv_str (json_array_get (tv_get (r.status, "containerStatuses"), 0), "state.waiting.message"), "needs a command"));
    podsync_result_clear (&r);
    json_decref (p);
    /* deletion: stop with the grace period, removable once nothing runs; old attempts removed */
    p = pod ("Always");
    tv_set_str (p, "metadata.deletionTimestamp", "2027-01-01T00:00:00Z");
    json_array_append_new (rt, rec ("old", 0, "EXITED", 1, T0, T0));
    json_array_append_new (rt, rec ("mid", 1, "EXITED", 1, T0, T0));
    json_array_append_new (rt, rec ("cur", 2, "RUNNING", 0, T0, 0));
    podsync_compute (p, rt, bo, T0, "h", "process", &r);
    int stops = 0, removes = 0;
    for (int i = 0; i < r.n; i++) {
        if (r.actions[i].kind == PODSYNC_STOP) {
            stops++;
            assert_string_equal (r.actions[i].id, "cur");
            assert_int_equal (r.actions[i].timeout_s, 7);
        }
        if (r.actions[i].kind == PODSYNC_REMOVE) {
            removes++;
            assert_string_equal (r.actions[i].id, "old"); /* "mid" stays for logs --previous */
        }
    }
    assert_int_equal (stops, 1);
    assert_int_equal (removes, 1);
    assert_false (r.removable);
    podsync_result_clear (&r);
    json_array_clear (rt);
    json_array_append_new (rt, rec ("cur", 2, "EXITED", 143, T0, T0 + 10));
    podsync_compute (p, rt, bo, T0 + 20, "h", "process", &r);
    assert_true (r.removable);
    podsync_result_clear (&r);
    json_decref (p);
    json_decref (bo);
    json_decref (rt);
}

/* An updated image restarts the container at once, even under restartPolicy Never */
static void
image_update_restarts (void **state)
{
    (void) state;
    json_t *p = pod ("Never"), *bo = json_object (), *rt = json_array ();
    json_t *c0 = rec ("c0", 0, "RUNNING", 0, T0, 0);
    tv_set_str (c0, "image", "busybox");
    json_array_append_new (rt, c0);
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0 + 1000, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 0); /* the same image: nothing to do */
    podsync_result_clear (&r);
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "image", json_string ("busybox:2"));
    podsync_compute (p, rt, bo, T0 + 2000, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_STOP);
    assert_string_equal (r.actions[0].id, "c0");
    assert_int_equal (r.actions[0].timeout_s, 7);
    podsync_result_clear (&r);
    /* stopped (137): started again at once as attempt 1, not left Failed under Never */
    json_array_clear (rt);
    c0 = rec ("c0", 0, "EXITED", 137, T0, T0 + 3000);
    tv_set_str (c0, "image", "busybox");
    json_array_append_new (rt, c0);
    podsync_compute (p, rt, bo, T0 + 3001, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_START);
    assert_int_equal (r.actions[0].attempt, 1);
    assert_string_equal (waiting_reason (&r), "ContainerCreating");
    podsync_result_clear (&r);
    /* the new attempt runs the new image; when it exits, Never holds again */
    json_t *c1 = rec ("c1", 1, "EXITED", 1, T0 + 4000, T0 + 5000);
    tv_set_str (c1, "image", "busybox:2");
    json_array_append_new (rt, c1);
    podsync_compute (p, rt, bo, T0 + 6000, "10.0.0.1", "process", &r);
    for (int i = 0; i < r.n; i++)
        assert_int_not_equal (r.actions[i].kind, PODSYNC_START);
    assert_string_equal (tv_str (r.status, "phase"), "Failed");
    podsync_result_clear (&r);
    json_decref (p);
    json_decref (bo);
    json_decref (rt);
}

static json_t *
nrec (const char *name, const char *id, int attempt, const char *state, int code, int64_t started, int64_t finished)
{
    json_t *r = rec (id, attempt, state, code, started, finished);
    json_object_set_new (r, "name", json_string (name));
    return r;
}

static const char *
cond (const podsync_result_t *r, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (r->status, "conditions"), i, c) if (!strcmp (tv_str (c, "type"), type)) return tv_str (c, "status");
    return NULL;
}

/* Two init containers run one after the other, each to success, before the app container;
 * the phase stays Pending and Initialized False meanwhile. */
static void
init_containers_in_order (void **state)
{
    (void) state;
    json_t *p = pod ("Always"), *bo = json_object (), *rt = json_array ();
    json_object_set_new (json_object_get (p, "spec"), "initContainers",
                         json_pack ("[{s:s,s:s,s:[s]},{s:s,s:s,s:[s]}]", "name", "i1", "image", "busybox", "command", "true",
                                    "name", "i2", "image", "busybox", "command", "true"));
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_START);
    assert_string_equal (r.actions[0].container, "i1");
    assert_string_equal (tv_str (r.status, "phase"), "Pending");
    assert_string_equal (cond (&r, "Initialized"), "False");
    assert_string_equal (waiting_reason (&r), "PodInitializing");
    assert_int_equal (json_array_size (tv_get (r.status, "initContainerStatuses")), 2);
    assert_string_equal (tv_str (json_array_get (tv_get (r.status, "initContainerStatuses"), 1), "state.waiting.reason"),
                         "PodInitializing");
    podsync_result_clear (&r);
    /* i1 runs: nothing else starts */
    json_array_append_new (rt, nrec ("i1", "a", 0, "RUNNING", 0, T0, 0));
    podsync_compute (p, rt, bo, T0 + 100, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 0);
    assert_false (json_is_true (tv_get (json_array_get (tv_get (r.status, "initContainerStatuses"), 0), "ready")));
    podsync_result_clear (&r);
    /* i1 done: i2 starts, i1 is not restarted although the policy is Always */
    json_array_clear (rt);
    json_array_append_new (rt, nrec ("i1", "a", 0, "EXITED", 0, T0, T0 + 500));
    podsync_compute (p, rt, bo, T0 + 600, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 1);
    assert_string_equal (r.actions[0].container, "i2");
    assert_string_equal (tv_str (r.status, "phase"), "Pending");
    json_t *i1 = json_array_get (tv_get (r.status, "initContainerStatuses"), 0);
    assert_string_equal (tv_str (i1, "state.terminated.reason"), "Completed");
    assert_true (json_is_true (json_object_get (i1, "ready")));
    podsync_result_clear (&r);
    /* both done: the app starts; Initialized True */
    json_array_append_new (rt, nrec ("i2", "b", 0, "EXITED", 0, T0 + 700, T0 + 900));
    podsync_compute (p, rt, bo, T0 + 1000, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 1);
    assert_string_equal (r.actions[0].container, "c");
    assert_string_equal (cond (&r, "Initialized"), "True");
    podsync_result_clear (&r);
    /* the app runs: Running, Ready; the init containers are not run again even once their
     * records are gone */
    json_array_clear (rt);
    json_array_append_new (rt, rec ("c0", 0, "RUNNING", 0, T0 + 1100, 0));
    podsync_compute (p, rt, bo, T0 + 1200, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 0);
    assert_string_equal (tv_str (r.status, "phase"), "Running");
    assert_string_equal (cond (&r, "Initialized"), "True");
    assert_string_equal (cond (&r, "Ready"), "True");
    podsync_result_clear (&r);
    json_decref (p);
    json_decref (bo);
    json_decref (rt);
}

/* A failed init container restarts with back-off (OnFailure/Always); under Never the pod fails
 * and the app never starts. */
static void
init_container_failure (void **state)
{
    (void) state;
    const char *policies[] = {"Always", "Never"};
    for (int k = 0; k < 2; k++) {
        json_t *p = pod (policies[k]), *bo = json_object (), *rt = json_array ();
        json_object_set_new (json_object_get (p, "spec"), "initContainers",
                             json_pack ("[{s:s,s:s,s:[s]}]", "name", "i1", "image", "busybox", "command", "false"));
        json_array_append_new (rt, nrec ("i1", "a", 0, "EXITED", 1, T0, T0 + 500));
        podsync_result_t r;
        podsync_compute (p, rt, bo, T0 + 600, "10.0.0.1", "process", &r);
        if (k == 0) {
            assert_int_equal (r.n, 1); /* the first restart is immediate */
            assert_string_equal (r.actions[0].container, "i1");
            assert_int_equal (r.actions[0].attempt, 1);
            assert_string_equal (tv_str (r.status, "phase"), "Pending");
            podsync_result_clear (&r);
            json_array_append_new (rt, nrec ("i1", "b", 1, "EXITED", 1, T0 + 700, T0 + 800));
            podsync_compute (p, rt, bo, T0 + 900, "10.0.0.1", "process", &r);
            assert_int_equal (r.n, 0);
            assert_string_equal (tv_str (json_array_get (tv_get (r.status, "initContainerStatuses"), 0), "state.waiting.reason"),
                                 "CrashLoopBackOff");
        } else {
            assert_int_equal (r.n, 0);
            assert_string_equal (tv_str (r.status, "phase"), "Failed");
            assert_string_equal (cond (&r, "Initialized"), "False");
            assert_string_equal (waiting_reason (&r), "PodInitializing");
        }
        podsync_result_clear (&r);
        json_decref (p);
        json_decref (bo);
        json_decref (rt);
    }
}

/* A running container with a readiness probe is not ready until the prober says so (for that
 * container id); a startup probe keeps started false; a verdict for an older id is ignored. */
static void
probe_verdicts (void **state)
{
    (void) state;
    json_t *p = pod ("Always"), *bo = json_object (), *rt = json_array ();
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "readinessProbe",
                         json_pack ("{s:{s:[s]}}", "exec", "command", "true"));
    json_array_append_new (rt, rec ("c0", 0, "RUNNING", 0, T0, 0));
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0 + 100, "10.0.0.1", "oci", &r);
    json_t *cs = json_array_get (tv_get (r.status, "containerStatuses"), 0);
    assert_false (json_is_true (json_object_get (cs, "ready")));
    assert_true (json_is_true (json_object_get (cs, "started")));
    assert_string_equal (tv_str (r.status, "phase"), "Running");
    assert_string_equal (cond (&r, "Ready"), "False");
    assert_string_equal (cond (&r, "ContainersReady"), "False");
    podsync_result_clear (&r);
    json_object_set_new (bo, "probe:c", json_pack ("{s:s,s:b,s:b}", "containerId", "old", "ready", 1, "started", 1));
    podsync_compute (p, rt, bo, T0 + 200, "10.0.0.1", "oci", &r);
    assert_string_equal (cond (&r, "Ready"), "False");
    podsync_result_clear (&r);
    json_object_set_new (bo, "probe:c", json_pack ("{s:s,s:b,s:b}", "containerId", "c0", "ready", 1, "started", 1));
    podsync_compute (p, rt, bo, T0 + 300, "10.0.0.1", "oci", &r);
    assert_true (json_is_true (tv_get (json_array_get (tv_get (r.status, "containerStatuses"), 0), "ready")));
    assert_string_equal (cond (&r, "Ready"), "True");
    assert_string_equal (cond (&r, "ContainersReady"), "True");
    podsync_result_clear (&r);
    /* the process runtime cannot run an exec probe: the container waits, saying so, and is not started */
    json_t *rt0 = json_array ();
    podsync_compute (p, rt0, bo, T0 + 350, "10.0.0.1", "process", &r);
    assert_int_equal (r.n, 0);
    assert_string_equal (waiting_reason (&r), "CreateContainerError");
    assert_non_null (strstr (tv_str (json_array_get (tv_get (r.status, "containerStatuses"), 0), "state.waiting.message"), "exec probes"));
    podsync_result_clear (&r);
    podsync_compute (p, rt0, bo, T0 + 350, "10.0.0.1", "oci", &r);
    assert_int_equal (r.n, 1); /* the oci runtime runs it */
    podsync_result_clear (&r);
    json_decref (rt0);
    /* a startup probe without verdict: not started, not ready */
    json_object_clear (bo);
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "startupProbe",
                         json_pack ("{s:{s:[s]}}", "exec", "command", "true"));
    podsync_compute (p, rt, bo, T0 + 400, "10.0.0.1", "oci", &r);
    cs = json_array_get (tv_get (r.status, "containerStatuses"), 0);
    assert_false (json_is_true (json_object_get (cs, "started")));
    assert_false (json_is_true (json_object_get (cs, "ready")));
    podsync_result_clear (&r);
    json_decref (p);
    json_decref (bo);
    json_decref (rt);
}

/* Eviction: backoff["evict"] kills the running container at once (grace 0), starts nothing, and
 * the status is Failed / Evicted with the message and a DisruptionTarget condition; the pod is not
 * removable (the object stays). After the agent restarted (no "evict" in its map), the stored
 * status alone keeps the pod terminal: an exited container is not restarted under Always; with
 * nothing running its records are removed and `reclaim` set (sandbox, volumes), and once they are
 * gone the status keeps the container's terminated state and the pod's IP. */
static void
eviction (void **state)
{
    (void) state;
    const char *msg = "Usage of EmptyDir volume \"x\" exceeds the limit \"1Mi\". ";
    json_t *p = pod ("Always"), *bo = json_object (), *rt = json_array ();
    json_array_append_new (rt, rec ("c0", 0, "RUNNING", 0, T0, 0));
    json_object_set_new (bo, "evict", json_pack ("{s:s}", "message", msg));
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0 + 1000, "10.0.0.1", "oci", &r);
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_STOP);
    assert_string_equal (r.actions[0].id, "c0");
    assert_int_equal (r.actions[0].timeout_s, 0);
    assert_string_equal (tv_str (r.status, "phase"), "Failed");
    assert_string_equal (tv_str (r.status, "reason"), "Evicted");
    assert_string_equal (tv_str (r.status, "message"), msg);
    assert_false (r.removable);
    assert_false (r.reclaim); /* still running */
    size_t i;
    json_t *c;
    int dt = 0;
    json_array_foreach (tv_get (r.status, "conditions"), i, c) dt |= !strcmp (tv_str (c, "type"), "DisruptionTarget") &&
                                                                   !strcmp (tv_str (c, "status"), "True") &&
                                                                   !strcmp (tv_str (c, "reason"), "TerminationByKubelet");
    assert_true (dt);
    /* the status as written; a new agent without the map entry; the container exited */
    json_object_set (p, "status", r.status);
    podsync_result_clear (&r);
    json_t *bo2 = json_object (), *rt2 = json_array ();
    json_array_append_new (rt2, rec ("c0", 0, "EXITED", 137, T0, T0 + 1500));
    podsync_compute (p, rt2, bo2, T0 + 60000, "10.0.0.1", "oci", &r);
    /* no restart under Always; nothing runs: the exited container is removed and the sandbox and
     * volumes may go, the object staying */
    assert_int_equal (r.n, 1);
    assert_int_equal (r.actions[0].kind, PODSYNC_REMOVE);
    assert_string_equal (r.actions[0].id, "c0");
    assert_true (r.reclaim);
    assert_false (r.removable);
    assert_string_equal (tv_str (r.status, "phase"), "Failed");
    assert_string_equal (tv_str (r.status, "reason"), "Evicted");
    assert_int_equal (tv_int (json_array_get (tv_get (r.status, "containerStatuses"), 0), "state.terminated.exitCode", -1), 137);
    json_object_set (p, "status", r.status);
    tv_set_str (p, "status.podIP", "10.88.0.7");
    podsync_result_clear (&r);
    /* its records gone: nothing to do but reclaim, nothing started; the terminated status and the
     * pod's IP stay as reported */
    json_t *none = json_array ();
    podsync_compute (p, none, bo2, T0 + 62000, "10.0.0.1", "oci", &r);
    assert_int_equal (r.n, 0);
    assert_true (r.reclaim);
    assert_int_equal (tv_int (json_array_get (tv_get (r.status, "containerStatuses"), 0), "state.terminated.exitCode", -1), 137);
    assert_string_equal (tv_str (r.status, "podIP"), "10.88.0.7");
    assert_string_equal (tv_str (r.status, "phase"), "Failed");
    podsync_result_clear (&r);
    json_decref (none);
    /* deleted afterwards: removable once nothing runs */
    tv_set_str (p, "metadata.deletionTimestamp", "2027-01-01T00:00:00Z");
    podsync_compute (p, rt2, bo2, T0 + 61000, "10.0.0.1", "oci", &r);
    assert_true (r.removable);
    assert_false (r.reclaim); /* the deletion takes it all */
    podsync_result_clear (&r);
    json_decref (p);
    json_decref (bo);
    json_decref (bo2);
    json_decref (rt);
    json_decref (rt2);
}

/* The condition of type t in a status, or NULL. */
static json_t *
scond (const json_t *status, const char *t)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (status, "conditions"), i, c) if (!strcmp (tv_str (c, "type"), t)) return c;
    return NULL;
}

/* The agent's status write applied as the broker applies a strategic merge patch of pods/status:
 * the stored status after it. */
static json_t *
written (const json_t *stored, const json_t *status)
{
    json_t *obj = json_pack ("{s:O}", "status", stored);
    json_t *patch = podsync_status_patch (stored, status);
    if (patch) {
        assert_int_equal (tv_strategic_patch (obj, patch), 0);
        /* written once, nothing left to write */
        json_t *again = podsync_status_patch (tv_get (obj, "status"), status);
        assert_null (again);
        json_decref (patch);
    }
    json_t *out = json_incref (tv_get (obj, "status"));
    json_decref (obj);
    return out;
}

static void
status_patch_keeps_others (void **state)
{
    (void) state;
    json_t *p = pod ("Always"), *bo = json_object (), *rt = json_array ();
    json_array_append_new (rt, rec ("c0", 0, "RUNNING", 0, T0, 0));
    podsync_result_t r;
    podsync_compute (p, rt, bo, T0 + 1000, "10.0.0.1", "process", &r);
    /* what others wrote besides: the scheduler's nomination and its DisruptionTarget on a victim,
     * a readiness gate's condition */
    json_t *stored = json_deep_copy (r.status);
    json_object_set_new (stored, "nominatedNodeName", json_string ("n2"));
    json_array_append_new (json_object_get (stored, "conditions"),
                           json_pack ("{s:s,s:s,s:s}", "type", "example.com/gate", "status", "True", "lastTransitionTime",
                                      "2027-01-01T00:00:00Z"));
    json_array_append_new (json_object_get (stored, "conditions"),
                           json_pack ("{s:s,s:s,s:s,s:s}", "type", "DisruptionTarget", "status", "True", "reason",
                                      "PreemptionByScheduler", "message", "default-scheduler: preempting"));
    /* nothing the agent owns changed: no write at all */
    assert_null (podsync_status_patch (stored, r.status));
    podsync_result_clear (&r);
    /* the container exits and restarts: a write that keeps them */
    json_object_set (p, "status", stored);
    json_array_clear (rt);
    json_array_append_new (rt, rec ("c0", 0, "EXITED", 1, T0, T0 + 2000));
    podsync_compute (p, rt, bo, T0 + 2000, "10.0.0.1", "process", &r);
    json_t *patch = podsync_status_patch (stored, r.status);
    assert_non_null (patch);
    assert_null (tv_get (patch, "status.nominatedNodeName"));
    assert_null (scond (tv_get (patch, "status"), "example.com/gate"));
    assert_null (scond (tv_get (patch, "status"), "DisruptionTarget"));
    assert_null (scond (tv_get (patch, "status"), "PodScheduled")); /* unchanged: not sent */
    assert_non_null (scond (tv_get (patch, "status"), "Ready"));
    json_decref (patch);
    json_t *s2 = written (stored, r.status);
    assert_string_equal (tv_str (s2, "nominatedNodeName"), "n2");
    assert_string_equal (tv_str (scond (s2, "example.com/gate"), "status"), "True");
    assert_string_equal (tv_str (scond (s2, "DisruptionTarget"), "reason"), "PreemptionByScheduler");
    assert_string_equal (tv_str (scond (s2, "Ready"), "status"), "False");
    assert_string_equal (tv_str (scond (s2, "Ready"), "reason"), "ContainersNotReady");
    assert_true (json_equal (json_object_get (s2, "containerStatuses"), json_object_get (r.status, "containerStatuses")));
    assert_int_equal (json_array_size (tv_get (s2, "conditions")), 6);
    podsync_result_clear (&r);
    /* running again: Ready turns True and loses its reason (a null in the patch) */
    json_object_set (p, "status", s2);
    json_array_append_new (rt, rec ("c1", 1, "RUNNING", 0, T0 + 2500, 0));
    podsync_compute (p, rt, bo, T0 + 3000, "10.0.0.1", "process", &r);
    json_t *s3 = written (s2, r.status);
    assert_string_equal (tv_str (scond (s3, "Ready"), "status"), "True");
    assert_null (tv_get (scond (s3, "Ready"), "reason"));
    assert_int_equal (tv_int (json_array_get (tv_get (s3, "containerStatuses"), 0), "restartCount", -1), 1);
    assert_string_equal (tv_str (s3, "nominatedNodeName"), "n2");
    assert_non_null (scond (s3, "example.com/gate"));
    podsync_result_clear (&r);
    /* a field the agent no longer reports goes (null), one it never wrote stays */
    json_t *fake = json_deep_copy (s3);
    json_object_set_new (fake, "reason", json_string ("Stale"));
    json_object_set_new (fake, "podIPs", json_null ());
    json_object_del (fake, "podIPs");
    json_object_set (p, "status", fake);
    podsync_compute (p, rt, bo, T0 + 3500, "10.0.0.1", "process", &r);
    patch = podsync_status_patch (fake, r.status);
    assert_true (json_is_null (tv_get (patch, "status.reason")));
    assert_non_null (tv_get (patch, "status.podIPs"));
    json_decref (patch);
    json_t *s4 = written (fake, r.status);
    assert_null (tv_get (s4, "reason"));
    assert_string_equal (tv_str (s4, "nominatedNodeName"), "n2");
    podsync_result_clear (&r);
    /* evicted: the agent's own DisruptionTarget replaces the scheduler's (merged by type), the
     * gate's condition and the nomination stay */
    json_object_set (p, "status", s4);
    json_object_set_new (bo, "evict", json_pack ("{s:s}", "message", "Usage of EmptyDir"));
    podsync_compute (p, rt, bo, T0 + 4000, "10.0.0.1", "process", &r);
    json_t *s5 = written (s4, r.status);
    assert_string_equal (tv_str (s5, "phase"), "Failed");
    assert_string_equal (tv_str (s5, "reason"), "Evicted");
    assert_string_equal (tv_str (scond (s5, "DisruptionTarget"), "reason"), "TerminationByKubelet");
    assert_string_equal (tv_str (scond (s5, "DisruptionTarget"), "message"), "Usage of EmptyDir");
    assert_non_null (scond (s5, "example.com/gate"));
    assert_string_equal (tv_str (s5, "nominatedNodeName"), "n2");
    assert_int_equal (json_array_size (tv_get (s5, "conditions")), 6);
    podsync_result_clear (&r);
    json_decref (s5);
    json_decref (s4);
    json_decref (fake);
    json_decref (s3);
    json_decref (s2);
    json_decref (stored);
    json_decref (p);
    json_decref (bo);
    json_decref (rt);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (start_then_running), cmocka_unit_test (backoff_sequence),
                                       cmocka_unit_test (policies_and_phases), cmocka_unit_test (no_command_and_deletion),
                                       cmocka_unit_test (image_update_restarts), cmocka_unit_test (init_containers_in_order),
                                       cmocka_unit_test (init_container_failure), cmocka_unit_test (probe_verdicts), cmocka_unit_test (eviction),
                                       cmocka_unit_test (status_patch_keeps_others)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
