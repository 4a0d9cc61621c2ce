/* test_cluster_pki — a replicated cluster's key files through the store (cli/cluster_pki.c),
 * against a real store actor: every file is published, more than 4,096 of them (a cap once left
 * the rest unknown to the other servers), a refresh with nothing changed proposes and opens
 * nothing, a new file is proposed once, a file edited here is put back as the cluster holds it, an
 * entry changed in the store is installed, a newer Secrets encryption configuration made here
 * replaces the store's, and another server installs them all; a leftover FILE.tmp goes nowhere,
 * and a refused proposal is made again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actors/store/store.h"
#include "actors/store/store_actor.h"
#include "broker/encryption.h"
#include "cli/cluster_pki.h"
#include "core/store_proto.h"
#include "tests/unit/dir_fixture.h"

#define NFILES 4200 /* past the old cap of 4,096 */

static void
put_file (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    assert_int_equal (fputs (text, f) >= 0, 1);
    assert_int_equal (fclose (f), 0);
}

static char *
get_file (const char *path)
{
    static char buf[4096];
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = 0;
    return buf;
}

static void
make_pki (const char *data)
{
    char p[512];
    assert_int_equal (mkdir (data, 0700), 0);
    snprintf (p, sizeof p, "%s/pki", data);
    assert_int_equal (mkdir (p, 0700), 0);
    snprintf (p, sizeof p, "%s/pki/clients", data);
    assert_int_equal (mkdir (p, 0700), 0);
}

static int
count_clients (const char *data)
{
    char p[512];
    snprintf (p, sizeof p, "%s/pki/clients", data);
    DIR *d = opendir (p);
    int n = 0;
    for (struct dirent *e; d && (e = readdir (d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir (d);
    return n;
}

/* As another server would: the store's entry for rel replaced by text, sealed with the cluster's
 * pki key (the derivation cluster_pki.c uses). */
static void
store_replace (const char *sep, zcert_t *cluster, const char *rel, const char *text)
{
    unsigned char key[crypto_secretbox_KEYBYTES];
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, sizeof key);
    crypto_generichash_update (&st, zcert_secret_key (cluster), 32);
    crypto_generichash_update (&st, (const unsigned char *) "troupe-pki", 10);
    crypto_generichash_final (&st, key, sizeof key);
    size_t len = strlen (text), blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *box = malloc (blen);
    randombytes_buf (box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy (box + crypto_secretbox_NONCEBYTES, (const unsigned char *) text, len, box, key);
    char k[300];
    snprintf (k, sizeof k, "/troupe/pki/%s", rel);
    sp_op_t op = {.op = 1, .cond = 0, .key = k, .val = box, .len = blen};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_propose (&sb, 99, &op, 1);
    zsock_t *s = zsock_new_dealer (sep);
    zsock_set_rcvtimeo (s, 5000);
    zsock_send (s, "b", sb.data, sb.size);
    zmsg_t *m = zmsg_recv (s);
    assert_non_null (m);
    zmsg_destroy (&m);
    zsock_destroy (&s);
    msgpack_sbuffer_destroy (&sb);
    free (box);
}

static void
incremental (void **state)
{
    (void) state;
    char store[128], a[128], b[128], sep[64], p[512];
    snprintf (store, sizeof store, "%s/store", fixture_dir);
    assert_int_equal (mkdir (store, 0700), 0);
    snprintf (sep, sizeof sep, "inproc://tcp-store-%d", getpid ());
    zactor_t *st = store_actor_new (store, sep);
    assert_non_null (st);
    zcert_t *cluster = zcert_new ();
    snprintf (a, sizeof a, "%s/a", fixture_dir);
    snprintf (b, sizeof b, "%s/b", fixture_dir);
    make_pki (a);
    make_pki (b);
    snprintf (p, sizeof p, "%s/pki/server.cert", a);
    put_file (p, "server\n");
    snprintf (p, sizeof p, "%s/pki/%s", a, ENC_CONFIG_FILE);
    put_file (p, "# troupe-generation: 1\nfirst\n");
    for (int i = 0; i < NFILES; i++) {
        char text[64];
        snprintf (p, sizeof p, "%s/pki/clients/node-%d.cert", a, i);
        snprintf (text, sizeof text, "node %d\n", i);
        put_file (p, text);
    }
    size_t prop0, open0, prop, open;
    cluster_pki_counts (&prop0, &open0);

    /* the first round publishes all (in proposals of a bounded size) and finds each the same */
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop, &open);
    assert_int_equal (prop - prop0, NFILES + 2);
    assert_int_equal (open - open0, NFILES + 2);

    /* nothing changed: nothing read, proposed nor opened */
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop0, &open0);
    assert_int_equal (prop0, prop);
    assert_int_equal (open0, open);

    /* a node joined here: its certificate alone goes */
    snprintf (p, sizeof p, "%s/pki/clients/node-new.cert", a);
    put_file (p, "new\n");
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop, &open);
    assert_int_equal (prop - prop0, 1);
    assert_int_equal (open - open0, 1);

    /* a file edited here: the store keeps the first copy (created only if absent), and the file
     * is put back as the cluster holds it */
    snprintf (p, sizeof p, "%s/pki/clients/node-7.cert", a);
    put_file (p, "tampered, and longer than before\n");
    cluster_pki_refresh (a, sep, cluster);
    assert_string_equal (get_file (p), "node 7\n");

    /* another server replaced an entry in the store: installed here, and only that one opened */
    cluster_pki_counts (&prop0, &open0);
    store_replace (sep, cluster, "clients/node-9.cert", "node 9, again\n");
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop, &open);
    snprintf (p, sizeof p, "%s/pki/clients/node-9.cert", a);
    assert_string_equal (get_file (p), "node 9, again\n");
    assert_int_equal (open - open0, 1);
    assert_int_equal (prop - prop0, 0);

    /* the Secrets encryption configuration edited here to a newer generation: kept, and replaces
     * the store's copy (not taken for an unchanged file the next time round) */
    snprintf (p, sizeof p, "%s/pki/%s", a, ENC_CONFIG_FILE);
    put_file (p, "# troupe-generation: 2\nsecond\n");
    cluster_pki_refresh (a, sep, cluster);
    assert_string_equal (get_file (p), "# troupe-generation: 2\nsecond\n");
    cluster_pki_counts (&prop0, &open0);
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop, &open);
    assert_int_equal (open - open0, 1); /* the store's new copy, once, found the same */
    assert_int_equal (prop - prop0, 0);
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop0, &open0);
    assert_int_equal (open0, open);

    /* another server installs every one of them, the last ones past 4,096 too */
    cluster_pki_refresh (b, sep, cluster);
    assert_int_equal (count_clients (b), NFILES + 1);
    snprintf (p, sizeof p, "%s/pki/clients/node-%d.cert", b, NFILES - 1);
    char want[64];
    snprintf (want, sizeof want, "node %d\n", NFILES - 1);
    assert_string_equal (get_file (p), want);
    snprintf (p, sizeof p, "%s/pki/server.cert", b);
    assert_string_equal (get_file (p), "server\n");
    snprintf (p, sizeof p, "%s/pki/%s", b, ENC_CONFIG_FILE);
    assert_string_equal (get_file (p), "# troupe-generation: 2\nsecond\n");

    zcert_destroy (&cluster);
    zactor_destroy (&st);
}

