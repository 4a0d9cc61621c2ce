/* cmd_lab — a multi-node cluster on one machine, for trying and for the end-to-end tests, as kind
 * and k3d do with containers:
 *   troupe lab up --nodes N --data DIR [--subnet 10.250.X.0/24] [--port 7001] [--prefix P]
 *                 [--server-config FILE] [agent flags for every node…]
 *   troupe lab down --data DIR      what an `up` that did not end cleanly left (from DIR/lab.json)
 * Each machine is a network namespace P-mK with a veth to a bridge P-br on the host (the host has
 * .1 of the subnet, machine K has .(10+K)); a server runs on the host, listening on the bridge's
 * address; every machine runs `troupe join` inside its namespace (only the network namespace is
 * entered, as `nsenter --net`: `ip netns exec` would also remount /sys and hide the cgroup
 * mounts). `up` stays in the foreground, writes DIR/lab.json (bridge, host address, server,
 * admin config, and per node its name, namespace, address, pid, data and log) and prints the
 * admin config's path; SIGINT or SIGTERM takes everything down, by PID: the nodes (each stops its
 * shim and containers), shims left by a killed node, the server, the namespaces and the bridge.
 * Links and namespaces are made with `ip` (iproute2). */
#include "cli/cli.h"
#include "core/log.h"
#include "core/value.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAB_MAX 64

typedef struct {
    char name[32], ns[32], ip[32], data[1100], log[1100];
    pid_t pid;
} lab_node_t;

typedef struct {
    char dir[1024], prefix[16], bridge[32], net[16], host[24], server_ep[64], admin[1200];
    lab_node_t nodes[LAB_MAX];
    int n;
    pid_t server;
} lab_t;

static volatile sig_atomic_t lab_stop;
static void
lab_on_signal (int sig)
{
    (void) sig;
    lab_stop = 1;
}

/* Runs argv (NULL-terminated) to its end; its exit status, or -1. Output to /dev/null unless loud. */
static int
run (int loud, char *const argv[])
{
    pid_t p = fork ();
    if (p < 0)
        return -1;
    if (p == 0) {
        if (!loud) {
            int fd = open ("/dev/null", O_WRONLY);
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        execvp (argv[0], argv);
        _exit (127);
    }
    int st;
    while (waitpid (p, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

#define RUN(loud, ...) run (loud, (char *const[]){__VA_ARGS__, NULL})

/* Starts `troupe ARGS…` with its output to log, XDG_CONFIG_HOME=cfg, inside netns (NULL: here). */
static pid_t
spawn_troupe (const char *log, const char *cfg, const char *netns, char **args)
{
    pid_t p = fork ();
    if (p != 0)
        return p;
    setpgid (0, 0); /* Ctrl-C reaches the lab, which stops these in order */
    if (netns) {
        char path[300];
        snprintf (path, sizeof path, "/run/netns/%s", netns);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns (fd, CLONE_NEWNET)) {
            fprintf (stderr, "lab: cannot enter %s: %s\n", path, strerror (errno));
            _exit (126);
        }
        close (fd);
    }
    int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2 (fd, 1);
        dup2 (fd, 2);
    }
    setenv ("XDG_CONFIG_HOME", cfg, 1);
    char self[1024];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    args[0] = self;
    execv (self, args);
    _exit (127);
}

/* Is pid a process whose command line contains needle? (a pid from lab.json may have been reused) */
static int
pid_is (pid_t pid, const char *needle)
{
    char path[64], buf[4096];
    snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pid);
    FILE *f = fopen (path, "r");
    size_t n = f ? fread (buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose (f);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    return n > 0 && strstr (buf, needle) != NULL;
}

/* SIGTERM, then SIGKILL after secs; reaps it if it is our child. */
static void
stop_pid (pid_t p, int secs)
{
    if (p <= 0 || kill (p, 0))
        return;
    kill (p, SIGTERM);
    for (int i = 0; i < secs * 10; i++) {
        if (waitpid (p, NULL, WNOHANG) == p || kill (p, 0))
            return;
        usleep (100000);
    }
    kill (p, SIGKILL);
    waitpid (p, NULL, 0);
}

static int
write_state (const lab_t *l)
{
    json_t *nodes = json_array ();
    for (int i = 0; i < l->n; i++)
        json_array_append_new (nodes, json_pack ("{s:s, s:s, s:s, s:i, s:s, s:s}", "name", l->nodes[i].name, "netns",
                                                 l->nodes[i].ns, "ip", l->nodes[i].ip, "pid", (int) l->nodes[i].pid,
                                                 "data", l->nodes[i].data, "log", l->nodes[i].log));
    json_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:i, s:s, s:o}", "bridge", l->bridge, "hostIP", l->host, "server",
                           l->server_ep, "adminConfig", l->admin, "serverPid", (int) l->server, "prefix", l->prefix,
                           "nodes", nodes);
    char path[1100], tmp[1100];
    snprintf (path, sizeof path, "%s/lab.json", l->dir);
    snprintf (tmp, sizeof tmp, "%s/lab.json.tmp", l->dir);
    int rc = json_dump_file (o, tmp, JSON_INDENT (2)) || rename (tmp, path);
    json_decref (o);
    return rc ? -1 : 0;
}

