/* schema_node — see schema_node.h. */
#include "core/schema_node.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sn_set {
    const json_t *defs;
    snode_t **nodes;
    size_t n, cap;
    json_t *memo; /* "%p" of a resolved schema (or "props:%p") -> its node's index */
};

const json_t *
sn_resolve (const json_t *defs, const json_t *s)
{
    for (int i = 0; i < 8 && s; i++) {
        const char *t = json_string_value (json_object_get (s, "type"));
        if (!t || strcmp (t, "ref"))
            break;
        const char *ref = json_string_value (json_object_get (s, "ref"));
        s = json_object_get (defs, ref ? ref : "");
    }
    return s;
}

/* FNV-1a over k; *len gets its length */
static uint32_t
key_hash (const char *k, size_t *len)
{
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *) k;
    for (; *p; p++)
        h = (h ^ *p) * 16777619u;
    *len = (size_t) (p - (const unsigned char *) k);
    return h;
}

sn_set_t *
sn_set_new (const json_t *defs)
{
    sn_set_t *set = calloc (1, sizeof *set);
    if (!set)
        return NULL;
    set->defs = defs;
    set->memo = json_object ();
    return set;
}

static void
node_free (snode_t *s)
{
    free (s->props);
    free (s->slot);
    free (s->required);
    free (s->defaulted);
    free (s);
}

void
sn_set_destroy (sn_set_t **p)
{
    sn_set_t *set = *p;
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        node_free (set->nodes[i]);
    free (set->nodes);
    json_decref (set->memo);
    free (set);
    *p = NULL;
}

/* The node memoised for (tag, p), or a new empty one memoised so (*fresh set): compiling a
 * definition that leads back to itself finds the node it is filling. NULL: out of memory. */
static snode_t *
memo_node (sn_set_t *set, const char *tag, const void *p, int *fresh)
{
    char key[48];
    snprintf (key, sizeof key, "%s%p", tag, p);
    json_t *i = json_object_get (set->memo, key);
    *fresh = !i;
    if (i)
        return set->nodes[json_integer_value (i)];
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        snode_t **nodes = realloc (set->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NULL;
        set->nodes = nodes;
        set->cap = cap;
    }
    snode_t *s = calloc (1, sizeof *s);
    if (!s)
        return NULL;
    json_object_set_new (set->memo, key, json_integer ((json_int_t) set->n));
    set->nodes[set->n++] = s;
    return s;
}

/* The property table of s from props (an object of property schemas), in its order. */
static int
compile_props (sn_set_t *set, snode_t *s, const json_t *props)
{
    size_t n = json_object_size (props);
    s->indexed = 1;
    if (!n)
        return 0;
    s->props = calloc (n, sizeof *s->props);
    s->required = calloc (n, sizeof *s->required);
    s->defaulted = calloc (n, sizeof *s->defaulted);
    s->nslot = 4;
    while (s->nslot < 2 * n)
        s->nslot *= 2;
    s->slot = calloc (s->nslot, sizeof *s->slot);
    if (!s->props || !s->required || !s->defaulted || !s->slot)
        return -1;
    const char *k;
    json_t *ps;
    json_object_foreach ((json_t *) props, k, ps) {
        sn_prop_t *p = &s->props[s->nprops];
        p->key = k; /* lives as long as props, which the registry holds */
        p->hash = key_hash (k, &p->klen);
        p->ps = ps;
        p->unsupported = tv_str (ps, "unsupported");
        p->write_only_into = tv_str (ps, "writeOnlyInto");
        p->required = tv_bool (ps, "required", false);
        const json_t *rs = sn_resolve (set->defs, ps);
        p->dflt = json_object_get (ps, "default");
        if (!p->dflt && rs)
            p->dflt = json_object_get (rs, "default");
        if (p->required)
            s->required[s->nrequired++] = s->nprops;
        if (p->dflt || p->write_only_into)
            s->defaulted[s->ndefaulted++] = s->nprops;
        uint32_t at = p->hash & (s->nslot - 1);
        while (s->slot[at])
            at = (at + 1) & (s->nslot - 1);
        s->slot[at] = ++s->nprops;
    }
    /* children after the table is whole: a property may lead back here (a recursive definition) */
    for (uint32_t i = 0; i < s->nprops; i++)
        s->props[i].s = sn_compile (set, s->props[i].ps);
    return 0;
}

