/* eviction: the Eviction API's decision (broker/eviction.h), case by case as Kubernetes'
 * EvictionREST: canIgnorePDB, selector matching (policy/v1), several budgets, unready pods and
 * unhealthyPodEvictionPolicy, a stale observedGeneration, disruptionsAllowed 0 / < 0, the
 * decrement (disruptedPods, the DisruptionAllowed condition), deleteOptions preconditions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "broker/eviction.h"
#include "core/value.h"

#define NOW "2026-12-05T01:00:00Z"

/* A pod "p" in ns "default" (uid u1, resourceVersion 7) with labels {app: web}. */
static json_t *
pod (const char *phase, int ready, int deleting)
{
    json_t *p = json_pack ("{s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:s}}", "kind", "Pod", "metadata", "name", "p", "namespace",
                           "default", "uid", "u1", "labels", "app", "web", "spec", "nodeName", "n1");
    if (phase) {
        json_t *st = json_pack ("{s:s,s:[{s:s,s:s}]}", "phase", phase, "conditions", "type", "Ready", "status",
                                ready ? "True" : "False");
        json_object_set_new (p, "status", st);
    }
    if (deleting)
        tv_set_str (p, "metadata.deletionTimestamp", NOW);
    return p;
}

/* A budget: selector is JSON text ("null": absent), then status figures. */
static json_t *
pdb (const char *name, const char *ns, const char *selector, int gen, int observed, int allowed, int cur, int desired,
     const char *policy)
{
    json_t *o = json_pack ("{s:s,s:{s:s,s:s,s:i},s:{},s:{s:i,s:i,s:i,s:i}}", "kind", "PodDisruptionBudget", "metadata",
                           "name", name, "namespace", ns, "generation", gen, "spec", "status", "observedGeneration",
                           observed, "disruptionsAllowed", allowed, "currentHealthy", cur, "desiredHealthy", desired);
    json_t *sel = json_loads (selector, JSON_DECODE_ANY, NULL);
    assert_non_null (sel);
    if (!json_is_null (sel))
        json_object_set (json_object_get (o, "spec"), "selector", sel);
    json_decref (sel);
    if (policy)
        tv_set_str (o, "spec.unhealthyPodEvictionPolicy", policy);
    return o;
}

#define WEB "{\"matchLabels\":{\"app\":\"web\"}}"
#define DB "{\"matchLabels\":{\"app\":\"db\"}}"

typedef struct {
    const char *desc;
    const char *phase;
    int ready, deleting;
    /* up to two budgets; name NULL: absent */
    struct {
        const char *name, *ns, *selector;
        int gen, observed, allowed, cur, desired;
        const char *policy;
    } b[2];
    const char *opts; /* deleteOptions JSON, or NULL */
    evict_action_t want;
    int at_rv, unready, retry_after;
    const char *pdb;   /* the budget named in the decision */
    const char *msg;   /* substring of msg */
    const char *cause; /* substring of cause */
} row_t;

