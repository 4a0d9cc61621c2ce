/* yaml — YAML ⇄ json_t with libyaml.
 *
 * Loading follows the YAML 1.2 core schema for plain scalars (null, booleans, integers incl.
 * 0x/0o, floats; .inf and .nan stay strings, as json_t cannot hold them); quoted and block scalars are strings. Anchors and aliases work,
 * with a budget on expanded nodes (1,000,000) so a "billion laughs" document is an error, not an
 * explosion; nesting is limited to 64; duplicate keys are errors. Errors name line and column:
 * "yaml: line 3 column 5: mapping values are not allowed in this context".
 */
#ifndef TROUPE_YAML_H
#define TROUPE_YAML_H

#include <jansson.h>
#include <stddef.h>

#define TR_YAML_MAX_NODES 1000000
#define TR_YAML_MAX_DEPTH 64

/* Parses a (multi-document) stream. Returns a new array with one element per non-empty
 * document, or NULL with err set. */
json_t *tr_yaml_load (const char *text, size_t len, char *err, size_t errlen);

/* Block-style YAML for v (malloc'd, NUL-terminated), quoting strings that would read back as
 * another type. load(dump(v)) == v. NULL on allocation failure. */
char *tr_yaml_dump (const json_t *v);

#endif
