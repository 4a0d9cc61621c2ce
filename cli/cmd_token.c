/* cmd_token — bootstrap tokens and joining a node (kubeadm's token and join verbs):
 *   token create [--ttl 24h] [--description D] [--print-join-command]   the token on the last line
 *   token list                                                         TOKEN TTL EXPIRES USAGES DESCRIPTION
 *   token delete ID|TOKEN…
 *   join tcp://SERVER[,…] --token T [--node-name N] [--data DIR] [agent flags…]
 * A token is stored as kubeadm stores it (core/bootstrap.h); join checks the server against the
 * key in the token, gets a node identity for a fresh key of its own (broker/broker_join.c),
 * writes DATA/node.conf and DATA/node-name, and runs the agent in the foreground. Started again
 * with the same --data it needs no token. */
#include "cli/cli.h"
#include "core/bootstrap.h"
#include "core/conn.h"
#include "core/meta.h"
#include "core/value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int64_t
now_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The server's public key for the token: the admin config's, else DATA/pki/server.cert. */
static int
server_key (cli_t *g, const char *data, unsigned char key[32])
{
    if (cli_client (g) && g->have_creds && strlen (g->creds.server_key) == 40) {
        zmq_z85_decode (key, g->creds.server_key);
        return 0;
    }
    char dir[1024], path[1200];
    if (data)
        snprintf (dir, sizeof dir, "%s", data);
    else
        tr_conn_default_data_dir (dir, sizeof dir);
    snprintf (path, sizeof path, "%s/pki/server.cert", dir);
    zcert_t *c = zcert_load (path);
    if (!c)
        return -1;
    memcpy (key, zcert_public_key (c), 32);
    zcert_destroy (&c);
    return 0;
}

static int
token_create (cli_t *g, int argc, char **argv)
{
    const char *ttl = cli_opt (&argc, argv, "--ttl", NULL), *desc = cli_opt (&argc, argv, "--description", NULL);
    const char *data = cli_opt (&argc, argv, "--data", NULL);
    int join_cmd = cli_flag (&argc, argv, "--print-join-command", NULL);
    int64_t ttl_ms = tr_duration_parse_ms (ttl ? ttl : "24h");
    if (ttl_ms < 0) {
        fprintf (stderr, "error: --ttl \"%s\": expected a duration such as 24h, 30m, 90s or 0 (never expires)\n", ttl);
        return 2;
    }
    if (argc > 2) {
        fprintf (stderr, "error: token create: unexpected argument \"%s\"\n", argv[2]);
        return 2;
    }
    tr_token_t t;
    tr_token_generate (&t);
    if (server_key (g, data, t.server_key)) {
        fprintf (stderr, "error: the server's public key is unknown: use the admin config of a tcp server "
                         "(--kubeconfig) or --data with the server's data directory\n");
        return 1;
    }
    t.has_server_key = 1;
    json_t *made = cli_do (g, TR_VERB_CREATE, "Secret", TR_TOKEN_NS, NULL,
                           tr_token_secret (&t, ttl_ms ? now_ms () + ttl_ms : 0, desc), NULL, NULL);
    if (!made)
        return 1;
    json_decref (made);
    char text[200];
    tr_token_format (&t, text, sizeof text);
    if (join_cmd)
        printf ("troupe join %s --token %s\n", g->neps ? g->eps[g->cur] : "tcp://SERVER:PORT", text);
    else
        printf ("%s\n", text);
    return 0;
}

static const char *
data_str (const json_t *s, const char *key, char *buf, size_t len)
{
    const char *b64 = tv_str (json_object_get (s, "data"), key);
    size_t n = 0;
    if (!b64 || sodium_base642bin ((unsigned char *) buf, len - 1, b64, strlen (b64), NULL, &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL))
        return NULL;
    buf[n] = 0;
    return buf;
}

