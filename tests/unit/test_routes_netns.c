/* routes: the host-gw routes applied with real netlink in a network namespace of the test's own
 * (ip netns add trgw-<pid>, a veth pair inside it, 192.168.77.1/24 on d0), read back with `ip -n NS route`:
 * - the plan's routes are added with protocol 84 and a route of another protocol stays;
 * - after a simulated restart (nothing remembered: our routes listed from the kernel), a moved
 *   node's route is replaced, a gone node's (and a stale one of ours put there by hand) deleted,
 *   the foreign route untouched; a foreign route to a wanted destination is not taken over;
 * - the default route's interface address is the node's IP.
 * The namespace is removed at the end. Skipped (77) when not root or `ip netns` is unusable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/agent/hostgw.h"
#include "actors/agent/routes.h"
#include "core/value.h"

static char ns[64];
static int home_fd = -1;

static int
sh (const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    return system (cmd);
}

/* `ip -n NS route show <filter>` as one string, lines joined with ';' */
static char *
routes_of (const char *filter)
{
    static char out[4096];
    char cmd[256], line[256];
    snprintf (cmd, sizeof cmd, "ip -n %s route show %s 2>&1", ns, filter);
    FILE *p = popen (cmd, "r");
    out[0] = 0;
    while (p && fgets (line, sizeof line, p)) {
        line[strcspn (line, "\n")] = 0;
        /* trailing spaces vary between iproute2 versions */
        for (size_t l = strlen (line); l && line[l - 1] == ' '; l--)
            line[l - 1] = 0;
        strncat (out, line, sizeof out - strlen (out) - 2);
        strcat (out, ";");
    }
    if (p)
        pclose (p);
    return out;
}

static json_t *
node (const char *name, const char *cidr, const char *ip)
{
    return json_pack ("{s:{s:s},s:{s:s},s:{s:[{s:s,s:s}]}}", "metadata", "name", name, "spec", "podCIDR", cidr, "status",
                      "addresses", "type", "InternalIP", "address", ip);
}

/* One reconcile as the agent does it: list ours, plan, apply. Returns the number of failures. */
static int
reconcile (const json_t *nodes)
{
    hostgw_route_t *want, *have;
    size_t nw = hostgw_want (nodes, "self", "192.168.77.1", "10.244.0.0/24", &want), nh;
    char err[300];
    assert_int_equal (routes_list (HOSTGW_PROTO, &have, &nh, err, sizeof err), 0);
    hostgw_action_t *acts;
    size_t n = hostgw_plan (want, nw, have, nh, &acts);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        if (routes_apply (&acts[i], HOSTGW_PROTO, err, sizeof err)) {
            fprintf (stderr, "# %s\n", err);
            failed++;
        }
    free (want);
    free (have);
    free (acts);
    return failed;
}

static void
enter (void)
{
    char path[128];
    snprintf (path, sizeof path, "/run/netns/%s", ns);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    assert_true (fd >= 0);
    assert_int_equal (setns (fd, CLONE_NEWNET), 0);
    close (fd);
}

static void
leave (void)
{
    assert_int_equal (setns (home_fd, CLONE_NEWNET), 0);
}

static void
apply_and_restart (void **state)
{
    (void) state;
    assert_int_equal (sh ("ip -n %s route add 10.99.0.0/24 via 192.168.77.3", ns), 0); /* someone else's */
    json_t *nodes = json_pack ("[o,o,o]", node ("self", "10.244.0.0/24", "192.168.77.1"),
                               node ("a", "10.244.1.0/24", "192.168.77.2"), node ("b", "10.244.2.0/24", "192.168.77.3"));
    enter ();
    assert_int_equal (reconcile (nodes), 0);
    assert_int_equal (reconcile (nodes), 0); /* in step: nothing to do, nothing fails */
    leave ();
    assert_string_equal (routes_of ("proto 84"), "10.244.1.0/24 via 192.168.77.2 dev d0;10.244.2.0/24 via 192.168.77.3 dev d0;");
    assert_non_null (strstr (routes_of (""), "10.99.0.0/24 via 192.168.77.3 dev d0"));

    /* a restart: b is gone, a moved; one of ours left from before by hand; a foreign route to
     * c's destination */
    assert_int_equal (sh ("ip -n %s route add 10.244.9.0/24 via 192.168.77.9 proto 84", ns), 0);
    assert_int_equal (sh ("ip -n %s route add 10.244.3.0/24 via 192.168.77.30", ns), 0);
    json_decref (nodes);
    nodes = json_pack ("[o,o,o]", node ("self", "10.244.0.0/24", "192.168.77.1"), node ("a", "10.244.1.0/24", "192.168.77.5"),
                       node ("c", "10.244.3.0/24", "192.168.77.4"));
    enter ();
    assert_int_equal (reconcile (nodes), 1); /* c's add refused: the destination is someone else's */
    leave ();
    assert_string_equal (routes_of ("proto 84"), "10.244.1.0/24 via 192.168.77.5 dev d0;");
    char *all = routes_of ("");
    assert_non_null (strstr (all, "10.99.0.0/24 via 192.168.77.3 dev d0"));
    assert_non_null (strstr (all, "10.244.3.0/24 via 192.168.77.30 dev d0"));
    assert_null (strstr (all, "10.244.9.0"));
    assert_null (strstr (all, "10.244.2.0"));
    /* every node gone: ours removed, the others stay */
    json_decref (nodes);
    nodes = json_array ();
    enter ();
    assert_int_equal (reconcile (nodes), 0);
    leave ();
    assert_string_equal (routes_of ("proto 84"), "");
    assert_non_null (strstr (routes_of (""), "10.99.0.0/24"));
    json_decref (nodes);
}

static void
default_route_ip (void **state)
{
    (void) state;
    char ip[64] = "";
    enter ();
    assert_int_equal (routes_default_ip (ip, sizeof ip), -1); /* none yet */
    leave ();
    assert_int_equal (sh ("ip -n %s link add d1 type veth peer name d1p && ip -n %s addr add 172.31.9.7/24 dev d1 && "
                          "ip -n %s link set d1 up && ip -n %s link set d1p up && ip -n %s route add default via 172.31.9.1",
                          ns, ns, ns, ns, ns),
                      0);
    enter ();
    assert_int_equal (routes_default_ip (ip, sizeof ip), 0);
    leave ();
    assert_string_equal (ip, "172.31.9.7"); /* d1's, not d0's (the first link with an address) */
}

static int
setup (void **state)
{
    (void) state;
    if (!sh ("ip netns add %s && ip -n %s link set lo up && ip -n %s link add d0 type veth peer name d0p && "
             "ip -n %s addr add 192.168.77.1/24 dev d0 && ip -n %s link set d0 up && ip -n %s link set d0p up",
             ns, ns, ns, ns, ns, ns))
        return 0;
    sh ("ip netns del %s 2>/dev/null", ns);
    return -1;
}

static int
teardown (void **state)
{
    (void) state;
    return sh ("ip netns del %s", ns);
}

int
main (void)
{
    if (geteuid () != 0) {
        printf ("test_routes_netns: skipped: needs root (network namespaces)\n");
        return 77;
    }
    snprintf (ns, sizeof ns, "trgw-%d", (int) getpid ());
    if (sh ("ip netns add %s 2>/dev/null", ns)) {
        printf ("test_routes_netns: skipped: `ip netns add` does not work here\n");
        return 77;
    }
    sh ("ip netns del %s", ns);
    home_fd = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (apply_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown (default_route_ip, setup, teardown),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    sh ("ip netns del %s 2>/dev/null", ns); /* a failed assertion skips teardown's twin */
    return rc;
}
