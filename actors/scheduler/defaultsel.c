/* defaultsel — see defaultsel.h. */
#include "actors/scheduler/defaultsel.h"

#include <stdlib.h>
#include <string.h>

struct defaultsel {
    json_t *by_kind[DSEL_NKINDS]; /* namespace → {name → spec.selector (null when absent)} */
};

defaultsel_t *
defaultsel_new (void)
{
    defaultsel_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    for (int k = 0; k < DSEL_NKINDS; k++)
        self->by_kind[k] = json_object ();
    return self;
}

void
defaultsel_destroy (defaultsel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int k = 0; k < DSEL_NKINDS; k++)
        json_decref ((*self_p)->by_kind[k]);
    free (*self_p);
    *self_p = NULL;
}

static const char *
meta_str (const json_t *obj, const char *field)
{
    return json_string_value (json_object_get (json_object_get (obj, "metadata"), field));
}

static const char *
ns_or_default (const char *ns)
{
    return ns && *ns ? ns : "default";
}

void
defaultsel_put (defaultsel_t *self, dsel_kind_t kind, const json_t *obj)
{
    const char *name = meta_str (obj, "name");
    if (!self || kind >= DSEL_NKINDS || !name)
        return;
    const char *ns = ns_or_default (meta_str (obj, "namespace"));
    json_t *names = json_object_get (self->by_kind[kind], ns);
    if (!names) {
        names = json_object ();
        json_object_set_new (self->by_kind[kind], ns, names);
    }
    const json_t *sel = json_object_get (json_object_get (obj, "spec"), "selector");
    json_object_set_new (names, name, sel ? json_deep_copy (sel) : json_null ());
}

void
defaultsel_del (defaultsel_t *self, dsel_kind_t kind, const json_t *obj)
{
    const char *name = meta_str (obj, "name");
    if (!self || kind >= DSEL_NKINDS || !name)
        return;
    const char *ns = ns_or_default (meta_str (obj, "namespace"));
    json_t *names = json_object_get (self->by_kind[kind], ns);
    json_object_del (names, name);
    if (names && json_object_size (names) == 0)
        json_object_del (self->by_kind[kind], ns);
}

json_t *
defaultsel_view (const json_t *obj)
{
    json_t *meta = json_object ();
    const char *name = meta_str (obj, "name"), *ns = meta_str (obj, "namespace");
    if (name)
        json_object_set_new (meta, "name", json_string (name));
    if (ns)
        json_object_set_new (meta, "namespace", json_string (ns));
    json_t *out = json_pack ("{s:o}", "metadata", meta);
    const json_t *sel = json_object_get (json_object_get (obj, "spec"), "selector");
    if (sel)
        json_object_set_new (out, "spec", json_pack ("{s:O}", "selector", sel));
    return out;
}

/* A label map (a Service's or an RC's spec.selector) against labels: every pair present. */
static int
map_matches (const json_t *map, const json_t *labels)
{
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) map, k, v) {
        const char *have = json_string_value (json_object_get (labels, k));
        if (!json_is_string (v) || !have || strcmp (have, json_string_value (v)))
            return 0;
    }
    return 1;
}

/* labels.Merge (into, from): from's pairs win. */
static void
map_merge (json_t *into, const json_t *from)
{
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) from, k, v) {
        if (json_is_string (v))
            json_object_set (into, k, (json_t *) v);
    }
}

/* metav1.LabelSelectorAsSelector's requirements, appended to exprs: 0, or -1 when the selector
 * is malformed (then nothing is appended) or nil (labels.Nothing (): no requirements to add). */
