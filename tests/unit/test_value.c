/* value: msgpack round trips, decode errors, path helpers, merge patch, structural sharing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

#include <msgpack.h>

static void
round_trip (void **state)
{
    (void) state;
    json_t *v = json_loads ("{\"a\":1,\"b\":[true,false,null,-5,2.5,\"x\"],\"c\":{\"d\":\"\\u00e9\"},\"big\":9007199254740993}",
                            0, NULL);
    assert_non_null (v);
    char *buf;
    size_t len;
    assert_int_equal (tv_encode (v, &buf, &len), 0);
    char err[128];
    json_t *back = tv_decode (buf, len, err, sizeof err);
    assert_non_null (back);
    assert_true (json_equal (v, back));
    /* key order is kept: maps are ordered like the input */
    const char *k;
    json_t *x;
    const char *order[] = {"a", "b", "c", "big"};
    int i = 0;
    json_object_foreach (back, k, x) assert_string_equal (k, order[i++]);
    free (buf);
    json_decref (v);
    json_decref (back);
}

static void
decode_errors (void **state)
{
    (void) state;
    char err[128];
    /* truncated: a map announcing one pair, then nothing */
    assert_null (tv_decode ("\x81", 1, err, sizeof err));
    assert_non_null (strstr (err, "truncated"));
    /* trailing bytes */
    assert_null (tv_decode ("\xc0\xc0", 2, err, sizeof err));
    assert_non_null (strstr (err, "trailing"));
    /* non-string key */
    assert_null (tv_decode ("\x81\x01\x02", 3, err, sizeof err));
    assert_non_null (strstr (err, "key"));
    /* reserved byte 0xc1 is malformed */
    assert_null (tv_decode ("\xc1", 1, err, sizeof err));
    /* deep nesting is refused, not a crash */
    char deep[200];
    memset (deep, 0x91, sizeof deep - 1);
    deep[sizeof deep - 1] = (char) 0xc0;
    assert_null (tv_decode (deep, sizeof deep, err, sizeof err));
    /* an array claiming 2^32-1 elements in 5 bytes */
    assert_null (tv_decode ("\xdd\xff\xff\xff\xff", 5, err, sizeof err));
}

/* {"a": {"b": {KEY: 1}}}, KEY the kl bytes at k as a msgpack str (the integer 7 when k is NULL) */
static void
pack_nested_key (msgpack_sbuffer *sb, const char *k, size_t kl)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "a", 1);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "b", 1);
    msgpack_pack_map (&pk, 1);
    if (k)
        msgpack_pack_str_with_body (&pk, k, kl);
    else
        msgpack_pack_int (&pk, 7);
    msgpack_pack_int (&pk, 1);
}

/* {"a": {"b": {key: leaf}}} with a key of kl bytes (NUL bytes allowed) */
static json_t *
nested_key (const char *k, size_t kl, json_t *leaf)
{
    json_t *in = json_object (), *b = json_object (), *a = json_object ();
    json_object_setn_new_nocheck (in, k, kl, leaf);
    json_object_set_new (b, "b", in);
    json_object_set_new (a, "a", b);
    return a;
}

/* The map key rules (a string under 512 bytes without NUL) hold on every decode path: tv_decode,
 * tv_decode_like and tv_from_msgpack_keep, also where the previous version (and the keep) hold
 * the very same key, so that a path that skipped them would share prev instead of refusing. */
