/* The disruption controller, pure (actors/controllers/disruption.h): a table of budgets over pods
 * and their controllers (integer and percentage minAvailable, maxUnavailable with ReplicaSet and
 * Deployment scales, pods without a controller, not-Ready and terminating pods, disruptedPods
 * expiry and removal), then every computed status fed back must be left alone (no write). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/controllers/disruption.h"
#include "core/meta.h"
#include "core/value.h"

static json_t *controllers; /* "Kind/name" → object */

static json_t *
rs (const char *name, int replicas, const char *deploy)
{
    char uid[64];
    snprintf (uid, sizeof uid, "u-%s", name);
    json_t *o = json_pack ("{s:s,s:{s:s,s:s,s:s},s:{s:i}}", "kind", "ReplicaSet", "metadata", "name", name, "namespace",
                           "default", "uid", uid, "spec", "replicas", replicas);
    if (deploy) {
        snprintf (uid, sizeof uid, "u-%s", deploy);
        tv_set (o, "metadata.ownerReferences",
                json_pack ("[{s:s,s:s,s:s,s:b}]", "kind", "Deployment", "name", deploy, "uid", uid, "controller", 1));
    }
    return o;
}

static const json_t *
get (void *arg, const char *kind, const char *ns, const char *name)
{
    char k[300];
    assert_string_equal (ns, "default");
    snprintf (k, sizeof k, "%s/%s", kind, name);
    return json_object_get ((json_t *) arg, k);
}

/* "a R rs1": pod a, Ready (R) / not (N), being deleted (D), controlled by ReplicaSet rs1 ("-":
 * no controller); "x@db" labels it app=db; "y^other" puts it in namespace other. */
static json_t *
pods_of (const char *spec)
{
    json_t *out = json_array ();
    char buf[600];
    snprintf (buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r (buf, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char name[64], flags[8], owner[64];
        assert_int_equal (sscanf (item, " %63s %7s %63s", name, flags, owner), 3);
        const char *app = "web", *ns = "default";
        char *at = strchr (name, '@'), *hat = strchr (name, '^');
        if (at)
            *at = 0, app = at + 1;
        if (hat)
            *hat = 0, ns = hat + 1;
        json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind", "Pod",
                               "metadata", "name", name, "namespace", ns, "labels", "app", app, "status", "conditions",
                               "type", "Ready", "status", strchr (flags, 'R') ? "True" : "False");
        if (strchr (flags, 'D'))
            tv_set_str (p, "metadata.deletionTimestamp", "2026-01-01T00:09:30Z");
        if (strcmp (owner, "-")) {
            char uid[80];
            snprintf (uid, sizeof uid, "u-%s", owner);
            tv_set (p, "metadata.ownerReferences",
                    json_pack ("[{s:s,s:s,s:s,s:b}]", "kind", "ReplicaSet", "name", owner, "uid", uid, "controller", 1));
        }
        json_array_append_new (out, p);
    }
    return out;
}

static json_t *
pdb_of (const char *spec, const char *status, int generation)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:i}}", "apiVersion", "policy/v1", "kind", "PodDisruptionBudget",
                           "metadata", "name", "budget", "namespace", "default", "resourceVersion", "7", "generation",
                           generation);
    json_error_t je;
    json_t *s = json_loads (spec, 0, &je);
    if (!s)
        fail_msg ("spec %s: %s", spec, je.text);
    json_object_set_new (p, "spec", s);
    if (status) {
        json_t *st = json_loads (status, 0, &je);
        if (!st)
            fail_msg ("status %s: %s", status, je.text);
        json_object_set_new (p, "status", st);
    }
    return p;
}

#define SEL "\"selector\":{\"matchLabels\":{\"app\":\"web\"}}"

