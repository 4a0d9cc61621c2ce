/* envelope — encode/decode of the one message shape. See envelope.h and docs/protocol.md. */
#include "core/envelope.h"
#include "core/value.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *verb_names[TR_VERB__COUNT] = {
    [TR_VERB_NONE] = "", [TR_VERB_CREATE] = "create", [TR_VERB_GET] = "get", [TR_VERB_LIST] = "list",
    [TR_VERB_UPDATE] = "update", [TR_VERB_UPDATE_STATUS] = "updateStatus", [TR_VERB_PATCH] = "patch",
    [TR_VERB_DELETE] = "delete", [TR_VERB_WATCH] = "watch", [TR_VERB_CANCEL] = "cancel",
    [TR_VERB_CREDIT] = "credit", [TR_VERB_EVENT] = "event", [TR_VERB_REPLY] = "reply",
    [TR_VERB_LOGS] = "logs", [TR_VERB_HELLO] = "hello", [TR_VERB_PING] = "ping",
    [TR_VERB_RUN_POD_SANDBOX] = "RunPodSandbox", [TR_VERB_STOP_POD_SANDBOX] = "StopPodSandbox",
    [TR_VERB_REMOVE_POD_SANDBOX] = "RemovePodSandbox", [TR_VERB_CREATE_CONTAINER] = "CreateContainer",
    [TR_VERB_START_CONTAINER] = "StartContainer", [TR_VERB_STOP_CONTAINER] = "StopContainer",
    [TR_VERB_REMOVE_CONTAINER] = "RemoveContainer", [TR_VERB_CONTAINER_STATUS] = "ContainerStatus",
    [TR_VERB_LIST_CONTAINERS] = "ListContainers", [TR_VERB_EXEC_SYNC] = "ExecSync",
    [TR_VERB_PULL_IMAGE] = "PullImage", [TR_VERB_LIST_IMAGES] = "ListImages", [TR_VERB_REMOVE_IMAGE] = "RemoveImage",
    [TR_VERB_EXEC] = "exec", [TR_VERB_EXEC_START] = "ExecStart", [TR_VERB_EXEC_IO] = "ExecIO",
    [TR_VERB_REOPEN_CONTAINER_LOG] = "ReopenContainerLog",
    [TR_VERB_UPDATE_RUNTIME_CONFIG] = "UpdateRuntimeConfig",
};

const char *
tr_verb_name (tr_verb_t v)
{
    return v > TR_VERB_NONE && v < TR_VERB__COUNT ? verb_names[v] : "unknown";
}

tr_verb_t
tr_verb_parse (const char *s)
{
    for (int v = 1; s && v < TR_VERB__COUNT; v++)
        if (!strcmp (verb_names[v], s))
            return (tr_verb_t) v;
    return TR_VERB_NONE;
}

static const struct {
    tr_code_t code;
    const char *name;
} code_names[] = {
    {TR_OK, "OK"}, {TR_BAD_REQUEST, "BadRequest"}, {TR_UNAUTHORIZED, "Unauthorized"},
    {TR_FORBIDDEN, "Forbidden"}, {TR_NOT_FOUND, "NotFound"}, {TR_METHOD_NOT_ALLOWED, "MethodNotAllowed"},
    {TR_CONFLICT, "Conflict"}, {TR_ALREADY_EXISTS, "AlreadyExists"}, {TR_EXPIRED, "Expired"},
    {TR_TOO_LARGE, "TooLarge"}, {TR_INVALID, "Invalid"},
    {TR_TOO_MANY_REQUESTS, "TooManyRequests"}, {TR_INTERNAL, "InternalError"},
    {TR_UNAVAILABLE, "ServiceUnavailable"}, {TR_TIMEOUT, "Timeout"},
};

const char *
tr_code_name (tr_code_t c)
{
    for (size_t i = 0; i < sizeof code_names / sizeof code_names[0]; i++)
        if (code_names[i].code == c)
            return code_names[i].name;
    return "Unknown";
}