static const row_t rows[] = {
    {"no budget: delete", "Running", 1, 0, {{0}}, NULL, EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"Succeeded: delete, budget ignored", "Succeeded", 0, 0, {{"b", "default", WEB, 1, 1, 0, 0, 2, NULL}}, NULL,
     EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"Failed: delete, budget ignored", "Failed", 0, 0, {{"b", "default", WEB, 1, 1, 0, 0, 2, NULL}}, NULL, EVICT_DELETE, 0,
     0, 0, NULL, NULL, NULL},
    {"Pending: delete at its resourceVersion", "Pending", 0, 0, {{"b", "default", WEB, 1, 1, 0, 0, 2, NULL}}, NULL,
     EVICT_DELETE, 1, 0, 0, NULL, NULL, NULL},
    {"no phase yet (Pending): delete at rv", NULL, 0, 0, {{"b", "default", WEB, 1, 1, 0, 0, 2, NULL}}, NULL, EVICT_DELETE,
     1, 0, 0, NULL, NULL, NULL},
    {"being deleted: delete, budget ignored", "Running", 1, 1, {{"b", "default", WEB, 1, 1, 0, 2, 2, NULL}}, NULL,
     EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"selector absent selects nothing", "Running", 1, 0, {{"b", "default", "null", 1, 1, 0, 2, 2, NULL}}, NULL,
     EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"selector {} protects nothing (EvictionREST skips an empty selector)", "Running", 1, 0,
     {{"b", "default", "{}", 1, 1, 0, 2, 2, NULL}}, NULL, EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"other labels: not this pod's budget", "Running", 1, 0, {{"b", "default", DB, 1, 1, 0, 2, 2, NULL}}, NULL,
     EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"another namespace: not this pod's budget", "Running", 1, 0, {{"b", "other", WEB, 1, 1, 0, 2, 2, NULL}}, NULL,
     EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"invalid selector matches nothing", "Running", 1, 0,
     {{"b", "default", "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Bogus\"}]}", 1, 1, 0, 2, 2, NULL}}, NULL,
     EVICT_DELETE, 0, 0, 0, NULL, NULL, NULL},
    {"two budgets: 500", "Running", 1, 0, {{"a", "default", WEB, 1, 1, 1, 2, 1, NULL}, {"b", "default", WEB, 1, 1, 1, 2, 1, NULL}},
     NULL, EVICT_MULTIPLE, 0, 0, 0, NULL, "more than one PodDisruptionBudget, which the eviction subresource does not support",
     NULL},
    {"a budget and a {} one: the {} one does not count, decrement", "Running", 1, 0,
     {{"a", "default", "{}", 1, 1, 0, 2, 2, NULL}, {"b", "default", WEB, 1, 1, 1, 2, 1, NULL}}, NULL, EVICT_DECREMENT, 0, 0, 0,
     "b", NULL, NULL},
    {"one of two budgets matches: decrement", "Running", 1, 0,
     {{"a", "default", DB, 1, 1, 0, 2, 2, NULL}, {"b", "default", WEB, 1, 1, 1, 2, 1, NULL}}, NULL, EVICT_DECREMENT, 0, 0, 0,
     "b", NULL, NULL},
    {"stale observedGeneration: 429 retry after 10", "Running", 1, 0, {{"b", "default", WEB, 2, 1, 5, 2, 1, NULL}}, NULL,
     EVICT_TOO_MANY, 0, 0, 10, "b", "violate the pod's disruption budget",
     "The disruption budget b is still being processed by the server."},
    {"no disruption allowed: 429", "Running", 1, 0, {{"b", "default", WEB, 1, 1, 0, 1, 2, NULL}}, NULL, EVICT_TOO_MANY, 0,
     0, 0, "b", "Cannot evict pod as it would violate the pod's disruption budget.",
     "The disruption budget b needs 2 healthy pods and has 1 currently"},
    {"negative disruptionsAllowed: 403", "Running", 1, 0, {{"b", "default", WEB, 1, 1, -1, 1, 2, NULL}}, NULL,
     EVICT_FORBIDDEN, 0, 0, 0, "b", "pdb disruptions allowed is negative", NULL},
    {"allowed: decrement", "Running", 1, 0, {{"b", "default", WEB, 3, 3, 2, 3, 1, NULL}}, NULL, EVICT_DECREMENT, 0, 0, 0,
     "b", NULL, NULL},
    {"unready, AlwaysAllow: delete at rv, nothing spent", "Running", 0, 0,
     {{"b", "default", WEB, 1, 1, 0, 0, 2, "AlwaysAllow"}}, NULL, EVICT_DELETE, 1, 1, 0, "b", NULL, NULL},
    {"unready, AlwaysAllow, stale generation: still deleted", "Running", 0, 0,
     {{"b", "default", WEB, 2, 1, 0, 0, 2, "AlwaysAllow"}}, NULL, EVICT_DELETE, 1, 1, 0, "b", NULL, NULL},
    {"unready, IfHealthyBudget, budget healthy: delete at rv", "Running", 0, 0,
     {{"b", "default", WEB, 1, 1, 0, 2, 2, "IfHealthyBudget"}}, NULL, EVICT_DELETE, 1, 1, 0, "b", NULL, NULL},
    {"unready, default policy, budget healthy: delete at rv", "Running", 0, 0, {{"b", "default", WEB, 1, 1, 0, 2, 2, NULL}},
     NULL, EVICT_DELETE, 1, 1, 0, "b", NULL, NULL},
    {"unready, IfHealthyBudget, budget short: 429", "Running", 0, 0,
     {{"b", "default", WEB, 1, 1, 0, 1, 2, "IfHealthyBudget"}}, NULL, EVICT_TOO_MANY, 0, 0, 0, "b", NULL,
     "needs 2 healthy pods and has 1 currently"},
    {"unready, desiredHealthy 0: the budget decides (decrement)", "Running", 0, 0,
     {{"b", "default", WEB, 1, 1, 1, 0, 0, NULL}}, NULL, EVICT_DECREMENT, 0, 0, 0, "b", NULL, NULL},
    {"uid precondition fails: 409", "Running", 1, 0, {{"b", "default", WEB, 1, 1, 1, 2, 1, NULL}},
     "{\"preconditions\":{\"uid\":\"other\"}}", EVICT_CONFLICT, 0, 0, 0, NULL, "UID in precondition: other", NULL},
    {"resourceVersion precondition fails: 409 before any budget is spent", "Running", 1, 0,
     {{"b", "default", WEB, 1, 1, 1, 2, 1, NULL}}, "{\"preconditions\":{\"resourceVersion\":\"6\"}}", EVICT_CONFLICT, 0, 0, 0,
     NULL, "ResourceVersion in precondition: 6", NULL},
    {"preconditions hold: decrement", "Running", 1, 0, {{"b", "default", WEB, 1, 1, 1, 2, 1, NULL}},
     "{\"preconditions\":{\"uid\":\"u1\",\"resourceVersion\":\"7\"}}", EVICT_DECREMENT, 0, 0, 0, "b", NULL, NULL},
};

