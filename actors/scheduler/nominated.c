/* nominated — see nominated.h. */
#include "actors/scheduler/nominated.h"
#include "core/fnv.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
uid_hash (const char *uid)
{
    return tr_fnv1a32_str (uid);
}

static nom_ent_t
nom_ent (const tr_sched_node_t *node, const tr_sched_pod_t *q, size_t seq)
{
    const tr_sched_res_t *r = &q->requests;
    return (nom_ent_t) {node, q, seq, q->priority, uid_hash (q->uid), r->milli_cpu, r->memory, r->ephemeral_storage,
                        r->pods, q->nonzero_milli_cpu, q->nonzero_memory, r->nscalar != 0};
}

/* The node named name in the cycle's view (a nomination is resolved before PostFilter makes a view
 * of its own). */
static const tr_sched_node_t *
nom_node (const fw_env_t *env, const char *name)
{
    if (env->node)
        return env->node (env->arg, name);
    for (uint32_t i = 0; i < env->snap->nnodes; i++)
        if (!strcmp (env->snap->nodes[i]->name, name))
            return env->snap->nodes[i];
    return NULL;
}

static void
res_plus (tr_sched_res_t *r, const tr_sched_res_t *x)
{
    r->milli_cpu += x->milli_cpu;
    r->memory += x->memory;
    r->ephemeral_storage += x->ephemeral_storage;
    r->pods += x->pods;
    for (uint32_t i = 0; i < x->nscalar; i++) {
        uint32_t k = 0;
        while (k < r->nscalar && strcmp (r->scalar[k].name, x->scalar[i].name))
            k++;
        if (k == r->nscalar) {
            if (k == TR_SCHED_MAX_SCALAR)
                continue;
            r->scalar[k] = x->scalar[i];
            r->nscalar++;
        } else
            r->scalar[k].value += x->scalar[i].value;
    }
}

/* *d = *s: a node is copied for every node holding nominated pods that Filter looks at (about
 * 500 bytes since ABI 2.0 holds extended-resource names by pointer). */
static void
node_copy (tr_sched_node_t *d, const tr_sched_node_t *s)
{
    *d = *s;
}

static int
counts_for (const tr_sched_pod_t *q, const tr_sched_pod_t *pod)
{
    if (!q || q == pod || q->priority < pod->priority)
        return 0;
    if (!q->uid || !pod->uid) /* (the nominator's copy of pod is another pointer: same uid) */
        return 1;
    return q->uid[0] != pod->uid[0] || strcmp (q->uid, pod->uid);
}

static void
nomc_add (void *ctx, const char *node, const tr_sched_pod_t *q)
{
    struct nomcache *c = ctx;
    if (!node || !q)
        return;
    const tr_sched_node_t *nd = nom_node (c->env, node);
    if (!nd)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        nom_ent_t *e = realloc (c->e, cap * sizeof *e);
        if (!e)
            return;
        c->e = e;
        c->cap = cap;
    }
    c->e[c->n] = nom_ent (nd, q, c->n);
    c->n++;
    if (q->priority > c->max_priority)
        c->max_priority = q->priority;
}

static int
nom_ent_cmp (const void *a, const void *b)
{
    const nom_ent_t *x = a, *y = b;
    uintptr_t p = (uintptr_t) x->node, q = (uintptr_t) y->node;
    if (p != q)
        return p < q ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- the nominator's incremental index (fw_nomindex_*) ---------------------------------- */

typedef struct {
    char *node;
    const tr_sched_pod_t *pod;
    size_t seq;
} nom_all_t;

struct fw_nomindex {
    nom_all_t *all;        /* every nomination, in the nominator's order (seq ascending) */
    size_t nall, capall;
    size_t seq;            /* the last given */
    size_t resolved_seq;   /* entries of all up to this seq are in c (or on no known node) */
    int reresolve;         /* the set of nodes changed: c is built again from all */
    const tr_sched_snapshot_t *snap; /* the view c's node pointers were resolved in */
    struct nomcache c;     /* the resolved ones, sorted by (node, seq) */
};

fw_nomindex_t *
fw_nomindex_new (void)
{
    fw_nomindex_t *x = calloc (1, sizeof *x);
    if (x) {
        x->reresolve = 1;
        x->c.max_priority = INT32_MIN;
    }
    return x;
}

void
fw_nomindex_free (fw_nomindex_t *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nall; i++)
        free (x->all[i].node);
    free (x->all);
    free (x->c.e);
    free (x->c.keys);
    free (x);
}

int
fw_nomindex_add (fw_nomindex_t *x, const char *node, const tr_sched_pod_t *pod)
{
    if (!x || !node || !pod)
        return -1;
    if (x->nall == x->capall) {
        size_t cap = x->capall ? x->capall * 2 : 64;
        nom_all_t *a = realloc (x->all, cap * sizeof *a);
        if (!a)
            return -1;
        x->all = a;
        x->capall = cap;
    }
    char *name = strdup (node);
    if (!name)
        return -1;
    x->all[x->nall++] = (nom_all_t) {name, pod, ++x->seq};
    return 0;
}

