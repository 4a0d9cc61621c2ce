/* schema — see schema.h. */
#include "core/schema.h"
#include "core/schema_node.h"
#include "core/quantity.h"
#include "core/selector.h"
#include "core/svcrules.h"
#include "core/value.h"
#include "core/yaml.h"

#include <ctype.h>
#include <sodium.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct schema_kind {
    json_t *doc;     /* the kind file */
    json_t *vfields; /* its fields plus apiVersion, kind, metadata: what validation walks */
    const char *name, *plural, *singular, *api_version;
    int namespaced;
    int selector_matches_template;
    json_t *allowed;  /* allowedValues, or NULL */
    const snode_t *vnode; /* vfields compiled (schema_node.h): what the walks of a write use */
};

struct schema_registry {
    json_t *defs;
    sn_set_t *nodes;      /* the compiled schema (schema_node.h) */
    const snode_t *meta;  /* ObjectMeta compiled */
    schema_kind_t *kinds;
    size_t n;
};

extern const struct {
    const char *name;
    const char *text;
} schema_embedded[];

/* ---- loading -------------------------------------------------------------------------------- */

static int
add_doc (schema_registry_t *r, const char *file, json_t *doc, char *err, size_t errlen)
{
    json_t *defs = json_object_get (doc, "definitions");
    if (defs) {
        json_object_update (r->defs, defs);
        return 0;
    }
    const char *kind = tv_str (doc, "kind"), *plural = tv_str (doc, "plural"), *av = tv_str (doc, "apiVersion");
    if (!kind || !plural || !av) {
        snprintf (err, errlen, "schema %s: kind, plural and apiVersion are required", file);
        return -1;
    }
    r->kinds = realloc (r->kinds, (r->n + 1) * sizeof *r->kinds);
    schema_kind_t *k = &r->kinds[r->n++];
    k->doc = json_incref (doc);
    k->vfields = json_deep_copy (json_object_get (doc, "fields"));
    if (!k->vfields)
        k->vfields = json_object ();
    /* apiVersion, kind, metadata are common to every kind */
    json_object_set_new (k->vfields, "apiVersion", json_pack ("{s:s}", "type", "string"));
    json_object_set_new (k->vfields, "kind", json_pack ("{s:s}", "type", "string"));
    json_object_set_new (k->vfields, "metadata", json_pack ("{s:s}", "type", "any"));
    k->name = kind;
    k->plural = plural;
    k->singular = tv_str (doc, "singular");
    k->api_version = av;
    k->namespaced = tv_bool (doc, "namespaced", true);
    k->selector_matches_template = tv_bool (doc, "selectorMatchesTemplate", false);
    k->allowed = json_object_get (doc, "allowedValues");
    return 0;
}

/* The walks of a write (validation, defaulting, canonicalisation) go along the schema compiled
 * once here (schema_node.h): references resolved, each object's properties a table by key. */
static void
registry_index (schema_registry_t *r)
{
    r->nodes = sn_set_new (r->defs);
    r->meta = sn_compile (r->nodes, json_object_get (r->defs, "ObjectMeta"));
    for (size_t i = 0; i < r->n; i++)
        r->kinds[i].vnode = sn_compile_props (r->nodes, r->kinds[i].vfields);
}

static int
add_text (schema_registry_t *r, const char *file, const char *text, char *err, size_t errlen)
{
    char yerr[256];
    json_t *docs = tr_yaml_load (text, strlen (text), yerr, sizeof yerr);
    if (!docs) {
        snprintf (err, errlen, "schema %s: %s", file, yerr);
        return -1;
    }
    size_t i;
    json_t *d;
    int rc = 0;
    json_array_foreach (docs, i, d) if (!rc) rc = add_doc (r, file, d, err, errlen);
    json_decref (docs);
    return rc;
}

static schema_registry_t *
registry_new (void)
{
    schema_registry_t *r = calloc (1, sizeof *r);
    r->defs = json_object ();
    return r;
}

schema_registry_t *
schema_registry_load_embedded (char *err, size_t errlen)
{
    schema_registry_t *r = registry_new ();
    for (int i = 0; schema_embedded[i].name; i++)
        if (add_text (r, schema_embedded[i].name, schema_embedded[i].text, err, errlen)) {
            schema_registry_destroy (&r);
            return NULL;
        }
    registry_index (r);
    return r;
}

schema_registry_t *
schema_registry_load_dir (const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, errlen, "schema: cannot open %s", dir);
        return NULL;
    }
    schema_registry_t *r = registry_new ();
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t n = strlen (e->d_name);
        if (n < 6 || strcmp (e->d_name + n - 5, ".yaml"))
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen (path, "rb");
        if (!f)
            continue;
        char *text = NULL;
        size_t cap = 0;
        ssize_t got = getdelim (&text, &cap, '\0', f);
        fclose (f);
        int rc = got < 0 ? -1 : add_text (r, e->d_name, text, err, errlen);
        free (text);
        if (rc) {
            closedir (d);
            schema_registry_destroy (&r);
            return NULL;
        }
    }
    closedir (d);
    registry_index (r);
    return r;
}

void
schema_registry_destroy (schema_registry_t **p)
{
    schema_registry_t *r = *p;
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        json_decref (r->kinds[i].doc);
        json_decref (r->kinds[i].vfields);
    }
    free (r->kinds);
    sn_set_destroy (&r->nodes);
    json_decref (r->defs);
    free (r);
    *p = NULL;
}

const schema_kind_t *
schema_kind_lookup (const schema_registry_t *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->n; i++) /* the Kind itself, the common case on every request */
        if (!strcmp (name, r->kinds[i].name))
            return &r->kinds[i];
    char base[128];
    snprintf (base, sizeof base, "%s", name);
    char *dot = strchr (base, '.'); /* "deployments.apps" */
    if (dot)
        *dot = 0;
    for (size_t i = 0; i < r->n; i++) {
        const schema_kind_t *k = &r->kinds[i];
        if (!strcasecmp (base, k->name) || !strcasecmp (base, k->plural) ||
            (k->singular && !strcasecmp (base, k->singular)))
            return k;
        size_t j;
        json_t *s;
        json_array_foreach (json_object_get (k->doc, "shortNames"), j, s) if (json_is_string (s) &&
                                                                             !strcasecmp (base, json_string_value (s)))
            return k;
    }
    return NULL;
}

const char *
schema_kind_name (const schema_kind_t *k)
{
    return k->name;
}
const char *
schema_kind_plural (const schema_kind_t *k)
{
    return k->plural;
}
const char *
schema_kind_api_version (const schema_kind_t *k)
{
    return k->api_version;
}
int
schema_kind_namespaced (const schema_kind_t *k)
{
    return k->namespaced;
}

/* ---- validation ----------------------------------------------------------------------------- */

