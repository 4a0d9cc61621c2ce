/* sched — see sched.h. */
#include "actors/scheduler/sched.h"
#include "core/quantity.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLUGINS 16

struct sched {
    struct {
        const char *name;
        sched_filter_fn fn;
    } filters[MAX_PLUGINS];
    int nfilters;
    struct {
        const char *name;
        sched_score_fn fn;
        int weight;
    } scores[MAX_PLUGINS];
    int nscores;
    json_t *pods;   /* uid → [node, cpu, mem] */
    json_t *nodes;  /* node → [cpu, mem, pods] */
    unsigned long rr;
};

/* A request's quantity in milli; 0 when absent (the broker has validated what is present). */
static int64_t
q_milli (const json_t *v)
{
    int64_t m = 0;
    if (v && tv_quantity_milli (v, &m, NULL, 0))
        m = 0;
    return m;
}

void
sched_pod_requests (const json_t *pod, sched_res_t *out)
{
    memset (out, 0, sizeof *out);
    out->pods = 1;
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (pod, "spec.containers"), i, c) {
        out->cpu_milli += q_milli (tv_get (c, "resources.requests.cpu"));
        int64_t mem = q_milli (tv_get (c, "resources.requests.memory"));
        out->memory += mem / 1000 + (mem % 1000 > 0);   /* bytes, rounded up as Quantity.Value() */
    }
}

void
sched_usage_of (sched_t *s, const char *node, sched_res_t *out)
{
    json_t *u = json_object_get (s->nodes, node);
    out->cpu_milli = u ? json_integer_value (json_array_get (u, 0)) : 0;
    out->memory = u ? json_integer_value (json_array_get (u, 1)) : 0;
    out->pods = u ? json_integer_value (json_array_get (u, 2)) : 0;
}

static void
usage_delta (sched_t *s, const char *node, int64_t cpu, int64_t mem, int64_t pods)
{
    json_t *u = json_object_get (s->nodes, node);
    if (!u) {
        json_object_set_new (s->nodes, node, json_pack ("[I,I,I]", (json_int_t) 0, (json_int_t) 0, (json_int_t) 0));
        u = json_object_get (s->nodes, node);
    }
    json_array_set_new (u, 0, json_integer (json_integer_value (json_array_get (u, 0)) + cpu));
    json_array_set_new (u, 1, json_integer (json_integer_value (json_array_get (u, 1)) + mem));
    json_array_set_new (u, 2, json_integer (json_integer_value (json_array_get (u, 2)) + pods));
}

void
sched_usage_remove (sched_t *s, const char *uid)
{
    json_t *p = json_object_get (s->pods, uid);
    if (!p)
        return;
    usage_delta (s, json_string_value (json_array_get (p, 0)), -json_integer_value (json_array_get (p, 1)),
                 -json_integer_value (json_array_get (p, 2)), -1);
    json_object_del (s->pods, uid);
}

void
sched_usage_add (sched_t *s, const char *node, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid");
    if (!uid || !node)
        return;
    json_t *p = json_object_get (s->pods, uid);
    if (p && !strcmp (json_string_value (json_array_get (p, 0)), node))
        return;
    sched_usage_remove (s, uid);
    sched_res_t r;
    sched_pod_requests (pod, &r);
    json_object_set_new (s->pods, uid, json_pack ("[s,I,I]", node, (json_int_t) r.cpu_milli, (json_int_t) r.memory));
    usage_delta (s, node, r.cpu_milli, r.memory, 1);
}

/* ---- built-in plugins ----------------------------------------------------------------------- */

static const char *
f_unschedulable (sched_t *s, const json_t *pod, const json_t *node)
{
    (void) s;
    (void) pod;
    return tv_bool (node, "spec.unschedulable", false) ? "node(s) were unschedulable" : NULL;
}

static const char *
f_ready (sched_t *s, const json_t *pod, const json_t *node)
{
    (void) s;
    (void) pod;
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (node, "status.conditions"), i, c) if (tv_str (c, "type") &&
                                                                    !strcmp (tv_str (c, "type"), "Ready")) return tv_str (c, "status") &&
                                                                                                                 !strcmp (tv_str (c, "status"), "True")
                                                                                                             ? NULL
                                                                                                             : "node(s) were not ready";
    return "node(s) were not ready";
}

static const char *
f_fit (sched_t *s, const json_t *pod, const json_t *node)
{
    sched_res_t want, used;
    sched_pod_requests (pod, &want);
    sched_usage_of (s, tv_str (node, "metadata.name"), &used);
    int64_t cpu = q_milli (tv_get (node, "status.allocatable.cpu"));
    int64_t mem = q_milli (tv_get (node, "status.allocatable.memory")) / 1000;
    int64_t pods = q_milli (tv_get (node, "status.allocatable.pods")) / 1000;
    if (pods && used.pods + 1 > pods)
        return "Too many pods";
    if (want.cpu_milli && used.cpu_milli + want.cpu_milli > cpu)
        return "Insufficient cpu";
    if (want.memory && used.memory + want.memory > mem)
        return "Insufficient memory";
    return NULL;
}

static const char *
f_selector (sched_t *s, const json_t *pod, const json_t *node)
{
    (void) s;
    const char *k;
    json_t *v;
    json_t *labels = tv_get (node, "metadata.labels");
    json_object_foreach (tv_get (pod, "spec.nodeSelector"), k, v) {
        const char *have = json_string_value (json_object_get (labels, k));
        if (!have || !json_is_string (v) || strcmp (have, json_string_value (v)))
            return "node(s) didn't match Pod's node affinity/selector";
    }
    return NULL;
}

