/* snapshot — see snapshot.h. */
#include "actors/scheduler/snapshot.h"
#include "actors/scheduler/nodelabels.h"
#include "core/quantity.h"
#include "core/meta.h"
#include "core/value.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct snode;

typedef struct {
    tr_sched_pod_t pub; /* first: a tr_sched_pod_t * is a spod_t * */
    json_t *obj;
    char *node;
    struct snode *sn; /* the node it is accounted on: a node outlives its pods (a placeholder) */
    int assumed;
} spod_t;

typedef struct snode {
    tr_sched_node_t pub;
    json_t *obj;       /* NULL: a placeholder holding pods of a node not (or no longer) known */
    char *name;
    const tr_sched_pod_t **pods, **aff, **anti;
    uint32_t cap, acap, ncap;
    tr_sched_taint_t *taints;
    nodelabels_t *lix; /* pub.label_index: the labels packed (nodelabels.h) */
    size_t index;      /* in snap->list while obj */
} snode_t;

struct sched_snap {
    json_t *nodes;     /* name → (snode_t *) */
    json_t *pods;      /* uid → (spod_t *) */
    snode_t **list;
    size_t nlist, caplist;
    const tr_sched_node_t **view_nodes, **view_aff;
    size_t capview;
    int dirty;         /* the view needs rebuilding (nodes added or removed: a new layout) */
    int dirty_aff;     /* only its list of nodes with affinity pods (the layout stays) */
    uint64_t gen;      /* the last generation given: one counter for every node (nodeshare.h) */
    uint64_t layout;   /* view.layout: a new value at each rebuild of the view */
    /* the journal of generation moves (view.journal): index in list, generation; when full the
     * older half goes and journal_from says up to where */
    tr_sched_gen_move_t *jr;
    size_t njr, capjr;
    uint64_t journal_from;
    tr_sched_snapshot_t view;
};

static void *
ptr_of (const json_t *v)
{
    return v ? (void *) (intptr_t) json_integer_value (v) : NULL;
}

static json_t *
ptr_json (void *p)
{
    return json_integer ((json_int_t) (intptr_t) p);
}

/* ---- generations ------------------------------------------------------------------------- */

#define JOURNAL_CAP 4096

/* n's generation moves (to one no node had: nodeshare.h); a node of the list goes in the journal */
static void
gen_move (sched_snap_t *s, snode_t *n)
{
    n->pub.generation = ++s->gen;
    if (!n->obj)
        return; /* not in the list (a placeholder, or deleted): the layout moves with it */
    if (s->njr == s->capjr) {
        if (s->capjr < JOURNAL_CAP) {
            size_t cap = s->capjr ? s->capjr * 2 : 256;
            tr_sched_gen_move_t *j = realloc (s->jr, cap * sizeof *j);
            if (j) {
                s->jr = j;
                s->capjr = cap;
            }
        }
        if (s->njr == s->capjr) { /* full (or no memory to grow): the older half goes */
            size_t drop = s->njr ? (s->njr + 1) / 2 : 0;
            if (!drop) {
                s->journal_from = s->gen; /* nothing can be kept: every reader walks all nodes */
                return;
            }
            s->journal_from = s->jr[drop - 1].generation;
            memmove (s->jr, s->jr + drop, (s->njr - drop) * sizeof *s->jr);
            s->njr -= drop;
        }
    }
    s->jr[s->njr++] = (tr_sched_gen_move_t) {s->gen, (uint32_t) n->index};
}

/* ---- resources ---------------------------------------------------------------------------- */

/* Extended-resource names, interned for the process (tr_sched_scalar_t.name): a cluster has a
 * handful (nvidia.com/gpu, hugepages-2Mi...); past SNAP_MAX_NAMES distinct ones a new name is not
 * held, as past TR_SCHED_MAX_SCALAR in one list. Shared by every scheduler of the process. */
#define SNAP_MAX_NAMES 1024
#define SNAP_NAME_MAX 64

static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *names; /* name -> null; the hash table's copy of each key is the interned string */

