/* encryption: the EncryptionConfiguration parser (errors name the field path), seal/open with
 * Kubernetes' value layout, tampering, unknown keys, identity, key edits and generations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/encryption.h"

#define K1 "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=" /* 32 bytes */
#define K2 "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY=" /* 32 bytes */

static encryption_t *
parse (const char *text, char *err, size_t len)
{
    return encryption_parse (text, strlen (text), err, len);
}

static void
parse_errors_name_the_field (void **state)
{
    (void) state;
    char err[400];
    struct {
        const char *text, *want;
    } cases[] = {
        {"kind: Foo\nresources: []\n", "kind: Invalid value: \"Foo\""},
        {"kind: EncryptionConfiguration\n", "resources: Required value"},
        {"kind: EncryptionConfiguration\nresources:\n- resources: [configmaps]\n  providers: [{identity: {}}]\n",
         "resources[0].resources[0]: Unsupported value: \"configmaps\""},
        {"kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers: [{aescbc: {keys: []}}]\n",
         "resources[0].providers[0].aescbc: Unsupported value"},
        {"kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n"
         "      - {name: a, secret: " K1 "}\n      - {name: b, secret: c2hvcnQ=}\n",
         "resources[0].providers[0].secretbox.keys[1].secret: Invalid value: must be 32 bytes"},
        {"kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n"
         "      - {name: a, secret: " K1 "}\n      - {name: a, secret: " K2 "}\n",
         "resources[0].providers[0].secretbox.keys[1].name: Duplicate value: \"a\""},
        {"kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: []}\n",
         "resources[0].providers[0].secretbox.keys: Required value"},
        {"kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n", "resources[0].providers: Required value"},
        {"kind: [unclosed\n", "yaml: line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        encryption_t *e = parse (cases[i].text, err, sizeof err);
        if (e || !strstr (err, cases[i].want))
            fail_msg ("case %zu: got %s \"%s\", want an error with \"%s\"", i, e ? "a configuration" : "error", err,
                      cases[i].want);
    }
}

static void
seal_open_rotation (void **state)
{
    (void) state;
    char err[400];
    const char *text = "# troupe-generation: 7\napiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                       "resources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n"
                       "      - {name: k1, secret: " K1 "}\n";
    encryption_t *e = parse (text, err, sizeof err);
    assert_non_null (e);
    assert_int_equal (encryption_generation (e), 7);
    assert_string_equal (encryption_write_key (e), "k1");
    const char *plain = "\x82\xa4kind\xa6Secret\xa4" "data\xa8hunter22";
    size_t plen = strlen (plain);
    char *sealed = NULL, *opened = NULL;
    size_t slen = 0, olen = 0;
    assert_int_equal (encryption_seal (e, plain, plen, &sealed, &slen, err, sizeof err), 0);
    assert_true (encryption_is_sealed (sealed, slen));
    assert_int_equal (memcmp (sealed, "k8s:enc:secretbox:v1:k1:", 24), 0);
    assert_int_equal (slen, 24 + 24 + 16 + plen); /* prefix, nonce, MAC, ciphertext */
    assert_null (memmem (sealed, slen, "hunter22", 8));
    assert_int_equal (encryption_open (e, sealed, slen, &opened, &olen, err, sizeof err), 0);
    assert_int_equal (olen, plen);
    assert_memory_equal (opened, plain, plen);
    free (opened);
    /* two seals of the same value differ (random nonce) */
    char *again = NULL;
    size_t alen = 0;
    assert_int_equal (encryption_seal (e, plain, plen, &again, &alen, err, sizeof err), 0);
    assert_true (alen == slen && memcmp (again, sealed, slen));
    free (again);
    /* tampering is detected */
    sealed[slen - 1] ^= 1;
    assert_int_equal (encryption_open (e, sealed, slen, &opened, &olen, err, sizeof err), -1);
    assert_non_null (strstr (err, "does not open"));
    sealed[slen - 1] ^= 1;
    /* plaintext without identity is refused (a value written before encryption needs identity) */
    assert_int_equal (encryption_open (e, plain, plen, &opened, &olen, err, sizeof err), -1);
    assert_non_null (strstr (err, "identity"));
    /* no configuration: the reason names the key */
    assert_int_equal (encryption_open (NULL, sealed, slen, &opened, &olen, err, sizeof err), -1);
    assert_non_null (strstr (err, "\"k1\""));

    /* rotation: a new first key writes, the old one still reads; the old one removed, its values
     * no longer open; the writing key cannot be removed */
    char name[64];
    assert_int_equal (encryption_add_key (e, 1, name, sizeof name, err, sizeof err), 0);
    assert_string_equal (name, "key1");
    assert_string_equal (encryption_write_key (e), "key1");
    assert_int_equal (encryption_generation (e), 8);
    assert_int_equal (encryption_open (e, sealed, slen, &opened, &olen, err, sizeof err), 0);
    free (opened);
    char *s2 = NULL;
    size_t s2len = 0;
    assert_int_equal (encryption_seal (e, plain, plen, &s2, &s2len, err, sizeof err), 0);
    assert_int_equal (memcmp (s2, "k8s:enc:secretbox:v1:key1:", 26), 0);
    assert_int_equal (encryption_remove_key (e, "key1", err, sizeof err), -1);
    assert_int_equal (encryption_remove_key (e, "nope", err, sizeof err), -1);
    /* the configuration survives a dump and a parse (keys, order, generation) */
    char *dump = encryption_dump (e);
    encryption_t *back = parse (dump, err, sizeof err);
    assert_non_null (back);
    assert_int_equal (encryption_text_generation (dump, strlen (dump)), 9 - 1);
    assert_int_equal (encryption_key_count (back), 2);
    assert_string_equal (encryption_key_name (back, 0), "key1");
    assert_string_equal (encryption_key_name (back, 1), "k1");
    assert_int_equal (encryption_open (back, sealed, slen, &opened, &olen, err, sizeof err), 0);
    free (opened);
    free (dump);
    encryption_destroy (&back);
    assert_int_equal (encryption_remove_key (e, "k1", err, sizeof err), 0);
    assert_int_equal (encryption_open (e, sealed, slen, &opened, &olen, err, sizeof err), -1);
    assert_non_null (strstr (err, "encrypted with key \"k1\", which is not in this server's encryption configuration"));
    assert_int_equal (encryption_open (e, s2, s2len, &opened, &olen, err, sizeof err), 0);
    free (opened);
    /* use-key: an added last key reads only until it is made first */
    assert_int_equal (encryption_add_key (e, 0, name, sizeof name, err, sizeof err), 0);
    assert_string_equal (encryption_write_key (e), "key1");
    assert_int_equal (encryption_use_key (e, name, err, sizeof err), 0);
    assert_string_equal (encryption_write_key (e), name);
    assert_int_equal (encryption_remove_key (e, "key1", err, sizeof err), 0);
    free (sealed);
    free (s2);
    encryption_destroy (&e);
    assert_null (e);
}

static void
identity_and_files (void **state)
{
    (void) state;
    char err[400];
    /* identity first: writes are plaintext, sealed values still read */
    const char *text = "kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n"
                       "  - identity: {}\n  - secretbox:\n      keys: [{name: k1, secret: " K1 "}]\n";
    encryption_t *e = parse (text, err, sizeof err);
    assert_non_null (e);
    assert_null (encryption_write_key (e));
    char *out = NULL;
    size_t olen = 0;
    assert_int_equal (encryption_seal (e, "abc", 3, &out, &olen, err, sizeof err), 0);
    assert_int_equal (olen, 3);
    assert_memory_equal (out, "abc", 3);
    free (out);
    assert_int_equal (encryption_open (e, "abc", 3, &out, &olen, err, sizeof err), 0);
    free (out);
    encryption_destroy (&e);
    /* a fresh configuration (troupe init) saved 0600 and loaded back */
    char path[] = "/tmp/troupe-enc-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);
    e = encryption_new ();
    assert_string_equal (encryption_write_key (e), "key1");
    assert_int_equal (encryption_generation (e), 1);
    assert_int_equal (encryption_save (e, path, err, sizeof err), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    encryption_t *back = encryption_load (path, err, sizeof err);
    assert_non_null (back);
    char *s = NULL;
    size_t slen = 0;
    assert_int_equal (encryption_seal (e, "xyz", 3, &s, &slen, err, sizeof err), 0);
    assert_int_equal (encryption_open (back, s, slen, &out, &olen, err, sizeof err), 0);
    assert_memory_equal (out, "xyz", 3);
    free (out);
    free (s);
    /* identity is the last provider of a fresh configuration: values stored before it read */
    assert_int_equal (encryption_open (back, "plain", 5, &out, &olen, err, sizeof err), 0);
    free (out);
    encryption_destroy (&e);
    encryption_destroy (&back);
    unlink (path);
    assert_null (encryption_load (path, err, sizeof err));
    assert_non_null (strstr (err, "No such file"));
    assert_int_equal (encryption_text_generation ("a: 1\n# troupe-generation: 12\n", 29), 12);
    assert_int_equal (encryption_text_generation ("a: 1\n", 5), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (parse_errors_name_the_field),
        cmocka_unit_test (seal_open_rotation),
        cmocka_unit_test (identity_and_files),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
