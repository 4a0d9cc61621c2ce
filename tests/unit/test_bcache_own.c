/* The watch cache takes the broker's own writes at their commit (bcache_expect): the event's
 * object is the tree the broker proposed (no decode of the store's copy) and its encoding is the
 * proposed bytes with the resourceVersion appended (no encode). Both must be exactly what a
 * decode and an encode would have given; anything else — another writer's value, a delete, a
 * newer proposal of the key — decodes as before, and nothing is held once its answer came. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker_cache.h"
#include "core/schema.h"
#include "core/value.h"
#include "tests/unit/schema_fixture.h"

static json_t *
pod (const char *name, const char *node)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind", "Pod",
                      "metadata", "name", name, "namespace", "default", "uid", "u-1", "labels", "app", "web", "spec",
                      "nodeName", node, "containers", "name", "c", "image", "busybox");
}

/* One committed event [rev, kind (1 put, 2 delete), key, val, create_rev, created] applied (the
 * ring holds one event per revision: a test applies them without gaps). */
static void
apply (bcache_t *c, uint64_t rev, int kind, const char *key, const char *val, size_t len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 6);
    msgpack_pack_uint64 (&pk, rev);
    msgpack_pack_int (&pk, kind);
    msgpack_pack_str (&pk, strlen (key));
    msgpack_pack_str_body (&pk, key, strlen (key));
    msgpack_pack_bin (&pk, len);
    msgpack_pack_bin_body (&pk, val, len);
    msgpack_pack_uint64 (&pk, rev);
    msgpack_pack_true (&pk);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    assert_int_equal (msgpack_unpack_next (&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    bcache_apply_events (c, &up.data);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&sb);
}

/* obj proposed for key: its encoding as bk_propose makes it, handed to the cache (obj: a new
 * reference taken). Returns a copy of the bytes (the store's value). */
static char *
propose (bcache_t *c, const char *key, json_t *obj, size_t *len)
{
    char *val;
    size_t at, end;
    assert_int_equal (tv_encode_mark (obj, json_object_get (obj, "metadata"), &val, len, &at, &end), 0);
    char *copy = malloc (*len);
    memcpy (copy, val, *len);
    bcache_expect (c, key, json_incref (obj), val, *len, at, end);
    return copy;
}

/* What a decode and an encode of the committed value give: the cached object equals the value
 * with its resourceVersion, and the event's encoding is that object's. */
static void
check_event (bcache_t *c, const char *key, uint64_t rev, const char *val, size_t len)
{
    char err[256], rvs[24];
    json_t *want = tv_decode (val, len, err, sizeof err);
    assert_non_null (want);
    snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) rev);
    tv_set_str (want, "metadata.resourceVersion", rvs);
    uint64_t mod = 0;
    const json_t *got = bcache_get (c, key, &mod);
    assert_int_equal (mod, rev);
    assert_true (json_equal (got, want));
    char *enc;
    size_t elen, glen = 0;
    assert_int_equal (tv_encode (want, &enc, &elen), 0);
    const char *genc = bcache_event_encoding (c, rev, want, &glen);
    assert_non_null (genc);
    assert_int_equal (glen, elen);
    assert_memory_equal (genc, enc, elen);
    /* what a GET answers: the same encoding, kept for the next read until the object changes */
    size_t olen = 0;
    uint64_t omod = 0;
    const char *oenc = bcache_get_encoded (c, key, &olen, &omod);
    assert_non_null (oenc);
    assert_int_equal (omod, rev);
    assert_int_equal (olen, elen);
    assert_memory_equal (oenc, enc, elen);
    assert_ptr_equal (bcache_get_encoded (c, key, &olen, NULL), oenc);
    free (enc);
    json_decref (want);
}

