/* zap — the process's ZAP handler. See zap.h. */
#include "core/zap.h"
#include "core/certdir.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define A "zap"

int
tr_zap_admits (const char *mechanism, const char *domain, const char *role)
{
    if (!mechanism || strcmp (mechanism, "CURVE"))
        return 0; /* NULL and PLAIN never reach a socket that asks ZAP */
    if (domain && !strcmp (domain, TR_ZAP_DOMAIN_PEER))
        return role && !strcmp (role, "peer");
    if (domain && !strcmp (domain, TR_ZAP_DOMAIN_BROKER))
        return 1; /* the broker decides what an unknown key may do (join only) */
    return role != NULL;
}

typedef struct {
    zsock_t *handler;
    certdir_t *certs;
    int64_t forced_at; /* monotonic ms of the last forced scan */
} zap_t;

/* The role of key's certificate ("" when it names none), or NULL. The directory is read again
 * when it changed (its entries: only new or replaced certificates are parsed), and every file
 * looked at, at most once a second, when a key is not found (a certificate rewritten in place).
 * czmq's zcertstore asserts on two files with one key; here one of them wins, and a stray file
 * cannot stop the process. */
static const char *
role_of (zap_t *z, const char *key)
{
    if (!z->certs)
        return NULL;
    certdir_scan (z->certs, 0);
    const certdir_cert_t *c = certdir_lookup (z->certs, key);
    if (!c && zclock_mono () - z->forced_at > 1000) {
        z->forced_at = zclock_mono ();
        certdir_scan (z->certs, 1);
        c = certdir_lookup (z->certs, key);
    }
    return c ? c->role : NULL;
}

/* One request: version, request id, domain, address, routing id, mechanism, credentials... */
static void
serve_one (zap_t *z)
{
    zmsg_t *m = zmsg_recv (z->handler);
    if (!m)
        return;
    char *version = zmsg_popstr (m), *reqid = zmsg_popstr (m), *domain = zmsg_popstr (m),
         *address = zmsg_popstr (m);
    zframe_t *routing = zmsg_pop (m);
    char *mechanism = zmsg_popstr (m);
    zframe_t *cred = zmsg_pop (m);
    char key[41] = "";
    const char *role = NULL;
    if (mechanism && !strcmp (mechanism, "CURVE") && cred && zframe_size (cred) == 32) {
        zmq_z85_encode (key, zframe_data (cred), 32);
        /* the broker's domain admits every key (the broker decides what an unknown one may do):
         * no lookup, so 5,000 nodes joining do not read the directory at each handshake */
        if (!domain || strcmp (domain, TR_ZAP_DOMAIN_BROKER))
            role = role_of (z, key);
    }
    int ok = version && !strcmp (version, "1.0") && tr_zap_admits (mechanism, domain, role);
    if (!ok)
        TR_INFO (A, "refused domain=%s mechanism=%s address=%s key=%s", domain ? domain : "", mechanism ? mechanism : "",
                 address ? address : "", key);
    zmsg_t *r = zmsg_new ();
    zmsg_addstr (r, "1.0");
    zmsg_addstr (r, reqid ? reqid : "");
    zmsg_addstr (r, ok ? "200" : "400");
    zmsg_addstr (r, ok ? "OK" : "no access");
    zmsg_addstr (r, ok ? key : "");
    zmsg_addmem (r, NULL, 0); /* no metadata */
    zmsg_send (&r, z->handler);
    zstr_free (&version);
    zstr_free (&reqid);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&routing);
    zframe_destroy (&cred);
    zmsg_destroy (&m);
}

static void
zap_actor (zsock_t *pipe, void *arg)
{
    zap_t z = {0};
    z.handler = zsock_new (ZMQ_REP);
    if (!z.handler || zsock_bind (z.handler, "inproc://zeromq.zap.01")) {
        TR_ERROR (A, "cannot bind inproc://zeromq.zap.01 (another ZAP handler in this process?)");
        zsock_destroy (&z.handler);
        zsock_signal (pipe, 0); /* zactor_new waits for this; the outcome follows */
        zstr_send (pipe, "FAIL");
        free (zstr_recv (pipe)); /* $TERM */
        return;
    }
    z.certs = certdir_new ((const char *) arg);
    certdir_scan (z.certs, 1);
    zsock_signal (pipe, 0);
    zstr_send (pipe, "OK");
    zpoller_t *p = zpoller_new (pipe, z.handler, NULL);
    for (;;) {
        void *w = zpoller_wait (p, -1);
        if (w == pipe || !w)
            break; /* $TERM, or interrupted */
        serve_one (&z);
    }
    zpoller_destroy (&p);
    certdir_destroy (&z.certs);
    zsock_destroy (&z.handler);
}

zactor_t *
tr_zap_new (const char *clients_dir)
{
    zactor_t *a = zactor_new (zap_actor, (void *) clients_dir); /* returns once the actor signalled */
    char *ok = a ? zstr_recv (a) : NULL;
    if (!ok || strcmp (ok, "OK"))
        zactor_destroy (&a);
    free (ok);
    return a;
}