tr_code_t
tr_code_parse (const char *s)
{
    for (size_t i = 0; s && i < sizeof code_names / sizeof code_names[0]; i++)
        if (!strcmp (code_names[i].name, s))
            return code_names[i].code;
    return TR_INTERNAL;
}

void
tr_env_init (tr_env_t *e)
{
    memset (e, 0, sizeof *e);
}

void
tr_env_clear (tr_env_t *e)
{
    json_decref (e->body);
    json_decref (e->opts);
    free (e->msg);
    tr_env_init (e);
}

static void
pack_str (msgpack_packer *pk, const char *s)
{
    size_t n = strlen (s);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

static int
env_encode (const tr_env_t *e, const void *raw_body, size_t raw_len, char **buf, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    if (raw_body) {
        /* room for the body and the header at once: msgpack's first block is 8 KiB, which for a
         * watch event's frame (one per event and watcher) cost more than the encoding */
        size_t cap = raw_len + 256 + (e->msg ? strlen (e->msg) : 0);
        char *data = malloc (cap);
        if (data) {
            sb.data = data;
            sb.alloc = cap;
        }
    }
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    int n = 2 + (e->verb != TR_VERB_NONE) + !!e->kind[0] + !!e->ns[0] + !!e->name[0] + !!e->rv + (raw_body || e->body) +
            !!e->opts + (e->code != TR_OK) + !!e->msg;
    msgpack_pack_map (&pk, (size_t) n);
    pack_str (&pk, "v");
    msgpack_pack_uint32 (&pk, TR_PROTOCOL_VERSION);
    pack_str (&pk, "id");
    msgpack_pack_uint64 (&pk, e->id);
    if (e->verb != TR_VERB_NONE) {
        pack_str (&pk, "verb");
        pack_str (&pk, tr_verb_name (e->verb));
    }
    if (e->kind[0]) {
        pack_str (&pk, "kind");
        pack_str (&pk, e->kind);
    }
    if (e->ns[0]) {
        pack_str (&pk, "ns");
        pack_str (&pk, e->ns);
    }
    if (e->name[0]) {
        pack_str (&pk, "name");
        pack_str (&pk, e->name);
    }
    if (e->rv) {
        pack_str (&pk, "rv");
        msgpack_pack_uint64 (&pk, e->rv);
    }
    int rc = 0;
    if (raw_body) {
        pack_str (&pk, "body");
        msgpack_sbuffer_write (&sb, raw_body, raw_len); /* already one msgpack value */
    } else if (e->body) {
        pack_str (&pk, "body");
        rc |= tv_pack (&pk, e->body);
    }
    if (e->opts) {
        pack_str (&pk, "opts");
        rc |= tv_pack (&pk, e->opts);
    }
    if (e->code != TR_OK) {
        pack_str (&pk, "code");
        pack_str (&pk, tr_code_name (e->code));
    }
    if (e->msg) {
        pack_str (&pk, "msg");
        pack_str (&pk, e->msg);
    }
    if (rc) {
        msgpack_sbuffer_destroy (&sb);
        return -1;
    }
    *len = sb.size;
    *buf = msgpack_sbuffer_release (&sb);
    return 0;
}

int
tr_env_encode (const tr_env_t *e, char **buf, size_t *len)
{
    return env_encode (e, NULL, 0, buf, len);
}

int
tr_env_encode_with (const tr_env_t *e, const void *body, size_t body_len, char **buf, size_t *len)
{
    return env_encode (e, body, body_len, buf, len);
}

static int
copy_str (char *dst, size_t cap, const msgpack_object *o, const char *field, char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        snprintf (err, errlen, "envelope: field '%s' must be a string", field);
        return -1;
    }
    if (o->via.str.size >= cap || (o->via.str.size && memchr (o->via.str.ptr, 0, o->via.str.size))) {
        snprintf (err, errlen, "envelope: field '%s' longer than %zu bytes or holding NUL", field, cap - 1);
        return -1;
    }
    if (o->via.str.size)
        memcpy (dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = 0;
    return 0;
}

static int
decode_map (tr_env_t *e, const msgpack_object *root, tr_env_prev_fn *prev_fn, void *arg, char *err, size_t errlen)
{
    if (root->type != MSGPACK_OBJECT_MAP) {
        snprintf (err, errlen, "envelope: top level must be a map");
        return -1;
    }
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key, *v = &root->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            snprintf (err, errlen, "envelope: key %u is not a string", i);
            return -1;
        }
        char key[16];
        if (k->via.str.size >= sizeof key)
            continue; /* unknown long key: ignored for forward compatibility */
        if (k->via.str.size) /* an empty str may carry a NULL pointer */
            memcpy (key, k->via.str.ptr, k->via.str.size);
        key[k->via.str.size] = 0;
        char sub[256];
        if (!strcmp (key, "v")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != TR_PROTOCOL_VERSION) {
                snprintf (err, errlen, "envelope: unsupported protocol version (this side speaks %d)",
                          TR_PROTOCOL_VERSION);
                return -1;
            }
        } else if (!strcmp (key, "id") || !strcmp (key, "rv")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                snprintf (err, errlen, "envelope: field '%s' must be an unsigned integer", key);
                return -1;
            }
            *(key[0] == 'i' ? &e->id : &e->rv) = v->via.u64;
        } else if (!strcmp (key, "verb")) {
            char vb[32];
            if (copy_str (vb, sizeof vb, v, key, err, errlen))
                return -1;
            e->verb = tr_verb_parse (vb);
            if (e->verb == TR_VERB_NONE) {
                snprintf (err, errlen, "envelope: unknown verb \"%s\"", vb);
                return -1;
            }
        } else if (!strcmp (key, "kind")) {
            if (copy_str (e->kind, sizeof e->kind, v, key, err, errlen))
                return -1;
        } else if (!strcmp (key, "ns")) {
            if (copy_str (e->ns, sizeof e->ns, v, key, err, errlen))
                return -1;
        } else if (!strcmp (key, "name")) {
            if (copy_str (e->name, sizeof e->name, v, key, err, errlen))
                return -1;
        } else if (!strcmp (key, "code")) {
            char cb[32];
            if (copy_str (cb, sizeof cb, v, key, err, errlen))
                return -1;
            e->code = tr_code_parse (cb);
        } else if (!strcmp (key, "msg")) {
            if (v->type != MSGPACK_OBJECT_STR) {
                snprintf (err, errlen, "envelope: field 'msg' must be a string");
                return -1;
            }
            free (e->msg); /* a repeated key: the last one wins (found by fuzz_envelope: it leaked) */
            e->msg = v->via.str.size ? strndup (v->via.str.ptr, v->via.str.size) : strdup ("");
        } else if (!strcmp (key, "body") || !strcmp (key, "opts")) {
            const json_t *keep = NULL;
            const json_t *prev = key[0] == 'b' && prev_fn ? prev_fn (arg, e, v, &keep) : NULL;
            json_t *x = keep ? tv_from_msgpack_keep (v, prev, keep, sub, sizeof sub) : tv_from_msgpack_like (v, prev, sub, sizeof sub);
            if (!x) {
                snprintf (err, errlen, "envelope: field '%s': %s", key, sub);
                return -1;
            }
            if (key[0] == 'o' && !json_is_object (x)) {
                json_decref (x);
                snprintf (err, errlen, "envelope: field 'opts' must be a map");
                return -1;
            }
            json_decref (key[0] == 'b' ? e->body : e->opts);
            *(key[0] == 'b' ? &e->body : &e->opts) = x;
        }
        /* other keys: ignored, so a newer peer can add fields */
    }
    return 0;
}

