/* imgstore — the node's image store: content by digest, images by name per runtime namespace,
 * layers unpacked once.
 *
 * Layout under root (one per node, e.g. DATA/oci/images):
 *   blobs/sha256/<hex>            blobs as pulled (manifests, configs, layer tarballs), verified
 *                                 against their digest before they are renamed into place
 *   layers/<chainid-hex>/fs       a layer unpacked with libarchive, whiteouts in overlayfs form
 *                                 (0:0 char device for ".wh.NAME", xattr trusted.overlay.opaque=y
 *                                 for ".wh..wh..opq"); written to a temp dir, renamed when done
 *   images/<namespace>/<sha256 of the normalized ref>.json   the image records (below)
 *
 * An image record (json object):
 *   {"name": "127.0.0.1:5000/acc/busybox:1", "namespace": "troupe.io",
 *    "digest": "sha256:…" (what the reference names: the index's digest for a multi-arch image),
 *    "manifestDigest": "sha256:…" (the linux/<arch> image manifest's; = digest when no index),
 *    "configDigest": "sha256:…", "size": bytes of the layers' blobs,
 *    "config": {…the image config's "config" object: Entrypoint, Cmd, Env, WorkingDir, User…},
 *    "architecture": "amd64", "os": "linux",
 *    "layers": ["/abs/path/layers/<chain>/fs", …]  (lowest first),
 *    "blobs": ["sha256:…", …] (every blob the image holds: index, manifest, config, layers),
 *    "pulledAt": ms since the epoch, "lastUsed": ms,
 *    "source": "pull" | "import" (given offline: imgstore_import, the preload folder, the seed)}
 *
 *   gc.lock                       flock: shared by pulls and imports, exclusive for remove and
 *                                 GC, across handles and processes (imgstore_pin)
 *
 * Thread-safety: pulls of different images may run in parallel threads; every file is written
 * to a temp name and renamed, so a crash mid-pull leaves no half blob, layer or record (temp
 * files are swept at open, when no pull or import holds gc.lock). Reference counting of images in use is the shim's (it passes the
 * set of in-use digests to remove/gc).
 */
#ifndef TROUPE_IMGSTORE_H
#define TROUPE_IMGSTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct imgstore imgstore_t;

/* Why a pull failed; the message says the rest (the registry's own words where it gave any). */
typedef enum {
    IMG_OK = 0,
    IMG_ERR_NOT_FOUND = -1,    /* manifest unknown, repository unknown, 404 */
    IMG_ERR_AUTH = -2,         /* 401/403 after trying the credentials we have */
    IMG_ERR_NETWORK = -3,      /* cannot connect, TLS failure, timeout, 5xx */
    IMG_ERR_DIGEST = -4,       /* content does not match its digest */
    IMG_ERR_PLATFORM = -5,     /* no manifest for linux/<this arch> */
    IMG_ERR_DISK = -6,         /* ENOSPC, EIO while writing */
    IMG_ERR_CORRUPT = -7,      /* bad manifest JSON, truncated or unreadable layer, unsafe path */
    IMG_ERR_INVALID = -8,      /* bad reference */
} img_err_t;

typedef struct {
    /* registries spoken to over plain HTTP: "HOST:PORT" each; loopback (127.0.0.0/8, ::1,
     * localhost) is always plain HTTP */
    const char *const *insecure;
    int n_insecure;
    /* credentials: a ~/.docker/config.json-shaped object {"auths": {"host": {"auth": b64 |
     * "username","password"}}} (merged imagePullSecrets of type kubernetes.io/dockerconfigjson), or NULL */
    const json_t *auths;
    /* mirrors as k3s's registries.yaml "mirrors": {"docker.io": {"endpoint": ["http://…"]}}, or NULL */
    const json_t *mirrors;
    const char *arch;          /* GOARCH name; NULL = this machine's */
    int timeout_s;             /* per HTTP transfer stall; 0 = 30 */
} imgpull_opts_t;

imgstore_t *imgstore_open (const char *root, char *err, size_t errlen);
void imgstore_destroy (imgstore_t **self_p);
const char *imgstore_root (const imgstore_t *self);

/* The record of ref (any spelling: normalized with imgref) in namespace ns, or NULL. New reference. */
json_t *imgstore_get (imgstore_t *self, const char *ns, const char *ref);
/* Pulls ref into ns (blocking; run it in a thread). 0 and *record (new reference, may be NULL if
 * not wanted), or an img_err_t with err filled. A pull whose blobs are all present does no
 * transfer but the manifest's. */
int imgstore_pull (imgstore_t *self, const char *ns, const char *ref, const imgpull_opts_t *o, json_t **record,
                   char *err, size_t errlen);
/* Imports an OCI image layout or docker-archive (docker save) tarball: every image it names is
 * recorded in ns. *names: new array of the names imported (may be NULL). Names: OCI
 * "io.containerd.image.name", else "org.opencontainers.image.ref.name" when it is a full
 * reference (has '/', ':' or '@'), a bare tag T of x.tar being "localhost/x:T"; docker-archive
 * RepoTags. Blobs are verified against their digests, layers against the config's diff ids. */
int imgstore_import (imgstore_t *self, const char *ns, const char *tar_path, json_t **names, char *err, size_t errlen);
/* Records of ns (NULL = every namespace). New array. */
json_t *imgstore_list (imgstore_t *self, const char *ns);
/* Forgets ref in ns; blobs and layers no image uses any more are deleted. in_use: array of
 * manifest digests that running containers use (refused with -1 "in use" if ref's digest or
 * manifestDigest is one). IMG_ERR_NOT_FOUND (also -1) when ns has no such image. -1 "try again"
 * while a pull or an import holds gc.lock (any handle, any process). */
int imgstore_remove (imgstore_t *self, const char *ns, const char *ref, const json_t *in_use, char *err, size_t errlen);
/* Image GC as the kubelet's: when the filesystem holding root is above high_pct used, removes
 * unused images (not in in_use) least recently used first until below low_pct. Returns the
 * number removed (0 while a pull, an import or a remove holds gc.lock, in any process). */
int imgstore_gc (imgstore_t *self, int high_pct, int low_pct, const json_t *in_use);
/* Holds the store's gc.lock shared, as a pull does (waiting for a remove or a GC that runs):
 * meanwhile imgstore_remove and imgstore_gc of every handle, in every process, refuse. A pin
 * (>= 0) for imgstore_unpin, or -1 (errno). */
int imgstore_pin (imgstore_t *self);
void imgstore_unpin (int pin);
/* Marks an image used now (for GC order). */
void imgstore_touch (imgstore_t *self, const char *ns, const char *ref);
/* Blobs transferred from registries since open (metrics; tests check a second pull does none). */
uint64_t imgstore_blob_fetches (imgstore_t *self);

#endif
