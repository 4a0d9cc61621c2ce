/* registry — see registry.h. libcurl easy handle per registry_t (connections reused across the
 * requests of one pull), libsodium for the hashes, jansson for the JSON. */
#include "runtime-shims/oci/registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MAX_ENDPOINTS 16
#define ERRBODY_MAX 8192

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    if (sodium_init () < 0)
        abort ();
}

/* ---- pure helpers ---- */

void
registry_digest (const void *data, size_t len, char *out)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    pthread_once (&global_once, global_init);
    crypto_hash_sha256 (h, data, len);
    strcpy (out, "sha256:");
    sodium_bin2hex (out + 7, 65, h, sizeof h);
}

static int
digest_ok (const char *d)
{
    if (!d || strncmp (d, "sha256:", 7) || strlen (d) != 71)
        return 0;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

const char *
registry_default_arch (void)
{
    struct utsname u;
    if (uname (&u) < 0)
        return "amd64";
    static const struct {
        const char *m, *go;
    } map[] = {{"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "arm"}, {"armv6l", "arm"}, {"i686", "386"},
               {"i386", "386"}, {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp (u.machine, map[i].m))
            return map[i].go;
    return "amd64";
}

static const char *
default_variant (const char *arch)
{
    return !strcmp (arch, "arm64") ? "v8" : !strcmp (arch, "arm") ? "v7" : "";
}

static int
pick_platform (json_t *manifests, const char *arch, registry_manifest_t *m, char *err, size_t errlen)
{
    size_t i;
    json_t *d;
    int best = -1, best_score = -1;
    char seen[512] = "";
    json_array_foreach (manifests, i, d) {
        json_t *p = json_object_get (d, "platform");
        const char *os = json_string_value (json_object_get (p, "os"));
        const char *a = json_string_value (json_object_get (p, "architecture"));
        const char *v = json_string_value (json_object_get (p, "variant"));
        const char *dg = json_string_value (json_object_get (d, "digest"));
        if (!json_is_object (d) || !digest_ok (dg)) {
            snprintf (err, errlen, "index: manifests[%zu]: digest missing or not sha256:<64 hex>", i);
            return IMG_ERR_CORRUPT;
        }
        if (os && a && strlen (seen) + strlen (os) + strlen (a) + 4 < sizeof seen)
            snprintf (seen + strlen (seen), sizeof seen - strlen (seen), "%s%s/%s", seen[0] ? ", " : "", os, a);
        if (!os || !a || strcmp (os, "linux") || strcmp (a, arch))
            continue;
        int score = !v || !*v || !strcmp (v, default_variant (arch)) ? 2 : 1;
        if (score > best_score) {
            best = (int) i;
            best_score = score;
        }
    }
    if (best < 0) {
        snprintf (err, errlen, "no manifest for linux/%s (the index has %s)", arch, seen[0] ? seen : "none");
        return IMG_ERR_PLATFORM;
    }
    snprintf (m->pick, sizeof m->pick, "%s", json_string_value (json_object_get (json_array_get (manifests, best), "digest")));
    return 0;
}

int
registry_parse_manifest (const char *body, size_t len, const char *content_type, const char *arch,
                         registry_manifest_t *m, char *err, size_t errlen)
{
    json_error_t je;
    memset (m, 0, sizeof *m);
    json_t *j = json_loadb (body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object (j)) {
        snprintf (err, errlen, "manifest: not a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
        json_decref (j);
        return IMG_ERR_CORRUPT;
    }
    const char *mt = json_string_value (json_object_get (j, "mediaType"));
    if (!mt && content_type) {
        /* Content-Type may carry parameters */
        size_t n = strcspn (content_type, "; \t\r\n");
        snprintf (m->media_type, sizeof m->media_type, "%.*s", (int) n, content_type);
    } else {
        snprintf (m->media_type, sizeof m->media_type, "%s", mt ? mt : "");
    }
    int rc = 0;
    json_t *manifests = json_object_get (j, "manifests");
    if (json_object_get (j, "fsLayers") || json_integer_value (json_object_get (j, "schemaVersion")) == 1) {
        snprintf (err, errlen, "manifest: Docker schema 1 is not supported");
        rc = IMG_ERR_CORRUPT;
    } else if (json_is_array (manifests) && !json_object_get (j, "layers")) {
        m->is_index = 1;
        rc = pick_platform (manifests, arch, m, err, errlen);
    } else {
        json_t *cfg = json_object_get (j, "config");
        json_t *layers = json_object_get (j, "layers");
        const char *cd = json_string_value (json_object_get (cfg, "digest"));
        json_t *csz = json_object_get (cfg, "size");
        if (!digest_ok (cd) || (csz && (!json_is_integer (csz) || json_integer_value (csz) < 0))) {
            snprintf (err, errlen, "manifest: config.digest missing or not sha256:<64 hex>, or config.size bad");
            rc = IMG_ERR_CORRUPT;
        } else if (!json_is_array (layers)) {
            snprintf (err, errlen, "manifest: layers is not an array");
            rc = IMG_ERR_CORRUPT;
        } else {
            snprintf (m->config, sizeof m->config, "%s", cd);
            m->config_size = csz ? (int64_t) json_integer_value (csz) : -1;
            m->layers = json_array ();
            size_t i;
            json_t *l;
            json_array_foreach (layers, i, l) {
                const char *ld = json_string_value (json_object_get (l, "digest"));
                const char *lmt = json_string_value (json_object_get (l, "mediaType"));
                json_t *sz = json_object_get (l, "size");
                if (!digest_ok (ld) || (sz && (!json_is_integer (sz) || json_integer_value (sz) < 0))) {
                    snprintf (err, errlen, "manifest: layers[%zu]: digest or size missing or bad", i);
                    rc = IMG_ERR_CORRUPT;
                    break;
                }
                if (lmt && strstr (lmt, "foreign")) {
                    snprintf (err, errlen, "manifest: layers[%zu]: foreign layer %s is not supported", i, lmt);
                    rc = IMG_ERR_CORRUPT;
                    break;
                }
                json_array_append_new (m->layers, json_pack ("{s:s,s:s,s:I}", "digest", ld, "mediaType",
                                                             lmt ? lmt : "", "size", sz ? json_integer_value (sz) : (json_int_t) -1));
            }
        }
    }
    json_decref (j);
    if (rc)
        registry_manifest_clear (m);
    return rc;
}

void
registry_manifest_clear (registry_manifest_t *m)
{
    json_decref (m->layers);
    m->layers = NULL;
}

/* Reads a token (or quoted-string, with \-escapes) into out. Returns the position after it. */
static const char *
read_value (const char *p, char *out, size_t outlen)
{
    size_t o = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            if (o + 1 < outlen)
                out[o++] = *p;
            p++;
        }
        if (*p == '"')
            p++;
    } else {
        while (*p && *p != ',' && !isspace ((unsigned char) *p)) {
            if (o + 1 < outlen)
                out[o++] = *p;
            p++;
        }
    }
    if (outlen)
        out[o] = 0;
    return p;
}

int
registry_parse_challenge (const char *hdr, registry_challenge_t *c)
{
    memset (c, 0, sizeof *c);
    const char *p = hdr;
    while (isspace ((unsigned char) *p))
        p++;
    size_t n = 0;
    while (p[n] && !isspace ((unsigned char) p[n]))
        n++;
    if (n == 0 || n >= sizeof c->scheme)
        return -1;
    memcpy (c->scheme, p, n);
    if (strcasecmp (c->scheme, "Bearer") && strcasecmp (c->scheme, "Basic"))
        return -1;
    p += n;
    for (;;) {
        while (isspace ((unsigned char) *p) || *p == ',')
            p++;
        if (!*p)
            break;
        char key[32];
        size_t k = 0;
        while (*p && *p != '=' && *p != ',' && !isspace ((unsigned char) *p)) {
            if (k + 1 < sizeof key)
                key[k++] = (char) tolower ((unsigned char) *p);
            p++;
        }
        key[k] = 0;
        while (isspace ((unsigned char) *p))
            p++;
        if (*p != '=')
            continue;   /* a token68 or junk: skipped */
        p++;
        while (isspace ((unsigned char) *p))
            p++;
        char scratch[64];
        if (!strcmp (key, "realm"))
            p = read_value (p, c->realm, sizeof c->realm);
        else if (!strcmp (key, "service"))
            p = read_value (p, c->service, sizeof c->service);
        else if (!strcmp (key, "scope"))
            p = read_value (p, c->scope, sizeof c->scope);
        else
            p = read_value (p, scratch, sizeof scratch);
    }
    if (!strcasecmp (c->scheme, "Bearer") && !c->realm[0])
        return -1;
    return 0;
}

/* "https://host:port/path" or "host" → "host:port" */
static void
url_host (const char *url, char *host, size_t len)
{
    const char *p = strstr (url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn (p, "/");
    snprintf (host, len, "%.*s", (int) n, p);
}

static void
canonical_host (char *h)
{
    if (!strcmp (h, "index.docker.io") || !strcmp (h, "registry-1.docker.io"))
        strcpy (h, "docker.io");
}

int
registry_find_credentials (const json_t *auths, const char *host, char *user, size_t ulen, char *pass, size_t plen)
{
    const json_t *map = json_object_get (auths, "auths") ? json_object_get (auths, "auths") : auths;
    const char *key;
    json_t *v;
    char want[256], h[256];
    snprintf (want, sizeof want, "%s", host);
    canonical_host (want);
    if (!json_is_object (map))
        return 0;
    pthread_once (&global_once, global_init);
    json_object_foreach ((json_t *) map, key, v) {
        url_host (key, h, sizeof h);
        canonical_host (h);
        if (strcmp (h, want))
            continue;
        const char *u = json_string_value (json_object_get (v, "username"));
        const char *pw = json_string_value (json_object_get (v, "password"));
        const char *a = json_string_value (json_object_get (v, "auth"));
        if (u && pw) {
            snprintf (user, ulen, "%s", u);
            snprintf (pass, plen, "%s", pw);
            return 1;
        }
        if (a) {
            unsigned char bin[1024];
            size_t blen = 0;
            if (sodium_base642bin (bin, sizeof bin - 1, a, strlen (a), "\n\r ", &blen, NULL,
                                   sodium_base64_VARIANT_ORIGINAL) < 0)
                continue;
            bin[blen] = 0;
            char *colon = memchr (bin, ':', blen);
            if (!colon)
                continue;
            *colon = 0;
            snprintf (user, ulen, "%s", (char *) bin);
            snprintf (pass, plen, "%s", colon + 1);
            sodium_memzero (bin, sizeof bin);
            return 1;
        }
    }
    return 0;
}

/* ---- the client ---- */

typedef struct {
    char base[512];   /* "http://127.0.0.1:5000" */
    char host[256];
    char *bearer;     /* token for this endpoint, or NULL */
    int basic;        /* send the basic credentials */
    int has_creds;
    char user[256], pass[512];
} endpoint_t;

struct registry {
    imgref_t ref;
    endpoint_t ep[MAX_ENDPOINTS];
    int n_ep, good;
    int timeout_s;
    char arch[32];
    CURL *curl;
};

static int
is_loopback (const char *hostport)
{
    char h[256];
    snprintf (h, sizeof h, "%s", hostport);
    if (h[0] == '[') {
        char *e = strchr (h, ']');
        if (e)
            *e = 0;
        return !strcmp (h + 1, "::1");
    }
    char *c = strchr (h, ':');
    if (c)
        *c = 0;
    return !strcmp (h, "localhost") || !strncmp (h, "127.", 4);
}

static int
is_insecure (const imgpull_opts_t *o, const char *hostport)
{
    if (is_loopback (hostport))
        return 1;
    for (int i = 0; o && i < o->n_insecure; i++) {
        const char *s = o->insecure[i];
        if (!s)
            continue;
        if (!strcmp (s, hostport))
            return 1;
        size_t n = strlen (s);   /* "HOST" matches every port of HOST */
        if (!strchr (s, ':') && !strncmp (hostport, s, n) && (hostport[n] == ':' || !hostport[n]))
            return 1;
    }
    return 0;
}

static void
add_endpoint (registry_t *r, const char *base, const imgpull_opts_t *o)
{
    if (r->n_ep >= MAX_ENDPOINTS)
        return;
    endpoint_t *e = &r->ep[r->n_ep++];
    memset (e, 0, sizeof *e);
    snprintf (e->base, sizeof e->base, "%s", base);
    size_t n = strlen (e->base);
    while (n && e->base[n - 1] == '/')
        e->base[--n] = 0;
    if (n >= 3 && !strcmp (e->base + n - 3, "/v2"))
        e->base[n - 3] = 0;
    url_host (e->base, e->host, sizeof e->host);
    char h[256];
    snprintf (h, sizeof h, "%s", e->host);
    if (!strcmp (h, "registry-1.docker.io"))
        strcpy (h, r->ref.registry);
    if (o && o->auths)
        e->has_creds = registry_find_credentials (o->auths, h, e->user, sizeof e->user, e->pass, sizeof e->pass);
}

registry_t *
registry_new (const imgref_t *ref, const imgpull_opts_t *o, char *err, size_t errlen)
{
    pthread_once (&global_once, global_init);
    registry_t *r = calloc (1, sizeof *r);
    if (!r || !(r->curl = curl_easy_init ())) {
        free (r);
        snprintf (err, errlen, "registry: out of memory");
        return NULL;
    }
    r->ref = *ref;
    r->timeout_s = o && o->timeout_s > 0 ? o->timeout_s : 30;
    snprintf (r->arch, sizeof r->arch, "%s", o && o->arch ? o->arch : registry_default_arch ());
    json_t *mirror = NULL;
    if (o && o->mirrors) {
        mirror = json_object_get (o->mirrors, ref->registry);
        if (!mirror)
            mirror = json_object_get (o->mirrors, "*");
    }
    size_t i;
    json_t *ep;
    json_array_foreach (json_object_get (mirror, "endpoint"), i, ep) {
        const char *s = json_string_value (ep);
        char base[512];
        if (!s || !*s)
            continue;
        if (strstr (s, "://"))
            snprintf (base, sizeof base, "%s", s);
        else
            snprintf (base, sizeof base, "%s://%s", is_insecure (o, s) ? "http" : "https", s);
        add_endpoint (r, base, o);
    }
    char base[512];
    const char *host = strcmp (ref->registry, "docker.io") ? ref->registry : "registry-1.docker.io";
    snprintf (base, sizeof base, "%s://%s", is_insecure (o, ref->registry) ? "http" : "https", host);
    add_endpoint (r, base, o);
    return r;
}

void
registry_destroy (registry_t **self_p)
{
    registry_t *r = *self_p;
    if (!r)
        return;
    for (int i = 0; i < r->n_ep; i++) {
        free (r->ep[i].bearer);
        sodium_memzero (r->ep[i].pass, sizeof r->ep[i].pass);
    }
    curl_easy_cleanup (r->curl);
    free (r);
    *self_p = NULL;
}

/* One transfer's capture: headers of the last response, its body to memory or a file. */
typedef struct {
    CURL *curl;
    int fd;                 /* >= 0: the body goes there (hashed), up to fd_max bytes if >= 0 */
    int64_t fd_max;
    char *mem;              /* else here, up to mem_max */
    size_t len, cap, mem_max;
    int too_big, write_errno;
    crypto_hash_sha256_state sha;
    uint64_t bytes;
    char errbody[ERRBODY_MAX];
    size_t errbody_len;
    char www_auth[2048];
    char content_type[256];
} xfer_t;

static void
xfer_reset (xfer_t *x)
{
    x->len = 0;
    x->too_big = x->write_errno = 0;
    x->bytes = 0;
    x->errbody_len = 0;
    x->errbody[0] = x->www_auth[0] = x->content_type[0] = 0;
    crypto_hash_sha256_init (&x->sha);
    if (x->fd >= 0) {
        if (ftruncate (x->fd, 0) < 0 || lseek (x->fd, 0, SEEK_SET) < 0)
            x->write_errno = errno;
    }
}

static size_t
on_header (char *buf, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;
    char line[2048];
    snprintf (line, sizeof line, "%.*s", (int) (len < sizeof line - 1 ? len : sizeof line - 1), buf);
    line[strcspn (line, "\r\n")] = 0;
    if (!strncmp (line, "HTTP/", 5)) {   /* a new response (after a redirect): forget the last's */
        x->www_auth[0] = x->content_type[0] = 0;
    } else if (!strncasecmp (line, "www-authenticate:", 17)) {
        const char *v = line + 17 + strspn (line + 17, " \t");
        if (!x->www_auth[0] || (!strncasecmp (v, "bearer", 6) && strncasecmp (x->www_auth, "bearer", 6)))
            snprintf (x->www_auth, sizeof x->www_auth, "%s", v);
    } else if (!strncasecmp (line, "content-type:", 13)) {
        snprintf (x->content_type, sizeof x->content_type, "%s", line + 13 + strspn (line + 13, " \t"));
    }
    return len;
}

static size_t
on_body (char *buf, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo (x->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) {
        size_t room = sizeof x->errbody - 1 - x->errbody_len;
        size_t k = len < room ? len : room;
        memcpy (x->errbody + x->errbody_len, buf, k);
        x->errbody_len += k;
        x->errbody[x->errbody_len] = 0;
        return len;
    }
    if (x->fd >= 0 && x->fd_max >= 0 && x->bytes + len > (uint64_t) x->fd_max) {
        x->too_big = 1;   /* more than the descriptor says: stop at once, keep nothing of it */
        x->bytes += len;
        return 0;
    }
    x->bytes += len;
    if (x->fd >= 0) {
        crypto_hash_sha256_update (&x->sha, (const unsigned char *) buf, len);
        size_t off = 0;
        while (off < len) {
            ssize_t w = write (x->fd, buf + off, len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                x->write_errno = errno;
                return 0;
            }
            off += (size_t) w;
        }
        return len;
    }
    if (x->len + len > x->mem_max) {
        x->too_big = 1;
        return 0;
    }
    if (x->len + len + 1 > x->cap) {
        size_t nc = (x->len + len + 1) * 2;
        char *m = realloc (x->mem, nc);
        if (!m) {
            x->write_errno = ENOMEM;
            return 0;
        }
        x->mem = m;
        x->cap = nc;
    }
    memcpy (x->mem + x->len, buf, len);
    x->len += len;
    x->mem[x->len] = 0;
    return len;
}

/* The registry's {"errors":[{code, message}]} as "CODE: message", or the body's start. */
static void
describe_error (const xfer_t *x, char *code_out, size_t code_len, char *msg, size_t msglen)
{
    json_t *j = json_loadb (x->errbody, x->errbody_len, 0, NULL);
    json_t *e0 = json_array_get (json_object_get (j, "errors"), 0);
    const char *code = json_string_value (json_object_get (e0, "code"));
    const char *m = json_string_value (json_object_get (e0, "message"));
    code_out[0] = 0;
    if (code) {
        snprintf (code_out, code_len, "%s", code);
        snprintf (msg, msglen, "%s: %s", code, m ? m : "");
    } else if (x->errbody_len) {
        snprintf (msg, msglen, "%.200s", x->errbody);
        msg[strcspn (msg, "\r\n")] = 0;
    } else {
        msg[0] = 0;
    }
    json_decref (j);
}

static int
classify_status (long status, const char *code)
{
    if (status == 401 || status == 403 || !strcmp (code, "UNAUTHORIZED") || !strcmp (code, "DENIED"))
        return IMG_ERR_AUTH;
    if (status == 404 || strstr (code, "_UNKNOWN"))
        return IMG_ERR_NOT_FOUND;
    return IMG_ERR_NETWORK;   /* 5xx, 429, anything else the registry should not have said */
}

/* One GET of url into x with the endpoint's current auth. 0 with *status, or IMG_ERR_NETWORK /
 * IMG_ERR_DISK / IMG_ERR_CORRUPT (too big) for a transfer that did not complete. */
static int
perform (registry_t *r, endpoint_t *ep, const char *url, const char *accept, xfer_t *x, long *status, char *err,
         size_t errlen)
{
    CURL *c = r->curl;
    struct curl_slist *h = NULL;
    char line[8300];
    curl_easy_reset (c);
    xfer_reset (x);
    x->curl = c;
    if (accept) {
        snprintf (line, sizeof line, "Accept: %s", accept);
        h = curl_slist_append (h, line);
    }
    if (ep && ep->bearer) {
        snprintf (line, sizeof line, "Authorization: Bearer %s", ep->bearer);
        h = curl_slist_append (h, line);
    } else if (ep && ep->basic && ep->has_creds) {
        curl_easy_setopt (c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt (c, CURLOPT_USERNAME, ep->user);
        curl_easy_setopt (c, CURLOPT_PASSWORD, ep->pass);
    }
    curl_easy_setopt (c, CURLOPT_URL, url);
    curl_easy_setopt (c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);   /* blobs live on CDNs; auth is not sent there */
    curl_easy_setopt (c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, (long) r->timeout_s);
    curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, (long) r->timeout_s);
    curl_easy_setopt (c, CURLOPT_USERAGENT, "troupe");
    curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt (c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt (c, CURLOPT_WRITEDATA, x);
    CURLcode cc = curl_easy_perform (c);
    curl_slist_free_all (h);
    *status = 0;
    curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, status);
    if (x->write_errno) {
        snprintf (err, errlen, "GET %s: writing: %s", url, strerror (x->write_errno));
        return x->write_errno == ENOMEM ? IMG_ERR_NETWORK : IMG_ERR_DISK;
    }
    if (x->too_big) {
        if (x->fd >= 0)
            snprintf (err, errlen, "GET %s: more than the %lld bytes its descriptor says", url, (long long) x->fd_max);
        else
            snprintf (err, errlen, "GET %s: larger than %zu bytes", url, x->mem_max);
        return IMG_ERR_CORRUPT;
    }
    if (cc != CURLE_OK) {
        snprintf (err, errlen, "GET %s: %s", url, curl_easy_strerror (cc));
        return IMG_ERR_NETWORK;
    }
    return 0;
}

/* A token from the challenge's realm, with the endpoint's basic credentials if any. */
static int
fetch_token (registry_t *r, endpoint_t *ep, const registry_challenge_t *ch, char *err, size_t errlen)
{
    char url[4096], scope[600];
    if (ch->scope[0])
        snprintf (scope, sizeof scope, "%s", ch->scope);
    else
        snprintf (scope, sizeof scope, "repository:%s:pull", r->ref.repository);
    char *es = curl_easy_escape (r->curl, ch->service, 0);
    char *esc = curl_easy_escape (r->curl, scope, 0);
    snprintf (url, sizeof url, "%s%sservice=%s&scope=%s", ch->realm, strchr (ch->realm, '?') ? "&" : "?",
              es ? es : "", esc ? esc : "");
    curl_free (es);
    curl_free (esc);
    xfer_t x = {.fd = -1, .mem_max = 1 << 20, .fd_max = -1};
    endpoint_t tmp = *ep;   /* the token request carries basic credentials, never the old token */
    tmp.bearer = NULL;
    tmp.basic = 1;
    long status;
    int rc = perform (r, &tmp, url, "application/json", &x, &status, err, errlen);
    if (!rc && (status < 200 || status >= 300)) {
        char code[64], msg[512];
        describe_error (&x, code, sizeof code, msg, sizeof msg);
        rc = status == 401 || status == 403 ? IMG_ERR_AUTH : classify_status (status, code);
        snprintf (err, errlen, "token %s: HTTP %ld%s%s", ch->realm, status, msg[0] ? " " : "", msg);
    }
    if (!rc) {
        json_t *j = json_loadb (x.mem ? x.mem : "", x.len, 0, NULL);
        const char *t = json_string_value (json_object_get (j, "token"));
        if (!t)
            t = json_string_value (json_object_get (j, "access_token"));
        if (!t || !*t || strlen (t) > 8000 || strpbrk (t, "\r\n")) {
            snprintf (err, errlen, "token %s: no token in the answer", ch->realm);
            rc = IMG_ERR_AUTH;
        } else {
            free (ep->bearer);
            ep->bearer = strdup (t);
        }
        json_decref (j);
    }
    free (x.mem);
    return rc;
}

/* GET path from one endpoint, answering one auth challenge. 0 on a 2xx. */
static int
get_one (registry_t *r, endpoint_t *ep, const char *path, const char *accept, xfer_t *x, char *err, size_t errlen)
{
    char url[2048];
    snprintf (url, sizeof url, "%s%s", ep->base, path);
    for (int attempt = 0;; attempt++) {
        long status;
        int rc = perform (r, ep, url, accept, x, &status, err, errlen);
        if (rc)
            return rc;
        if (status >= 200 && status < 300)
            return 0;
        char code[64], msg[1024];
        describe_error (x, code, sizeof code, msg, sizeof msg);
        registry_challenge_t ch;
        if (status == 401 && attempt == 0 && x->www_auth[0] && !registry_parse_challenge (x->www_auth, &ch)) {
            if (!strcasecmp (ch.scheme, "Bearer")) {
                if ((rc = fetch_token (r, ep, &ch, err, errlen)))
                    return rc;
                continue;
            }
            if (ep->has_creds && !ep->basic) {
                ep->basic = 1;
                continue;
            }
        }
        rc = classify_status (status, code);
        snprintf (err, errlen, "GET %s: HTTP %ld%s%s%s", url, status, msg[0] ? " " : "", msg,
                  rc == IMG_ERR_AUTH && !ep->has_creds ? " (no credentials for this registry)" : "");
        return rc;
    }
}

/* GET path from the endpoints in order, starting with the one that answered last. */
static int
get_any (registry_t *r, const char *path, const char *accept, xfer_t *x, char *err, size_t errlen)
{
    int rc = IMG_ERR_NETWORK;
    snprintf (err, errlen, "no endpoint");
    for (int k = 0; k < r->n_ep; k++) {
        int i = (r->good + k) % r->n_ep;
        rc = get_one (r, &r->ep[i], path, accept, x, err, errlen);
        if (!rc) {
            r->good = i;
            return 0;
        }
        if (rc == IMG_ERR_DISK)
            return rc;
    }
    return rc;
}

static int
get_manifest (registry_t *r, const char *reference, char **body, size_t *len, char *ctype, size_t ctlen,
              char *digest, char *err, size_t errlen)
{
    char path[1024];
    xfer_t x = {.fd = -1, .mem_max = REGISTRY_MANIFEST_MAX, .fd_max = -1};
    snprintf (path, sizeof path, "/v2/%s/manifests/%s", r->ref.repository, reference);
    int rc = get_any (r, path, MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST, &x, err,
                      errlen);
    if (rc) {
        free (x.mem);
        return rc;
    }
    registry_digest (x.mem ? x.mem : "", x.len, digest);
    if (!strncmp (reference, "sha256:", 7) && strcmp (reference, digest)) {
        snprintf (err, errlen, "manifest %s: digest mismatch: expected %s, got %s", reference, reference, digest);
        free (x.mem);
        return IMG_ERR_DIGEST;
    }
    *body = x.mem ? x.mem : strdup ("");
    *len = x.len;
    snprintf (ctype, ctlen, "%s", x.content_type);
    return 0;
}

int
registry_resolve (registry_t *self, registry_resolved_t *out, char *err, size_t errlen)
{
    char ctype[256], e2[512];
    memset (out, 0, sizeof *out);
    const char *reference = self->ref.digest[0] ? self->ref.digest : self->ref.tag;
    int rc = get_manifest (self, reference, &out->body, &out->len, ctype, sizeof ctype, out->digest, err, errlen);
    if (rc)
        return rc;
    snprintf (out->top_digest, sizeof out->top_digest, "%s", out->digest);
    if ((rc = registry_parse_manifest (out->body, out->len, ctype, self->arch, &out->m, e2, sizeof e2))) {
        snprintf (err, errlen, "manifest %s: %s", reference, e2);
        registry_resolved_clear (out);
        return rc;
    }
    if (!out->m.is_index)
        return 0;
    out->top_body = out->body;
    out->top_len = out->len;
    out->body = NULL;
    char pick[80];
    snprintf (pick, sizeof pick, "%s", out->m.pick);
    registry_manifest_clear (&out->m);
    if ((rc = get_manifest (self, pick, &out->body, &out->len, ctype, sizeof ctype, out->digest, err, errlen))) {
        registry_resolved_clear (out);
        return rc;
    }
    rc = registry_parse_manifest (out->body, out->len, ctype, self->arch, &out->m, e2, sizeof e2);
    if (!rc && out->m.is_index) {
        snprintf (e2, sizeof e2, "an index inside an index");
        rc = IMG_ERR_CORRUPT;
    }
    if (rc) {
        snprintf (err, errlen, "manifest %s: %s", pick, e2);
        registry_resolved_clear (out);
    }
    return rc;
}

void
registry_resolved_clear (registry_resolved_t *r)
{
    free (r->top_body);
    free (r->body);
    registry_manifest_clear (&r->m);
    r->top_body = r->body = NULL;
}

int
registry_get_blob (registry_t *self, const char *digest, int64_t size, int fd, uint64_t *bytes, char *err,
                   size_t errlen)
{
    char path[1024];
    if (!digest_ok (digest)) {
        snprintf (err, errlen, "blob %s: not a sha256 digest", digest);
        return IMG_ERR_CORRUPT;
    }
    snprintf (path, sizeof path, "/v2/%s/blobs/%s", self->ref.repository, digest);
    xfer_t x = {.fd = fd, .mem_max = 0, .fd_max = size};
    int rc = get_any (self, path, NULL, &x, err, errlen);
    if (rc == IMG_ERR_CORRUPT && x.too_big) {
        snprintf (err, errlen, "blob %s: the registry sent more than the %lld bytes its descriptor says", digest,
                  (long long) size);
        return IMG_ERR_CORRUPT;
    }
    if (rc)
        return rc;
    if (size >= 0 && x.bytes != (uint64_t) size) {
        snprintf (err, errlen, "blob %s: the registry sent %llu bytes, its descriptor says %lld", digest,
                  (unsigned long long) x.bytes, (long long) size);
        return IMG_ERR_CORRUPT;
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    char got[80];
    crypto_hash_sha256_final (&x.sha, h);
    strcpy (got, "sha256:");
    sodium_bin2hex (got + 7, 65, h, sizeof h);
    if (strcmp (got, digest)) {
        snprintf (err, errlen, "blob %s: digest mismatch: expected %s, got %s", digest, digest, got);
        return IMG_ERR_DIGEST;
    }
    if (bytes)
        *bytes = x.bytes;
    return 0;
}
