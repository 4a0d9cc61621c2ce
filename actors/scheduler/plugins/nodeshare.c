/* nodeshare — see nodeshare.h. */
#include "actors/scheduler/plugins/nodeshare.h"
#include "actors/scheduler/plugins/plugin_util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* One emission of a node: the key is the map's (interned), the value is the node's copy in
 * cnode_t.vals (the map keeps short values inside its slots, which move as it grows). */
typedef struct {
    uint8_t map;
    uint32_t voff; /* the value's offset in vals */
    const char *key;
    int64_t n;
} contrib_t;

typedef struct {
    char *name;             /* NULL: empty slot */
    const tr_sched_node_t *ptr;
    uint64_t gen;
    uint32_t epoch;
    contrib_t *c;
    uint32_t nc, capc;
    char *vals;             /* the contributions' values, one after another */
    uint32_t nvals, capvals;
} cnode_t;

struct nodeshare {
    int nmaps;
    tpcount_t *maps[16];
    cnode_t *nodes;         /* open addressing by name */
    size_t cap, len;
    uint32_t epoch;
    /* The slot (+1; 0: none) of the node at each index of the last snapshot seen: an unchanged
     * node (same struct, same generation) is found there without hashing its name. Cleared
     * whenever the slots move (sweep). */
    uint32_t *byidx;
    size_t nbyidx;
    /* the snapshot's layout and latest generation at the last update (its journal says what
     * moved since: tr_sched_snapshot_t) */
    uint64_t layout, seen_gen;
    size_t walks;           /* updates that walked every node (nodeshare_walks) */
};

static uint64_t
name_hash (const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ull;
    return h;
}

static cnode_t *
cnode_find (const nodeshare_t *self, const char *name)
{
    size_t mask = self->cap - 1;
    for (size_t i = name_hash (name) & mask;; i = (i + 1) & mask)
        if (!self->nodes[i].name || !strcmp (self->nodes[i].name, name))
            return &self->nodes[i];
}

nodeshare_t *
nodeshare_new (int nmaps)
{
    if (nmaps < 1 || nmaps > 16)
        return NULL;
    nodeshare_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->nmaps = nmaps;
    self->cap = 16;
    self->nodes = calloc (self->cap, sizeof *self->nodes);
    int ok = self->nodes != NULL;
    for (int i = 0; i < nmaps; i++)
        ok = ok && (self->maps[i] = tpcount_new ()) != NULL;
    if (!ok)
        nodeshare_destroy (&self);
    return self;
}

void
nodeshare_destroy (nodeshare_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nodeshare_t *self = *self_p;
    for (size_t i = 0; self->nodes && i < self->cap; i++) {
        free (self->nodes[i].name);
        free (self->nodes[i].c);
        free (self->nodes[i].vals);
    }
    free (self->nodes);
    free (self->byidx);
    for (int i = 0; i < self->nmaps; i++)
        tpcount_destroy (&self->maps[i]);
    free (self);
    *self_p = NULL;
}

size_t
nodeshare_walks (const nodeshare_t *self)
{
    return self->walks;
}

const tpcount_t *
nodeshare_map (const nodeshare_t *self, int map)
{
    return map >= 0 && map < self->nmaps ? self->maps[map] : NULL;
}

static void
drop_share (nodeshare_t *self, cnode_t *c)
{
    for (uint32_t i = 0; i < c->nc; i++)
        tpcount_add (self->maps[c->c[i].map], c->c[i].key, c->vals + c->c[i].voff, -c->c[i].n);
    c->nc = 0;
    c->nvals = 0;
}

typedef struct {
    nodeshare_t *self;
    cnode_t *c;
    int failed;
} emit_ctx_t;

static void
emit (void *ctxp, int map, const char *key, const char *value, int64_t n)
{
    emit_ctx_t *x = ctxp;
    cnode_t *c = x->c;
    if (map < 0 || map >= x->self->nmaps)
        return;
    for (uint32_t i = 0; i < c->nc; i++)
        if (c->c[i].map == map && !strcmp (c->c[i].key, key) && !strcmp (c->vals + c->c[i].voff, value)) {
            c->c[i].n += n;
            tpcount_add (x->self->maps[map], key, value, n);
            return;
        }
    if (c->nc == c->capc) {
        uint32_t ncap = c->capc ? c->capc * 2 : 4;
        contrib_t *nv = realloc (c->c, ncap * sizeof *nv);
        if (!nv) {
            x->failed = 1;
            return;
        }
        c->c = nv;
        c->capc = ncap;
    }
    size_t vl = strlen (value) + 1;
    if (c->nvals + vl > c->capvals) {
        size_t ncap = c->capvals ? c->capvals : 64;
        while (c->nvals + vl > ncap)
            ncap *= 2;
        char *nv = ncap <= UINT32_MAX ? realloc (c->vals, ncap) : NULL;
        if (!nv) {
            x->failed = 1;
            return;
        }
        c->vals = nv;
        c->capvals = (uint32_t) ncap;
    }
    contrib_t *ct = &c->c[c->nc];
    tpcount_add_ref (x->self->maps[map], key, value, n, &ct->key);
    if (!ct->key) {
        x->failed = 1;
        return;
    }
    ct->voff = c->nvals;
    memcpy (c->vals + c->nvals, value, vl);
    c->nvals += (uint32_t) vl;
    ct->map = (uint8_t) map;
    ct->n = n;
    c->nc++;
}