static sn_type_t
type_of (const char *t)
{
    static const struct {
        const char *name;
        sn_type_t type;
    } types[] = {{"any", SN_ANY},         {"string", SN_STRING},       {"integer", SN_INTEGER},
                 {"number", SN_NUMBER},   {"boolean", SN_BOOLEAN},     {"int-or-string", SN_INT_OR_STRING},
                 {"quantity", SN_QUANTITY}, {"array", SN_ARRAY},       {"map", SN_MAP},
                 {"object", SN_OBJECT}};
    if (!t)
        return SN_NONE;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp (t, types[i].name))
            return types[i].type;
    return SN_OTHER;
}

static sn_format_t
format_of (const char *f)
{
    if (!f)
        return SN_FMT_NONE;
    if (!strcmp (f, "dns-subdomain"))
        return SN_FMT_DNS_SUBDOMAIN;
    if (!strcmp (f, "dns-label"))
        return SN_FMT_DNS_LABEL;
    if (!strcmp (f, "label-value"))
        return SN_FMT_LABEL_VALUE;
    if (!strcmp (f, "base64"))
        return SN_FMT_BASE64;
    return SN_FMT_NONE; /* an unknown format checks nothing, as before */
}

const snode_t *
sn_compile (sn_set_t *set, const json_t *s0)
{
    const json_t *js = sn_resolve (set->defs, s0);
    if (!js)
        return NULL;
    int fresh;
    snode_t *s = memo_node (set, "", js, &fresh);
    if (!s || !fresh)
        return s;
    s->js = js;
    s->type = type_of (tv_str (js, "type"));
    s->format = format_of (tv_str (js, "format"));
    s->enumv = json_object_get (js, "enum");
    s->unsupported_values = json_object_get (js, "unsupportedValues");
    if (!json_is_object (s->unsupported_values))
        s->unsupported_values = NULL;
    s->minimum = json_object_get (js, "minimum");
    s->maximum = json_object_get (js, "maximum");
    s->min_items = tv_int (js, "minItems", 0);
    s->unique_key = tv_str (js, "uniqueKey");
    s->preserve = tv_bool (js, "x-preserve-unknown", false);
    const json_t *items = json_object_get (js, "items"), *values = json_object_get (js, "values");
    s->keys = json_object_get (js, "keys");
    s->other = json_object_get (js, "otherKeys");
    s->other_unsupported = tv_str (s->other, "unsupported");
    s->values_type = tv_str (values, "type");
    s->has_values = values != NULL;
    const json_t *props = json_object_get (js, "properties");
    if (json_is_object (props) && compile_props (set, s, props))
        return NULL;
    s->items = sn_compile (set, items);
    s->values = sn_compile (set, values);
    return s;
}

const snode_t *
sn_compile_props (sn_set_t *set, const json_t *props)
{
    int fresh;
    snode_t *s = memo_node (set, "props:", props, &fresh);
    if (!s || !fresh)
        return s;
    s->js = props;
    s->type = SN_OBJECT;
    return compile_props (set, s, props) ? NULL : s;
}

const sn_prop_t *
sn_prop (const snode_t *s, const char *k)
{
    if (!s->nslot)
        return NULL;
    size_t len;
    uint32_t h = key_hash (k, &len);
    for (uint32_t at = h & (s->nslot - 1);; at = (at + 1) & (s->nslot - 1)) {
        uint32_t i = s->slot[at];
        if (!i)
            return NULL;
        const sn_prop_t *p = &s->props[i - 1];
        if (p->hash == h && p->klen == len && !memcmp (p->key, k, len))
            return p;
    }
}
