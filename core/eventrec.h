/* eventrec — an actor's event recorder: the Events it writes go through one correlator
 * (core/eventcorr.h: aggregated, deduplicated into patches, rate limited), as a Kubernetes
 * component's EventRecorder does. */
#ifndef TROUPE_EVENTREC_H
#define TROUPE_EVENTREC_H

#include "core/actor.h"
#include <jansson.h>

typedef struct tr_recorder tr_recorder_t;

tr_recorder_t *tr_recorder_new (void);
void tr_recorder_destroy (tr_recorder_t **self_p);
/* Records ev (stolen; a v1 Event from tr_event_new): a create, a patch of the same event seen
 * before, or nothing (rate limited). A patch answered NotFound (the event was removed) is sent
 * again as a create. */
void tr_record (tr_recorder_t *self, troupe_ctx_t *ctx, json_t *ev);
/* What the recorder did so far: creates, patches, drops. */
void tr_recorder_counts (const tr_recorder_t *self, long *creates, long *patches, long *drops);

#endif
