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
#include "actors/controllers/pdbindex.h"
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

/* pdbindex_pod_fn over a map "ns/name" → pod */
static const json_t *
pod_get (void *arg, const char *ns, const char *name)
{
    char k[600];
    snprintf (k, sizeof k, "%s/%s", ns, name);
    return json_object_get ((json_t *) arg, k);
}

/* What the actor gives disruption_sync: the pods pdb selects among its namespace's (pdbindex). */
static json_t *
selected_of (const json_t *pdb, const json_t *pods)
{
    json_t *keys = json_object (), *by_key = json_object ();
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p) {
        char k[600];
        snprintf (k, sizeof k, "%s/%s", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
        json_object_set (by_key, k, p);
        if (!strcmp (tv_str (p, "metadata.namespace"), "default"))
            json_object_set_new (keys, k, json_true ());
    }
    pdbindex_t x;
    pdbindex_init (&x);
    pdbindex_put (&x, pdb);
    json_t *out = pdbindex_select_pods (&x, "default", "budget", keys, pod_get, by_key);
    pdbindex_destroy (&x);
    json_decref (keys);
    json_decref (by_key);
    return out;
}

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
        disruption_result_t r, sel;
        assert_int_equal (disruption_sync (pdb, pods, get, controllers, now, &r), 0);
        if (!!r.status != cases[i].write || r.failed != cases[i].failed)
            fail_msg ("%s: write %d failed %d", cases[i].name, !!r.status, r.failed);
        /* the same decision from only the selected pods (what the actor gives it) */
        json_t *only = selected_of (pdb, pods);
        disruption_sync (pdb, only, get, controllers, now, &sel);
        if (!json_equal (r.status, sel.status) && (r.status || sel.status))
            fail_msg ("%s: from the selected pods: %s", cases[i].name, json_dumps (sel.status, JSON_COMPACT));
        if (sel.failed != r.failed || sel.recheck_ms != r.recheck_ms || sel.unmanaged != r.unmanaged ||
            strcmp (sel.message, r.message))
            fail_msg ("%s: from the selected pods: failed %d recheck %lld unmanaged %d", cases[i].name, sel.failed,
                      (long long) sel.recheck_ms, sel.unmanaged);
        json_decref (sel.status);
        json_decref (only);
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

/* A budget ns/name with selector sel (JSON, or NULL: none) at resourceVersion rv. */
static json_t *
budget (const char *ns, const char *name, const char *sel, const char *rv)
{
    json_t *p = json_pack ("{s:s,s:{s:s,s:s,s:s},s:{}}", "kind", "PodDisruptionBudget", "metadata", "name", name,
                           "namespace", ns, "resourceVersion", rv, "spec");
    if (sel) {
        json_t *s = json_loads (sel, 0, NULL);
        if (!s)
            fail_msg ("selector %s", sel);
        tv_set (p, "spec.selector", s);
    }
    return p;
}

/* "k=v" as a label map; NULL or "-" for none. */
static json_t *
labels_of (const char *kv)
{
    if (!kv || !strcmp (kv, "-"))
        return NULL;
    char k[64];
    const char *eq = strchr (kv, '=');
    snprintf (k, sizeof k, "%.*s", (int) (eq - kv), kv);
    return json_pack ("{s:s}", k, eq + 1);
}

static void
collect_key (void *arg, const char *key)
{
    json_array_append_new ((json_t *) arg, json_string (key));
}

