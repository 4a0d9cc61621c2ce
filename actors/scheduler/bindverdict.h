/* bindverdict — what the scheduler does with a binding's answer (pure; scheduler_actor.c acts).
 *
 * A binding whose answer never came (TR_TIMEOUT, or the broker unreachable) may still have been
 * committed: forgetting the assumed pod then would free its room in the snapshot until the watch
 * shows it bound, and pods placed meanwhile could overcommit the node or break a spread
 * constraint (seen at 5,000 nodes under overload: a maxSkew of 1 ended at 7). Such a pod stays
 * assumed while the scheduler reads it back and decides from what the store holds. */
#ifndef TROUPE_BINDVERDICT_H
#define TROUPE_BINDVERDICT_H

typedef enum {
    BIND_DONE,     /* bound where it was assumed: the watch confirms it */
    BIND_RECHECK,  /* outcome unknown: read the pod back, still assumed */
    BIND_RETRY,    /* not bound, unchanged: send the binding again, still assumed */
    BIND_REQUEUE,  /* refused, or the pod changed: Unreserve, forget, back to the queue */
    BIND_FORGET,   /* gone, or bound elsewhere: Unreserve and forget, nothing to schedule */
} bind_verdict_t;

/* The answer to the binding itself (code: a tr_code_t). */
bind_verdict_t bind_verdict_reply (int code);
/* The answer to the read-back: code, and the pod's spec.nodeName ("" or NULL: unbound) and
 * whether it is being deleted; want: the node it was assumed on. A read-back that timed out is
 * read again; one answered Unavailable (the actor stopping) is not. */
bind_verdict_t bind_verdict_readback (int code, const char *node, int deleting, const char *want);

#endif
