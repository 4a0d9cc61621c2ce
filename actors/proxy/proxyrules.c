/* proxyrules — see proxyrules.h */
#include "actors/proxy/proxyrules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

#define T "ip " PR_TABLE

/* ---- the model's containers -------------------------------------------------------------- */

static int
grow (void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc (*arr, c * sz);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static pr_chain_t *
add_chain (pr_model_t *m, const char *name, const char *spec)
{
    if (grow ((void **) &m->chains, &m->cchains, m->nchains, sizeof *m->chains))
        return NULL;
    pr_chain_t *c = &m->chains[m->nchains++];
    memset (c, 0, sizeof *c);
    c->name = strdup (name);
    c->spec = spec ? strdup (spec) : NULL;
    return c;
}

static void
add_rule (pr_chain_t *c, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
add_rule (pr_chain_t *c, const char *fmt, ...)
{
    char *r = NULL;
    va_list ap;
    va_start (ap, fmt);
    int n = vasprintf (&r, fmt, ap);
    va_end (ap);
    char **p = n < 0 ? NULL : realloc (c->rules, (c->nrules + 1) * sizeof *p);
    if (!p) {
        free (n < 0 ? NULL : r);
        return;
    }
    c->rules = p;
    c->rules[c->nrules++] = r;
}

static void
add_elem (pr_model_t *m, const char *map, const char *key, const char *value)
{
    if (grow ((void **) &m->elems, &m->celems, m->nelems, sizeof *m->elems))
        return;
    pr_elem_t *e = &m->elems[m->nelems++];
    e->map = strdup (map);
    e->key = strdup (key);
    e->value = strdup (value);
}

static void
add_set (pr_model_t *m, const char *name, const char *spec)
{
    if (grow ((void **) &m->sets, &m->csets, m->nsets, sizeof *m->sets))
        return;
    pr_set_t *s = &m->sets[m->nsets++];
    s->name = strdup (name);
    s->spec = spec ? strdup (spec) : NULL;
}

static int
cmp_chain (const void *a, const void *b)
{
    return strcmp (((const pr_chain_t *) a)->name, ((const pr_chain_t *) b)->name);
}

static int
cmp_set (const void *a, const void *b)
{
    return strcmp (((const pr_set_t *) a)->name, ((const pr_set_t *) b)->name);
}

static int
cmp_elem (const void *a, const void *b)
{
    const pr_elem_t *x = a, *y = b;
    int c = strcmp (x->map, y->map);
    return c ? c : strcmp (x->key, y->key);
}

/* Sorts and drops duplicates (the first of equal names wins). */
static void
finish (pr_model_t *m)
{
    if (m->nchains)
        qsort (m->chains, m->nchains, sizeof *m->chains, cmp_chain);
    if (m->nelems)
        qsort (m->elems, m->nelems, sizeof *m->elems, cmp_elem);
    if (m->nsets)
        qsort (m->sets, m->nsets, sizeof *m->sets, cmp_set);
    size_t w = 0;
    for (size_t i = 0; i < m->nchains; i++) {
        if (w && !strcmp (m->chains[w - 1].name, m->chains[i].name)) {
            pr_chain_t *c = &m->chains[i];
            for (size_t r = 0; r < c->nrules; r++)
                free (c->rules[r]);
            free (c->rules);
            free (c->name);
            free (c->spec);
            continue;
        }
        m->chains[w++] = m->chains[i];
    }
    m->nchains = w;
    w = 0;
    for (size_t i = 0; i < m->nelems; i++) {
        if (w && !cmp_elem (&m->elems[w - 1], &m->elems[i])) {
            free (m->elems[i].map);
            free (m->elems[i].key);
            free (m->elems[i].value);
            continue;
        }
        m->elems[w++] = m->elems[i];
    }
    m->nelems = w;
    w = 0;
    for (size_t i = 0; i < m->nsets; i++) {
        if (w && !strcmp (m->sets[w - 1].name, m->sets[i].name)) {
            free (m->sets[i].name);
            free (m->sets[i].spec);
            continue;
        }
        m->sets[w++] = m->sets[i];
    }
    m->nsets = w;
}

void
pr_model_free (pr_model_t **mp)
{
    if (!mp || !*mp)
        return;
    pr_model_t *m = *mp;
    for (size_t i = 0; i < m->nchains; i++) {
        for (size_t r = 0; r < m->chains[i].nrules; r++)
            free (m->chains[i].rules[r]);
        free (m->chains[i].rules);
        free (m->chains[i].name);
        free (m->chains[i].spec);
    }
    for (size_t i = 0; i < m->nelems; i++) {
        free (m->elems[i].map);
        free (m->elems[i].key);
        free (m->elems[i].value);
    }
    for (size_t i = 0; i < m->nsets; i++) {
        free (m->sets[i].name);
        free (m->sets[i].spec);
    }
    free (m->chains);
    free (m->elems);
    free (m->sets);
    free (m);
    *mp = NULL;
}

const pr_chain_t *
pr_model_chain (const pr_model_t *m, const char *name)
{
    pr_chain_t k = {.name = (char *) name};
    return m->nchains ? bsearch (&k, m->chains, m->nchains, sizeof k, cmp_chain) : NULL;
}

size_t
pr_model_count_chains (const pr_model_t *m, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nchains; i++)
        n += !strncmp (m->chains[i].name, prefix, strlen (prefix));
    return n;
}

const char *
pr_model_elem (const pr_model_t *m, const char *map, const char *key)
{
    pr_elem_t k = {.map = (char *) map, .key = (char *) key};
    const pr_elem_t *e = m->nelems ? bsearch (&k, m->elems, m->nelems, sizeof k, cmp_elem) : NULL;
    return e ? e->value : NULL;
}

/* ---- names and validation ---------------------------------------------------------------- */

void
pr_hash (const char *key, char out[9])
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    for (int i = 0; i < 8; i++, h >>= 5)
        out[i] = b32[h & 31];
    out[8] = 0;
}

