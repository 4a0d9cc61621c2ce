/* yaml — YAML ⇄ json_t, on top of libyaml's event API.
 *
 * Loading reads a stream of documents ("---" separated) into a json array, one element per
 * document; documents with no content at all (a bare "---", comments only) are skipped, while a
 * document that says "null" or "~" gives a json null.
 *
 * Scalars follow the YAML 1.2 core schema. A plain (unquoted) scalar is
 *   null   : "", "~", null, Null, NULL
 *   bool   : true/True/TRUE, false/False/FALSE          ("yes", "on", "y" stay strings)
 *   integer: [-+]?[0-9]+, 0x[0-9a-fA-F]+, 0o[0-7]+      (decimal past int64 becomes a real,
 *                                                         hex/octal past int64 a string)
 *   real   : [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?
 *   string : anything else.
 * .inf, -.inf and .nan stay strings: a json_t real cannot hold them (jansson refuses non-finite
 * values), and neither can JSON or the msgpack bodies built from these trees.
 * Quoted ('x', "x"), literal (|) and folded (>) scalars are always strings. The core tags
 * !!str, !!int, !!float, !!bool and !!null force a type ("!!int abc" is an error); a lone "!"
 * forces a string; other tags (!Ref, !!binary, ...) are ignored. Map keys are always strings:
 * the key's text, whatever it would resolve to ("1: x" gives the key "1").
 *
 * Anchors (&a) and aliases (*a) work; an alias is a deep copy, so the tree never shares nodes
 * and may be modified freely. The merge key "<<" (plain, not quoted) takes a map or a list of
 * maps; explicit keys win over merged ones, the first merged map wins over later ones.
 *
 * Limits, so that hostile input is an error and not an explosion:
 *   - at most TR_YAML_MAX_NODES nodes over the whole stream, counting every alias at its full
 *     expanded size and every map key (a "billion laughs" stops here);
 *   - nesting at most TR_YAML_MAX_DEPTH deep, aliases counted at their expanded depth;
 *   - the input must be UTF-8 without NUL bytes, and no string (key or value) may hold a NUL,
 *     even through the "\0" escape.
 * Duplicate keys in a map are errors.
 *
 * Errors are one line naming the position, 1-based:
 *   "yaml: line 3 column 5: mapping values are not allowed in this context"
 *   "yaml: line 2 column 1: duplicate key \"a\""
 *   "yaml: line 1 column 1: invalid leading UTF-8 octet 0x93 (the input must be UTF-8)"
 *
 * Dumping writes block-style YAML (2-space indent, lists not indented under their key, no line
 * folding, empty maps and lists as {} and []). A string is quoted when plain text would read back
 * as something else ("true", "123", "1e3", "", "null", "<<", leading or trailing spaces, ": "
 * inside, ...) and also when other YAML 1.1 readers would take it for a boolean or number ("yes",
 * "off", ".inf", "0777"). Multi-line strings use literal block style (|) when libyaml can keep
 * them exact, double quotes otherwise. Reals are written with the fewest digits that read back
 * to the same double, and always with a '.' or an exponent so they stay reals.
 *
 * Round trip: for every json_t v whose strings hold no NUL and whose depth is within
 * TR_YAML_MAX_DEPTH, tr_yaml_load (tr_yaml_dump (v)) is an array holding one element equal
 * (json_equal) to v. Loading and dumping keep map key order.
 */
#ifndef TROUPE_YAML_H
#define TROUPE_YAML_H

#include <jansson.h>
#include <stddef.h>

#define TR_YAML_MAX_NODES 1000000
#define TR_YAML_MAX_DEPTH 64

/* Parses text[0..len) (it need not be NUL-terminated) as a YAML stream.
 * Returns a new json array with one element per non-empty document (possibly empty), or NULL
 * with a message in err ("yaml: line L column C: ...") on a syntax error, a duplicate key, a
 * limit exceeded, bytes that are not UTF-8, a NUL, or memory exhaustion. err may be NULL. */
json_t *tr_yaml_load (const char *text, size_t len, char *err, size_t errlen);

/* Block-style YAML for v as one document, in a malloc'd NUL-terminated string the caller frees.
 * Strings that are not valid UTF-8 (made with json_string_nocheck) have each bad byte replaced
 * by U+FFFD. Returns NULL on allocation failure, or when v nests deeper than 1000 levels (which
 * also stops on a cyclic tree). */
char *tr_yaml_dump (const json_t *v);

#endif
