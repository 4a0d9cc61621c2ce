/* libFuzzer target: the envelope decoder (what every server reads from a socket).
 * Any input must decode or fail with a code; a decoded envelope must re-encode and decode equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/value.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    tr_env_t e;
    char err[256];
    int rc = tr_env_decode (&e, data, size, err, sizeof err);
    if (rc != TR_OK) {
        if (!err[0])
            abort (); /* every refusal must say why */
        return 0;
    }
    char *buf;
    size_t len;
    if (tr_env_encode (&e, &buf, &len))
        abort ();
    tr_env_t d;
    if (tr_env_decode (&d, buf, len, err, sizeof err) != TR_OK)
        abort ();
    if (d.id != e.id || d.verb != e.verb || strcmp (d.kind, e.kind) || strcmp (d.name, e.name) || d.rv != e.rv ||
        (e.body && !json_equal (e.body, d.body)) || (e.opts && !json_equal (e.opts, d.opts)))
        abort ();
    free (buf);
    tr_env_clear (&d);
    tr_env_clear (&e);
    return 0;
}
