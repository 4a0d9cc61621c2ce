/* libFuzzer target: the route dump decoder (routes_parse: rtnetlink messages as the kernel sends
 * them to the agent). Any input must be read or refused without reading out of bounds; every
 * route read has a prefix length of at most 32 and, planned against nothing wanted, is deleted
 * as it was read. The input is copied to an aligned buffer, as a receive buffer is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/agent/hostgw.h"
#include "actors/agent/routes.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    uint32_t *buf = malloc (size / 4 + 1 > 0 ? (size / 4 + 1) * 4 : 4);
    if (!buf)
        return 0;
    memcpy (buf, data, size);
    for (int proto = 0; proto < 2; proto++) {
        hostgw_route_t *r = NULL;
        size_t n = 0;
        routes_parse (buf, size, proto ? HOSTGW_PROTO : 3 /* RTPROT_BOOT */, &r, &n);
        for (size_t i = 0; i < n; i++)
            if (r[i].plen < 0 || r[i].plen > 32)
                abort ();
        hostgw_action_t *a = NULL;
        size_t na = hostgw_plan (NULL, 0, r, n, &a);
        if (na != n)
            abort ();
        for (size_t i = 0; i < na; i++)
            if (a[i].op != HOSTGW_DELETE || memcmp (&a[i].r, &r[i], sizeof r[i]))
                abort ();
        free (a);
        free (r);
    }
    free (buf);
    return 0;
}
