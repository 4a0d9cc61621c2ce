/* proxynft — the proxy's edge to the kernel: runs nft scripts with libnftables, one transaction
 * per script, and reads the table back (JSON output) as a pr_model_t. */
#ifndef TROUPE_PROXYNFT_H
#define TROUPE_PROXYNFT_H

#include <stddef.h>

#include "actors/proxy/proxyrules.h"

/* Runs script as one transaction. 0, or -1 with nft's error text (the failing command and where
 * it failed, as nft prints it) in err. */
int pn_apply (const char *script, char *err, size_t errlen);

/* Reads table ip troupe-proxy back. 0 with *out the model (readback set), 0 with *out NULL when
 * the table does not exist, -1 with err on another failure. */
int pn_read (pr_model_t **out, char *err, size_t errlen);

/* Makes the kernel's table what desired says. *current is the model last applied (NULL at start
 * or after a failure: the table is then read back and reconciled: stale chains, sets and
 * elements deleted, every desired chain rewritten, in one transaction; a table that cannot be
 * reconciled so — a base chain of another priority — is replaced whole, atomically). On success *current
 * becomes desired (ownership taken) and *lines the number of commands applied; on failure
 * desired is freed, *current NULL (the next sync reads the table back) and err names the
 * failing command. */
int pn_sync (pr_model_t **current, pr_model_t *desired, int *lines, char *err, size_t errlen);

/* `nft list table ip troupe-proxy` as text (for tests and logs), or NULL when absent. */
char *pn_list (void);

/* 1 when the table exists, 0 when not, -1 on another error (cheap: one base chain listed). */
int pn_exists (void);

/* Deletes the table (no error when it is absent). */
int pn_delete (char *err, size_t errlen);

#endif