static const struct {
    const char *name;
    const char *spec;   /* JSON */
    const char *status; /* JSON or NULL */
    const char *pods;
    int write, failed;
    int expected, desired, healthy, allowed;
    const char *reason; /* of condition DisruptionAllowed */
    const char *message;
    const char *disrupted; /* JSON of the written disruptedPods ({} for none) */
    const char *recheck;   /* RFC 3339, or NULL for none */
} cases[] = {
    {"int minAvailable, all ready", "{\"minAvailable\":2," SEL "}", NULL, "a R rs1,b R rs1,c R rs1,x@db R rs1,y^other R rs1",
     1, 0, 3, 2, 3, 1, "SufficientPods", "", "{}", NULL},
    {"int minAvailable = pods", "{\"minAvailable\":3," SEL "}", NULL, "a R rs1,b R rs1,c R rs1", 1, 0, 3, 3, 3, 0,
     "InsufficientPods", "", "{}", NULL},
    {"int minAvailable counts pods without a controller", "{\"minAvailable\":1," SEL "}", NULL, "a R -,b R -", 1, 0, 2, 1, 2,
     1, "SufficientPods", "", "{}", NULL},
    {"percent minAvailable uses the ReplicaSet's scale, rounded up", "{\"minAvailable\":\"50%\"," SEL "}", NULL,
     "a R rs1,b R rs1", 1, 0, 3, 2, 2, 0, "InsufficientPods", "", "{}", NULL},
    {"maxUnavailable int with a ReplicaSet", "{\"maxUnavailable\":1," SEL "}", NULL, "a R rs1,b R rs1,c R rs1", 1, 0, 3, 2,
     3, 1, "SufficientPods", "", "{}", NULL},
    {"maxUnavailable percent, two ReplicaSets of one Deployment count as it", "{\"maxUnavailable\":\"34%\"," SEL "}", NULL,
     "a R rsd,b R rsd,c R rsd2,d R rsd2", 1, 0, 4, 2, 4, 2, "SufficientPods", "", "{}", NULL},
    {"maxUnavailable over two distinct controllers sums their scales", "{\"maxUnavailable\":0," SEL "}", NULL,
     "a R rs1,b R rsd", 1, 0, 7, 7, 2, 0, "InsufficientPods", "", "{}", NULL},
    {"maxUnavailable above the scale: desiredHealthy 0", "{\"maxUnavailable\":5," SEL "}", NULL, "a R rs1,b N rs1", 1, 0, 3,
     0, 1, 1, "SufficientPods", "", "{}", NULL},
    {"pod without a controller: left out of expectedPods, still healthy", "{\"maxUnavailable\":1," SEL "}", NULL,
     "a R rs1,b R -", 1, 0, 3, 2, 2, 0, "InsufficientPods", "", "{}", NULL},
    {"only pods without a controller: nothing expected, nothing allowed", "{\"maxUnavailable\":\"50%\"," SEL "}", NULL,
     "a R -,b R -", 1, 0, 0, 0, 2, 0, "InsufficientPods", "", "{}", NULL},
    {"percent minAvailable, controller missing: SyncFailed", "{\"minAvailable\":\"50%\"," SEL "}", NULL, "a R rs1,b R gone",
     1, 1, -1, -1, -1, 0, "SyncFailed", "found no controllers for pod \"b\"", NULL, NULL},
    {"ReplicaSet of a Deployment gone: SyncFailed", "{\"maxUnavailable\":1," SEL "}", NULL, "a R rsorphan", 1, 1, -1, -1, -1,
     0, "SyncFailed", "found no controllers for pod \"a\"", NULL, NULL},
    {"SyncFailed keeps the old counts", "{\"maxUnavailable\":1," SEL "}",
     "{\"observedGeneration\":1,\"disruptionsAllowed\":1,\"currentHealthy\":3,\"desiredHealthy\":2,\"expectedPods\":3}",
     "a R gone", 1, 1, 3, 2, 3, 0, "SyncFailed", "found no controllers for pod \"a\"", NULL, NULL},
    {"not-Ready and terminating pods are not healthy", "{\"minAvailable\":1," SEL "}", NULL, "a R rs1,b N rs1,c RD rs1", 1, 0,
     3, 1, 1, 0, "InsufficientPods", "", "{}", NULL},
    {"disruptedPods: kept, expired, gone, terminating", "{\"minAvailable\":1," SEL "}",
     "{\"disruptedPods\":{\"a\":\"2026-01-01T00:09:00Z\",\"b\":\"2026-01-01T00:07:00Z\",\"gone\":\"2026-01-01T00:09:00Z\","
     "\"c\":\"2026-01-01T00:09:00Z\"}}",
     "a R rs1,b R rs1,c RD rs1,d R rs1", 1, 0, 4, 1, 2, 1, "SufficientPods", "", "{\"a\":\"2026-01-01T00:09:00Z\"}",
     "2026-01-01T00:11:00Z"},
    {"disruptedPods at exactly the timeout: kept, counted healthy", "{\"minAvailable\":1," SEL "}",
     "{\"disruptedPods\":{\"a\":\"2026-01-01T00:08:00Z\"}}", "a R rs1", 1, 0, 1, 1, 1, 0, "InsufficientPods", "",
     "{\"a\":\"2026-01-01T00:08:00Z\"}", "2026-01-01T00:10:00Z"},
    {"no selector selects no pod", "{\"minAvailable\":1}", NULL, "a R rs1,b R rs1", 1, 0, 0, 1, 0, 0, "InsufficientPods", "",
     "{}", NULL},
    {"empty selector selects the namespace's pods", "{\"maxUnavailable\":1,\"selector\":{}}", NULL,
     "a R rs1,b R rs1,x@db R rs1,y^other R rs1", 1, 0, 3, 2, 3, 1, "SufficientPods", "", "{}", NULL},
    {"no pods: nothing allowed even with minAvailable 0", "{\"minAvailable\":0," SEL "}", NULL, "x@db R rs1", 1, 0, 0, 0, 0, 0,
     "InsufficientPods", "", "{}", NULL},
    {"a stale observedGeneration is rewritten", "{\"minAvailable\":2," SEL "}",
     "{\"observedGeneration\":1,\"disruptionsAllowed\":1,\"currentHealthy\":3,\"desiredHealthy\":2,\"expectedPods\":3,"
     "\"conditions\":[{\"type\":\"DisruptionAllowed\",\"status\":\"True\",\"reason\":\"SufficientPods\",\"message\":\"\","
     "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":1}]}",
     "a R rs1,b R rs1,c R rs1", 1, 0, 3, 2, 3, 1, "SufficientPods", "", "{}", NULL},
    {"up to date: no write", "{\"minAvailable\":2," SEL "}",
     "{\"observedGeneration\":2,\"disruptionsAllowed\":1,\"currentHealthy\":3,\"desiredHealthy\":2,\"expectedPods\":3,"
     "\"disruptedPods\":{},\"conditions\":[{\"type\":\"DisruptionAllowed\",\"status\":\"True\",\"reason\":\"SufficientPods\","
     "\"message\":\"\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":2}]}",
     "a R rs1,b R rs1,c R rs1", 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
    {"after SyncFailed the counts are written again", "{\"minAvailable\":2," SEL "}",
     "{\"observedGeneration\":2,\"disruptionsAllowed\":0,\"currentHealthy\":3,\"desiredHealthy\":2,\"expectedPods\":3,"
     "\"conditions\":[{\"type\":\"DisruptionAllowed\",\"status\":\"False\",\"reason\":\"SyncFailed\",\"message\":\"x\","
     "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":2}]}",
     "a R rs1,b R rs1,c R rs1", 1, 0, 3, 2, 3, 1, "SufficientPods", "", "{}", NULL},
};

