/* broker_cache — see broker_cache.h. */
#include "broker/broker_cache.h"
#include "core/fnv.h"
#include "core/conn.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/selector.h"
#include "core/store_proto.h"
#include "core/value.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The event ring is sized by events and by time, as Kubernetes' watch cache (capacity between a
 * lower and an upper bound, grown while its oldest event is younger than eventFreshDuration): it
 * keeps at least ring_min events, and every event younger than ring_window_ms up to ring_max.
 * At 10,000 events/s that is 10.24 s of history (102,400 events, Kubernetes' upper bound); at
 * 1,000 events/s, 75 s. After a burst, events older than the window are dropped down to ring_min
 * and the array shrinks back. */
#define DEFAULT_RING 10000
#define DEFAULT_RING_MAX 102400
#define DEFAULT_RING_WINDOW_MS 75000
#define RENEW_RING 8192 /* recent lease renewals kept for watchers that are catching up (at most
                          as many as events in the ring) */

/* An object's msgpack encoding, made once (at its first list) and shared by the lists that hold
 * it until it changes. Reference-counted: everything runs on the broker's thread. */
typedef struct {
    int refs;
    size_t len;
    char data[];
} blob_t;

typedef struct {
    json_t *obj;
    uint64_t mod_rev;
    blob_t *enc;  /* obj encoded, or NULL until a list needs it */
} entry_t;

static void
blob_unref (blob_t **bp)
{
    if (*bp && --(*bp)->refs == 0)
        free (*bp);
    *bp = NULL;
}

/* The entry's encoding (made now if missing), with a new reference; NULL if it cannot be encoded. */
static blob_t *
entry_blob (entry_t *e)
{
    if (!e->enc) {
        char *buf;
        size_t len;
        if (tv_encode (e->obj, &buf, &len))
            return NULL;
        e->enc = malloc (sizeof *e->enc + len);
        e->enc->refs = 1;
        e->enc->len = len;
        memcpy (e->enc->data, buf, len);
        free (buf);
    }
    e->enc->refs++;
    return e->enc;
}

typedef enum { EV_ADDED = 1, EV_MODIFIED, EV_DELETED } ev_type_t;

typedef struct {
    uint64_t rev;
    ev_type_t type;
    char plural[64];
    char ns[254];
    json_t *obj;  /* new object (DELETED: the last one) */
    json_t *old;  /* previous object for MODIFIED, else NULL */
    int64_t at;   /* when it entered the ring (zclock_mono, ms) */
    char *enc;    /* obj as msgpack, made at the first send: encoded once for every watcher */
    size_t enc_len;
    /* a pod's: node_hash of obj's spec.nodeName and of old's (obj's again when there is no
     * old), what an indexed watcher compares before it matches (0 for other kinds) */
    uint32_t nh, oh;
} event_t;

/* A lease renewal the store holds in memory: the object changed, its mod_rev did not. */
typedef struct {
    uint64_t seq;
    char plural[64];
    char *key;
    json_t *obj;
    char *enc; /* as event_t */
    size_t enc_len;
} renewal_t;

/* A write the broker proposed that the store has not answered yet: the value as proposed and the
 * tree it was encoded from. Its commit's event takes that tree (no decode of the store's copy) and,
 * as the encoding watchers and the reply get, the proposed bytes with the resourceVersion appended
 * to metadata (no encode): both are what decoding and encoding would give (bcache_expect). */
typedef struct {
    json_t *obj;
    char *val;
    size_t len, meta_at, meta_end; /* obj's metadata map is val[meta_at..meta_end) */
} own_t;

static void
own_free (void **p)
{
    own_t *o = *p;
    if (o) {
        json_decref (o->obj);
        free (o->val);
        free (o);
    }
    *p = NULL;
}

struct fsel {
    int n;
    struct {
        char path[128];
        char value[256];
        int neg;
    } req[16];
};

typedef struct {
    zsock_t *sock;
    zframe_t *rid;
    uint64_t id;
    char plural[64];
    char ns[254];
    selector_t *lsel;
    fsel_t *fsel;
    uint64_t next_rev;
    uint64_t next_seq; /* the next renewal to send */
    long credit;
    int batch;         /* events it takes per message (the watch option `batch`), 1 at least */
    int every;         /* no namespace, label or field selector: every object of its kind matches */
    int dead;
    char *expire;      /* why it ends: an EXPIRED event with this message is owed to it */
    /* the watch index (see "the watch index" below) */
    char *ikey;        /* spec.nodeName this pod watcher pins, or NULL: not indexed */
    uint32_t ikh;      /* node_hash (ikey) */
    void *h_all, *h_plain, *h_idx, *h_dirty; /* its handles in c->watchers, c->plain, its index list, c->dirty */
    char *wkey;        /* its key in c->byid (client identity and watch id) */
    const uint64_t *klast; /* the revision of its kind's last event (c->klast) */
} watcher_t;

/* A paged list: the matching objects as of its first page, sorted, held (references) until the
 * last page is read or it expires — each page is a slice of that one snapshot, as the api-server
 * serves every page at the first page's revision. */
typedef struct {
    uint64_t id, rev;
    char plural[64];
    char *scope;       /* namespace, label and field selectors it was listed with (a continue must match) */
    blob_t **items;
    size_t n;
    int64_t expires;
} lsess_t;

struct bcache {
    schema_registry_t *schemas;
    zhashx_t *kinds; /* plural → zhashx (key → entry_t*) */
    event_t *ring;
    size_t cap, start, len;
    size_t ring_min, ring_max; /* events kept at least / at most */
    int64_t window_ms;         /* events younger than this are kept (up to ring_max) */
    uint64_t rev;
    zlistx_t *watchers;  /* every watcher */
    zlistx_t *plain;     /* the watchers not indexed: each pump visits them all */
    zhashx_t *idx;       /* spec.nodeName → zlistx of the pod watchers that pin it */
    zlistx_t *dirty;     /* indexed watchers with something to do: the only ones a pump visits */
    zhashx_t *byid;      /* watcher_key → the latest watcher of that client and watch id (credits, unwatch) */
    int no_index;        /* bcache_set_watch_index (c, 0): every watcher plain (the old path, for bench_watch) */
    size_t count;
    bcache_open_fn open; /* opens stored values (Secrets encrypted at rest), or NULL */
    void *open_arg;
    renewal_t *renewals; /* ring of rcap, by seq */
    size_t rcap;
    uint64_t seq;        /* the last renewal's seq */
    size_t paused;       /* watchers the last pump left waiting for room in their client's pipe */
    lsess_t lists[BCACHE_LIST_SESSIONS];
    uint64_t list_seq;
    zhashx_t *own;       /* key → own_t*: the broker's writes in flight (bcache_expect) */
    /* plural → uint64_t *: the revision of that kind's last event (0: none since the cache began
     * or was reset). A watcher whose kind had none since its position jumps to the end of the
     * ring instead of reading it: every pump visits every plain watcher, and a Service's or a
     * Lease's watcher read every pod event one by one only to skip it. Kept until the cache
     * goes (watchers point into it). */
    zhashx_t *klast;
};

