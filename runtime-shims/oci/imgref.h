/* imgref — image references as the Docker/OCI tools spell them, pure.
 *
 *   busybox                      → docker.io / library/busybox : latest
 *   127.0.0.1:5000/acc/busybox:1 → 127.0.0.1:5000 / acc/busybox : 1
 *   quay.io/x/y@sha256:<64 hex>  → quay.io / x/y, digest
 *
 * The first path component is a registry when it contains '.' or ':' or is "localhost"
 * (docker's rule); otherwise the registry is docker.io and a one-component name gets
 * "library/". A reference with neither tag nor digest gets tag "latest". Repository components
 * are [a-z0-9]+ joined by '.', '_', '__' or '-'+; tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
#ifndef TROUPE_IMGREF_H
#define TROUPE_IMGREF_H

#include <stddef.h>

typedef struct {
    char registry[256];    /* "docker.io", "127.0.0.1:5000" */
    char repository[512];  /* "library/busybox" */
    char tag[130];         /* "" when only a digest was given */
    char digest[80];       /* "sha256:<64 hex>" or "" */
} imgref_t;

/* 0, or -1 with err naming what is wrong ("invalid reference format: ..."). */
int imgref_parse (const char *s, imgref_t *out, char *err, size_t errlen);
/* The normalized name: "registry/repository:tag", "registry/repository@digest" (digest wins
 * over a tag when both were given: "registry/repository:tag@digest"). */
void imgref_format (const imgref_t *r, char *buf, size_t len);
/* 1 when the pull policy default is Always (Kubernetes: the tag is "latest" or absent and no digest). */
int imgref_is_latest (const imgref_t *r);

#endif
