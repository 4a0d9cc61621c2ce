/* tpcount — counts per topology pair (topologyKey, value), as the maps InterPodAffinity and
 * PodTopologySpread build in PreFilter/PreScore and read in Filter/Score.
 *
 * An open-addressing hash of (key, value) → int64. Filled on the scheduler's thread; read-only
 * lookups (tpcount_get) are safe from several threads once filling is done.
 */
#ifndef TROUPE_SCHED_TPCOUNT_H
#define TROUPE_SCHED_TPCOUNT_H

#include <stddef.h>
#include <stdint.h>

typedef struct tpcount tpcount_t;

tpcount_t *tpcount_new (void);
void tpcount_destroy (tpcount_t **self_p);
/* Adds delta to the pair's count, creating it at 0 first. Returns the new count. */
int64_t tpcount_add (tpcount_t *self, const char *key, const char *value, int64_t delta);
/* As tpcount_add, and gives the map's own copies of key and value (stable until destroy). */
int64_t tpcount_add_ref (tpcount_t *self, const char *key, const char *value, int64_t delta, const char **key_out,
                         const char **value_out);
/* The pair's count; 0 when absent (found, when not NULL, says whether it exists). */
int64_t tpcount_get (const tpcount_t *self, const char *key, const char *value, int *found);
/* The part of a pair's hash that depends on the key alone: a Filter that looks up the same key
 * on every node computes it once (in PreFilter) and gives it to tpcount_get_h. */
uint64_t tpcount_key_hash (const char *key);
/* As tpcount_get, key_hash being tpcount_key_hash (key). */
int64_t tpcount_get_h (const tpcount_t *self, const char *key, uint64_t key_hash, const char *value, int *found);
/* Number of pairs held (a pair brought back to 0 stays). */
size_t tpcount_size (const tpcount_t *self);
/* Number of pairs whose count is above 0. */
size_t tpcount_positive (const tpcount_t *self);
/* Visits every pair (in no particular order). */
void tpcount_each (const tpcount_t *self, void (*fn) (void *arg, const char *key, const char *value, int64_t n),
                   void *arg);

#endif
