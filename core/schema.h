/* schema — resource definitions as data (the YAML files of schema/), validation and defaulting.
 *
 * A kind file names the kind (apiVersion, kind, plural, singular, shortNames, namespaced) and its
 * top-level fields beside apiVersion/kind/metadata; schema/_definitions.yaml holds shared types
 * (ObjectMeta, PodSpec, ...) referenced with {type: ref, ref: Name}. The language is described at
 * the top of that file. A new kind — a user's custom resource — is a new file, not new code.
 *
 * Validation reports the first problem in schema order with its field path, in Kubernetes'
 * words: "spec.replicas: Invalid value: -3: must be greater than or equal to 0",
 * "spec.template.spec.containers[0].name: Required value", "spec.replica: unknown field".
 * A Kubernetes field Troupe does not do yet is marked {unsupported: reason} in the schema and
 * refused distinctly: "spec.initContainers: Unsupported: not supported yet by Troupe: <reason>"
 * (see schema/_definitions.yaml and docs/fields.md).
 */
#ifndef TROUPE_SCHEMA_H
#define TROUPE_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

typedef struct schema_registry schema_registry_t;
typedef struct schema_kind schema_kind_t;

/* The definitions compiled into the binary. NULL with err on a broken schema file. */
schema_registry_t *schema_registry_load_embedded (char *err, size_t errlen);
/* Every *.yaml of dir. NULL with err ("schema pod.yaml: kind: Required value"). */
schema_registry_t *schema_registry_load_dir (const char *dir, char *err, size_t errlen);
void schema_registry_destroy (schema_registry_t **self_p);

/* By Kind ("Deployment"), lower-case kind, plural, short name, or "deployments.apps". NULL if
 * unknown. */
const schema_kind_t *schema_kind_lookup (const schema_registry_t *self, const char *name);
const char *schema_kind_name (const schema_kind_t *k);
const char *schema_kind_plural (const schema_kind_t *k);
const char *schema_kind_api_version (const schema_kind_t *k);
int schema_kind_namespaced (const schema_kind_t *k);

/* 0 if obj is a valid object of its kind, else -1 with err holding the field path and reason. */
int schema_validate (const schema_registry_t *self, const json_t *obj, char *err, size_t errlen);
/* The same for an update replacing prev (NULL: as schema_validate): top-level fields equal to
 * prev's are taken as valid, as they were when prev was written (validation ratcheting). */
int schema_validate_update (const schema_registry_t *self, const json_t *obj, const json_t *prev, char *err,
                            size_t errlen);
/* Applies the kind's write-time conversions in place, without defaults (a Secret's stringData
 * becomes base64 data, as the stored object has it): what a client compares with a stored object.
 * schema_default does the same. 0, or -1 for an unknown kind. */
int schema_convert (const schema_registry_t *self, json_t *obj);
/* Fills defaults in place (also inside array items), applies schema_convert's conversions, then
 * canonicalises as schema_canonicalize.
 * 0, or -1 for an unknown kind. */
int schema_default (const schema_registry_t *self, json_t *obj);
/* The same for an update replacing prev (NULL: as schema_default): subtrees equal to prev's are
 * left alone, as they were defaulted when prev was written. */
int schema_default_update (const schema_registry_t *self, json_t *obj, const json_t *prev);
/* Rewrites every valid quantity in place in Kubernetes' canonical form, as the api-server
 * serialises them: "0.5" and 0.5 → "500m", 2 → "2", "1024Mi" → "1Gi", "1.5Gi" → "1536Mi",
 * "1000m" → "1"; invalid ones are left for schema_validate to report. 0, or -1 for an unknown
 * kind. */
int schema_canonicalize (const schema_registry_t *self, json_t *obj);
/* The same, leaving subtrees equal to prev's (the stored object's, already canonical) alone. */
int schema_canonicalize_update (const schema_registry_t *self, json_t *obj, const json_t *prev);

/* Calls fn once for every field the schema declares, section by section: each definition of
 * _definitions.yaml (section "PodSpec"), then each kind's own fields (section "Deployment").
 * path is relative to the section: "tolerations[].key", "resources.requests.cpu", and
 * "resources.requests.<other>" for a map's keys beyond those it lists; field is the field's schema
 * (borrowed; for "<other>", the otherKeys marker). unsupported is the
 * refusal reason of a Kubernetes field Troupe does not do yet, or NULL for a field it honours.
 * A field of type ref is reported but not followed (its definition is a section of its own); a
 * refused field's sub-fields are not reported (they go with it). docs/fields.md is checked
 * against this walk by tests/unit/test_fields.c. */
typedef void (*schema_field_fn) (void *arg, const char *section, const char *path, const json_t *field,
                                 const char *unsupported);
void schema_fields_walk (const schema_registry_t *self, schema_field_fn fn, void *arg);

#endif
