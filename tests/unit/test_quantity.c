/* Kubernetes quantities (core/quantity.c): what resource.ParseQuantity accepts and refuses, the
 * value in milli with Kubernetes' rounding (up, away from zero), overflow refused, canonical
 * formatting, JSON numbers, and the schema validator's field path for a bad quantity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/quantity.h"
#include "core/schema.h"
#include "core/value.h"
#include "core/yaml.h"
#include "tests/unit/schema_fixture.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *in;
    int64_t milli;
} good[] = {
    /* zero, whatever the sign, suffix or exponent */
    {"0", 0}, {"-0", 0}, {"+0", 0}, {"0.0", 0}, {"000", 0}, {"0Ki", 0}, {"0m", 0}, {"0e99", 0},
    {"0e2147483647", 0}, {"-0.000Ei", 0},
    /* plain numbers and signs */
    {"1", 1000}, {"+1", 1000}, {"-1", -1000}, {"00001", 1000}, {"1.", 1000}, {".5", 500}, {"5.", 5000},
    {"1.5", 1500}, {"0.1", 100}, {"+.5", 500}, {"-.5", -500}, {"1.000000000000000000000000000", 1000},
    {"123.456", 123456},
    /* decimal SI */
    {"500m", 500}, {"1m", 1}, {"100m", 100}, {"1k", 1000000}, {"1M", 1000000000}, {"1G", 1000000000000},
    {"1T", 1000000000000000}, {"1P", 1000000000000000000}, {"1.G", 1000000000000}, {"1.5k", 1500000},
    {"9.2P", 9200000000000000000}, {"-1k", -1000000},
    /* below a milli rounds up, away from zero (Kubernetes' inf.RoundUp) */
    {"0.1m", 1}, {"0.0001", 1}, {"1n", 1}, {"1u", 1}, {"1000u", 1}, {"1001u", 2}, {"999999n", 1},
    {"1000000n", 1}, {"1000001n", 2}, {"1.0001m", 2}, {"-0.1m", -1}, {"-1n", -1}, {"-1.0001m", -2},
    {"0.000000000000000000000000001", 1}, {"1.0000000000000000000000001", 1001},
    /* binary SI */
    {"1Ki", 1024000}, {"1Mi", 1048576000}, {"1Gi", 1073741824000}, {"1Ti", 1099511627776000},
    {"1Pi", 1125899906842624000}, {"8Pi", 9007199254740992000}, {"128Mi", 134217728000},
    {"1.5Gi", 1610612736000}, {"0.5Ki", 512000}, {"0.001Ki", 1024}, {"0.0001Ki", 103},
    {"0.000000001Ki", 1}, {"1.0000000000000000001Ki", 1024001}, {"-0.0009765625Ki", -1000},
    {"-0.9Ki", -921600}, {"0.5Mi", 524288000}, {"100.035Ki", 102435840},
    /* decimal exponent */
    {"1e3", 1000000}, {"1E3", 1000000}, {"1e+3", 1000000}, {"1e-3", 1}, {"1e-4", 1}, {"5e-1", 500},
    {"1.5e2", 150000}, {"12e-2", 120}, {"1e15", 1000000000000000000}, {"1e0", 1000}, {"1e00", 1000},
    {"1e-2147483647", 1}, {"-1e-2147483647", -1}, {"10000000000000000000000e-20", 100000},
    {"123456789012345678901234567890e-27", 123457},
    /* the edge of int64 milli */
    {"9223372036854775807m", INT64_MAX}, {"-9223372036854775807m", -INT64_MAX},
    {"9223372036854775.807", INT64_MAX}, {"9.223372036854775807e15", INT64_MAX},
    {"9223372036854775806.1m", INT64_MAX},
};

