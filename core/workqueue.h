/* workqueue — client-go's rate-limited work queue, single-threaded.
 *
 * Keys ("ns/name") wait in a FIFO and are de-duplicated while they wait there. A key can be added
 * now, after a delay (a min-heap of due times; a key waiting twice keeps the sooner time), or
 * rate-limited after a failed sync: the delay is the larger of the key's own exponential back-off
 * (5 ms doubling to 1000 s, reset by workqueue_forget after a successful sync) and an overall
 * token bucket shared by every key of the queue (10 retries/s, bursts of 100), as client-go's
 * DefaultControllerRateLimiter. Pop is O(1) (plus O(log n) per delayed key that came due).
 * The owner drains it from its loop; no threads, no locks. Times are the caller's monotonic ms.
 */
#ifndef TROUPE_WORKQUEUE_H
#define TROUPE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct workqueue workqueue_t;

#define WORKQUEUE_BASE_DELAY_MS 5
#define WORKQUEUE_MAX_DELAY_MS 1000000 /* 1000 s */
#define WORKQUEUE_QPS 10
#define WORKQUEUE_BURST 100

workqueue_t *workqueue_new (void);
void workqueue_destroy (workqueue_t **self_p);
/* Adds key for processing now (a key already waiting in the FIFO is not added twice). */
void workqueue_add (workqueue_t *self, const char *key);
/* Adds key at now_ms + delay_ms (keeps the earlier time if already delayed); delay <= 0 is add. */
void workqueue_add_after (workqueue_t *self, const char *key, int64_t delay_ms, int64_t now_ms);
/* Re-adds key after a failure: max(per-key back-off, overall bucket); counts the failure. */
void workqueue_add_rate_limited (workqueue_t *self, const char *key, int64_t now_ms);
/* Resets key's back-off after a success. */
void workqueue_forget (workqueue_t *self, const char *key);
/* Failures counted for key since it was last forgotten. */
int workqueue_requeues (workqueue_t *self, const char *key);
/* Copies the next due key into buf and removes it; 0, or -1 when nothing is due at now_ms
 * (or when the key does not fit in buf: it is then dropped, never truncated). */
int workqueue_pop (workqueue_t *self, int64_t now_ms, char *buf, size_t len);
/* Entries queued, ready or delayed (a key both ready and delayed counts twice). */
size_t workqueue_len (workqueue_t *self);
/* Milliseconds until the next key is due (0 if one is due now, -1 if empty). */
int64_t workqueue_next_in (workqueue_t *self, int64_t now_ms);

#endif
