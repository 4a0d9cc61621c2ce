/* prober — the kubelet's probe workers for one container, pure: (probe specs, results, now) →
 * (which probe to run, ready/started, restart). No I/O and no clock of its own; the agent runs
 * the probes (exec through the shim, httpGet and tcpSocket with actors/agent/netprobe.c) and
 * feeds the results back.
 *
 * Rules (Kubernetes' kubelet, pkg/kubelet/prober):
 * - A probe runs first at startedAt + initialDelaySeconds, then every periodSeconds (default 10);
 *   one run at a time; a run that takes longer than timeoutSeconds (default 1) failed.
 * - successThreshold (default 1) consecutive successes flip the result to success,
 *   failureThreshold (default 3) consecutive failures to failure.
 * - Before its first flip a readiness result is failure (not ready), a liveness result success,
 *   a startup result failure (not started).
 * - While a startupProbe has not succeeded, liveness and readiness probes are not run; once it
 *   succeeded it is not run again for that container. Without a startupProbe the container is
 *   started as soon as it runs.
 * - A container with no readinessProbe is ready once started; with one, once its result is success.
 * - A liveness result of failure, or a startup result of failure, means: kill the container
 *   (the restart policy then applies). Probing stops for that container.
 */
#ifndef TROUPE_PROBER_H
#define TROUPE_PROBER_H

#include <jansson.h>
#include <stdint.h>

typedef enum { PROBE_STARTUP = 0, PROBE_LIVENESS = 1, PROBE_READINESS = 2, PROBE_KINDS = 3 } probe_kind_t;

typedef struct {
    int present;
    int initial_delay_ms, period_ms, timeout_ms, success_threshold, failure_threshold;
} probe_spec_t;

typedef struct {
    probe_spec_t spec;
    int result;            /* 1 success, 0 failure */
    int successes, failures;  /* consecutive */
    int64_t next_due;      /* ms */
    int running;           /* a run is out, its result not in */
    char message[256];     /* the last failure's output */
} probe_state_t;

typedef struct {
    probe_state_t p[PROBE_KINDS];
    int started;           /* startup passed (or there is no startup probe) */
    int ready;
    int kill;              /* liveness or startup failed: the container must be killed */
    probe_kind_t kill_by;
    char kill_message[256];
} prober_t;

/* Reads a probe object (livenessProbe…) with Kubernetes' defaults; absent/null → present 0. */
void prober_spec (const json_t *probe, probe_spec_t *out);
const char *prober_kind_name (probe_kind_t k); /* "Liveness", "Readiness", "Startup" */

/* A fresh state for a container (spec: the Container object) that started at started_ms. */
void prober_init (prober_t *p, const json_t *container_spec, int64_t started_ms);

/* The probe to run now, or -1: one whose run is due (and allowed: startup gating, not killed).
 * Marks it running and schedules its next run. Call repeatedly until -1. */
int prober_due (prober_t *p, int64_t now_ms);

/* A run's outcome: ok 1 success, 0 failure (msg: why). Updates counters, result, ready, started,
 * kill. Returns 1 when ready, started or kill changed. */
int prober_result (prober_t *p, probe_kind_t k, int ok, const char *msg, int64_t now_ms);

/* The earliest time a probe is due (INT64_MAX when none will be). */
int64_t prober_next (const prober_t *p);

#endif
