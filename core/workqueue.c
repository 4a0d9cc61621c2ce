/* workqueue — see workqueue.h. Small sets: a linear scan for the next due key is cheaper to
 * hold in one's head than a heap, and fast enough for thousands of keys. */
#include "core/workqueue.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct workqueue {
    json_t *due;      /* key → due time (ms) */
    json_t *failures; /* key → consecutive failures */
};

workqueue_t *
workqueue_new (void)
{
    workqueue_t *q = calloc (1, sizeof *q);
    q->due = json_object ();
    q->failures = json_object ();
    return q;
}

void
workqueue_destroy (workqueue_t **p)
{
    workqueue_t *q = *p;
    if (!q)
        return;
    json_decref (q->due);
    json_decref (q->failures);
    free (q);
    *p = NULL;
}

void
workqueue_add_after (workqueue_t *q, const char *key, int64_t delay_ms, int64_t now_ms)
{
    int64_t at = now_ms + (delay_ms > 0 ? delay_ms : 0);
    json_t *cur = json_object_get (q->due, key);
    if (cur && json_integer_value (cur) <= at)
        return;
    json_object_set_new (q->due, key, json_integer (at));
}

void
workqueue_add (workqueue_t *q, const char *key)
{
    workqueue_add_after (q, key, 0, 0); /* due at time 0: before anything delayed */
}

void
workqueue_add_rate_limited (workqueue_t *q, const char *key, int64_t now_ms)
{
    json_int_t n = json_integer_value (json_object_get (q->failures, key));
    json_object_set_new (q->failures, key, json_integer (n + 1));
    int64_t delay = 5;
    for (json_int_t i = 0; i < n && delay < 1000000; i++)
        delay *= 2;
    if (delay > 1000000)
        delay = 1000000;
    workqueue_add_after (q, key, delay, now_ms);
}

void
workqueue_forget (workqueue_t *q, const char *key)
{
    json_object_del (q->failures, key);
}

int
workqueue_pop (workqueue_t *q, int64_t now_ms, char *buf, size_t len)
{
    const char *best = NULL;
    json_int_t best_at = 0;
    const char *k;
    json_t *v;
    json_object_foreach (q->due, k, v) if (json_integer_value (v) <= now_ms && (!best || json_integer_value (v) < best_at))
    {
        best = k;
        best_at = json_integer_value (v);
    }
    if (!best)
        return -1;
    snprintf (buf, len, "%s", best);
    json_object_del (q->due, buf);
    return 0;
}

size_t
workqueue_len (workqueue_t *q)
{
    return json_object_size (q->due);
}

int64_t
workqueue_next_in (workqueue_t *q, int64_t now_ms)
{
    int64_t best = -1;
    const char *k;
    json_t *v;
    json_object_foreach (q->due, k, v) {
        int64_t in = json_integer_value (v) - now_ms;
        if (in < 0)
            in = 0;
        if (best < 0 || in < best)
            best = in;
    }
    return best;
}
