/* cluster_pki — one set of keys for every server of a replicated cluster (see cluster_pki.h). */
#include "cli/cluster_pki.h"
#include "actors/store/store.h"
#include "broker/encryption.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "/troupe/pki/"
#define PKI_CHUNK 512 /* files per proposal: a Raft entry stays under ~250 KiB */

static void
box_key (zcert_t *cluster, unsigned char key[crypto_secretbox_KEYBYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, crypto_secretbox_KEYBYTES);
    crypto_generichash_update (&st, zcert_secret_key (cluster), 32);
    crypto_generichash_update (&st, (const unsigned char *) "troupe-pki", 10);
    crypto_generichash_final (&st, key, crypto_secretbox_KEYBYTES);
}

/* the files that make a cluster's identity: relative paths under DATA/pki, in *names (malloc'd,
 * NAME_LEN each); how many, -1 out of memory. No limit: 5,000 joined nodes are 5,000 files (a
 * cap of 4,096 left the certificates past it unpublished, unknown to the other servers). */
#define NAME_LEN 128
typedef char pki_name_t[NAME_LEN];

/* A file being written (install's FILE.tmp, renamed over FILE when whole), or left by a crash
 * between the two: never published, never installed. Published, a copy read half-written (key
 * material, sealed but not whole) went into the store for good (created only if absent, never
 * deleted with its node) and onto every other server's disk. */
static int
is_tmp (const char *name)
{
    size_t len = strlen (name);
    return len >= 4 && !strcmp (name + len - 4, ".tmp");
}

static int
list_files (const char *pki, pki_name_t **names)
{
    int n = 0, cap = 64;
    pki_name_t *v = malloc ((size_t) cap * sizeof *v);
    if (!v)
        return -1;
    const char *top[] = {"server.cert", "server.cert_secret", "admin.cert_secret", ENC_CONFIG_FILE};
    for (size_t i = 0; i < 4; i++) {
        char p[1300];
        snprintf (p, sizeof p, "%s/%s", pki, top[i]);
        if (access (p, R_OK) == 0)
            snprintf (v[n++], NAME_LEN, "%s", top[i]);
    }
    char dir[1300];
    snprintf (dir, sizeof dir, "%s/clients", pki);
    DIR *d = opendir (dir);
    for (struct dirent *e; d && (e = readdir (d));) {
        size_t len = strlen (e->d_name);
        if (e->d_name[0] == '.' || len >= 100 || !strcmp (e->d_name, "cluster-peer.cert") || is_tmp (e->d_name))
            continue;
        if (n == cap) {
            pki_name_t *g = realloc (v, (size_t) (cap *= 2) * sizeof *v);
            if (!g) {
                free (v);
                closedir (d);
                return -1;
            }
            v = g;
        }
        snprintf (v[n++], NAME_LEN, "clients/%.100s", e->d_name);
    }
    if (d)
        closedir (d);
    *names = v;
    return n;
}

/* ---- what this process last published and installed -----------------------------------------
 * A refresh every 5 s on every server read every file, proposed them all (created only if absent:
 * a no-op for each one already there) and opened every sealed copy in the store to compare it with
 * the file: with 5,000 joined nodes, a Raft entry of 2 MiB from each server every 5 s and 10,000
 * file reads. Now a file is read and proposed again only when its signature (file_sig) changed
 * since it was published, and a store entry opened only when its mod_rev or the local file
 * changed since it was installed. */
static struct {
    char pki[1100];
    zhashx_t *pub;  /* relative name → file signature when published */
    zhashx_t *inst; /* store key → "mod_rev/file signature" once installed or found the same */
    size_t proposed, opened; /* files proposed and entries opened, for tests (cluster_pki_counts) */
} memo;

