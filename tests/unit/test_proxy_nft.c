/* The Service proxy's rules in the kernel (actors/proxy/proxynft.c with the real libnftables), in
 * a network namespace of this test's own (the process unshares one: the "node"), with a client
 * namespace (192.168.77.2, outside the cluster CIDR) and three endpoint namespaces on a bridge
 * (10.244.1.2-4, busybox httpd answering its own name; the client is curl: busybox wget
 * segfaults on this machine):
 * - the table applied from nothing lists back with its service chains and map elements;
 * - 30 requests to the ClusterIP and 30 to the NodePort (on the node's address) reach all three
 *   endpoints, from the client and from the node itself; 30 from an endpoint to its own Service reach all three, itself included (hairpin,
 *   the bridge port in hairpin mode as the CNI bridge plugin's hairpinMode); a ClientIP-affinity Service answers 10 requests from one endpoint;
 * - a Service without endpoints refuses at once (curl: could not connect), it does not time out;
 * - an endpoint removed: the incremental transaction applies and the requests reach only two;
 * - a restart (the model forgotten, a stale chain and element left in the kernel by "the dead
 *   proxy"): the table is read back and reconciled, the stale chain and element gone, traffic
 *   still served;
 * - a table left with a base chain of another priority (another version's) is replaced whole;
 * - teardown deletes the table.
 * Leaves nothing: the namespaces it named are deleted, the node namespace dies with the process.
 * Skipped (77) when not root, without unshare(CLONE_NEWNET), ip, busybox or curl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actors/proxy/proxynft.h"
#include "actors/proxy/proxyrules.h"

static char ns_client[32], ns_ep[3][32], webdir[64];
static pid_t httpd[3];
static pr_model_t *current;

static int
sh (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static int
sh (const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    int rc = system (cmd);
    return WIFEXITED (rc) ? WEXITSTATUS (rc) : -1;
}

#define SH(...)                                                                                                        \
    do {                                                                                                               \
        if (sh (__VA_ARGS__))                                                                                          \
            fail_msg ("failed: " __VA_ARGS__);                                                                         \
    } while (0)

static void
cleanup (void)
{
    for (int i = 0; i < 3; i++)
        if (httpd[i] > 0) {
            kill (httpd[i], SIGKILL);
            waitpid (httpd[i], NULL, 0);
            httpd[i] = 0;
        }
    if (*ns_client)
        sh ("ip netns del %s 2>/dev/null", ns_client);
    for (int i = 0; i < 3; i++)
        if (*ns_ep[i])
            sh ("ip netns del %s 2>/dev/null", ns_ep[i]);
    if (*webdir)
        sh ("rm -rf %s", webdir);
    *ns_client = *webdir = 0;
    for (int i = 0; i < 3; i++)
        *ns_ep[i] = 0;
}

static json_t *
services (void)
{
    return json_loads (
        "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},"
        " \"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.10\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\","
        "  \"port\":80,\"targetPort\":8080,\"nodePort\":30080}]}},"
        " {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"default\",\"name\":\"sticky\"},"
        " \"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.11\",\"sessionAffinity\":\"ClientIP\","
        "  \"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":60}},"
        "  \"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}]}},"
        " {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"default\",\"name\":\"empty\"},"
        " \"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.12\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}}]",
        0, NULL);
}

static json_t *
slices (int n)
{
    json_t *a = json_array ();
    const char *names[] = {"web", "sticky"};
    for (int s = 0; s < 2; s++) {
        json_t *eps = json_array ();
        for (int i = 0; i < n; i++) {
            char ip[24];
            snprintf (ip, sizeof ip, "10.244.1.%d", i + 2);
            json_array_append_new (eps, json_pack ("{s:[s], s:{s:b}}", "addresses", ip, "conditions", "ready", 1));
        }
        json_array_append_new (
            a, json_pack ("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:o, s:[{s:s, s:s, s:i}]}", "apiVersion",
                          "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "namespace", "default", "name",
                          names[s], "labels", "kubernetes.io/service-name", names[s], "addressType", "IPv4",
                          "endpoints", eps, "ports", "name", "http", "protocol", "TCP", "port", 8080));
    }
    return a;
}

static void
sync_to (int nendpoints)
{
    json_t *ss = services (), *sl = slices (nendpoints);
    pr_model_t *m = pr_model_build (ss, sl, "10.244.0.0/16", NULL);
    char err[1024];
    int lines = 0;
    if (pn_sync (&current, m, &lines, err, sizeof err))
        fail_msg ("pn_sync: %s", err);
    json_decref (ss);
    json_decref (sl);
}

/* n requests from the client; the distinct answers as a bit mask of endpoints (bit i: ep i) */
static int
answers_from (const char *ns, const char *url, int n)
{
    int mask = 0;
    for (int k = 0; k < n; k++) {
        char cmd[256], out[64] = "";
        if (ns)
            snprintf (cmd, sizeof cmd, "ip netns exec %s curl -sS -m 2 %s 2>&1", ns, url);
        else /* the node itself (this process's namespace): the output hook */
            snprintf (cmd, sizeof cmd, "curl -sS -m 2 %s 2>&1", url);
        FILE *p = popen (cmd, "r");
        if (!p)
            continue;
        if (!fgets (out, sizeof out, p))
            *out = 0;
        pclose (p);
        if (!strncmp (out, "ep", 2) && out[2] >= '0' && out[2] <= '2')
            mask |= 1 << (out[2] - '0');
    }
    return mask;
}