const char *
snap_intern_resource (const char *name)
{
    if (!name || strlen (name) >= SNAP_NAME_MAX)
        return NULL;
    const char *out = NULL;
    pthread_mutex_lock (&names_mu);
    if (!names)
        names = json_object ();
    void *it = json_object_iter_at (names, name);
    if (!it && json_object_size (names) < SNAP_MAX_NAMES && !json_object_set_new (names, name, json_null ()))
        it = json_object_iter_at (names, name);
    if (it)
        out = json_object_iter_key (it);
    pthread_mutex_unlock (&names_mu);
    return out;
}

static void
res_scalar_add (tr_sched_res_t *r, const char *name, int64_t v, int take_max)
{
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (!strcmp (r->scalar[i].name, name)) {
            if (take_max)
                r->scalar[i].value = r->scalar[i].value > v ? r->scalar[i].value : v;
            else
                r->scalar[i].value += v;
            return;
        }
    const char *in = r->nscalar < TR_SCHED_MAX_SCALAR ? snap_intern_resource (name) : NULL;
    if (!in)
        return;
    r->scalar[r->nscalar].name = in;
    r->scalar[r->nscalar++].value = v;
}

static void
res_add (tr_sched_res_t *a, const tr_sched_res_t *b, int sign)
{
    a->milli_cpu += sign * b->milli_cpu;
    a->memory += sign * b->memory;
    a->ephemeral_storage += sign * b->ephemeral_storage;
    a->pods += sign * b->pods;
    for (uint32_t i = 0; i < b->nscalar; i++)
        res_scalar_add (a, b->scalar[i].name, sign * b->scalar[i].value, 0);
}

static void
res_max (tr_sched_res_t *a, const tr_sched_res_t *b)
{
#define MX(f) a->f = a->f > b->f ? a->f : b->f
    MX (milli_cpu);
    MX (memory);
    MX (ephemeral_storage);
    MX (pods);
#undef MX
    for (uint32_t i = 0; i < b->nscalar; i++)
        res_scalar_add (a, b->scalar[i].name, b->scalar[i].value, 1);
}

int
snap_parse_res (const json_t *list, tr_sched_res_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach ((json_t *) list, k, v) {
        int64_t milli = 0;
        char e[160];
        if (!json_is_string (v) && !json_is_integer (v)) {
            milli = 0;
            rc = -1;
            if (err)
                snprintf (err, errlen, "%s: not a quantity", k);
            continue;
        }
        if (tv_quantity_milli (v, &milli, e, sizeof e) || milli < 0) {
            rc = -1;
            if (err)
                snprintf (err, errlen, "%s: %s", k, milli < 0 ? "negative" : e);
            continue;
        }
        int64_t value = milli / 1000 + (milli % 1000 > 0); /* Quantity.Value(): rounded up */
        if (!strcmp (k, "cpu"))
            out->milli_cpu = milli;
        else if (!strcmp (k, "memory"))
            out->memory = value;
        else if (!strcmp (k, "ephemeral-storage"))
            out->ephemeral_storage = value;
        else if (!strcmp (k, "pods"))
            out->pods = value;
        else
            res_scalar_add (out, k, value, 0);
    }
    return rc;
}

#define DEFAULT_MILLI_CPU 100
#define DEFAULT_MEMORY (200LL * 1024 * 1024)

/* obj's metadata.labels, or a shared empty map. */
static const json_t *
labels_of (const json_t *obj)
{
    static json_t *empty;
    if (!empty)
        empty = json_object (); /* never freed: a shared, never-modified {} */
    const json_t *l = tv_get (obj, "metadata.labels");
    return json_is_object (l) ? l : empty;
}

