/* cmd_cluster — init, up, server, agent, shim: the process edges that wire actors together.
 *
 * Layout of a data directory (default $XDG_DATA_HOME/troupe):
 *   store/         LMDB of the store actor
 *   raft/          libraft's log segments and snapshots, troupe-id (replicated servers only)
 *   pki/           server.cert(_secret), clients/<name>.cert (public, with role), <name>.cert_secret,
 *                  peer.cert(_secret) (the cluster key, shared by every server), token (join token),
 *                  secrets-encryption.yaml (the keys that encrypt Secrets at rest, 0600)
 *   run/           troupe.sock (the local broker endpoint, 0600 in a 0700 dir), shim.sock
 *   shim/          the process shim's container records
 *   pods/          container logs (<uid>/<container>/<attempt>.log)
 */
#include "actors/agent/agent_actor.h"
#include "broker/svcalloc.h"
#include "actors/agent/logrotate.h"
#include "actors/agent/nodestatus.h"
#include "actors/dns/dns_actor.h"
#include "actors/controllers/controllers_actor.h"
#include "actors/controllers/nodeipam.h"

#include <arpa/inet.h>
#include "actors/manifests/manifests_actor.h"
#include "actors/proxy/proxy_actor.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/scheduler_actor.h"
#include "actors/store/raft_store.h"
#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "broker/encryption.h"
#include "cli/cli.h"
#include "cli/cluster_pki.h"
#include "core/host.h"
#include "core/log.h"
#include "core/zap.h"
#include "core/store_proto.h"
#include "core/value.h"
#include "core/yaml.h"
#include "runtime-shims/process/process_shim.h"
#include "runtime-shims/shim.h"

#include <ctype.h>
#include <sodium.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int
mkdirp (const char *path, mode_t mode)
{
    char tmp[1024];
    snprintf (tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (tmp, 0755);
            *p = '/';
        }
    if (mkdir (tmp, mode) && errno != EEXIST)
        return -1;
    return 0;
}

/* --config FILE: the same settings as the flags, as YAML (flags win). Unknown keys are errors.
 *   data: /var/lib/troupe     listen: tcp://0.0.0.0:7001   nodeName: n1   name: s1
 *   actors: [./libmine.so]    logLevel: debug              keepPodsOnExit: false
 *   controllers: {nodeMonitorGracePeriodSeconds: 40, podEvictionTimeoutSeconds: 300,
 *                 clusterCIDR: 10.244.0.0/16, nodeCIDRMaskSize: 24} (--cluster-cidr, --node-cidr-mask-size)
 *   scheduler: {schedulerConfig: FILE} (--scheduler-config)
 *   node: maxPods kubeReserved systemReserved evictionHard, insecureRegistries: [HOST:PORT],
 *   registries: {mirrors: {docker.io: {endpoint: [http://…]}}} (k3s's registries.yaml),
 *   podCIDR: CIDR (default: the Node's spec.podCIDR), clusterCIDR: 10.244.0.0/16 (not masqueraded),
 *   nodeIP: ADDR (default: the default route's interface's), defaultRuntime: oci|process, containerLogMaxSize: 10Mi,
 *   containerLogMaxFiles: 5, containerLogMonitorInterval: 10s,
 *   cniBinDir: /usr/lib/cni, runcPath / conmonPath: PATH (default: found on PATH)
 *   replicated servers: peerListen, join, token, joinTimeoutSeconds, snapshotThreshold,
 *   snapshotTrailing, leaseCheckpointSeconds, supervise (flags of the same names win)
 *   standalone agent: staticPodPath: DIR (--manifests)
 *   cluster DNS: clusterDNS: 10.96.0.10 ("" = none), clusterDomain: cluster.local,
 *   resolvConf: /etc/resolv.conf, dnsListen: IP:PORT and dnsUpstreams: [IP:PORT] (tests)
 *   proxy: false (--proxy=false): no Service proxy on this node (actors/proxy)               */
static json_t *
load_server_config (int *argc, char **argv, int *bad)
{
    static const char *known[] = {"data", "listen", "nodeName", "name", "actors", "logLevel", "keepPodsOnExit",
                                  "maxPods", "kubeReserved", "systemReserved", "evictionHard",
                                  "insecureRegistries", "registries", "podCIDR", "defaultRuntime", "containerLogMaxSize",
                                  "containerLogMaxFiles", "containerLogMonitorInterval",
                                  "imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "cniBinDir",
                                  "runcPath", "conmonPath", "controllers", "peerListen", "join", "token", "joinTimeoutSeconds",
                                  "snapshotThreshold", "snapshotTrailing", "leaseCheckpointSeconds", "supervise",
                                  "staticPodPath", "nodeIP", "clusterCIDR", "serviceCIDR", "serviceNodePortRange",
                                  "clusterDNS", "clusterDomain", "resolvConf", "dnsListen", "dnsUpstreams", "proxy", "scheduler", "watchCacheSize", NULL};
    const char *path = cli_opt (argc, argv, "--config", NULL);
    *bad = 0;
    if (!path)
        return json_object ();
    size_t len;
    char *text = cli_read_file (path, &len);
    if (!text) {
        fprintf (stderr, "error: --config %s: %s\n", path, strerror (errno));
        *bad = 1;
        return json_object ();
    }
    char err[512];
    json_t *docs = tr_yaml_load (text, len, err, sizeof err);
    free (text);
    json_t *cfg = docs ? json_incref (json_array_get (docs, 0)) : NULL;
    json_decref (docs);
    if (!docs || (cfg && !json_is_object (cfg))) {
        fprintf (stderr, "error: --config %s: %s\n", path, docs ? "must be a map" : err);
        json_decref (cfg);
        *bad = 1;
        return json_object ();
    }
    if (!cfg)
        cfg = json_object ();
    const char *k;
    json_t *v;
    json_object_foreach (cfg, k, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= !strcmp (k, known[i]);
        if (!ok || (strcmp (k, "actors") && strcmp (k, "keepPodsOnExit") && strcmp (k, "controllers") &&
                    !(!strcmp (k, "scheduler") && json_is_object (v)) &&
                    !(!strcmp (k, "proxy") && json_is_boolean (v)) &&
                    !((!strcmp (k, "insecureRegistries") || !strcmp (k, "dnsUpstreams")) && json_is_array (v)) &&
                    !(!strcmp (k, "registries") && json_is_object (v)) &&
                    !((!strcmp (k, "maxPods") || !strncmp (k, "imageGC", 7) || !strcmp (k, "containerLogMaxFiles") ||
                       !strcmp (k, "watchCacheSize")) &&
                      json_is_integer (v)) &&
                    !json_is_string (v))) {
            fprintf (stderr, "error: --config %s: %s: %s\n", path, k, ok ? "must be a string" : "unknown field");
            *bad = 1;
        }
    }
    const char *lvl = tv_str (cfg, "logLevel");
    if (lvl && !getenv ("TROUPE_LOG"))
        setenv ("TROUPE_LOG", lvl, 1);
    return cfg;
}

static const char *
pick (const char *flag, const json_t *cfg, const char *key)
{
    return flag ? flag : tv_str (cfg, key);
}

/* kube-controller-manager's --cluster-cidr and --node-cidr-mask-size (server, up): into
 * cfg.controllers (flags win), checked here so a bad value stops the command at once. 0 or -1. */
static int
ipam_flags (int *argc, char **argv, json_t *cfg)
{
    const char *cidr = cli_opt (argc, argv, "--cluster-cidr", NULL);
    const char *mask = cli_opt (argc, argv, "--node-cidr-mask-size", NULL);
    json_t *ctl = json_object_get (cfg, "controllers");
    if (!json_is_object (ctl)) {
        ctl = json_object ();
        json_object_set_new (cfg, "controllers", ctl);
    }
    if (cidr)
        json_object_set_new (ctl, "clusterCIDR", json_string (cidr));
    if (mask) {
        char *end;
        long n = strtol (mask, &end, 10);
        json_object_set_new (ctl, "nodeCIDRMaskSize", json_integer (end == mask || *end ? -1 : n));
    }
    json_t *c = json_object_get (ctl, "clusterCIDR"), *m = json_object_get (ctl, "nodeCIDRMaskSize");
    nodeipam_t t;
    char err[300];
    if ((c && !json_is_string (c)) || (m && !json_is_integer (m)) ||
        nodeipam_init (&t, c ? json_string_value (c) : NODEIPAM_CLUSTER_CIDR, m ? (int) json_integer_value (m) : NODEIPAM_MASK,
                       err, sizeof err)) {
        fprintf (stderr, "error: --cluster-cidr / --node-cidr-mask-size: %s\n",
                 (c && !json_is_string (c)) || (m && !json_is_integer (m)) ? "clusterCIDR must be a string, nodeCIDRMaskSize an integer" : err);
        return -1;
    }
    nodeipam_clear (&t);
    return 0;
}

