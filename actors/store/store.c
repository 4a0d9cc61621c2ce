/* store — LMDB keyspace with revisions and a change log. See store.h. */
#include "actors/store/store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define DEFAULT_MAP_SIZE (1ull << 30)
#define KEY_MAX 511

struct store {
    MDB_env *env;
    MDB_dbi keys, log, meta;
    uint64_t rev;       /* cached: only the writer changes it */
    uint64_t compacted; /* revisions < compacted+1 are gone from the log */
    uint64_t index;     /* last Raft entry applied (0 when not replicated) */
    /* read transactions open on any thread (a snapshot's copy runs on another): LMDB resizes its
     * map only when none is (grow_map) */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int readers;
};

/* One more reader (rd_end: one less). */
static void
rd_enter (store_t *s)
{
    pthread_mutex_lock (&s->mu);
    s->readers++;
    pthread_mutex_unlock (&s->mu);
}

static void rd_end (store_t *s, MDB_txn *txn);

/* A read transaction, counted (rd_end ends it). */
static int
rd_begin (store_t *s, MDB_txn **txn)
{
    rd_enter (s);
    int rc = mdb_txn_begin (s->env, NULL, MDB_RDONLY, txn);
    if (rc)
        rd_end (s, NULL);
    return rc;
}

/* Ends txn (when not NULL) and its count. */
static void
rd_end (store_t *s, MDB_txn *txn)
{
    if (txn)
        mdb_txn_abort (txn);
    pthread_mutex_lock (&s->mu);
    if (--s->readers == 0)
        pthread_cond_broadcast (&s->idle);
    pthread_mutex_unlock (&s->mu);
}

/* LMDB's map has a fixed size, and a write that finds it full fails with MDB_MAP_FULL: under Raft
 * the store then stopped, and replaying the same entry at the next start failed again, for good.
 * The map is doubled when a write finds it half full (store_apply_at, grow_early: only if no read
 * transaction is open then, never waiting), and when one finds it full (waiting for the readers:
 * LMDB resizes only with no transaction active in the process, and a snapshot's copy on another
 * thread may take seconds, during which the Raft loop waits: hence the early growth, so that
 * this is the exception). The file grows only as pages are written. 0, or -1 when it cannot grow
 * (or, with wait 0, readers are open). */
static int
grow_map (store_t *s, int wait)
{
    MDB_envinfo info;
    if (mdb_env_info (s->env, &info))
        return -1;
    size_t next = info.me_mapsize * 2;
    if (next <= info.me_mapsize)
        return -1;
    /* LMDB unmaps the old map before it maps the new one, and a failed mmap leaves the
     * environment without a map (every later transaction would read unmapped memory): the
     * address space is tried first, and the map left as it is when there is none */
    void *probe = mmap (NULL, next, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe == MAP_FAILED)
        return -1;
    munmap (probe, next);
    pthread_mutex_lock (&s->mu);
    while (wait && s->readers)
        pthread_cond_wait (&s->idle, &s->mu);
    int rc = s->readers ? -1 : mdb_env_set_mapsize (s->env, next);
    pthread_mutex_unlock (&s->mu);
    return rc ? -1 : 0;
}

/* After a commit: half full (the file's pages against the map), the map grows now if nothing
 * reads, rather than by waiting when it is full. */
static void
grow_early (store_t *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info (s->env, &info) || mdb_env_stat (s->env, &st))
        return;
    if ((info.me_last_pgno + 1) * (size_t) st.ms_psize > info.me_mapsize / 2)
        grow_map (s, 0);
}

/* keys DB value: header then the value bytes */
typedef struct {
    uint64_t create_rev;
    uint64_t mod_rev;
    uint64_t version;
} khdr_t;

/* log DB value: header, key (klen bytes), value */
typedef struct {
    uint32_t kind;
    uint32_t created;
    uint64_t create_rev;
    uint32_t klen;
    uint32_t pad;
} lhdr_t;

static void
be64 (uint64_t v, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char) (v & 0xff);
}

