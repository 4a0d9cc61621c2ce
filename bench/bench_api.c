/* bench_api — create/get/list/watch through the real broker + store, beside raw LMDB puts
 * measured in the same run on the same disk.
 *
 *   build/bench_api [--n 2000] [--dir /tmp]
 *       one process (store + broker + clients over ipc): ops/s and p50/p99 per operation and the
 *       ratio to raw LMDB (one put per fsync'd transaction: a durable acknowledged write).
 *   build/bench_api --matrix [--n 10000] [--endpoint ipc://… --pid PID]
 *       create/get/list/watch at 1, 16 and 200 clients, each without and with a stopped watcher
 *       (a connection watching ConfigMaps that never reads), then the broker's RSS. Against a
 *       running server when --endpoint is given (--pid: its process, for the RSS), else in-process.
 *   build/bench_api --flood SECONDS [--clients 200] [--inflight 32] [--ignore-retry-after] [--endpoint … --pid PID]
 *       every client keeps --inflight writes in flight (create then delete of its own names) for
 *       SECONDS: every request must be answered (OK or TooManyRequests), no client starved; the
 *       broker's RSS at the end. A slot told TooManyRequests waits retryAfterSeconds, as client-go
 *       does (--ignore-retry-after: resends at once, a misbehaving client). Exit 1 if a request
 *       went unanswered or a client starved.
 *   build/bench_api --paging [--endpoint …]
 *       a list of 10,000 Pods against one of 1,000, in pages of 500 and in one message.
 *   build/bench_api --creates N [--clients 16] [--prefix P] [--stopped-watcher] --endpoint …
 *       N creates over the clients (one in flight each): one line "creates N ok K secs S p99 MS".
 */
#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "core/client.h"
#include "core/value.h"

#include <errno.h>
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