/* kube-scheduler's --config: `--scheduler-config FILE` (server, up) or `scheduler: {schedulerConfig:
 * FILE}`, a KubeSchedulerConfiguration. A file that cannot be read or is not one stops the command
 * at once; a profile in it that fails to load is only logged (the others run). 0 or -1. */
static int
sched_flags (int *argc, char **argv, json_t *cfg)
{
    const char *file = cli_opt (argc, argv, "--scheduler-config", NULL);
    json_t *sc = json_object_get (cfg, "scheduler");
    if (file) {
        if (!json_is_object (sc)) {
            sc = json_object ();
            json_object_set_new (cfg, "scheduler", sc);
        }
        json_object_set_new (sc, "schedulerConfig", json_string (file));
    }
    file = tv_str (sc, "schedulerConfig");
    if (!file)
        return 0;
    sched_config_t t;
    char err[600];
    int rc = sched_config_load_file (file, &t, err, sizeof err);
    sched_config_clear (&t);
    if (rc)
        fprintf (stderr, "error: --scheduler-config: %s\n", err);
    return rc;
}

/* A number from a flag or a config key (0: unset, the default applies). */
static long
pick_num (const char *flag, const json_t *cfg, const char *key)
{
    if (flag)
        return strtol (flag, NULL, 10);
    json_t *v = tv_get (cfg, key);
    return json_is_integer (v) ? (long) json_integer_value (v) : json_is_string (v) ? strtol (json_string_value (v), NULL, 10) : 0;
}

static void
data_dir_of (int *argc, char **argv, char *buf, size_t len, const json_t *cfg)
{
    const char *d = pick (cli_opt (argc, argv, "--data", NULL), cfg, "data");
    if (d) {
        char *abs = realpath (d, NULL);
        if (!abs) {
            mkdirp (d, 0700);
            abs = realpath (d, NULL);
        }
        snprintf (buf, len, "%s", abs ? abs : d);
        free (abs);
    } else
        tr_conn_default_data_dir (buf, len);
    mkdirp (buf, 0700);
}

/* The key that encrypts Secrets at rest (broker/encryption.h): made once, beside the other keys;
 * a joining server's is replaced by the cluster's (cli/cluster_pki.c). A data directory made
 * before encryption existed gets one at its next start; Secrets stored in plaintext stay
 * readable (identity provider) and are encrypted when rewritten (`troupe secrets rewrite`). */
static int
ensure_encryption (const char *pki)
{
    char path[1200], err[300];
    snprintf (path, sizeof path, "%s/%s", pki, ENC_CONFIG_FILE);
    if (access (path, F_OK) == 0)
        return 0;
    if (mkdirp (pki, 0700))
        return -1;
    encryption_t *e = encryption_new ();
    int rc = e ? encryption_save (e, path, err, sizeof err) : -1;
    if (rc)
        fprintf (stderr, "error: %s\n", e ? err : "cannot make an encryption key");
    encryption_destroy (&e);
    return rc;
}

/* Creates the cluster's keys once. Returns 0 (also when they exist) or -1. */
static int
ensure_pki (const char *data, const char *cluster, int verbose)
{
    char pki[1100], path[1200];
    snprintf (pki, sizeof pki, "%s/pki", data);
    if (ensure_encryption (pki))
        return -1;
    snprintf (path, sizeof path, "%s/server.cert_secret", pki);
    if (access (path, R_OK) == 0) {
        if (verbose)
            fprintf (stderr, "troupe: cluster keys already exist in %s\n", pki);
        return 0;
    }
    snprintf (path, sizeof path, "%s/clients", pki);
    if (mkdirp (path, 0700))
        return -1;
    zcert_t *server = zcert_new ();
    zcert_set_meta (server, "cluster", "%s", cluster);
    snprintf (path, sizeof path, "%s/server.cert", pki);
    zcert_save (server, path);
    zcert_destroy (&server);
    zcert_t *admin = zcert_new ();
    zcert_set_meta (admin, "name", "admin");
    zcert_set_meta (admin, "role", "admin");
    snprintf (path, sizeof path, "%s/clients/admin.cert", pki);
    zcert_save_public (admin, path);
    snprintf (path, sizeof path, "%s/admin.cert_secret", pki);
    zcert_save_secret (admin, path);
    zcert_destroy (&admin);
    return 0;
}

#define TOKEN_PREFIX "T1"

/* The cluster key every server holds (peer traffic is CURVE with it): pki/peer.cert(_secret),
 * and its public half in clients/ (role "peer": no verbs at the broker) so the process's ZAP
 * handler admits it on the peer sockets. The join token carries its secret key. */
static int
save_peer_cert (const char *data, zcert_t *cert)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/pki/clients", data);
    if (mkdirp (path, 0700))
        return -1;
    zcert_set_meta (cert, "name", "cluster-peer");
    zcert_set_meta (cert, "role", "peer");
    snprintf (path, sizeof path, "%s/pki/peer.cert", data);
    if (zcert_save (cert, path))
        return -1;
    snprintf (path, sizeof path, "%s/pki/clients/cluster-peer.cert", data);
    if (zcert_save_public (cert, path))
        return -1;
    unsigned char sk[32];
    memcpy (sk, zcert_secret_key (cert), 32);
    char tok[80];
    snprintf (tok, sizeof tok, "%s", TOKEN_PREFIX);
    for (int i = 0; i < 32; i++)
        snprintf (tok + 2 + 2 * i, 3, "%02x", sk[i]);
    sodium_memzero (sk, sizeof sk);
    snprintf (path, sizeof path, "%s/pki/token", data);
    FILE *f = fopen (path, "w");
    if (!f)
        return -1;
    fchmod (fileno (f), 0600);
    fprintf (f, "%s\n", tok);
    fclose (f);
    return 0;
}

/* The cluster certificate from a join token; NULL (with a message) if it is not one. */
static zcert_t *
cert_from_token (const char *tok)
{
    unsigned char sk[32], pk[32];
    if (strlen (tok) != 2 + 64 || strncmp (tok, TOKEN_PREFIX, 2)) {
        fprintf (stderr, "error: --token: not a Troupe join token (expected %s followed by 64 hex digits)\n",
                 TOKEN_PREFIX);
        return NULL;
    }
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (!isxdigit ((unsigned char) tok[2 + 2 * i]) || !isxdigit ((unsigned char) tok[3 + 2 * i]) ||
            sscanf (tok + 2 + 2 * i, "%2x", &v) != 1) {
            fprintf (stderr, "error: --token: invalid hex digit at offset %d\n", 2 + 2 * i);
            return NULL;
        }
        sk[i] = (unsigned char) v;
    }
    crypto_scalarmult_base (pk, sk);
    zcert_t *c = zcert_new_from (pk, sk);
    sodium_memzero (sk, sizeof sk);
    return c;
}

static zcert_t *
load_peer_cert (const char *data)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/pki/peer.cert", data);
    return zcert_load (path);
}

/* Makes the cluster key if this server has none (the first server of a cluster). */
static int
ensure_peer_cert (const char *data)
{
    zcert_t *c = load_peer_cert (data);
    if (c) {
        zcert_destroy (&c);
        return 0;
    }
    c = zcert_new ();
    int rc = save_peer_cert (data, c);
    zcert_destroy (&c);
    return rc;
}


static int
copy_file (const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen (from, "rb");
    if (!in)
        return -1;
    FILE *out = fopen (to, "wb");
    if (!out) {
        fclose (in);
        return -1;
    }
    fchmod (fileno (out), mode);
    char buf[8192];
    size_t n;
    int rc = 0;
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
        if (fwrite (buf, 1, n, out) != n)
            rc = -1;
    fclose (in);
    return fclose (out) || rc ? -1 : 0;
}

/* `troupe init --cluster NAME` made the cluster's keys in the default data directory; the first
 * server, started with another --data and no keys of its own, takes them (so the printed join
 * token is the one that works). */
