/* errbuf — the one way a function fills its caller's (char *err, size_t errlen) buffer. */
#ifndef TROUPE_ERRBUF_H
#define TROUPE_ERRBUF_H

#include <stddef.h>

/* Formats into err (when err and errlen are set) and returns -1, so a failure is one line:
 * `return tr_errf (err, errlen, "spec.x: %s", why);` */
int tr_errf (char *err, size_t errlen, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

#endif
