/* value — json_t trees ⇄ msgpack, and path helpers. See value.h. */
#include "core/value.h"
#include "core/quantity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where tv_encode_mark finds its mark: the offsets in sb of the mark's encoding. */
typedef struct {
    const json_t *obj;
    const msgpack_sbuffer *sb;
    size_t at, end;
    int found;
} mark_t;

static int
pack (msgpack_packer *pk, const json_t *v, mark_t *m)
{
    size_t at = m ? m->sb->size : 0;
    int rc = -1;
    switch (json_typeof (v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        if (msgpack_pack_map (pk, json_object_size (v)))
            return -1;
        json_object_foreach ((json_t *) v, k, x) {
            size_t kl = strlen (k);
            if (msgpack_pack_str (pk, kl) || msgpack_pack_str_body (pk, k, kl) || pack (pk, x, m))
                return -1;
        }
        rc = 0;
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        if (msgpack_pack_array (pk, json_array_size (v)))
            return -1;
        json_array_foreach (v, i, x)
            if (pack (pk, x, m))
                return -1;
        rc = 0;
        break;
    }
    case JSON_STRING: {
        size_t l = json_string_length (v);
        rc = msgpack_pack_str (pk, l) || msgpack_pack_str_body (pk, json_string_value (v), l) ? -1 : 0;
        break;
    }
    case JSON_INTEGER:
        rc = msgpack_pack_int64 (pk, json_integer_value (v));
        break;
    case JSON_REAL:
        rc = msgpack_pack_double (pk, json_real_value (v));
        break;
    case JSON_TRUE:
        rc = msgpack_pack_true (pk);
        break;
    case JSON_FALSE:
        rc = msgpack_pack_false (pk);
        break;
    case JSON_NULL:
        rc = msgpack_pack_nil (pk);
        break;
    }
    if (m && v == m->obj && !m->found && !rc) {
        m->at = at;
        m->end = m->sb->size;
        m->found = 1;
    }
    return rc;
}

int
tv_pack (msgpack_packer *pk, const json_t *v)
{
    return pack (pk, v, NULL);
}

/* sb's buffer, handed over (0), or -1 when empty. It starts at 8 KiB and doubles: a caller that
 * keeps the encoding (an event ring, a cache) would hold 8 KiB for a 1.5 KiB pod, so it is cut to
 * its size (glibc shrinks in place). */
static int
release_fit (msgpack_sbuffer *sb, char **buf, size_t *len)
{
    *len = sb->size;
    size_t alloc = sb->alloc;
    *buf = msgpack_sbuffer_release (sb);
    if (!*buf)
        return -1;
    if (alloc - *len > 512) {
        char *s = realloc (*buf, *len);
        if (s)
            *buf = s;
    }
    return 0;
}

static int
encode (const json_t *v, mark_t *m, char **buf, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    if (m)
        m->sb = &sb;
    if (pack (&pk, v, m)) {
        msgpack_sbuffer_destroy (&sb);
        return -1;
    }
    return release_fit (&sb, buf, len);
}

int
tv_encode (const json_t *v, char **buf, size_t *len)
{
    return encode (v, NULL, buf, len);
}

int
tv_encode_mark (const json_t *v, const json_t *mark, char **buf, size_t *len, size_t *at, size_t *end)
{
    mark_t m = {.obj = mark};
    if (encode (v, &m, buf, len))
        return -1;
    *at = m.found ? m.at : 0;
    *end = m.found ? m.end : 0;
    return m.found ? 0 : 1;
}

/* msgpack_sbuffer_write of n bytes, none when n is 0 (an empty buffer has no data to copy to) */
static int
put (msgpack_sbuffer *sb, const char *p, size_t n)
{
    return n ? msgpack_sbuffer_write (sb, p, n) : 0;
}

