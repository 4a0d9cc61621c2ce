/* conn — endpoints, CURVE set-up, envelope send/receive, client config files. See conn.h. */
#include "core/conn.h"
#include "core/value.h"
#include "core/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ZMTP heartbeats of the tcp connections this process makes (tr_conn_set_heartbeat) */
static int hb_ivl_ms = 2000, hb_timeout_ms = 6000;

void
tr_conn_set_heartbeat (int ivl_ms, int timeout_ms)
{
    hb_ivl_ms = ivl_ms;
    hb_timeout_ms = timeout_ms;
}

zsock_t *
tr_conn_dealer (const char *endpoint, const tr_creds_t *creds, char *err, size_t errlen)
{
    int tcp = !strncmp (endpoint, "tcp://", 6);
    if (tcp && (!creds || !creds->server_key[0] || !creds->public_key[0])) {
        snprintf (err, errlen, "%s: tcp endpoints need CURVE keys (run `troupe init` or use the config it wrote)",
                  endpoint);
        return NULL;
    }
    zsock_t *s = zsock_new (ZMQ_DEALER);
    if (!s) {
        snprintf (err, errlen, "cannot create socket");
        return NULL;
    }
    zsock_set_linger (s, 0);
    zsock_set_sndhwm (s, 100000);
    zsock_set_rcvhwm (s, 100000);
    if (tcp) {
        zsock_set_curve_serverkey (s, creds->server_key);
        zsock_set_curve_publickey (s, creds->public_key);
        zsock_set_curve_secretkey (s, creds->secret_key);
        zsock_set_heartbeat_ivl (s, hb_ivl_ms);
        zsock_set_heartbeat_timeout (s, hb_timeout_ms);
    }
    if (zsock_connect (s, "%s", endpoint)) {
        snprintf (err, errlen, "%s: cannot connect: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&s);
        return NULL;
    }
    return s;
}

static int
conn_send (zsock_t *sock, zframe_t *rid, const tr_env_t *env, const void *body, size_t body_len)
{
    char *buf;
    size_t len;
    if (body ? tr_env_encode_with (env, body, body_len, &buf, &len) : tr_env_encode (env, &buf, &len))
        return -1;
    zmsg_t *m = zmsg_new ();
    if (rid)
        zmsg_append (m, &(zframe_t *) {zframe_dup (rid)});
    zframe_t *f = zframe_new (buf, len); /* zframe_frommem (zero-copy) is czmq draft API */
    free (buf);
    zmsg_append (m, &f);
    int rc = zmsg_send (&m, sock);
    zmsg_destroy (&m); /* still ours when the send failed (a ROUTER peer that is gone) */
    return rc;
}

int
tr_conn_send_bytes_nb (zsock_t *sock, zframe_t *rid, const void *buf, size_t len)
{
    void *h = zsock_resolve (sock);
    /* a ROUTER checks the peer's pipe at the routing frame (its high-water mark counts whole
     * messages), so a refused send leaves nothing half-sent */
    if (rid && zmq_send (h, zframe_data (rid), zframe_size (rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        errno = zmq_errno ();
        return -1;
    }
    if (zmq_send (h, buf, len, ZMQ_DONTWAIT) < 0) {
        errno = zmq_errno ();
        return -1;
    }
    return 0;
}

int
tr_conn_send_frames_nb (zsock_t *sock, zframe_t *rid, char *const *bufs, const size_t *lens, int n)
{
    void *h = zsock_resolve (sock);
    if (n < 1) {
        errno = EINVAL;
        return -1;
    }
    /* as tr_conn_send_bytes_nb: the high-water mark is checked at the first frame (it counts whole
     * messages), so once that one is taken the others are too */
    if (rid && zmq_send (h, zframe_data (rid), zframe_size (rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        errno = zmq_errno ();
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (zmq_send (h, bufs[i], lens[i], (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
            errno = zmq_errno ();
            return -1;
        }
    return 0;
}

int
tr_conn_send_nb (zsock_t *sock, zframe_t *rid, const tr_env_t *env, const void *body, size_t body_len)
{
    char *buf;
    size_t len;
    if (body ? tr_env_encode_with (env, body, body_len, &buf, &len) : tr_env_encode (env, &buf, &len)) {
        errno = EINVAL;
        return -1;
    }
    int rc = tr_conn_send_bytes_nb (sock, rid, buf, len);
    int e = errno;
    free (buf);
    errno = e;
    return rc;
}

int
tr_conn_send (zsock_t *sock, zframe_t *rid, const tr_env_t *env)
{
    return conn_send (sock, rid, env, NULL, 0);
}

int
tr_conn_send_with (zsock_t *sock, zframe_t *rid, const tr_env_t *env, const void *body, size_t body_len)
{
    return conn_send (sock, rid, env, body, body_len);
}

int
tr_conn_recv (zsock_t *sock, zframe_t **rid, tr_env_t *env, char *err, size_t errlen)
{
    return tr_conn_recv_like (sock, rid, env, NULL, NULL, err, errlen);
}

int
tr_conn_recv_like (zsock_t *sock, zframe_t **rid, tr_env_t *env, tr_env_prev_fn *prev, void *arg, char *err,
                   size_t errlen)
{
    tr_env_init (env);
    zmsg_t *m = zmsg_recv (sock);
    if (!m) {
        snprintf (err, errlen, "interrupted");
        return TR_UNAVAILABLE;
    }
    if (rid)
        *rid = zmsg_pop (m);
    int rc;
    if (zmsg_size (m) != 1) {
        snprintf (err, errlen, "envelope: expected 1 frame, got %zu", zmsg_size (m));
        rc = TR_BAD_REQUEST;
    } else {
        zframe_t *f = zmsg_first (m);
        rc = tr_env_decode_like (env, zframe_data (f), zframe_size (f), prev, arg, err, errlen);
    }
    zmsg_destroy (&m);
    return rc;
}

static int
read_file (const char *path, char **out, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return -1;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc (buf, cap);
            if (!nb) {
                free (buf);
                fclose (f);
                return -1;
            }
            buf = nb;
        }
        size_t r = fread (buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose (f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int
tr_conn_load_config (const char *path, char *endpoint, size_t eplen, tr_creds_t *creds, char *err,
                     size_t errlen)
{
    char *text;
    size_t len;
    memset (creds, 0, sizeof *creds);
    if (read_file (path, &text, &len)) {
        snprintf (err, errlen, "config %s: %s (start a cluster with `troupe up`, or pass --server)", path,
                  strerror (errno));
        return -1;
    }
    char yerr[256];
    json_t *docs = tr_yaml_load (text, len, yerr, sizeof yerr);
    free (text);
    json_t *doc = docs ? json_array_get (docs, 0) : NULL;
    if (!json_is_object (doc)) {
        snprintf (err, errlen, "config %s: %s", path, docs ? "not a map" : yerr);
        json_decref (docs);
        return -1;
    }
    const char *srv = tv_str (doc, "server");
    if (!srv) {
        snprintf (err, errlen, "config %s: server: Required value", path);
        json_decref (docs);
        return -1;
    }
    snprintf (endpoint, eplen, "%s", srv);
    const char *k;
    if ((k = tv_str (doc, "serverKey")))
        snprintf (creds->server_key, sizeof creds->server_key, "%s", k);
    if ((k = tv_str (doc, "publicKey")))
        snprintf (creds->public_key, sizeof creds->public_key, "%s", k);
    if ((k = tv_str (doc, "secretKey")))
        snprintf (creds->secret_key, sizeof creds->secret_key, "%s", k);
    json_decref (docs);
    return 0;
}

static void
mkdirs (const char *path)
{
    char tmp[1024];
    snprintf (tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (tmp, 0700);
            *p = '/';
        }
}

int
tr_conn_write_config (const char *path, const char *endpoint, const tr_creds_t *creds)
{
    mkdirs (path);
    char tmp[1100];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen (tmp, "w");
    if (!f)
        return -1;
    fchmod (fileno (f), 0600);
    fprintf (f, "# troupe client config (written by troupe init/up)\nserver: \"%s\"\n", endpoint);
    if (creds && creds->server_key[0])
        fprintf (f, "serverKey: \"%s\"\npublicKey: \"%s\"\nsecretKey: \"%s\"\n", creds->server_key,
                 creds->public_key, creds->secret_key);
    if (fclose (f))
        return -1;
    return rename (tmp, path);
}

static char *
xdg (char *buf, size_t len, const char *var, const char *fallback)
{
    const char *x = getenv (var);
    if (x && *x)
        snprintf (buf, len, "%s/troupe", x);
    else
        snprintf (buf, len, "%s/%s/troupe", getenv ("HOME") ? getenv ("HOME") : "/root", fallback);
    return buf;
}

char *
tr_conn_default_config_path (char *buf, size_t len)
{
    char dir[900];
    xdg (dir, sizeof dir, "XDG_CONFIG_HOME", ".config");
    snprintf (buf, len, "%s/config", dir);
    return buf;
}

char *
tr_conn_default_data_dir (char *buf, size_t len)
{
    return xdg (buf, len, "XDG_DATA_HOME", ".local/share");
}

int
tr_conn_recv_each (zsock_t *sock, zframe_t **rid, tr_env_prev_fn *prev, void *prev_arg, tr_conn_each_fn *fn,
                   void *arg)
{
    zmsg_t *m = zmsg_recv (sock);
    if (!m)
        return -1;
    if (rid)
        *rid = zmsg_pop (m);
    int n = 0;
    char err[256];
    if (!zmsg_size (m)) {
        tr_env_t env;
        tr_env_init (&env);
        snprintf (err, sizeof err, "envelope: expected a frame, got none");
        fn (arg, &env, TR_BAD_REQUEST, err);
        tr_env_clear (&env);
    }
    for (zframe_t *f = zmsg_first (m); f; f = zmsg_next (m), n++) {
        tr_env_t env;
        tr_env_init (&env);
        err[0] = 0;
        int rc = tr_env_decode_like (&env, zframe_data (f), zframe_size (f), prev, prev_arg, err, sizeof err);
        if (rc && n)
            snprintf (err + strlen (err), sizeof err - strlen (err), " (frame %d of %zu)", n + 1, zmsg_size (m));
        fn (arg, &env, rc, err);
        tr_env_clear (&env);
    }
    zmsg_destroy (&m);
    return n;
}
