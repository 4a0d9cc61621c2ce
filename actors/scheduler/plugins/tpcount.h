/* tpcount — counts per topology pair (topologyKey, value), as the maps InterPodAffinity and
 * PodTopologySpread build in PreFilter/PreScore and read in Filter/Score.
 *
 * An open-addressing hash of (key, value) → int64. Keys are interned per map: every pair of one
 * key shares one string (its "ref", stable until destroy), and a lookup by ref compares the key
 * by pointer. A value of up to TPCOUNT_INLINE_MAX bytes is kept inside its slot (one 64-byte
 * line: a hit touches nothing else); a longer one is allocated apart. The map keeps, per key, how
 * many of its pairs are above 0, so the keys with a positive pair are listed without a walk of
 * every pair. Filled on the scheduler's thread; read-only lookups (tpcount_get*) are safe from
 * several threads once filling is done.
 */
#ifndef TROUPE_SCHED_TPCOUNT_H
#define TROUPE_SCHED_TPCOUNT_H

#include <stddef.h>
#include <stdint.h>

typedef struct tpcount tpcount_t;

/* The longest value (in bytes, without its NUL) kept inside its slot. */
#define TPCOUNT_INLINE_MAX 39

tpcount_t *tpcount_new (void);
void tpcount_destroy (tpcount_t **self_p);
/* Adds delta to the pair's count, creating it at 0 first. Returns the new count (0 and nothing
 * done when out of memory). */
int64_t tpcount_add (tpcount_t *self, const char *key, const char *value, int64_t delta);
/* As tpcount_add, and gives the map's own string of key (its ref; NULL when out of memory). */
int64_t tpcount_add_ref (tpcount_t *self, const char *key, const char *value, int64_t delta, const char **key_out);
/* The pair's count; 0 when absent (found, when not NULL, says whether it exists). */
int64_t tpcount_get (const tpcount_t *self, const char *key, const char *value, int *found);
/* The part of a pair's hash that depends on the key alone. */
uint64_t tpcount_key_hash (const char *key);
/* As tpcount_get, key_hash being tpcount_key_hash (key). */
int64_t tpcount_get_h (const tpcount_t *self, const char *key, uint64_t key_hash, const char *value, int *found);
/* The map's own string of key (stable until destroy), or NULL when no pair has that key. A
 * NULL ref stays right only while the map does not change: resolve again after an add. */
const char *tpcount_key_ref (const tpcount_t *self, const char *key);
/* As tpcount_get, key_ref being tpcount_key_ref (self, key) (NULL: not found). The key is
 * compared by pointer; its hash is the map's. */
int64_t tpcount_get_ref (const tpcount_t *self, const char *key_ref, const char *value, int *found);
/* How many pairs of the key (key_ref, NULL: none) are above 0. */
size_t tpcount_key_positive (const tpcount_t *self, const char *key_ref);
/* The keys (their refs) that have a pair above 0, in no particular order: up to max of them in
 * out; returns how many there are (more than max: out holds max of them). */
size_t tpcount_positive_keys (const tpcount_t *self, const char **out, size_t max);
/* Every key held (its ref), in no particular order: up to max of them in out; returns how many
 * there are. */
size_t tpcount_keys (const tpcount_t *self, const char **out, size_t max);
/* Number of distinct keys (a key whose pairs all came back to 0 stays). */
size_t tpcount_nkeys (const tpcount_t *self);
/* Number of pairs held (a pair brought back to 0 stays). */
size_t tpcount_size (const tpcount_t *self);
/* Number of pairs whose count is above 0. */
size_t tpcount_positive (const tpcount_t *self);
/* Number of values too long to be kept inside their slot. */
size_t tpcount_long_values (const tpcount_t *self);
/* Visits every pair (in no particular order); key is the ref, value valid during the call only. */
void tpcount_each (const tpcount_t *self, void (*fn) (void *arg, const char *key, const char *value, int64_t n),
                   void *arg);

#endif
