/* eviction — the Eviction API's decision. See eviction.h. */
#include "broker/eviction.h"
#include "core/meta.h"
#include "core/selector.h"
#include "core/value.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOO_MANY_MSG "Cannot evict pod as it would violate the pod's disruption budget."

static int
str_is (const char *s, const char *want)
{
    return s && !strcmp (s, want);
}

int
evict_pod_ready (const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (pod, "status.conditions"), i, c) if (str_is (tv_str (c, "type"), "Ready"))
        return str_is (tv_str (c, "status"), "True");
    return 0;
}

int
evict_pdb_selects (const json_t *pdb, const json_t *labels)
{
    const json_t *sel = tv_get (pdb, "spec.selector");
    if (!json_is_object (sel))
        return 0; /* absent (null): selects nothing in policy/v1 */
    char err[128];
    selector_t *s = selector_from_object (sel, err, sizeof err);
    if (!s)
        return 0; /* an invalid selector matches no pod, as EvictionREST skips it */
    /* EvictionREST reads policy/v1 budgets, where {} is labels.Everything(), and skips it ("a PDB
     * with a nil or empty selector ... should match nothing"): the disruption controller counts
     * every pod for it, the Eviction API protects none */
    int m = !selector_is_empty (s) && selector_matches (s, labels);
    selector_destroy (&s);
    return m;
}

/* The budget's status after one more disruption of pod `name` at now. */
static json_t *
decremented (const json_t *pdb, const char *name, const char *now)
{
    const json_t *st = tv_get (pdb, "status");
    json_t *out = json_is_object (st) ? json_deep_copy (st) : json_object ();
    json_int_t allowed = tv_int (st, "disruptionsAllowed", 0) - 1;
    json_object_set_new (out, "disruptionsAllowed", json_integer (allowed));
    json_t *dp = json_object_get (out, "disruptedPods");
    if (!json_is_object (dp)) {
        dp = json_object ();
        json_object_set_new (out, "disruptedPods", dp);
    }
    json_object_set_new (dp, name, json_string (now));
    if (allowed == 0) {
        /* UpdateDisruptionAllowedCondition: the others kept, DisruptionAllowed replaced */
        const json_t *old = json_object_get (out, "conditions");
        json_t *conds = json_array ();
        size_t i;
        json_t *c;
        json_array_foreach (old, i, c) if (!str_is (tv_str (c, "type"), "DisruptionAllowed"))
            json_array_append (conds, c);
        json_t *c2 = tr_condition (old, "DisruptionAllowed", 0, "InsufficientPods", NULL, now);
        json_object_set_new (c2, "observedGeneration", json_integer (tv_int (st, "observedGeneration", 0)));
        json_array_append_new (conds, c2);
        json_object_set_new (out, "conditions", conds);
    }
    return out;
}

int
evict_preconditions (const json_t *pod, uint64_t pod_rv, const json_t *opts, char *msg, size_t len)
{
    const char *name = tv_str (pod, "metadata.name");
    name = name ? name : "";
    const char *puid = tv_str (opts, "preconditions.uid"), *prv = tv_str (opts, "preconditions.resourceVersion");
    const char *uid = tv_str (pod, "metadata.uid");
    if (puid && !str_is (uid, puid)) {
        snprintf (msg, len,
                  "Operation cannot be fulfilled on pods \"%s\": Precondition failed: UID in precondition: %s, UID in "
                  "object meta: %s",
                  name, puid, uid ? uid : "");
        return -1;
    }
    if (prv && strtoull (prv, NULL, 10) != pod_rv) {
        snprintf (msg, len,
                  "Operation cannot be fulfilled on pods \"%s\": Precondition failed: ResourceVersion in precondition: %s, "
                  "ResourceVersion in object meta: %" PRIu64,
                  name, prv, pod_rv);
        return -1;
    }
    return 0;
}