int
tv_msgpack_map_append_str (const char *buf, size_t len, size_t at, size_t end, const char *key, const char *value,
                           char **out, size_t *outlen)
{
    if (at >= end || end > len)
        return -1;
    const unsigned char *b = (const unsigned char *) buf + at;
    size_t n, hdr;
    if ((b[0] & 0xf0) == 0x80) {
        n = b[0] & 0x0f;
        hdr = 1;
    } else if (b[0] == 0xde && end - at >= 3) {
        n = (size_t) b[1] << 8 | b[2];
        hdr = 3;
    } else if (b[0] == 0xdf && end - at >= 5) {
        n = (size_t) b[1] << 24 | (size_t) b[2] << 16 | (size_t) b[3] << 8 | b[4];
        hdr = 5;
    } else
        return -1;
    if (n >= UINT32_MAX)
        return -1;
    size_t kl = strlen (key), vl = strlen (value);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    if (put (&sb, buf, at) || msgpack_pack_map (&pk, n + 1) || put (&sb, buf + at + hdr, end - at - hdr) ||
        msgpack_pack_str (&pk, kl) || msgpack_pack_str_body (&pk, key, kl) || msgpack_pack_str (&pk, vl) ||
        msgpack_pack_str_body (&pk, value, vl) || put (&sb, buf + end, len - end)) {
        msgpack_sbuffer_destroy (&sb);
        return -1;
    }
    return release_fit (&sb, out, outlen);
}

#define MAP_KEY_MAX 512

/* Whether a map entry's key is one the decoders take: a string shorter than MAP_KEY_MAX without a
 * NUL; then *k and *kl are its bytes ("" when empty: an empty str may carry a NULL pointer). */
static int
mp_key_ok (const msgpack_object_kv *kv, const char **k, size_t *kl)
{
    if (kv->key.type != MSGPACK_OBJECT_STR)
        return 0;
    *kl = kv->key.via.str.size;
    *k = *kl ? kv->key.via.str.ptr : "";
    return *kl < MAP_KEY_MAX && !memchr (*k, 0, *kl);
}

/* A map key as a C string into key[MAP_KEY_MAX] (*kl its length): 0, or -1 with err when it is not
 * a string, is too long or holds a NUL. */
static int
map_key (const msgpack_object_kv *kv, char *key, size_t *kl, char *err, size_t errlen)
{
    const char *k;
    if (!mp_key_ok (kv, &k, kl)) {
        snprintf (err, errlen, "%s",
                  kv->key.type != MSGPACK_OBJECT_STR ? "map key is not a string" : "map key too long or holding NUL");
        return -1;
    }
    memcpy (key, k, *kl);
    key[*kl] = 0;
    return 0;
}

static json_t *map_from_msgpack (const msgpack_object *o, const json_t *prev, const json_t *keep, int depth, int fresh,
                                 char *err, size_t errlen);