int
snap_pod_fill (tr_sched_pod_t *p, const json_t *obj)
{
    memset (p, 0, sizeof *p);
    p->size = sizeof *p;
    p->obj = obj;
    p->uid = tv_str (obj, "metadata.uid");
    if (!p->uid)
        return -1;
    p->ns = tv_str (obj, "metadata.namespace");
    p->name = tv_str (obj, "metadata.name");
    if (!p->ns)
        p->ns = "";
    if (!p->name)
        p->name = "";
    p->labels = labels_of (obj);
    p->priority = (int32_t) json_integer_value (tv_get (obj, "spec.priority"));
    const char *nn = tv_str (obj, "spec.nodeName");
    p->node_name = nn && *nn ? nn : NULL;
    p->has_affinity = tv_get (obj, "spec.affinity.podAffinity") || tv_get (obj, "spec.affinity.podAntiAffinity");
    p->has_required_anti_affinity =
        json_array_size (tv_get (obj, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")) > 0;
    const json_t *dt = tv_get (obj, "metadata.deletionTimestamp");
    p->terminating = dt && !json_is_null (dt);
    const char *st = tv_str (obj, "status.startTime");
    int64_t st_ms = st ? tr_time_parse (st) : -1;
    p->start_ms = st_ms >= 0 ? st_ms : INT64_MAX;

    tr_sched_res_t sum = {0}, init = {0};
    int64_t nz_cpu = 0, nz_mem = 0, nz_icpu = 0, nz_imem = 0;
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (obj, "spec.containers"), i, c) {
        tr_sched_res_t r;
        snap_parse_res (tv_get (c, "resources.requests"), &r, NULL, 0);
        res_add (&sum, &r, 1);
        nz_cpu += r.milli_cpu ? r.milli_cpu : DEFAULT_MILLI_CPU;
        nz_mem += r.memory ? r.memory : DEFAULT_MEMORY;
    }
    json_array_foreach (tv_get (obj, "spec.initContainers"), i, c) {
        tr_sched_res_t r;
        snap_parse_res (tv_get (c, "resources.requests"), &r, NULL, 0);
        res_max (&init, &r);
        int64_t ic = r.milli_cpu ? r.milli_cpu : DEFAULT_MILLI_CPU, im = r.memory ? r.memory : DEFAULT_MEMORY;
        nz_icpu = nz_icpu > ic ? nz_icpu : ic;
        nz_imem = nz_imem > im ? nz_imem : im;
    }
    res_max (&sum, &init);
    tr_sched_res_t over;
    snap_parse_res (tv_get (obj, "spec.overhead"), &over, NULL, 0);
    res_add (&sum, &over, 1);
    sum.pods = 1;
    p->requests = sum;
    p->nonzero_milli_cpu = (nz_cpu > nz_icpu ? nz_cpu : nz_icpu) + over.milli_cpu;
    p->nonzero_memory = (nz_mem > nz_imem ? nz_mem : nz_imem) + over.memory;
    return 0;
}

tr_sched_pod_t *
snap_pod_new (const json_t *obj)
{
    spod_t *sp = calloc (1, sizeof *sp);
    if (snap_pod_fill (&sp->pub, obj)) {
        free (sp);
        return NULL;
    }
    sp->obj = json_incref ((json_t *) obj);
    return &sp->pub;
}

void
snap_pod_free (tr_sched_pod_t *p)
{
    if (!p)
        return;
    spod_t *sp = (spod_t *) p;
    json_decref (sp->obj);
    free (sp->node);
    free (sp);
}

/* ---- the snapshot ------------------------------------------------------------------------- */

sched_snap_t *
snap_new (void)
{
    sched_snap_t *s = calloc (1, sizeof *s);
    s->nodes = json_object ();
    s->pods = json_object ();
    s->view.size = sizeof s->view;
    return s;
}

static void
node_free (snode_t *n)
{
    json_decref (n->obj);
    free (n->name);
    free (n->pods);
    free (n->aff);
    free (n->anti);
    free (n->taints);
    nodelabels_destroy (&n->lix);
    free (n);
}

void
snap_destroy (sched_snap_t **p)
{
    sched_snap_t *s = *p;
    if (!s)
        return;
    const char *k;
    json_t *v;
    json_object_foreach (s->pods, k, v) snap_pod_free (ptr_of (v));
    json_object_foreach (s->nodes, k, v) node_free (ptr_of (v));
    json_decref (s->pods);
    json_decref (s->nodes);
    free (s->list);
    free (s->view_nodes);
    free (s->view_aff);
    free (s->jr);
    free (s);
    *p = NULL;
}

static snode_t *
node_get (sched_snap_t *s, const char *name, int create)
{
    snode_t *n = ptr_of (json_object_get (s->nodes, name));
    if (n || !create)
        return n;
    n = calloc (1, sizeof *n);
    n->pub.size = sizeof n->pub;
    n->name = strdup (name);
    n->pub.name = n->name;
    static json_t *empty;
    if (!empty)
        empty = json_object ();
    n->pub.labels = empty;
    json_object_set_new (s->nodes, name, ptr_json (n));
    return n;
}

static const char *
ready_status (const json_t *node)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (node, "status.conditions"), i, c) {
        const char *t = tv_str (c, "type");
        if (t && !strcmp (t, "Ready"))
            return tv_str (c, "status");
    }
    return NULL;
}

