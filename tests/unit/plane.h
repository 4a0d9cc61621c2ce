/* plane — a store and a broker in a temp dir, and a client to them: the control plane of unit
 * tests that run actors against the real thing in one process (test_host, test_schedfaults).
 * The broker serves ipc://DIR/b.sock (ipc, not inproc: a host can reach it as a remote one). */
#ifndef TROUPE_TEST_PLANE_H
#define TROUPE_TEST_PLANE_H

#include <czmq.h>

#include "core/client.h"
#include "core/host.h"

typedef struct {
    char dir[64], ep[300];
    zactor_t *st, *br;
    tr_client_t *c;
} plane_t;

/* Starts the store and the broker in a new /tmp/troupe-TAG-XXXXXX; fails the test if it cannot. */
void plane_up (plane_t *p, const char *tag);
/* A host for actors, connected to the broker as node n1. */
tr_host_t *plane_host (plane_t *p);
/* Stops the client, the broker and the store, and removes the directory. */
void plane_down (plane_t *p);

#endif
