/* tpcount — see tpcount.h. */
#include "actors/scheduler/plugins/tpcount.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key, *value; /* NULL key: empty slot */
    uint64_t hash;
    int64_t n;
} slot_t;

struct tpcount {
    slot_t *slots;
    size_t cap, len, positive;
};

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

static uint64_t
pair_hash (const char *key, const char *value)
{
    return pair_hash_h (tpcount_key_hash (key), value);
}

tpcount_t *
tpcount_new (void)
{
    tpcount_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 16;
    self->slots = calloc (self->cap, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

void
tpcount_destroy (tpcount_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tpcount_t *self = *self_p;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].key) {
            free (self->slots[i].key);
            free (self->slots[i].value);
        }
    free (self->slots);
    free (self);
    *self_p = NULL;
}

static slot_t *
find (const tpcount_t *self, const char *key, const char *value, uint64_t h)
{
    size_t mask = self->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot_t *s = &self->slots[i];
        if (!s->key || (s->hash == h && (s->key == key || !strcmp (s->key, key)) && !strcmp (s->value, value)))
            return s;
    }
}

static int
grow (tpcount_t *self)
{
    size_t ncap = self->cap * 2;
    slot_t *old = self->slots, *ns = calloc (ncap, sizeof *ns);
    if (!ns)
        return -1;
    size_t ocap = self->cap;
    self->slots = ns;
    self->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *find (self, old[i].key, old[i].value, old[i].hash) = old[i];
    free (old);
    return 0;
}

int64_t
tpcount_add (tpcount_t *self, const char *key, const char *value, int64_t delta)
{
    return tpcount_add_ref (self, key, value, delta, NULL, NULL);
}

int64_t
tpcount_add_ref (tpcount_t *self, const char *key, const char *value, int64_t delta, const char **key_out,
                 const char **value_out)
{
    if (key_out)
        *key_out = NULL;
    if (value_out)
        *value_out = NULL;
    if ((self->len + 1) * 4 > self->cap * 3 && grow (self) < 0)
        return 0;
    uint64_t h = pair_hash (key, value);
    slot_t *s = find (self, key, value, h);
    if (!s->key) {
        s->key = strdup (key);
        s->value = strdup (value);
        if (!s->key || !s->value) {
            free (s->key);
            free (s->value);
            s->key = s->value = NULL;
            return 0;
        }
        s->hash = h;
        s->n = 0;
        self->len++;
    }
    int was = s->n > 0;
    s->n += delta;
    self->positive += (s->n > 0) - was;
    if (key_out)
        *key_out = s->key;
    if (value_out)
        *value_out = s->value;
    return s->n;
}

int64_t
tpcount_get (const tpcount_t *self, const char *key, const char *value, int *found)
{
    const slot_t *s = find (self, key, value, pair_hash (key, value));
    if (found)
        *found = s->key != NULL;
    return s->key ? s->n : 0;
}

int64_t
tpcount_get_h (const tpcount_t *self, const char *key, uint64_t key_hash, const char *value, int *found)
{
    const slot_t *s = find (self, key, value, pair_hash_h (key_hash, value));
    if (found)
        *found = s->key != NULL;
    return s->key ? s->n : 0;
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

void
tpcount_each (const tpcount_t *self, void (*fn) (void *arg, const char *key, const char *value, int64_t n), void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].key)
            fn (arg, self->slots[i].key, self->slots[i].value, self->slots[i].n);
}
