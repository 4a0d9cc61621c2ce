/* envelope: round trip of every field (and of a body encoded beforehand), and each kind of bad
 * frame gets a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/value.h"

static void
round_trip (void **state)
{
    (void) state;
    tr_env_t e;
    tr_env_init (&e);
    e.id = 42;
    e.verb = TR_VERB_UPDATE;
    strcpy (e.kind, "Deployment");
    strcpy (e.ns, "default");
    strcpy (e.name, "web");
    e.rv = 7;
    e.body = json_pack ("{s:{s:i}}", "spec", "replicas", 3);
    e.opts = json_pack ("{s:s}", "labelSelector", "app=web");
    e.code = TR_CONFLICT;
    e.msg = strdup ("stale");
    char *buf;
    size_t len;
    assert_int_equal (tr_env_encode (&e, &buf, &len), 0);
    tr_env_t d;
    char err[256];
    assert_int_equal (tr_env_decode (&d, buf, len, err, sizeof err), TR_OK);
    assert_int_equal (d.id, 42);
    assert_int_equal (d.verb, TR_VERB_UPDATE);
    assert_string_equal (d.kind, "Deployment");
    assert_string_equal (d.ns, "default");
    assert_string_equal (d.name, "web");
    assert_int_equal (d.rv, 7);
    assert_true (json_equal (d.body, e.body));
    assert_true (json_equal (d.opts, e.opts));
    assert_int_equal (d.code, TR_CONFLICT);
    assert_string_equal (d.msg, "stale");
    free (buf);
    tr_env_clear (&e);
    tr_env_clear (&d);
}

/* e's frame with body encoded once beforehand (tr_env_encode_with) and with body in e
 * (tr_env_encode): asserts they are the same bytes; leaves e->body = body (e owns it) and returns
 * the frame (malloc'd) and its length. */
static char *
same_frame (tr_env_t *e, json_t *body, size_t *len)
{
    char *enc, *a, *b;
    size_t enc_len, blen;
    e->body = NULL; /* body is the caller's until e takes it below */
    assert_int_equal (tv_encode (body, &enc, &enc_len), 0);
    assert_int_equal (tr_env_encode_with (e, enc, enc_len, &a, len), 0);
    e->body = body;
    assert_int_equal (tr_env_encode (e, &b, &blen), 0);
    assert_int_equal (*len, blen);
    assert_memory_equal (a, b, blen);
    free (enc);
    free (b);
    return a;
}

/* a body encoded once (watch fan-out) gives the very same bytes as encoding it with the envelope */
static void
preencoded_body (void **state)
{
    (void) state;
    tr_env_t e;
    tr_env_init (&e);
    e.id = 9;
    e.verb = TR_VERB_EVENT;
    e.rv = 12;
    e.opts = json_pack ("{s:s}", "type", "MODIFIED");
    json_t *body = json_pack ("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", "a", "resourceVersion", "12", "data", "k", "v");
    size_t alen;
    char *a = same_frame (&e, body, &alen);
    tr_env_t d;
    char err[256];
    assert_int_equal (tr_env_decode (&d, a, alen, err, sizeof err), TR_OK);
    assert_true (json_equal (d.body, body));
    tr_env_clear (&d);
    free (a);
    /* past the room encode_with reserves for the header (opts and a message of 2,000 bytes) and a
     * body of 100 KiB: the same bytes still */
    char *big = malloc (100 * 1024 + 1), *lng = malloc (2001);
    memset (big, 'x', 100 * 1024);
    big[100 * 1024] = 0;
    memset (lng, 'y', 2000);
    lng[2000] = 0;
    json_decref (e.opts);
    e.opts = json_pack ("{s:s,s:s}", "type", "MODIFIED", "note", lng);
    e.msg = strdup (lng);
    json_object_set_new (body, "blob", json_string (big));
    free (same_frame (&e, body, &alen));
    free (big);
    free (lng);
    tr_env_clear (&e);
}

static int
decode_raw (const char *bytes, size_t n, char *err, size_t errlen)
{
    tr_env_t d;
    int rc = tr_env_decode (&d, bytes, n, err, errlen);
    tr_env_clear (&d);
    return rc;
}

