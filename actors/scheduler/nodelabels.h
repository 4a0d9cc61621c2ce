/* nodelabels — a node's labels packed for lookups from Filter and Score.
 *
 * A plugin reads one or two labels of every node it filters (a topology key, a node-affinity
 * key); at 5,000 nodes the lookups in the Node's JSON (a hash table of separately allocated
 * pairs, keys and values) were a third to a half of the scheduler thread in the affinity and
 * spread workloads, most of it cache misses. The snapshot packs each node's labels into one
 * block (hashes, then offsets, then the strings) when the node is set, and points
 * tr_sched_node_t.label_index at it; fw_node_label looks a label up there, or in the JSON for a
 * node built without one (a plugin test's hand-made node). Values stay valid as long as the
 * node's labels do (until the node is set again or deleted). Pure.
 */
#ifndef TROUPE_SCHED_NODELABELS_H
#define TROUPE_SCHED_NODELABELS_H

#include "actors/scheduler/sched_plugin.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nodelabels nodelabels_t;

/* labels: a JSON object of string values (other values are left out, as a lookup of them in
 * the JSON gives no string). NULL when out of memory; an empty object gives an empty index. */
nodelabels_t *nodelabels_new (const json_t *labels);
void nodelabels_destroy (nodelabels_t **self_p);
/* The value of key, or NULL when the node has no such label. */
const char *nodelabels_get (const nodelabels_t *self, const char *key);
size_t nodelabels_size (const nodelabels_t *self);

/* A key whose hash and length are computed once (in PreFilter, or as a term is read) for the
 * lookups of it on every node. */
typedef struct {
    const char *key;
    size_t len;
    uint32_t hash;
} nodelabels_key_t;

nodelabels_key_t nodelabels_key (const char *key);
/* As nodelabels_get (self, k->key). */
const char *nodelabels_get_h (const nodelabels_t *self, const nodelabels_key_t *k);

/* Asks the memory for the first lines of the index (the header, hashes and offsets, the first
 * strings: what a lookup reads first), ahead of a lookup on that node. NULL is allowed. A hint,
 * with no effect on any result. */
void nodelabels_prefetch (const nodelabels_t *self);

/* A node's label through its index when it has one, else from node->labels. */
static inline const char *
fw_node_label (const tr_sched_node_t *node, const char *key)
{
    if (node->size >= offsetof (tr_sched_node_t, label_index) + sizeof node->label_index && node->label_index)
        return nodelabels_get ((const nodelabels_t *) node->label_index, key);
    return json_string_value (json_object_get (node->labels, key));
}

/* As fw_node_label (node, k->key). */
static inline const char *
fw_node_label_h (const tr_sched_node_t *node, const nodelabels_key_t *k)
{
    if (node->size >= offsetof (tr_sched_node_t, label_index) + sizeof node->label_index && node->label_index)
        return nodelabels_get_h ((const nodelabels_t *) node->label_index, k);
    return json_string_value (json_object_get (node->labels, k->key));
}

#endif
