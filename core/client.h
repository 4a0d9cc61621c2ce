/* client — the synchronous client (what the CLI uses): one connection, request/reply, and a
 * receive call for watch streams. The asynchronous actor-side client is the host (host.h). */
#ifndef TROUPE_CLIENT_H
#define TROUPE_CLIENT_H

#include "core/conn.h"
#include "core/envelope.h"

typedef struct tr_client tr_client_t;

/* Connects (lazily: ZeroMQ connects in the background). NULL with err on a bad endpoint/keys. */
tr_client_t *tr_client_new (const char *endpoint, const tr_creds_t *creds, char *err, size_t errlen);
void tr_client_destroy (tr_client_t **self_p);

/* Sends req (an id is assigned) and waits up to timeout_ms for its reply, discarding other
 * traffic. Returns 0 with *reply filled (check reply->code), or TR_TIMEOUT (server not answering)
 * with reply empty. */
int tr_client_call (tr_client_t *self, tr_env_t *req, tr_env_t *reply, int timeout_ms);
/* Sends without waiting (assigns an id). 0 or -1. */
int tr_client_send (tr_client_t *self, tr_env_t *req);
/* Receives the next message (a watch event...). 0, or TR_TIMEOUT, or TR_BAD_REQUEST for an
 * undecodable frame. */
int tr_client_recv (tr_client_t *self, tr_env_t *msg, int timeout_ms);
/* The DEALER, for a caller that polls it with other fds (troupe exec's stream). */
zsock_t *tr_client_sock (tr_client_t *self);

#endif