/* the first entry of node in c (c->n: none) */
static size_t
nomc_first (const struct nomcache *c, const tr_sched_node_t *node)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->keys[mid] < (uintptr_t) node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* c->keys filled from c->e (c->n 0 when there is no room for them: nothing counts) */
static void
nomc_keys (struct nomcache *c)
{
    if (c->capkeys < c->cap) {
        uintptr_t *k = realloc (c->keys, c->cap * sizeof *k);
        if (!k) {
            c->n = 0;
            return;
        }
        c->keys = k;
        c->capkeys = c->cap;
    }
    for (size_t i = 0; i < c->n; i++)
        c->keys[i] = (uintptr_t) c->e[i].node;
}

static void
nomc_max (struct nomcache *c)
{
    c->max_priority = INT32_MIN;
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].priority > c->max_priority)
            c->max_priority = c->e[i].priority;
}

void
fw_nomindex_remove (fw_nomindex_t *x, const tr_sched_pod_t *pod)
{
    if (!x || !pod)
        return;
    size_t i = x->nall;
    while (i > 0 && x->all[i - 1].pod != pod)
        i--;
    if (!i)
        return;
    i--;
    size_t seq = x->all[i].seq;
    free (x->all[i].node);
    memmove (x->all + i, x->all + i + 1, (x->nall - i - 1) * sizeof *x->all);
    x->nall--;
    if (seq > x->resolved_seq || x->reresolve)
        return; /* not in c yet */
    struct nomcache *c = &x->c;
    for (size_t k = 0; k < c->n; k++)
        if (c->e[k].pod == pod) {
            int32_t pr = c->e[k].priority;
            memmove (c->e + k, c->e + k + 1, (c->n - k - 1) * sizeof *c->e);
            memmove (c->keys + k, c->keys + k + 1, (c->n - k - 1) * sizeof *c->keys);
            c->n--;
            if (pr == c->max_priority)
                nomc_max (c);
            break;
        }
}

void
fw_nomindex_nodes_changed (fw_nomindex_t *x)
{
    if (x)
        x->reresolve = 1;
}

size_t
fw_nomindex_count (const fw_nomindex_t *x)
{
    return x ? x->nall : 0;
}

/* c brought up to date with all: node names resolved in cs's snapshot, entries inserted in place
 * (the whole built again when the set of nodes changed) */
static void
nomindex_sync (fw_nomindex_t *x, const fw_env_t *env)
{
    struct nomcache *c = &x->c;
    const tr_sched_snapshot_t *snap = env->snap;
    if (x->snap != snap)
        x->reresolve = 1;
    if (x->reresolve) {
        c->n = 0;
        c->max_priority = INT32_MIN;
        c->env = env;
        for (size_t i = 0; i < x->nall; i++) {
            size_t n0 = c->n;
            nomc_add (c, x->all[i].node, x->all[i].pod);
            if (c->n > n0)
                c->e[n0].seq = x->all[i].seq;
        }
        c->env = NULL;
        if (c->n > 1)
            qsort (c->e, c->n, sizeof *c->e, nom_ent_cmp);
        nomc_keys (c);
        x->reresolve = 0;
        x->snap = snap;
        x->resolved_seq = x->seq;
        return;
    }
    if (x->resolved_seq == x->seq)
        return;
    size_t i = x->nall; /* the new ones are at the end of all */
    while (i > 0 && x->all[i - 1].seq > x->resolved_seq)
        i--;
    for (; i < x->nall; i++) {
        const tr_sched_node_t *nd = nom_node (env, x->all[i].node);
        if (!nd)
            continue; /* on no known node: resolved again when nodes change */
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            nom_ent_t *e = realloc (c->e, cap * sizeof *e);
            if (!e) {
                x->reresolve = 1;
                return;
            }
            c->e = e;
            c->cap = cap;
        }
        if (c->capkeys < c->cap) {
            uintptr_t *k = realloc (c->keys, c->cap * sizeof *k);
            if (!k) {
                x->reresolve = 1;
                return;
            }
            c->keys = k;
            c->capkeys = c->cap;
        }
        const tr_sched_pod_t *q = x->all[i].pod;
        nom_ent_t ent = nom_ent (nd, q, x->all[i].seq);
        size_t lo = 0, hi = c->n; /* after every entry <= ent: seq is the largest of its node */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (nom_ent_cmp (&c->e[mid], &ent) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove (c->e + lo + 1, c->e + lo, (c->n - lo) * sizeof *c->e);
        memmove (c->keys + lo + 1, c->keys + lo, (c->n - lo) * sizeof *c->keys);
        c->e[lo] = ent;
        c->keys[lo] = (uintptr_t) nd;
        c->n++;
        if (q->priority > c->max_priority)
            c->max_priority = q->priority;
    }
    x->resolved_seq = x->seq;
}