static int
answers (const char *url, int n)
{
    return answers_from (ns_client, url, n);
}

static int
setup (void **state)
{
    (void) state;
    int pid = (int) getpid ();
    snprintf (ns_client, sizeof ns_client, "tpx%dc", pid);
    snprintf (webdir, sizeof webdir, "/tmp/tpx%d", pid);
    if (sh ("ip link set lo up && echo 1 > /proc/sys/net/ipv4/ip_forward && ip link add br0 type bridge && "
            "ip addr add 10.244.1.1/24 dev br0 && ip link set br0 up && ip route add 10.96.0.0/16 dev br0") ||
        sh ("ip netns add %s && ip link add cl0 type veth peer name eth0 netns %s && ip addr add 192.168.77.1/24 dev cl0 && "
            "ip link set cl0 up && ip -n %s addr add 192.168.77.2/24 dev eth0 && ip -n %s link set eth0 up && "
            "ip -n %s link set lo up && ip -n %s route add default via 192.168.77.1",
            ns_client, ns_client, ns_client, ns_client, ns_client, ns_client))
        return -1;
    for (int i = 0; i < 3; i++) {
        snprintf (ns_ep[i], sizeof ns_ep[i], "tpx%de%d", pid, i);
        if (sh ("ip netns add %s && ip link add ep%d type veth peer name eth0 netns %s && ip link set ep%d master br0 && "
                "ip link set ep%d type bridge_slave hairpin on && ip link set ep%d up && ip -n %s addr add 10.244.1.%d/24 dev eth0 && ip -n %s link set eth0 up && "
                "ip -n %s link set lo up && ip -n %s route add default via 10.244.1.1 && mkdir -p %s/%d && "
                "echo ep%d > %s/%d/index.html",
                ns_ep[i], i, ns_ep[i], i, i, i, ns_ep[i], i + 2, ns_ep[i], ns_ep[i], ns_ep[i], webdir, i, i, webdir, i))
            return -1;
        char dir[80];
        snprintf (dir, sizeof dir, "%s/%d", webdir, i);
        httpd[i] = fork ();
        if (httpd[i] == 0) {
            execlp ("ip", "ip", "netns", "exec", ns_ep[i], "busybox", "httpd", "-f", "-p", "8080", "-h", dir, (char *) NULL);
            _exit (127);
        }
    }
    /* the servers listen */
    for (int t = 0; t < 50; t++) {
        int up = 0;
        for (int i = 0; i < 3; i++)
            up += sh ("ip netns exec %s curl -s -m 1 -o /dev/null http://10.244.1.%d:8080/",
                      ns_client, i + 2) == 0;
        if (up == 3)
            return 0;
        usleep (100000);
    }
    return -1;
}

static int
teardown (void **state)
{
    (void) state;
    char err[256];
    pn_delete (err, sizeof err);
    pr_model_free (&current);
    cleanup ();
    return 0;
}

