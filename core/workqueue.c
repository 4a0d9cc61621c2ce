/* workqueue — see workqueue.h.
 *
 * Three structures: the FIFO of keys ready now (a ring of owned strings, with a set that
 * de-duplicates them), the delayed keys (a binary min-heap of {due, key}, with a map key → due
 * that keeps the sooner time; a heap entry whose due no longer matches the map is stale and is
 * skipped when it surfaces), and the rate limiter's state (failures per key, the bucket's
 * theoretical arrival time, GCRA: a retry at `now` is allowed at tat - burst × interval).
 */
#include "core/workqueue.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t due;
    char *key;
} delayed_t;

struct workqueue {
    char **ring;          /* FIFO of ready keys */
    size_t head, n, cap;
    json_t *queued;       /* keys in the FIFO */
    delayed_t *heap;      /* min-heap by due */
    size_t hn, hcap;
    json_t *waiting;      /* key → due (ms) of its live heap entry */
    json_t *failures;     /* key → consecutive failures */
    int64_t tat;          /* bucket: theoretical arrival time of the next retry */
};

workqueue_t *
workqueue_new (void)
{
    workqueue_t *q = calloc (1, sizeof *q);
    q->queued = json_object ();
    q->waiting = json_object ();
    q->failures = json_object ();
    return q;
}

void
workqueue_destroy (workqueue_t **p)
{
    workqueue_t *q = *p;
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free (q->ring[(q->head + i) % q->cap]);
    free (q->ring);
    for (size_t i = 0; i < q->hn; i++)
        free (q->heap[i].key);
    free (q->heap);
    json_decref (q->queued);
    json_decref (q->waiting);
    json_decref (q->failures);
    free (q);
    *p = NULL;
}

void
workqueue_add (workqueue_t *q, const char *key)
{
    if (json_object_get (q->queued, key))
        return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        char **ring = malloc (cap * sizeof *ring);
        for (size_t i = 0; i < q->n; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free (q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->n) % q->cap] = strdup (key);
    q->n++;
    json_object_set_new (q->queued, key, json_true ());
}

static void
heap_swap (workqueue_t *q, size_t a, size_t b)
{
    delayed_t t = q->heap[a];
    q->heap[a] = q->heap[b];
    q->heap[b] = t;
}

static void
heap_push (workqueue_t *q, int64_t due, const char *key)
{
    if (q->hn == q->hcap) {
        q->hcap = q->hcap ? q->hcap * 2 : 64;
        q->heap = realloc (q->heap, q->hcap * sizeof *q->heap);
    }
    size_t i = q->hn++;
    q->heap[i] = (delayed_t) {due, strdup (key)};
    while (i > 0 && q->heap[(i - 1) / 2].due > q->heap[i].due) {
        heap_swap (q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Removes the top entry; returns its key (owned by the caller). */
static char *
heap_pop (workqueue_t *q)
{
    char *key = q->heap[0].key;
    q->heap[0] = q->heap[--q->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->hn && q->heap[l].due < q->heap[m].due)
            m = l;
        if (r < q->hn && q->heap[r].due < q->heap[m].due)
            m = r;
        if (m == i)
            break;
        heap_swap (q, i, m);
        i = m;
    }
    return key;
}

/* Is the top entry the live one for its key? */
static int
top_live (workqueue_t *q)
{
    json_t *at = json_object_get (q->waiting, q->heap[0].key);
    return at && json_integer_value (at) == q->heap[0].due;
}

/* Drops stale entries from the top, then moves the keys due at now into the FIFO. */
static void
promote (workqueue_t *q, int64_t now)
{
    while (q->hn) {
        int live = top_live (q);
        if (live && q->heap[0].due > now)
            return;
        char *key = heap_pop (q);
        if (live) {
            json_object_del (q->waiting, key);
            workqueue_add (q, key);
        }
        free (key);
    }
}

void
workqueue_add_after (workqueue_t *q, const char *key, int64_t delay_ms, int64_t now_ms)
{
    if (delay_ms <= 0) {
        workqueue_add (q, key);
        return;
    }
    int64_t at = now_ms + delay_ms;
    json_t *cur = json_object_get (q->waiting, key);
    if (cur && json_integer_value (cur) <= at)
        return;
    json_object_set_new (q->waiting, key, json_integer (at));
    heap_push (q, at, key);
}

void
workqueue_add_rate_limited (workqueue_t *q, const char *key, int64_t now_ms)
{
    json_int_t n = json_integer_value (json_object_get (q->failures, key));
    json_object_set_new (q->failures, key, json_integer (n + 1));
    int64_t delay = WORKQUEUE_BASE_DELAY_MS;
    for (json_int_t i = 0; i < n && delay < WORKQUEUE_MAX_DELAY_MS; i++)
        delay *= 2;
    if (delay > WORKQUEUE_MAX_DELAY_MS)
        delay = WORKQUEUE_MAX_DELAY_MS;
    /* the bucket: one retry per interval after a burst */
    const int64_t interval = 1000 / WORKQUEUE_QPS;
    if (q->tat < now_ms)
        q->tat = now_ms;
    q->tat += interval;
    int64_t bucket = q->tat - now_ms - (int64_t) WORKQUEUE_BURST * interval;
    if (bucket > delay)
        delay = bucket;
    workqueue_add_after (q, key, delay, now_ms);
}

void
workqueue_forget (workqueue_t *q, const char *key)
{
    json_object_del (q->failures, key);
}

int
workqueue_requeues (workqueue_t *q, const char *key)
{
    return (int) json_integer_value (json_object_get (q->failures, key));
}

int
workqueue_pop (workqueue_t *q, int64_t now_ms, char *buf, size_t len)
{
    promote (q, now_ms);
    while (q->n) {
        char *key = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        json_object_del (q->queued, key);
        size_t kl = strlen (key);
        if (kl < len) {
            memcpy (buf, key, kl + 1);
            free (key);
            return 0;
        }
        free (key);
    }
    return -1;
}

size_t
workqueue_len (workqueue_t *q)
{
    return q->n + json_object_size (q->waiting);
}

int64_t
workqueue_next_in (workqueue_t *q, int64_t now_ms)
{
    if (q->n)
        return 0;
    while (q->hn && !top_live (q))
        free (heap_pop (q));
    if (!q->hn)
        return -1;
    return q->heap[0].due > now_ms ? q->heap[0].due - now_ms : 0;
}