static void
u64_free (void **p)
{
    free (*p);
    *p = NULL;
}

static uint64_t *
kind_last (bcache_t *c, const char *plural)
{
    uint64_t *v = zhashx_lookup (c->klast, plural);
    if (!v) {
        v = calloc (1, sizeof *v);
        if (!v) {
            /* out of memory: one slot for every kind without its own; it holds at least each such
             * kind's last revision, so a watcher of one skips the ring less, never wrongly */
            static uint64_t never;
            never = UINT64_MAX;
            return &never;
        }
        zhashx_insert (c->klast, plural, v);
    }
    return v;
}

/* ---- field selectors ------------------------------------------------------------------------ */

fsel_t *
fsel_parse (const char *text, char *err, size_t errlen)
{
    fsel_t *f = calloc (1, sizeof *f);
    if (!text || !*text)
        return f;
    char buf[2048];
    snprintf (buf, sizeof buf, "%s", text);
    for (char *save, *t = strtok_r (buf, ",", &save); t; t = strtok_r (NULL, ",", &save)) {
        if (f->n == 16) {
            snprintf (err, errlen, "field selector: more than 16 requirements");
            free (f);
            return NULL;
        }
        char *op = strstr (t, "!=");
        int neg = op != NULL;
        size_t oplen = 2;
        if (!op) {
            op = strstr (t, "==");
            if (!op) {
                op = strchr (t, '=');
                oplen = 1;
            }
        }
        if (!op || op == t || (size_t) (op - t) >= sizeof f->req[0].path) {
            snprintf (err, errlen, "field selector: \"%s\": expected field=value or field!=value", t);
            free (f);
            return NULL;
        }
        memcpy (f->req[f->n].path, t, (size_t) (op - t));
        f->req[f->n].path[op - t] = 0;
        snprintf (f->req[f->n].value, sizeof f->req[0].value, "%s", op + oplen);
        f->req[f->n].neg = neg;
        f->n++;
    }
    return f;
}

int
fsel_matches (const fsel_t *f, const json_t *obj)
{
    for (int i = 0; f && i < f->n; i++) {
        json_t *v = tv_get (obj, f->req[i].path);
        char num[32];
        const char *s = json_string_value (v);
        if (!s && json_is_integer (v)) {
            snprintf (num, sizeof num, "%lld", (long long) json_integer_value (v));
            s = num;
        }
        int eq = !strcmp (s ? s : "", f->req[i].value);
        if (eq == f->req[i].neg)
            return 0;
    }
    return 1;
}

void
fsel_destroy (fsel_t **p)
{
    free (*p);
    *p = NULL;
}

/* ---- objects -------------------------------------------------------------------------------- */

static void
entry_free (void **p)
{
    entry_t *e = *p;
    if (e) {
        blob_unref (&e->enc);
        json_decref (e->obj);
        free (e);
    }
    *p = NULL;
}

static void
kind_free (void **p)
{
    zhashx_destroy ((zhashx_t **) p);
}

bcache_t *
bcache_new (schema_registry_t *schemas, int ring_size)
{
    bcache_t *c = calloc (1, sizeof *c);
    c->schemas = schemas;
    c->kinds = zhashx_new ();
    zhashx_set_destructor (c->kinds, kind_free);
    c->cap = ring_size > 0 ? (size_t) ring_size : DEFAULT_RING;
    c->ring = calloc (c->cap, sizeof *c->ring);
    c->ring_min = c->cap;
    c->ring_max = c->cap > DEFAULT_RING_MAX ? c->cap : DEFAULT_RING_MAX;
    c->window_ms = DEFAULT_RING_WINDOW_MS;
    c->watchers = zlistx_new ();
    c->plain = zlistx_new ();
    c->klast = zhashx_new ();
    zhashx_set_destructor (c->klast, u64_free);
    c->dirty = zlistx_new ();
    c->idx = zhashx_new ();
    zhashx_set_destructor (c->idx, (zhashx_destructor_fn *) zlistx_destroy);
    c->byid = zhashx_new ();
    c->rcap = c->cap < RENEW_RING ? c->cap : RENEW_RING;
    c->renewals = calloc (c->rcap, sizeof *c->renewals);
    c->own = zhashx_new ();
    zhashx_set_destructor (c->own, own_free);
    return c;
}

void
bcache_set_opener (bcache_t *c, bcache_open_fn fn, void *arg)
{
    c->open = fn;
    c->open_arg = arg;
}

static void lsess_free (bcache_t *c, size_t i);

static void
watcher_free (watcher_t **wp)
{
    watcher_t *w = *wp;
    zframe_destroy (&w->rid);
    free (w->expire);
    free (w->ikey);
    free (w->wkey);
    selector_destroy (&w->lsel);
    fsel_destroy (&w->fsel);
    free (w);
    *wp = NULL;
}

void
bcache_destroy (bcache_t **p)
{
    bcache_t *c = *p;
    if (!c)
        return;
    for (size_t i = 0; i < c->len; i++) {
        event_t *e = &c->ring[(c->start + i) % c->cap];
        json_decref (e->obj);
        json_decref (e->old);
        free (e->enc);
    }
    free (c->ring);
    for (size_t i = 0; i < c->rcap; i++) {
        json_decref (c->renewals[i].obj);
        free (c->renewals[i].enc);
        free (c->renewals[i].key);
    }
    free (c->renewals);
    for (size_t i = 0; i < BCACHE_LIST_SESSIONS; i++)
        lsess_free (c, i);
    for (watcher_t *w = zlistx_first (c->watchers); w; w = zlistx_next (c->watchers))
        watcher_free (&w);
    zlistx_destroy (&c->watchers);
    zlistx_destroy (&c->plain);
    zhashx_destroy (&c->klast);
    zlistx_destroy (&c->dirty);
    zhashx_destroy (&c->idx);
    zhashx_destroy (&c->byid);
    zhashx_destroy (&c->kinds);
    zhashx_destroy (&c->own);
    free (c);
    *p = NULL;
}

/* "/registry/<plural>/<ns>/<name>" or "/registry/<plural>/<name>" */
static int
split_key (const char *key, char *plural, size_t plen, char *ns, size_t nslen)
{
    if (strncmp (key, "/registry/", 10))
        return -1;
    const char *p = key + 10, *slash = strchr (p, '/');
    if (!slash || (size_t) (slash - p) >= plen)
        return -1;
    memcpy (plural, p, (size_t) (slash - p));
    plural[slash - p] = 0;
    const char *rest = slash + 1, *s2 = strchr (rest, '/');
    ns[0] = 0;
    if (s2 && (size_t) (s2 - rest) < nslen) {
        memcpy (ns, rest, (size_t) (s2 - rest));
        ns[s2 - rest] = 0;
    }
    return 0;
}