static void
memo_for (const char *pki)
{
    if (memo.pub && !strcmp (memo.pki, pki))
        return;
    zhashx_destroy (&memo.pub);
    zhashx_destroy (&memo.inst);
    snprintf (memo.pki, sizeof memo.pki, "%s", pki);
    memo.pub = zhashx_new ();
    memo.inst = zhashx_new ();
    zhashx_set_destructor (memo.pub, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator (memo.pub, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor (memo.inst, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator (memo.inst, (zhashx_duplicator_fn *) strdup);
}

/* A file's signature "size:mtime:ctime:dev:inode" into sig, or "" when it is missing. ctime is
 * in it because an edit can put mtime back (cp -p, touch -r) but never ctime. */
static void
file_sig (const char *path, char sig[120])
{
    struct stat st;
    if (stat (path, &st))
        sig[0] = 0;
    else
        snprintf (sig, 120, "%lld:%lld.%09ld:%lld.%09ld:%llu:%llu", (long long) st.st_size, (long long) st.st_mtim.tv_sec,
                  st.st_mtim.tv_nsec, (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec, (unsigned long long) st.st_dev,
                  (unsigned long long) st.st_ino);
}

void
cluster_pki_counts (size_t *proposed, size_t *opened)
{
    *proposed = memo.proposed;
    *opened = memo.opened;
}

static int
read_all (const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc (cap);
    size_t r;
    while ((r = fread (b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            b = realloc (b, cap *= 2);
    }
    fclose (f);
    *buf = b;
    *len = n;
    return 0;
}

/* The answer to request `id`, skipping late answers to earlier requests that timed out (the
 * socket's receive timeout) — a store busy catching up answers late, and such an answer must not
 * be taken for the next one. NULL on timeout. */
static zmsg_t *
recv_answer (zsock_t *store, uint64_t id)
{
    for (;;) {
        zmsg_t *m = zmsg_recv (store);
        if (!m)
            return NULL;
        zframe_t *f = zmsg_first (m);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        int mine = f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) ==
                            MSGPACK_UNPACK_SUCCESS &&
                   sp_u64 (sp_field (&up.data, "id"), 0) == id;
        msgpack_unpacked_destroy (&up);
        if (mine)
            return m;
        zmsg_destroy (&m);
    }
}

static uint64_t next_id = 1; /* request ids: a late answer to an earlier one is never taken */

/* Proposes files[0..k) (their contents in plains) under PREFIX in one batch, sealed with key:
 * created only if absent, or whatever the store holds with replace. 0 when each came back created
 * or already there, -1 otherwise (no leader yet: the next round retries). */
static int
propose_sealed (zsock_t *store, const unsigned char *key, pki_name_t *files, unsigned char **plains, size_t *lens,
                int k, int replace)
{
    uint64_t id = next_id++;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sp_pack_cstr (&pk, "t");
    sp_pack_cstr (&pk, "p");
    sp_pack_cstr (&pk, "id");
    msgpack_pack_uint64 (&pk, id);
    sp_pack_cstr (&pk, "ops");
    msgpack_pack_array (&pk, (size_t) k);
    for (int i = 0; i < k; i++) {
        char name[300];
        snprintf (name, sizeof name, PREFIX "%.127s", files[i]);
        size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + lens[i];
        unsigned char *box = malloc (blen);
        if (!box) {
            msgpack_sbuffer_destroy (&sb);
            return -1;
        }
        randombytes_buf (box, crypto_secretbox_NONCEBYTES);
        crypto_secretbox_easy (box + crypto_secretbox_NONCEBYTES, plains[i], lens[i], box, key);
        msgpack_pack_array (&pk, 5);
        msgpack_pack_int (&pk, 1);
        msgpack_pack_int (&pk, replace ? 0 : 1); /* only if absent, unless replacing */
        msgpack_pack_uint64 (&pk, 0);
        sp_pack_cstr (&pk, name);
        msgpack_pack_bin (&pk, blen);
        msgpack_pack_bin_body (&pk, box, blen);
        free (box);
    }
    zsock_send (store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    /* each file is its own op: 0 created, 1 already there; anything else (no leader yet): retry */
    zmsg_t *m = recv_answer (store, id);
    int ok = m != NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    zframe_t *f = m ? zmsg_first (m) : NULL;
    const msgpack_object *res = NULL;
    if (f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
        res = sp_field (&up.data, "res");
    if (!res || res->type != MSGPACK_OBJECT_ARRAY || res->via.array.size != (uint32_t) k)
        ok = 0;
    for (uint32_t i = 0; ok && i < res->via.array.size; i++) {
        const msgpack_object *r = &res->via.array.ptr[i];
        uint64_t code = r->type == MSGPACK_OBJECT_ARRAY && r->via.array.size ? r->via.array.ptr[0].via.u64 : 99;
        ok = code == 0 || code == 1;
    }
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&m);
    return ok ? 0 : -1;
}

/* Proposes the local files under PREFIX that are new or changed since this process published
 * them, created only if absent (the first writer wins); or, with only, that one file whatever the
 * store holds (a newer generation of the Secrets encryption configuration, edited here). Returns
 * how many files are published (now or before), or -1 when a proposal failed. */
static int
publish (zsock_t *store, const char *pki, zcert_t *cluster, const char *only)
{
    memo_for (pki);
    pki_name_t *names = NULL;
    int n;
    if (only) {
        names = malloc (sizeof *names);
        if (!names)
            return -1;
        snprintf (names[0], NAME_LEN, "%s", only);
        n = 1;
    } else if ((n = list_files (pki, &names)) < 0)
        return -1;
    pki_name_t *batch = malloc (PKI_CHUNK * sizeof *batch);
    char (*sigs)[120] = malloc (PKI_CHUNK * sizeof *sigs);
    unsigned char *plains[PKI_CHUNK];
    size_t lens[PKI_CHUNK];
    if (!batch || !sigs) {
        free (batch);
        free (sigs);
        free (names);
        return -1;
    }
    unsigned char key[crypto_secretbox_KEYBYTES];
    box_key (cluster, key);
    int done = 0, failed = 0, k = 0;
    for (int i = 0; i <= n && !failed; i++) {
        if (i < n) {
            char path[1300], sig[120];
            snprintf (path, sizeof path, "%.1100s/%.127s", pki, names[i]);
            file_sig (path, sig);
            const char *was = zhashx_lookup (memo.pub, names[i]);
            if (!only && sig[0] && was && !strcmp (was, sig)) {
                done++; /* published as it is */
                continue;
            }
            /* a file that cannot be read or is empty (being written by something that does not
             * write whole files) is left for the next round, never published empty */
            unsigned char *plain = NULL;
            size_t len = 0;
            if (!sig[0] || read_all (path, &plain, &len) || !len) {
                free (plain);
                continue;
            }
            memcpy (batch[k], names[i], sizeof batch[k]);
            memcpy (sigs[k], sig, sizeof sigs[k]);
            plains[k] = plain;
            lens[k++] = len;
        }
        if (k && (k == PKI_CHUNK || i == n)) {
            if (propose_sealed (store, key, batch, plains, lens, k, only != NULL) == 0) {
                for (int j = 0; j < k; j++)
                    zhashx_update (memo.pub, batch[j], sigs[j]);
                done += k;
                memo.proposed += (size_t) k;
            } else
                failed = 1;
            for (int j = 0; j < k; j++) {
                sodium_memzero (plains[j], lens[j]);
                free (plains[j]);
            }
            k = 0;
        }
    }
    sodium_memzero (key, sizeof key);
    free (batch);
    free (sigs);
    free (names);
    return failed ? -1 : done;
}

/* The store's entry key (kv) and the file at path hold the same: remembered, so that the next
 * round opens the entry again only if one of them changed, and never publishes the file back. */
static void
installed (const char *key, const char *rel, const msgpack_object *kv, const char *path)
{
    char sig[120], seen[160];
    file_sig (path, sig);
    if (!sig[0])
        return;
    snprintf (seen, sizeof seen, "%llu/%s", (unsigned long long) sp_u64 (&kv->via.array.ptr[2], 0), sig);
    zhashx_update (memo.inst, key, seen);
    zhashx_update (memo.pub, rel, sig);
}

/* Reads PREFIX from the local store and writes the files; returns how many, -1 on error. The
 * Secrets encryption configuration is versioned (its generation): a local one newer than the
 * store's is kept, and *newer set so that the caller publishes it. */
static int
install (zsock_t *store, const char *pki, zcert_t *cluster, int *newer)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    memo_for (pki);
    uint64_t id = next_id++;
    sp_pack_request (&sb, "g", id, PREFIX);
    zsock_send (store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    zmsg_t *m = recv_answer (store, id);
    if (!m)
        return -1;
    unsigned char key[crypto_secretbox_KEYBYTES];
    box_key (cluster, key);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    int n = 0;
    zframe_t *f = zmsg_first (m);
    const msgpack_object *kvs = NULL;
    if (msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
        kvs = sp_field (&up.data, "kvs");
    for (uint32_t i = 0; kvs && kvs->type == MSGPACK_OBJECT_ARRAY && i < kvs->via.array.size && n >= 0; i++) {
        const msgpack_object *kv = &kvs->via.array.ptr[i];
        char k[300];
        if (kv->type != MSGPACK_OBJECT_ARRAY || kv->via.array.size != 4 || sp_str (&kv->via.array.ptr[0], k, sizeof k) ||
            kv->via.array.ptr[1].type != MSGPACK_OBJECT_BIN)
            continue;
        const char *rel = k + strlen (PREFIX);
        if (strstr (rel, "..") || (strncmp (rel, "clients/", 8) && strchr (rel, '/')) || is_tmp (rel))
            continue; /* only the layout we write */
        const unsigned char *box = (const unsigned char *) kv->via.array.ptr[1].via.bin.ptr;
        size_t blen = kv->via.array.ptr[1].via.bin.size;
        if (blen <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
            continue; /* empty (published half-written before publish checked): the local file stays */
        char path[1300], tmp[1400], sig[120], seen[160];
        snprintf (path, sizeof path, "%.1000s/%.280s", pki, rel);
        snprintf (tmp, sizeof tmp, "%s.tmp", path);
        file_sig (path, sig);
        snprintf (seen, sizeof seen, "%llu/%s", (unsigned long long) sp_u64 (&kv->via.array.ptr[2], 0), sig);
        const char *was = zhashx_lookup (memo.inst, k);
        if (sig[0] && was && !strcmp (was, seen)) {
            n++; /* neither the store's copy nor the file changed since they were the same */
            continue;
        }
        memo.opened++;
        size_t len = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
        unsigned char *plain = malloc (len + 1);
        if (crypto_secretbox_open_easy (plain, box + crypto_secretbox_NONCEBYTES, blen - crypto_secretbox_NONCEBYTES,
                                        box, key)) {
            TR_WARN ("troupe", "cluster key material %s does not decrypt with this cluster's key: skipped", k);
            sodium_memzero (plain, len);
            free (plain);
            continue;
        }
        unsigned char *have = NULL;
        size_t hlen = 0;
        int same = read_all (path, &have, &hlen) == 0 && hlen == len && !memcmp (have, plain, len);
        if (!same && have && !strcmp (rel, ENC_CONFIG_FILE) &&
            encryption_text_generation ((const char *) have, hlen) > encryption_text_generation ((const char *) plain, len)) {
            if (newer)
                *newer = 1;
            same = 2; /* ours is newer: kept, and published by the caller (looked at again next time) */
        }
        if (have)
            sodium_memzero (have, hlen);
        free (have);
        if (same) { /* unchanged: leave the file (and the certificate stores watching it) alone */
            if (same == 1)
                installed (k, rel, kv, path);
            sodium_memzero (plain, len);
            free (plain);
            n++;
            continue;
        }
        FILE *out = fopen (tmp, "wb");
        if (!out || fchmod (fileno (out), strstr (rel, "secret") ? 0600 : 0644) || fwrite (plain, 1, len, out) != len ||
            fclose (out) || rename (tmp, path)) {
            TR_ERROR ("troupe", "cannot write %s: %s", path, strerror (errno));
            n = -1;
        } else {
            installed (k, rel, kv, path);
            n++;
        }
        sodium_memzero (plain, len);
        free (plain);
    }
    sodium_memzero (key, sizeof key);
    msgpack_unpacked_destroy (&up);
    zmsg_destroy (&m);
    return n;
}

int
cluster_pki_sync (const char *data, const char *store_endpoint, zcert_t *cluster, int joining, int timeout_ms)
{
    char pki[1100];
    snprintf (pki, sizeof pki, "%s/pki", data);
    zsock_t *store = zsock_new_dealer (store_endpoint);
    zsock_set_rcvtimeo (store, 3000);
    int64_t end = zclock_mono () + timeout_ms;
    int rc = -1, published = 0;
    while (zclock_mono () < end) {
        /* a server joining takes the cluster's keys first, so its own fresh ones never win */
        int newer = 0;
        int n = install (store, pki, cluster, &newer);
        if (n < 0 || (joining && n == 0)) {
            zclock_sleep (300); /* not caught up yet */
            continue;
        }
        /* then adds what only it has (a node's certificate made here with `troupe init node`):
         * created only if absent, forwarded to the leader by a follower */
        if (!published && publish (store, pki, cluster, NULL) >= 0 &&
            (!newer || publish (store, pki, cluster, ENC_CONFIG_FILE) >= 0))
            published = 1;
        if (published) {
            n = install (store, pki, cluster, NULL);
            TR_INFO ("troupe", "cluster keys in sync with the store files=%d", n);
            rc = n > 0 ? 0 : -1;
            break;
        }
        zclock_sleep (300);
    }
    zsock_destroy (&store);
    return rc;
}

void
cluster_pki_refresh (const char *data, const char *store_endpoint, zcert_t *cluster)
{
    char pki[1100];
    snprintf (pki, sizeof pki, "%s/pki", data);
    zsock_t *store = zsock_new_dealer (store_endpoint);
    zsock_set_rcvtimeo (store, 3000);
    publish (store, pki, cluster, NULL);
    int newer = 0;
    install (store, pki, cluster, &newer);
    if (newer && publish (store, pki, cluster, ENC_CONFIG_FILE) >= 0)
        TR_INFO ("troupe", "published a newer Secrets encryption configuration to the other servers");
    zsock_destroy (&store);
}

/* One request/answer on the store protocol; the answer to request id (or NULL). */
static zmsg_t *
store_ask (zsock_t *store, msgpack_sbuffer *sb, uint64_t id)
{
    zsock_send (store, "b", sb->data, sb->size);
    return recv_answer (store, id);
}

int
cluster_register_member (const char *store_endpoint, const char *name, int timeout_ms)
{
    zsock_t *store = zsock_new_dealer (store_endpoint);
    zsock_set_rcvtimeo (store, 3000);
    int64_t end = zclock_mono () + timeout_ms;
    int rc = -1;
    while (rc && zclock_mono () < end) {
        /* our own id, from the store's status */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        sp_pack_request (&sb, "q", 3, NULL);
        zmsg_t *m = store_ask (store, &sb, 3);
        msgpack_sbuffer_destroy (&sb);
        uint64_t id = 0;
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        zframe_t *f = m ? zmsg_first (m) : NULL;
        if (f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS)
            id = sp_u64 (sp_field (sp_field (&up.data, "status"), "id"), 0);
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&m);
        if (!id) {
            zclock_sleep (300);
            continue;
        }
        char key[64];
        snprintf (key, sizeof key, "/troupe/members/%llu", (unsigned long long) id);
        msgpack_sbuffer_init (&sb);
        sp_op_t op = {.op = 1, .cond = 0, .key = key, .val = name, .len = strlen (name)};
        sp_pack_propose (&sb, 4, &op, 1);
        m = store_ask (store, &sb, 4);
        msgpack_sbuffer_destroy (&sb);
        msgpack_unpacked_init (&up);
        f = m ? zmsg_first (m) : NULL;
        if (f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *res = sp_field (&up.data, "res");
            if (res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1 &&
                res->via.array.ptr[0].type == MSGPACK_OBJECT_ARRAY && res->via.array.ptr[0].via.array.size &&
                res->via.array.ptr[0].via.array.ptr[0].via.u64 == 0)
                rc = 0;
        }
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&m);
        if (rc)
            zclock_sleep (300);
    }
    zsock_destroy (&store);
    return rc;
}

/* ---- restore ---------------------------------------------------------------------------- */

typedef struct {
    char keys[256][300];
    size_t n;
} keylist_t;

static int
collect_key (void *arg, const char *key, const void *val, size_t len, uint64_t mod_rev, uint64_t create_rev)
{
    (void) val;
    (void) len;
    (void) mod_rev;
    (void) create_rev;
    keylist_t *k = arg;
    if (k->n < 256)
        snprintf (k->keys[k->n++], sizeof k->keys[0], "%s", key);
    return 0;
}

int
cluster_pki_drop (store_t *st)
{
    keylist_t *k = calloc (1, sizeof *k);
    if (!k)
        return -1;
    store_op_t ops[256];
    store_op_result_t res[256];
    int rc = 0;
    /* 256 at a time, until none is left: a cluster of 5,000 nodes holds 5,000 certificates (one
     * pass of 256 once left the rest, which the new cluster cannot open and whose names its
     * created-if-absent publishes could then never take) */
    for (int round = 0; !rc && round < 100000; round++) {
        uint64_t rev;
        k->n = 0;
        store_range (st, PREFIX, &rev, collect_key, k);
        if (!k->n)
            break;
        for (size_t i = 0; i < k->n; i++)
            ops[i] = (store_op_t) {.kind = STORE_DELETE, .cond = STORE_IF_ANY, .key = k->keys[i]};
        rc = store_apply (st, ops, k->n, res, NULL, NULL);
    }
    free (k);
    return rc;
}
