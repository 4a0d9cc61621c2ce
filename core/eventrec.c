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
    /* events whose create is not answered yet: name → {} or {patch, ev}, the latest patch for it
     * (a patch sent before the create is committed would find nothing; it waits, and only the
     * latest is sent: it carries the whole count) */
    json_t *creating;
};

typedef struct {
    tr_recorder_t *r;
    char name[300];
} created_t;

tr_recorder_t *
tr_recorder_new (void)
{
    tr_recorder_t *r = calloc (1, sizeof *r);
    r->corr = eventcorr_new ();
    r->creating = json_object ();
    return r;
}

void
tr_recorder_destroy (tr_recorder_t **p)
{
    if (!*p)
        return;
    eventcorr_destroy (&(*p)->corr);
    json_decref ((*p)->creating);
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

static void send_patch (troupe_ctx_t *ctx, const char *name, json_t *patch, json_t *ev);
static void created (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);

static void
send_create (troupe_ctx_t *ctx, json_t *ev /* stolen */, created_t *cr /* owned, or NULL */)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "Event");
    snprintf (req.ns, sizeof req.ns, "%s", tv_str (ev, "metadata.namespace") ? tv_str (ev, "metadata.namespace") : "default");
    req.body = ev;
    if (troupe_request_background (ctx, &req, cr ? created : NULL, cr) && cr) {
        json_object_del (cr->r->creating, cr->name);
        free (cr);
    }
    tr_env_clear (&req);
}

/* the create is answered: the patch that waited for it (if any) goes now */
static void
created (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    created_t *cr = arg;
    json_t *w = json_incref (json_object_get (cr->r->creating, cr->name));
    json_object_del (cr->r->creating, cr->name);
    json_t *patch = json_object_get (w, "patch"), *ev = json_object_get (w, "ev");
    if (reply->code == TR_OK && patch)
        send_patch (ctx, cr->name, json_incref (patch), json_incref (ev));
    json_decref (w);
    free (cr);
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
        send_create (ctx, ev, NULL);
        return;
    }
    json_decref (ev);
}

static void
send_patch (troupe_ctx_t *ctx, const char *name, json_t *patch /* stolen */, json_t *ev /* stolen */)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_PATCH;
    strcpy (req.kind, "Event");
    snprintf (req.ns, sizeof req.ns, "%s", tv_str (ev, "metadata.namespace") ? tv_str (ev, "metadata.namespace") : "default");
    snprintf (req.name, sizeof req.name, "%.*s", (int) sizeof req.name - 1, name);
    req.body = patch;
    if (troupe_request_background (ctx, &req, patched, ev))
        json_decref (ev);
    tr_env_clear (&req);
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
        created_t *cr = calloc (1, sizeof *cr);
        cr->r = r;
        snprintf (cr->name, sizeof cr->name, "%s", name);
        json_object_set_new (r->creating, name, json_object ());
        send_create (ctx, ev, cr);
        return;
    }
    r->patches++;
    json_t *w = json_object_get (r->creating, name);
    if (w) { /* its create is in flight: this patch (the latest) waits for it */
        json_object_set_new (w, "patch", patch);
        json_object_set_new (w, "ev", ev);
        return;
    }
    send_patch (ctx, name, patch, ev);
}
