/* The registry client against a registry that lies or asks for tokens: a tiny HTTP/1.1 server on
 * a loopback socket (a thread in this test; Debian's docker-registry can do neither). Asserts:
 *  - a blob longer than its descriptor's size is cut off (the server could not send it all, the
 *    file holds no more than size bytes) with IMG_ERR_CORRUPT naming the digest; a shorter one
 *    is refused naming both sizes; imgstore_pull passes the manifest's sizes down (a lying layer
 *    fails the pull, nothing of it is stored);
 *  - a manifest over REGISTRY_MANIFEST_MAX (4 MiB, containerd's bound) is refused;
 *  - the distribution spec's token flow: 401 + WWW-Authenticate: Bearer realm,service,scope →
 *    GET realm?service&scope with the basic credentials → {"token"}; the token is sent on the
 *    manifest and every blob request and fetched once; when the registry stops accepting it (expiry)
 *    a new one is fetched and the request retried; a wrong password is IMG_ERR_AUTH in the token
 *    server's own words, and no credentials at all says so. Needs no root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime-shims/oci/imgref.h"
#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/registry.h"

/* ---- the fake server ---- */

typedef struct {
    pthread_mutex_t mu;
    int lfd, port;
    pthread_t th;
    volatile int stop;
    /* content */
    char manifest_path[256];
    char *manifest;                 /* body served for any manifests/ request */
    size_t manifest_len;
    char config_digest[80], layer_digest[80];
    const char *config, *layer;     /* honest bodies */
    size_t config_len, layer_len;
    size_t layer_send;              /* bytes actually served for the layer (lies when != layer_len) */
    /* auth */
    int bearer;                     /* registry requires "Bearer <valid_token>" */
    char valid_token[64];
    int token_seq;                  /* tokens issued */
    int token_reqs;
    char token_basic_ok[128];       /* "Basic <b64>" the token server accepts */
    char last_token_query[512];
    /* observations */
    int requests, bearer_seen, unauth_seen;
    uint64_t layer_sent;            /* bytes of the layer body the server managed to write */
} fake_t;

static fake_t F;

