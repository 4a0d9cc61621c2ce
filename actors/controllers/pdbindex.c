/* pdbindex — see pdbindex.h. */
#include "actors/controllers/pdbindex.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pdbentry {
    char *ns, *name; /* NULL name: a free slot */
    json_t *src;     /* spec.selector as last parsed (a copy), or NULL when absent */
    selector_t *sel; /* NULL: selects nothing */
};

static char *
dup (const char *s)
{
    size_t n = strlen (s) + 1;
    char *d = malloc (n);
    if (d)
        memcpy (d, s, n);
    return d;
}

void
pdbindex_init (pdbindex_t *x)
{
    memset (x, 0, sizeof *x);
    x->by_ns = json_object ();
    x->free = json_array ();
}

static void
entry_clear (pdbentry_t *e)
{
    free (e->ns);
    free (e->name);
    json_decref (e->src);
    selector_destroy (&e->sel);
    memset (e, 0, sizeof *e);
}

void
pdbindex_destroy (pdbindex_t *x)
{
    for (size_t i = 0; i < x->n; i++)
        entry_clear (&x->v[i]);
    free (x->v);
    json_decref (x->by_ns);
    json_decref (x->free);
    memset (x, 0, sizeof *x);
}

/* The entry of ns/name, or NULL. */
static pdbentry_t *
find (const pdbindex_t *x, const char *ns, const char *name)
{
    const json_t *slot = json_object_get (json_object_get (x->by_ns, ns), name);
    return slot ? &x->v[json_integer_value (slot)] : NULL;
}

/* (Re)parses e's selector when spec.selector differs from the one it was parsed from. */
static void
refresh (pdbindex_t *x, pdbentry_t *e, const json_t *pdb)
{
    const json_t *sel = tv_get (pdb, "spec.selector");
    if (e->name && (sel == e->src || (sel && e->src && json_equal (sel, e->src))))
        return;
    json_decref (e->src);
    selector_destroy (&e->sel);
    e->src = sel ? json_deep_copy (sel) : NULL;
    char err[256];
    /* policy/v1: an absent selector selects nothing; an invalid one (validation refuses it) too */
    e->sel = json_is_object (sel) ? selector_from_object (sel, err, sizeof err) : NULL;
    x->parses++;
}

void
pdbindex_put (pdbindex_t *x, const json_t *pdb)
{
    const char *ns = tv_str (pdb, "metadata.namespace"), *name = tv_str (pdb, "metadata.name");
    if (!ns || !name)
        return;
    pdbentry_t *e = find (x, ns, name);
    if (e) {
        refresh (x, e, pdb);
        return;
    }
    size_t slot;
    if (json_array_size (x->free)) {
        size_t last = json_array_size (x->free) - 1;
        slot = (size_t) json_integer_value (json_array_get (x->free, last));
        json_array_remove (x->free, last);
    } else {
        if (x->n == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : 16;
            pdbentry_t *v = realloc (x->v, cap * sizeof *v);
            if (!v)
                return;
            x->v = v;
            x->cap = cap;
        }
        slot = x->n++;
    }
    e = &x->v[slot];
    memset (e, 0, sizeof *e);
    refresh (x, e, pdb);
    e->ns = dup (ns);
    e->name = dup (name);
    json_t *names = json_object_get (x->by_ns, ns);
    if (!names) {
        names = json_object ();
        json_object_set_new (x->by_ns, ns, names);
    }
    json_object_set_new (names, name, json_integer ((json_int_t) slot));
    x->count++;
}

void
pdbindex_del (pdbindex_t *x, const json_t *pdb)
{
    const char *ns = tv_str (pdb, "metadata.namespace"), *name = tv_str (pdb, "metadata.name");
    if (!ns || !name)
        return;
    json_t *names = json_object_get (x->by_ns, ns);
    json_t *slot = json_object_get (names, name);
    if (!slot)
        return;
    json_int_t i = json_integer_value (slot);
    entry_clear (&x->v[i]);
    json_array_append_new (x->free, json_integer (i));
    json_object_del (names, name);
    if (!json_object_size (names))
        json_object_del (x->by_ns, ns);
    x->count--;
}

void
pdbindex_matching (const pdbindex_t *x, const char *ns, const json_t *labels, const json_t *old_labels, int all,
                   void (*fn) (void *arg, const char *key), void *arg)
{
    const char *name;
    json_t *slot;
    json_object_foreach (json_object_get (x->by_ns, ns ? ns : ""), name, slot) {
        const pdbentry_t *e = &x->v[json_integer_value (slot)];
        if (all || (e->sel && (selector_matches (e->sel, labels) || (old_labels && selector_matches (e->sel, old_labels))))) {
            char key[600];
            snprintf (key, sizeof key, "%s/%s", e->ns, e->name);
            fn (arg, key);
        }
    }
}

int
pdbindex_selector (const pdbindex_t *x, const char *ns, const char *name, const selector_t **sel)
{
    const pdbentry_t *e = ns && name ? find (x, ns, name) : NULL;
    *sel = e ? e->sel : NULL;
    return !!e;
}

json_t *
pdbindex_select_pods (const pdbindex_t *x, const char *ns, const char *name, const json_t *keys, pdbindex_pod_fn get,
                      void *arg)
{
    json_t *out = json_array ();
    const selector_t *sel;
    if (!pdbindex_selector (x, ns, name, &sel) || !sel)
        return out;
    size_t nl = strlen (ns);
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) keys, k, v) {
        if (strncmp (k, ns, nl) || k[nl] != '/')
            continue; /* not of this namespace */
        const json_t *pod = get (arg, ns, k + nl + 1);
        if (pod && selector_matches (sel, tv_get (pod, "metadata.labels")))
            json_array_append (out, (json_t *) pod);
    }
    return out;
}

size_t
pdbindex_size (const pdbindex_t *x)
{
    return x->count;
}

size_t
pdbindex_parses (const pdbindex_t *x)
{
    return x->parses;
}
