/* bench_sched_cycle — the scheduling cycle of SchedulingBasic at size, without the cluster: N
 * nodes shaped as `troupe hollow` registers them (4 cpu, 16Gi, 110 pods, ephemeral storage, five
 * labels), P pods of 100m cpu / 50Mi as bench/sched/run.sh creates them, each scheduled with the
 * default profile (percentageOfNodesToScore adaptive: 500 of 5,000 nodes) and assumed on the node
 * chosen, as the scheduler's thread does. Prints µs per cycle.
 *
 * The bound beside it: the same walk written by hand, fused into one loop with no plugin calls:
 * from the same rotating start, the fit test of each node (cpu, memory, pods) until as many
 * nodes fit as the framework wanted, then LeastAllocated and BalancedAllocation over those, and
 * the request added to the winner. What a cycle costs when nothing but the node scan is left.
 *
 * --evict MB sweeps a buffer of MB MiB between cycles (outside the timing), as the other
 * threads of `troupe up` and the hollow nodes do to the caches between two of the scheduler's
 * cycles: the scan then reads the nodes from memory (L3 or DRAM), as in the cluster, where the
 * cycle costs about twice what it does here with the caches warm.
 *
 *   build/bench_sched_cycle [--nodes 5000] [--pods 10000] [--evict 0]
 */
#include "actors/scheduler/framework.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/snapshot.h"
#include "core/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sweeps ev_len bytes (one write a line) so the next cycle starts with cold caches. */
static unsigned char *ev_buf;
static size_t ev_len;

static void
evict (void)
{
    for (size_t i = 0; i < ev_len; i += 64)
        ev_buf[i]++;
}

static json_t *
node_obj (int i)
{
    char name[32];
    snprintf (name, sizeof name, "hollow-%05d", i);
    json_t *res = json_pack ("{s:s,s:s,s:s,s:s}", "cpu", "4", "memory", "16Gi", "ephemeral-storage", "100Gi", "pods", "110");
    return json_pack ("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s,s:s,s:s}},s:{},s:{s:O,s:o,s:[{s:s,s:s}],s:[]}}", "apiVersion", "v1",
                      "kind", "Node", "metadata", "name", name, "labels", "bench", "hollow", "kubernetes.io/hostname",
                      name, "kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64", "troupe.io/hollow", "true",
                      "spec", "status", "capacity", res, "allocatable", res, "conditions", "type", "Ready", "status",
                      "True", "images");
}

static json_t *
pod_obj (long i)
{
    char name[32];
    snprintf (name, sizeof name, "pod-%06ld", i);
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:i,s:s,s:[{s:s,s:s,s:{s:{s:s,s:s}}}]},s:{s:s}}", "apiVersion",
                      "v1", "kind", "Pod", "metadata", "name", name, "namespace", "bench", "uid", name, "spec",
                      "priority", 0, "schedulerName", "default-scheduler", "containers", "name", "c", "image",
                      "registry.k8s.io/pause:3.9", "resources", "requests", "cpu", "100m", "memory", "50Mi", "status",
                      "phase", "Pending");
}

/* The hand-fused walk: per node, the fields a fit test and the two resource scores read. */
typedef struct {
    int64_t acpu, amem, apods, rcpu, rmem, rpods;
} hand_node_t;

static double
hand (int nodes, long pods, size_t want, long *spread)
{
    hand_node_t **ns = calloc ((size_t) nodes, sizeof *ns);
    for (int i = 0; i < nodes; i++) { /* separate blocks, as the snapshot's nodes */
        ns[i] = calloc (1, sizeof *ns[i]);
        *ns[i] = (hand_node_t) {4000, 16LL << 30, 110, 0, 0, 0};
    }
    size_t *feasible = calloc (want, sizeof *feasible), start = 0;
    const int64_t cpu = 100, mem = 50LL << 20;
    double spent = 0;
    for (long k = 0; k < pods; k++) {
        evict ();
        double a = now_s ();
        size_t nf = 0, processed = 0;
        for (; processed < (size_t) nodes && nf < want; processed++) {
            size_t idx = (start + processed) % (size_t) nodes;
            const hand_node_t *n = ns[idx];
            if (n->rcpu + cpu <= n->acpu && n->rmem + mem <= n->amem && n->rpods + 1 <= n->apods)
                feasible[nf++] = idx;
        }
        start = (start + processed) % (size_t) nodes;
        int64_t best = -1;
        size_t chosen = 0;
        for (size_t i = 0; i < nf; i++) {
            const hand_node_t *n = ns[feasible[i]];
            double fc = (double) (n->rcpu + cpu) / (double) n->acpu, fm = (double) (n->rmem + mem) / (double) n->amem;
            int64_t least = ((n->acpu - n->rcpu - cpu) * 100 / n->acpu + (n->amem - n->rmem - mem) * 100 / n->amem) / 2;
            int64_t bal = (int64_t) ((1 - fabs (fc - fm) / 2) * 100);
            if (least + bal > best) {
                best = least + bal;
                chosen = feasible[i];
            }
        }
        if (!nf)
            break;
        ns[chosen]->rcpu += cpu;
        ns[chosen]->rmem += mem;
        ns[chosen]->rpods++;
        spent += now_s () - a;
    }
    double us = spent * 1e6 / (double) pods;
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < nodes; i++) {
        lo = ns[i]->rpods < lo ? ns[i]->rpods : lo;
        hi = ns[i]->rpods > hi ? ns[i]->rpods : hi;
        free (ns[i]);
    }
    *spread = (long) (hi - lo);
    free (ns);
    free (feasible);
    return us;
}

