/* schedload — the scheduling benchmark's load and stopwatch (bench/sched/run.sh drives it).
 *
 *   schedload --pods P [--rate R] [--workload W] [--nodes N] [--namespace NS] [--inflight 64]
 *             [--timeout S] [--running] [--csv FILE] [--server EP] [--kubeconfig PATH]
 *       creates P pods of workload W (SchedulingBasic, NodeAffinity, PodAntiAffinity,
 *       TopologySpreading, Preemption, Mixed) directly, as scheduler_perf does: at R pods/s
 *       (0: as fast as --inflight creates in flight over ONE connection allow), and on a second
 *       connection watches them until all are bound (--running: and Running).
 *   schedload --watch-only --pods P --selector app=X [...]
 *       creates nothing (a Deployment does): watches the pods of the selector until P are bound.
 *   schedload --template W [--nodes N --pods P] [--index I]
 *       prints the pod of workload W (number I) as JSON, for a Deployment's template.
 *
 * Times are this client's, in ms: created = the create's reply (direct) or the first watch event
 * of the pod (--watch-only); bound = the first watch event showing spec.nodeName; running = the
 * first showing status.phase Running. Pod timestamps in the API have seconds precision, too coarse
 * for a p50 under a second; the watch also is what scheduler_perf counts its throughput from.
 * Prints one summary line: throughput overall (P / (last bound - first created)) and steady
 * (the middle 80 % of bindings: (t90 - t10) holds 0.8 P bindings), p50/p99 created→bound and
 * created→running; --csv writes a row per pod. Exit 0 when every pod was bound, 1 otherwise. */
#include "core/client.h"
#include "core/conn.h"
#include "core/value.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t sent, created, bound, running;
    char node[128];
} rec_t;

static int64_t
now_ms (void)
{
    return zclock_time ();
}

static const char *workloads[] = {"SchedulingBasic", "NodeAffinity", "PodAntiAffinity", "TopologySpreading", "Preemption", NULL};

static int
known_workload (const char *w)
{
    if (!strcmp (w, "Mixed"))
        return 1;
    for (int i = 0; workloads[i]; i++)
        if (!strcmp (w, workloads[i]))
            return 1;
    return 0;
}

/* Pod i of workload w, modelled on scheduler_perf's templates (pod-default.yaml: 100m cpu; its
 * affinity, anti-affinity and spread variants): anti-affinity pods come in groups of N/2 so each
 * group fits twice on N nodes; Preemption: the first half low priority, the second high. */
static json_t *
make_pod (const char *w, long i, long nodes, long pods, const char *ns, const char *run)
{
    if (!strcmp (w, "Mixed"))
        w = workloads[i % 4];
    char name[128];
    snprintf (name, sizeof name, "%s-%ld", run, i);
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:I,s:[{s:s,s:s,s:[s,s],s:{s:{s:s,s:s}}}]}}", "apiVersion",
                           "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns, "labels", "bench", run, "workload",
                           w, "spec", "terminationGracePeriodSeconds", (json_int_t) 0, "containers", "name", "c", "image",
                           "busybox", "command", "sleep", "3600", "resources", "requests", "cpu", "100m", "memory", "50Mi");
    json_t *spec = json_object_get (p, "spec"), *labels = tv_get (p, "metadata.labels");
    if (!strcmp (w, "NodeAffinity")) {
        json_object_set_new (spec, "affinity", json_pack ("{s:{s:{s:[{s:[{s:s,s:s}]}]}}}", "nodeAffinity",
                                                          "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
                                                          "matchExpressions", "key", "topology.kubernetes.io/zone",
                                                          "operator", "Exists"));
    } else if (!strcmp (w, "PodAntiAffinity")) {
        long per = nodes > 1 ? nodes / 2 : 1;
        char g[32];
        snprintf (g, sizeof g, "g%ld", i / per);
        (void) pods;
        json_object_set_new (labels, "anti-group", json_string (g));
        json_object_set_new (spec, "affinity",
                             json_pack ("{s:{s:[{s:{s:{s:s}},s:s}]}}", "podAntiAffinity",
                                        "requiredDuringSchedulingIgnoredDuringExecution", "labelSelector", "matchLabels",
                                        "anti-group", g, "topologyKey", "kubernetes.io/hostname"));
    } else if (!strcmp (w, "TopologySpreading")) {
        json_object_set_new (labels, "spread", json_string (run));
        json_object_set_new (spec, "topologySpreadConstraints",
                             json_pack ("[{s:i,s:s,s:s,s:{s:{s:s}}}]", "maxSkew", 1, "topologyKey", "topology.kubernetes.io/zone",
                                        "whenUnsatisfiable", "DoNotSchedule", "labelSelector", "matchLabels", "spread", run));
    } else if (!strcmp (w, "Preemption")) {
        int high = i >= pods / 2;
        json_object_set_new (spec, "priorityClassName", json_string (high ? "bench-high" : "bench-low"));
        /* low pods fill the nodes' cpu (run.sh sizes them so half the pods fill it); high ones preempt */
        tv_set_str (json_array_get (json_object_get (spec, "containers"), 0), "resources.requests.cpu", "1");
    }
    return p;
}