static void
table (void **state)
{
    (void) state;
    int64_t now = tr_time_parse ("2026-01-01T00:10:00Z");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *pdb = pdb_of (cases[i].spec, cases[i].status, 2), *pods = pods_of (cases[i].pods);
        disruption_result_t r;
        assert_int_equal (disruption_sync (pdb, pods, get, controllers, now, &r), 0);
        if (!!r.status != cases[i].write || r.failed != cases[i].failed)
            fail_msg ("%s: write %d failed %d", cases[i].name, !!r.status, r.failed);
        if (cases[i].failed && strcmp (r.message, cases[i].message))
            fail_msg ("%s: message %s", cases[i].name, r.message);
        if (!cases[i].write) {
            json_decref (pdb);
            json_decref (pods);
            continue;
        }
        const json_t *st = r.status;
        if (cases[i].expected >= 0 &&
            (tv_int (st, "expectedPods", -1) != cases[i].expected || tv_int (st, "desiredHealthy", -1) != cases[i].desired ||
             tv_int (st, "currentHealthy", -1) != cases[i].healthy))
            fail_msg ("%s: expected %lld desired %lld healthy %lld", cases[i].name, (long long) tv_int (st, "expectedPods", -1),
                      (long long) tv_int (st, "desiredHealthy", -1), (long long) tv_int (st, "currentHealthy", -1));
        if (tv_int (st, "disruptionsAllowed", -1) != cases[i].allowed)
            fail_msg ("%s: allowed %lld", cases[i].name, (long long) tv_int (st, "disruptionsAllowed", -1));
        if (!cases[i].failed)
            assert_int_equal (tv_int (st, "observedGeneration", -1), 2);
        const json_t *c = json_array_get (json_object_get (st, "conditions"), 0);
        assert_int_equal (json_array_size (json_object_get (st, "conditions")), 1);
        assert_string_equal (tv_str (c, "type"), "DisruptionAllowed");
        assert_string_equal (tv_str (c, "status"), cases[i].allowed > 0 ? "True" : "False");
        if (strcmp (tv_str (c, "reason"), cases[i].reason) || strcmp (tv_str (c, "message"), cases[i].message))
            fail_msg ("%s: reason %s message %s", cases[i].name, tv_str (c, "reason"), tv_str (c, "message"));
        if (cases[i].disrupted) {
            json_t *want = json_loads (cases[i].disrupted, 0, NULL);
            const json_t *got = json_object_get (st, "disruptedPods");
            if (!json_equal (want, got ? got : want) || (json_object_size (want) && !got))
                fail_msg ("%s: disruptedPods %s", cases[i].name, json_dumps (got, JSON_COMPACT));
            json_decref (want);
        }
        if (cases[i].recheck ? r.recheck_ms != tr_time_parse (cases[i].recheck) : r.recheck_ms != -1)
            fail_msg ("%s: recheck %lld", cases[i].name, (long long) r.recheck_ms);
        /* the status written, read back: unchanged, no second write (a failure stays failed) */
        json_object_set (pdb, "status", r.status);
        disruption_result_t again;
        disruption_sync (pdb, pods, get, controllers, now, &again);
        if (again.status || again.failed != cases[i].failed)
            fail_msg ("%s: rewritten: %s", cases[i].name, json_dumps (again.status, JSON_COMPACT));
        json_decref (r.status);
        json_decref (pdb);
        json_decref (pods);
    }
}

