/* value — Troupe's in-memory object model.
 *
 * Objects (Pods, Deployments, message bodies) are trees of jansson's json_t: maps keep insertion
 * order, values are reference counted, json_deep_copy/json_equal/json_object_update are there.
 * On the wire and on disk the same tree is msgpack (tv_encode / tv_decode); a msgpack bin or ext
 * becomes a string. See docs/decisions.md ("object model").
 *
 * Paths are dot-separated map keys: "metadata.name", "spec.template.spec". No array indexing.
 */
#ifndef TROUPE_VALUE_H
#define TROUPE_VALUE_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting tv_decode accepts; deeper input is rejected (not a stack overflow). */
#define TV_MAX_DEPTH 64

/* Packs v into pk. Returns 0, or -1 if v holds a type msgpack cannot carry (never for json_t). */
int tv_pack (msgpack_packer *pk, const json_t *v);

/* Encodes v as one msgpack value into a malloc'd buffer (*buf, *len). Returns 0 or -1 (ENOMEM). */
int tv_encode (const json_t *v, char **buf, size_t *len);

/* As tv_encode, and gives where mark (a value inside v, found by pointer) is encoded:
 * buf[*at..*end). Returns 0, 1 when mark is not in v (*at = *end = 0), or -1. */
int tv_encode_mark (const json_t *v, const json_t *mark, char **buf, size_t *len, size_t *at, size_t *end);

/* A new encoding (*out, *outlen: malloc'd) of buf[0..len) where the map encoded at buf[at..end)
 * has one more member, key: value (strings), after its others — what tv_encode gives for the tree
 * once that member is set last into the map (jansson keeps insertion order). Returns 0, or -1
 * when buf[at..end) does not start with a map header or the offsets do not fit in len. */
int tv_msgpack_map_append_str (const char *buf, size_t len, size_t at, size_t end, const char *key, const char *value,
                               char **out, size_t *outlen);

/* Converts an unpacked msgpack object into a new json_t. Map keys must be strings (else error).
 * Returns a new reference or NULL with a message in err naming the problem. */
json_t *tv_from_msgpack (const msgpack_object *o, char *err, size_t errlen);

/* Checks that buf starts with one well-formed msgpack value without allocating: every length
 * fits in the buffer, no container claims more elements than bytes remain, nesting stays within
 * TV_MAX_DEPTH. *used receives the value's size. Returns 0, or -1 with err naming the byte offset.
 * Run before msgpack-c's unpacker, which would otherwise allocate what a hostile header claims. */
int tv_check (const void *buf, size_t len, size_t *used, char *err, size_t errlen);

/* Decodes exactly one msgpack value filling buf[0..len). Trailing bytes, truncation, depth over
 * TV_MAX_DEPTH or non-string map keys are errors; err names the byte offset when it can.
 * Returns a new reference or NULL. */
json_t *tv_decode (const void *buf, size_t len, char *err, size_t errlen);
/* tv_decode, sharing with prev (the previous version of the same object, or NULL) every value
 * that did not change: each is prev's, with a new reference, so the versions a cache and its
 * event ring hold cost what changed between them (and equal values are compared, not decoded).
 * The root and the maps directly in it are always new objects: a caller may set a field two
 * levels down (metadata.resourceVersion) without touching prev. Anything deeper may be prev's:
 * treat the result as immutable there, as any cached object. Same errors as tv_decode. */
json_t *tv_decode_like (const void *buf, size_t len, const json_t *prev, char *err, size_t errlen);
/* tv_from_msgpack, sharing with prev as tv_decode_like. */
json_t *tv_from_msgpack_like (const msgpack_object *o, const json_t *prev, char *err, size_t errlen);

/* Projections: what a reader keeps of objects it holds many of (an informer's cache), decoded
 * without the rest. A keep is made from dotted paths by tv_keep_new ("metadata",
 * "spec.containers.ports": of each container, its ports); NULL keeps everything. A map in a keep
 * keeps, of a map, the keys it names and, of an array, each element projected the same (other
 * values whole). */
json_t *tv_keep_new (const char *const *paths, size_t n);
/* tv_from_msgpack_like of o's projection by keep; prev is the previous version projected the same
 * (or NULL). Errors only in what is kept. */
