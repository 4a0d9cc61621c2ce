/* meta — object conventions every component shares: RFC 3339 times, status conditions, and
 * v1 Events. Kept once here (DESIGN.md: shared logic lives in core). */
#ifndef TROUPE_META_H
#define TROUPE_META_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* "2026-11-25T04:30:00Z" for ms since the epoch (UTC, seconds precision). */
void tr_time_format (int64_t ms, char *buf, size_t len);
/* ms since the epoch of an RFC 3339 UTC time, or -1 if s is not one. */
int64_t tr_time_parse (const char *s);

/* A status condition {type, status, reason, message, lastTransitionTime}: the transition time is
 * kept from old_conditions (an array, may be NULL) when type, status and reason did not change,
 * else it is now. reason/message may be NULL. New reference. */
json_t *tr_condition (const json_t *old_conditions, const char *type, int ok, const char *reason,
                      const char *message, const char *now);

/* A v1 Event about obj (its kind, namespace, name, uid), from component (and host, may be NULL),
 * named obj's name + "." + a server-generated suffix. New reference. */
json_t *tr_event_new (const json_t *obj, const char *type, const char *reason, const char *message,
                      const char *component, const char *host, int64_t now_ms);

#endif
