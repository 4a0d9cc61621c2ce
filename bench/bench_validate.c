/* bench_validate — the schema work of a pod's writes in the scheduler benchmark, without sockets
 * or store: the create's defaulting and validation (as bk_h_create), then the binding (spec.nodeName
 * and PodScheduled, as binding_next) and the hollow node's strategic-merge patch of pods/status
 * (Running) through bk_update_schema, the schema part of every update (write_update). Each is
 * timed over --n rounds; the update lines give their cost as a ratio to the create's, measured in
 * the same run.
 *
 *   build/bench_validate [--n 20000] [--updates-only]
 *       one line per pod shape (plain, with required node affinity and a spread constraint):
 *       ns per create, binding, status patch, and the two ratios. --updates-only: one create (its
 *       time is then noise), for a profile of the updates alone.
 */
#include "broker/broker_int.h"
#include "broker/immutable.h"
#include "core/meta.h"
#include "core/schema.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* SchedulingBasic's pod (bench/sched/schedload.c), optionally with affinity and spreading */
static json_t *
make_pod (int rich)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:I,s:[{s:s,s:s,s:[s,s],s:{s:{s:s,s:s}}}]}}", "apiVersion",
                           "v1", "kind", "Pod", "metadata", "name", "run-17", "namespace", "bench", "labels", "bench", "run",
                           "workload", "SchedulingBasic", "spec", "terminationGracePeriodSeconds", (json_int_t) 0,
                           "containers", "name", "c", "image", "busybox", "command", "sleep", "3600", "resources", "requests",
                           "cpu", "100m", "memory", "50Mi");
    if (rich) {
        json_t *spec = json_object_get (p, "spec");
        json_object_set_new (spec, "affinity", json_pack ("{s:{s:{s:[{s:[{s:s,s:s}]}]}}}", "nodeAffinity",
                                                          "requiredDuringSchedulingIgnoredDuringExecution",
                                                          "nodeSelectorTerms", "matchExpressions", "key",
                                                          "topology.kubernetes.io/zone", "operator", "Exists"));
        json_object_set_new (spec, "topologySpreadConstraints",
                             json_pack ("[{s:i,s:s,s:s,s:{s:{s:s}}}]", "maxSkew", 1, "topologyKey",
                                        "topology.kubernetes.io/zone", "whenUnsatisfiable", "DoNotSchedule",
                                        "labelSelector", "matchLabels", "bench", "run"));
        json_object_set_new (json_array_get (json_object_get (spec, "containers"), 0), "readinessProbe",
                             json_pack ("{s:{s:[s]}}", "exec", "command", "true"));
    }
    return p;
}

/* binding_next's new version of cur */
static json_t *
bind_pod (const json_t *cur)
{
    json_t *next = json_copy ((json_t *) cur);
    tv_unshare (next, "spec");
    tv_unshare (next, "status");
    tv_set_str (next, "spec.nodeName", "hollow-node-42");
    json_t *conds = json_array ();
    json_array_append_new (conds, tr_condition (NULL, "PodScheduled", 1, NULL, NULL, "2026-01-01T00:00:00Z"));
    tv_set (next, "status.conditions", conds);
    return next;
}

/* the hollow node's status patch (as podsync_status_patch writes it for a running pod) */
static json_t *
running_patch (void)
{
    const char *ts = "2026-01-01T00:00:01Z";
    json_t *conds = json_array ();
    static const char *const types[] = {"Initialized", "ContainersReady", "Ready"};
    for (int i = 0; i < 3; i++)
        json_array_append_new (conds, tr_condition (NULL, types[i], 1, NULL, NULL, ts));
    return json_pack ("{s:{s:s,s:s,s:s,s:[{s:s}],s:s,s:o,s:[{s:s,s:b,s:b,s:i,s:s,s:s,s:{s:{s:s}}}]}}", "status",
                      "phase", "Running", "hostIP", "10.1.0.42", "podIP", "10.244.42.7", "podIPs", "ip", "10.244.42.7",
                      "startTime", ts, "conditions", conds, "containerStatuses", "name", "c", "ready", 1, "started", 1,
                      "restartCount", 0, "image", "busybox", "containerID", "hollow://c-17", "state", "running",
                      "startedAt", ts);
}

static void
fail (const char *what, const char *err)
{
    fprintf (stderr, "bench_validate: %s: %s\n", what, err);
    exit (1);
}

static int creates_once; /* --updates-only: a profile of the updates alone */

static void
one_shape (const schema_registry_t *r, const char *label, int rich, int n)
{
    const schema_kind_t *sk = schema_kind_lookup (r, "Pod");
    json_t *body = make_pod (rich), *patch = running_patch (), *created = NULL, *bound = NULL;
    char err[1024];
    int renewal;
    double t0 = now_s ();
    int nc = creates_once ? 1 : n;
    for (int i = 0; i < nc; i++) { /* bk_h_create: a copy of the body, defaulted and validated */
        json_t *obj = json_deep_copy (body);
        schema_default_update (r, obj, NULL);
        if (schema_validate_update (r, obj, NULL, err, sizeof err))
            fail ("create", err);
        if (i == nc - 1)
            created = obj;
        else
            json_decref (obj);
    }
    double t_create = (now_s () - t0) / nc;
    bk_stamp_new (created);
    tv_set_str (created, "metadata.resourceVersion", "1000");
    t0 = now_s ();
    for (int i = 0; i < n; i++) {
        json_t *next = bind_pod (created);
        if (bk_update_schema (r, sk, created, next, 0, 0, &renewal, err, sizeof err))
            fail ("binding", err);
        if (i == n - 1)
            bound = next;
        else
            json_decref (next);
    }
    double t_bind = (now_s () - t0) / n;
    tv_set_str (bound, "metadata.resourceVersion", "1001");
    t0 = now_s ();
    for (int i = 0; i < n; i++) {
        json_t *next = immutable_prepare_own (bound, tv_strategic_patch_new (bound, patch), IMM_SUB_STATUS);
        if (bk_update_schema (r, sk, bound, next, 0, 0, &renewal, err, sizeof err))
            fail ("status patch", err);
        json_decref (next);
    }
    double t_status = (now_s () - t0) / n;
    printf ("%-10s create %7.0f ns   binding %7.0f ns (%.2fx create)   status patch %7.0f ns (%.2fx create)\n", label,
            t_create * 1e9, t_bind * 1e9, t_bind / t_create, t_status * 1e9, t_status / t_create);
    json_decref (body);
    json_decref (patch);
    json_decref (created);
    json_decref (bound);
}

int
main (int argc, char **argv)
{
    int n = 20000;
    for (int i = 1; i < argc; i++)
        if (!strcmp (argv[i], "--n") && i + 1 < argc)
            n = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--updates-only"))
            creates_once = 1;
    if (n < 1)
        n = 1;
    char err[256];
    schema_registry_t *r = schema_registry_load_embedded (err, sizeof err);
    if (!r)
        fail ("schemas", err);
    one_shape (r, "plain", 0, n);
    one_shape (r, "affinity", 1, n);
    schema_registry_destroy (&r);
    return 0;
}
