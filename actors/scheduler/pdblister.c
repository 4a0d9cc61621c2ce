/* pdblister — see pdblister.h. */
#include "actors/scheduler/pdblister.h"

#include <stdlib.h>
#include <string.h>

struct pdblister {
    json_t *by_ns;            /* namespace → {name → view} */
    int dirty;                /* a put or del since the arrays were built */
    tr_sched_pdb_t *all;      /* every PDB, ordered by namespace then name */
    const tr_sched_pdb_t **ptrs;
    size_t n, cap;
    json_t *empty;            /* the disrupted_pods of a PDB without any */
};

pdblister_t *
pdblister_new (void)
{
    pdblister_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->by_ns = json_object ();
    self->empty = json_object ();
    return self;
}

void
pdblister_destroy (pdblister_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pdblister_t *self = *self_p;
    json_decref (self->by_ns);
    json_decref (self->empty);
    free (self->all);
    free (self->ptrs);
    free (self);
    *self_p = NULL;
}

static const char *
meta_str (const json_t *obj, const char *field)
{
    return json_string_value (json_object_get (json_object_get (obj, "metadata"), field));
}

static const char *
ns_of (const json_t *obj)
{
    const char *ns = meta_str (obj, "namespace");
    return ns && *ns ? ns : "default";
}

json_t *
pdblister_view (const json_t *obj)
{
    json_t *meta = json_object ();
    const char *name = meta_str (obj, "name"), *ns = meta_str (obj, "namespace");
    if (name)
        json_object_set_new (meta, "name", json_string (name));
    if (ns)
        json_object_set_new (meta, "namespace", json_string (ns));
    json_t *out = json_pack ("{s:o}", "metadata", meta);
    const json_t *sel = json_object_get (json_object_get (obj, "spec"), "selector");
    if (sel && !json_is_null (sel))
        json_object_set_new (out, "spec", json_pack ("{s:O}", "selector", sel));
    const json_t *st = json_object_get (obj, "status");
    const json_t *da = json_object_get (st, "disruptionsAllowed"), *dp = json_object_get (st, "disruptedPods");
    if (json_is_integer (da) || json_is_object (dp)) {
        json_t *status = json_object ();
        if (json_is_integer (da))
            json_object_set (status, "disruptionsAllowed", (json_t *) da);
        if (json_is_object (dp))
            json_object_set_new (status, "disruptedPods", json_deep_copy (dp));
        json_object_set_new (out, "status", status);
    }
    return out;
}

void
pdblister_put (pdblister_t *self, const json_t *obj)
{
    const char *name = meta_str (obj, "name");
    if (!self || !name)
        return;
    const char *ns = ns_of (obj);
    json_t *names = json_object_get (self->by_ns, ns);
    if (!names) {
        names = json_object ();
        json_object_set_new (self->by_ns, ns, names);
    }
    json_object_set_new (names, name, pdblister_view (obj));
    self->dirty = 1;
}

void
pdblister_del (pdblister_t *self, const json_t *obj)
{
    const char *name = meta_str (obj, "name");
    if (!self || !name)
        return;
    const char *ns = ns_of (obj);
    json_t *names = json_object_get (self->by_ns, ns);
    if (!json_object_get (names, name))
        return;
    json_object_del (names, name);
    if (!json_object_size (names))
        json_object_del (self->by_ns, ns);
    self->dirty = 1;
}

static int
cmp_pdb (const void *pa, const void *pb)
{
    const tr_sched_pdb_t *a = pa, *b = pb;
    int c = strcmp (a->ns, b->ns);
    return c ? c : strcmp (a->name, b->name);
}

static int
build (pdblister_t *self)
{
    size_t n = 0;
    const char *ns, *name;
    json_t *names, *v;
    json_object_foreach (self->by_ns, ns, names) n += json_object_size (names);
    if (n > self->cap) {
        tr_sched_pdb_t *a = realloc (self->all, n * sizeof *a);
        if (!a)
            return -1;
        self->all = a;
        const tr_sched_pdb_t **p = realloc (self->ptrs, n * sizeof *p);
        if (!p)
            return -1;
        self->ptrs = p;
        self->cap = n;
    }
    size_t i = 0;
    json_object_foreach (self->by_ns, ns, names) {
        json_object_foreach (names, name, v) {
            const json_t *st = json_object_get (v, "status");
            json_int_t da = json_integer_value (json_object_get (st, "disruptionsAllowed"));
            const json_t *dp = json_object_get (st, "disruptedPods");
            self->all[i++] = (tr_sched_pdb_t) {
                .size = sizeof (tr_sched_pdb_t),
                .ns = ns,
                .name = name,
                .selector = json_object_get (json_object_get (v, "spec"), "selector"),
                .disruptions_allowed = da > INT32_MAX ? INT32_MAX : da < INT32_MIN ? INT32_MIN : (int32_t) da,
                .disrupted_pods = json_is_object (dp) ? dp : self->empty,
            };
        }
    }
    qsort (self->all, n, sizeof *self->all, cmp_pdb);
    for (i = 0; i < n; i++)
        self->ptrs[i] = &self->all[i];
    self->n = n;
    self->dirty = 0;
    return 0;
}

size_t
pdblister_list (pdblister_t *self, const char *ns, const tr_sched_pdb_t *const **out)
{
    *out = NULL;
    if (!self || (self->dirty && build (self)) || !self->n)
        return 0;
    if (!ns) {
        *out = self->ptrs;
        return self->n;
    }
    size_t lo = 0, hi = self->n; /* the first of ns */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp (self->all[mid].ns, ns) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < self->n && !strcmp (self->all[end].ns, ns))
        end++;
    if (end == lo)
        return 0;
    *out = self->ptrs + lo;
    return end - lo;
}

size_t
pdblister_count (const pdblister_t *self)
{
    size_t n = 0;
    const char *ns;
    json_t *names;
    if (self)
        json_object_foreach (self->by_ns, ns, names) n += json_object_size (names);
    return n;
}
