/* libFuzzer target: the YAML loader (what `troupe apply` reads), then schema validation and
 * defaulting of every document, then dump + reload, which must give the same documents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "core/yaml.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static schema_registry_t *reg;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[512];
    if (!reg)
        reg = schema_registry_load_embedded (err, sizeof err);
    json_t *docs = tr_yaml_load ((const char *) data, size, err, sizeof err);
    if (!docs) {
        if (!err[0])
            abort (); /* a refusal must say why */
        return 0;
    }
    size_t i;
    json_t *d;
    json_array_foreach (docs, i, d) {
        if (json_is_object (d)) {
            json_t *copy = json_deep_copy (d);
            schema_default (reg, copy);
            schema_validate (reg, copy, err, sizeof err);
            json_decref (copy);
        }
        char *out = tr_yaml_dump (d);
        if (!out)
            abort ();
        json_t *back = tr_yaml_load (out, strlen (out), err, sizeof err);
        if (!back || !json_equal (json_array_get (back, 0), d))
            abort (); /* dump must read back as the same value */
        json_decref (back);
        free (out);
    }
    json_decref (docs);
    return 0;
}