static json_t *
from_msgpack (const msgpack_object *o, int depth, char *err, size_t errlen)
{
    if (depth > TV_MAX_DEPTH) {
        snprintf (err, errlen, "nesting deeper than %d", TV_MAX_DEPTH);
        return NULL;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null ();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean (o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t) INT64_MAX) {
            snprintf (err, errlen, "integer %llu out of range", (unsigned long long) o->via.u64);
            return NULL;
        }
        return json_integer ((json_int_t) o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer ((json_int_t) o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real (o->via.f64);
    case MSGPACK_OBJECT_STR:
        return o->via.str.size ? json_stringn_nocheck (o->via.str.ptr, o->via.str.size) : json_string ("");
    case MSGPACK_OBJECT_BIN:
        return o->via.bin.size ? json_stringn_nocheck (o->via.bin.ptr, o->via.bin.size) : json_string ("");
    case MSGPACK_OBJECT_EXT:
        return o->via.ext.size ? json_stringn_nocheck (o->via.ext.ptr, o->via.ext.size) : json_string ("");
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array ();
        for (uint32_t i = 0; a && i < o->via.array.size; i++) {
            json_t *x = from_msgpack (&o->via.array.ptr[i], depth + 1, err, errlen);
            if (!x || json_array_append_new (a, x)) {
                json_decref (a);
                return NULL;
            }
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP:
        return map_from_msgpack (o, NULL, NULL, depth, 0, err, errlen);
    }
    snprintf (err, errlen, "unknown msgpack type %d", (int) o->type);
    return NULL;
}

/* Whether o is the value v is (as from_msgpack would make it), without allocating: what
 * tv_decode_like shares. A map key from_msgpack would refuse never matches (so the decode that
 * follows reports it). */
static int
mp_equal (const msgpack_object *o, const json_t *v, int depth)
{
    if (!v || depth > TV_MAX_DEPTH)
        return 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_is_null (v);
    case MSGPACK_OBJECT_BOOLEAN:
        return o->via.boolean ? json_is_true (v) : json_is_false (v);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (uint64_t) INT64_MAX && json_is_integer (v) && json_integer_value (v) == (json_int_t) o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_is_integer (v) && json_integer_value (v) == (json_int_t) o->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_is_real (v) && json_real_value (v) == o->via.f64;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
    case MSGPACK_OBJECT_EXT: {
        const char *p = o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->type == MSGPACK_OBJECT_BIN ? o->via.bin.ptr : o->via.ext.ptr;
        uint32_t n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->type == MSGPACK_OBJECT_BIN ? o->via.bin.size : o->via.ext.size;
        return json_is_string (v) && json_string_length (v) == n && (!n || !memcmp (json_string_value (v), p, n));
    }
    case MSGPACK_OBJECT_ARRAY:
        if (!json_is_array (v) || json_array_size (v) != o->via.array.size)
            return 0;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!mp_equal (&o->via.array.ptr[i], json_array_get (v, i), depth + 1))
                return 0;
        return 1;
    case MSGPACK_OBJECT_MAP:
        if (!json_is_object (v) || json_object_size (v) != o->via.map.size)
            return 0;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            const char *k;
            size_t kl;
            if (!mp_key_ok (kv, &k, &kl) || !mp_equal (&kv->val, json_object_getn (v, k, kl), depth + 1))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* from_msgpack, taking from prev (the value at the same place in the previous version) every
 * value equal to the one decoded; maps at depth < fresh are always new. */
static json_t *
from_msgpack_like (const msgpack_object *o, const json_t *prev, int depth, int fresh, char *err, size_t errlen)
{
    if (!prev)
        return from_msgpack (o, depth, err, errlen);
    if (depth >= fresh && mp_equal (o, prev, depth))
        return json_incref ((json_t *) prev);
    if (o->type != MSGPACK_OBJECT_MAP || !json_is_object (prev))
        return from_msgpack (o, depth, err, errlen);
    if (depth > TV_MAX_DEPTH) {
        snprintf (err, errlen, "nesting deeper than %d", TV_MAX_DEPTH);
        return NULL;
    }
    return map_from_msgpack (o, prev, NULL, depth, fresh, err, errlen);
}

/* ---- projections: only the kept fields ------------------------------------------------------ */

/* keep (tv_keep_new): NULL or true keeps the whole value; a map keeps, of a map, the keys it
 * names (each with its own keep) and, of an array, each element so (other values whole). */
static int
keep_all (const json_t *keep)
{
    return !keep || !json_is_object (keep);
}

/* mp_equal of o projected by keep. */
static int
mp_equal_keep (const msgpack_object *o, const json_t *v, const json_t *keep, int depth)
{
    if (keep_all (keep))
        return mp_equal (o, v, depth);
    if (!v || depth > TV_MAX_DEPTH)
        return 0;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        if (!json_is_array (v) || json_array_size (v) != o->via.array.size)
            return 0;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!mp_equal_keep (&o->via.array.ptr[i], json_array_get (v, i), keep, depth + 1))
                return 0;
        return 1;
    }
    if (o->type != MSGPACK_OBJECT_MAP)
        return mp_equal (o, v, depth);
    if (!json_is_object (v))
        return 0;
    size_t kept = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        const char *k;
        size_t kl;
        if (!mp_key_ok (kv, &k, &kl))
            return 0;
        const json_t *kk = json_object_getn (keep, k, kl);
        if (!kk)
            continue;
        kept++;
        if (!mp_equal_keep (&kv->val, json_object_getn (v, k, kl), kk, depth + 1))
            return 0;
    }
    return json_object_size (v) == kept;
}

