/* cmd_drain — node maintenance, as kubectl's:
 *   cordon NODE | uncordon NODE        spec.unschedulable (the scheduler's NodeUnschedulable)
 *   drain NODE [--force] [--delete-emptydir-data] [--ignore-daemonsets] [--grace-period N]
 *              [--timeout 5m]           cordon, then evict what drainplan.h allows, wait for it
 * Troupe has no PodDisruptionBudget kind yet, so eviction is a graceful delete (the Eviction API
 * without a budget to respect). */
#include "cli/cli.h"
#include "cli/drainplan.h"
#include "core/bootstrap.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
set_unschedulable (cli_t *g, const char *node, int on, int quiet)
{
    json_t *n = cli_do (g, TR_VERB_GET, "Node", NULL, node, NULL, NULL, NULL);
    if (!n)
        return 1;
    int was = json_is_true (tv_get (n, "spec.unschedulable"));
    json_decref (n);
    if (was == on) {
        if (!quiet)
            printf ("node/%s already %s\n", node, on ? "cordoned" : "uncordoned");
        return 0;
    }
    json_t *done = cli_do (g, TR_VERB_PATCH, "Node", NULL, node, json_pack ("{s:{s:b}}", "spec", "unschedulable", on), NULL, NULL);
    if (!done)
        return 1;
    json_decref (done);
    printf ("node/%s %s\n", node, on ? "cordoned" : "uncordoned");
    return 0;
}

static json_t *
pods_on (cli_t *g, const char *node)
{
    char fs[300];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", node);
    json_t *list = cli_do (g, TR_VERB_LIST, "Pod", NULL, NULL, NULL, json_pack ("{s:s}", "fieldSelector", fs), NULL);
    json_t *items = list ? json_incref (json_object_get (list, "items")) : NULL;
    json_decref (list);
    return items;
}

static int
drain (cli_t *g, int argc, char **argv)
{
    drain_opts_t o = {0};
    o.force = cli_flag (&argc, argv, "--force", NULL);
    o.delete_emptydir = cli_flag (&argc, argv, "--delete-emptydir-data", NULL);
    o.ignore_daemonsets = cli_flag (&argc, argv, "--ignore-daemonsets", NULL);
    const char *gp = cli_opt (&argc, argv, "--grace-period", NULL), *to = cli_opt (&argc, argv, "--timeout", NULL);
    int64_t timeout_ms = tr_duration_parse_ms (to ? to : "0");
    if (argc != 2 || timeout_ms < 0 || (gp && atoi (gp) < -1)) {
        fprintf (stderr, "usage: troupe drain NODE [--force] [--delete-emptydir-data] [--ignore-daemonsets] "
                         "[--grace-period N] [--timeout 5m (0: no limit)]\n");
        return 2;
    }
    const char *node = argv[1];
    if (set_unschedulable (g, node, 1, 0))
        return 1;
    json_t *pods = pods_on (g, node);
    if (!pods)
        return 1;
    size_t cap = json_array_size (pods) + 1, n;
    drain_item_t *items = calloc (cap, sizeof *items);
    int refused;
    n = drain_plan (pods, &o, items, cap, &refused);
    if (refused) {
        fprintf (stderr, "error: unable to drain node \"%s\" due to error: cannot delete some Pods:\n", node);
        for (size_t i = 0; i < n; i++)
            if (items[i].action == DRAIN_REFUSE)
                fprintf (stderr, "  %s: %s/%s\n", items[i].why, tv_str (items[i].pod, "metadata.namespace"),
                         tv_str (items[i].pod, "metadata.name"));
        fprintf (stderr, "There are pending nodes to be drained:\n %s\n", node);
        free (items);
        json_decref (pods);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *p = items[i].pod;
        if (items[i].action == DRAIN_SKIP) {
            printf ("Warning: ignoring %s: %s/%s\n", items[i].why, tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
            continue;
        }
        printf ("evicting pod %s/%s\n", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
        int code;
        json_t *gone = cli_do (g, TR_VERB_DELETE, "Pod", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"), NULL,
                               gp && atoi (gp) >= 0 ? json_pack ("{s:i}", "gracePeriodSeconds", atoi (gp)) : NULL, &code);
        json_decref (gone);
        if (!gone && code != TR_NOT_FOUND) {
            free (items);
            json_decref (pods);
            return 1;
        }
    }
    /* wait for them to be gone, as kubectl does (each "evicted" when it is) */
    int64_t waited = 0;
    for (;;) {
        json_t *now = pods_on (g, node);
        if (!now) { /* the error is printed: not drained as far as we know */
            free (items);
            json_decref (pods);
            return 1;
        }
        size_t left = 0;
        for (size_t i = 0; i < n; i++) {
            if (items[i].action != DRAIN_EVICT || !items[i].pod)
                continue;
            const char *uid = tv_str (items[i].pod, "metadata.uid");
            int there = 0;
            size_t k;
            json_t *q;
            json_array_foreach (now, k, q) if (uid && tv_str (q, "metadata.uid") && !strcmp (uid, tv_str (q, "metadata.uid"))) there = 1;
            if (there)
                left++;
            else {
                printf ("pod/%s evicted\n", tv_str (items[i].pod, "metadata.name"));
                items[i].pod = NULL;
            }
        }
        json_decref (now);
        fflush (stdout);
        if (!left)
            break;
        if (timeout_ms && waited >= timeout_ms) {
            fprintf (stderr, "error: unable to drain node \"%s\": %zu pods not gone after %s\n", node, left, to);
            free (items);
            json_decref (pods);
            return 1;
        }
        usleep (500000);
        waited += 500;
    }
    free (items);
    json_decref (pods);
    printf ("node/%s drained\n", node);
    return 0;
}

int
cmd_cordon (cli_t *g, int argc, char **argv)
{
    int on = !strcmp (argv[0], "cordon");
    if (!strcmp (argv[0], "drain"))
        return drain (g, argc, argv);
    if (argc != 2) {
        fprintf (stderr, "usage: troupe %s NODE\n", argv[0]);
        return 2;
    }
    return set_unschedulable (g, argv[1], on, 0);
}
