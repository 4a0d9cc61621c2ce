/* encryption — see encryption.h. */
#include "broker/encryption.h"
#include "core/value.h"
#include "core/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char name[64];
    unsigned char key[crypto_secretbox_KEYBYTES];
} key_t_;

struct encryption {
    int generation;
    int identity;       /* identity is a provider: plaintext values are readable */
    int identity_first; /* identity is the first provider: writes are plaintext */
    int nkeys;
    key_t_ keys[ENC_MAX_KEYS];
};

static int
fail (char *err, size_t len, const char *fmt, const char *a, const char *b)
{
    snprintf (err, len, fmt, a ? a : "", b ? b : "");
    return -1;
}

int
encryption_text_generation (const char *text, size_t len)
{
    static const char tag[] = "# troupe-generation:";
    for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
        if ((i == 0 || text[i - 1] == '\n') && !memcmp (text + i, tag, sizeof tag - 1)) {
            char num[16] = "";
            size_t j = i + sizeof tag - 1, n = 0;
            while (j < len && text[j] == ' ')
                j++;
            while (j < len && n < sizeof num - 1 && text[j] >= '0' && text[j] <= '9')
                num[n++] = text[j++];
            return atoi (num);
        }
    return 0;
}

static int
parse_keys (encryption_t *e, const json_t *keys, const char *at, char *err, size_t errlen)
{
    char path[200];
    if (!json_is_array (keys) || !json_array_size (keys))
        return fail (err, errlen, "%s.keys: Required value: at least one key", at, NULL);
    size_t i;
    json_t *k;
    json_array_foreach (keys, i, k) {
        snprintf (path, sizeof path, "%s.keys[%zu]", at, i);
        if (e->nkeys == ENC_MAX_KEYS)
            return fail (err, errlen, "%s: more than 16 keys", path, NULL);
        const char *name = tv_str (k, "name"), *secret = tv_str (k, "secret");
        if (!name || !*name || strlen (name) >= sizeof e->keys[0].name || strchr (name, ':'))
            return fail (err, errlen, "%s.name: Required value: a name of 1-63 characters without ':'", path, NULL);
        for (int j = 0; j < e->nkeys; j++)
            if (!strcmp (e->keys[j].name, name))
                return fail (err, errlen, "%s.name: Duplicate value: \"%s\"", path, name);
        key_t_ *dst = &e->keys[e->nkeys];
        size_t got = 0;
        if (!secret || sodium_base642bin (dst->key, sizeof dst->key, secret, strlen (secret), NULL, &got, NULL,
                                          sodium_base64_VARIANT_ORIGINAL) ||
            got != sizeof dst->key)
            return fail (err, errlen, "%s.secret: Invalid value: must be 32 bytes, base64-encoded", path, NULL);
        snprintf (dst->name, sizeof dst->name, "%s", name);
        e->nkeys++;
    }
    return 0;
}