void
evict_decide (const json_t *pod, uint64_t pod_rv, const json_t *opts, const json_t *pdbs, const char *now, evict_t *e)
{
    memset (e, 0, sizeof *e);
    const char *name = tv_str (pod, "metadata.name"), *ns = tv_str (pod, "metadata.namespace");
    name = name ? name : "";
    ns = ns ? ns : "default";
    /* deleteOptions.preconditions, as the delete checks them */
    if (evict_preconditions (pod, pod_rv, opts, e->msg, sizeof e->msg)) {
        e->action = EVICT_CONFLICT;
        return;
    }
    /* canIgnorePDB: the pod caused its disruption already, or none yet */
    const char *phase = tv_str (pod, "status.phase");
    int deleting = tv_get (pod, "metadata.deletionTimestamp") != NULL;
    int terminal = str_is (phase, "Succeeded") || str_is (phase, "Failed");
    if (terminal || deleting || str_is (phase, "Pending") || !phase) {
        e->action = EVICT_DELETE;
        e->at_rv = !terminal && !deleting; /* shouldEnforceResourceVersion */
        return;
    }
    const json_t *labels = tv_get (pod, "metadata.labels");
    size_t i, n = 0;
    json_t *p;
    json_array_foreach (pdbs, i, p) {
        const char *pns = tv_str (p, "metadata.namespace");
        if (!str_is (pns ? pns : "default", ns) || !evict_pdb_selects (p, labels))
            continue;
        if (!e->pdb)
            e->pdb = p;
        n++;
    }
    if (n == 0) {
        e->action = EVICT_DELETE;
        return;
    }
    if (n > 1) {
        e->action = EVICT_MULTIPLE;
        e->pdb = NULL;
        snprintf (e->msg, sizeof e->msg, "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                                         "does not support.");
        return;
    }
    const json_t *pdb = e->pdb;
    const char *pdbname = tv_str (pdb, "metadata.name");
    pdbname = pdbname ? pdbname : "";
    json_int_t cur = tv_int (pdb, "status.currentHealthy", 0), want = tv_int (pdb, "status.desiredHealthy", 0);
    if (!evict_pod_ready (pod)) {
        /* an unready pod does not count as healthy: deleting it spends nothing */
        const char *policy = tv_str (pdb, "spec.unhealthyPodEvictionPolicy");
        if (str_is (policy, "AlwaysAllow") || (cur >= want && want > 0)) {
            e->action = EVICT_DELETE;
            e->at_rv = e->unready = 1;
            return;
        }
    }
    if (tv_int (pdb, "status.observedGeneration", 0) < tv_int (pdb, "metadata.generation", 1)) {
        e->action = EVICT_TOO_MANY;
        e->retry_after = 10;
        snprintf (e->msg, sizeof e->msg, TOO_MANY_MSG);
        snprintf (e->cause, sizeof e->cause, "The disruption budget %s is still being processed by the server.", pdbname);
        return;
    }
    json_int_t allowed = tv_int (pdb, "status.disruptionsAllowed", 0);
    if (allowed < 0) {
        e->action = EVICT_FORBIDDEN;
        snprintf (e->msg, sizeof e->msg, "poddisruptionbudgets.policy \"%s\" is forbidden: pdb disruptions allowed is negative",
                  pdbname);
        return;
    }
    if (json_object_size (tv_get (pdb, "status.disruptedPods")) > EVICT_MAX_DISRUPTED) {
        e->action = EVICT_FORBIDDEN;
        snprintf (e->msg, sizeof e->msg,
                  "poddisruptionbudgets.policy \"%s\" is forbidden: DisruptedPods map too big - too many evictions not "
                  "confirmed by PDB controller",
                  pdbname);
        return;
    }
    if (allowed == 0) {
        e->action = EVICT_TOO_MANY;
        snprintf (e->msg, sizeof e->msg, TOO_MANY_MSG);
        snprintf (e->cause, sizeof e->cause, "The disruption budget %s needs %lld healthy pods and has %lld currently",
                  pdbname, (long long) want, (long long) cur);
        return;
    }
    e->action = EVICT_DECREMENT;
    e->status = decremented (pdb, name, now);
}

void
evict_clear (evict_t *e)
{
    json_decref (e->status);
    e->status = NULL;
}
