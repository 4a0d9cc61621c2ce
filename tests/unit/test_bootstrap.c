/* bootstrap tokens (core/bootstrap.h) and the ZAP handler (core/zap.h): the token's text, its
 * Secret and every verdict of the check; the ZAP policy per domain, over real CURVE sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bootstrap.h"
#include "core/meta.h"
#include "core/zap.h"

#define KEYHEX "eecebddcdc26082229fe47b73db3dc9de9829b12554161950e75dcf2c2a58013"

static void
parse_forms (void **state)
{
    (void) state;
    tr_token_t t;
    char err[200], out[200];
    assert_int_equal (tr_token_parse ("K10" KEYHEX "::abcdef.0123456789abcdef", &t, err, sizeof err), 0);
    assert_true (t.has_server_key);
    assert_string_equal (t.id, "abcdef");
    assert_string_equal (t.secret, "0123456789abcdef");
    assert_int_equal (t.server_key[0], 0xee);
    assert_int_equal (t.server_key[31], 0x13);
    tr_token_format (&t, out, sizeof out);
    assert_string_equal (out, "K10" KEYHEX "::abcdef.0123456789abcdef");
    assert_int_equal (tr_token_parse ("abcdef.0123456789abcdef", &t, err, sizeof err), 0);
    assert_false (t.has_server_key);
    tr_token_format (&t, out, sizeof out);
    assert_string_equal (out, "abcdef.0123456789abcdef");
}

static void
parse_refusals_say_where (void **state)
{
    (void) state;
    tr_token_t t;
    char err[200];
    assert_int_equal (tr_token_parse (NULL, &t, err, sizeof err), -1);
    assert_int_equal (tr_token_parse ("ABCDEF.0123456789abcdef", &t, err, sizeof err), -1); /* upper case */
    assert_non_null (strstr (err, "offset 0"));
    assert_int_equal (tr_token_parse ("abcdef.0123456789abcde", &t, err, sizeof err), -1);  /* 15 */
    assert_int_equal (tr_token_parse ("abcdef-0123456789abcdef", &t, err, sizeof err), -1); /* no dot */
    assert_int_equal (tr_token_parse ("K10" KEYHEX "::abcdef.0123456789abcdeX", &t, err, sizeof err), -1);
    assert_non_null (strstr (err, "offset 69"));
    assert_int_equal (tr_token_parse ("K10zz" KEYHEX "::abcdef.0123456789abcdef", &t, err, sizeof err), -1);
    assert_non_null (strstr (err, "offset 3"));
    assert_int_equal (tr_token_parse ("K10" KEYHEX, &t, err, sizeof err), -1);
    char nothex[] = "K10" KEYHEX "::abcdef.0123456789abcdef";
    nothex[10] = 'g';
    assert_int_equal (tr_token_parse (nothex, &t, err, sizeof err), -1);
    assert_non_null (strstr (err, "hex"));
}

static void
generated_tokens_parse_and_differ (void **state)
{
    (void) state;
    tr_token_t a, b, back;
    char text[200], err[200];
    tr_token_generate (&a);
    tr_token_generate (&b);
    assert_string_not_equal (a.secret, b.secret);
    tr_token_format (&a, text, sizeof text);
    assert_int_equal (tr_token_parse (text, &back, err, sizeof err), 0);
    assert_string_equal (back.id, a.id);
    assert_string_equal (back.secret, a.secret);
}