static uint64_t
from_be64 (const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int
meta_get (MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *out)
{
    MDB_val k = {strlen (name), (void *) name}, v;
    int rc = mdb_get (txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc || v.mv_size != 8)
        return -1;
    memcpy (out, v.mv_data, 8);
    return 0;
}

static int
meta_put (MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t val)
{
    MDB_val k = {strlen (name), (void *) name}, v = {8, &val};
    return mdb_put (txn, dbi, &k, &v, 0);
}

store_t *
store_open (const char *dir, size_t map_size, char *err, size_t errlen)
{
    store_t *s = calloc (1, sizeof *s);
    pthread_mutex_init (&s->mu, NULL);
    pthread_cond_init (&s->idle, NULL);
    int rc = mdb_env_create (&s->env);
    if (!rc)
        rc = mdb_env_set_maxdbs (s->env, 4);
    /* MDB_NOTLS: read transactions are not tied to threads (the store actor and tests share) */
    if (!rc)
        rc = mdb_env_open (s->env, dir, MDB_NOTLS, 0600);
    /* the map asked for, or the size it had grown to (LMDB keeps it in the file), the larger */
    MDB_envinfo info;
    size_t want = map_size ? map_size : DEFAULT_MAP_SIZE;
    if (!rc && !(rc = mdb_env_info (s->env, &info)) && info.me_mapsize < want)
        rc = mdb_env_set_mapsize (s->env, want);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin (s->env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open (txn, "keys", MDB_CREATE, &s->keys);
    if (!rc)
        rc = mdb_dbi_open (txn, "log", MDB_CREATE, &s->log);
    if (!rc)
        rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &s->meta);
    if (!rc && (meta_get (txn, s->meta, "revision", &s->rev) || meta_get (txn, s->meta, "compacted", &s->compacted) ||
                meta_get (txn, s->meta, "raft_index", &s->index)))
        rc = MDB_CORRUPTED;
    if (!rc)
        rc = mdb_txn_commit (txn);
    else if (txn)
        mdb_txn_abort (txn);
    if (rc) {
        snprintf (err, errlen, "store: cannot open %s: %s", dir, mdb_strerror (rc));
        if (s->env)
            mdb_env_close (s->env);
        pthread_mutex_destroy (&s->mu);
        pthread_cond_destroy (&s->idle);
        free (s);
        return NULL;
    }
    return s;
}

void
store_close (store_t **self_p)
{
    store_t *s = *self_p;
    if (!s)
        return;
    mdb_env_close (s->env);
    pthread_mutex_destroy (&s->mu);
    pthread_cond_destroy (&s->idle);
    free (s);
    *self_p = NULL;
}

uint64_t
store_revision (store_t *self)
{
    return self->rev;
}

uint64_t
store_oldest_rev (store_t *self)
{
    return self->compacted + 1;
}

static int
log_append (store_t *s, MDB_txn *txn, uint64_t rev, store_ev_kind_t kind, const char *key, const void *val,
            size_t len, uint64_t create_rev, int created)
{
    unsigned char kb[8];
    be64 (rev, kb);
    size_t klen = strlen (key);
    MDB_val k = {8, kb}, v = {sizeof (lhdr_t) + klen + len, NULL};
    int rc = mdb_put (txn, s->log, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (rc)
        return rc;
    lhdr_t h = {(uint32_t) kind, (uint32_t) created, create_rev, (uint32_t) klen, 0};
    memcpy (v.mv_data, &h, sizeof h);
    memcpy ((char *) v.mv_data + sizeof h, key, klen);
    if (len)
        memcpy ((char *) v.mv_data + sizeof h + klen, val, len);
    return 0;
}

static int
decode_log (const MDB_val *k, const MDB_val *v, store_event_t *ev, char *keybuf, size_t keylen)
{
    if (k->mv_size != 8 || v->mv_size < sizeof (lhdr_t))
        return -1;
    lhdr_t h;
    memcpy (&h, v->mv_data, sizeof h);
    if (sizeof h + h.klen > v->mv_size || h.klen >= keylen)
        return -1;
    memcpy (keybuf, (char *) v->mv_data + sizeof h, h.klen);
    keybuf[h.klen] = 0;
    ev->rev = from_be64 (k->mv_data);
    ev->kind = (store_ev_kind_t) h.kind;
    ev->key = keybuf;
    ev->val = (char *) v->mv_data + sizeof h + h.klen;
    ev->len = v->mv_size - sizeof h - h.klen;
    ev->create_rev = h.create_rev;
    ev->created = (int) h.created;
    return 0;
}

int
store_apply (store_t *self, const store_op_t *ops, size_t n, store_op_result_t *results,
             void (*on_event) (void *arg, const store_event_t *ev), void *arg)
{
    return store_apply_at (self, 0, ops, n, results, on_event, arg);
}

/* ops in one write transaction, committed: the LMDB code (0), the revision reached in *rev_out. */
static int
apply_txn (store_t *self, uint64_t index, const store_op_t *ops, size_t n, store_op_result_t *results,
           uint64_t *rev_out)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    uint64_t rev = self->rev;
    for (size_t i = 0; !rc && i < n; i++) {
        const store_op_t *op = &ops[i];
        store_op_result_t *r = &results[i];
        memset (r, 0, sizeof *r);
        size_t klen = op->key ? strlen (op->key) : 0;
        if (klen == 0 || klen > KEY_MAX) {
            r->result = STORE_ERR_NOT_FOUND; /* no such key can exist */
            continue;
        }
        MDB_val k = {klen, (void *) op->key}, cur;
        int g = mdb_get (txn, self->keys, &k, &cur);
        if (g && g != MDB_NOTFOUND) {
            rc = g;
            break;
        }
        khdr_t h = {0, 0, 0};
        int exists = g == 0 && cur.mv_size >= sizeof h;
        if (exists)
            memcpy (&h, cur.mv_data, sizeof h);
        r->prev_mod_rev = exists ? h.mod_rev : 0;
        if (op->cond == STORE_IF_ABSENT && exists) {
            r->result = STORE_ERR_EXISTS;
            continue;
        }
        if ((op->cond == STORE_IF_EXISTS || op->cond == STORE_IF_MOD_REV || op->kind == STORE_DELETE) && !exists) {
            r->result = STORE_ERR_NOT_FOUND;
            continue;
        }
        if (op->cond == STORE_IF_MOD_REV && h.mod_rev != op->expect_rev) {
            r->result = STORE_ERR_CONFLICT;
            continue;
        }
        rev++;
        if (op->kind == STORE_DELETE) {
            /* the log keeps the last value, so a watcher can tell what was deleted */
            rc = log_append (self, txn, rev, STORE_EV_DELETE, op->key, (char *) cur.mv_data + sizeof h,
                             cur.mv_size - sizeof h, h.create_rev, 0);
            if (!rc)
                rc = mdb_del (txn, self->keys, &k, NULL);
        } else {
            khdr_t nh = {exists ? h.create_rev : rev, rev, exists ? h.version + 1 : 1};
            MDB_val v = {sizeof nh + op->len, NULL};
            rc = mdb_put (txn, self->keys, &k, &v, MDB_RESERVE);
            if (!rc) {
                memcpy (v.mv_data, &nh, sizeof nh);
                if (op->len)
                    memcpy ((char *) v.mv_data + sizeof nh, op->val, op->len);
                rc = log_append (self, txn, rev, STORE_EV_PUT, op->key, op->val, op->len, nh.create_rev, !exists);
            }
        }
        r->result = STORE_OK;
        r->rev = rev;
    }
    if (!rc && rev != self->rev)
        rc = meta_put (txn, self->meta, "revision", rev);
    if (!rc && index)
        rc = meta_put (txn, self->meta, "raft_index", index);
    if (!rc)
        rc = mdb_txn_commit (txn); /* the fsync: durable from here */
    else
        mdb_txn_abort (txn);
    *rev_out = rev;
    return rc;
}

int
store_apply_at (store_t *self, uint64_t index, const store_op_t *ops, size_t n, store_op_result_t *results,
                void (*on_event) (void *arg, const store_event_t *ev), void *arg)
{
    uint64_t rev = self->rev;
    int rc;
    /* a full map is grown and the whole transaction made again (a few doublings at most) */
    for (int grown = 0; (rc = apply_txn (self, index, ops, n, results, &rev)) == MDB_MAP_FULL && grown < 16; grown++)
        if (grow_map (self, 1))
            break;
    if (!rc)
        grow_early (self);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            results[i].result = STORE_ERR_IO;
            results[i].rev = 0;
        }
        return -1;
    }
    uint64_t first = self->rev + 1;
    self->rev = rev;
    if (index)
        self->index = index;
    if (on_event && rev >= first) {
        /* hand out the events from the committed log, in revision order */
        MDB_txn *rtxn;
        if (rd_begin (self, &rtxn) == 0) {
            MDB_cursor *c;
            mdb_cursor_open (rtxn, self->log, &c);
            unsigned char kb[8];
            be64 (first, kb);
            MDB_val k = {8, kb}, v;
            char keybuf[KEY_MAX + 1];
            for (int r = mdb_cursor_get (c, &k, &v, MDB_SET_RANGE); !r; r = mdb_cursor_get (c, &k, &v, MDB_NEXT)) {
                store_event_t ev;
                if (decode_log (&k, &v, &ev, keybuf, sizeof keybuf) == 0 && ev.rev <= rev)
                    on_event (arg, &ev);
            }
            mdb_cursor_close (c);
            rd_end (self, rtxn);
        }
    }
    return 0;
}