typedef struct {
    char *err;
    size_t errlen;
    const json_t *prev; /* the stored object an update replaces: its unchanged fields are not checked again */
    int ordered;        /* an error was found: walk in schema order from now on (validate_props) */
    char path[1024];
} vctx_t;

static int
verr (vctx_t *c, const char *fmt, const char *detail)
{
    char msg[800];
    snprintf (msg, sizeof msg, fmt, detail ? detail : "");
    snprintf (c->err, c->errlen, "%s: %s", c->path[0] ? c->path : "<root>", msg);
    return -1;
}

static int
is_dns_label (const char *s, size_t max)
{
    size_t n = strlen (s);
    if (!n || n > max || !isalnum ((unsigned char) s[0]) || !isalnum ((unsigned char) s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower ((unsigned char) s[i]) || isdigit ((unsigned char) s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

static int
is_dns_subdomain (const char *s)
{
    size_t n = strlen (s);
    if (!n || n > 253)
        return 0;
    char buf[254];
    memcpy (buf, s, n + 1);
    for (char *save, *p = strtok_r (buf, ".", &save); p; p = strtok_r (NULL, ".", &save))
        if (!is_dns_label (p, 63))
            return 0;
    return s[0] != '.' && s[n - 1] != '.' && !strstr (s, "..");
}

static int
is_label_value (const char *s)
{
    size_t n = strlen (s);
    if (n == 0)
        return 1;
    if (n > 63 || !isalnum ((unsigned char) s[0]) || !isalnum ((unsigned char) s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum ((unsigned char) s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

/* Standard alphabet with padding, as Kubernetes' []byte fields (Secret data, ConfigMap binaryData). */
static int
is_base64 (const char *s)
{
    size_t n = strlen (s), pad = 0;
    if (n % 4)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char) s[i];
        if (ch == '=') {
            if (i < n - 2)
                return 0;
            pad++;
        } else if (pad || !(isalnum (ch) || ch == '+' || ch == '/'))
            return 0;
    }
    return 1;
}

static int
key_listed (const json_t *keys, const char *k)
{
    size_t i;
    json_t *x;
    json_array_foreach (keys, i, x) if (json_is_string (x) && !strcmp (json_string_value (x), k)) return 1;
    return 0;
}

static const char *
type_name (const json_t *v)
{
    switch (json_typeof (v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int validate_node (vctx_t *c, const snode_t *s, const json_t *v);

static int
type_err (vctx_t *c, const char *want, const json_t *v)
{
    char d[128];
    snprintf (d, sizeof d, "Invalid type: expected %s, got %s", want, type_name (v));
    return verr (c, "%s", d);
}

/* ---- Kubernetes fields Troupe does not do yet ------------------------------------------------
 * A property marked {unsupported: "reason"} is a real Kubernetes field that Troupe does not honour
 * yet. Its absence is fine; a value that means the same as absence is fine too (null, false, 0, "",
 * [], {}, the property's default) unless the property lists exactly which values it accepts
 * (accepts: [..]); any other value is refused with the field path and "not supported yet", so a
 * manifest never silently means less than it says. A later issue turns a refusal into a feature
 * by deleting the marker. Maps may do the same per key (keys: [..] honoured, otherKeys:
 * {unsupported: ..}) and strings per value (unsupportedValues: {value: reason}). */

static int
means_absent (const json_t *ps, const json_t *v)
{
    json_t *acc = json_object_get (ps, "accepts"), *d = json_object_get (ps, "default");
    if (d && json_equal (d, v))
        return 1;
    if (acc) {
        size_t i;
        json_t *a;
        json_array_foreach (acc, i, a) if (json_equal (a, v)) return 1;
        return 0;
    }
    switch (json_typeof (v)) {
    case JSON_FALSE:
    case JSON_NULL: return 1;
    case JSON_INTEGER: return json_integer_value (v) == 0;
    case JSON_STRING: return json_string_length (v) == 0;
    case JSON_ARRAY: return json_array_size (v) == 0;
    case JSON_OBJECT: return json_object_size (v) == 0;
    default: return 0;
    }
}

static int
unsupported_err (vctx_t *c, const json_t *ps, const char *why)
{
    char d[700], acc[200] = "";
    json_t *list = json_object_get (ps, "accepts"), *dflt = json_object_get (ps, "default");
    if (list || dflt) {
        json_t *all = json_array ();
        if (dflt)
            json_array_append (all, dflt);
        size_t i;
        json_t *a;
        json_array_foreach (list, i, a) if (!dflt || !json_equal (a, dflt)) json_array_append (all, a);
        json_array_foreach (all, i, a) {
            char *txt = json_dumps (a, JSON_COMPACT | JSON_ENCODE_ANY);
            size_t l = strlen (acc);
            snprintf (acc + l, sizeof acc - l, "%s%s", i ? ", " : " (accepted: ", txt ? txt : "");
            free (txt);
        }
        size_t l = strlen (acc);
        snprintf (acc + l, sizeof acc - l, ")");
        json_decref (all);
    }
    snprintf (d, sizeof d, "Unsupported: not supported yet by Troupe: %s%s", why, acc);
    return verr (c, "%s", d);
}

/* c->path[0..plen) followed by ".k" (or "k" at the root), cut to fit as snprintf would: validation
 * names every property it enters, so this runs for each field of each write. */
static void
path_key (vctx_t *c, size_t plen, const char *k)
{
    size_t room = sizeof c->path - plen;
    char *d = c->path + plen;
    if (plen && room > 1) {
        *d++ = '.';
        room--;
    }
    size_t kl = strlen (k);
    if (kl >= room)
        kl = room - 1;
    memcpy (d, k, kl);
    d[kl] = 0;
}

/* One property p (value x, the stored value px) of an object whose path is c->path[0..plen). */
static int
validate_prop (vctx_t *c, size_t plen, const sn_prop_t *p, const json_t *x, const json_t *px)
{
    path_key (c, plen, p->key);
    if (p->unsupported && !means_absent (p->ps, x))
        return unsupported_err (c, p->ps, p->unsupported);
    c->prev = json_is_object (x) && json_is_object (px) ? px : NULL;
    if (validate_node (c, p->s, x))
        return -1;
    c->prev = NULL;
    c->path[plen] = 0;
    return 0;
}

/* The properties of v along object schema s (its compiled property table). */
static int
validate_props (vctx_t *c, const snode_t *s, const json_t *v)
{
    size_t plen = strlen (c->path);
    const char *k;
    json_t *x;
    const sn_prop_t *p;
    /* Validation ratcheting: a field equal to the stored object's passed when that was written
     * (Kubernetes ratchets unchanged CRD fields the same way), so an update walks only what it
     * changed: a binding checks spec.nodeName, not the whole spec; a status update, the status.
     * c->prev flows from object to nested object only (never through arrays or maps). */
    const json_t *prev = c->prev;
    c->prev = NULL;
    if (s->indexed) {
        /* A valid value is the common case, and it sets a few of the dozens of fields its schema
         * knows: its own keys are walked, and only when one is wrong does the schema-order walk
         * below run, to report the same error whatever the value's key order. A field equal to
         * the stored one is skipped in both walks. Once one walk failed, every nested object is
         * walked in schema order at once (c->ordered), so finding the error costs two walks,
         * not two per level. */
        int ok = !c->ordered;
        for (uint32_t j = 0; ok && j < s->nrequired; j++) {
            x = json_object_get (v, s->props[s->required[j]].key);
            ok = x && !json_is_null (x);
        }
        if (ok)
            json_object_foreach ((json_t *) v, k, x) {
                if (!(p = sn_prop (s, k))) {
                    if (s->preserve)
                        continue;
                    ok = 0;
                    break;
                }
                const json_t *px = prev ? json_object_get (prev, k) : NULL;
                if (json_is_null (x) || (px && json_equal (x, px)))
                    continue;
                if (validate_prop (c, plen, p, x, px)) {
                    ok = 0;
                    break;
                }
            }
        c->path[plen] = 0;
        if (ok)
            return 0;
        c->ordered = 1;
    }
    /* required first, in schema order, so the report is deterministic */
    for (uint32_t i = 0; i < s->nprops; i++) {
        p = &s->props[i];
        x = json_object_get (v, p->key);
        if ((!x || json_is_null (x)) && p->required) {
            path_key (c, plen, p->key);
            return verr (c, "Required value", NULL);
        }
        json_t *px = prev ? json_object_get (prev, p->key) : NULL;
        if (x && !json_is_null (x) && !(px && json_equal (x, px)) && validate_prop (c, plen, p, x, px))
            return -1;
    }
    if (!s->preserve) {
        json_object_foreach ((json_t *) v, k, x) if (!sn_prop (s, k)) {
            path_key (c, plen, k);
            return verr (c, "unknown field", NULL);
        }
    }
    return 0;
}

static int
validate_string (vctx_t *c, const snode_t *s, const json_t *v)
{
    if (!json_is_string (v))
        return type_err (c, "string", v);
    const char *str = json_string_value (v);
    char d[700];
    switch (s->format) {
    case SN_FMT_DNS_SUBDOMAIN:
        if (!is_dns_subdomain (str)) {
            snprintf (d, sizeof d, "Invalid value: \"%.253s\": a lowercase RFC 1123 subdomain must consist of lower case "
                      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", str);
            return verr (c, "%s", d);
        }
        break;
    case SN_FMT_DNS_LABEL:
        if (!is_dns_label (str, 63)) {
            snprintf (d, sizeof d, "Invalid value: \"%.253s\": a lowercase RFC 1123 label must consist of lower case "
                      "alphanumeric characters or '-', and must start and end with an alphanumeric character (at most 63)", str);
            return verr (c, "%s", d);
        }
        break;
    case SN_FMT_LABEL_VALUE:
        if (!is_label_value (str)) {
            snprintf (d, sizeof d, "Invalid value: \"%.253s\": a valid label must be an empty string or consist of "
                      "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)", str);
            return verr (c, "%s", d);
        }
        break;
    default: break;
    }
    if (s->unsupported_values) {
        json_t *uv = json_object_get (s->unsupported_values, str); /* values may hold dots */
        if (json_is_string (uv)) {
            snprintf (d, sizeof d, "Unsupported value: \"%.100s\": not supported yet by Troupe: %s", str, json_string_value (uv));
            return verr (c, "%s", d);
        }
    }
    if (s->format == SN_FMT_BASE64 && !is_base64 (str)) {
        snprintf (d, sizeof d, "Invalid value: \"%.40s\": must be base64 (standard alphabet, padded)", str);
        return verr (c, "%s", d);
    }
    if (s->enumv) {
        size_t i;
        json_t *e;
        json_array_foreach (s->enumv, i, e) if (json_is_string (e) && !strcmp (json_string_value (e), str)) return 0;
        char list[400] = "";
        json_array_foreach (s->enumv, i, e) {
            size_t l = strlen (list);
            snprintf (list + l, sizeof list - l, "%s\"%s\"", i ? ", " : "", json_string_value (e));
        }
        snprintf (d, sizeof d, "Unsupported value: \"%.100s\": supported values: %s", str, list);
        return verr (c, "%s", d);
    }
    return 0;
}

static int
validate_integer (vctx_t *c, const snode_t *s, const json_t *v)
{
    if (!json_is_integer (v))
        return type_err (c, "integer", v);
    json_int_t x = json_integer_value (v);
    char d[200];
    if (s->minimum && x < json_integer_value (s->minimum)) {
        snprintf (d, sizeof d, "Invalid value: %lld: must be greater than or equal to %lld", (long long) x,
                  (long long) json_integer_value (s->minimum));
        return verr (c, "%s", d);
    }
    if (s->maximum && x > json_integer_value (s->maximum)) {
        snprintf (d, sizeof d, "Invalid value: %lld: must be less than or equal to %lld", (long long) x,
                  (long long) json_integer_value (s->maximum));
        return verr (c, "%s", d);
    }
    return 0;
}

static int
validate_quantity (vctx_t *c, const json_t *v)
{
    int64_t q;
    char qe[300], d[400];
    if (!json_is_string (v) && !json_is_number (v))
        return type_err (c, "quantity (a string like 500m, or a number)", v);
    if (tv_quantity_milli (v, &q, qe, sizeof qe)) {
        snprintf (d, sizeof d, "Invalid value: %s", qe);
        return verr (c, "%s", d);
    }
    if (q < 0) {   /* Kubernetes' ValidateNonnegativeQuantity */
        char shown[QUANTITY_STRLEN];
        quantity_format (q, QUANTITY_DECIMAL_SI, shown, sizeof shown);
        snprintf (d, sizeof d, "Invalid value: \"%s\": must be greater than or equal to 0",
                  json_is_string (v) ? json_string_value (v) : shown);
        return verr (c, "%s", d);
    }
    return 0;
}

/* "[i]" after c->path[0..plen), as snprintf would cut it */
static void
path_index (vctx_t *c, size_t plen, size_t i)
{
    char b[24];
    size_t n = sizeof b;
    b[--n] = 0;
    b[--n] = ']';
    do
        b[--n] = (char) ('0' + i % 10);
    while ((i /= 10) && n > 1);
    b[--n] = '[';
    size_t room = sizeof c->path - plen, len = sizeof b - 1 - n;
    if (len >= room)
        len = room - 1;
    memcpy (c->path + plen, b + n, len);
    c->path[plen + len] = 0;
}

static int
validate_array (vctx_t *c, const snode_t *s, const json_t *v)
{
    if (!json_is_array (v))
        return type_err (c, "array", v);
    char d[300];
    if ((json_int_t) json_array_size (v) < s->min_items) {
        snprintf (d, sizeof d, "Required value: at least %lld item(s)", (long long) s->min_items);
        return verr (c, "%s", d);
    }
    size_t plen = strlen (c->path), i;
    json_t *x;
    const char *ukey = s->unique_key;
    json_array_foreach (v, i, x) {
        path_index (c, plen, i);
        if (s->items && validate_node (c, s->items, x))
            return -1;
        /* uniqueKey: name — items are identified by that field (containers by name) */
        const char *key = ukey ? tv_str (x, ukey) : NULL;
        for (size_t j = 0; key && j < i; j++)
            if (tv_str (json_array_get (v, j), ukey) && !strcmp (tv_str (json_array_get (v, j), ukey), key)) {
                size_t l = strlen (c->path);
                snprintf (c->path + l, sizeof c->path - l, ".%s", ukey);
                snprintf (d, sizeof d, "Duplicate value: \"%.200s\"", key);
                return verr (c, "%s", d);
            }
    }
    c->path[plen] = 0;
    return 0;
}

static int
validate_map (vctx_t *c, const snode_t *s, const json_t *v)
{
    if (!json_is_object (v))
        return type_err (c, "map", v);
    size_t plen = strlen (c->path);
    const char *k;
    json_t *x;
    json_object_foreach ((json_t *) v, k, x) {
        path_key (c, plen, k);
        if (s->keys && s->other_unsupported && !key_listed (s->keys, k))
            return unsupported_err (c, s->other, s->other_unsupported);
        if (json_is_null (x) && s->has_values)
            return type_err (c, s->values_type ? s->values_type : "value", x);
        if (s->values && validate_node (c, s->values, x))
            return -1;
    }
    c->path[plen] = 0;
    return 0;
}

static int
validate_node (vctx_t *c, const snode_t *s, const json_t *v)
{
    const json_t *prev = c->prev; /* for an object's properties only */
    c->prev = NULL;
    if (!s || json_is_null (v))
        return 0;
    switch (s->type) {
    case SN_STRING: return validate_string (c, s, v);
    case SN_INTEGER: return validate_integer (c, s, v);
    case SN_NUMBER: return json_is_number (v) ? 0 : type_err (c, "number", v);
    case SN_BOOLEAN: return json_is_boolean (v) ? 0 : type_err (c, "boolean", v);
    case SN_INT_OR_STRING: return json_is_integer (v) || json_is_string (v) ? 0 : type_err (c, "integer or string", v);
    case SN_QUANTITY: return validate_quantity (c, v);
    case SN_ARRAY: return validate_array (c, s, v);
    case SN_MAP: return validate_map (c, s, v);
    case SN_OBJECT:
        if (!json_is_object (v))
            return type_err (c, "object", v);
        c->prev = prev;
        return validate_props (c, s, v);
    default: return 0; /* no type, any, or one this walk does not know */
    }
}

/* Kubernetes' rules across a pod spec's container lists: names unique over containers and
 * initContainers; an init container (without restartPolicy Always, which Troupe refuses) has no
 * probes and no lifecycle hooks. */
/* A probe or lifecycle handler names exactly one action (exec, httpGet, tcpSocket, grpc, sleep). */
static int
one_handler (const json_t *h, const char *at, char *err, size_t errlen)
{
    static const char *const kinds[] = {"exec", "httpGet", "tcpSocket", "grpc", "sleep"};
    int n = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        n += json_is_object (json_object_get (h, kinds[i]));
    if (n == 1)
        return 0;
    snprintf (err, errlen, n ? "%s: Forbidden: may not specify more than 1 handler type" : "%s: Required value: must specify a handler type", at);
    return -1;
}

/* ValidateNodeSelectorRequirement / ValidateNodeFieldSelectorRequirement of Kubernetes */
static int
node_requirement (const json_t *rq, int field, const char *at, char *err, size_t errlen)
{
    const char *op = tv_str (rq, "operator"), *key = tv_str (rq, "key");
    size_t nv = json_array_size (json_object_get (rq, "values"));
    if (!op || !key)
        return 0; /* the schema said Required value */
    if (field) {
        if (strcmp (key, "metadata.name")) {
            snprintf (err, errlen, "%s.key: Invalid value: \"%.100s\": not a valid field selector key", at, key);
            return -1;
        }
        if (strcmp (op, "In") && strcmp (op, "NotIn")) {
            snprintf (err, errlen, "%s.operator: Invalid value: \"%s\": not a valid selector operator", at, op);
            return -1;
        }
        if (nv != 1) {
            snprintf (err, errlen, "%s.values: Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector", at);
            return -1;
        }
        return 0;
    }
    if (!key[0]) {
        snprintf (err, errlen, "%s.key: Invalid value: \"\": name part must be non-empty", at);
        return -1;
    }
    if ((!strcmp (op, "In") || !strcmp (op, "NotIn")) && !nv) {
        snprintf (err, errlen, "%s.values: Required value: must be specified when `operator` is 'In' or 'NotIn'", at);
        return -1;
    }
    if ((!strcmp (op, "Exists") || !strcmp (op, "DoesNotExist")) && nv) {
        snprintf (err, errlen, "%s.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'", at);
        return -1;
    }
    if ((!strcmp (op, "Gt") || !strcmp (op, "Lt")) && nv != 1) {
        snprintf (err, errlen, "%s.values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'", at);
        return -1;
    }
    return 0;
}

static int
node_term (const json_t *term, const char *at, char *err, size_t errlen)
{
    static const char *const lists[] = {"matchExpressions", "matchFields"};
    char p[400];
    for (int f = 0; f < 2; f++) {
        size_t i;
        json_t *rq;
        json_array_foreach (json_object_get (term, lists[f]), i, rq) {
            snprintf (p, sizeof p, "%s.%s[%zu]", at, lists[f], i);
            if (node_requirement (rq, f, p, err, errlen))
                return -1;
        }
    }
    return 0;
}

static int
label_selector_rule (const json_t *sel, const char *at, char *err, size_t errlen)
{
    if (!json_is_object (sel))
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get (sel, "matchExpressions"), i, e) {
        const char *op = tv_str (e, "operator");
        size_t nv = json_array_size (json_object_get (e, "values"));
        if (op && (!strcmp (op, "In") || !strcmp (op, "NotIn")) && !nv) {
            snprintf (err, errlen, "%s.matchExpressions[%zu].values: Required value: must be specified when `operator` is 'In' or 'NotIn'", at, i);
            return -1;
        }
        if (op && (!strcmp (op, "Exists") || !strcmp (op, "DoesNotExist")) && nv) {
            snprintf (err, errlen, "%s.matchExpressions[%zu].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'", at, i);
            return -1;
        }
    }
    char serr[256];
    selector_t *s = selector_from_object (sel, serr, sizeof serr);
    if (!s) {
        snprintf (err, errlen, "%s: Invalid value: %s", at, serr);
        return -1;
    }
    selector_destroy (&s);
    return 0;
}

static int
pod_affinity_term (const json_t *t, const char *at, char *err, size_t errlen)
{
    char p[400];
    const char *tk = tv_str (t, "topologyKey");
    if (tk && !tk[0]) {
        snprintf (err, errlen, "%s.topologyKey: Required value: can not be empty", at);
        return -1;
    }
    snprintf (p, sizeof p, "%s.labelSelector", at);
    if (label_selector_rule (json_object_get (t, "labelSelector"), p, err, errlen))
        return -1;
    snprintf (p, sizeof p, "%s.namespaceSelector", at);
    return label_selector_rule (json_object_get (t, "namespaceSelector"), p, err, errlen);
}

/* Kubernetes' validateAffinity: node selector terms, pod (anti-)affinity terms */
static int
affinity_rules (const json_t *aff, const char *at, char *err, size_t errlen)
{
    char p[400];
    size_t i;
    json_t *x;
    const json_t *na = json_object_get (aff, "nodeAffinity");
    json_array_foreach (tv_get (na, "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"), i, x) {
        snprintf (p, sizeof p, "%s.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[%zu]", at, i);
        if (node_term (x, p, err, errlen))
            return -1;
    }
    json_array_foreach (json_object_get (na, "preferredDuringSchedulingIgnoredDuringExecution"), i, x) {
        snprintf (p, sizeof p, "%s.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%zu].preference", at, i);
        if (node_term (json_object_get (x, "preference"), p, err, errlen))
            return -1;
    }
    static const char *const kinds[] = {"podAffinity", "podAntiAffinity"};
    for (int k = 0; k < 2; k++) {
        const json_t *pa = json_object_get (aff, kinds[k]);
        json_array_foreach (json_object_get (pa, "requiredDuringSchedulingIgnoredDuringExecution"), i, x) {
            snprintf (p, sizeof p, "%s.%s.requiredDuringSchedulingIgnoredDuringExecution[%zu]", at, kinds[k], i);
            if (pod_affinity_term (x, p, err, errlen))
                return -1;
        }
        json_array_foreach (json_object_get (pa, "preferredDuringSchedulingIgnoredDuringExecution"), i, x) {
            snprintf (p, sizeof p, "%s.%s.preferredDuringSchedulingIgnoredDuringExecution[%zu].podAffinityTerm", at, kinds[k], i);
            if (pod_affinity_term (json_object_get (x, "podAffinityTerm"), p, err, errlen))
                return -1;
        }
    }
    return 0;
}

/* Kubernetes' validateTopologySpreadConstraints */
static int
spread_rules (const json_t *list, const char *at, char *err, size_t errlen)
{
    size_t i, j;
    json_t *c, *o, *k;
    char p[400];
    json_array_foreach (list, i, c) {
        snprintf (p, sizeof p, "%s[%zu]", at, i);
        const char *tk = tv_str (c, "topologyKey"), *wu = tv_str (c, "whenUnsatisfiable");
        if (tk && !tk[0]) {
            snprintf (err, errlen, "%s.topologyKey: Required value: can not be empty", p);
            return -1;
        }
        const json_t *md = json_object_get (c, "minDomains");
        if (json_is_integer (md) && wu && strcmp (wu, "DoNotSchedule")) {
            snprintf (err, errlen, "%s.minDomains: Invalid value: %lld: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not %s",
                      p, (long long) json_integer_value (md), wu);
            return -1;
        }
        for (j = 0; j < i; j++) {
            o = json_array_get (list, j);
            if (tk && wu && tv_str (o, "topologyKey") && tv_str (o, "whenUnsatisfiable") &&
                !strcmp (tk, tv_str (o, "topologyKey")) && !strcmp (wu, tv_str (o, "whenUnsatisfiable"))) {
                snprintf (err, errlen, "%s: Duplicate value: \"{%.100s, %s}\"", p, tk, wu);
                return -1;
            }
        }
        char q[450];
        snprintf (q, sizeof q, "%s.labelSelector", p);
        const json_t *sel = json_object_get (c, "labelSelector");
        if (label_selector_rule (sel, q, err, errlen))
            return -1;
        json_array_foreach (json_object_get (c, "matchLabelKeys"), j, k) {
            const char *key = json_string_value (k);
            if (!json_is_object (sel)) {
                snprintf (err, errlen, "%s.matchLabelKeys: Forbidden: must not be specified when labelSelector is not set", p);
                return -1;
            }
            size_t m;
            json_t *e;
            int dup = key && json_object_get (json_object_get (sel, "matchLabels"), key) != NULL;
            json_array_foreach (json_object_get (sel, "matchExpressions"), m, e) dup |= key && tv_str (e, "key") && !strcmp (key, tv_str (e, "key"));
            if (dup) {
                snprintf (err, errlen, "%s.matchLabelKeys[%zu]: Invalid value: \"%.100s\": exists in both matchLabelKeys and labelSelector", p, j, key);
                return -1;
            }
        }
    }
    return 0;
}

/* 1 when spec's member is as prev's (both absent, or equal): its rules passed when prev was
 * written (ratcheting, as validate_props'). prev: the stored spec, or NULL on a create. */
static int
same_member (const json_t *spec, const json_t *prev, const char *member)
{
    if (!json_is_object (prev))
        return 0;
    const json_t *a = json_object_get (spec, member), *b = json_object_get (prev, member);
    return a ? b && json_equal (a, b) : !b;
}

/* prev: the stored object's spec at the same place, or NULL: each rule runs on what changed
 * (a binding sets nodeName only: none runs) */
static int
pod_spec_rules (const json_t *spec, const json_t *prev, const char *at, char *err, size_t errlen)
{
    if (!json_is_object (spec))
        return 0;
    char p[300];
    const json_t *aff = json_object_get (spec, "affinity"), *tsc = json_object_get (spec, "topologySpreadConstraints");
    if (aff && !same_member (spec, prev, "affinity")) {
        snprintf (p, sizeof p, "%s.affinity", at);
        if (affinity_rules (aff, p, err, errlen))
            return -1;
    }
    if (tsc && !same_member (spec, prev, "topologySpreadConstraints")) {
        snprintf (p, sizeof p, "%s.topologySpreadConstraints", at);
        if (spread_rules (tsc, p, err, errlen))
            return -1;
    }
    int same_containers = same_member (spec, prev, "containers");
    if (same_containers && same_member (spec, prev, "initContainers"))
        return 0;
    static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
    static const char *const hooks[] = {"postStart", "preStop"};
    size_t ci;
    json_t *ct;
    json_array_foreach (same_containers ? NULL : json_object_get (spec, "containers"), ci, ct) {
        for (size_t k = 0; k < 3; k++) {
            const json_t *pr = json_object_get (ct, probes[k]);
            if (!json_is_object (pr))
                continue;
            snprintf (p, sizeof p, "%s.containers[%zu].%s", at, ci, probes[k]);
            if (one_handler (pr, p, err, errlen))
                return -1;
            if (k != 1 && json_is_integer (json_object_get (pr, "successThreshold")) &&
                json_integer_value (json_object_get (pr, "successThreshold")) != 1) {
                snprintf (err, errlen, "%s.successThreshold: Invalid value: %lld: must be 1", p,
                          (long long) json_integer_value (json_object_get (pr, "successThreshold")));
                return -1;
            }
        }
        for (size_t k = 0; k < 2; k++) {
            const json_t *h = json_object_get (json_object_get (ct, "lifecycle"), hooks[k]);
            if (!json_is_object (h))
                continue;
            snprintf (p, sizeof p, "%s.containers[%zu].lifecycle.%s", at, ci, hooks[k]);
            if (one_handler (h, p, err, errlen))
                return -1;
        }
    }
    static const char *const forbidden[] = {"livenessProbe", "readinessProbe", "startupProbe", "lifecycle"};
    size_t i, j;
    json_t *ic, *c;
    json_array_foreach (json_object_get (spec, "initContainers"), i, ic) {
        for (size_t f = 0; f < sizeof forbidden / sizeof forbidden[0]; f++) {
            const json_t *v = json_object_get (ic, forbidden[f]);
            if (v && !json_is_null (v)) {
                snprintf (err, errlen, "%s.initContainers[%zu].%s: Forbidden: may not be set for init containers", at, i,
                          forbidden[f]);
                return -1;
            }
        }
        const char *n = tv_str (ic, "name");
        json_array_foreach (json_object_get (spec, "containers"), j, c) if (n && tv_str (c, "name") && !strcmp (n, tv_str (c, "name"))) {
            snprintf (err, errlen, "%s.initContainers[%zu].name: Duplicate value: \"%s\"", at, i, n);
            return -1;
        }
    }
    return 0;
}

/* Kubernetes' ValidatePositiveIntOrPercent and IsNotMoreThan100Percent: a non-negative integer,
 * or a string of digits followed by '%' of at most 100%. */
static int
int_or_percent_rule (const json_t *v, const char *at, char *err, size_t errlen)
{
    if (json_is_integer (v)) {
        if (json_integer_value (v) < 0) {
            snprintf (err, errlen, "%s: Invalid value: %lld: must be greater than or equal to 0", at,
                      (long long) json_integer_value (v));
            return -1;
        }
        return 0;
    }
    const char *s = json_string_value (v);
    if (!s)
        return 0; /* absent, or the schema's type check said so */
    size_t n = strlen (s), digits = strspn (s, "0123456789");
    if (n < 2 || digits != n - 1 || s[n - 1] != '%') {
        snprintf (err, errlen,
                  "%s: Invalid value: \"%.100s\": a valid percent string must be a numeric string followed by an ending "
                  "'%%' (e.g. '1%%',  or '93%%', regex used for validation is '[0-9]+%%')",
                  at, s);
        return -1;
    }
    if (digits > 3 || atoi (s) > 100) {
        snprintf (err, errlen, "%s: Invalid value: \"%.100s\": must not be greater than 100%%", at, s);
        return -1;
    }
    return 0;
}

/* Kubernetes' ValidatePodDisruptionBudgetSpec */
static int
pdb_rules (const json_t *obj, char *err, size_t errlen)
{
    const json_t *spec = json_object_get (obj, "spec");
    const json_t *min = json_object_get (spec, "minAvailable"), *max = json_object_get (spec, "maxUnavailable");
    if (min && !json_is_null (min) && max && !json_is_null (max)) {
        char *t = json_dumps (spec, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf (err, errlen, "spec: Invalid value: %.200s: minAvailable and maxUnavailable cannot be both set", t ? t : "");
        free (t);
        return -1;
    }
    if (int_or_percent_rule (min, "spec.minAvailable", err, errlen) ||
        int_or_percent_rule (max, "spec.maxUnavailable", err, errlen))
        return -1;
    return label_selector_rule (json_object_get (spec, "selector"), "spec.selector", err, errlen);
}

int
schema_validate (const schema_registry_t *r, const json_t *obj, char *err, size_t errlen)
{
    return schema_validate_update (r, obj, NULL, err, errlen);
}

int
schema_validate_update (const schema_registry_t *r, const json_t *obj, const json_t *prev, char *err, size_t errlen)
{
    vctx_t c = {.err = err, .errlen = errlen};
    if (!json_is_object (obj)) {
        snprintf (err, errlen, "object: must be a map");
        return -1;
    }
    const char *kind = tv_str (obj, "kind");
    const schema_kind_t *k = kind ? schema_kind_lookup (r, kind) : NULL;
    if (!kind) {
        snprintf (err, errlen, "kind: Required value");
        return -1;
    }
    if (!k || strcmp (k->name, kind)) {
        snprintf (err, errlen, "kind: unknown kind \"%s\"", kind);
        return -1;
    }
    const char *av = tv_str (obj, "apiVersion");
    if (!av || strcmp (av, k->api_version)) {
        snprintf (err, errlen, "apiVersion: Invalid value: \"%s\": %s is served as %s", av ? av : "", kind,
                  k->api_version);
        return -1;
    }
    json_t *meta = json_object_get (obj, "metadata");
    if (!json_is_object (meta)) {
        snprintf (err, errlen, "metadata: Required value");
        return -1;
    }
    if (!tv_str (obj, "metadata.name") && !tv_str (obj, "metadata.generateName")) {
        snprintf (err, errlen, "metadata.name: Required value: name or generateName is required");
        return -1;
    }
    if (!json_is_object (prev))
        prev = NULL;
    /* metadata ratchets as the rest: what equals the stored metadata's (labels, annotations,
     * ownerReferences... shared with it by a new version of a cached object) is not walked again */
    snprintf (c.path, sizeof c.path, "metadata");
    const json_t *pmeta = json_object_get (prev, "metadata");
    c.prev = json_is_object (pmeta) ? pmeta : NULL;
    if (validate_node (&c, r->meta, meta))
        return -1;
    c.path[0] = 0;
    c.prev = prev;
    if (!k->vnode) {
        snprintf (err, errlen, "kind: %s: schema not compiled (out of memory)", kind);
        return -1;
    }
    if (validate_props (&c, k->vnode, obj))
        return -1;
    /* allowedValues: {dotted.path: [..]} narrows a shared definition for this kind (a workload's
     * pod template restarts Always, as Kubernetes validates); a value equal to the stored one's
     * passed when that was written */
    const char *ap;
    json_t *allowed;
    json_object_foreach (k->allowed, ap, allowed) {
        json_t *v = tv_get (obj, ap), *pv = prev ? tv_get (prev, ap) : NULL;
        if (!v || json_is_null (v) || (pv && json_equal (v, pv)))
            continue;
        size_t i;
        json_t *a;
        int ok = 0;
        json_array_foreach (allowed, i, a) ok |= json_equal (a, v);
        if (!ok) {
            char list[300] = "";
            json_array_foreach (allowed, i, a) {
                char *t = json_dumps (a, JSON_COMPACT | JSON_ENCODE_ANY);
                size_t l = strlen (list);
                snprintf (list + l, sizeof list - l, "%s%s", i ? ", " : "", t ? t : "");
                free (t);
            }
            char *t = json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf (err, errlen, "%s: Unsupported value: %.100s: supported values: %s", ap, t ? t : "", list);
            free (t);
            return -1;
        }
    }
    /* the rules across a pod spec run on what changed in it (pod_spec_rules); a status update or
     * a binding leaves the containers, affinity and spreading as they were */
    const json_t *spec = json_object_get (obj, "spec"), *pspec = prev ? json_object_get (prev, "spec") : NULL;
    int spec_same = spec && pspec && json_equal (spec, pspec); /* then nothing below it changed either */
    if ((!spec_same && pod_spec_rules (tv_get (spec, "template.spec"), tv_get (pspec, "template.spec"), "spec.template.spec",
                                 err, errlen)) ||
        (!spec_same && !strcmp (kind, "Pod") && pod_spec_rules (spec, pspec, "spec", err, errlen)) ||
        (!strcmp (kind, "Service") && svc_rules (obj, err, errlen)) ||
        (!strcmp (kind, "PodDisruptionBudget") && pdb_rules (obj, err, errlen)))
        return -1;
    if (k->selector_matches_template && !spec_same) { /* spec.selector, spec.template.metadata.labels */
        char serr[256];
        json_t *sel = tv_get (obj, "spec.selector");
        selector_t *s = selector_from_object (sel, serr, sizeof serr);
        if (!s) {
            snprintf (err, errlen, "spec.selector: Invalid value: %s", serr);
            return -1;
        }
        int empty = selector_is_empty (s);
        int match = selector_matches (s, tv_get (obj, "spec.template.metadata.labels"));
        selector_destroy (&s);
        if (empty) {
            snprintf (err, errlen, "spec.selector: Invalid value: empty selector is invalid for %s", kind);
            return -1;
        }
        if (tv_get (obj, "spec.template") && !match) {
            snprintf (err, errlen, "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`");
            return -1;
        }
    }
    return 0;
}

/* ---- defaulting ----------------------------------------------------------------------------- */

/* prev: the stored object's value at the same place, or NULL. A subtree equal to it is left as
 * it is: the stored object was defaulted and canonicalised when written, and both are idempotent
 * (the same ratcheting as validation's; an update walks only what it changed).
 * exact: below an array item (and in metadata) a changed value is walked whole, as on a create,
 * except what is the stored object's own value (pointer-equal): a new version of a cached object
 * shares its unchanged subtrees with it (tv_merge_patch_new), and those must never be changed in
 * place. Everything walked is then the new version's own. */
static int
unchanged (const json_t *v, const json_t *prev, int exact)
{
    return prev && (exact ? v == prev : json_equal (v, prev)); /* json_equal: pointer-equal at once */
}

/* For item i (x) of an array whose stored version is prev (any value, or NULL): 1 when x is one of
 * prev's items itself (shared, maybe moved: left alone), else 0 with *px the stored item at i to
 * tell its shared parts (exact) by, or NULL. */
static int
item_shared (const json_t *prev, size_t i, const json_t *x, const json_t **px)
{
    *px = NULL;
    if (!json_is_array (prev))
        return 0;
    size_t j;
    json_t *e;
    json_array_foreach (prev, j, e) if (e == x) return 1;
    *px = json_array_get (prev, i);
    return 0;
}

static void default_node (const snode_t *s, json_t *v, const json_t *prev, int exact);

/* {writeOnlyInto: data} on a map of strings (Secret's stringData): each value is stored base64
 * encoded under the same key of the sibling map named there, overriding it, and the field itself
 * is not stored — as Kubernetes converts stringData on every write. */
static void
merge_write_only (json_t *v, const char *k, const char *into)
{
    json_t *src = json_object_get (v, k);
    if (!json_is_object (src))
        return;
    /* dst may be the stored object's (shared by a new version of it): written into a copy */
    json_t *dst = json_object_get (v, into);
    dst = json_is_object (dst) ? json_copy (dst) : json_object ();
    json_object_set_new (v, into, dst);
    const char *key;
    json_t *x;
    json_object_foreach (src, key, x) if (json_is_string (x)) {
        size_t n = json_string_length (x);
        size_t cap = sodium_base64_encoded_len (n, sodium_base64_VARIANT_ORIGINAL);
        char *b = malloc (cap);
        sodium_bin2base64 (b, cap, (const unsigned char *) json_string_value (x), n, sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new (dst, key, json_string (b));
        free (b);
    }
    int all = 1;
    json_object_foreach (src, key, x) all &= json_is_string (x);
    if (all) /* a non-string value stays for validation to name */
        json_object_del (v, k);
}

/* s's properties with a default or writeOnlyInto first (s->defaulted), then the value's own
 * keys, those that differ from prev's */
static void
default_props (const snode_t *s, json_t *v, const json_t *prev, int exact)
{
    const char *k;
    json_t *x;
    const sn_prop_t *p;
    for (uint32_t i = 0; i < s->ndefaulted; i++) {
        p = &s->props[s->defaulted[i]];
        if (p->write_only_into)
            merge_write_only (v, p->key, p->write_only_into);
        x = json_object_get (v, p->key);
        if ((!x || json_is_null (x)) && p->dflt)
            json_object_set_new (v, p->key, json_deep_copy (p->dflt));
    }
    json_object_foreach (v, k, x) {
        const json_t *px = prev ? json_object_get (prev, k) : NULL;
        if ((p = sn_prop (s, k)) && p->s && !unchanged (x, px, exact))
            default_node (p->s, x, px, exact);
    }
}

static void
default_node (const snode_t *s, json_t *v, const json_t *prev, int exact)
{
    if (!s)
        return;
    if (s->type == SN_OBJECT && json_is_object (v)) {
        if (s->indexed)
            default_props (s, v, json_is_object (prev) ? prev : NULL, exact);
    } else if (s->type == SN_ARRAY && json_is_array (v) && s->items) {
        const json_t *px;
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) if (!item_shared (prev, i, x, &px)) default_node (s->items, x, px, 1);
    }
}

/* ---- canonical quantities ------------------------------------------------------------------- */

/* v in Kubernetes' canonical form if it is a quantity that is not already written so (a new
 * string), else NULL: a value that does not parse is left for validation to report. */
static json_t *
canon_quantity (const json_t *v)
{
    int64_t m;
    quantity_format_t f = QUANTITY_DECIMAL_SI;
    if (json_is_string (v) ? quantity_parse_format (json_string_value (v), &m, &f, NULL, 0)
                           : !json_is_number (v) || tv_quantity_milli (v, &m, NULL, 0))
        return NULL;
    char buf[QUANTITY_STRLEN];
    if (quantity_format (m, f, buf, sizeof buf) < 0 || (json_is_string (v) && !strcmp (buf, json_string_value (v))))
        return NULL;
    return json_string (buf);
}

/* Walks v along schema s; returns what replaces v (new reference), or NULL to keep it. */
static json_t *
canon_node (const snode_t *s, json_t *v, const json_t *prev, int exact)
{
    if (!s)
        return NULL;
    const char *k;
    json_t *x, *nx;
    const sn_prop_t *p;
    switch (s->type) {
    case SN_QUANTITY: return canon_quantity (v);
    case SN_OBJECT:
        if (!json_is_object (v))
            break;
        /* the value's own keys (a replaced value keeps its place: the walk goes on) */
        json_object_foreach (v, k, x) {
            const json_t *px = json_object_get (prev, k);
            if ((p = sn_prop (s, k)) && !unchanged (x, px, exact) && (nx = canon_node (p->s, x, px, exact)))
                json_object_set_new (v, k, nx);
        }
        break;
    case SN_MAP:
        if (!json_is_object (v) || !s->values)
            break;
        json_object_foreach (v, k, x) {
            const json_t *px = json_object_get (prev, k);
            if (!unchanged (x, px, 1) && (nx = canon_node (s->values, x, px, 1)))
                json_object_set_new (v, k, nx);
        }
        break;
    case SN_ARRAY:
        if (!json_is_array (v) || !s->items)
            break;
        size_t i;
        const json_t *px;
        json_array_foreach (v, i, x) if (!item_shared (prev, i, x, &px) && (nx = canon_node (s->items, x, px, 1)))
            json_array_set_new (v, i, nx);
        break;
    default: break;
    }
    return NULL;
}

int
schema_canonicalize (const schema_registry_t *r, json_t *obj)
{
    return schema_canonicalize_update (r, obj, NULL);
}

int
schema_canonicalize_update (const schema_registry_t *r, json_t *obj, const json_t *prev)
{
    if (!json_is_object (prev))
        prev = NULL;
    const char *kind = tv_str (obj, "kind");
    const schema_kind_t *k = kind ? schema_kind_lookup (r, kind) : NULL;
    if (!k)
        return -1;
    if (!k->vnode)
        return -1;
    /* the kind's fields in schema order (apiVersion, kind and metadata have nothing to canonicalise) */
    for (uint32_t i = 0; i < k->vnode->nprops; i++) {
        const sn_prop_t *p = &k->vnode->props[i];
        const json_t *px = prev ? json_object_get (prev, p->key) : NULL;
        json_t *x, *nx;
        if ((x = json_object_get (obj, p->key)) && !unchanged (x, px, 0) && (nx = canon_node (p->s, x, px, 0)))
            json_object_set_new (obj, p->key, nx);
    }
    return 0;
}

int
schema_convert (const schema_registry_t *r, json_t *obj)
{
    const char *kind = tv_str (obj, "kind");
    const schema_kind_t *k = kind ? schema_kind_lookup (r, kind) : NULL;
    if (!k)
        return -1;
    const char *f;
    json_t *ps;
    json_object_foreach (json_object_get (k->doc, "fields"), f, ps) if (tv_str (ps, "writeOnlyInto"))
        merge_write_only (obj, f, tv_str (ps, "writeOnlyInto"));
    return 0;
}

int
schema_default (const schema_registry_t *r, json_t *obj)
{
    return schema_default_update (r, obj, NULL);
}

int
schema_default_update (const schema_registry_t *r, json_t *obj, const json_t *prev)
{
    if (!json_is_object (prev))
        prev = NULL;
    const char *kind = tv_str (obj, "kind");
    const schema_kind_t *k = kind ? schema_kind_lookup (r, kind) : NULL;
    if (!k)
        return -1;
    if (!k->vnode)
        return -1;
    default_props (k->vnode, obj, prev, 0); /* apiVersion, kind and metadata have no defaults */
    if (!strcmp (kind, "Service"))
        svc_default (obj);
    /* walked whole, but for what is the stored metadata's own (labels, ownerReferences... shared
     * by a new version of a cached object) */
    json_t *meta = json_object_get (obj, "metadata");
    if (json_is_object (meta))
        default_node (r->meta, meta, json_object_get (prev, "metadata"), 1);
    return schema_canonicalize_update (r, obj, prev);
}

/* ---- the declared fields -------------------------------------------------------------------- */

typedef struct {
    schema_field_fn fn;
    void *arg;
    const char *section;
} walk_t;

static void
walk_prop (walk_t *w, const char *path, const json_t *ps)
{
    const char *why = tv_str (ps, "unsupported");
    w->fn (w->arg, w->section, path, ps, why);
    if (why)
        return; /* refused as a whole: its sub-fields go with it */
    const char *type = tv_str (ps, "type");
    char sub[512];
    if (type && !strcmp (type, "array")) {
        const json_t *items = json_object_get (ps, "items");
        if (items && tv_str (items, "type") && !strcmp (tv_str (items, "type"), "object")) {
            const char *k;
            json_t *x;
            json_object_foreach (json_object_get (items, "properties"), k, x) {
                snprintf (sub, sizeof sub, "%s[].%s", path, k);
                walk_prop (w, sub, x);
            }
        }
    } else if (type && !strcmp (type, "object")) {
        const char *k;
        json_t *x;
        json_object_foreach (json_object_get (ps, "properties"), k, x) {
            snprintf (sub, sizeof sub, "%s.%s", path, k);
            walk_prop (w, sub, x);
        }
    } else if (type && !strcmp (type, "map") && json_object_get (ps, "keys")) {
        size_t i;
        json_t *x;
        json_array_foreach (json_object_get (ps, "keys"), i, x) {
            snprintf (sub, sizeof sub, "%s.%s", path, json_string_value (x));
            w->fn (w->arg, w->section, sub, json_object_get (ps, "values"), NULL);
        }
        snprintf (sub, sizeof sub, "%s.<other>", path);
        w->fn (w->arg, w->section, sub, json_object_get (ps, "otherKeys"), tv_str (json_object_get (ps, "otherKeys"), "unsupported"));
    }
}

void
schema_fields_walk (const schema_registry_t *r, schema_field_fn fn, void *arg)
{
    walk_t w = {.fn = fn, .arg = arg};
    const char *name, *k;
    json_t *def, *x;
    json_object_foreach (r->defs, name, def) {
        w.section = name;
        json_object_foreach (json_object_get (def, "properties"), k, x) walk_prop (&w, k, x);
    }
    for (size_t i = 0; i < r->n; i++) {
        w.section = r->kinds[i].name;
        json_object_foreach (json_object_get (r->kinds[i].doc, "fields"), k, x) walk_prop (&w, k, x);
    }
}