static int
tolerates (const json_t *tol, const json_t *taint)
{
    const char *tk = tv_str (tol, "key"), *op = tv_str (tol, "operator"), *te = tv_str (tol, "effect");
    const char *k = tv_str (taint, "key"), *v = tv_str (taint, "value"), *e = tv_str (taint, "effect");
    if (te && *te && (!e || strcmp (te, e)))
        return 0;
    int exists = op && !strcmp (op, "Exists");
    if (!tk || !*tk)
        return exists; /* an empty key with Exists tolerates everything */
    if (!k || strcmp (tk, k))
        return 0;
    if (exists)
        return 1;
    const char *tv = tv_str (tol, "value");
    return !strcmp (tv ? tv : "", v ? v : "");
}

static const char *
f_taints (sched_t *s, const json_t *pod, const json_t *node)
{
    (void) s;
    size_t i, j;
    json_t *t, *tol;
    json_array_foreach (tv_get (node, "spec.taints"), i, t) {
        const char *e = tv_str (t, "effect");
        if (!e || (strcmp (e, "NoSchedule") && strcmp (e, "NoExecute")))
            continue;
        int ok = 0;
        json_array_foreach (tv_get (pod, "spec.tolerations"), j, tol) ok |= tolerates (tol, t);
        if (!ok)
            return "node(s) had untolerated taint";
    }
    return NULL;
}

static int
s_least_allocated (sched_t *s, const json_t *pod, const json_t *node)
{
    sched_res_t want, used;
    sched_pod_requests (pod, &want);
    sched_usage_of (s, tv_str (node, "metadata.name"), &used);
    int64_t cpu = q_milli (tv_get (node, "status.allocatable.cpu"));
    int64_t mem = q_milli (tv_get (node, "status.allocatable.memory")) / 1000;
    double sc = 0, sm = 0;
    if (cpu > 0)
        sc = (double) (cpu - used.cpu_milli - want.cpu_milli) * 100.0 / (double) cpu;
    if (mem > 0)
        sm = (double) (mem - used.memory - want.memory) * 100.0 / (double) mem;
    double score = (sc < 0 ? 0 : sc) / 2 + (sm < 0 ? 0 : sm) / 2;
    return (int) score;
}

sched_t *
sched_new (void)
{
    sched_t *s = calloc (1, sizeof *s);
    s->pods = json_object ();
    s->nodes = json_object ();
    sched_add_filter (s, "NodeUnschedulable", f_unschedulable);
    sched_add_filter (s, "NodeReady", f_ready);
    sched_add_filter (s, "NodeResourcesFit", f_fit);
    sched_add_filter (s, "NodeSelector", f_selector);
    sched_add_filter (s, "TaintToleration", f_taints);
    sched_add_score (s, "NodeResourcesLeastAllocated", s_least_allocated, 1);
    return s;
}

void
sched_destroy (sched_t **p)
{
    sched_t *s = *p;
    if (!s)
        return;
    json_decref (s->pods);
    json_decref (s->nodes);
    free (s);
    *p = NULL;
}

int
sched_add_filter (sched_t *s, const char *name, sched_filter_fn fn)
{
    if (s->nfilters == MAX_PLUGINS)
        return -1;
    s->filters[s->nfilters].name = name;
    s->filters[s->nfilters++].fn = fn;
    return 0;
}

int
sched_add_score (sched_t *s, const char *name, sched_score_fn fn, int weight)
{
    if (s->nscores == MAX_PLUGINS)
        return -1;
    s->scores[s->nscores].name = name;
    s->scores[s->nscores].fn = fn;
    s->scores[s->nscores++].weight = weight;
    return 0;
}

int
sched_schedule (sched_t *s, const json_t *pod, const json_t *nodes, char *chosen, size_t clen, char *why, size_t wlen)
{
    size_t n = json_array_size (nodes), i;
    json_t *reasons = json_object (); /* reason → count, in first-seen order */
    long best = -1;
    size_t nbest = 0;
    const json_t **ties = calloc (n ? n : 1, sizeof *ties);
    json_t *node;
    json_array_foreach (nodes, i, node) {
        const char *reason = NULL;
        for (int f = 0; f < s->nfilters && !reason; f++)
            reason = s->filters[f].fn (s, pod, node);
        if (reason) {
            json_object_set_new (reasons, reason, json_integer (json_integer_value (json_object_get (reasons, reason)) + 1));
            continue;
        }
        long total = 0;
        for (int k = 0; k < s->nscores; k++)
            total += (long) s->scores[k].weight * s->scores[k].fn (s, pod, node);
        if (total > best) {
            best = total;
            nbest = 0;
        }
        if (total == best)
            ties[nbest++] = node;
    }
    int rc = -1;
    if (nbest) {
        const json_t *pick = ties[s->rr++ % nbest];
        snprintf (chosen, clen, "%s", tv_str (pick, "metadata.name"));
        rc = 0;
    } else {
        int off = snprintf (why, wlen, "0/%zu nodes are available", n);
        const char *r;
        json_t *c;
        int first = 1;
        json_object_foreach (reasons, r, c) {
            if (off < (int) wlen)
                off += snprintf (why + off, wlen - (size_t) off, "%s %lld %s", first ? ":" : ",",
                                 (long long) json_integer_value (c), r);
            first = 0;
        }
        if (off < (int) wlen)
            snprintf (why + off, wlen - (size_t) off, ".");
    }
    free (ties);
    json_decref (reasons);
    return rc;
}