int
store_get (store_t *self, const char *key, void **val, size_t *len, uint64_t *mod_rev, uint64_t *create_rev)
{
    size_t klen = strlen (key);
    if (!klen || klen > KEY_MAX)
        return STORE_ERR_NOT_FOUND;
    MDB_txn *txn;
    if (rd_begin (self, &txn))
        return STORE_ERR_IO;
    MDB_val k = {klen, (void *) key}, v;
    int rc = mdb_get (txn, self->keys, &k, &v);
    if (rc || v.mv_size < sizeof (khdr_t)) {
        rd_end (self, txn);
        return rc == MDB_NOTFOUND ? STORE_ERR_NOT_FOUND : STORE_ERR_IO;
    }
    khdr_t h;
    memcpy (&h, v.mv_data, sizeof h);
    *len = v.mv_size - sizeof h;
    *val = malloc (*len ? *len : 1);
    memcpy (*val, (char *) v.mv_data + sizeof h, *len);
    if (mod_rev)
        *mod_rev = h.mod_rev;
    if (create_rev)
        *create_rev = h.create_rev;
    rd_end (self, txn);
    return 0;
}

int
store_range (store_t *self, const char *prefix, uint64_t *at_rev,
             int (*cb) (void *arg, const char *key, const void *val, size_t len, uint64_t mod_rev,
                        uint64_t create_rev),
             void *arg)
{
    MDB_txn *txn;
    if (rd_begin (self, &txn))
        return -1;
    uint64_t rev = 0;
    meta_get (txn, self->meta, "revision", &rev);
    if (at_rev)
        *at_rev = rev;
    MDB_cursor *c;
    mdb_cursor_open (txn, self->keys, &c);
    size_t plen = strlen (prefix);
    MDB_val k = {plen, (void *) prefix}, v;
    char keybuf[KEY_MAX + 1];
    int r = plen ? mdb_cursor_get (c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get (c, &k, &v, MDB_FIRST);
    for (; !r; r = mdb_cursor_get (c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp (k.mv_data, prefix, plen))
            break;
        if (k.mv_size > KEY_MAX || v.mv_size < sizeof (khdr_t))
            continue;
        memcpy (keybuf, k.mv_data, k.mv_size);
        keybuf[k.mv_size] = 0;
        khdr_t h;
        memcpy (&h, v.mv_data, sizeof h);
        if (cb (arg, keybuf, (char *) v.mv_data + sizeof h, v.mv_size - sizeof h, h.mod_rev, h.create_rev))
            break;
    }
    mdb_cursor_close (c);
    rd_end (self, txn);
    return 0;
}

int
store_log_read (store_t *self, uint64_t from_rev, int (*cb) (void *arg, const store_event_t *ev), void *arg)
{
    MDB_txn *txn;
    if (rd_begin (self, &txn))
        return -1;
    uint64_t compacted = 0;
    meta_get (txn, self->meta, "compacted", &compacted);
    if (from_rev <= compacted) {
        rd_end (self, txn);
        return STORE_ERR_NOT_FOUND;
    }
    MDB_cursor *c;
    mdb_cursor_open (txn, self->log, &c);
    unsigned char kb[8];
    be64 (from_rev, kb);
    MDB_val k = {8, kb}, v;
    char keybuf[KEY_MAX + 1];
    for (int r = mdb_cursor_get (c, &k, &v, MDB_SET_RANGE); !r; r = mdb_cursor_get (c, &k, &v, MDB_NEXT)) {
        store_event_t ev;
        if (decode_log (&k, &v, &ev, keybuf, sizeof keybuf))
            continue;
        if (cb (arg, &ev))
            break;
    }
    mdb_cursor_close (c);
    rd_end (self, txn);
    return 0;
}

/* The log's revisions before keep_from dropped in one write transaction: the LMDB code (0), how
 * many in *n. */
static int
compact_txn (store_t *self, uint64_t keep_from, long *count)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    mdb_cursor_open (txn, self->log, &c);
    MDB_val k, v;
    long n = 0;
    for (int r = mdb_cursor_get (c, &k, &v, MDB_FIRST); !r; r = mdb_cursor_get (c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || from_be64 (k.mv_data) >= keep_from)
            break;
        if ((rc = mdb_cursor_del (c, 0)))
            break;
        n++;
    }
    mdb_cursor_close (c);
    if (!rc)
        rc = meta_put (txn, self->meta, "compacted", keep_from - 1);
    if (!rc)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    *count = n;
    return rc;
}