static int
cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static double
pct (int64_t *v, size_t n, double q)
{
    if (!n)
        return -1;
    size_t k = (size_t) (q * (double) (n - 1) + 0.5);
    return (double) v[k];
}

static uint64_t
send_simple (tr_client_t *c, tr_verb_t verb, const char *kind, const char *ns, uint64_t rv, json_t *opts)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = verb;
    if (kind)
        snprintf (req.kind, sizeof req.kind, "%s", kind);
    if (ns)
        snprintf (req.ns, sizeof req.ns, "%s", ns);
    req.rv = rv;
    req.opts = opts;
    uint64_t id = tr_client_send (c, &req) ? 0 : req.id;
    tr_env_clear (&req);
    return id;
}

/* What schedload reads of a watched pod or a create's reply: the rest is not decoded (a whole pod
 * as a json_t tree, three times a pod, was most of this process's CPU: the benchmark's own client
 * should not take the cores from what it measures). */
static json_t *recv_keep;

static const json_t *
keep_prev (void *arg, const tr_env_t *e, const msgpack_object *body, const json_t **keep)
{
    (void) arg;
    (void) e;
    (void) body;
    *keep = recv_keep;
    return NULL;
}

/* tr_client_recv without waiting (the poller said there is a message), decoding only recv_keep. */
static int
recv_kept (tr_client_t *cl, tr_env_t *m)
{
    if (!recv_keep)
        recv_keep = tv_keep_new ((const char *const[]) {"metadata.name", "spec.nodeName", "status.phase",
                                                        "details.retryAfterSeconds"},
                                 4);
    zsock_t *sock = tr_client_sock (cl);
    zsock_set_rcvtimeo (sock, 0);
    char err[256];
    int rc = tr_conn_recv_like (sock, NULL, m, keep_prev, NULL, err, sizeof err);
    return rc == TR_UNAVAILABLE ? TR_TIMEOUT : rc;
}

