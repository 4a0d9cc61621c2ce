/* cni — see cni.h. The chain (ADD in order, DEL in reverse, CHECK in order, prevResult) and
 * the result cache; one plugin call is cni_exec.c, the namespaces netns.c, hosts and
 * resolv.conf cni_etc.c.
 *
 * The cache (state_dir/results/<id>.json, as libcni keeps /var/lib/cni/results) holds the
 * conflist the sandbox was ADDed with, its port mappings and the final result, so DEL works
 * after a crash or a change of the conflist, and so cni_gc finds the sandboxes nobody knows any
 * more. It is written before the first plugin runs (without a result) and completed after the
 * last: a crash in the middle of an ADD still leaves a record that gc DELetes.
 */
#include "runtime-shims/oci/cni.h"
#include "runtime-shims/oci/cni_exec.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSFS_MAGIC_ 0x6e736673

int
cni_write_atomic (const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[1100];
    if ((size_t) snprintf (tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf (err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf (err, errlen, "%s: %s", tmp, strerror (errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write (fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf (err, errlen, "%s: write: %s", tmp, strerror (errno));
            close (fd);
            unlink (tmp);
            return -1;
        }
        off += (size_t) w;
    }
    if (fsync (fd) || close (fd)) {
        snprintf (err, errlen, "%s: %s", tmp, strerror (errno));
        unlink (tmp);
        return -1;
    }
    if (rename (tmp, path)) {
        snprintf (err, errlen, "%s: rename: %s", path, strerror (errno));
        unlink (tmp);
        return -1;
    }
    return 0;
}

static int
mkdirs (const char *dir)
{
    char p[1024];
    if (snprintf (p, sizeof p, "%s", dir) >= (int) sizeof p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir (p, 0755) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return (mkdir (p, 0755) && errno != EEXIST) ? -1 : 0;
}

/* ---- the conflist ---- */

int
cni_write_conflist (const cni_config_t *c, char *err, size_t errlen)
{
    if (!c->bridge[0] || strlen (c->bridge) > 15 || !c->subnet[0]) {
        snprintf (err, errlen, "cni config: bridge (1-15 characters) and subnet are required");
        return -1;
    }
    char ipam_dir[600];
    snprintf (ipam_dir, sizeof ipam_dir, "%s/ipam", c->state_dir);
    /* cniVersion 1.0.0: Debian 12's plugins (1.1.1) support it (`bridge --version`) */
    json_t *conf = json_pack (
        "{s:s, s:s, s:[{s:s, s:s, s:b, s:b, s:b, s:b, s:{s:s, s:[[{s:s}]], s:[{s:s}], s:s}}, {s:s, s:{s:b}}]}",
        "cniVersion", "1.0.0", "name", "troupe", "plugins",
        /* forceAddress: a new pod CIDR (UpdateRuntimeConfig) re-addresses the bridge */
        "type", "bridge", "bridge", c->bridge, "isGateway", 1, "forceAddress", 1, "ipMasq", c->ip_masq ? 1 : 0, "hairpinMode", 1,
        "ipam", "type", "host-local", "ranges", "subnet", c->subnet, "routes", "dst", "0.0.0.0/0", "dataDir", ipam_dir,
        "type", "portmap", "capabilities", "portMappings", 1);
    if (!conf) {
        snprintf (err, errlen, "cni config: cannot build the conflist");
        return -1;
    }
    char *s = json_dumps (conf, JSON_INDENT (2));
    json_decref (conf);
    char dir[1024];
    snprintf (dir, sizeof dir, "%s", c->conf_path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        mkdirs (dir);
    }
    size_t n = strlen (s);
    char *t = malloc (n + 2);
    int rc = -1;
    if (t) {
        memcpy (t, s, n);
        t[n] = '\n';
        rc = cni_write_atomic (c->conf_path, t, n + 1, err, errlen);
        free (t);
    } else {
        snprintf (err, errlen, "cni config: out of memory");
    }
    free (s);
    return rc;
}

static json_t *
conflist_load (const cni_config_t *c, char *err, size_t errlen)
{
    json_error_t je;
    json_t *l = json_load_file (c->conf_path, JSON_REJECT_DUPLICATES, &je);
    if (!l) {
        snprintf (err, errlen, "conflist %s: %s (line %d)", c->conf_path, je.text, je.line);
        return NULL;
    }
    json_t *plugins = json_object_get (l, "plugins");
    const char *bad = NULL;
    if (!json_is_string (json_object_get (l, "name")))
        bad = "\"name\" must be a string";
    else if (!json_is_string (json_object_get (l, "cniVersion")))
        bad = "\"cniVersion\" must be a string";
    else if (!json_is_array (plugins) || json_array_size (plugins) == 0)
        bad = "\"plugins\" must be a non-empty array";
    size_t i;
    json_t *p;
    json_array_foreach (plugins, i, p) {
        if (!bad && !json_is_string (json_object_get (p, "type")))
            bad = "every plugin needs a \"type\"";
    }
    if (bad) {
        snprintf (err, errlen, "conflist %s: %s", c->conf_path, bad);
        json_decref (l);
        return NULL;
    }
    return l;
}

/* 1 if version "a.b.c" is at least 0.4.0 (CHECK and prevResult on DEL exist from there). */
static int
version_ge_040 (const char *v)
{
    int a = 0, b = 0;
    if (!v || sscanf (v, "%d.%d", &a, &b) < 1)
        return 0;
    return a > 0 || b >= 4;
}

/* The config one plugin of list gets: its own object, the list's name and cniVersion, the
 * previous result, and the runtime config for the capabilities it declares. */
static json_t *
plugin_conf (const json_t *list, const json_t *plugin, const json_t *prev, const json_t *port_mappings)
{
    json_t *pc = json_deep_copy (plugin);
    json_object_set (pc, "name", json_object_get (list, "name"));
    json_object_set (pc, "cniVersion", json_object_get (list, "cniVersion"));
    if (prev)
        json_object_set_new (pc, "prevResult", json_deep_copy (prev));
    json_t *caps = json_object_get (plugin, "capabilities");
    if (json_is_true (json_object_get (caps, "portMappings")) && json_array_size (port_mappings) > 0)
        json_object_set_new (pc, "runtimeConfig", json_pack ("{s:O}", "portMappings", port_mappings));
    return pc;
}

/* Kubernetes' ports ({hostPort, containerPort, protocol "TCP", hostIP}) as portmap wants them:
 * only those with a hostPort, protocol in lower case, no empty hostIP. Never NULL. */
static json_t *
port_mappings_norm (const json_t *in)
{
    json_t *out = json_array ();
    size_t i;
    json_t *m;
    json_array_foreach (in, i, m) {
        json_int_t hp = json_integer_value (json_object_get (m, "hostPort"));
        json_int_t cp = json_integer_value (json_object_get (m, "containerPort"));
        if (hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535)
            continue;
        const char *proto = json_string_value (json_object_get (m, "protocol"));
        char p[8] = "tcp";
        if (proto && strlen (proto) < sizeof p)
            for (size_t k = 0; k <= strlen (proto); k++)
                p[k] = (char) ((proto[k] >= 'A' && proto[k] <= 'Z') ? proto[k] - 'A' + 'a' : proto[k]);
        json_t *e = json_pack ("{s:I, s:I, s:s}", "hostPort", hp, "containerPort", cp, "protocol", p);
        const char *hip = json_string_value (json_object_get (m, "hostIP"));
        if (hip && *hip)
            json_object_set_new (e, "hostIP", json_string (hip));
        json_array_append_new (out, e);
    }
    return out;
}

/* ---- the cache ---- */

static void
cache_path (const cni_config_t *c, const char *id, char *p, size_t n)
{
    snprintf (p, n, "%s/results/%s.json", c->state_dir, id);
}

static int
cache_save (const cni_config_t *c, const char *id, const char *netns, const json_t *list, const json_t *pm,
            const json_t *result, char *err, size_t errlen)
{
    char dir[700], p[1024];
    snprintf (dir, sizeof dir, "%s/results", c->state_dir);
    if (mkdirs (dir)) {
        snprintf (err, errlen, "cni cache %s: %s", dir, strerror (errno));
        return -1;
    }
    cache_path (c, id, p, sizeof p);
    json_t *rec = json_pack ("{s:s, s:s, s:s, s:s, s:O, s:O}", "kind", "troupeCniCacheV1", "containerId", id,
                             "netns", netns ? netns : "", "ifName", "eth0", "config", list, "portMappings", pm);
    if (result)
        json_object_set (rec, "result", (json_t *) result);
    char *s = json_dumps (rec, JSON_COMPACT);
    json_decref (rec);
    int rc = cni_write_atomic (p, s, strlen (s), err, errlen);
    free (s);
    return rc;
}

static json_t *
cache_load (const cni_config_t *c, const char *id)
{
    char p[1024];
    cache_path (c, id, p, sizeof p);
    json_t *rec = json_load_file (p, 0, NULL);
    if (rec && !json_is_object (json_object_get (rec, "config"))) {
        json_decref (rec);
        return NULL;
    }
    return rec;
}

static void
cache_remove (const cni_config_t *c, const char *id)
{
    char p[1024];
    cache_path (c, id, p, sizeof p);
    unlink (p);
}

/* ---- ADD, DEL, CHECK ---- */

static int
loopback_call (const cni_config_t *c, const char *cmd, const char *id, const char *netns, const char *version,
               char *err, size_t errlen)
{
    json_t *lo = json_pack ("{s:s, s:s, s:s}", "cniVersion", version, "name", "cni-loopback", "type", "loopback");
    int rc = cni_exec_plugin (c, cmd, id, netns, "lo", lo, NULL, err, errlen);
    json_decref (lo);
    return rc;
}

/* 1 if path is a mounted network namespace (a leftover empty file is not). */
static int
netns_alive (const char *path)
{
    struct statfs sf;
    return path && *path && statfs (path, &sf) == 0 && (unsigned long) sf.f_type == NSFS_MAGIC_;
}

/* Runs argv (no shell), output discarded; its exit status, or -1. */
static int
run_quiet (char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen (&fa, 2, "/dev/null", O_WRONLY, 0);
    char *envp[] = { "PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", NULL };
    pid_t pid;
    int rc = posix_spawnp (&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy (&fa);
    if (rc)
        return -1;
    int st;
    while (waitpid (pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

/* The bridge plugin (1.1.1) removes its ipMasq rules only when it finds the pod's addresses on
 * the interface inside the namespace: DEL without the namespace (a node rebooted, /run lost)
 * would leak them. So then they are removed here, as the plugin names them
 * (pkg/utils FormatChainName, FormatComment): the chain "CNI-" + the first 24 hex digits of
 * sha512(network name + id), jumped to from POSTROUTING by "-s <ip>/32 -m comment --comment
 * 'name: "<net>" id: "<id>"'". Missing rules are fine. */
static void
masq_teardown (const char *net, const char *id, const json_t *list, const json_t *result)
{
    int masq = 0;
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get (list, "plugins"), i, p) {
        const char *type = json_string_value (json_object_get (p, "type"));
        masq |= type && !strcmp (type, "bridge") && json_is_true (json_object_get (p, "ipMasq"));
    }
    if (!masq || !net)
        return;
    unsigned char h[crypto_hash_sha512_BYTES];
    size_t nl = strlen (net), il = strlen (id);
    unsigned char *in = malloc (nl + il + 1);
    if (!in)
        return;
    memcpy (in, net, nl);
    memcpy (in + nl, id, il);
    crypto_hash_sha512 (h, in, nl + il);
    free (in);
    char chain[32] = "CNI-";
    for (int k = 0; k < 12; k++)
        snprintf (chain + 4 + 2 * k, 3, "%02x", h[k]);
    char comment[400];
    snprintf (comment, sizeof comment, "name: \"%s\" id: \"%s\"", net, id);
    json_t *e;
    json_array_foreach (json_object_get (result, "ips"), i, e) {
        const char *a = json_string_value (json_object_get (e, "address"));
        if (!a)
            continue;
        char src[80];
        size_t n = strcspn (a, "/");
        if (n >= 64)
            continue;
        int v6 = memchr (a, ':', n) != NULL;
        snprintf (src, sizeof src, "%.*s/%d", (int) n, a, v6 ? 128 : 32);
        char *del[] = { v6 ? "ip6tables" : "iptables", "-w", "5", "-t", "nat", "-D", "POSTROUTING", "-s", src,
                        "-m", "comment", "--comment", comment, "-j", chain, NULL };
        run_quiet (del);
        char *flush[] = { del[0], "-w", "5", "-t", "nat", "-F", chain, NULL };
        char *rm[] = { del[0], "-w", "5", "-t", "nat", "-X", chain, NULL };
        run_quiet (flush);
        run_quiet (rm);
    }
}

/* DEL plugins [0, upto) of list in reverse; every one is tried, the first error is returned. */
static int
del_chain (const cni_config_t *c, const char *id, const char *netns, const json_t *list, size_t upto,
           const json_t *result, const json_t *pm, char *err, size_t errlen)
{
    const char *netns_arg = netns_alive (netns) ? netns : "";   /* the spec lets DEL go without it */
    const json_t *prev = version_ge_040 (json_string_value (json_object_get (list, "cniVersion"))) ? result : NULL;
    json_t *plugins = json_object_get (list, "plugins");
    int rc = 0;
    for (size_t i = upto; i-- > 0;) {
        json_t *pc = plugin_conf (list, json_array_get (plugins, i), prev, pm);
        char e[1024];
        if (cni_exec_plugin (c, "DEL", id, netns_arg, "eth0", pc, NULL, e, sizeof e) && rc == 0) {
            snprintf (err, errlen, "%s", e);
            rc = -1;
        }
        json_decref (pc);
    }
    return rc;
}

json_t *
cni_chain_for (const json_t *list, const json_t *port_mappings)
{
    if (json_array_size (port_mappings))
        return json_deep_copy (list);
    json_t *out = json_deep_copy (list), *plugins = json_array ();
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get (list, "plugins"), i, p) {
        const char *type = json_string_value (json_object_get (p, "type"));
        if (type && !strcmp (type, "portmap") && json_is_true (json_object_get (json_object_get (p, "capabilities"), "portMappings")))
            continue;
        json_array_append (plugins, p);
    }
    json_object_set_new (out, "plugins", plugins);
    return out;
}

int
cni_add (const cni_config_t *c, const char *id, const char *netns_path, const json_t *port_mappings, json_t **result,
         char *ip, size_t iplen, char *err, size_t errlen)
{
    if (result)
        *result = NULL;
    if (iplen)
        ip[0] = 0;
    if (!cni_id_valid (id)) {
        snprintf (err, errlen, "cni add: id \"%s\" is not a valid name", id ? id : "");
        return -1;
    }
    if (!netns_alive (netns_path)) {
        snprintf (err, errlen, "cni add %s: %s is not a network namespace", id, netns_path ? netns_path : "(null)");
        return -1;
    }
    json_t *full = conflist_load (c, err, errlen);
    if (!full)
        return -1;
    json_t *pm = port_mappings_norm (port_mappings);
    /* the chain this pod needs (the cache keeps it, so DEL and CHECK run the same) */
    json_t *list = cni_chain_for (full, pm);
    json_decref (full);
    const char *version = json_string_value (json_object_get (list, "cniVersion"));
    if (cache_save (c, id, netns_path, list, pm, NULL, err, errlen)) {
        json_decref (pm);
        json_decref (list);
        return -1;
    }
    char e[1024];
    if (loopback_call (c, "ADD", id, netns_path, version, e, sizeof e)) {
        snprintf (err, errlen, "cni add %s: lo: %s", id, e);
        cache_remove (c, id);
        json_decref (pm);
        json_decref (list);
        return -1;
    }
    json_t *plugins = json_object_get (list, "plugins");
    json_t *prev = NULL;
    size_t i;
    for (i = 0; i < json_array_size (plugins); i++) {
        json_t *pc = plugin_conf (list, json_array_get (plugins, i), prev, pm);
        json_t *r = NULL;
        int rc = cni_exec_plugin (c, "ADD", id, netns_path, "eth0", pc, &r, e, sizeof e);
        json_decref (pc);
        if (rc == 0 && !r) {
            snprintf (e, sizeof e, "plugin %s: ADD printed no result",
                      json_string_value (json_object_get (json_array_get (plugins, i), "type")));
            rc = -1;
        }
        if (rc) {
            snprintf (err, errlen, "cni add %s: %s", id, e);
            /* undo: DEL every plugin up to the failed one included (it may have done part of its
             * work; DEL of what does not exist is not an error for a plugin) */
            char e2[512];
            if (del_chain (c, id, netns_path, list, i + 1, prev, pm, e2, sizeof e2) == 0)
                cache_remove (c, id);
            json_decref (prev);
            json_decref (pm);
            json_decref (list);
            return -1;
        }
        json_decref (prev);
        prev = r;
    }
    int rc = cache_save (c, id, netns_path, list, pm, prev, err, errlen);
    if (rc) {
        char e2[512];
        del_chain (c, id, netns_path, list, json_array_size (plugins), prev, pm, e2, sizeof e2);
        json_decref (prev);
    } else {
        cni_result_ipv4 (prev, ip, iplen);
        if (result)
            *result = prev;
        else
            json_decref (prev);
    }
    json_decref (pm);
    json_decref (list);
    return rc;
}

int
cni_del (const cni_config_t *c, const char *id, const char *netns_path, char *err, size_t errlen)
{
    if (!cni_id_valid (id)) {
        snprintf (err, errlen, "cni del: id \"%s\" is not a valid name", id ? id : "");
        return -1;
    }
    json_t *rec = cache_load (c, id);
    json_t *list = rec ? json_incref (json_object_get (rec, "config")) : conflist_load (c, err, errlen);
    if (!list) {
        json_decref (rec);
        return -1;
    }
    if ((!netns_path || !*netns_path) && rec)
        netns_path = json_string_value (json_object_get (rec, "netns"));
    json_t *pm = json_object_get (rec, "portMappings");
    json_t *result = json_object_get (rec, "result");
    char e[1024];
    int rc = del_chain (c, id, netns_path, list, json_array_size (json_object_get (list, "plugins")), result, pm, e,
                        sizeof e);
    if (rc)
        snprintf (err, errlen, "cni del %s: %s", id, e);
    if (!netns_alive (netns_path) && result)
        masq_teardown (json_string_value (json_object_get (list, "name")), id, list, result);
    if (netns_alive (netns_path)) {
        const char *version = json_string_value (json_object_get (list, "cniVersion"));
        loopback_call (c, "DEL", id, netns_path, version, e, sizeof e);   /* lo down: nothing to leak */
    }
    if (rc == 0)
        cache_remove (c, id);   /* kept on failure: a later DEL or gc tries again */
    json_decref (list);
    json_decref (rec);
    return rc;
}

/* Debian 12's portmap (1.1.1) CHECKs the ip6tables DNAT chain of a pod with host ports even
 * when the pod has no IPv6 address, and fails ("could not check ipv6 dnat: chain ... not
 * found"): containernetworking/plugins#819, fixed upstream in 1.2.0. That one error, for a
 * result without IPv6, is not the pod's fault and is not reported. */
static int
portmap_v6_check_bug (const json_t *pc, const json_t *result, const char *e)
{
    const char *type = json_string_value (json_object_get (pc, "type"));
    if (!type || strcmp (type, "portmap") || !strstr (e, "could not check ipv6 dnat"))
        return 0;
    size_t i;
    json_t *ipe;
    json_array_foreach (json_object_get (result, "ips"), i, ipe) {
        const char *a = json_string_value (json_object_get (ipe, "address"));
        if (a && strchr (a, ':'))
            return 0;
    }
    return 1;
}

int
cni_check (const cni_config_t *c, const char *id, const char *netns_path, char *err, size_t errlen)
{
    if (!cni_id_valid (id)) {
        snprintf (err, errlen, "cni check: id \"%s\" is not a valid name", id ? id : "");
        return -1;
    }
    json_t *rec = cache_load (c, id);
    json_t *result = json_object_get (rec, "result");
    if (!result) {
        snprintf (err, errlen, "cni check %s: no cached ADD result in %s/results", id, c->state_dir);
        json_decref (rec);
        return -1;
    }
    if (!netns_alive (netns_path)) {
        snprintf (err, errlen, "cni check %s: %s is not a network namespace", id, netns_path ? netns_path : "(null)");
        json_decref (rec);
        return -1;
    }
    json_t *list = json_object_get (rec, "config");
    json_t *pm = json_object_get (rec, "portMappings");
    if (!version_ge_040 (json_string_value (json_object_get (list, "cniVersion")))) {
        json_decref (rec);
        return 0;   /* CHECK does not exist before 0.4.0 */
    }
    json_t *plugins = json_object_get (list, "plugins");
    int rc = 0;
    for (size_t i = 0; i < json_array_size (plugins) && rc == 0; i++) {
        json_t *pc = plugin_conf (list, json_array_get (plugins, i), result, pm);
        char e[1024];
        rc = cni_exec_plugin (c, "CHECK", id, netns_path, "eth0", pc, NULL, e, sizeof e);
        if (rc && portmap_v6_check_bug (pc, result, e))
            rc = 0;
        if (rc)
            snprintf (err, errlen, "cni check %s: %s", id, e);
        json_decref (pc);
    }
    json_decref (rec);
    return rc;
}

/* ---- garbage collection ---- */

/* Adds to ids the valid names in dir (suffix stripped when given; names without it skipped). */
static void
collect_names (json_t *ids, const char *dir, const char *suffix)
{
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir (d))) {
        char name[256];
        snprintf (name, sizeof name, "%s", de->d_name);
        if (suffix) {
            size_t n = strlen (name), s = strlen (suffix);
            if (n <= s || strcmp (name + n - s, suffix))
                continue;
            name[n - s] = 0;
        } else if (strstr (name, ".tmp")) {
            continue;
        }
        if (cni_id_valid (name))
            json_object_set_new (ids, name, json_true ());
    }
    closedir (d);
}

/* host-local's leases: <dataDir>/<network>/<ip> holding "<id>\r\n<ifname>" (or "<id>" in older
 * releases). An id that holds a lease but nothing else is an orphan too (a crash between the
 * IPAM and the cache, or a cache lost). */
static void
collect_leases (json_t *ids, const char *ipam_dir)
{
    DIR *top = opendir (ipam_dir);
    if (!top)
        return;
    struct dirent *nd;
    while ((nd = readdir (top))) {
        if (nd->d_name[0] == '.')
            continue;
        char net[1400];
        snprintf (net, sizeof net, "%s/%s", ipam_dir, nd->d_name);
        DIR *d = opendir (net);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir (d))) {
            unsigned char a[16];
            if (inet_pton (AF_INET, de->d_name, a) != 1 && inet_pton (AF_INET6, de->d_name, a) != 1)
                continue;
            char p[1700], buf[256];
            snprintf (p, sizeof p, "%s/%s", net, de->d_name);
            FILE *f = fopen (p, "r");
            if (!f)
                continue;
            size_t n = fread (buf, 1, sizeof buf - 1, f);
            fclose (f);
            buf[n] = 0;
            buf[strcspn (buf, "\r\n")] = 0;
            if (cni_id_valid (buf))
                json_object_set_new (ids, buf, json_true ());
        }
        closedir (d);
    }
    closedir (top);
}

int
cni_gc (const cni_config_t *c, const json_t *live)
{
    json_t *ids = json_object ();
    char dir[1024];
    collect_names (ids, c->netns_dir, NULL);
    snprintf (dir, sizeof dir, "%s/results", c->state_dir);
    collect_names (ids, dir, ".json");
    snprintf (dir, sizeof dir, "%s/ipam", c->state_dir);
    collect_leases (ids, dir);
    int removed = 0;
    const char *id;
    json_t *v;
    json_object_foreach (ids, id, v) {
        if (json_object_get (live, id))
            continue;
        char p[1024], err[1024];
        snprintf (p, sizeof p, "%s/%s", c->netns_dir, id);
        int rc = cni_del (c, id, p, err, sizeof err);
        if (cni_netns_remove (c, id))
            rc = -1;
        if (rc == 0)
            removed++;
    }
    json_decref (ids);
    return removed;
}