/* from_msgpack_like of o projected by keep (prev: the previous version, projected the same). */
static json_t *
from_msgpack_keep (const msgpack_object *o, const json_t *prev, const json_t *keep, int depth, int fresh, char *err,
                   size_t errlen)
{
    if (keep_all (keep))
        return from_msgpack_like (o, prev, depth, fresh, err, errlen);
    if (depth > TV_MAX_DEPTH) {
        snprintf (err, errlen, "nesting deeper than %d", TV_MAX_DEPTH);
        return NULL;
    }
    if (prev && depth >= fresh && mp_equal_keep (o, prev, keep, depth))
        return json_incref ((json_t *) prev);
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        json_t *a = json_array ();
        int same_shape = json_is_array (prev) && json_array_size (prev) == o->via.array.size;
        for (uint32_t i = 0; a && i < o->via.array.size; i++) {
            json_t *x = from_msgpack_keep (&o->via.array.ptr[i], same_shape ? json_array_get (prev, i) : NULL, keep,
                                           depth + 1, fresh, err, errlen);
            if (!x || json_array_append_new (a, x)) {
                json_decref (a);
                return NULL;
            }
        }
        return a;
    }
    if (o->type != MSGPACK_OBJECT_MAP)
        return from_msgpack (o, depth, err, errlen);
    return map_from_msgpack (o, prev, keep, depth, fresh, err, errlen);
}

/* The map o (at depth) decoded, what from_msgpack, from_msgpack_like and from_msgpack_keep share:
 * each value decoded against prev's value of the same key (prev NULL or not a map: none, and then
 * by from_msgpack itself: the plain decode stays direct); keep NULL keeps every key, a map only the
 * keys it names, each value projected by its own keep. */
static json_t *
map_from_msgpack (const msgpack_object *o, const json_t *prev, const json_t *keep, int depth, int fresh, char *err,
                  size_t errlen)
{
    json_t *m = json_object ();
    for (uint32_t i = 0; m && i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        char key[MAP_KEY_MAX];
        size_t kl;
        if (map_key (kv, key, &kl, err, errlen)) {
            json_decref (m);
            return NULL;
        }
        const json_t *kk = keep ? json_object_getn (keep, key, kl) : NULL;
        if (keep && !kk)
            continue;
        const json_t *p = json_object_getn (prev, key, kl); /* NULL when prev is not a map */
        json_t *x = kk  ? from_msgpack_keep (&kv->val, p, kk, depth + 1, fresh, err, errlen)
                    : p ? from_msgpack_like (&kv->val, p, depth + 1, fresh, err, errlen)
                        : from_msgpack (&kv->val, depth + 1, err, errlen);
        if (!x) {
            json_decref (m);
            return NULL;
        }
        json_object_set_new_nocheck (m, key, x);
    }
    return m;
}

json_t *
tv_from_msgpack_keep (const msgpack_object *o, const json_t *prev, const json_t *keep, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    return from_msgpack_keep (o, prev, keep, 0, 2, err, errlen);
}

json_t *
tv_keep_new (const char *const *paths, size_t n)
{
    json_t *keep = json_object ();
    for (size_t i = 0; i < n; i++) {
        json_t *cur = keep;
        const char *p = paths[i];
        while (cur) {
            const char *dot = strchr (p, '.');
            size_t len = dot ? (size_t) (dot - p) : strlen (p);
            json_t *next = json_object_getn (cur, p, len);
            if (!dot) {
                json_object_setn_new (cur, p, len, json_true ()); /* the whole value, over any narrower keep */
                break;
            }
            if (json_is_true (next))
                break; /* already kept whole */
            if (!next)
                json_object_setn_new (cur, p, len, next = json_object ());
            cur = next;
            p = dot + 1;
        }
    }
    return keep;
}