static const struct {
    const char *in;
    const char *msg;   /* a piece of the error */
} bad[] = {
    {"", "empty string"},
    /* Kubernetes' own invalid list */
    {"1.1.M", "invalid character '.' at position 4"},
    {"1+1.0M", "invalid character '+' at position 2"},
    {"0.1mi", "unknown suffix \"mi\""},
    {"0.1am", "invalid character 'a' at position 4"},
    {"aoeu", "invalid character 'a' at position 1: a number is required"},
    {".5i", "unknown suffix \"i\""},
    {"1i", "unknown suffix \"i\""},
    {"-3.01i", "unknown suffix \"i\""},
    {"-3.01e-", "exponent \"e-\" needs digits"},
    {" 1", "invalid character ' '"},
    {"1 ", "invalid character ' ' at position 2"},
    {"1\t", "invalid byte 0x09"},
    /* suffixes Kubernetes does not know, in their likely spellings */
    {"1K", "unknown suffix \"K\""}, {"1ki", "unknown suffix \"ki\""}, {"1KI", "unknown suffix \"KI\""},
    {"1KiB", "unknown suffix \"KiB\""}, {"1Zi", "invalid character 'Z'"}, {"1Mb", "unknown suffix \"Mb\""},
    {"1e", "unknown suffix \"e\""}, {"1e+", "needs digits"}, {"1e1.5", "invalid character '.' at position 4"},
    {"1e.5", "needs digits"}, {"1e3k", "invalid character 'k' at position 4"}, {"1E3Ki", "invalid character 'K'"},
    {"1e+-3", "needs digits"}, {"e3", "a number is required"}, {"Ki", "a number is required"},
    /* not numbers in this grammar */
    {"1..5", "invalid character '.' at position 3"}, {"1-", "invalid character '-'"}, {"++1", "a number is required"},
    {"1,5", "invalid character ','"}, {"1_000", "invalid character '_'"}, {"0x10", "invalid character 'x' at position 2"},
    {"1/2", "invalid character '/'"}, {"Inf", "a number is required"}, {"NaN", "a number is required"},
    {"+", "a number is required"}, {"-", "a number is required"}, {".", "a number is required"},
    {"+.", "a number is required"}, {"\xef\xbc\x91", "invalid byte 0xef"}, {"1\xc2\xb5", "invalid byte 0xc2"},
    /* too large for int64 milli, or an exponent past int32 as Kubernetes keeps it */
    {"1E", "too large"}, {"9.3P", "too large"}, {"9Pi", "too large"}, {"1Ei", "too large"},
    {"1e16", "too large"}, {"9223372036854775808m", "too large"}, {"-9223372036854775808m", "too large"},
    {"9.223372036854775808e15", "too large"}, {"99999999999999999999", "too large"},
    {"1e2147483647", "too large"}, {"1e2147483648", "exponent out of range"},
    {"0e99999999999999999999", "exponent out of range"}, {"1e-2147483648", "exponent out of range"},
};

static void
parses_as_kubernetes (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = 12345;
        char err[256] = "";
        int rc = quantity_parse_milli (good[i].in, &v, err, sizeof err);
        if (rc || v != good[i].milli)
            fail_msg ("\"%s\": rc %d value %lld, want %lld (%s)", good[i].in, rc, (long long) v,
                      (long long) good[i].milli, err);
    }
}

static void
refuses_with_a_reason (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 12345;
        char err[256] = "";
        int rc = quantity_parse_milli (bad[i].in, &v, err, sizeof err);
        if (rc != -1 || !strstr (err, bad[i].msg) || strncmp (err, "quantity \"", 10) || v != 12345)
            fail_msg ("\"%s\": rc %d value %lld err \"%s\", want -1 with \"%s\"", bad[i].in, rc, (long long) v, err,
                      bad[i].msg);
    }
    /* the message names the input, quoted and escaped */
    char err[256];
    int64_t v;
    assert_int_equal (quantity_parse_milli ("1.5.3", &v, err, sizeof err), -1);
    assert_string_equal (err, "quantity \"1.5.3\": invalid character '.' at position 4 "
                              "(quantities look like 500m, 2, 1.5, 128Mi, 1e3)");
    assert_int_equal (quantity_parse_milli ("a\"b", &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "quantity \"a\\\"b\""));
    /* NULL err and tiny buffers are fine */
    assert_int_equal (quantity_parse_milli ("x", &v, NULL, 0), -1);
    assert_int_equal (quantity_parse_milli ("x", &v, err, 4), -1);
    assert_int_equal (quantity_parse_milli (NULL, &v, err, sizeof err), -1);
}

static void
whole_units_round_away_from_zero (void **state)
{
    (void) state;
    int64_t v;
    assert_int_equal (quantity_parse ("1Gi", &v, NULL, 0), 0);
    assert_int_equal (v, 1073741824);
    assert_int_equal (quantity_parse ("500m", &v, NULL, 0), 0);
    assert_int_equal (v, 1);
    assert_int_equal (quantity_parse ("1001m", &v, NULL, 0), 0);
    assert_int_equal (v, 2);
    assert_int_equal (quantity_parse ("-500m", &v, NULL, 0), 0);
    assert_int_equal (v, -1);
    assert_int_equal (quantity_parse ("2000m", &v, NULL, 0), 0);
    assert_int_equal (v, 2);
    assert_int_equal (quantity_parse ("0", &v, NULL, 0), 0);
    assert_int_equal (v, 0);
    assert_int_equal (quantity_parse ("1Z", &v, NULL, 0), -1);
}

