/* imgstore against Debian's docker-registry on loopback (fixture: tests/unit/data/
 * imgstore_setup.sh): a pull records the config and unpacked layers with verified blobs; a second
 * pull transfers no blob; a missing tag is IMG_ERR_NOT_FOUND in the registry's words; a corrupted
 * blob or manifest is IMG_ERR_DIGEST; a registry that is down is IMG_ERR_NETWORK; basic auth
 * (htpasswd) without/with credentials; a mirror that is down is skipped; a multi-arch index picks
 * the asked arch, an arm64-only index is IMG_ERR_PLATFORM; oci-archive and docker-archive
 * imports; list, remove (in use refused, unreferenced blobs and layers deleted), gc, touch;
 * parallel pulls. First, pure tests of the registry parsers (challenge, credentials, manifest).
 * Skipped (77) without root or the tools, after the pure tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/layer.h"
#include "runtime-shims/oci/registry.h"

static char D[64], ref1[128], aref[128];
static int port, aport;
static char amd64_digest[80], arm64_digest[80], index_digest[80], layer_digest[80];

/* ---- pure ---- */

static void
test_challenge (void **state)
{
    (void) state;
    registry_challenge_t c;
    assert_int_equal (registry_parse_challenge ("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                                                "scope=\"repository:library/busybox:pull\"", &c), 0);
    assert_string_equal (c.scheme, "Bearer");
    assert_string_equal (c.realm, "https://auth.docker.io/token");
    assert_string_equal (c.service, "registry.docker.io");
    assert_string_equal (c.scope, "repository:library/busybox:pull");
    assert_int_equal (registry_parse_challenge ("bearer  realm=http://h/t , service=s, error=\"insufficient_scope\"", &c), 0);
    assert_string_equal (c.realm, "http://h/t");
    assert_string_equal (c.service, "s");
    assert_string_equal (c.scope, "");
    assert_int_equal (registry_parse_challenge ("Basic realm=\"troupe\"", &c), 0);
    assert_string_equal (c.scheme, "Basic");
    assert_int_equal (registry_parse_challenge ("Bearer realm=\"a\\\"b\"", &c), 0);
    assert_string_equal (c.realm, "a\"b");
    assert_int_equal (registry_parse_challenge ("Bearer service=x", &c), -1);   /* no realm */
    assert_int_equal (registry_parse_challenge ("Negotiate abc", &c), -1);
    assert_int_equal (registry_parse_challenge ("", &c), -1);
}

static void
test_credentials (void **state)
{
    (void) state;
    char u[64], p[64];
    json_t *a = json_pack ("{s:{s:{s:s},s:{s:s,s:s},s:{s:s}}}", "auths", "https://index.docker.io/v1/", "auth",
                           "Ym9iOmh1bnRlcjI=" /* bob:hunter2 */, "127.0.0.1:5000", "username", "alice", "password",
                           "s3:cret", "bad.example", "auth", "!!!");
    assert_int_equal (registry_find_credentials (a, "docker.io", u, sizeof u, p, sizeof p), 1);
    assert_string_equal (u, "bob");
    assert_string_equal (p, "hunter2");
    assert_int_equal (registry_find_credentials (a, "127.0.0.1:5000", u, sizeof u, p, sizeof p), 1);
    assert_string_equal (u, "alice");
    assert_string_equal (p, "s3:cret");
    assert_int_equal (registry_find_credentials (a, "127.0.0.1:5001", u, sizeof u, p, sizeof p), 0);
    assert_int_equal (registry_find_credentials (a, "bad.example", u, sizeof u, p, sizeof p), 0);
    assert_int_equal (registry_find_credentials (NULL, "docker.io", u, sizeof u, p, sizeof p), 0);
    json_decref (a);
}

