/* The parts of the cni module that need no privilege: a plugin's output read as a result or as
 * the spec's error (the message the user sees names the plugin, its msg, code and details),
 * the pod's IPv4 picked from results of each CNI version, ids refused when they could not name
 * a file, and the pod's /etc/hosts and /etc/resolv.conf exactly as the kubelet writes them
 * (loopback nameservers of the node dropped, dnsConfig used alone when given). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime-shims/oci/cni.h"

static char dir[64];

static char *
slurp (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    static char buf[8192];
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = 0;
    return buf;
}

static void
test_parse_error (void **state)
{
    (void) state;
    char err[512];
    json_t *r = (json_t *) 1;
    const char *out = "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"failed to allocate\",\"details\":\"range full\"}";
    assert_int_equal (cni_parse_output ("bridge", 0, out, strlen (out), &r, err, sizeof err), -1);
    assert_null (r);
    assert_string_equal (err, "plugin bridge: failed to allocate (code 11): range full");
    /* no details */
    out = "{\"code\":7,\"msg\":\"no\"}";
    assert_int_equal (cni_parse_output ("x", 0, out, strlen (out), &r, err, sizeof err), -1);
    assert_string_equal (err, "plugin x: no (code 7)");
    /* an error object is an error even when the exit status was 0 */
    assert_int_equal (cni_parse_output ("x", 1, out, strlen (out), &r, err, sizeof err), -1);
    assert_string_equal (err, "plugin x: no (code 7)");
    /* failed and silent, failed with garbage */
    assert_int_equal (cni_parse_output ("p", 0, "", 0, &r, err, sizeof err), -1);
    assert_string_equal (err, "plugin p: failed and printed no error");
    assert_int_equal (cni_parse_output ("p", 0, "panic: boom\n", 12, &r, err, sizeof err), -1);
    assert_non_null (strstr (err, "plugin p: failed and its output is not a JSON object"));
    assert_non_null (strstr (err, "panic: boom"));
    assert_int_equal (cni_parse_output ("p", 1, "[1]", 3, &r, err, sizeof err), -1);
    assert_non_null (strstr (err, "not an object"));
}

static void
test_parse_result (void **state)
{
    (void) state;
    char err[256], ip[64];
    json_t *r = NULL;
    /* DEL and CHECK print nothing */
    assert_int_equal (cni_parse_output ("bridge", 1, " \n", 2, &r, err, sizeof err), 0);
    assert_null (r);
    /* 1.0.0: the address on the interface inside the sandbox, not the bridge's */
    const char *v1 = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"aa\"},"
                     "{\"name\":\"eth0\",\"mac\":\"bb\",\"sandbox\":\"/run/netns/x\"}],"
                     "\"ips\":[{\"address\":\"fd00::5/64\",\"interface\":1},{\"address\":\"10.1.0.1/24\",\"interface\":0},"
                     "{\"address\":\"10.1.0.7/24\",\"gateway\":\"10.1.0.1\",\"interface\":1}]}";
    assert_int_equal (cni_parse_output ("bridge", 1, v1, strlen (v1), &r, err, sizeof err), 0);
    assert_non_null (r);
    assert_int_equal (cni_result_ipv4 (r, ip, sizeof ip), 0);
    assert_string_equal (ip, "10.1.0.7");
    json_decref (r);
    /* 0.3.1 without interface indexes: the first IPv4 */
    const char *v031 = "{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"4\",\"address\":\"10.22.0.9/16\"}]}";
    assert_int_equal (cni_parse_output ("bridge", 1, v031, strlen (v031), &r, err, sizeof err), 0);
    assert_int_equal (cni_result_ipv4 (r, ip, sizeof ip), 0);
    assert_string_equal (ip, "10.22.0.9");
    /* too small a buffer: refused, not truncated */
    assert_int_equal (cni_result_ipv4 (r, ip, 5), -1);
    json_decref (r);
    /* no IPv4 at all */
    r = json_pack ("{s:[{s:s}]}", "ips", "address", "fd00::1/64");
    assert_int_equal (cni_result_ipv4 (r, ip, sizeof ip), -1);
    assert_string_equal (ip, "");
    json_decref (r);
    assert_int_equal (cni_result_ipv4 (NULL, ip, sizeof ip), -1);
}