static void
test_apply_and_traffic (void **state)
{
    (void) state;
    pr_model_t *none = NULL;
    char err[1024];
    assert_int_equal (pn_read (&none, err, sizeof err), 0);
    assert_null (none); /* no table yet */
    sync_to (3);
    char *l = pn_list ();
    assert_non_null (l);
    assert_non_null (strstr (l, "numgen random mod 3 vmap"));
    assert_non_null (strstr (l, "10.96.0.10 . tcp . 80 : goto service-"));
    assert_non_null (strstr (l, "tcp . 30080 : goto external-"));
    assert_non_null (strstr (l, "10.96.0.12 . tcp . 80 : goto reject-chain"));
    free (l);
    /* all three endpoints answer, through the ClusterIP and the NodePort */
    assert_int_equal (answers ("http://10.96.0.10/", 30), 7);
    assert_int_equal (answers ("http://192.168.77.1:30080/", 30), 7);
    /* from the node itself: ClusterIP and NodePort on its own address (nat output) */
    assert_int_equal (answers_from (NULL, "http://10.96.0.10/", 30), 7);
    assert_int_equal (answers_from (NULL, "http://192.168.77.1:30080/", 30), 7);
    /* hairpin: an endpoint reaching its own Service is masqueraded, so it reaches itself too
     * (without it, its own answer would go to itself directly, un-DNATed, and be dropped) */
    assert_int_equal (answers_from (ns_ep[0], "http://10.96.0.10/", 30), 7);
    /* ClientIP affinity: one endpoint for this client */
    int m = answers ("http://10.96.0.11/", 10);
    assert_true (m == 1 || m == 2 || m == 4);
    /* no endpoint: refused at once (tcp reset), not a 3 s timeout */
    struct timespec a, b;
    clock_gettime (CLOCK_MONOTONIC, &a);
    /* curl: 7 = could not connect (refused), 28 = timed out */
    int rc = sh ("ip netns exec %s curl -s -m 3 -o /dev/null http://10.96.0.12/", ns_client);
    clock_gettime (CLOCK_MONOTONIC, &b);
    assert_int_equal (rc, 7);
    assert_true (b.tv_sec - a.tv_sec < 2);
}

static void
test_incremental_and_restart (void **state)
{
    (void) state;
    char err[1024];
    /* one endpoint gone: a small transaction, and the traffic follows */
    json_t *ss = services (), *sl = slices (2);
    pr_model_t *m = pr_model_build (ss, sl, "10.244.0.0/16", NULL);
    char *d = pr_diff (current, m);
    assert_null (strstr (d, "add table"));
    free (d);
    int lines = 0;
    if (pn_sync (&current, m, &lines, err, sizeof err))
        fail_msg ("pn_sync: %s", err);
    assert_true (lines > 0 && lines < 20);
    assert_int_equal (answers ("http://10.96.0.10/", 30), 3);
    /* a proxy killed -9 left a Service that no longer exists: a chain and an element */
    assert_int_equal (pn_apply ("add chain ip troupe-proxy service-zzzzzzzz-old/gone/tcp/80\n"
                                "add rule ip troupe-proxy service-zzzzzzzz-old/gone/tcp/80 meta l4proto tcp dnat to 10.244.1.4:8080\n"
                                "add element ip troupe-proxy service-ips { 10.96.0.99 . tcp . 80 : goto service-zzzzzzzz-old/gone/tcp/80 }\n",
                                err, sizeof err),
                      0);
    pr_model_free (&current); /* the new proxy knows nothing */
    sync_to (2);
    char *l = pn_list ();
    assert_non_null (l);
    assert_null (strstr (l, "old/gone"));
    assert_null (strstr (l, "10.96.0.99"));
    assert_non_null (strstr (l, "numgen random mod 2 vmap"));
    free (l);
    /* a table another version left, with a base chain of another priority (which `add chain`
     * cannot change): replaced whole, still served */
    assert_int_equal (pn_delete (err, sizeof err), 0);
    assert_int_equal (pn_apply ("add table ip troupe-proxy\n"
                                "add chain ip troupe-proxy nat-prerouting { type nat hook prerouting priority -90; policy accept; }\n"
                                "add chain ip troupe-proxy old-stuff\n",
                                err, sizeof err),
                      0);
    pr_model_free (&current);
    sync_to (2);
    l = pn_list ();
    assert_non_null (l);
    assert_null (strstr (l, "old-stuff"));
    assert_null (strstr (l, "priority dstnat + 10"));
    free (l);
    assert_int_equal (answers ("http://10.96.0.10/", 30), 3);
    /* and a second restart onto the same state changes nothing it should not: still served */
    pr_model_free (&current);
    sync_to (2);
    assert_int_equal (answers ("http://10.96.0.10/", 30), 3);
    /* orderly shutdown: the table is deleted */
    assert_int_equal (pn_delete (err, sizeof err), 0);
    assert_null (pn_list ());
    assert_int_not_equal (sh ("nft list tables | grep -q troupe-proxy"), 0);
    json_decref (ss);
    json_decref (sl);
}

int
main (void)
{
    if (geteuid () != 0) {
        printf ("skip: needs root (network namespaces, nftables)\n");
        return 77;
    }
    if (access ("/usr/bin/busybox", X_OK) || access ("/usr/bin/curl", X_OK) || sh ("command -v ip >/dev/null")) {
        printf ("skip: needs busybox, curl and ip\n");
        return 77;
    }
    if (unshare (CLONE_NEWNET)) {
        printf ("skip: cannot unshare a network namespace\n");
        return 77;
    }
    atexit (cleanup);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_apply_and_traffic),
        cmocka_unit_test (test_incremental_and_restart),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
