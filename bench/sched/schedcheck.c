/* schedcheck — validates every placement of a cluster (bench/sched/placecheck.h says what):
 *
 *   troupe get pods -A -o json > pods.json; troupe get nodes -o json > nodes.json
 *   troupe get events -A -o json > events.json          # optional: the bound-once check
 *   schedcheck --pods pods.json --nodes nodes.json [--events events.json] [--max N]
 *
 * Exit 0 with one summary line; 1 with a line per violation (pod, node, rule, detail) and the
 * summary; 2 on bad usage or unreadable input. */
#include "bench/sched/placecheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
load (const char *path)
{
    json_error_t e;
    json_t *v = !strcmp (path, "-") ? json_loadf (stdin, 0, &e) : json_load_file (path, 0, &e);
    if (!v)
        fprintf (stderr, "schedcheck: %s: %s (line %d)\n", path, e.text, e.line);
    return v;
}

int
main (int argc, char **argv)
{
    const char *pods_p = NULL, *nodes_p = NULL, *events_p = NULL;
    long max = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv[i], "--pods") && i + 1 < argc)
            pods_p = argv[++i];
        else if (!strcmp (argv[i], "--nodes") && i + 1 < argc)
            nodes_p = argv[++i];
        else if (!strcmp (argv[i], "--events") && i + 1 < argc)
            events_p = argv[++i];
        else if (!strcmp (argv[i], "--max") && i + 1 < argc)
            max = strtol (argv[++i], NULL, 10);
        else {
            fprintf (stderr, "usage: schedcheck --pods FILE --nodes FILE [--events FILE] [--max N]\n"
                             "  FILE: `troupe get ... -o json` output (a List), or - for stdin\n");
            return 2;
        }
    }
    if (!pods_p || !nodes_p) {
        fprintf (stderr, "schedcheck: --pods and --nodes are required\n");
        return 2;
    }
    json_t *pods = load (pods_p), *nodes = pods ? load (nodes_p) : NULL, *events = NULL;
    if (!pods || !nodes)
        return 2;
    if (events_p && !(events = load (events_p)))
        return 2;
    pc_result_t r;
    char err[256] = "";
    int n = pc_check (pods, nodes, events, &r, err, sizeof err);
    if (n < 0) {
        fprintf (stderr, "schedcheck: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < r.nviol && (long) i < max; i++)
        printf ("VIOLATION pod=%s node=%s rule=%s: %s\n", r.viol[i].pod, r.viol[i].node, r.viol[i].rule, r.viol[i].detail);
    if ((long) r.nviol > max)
        printf ("... and %zu more\n", r.nviol - (size_t) max);
    char once[128];
    if (r.events_checked)
        snprintf (once, sizeof once, "%zu/%zu bound pods have a Scheduled event", r.with_scheduled_event, r.bound);
    else
        snprintf (once, sizeof once, "bound-once not checked (no --events)");
    printf ("schedcheck: %s: %zu pods (%zu bound, %zu pending, %zu terminated) on %zu nodes; %zu violations "
            "(end state: resources, nodeSelector, nodeAffinity, taints, pod (anti-)affinity, topology spread); %s%s\n",
            r.nviol ? "FAIL" : "OK", r.pods, r.bound, r.pending, r.terminated, r.nodes, r.nviol, once,
            r.unchecked_terms ? "; some terms with a namespaceSelector not checked" : "");
    if (r.balance_nodes)
        printf ("schedcheck: balance: cpu requested per schedulable node: min %.1f%% mean %.1f%% max %.1f%% stddev "
                "%.2f%% over %zu nodes\n",
                100 * r.cpu_min, 100 * r.cpu_mean, 100 * r.cpu_max, 100 * r.cpu_sd, r.balance_nodes);
    int rc = r.nviol ? 1 : 0;
    pc_result_clear (&r);
    json_decref (pods);
    json_decref (nodes);
    json_decref (events);
    return rc;
}