encryption_t *
encryption_parse (const char *text, size_t len, char *err, size_t errlen)
{
    if (sodium_init () < 0) {
        snprintf (err, errlen, "libsodium cannot start");
        return NULL;
    }
    char yerr[256];
    json_t *docs = tr_yaml_load (text, len, yerr, sizeof yerr);
    if (!docs) {
        snprintf (err, errlen, "%s", yerr);
        return NULL;
    }
    json_t *c = json_array_get (docs, 0);
    encryption_t *e = calloc (1, sizeof *e);
    e->generation = encryption_text_generation (text, len);
    int rc = 0, seen_secrets = 0;
    const char *kind = tv_str (c, "kind");
    if (json_array_size (docs) != 1 || !json_is_object (c))
        rc = fail (err, errlen, "expected one EncryptionConfiguration document", NULL, NULL);
    else if (!kind || strcmp (kind, "EncryptionConfiguration"))
        rc = fail (err, errlen, "kind: Invalid value: \"%s\": expected EncryptionConfiguration", kind, NULL);
    json_t *res = rc ? NULL : json_object_get (c, "resources");
    if (!rc && !json_is_array (res))
        rc = fail (err, errlen, "resources: Required value", NULL, NULL);
    size_t i, j;
    json_t *r, *p, *x;
    json_array_foreach (rc ? NULL : res, i, r) {
        char at[120];
        json_array_foreach (json_object_get (r, "resources"), j, x) {
            snprintf (at, sizeof at, "resources[%zu].resources[%zu]", i, j);
            if (!json_is_string (x) || strcmp (json_string_value (x), "secrets")) {
                rc = fail (err, errlen, "%s: Unsupported value: \"%s\": only secrets are encrypted", at,
                           json_string_value (x));
                break;
            }
            seen_secrets = 1;
        }
        json_t *providers = json_object_get (r, "providers");
        if (!rc && (!json_is_array (providers) || !json_array_size (providers))) {
            snprintf (at, sizeof at, "resources[%zu].providers", i);
            rc = fail (err, errlen, "%s: Required value", at, NULL);
        }
        json_array_foreach (rc ? NULL : providers, j, p) {
            snprintf (at, sizeof at, "resources[%zu].providers[%zu]", i, j);
            const char *which = json_object_size (p) == 1 ? json_object_iter_key (json_object_iter (p)) : NULL;
            if (which && !strcmp (which, "identity")) {
                e->identity = 1;
                if (j == 0)
                    e->identity_first = 1;
            } else if (which && !strcmp (which, "secretbox")) {
                char sat[150];
                snprintf (sat, sizeof sat, "%s.secretbox", at);
                if (e->nkeys)
                    rc = fail (err, errlen, "%s: Duplicate value: one secretbox provider", sat, NULL);
                else
                    rc = parse_keys (e, tv_get (p, "secretbox.keys"), sat, err, errlen);
            } else
                rc = fail (err, errlen, "%s.%s: Unsupported value: providers are secretbox and identity", at,
                           which ? which : "?");
            if (rc)
                break;
        }
        if (rc)
            break;
    }
    if (!rc && !seen_secrets)
        rc = fail (err, errlen, "resources[].resources: Required value: \"secrets\"", NULL, NULL);
    json_decref (docs);
    if (rc)
        encryption_destroy (&e);
    return e;
}

encryption_t *
encryption_load (const char *path, char *err, size_t errlen)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        snprintf (err, errlen, "%s: %s", path, strerror (errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n == cap)
            buf = realloc (buf, cap = cap ? cap * 2 : 4096);
        r = fread (buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0 && n < (1 << 20));
    fclose (f);
    char perr[300];
    encryption_t *e = encryption_parse (buf, n, perr, sizeof perr);
    sodium_memzero (buf, cap);
    free (buf);
    if (!e)
        snprintf (err, errlen, "%s: %s", path, perr);
    return e;
}

encryption_t *
encryption_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    encryption_t *e = calloc (1, sizeof *e);
    e->generation = 1;
    e->identity = 1;
    e->nkeys = 1;
    snprintf (e->keys[0].name, sizeof e->keys[0].name, "key1");
    crypto_secretbox_keygen (e->keys[0].key);
    return e;
}

void
encryption_destroy (encryption_t **p)
{
    if (*p) {
        sodium_memzero (*p, sizeof **p);
        free (*p);
    }
    *p = NULL;
}

int
encryption_generation (const encryption_t *e)
{
    return e->generation;
}

int
encryption_key_count (const encryption_t *e)
{
    return e->nkeys;
}

const char *
encryption_key_name (const encryption_t *e, int i)
{
    return i >= 0 && i < e->nkeys ? e->keys[i].name : NULL;
}

const char *
encryption_write_key (const encryption_t *e)
{
    return e->identity_first || !e->nkeys ? NULL : e->keys[0].name;
}

int
encryption_is_sealed (const void *val, size_t len)
{
    return len >= sizeof ENC_PREFIX - 1 && !memcmp (val, ENC_PREFIX, sizeof ENC_PREFIX - 1);
}

