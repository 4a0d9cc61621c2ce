/* encryption — Secrets encrypted at rest, as the api-server does with an EncryptionConfiguration
 * (--encryption-provider-config): the broker seals a Secret's stored value before proposing it to
 * the store and opens it after reading, so LMDB, the Raft log and snapshots hold only ciphertext;
 * the watch cache holds plaintext in memory.
 *
 * The configuration is Kubernetes' file, with the providers Troupe has — secretbox (libsodium's
 * crypto_secretbox: XSalsa20-Poly1305, 32-byte keys, base64) and identity (plaintext):
 *
 *   # troupe-generation: 2
 *   apiVersion: apiserver.config.k8s.io/v1
 *   kind: EncryptionConfiguration
 *   resources:
 *   - resources: [secrets]
 *     providers:
 *     - secretbox:
 *         keys:
 *         - {name: key2, secret: <base64 of 32 bytes>}
 *         - {name: key1, secret: <base64 of 32 bytes>}
 *     - identity: {}
 *
 * The first provider (and its first key) writes; every provider reads: a sealed value names its
 * key (`k8s:enc:secretbox:v1:<key name>:` + 24-byte nonce + box, Kubernetes' layout); a value
 * without the `k8s:enc:` prefix is plaintext, readable only when identity is a provider (data
 * written before encryption was configured). The generation comment orders versions of the file
 * among the servers of a replicated cluster (cli/cluster_pki.c): each edit below increments it.
 */
#ifndef TROUPE_ENCRYPTION_H
#define TROUPE_ENCRYPTION_H

#include <stddef.h>

#define ENC_PREFIX "k8s:enc:"
#define ENC_SECRETBOX_PREFIX "k8s:enc:secretbox:v1:"
#define ENC_MAX_KEYS 16
#define ENC_CONFIG_FILE "secrets-encryption.yaml" /* in DATA/pki, mode 0600 */

typedef struct encryption encryption_t;

/* Parses the configuration text. NULL on error, with err naming the field path
 * ("resources[0].providers[0].secretbox.keys[1].secret: must be 32 bytes, base64"). */
encryption_t *encryption_parse (const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses the file at path. NULL with err (a missing file says so). */
encryption_t *encryption_load (const char *path, char *err, size_t errlen);
/* A fresh configuration: one new random key "key1" that writes, then identity (reads data written
 * before encryption). */
encryption_t *encryption_new (void);
void encryption_destroy (encryption_t **self_p);

int encryption_generation (const encryption_t *self);
/* Keys in order (the first writes when secretbox is the first provider). */
int encryption_key_count (const encryption_t *self);
const char *encryption_key_name (const encryption_t *self, int i);
/* The name of the key that writes, or NULL when writes are plaintext (identity first). */
const char *encryption_write_key (const encryption_t *self);

/* Seals plain[0..len) with the writing key (or copies it when identity writes). *out is malloc'd.
 * 0, or -1 with err. */
int encryption_seal (const encryption_t *self, const void *plain, size_t len, char **out, size_t *outlen, char *err,
                     size_t errlen);
/* Opens a stored value: 0 with the plaintext in *out (malloc'd), or -1 with err naming the reason
 * (unknown key, tampered value, plaintext without identity). self may be NULL: then only the
 * reason is given for a sealed value. */
int encryption_open (const encryption_t *self, const void *val, size_t len, char **out, size_t *outlen, char *err,
                     size_t errlen);
/* 1 if the stored value carries the k8s:enc: prefix. */
int encryption_is_sealed (const void *val, size_t len);

/* Edits (the `troupe secrets` commands); each increments the generation. 0 or -1 with err. */
/* Adds a new random key: first (it writes from now on) or last (readable everywhere first). */
int encryption_add_key (encryption_t *self, int first, char *name, size_t namelen, char *err, size_t errlen);
/* Moves key `name` first: it writes. */
int encryption_use_key (encryption_t *self, const char *name, char *err, size_t errlen);
/* Removes key `name` (never the writing one). */
int encryption_remove_key (encryption_t *self, const char *name, char *err, size_t errlen);

/* The configuration as text (with its generation comment), malloc'd. */
char *encryption_dump (const encryption_t *self);
/* Writes it to path atomically (temporary file, fsync, rename), mode 0600. 0 or -1 with err. */
int encryption_save (const encryption_t *self, const char *path, char *err, size_t errlen);

/* The generation of a configuration text (its "# troupe-generation: N" line), 0 if none. */
int encryption_text_generation (const char *text, size_t len);

#endif
