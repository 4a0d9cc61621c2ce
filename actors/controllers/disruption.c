/* disruption — see disruption.h. */
#include "actors/controllers/disruption.h"
#include "actors/controllers/ctrl.h"
#include "actors/controllers/deployment.h"
#include "core/meta.h"
#include "core/selector.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COND_TYPE "DisruptionAllowed"

/* pdb's selector, or NULL when it selects nothing (policy/v1: an absent selector; an invalid one,
 * which validation refuses) */
static selector_t *
pdb_selector (const json_t *pdb)
{
    const json_t *sel = tv_get (pdb, "spec.selector");
    char err[256];
    return json_is_object (sel) ? selector_from_object (sel, err, sizeof err) : NULL;
}

int
disruption_selects (const json_t *pdb, const json_t *labels)
{
    selector_t *s = pdb_selector (pdb);
    int m = s && selector_matches (s, labels);
    selector_destroy (&s);
    return m;
}

/* The controller ownerReference of obj, or NULL. */
static const json_t *
controller_ref (const json_t *obj)
{
    size_t i;
    json_t *r;
    json_array_foreach (tv_get (obj, "metadata.ownerReferences"), i, r) if (json_is_true (json_object_get (r, "controller")))
        return r;
    return NULL;
}

/* ref's object if it exists with ref's uid (a ref without a uid matches by name). */
static const json_t *
resolve (const json_t *ref, const char *kind, const char *ns, disruption_get_fn get, void *arg)
{
    const char *k = tv_str (ref, "kind"), *name = tv_str (ref, "name"), *uid = tv_str (ref, "uid");
    if (!k || strcmp (k, kind) || !name)
        return NULL;
    const json_t *o = get (arg, kind, ns, name);
    const char *ouid = tv_str (o, "metadata.uid");
    if (!o || (uid && ouid && strcmp (uid, ouid)))
        return NULL;
    return o;
}

/* Kubernetes' getExpectedScale: the sum of the scales of the selected pods' distinct controllers
 * (a ReplicaSet controlled by a Deployment counts as the Deployment). A pod without a controller
 * reference is left out and counted in out->unmanaged (Kubernetes >= 1.27: an UnmanagedPods
 * Event, not a failed sync). -1 with err on a pod whose controller is not found. */
static int
expected_scale (const json_t *selected, const char *ns, disruption_get_fn get, void *arg, disruption_result_t *out,
                char *err, size_t errlen)
{
    json_t *seen = json_object ();
    size_t i;
    json_t *pod;
    int total = 0;
    json_array_foreach (selected, i, pod) {
        const char *pname = tv_str (pod, "metadata.name");
        const json_t *ref = controller_ref (pod);
        if (!ref) {
            if (!out->unmanaged++)
                snprintf (out->unmanaged_first, sizeof out->unmanaged_first, "%s", pname ? pname : "");
            continue;
        }
        const json_t *owner = NULL, *rs = resolve (ref, "ReplicaSet", ns, get, arg);
        if (rs) {
            const json_t *rsref = controller_ref (rs);
            const char *rk = tv_str (rsref, "kind");
            if (rk && !strcmp (rk, "Deployment"))
                owner = resolve (rsref, "Deployment", ns, get, arg); /* NULL: its Deployment is gone */
            else
                owner = rs;
        }
        if (!owner) {
            snprintf (err, errlen, "found no controllers for pod \"%s\"", pname ? pname : "");
            json_decref (seen);
            return -1;
        }
        char key[600];
        const char *uid = tv_str (owner, "metadata.uid");
        snprintf (key, sizeof key, "%s/%s", uid ? uid : tv_str (owner, "kind") ? tv_str (owner, "kind") : "",
                  uid ? "" : tv_str (owner, "metadata.name") ? tv_str (owner, "metadata.name") : "");
        if (json_object_get (seen, key))
            continue;
        json_object_set_new (seen, key, json_true ());
        total += (int) tv_int (owner, "spec.replicas", 1);
    }
    json_decref (seen);
    return total;
}

