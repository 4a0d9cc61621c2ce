/* prober — see prober.h. */
#include "actors/agent/prober.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

static const char *const field[PROBE_KINDS] = {"startupProbe", "livenessProbe", "readinessProbe"};

const char *
prober_kind_name (probe_kind_t k)
{
    static const char *const n[PROBE_KINDS] = {"Startup", "Liveness", "Readiness"};
    return k >= 0 && k < PROBE_KINDS ? n[k] : "?";
}

static int
positive (const json_t *o, const char *key, int def)
{
    json_int_t v = tv_int (o, key, 0);
    return v > 0 && v < 86400 * 365 ? (int) v : def;
}

void
prober_spec (const json_t *probe, probe_spec_t *out)
{
    memset (out, 0, sizeof *out);
    if (!json_is_object (probe))
        return;
    out->present = 1;
    json_int_t d = tv_int (probe, "initialDelaySeconds", 0);
    out->initial_delay_ms = d > 0 && d < 86400 * 365 ? (int) d * 1000 : 0;
    out->period_ms = positive (probe, "periodSeconds", 10) * 1000;
    out->timeout_ms = positive (probe, "timeoutSeconds", 1) * 1000;
    out->success_threshold = positive (probe, "successThreshold", 1);
    out->failure_threshold = positive (probe, "failureThreshold", 3);
}

void
prober_init (prober_t *p, const json_t *container_spec, int64_t started_ms)
{
    memset (p, 0, sizeof *p);
    for (int k = 0; k < PROBE_KINDS; k++) {
        prober_spec (json_object_get (container_spec, field[k]), &p->p[k].spec);
        p->p[k].next_due = started_ms + p->p[k].spec.initial_delay_ms;
        p->p[k].result = k == PROBE_LIVENESS; /* the initial results */
    }
    p->started = !p->p[PROBE_STARTUP].spec.present;
    p->ready = p->started && !p->p[PROBE_READINESS].spec.present;
}

static int
allowed (const prober_t *p, int k)
{
    if (p->kill || !p->p[k].spec.present)
        return 0;
    if (k == PROBE_STARTUP)
        return !p->started;
    return p->started;
}

int
prober_due (prober_t *p, int64_t now_ms)
{
    for (int k = 0; k < PROBE_KINDS; k++) {
        probe_state_t *s = &p->p[k];
        if (!allowed (p, k) || s->running || now_ms < s->next_due)
            continue;
        s->running = 1;
        s->next_due = now_ms + s->spec.period_ms;
        return k;
    }
    return -1;
}

int
prober_result (prober_t *p, probe_kind_t k, int ok, const char *msg, int64_t now_ms)
{
    if (k < 0 || k >= PROBE_KINDS)
        return 0;
    probe_state_t *s = &p->p[k];
    int was_ready = p->ready, was_started = p->started, was_kill = p->kill;
    s->running = 0;
    if (!allowed (p, k))
        return 0; /* a late answer after the gate closed (startup passed, container killed) */
    if (ok) {
        s->failures = 0;
        if (++s->successes >= s->spec.success_threshold)
            s->result = 1;
    } else {
        s->successes = 0;
        snprintf (s->message, sizeof s->message, "%s", msg ? msg : "");
        if (++s->failures >= s->spec.failure_threshold)
            s->result = 0;
    }
    if (k == PROBE_STARTUP && s->result) {
        p->started = 1;
        /* liveness and readiness start now: their initial delay counts from here at the latest */
        for (int j = PROBE_LIVENESS; j < PROBE_KINDS; j++)
            if (p->p[j].next_due < now_ms)
                p->p[j].next_due = now_ms;
    }
    if ((k == PROBE_LIVENESS || k == PROBE_STARTUP) && !ok && s->failures >= s->spec.failure_threshold) {
        p->kill = 1;
        p->kill_by = k;
        snprintf (p->kill_message, sizeof p->kill_message, "%s", s->message);
    }
    p->ready = !p->kill && p->started && (!p->p[PROBE_READINESS].spec.present || p->p[PROBE_READINESS].result);
    return was_ready != p->ready || was_started != p->started || was_kill != p->kill;
}

int64_t
prober_next (const prober_t *p)
{
    int64_t best = INT64_MAX;
    for (int k = 0; k < PROBE_KINDS; k++)
        if (allowed (p, k) && !p->p[k].running && p->p[k].next_due < best)
            best = p->p[k].next_due;
    return best;
}