static zhashx_t *
kind_map (bcache_t *c, const char *plural)
{
    zhashx_t *m = zhashx_lookup (c->kinds, plural);
    if (!m) {
        m = zhashx_new ();
        zhashx_set_destructor (m, entry_free);
        zhashx_insert (c->kinds, plural, m);
    }
    return m;
}

/* A value that does not open (a Secret sealed with a key this server lacks): its name, and why,
 * so that reads of it are refused with the reason instead of the object vanishing. */
static json_t *
undecryptable (const char *key, const char *why)
{
    char plural[64], ns[254];
    const char *name = strrchr (key, '/');
    if (split_key (key, plural, sizeof plural, ns, sizeof ns) || !name)
        return NULL;
    json_t *o = json_pack ("{s:s,s:s,s:{s:s},s:s}", "apiVersion", "v1", "kind", "Secret", "metadata", "name", name + 1,
                           BCACHE_UNDECRYPTABLE, why);
    if (*ns)
        tv_set_str (o, "metadata.namespace", ns);
    return o;
}

/* The object in v (decrypted if it is sealed) with metadata.resourceVersion = mod_rev; what did
 * not change since prev (its previous version, or NULL) is shared with prev (tv_decode_like). */
static json_t *
decode_val (bcache_t *c, const char *key, const msgpack_object *v, uint64_t mod_rev, const json_t *prev)
{
    if (v->type != MSGPACK_OBJECT_BIN)
        return NULL;
    char err[256];
    json_t *obj = NULL;
    char *plain = NULL;
    size_t plen = 0;
    int o = c->open ? c->open (c->open_arg, key, v->via.bin.ptr, v->via.bin.size, &plain, &plen, err, sizeof err) : 1;
    if (o < 0)
        obj = undecryptable (key, err);
    else if (o == 0) {
        obj = tv_decode_like (plain, plen, prev, err, sizeof err);
        free (plain);
    } else
        obj = tv_decode_like (v->via.bin.ptr, v->via.bin.size, prev, err, sizeof err);
    if (!json_is_object (obj)) {
        json_decref (obj);
        return NULL;
    }
    char rvs[24];
    snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) mod_rev);
    tv_set_str (obj, "metadata.resourceVersion", rvs);
    return obj;
}

/* One [key, val, mod_rev, create_rev] of a range answer or a renewal: its key (a /registry/ key:
 * plural and namespace) and mod_rev. 0, or -1 to skip it. */
static int
kv_parse (const msgpack_object *kv, char key[600], char plural[64], char ns[254], uint64_t *mod)
{
    if (kv->type != MSGPACK_OBJECT_ARRAY || kv->via.array.size != 4 || sp_str (&kv->via.array.ptr[0], key, 600) ||
        split_key (key, plural, 64, ns, 254))
        return -1;
    *mod = sp_u64 (&kv->via.array.ptr[2], 0);
    return 0;
}

int
bcache_load (bcache_t *c, const msgpack_object *kvs, uint64_t rev)
{
    if (!kvs || kvs->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    for (uint32_t i = 0; i < kvs->via.array.size; i++) {
        const msgpack_object *kv = &kvs->via.array.ptr[i];
        char key[600], plural[64], ns[254];
        uint64_t mod;
        if (kv_parse (kv, key, plural, ns, &mod))
            continue;
        json_t *obj = decode_val (c, key, &kv->via.array.ptr[1], mod, NULL);
        if (!obj) {
            TR_WARN ("broker", "skipping undecodable stored object key=%s", key);
            continue;
        }
        entry_t *e = calloc (1, sizeof *e);
        e->obj = obj;
        e->mod_rev = mod;
        zhashx_update (kind_map (c, plural), key, e);
        c->count++;
    }
    c->rev = rev;
    return 0;
}

/* ---- the watch index ------------------------------------------------------------------------
 * A node's agent watches pods with spec.nodeName=<node>: with thousands of nodes, matching every
 * pod event against every such watcher costs watchers × events. Those watchers are indexed by
 * the node name they pin; a pod event marks dirty only the watchers of the node names of its new
 * and previous object (a pod bound from "" to X reaches X's watcher, which sees it as ADDED), and
 * a pump visits the plain watchers plus the dirty ones. Invariant: a clean indexed watcher has no
 * event in the ring it could receive after its position, so when an event marks it dirty its
 * position moves up to that event (skipping, unread, what it could not match). */

static void
mark_dirty (bcache_t *c, watcher_t *w)
{
    if (w->ikey && !w->h_dirty)
        w->h_dirty = zlistx_add_end (c->dirty, w);
}

static const char *
node_of (const json_t *obj)
{
    const char *n = tv_str (obj, "spec.nodeName");
    return n ? n : ""; /* as fsel_matches compares a missing field */
}

/* a node name's hash: equal names, equal hashes (unequal ones may collide: a hint only) */
static uint32_t
node_hash (const char *s)
{
    return tr_fnv1a32_str (s);
}

static void
touch_node (bcache_t *c, const char *node, uint64_t rev)
{
    zlistx_t *l = zhashx_lookup (c->idx, node);
    for (watcher_t *w = l ? zlistx_first (l) : NULL; w; w = zlistx_next (l)) {
        if (w->h_dirty)
            continue; /* it reads on from where it is */
        if (w->next_rev < rev)
            w->next_rev = rev;
        w->next_seq = c->seq + 1;
        mark_dirty (c, w);
    }
}

static void
index_event (bcache_t *c, event_t *ev)
{
    if (!ev->obj || strcmp (ev->plural, "pods"))
        return;
    /* every pod event gets its hashes, indexed watchers or not: one that starts later reads the
     * ring from its resourceVersion */
    const char *now = node_of (ev->obj), *was = ev->old ? node_of (ev->old) : now;
    int moved = was != now && strcmp (was, now);
    ev->nh = node_hash (now);
    ev->oh = moved ? node_hash (was) : ev->nh;
    if (!zhashx_size (c->idx))
        return;
    touch_node (c, now, ev->rev);
    if (moved)
        touch_node (c, was, ev->rev);
}

/* The node name a watch of pods pins with a positive spec.nodeName requirement, or NULL. */
static const char *
fsel_node (const fsel_t *f)
{
    for (int i = 0; f && i < f->n; i++)
        if (!f->req[i].neg && !strcmp (f->req[i].path, "spec.nodeName"))
            return f->req[i].value;
    return NULL;
}

void
bcache_set_watch_index (bcache_t *c, int on)
{
    c->no_index = !on;
}

size_t
bcache_watchers_indexed (bcache_t *c)
{
    return zlistx_size (c->watchers) - zlistx_size (c->plain);
}

void
bcache_set_ring_limits (bcache_t *c, size_t max_events, int64_t window_ms)
{
    if (max_events)
        c->ring_max = max_events > c->ring_min ? max_events : c->ring_min;
    if (window_ms > 0)
        c->window_ms = window_ms;
}

size_t
bcache_ring_capacity (bcache_t *c)
{
    return c->cap;
}

static void
ring_drop_oldest (bcache_t *c)
{
    event_t *old = &c->ring[c->start];
    json_decref (old->obj);
    json_decref (old->old);
    free (old->enc);
    c->start = (c->start + 1) % c->cap;
    c->len--;
}

static void
ring_resize (bcache_t *c, size_t cap)
{
    event_t *r = calloc (cap, sizeof *r);
    for (size_t i = 0; i < c->len; i++)
        r[i] = c->ring[(c->start + i) % c->cap];
    free (c->ring);
    c->ring = r;
    c->cap = cap;
    c->start = 0;
}

static void
ring_push (bcache_t *c, event_t *ev)
{
    int64_t now = zclock_mono ();
    ev->at = now;
    while (c->len > c->ring_min && now - c->ring[c->start].at > c->window_ms)
        ring_drop_oldest (c); /* older than the window: only ring_min events are kept regardless */
    if (c->len == c->cap) {
        if (c->cap < c->ring_max && now - c->ring[c->start].at <= c->window_ms)
            ring_resize (c, c->cap * 2 < c->ring_max ? c->cap * 2 : c->ring_max);
        else
            ring_drop_oldest (c);
    } else if (c->cap > c->ring_min && c->len < c->cap / 4)
        ring_resize (c, c->cap / 2 > c->ring_min ? c->cap / 2 : c->ring_min);
    event_t *in = &c->ring[(c->start + c->len) % c->cap];
    *in = *ev;
    in->nh = in->oh = 0;
    c->len++;
    *kind_last (c, in->plural) = in->rev;
    index_event (c, in);
}

void
bcache_expect (bcache_t *c, const char *key, json_t *obj, char *val, size_t len, size_t meta_at, size_t meta_end)
{
    own_t *o = calloc (1, sizeof *o);
    if (!o) {
        json_decref (obj);
        free (val);
        return;
    }
    *o = (own_t) {.obj = obj, .val = val, .len = len, .meta_at = meta_at, .meta_end = meta_end};
    zhashx_update (c->own, key, o); /* a newer write of the key replaces an older one's */
}

void
bcache_expect_done (bcache_t *c, const char *key, const json_t *obj)
{
    own_t *o = zhashx_lookup (c->own, key);
    if (o && o->obj == obj)
        zhashx_delete (c->own, key);
}

size_t
bcache_expected (bcache_t *c)
{
    return zhashx_size (c->own);
}

/* The committed value v of key at rev, when it is the broker's own write in flight (byte for byte
 * what it proposed): *obj takes its tree, with the resourceVersion set, and *enc its encoding.
 * 0 taken; -1 not ours (decode it). */
static int
own_commit (bcache_t *c, const char *key, const msgpack_object *v, uint64_t rev, json_t **obj, char **enc,
            size_t *enc_len)
{
    own_t *o = zhashx_lookup (c->own, key);
    if (!o || v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != o->len || memcmp (v->via.bin.ptr, o->val, o->len))
        return -1; /* another writer's (ours may commit next: kept until its answer) */
    char rvs[24];
    snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) rev);
    if (tv_msgpack_map_append_str (o->val, o->len, o->meta_at, o->meta_end, "resourceVersion", rvs, enc, enc_len))
        return -1;
    *obj = json_incref (o->obj);
    tv_set_str (*obj, "metadata.resourceVersion", rvs); /* appended last, as in *enc */
    zhashx_delete (c->own, key);
    return 0;
}

