/* quantity — Kubernetes resource quantities. See quantity.h. */
#include "core/quantity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
quantity_parse_milli (const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    double v = strtod (s, &end);
    if (end == s || v < 0)
        return -1;
    double mult = 1;
    if (!strcmp (end, ""))
        mult = 1;
    else if (!strcmp (end, "m"))
        mult = 1e-3;
    else if (!strcmp (end, "k"))
        mult = 1e3;
    else if (!strcmp (end, "M"))
        mult = 1e6;
    else if (!strcmp (end, "G"))
        mult = 1e9;
    else if (!strcmp (end, "T"))
        mult = 1e12;
    else if (!strcmp (end, "P"))
        mult = 1e15;
    else if (!strcmp (end, "E"))
        mult = 1e18;
    else if (!strcmp (end, "Ki"))
        mult = 1024.0;
    else if (!strcmp (end, "Mi"))
        mult = 1048576.0;
    else if (!strcmp (end, "Gi"))
        mult = 1073741824.0;
    else if (!strcmp (end, "Ti"))
        mult = 1099511627776.0;
    else if (!strcmp (end, "Pi"))
        mult = 1125899906842624.0;
    else if (!strcmp (end, "Ei"))
        mult = 1152921504606846976.0;
    else
        return -1;
    double milli = ceil (v * mult * 1000.0 - 1e-6);
    if (!isfinite (milli) || milli > 9.2e18)
        return -1;
    *out = (int64_t) milli;
    return 0;
}

int
quantity_parse (const char *s, int64_t *out)
{
    int64_t m;
    if (quantity_parse_milli (s, &m))
        return -1;
    *out = m / 1000 + (m % 1000 != 0);
    return 0;
}