static void
test_id_valid (void **state)
{
    (void) state;
    assert_true (cni_id_valid ("abc-123_x.y"));
    assert_false (cni_id_valid (""));
    assert_false (cni_id_valid (NULL));
    assert_false (cni_id_valid (".."));
    assert_false (cni_id_valid (".hidden"));
    assert_false (cni_id_valid ("a/b"));
    assert_false (cni_id_valid ("a b"));
    char long_id[200];
    memset (long_id, 'a', 129);
    long_id[129] = 0;
    assert_false (cni_id_valid (long_id));
    long_id[128] = 0;
    assert_true (cni_id_valid (long_id));
}

static void
test_hosts (void **state)
{
    (void) state;
    char path[128], err[256];
    snprintf (path, sizeof path, "%s/hosts", dir);
    json_t *aliases = json_pack ("[{s:s, s:[s, s]}]", "ip", "10.9.8.7", "hostnames", "foo.local", "bar.local");
    assert_int_equal (cni_write_hosts (path, "10.88.0.5", "web-1", NULL, aliases, err, sizeof err), 0);
    assert_string_equal (slurp (path), "# Kubernetes-managed hosts file.\n"
                                       "127.0.0.1\tlocalhost\n"
                                       "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                       "fe00::0\tip6-localnet\n"
                                       "fe00::0\tip6-mcastprefix\n"
                                       "fe00::1\tip6-allnodes\n"
                                       "fe00::2\tip6-allrouters\n"
                                       "10.88.0.5\tweb-1\n"
                                       "\n# Entries added by HostAliases.\n"
                                       "10.9.8.7\tfoo.local\tbar.local\n");
    json_decref (aliases);
    /* a hostname that would add a line is refused, and the old file stays */
    assert_int_equal (cni_write_hosts (path, "10.88.0.5", "evil\n1.2.3.4 bank", NULL, NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "hostname"));
    assert_non_null (strstr (slurp (path), "web-1"));
    char tmp[140];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal (access (tmp, F_OK), 0);
    /* hostname + subdomain: the FQDN first, as the kubelet writes it */
    assert_int_equal (cni_write_hosts (path, "10.88.0.6", "db-0", "db.prod.svc.cluster.local", NULL, err, sizeof err), 0);
    assert_non_null (strstr (slurp (path), "\n10.88.0.6\tdb-0.db.prod.svc.cluster.local\tdb-0\n"));
    assert_int_equal (cni_write_hosts (path, "10.88.0.6", "db-0", "x y", NULL, err, sizeof err), -1);
}

static void
test_resolv (void **state)
{
    (void) state;
    char host[128], path[128], err[256];
    snprintf (host, sizeof host, "%s/host-resolv", dir);
    snprintf (path, sizeof path, "%s/resolv", dir);
    FILE *f = fopen (host, "w");
    fputs ("# from dhcp\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\n"
           "search old.example\nsearch a.example b.example\noptions edns0 trust-ad\n"
           "nameserver 10.0.0.3\nnameserver 10.0.0.4\nnameserver 10.0.0.5\n",
           f);
    fclose (f);
    assert_int_equal (cni_write_resolv (path, host, NULL, err, sizeof err), 0);
    assert_string_equal (slurp (path), "nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n"
                                       "search a.example b.example\noptions edns0 trust-ad\n");
    /* only loopback resolvers on the node: no nameserver line at all (documented in cni_etc.c) */
    f = fopen (host, "w");
    fputs ("nameserver 127.0.0.53\noptions edns0\n", f);
    fclose (f);
    assert_int_equal (cni_write_resolv (path, host, NULL, err, sizeof err), 0);
    assert_string_equal (slurp (path), "options edns0\n");
    /* dnsConfig alone */
    json_t *dns = json_pack ("{s:[s], s:[s, s], s:[{s:s, s:s}, {s:s}]}", "nameservers", "1.2.3.4", "searches",
                             "ns1.svc.cluster.local", "svc.cluster.local", "options", "name", "ndots", "value", "5",
                             "name", "edns0");
    assert_int_equal (cni_write_resolv (path, host, dns, err, sizeof err), 0);
    assert_string_equal (slurp (path), "nameserver 1.2.3.4\nsearch ns1.svc.cluster.local svc.cluster.local\n"
                                       "options ndots:5 edns0\n");
    json_decref (dns);
    dns = json_pack ("{s:[s]}", "searches", "bad domain");
    assert_int_equal (cni_write_resolv (path, host, dns, err, sizeof err), -1);
    assert_non_null (strstr (err, "dnsConfig.searches[0]"));
    json_decref (dns);
    /* no host file: an empty resolv.conf */
    assert_int_equal (cni_write_resolv (path, "/nonexistent/resolv.conf", NULL, err, sizeof err), 0);
    assert_string_equal (slurp (path), "");
}

