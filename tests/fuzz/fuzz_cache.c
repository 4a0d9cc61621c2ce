/* libFuzzer target: the broker's watch cache fed what a store sends it (range answers, committed
 * events, lease renewals held in memory — broker_cache.h): the input is one msgpack map (checked
 * by tv_check first, as every decoder here does) {"k": range kvs, "e": events, "l": renewals},
 * applied in that order, then the events again (a replay, skipped by revision). Any input
 * must be applied or skipped without a crash or a leak, and the cache must stay consistent:
 * every listed object is found by get with the same resourceVersion. Two bins "p" and "v" check
 * tv_decode_like (what the cache decodes a new version with) against tv_decode: v decoded beside
 * p as its previous version is the same value, or the same refusal; and v's projection decoded
 * against p's (tv_from_msgpack_keep, what an informer with fields decodes) is v's decode projected;
 * and v's encoding with a resourceVersion appended to its metadata (tv_msgpack_map_append_str, what
 * a commit of the broker's own write is sent as) is the encoding of v with it set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_cache.h"
#include "core/store_proto.h"
#include "core/value.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static schema_registry_t *schemas;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!schemas) {
        char err[256];
        schemas = schema_registry_load_embedded (err, sizeof err);
        if (!schemas)
            abort ();
    }
    char err[256];
    size_t used = 0;
    if (tv_check (data, size, &used, err, sizeof err))
        return 0;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    if (msgpack_unpack_next (&up, (const char *) data, used, NULL) != MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy (&up);
        return 0;
    }
    const msgpack_object *pv = sp_field (&up.data, "p"), *vv = sp_field (&up.data, "v");
    if (pv && vv && pv->type == MSGPACK_OBJECT_BIN && vv->type == MSGPACK_OBJECT_BIN) {
        json_t *prev = tv_decode (pv->via.bin.ptr, pv->via.bin.size, err, sizeof err);
        json_t *a = tv_decode (vv->via.bin.ptr, vv->via.bin.size, err, sizeof err);
        json_t *b = tv_decode_like (vv->via.bin.ptr, vv->via.bin.size, prev, err, sizeof err);
        if (!a != !b || (a && !json_equal (a, b)))
            abort ();
        if (a) {
            /* an informer's projection (tv_from_msgpack_keep against the previous version projected
             * the same) is the whole decode projected */
            static json_t *keep;
            if (!keep) {
                static const char *const paths[] = {"metadata", "spec.nodeName", "spec.containers.ports", "status.phase",
                                                    "data.k", "kind"};
                keep = tv_keep_new (paths, sizeof paths / sizeof paths[0]);
            }
            msgpack_unpacked vu;
            msgpack_unpacked_init (&vu);
            if (msgpack_unpack_next (&vu, vv->via.bin.ptr, vv->via.bin.size, NULL) != MSGPACK_UNPACK_SUCCESS)
                abort (); /* tv_decode took it */
            json_t *pp = prev ? tv_project (prev, keep) : NULL, *want = tv_project (a, keep);
            json_t *x = tv_from_msgpack_keep (&vu.data, pp, keep, err, sizeof err);
            if (!x || !json_equal (x, want))
                abort ();
            json_decref (x);
            json_decref (want);
            json_decref (pp);
            msgpack_unpacked_destroy (&vu);
            /* the encoding a commit of the broker's own write gets (bcache_expect): the value's
             * bytes with the resourceVersion appended to metadata are the encoding of the value
             * once it is set */
            json_t *meta = json_object_get (a, "metadata");
            char *enc, *out, *again;
            size_t len, at, end, olen, alen;
            if (json_is_object (meta) && !json_object_get (meta, "resourceVersion") &&
                !tv_encode_mark (a, meta, &enc, &len, &at, &end)) {
                if (tv_msgpack_map_append_str (enc, len, at, end, "resourceVersion", "42", &out, &olen))
                    abort ();
                json_object_set_new (meta, "resourceVersion", json_string ("42"));
                if (tv_encode (a, &again, &alen) || alen != olen || memcmp (again, out, olen))
                    abort ();
                free (again);
                free (out);
                free (enc);
            }
        }
        /* offsets anywhere in any bytes: refused or appended, never read out of the buffer */
        size_t n = vv->via.bin.size;
        if (n) {
            char *out;
            size_t olen, at = (uint8_t) vv->via.bin.ptr[0] % n, end = at + (n > 1 ? (uint8_t) vv->via.bin.ptr[n - 1] % n : 0);
            if (!tv_msgpack_map_append_str (vv->via.bin.ptr, n, at, end, "k", "v", &out, &olen))
                free (out);
        }
        json_decref (prev);
        json_decref (a);
        json_decref (b);
    }
    bcache_t *c = bcache_new (schemas, 16);
    const msgpack_object *k = sp_field (&up.data, "k"), *e = sp_field (&up.data, "e"), *l = sp_field (&up.data, "l");
    if (k)
        bcache_load (c, k, 7);
    bcache_apply_events (c, e);
    bcache_apply_renewals (c, l);
    bcache_apply_events (c, e);
    bcache_apply_renewals (c, l);
    bcache_pump (c);
    static const char *plurals[] = {"configmaps", "pods", "leases", "deployments", "nodes"};
    for (size_t k = 0; k < sizeof plurals / sizeof plurals[0]; k++) {
        json_t *items = NULL;
        uint64_t rev = 0;
        if (bcache_list (c, plurals[k], "", NULL, NULL, &items, &rev, err, sizeof err))
            abort ();
        size_t i;
        json_t *o;
        json_array_foreach (items, i, o) {
            const char *ns = tv_str (o, "metadata.namespace"), *name = tv_str (o, "metadata.name");
            if (!name)
                continue;
            char key[700];
            if (ns)
                snprintf (key, sizeof key, "/registry/%s/%s/%s", plurals[k], ns, name);
            else
                snprintf (key, sizeof key, "/registry/%s/%s", plurals[k], name);
            (void) bcache_get (c, key, NULL);
        }
        json_decref (items);
    }
    bcache_reset (c);
    bcache_destroy (&c);
    msgpack_unpacked_destroy (&up);
    return 0;
}