/* apimeta.SetStatusCondition on DisruptionAllowed: the transition time moves only when the status
 * changes; the other conditions stay. New array. */
static json_t *
set_condition (const json_t *old, int ok, const char *reason, const char *message, json_int_t gen, int64_t now_ms)
{
    json_t *out = json_array (), *prev = NULL;
    size_t i;
    json_t *c;
    json_array_foreach (old, i, c) {
        if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), COND_TYPE))
            prev = c;
        else
            json_array_append (out, c);
    }
    const char *status = ok ? "True" : "False";
    char now[32];
    tr_time_format (now_ms, now, sizeof now);
    const char *ltt = prev && tv_str (prev, "status") && !strcmp (tv_str (prev, "status"), status) &&
                              tv_str (prev, "lastTransitionTime")
                          ? tv_str (prev, "lastTransitionTime")
                          : now;
    json_array_append_new (out, json_pack ("{s:s,s:s,s:s,s:s,s:s,s:I}", "type", COND_TYPE, "status", status, "reason",
                                           reason, "message", message ? message : "", "lastTransitionTime", ltt,
                                           "observedGeneration", gen));
    return out;
}

/* Kubernetes' ConditionsAreUpToDate */
static int
conditions_up_to_date (const json_t *st, json_int_t gen)
{
    size_t i;
    json_t *c;
    const json_t *cond = NULL;
    json_array_foreach (json_object_get (st, "conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), COND_TYPE))
        cond = c;
    if (!cond || tv_int (st, "observedGeneration", -1) != gen)
        return 0;
    const char *s = tv_str (cond, "status"), *r = tv_str (cond, "reason");
    if (!s || !r)
        return 0;
    if (tv_int (st, "disruptionsAllowed", 0) > 0)
        return !strcmp (s, "True") && !strcmp (r, "SufficientPods");
    return !strcmp (s, "False") && !strcmp (r, "InsufficientPods");
}

/* A map compared as Kubernetes' semantic equality does: absent and empty are the same. */
static int
map_equal (const json_t *a, const json_t *b)
{
    if (!json_object_size (a) && !json_object_size (b))
        return 1;
    return json_equal (a, b);
}

/* Kubernetes' failSafe: the old status with no disruption allowed and SyncFailed. */
static void
fail_safe (const json_t *pdb, const char *msg, int64_t now_ms, disruption_result_t *out)
{
    const json_t *old = tv_get (pdb, "status");
    json_t *st = json_is_object (old) ? json_deep_copy (old) : json_object ();
    json_object_set_new (st, "disruptionsAllowed", json_integer (0));
    json_object_set_new (st, "conditions", set_condition (json_object_get (old, "conditions"), 0, "SyncFailed", msg,
                                                          tv_int (old, "observedGeneration", 0), now_ms));
    out->failed = 1;
    snprintf (out->message, sizeof out->message, "%s", msg);
    if (json_equal (st, old))
        json_decref (st);
    else
        out->status = st;
}

int
disruption_sync (const json_t *pdb, const json_t *pods, disruption_get_fn get, void *arg, int64_t now_ms,
                 disruption_result_t *out)
{
    memset (out, 0, sizeof *out);
    out->recheck_ms = -1;
    const char *ns = tv_str (pdb, "metadata.namespace") ? tv_str (pdb, "metadata.namespace") : "";
    json_t *selected = json_array ();
    size_t i;
    json_t *pod;
    selector_t *sel = pdb_selector (pdb);
    json_array_foreach (pods, i, pod) {
        const char *pns = tv_str (pod, "metadata.namespace");
        if (sel && (!pns || !strcmp (pns, ns)) && selector_matches (sel, tv_get (pod, "metadata.labels")))
            json_array_append (selected, pod);
    }
    selector_destroy (&sel);

    /* getExpectedPodCount */
    const json_t *min = tv_get (pdb, "spec.minAvailable"), *max = tv_get (pdb, "spec.maxUnavailable");
    int expected = 0, desired = 0;
    char err[400];
    if (max && !json_is_null (max)) {
        expected = expected_scale (selected, ns, get, arg, out, err, sizeof err);
        if (expected >= 0) {
            desired = expected - deploy_scaled_value (max, expected, 1);
            if (desired < 0)
                desired = 0;
        }
    } else if (json_is_integer (min)) {
        desired = (int) json_integer_value (min);
        expected = (int) json_array_size (selected);
    } else if (json_is_string (min)) {
        expected = expected_scale (selected, ns, get, arg, out, err, sizeof err);
        if (expected >= 0)
            desired = deploy_scaled_value (min, expected, 1);
    }
    if (expected < 0) {
        fail_safe (pdb, err, now_ms, out);
        json_decref (selected);
        return 0;
    }

    /* buildDisruptedPodMap: keep the entries of selected pods not being deleted and not expired */
    const json_t *old_dp = tv_get (pdb, "status.disruptedPods");
    json_t *dp = json_object ();
    json_array_foreach (selected, i, pod) {
        const char *name = tv_str (pod, "metadata.name");
        const json_t *t = name ? json_object_get (old_dp, name) : NULL;
        if (!t || tv_get (pod, "metadata.deletionTimestamp"))
            continue;
        int64_t at = tr_time_parse (json_string_value (t));
        if (at < 0 || at + DISRUPTION_DELETION_TIMEOUT_MS < now_ms)
            continue; /* expected to be deleted but it was not */
        json_object_set (dp, name, (json_t *) t);
        if (out->recheck_ms < 0 || at + DISRUPTION_DELETION_TIMEOUT_MS < out->recheck_ms)
            out->recheck_ms = at + DISRUPTION_DELETION_TIMEOUT_MS;
    }

    /* countHealthyPods */
    int healthy = 0;
    json_array_foreach (selected, i, pod) {
        if (tv_get (pod, "metadata.deletionTimestamp"))
            continue;
        const json_t *t = json_object_get (dp, tv_str (pod, "metadata.name") ? tv_str (pod, "metadata.name") : "");
        if (t && tr_time_parse (json_string_value (t)) + DISRUPTION_DELETION_TIMEOUT_MS > now_ms)
            continue; /* expected to be deleted soon */
        healthy += ctrl_pod_ready (pod);
    }
    json_decref (selected);

    /* updatePdbStatus */
    int allowed = healthy - desired;
    if (expected <= 0 || allowed <= 0)
        allowed = 0;
    const json_t *st = tv_get (pdb, "status");
    json_int_t gen = tv_int (pdb, "metadata.generation", 1);
    if (tv_int (st, "currentHealthy", -1) == healthy && tv_int (st, "desiredHealthy", -1) == desired &&
        tv_int (st, "expectedPods", -1) == expected && tv_int (st, "disruptionsAllowed", -1) == allowed &&
        map_equal (tv_get (st, "disruptedPods"), dp) && tv_int (st, "observedGeneration", -1) == gen &&
        conditions_up_to_date (st, gen)) {
        json_decref (dp);
        return 0;
    }
    json_t *ns_st = json_pack ("{s:I,s:i,s:i,s:i,s:i}", "observedGeneration", gen, "disruptionsAllowed", allowed,
                               "currentHealthy", healthy, "desiredHealthy", desired, "expectedPods", expected);
    if (json_object_size (dp))
        json_object_set (ns_st, "disruptedPods", dp);
    json_decref (dp);
    json_object_set_new (ns_st, "conditions",
                         set_condition (json_object_get (st, "conditions"), allowed > 0,
                                        allowed > 0 ? "SufficientPods" : "InsufficientPods", "", gen, now_ms));
    out->status = ns_st;
    return 0;
}
