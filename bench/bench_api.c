/* bench_api — create/get/list/watch through the real broker + store (in one process, over
 * inproc and ipc), beside raw LMDB puts measured in the same run on the same disk.
 *
 *   build/bench_api [--n 2000] [--dir /tmp]
 *
 * Prints ops/s and p50/p99 latency per operation and the ratio to raw LMDB (one put per
 * transaction with fsync, the bound for a durable acknowledged write on this disk).
 */
#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "core/client.h"
#include "core/value.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
cmpd (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
report (const char *what, double *lat, int n, double secs, double bound)
{
    qsort (lat, (size_t) n, sizeof *lat, cmpd);
    double rate = n / secs;
    printf ("%-28s %9.0f ops/s   p50 %7.3f ms   p99 %7.3f ms", what, rate, lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3);
    if (bound > 0)
        printf ("   %.2fx raw LMDB fsync put", rate / bound);
    printf ("\n");
}

static double
raw_lmdb (const char *dir, int n)
{
    MDB_env *env;
    mdb_env_create (&env);
    mdb_env_set_mapsize (env, 1u << 30);
    if (mdb_env_open (env, dir, 0, 0600)) {
        fprintf (stderr, "lmdb open failed\n");
        exit (1);
    }
    MDB_dbi dbi;
    MDB_txn *txn;
    mdb_txn_begin (env, NULL, 0, &txn);
    mdb_dbi_open (txn, NULL, 0, &dbi);
    mdb_txn_commit (txn);
    char val[256];
    memset (val, 'x', sizeof val);
    double t0 = now_s ();
    for (int i = 0; i < n; i++) {
        char k[64];
        snprintf (k, sizeof k, "/registry/configmaps/default/raw-%d", i);
        MDB_val key = {strlen (k), k}, v = {sizeof val, val};
        mdb_txn_begin (env, NULL, 0, &txn);
        mdb_put (txn, dbi, &key, &v, 0);
        mdb_txn_commit (txn);
    }
    double rate = n / (now_s () - t0);
    mdb_env_close (env);
    return rate;
}

int
main (int argc, char **argv)
{
    int n = 2000;
    const char *base = "/tmp";
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp (argv[i], "--n"))
            n = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--dir"))
            base = argv[++i];
    }
    char dir[512], raw[600], store[600], ep[700];
    snprintf (dir, sizeof dir, "%s/bench-api-XXXXXX", base);
    if (!mkdtemp (dir))
        return 1;
    snprintf (raw, sizeof raw, "%s/raw", dir);
    snprintf (store, sizeof store, "%s/store", dir);
    mkdir (raw, 0700);
    mkdir (store, 0700);
    snprintf (ep, sizeof ep, "inproc://bench-broker,ipc://%s/b.sock", dir);
    setenv ("TROUPE_LOG", "warn", 1);

    double bound = raw_lmdb (raw, n);
    printf ("machine: %ld cpus; n=%d; data in %s\n", sysconf (_SC_NPROCESSORS_ONLN), n, dir);
    printf ("%-28s %9.0f ops/s   (one put per fsync'd transaction)\n", "raw LMDB put", bound);

    zactor_t *st = store_actor_new (store, "inproc://bench-store");
    broker_opts_t bo = {.store_endpoint = "inproc://bench-store", .local_endpoints = ep};
    zactor_t *br = st ? broker_new (&bo) : NULL;
    if (!br) {
        fprintf (stderr, "cannot start broker/store\n");
        return 1;
    }
    char err[256], ipc[700];
    snprintf (ipc, sizeof ipc, "ipc://%s/b.sock", dir);
    tr_client_t *c = tr_client_new (ipc, NULL, err, sizeof err);
    tr_client_t *w = tr_client_new (ipc, NULL, err, sizeof err);
    double *lat = calloc ((size_t) n, sizeof *lat);

    /* a watcher on ConfigMaps, to measure fan-out delivery of the creates below */
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    req.opts = json_pack ("{s:i}", "credit", 1 << 30);
    tr_client_call (w, &req, &rep, 5000);
    tr_env_clear (&req);
    tr_env_clear (&rep);

    double t0 = now_s ();
    for (int i = 0; i < n; i++) {
        tr_env_init (&req);
        req.verb = TR_VERB_CREATE;
        strcpy (req.kind, "ConfigMap");
        strcpy (req.ns, "default");
        char name[64];
        snprintf (name, sizeof name, "cm-%d", i);
        req.body = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                              "name", name, "data", "k", "0123456789abcdef0123456789abcdef");
        double s = now_s ();
        if (tr_client_call (c, &req, &rep, 10000) || rep.code != TR_OK) {
            fprintf (stderr, "create failed at %d: %s\n", i, rep.msg ? rep.msg : "timeout");
            return 1;
        }
        lat[i] = now_s () - s;
        tr_env_clear (&req);
        tr_env_clear (&rep);
    }
    report ("create (1 client, fsync)", lat, n, now_s () - t0, bound);

    /* 16 clients with one request each in flight: the store commits what is queued together */
    enum { NC = 16 };
    tr_client_t *cs[NC];
    for (int k = 0; k < NC; k++)
        cs[k] = tr_client_new (ipc, NULL, err, sizeof err);
    int rounds = n / NC;
    t0 = now_s ();
    for (int r = 0; r < rounds; r++) {
        double sent[NC];
        uint64_t ids[NC];
        for (int k = 0; k < NC; k++) {
            tr_env_init (&req);
            req.verb = TR_VERB_CREATE;
            strcpy (req.kind, "ConfigMap");
            strcpy (req.ns, "default");
            char name[64];
            snprintf (name, sizeof name, "cc-%d-%d", r, k);
            req.body = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                                  "name", name, "data", "k", "0123456789abcdef0123456789abcdef");
            sent[k] = now_s ();
            tr_client_send (cs[k], &req);
            ids[k] = req.id;
            tr_env_clear (&req);
        }
        for (int k = 0; k < NC; k++) {
            for (;;) {
                if (tr_client_recv (cs[k], &rep, 10000)) {
                    fprintf (stderr, "concurrent create timed out\n");
                    return 1;
                }
                int mine = rep.id == ids[k] && rep.verb == TR_VERB_REPLY;
                if (mine && rep.code != TR_OK) {
                    fprintf (stderr, "concurrent create failed: %s\n", rep.msg ? rep.msg : "");
                    return 1;
                }
                tr_env_clear (&rep);
                if (mine)
                    break;
            }
            lat[r * NC + k] = now_s () - sent[k];
        }
    }
    report ("create (16 clients, fsync)", lat, rounds * NC, now_s () - t0, bound);
    for (int k = 0; k < NC; k++)
        tr_client_destroy (&cs[k]);

    /* the watcher should have every create: count them */
    int seen = 0;
    double ws = now_s ();
    int expected = n + rounds * NC; /* the concurrent creates are ConfigMaps too */
    while (seen < expected && now_s () - ws < 10) {
        tr_env_t ev;
        if (tr_client_recv (w, &ev, 1000) == 0 && ev.verb == TR_VERB_EVENT)
            seen++;
        tr_env_clear (&ev);
    }
    printf ("%-28s %9d of %d events delivered\n", "watch", seen, expected);

    t0 = now_s ();
    for (int i = 0; i < n; i++) {
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        strcpy (req.kind, "ConfigMap");
        strcpy (req.ns, "default");
        snprintf (req.name, sizeof req.name, "cm-%d", i);
        double s = now_s ();
        if (tr_client_call (c, &req, &rep, 10000) || rep.code != TR_OK)
            return 1;
        lat[i] = now_s () - s;
        tr_env_clear (&req);
        tr_env_clear (&rep);
    }
    report ("get (1 client)", lat, n, now_s () - t0, bound);

    int lists = n / 20 > 10 ? n / 20 : 10;
    t0 = now_s ();
    for (int i = 0; i < lists; i++) {
        tr_env_init (&req);
        req.verb = TR_VERB_LIST;
        strcpy (req.kind, "ConfigMap");
        double s = now_s ();
        if (tr_client_call (c, &req, &rep, 10000) || rep.code != TR_OK)
            return 1;
        lat[i] = now_s () - s;
        if (i == 0)
            printf ("%-28s %9zu objects per list\n", "list", json_array_size (tv_get (rep.body, "items")));
        tr_env_clear (&req);
        tr_env_clear (&rep);
    }
    report ("list (all objects)", lat, lists, now_s () - t0, 0);

    free (lat);
    tr_client_destroy (&c);
    tr_client_destroy (&w);
    zactor_destroy (&br);
    zactor_destroy (&st);
    char cmd[700];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system (cmd))
        return 1;
    return 0;
}
