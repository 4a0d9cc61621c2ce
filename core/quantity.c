/* quantity — Kubernetes resource quantities, integer arithmetic only. See quantity.h.
 *
 * A parsed number is reduced to its significant digits D (no leading or trailing zeros) and a
 * power of ten, so the value in milli is D * 10^q * 2^b (b from a binary suffix). With q >= 0
 * that is a checked multiplication; with q < 0 the last -q digits of D are a fraction below one
 * milli, which rounds the result up (for a binary suffix the fraction is first multiplied by 2^b,
 * exactly, by doubling its decimal digits). */
#include "core/quantity.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXP_MAX 2147483647LL   /* Kubernetes keeps the exponent in an int32 */

static int
is_digit (char c)
{
    return c >= '0' && c <= '9';
}

/* Writes `quantity "<s>": <fmt...>` into err; returns -1. */
static int
qerr (char *err, size_t errlen, const char *s, const char *fmt, ...)
{
    if (!err || !errlen)
        return -1;
    char shown[96];
    size_t n = 0;
    for (const char *p = s; *p && n + 8 < sizeof shown; p++) {
        unsigned char c = (unsigned char) *p;
        if (p - s >= 48) {
            memcpy (shown + n, "...", 3);
            n += 3;
            break;
        }
        if (c == '"' || c == '\\')
            n += (size_t) snprintf (shown + n, sizeof shown - n, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            n += (size_t) snprintf (shown + n, sizeof shown - n, "\\x%02x", c);
        else
            shown[n++] = (char) c;
    }
    shown[n] = 0;
    int w = snprintf (err, errlen, "quantity \"%s\": ", shown);
    if (w < 0 || (size_t) w >= errlen)
        return -1;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err + w, errlen - (size_t) w, fmt, ap);
    va_end (ap);
    return -1;
}

