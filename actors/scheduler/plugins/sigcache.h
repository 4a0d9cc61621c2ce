/* sigcache — the few nodeshare sums a plugin keeps per pod signature (InterPodAffinity's term
 * sets, PodTopologySpread's constraint sets): every replica of a Deployment finds the entry its
 * siblings left, brought up to the snapshot node by node (nodeshare.h).
 *
 * An entry is the plugin's own struct with an sc_entry_t first. Looked up by signature; a miss
 * takes a free slot, else the least recently used entry no cycle holds (all held: no caching).
 * A cycle state holding an entry (sigcache_hold) keeps it from eviction; every update bumps its
 * version, so a holder can tell that its counts moved. An entry whose update failed leaves the
 * cache and is freed by its last holder. Not thread-safe: the scheduler's thread only.
 */
#ifndef TROUPE_SCHED_SIGCACHE_H
#define TROUPE_SCHED_SIGCACHE_H

#include "actors/scheduler/plugins/nodeshare.h"

#include <stdatomic.h>

typedef struct sc_entry sc_entry_t;
struct sc_entry {
    char *sig;             /* owned */
    nodeshare_t *share;    /* owned: freed with the entry */
    uint64_t last_use;
    _Atomic int refs;      /* cycle states holding it: not evicted while held */
    uint64_t version;      /* bumped on every update: a held state checks it */
    int orphan;            /* out of the cache (failed update): freed by its last holder */
    void (*free_fn) (sc_entry_t *e); /* frees the plugin's part and e itself (sc_entry_free first) */
};

#define SC_ENTRIES 8

typedef struct {
    sc_entry_t *slot[SC_ENTRIES];
    uint64_t clock;
} sigcache_t;

/* Builds the entry for sig (taking sig: stored in ->sig or freed) with ->share and ->free_fn;
 * NULL when it cannot. */
typedef sc_entry_t *(*sc_make_fn) (void *arg, char *sig);

/* What fn is given as its arg by sigcache_get: the caller's ctx and the entry being updated. */
typedef struct {
    void *ctx;
    sc_entry_t *entry;
} sc_share_t;

/* The entry for sig (taken; NULL: NULL), made with make when missing, brought up to snap with fn
 * (arg: an sc_share_t). NULL: compute without the cache. */
sc_entry_t *sigcache_get (sigcache_t *c, char *sig, sc_make_fn make, void *make_arg, const tr_sched_snapshot_t *snap,
                          nodeshare_fn fn, void *ctx);
void sigcache_hold (sc_entry_t *e);
/* A holder lets go; an orphan is freed by its last holder. */
void sigcache_release (sc_entry_t *e);
/* Frees every entry (plugin destroy). */
void sigcache_clear (sigcache_t *c);
/* The common part of an entry's free_fn: the signature and the sums (not e itself). */
void sc_entry_fini (sc_entry_t *e);

#endif