void
bcache_apply_events (bcache_t *c, const msgpack_object *evs)
{
    if (!evs || evs->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < evs->via.array.size; i++) {
        const msgpack_object *e = &evs->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 6)
            continue;
        const msgpack_object *f = e->via.array.ptr;
        uint64_t rev = sp_u64 (&f[0], 0);
        if (rev <= c->rev)
            continue; /* already in the cache (events buffered while it was reloading) */
        int kind = (int) sp_u64 (&f[1], 0);
        char key[600];
        event_t ev = {0};
        json_t *obj = NULL;
        zhashx_t *m = NULL;
        entry_t *cur = NULL;
        if (!sp_str (&f[2], key, sizeof key) && !split_key (key, ev.plural, sizeof ev.plural, ev.ns, sizeof ev.ns)) {
            m = kind_map (c, ev.plural);
            cur = zhashx_lookup (m, key);
            if (kind == 2 || own_commit (c, key, &f[3], rev, &obj, &ev.enc, &ev.enc_len))
                obj = decode_val (c, key, &f[3], rev, cur ? cur->obj : NULL);
        }
        if (!obj) {
            /* not an API object (the cluster's keys under /troupe/, or undecodable): the ring still
             * takes one event per revision — watchers index it by revision — that no one matches */
            event_t none = {.rev = rev};
            if (rev > c->rev)
                c->rev = rev;
            ring_push (c, &none);
            continue;
        }
        ev.rev = rev;
        ev.obj = obj;
        if (kind == 2) { /* delete */
            ev.type = EV_DELETED;
            if (cur) {
                zhashx_delete (m, key);
                c->count--;
            }
        } else {
            ev.type = cur ? EV_MODIFIED : EV_ADDED;
            if (cur) {
                ev.old = json_incref (cur->obj);
                json_decref (cur->obj);
                cur->obj = json_incref (obj);
                blob_unref (&cur->enc);
                cur->mod_rev = rev;
            } else {
                entry_t *ne = calloc (1, sizeof *ne);
                ne->obj = json_incref (obj);
                ne->mod_rev = rev;
                zhashx_insert (m, key, ne);
                c->count++;
            }
        }
        if (rev > c->rev)
            c->rev = rev;
        ring_push (c, &ev);
    }
}

void
bcache_apply_renewals (bcache_t *c, const msgpack_object *kvs)
{
    if (!kvs || kvs->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < kvs->via.array.size; i++) {
        const msgpack_object *kv = &kvs->via.array.ptr[i];
        char key[600], plural[64], ns[254];
        uint64_t mod;
        if (kv_parse (kv, key, plural, ns, &mod))
            continue;
        zhashx_t *m = zhashx_lookup (c->kinds, plural);
        entry_t *cur = m ? zhashx_lookup (m, key) : NULL;
        if (!cur || cur->mod_rev != mod)
            continue; /* superseded by a committed write (or not ours yet): the renewal is stale */
        json_t *obj = decode_val (c, key, &kv->via.array.ptr[1], mod, cur->obj);
        if (!obj || json_equal (obj, cur->obj)) {
            json_decref (obj); /* heard twice (the answer and the leader's broadcast) */
            continue;
        }
        json_decref (cur->obj);
        cur->obj = obj;
        blob_unref (&cur->enc);
        renewal_t *r = &c->renewals[++c->seq % c->rcap];
        json_decref (r->obj);
        free (r->enc);
        r->enc = NULL;
        r->seq = c->seq;
        snprintf (r->plural, sizeof r->plural, "%s", plural);
        free (r->key);
        r->key = strdup (key);
        r->obj = json_incref (obj);
    }
}

