/* nodesel — a NodeSelector (v1.NodeSelectorTerm list: nodeAffinity's required terms, a preferred
 * term's preference) compiled once, then matched against many nodes.
 *
 * Compiling reads the operators, keys and values once; matching a node is one label lookup per
 * requirement. Strings are borrowed from the JSON compiled: it must outlive the selector.
 * Semantics as Kubernetes' nodeaffinity.LazyErrorNodeSelector: terms are ORed, requirements of a
 * term ANDed; a term with neither matchExpressions nor matchFields matches nothing; a malformed
 * term (no key, an unknown operator, Gt/Lt without one integer, a matchFields key other than
 * metadata.name or an operator other than In/NotIn there) matches nothing and is reported only
 * when no other term matches. Pure: no I/O, no allocation while matching, thread-safe to match.
 */
#ifndef TROUPE_SCHED_NODESEL_H
#define TROUPE_SCHED_NODESEL_H

#include "actors/scheduler/sched_plugin.h"

#include <jansson.h>
#include <stddef.h>

typedef struct nodesel nodesel_t;

/* terms: a JSON array of NodeSelectorTerms (anything else is an empty selector, matching
 * nothing). NULL only when out of memory. */
nodesel_t *nodesel_new (const json_t *terms);
void nodesel_destroy (nodesel_t **self_p);

/* 1 match, 0 no match, -1 no term matched and one was malformed. */
int nodesel_match (const nodesel_t *self, const tr_sched_node_t *node);

/* Terms compiled (the empty and malformed ones included). */
size_t nodesel_terms (const nodesel_t *self);

#endif
