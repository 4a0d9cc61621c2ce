/* eventcorr: Kubernetes' event correlator — the same event again is a patch (count, lastTimestamp),
 * the 10th distinct message of alike events is one aggregate "(combined from similar events): …",
 * a token bucket per source + object (burst 25, one back per 5 min) drops the rest; 10 min later
 * an event is new again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/eventcorr.h"
#include "core/meta.h"
#include "core/value.h"

#define T0 1800000000000LL

static json_t *
obj (const char *name)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", name,
                      "namespace", "default", "uid", name);
}

/* observes one event; returns the action, name and patch in out params */
static ec_action_t
see (eventcorr_t *c, const char *o, const char *reason, const char *msg, int64_t now, char *name, json_t **patch,
     json_t **evout)
{
    json_t *x = obj (o);
    json_t *ev = tr_event_new (x, "Normal", reason, msg, "replicaset-controller", NULL, now);
    json_decref (x);
    char n[300];
    json_t *p = NULL;
    ec_action_t a = eventcorr_observe (c, ev, now, n, sizeof n, &p);
    if (name)
        strcpy (name, n);
    if (patch)
        *patch = p;
    else
        json_decref (p);
    if (evout)
        *evout = ev;
    else
        json_decref (ev);
    return a;
}

static void
dedup_is_a_patch (void **state)
{
    (void) state;
    eventcorr_t *c = eventcorr_new ();
    char n1[300], n2[300], n3[300];
    json_t *p, *ev;
    assert_int_equal (see (c, "rs", "SuccessfulCreate", "Created pod: a", T0, n1, &p, &ev), EC_CREATE);
    assert_null (p);
    assert_string_equal (tv_str (ev, "metadata.name"), n1);
    assert_null (tv_get (ev, "metadata.generateName"));
    assert_int_equal (strncmp (n1, "rs.", 3), 0);
    assert_int_equal (tv_int (ev, "count", 0), 1);
    char first[40];
    snprintf (first, sizeof first, "%s", tv_str (ev, "firstTimestamp"));
    json_decref (ev);
    /* the same again a minute later: a patch of that event */
    assert_int_equal (see (c, "rs", "SuccessfulCreate", "Created pod: a", T0 + 60000, n2, &p, &ev), EC_PATCH);
    assert_string_equal (n2, n1);
    assert_int_equal (tv_int (p, "count", 0), 2);
    assert_non_null (tv_str (p, "lastTimestamp"));
    assert_string_not_equal (tv_str (p, "lastTimestamp"), first);
    assert_string_equal (tv_str (ev, "firstTimestamp"), first);
    json_decref (p);
    json_decref (ev);
    assert_int_equal (see (c, "rs", "SuccessfulCreate", "Created pod: a", T0 + 120000, NULL, &p, NULL), EC_PATCH);
    assert_int_equal (tv_int (p, "count", 0), 3);
    json_decref (p);
    /* another message, another object, another reason: new events */
    assert_int_equal (see (c, "rs", "SuccessfulCreate", "Created pod: b", T0 + 130000, n3, NULL, NULL), EC_CREATE);
    assert_string_not_equal (n3, n1);
    assert_int_equal (see (c, "rs2", "SuccessfulCreate", "Created pod: a", T0 + 130000, NULL, NULL, NULL), EC_CREATE);
    assert_int_equal (see (c, "rs", "SuccessfulDelete", "Created pod: a", T0 + 130000, NULL, NULL, NULL), EC_CREATE);
    /* more than 10 minutes after the last one: a new event */
    assert_int_equal (see (c, "rs", "SuccessfulCreate", "Created pod: a", T0 + 120000 + EVENTCORR_WINDOW_MS + 1, n2, NULL, NULL),
                      EC_CREATE);
    assert_string_not_equal (n2, n1);
    eventcorr_destroy (&c);
}

