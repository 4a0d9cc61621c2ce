/* bench_dns — the cluster DNS's answer path and sockets (actors/dns: dnsanswer + dnsserve, as the
 * dns actor runs them, without the informers) serving N ClusterIP Services, for bench/net/dns/run.sh
 * to measure with dnsperf against nsd serving the same names from a zone file.
 * Writes the zone (cluster.local, one A per Service) and a dnsperf query file (the Services' A,
 * one in ten an unknown name: NXDOMAIN), prints "ready PORT" and serves on 127.0.0.1:PORT in one
 * thread until SIGTERM/SIGINT, then prints its counters as JSON.
 * usage: bench_dns --n N --port PORT --zone FILE --queries FILE */
#include "actors/dns/dnsserve.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fds[4096], nfds;
static volatile sig_atomic_t stop;

static void
watch (void *arg, int fd, int on)
{
    (void) arg;
    if (on)
        fds[nfds++] = fd;
    else
        for (int i = 0; i < nfds; i++)
            if (fds[i] == fd) {
                fds[i] = fds[--nfds];
                return;
            }
}

static void
on_signal (int sig)
{
    (void) sig;
    stop = 1;
}

static const char *
arg (int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp (argv[i], name))
            return argv[i + 1];
    return dflt;
}

int
main (int argc, char **argv)
{
    int n = atoi (arg (argc, argv, "--n", "1000"));
    int port = atoi (arg (argc, argv, "--port", "0"));
    const char *zone = arg (argc, argv, "--zone", NULL), *queries = arg (argc, argv, "--queries", NULL);
    if (n < 1 || n > 60000 || !zone || !queries) {
        fprintf (stderr, "usage: bench_dns --n N --port PORT --zone FILE --queries FILE\n");
        return 2;
    }
    dns_view_t *view = dns_view_new ("cluster.local");
    FILE *z = fopen (zone, "w"), *q = fopen (queries, "w");
    if (!z || !q) {
        perror ("open");
        return 1;
    }
    fprintf (z, "$ORIGIN cluster.local.\n$TTL 5\n@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n"
                "@ IN NS ns.dns.cluster.local.\nns.dns IN A 10.96.0.10\n");
    for (int i = 0; i < n; i++) {
        char name[64], ns[32], ip[32];
        snprintf (name, sizeof name, "svc-%d", i);
        snprintf (ns, sizeof ns, "ns-%d", i % 10);
        snprintf (ip, sizeof ip, "10.96.%d.%d", 1 + i / 250, 1 + i % 250);
        json_t *svc = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:[s],s:[{s:s,s:i}]}}", "apiVersion", "v1", "kind", "Service", "metadata",
                                 "name", name, "namespace", ns, "spec", "clusterIP", ip, "clusterIPs", ip, "ports", "name", "http",
                                 "port", 80);
        dns_view_put (view, "Service", svc);
        json_decref (svc);
        fprintf (z, "%s.%s.svc IN A %s\n", name, ns, ip);
        fprintf (q, "%s.%s.svc.cluster.local A\n", name, ns);
        if (i % 9 == 8)
            fprintf (q, "nosuch-%d.%s.svc.cluster.local A\n", i, ns);
    }
    fclose (z);
    fclose (q);
    dnsserve_opts_t o = {.ip = "127.0.0.1", .port = port, .watch = watch};
    char err[256];
    dnsserve_t *srv = dnsserve_new (view, &o, err, sizeof err);
    if (!srv) {
        fprintf (stderr, "bench_dns: %s\n", err);
        return 1;
    }
    signal (SIGTERM, on_signal);
    signal (SIGINT, on_signal);
    printf ("ready %d\n", dnsserve_port (srv));
    fflush (stdout);
    while (!stop) {
        struct pollfd p[4096];
        int k = nfds;
        for (int i = 0; i < k; i++)
            p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (poll (p, (nfds_t) k, 100) > 0)
            for (int i = 0; i < k; i++)
                if (p[i].revents)
                    dnsserve_readable (srv, p[i].fd);
        dnsserve_tick (srv, 0);
    }
    dnsserve_stats_t st = dnsserve_stats (srv);
    printf ("{\"udp\": %llu, \"tcp\": %llu, \"forwarded\": %llu, \"dropped\": %llu}\n", (unsigned long long) st.udp,
            (unsigned long long) st.tcp, (unsigned long long) st.forwarded, (unsigned long long) st.dropped);
    dnsserve_destroy (&srv);
    dns_view_destroy (&view);
    return 0;
}