static int
classic (int n, const char *base)
{
    char dir[512], raw[600], store[600], ep[700];
    snprintf (dir, sizeof dir, "%s/bench-api-XXXXXX", base);
    if (!mkdtemp (dir))
        return 1;
    snprintf (raw, sizeof raw, "%s/raw", dir);
    snprintf (store, sizeof store, "%s/store", dir);
    mkdir (raw, 0700);
    mkdir (store, 0700);
    snprintf (ep, sizeof ep, "inproc://bench-broker,ipc://%s/b.sock", dir);

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
    uint64_t wid = 0;
    int unacked = 0;
    while (seen < expected && now_s () - ws < 10) {
        tr_env_t ev;
        if (tr_client_recv (w, &ev, 1000) == 0 && ev.verb == TR_VERB_EVENT) {
            seen++;
            wid = ev.id;
            /* the broker lets 1,024 events be outstanding: grant more as they are read */
            if (++unacked >= 512) {
                tr_env_t cr;
                tr_env_init (&cr);
                cr.verb = TR_VERB_CREDIT;
                cr.rv = wid;
                cr.opts = json_pack ("{s:i}", "credit", unacked);
                tr_client_send (w, &cr);
                tr_env_clear (&cr);
                unacked = 0;
            }
        }
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

/* ---- the client-side load driver (matrix, flood, creates) ------------------------------------- */

typedef enum { OP_CREATE, OP_GET, OP_LIST, OP_WRITE } op_t;

typedef struct {
    uint64_t id;
    double sent; /* when its operation started (a paged list: its first page) */
    long n;      /* requests this slot has sent */
    int busy;    /* a request in flight */
    char cont[64]; /* a paged list under way: the next page's token */
    double resume_at; /* after TooManyRequests: when to send again (0: not waiting) */
} slot_t;

static int g_ignore_retry_after; /* --ignore-retry-after: resend at once after TooManyRequests */

typedef struct {
    zsock_t *s;
    slot_t *slots;
    long ok, too_many, other;
} bcl_t;

typedef struct {
    double *lat;
    size_t nlat, cap;
    long ok, too_many, other, unanswered;
    long min_ok, max_ok;
    double secs;
} run_t;

static void
lat_add (run_t *r, double v)
{
    if (r->nlat == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->lat = realloc (r->lat, r->cap * sizeof *r->lat);
    }
    r->lat[r->nlat++] = v;
}

static double
pct (run_t *r, int p)
{
    if (!r->nlat)
        return 0;
    qsort (r->lat, r->nlat, sizeof *r->lat, cmpd);
    return r->lat[(r->nlat * (size_t) p) / 100 < r->nlat ? (r->nlat * (size_t) p) / 100 : r->nlat - 1];
}

static zsock_t *
dealer (const char *ep, int rcvhwm)
{
    zsock_t *s = zsock_new (ZMQ_DEALER);
    zsock_set_linger (s, 0);
    zsock_set_sndhwm (s, 100000);
    zsock_set_rcvhwm (s, rcvhwm);
    if (zsock_connect (s, "%s", ep)) {
        fprintf (stderr, "cannot connect to %s\n", ep);
        exit (1);
    }
    return s;
}

static const char *g_kind = "ConfigMap"; /* what the driver creates: ConfigMap, or Pod (--paging) */

static void
send_op (bcl_t *c, int ci, int j, int k, op_t op, const char *prefix)
{
    slot_t *sl = &c->slots[j];
    tr_env_t req;
    tr_env_init (&req);
    snprintf (req.kind, sizeof req.kind, "%s", g_kind);
    strcpy (req.ns, "default");
    char name[128];
    switch (op) {
    case OP_CREATE:
        snprintf (name, sizeof name, "%s-%d-%d-%ld", prefix, ci, j, sl->n);
        break;
    case OP_GET:
        snprintf (name, sizeof name, "%s-%d-%d-0", prefix, ci, j);
        break;
    case OP_WRITE:
        snprintf (name, sizeof name, "%s-%d-%d", prefix, ci, j);
        break;
    default:
        name[0] = 0;
    }
    req.verb = op == OP_CREATE || (op == OP_WRITE && sl->n % 2 == 0) ? TR_VERB_CREATE
               : op == OP_WRITE                                      ? TR_VERB_DELETE
               : op == OP_GET                                        ? TR_VERB_GET
                                                                     : TR_VERB_LIST;
    if (req.verb == TR_VERB_LIST) {
        req.ns[0] = 0;
        /* in pages of 500, as kubectl and informers list */
        req.opts = json_pack ("{s:i}", "limit", 500);
        if (sl->cont[0])
            json_object_set_new (req.opts, "continue", json_string (sl->cont));
    }
    if (req.verb == TR_VERB_CREATE && !strcmp (g_kind, "Pod"))
        req.body = json_pack ("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[{s:s,s:s,s:[s,s]}]}}", "apiVersion", "v1", "kind", "Pod",
                              "metadata", "name", name, "labels", "app", "bench", "spec", "containers", "name", "c",
                              "image", "busybox", "command", "sleep", "3600");
    else if (req.verb == TR_VERB_CREATE)
        req.body = json_pack ("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                              name, "data", "k", "0123456789abcdef0123456789abcdef");
    else
        snprintf (req.name, sizeof req.name, "%s", req.verb == TR_VERB_LIST ? "" : name);
    /* the id names the slot: id = n * k + j + 1 */
    req.id = (uint64_t) sl->n * (uint64_t) k + (uint64_t) j + 1;
    sl->id = req.id;
    if (!sl->cont[0])
        sl->sent = now_s ();
    sl->busy = 1;
    sl->n++;
    if (tr_conn_send (c->s, NULL, &req)) {
        fprintf (stderr, "send failed\n");
        exit (1);
    }
    tr_env_clear (&req);
}

/* A live watcher that reads and grants credit as informers do; counts the events it gets. */
typedef struct {
    zsock_t *s;
    uint64_t wid;
    long events, unacked;
} live_t;

static void
watch_on (zsock_t *s, uint64_t id, long credit)
{
    tr_env_t req;
    tr_env_init (&req);
    req.id = id;
    req.verb = TR_VERB_WATCH;
    strcpy (req.kind, "ConfigMap");
    req.opts = json_pack ("{s:I}", "credit", (json_int_t) credit);
    tr_conn_send (s, NULL, &req);
    tr_env_clear (&req);
}

static void
live_read (live_t *w)
{
    tr_env_t e;
    char err[128];
    while (zsock_events (w->s) & ZMQ_POLLIN) {
        if (tr_conn_recv (w->s, NULL, &e, err, sizeof err) == 0 && e.verb == TR_VERB_EVENT && e.id == w->wid) {
            w->events++;
            if (++w->unacked >= 512) {
                tr_env_t c;
                tr_env_init (&c);
                c.verb = TR_VERB_CREDIT;
                c.rv = w->wid;
                c.opts = json_pack ("{s:I}", "credit", (json_int_t) w->unacked);
                tr_conn_send (w->s, NULL, &c);
                tr_env_clear (&c);
                w->unacked = 0;
            }
        }
        tr_env_clear (&e);
    }
}

/* Runs op over nc clients with k requests in flight each, until total requests were sent (total
 * > 0) or secs elapsed; then waits up to 30 s for the answers still due. */
static run_t
drive (const char *ep, int nc, int k, op_t op, long total, double secs, const char *prefix, live_t *live)
{
    run_t r = {0};
    bcl_t *cl = calloc ((size_t) nc, sizeof *cl);
    zmq_pollitem_t *items = calloc ((size_t) nc + 1, sizeof *items);
    for (int i = 0; i < nc; i++) {
        cl[i].s = dealer (ep, 100000);
        cl[i].slots = calloc ((size_t) k, sizeof *cl[i].slots);
        items[i].socket = zsock_resolve (cl[i].s);
        items[i].events = ZMQ_POLLIN;
    }
    int nitems = nc;
    if (live) {
        items[nitems].socket = zsock_resolve (live->s);
        items[nitems++].events = ZMQ_POLLIN;
    }
    zclock_sleep (100); /* connections up */
    long sent = 0, due = 0;
    double t0 = now_s ();
    for (int i = 0; i < nc; i++)
        for (int j = 0; j < k && (!total || sent < total); j++) {
            send_op (&cl[i], i, j, k, op, prefix);
            sent++;
            due++;
        }
    int stopping = 0;
    long waiting = 0; /* slots waiting out a retry-after */
    double stop_at = 0, last_answer = t0;
    while (due > 0 || (waiting && !stopping)) {
        double now = now_s ();
        if (!stopping && ((total && sent >= total) || (secs > 0 && now - t0 >= secs))) {
            stopping = 1;
            stop_at = now;
        }
        if (stopping && now - stop_at > 30)
            break;
        if (waiting) {
            for (int ci = 0; ci < nc; ci++)
                for (int j = 0; j < k; j++) {
                    slot_t *sl = &cl[ci].slots[j];
                    if (!sl->resume_at || (!stopping && sl->resume_at > now))
                        continue;
                    sl->resume_at = 0;
                    waiting--;
                    if (stopping || (total && sent >= total))
                        continue;
                    send_op (&cl[ci], ci, j, k, op, prefix);
                    sent++;
                    due++;
                }
        }
        if (zmq_poll (items, nitems, waiting ? 20 : 200) <= 0)
            continue;
        if (live && (items[nc].revents & ZMQ_POLLIN))
            live_read (live);
        /* every client with answers, each in turn: the driver must not favour the first ones */
        for (int ci = 0; ci < nc; ci++) {
            if (!(items[ci].revents & ZMQ_POLLIN))
                continue;
            bcl_t *c = &cl[ci];
            while (zsock_events (c->s) & ZMQ_POLLIN) {
                tr_env_t e;
                char err[128];
                if (tr_conn_recv (c->s, NULL, &e, err, sizeof err) || e.verb != TR_VERB_REPLY || !e.id) {
                    tr_env_clear (&e);
                    continue;
                }
                int j = (int) ((e.id - 1) % (uint64_t) k);
                slot_t *sl = &c->slots[j];
                if (!sl->busy || sl->id != e.id) {
                    tr_env_clear (&e);
                    continue;
                }
                sl->busy = 0;
                const char *next = op == OP_LIST && e.code == TR_OK ? tv_str (e.body, "metadata.continue") : NULL;
                if (next && *next) { /* the next page of the same list */
                    snprintf (sl->cont, sizeof sl->cont, "%s", next);
                    tr_env_clear (&e);
                    send_op (c, ci, j, k, op, prefix);
                    continue;
                }
                sl->cont[0] = 0;
                due--;
                last_answer = now_s ();
                double l = last_answer - sl->sent;
                if (e.code == TR_OK || (op == OP_WRITE && (e.code == TR_NOT_FOUND || e.code == TR_ALREADY_EXISTS))) {
                    c->ok++;
                    lat_add (&r, l);
                } else if (e.code == TR_TOO_MANY_REQUESTS) {
                    c->too_many++;
                    if (!g_ignore_retry_after && !stopping) {
                        /* a polite client (client-go) waits as told before trying again */
                        sl->resume_at = now_s () + (double) tv_int (e.body, "details.retryAfterSeconds", 1);
                        waiting++;
                        tr_env_clear (&e);
                        continue;
                    }
                } else {
                    c->other++;
                    if (c->other == 1)
                        fprintf (stderr, "  client %d: %s: %s\n", ci, tr_code_name (e.code), e.msg ? e.msg : "");
                }
                tr_env_clear (&e);
                if (!stopping && (!total || sent < total)) {
                    send_op (c, ci, j, k, op, prefix);
                    sent++;
                    due++;
                }
            }
        }
    }
    /* a timed run counts what was answered while it ran; a counted one, until its last answer */
    r.secs = (secs > 0 && stopping ? stop_at : last_answer) - t0;
    if (r.secs <= 0)
        r.secs = 1e-6;
    r.unanswered = due;
    r.min_ok = -1;
    for (int i = 0; i < nc; i++) {
        r.ok += cl[i].ok;
        r.too_many += cl[i].too_many;
        r.other += cl[i].other;
        if (r.min_ok < 0 || cl[i].ok < r.min_ok)
            r.min_ok = cl[i].ok;
        if (cl[i].ok > r.max_ok)
            r.max_ok = cl[i].ok;
        zsock_destroy (&cl[i].s);
        free (cl[i].slots);
    }
    free (items);
    free (cl);
    return r;
}

/* VmRSS and VmHWM of pid (0: this process), in MiB. */
static void
rss_of (int pid, double *rss, double *hwm)
{
    char path[64], line[256];
    snprintf (path, sizeof path, pid ? "/proc/%d/status" : "/proc/self/status", pid);
    *rss = *hwm = 0;
    FILE *f = fopen (path, "r");
    if (!f)
        return;
    while (fgets (line, sizeof line, f)) {
        long kb;
        if (sscanf (line, "VmRSS: %ld kB", &kb) == 1)
            *rss = kb / 1024.0;
        else if (sscanf (line, "VmHWM: %ld kB", &kb) == 1)
            *hwm = kb / 1024.0;
    }
    fclose (f);
}

/* The endpoint to use: the given one, or an in-process store + broker in a temporary dir. */
typedef struct {
    char ep[700], dir[512];
    zactor_t *st, *br;
} target_t;

static void
target_start (target_t *t, const char *ep, const char *base)
{
    if (ep) {
        snprintf (t->ep, sizeof t->ep, "%s", ep);
        return;
    }
    snprintf (t->dir, sizeof t->dir, "%s/bench-api-XXXXXX", base);
    if (!mkdtemp (t->dir))
        exit (1);
    char store[600], eps[800];
    snprintf (store, sizeof store, "%s/store", t->dir);
    mkdir (store, 0700);
    snprintf (t->ep, sizeof t->ep, "ipc://%s/b.sock", t->dir);
    snprintf (eps, sizeof eps, "%s", t->ep);
    t->st = store_actor_new (store, "inproc://bench-store");
    broker_opts_t bo = {.store_endpoint = "inproc://bench-store", .local_endpoints = eps};
    t->br = t->st ? broker_new (&bo) : NULL;
    if (!t->br) {
        fprintf (stderr, "cannot start broker/store\n");
        exit (1);
    }
}

static void
target_stop (target_t *t)
{
    if (!t->br)
        return;
    zactor_destroy (&t->br);
    zactor_destroy (&t->st);
    char cmd[700];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    if (system (cmd))
        fprintf (stderr, "cannot remove %s\n", t->dir);
}

/* A connection that watches ConfigMaps with all the credit it can ask for and never reads: what
 * a SIGSTOPped `troupe get -w` is to the broker (its receive queue holds one message). */
static zsock_t *
stopped_watcher (const char *ep)
{
    zsock_t *s = dealer (ep, 1);
    watch_on (s, 1, 1L << 30);
    zclock_sleep (100);
    return s;
}

static void
row (const char *op, int nc, int stopped, run_t *r, const char *extra)
{
    double rate = r->ok / (r->secs > 0 ? r->secs : 1e-9);
    printf ("| %-6s | %3d | %-3s | %9.0f | %8.3f | %8.3f | %5ld | %5ld | %s\n", op, nc, stopped ? "yes" : "no", rate,
            pct (r, 50) * 1e3, pct (r, 99) * 1e3, r->too_many, r->other + r->unanswered, extra ? extra : "");
    fflush (stdout);
}

static int
run_matrix (const char *ep, int pid, const char *base, long n)
{
    target_t t = {0};
    target_start (&t, ep, base);
    printf ("machine: %ld cpus; n=%ld creates per row; endpoint %s%s\n", sysconf (_SC_NPROCESSORS_ONLN), n, t.ep,
            ep ? "" : " (store + broker in this process)");
    printf ("| op     | clients | stopped watcher | ops/s | p50 ms | p99 ms | 429 | errors | |\n|---|---|---|---|---|---|---|---|---|\n");
    int counts[] = {1, 16, 200};
    int bad = 0;
    for (int ci = 0; ci < 3; ci++)
        for (int stopped = 0; stopped < 2; stopped++) {
            int nc = counts[ci];
            char prefix[32];
            snprintf (prefix, sizeof prefix, "m%d%c", nc, stopped ? 's' : 'n');
            zsock_t *sw = stopped ? stopped_watcher (t.ep) : NULL;
            live_t live = {.s = dealer (t.ep, 100000), .wid = 7};
            watch_on (live.s, live.wid, 1024);
            zclock_sleep (50);
            run_t r = drive (t.ep, nc, 1, OP_CREATE, n, 0, prefix, &live);
            double ws = now_s ();
            while (live.events < r.ok && now_s () - ws < 10) {
                zsock_set_rcvtimeo (live.s, 100);
                if (zsock_events (live.s) & ZMQ_POLLIN)
                    live_read (&live);
                else
                    zclock_sleep (10);
            }
            char extra[96];
            snprintf (extra, sizeof extra, "watch: %ld of %ld delivered", live.events, r.ok);
            row ("create", nc, stopped, &r, extra);
            bad |= r.unanswered || r.other || live.events < r.ok;
            free (r.lat);
            zsock_destroy (&live.s);
            r = drive (t.ep, nc, 1, OP_GET, n, 0, prefix, NULL);
            row ("get", nc, stopped, &r, NULL);
            bad |= r.unanswered || r.other;
            free (r.lat);
            r = drive (t.ep, nc, 1, OP_LIST, 20, 0, prefix, NULL); /* 20 lists, over up to 20 clients */
            char objs[64];
            snprintf (objs, sizeof objs, "lists of every ConfigMap so far, pages of 500");
            row ("list", nc, stopped, &r, objs);
            bad |= r.unanswered || r.other;
            free (r.lat);
            zsock_destroy (&sw);
        }
    double rss, hwm;
    rss_of (pid, &rss, &hwm);
    printf ("broker RSS at the end: %.0f MiB (peak %.0f MiB)%s\n", rss, hwm,
            pid ? "" : " — the whole bench process: clients included");
    target_stop (&t);
    return bad;
}

static int
run_flood (const char *ep, int pid, const char *base, double secs, int nc, int k)
{
    target_t t = {0};
    target_start (&t, ep, base);
    double rss0, hwm0, rss, hwm;
    rss_of (pid, &rss0, &hwm0);
    printf ("flood: %d clients x %d writes in flight for %.0f s against %s (%s); broker RSS before %.0f MiB\n", nc, k,
            secs, t.ep, g_ignore_retry_after ? "TooManyRequests resent at once" : "TooManyRequests retried after retryAfterSeconds",
            rss0);
    fflush (stdout);
    run_t r = drive (t.ep, nc, k, OP_WRITE, 0, secs, "fl", NULL);
    rss_of (pid, &rss, &hwm);
    printf ("flood: %ld answered OK (%.0f/s, p50 %.1f ms, p99 %.1f ms), %ld TooManyRequests, %ld other errors, "
            "%ld unanswered; per client OK min %ld max %ld; broker RSS %.0f MiB, peak %.0f MiB\n",
            r.ok, r.ok / r.secs, pct (&r, 50) * 1e3, pct (&r, 99) * 1e3, r.too_many, r.other, r.unanswered, r.min_ok,
            r.max_ok, rss, hwm);
    int bad = r.unanswered > 0 || r.min_ok <= 0;
    free (r.lat);
    target_stop (&t);
    return bad;
}

/* Lists every Pod in pages of limit (0: one message), n times; returns the mean seconds per full
 * list and sets *count to the objects of the last one (-1: refused, e.g. TooLarge). */
static double
timed_list (const char *ep, long limit, int n, long *count)
{
    char err[256];
    tr_client_t *c = tr_client_new (ep, NULL, err, sizeof err);
    double t0 = now_s ();
    for (int i = 0; i < n; i++) {
        char *cont = NULL;
        *count = 0;
        do {
            tr_env_t req, rep;
            tr_env_init (&req);
            req.verb = TR_VERB_LIST;
            strcpy (req.kind, "Pod");
            req.opts = json_object ();
            if (limit)
                json_object_set_new (req.opts, "limit", json_integer (limit));
            if (cont)
                json_object_set_new (req.opts, "continue", json_string (cont));
            free (cont);
            cont = NULL;
            if (tr_client_call (c, &req, &rep, 60000) || rep.code != TR_OK) {
                if (i == 0)
                    fprintf (stderr, "  list (limit %ld): %s: %s\n", limit, tr_code_name (rep.code),
                             rep.msg ? rep.msg : "timeout");
                *count = -1;
                tr_env_clear (&req);
                tr_env_clear (&rep);
                break;
            }
            *count += (long) json_array_size (tv_get (rep.body, "items"));
            const char *next = tv_str (rep.body, "metadata.continue");
            cont = next && *next ? strdup (next) : NULL;
            tr_env_clear (&req);
            tr_env_clear (&rep);
        } while (cont);
        if (*count < 0)
            break;
    }
    double secs = (now_s () - t0) / n;
    tr_client_destroy (&c);
    return secs;
}

/* A list of 10,000 Pods against a list of 1,000, paged by 500 (as kubectl and informers list) and
 * in one message. */
static int
run_paging (const char *ep, const char *base)
{
    target_t t = {0};
    target_start (&t, ep, base);
    g_kind = "Pod";
    printf ("| Pods | list, pages of 500 | list, one message |\n|---|---|---|\n");
    double paged[2] = {0};
    long have = 0, sizes[] = {1000, 10000};
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "pg%d", i);
        run_t r = drive (t.ep, 16, 1, OP_CREATE, sizes[i] - have, 0, prefix, NULL);
        bad |= r.ok != sizes[i] - have;
        free (r.lat);
        have = sizes[i];
        long n1, n2;
        paged[i] = timed_list (t.ep, 500, getenv ("BENCH_LISTS") ? atoi (getenv ("BENCH_LISTS")) : 10, &n1);
        double whole = timed_list (t.ep, 0, 5, &n2);
        char w[64];
        if (n2 < 0)
            snprintf (w, sizeof w, "refused (TooLarge: over 4 MiB)");
        else
            snprintf (w, sizeof w, "%.1f ms", whole * 1e3);
        printf ("| %ld | %.1f ms (%ld objects) | %s |\n", have, paged[i] * 1e3, n1, w);
        bad |= n1 != have;
    }
    printf ("paged list of 10,000 / of 1,000: %.1fx (bound 10x)\n", paged[1] / paged[0]);
    target_stop (&t);
    return bad || paged[1] / paged[0] > 10;
}

static int
run_creates (const char *ep, long n, int nc, const char *prefix, int stopped)
{
    zsock_t *sw = stopped ? stopped_watcher (ep) : NULL;
    run_t r = drive (ep, nc, 1, OP_CREATE, n, 0, prefix, NULL);
    printf ("creates %ld ok %ld too_many %ld other %ld unanswered %ld secs %.3f p50 %.3f p99 %.3f\n", n, r.ok,
            r.too_many, r.other, r.unanswered, r.secs, pct (&r, 50) * 1e3, pct (&r, 99) * 1e3);
    free (r.lat);
    zsock_destroy (&sw);
    return r.ok == n ? 0 : 1;
}

int
main (int argc, char **argv)
{
    int n = 2000;
    const char *base = "/tmp";
    const char *endpoint = NULL, *prefix = "c";
    int pid = 0, matrix = 0, clients = 0, inflight = 32, stopped = 0, paging = 0;
    long creates = 0;
    double flood = 0;
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (!strcmp (argv[i], "--matrix"))
            matrix = 1;
        else if (!strcmp (argv[i], "--stopped-watcher"))
            stopped = 1;
        else if (!strcmp (argv[i], "--paging"))
            paging = 1;
        else if (!strcmp (argv[i], "--ignore-retry-after"))
            g_ignore_retry_after = 1;
        else if (more && !strcmp (argv[i], "--n"))
            n = atoi (argv[++i]);
        else if (more && !strcmp (argv[i], "--dir"))
            base = argv[++i];
        else if (more && !strcmp (argv[i], "--endpoint"))
            endpoint = argv[++i];
        else if (more && !strcmp (argv[i], "--pid"))
            pid = atoi (argv[++i]);
        else if (more && !strcmp (argv[i], "--flood"))
            flood = atof (argv[++i]);
        else if (more && !strcmp (argv[i], "--clients"))
            clients = atoi (argv[++i]);
        else if (more && !strcmp (argv[i], "--inflight"))
            inflight = atoi (argv[++i]);
        else if (more && !strcmp (argv[i], "--creates"))
            creates = atol (argv[++i]);
        else if (more && !strcmp (argv[i], "--prefix"))
            prefix = argv[++i];
        else {
            fprintf (stderr, "bench_api: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    setenv ("TROUPE_LOG", "warn", 0);
    if (matrix)
        return run_matrix (endpoint, pid, base, n);
    if (paging)
        return run_paging (endpoint, base);
    if (flood > 0)
        return run_flood (endpoint, pid, base, flood, clients ? clients : 200, inflight);
    if (creates > 0) {
        if (!endpoint) {
            fprintf (stderr, "bench_api --creates needs --endpoint\n");
            return 2;
        }
        return run_creates (endpoint, creates, clients ? clients : 16, prefix, stopped);
    }
    return classic (n, base);
}
