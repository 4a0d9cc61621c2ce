/* tpcount — see tpcount.h. */
#include "actors/scheduler/plugins/tpcount.h"

#include <stdlib.h>
#include <string.h>

/* A key, interned: every slot of the key points at str (the key's ref); str - offsetof gives the
 * record back. */
typedef struct {
    uint64_t hash;   /* tpcount_key_hash (str) */
    size_t npos;     /* its pairs above 0 */
    char str[];
} keyrec_t;

#define VBYTES (TPCOUNT_INLINE_MAX + 1)

/* One pair in one 64-byte line: v holds the value and its NUL when it fits; otherwise v begins
 * with a pointer to it and v[VBYTES - 1] is 1 (an inline value's last byte is always 0). */
typedef struct {
    uint64_t hash;
    const char *key; /* a keyrec_t's str; NULL: empty slot */
    int64_t n;
    char v[VBYTES];
} slot_t;

_Static_assert (sizeof (slot_t) <= 64, "a slot fits one cache line");

struct tpcount {
    slot_t *slots;
    size_t cap, len, positive, nlong;
    keyrec_t **keys; /* open addressing by key hash */
    size_t kcap, nkeys;
};

static keyrec_t *
rec_of (const char *ref)
{
    return (keyrec_t *) (void *) (ref - offsetof (keyrec_t, str));
}

static const char *
value_of (const slot_t *s)
{
    if (s->v[VBYTES - 1]) {
        const char *p;
        memcpy (&p, s->v, sizeof p);
        return p;
    }
    return s->v;
}

/* 8 bytes at a time (the byte-wise FNV-1a this replaced cost a multiply per byte of
 * "topology.kubernetes.io/zone" on every node Filter looked at); the length ends each string, so
 * ("ab", "c") and ("a", "bc") differ. */
static uint64_t
mix (uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static uint64_t
str_hash (uint64_t h, const char *s)
{
    size_t len = strlen (s), i = 0;
    uint64_t w;
    for (; i + 8 <= len; i += 8) {
        memcpy (&w, s + i, 8);
        h = mix (h, w);
    }
    w = 0;
    memcpy (&w, s + i, len - i);
    return mix (h, w ^ ((uint64_t) len << 56));
}

uint64_t
tpcount_key_hash (const char *key)
{
    return str_hash (0x243F6A8885A308D3ull, key);
}

static uint64_t
pair_hash_h (uint64_t key_hash, const char *value)
{
    uint64_t h = str_hash (key_hash, value);
    return h ^ (h >> 29);
}

tpcount_t *
tpcount_new (void)
{
    tpcount_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 16;
    self->kcap = 4;
    self->slots = aligned_alloc (64, self->cap * sizeof *self->slots);
    self->keys = calloc (self->kcap, sizeof *self->keys);
    if (!self->slots || !self->keys) {
        free (self->slots);
        free (self->keys);
        free (self);
        return NULL;
    }
    memset (self->slots, 0, self->cap * sizeof *self->slots);
    return self;
}

void
tpcount_destroy (tpcount_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tpcount_t *self = *self_p;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].key && self->slots[i].v[VBYTES - 1])
            free ((char *) value_of (&self->slots[i]));
    for (size_t i = 0; i < self->kcap; i++)
        free (self->keys[i]);
    free (self->keys);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

/* The key table's slot for key (hash kh): its record, or the empty slot where it would go. */
static keyrec_t **
key_find (const tpcount_t *self, const char *key, uint64_t kh)
{
    size_t mask = self->kcap - 1;
    for (size_t i = kh & mask;; i = (i + 1) & mask) {
        keyrec_t *r = self->keys[i];
        if (!r || r->str == key || (r->hash == kh && !strcmp (r->str, key)))
            return &self->keys[i];
    }
}

/* The slot of (key_ref, value) (hash h), or the empty slot where it would go. */
static slot_t *
find (const tpcount_t *self, const char *key_ref, const char *value, uint64_t h)
{
    size_t mask = self->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot_t *s = &self->slots[i];
        if (!s->key || (s->hash == h && s->key == key_ref && !strcmp (value_of (s), value)))
            return s;
    }
}

static int
grow (tpcount_t *self)
{
    size_t ncap = self->cap * 2;
    slot_t *old = self->slots, *ns = aligned_alloc (64, ncap * sizeof *ns);
    if (!ns)
        return -1;
    memset (ns, 0, ncap * sizeof *ns);
    size_t ocap = self->cap;
    self->slots = ns;
    self->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key) {
            size_t mask = ncap - 1, j = old[i].hash & mask;
            while (ns[j].key)
                j = (j + 1) & mask;
            ns[j] = old[i];
        }
    free (old);
    return 0;
}

