/* libFuzzer target: the proxy's rule model from Services and EndpointSlices (pr_model_build),
 * objects anyone allowed to write them sends through the API, and its nft script (pr_diff).
 * Input: a JSON object {"s": [Service…], "e": [EndpointSlice…], "c": "cluster CIDR"}, or a
 * table listing for pr_model_from_nft_json. Invariants: the script has only the proxy's
 * commands, one per line, each on table ip troupe-proxy, with nothing that ends a command early
 * or starts a comment (';', '#') — no field of an object can inject nft syntax; a model diffed
 * with itself gives an empty script. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/proxy/proxyrules.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_script (const char *d)
{
    if (!d)
        return;
    for (const char *l = d; *l; ) {
        const char *nl = strchr (l, '\n');
        if (!nl)
            abort (); /* every command ends its line */
        size_t n = (size_t) (nl - l);
        if (strncmp (l, "add ", 4) && strncmp (l, "flush ", 6) && strncmp (l, "delete ", 7))
            abort ();
        if (!memmem (l, n, " ip troupe-proxy", 16) || memchr (l, '#', n))
            abort ();
        /* ';' only inside the fixed specs of maps, sets and base chains */
        if (memchr (l, ';', n) && strncmp (l, "add map ", 8) && strncmp (l, "add set ", 8) && strncmp (l, "add chain ", 10))
            abort ();
        l = nl + 1;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    json_t *in = json_loadb ((const char *) data, size, 0, NULL);
    if (json_is_object (in)) {
        pr_model_t *m = pr_model_build (json_object_get (in, "s"), json_object_get (in, "e"),
                                        json_string_value (json_object_get (in, "c")), NULL);
        if (!m)
            abort ();
        char *d = pr_diff (NULL, m);
        check_script (d);
        free (d);
        d = pr_diff (m, m);
        if (!d || *d)
            abort ();
        free (d);
        pr_model_free (&m);
    }
    json_decref (in);
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = 0;
    pr_model_t *r = pr_model_from_nft_json (text);
    if (r) {
        char *d = pr_diff (r, r);
        free (d);
        pr_model_free (&r);
    }
    free (text);
    return 0;
}
