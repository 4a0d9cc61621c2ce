/* cmd_drain — node maintenance, as kubectl's:
 *   cordon NODE | uncordon NODE        spec.unschedulable (the scheduler's NodeUnschedulable)
 *   drain NODE [--force] [--delete-emptydir-data] [--ignore-daemonsets] [--grace-period N]
 *              [--timeout 5m] [--disable-eviction]
 *                                       cordon, then evict what drainplan.h allows, wait for it
 * Eviction is the Eviction API (a create of pods/eviction: the broker spends the pod's
 * PodDisruptionBudget, broker/eviction.h); a refusal (429, the budget has no disruption left) is
 * printed and tried again every 5 s until --timeout, as kubectl. --disable-eviction deletes
 * instead, bypassing budgets, as kubectl's flag. */
#include "cli/cli.h"
#include "cli/drainplan.h"
#include "core/bootstrap.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* A pod the drain evicts: its state, when to try again after a 429, the budget's last refusal. */
typedef struct {
    const json_t *pod;
    enum { EV_TODO, EV_WAIT, EV_DONE } state;
    int64_t next_ms;
    char cause[300];
} evictee_t;

/* One eviction (or, --disable-eviction, a delete) of e->pod: 0 sent or gone, 1 refused for now
 * (429: retried after 5 s, as kubectl), -1 another error (printed). */
static int
evict_one (cli_t *g, evictee_t *e, int disable_eviction, const char *gp)
{
    const char *ns = tv_str (e->pod, "metadata.namespace"), *name = tv_str (e->pod, "metadata.name");
    tr_env_t req, rep;
    tr_env_init (&req);
    snprintf (req.kind, sizeof req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", ns);
    snprintf (req.name, sizeof req.name, "%s", name);
    json_t *grace = gp && atoi (gp) >= 0 ? json_integer (atoi (gp)) : NULL;
    if (disable_eviction) {
        req.verb = TR_VERB_DELETE;
        if (grace)
            req.opts = json_pack ("{s:O}", "gracePeriodSeconds", grace);
    } else {
        /* the Eviction API: a create of pods/eviction (policy/v1 Eviction) */
        req.verb = TR_VERB_CREATE;
        req.opts = json_pack ("{s:s}", "subresource", "eviction");
        req.body = json_pack ("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "policy/v1", "kind", "Eviction", "metadata", "name", name,
                              "namespace", ns);
        if (grace)
            json_object_set_new (req.body, "deleteOptions", json_pack ("{s:O}", "gracePeriodSeconds", grace));
    }
    json_decref (grace);
    int rc = cli_call (g, &req, &rep);
    tr_env_clear (&req);
    if (rc) {
        fprintf (stderr, "error when evicting pods/\"%s\" -n \"%s\": no answer from the server\n", name, ns);
        return -1;
    }
    int out = 0;
    if (rep.code == TR_OK)
        e->state = EV_WAIT;
    else if (rep.code == TR_NOT_FOUND)
        e->state = EV_DONE; /* gone already: nothing to wait for */
    else if (rep.code == TR_TOO_MANY_REQUESTS) {
        fprintf (stderr, "error when evicting pods/\"%s\" -n \"%s\" (will retry after 5s): %s\n", name, ns,
                 rep.msg ? rep.msg : "Too many requests");
        const char *cause = tv_str (json_array_get (tv_get (rep.body, "details.causes"), 0), "message");
        snprintf (e->cause, sizeof e->cause, "%s", cause ? cause : (rep.msg ? rep.msg : ""));
        out = 1;
    } else {
        fprintf (stderr, "error when evicting pods/\"%s\" -n \"%s\": %s\n", name, ns, rep.msg ? rep.msg : tr_code_name (rep.code));
        out = -1;
    }
    tr_env_clear (&rep);
    return out;
}

static int64_t
mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* kubectl's ending of a drain that failed: the pods left (with the budget that refused each, when
 * one did), then the node. */
static int
drain_failed (const char *node, const char *err, const evictee_t *ev, size_t n)
{
    fprintf (stderr, "There are pending pods in node \"%s\" when an error occurred: %s\n", node, err);
    for (size_t i = 0; i < n; i++)
        if (ev[i].pod && ev[i].state != EV_DONE) {
            if (ev[i].cause[0] && ev[i].state == EV_TODO)
                fprintf (stderr, "pod/%s: %s\n", tv_str (ev[i].pod, "metadata.name"), ev[i].cause);
            else
                fprintf (stderr, "pod/%s\n", tv_str (ev[i].pod, "metadata.name"));
        }
    fprintf (stderr, "error: unable to drain node \"%s\" due to error: %s, continuing command...\n", node, err);
    fprintf (stderr, "There are pending nodes to be drained:\n %s\n", node);
    return 1;
}

