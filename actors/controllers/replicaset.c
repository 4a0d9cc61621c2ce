/* replicaset — see replicaset.h. */
#include "actors/controllers/replicaset.h"
#include "core/selector.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deletion preference, Kubernetes' ActivePods ordering simplified: lower rank goes first. */
static int
rank (const ctrl_podfacts_t *f)
{
    const char *node = tv_str (f->pod, "spec.nodeName");
    if (!node || !*node)
        return 0;
    const char *phase = tv_str (f->pod, "status.phase");
    if (!phase || !strcmp (phase, "Pending"))
        return 1;
    if (!f->ready)
        return 2;
    return 3;
}

static int
cmp_victims (const void *a, const void *b)
{
    const ctrl_podfacts_t *fx = *(const ctrl_podfacts_t *const *) a, *fy = *(const ctrl_podfacts_t *const *) b;
    int rx = rank (fx), ry = rank (fy);
    if (rx != ry)
        return rx - ry;
    const json_t *x = fx->pod, *y = fy->pod;
    const char *tx = tv_str (x, "metadata.creationTimestamp"), *ty = tv_str (y, "metadata.creationTimestamp");
    int c = strcmp (ty ? ty : "", tx ? tx : ""); /* newer first */
    if (c)
        return c;
    return strcmp (tv_str (y, "metadata.name"), tv_str (x, "metadata.name"));
}

static json_t *
owner_ref (const json_t *rs)
{
    return json_pack ("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name",
                      tv_str (rs, "metadata.name"), "uid", tv_str (rs, "metadata.uid"), "controller", 1,
                      "blockOwnerDeletion", 1);
}

static json_t *
pod_from_template (const json_t *rs)
{
    const json_t *tmpl = tv_get (rs, "spec.template");
    json_t *pod = json_object ();
    json_object_set_new (pod, "apiVersion", json_string ("v1"));
    json_object_set_new (pod, "kind", json_string ("Pod"));
    json_t *meta = json_object ();
    char gen[300];
    snprintf (gen, sizeof gen, "%.240s-", tv_str (rs, "metadata.name"));
    json_object_set_new (meta, "generateName", json_string (gen));
    json_object_set_new (meta, "namespace", json_string (tv_str (rs, "metadata.namespace")));
    if (tv_get (tmpl, "metadata.labels"))
        json_object_set_new (meta, "labels", json_deep_copy (tv_get (tmpl, "metadata.labels")));
    if (tv_get (tmpl, "metadata.annotations"))
        json_object_set_new (meta, "annotations", json_deep_copy (tv_get (tmpl, "metadata.annotations")));
    json_object_set_new (meta, "ownerReferences", json_pack ("[o]", owner_ref (rs)));
    json_object_set_new (pod, "metadata", meta);
    json_object_set_new (pod, "spec", json_deep_copy (tv_get (tmpl, "spec")));
    return pod;
}

int
rs_reconcile (const json_t *rs, const json_t *pods, rs_expect_t *exp, int64_t now_ms, ctrl_actions_t *out)
{
    size_t n;
    ctrl_podfacts_t **v = ctrl_podfacts_of_array (pods, &n);
    int decided = rs_reconcile_facts (rs, v, n, exp, now_ms, out);
    free (v);
    return decided;
}

/* Whether f's labels match sel, the selector of the ReplicaSet of uid (f's memo). */
static int
labels_match (ctrl_podfacts_t *f, const selector_t *sel, const char *uid)
{
    if (strlen (uid) < sizeof f->match_uid && !strcmp (f->match_uid, uid))
        return f->match;
    f->match = selector_matches (sel, tv_get (f->pod, "metadata.labels"));
    if (strlen (uid) < sizeof f->match_uid)
        snprintf (f->match_uid, sizeof f->match_uid, "%s", uid);
    return f->match;
}