const json_t *
bcache_get (bcache_t *c, const char *key, uint64_t *mod_rev)
{
    char plural[64], ns[254];
    if (split_key (key, plural, sizeof plural, ns, sizeof ns))
        return NULL;
    zhashx_t *m = zhashx_lookup (c->kinds, plural);
    entry_t *e = m ? zhashx_lookup (m, key) : NULL;
    if (e && mod_rev)
        *mod_rev = e->mod_rev;
    return e ? e->obj : NULL;
}

const char *
bcache_get_encoded (bcache_t *c, const char *key, size_t *len, uint64_t *mod_rev)
{
    char plural[64], ns[254];
    if (split_key (key, plural, sizeof plural, ns, sizeof ns))
        return NULL;
    zhashx_t *m = zhashx_lookup (c->kinds, plural);
    entry_t *e = m ? zhashx_lookup (m, key) : NULL;
    blob_t *b = e ? entry_blob (e) : NULL;
    if (!b)
        return NULL;
    b->refs--; /* the entry's own reference holds it */
    if (mod_rev)
        *mod_rev = e->mod_rev;
    *len = b->len;
    return b->data;
}

static int
ns_of_matches (const json_t *obj, const char *ns)
{
    if (!ns || !*ns)
        return 1;
    const char *o = tv_str (obj, "metadata.namespace");
    return o && !strcmp (o, ns);
}

/* An object of a list with its sort key read once (sorting by tv_str lookups was most of a
 * list's cost). */
typedef struct {
    char head[32]; /* "ns\0name\0…" cut to 32 bytes, zero-padded: most comparisons end here,
                      in the array itself, not in objects scattered over the heap */
    const char *ns, *name;
    json_t *obj;
    entry_t *e;
} litem_t;

static int
keycmp (const void *a, const void *b)
{
    const litem_t *x = a, *y = b;
    int r = memcmp (x->head, y->head, sizeof x->head); /* the same order as (ns, name): \0 sorts first */
    if (r)
        return r;
    r = strcmp (x->ns, y->ns);
    return r ? r : strcmp (x->name, y->name); /* "" for a stored object without a name (fuzz_cache) */
}

static void
litem_set (litem_t *it, const char *ns, const char *name, json_t *obj, entry_t *e)
{
    it->e = e;
    memset (it->head, 0, sizeof it->head);
    size_t a = strlen (ns), b = strlen (name);
    memcpy (it->head, ns, a < sizeof it->head ? a : sizeof it->head);
    if (a + 1 < sizeof it->head)
        memcpy (it->head + a + 1, name, b < sizeof it->head - a - 1 ? b : sizeof it->head - a - 1);
    it->ns = ns;
    it->name = name;
    it->obj = obj;
}

static void
lsess_free (bcache_t *c, size_t i)
{
    lsess_t *ls = &c->lists[i];
    for (size_t k = 0; k < ls->n; k++)
        blob_unref (&ls->items[k]);
    free (ls->items);
    free (ls->scope);
    memset (ls, 0, sizeof *ls);
}

static void
lsess_expire (bcache_t *c)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < BCACHE_LIST_SESSIONS; i++)
        if (c->lists[i].id && c->lists[i].expires < now)
            lsess_free (c, i);
}

/* The matching objects of plural in ns, sorted; *n of them. NULL (err set) for a bad selector. */
static litem_t *
collect (bcache_t *c, const char *plural, const char *ns, const char *label_selector, const char *field_selector,
         size_t *n, char *err, size_t errlen)
{
    selector_t *ls = selector_parse (label_selector, err, errlen);
    if (!ls)
        return NULL;
    fsel_t *fs = fsel_parse (field_selector, err, errlen);
    if (!fs) {
        selector_destroy (&ls);
        return NULL;
    }
    zhashx_t *m = zhashx_lookup (c->kinds, plural);
    size_t cap = m ? zhashx_size (m) : 0;
    litem_t *arr = calloc (cap ? cap : 1, sizeof *arr);
    *n = 0;
    for (entry_t *e = m ? zhashx_first (m) : NULL; e; e = zhashx_next (m))
        if (ns_of_matches (e->obj, ns) && selector_matches (ls, tv_get (e->obj, "metadata.labels")) &&
            fsel_matches (fs, e->obj)) {
            const char *ons = tv_str (e->obj, "metadata.namespace"), *name = tv_str (e->obj, "metadata.name");
            litem_set (&arr[(*n)++], ons ? ons : "", name ? name : "", e->obj, e);
        }
    qsort (arr, *n, sizeof *arr, keycmp);
    selector_destroy (&ls);
    fsel_destroy (&fs);
    return arr;
}

int
bcache_list (bcache_t *c, const char *plural, const char *ns, const char *label_selector, const char *field_selector,
             json_t **items, uint64_t *rev, char *err, size_t errlen)
{
    size_t n;
    litem_t *arr = collect (c, plural, ns, label_selector, field_selector, &n, err, errlen);
    if (!arr)
        return -1;
    *items = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append (*items, arr[i].obj);
    free (arr);
    *rev = c->rev;
    return 0;
}

/* How many of the n blobs from b a page of at most limit objects takes (0: all): a paged list also
 * stops before BCACHE_PAGE_BYTES of objects, so that a page fits a message (at least one object;
 * the api-server too may return fewer than limit). */
static size_t
page_len (blob_t **b, size_t n, long limit)
{
    if (limit <= 0)
        return n;
    size_t k = 0, bytes = 0;
    while (k < n && k < (size_t) limit && (k == 0 || bytes + b[k]->len <= BCACHE_PAGE_BYTES))
        bytes += b[k++]->len;
    return k;
}

/* items as a msgpack array of the blobs' bytes */
static void
pack_blobs (msgpack_sbuffer *out, blob_t **b, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        msgpack_sbuffer_write (out, b[i]->data, b[i]->len);
}

static char *
list_scope (const char *ns, const char *label_selector, const char *field_selector)
{
    char *s = NULL;
    if (asprintf (&s, "%s\037%s\037%s", ns ? ns : "", label_selector ? label_selector : "",
                  field_selector ? field_selector : "") < 0)
        s = NULL;
    return s;
}

