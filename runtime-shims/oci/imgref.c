/* imgref — docker's reference grammar (distribution/reference), by hand: the split is
 * name[:tag][@digest], the name's first component is a registry when it looks like a host. */
#include "runtime-shims/oci/imgref.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define NAME_TOTAL_MAX 255

static int
fail (char *err, size_t errlen, const char *s, const char *why)
{
    if (err && errlen)
        snprintf (err, errlen, "invalid reference format: %s: \"%.200s\"", why, s);
    return -1;
}

static int
is_lower_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*. 1 = upper-case letters seen (the caller
 * reports "must be lowercase"), 0 = fine, -1 = bad. */
static int
check_component (const char *p, size_t n)
{
    int upper = 0;
    if (n == 0)
        return -1;
    size_t i = 0;
    while (i < n) {
        if (!is_lower_alnum (p[i]) && !isupper ((unsigned char) p[i]))
            return -1;
        while (i < n && (is_lower_alnum (p[i]) || isupper ((unsigned char) p[i]))) {
            if (isupper ((unsigned char) p[i]))
                upper = 1;
            i++;
        }
        if (i == n)
            break;
        /* a separator, then more alnum */
        if (p[i] == '.') {
            i++;
        } else if (p[i] == '_') {
            i++;
            if (i < n && p[i] == '_')
                i++;
        } else if (p[i] == '-') {
            while (i < n && p[i] == '-')
                i++;
        } else {
            return -1;
        }
        if (i == n)
            return -1;   /* ends with a separator */
    }
    return upper;
}

/* host[:port] with host = labels of [A-Za-z0-9-] (no leading/trailing '-') joined by '.', or a
 * bracketed IPv6 address. */
static int
check_domain (const char *p, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return -1;
    if (p[0] == '[') {
        while (i < n && p[i] != ']') {
            if (i > 0 && !isxdigit ((unsigned char) p[i]) && p[i] != ':' && p[i] != '.')
                return -1;
            i++;
        }
        if (i == n || i < 3)
            return -1;
        i++;
    } else {
        for (;;) {
            size_t start = i;
            while (i < n && (isalnum ((unsigned char) p[i]) || p[i] == '-'))
                i++;
            if (i == start || p[start] == '-' || p[i - 1] == '-')
                return -1;
            if (i < n && p[i] == '.') {
                i++;
                continue;
            }
            break;
        }
    }
    if (i < n && p[i] == ':') {
        i++;
        size_t start = i;
        while (i < n && isdigit ((unsigned char) p[i]))
            i++;
        if (i == start || i - start > 5)
            return -1;
    }
    return i == n ? 0 : -1;
}

static int
check_tag (const char *t)
{
    size_t n = strlen (t);
    if (n == 0 || n > 128)
        return -1;
    if (!(isalnum ((unsigned char) t[0]) || t[0] == '_'))
        return -1;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum ((unsigned char) t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return -1;
    return 0;
}

static int
check_digest (const char *d)
{
    if (strncmp (d, "sha256:", 7) != 0 || strlen (d) != 7 + 64)
        return -1;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    return 0;
}

int
imgref_parse (const char *s, imgref_t *out, char *err, size_t errlen)
{
    char buf[1024];
    if (!s || !*s)
        return fail (err, errlen, s ? s : "", "empty reference");
    if (strlen (s) >= sizeof buf)
        return fail (err, errlen, s, "too long");
    memset (out, 0, sizeof *out);
    strcpy (buf, s);
    for (char *p = buf; *p; p++)
        if (isspace ((unsigned char) *p) || (unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
            return fail (err, errlen, s, "unexpected character");

    char *at = strchr (buf, '@');
    if (at) {
        *at = 0;
        if (check_digest (at + 1))
            return fail (err, errlen, s, "digest must be sha256:<64 lowercase hex>");
        strcpy (out->digest, at + 1);
    }
    char *slash = strrchr (buf, '/');
    char *colon = strrchr (buf, ':');
    if (colon && (!slash || colon > slash)) {
        *colon = 0;
        if (check_tag (colon + 1))
            return fail (err, errlen, s, "bad tag");
        strcpy (out->tag, colon + 1);
    }
    char *name = buf;
    if (!*name)
        return fail (err, errlen, s, "empty name");
    if (strlen (name) > NAME_TOTAL_MAX)
        return fail (err, errlen, s, "repository name must not be more than 255 characters");

    char *first_slash = strchr (name, '/');
    const char *repo = name;
    if (first_slash) {
        size_t dn = (size_t) (first_slash - name);
        int is_domain = memchr (name, '.', dn) || memchr (name, ':', dn) || (dn == 9 && !strncmp (name, "localhost", 9));
        if (is_domain) {
            if (check_domain (name, dn))
                return fail (err, errlen, s, "bad registry host");
            if (dn >= sizeof out->registry)
                return fail (err, errlen, s, "registry host too long");
            memcpy (out->registry, name, dn);
            out->registry[dn] = 0;
            repo = first_slash + 1;
        }
    }
    if (!out->registry[0])
        strcpy (out->registry, "docker.io");
    if (!strcmp (out->registry, "index.docker.io") || !strcmp (out->registry, "registry-1.docker.io"))
        strcpy (out->registry, "docker.io");

    /* the repository's components */
    const char *p = repo;
    for (;;) {
        const char *e = strchr (p, '/');
        size_t n = e ? (size_t) (e - p) : strlen (p);
        int c = check_component (p, n);
        if (c == 1)
            return fail (err, errlen, s, "repository name must be lowercase");
        if (c < 0)
            return fail (err, errlen, s, n ? "bad repository name component" : "empty repository name component");
        if (!e)
            break;
        p = e + 1;
    }
    if (strlen (repo) + 8 >= sizeof out->repository)
        return fail (err, errlen, s, "repository name too long");
    if (!strcmp (out->registry, "docker.io") && !strchr (repo, '/'))
        snprintf (out->repository, sizeof out->repository, "library/%.500s", repo);
    else
        snprintf (out->repository, sizeof out->repository, "%.510s", repo);
    if (!out->tag[0] && !out->digest[0])
        strcpy (out->tag, "latest");
    return 0;
}

void
imgref_format (const imgref_t *r, char *buf, size_t len)
{
    if (r->digest[0] && r->tag[0])
        snprintf (buf, len, "%s/%s:%s@%s", r->registry, r->repository, r->tag, r->digest);
    else if (r->digest[0])
        snprintf (buf, len, "%s/%s@%s", r->registry, r->repository, r->digest);
    else
        snprintf (buf, len, "%s/%s:%s", r->registry, r->repository, r->tag);
}

int
imgref_is_latest (const imgref_t *r)
{
    return !r->digest[0] && (!r->tag[0] || !strcmp (r->tag, "latest"));
}