int
rs_reconcile_facts (const json_t *rs, ctrl_podfacts_t *const *pods, size_t n, rs_expect_t *exp,
                    int64_t now_ms, ctrl_actions_t *out)
{
    const char *uid = tv_str (rs, "metadata.uid"), *ns = tv_str (rs, "metadata.namespace"),
               *name = tv_str (rs, "metadata.name");
    if (!uid || !ns || !name)
        return 0;
    char err[128];
    selector_t *sel = selector_from_object (tv_get (rs, "spec.selector"), err, sizeof err);
    if (!sel)
        return 0;
    int deleting = tv_get (rs, "metadata.deletionTimestamp") != NULL;
    const ctrl_podfacts_t **active = calloc (n ? n : 1, sizeof *active);
    size_t nactive = 0;
    int ready = 0, available = 0, labeled = 0;
    json_int_t min_ready = tv_int (rs, "spec.minReadySeconds", 0);
    for (size_t i = 0; i < n; i++) {
        ctrl_podfacts_t *f = pods[i];
        const json_t *pod = f->pod;
        if (f->owner && strcmp (f->owner, uid))
            continue; /* another controller's */
        if (!f->active)
            continue; /* an inactive orphan is not adopted; an inactive own pod is not a replica */
        int matches = labels_match (f, sel, uid);
        if (!f->owner) {
            if (!matches || deleting)
                continue;
            /* adopt: we are now its controller */
            json_t *refs = json_deep_copy (tv_get (pod, "metadata.ownerReferences"));
            if (!json_is_array (refs)) {
                json_decref (refs);
                refs = json_array ();
            }
            json_array_append_new (refs, owner_ref (rs));
            ctrl_actions_add (out, TR_VERB_PATCH, "Pod", ns, tv_str (pod, "metadata.name"), ctrl_rv (pod),
                              json_pack ("{s:{s:o}}", "metadata", "ownerReferences", refs), name);
        }
        active[nactive++] = f;
        labeled += matches;
        ready += f->ready;
        available += ctrl_podfacts_available (f, min_ready, now_ms);
    }
    selector_destroy (&sel);
    json_int_t want = tv_int (rs, "spec.replicas", 1);
    int decided = 0;
    int blocked = 0;
    if (exp && exp->active) {
        int met = exp->up ? (int) nactive >= exp->want : (int) nactive <= exp->want;
        if (met || now_ms >= exp->deadline)
            exp->active = 0;
        else
            blocked = 1;
    }
    if (!deleting && !blocked) {
        long diff = (long) want - (long) nactive;
        if (diff > RS_BURST_REPLICAS)
            diff = RS_BURST_REPLICAS;
        if (diff < -RS_BURST_REPLICAS)
            diff = -RS_BURST_REPLICAS;
        if (diff > 0) {
            for (long k = 0; k < diff; k++)
                ctrl_actions_add (out, TR_VERB_CREATE, "Pod", ns, NULL, 0, pod_from_template (rs), name);
            decided = (int) diff;
        } else if (diff < 0) {
            qsort (active, nactive, sizeof *active, cmp_victims);
            for (long k = 0; k < -diff; k++) {
                const json_t *v = active[k]->pod;
                ctrl_actions_add (out, TR_VERB_DELETE, "Pod", ns, tv_str (v, "metadata.name"), 0, NULL, name);
                char msg[400];
                snprintf (msg, sizeof msg, "Deleted pod: %s", tv_str (v, "metadata.name"));
                ctrl_actions_add (out, TR_VERB_CREATE, "Event", ns, NULL, 0,
                                  ctrl_event (rs, "Normal", "SuccessfulDelete", msg, "replicaset-controller", now_ms), name);
            }
            decided = (int) -diff;
        }
        if (exp && diff) {
            exp->active = 1;
            exp->want = (int) ((long) nactive + diff);
            exp->up = diff > 0;
            exp->deadline = now_ms + RS_EXPECTATION_TIMEOUT_MS;
        }
    }
    free (active);
    json_t *status = json_pack ("{s:i,s:i,s:i,s:i,s:I}", "replicas", (int) nactive, "fullyLabeledReplicas", labeled,
                                "readyReplicas", ready, "availableReplicas", available, "observedGeneration",
                                tv_int (rs, "metadata.generation", 1));
    if (!json_equal (status, tv_get (rs, "status")))
        ctrl_actions_add (out, TR_VERB_UPDATE_STATUS, "ReplicaSet", ns, name, ctrl_rv (rs),
                          json_pack ("{s:o}", "status", status), name);
    else
        json_decref (status);
    return decided;
}

void
rs_slowstart_init (rs_slowstart_t *s, int total)
{
    *s = (rs_slowstart_t) {.total = total, .batch = 1};
}

int
rs_slowstart_next (rs_slowstart_t *s)
{
    if (s->inflight || s->failed || s->sent >= s->total)
        return 0;
    int n = s->total - s->sent < s->batch ? s->total - s->sent : s->batch;
    s->sent += n;
    s->inflight += n;
    s->batch *= 2;
    return n;
}

void
rs_slowstart_result (rs_slowstart_t *s, int ok)
{
    if (s->inflight > 0)
        s->inflight--;
    if (ok)
        s->ok++;
    else
        s->failed++;
}

int
rs_slowstart_finished (const rs_slowstart_t *s)
{
    return !s->inflight && (s->failed || s->sent >= s->total);
}

int
rs_slowstart_skipped (const rs_slowstart_t *s)
{
    return s->total - s->sent;
}
