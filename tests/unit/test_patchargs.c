/* patchargs: `troupe patch`'s --type and patch text, `troupe label`'s arguments, the Kubernetes
 * label key/value rules, and the labels merge patch with kubectl's --overwrite refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli/patchargs.h"

static void
patch_types (void **state)
{
    (void) state;
    assert_int_equal (patch_type_parse (NULL), PATCH_STRATEGIC); /* kubectl's default */
    assert_int_equal (patch_type_parse ("strategic"), PATCH_STRATEGIC);
    assert_int_equal (patch_type_parse ("merge"), PATCH_MERGE);
    assert_int_equal (patch_type_parse ("json"), PATCH_JSON);
    assert_int_equal (patch_type_parse ("Merge"), PATCH_BAD);
    assert_int_equal (patch_type_parse (""), PATCH_BAD);
}

static json_t *
parse (const char *text, char *err, size_t errlen)
{
    return patch_parse (text, strlen (text), err, errlen);
}

static void
patch_text (void **state)
{
    (void) state;
    char err[600];
    json_t *p = parse ("{\"spec\":{\"replicas\":3}}", err, sizeof err);
    assert_non_null (p);
    assert_int_equal (json_integer_value (json_object_get (json_object_get (p, "spec"), "replicas")), 3);
    json_decref (p);
    /* YAML, as kubectl takes it; null stays null (a merge patch removes with it) */
    p = parse ("metadata:\n  annotations: {a: null}\nspec:\n  replicas: 2\n", err, sizeof err);
    assert_non_null (p);
    assert_true (json_is_null (json_object_get (json_object_get (json_object_get (p, "metadata"), "annotations"), "a")));
    json_decref (p);
    /* broken JSON: named, with the text */
    assert_null (parse ("{\"spec\":", err, sizeof err));
    assert_non_null (strstr (err, "unable to parse \"{\"spec\":\""));
    assert_non_null (strstr (err, "yaml"));
    /* not a map */
    assert_null (parse ("[{\"op\":\"add\"}]", err, sizeof err));
    assert_non_null (strstr (err, "must be a map (a JSON object), not a list"));
    assert_null (parse ("hello", err, sizeof err));
    assert_non_null (strstr (err, "not a string"));
    assert_null (parse ("", err, sizeof err));
    assert_non_null (strstr (err, "empty"));
    assert_null (parse ("a: 1\n---\nb: 2\n", err, sizeof err));
    assert_non_null (strstr (err, "more than one document"));
    /* a long text is cut in the message */
    char big[1000];
    memset (big, 'x', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 1] = 0;
    assert_null (parse (big, err, sizeof err));
    assert_true (strlen (err) < 400);
}

static void
label_keys_values (void **state)
{
    (void) state;
    char err[400];
    static const char *const good_keys[] = {"app", "App.Name_1", "a", "example.com/team", "k8s.io/x-y", "x.y-z/A9"};
    for (size_t i = 0; i < sizeof good_keys / sizeof *good_keys; i++)
        assert_int_equal (label_key_check (good_keys[i], err, sizeof err), 0);
    static const char *const bad_keys[] = {"", "-app", "app-", "a b", "a/b/c", "/app", "Example.com/app", "ex..com/a",
                                           "example.com/", "a:b", "x/-y"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        err[0] = 0;
        assert_int_equal (label_key_check (bad_keys[i], err, sizeof err), -1);
        assert_true (err[0]);
    }
    char longname[70];
    memset (longname, 'a', 64);
    longname[64] = 0;
    assert_int_equal (label_key_check (longname, err, sizeof err), -1);
    assert_non_null (strstr (err, "no more than 63"));
    assert_int_equal (label_value_check (longname, err, sizeof err), -1);
    longname[63] = 0;
    assert_int_equal (label_key_check (longname, err, sizeof err), 0);
    assert_int_equal (label_value_check (longname, err, sizeof err), 0);
    assert_int_equal (label_value_check ("", err, sizeof err), 0); /* empty is a valid value */
    assert_int_equal (label_value_check ("v1.2_3-x", err, sizeof err), 0);
    assert_int_equal (label_value_check ("-x", err, sizeof err), -1);
    assert_int_equal (label_value_check ("a/b", err, sizeof err), -1);
    assert_int_equal (label_value_check ("a b", err, sizeof err), -1);
}

static int
args (json_t **set, json_t **del, char *err, size_t errlen, int n, ...)
{
    char *a[8];
    va_list ap;
    va_start (ap, n);
    for (int i = 0; i < n; i++)
        a[i] = va_arg (ap, char *);
    va_end (ap);
    *set = *del = NULL;
    return label_args_parse (n, a, set, del, err, errlen);
}