static void
commit_takes_the_proposed_tree (void **state)
{
    (void) state;
    bcache_t *c = bcache_new (schemas, 64);
    const char *key = "/registry/pods/default/p1";
    json_t *p = pod ("p1", "n1");
    size_t len;
    char *val = propose (c, key, p, &len);
    assert_int_equal (bcache_expected (c), 1);
    apply (c, 5, 1, key, val, len);
    assert_int_equal (bcache_expected (c), 0);
    assert_ptr_equal (bcache_get (c, key, NULL), p); /* the tree itself: no decode */
    assert_string_equal (tv_str (p, "metadata.resourceVersion"), "5");
    check_event (c, key, 5, val, len);
    free (val);
    bcache_expect_done (c, key, p); /* its answer: nothing left to forget */
    assert_int_equal (bcache_expected (c), 0);

    /* an update of it: again the proposed tree, resourceVersion appended to its own metadata */
    json_t *q = json_deep_copy (p);
    tv_del (q, "metadata.resourceVersion");
    tv_set_str (q, "spec.nodeName", "n2");
    val = propose (c, key, q, &len);
    apply (c, 6, 1, key, val, len);
    assert_ptr_equal (bcache_get (c, key, NULL), q);
    check_event (c, key, 6, val, len);
    free (val);
    json_decref (q);
    json_decref (p);
    bcache_destroy (&c);
}

static void
other_values_decode (void **state)
{
    (void) state;
    bcache_t *c = bcache_new (schemas, 64);
    const char *key = "/registry/pods/default/p1";
    json_t *mine = pod ("p1", "n1"), *theirs = pod ("p1", "n9");
    size_t len, tlen;
    char *val = propose (c, key, mine, &len), *tval;
    assert_int_equal (tv_encode (theirs, &tval, &tlen), 0);
    /* another writer's value commits first: decoded; ours is still expected */
    apply (c, 3, 1, key, tval, tlen);
    const json_t *got = bcache_get (c, key, NULL);
    assert_ptr_not_equal (got, mine);
    assert_string_equal (tv_str (got, "spec.nodeName"), "n9");
    assert_int_equal (bcache_expected (c), 1);
    check_event (c, key, 3, tval, tlen);
    /* ours failed (its answer came without a commit): forgotten */
    bcache_expect_done (c, key, mine);
    assert_int_equal (bcache_expected (c), 0);
    /* the same bytes committed later (by anyone) now decode: nothing expected */
    apply (c, 4, 1, key, val, len);
    assert_ptr_not_equal (bcache_get (c, key, NULL), mine);
    check_event (c, key, 4, val, len);

    /* a newer proposal of the key replaces the older: the older's answer does not forget it */
    json_t *a = pod ("p1", "na"), *b = pod ("p1", "nb");
    size_t al, bl;
    char *av = propose (c, key, a, &al), *bv = propose (c, key, b, &bl);
    assert_int_equal (bcache_expected (c), 1);
    bcache_expect_done (c, key, a);
    assert_int_equal (bcache_expected (c), 1);
    apply (c, 5, 1, key, bv, bl);
    assert_ptr_equal (bcache_get (c, key, NULL), b);
    check_event (c, key, 5, bv, bl);

    /* a delete carrying the proposed bytes as its last value is not taken */
    json_t *d = pod ("p1", "nd");
    size_t dl;
    char *dv = propose (c, key, d, &dl);
    apply (c, 6, 2, key, dv, dl);
    assert_null (bcache_get (c, key, NULL));
    assert_int_equal (bcache_expected (c), 1);
    bcache_expect_done (c, key, d);
    assert_int_equal (bcache_expected (c), 0);

    /* held ones are freed with the cache (ASan: no leak) */
    json_t *e = pod ("p2", "ne");
    size_t el;
    char *ev = propose (c, "/registry/pods/default/p2", e, &el);
    free (ev);
    free (av);
    free (bv);
    free (dv);
    free (val);
    free (tval);
    json_decref (mine);
    json_decref (theirs);
    json_decref (a);
    json_decref (b);
    json_decref (d);
    json_decref (e);
    bcache_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (commit_takes_the_proposed_tree),
        cmocka_unit_test (other_values_decode),
    };
    return cmocka_run_group_tests (tests, schema_fixture_setup, schema_fixture_teardown);
}
