/* Pod networking with the real CNI plugins (Debian's containernetworking-plugins), as root, in
 * a private directory, on a bridge and a 10.x/24 subnet of this run's own:
 * - two pinned namespaces ADDed: addresses differ and lie in the subnet; TCP from one pod to
 *   the other; 127.0.0.1 works inside a pod (the loopback plugin); a hostPort reaches the pod
 *   from the host's address (portmap); CHECK passes; DEL of both leaves no veth, no lease, no
 *   iptables rule naming the pods, and the namespaces' removal no file and no mount;
 * - a plugin's error reaches the caller with its msg, code and details, and a chain that fails
 *   in the middle DELetes what it had added; a missing plugin names its path; a hanging plugin
 *   is killed after the timeout;
 * - cni_gc DELetes and removes a sandbox nobody knows (and keeps a live one);
 * - with the node's masquerade (masq.c; the bridge's ipMasq is off), a pod reaches a server in
 *   another namespace that has no route back to the pod subnet: only the node's address works.
 * Leaves nothing behind: the bridge, the portmap chains this run created, ip_forward, the
 * netns_dir mount and the directory are undone at the end. Skipped (77) when not root or
 * without /usr/lib/cni/bridge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime-shims/oci/cni.h"
#include "runtime-shims/oci/masq.h"

/* a call that must succeed; on failure the test names it with its error (needs err in scope) */
#define OK(call)                                                                                                       \
    do {                                                                                                               \
        if ((call) != 0)                                                                                               \
            fail_msg ("%s: %s", #call, err);                                                                           \
    } while (0)

static char dir[64];
static cni_config_t cfg;
static char subnet_prefix[32];   /* "10.a.b." */
static int ifs_before;
static char ipf_before[8];
static int hostport_chains_before;   /* CNI-HOSTPORT-DNAT existed before the run */
static char ida[32], idb[32], idc[32], idd[32], ide[32], ido[32], ids[32];
static char masq_table[40], veth_out[16];

static int count_net_ifs (void);

/* The number of interfaces once it reaches want (a namespace's veths go asynchronously when
 * it is freed), or whatever it is after 5 s. */
static int
net_ifs_settle (int want)
{
    int n = count_net_ifs ();
    for (int i = 0; i < 100 && n != want; i++) {
        usleep (50 * 1000);
        n = count_net_ifs ();
    }
    return n;
}

static int
count_net_ifs (void)
{
    DIR *d = opendir ("/sys/class/net");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir (d)))
        if (de->d_name[0] != '.')
            n++;
    if (d)
        closedir (d);
    return n;
}

/* Lines of `iptables -t nat -S` holding s. */
static int
nat_lines (const char *s)
{
    FILE *p = popen ("iptables -w -t nat -S 2>/dev/null", "r");
    if (!p)
        return -1;
    char line[1024];
    int n = 0;
    while (fgets (line, sizeof line, p))
        if (strstr (line, s))
            n++;
    pclose (p);
    return n;
}

