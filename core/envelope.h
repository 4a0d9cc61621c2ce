/* envelope — the one message shape every Troupe actor, the broker and the CLI exchange.
 *
 * On the wire an envelope is one ZeroMQ frame holding one msgpack map (docs/protocol.md):
 *   {"v":1, "id":u64, "verb":"create", "kind":"Pod", "ns":"default", "name":"web-1",
 *    "rv":u64, "body":<any>, "opts":{...}, "code":"NotFound", "msg":"..."}
 * Absent keys take their zero value. Requests carry verb/kind/ns/name/rv/body/opts; replies carry
 * the same id, verb "reply", code (TR_OK when absent) and msg on error, body on success.
 * Watch events are envelopes with verb "event", opts.type ADDED|MODIFIED|DELETED|BOOKMARK|EXPIRED.
 */
#ifndef TROUPE_ENVELOPE_H
#define TROUPE_ENVELOPE_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define TR_PROTOCOL_VERSION 1
/* Largest frame a server accepts; larger ones get TR_TOO_LARGE. */
#define TR_MAX_FRAME (4u * 1024u * 1024u)
#define TR_NAME_MAX 253

typedef enum {
    TR_VERB_NONE = 0,
    TR_VERB_CREATE, TR_VERB_GET, TR_VERB_LIST, TR_VERB_UPDATE, TR_VERB_UPDATE_STATUS,
    TR_VERB_PATCH, TR_VERB_DELETE, TR_VERB_WATCH, TR_VERB_CANCEL, TR_VERB_CREDIT,
    TR_VERB_EVENT, TR_VERB_REPLY, TR_VERB_LOGS, TR_VERB_HELLO, TR_VERB_PING,
    /* runtime (CRI-like) verbs, agent → shim */
    TR_VERB_RUN_POD_SANDBOX, TR_VERB_STOP_POD_SANDBOX, TR_VERB_REMOVE_POD_SANDBOX,
    TR_VERB_CREATE_CONTAINER, TR_VERB_START_CONTAINER, TR_VERB_STOP_CONTAINER,
    TR_VERB_REMOVE_CONTAINER, TR_VERB_CONTAINER_STATUS, TR_VERB_LIST_CONTAINERS,
    TR_VERB_EXEC_SYNC, TR_VERB_PULL_IMAGE, TR_VERB_LIST_IMAGES, TR_VERB_REMOVE_IMAGE,
    /* client → broker → node's agent: run a command in a pod's container (pods/exec) */
    TR_VERB_EXEC,
    /* agent → shim: streamed exec sessions (runtime-shims/cri.h) */
    TR_VERB_EXEC_START, TR_VERB_EXEC_IO,
    /* agent → shim: the container's log file was renamed (rotation): write to a new one */
    TR_VERB_REOPEN_CONTAINER_LOG,
    /* agent → shim: the node's pod CIDR (CRI UpdateRuntimeConfig) */
    TR_VERB_UPDATE_RUNTIME_CONFIG,
    TR_VERB__COUNT
} tr_verb_t;

/* Error codes; names follow Kubernetes' status reasons, numbers its HTTP codes. */
typedef enum {
    TR_OK = 0,
    TR_BAD_REQUEST = 400,
    TR_UNAUTHORIZED = 401,
    TR_FORBIDDEN = 403,
    TR_NOT_FOUND = 404,
    TR_METHOD_NOT_ALLOWED = 405,
    TR_CONFLICT = 409,        /* stale resourceVersion */
    TR_ALREADY_EXISTS = 4091, /* create of an existing name (HTTP 409 too) */
    TR_EXPIRED = 410,         /* watch from a revision older than the retained log: relist */
    TR_TOO_LARGE = 413,
    TR_INVALID = 422,         /* validation failed; msg names the field path */
    TR_TOO_MANY_REQUESTS = 429, /* the server is full: body.details.retryAfterSeconds says when to retry */
    TR_INTERNAL = 500,
    TR_UNAVAILABLE = 503,
    TR_TIMEOUT = 504
} tr_code_t;

typedef struct {
    uint64_t id;
    tr_verb_t verb;
    char kind[64];
    char ns[TR_NAME_MAX + 1];
    char name[TR_NAME_MAX + 1];
    uint64_t rv;          /* resourceVersion: expected (update/delete), from (watch), result (reply) */
    json_t *body;         /* owned; NULL when absent */
    json_t *opts;         /* owned map or NULL: labelSelector, fieldSelector, type, limit, ... */
    tr_code_t code;
    char *msg;            /* owned; NULL when absent */
} tr_env_t;

/* Initialises e to empty. */
void tr_env_init (tr_env_t *e);
/* Frees what e owns and re-initialises it. */
void tr_env_clear (tr_env_t *e);

/* Encodes e into a malloc'd buffer. Returns 0 or -1. */
int tr_env_encode (const tr_env_t *e, char **buf, size_t *len);
/* The same with a body already encoded (one msgpack value, e.g. by tv_encode) instead of e->body:
 * what is sent to many receivers is encoded once (watch fan-out). */
int tr_env_encode_with (const tr_env_t *e, const void *body, size_t body_len, char **buf, size_t *len);
/* Decodes buf into e (initialised by this call). Returns 0, or a tr_code_t (TR_BAD_REQUEST,
 * TR_TOO_LARGE) with err describing the problem, e.g. "envelope: field 'kind' must be a string"
 * or "envelope: truncated msgpack at byte 12". On failure e holds nothing to free. */
int tr_env_decode (tr_env_t *e, const void *buf, size_t len, char *err, size_t errlen);
/* tr_env_decode, the body sharing with its previous version what did not change (tv_decode_like):
 * prev (arg, e, body, keep), called when the body is met with the fields decoded before it (the
 * encoder writes id and verb first) and the body as msgpack, returns that version (borrowed) or
 * NULL, and may set *keep (borrowed; initially NULL) to decode only a projection of the body
 * (tv_from_msgpack_keep), prev being projected the same. */
typedef const json_t *(tr_env_prev_fn) (void *arg, const tr_env_t *e, const msgpack_object *body, const json_t **keep);
int tr_env_decode_like (tr_env_t *e, const void *buf, size_t len, tr_env_prev_fn *prev, void *arg, char *err,
                        size_t errlen);

/* Names: "create", "NotFound"... and back. Unknown → TR_VERB_NONE / "Unknown". */
const char *tr_verb_name (tr_verb_t v);
tr_verb_t tr_verb_parse (const char *s);
const char *tr_code_name (tr_code_t c);
tr_code_t tr_code_parse (const char *s);

/* Fills e as a reply to req: same id, verb REPLY, the given code and printf-style message. */
void tr_env_reply_error (tr_env_t *e, const tr_env_t *req, tr_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
