/* libFuzzer target: Secrets at rest. Two decoders read outside input: the EncryptionConfiguration
 * file (DATA/pki/secrets-encryption.yaml, also received from the store) and every stored Secret
 * value (LMDB, a snapshot). The first byte picks one:
 *   even: the rest is a configuration; parsed, or refused with a message naming a field; a parsed
 *         one seals a value and opens it back unchanged;
 *   odd:  the rest is a stored value, opened with a fixed configuration as it is and behind the
 *         secretbox prefix of a known key; opened or refused with a reason, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/encryption.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char fixed[] = "kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n"
                            "  - secretbox:\n      keys:\n"
                            "      - {name: key1, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n"
                            "  - identity: {}\n";

static void
open_one (const encryption_t *e, const void *val, size_t len)
{
    char *out = NULL, err[256] = "";
    size_t outlen = 0;
    if (encryption_open (e, val, len, &out, &outlen, err, sizeof err) == 0) {
        if (!out && outlen)
            abort ();
        free (out);
    } else if (!err[0])
        abort (); /* a refusal says why */
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char err[512] = "";
    if (data[0] % 2 == 0) {
        encryption_t *e = encryption_parse ((const char *) data + 1, size - 1, err, sizeof err);
        if (!e) {
            if (!err[0])
                abort ();
            return 0;
        }
        static const char plain[] = "{\"data\":{\"password\":\"aHVudGVyMg==\"}}";
        char *sealed = NULL, *back = NULL;
        size_t slen = 0, blen = 0;
        if (encryption_seal (e, plain, sizeof plain - 1, &sealed, &slen, err, sizeof err) == 0) {
            if (encryption_open (e, sealed, slen, &back, &blen, err, sizeof err) || blen != sizeof plain - 1 ||
                memcmp (back, plain, blen))
                abort (); /* what a configuration seals, it opens */
            free (back);
            free (sealed);
        }
        encryption_destroy (&e);
        return 0;
    }
    static encryption_t *e;
    if (!e && !(e = encryption_parse (fixed, sizeof fixed - 1, err, sizeof err)))
        abort ();
    open_one (e, data + 1, size - 1);
    open_one (NULL, data + 1, size - 1);
    size_t plen = strlen (ENC_SECRETBOX_PREFIX "key1:");
    char *v = malloc (plen + size - 1 + 1);
    if (!v)
        return 0;
    memcpy (v, ENC_SECRETBOX_PREFIX "key1:", plen);
    memcpy (v + plen, data + 1, size - 1);
    open_one (e, v, plen + size - 1);
    free (v);
    return 0;
}
