/* cpuprobe — how fast this machine is while a benchmark runs, measured from inside the run.
 *
 *   cpuprobe [--interval-ms 100] [--count N] [--out FILE]
 *
 * Every interval (100 ms) it runs two fixed pieces of work and takes the CPU time of its own
 * thread for each (CLOCK_THREAD_CPUTIME_ID: time spent waiting for a CPU is not counted, only how
 * long the work took while it ran):
 *   alu  — a chain of 100,000 dependent integer operations (no memory): slower when the CPU it
 *          runs on is shared with another hardware thread or its clock drops;
 *   mem  — 2,000 dependent loads at random places of a 16 MiB array: slower when the caches it
 *          shares (the L3 of a VM's host) are busy with others' lines.
 * One line per sample: "<epoch ms> <alu ns> <mem ns>", to FILE (default stdout), until --count
 * samples (0: until SIGTERM or SIGINT). The work is ~0.5 ms a sample: at 100 ms, half a per cent
 * of a CPU.
 *
 * bench/sched/run.sh runs it before the cluster starts and through the run, and prints the medians
 * of both beside the run's pods/s: back-to-back runs of the same code on this VM differ by up to
 * 1.6x while the scheduling cycle timed before and after them (bench_sched_cycle) stays the same;
 * the probe says whether the machine itself was slower while the pods were scheduled. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ALU_STEPS 100000
#define MEM_SLOTS ((uint32_t) ((16u << 20) / sizeof (uint32_t)))
#define MEM_STEPS 2000

static volatile sig_atomic_t stop;

static void
on_signal (int sig)
{
    (void) sig;
    stop = 1;
}

static int64_t
ns_of (clockid_t c)
{
    struct timespec ts;
    clock_gettime (c, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64: each step needs the last (no instruction-level parallelism to hide a slow CPU) */
static uint64_t
alu_work (uint64_t x)
{
    for (int i = 0; i < ALU_STEPS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/* a walk along one random cycle through the array: every load's address is the last load's value */
static uint32_t
mem_work (const uint32_t *next, uint32_t at)
{
    for (int i = 0; i < MEM_STEPS; i++)
        at = next[at];
    return at;
}

int
main (int argc, char **argv)
{
    long interval = 100, count = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv[i], "--interval-ms") && i + 1 < argc)
            interval = atol (argv[++i]);
        else if (!strcmp (argv[i], "--count") && i + 1 < argc)
            count = atol (argv[++i]);
        else if (!strcmp (argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf (stderr, "usage: cpuprobe [--interval-ms 100] [--count N] [--out FILE] (unknown \"%s\")\n", argv[i]);
            return 2;
        }
    }
    if (interval < 1 || interval > 60000 || count < 0) {
        fprintf (stderr, "cpuprobe: --interval-ms 1..60000 and --count >= 0\n");
        return 2;
    }
    FILE *f = out ? fopen (out, "w") : stdout;
    if (!f) {
        perror (out);
        return 2;
    }
    /* one cycle through all the slots (Sattolo's shuffle), so the walk never settles in a few lines */
    /* in huge pages where the kernel gives them: the walk then times the caches, not the TLB */
    uint32_t *next = aligned_alloc (2u << 20, MEM_SLOTS * sizeof *next);
    if (next)
        madvise (next, MEM_SLOTS * sizeof *next, MADV_HUGEPAGE);
    if (!next) {
        fprintf (stderr, "cpuprobe: out of memory\n");
        return 2;
    }
    for (uint32_t i = 0; i < MEM_SLOTS; i++)
        next[i] = i;
    uint64_t r = 88172645463325252ull;
    for (uint32_t i = MEM_SLOTS - 1; i > 0; i--) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        uint32_t j = (uint32_t) (r % i), t = next[i];
        next[i] = next[j];
        next[j] = t;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    uint64_t x = 1;
    uint32_t at = 0;
    for (long n = 0; !stop && (!count || n < count); n++) {
        int64_t t0 = ns_of (CLOCK_THREAD_CPUTIME_ID);
        x = alu_work (x);
        int64_t t1 = ns_of (CLOCK_THREAD_CPUTIME_ID);
        at = mem_work (next, at);
        int64_t t2 = ns_of (CLOCK_THREAD_CPUTIME_ID);
        fprintf (f, "%lld %lld %lld\n", (long long) (ns_of (CLOCK_REALTIME) / 1000000), (long long) (t1 - t0),
                 (long long) (t2 - t1));
        fflush (f);
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000};
        nanosleep (&ts, NULL);
    }
    free (next);
    if (f != stdout)
        fclose (f);
    return (x | at) == 0; /* keeps the work from being optimised away; never 0 in practice */
}
