/* podindex — see podindex.h. */
#include "actors/controllers/podindex.h"
#include "core/value.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One pod filed: its facts (a reference to their pod held) and where it is filed. The sets hold
 * it as an integer (its address); `where` owns it. */
typedef struct {
    ctrl_podfacts_t f;
    char *at; /* the controller's uid, or "ns:<namespace>" for an orphan */
} entry_t;

static entry_t *
entry_of (const json_t *v)
{
    return v ? (entry_t *) (intptr_t) json_integer_value (v) : NULL;
}

void
podindex_init (podindex_t *x)
{
    x->owned = json_object ();
    x->orphans = json_object ();
    x->where = json_object ();
    x->n = 0;
}

static void
entry_free (entry_t *e)
{
    json_decref ((json_t *) e->f.pod);
    free (e->at);
    free (e);
}

void
podindex_destroy (podindex_t *x)
{
    const char *ns, *k;
    json_t *in_ns, *v;
    json_object_foreach (x->where, ns, in_ns) json_object_foreach (in_ns, k, v) entry_free (entry_of (v));
    json_decref (x->owned);
    json_decref (x->orphans);
    json_decref (x->where);
    x->owned = x->orphans = x->where = NULL;
    x->n = 0;
}

static int
key_of (const json_t *pod, char *buf, size_t len)
{
    const char *ns = tv_str (pod, "metadata.namespace"), *name = tv_str (pod, "metadata.name");
    if (!ns || !name)
        return -1;
    snprintf (buf, len, "%s/%s", ns, name);
    return 0;
}

/* Takes e out of the set it is filed in (not out of `where`). */
static void
unfile_set (podindex_t *x, const char *key, const entry_t *e)
{
    int orphan = !strncmp (e->at, "ns:", 3);
    json_t *map = orphan ? x->orphans : x->owned;
    const char *bucket = orphan ? e->at + 3 : e->at;
    json_t *set = json_object_get (map, bucket);
    json_object_del (set, key);
    if (set && !json_object_size (set))
        json_object_del (map, bucket);
}

static void
file_set (podindex_t *x, const char *key, entry_t *e)
{
    int orphan = !strncmp (e->at, "ns:", 3);
    json_t *map = orphan ? x->orphans : x->owned;
    const char *bucket = orphan ? e->at + 3 : e->at;
    json_t *set = json_object_get (map, bucket);
    if (!set) {
        set = json_object ();
        json_object_set_new (map, bucket, set);
    }
    json_object_set_new (set, key, json_integer ((json_int_t) (intptr_t) e));
}

void
podindex_put (podindex_t *x, const json_t *pod)
{
    char key[600], at[600];
    if (key_of (pod, key, sizeof key))
        return;
    const char *ns = tv_str (pod, "metadata.namespace");
    const char *uid = ctrl_controller_uid (pod);
    if (uid)
        snprintf (at, sizeof at, "%s", uid);
    else
        snprintf (at, sizeof at, "ns:%s", ns);
    json_t *in_ns = json_object_get (x->where, ns);
    if (!in_ns) {
        in_ns = json_object ();
        json_object_set_new (x->where, ns, in_ns);
    }
    entry_t *e = entry_of (json_object_get (in_ns, key));
    if (!e) {
        e = calloc (1, sizeof *e);
        json_object_set_new (in_ns, key, json_integer ((json_int_t) (intptr_t) e));
        x->n++;
    } else if (strcmp (e->at, at)) /* adopted or released: filed elsewhere */
        unfile_set (x, key, e);
    else { /* the same place: only the facts change */
        json_incref ((json_t *) pod);
        json_decref ((json_t *) e->f.pod);
        ctrl_podfacts (&e->f, pod);
        return;
    }
    free (e->at);
    e->at = strdup (at);
    json_incref ((json_t *) pod);
    json_decref ((json_t *) e->f.pod);
    ctrl_podfacts (&e->f, pod);
    file_set (x, key, e);
}

void
podindex_del (podindex_t *x, const json_t *pod)
{
    char key[600];
    if (key_of (pod, key, sizeof key))
        return;
    const char *ns = tv_str (pod, "metadata.namespace");
    json_t *in_ns = json_object_get (x->where, ns);
    entry_t *e = entry_of (json_object_get (in_ns, key));
    if (!e)
        return;
    unfile_set (x, key, e);
    json_object_del (in_ns, key);
    if (!json_object_size (in_ns))
        json_object_del (x->where, ns);
    entry_free (e);
    x->n--;
}

const json_t *
podindex_owned (const podindex_t *x, const char *uid)
{
    return uid ? json_object_get (x->owned, uid) : NULL;
}

const json_t *
podindex_orphans (const podindex_t *x, const char *ns)
{
    return ns ? json_object_get (x->orphans, ns) : NULL;
}

const json_t *
podindex_ns (const podindex_t *x, const char *ns)
{
    return ns ? json_object_get (x->where, ns) : NULL;
}

size_t
podindex_size (const podindex_t *x)
{
    return x->n;
}

ctrl_podfacts_t *
podindex_facts (const json_t *entry)
{
    entry_t *e = entry_of (entry);
    return e ? &e->f : NULL;
}

void
podindex_gather (const json_t *set, ctrl_podfacts_t ***v, size_t *n, size_t *cap)
{
    size_t want = *n + json_object_size (set);
    if (want > *cap) {
        *cap = want > 2 * *cap ? want : 2 * *cap;
        *v = realloc (*v, *cap * sizeof **v);
    }
    const char *k;
    json_t *val;
    json_object_foreach ((json_t *) set, k, val) (*v)[(*n)++] = podindex_facts (val);
}