static int
sh (const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    int st = system (cmd);
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

static void
read_small (const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen (path, "r");
    if (!f)
        return;
    size_t k = fread (buf, 1, n - 1, f);
    buf[k] = 0;
    fclose (f);
}

static int
mounts_under (const char *d)
{
    FILE *f = fopen ("/proc/mounts", "r");
    char line[2048], prefix[600];
    snprintf (prefix, sizeof prefix, " %s/", d);
    int n = 0;
    while (f && fgets (line, sizeof line, f))
        if (strstr (line, prefix))
            n++;
    if (f)
        fclose (f);
    return n;
}

/* host-local leases: files named as addresses in dataDir/troupe. */
static int
leases (void)
{
    char p[700];
    snprintf (p, sizeof p, "%s/ipam/troupe", cfg.state_dir);
    DIR *d = opendir (p);
    int n = 0;
    struct dirent *de;
    unsigned char a[4];
    while (d && (de = readdir (d)))
        if (inet_pton (AF_INET, de->d_name, a) == 1)
            n++;
    if (d)
        closedir (d);
    return n;
}

static int
ns_enter (const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = setns (fd, CLONE_NEWNET);
    close (fd);
    return r;
}

/* A child in netns ns serving `conns` TCP connections on port: reads "ping", answers "pong". */
static pid_t
server_start (const char *ns, int port, int conns)
{
    int p[2];
    if (pipe (p))
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        alarm (30);
        close (p[0]);
        if (ns && ns_enter (ns))
            _exit (2);
        int s = socket (AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt (s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        if (bind (s, (struct sockaddr *) &a, sizeof a) || listen (s, 8))
            _exit (3);
        if (write (p[1], "r", 1) != 1)
            _exit (4);
        for (int i = 0; i < conns; i++) {
            int c = accept (s, NULL, NULL);
            if (c < 0)
                _exit (5);
            char buf[8] = "";
            if (read (c, buf, 4) == 4 && !memcmp (buf, "ping", 4) && write (c, "pong", 4) != 4)
                _exit (6);
            close (c);
        }
        _exit (0);
    }
    close (p[1]);
    char ch = 0;
    ssize_t r = read (p[0], &ch, 1);
    close (p[0]);
    if (r != 1) {
        waitpid (pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* 0 if a client in ns (NULL: the host's) gets "pong" from ip:port. */
static int
client_in (const char *ns, const char *ip, int port)
{
    pid_t pid = fork ();
    if (pid == 0) {
        alarm (10);
        if (ns && ns_enter (ns))
            _exit (2);
        int s = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        inet_pton (AF_INET, ip, &a.sin_addr);
        if (connect (s, (struct sockaddr *) &a, sizeof a))
            _exit (3);
        char buf[8] = "";
        if (write (s, "ping", 4) != 4 || read (s, buf, 4) != 4 || memcmp (buf, "pong", 4))
            _exit (4);
        _exit (0);
    }
    int st = 0;
    waitpid (pid, &st, 0);
    return WIFEXITED (st) ? WEXITSTATUS (st) : 100;
}

/* The host's first IPv4 address that is not loopback and not on our bridge. */
static int
host_ipv4 (char *ip, size_t n)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs (&ifa))
        return -1;
    int rc = -1;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
            !strcmp (i->ifa_name, cfg.bridge))
            continue;
        inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, ip, (socklen_t) n);
        rc = 0;
        break;
    }
    freeifaddrs (ifa);
    return rc;
}

static void
test_two_pods (void **state)
{
    (void) state;
    char err[1024], pa[1024], pb[1024], ipa[64] = "", ipb[64] = "";
    OK (cni_write_conflist (&cfg, err, sizeof err));
    OK (cni_netns_create (&cfg, ida, pa, sizeof pa, err, sizeof err));
    OK (cni_netns_create (&cfg, idb, pb, sizeof pb, err, sizeof err));
    /* a second create of the same id is refused, not a second mount */
    char px[1024];
    assert_int_equal (cni_netns_create (&cfg, ida, px, sizeof px, err, sizeof err), -1);
    assert_int_equal (mounts_under (cfg.netns_dir), 2);

    int hostport = 20000 + getpid () % 12000;
    json_t *pm = json_pack ("[{s:i, s:i, s:s}, {s:i, s:i}]", "hostPort", hostport, "containerPort", 8080, "protocol",
                            "TCP", "hostPort", 0, "containerPort", 9090);
    json_t *res = NULL;
    if (cni_add (&cfg, ida, pa, pm, &res, ipa, sizeof ipa, err, sizeof err))
        fail_msg ("ADD a: %s", err);
    json_decref (pm);
    assert_non_null (res);
    assert_string_equal (json_string_value (json_object_get (res, "cniVersion")), "1.0.0");
    json_decref (res);
    if (cni_add (&cfg, idb, pb, NULL, NULL, ipb, sizeof ipb, err, sizeof err))
        fail_msg ("ADD b: %s", err);
    assert_string_not_equal (ipa, ipb);
    assert_memory_equal (ipa, subnet_prefix, strlen (subnet_prefix));
    assert_memory_equal (ipb, subnet_prefix, strlen (subnet_prefix));
    assert_int_equal (net_ifs_settle (ifs_before + 3), ifs_before + 3);   /* the bridge and two host-side veths */
    assert_int_equal (leases (), 2);
    assert_true (nat_lines (ida) > 0);   /* ipMasq and portmap rules carry the id in a comment */

    /* pod b → pod a; pod a → its own 127.0.0.1; host → hostPort → pod a */
    pid_t srv = server_start (pa, 8080, 3);
    assert_true (srv > 0);
    assert_int_equal (client_in (pb, ipa, 8080), 0);
    assert_int_equal (client_in (pa, "127.0.0.1", 8080), 0);
    char hip[64];
    if (host_ipv4 (hip, sizeof hip) == 0)
        assert_int_equal (client_in (NULL, hip, hostport), 0);
    else
        fprintf (stderr, "# portmap case skipped: the host has no IPv4 address besides loopback\n");
    kill (srv, SIGKILL);
    waitpid (srv, NULL, 0);

    OK (cni_check (&cfg, ida, pa, err, sizeof err));
    OK (cni_check (&cfg, idb, pb, err, sizeof err));

    OK (cni_del (&cfg, ida, pa, err, sizeof err));
    OK (cni_del (&cfg, idb, pb, err, sizeof err));
    assert_int_equal (net_ifs_settle (ifs_before + 1), ifs_before + 1);   /* the bridge stays, as the plugin leaves it */
    assert_int_equal (leases (), 0);
    assert_int_equal (nat_lines (ida), 0);
    assert_int_equal (nat_lines (idb), 0);
    /* a second DEL is fine (the spec wants DEL idempotent); CHECK after DEL has nothing to check */
    OK (cni_del (&cfg, ida, pa, err, sizeof err));
    assert_int_equal (cni_check (&cfg, ida, pa, err, sizeof err), -1);
    assert_non_null (strstr (err, "no cached ADD result"));

    assert_int_equal (cni_netns_remove (&cfg, ida), 0);
    assert_int_equal (cni_netns_remove (&cfg, idb), 0);
    assert_int_equal (cni_netns_remove (&cfg, idb), 0);   /* a missing one is fine */
    assert_int_not_equal (access (pa, F_OK), 0);
    assert_int_not_equal (access (pb, F_OK), 0);
    assert_int_equal (mounts_under (cfg.netns_dir), 0);
}

/* DEL after the namespace is gone (a node that crashed and lost /run): the cache and the IPAM
 * lease go all the same. */
static void
test_del_without_netns (void **state)
{
    (void) state;
    char err[1024], p[1024], ip[64];
    char id[40];
    snprintf (id, sizeof id, "%s-gone", ida);
    OK (cni_netns_create (&cfg, id, p, sizeof p, err, sizeof err));
    if (cni_add (&cfg, id, p, NULL, NULL, ip, sizeof ip, err, sizeof err))
        fail_msg ("ADD: %s", err);
    assert_int_equal (leases (), 1);
    assert_int_equal (cni_netns_remove (&cfg, id), 0);   /* the veth dies with the namespace */
    if (cni_del (&cfg, id, p, err, sizeof err))
        fail_msg ("DEL without netns: %s", err);
    assert_int_equal (leases (), 0);
    assert_int_equal (net_ifs_settle (ifs_before + 1), ifs_before + 1);
    assert_int_equal (nat_lines (id), 0);
}

/* A bin dir of scripts: rec (records its command and stdin, answers a result on ADD), fail
 * (the spec's error), hang (sleeps), and the real loopback. */
static char bindir[128];

static void
script (const char *name, const char *body)
{
    char p[256];
    snprintf (p, sizeof p, "%s/%s", bindir, name);
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fprintf (f, "#!/bin/sh\n%s\n", body);
    fclose (f);
    chmod (p, 0755);
}

static cni_config_t
fake_config (const char *plugins_json)
{
    cni_config_t c = cfg;
    snprintf (c.bin_dir, sizeof c.bin_dir, "%s", bindir);
    snprintf (c.conf_path, sizeof c.conf_path, "%s/fake.conflist", dir);
    FILE *f = fopen (c.conf_path, "w");
    fprintf (f, "{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":%s}\n", plugins_json);
    fclose (f);
    return c;
}

static void
test_plugin_errors (void **state)
{
    (void) state;
    snprintf (bindir, sizeof bindir, "%s/bin", dir);
    mkdir (bindir, 0755);
    char lo[256];
    snprintf (lo, sizeof lo, "%s/loopback", bindir);
    assert_int_equal (symlink ("/usr/lib/cni/loopback", lo), 0);
    char body[1024];
    snprintf (body, sizeof body,
              "echo \"$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME\" >> %s/rec.log\ncat > %s/rec.$CNI_COMMAND\n"
              "[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.9.9.9/24\"}]}'\n"
              "exit 0",
              dir, dir);
    script ("rec", body);
    snprintf (body, sizeof body,
              "cat > %s/fail.$CNI_COMMAND\n"
              "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
              "echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"no way\",\"details\":\"because\"}'\nexit 1",
              dir);
    script ("fail", body);
    snprintf (body, sizeof body, "echo $$ > %s/hang.pid\nexec sleep 30", dir);
    script ("hang", body);

    char err[1024], p[1024], ip[64];
    char id[40];
    snprintf (id, sizeof id, "%s-fake", ida);
    OK (cni_netns_create (&cfg, id, p, sizeof p, err, sizeof err));

    /* rec then fail: the error is the plugin's; rec got ADD, then DEL to undo it */
    cni_config_t c = fake_config ("[{\"type\":\"rec\",\"k\":1},{\"type\":\"fail\"}]");
    assert_int_equal (cni_add (&c, id, p, NULL, NULL, ip, sizeof ip, err, sizeof err), -1);
    assert_non_null (strstr (err, "plugin fail: no way (code 7): because"));
    char buf[4096], f[256];
    snprintf (f, sizeof f, "%s/rec.log", dir);
    read_small (f, buf, sizeof buf);
    char want[256];
    snprintf (want, sizeof want, "ADD %s eth0\nDEL %s eth0\n", id, id);
    assert_string_equal (buf, want);
    /* what the plugins read: the list's name and version injected, rec's result as prevResult */
    snprintf (f, sizeof f, "%s/rec.ADD", dir);
    read_small (f, buf, sizeof buf);
    json_t *j = json_loads (buf, 0, NULL);
    assert_non_null (j);
    assert_string_equal (json_string_value (json_object_get (j, "name")), "fake");
    assert_string_equal (json_string_value (json_object_get (j, "cniVersion")), "1.0.0");
    assert_int_equal (json_integer_value (json_object_get (j, "k")), 1);
    assert_null (json_object_get (j, "prevResult"));
    json_decref (j);
    snprintf (f, sizeof f, "%s/fail.ADD", dir);
    read_small (f, buf, sizeof buf);
    j = json_loads (buf, 0, NULL);
    assert_non_null (j);
    json_t *prev = json_object_get (j, "prevResult");
    assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (prev, "ips"), 0), "address")),
                         "10.9.9.9/24");
    json_decref (j);
    snprintf (f, sizeof f, "%s/fail.DEL", dir);   /* the failed plugin is DELeted too: it may have done part */
    assert_int_equal (access (f, F_OK), 0);
    /* undone completely: no cache left for gc to find */
    char cache[1024];
    snprintf (cache, sizeof cache, "%s/results/%s.json", cfg.state_dir, id);
    assert_int_not_equal (access (cache, F_OK), 0);

    /* a missing plugin: its path */
    c = fake_config ("[{\"type\":\"nosuch\"}]");
    assert_int_equal (cni_add (&c, id, p, NULL, NULL, ip, sizeof ip, err, sizeof err), -1);
    snprintf (want, sizeof want, "plugin nosuch: %s/nosuch does not exist", bindir);
    assert_non_null (strstr (err, want));

    /* a hanging plugin: killed after timeout_s, for the ADD and for the DEL that undoes it */
    c = fake_config ("[{\"type\":\"hang\"}]");
    c.timeout_s = 1;
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    assert_int_equal (cni_add (&c, id, p, NULL, NULL, ip, sizeof ip, err, sizeof err), -1);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    assert_non_null (strstr (err, "plugin hang: ADD did not finish within 1 s and was killed"));
    double took = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true (took < 6.0);
    snprintf (f, sizeof f, "%s/hang.pid", dir);
    read_small (f, buf, sizeof buf);
    pid_t hp = (pid_t) atoi (buf);
    assert_true (hp > 0);
    assert_int_equal (kill (hp, 0), -1);   /* the sleep is gone, not left running */
    assert_int_equal (errno, ESRCH);
    /* the undoing DEL timed out too: the record stays for a later DEL or gc, which succeeds once
     * the plugin does */
    assert_int_equal (access (cache, F_OK), 0);
    script ("hang", "cat >/dev/null; exit 0");
    json_t *none = json_object ();
    assert_int_equal (cni_gc (&c, none), 1);
    json_decref (none);
    assert_int_not_equal (access (cache, F_OK), 0);
    assert_int_not_equal (access (p, F_OK), 0);   /* gc removed its namespace too */
    OK (cni_netns_create (&cfg, id, p, sizeof p, err, sizeof err));

    /* a conflist that is not one */
    c = fake_config ("[{\"notype\":1}]");
    assert_int_equal (cni_add (&c, id, p, NULL, NULL, ip, sizeof ip, err, sizeof err), -1);
    assert_non_null (strstr (err, "every plugin needs a \"type\""));

    assert_int_equal (cni_netns_remove (&cfg, id), 0);
    assert_int_equal (cni_add (&cfg, "../x", p, NULL, NULL, ip, sizeof ip, err, sizeof err), -1);
    assert_non_null (strstr (err, "not a valid name"));
}

