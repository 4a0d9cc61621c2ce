/* sched_queue — kube-scheduler's PriorityQueue (see sched_queue.h for the contract).
 *
 * One entry per uid, found through an open-addressing table (linear probing, deletion by
 * backward shift: no tombstones, so a queue that churns never degrades). An entry is in exactly
 * one place: activeQ (a binary heap by the profile's less, ties broken by arrival order so equal
 * pods come out FIFO), backoffQ (a binary heap by back-off expiry), the unschedulable list, or
 * in flight (popped, not yet requeued or done). Heap entries know their index, so a delete or
 * an update from the middle is O(log n).
 *
 * The unschedulable list is kept in the order pods entered it, which is the order of their
 * timestamps: the 5-minute flush walks it from the head and stops at the first pod that has not
 * waited long enough. A cluster event has to look at every unschedulable pod (Kubernetes does the
 * same), but a count of unschedulable pods listening to each event bit lets the common case — an
 * event no waiting pod cares about, such as a pod bound while the pods that wait were rejected
 * for cpu — return at once.
 *
 * Choices where the header is silent (documented here for the framework that calls it):
 *  - moveRequestCycle is applied per pod and per event, as Kubernetes does with queueing hints
 *    (1.28+): an event that arrives while a pod is in flight is remembered on that pod; if it is
 *    one the pod's rejecting plugins listen to (or they listen to any), the requeue goes to
 *    backoffQ instead of unschedulable. An unrelated event does not rescue it.
 *  - sq_add of an in-flight pod (it changed while being scheduled): the queue takes the new
 *    pointer as the pod's newest version and counts the change as an event the pod listens to;
 *    the requeue then queues that newest pointer (the caller frees the one it popped when they
 *    differ) into backoffQ.
 *  - sq_delete of an in-flight pod returns NULL (the caller owns what it popped) and the uid is
 *    forgotten, so a later sq_requeue of that pod does not queue it; the pod pointer is the
 *    caller's to free.
 *  - sq_requeue of a pod the queue does not know (deleted in flight, forgotten by sq_done) does
 *    nothing: the pointer stays the caller's.
 *  - sq_next_ms also counts the 5-minute deadline of the oldest unschedulable pod, so a caller
 *    that sleeps exactly sq_next_ms never misses the leftover flush.
 */
#include "actors/scheduler/sched_queue.h"

#include <stdlib.h>
#include <string.h>

enum { Q_ACTIVE = 1, Q_BACKOFF, Q_UNSCHED, Q_FLIGHT };

typedef struct sq_entry {
    tr_sched_pod_t *pod;
    char *uid;                      /* own copy: the pod pointer may be replaced */
    uint64_t hash;
    int where;
    size_t heap_idx;                /* in activeQ or backoffQ */
    uint64_t seq;                   /* arrival in activeQ: FIFO among equals */
    int32_t prio;                   /* the pod's priority and created_ms, copied: the default */
    int64_t created_ms;             /* order compares entries without touching the pods */
    uint32_t attempts;
    int64_t timestamp_ms;           /* last requeue (back-off base, unschedulable age) */
    int64_t backoff_until_ms;
    uint32_t events;                /* rejecting plugins' events (0: any) */
    uint32_t flight_events;         /* events seen while in flight */
    struct sq_entry *prev, *next;   /* unschedulable list, or in-flight list */
} sq_entry_t;

typedef struct {
    sq_entry_t **v;
    size_t n, cap;
} sq_heap_t;

#define NBITS 32

struct sched_queue {
    sq_less_fn less;
    void *less_arg;
    sq_opts_t opts;
    sq_heap_t active, backoff;
    sq_entry_t *us_head, *us_tail;  /* unschedulable, oldest first */
    size_t nunsched;
    size_t us_any;                  /* unschedulable pods listening to any event */
    size_t us_bit[NBITS];           /* ... listening to bit i */
    sq_entry_t *fl_head;            /* in flight */
    size_t nflight;
    sq_entry_t **tab;               /* uid index, power-of-two slots */
    size_t tab_cap, tab_n;
    uint64_t seq;
};

