/* imgref: docker's reference rules, table-driven — normalization of good references (registry
 * detection, library/ prefix, default tag, digests) and the refusal of bad ones with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "runtime-shims/oci/imgref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
    const char *in, *registry, *repository, *tag, *digest, *formatted;
    int latest;
} good[] = {
    {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", 1},
    {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36", 0},
    {"busybox:latest", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", 1},
    {"library/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", 1},
    {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", 1},
    {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", 1},
    {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest", 1},
    {"user/app:v2", "docker.io", "user/app", "v2", "", "docker.io/user/app:v2", 0},
    {"127.0.0.1:5000/acc/busybox:1", "127.0.0.1:5000", "acc/busybox", "1", "", "127.0.0.1:5000/acc/busybox:1", 0},
    {"localhost/app", "localhost", "app", "latest", "", "localhost/app:latest", 1},
    {"localhost:5000/app:x", "localhost:5000", "app", "x", "", "localhost:5000/app:x", 0},
    {"quay.io/x/y@sha256:" D64, "quay.io", "x/y", "", "sha256:" D64, "quay.io/x/y@sha256:" D64, 0},
    {"quay.io/x/y:t@sha256:" D64, "quay.io", "x/y", "t", "sha256:" D64, "quay.io/x/y:t@sha256:" D64, 0},
    {"busybox@sha256:" D64, "docker.io", "library/busybox", "", "sha256:" D64, "docker.io/library/busybox@sha256:" D64, 0},
    {"gcr.io/a/b/c/d:1", "gcr.io", "a/b/c/d", "1", "", "gcr.io/a/b/c/d:1", 0},
    {"my-registry.example.com:443/team/app", "my-registry.example.com:443", "team/app", "latest", "",
     "my-registry.example.com:443/team/app:latest", 1},
    {"a.b_c__d-e---f", "docker.io", "library/a.b_c__d-e---f", "latest", "", "docker.io/library/a.b_c__d-e---f:latest", 1},
    {"app:_tag", "docker.io", "library/app", "_tag", "", "docker.io/library/app:_tag", 0},
    {"app:V1.2-rc_3", "docker.io", "library/app", "V1.2-rc_3", "", "docker.io/library/app:V1.2-rc_3", 0},
    {"host.local/app", "host.local", "app", "latest", "", "host.local/app:latest", 1},
    {"foo/bar.baz", "docker.io", "foo/bar.baz", "latest", "", "docker.io/foo/bar.baz:latest", 1},
    {"[::1]:5000/app", "[::1]:5000", "app", "latest", "", "[::1]:5000/app:latest", 1},
    {"localhost:5000", "docker.io", "library/localhost", "5000", "", "docker.io/library/localhost:5000", 0},
};

static const struct {
    const char *in, *why;
} bad[] = {
    {"", "empty"},
    {"Busybox", "lowercase"},
    {"docker.io/Library/busybox", "lowercase"},
    {"busybox:", "tag"},
    {"busybox:.x", "tag"},
    {"busybox:-x", "tag"},
    {"busybox:a/b", "registry"},   /* "busybox:a" has a ':': a host with a bad port */
    {"busybox@sha256:abc", "digest"},
    {"busybox@md5:" D64, "digest"},
    {"busybox@sha256:" D64 "0", "digest"},
    {"busybox@SHA256:" D64, "digest"},
    {"/busybox", "empty repository"},
    {"busybox/", "empty repository"},
    {"a//b", "empty repository"},
    {"-app", "component"},
    {"app-", "component"},
    {"a..b", "component"},
    {"a___b", "component"},
    {"a b", "character"},
    {"app\n", "character"},
    {"-bad.io/app", "registry"},
    {"bad-.io/app", "registry"},
    {"host:port/app", "registry"},
    {"host:123456/app", "registry"},
    {":tag", "empty name"},
    {"@sha256:" D64, "empty name"},
    {"quay.io/", "empty repository"},
};

static void
test_good (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        imgref_t r;
        char err[256] = "", buf[1024];
        if (imgref_parse (good[i].in, &r, err, sizeof err))
            fail_msg ("%s: refused: %s", good[i].in, err);
        assert_string_equal (r.registry, good[i].registry);
        assert_string_equal (r.repository, good[i].repository);
        assert_string_equal (r.tag, good[i].tag);
        assert_string_equal (r.digest, good[i].digest);
        imgref_format (&r, buf, sizeof buf);
        assert_string_equal (buf, good[i].formatted);
        assert_int_equal (imgref_is_latest (&r), good[i].latest);
        /* the formatted name is a fixed point */
        imgref_t again;
        char buf2[1024];
        assert_int_equal (imgref_parse (buf, &again, err, sizeof err), 0);
        imgref_format (&again, buf2, sizeof buf2);
        assert_string_equal (buf, buf2);
    }
}

static void
test_bad (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        imgref_t r;
        char err[256] = "";
        if (imgref_parse (bad[i].in, &r, err, sizeof err) == 0)
            fail_msg ("\"%s\" accepted as %s/%s:%s", bad[i].in, r.registry, r.repository, r.tag);
        if (strncmp (err, "invalid reference format: ", 26) || !strstr (err, bad[i].why))
            fail_msg ("\"%s\": message \"%s\" does not say \"%s\"", bad[i].in, err, bad[i].why);
    }
}

static void
test_long (void **state)
{
    (void) state;
    char name[300], tag[200], buf[600], err[256];
    imgref_t r;
    memset (name, 'a', 256);
    name[256] = 0;
    assert_int_equal (imgref_parse (name, &r, err, sizeof err), -1);
    assert_non_null (strstr (err, "255"));
    memset (tag, 'x', 129);
    tag[129] = 0;
    snprintf (buf, sizeof buf, "app:%s", tag);
    assert_int_equal (imgref_parse (buf, &r, err, sizeof err), -1);
    tag[128] = 0;
    snprintf (buf, sizeof buf, "app:%s", tag);
    assert_int_equal (imgref_parse (buf, &r, err, sizeof err), 0);
    assert_string_equal (r.tag, tag);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_good),
        cmocka_unit_test (test_bad),
        cmocka_unit_test (test_long),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