static int
str_differs (const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp (a, b));
}

uint32_t
snap_node_set (sched_snap_t *s, const json_t *obj)
{
    const char *name = tv_str (obj, "metadata.name");
    if (!name)
        return 0;
    snode_t *n = node_get (s, name, 1);
    uint32_t ev = 0;
    tr_sched_res_t alloc;
    snap_parse_res (tv_get (obj, "status.allocatable"), &alloc, NULL, 0);
    int unsched = tv_bool (obj, "spec.unschedulable", false);
    if (!n->obj) {
        ev = TR_SCHED_EV_NODE_ADD;
        if (s->nlist == s->caplist) {
            s->caplist = s->caplist ? 2 * s->caplist : 64;
            s->list = realloc (s->list, s->caplist * sizeof *s->list);
        }
        n->index = s->nlist;
        s->list[s->nlist++] = n;
        s->dirty = 1;
    } else {
        if (memcmp (&alloc, &n->pub.allocatable, sizeof alloc))
            ev |= TR_SCHED_EV_NODE_ALLOCATABLE;
        if (!json_equal (tv_get (n->obj, "metadata.labels"), tv_get (obj, "metadata.labels")) &&
            (tv_get (n->obj, "metadata.labels") || json_object_size (tv_get (obj, "metadata.labels"))))
            ev |= TR_SCHED_EV_NODE_LABEL;
        const json_t *ta = tv_get (n->obj, "spec.taints"), *tb = tv_get (obj, "spec.taints");
        if ((json_array_size (ta) || json_array_size (tb)) && !(ta && tb && json_equal (ta, tb)))
            ev |= TR_SCHED_EV_NODE_TAINT;
        if (unsched != n->pub.unschedulable)
            ev |= TR_SCHED_EV_NODE_SCHEDULABLE;
        if (str_differs (ready_status (n->obj), ready_status (obj)))
            ev |= TR_SCHED_EV_NODE_CONDITION;
    }
    json_decref (n->obj);
    n->obj = json_incref ((json_t *) obj);
    n->pub.obj = obj;
    n->pub.labels = json_is_object (tv_get (obj, "metadata.labels")) ? tv_get (obj, "metadata.labels") : n->pub.labels;
    if (!json_is_object (tv_get (obj, "metadata.labels"))) {
        static json_t *empty;
        if (!empty)
            empty = json_object ();
        n->pub.labels = empty;
    }
    if (!n->lix || (ev & (TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_LABEL))) {
        nodelabels_destroy (&n->lix);
        n->lix = nodelabels_new (n->pub.labels); /* NULL (out of memory): lookups use the JSON */
        n->pub.label_index = n->lix;
    }
    n->pub.unschedulable = unsched;
    n->pub.allocatable = alloc;
    const char *rs = ready_status (obj);
    n->pub.ready = rs && !strcmp (rs, "True");
    /* no event of its own (nothing requeues on images), but the node's generation moves: what
     * keeps a copy of the node by generation (the framework's hot lines, nodehot.h) sees it */
    uint32_t nimages = (uint32_t) json_array_size (tv_get (obj, "status.images"));
    int images_moved = nimages != n->pub.nimages;
    n->pub.nimages = nimages;
    const json_t *tl = tv_get (obj, "spec.taints");
    free (n->taints);
    n->taints = NULL;
    n->pub.ntaints = 0;
    if (json_array_size (tl)) {
        n->taints = calloc (json_array_size (tl), sizeof *n->taints);
        size_t i;
        json_t *t;
        json_array_foreach (tl, i, t) {
            const char *k = tv_str (t, "key"), *v = tv_str (t, "value"), *e = tv_str (t, "effect");
            n->taints[n->pub.ntaints++] = (tr_sched_taint_t) {k ? k : "", v ? v : "", e ? e : ""};
        }
    }
    n->pub.taints = n->taints;
    if (ev || images_moved)
        gen_move (s, n);
    return ev;
}