int
bcache_list_page (bcache_t *c, const char *plural, const char *ns, const char *label_selector,
                  const char *field_selector, long limit, const char *cont, msgpack_sbuffer *items, uint64_t *rev,
                  bcache_page_t *pg, char *err, size_t errlen)
{
    memset (pg, 0, sizeof *pg);
    lsess_expire (c);
    char *scope = list_scope (ns, label_selector, field_selector);
    if (cont && *cont) {
        unsigned long long id, off;
        char tail;
        lsess_t *ls = NULL;
        if (sscanf (cont, "%llx.%llx%c", &id, &off, &tail) != 2) {
            snprintf (err, errlen, "continue: invalid continue token \"%.40s\"", cont);
            free (scope);
            return TR_BAD_REQUEST;
        }
        size_t i = 0;
        for (; i < BCACHE_LIST_SESSIONS; i++)
            if (c->lists[i].id == id) {
                ls = &c->lists[i];
                break;
            }
        if (!ls) {
            snprintf (err, errlen,
                      "The provided continue parameter is too old to display a consistent list result. You can start "
                      "a new list without the continue parameter.");
            free (scope);
            return TR_EXPIRED;
        }
        if (strcmp (ls->plural, plural) || off > ls->n || !scope || !ls->scope || strcmp (scope, ls->scope)) {
            snprintf (err, errlen,
                      "continue: the token is for another list (%s, with another namespace or selectors): a continue "
                      "repeats the first page's request", ls->plural);
            free (scope);
            return TR_BAD_REQUEST;
        }
        free (scope);
        size_t end = off + page_len (ls->items + off, ls->n - off, limit);
        pack_blobs (items, ls->items + off, end - off);
        pg->count = end - off;
        *rev = ls->rev;
        if (end < ls->n) {
            snprintf (pg->next, sizeof pg->next, "%llx.%zx", id, end);
            pg->remaining = ls->n - end;
            ls->expires = zclock_mono () + BCACHE_LIST_TTL_MS;
        } else
            lsess_free (c, i);
        return 0;
    }
    size_t n;
    litem_t *arr = collect (c, plural, ns, label_selector, field_selector, &n, err, errlen);
    if (!arr) {
        free (scope);
        return TR_BAD_REQUEST;
    }
    blob_t **blobs = malloc ((n ? n : 1) * sizeof *blobs);
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        if ((blobs[nb] = entry_blob (arr[i].e)))
            nb++;
    free (arr);
    size_t first = page_len (blobs, nb, limit);
    pack_blobs (items, blobs, first);
    pg->count = first;
    *rev = c->rev;
    if (first < nb) {
        /* the rest waits in a session (the oldest one gives way when all are taken) */
        size_t slot = 0;
        for (size_t i = 0; i < BCACHE_LIST_SESSIONS; i++) {
            if (!c->lists[i].id) {
                slot = i;
                break;
            }
            if (c->lists[i].expires < c->lists[slot].expires)
                slot = i;
        }
        if (c->lists[slot].id)
            lsess_free (c, slot);
        lsess_t *ls = &c->lists[slot];
        ls->id = ++c->list_seq;
        ls->rev = c->rev;
        snprintf (ls->plural, sizeof ls->plural, "%s", plural);
        ls->n = nb;
        ls->items = blobs; /* the session keeps the references */
        ls->scope = scope;
        ls->expires = zclock_mono () + BCACHE_LIST_TTL_MS;
        snprintf (pg->next, sizeof pg->next, "%llx.%zx", (unsigned long long) ls->id, first);
        pg->remaining = nb - first;
        return 0;
    }
    for (size_t i = 0; i < nb; i++)
        blob_unref (&blobs[i]);
    free (blobs);
    free (scope);
    return 0;
}

/* ---- watchers ------------------------------------------------------------------------------- */

static uint64_t
ring_first_rev (bcache_t *c)
{
    return c->len ? c->ring[c->start].rev : c->rev + 1;
}

const char *
bcache_event_encoding (bcache_t *c, uint64_t rev, const json_t *like, size_t *len)
{
    uint64_t first = ring_first_rev (c);
    if (!c->len || rev < first || rev > c->rev)
        return NULL;
    event_t *ev = &c->ring[(c->start + (rev - first)) % c->cap];
    if (ev->rev != rev || !ev->obj || ev->type == EV_DELETED)
        return NULL;
    static const char *const same[] = {"kind", "metadata.name", "metadata.namespace"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        const char *a = tv_str (ev->obj, same[i]), *b = tv_str (like, same[i]);
        if (!a != !b || (a && strcmp (a, b)))
            return NULL;
    }
    if (!ev->enc && tv_encode (ev->obj, &ev->enc, &ev->enc_len))
        ev->enc = NULL;
    *len = ev->enc_len;
    return ev->enc;
}

/* A watcher's key in c->byid: its client's identity in hex and the watch id. */
static char *
watcher_key (zframe_t *rid, uint64_t id)
{
    const byte *d = zframe_data (rid);
    size_t n = zframe_size (rid);
    char *k = malloc (2 * n + 24), *o = k;
    for (size_t i = 0; i < n; i++, o += 2)
        sprintf (o, "%02x", d[i]);
    sprintf (o, "/%llu", (unsigned long long) id);
    return k;
}

static watcher_t *
find_watcher (bcache_t *c, zframe_t *rid, uint64_t id)
{
    char *k = watcher_key (rid, id);
    watcher_t *w = zhashx_lookup (c->byid, k);
    free (k);
    return w;
}

int
bcache_watch (bcache_t *c, zsock_t *sock, zframe_t *rid, uint64_t id, const char *plural, const char *ns,
              const char *label_selector, const char *field_selector, uint64_t from_rv, long credit, char *err,
              size_t errlen)
{
    uint64_t next = from_rv ? from_rv + 1 : c->rev + 1;
    watcher_t *same = find_watcher (c, rid, id);
    if (same && !same->dead && !same->expire) {
        /* credits and cancels name a watch by its client and id: two live ones would be one */
        snprintf (err, errlen, "watch id %llu is already a live watch of this client: cancel it or use another id",
                  (unsigned long long) id);
        return TR_BAD_REQUEST;
    }
    if (next < ring_first_rev (c) && next <= c->rev) {
        snprintf (err, errlen, "too old resource version: %llu (oldest retained %llu)", (unsigned long long) from_rv,
                  (unsigned long long) ring_first_rev (c));
        return TR_EXPIRED;
    }
    watcher_t *w = calloc (1, sizeof *w);
    w->lsel = selector_parse (label_selector, err, errlen);
    w->fsel = w->lsel ? fsel_parse (field_selector, err, errlen) : NULL;
    if (!w->fsel) {
        selector_destroy (&w->lsel);
        free (w);
        return TR_BAD_REQUEST;
    }
    w->sock = sock;
    w->rid = zframe_dup (rid);
    w->id = id;
    snprintf (w->plural, sizeof w->plural, "%s", plural);
    snprintf (w->ns, sizeof w->ns, "%s", ns ? ns : "");
    w->next_rev = next;
    w->next_seq = c->seq + 1;
    w->credit = credit > 0 && credit < BCACHE_MAX_CREDIT ? credit : BCACHE_MAX_CREDIT;
    w->batch = 1;
    w->every = !w->ns[0] && selector_is_empty (w->lsel) && !w->fsel->n;
    w->h_all = zlistx_add_end (c->watchers, w);
    w->wkey = watcher_key (rid, id);
    w->klast = kind_last (c, w->plural);
    zhashx_update (c->byid, w->wkey, w); /* an id reused after its watch ended: this one now */
    const char *node = !c->no_index && !strcmp (plural, "pods") ? fsel_node (w->fsel) : NULL;
    if (node) {
        w->ikey = strdup (node);
        w->ikh = node_hash (node);
        zlistx_t *l = zhashx_lookup (c->idx, node);
        if (!l) {
            l = zlistx_new ();
            zhashx_insert (c->idx, node, l);
        }
        w->h_idx = zlistx_add_end (l, w);
        mark_dirty (c, w); /* its first pump reads what it asked for since from_rv */
    } else
        w->h_plain = zlistx_add_end (c->plain, w);
    return 0;
}