/* Rebuilds the table with room for want nodes; drop: without those not seen in this epoch. */
static int
sweep (nodeshare_t *self, size_t want, int drop)
{
    cnode_t *old = self->nodes;
    size_t ocap = self->cap, cap = 16;
    while (cap < want * 2)
        cap *= 2;
    cnode_t *nn = calloc (cap, sizeof *nn);
    if (!nn)
        return -1;
    if (self->byidx)
        memset (self->byidx, 0, self->nbyidx * sizeof *self->byidx);
    self->nodes = nn;
    self->cap = cap;
    self->len = 0;
    for (size_t i = 0; i < ocap; i++) {
        cnode_t *c = &old[i];
        if (!c->name)
            continue;
        if (drop && c->epoch != self->epoch) {
            drop_share (self, c);
            free (c->name);
            free (c->c);
            free (c->vals);
            continue;
        }
        *cnode_find (self, c->name) = *c;
        self->len++;
    }
    free (old);
    return 0;
}

/* The update from the snapshot's journal: the nodes whose generation moved since the last one,
 * at the same layout (same nodes at the same indices). 1 done, 0 when it cannot (walk them all),
 * -1 out of memory. */
static int
update_moved (nodeshare_t *self, const tr_sched_snapshot_t *snap, nodeshare_fn fn, void *arg)
{
    size_t lo;
    if (self->nbyidx < snap->nnodes || !pu_journal_since (snap, self->layout, self->seen_gen, &lo))
        return 0;
    const tr_sched_gen_move_t *j = snap->journal;
    for (; lo < snap->njournal; lo++) {
        uint32_t i = j[lo].index;
        if (i >= snap->nnodes)
            return 0;
        const tr_sched_node_t *node = snap->nodes[i];
        uint32_t at = self->byidx[i];
        cnode_t *c = at ? &self->nodes[at - 1] : cnode_find (self, node->name);
        if (!c->name || strcmp (c->name, node->name))
            return 0; /* not the node the last walk saw there */
        self->byidx[i] = (uint32_t) (c - self->nodes) + 1;
        if (c->ptr == node && c->gen == node->generation)
            continue; /* moved again since: done at its first entry */
        drop_share (self, c);
        c->ptr = node;
        c->gen = node->generation;
        emit_ctx_t x = {self, c, 0};
        fn (arg, node, emit, &x);
        if (x.failed)
            return -1;
    }
    self->seen_gen = snap->generation;
    return 1;
}

int
nodeshare_update (nodeshare_t *self, const tr_sched_snapshot_t *snap, nodeshare_fn fn, void *arg)
{
    int moved = update_moved (self, snap, fn, arg);
    if (moved)
        return moved < 0 ? -1 : 0;
    int journal = snap->size >= offsetof (tr_sched_snapshot_t, njournal) + sizeof snap->njournal && snap->layout;
    self->layout = journal ? snap->layout : 0;
    self->seen_gen = journal ? snap->generation : 0;
    self->walks++;
    self->epoch++;
    size_t seen = 0;
    if (self->nbyidx < snap->nnodes) {
        uint32_t *nb = calloc (snap->nnodes, sizeof *nb);
        if (!nb)
            return -1;
        if (self->byidx)
            memcpy (nb, self->byidx, self->nbyidx * sizeof *nb);
        free (self->byidx);
        self->byidx = nb;
        self->nbyidx = snap->nnodes;
    }
    for (uint32_t i = 0; i < snap->nnodes; i++) {
        const tr_sched_node_t *node = snap->nodes[i];
        uint32_t at = self->byidx[i];
        cnode_t *c = at ? &self->nodes[at - 1] : NULL;
        /* the same struct at the same generation: the same node, unchanged (generations are
         * never reused, so a new node at a freed node's address does not pass) */
        if (c && c->name && c->ptr == node && c->gen == node->generation) {
            if (c->epoch != self->epoch) {
                c->epoch = self->epoch;
                seen++;
            }
            continue;
        }
        if ((self->len + 1) * 2 > self->cap && sweep (self, self->cap, 0) < 0)
            return -1;
        c = cnode_find (self, node->name);
        self->byidx[i] = (uint32_t) (c - self->nodes) + 1;
        if (c->name && c->epoch == self->epoch)
            continue; /* the same name twice in a snapshot: counted once */
        seen++;
        if (!c->name) {
            if (!(c->name = strdup (node->name)))
                return -1;
            self->len++;
        } else if (c->ptr == node && c->gen == node->generation) {
            c->epoch = self->epoch;
            continue;
        } else
            drop_share (self, c);
        c->ptr = node;
        c->gen = node->generation;
        c->epoch = self->epoch;
        emit_ctx_t x = {self, c, 0};
        fn (arg, node, emit, &x);
        if (x.failed)
            return -1;
    }
    if (seen != self->len && sweep (self, seen, 1) < 0)
        return -1;
    return 0;
}
