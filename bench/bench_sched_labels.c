/* bench_sched_labels — one node label looked up on every node, as Filter does: the packed index
 * the snapshot keeps (nodelabels.c), the same with each index asked for AHEAD nodes before its
 * lookup (nodelabels_prefetch, as the framework's scans do), and the lookup in the Node's JSON
 * (jansson), the bound it replaced. N nodes with a hollow node's six labels, allocated among other blocks as in
 * a long-running process, visited in a random order; "cold" evicts the caches before each pass
 * (a cycle at 5,000 nodes touches each node once), "warm" does not.
 * Usage: bench_sched_labels [nodes 5000] [passes 20]. */
#include "actors/scheduler/nodelabels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static const char *KEY = "topology.kubernetes.io/zone";

#define AHEAD 4

/* mode 0: the JSON; 1: the packed index; 2: the packed index, prefetched AHEAD lookups early */
static long
pass (int mode, json_t **labels, nodelabels_t **index, const int *order, int n)
{
    long sum = 0;
    for (int k = 0; k < n; k++) {
        int i = order[k];
        if (mode == 2 && k + AHEAD < n)
            nodelabels_prefetch (index[order[k + AHEAD]]);
        const char *v = mode ? nodelabels_get (index[i], KEY) : json_string_value (json_object_get (labels[i], KEY));
        sum += v ? v[5] : -1;
    }
    return sum;
}

int
main (int argc, char **argv)
{
    int n = argc > 1 ? atoi (argv[1]) : 5000, passes = argc > 2 ? atoi (argv[2]) : 20;
    if (n < 1 || passes < 1)
        return 2;
    json_t **labels = calloc ((size_t) n, sizeof *labels);
    nodelabels_t **index = calloc ((size_t) n, sizeof *index);
    int *order = calloc ((size_t) n, sizeof *order);
    void **other = calloc ((size_t) n * 8, sizeof *other);
    srand (1);
    for (int i = 0; i < n; i++) {
        char h[32], z[16];
        snprintf (h, sizeof h, "hollow-%05d", i);
        snprintf (z, sizeof z, "zone-%c", 'a' + i % 3);
        labels[i] = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "bench", "hollow", "kubernetes.io/arch", "amd64",
                               "kubernetes.io/hostname", h, "kubernetes.io/os", "linux", KEY, z,
                               "node.kubernetes.io/instance-type", "hollow");
        for (int k = 0; k < 8; k++)
            other[i * 8 + k] = malloc (64 + (size_t) (rand () % 300)); /* a heap in use, not a fresh one */
        index[i] = nodelabels_new (labels[i]);
        order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
        int j = rand () % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    size_t big = 64u << 20;
    volatile char *evict = calloc (big, 1);
    long check[3] = {0, 0, 0};
    double cold[3] = {0, 0, 0}, warm[3] = {0, 0, 0};
    for (int m = 0; m < 3; m++) {
        for (int p = 0; p < passes; p++) {
            for (size_t i = 0; i < big; i += 64)
                evict[i]++;
            double a = now ();
            check[m] += pass (m, labels, index, order, n);
            cold[m] += now () - a;
        }
        double a = now ();
        for (int p = 0; p < passes * 10; p++)
            check[m] += pass (m, labels, index, order, n);
        warm[m] = now () - a;
    }
#define NS(t, k) ((t) / passes / (k) / n * 1e9)
    printf ("%d nodes, one label each (%s), random order\n", n, KEY);
    printf ("packed index, prefetched %d ahead: cold %6.1f ns/lookup, warm %5.1f ns/lookup\n", AHEAD, NS (cold[2], 1),
            NS (warm[2], 10));
    printf ("packed index:                  cold %6.1f ns/lookup, warm %5.1f ns/lookup  (ratio cold %.2fx, warm %.2fx)\n",
            NS (cold[1], 1), NS (warm[1], 10), cold[1] / cold[2], warm[1] / warm[2]);
    printf ("Node's JSON:                   cold %6.1f ns/lookup, warm %5.1f ns/lookup  (ratio cold %.2fx, warm %.2fx)\n",
            NS (cold[0], 1), NS (warm[0], 10), cold[0] / cold[2], warm[0] / warm[2]);
    int rc = check[0] == check[1] && check[1] == check[2] ? 0 : 1;
    if (rc)
        fprintf (stderr, "bench_sched_labels: the lookups disagree\n");
    for (int i = 0; i < n; i++) {
        json_decref (labels[i]);
        nodelabels_destroy (&index[i]);
        for (int k = 0; k < 8; k++)
            free (other[i * 8 + k]);
    }
    free ((void *) evict);
    free (labels);
    free (index);
    free (order);
    free (other);
    return rc;
}