static int send_expired (bcache_t *c, watcher_t *w);


void
bcache_unwatch (bcache_t *c, zframe_t *rid, uint64_t id)
{
    watcher_t *w = find_watcher (c, rid, id);
    if (w) {
        w->dead = 1;
        mark_dirty (c, w);
    }
}

void
bcache_watch_batch (bcache_t *c, zframe_t *rid, uint64_t id, long n)
{
    watcher_t *w = find_watcher (c, rid, id);
    if (w)
        w->batch = n < 1 ? 1 : n > BCACHE_MAX_BATCH ? BCACHE_MAX_BATCH : (int) n;
}

void
bcache_credit (bcache_t *c, zframe_t *rid, uint64_t id, long credit)
{
    watcher_t *w = find_watcher (c, rid, id);
    if (w && credit > 0) /* compared before adding: a client's huge grant must not overflow */
        w->credit = credit < BCACHE_MAX_CREDIT - w->credit ? w->credit + credit : BCACHE_MAX_CREDIT;
    if (w)
        mark_dirty (c, w); /* cheap: a clean one finds nothing to send */
}

size_t
bcache_unwatch_client (bcache_t *c, zsock_t *sock, zframe_t *rid, const char *why)
{
    size_t n = 0;
    for (watcher_t *w = zlistx_first (c->watchers); w; w = zlistx_next (c->watchers))
        if (!w->dead && w->sock == sock && zframe_eq (w->rid, rid)) {
            if (!w->expire)
                w->expire = strdup (why);
            /* one try now, then it is forgotten: the client is silent (gone, or stopped — a ping
             * from it later is answered watchesCut) */
            send_expired (c, w);
            w->dead = 1;
            mark_dirty (c, w);
            n++;
        }
    return n;
}

/* One event for w as an envelope, encoded into *buf; obj's encoding is made once in *enc (an
 * event's or a renewal's) and reused for every watcher that gets it. 0, or -1. */
static int
event_encode (watcher_t *w, const char *type, uint64_t rev, json_t *obj, char **enc, size_t *enc_len, const char *msg,
              char **buf, size_t *len)
{
    tr_env_t e;
    tr_env_init (&e);
    e.id = w->id;
    e.verb = TR_VERB_EVENT;
    e.rv = rev;
    e.opts = json_pack ("{s:s}", "type", type);
    e.msg = (char *) msg;
    if (obj && enc && !*enc && tv_encode (obj, enc, enc_len))
        *enc = NULL;
    int rc;
    if (obj && enc && *enc)
        rc = tr_env_encode_with (&e, *enc, *enc_len, buf, len);
    else {
        e.body = obj;
        rc = tr_env_encode (&e, buf, len);
    }
    json_decref (e.opts);
    return rc ? -1 : 0;
}

/* A watcher's events waiting to go as one message (its `batch`). */
typedef struct {
    int n;
    char *buf[BCACHE_MAX_BATCH];
    size_t len[BCACHE_MAX_BATCH];
} wbatch_t;

static void
wbatch_clear (wbatch_t *b)
{
    for (int i = 0; i < b->n; i++)
        free (b->buf[i]);
    b->n = 0;
}

/* Sends b's events to w as one message without blocking, and empties b: 0 sent (or nothing to
 * send), 1 the client's pipe is full (none sent: try again later), -1 the client is gone. */
static int
wbatch_send (watcher_t *w, wbatch_t *b)
{
    if (!b->n)
        return 0;
    int rc = tr_conn_send_frames_nb (w->sock, w->rid, b->buf, b->len, b->n);
    int full = rc && errno == EAGAIN;
    wbatch_clear (b);
    return rc ? (full ? 1 : -1) : 0;
}

/* Sends one event without blocking: as wbatch_send. */
static int
send_event (watcher_t *w, const char *type, uint64_t rev, json_t *obj, char **enc, size_t *enc_len, const char *msg)
{
    wbatch_t b = {.n = 0};
    if (event_encode (w, type, rev, obj, enc, enc_len, msg, &b.buf[0], &b.len[0]))
        return -1;
    b.n = 1;
    return wbatch_send (w, &b);
}

/* Sends the EXPIRED a watcher is owed; it is dead once sent (or its client gone). 0 when it
 * could not be sent yet (pipe full). */
static int
send_expired (bcache_t *c, watcher_t *w)
{
    if (send_event (w, "EXPIRED", c->rev, NULL, NULL, NULL, w->expire) == 1)
        return 0;
    w->dead = 1;
    return 1;
}

static int
w_matches (watcher_t *w, const json_t *obj)
{
    if (w->every)
        return obj != NULL;
    return obj && ns_of_matches (obj, w->ns) && selector_matches (w->lsel, tv_get (obj, "metadata.labels")) &&
           fsel_matches (w->fsel, obj);
}