static int
key_grow (tpcount_t *self)
{
    size_t ocap = self->kcap, ncap = ocap * 2;
    keyrec_t **old = self->keys, **nk = calloc (ncap, sizeof *nk);
    if (!nk)
        return -1;
    self->keys = nk;
    self->kcap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            *key_find (self, old[i]->str, old[i]->hash) = old[i];
    free (old);
    return 0;
}

/* The key's record, made when new; NULL when out of memory. */
static keyrec_t *
intern (tpcount_t *self, const char *key, uint64_t kh)
{
    keyrec_t **at = key_find (self, key, kh);
    if (*at)
        return *at;
    if ((self->nkeys + 1) * 2 > self->kcap) {
        if (key_grow (self) < 0)
            return NULL;
        at = key_find (self, key, kh);
    }
    size_t len = strlen (key);
    keyrec_t *r = malloc (sizeof *r + len + 1);
    if (!r)
        return NULL;
    r->hash = kh;
    r->npos = 0;
    memcpy (r->str, key, len + 1);
    *at = r;
    self->nkeys++;
    return r;
}

int64_t
tpcount_add (tpcount_t *self, const char *key, const char *value, int64_t delta)
{
    return tpcount_add_ref (self, key, value, delta, NULL);
}

int64_t
tpcount_add_ref (tpcount_t *self, const char *key, const char *value, int64_t delta, const char **key_out)
{
    if (key_out)
        *key_out = NULL;
    if ((self->len + 1) * 4 > self->cap * 3 && grow (self) < 0)
        return 0;
    uint64_t kh = tpcount_key_hash (key);
    keyrec_t *r = intern (self, key, kh);
    if (!r)
        return 0;
    uint64_t h = pair_hash_h (kh, value);
    slot_t *s = find (self, r->str, value, h);
    if (!s->key) {
        size_t vl = strlen (value);
        if (vl <= TPCOUNT_INLINE_MAX)
            memcpy (s->v, value, vl + 1); /* the rest of v is 0 from the allocation */
        else {
            char *p = malloc (vl + 1);
            if (!p)
                return 0;
            memcpy (p, value, vl + 1);
            memcpy (s->v, &p, sizeof p);
            s->v[VBYTES - 1] = 1;
            self->nlong++;
        }
        s->key = r->str;
        s->hash = h;
        s->n = 0;
        self->len++;
    }
    int was = s->n > 0;
    s->n += delta;
    int d = (s->n > 0) - was;
    self->positive += d;
    r->npos += d;
    if (key_out)
        *key_out = r->str;
    return s->n;
}

int64_t
tpcount_get_ref (const tpcount_t *self, const char *key_ref, const char *value, int *found)
{
    const slot_t *s = key_ref ? find (self, key_ref, value, pair_hash_h (rec_of (key_ref)->hash, value)) : NULL;
    int f = s && s->key;
    if (found)
        *found = f;
    return f ? s->n : 0;
}

int64_t
tpcount_get_h (const tpcount_t *self, const char *key, uint64_t key_hash, const char *value, int *found)
{
    const keyrec_t *r = *key_find (self, key, key_hash);
    return tpcount_get_ref (self, r ? r->str : NULL, value, found);
}

int64_t
tpcount_get (const tpcount_t *self, const char *key, const char *value, int *found)
{
    return tpcount_get_h (self, key, tpcount_key_hash (key), value, found);
}

const char *
tpcount_key_ref (const tpcount_t *self, const char *key)
{
    const keyrec_t *r = *key_find (self, key, tpcount_key_hash (key));
    return r ? r->str : NULL;
}

size_t
tpcount_key_positive (const tpcount_t *self, const char *key_ref)
{
    (void) self;
    return key_ref ? rec_of (key_ref)->npos : 0;
}

size_t
tpcount_positive_keys (const tpcount_t *self, const char **out, size_t max)
{
    size_t n = 0;
    if (self->positive == 0)
        return 0;
    for (size_t i = 0; i < self->kcap; i++)
        if (self->keys[i] && self->keys[i]->npos > 0) {
            if (n < max)
                out[n] = self->keys[i]->str;
            n++;
        }
    return n;
}

size_t
tpcount_keys (const tpcount_t *self, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->kcap && n < max; i++)
        if (self->keys[i])
            out[n++] = self->keys[i]->str;
    return self->nkeys;
}

size_t
tpcount_nkeys (const tpcount_t *self)
{
    return self->nkeys;
}

size_t
tpcount_size (const tpcount_t *self)
{
    return self->len;
}

size_t
tpcount_positive (const tpcount_t *self)
{
    return self->positive;
}

size_t
tpcount_long_values (const tpcount_t *self)
{
    return self->nlong;
}

void
tpcount_each (const tpcount_t *self, void (*fn) (void *arg, const char *key, const char *value, int64_t n), void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].key)
            fn (arg, self->slots[i].key, value_of (&self->slots[i]), self->slots[i].n);
}