static void
table (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *w = &rows[i];
        json_t *p = pod (w->phase, w->ready, w->deleting);
        json_t *list = json_array ();
        for (int k = 0; k < 2; k++)
            if (w->b[k].name)
                json_array_append_new (list, pdb (w->b[k].name, w->b[k].ns, w->b[k].selector, w->b[k].gen, w->b[k].observed,
                                                  w->b[k].allowed, w->b[k].cur, w->b[k].desired, w->b[k].policy));
        json_t *opts = w->opts ? json_loads (w->opts, 0, NULL) : NULL;
        evict_t e;
        evict_decide (p, 7, opts, list, NOW, &e);
        if (e.action != w->want || e.at_rv != w->at_rv || e.unready != w->unready || e.retry_after != w->retry_after)
            fail_msg ("%s: action %d at_rv %d unready %d retry %d, want %d %d %d %d (%s)", w->desc, e.action, e.at_rv, e.unready,
                      e.retry_after, w->want, w->at_rv, w->unready, w->retry_after, e.msg);
        const char *named = e.pdb ? tv_str (e.pdb, "metadata.name") : NULL;
        if ((w->pdb == NULL) != (named == NULL) || (w->pdb && strcmp (w->pdb, named)))
            fail_msg ("%s: budget %s, want %s", w->desc, named ? named : "none", w->pdb ? w->pdb : "none");
        if (w->msg && !strstr (e.msg, w->msg))
            fail_msg ("%s: msg \"%s\" lacks \"%s\"", w->desc, e.msg, w->msg);
        if (w->cause && !strstr (e.cause, w->cause))
            fail_msg ("%s: cause \"%s\" lacks \"%s\"", w->desc, e.cause, w->cause);
        if ((e.action == EVICT_DECREMENT) != (e.status != NULL))
            fail_msg ("%s: a status exactly with a decrement", w->desc);
        evict_clear (&e);
        json_decref (opts);
        json_decref (list);
        json_decref (p);
    }
}

/* The written status: disruptionsAllowed - 1, the pod in disruptedPods at now, the rest kept; at
 * 0 the DisruptionAllowed condition turns False (InsufficientPods), other conditions kept. */