/* ---- uid index ------------------------------------------------------------------------- */

static uint64_t
uid_hash (const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static sq_entry_t *
idx_find (sched_queue_t *self, const char *uid)
{
    uint64_t h = uid_hash (uid);
    size_t mask = self->tab_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        sq_entry_t *e = self->tab[i];
        if (!e)
            return NULL;
        if (e->hash == h && strcmp (e->uid, uid) == 0)
            return e;
    }
}

static void
idx_put_raw (sq_entry_t **tab, size_t cap, sq_entry_t *e)
{
    size_t mask = cap - 1;
    size_t i = e->hash & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = e;
}

static int
idx_put (sched_queue_t *self, sq_entry_t *e)
{
    if ((self->tab_n + 1) * 2 > self->tab_cap) {
        size_t ncap = self->tab_cap * 2;
        sq_entry_t **nt = calloc (ncap, sizeof *nt);
        if (!nt)
            return -1;
        for (size_t i = 0; i < self->tab_cap; i++)
            if (self->tab[i])
                idx_put_raw (nt, ncap, self->tab[i]);
        free (self->tab);
        self->tab = nt;
        self->tab_cap = ncap;
    }
    idx_put_raw (self->tab, self->tab_cap, e);
    self->tab_n++;
    return 0;
}

static void
idx_del (sched_queue_t *self, sq_entry_t *e)
{
    size_t mask = self->tab_cap - 1;
    size_t i = e->hash & mask;
    while (self->tab[i] != e)
        i = (i + 1) & mask;
    /* backward shift: pull later members of the probe run into the hole */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        sq_entry_t *m = self->tab[j];
        if (!m)
            break;
        size_t home = m->hash & mask;
        /* m may move to i if its home is not in (i, j] cyclically */
        int in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            self->tab[i] = m;
            i = j;
        }
    }
    self->tab[i] = NULL;
    self->tab_n--;
}

static void
entry_set_pod (sq_entry_t *e, tr_sched_pod_t *pod)
{
    e->pod = pod;
    e->prio = pod->priority;
    e->created_ms = pod->created_ms;
}

/* ---- heaps ----------------------------------------------------------------------------- */

static int
active_before (sched_queue_t *self, const sq_entry_t *a, const sq_entry_t *b)
{
    if (!self->less) {
        if (a->prio != b->prio)
            return a->prio > b->prio;
        if (a->created_ms != b->created_ms)
            return a->created_ms < b->created_ms;
        return a->seq < b->seq;
    }
    if (self->less (self->less_arg, a->pod, b->pod))
        return 1;
    if (self->less (self->less_arg, b->pod, a->pod))
        return 0;
    return a->seq < b->seq;
}

static int
backoff_before (const sq_entry_t *a, const sq_entry_t *b)
{
    if (a->backoff_until_ms != b->backoff_until_ms)
        return a->backoff_until_ms < b->backoff_until_ms;
    return a->seq < b->seq;
}

static int
before (sched_queue_t *self, sq_heap_t *h, const sq_entry_t *a, const sq_entry_t *b)
{
    return h == &self->active ? active_before (self, a, b) : backoff_before (a, b);
}

static void
heap_set (sq_heap_t *h, size_t i, sq_entry_t *e)
{
    h->v[i] = e;
    e->heap_idx = i;
}

static void
heap_up (sched_queue_t *self, sq_heap_t *h, size_t i)
{
    sq_entry_t *e = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before (self, h, e, h->v[p]))
            break;
        heap_set (h, i, h->v[p]);
        i = p;
    }
    heap_set (h, i, e);
}

static void
heap_down (sched_queue_t *self, sq_heap_t *h, size_t i)
{
    sq_entry_t *e = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        sq_entry_t *bv = e;
        if (l < h->n && before (self, h, h->v[l], bv)) {
            best = l;
            bv = h->v[l];
        }
        if (l + 1 < h->n && before (self, h, h->v[l + 1], bv)) {
            best = l + 1;
            bv = h->v[l + 1];
        }
        if (best == i)
            break;
        heap_set (h, i, bv);
        i = best;
    }
    heap_set (h, i, e);
}