static void
adopt_init_pki (const char *data)
{
    char def[1024], a[PATH_MAX], b[PATH_MAX], path[1200], from[1300], to[1300];
    tr_conn_default_data_dir (def, sizeof def);
    snprintf (path, sizeof path, "%s/pki/peer.cert", data);
    if (access (path, F_OK) == 0)
        return; /* this server has its keys */
    snprintf (path, sizeof path, "%s/pki/peer.cert", def);
    if (access (path, R_OK) || !realpath (def, a) || (realpath (data, b) && !strcmp (a, b)))
        return;
    const char *files[] = {"server.cert", "server.cert_secret", "admin.cert_secret", "peer.cert", "peer.cert_secret",
                           "token", "clients/admin.cert", "clients/cluster-peer.cert"};
    snprintf (path, sizeof path, "%s/pki/clients", data);
    mkdirp (path, 0700);
    int n = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf (from, sizeof from, "%s/pki/%s", def, files[i]);
        snprintf (to, sizeof to, "%s/pki/%s", data, files[i]);
        n += copy_file (from, to, strstr (files[i], "secret") || !strcmp (files[i], "token") ? 0600 : 0644) == 0;
    }
    TR_INFO ("troupe", "cluster keys taken from %s/pki (made by troupe init) files=%d", def, n);
}

/* Client credentials for a tcp endpoint, from the pki of data (admin by default). */
static int
creds_from_pki (const char *data, const char *who, tr_creds_t *c)
{
    char path[1200];
    memset (c, 0, sizeof *c);
    snprintf (path, sizeof path, "%s/pki/server.cert", data);
    zcert_t *s = zcert_load (path);
    snprintf (path, sizeof path, "%s/pki/%s.cert_secret", data, who);
    zcert_t *me = zcert_load (path);
    int ok = s && me;
    if (ok) {
        snprintf (c->server_key, sizeof c->server_key, "%s", zcert_public_txt (s));
        snprintf (c->public_key, sizeof c->public_key, "%s", zcert_public_txt (me));
        snprintf (c->secret_key, sizeof c->secret_key, "%s", zcert_secret_txt (me));
    }
    zcert_destroy (&s);
    zcert_destroy (&me);
    return ok ? 0 : -1;
}

int
cmd_init (cli_t *g, int argc, char **argv)
{
    (void) g;
    const char *cluster = cli_opt (&argc, argv, "--cluster", NULL);
    char data[1024];
    data_dir_of (&argc, argv, data, sizeof data, NULL);
    /* troupe init node NAME -o FILE --server tcp://…: a node's credentials */
    if (argc >= 3 && !strcmp (argv[1], "node")) {
        const char *out = cli_opt (&argc, argv, "--output", "-o");
        const char *name = argv[2];
        if (!out || !g->server) {
            fprintf (stderr, "usage: troupe init node NAME --server tcp://HOST:PORT -o FILE [--data DIR]\n");
            return 1;
        }
        if (ensure_pki (data, "troupe", 0))
            return 1;
        zcert_t *n = zcert_new ();
        zcert_set_meta (n, "name", "%s", name);
        zcert_set_meta (n, "role", "node");
        char path[1200];
        snprintf (path, sizeof path, "%s/pki/clients/node-%s.cert", data, name);
        zcert_save_public (n, path);
        tr_creds_t c;
        creds_from_pki (data, "admin", &c);
        snprintf (c.public_key, sizeof c.public_key, "%s", zcert_public_txt (n));
        snprintf (c.secret_key, sizeof c.secret_key, "%s", zcert_secret_txt (n));
        zcert_destroy (&n);
        if (tr_conn_write_config (out, g->server, &c)) {
            fprintf (stderr, "error: %s: %s\n", out, strerror (errno));
            return 1;
        }
        printf ("node \"%s\" credentials written to %s (role node)\n", name, out);
        return 0;
    }
    if (ensure_pki (data, cluster ? cluster : "troupe", 1) || ensure_peer_cert (data))
        return 1;
    char path[1200];
    snprintf (path, sizeof path, "%s/pki/token", data);
    size_t len;
    char *tok = cli_read_file (path, &len);
    if (!tok)
        return 1;
    tok[strcspn (tok, "\n")] = 0;
    printf ("cluster \"%s\" keys in %s/pki\njoin token=%s\n(a server joins with: troupe server --join "
            "tcp://PEER --token TOKEN --peer-listen tcp://HOST:PORT; keep the token secret)\n",
            cluster ? cluster : "troupe", data, tok);
    free (tok);
    return 0;
}

static volatile sig_atomic_t g_stop;
static void
on_signal (int sig)
{
    (void) sig;
    g_stop = 1;
}

/* The node's runtime shim (runtime-shims/shim.h), a child in its own session: process and oci
 * runtimes (oci where runc and conmon are installed). Its settings travel in DATA/run/shim.json:
 * node name, insecure registries, mirrors, pod CIDR, run dir (/run/troupe/<hash of DATA>, so
 * that clusters sharing a machine keep runc state, netns and CNI results apart). */
static pid_t
spawn_shim (const char *data, const char *endpoint, const char *node, const json_t *node_cfg)
{
    char state[1100], conf[1100];
    snprintf (state, sizeof state, "%s/shim", data);
    mkdirp (state, 0700);
    unsigned h = 5381;
    for (const char *p = data; *p; p++)
        h = h * 33 + (unsigned char) *p;
    char run[64];
    snprintf (run, sizeof run, "/run/troupe/%08x", h);
    char preload[1100];
    snprintf (preload, sizeof preload, "%s/agent/images", data);
    mkdirp (preload, 0700);
    json_t *sc = json_pack ("{s:s,s:s,s:s,s:s}", "node", node, "runDir", run, "ociState", "", "preloadDir", preload);
    char oci[1100];
    snprintf (oci, sizeof oci, "%s/oci", data);
    json_object_set_new (sc, "ociState", json_string (oci));
    static const char *pass[] = {"insecureRegistries", "registries", "podCIDR", "clusterCIDR", "seedBusybox",
                                 "imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "runtimeNamespace", "cniBinDir",
                                 "runcPath", "conmonPath", NULL};
    for (int i = 0; pass[i]; i++)
        if (tv_get (node_cfg, pass[i]))
            json_object_set (sc, pass[i], tv_get (node_cfg, pass[i]));
    snprintf (conf, sizeof conf, "%s/run/shim.json", data);
    json_dump_file (sc, conf, JSON_INDENT (1));
    json_decref (sc);
    char self[1024];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *args[] = {self, "shim", "--runtime", "oci", "--listen", (char *) endpoint, "--state", state, "--config", conf, NULL};
    pid_t pid;
    if (posix_spawn (&pid, self, NULL, NULL, args, environ))
        return -1;
    return pid;
}

/* The shim a previous agent of this data dir left running: its pid from DATA/run/shim.pid when
 * that process is alive and is a `troupe shim` of this data dir; else 0. */
static pid_t
running_shim (const char *data)
{
    char path[1200], cmd[4096];
    snprintf (path, sizeof path, "%s/run/shim.pid", data);
    FILE *f = fopen (path, "r");
    long pid = 0;
    if (!f)
        return 0;
    if (fscanf (f, "%ld", &pid) != 1)
        pid = 0;
    fclose (f);
    if (pid <= 0 || kill ((pid_t) pid, 0))
        return 0;
    snprintf (path, sizeof path, "/proc/%ld/cmdline", pid);
    f = fopen (path, "r");
    size_t n = f ? fread (cmd, 1, sizeof cmd - 1, f) : 0;
    if (f)
        fclose (f);
    cmd[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!cmd[i])
            cmd[i] = ' ';
    char want[1200];
    snprintf (want, sizeof want, "%s/shim", data);
    return strstr (cmd, " shim ") && strstr (cmd, want) ? (pid_t) pid : 0;
}