static void
keeps_the_format (void **state)
{
    (void) state;
    static const struct {
        const char *in;
        quantity_format_t fmt;
    } t[] = {
        {"1", QUANTITY_DECIMAL_SI},      {"500m", QUANTITY_DECIMAL_SI},  {"1Gi", QUANTITY_BINARY_SI},
        {"0.5Ki", QUANTITY_BINARY_SI},   {"0.5", QUANTITY_DECIMAL_SI},   {"1e3", QUANTITY_DECIMAL_EXPONENT},
        {"1P", QUANTITY_DECIMAL_SI},     /* below 1 a binary quantity becomes decimal, as in Kubernetes */
        {"0.0001Ki", QUANTITY_DECIMAL_SI}, {"0Mi", QUANTITY_DECIMAL_SI},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t v;
        quantity_format_t f = (quantity_format_t) 99;
        if (quantity_parse_format (t[i].in, &v, &f, NULL, 0) == 0 && f != t[i].fmt)
            fail_msg ("\"%s\": format %d, want %d", t[i].in, f, t[i].fmt);
    }
}

static void
canonical_form (void **state)
{
    (void) state;
    static const struct {
        int64_t milli;
        quantity_format_t fmt;
        const char *out;
    } t[] = {
        {1500, QUANTITY_DECIMAL_SI, "1500m"},
        {2000, QUANTITY_DECIMAL_SI, "2"},
        {0, QUANTITY_DECIMAL_SI, "0"},
        {1000000, QUANTITY_DECIMAL_SI, "1k"},
        {1500000, QUANTITY_DECIMAL_SI, "1500"},
        {1000000000, QUANTITY_DECIMAL_SI, "1M"},
        {1000000000000000000, QUANTITY_DECIMAL_SI, "1P"},
        {-500, QUANTITY_DECIMAL_SI, "-500m"},
        {-2000000, QUANTITY_DECIMAL_SI, "-2k"},
        {INT64_MAX, QUANTITY_DECIMAL_SI, "9223372036854775807m"},
        {-INT64_MAX, QUANTITY_DECIMAL_SI, "-9223372036854775807m"},
        {1073741824000, QUANTITY_BINARY_SI, "1Gi"},
        {1610612736000, QUANTITY_BINARY_SI, "1536Mi"},
        {1024000, QUANTITY_BINARY_SI, "1Ki"},
        {512000, QUANTITY_BINARY_SI, "512"},
        {1000, QUANTITY_BINARY_SI, "1"},
        {1536000, QUANTITY_BINARY_SI, "1536"},
        {1024500, QUANTITY_BINARY_SI, "1024500m"},
        {-1048576000, QUANTITY_BINARY_SI, "-1Mi"},
        {1000000, QUANTITY_DECIMAL_EXPONENT, "1e3"},
        {1500, QUANTITY_DECIMAL_EXPONENT, "1500e-3"},
        {2000, QUANTITY_DECIMAL_EXPONENT, "2"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char buf[QUANTITY_STRLEN];
        int n = quantity_format (t[i].milli, t[i].fmt, buf, sizeof buf);
        if (n < 0 || strcmp (buf, t[i].out) || (size_t) n != strlen (t[i].out))
            fail_msg ("%lld/%d: \"%s\" (%d), want \"%s\"", (long long) t[i].milli, t[i].fmt, buf, n, t[i].out);
        /* and it reads back to the same value */
        int64_t back;
        assert_int_equal (quantity_parse_milli (buf, &back, NULL, 0), 0);
        assert_true (back == t[i].milli);
    }
    char small[4];
    assert_int_equal (quantity_format (1500, QUANTITY_DECIMAL_SI, small, sizeof small), -1);
    /* every good input survives parse → format → parse in its own format */
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v, back;
        quantity_format_t f;
        char buf[QUANTITY_STRLEN];
        assert_int_equal (quantity_parse_format (good[i].in, &v, &f, NULL, 0), 0);
        assert_true (quantity_format (v, f, buf, sizeof buf) > 0);
        assert_int_equal (quantity_parse_milli (buf, &back, NULL, 0), 0);
        if (back != v)
            fail_msg ("\"%s\" → \"%s\" → %lld, want %lld", good[i].in, buf, (long long) back, (long long) v);
    }
}

static void
json_numbers (void **state)
{
    (void) state;
    int64_t v;
    char err[256] = "";
    json_t *x = json_real (0.1);   /* YAML `cpu: 0.1` */
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), 0);
    assert_int_equal (v, 100);
    json_decref (x);
    x = json_real (1.5);
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), 0);
    assert_int_equal (v, 1500);
    json_decref (x);
    x = json_real (0.3);   /* 0.299999999999999988898 as a double: still 300m */
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), 0);
    assert_int_equal (v, 300);
    json_decref (x);
    x = json_integer (2);
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), 0);
    assert_int_equal (v, 2000);
    json_decref (x);
    x = json_integer (INT64_MAX);
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "too large"));
    json_decref (x);
    x = json_real (1e20);
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "too large"));
    json_decref (x);
    x = json_string ("250m");
    assert_int_equal (tv_quantity_milli (x, &v, err, sizeof err), 0);
    assert_int_equal (v, 250);
    json_decref (x);
    assert_int_equal (tv_quantity_milli (json_true (), &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "boolean"));
}

