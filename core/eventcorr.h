/* eventcorr — Kubernetes' event correlator (client-go tools/record EventCorrelator), pure.
 *
 * Every Event an actor writes goes through one correlator (per actor, core/eventrec.h):
 * - aggregation: events alike but for their message (same source, involved object, type and
 *   reason) seen with EVENTCORR_MAX_SIMILAR distinct messages within EVENTCORR_WINDOW_MS become
 *   one event, "(combined from similar events): <latest message>" (client-go's EventAggregator:
 *   the 10th distinct message on);
 * - deduplication: the same event (source, involved object, type, reason, message — or the
 *   aggregate) again within EVENTCORR_WINDOW_MS is a patch of the first one (count + 1,
 *   lastTimestamp, message), not a new object (client-go's eventLogger);
 * - spam filter: a token bucket per source + involved object (burst EVENTCORR_BURST, one token
 *   back every EVENTCORR_REFILL_MS) drops what exceeds it, patches included (client-go's
 *   EventSourceObjectSpamFilter).
 * A new event is given its name here, as client-go does (<object>.<hex>), so a later patch
 * needs no reply. Tables are bounded (EVENTCORR_MAX_KEYS; the oldest entries give way). */
#ifndef TROUPE_EVENTCORR_H
#define TROUPE_EVENTCORR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTCORR_WINDOW_MS 600000   /* 10 min */
#define EVENTCORR_MAX_SIMILAR 10
#define EVENTCORR_BURST 25
#define EVENTCORR_REFILL_MS 300000   /* 1 token per 5 min */
#define EVENTCORR_MAX_KEYS 4096
#define EVENTCORR_AGGREGATE_PREFIX "(combined from similar events): "

typedef enum { EC_CREATE = 1, EC_PATCH, EC_DROP } ec_action_t;

typedef struct eventcorr eventcorr_t;

eventcorr_t *eventcorr_new (void);
void eventcorr_destroy (eventcorr_t **self_p);

/* ev: a v1 Event as tr_event_new makes it; rewritten in place (metadata.name, message of an
 * aggregate, count, firstTimestamp). EC_CREATE: create ev. EC_PATCH: patch the Event named
 * name (in ev's namespace) with *patch (new reference: count, lastTimestamp, message).
 * EC_DROP: rate limited, send nothing. */
ec_action_t eventcorr_observe (eventcorr_t *self, json_t *ev, int64_t now_ms, char *name, size_t namelen,
                               json_t **patch);

#endif