/* Stops pid (our child, or a shim an earlier agent left): SIGTERM, SIGKILL after seconds. */
static void
stop_child (pid_t pid, int seconds)
{
    if (pid <= 0)
        return;
    kill (pid, SIGTERM);
    for (int i = 0; i < seconds * 20; i++) {
        pid_t r = waitpid (pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD && kill (pid, 0)))
            return;
        usleep (50000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

static void
node_name_default (char *buf, size_t len)
{
    if (gethostname (buf, len))
        snprintf (buf, len, "node");
    buf[len - 1] = 0;
    for (char *p = buf; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    char *dot = strchr (buf, '.');
    if (dot)
        *dot = 0;
}

typedef struct {
    char data[1024];
    char run[1100];
    char local_ep[1300];
    char ipc_ep[1200];
    char shim_ep[1200];
    char node[256];
    const char *listen;
    const char *peer_listen, *join; /* replicated store (troupe server) */
    int join_timeout_ms;
    unsigned snap_threshold, snap_trailing;
    int lease_checkpoint_ms;        /* 0: the store's default; < 0: every renewal is written */
    zcert_t *cluster;               /* the cluster key, when replicated */
    int keep_client_config;         /* standalone: the CLI's config is written only if it has none */
    zactor_t *auth, *store, *broker;
    tr_host_t *host;
    pid_t shim;
    json_t *node_cfg;               /* maxPods, kubeReserved, systemReserved, evictionHard for the agent */
    const char *service_cidr, *node_port_range; /* Services (the broker's allocations) */
    int watch_cache_size;           /* --watch-cache-size: a fixed ring of N events; 0 = by time */
} cluster_t;

/* --service-cidr [serviceCIDR] and --service-node-port-range [serviceNodePortRange], as the
 * api-server's flags: checked here so that a bad value stops the start. 0 or -1 (said). */
static int
service_flags (int *argc, char **argv, const json_t *cfg, cluster_t *c)
{
    char err[200];
    svc_cidr_t cidr;
    svc_ports_t ports;
    c->service_cidr = pick (cli_opt (argc, argv, "--service-cidr", NULL), cfg, "serviceCIDR");
    c->node_port_range = pick (cli_opt (argc, argv, "--service-node-port-range", NULL), cfg, "serviceNodePortRange");
    if (c->service_cidr && svcalloc_cidr_parse (c->service_cidr, &cidr, err, sizeof err)) {
        fprintf (stderr, "error: --service-cidr %s\n", err);
        return -1;
    }
    if (c->node_port_range && svcalloc_ports_parse (c->node_port_range, &ports, err, sizeof err)) {
        fprintf (stderr, "error: --service-node-port-range %s\n", err);
        return -1;
    }
    /* as the api-server's --default-watch-cache-size: the events the watch cache keeps. Unset,
     * the ring is sized by time (at least 10,000, up to 102,400 younger than 75 s). */
    const char *wcs = cli_opt (argc, argv, "--watch-cache-size", NULL);
    char *end = NULL;
    long n = wcs ? strtol (wcs, &end, 10) : json_integer_value (json_object_get (cfg, "watchCacheSize"));
    if ((wcs && (!*wcs || *end)) || n < 0 || n > 10000000) {
        fprintf (stderr, "error: --watch-cache-size %s: must be a number of events (0 to 10000000)\n", wcs ? wcs : "");
        return -1;
    }
    c->watch_cache_size = (int) n;
    return 0;
}

/* One server per data directory: a second one would steal the socket and share the store. The
 * lock lives as long as the process (the descriptor is never closed); a start waits up to 5 s for
 * it, as a server just killed may still be exiting. */
static int
lock_data_dir (const char *data)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/lock", data);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    /* a predecessor killed a moment ago (its supervisor's death kills it) may still be exiting */
    for (int i = 0; fd >= 0 && i < 50 && flock (fd, LOCK_EX | LOCK_NB); i++)
        usleep (100000);
    if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB)) {
        fprintf (stderr, "error: %s is in use by another troupe server (lock %s)\n", data, path);
        if (fd >= 0)
            close (fd);
        return -1;
    }
    return 0;
}

static int
start_control_plane (cluster_t *c)
{
    char path[1200];
    if (lock_data_dir (c->data))
        return -1;
    snprintf (path, sizeof path, "%s/store", c->data);
    mkdirp (path, 0700);
    snprintf (c->run, sizeof c->run, "%s/run", c->data);
    mkdirp (c->run, 0700);
    chmod (c->run, 0700);
    snprintf (c->ipc_ep, sizeof c->ipc_ep, "ipc://%s/troupe.sock", c->run);
    snprintf (c->local_ep, sizeof c->local_ep, "inproc://troupe-broker,%s", c->ipc_ep);
    char pki[1100];
    snprintf (pki, sizeof pki, "%s/pki", c->data);
    if (c->peer_listen) {
        /* one ZAP handler per process: it serves the broker's tcp socket and the peer sockets */
        snprintf (path, sizeof path, "%s/clients", pki);
        c->auth = tr_zap_new (path);
        if (!c->auth) { /* without a handler libzmq would admit every CURVE key on the peer socket */
            fprintf (stderr, "error: the ZAP handler could not start\n");
            return -1;
        }
        raft_store_opts_t ro = {.data_dir = c->data, .endpoint = "inproc://troupe-store",
                                .peer_listen = c->peer_listen, .join = c->join, .cluster = c->cluster,
                                .join_timeout_ms = c->join_timeout_ms, .snapshot_threshold = c->snap_threshold,
                                .snapshot_trailing = c->snap_trailing,
                                .lease_checkpoint_ms = c->lease_checkpoint_ms};
        c->store = raft_store_new (&ro);
    } else
        c->store = store_actor_new (path, "inproc://troupe-store");
    if (!c->store) {
        fprintf (stderr, "error: the store could not start in %s (see the log above)\n", c->data);
        return -1;
    }
    if (c->peer_listen && cluster_pki_sync (c->data, "inproc://troupe-store", c->cluster, c->join != NULL, 30000)) {
        fprintf (stderr, "error: the cluster's keys could not be read from the store within 30 s\n");
        return -1;
    }
    if (c->peer_listen && cluster_register_member ("inproc://troupe-store", c->node, 30000))
        TR_WARN ("troupe", "could not record this server's name %s in the store", c->node);
    broker_opts_t bo = {.store_endpoint = "inproc://troupe-store", .local_endpoints = c->local_ep,
                        .tcp_endpoint = c->listen, .pki_dir = pki, .auth_external = c->auth != NULL,
                        .replicated = c->peer_listen != NULL, .service_cidr = c->service_cidr,
                        .node_port_range = c->node_port_range, .ring_size = c->watch_cache_size,
                        .ring_max = c->watch_cache_size};
    c->broker = broker_new (&bo);
    if (!c->broker) {
        fprintf (stderr, "error: the broker could not start (see the log above)\n");
        return -1;
    }
    /* the CLI finds this cluster through the config file: local ipc, or tcp with admin keys */
    char cfg[1024];
    tr_creds_t creds;
    tr_conn_default_config_path (cfg, sizeof cfg);
    if (c->keep_client_config && access (cfg, F_OK) == 0)
        return 0;
    if (c->listen && !creds_from_pki (c->data, "admin", &creds))
        tr_conn_write_config (cfg, c->listen, &creds);
    else
        tr_conn_write_config (cfg, c->ipc_ep, NULL);
    return 0;
}

/* The kubelet's node flags (config keys in brackets), checked here so that a bad value stops the
 * command with a clear error before anything starts:
 *   --max-pods N (maxPods, 110)  --kube-reserved / --system-reserved cpu=100m,memory=100Mi,
 *   ephemeral-storage=1Gi (kubeReserved, systemReserved)  --eviction-hard memory.available<100Mi,
 *   nodefs.available<10%,nodefs.inodesFree<5%,pid.available<1000 (evictionHard).
 * Fills *out with the agent's configuration keys. 0, or -1 after printing the error. */
