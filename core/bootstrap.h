/* bootstrap — join tokens: their text, their Secret, and the check of one against the other.
 *
 * A token is kubeadm's bootstrap token, "ID.SECRET" (6 and 16 of [a-z0-9]), stored as kubeadm
 * stores it: Secret kube-system/bootstrap-token-ID, type bootstrap.kubernetes.io/token, data
 * token-id, token-secret, expiration (RFC 3339), usage-bootstrap-authentication, ... The text a
 * node is given carries the server's CURVE public key before it, as k3s's secure tokens carry the
 * CA's hash: "K10" + 64 hex digits + "::" + ID.SECRET. A CURVE client must know the server's key
 * before it connects, and only the holder of the matching secret key completes the handshake, so
 * the token alone lets a new node verify the server (docs/decisions.md: why the key, not a hash).
 * Pure: no I/O. */
#ifndef TROUPE_BOOTSTRAP_H
#define TROUPE_BOOTSTRAP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TR_TOKEN_NS "kube-system"
#define TR_TOKEN_SECRET_PREFIX "bootstrap-token-"
#define TR_TOKEN_TYPE "bootstrap.kubernetes.io/token"

typedef struct {
    unsigned char server_key[32];
    int has_server_key; /* 0: the bare "ID.SECRET" form */
    char id[7];
    char secret[17];
} tr_token_t;

typedef enum {
    TR_TOKEN_OK = 0,
    TR_TOKEN_NOT_FOUND,   /* no such token: never made, deleted, or cleaned after it expired */
    TR_TOKEN_EXPIRED,
    TR_TOKEN_WRONG,       /* the id exists, the secret does not match */
    TR_TOKEN_UNUSABLE     /* not for authentication, or a malformed Secret */
} tr_token_verdict_t;

/* "K10<hex>::ID.SECRET" or "ID.SECRET". 0, or -1 with err naming what is wrong (and where). */
int tr_token_parse (const char *s, tr_token_t *t, char *err, size_t errlen);
/* The text a node joins with (with the server key when the token has one). */
void tr_token_format (const tr_token_t *t, char *out, size_t len);
/* A fresh random id and secret (libsodium's generator). */
void tr_token_generate (tr_token_t *t);
/* The Secret that stores t: expires_ms 0 = never; description may be NULL. New reference. */
json_t *tr_token_secret (const tr_token_t *t, int64_t expires_ms, const char *description);
/* Checks t against its Secret (NULL: none) at now_ms; why gets the words for the refusal. */
tr_token_verdict_t tr_token_check (const json_t *secret, const tr_token_t *t, int64_t now_ms, char *why, size_t len);
/* A Go duration as kubeadm's --ttl takes it ("24h", "1h30m", "90s", "0"): ms, or -1. */
int64_t tr_duration_parse_ms (const char *s);

#endif