static int
heap_push (sched_queue_t *self, sq_heap_t *h, sq_entry_t *e)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        sq_entry_t **nv = realloc (h->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        h->v = nv;
        h->cap = ncap;
    }
    heap_set (h, h->n++, e);
    heap_up (self, h, e->heap_idx);
    return 0;
}

static void
heap_remove (sched_queue_t *self, sq_heap_t *h, sq_entry_t *e)
{
    size_t i = e->heap_idx;
    sq_entry_t *last = h->v[--h->n];
    if (last != e) {
        heap_set (h, i, last);
        heap_up (self, h, i);
        heap_down (self, h, last->heap_idx);
    }
}

static void
heap_fix (sched_queue_t *self, sq_heap_t *h, sq_entry_t *e)
{
    heap_up (self, h, e->heap_idx);
    heap_down (self, h, e->heap_idx);
}

/* ---- lists ----------------------------------------------------------------------------- */

static void
us_count (sched_queue_t *self, uint32_t events, int delta)
{
    if (events == 0 || events == TR_SCHED_EV_ALL) {
        self->us_any += (size_t) delta;
        return;
    }
    for (int b = 0; b < NBITS; b++)
        if (events & (1u << b))
            self->us_bit[b] += (size_t) delta;
}

static void
us_append (sched_queue_t *self, sq_entry_t *e)
{
    e->prev = self->us_tail;
    e->next = NULL;
    if (self->us_tail)
        self->us_tail->next = e;
    else
        self->us_head = e;
    self->us_tail = e;
    self->nunsched++;
    us_count (self, e->events, +1);
}

static void
us_unlink (sched_queue_t *self, sq_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        self->us_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        self->us_tail = e->prev;
    e->prev = e->next = NULL;
    self->nunsched--;
    us_count (self, e->events, -1);
}

static void
fl_push (sched_queue_t *self, sq_entry_t *e)
{
    e->prev = NULL;
    e->next = self->fl_head;
    if (self->fl_head)
        self->fl_head->prev = e;
    self->fl_head = e;
    self->nflight++;
}

static void
fl_unlink (sched_queue_t *self, sq_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        self->fl_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    self->nflight--;
}

/* Takes e out of wherever it is (it stays in the index). */
static void
detach (sched_queue_t *self, sq_entry_t *e)
{
    switch (e->where) {
    case Q_ACTIVE: heap_remove (self, &self->active, e); break;
    case Q_BACKOFF: heap_remove (self, &self->backoff, e); break;
    case Q_UNSCHED: us_unlink (self, e); break;
    case Q_FLIGHT: fl_unlink (self, e); break;
    default: break;
    }
    e->where = 0;
}

static void
to_active (sched_queue_t *self, sq_entry_t *e)
{
    e->seq = ++self->seq;
    e->where = Q_ACTIVE;
    if (heap_push (self, &self->active, e) != 0)
        e->where = 0; /* out of memory: dropped from the queues, kept in the index */
}

static void
to_backoff (sched_queue_t *self, sq_entry_t *e)
{
    e->seq = ++self->seq;
    e->where = Q_BACKOFF;
    if (heap_push (self, &self->backoff, e) != 0)
        e->where = 0;
}

/* Kubernetes' movePodsToActiveOrBackoffQueue for one pod: still backing off → backoffQ. */
static void
to_active_or_backoff (sched_queue_t *self, sq_entry_t *e, int64_t now_ms)
{
    if (e->backoff_until_ms > now_ms)
        to_backoff (self, e);
    else
        to_active (self, e);
}

static void
entry_free (sched_queue_t *self, sq_entry_t *e)
{
    detach (self, e);
    idx_del (self, e);
    free (e->uid);
    free (e);
}