json_t *
tv_project (const json_t *v, const json_t *keep)
{
    if (keep_all (keep))
        return json_incref ((json_t *) v);
    if (json_is_array (v)) {
        json_t *a = json_array ();
        size_t i;
        json_t *x;
        json_array_foreach ((json_t *) v, i, x) json_array_append_new (a, tv_project (x, keep));
        return a;
    }
    if (!json_is_object (v))
        return json_incref ((json_t *) v);
    json_t *m = json_object ();
    const char *k;
    json_t *x;
    json_object_foreach ((json_t *) v, k, x) {
        const json_t *kk = json_object_get (keep, k);
        if (kk)
            json_object_set_new_nocheck (m, k, tv_project (x, kk));
    }
    return m;
}

/* both: tv_from_msgpack_keep keeping everything (from_msgpack_like, or from_msgpack without prev) */
json_t *
tv_from_msgpack_like (const msgpack_object *o, const json_t *prev, char *err, size_t errlen)
{
    return tv_from_msgpack_keep (o, prev, NULL, err, errlen);
}

json_t *
tv_from_msgpack (const msgpack_object *o, char *err, size_t errlen)
{
    return tv_from_msgpack_keep (o, NULL, NULL, err, errlen);
}

static uint64_t
be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int
tv_check (const void *buf, size_t len, size_t *used, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    size_t pos = 0;
    uint64_t left[TV_MAX_DEPTH + 1];
    int depth = 0;
    left[0] = 1;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        left[depth]--;
        if (pos >= len) {
            snprintf (err, errlen, "truncated msgpack: %zu bytes end inside a value", len);
            return -1;
        }
        uint8_t b = p[pos];
        size_t hdr = 1;    /* bytes before the payload */
        int lenbytes = 0;  /* size of a length field after the type byte */
        uint64_t body = 0; /* payload bytes (scalars) */
        uint64_t items = 0;
        int container = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;
        else if (b >= 0x80 && b <= 0x8f)
            container = 1, items = 2u * (b & 0x0f);
        else if (b >= 0x90 && b <= 0x9f)
            container = 1, items = b & 0x0f;
        else if (b >= 0xa0 && b <= 0xbf)
            body = b & 0x1f;
        else
            switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; break;
            case 0xc5: case 0xda: lenbytes = 2; break;
            case 0xc6: case 0xdb: lenbytes = 4; break;
            case 0xc7: lenbytes = 1; body = 1; break; /* ext: + type byte */
            case 0xc8: lenbytes = 2; body = 1; break;
            case 0xc9: lenbytes = 4; body = 1; break;
            case 0xca: case 0xce: case 0xd2: body = 4; break;
            case 0xcb: case 0xcf: case 0xd3: body = 8; break;
            case 0xcc: case 0xd0: body = 1; break;
            case 0xcd: case 0xd1: body = 2; break;
            case 0xd4: body = 2; break;
            case 0xd5: body = 3; break;
            case 0xd6: body = 5; break;
            case 0xd7: body = 9; break;
            case 0xd8: body = 17; break;
            case 0xdc: container = 1; lenbytes = 2; break;
            case 0xdd: container = 1; lenbytes = 4; break;
            case 0xde: container = 2; lenbytes = 2; break;
            case 0xdf: container = 2; lenbytes = 4; break;
            default:
                snprintf (err, errlen, "malformed msgpack: reserved type byte 0x%02x at byte %zu", b, pos);
                return -1;
            }
        hdr += (size_t) lenbytes;
        if (len - pos < hdr) {
            snprintf (err, errlen, "truncated msgpack: header at byte %zu cut short", pos);
            return -1;
        }
        if (lenbytes) {
            uint64_t n = be (p + pos + 1, lenbytes);
            if (container)
                items = container == 2 ? 2 * n : n;
            else
                body += n;
        }
        pos += hdr;
        if (!container) {
            if (body > len - pos) {
                snprintf (err, errlen, "truncated msgpack: value at byte %zu claims %llu bytes, %zu remain",
                          pos - hdr, (unsigned long long) body, len - pos);
                return -1;
            }
            pos += (size_t) body;
            continue;
        }
        if (items > len - pos) { /* every element takes at least one byte */
            snprintf (err, errlen, "truncated msgpack: container at byte %zu claims %llu elements, %zu bytes remain",
                      pos - hdr, (unsigned long long) items, len - pos);
            return -1;
        }
        if (items) {
            if (depth + 1 > TV_MAX_DEPTH) {
                snprintf (err, errlen, "msgpack nesting deeper than %d at byte %zu", TV_MAX_DEPTH, pos - hdr);
                return -1;
            }
            left[++depth] = items;
        }
    }
    *used = pos;
    return 0;
}

