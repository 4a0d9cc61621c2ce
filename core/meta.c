/* meta — see meta.h. */
#include "core/meta.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void
tr_time_format (int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t
tr_time_parse (const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime (s, "%Y-%m-%dT%H:%M:%S", &tm))
        return -1;
    return (int64_t) timegm (&tm) * 1000;
}

json_t *
tr_condition (const json_t *old_conditions, const char *type, int ok, const char *reason, const char *message,
              const char *now)
{
    const char *st = ok ? "True" : "False";
    const char *since = now;
    size_t i;
    json_t *c;
    json_array_foreach (old_conditions, i, c) {
        const char *t = tv_str (c, "type"), *s = tv_str (c, "status"), *r = tv_str (c, "reason");
        if (t && !strcmp (t, type) && s && !strcmp (s, st) && !strcmp (r ? r : "", reason ? reason : "") &&
            tv_str (c, "lastTransitionTime"))
            since = tv_str (c, "lastTransitionTime");
    }
    json_t *out = json_pack ("{s:s,s:s,s:s}", "type", type, "status", st, "lastTransitionTime", since);
    if (reason)
        json_object_set_new (out, "reason", json_string (reason));
    if (message)
        json_object_set_new (out, "message", json_string (message));
    return out;
}

json_t *
tr_event_new (const json_t *obj, const char *type, const char *reason, const char *message, const char *component,
              const char *host, int64_t now_ms)
{
    char now[32], gen[300];
    tr_time_format (now_ms, now, sizeof now);
    const char *name = tv_str (obj, "metadata.name"), *ns = tv_str (obj, "metadata.namespace");
    snprintf (gen, sizeof gen, "%.200s.", name ? name : "x");
    json_t *ev = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},s:i,s:s,s:s}", "apiVersion",
                            "v1", "kind", "Event", "metadata", "generateName", gen, "namespace", ns ? ns : "default",
                            "involvedObject", "apiVersion", tv_str (obj, "apiVersion") ? tv_str (obj, "apiVersion") : "v1",
                            "kind", tv_str (obj, "kind") ? tv_str (obj, "kind") : "", "namespace", ns ? ns : "", "name",
                            name ? name : "", "uid", tv_str (obj, "metadata.uid") ? tv_str (obj, "metadata.uid") : "",
                            "type", type, "reason", reason, "message", message, "source", "component", component,
                            "count", 1, "firstTimestamp", now, "lastTimestamp", now);
    if (host)
        tv_set_str (ev, "source.host", host);
    return ev;
}
