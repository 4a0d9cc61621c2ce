/* eventrec — see eventrec.h. */
#include "core/eventrec.h"
#include "core/eventcorr.h"
#include "core/envelope.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tr_recorder {
    eventcorr_t *corr;
    long creates, patches, drops;
};

tr_recorder_t *
tr_recorder_new (void)
{
    tr_recorder_t *r = calloc (1, sizeof *r);
    r->corr = eventcorr_new ();
    return r;
}

void
tr_recorder_destroy (tr_recorder_t **p)
{
    if (!*p)
        return;
    eventcorr_destroy (&(*p)->corr);
    free (*p);
    *p = NULL;
}

void
tr_recorder_counts (const tr_recorder_t *r, long *creates, long *patches, long *drops)
{
    *creates = r->creates;
    *patches = r->patches;
    *drops = r->drops;
}

static void
send_create (troupe_ctx_t *ctx, json_t *ev /* stolen */)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "Event");
    snprintf (req.ns, sizeof req.ns, "%s", tv_str (ev, "metadata.namespace") ? tv_str (ev, "metadata.namespace") : "default");
    req.body = ev;
    troupe_request (ctx, &req, NULL, NULL);
    tr_env_clear (&req);
}

/* a patch of an event that is gone: the event is created again (client-go does the same) */
static void
patched (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    json_t *ev = arg;
    if (reply->code == TR_NOT_FOUND) {
        tv_del (ev, "metadata.name");
        tv_set_str (ev, "metadata.generateName", tv_str (ev, "involvedObject.name") ? tv_str (ev, "involvedObject.name") : "event");
        send_create (ctx, ev);
        return;
    }
    json_decref (ev);
}

void
tr_record (tr_recorder_t *r, troupe_ctx_t *ctx, json_t *ev)
{
    if (!ev)
        return;
    char name[300];
    json_t *patch = NULL;
    ec_action_t a = eventcorr_observe (r->corr, ev, troupe_now_ms (), name, sizeof name, &patch);
    if (a == EC_DROP) {
        r->drops++;
        json_decref (ev);
        return;
    }
    if (a == EC_CREATE) {
        r->creates++;
        send_create (ctx, ev);
        return;
    }
    r->patches++;
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_PATCH;
    strcpy (req.kind, "Event");
    snprintf (req.ns, sizeof req.ns, "%s", tv_str (ev, "metadata.namespace") ? tv_str (ev, "metadata.namespace") : "default");
    snprintf (req.name, sizeof req.name, "%.*s", (int) sizeof req.name - 1, name);
    req.body = patch;
    if (troupe_request (ctx, &req, patched, ev))
        json_decref (ev);
    tr_env_clear (&req);
}
