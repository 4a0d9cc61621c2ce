/* drainplan — which pods `troupe drain` evicts, skips or refuses, as kubectl drain's filters
 * decide (pure: pods in, a plan out). */
#ifndef TROUPE_DRAINPLAN_H
#define TROUPE_DRAINPLAN_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    int force;              /* --force: pods without a controller too */
    int delete_emptydir;    /* --delete-emptydir-data: pods with emptyDir volumes too */
    int ignore_daemonsets;  /* --ignore-daemonsets */
} drain_opts_t;

typedef enum { DRAIN_EVICT, DRAIN_SKIP, DRAIN_REFUSE } drain_action_t;

typedef struct {
    const json_t *pod;
    drain_action_t action;
    char why[200]; /* for SKIP and REFUSE: kubectl's words */
} drain_item_t;

/* Fills items (cap entries) for pods (an array); returns how many. A refused pod stops the drain
 * unless its flag is given, as kubectl does; *refused counts them. */
size_t drain_plan (const json_t *pods, const drain_opts_t *o, drain_item_t *items, size_t cap, int *refused);

#endif
