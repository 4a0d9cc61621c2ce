/* bench_sched_affinity — InterPodAffinity and PodTopologySpread alone, on a hand-built snapshot:
 * N nodes (hostname + 10 zones), P bound pods app=web each with a required anti-affinity to
 * app=web by hostname, and an incoming replica of the same kind with a zone spread constraint.
 * Prints PreFilter cold (first pod of its kind: a walk of every pod) and warm (the node-share
 * cache, one node changed since the previous pod, as after an assume), Filter per node (best
 * of 5 passes over every node), and
 * PodTopologySpread's PreScore and Score for a ReplicaSet's pod (the system default
 * constraints), and DefaultPreemption's PostFilter when every node is full (equal priority: no
 * victims anywhere; higher priority: victims on every node). Usage: bench_sched_affinity [nodes 5000] [pods 10000]. */
#include "actors/scheduler/nodelabels.h"
#include "actors/scheduler/sched_plugin.h"
#include "core/selector.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const tr_sched_plugin_t *sched_plugin_interpodaffinity (void);
const tr_sched_plugin_t *sched_plugin_podtopologyspread (void);
const tr_sched_plugin_t *sched_plugin_defaultpreemption (void);

#define NKEYS 4

struct tr_sched_cycle {
    const tr_sched_snapshot_t *snap;
    char key[NKEYS][64];
    void *data[NKEYS];
    void (*free_fn[NKEYS]) (void *);
};

static void
h_log (int level, const char *plugin, const char *fmt, ...)
{
    (void) level;
    (void) plugin;
    (void) fmt;
}

static const char *
h_intern (tr_sched_cycle_t *cs, const char *fmt, ...)
{
    (void) cs;
    static char buf[4][512]; /* the bench prints a message right after the cycle that made it */
    static int next;
    char *b = buf[next++ & 3];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (b, sizeof buf[0], fmt, ap);
    va_end (ap);
    return b;
}

static void
h_write (tr_sched_cycle_t *cs, const char *key, void *data, void (*free_fn) (void *))
{
    for (int i = 0; i < NKEYS; i++)
        if (!cs->key[i][0] || !strcmp (cs->key[i], key)) {
            if (cs->free_fn[i])
                cs->free_fn[i] (cs->data[i]);
            snprintf (cs->key[i], sizeof cs->key[i], "%s", key);
            cs->data[i] = data;
            cs->free_fn[i] = free_fn;
            return;
        }
}

static void *
h_read (tr_sched_cycle_t *cs, const char *key)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp (cs->key[i], key))
            return cs->data[i];
    return NULL;
}

static void
cycle_end (tr_sched_cycle_t *cs)
{
    for (int i = 0; i < NKEYS; i++) {
        if (cs->free_fn[i])
            cs->free_fn[i] (cs->data[i]);
        cs->free_fn[i] = NULL;
        cs->data[i] = NULL;
        cs->key[i][0] = 0;
    }
}

static const tr_sched_snapshot_t *
h_snapshot (tr_sched_cycle_t *cs)
{
    return cs->snap;
}

static int
h_match (const json_t *sel, const json_t *labels)
{
    char err[128];
    selector_t *s = selector_from_object (sel, err, sizeof err);
    if (!s)
        return -1;
    int m = selector_matches (s, labels);
    selector_destroy (&s);
    return m;
}

static int
h_preempt (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node, const tr_sched_pod_t *const *victims,
           size_t n)
{
    (void) cs;
    (void) pod;
    (void) node;
    (void) victims;
    (void) n;
    return 0;
}

static const tr_sched_host_t host = {
    .size = sizeof host, .log = h_log, .intern = h_intern, .write = h_write, .read = h_read,
    .snapshot = h_snapshot, .label_selector_match = h_match, .preempt = h_preempt,
};

static double
now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static uint64_t generation;

/* PreFilter (or PreScore) 20 times, a different node changed before each: cold and best warm. */
static void
time_pre (const tr_sched_plugin_t *pl, void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
          tr_sched_node_t *nodes, uint32_t n, int score, double *cold, double *warm)
{
    *warm = 1e9;
    for (int r = 0; r < 20; r++) {
        nodes[(uint32_t) r * 7 % n].generation = ++generation;
        cycle_end (cs);
        double a = now ();
        if (score)
            pl->pre_score (self, cs, pod, cs->snap->nodes, n);
        else
            pl->pre_filter (self, cs, pod);
        double b = now () - a;
        if (r == 0)
            *cold = b;
        else if (b < *warm)
            *warm = b;
    }
}