static int
drain (cli_t *g, int argc, char **argv)
{
    drain_opts_t o = {0};
    o.force = cli_flag (&argc, argv, "--force", NULL);
    o.delete_emptydir = cli_flag (&argc, argv, "--delete-emptydir-data", NULL);
    o.ignore_daemonsets = cli_flag (&argc, argv, "--ignore-daemonsets", NULL);
    int disable_eviction = cli_flag (&argc, argv, "--disable-eviction", NULL);
    const char *gp = cli_opt (&argc, argv, "--grace-period", NULL), *to = cli_opt (&argc, argv, "--timeout", NULL);
    int64_t timeout_ms = tr_duration_parse_ms (to ? to : "0");
    if (argc != 2 || timeout_ms < 0 || (gp && atoi (gp) < -1)) {
        fprintf (stderr, "usage: troupe drain NODE [--force] [--delete-emptydir-data] [--ignore-daemonsets] "
                         "[--grace-period N] [--timeout 5m (0: no limit)] [--disable-eviction]\n");
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
    evictee_t *ev = calloc (cap, sizeof *ev);
    int refused, rc = 1;
    n = drain_plan (pods, &o, items, cap, &refused);
    if (refused) {
        fprintf (stderr, "error: unable to drain node \"%s\" due to error: cannot delete some Pods:\n", node);
        for (size_t i = 0; i < n; i++)
            if (items[i].action == DRAIN_REFUSE)
                fprintf (stderr, "  %s: %s/%s\n", items[i].why, tv_str (items[i].pod, "metadata.namespace"),
                         tv_str (items[i].pod, "metadata.name"));
        fprintf (stderr, "There are pending nodes to be drained:\n %s\n", node);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *p = items[i].pod;
        if (items[i].action == DRAIN_SKIP) {
            printf ("Warning: ignoring %s: %s/%s\n", items[i].why, tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
            continue;
        }
        ev[i].pod = p;
        printf ("evicting pod %s/%s\n", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
    }
    fflush (stdout);
    /* evict each (a 429 from a disruption budget: again every 5 s), then wait for them to be gone,
     * as kubectl does (each "evicted" when it is); --timeout bounds the whole */
    int64_t start = mono_ms ();
    for (;;) {
        int64_t now = mono_ms ();
        for (size_t i = 0; i < n; i++) {
            if (!ev[i].pod || ev[i].state != EV_TODO || ev[i].next_ms > now)
                continue;
            int r = evict_one (g, &ev[i], disable_eviction, gp);
            if (r < 0) {
                char err[400];
                snprintf (err, sizeof err, "error when evicting pods/\"%s\" -n \"%s\"", tv_str (ev[i].pod, "metadata.name"),
                          tv_str (ev[i].pod, "metadata.namespace"));
                drain_failed (node, err, ev, n);
                goto out;
            }
            if (r > 0)
                ev[i].next_ms = mono_ms () + 5000;
        }
        json_t *there = pods_on (g, node);
        if (!there) /* the error is printed: not drained as far as we know */
            goto out;
        size_t left = 0;
        for (size_t i = 0; i < n; i++) {
            if (!ev[i].pod || ev[i].state == EV_DONE)
                continue;
            if (ev[i].state == EV_WAIT) {
                const char *uid = tv_str (ev[i].pod, "metadata.uid");
                int present = 0;
                size_t k;
                json_t *q;
                json_array_foreach (there, k, q) if (uid && tv_str (q, "metadata.uid") && !strcmp (uid, tv_str (q, "metadata.uid")))
                    present = 1;
                if (!present) {
                    printf ("pod/%s evicted\n", tv_str (ev[i].pod, "metadata.name"));
                    ev[i].state = EV_DONE;
                    continue;
                }
            }
            left++;
        }
        json_decref (there);
        fflush (stdout);
        if (!left)
            break;
        if (timeout_ms && mono_ms () - start >= timeout_ms) {
            char err[200];
            snprintf (err, sizeof err, "drain did not complete within %s", to);
            drain_failed (node, err, ev, n);
            goto out;
        }
        usleep (500000);
    }
    printf ("node/%s drained\n", node);
    rc = 0;
out:
    free (ev);
    free (items);
    json_decref (pods);
    return rc;
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