static void
test_conflist (void **state)
{
    (void) state;
    cni_config_t c = { .bin_dir = "/usr/lib/cni", .bridge = "trx0", .subnet = "10.77.0.0/24" };
    snprintf (c.conf_path, sizeof c.conf_path, "%s/conf/10-troupe.conflist", dir);
    snprintf (c.state_dir, sizeof c.state_dir, "%s/state", dir);
    char err[256];
    assert_int_equal (cni_write_conflist (&c, err, sizeof err), 0);
    json_t *l = json_load_file (c.conf_path, 0, NULL);
    assert_non_null (l);
    assert_string_equal (json_string_value (json_object_get (l, "cniVersion")), "1.0.0");
    assert_string_equal (json_string_value (json_object_get (l, "name")), "troupe");
    json_t *br = json_array_get (json_object_get (l, "plugins"), 0);
    assert_string_equal (json_string_value (json_object_get (br, "type")), "bridge");
    assert_string_equal (json_string_value (json_object_get (br, "bridge")), "trx0");
    assert_true (json_is_true (json_object_get (br, "isGateway")));
    assert_true (json_is_false (json_object_get (br, "ipMasq"))); /* masq.c: once per node */
    assert_true (json_is_true (json_object_get (br, "hairpinMode")));
    json_t *ipam = json_object_get (br, "ipam");
    assert_string_equal (json_string_value (json_object_get (ipam, "type")), "host-local");
    json_t *range = json_array_get (json_array_get (json_object_get (ipam, "ranges"), 0), 0);
    assert_string_equal (json_string_value (json_object_get (range, "subnet")), "10.77.0.0/24");
    char dd[700];
    snprintf (dd, sizeof dd, "%s/ipam", c.state_dir);
    assert_string_equal (json_string_value (json_object_get (ipam, "dataDir")), dd);
    json_t *pm = json_array_get (json_object_get (l, "plugins"), 1);
    assert_string_equal (json_string_value (json_object_get (pm, "type")), "portmap");
    assert_true (json_is_true (json_object_get (json_object_get (pm, "capabilities"), "portMappings")));
    json_decref (l);
    /* a bridge name Linux would refuse */
    snprintf (c.bridge, sizeof c.bridge, "%s", "");
    assert_int_equal (cni_write_conflist (&c, err, sizeof err), -1);
    assert_non_null (strstr (err, "bridge"));
}

/* portmap runs only for pods that map a host port; the rest of the chain is kept in order */
static void
test_chain_for (void **state)
{
    (void) state;
    json_t *list = json_pack ("{s:s,s:s,s:[{s:s,s:s},{s:s,s:{s:b}},{s:s}]}", "cniVersion", "1.0.0", "name", "troupe",
                              "plugins", "type", "bridge", "bridge", "tr0", "type", "portmap", "capabilities",
                              "portMappings", 1, "type", "tuning");
    json_t *none = json_array ();
    json_t *one = json_pack ("[{s:i,s:i,s:s}]", "hostPort", 8080, "containerPort", 80, "protocol", "tcp");
    json_t *a = cni_chain_for (list, none), *b = cni_chain_for (list, one), *c = cni_chain_for (list, NULL);
    assert_int_equal (json_array_size (json_object_get (a, "plugins")), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (a, "plugins"), 0), "type")), "bridge");
    assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (a, "plugins"), 1), "type")), "tuning");
    assert_string_equal (json_string_value (json_object_get (a, "name")), "troupe");
    assert_int_equal (json_array_size (json_object_get (b, "plugins")), 3);
    assert_true (json_equal (b, list));
    assert_int_equal (json_array_size (json_object_get (c, "plugins")), 2);
    assert_int_equal (json_array_size (json_object_get (list, "plugins")), 3); /* the conflist itself untouched */
    json_decref (a);
    json_decref (b);
    json_decref (c);
    json_decref (none);
    json_decref (one);
    json_decref (list);
}

int
main (void)
{
    snprintf (dir, sizeof dir, "/tmp/troupe-cniparse-XXXXXX");
    if (!mkdtemp (dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_error), cmocka_unit_test (test_parse_result), cmocka_unit_test (test_id_valid),
        cmocka_unit_test (test_hosts),       cmocka_unit_test (test_resolv),       cmocka_unit_test (test_conflist),
        cmocka_unit_test (test_chain_for),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", dir);
    return rc;
}