/* ---- a zone per thread for decoding ----------------------------------------------------------
 * msgpack_unpack builds the message's objects in a zone; a zone made per message cost a malloc of
 * its first chunk (and, on a heap that grows, fresh pages) for every message an actor reads. Each
 * thread keeps one, cleared after each message (msgpack_zone_clear keeps the first chunk, sized for
 * a large object; a larger message adds chunks that the clear frees), freed when the thread ends. */
#define THREAD_ZONE_CHUNK (64 * 1024)

static pthread_key_t zone_key;
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;
static int zone_key_ok;

static void
zone_free (void *z)
{
    msgpack_zone_free (z);
}

static void
zone_key_make (void)
{
    zone_key_ok = pthread_key_create (&zone_key, zone_free) == 0;
}

static _Thread_local int zone_busy; /* a decode inside a decode takes a zone of its own */

/* The thread's zone, or NULL (in use, or out of memory: the caller makes its own). */
static msgpack_zone *
thread_zone (void)
{
    pthread_once (&zone_once, zone_key_make);
    if (!zone_key_ok || zone_busy)
        return NULL;
    msgpack_zone *z = pthread_getspecific (zone_key);
    if (!z) {
        if (!(z = msgpack_zone_new (THREAD_ZONE_CHUNK)))
            return NULL;
        if (pthread_setspecific (zone_key, z)) {
            msgpack_zone_free (z);
            return NULL;
        }
    }
    zone_busy = 1;
    return z;
}