/* Takes everything down; safe to call on a half-made lab. */
static void
teardown (lab_t *l)
{
    for (int i = 0; i < l->n; i++)
        if (l->nodes[i].pid > 0)
            kill (l->nodes[i].pid, SIGTERM);
    for (int i = 0; i < l->n; i++)
        stop_pid (l->nodes[i].pid, 30);
    for (int i = 0; i < l->n; i++) { /* shims left by a node killed -9 (they outlive their agent) */
        char path[1200], buf[32] = "";
        snprintf (path, sizeof path, "%s/run/shim.pid", l->nodes[i].data);
        FILE *f = fopen (path, "r");
        if (f && fgets (buf, sizeof buf, f)) {
            pid_t p = (pid_t) atoi (buf);
            char cmd[64], comm[256] = "";
            snprintf (cmd, sizeof cmd, "/proc/%d/cmdline", (int) p);
            FILE *c = fopen (cmd, "r");
            size_t n = c ? fread (comm, 1, sizeof comm - 1, c) : 0;
            comm[n] = 0;
            if (c)
                fclose (c);
            for (size_t k = 0; k < n; k++)
                if (!comm[k])
                    comm[k] = ' ';
            if (p > 0 && strstr (comm, "shim"))
                stop_pid (p, 30);
        }
        if (f)
            fclose (f);
    }
    stop_pid (l->server, 20);
    for (int i = 0; i < l->n; i++)
        if (l->nodes[i].ns[0])
            RUN (0, "ip", "netns", "del", l->nodes[i].ns);
    if (l->bridge[0])
        RUN (0, "ip", "link", "del", l->bridge);
    char path[1100];
    snprintf (path, sizeof path, "%s/lab.json", l->dir);
    unlink (path);
}

static int
lab_down (const char *dir)
{
    lab_t l = {0};
    snprintf (l.dir, sizeof l.dir, "%s", dir);
    char path[1100];
    snprintf (path, sizeof path, "%s/lab.json", dir);
    json_error_t je;
    json_t *o = json_load_file (path, 0, &je);
    if (!o) {
        fprintf (stderr, "error: %s: %s (nothing to take down?)\n", path, je.text);
        return 1;
    }
    snprintf (l.bridge, sizeof l.bridge, "%s", tv_str (o, "bridge") ? tv_str (o, "bridge") : "");
    l.server = (pid_t) tv_int (o, "serverPid", 0);
    size_t i;
    json_t *n;
    json_array_foreach (json_object_get (o, "nodes"), i, n) {
        if (l.n >= LAB_MAX)
            break;
        lab_node_t *x = &l.nodes[l.n++];
        snprintf (x->ns, sizeof x->ns, "%s", tv_str (n, "netns") ? tv_str (n, "netns") : "");
        snprintf (x->data, sizeof x->data, "%s", tv_str (n, "data") ? tv_str (n, "data") : "");
        x->pid = (pid_t) tv_int (n, "pid", 0);
        if (x->pid > 0 && !pid_is (x->pid, x->data))
            x->pid = 0; /* not that node's process any more */
    }
    json_decref (o);
    char sdata[1100];
    snprintf (sdata, sizeof sdata, "%s/server", l.dir);
    if (l.server > 0 && !pid_is (l.server, sdata))
        l.server = 0;
    teardown (&l);
    printf ("lab in %s taken down\n", dir);
    return 0;
}

