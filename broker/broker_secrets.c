/* broker_secrets — Secrets encrypted at rest, the broker's side (broker/encryption.h): sealed in
 * bk_propose before the store sees them, opened by the watch cache when the store's values come
 * back, refused (never served as ciphertext) when this server cannot open them. The
 * configuration file is read at start and again when it changes (checked at most once a second):
 * `troupe secrets` edits it, and on a replicated cluster cli/cluster_pki.c brings other servers'
 * edits. */
#include "broker/broker_int.h"
#include "broker/encryption.h"
#include "core/log.h"
#include "core/value.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SECRETS_PREFIX "/registry/secrets/"

struct bk_secrets {
    broker_t *b;
    size_t stubs;        /* values the cache could not open since it was last loaded */
    char path[1100];
    encryption_t *enc;
    char why[1300];      /* why enc is NULL */
    struct stat st;      /* of the file enc was read from */
    int64_t checked_at;  /* monotonic ms */
    int reload;          /* new keys may open Secrets the cache could not: reload it (from the loop) */
};

static int
is_secret_key (const char *key)
{
    return key && !strncmp (key, SECRETS_PREFIX, sizeof SECRETS_PREFIX - 1);
}

static int
opener (void *arg, const char *key, const char *val, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
    bk_secrets_t *s = arg;
    if (!is_secret_key (key))
        return 1;
    int rc = encryption_open (s->enc, val, len, out, outlen, err, errlen);
    if (rc) {
        s->stubs++;
        TR_WARN (A, "a stored Secret cannot be decrypted key=%s error=\"%s\"", key, err);
    }
    return rc;
}

/* Reads the file again if it changed since; keeps the configuration in use if the new one is
 * malformed (logged). */
static void
refresh (bk_secrets_t *s, int force)
{
    int64_t now = zclock_mono ();
    if (!force && now - s->checked_at < 1000)
        return;
    s->checked_at = now;
    struct stat st;
    if (stat (s->path, &st)) {
        if (!s->enc)
            snprintf (s->why, sizeof s->why, "%s is missing", s->path);
        return; /* a file removed under a running server: keep its keys (data may need them) */
    }
    if (s->enc && st.st_ino == s->st.st_ino && st.st_mtim.tv_sec == s->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec && st.st_size == s->st.st_size)
        return;
    char err[1200];
    encryption_t *e = encryption_load (s->path, err, sizeof err);
    if (!e) {
        TR_ERROR (A, "secrets encryption configuration not loaded error=\"%s\"%s", err,
                  s->enc ? " (the previous one stays in use)" : "");
        if (!s->enc)
            snprintf (s->why, sizeof s->why, "%s", err);
        s->st = st; /* do not retry until it changes again */
        return;
    }
    encryption_destroy (&s->enc);
    s->enc = e;
    s->st = st;
    const char *w = encryption_write_key (e);
    TR_INFO (A, "secrets encryption configuration loaded generation=%d keys=%d writes=%s", encryption_generation (e),
             encryption_key_count (e), w ? w : "identity (plaintext)");
    if (s->stubs && s->b && !force)
        s->reload = 1; /* by bk_secrets_tick: never under a request, whose lookups the reload would empty */
}

int
bk_secrets_init (broker_t *b, const char *pki_dir)
{
    bk_secrets_t *s = calloc (1, sizeof *s);
    s->b = b;
    if (pki_dir)
        snprintf (s->path, sizeof s->path, "%s/%s", pki_dir, BK_SECRETS_CONFIG);
    else
        snprintf (s->why, sizeof s->why, "this broker has no pki directory");
    b->secrets = s;
    if (pki_dir)
        refresh (s, 1);
    if (!s->enc)
        TR_WARN (A, "Secrets will not be served: %s (troupe init makes one)", s->why);
    bcache_set_opener (b->cache, opener, s);
    return 0;
}

void
bk_secrets_destroy (broker_t *b)
{
    if (b->secrets) {
        encryption_destroy (&b->secrets->enc);
        free (b->secrets);
        b->secrets = NULL;
    }
}

void
bk_secrets_tick (broker_t *b)
{
    bk_secrets_t *s = b->secrets;
    if (s && s->path[0])
        refresh (s, 0);
    if (s && s->reload) {
        /* Secrets this server could not open may open now (a key that reached it late): read them
         * again from the store */
        TR_INFO (A, "reloading the cache: %zu stored Secrets could not be decrypted with the previous keys", s->stubs);
        s->stubs = 0;
        s->reload = 0;
        bk_reload_cache (b);
    }
}

int
bk_secrets_seal (broker_t *b, const char *key, char **val, size_t *len, char *err, size_t errlen)
{
    if (!is_secret_key (key))
        return 0;
    bk_secrets_t *s = b->secrets;
    if (!s || !s->enc) {
        snprintf (err, errlen, "Secrets cannot be stored: no encryption configuration (%s)", s ? s->why : "none");
        return -1;
    }
    refresh (s, 0);
    char *sealed = NULL;
    size_t n = 0;
    if (encryption_seal (s->enc, *val, *len, &sealed, &n, err, errlen))
        return -1;
    sodium_memzero (*val, *len);
    free (*val);
    *val = sealed;
    *len = n;
    return 0;
}

int
bk_secrets_guard (rq_t *r)
{
    if (strcmp (schema_kind_name (r->sk), "Secret"))
        return 0;
    bk_secrets_t *s = r->b->secrets;
    if (s)
        refresh (s, 0);
    if (!s || !s->enc) {
        bk_reply (r->sock, r->rid, r->req, TR_UNAVAILABLE, NULL, 0,
                  "secrets cannot be served by this server: no encryption configuration (%s); run `troupe init` on a "
                  "new cluster, or copy DATA/pki/%s from another server",
                  s ? s->why : "none", BK_SECRETS_CONFIG);
        return 1;
    }
    /* values this server could not open: refused with the reason, never served as ciphertext */
    const json_t *bad = NULL;
    json_t *items = NULL;
    if (r->req->verb == TR_VERB_LIST || r->req->verb == TR_VERB_WATCH) {
        char err[128];
        uint64_t rev;
        if (!bcache_list (r->b->cache, "secrets", r->ns, NULL, NULL, &items, &rev, err, sizeof err)) {
            size_t i;
            json_t *o;
            json_array_foreach (items, i, o) if (tv_get (o, BCACHE_UNDECRYPTABLE)) {
                bad = o;
                break;
            }
        }
    } else if (*r->req->name && r->req->verb != TR_VERB_DELETE) { /* deleting one needs no plaintext */
        char key[600];
        snprintf (key, sizeof key, SECRETS_PREFIX "%s/%s", r->ns, r->req->name);
        const json_t *o = bcache_get (r->b->cache, key, NULL);
        if (o && tv_get (o, BCACHE_UNDECRYPTABLE))
            bad = o;
    }
    if (bad)
        bk_reply (r->sock, r->rid, r->req, TR_INTERNAL, NULL, 0, "secrets \"%s\": the stored value cannot be decrypted: %s",
                  tv_str (bad, "metadata.name"), tv_str (bad, BCACHE_UNDECRYPTABLE));
    json_decref (items);
    return bad != NULL;
}
