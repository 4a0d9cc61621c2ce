/* schema — resource definitions as data (the YAML files of schema/), validation and defaulting.
 *
 * A kind is a YAML file, so a new kind (a user's custom resource) is data, not code. The files
 * compiled into the binary are schema/*.yaml (scripts/embed_schema.cmake); the same files load
 * from a folder with schema_registry_load_dir, and more kinds can be added on top of the
 * built-in ones with schema_registry_add_dir.
 *
 * ---- The schema language ----------------------------------------------------------------------
 *
 * A file holds one or more YAML documents. A document is a kind, shared definitions, or both:
 *
 *   apiVersion: apps/v1            group/version ("v1" for the core group)            required
 *   kind: Deployment               CamelCase                                          required
 *   plural: deployments            lower case                                         required
 *   singular: deployment           default: kind in lower case
 *   shortNames: [deploy]           more names for schema_kind_lookup
 *   namespaced: true               default true
 *   metadata:                      overrides or adds ObjectMeta properties for this kind, e.g.
 *     name: {type: string, format: dns-label, requiredUnless: generateName}
 *   selectorMatches:               optional rule: the label selector at `selector` must not be
 *     selector: spec.selector      empty and must match the labels at `labels`
 *     labels: spec.template.metadata.labels
 *   fields:                        the top-level fields beside apiVersion, kind and metadata
 *     spec: {...node...}           (status, if not listed, is free-form)
 *   definitions:                   named nodes any file may use with {ref: Name}
 *     Name: {...node...}
 *
 * Every object has apiVersion and kind (strings) and metadata ({ref: ObjectMeta}, required), so
 * one loaded file must define ObjectMeta (schema/_definitions.yaml does).
 *
 * A node describes one value:
 *   type:        string | integer | number | boolean | object | array | map | quantity |
 *                int-or-string | any
 *                  number accepts integers too; quantity is a Kubernetes quantity ("500m",
 *                  "128Mi", 2, 0.5) that is not negative; int-or-string takes either;
 *                  any takes anything (free-form).
 *   ref:         Name — this node is definitions.Name (instead of type); the keywords below
 *                that concern the property (required, default, ...) may sit beside it.
 *   description: free text, ignored.
 *   enum:        [allowed values]
 *   minimum, maximum:        bounds for integer, number, and the integer of int-or-string
 *   minLength, maxLength:    bounds in bytes for strings
 *   format:      checks on a string (or the string of an int-or-string), in Kubernetes' terms:
 *                  dns-label       RFC 1123 label, at most 63:  [a-z0-9]([-a-z0-9]*[a-z0-9])?
 *                  dns-subdomain   RFC 1123 subdomain, at most 253 (dot-separated labels)
 *                  name-prefix     a generateName: a dns-subdomain that may end in '-' or '.'
 *                  label-value     at most 63, empty or ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
 *                  qualified-name  a label key: [dns-subdomain "/"] name, name as label-value,
 *                                  not empty
 *                  config-key      ConfigMap/Secret key: [-._a-zA-Z0-9]+, at most 253, not "."
 *                                  or "..", not starting with ".."
 *                  env-name        [-._a-zA-Z][-._a-zA-Z0-9]*
 *                  port-name       IANA service name: at most 15, [a-z0-9-], a letter, no "--",
 *                                  no '-' at either end
 *                  base64          standard base64 with padding (line breaks ignored)
 *                  percent         [0-9]+%
 *   items:       node — arrays: every element (null elements are type errors)
 *   minItems, maxItems:      bounds on an array's length
 *   uniqueBy:    field — arrays of objects: no two elements may have the same value there
 *   values:      node — maps: every value (null values are type errors)
 *   keys:        {format: ..., maxLength: ...} — maps: checks on every key
 *   properties:  {field: node, ...} — objects; the order is the order of checks and defaults
 *   x-preserve-unknown: true — objects: fields not in properties are kept, not rejected
 * Keywords of a property (a node inside properties):
 *   required:       true — absent or null is "Required value"
 *   requiredUnless: sibling — required when the sibling field is absent
 *   default:        value — set by schema_default when the field is absent or null (a copy);
 *                   then defaults inside it apply too. A definition's default applies wherever
 *                   it is used without a default of its own.
 *   onlyWhen:       {field: sibling, equals: value} — the field is defaulted only when the
 *                   sibling (declared earlier; its default counts when absent) equals value,
 *                   and is Forbidden when it does not.
 * Files are checked when loaded: an unknown type, format or keyword, a missing definition, a
 * default that breaks its own node, are errors naming the file and the place.
 *
 * ---- Validation --------------------------------------------------------------------------------
 *
 * apiVersion and kind are checked first, then metadata, then the kind's fields in schema
 * order; at each object, fields the schema does not know come before the known ones. Messages
 * use Kubernetes' wording where it has one, with the field path (arrays indexed, map keys after
 * a dot):
 *   "kind: unknown kind \"Foo\""
 *   "apiVersion: Invalid value: \"v2\": Deployment is served as apps/v1"
 *   "spec.replicas: Invalid value: -3: must be greater than or equal to 0"
 *   "spec.replicas: Invalid type: expected integer, got string"
 *   "spec.template.spec.containers[0].name: Required value"
 *   "spec.replica: unknown field"
 *   "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", ..."
 *   "spec.template.spec.containers[1].name: Duplicate value: \"web\""
 *   "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must ..."
 *   "spec.strategy.rollingUpdate: Forbidden: may not be specified when `type` is \"Recreate\""
 * Validation does not modify the object; run schema_default first, as the api-server does.
 */
