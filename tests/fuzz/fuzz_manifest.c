/* libFuzzer target: the registry's JSON (image manifests, indexes / manifest lists) and the
 * platform choice, plus the WWW-Authenticate challenge parser — what a hostile registry or
 * mirror controls. Any input must be accepted with checked digests or refused with a message;
 * a parsed image has a sha256 config digest and sha256 layers, an index a sha256 pick. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime-shims/oci/registry.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
digest_ok (const char *d)
{
    if (strncmp (d, "sha256:", 7) || strlen (d) != 71)
        return 0;
    return strspn (d + 7, "0123456789abcdef") == 64;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const char *arches[] = {"amd64", "arm64", "arm"};
    registry_manifest_t m;
    char err[512];
    if (size > (1 << 20))
        return 0;
    const char *arch = arches[size % 3];
    for (int ct = 0; ct < 2; ct++) {
        err[0] = 0;
        int rc = registry_parse_manifest ((const char *) data, size,
                                          ct ? "application/vnd.oci.image.manifest.v1+json; charset=utf-8" : NULL, arch,
                                          &m, err, sizeof err);
        if (rc) {
            if ((rc != IMG_ERR_CORRUPT && rc != IMG_ERR_PLATFORM) || !err[0] || m.layers)
                abort ();
            continue;
        }
        if (m.is_index) {
            if (!digest_ok (m.pick) || m.layers)
                abort ();
        } else {
            size_t i;
            json_t *l;
            if (!digest_ok (m.config) || !json_is_array (m.layers))
                abort ();
            json_array_foreach (m.layers, i, l) {
                /* a size, or -1 when the descriptor has none (then the blob is bounded by nothing
                 * but its digest check) */
                if (!digest_ok (json_string_value (json_object_get (l, "digest"))) ||
                    json_integer_value (json_object_get (l, "size")) < -1)
                    abort ();
            }
        }
        registry_manifest_clear (&m);
    }
    /* the same bytes as a challenge header */
    char *h = malloc (size + 1);
    if (!h)
        return 0;
    memcpy (h, data, size);
    h[size] = 0;
    registry_challenge_t c;
    if (registry_parse_challenge (h, &c) == 0) {
        if (strcasecmp (c.scheme, "Bearer") && strcasecmp (c.scheme, "Basic"))
            abort ();
        if (!strcasecmp (c.scheme, "Bearer") && !c.realm[0])
            abort ();
    }
    free (h);
    return 0;
}
