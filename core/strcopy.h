/* strcopy — the copies a hot path makes of short strings, without printf's format parser:
 * snprintf (buf, n, "%s", s) and "%llu" cost a parse of the format each, and the scheduler and
 * every actor's message dispatch make a handful of them per pod. Header only. */
#ifndef TROUPE_CORE_STRCOPY_H
#define TROUPE_CORE_STRCOPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* src (NULL: "") into dst[n], cut to fit and always terminated when n > 0, as snprintf "%s"
 * would. Returns strlen (src): a result >= n means it was cut. */
static inline size_t
tr_strlcpy (char *dst, const char *src, size_t n)
{
    size_t len = src ? strlen (src) : 0;
    if (n) {
        size_t k = len < n ? len : n - 1;
        if (k)
            memcpy (dst, src, k);
        dst[k] = 0;
    }
    return len;
}

/* v in decimal into buf, which holds 21 bytes (UINT64_MAX has 20 digits); returns the digits'
 * count. */
#define TR_U64_DEC_LEN 21
static inline size_t
tr_u64_dec (char *buf, uint64_t v)
{
    char tmp[TR_U64_DEC_LEN];
    size_t n = 0;
    do
        tmp[n++] = (char) ('0' + v % 10);
    while ((v /= 10));
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return n;
}

#endif