static int64_t
backoff_ms (const sched_queue_t *self, uint32_t attempts)
{
    int64_t d = self->opts.initial_backoff_ms;
    for (uint32_t i = 1; i < attempts; i++) {
        if (d >= self->opts.max_backoff_ms - d)
            return self->opts.max_backoff_ms;
        d += d;
    }
    return d < self->opts.max_backoff_ms ? d : self->opts.max_backoff_ms;
}

/* ---- API ------------------------------------------------------------------------------- */

sched_queue_t *
sq_new (sq_less_fn less, void *less_arg, const sq_opts_t *opts)
{
    sched_queue_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->less = less;
    self->less_arg = less_arg;
    self->opts = opts ? *opts : (sq_opts_t) {1000, 10000, 300000};
    if (self->opts.initial_backoff_ms <= 0)
        self->opts.initial_backoff_ms = 1000;
    if (self->opts.max_backoff_ms < self->opts.initial_backoff_ms)
        self->opts.max_backoff_ms = self->opts.initial_backoff_ms;
    if (self->opts.max_unschedulable_ms <= 0)
        self->opts.max_unschedulable_ms = 300000;
    self->tab_cap = 64;
    self->tab = calloc (self->tab_cap, sizeof *self->tab);
    if (!self->tab) {
        free (self);
        return NULL;
    }
    return self;
}

void
sq_destroy (sched_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sched_queue_t *self = *self_p;
    for (size_t i = 0; i < self->tab_cap; i++)
        if (self->tab[i]) {
            free (self->tab[i]->uid);
            free (self->tab[i]);
        }
    free (self->tab);
    free (self->active.v);
    free (self->backoff.v);
    free (self);
    *self_p = NULL;
}

void
sq_add (sched_queue_t *self, tr_sched_pod_t *pod, int changed, int64_t now_ms)
{
    if (!self || !pod || !pod->uid)
        return;
    sq_entry_t *e = idx_find (self, pod->uid);
    if (!e) {
        e = calloc (1, sizeof *e);
        if (!e)
            return;
        e->uid = strdup (pod->uid);
        if (!e->uid) {
            free (e);
            return;
        }
        e->hash = uid_hash (pod->uid);
        entry_set_pod (e, pod);
        e->timestamp_ms = now_ms;
        if (idx_put (self, e) != 0) {
            free (e->uid);
            free (e);
            return;
        }
        to_active (self, e);
        return;
    }
    entry_set_pod (e, pod);
    switch (e->where) {
    case Q_ACTIVE:
        heap_fix (self, &self->active, e); /* the order may have changed (priority) */
        break;
    case Q_BACKOFF:
        if (changed && e->backoff_until_ms <= now_ms) {
            detach (self, e);
            to_active (self, e);
        }
        break;
    case Q_UNSCHED:
        if (changed) {
            detach (self, e);
            to_active_or_backoff (self, e, now_ms);
        }
        break;
    case Q_FLIGHT:
        if (changed)
            e->flight_events = TR_SCHED_EV_ALL;
        break;
    default: /* dropped earlier for want of memory: try again */
        to_active (self, e);
        break;
    }
}

tr_sched_pod_t *
sq_delete (sched_queue_t *self, const char *uid)
{
    if (!self || !uid)
        return NULL;
    sq_entry_t *e = idx_find (self, uid);
    if (!e)
        return NULL;
    tr_sched_pod_t *pod = e->where == Q_FLIGHT ? NULL : e->pod;
    entry_free (self, e);
    return pod;
}

static void
flush_backoff (sched_queue_t *self, int64_t now_ms)
{
    while (self->backoff.n > 0 && self->backoff.v[0]->backoff_until_ms <= now_ms) {
        sq_entry_t *e = self->backoff.v[0];
        detach (self, e);
        to_active (self, e);
    }
}

