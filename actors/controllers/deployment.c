/* deployment — see deployment.h. */
#include "actors/controllers/deployment.h"
#include "core/meta.h"
#include "core/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REV_ANN "deployment.kubernetes.io/revision"

void
deploy_template_hash (const json_t *tmpl, char out[16])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    json_t *t = json_deep_copy (tmpl);
    json_object_del (tv_get (t, "metadata.labels"), "pod-template-hash");
    char *s = json_dumps (t, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref (t);
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
    for (const char *p = s ? s : ""; *p; p++) {
        h ^= (unsigned char) *p;
        h *= 1099511628211ull;
    }
    free (s);
    for (int i = 0; i < 10; i++) {
        out[i] = alphabet[h % (sizeof alphabet - 1)];
        h /= sizeof alphabet - 1;
    }
    out[10] = 0;
}

int
deploy_scaled_value (const json_t *v, int total, int round_up)
{
    if (json_is_integer (v))
        return (int) json_integer_value (v);
    const char *s = json_string_value (v);
    if (!s)
        return 0;
    size_t n = strlen (s);
    if (n && s[n - 1] == '%') {
        double pct = atof (s) * total / 100.0;
        return (int) (round_up ? ceil (pct - 1e-9) : floor (pct + 1e-9));
    }
    return atoi (s);
}

typedef struct {
    const json_t *rs;
    long revision;
    int spec;       /* spec.replicas */
    int pods;       /* active pods */
    int ready, available;
    int any_pods;   /* pods incl. terminating (Recreate waits for them) */
} rsinfo_t;

static long
revision_of (const json_t *rs)
{
    const char *r = json_string_value (json_object_get (tv_get (rs, "metadata.annotations"), REV_ANN));
    return r ? atol (r) : 0;
}

static int
cmp_oldest (const void *a, const void *b)
{
    const rsinfo_t *x = a, *y = b;
    return x->revision < y->revision ? -1 : x->revision > y->revision;
}

static void
scale (ctrl_actions_t *out, const json_t *d, const rsinfo_t *r, int to, int64_t now_ms)
{
    const char *ns = tv_str (d, "metadata.namespace");
    ctrl_actions_add (out, TR_VERB_PATCH, "ReplicaSet", ns, tv_str (r->rs, "metadata.name"), ctrl_rv (r->rs),
                      json_pack ("{s:{s:i}}", "spec", "replicas", to), tv_str (d, "metadata.name"));
    char msg[400];
    snprintf (msg, sizeof msg, "Scaled %s replica set %s to %d", to > r->spec ? "up" : "down",
              tv_str (r->rs, "metadata.name"), to);
    ctrl_actions_add (out, TR_VERB_CREATE, "Event", ns, NULL, 0,
                      ctrl_event (d, "Normal", "ScalingReplicaSet", msg, "deployment-controller", now_ms),
                      tv_str (d, "metadata.name"));
}

/* A paused Deployment still scales, without rolling out (Kubernetes' sync of a paused one): the
 * only active ReplicaSet, or the newest when none is, takes the replicas; with several active, a
 * saturated new one sends the old ones to 0, else (RollingUpdate) the difference to replicas +
 * maxSurge is shared in proportion to their sizes, the larger first (Kubernetes weighs by its
 * max-replicas annotation; sizes give the same split when they were set by this controller). */
static void
scale_paused (ctrl_actions_t *out, const json_t *d, const rsinfo_t *all, size_t n, const rsinfo_t *newrs, int desired,
              int recreate, int64_t now_ms)
{
    size_t active = 0;
    const rsinfo_t *one = NULL;
    int total = 0;
    for (size_t k = 0; k < n; k++)
        if (all[k].spec > 0) {
            active++;
            one = &all[k];
            total += all[k].spec;
        }
    if (!active)
        one = newrs ? newrs : &all[n - 1]; /* all[] is oldest first */
    if (active <= 1) {
        if (one->spec != desired)
            scale (out, d, one, desired, now_ms);
        return;
    }
    if (newrs && newrs->spec == desired && newrs->available == desired) {
        for (size_t k = 0; k < n; k++)
            if (&all[k] != newrs && all[k].spec)
                scale (out, d, &all[k], 0, now_ms);
        return;
    }
    if (recreate)
        return;
    int surge = deploy_scaled_value (tv_get (d, "spec.strategy.rollingUpdate.maxSurge"), desired, 1);
    int add = desired + surge - total, left = add;
    if (!add)
        return;
    int *target = calloc (n, sizeof *target);
    size_t first = n;
    for (size_t k = 0; k < n; k++) {
        target[k] = all[k].spec;
        if (!all[k].spec)
            continue;
        if (first == n || all[k].spec >= all[first].spec) /* the largest, the newest of equals */
            first = k;
        int share = (int) ((int64_t) all[k].spec * add / total);
        target[k] += share;
        left -= share;
    }
    target[first] += left;
    for (size_t k = 0; k < n; k++) {
        if (target[k] < 0)
            target[k] = 0;
        if (target[k] != all[k].spec)
            scale (out, d, &all[k], target[k], now_ms);
    }
    free (target);
}

