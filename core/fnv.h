/* fnv — FNV-1a, 32 bits (offset basis 2166136261, prime 16777619): a cheap hash of short keys
 * (node names, uids, DNS keys) where equal keys must hash equal and a collision costs only a
 * comparison. Header only. */
#ifndef TROUPE_CORE_FNV_H
#define TROUPE_CORE_FNV_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
tr_fnv1a32 (const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The same of a NUL-terminated string (NULL: of ""). */
static inline uint32_t
tr_fnv1a32_str (const char *s)
{
    uint32_t h = 2166136261u;
    for (; s && *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}

#endif