int
encryption_seal (const encryption_t *e, const void *plain, size_t len, char **out, size_t *outlen, char *err,
                 size_t errlen)
{
    const char *name = encryption_write_key (e);
    if (!name) {
        *out = malloc (len ? len : 1);
        memcpy (*out, plain, len);
        *outlen = len;
        return 0;
    }
    size_t plen = strlen (ENC_SECRETBOX_PREFIX) + strlen (name) + 1;
    size_t n = plen + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *b = malloc (n);
    if (!b) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    snprintf ((char *) b, plen + 1, "%s%s:", ENC_SECRETBOX_PREFIX, name);
    unsigned char *nonce = b + plen;
    randombytes_buf (nonce, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy (nonce + crypto_secretbox_NONCEBYTES, plain, len, nonce, e->keys[0].key);
    *out = (char *) b;
    *outlen = n;
    return 0;
}

int
encryption_open (const encryption_t *e, const void *val, size_t len, char **out, size_t *outlen, char *err,
                 size_t errlen)
{
    const char *v = val;
    if (!encryption_is_sealed (val, len)) {
        if (!e || !e->identity) {
            snprintf (err, errlen, "the stored value is not encrypted and the identity provider is not configured");
            return -1;
        }
        *out = malloc (len ? len : 1);
        memcpy (*out, val, len);
        *outlen = len;
        return 0;
    }
    size_t pl = strlen (ENC_SECRETBOX_PREFIX);
    if (len < pl || memcmp (v, ENC_SECRETBOX_PREFIX, pl)) {
        snprintf (err, errlen, "no provider for the stored value's prefix (only %s)", ENC_SECRETBOX_PREFIX);
        return -1;
    }
    const char *name = v + pl, *colon = memchr (name, ':', len - pl < 64 ? len - pl : 64);
    if (!colon) {
        snprintf (err, errlen, "malformed encrypted value: no key name");
        return -1;
    }
    char kn[64];
    snprintf (kn, sizeof kn, "%.*s", (int) (colon - name), name);
    if (!e) {
        snprintf (err, errlen, "encrypted with key \"%s\", and this server has no encryption configuration", kn);
        return -1;
    }
    const key_t_ *k = NULL;
    for (int i = 0; i < e->nkeys && !k; i++)
        if (!strcmp (e->keys[i].name, kn))
            k = &e->keys[i];
    if (!k) {
        snprintf (err, errlen, "encrypted with key \"%s\", which is not in this server's encryption configuration", kn);
        return -1;
    }
    const unsigned char *nonce = (const unsigned char *) colon + 1;
    size_t rest = len - (size_t) (nonce - (const unsigned char *) v);
    if (rest < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        snprintf (err, errlen, "malformed encrypted value: too short");
        return -1;
    }
    size_t n = rest - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    unsigned char *p = malloc (n ? n : 1);
    if (crypto_secretbox_open_easy (p, nonce + crypto_secretbox_NONCEBYTES, rest - crypto_secretbox_NONCEBYTES, nonce,
                                    k->key)) {
        free (p);
        snprintf (err, errlen, "the value encrypted with key \"%s\" does not open (altered, or another key of that name)",
                  kn);
        return -1;
    }
    *out = (char *) p;
    *outlen = n;
    return 0;
}

int
encryption_add_key (encryption_t *e, int first, char *name, size_t namelen, char *err, size_t errlen)
{
    if (e->nkeys == ENC_MAX_KEYS) {
        snprintf (err, errlen, "already %d keys: remove one first", ENC_MAX_KEYS);
        return -1;
    }
    char kn[64];
    for (int i = 1;; i++) {
        snprintf (kn, sizeof kn, "key%d", i);
        int taken = 0;
        for (int j = 0; j < e->nkeys; j++)
            taken |= !strcmp (e->keys[j].name, kn);
        if (!taken)
            break;
    }
    int at = first ? 0 : e->nkeys;
    memmove (&e->keys[at + 1], &e->keys[at], (size_t) (e->nkeys - at) * sizeof e->keys[0]);
    snprintf (e->keys[at].name, sizeof e->keys[at].name, "%s", kn);
    crypto_secretbox_keygen (e->keys[at].key);
    e->nkeys++;
    if (first)
        e->identity_first = 0;
    e->generation++;
    if (name)
        snprintf (name, namelen, "%s", kn);
    return 0;
}

static int
find (const encryption_t *e, const char *name)
{
    for (int i = 0; i < e->nkeys; i++)
        if (!strcmp (e->keys[i].name, name))
            return i;
    return -1;
}

int
encryption_use_key (encryption_t *e, const char *name, char *err, size_t errlen)
{
    int i = find (e, name);
    if (i < 0) {
        snprintf (err, errlen, "no key \"%s\" in the encryption configuration", name);
        return -1;
    }
    key_t_ k = e->keys[i];
    memmove (&e->keys[1], &e->keys[0], (size_t) i * sizeof k);
    e->keys[0] = k;
    sodium_memzero (&k, sizeof k);
    e->identity_first = 0;
    e->generation++;
    return 0;
}

int
encryption_remove_key (encryption_t *e, const char *name, char *err, size_t errlen)
{
    int i = find (e, name);
    if (i < 0) {
        snprintf (err, errlen, "no key \"%s\" in the encryption configuration", name);
        return -1;
    }
    if (i == 0 && !e->identity_first) {
        snprintf (err, errlen, "key \"%s\" encrypts new writes: make another key the first (use-key) before removing it",
                  name);
        return -1;
    }
    memmove (&e->keys[i], &e->keys[i + 1], (size_t) (e->nkeys - i - 1) * sizeof e->keys[0]);
    e->nkeys--;
    sodium_memzero (&e->keys[e->nkeys], sizeof e->keys[0]);
    e->generation++;
    return 0;
}

char *
encryption_dump (const encryption_t *e)
{
    json_t *keys = json_array ();
    for (int i = 0; i < e->nkeys; i++) {
        char b64[sodium_base64_ENCODED_LEN (crypto_secretbox_KEYBYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64 (b64, sizeof b64, e->keys[i].key, sizeof e->keys[i].key, sodium_base64_VARIANT_ORIGINAL);
        json_array_append_new (keys, json_pack ("{s:s,s:s}", "name", e->keys[i].name, "secret", b64));
        sodium_memzero (b64, sizeof b64);
    }
    json_t *providers = json_array ();
    json_t *sb = e->nkeys ? json_pack ("{s:{s:o}}", "secretbox", "keys", keys) : (json_decref (keys), NULL);
    if (e->identity && e->identity_first)
        json_array_append_new (providers, json_pack ("{s:{}}", "identity"));
    if (sb)
        json_array_append_new (providers, sb);
    if (e->identity && !e->identity_first)
        json_array_append_new (providers, json_pack ("{s:{}}", "identity"));
    json_t *doc = json_pack ("{s:s,s:s,s:[{s:[s],s:o}]}", "apiVersion", "apiserver.config.k8s.io/v1", "kind",
                             "EncryptionConfiguration", "resources", "resources", "secrets", "providers", providers);
    char *y = tr_yaml_dump (doc);
    json_decref (doc);
    if (!y)
        return NULL;
    char *out = NULL;
    if (asprintf (&out, "# troupe-generation: %d\n# Secrets encryption at rest: the first key writes, all keys read "
                        "(`troupe secrets`, docs/decisions.md).\n%s",
                  e->generation, y) < 0)
        out = NULL;
    sodium_memzero (y, strlen (y));
    free (y);
    return out;
}

int
encryption_save (const encryption_t *e, const char *path, char *err, size_t errlen)
{
    char *text = encryption_dump (e);
    if (!text) {
        snprintf (err, errlen, "cannot format the encryption configuration");
        return -1;
    }
    char tmp[1200];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t n = strlen (text);
    int ok = fd >= 0 && write (fd, text, n) == (ssize_t) n && fsync (fd) == 0;
    if (fd >= 0)
        ok = close (fd) == 0 && ok;
    ok = ok && rename (tmp, path) == 0;
    if (!ok) {
        snprintf (err, errlen, "%s: %s", path, strerror (errno));
        unlink (tmp);
    }
    sodium_memzero (text, n);
    free (text);
    return ok ? 0 : -1;
}
