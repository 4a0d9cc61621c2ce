/* podcidr — when the agent hands its Node's podCIDR to the runtime, the decision (pure).
 *
 * The kubelet passes spec.podCIDR to the runtime (CRI UpdateRuntimeConfig) and its pods wait
 * for the network to be ready. Here: with --pod-cidr (override) the runtime has its network from
 * its own configuration: ready at once. Else a podCIDR different from the one the runtime took
 * last is sent (one request at a time, once the runtime answers at all); without one, pods wait
 * until the deadline, then use the runtime's own network (GIVE_UP: the agent says so).
 */
#ifndef TROUPE_PODCIDR_H
#define TROUPE_PODCIDR_H

#include <stdint.h>

typedef enum {
    PODCIDR_NOTHING,  /* as it is */
    PODCIDR_READY,    /* mark the network ready (override) */
    PODCIDR_SEND,     /* send own to the runtime */
    PODCIDR_GIVE_UP   /* waited enough: ready, on the runtime's own network */
} podcidr_step_t;

typedef struct {
    const char *override;   /* --pod-cidr or "" / NULL */
    const char *own;        /* the Node's spec.podCIDR, NULL when it has none (yet) */
    const char *applied;    /* what the runtime accepted last ("" none) */
    int sending;            /* a request is in flight */
    int runtime_known;      /* the runtime answered its Ping */
    int ready;
    int64_t now_ms, deadline_ms;
} podcidr_in_t;

podcidr_step_t podcidr_decide (const podcidr_in_t *in);

#endif
