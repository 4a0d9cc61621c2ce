/* libFuzzer target: what a CNI plugin prints on stdout (cni_parse_output) and the pod address
 * taken from a result (cni_result_ipv4). A plugin is a separate binary, possibly third-party:
 * its output must be parsed or refused with a message naming the plugin, never trusted. The
 * first byte says whether the plugin exited 0. A success yields an object or nothing; an
 * address taken from it is a dotted IPv4 that inet_pton accepts and fits the buffer. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-shims/oci/cni.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int ok = data[0] & 1;
    const char *out = (const char *) data + 1;
    size_t len = size - 1;
    char err[256] = "";
    json_t *r = NULL;
    int rc = cni_parse_output ("fuzz", ok, out, len, &r, err, sizeof err);
    if (rc) {
        if (r || strncmp (err, "plugin fuzz: ", 13))
            abort ();   /* a refusal names the plugin and returns nothing */
        return 0;
    }
    if (!ok)
        abort ();   /* a failed plugin is never a success */
    if (!r)
        return 0;
    if (!json_is_object (r))
        abort ();
    char ip[INET_ADDRSTRLEN], small[8];
    struct in_addr a;
    if (cni_result_ipv4 (r, ip, sizeof ip) == 0) {
        if (inet_pton (AF_INET, ip, &a) != 1)
            abort ();
    } else if (ip[0]) {
        abort ();   /* none found: ip is "" */
    }
    if (cni_result_ipv4 (r, small, sizeof small) == 0 &&
        (strlen (small) >= sizeof small || inet_pton (AF_INET, small, &a) != 1))
        abort ();   /* 8 bytes hold "1.2.3.4" at most: never a truncated address */
    json_decref (r);
    return 0;
}