/* The transition time moves only when the condition's status does (apimeta.SetStatusCondition). */
static void
transition_time (void **state)
{
    (void) state;
    int64_t now = tr_time_parse ("2026-01-01T00:10:00Z");
    const char *old = "{\"observedGeneration\":1,\"conditions\":[{\"type\":\"DisruptionAllowed\",\"status\":\"False\","
                      "\"reason\":\"SyncFailed\",\"message\":\"x\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}";
    json_t *pdb = pdb_of ("{\"minAvailable\":3," SEL "}", old, 1), *pods = pods_of ("a R rs1,b R rs1,c R rs1");
    disruption_result_t r;
    disruption_sync (pdb, pods, get, controllers, now, &r);
    const json_t *c = json_array_get (tv_get (r.status, "conditions"), 0);
    assert_string_equal (tv_str (c, "reason"), "InsufficientPods");
    assert_string_equal (tv_str (c, "lastTransitionTime"), "2026-01-01T00:00:00Z");
    json_decref (r.status);
    json_decref (pdb);
    pdb = pdb_of ("{\"minAvailable\":2," SEL "}", old, 1);
    disruption_sync (pdb, pods, get, controllers, now, &r);
    c = json_array_get (tv_get (r.status, "conditions"), 0);
    assert_string_equal (tv_str (c, "status"), "True");
    assert_string_equal (tv_str (c, "lastTransitionTime"), "2026-01-01T00:10:00Z");
    json_decref (r.status);
    json_decref (pdb);
    json_decref (pods);
}