static void
label_arguments (void **state)
{
    (void) state;
    char err[600];
    json_t *set, *del;
    assert_int_equal (args (&set, &del, err, sizeof err, 4, "env=dev", "tier-", "empty=", "x.io/k=v"), 0);
    assert_int_equal (json_object_size (set), 3);
    assert_string_equal (json_string_value (json_object_get (set, "env")), "dev");
    assert_string_equal (json_string_value (json_object_get (set, "empty")), "");
    assert_string_equal (json_string_value (json_object_get (set, "x.io/k")), "v");
    assert_int_equal (json_array_size (del), 1);
    assert_string_equal (json_string_value (json_array_get (del, 0)), "tier");
    json_decref (set);
    json_decref (del);

    assert_int_equal (args (&set, &del, err, sizeof err, 0), -1);
    assert_string_equal (err, "at least one label update is required");
    assert_int_equal (args (&set, &del, err, sizeof err, 1, "env"), -1);
    assert_non_null (strstr (err, "unknown label spec: env"));
    assert_int_equal (args (&set, &del, err, sizeof err, 1, "-"), -1);
    assert_int_equal (args (&set, &del, err, sizeof err, 2, "env=a", "env-"), -1);
    assert_string_equal (err, "can not both modify and remove a label in the same command");
    assert_int_equal (args (&set, &del, err, sizeof err, 1, "bad key=x"), -1);
    assert_non_null (strstr (err, "invalid label spec: \"bad key=x\""));
    assert_int_equal (args (&set, &del, err, sizeof err, 1, "k=-x"), -1);
    assert_non_null (strstr (err, "invalid label value: \"k=-x\""));
    assert_int_equal (args (&set, &del, err, sizeof err, 1, "-bad-"), -1);
    assert_non_null (strstr (err, "invalid label spec"));
    assert_null (set);
    assert_null (del);
}

static void
labels_patch (void **state)
{
    (void) state;
    char err[600];
    json_t *cur = json_pack ("{s:s,s:s}", "env", "dev", "tier", "a");
    json_t *set = json_pack ("{s:s}", "env", "prod"), *del = json_array ();
    label_result_t r;
    /* another value without --overwrite: kubectl's refusal */
    assert_null (label_patch (cur, set, del, 0, &r, NULL, err, sizeof err));
    assert_string_equal (err, "'env' already has a value (dev), and --overwrite is false");
    json_t *p = label_patch (cur, set, del, 1, &r, NULL, err, sizeof err);
    assert_non_null (p);
    assert_int_equal (r, LABEL_LABELED);
    assert_string_equal (err, "");
    json_t *want = json_pack ("{s:{s:{s:s}}}", "metadata", "labels", "env", "prod");
    assert_true (json_equal (p, want));
    json_decref (p);
    json_decref (want);
    json_decref (set);

    /* the same value: no change, no patch, no refusal */
    set = json_pack ("{s:s}", "env", "dev");
    assert_null (label_patch (cur, set, del, 0, &r, NULL, err, sizeof err));
    assert_int_equal (r, LABEL_NONE);
    assert_string_equal (err, "");
    json_decref (set);

    /* removals only: unlabeled, null in the merge patch; a missing key is reported */
    set = json_object ();
    json_array_append_new (del, json_string ("tier"));
    json_array_append_new (del, json_string ("ghost"));
    json_t *missing = json_array ();
    p = label_patch (cur, set, del, 0, &r, missing, err, sizeof err);
    assert_int_equal (r, LABEL_UNLABELED);
    want = json_pack ("{s:{s:{s:n}}}", "metadata", "labels", "tier");
    assert_true (json_equal (p, want));
    assert_int_equal (json_array_size (missing), 1);
    assert_string_equal (json_string_value (json_array_get (missing, 0)), "ghost");
    json_decref (p);
    json_decref (want);

    /* a new key beside a removal: labeled; no labels at all yet */
    json_object_set_new (set, "new", json_string ("1"));
    p = label_patch (NULL, set, del, 0, &r, NULL, err, sizeof err);
    assert_int_equal (r, LABEL_LABELED);
    want = json_pack ("{s:{s:{s:s}}}", "metadata", "labels", "new", "1");
    assert_true (json_equal (p, want));
    json_decref (p);
    json_decref (want);
    json_decref (missing);
    json_decref (set);
    json_decref (del);
    json_decref (cur);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (patch_types),       cmocka_unit_test (patch_text),      cmocka_unit_test (label_keys_values),
        cmocka_unit_test (label_arguments),   cmocka_unit_test (labels_patch),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