int
main (int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t) atoi (argv[1]) : 5000, p = argc > 2 ? (uint32_t) atoi (argv[2]) : 10000;
    if (n == 0)
        n = 1;
    json_t *spec = json_loads ("{\"spec\":{\"affinity\":{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
                               "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"topologyKey\":\"kubernetes.io/hostname\"}]}},"
                               "\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"topology.kubernetes.io/zone\","
                               "\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}}",
                               0, NULL);
    json_t *rs = json_loads ("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web\",\"controller\":true}]},"
                             "\"spec\":{}}", 0, NULL);
    json_t *labels = json_pack ("{s:s}", "app", "web");
    tr_sched_node_t *nodes = calloc (n, sizeof *nodes);
    const tr_sched_node_t **all = calloc (n, sizeof *all), **aff = calloc (n, sizeof *aff);
    tr_sched_pod_t *pods = calloc (p + 2, sizeof *pods);
    const tr_sched_pod_t ***lists = calloc (n, sizeof *lists);
    for (uint32_t i = 0; i < n; i++) {
        char h[32], z[16];
        snprintf (h, sizeof h, "node-%u", i);
        snprintf (z, sizeof z, "zone-%u", i % 10);
        nodes[i].size = sizeof nodes[i];
        nodes[i].name = strdup (h);
        nodes[i].labels = json_pack ("{s:s,s:s}", "kubernetes.io/hostname", h, "topology.kubernetes.io/zone", z);
        nodes[i].label_index = nodelabels_new (nodes[i].labels); /* as the snapshot packs them */
        nodes[i].generation = ++generation;
        lists[i] = calloc (p / n + 2, sizeof **lists);
        all[i] = &nodes[i];
    }
    for (uint32_t j = 0; j < p + 2; j++) {
        pods[j] = (tr_sched_pod_t) {.size = sizeof pods[j], .obj = spec, .ns = "default", .name = "web", .uid = "web",
                                    .labels = labels, .has_affinity = 1, .has_required_anti_affinity = 1};
        if (j < p) {
            tr_sched_node_t *nd = &nodes[j % n];
            lists[j % n][nd->npods++] = &pods[j];
        }
    }
    pods[p + 1].obj = rs;
    pods[p + 1].has_affinity = pods[p + 1].has_required_anti_affinity = 0;
    uint32_t naff = 0;
    for (uint32_t i = 0; i < n; i++) {
        nodes[i].npods_with_affinity = nodes[i].npods_with_required_anti_affinity = nodes[i].npods;
        nodes[i].pods = nodes[i].pods_with_affinity = nodes[i].pods_with_required_anti_affinity =
            (const tr_sched_pod_t *const *) lists[i];
        if (nodes[i].npods)
            aff[naff++] = &nodes[i];
    }
    tr_sched_snapshot_t snap = {.size = sizeof snap, .nnodes = n, .nodes = all, .nnodes_with_affinity = naff,
                                .nodes_with_affinity = aff};
    const tr_sched_plugin_t *pls[2] = {sched_plugin_interpodaffinity (), sched_plugin_podtopologyspread ()};
    printf ("%u nodes, %u pods with required anti-affinity by hostname\n", n, p);
    for (int k = 0; k < 2; k++) {
        char err[128];
        void *self = pls[k]->init (NULL, &host, err, sizeof err);
        tr_sched_cycle_t cs = {.snap = &snap};
        double cold, warm;
        time_pre (pls[k], self, &cs, &pods[p], nodes, n, 0, &cold, &warm);
        /* Filter over every node: the best of 5 passes (the machine is shared) */
        uint32_t fit = 0;
        double f = 0, a;
        for (int pass = 0; pass < 5; pass++) {
            fit = 0;
            a = now ();
            for (uint32_t i = 0; i < n; i++)
                fit += pls[k]->filter (self, &cs, &pods[p], &nodes[i]).code == TR_SCHED_SUCCESS;
            double t = (now () - a) * 1e9 / n;
            if (pass == 0 || t < f)
                f = t;
        }
        printf ("%-18s PreFilter cold %7.2f ms, warm %6.3f ms; Filter %4.0f ns/node (%u nodes fit)\n", pls[k]->name,
                cold * 1e3, warm * 1e3, f, fit);
        cycle_end (&cs);
        if (k == 1) {
            time_pre (pls[k], self, &cs, &pods[p + 1], nodes, n, 1, &cold, &warm);
            int64_t score;
            a = now ();
            for (uint32_t i = 0; i < n; i++)
                pls[k]->score (self, &cs, &pods[p + 1], &nodes[i], &score);
            f = (now () - a) * 1e9 / n;
            printf ("%-18s PreScore (system defaults, a ReplicaSet's pod) cold %7.2f ms, warm %6.3f ms; Score %4.0f ns/node\n",
                    pls[k]->name, cold * 1e3, warm * 1e3, f);
            cycle_end (&cs);
        }
        pls[k]->destroy (self);
    }
    {
        /* every node full: 2 cpu, each pod 1 cpu (pods per node as above) */
        for (uint32_t i = 0; i < n; i++) {
            nodes[i].allocatable.milli_cpu = 1000 * (int64_t) nodes[i].npods;
            nodes[i].allocatable.pods = 110;
            nodes[i].requested.milli_cpu = 1000 * (int64_t) nodes[i].npods;
            nodes[i].requested.pods = nodes[i].npods;
        }
        for (uint32_t j = 0; j < p + 2; j++)
            pods[j].requests = (tr_sched_res_t) {.milli_cpu = 1000, .pods = 1};
        tr_sched_status_t *st = calloc (n, sizeof *st);
        for (uint32_t i = 0; i < n; i++)
            st[i] = (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, "Insufficient cpu"};
        const tr_sched_plugin_t *dp = sched_plugin_defaultpreemption ();
        char err[128];
        void *self = dp->init (NULL, &host, err, sizeof err);
        for (int prio = 0; prio <= 1; prio++) {
            tr_sched_cycle_t cs = {.snap = &snap};
            pods[p + 1].priority = prio * 1000;
            double a = now ();
            tr_sched_status_t r = dp->post_filter (self, &cs, &pods[p + 1], st, n);
            printf ("%-18s PostFilter, every node full, %s: %.2f ms (%s)\n", dp->name,
                    prio ? "higher priority" : "equal priority", (now () - a) * 1e3, r.reason);
        }
        dp->destroy (self);
        free (st);
    }
    for (uint32_t i = 0; i < n; i++) {
        free ((void *) nodes[i].name);
        json_decref ((json_t *) nodes[i].labels);
        nodelabels_t *lix = (nodelabels_t *) nodes[i].label_index;
        nodelabels_destroy (&lix);
        free (lists[i]);
    }
    free (lists);
    free (nodes);
    free (all);
    free (aff);
    free (pods);
    json_decref (spec);
    json_decref (rs);
    json_decref (labels);
    return 0;
}
