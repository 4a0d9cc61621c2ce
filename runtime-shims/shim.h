/* shim — the node's runtime server (`troupe shim`): one endpoint serving runtime-shims/cri.h for
 * both runtimes, as containerd serves several runtime handlers. A sandbox or container asks for
 * its runtime with "runtimeHandler" ("process" | "oci"; the pod's runtimeClassName); verbs on an
 * existing id go to the runtime that owns it; ListContainers merges both. Where runc or conmon
 * is missing only the process runtime is served, and `oci` requests are refused with the reason.
 *
 * The loop never blocks on slow work: the oci runtime's jobs (pulls, sandboxes, starts, exec)
 * run on threads; identical pulls in flight are coalesced (one pull, every waiter answered).
 */
#ifndef TROUPE_SHIM_H
#define TROUPE_SHIM_H

#include "runtime-shims/oci/oci_shim.h"

typedef struct {
    const char *endpoint;      /* ipc://… */
    const char *process_state; /* the process runtime's state dir */
    int oci;                   /* serve the oci runtime too (if runc and conmon are there) */
    oci_opts_t oci_opts;
} shim_opts_t;

/* Serves until *stop; then stops every container (stop_pods, unless *stop is 2: the agent died)
 * or leaves them running, and returns 0 (-1: cannot bind or no runtime). */
int shim_serve (const shim_opts_t *o, volatile int *stop, int stop_pods);

#endif
