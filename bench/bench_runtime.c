/* bench_runtime — the floors of bench/runtime/run.sh: N containers of one bundle started at once
 * without Troupe, each timed from the common start to "running".
 *   --mode runc    `runc run -d` of the bundle alone (one process per container)
 *   --mode conmon  conmon + runc as the oci shim starts them (runtime-shims/oci/ocirun.c
 *                  ocirun_start: conmon with the sync pipe, runc create, runc start), without the
 *                  agent, the shim's protocol, the image store, overlayfs or the pod's network
 *   --mode pod     conmon + runc as above, each in a pod network of its own first, as the shim
 *                  makes it (runtime-shims/oci/cni.c: a pinned netns, CNI ADD of Debian's
 *                  loopback + bridge + host-local on a bridge and subnet of this run), the
 *                  container joining it: the floor of a pod, still without Troupe
 * Each container gets bundle DIR/c<i>/config.json: the template's, root.path the shared rootfs
 * (read-only). Prints one line: {"mode", "n", "p50_ms", "p99_ms", "max_ms", "failed"}; every
 * container is killed and deleted before exit.
 * usage: bench_runtime --bundle DIR --n N --mode runc|conmon|pod [--work DIR] */
#include "runtime-shims/oci/cni.h"
#include "runtime-shims/oci/ocirun.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
    int i;
    const char *mode, *work;
    ocirun_paths_t *paths;
    cni_config_t *cni;
    const json_t *cfg;
    double t0, ms;
    int ok;
    pthread_barrier_t *go;
} job_t;

