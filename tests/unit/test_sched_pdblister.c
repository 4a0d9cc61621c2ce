/* pdblister (the scheduler's PodDisruptionBudget lister behind host->pdbs): the informer view
 * keeps exactly namespace, name, spec.selector, status.disruptionsAllowed and
 * status.disruptedPods; put, update and delete; listing by namespace and all, ordered, with the
 * status parsed (absent: 0 allowed, no disrupted pods). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/scheduler/pdblister.h"

static json_t *
pdb (const char *ns, const char *name, const char *app, int allowed, const char *disrupted)
{
    json_t *o = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:i,s:{s:{s:s}}},s:{s:i,s:i,s:i,s:i,s:[]}}", "apiVersion",
                           "policy/v1", "kind", "PodDisruptionBudget", "metadata", "name", name, "namespace", ns, "uid",
                           "u-1", "labels", "team", "x", "spec", "minAvailable", 2, "selector", "matchLabels", "app", app,
                           "status", "disruptionsAllowed", allowed, "currentHealthy", 3, "desiredHealthy", 2,
                           "expectedPods", 3, "conditions");
    if (disrupted)
        json_object_set_new (json_object_get (o, "status"), "disruptedPods",
                             json_pack ("{s:s}", disrupted, "2026-01-01T00:00:00Z"));
    return o;
}

static void
view_keeps_what_preemption_reads (void **state)
{
    (void) state;
    json_t *o = pdb ("prod", "db", "db", 1, "db-0");
    json_t *v = pdblister_view (o);
    json_t *want = json_loads ("{\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\"},"
                               "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"db\"}}},"
                               "\"status\":{\"disruptionsAllowed\":1,\"disruptedPods\":{\"db-0\":\"2026-01-01T00:00:00Z\"}}}",
                               0, NULL);
    char *got = json_dumps (v, JSON_SORT_KEYS);
    if (!json_equal (v, want))
        fail_msg ("view %s", got);
    free (got);
    json_decref (want);
    json_decref (v);
    /* no status yet, no selector: only the metadata */
    json_object_del (o, "status");
    json_object_del (json_object_get (o, "spec"), "selector");
    v = pdblister_view (o);
    want = json_loads ("{\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\"}}", 0, NULL);
    assert_true (json_equal (v, want));
    json_decref (want);
    json_decref (v);
    json_decref (o);
}

static void
put_list_delete (void **state)
{
    (void) state;
    pdblister_t *l = pdblister_new ();
    const tr_sched_pdb_t *const *out;
    assert_int_equal (pdblister_list (l, NULL, &out), 0);
    assert_null (out);
    const char *objs[][3] = {{"prod", "web", "web"}, {"dev", "db", "db"}, {"prod", "db", "db"}, {"zz", "a", "a"}};
    for (size_t i = 0; i < 4; i++) {
        json_t *o = pdb (objs[i][0], objs[i][1], objs[i][2], (int) i, i == 2 ? "db-0" : NULL);
        json_t *v = pdblister_view (o); /* as the informer hands it over */
        pdblister_put (l, v);
        json_decref (v);
        json_decref (o);
    }
    assert_int_equal (pdblister_count (l), 4);
    size_t n = pdblister_list (l, NULL, &out);
    assert_int_equal (n, 4);
    const char *order[] = {"dev/db", "prod/db", "prod/web", "zz/a"};
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf (key, sizeof key, "%s/%s", out[i]->ns, out[i]->name);
        assert_string_equal (key, order[i]);
        assert_int_equal (out[i]->size, sizeof (tr_sched_pdb_t));
        assert_non_null (out[i]->disrupted_pods);
    }
    n = pdblister_list (l, "prod", &out);
    assert_int_equal (n, 2);
    assert_string_equal (out[0]->name, "db");
    assert_int_equal (out[0]->disruptions_allowed, 2);
    assert_non_null (json_object_get (out[0]->disrupted_pods, "db-0"));
    assert_string_equal (json_string_value (json_object_get (json_object_get (out[0]->selector, "matchLabels"), "app")), "db");
    assert_string_equal (out[1]->name, "web");
    assert_int_equal (out[1]->disruptions_allowed, 0);
    assert_int_equal (json_object_size (out[1]->disrupted_pods), 0);
    assert_int_equal (pdblister_list (l, "nope", &out), 0);
    assert_int_equal (pdblister_list (l, "a", &out), 0);
    assert_int_equal (pdblister_list (l, "zz", &out), 1);
    /* an update replaces; no status: 0 allowed; no namespace: "default" */
    json_t *o = pdb ("prod", "web", "web", 7, NULL);
    pdblister_put (l, o);
    json_decref (o);
    n = pdblister_list (l, "prod", &out);
    assert_int_equal (n, 2);
    assert_int_equal (out[1]->disruptions_allowed, 7);
    o = json_pack ("{s:{s:s}}", "metadata", "name", "bare");
    pdblister_put (l, o);
    n = pdblister_list (l, "default", &out);
    assert_int_equal (n, 1);
    assert_int_equal (out[0]->disruptions_allowed, 0);
    assert_null (out[0]->selector);
    pdblister_del (l, o);
    json_decref (o);
    assert_int_equal (pdblister_list (l, "default", &out), 0);
    o = pdb ("prod", "db", "db", 0, NULL);
    pdblister_del (l, o);
    json_decref (o);
    n = pdblister_list (l, "prod", &out);
    assert_int_equal (n, 1);
    assert_string_equal (out[0]->name, "web");
    assert_int_equal (pdblister_list (l, NULL, &out), 3);
    pdblister_destroy (&l);
    assert_null (l);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (view_keeps_what_preemption_reads),
        cmocka_unit_test (put_list_delete),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