static void
map_keys (void **state)
{
    (void) state;
    char long_key[512];
    memset (long_key, 'k', sizeof long_key);
    const struct {
        const char *k; /* NULL: an integer key */
        size_t kl;
        const char *err; /* NULL: accepted */
    } rows[] = {
        {NULL, 0, "map key is not a string"},
        {long_key, 512, "map key too long or holding NUL"},
        {"x\0y", 3, "map key too long or holding NUL"},
        {long_key, 511, NULL},
        {"", 0, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        msgpack_sbuffer sb;
        pack_nested_key (&sb, rows[i].k, rows[i].kl);
        /* prev: the same value (an integer key as its decimal string); keep: that key kept */
        const char *jk = rows[i].k ? rows[i].k : "7";
        size_t jkl = rows[i].k ? rows[i].kl : 1;
        json_t *prev = nested_key (jk, jkl, json_integer (1)), *keep = nested_key (jk, jkl, json_true ());
        msgpack_zone z;
        msgpack_zone_init (&z, 2048);
        msgpack_object o;
        size_t off = 0;
        assert_int_equal (msgpack_unpack (sb.data, sb.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
        json_t *got[5];
        char err[5][128];
        got[0] = tv_decode (sb.data, sb.size, err[0], sizeof err[0]);
        got[1] = tv_decode_like (sb.data, sb.size, prev, err[1], sizeof err[1]);
        got[2] = tv_from_msgpack (&o, err[2], sizeof err[2]);
        got[3] = tv_from_msgpack_like (&o, prev, err[3], sizeof err[3]);
        got[4] = tv_from_msgpack_keep (&o, prev, keep, err[4], sizeof err[4]);
        for (int j = 0; j < 5; j++) {
            if (rows[i].err) {
                if (got[j])
                    fail_msg ("row %zu path %d: a bad key accepted", i, j);
                assert_string_equal (err[j], rows[i].err);
                continue;
            }
            assert_non_null (got[j]);
            assert_true (json_equal (got[j], prev));
            /* the paths with prev share its unchanged map below the fresh depth */
            if (j == 1 || j >= 3)
                assert_ptr_equal (tv_get (got[j], "a.b"), tv_get (prev, "a.b"));
            json_decref (got[j]);
        }
        msgpack_zone_destroy (&z);
        msgpack_sbuffer_destroy (&sb);
        json_decref (prev);
        json_decref (keep);
    }
}

static json_t *
like (const char *prev_json, const char *next_json, json_t **prev_out)
{
    json_t *prev = json_loads (prev_json, 0, NULL), *next = json_loads (next_json, 0, NULL);
    assert_non_null (prev);
    assert_non_null (next);
    char *buf, err[128];
    size_t len;
    assert_int_equal (tv_encode (next, &buf, &len), 0);
    json_t *got = tv_decode_like (buf, len, prev, err, sizeof err);
    assert_non_null (got);
    assert_true (json_equal (got, next)); /* the same value as tv_decode makes */
    free (buf);
    json_decref (next);
    *prev_out = prev;
    return got;
}

/* next's projection decoded from msgpack against prev (already projected) */
static json_t *
keep_decode (const char *next_json, const json_t *prev, const json_t *keep)
{
    json_t *next = json_loads (next_json, 0, NULL);
    assert_non_null (next);
    char *buf, err[128];
    size_t len;
    assert_int_equal (tv_encode (next, &buf, &len), 0);
    msgpack_zone z;
    msgpack_zone_init (&z, 2048);
    msgpack_object o;
    size_t off = 0;
    assert_int_equal (msgpack_unpack (buf, len, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    json_t *got = tv_from_msgpack_keep (&o, prev, keep, err, sizeof err);
    assert_non_null (got);
    /* the same value as the whole decode projected */
    json_t *want = tv_project (next, keep);
    if (!json_equal (got, want)) {
        char *a = json_dumps (got, JSON_SORT_KEYS), *b = json_dumps (want, JSON_SORT_KEYS);
        fail_msg ("projection %s, want %s", a, b);
    }
    json_decref (want);
    msgpack_zone_destroy (&z);
    free (buf);
    json_decref (next);
    return got;
}

/* An informer's projection (tv_keep_new, tv_from_msgpack_keep, tv_project): only the kept paths,
 * through arrays; shared with the previous version where the kept part did not change */
static void
projection (void **state)
{
    (void) state;
    const char *paths[] = {"metadata", "spec.nodeName", "spec.containers.ports", "status.phase", "spec.containers"};
    json_t *keep = tv_keep_new (paths, 4);
    char *k = json_dumps (keep, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal (k, "{\"metadata\":true,\"spec\":{\"containers\":{\"ports\":true},\"nodeName\":true},"
                            "\"status\":{\"phase\":true}}");
    free (k);
    /* a path over a narrower one keeps the whole; a narrower one after a whole one changes nothing */
    json_t *wide = tv_keep_new (paths, 5), *wide2 = tv_keep_new ((const char *[]) {"spec", "spec.nodeName"}, 2);
    assert_true (json_is_true (tv_get (wide, "spec.containers")));
    assert_true (json_is_true (json_object_get (wide2, "spec")));
    json_decref (wide);
    json_decref (wide2);

    const char *v1 = "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"nodeName\":\"\","
                     "\"containers\":[{\"name\":\"c\",\"image\":\"big\",\"ports\":[{\"containerPort\":80}]},"
                     "{\"name\":\"d\",\"image\":\"x\"}],\"volumes\":[{\"name\":\"v\"}]},"
                     "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\"}]}}";
    json_t *p1 = keep_decode (v1, NULL, keep);
    assert_null (tv_get (p1, "spec.volumes"));
    assert_null (tv_get (p1, "status.conditions"));
    assert_null (json_object_get (json_array_get (tv_get (p1, "spec.containers"), 0), "image"));
    assert_int_equal (json_array_size (tv_get (p1, "spec.containers")), 2);
    assert_int_equal (json_object_size (json_array_get (tv_get (p1, "spec.containers"), 1)), 0);
    /* a new version: bound, images and conditions changed (not kept): containers shared */
    const char *v2 = "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"nodeName\":\"n1\","
                     "\"containers\":[{\"name\":\"c\",\"image\":\"bigger\",\"ports\":[{\"containerPort\":80}]},"
                     "{\"name\":\"d\",\"image\":\"y\"}],\"volumes\":[]},"
                     "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"Ready\"}],\"podIP\":\"10.0.0.1\"}}";
    json_t *p2 = keep_decode (v2, p1, keep);
    assert_ptr_equal (tv_get (p2, "spec.containers"), tv_get (p1, "spec.containers"));
    assert_ptr_equal (tv_get (p2, "metadata.labels"), tv_get (p1, "metadata.labels"));
    assert_ptr_not_equal (tv_get (p2, "spec"), tv_get (p1, "spec")); /* depth 1: always new */
    assert_string_equal (tv_str (p2, "spec.nodeName"), "n1");
    /* a kept port changed: the containers are new */
    const char *v3 = "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"nodeName\":\"n1\","
                     "\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":81}]},{\"name\":\"d\"}]},"
                     "\"status\":{\"phase\":\"Running\"}}";
    json_t *p3 = keep_decode (v3, p2, keep);
    assert_ptr_not_equal (tv_get (p3, "spec.containers"), tv_get (p2, "spec.containers"));
    assert_int_equal (tv_int (json_array_get (json_object_get (json_array_get (tv_get (p3, "spec.containers"), 0), "ports"), 0),
                              "containerPort", 0),
                      81);
    /* a kept path that meets a scalar or an array of scalars keeps it whole */
    json_t *p4 = keep_decode ("{\"spec\":{\"containers\":\"odd\"},\"status\":[1,{\"phase\":\"x\",\"y\":2}]}", p3, keep);
    assert_string_equal (tv_str (p4, "spec.containers"), "odd");
    assert_int_equal (json_array_size (json_object_get (p4, "status")), 2);
    /* NULL keeps everything */
    json_t *all = keep_decode (v1, NULL, NULL);
    assert_non_null (tv_get (all, "spec.volumes"));
    json_decref (all);
    json_decref (p4);
    json_decref (p3);
    json_decref (p2);
    json_decref (p1);
    json_decref (keep);
}

/* tv_decode_like shares with the previous version what did not change, and nothing else */
static void
decode_like (void **state)
{
    (void) state;
    json_t *prev;
    json_t *got = like ("{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"},\"resourceVersion\":\"5\"},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}],\"nodeName\":\"n1\"},"
                        "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\"}]}}",
                        "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}],\"nodeName\":\"n2\"},"
                        "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"PodScheduled\"}],\"podIP\":\"10.0.0.1\"}}",
                        &prev);
    /* unchanged values below the second level are prev's own */
    assert_ptr_equal (tv_get (got, "metadata.labels"), tv_get (prev, "metadata.labels"));
    assert_ptr_equal (tv_get (got, "spec.containers"), tv_get (prev, "spec.containers"));
    assert_ptr_equal (tv_get (got, "status.conditions"), tv_get (prev, "status.conditions"));
    assert_ptr_equal (tv_get (got, "metadata.name"), tv_get (prev, "metadata.name"));
    /* changed ones are new; the root and the maps in it are new even when equal */
    assert_ptr_not_equal (tv_get (got, "spec.nodeName"), tv_get (prev, "spec.nodeName"));
    assert_ptr_not_equal (got, prev);
    assert_ptr_not_equal (tv_get (got, "metadata"), tv_get (prev, "metadata"));
    assert_ptr_not_equal (tv_get (got, "spec"), tv_get (prev, "spec"));
    /* so a field two levels down can be set without touching prev */
    assert_int_equal (tv_set_str (got, "metadata.resourceVersion", "6"), 0);
    assert_string_equal (tv_str (prev, "metadata.resourceVersion"), "5");
    assert_string_equal (tv_str (prev, "spec.nodeName"), "n1");
    assert_string_equal (tv_str (prev, "status.phase"), "Pending");
    json_decref (prev); /* what got shares stays alive with got */
    assert_string_equal (json_string_value (json_object_get (json_array_get (tv_get (got, "spec.containers"), 0), "image")), "x");
    json_decref (got);

    /* a value whose type changed, an array grown, numbers of each kind, an equal map at depth 2 */
    got = like ("{\"a\":{\"b\":\"1\",\"c\":[1,2],\"d\":{\"e\":1.5,\"f\":-3,\"g\":null,\"h\":true}}}",
                "{\"a\":{\"b\":1,\"c\":[1,2,3],\"d\":{\"e\":1.5,\"f\":-3,\"g\":null,\"h\":true}}}", &prev);
    assert_true (json_is_integer (tv_get (got, "a.b")));
    assert_ptr_equal (tv_get (got, "a.d"), tv_get (prev, "a.d"));
    assert_ptr_not_equal (tv_get (got, "a.c"), tv_get (prev, "a.c"));
    json_decref (got);
    json_decref (prev);

    /* errors as tv_decode's, whatever prev holds */
    char err[128];
    prev = json_pack ("{s:{s:i}}", "a", "b", 1);
    assert_null (tv_decode_like ("\x81", 1, prev, err, sizeof err));
    assert_non_null (strstr (err, "truncated"));
    assert_null (tv_decode_like ("\x81\xa1" "a\x81\x01\x02", 6, prev, err, sizeof err)); /* {"a": {1: 2}} */
    assert_non_null (strstr (err, "key"));
    /* {"a": {"b": 2^64-1}}: out of range, not taken for prev's 1 */
    assert_null (tv_decode_like ("\x81\xa1" "a\x81\xa1" "b\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 15, prev, err, sizeof err));
    assert_non_null (strstr (err, "range"));
    /* a duplicate key: the last one wins, as tv_decode's */
    json_t *d = tv_decode_like ("\x81\xa1" "a\x82\xa1" "b\x01\xa1" "b\x02", 10, prev, err, sizeof err);
    assert_non_null (d);
    assert_int_equal (tv_int (d, "a.b", 0), 2);
    json_decref (d);
    json_decref (prev);
}

static void
paths (void **state)
{
    (void) state;
    json_t *o = json_object ();
    assert_int_equal (tv_set_str (o, "metadata.name", "web"), 0);
    assert_int_equal (tv_set_int (o, "spec.replicas", 3), 0);
    assert_string_equal (tv_str (o, "metadata.name"), "web");
    assert_string_equal (tv_str (tv_get (o, "metadata"), "name"), "web");
    /* no empty step, no step of 256 bytes or more, nothing under a non-map */
    assert_null (tv_get (o, ""));
    assert_null (tv_get (o, ".metadata"));
    assert_null (tv_get (o, "metadata."));
    assert_null (tv_get (o, "metadata..name"));
    assert_null (tv_get (o, "metadata.name.x"));
    assert_null (tv_get (NULL, "metadata"));
    char longk[300];
    memset (longk, 'k', sizeof longk - 1);
    longk[sizeof longk - 1] = 0;
    assert_int_equal (json_object_set_new (json_object_get (o, "metadata"), longk, json_true ()), 0);
    char longp[320];
    snprintf (longp, sizeof longp, "metadata.%s", longk);
    assert_null (tv_get (o, longp));
    json_object_del (json_object_get (o, "metadata"), longk);
    assert_int_equal (tv_int (o, "spec.replicas", -1), 3);
    assert_int_equal (tv_int (o, "spec.missing", -1), -1);
    /* a real: integral and in range is an integer; out of range (UB to cast) or fractional is not */
    assert_int_equal (tv_set (o, "spec.r", json_real (4.0)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), 4);
    assert_int_equal (tv_set (o, "spec.r", json_real (6e53)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), -1);
    assert_int_equal (tv_set (o, "spec.r", json_real (-1e19)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), -1);
    assert_int_equal (tv_set (o, "spec.r", json_real (2.5)), 0);
    assert_int_equal (tv_int (o, "spec.r", -1), -1);
    assert_null (tv_str (o, "spec.replicas")); /* wrong type: NULL, not a crash */
    assert_null (tv_get (o, "spec.replicas.deeper"));
    assert_int_equal (tv_set_str (o, "spec.replicas.x", "y"), -1); /* step through a non-map */
    assert_true (tv_bool (o, "spec.paused", true));
    tv_del (o, "metadata.name");
    assert_null (tv_get (o, "metadata.name"));
    assert_non_null (tv_obj (o, "a.b.c"));
    assert_true (json_is_object (tv_get (o, "a.b")));
    json_decref (o);
}

static void
merge_patch (void **state)
{
    (void) state;
    json_t *t = json_loads ("{\"spec\":{\"replicas\":3,\"paused\":true},\"keep\":1}", 0, NULL);
    json_t *p = json_loads ("{\"spec\":{\"replicas\":5,\"paused\":null},\"new\":{\"a\":null,\"b\":2}}", 0, NULL);
    assert_int_equal (tv_merge_patch (t, p), 0);
    json_t *want = json_loads ("{\"spec\":{\"replicas\":5},\"keep\":1,\"new\":{\"b\":2}}", 0, NULL);
    assert_true (json_equal (t, want));
    json_t *arr = json_array ();
    assert_int_equal (tv_merge_patch (t, arr), -1);
    json_decref (arr);
    json_decref (t);
    json_decref (p);
    json_decref (want);
}

/* tv_strategic_patch, one row a case: target, patch, wanted result (single quotes for double). */
static void
strategic_patch (void **state)
{
    (void) state;
    static const struct {
        const char *what, *target, *patch, *want;
    } rows[] = {
        {"list merge: the other types stay",
         "{'status':{'conditions':[{'type':'Ready','status':'True'},{'type':'PodScheduled','status':'True'}]}}",
         "{'status':{'conditions':[{'type':'DisruptionTarget','status':'True'}]}}",
         "{'status':{'conditions':[{'type':'Ready','status':'True'},{'type':'PodScheduled','status':'True'},"
         "{'type':'DisruptionTarget','status':'True'}]}}"},
        {"same type: replaced where it stands, unnamed fields stay",
         "{'status':{'conditions':[{'type':'PodScheduled','status':'True','lastProbeTime':'t0'},{'type':'Ready','status':'False'}]}}",
         "{'status':{'conditions':[{'type':'PodScheduled','status':'False','reason':'Unschedulable'}]}}",
         "{'status':{'conditions':[{'type':'PodScheduled','status':'False','lastProbeTime':'t0','reason':'Unschedulable'},"
         "{'type':'Ready','status':'False'}]}}"},
        {"append a new type, and one without a type",
         "{'status':{'conditions':[{'type':'Ready','status':'True'}]}}",
         "{'status':{'conditions':[{'type':'Initialized','status':'True'},{'status':'x'}]}}",
         "{'status':{'conditions':[{'type':'Ready','status':'True'},{'type':'Initialized','status':'True'},{'status':'x'}]}}"},
        {"nested: conditions at any depth",
         "{'a':{'b':{'conditions':[{'type':'X','v':1},{'type':'Y','v':2}]}}}",
         "{'a':{'b':{'conditions':[{'type':'Y','v':3}]}}}",
         "{'a':{'b':{'conditions':[{'type':'X','v':1},{'type':'Y','v':3}]}}}"},
        {"null deletes a key, in a map and in an element",
         "{'status':{'phase':'Pending','nominatedNodeName':'n1','conditions':[{'type':'P','message':'m','status':'False'}]}}",
         "{'status':{'nominatedNodeName':null,'conditions':[{'type':'P','message':null}]}}",
         "{'status':{'phase':'Pending','conditions':[{'type':'P','status':'False'}]}}"},
        {"a new list: its elements merge too (nulls vanish, one per type)",
         "{'status':{'phase':'Pending'}}",
         "{'status':{'conditions':[{'type':'P','status':'False','m':null},{'type':'P','status':'True'}]}}",
         "{'status':{'phase':'Pending','conditions':[{'type':'P','status':'True'}]}}"},
        {"a non-array conditions in the patch: merge patch",
         "{'status':{'conditions':[{'type':'P'}]}}",
         "{'status':{'conditions':{'type':'P'}}}",
         "{'status':{'conditions':{'type':'P'}}}"},
        {"a non-array conditions in the target: the list starts empty",
         "{'status':{'conditions':'broken'}}",
         "{'status':{'conditions':[{'type':'P'}]}}",
         "{'status':{'conditions':[{'type':'P'}]}}"},
        {"null deletes the list",
         "{'status':{'conditions':[{'type':'P'}],'phase':'Running'}}",
         "{'status':{'conditions':null}}",
         "{'status':{'phase':'Running'}}"},
        {"other arrays replace",
         "{'spec':{'containers':[{'name':'a'},{'name':'b'}]},'status':{'conditions':[{'type':'P'}]}}",
         "{'spec':{'containers':[{'name':'c'}]}}",
         "{'spec':{'containers':[{'name':'c'}]},'status':{'conditions':[{'type':'P'}]}}"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char buf[3][512];
        const char *src[3] = {rows[i].target, rows[i].patch, rows[i].want};
        json_t *v[3];
        for (int k = 0; k < 3; k++) {
            snprintf (buf[k], sizeof buf[k], "%s", src[k]);
            for (char *c = buf[k]; *c; c++)
                if (*c == '\'')
                    *c = '"';
            v[k] = json_loads (buf[k], 0, NULL);
            assert_non_null (v[k]);
        }
        assert_int_equal (tv_strategic_patch (v[0], v[1]), 0);
        if (!json_equal (v[0], v[2])) {
            char *got = json_dumps (v[0], JSON_COMPACT);
            fail_msg ("%s: got %s, want %s", rows[i].what, got, buf[2]);
        }
        for (int k = 0; k < 3; k++)
            json_decref (v[k]);
    }
    /* merge patch keeps replacing the list; non-maps are refused */
    json_t *t = json_loads ("{\"c\":{\"conditions\":[{\"type\":\"A\"}]}}", 0, NULL);
    json_t *p = json_loads ("{\"c\":{\"conditions\":[{\"type\":\"B\"}]}}", 0, NULL);
    json_t *arr = json_array ();
    assert_int_equal (tv_merge_patch (t, p), 0);
    assert_int_equal (json_array_size (tv_get (t, "c.conditions")), 1);
    assert_int_equal (tv_strategic_patch (t, arr), -1);
    assert_int_equal (tv_strategic_patch (arr, p), -1);
    json_decref (t);
    json_decref (p);
    json_decref (arr);
}

/* ---- structural sharing: tv_merge_patch_new, tv_strategic_patch_new, tv_unshare ---------- */

static json_t *
q (const char *text) /* JSON with single quotes for double */
{
    char buf[1024];
    snprintf (buf, sizeof buf, "%s", text);
    for (char *c = buf; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_t *v = json_loads (buf, 0, NULL);
    assert_non_null (v);
    return v;
}

/* Every value of got under a key the patch does not name is cur's own (pointer-equal); under a
 * key it names with a map, the same one level down; a "conditions" list (strategic) keeps cur's
 * elements whose type the patch does not name, where they stood. */
static void
assert_shared (const json_t *cur, const json_t *got, const json_t *patch, int strategic, const char *what)
{
    const char *k;
    json_t *gv;
    json_object_foreach ((json_t *) got, k, gv) {
        json_t *cv = json_object_get (cur, k), *pv = json_object_get (patch, k);
        if (!cv)
            continue;
        if (!pv) {
            if (gv != cv)
                fail_msg ("%s: %s is a copy, not cur's", what, k);
        } else if (json_is_object (pv) && json_is_object (cv) && json_is_object (gv)) {
            assert_ptr_not_equal (gv, cv); /* a map along a patched path is new */
            assert_shared (cv, gv, pv, strategic, what);
        } else if (strategic && !strcmp (k, "conditions") && json_is_array (pv) && json_is_array (cv)) {
            assert_ptr_not_equal (gv, cv);
            size_t i;
            json_t *e;
            json_array_foreach (cv, i, e) {
                const char *t = tv_str (e, "type");
                int named = 0;
                size_t j;
                json_t *pe;
                json_array_foreach (pv, j, pe) named |= t && tv_str (pe, "type") && !strcmp (t, tv_str (pe, "type"));
                if (!named && json_array_get (gv, i) != e)
                    fail_msg ("%s: conditions[%zu] is a copy, not cur's", what, i);
            }
        }
    }
}

/* tv_*_patch_new(target, patch): the in-place patch's result, cur as it was, unchanged values
 * shared; then a change through tv_unshare in every patched map leaves cur as it was too. */
static void
check_patch_new (const char *what, const char *target, const char *patch, int strategic)
{
    json_t *cur = q (target), *p = q (patch), *snap = json_deep_copy (cur), *want = json_deep_copy (cur);
    assert_int_equal (strategic ? tv_strategic_patch (want, p) : tv_merge_patch (want, p), 0);
    json_t *got = strategic ? tv_strategic_patch_new (cur, p) : tv_merge_patch_new (cur, p);
    assert_non_null (got);
    assert_ptr_not_equal (got, cur);
    if (!json_equal (got, want)) {
        char *g = json_dumps (got, JSON_COMPACT), *w = json_dumps (want, JSON_COMPACT);
        fail_msg ("%s: got %s, want %s", what, g, w);
    }
    if (!json_equal (cur, snap))
        fail_msg ("%s: the patch changed cur", what);
    assert_shared (cur, got, p, strategic, what);
    /* writes through tv_unshare (every top-level map, and metadata.labels) leave cur alone */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (got, tmp, k, v) {
        json_t *m = tv_unshare (got, k);
        if (m) {
            json_object_set_new (m, "written", json_true ());
            json_object_clear (m);
        }
    }
    json_t *labels = tv_unshare (got, "metadata.labels");
    if (labels)
        json_object_set_new (labels, "written", json_true ());
    if (!json_equal (cur, snap))
        fail_msg ("%s: a write through tv_unshare changed cur", what);
    json_decref (got);
    if (!json_equal (cur, snap))
        fail_msg ("%s: freeing the new version changed cur", what);
    json_decref (cur);
    json_decref (p);
    json_decref (snap);
    json_decref (want);
}

static const char *const POD =
    "{'kind':'Pod','metadata':{'name':'p','labels':{'app':'a'},'ownerReferences':[{'kind':'ReplicaSet','name':'r'}]},"
    "'spec':{'containers':[{'name':'c','image':'i','resources':{'requests':{'cpu':'100m'}}}],"
    "'tolerations':[{'key':'k'}],'nodeSelector':{'zone':'z'}},"
    "'status':{'phase':'Pending','conditions':[{'type':'PodScheduled','status':'False','reason':'Unschedulable'},"
    "{'type':'Ready','status':'False'}],'podIPs':[{'ip':'10.0.0.1'}]}}";

static void
merge_patch_new (void **state)
{
    (void) state;
    static const struct {
        const char *what, *patch;
    } rows[] = {
        {"a status field", "{'status':{'phase':'Running'}}"},
        {"a nested map", "{'spec':{'containers':null,'nodeSelector':{'zone':'y','disk':'ssd'}}}"},
        {"deletes via null, at every depth", "{'metadata':{'labels':{'app':null}},'status':null,'spec':{'tolerations':null}}"},
        {"an array replaces", "{'status':{'conditions':[{'type':'Ready','status':'True'}],'podIPs':[]}}"},
        {"a map over a scalar, a scalar over a map", "{'status':{'phase':{'a':1,'b':null}},'spec':{'nodeSelector':'x'}}"},
        {"a new top-level map, its nulls vanish", "{'extra':{'a':{'b':null,'c':1}}}"},
        {"empty patch", "{}"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_patch_new (rows[i].what, POD, rows[i].patch, 0);
    json_t *cur = q (POD), *arr = json_array ();
    assert_null (tv_merge_patch_new (cur, arr));
    assert_null (tv_merge_patch_new (arr, cur));
    json_decref (cur);
    json_decref (arr);
}

static void
strategic_patch_new (void **state)
{
    (void) state;
    static const struct {
        const char *what, *patch;
    } rows[] = {
        {"a condition merged where it stands",
         "{'status':{'conditions':[{'type':'PodScheduled','status':'True','reason':null}]}}"},
        {"a condition appended", "{'status':{'conditions':[{'type':'DisruptionTarget','status':'True'}],'phase':'Failed'}}"},
        {"two of one type, one without a type",
         "{'status':{'conditions':[{'type':'Ready','status':'True'},{'type':'Ready','m':'x'},{'status':'u'}]}}"},
        {"other arrays replace", "{'spec':{'tolerations':[{'key':'k'},{'key':'j'}]},'status':{'podIPs':null}}"},
        {"null deletes the list", "{'status':{'conditions':null}}"},
        {"not an array: merge patched", "{'status':{'conditions':{'type':'P'}}}"},
        {"labels and a condition", "{'metadata':{'labels':{'x':'y'}},'status':{'conditions':[{'type':'Ready','status':'True'}]}}"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_patch_new (rows[i].what, POD, rows[i].patch, 1);
    check_patch_new ("a new list", "{'status':{'phase':'Pending'}}",
                     "{'status':{'conditions':[{'type':'P','status':'False','m':null},{'type':'P','status':'True'}]}}", 1);
    check_patch_new ("a non-array list in the target", "{'status':{'conditions':'broken','x':{'y':1}}}",
                     "{'status':{'conditions':[{'type':'P'}]}}", 1);
    check_patch_new ("nested conditions", "{'a':{'b':{'conditions':[{'type':'X','v':{'w':1}},{'type':'Y','v':2}]},'c':[1]}}",
                     "{'a':{'b':{'conditions':[{'type':'Y','v':3}]}}}", 1);
}

static void
unshare (void **state)
{
    (void) state;
    json_t *cur = q (POD), *snap = json_deep_copy (cur);
    json_t *next = json_copy (cur);
    json_t *spec = tv_get (cur, "spec"), *containers = tv_get (cur, "spec.containers");
    /* shared maps along the path are copied, their children stay shared */
    json_t *m = tv_unshare (next, "spec.nodeSelector");
    assert_non_null (m);
    assert_ptr_not_equal (m, tv_get (cur, "spec.nodeSelector"));
    assert_ptr_not_equal (tv_get (next, "spec"), spec);
    assert_ptr_equal (tv_get (next, "spec.containers"), containers);
    assert_ptr_equal (tv_get (next, "metadata"), tv_get (cur, "metadata"));
    json_object_set_new (m, "zone", json_string ("changed"));
    tv_set_str (next, "spec.nodeName", "n1");
    assert_true (json_equal (cur, snap));
    /* a map already ours is not copied again */
    assert_ptr_equal (tv_unshare (next, "spec.nodeSelector"), m);
    assert_ptr_equal (tv_unshare (next, "spec"), tv_get (next, "spec"));
    /* missing steps, non-maps, bad paths: NULL, nothing created */
    assert_null (tv_unshare (next, "spec.nothing"));
    assert_null (tv_unshare (next, "spec.containers"));
    assert_null (tv_unshare (next, "status.phase"));
    assert_null (tv_unshare (next, ""));
    assert_null (tv_unshare (next, "spec..x"));
    assert_null (tv_unshare (NULL, "spec"));
    assert_null (tv_get (next, "spec.nothing"));
    json_decref (next);
    assert_true (json_equal (cur, snap));
    json_decref (cur);
    json_decref (snap);
}

/* tv_encode_mark finds a map inside a value; tv_msgpack_map_append_str gives what tv_encode
 * gives once the member is set last into it, across the map header sizes (fixmap up to 15
 * members, map16, map32) and wherever the map sits. */
static void
encode_mark_append (void **state)
{
    (void) state;
    static const size_t sizes[] = {0, 1, 14, 15, 16, 65534, 65535};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        json_t *meta = json_object ();
        char k[32];
        for (size_t j = 0; j < sizes[i]; j++) {
            snprintf (k, sizeof k, "k%zu", j);
            json_object_set_new (meta, k, json_integer ((json_int_t) j));
        }
        json_t *obj = json_pack ("{s:s,s:o,s:[i,{s:s}]}", "kind", "Pod", "metadata", meta, "spec", 1, "x", "y");
        char *buf, *out, *want;
        size_t len, at, end, olen, wlen;
        assert_int_equal (tv_encode_mark (obj, meta, &buf, &len, &at, &end), 0);
        assert_true (at > 0 && end > at && end < len);
        assert_int_equal (tv_msgpack_map_append_str (buf, len, at, end, "resourceVersion", "123456", &out, &olen), 0);
        json_object_set_new (meta, "resourceVersion", json_string ("123456"));
        assert_int_equal (tv_encode (obj, &want, &wlen), 0);
        assert_int_equal (olen, wlen);
        assert_memory_equal (out, want, wlen);
        /* the map at the top, and a value that is not a map there */
        free (out);
        size_t tat, tend;
        char *tbuf;
        size_t tlen;
        json_object_del (meta, "resourceVersion");
        assert_int_equal (tv_encode_mark (meta, meta, &tbuf, &tlen, &tat, &tend), 0);
        assert_int_equal (tat, 0);
        assert_int_equal (tend, tlen);
        assert_int_equal (tv_msgpack_map_append_str (tbuf, tlen, tat, tend, "a", "b", &out, &olen), 0);
        json_object_set_new (meta, "a", json_string ("b"));
        free (want);
        assert_int_equal (tv_encode (meta, &want, &wlen), 0);
        assert_int_equal (olen, wlen);
        assert_memory_equal (out, want, wlen);
        free (out);
        free (want);
        free (tbuf);
        free (buf);
        json_decref (obj);
    }
    /* not found: 1, offsets 0; a non-map or offsets out of the buffer: -1 */
    json_t *obj = json_pack ("{s:s,s:[i]}", "a", "b", "c", 1), *other = json_object ();
    char *buf, *out;
    size_t len, at = 9, end = 9, olen;
    assert_int_equal (tv_encode_mark (obj, other, &buf, &len, &at, &end), 1);
    assert_int_equal (at, 0);
    assert_int_equal (end, 0);
    assert_int_equal (tv_msgpack_map_append_str (buf, len, 1, 3, "k", "v", &out, &olen), -1); /* "a": a str */
    assert_int_equal (tv_msgpack_map_append_str (buf, len, 0, len + 1, "k", "v", &out, &olen), -1);
    assert_int_equal (tv_msgpack_map_append_str (buf, len, 2, 2, "k", "v", &out, &olen), -1);
    static const char map16_short[] = {(char) 0xde, 0x00};
    assert_int_equal (tv_msgpack_map_append_str (map16_short, 2, 0, 2, "k", "v", &out, &olen), -1);
    free (buf);
    json_decref (obj);
    json_decref (other);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (round_trip),
        cmocka_unit_test (decode_errors),
        cmocka_unit_test (map_keys),
        cmocka_unit_test (decode_like),
        cmocka_unit_test (projection),
        cmocka_unit_test (paths),
        cmocka_unit_test (merge_patch),
        cmocka_unit_test (strategic_patch),
        cmocka_unit_test (merge_patch_new),
        cmocka_unit_test (strategic_patch_new),
        cmocka_unit_test (unshare),
        cmocka_unit_test (encode_mark_append),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