static int
run (char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_addopen (&fa, fd, "/dev/null", O_RDWR, 0);
    int rc = posix_spawn (&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    if (rc)
        return -1;
    int st;
    waitpid (pid, &st, 0);
    return WIFEXITED (st) && WEXITSTATUS (st) == 0 ? 0 : -1;
}

static void *
start_one (void *arg)
{
    job_t *j = arg;
    char id[64], bundle[4200], log[4300], err[1024];
    snprintf (id, sizeof id, "bench-%d-%d", (int) getpid (), j->i);
    snprintf (bundle, sizeof bundle, "%s/c%d", j->work, j->i);
    pthread_barrier_wait (j->go);
    if (!strcmp (j->mode, "runc")) {
        char root[4300];
        snprintf (root, sizeof root, "--root=%s", j->paths->runc_root);
        char *argv[] = {(char *) j->paths->runc, root, "run", "-d", "--bundle", bundle, id, NULL};
        j->ok = run (argv) == 0;
    } else {
        if (!strcmp (j->mode, "pod")) {
            char ns[1024], ip[64];
            if (cni_netns_create (j->cni, id, ns, sizeof ns, err, sizeof err) ||
                cni_add (j->cni, id, ns, NULL, NULL, ip, sizeof ip, err, sizeof err)) {
                fprintf (stderr, "bench_runtime: %s network: %s\n", id, err);
                j->ms = now_ms () - j->t0;
                return NULL;
            }
            json_t *c = json_deep_copy (j->cfg);
            size_t k;
            json_t *nsj;
            json_array_foreach (json_object_get (json_object_get (c, "linux"), "namespaces"), k, nsj) if (
                !strcmp (json_string_value (json_object_get (nsj, "type")) ? json_string_value (json_object_get (nsj, "type")) : "",
                         "network")) json_object_set_new (nsj, "path", json_string (ns));
            char p[4400];
            snprintf (p, sizeof p, "%s/config.json", bundle);
            json_dump_file (c, p, 0);
            json_decref (c);
        }
        snprintf (log, sizeof log, "%s/c%d/ctr.log", j->work, j->i);
        pid_t pid, cpid;
        const char *stage;
        j->ok = ocirun_start (j->paths, id, "bench", bundle, log, &pid, &cpid, &stage, err, sizeof err) == 0;
        if (!j->ok)
            fprintf (stderr, "bench_runtime: %s %s: %s\n", id, stage, err);
    }
    j->ms = now_ms () - j->t0;
    return NULL;
}

static int
cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
    const char *bundle = NULL, *mode = "runc", *work = NULL;
    int n = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp (argv[i], "--bundle"))
            bundle = argv[i + 1];
        else if (!strcmp (argv[i], "--n"))
            n = atoi (argv[i + 1]);
        else if (!strcmp (argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp (argv[i], "--work"))
            work = argv[i + 1];
    }
    if (!bundle || n < 1 || (strcmp (mode, "runc") && strcmp (mode, "conmon") && strcmp (mode, "pod"))) {
        fprintf (stderr, "usage: bench_runtime --bundle DIR --n N --mode runc|conmon|pod [--work DIR]\n");
        return 2;
    }
    char wbuf[4096], cfgp[4200];
    if (!work) {
        snprintf (wbuf, sizeof wbuf, "%s/../bench-work", bundle);
        work = wbuf;
    }
    mkdir (work, 0700);
    snprintf (cfgp, sizeof cfgp, "%s/config.json", bundle);
    json_t *cfg = json_load_file (cfgp, 0, NULL);
    char *rootfs = NULL;
    if (!cfg || asprintf (&rootfs, "%s/%s", bundle, json_string_value (json_object_get (json_object_get (cfg, "root"), "path"))) < 0) {
        fprintf (stderr, "bench_runtime: cannot read %s\n", cfgp);
        return 1;
    }
    char *abs = realpath (rootfs, NULL);
    json_object_set_new (json_object_get (cfg, "root"), "path", json_string (abs ? abs : rootfs));
    json_object_set_new (json_object_get (cfg, "root"), "readonly", json_true ());
    free (abs);
    free (rootfs);
    char rr[4200], ex[4200], pe[4200], sd[4200];
    snprintf (rr, sizeof rr, "%s/runc", work);
    snprintf (ex, sizeof ex, "%s/exits", work);
    snprintf (pe, sizeof pe, "%s/persist", work);
    snprintf (sd, sizeof sd, "%s/sock", work);
    mkdir (rr, 0700);
    mkdir (ex, 0700);
    mkdir (pe, 0700);
    mkdir (sd, 0700);
    ocirun_paths_t paths = {.runc = "/usr/sbin/runc", .conmon = "/usr/bin/conmon", .runc_root = rr, .exits_dir = ex,
                            .persist_dir = pe, .sock_dir = sd};
    if (access (paths.runc, X_OK))
        paths.runc = "/usr/bin/runc";
    /* the pod network: a bridge and a /24 of this run's, the shim's conflist (cni_write_conflist) */
    cni_config_t cni = {.timeout_s = 30};
    snprintf (cni.bin_dir, sizeof cni.bin_dir, "/usr/lib/cni");
    snprintf (cni.conf_path, sizeof cni.conf_path, "%.900s/cni/10-bench.conflist", work);
    snprintf (cni.netns_dir, sizeof cni.netns_dir, "%.400s/netns", work);
    snprintf (cni.state_dir, sizeof cni.state_dir, "%.400s/cnistate", work);
    snprintf (cni.bridge, sizeof cni.bridge, "trb%d", (int) (getpid () % 100000));
    snprintf (cni.subnet, sizeof cni.subnet, "10.%d.%d.0/24", 200 + (int) (getpid () % 50), (int) (getpid () / 50 % 250));
    if (!strcmp (mode, "pod")) {
        char e[512];
        mkdir (cni.netns_dir, 0700);
        mkdir (cni.state_dir, 0700);
        if (cni_write_conflist (&cni, e, sizeof e)) {
            fprintf (stderr, "bench_runtime: %s\n", e);
            return 1;
        }
    }
    job_t *jobs = calloc ((size_t) n, sizeof *jobs);
    pthread_t *th = calloc ((size_t) n, sizeof *th);
    pthread_barrier_t go;
    pthread_barrier_init (&go, NULL, (unsigned) n + 1);
    for (int i = 0; i < n; i++) {
        char dir[4300], p[4400];
        snprintf (dir, sizeof dir, "%s/c%d", work, i);
        mkdir (dir, 0700);
        snprintf (p, sizeof p, "%s/config.json", dir);
        json_dump_file (cfg, p, 0);
        jobs[i] = (job_t){.i = i, .mode = mode, .work = work, .paths = &paths, .cni = &cni, .cfg = cfg, .go = &go};
        pthread_create (&th[i], NULL, start_one, &jobs[i]);
    }
    double t0 = now_ms ();
    for (int i = 0; i < n; i++)
        jobs[i].t0 = t0;
    pthread_barrier_wait (&go);
    double *ms = calloc ((size_t) n, sizeof *ms);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        pthread_join (th[i], NULL);
        ms[i] = jobs[i].ms;
        failed += !jobs[i].ok;
    }
    qsort (ms, (size_t) n, sizeof *ms, cmp);
    int p99 = (int) ((n - 1) * 0.99 + 0.5);
    printf ("{\"mode\": \"%s\", \"n\": %d, \"p50_ms\": %.1f, \"p99_ms\": %.1f, \"max_ms\": %.1f, \"failed\": %d}\n", mode,
            n, ms[(n - 1) / 2], ms[p99], ms[n - 1], failed);
    fflush (stdout);
    /* conmon's RSS while they run, for the per-container overhead (bench/runtime/run.sh reads it) */
    if (getenv ("BENCH_RUNTIME_HOLD"))
        sleep ((unsigned) atoi (getenv ("BENCH_RUNTIME_HOLD")));
    for (int i = 0; i < n; i++) {
        char id[64], root[4300];
        snprintf (id, sizeof id, "bench-%d-%d", (int) getpid (), i);
        snprintf (root, sizeof root, "--root=%s", rr);
        char *kargv[] = {(char *) paths.runc, root, "delete", "-f", id, NULL};
        run (kargv);
        if (!strcmp (mode, "pod")) {
            char e[512], ns[1100];
            snprintf (ns, sizeof ns, "%s/%s", cni.netns_dir, id);
            cni_del (&cni, id, ns, e, sizeof e);
            cni_netns_remove (&cni, id);
        }
    }
    if (!strcmp (mode, "pod")) {
        char *dargv[] = {"/usr/sbin/ip", "link", "del", cni.bridge, NULL};
        run (dargv);
        umount2 (cni.netns_dir, MNT_DETACH);
    }
    json_decref (cfg);
    free (jobs);
    free (th);
    free (ms);
    return failed ? 1 : 0;
}
