/* process_shim — the process runtime: each container is a host process (command + args) in its
 * own session and process group, output appended to its log file. Implements runtime-shims/cri.h.
 *
 * Records of containers are kept in state_dir (one JSON file each), so a restarted shim still
 * reports containers it started: a record whose pid is alive with the same start time (from
 * /proc/<pid>/stat, which defeats pid reuse) stays RUNNING; others become EXITED (reason
 * Unknown). Only its own pids are ever waited for (never waitpid(-1)).
 */
#ifndef TROUPE_PROCESS_SHIM_H
#define TROUPE_PROCESS_SHIM_H

#include "core/envelope.h"

typedef struct process_shim process_shim_t;

/* Opens (creating) state_dir and reloads its records. NULL if the directory is unusable. */
process_shim_t *process_shim_new (const char *state_dir);
/* Forgets in-memory state; containers keep running (see process_shim_stop_all). */
void process_shim_destroy (process_shim_t **self_p);

/* Handles one request; fills reply (id, verb REPLY, code, body). Never blocks. */
void process_shim_handle (process_shim_t *self, const tr_env_t *req, tr_env_t *reply);
/* Reaps exited children, notices adopted processes that are gone, and sends SIGKILL to
 * containers whose stop deadline passed. Call often (every 100 ms). */
void process_shim_tick (process_shim_t *self);
/* Stops every running container: SIGTERM, then SIGKILL after grace_s; waits (bounded) for them. */
void process_shim_stop_all (process_shim_t *self, int grace_s);
/* Number of containers in state RUNNING. */
int process_shim_running (process_shim_t *self);

/* Serves endpoint (ROUTER) until *stop becomes non-zero; then stops all containers and returns
 * 0, or -1 if it cannot bind. Undecodable frames get a BadRequest reply. */
int process_shim_serve (const char *endpoint, const char *state_dir, volatile int *stop);

#endif
