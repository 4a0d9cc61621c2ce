/* zbridge — the replicated store's peer traffic over CURVE ZeroMQ, and libraft's transport.
 *
 * libraft's stock TCP transport neither authenticates nor encrypts. zbridge gives libraft a
 * struct raft_uv_transport whose streams are socketpair ends: libraft reads and writes its own
 * end as it would a TCP stream; zbridge carries the bytes of the other end as ZeroMQ messages
 * over CURVE connections, authenticated with the cluster key (every server holds it; a peer
 * without it cannot complete the handshake, and every message received is also checked for the
 * cluster key's User-Id). One ROUTER listens at this server's peer address; one DEALER per
 * remote address connects to the others. The same sockets carry the store's own peer messages
 * (forwarded proposals, joins, status), handed to a callback.
 *
 * Wire (after the ROUTER's routing id), first frame the type:
 *   C conn(8) raft_id(8) address   open a stream (dealer → router); answered by A conn(8)
 *   D conn(8) seq(8) bytes          stream data, either direction; a gap in seq closes the stream
 *   X conn(8)                       stream closed (or unknown): the peer closes its end
 *   anything else                   an application message, for the callback
 * ZeroMQ may drop messages when a TCP connection breaks and reconnects; the sequence numbers
 * turn such a loss into a closed stream, which libraft already handles by reconnecting.
 *
 * Everything runs on the libuv loop given to zbridge_new (libraft's loop): ZeroMQ sockets are
 * watched through their ZMQ_FD with uv_poll and drained before every loop iteration.
 */
#ifndef TROUPE_ZBRIDGE_H
#define TROUPE_ZBRIDGE_H

#include <czmq.h>
#include <raft.h>
#include <raft/uv.h>

typedef struct zbridge zbridge_t;

/* An application message. Exactly one of via (the remote address of the DEALER it came back
 * on) and rid (the ROUTER routing id to answer with zbridge_reply) is set. msg starts with the
 * type frame; the callback must not keep msg (it is destroyed after). */
typedef void (zbridge_msg_fn) (void *arg, const char *via, zframe_t *rid, zmsg_t *msg);

/* Binds the peer ROUTER at listen (tcp://HOST:PORT) with the cluster certificate (public and
 * secret). The process must run a ZAP handler (zauth) that accepts the cluster public key.
 * Returns NULL with err set. */
zbridge_t *zbridge_new (uv_loop_t *loop, zcert_t *cluster, const char *listen, zbridge_msg_fn *fn, void *arg,
                        char *err, size_t errlen);
/* libraft's transport, to give to raft_uv_init. */
struct raft_uv_transport *zbridge_transport (zbridge_t *self);
/* Sends an application message to the server at address (its peer endpoint), without blocking.
 * Takes msg. 0, or -1 if that peer is not connected right now. */
int zbridge_send (zbridge_t *self, const char *address, zmsg_t **msg);
/* Answers an application message that came in on the ROUTER. Takes msg. 0 or -1. */
int zbridge_reply (zbridge_t *self, zframe_t *rid, zmsg_t **msg);
/* Messages rejected (wrong key, malformed) since start: for tests and status. */
uint64_t zbridge_rejected (zbridge_t *self);
/* Closes every socket and handle; run the loop afterwards until it has no handles left. */
void zbridge_destroy (zbridge_t **self_p);

#endif
