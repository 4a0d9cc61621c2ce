/* bench_lease — what node heartbeats cost a replicated store: N nodes renewing their Lease every
 * interval (5,000 every 10 s = 500 renewals/s), through a real broker on the Raft leader of 1, 3
 * or 5 in-process members (libraft log with fsync, LMDB, CURVE peers on loopback).
 *
 *   build/bench_lease [--members 3] [--leases 5000] [--interval 10] [--seconds 30] [--checkpoint 300]
 *
 * Two runs, same parameters, fresh data each: "write" — every renewal is an ordinary write, one
 * Raft entry (what Kubernetes does with etcd: the bound) — and "memory" — renewals held in the
 * leader's memory, a lease written at most once per --checkpoint seconds (raft_lease.c). For
 * each: the renewal rate reached, Raft entries appended per second, bytes the process wrote
 * (all members: /proc/self/io wchar and write_bytes), CPU used (getrusage, % of one core), and
 * renewal latency p50/p99. The leases are created before the measured window; the window
 * starts after one interval of renewals, so every lease has been renewed once.
 */
#include "bench/bench_cluster.h"
#include "broker/broker.h"
#include "core/actor.h"
#include "core/client.h"
#include "core/meta.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
cpu_s (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* /proc/self/io field (wchar, write_bytes) */
static unsigned long long
io_field (const char *name)
{
    FILE *f = fopen ("/proc/self/io", "r");
    unsigned long long v = 0;
    char line[128];
    size_t n = strlen (name);
    while (f && fgets (line, sizeof line, f))
        if (!strncmp (line, name, n) && line[n] == ':')
            v = strtoull (line + n + 1, NULL, 10);
    if (f)
        fclose (f);
    return v;
}

typedef struct {
    json_t *obj;   /* the Lease as last written */
    double sent;   /* 0: no request in flight */
} lease_t;

static int members = 3, nleases = 5000;
static double interval = 10, seconds = 30, checkpoint = 300;

static void
send_renewal (tr_client_t *c, lease_t *l, int i, uint64_t *ids)
{
    char now[40];
    tr_time_format (troupe_now_ms (), now, sizeof now);
    tr_env_t req;
    tr_env_init (&req);
    strcpy (req.kind, "Lease");
    strcpy (req.ns, "kube-node-lease");
    snprintf (req.name, sizeof req.name, "n%d", i);
    if (!l->obj) {
        req.verb = TR_VERB_CREATE;
        req.body = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                              "Lease", "metadata", "name", req.name, "namespace", "kube-node-lease", "spec",
                              "holderIdentity", req.name, "leaseDurationSeconds", 40, "renewTime", now);
    } else {
        req.verb = TR_VERB_UPDATE;
        req.body = json_deep_copy (l->obj);
        tv_set_str (req.body, "spec.renewTime", now);
    }
    tr_client_send (c, &req);
    ids[i] = req.id;
    l->sent = bc_now ();
    tr_env_clear (&req);
}

