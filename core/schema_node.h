/* schema_node — the schema registry's definitions compiled for the walks of every write.
 *
 * The schema files are data (JSON trees from the YAML files under schema/). Validation, defaulting and
 * canonicalisation walk a value along them on every create and update; read as JSON, each step
 * looked its schema node's "type", "ref", "format", "properties"... up by name and compared
 * strings (a quarter of the schema work of a pod's create). Compiled once when the registry is
 * loaded, a node carries those as an enum and pointers: references are resolved, each property's
 * schema is its compiled node, an object's properties are a table found by key hash.
 * Internal to core/schema.c; the JSON stays the source (error texts, defaults, value lists). */
#ifndef TROUPE_SCHEMA_NODE_H
#define TROUPE_SCHEMA_NODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SN_NONE = 0,        /* no "type" (or a reference that leads nowhere): nothing to check */
    SN_ANY,
    SN_STRING,
    SN_INTEGER,
    SN_NUMBER,
    SN_BOOLEAN,
    SN_INT_OR_STRING,
    SN_QUANTITY,
    SN_ARRAY,
    SN_MAP,
    SN_OBJECT,
    SN_OTHER            /* a type this walk does not know: accepted as the JSON walk did */
} sn_type_t;

typedef enum { SN_FMT_NONE = 0, SN_FMT_DNS_SUBDOMAIN, SN_FMT_DNS_LABEL, SN_FMT_LABEL_VALUE, SN_FMT_BASE64 } sn_format_t;

typedef struct snode snode_t;

/* One property of an object schema: its own schema (ps, which may add "required",
 * "unsupported", "default"... to a reference) and the compiled node it resolves to. */
typedef struct {
    const char *key;
    size_t klen;
    uint32_t hash;
    const json_t *ps;
    const snode_t *s;            /* NULL: resolves to nothing */
    const char *unsupported;     /* ps.unsupported */
    const char *write_only_into; /* ps.writeOnlyInto */
    const json_t *dflt;          /* ps.default, else the resolved schema's default */
    int required;
} sn_prop_t;

struct snode {
    const json_t *js;            /* the resolved schema node */
    sn_type_t type;
    sn_format_t format;
    /* string */
    const json_t *enumv;         /* "enum" (array) or NULL */
    const json_t *unsupported_values; /* "unsupportedValues" (object) or NULL */
    /* integer */
    const json_t *minimum, *maximum;
    /* array */
    json_int_t min_items;
    const char *unique_key;
    const snode_t *items;
    /* map */
    int has_values;
    const snode_t *values;
    const char *values_type;     /* "type" as the values' own schema writes it (error text) */
    const json_t *keys;          /* "keys" (array) or NULL */
    const char *other_unsupported; /* otherKeys.unsupported */
    const json_t *other;         /* otherKeys */
    /* object */
    int preserve;                /* x-preserve-unknown */
    int indexed;                 /* has "properties" */
    sn_prop_t *props;            /* in schema order */
    uint32_t nprops;
    uint32_t *slot;              /* open addressing over props: index + 1, 0 empty */
    uint32_t nslot;              /* a power of two, at least twice nprops */
    uint32_t *required, nrequired;   /* indexes into props, schema order */
    uint32_t *defaulted, ndefaulted; /* a default or writeOnlyInto */
};

typedef struct sn_set sn_set_t;

/* The compiled nodes of one registry: defs resolves references. */
sn_set_t *sn_set_new (const json_t *defs);
void sn_set_destroy (sn_set_t **p);
/* s resolved through defs and compiled (memoised: one node per resolved schema), or NULL when
 * s is NULL or resolves to nothing. */
const snode_t *sn_compile (sn_set_t *set, const json_t *s);
/* An object node whose properties are props (an object of property schemas): a kind's fields. */
const snode_t *sn_compile_props (sn_set_t *set, const json_t *props);

/* The property named k (NUL-terminated), or NULL. */
const sn_prop_t *sn_prop (const snode_t *s, const char *k);

/* s followed through "type: ref" (at most 8 steps), as the JSON walk resolves. */
const json_t *sn_resolve (const json_t *defs, const json_t *s);

#endif