static int
write_all (int fd, const void *b, size_t n)
{
    const char *p = b;
    while (n) {
        ssize_t w = send (fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static void
respond (int fd, int code, const char *extra_hdrs, const char *body, size_t len)
{
    char h[1024];
    int n = snprintf (h, sizeof h, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", code, len,
                      extra_hdrs ? extra_hdrs : "");
    if (write_all (fd, h, (size_t) n) == 0 && len)
        write_all (fd, body, len);
}

static void
serve_one (int fd)
{
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1) {
        ssize_t r = recv (fd, req + got, sizeof req - 1 - got, 0);
        if (r <= 0)
            return;
        got += (size_t) r;
        req[got] = 0;
        if (strstr (req, "\r\n\r\n"))
            break;
    }
    char method[8], path[1024];
    if (sscanf (req, "%7s %1023s", method, path) != 2)
        return;
    char auth[1024] = "";
    const char *a = strcasestr (req, "\r\nAuthorization:");
    if (a) {
        a += 16;
        a += strspn (a, " ");
        snprintf (auth, sizeof auth, "%.*s", (int) strcspn (a, "\r\n"), a);
    }
    pthread_mutex_lock (&F.mu);
    F.requests++;
    if (!strncmp (path, "/token", 6)) {
        F.token_reqs++;
        const char *q = strchr (path, '?');
        snprintf (F.last_token_query, sizeof F.last_token_query, "%s", q ? q + 1 : "");
        if (strcmp (auth, F.token_basic_ok)) {
            pthread_mutex_unlock (&F.mu);
            const char *b = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"invalid username or password for alice\"}]}";
            respond (fd, 401, "Content-Type: application/json\r\n", b, strlen (b));
            return;
        }
        snprintf (F.valid_token, sizeof F.valid_token, "tok-%d", ++F.token_seq);
        char b[128];
        snprintf (b, sizeof b, "{\"token\":\"%s\",\"expires_in\":60}", F.valid_token);
        pthread_mutex_unlock (&F.mu);
        respond (fd, 200, "Content-Type: application/json\r\n", b, strlen (b));
        return;
    }
    if (F.bearer) {
        char want[128];
        snprintf (want, sizeof want, "Bearer %s", F.valid_token);
        if (!F.valid_token[0] || strcmp (auth, want)) {
            F.unauth_seen++;
            char h[512];
            snprintf (h, sizeof h,
                      "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\",service=\"fake.registry\","
                      "scope=\"repository:acme/app:pull\"\r\nContent-Type: application/json\r\n",
                      F.port);
            pthread_mutex_unlock (&F.mu);
            const char *b = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}";
            respond (fd, 401, h, b, strlen (b));
            return;
        }
        F.bearer_seen++;
    }
    if (strstr (path, "/manifests/")) {
        char *m = F.manifest;
        size_t ml = F.manifest_len;
        pthread_mutex_unlock (&F.mu);
        respond (fd, 200, "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n", m, ml);
        return;
    }
    if (strstr (path, F.config_digest)) {
        pthread_mutex_unlock (&F.mu);
        respond (fd, 200, NULL, F.config, F.config_len);
        return;
    }
    if (strstr (path, F.layer_digest)) {
        size_t n = F.layer_send;
        pthread_mutex_unlock (&F.mu);
        char h[256];
        int hl = snprintf (h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
        if (write_all (fd, h, (size_t) hl))
            return;
        /* the honest bytes first, then filler: a registry (or a proxy) that keeps talking */
        char buf[65536];
        uint64_t sent = 0;
        while (sent < n) {
            size_t k = n - sent < sizeof buf ? n - sent : sizeof buf;
            if (sent < F.layer_len) {
                size_t h2 = F.layer_len - sent < k ? F.layer_len - sent : k;
                memcpy (buf, F.layer + sent, h2);
                memset (buf + h2, 'x', k - h2);
            } else {
                memset (buf, 'x', k);
            }
            if (write_all (fd, buf, k))
                break;
            sent += k;
        }
        pthread_mutex_lock (&F.mu);
        F.layer_sent = sent;
        pthread_mutex_unlock (&F.mu);
        return;
    }
    pthread_mutex_unlock (&F.mu);
    const char *b = "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown\"}]}";
    respond (fd, 404, NULL, b, strlen (b));
}

static void *
server (void *arg)
{
    (void) arg;
    while (!F.stop) {
        int fd = accept (F.lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        serve_one (fd);
        shutdown (fd, SHUT_WR);
        close (fd);
    }
    return NULL;
}

static char *
digest_of (const void *b, size_t n, char *out)
{
    registry_digest (b, n, out);
    return out;
}

#define CONFIG "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" \
               "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]},\"config\":{}}"
static const char LAYER[] = "not really a tarball, but its digest and size are right";

/* The manifest for CONFIG and LAYER, declaring layer_size as the layer's size. */
static void
set_manifest (long long layer_size)
{
    char *m = malloc (1024);
    int n = snprintf (m, 1024,
                      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                      "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                      "\"digest\":\"%s\",\"size\":%lld}]}",
                      F.config_digest, F.config_len, F.layer_digest, layer_size);
    pthread_mutex_lock (&F.mu);
    free (F.manifest);
    F.manifest = m;
    F.manifest_len = (size_t) n;
    pthread_mutex_unlock (&F.mu);
}

static int
setup (void **state)
{
    (void) state;
    memset (&F, 0, sizeof F);
    pthread_mutex_init (&F.mu, NULL);
    F.config = CONFIG;
    F.config_len = strlen (CONFIG);
    F.layer = LAYER;
    F.layer_len = strlen (LAYER);
    F.layer_send = F.layer_len;
    digest_of (F.config, F.config_len, F.config_digest);
    digest_of (F.layer, F.layer_len, F.layer_digest);
    set_manifest ((long long) F.layer_len);
    F.lfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    /* port 0: the kernel picks a free loopback port, so parallel runs never collide */
    if (F.lfd < 0 || bind (F.lfd, (struct sockaddr *) &sa, sizeof sa) || listen (F.lfd, 16) ||
        getsockname (F.lfd, (struct sockaddr *) &sa, &sl))
        return -1;
    F.port = ntohs (sa.sin_port);
    return pthread_create (&F.th, NULL, server, NULL);
}

static int
teardown (void **state)
{
    (void) state;
    F.stop = 1;
    shutdown (F.lfd, SHUT_RDWR);   /* wakes accept */
    pthread_join (F.th, NULL);
    close (F.lfd);
    free (F.manifest);
    pthread_mutex_destroy (&F.mu);
    return 0;
}

static registry_t *
client (const json_t *auths)
{
    char ref[128], err[512];
    imgref_t r;
    snprintf (ref, sizeof ref, "127.0.0.1:%d/acme/app:1", F.port);
    assert_int_equal (imgref_parse (ref, &r, err, sizeof err), 0);
    imgpull_opts_t o = {.auths = auths, .timeout_s = 10};
    registry_t *reg = registry_new (&r, &o, err, sizeof err);
    assert_non_null (reg);
    return reg;
}

static int
tmpfile_fd (char *path, size_t len)
{
    snprintf (path, len, "/tmp/troupe-reghttp.XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    return fd;
}

/* ---- bounds ---- */

static void
test_blob_longer_than_descriptor (void **state)
{
    (void) state;
    registry_t *reg = client (NULL);
    char err[1024], p[64];
    uint64_t bytes = 0;
    int fd = tmpfile_fd (p, sizeof p);
    const size_t lie = 64u << 20;   /* the registry would send 64 MiB for a 55-byte layer */
    pthread_mutex_lock (&F.mu);
    F.layer_send = lie;
    F.layer_sent = 0;
    pthread_mutex_unlock (&F.mu);
    int rc = registry_get_blob (reg, F.layer_digest, (int64_t) F.layer_len, fd, &bytes, err, sizeof err);
    assert_int_equal (rc, IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, F.layer_digest));
    assert_non_null (strstr (err, "more than the 55 bytes its descriptor says"));
    struct stat st;
    assert_int_equal (fstat (fd, &st), 0);
    assert_true (st.st_size <= (off_t) F.layer_len);   /* nothing past the descriptor reached the disk */
    close (fd);
    unlink (p);
    registry_destroy (&reg);
    /* the server was cut off: it could not write the 64 MiB (socket buffers hold a few MiB at most) */
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock (&F.mu);
        uint64_t s = F.layer_sent;
        pthread_mutex_unlock (&F.mu);
        if (s)
            break;
        usleep (20000);
    }
    pthread_mutex_lock (&F.mu);
    assert_true (F.layer_sent < lie / 2);
    F.layer_send = F.layer_len;
    pthread_mutex_unlock (&F.mu);
}

static void
test_blob_shorter_than_descriptor (void **state)
{
    (void) state;
    registry_t *reg = client (NULL);
    char err[1024], p[64];
    int fd = tmpfile_fd (p, sizeof p);
    /* the descriptor says one byte more than the (honest) blob */
    int rc = registry_get_blob (reg, F.layer_digest, (int64_t) F.layer_len + 1, fd, NULL, err, sizeof err);
    assert_int_equal (rc, IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, F.layer_digest));
    assert_non_null (strstr (err, "sent 55 bytes, its descriptor says 56"));
    close (fd);
    unlink (p);
    /* the right size, and an unknown one (-1: a manifest without sizes), are accepted */
    fd = tmpfile_fd (p, sizeof p);
    uint64_t bytes = 0;
    assert_int_equal (registry_get_blob (reg, F.layer_digest, (int64_t) F.layer_len, fd, &bytes, err, sizeof err), 0);
    assert_int_equal (bytes, F.layer_len);
    close (fd);
    unlink (p);
    fd = tmpfile_fd (p, sizeof p);
    assert_int_equal (registry_get_blob (reg, F.layer_digest, -1, fd, &bytes, err, sizeof err), 0);
    close (fd);
    unlink (p);
    registry_destroy (&reg);
}

static void
test_pull_uses_descriptor_size (void **state)
{
    (void) state;
    char root[64] = "/tmp/troupe-reghttp-store.XXXXXX", err[1024], ref[128], cmd[128];
    assert_non_null (mkdtemp (root));
    imgstore_t *s = imgstore_open (root, err, sizeof err);
    assert_non_null (s);
    snprintf (ref, sizeof ref, "127.0.0.1:%d/acme/app:1", F.port);
    imgpull_opts_t o = {.timeout_s = 10};
    /* a config whose descriptor size is wrong (3 bytes) is refused, naming the config */
    char *m = malloc (1024);
    snprintf (m, 1024,
              "{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\",\"size\":3},\"layers\":[{\"digest\":\"%s\","
              "\"size\":%zu}]}",
              F.config_digest, F.layer_digest, F.layer_len);
    pthread_mutex_lock (&F.mu);
    free (F.manifest);
    F.manifest = m;
    F.manifest_len = strlen (m);
    pthread_mutex_unlock (&F.mu);
    int rc = imgstore_pull (s, "k8s.io", ref, &o, NULL, err, sizeof err);
    assert_int_equal (rc, IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, F.config_digest));
    set_manifest ((long long) F.layer_len);
    /* a layer the registry sends 8 MiB of */
    pthread_mutex_lock (&F.mu);
    F.layer_send = 8u << 20;   /* 8 MiB for the layer the manifest says is 55 bytes */
    pthread_mutex_unlock (&F.mu);
    rc = imgstore_pull (s, "k8s.io", ref, &o, NULL, err, sizeof err);
    assert_int_equal (rc, IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, F.layer_digest));
    assert_non_null (strstr (err, "descriptor"));
    /* nothing of the lying layer was kept */
    char bp[1200];
    struct stat st;
    snprintf (bp, sizeof bp, "%s/blobs/sha256/%s", root, F.layer_digest + 7);
    assert_int_not_equal (stat (bp, &st), 0);
    pthread_mutex_lock (&F.mu);
    F.layer_send = F.layer_len;
    pthread_mutex_unlock (&F.mu);
    set_manifest ((long long) F.layer_len);
    imgstore_destroy (&s);
    snprintf (cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal (system (cmd), 0);
}