static void
test_gc (void **state)
{
    (void) state;
    char err[1024], pc[1024], pd[1024], ip[64];
    OK (cni_write_conflist (&cfg, err, sizeof err));
    OK (cni_netns_create (&cfg, idc, pc, sizeof pc, err, sizeof err));
    OK (cni_netns_create (&cfg, idd, pd, sizeof pd, err, sizeof err));
    if (cni_add (&cfg, idc, pc, NULL, NULL, ip, sizeof ip, err, sizeof err))
        fail_msg ("ADD c: %s", err);
    if (cni_add (&cfg, idd, pd, NULL, NULL, ip, sizeof ip, err, sizeof err))
        fail_msg ("ADD d: %s", err);
    assert_int_equal (leases (), 2);
    json_t *live = json_pack ("{s:b}", idd, 1);
    assert_int_equal (cni_gc (&cfg, live), 1);   /* c forgotten: DELeted and removed */
    assert_int_not_equal (access (pc, F_OK), 0);
    assert_int_equal (access (pd, F_OK), 0);
    assert_int_equal (leases (), 1);
    assert_int_equal (nat_lines (idc), 0);
    assert_int_equal (net_ifs_settle (ifs_before + 2), ifs_before + 2);
    assert_int_equal (cni_gc (&cfg, live), 0);   /* nothing more to do */
    json_decref (live);
    live = json_object ();
    assert_int_equal (cni_gc (&cfg, live), 1);
    json_decref (live);
    assert_int_not_equal (access (pd, F_OK), 0);
    assert_int_equal (leases (), 0);
    assert_int_equal (net_ifs_settle (ifs_before + 1), ifs_before + 1);
    assert_int_equal (mounts_under (cfg.netns_dir), 0);
    char results[700];
    snprintf (results, sizeof results, "%s/results", cfg.state_dir);
    DIR *d = opendir (results);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir (d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir (d);
    assert_int_equal (n, 0);
}

/* Everything this run made outside its directory, undone. */
/* A pod reaches a server beyond the node: a namespace "outside" joined to the host by a veth
 * pair on a /30 of its own, with no route to the pod subnet, so its answers reach the pod only
 * when the node masquerades the pod's address (masq_ensure, as the shim does at start). */
static void
test_egress_masquerade (void **state)
{
    (void) state;
    char err[1024], pe[1024], po[1024], ipe[64] = "";
    int k = (int) (getpid () % 60) * 4;
    char host_a[32], out_a[32];
    snprintf (host_a, sizeof host_a, "172.30.%d.%d", (int) (getpid () / 60 % 250), k + 1);
    snprintf (out_a, sizeof out_a, "172.30.%d.%d", (int) (getpid () / 60 % 250), k + 2);
    OK (cni_write_conflist (&cfg, err, sizeof err));
    OK (masq_ensure (masq_table, cfg.subnet, NULL, err, sizeof err));
    OK (masq_ensure (masq_table, cfg.subnet, NULL, err, sizeof err)); /* idempotent: still one rule */
    char *l = masq_list (masq_table);
    assert_non_null (l);
    int rules = 0;
    for (const char *q = l; (q = strstr (q, "masquerade")); q++)
        rules++;
    assert_int_equal (rules, 1);
    assert_non_null (strstr (l, cfg.subnet));
    free (l);

    OK (cni_netns_create (&cfg, ido, po, sizeof po, err, sizeof err));
    int port = 20000 + (getpid () + 7) % 12000;
    pid_t srv = server_start (po, port, 1);
    assert_true (srv > 0);
    assert_int_equal (sh ("ip link add %s type veth peer name %si && ip link set %si netns %d && "
                          "ip addr add %s/30 dev %s && ip link set %s up && "
                          "nsenter --net=%s sh -c 'ip addr add %s/30 dev %si && ip link set %si up && ip link set lo up'",
                          veth_out, veth_out, veth_out, (int) srv, host_a, veth_out, veth_out, po, out_a, veth_out,
                          veth_out),
                      0);
    OK (cni_netns_create (&cfg, ide, pe, sizeof pe, err, sizeof err));
    if (cni_add (&cfg, ide, pe, NULL, NULL, ipe, sizeof ipe, err, sizeof err))
        fail_msg ("ADD e: %s", err);
    int rc = client_in (pe, out_a, port);
    kill (srv, SIGKILL);
    waitpid (srv, NULL, 0);
    assert_int_equal (rc, 0);

    OK (cni_del (&cfg, ide, pe, err, sizeof err));
    OK (cni_netns_remove (&cfg, ide));
    OK (cni_netns_remove (&cfg, ido));
    sh ("ip link del %s 2>/dev/null", veth_out);
    OK (masq_remove (masq_table, err, sizeof err));
    OK (masq_remove (masq_table, err, sizeof err)); /* a missing table is fine */
    assert_null (masq_list (masq_table));
}

/* The node's pod CIDR changes under a bridge that has the old gateway address (its Node got a
 * podCIDR after pods had started on the runtime's own network): the next pod gets an address
 * from the new subnet, the bridge the new gateway (forceAddress; without it the plugin refuses:
 * "already has an IP address different from"). */
static void
test_subnet_change (void **state)
{
    (void) state;
    char err[1024], p[1024], ip[64] = "";
    OK (cni_write_conflist (&cfg, err, sizeof err));
    OK (cni_netns_create (&cfg, ids, p, sizeof p, err, sizeof err));
    OK (cni_add (&cfg, ids, p, NULL, NULL, ip, sizeof ip, err, sizeof err));
    assert_memory_equal (ip, subnet_prefix, strlen (subnet_prefix));
    OK (cni_del (&cfg, ids, p, err, sizeof err));
    cni_config_t moved = cfg;
    unsigned a, b;
    assert_int_equal (sscanf (cfg.subnet, "10.%u.%u.", &a, &b), 2);
    snprintf (moved.subnet, sizeof moved.subnet, "10.%u.%u.0/24", a, b + 1);
    char prefix[32];
    snprintf (prefix, sizeof prefix, "10.%u.%u.", a, b + 1);
    OK (cni_write_conflist (&moved, err, sizeof err));
    OK (cni_add (&moved, ids, p, NULL, NULL, ip, sizeof ip, err, sizeof err));
    assert_memory_equal (ip, prefix, strlen (prefix));
    assert_int_equal (sh ("ip -4 addr show dev %s | grep -q 'inet %s1/24'", cfg.bridge, prefix), 0);
    OK (cni_del (&moved, ids, p, err, sizeof err));
    assert_int_equal (cni_netns_remove (&cfg, ids), 0);
    OK (cni_write_conflist (&cfg, err, sizeof err)); /* the other tests' subnet again */
}

static void
test_masq_ruleset (void **state)
{
    (void) state;
    char err[256];
    char *r = masq_ruleset ("troupe_tr1", "10.88.0.0/16", NULL, err, sizeof err);
    assert_non_null (r);
    assert_non_null (strstr (r, "ip saddr 10.88.0.0/16 ip daddr != 10.88.0.0/16 ip daddr != 224.0.0.0/4 masquerade"));
    free (r);
    /* a node's pod CIDR in a cluster's: pod to pod across nodes keeps its address */
    r = masq_ruleset ("troupe_tr1", "10.244.3.0/24", "10.244.0.0/16", err, sizeof err);
    assert_non_null (r);
    assert_non_null (strstr (r, "ip saddr 10.244.3.0/24 ip daddr != 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade"));
    free (r);
    assert_null (masq_ruleset ("t", "10.244.3.0/24", "10.244.0.0/16; flush ruleset", err, sizeof err));
    assert_non_null (strstr (err, "cluster CIDR"));
    r = masq_ruleset ("troupe_tr1", "10.88.0.0/16", "", err, sizeof err);
    assert_non_null (r);
    assert_non_null (strstr (r, "flush chain ip troupe_tr1 postrouting"));
    free (r);
    const char *bad_tables[] = { "", "1x", "a;b", "a b", "tbl}", NULL };
    for (int i = 0; bad_tables[i]; i++) {
        assert_null (masq_ruleset (bad_tables[i], "10.0.0.0/8", NULL, err, sizeof err));
        assert_non_null (strstr (err, "table name"));
    }
    const char *bad_nets[] = { "", "10.0.0.0", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/8; flush ruleset", "::/0", NULL };
    for (int i = 0; bad_nets[i]; i++) {
        assert_null (masq_ruleset ("t", bad_nets[i], NULL, err, sizeof err));
        assert_non_null (strstr (err, "subnet"));
    }
}

static void
cleanup (void)
{
    /* a failed test may have left sandboxes: gc is the way the node itself gets rid of them */
    json_t *none = json_object ();
    cni_gc (&cfg, none);
    json_decref (none);
    sh ("ip link del '%s' 2>/dev/null", cfg.bridge);
    sh ("ip link del '%s' 2>/dev/null", veth_out);
    char merr[256];
    masq_remove (masq_table, merr, sizeof merr);
    if (!hostport_chains_before) {
        /* portmap's shared chains, hooked into the nat base chains; gone if this run made them */
        sh ("iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null");
        sh ("iptables -w -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null");
        sh ("iptables -w -t nat -D POSTROUTING -m comment --comment 'CNI portfwd requiring masquerade' -j "
            "CNI-HOSTPORT-MASQ 2>/dev/null");
        const char *chains[] = { "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ" };
        for (int i = 0; i < 3; i++)
            sh ("iptables -w -t nat -F %s 2>/dev/null; iptables -w -t nat -X %s 2>/dev/null", chains[i], chains[i]);
    }
    char p[128];
    if (ipf_before[0]) {
        FILE *f = fopen ("/proc/sys/net/ipv4/ip_forward", "w");
        if (f) {
            fputs (ipf_before, f);
            fclose (f);
        }
    }
    snprintf (p, sizeof p, "%s/netns", dir);
    DIR *d = opendir (p);
    struct dirent *de;
    while (d && (de = readdir (d)))
        if (de->d_name[0] != '.') {
            char q[512];
            snprintf (q, sizeof q, "%s/%s", p, de->d_name);
            umount2 (q, MNT_DETACH);
        }
    if (d)
        closedir (d);
    umount2 (p, MNT_DETACH);   /* netns_dir was made a mount point, as ip-netns makes /run/netns */
    sh ("rm -rf '%s'", dir);
}

int
main (void)
{
    if (geteuid () != 0) {
        printf ("test_cni: skipped: needs root (network namespaces, bridges, iptables)\n");
        return 77;
    }
    if (access ("/usr/lib/cni/bridge", X_OK) != 0) {
        printf ("test_cni: skipped: /usr/lib/cni/bridge missing (apt-get install containernetworking-plugins)\n");
        return 77;
    }
    if (sh ("iptables -w -t nat -S >/dev/null 2>&1") != 0) {
        printf ("test_cni: skipped: iptables -t nat does not work here (the bridge plugin's ipMasq needs it)\n");
        return 77;
    }
    snprintf (dir, sizeof dir, "/tmp/troupe-cni-XXXXXX");
    if (!mkdtemp (dir))
        return 1;
    pid_t me = getpid ();
    srand ((unsigned) (me ^ time (NULL)));
    int a = 100 + rand () % 150, b = rand () % 250; /* b + 1: test_subnet_change's */
    snprintf (subnet_prefix, sizeof subnet_prefix, "10.%d.%d.", a, b);
    snprintf (cfg.bin_dir, sizeof cfg.bin_dir, "/usr/lib/cni");
    snprintf (cfg.conf_path, sizeof cfg.conf_path, "%s/conf/10-troupe.conflist", dir);
    snprintf (cfg.netns_dir, sizeof cfg.netns_dir, "%s/netns", dir);
    snprintf (cfg.state_dir, sizeof cfg.state_dir, "%s/state", dir);
    snprintf (cfg.bridge, sizeof cfg.bridge, "trt%d", (int) (me % 10000));
    snprintf (cfg.subnet, sizeof cfg.subnet, "10.%d.%d.0/24", a, b);
    cfg.timeout_s = 20;
    snprintf (ida, sizeof ida, "tcnia%d", (int) me);
    snprintf (idb, sizeof idb, "tcnib%d", (int) me);
    snprintf (idc, sizeof idc, "tcnic%d", (int) me);
    snprintf (idd, sizeof idd, "tcnid%d", (int) me);
    snprintf (ide, sizeof ide, "tcnie%d", (int) me);
    snprintf (ido, sizeof ido, "tcnio%d", (int) me);
    snprintf (ids, sizeof ids, "tcnis%d", (int) me);
    snprintf (masq_table, sizeof masq_table, "troupe_test_%d", (int) me);
    snprintf (veth_out, sizeof veth_out, "tvo%d", (int) (me % 100000));
    ifs_before = count_net_ifs ();
    read_small ("/proc/sys/net/ipv4/ip_forward", ipf_before, sizeof ipf_before);
    hostport_chains_before = nat_lines ("-N CNI-HOSTPORT-DNAT") > 0;
    int cni_before = nat_lines ("CNI");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_two_pods),
        cmocka_unit_test (test_del_without_netns),
        cmocka_unit_test (test_plugin_errors),
        cmocka_unit_test (test_gc),
        cmocka_unit_test (test_subnet_change),
        cmocka_unit_test (test_masq_ruleset),
        cmocka_unit_test (test_egress_masquerade),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    cleanup ();
    int cni_after = nat_lines ("CNI");
    if (cni_after != cni_before) {
        fprintf (stderr, "test_cni: iptables -t nat has %d lines naming CNI after the run, %d before\n", cni_after,
                 cni_before);
        rc = rc ? rc : 1;
    }
    if (net_ifs_settle (ifs_before) != ifs_before) {
        fprintf (stderr, "test_cni: %d network interfaces after the run, %d before\n", count_net_ifs (), ifs_before);
        rc = rc ? rc : 1;
    }
    return rc;
}