static json_t *
decode (const void *buf, size_t len, const json_t *prev, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    size_t used;
    if (tv_check (buf, len, &used, err, errlen))
        return NULL;
    if (used != len) {
        snprintf (err, errlen, "trailing bytes after the msgpack value at byte %zu", used);
        return NULL;
    }
    msgpack_zone zone;
    msgpack_object obj;
    size_t off = 0;
    if (!msgpack_zone_init (&zone, 2048)) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    msgpack_unpack_return r = msgpack_unpack ((const char *) buf, len, &off, &zone, &obj);
    json_t *v = NULL;
    if (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES) {
        if (r == MSGPACK_UNPACK_EXTRA_BYTES)
            snprintf (err, errlen, "trailing bytes after the msgpack value at byte %zu", off);
        else
            v = from_msgpack_like (&obj, prev, 0, 2, err, errlen);
    } else if (r == MSGPACK_UNPACK_CONTINUE)
        snprintf (err, errlen, "truncated msgpack: %zu bytes end inside a value", len);
    else if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        snprintf (err, errlen, "msgpack value too large or too deep");
    else
        snprintf (err, errlen, "malformed msgpack near byte %zu", off);
    msgpack_zone_destroy (&zone);
    return v;
}

json_t *
tv_decode (const void *buf, size_t len, char *err, size_t errlen)
{
    return decode (buf, len, NULL, err, errlen);
}

json_t *
tv_decode_like (const void *buf, size_t len, const json_t *prev, char *err, size_t errlen)
{
    return decode (buf, len, prev, err, errlen);
}

/* Walks path; returns the parent map and copies the last key into last[]. */
static json_t *
walk (const json_t *obj, const char *path, char *last, size_t lastlen, int create)
{
    json_t *cur = (json_t *) obj;
    const char *p = path;
    for (;;) {
        const char *dot = strchr (p, '.');
        size_t n = dot ? (size_t) (dot - p) : strlen (p);
        if (n == 0 || n >= lastlen || !json_is_object (cur))
            return NULL;
        memcpy (last, p, n);
        last[n] = 0;
        if (!dot)
            return cur;
        json_t *next = json_object_get (cur, last);
        if (!next) {
            if (!create)
                return NULL;
            next = json_object ();
            if (json_object_set_new (cur, last, next))
                return NULL;
        }
        cur = next;
        p = dot + 1;
    }
}

json_t *
tv_get (const json_t *obj, const char *path)
{
    /* walk's rules (no empty step, a step under 256 bytes), each step looked up in place by its
     * length: no copy of it, no second strlen (a hot path: watch filters, validation, plugins) */
    const json_t *cur = obj;
    for (const char *p = path;;) {
        if (!json_is_object (cur))
            return NULL;
        const char *dot = strchr (p, '.');
        size_t n = dot ? (size_t) (dot - p) : strlen (p);
        if (n == 0 || n >= 256)
            return NULL;
        json_t *next = json_object_getn (cur, p, n);
        if (!dot)
            return next;
        cur = next;
        p = dot + 1;
    }
}

const char *
tv_str (const json_t *obj, const char *path)
{
    return json_string_value (tv_get (obj, path));
}

json_int_t
tv_int (const json_t *obj, const char *path, json_int_t dflt)
{
    json_t *v = tv_get (obj, path);
    if (json_is_integer (v))
        return json_integer_value (v);
    if (json_is_real (v)) {
        double d = json_real_value (v);
        /* in range before the cast (out of range it is undefined behaviour); NaN fails both */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double) (json_int_t) d)
            return (json_int_t) d;
    }
    return dflt;
}

