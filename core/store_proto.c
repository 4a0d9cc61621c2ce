/* store_proto — see store_proto.h. */
#include "core/store_proto.h"

#include <string.h>

void
sp_pack_cstr (msgpack_packer *pk, const char *s)
{
    size_t n = strlen (s);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

void
sp_pack_request (msgpack_sbuffer *sb, const char *t, uint64_t id, const char *prefix)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, prefix ? 3 : 2);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, t);
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    if (prefix) {
        sp_pack_cstr (&pk, "prefix");
        sp_pack_cstr (&pk, prefix);
    }
}

static void
pack_propose (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *ops, size_t n, int renew, uint64_t fence)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3 + (renew ? 1 : 0) + (fence ? 1 : 0));
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "p");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "ops");
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array (&pk, 5);
        msgpack_pack_int (&pk, ops[i].op);
        msgpack_pack_int (&pk, ops[i].cond);
        msgpack_pack_uint64 (&pk, ops[i].expect);
        sp_pack_cstr (&pk, ops[i].key);
        msgpack_pack_bin (&pk, ops[i].len);
        msgpack_pack_bin_body (&pk, ops[i].val, ops[i].len);
    }
    if (renew) {
        sp_pack_cstr (&pk, "renew");
        msgpack_pack_true (&pk);
    }
    if (fence) {
        sp_pack_cstr (&pk, "fence");
        msgpack_pack_uint64 (&pk, fence);
    }
}

void
sp_pack_propose (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *ops, size_t n)
{
    pack_propose (sb, id, ops, n, 0, 0);
}

void
sp_pack_propose_fenced (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *ops, size_t n, uint64_t fence)
{
    pack_propose (sb, id, ops, n, 0, fence);
}

void
sp_pack_renewal (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *op)
{
    pack_propose (sb, id, op, 1, 1, 0);
}

int
sp_is_renewal (const msgpack_object *prop)
{
    const msgpack_object *r = sp_field (prop, "renew");
    return r && r->type == MSGPACK_OBJECT_BOOLEAN && r->via.boolean;
}

int
sp_str (const msgpack_object *o, char *buf, size_t len)
{
    const char *p;
    size_t n;
    if (o->type == MSGPACK_OBJECT_STR)
        p = o->via.str.ptr, n = o->via.str.size;
    else if (o->type == MSGPACK_OBJECT_BIN)
        p = o->via.bin.ptr, n = o->via.bin.size;
    else
        return -1;
    if (n >= len)
        return -1;
    if (n)
        memcpy (buf, p, n);
    buf[n] = 0;
    return 0;
}

const msgpack_object *
sp_field (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t kl = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && !memcmp (k->via.str.ptr, key, kl))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

uint64_t
sp_u64 (const msgpack_object *o, uint64_t dflt)
{
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64;
    return dflt;
}
