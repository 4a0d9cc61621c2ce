/* quantity — Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource.Quantity):
 * "500m", "2", "1.5", "128Mi", "1G", "1e3", "-0.25Ki".
 *
 * Grammar (Kubernetes' documented one):
 *   <quantity>     ::= <signedNumber><suffix>
 *   <signedNumber> ::= [+-]? ( <digits> | <digits>. | <digits>.<digits> | .<digits> )
 *   <suffix>       ::= <binarySI> | <decimalSI> | <decimalExponent>
 *   <binarySI>     ::= Ki | Mi | Gi | Ti | Pi | Ei                    (powers of 1024)
 *   <decimalSI>    ::= n | u | m | "" | k | M | G | T | P | E          (powers of 1000; "E" is exa)
 *   <decimalExponent> ::= (e | E) [+-]? <digits>                     ("1e3", "5E-2")
 * No whitespace, no hex, no empty string. "1.G" and ".5" are numbers, as in Kubernetes.
 *
 * Values are held as thousandths of the unit ("milli") in an int64, computed with integer
 * arithmetic only (no floating point anywhere): exact for every milli-representable value, and a
 * value with a fraction of a milli rounds UP, away from zero, as Kubernetes rounds ("0.1m" → 1,
 * "1n" → 1, "-0.1m" → -1), "so that a request for some resource gets some". A value whose
 * milli count does not fit in int64 (above 9223372036854775807m, about 8Ei) is refused as too
 * large, where Kubernetes would saturate (see docs/decisions.md). Negative values parse, as in
 * Kubernetes; whether a field allows them is the validator's business.
 *
 * Errors are written to err (when not NULL) as `quantity "<input>": <what is wrong>`.
 */
#ifndef TROUPE_QUANTITY_H
#define TROUPE_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/* The three serialisation formats of Kubernetes; a parsed quantity keeps its input's format. */
typedef enum {
    QUANTITY_DECIMAL_SI = 0,   /* 500m, 2, 1k, 1G */
    QUANTITY_BINARY_SI,        /* 1Ki, 128Mi */
    QUANTITY_DECIMAL_EXPONENT, /* 1e3, 5e-3 */
} quantity_format_t;

/* Enough for any formatted quantity ("-9223372036854775807m" plus NUL). */
#define QUANTITY_STRLEN 32

/* Parses s into thousandths of the unit ("500m" → 500, "2" → 2000, "1Ki" → 1024000) and, when
 * fmt is not NULL, its format (binary suffixes on values below 1 become decimal, as in
 * Kubernetes). Returns 0, or -1 with err (if not NULL) naming the problem: empty, no digits,
 * an invalid character and its position, an unknown suffix, an exponent out of range, too large. */
int quantity_parse_format (const char *s, int64_t *out_milli, quantity_format_t *fmt, char *err, size_t errlen);
/* As quantity_parse_format without the format. */
int quantity_parse_milli (const char *s, int64_t *out_milli, char *err, size_t errlen);
/* Parses s into whole units, rounding up away from zero as Kubernetes' Value() ("1Gi" →
 * 1073741824, "500m" → 1, "-500m" → -1). 0, or -1 with err. */
int quantity_parse (const char *s, int64_t *out, char *err, size_t errlen);

/* Writes milli in Kubernetes' canonical form for fmt into buf: no fraction, the largest suffix
 * that loses nothing ("1500m", "2", "1k", "1536Mi", "1e3"); a binary value below 1024 or with a
 * fraction of a unit is written as decimal, as Kubernetes does. Returns the length written, or
 * -1 if buf (len) is too small (QUANTITY_STRLEN always suffices). */
int quantity_format (int64_t milli, quantity_format_t fmt, char *buf, size_t len);

#endif