int
tv_quantity_milli (const json_t *v, int64_t *out_milli, char *err, size_t errlen)
{
    char text[40];
    if (json_is_string (v))
        return quantity_parse_milli (json_string_value (v), out_milli, err, errlen);
    if (json_is_integer (v)) {
        snprintf (text, sizeof text, "%lld", (long long) json_integer_value (v));
    } else if (json_is_real (v)) {
        /* the shortest text that reads back as the same double: 0.1 is "0.1", not 0.1000000000000000055 */
        double d = json_real_value (v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf (text, sizeof text, "%.*g", prec, d);
            if (strtod (text, NULL) == d)
                break;
        }
        /* %g writes "1e+20" and "inf"; the quantity grammar has "1e+20" and refuses the rest */
    } else {
        if (err && errlen)
            snprintf (err, errlen, "must be a quantity (a string like 500m or a number), not %s",
                      json_is_null (v) ? "null" : json_is_boolean (v) ? "a boolean" : json_is_array (v) ? "an array"
                                                                                     : "a map");
        return -1;
    }
    return quantity_parse_milli (text, out_milli, err, errlen);
}

bool
tv_bool (const json_t *obj, const char *path, bool dflt)
{
    json_t *v = tv_get (obj, path);
    return json_is_boolean (v) ? json_is_true (v) : dflt;
}

int
tv_set (json_t *obj, const char *path, json_t *val)
{
    char key[256];
    json_t *parent = val && obj ? walk (obj, path, key, sizeof key, 1) : NULL;
    if (!parent) {
        json_decref (val);
        return -1;
    }
    return json_object_set_new (parent, key, val) ? -1 : 0;
}

int
tv_set_str (json_t *obj, const char *path, const char *s)
{
    return tv_set (obj, path, json_string (s));
}

int
tv_set_int (json_t *obj, const char *path, json_int_t i)
{
    return tv_set (obj, path, json_integer (i));
}

int
tv_del (json_t *obj, const char *path)
{
    char key[256];
    json_t *parent = obj ? walk (obj, path, key, sizeof key, 0) : NULL;
    if (parent)
        json_object_del (parent, key);
    return 0;
}

json_t *
tv_obj (json_t *obj, const char *path)
{
    json_t *v = tv_get (obj, path);
    if (v)
        return json_is_object (v) ? v : NULL;
    if (tv_set (obj, path, json_object ()))
        return NULL;
    return tv_get (obj, path);
}

/* One merge of patch into the map target; strategic: the "conditions" lists merge by type. */
static void
merge_maps (json_t *target, const json_t *patch, int strategic);

/* The element of list whose "type" is type, or NULL. */
static json_t *
by_type (const json_t *list, const char *type)
{
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        const char *t = tv_str (e, "type");
        if (t && !strcmp (t, type))
            return e;
    }
    return NULL;
}

/* A copy of patch's value pv for a key the target lacks (or holds as another type): a map is
 * merged into a fresh map, so its nulls vanish, as RFC 7386 says. */
static json_t *
fresh_value (const json_t *pv, int strategic)
{
    if (!json_is_object (pv))
        return json_deep_copy (pv);
    json_t *fresh = json_object ();
    merge_maps (fresh, pv, strategic);
    return fresh;
}

/* The list cur (in place) merged with the patch's list by each element's "type"; two patch
 * elements of one type merge in turn, as into an existing one. */
static void
merge_conditions (json_t *cur, const json_t *patch)
{
    size_t i;
    json_t *pe;
    json_array_foreach (patch, i, pe) {
        const char *t = tv_str (pe, "type");
        json_t *e = t ? by_type (cur, t) : NULL;
        if (e && json_is_object (pe))
            merge_maps (e, pe, 1);
        else
            json_array_append_new (cur, fresh_value (pe, 1));
    }
}

static void
merge_maps (json_t *target, const json_t *patch, int strategic)
{
    const char *k;
    json_t *pv;
    json_object_foreach ((json_t *) patch, k, pv) {
        json_t *cur = json_object_get (target, k);
        if (json_is_null (pv))
            json_object_del (target, k);
        else if (json_is_object (pv) && json_is_object (cur))
            merge_maps (cur, pv, strategic);
        else if (strategic && json_is_array (pv) && !strcmp (k, "conditions")) {
            if (!json_is_array (cur)) { /* a new list: its elements go through the same merge */
                cur = json_array ();
                json_object_set_new (target, k, cur);
            }
            merge_conditions (cur, pv);
        } else
            json_object_set_new (target, k, fresh_value (pv, strategic));
    }
}

