/* workqueue — client-go's work queue, single-threaded: keys ("ns/name") are de-duplicated, a key
 * can be added now or after a delay (rate-limited retries: 5 ms doubling to 1000 s per key until
 * forgotten). The owner drains it from its loop; no threads, no locks. */
#ifndef TROUPE_WORKQUEUE_H
#define TROUPE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct workqueue workqueue_t;

workqueue_t *workqueue_new (void);
void workqueue_destroy (workqueue_t **self_p);
/* Adds key for processing now (a key already queued is not added twice). */
void workqueue_add (workqueue_t *self, const char *key);
/* Adds key at now_ms + delay_ms (keeps the earlier time if already queued). */
void workqueue_add_after (workqueue_t *self, const char *key, int64_t delay_ms, int64_t now_ms);
/* Re-adds key with its per-key exponential back-off (5 ms, 10 ms, ... 1000 s). */
void workqueue_add_rate_limited (workqueue_t *self, const char *key, int64_t now_ms);
/* Resets key's back-off after a success. */
void workqueue_forget (workqueue_t *self, const char *key);
/* Copies the next due key into buf and removes it; 0, or -1 when nothing is due at now_ms. */
int workqueue_pop (workqueue_t *self, int64_t now_ms, char *buf, size_t len);
/* Keys queued (due or not). */
size_t workqueue_len (workqueue_t *self);
/* Milliseconds until the next key is due (0 if one is due now, -1 if empty). */
int64_t workqueue_next_in (workqueue_t *self, int64_t now_ms);

#endif