int
main (int argc, char **argv)
{
    int nodes = 5000;
    long pods = 10000;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp (argv[i], "--nodes"))
            nodes = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--pods"))
            pods = atol (argv[++i]);
        else if (!strcmp (argv[i], "--evict"))
            ev_len = (size_t) atol (argv[++i]) << 20;
    }
    if (nodes < 1 || pods < 1) {
        fprintf (stderr, "usage: bench_sched_cycle [--nodes N] [--pods P] [--evict MB]\n");
        return 2;
    }
    if (ev_len && !(ev_buf = calloc (1, ev_len))) {
        fprintf (stderr, "bench_sched_cycle: no memory for --evict\n");
        return 1;
    }
    sched_snap_t *snap = snap_new ();
    json_t *keep = json_array ();
    for (int i = 0; i < nodes; i++) {
        json_t *n = node_obj (i);
        snap_node_set (snap, n);
        json_array_append_new (keep, n);
    }
    json_t **objs = calloc ((size_t) pods, sizeof *objs);
    tr_sched_pod_t **ps = calloc ((size_t) pods, sizeof *ps);
    for (long k = 0; k < pods; k++) {
        objs[k] = pod_obj (k);
        ps[k] = snap_pod_new (objs[k]);
    }
    char err[256];
    fw_profile_t *prof = sched_profile_default (NULL, 0, err, sizeof err);
    if (!prof) {
        fprintf (stderr, "bench_sched_cycle: %s\n", err);
        return 1;
    }
    fw_env_t env;
    size_t want = 0, evaluated = 0;
    double spent = 0;
    for (long k = 0; k < pods; k++) {
        evict ();
        double a = now_s ();
        fw_env_of_snapshot (&env, snap); /* the view, after the last assume */
        fw_result_t r;
        fw_schedule_nominated (prof, &env, NULL, ps[k], &r);
        json_decref (r.preempt);
        if (r.outcome != FW_SCHEDULED) {
            fprintf (stderr, "bench_sched_cycle: pod %ld not scheduled: %s\n", k, r.message);
            return 1;
        }
        spent += now_s () - a;
        evaluated += r.evaluated;
        want = r.feasible > want ? r.feasible : want;
    }
    double us = spent * 1e6 / (double) pods;
    const tr_sched_snapshot_t *v = snap_view (snap);
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < v->nnodes; i++) {
        lo = v->nodes[i]->npods < lo ? v->nodes[i]->npods : lo;
        hi = v->nodes[i]->npods > hi ? v->nodes[i]->npods : hi;
    }
    long hspread;
    double hus = hand (nodes, pods, want, &hspread);
    printf ("bench_sched_cycle: %d nodes, %ld pods of 100m/50Mi, %zu nodes wanted, %.0f filtered per cycle: %.2f us per "
            "cycle (framework), %.2f us by hand (bound): %.1fx; pods per node %u..%u (by hand %ld apart); caches %s\n",
            nodes, pods, want, (double) evaluated / (double) pods, us, hus, us / hus, lo, hi, hspread, ev_len ? "swept between cycles" : "warm");
    free (ev_buf);
    for (long k = 0; k < pods; k++) {
        snap_pod_free (ps[k]);
        json_decref (objs[k]);
    }
    free (ps);
    free (objs);
    fw_profile_destroy (&prof);
    snap_destroy (&snap);
    json_decref (keep);
    return 0;
}
