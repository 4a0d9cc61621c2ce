/* registry — a client of the OCI distribution API (GET only), internal to the image store.
 *
 * Manifests are asked for with every media type the node understands (OCI index and manifest,
 * Docker manifest list and schema2 manifest); an index is resolved to the linux/<arch> entry.
 * Blobs are streamed to a file while hashed (libsodium), redirects followed, and verified
 * against their digest; a manifest pulled by digest is verified too.
 *
 * Endpoints: each mirror of the registry host (k3s registries.yaml "mirrors", "*" as a catch-
 * all), in order, then the registry itself (http for loopback and insecure hosts, https with
 * the system CAs otherwise; docker.io is registry-1.docker.io).
 * Auth: a 401 with "Bearer realm=…,service=…,scope=…" → a token from the realm (with basic
 * credentials when we have some for that host) and the request again; "Basic" → again with
 * the credentials. One registry_t is used by one thread; several may run in parallel.
 *
 * Functions return 0 or an img_err_t (imgstore.h) with err in the registry's own words where
 * it gave any ({"errors":[{"code","message"}]}).
 */
#ifndef TROUPE_REGISTRY_H
#define TROUPE_REGISTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime-shims/oci/imgref.h"
#include "runtime-shims/oci/imgstore.h"

#define REGISTRY_MANIFEST_MAX (4 << 20)

typedef struct registry registry_t;

/* A manifest or index, parsed and checked (pure; fuzzed by tests/fuzz/fuzz_manifest.c). */
typedef struct {
    int is_index;
    char media_type[128];
    char pick[80];         /* index: the linux/<arch> manifest's digest */
    char config[80];       /* image: the config's digest */
    int64_t config_size;   /* image: its descriptor's size, -1 if the manifest gives none */
    json_t *layers;        /* image: [{digest, mediaType, size}] lowest first (owned) */
} registry_manifest_t;

/* body: the JSON; content_type: the response's Content-Type or NULL; arch: GOARCH name.
 * 0, IMG_ERR_CORRUPT (not JSON, schema1, missing or bad digests), or IMG_ERR_PLATFORM
 * ("no manifest for linux/amd64 (the index has linux/arm64)"). */
int registry_parse_manifest (const char *body, size_t len, const char *content_type, const char *arch,
                             registry_manifest_t *m, char *err, size_t errlen);
void registry_manifest_clear (registry_manifest_t *m);

/* A WWW-Authenticate challenge: scheme "Bearer"/"Basic" and its parameters (quoted or not). */
typedef struct {
    char scheme[16];
    char realm[1024];
    char service[256];
    char scope[512];
} registry_challenge_t;
/* 0, or -1 when hdr is not a challenge we can read. */
int registry_parse_challenge (const char *hdr, registry_challenge_t *c);

/* Basic credentials for host from a docker config.json-shaped object ({"auths": {key: {"auth":
 * b64(user:pass)} | {"username","password"}}}); keys may carry a scheme and path
 * ("https://index.docker.io/v1/" is docker.io). 1 found, 0 not. */
int registry_find_credentials (const json_t *auths, const char *host, char *user, size_t ulen, char *pass,
                               size_t plen);

/* "amd64", "arm64", … for this machine. */
const char *registry_default_arch (void);
/* "sha256:<hex>" of data into out (>= 72 bytes). */
void registry_digest (const void *data, size_t len, char *out);

registry_t *registry_new (const imgref_t *ref, const imgpull_opts_t *o, char *err, size_t errlen);
void registry_destroy (registry_t **self_p);

typedef struct {
    char top_digest[80];   /* what the reference names: the index's digest, or the manifest's */
    char *top_body;        /* the index, or NULL when the reference named a manifest */
    size_t top_len;
    char digest[80];       /* the image manifest's */
    char *body;
    size_t len;
    registry_manifest_t m; /* the image manifest, parsed */
} registry_resolved_t;

int registry_resolve (registry_t *self, registry_resolved_t *out, char *err, size_t errlen);
void registry_resolved_clear (registry_resolved_t *r);

/* GET the blob into fd (empty, at offset 0), verified against digest. size: its descriptor's
 * size (-1: unknown); a registry sending more is cut off at size+1 bytes and fewer is refused,
 * both IMG_ERR_CORRUPT naming the digest. *bytes: its size. */
int registry_get_blob (registry_t *self, const char *digest, int64_t size, int fd, uint64_t *bytes, char *err,
                       size_t errlen);

#endif
