/* cli_common — option parsing, connection, error printing, manifests. See cli.h. */
#include "cli/cli.h"
#include "core/value.h"
#include "core/yaml.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <poll.h>
#include <netdb.h>
#include <string.h>

static void
drop (int *argc, char **argv, int i, int n)
{
    memmove (&argv[i], &argv[i + n], sizeof (char *) * (size_t) (*argc - i - n + 1));
    *argc -= n;
}

const char *
cli_opt (int *argc, char **argv, const char *long_name, const char *short_name)
{
    size_t ll = long_name ? strlen (long_name) : 0;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp (argv[i], "--"))
            break;
        if (long_name && !strncmp (argv[i], long_name, ll) && argv[i][ll] == '=') {
            const char *v = argv[i] + ll + 1;
            drop (argc, argv, i, 1);
            return v;
        }
        if ((long_name && !strcmp (argv[i], long_name)) || (short_name && !strcmp (argv[i], short_name))) {
            if (i + 1 >= *argc)
                return NULL;
            const char *v = argv[i + 1];
            drop (argc, argv, i, 2);
            return v;
        }
    }
    return NULL;
}

int
cli_flag (int *argc, char **argv, const char *long_name, const char *short_name)
{
    for (int i = 1; i < *argc; i++) {
        if (!strcmp (argv[i], "--"))
            break;
        if ((long_name && !strcmp (argv[i], long_name)) || (short_name && !strcmp (argv[i], short_name))) {
            drop (argc, argv, i, 1);
            return 1;
        }
    }
    return 0;
}

/* Does something accept connections at ep (tcp or ipc)? A dead server refuses at once, where
 * ZeroMQ would retry silently until the request times out. */
static int
reachable (const char *ep)
{
    int fd = -1, ok = 0;
    if (!strncmp (ep, "tcp://", 6)) {
        char host[256], *colon;
        snprintf (host, sizeof host, "%s", ep + 6);
        colon = strrchr (host, ':');
        if (!colon)
            return 1;
        *colon = 0;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        if (getaddrinfo (host, colon + 1, &hints, &ai) || !ai)
            return 0;
        fd = socket (ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int err = 0;
            socklen_t el = sizeof err;
            ok = poll (&p, 1, 1000) == 1 && getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
        }
        freeaddrinfo (ai);
    } else if (!strncmp (ep, "ipc://", 6)) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf (a.sun_path, sizeof a.sun_path, "%s", ep + 6);
        fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = fd >= 0 && connect (fd, (struct sockaddr *) &a, sizeof a) == 0;
    } else
        return 1;
    if (fd >= 0)
        close (fd);
    return ok;
}

/* The server that answered last, per list of servers: $XDG_CACHE_HOME/troupe/server (or
 * ~/.cache/troupe/server), one line "LIST<TAB>INDEX". A dead or silent first server then costs
 * one invocation its timeout, not every one. */
static void
last_server_path (char *buf, size_t len)
{
    const char *xdg = getenv ("XDG_CACHE_HOME"), *home = getenv ("HOME");
    if (xdg && *xdg)
        snprintf (buf, len, "%s/troupe/server", xdg);
    else
        snprintf (buf, len, "%s/.cache/troupe/server", home ? home : "/tmp");
}

static void
endpoint_list (const cli_t *g, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < g->neps; i++)
        snprintf (buf + strlen (buf), len - strlen (buf), "%s%s", i ? "," : "", g->eps[i]);
}

static int
last_server_read (const cli_t *g)
{
    char path[1100], want[CLI_MAX_ENDPOINTS * 300], line[sizeof want + 32];
    last_server_path (path, sizeof path);
    endpoint_list (g, want, sizeof want);
    FILE *f = fopen (path, "r");
    int idx = 0;
    if (f) {
        if (fgets (line, sizeof line, f)) {
            char *tab = strrchr (line, '\t');
            if (tab) {
                *tab = 0;
                int v = atoi (tab + 1);
                if (!strcmp (line, want) && v >= 0 && v < g->neps)
                    idx = v;
            }
        }
        fclose (f);
    }
    return idx;
}

static void
last_server_write (const cli_t *g)
{
    char path[1100], list[CLI_MAX_ENDPOINTS * 300], tmp[1200];
    last_server_path (path, sizeof path);
    endpoint_list (g, list, sizeof list);
    char *slash = strrchr (path, '/');
    if (slash) {
        *slash = 0;
        char parent[1100];
        snprintf (parent, sizeof parent, "%s", path);
        char *s2 = strrchr (parent, '/');
        if (s2) {
            *s2 = 0;
            mkdir (parent, 0700); /* ~/.cache */
        }
        mkdir (path, 0700);
        *slash = '/';
    }
    snprintf (tmp, sizeof tmp, "%s.%d", path, (int) getpid ());
    FILE *f = fopen (tmp, "w");
    if (!f)
        return; /* only a hint */
    fprintf (f, "%s\t%d\n", list, g->cur);
    if (fclose (f) == 0)
        rename (tmp, path);
    else
        unlink (tmp);
}

