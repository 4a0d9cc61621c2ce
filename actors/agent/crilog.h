/* crilog — reading the CRI log format that conmon writes (k8s-file): one line per chunk,
 * "<RFC3339Nano time> <stdout|stderr> <P|F> <text>", P for a partial line continued by the next
 * one, F for the full line's last part. A decoder of a file a container fills, so fuzzed
 * (tests/fuzz/fuzz_crilog.c). */
#ifndef TROUPE_CRILOG_H
#define TROUPE_CRILOG_H

#include <stddef.h>

/* The text of the whole lines in in[0..n) (partial lines joined; with timestamps, each line
 * starts with its first chunk's time and a space), NUL-terminated, malloc'd; *outlen its length.
 * *used: the input bytes consumed (up to the last newline; a line still being written is left
 * for the next read). A line not in the format is passed as it is. */
char *crilog_text (const char *in, size_t n, int timestamps, size_t *used, size_t *outlen);

#endif