static void
expect_pod (const char *cpu, const char *memory, const char *needle)
{
    char y[1024], err[512] = "";
    snprintf (y, sizeof y,
              "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
              "spec:\n  containers:\n  - name: c\n    image: busybox\n"
              "    resources: {requests: {cpu: %s, memory: %s}}\n",
              cpu, memory);
    json_t *docs = tr_yaml_load (y, strlen (y), err, sizeof err);
    assert_non_null (docs);
    json_t *pod = json_array_get (docs, 0);
    schema_default (schemas, pod);
    int rc = schema_validate (schemas, pod, err, sizeof err);
    if (needle ? rc != -1 || !strstr (err, needle) : rc != 0)
        fail_msg ("cpu %s memory %s: rc %d err \"%s\", want %s", cpu, memory, rc, err, needle ? needle : "valid");
    json_decref (docs);
}

static void
schema_names_the_field (void **state)
{
    (void) state;
    expect_pod ("500m", "128Mi", NULL);
    expect_pod ("0.5", "1e9", NULL);
    expect_pod ("2", "1Gi", NULL);
    expect_pod ("'1.5.3'", "1Gi",
                "spec.containers[0].resources.requests.cpu: Invalid value: quantity \"1.5.3\": invalid character '.'"
                " at position 4");
    expect_pod ("1", "1GB", "spec.containers[0].resources.requests.memory: Invalid value: quantity \"1GB\": "
                            "unknown suffix \"GB\"");
    expect_pod ("1", "'0x10'", "spec.containers[0].resources.requests.memory: Invalid value: quantity \"0x10\"");
    expect_pod ("1", "-1Gi", "spec.containers[0].resources.requests.memory: Invalid value: \"-1Gi\": must be "
                             "greater than or equal to 0");
    expect_pod ("-0.5", "1Gi", "spec.containers[0].resources.requests.cpu: Invalid value: \"-500m\": must be "
                               "greater than or equal to 0");
    expect_pod ("100E", "1Gi", "spec.containers[0].resources.requests.cpu: Invalid value: quantity \"100E\": too large");
    expect_pod ("''", "1Gi", "spec.containers[0].resources.requests.cpu: Invalid value: quantity \"\": empty string");
    expect_pod ("true", "1Gi", "spec.containers[0].resources.requests.cpu: Invalid type");
}

static void
schema_canonical_form (void **state)
{
    (void) state;
    const char *y = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
                    "spec:\n  containers:\n  - name: c\n    image: busybox\n"
                    "    resources:\n      requests: {cpu: 0.5, memory: 1024Mi, ephemeral-storage: 1e9}\n"
                    "      limits: {cpu: 2, memory: '1.5Gi', x: '1.5.3'}\n"
                    "  - name: d\n    image: busybox\n    resources: {requests: {cpu: 1000m, memory: 500M}}\n";
    char err[256];
    json_t *docs = tr_yaml_load (y, strlen (y), err, sizeof err);
    assert_non_null (docs);
    json_t *pod = json_array_get (docs, 0);
    assert_int_equal (schema_canonicalize (schemas, pod), 0);
    json_t *c0 = json_array_get (tv_get (pod, "spec.containers"), 0), *c1 = json_array_get (tv_get (pod, "spec.containers"), 1);
    assert_string_equal (tv_str (c0, "resources.requests.cpu"), "500m");
    assert_string_equal (tv_str (c0, "resources.requests.memory"), "1Gi");
    assert_string_equal (tv_str (c0, "resources.requests.ephemeral-storage"), "1G");
    assert_string_equal (tv_str (c0, "resources.limits.cpu"), "2");
    assert_string_equal (tv_str (c0, "resources.limits.memory"), "1536Mi");
    assert_string_equal (tv_str (c0, "resources.limits.x"), "1.5.3");   /* left for validation */
    assert_string_equal (tv_str (c1, "resources.requests.cpu"), "1");
    assert_string_equal (tv_str (c1, "resources.requests.memory"), "500M");
    json_t *unknown = json_pack ("{s:s}", "kind", "Frobnicator");
    assert_int_equal (schema_canonicalize (schemas, unknown), -1);
    json_decref (unknown);
    json_decref (docs);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (parses_as_kubernetes),
        cmocka_unit_test (refuses_with_a_reason),
        cmocka_unit_test (whole_units_round_away_from_zero),
        cmocka_unit_test (keeps_the_format),
        cmocka_unit_test (canonical_form),
        cmocka_unit_test (json_numbers),
        cmocka_unit_test (schema_names_the_field),
        cmocka_unit_test (schema_canonical_form),
    };
    return cmocka_run_group_tests (tests, schema_fixture_setup, schema_fixture_teardown);
}