tr_client_t *
cli_client (cli_t *g)
{
    if (g->client)
        return g->client;
    char err[512], path[1024];
    if (!g->neps) {
        char endpoint[2048];
        const char *cfg = g->config ? g->config : tr_conn_default_config_path (path, sizeof path);
        g->have_creds = tr_conn_load_config (cfg, endpoint, sizeof endpoint, &g->creds, err, sizeof err) == 0;
        if (g->server)
            snprintf (endpoint, sizeof endpoint, "%s", g->server);
        else if (!g->have_creds) {
            fprintf (stderr, "error: %s\n", err);
            return NULL;
        }
        /* several servers of one cluster, comma-separated: used one at a time, in order */
        for (char *save, *ep = strtok_r (endpoint, ",", &save); ep && g->neps < CLI_MAX_ENDPOINTS;
             ep = strtok_r (NULL, ",", &save))
            snprintf (g->eps[g->neps++], sizeof g->eps[0], "%s", ep);
        if (!g->neps) {
            fprintf (stderr, "error: no server endpoint\n");
            return NULL;
        }
        if (g->neps > 1)
            g->cur = g->first = last_server_read (g);
    }
    /* with several servers, start with one that is up */
    for (int i = 0; g->neps > 1 && i < g->neps && !reachable (g->eps[g->cur]); i++)
        g->cur = (g->cur + 1) % g->neps;
    g->client = tr_client_new (g->eps[g->cur], g->have_creds ? &g->creds : NULL, err, sizeof err);
    if (!g->client)
        fprintf (stderr, "error: %s\n", err);
    return g->client;
}

json_t *
cli_do (cli_t *g, tr_verb_t verb, const char *kind, const char *ns, const char *name, json_t *body, json_t *opts,
        int *code)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    snprintf (req.kind, sizeof req.kind, "%s", kind);
    snprintf (req.ns, sizeof req.ns, "%s", ns ? ns : "");
    snprintf (req.name, sizeof req.name, "%s", name ? name : "");
    req.body = body;
    req.opts = opts;
    int rc = cli_call (g, &req, &rep);
    tr_env_clear (&req);
    if (code)
        *code = rc ? (int) TR_UNAVAILABLE : (int) rep.code;
    if (rc)
        return NULL;
    json_t *out = NULL;
    if (rep.code == TR_OK)
        out = rep.body ? json_incref (rep.body) : json_object ();
    else if (!code || rep.code != TR_NOT_FOUND)
        cli_print_error (&rep);
    tr_env_clear (&rep);
    return out;
}

int
cli_call (cli_t *g, tr_env_t *req, tr_env_t *reply)
{
    return cli_call_ms (g, req, reply, 0);
}

int
cli_call_ok (cli_t *g, tr_env_t *req, tr_env_t *reply)
{
    int rc = cli_call (g, req, reply);
    tr_env_clear (req);
    if (rc)
        return 1;
    if (reply->code != TR_OK) {
        cli_print_error (reply);
        tr_env_clear (reply);
        return 1;
    }
    return 0;
}

int
cli_call_ms (cli_t *g, tr_env_t *req, tr_env_t *reply, int wait_ms)
{
    tr_env_init (reply);
    if (!cli_client (g))
        return TR_UNAVAILABLE;
    /* with several servers, one that does not answer within a few seconds is skipped; the
     * request goes to the next (a write that did reach the silent one may then be reported as
     * AlreadyExists or Conflict: the same outcome-unknown rule as a timeout) */
    int tries = g->neps, timeout = g->neps > 1 ? CLI_FAILOVER_MS : CLI_TIMEOUT_MS;
    if (wait_ms > timeout)
        timeout = wait_ms;
    for (int t = 0; t < tries; t++) {
        if (!cli_client (g))
            return TR_UNAVAILABLE;
        int rc = tr_client_call (g->client, req, reply, timeout);
        if (!rc) {
            if (g->neps > 1 && g->cur != g->first) {
                last_server_write (g);
                g->first = g->cur;
            }
            return 0;
        }
        if (g->neps > 1) {
            fprintf (stderr, "warning: %s did not answer within %d s; trying the next server\n", g->eps[g->cur],
                     timeout / 1000);
            tr_client_destroy (&g->client);
            g->cur = (g->cur + 1) % g->neps;
            tr_env_clear (reply);
            tr_env_init (reply);
        }
    }
    fprintf (stderr, "error: %s did not answer within %d s (is `troupe up` running?)\n",
             g->neps > 1 ? "no server" : "the server", timeout / 1000);
    return TR_TIMEOUT;
}

