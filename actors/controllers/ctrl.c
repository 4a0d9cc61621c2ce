/* ctrl — see ctrl.h. */
#include "actors/controllers/ctrl.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
ctrl_actions_add (ctrl_actions_t *a, tr_verb_t verb, const char *kind, const char *ns, const char *name, uint64_t rv,
                  json_t *body, const char *owner)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->v = realloc (a->v, a->cap * sizeof *a->v);
    }
    ctrl_action_t *x = &a->v[a->n++];
    memset (x, 0, sizeof *x);
    x->verb = verb;
    snprintf (x->kind, sizeof x->kind, "%s", kind);
    snprintf (x->ns, sizeof x->ns, "%s", ns ? ns : "");
    snprintf (x->name, sizeof x->name, "%s", name ? name : "");
    snprintf (x->owner, sizeof x->owner, "%s", owner ? owner : "");
    x->rv = rv;
    x->body = body;
}

void
ctrl_actions_clear (ctrl_actions_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        json_decref (a->v[i].body);
    free (a->v);
    memset (a, 0, sizeof *a);
}

uint64_t
ctrl_rv (const json_t *obj)
{
    const char *s = tv_str (obj, "metadata.resourceVersion");
    return s ? strtoull (s, NULL, 10) : 0;
}

const char *
ctrl_controller_uid (const json_t *obj)
{
    size_t i;
    json_t *r;
    json_array_foreach (tv_get (obj, "metadata.ownerReferences"), i, r) if (json_is_true (json_object_get (r, "controller")))
        return tv_str (r, "uid");
    return NULL;
}

static const json_t *
cond (const json_t *pod, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (pod, "status.conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), type))
        return c;
    return NULL;
}

int
ctrl_pod_ready (const json_t *pod)
{
    const json_t *c = cond (pod, "Ready");
    return c && tv_str (c, "status") && !strcmp (tv_str (c, "status"), "True");
}

int
ctrl_pod_available (const json_t *pod, int64_t min_ready_s, int64_t now_ms)
{
    if (!ctrl_pod_ready (pod))
        return 0;
    if (min_ready_s <= 0)
        return 1;
    const char *t = tv_str (cond (pod, "Ready"), "lastTransitionTime");
    struct tm tm = {0};
    if (!t || !strptime (t, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t) timegm (&tm) * 1000 + min_ready_s * 1000 <= now_ms;
}

int
ctrl_pod_active (const json_t *pod)
{
    const char *phase = tv_str (pod, "status.phase");
    return !tv_get (pod, "metadata.deletionTimestamp") &&
           !(phase && (!strcmp (phase, "Succeeded") || !strcmp (phase, "Failed")));
}

void
ctrl_time (int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *
ctrl_event (const json_t *obj, const char *type, const char *reason, const char *message, const char *component,
            int64_t now_ms)
{
    char now[32], gen[300];
    ctrl_time (now_ms, now, sizeof now);
    snprintf (gen, sizeof gen, "%.200s.", tv_str (obj, "metadata.name") ? tv_str (obj, "metadata.name") : "x");
    return json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},s:i,s:s,s:s}", "apiVersion", "v1",
                      "kind", "Event", "metadata", "generateName", gen, "namespace",
                      tv_str (obj, "metadata.namespace") ? tv_str (obj, "metadata.namespace") : "default", "involvedObject",
                      "apiVersion", tv_str (obj, "apiVersion") ? tv_str (obj, "apiVersion") : "", "kind",
                      tv_str (obj, "kind") ? tv_str (obj, "kind") : "", "namespace",
                      tv_str (obj, "metadata.namespace") ? tv_str (obj, "metadata.namespace") : "", "name",
                      tv_str (obj, "metadata.name") ? tv_str (obj, "metadata.name") : "", "uid",
                      tv_str (obj, "metadata.uid") ? tv_str (obj, "metadata.uid") : "", "type", type, "reason", reason,
                      "message", message, "source", "component", component, "count", 1, "firstTimestamp", now,
                      "lastTimestamp", now);
}
