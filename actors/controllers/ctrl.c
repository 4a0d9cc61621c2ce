/* ctrl — see ctrl.h. */
#include "actors/controllers/ctrl.h"
#include "core/meta.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    for (size_t i = 0; i < a->n; i++) {
        json_decref (a->v[i].body);
        json_decref (a->v[i].opts);
    }
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
    int64_t since = tr_time_parse (tv_str (cond (pod, "Ready"), "lastTransitionTime"));
    return since >= 0 && since + min_ready_s * 1000 <= now_ms;
}

int
ctrl_pod_active (const json_t *pod)
{
    const char *phase = tv_str (pod, "status.phase");
    return !tv_get (pod, "metadata.deletionTimestamp") &&
           !(phase && (!strcmp (phase, "Succeeded") || !strcmp (phase, "Failed")));
}

void
ctrl_podfacts (ctrl_podfacts_t *f, const json_t *pod)
{
    f->pod = pod;
    f->match_uid[0] = 0;
    f->owner = ctrl_controller_uid (pod);
    f->active = ctrl_pod_active (pod);
    const json_t *c = cond (pod, "Ready");
    f->ready = c && tv_str (c, "status") && !strcmp (tv_str (c, "status"), "True");
    f->ready_since_ms = f->ready ? tr_time_parse (tv_str (c, "lastTransitionTime")) : -1;
}

int
ctrl_podfacts_available (const ctrl_podfacts_t *f, int64_t min_ready_s, int64_t now_ms)
{
    if (!f->ready)
        return 0;
    if (min_ready_s <= 0)
        return 1;
    return f->ready_since_ms >= 0 && f->ready_since_ms + min_ready_s * 1000 <= now_ms;
}

ctrl_podfacts_t **
ctrl_podfacts_of_array (const json_t *pods, size_t *n)
{
    *n = json_array_size (pods);
    ctrl_podfacts_t **v = calloc (1, (*n ? *n : 1) * (sizeof *v + sizeof **v));
    ctrl_podfacts_t *facts = (ctrl_podfacts_t *) (v + (*n ? *n : 1));
    for (size_t i = 0; i < *n; i++) {
        v[i] = &facts[i];
        ctrl_podfacts (v[i], json_array_get (pods, i));
    }
    return v;
}

json_t *
ctrl_event (const json_t *obj, const char *type, const char *reason, const char *message, const char *component,
            int64_t now_ms)
{
    return tr_event_new (obj, type, reason, message, component, NULL, now_ms);
}