static int
node_flags (int *argc, char **argv, const json_t *cfg, json_t **out)
{
    static const struct {
        const char *flag, *key;
    } f[] = {{"--max-pods", "maxPods"},
             {"--kube-reserved", "kubeReserved"},
             {"--system-reserved", "systemReserved"},
             {"--eviction-hard", "evictionHard"}};
    *out = json_object ();
    nodestatus_config_t ncfg;
    nodestatus_config_default (&ncfg);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const char *v = cli_opt (argc, argv, f[i].flag, NULL);
        char num[32];
        json_t *cv = tv_get (cfg, f[i].key);
        if (!v && json_is_integer (cv) && i == 0) {
            snprintf (num, sizeof num, "%lld", (long long) json_integer_value (cv));
            v = num;
        } else if (!v)
            v = json_string_value (cv);
        if (!v)
            continue;
        char err[400] = "";
        int bad = 0;
        if (i == 0) {
            char *end;
            long n = strtol (v, &end, 10);
            bad = end == v || *end || n < 0 || n > 1000000;
            if (bad)
                snprintf (err, sizeof err, "must be an integer from 0 to 1000000");
            else
                json_object_set_new (*out, f[i].key, json_integer (n));
        } else {
            nodestatus_res_t r;
            bad = i == 3 ? nodestatus_parse_eviction (v, &ncfg, err, sizeof err)
                         : nodestatus_parse_reserved (v, &r, err, sizeof err);
            if (!bad)
                json_object_set_new (*out, f[i].key, json_string (v));
        }
        if (bad) {
            fprintf (stderr, "error: %s \"%s\": %s\n", f[i].flag, v, err);
            json_decref (*out);
            *out = NULL;
            return -1;
        }
    }
    /* the runtime's: insecure registries (repeatable), pod CIDR, default runtime, log size */
    json_t *ins = json_array ();
    size_t k;
    json_t *x;
    json_array_foreach (tv_get (cfg, "insecureRegistries"), k, x) if (json_is_string (x)) json_array_append (ins, x);
    const char *v;
    while ((v = cli_opt (argc, argv, "--insecure-registry", NULL))) {
        if (!*v || strchr (v, '/')) {
            fprintf (stderr, "error: --insecure-registry \"%s\": must be HOST or HOST:PORT\n", v);
            json_decref (ins);
            json_decref (*out);
            *out = NULL;
            return -1;
        }
        json_array_append_new (ins, json_string (v));
    }
    json_object_set_new (*out, "insecureRegistries", ins);
    if (tv_get (cfg, "registries"))
        json_object_set (*out, "registries", tv_get (cfg, "registries"));
    if (json_is_array (tv_get (cfg, "dnsUpstreams")))   /* the cluster DNS's upstreams instead of resolvConf's (tests) */
        json_object_set (*out, "dnsUpstreams", tv_get (cfg, "dnsUpstreams"));
    /* the kubelet's image GC thresholds (--image-gc-high-threshold 85, --image-gc-low-threshold 80) */
    static const struct {
        const char *flag, *key;
        int def;
    } gc[] = {{"--image-gc-high-threshold", "imageGCHighThresholdPercent", 85},
              {"--image-gc-low-threshold", "imageGCLowThresholdPercent", 80}};
    int pct[2];
    for (int i = 0; i < 2; i++) {
        const char *fv = cli_opt (argc, argv, gc[i].flag, NULL);
        json_t *cv = tv_get (cfg, gc[i].key);
        char *end = NULL;
        long n = fv ? strtol (fv, &end, 10) : json_is_integer (cv) ? (long) json_integer_value (cv) : gc[i].def;
        if ((fv && (end == fv || *end)) || n < 0 || n > 100) {
            fprintf (stderr, "error: %s: must be an integer percentage from 0 to 100\n", gc[i].flag);
            json_decref (*out);
            *out = NULL;
            return -1;
        }
        pct[i] = (int) n;
        json_object_set_new (*out, gc[i].key, json_integer (n));
    }
    if (pct[1] >= pct[0] && pct[0] < 100) {
        fprintf (stderr, "error: --image-gc-low-threshold (%d) must be below --image-gc-high-threshold (%d)\n", pct[1], pct[0]);
        json_decref (*out);
        *out = NULL;
        return -1;
    }
    static const struct {
        const char *flag, *key;
    } g[] = {{"--pod-cidr", "podCIDR"},
             {"--default-runtime", "defaultRuntime"},
             {"--container-log-max-size", "containerLogMaxSize"},
             {"--cni-bin-dir", "cniBinDir"},
             {"--runc", "runcPath"},     /* CRI-O's runtime_path */
             {"--conmon", "conmonPath"}, /* CRI-O's conmon */
             {"--node-ip", "nodeIP"},    /* the kubelet's: the Node's InternalIP */
             {"--cluster-cidr", "clusterCIDR"}, /* kube-proxy's: pod traffic not masqueraded */
             {"--cluster-dns", "clusterDNS"},     /* the kubelet's; "" = no cluster DNS */
             {"--cluster-domain", "clusterDomain"},
             {"--resolv-conf", "resolvConf"},
             {"--dns-listen", "dnsListen"},   /* IP:PORT instead of clusterDNS:53 (tests) */
             {"--proxy", "proxy"}};      /* false: no Service proxy (kube-proxy) on this node */
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        v = cli_opt (argc, argv, g[i].flag, NULL);
        if (!v)
            v = tv_str (cfg, g[i].key);
        int is_proxy = !strcmp (g[i].key, "proxy");
        if (!v && is_proxy && json_is_boolean (tv_get (cfg, g[i].key)))
            v = json_is_true (tv_get (cfg, g[i].key)) ? "true" : "false";
        if (!v)
            continue;
        if (is_proxy && strcmp (v, "true") && strcmp (v, "false")) {
            fprintf (stderr, "error: %s \"%s\": must be true or false\n", g[i].flag, v);
            json_decref (*out);
            *out = NULL;
            return -1;
        }
        if (!strcmp (g[i].key, "defaultRuntime") && strcmp (v, "oci") && strcmp (v, "process")) {
            fprintf (stderr, "error: %s \"%s\": must be oci or process\n", g[i].flag, v);
            json_decref (*out);
            *out = NULL;
            return -1;
        }
        uint32_t addr;
        int bits;
        struct in_addr in;
        if (((!strcmp (g[i].key, "podCIDR") || !strcmp (g[i].key, "clusterCIDR")) && nodeipam_parse (v, &addr, &bits, 1)) ||
            (!strcmp (g[i].key, "nodeIP") && inet_pton (AF_INET, v, &in) != 1)) {
            fprintf (stderr, "error: %s \"%s\": must be an IPv4 %s\n", g[i].flag, v, strcmp (g[i].key, "nodeIP") ? "CIDR" : "address");
            json_decref (*out);
            *out = NULL;
            return -1;
        }
        json_object_set_new (*out, g[i].key, json_string (v));
    }
    /* the kubelet's log rotation: checked here so a bad value stops the command at once */
    const char *mf = cli_opt (argc, argv, "--container-log-max-files", NULL);
    const char *mi = cli_opt (argc, argv, "--container-log-monitor-interval", NULL);
    json_t *mfc = tv_get (cfg, "containerLogMaxFiles");
    long long files = -1;
    if (mf) {
        char *end;
        files = strtoll (mf, &end, 10);
        if (end == mf || *end || files < 0)
            files = -2;
    } else if (mfc)
        files = json_is_integer (mfc) && json_integer_value (mfc) >= 0 ? (long long) json_integer_value (mfc) : -2;
    if (files == -2) {
        fprintf (stderr, "error: containerLogMaxFiles (--container-log-max-files): must be an integer of at least 2\n");
        json_decref (*out);
        *out = NULL;
        return -1;
    }
    if (!mi)
        mi = tv_str (cfg, "containerLogMonitorInterval");
    logrotate_policy_t lp;
    long long every;
    char lerr[300];
    if (logrotate_policy_parse (tv_str (*out, "containerLogMaxSize"), files, &lp, lerr, sizeof lerr) ||
        logrotate_interval_parse (mi, &every, lerr, sizeof lerr)) {
        fprintf (stderr, "error: %s (flags --container-log-max-size, --container-log-max-files, "
                         "--container-log-monitor-interval)\n", lerr);
        json_decref (*out);
        *out = NULL;
        return -1;
    }
    if (files >= 0)
        json_object_set_new (*out, "containerLogMaxFiles", json_integer (files));
    if (mi)
        json_object_set_new (*out, "containerLogMonitorInterval", json_string (mi));
    return 0;
}

