/* zap — the process's ZAP handler (ZeroMQ RFC 27): which CURVE keys a tcp socket admits.
 *
 * One per process, on inproc://zeromq.zap.01, in place of czmq's zauth, because the policy
 * differs by ZAP domain:
 *   "troupe-peer" (Raft peer sockets)   only a key whose certificate has role "peer";
 *   "troupe"      (the broker's socket)  every key: a known one is the client of its certificate,
 *                                         an unknown one is anonymous, and the broker lets an
 *                                         anonymous client do one thing: join with a bootstrap
 *                                         token (as the api-server's system:anonymous and
 *                                         system:bootstrappers);
 *   any other domain                     known keys only.
 * Certificates are read from a directory (DATA/pki/clients), re-read when it changes. The User-Id
 * of an admitted connection is the key's Z85 text. */
#ifndef TROUPE_ZAP_H
#define TROUPE_ZAP_H

#include <czmq.h>

#define TR_ZAP_DOMAIN_BROKER "troupe"
#define TR_ZAP_DOMAIN_PEER "troupe-peer"

/* The decision, pure: mechanism ("CURVE", "NULL", ...), the domain, and the role of the key's
 * certificate (NULL: no certificate). 1 admitted, 0 refused. */
int tr_zap_admits (const char *mechanism, const char *domain, const char *role);

/* Starts the handler over the certificates in clients_dir. NULL if the endpoint is taken. */
zactor_t *tr_zap_new (const char *clients_dir);

#endif
