/* bootstrap — join tokens. See bootstrap.h. */
#include "core/bootstrap.h"
#include "core/meta.h"
#include "core/value.h"

#include <ctype.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static int
all_alnum (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr (ALNUM, s[i]))
            return 0;
    return 1;
}

int
tr_token_parse (const char *s, tr_token_t *t, char *err, size_t errlen)
{
    memset (t, 0, sizeof *t);
    if (!s) {
        snprintf (err, errlen, "no token");
        return -1;
    }
    const char *body = s;
    if (!strncmp (s, "K10", 3)) {
        const char *sep = strstr (s, "::");
        if (!sep || sep - s != 3 + 64) {
            snprintf (err, errlen, "token: expected K10, 64 hex digits of the server's key, then \"::\" (offset 3)");
            return -1;
        }
        size_t bin_len = 0;
        if (sodium_hex2bin (t->server_key, 32, s + 3, 64, NULL, &bin_len, NULL) || bin_len != 32) {
            snprintf (err, errlen, "token: the server key is not 64 hex digits (offset 3)");
            return -1;
        }
        t->has_server_key = 1;
        body = sep + 2;
    }
    size_t off = (size_t) (body - s);
    if (strlen (body) != 23 || body[6] != '.' || !all_alnum (body, 6) || !all_alnum (body + 7, 16)) {
        snprintf (err, errlen,
                  "token: expected ID.SECRET, 6 and 16 characters of [a-z0-9] (as kubeadm's), at offset %zu", off);
        return -1;
    }
    memcpy (t->id, body, 6);
    memcpy (t->secret, body + 7, 16);
    return 0;
}

void
tr_token_format (const tr_token_t *t, char *out, size_t len)
{
    if (t->has_server_key) {
        char hex[65];
        sodium_bin2hex (hex, sizeof hex, t->server_key, 32);
        snprintf (out, len, "K10%s::%s.%s", hex, t->id, t->secret);
    } else
        snprintf (out, len, "%s.%s", t->id, t->secret);
}

void
tr_token_generate (tr_token_t *t)
{
    if (sodium_init () < 0)
        abort ();
    for (int i = 0; i < 6; i++)
        t->id[i] = ALNUM[randombytes_uniform (sizeof ALNUM - 1)];
    t->id[6] = 0;
    for (int i = 0; i < 16; i++)
        t->secret[i] = ALNUM[randombytes_uniform (sizeof ALNUM - 1)];
    t->secret[16] = 0;
}

json_t *
tr_token_secret (const tr_token_t *t, int64_t expires_ms, const char *description)
{
    char name[64];
    snprintf (name, sizeof name, TR_TOKEN_SECRET_PREFIX "%s", t->id);
    json_t *sd = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "token-id", t->id, "token-secret", t->secret,
                            "usage-bootstrap-authentication", "true", "usage-bootstrap-signing", "true",
                            "auth-extra-groups", "system:bootstrappers:troupe:default-node-token");
    if (expires_ms > 0) {
        char when[40];
        tr_time_format (expires_ms, when, sizeof when);
        json_object_set_new (sd, "expiration", json_string (when));
    }
    if (description && *description)
        json_object_set_new (sd, "description", json_string (description));
    return json_pack ("{s:s, s:s, s:{s:s, s:s}, s:s, s:o}", "apiVersion", "v1", "kind", "Secret", "metadata", "name",
                      name, "namespace", TR_TOKEN_NS, "type", TR_TOKEN_TYPE, "stringData", sd);
}

/* data[key] of a Secret, base64-decoded into buf; NULL if absent or not base64. */
static const char *
data_of (const json_t *secret, const char *key, char *buf, size_t len)
{
    const char *b64 = json_string_value (json_object_get (json_object_get (secret, "data"), key));
    size_t n = 0;
    if (!b64 || sodium_base642bin ((unsigned char *) buf, len - 1, b64, strlen (b64), NULL, &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL))
        return NULL;
    buf[n] = 0;
    return buf;
}

tr_token_verdict_t
tr_token_check (const json_t *secret, const tr_token_t *t, int64_t now_ms, char *why, size_t len)
{
    if (!secret) {
        snprintf (why, len, "bootstrap token \"%s\" not found: it was never created, was deleted, or was removed after it expired (troupe token list)", t->id);
        return TR_TOKEN_NOT_FOUND;
    }
    const char *type = json_string_value (json_object_get (secret, "type"));
    char id[64], sec[64], exp[64], use[16];
    if (!type || strcmp (type, TR_TOKEN_TYPE) || !data_of (secret, "token-id", id, sizeof id) ||
        !data_of (secret, "token-secret", sec, sizeof sec) || strcmp (id, t->id)) {
        snprintf (why, len, "bootstrap token \"%s\": its Secret is not a bootstrap token", t->id);
        return TR_TOKEN_UNUSABLE;
    }
    if (strlen (sec) != 16 || sodium_memcmp (sec, t->secret, 16)) {
        snprintf (why, len, "bootstrap token \"%s\": the secret part does not match", t->id);
        return TR_TOKEN_WRONG;
    }
    if (data_of (secret, "expiration", exp, sizeof exp)) {
        int64_t at = tr_time_parse (exp);
        if (at < 0) {
            snprintf (why, len, "bootstrap token \"%s\": expiration \"%s\" is not an RFC 3339 time", t->id, exp);
            return TR_TOKEN_UNUSABLE;
        }
        if (now_ms >= at) {
            snprintf (why, len, "bootstrap token \"%s\" expired at %s (make another: troupe token create)", t->id, exp);
            return TR_TOKEN_EXPIRED;
        }
    }
    if (!data_of (secret, "usage-bootstrap-authentication", use, sizeof use) || strcmp (use, "true")) {
        snprintf (why, len, "bootstrap token \"%s\" is not for authentication (usage-bootstrap-authentication)", t->id);
        return TR_TOKEN_UNUSABLE;
    }
    return TR_TOKEN_OK;
}

int64_t
tr_duration_parse_ms (const char *s)
{
    if (!s || !*s)
        return -1;
    if (!strcmp (s, "0"))
        return 0;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit ((unsigned char) *p))
            return -1;
        int64_t v = 0;
        while (isdigit ((unsigned char) *p)) {
            v = v * 10 + (*p++ - '0');
            if (v > (int64_t) 1e12)
                return -1;
        }
        int64_t unit;
        if (!strncmp (p, "ms", 2)) {
            unit = 1;
            p += 2;
        } else if (*p == 'h')
            unit = 3600000, p++;
        else if (*p == 'm')
            unit = 60000, p++;
        else if (*p == 's')
            unit = 1000, p++;
        else
            return -1;
        total += v * unit;
        if (total > INT64_MAX / 4)
            return -1;
    }
    return total;
}