static void
test_manifest_parse (void **state)
{
    (void) state;
    registry_manifest_t m;
    char err[256];
#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    const char *img = "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" H64 "\"},\"layers\":[{\"digest\":\"sha256:" H64
                      "\",\"size\":3,\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\"}]}";
    assert_int_equal (registry_parse_manifest (img, strlen (img), "application/vnd.oci.image.manifest.v1+json", "amd64",
                                               &m, err, sizeof err), 0);
    assert_false (m.is_index);
    assert_string_equal (m.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_string_equal (m.config, "sha256:" H64);
    assert_int_equal (json_array_size (m.layers), 1);
    registry_manifest_clear (&m);
    const char *idx = "{\"manifests\":[{\"digest\":\"sha256:" H64 "\",\"platform\":{\"os\":\"linux\",\"architecture\":"
                      "\"arm\",\"variant\":\"v6\"}},{\"digest\":\"sha256:1" H64 "\"},{\"digest\":\"sha256:" H64
                      "\",\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";
    assert_int_equal (registry_parse_manifest (idx, strlen (idx), NULL, "amd64", &m, err, sizeof err), IMG_ERR_CORRUPT);
    /* a digest of 74 hex digits */
    const char *idx2 = "{\"manifests\":[{\"digest\":\"sha256:" H64 "\",\"platform\":{\"os\":\"linux\",\"architecture\":"
                       "\"arm\",\"variant\":\"v6\"}},{\"digest\":\"sha256:aaaaaaaaaa" H64 "\",\"platform\":{\"os\":\"linux\","
                       "\"architecture\":\"arm\",\"variant\":\"v7\"}}]}";
    assert_int_equal (registry_parse_manifest (idx2, strlen (idx2), NULL, "amd64", &m, err, sizeof err), IMG_ERR_CORRUPT);
    const char *idx4 = "{\"manifests\":[{\"digest\":\"sha256:" H64 "\",\"platform\":{\"os\":\"linux\",\"architecture\":"
                       "\"arm64\"}},{\"digest\":\"sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\","
                       "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
    assert_int_equal (registry_parse_manifest (idx4, strlen (idx4), NULL, "amd64", &m, err, sizeof err), 0);
    assert_true (m.is_index);
    assert_string_equal (m.pick, "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
    assert_int_equal (registry_parse_manifest (idx4, strlen (idx4), NULL, "s390x", &m, err, sizeof err),
                      IMG_ERR_PLATFORM);
    assert_non_null (strstr (err, "no manifest for linux/s390x"));
    assert_non_null (strstr (err, "linux/arm64, linux/amd64"));
    const char *s1 = "{\"schemaVersion\":1,\"fsLayers\":[]}";
    assert_int_equal (registry_parse_manifest (s1, strlen (s1), NULL, "amd64", &m, err, sizeof err), IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, "schema 1"));
    assert_int_equal (registry_parse_manifest ("[1]", 3, NULL, "amd64", &m, err, sizeof err), IMG_ERR_CORRUPT);
    const char *badlayer = "{\"config\":{\"digest\":\"sha256:" H64 "\"},\"layers\":[{\"digest\":\"md5:x\"}]}";
    assert_int_equal (registry_parse_manifest (badlayer, strlen (badlayer), NULL, "amd64", &m, err, sizeof err),
                      IMG_ERR_CORRUPT);
    assert_null (m.layers);
}

/* ---- against the registries ---- */

static void
read_line (const char *name, char *out, size_t len)
{
    char p[128];
    snprintf (p, sizeof p, "%s/%s", D, name);
    FILE *f = fopen (p, "r");
    assert_non_null (f);
    assert_non_null (fgets (out, (int) len, f));
    out[strcspn (out, "\n")] = 0;
    fclose (f);
}

static void
kill_pidfile (const char *name)
{
    char p[128], buf[32];
    snprintf (p, sizeof p, "%s/%s", D, name);
    FILE *f = fopen (p, "r");
    if (!f)
        return;
    if (fgets (buf, sizeof buf, f)) {
        pid_t pid = (pid_t) atoi (buf);
        if (pid > 1) {
            kill (pid, SIGTERM);
            for (int i = 0; i < 50 && kill (pid, 0) == 0; i++)
                usleep (100000);
            kill (pid, SIGKILL);
        }
    }
    fclose (f);
}

static int
group_setup (void **state)
{
    (void) state;
    char cmd[512];
    port = 20000 + getpid () % 12000;
    aport = port + 1 < 32000 ? port + 1 : port - 1;
    snprintf (cmd, sizeof cmd, "bash %s/tests/unit/data/imgstore_setup.sh %s %d %d", getenv ("TROUPE_SRC"), D, port,
              aport);
    if (system (cmd) != 0)
        return -1;
    read_line ("amd64.digest", amd64_digest, sizeof amd64_digest);
    read_line ("arm64.digest", arm64_digest, sizeof arm64_digest);
    read_line ("index.digest", index_digest, sizeof index_digest);
    read_line ("layer.digest", layer_digest, sizeof layer_digest);
    snprintf (ref1, sizeof ref1, "127.0.0.1:%d/acc/busybox:1", port);
    snprintf (aref, sizeof aref, "127.0.0.1:%d/acc/busybox:1", aport);
    return 0;
}

static int
group_teardown (void **state)
{
    (void) state;
    kill_pidfile ("reg/pid");
    kill_pidfile ("areg/pid");
    layer_remove (D);
    return 0;
}

static imgstore_t *
fresh (const char *name)
{
    char p[128], err[256];
    snprintf (p, sizeof p, "%s/%s", D, name);
    imgstore_t *s = imgstore_open (p, err, sizeof err);
    if (!s)
        fail_msg ("open: %s", err);
    return s;
}

static int
pull (imgstore_t *s, const char *ns, const char *ref, const imgpull_opts_t *o, json_t **rec, char *err, size_t len)
{
    imgpull_opts_t def = {.timeout_s = 10, .arch = "amd64"};
    return imgstore_pull (s, ns, ref, o ? o : &def, rec, err, len);
}

static void
check_blob (imgstore_t *s, const char *digest)
{
    char p[1024], got[80];
    snprintf (p, sizeof p, "%s/blobs/sha256/%s", imgstore_root (s), digest + 7);
    size_t n = 0;
    FILE *f = fopen (p, "rb");
    if (!f)
        fail_msg ("blob %s missing", digest);
    static char buf[8 << 20];
    n = fread (buf, 1, sizeof buf, f);
    fclose (f);
    registry_digest (buf, n, got);
    assert_string_equal (got, digest);
}

static void
test_pull (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s1");
    json_t *rec = NULL;
    char err[1024] = "", p[1024];
    struct stat st;
    if (pull (s, "t", ref1, NULL, &rec, err, sizeof err))
        fail_msg ("pull: %s", err);
    assert_string_equal (json_string_value (json_object_get (rec, "name")), ref1);
    assert_string_equal (json_string_value (json_object_get (rec, "namespace")), "t");
    assert_string_equal (json_string_value (json_object_get (rec, "digest")), amd64_digest);
    assert_string_equal (json_string_value (json_object_get (rec, "manifestDigest")), amd64_digest);
    assert_string_equal (json_string_value (json_array_get (json_object_get (json_object_get (rec, "config"), "Cmd"), 0)),
                         "/bin/sh");
    assert_string_equal (json_string_value (json_object_get (rec, "os")), "linux");
    assert_true (json_integer_value (json_object_get (rec, "size")) > 100000);
    json_t *layers = json_object_get (rec, "layers");
    assert_int_equal (json_array_size (layers), 1);
    snprintf (p, sizeof p, "%s/bin/busybox", json_string_value (json_array_get (layers, 0)));
    assert_int_equal (stat (p, &st), 0);
    assert_true (st.st_mode & S_IXUSR);
    snprintf (p, sizeof p, "%s/acc-marker", json_string_value (json_array_get (layers, 0)));
    assert_int_equal (stat (p, &st), 0);
    size_t i;
    json_t *b;
    json_array_foreach (json_object_get (rec, "blobs"), i, b)
        check_blob (s, json_string_value (b));
    assert_int_equal (json_array_size (json_object_get (rec, "blobs")), 3);   /* manifest, config, layer */
    assert_int_equal (imgstore_blob_fetches (s), 2);                          /* config and layer */
    json_t *got = imgstore_get (s, "t", ref1);
    assert_true (json_equal (got, rec));
    json_decref (got);
    /* by digest, and another spelling */
    snprintf (p, sizeof p, "127.0.0.1:%d/acc/busybox@%s", port, amd64_digest);
    got = imgstore_get (s, "t", p);
    assert_non_null (got);
    json_decref (got);
    assert_null (imgstore_get (s, "other", ref1));
    json_decref (rec);

    /* again, and into another namespace: no blob transferred */
    assert_int_equal (pull (s, "t", ref1, NULL, NULL, err, sizeof err), 0);
    assert_int_equal (pull (s, "other", ref1, NULL, NULL, err, sizeof err), 0);
    assert_int_equal (imgstore_blob_fetches (s), 2);
    /* by digest: verified, still no transfer */
    snprintf (p, sizeof p, "127.0.0.1:%d/acc/busybox@%s", port, amd64_digest);
    if (pull (s, "t", p, NULL, NULL, err, sizeof err))
        fail_msg ("pull by digest: %s", err);
    assert_int_equal (imgstore_blob_fetches (s), 2);
    json_t *all = imgstore_list (s, NULL), *t = imgstore_list (s, "t");
    assert_int_equal (json_array_size (all), 3);
    assert_int_equal (json_array_size (t), 2);
    json_decref (all);
    json_decref (t);
    imgstore_destroy (&s);
    assert_null (s);
}

static void
test_errors (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s2");
    char err[1024] = "", r[256];
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:nope", port);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), IMG_ERR_NOT_FOUND);
    assert_non_null (strstr (err, "MANIFEST_UNKNOWN: manifest unknown"));
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/nothing:1", port);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), IMG_ERR_NOT_FOUND);
    assert_non_null (strstr (err, "_UNKNOWN"));
    assert_int_equal (pull (s, "t", "Bad:Ref:", NULL, NULL, err, sizeof err), IMG_ERR_INVALID);
    assert_non_null (strstr (err, "invalid reference format"));
    assert_int_equal (pull (s, "../x", ref1, NULL, NULL, err, sizeof err), IMG_ERR_INVALID);
    /* down: nothing listens on this port (the fixture's next one) */
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:1", port + 2 < 32000 ? port + 2 : port - 2);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), IMG_ERR_NETWORK);
    assert_non_null (strstr (err, "onnect"));
    /* a digest nobody has */
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox@sha256:%064d", port, 0);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), IMG_ERR_NOT_FOUND);
    /* a diff id that is a path ("sha256:../../…/sys"): never a directory of the store's choosing */
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:evil", port);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, "is not a sha256 digest"));
    json_t *l = imgstore_list (s, NULL);
    assert_int_equal (json_array_size (l), 0);
    json_decref (l);
    imgstore_destroy (&s);
}

static int
count_dir (imgstore_t *s, const char *sub)
{
    char p[1024];
    snprintf (p, sizeof p, "%s/%s", imgstore_root (s), sub);
    DIR *d = opendir (p);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir (d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir (d);
    return n;
}

/* Flips one byte of the registry's copy of a blob (its storage layout); returns what was there. */
static char
corrupt_blob (const char *digest, off_t *at, int restore, char c)
{
    char p[512];
    snprintf (p, sizeof p, "%s/reg/data/docker/registry/v2/blobs/sha256/%.2s/%s/data", D, digest + 7, digest + 7);
    int fd = open (p, O_RDWR);
    assert_true (fd >= 0);
    if (restore) {
        assert_int_equal (pwrite (fd, &c, 1, *at), 1);
        close (fd);
        return c;
    }
    struct stat st;
    fstat (fd, &st);
    *at = st.st_size / 2;
    char old, x;
    assert_int_equal (pread (fd, &old, 1, *at), 1);
    x = old ^ 0x01;
    assert_int_equal (pwrite (fd, &x, 1, *at), 1);
    close (fd);
    return old;
}

/* Points the registry's revision link of manifest `digest` at the blob `other`: it then serves
 * other's content for that digest (a lying registry or mirror). */
static void
relink_manifest (const char *digest, const char *other)
{
    char p[512];
    snprintf (p, sizeof p, "%s/reg/data/docker/registry/v2/repositories/acc/busybox/_manifests/revisions/sha256/%s/link",
              D, digest + 7);
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fputs (other, f);
    fclose (f);
}

static void
test_digest (void **state)
{
    (void) state;
    char err[1024] = "", r[256], p[512];
    struct stat st;
    off_t at;
    imgstore_t *s = fresh ("s3");
    char old = corrupt_blob (layer_digest, &at, 0, 0);
    int rc = pull (s, "t", ref1, NULL, NULL, err, sizeof err);
    corrupt_blob (layer_digest, &at, 1, old);
    if (rc != IMG_ERR_DIGEST)
        fail_msg ("corrupt layer: rc %d %s", rc, err);
    assert_non_null (strstr (err, "digest mismatch: expected sha256:"));
    assert_non_null (strstr (err, ", got sha256:"));
    snprintf (p, sizeof p, "%s/blobs/sha256/%s", imgstore_root (s), layer_digest + 7);
    assert_int_equal (stat (p, &st), -1);   /* never renamed into place */
    assert_null (imgstore_get (s, "t", ref1));
    assert_int_equal (count_dir (s, "tmp"), 0);

    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox@%s", port, amd64_digest);
    relink_manifest (amd64_digest, arm64_digest);
    rc = pull (s, "t", r, NULL, NULL, err, sizeof err);
    relink_manifest (amd64_digest, amd64_digest);
    if (rc != IMG_ERR_DIGEST)
        fail_msg ("lying manifest: rc %d %s", rc, err);
    assert_non_null (strstr (err, "digest mismatch"));
    assert_non_null (strstr (err, arm64_digest));
    /* and the registry is whole again */
    if (pull (s, "t", r, NULL, NULL, err, sizeof err))
        fail_msg ("after restoring: %s", err);
    imgstore_destroy (&s);
}

static void
test_auth (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s5");
    char err[1024] = "", key[64];
    assert_int_equal (pull (s, "t", aref, NULL, NULL, err, sizeof err), IMG_ERR_AUTH);
    assert_non_null (strstr (err, "401"));
    snprintf (key, sizeof key, "127.0.0.1:%d", aport);
    json_t *bad = json_pack ("{s:{s:{s:s,s:s}}}", "auths", key, "username", "alice", "password", "wrong");
    imgpull_opts_t o = {.auths = bad, .timeout_s = 10, .arch = "amd64"};
    assert_int_equal (pull (s, "t", aref, &o, NULL, err, sizeof err), IMG_ERR_AUTH);
    json_t *good = json_pack ("{s:{s:{s:s}}}", "auths", key, "auth", "YWxpY2U6czNjcmV0" /* alice:s3cret */);
    o.auths = good;
    if (pull (s, "t", aref, &o, NULL, err, sizeof err))
        fail_msg ("pull with credentials: %s", err);
    json_t *good2 = json_pack ("{s:{s:{s:s,s:s}}}", "auths", key, "username", "alice", "password", "s3cret");
    o.auths = good2;
    assert_int_equal (pull (s, "u", aref, &o, NULL, err, sizeof err), 0);
    json_decref (bad);
    json_decref (good);
    json_decref (good2);
    imgstore_destroy (&s);
}

static void
test_mirror (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s6");
    char err[1024] = "", down[64], up[64];
    snprintf (down, sizeof down, "http://127.0.0.1:%d", port + 2 < 32000 ? port + 2 : port - 2);
    snprintf (up, sizeof up, "127.0.0.1:%d", port);   /* no scheme: loopback → http */
    json_t *m = json_pack ("{s:{s:[s,s]}}", "mirror.invalid", "endpoint", down, up);
    imgpull_opts_t o = {.mirrors = m, .timeout_s = 10, .arch = "amd64"};
    if (pull (s, "t", "mirror.invalid/acc/busybox:1", &o, NULL, err, sizeof err))
        fail_msg ("pull through the mirror: %s", err);
    assert_int_equal (imgstore_blob_fetches (s), 2);
    json_decref (m);
    imgstore_destroy (&s);
}

static void
test_multiarch (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s7");
    char err[1024] = "", r[256];
    json_t *rec = NULL;
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:multi", port);
    if (pull (s, "t", r, NULL, &rec, err, sizeof err))
        fail_msg ("multi: %s", err);
    assert_string_equal (json_string_value (json_object_get (rec, "digest")), index_digest);
    assert_string_equal (json_string_value (json_object_get (rec, "manifestDigest")), amd64_digest);
    assert_string_equal (json_string_value (json_object_get (rec, "architecture")), "amd64");
    assert_int_equal (json_array_size (json_object_get (rec, "blobs")), 4);   /* + the index */
    json_decref (rec);
    imgpull_opts_t arm = {.timeout_s = 10, .arch = "arm64"};
    assert_int_equal (imgstore_pull (s, "arm", r, &arm, &rec, err, sizeof err), 0);
    assert_string_equal (json_string_value (json_object_get (rec, "manifestDigest")), arm64_digest);
    assert_string_equal (json_string_value (json_object_get (rec, "architecture")), "arm64");
    json_decref (rec);
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:armonly", port);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), IMG_ERR_PLATFORM);
    assert_non_null (strstr (err, "no manifest for linux/amd64"));
    assert_non_null (strstr (err, "acc/busybox:armonly"));
    imgstore_destroy (&s);
}

static void
test_import (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s8");
    char err[1024] = "", p[256];
    json_t *names = NULL, *rec = NULL;
    snprintf (p, sizeof p, "%s/oci.tar", D);
    if (imgstore_import (s, "t", p, &names, err, sizeof err))
        fail_msg ("oci-archive: %s", err);
    assert_int_equal (json_array_size (names), 1);
    assert_string_equal (json_string_value (json_array_get (names, 0)), "example.com/imp/oci:1");
    json_decref (names);
    json_t *a = imgstore_get (s, "t", "example.com/imp/oci:1");
    assert_non_null (a);
    assert_string_equal (json_string_value (json_object_get (a, "manifestDigest")), amd64_digest);
    snprintf (p, sizeof p, "%s/docker.tar", D);
    if (imgstore_import (s, "t", p, &names, err, sizeof err))
        fail_msg ("docker-archive: %s", err);
    assert_string_equal (json_string_value (json_array_get (names, 0)), "example.com/imp/docker:2");
    json_decref (names);
    json_t *b = imgstore_get (s, "t", "example.com/imp/docker:2");
    assert_non_null (b);
    assert_string_equal (json_string_value (json_array_get (json_object_get (json_object_get (b, "config"), "Cmd"), 0)),
                         "/bin/sh");
    /* the docker archive's uncompressed layer has the same diff id: one unpacked layer for both */
    assert_true (json_equal (json_object_get (a, "layers"), json_object_get (b, "layers")));
    assert_int_equal (imgstore_blob_fetches (s), 0);
    /* and a pull of the same image needs only the manifest and config */
    assert_int_equal (pull (s, "t", ref1, NULL, &rec, err, sizeof err), 0);
    assert_true (json_equal (json_object_get (a, "layers"), json_object_get (rec, "layers")));
    json_decref (rec);
    json_decref (a);
    json_decref (b);
    /* not an image archive */
    snprintf (p, sizeof p, "%s/junk.tar", D);
    char cmd[512];
    snprintf (cmd, sizeof cmd, "tar -C %s -cf %s reg/config.yml", D, p);
    assert_int_equal (system (cmd), 0);
    assert_int_equal (imgstore_import (s, "t", p, NULL, err, sizeof err), IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, "neither"));
    imgstore_destroy (&s);
}

static void
test_remove_gc_touch (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s9");
    char err[1024] = "", r[256], p[256];
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:multi", port);
    assert_int_equal (pull (s, "t", ref1, NULL, NULL, err, sizeof err), 0);
    assert_int_equal (pull (s, "t", r, NULL, NULL, err, sizeof err), 0);
    snprintf (p, sizeof p, "%s/oci.tar", D);
    assert_int_equal (imgstore_import (s, "u", p, NULL, err, sizeof err), 0);
    assert_int_equal (count_dir (s, "blobs/sha256"), 4);
    assert_int_equal (count_dir (s, "layers"), 1);
    json_t *in_use = json_pack ("[s]", amd64_digest);
    /* refused: in use (the multi image's manifest digest is the same amd64 manifest) */
    assert_int_equal (imgstore_remove (s, "t", ref1, in_use, err, sizeof err), -1);
    assert_non_null (strstr (err, "in use"));
    assert_int_equal (imgstore_remove (s, "t", r, in_use, err, sizeof err), -1);
    assert_int_equal (imgstore_remove (s, "t", "example.com/nope:1", NULL, err, sizeof err), IMG_ERR_NOT_FOUND);
    /* multi removed: its index blob goes, the shared ones stay */
    assert_int_equal (imgstore_remove (s, "t", r, NULL, err, sizeof err), 0);
    assert_null (imgstore_get (s, "t", r));
    assert_int_equal (count_dir (s, "blobs/sha256"), 3);
    assert_int_equal (count_dir (s, "layers"), 1);
    /* touch orders gc: u's import is used now, t's pull was before */
    json_t *before = imgstore_get (s, "u", "example.com/imp/oci:1");
    usleep (5000);
    imgstore_touch (s, "u", "example.com/imp/oci:1");
    json_t *after = imgstore_get (s, "u", "example.com/imp/oci:1");
    assert_true (json_integer_value (json_object_get (after, "lastUsed")) >
                 json_integer_value (json_object_get (before, "lastUsed")));
    json_decref (before);
    json_decref (after);
    /* the disk is not 100% used: nothing to do */
    assert_int_equal (imgstore_gc (s, 100, 99, NULL), 0);
    /* above 0%, down to 0%: every image not in use goes */
    json_t *none = json_array ();
    assert_int_equal (imgstore_gc (s, 0, 0, in_use), 0);   /* both remaining use amd64_digest */
    assert_int_equal (imgstore_gc (s, 0, 0, none), 2);
    json_t *l = imgstore_list (s, NULL);
    assert_int_equal (json_array_size (l), 0);
    json_decref (l);
    assert_int_equal (count_dir (s, "blobs/sha256"), 0);
    assert_int_equal (count_dir (s, "layers"), 0);
    json_decref (none);
    json_decref (in_use);
    imgstore_destroy (&s);
}

/* gc.lock holds across handles and processes: while another handle (the shim's pull) or another
 * process holds it shared, a second handle's remove refuses ("try again") and its GC removes
 * nothing, and the pull's temp files survive a new handle's open (troupe runtime rmi opening the
 * store); once released, both work. */
static void
test_lock_across_handles (void **state)
{
    (void) state;
    imgstore_t *a = fresh ("s11"), *b = fresh ("s11");
    char err[1024] = "", p[512];
    assert_int_equal (pull (a, "t", ref1, NULL, NULL, err, sizeof err), 0);
    json_t *none = json_array ();
    /* handle a pins (what its pulls hold); handle b may not remove or collect */
    int pin = imgstore_pin (a);
    assert_true (pin >= 0);
    assert_int_equal (imgstore_remove (b, "t", ref1, none, err, sizeof err), -1);
    assert_non_null (strstr (err, "try again"));
    assert_int_equal (imgstore_gc (b, 0, 0, none), 0);
    json_t *still = imgstore_get (b, "t", ref1);
    assert_non_null (still);
    json_decref (still);
    /* a pull's temp file: a third handle opened meanwhile does not sweep it */
    snprintf (p, sizeof p, "%s/tmp/pull-in-flight", imgstore_root (a));
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fclose (f);
    imgstore_t *c = fresh ("s11");
    assert_int_equal (access (p, F_OK), 0);
    imgstore_destroy (&c);
    imgstore_unpin (pin);
    /* another process holds it: the same */
    int go[2], held[2];
    assert_int_equal (pipe (go), 0);
    assert_int_equal (pipe (held), 0);
    pid_t kid = fork ();
    if (kid == 0) {
        char ch;
        int k = imgstore_pin (a);
        if (write (held[1], "x", 1) != 1 || read (go[0], &ch, 1) != 1)
            _exit (1);
        imgstore_unpin (k);
        _exit (k >= 0 ? 0 : 2);
    }
    char ch;
    assert_int_equal (read (held[0], &ch, 1), 1);
    assert_int_equal (imgstore_remove (b, "t", ref1, none, err, sizeof err), -1);
    assert_non_null (strstr (err, "try again"));
    assert_int_equal (write (go[1], "x", 1), 1);
    int st;
    assert_int_equal (waitpid (kid, &st, 0), kid);
    assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
    close (go[0]), close (go[1]), close (held[0]), close (held[1]);
    /* released: remove works, and a new open sweeps the stale temp file */
    assert_int_equal (imgstore_remove (b, "t", ref1, none, err, sizeof err), 0);
    assert_null (imgstore_get (a, "t", ref1));
    c = fresh ("s11");
    assert_int_equal (access (p, F_OK), -1);
    imgstore_destroy (&c);
    json_decref (none);
    imgstore_destroy (&a);
    imgstore_destroy (&b);
}

typedef struct {
    imgstore_t *s;
    const char *ref;
    int rc;
    char err[1024];
} job_t;

static void *
pull_thread (void *arg)
{
    job_t *j = arg;
    j->rc = pull (j->s, "t", j->ref, NULL, NULL, j->err, sizeof j->err);
    return NULL;
}

static void
test_parallel_and_sweep (void **state)
{
    (void) state;
    imgstore_t *s = fresh ("s10");
    char r[256], p[512];
    snprintf (r, sizeof r, "127.0.0.1:%d/acc/busybox:multi", port);
    job_t j[3] = {{.s = s, .ref = ref1}, {.s = s, .ref = r}, {.s = s, .ref = ref1}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create (&t[i], NULL, pull_thread, &j[i]);
    for (int i = 0; i < 3; i++) {
        pthread_join (t[i], NULL);
        if (j[i].rc)
            fail_msg ("parallel pull %d: %s", i, j[i].err);
    }
    assert_int_equal (count_dir (s, "layers"), 1);
    assert_int_equal (count_dir (s, "tmp"), 0);
    /* a crash mid-pull leaves temp files: swept at open */
    snprintf (p, sizeof p, "%s/tmp/blob-half", imgstore_root (s));
    FILE *f = fopen (p, "w");
    fputs ("half", f);
    fclose (f);
    char d[200];
    snprintf (d, sizeof d, "%.150s/tmp/layer-half/fs", imgstore_root (s));
    snprintf (p, sizeof p, "mkdir -p %s && touch %s/x", d, d);
    assert_int_equal (system (p), 0);
    imgstore_destroy (&s);
    s = fresh ("s10");
    assert_int_equal (count_dir (s, "tmp"), 0);
    json_t *l = imgstore_list (s, "t");
    assert_int_equal (json_array_size (l), 2);
    json_decref (l);
    imgstore_destroy (&s);
}

static const char *
missing_tool (void)
{
    static const char *tools[] = {"docker-registry", "skopeo", "umoci", "busybox", "jq", "curl", "htpasswd"};
    static char buf[64];
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        char cmd[128];
        snprintf (cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tools[i]);
        if (system (cmd) != 0) {
            snprintf (buf, sizeof buf, "%s", tools[i]);
            return buf;
        }
    }
    return NULL;
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest pure[] = {
        cmocka_unit_test (test_challenge),
        cmocka_unit_test (test_credentials),
        cmocka_unit_test (test_manifest_parse),
    };
    int rc = cmocka_run_group_tests_name ("registry parsers", pure, NULL, NULL);
    if (rc)
        return rc;
    if (geteuid () != 0) {
        printf ("SKIP: test_imgstore needs root (layers keep owners and make whiteout devices)\n");
        return 77;
    }
    const char *t = missing_tool ();
    if (t) {
        printf ("SKIP: test_imgstore needs %s (scripts/deps.sh test: docker-registry skopeo umoci busybox-static jq "
                "curl apache2-utils)\n", t);
        return 77;
    }
    if (!getenv ("TROUPE_SRC")) {
        printf ("SKIP: TROUPE_SRC is not set (ctest sets it; the fixture script lives there)\n");
        return 77;
    }
    strcpy (D, "/tmp/troupe-imgstore.XXXXXX");
    if (!mkdtemp (D))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_pull),
        cmocka_unit_test (test_errors),
        cmocka_unit_test (test_digest),
        cmocka_unit_test (test_auth),
        cmocka_unit_test (test_mirror),
        cmocka_unit_test (test_multiarch),
        cmocka_unit_test (test_import),
        cmocka_unit_test (test_remove_gc_touch),
        cmocka_unit_test (test_lock_across_handles),
        cmocka_unit_test (test_parallel_and_sweep),
    };
    return cmocka_run_group_tests_name ("imgstore with docker-registry", tests, group_setup, group_teardown);
}
