/* certdir — a directory of CURVE certificates (*.cert: public key, metadata name and role), read
 * incrementally.
 *
 * The broker (who is this key) and the ZAP handler (may this key connect) both read pki/clients.
 * They read it again when it changed, and 5,000 nodes joining change it 5,000 times: parsing every
 * certificate at each change made the joins O(N²). A scan here reads the directory's entries and
 * parses only the files new or replaced since the last scan (a certificate is replaced by rename:
 * a new inode, which the entry names, so no stat), and forgets the files gone; a forced scan also
 * stats every file, for one rewritten in place (its size or modification time).
 *
 * Not thread-safe: one owner (the broker's thread, the ZAP actor). */
#ifndef TROUPE_CERTDIR_H
#define TROUPE_CERTDIR_H

#include <stddef.h>

typedef struct certdir certdir_t;

typedef struct {
    char key[41];   /* Z85 public key */
    char name[128]; /* metadata "name", "" when absent (as the broker keeps it) */
    char role[32];  /* metadata "role", "" when absent */
} certdir_cert_t;

/* A reader of dir (not read yet: certdir_scan). NULL on allocation failure. */
certdir_t *certdir_new (const char *dir);
void certdir_destroy (certdir_t **self_p);

/* Reads the directory again if it changed since the last scan (its modification time, to the
 * nanosecond), or always with force (and then every file's size and time too). Files whose name starts with '.' or does not end in ".cert"
 * are skipped (temporary files, secrets); an unreadable certificate is skipped. Returns the number
 * of certificates this scan read or forgot (0: nothing changed), or -1 when the directory cannot
 * be read (what was known is kept). */
int certdir_scan (certdir_t *self, int force);

/* The certificate with public key key, or NULL. When two files hold one key, one of them. */
const certdir_cert_t *certdir_lookup (certdir_t *self, const char *key);

/* Iteration over the certificates known: the first, then the next (NULL at the end). */
const certdir_cert_t *certdir_first (certdir_t *self);
const certdir_cert_t *certdir_next (certdir_t *self);
size_t certdir_size (certdir_t *self);

#endif