static int
cmp_str (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The keys pdbindex_matching gives, sorted, comma-joined. */
static void
matching (const pdbindex_t *x, const char *ns, const char *labels, const char *old, int all, char *out, size_t len)
{
    json_t *l = labels_of (labels), *o = labels_of (old), *keys = json_array ();
    pdbindex_matching (x, ns, l, o, all, collect_key, keys);
    const char *v[32];
    size_t n = json_array_size (keys);
    assert_true (n <= 32);
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value (json_array_get (keys, i));
    qsort (v, n, sizeof v[0], cmp_str);
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf (out + strlen (out), len - strlen (out), "%s%s", i ? "," : "", v[i]);
    json_decref (l), json_decref (o), json_decref (keys);
}

#define WEB "{\"matchLabels\":{\"app\":\"web\"}}"
#define DB "{\"matchLabels\":{\"app\":\"db\"}}"

/* pdbindex: a pod event's lookup sees only its namespace's budgets, each budget's selector parsed
 * once and again only when it changes (a new resourceVersion alone keeps it), an updated selector
 * matched instead of the old one, a deleted budget gone; an absent or invalid selector selects
 * nothing, an empty one everything. Steps in order: put (p), delete (d), then the query's answer. */
static void
pdb_index (void **state)
{
    (void) state;
    static const struct {
        char op; /* 'p' put, 'd' delete, 'q' query only */
        const char *ns, *name, *sel, *rv;
        const char *qns, *labels, *old; /* the query after the step: pod namespace, labels, old labels */
        int all;
        const char *want; /* the keys queued, sorted */
        int parses;       /* selectors parsed so far */
        int size;
    } steps[] = {
        {'p', "default", "web", WEB, "1", "default", "app=web", NULL, 0, "default/web", 1, 1},
        {'p', "default", "all", "{}", "2", "default", "app=db", NULL, 0, "default/all", 2, 2},
        {'p', "default", "none", NULL, "3", "default", "app=web", NULL, 0, "default/all,default/web", 3, 3},
        {'p', "default", "bad", "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Bogus\"}]}", "4", "default",
         "app=web", NULL, 0, "default/all,default/web", 4, 4},
        {'p', "other", "web", WEB, "5", "default", "app=web", NULL, 0, "default/all,default/web", 5, 5},
        {'q', NULL, NULL, NULL, NULL, "other", "app=web", NULL, 0, "other/web", 5, 5},
        {'q', NULL, NULL, NULL, NULL, "default", "-", NULL, 0, "default/all", 5, 5},
        {'q', NULL, NULL, NULL, NULL, "default", "app=db", "app=web", 0, "default/all,default/web", 5, 5},
        {'q', NULL, NULL, NULL, NULL, "default", "app=db", NULL, 1, "default/all,default/bad,default/none,default/web", 5, 5},
        {'q', NULL, NULL, NULL, NULL, "elsewhere", "app=web", NULL, 1, "", 5, 5},
        /* a status write: new resourceVersion, same selector: the parsed one kept */
        {'p', "default", "web", WEB, "6", "default", "app=web", NULL, 0, "default/all,default/web", 5, 5},
        /* a new selector: parsed again, matched by the new one only */
        {'p', "default", "web", DB, "7", "default", "app=web", NULL, 0, "default/all", 6, 5},
        {'q', NULL, NULL, NULL, NULL, "default", "app=db", NULL, 0, "default/all,default/web", 6, 5},
        /* the invalid one fixed, the absent one given */
        {'p', "default", "bad", WEB, "8", "default", "app=web", NULL, 0, "default/all,default/bad", 7, 5},
        {'p', "default", "none", DB, "9", "default", "app=db", NULL, 0, "default/all,default/none,default/web", 8, 5},
        /* deleted: gone (twice: nothing), then back in its freed slot with its own selector */
        {'d', "default", "web", NULL, NULL, "default", "app=db", NULL, 0, "default/all,default/none", 8, 4},
        {'d', "default", "web", NULL, NULL, "default", "app=db", NULL, 1, "default/all,default/bad,default/none", 8, 4},
        {'p', "default", "web", WEB, "10", "default", "app=web", NULL, 0, "default/all,default/bad,default/web", 9, 5},
        {'d', "other", "web", NULL, NULL, "other", "app=web", NULL, 1, "", 9, 4},
    };
    pdbindex_t x;
    pdbindex_init (&x);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].op != 'q') {
            json_t *b = budget (steps[i].ns, steps[i].name, steps[i].sel, steps[i].rv ? steps[i].rv : "0");
            if (steps[i].op == 'p')
                pdbindex_put (&x, b);
            else
                pdbindex_del (&x, b);
            json_decref (b);
        }
        char got[600];
        matching (&x, steps[i].qns, steps[i].labels, steps[i].old, steps[i].all, got, sizeof got);
        if (strcmp (got, steps[i].want))
            fail_msg ("step %zu: queued \"%s\", want \"%s\"", i, got, steps[i].want);
        if ((int) pdbindex_parses (&x) != steps[i].parses || (int) pdbindex_size (&x) != steps[i].size)
            fail_msg ("step %zu: parses %zu size %zu", i, pdbindex_parses (&x), pdbindex_size (&x));
    }
    const selector_t *sel;
    assert_true (pdbindex_selector (&x, "default", "none", &sel));
    assert_non_null (sel);
    assert_false (pdbindex_selector (&x, "other", "web", &sel));
    assert_null (sel);
    pdbindex_destroy (&x);
}

/* pdbindex_select_pods: the pods a budget selects among its namespace's keys, looked up; a key of
 * another namespace, a pod gone from the informer, a budget not held or selecting nothing give
 * nothing. */
static void
pdb_select_pods (void **state)
{
    (void) state;
    json_t *pods = pods_of ("a R rs1,b N -,x@db R rs1,y^other R rs1,gone R rs1"), *by_key = json_object ();
    json_t *keys = json_object ();
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p) {
        char k[600];
        snprintf (k, sizeof k, "%s/%s", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
        if (strcmp (tv_str (p, "metadata.name"), "gone"))
            json_object_set (by_key, k, p);
        json_object_set_new (keys, k, json_true ()); /* y of other too: ignored */
    }
    pdbindex_t x;
    pdbindex_init (&x);
    json_t *web = budget ("default", "web", WEB, "1"), *all = budget ("default", "all", "{}", "1"),
           *none = budget ("default", "none", NULL, "1");
    pdbindex_put (&x, web), pdbindex_put (&x, all), pdbindex_put (&x, none);
    static const struct {
        const char *name, *want;
    } rows[] = {{"web", "a,b"}, {"all", "a,b,x"}, {"none", ""}, {"unknown", ""}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        json_t *got = pdbindex_select_pods (&x, "default", rows[r].name, keys, pod_get, by_key);
        char names[200] = "";
        json_array_foreach (got, i, p)
            snprintf (names + strlen (names), sizeof names - strlen (names), "%s%s", i ? "," : "", tv_str (p, "metadata.name"));
        if (strcmp (names, rows[r].want))
            fail_msg ("budget %s: selected \"%s\", want \"%s\"", rows[r].name, names, rows[r].want);
        json_decref (got);
    }
    /* its selector changed: the new one selects */
    json_t *web2 = budget ("default", "web", DB, "2");
    pdbindex_put (&x, web2);
    json_t *got = pdbindex_select_pods (&x, "default", "web", keys, pod_get, by_key);
    assert_int_equal (json_array_size (got), 1);
    assert_string_equal (tv_str (json_array_get (got, 0), "metadata.name"), "x");
    json_decref (got);
    pdbindex_destroy (&x);
    json_decref (web), json_decref (web2), json_decref (all), json_decref (none);
    json_decref (pods), json_decref (by_key), json_decref (keys);
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
                                       cmocka_unit_test (unmanaged_reported), cmocka_unit_test (pdb_index),
                                       cmocka_unit_test (pdb_select_pods)};
    return cmocka_run_group_tests (tests, setup, teardown);
}
