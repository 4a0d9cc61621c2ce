/* selector — Kubernetes label selectors.
 *
 * Text form (kubectl -l, list labelSelector): "app=web,tier!=db,env in (a,b),env notin (c),x,!y";
 * "==" is "=". Object form (spec.selector): {matchLabels: {k: v}, matchExpressions:
 * [{key, operator: In|NotIn|Exists|DoesNotExist, values: [...]}]}.
 * An empty selector matches everything (the caller decides whether that is allowed).
 */
#ifndef TROUPE_SELECTOR_H
#define TROUPE_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct selector selector_t;

/* Parses text; NULL or "" gives the empty selector. Returns NULL with err set
 * (e.g. "label selector: unexpected ')' at offset 7") on a syntax error. */
selector_t *selector_parse (const char *text, char *err, size_t errlen);
/* Builds from a LabelSelector object; NULL on a malformed one (err names the field). */
selector_t *selector_from_object (const json_t *label_selector, char *err, size_t errlen);
/* True if labels (a map of string → string, or NULL meaning none) satisfies every requirement. */
bool selector_matches (const selector_t *self, const json_t *labels);
bool selector_is_empty (const selector_t *self);
void selector_destroy (selector_t **self_p);

#endif