static void
list_remove (sched_snap_t *s, snode_t *n)
{
    s->list[n->index] = s->list[--s->nlist];
    s->list[n->index]->index = n->index;
    s->dirty = 1;
}

void
snap_node_delete (sched_snap_t *s, const char *name)
{
    snode_t *n = node_get (s, name, 0);
    if (!n || !n->obj)
        return;
    list_remove (s, n);
    json_decref (n->obj);
    n->obj = NULL;
    n->pub.obj = NULL;
    gen_move (s, n);
    if (!n->pub.npods) {
        json_object_del (s->nodes, name);
        node_free (n);
    }
}

static void
arr_push (const tr_sched_pod_t ***arr, uint32_t *n, uint32_t *cap, const tr_sched_pod_t *p)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *arr = realloc (*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = p;
}

static void
arr_del (const tr_sched_pod_t **arr, uint32_t *n, const tr_sched_pod_t *p)
{
    for (uint32_t i = 0; i < *n; i++)
        if (arr[i] == p) {
            arr[i] = arr[--*n];
            return;
        }
}

static void
node_account (sched_snap_t *s, snode_t *n, spod_t *sp, int sign)
{
    tr_sched_pod_t *p = &sp->pub;
    res_add (&n->pub.requested, &p->requests, sign);
    n->pub.nonzero_milli_cpu += sign * p->nonzero_milli_cpu;
    n->pub.nonzero_memory += sign * p->nonzero_memory;
    if (sign > 0) {
        arr_push (&n->pods, &n->pub.npods, &n->cap, p);
        if (p->has_affinity)
            arr_push (&n->aff, &n->pub.npods_with_affinity, &n->acap, p);
        if (p->has_required_anti_affinity)
            arr_push (&n->anti, &n->pub.npods_with_required_anti_affinity, &n->ncap, p);
    } else {
        arr_del (n->pods, &n->pub.npods, p);
        if (p->has_affinity)
            arr_del (n->aff, &n->pub.npods_with_affinity, p);
        if (p->has_required_anti_affinity)
            arr_del (n->anti, &n->pub.npods_with_required_anti_affinity, p);
    }
    n->pub.pods = n->pods;
    n->pub.pods_with_affinity = n->aff;
    n->pub.pods_with_required_anti_affinity = n->anti;
    gen_move (s, n);
    if (p->has_affinity && (n->pub.npods_with_affinity == 0 || (sign > 0 && n->pub.npods_with_affinity == 1)))
        s->dirty_aff = 1;
}

/* Removes sp from its node and the map, frees it. */
static void
pod_drop (sched_snap_t *s, spod_t *sp)
{
    snode_t *n = sp->sn;
    if (n) {
        node_account (s, n, sp, -1);
        if (!n->obj && !n->pub.npods) {
            json_object_del (s->nodes, n->name);
            node_free (n);
        }
    }
    json_object_del (s->pods, sp->pub.uid);
    snap_pod_free (&sp->pub);
}

/* sp (a new pod of its own) accounted on node (n: that node, or NULL to look it up, a
 * placeholder made when unknown); sp->node, when set, is node already copied. */
static spod_t *
pod_put (sched_snap_t *s, spod_t *sp, snode_t *n, const char *node, int assumed)
{
    if (!sp->node)
        sp->node = strdup (node);
    sp->pub.node_name = sp->node;
    sp->assumed = assumed;
    json_object_set_new (s->pods, sp->pub.uid, ptr_json (sp));
    sp->sn = n ? n : node_get (s, node, 1);
    node_account (s, sp->sn, sp, 1);
    return sp;
}

static spod_t *
pod_place (sched_snap_t *s, const json_t *obj, const char *node, int assumed)
{
    spod_t *sp = (spod_t *) snap_pod_new (obj);
    return sp ? pod_put (s, sp, NULL, node, assumed) : NULL;
}

/* Whether the bound object is the assumed one with only spec.nodeName set: the same spec otherwise
 * (the informer's decode shares unchanged subtrees, so most keys compare by pointer), the same
 * deletionTimestamp and status.startTime, so that everything snap_pod_fill read is the same. */