#ifndef TROUPE_SCHEMA_H
#define TROUPE_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

typedef struct schema_registry schema_registry_t;
typedef struct schema_kind schema_kind_t;

/* The definitions compiled into the binary (schema_embedded, NULL-terminated, generated from
 * schema/*.yaml). Returns a new registry, or NULL with err set ("schema pod.yaml: ...") when a
 * file is broken. */
schema_registry_t *schema_registry_load_embedded (char *err, size_t errlen);

/* Every *.yaml file of dir, read in name order. Returns a new registry, or NULL with err set
 * when dir cannot be read or a file is broken ("schema x.yaml: fields.spec.type: unknown type
 * \"strng\""). */
schema_registry_t *schema_registry_load_dir (const char *dir, char *err, size_t errlen);

/* Adds every *.yaml file of dir to self: more kinds (a user's resources) and definitions, which
 * may use the definitions already loaded. A kind already defined (same kind and group) or a
 * definition already defined is an error. Returns 0, or -1 with err set and self unchanged. */
int schema_registry_add_dir (schema_registry_t *self, const char *dir, char *err, size_t errlen);

/* Adds one file's text (name is used in messages). Returns 0, or -1 with err set and self
 * unchanged. */
int schema_registry_add_text (schema_registry_t *self, const char *name, const char *text, char *err, size_t errlen);

/* Frees the registry and sets *self_p to NULL; kinds looked up from it become invalid. NULL and
 * *self_p == NULL are accepted. */
void schema_registry_destroy (schema_registry_t **self_p);

/* The kind called name: its Kind ("Deployment", any case), plural, singular or a short name,
 * optionally followed by ".group" or ".version.group" ("deployments.apps",
 * "deployments.v1.apps", "leases.coordination.k8s.io"). When two kinds share a name, the one
 * loaded first wins. NULL if unknown (or self or name is NULL). */
const schema_kind_t *schema_kind_lookup (const schema_registry_t *self, const char *name);

/* The i-th kind in load order (i < schema_kind_count), for listing. NULL past the end. */
size_t schema_kind_count (const schema_registry_t *self);
const schema_kind_t *schema_kind_at (const schema_registry_t *self, size_t i);

/* A kind's properties; the strings live as long as the registry. */
const char *schema_kind_name (const schema_kind_t *k);        /* "Deployment" */
const char *schema_kind_plural (const schema_kind_t *k);      /* "deployments" */
const char *schema_kind_singular (const schema_kind_t *k);    /* "deployment" */
const char *schema_kind_api_version (const schema_kind_t *k); /* "apps/v1" */
const char *schema_kind_group (const schema_kind_t *k);       /* "apps", "" for the core group */
int schema_kind_namespaced (const schema_kind_t *k);          /* 1 or 0 */

/* Checks obj against the definition of its kind (chosen by kind and apiVersion). Returns 0 if
 * valid, else -1 with the first problem in err as "path: reason" (see above). err may be NULL. */
int schema_validate (const schema_registry_t *self, const json_t *obj, char *err, size_t errlen);

/* As schema_validate, but reports every problem, in the same order, joined by "; " (cut with
 * "; ..." when err is full). Returns the number of problems (0 if valid). */
int schema_validate_all (const schema_registry_t *self, const json_t *obj, char *err, size_t errlen);

/* Fills defaults in place, at every depth (each container's ports get protocol: TCP, ...).
 * Values of the wrong type are left alone for validation to report. Running it twice changes
 * nothing more. Returns 0, or -1 if obj is not a map or its kind is unknown. */
int schema_default (const schema_registry_t *self, json_t *obj);

#endif