static void
thread_zone_release (msgpack_zone *z)
{
    msgpack_zone_clear (z);
    zone_busy = 0;
}

int
tr_env_decode (tr_env_t *e, const void *buf, size_t len, char *err, size_t errlen)
{
    return tr_env_decode_like (e, buf, len, NULL, NULL, err, errlen);
}

int
tr_env_decode_like (tr_env_t *e, const void *buf, size_t len, tr_env_prev_fn *prev, void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    tr_env_init (e);
    if (len > TR_MAX_FRAME) {
        snprintf (err, errlen, "envelope: frame of %zu bytes exceeds the %u byte limit", len, TR_MAX_FRAME);
        return TR_TOO_LARGE;
    }
    if (len == 0) {
        snprintf (err, errlen, "envelope: empty frame");
        return TR_BAD_REQUEST;
    }
    size_t used;
    char why[200];
    if (tv_check (buf, len, &used, why, sizeof why)) {
        snprintf (err, errlen, "envelope: %s", why);
        return TR_BAD_REQUEST;
    }
    if (used != len) {
        snprintf (err, errlen, "envelope: trailing bytes after the message at byte %zu", used);
        return TR_BAD_REQUEST;
    }
    msgpack_zone own, *zone = thread_zone ();
    msgpack_object obj;
    size_t off = 0;
    if (!zone) {
        zone = &own;
        if (!msgpack_zone_init (zone, 4096)) {
            snprintf (err, errlen, "envelope: out of memory");
            return TR_INTERNAL;
        }
    }
    int rc = TR_BAD_REQUEST;
    msgpack_unpack_return r = msgpack_unpack ((const char *) buf, len, &off, zone, &obj);
    if (r == MSGPACK_UNPACK_SUCCESS)
        rc = decode_map (e, &obj, prev, arg, err, errlen) ? TR_BAD_REQUEST : TR_OK;
    else if (r == MSGPACK_UNPACK_EXTRA_BYTES)
        snprintf (err, errlen, "envelope: trailing bytes after the message at byte %zu", off);
    else if (r == MSGPACK_UNPACK_CONTINUE)
        snprintf (err, errlen, "envelope: truncated msgpack (%zu bytes end inside a value)", len);
    else
        snprintf (err, errlen, "envelope: malformed msgpack near byte %zu", off);
    if (zone == &own)
        msgpack_zone_destroy (zone);
    else
        thread_zone_release (zone);
    if (rc != TR_OK)
        tr_env_clear (e);
    return rc;
}

void
tr_env_reply_error (tr_env_t *e, const tr_env_t *req, tr_code_t code, const char *fmt, ...)
{
    tr_env_init (e);
    e->id = req ? req->id : 0;
    e->verb = TR_VERB_REPLY;
    e->code = code;
    va_list ap;
    va_start (ap, fmt);
    if (vasprintf (&e->msg, fmt, ap) < 0)
        e->msg = NULL;
    va_end (ap);
}