/* A DNS-1123 name or label (metadata.name, namespace, port name): [a-z0-9.-], ≤ 63 */
static int
name_ok (const char *s)
{
    if (!s || !*s || strlen (s) > 63)
        return 0;
    for (const char *p = s; *p; p++)
        if (!islower ((unsigned char) *p) && !isdigit ((unsigned char) *p) && *p != '-' && *p != '.')
            return 0;
    return 1;
}

static int
ip4_ok (const char *s)
{
    struct in_addr a;
    return s && strlen (s) < 16 && inet_pton (AF_INET, s, &a) == 1;
}

static int
cidr4_ok (const char *s)
{
    const char *sl = s ? strchr (s, '/') : NULL;
    if (!sl || sl - s > 15 || !sl[1] || strlen (sl + 1) > 2)
        return 0;
    char a[16];
    memcpy (a, s, (size_t) (sl - s));
    a[sl - s] = 0;
    for (const char *p = sl + 1; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return 0;
    return ip4_ok (a) && atoi (sl + 1) <= 32;
}

/* "TCP" → "tcp"; NULL if not a protocol a Service may name */
static const char *
proto_of (const json_t *v)
{
    const char *p = json_is_string (v) ? json_string_value (v) : "TCP";
    return !strcmp (p, "TCP") ? "tcp" : !strcmp (p, "UDP") ? "udp" : !strcmp (p, "SCTP") ? "sctp" : NULL;
}

/* ---- endpoints of a Service port ----------------------------------------------------------- */

typedef struct {
    char ip[16];
    int port;
} ep_t;

static int
cmp_ep (const void *a, const void *b)
{
    const ep_t *x = a, *y = b;
    int c = strcmp (x->ip, y->ip);
    return c ? c : x->port - y->port;
}

static void
ep_add (ep_t **arr, size_t *n, const char *ip, int port)
{
    for (size_t i = 0; i < *n; i++)
        if ((*arr)[i].port == port && !strcmp ((*arr)[i].ip, ip))
            return;
    ep_t *p = realloc (*arr, (*n + 1) * sizeof *p);
    if (!p)
        return;
    *arr = p;
    snprintf (p[*n].ip, sizeof p[*n].ip, "%s", ip);
    p[*n].port = port;
    (*n)++;
}

/* The endpoints of ns/svc's port (pname, proto) in slices: ready ones, else serving+terminating. */
/* slices: the EndpointSlices of this Service only (by_service below) */
static ep_t *
endpoints_of (const json_t *slices, const char *ns, const char *svc, const char *pname, const char *proto,
              size_t *n_out)
{
    ep_t *ready = NULL, *term = NULL;
    size_t nready = 0, nterm = 0;
    size_t i;
    const json_t *sl;
    json_array_foreach (slices, i, sl) {
        const char *sns = tv_str (sl, "metadata.namespace");
        const char *owner = json_string_value (json_object_get (tv_get (sl, "metadata.labels"), "kubernetes.io/service-name"));
        const char *at = tv_str (sl, "addressType");
        if (!sns || !owner || strcmp (sns, ns) || strcmp (owner, svc) || !at || strcmp (at, "IPv4"))
            continue;
        int port = -1;
        size_t j;
        const json_t *sp;
        json_array_foreach (json_object_get (sl, "ports"), j, sp) {
            const char *n = tv_str (sp, "name");
            const char *pr = proto_of (json_object_get (sp, "protocol"));
            if (strcmp (n ? n : "", pname) || !pr || strcmp (pr, proto))
                continue;
            json_int_t p = tv_int (sp, "port", -1);
            if (p >= 1 && p <= 65535)
                port = (int) p;
        }
        if (port < 0)
            continue;
        const json_t *ep;
        json_array_foreach (json_object_get (sl, "endpoints"), j, ep) {
            const char *ip = json_string_value (json_array_get (json_object_get (ep, "addresses"), 0));
            if (!ip4_ok (ip))
                continue;
            /* discovery.k8s.io/v1: ready nil = ready; serving nil = ready; terminating nil = false */
            bool r = tv_bool (ep, "conditions.ready", true);
            bool s = tv_bool (ep, "conditions.serving", r);
            bool t = tv_bool (ep, "conditions.terminating", false);
            if (r)
                ep_add (&ready, &nready, ip, port);
            else if (s && t)
                ep_add (&term, &nterm, ip, port);
        }
    }
    if (nready) {
        free (term);
        qsort (ready, nready, sizeof *ready, cmp_ep);
        *n_out = nready;
        return ready;
    }
    free (ready);
    if (nterm)
        qsort (term, nterm, sizeof *term, cmp_ep);
    *n_out = nterm;
    return term;
}

/* ---- the model ----------------------------------------------------------------------------- */

static void
base (pr_model_t *m)
{
    pr_chain_t *c;
    if ((c = add_chain (m, "nat-prerouting", "{ type nat hook prerouting priority -100; policy accept; }")))
        add_rule (c, "jump services");
    if ((c = add_chain (m, "nat-output", "{ type nat hook output priority -100; policy accept; }")))
        add_rule (c, "jump services");
    if ((c = add_chain (m, "nat-postrouting", "{ type nat hook postrouting priority 100; policy accept; }")))
        add_rule (c, "jump masquerading");
    if ((c = add_chain (m, "filter-input", "{ type filter hook input priority -110; policy accept; }"))) {
        add_rule (c, "ct state new jump nodeport-endpoints-check");
        add_rule (c, "ct state new jump service-endpoints-check");
    }
    if ((c = add_chain (m, "filter-forward", "{ type filter hook forward priority -110; policy accept; }")))
        add_rule (c, "ct state new jump service-endpoints-check");
    if ((c = add_chain (m, "filter-output", "{ type filter hook output priority -110; policy accept; }"))) {
        add_rule (c, "ct state new jump service-endpoints-check");
        add_rule (c, "ct state new jump nodeport-endpoints-check");
    }
    if ((c = add_chain (m, "services", NULL))) {
        add_rule (c, "ip daddr . meta l4proto . th dport vmap @service-ips");
        add_rule (c, "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports");
    }
    if ((c = add_chain (m, "service-endpoints-check", NULL)))
        add_rule (c, "ip daddr . meta l4proto . th dport vmap @no-endpoint-services");
    if ((c = add_chain (m, "nodeport-endpoints-check", NULL)))
        add_rule (c, "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports");
    if ((c = add_chain (m, "mark-for-masquerade", NULL)))
        add_rule (c, "meta mark set meta mark | 0x00004000");
    if ((c = add_chain (m, "masquerading", NULL))) {
        add_rule (c, "meta mark & 0x00004000 == 0x00000000 return");
        add_rule (c, "meta mark set meta mark ^ 0x00004000");
        add_rule (c, "masquerade fully-random");
    }
    if ((c = add_chain (m, "reject-chain", NULL))) {
        add_rule (c, "meta l4proto tcp reject with tcp reset");
        add_rule (c, "reject");
    }
}

static void
service_port (pr_model_t *m, const json_t *slices, const char *cidr, const char *ns, const char *name,
              const char *cip, const json_t *sp, int affinity_s, int *skipped)
{
    const char *proto = proto_of (json_object_get (sp, "protocol"));
    const char *pname = tv_str (sp, "name");
    json_int_t port = tv_int (sp, "port", -1), np = tv_int (sp, "nodePort", 0);
    if (!pname)
        pname = "";
    if (!proto || port < 1 || port > 65535 || np < 0 || np > 65535 || (*pname && !name_ok (pname))) {
        (*skipped)++;
        return;
    }
    char key[220], h[9], sc[260], xc[260], k[64];
    snprintf (key, sizeof key, "%s/%s/%s/%s", ns, name, proto, *pname ? pname : "");
    if (!*pname)
        snprintf (key + strlen (key), sizeof key - strlen (key), "%d", (int) port);
    pr_hash (key, h);
    snprintf (sc, sizeof sc, "service-%s-%s", h, key);
    snprintf (xc, sizeof xc, "external-%s-%s", h, key);
    size_t n = 0;
    ep_t *eps = endpoints_of (slices, ns, name, pname, proto, &n);
    if (!n) { /* kube-proxy: no endpoint → reject (icmp port-unreachable; tcp reset here) */
        if (cip) {
            snprintf (k, sizeof k, "%s . %s . %d", cip, proto, (int) port);
            add_elem (m, "no-endpoint-services", k, "goto reject-chain");
        }
        if (np) {
            snprintf (k, sizeof k, "%s . %d", proto, (int) np);
            add_elem (m, "no-endpoint-nodeports", k, "goto reject-chain");
        }
        free (eps);
        return;
    }
    /* the chain array grows as endpoint chains are added: the service chain is kept by index */
    if (!add_chain (m, sc, NULL)) {
        free (eps);
        return;
    }
    size_t si = m->nchains - 1;
    pr_chain_t *svc = &m->chains[si];
    if (cip && cidr)
        add_rule (svc, "ip daddr %s %s dport %d ip saddr != %s jump mark-for-masquerade", cip, proto, (int) port, cidr);
    char (*epc)[300] = calloc (n, sizeof *epc);
    char (*aff)[300] = calloc (n, sizeof *aff);
    if (!epc || !aff) {
        free (epc);
        free (aff);
        free (eps);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ek[260], eh[9];
        snprintf (ek, sizeof ek, "%s__%s/%d", key, eps[i].ip, eps[i].port);
        pr_hash (ek, eh);
        snprintf (epc[i], sizeof epc[i], "endpoint-%s-%s", eh, ek);
        pr_chain_t *e = add_chain (m, epc[i], NULL);
        if (!e)
            continue;
        add_rule (e, "ip saddr %s jump mark-for-masquerade", eps[i].ip); /* hairpin */
        if (affinity_s > 0) {
            /* the timeout is in the set's name: a new timeout is a new set, never a changed one */
            char ak[300], ah[9], spec[120];
            snprintf (ak, sizeof ak, "%s/%d", ek, affinity_s);
            pr_hash (ak, ah);
            snprintf (aff[i], sizeof aff[i], "affinity-%s-%s", ah, ek);
            snprintf (spec, sizeof spec, "{ type ipv4_addr; flags dynamic,timeout; timeout %ds; }", affinity_s);
            add_set (m, aff[i], spec);
            add_rule (e, "update @%s { ip saddr }", aff[i]);
        }
        add_rule (e, "meta l4proto %s dnat to %s:%d", proto, eps[i].ip, eps[i].port);
    }
    svc = &m->chains[si];
    if (affinity_s > 0)
        for (size_t i = 0; i < n; i++)
            add_rule (svc, "ip saddr @%s goto %s", aff[i], epc[i]);
    size_t len = 64 + n * 320, o = 0;
    char *vm = malloc (len);
    if (vm) {
        o += (size_t) snprintf (vm + o, len - o, "numgen random mod %zu vmap { ", n);
        for (size_t i = 0; i < n; i++)
            o += (size_t) snprintf (vm + o, len - o, "%s%zu : goto %s", i ? ", " : "", i, epc[i]);
        snprintf (vm + o, len - o, " }");
        add_rule (svc, "%s", vm);
        free (vm);
    }
    if (cip) {
        snprintf (k, sizeof k, "%s . %s . %d", cip, proto, (int) port);
        char v[280];
        snprintf (v, sizeof v, "goto %s", sc);
        add_elem (m, "service-ips", k, v);
    }
    if (np) {
        pr_chain_t *x = add_chain (m, xc, NULL);
        if (x) {
            add_rule (x, "jump mark-for-masquerade");
            add_rule (x, "goto %s", sc);
        }
        snprintf (k, sizeof k, "%s . %d", proto, (int) np);
        char v[280];
        snprintf (v, sizeof v, "goto %s", xc);
        add_elem (m, "service-nodeports", k, v);
    }
    free (epc);
    free (aff);
    free (eps);
}

pr_model_t *
pr_model_build (const json_t *services, const json_t *slices, const char *cluster_cidr, int *skipped)
{
    pr_model_t *m = calloc (1, sizeof *m);
    int skip = 0;
    if (!m)
        return NULL;
    if (cluster_cidr && !*cluster_cidr)
        cluster_cidr = NULL;
    if (cluster_cidr && !cidr4_ok (cluster_cidr)) {
        cluster_cidr = NULL;
        skip++;
    }
    base (m);
    /* the slices by "namespace/service-name", once: a Service's lookup does not scan them all */
    json_t *by_service = json_object ();
    size_t i;
    const json_t *s;
    json_array_foreach (slices, i, s) {
        const char *sns = tv_str (s, "metadata.namespace");
        const char *owner = json_string_value (json_object_get (tv_get (s, "metadata.labels"), "kubernetes.io/service-name"));
        if (!sns || !owner)
            continue;
        char k[300];
        snprintf (k, sizeof k, "%s/%s", sns, owner);
        json_t *arr = json_object_get (by_service, k);
        if (!arr)
            json_object_set_new (by_service, k, arr = json_array ());
        json_array_append (arr, (json_t *) s);
    }
    json_array_foreach (services, i, s) {
        const char *ns = tv_str (s, "metadata.namespace"), *name = tv_str (s, "metadata.name");
        const char *type = tv_str (s, "spec.type");
        const char *cip = tv_str (s, "spec.clusterIP");
        if (!type)
            type = "ClusterIP";
        if (!strcmp (type, "ExternalName"))
            continue;
        if (cip && (!strcmp (cip, "None") || !*cip))
            cip = NULL; /* headless: DNS only */
        if (!name_ok (ns) || !name_ok (name) || (cip && !ip4_ok (cip))) {
            skip++;
            continue;
        }
        int nodeports = !strcmp (type, "NodePort") || !strcmp (type, "LoadBalancer");
        if (!cip && !nodeports)
            continue;
        int aff = 0;
        const char *sa = tv_str (s, "spec.sessionAffinity");
        if (sa && !strcmp (sa, "ClientIP")) {
            json_int_t t = tv_int (s, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 10800);
            aff = t >= 1 && t <= 86400 ? (int) t : 10800;
        }
        char sk[300];
        snprintf (sk, sizeof sk, "%s/%s", ns, name);
        const json_t *mine = json_object_get (by_service, sk);
        size_t j;
        const json_t *sp;
        json_array_foreach (tv_get (s, "spec.ports"), j, sp) {
            json_t *copy = NULL;
            if (!nodeports && json_object_get (sp, "nodePort")) { /* nodePort only on NodePort/LoadBalancer */
                copy = json_deep_copy (sp);
                json_object_del (copy, "nodePort");
            }
            service_port (m, mine, cluster_cidr, ns, name, cip, copy ? copy : sp, aff, &skip);
            json_decref (copy);
        }
    }
    json_decref (by_service);
    finish (m);
    if (skipped)
        *skipped = skip;
    return m;
}

/* ---- read back ----------------------------------------------------------------------------- */

static char *
json_scalar_text (const json_t *v, char *buf, size_t len)
{
    if (json_is_string (v))
        snprintf (buf, len, "%s", json_string_value (v));
    else if (json_is_integer (v))
        snprintf (buf, len, "%lld", (long long) json_integer_value (v));
    else
        return NULL;
    return buf;
}

pr_model_t *
pr_model_from_nft_json (const char *text)
{
    json_t *root = json_loads (text ? text : "", 0, NULL);
    const json_t *arr = json_object_get (root, "nftables");
    if (!json_is_array (arr)) {
        json_decref (root);
        return NULL;
    }
    pr_model_t *m = calloc (1, sizeof *m);
    if (!m) {
        json_decref (root);
        return NULL;
    }
    m->readback = 1;
    size_t i;
    const json_t *o;
    json_array_foreach (arr, i, o) {
        const json_t *c = json_object_get (o, "chain");
        const json_t *s = json_object_get (o, "set");
        const json_t *mp = json_object_get (o, "map");
        const char *tb = tv_str (c ? c : s ? s : mp, "table");
        if (!tb || strcmp (tb, PR_TABLE))
            continue;
        if (c && tv_str (c, "name")) {
            pr_chain_t *ch = add_chain (m, tv_str (c, "name"), NULL);
            if (ch)
                ch->unknown = 1;
        } else if (s && tv_str (s, "name")) {
            add_set (m, tv_str (s, "name"), NULL);
        } else if (mp && tv_str (mp, "name")) {
            size_t j;
            const json_t *el;
            json_array_foreach (json_object_get (mp, "elem"), j, el) {
                const json_t *k = json_array_get (el, 0), *v = json_array_get (el, 1);
                char key[128] = "", part[64];
                const json_t *parts = json_object_get (k, "concat");
                if (parts) {
                    size_t q;
                    const json_t *pv;
                    json_array_foreach (parts, q, pv) {
                        if (!json_scalar_text (pv, part, sizeof part))
                            break;
                        snprintf (key + strlen (key), sizeof key - strlen (key), "%s%s", q ? " . " : "", part);
                    }
                } else if (!json_scalar_text (k, key, sizeof key))
                    continue;
                const char *verb = json_object_get (v, "goto") ? "goto" : json_object_get (v, "jump") ? "jump" : NULL;
                const char *tgt = verb ? tv_str (json_object_get (v, verb), "target") : NULL;
                char val[300];
                snprintf (val, sizeof val, "%s %s", verb ? verb : "?", tgt ? tgt : "?");
                add_elem (m, tv_str (mp, "name"), key, val);
            }
        }
    }
    json_decref (root);
    finish (m);
    return m;
}

/* ---- the transaction ----------------------------------------------------------------------- */

static const char *const MAPS[][2] = {
    {"no-endpoint-nodeports", "{ type inet_proto . inet_service : verdict; }"},
    {"no-endpoint-services", "{ type ipv4_addr . inet_proto . inet_service : verdict; }"},
    {"service-ips", "{ type ipv4_addr . inet_proto . inet_service : verdict; }"},
    {"service-nodeports", "{ type inet_proto . inet_service : verdict; }"},
};

static int
is_map (const char *name)
{
    for (size_t i = 0; i < sizeof MAPS / sizeof *MAPS; i++)
        if (!strcmp (MAPS[i][0], name))
            return 1;
    return 0;
}

static int
chain_same (const pr_chain_t *a, const pr_chain_t *b)
{
    if (a->unknown || b->unknown || a->nrules != b->nrules)
        return 0;
    for (size_t i = 0; i < a->nrules; i++)
        if (strcmp (a->rules[i], b->rules[i]))
            return 0;
    return 1;
}

static void
emit_rules (FILE *f, const pr_chain_t *c)
{
    for (size_t r = 0; r < c->nrules; r++)
        fprintf (f, "add rule " T " %s %s\n", c->name, c->rules[r]);
}

char *
pr_diff (const pr_model_t *old, const pr_model_t *nw)
{
    static const pr_model_t empty;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    if (!f)
        return NULL;
    int fresh = !old || old->readback;
    if (!old)
        old = &empty;
    if (fresh) {
        fprintf (f, "add table " T "\n");
        for (size_t i = 0; i < sizeof MAPS / sizeof *MAPS; i++)
            fprintf (f, "add map " T " %s %s\n", MAPS[i][0], MAPS[i][1]);
    }
    /* 1. new sets */
    for (size_t i = 0, j = 0; i < nw->nsets; i++) {
        while (j < old->nsets && strcmp (old->sets[j].name, nw->sets[i].name) < 0)
            j++;
        if (j >= old->nsets || strcmp (old->sets[j].name, nw->sets[i].name))
            fprintf (f, "add set " T " %s %s\n", nw->sets[i].name, nw->sets[i].spec ? nw->sets[i].spec : "");
    }
    /* 2. chains: new ones added (all empty first: rules may jump to each other), changed ones flushed */
    unsigned char *state = calloc (nw->nchains + 1, 1); /* 0 same, 1 new, 2 changed */
    if (!state) {
        fclose (f);
        free (buf);
        return NULL;
    }
    for (size_t i = 0, j = 0; i < nw->nchains; i++) {
        const pr_chain_t *c = &nw->chains[i];
        while (j < old->nchains && strcmp (old->chains[j].name, c->name) < 0)
            j++;
        int exists = j < old->nchains && !strcmp (old->chains[j].name, c->name);
        state[i] = !exists ? 1 : chain_same (&old->chains[j], c) ? 0 : 2;
        if (state[i] == 1 || (fresh && c->spec))
            fprintf (f, "add chain " T " %s%s%s\n", c->name, c->spec ? " " : "", c->spec ? c->spec : "");
    }
    for (size_t i = 0; i < nw->nchains; i++)
        if (state[i] == 2)
            fprintf (f, "flush chain " T " %s\n", nw->chains[i].name);
    for (size_t i = 0; i < nw->nchains; i++)
        if (state[i])
            emit_rules (f, &nw->chains[i]);
    free (state);
    /* 3. map elements: the removed and changed ones deleted, then the new and changed ones added */
    for (size_t i = 0, j = 0; i < old->nelems; i++) {
        const pr_elem_t *e = &old->elems[i];
        while (j < nw->nelems && cmp_elem (&nw->elems[j], e) < 0)
            j++;
        int keep = j < nw->nelems && !cmp_elem (&nw->elems[j], e) && !strcmp (nw->elems[j].value, e->value);
        if (!keep && is_map (e->map))
            fprintf (f, "delete element " T " %s { %s }\n", e->map, e->key);
    }
    for (size_t i = 0, j = 0; i < nw->nelems; i++) {
        const pr_elem_t *e = &nw->elems[i];
        while (j < old->nelems && cmp_elem (&old->elems[j], e) < 0)
            j++;
        int keep = j < old->nelems && !cmp_elem (&old->elems[j], e) && !strcmp (old->elems[j].value, e->value);
        if (!keep)
            fprintf (f, "add element " T " %s { %s : %s }\n", e->map, e->key, e->value);
    }
    /* 4. removed chains: all flushed (they may jump to each other), then deleted */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0, j = 0; i < old->nchains; i++) {
            const char *n = old->chains[i].name;
            while (j < nw->nchains && strcmp (nw->chains[j].name, n) < 0)
                j++;
            if (j < nw->nchains && !strcmp (nw->chains[j].name, n))
                continue;
            fprintf (f, "%s chain " T " %s\n", pass ? "delete" : "flush", n);
        }
    /* 5. removed sets (their rules are gone now) */
    for (size_t i = 0, j = 0; i < old->nsets; i++) {
        const char *n = old->sets[i].name;
        while (j < nw->nsets && strcmp (nw->sets[j].name, n) < 0)
            j++;
        if ((j >= nw->nsets || strcmp (nw->sets[j].name, n)) && !is_map (n))
            fprintf (f, "delete set " T " %s\n", n);
    }
    if (fclose (f)) {
        free (buf);
        return NULL;
    }
    return buf;
}

char *
pr_delete_script (void)
{
    return strdup ("add table " T "\ndelete table " T "\n");
}
