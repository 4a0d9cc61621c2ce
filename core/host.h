/* host — runs actors: one thread (czmq zactor) and one zloop per actor, each with its own
 * connection to the broker. The host is what makes an actor relocatable: the same actor runs in
 * `troupe up` over inproc, or in `troupe agent` over tcp with CURVE.
 *
 * Start-up and shut-down follow zactor's handshake: tr_host_start returns once the actor's
 * create() has returned; tr_host_destroy stops actors in reverse start order and waits for each.
 */
#ifndef TROUPE_HOST_H
#define TROUPE_HOST_H

#include "core/actor.h"
#include "core/conn.h"

typedef struct tr_host tr_host_t;

typedef struct {
    const char *endpoint;   /* broker endpoint */
    const tr_creds_t *creds;/* for tcp */
    const char *node_name;  /* troupe_node_name() */
    const char *data_dir;   /* troupe_data_dir() */
    uint64_t fence;         /* != 0: every request to the broker carries opts.fence (a Raft term):
                             * the leader's controllers, whose writes must not land in a later term */
    int request_timeout_ms; /* 0: 10 s. A request's time from its send to its answer; one waiting
                             * in the actor's window (not sent yet) waits up to 6 times that */
} tr_host_opts_t;

tr_host_t *tr_host_new (const tr_host_opts_t *opts);
/* Starts def in a new thread with config (borrowed; NULL = empty map). Returns 0, or -1 if the
 * ABI does not match or create() returned NULL. */
int tr_host_start (tr_host_t *self, const troupe_actor_t *def, const json_t *config);
/* dlopens path, finds troupe_actor_entry, checks the ABI, starts it. 0 or -1 with err set. */
int tr_host_load (tr_host_t *self, const char *path, const json_t *config, char *err, size_t errlen);
void tr_host_destroy (tr_host_t **self_p);

#endif
