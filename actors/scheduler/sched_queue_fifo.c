/* sched_queue_fifo — a stand-in for sched_queue.c (another helper's): activeQ is plain FIFO,
 * back-off a flat initial_backoff_ms, unschedulable pods wait for an event in their mask or
 * max_unschedulable_ms. TO BE DELETED when sched_queue.c lands. */
#include "actors/scheduler/sched_queue.h"

#include <stdlib.h>
#include <string.h>

enum { Q_NONE, Q_ACTIVE, Q_BACKOFF, Q_UNSCHED, Q_FLIGHT };

typedef struct ent {
    tr_sched_pod_t *pod;
    int state;
    uint32_t events;
    int64_t since;
    unsigned seq;         /* matches the active list node that is current */
    unsigned refs;        /* active list nodes pointing here */
} ent_t;

typedef struct anode {
    ent_t *e;
    unsigned seq;
    struct anode *next;
} anode_t;

struct sched_queue {
    sq_opts_t o;
    json_t *by_uid; /* uid → ent_t * */
    anode_t *head, *tail;
};

static ent_t *
get (sched_queue_t *q, const char *uid)
{
    json_t *v = json_object_get (q->by_uid, uid);
    return v ? (ent_t *) (intptr_t) json_integer_value (v) : NULL;
}

static void
activate (sched_queue_t *q, ent_t *e)
{
    e->state = Q_ACTIVE;
    anode_t *a = calloc (1, sizeof *a);
    a->e = e;
    a->seq = ++e->seq;
    e->refs++;
    if (q->tail)
        q->tail->next = a;
    else
        q->head = a;
    q->tail = a;
}

sched_queue_t *
sq_new (sq_less_fn less, void *less_arg, const sq_opts_t *opts)
{
    (void) less, (void) less_arg;
    sched_queue_t *q = calloc (1, sizeof *q);
    q->o = opts ? *opts : (sq_opts_t) {1000, 10000, 300000};
    q->by_uid = json_object ();
    return q;
}

void
sq_destroy (sched_queue_t **p)
{
    sched_queue_t *q = *p;
    if (!q)
        return;
    const char *k;
    json_t *v;
    for (anode_t *a = q->head, *n; a; a = n) {
        n = a->next;
        if (!--a->e->refs && !a->e->pod)
            free (a->e);
        free (a);
    }
    json_object_foreach (q->by_uid, k, v) free ((ent_t *) (intptr_t) json_integer_value (v));
    json_decref (q->by_uid);
    free (q);
    *p = NULL;
}

void
sq_add (sched_queue_t *q, tr_sched_pod_t *pod, int changed, int64_t now_ms)
{
    ent_t *e = get (q, pod->uid);
    if (!e) {
        e = calloc (1, sizeof *e);
        json_object_set_new (q->by_uid, pod->uid, json_integer ((json_int_t) (intptr_t) e));
        e->pod = pod;
        e->since = now_ms;
        activate (q, e);
        return;
    }
    e->pod = pod;
    if (changed && (e->state == Q_UNSCHED || e->state == Q_BACKOFF))
        activate (q, e);
}

tr_sched_pod_t *
sq_delete (sched_queue_t *q, const char *uid)
{
    ent_t *e = get (q, uid);
    if (!e)
        return NULL;
    tr_sched_pod_t *p = e->pod;
    e->seq++;           /* its active node, if any, goes stale */
    e->state = Q_NONE;  /* freed lazily: stale anodes may still point here */
    e->pod = NULL;
    json_object_del (q->by_uid, uid);
    if (!e->refs)
        free (e); /* else freed when its last active list node pops */
    return p;
}

void
sq_flush (sched_queue_t *q, int64_t now_ms)
{
    const char *k;
    json_t *v;
    json_object_foreach (q->by_uid, k, v) {
        ent_t *e = (ent_t *) (intptr_t) json_integer_value (v);
        if ((e->state == Q_BACKOFF && now_ms - e->since >= q->o.initial_backoff_ms) ||
            (e->state == Q_UNSCHED && now_ms - e->since >= q->o.max_unschedulable_ms))
            activate (q, e);
    }
}

tr_sched_pod_t *
sq_pop (sched_queue_t *q, int64_t now_ms)
{
    (void) now_ms;
    while (q->head) {
        anode_t *a = q->head;
        q->head = a->next;
        if (!q->head)
            q->tail = NULL;
        ent_t *e = a->e;
        int live = a->seq == e->seq && e->state == Q_ACTIVE && e->pod;
        free (a);
        e->refs--;
        if (!e->pod) {
            if (!e->refs)
                free (e);
            continue;
        }
        if (live) {
            e->state = Q_FLIGHT;
            return e->pod;
        }
    }
    return NULL;
}

void
sq_requeue (sched_queue_t *q, tr_sched_pod_t *pod, int unschedulable, uint32_t events, int64_t now_ms)
{
    ent_t *e = get (q, pod->uid);
    if (!e)
        return;
    e->pod = pod;
    e->since = now_ms;
    e->events = events ? events : TR_SCHED_EV_ALL;
    e->state = unschedulable ? Q_UNSCHED : Q_BACKOFF;
}

void
sq_done (sched_queue_t *q, const char *uid)
{
    ent_t *e = get (q, uid);
    if (e && e->state == Q_FLIGHT)
        e->state = Q_NONE;
}

size_t
sq_move_on_event (sched_queue_t *q, uint32_t event, int64_t now_ms)
{
    size_t moved = 0;
    const char *k;
    json_t *v;
    json_object_foreach (q->by_uid, k, v) {
        ent_t *e = (ent_t *) (intptr_t) json_integer_value (v);
        if (e->state == Q_UNSCHED && (e->events & event)) {
            e->state = Q_BACKOFF;
            moved++;
        }
    }
    sq_flush (q, now_ms);
    return moved;
}

int64_t
sq_next_ms (sched_queue_t *q, int64_t now_ms)
{
    int64_t best = -1;
    const char *k;
    json_t *v;
    json_object_foreach (q->by_uid, k, v) {
        ent_t *e = (ent_t *) (intptr_t) json_integer_value (v);
        if (e->state == Q_ACTIVE)
            return 0;
        if (e->state == Q_BACKOFF) {
            int64_t left = e->since + q->o.initial_backoff_ms - now_ms;
            left = left < 0 ? 0 : left;
            if (best < 0 || left < best)
                best = left;
        }
    }
    return best;
}

void
sq_stats (sched_queue_t *q, sq_stats_t *out)
{
    memset (out, 0, sizeof *out);
    const char *k;
    json_t *v;
    json_object_foreach (q->by_uid, k, v) {
        ent_t *e = (ent_t *) (intptr_t) json_integer_value (v);
        out->active += e->state == Q_ACTIVE;
        out->backoff += e->state == Q_BACKOFF;
        out->unschedulable += e->state == Q_UNSCHED;
        out->in_flight += e->state == Q_FLIGHT;
    }
}
