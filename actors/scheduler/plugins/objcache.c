/* objcache — see objcache.h. */
#include "actors/scheduler/plugins/objcache.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    json_t *obj; /* NULL: empty slot; a reference held */
    void *val;
    uint32_t epoch; /* of the last look-up (a put gives the previous one) */
} oslot_t;

struct objcache {
    void (*free_fn) (void *val);
    oslot_t *slots; /* open addressing by address */
    size_t cap, len;
    uint32_t epoch; /* moves at every sweep */
};

static size_t
addr_hash (const json_t *obj)
{
    uint64_t h = (uint64_t) (uintptr_t) obj;
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    return (size_t) (h ^ (h >> 33));
}

static oslot_t *
slot_of (oslot_t *slots, size_t cap, const json_t *obj)
{
    size_t mask = cap - 1;
    for (size_t i = addr_hash (obj) & mask;; i = (i + 1) & mask)
        if (!slots[i].obj || slots[i].obj == obj)
            return &slots[i];
}

objcache_t *
objcache_new (void (*free_fn) (void *val))
{
    objcache_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->free_fn = free_fn;
    self->cap = 64;
    if (!(self->slots = calloc (self->cap, sizeof *self->slots))) {
        free (self);
        return NULL;
    }
    return self;
}

static void
slot_clear (objcache_t *self, oslot_t *s)
{
    if (self->free_fn)
        self->free_fn (s->val);
    json_decref (s->obj);
    s->obj = NULL;
    s->val = NULL;
}

void
objcache_destroy (objcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    objcache_t *self = *self_p;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].obj)
            slot_clear (self, &self->slots[i]);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

void *
objcache_get (objcache_t *self, const json_t *obj)
{
    if (!obj)
        return NULL;
    oslot_t *s = slot_of (self->slots, self->cap, obj);
    if (!s->obj)
        return NULL;
    s->epoch = self->epoch;
    return s->val;
}

/* Drops the entries not used since the last sweep, and sizes the table so that the rest and
 * one more fill at most half of it. */
static int
sweep (objcache_t *self)
{
    size_t keep = 0;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].obj && self->slots[i].epoch == self->epoch)
            keep++;
    size_t cap = 64;
    while (cap < (keep + 1) * 4)
        cap *= 2;
    oslot_t *ns = calloc (cap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < self->cap; i++) {
        oslot_t *s = &self->slots[i];
        if (!s->obj)
            continue;
        if (s->epoch != self->epoch)
            slot_clear (self, s);
        else
            *slot_of (ns, cap, s->obj) = *s;
    }
    free (self->slots);
    self->slots = ns;
    self->cap = cap;
    self->len = keep;
    self->epoch++;
    return 0;
}

int
objcache_put (objcache_t *self, const json_t *obj, void *val)
{
    if (!obj) {
        if (self->free_fn)
            self->free_fn (val);
        return -1;
    }
    oslot_t *s = slot_of (self->slots, self->cap, obj);
    if (s->obj) {
        if (self->free_fn && s->val != val)
            self->free_fn (s->val);
        s->val = val;
        s->epoch = self->epoch - 1;
        return 0;
    }
    if ((self->len + 1) * 2 > self->cap) {
        if (sweep (self) < 0) {
            if (self->free_fn)
                self->free_fn (val);
            return -1;
        }
        s = slot_of (self->slots, self->cap, obj);
    }
    s->obj = json_incref ((json_t *) obj);
    s->val = val;
    s->epoch = self->epoch - 1; /* not a look-up: kept past the next sweep only if looked up */
    self->len++;
    return 0;
}

size_t
objcache_len (const objcache_t *self)
{
    return self->len;
}
