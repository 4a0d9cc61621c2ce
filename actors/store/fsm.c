/* fsm — see fsm.h. */
#include "actors/store/fsm.h"
#include "core/store_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char SNAP_MAGIC[8] = {'T', 'R', 'S', 'N', 'A', 'P', '0', '1'};
#define SNAP_HDR 16

size_t
fsm_decode_ops (const msgpack_object *arr, store_op_t **ops, size_t *nops, size_t *cap)
{
    size_t added = 0;
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    for (uint32_t j = 0; j < arr->via.array.size; j++) {
        const msgpack_object *op = &arr->via.array.ptr[j];
        if (op->type != MSGPACK_OBJECT_ARRAY || op->via.array.size != 5)
            continue;
        const msgpack_object *f = op->via.array.ptr;
        if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[3].type != MSGPACK_OBJECT_STR ||
            f[4].type != MSGPACK_OBJECT_BIN)
            continue;
        if (*nops == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *ops = realloc (*ops, *cap * sizeof **ops);
        }
        /* keys are str in the frame, not NUL-terminated: copy them */
        (*ops)[(*nops)++] = (store_op_t) {.kind = (store_op_kind_t) f[0].via.u64,
                                          .cond = (store_cond_t) f[1].via.u64,
                                          .expect_rev = f[2].via.u64,
                                          .key = strndup (f[3].via.str.ptr, f[3].via.str.size),
                                          .val = f[4].via.bin.ptr,
                                          .len = f[4].via.bin.size};
        added++;
    }
    return added;
}

void
fsm_free_ops (store_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free ((char *) ops[i].key);
    free (ops);
}

static void
reply_head (msgpack_packer *pk, uint64_t id, size_t n)
{
    msgpack_pack_map (pk, 3);
    sp_pack_cstr (pk, "t");
    sp_pack_cstr (pk, "r");
    sp_pack_cstr (pk, "id");
    msgpack_pack_uint64 (pk, id);
    sp_pack_cstr (pk, "res");
    msgpack_pack_array (pk, n);
}

void
fsm_pack_reply (msgpack_sbuffer *out, uint64_t id, const store_op_result_t *res, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    reply_head (&pk, id, n);
    for (size_t j = 0; j < n; j++) {
        msgpack_pack_array (&pk, 3);
        msgpack_pack_int (&pk, res[j].result);
        msgpack_pack_uint64 (&pk, res[j].rev);
        msgpack_pack_uint64 (&pk, res[j].prev_mod_rev);
    }
}

void
fsm_pack_failure (msgpack_sbuffer *out, uint64_t id, size_t n, int code)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    reply_head (&pk, id, n);
    for (size_t j = 0; j < n; j++) {
        msgpack_pack_array (&pk, 3);
        msgpack_pack_int (&pk, code);
        msgpack_pack_uint64 (&pk, 0);
        msgpack_pack_uint64 (&pk, 0);
    }
}

void
fsm_events_init (fsm_events_t *ev)
{
    msgpack_sbuffer_init (&ev->buf);
    msgpack_packer_init (&ev->pk, &ev->buf, msgpack_sbuffer_write);
    ev->n = 0;
}

void
fsm_on_event (void *arg, const store_event_t *e)
{
    fsm_events_t *ev = arg;
    msgpack_pack_array (&ev->pk, 6);
    msgpack_pack_uint64 (&ev->pk, e->rev);
    msgpack_pack_int (&ev->pk, e->kind);
    sp_pack_cstr (&ev->pk, e->key);
    msgpack_pack_bin (&ev->pk, e->len);
    msgpack_pack_bin_body (&ev->pk, e->val, e->len);
    msgpack_pack_uint64 (&ev->pk, e->create_rev);
    msgpack_pack_int (&ev->pk, e->created);
    ev->n++;
}

int
fsm_events_pack (fsm_events_t *ev, msgpack_sbuffer *out)
{
    if (!ev->n)
        return 0;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "e");
    sp_pack_cstr (&pk, "ev");
    msgpack_pack_array (&pk, ev->n);
    msgpack_sbuffer_write (out, ev->buf.data, ev->buf.size);
    return (int) ev->n;
}

void
fsm_events_clear (fsm_events_t *ev)
{
    msgpack_sbuffer_destroy (&ev->buf);
    fsm_events_init (ev);
}

typedef struct {
    msgpack_packer *pk;
    size_t n;
} range_ctx_t;

static int
range_cb (void *arg, const char *key, const void *val, size_t len, uint64_t mod_rev, uint64_t create_rev)
{
    range_ctx_t *rc = arg;
    msgpack_pack_array (rc->pk, 4);
    sp_pack_cstr (rc->pk, key);
    msgpack_pack_bin (rc->pk, len);
    msgpack_pack_bin_body (rc->pk, val, len);
    msgpack_pack_uint64 (rc->pk, mod_rev);
    msgpack_pack_uint64 (rc->pk, create_rev);
    rc->n++;
    return 0;
}

void
fsm_pack_range (store_t *st, const char *prefix, uint64_t id, msgpack_sbuffer *out)
{
    msgpack_sbuffer items;
    msgpack_sbuffer_init (&items);
    msgpack_packer ipk;
    msgpack_packer_init (&ipk, &items, msgpack_sbuffer_write);
    range_ctx_t rc = {&ipk, 0};
    uint64_t rev = 0;
    store_range (st, prefix, &rev, range_cb, &rc);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "k");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "rev");
    msgpack_pack_uint64 (&pk, rev);
    sp_pack_cstr (&pk, "kvs");
    msgpack_pack_array (&pk, rc.n);
    msgpack_sbuffer_write (out, items.data, items.size);
    msgpack_sbuffer_destroy (&items);
}