long
store_compact (store_t *self, uint64_t keep_from)
{
    if (keep_from > self->rev + 1)
        keep_from = self->rev + 1;
    if (keep_from <= self->compacted + 1)
        return 0;
    long n = 0;
    int rc;
    /* deleting writes pages too (copy on write): a full map is grown as for a write */
    for (int grown = 0; (rc = compact_txn (self, keep_from, &n)) == MDB_MAP_FULL && grown < 16; grown++)
        if (grow_map (self, 1))
            break;
    if (rc)
        return -1;
    self->compacted = keep_from - 1;
    return n;
}

size_t
store_count (store_t *self)
{
    MDB_txn *txn;
    MDB_stat st;
    if (rd_begin (self, &txn))
        return 0;
    int rc = mdb_stat (txn, self->keys, &st);
    rd_end (self, txn);
    return rc ? 0 : st.ms_entries;
}

uint64_t
store_applied_index (store_t *self)
{
    return self->index;
}

int
store_copy_fd (store_t *self, int fd)
{
    /* the copy's own read transaction is counted as one: grow_map waits for it */
    rd_enter (self);
    int rc = mdb_env_copyfd2 (self->env, fd, MDB_CP_COMPACT);
    rd_end (self, NULL);
    return rc ? -1 : 0;
}

size_t
store_map_size (store_t *self)
{
    MDB_envinfo info;
    return mdb_env_info (self->env, &info) ? 0 : info.me_mapsize;
}

int
store_set_sync (store_t *self, int on)
{
    return mdb_env_set_flags (self->env, MDB_NOSYNC, on ? 0 : 1) ? -1 : 0;
}

int
store_sync (store_t *self)
{
    return mdb_env_sync (self->env, 1) ? -1 : 0;
}

static int
set_index_txn (store_t *self, uint64_t index)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    if ((rc = meta_put (txn, self->meta, "raft_index", index))) {
        mdb_txn_abort (txn);
        return rc;
    }
    return mdb_txn_commit (txn); /* frees txn either way */
}

int
store_set_applied_index (store_t *self, uint64_t index)
{
    /* a restored compacted copy has no free page: its map may be exactly full */
    int rc;
    for (int grown = 0; (rc = set_index_txn (self, index)) == MDB_MAP_FULL && grown < 16; grown++)
        if (grow_map (self, 1))
            break;
    if (rc)
        return -1;
    self->index = index;
    return 0;
}
