/* resources — the resource list of NodeResourcesFit's scoringStrategy.resources and
 * NodeResourcesBalancedAllocation's args.resources ([{name, weight}], default cpu and memory,
 * weight 1), resolved once to a kind so that scoring does not compare names per node, and the
 * value of one resource in a tr_sched_res_t. */
#ifndef TROUPE_SCHED_RESOURCES_H
#define TROUPE_SCHED_RESOURCES_H

#include "actors/scheduler/sched_plugin.h"

enum { SR_CPU = 0, SR_MEM, SR_EPH, SR_SCALAR };

#define SR_MAX (TR_SCHED_MAX_SCALAR + 4)

typedef struct {
    size_t n;
    struct {
        char name[64];
        int kind;        /* SR_* */
        int64_t weight;  /* ≥ 1 */
    } r[SR_MAX];
} sr_list_t;

/* Fills l from a JSON array of {name, weight} (entries without a name end the list, extra
 * entries are dropped); none: cpu and memory, weight 1. */
void sr_list_parse (sr_list_t *l, const json_t *resources);
/* SR_CPU for "cpu", SR_MEM "memory", SR_EPH "ephemeral-storage", else SR_SCALAR. */
int sr_kind (const char *name);
/* An extended resource's value (0 when absent). */
int64_t sr_scalar (const tr_sched_res_t *r, const char *name);
/* The value of the resource (kind, name) in r: milli-cpu, bytes, or the scalar's units. */
static inline int64_t
sr_pick (const tr_sched_res_t *r, int kind, const char *name)
{
    switch (kind) { /* inline: called per node and resource in Score's loops */
    case SR_CPU: return r->milli_cpu;
    case SR_MEM: return r->memory;
    case SR_EPH: return r->ephemeral_storage;
    }
    return sr_scalar (r, name);
}

#endif