size_t
fw_nomindex_lookup (fw_nomindex_t *x, const fw_env_t *env, const tr_sched_node_t *node, const tr_sched_pod_t **out,
                    size_t max)
{
    nomindex_sync (x, env);
    const nom_ent_t *e = x->c.e;
    size_t n = 0;
    for (size_t i = nomc_first (&x->c, node); i < x->c.n && e[i].node == node && n < max; i++)
        out[n++] = e[i].pod;
    return n;
}

void
fw_nomix_build (nomix_t *ix, struct nomcache *own, const fw_nominator_t *env, const fw_env_t *view,
                const tr_sched_pod_t *pod)
{
    memset (ix, 0, sizeof *ix);
    ix->env = env;
    ix->pod = pod;
    if (env && env->index) {
        nomindex_sync (env->index, view);
        ix->c = &env->index->c;
        ix->any = ix->c->n && ix->c->max_priority >= pod->priority;
        ix->uidh = uid_hash (pod->uid);
        return;
    }
    if (!env || !env->each)
        return;
    struct nomcache *c = own;
    if (!env->version || env->version != c->version) {
        c->n = 0;
        c->max_priority = INT32_MIN;
        c->env = view;
        env->each (env->arg, nomc_add, c);
        c->env = NULL;
        if (c->n > 1)
            qsort (c->e, c->n, sizeof *c->e, nom_ent_cmp);
        nomc_keys (c);
        c->version = env->version;
    }
    ix->c = c;
    ix->any = c->n && c->max_priority >= pod->priority;
    ix->uidh = uid_hash (pod->uid);
}

const tr_sched_node_t *
fw_nomix_with (const nomix_t *ix, const tr_sched_pod_t *pod, const tr_sched_node_t *node, tr_sched_node_t *tmp,
               const tr_sched_pod_t ***buf, const tr_sched_pod_t **room, size_t nroom)
{
    const fw_nominator_t *env = ix->env;
    *buf = NULL;
    const tr_sched_pod_t *nom[MAX_NOMINATED];
    const nom_ent_t *ent[MAX_NOMINATED]; /* with the index: nom[i]'s entry */
    size_t k = 0;
    if (ix->c) {
        if (!ix->any)
            return node;
        const nom_ent_t *e = ix->c->e;
        size_t lo = nomc_first (ix->c, node);
        for (; lo < ix->c->n && e[lo].node == node && k < MAX_NOMINATED; lo++)
            if (e[lo].priority >= pod->priority && e[lo].pod != pod && (e[lo].uidh != ix->uidh || counts_for (e[lo].pod, pod))) {
                ent[k] = &e[lo];
                nom[k++] = e[lo].pod;
            }
    } else {
        if (!env || !env->nominated)
            return node;
        size_t n = env->nominated (env->arg, node->name, nom, MAX_NOMINATED);
        if (n > MAX_NOMINATED)
            n = MAX_NOMINATED;
        for (size_t i = 0; i < n; i++)
            if (counts_for (nom[i], pod))
                nom[k++] = nom[i];
    }
    if (!k)
        return node;
    /* the pods' list in the caller's room when it fits (Filter, node after node), else on the heap */
    int heap = node->npods + k > nroom;
    const tr_sched_pod_t **pods = heap ? malloc ((node->npods + k) * sizeof *pods) : room;
    if (!pods)
        return node;
    if (node->npods)
        memcpy (pods, node->pods, node->npods * sizeof *pods);
    node_copy (tmp, node);
    for (size_t i = 0; i < k; i++) {
        pods[tmp->npods++] = nom[i];
        if (ix->c && !ent[i]->scalar) {
            tmp->requested.milli_cpu += ent[i]->milli_cpu;
            tmp->requested.memory += ent[i]->memory;
            tmp->requested.ephemeral_storage += ent[i]->ephemeral_storage;
            tmp->requested.pods += ent[i]->pods;
            tmp->nonzero_milli_cpu += ent[i]->nonzero_milli_cpu;
            tmp->nonzero_memory += ent[i]->nonzero_memory;
            continue;
        }
        res_plus (&tmp->requested, &nom[i]->requests);
        tmp->nonzero_milli_cpu += nom[i]->nonzero_milli_cpu;
        tmp->nonzero_memory += nom[i]->nonzero_memory;
    }
    tmp->pods = pods;
    /* a generation no snapshot node has: plugins' per-node caches must not take it for node */
    static _Atomic uint64_t gen = 1ull << 62;
    tmp->generation = gen++;
    *buf = heap ? pods : NULL;
    return tmp;
}

const tr_sched_node_t *
fw_with_nominated (const fw_nominator_t *env, const tr_sched_pod_t *pod, const tr_sched_node_t *node, tr_sched_node_t *tmp,
                   const tr_sched_pod_t ***buf)
{
    nomix_t ix = {.env = env};
    return fw_nomix_with (&ix, pod, node, tmp, buf, NULL, 0);
}

int
fw_nomix_none (const nomix_t *ix)
{
    return ix->c ? !ix->any : !ix->env || !ix->env->nominated;
}

void
fw_nomcache_clear (struct nomcache *own)
{
    free (own->e);
    free (own->keys);
    memset (own, 0, sizeof *own);
}