int
tv_merge_patch (json_t *target, const json_t *patch)
{
    if (!json_is_object (target) || !json_is_object (patch))
        return -1;
    merge_maps (target, patch, 0);
    return 0;
}

int
tv_strategic_patch (json_t *target, const json_t *patch)
{
    if (!json_is_object (target) || !json_is_object (patch))
        return -1;
    merge_maps (target, patch, 1);
    return 0;
}

/* ---- structural sharing --------------------------------------------------------------------- */

json_t *
tv_unshare (json_t *root, const char *path)
{
    if (!json_is_object (root) || !path || !*path)
        return NULL;
    json_t *cur = root;
    char key[256];
    const char *p = path;
    for (;;) {
        const char *dot = strchr (p, '.');
        size_t n = dot ? (size_t) (dot - p) : strlen (p);
        if (n == 0 || n >= sizeof key)
            return NULL;
        memcpy (key, p, n);
        key[n] = 0;
        json_t *child = json_object_get (cur, key);
        if (!json_is_object (child))
            return NULL;
        if (child->refcount > 1) { /* held elsewhere too: a shallow copy becomes ours */
            json_t *copy = json_copy (child);
            if (!copy || json_object_set_new (cur, key, copy))
                return NULL;
            child = copy;
        }
        if (!dot)
            return child;
        cur = child;
        p = dot + 1;
    }
}

static json_t *merge_new (const json_t *cur, const json_t *patch, int strategic);

/* The conditions list cur (NULL or not an array: an empty one) merged with the patch's by
 * "type", as merge_conditions, into a new array sharing cur's untouched elements. */
static json_t *
merge_conditions_new (const json_t *cur, const json_t *patch)
{
    json_t *out = json_is_array (cur) ? json_copy ((json_t *) cur) : json_array ();
    size_t i;
    json_t *pe;
    json_array_foreach (patch, i, pe) {
        const char *t = tv_str (pe, "type");
        size_t j, at = (size_t) -1;
        json_t *e;
        if (t)
            json_array_foreach (out, j, e) {
                const char *et = tv_str (e, "type");
                if (et && !strcmp (et, t)) {
                    at = j;
                    break;
                }
            }
        if (at != (size_t) -1 && json_is_object (pe))
            json_array_set_new (out, at, merge_new (json_array_get (out, at), pe, 1));
        else
            json_array_append_new (out, fresh_value (pe, 1));
    }
    return out;
}

/* A new map: cur (a map, or NULL for none) with patch merged in, sharing cur's untouched values. */
static json_t *
merge_new (const json_t *cur, const json_t *patch, int strategic)
{
    json_t *out = json_is_object (cur) ? json_copy ((json_t *) cur) : json_object ();
    const char *k;
    json_t *pv;
    json_object_foreach ((json_t *) patch, k, pv) {
        json_t *cv = json_object_get (out, k);
        if (json_is_null (pv))
            json_object_del (out, k);
        else if (json_is_object (pv) && json_is_object (cv))
            json_object_set_new (out, k, merge_new (cv, pv, strategic));
        else if (strategic && json_is_array (pv) && !strcmp (k, "conditions"))
            json_object_set_new (out, k, merge_conditions_new (cv, pv));
        else
            json_object_set_new (out, k, fresh_value (pv, strategic));
    }
    return out;
}

json_t *
tv_merge_patch_new (const json_t *cur, const json_t *patch)
{
    if (!json_is_object (cur) || !json_is_object (patch))
        return NULL;
    return merge_new (cur, patch, 0);
}

json_t *
tv_strategic_patch_new (const json_t *cur, const json_t *patch)
{
    if (!json_is_object (cur) || !json_is_object (patch))
        return NULL;
    return merge_new (cur, patch, 1);
}
