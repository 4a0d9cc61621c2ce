/* bench_proxy — Service programming (issue 8): 1,000 Services × 10 endpoints in table ip
 * troupe-proxy, in a network namespace of its own (root). Measures, in one run:
 *   - one endpoint change → the rule in the kernel, as the proxy does it: the model rebuilt from
 *     every Service and EndpointSlice, diffed with the last one, the small transaction applied
 *     through libnftables (p50/p99 over ROUNDS changes, and the transaction's size);
 *   - the same rule set written whole: `nft -f` of the full table (delete + create, one
 *     transaction, the nft binary as an administrator would), and through libnftables.
 * Usage: bench_proxy [services] [endpoints] [rounds]   (defaults 1000 10 200) */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actors/proxy/proxynft.h"
#include "actors/proxy/proxyrules.h"

static double
now_ms (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int
cmp_d (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
pct (double *v, int n, double p)
{
    qsort (v, (size_t) n, sizeof *v, cmp_d);
    int i = (int) (p * (n - 1) + 0.5);
    return v[i];
}

static json_t *
slice_of (int s, int neps, int gen)
{
    char name[32];
    snprintf (name, sizeof name, "svc%d", s);
    json_t *eps = json_array ();
    for (int e = 0; e < neps; e++) {
        char ip[64];
        /* generation gen moves endpoint 0 to a new address */
        snprintf (ip, sizeof ip, "10.%d.%d.%d", 128 + (s / 250), (s % 250), e == 0 ? 10 + gen % 200 : 220 + e);
        json_array_append_new (eps, json_pack ("{s:[s], s:{s:b}}", "addresses", ip, "conditions", "ready", 1));
    }
    return json_pack ("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:o, s:[{s:s, s:s, s:i}]}", "apiVersion",
                      "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "namespace", "default", "name", name,
                      "labels", "kubernetes.io/service-name", name, "addressType", "IPv4", "endpoints", eps, "ports",
                      "name", "http", "protocol", "TCP", "port", 8080);
}

int
main (int argc, char **argv)
{
    int nsvc = argc > 1 ? atoi (argv[1]) : 1000, neps = argc > 2 ? atoi (argv[2]) : 10;
    int rounds = argc > 3 ? atoi (argv[3]) : 200;
    if (geteuid () != 0 || unshare (CLONE_NEWNET)) {
        fprintf (stderr, "bench_proxy: needs root (a network namespace of its own)\n");
        return 77;
    }
    json_t *ss = json_array (), *sl = json_array ();
    for (int s = 0; s < nsvc; s++) {
        char name[32], ip[24];
        snprintf (name, sizeof name, "svc%d", s);
        snprintf (ip, sizeof ip, "10.96.%d.%d", s / 250, 1 + s % 250);
        json_array_append_new (
            ss, json_pack ("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:s, s:i, s:i, s:i}]}}", "apiVersion", "v1",
                           "kind", "Service", "metadata", "namespace", "default", "name", name, "spec", "type", "NodePort",
                           "clusterIP", ip, "ports", "name", "http", "protocol", "TCP", "port", 80, "targetPort", 8080,
                           "nodePort", 30000 + s));
        json_array_append_new (sl, slice_of (s, neps, 0));
    }
    char err[2048];
    pr_model_t *cur = NULL;
    double t0 = now_ms ();
    pr_model_t *m = pr_model_build (ss, sl, "10.128.0.0/9", NULL);
    if (pn_sync (&cur, m, NULL, err, sizeof err)) {
        fprintf (stderr, "initial sync: %s\n", err);
        return 1;
    }
    double initial = now_ms () - t0;
    size_t chains = cur->nchains, elems = cur->nelems;

    /* one endpoint change at a time, the proxy's whole path */
    double *tot = calloc ((size_t) rounds, sizeof *tot), *bld = calloc ((size_t) rounds, sizeof *bld),
           *app = calloc ((size_t) rounds, sizeof *app);
    long lines_sum = 0;
    srand (42);
    for (int r = 0; r < rounds; r++) {
        int s = rand () % nsvc;
        json_array_set_new (sl, (size_t) s, slice_of (s, neps, r + 1));
        double a = now_ms ();
        m = pr_model_build (ss, sl, "10.128.0.0/9", NULL);
        double b = now_ms ();
        int lines = 0;
        if (pn_sync (&cur, m, &lines, err, sizeof err)) {
            fprintf (stderr, "sync: %s\n", err);
            return 1;
        }
        double c = now_ms ();
        tot[r] = c - a;
        bld[r] = b - a;
        app[r] = c - b;
        lines_sum += lines;
    }

    /* the whole table written at once: nft -f (the binary) and libnftables */
    char *full = pr_diff (NULL, cur);
    char path[] = "/tmp/bench-proxy-XXXXXX";
    int fd = mkstemp (path);
    FILE *f = fd >= 0 ? fdopen (fd, "w") : NULL;
    if (!f || !full)
        return 1;
    fprintf (f, "add table ip %s\ndelete table ip %s\n%s", PR_TABLE, PR_TABLE, full);
    fclose (f);
    enum { FULL = 5 };
    double nftf[FULL], lib[FULL];
    for (int i = 0; i < FULL; i++) {
        char cmd[200];
        snprintf (cmd, sizeof cmd, "nft -f %s", path);
        double a = now_ms ();
        if (system (cmd)) {
            fprintf (stderr, "nft -f failed\n");
            return 1;
        }
        nftf[i] = now_ms () - a;
        char *buf = NULL;
        if (asprintf (&buf, "add table ip %s\ndelete table ip %s\n%s", PR_TABLE, PR_TABLE, full) < 0)
            return 1;
        a = now_ms ();
        if (pn_apply (buf, err, sizeof err)) {
            fprintf (stderr, "full apply: %s\n", err);
            return 1;
        }
        lib[i] = now_ms () - a;
        free (buf);
    }
    size_t full_lines = 0;
    for (const char *p = full; *p; p++)
        full_lines += *p == '\n';
    unlink (path);
    printf ("bench_proxy: %d Services x %d endpoints (NodePort, ClusterIP): %zu chains, %zu map elements, %zu commands\n",
            nsvc, neps, chains, elems, full_lines);
    printf ("  initial table (empty -> full, libnftables)        %8.1f ms\n", initial);
    printf ("  one endpoint change -> in the kernel (%d rounds)   p50 %6.1f ms  p99 %6.1f ms  (%.1f commands each)\n",
            rounds, pct (tot, rounds, 0.5), pct (tot, rounds, 0.99), (double) lines_sum / rounds);
    printf ("    of which: model rebuilt from all objects        p50 %6.1f ms  p99 %6.1f ms\n", pct (bld, rounds, 0.5),
            pct (bld, rounds, 0.99));
    printf ("              diff + transaction (libnftables)     p50 %6.1f ms  p99 %6.1f ms\n", pct (app, rounds, 0.5),
            pct (app, rounds, 0.99));
    printf ("  full rewrite, nft -f (%d runs)                      p50 %6.1f ms  max %6.1f ms\n", FULL, pct (nftf, FULL, 0.5),
            pct (nftf, FULL, 1.0));
    printf ("  full rewrite, libnftables (%d runs)                 p50 %6.1f ms  max %6.1f ms\n", FULL, pct (lib, FULL, 0.5),
            pct (lib, FULL, 1.0));
    pn_delete (err, sizeof err);
    pr_model_free (&cur);
    free (full);
    free (tot);
    free (bld);
    free (app);
    json_decref (ss);
    json_decref (sl);
    return 0;
}