int
main (int argc, char **argv)
{
    long pods = 0, nodes = 100, inflight = 64, timeout_s = 600, index = 0;
    double rate = 0;
    const char *workload = "SchedulingBasic", *ns = "default", *csv = NULL, *server = NULL, *config = NULL, *selector = NULL,
               *template_w = NULL, *run = NULL;
    int watch_only = 0, want_running = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(nm) (!strcmp (a, nm) && v && (i++, 1))
        if (OPT ("--pods"))
            pods = atol (v);
        else if (OPT ("--nodes"))
            nodes = atol (v);
        else if (OPT ("--rate"))
            rate = atof (v);
        else if (OPT ("--inflight"))
            inflight = atol (v);
        else if (OPT ("--timeout"))
            timeout_s = atol (v);
        else if (OPT ("--workload"))
            workload = v;
        else if (OPT ("--namespace"))
            ns = v;
        else if (OPT ("--csv"))
            csv = v;
        else if (OPT ("--server"))
            server = v;
        else if (OPT ("--kubeconfig"))
            config = v;
        else if (OPT ("--selector"))
            selector = v;
        else if (OPT ("--template"))
            template_w = v;
        else if (OPT ("--index"))
            index = atol (v);
        else if (OPT ("--run"))
            run = v;
        else if (!strcmp (a, "--watch-only"))
            watch_only = 1;
        else if (!strcmp (a, "--running"))
            want_running = 1;
        else {
            fprintf (stderr, "schedload: unknown or incomplete option %s (see the header of bench/sched/schedload.c)\n", a);
            return 2;
        }
#undef OPT
    }
    char runbuf[64];
    if (!run) {
        snprintf (runbuf, sizeof runbuf, "sl%lx", (unsigned long) (now_ms () % 0xffffff));
        run = runbuf;
    }
    if (template_w) {
        if (!known_workload (template_w)) {
            fprintf (stderr, "schedload: unknown workload %s\n", template_w);
            return 2;
        }
        json_t *p = make_pod (template_w, index, nodes, pods ? pods : 2, ns, run);
        char *s = json_dumps (p, JSON_COMPACT);
        printf ("%s\n", s);
        free (s);
        json_decref (p);
        return 0;
    }
    if (pods <= 0 || !known_workload (workload) || (watch_only && !selector)) {
        fprintf (stderr, "schedload: --pods P (> 0), a known --workload and, with --watch-only, --selector are needed\n");
        return 2;
    }
    /* credentials as the CLI's */
    char path[1024], endpoint[2048], err[512];
    tr_creds_t creds;
    memset (&creds, 0, sizeof creds);
    const char *cfg = config ? config : tr_conn_default_config_path (path, sizeof path);
    int have_creds = tr_conn_load_config (cfg, endpoint, sizeof endpoint, &creds, err, sizeof err) == 0;
    if (server)
        snprintf (endpoint, sizeof endpoint, "%s", server);
    else if (!have_creds) {
        fprintf (stderr, "schedload: %s\n", err);
        return 2;
    }
    char *comma = strchr (endpoint, ',');
    if (comma)
        *comma = 0; /* several servers: the first */
    tr_client_t *c = tr_client_new (endpoint, have_creds ? &creds : NULL, err, sizeof err);
    tr_client_t *w = tr_client_new (endpoint, have_creds ? &creds : NULL, err, sizeof err);
    if (!c || !w) {
        fprintf (stderr, "schedload: %s\n", err);
        return 2;
    }
    char sel[256];
    if (selector)
        snprintf (sel, sizeof sel, "%s", selector);
    else
        snprintf (sel, sizeof sel, "bench=%s", run);

    /* list (for the revision), then watch from it */
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    snprintf (req.kind, sizeof req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", ns);
    /* creating the pods itself, it times their creation from the replies: only bound pods are
     * watched (the broker then sends nothing for a create), which spares the servers a third of
     * the events this client would cost them; --watch-only times creation from the first event */
    const char *fsel = watch_only ? "" : "spec.nodeName!=";
    req.opts = json_pack ("{s:s,s:s}", "labelSelector", sel, "fieldSelector", fsel);
    if (tr_client_call (w, &req, &rep, 15000) || rep.code != TR_OK) {
        fprintf (stderr, "schedload: list of pods failed: %s\n", rep.msg ? rep.msg : "no answer");
        return 2;
    }
    uint64_t rv = rep.rv;
    tr_env_clear (&req);
    tr_env_clear (&rep);
    uint64_t wid = send_simple (w, TR_VERB_WATCH, "Pod", ns, rv,
                                json_pack ("{s:i,s:s,s:s}", "credit", 1024, "labelSelector", sel, "fieldSelector", fsel));

    rec_t *recs = calloc ((size_t) pods, sizeof *recs);
    json_t *by_name = json_object (); /* --watch-only: name → index */
    uint64_t *ids = calloc ((size_t) inflight, sizeof *ids);
    long *slot_pod = calloc ((size_t) inflight, sizeof *slot_pod);
    long *retry = calloc ((size_t) pods, sizeof *retry);
    long nretry = 0, next = 0, outstanding = 0, created = 0, bound = 0, running = 0, failed = 0, throttled = 0;
    int64_t t0 = now_ms (), retry_at = 0, next_ping = t0 + 2000, deadline = t0 + timeout_s * 1000;
    long unacked = 0;
    zpoller_t *poller = zpoller_new (tr_client_sock (c), tr_client_sock (w), NULL);
    void *next_sock = NULL; /* read next without polling (below) */
    int misses = 0;         /* sockets found empty since the last message */
    while (now_ms () < deadline) {
        int64_t now = now_ms ();
        /* send what the rate and the window allow */
        while (!watch_only && outstanding < inflight && (next < pods || (nretry && now >= retry_at))) {
            long i;
            if (nretry && now >= retry_at)
                i = retry[--nretry];
            else if (next < pods) {
                /* Preemption: the high half only once the low half is bound (scheduler_perf's init pods) */
                if (!strcmp (workload, "Preemption") && next >= pods / 2 && bound < pods / 2)
                    break;
                if (rate > 0 && now < t0 + (int64_t) ((double) next * 1000.0 / rate))
                    break;
                i = next++;
            } else
                break;
            json_t *p = make_pod (workload, i, nodes, pods, ns, run);
            tr_env_init (&req);
            req.verb = TR_VERB_CREATE;
            snprintf (req.kind, sizeof req.kind, "Pod");
            snprintf (req.ns, sizeof req.ns, "%s", ns);
            req.body = p;
            if (tr_client_send (c, &req)) {
                tr_env_clear (&req);
                break;
            }
            long s = 0;
            while (ids[s])
                s++;
            ids[s] = req.id;
            slot_pod[s] = i;
            outstanding++;
            if (!recs[i].sent)
                recs[i].sent = now;
            tr_env_clear (&req);
        }
        if (now >= next_ping) {
            send_simple (w, TR_VERB_PING, NULL, NULL, 0, NULL);
            next_ping = now + 2000;
        }
        /* done: every pod that exists is bound (and Running); refused creates are not waited for */
        long target = pods - failed;
        if (bound >= target && (!want_running || running >= target) && (watch_only || (next >= pods && !outstanding && !nretry)))
            break;
        int64_t wait = 100;
        if (!watch_only && rate > 0 && next < pods && outstanding < inflight) {
            int64_t due = t0 + (int64_t) ((double) next * 1000.0 / rate) - now;
            wait = due < 0 ? 0 : (due < wait ? due : wait);
        }
        /* the socket that just gave a message is read again without polling, then the other,
         * and only when both are empty does the loop poll: a poll costs libzmq's system calls for
         * both sockets, a read that finds a message none */
        void *which = next_sock;
        if (!which) {
            which = zpoller_wait (poller, (int) wait);
            misses = 0;
            if (!which)
                continue;
        }
        void *other = which == tr_client_sock (c) ? tr_client_sock (w) : tr_client_sock (c);
        tr_env_t m;
        int rc = recv_kept (which == tr_client_sock (c) ? c : w, &m);
        next_sock = rc != TR_TIMEOUT ? which : ++misses < 2 ? other : NULL;
        if (rc != TR_OK) {
            tr_env_clear (&m);
            continue;
        }
        misses = 0;
        if (which == tr_client_sock (c)) {
            for (long s = 0; s < inflight; s++) {
                if (!ids[s] || ids[s] != m.id)
                    continue;
                long i = slot_pod[s];
                ids[s] = 0;
                outstanding--;
                if (m.code == TR_OK) {
                    recs[i].created = now_ms ();
                    created++;
                } else if (m.code == TR_TOO_MANY_REQUESTS) {
                    throttled++;
                    retry[nretry++] = i;
                    json_int_t after = tv_int (m.body, "details.retryAfterSeconds", 1);
                    retry_at = now_ms () + (after > 0 ? after : 1) * 1000;
                } else {
                    if (failed++ < 5)
                        fprintf (stderr, "schedload: create %s-%ld: %s\n", run, i, m.msg ? m.msg : "refused");
                    recs[i].created = -1;
                }
                break;
            }
            tr_env_clear (&m);
            continue;
        }
        const char *type = tv_str (m.opts, "type");
        if (m.verb == TR_VERB_REPLY && m.id == wid && m.code != TR_OK) {
            fprintf (stderr, "schedload: watch ended: %s\n", m.msg ? m.msg : "");
            tr_env_clear (&m);
            break;
        }
        if (m.verb == TR_VERB_EVENT && m.id == wid) {
            if (m.rv > rv)
                rv = m.rv;
            if (type && !strcmp (type, "EXPIRED")) {
                wid = send_simple (w, TR_VERB_WATCH, "Pod", ns, rv,
                                   json_pack ("{s:i,s:s,s:s}", "credit", 1024, "labelSelector", sel, "fieldSelector", fsel));
                unacked = 0;
            } else if (m.body && type && strcmp (type, "BOOKMARK") && strcmp (type, "DELETED")) {
                const char *name = tv_str (m.body, "metadata.name");
                long i = -1;
                if (name && !watch_only) {
                    size_t rl = strlen (run);
                    if (!strncmp (name, run, rl) && name[rl] == '-')
                        i = atol (name + rl + 1);
                } else if (name) {
                    json_t *ix = json_object_get (by_name, name);
                    if (ix)
                        i = (long) json_integer_value (ix);
                    else if ((long) json_object_size (by_name) < pods) {
                        i = (long) json_object_size (by_name);
                        json_object_set_new (by_name, name, json_integer (i));
                        recs[i].created = now_ms ();
                        created++;
                    }
                }
                if (i >= 0 && i < pods) {
                    int64_t t = now_ms ();
                    const char *nn = tv_str (m.body, "spec.nodeName"), *ph = tv_str (m.body, "status.phase");
                    if (nn && *nn && !recs[i].bound) {
                        recs[i].bound = t;
                        snprintf (recs[i].node, sizeof recs[i].node, "%s", nn);
                        bound++;
                    }
                    if (ph && !strcmp (ph, "Running") && !recs[i].running) {
                        recs[i].running = t;
                        running++;
                    }
                }
            }
            if (++unacked >= 512) {
                send_simple (w, TR_VERB_CREDIT, NULL, NULL, wid, json_pack ("{s:I}", "credit", (json_int_t) unacked));
                unacked = 0;
            }
        }
        tr_env_clear (&m);
    }
    zpoller_destroy (&poller);

    /* figures */
    int64_t *bt = calloc ((size_t) pods, sizeof *bt), *lat = calloc ((size_t) pods, sizeof *lat),
            *slat = calloc ((size_t) pods, sizeof *slat), *clat = calloc ((size_t) pods, sizeof *clat);
    size_t nb = 0, nl = 0, ns_ = 0, nc = 0;
    int64_t first_created = 0, last_created = 0;
    for (long i = 0; i < pods; i++) {
        int64_t cr = recs[i].created > 0 ? recs[i].created : 0;
        if (cr && recs[i].sent && !watch_only)
            clat[nc++] = cr - recs[i].sent; /* the create's round trip (a retried one from its first try) */
        if (cr > last_created)
            last_created = cr;
        if (!watch_only && recs[i].sent && (!cr || (recs[i].bound && recs[i].bound < cr)))
            cr = recs[i].sent; /* the watch saw it bound before the create's reply arrived */
        if (cr && (!first_created || cr < first_created))
            first_created = cr;
        if (recs[i].bound) {
            bt[nb++] = recs[i].bound;
            if (cr)
                lat[nl++] = recs[i].bound - cr;
        }
        if (recs[i].running && cr)
            slat[ns_++] = recs[i].running - cr;
    }
    if (nb > 1)
        qsort (bt, nb, sizeof *bt, cmp_i64);
    if (nl > 1)
        qsort (lat, nl, sizeof *lat, cmp_i64);
    if (ns_ > 1)
        qsort (slat, ns_, sizeof *slat, cmp_i64);
    if (nc > 1)
        qsort (clat, nc, sizeof *clat, cmp_i64);
    double overall = nb && bt[nb - 1] > first_created ? (double) nb * 1000.0 / (double) (bt[nb - 1] - first_created) : 0;
    /* the bound beside it, from the same run: how fast the API took the creates (pods created
     * per second, first to last): bindings can never outrun it */
    double create_rate = last_created > first_created ? (double) created * 1000.0 / (double) (last_created - first_created) : 0;
    double steady = 0;
    if (nb >= 10) {
        size_t a = nb / 10, b = nb - 1 - nb / 10;
        /* all in one ms (a small run delivered in one watch batch): no better than overall */
        steady = bt[b] > bt[a] ? (double) (b - a) * 1000.0 / (double) (bt[b] - bt[a]) : overall;
    }
    printf ("schedload: workload=%s pods=%ld created=%ld bound=%zu running=%zu refused=%ld throttled=%ld "
            "throughput_overall=%.0f throughput_steady=%.0f bind_p50_ms=%.0f bind_p99_ms=%.0f start_p50_ms=%.0f "
            "start_p99_ms=%.0f create_rate=%.0f create_p50_ms=%.0f create_p99_ms=%.0f\n",
            workload, pods, created, nb, ns_, failed, throttled, overall, steady, pct (lat, nl, 0.5), pct (lat, nl, 0.99),
            pct (slat, ns_, 0.5), pct (slat, ns_, 0.99), create_rate, pct (clat, nc, 0.5), pct (clat, nc, 0.99));
    if (csv) {
        FILE *f = fopen (csv, "w");
        if (f) {
            fprintf (f, "index,created_ms,bound_ms,running_ms,node\n");
            for (long i = 0; i < pods; i++)
                fprintf (f, "%ld,%lld,%lld,%lld,%s\n", i, (long long) recs[i].created, (long long) recs[i].bound,
                         (long long) recs[i].running, recs[i].node);
            fclose (f);
        }
    }
    if (failed)
        fprintf (stderr, "schedload: %ld of %ld creates refused\n", failed, pods);
    int ok = !failed && (long) nb >= pods && (!want_running || (long) ns_ >= pods);
    free (bt);
    free (lat);
    free (slat);
    free (clat);
    free (recs);
    free (ids);
    free (slot_pod);
    free (retry);
    json_decref (by_name);
    json_decref (recv_keep);
    tr_client_destroy (&c);
    tr_client_destroy (&w);
    return ok ? 0 : 1;
}