static int
selector_requirements (const json_t *sel, json_t *exprs)
{
    if (!json_is_object (sel))
        return -1;
    json_t *out = json_array ();
    const json_t *ml = json_object_get (sel, "matchLabels");
    const char *k;
    const json_t *v;
    if (ml && !json_is_null (ml) && !json_is_object (ml))
        goto bad;
    json_object_foreach ((json_t *) ml, k, v) {
        if (!json_is_string (v))
            goto bad;
        json_array_append_new (out, json_pack ("{s:s,s:s,s:[O]}", "key", k, "operator", "In", "values", v));
    }
    const json_t *me = json_object_get (sel, "matchExpressions");
    if (me && !json_is_null (me) && !json_is_array (me))
        goto bad;
    size_t i;
    const json_t *e;
    json_array_foreach (me, i, e) {
        const char *key = json_string_value (json_object_get (e, "key"));
        const char *op = json_string_value (json_object_get (e, "operator"));
        const json_t *vals = json_object_get (e, "values");
        size_t nv = json_array_size (vals);
        if (!key || !op)
            goto bad;
        int set_op = !strcmp (op, "In") || !strcmp (op, "NotIn");
        int exist_op = !strcmp (op, "Exists") || !strcmp (op, "DoesNotExist");
        if ((!set_op && !exist_op) || (set_op && nv == 0) || (exist_op && nv > 0))
            goto bad;
        json_array_append_new (out, json_deep_copy (e));
    }
    json_array_extend (exprs, out);
    json_decref (out);
    return 0;
bad:
    json_decref (out);
    return -1;
}

/* metav1.GetControllerOf: the first ownerReference with controller: true. */
static const json_t *
controller_of (const json_t *pod)
{
    const json_t *refs = json_object_get (json_object_get (pod, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;
    json_array_foreach (refs, i, r) {
        if (json_is_true (json_object_get (r, "controller")))
            return r;
    }
    return NULL;
}

static const json_t *
lookup (const defaultsel_t *self, dsel_kind_t kind, const char *ns, const char *name, int *found)
{
    const json_t *names = json_object_get (self->by_kind[kind], ns);
    const json_t *sel = name ? json_object_get (names, name) : NULL;
    *found = sel != NULL;
    return sel;
}

json_t *
defaultsel_of_pod (const defaultsel_t *self, const json_t *pod, const char *ns, const json_t *labels)
{
    if (!self)
        return NULL;
    ns = ns_or_default (ns);
    json_t *set = json_object (), *exprs = json_array ();
    /* GetPodServices: a Service without a selector selects nothing (an empty one adds nothing) */
    const char *name;
    const json_t *sel;
    json_object_foreach (json_object_get (self->by_kind[DSEL_SERVICE], ns), name, sel) {
        if (json_is_object (sel) && json_object_size (sel) > 0 && map_matches (sel, labels))
            map_merge (set, sel);
    }
    const json_t *owner = controller_of (pod);
    const char *av = json_string_value (json_object_get (owner, "apiVersion"));
    const char *kind = json_string_value (json_object_get (owner, "kind"));
    const char *oname = json_string_value (json_object_get (owner, "name"));
    int found = 0;
    if (owner && av && kind) {
        if (!strcmp (av, "v1") && !strcmp (kind, "ReplicationController")) {
            sel = lookup (self, DSEL_RC, ns, oname, &found);
            if (found && json_is_object (sel))
                map_merge (set, sel);
        } else if (!strcmp (av, "apps/v1") && (!strcmp (kind, "ReplicaSet") || !strcmp (kind, "StatefulSet"))) {
            sel = lookup (self, !strcmp (kind, "ReplicaSet") ? DSEL_RS : DSEL_SS, ns, oname, &found);
            if (found)
                selector_requirements (sel, exprs);
        }
    }
    json_t *out = NULL;
    if (json_object_size (set) > 0 || json_array_size (exprs) > 0) {
        out = json_object ();
        if (json_object_size (set) > 0)
            json_object_set (out, "matchLabels", set);
        if (json_array_size (exprs) > 0)
            json_object_set (out, "matchExpressions", exprs);
    }
    json_decref (set);
    json_decref (exprs);
    return out;
}