static void
test_manifest_too_big (void **state)
{
    (void) state;
    size_t n = REGISTRY_MANIFEST_MAX + 4096;
    char *m = malloc (n);
    memset (m, ' ', n);
    m[0] = '{';
    m[n - 1] = '}';
    pthread_mutex_lock (&F.mu);
    free (F.manifest);
    F.manifest = m;
    F.manifest_len = n;
    pthread_mutex_unlock (&F.mu);
    registry_t *reg = client (NULL);
    registry_resolved_t res;
    char err[1024];
    assert_int_equal (registry_resolve (reg, &res, err, sizeof err), IMG_ERR_CORRUPT);
    assert_non_null (strstr (err, "larger than 4194304 bytes"));
    registry_destroy (&reg);
    set_manifest ((long long) F.layer_len);
}

/* ---- bearer tokens ---- */

static json_t *
auths (const char *user, const char *pass)
{
    char host[64];
    snprintf (host, sizeof host, "127.0.0.1:%d", F.port);
    return json_pack ("{s:{s:{s:s,s:s}}}", "auths", host, "username", user, "password", pass);
}

static void
test_bearer_flow (void **state)
{
    (void) state;
    pthread_mutex_lock (&F.mu);
    F.bearer = 1;
    F.valid_token[0] = 0;
    F.token_reqs = F.token_seq = F.bearer_seen = F.unauth_seen = 0;
    unsigned char raw[] = "alice:s3cret";
    char b64[64];
    sodium_bin2base64 (b64, sizeof b64, raw, sizeof raw - 1, sodium_base64_VARIANT_ORIGINAL);
    snprintf (F.token_basic_ok, sizeof F.token_basic_ok, "Basic %s", b64);
    pthread_mutex_unlock (&F.mu);

    json_t *a = auths ("alice", "s3cret");
    registry_t *reg = client (a);
    registry_resolved_t res;
    char err[1024], p[64];
    assert_int_equal (registry_resolve (reg, &res, err, sizeof err), 0);
    assert_string_equal (res.m.config, F.config_digest);
    assert_int_equal (res.m.config_size, (int64_t) F.config_len);
    registry_resolved_clear (&res);
    for (int i = 0; i < 2; i++) {
        int fd = tmpfile_fd (p, sizeof p);
        const char *d = i ? F.layer_digest : F.config_digest;
        int64_t sz = (int64_t) (i ? F.layer_len : F.config_len);
        assert_int_equal (registry_get_blob (reg, d, sz, fd, NULL, err, sizeof err), 0);
        close (fd);
        unlink (p);
    }
    pthread_mutex_lock (&F.mu);
    assert_int_equal (F.token_reqs, 1);      /* one token for the manifest and both blobs */
    assert_int_equal (F.unauth_seen, 1);     /* only the very first request went without it */
    assert_int_equal (F.bearer_seen, 3);     /* manifest, config, layer: each with "Bearer tok-1" */
    assert_non_null (strstr (F.last_token_query, "service=fake.registry"));
    assert_non_null (strstr (F.last_token_query, "scope=repository%3Aacme%2Fapp%3Apull"));
    /* the token expires: the registry stops accepting tok-1 */
    snprintf (F.valid_token, sizeof F.valid_token, "expired");
    pthread_mutex_unlock (&F.mu);
    int fd = tmpfile_fd (p, sizeof p);
    assert_int_equal (registry_get_blob (reg, F.layer_digest, (int64_t) F.layer_len, fd, NULL, err, sizeof err), 0);
    close (fd);
    unlink (p);
    pthread_mutex_lock (&F.mu);
    assert_int_equal (F.token_reqs, 2);      /* fetched again once */
    assert_string_equal (F.valid_token, "tok-2");
    assert_int_equal (F.bearer_seen, 4);     /* and the retried request carried it */
    pthread_mutex_unlock (&F.mu);
    registry_destroy (&reg);
    json_decref (a);

    /* a wrong password: IMG_ERR_AUTH (ErrImagePull) in the token server's words */
    a = auths ("alice", "wrong");
    reg = client (a);
    assert_int_equal (registry_resolve (reg, &res, err, sizeof err), IMG_ERR_AUTH);
    assert_non_null (strstr (err, "HTTP 401"));
    assert_non_null (strstr (err, "invalid username or password for alice"));
    registry_destroy (&reg);
    json_decref (a);

    /* no credentials at all: the token server refuses the anonymous request the same way */
    reg = client (NULL);
    assert_int_equal (registry_resolve (reg, &res, err, sizeof err), IMG_ERR_AUTH);
    assert_non_null (strstr (err, "invalid username or password"));
    registry_destroy (&reg);

    pthread_mutex_lock (&F.mu);
    F.bearer = 0;
    pthread_mutex_unlock (&F.mu);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest t[] = {
        cmocka_unit_test (test_blob_longer_than_descriptor),
        cmocka_unit_test (test_blob_shorter_than_descriptor),
        cmocka_unit_test (test_pull_uses_descriptor_size),
        cmocka_unit_test (test_manifest_too_big),
        cmocka_unit_test (test_bearer_flow),
    };
    return cmocka_run_group_tests_name ("registry over HTTP (fake)", t, setup, teardown);
}
