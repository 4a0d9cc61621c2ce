/* libFuzzer target: the quantity parser (every resources.requests/limits of every manifest).
 * Any input must parse or be refused with a message naming it; a parsed value must format in
 * its format and read back equal, its negation must parse to the negated value, and whole units
 * must be the milli value rounded away from zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/quantity.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > 4096 || memchr (data, 0, size))
        return 0;   /* a C string ends at its first NUL */
    char *s = malloc (size + 2);
    if (!s)
        return 0;
    s[0] = '-';
    memcpy (s + 1, data, size);
    s[size + 1] = 0;
    char *in = s + 1;   /* the input; s is its negation when it has no sign */
    char err[256] = "";
    int64_t m = 42, units = 0;
    quantity_format_t f;
    if (quantity_parse_format (in, &m, &f, err, sizeof err)) {
        if (strncmp (err, "quantity \"", 10) || m != 42)
            abort ();   /* every refusal says why and leaves the output alone */
        if (quantity_parse (in, &units, NULL, 0) == 0)
            abort ();
        free (s);
        return 0;
    }
    char buf[QUANTITY_STRLEN];
    int64_t back;
    if (quantity_format (m, f, buf, sizeof buf) <= 0 || quantity_parse_milli (buf, &back, err, sizeof err) || back != m)
        abort ();
    if (quantity_parse (in, &units, NULL, 0) ||
        units != (m >= 0 ? m / 1000 + (m % 1000 != 0) : m / 1000 - (m % 1000 != 0)))
        abort ();
    if (in[0] != '+' && in[0] != '-') {
        int64_t neg;
        if (quantity_parse_milli (s, &neg, NULL, 0) || neg != -m)
            abort ();
    }
    free (s);
    return 0;
}