/* A store that refuses every proposal (as a follower without a leader answers) and holds nothing. */
static void
refusing_store (zsock_t *pipe, void *args)
{
    zsock_t *r = zsock_new_router ((const char *) args);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, r, NULL);
    while (zpoller_wait (poller, -1) == r) {
        zmsg_t *m = zmsg_recv (r);
        zframe_t *rid = zmsg_pop (m), *f = zmsg_first (m);
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        assert_int_equal (msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL),
                          MSGPACK_UNPACK_SUCCESS);
        char t[8] = "";
        sp_str (sp_field (&up.data, "t"), t, sizeof t);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 2);
        sp_pack_cstr (&pk, "id");
        msgpack_pack_uint64 (&pk, sp_u64 (sp_field (&up.data, "id"), 0));
        if (!strcmp (t, "p")) {
            const msgpack_object *ops = sp_field (&up.data, "ops");
            sp_pack_cstr (&pk, "res");
            msgpack_pack_array (&pk, ops->via.array.size);
            for (uint32_t i = 0; i < ops->via.array.size; i++) {
                msgpack_pack_array (&pk, 1);
                msgpack_pack_int (&pk, 99);
            }
        } else {
            sp_pack_cstr (&pk, "kvs");
            msgpack_pack_array (&pk, 0);
        }
        zsock_send (r, "fb", rid, sb.data, sb.size);
        msgpack_sbuffer_destroy (&sb);
        msgpack_unpacked_destroy (&up);
        zframe_destroy (&rid);
        zmsg_destroy (&m);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&r);
}

/* A leftover FILE.tmp (an install cut short) is neither published nor installed; a refused
 * proposal leaves the file unpublished in the memo, so the next round proposes it again. */