static int
lab_up (cli_t *g, int argc, char **argv)
{
    (void) g;
    const char *nodes = cli_opt (&argc, argv, "--nodes", NULL), *data = cli_opt (&argc, argv, "--data", NULL);
    const char *subnet = cli_opt (&argc, argv, "--subnet", NULL), *port = cli_opt (&argc, argv, "--port", NULL);
    const char *prefix = cli_opt (&argc, argv, "--prefix", NULL);
    const char *scfg = cli_opt (&argc, argv, "--server-config", NULL);
    int n = nodes ? atoi (nodes) : 0;
    if (n < 1 || n > LAB_MAX || !data) {
        fprintf (stderr, "usage: troupe lab up --nodes N (1-%d) --data DIR [--subnet 10.250.X.0/24] [--port 7001] "
                         "[--prefix P] [--server-config FILE] [agent flags…]\n", LAB_MAX);
        return 2;
    }
    if (geteuid () != 0) {
        fprintf (stderr, "error: troupe lab needs root (network namespaces, links, containers)\n");
        return 1;
    }
    lab_t l = {0};
    mkdir (data, 0700);
    if (!realpath (data, l.dir)) {
        fprintf (stderr, "error: --data %s: %s\n", data, strerror (errno));
        return 1;
    }
    unsigned h = 5381;
    for (const char *p = l.dir; *p; p++)
        h = h * 33 + (unsigned char) *p;
    snprintf (l.prefix, sizeof l.prefix, "%.8s", prefix ? prefix : "");
    if (!prefix)
        snprintf (l.prefix, sizeof l.prefix, "tl%04x", h & 0xffff);
    unsigned a = 0, b = 0, c = 0;
    if (subnet && (sscanf (subnet, "%u.%u.%u.0/24", &a, &b, &c) != 3 || a > 255 || b > 255 || c > 255)) {
        fprintf (stderr, "error: --subnet %s: expected A.B.C.0/24\n", subnet);
        return 2;
    }
    if (!subnet)
        a = 10, b = 250, c = 1 + h % 250;
    a &= 255, b &= 255, c &= 255;
    snprintf (l.net, sizeof l.net, "%u.%u.%u", a, b, c);
    snprintf (l.host, sizeof l.host, "%u.%u.%u.1", a, b, c);
    char pre[16];
    snprintf (pre, sizeof pre, "%s", l.prefix);
    snprintf (l.bridge, sizeof l.bridge, "%s-br", pre);
    snprintf (l.server_ep, sizeof l.server_ep, "tcp://%u.%u.%u.1:%.6s", a, b, c, port ? port : "7001");
    char dir[1024];
    snprintf (dir, sizeof dir, "%s", l.dir);
    snprintf (l.admin, sizeof l.admin, "%s/config/troupe/config", dir);
    struct sigaction sa = {0};
    sa.sa_handler = lab_on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    char cidr[40], path[1200], cfgdir[1100], log[1100];
    snprintf (cidr, sizeof cidr, "%s/24", l.host);
    if (RUN (1, "ip", "link", "add", l.bridge, "type", "bridge") || RUN (1, "ip", "addr", "add", cidr, "dev", l.bridge) ||
        RUN (1, "ip", "link", "set", l.bridge, "up")) {
        fprintf (stderr, "error: cannot make the bridge %s with %s (another lab on this subnet? --subnet)\n", l.bridge, cidr);
        teardown (&l);
        return 1;
    }
    RUN (0, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    for (int i = 0; i < n; i++) {
        lab_node_t *x = &l.nodes[l.n++];
        snprintf (x->name, sizeof x->name, "m%d", i + 1);
        snprintf (x->ns, sizeof x->ns, "%s-m%d", pre, i + 1);
        snprintf (x->ip, sizeof x->ip, "%u.%u.%u.%d", a, b, c, 11 + i);
        snprintf (x->data, sizeof x->data, "%s/m%d", dir, i + 1);
        snprintf (x->log, sizeof x->log, "%s/m%d.log", dir, i + 1);
        char veth[32], addr[48];
        snprintf (veth, sizeof veth, "%s-v%d", pre, i + 1);
        snprintf (addr, sizeof addr, "%s/24", x->ip);
        if (RUN (1, "ip", "netns", "add", x->ns) ||
            RUN (1, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", x->ns) ||
            RUN (1, "ip", "link", "set", veth, "master", l.bridge, "up") ||
            RUN (1, "ip", "-n", x->ns, "addr", "add", addr, "dev", "eth0") ||
            RUN (1, "ip", "-n", x->ns, "link", "set", "eth0", "up") || RUN (1, "ip", "-n", x->ns, "link", "set", "lo", "up") ||
            RUN (1, "ip", "-n", x->ns, "route", "add", "default", "via", l.host) ||
            RUN (1, "ip", "netns", "exec", x->ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")) {
            fprintf (stderr, "error: cannot make machine %s (namespace %s)\n", x->name, x->ns);
            teardown (&l);
            return 1;
        }
    }
    /* the server, on the host */
    char sdata[1100];
    snprintf (sdata, sizeof sdata, "%s/server", l.dir);
    snprintf (cfgdir, sizeof cfgdir, "%s/config", l.dir);
    snprintf (log, sizeof log, "%s/server.log", l.dir);
    snprintf (path, sizeof path, "%s/pki/server.cert", sdata);
    if (access (path, F_OK)) {
        char *iargs[] = {NULL, "init", "--cluster", "lab", "--data", sdata, NULL};
        pid_t ip = spawn_troupe (log, cfgdir, NULL, iargs);
        int st = 0;
        waitpid (ip, &st, 0);
        if (!WIFEXITED (st) || WEXITSTATUS (st)) {
            fprintf (stderr, "error: troupe init failed (see %s)\n", log);
            teardown (&l);
            return 1;
        }
    }
    char *sargs[] = {NULL, "server", "--data", sdata, "--listen", l.server_ep, scfg ? "--config" : NULL, (char *) scfg, NULL};
    l.server = spawn_troupe (log, cfgdir, NULL, sargs);
    /* a token, made with the admin config the server writes */
    char token[200] = "";
    for (int i = 0; i < 300 && !lab_stop && !token[0]; i++) {
        usleep (100000);
        if (access (l.admin, R_OK))
            continue;
        char tfile[1200];
        snprintf (tfile, sizeof tfile, "%s/token.out", l.dir);
        unlink (tfile);
        char *targs[] = {NULL, "token", "create", "--description", "troupe lab", NULL};
        pid_t tp = spawn_troupe (tfile, cfgdir, NULL, targs);
        int st = 0;
        if (tp > 0)
            waitpid (tp, &st, 0);
        FILE *p = fopen (tfile, "r");
        char line[200];
        while (p && fgets (line, sizeof line, p))
            if (!strncmp (line, "K10", 3))
                snprintf (token, sizeof token, "%.*s", (int) strcspn (line, "\n"), line);
        if (p)
            fclose (p);
        unlink (tfile);
    }
    if (!token[0]) {
        fprintf (stderr, "error: no bootstrap token from the server within 30 s (see %s)\n", log);
        teardown (&l);
        return 1;
    }
    for (int i = 0; i < l.n; i++) {
        lab_node_t *x = &l.nodes[i];
        char ncfg[1200];
        snprintf (ncfg, sizeof ncfg, "%s/config", x->data);
        char **jargs = calloc ((size_t) argc + 12, sizeof *jargs);
        int k = 0;
        jargs[k++] = NULL;
        jargs[k++] = "join";
        jargs[k++] = l.server_ep;
        jargs[k++] = "--token";
        jargs[k++] = token;
        jargs[k++] = "--node-name";
        jargs[k++] = x->name;
        jargs[k++] = "--data";
        jargs[k++] = x->data;
        for (int j = 2; j < argc; j++)
            jargs[k++] = argv[j];
        x->pid = spawn_troupe (x->log, ncfg, x->ns, jargs);
        free (jargs);
    }
    write_state (&l);
    printf ("lab up: %d machines on %s (%s.11-%d), server %s\nadmin config: %s\n"
            "  troupe --kubeconfig %s get nodes\n(Ctrl-C takes it all down)\n",
            l.n, l.bridge, l.net, 10 + l.n, l.server_ep, l.admin, l.admin);
    fflush (stdout);
    while (!lab_stop) {
        pause ();
        while (waitpid (-1, NULL, WNOHANG) > 0) /* a node killed by a test: reaped, not restarted */
            ;
    }
    printf ("lab: taking everything down\n");
    fflush (stdout);
    teardown (&l);
    return 0;
}

int
cmd_lab (cli_t *g, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp (sub, "up"))
        return lab_up (g, argc, argv);
    if (!strcmp (sub, "down")) {
        const char *data = cli_opt (&argc, argv, "--data", NULL);
        if (data)
            return lab_down (data);
    }
    fprintf (stderr, "usage: troupe lab up --nodes N --data DIR [--subnet A.B.C.0/24] [--port 7001] [agent flags…] | "
                     "troupe lab down --data DIR\n");
    return 2;
}
