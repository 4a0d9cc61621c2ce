/* watch_fixture — a watch with credit, its grants, and its events counted, for the broker's tests
 * (include after cmocka.h and core/client.h; the checks are cmocka's). */
#ifndef TROUPE_WATCH_FIXTURE_H
#define TROUPE_WATCH_FIXTURE_H

#include <stdio.h>

/* Watches kind from revision rv (0: now) with the selectors (NULL: none) and that credit (0: the
 * broker's default); returns the watch's id. The watch must be accepted. */
static inline uint64_t
wf_watch_sel (tr_client_t *c, const char *kind, const char *fsel, const char *lsel, uint64_t rv, long credit)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    snprintf (req.kind, sizeof req.kind, "%s", kind);
    req.rv = rv;
    req.opts = json_object ();
    if (fsel)
        json_object_set_new (req.opts, "fieldSelector", json_string (fsel));
    if (lsel)
        json_object_set_new (req.opts, "labelSelector", json_string (lsel));
    if (credit > 0)
        json_object_set_new (req.opts, "credit", json_integer (credit));
    assert_int_equal (tr_client_call (c, &req, &rep, 5000), 0);
    assert_int_equal (rep.code, TR_OK);
    uint64_t id = req.id;
    tr_env_clear (&req);
    tr_env_clear (&rep);
    return id;
}

/* The same without selectors. */
static inline uint64_t
wf_watch (tr_client_t *c, const char *kind, uint64_t rv, long credit)
{
    return wf_watch_sel (c, kind, NULL, NULL, rv, credit);
}

/* Grants credit more events to watch wid (no reply comes). */
static inline void
wf_credit (tr_client_t *c, uint64_t wid, long credit)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_CREDIT;
    req.rv = wid;
    req.opts = json_pack ("{s:I}", "credit", (json_int_t) credit);
    assert_int_equal (tr_client_send (c, &req), 0);
    tr_env_clear (&req);
}

/* The events of watch wid c receives until none comes for quiet_ms; other messages are dropped. */
static inline int
wf_count (tr_client_t *c, uint64_t wid, int quiet_ms)
{
    int got = 0;
    tr_env_t ev;
    while (tr_client_recv (c, &ev, quiet_ms) == 0) {
        if (ev.verb == TR_VERB_EVENT && ev.id == wid)
            got++;
        tr_env_clear (&ev);
    }
    return got;
}

#endif