static int
token_list (cli_t *g)
{
    json_t *list = cli_do (g, TR_VERB_LIST, "Secret", TR_TOKEN_NS, NULL, NULL,
                           json_pack ("{s:s}", "fieldSelector", "type=" TR_TOKEN_TYPE), NULL);
    if (!list)
        return 1;
    printf ("%-24s%-8s%-22s%-28s%s\n", "TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION");
    size_t i;
    json_t *s;
    int64_t now = now_ms ();
    json_array_foreach (json_object_get (list, "items"), i, s) {
        char id[32], sec[32], exp[64], desc[256], ttl[32];
        if (!tv_str (s, "type") || strcmp (tv_str (s, "type"), TR_TOKEN_TYPE) || !data_str (s, "token-id", id, sizeof id) ||
            !data_str (s, "token-secret", sec, sizeof sec))
            continue;
        const char *e = data_str (s, "expiration", exp, sizeof exp);
        int64_t at = e ? tr_time_parse (e) : -1;
        if (!e)
            snprintf (ttl, sizeof ttl, "<forever>");
        else if (at <= now)
            snprintf (ttl, sizeof ttl, "<invalid>"); /* kubeadm's word for an expired token */
        else if (at - now >= 3600000)
            snprintf (ttl, sizeof ttl, "%lldh", (long long) ((at - now) / 3600000));
        else
            snprintf (ttl, sizeof ttl, "%lldm", (long long) ((at - now) / 60000));
        char usages[64] = "", u[16];
        if (data_str (s, "usage-bootstrap-authentication", u, sizeof u) && !strcmp (u, "true"))
            strcat (usages, "authentication");
        if (data_str (s, "usage-bootstrap-signing", u, sizeof u) && !strcmp (u, "true"))
            strcat (usages, usages[0] ? ",signing" : "signing");
        char tok[80];
        snprintf (tok, sizeof tok, "%s.%s", id, sec);
        printf ("%-24s%-8s%-22s%-28s%s\n", tok, ttl, e ? e : "<never>", usages[0] ? usages : "<none>",
                data_str (s, "description", desc, sizeof desc) ? desc : "<none>");
    }
    json_decref (list);
    return 0;
}

static int
token_delete (cli_t *g, int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: troupe token delete ID|TOKEN…\n");
        return 2;
    }
    int bad = 0;
    for (int i = 2; i < argc; i++) {
        tr_token_t t;
        char err[200], id[8];
        if (!tr_token_parse (argv[i], &t, err, sizeof err))
            snprintf (id, sizeof id, "%s", t.id);
        else if (strlen (argv[i]) == 6 && strspn (argv[i], "abcdefghijklmnopqrstuvwxyz0123456789") == 6)
            snprintf (id, sizeof id, "%s", argv[i]);
        else {
            fprintf (stderr, "error: \"%s\": %s (or a 6-character token id)\n", argv[i], err);
            bad = 1;
            continue;
        }
        char name[64];
        snprintf (name, sizeof name, TR_TOKEN_SECRET_PREFIX "%s", id);
        int code;
        json_t *gone = cli_do (g, TR_VERB_DELETE, "Secret", TR_TOKEN_NS, name, NULL, NULL, &code);
        json_decref (gone);
        if (gone)
            printf ("bootstrap token \"%s\" deleted\n", id);
        else if (code == TR_NOT_FOUND) {
            fprintf (stderr, "error: bootstrap token \"%s\" not found\n", id);
            bad = 1;
        } else
            return 1;
    }
    return bad;
}

int
cmd_token (cli_t *g, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp (sub, "create"))
        return token_create (g, argc, argv);
    if (!strcmp (sub, "list"))
        return token_list (g);
    if (!strcmp (sub, "delete"))
        return token_delete (g, argc, argv);
    fprintf (stderr, "usage: troupe token create [--ttl 24h] [--description D] [--print-join-command] | list | delete ID\n");
    return 2;
}

/* ---- join ----------------------------------------------------------------------------------- */

/* Does something accept a TCP connection at tcp://host:port? (to tell a wrong key from no server) */
static int
tcp_open (const char *ep)
{
    char host[256], *port;
    if (strncmp (ep, "tcp://", 6))
        return 0;
    snprintf (host, sizeof host, "%s", ep + 6);
    if (!(port = strrchr (host, ':')))
        return 0;
    *port++ = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo (host, port, &hints, &ai) || !ai)
        return 0;
    int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {3, 0};
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = fd >= 0 && connect (fd, ai->ai_addr, ai->ai_addrlen) == 0;
    if (fd >= 0)
        close (fd);
    freeaddrinfo (ai);
    return ok;
}

static int
read_line (const char *path, char *buf, size_t len)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    int ok = fgets (buf, (int) len, f) != NULL;
    fclose (f);
    buf[strcspn (buf, "\n")] = 0;
    return ok && buf[0] ? 0 : -1;
}

/* Asks each server in turn; 0 joined, 1 refused (printed), 2 unreachable (printed). */
static int
ask_join (const char *servers, const tr_creds_t *creds, const char *token, const char *node)
{
    char list[2048];
    snprintf (list, sizeof list, "%s", servers);
    int refused = 0;
    for (char *save, *ep = strtok_r (list, ",", &save); ep; ep = strtok_r (NULL, ",", &save)) {
        char err[300];
        tr_client_t *c = tr_client_new (ep, creds, err, sizeof err);
        if (!c) {
            fprintf (stderr, "error: %s: %s\n", ep, err);
            continue;
        }
        tr_env_t req, rep;
        tr_env_init (&req);
        req.verb = TR_VERB_CREATE;
        snprintf (req.kind, sizeof req.kind, "NodeJoin");
        req.body = json_pack ("{s:s, s:s}", "token", token, "nodeName", node);
        int rc = tr_client_call (c, &req, &rep, 10000);
        tr_env_clear (&req);
        tr_client_destroy (&c);
        if (rc) {
            if (tcp_open (ep))
                fprintf (stderr, "error: %s accepts connections but no CURVE handshake with the key in the token "
                                 "succeeded within 10 s: the token was made by another cluster, or this server's "
                                 "keys changed\n", ep);
            else
                fprintf (stderr, "error: %s: no server answers there\n", ep);
            continue;
        }
        if (rep.code == TR_OK) {
            tr_env_clear (&rep);
            return 0;
        }
        fprintf (stderr, "error: %s refused to join: %s\n", ep, rep.msg ? rep.msg : tr_code_name (rep.code));
        tr_env_clear (&rep);
        refused = 1;
        break; /* a refusal is the cluster's answer, not one server's */
    }
    return refused ? 1 : 2;
}