static void
selects (void **state)
{
    (void) state;
    json_t *web = json_pack ("{s:s}", "app", "web"), *db = json_pack ("{s:s}", "app", "db");
    json_t *p = pdb_of ("{" SEL "}", NULL, 1), *all = pdb_of ("{\"selector\":{}}", NULL, 1), *none = pdb_of ("{}", NULL, 1);
    assert_true (disruption_selects (p, web));
    assert_false (disruption_selects (p, db));
    assert_false (disruption_selects (p, NULL));
    assert_true (disruption_selects (all, db));
    assert_true (disruption_selects (all, NULL));
    assert_false (disruption_selects (none, web));
    json_decref (web), json_decref (db), json_decref (p), json_decref (all), json_decref (none);
}

static int
setup (void **state)
{
    (void) state;
    controllers = json_object ();
    json_object_set_new (controllers, "ReplicaSet/rs1", rs ("rs1", 3, NULL));
    json_object_set_new (controllers, "ReplicaSet/rsd", rs ("rsd", 2, "web"));
    json_object_set_new (controllers, "ReplicaSet/rsd2", rs ("rsd2", 0, "web"));
    json_object_set_new (controllers, "ReplicaSet/rsorphan", rs ("rsorphan", 2, "vanished"));
    json_t *d = json_pack ("{s:s,s:{s:s,s:s,s:s},s:{s:i}}", "kind", "Deployment", "metadata", "name", "web", "namespace",
                           "default", "uid", "u-web", "spec", "replicas", 4);
    json_object_set_new (controllers, "Deployment/web", d);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    json_decref (controllers);
    return 0;
}

/* Pods without a controller are reported (the actor's UnmanagedPods Event) only where the expected
 * count comes from controllers; an integer minAvailable counts them as pods. */
static void
unmanaged_reported (void **state)
{
    (void) state;
    int64_t now = tr_time_parse ("2026-01-01T00:10:00Z");
    static const struct {
        const char *spec, *pods;
        int unmanaged;
        const char *first;
    } rows[] = {
        {"{\"maxUnavailable\":1," SEL "}", "a R rs1,b R -,c R -,x@db R -", 2, "b"},
        {"{\"minAvailable\":\"50%\"," SEL "}", "a R -", 1, "a"},
        {"{\"minAvailable\":1," SEL "}", "a R -,b R -", 0, ""},
        {"{\"maxUnavailable\":1," SEL "}", "a R rs1", 0, ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *pdb = pdb_of (rows[i].spec, NULL, 2), *pods = pods_of (rows[i].pods);
        disruption_result_t r;
        disruption_sync (pdb, pods, get, controllers, now, &r);
        assert_int_equal (r.failed, 0);
        if (r.unmanaged != rows[i].unmanaged || strcmp (r.unmanaged_first, rows[i].first))
            fail_msg ("row %zu: unmanaged %d first \"%s\"", i, r.unmanaged, r.unmanaged_first);
        json_decref (r.status);
        json_decref (pdb);
        json_decref (pods);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (table), cmocka_unit_test (transition_time), cmocka_unit_test (selects),
                                       cmocka_unit_test (unmanaged_reported)};
    return cmocka_run_group_tests (tests, setup, teardown);
}