static int
bound_as_assumed (const json_t *assumed, const json_t *bound)
{
    const json_t *as = json_object_get (assumed, "spec"), *bs = json_object_get (bound, "spec");
    if (!json_is_object (as) || !json_is_object (bs))
        return 0;
    size_t na = json_object_size (as) - (json_object_get (as, "nodeName") != NULL),
           nb = json_object_size (bs) - (json_object_get (bs, "nodeName") != NULL);
    if (na != nb)
        return 0;
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *) bs, k, v) {
        if (!strcmp (k, "nodeName"))
            continue;
        const json_t *w = json_object_get (as, k);
        if (!w || !json_equal (v, w))
            return 0;
    }
    const json_t *ad = tv_get (assumed, "metadata.deletionTimestamp"), *bd = tv_get (bound, "metadata.deletionTimestamp");
    if ((ad && !json_is_null (ad)) != (bd && !json_is_null (bd)))
        return 0;
    const char *at = tv_str (assumed, "status.startTime"), *bt = tv_str (bound, "status.startTime");
    return at == bt || (at && bt && !strcmp (at, bt));
}

uint32_t
snap_pod_bound (sched_snap_t *s, const json_t *obj)
{
    const char *uid = tv_str (obj, "metadata.uid"), *node = tv_str (obj, "spec.nodeName");
    if (!uid || !node || !*node)
        return 0;
    spod_t *sp = ptr_of (json_object_get (s->pods, uid));
    uint32_t ev = TR_SCHED_EV_POD_ADD;
    if (sp) {
        int same = !strcmp (sp->node, node);
        if (same && sp->obj == obj)
            return 0;
        const json_t *ol = tv_get (sp->obj, "metadata.labels"), *nl = tv_get (obj, "metadata.labels");
        int labels = (json_object_size (ol) || json_object_size (nl)) && !(ol && nl && json_equal (ol, nl));
        if (same && !sp->assumed && !labels) {
            /* the same placement, a new object (status update): swap the reference only if the
             * request-relevant parts are the same, and the pod is not being deleted now when it
             * was not before (PodTopologySpread stops counting it: the node's generation moves) */
            tr_sched_pod_t np;
            if (json_equal (tv_get (sp->obj, "spec"), tv_get (obj, "spec")) && snap_pod_fill (&np, obj) == 0 &&
                np.terminating == sp->pub.terminating) {
                json_t *old = sp->obj;
                sp->obj = json_incref ((json_t *) obj);
                sp->pub.obj = obj;
                sp->pub.ns = np.ns;
                sp->pub.name = np.name;
                sp->pub.uid = np.uid;
                sp->pub.labels = np.labels;
                sp->pub.start_ms = np.start_ms;
                json_object_set_new (s->pods, sp->pub.uid, ptr_json (sp)); /* the key string moved */
                json_decref (old);
                return 0;
            }
        }
        if (same && sp->assumed && !labels && bound_as_assumed (sp->obj, obj)) {
            /* the binding of what was assumed, as assumed: the node's accounting stands; the
             * reference moves to the informer's object (as the same placement's swap above) */
            json_t *old = sp->obj;
            sp->obj = json_incref ((json_t *) obj);
            sp->pub.obj = obj;
            sp->pub.ns = tv_str (obj, "metadata.namespace") ? tv_str (obj, "metadata.namespace") : "";
            sp->pub.name = tv_str (obj, "metadata.name") ? tv_str (obj, "metadata.name") : "";
            sp->pub.uid = uid;
            sp->pub.labels = labels_of (obj);
            sp->assumed = 0;
            json_object_set_new (s->pods, sp->pub.uid, ptr_json (sp)); /* the key string moved */
            json_decref (old);
            gen_move (s, sp->sn); /* same: sp->node is node */
            return TR_SCHED_EV_POD_ADD; /* the informer's AssignedPodAdd, as Kubernetes */
        }
        /* confirming an assumption is the informer's AssignedPodAdd, as Kubernetes */
        ev = same && !sp->assumed ? (labels ? TR_SCHED_EV_POD_LABEL : 0) : TR_SCHED_EV_POD_ADD;
        pod_drop (s, sp);
    }
    pod_place (s, obj, node, 0);
    return ev;
}

