/* hostgw: the routes wanted from the Nodes (this node, nodes without podCIDR or InternalIP,
 * through ourselves, overlapping ours, duplicates) and the plan from what is there (add, replace
 * on a moved node, delete of a gone node's and of duplicates, nothing when in step). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/agent/hostgw.h"
#include "core/value.h"

static json_t *
node (const char *name, const char *cidr, const char *ip)
{
    json_t *n = json_pack ("{s:s,s:{s:s},s:{},s:{s:[{s:s,s:s}]}}", "kind", "Node", "metadata", "name", name, "spec",
                           "status", "addresses", "type", "Hostname", "address", name);
    if (cidr)
        tv_set (n, "spec.podCIDR", json_string (cidr));
    if (ip)
        json_array_append_new (tv_get (n, "status.addresses"), json_pack ("{s:s,s:s}", "type", "InternalIP", "address", ip));
    return n;
}

static char *
show (const hostgw_route_t *r, size_t n)
{
    static char buf[2048];
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char one[80];
        hostgw_format (&r[i], one, sizeof one);
        strcat (buf, one);
        strcat (buf, ";");
    }
    return buf;
}

static void
wanted_routes (void **state)
{
    (void) state;
    json_t *nodes = json_pack ("[o,o,o,o,o,o,o,o]", node ("self", "10.244.0.0/24", "192.168.1.1"),
                               node ("b", "10.244.2.0/24", "192.168.1.3"), node ("a", "10.244.1.0/24", "192.168.1.2"),
                               node ("nocidr", NULL, "192.168.1.4"), node ("noip", "10.244.4.0/24", NULL),
                               node ("loop", "10.244.5.0/24", "192.168.1.1"), node ("overlap", "10.244.0.0/23", "192.168.1.6"),
                               node ("dup", "10.244.1.0/24", "192.168.1.7"));
    hostgw_route_t *w;
    size_t n = hostgw_want (nodes, "self", "192.168.1.1", "10.244.0.0/24", &w);
    assert_string_equal (show (w, n), "10.244.1.0/24 via 192.168.1.2;10.244.2.0/24 via 192.168.1.3;");
    free (w);
    /* podCIDRs alone counts; a bad address or CIDR does not */
    json_t *more = json_pack ("[o,o,o]", node ("c", NULL, "192.168.1.9"), node ("d", "10.244.7.0/24", "nope"),
                              node ("e", "garbage", "192.168.1.10"));
    tv_set (json_array_get (more, 0), "spec.podCIDRs", json_pack ("[s]", "10.244.8.0/24"));
    n = hostgw_want (more, "self", NULL, NULL, &w);
    assert_string_equal (show (w, n), "10.244.8.0/24 via 192.168.1.9;");
    free (w);
    json_decref (more);
    json_decref (nodes);
}

static void
plan_actions (void **state)
{
    (void) state;
    hostgw_route_t want[] = {{0x0af40100, 24, 0xc0a80102}, {0x0af40200, 24, 0xc0a80103}, {0x0af40300, 24, 0xc0a80104}};
    hostgw_route_t have[] = {{0x0af40200, 24, 0xc0a80199}, /* b moved */
                             {0x0af40300, 24, 0xc0a80104}, /* in step */
                             {0x0af40900, 24, 0xc0a80109}, /* a gone node's */
                             {0x0af40300, 24, 0xc0a80177}}; /* a duplicate of ours */
    hostgw_action_t *a;
    size_t n = hostgw_plan (want, 3, have, 4, &a);
    assert_int_equal (n, 4);
    char s[80];
    assert_int_equal (a[0].op, HOSTGW_ADD);
    hostgw_format (&a[0].r, s, sizeof s);
    assert_string_equal (s, "10.244.1.0/24 via 192.168.1.2");
    assert_int_equal (a[1].op, HOSTGW_REPLACE);
    hostgw_format (&a[1].r, s, sizeof s);
    assert_string_equal (s, "10.244.2.0/24 via 192.168.1.3");
    assert_int_equal (a[2].op, HOSTGW_DELETE);
    hostgw_format (&a[2].r, s, sizeof s);
    assert_string_equal (s, "10.244.9.0/24 via 192.168.1.9");
    assert_int_equal (a[3].op, HOSTGW_DELETE);
    hostgw_format (&a[3].r, s, sizeof s);
    assert_string_equal (s, "10.244.3.0/24 via 192.168.1.119");
    free (a);
    /* in step: nothing; nothing wanted: every one of ours goes */
    n = hostgw_plan (want, 3, want, 3, &a);
    assert_int_equal (n, 0);
    free (a);
    n = hostgw_plan (NULL, 0, want, 3, &a);
    assert_int_equal (n, 3);
    for (size_t i = 0; i < n; i++)
        assert_int_equal (a[i].op, HOSTGW_DELETE);
    free (a);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (wanted_routes), cmocka_unit_test (plan_actions)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
