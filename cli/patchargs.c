/* patchargs — see patchargs.h. */
#include "cli/patchargs.h"
#include "core/yaml.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

patch_type_t
patch_type_parse (const char *s)
{
    if (!s || !strcmp (s, "strategic"))
        return PATCH_STRATEGIC;
    if (!strcmp (s, "merge"))
        return PATCH_MERGE;
    if (!strcmp (s, "json"))
        return PATCH_JSON;
    return PATCH_BAD;
}

static const char *
json_kind (const json_t *v)
{
    switch (json_typeof (v)) {
    case JSON_OBJECT: return "a map";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

json_t *
patch_parse (const char *text, size_t len, char *err, size_t errlen)
{
    char why[300];
    json_t *docs = tr_yaml_load (text, len, why, sizeof why);
    json_t *out = NULL;
    if (!docs)
        ;
    else if (json_array_size (docs) != 1)
        snprintf (why, sizeof why, "%s", json_array_size (docs) ? "more than one document" : "the patch is empty");
    else if (!json_is_object (json_array_get (docs, 0)))
        snprintf (why, sizeof why, "the patch must be a map (a JSON object), not %s", json_kind (json_array_get (docs, 0)));
    else
        out = json_incref (json_array_get (docs, 0));
    json_decref (docs);
    if (!out)
        snprintf (err, errlen, "unable to parse \"%.*s%s\": %s", len > 200 ? 200 : (int) len, text, len > 200 ? "…" : "",
                  why);
    return out;
}

/* A name part: 1..63 of [A-Za-z0-9._-], alphanumeric at both ends. */
static int
name_part_ok (const char *s, size_t n)
{
    if (!n || n > 63 || !isalnum ((unsigned char) s[0]) || !isalnum ((unsigned char) s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum ((unsigned char) s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* A lowercase RFC 1123 subdomain: dot-separated labels of [a-z0-9-], alphanumeric at both ends. */
static int
subdomain_ok (const char *s, size_t n)
{
    if (!n || n > 253)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!islower ((unsigned char) s[i]) && !isdigit ((unsigned char) s[i]) && s[i] != '-')
                return 0;
            continue;
        }
        size_t l = i - start;
        if (!l || l > 63 || s[start] == '-' || s[i - 1] == '-')
            return 0;
        start = i + 1;
    }
    return 1;
}

#define NAME_RULE                                                                                                     \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "         \
    "character (e.g. 'MyName', or 'my.name', or '123-abc')"

int
label_key_check (const char *key, char *err, size_t errlen)
{
    const char *slash = strchr (key, '/');
    const char *name = slash ? slash + 1 : key;
    size_t nl = strlen (name);
    if (slash && strchr (name, '/')) {
        snprintf (err, errlen, "a qualified name " NAME_RULE " with an optional DNS subdomain prefix and '/' (e.g. "
                               "'example.com/MyName')");
        return -1;
    }
    if (slash && !subdomain_ok (key, (size_t) (slash - key))) {
        snprintf (err, errlen, slash == key ? "prefix part must be non-empty"
                                            : "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                                              "alphanumeric characters, '-' or '.', and must start and end with an "
                                              "alphanumeric character (e.g. 'example.com'), at most 253 characters");
        return -1;
    }
    if (!nl) {
        snprintf (err, errlen, "name part must be non-empty");
        return -1;
    }
    if (nl > 63) {
        snprintf (err, errlen, "name part must be no more than 63 characters");
        return -1;
    }
    if (!name_part_ok (name, nl)) {
        snprintf (err, errlen, "name part " NAME_RULE);
        return -1;
    }
    return 0;
}

int
label_value_check (const char *value, char *err, size_t errlen)
{
    size_t n = strlen (value);
    if (n > 63) {
        snprintf (err, errlen, "must be no more than 63 characters");
        return -1;
    }
    if (n && !name_part_ok (value, n)) {
        snprintf (err, errlen, "a valid label must be an empty string or " NAME_RULE);
        return -1;
    }
    return 0;
}

int
label_args_parse (int n, char *const *args, json_t **set, json_t **del, char *err, size_t errlen)
{
    json_t *s = json_object (), *d = json_array ();
    char why[400];
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        const char *eq = strchr (a, '=');
        size_t al = strlen (a);
        char key[400];
        if (eq) {
            snprintf (key, sizeof key, "%.*s", (int) (eq - a), a);
            if (label_key_check (key, why, sizeof why)) {
                snprintf (err, errlen, "invalid label spec: \"%s\": %s", a, why);
                goto bad;
            }
            if (label_value_check (eq + 1, why, sizeof why)) {
                snprintf (err, errlen, "invalid label value: \"%s\": %s", a, why);
                goto bad;
            }
            json_object_set_new (s, key, json_string (eq + 1));
        } else if (al > 1 && a[al - 1] == '-') {
            snprintf (key, sizeof key, "%.*s", (int) (al - 1), a);
            if (label_key_check (key, why, sizeof why)) {
                snprintf (err, errlen, "invalid label spec: \"%s\": %s", a, why);
                goto bad;
            }
            json_array_append_new (d, json_string (key));
        } else {
            snprintf (err, errlen, "unknown label spec: %s (want key=value to set, key- to remove)", a);
            goto bad;
        }
    }
    if (!json_object_size (s) && !json_array_size (d)) {
        snprintf (err, errlen, "at least one label update is required");
        goto bad;
    }
    size_t i;
    json_t *k;
    json_array_foreach (d, i, k) if (json_object_get (s, json_string_value (k))) {
        snprintf (err, errlen, "can not both modify and remove a label in the same command");
        goto bad;
    }
    *set = s;
    *del = d;
    return 0;
bad:
    json_decref (s);
    json_decref (d);
    return -1;
}

json_t *
label_patch (const json_t *cur, const json_t *set, const json_t *del, int overwrite, label_result_t *result,
             json_t *missing, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    *result = LABEL_NONE;
    json_t *labels = json_object ();
    int added = 0, removed = 0;
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *) set, key, v) {
        const char *old = json_string_value (json_object_get (cur, key));
        if (old && !strcmp (old, json_string_value (v)))
            continue;
        if (old && !overwrite) {
            snprintf (err, errlen, "'%s' already has a value (%s), and --overwrite is false", key, old);
            json_decref (labels);
            return NULL;
        }
        json_object_set (labels, key, v);
        added++;
    }
    size_t i;
    json_array_foreach (del, i, v) {
        const char *k = json_string_value (v);
        if (!json_object_get (cur, k)) {
            if (missing)
                json_array_append (missing, v);
            continue;
        }
        json_object_set_new (labels, k, json_null ());
        removed++;
    }
    *result = added ? LABEL_LABELED : removed ? LABEL_UNLABELED : LABEL_NONE;
    if (!added && !removed) {
        json_decref (labels);
        return NULL;
    }
    return json_pack ("{s:{s:o}}", "metadata", "labels", labels);
}
