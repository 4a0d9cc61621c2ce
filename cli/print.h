/* print — kubectl-like human output: tables for `get`, text for `describe`. Pure functions of
 * objects and a clock, so tests compare whole strings. */
#ifndef TROUPE_PRINT_H
#define TROUPE_PRINT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int wide;            /* -o wide: extra columns */
    int all_namespaces;  /* -A: a NAMESPACE column first */
    int no_headers;
    int64_t now_ms;      /* wall clock for AGE */
} print_opts_t;

/* Prints items (an array of objects of one kind) as a table. */
void print_table (FILE *out, const char *kind, const json_t *items, const print_opts_t *o);
/* Prints one object as `kubectl describe` does, with its events (array, may be NULL). */
void print_describe (FILE *out, const char *kind, const json_t *obj, const json_t *events, int64_t now_ms);

/* kubectl's short human duration: "45s", "3m12s", "5h", "2d3h", "45d". */
void print_age (char *buf, size_t len, int64_t ms);
/* kubectl's STATUS column for a pod. */
const char *print_pod_status (const json_t *pod, char *buf, size_t len);

#endif