int
snap_pod_delete (sched_snap_t *s, const char *uid)
{
    spod_t *sp = ptr_of (json_object_get (s->pods, uid));
    if (!sp)
        return 0;
    pod_drop (s, sp);
    return 1;
}

int
snap_assume (sched_snap_t *s, const json_t *obj, const char *node)
{
    tr_sched_pod_t p;
    return snap_pod_fill (&p, obj) ? -1 : snap_assume_pod (s, &p, node);
}

int
snap_assume_pod (sched_snap_t *s, const tr_sched_pod_t *p, const char *node)
{
    snode_t *n = node_get (s, node, 0);
    if (!n || !n->obj || !p->uid || !p->obj)
        return -1;
    /* what snap_pod_fill read of p->obj, copied: its strings and labels are p->obj's, which the
     * copy holds a reference to. Copied, and node too, before an older placement of the pod is
     * dropped: p may be that placement's own pod, node its node's name. */
    spod_t *sp = calloc (1, sizeof *sp);
    if (!sp)
        return -1;
    sp->pub = *p;
    sp->pub.size = sizeof sp->pub;
    sp->obj = json_incref ((json_t *) p->obj);
    sp->pub.obj = sp->obj;
    sp->node = strdup (node);
    spod_t *old = ptr_of (json_object_get (s->pods, sp->pub.uid));
    if (old)
        pod_drop (s, old);
    return pod_put (s, sp, n, sp->node, 1) ? 0 : -1;
}

void
snap_forget (sched_snap_t *s, const char *uid)
{
    spod_t *sp = ptr_of (json_object_get (s->pods, uid));
    if (sp && sp->assumed)
        pod_drop (s, sp);
}

int
snap_is_assumed (sched_snap_t *s, const char *uid)
{
    spod_t *sp = ptr_of (json_object_get (s->pods, uid));
    return sp && sp->assumed;
}

const tr_sched_snapshot_t *
snap_view (sched_snap_t *s)
{
    if (s->capview < s->nlist + 1) {
        s->capview = s->nlist + 64;
        s->view_nodes = realloc (s->view_nodes, s->capview * sizeof *s->view_nodes);
        s->view_aff = realloc (s->view_aff, s->capview * sizeof *s->view_aff);
    }
    s->view.generation = s->gen;
    s->view.journal = s->jr;
    s->view.njournal = (uint32_t) s->njr;
    s->view.journal_from = s->journal_from;
    if (!s->dirty && s->dirty_aff) { /* nodes[] as it was: the layout and the journal stay */
        size_t na = 0;
        for (size_t i = 0; i < s->nlist; i++)
            if (s->list[i]->pub.npods_with_affinity)
                s->view_aff[na++] = &s->list[i]->pub;
        s->dirty_aff = 0;
        s->view.nnodes_with_affinity = (uint32_t) na;
        s->view.nodes_with_affinity = s->view_aff;
    }
    if (!s->dirty)
        return &s->view;
    /* nodes[] changes: indices in the journal so far are of the old order. Layouts are unique
     * across snapshots too: a cache fed two snapshots never takes one's journal for the other's */
    static _Atomic uint64_t layouts;
    s->view.layout = s->layout = ++layouts;
    s->njr = 0;
    s->journal_from = s->gen;
    s->view.njournal = 0;
    s->view.journal_from = s->gen;
    /* s->list is kept in place; its pub pointers are the view (same order) */
    for (size_t i = 0; i < s->nlist; i++)
        s->view_nodes[i] = &s->list[i]->pub;
    size_t na = 0;
    for (size_t i = 0; i < s->nlist; i++)
        if (s->list[i]->pub.npods_with_affinity)
            s->view_aff[na++] = &s->list[i]->pub;
    s->dirty = s->dirty_aff = 0;
    s->view.nnodes = (uint32_t) s->nlist;
    s->view.nodes = s->view_nodes;
    s->view.nnodes_with_affinity = (uint32_t) na;
    s->view.nodes_with_affinity = s->view_aff;
    return &s->view;
}

const tr_sched_node_t *
snap_node (sched_snap_t *s, const char *name)
{
    snode_t *n = node_get (s, name, 0);
    return n && n->obj ? &n->pub : NULL;
}