void
cli_print_error (const tr_env_t *reply)
{
    if (reply->code == TR_INVALID)
        fprintf (stderr, "The %s\n", reply->msg ? reply->msg : "request is invalid");
    else
        fprintf (stderr, "Error from server (%s): %s\n", tr_code_name (reply->code), reply->msg ? reply->msg : "");
}

const schema_kind_t *
cli_kind (cli_t *g, const char *name)
{
    const schema_kind_t *k = schema_kind_lookup (g->schemas, name);
    if (!k)
        fprintf (stderr, "error: the server doesn't have a resource type \"%s\"\n", name);
    return k;
}

void
cli_resource_name (const schema_kind_t *k, const char *name, char *buf, size_t len)
{
    char lower[64];
    const char *kn = schema_kind_name (k);
    size_t i;
    for (i = 0; kn[i] && i < sizeof lower - 1; i++)
        lower[i] = (char) (kn[i] >= 'A' && kn[i] <= 'Z' ? kn[i] + 32 : kn[i]);
    lower[i] = 0;
    const char *av = schema_kind_api_version (k);
    const char *slash = strchr (av, '/');
    if (slash)
        snprintf (buf, len, "%s.%.*s/%s", lower, (int) (slash - av), av, name);
    else
        snprintf (buf, len, "%s/%s", lower, name);
}

char *
cli_read_file (const char *path, size_t *len)
{
    FILE *f = strcmp (path, "-") ? fopen (path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc (cap);
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= (64u << 20)) { /* a manifest is not 64 MiB */
                errno = EFBIG;
                free (buf);
                if (f != stdin)
                    fclose (f);
                return NULL;
            }
            buf = realloc (buf, cap *= 2);
        }
        size_t r = fread (buf + n, 1, cap - n - 1, f);
        if (!r)
            break;
        n += r;
    }
    if (f != stdin)
        fclose (f);
    buf[n] = 0;
    *len = n;
    return buf;
}

json_t *
cli_load_manifests (cli_t *g, const char *path)
{
    size_t len;
    char *text = cli_read_file (path, &len);
    if (!text) {
        fprintf (stderr, "error: %s: %s\n", path, strerror (errno));
        return NULL;
    }
    char err[512];
    json_t *docs = tr_yaml_load (text, len, err, sizeof err);
    free (text);
    if (!docs) {
        fprintf (stderr, "error: %s: %s\n", path, err);
        return NULL;
    }
    json_t *out = json_array ();
    size_t i;
    json_t *d;
    json_array_foreach (docs, i, d) {
        if (json_is_null (d))
            continue;
        /* a List (kubectl get -o json/yaml output) is unpacked */
        if (json_is_object (d) && tv_str (d, "kind") && !strcmp (tv_str (d, "kind"), "List") &&
            json_is_array (tv_get (d, "items"))) {
            size_t j;
            json_t *it;
            json_array_foreach (tv_get (d, "items"), j, it) json_array_append (out, it);
            continue;
        }
        const char *problem = !json_is_object (d)                         ? "a manifest must be a map"
                              : !tv_str (d, "kind")                       ? "kind: Required value"
                              : !tv_str (d, "apiVersion")                 ? "apiVersion: Required value"
                              : !schema_kind_lookup (g->schemas, tv_str (d, "kind")) ? "kind: unknown kind"
                              : (!tv_str (d, "metadata.name") && !tv_str (d, "metadata.generateName"))
                                  ? "metadata.name: Required value"
                                  : NULL;
        if (problem) {
            fprintf (stderr, "error: %s: document %zu: %s%s%s%s\n", path, i + 1, problem,
                     tv_str (d, "kind") ? " (\"" : "", tv_str (d, "kind") ? tv_str (d, "kind") : "",
                     tv_str (d, "kind") ? "\")" : "");
            json_decref (docs);
            json_decref (out);
            return NULL;
        }
        json_array_append (out, d);
    }
    json_decref (docs);
    if (!json_array_size (out)) {
        fprintf (stderr, "error: %s: no objects passed to apply\n", path);
        json_decref (out);
        return NULL;
    }
    return out;
}

const char *
cli_namespace (cli_t *g, const json_t *obj)
{
    if (g->ns)
        return g->ns;
    const char *ns = obj ? tv_str (obj, "metadata.namespace") : NULL;
    return ns ? ns : "default";
}