static void
pump_one (bcache_t *c, watcher_t *w)
{
    if (*w->klast < w->next_rev && w->next_rev <= c->rev)
        w->next_rev = c->rev + 1; /* no event of its kind since its position: none to read, none lost */
    uint64_t first = ring_first_rev (c);
    if (!w->expire && w->next_rev < first && w->next_rev <= c->rev) {
        char why[200];
        snprintf (why, sizeof why,
                  "watch cut: too slow: the next event it needs (revision %llu) has left the broker's window of the "
                  "last %zu events; resume from the last revision seen or relist",
                  (unsigned long long) w->next_rev, c->cap);
        w->expire = strdup (why);
        TR_INFO ("broker", "watcher too slow: cut id=%llu kind=%s next_rev=%llu oldest=%llu",
                 (unsigned long long) w->id, w->plural, (unsigned long long) w->next_rev, (unsigned long long) first);
    }
    if (w->expire) {
        if (!send_expired (c, w))
            c->paused++;
        return;
    }
    /* The events it is owed, up to its credit, go in messages of up to w->batch: the cursor at
     * (rev, credit) runs ahead of the watcher's position, which moves only once a message is taken
     * (a full pipe leaves it where it was, as for a single event). */
    wbatch_t b = {.n = 0};
    uint64_t rev = w->next_rev;
    long credit = w->credit;
    for (;;) {
        if (b.n && (b.n == w->batch || !credit || rev > c->rev)) {
            int rc = wbatch_send (w, &b);
            if (rc == 1) {
                c->paused++;
                return; /* its pipe is full: it keeps its position, as without credit */
            }
            if (rc < 0) {
                w->dead = 1; /* the client is gone (ROUTER_MANDATORY) */
                return;
            }
            w->next_rev = rev;
            w->credit = credit;
        }
        if (!credit || rev > c->rev)
            break;
        event_t *ev = &c->ring[(c->start + (rev - first)) % c->cap];
        if (strcmp (ev->plural, w->plural)) {
            if (!b.n)
                w->next_rev = rev + 1;
            rev++;
            continue;
        }
        /* a watcher pinned to a node: an event neither of whose objects is on that node is
         * none of its business (what w_matches would find, without its lookups). The pump reads
         * every event after its position, most of them other nodes' pods. */
        if (w->ikey && ev->nh != w->ikh && ev->oh != w->ikh) {
            if (!b.n)
                w->next_rev = rev + 1;
            rev++;
            continue;
        }
        const char *type = NULL;
        int now = w_matches (w, ev->obj);
        if (ev->type == EV_ADDED)
            type = now ? "ADDED" : NULL;
        else if (ev->type == EV_DELETED)
            type = now ? "DELETED" : NULL;
        else {
            int before = w_matches (w, ev->old);
            type = before && now ? "MODIFIED" : now ? "ADDED" : before ? "DELETED" : NULL;
        }
        if (!type) {
            if (!b.n)
                w->next_rev = rev + 1;
            rev++;
            continue;
        }
        if (event_encode (w, type, ev->rev, ev->obj, &ev->enc, &ev->enc_len, NULL, &b.buf[b.n], &b.len[b.n])) {
            wbatch_clear (&b);
            w->dead = 1; /* cannot happen with a tree the cache holds; never a hole in its events */
            return;
        }
        b.n++;
        rev++;
        credit--;
    }
    if (w->next_rev <= c->rev)
        return;
    /* Caught up with the committed events: the renewals since. Each is MODIFIED with the object's
     * unchanged resourceVersion; the event's revision is the last one this watcher has seen, so
     * a client resuming from it misses nothing committed. A watcher that fell more than
     * RENEW_RING renewals behind skips the oldest: each is superseded by the next (10 s later),
     * and the cache (lists, gets) always holds the latest. */
    if (c->seq >= c->rcap && w->next_seq <= c->seq - c->rcap)
        w->next_seq = c->seq - c->rcap + 1;
    while (w->credit > 0 && w->next_seq <= c->seq) {
        renewal_t *r = &c->renewals[w->next_seq % c->rcap];
        if (strcmp (r->plural, w->plural) || !w_matches (w, r->obj)) {
            w->next_seq++;
            continue;
        }
        zhashx_t *m = zhashx_lookup (c->kinds, r->plural);
        entry_t *cur = m ? zhashx_lookup (m, r->key) : NULL;
        if (!cur || cur->obj != r->obj) {
            w->next_seq++;
            continue; /* a later renewal or a committed change of that object follows */
        }
        int rc = send_event (w, "MODIFIED", w->next_rev - 1, r->obj, &r->enc, &r->enc_len, NULL);
        if (rc == 1) {
            c->paused++;
            return;
        }
        if (rc < 0) {
            w->dead = 1;
            return;
        }
        w->next_seq++;
        w->credit--;
    }
}

void
bcache_reset (bcache_t *c)
{
    /* every watcher is owed an EXPIRED: sent now, or by the pumps that follow once its pipe has
     * room (such a watcher is sent nothing else) */
    for (watcher_t *w = zlistx_first (c->watchers); w; w = zlistx_next (c->watchers)) {
        if (!w->dead && !w->expire)
            w->expire = strdup ("watch cut: the store was restored from a snapshot; relist");
        mark_dirty (c, w);
    }
    bcache_pump (c); /* sends them, drops the dead watchers */
    for (size_t i = 0; i < c->len; i++) {
        event_t *e = &c->ring[(c->start + i) % c->cap];
        json_decref (e->obj);
        json_decref (e->old);
        free (e->enc);
    }
    c->start = c->len = 0;
    for (uint64_t *v = zhashx_first (c->klast); v; v = zhashx_next (c->klast))
        *v = 0;
    for (size_t i = 0; i < c->rcap; i++) {
        json_decref (c->renewals[i].obj);
        free (c->renewals[i].enc);
        free (c->renewals[i].key);
        c->renewals[i].enc = NULL;
        c->renewals[i].key = NULL;
        c->renewals[i].obj = NULL;
        c->renewals[i].plural[0] = 0;
    }
    zhashx_purge (c->kinds);
    zhashx_purge (c->own); /* writes in flight then decode their commits, if any */
    for (size_t i = 0; i < BCACHE_LIST_SESSIONS; i++)
        lsess_free (c, i); /* their continue tokens now get Expired */
    c->count = 0;
    c->rev = 0;
}

/* Drops a dead watcher from every list it is in. */
static void
watcher_remove (bcache_t *c, watcher_t *w)
{
    if (w->h_idx) {
        zlistx_t *l = zhashx_lookup (c->idx, w->ikey);
        zlistx_delete (l, w->h_idx);
        if (!zlistx_size (l))
            zhashx_delete (c->idx, w->ikey);
    }
    if (w->h_plain)
        zlistx_delete (c->plain, w->h_plain);
    if (w->h_dirty)
        zlistx_delete (c->dirty, w->h_dirty);
    if (zhashx_lookup (c->byid, w->wkey) == w)
        zhashx_delete (c->byid, w->wkey);
    zlistx_delete (c->watchers, w->h_all);
    watcher_free (&w);
}

size_t
bcache_pump (bcache_t *c)
{
    c->paused = 0;
    zlistx_t *lists[2] = {c->plain, c->dirty};
    for (int k = 0; k < 2; k++) {
        watcher_t *w = zlistx_first (lists[k]);
        while (w) {
            size_t paused = c->paused;
            if (!w->dead)
                pump_one (c, w);
            watcher_t *next = zlistx_next (lists[k]); /* deleting w below leaves the cursor on next */
            if (w->dead)
                watcher_remove (c, w);
            else if (k == 1 && !w->expire && c->paused == paused && w->next_rev > c->rev) {
                zlistx_delete (c->dirty, w->h_dirty); /* caught up: clean until an event touches it */
                w->h_dirty = NULL;
            }
            w = next;
        }
    }
    return c->paused;
}

void
bcache_foreach_in_namespace (bcache_t *c, const char *ns,
                             void (*fn) (void *arg, const char *key, const json_t *obj, uint64_t mod_rev), void *arg)
{
    for (zhashx_t *m = zhashx_first (c->kinds); m; m = zhashx_next (c->kinds)) {
        zlistx_t *keys = zhashx_keys (m);
        for (const char *k = zlistx_first (keys); k; k = zlistx_next (keys)) {
            entry_t *e = zhashx_lookup (m, k);
            const char *ons = tv_str (e->obj, "metadata.namespace");
            if (ons && !strcmp (ons, ns))
                fn (arg, k, e->obj, e->mod_rev);
        }
        zlistx_destroy (&keys);
    }
}

size_t
bcache_count (bcache_t *c)
{
    return c->count;
}

uint64_t
bcache_revision (bcache_t *c)
{
    return c->rev;
}

size_t
bcache_watchers (bcache_t *c)
{
    return zlistx_size (c->watchers);
}
