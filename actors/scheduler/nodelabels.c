/* nodelabels — a node's labels packed for lookups (nodelabels.h). */
#include "actors/scheduler/nodelabels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The lines nodelabels_prefetch asks for: the header, hashes and offsets and the first strings
 * (a hollow node's 6–8 labels take about 7 lines). 8 lines filled the CPU's fill buffers, and the
 * prefetches themselves stalled (docs/benchmarks.md, session 30). */
#define NODELABELS_PREFETCH_LINES 4

/* One allocation: the header, n hashes, n (key, value) offsets into str, then the strings. The
 * hashes are scanned first: a lookup touches the strings only for the key that matches. */
struct nodelabels {
    uint32_t n;
    uint32_t *hash;
    uint32_t (*off)[2];
    char *str;
};

/* A cheap hash of a key of len bytes: its length and its first and last 8 bytes (label keys
 * differ there: "…/zone", "…/region", "…/hostname"); equal hashes are confirmed by memcmp. */
static uint32_t
hash_of (const char *s, size_t len)
{
    uint64_t a = 0, b = 0;
    memcpy (&a, s, len < 8 ? len : 8);
    if (len > 8)
        memcpy (&b, s + len - 8, 8);
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ len;
    return (uint32_t) (h ^ (h >> 32));
}

nodelabels_t *
nodelabels_new (const json_t *labels)
{
    size_t n = 0, bytes = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) labels, k, v) {
        if (!json_is_string (v))
            continue;
        n++;
        bytes += strlen (k) + 1 + strlen (json_string_value (v)) + 1;
    }
    if (n > UINT32_MAX || bytes > UINT32_MAX)
        return NULL;
    size_t head = sizeof (nodelabels_t) + n * sizeof (uint32_t) + n * 2 * sizeof (uint32_t);
    nodelabels_t *self = malloc (head + bytes + 1);
    if (!self)
        return NULL;
    self->n = (uint32_t) n;
    self->hash = (uint32_t *) (self + 1);
    self->off = (uint32_t (*)[2]) (self->hash + n);
    self->str = (char *) self + head;
    size_t i = 0, at = 0;
    json_object_foreach ((json_t *) labels, k, v) {
        if (!json_is_string (v))
            continue;
        const char *val = json_string_value (v);
        size_t kl = strlen (k) + 1, vl = strlen (val) + 1;
        self->hash[i] = hash_of (k, kl - 1);
        self->off[i][0] = (uint32_t) at;
        memcpy (self->str + at, k, kl);
        at += kl;
        self->off[i][1] = (uint32_t) at;
        memcpy (self->str + at, val, vl);
        at += vl;
        i++;
    }
    return self;
}

void
nodelabels_destroy (nodelabels_t **self_p)
{
    if (self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
nodelabels_get (const nodelabels_t *self, const char *key)
{
    if (!self || !key)
        return NULL;
    size_t len = strlen (key);
    uint32_t h = hash_of (key, len);
    for (uint32_t i = 0; i < self->n; i++)
        if (self->hash[i] == h && !memcmp (self->str + self->off[i][0], key, len + 1))
            return self->str + self->off[i][1];
    return NULL;
}

nodelabels_key_t
nodelabels_key (const char *key)
{
    nodelabels_key_t k = {key, 0, 0};
    if (key) {
        k.len = strlen (key);
        k.hash = hash_of (key, k.len);
    }
    return k;
}

const char *
nodelabels_get_h (const nodelabels_t *self, const nodelabels_key_t *k)
{
    if (!self || !k->key)
        return NULL;
    for (uint32_t i = 0; i < self->n; i++)
        if (self->hash[i] == k->hash && !memcmp (self->str + self->off[i][0], k->key, k->len + 1))
            return self->str + self->off[i][1];
    return NULL;
}

void
nodelabels_prefetch (const nodelabels_t *self)
{
    /* a fixed span, not the block's length: reading that would wait for the line being asked
     * for. Lines past a short block's end are someone else's memory: a prefetch never faults. */
    const char *p = (const char *) self;
    if (p)
        for (int i = 0; i < NODELABELS_PREFETCH_LINES; i++)
            __builtin_prefetch (p + 64 * i);
}

size_t
nodelabels_size (const nodelabels_t *self)
{
    return self ? self->n : 0;
}