json_t *tv_from_msgpack_keep (const msgpack_object *o, const json_t *prev, const json_t *keep, char *err,
                              size_t errlen);
/* v projected by keep (new reference; shares v's kept subtrees). */
json_t *tv_project (const json_t *v, const json_t *keep);

/* Borrowed reference to the value at path, or NULL if any step is missing or not a map. */
json_t *tv_get (const json_t *obj, const char *path);
/* The string at path, or NULL if missing or not a string. */
const char *tv_str (const json_t *obj, const char *path);
/* The integer at path, or dflt if missing or not an integer (a real with an integral value counts). */
json_int_t tv_int (const json_t *obj, const char *path, json_int_t dflt);
/* A Kubernetes quantity held in v — a string ("500m", "1Gi"), an integer or a real (YAML's
 * `cpu: 2`, `cpu: 0.5`, read as their shortest decimal text) — in thousandths of the unit, by
 * quantity_parse_milli (core/quantity.h). 0, or -1 with err naming the problem (a wrong type too). */
int tv_quantity_milli (const json_t *v, int64_t *out_milli, char *err, size_t errlen);
/* The boolean at path, or dflt. */
bool tv_bool (const json_t *obj, const char *path, bool dflt);

/* Sets path to val, creating intermediate maps; steals val (also on failure).
 * Returns 0, or -1 if obj is not a map or a step is a non-map value. */
int tv_set (json_t *obj, const char *path, json_t *val);
/* Convenience setters; 0 or -1 as tv_set. */
int tv_set_str (json_t *obj, const char *path, const char *s);
int tv_set_int (json_t *obj, const char *path, json_int_t i);
/* Removes the key at path if present. Returns 0 whether or not it existed. */
int tv_del (json_t *obj, const char *path);

/* Returns the map at path, creating it (and its parents) when missing. Borrowed; NULL on a
 * type clash. */
json_t *tv_obj (json_t *obj, const char *path);

/* RFC 7386 JSON merge patch applied in place to the map target (null deletes a key, maps merge
 * recursively, anything else replaces). Returns 0, or -1 if target or patch is not a map. */
int tv_merge_patch (json_t *target, const json_t *patch);

/* A strategic merge patch (kubectl's --type strategic) applied in place to the map target: as
 * tv_merge_patch, except that an array named "conditions", at any depth, merges element-wise by
 * its key "type" (PodStatus, NodeStatus… declare it with patchMergeKey=type): a patch element whose
 * type is already in the list is merged into that element where it stands (its fields replace, its
 * nulls delete, fields it does not name stay, as Kubernetes merges a list element with a merge
 * key), an element of a new type (or with no type) is appended (a target without the list, or
 * with a non-array there, starts from an empty one). Other arrays replace, as in a merge patch; a
 * patch's "conditions" that is not an array is merge-patched. Returns 0, or
 * -1 if target or patch is not a map. */
int tv_strategic_patch (json_t *target, const json_t *patch);

/* ---- structural sharing (copy on write) ----------------------------------------------------
 * jansson values are reference counted: a new version of a cached (immutable) object can share
 * with it every subtree it does not change, and copy only the maps and arrays along what does.
 * Rule: a map or array whose reference count is above 1 may be someone else's (a cache's) and is
 * never modified in place; tv_unshare replaces it with a shallow copy (json_copy) first. */

/* Makes the maps along path (dot-separated, as tv_get) in root exclusively root's: each one held
 * by more than one reference is replaced in its parent by a shallow copy (its children shared).
 * root itself must be the caller's alone (a new object, or a json_copy). Returns the map at path
 * (borrowed) to modify in place, or NULL when a step is missing or not a map (nothing created:
 * tv_set creates new maps, exclusively root's). */
json_t *tv_unshare (json_t *root, const char *path);

/* tv_merge_patch as a function: a new map, cur patched, sharing with cur (new references) every
 * value the patch does not touch; only the maps along the patched paths are new. cur is not
 * modified (it may be a cached object). NULL if cur or patch is not a map. */
json_t *tv_merge_patch_new (const json_t *cur, const json_t *patch);
/* tv_strategic_patch the same way: a "conditions" list the patch names is a new array holding
 * cur's unchanged elements (shared) and new maps for the merged ones. */
json_t *tv_strategic_patch_new (const json_t *cur, const json_t *patch);

#endif
