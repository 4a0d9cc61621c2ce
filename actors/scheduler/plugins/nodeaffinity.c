/* NodeAffinity: Filter — spec.nodeSelector (every label equal) and requiredDuringScheduling
 * nodeSelectorTerms (any term) → "node(s) didn't match Pod's node affinity/selector"; Score — the
 * sum of the weights of the preferred terms the node matches, normalized to 0..100. Args:
 * addedAffinity (a NodeAffinity applied to every pod of the profile, as Kubernetes). */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

#include <stdlib.h>

typedef struct {
    const tr_sched_host_t *host;
    json_t *added;
} na_t;

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) err, (void) errlen;
    na_t *s = calloc (1, sizeof *s);
    s->host = host;
    s->added = json_incref (json_object_get (args, "addedAffinity"));
    return s;
}

static void
destroy (void *self)
{
    na_t *s = self;
    json_decref (s->added);
    free (s);
}

static const char *REASON = "node(s) didn't match Pod's node affinity/selector";

static int
required_ok (na_t *s, const json_t *affinity, const tr_sched_node_t *node)
{
    const json_t *req = json_object_get (json_object_get (affinity, "requiredDuringSchedulingIgnoredDuringExecution"),
                                         "nodeSelectorTerms");
    if (!req)
        return 1;
    return s->host->node_selector_match (req, node) == 1;
}

static tr_sched_status_t
filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node)
{
    (void) cs;
    na_t *s = self;
    const json_t *spec = json_object_get (pod->obj, "spec");
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) json_object_get (spec, "nodeSelector"), k, v) {
        const char *have = pu_str (node->labels, k);
        if (!have || !json_is_string (v) || strcmp (have, json_string_value (v)))
            return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, REASON};
    }
    if (s->added && !required_ok (s, s->added, node))
        return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, REASON};
    if (!required_ok (s, json_object_get (json_object_get (spec, "affinity"), "nodeAffinity"), node))
        return (tr_sched_status_t) {TR_SCHED_UNRESOLVABLE, REASON};
    return TR_SCHED_OK;
}

/* PreFilter: a pod with no nodeSelector and no required node affinity (and no addedAffinity)
 * skips Filter on every node. */
static tr_sched_status_t
pre_filter (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod)
{
    (void) cs;
    na_t *s = self;
    const json_t *spec = json_object_get (pod->obj, "spec");
    if (json_object_size (json_object_get (spec, "nodeSelector")) || s->added ||
        json_object_get (json_object_get (json_object_get (spec, "affinity"), "nodeAffinity"),
                         "requiredDuringSchedulingIgnoredDuringExecution"))
        return TR_SCHED_OK;
    return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
}

static int64_t
preferred (na_t *s, const json_t *affinity, const tr_sched_node_t *node)
{
    int64_t sum = 0;
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get (affinity, "preferredDuringSchedulingIgnoredDuringExecution"), i, t) {
        json_t *terms = json_pack ("[O]", json_object_get (t, "preference"));
        if (s->host->node_selector_match (terms, node) == 1)
            sum += json_integer_value (json_object_get (t, "weight"));
        json_decref (terms);
    }
    return sum;
}

static tr_sched_status_t
pre_score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes, size_t n)
{
    (void) cs, (void) nodes, (void) n;
    na_t *s = self;
    const json_t *a = json_object_get (json_object_get (json_object_get (pod->obj, "spec"), "affinity"), "nodeAffinity");
    if (!json_array_size (json_object_get (a, "preferredDuringSchedulingIgnoredDuringExecution")) &&
        !json_array_size (json_object_get (s->added, "preferredDuringSchedulingIgnoredDuringExecution")))
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    return TR_SCHED_OK;
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) cs;
    na_t *s = self;
    const json_t *a = json_object_get (json_object_get (json_object_get (pod->obj, "spec"), "affinity"), "nodeAffinity");
    *out = preferred (s, a, node) + (s->added ? preferred (s, s->added, node) : 0);
    return TR_SCHED_OK;
}

static tr_sched_status_t
normalize (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, int64_t *scores, size_t n)
{
    (void) self, (void) cs, (void) pod;
    pu_normalize (scores, n, 0);
    return TR_SCHED_OK;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("NodeAffinity"), .init = init, .destroy = destroy,
                                         .pre_filter = pre_filter, .filter = filter, .pre_score = pre_score, .score = score,
                                         .normalize_score = normalize,
                                         .events = TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_LABEL};

const tr_sched_plugin_t *
sched_plugin_nodeaffinity (void)
{
    return &plugin;
}
