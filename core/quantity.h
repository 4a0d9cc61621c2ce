/* quantity — Kubernetes resource quantities: "500m", "2", "1.5", "128Mi", "1G", "1e3".
 * Suffixes: m (milli), k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary). */
#ifndef TROUPE_QUANTITY_H
#define TROUPE_QUANTITY_H

#include <stdint.h>

/* Parses s into thousandths of the unit ("500m" → 500, "2" → 2000, "1Ki" → 1024000).
 * Returns 0, or -1 on a malformed string or overflow. */
int quantity_parse_milli (const char *s, int64_t *out_milli);
/* Parses s into whole units, rounding up ("1Gi" → 1073741824, "500m" → 1). 0 or -1. */
int quantity_parse (const char *s, int64_t *out);

#endif
