/* sigcache — see sigcache.h. */
#include "actors/scheduler/plugins/sigcache.h"

#include <stdlib.h>
#include <string.h>

static void
entry_free (sc_entry_t *e)
{
    if (e)
        e->free_fn (e);
}

void
sc_entry_fini (sc_entry_t *e)
{
    nodeshare_destroy (&e->share);
    free (e->sig);
    e->sig = NULL;
}

sc_entry_t *
sigcache_get (sigcache_t *c, char *sig, sc_make_fn make, void *make_arg, const tr_sched_snapshot_t *snap,
              nodeshare_fn fn, void *ctx)
{
    if (!sig)
        return NULL;
    int slot = -1;
    for (int i = 0; i < SC_ENTRIES; i++)
        if (c->slot[i] && !strcmp (c->slot[i]->sig, sig)) {
            slot = i;
            break;
        }
    if (slot >= 0) {
        free (sig);
        /* held by a cycle that has not ended (its binding may still run): updated all the same,
         * scheduling cycles are one at a time, its Filter and Score are over */
    } else {
        /* a free slot, else the least recently used entry nobody holds */
        for (int i = 0; i < SC_ENTRIES; i++)
            if (!c->slot[i]) {
                slot = i;
                break;
            } else if (atomic_load (&c->slot[i]->refs) == 0 &&
                       (slot < 0 || c->slot[i]->last_use < c->slot[slot]->last_use))
                slot = i;
        if (slot < 0) {
            free (sig);
            return NULL;
        }
        entry_free (c->slot[slot]);
        if (!(c->slot[slot] = make (make_arg, sig)))
            return NULL;
    }
    sc_entry_t *e = c->slot[slot];
    sc_share_t arg = {ctx, e};
    e->version++;
    if (nodeshare_update (e->share, snap, fn, &arg) < 0) {
        c->slot[slot] = NULL;
        if (atomic_load (&e->refs) > 0)
            e->orphan = 1;
        else
            entry_free (e);
        return NULL;
    }
    e->last_use = ++c->clock;
    return e;
}

void
sigcache_hold (sc_entry_t *e)
{
    atomic_fetch_add (&e->refs, 1);
}

void
sigcache_release (sc_entry_t *e)
{
    if (atomic_fetch_sub (&e->refs, 1) == 1 && e->orphan)
        entry_free (e);
}

void
sigcache_clear (sigcache_t *c)
{
    for (int i = 0; i < SC_ENTRIES; i++) {
        entry_free (c->slot[i]);
        c->slot[i] = NULL;
    }
}