static void
decrement_status (void **state)
{
    (void) state;
    json_t *p = pod ("Running", 1, 0);
    json_t *b = pdb ("b", "default", WEB, 4, 4, 2, 3, 1, NULL);
    json_object_set_new (json_object_get (b, "status"), "disruptedPods", json_pack ("{s:s}", "old", "2026-12-05T00:59:00Z"));
    json_object_set_new (json_object_get (b, "status"), "conditions",
                         json_pack ("[{s:s,s:s,s:s,s:s}]", "type", "DisruptionAllowed", "status", "True", "reason",
                                    "SufficientPods", "lastTransitionTime", "2026-12-05T00:00:00Z"));
    json_t *list = json_pack ("[O]", b);
    evict_t e;
    evict_decide (p, 7, NULL, list, NOW, &e);
    assert_int_equal (e.action, EVICT_DECREMENT);
    assert_int_equal (tv_int (e.status, "disruptionsAllowed", -9), 1);
    assert_int_equal (tv_int (e.status, "currentHealthy", -9), 3);
    assert_int_equal (tv_int (e.status, "observedGeneration", -9), 4);
    assert_string_equal (tv_str (e.status, "disruptedPods.p"), NOW);
    assert_string_equal (tv_str (e.status, "disruptedPods.old"), "2026-12-05T00:59:00Z");
    /* still allowed: the condition untouched */
    assert_string_equal (tv_str (json_array_get (json_object_get (e.status, "conditions"), 0), "status"), "True");
    /* the cached budget is not modified */
    assert_int_equal (tv_int (b, "status.disruptionsAllowed", -9), 2);
    assert_null (tv_get (b, "status.disruptedPods.p"));
    evict_clear (&e);

    /* the last allowed disruption: condition False, InsufficientPods, now, observedGeneration */
    json_object_set_new (json_object_get (b, "status"), "disruptionsAllowed", json_integer (1));
    json_array_append_new (json_object_get (json_object_get (b, "status"), "conditions"),
                           json_pack ("{s:s,s:s}", "type", "Other", "status", "True"));
    evict_decide (p, 7, NULL, list, NOW, &e);
    assert_int_equal (e.action, EVICT_DECREMENT);
    assert_int_equal (tv_int (e.status, "disruptionsAllowed", -9), 0);
    json_t *conds = json_object_get (e.status, "conditions");
    assert_int_equal (json_array_size (conds), 2);
    json_t *c = NULL, *x;
    size_t i;
    json_array_foreach (conds, i, x) if (!strcmp (tv_str (x, "type"), "DisruptionAllowed")) c = x;
    assert_non_null (c);
    assert_string_equal (tv_str (c, "status"), "False");
    assert_string_equal (tv_str (c, "reason"), "InsufficientPods");
    assert_string_equal (tv_str (c, "lastTransitionTime"), NOW);
    assert_int_equal (tv_int (c, "observedGeneration", -9), 4);
    evict_clear (&e);
    json_decref (list);
    json_decref (b);
    json_decref (p);
}

static void
helpers (void **state)
{
    (void) state;
    json_t *p = pod ("Running", 1, 0);
    assert_true (evict_pod_ready (p));
    json_t *q = pod ("Running", 0, 0);
    assert_false (evict_pod_ready (q));
    json_t *r = pod (NULL, 0, 0);
    assert_false (evict_pod_ready (r));
    json_t *labels = json_pack ("{s:s}", "app", "web");
    json_t *b = pdb ("b", "default", "null", 1, 1, 0, 0, 0, NULL);
    assert_false (evict_pdb_selects (b, labels));
    json_decref (b);
    b = pdb ("b", "default", "{}", 1, 1, 0, 0, 0, NULL);
    assert_false (evict_pdb_selects (b, labels)); /* {} matches nothing here, as EvictionREST */
    assert_false (evict_pdb_selects (b, NULL));
    json_decref (b);
    json_decref (labels);
    json_decref (p);
    json_decref (q);
    json_decref (r);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (table),
        cmocka_unit_test (decrement_status),
        cmocka_unit_test (helpers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
