/* podindex — see podindex.h. */
#include "actors/controllers/podindex.h"
#include "actors/controllers/ctrl.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

void
podindex_init (podindex_t *x)
{
    x->owned = json_object ();
    x->orphans = json_object ();
    x->where = json_object ();
    x->n = 0;
}

void
podindex_destroy (podindex_t *x)
{
    json_decref (x->owned);
    json_decref (x->orphans);
    json_decref (x->where);
    x->owned = x->orphans = x->where = NULL;
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

static void
unfile (podindex_t *x, const char *ns, const char *key)
{
    json_t *in_ns = json_object_get (x->where, ns);
    const char *at = json_string_value (json_object_get (in_ns, key));
    if (!at)
        return;
    int orphan = !strncmp (at, "ns:", 3);
    json_t *map = orphan ? x->orphans : x->owned;
    const char *bucket = orphan ? at + 3 : at;
    json_t *set = json_object_get (map, bucket);
    json_object_del (set, key);
    if (set && !json_object_size (set))
        json_object_del (map, bucket);
    json_object_del (in_ns, key);
    if (!json_object_size (in_ns))
        json_object_del (x->where, ns);
    x->n--;
}

void
podindex_put (podindex_t *x, const json_t *pod)
{
    char key[600], at[600];
    if (key_of (pod, key, sizeof key))
        return;
    const char *uid = ctrl_controller_uid (pod);
    if (uid)
        snprintf (at, sizeof at, "%s", uid);
    else
        snprintf (at, sizeof at, "ns:%s", tv_str (pod, "metadata.namespace"));
    const char *ns = tv_str (pod, "metadata.namespace");
    const char *was = json_string_value (json_object_get (json_object_get (x->where, ns), key));
    if (was && !strcmp (was, at))
        return;
    unfile (x, ns, key);
    json_t *map = uid ? x->owned : x->orphans;
    const char *bucket = uid ? uid : tv_str (pod, "metadata.namespace");
    json_t *set = json_object_get (map, bucket);
    if (!set) {
        set = json_object ();
        json_object_set_new (map, bucket, set);
    }
    json_object_set_new (set, key, json_true ());
    json_t *in_ns = json_object_get (x->where, ns);
    if (!in_ns) {
        in_ns = json_object ();
        json_object_set_new (x->where, ns, in_ns);
    }
    json_object_set_new (in_ns, key, json_string (at));
    x->n++;
}

void
podindex_del (podindex_t *x, const json_t *pod)
{
    char key[600];
    if (!key_of (pod, key, sizeof key))
        unfile (x, tv_str (pod, "metadata.namespace"), key);
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
