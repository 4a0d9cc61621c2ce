/* conn — how a Troupe client reaches a server: endpoint strings and credentials.
 *
 * Endpoints: inproc://name (same process), ipc:///path (protected by the socket directory's
 * permissions), tcp://host:port (CURVE: the client must know the server's public key and hold a
 * key pair the server knows). A tcp endpoint without CURVE keys is refused here, so no TCP traffic
 * of Troupe ever travels unauthenticated.
 */
#ifndef TROUPE_CONN_H
#define TROUPE_CONN_H

#include <czmq.h>
#include <stddef.h>

#include "core/envelope.h"

typedef struct {
    char server_key[41];  /* Z85 public key of the server (tcp only) */
    char public_key[41];  /* this client's key pair (tcp only) */
    char secret_key[41];
} tr_creds_t;

/* A DEALER connected to endpoint, with CURVE set up for tcp, and ZMTP heartbeats (by default a
 * PING every 2 s, the connection dropped and remade 6 s after an unanswered one: see
 * tr_conn_set_heartbeat). Returns NULL with err set. */
zsock_t *tr_conn_dealer (const char *endpoint, const tr_creds_t *creds, char *err, size_t errlen);
/* The heartbeats of the tcp DEALERs made after this call in this process (0: none). A process
 * of thousands of connections (troupe hollow) spaces them out: libzmq's IO thread cancels the
 * heartbeat's timeout timer on the first message after each PING by walking all its timers
 * (poller_base_t::cancel_timer), which with 5,000 connections every 2 s was half its time. */
void tr_conn_set_heartbeat (int ivl_ms, int timeout_ms);

/* Sends env on sock (DEALER: one frame; ROUTER: routing id frame first when rid != NULL).
 * Returns 0 or -1. */
int tr_conn_send (zsock_t *sock, zframe_t *rid, const tr_env_t *env);
/* The same with the body already encoded (tr_env_encode_with). */
int tr_conn_send_with (zsock_t *sock, zframe_t *rid, const tr_env_t *env, const void *body, size_t body_len);
/* Sends without ever blocking (ZMQ_DONTWAIT): what a server does towards its clients. Returns 0,
 * or -1 with errno EAGAIN (the peer's pipe is full: it does not read — try again later) or
 * EHOSTUNREACH (a ROUTER with ROUTER_MANDATORY: the peer is gone). */
int tr_conn_send_nb (zsock_t *sock, zframe_t *rid, const tr_env_t *env, const void *body, size_t body_len);
/* The same for an envelope already encoded (buf, len). */
int tr_conn_send_bytes_nb (zsock_t *sock, zframe_t *rid, const void *buf, size_t len);
/* Sends n envelopes already encoded as one message of n frames (after rid's), never blocking:
 * all of them or none (0, or -1 with errno as tr_conn_send_nb). A watch's batch of events. */
int tr_conn_send_frames_nb (zsock_t *sock, zframe_t *rid, char *const *bufs, const size_t *lens, int n);
/* Receives one envelope from sock. For a ROUTER, *rid receives the routing frame (owned).
 * Returns 0, or a tr_code_t with err set for an undecodable message (the frames are consumed). */
int tr_conn_recv (zsock_t *sock, zframe_t **rid, tr_env_t *env, char *err, size_t errlen);
/* tr_conn_recv, decoding the body with tr_env_decode_like (prev, arg). */
int tr_conn_recv_like (zsock_t *sock, zframe_t **rid, tr_env_t *env, tr_env_prev_fn *prev, void *arg, char *err,
                       size_t errlen);
/* Receives one message of one or more envelopes (a watch's batch: one per frame) and calls fn
 * with each in order, decoded with tr_env_decode_like (prev, prev_arg) only after fn has had
 * the one before, so prev sees what fn made of it. rc is 0 or the tr_code_t of an undecodable
 * frame (err says why); env is cleared after fn returns. Returns the frames read, or -1 when
 * interrupted. */
typedef void (tr_conn_each_fn) (void *arg, tr_env_t *env, int rc, const char *err);
int tr_conn_recv_each (zsock_t *sock, zframe_t **rid, tr_env_prev_fn *prev, void *prev_arg, tr_conn_each_fn *fn,
                       void *arg);

/* Loads a client config file (YAML: server, serverKey, publicKey, secretKey). Returns 0, or -1
 * with err ("config /x: no such file"). endpoint receives the server string (may list several,
 * comma-separated). */
int tr_conn_load_config (const char *path, char *endpoint, size_t eplen, tr_creds_t *creds, char *err,
                         size_t errlen);
/* Writes a client config file with mode 0600. */
int tr_conn_write_config (const char *path, const char *endpoint, const tr_creds_t *creds);
/* Default paths: $XDG_CONFIG_HOME/troupe/config (else ~/.config/...), $XDG_DATA_HOME/troupe
 * (else ~/.local/share/troupe). Written into buf; returns buf. */
char *tr_conn_default_config_path (char *buf, size_t len);
char *tr_conn_default_data_dir (char *buf, size_t len);

#endif