tr_sched_pod_t *
sq_pop (sched_queue_t *self, int64_t now_ms)
{
    if (!self)
        return NULL;
    flush_backoff (self, now_ms);
    if (self->active.n == 0)
        return NULL;
    sq_entry_t *e = self->active.v[0];
    detach (self, e);
    e->where = Q_FLIGHT;
    e->flight_events = 0;
    fl_push (self, e);
    return e->pod;
}

void
sq_requeue (sched_queue_t *self, tr_sched_pod_t *pod, int unschedulable, uint32_t events, int64_t now_ms)
{
    if (!self || !pod || !pod->uid)
        return;
    sq_entry_t *e = idx_find (self, pod->uid);
    if (!e)
        return; /* deleted while in flight (or never popped): not queued */
    if (e->where != Q_FLIGHT && e->where != 0)
        return; /* already queued (Kubernetes: "already present"): nothing to do */
    uint32_t seen = e->where == Q_FLIGHT ? e->flight_events : 0;
    if (e->where != Q_FLIGHT)
        entry_set_pod (e, pod);
    /* in flight, e->pod is the newest pointer the queue was given: pod, or sq_add's */
    detach (self, e);
    e->attempts++;
    e->timestamp_ms = now_ms;
    e->backoff_until_ms = now_ms + backoff_ms (self, e->attempts);
    e->events = unschedulable ? events : 0;
    int rescued = seen && (events == 0 || (seen & events));
    if (!unschedulable || rescued) {
        to_backoff (self, e);
        return;
    }
    e->where = Q_UNSCHED;
    us_append (self, e);
}

void
sq_done (sched_queue_t *self, const char *uid)
{
    if (!self || !uid)
        return;
    sq_entry_t *e = idx_find (self, uid);
    if (e && e->where == Q_FLIGHT)
        entry_free (self, e);
}

static int
listens (const sq_entry_t *e, uint32_t event)
{
    return e->events == 0 || (e->events & event) != 0;
}

size_t
sq_move_on_event (sched_queue_t *self, uint32_t event, int64_t now_ms)
{
    if (!self || event == 0)
        return 0;
    for (sq_entry_t *f = self->fl_head; f; f = f->next)
        f->flight_events |= event;
    /* anyone listening? */
    size_t listening = self->us_any;
    for (int b = 0; b < NBITS && listening == 0; b++)
        if (event & (1u << b))
            listening += self->us_bit[b];
    if (listening == 0)
        return 0;
    size_t moved = 0;
    sq_entry_t *e = self->us_head;
    while (e) {
        sq_entry_t *nx = e->next;
        if (listens (e, event)) {
            detach (self, e);
            to_active_or_backoff (self, e, now_ms);
            moved++;
        }
        e = nx;
    }
    return moved;
}

void
sq_flush (sched_queue_t *self, int64_t now_ms)
{
    if (!self)
        return;
    flush_backoff (self, now_ms);
    /* oldest first: stop at the first pod that has not waited long enough */
    while (self->us_head && now_ms - self->us_head->timestamp_ms > self->opts.max_unschedulable_ms) {
        sq_entry_t *e = self->us_head;
        detach (self, e);
        to_active_or_backoff (self, e, now_ms);
    }
}

int64_t
sq_next_ms (sched_queue_t *self, int64_t now_ms)
{
    if (!self)
        return -1;
    if (self->active.n > 0)
        return 0;
    int64_t at = -1;
    if (self->backoff.n > 0)
        at = self->backoff.v[0]->backoff_until_ms;
    if (self->us_head) {
        int64_t t = self->us_head->timestamp_ms + self->opts.max_unschedulable_ms + 1;
        if (at < 0 || t < at)
            at = t;
    }
    if (at < 0)
        return -1;
    return at > now_ms ? at - now_ms : 0;
}

void
sq_stats (sched_queue_t *self, sq_stats_t *out)
{
    if (!out)
        return;
    memset (out, 0, sizeof *out);
    if (!self)
        return;
    out->active = self->active.n;
    out->backoff = self->backoff.n;
    out->unschedulable = self->nunsched;
    out->in_flight = self->nflight;
}