/* One run: returns 0, prints one line. */
static int
run (const char *mode, int ckpt_ms)
{
    bc_cluster_t bc;
    if (bc_start_with (&bc, members, ckpt_ms)) {
        bc_stop (&bc);
        return 1;
    }
    broker_opts_t bo = {.store_endpoint = bc.eps[0], .local_endpoints = "inproc://bench-lease-broker",
                        .replicated = 1};
    zactor_t *broker = broker_new (&bo);
    char err[256];
    tr_client_t *c = tr_client_new ("inproc://bench-lease-broker", NULL, err, sizeof err);
    if (!broker || !c) {
        fprintf (stderr, "broker: %s\n", err);
        return 1;
    }
    zclock_sleep (1000); /* namespaces */
    lease_t *ls = calloc ((size_t) nleases, sizeof *ls);
    uint64_t *ids = calloc ((size_t) nleases, sizeof *ids);
    size_t cap = (size_t) (nleases * (seconds / interval + 2)) + 16, nlat = 0;
    double *lat = malloc (cap * sizeof *lat);
    long errors = 0, renewals = 0;
    /* lease i is due at t0 + (i / nleases + k) * interval: an even stream */
    double t0 = bc_now (), warm = t0 + interval, end = warm + seconds;
    double win_start = 0, cpu0 = 0;
    unsigned long long wchar0 = 0, wbytes0 = 0;
    uint64_t idx0 = 0;
    int next = 0, round = 0, inflight = 0, measuring = 0;
    while (1) {
        double t = bc_now ();
        if (!measuring && t >= warm) {
            measuring = 1;
            win_start = t;
            cpu0 = cpu_s ();
            wchar0 = io_field ("wchar");
            wbytes0 = io_field ("write_bytes");
            idx0 = bc_status_u64 (&bc, 0, "lastIndex");
        }
        if (t >= end && !inflight)
            break;
        double due = t0 + ((double) next / nleases + round) * interval;
        while (t < end && due <= t) {
            if (!ls[next].sent)
                send_renewal (c, &ls[next], next, ids), inflight++;
            if (++next == nleases)
                next = 0, round++;
            due = t0 + ((double) next / nleases + round) * interval;
        }
        int wait_ms = (int) ((due - bc_now ()) * 1000);
        tr_env_t rep;
        if (tr_client_recv (c, &rep, wait_ms < 1 ? 1 : wait_ms > 50 ? 50 : wait_ms) != 0)
            continue;
        /* which lease: the reply's name */
        const char *name = tv_str (rep.body, "metadata.name");
        int i = name && name[0] == 'n' ? atoi (name + 1) : -1;
        if (i < 0 || i >= nleases || ids[i] != rep.id) {
            /* an error reply carries no body: find it by id */
            for (i = 0; i < nleases && ids[i] != rep.id; i++)
                ;
        }
        if (i < nleases && ls[i].sent) {
            double done = bc_now ();
            if (rep.code == TR_OK && json_is_object (rep.body)) {
                json_decref (ls[i].obj);
                ls[i].obj = json_deep_copy (rep.body);
            } else {
                errors++;
                json_decref (ls[i].obj);
                ls[i].obj = NULL; /* recreate: a Conflict would not heal by itself */
            }
            if (measuring && ls[i].sent >= win_start) {
                renewals++;
                if (nlat < cap)
                    lat[nlat++] = done - ls[i].sent;
            }
            ls[i].sent = 0;
            inflight--;
        }
        tr_env_clear (&rep);
    }
    double secs = bc_now () - win_start, cpu = cpu_s () - cpu0;
    uint64_t entries = bc_status_u64 (&bc, 0, "lastIndex") - idx0;
    double wchar = (double) (io_field ("wchar") - wchar0), wbytes = (double) (io_field ("write_bytes") - wbytes0);
    qsort (lat, nlat, sizeof *lat, bc_cmpd);
    printf ("troupe-lease mode=%s members=%d leases=%d interval_s=%.0f checkpoint_s=%.0f renewals/s=%.0f entries/s=%.1f "
            "wchar_MB/s=%.2f write_bytes_MB/s=%.2f cpu_pct=%.1f p50_ms=%.3f p99_ms=%.3f errors=%ld\n",
            mode, members, nleases, interval, ckpt_ms > 0 ? ckpt_ms / 1000.0 : 0, renewals / secs, entries / secs,
            wchar / secs / 1e6, wbytes / secs / 1e6, 100 * cpu / secs, nlat ? lat[nlat / 2] * 1e3 : 0,
            nlat ? lat[nlat * 99 / 100] * 1e3 : 0, errors);
    fflush (stdout);
    for (int i = 0; i < nleases; i++)
        json_decref (ls[i].obj);
    free (ls);
    free (ids);
    free (lat);
    tr_client_destroy (&c);
    zactor_destroy (&broker);
    return bc_stop (&bc) ? 1 : 0;
}

static void
usage (void)
{
    fprintf (stderr, "usage: bench_lease [--members 3] [--leases 5000] [--interval 10] [--seconds 30] [--checkpoint 300]\n");
    exit (2);
}

int
main (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage ();
        if (!strcmp (argv[i], "--members"))
            members = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--leases"))
            nleases = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--interval"))
            interval = atof (argv[++i]);
        else if (!strcmp (argv[i], "--seconds"))
            seconds = atof (argv[++i]);
        else if (!strcmp (argv[i], "--checkpoint"))
            checkpoint = atof (argv[++i]);
        else
            usage ();
    }
    if (members < 1 || members > 7 || nleases < 1 || interval <= 0 || seconds <= 0 || checkpoint < 1)
        usage ();
    zsys_init ();
    zsys_set_logstream (NULL);
    setenv ("TROUPE_LOG", "warn", 0);
    if (run ("write", -1) || run ("memory", (int) (checkpoint * 1000)))
        return 1;
    return 0;
}
