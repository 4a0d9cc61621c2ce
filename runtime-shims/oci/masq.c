/* masq — see masq.h */
#include "runtime-shims/oci/masq.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
masq_table_valid (const char *name)
{
    if (!name || !*name || strlen (name) > 64 || isdigit ((unsigned char) name[0]))
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_')
            return 0;
    return 1;
}

/* "a.b.c.d/n" with a valid address and 0 ≤ n ≤ 32 */
static int
cidr4_valid (const char *s)
{
    if (!s)
        return 0;
    const char *slash = strchr (s, '/');
    if (!slash || slash == s || slash - s > 15 || !slash[1] || strlen (slash + 1) > 2)
        return 0;
    char a[16];
    memcpy (a, s, (size_t) (slash - s));
    a[slash - s] = 0;
    struct in_addr in;
    if (inet_pton (AF_INET, a, &in) != 1)
        return 0;
    for (const char *p = slash + 1; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return 0;
    return atoi (slash + 1) <= 32;
}

char *
masq_ruleset (const char *table, const char *subnet, const char *cluster, char *err, size_t errlen)
{
    if (!cluster || !*cluster)
        cluster = subnet;
    if (!masq_table_valid (table)) {
        snprintf (err, errlen, "masquerade: table name \"%s\" is not valid (letters, digits, '_')", table ? table : "");
        return NULL;
    }
    if (!cidr4_valid (subnet)) {
        snprintf (err, errlen, "masquerade: subnet \"%s\" is not an IPv4 CIDR", subnet ? subnet : "");
        return NULL;
    }
    if (!cidr4_valid (cluster)) {
        snprintf (err, errlen, "masquerade: cluster CIDR \"%s\" is not an IPv4 CIDR", cluster);
        return NULL;
    }
    char *out = NULL;
    if (asprintf (&out,
                  "add table ip %s\n"
                  "add chain ip %s postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
                  "flush chain ip %s postrouting\n"
                  "add rule ip %s postrouting ip saddr %s ip daddr != %s ip daddr != 224.0.0.0/4 masquerade\n",
                  table, table, table, table, subnet, cluster) < 0) {
        snprintf (err, errlen, "masquerade: out of memory");
        return NULL;
    }
    return out;
}

/* Runs buf; 0, or -1 with nft's error text (first line) in err. With out, the output. */
static int
nft_run (const char *buf, char **out, char *err, size_t errlen)
{
    struct nft_ctx *nft = nft_ctx_new (NFT_CTX_DEFAULT);
    if (!nft) {
        snprintf (err, errlen, "nftables: cannot make a context");
        return -1;
    }
    nft_ctx_buffer_output (nft);
    nft_ctx_buffer_error (nft);
    int rc = nft_run_cmd_from_buffer (nft, buf);
    if (rc) {
        const char *e = nft_ctx_get_error_buffer (nft);
        size_t n = e ? strcspn (e, "\n") : 0;
        snprintf (err, errlen, "nftables: %.*s", (int) (n ? n : 7), n ? e : "failed");
        rc = -1;
    } else if (out) {
        const char *o = nft_ctx_get_output_buffer (nft);
        *out = strdup (o ? o : "");
    }
    nft_ctx_free (nft);
    return rc;
}

int
masq_ensure (const char *table, const char *subnet, const char *cluster, char *err, size_t errlen)
{
    char *rules = masq_ruleset (table, subnet, cluster, err, errlen);
    if (!rules)
        return -1;
    int rc = nft_run (rules, NULL, err, errlen);
    free (rules);
    return rc;
}

int
masq_remove (const char *table, char *err, size_t errlen)
{
    if (!masq_table_valid (table)) {
        snprintf (err, errlen, "masquerade: table name \"%s\" is not valid", table ? table : "");
        return -1;
    }
    /* nft 1.0.6 has no `destroy`: adding first makes the delete succeed when it is missing */
    char buf[200];
    snprintf (buf, sizeof buf, "add table ip %s\ndelete table ip %s\n", table, table);
    return nft_run (buf, NULL, err, errlen);
}

char *
masq_list (const char *table)
{
    if (!masq_table_valid (table))
        return NULL;
    char buf[120], err[256], *out = NULL;
    snprintf (buf, sizeof buf, "list table ip %s", table);
    return nft_run (buf, &out, err, sizeof err) ? NULL : out;
}
