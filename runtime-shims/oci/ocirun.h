/* ocirun — the oci runtime's few external programs, run to completion with a deadline: conmon
 * (which runs `runc create` and stays as the container's monitor), `runc start|delete|exec`,
 * and the rootfs (overlayfs, or a copy where overlayfs is refused). Blocking: the shim calls
 * them from its job threads, never from its loop.
 *
 * Every child is started with posix_spawn (safe from threads), its own fds only, and killed when
 * its deadline passes; output is captured up to a bound.
 */
#ifndef TROUPE_OCIRUN_H
#define TROUPE_OCIRUN_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    const char *runc;         /* "/usr/sbin/runc" */
    const char *conmon;       /* "/usr/bin/conmon" */
    const char *runc_root;    /* runc --root (state on tmpfs: /run/troupe/<node>/runc) */
    const char *exits_dir;    /* conmon --exit-dir: a file per container id holding its exit code */
    const char *persist_dir;  /* conmon --persist-dir parent: <persist_dir>/<id>/{exit,oom} */
    const char *sock_dir;     /* conmon --socket-dir-path */
} ocirun_paths_t;

typedef struct {
    int exit_code;            /* the program's exit status (128+N on signal N, -1 not run) */
    char *out;                /* captured stdout (malloc'd, NUL-terminated; may be NULL) */
    size_t out_len;
    char *err;                /* captured stderr */
    size_t err_len;
    int timed_out;
    int truncated;            /* output was longer than the bound */
} ocirun_result_t;

void ocirun_result_clear (ocirun_result_t *r);

/* Runs argv (argv[0] an absolute path) with stdin from in (in_len bytes, may be NULL), waits at
 * most timeout_ms, captures at most max_out bytes of each stream. 0 when it ran (see exit_code),
 * -1 when it could not be started (errno kept). */
int ocirun_exec (char *const argv[], const char *in, size_t in_len, int timeout_ms, size_t max_out,
                 ocirun_result_t *r);

/* Starts the container id of bundle under conmon, which runs `runc create` and reports the
 * container's pid on its sync pipe; then `runc start`. log_path: the CRI-format log file;
 * No --log-size-max: the agent rotates the log (actors/agent/logrotate.h) and conmon's own cap
 * would truncate it, losing lines (CRI-O's default log_size_max is -1 too). *pid: the container's init pid (host view),
 * *conmon_pid. 0, or -1 with err holding runc's own words (e.g. `exec: "x": executable file not
 * found in $PATH`) and *stage "create" or "start". */
int ocirun_start (const ocirun_paths_t *p, const char *id, const char *name, const char *bundle, const char *log_path,
                  pid_t *pid, pid_t *conmon_pid, const char **stage, char *err, size_t errlen);

/* Asks id's conmon to reopen its log file (after the agent renamed it): REOPEN_LOGS_EVENT ("2 0 0\n")
 * on the control FIFO <bundle>/ctl that conmon made. conmon closes the old file (so no byte is
 * lost: everything before is in the renamed file) and creates a new one at the log path.
 * 0, or -1 with err set (no conmon listening: ENXIO). */
int ocirun_reopen_log (const char *bundle, char *err, size_t errlen);

/* `runc delete --force id`; a container runc does not know is fine. */
int ocirun_delete (const ocirun_paths_t *p, const char *id, char *err, size_t errlen);

/* The exit code conmon recorded for id: 0 and *code, or 1 when not exited yet (no exit file).
 * *oom: conmon saw an OOM kill in the container's cgroup. */
int ocirun_exit_status (const ocirun_paths_t *p, const char *id, int *code, int *oom);

/* Is pid alive and not a zombie? */
int ocirun_alive (pid_t pid);

/* rootfs: overlayfs of lower (array of layer dirs, lowest first) with upper/work under dir,
 * mounted on dir/rootfs; where the kernel refuses overlayfs, the layers are copied into
 * dir/rootfs instead (*copied = 1). 0 or -1 with err. */
int ocirun_mount_rootfs (const char *dir, const json_t *lower, int *copied, char *err, size_t errlen);
/* Unmounts dir/rootfs (if mounted) and removes dir recursively (never crossing a mount). */
int ocirun_remove_dir (const char *dir);

#endif
