/* labelmatch — a metav1.LabelSelector against labels, for plugins that match it against every
 * pod of the cluster in PreFilter/PreScore. matchLabels alone (the common case: Deployments,
 * anti-affinity to one's own app) is compared in place, without building a selector; anything
 * else goes to the host's label_selector_match. Same answers: NULL matches nothing, {} all.
 */
#ifndef TROUPE_SCHED_LABELMATCH_H
#define TROUPE_SCHED_LABELMATCH_H

#include "actors/scheduler/sched_plugin.h"

#include <string.h>

/* Whether sel (not NULL) is matchLabels alone (or nothing), and then its matchLabels (NULL:
 * none, matching every set of labels) in *ml: what a caller matching the same selector many
 * times reads once, then labelmatch_ml. */
static inline int
labelmatch_simple (const json_t *sel, const json_t **ml_out)
{
    const json_t *me = json_object_get (sel, "matchExpressions");
    const json_t *ml = json_object_get (sel, "matchLabels");
    size_t nkeys = json_object_size (sel);
    *ml_out = ml;
    return json_is_object (sel) && nkeys == (size_t) (ml != NULL) + (me != NULL) &&
           (!me || (json_is_array (me) && json_array_size (me) == 0)) && (!ml || json_is_object (ml));
}

/* A simple selector's matchLabels (labelmatch_simple) against labels. */
static inline int
labelmatch_ml (const json_t *ml, const json_t *labels)
{
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) ml, k, v) {
        const char *have = json_string_value (json_object_get (labels, k));
        if (!json_is_string (v) || !have || strcmp (have, json_string_value (v)))
            return 0;
    }
    return 1;
}

static inline int
labelmatch (const tr_sched_host_t *host, const json_t *sel, const json_t *labels)
{
    if (!sel || json_is_null (sel))
        return 0;
    const json_t *ml;
    if (!labelmatch_simple (sel, &ml))
        return host->label_selector_match (sel, labels) == 1;
    return labelmatch_ml (ml, labels);
}

#endif
