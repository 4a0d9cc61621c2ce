/* plugin_util — small helpers shared by the built-in plugins (header only, static inline). */
#ifndef TROUPE_SCHED_PLUGIN_UTIL_H
#define TROUPE_SCHED_PLUGIN_UTIL_H

#include "actors/scheduler/sched_plugin.h"

#include <stddef.h>
#include <string.h>

/* Where a reader that last saw snap at layout `layout` and generation `gen` starts in its
 * journal (ABI 1.1): *from = the first move after gen (a binary search: the journal is in
 * generation order), 1. 0 when it cannot: snap keeps no journal, its layout moved, or the
 * journal no longer reaches back to gen (the reader walks every node). */
static inline int
pu_journal_since (const tr_sched_snapshot_t *snap, uint64_t layout, uint64_t gen, size_t *from)
{
    if (snap->size < offsetof (tr_sched_snapshot_t, njournal) + sizeof snap->njournal || !snap->layout ||
        snap->layout != layout || gen < snap->journal_from || (snap->njournal && !snap->journal))
        return 0;
    size_t lo = 0, hi = snap->njournal;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (snap->journal[mid].generation <= gen)
            lo = mid + 1;
        else
            hi = mid;
    }
    *from = lo;
    return 1;
}

static inline const char *
pu_str (const json_t *obj, const char *key)
{
    return json_string_value (json_object_get (obj, key));
}

/* v1.Toleration.ToleratesTaint. */
static inline int
pu_tolerates (const json_t *tol, const char *key, const char *value, const char *effect)
{
    const char *te = pu_str (tol, "effect"), *tk = pu_str (tol, "key"), *op = pu_str (tol, "operator");
    const char *tv = pu_str (tol, "value");
    if (te && *te && strcmp (te, effect ? effect : ""))
        return 0;
    if (tk && *tk && strcmp (tk, key ? key : ""))
        return 0;
    if (!op || !*op || !strcmp (op, "Equal"))
        return !strcmp (tv ? tv : "", value ? value : "");
    return !strcmp (op, "Exists");
}

/* Does any of the pod's tolerations tolerate the taint? */
static inline int
pu_pod_tolerates (const json_t *pod, const char *key, const char *value, const char *effect)
{
    const json_t *tols = json_object_get (json_object_get (pod, "spec"), "tolerations");
    size_t i;
    json_t *t;
    json_array_foreach (tols, i, t) if (pu_tolerates (t, key, value, effect)) return 1;
    return 0;
}

/* Kubernetes' podTerminatingByPreemption: deleted (deletionTimestamp) and marked DisruptionTarget
 * True with reason PreemptionByScheduler. A pod going for another reason (its owner deleted it, a
 * drain) does not hold a preemptor back. */
static inline int
pu_terminating_by_preemption (const json_t *pod)
{
    const json_t *dt = json_object_get (json_object_get (pod, "metadata"), "deletionTimestamp");
    if (!dt || json_is_null (dt))
        return 0;
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get (json_object_get (pod, "status"), "conditions"), i, c) {
        const char *type = pu_str (c, "type");
        if (type && !strcmp (type, "DisruptionTarget")) {
            const char *st = pu_str (c, "status"), *reason = pu_str (c, "reason");
            return st && !strcmp (st, "True") && reason && !strcmp (reason, "PreemptionByScheduler");
        }
    }
    return 0;
}

/* framework.DefaultNormalizeScore: scale to 0..100 by the maximum, reversed if asked. */
static inline void
pu_normalize (int64_t *scores, size_t n, int reverse)
{
    int64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (scores[i] > max)
            max = scores[i];
    if (!max) {
        if (reverse)
            for (size_t i = 0; i < n; i++)
                scores[i] = 100;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        scores[i] = 100 * scores[i] / max;
        if (reverse)
            scores[i] = 100 - scores[i];
    }
}

#endif