/* The suffix at sfx: 0 with *exp10 (decimal) or *pow2 (binary) and *fmt, else -1. */
static int
parse_suffix (const char *sfx, int64_t *exp10, int *pow2, quantity_format_t *fmt)
{
    static const struct {
        const char *s;
        int exp10, pow2;
    } table[] = {
        {"", 0, 0},   {"n", -9, 0}, {"u", -6, 0}, {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
        {"G", 9, 0},  {"T", 12, 0}, {"P", 15, 0}, {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
        {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp (sfx, table[i].s)) {
            *exp10 = table[i].exp10;
            *pow2 = table[i].pow2;
            *fmt = table[i].pow2 ? QUANTITY_BINARY_SI : QUANTITY_DECIMAL_SI;
            return 0;
        }
    return -1;
}

/* ceil(frac * 2^b) where frac = 0.d[0]d[1]...d[k-1] (decimal digits, values 0..9, clobbered). */
static uint64_t
frac_times_pow2_ceil (unsigned char *d, size_t k, int b)
{
    uint64_t whole = 0;
    for (int j = 0; j < b; j++) {
        unsigned carry = 0;
        for (size_t i = k; i-- > 0;) {
            unsigned x = d[i] * 2u + carry;
            d[i] = (unsigned char) (x % 10);
            carry = x / 10;
        }
        whole = whole * 2 + carry;
    }
    for (size_t i = 0; i < k; i++)
        if (d[i])
            return whole + 1;
    return whole;
}

int
quantity_parse_format (const char *s, int64_t *out_milli, quantity_format_t *out_fmt, char *err, size_t errlen)
{
    static const char *hint = "quantities look like 500m, 2, 1.5, 128Mi, 1e3";
    if (!s)
        return qerr (err, errlen, "", "missing value");
    if (!*s)
        return qerr (err, errlen, s, "empty string: %s", hint);
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    const char *ip = p;
    while (is_digit (*p))
        p++;
    size_t il = (size_t) (p - ip);
    const char *fp = p;
    size_t fl = 0;
    if (*p == '.') {
        fp = ++p;
        while (is_digit (*p))
            p++;
        fl = (size_t) (p - fp);
    }
    if (il + fl == 0) {
        unsigned char c = (unsigned char) *p;
        if (c >= 0x20 && c < 0x7f)
            return qerr (err, errlen, s, "invalid character '%c' at position %zu: a number is required (%s)", c,
                         (size_t) (p - s) + 1, hint);
        if (c)
            return qerr (err, errlen, s, "invalid byte 0x%02x at position %zu: a number is required (%s)", c,
                         (size_t) (p - s) + 1, hint);
        return qerr (err, errlen, s, "a number is required (%s)", hint);
    }

    /* suffix */
    const char *sfx = p;
    int64_t exp10 = 0;
    int pow2 = 0;
    quantity_format_t fmt = QUANTITY_DECIMAL_SI;
    if (parse_suffix (sfx, &exp10, &pow2, &fmt)) {
        if ((*sfx == 'e' || *sfx == 'E') && sfx[1]) {
            const char *e = sfx + 1;
            int eneg = 0;
            if (*e == '+' || *e == '-')
                eneg = *e++ == '-';
            if (!is_digit (*e))
                return qerr (err, errlen, s, "exponent \"%s\" needs digits after %c", sfx, *sfx);
            int64_t x = 0;
            for (; is_digit (*e); e++) {
                x = x * 10 + (*e - '0');
                if (x > EXP_MAX)
                    return qerr (err, errlen, s, "exponent out of range (at most %lld)", EXP_MAX);
            }
            if (*e)
                return qerr (err, errlen, s, "invalid character '%c' at position %zu in exponent \"%s\"", *e,
                             (size_t) (e - s) + 1, sfx);
            exp10 = eneg ? -x : x;
            fmt = QUANTITY_DECIMAL_EXPONENT;
        } else if (!strchr ("eEinumkKMGTP", *sfx)) {
            unsigned char c = (unsigned char) *sfx;
            if (c >= 0x20 && c < 0x7f)
                return qerr (err, errlen, s, "invalid character '%c' at position %zu (%s)", c,
                             (size_t) (sfx - s) + 1, hint);
            return qerr (err, errlen, s, "invalid byte 0x%02x at position %zu (%s)", c, (size_t) (sfx - s) + 1,
                         hint);
        } else {
            return qerr (err, errlen, s, "unknown suffix \"%.16s\": supported are n u m k M G T P E (decimal), "
                         "Ki Mi Gi Ti Pi Ei (binary), e<exponent> (e.g. 1e3)", sfx);
        }
    }

    /* significant digits: int digits then fraction digits, without leading or trailing zeros */
    const char *first = NULL, *last = NULL;   /* first and last non-zero digit */
    for (const char *c = ip; c < ip + il; c++)
        if (*c != '0') {
            if (!first)
                first = c;
            last = c;
        }
    for (const char *c = fp; c < fp + fl; c++)
        if (*c != '0') {
            if (!first)
                first = c;
            last = c;
        }
    if (!first) {   /* zero, whatever its sign and suffix */
        *out_milli = 0;
        if (out_fmt)
            *out_fmt = fmt == QUANTITY_BINARY_SI ? QUANTITY_DECIMAL_SI : fmt;
        return 0;
    }
    /* the digit string D = first..last skipping the '.', and its power of ten: value = D * 10^pos */
    size_t L = 0;
    for (const char *c = first; c <= last; c++)
        L += *c != '.';
    int64_t pos;   /* exponent of the last digit of D */
    if (last < ip + il)
        pos = (int64_t) (ip + il - 1 - last);
    else
        pos = -(int64_t) (last - fp + 1);
    int64_t q = pos + 3 + exp10;   /* value in milli = D * 10^q * 2^pow2 */
    const int64_t max = INT64_MAX;
    uint64_t v;
    if (q >= 0) {
        if ((int64_t) L + q > 19)
            goto too_large;
        v = 0;
        for (const char *c = first; c <= last; c++)
            if (*c != '.')
                v = v * 10 + (uint64_t) (*c - '0');   /* at most 19 digits: fits in uint64 */
        for (int64_t i = 0; i < q; i++) {
            if (v > UINT64_MAX / 10)
                goto too_large;
            v *= 10;
        }
        if (pow2) {
            if (v > (UINT64_MAX >> pow2))
                goto too_large;
            v <<= pow2;
        }
    } else {
        uint64_t k = (uint64_t) -q;   /* the last k digits of D are below one milli */
        uint64_t nint = L > k ? L - k : 0;
        if (nint > 19)
            goto too_large;
        v = 0;
        size_t seen = 0;
        const char *c = first;
        for (; seen < nint; c++)
            if (*c != '.') {
                v = v * 10 + (uint64_t) (*c - '0');
                seen++;
            }
        if (pow2 == 0) {
            v += 1;   /* the rest is a non-zero fraction (D ends in a non-zero digit): round up */
        } else {
            /* binary suffixes carry no exponent, so k <= fl (+3) and the digits are all in s */
            unsigned char *d = calloc ((size_t) k, 1);
            if (!d)
                return qerr (err, errlen, s, "out of memory");
            size_t off = (size_t) (k - (L - nint));   /* leading zeros when D is shorter than k */
            for (size_t i = off; c <= last; c++)
                if (*c != '.')
                    d[i++] = (unsigned char) (*c - '0');
            uint64_t f = frac_times_pow2_ceil (d, (size_t) k, pow2);
            free (d);
            if (v > (UINT64_MAX >> pow2))
                goto too_large;
            v <<= pow2;
            if (v > UINT64_MAX - f)
                goto too_large;
            v += f;
        }
    }
    if (v > (uint64_t) max)
        goto too_large;
    *out_milli = neg ? -(int64_t) v : (int64_t) v;
    if (out_fmt)
        *out_fmt = fmt == QUANTITY_BINARY_SI && v < 1000 ? QUANTITY_DECIMAL_SI : fmt;
    return 0;
too_large:
    return qerr (err, errlen, s, "too large: a quantity must fit in 9223372036854775807m (about 8Ei)");
}

int
quantity_parse_milli (const char *s, int64_t *out_milli, char *err, size_t errlen)
{
    return quantity_parse_format (s, out_milli, NULL, err, errlen);
}

int
quantity_parse (const char *s, int64_t *out, char *err, size_t errlen)
{
    int64_t m;
    if (quantity_parse_format (s, &m, NULL, err, errlen))
        return -1;
    if (m >= 0)
        *out = m / 1000 + (m % 1000 != 0);
    else
        *out = m / 1000 - (m % 1000 != 0);
    return 0;
}

int
quantity_format (int64_t milli, quantity_format_t fmt, char *buf, size_t len)
{
    static const char *dec[] = {"", "k", "M", "G", "T", "P", "E"};
    static const char *exps[] = {"", "e3", "e6", "e9", "e12", "e15", "e18"};
    static const char *bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    const char *sign = milli < 0 ? "-" : "";
    uint64_t m = milli < 0 ? (uint64_t) 0 - (uint64_t) milli : (uint64_t) milli;
    int w;
    if (m % 1000) {
        w = snprintf (buf, len, "%s%llu%s", sign, (unsigned long long) m,
                      fmt == QUANTITY_DECIMAL_EXPONENT ? "e-3" : "m");
    } else {
        uint64_t u = m / 1000;
        int i = 0;
        if (fmt == QUANTITY_BINARY_SI && u >= 1024) {
            while (i < 6 && u % 1024 == 0) {
                u /= 1024;
                i++;
            }
            w = snprintf (buf, len, "%s%llu%s", sign, (unsigned long long) u, bin[i]);
        } else {
            while (u && i < 6 && u % 1000 == 0) {
                u /= 1000;
                i++;
            }
            w = snprintf (buf, len, "%s%llu%s", sign, (unsigned long long) u,
                          fmt == QUANTITY_DECIMAL_EXPONENT ? exps[i] : dec[i]);
        }
    }
    return w < 0 || (size_t) w >= len ? -1 : w;
}