static int
start_node (cluster_t *c, const char *broker_ep, const tr_creds_t *creds, int stop_pods)
{
    snprintf (c->shim_ep, sizeof c->shim_ep, "ipc://%s/run/shim.sock", c->data);
    char run[1100];
    snprintf (run, sizeof run, "%s/run", c->data);
    mkdirp (run, 0700);
    /* the shim outlives its agent (DESIGN.md): an agent started again finds the one its
     * predecessor left (DATA/run/shim.pid, still serving that socket) and talks to it */
    c->shim = running_shim (c->data);
    if (c->shim > 0)
        TR_INFO ("troupe", "runtime shim still running pid=%d: re-using it", (int) c->shim);
    else
        c->shim = spawn_shim (c->data, c->shim_ep, c->node, c->node_cfg);
    if (c->shim < 0) {
        fprintf (stderr, "error: cannot start the process shim\n");
        return -1;
    }
    if (!c->host) {
        tr_host_opts_t ho = {.endpoint = broker_ep, .creds = creds, .node_name = c->node, .data_dir = c->data};
        c->host = tr_host_new (&ho);
    }
    json_t *cfg = json_pack ("{s:s,s:s,s:s,s:b}", "nodeName", c->node, "shimEndpoint", c->shim_ep, "dataDir",
                             c->data, "stopPodsOnExit", stop_pods);
    if (c->node_cfg)
        json_object_update (cfg, c->node_cfg);
    int rc = tr_host_start (c->host, agent_actor (), cfg);
    /* the node's cluster DNS (actors/dns), unless --cluster-dns "" */
    const char *cdns = tv_str (cfg, "clusterDNS");
    if (!rc && (!cdns || *cdns) && tr_host_start (c->host, dns_actor (), cfg))
        TR_WARN ("troupe", "the cluster DNS actor did not start");
    json_decref (cfg);
    /* kube-proxy runs on every node beside the kubelet */
    const char *px = tv_str (c->node_cfg, "proxy"), *cidr = tv_str (c->node_cfg, "clusterCIDR");
    if (!rc && (!px || strcmp (px, "false"))) {
        json_t *pc = json_pack ("{s:s}", "clusterCIDR", cidr ? cidr : "10.244.0.0/16");
        rc = tr_host_start (c->host, proxy_actor (), pc);
        json_decref (pc);
    }
    return rc;
}

static void
teardown (cluster_t *c)
{
    tr_host_destroy (&c->host);
    stop_child (c->shim, 15); /* the shim stops its containers on SIGTERM, then exits */
    zactor_destroy (&c->broker);
    zactor_destroy (&c->store);
    zactor_destroy (&c->auth);
    zcert_destroy (&c->cluster);
    json_decref (c->node_cfg);
    c->node_cfg = NULL;
}