static void
tmp_and_refused (void **state)
{
    (void) state;
    char store[128], a[128], b[128], sep[64], fsep[64], p[512];
    snprintf (store, sizeof store, "%s/store", fixture_dir);
    assert_int_equal (mkdir (store, 0700), 0);
    snprintf (sep, sizeof sep, "inproc://tr-store-%d", getpid ());
    snprintf (fsep, sizeof fsep, "inproc://tr-refusing-%d", getpid ());
    zactor_t *st = store_actor_new (store, sep);
    assert_non_null (st);
    zactor_t *fake = zactor_new (refusing_store, fsep);
    zcert_t *cluster = zcert_new ();
    snprintf (a, sizeof a, "%s/a", fixture_dir);
    snprintf (b, sizeof b, "%s/b", fixture_dir);
    make_pki (a);
    make_pki (b);
    snprintf (p, sizeof p, "%s/pki/server.cert", a);
    put_file (p, "server\n");
    snprintf (p, sizeof p, "%s/pki/clients/node-1.cert", a);
    put_file (p, "node 1\n");
    snprintf (p, sizeof p, "%s/pki/clients/node-2.cert.tmp", a);
    put_file (p, "node 2, half");
    size_t prop0, open0, prop, open;
    cluster_pki_counts (&prop0, &open0);
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop, &open);
    assert_int_equal (prop - prop0, 2); /* server.cert, node-1.cert */

    /* refused: counted nowhere, and proposed again when a store takes it */
    snprintf (p, sizeof p, "%s/pki/clients/node-4.cert", a);
    put_file (p, "node 4\n");
    cluster_pki_counts (&prop0, &open0);
    cluster_pki_refresh (a, fsep, cluster);
    cluster_pki_counts (&prop, &open);
    assert_int_equal (prop, prop0);
    cluster_pki_refresh (a, sep, cluster);
    cluster_pki_counts (&prop, &open);
    assert_int_equal (prop - prop0, 1);
    /* a .tmp entry in the store (published by an older server) is not installed; the rest is
     * (the memo is one data directory's: b's last, as on another server) */
    store_replace (sep, cluster, "clients/node-3.cert.tmp", "node 3, half");
    cluster_pki_refresh (b, sep, cluster);
    assert_int_equal (count_clients (b), 2);
    snprintf (p, sizeof p, "%s/pki/clients/node-1.cert", b);
    assert_string_equal (get_file (p), "node 1\n");
    snprintf (p, sizeof p, "%s/pki/clients/node-4.cert", b);
    assert_string_equal (get_file (p), "node 4\n");

    zcert_destroy (&cluster);
    zactor_destroy (&fake);
    zactor_destroy (&st);
}

/* A restored snapshot loses every key of the old cluster's pki, however many (a single pass once
 * dropped 256), and nothing else. */
static void
drop_all (void **state)
{
    (void) state;
    char err[256], dir[128];
    snprintf (dir, sizeof dir, "%s/restore", fixture_dir);
    assert_int_equal (mkdir (dir, 0700), 0);
    store_t *st = store_open (dir, 0, err, sizeof err);
    assert_non_null (st);
    enum { N = 700 };
    static char keys[N + 1][80];
    store_op_t ops[N + 1];
    store_op_result_t res[N + 1];
    for (int i = 0; i < N; i++) {
        snprintf (keys[i], sizeof keys[i], "/troupe/pki/clients/node-%d.cert", i);
        ops[i] = (store_op_t) {.kind = STORE_PUT, .cond = STORE_IF_ANY, .key = keys[i], .val = "x", .len = 1};
    }
    snprintf (keys[N], sizeof keys[N], "/registry/configmaps/default/kept");
    ops[N] = (store_op_t) {.kind = STORE_PUT, .cond = STORE_IF_ANY, .key = keys[N], .val = "y", .len = 1};
    assert_int_equal (store_apply (st, ops, N + 1, res, NULL, NULL), 0);
    assert_int_equal (store_count (st), N + 1);
    assert_int_equal (cluster_pki_drop (st), 0);
    assert_int_equal (store_count (st), 1);
    void *v = NULL;
    size_t len;
    uint64_t mod;
    uint64_t created;
    assert_int_equal (store_get (st, keys[N], &v, &len, &mod, &created), 0);
    assert_non_null (v);
    free (v);
    store_close (&st);
}

int
main (void)
{
    setenv ("TROUPE_LOG", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (incremental, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (drop_all, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (tmp_and_refused, dir_fixture_setup, dir_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