void
fsm_answer_range (store_t *st, const msgpack_object *req, msgpack_sbuffer *out)
{
    char prefix[512] = "";
    const msgpack_object *p = sp_field (req, "prefix");
    if (p)
        sp_str (p, prefix, sizeof prefix);
    fsm_pack_range (st, prefix, sp_u64 (sp_field (req, "id"), 0), out);
}

typedef struct {
    crypto_generichash_state h;
    size_t n;
} digest_t;

static void
digest_u64 (digest_t *d, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char) (v >> (8 * i)); /* little-endian on every host */
    crypto_generichash_update (&d->h, b, sizeof b);
}

static int
digest_key (void *arg, const char *key, const void *val, size_t len, uint64_t mod_rev, uint64_t create_rev)
{
    digest_t *d = arg;
    size_t klen = strlen (key);
    digest_u64 (d, klen);
    crypto_generichash_update (&d->h, (const unsigned char *) key, klen);
    digest_u64 (d, len);
    crypto_generichash_update (&d->h, val, len);
    digest_u64 (d, mod_rev);
    digest_u64 (d, create_rev);
    d->n++;
    return 0;
}

int
fsm_digest (store_t *st, unsigned char out[FSM_DIGEST_BYTES], uint64_t *rev, size_t *keys)
{
    digest_t d;
    d.n = 0;
    uint64_t at = 0;
    crypto_generichash_init (&d.h, NULL, 0, FSM_DIGEST_BYTES);
    if (store_range (st, "", &at, digest_key, &d))
        return -1;
    digest_u64 (&d, at);
    crypto_generichash_final (&d.h, out, FSM_DIGEST_BYTES);
    if (rev)
        *rev = at;
    if (keys)
        *keys = d.n;
    return 0;
}

void
fsm_results_free (fsm_results_t *r)
{
    free (r->first);
    free (r->count);
    free (r->res);
    memset (r, 0, sizeof *r);
}

int
fsm_apply (store_t *st, uint64_t index, const void *buf, size_t len, fsm_results_t *out, fsm_events_t *ev)
{
    memset (out, 0, sizeof *out);
    if (index && index <= store_applied_index (st))
        return 1;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    int ok = msgpack_unpack_next (&up, buf, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
             up.data.type == MSGPACK_OBJECT_ARRAY;
    store_op_t *ops = NULL;
    size_t nops = 0, cap = 0;
    if (ok) {
        size_t np = up.data.via.array.size;
        out->nprops = np;
        out->first = calloc (np ? np : 1, sizeof *out->first);
        out->count = calloc (np ? np : 1, sizeof *out->count);
        for (size_t i = 0; i < np; i++) {
            out->first[i] = nops;
            out->count[i] = fsm_decode_ops (&up.data.via.array.ptr[i], &ops, &nops, &cap);
        }
    }
    out->res = calloc (nops ? nops : 1, sizeof *out->res);
    out->nres = nops;
    int rc = store_apply_at (st, index, ops, nops, out->res, ev ? fsm_on_event : NULL, ev);
    fsm_free_ops (ops, nops);
    msgpack_unpacked_destroy (&up);
    if (rc)
        return -2;
    return ok ? 0 : -1;
}

int
fsm_snapshot (store_t *st, void **buf, size_t *len)
{
    return fsm_snapshot_at (st, store_applied_index (st), malloc, free, buf, len);
}

int
fsm_snapshot_at (store_t *st, uint64_t idx, void *(*alloc) (size_t), void (*release) (void *), void **buf,
                 size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = memfd_create ("troupe-snapshot", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    unsigned char hdr[SNAP_HDR];
    memcpy (hdr, SNAP_MAGIC, 8);
    memcpy (hdr + 8, &idx, 8);
    struct stat sb;
    int rc = -1;
    if (write (fd, hdr, sizeof hdr) == (ssize_t) sizeof hdr && store_copy_fd (st, fd) == 0 && fstat (fd, &sb) == 0) {
        char *p = alloc ((size_t) sb.st_size);
        size_t got = 0;
        while (p && got < (size_t) sb.st_size) {
            ssize_t r = pread (fd, p + got, (size_t) sb.st_size - got, (off_t) got);
            if (r <= 0)
                break;
            got += (size_t) r;
        }
        if (p && got == (size_t) sb.st_size) {
            *buf = p;
            *len = got;
            rc = 0;
        } else if (p)
            release (p);
    }
    close (fd);
    return rc;
}

int
fsm_snapshot_index (const void *buf, size_t len, uint64_t *index)
{
    if (len < SNAP_HDR || memcmp (buf, SNAP_MAGIC, 8))
        return -1;
    memcpy (index, (const char *) buf + 8, 8);
    return 0;
}

int
fsm_snapshot_write (const void *buf, size_t len, const char *dir)
{
    uint64_t idx;
    if (fsm_snapshot_index (buf, len, &idx))
        return -1;
    mkdir (dir, 0700);
    char path[1200];
    snprintf (path, sizeof path, "%s/data.mdb", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    const char *p = (const char *) buf + SNAP_HDR;
    size_t left = len - SNAP_HDR;
    while (left) {
        ssize_t w = write (fd, p, left);
        if (w <= 0) {
            close (fd);
            return -1;
        }
        p += w;
        left -= (size_t) w;
    }
    int rc = fsync (fd);
    close (fd);
    return rc ? -1 : 0;
}
