/* filterpool — see filterpool.h. */
#include "actors/scheduler/filterpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_WORKERS 8

struct filterpool {
    pthread_mutex_t mu;
    pthread_cond_t work;      /* a scan was posted, or quit */
    pthread_cond_t idle;      /* a worker finished its part */
    pthread_t th[MAX_WORKERS];
    int workers;
    int quit;
    uint64_t gen;             /* the scan posted last */
    int busy;                 /* workers still in the current scan */
    /* the current scan */
    size_t n, chunk, nchunks;
    filterpool_fn fn;
    void *arg;
    atomic_size_t next;       /* the next chunk to claim */
    atomic_int stop;
};

typedef struct {
    filterpool_t *pool;
    int tid;
} worker_arg_t;

static void
claim_loop (filterpool_t *self, int tid)
{
    while (!atomic_load_explicit (&self->stop, memory_order_acquire)) {
        size_t c = atomic_fetch_add_explicit (&self->next, 1, memory_order_acq_rel);
        if (c >= self->nchunks)
            break;
        size_t from = c * self->chunk, to = from + self->chunk < self->n ? from + self->chunk : self->n;
        if (self->fn (self->arg, from, to, tid))
            atomic_store_explicit (&self->stop, 1, memory_order_release);
    }
}

static void *
worker (void *argp)
{
    worker_arg_t a = *(worker_arg_t *) argp;
    free (argp);
    filterpool_t *self = a.pool;
    uint64_t seen = 0;
    pthread_mutex_lock (&self->mu);
    for (;;) {
        while (!self->quit && self->gen == seen)
            pthread_cond_wait (&self->work, &self->mu);
        if (self->quit)
            break;
        seen = self->gen;
        pthread_mutex_unlock (&self->mu);
        claim_loop (self, a.tid);
        pthread_mutex_lock (&self->mu);
        if (--self->busy == 0)
            pthread_cond_signal (&self->idle);
    }
    pthread_mutex_unlock (&self->mu);
    return NULL;
}

filterpool_t *
filterpool_new (int workers)
{
    if (workers < 1)
        return NULL;
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    filterpool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->mu, NULL);
    pthread_cond_init (&self->work, NULL);
    pthread_cond_init (&self->idle, NULL);
    for (int i = 0; i < workers; i++) {
        worker_arg_t *a = malloc (sizeof *a);
        if (!a || (*a = (worker_arg_t) {self, i + 1}, pthread_create (&self->th[i], NULL, worker, a))) {
            free (a);
            filterpool_destroy (&self);
            return NULL;
        }
        self->workers++;
    }
    return self;
}

void
filterpool_destroy (filterpool_t **self_p)
{
    filterpool_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->mu);
    self->quit = 1;
    pthread_cond_broadcast (&self->work);
    pthread_mutex_unlock (&self->mu);
    for (int i = 0; i < self->workers; i++)
        pthread_join (self->th[i], NULL);
    pthread_cond_destroy (&self->work);
    pthread_cond_destroy (&self->idle);
    pthread_mutex_destroy (&self->mu);
    free (self);
    *self_p = NULL;
}

int
filterpool_workers (const filterpool_t *self)
{
    return self ? self->workers : 0;
}

size_t
filterpool_run (filterpool_t *self, size_t n, size_t chunk, filterpool_fn fn, void *arg)
{
    if (!n || !chunk)
        return 0;
    self->n = n;
    self->chunk = chunk;
    self->nchunks = (n + chunk - 1) / chunk;
    self->fn = fn;
    self->arg = arg;
    atomic_store (&self->next, 0);
    atomic_store (&self->stop, 0);
    pthread_mutex_lock (&self->mu);
    self->busy = self->workers;
    self->gen++;
    pthread_cond_broadcast (&self->work);
    pthread_mutex_unlock (&self->mu);
    claim_loop (self, 0);
    pthread_mutex_lock (&self->mu);
    while (self->busy > 0)
        pthread_cond_wait (&self->idle, &self->mu);
    pthread_mutex_unlock (&self->mu);
    /* every claim below next ran whole (claims past the last chunk ran nothing) */
    size_t claimed = atomic_load (&self->next);
    if (claimed > self->nchunks)
        claimed = self->nchunks;
    size_t end = claimed * chunk;
    return end < n ? end : n;
}
