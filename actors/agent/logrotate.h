/* logrotate — container log rotation as the kubelet's container log manager does it
 * (pkg/kubelet/logs/container_log_manager.go): every monitor interval, each running container's
 * live log <log> that has reached containerLogMaxSize is renamed <log>.<YYYYMMDD-hhmmss> (UTC) and
 * the runtime is asked to reopen it (ReopenContainerLog); before that, leftovers of an
 * interrupted rotation are removed (*.tmp, and an uncompressed file whose .gz exists), the oldest
 * rotated files beyond containerLogMaxFiles-2 are removed, and the rotated files that remain are
 * gzip-compressed. So at most containerLogMaxFiles files exist per container log: the live one,
 * the newest rotated one (uncompressed, as the runtime may still be writing its last bytes into
 * it) and older .gz ones.
 *
 * The decision is pure (logrotate_plan: sizes and names in, actions out); logrotate_compress and
 * logrotate_apply do the file work. The rename of the live file and the reopen are left to the
 * caller (a runtime call in between), with logrotate_rotated_name giving the name. */
#ifndef TROUPE_LOGROTATE_H
#define TROUPE_LOGROTATE_H

#include <stddef.h>
#include <time.h>

#define LOGROTATE_DEFAULT_MAX_SIZE (10LL << 20) /* 10Mi, the kubelet's containerLogMaxSize */
#define LOGROTATE_DEFAULT_MAX_FILES 5           /* the kubelet's containerLogMaxFiles */
#define LOGROTATE_DEFAULT_INTERVAL_MS 10000     /* the kubelet's containerLogMonitorInterval */

typedef struct {
    long long max_size; /* bytes; the live log is rotated once it has at least this many */
    int max_files;      /* ≥ 2: files kept per container log, the live one included */
} logrotate_policy_t;

/* The policy from the node configuration's containerLogMaxSize (a quantity string, NULL: 10Mi)
 * and containerLogMaxFiles (< 0: 5). 0 on success; -1 with err set ("containerLogMaxFiles (1)
 * must be at least 2", "containerLogMaxSize ...: must be a positive quantity") otherwise. */
int logrotate_policy_parse (const char *max_size, long long max_files, logrotate_policy_t *p, char *err, size_t errlen);

/* containerLogMonitorInterval: "10s", "3500ms", "1m" (NULL: 10 s) into *ms. As the kubelet, at
 * least 3 s. 0, or -1 with err set. */
int logrotate_interval_parse (const char *s, long long *ms, char *err, size_t errlen);

typedef enum {
    LOGROTATE_REMOVE,   /* unlink path */
    LOGROTATE_COMPRESS, /* gzip path into path.gz (through path.gz.tmp), then unlink path */
    LOGROTATE_ROTATE,   /* rename the live log to path, then ReopenContainerLog */
} logrotate_op_t;

typedef struct {
    logrotate_op_t op;
    char *path; /* malloc'd, in the live log's directory */
} logrotate_action_t;

/* The rotated name of log at time now (UTC): "<log>.YYYYMMDD-hhmmss". NULL on allocation failure. */
char *logrotate_rotated_name (const char *log, time_t now);

/* What to do for the live log `log` (a path) of size `size`, given the names (basenames) of the
 * files in its directory, at time now. No action when size < p->max_size, or when the rotated
 * name for now is already taken (the same second: the next check rotates). Otherwise: removals,
 * compressions, then one ROTATE last, in the order to run them. Names that are not "<base>.*"
 * are ignored (another attempt's log in the same directory). Returns the number of actions
 * (*out malloc'd, free with logrotate_actions_free), -1 on allocation failure. */
int logrotate_plan (const char *log, long long size, const logrotate_policy_t *p, const char *const *names, size_t n,
                    time_t now, logrotate_action_t **out);

void logrotate_actions_free (logrotate_action_t *a, int n);

/* gzip path into path.gz: written as path.gz.tmp, renamed, then path removed (an interruption
 * leaves a .tmp, which the next plan removes, or both files, the plain one then removed).
 * 0 on success, -1 with err set. */
int logrotate_compress (const char *path, char *err, size_t errlen);

/* Runs the REMOVE and COMPRESS actions of a plan (ROTATE is the caller's). Stops at the first
 * failure: -1 with err set. */
int logrotate_apply (const logrotate_action_t *a, int n, char *err, size_t errlen);

/* One check of the live log `log` at time now: its size and its directory read, the plan made,
 * its removals and compressions done. 1 with *rotated (malloc'd) the name to rename the live log
 * to before asking the runtime to reopen it; 0 when nothing is due (or no log); -1 with err set. */
int logrotate_prepare (const char *log, const logrotate_policy_t *p, time_t now, char **rotated, char *err, size_t errlen);

/* The log and its rotated files (log.*) removed, as the kubelet's Clean when a container is
 * removed. */
void logrotate_clean (const char *log);

/* For a follower (`troupe logs -f`) that was reading a file the live log no longer is: the
 * rotated file of log (uncompressed: the newest) with inode ino, opened read-only, or -1. */
int logrotate_open_rotated (const char *log, unsigned long long ino);

/* The container logs of a pod that is gone (the kubelet's evictPodLogsDirectories): in each
 * directory of pod_dir but "volumes", the files "<attempt>.log" and "<attempt>.log.*" removed,
 * then the directory if empty. Nothing else is touched (no recursion: a volume still mounted is
 * never walked into). */
void logrotate_clean_pod (const char *pod_dir);

#endif