static void
similar_events_aggregate (void **state)
{
    (void) state;
    eventcorr_t *c = eventcorr_new ();
    char msg[64], agg[300], n[300];
    json_t *p, *ev;
    for (int i = 1; i < EVENTCORR_MAX_SIMILAR; i++) { /* 9 distinct messages: each its own event */
        snprintf (msg, sizeof msg, "Created pod: p%d", i);
        assert_int_equal (see (c, "rs", "SuccessfulCreate", msg, T0 + i, NULL, NULL, &ev), EC_CREATE);
        assert_string_equal (tv_str (ev, "message"), msg);
        json_decref (ev);
    }
    /* the 10th: one aggregate event */
    assert_int_equal (see (c, "rs", "SuccessfulCreate", "Created pod: p10", T0 + 10, agg, NULL, &ev), EC_CREATE);
    assert_string_equal (tv_str (ev, "message"), "(combined from similar events): Created pod: p10");
    json_decref (ev);
    /* the ones after: patches of the aggregate, with the latest message */
    for (int i = 11; i <= 20; i++) {
        snprintf (msg, sizeof msg, "Created pod: p%d", i);
        assert_int_equal (see (c, "rs", "SuccessfulCreate", msg, T0 + i, n, &p, NULL), EC_PATCH);
        assert_string_equal (n, agg);
        assert_int_equal (tv_int (p, "count", 0), i - 9); /* the aggregate was 1 at p10 */
        char want[96];
        snprintf (want, sizeof want, "(combined from similar events): %s", msg);
        assert_string_equal (tv_str (p, "message"), want);
        json_decref (p);
    }
    /* another type (Warning) is not similar */
    json_t *x = obj ("rs");
    ev = tr_event_new (x, "Warning", "SuccessfulCreate", "Created pod: p21", "replicaset-controller", NULL, T0 + 21);
    assert_int_equal (eventcorr_observe (c, ev, T0 + 21, n, sizeof n, &p), EC_CREATE);
    assert_string_equal (tv_str (ev, "message"), "Created pod: p21");
    json_decref (ev);
    json_decref (x);
    eventcorr_destroy (&c);
}

static void
spam_filter (void **state)
{
    (void) state;
    eventcorr_t *c = eventcorr_new ();
    char msg[64];
    int sent = 0, dropped = 0;
    for (int i = 0; i < 40; i++) { /* same event, patches included: 25 pass */
        snprintf (msg, sizeof msg, "Scaled up to %d", i % 3);
        ec_action_t a = see (c, "rs", "ScalingReplicaSet", msg, T0 + i, NULL, NULL, NULL);
        sent += a != EC_DROP;
        dropped += a == EC_DROP;
    }
    assert_int_equal (sent, EVENTCORR_BURST);
    assert_int_equal (dropped, 40 - EVENTCORR_BURST);
    /* another object has its own bucket */
    assert_int_equal (see (c, "other", "ScalingReplicaSet", "x", T0 + 50, NULL, NULL, NULL), EC_CREATE);
    /* a new event dropped is not remembered: once a token is back it is created, not patched */
    assert_int_equal (see (c, "rs", "NewReason", "first", T0 + 60, NULL, NULL, NULL), EC_DROP);
    assert_int_equal (see (c, "rs", "NewReason", "first", T0 + 60 + EVENTCORR_REFILL_MS, NULL, NULL, NULL), EC_CREATE);
    /* one token per 5 minutes */
    assert_int_equal (see (c, "rs", "NewReason", "first", T0 + 61 + EVENTCORR_REFILL_MS, NULL, NULL, NULL), EC_DROP);
    assert_int_equal (see (c, "rs", "NewReason", "first", T0 + 61 + 2 * EVENTCORR_REFILL_MS, NULL, NULL, NULL), EC_PATCH);
    eventcorr_destroy (&c);
}

static void
tables_bounded (void **state)
{
    (void) state;
    eventcorr_t *c = eventcorr_new ();
    char o[32];
    /* many objects: every one is still served (the tables give way, they do not refuse) */
    for (int i = 0; i < 3 * EVENTCORR_MAX_KEYS; i++) {
        snprintf (o, sizeof o, "rs-%d", i);
        assert_int_equal (see (c, o, "SuccessfulCreate", "m", T0 + i, NULL, NULL, NULL), EC_CREATE);
    }
    eventcorr_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (dedup_is_a_patch),
        cmocka_unit_test (similar_events_aggregate),
        cmocka_unit_test (spam_filter),
        cmocka_unit_test (tables_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
