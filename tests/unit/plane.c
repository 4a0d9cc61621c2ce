/* plane — see plane.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "tests/unit/plane.h"

void
plane_up (plane_t *p, const char *tag)
{
    memset (p, 0, sizeof *p);
    snprintf (p->dir, sizeof p->dir, "/tmp/troupe-%s-XXXXXX", tag);
    assert_non_null (mkdtemp (p->dir));
    char store[300], sep[100];
    snprintf (store, sizeof store, "%s/store", p->dir);
    mkdir (store, 0700);
    snprintf (p->ep, sizeof p->ep, "ipc://%s/b.sock", p->dir);
    snprintf (sep, sizeof sep, "inproc://%s-store-%d", tag, getpid ());
    p->st = store_actor_new (store, sep);
    broker_opts_t bo = {.store_endpoint = sep, .local_endpoints = p->ep};
    p->br = broker_new (&bo);
    assert_non_null (p->br);
    char err[256];
    p->c = tr_client_new (p->ep, NULL, err, sizeof err);
    assert_non_null (p->c);
}

tr_host_t *
plane_host (plane_t *p)
{
    tr_host_opts_t ho = {.endpoint = p->ep, .node_name = "n1", .data_dir = p->dir};
    return tr_host_new (&ho);
}

void
plane_down (plane_t *p)
{
    tr_client_destroy (&p->c);
    zactor_destroy (&p->br);
    zactor_destroy (&p->st);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", p->dir);
    assert_int_equal (system (cmd), 0);
}
