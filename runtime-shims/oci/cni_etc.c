/* cni_etc — the pod's /etc/hosts and /etc/resolv.conf (cni_write_hosts, cni_write_resolv in
 * cni.h), in the kubelet's format (pkg/kubelet/kubelet_pods.go, pkg/kubelet/network/dns).
 *
 * resolv.conf from the node's: its nameserver, search and options lines are copied, except
 * nameservers on loopback (127.0.0.0/8, ::1: a local resolver such as systemd-resolved's
 * 127.0.0.53 is not reachable from the pod's network namespace). If none remains the file has no
 * nameserver line — the resolver's default (127.0.0.1) fails inside the pod and DNS does not
 * work, which is honest: guessing a public resolver would leak queries. With a dns config
 * ({nameservers, searches, options[{name, value}]}, as dnsPolicy None) only that is written.
 * At most 3 nameservers (what glibc reads) and 32 search domains (the kubelet's limit).
 */
#include "runtime-shims/oci/cni.h"
#include "runtime-shims/oci/cni_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NS 3
#define MAX_SEARCH 32

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf_t;

static void
sb_add (sbuf_t *b, const char *s)
{
    size_t n = strlen (s);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc (b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy (b->buf + b->len, s, n + 1);
    b->len += n;
}

static int
sb_write (sbuf_t *b, const char *path, char *err, size_t errlen)
{
    int rc;
    if (b->oom) {
        snprintf (err, errlen, "%s: out of memory", path);
        rc = -1;
    } else {
        rc = cni_write_atomic (path, b->buf ? b->buf : "", b->len, err, errlen);
    }
    free (b->buf);
    return rc;
}

/* A name that can go in hosts/resolv.conf as one field: no whitespace, no '#', not empty. */
static int
field_ok (const char *s)
{
    if (!s || !*s || strlen (s) > 253)
        return 0;
    for (; *s; s++)
        if ((unsigned char) *s <= ' ' || *s == '#' || *s == ';' || (unsigned char) *s == 0x7f)
            return 0;
    return 1;
}

int
cni_write_hosts (const char *path, const char *ip, const char *hostname, const char *host_domain,
                 const json_t *host_aliases, char *err, size_t errlen)
{
    sbuf_t b = { 0 };
    sb_add (&b, "# Kubernetes-managed hosts file.\n"
                "127.0.0.1\tlocalhost\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\n"
                "fe00::0\tip6-mcastprefix\n"
                "fe00::1\tip6-allnodes\n"
                "fe00::2\tip6-allrouters\n");
    if (ip && *ip && hostname && *hostname) {
        if (!field_ok (ip) || !field_ok (hostname) || (host_domain && *host_domain && !field_ok (host_domain))) {
            snprintf (err, errlen, "hosts %s: ip \"%s\", hostname \"%s\" or domain \"%s\" is not a single word", path, ip,
                      hostname, host_domain ? host_domain : "");
            free (b.buf);
            return -1;
        }
        sb_add (&b, ip);
        sb_add (&b, "\t");
        if (host_domain && *host_domain) {   /* hostname.subdomain.ns.svc.domain first, as the kubelet */
            sb_add (&b, hostname);
            sb_add (&b, ".");
            sb_add (&b, host_domain);
            sb_add (&b, "\t");
        }
        sb_add (&b, hostname);
        sb_add (&b, "\n");
    }
    if (json_array_size (host_aliases) > 0) {
        sb_add (&b, "\n# Entries added by HostAliases.\n");
        size_t i;
        json_t *a;
        json_array_foreach (host_aliases, i, a) {
            const char *aip = json_string_value (json_object_get (a, "ip"));
            json_t *names = json_object_get (a, "hostnames");
            if (!field_ok (aip)) {
                snprintf (err, errlen, "hosts %s: hostAliases[%zu].ip must be an address", path, i);
                free (b.buf);
                return -1;
            }
            sb_add (&b, aip);
            size_t k;
            json_t *n;
            json_array_foreach (names, k, n) {
                if (!field_ok (json_string_value (n))) {
                    snprintf (err, errlen, "hosts %s: hostAliases[%zu].hostnames[%zu] is not a host name", path, i, k);
                    free (b.buf);
                    return -1;
                }
                sb_add (&b, "\t");
                sb_add (&b, json_string_value (n));
            }
            sb_add (&b, "\n");
        }
    }
    return sb_write (&b, path, err, errlen);
}

static int
loopback_addr (const char *a)
{
    return !strncmp (a, "127.", 4) || !strcmp (a, "::1") || !strcmp (a, "0:0:0:0:0:0:0:1");
}

/* Copies the node's nameserver lines (not loopback, at most MAX_NS), its last search/domain line
 * (at most MAX_SEARCH domains) and its options from f. */
static void
resolv_from_host (sbuf_t *b, FILE *f)
{
    char line[4096];
    int ns = 0;
    char search[4096] = "", options[4096] = "";
    while (fgets (line, sizeof line, f)) {
        char *save = NULL;
        char *key = strtok_r (line, " \t\r\n", &save);
        if (!key || key[0] == '#' || key[0] == ';')
            continue;
        if (!strcmp (key, "nameserver")) {
            char *a = strtok_r (NULL, " \t\r\n", &save);
            if (a && field_ok (a) && !loopback_addr (a) && ns < MAX_NS) {
                sb_add (b, "nameserver ");
                sb_add (b, a);
                sb_add (b, "\n");
                ns++;
            }
        } else if (!strcmp (key, "search") || !strcmp (key, "domain")) {
            /* the last search/domain line wins, as in glibc */
            search[0] = 0;
            int n = 0;
            for (char *w; (w = strtok_r (NULL, " \t\r\n", &save)) && n < MAX_SEARCH;) {
                if (!field_ok (w) || strlen (search) + strlen (w) + 2 >= sizeof search)
                    continue;
                strcat (search, " ");
                strcat (search, w);
                n++;
            }
        } else if (!strcmp (key, "options")) {
            for (char *w; (w = strtok_r (NULL, " \t\r\n", &save));) {
                if (field_ok (w) && strlen (options) + strlen (w) + 2 < sizeof options) {
                    strcat (options, " ");
                    strcat (options, w);
                }
            }
        }
    }
    if (search[0]) {
        sb_add (b, "search");
        sb_add (b, search);
        sb_add (b, "\n");
    }
    if (options[0]) {
        sb_add (b, "options");
        sb_add (b, options);
        sb_add (b, "\n");
    }
}

static int
resolv_from_config (sbuf_t *b, const json_t *dns, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (dns, "nameservers"), i, v) {
        if (!field_ok (json_string_value (v))) {
            snprintf (err, errlen, "dnsConfig.nameservers[%zu] must be an address", i);
            return -1;
        }
        if (i < MAX_NS) {
            sb_add (b, "nameserver ");
            sb_add (b, json_string_value (v));
            sb_add (b, "\n");
        }
    }
    json_t *s = json_object_get (dns, "searches");
    if (json_array_size (s) > 0) {
        sb_add (b, "search");
        json_array_foreach (s, i, v) {
            if (!field_ok (json_string_value (v))) {
                snprintf (err, errlen, "dnsConfig.searches[%zu] must be a domain", i);
                return -1;
            }
            if (i < MAX_SEARCH) {
                sb_add (b, " ");
                sb_add (b, json_string_value (v));
            }
        }
        sb_add (b, "\n");
    }
    json_t *o = json_object_get (dns, "options");
    if (json_array_size (o) > 0) {
        sb_add (b, "options");
        json_array_foreach (o, i, v) {
            const char *name = json_string_value (json_object_get (v, "name"));
            const char *value = json_string_value (json_object_get (v, "value"));
            if (!field_ok (name) || (value && *value && !field_ok (value))) {
                snprintf (err, errlen, "dnsConfig.options[%zu] needs a name (and an optional value) without spaces", i);
                return -1;
            }
            sb_add (b, " ");
            sb_add (b, name);
            if (value && *value) {
                sb_add (b, ":");
                sb_add (b, value);
            }
        }
        sb_add (b, "\n");
    }
    return 0;
}

int
cni_write_resolv (const char *path, const char *host_resolv, const json_t *dns_config, char *err, size_t errlen)
{
    sbuf_t b = { 0 };
    if (json_is_object (dns_config)) {
        char e[512];
        if (resolv_from_config (&b, dns_config, e, sizeof e)) {
            snprintf (err, errlen, "resolv.conf %s: %s", path, e);
            free (b.buf);
            return -1;
        }
    } else {
        const char *src = host_resolv ? host_resolv : "/etc/resolv.conf";
        FILE *f = fopen (src, "r");
        if (f) {   /* a node without resolv.conf: the pod gets an empty one, as glibc sees the node */
            resolv_from_host (&b, f);
            fclose (f);
        }
    }
    return sb_write (&b, path, err, errlen);
}
