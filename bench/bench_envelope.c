/* bench_envelope — what decoding one message costs an actor: a watch event carrying a running pod
 * (a hollow node's, ~0.5 KiB), decoded by tr_env_decode into its envelope and jansson body, beside
 * msgpack-c's own unpack of the same bytes with a zone made per message (msgpack_unpacked: the
 * bound below which no decode to objects goes) and with one zone kept and cleared (what
 * tr_env_decode does since each thread keeps its zone). And as an informer decodes it
 * (tr_env_decode_like): against the version it holds (the pod bound, before the node reported it
 * Running), sharing what did not change, projected on the scheduler's fields (scheduler_actor.c).
 * Best of 5 passes of N messages.
 * Usage: bench_envelope [messages per pass 200000]. */
#include "core/envelope.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

enum { DECODE, UNPACK_ZONE_EACH, UNPACK_ZONE_KEPT, DECODE_LIKE, NPASS };

/* what an informer holds of the pod, and the fields it keeps (DECODE_LIKE) */
static json_t *held, *keep;

static const json_t *
held_pod (void *arg, const tr_env_t *e, const msgpack_object *body, const json_t **k)
{
    (void) arg;
    (void) e;
    (void) body;
    *k = keep;
    return held;
}

static double
pass (int how, const char *buf, size_t len, long n)
{
    char err[256];
    msgpack_zone zone;
    msgpack_zone_init (&zone, 64 * 1024);
    double t0 = now ();
    for (long i = 0; i < n; i++) {
        if (how == DECODE || how == DECODE_LIKE) {
            tr_env_t d;
            if (how == DECODE ? tr_env_decode (&d, buf, len, err, sizeof err)
                              : tr_env_decode_like (&d, buf, len, held_pod, NULL, err, sizeof err)) {
                fprintf (stderr, "bench_envelope: %s\n", err);
                exit (1);
            }
            tr_env_clear (&d);
        } else if (how == UNPACK_ZONE_EACH) {
            msgpack_unpacked up;
            msgpack_unpacked_init (&up);
            if (msgpack_unpack_next (&up, buf, len, NULL) != MSGPACK_UNPACK_SUCCESS)
                exit (1);
            msgpack_unpacked_destroy (&up);
        } else {
            msgpack_object o;
            size_t off = 0;
            if (msgpack_unpack (buf, len, &off, &zone, &o) != MSGPACK_UNPACK_SUCCESS)
                exit (1);
            msgpack_zone_clear (&zone);
        }
    }
    double ns = (now () - t0) / (double) n * 1e9;
    msgpack_zone_destroy (&zone);
    return ns;
}

int
main (int argc, char **argv)
{
    long n = argc > 1 ? atol (argv[1]) : 200000;
    json_t *pod = json_pack (
        "{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s,s:s}},s:{s:s,s:s,s:i,s:[{s:s,s:s,s:[s,s],s:{s:{s:s,s:s}}}]},"
        "s:{s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}}",
        "apiVersion", "v1", "kind", "Pod", "metadata", "name", "b1-123", "namespace", "default", "uid",
        "4a5b6c7d-1111-2222-3333-444455556666", "resourceVersion", "123456", "labels", "bench", "b1", "workload",
        "SchedulingBasic", "spec", "nodeName", "hollow-01234", "schedulerName", "default-scheduler",
        "terminationGracePeriodSeconds", 0, "containers", "name", "c", "image", "busybox", "command", "sleep", "3600",
        "resources", "requests", "cpu", "100m", "memory", "50Mi", "status", "phase", "Running", "podIP", "10.0.1.2",
        "conditions", "type", "PodScheduled", "status", "True", "type", "Ready", "status", "True");
    /* the version before: bound, not yet Running (no podIP, no Ready), as the scheduler keeps it */
    json_t *before = json_deep_copy (pod);
    tv_set_str (before, "metadata.resourceVersion", "123400");
    tv_set_str (before, "status.phase", "Pending");
    json_object_del (json_object_get (before, "status"), "podIP");
    json_array_remove (tv_get (before, "status.conditions"), 1);
    static const char *const fields[] = {"apiVersion", "kind", "metadata", "spec", "status.phase",
                                         "status.conditions", "status.nominatedNodeName", "status.startTime"};
    keep = tv_keep_new (fields, sizeof fields / sizeof fields[0]);
    held = tv_project (before, keep);
    json_decref (before);
    tr_env_t e;
    tr_env_init (&e);
    e.verb = TR_VERB_EVENT;
    e.id = 7;
    e.rv = 123456;
    e.body = pod;
    e.opts = json_pack ("{s:s}", "type", "MODIFIED");
    char *buf;
    size_t len;
    if (tr_env_encode (&e, &buf, &len))
        return 1;
    tr_env_clear (&e);
    static const char *names[] = {"tr_env_decode (envelope + jansson body)", "msgpack unpack, a zone per message",
                                  "msgpack unpack, one zone kept", "tr_env_decode_like (an informer's decode)"};
    double best[NPASS] = {1e18, 1e18, 1e18, 1e18};
    for (int r = 0; r < 5; r++)
        for (int h = 0; h < NPASS; h++) {
            double ns = pass (h, buf, len, n);
            if (ns < best[h])
                best[h] = ns;
        }
    printf ("bench_envelope: a %zu-byte pod watch event, best of 5 passes of %ld\n", len, n);
    for (int h = 0; h < NPASS; h++)
        printf ("  %-45s %8.0f ns  (%.2fx msgpack unpack with a zone per message)\n", names[h], best[h],
                best[h] / best[UNPACK_ZONE_EACH]);
    free (buf);
    json_decref (held);
    json_decref (keep);
    return 0;
}
