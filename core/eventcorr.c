/* eventcorr — see eventcorr.h. */
#include "core/eventcorr.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eventcorr {
    json_t *agg;   /* aggregate key → {keys: {message: true}, last: ms} */
    json_t *log;   /* event key → {count, first, name, last} */
    json_t *spam;  /* source+object key → {tokens, at} */
    uint64_t seq;  /* names made unique within one millisecond */
};

eventcorr_t *
eventcorr_new (void)
{
    eventcorr_t *c = calloc (1, sizeof *c);
    c->agg = json_object ();
    c->log = json_object ();
    c->spam = json_object ();
    return c;
}

void
eventcorr_destroy (eventcorr_t **p)
{
    eventcorr_t *c = *p;
    if (!c)
        return;
    json_decref (c->agg);
    json_decref (c->log);
    json_decref (c->spam);
    free (c);
    *p = NULL;
}

static const char *
s_or (const json_t *o, const char *path)
{
    const char *s = tv_str (o, path);
    return s ? s : "";
}

/* source and involved object, joined with a separator no field holds */
static void
object_key (const json_t *ev, char *buf, size_t len)
{
    snprintf (buf, len, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", s_or (ev, "source.component"), s_or (ev, "source.host"),
              s_or (ev, "involvedObject.kind"), s_or (ev, "involvedObject.namespace"), s_or (ev, "involvedObject.name"),
              s_or (ev, "involvedObject.uid"), s_or (ev, "involvedObject.apiVersion"));
}

/* A table over its bound: entries not touched within the window go; if that is not enough, all. */
static void
bound (json_t *table, int64_t now_ms, const char *field, int64_t max_age)
{
    if (json_object_size (table) <= EVENTCORR_MAX_KEYS)
        return;
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe (table, tmp, k, v) if (now_ms - tv_int (v, field, 0) > max_age)
        json_object_del (table, k);
    if (json_object_size (table) > EVENTCORR_MAX_KEYS)
        json_object_clear (table);
}

ec_action_t
eventcorr_observe (eventcorr_t *c, json_t *ev, int64_t now_ms, char *name, size_t namelen, json_t **patch)
{
    *patch = NULL;
    char okey[1500], akey[1800], key[4000];
    object_key (ev, okey, sizeof okey);
    snprintf (akey, sizeof akey, "%s\x1f%s\x1f%s", okey, s_or (ev, "type"), s_or (ev, "reason"));
    const char *msg = s_or (ev, "message");
    /* aggregation */
    json_t *rec = json_object_get (c->agg, akey);
    if (!rec || now_ms - tv_int (rec, "last", 0) > EVENTCORR_WINDOW_MS) {
        bound (c->agg, now_ms, "last", EVENTCORR_WINDOW_MS);
        rec = json_pack ("{s:{},s:I}", "keys", "last", (json_int_t) now_ms);
        json_object_set_new (c->agg, akey, rec);
    }
    json_object_set_new (rec, "last", json_integer (now_ms));
    json_t *keys = json_object_get (rec, "keys");
    json_object_set_new (keys, msg, json_true ());
    if (json_object_size (keys) < EVENTCORR_MAX_SIMILAR)
        snprintf (key, sizeof key, "%s\x1f%s", akey, msg);
    else {
        json_object_del (keys, msg); /* the set stays at its bound, as client-go's PopAny */
        char *combined = NULL;
        if (asprintf (&combined, "%s%s", EVENTCORR_AGGREGATE_PREFIX, msg) > 0) {
            json_object_set_new (ev, "message", json_string (combined));
            free (combined);
        }
        snprintf (key, sizeof key, "%s", akey);
    }
    /* deduplication */
    ec_action_t act;
    json_t *seen = json_object_get (c->log, key);
    if (seen && now_ms - tv_int (seen, "last", 0) <= EVENTCORR_WINDOW_MS) {
        json_int_t count = tv_int (seen, "count", 1) + 1;
        json_object_set_new (seen, "count", json_integer (count));
        json_object_set_new (seen, "last", json_integer (now_ms));
        json_object_set_new (ev, "count", json_integer (count));
        if (tv_str (seen, "first"))
            json_object_set_new (ev, "firstTimestamp", json_string (tv_str (seen, "first")));
        snprintf (name, namelen, "%s", s_or (seen, "name"));
        tv_set_str (ev, "metadata.name", name);
        tv_del (ev, "metadata.generateName");
        *patch = json_pack ("{s:I,s:s,s:s}", "count", count, "lastTimestamp", s_or (ev, "lastTimestamp"), "message",
                            s_or (ev, "message"));
        act = EC_PATCH;
    } else {
        bound (c->log, now_ms, "last", EVENTCORR_WINDOW_MS);
        const char *obj = tv_str (ev, "involvedObject.name");
        unsigned long long stamp = (unsigned long long) now_ms * 1000000ull + (c->seq++ % 1000000ull);
        snprintf (name, namelen, "%.200s.%llx", obj && *obj ? obj : "event", stamp);
        tv_set_str (ev, "metadata.name", name);
        tv_del (ev, "metadata.generateName");
        json_object_set_new (ev, "count", json_integer (1));
        json_object_set_new (c->log, key, json_pack ("{s:i,s:s,s:s,s:I}", "count", 1, "first", s_or (ev, "firstTimestamp"),
                                                      "name", name, "last", (json_int_t) now_ms));
        act = EC_CREATE;
    }
    /* spam filter: a token bucket per source + object */
    json_t *b = json_object_get (c->spam, okey);
    if (!b) {
        bound (c->spam, now_ms, "at", (int64_t) EVENTCORR_BURST * EVENTCORR_REFILL_MS);
        b = json_pack ("{s:f,s:I}", "tokens", (double) EVENTCORR_BURST, "at", (json_int_t) now_ms);
        json_object_set_new (c->spam, okey, b);
    }
    double tokens = json_real_value (json_object_get (b, "tokens")) +
                    (double) (now_ms - tv_int (b, "at", now_ms)) / (double) EVENTCORR_REFILL_MS;
    if (tokens > EVENTCORR_BURST)
        tokens = EVENTCORR_BURST;
    json_object_set_new (b, "at", json_integer (now_ms));
    if (tokens < 1.0) {
        json_object_set_new (b, "tokens", json_real (tokens));
        if (act == EC_CREATE)
            json_object_del (c->log, key); /* never created: nothing to patch later */
        json_decref (*patch);
        *patch = NULL;
        return EC_DROP;
    }
    json_object_set_new (b, "tokens", json_real (tokens - 1.0));
    return act;
}