static void
encode_json (const char *json, char **buf, size_t *len)
{
    json_t *v = json_loads (json, 0, NULL);
    assert_non_null (v);
    assert_int_equal (tv_encode (v, buf, len), 0);
    json_decref (v);
}

static void
bad_frames (void **state)
{
    (void) state;
    char err[256];
    /* malformed msgpack */
    assert_int_equal (decode_raw ("\xc1", 1, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "envelope"));
    /* truncated */
    assert_int_equal (decode_raw ("\x82\xa1v\x01", 4, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "truncated"));
    /* empty */
    assert_int_equal (decode_raw ("", 0, err, sizeof err), TR_BAD_REQUEST);
    /* oversized */
    size_t big = TR_MAX_FRAME + 1;
    char *huge = calloc (1, big);
    assert_int_equal (decode_raw (huge, big, err, sizeof err), TR_TOO_LARGE);
    free (huge);
    /* a repeated key: the last one wins, the first is not leaked (LeakSanitizer in make asan) */
    {
        static const char twice[] = "\x84\xa1v\x01\xa2id\x05\xa3msg\xa1" "a\xa3msg\xa2" "bc";
        tr_env_t d;
        assert_int_equal (tr_env_decode (&d, twice, sizeof twice - 1, err, sizeof err), TR_OK);
        assert_string_equal (d.msg, "bc");
        tr_env_clear (&d);
    }
    /* not a map */
    assert_int_equal (decode_raw ("\x93\x01\x02\x03", 4, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "map"));
    char *buf;
    size_t len;
    /* unknown verb */
    encode_json ("{\"v\":1,\"id\":1,\"verb\":\"explode\"}", &buf, &len);
    assert_int_equal (decode_raw (buf, len, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "explode"));
    free (buf);
    /* wrong type of a field */
    encode_json ("{\"v\":1,\"id\":1,\"kind\":5}", &buf, &len);
    assert_int_equal (decode_raw (buf, len, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "kind"));
    free (buf);
    /* wrong protocol version */
    encode_json ("{\"v\":99,\"id\":1}", &buf, &len);
    assert_int_equal (decode_raw (buf, len, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "version"));
    free (buf);
    /* opts must be a map */
    encode_json ("{\"v\":1,\"id\":1,\"opts\":[1]}", &buf, &len);
    assert_int_equal (decode_raw (buf, len, err, sizeof err), TR_BAD_REQUEST);
    free (buf);
    /* unknown fields are ignored (forward compatibility) */
    encode_json ("{\"v\":1,\"id\":3,\"verb\":\"get\",\"future\":{\"x\":1}}", &buf, &len);
    assert_int_equal (decode_raw (buf, len, err, sizeof err), TR_OK);
    free (buf);
    /* a name longer than allowed */
    char longname[400];
    memset (longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    char js[600];
    snprintf (js, sizeof js, "{\"v\":1,\"id\":1,\"name\":\"%s\"}", longname);
    encode_json (js, &buf, &len);
    assert_int_equal (decode_raw (buf, len, err, sizeof err), TR_BAD_REQUEST);
    assert_non_null (strstr (err, "name"));
    free (buf);
}

static void
names (void **state)
{
    (void) state;
    for (int v = 1; v < TR_VERB__COUNT; v++)
        assert_int_equal (tr_verb_parse (tr_verb_name ((tr_verb_t) v)), v);
    assert_int_equal (tr_verb_parse ("nope"), TR_VERB_NONE);
    assert_string_equal (tr_code_name (TR_NOT_FOUND), "NotFound");
    assert_int_equal (tr_code_parse ("Conflict"), TR_CONFLICT);
    tr_env_t req, r;
    tr_env_init (&req);
    req.id = 9;
    tr_env_reply_error (&r, &req, TR_INVALID, "spec.replicas: must be >= %d", 0);
    assert_int_equal (r.id, 9);
    assert_int_equal (r.verb, TR_VERB_REPLY);
    assert_string_equal (r.msg, "spec.replicas: must be >= 0");
    tr_env_clear (&r);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (round_trip),
        cmocka_unit_test (preencoded_body),
        cmocka_unit_test (bad_frames),
        cmocka_unit_test (names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
