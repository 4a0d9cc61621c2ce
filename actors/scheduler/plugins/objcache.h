/* objcache — what a plugin derived from a stored object (an existing pod's parsed affinity
 * terms), found again by the object's address instead of being derived again on every cycle.
 *
 * An entry holds a reference on its object, so the address cannot be reused by another object
 * while the entry lives: the same address is the same, never-modified stored object (objects
 * are not changed in place once stored; a new version is a new object). When the table would
 * fill, entries not looked up since the previous sweep are dropped (a put is not a look-up: an
 * object put and never asked for again goes at the next sweep), and the table is sized to
 * four times what stays: it follows what the last cycles asked for, not every object ever seen.
 * Not thread-safe: the scheduler's thread only.
 */
#ifndef TROUPE_SCHED_OBJCACHE_H
#define TROUPE_SCHED_OBJCACHE_H

#include <jansson.h>
#include <stddef.h>

typedef struct objcache objcache_t;

/* free_fn frees a value (called on eviction, replacement and destroy). NULL: out of memory. */
objcache_t *objcache_new (void (*free_fn) (void *val));
void objcache_destroy (objcache_t **self_p);
/* The value kept for obj, or NULL (marks it used: it survives the next sweep). */
void *objcache_get (objcache_t *self, const json_t *obj);
/* Keeps val for obj (a reference taken on obj), replacing (freeing) any value it had. 0, or -1
 * when out of memory (val is then freed). val stays valid at least until the next put. */
int objcache_put (objcache_t *self, const json_t *obj, void *val);
/* Entries held. */
size_t objcache_len (const objcache_t *self);

#endif
