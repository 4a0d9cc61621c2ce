/* filterpool — the scheduler's second core for long Filter scans.
 *
 * A cycle whose pod fits few nodes (a preemptor on a full cluster, a pod whose constraints most
 * nodes fail) filters every node before it gives up: 5,000 nodes, 1–2 ms on one thread. The pool
 * splits such a scan into chunks that the caller and its worker threads claim in increasing
 * order (an atomic counter); the callback says when to stop claiming (enough feasible nodes, or
 * an error). Every claimed chunk is run whole, so when filterpool_run returns, the chunks run are
 * exactly a prefix [0, k × chunk) of the range: a caller that stops claiming once the prefix
 * holds what it needs sees the same first feasible nodes, in the same order, as one thread would
 * (framework.c replays the verdicts in order). Worker threads sleep on a condition variable
 * between scans; a hand-off costs ~11 µs on this machine (docs/decisions.md), so the framework
 * calls it only for scans of thousands of nodes. No plugin code here: the callback is the
 * framework's.
 */
#ifndef TROUPE_SCHED_FILTERPOOL_H
#define TROUPE_SCHED_FILTERPOOL_H

#include <stddef.h>

typedef struct filterpool filterpool_t;

/* Runs [from, to) on thread tid (0: the caller, 1..workers: the pool's); returns nonzero to
 * stop every thread from claiming further chunks (the chunks already claimed still run). */
typedef int (*filterpool_fn) (void *arg, size_t from, size_t to, int tid);

/* workers >= 1 helper threads; NULL when a thread cannot be started. */
filterpool_t *filterpool_new (int workers);
/* Joins the workers. */
void filterpool_destroy (filterpool_t **self_p);
int filterpool_workers (const filterpool_t *self);
/* Runs fn over [0, n) in chunks of chunk (> 0) on the caller and the workers; returns the end of
 * the prefix run (every chunk below it ran, none at or above it did). One scan at a time: not
 * reentrant, called from one thread. */
size_t filterpool_run (filterpool_t *self, size_t n, size_t chunk, filterpool_fn fn, void *arg);

#endif