static int
load_actors (cluster_t *c, int *argc, char **argv, const json_t *cfg)
{
    size_t i;
    json_t *x;
    json_array_foreach (tv_get (cfg, "actors"), i, x) {
        char err[512];
        if (!json_is_string (x) || tr_host_load (c->host, json_string_value (x), NULL, err, sizeof err)) {
            fprintf (stderr, "error: --config actors[%zu]: %s\n", i, json_is_string (x) ? err : "must be a path");
            return -1;
        }
    }
    const char *so;
    while ((so = cli_opt (argc, argv, "--actor", NULL))) {
        char err[512];
        if (tr_host_load (c->host, so, NULL, err, sizeof err)) {
            fprintf (stderr, "error: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Is pid (our child, or a shim an earlier agent left) gone? Reaps our child. */
static int
shim_gone (pid_t pid)
{
    int st;
    pid_t r = waitpid (pid, &st, WNOHANG);
    return r == pid || (r < 0 && errno == ECHILD && kill (pid, 0) < 0 && errno == ESRCH);
}

/* Until SIGINT/SIGTERM. With a node (c->shim > 0), a shim that died (killed, crashed) is started
 * again within a second, as systemd restarts containerd: the new one re-reads the container
 * records (conmon kept the containers running) and binds the same socket, which the agent's
 * connection finds again. */
static void
wait_for_signal_node (cluster_t *c)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    /* a shim that keeps dying soon after its start waits longer each time (1 s, 2 s … 60 s), as
     * systemd's restart rate limit, instead of being started every second forever */
    int node = c && c->shim > 0, backoff_s = 0;
    int64_t started = zclock_mono (), next_try = 0;
    for (int tick = 0; !g_stop && !zsys_interrupted; tick++) {
        usleep (100000);
        if (!node || tick % 10 || (c->shim > 0 && !shim_gone (c->shim)) || zclock_mono () < next_try)
            continue;
        pid_t old = c->shim;
        c->shim = running_shim (c->data); /* another agent of this data dir may have started one */
        if (c->shim <= 0)
            c->shim = spawn_shim (c->data, c->shim_ep, c->node, c->node_cfg);
        int64_t now = zclock_mono ();
        backoff_s = now - started < 10000 ? (backoff_s ? (backoff_s * 2 > 60 ? 60 : backoff_s * 2) : 1) : 0;
        started = now;
        next_try = now + (int64_t) backoff_s * 1000;
        TR_WARN ("troupe", "runtime shim pid=%d is gone: started again pid=%d%s", (int) old, (int) c->shim,
                 c->shim > 0 ? "" : " (could not start it: tried again later)");
        if (c->shim < 0)
            c->shim = 0;
    }
    TR_INFO ("troupe", "stopping");
}

static void
wait_for_signal (void)
{
    wait_for_signal_node (NULL);
}

/* Is this server's store the Raft leader, and in which term? Asked over the store protocol ("q").
 * -1: no answer, -2: the store was removed from the cluster. */
static int
store_is_leader (zsock_t *store, uint64_t *term)
{
    static uint64_t id;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sp_pack_request (&sb, "q", ++id, NULL);
    zsock_send (store, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    int leader = -1;
    for (;;) { /* skip a late answer to an earlier question */
        zmsg_t *m = zmsg_recv (store);
        if (!m)
            return -1;
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        zframe_t *f = zmsg_first (m);
        int mine = 0;
        if (f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS &&
            sp_u64 (sp_field (&up.data, "id"), 0) == id) {
            mine = 1;
            char st[32] = "";
            const msgpack_object *o = sp_field (sp_field (&up.data, "status"), "state");
            if (o)
                sp_str (o, st, sizeof st);
            leader = !strcmp (st, "leader");
            *term = sp_u64 (sp_field (sp_field (&up.data, "status"), "term"), 0);
            const msgpack_object *rm = sp_field (sp_field (&up.data, "status"), "removed");
            if (rm && rm->type == MSGPACK_OBJECT_BOOLEAN && rm->via.boolean)
                leader = -2;
        }
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&m);
        if (mine)
            return leader;
    }
}

/* Replicated servers: the controllers and the scheduler run on one server at a time, the one
 * whose store leads (checked twice a second), in a host of their own that is destroyed — its
 * actors stopped — as soon as leadership moves. Kubernetes elects them with a Lease; here the Raft
 * election already is one. Their writes are fenced by the term they were started in (the store's
 * leader refuses them in any other term), so a deposed leader's controllers, still running until
 * the next check, cannot write through a follower's forwarding under the new leader.
 * Returns when asked to stop, or when the store was removed from the cluster (then the server
 * stops as cleanly, exit 0: a supervisor with Restart=on-failure leaves it down). */
static void
follow_leadership (const tr_host_opts_t *ho, const json_t *ctrl_cfg, const json_t *sched_cfg, const char *data,
                   zcert_t *cluster)
{
    int64_t next_pki = zclock_mono () + 5000;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    zsock_t *store = zsock_new_dealer ("inproc://troupe-store");
    zsock_set_rcvtimeo (store, 2000);
    tr_host_t *elected = NULL;
    uint64_t elected_term = 0;
    while (!g_stop && !zsys_interrupted) {
        uint64_t term = 0;
        int leader = store_is_leader (store, &term);
        if (leader == -2) {
            TR_WARN ("troupe", "this server was removed from the cluster: stopping (a start on %s will be refused)", data);
            break;
        }
        if (leader == 1 && elected && term != elected_term) { /* led again, in a newer term */
            TR_INFO ("troupe", "this server's store leads in a new term (%llu, was %llu): restarting the controllers",
                     (unsigned long long) term, (unsigned long long) elected_term);
            tr_host_destroy (&elected);
        }
        if (leader == 1 && !elected && term) {
            TR_INFO ("troupe", "this server's store leads (term %llu): starting the controllers and the scheduler",
                     (unsigned long long) term);
            tr_host_opts_t fenced = *ho;
            fenced.fence = elected_term = term;
            elected = tr_host_new (&fenced);
            if (tr_host_start (elected, controllers_actor (), ctrl_cfg) || tr_host_start (elected, scheduler_actor (), sched_cfg))
                TR_ERROR ("troupe", "cannot start the controllers or the scheduler");
        } else if (leader != 1 && elected) {
            TR_INFO ("troupe", "this server's store no longer leads: stopping the controllers and the scheduler");
            tr_host_destroy (&elected);
        }
        if (zclock_mono () >= next_pki) {
            cluster_pki_refresh (data, "inproc://troupe-store", cluster);
            next_pki = zclock_mono () + 5000;
        }
        usleep (500000);
    }
    tr_host_destroy (&elected);
    zsock_destroy (&store);
    TR_INFO ("troupe", "stopping");
}

int
cmd_up (cli_t *g, int argc, char **argv)
{
    cluster_t c = {0};
    int bad;
    json_t *cfg = load_server_config (&argc, argv, &bad);
    if (bad) {
        json_decref (cfg);
        return 1;
    }
    const char *manifest = cli_opt (&argc, argv, "--filename", "-f");
    if (ipam_flags (&argc, argv, cfg) || sched_flags (&argc, argv, cfg)) {
        json_decref (cfg);
        return 1;
    }
    const char *node = pick (cli_opt (&argc, argv, "--node-name", NULL), cfg, "nodeName");
    c.listen = pick (cli_opt (&argc, argv, "--listen", NULL), cfg, "listen");
    if (service_flags (&argc, argv, cfg, &c) || node_flags (&argc, argv, cfg, &c.node_cfg)) {
        json_decref (cfg);
        return 1;
    }
    /* the node's agent knows the cluster CIDR the controllers allocate from (masquerade) */
    if (!tv_get (c.node_cfg, "clusterCIDR") && tv_get (cfg, "controllers.clusterCIDR"))
        json_object_set (c.node_cfg, "clusterCIDR", tv_get (cfg, "controllers.clusterCIDR"));
    /* a single-node cluster runs the examples offline: busybox:latest made from busybox-static */
    json_object_set_new (c.node_cfg, "seedBusybox", json_true ());
    data_dir_of (&argc, argv, c.data, sizeof c.data, cfg);
    if (node)
        snprintf (c.node, sizeof c.node, "%s", node);
    else
        node_name_default (c.node, sizeof c.node);
    zsys_handler_set (NULL); /* our own handler below: Ctrl-C stops cleanly */
    if (ensure_pki (c.data, "troupe", 0) || start_control_plane (&c)) {
        teardown (&c);
        json_decref (cfg);
        return 1;
    }
    tr_host_opts_t ho = {.endpoint = "inproc://troupe-broker", .node_name = c.node, .data_dir = c.data};
    c.host = tr_host_new (&ho);
    if (tr_host_start (c.host, controllers_actor (), tv_get (cfg, "controllers")) || tr_host_start (c.host, scheduler_actor (), tv_get (cfg, "scheduler")) ||
        start_node (&c, "inproc://troupe-broker", NULL, 1) || load_actors (&c, &argc, argv, cfg)) {
        teardown (&c);
        json_decref (cfg);
        return 1;
    }
    TR_INFO ("troupe", "single-node cluster up node=%s data=%s endpoint=%s", c.node, c.data, c.ipc_ep);
    if (manifest) {
        g->server = c.ipc_ep;
        cli_apply_file (g, manifest, 0);
    }
    wait_for_signal_node (&c);
    teardown (&c);
    json_decref (cfg);
    return 0;
}

int
cmd_server (cli_t *g, int argc, char **argv)
{
    (void) g;
    cluster_t c = {0};
    int bad;
    json_t *cfg = load_server_config (&argc, argv, &bad);
    if (bad) {
        json_decref (cfg);
        return 1;
    }
    c.listen = pick (cli_opt (&argc, argv, "--listen", NULL), cfg, "listen");
    if (ipam_flags (&argc, argv, cfg) || sched_flags (&argc, argv, cfg) || service_flags (&argc, argv, cfg, &c)) {
        json_decref (cfg);
        return 1;
    }
    int no_supervise = cli_flag (&argc, argv, "--no-supervise", NULL) || !tv_bool (cfg, "supervise", true);
    const char *name = pick (cli_opt (&argc, argv, "--name", NULL), cfg, "name");
    c.peer_listen = pick (cli_opt (&argc, argv, "--peer-listen", NULL), cfg, "peerListen");
    c.join = pick (cli_opt (&argc, argv, "--join", NULL), cfg, "join");
    const char *token = pick (cli_opt (&argc, argv, "--token", NULL), cfg, "token");
    c.join_timeout_ms = (int) pick_num (cli_opt (&argc, argv, "--join-timeout", NULL), cfg, "joinTimeoutSeconds") * 1000;
    c.snap_threshold = (unsigned) pick_num (cli_opt (&argc, argv, "--snapshot-threshold", NULL), cfg, "snapshotThreshold");
    c.snap_trailing = (unsigned) pick_num (cli_opt (&argc, argv, "--snapshot-trailing", NULL), cfg, "snapshotTrailing");
    /* lease renewals reach the log at most this often per lease (0: every renewal) */
    const char *lcs = cli_opt (&argc, argv, "--lease-checkpoint-seconds", NULL);
    if (lcs || tv_get (cfg, "leaseCheckpointSeconds")) {
        long v = pick_num (lcs, cfg, "leaseCheckpointSeconds");
        if (v < 0 || v > 86400) {
            fprintf (stderr, "error: --lease-checkpoint-seconds must be between 0 and 86400\n");
            json_decref (cfg);
            return 1;
        }
        c.lease_checkpoint_ms = v ? (int) v * 1000 : -1;
    }
    data_dir_of (&argc, argv, c.data, sizeof c.data, cfg);
    if ((c.join || token) && !c.peer_listen) {
        fprintf (stderr, "error: --join and --token need --peer-listen tcp://HOST:PORT (this server's peer address)\n");
        json_decref (cfg);
        return 1;
    }
    if (c.peer_listen && strncmp (c.peer_listen, "tcp://", 6)) {
        fprintf (stderr, "error: --peer-listen must be tcp://HOST:PORT\n");
        json_decref (cfg);
        return 1;
    }
    if (c.join && !token) {
        fprintf (stderr, "error: --join needs --token (printed by `troupe init` on the first server, in its pki/token)\n");
        json_decref (cfg);
        return 1;
    }
    /* restarted when it crashes (libraft 0.15 can: cli/supervise.c); --no-supervise under a
     * supervisor of one's own that should see the crash itself */
    if (!no_supervise) {
        int status = 0;
        if (!cli_supervise ("troupe server", &status)) {
            json_decref (cfg);
            return status;
        }
    }
    if (c.peer_listen) {
        char path[1200];
        mkdirp (c.data, 0700);
        if (!token && !c.join)
            adopt_init_pki (c.data);
        if (token) {
            zcert_t *tc = cert_from_token (token);
            zcert_t *have = load_peer_cert (c.data);
            if (tc && have && strcmp (zcert_public_txt (tc), zcert_public_txt (have))) {
                fprintf (stderr, "error: --token is for another cluster than the one of %s\n", c.data);
                zcert_destroy (&tc);
            }
            if (tc && !have && save_peer_cert (c.data, tc)) {
                fprintf (stderr, "error: cannot write the cluster key in %s/pki\n", c.data);
                zcert_destroy (&tc);
            }
            zcert_destroy (&have);
            if (!tc) {
                json_decref (cfg);
                return 1;
            }
            zcert_destroy (&tc);
        } else if (ensure_peer_cert (c.data)) {
            fprintf (stderr, "error: cannot write the cluster key in %s/pki\n", c.data);
            json_decref (cfg);
            return 1;
        }
        c.cluster = load_peer_cert (c.data);
        snprintf (path, sizeof path, "%s/pki/peer.cert", c.data);
        if (!c.cluster) {
            fprintf (stderr, "error: cannot read %s\n", path);
            json_decref (cfg);
            return 1;
        }
    }
    snprintf (c.node, sizeof c.node, "%s", name ? name : "server");
    zsys_handler_set (NULL);
    if (c.listen && strncmp (c.listen, "tcp://", 6)) {
        fprintf (stderr, "error: --listen must be tcp://HOST:PORT\n");
        json_decref (cfg);
        return 1;
    }
    if (ensure_pki (c.data, "troupe", 0) || start_control_plane (&c)) {
        teardown (&c);
        json_decref (cfg);
        return 1;
    }
    tr_host_opts_t ho = {.endpoint = "inproc://troupe-broker", .node_name = c.node, .data_dir = c.data};
    c.host = tr_host_new (&ho);
    /* replicated: the controllers and the scheduler run only beside the Raft leader (below) */
    if ((!c.peer_listen && (tr_host_start (c.host, controllers_actor (), tv_get (cfg, "controllers")) ||
                            tr_host_start (c.host, scheduler_actor (), tv_get (cfg, "scheduler")))) ||
        load_actors (&c, &argc, argv, cfg)) {
        teardown (&c);
        json_decref (cfg);
        return 1;
    }
    TR_INFO ("troupe", "server up data=%s local=%s tcp=%s", c.data, c.ipc_ep, c.listen ? c.listen : "-");
    if (c.peer_listen)
        follow_leadership (&ho, tv_get (cfg, "controllers"), tv_get (cfg, "scheduler"), c.data, c.cluster);
    else
        wait_for_signal ();
    teardown (&c);
    json_decref (cfg);
    return 0;
}

/* `troupe agent --standalone --manifests DIR`: the kubelet alone, running static pods (what
 * docker-compose runs) with no server to join. The node keeps a store and a broker of its own
 * (DATA/store, the local endpoint DATA/run/troupe.sock, so `troupe get pods` and `troupe logs` work
 * against it) but no controllers and no scheduler: the manifests actor
 * (actors/manifests/manifests_actor.h) writes the folder's Pods already bound to this node. Its
 * containers live in the runtime namespace "default" (nerdctl's, where the cluster's live in
 * troupe.io), the busybox image is seeded there so the examples run offline. */
static int
agent_standalone (cluster_t *c, const char *node, const char *mdir, int keep)
{
    if (!mdir) {
        fprintf (stderr, "error: --standalone needs --manifests DIR (the folder of the static pods' manifests)\n");
        return 1;
    }
    char abs[PATH_MAX];
    if (!realpath (mdir, abs)) {
        fprintf (stderr, "error: --manifests %s: %s\n", mdir, strerror (errno));
        return 1;
    }
    if (node)
        snprintf (c->node, sizeof c->node, "%s", node);
    else
        node_name_default (c->node, sizeof c->node);
    json_object_set_new (c->node_cfg, "seedBusybox", json_true ());
    json_object_set_new (c->node_cfg, "runtimeNamespace", json_string ("default"));
    /* nerdctl's bridge network, not the cluster's 10.88.0.0/16: a `troupe up` on the same machine
     * keeps its routes (two bridges with one subnet would fight over them) */
    if (!tv_get (c->node_cfg, "podCIDR"))
        json_object_set_new (c->node_cfg, "podCIDR", json_string ("10.4.0.0/24"));
    c->keep_client_config = 1;
    zsys_handler_set (NULL);
    if (ensure_pki (c->data, "troupe", 0) || start_control_plane (c)) {
        teardown (c);
        return 1;
    }
    tr_host_opts_t ho = {.endpoint = "inproc://troupe-broker", .node_name = c->node, .data_dir = c->data};
    c->host = tr_host_new (&ho);
    json_t *mc = json_pack ("{s:s,s:s}", "manifestDir", abs, "nodeName", c->node);
    int rc = start_node (c, "inproc://troupe-broker", NULL, !keep) || tr_host_start (c->host, manifests_actor (), mc);
    json_decref (mc);
    if (rc) {
        teardown (c);
        return 1;
    }
    TR_INFO ("troupe", "standalone node up node=%s manifests=%s data=%s endpoint=%s", c->node, abs, c->data, c->ipc_ep);
    wait_for_signal_node (c);
    if (keep)
        c->shim = 0;
    teardown (c);
    return 0;
}

int
cmd_agent (cli_t *g, int argc, char **argv)
{
    cluster_t c = {0};
    int bad;
    json_t *cfg = load_server_config (&argc, argv, &bad);
    if (bad) {
        json_decref (cfg);
        return 1;
    }
    const char *node = pick (cli_opt (&argc, argv, "--node-name", NULL), cfg, "nodeName");
    int keep = cli_flag (&argc, argv, "--keep-pods-on-exit", NULL) || tv_bool (cfg, "keepPodsOnExit", false);
    if (node_flags (&argc, argv, cfg, &c.node_cfg)) {
        json_decref (cfg);
        return 1;
    }
    int standalone = cli_flag (&argc, argv, "--standalone", NULL);
    const char *mdir = pick (cli_opt (&argc, argv, "--manifests", NULL), cfg, "staticPodPath");
    data_dir_of (&argc, argv, c.data, sizeof c.data, cfg);
    if (standalone || mdir) {
        int rc = agent_standalone (&c, node, mdir, keep);
        json_decref (cfg);
        return rc;
    }
    char nodebuf[TR_NAME_MAX + 1];
    if (node)
        snprintf (nodebuf, sizeof nodebuf, "%s", node);
    json_decref (cfg); /* node points into it: copied above */
    node = node ? nodebuf : NULL;
    if (node)
        snprintf (c.node, sizeof c.node, "%s", node);
    else
        node_name_default (c.node, sizeof c.node);
    char endpoint[1024], err[512], path[1024];
    tr_creds_t creds;
    const char *kubeconfig = g->config ? g->config : tr_conn_default_config_path (path, sizeof path);
    int have = tr_conn_load_config (kubeconfig, endpoint, sizeof endpoint, &creds, err, sizeof err) == 0;
    if (g->server)
        snprintf (endpoint, sizeof endpoint, "%s", g->server);
    else if (!have) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    zsys_handler_set (NULL);
    if (start_node (&c, endpoint, have ? &creds : NULL, !keep)) {
        teardown (&c);
        return 1;
    }
    TR_INFO ("troupe", "agent up node=%s server=%s", c.node, endpoint);
    wait_for_signal_node (&c);
    if (keep)
        c.shim = 0; /* leave the shim and its containers running */
    teardown (&c);
    return 0;
}

/* troupe shim --runtime oci|process --listen ipc://PATH --state DIR [--config shim.json]
 * (started by the agent; runtime-shims/shim.h). --runtime process serves host processes only. */
int
cmd_shim (cli_t *g, int argc, char **argv)
{
    (void) g;
    const char *runtime = cli_opt (&argc, argv, "--runtime", NULL);
    const char *listen = cli_opt (&argc, argv, "--listen", NULL);
    const char *state = cli_opt (&argc, argv, "--state", NULL);
    const char *conf = cli_opt (&argc, argv, "--config", NULL);
    if (!listen || !state || (runtime && strcmp (runtime, "process") && strcmp (runtime, "oci"))) {
        fprintf (stderr, "usage: troupe shim --runtime oci|process --listen ipc://PATH --state DIR [--config FILE]\n");
        return 1;
    }
    json_t *sc = conf ? json_load_file (conf, 0, NULL) : json_object ();
    if (!sc) {
        fprintf (stderr, "error: --config %s: cannot read\n", conf);
        return 1;
    }
    char oci_state[1100], run[1100];
    snprintf (oci_state, sizeof oci_state, "%s", tv_str (sc, "ociState") ? tv_str (sc, "ociState") : state);
    snprintf (run, sizeof run, "%s", tv_str (sc, "runDir") ? tv_str (sc, "runDir") : "/run/troupe/shim");
    shim_opts_t o = {.endpoint = listen,
                     .process_state = state,
                     .oci = !runtime || !strcmp (runtime, "oci"),
                     .oci_opts = {.state_dir = oci_state,
                                  .run_dir = run,
                                  .node = tv_str (sc, "node"),
                                  .pod_cidr = tv_str (sc, "podCIDR"),
                                  .cluster_cidr = tv_str (sc, "clusterCIDR"),
                                  .cni_bin_dir = tv_str (sc, "cniBinDir"),
                                  .runc = tv_str (sc, "runcPath"),
                                  .conmon = tv_str (sc, "conmonPath"),
                                  .insecure = tv_get (sc, "insecureRegistries"),
                                  .mirrors = tv_get (sc, "registries.mirrors"),
                                  .preload_dir = tv_str (sc, "preloadDir"),
                                  .seed_busybox = tv_bool (sc, "seedBusybox", false),
                                  .gc_high_pct = (int) tv_int (sc, "imageGCHighThresholdPercent", 85),
                                  .gc_low_pct = (int) tv_int (sc, "imageGCLowThresholdPercent", 80),
                                  .image_namespace = tv_str (sc, "runtimeNamespace")}};
    zsys_handler_set (NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    /* the shim must not die with the agent's process group on Ctrl-C: it stops its containers */
    setsid ();
    /* it outlives an agent killed -9: the next agent of this data dir finds it by its pid file
     * and talks to it (an orderly stop of the agent, SIGTERM here, stops the containers) */
    char pidf[1200];
    snprintf (pidf, sizeof pidf, "%s/../run/shim.pid", state);
    FILE *pf = fopen (pidf, "w");
    if (pf) {
        fprintf (pf, "%d\n", (int) getpid ());
        fclose (pf);
    }
    int rc = shim_serve (&o, (volatile int *) &g_stop, 1) ? 1 : 0;
    if (rc == 0)
        unlink (pidf);
    json_decref (sc);
    return rc;
}
