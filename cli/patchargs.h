/* patchargs — the pure parts of `troupe patch` and `troupe label` (kubectl's): the patch text
 * (JSON or YAML) into an object, the label arguments (key=value, key-) checked as Kubernetes
 * checks label keys and values, and the merge patch of metadata.labels they make. */
#ifndef TROUPE_PATCHARGS_H
#define TROUPE_PATCHARGS_H

#include <jansson.h>
#include <stddef.h>

/* --type: kubectl's default is strategic. PATCH_JSON (RFC 6902) is recognised but the broker
 * does not take it. PATCH_BAD: anything else. */
typedef enum { PATCH_STRATEGIC, PATCH_MERGE, PATCH_JSON, PATCH_BAD } patch_type_t;
patch_type_t patch_type_parse (const char *s);

/* The patch text (JSON or YAML, one document) as a new object, or NULL with err set
 * ("unable to parse \"TEXT\": WHY"). */
json_t *patch_parse (const char *text, size_t len, char *err, size_t errlen);

/* Label key as Kubernetes' IsQualifiedName: [prefix/]name, prefix a lowercase DNS subdomain
 * (at most 253), name 1..63 of [A-Za-z0-9._-] starting and ending alphanumeric. 0 = valid,
 * else -1 with why in err. */
int label_key_check (const char *key, char *err, size_t errlen);
/* Label value as IsValidLabelValue: empty, or 1..63 as a name part. 0 or -1 with err. */
int label_value_check (const char *value, char *err, size_t errlen);

/* The label arguments (key=value adds or changes, key- removes), kubectl label's: *set gets a
 * new object key -> value, *del a new array of keys. 0, or -1 with err (kubectl's words) and
 * nothing returned. */
int label_args_parse (int n, char *const *args, json_t **set, json_t **del, char *err, size_t errlen);

typedef enum { LABEL_NONE, LABEL_LABELED, LABEL_UNLABELED } label_result_t;

/* The merge patch {"metadata":{"labels":{...}}} (null removes) taking the labels cur (an
 * object or NULL) to what set and del ask; *result says what kubectl prints (LABEL_NONE: no
 * change, and the patch is NULL, err ""). A key of set already holding another value without overwrite:
 * NULL with err "'key' already has a value (old), and --overwrite is false". A key of del not
 * in cur is appended to missing (when given), as kubectl warns "label \"key\" not found.". */
json_t *label_patch (const json_t *cur, const json_t *set, const json_t *del, int overwrite, label_result_t *result,
                     json_t *missing, char *err, size_t errlen);

#endif
