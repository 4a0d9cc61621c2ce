/* nodehot — a node's hot line (nodehot.h). */
#include "actors/scheduler/nodehot.h"

#include <string.h>

void
nodehot_of (const tr_sched_node_t *node, nodehot_t *out)
{
    memset (out, 0, sizeof *out);
    out->alloc_cpu = node->allocatable.milli_cpu;
    out->alloc_mem = node->allocatable.memory;
    out->req_cpu = node->requested.milli_cpu;
    out->req_mem = node->requested.memory;
    out->nz_cpu = node->nonzero_milli_cpu;
    out->nz_mem = node->nonzero_memory;
    int64_t p = node->allocatable.pods;
    out->alloc_pods = p > INT32_MAX ? INT32_MAX : p < INT32_MIN ? INT32_MIN : (int32_t) p;
    out->npods = node->npods;
    out->unschedulable = node->unschedulable != 0;
    out->ready = node->ready != 0;
    out->tainted = node->ntaints > 0;
    out->imaged = node->nimages > 0;
}