void
deploy_reconcile (const json_t *d, const json_t *rss, const json_t *pods, int64_t now_ms, ctrl_actions_t *out)
{
    size_t n;
    ctrl_podfacts_t **v = ctrl_podfacts_of_array (pods, &n);
    deploy_reconcile_facts (d, rss, (const ctrl_podfacts_t *const *) v, n, now_ms, out);
    free (v);
}

void
deploy_reconcile_facts (const json_t *d, const json_t *rss, const ctrl_podfacts_t *const *pods, size_t npods,
                        int64_t now_ms, ctrl_actions_t *out)
{
    const char *uid = tv_str (d, "metadata.uid"), *ns = tv_str (d, "metadata.namespace"), *name = tv_str (d, "metadata.name");
    if (!uid || !ns || !name || tv_get (d, "metadata.deletionTimestamp"))
        return;
    int desired = (int) tv_int (d, "spec.replicas", 1);
    json_int_t min_ready = tv_int (d, "spec.minReadySeconds", 0);
    char hash[16];
    const json_t *tmpl = tv_get (d, "spec.template");
    deploy_template_hash (tmpl, hash);

    size_t nrs = json_array_size (rss), i;
    rsinfo_t *all = calloc (nrs ? nrs : 1, sizeof *all);
    size_t n = 0;
    rsinfo_t *newrs = NULL;
    long maxrev = 0;
    json_t *rs;
    json_array_foreach (rss, i, rs) {
        const char *owner = ctrl_controller_uid (rs);
        if (!owner || strcmp (owner, uid) || tv_get (rs, "metadata.deletionTimestamp"))
            continue;
        rsinfo_t *r = &all[n++];
        r->rs = rs;
        r->revision = revision_of (rs);
        r->spec = (int) tv_int (rs, "spec.replicas", 1);
        if (r->revision > maxrev)
            maxrev = r->revision;
        const char *rsuid = tv_str (rs, "metadata.uid");
        for (size_t j = 0; rsuid && j < npods; j++) {
            const ctrl_podfacts_t *f = pods[j];
            if (!f->owner || strcmp (f->owner, rsuid))
                continue;
            r->any_pods++;
            if (!f->active)
                continue;
            r->pods++;
            r->ready += f->ready;
            r->available += ctrl_podfacts_available (f, min_ready, now_ms);
        }
        const char *h = tv_str (rs, "metadata.labels.pod-template-hash");
        if (h && !strcmp (h, hash))
            newrs = r;
    }
    qsort (all, n, sizeof *all, cmp_oldest);
    /* qsort moved the entries: find the new one again */
    newrs = NULL;
    for (size_t k = 0; k < n; k++) {
        const char *h = tv_str (all[k].rs, "metadata.labels.pod-template-hash");
        if (h && !strcmp (h, hash))
            newrs = &all[k];
    }
    const char *type = tv_str (d, "spec.strategy.type");
    int recreate = type && !strcmp (type, "Recreate");
    int paused = tv_bool (d, "spec.paused", false);
    int acted = 0;
    char revbuf[32];

    if (paused && n)
        scale_paused (out, d, all, n, newrs, desired, recreate, now_ms);
    if (!newrs && !paused) {
        /* the first step of a rollout: the new ReplicaSet, already sized as far as allowed */
        int old_total = 0;
        for (size_t k = 0; k < n; k++)
            old_total += all[k].spec;
        int start = desired;
        if (recreate)
            start = old_total ? 0 : desired;
        else if (n) {
            int surge = deploy_scaled_value (tv_get (d, "spec.strategy.rollingUpdate.maxSurge"), desired, 1);
            int unav = deploy_scaled_value (tv_get (d, "spec.strategy.rollingUpdate.maxUnavailable"), desired, 0);
            if (!surge && !unav)
                unav = 1;
            int room = desired + surge - old_total;
            start = room < 0 ? 0 : room > desired ? desired : room;
        }
        json_t *labels = json_deep_copy (tv_get (tmpl, "metadata.labels"));
        if (!labels)
            labels = json_object ();
        json_object_set_new (labels, "pod-template-hash", json_string (hash));
        json_t *t = json_deep_copy (tmpl);
        tv_set (t, "metadata.labels", json_deep_copy (labels));
        json_t *selector = json_deep_copy (tv_get (d, "spec.selector"));
        json_t *ml = tv_obj (selector, "matchLabels");
        json_object_set_new (ml, "pod-template-hash", json_string (hash));
        char rsname[300];
        snprintf (rsname, sizeof rsname, "%.240s-%s", name, hash);
        snprintf (revbuf, sizeof revbuf, "%ld", maxrev + 1);
        json_t *body = json_pack ("{s:s,s:s,s:{s:s,s:s,s:o,s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:{s:i,s:I,s:o,s:o}}",
                                  "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", rsname, "namespace",
                                  ns, "labels", labels, "annotations", REV_ANN, revbuf, "ownerReferences", "apiVersion",
                                  "apps/v1", "kind", "Deployment", "name", name, "uid", uid, "controller", 1,
                                  "blockOwnerDeletion", 1, "spec", "replicas", start, "minReadySeconds", min_ready,
                                  "selector", selector, "template", t);
        ctrl_actions_add (out, TR_VERB_CREATE, "ReplicaSet", ns, rsname, 0, body, name);
        char msg[400];
        snprintf (msg, sizeof msg, "Scaled up replica set %s to %d", rsname, start);
        ctrl_actions_add (out, TR_VERB_CREATE, "Event", ns, NULL, 0,
                          ctrl_event (d, "Normal", "ScalingReplicaSet", msg, "deployment-controller", now_ms), name);
        acted = 1;
    } else if (newrs && newrs->revision < maxrev && !paused) {
        /* an older template came back (rollout undo): it becomes the newest revision */
        snprintf (revbuf, sizeof revbuf, "%ld", maxrev + 1);
        ctrl_actions_add (out, TR_VERB_PATCH, "ReplicaSet", ns, tv_str (newrs->rs, "metadata.name"), ctrl_rv (newrs->rs),
                          json_pack ("{s:{s:{s:s}}}", "metadata", "annotations", REV_ANN, revbuf), name);
        acted = 1;
    }

    if (newrs && !acted && !paused) {
        int old_spec = 0, old_pods = 0, all_pods = newrs->pods, all_avail = newrs->available;
        for (size_t k = 0; k < n; k++)
            if (&all[k] != newrs) {
                old_spec += all[k].spec;
                old_pods += all[k].any_pods;
                all_pods += all[k].pods;
                all_avail += all[k].available;
            }
        if (recreate) {
            if (old_spec) {
                for (size_t k = 0; k < n; k++)
                    if (&all[k] != newrs && all[k].spec)
                        scale (out, d, &all[k], 0, now_ms);
            } else if (!old_pods && newrs->spec != desired)
                scale (out, d, newrs, desired, now_ms);
        } else if (!old_spec) {
            if (newrs->spec != desired) /* plain scaling */
                scale (out, d, newrs, desired, now_ms);
        } else {
            int surge = deploy_scaled_value (tv_get (d, "spec.strategy.rollingUpdate.maxSurge"), desired, 1);
            int unav = deploy_scaled_value (tv_get (d, "spec.strategy.rollingUpdate.maxUnavailable"), desired, 0);
            if (!surge && !unav)
                unav = 1;
            int total_spec = old_spec + newrs->spec;
            if (newrs->spec > desired)
                scale (out, d, newrs, desired, now_ms);
            else if (newrs->spec < desired && total_spec < desired + surge) {
                int up = desired + surge - total_spec;
                if (up > desired - newrs->spec)
                    up = desired - newrs->spec;
                scale (out, d, newrs, newrs->spec + up, now_ms);
            } else {
                /* scale old ones down, never below desired - maxUnavailable available */
                int min_avail = desired - unav;
                int new_unavail = newrs->spec - newrs->available;
                int max_down = all_pods - min_avail - new_unavail;
                int budget = max_down > 0 ? max_down : 0;
                int *target = calloc (n, sizeof *target);
                for (size_t k = 0; k < n; k++)
                    target[k] = all[k].spec;
                /* first the unhealthy old replicas: removing them costs no availability */
                for (size_t k = 0; k < n && budget > 0; k++) {
                    if (&all[k] == newrs)
                        continue;
                    int unhealthy = all[k].spec - all[k].available;
                    int cut = unhealthy < budget ? unhealthy : budget;
                    if (cut > 0) {
                        target[k] -= cut;
                        budget -= cut;
                    }
                }
                /* then healthy ones, as far as availability allows */
                int avail_budget = all_avail - min_avail;
                for (size_t k = 0; k < n && avail_budget > 0; k++) {
                    if (&all[k] == newrs || target[k] == 0)
                        continue;
                    int cut = target[k] < avail_budget ? target[k] : avail_budget;
                    target[k] -= cut;
                    avail_budget -= cut;
                }
                for (size_t k = 0; k < n; k++)
                    if (&all[k] != newrs && target[k] != all[k].spec)
                        scale (out, d, &all[k], target[k], now_ms);
                free (target);
            }
        }
        /* history: old ReplicaSets at 0 with no pods, beyond revisionHistoryLimit, oldest first */
        int limit = (int) tv_int (d, "spec.revisionHistoryLimit", 10);
        int idle = 0;
        for (size_t k = 0; k < n; k++)
            idle += &all[k] != newrs && !all[k].spec && !all[k].any_pods;
        for (size_t k = 0; k < n && idle > limit; k++)
            if (&all[k] != newrs && !all[k].spec && !all[k].any_pods) {
                ctrl_actions_add (out, TR_VERB_DELETE, "ReplicaSet", ns, tv_str (all[k].rs, "metadata.name"), 0, NULL, name);
                idle--;
            }
    }

    /* status */
    int replicas = 0, ready = 0, available = 0, updated = newrs ? newrs->pods : 0;
    for (size_t k = 0; k < n; k++) {
        replicas += all[k].pods;
        ready += all[k].ready;
        available += all[k].available;
    }
    int unav = deploy_scaled_value (tv_get (d, "spec.strategy.rollingUpdate.maxUnavailable"), desired, 0);
    if (recreate)
        unav = 0;
    char now[32];
    tr_time_format (now_ms, now, sizeof now);
    int complete = newrs && updated == desired && replicas == desired && available == desired && newrs->spec == desired;
    json_t *conds = json_array ();
    int avail_ok = available >= desired - unav;
    json_t *old = tv_get (d, "status.conditions");
    json_array_append_new (conds, tr_condition (old, "Available", avail_ok, avail_ok ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                                             avail_ok ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", now));
    char pmsg[400];
    snprintf (pmsg, sizeof pmsg, complete ? "ReplicaSet \"%s-%s\" has successfully progressed." : "ReplicaSet \"%s-%s\" is progressing.",
              name, hash);
    json_array_append_new (conds, tr_condition (old, "Progressing", 1, complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated", pmsg, now));
    json_t *status = json_pack ("{s:I,s:i,s:i,s:i,s:i,s:i,s:o}", "observedGeneration", tv_int (d, "metadata.generation", 1),
                                "replicas", replicas, "updatedReplicas", updated, "readyReplicas", ready,
                                "availableReplicas", available, "unavailableReplicas",
                                desired - available > 0 ? desired - available : 0, "conditions", conds);
    if (!json_equal (status, tv_get (d, "status")))
        ctrl_actions_add (out, TR_VERB_UPDATE_STATUS, "Deployment", ns, name, ctrl_rv (d), json_pack ("{s:o}", "status", status), name);
    else
        json_decref (status);
    free (all);
}
