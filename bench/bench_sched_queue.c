/* bench_sched_queue — the scheduling queue (actors/scheduler/sched_queue.c) at size: N pods added
 * (random priorities and ages), popped and done; then N popped and requeued unschedulable, moved
 * back by one event, popped again; then N deletes from the middle. Prints ns per operation.
 *
 *   build/bench_sched_queue [--n 100000]
 */
#include "actors/scheduler/sched_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    tr_sched_pod_t p;
    char uid[48];
} bpod_t;

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
    long n = 100000;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp (argv[i], "--n"))
            n = atol (argv[++i]);
    bpod_t *pods = calloc ((size_t) n, sizeof *pods);
    srand (7);
    for (long i = 0; i < n; i++) {
        snprintf (pods[i].uid, sizeof pods[i].uid, "%08lx-%ld", (unsigned long) rand (), i);
        pods[i].p.uid = pods[i].uid;
        pods[i].p.priority = rand () % 10;
        pods[i].p.created_ms = rand () % 1000000;
    }
    sched_queue_t *q = sq_new (NULL, NULL, NULL);
    double t = now_s ();
    for (long i = 0; i < n; i++)
        sq_add (q, &pods[i].p, 0, 0);
    double add = now_s () - t;
    t = now_s ();
    long got = 0;
    for (tr_sched_pod_t *p; (p = sq_pop (q, 0)); got++)
        sq_done (q, p->uid);
    double pop = now_s () - t;
    for (long i = 0; i < n; i++)
        sq_add (q, &pods[i].p, 0, 0);
    t = now_s ();
    for (tr_sched_pod_t *p; (p = sq_pop (q, 0));)
        sq_requeue (q, p, 1, TR_SCHED_EV_NODE_ADD, 0);
    double requeue = now_s () - t;
    t = now_s ();
    size_t none = sq_move_on_event (q, TR_SCHED_EV_POD_ADD, 5000); /* nobody listens */
    double ev_none = now_s () - t;
    t = now_s ();
    size_t moved = sq_move_on_event (q, TR_SCHED_EV_NODE_ADD, 5000);
    double ev_all = now_s () - t;
    t = now_s ();
    for (long i = 0; i < n; i += 2)
        sq_delete (q, pods[i].uid);
    double del = now_s () - t;
    sq_stats_t s;
    sq_stats (q, &s);
    printf ("sched_queue n=%ld: add %.0f ns, pop+done %.0f ns, pop+requeue(unschedulable) %.0f ns, "
            "event nobody listens to %.1f us, event moving %zu pods %.1f ms, delete from activeQ %.0f ns; "
            "popped %ld, %zu still active (want %ld), unmoved %zu\n",
            n, add / (double) n * 1e9, pop / (double) n * 1e9, requeue / (double) n * 1e9, ev_none * 1e6, moved, ev_all * 1e3,
            del / (double) ((n + 1) / 2) * 1e9, got, s.active, n / 2, none);
    sq_destroy (&q);
    free (pods);
    return got == n && moved == (size_t) n && s.active == (size_t) (n / 2) ? 0 : 1;
}