/* The Secret as the broker stores it: stringData turned into base64 data (secret is consumed). */
static json_t *
stored (json_t *secret)
{
    json_t *s = json_deep_copy (secret);
    json_decref (secret);
    json_t *data = json_object (), *sd = json_object_get (s, "stringData");
    const char *k;
    json_t *v;
    json_object_foreach (sd, k, v) {
        const char *plain = json_string_value (v);
        char b64[200];
        sodium_bin2base64 (b64, sizeof b64, (const unsigned char *) plain, strlen (plain),
                           sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new (data, k, json_string (b64));
    }
    json_object_del (s, "stringData");
    json_object_set_new (s, "data", data);
    return s;
}

static void
secret_shape_is_kubeadms (void **state)
{
    (void) state;
    tr_token_t t;
    char err[200];
    tr_token_parse ("abcdef.0123456789abcdef", &t, err, sizeof err);
    json_t *s = tr_token_secret (&t, 1800000000000LL, "for m1");
    assert_string_equal (json_string_value (json_object_get (s, "type")), "bootstrap.kubernetes.io/token");
    assert_string_equal (json_string_value (json_object_get (json_object_get (s, "metadata"), "name")),
                         "bootstrap-token-abcdef");
    assert_string_equal (json_string_value (json_object_get (json_object_get (s, "metadata"), "namespace")),
                         "kube-system");
    json_t *sd = json_object_get (s, "stringData");
    assert_string_equal (json_string_value (json_object_get (sd, "token-id")), "abcdef");
    assert_string_equal (json_string_value (json_object_get (sd, "token-secret")), "0123456789abcdef");
    assert_string_equal (json_string_value (json_object_get (sd, "usage-bootstrap-authentication")), "true");
    assert_string_equal (json_string_value (json_object_get (sd, "expiration")), "2027-01-15T08:00:00Z");
    assert_string_equal (json_string_value (json_object_get (sd, "description")), "for m1");
    json_decref (s);
    s = tr_token_secret (&t, 0, NULL);
    assert_null (json_object_get (json_object_get (s, "stringData"), "expiration"));
    json_decref (s);
}

static void
check_verdicts (void **state)
{
    (void) state;
    tr_token_t t, wrong;
    char err[200], why[300];
    tr_token_parse ("abcdef.0123456789abcdef", &t, err, sizeof err);
    tr_token_parse ("abcdef.0123456789abcdee", &wrong, err, sizeof err);
    int64_t at = 1800000000000LL;
    json_t *s = stored (tr_token_secret (&t, at, NULL));
    assert_int_equal (tr_token_check (s, &t, at - 1, why, sizeof why), TR_TOKEN_OK);
    assert_int_equal (tr_token_check (s, &t, at, why, sizeof why), TR_TOKEN_EXPIRED);
    assert_non_null (strstr (why, "expired at 2027-01-15T08:00:00Z"));
    assert_int_equal (tr_token_check (s, &wrong, at - 1, why, sizeof why), TR_TOKEN_WRONG);
    assert_non_null (strstr (why, "does not match"));
    assert_int_equal (tr_token_check (NULL, &t, at - 1, why, sizeof why), TR_TOKEN_NOT_FOUND);
    assert_non_null (strstr (why, "not found"));
    /* not for authentication */
    json_object_set_new (json_object_get (s, "data"), "usage-bootstrap-authentication", json_string ("ZmFsc2U=")); /* false */
    assert_int_equal (tr_token_check (s, &t, at - 1, why, sizeof why), TR_TOKEN_UNUSABLE);
    json_decref (s);
    /* another type, a bad expiration, no expiration (never expires) */
    s = stored (tr_token_secret (&t, at, NULL));
    json_object_set_new (s, "type", json_string ("Opaque"));
    assert_int_equal (tr_token_check (s, &t, 0, why, sizeof why), TR_TOKEN_UNUSABLE);
    json_decref (s);
    s = stored (tr_token_secret (&t, at, NULL));
    json_object_set_new (json_object_get (s, "data"), "expiration", json_string ("bm90IGEgdGltZQ==")); /* not a time */
    assert_int_equal (tr_token_check (s, &t, 0, why, sizeof why), TR_TOKEN_UNUSABLE);
    assert_non_null (strstr (why, "RFC 3339"));
    json_decref (s);
    s = stored (tr_token_secret (&t, 0, NULL));
    assert_int_equal (tr_token_check (s, &t, INT64_MAX / 2, why, sizeof why), TR_TOKEN_OK);
    json_decref (s);
}

static void
durations (void **state)
{
    (void) state;
    assert_int_equal (tr_duration_parse_ms ("24h"), 86400000);
    assert_int_equal (tr_duration_parse_ms ("1h30m"), 5400000);
    assert_int_equal (tr_duration_parse_ms ("1s"), 1000);
    assert_int_equal (tr_duration_parse_ms ("250ms"), 250);
    assert_int_equal (tr_duration_parse_ms ("0"), 0);
    assert_int_equal (tr_duration_parse_ms (""), -1);
    assert_int_equal (tr_duration_parse_ms ("h"), -1);
    assert_int_equal (tr_duration_parse_ms ("10"), -1);
    assert_int_equal (tr_duration_parse_ms ("5d"), -1);
    assert_int_equal (tr_duration_parse_ms ("-1h"), -1);
    assert_int_equal (tr_duration_parse_ms ("999999999999h999999999999h999999999999h"), -1); /* no overflow */
}

static void
zap_policy (void **state)
{
    (void) state;
    assert_true (tr_zap_admits ("CURVE", "troupe", NULL));         /* anonymous: may join */
    assert_true (tr_zap_admits ("CURVE", "troupe", "node"));
    assert_true (tr_zap_admits ("CURVE", "troupe-peer", "peer"));
    assert_false (tr_zap_admits ("CURVE", "troupe-peer", "admin")); /* only the cluster key on peers */
    assert_false (tr_zap_admits ("CURVE", "troupe-peer", NULL));
    assert_false (tr_zap_admits ("CURVE", "other", NULL));
    assert_true (tr_zap_admits ("CURVE", "other", "viewer"));
    assert_false (tr_zap_admits ("NULL", "troupe", "admin"));
    assert_false (tr_zap_admits ("PLAIN", "troupe", "admin"));
    assert_false (tr_zap_admits (NULL, "troupe", "admin"));
}

/* A CURVE ROUTER on a loopback port in domain; a DEALER with key me sends "hi": the User-Id it
 * arrived with, or NULL if nothing arrived within 1.5 s (refused by ZAP). */
static char *
try_connect (zcert_t *server, zcert_t *me, const char *domain)
{
    zsock_t *r = zsock_new (ZMQ_ROUTER);
    zcert_apply (server, r);
    zsock_set_curve_server (r, 1);
    zsock_set_zap_domain (r, domain);
    int port = zsock_bind (r, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zcert_apply (me, d);
    zsock_set_curve_serverkey (d, zcert_public_txt (server));
    zsock_connect (d, "tcp://127.0.0.1:%d", port);
    zstr_send (d, "hi");
    zsock_set_rcvtimeo (r, 1500);
    zmsg_t *m = zmsg_recv (r);
    char *user = NULL;
    if (m) {
        const char *u = zframe_meta (zmsg_last (m), "User-Id");
        user = strdup (u ? u : "");
        zmsg_destroy (&m);
    }
    zsock_destroy (&d);
    zsock_destroy (&r);
    return user;
}

static void
zap_over_curve (void **state)
{
    (void) state;
    char dir[] = "/tmp/test-zap.XXXXXX";
    assert_non_null (mkdtemp (dir));
    zcert_t *server = zcert_new (), *peer = zcert_new (), *admin = zcert_new (), *stranger = zcert_new ();
    zcert_set_meta (peer, "role", "peer");
    zcert_set_meta (admin, "role", "admin");
    char path[300];
    snprintf (path, sizeof path, "%s/peer.cert", dir);
    zcert_save_public (peer, path);
    snprintf (path, sizeof path, "%s/admin.cert", dir);
    zcert_save_public (admin, path);
    zactor_t *zap = tr_zap_new (dir);
    assert_non_null (zap);
    assert_null (tr_zap_new (dir)); /* one per process: the endpoint is taken */
    char *u = try_connect (server, stranger, TR_ZAP_DOMAIN_BROKER);
    assert_non_null (u);
    assert_string_equal (u, zcert_public_txt (stranger)); /* the broker sees the key */
    free (u);
    u = try_connect (server, admin, TR_ZAP_DOMAIN_BROKER);
    assert_non_null (u);
    assert_string_equal (u, zcert_public_txt (admin));
    free (u);
    assert_null (try_connect (server, stranger, TR_ZAP_DOMAIN_PEER));
    assert_null (try_connect (server, admin, TR_ZAP_DOMAIN_PEER));
    u = try_connect (server, peer, TR_ZAP_DOMAIN_PEER);
    assert_non_null (u);
    free (u);
    /* two files with one key (czmq's zcertstore asserted on that and took the process down) */
    snprintf (path, sizeof path, "%s/admin-again.cert", dir);
    zcert_save_public (admin, path);
    zclock_sleep (1100);
    u = try_connect (server, admin, TR_ZAP_DOMAIN_BROKER);
    assert_non_null (u);
    free (u);
    /* a certificate added later is seen (the directory is read again) */
    zcert_t *late = zcert_new ();
    zcert_set_meta (late, "role", "peer");
    snprintf (path, sizeof path, "%s/late.cert", dir);
    zclock_sleep (1100); /* a new mtime second */
    zcert_save_public (late, path);
    u = try_connect (server, late, TR_ZAP_DOMAIN_PEER);
    assert_non_null (u);
    free (u);
    zactor_destroy (&zap);
    zcert_destroy (&late);
    zcert_destroy (&server);
    zcert_destroy (&peer);
    zcert_destroy (&admin);
    zcert_destroy (&stranger);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (parse_forms),
        cmocka_unit_test (parse_refusals_say_where),
        cmocka_unit_test (generated_tokens_parse_and_differ),
        cmocka_unit_test (secret_shape_is_kubeadms),
        cmocka_unit_test (check_verdicts),
        cmocka_unit_test (durations),
        cmocka_unit_test (zap_policy),
        cmocka_unit_test (zap_over_curve),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
