/* log — one line per event: "2026-11-25T04:30:00.123Z INFO scheduler bound pod=default/web-1 node=n1"
 * Level from TROUPE_LOG (debug|info|warn|error; default info). Thread-safe (one write(2) a line). */
#ifndef TROUPE_LOG_H
#define TROUPE_LOG_H

typedef enum { TR_LOG_DEBUG = 0, TR_LOG_INFO, TR_LOG_WARN, TR_LOG_ERROR } tr_log_level_t;

void tr_log (tr_log_level_t lvl, const char *actor, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
void tr_log_set_level (tr_log_level_t lvl);
int tr_log_enabled (tr_log_level_t lvl);
/* Names the calling thread ("scheduler", "broker"): what `top -H`, perf and bench/sched/run.sh's
 * CPU per thread show. Linux keeps 15 bytes of it. */
void tr_thread_name (const char *name);

#define TR_DEBUG(actor, ...) do { if (tr_log_enabled (TR_LOG_DEBUG)) tr_log (TR_LOG_DEBUG, actor, __VA_ARGS__); } while (0)
#define TR_INFO(actor, ...) tr_log (TR_LOG_INFO, actor, __VA_ARGS__)
#define TR_WARN(actor, ...) tr_log (TR_LOG_WARN, actor, __VA_ARGS__)
#define TR_ERROR(actor, ...) tr_log (TR_LOG_ERROR, actor, __VA_ARGS__)

#endif
