/* supervise — `troupe server` restarts itself after a crash. See cli.h (cli_supervise).
 *
 * Why: libraft 0.15 can crash a follower whose term changes while it installs a snapshot
 * (canonical/raft #356, reproduced by e2e faults: SIGSEGV in installSnapshotCb); restarted, the
 * server installs the new leader's snapshot and goes on. Troupe cannot avoid that crash with
 * 0.15, so it survives it: the process the user started is a small supervisor that runs the
 * server as its child and starts it again when it dies of a crash signal.
 *
 * What counts: death by SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT (an assertion) is a crash and
 * is restarted, after 1 s, then 2, 4 … up to 30 s; more than 5 crashes within 10 minutes and the
 * supervisor gives up with the child's status. Any exit (0: stopped or removed from the cluster,
 * 1: could not start, 74: its disk failed) and any other signal end the supervisor with the same
 * status (128 + signal), so systemd, a test or a shell sees what the server did.
 *
 * The child dies with the supervisor (PR_SET_PDEATHSIG): kill -9 of the PID the user started
 * ends both. SIGTERM, SIGINT and SIGHUP are passed to the child, which stops cleanly.
 */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid, stopping;

static void
forward (int sig)
{
    stopping = 1;
    if (child_pid > 0)
        kill ((pid_t) child_pid, sig);
}

int
cli_crash_signal (int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT;
}

int
cli_supervise (const char *what, int *status)
{
    pid_t parent = getpid ();
    time_t window = time (NULL);
    int crashes = 0;
    struct sigaction sa = {0};
    sa.sa_handler = forward;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGHUP, &sa, NULL);
    for (;;) {
        fflush (NULL);
        pid_t pid = fork ();
        if (pid < 0) {
            fprintf (stderr, "warning: %s: cannot fork a supervised child (%s): running unsupervised\n", what,
                     strerror (errno));
            return 1;
        }
        if (pid == 0) {
            struct sigaction dfl = {0};
            dfl.sa_handler = SIG_DFL;
            sigaction (SIGTERM, &dfl, NULL);
            sigaction (SIGINT, &dfl, NULL);
            sigaction (SIGHUP, &dfl, NULL);
            prctl (PR_SET_PDEATHSIG, SIGKILL);
            if (getppid () != parent)
                _exit (1); /* the supervisor died before the line above */
            return 1;
        }
        child_pid = pid;
        int st = 0;
        while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
            ;
        child_pid = 0;
        if (WIFEXITED (st)) {
            *status = WEXITSTATUS (st);
            return 0;
        }
        int sig = WTERMSIG (st);
        *status = 128 + sig;
        if (stopping || !cli_crash_signal (sig))
            return 0;
        time_t now = time (NULL);
        if (now - window > 600) {
            window = now;
            crashes = 0;
        }
        if (++crashes > 5) {
            fprintf (stderr, "error: %s crashed %d times within 10 minutes (last: %s); giving up\n", what, crashes,
                     strsignal (sig));
            return 0;
        }
        int delay = 1 << (crashes - 1);
        if (delay > 30)
            delay = 30;
        fprintf (stderr, "warning: %s (pid %d) crashed: %s; restarting it in %d s (crash %d of at most 5 in 10 min)\n",
                 what, (int) pid, strsignal (sig), delay, crashes);
        for (int i = 0; i < delay * 10 && !stopping; i++)
            usleep (100000);
        if (stopping)
            return 0;
    }
}