int
cmd_join (cli_t *g, int argc, char **argv)
{
    const char *token = cli_opt (&argc, argv, "--token", NULL);
    const char *node_opt = cli_opt (&argc, argv, "--node-name", NULL);
    const char *data_opt = cli_opt (&argc, argv, "--data", NULL);
    const char *servers = g->server;
    if (argc > 1 && argv[1][0] != '-') {
        servers = argv[1];
        memmove (argv + 1, argv + 2, (size_t) (argc - 2) * sizeof *argv);
        argc--;
    }
    char data[1024], conf[1200], namef[1200], node[256], stored[256];
    if (data_opt)
        snprintf (data, sizeof data, "%s", data_opt);
    else
        tr_conn_default_data_dir (data, sizeof data);
    snprintf (conf, sizeof conf, "%s/node.conf", data);
    snprintf (namef, sizeof namef, "%s/node-name", data);
    if (node_opt)
        snprintf (node, sizeof node, "%s", node_opt);
    else if (read_line (namef, node, sizeof node)) {
        gethostname (node, sizeof node);
        node[sizeof node - 1] = 0;
        for (char *p = node; *p; p++)
            *p = (char) tolower ((unsigned char) *p);
    }
    int joined = access (conf, R_OK) == 0;
    if (joined && !read_line (namef, stored, sizeof stored) && strcmp (stored, node)) {
        fprintf (stderr, "error: %s joined as node \"%s\", not \"%s\" (another --data for another node)\n", data,
                 stored, node);
        return 2;
    }
    if (!joined) {
        if (!servers || !*servers) {
            fprintf (stderr, "usage: troupe join tcp://SERVER[,…] --token TOKEN [--node-name N] [--data DIR] [agent flags]\n");
            return 2;
        }
        tr_token_t t;
        char err[300];
        if (!token) {
            fprintf (stderr, "error: %s has no node identity yet: --token is needed (troupe token create on a server)\n", data);
            return 2;
        }
        if (tr_token_parse (token, &t, err, sizeof err)) {
            fprintf (stderr, "error: --token: %s\n", err);
            return 2;
        }
        if (!t.has_server_key) {
            fprintf (stderr, "error: --token: the token carries no server key (K10<key>::ID.SECRET, as `troupe token "
                             "create` prints it): without it this node cannot tell the real server\n");
            return 2;
        }
        zcert_t *me = zcert_new ();
        tr_creds_t creds = {0};
        zmq_z85_encode (creds.server_key, t.server_key, 32);
        snprintf (creds.public_key, sizeof creds.public_key, "%s", zcert_public_txt (me));
        snprintf (creds.secret_key, sizeof creds.secret_key, "%s", zcert_secret_txt (me));
        zcert_destroy (&me);
        int rc = ask_join (servers, &creds, token, node);
        if (rc) {
            sodium_memzero (&creds, sizeof creds);
            return 1;
        }
        mkdir (data, 0700);
        FILE *f = fopen (namef, "w");
        if (!f || fprintf (f, "%s\n", node) < 0 || fclose (f) || tr_conn_write_config (conf, servers, &creds)) {
            fprintf (stderr, "error: cannot write %s: %s\n", conf, strerror (errno));
            sodium_memzero (&creds, sizeof creds);
            return 1;
        }
        sodium_memzero (&creds, sizeof creds);
        printf ("node \"%s\" joined %s; identity in %s\n", node, servers, conf);
        fflush (stdout);
    }
    /* the agent, in the foreground, as this node: troupe agent --data D --node-name N [flags…] */
    char **av = calloc ((size_t) argc + 6, sizeof *av);
    int n = 0;
    av[n++] = "agent";
    av[n++] = "--data";
    av[n++] = data;
    av[n++] = "--node-name";
    av[n++] = node;
    for (int i = 1; i < argc; i++)
        av[n++] = argv[i];
    g->config = conf;
    g->server = joined ? servers : NULL; /* the endpoints given now win over the stored ones */
    int rc = cmd_agent (g, n, av);
    free (av);
    return rc;
}
