/* log — see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_level = -1;

static int
level_from_env (void)
{
    const char *e = getenv ("TROUPE_LOG");
    if (!e)
        return TR_LOG_INFO;
    if (!strcasecmp (e, "debug"))
        return TR_LOG_DEBUG;
    if (!strcasecmp (e, "warn"))
        return TR_LOG_WARN;
    if (!strcasecmp (e, "error"))
        return TR_LOG_ERROR;
    return TR_LOG_INFO;
}

void
tr_thread_name (const char *name)
{
    char buf[16];
    snprintf (buf, sizeof buf, "%s", name);
    pthread_setname_np (pthread_self (), buf);
}

void
tr_log_set_level (tr_log_level_t lvl)
{
    g_level = (int) lvl;
}

int
tr_log_enabled (tr_log_level_t lvl)
{
    if (g_level < 0)
        g_level = level_from_env ();
    return (int) lvl >= g_level;
}

void
tr_log (tr_log_level_t lvl, const char *actor, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (!tr_log_enabled (lvl))
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday (&tv, NULL);
    gmtime_r (&tv.tv_sec, &tm);
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000),
                      names[lvl], actor ? actor : "-");
    va_list ap;
    va_start (ap, fmt);
    n += vsnprintf (line + n, sizeof line - (size_t) n - 1, fmt, ap);
    va_end (ap);
    if (n > (int) sizeof line - 2)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    /* one write(2) per line keeps lines whole when several threads log at once */
    ssize_t w = write (STDERR_FILENO, line, (size_t) n);
    (void) w;
}
