/* dnsanswer — see dnsanswer.h. The view keeps copies of the objects in json maps; the reverse
 * (PTR) index is rebuilt on the first PTR query after a change. */
#include "actors/dns/dnsanswer.h"
#include "core/fnv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/value.h"

#define MAX_LABELS 8

/* The answer cache (see dnsanswer.h): open addressing over CACHE_SLOTS, cleared whole when it
 * holds CACHE_MAX entries, when the view changes (its serial moves) and entries older than
 * DNS_TTL seconds are not served. */
#define CACHE_SLOTS 16384
#define CACHE_QMAX 4096            /* longer queries are answered without the cache */
#define CACHE_KEYMAX (255 + 4 + 8) /* qname, qtype+qclass, transport/EDNS0 */

typedef struct {
    uint32_t hash;
    uint16_t keylen;
    int64_t born_ms;
    size_t resplen;
    uint8_t *resp;
    uint8_t key[CACHE_KEYMAX];
} centry_t;

typedef struct {
    centry_t **slots;   /* CACHE_SLOTS; NULL until the first insert */
    size_t n, bytes;
    size_t max_n, max_bytes;   /* 0: the cache is off */
    int64_t max_age_ms;
    uint32_t serial;    /* the view's serial the entries were built from */
    dns_cache_stats_t st;
} cache_t;

struct dns_view {
    char domain[256];
    json_t *svcs;    /* "ns/name" → Service */
    json_t *slices;  /* "ns/svc" → {slice name → EndpointSlice} */
    json_t *pods;    /* "ns/name" → Pod */
    json_t *ptr;     /* ip → fqdn; NULL when stale */
    uint32_t serial; /* the SOA serial: bumped on every change */
    int not_ready;
    cache_t cache;
};

/* ---- the view ------------------------------------------------------------------------------- */

/* A DNS-1123 label as Kubernetes names are: anything else is never published (a name from an
 * object goes into a record: it must not smuggle dots or spaces). */
static int
label_ok (const char *s)
{
    if (!s || !*s || strlen (s) > 63)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower ((unsigned char) *p) || isdigit ((unsigned char) *p) || *p == '-'))
            return 0;
    return 1;
}

static void
cache_clear (cache_t *c)
{
    if (c->slots)
        for (size_t i = 0; i < CACHE_SLOTS; i++)
            if (c->slots[i]) {
                free (c->slots[i]->resp);
                free (c->slots[i]);
                c->slots[i] = NULL;
            }
    if (c->n)
        c->st.clears++;
    c->n = c->bytes = 0;
}

dns_view_t *
dns_view_new (const char *domain)
{
    if (!domain || !*domain || strlen (domain) > 200)
        return NULL;
    dns_view_t *self = calloc (1, sizeof *self);
    size_t i;
    for (i = 0; domain[i]; i++)
        self->domain[i] = (char) tolower ((unsigned char) domain[i]);
    if (i && self->domain[i - 1] == '.')
        self->domain[i - 1] = 0;
    self->svcs = json_object ();
    self->slices = json_object ();
    self->pods = json_object ();
    self->serial = 1;
    dns_view_set_cache (self, DNS_CACHE_ENTRIES, DNS_CACHE_BYTES, DNS_TTL * 1000);
    return self;
}

void
dns_view_destroy (dns_view_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dns_view_t *self = *self_p;
    json_decref (self->svcs);
    json_decref (self->slices);
    json_decref (self->pods);
    json_decref (self->ptr);
    cache_clear (&self->cache);
    free (self->cache.slots);
    free (self);
    *self_p = NULL;
}

void
dns_view_set_ready (dns_view_t *self, int ready)
{
    if (self->not_ready != !ready)
        self->serial++;   /* answers built while (not) ready are not served after */
    self->not_ready = !ready;
}

void
dns_view_set_cache (dns_view_t *self, size_t max_entries, size_t max_bytes, int max_age_ms)
{
    cache_clear (&self->cache);
    self->cache.max_age_ms = max_age_ms;
    self->cache.max_n = max_entries < CACHE_SLOTS / 2 ? max_entries : CACHE_SLOTS / 2;
    self->cache.max_bytes = max_bytes;
}

dns_cache_stats_t
dns_view_cache_stats (const dns_view_t *self)
{
    dns_cache_stats_t st = self->cache.st;
    st.entries = self->cache.n;
    st.bytes = self->cache.bytes;
    return st;
}

const char *
dns_view_domain (const dns_view_t *self)
{
    return self->domain;
}

static int
obj_key (const json_t *obj, char *key, size_t keylen)
{
    const char *ns = tv_str (obj, "metadata.namespace"), *name = tv_str (obj, "metadata.name");
    if (!label_ok (ns) || !name || !*name)
        return -1;
    snprintf (key, keylen, "%s/%s", ns, name);
    return 0;
}

static void
changed (dns_view_t *self)
{
    json_decref (self->ptr);
    self->ptr = NULL;
    self->serial++;
}

/* The pod view's fields, as "metadata.name" etc. (dns_pod_view builds them, view_update compares
 * them: json_pack and a new tree for each of the ~3 events of every pod cost a fifth of the DNS
 * thread, and most events change none of these). */
static const char *const POD_VIEW[][2] = {{"metadata", "name"},    {"metadata", "namespace"}, {"spec", "hostname"},
                                          {"spec", "subdomain"},   {"spec", "hostNetwork"},   {"status", "podIP"}};
#define POD_VIEW_N (sizeof POD_VIEW / sizeof POD_VIEW[0])

static json_t *
pod_field (const json_t *obj, size_t i)
{
    return json_object_get (json_object_get (obj, POD_VIEW[i][0]), POD_VIEW[i][1]);
}

json_t *
dns_pod_view (const json_t *obj)
{
    json_t *v = json_object ();
    for (size_t i = 0; i < POD_VIEW_N; i++) {
        json_t *f = pod_field (obj, i);
        if (i < 2 && !json_is_string (f))
            f = NULL; /* name and namespace: strings, or null */
        json_t *m = json_object_get (v, POD_VIEW[i][0]);
        if (!m)
            json_object_set_new (v, POD_VIEW[i][0], m = json_object ());
        json_object_set_new (m, POD_VIEW[i][1], f ? json_incref (f) : json_null ());
    }
    return v;
}

/* Whether view (dns_pod_view's, or NULL) is what obj's view would be. */
static int
pod_view_same (const json_t *view, const json_t *obj)
{
    if (!view)
        return 0;
    for (size_t i = 0; i < POD_VIEW_N; i++) {
        json_t *a = pod_field (view, i), *b = pod_field (obj, i);
        if (i < 2 && !json_is_string (b))
            b = NULL;
        if (b ? !json_equal (a, b) : !json_is_null (a))
            return 0;
    }
    return 1;
}

static void
view_update (dns_view_t *self, const char *kind, const json_t *obj, int put)
{
    char key[600];
    if (!kind || obj_key (obj, key, sizeof key))
        return;
    if (!strcmp (kind, "Pod")) {
        /* only what answers read (hostname.subdomain, pod A and PTR records): most pod updates
         * (binding, conditions) change none of it, and leave the view and its PTR map as they are */
        if (!put) {
            if (json_object_del (self->pods, key))
                return;
        } else {
            if (pod_view_same (json_object_get (self->pods, key), obj))
                return;
            json_object_set_new (self->pods, key, dns_pod_view (obj));
        }
    } else if (!strcmp (kind, "Service")) {
        if (put)
            json_object_set_new (self->svcs, key, json_deep_copy (obj));
        else
            json_object_del (self->svcs, key);
    } else if (!strcmp (kind, "EndpointSlice")) {
        /* the label's key has dots: read it directly, not through a tv_get path */
        const char *svc = json_string_value (json_object_get (tv_get (obj, "metadata.labels"), "kubernetes.io/service-name"));
        if (!label_ok (svc))
            return;
        char skey[600];
        snprintf (skey, sizeof skey, "%s/%s", tv_str (obj, "metadata.namespace"), svc);
        const char *name = tv_str (obj, "metadata.name");
        json_t *m = json_object_get (self->slices, skey);
        if (put) {
            if (!m) {
                m = json_object ();
                json_object_set_new (self->slices, skey, m);
            }
            json_object_set_new (m, name, json_deep_copy (obj));
        } else if (m) {
            json_object_del (m, name);
            if (!json_object_size (m))
                json_object_del (self->slices, skey);
        }
    } else
        return;
    changed (self);
}

void
dns_view_put (dns_view_t *self, const char *kind, const json_t *obj)
{
    view_update (self, kind, obj, 1);
}

void
dns_view_remove (dns_view_t *self, const char *kind, const json_t *obj)
{
    view_update (self, kind, obj, 0);
}

/* ---- lookups over the view ------------------------------------------------------------------ */

static int
headless (const json_t *svc)
{
    const char *ip = tv_str (svc, "spec.clusterIP");
    return ip && !strcmp (ip, "None");
}

static int
is_v6 (const char *ip)
{
    struct in6_addr a6;
    return ip && inet_pton (AF_INET6, ip, &a6) == 1;
}

static int
is_v4 (const char *ip)
{
    struct in_addr a4;
    return ip && inet_pton (AF_INET, ip, &a4) == 1;
}

/* "10-1-2-3" for 10.1.2.3, "fd00--1" for fd00::1 (CoreDNS's endpoint name without a hostname) */
static void
dashed (const char *ip, char *out, size_t outlen)
{
    snprintf (out, outlen, "%s", ip);
    for (char *p = out; *p; p++)
        if (*p == '.' || *p == ':')
            *p = '-';
}

/* An endpoint's name under its Service: its hostname, else its dashed first address. */
static void
ep_name (const json_t *ep, const char *addr, char *out, size_t outlen)
{
    const char *h = tv_str (ep, "hostname");
    if (label_ok (h))
        snprintf (out, outlen, "%s", h);
    else
        dashed (addr, out, outlen);
}

typedef void (ep_fn) (void *arg, const json_t *slice, const json_t *ep, const char *addr);

/* Calls fn for each address of each ready endpoint of svc (ready absent = ready; not-ready
 * endpoints too when the Service publishes them). */
static void
foreach_endpoint (dns_view_t *self, const json_t *svc, ep_fn *fn, void *arg)
{
    char skey[600];
    snprintf (skey, sizeof skey, "%s/%s", tv_str (svc, "metadata.namespace"), tv_str (svc, "metadata.name"));
    int all = tv_bool (svc, "spec.publishNotReadyAddresses", false);
    const char *k;
    json_t *slice;
    json_object_foreach (json_object_get (self->slices, skey), k, slice) {
        size_t i, j;
        json_t *ep, *a;
        json_array_foreach (json_object_get (slice, "endpoints"), i, ep) {
            if (!all && !tv_bool (ep, "conditions.ready", true))
                continue;
            json_array_foreach (json_object_get (ep, "addresses"), j, a) {
                if (is_v4 (json_string_value (a)) || is_v6 (json_string_value (a)))
                    fn (arg, slice, ep, json_string_value (a));
            }
        }
    }
}

/* ---- building the response ------------------------------------------------------------------ */

typedef struct {
    dns_view_t *view;
    ldns_pkt *resp;
    ldns_rdf *qname;      /* as asked (its case kept) */
    ldns_rr_type qtype;
    int found;            /* the name exists (NODATA rather than NXDOMAIN) */
} ans_t;

/* An RR of owner (text) / type with rdata fields given as text; NULL if a field does not parse. */
static ldns_rr *
rr_make (const ldns_rdf *owner_rdf, const char *owner, ldns_rr_type type, int n, const ldns_rdf_type *ft,
         const char **fv)
{
    ldns_rdf *o = owner_rdf ? ldns_rdf_clone (owner_rdf) : ldns_dname_new_frm_str (owner);
    if (!o)
        return NULL;
    ldns_rr *rr = ldns_rr_new ();
    ldns_rr_set_owner (rr, o);
    ldns_rr_set_type (rr, type);
    ldns_rr_set_class (rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl (rr, DNS_TTL);
    for (int i = 0; i < n; i++) {
        ldns_rdf *f = ldns_rdf_new_frm_str (ft[i], fv[i]);
        if (!f) {
            ldns_rr_free (rr);
            return NULL;
        }
        ldns_rr_push_rdf (rr, f);
    }
    return rr;
}

static void
push (ans_t *a, ldns_pkt_section sec, ldns_rr *rr)
{
    if (rr && !ldns_pkt_safe_push_rr (a->resp, sec, rr))
        ldns_rr_free (rr);   /* a duplicate */
}

/* An address record for the owner (NULL: the question's name) when ip's family is the one asked. */
static void
add_addr (ans_t *a, ldns_pkt_section sec, const char *owner, const char *ip, ldns_rr_type want)
{
    ldns_rr_type t = is_v4 (ip) ? LDNS_RR_TYPE_A : is_v6 (ip) ? LDNS_RR_TYPE_AAAA : 0;
    if (!t)
        return;
    a->found = 1;
    if (t != want)
        return;
    ldns_rdf_type ft = t == LDNS_RR_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA;
    push (a, sec, rr_make (owner ? NULL : a->qname, owner, t, 1, &ft, &ip));
}

static void
add_srv (ans_t *a, int weight, int port, const char *target)
{
    char w[16], p[16];
    snprintf (w, sizeof w, "%d", weight);
    snprintf (p, sizeof p, "%d", port);
    const ldns_rdf_type ft[] = { LDNS_RDF_TYPE_INT16, LDNS_RDF_TYPE_INT16, LDNS_RDF_TYPE_INT16, LDNS_RDF_TYPE_DNAME };
    const char *fv[] = { "0", w, p, target };
    a->found = 1;
    if (a->qtype == LDNS_RR_TYPE_SRV)
        push (a, LDNS_SECTION_ANSWER, rr_make (a->qname, NULL, LDNS_RR_TYPE_SRV, 4, ft, fv));
}

static void
add_name (ans_t *a, ldns_rr_type t, const char *target)
{
    const ldns_rdf_type ft = LDNS_RDF_TYPE_DNAME;
    a->found = 1;
    push (a, LDNS_SECTION_ANSWER, rr_make (a->qname, NULL, t, 1, &ft, &target));
}

static void
add_soa (ans_t *a, ldns_pkt_section sec)
{
    char mname[300], rname[300], serial[16];
    snprintf (mname, sizeof mname, "ns.dns.%s.", a->view->domain);
    snprintf (rname, sizeof rname, "hostmaster.%s.", a->view->domain);
    snprintf (serial, sizeof serial, "%u", a->view->serial);
    const ldns_rdf_type ft[] = { LDNS_RDF_TYPE_DNAME, LDNS_RDF_TYPE_DNAME, LDNS_RDF_TYPE_INT32, LDNS_RDF_TYPE_PERIOD,
                                 LDNS_RDF_TYPE_PERIOD, LDNS_RDF_TYPE_PERIOD, LDNS_RDF_TYPE_PERIOD };
    const char *fv[] = { mname, rname, serial, "7200", "1800", "86400", "5" };
    char owner[300];
    snprintf (owner, sizeof owner, "%s.", a->view->domain);
    push (a, sec, rr_make (NULL, owner, LDNS_RR_TYPE_SOA, 7, ft, fv));
}

/* ---- the names ------------------------------------------------------------------------------ */

typedef struct {
    ans_t *a;
    const char *svc_fqdn;
    const char *want_name;   /* only this endpoint name (NULL: all) */
    const char *port_name, *proto;
    int nsrv;                /* first pass: count; second: emit */
    int emit;
} ep_walk_t;

static void
ep_addr (void *arg, const json_t *slice, const json_t *ep, const char *addr)
{
    (void) slice;
    ep_walk_t *w = arg;
    char n[300];
    ep_name (ep, addr, n, sizeof n);
    if (w->want_name && strcmp (n, w->want_name))
        return;
    add_addr (w->a, LDNS_SECTION_ANSWER, NULL, addr, w->a->qtype);
}

static int
port_match (const json_t *p, const char *port_name, const char *proto)
{
    const char *pn = json_string_value (json_object_get (p, "name"));
    const char *pp = json_string_value (json_object_get (p, "protocol"));
    if (!pp)
        pp = "TCP";
    if (port_name && (!pn || strcasecmp (pn, port_name)))
        return 0;
    return !proto || !strcasecmp (pp, proto);
}

static void
ep_srv (void *arg, const json_t *slice, const json_t *ep, const char *addr)
{
    ep_walk_t *w = arg;
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get (slice, "ports"), i, p) {
        if (!port_match (p, w->port_name, w->proto))
            continue;
        if (!w->emit) {
            w->nsrv++;
            continue;
        }
        char n[300], target[600];
        ep_name (ep, addr, n, sizeof n);
        snprintf (target, sizeof target, "%s.%s", n, w->svc_fqdn);
        add_srv (w->a, w->nsrv ? 100 / w->nsrv : 100, (int) tv_int (p, "port", 0), target);
        if (w->a->qtype == LDNS_RR_TYPE_SRV)
            add_addr (w->a, LDNS_SECTION_ADDITIONAL, target, addr, is_v4 (addr) ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
    }
}

/* SRV of svc's ports that match (port_name NULL: every port). */
static void
answer_srv (ans_t *a, const json_t *svc, const char *fqdn, const char *port_name, const char *proto)
{
    if (headless (svc)) {
        ep_walk_t w = { .a = a, .svc_fqdn = fqdn, .port_name = port_name, .proto = proto };
        foreach_endpoint (a->view, svc, ep_srv, &w);
        w.emit = 1;
        foreach_endpoint (a->view, svc, ep_srv, &w);
        return;
    }
    size_t i, n = 0;
    json_t *p;
    json_array_foreach (tv_get (svc, "spec.ports"), i, p) n += port_match (p, port_name, proto);
    json_array_foreach (tv_get (svc, "spec.ports"), i, p) {
        if (!port_match (p, port_name, proto))
            continue;
        add_srv (a, (int) (100 / n), (int) tv_int (p, "port", 0), fqdn);
        if (a->qtype == LDNS_RR_TYPE_SRV) {
            json_t *ips = tv_get (svc, "spec.clusterIPs");
            size_t k;
            json_t *ip;
            if (json_array_size (ips))
                json_array_foreach (ips, k, ip) add_addr (a, LDNS_SECTION_ADDITIONAL, fqdn, json_string_value (ip),
                                                          is_v4 (json_string_value (ip)) ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
            else
                add_addr (a, LDNS_SECTION_ADDITIONAL, fqdn, tv_str (svc, "spec.clusterIP"), LDNS_RR_TYPE_A);
        }
    }
}

/* <svc>.<ns>.svc.<domain> */
static void
answer_service (ans_t *a, const json_t *svc, const char *fqdn)
{
    const char *type = tv_str (svc, "spec.type");
    if (type && !strcmp (type, "ExternalName")) {
        const char *ext = tv_str (svc, "spec.externalName");
        if (!ext || !*ext)
            return;
        char target[300];
        snprintf (target, sizeof target, "%s%s", ext, ext[strlen (ext) - 1] == '.' ? "" : ".");
        a->found = 1;
        add_name (a, LDNS_RR_TYPE_CNAME, target);
        return;
    }
    /* A headless Service exists in DNS through its ready endpoints only: none is NXDOMAIN (the
     * DNS specification as amended by kubernetes/dns#245, what kube-dns and CoreDNS do); a
     * ClusterIP Service's name exists even without an address of the type asked (NODATA). */
    if (a->qtype == LDNS_RR_TYPE_SRV) {
        answer_srv (a, svc, fqdn, NULL, NULL);
        if (!headless (svc))
            a->found = 1;
        return;
    }
    if (headless (svc)) {
        ep_walk_t w = { .a = a };
        foreach_endpoint (a->view, svc, ep_addr, &w);
        return;
    }
    a->found = 1;
    json_t *ips = tv_get (svc, "spec.clusterIPs");
    size_t k;
    json_t *ip;
    if (json_array_size (ips))
        json_array_foreach (ips, k, ip) add_addr (a, LDNS_SECTION_ANSWER, NULL, json_string_value (ip), a->qtype);
    else
        add_addr (a, LDNS_SECTION_ANSWER, NULL, tv_str (svc, "spec.clusterIP"), a->qtype);
}

typedef struct {
    ans_t *a;
    const char *ns, *host, *sub;
} pod_walk_t;

/* lab: labels under svc.<domain>, lab[0] leftmost; n of them. */
static void
answer_svc_zone (ans_t *a, char **lab, int n)
{
    char key[600], fqdn[700];
    if (n == 0) {
        a->found = 1;
        return;
    }
    const char *ns = lab[n - 1];
    if (n == 1) {   /* <ns>.svc: exists when a Service lives there */
        size_t plen = strlen (ns);
        const char *k;
        json_t *v;
        json_object_foreach (a->view->svcs, k, v) if (!strncmp (k, ns, plen) && k[plen] == '/') a->found = 1;
        return;
    }
    snprintf (key, sizeof key, "%s/%s", ns, lab[n - 2]);
    const json_t *svc = json_object_get (a->view->svcs, key);
    if (!svc)
        return;
    snprintf (fqdn, sizeof fqdn, "%s.%s.svc.%s.", lab[n - 2], ns, a->view->domain);
    if (n == 2) {
        answer_service (a, svc, fqdn);
        return;
    }
    if (n == 3 && lab[0][0] != '_') {   /* an endpoint, or a pod's hostname.subdomain */
        if (!headless (svc))
            return;
        ep_walk_t w = { .a = a, .want_name = lab[0] };
        foreach_endpoint (a->view, svc, ep_addr, &w);
        if (a->found)
            return;
        const char *k;
        json_t *pod;
        json_object_foreach (a->view->pods, k, pod) {
            const char *h = tv_str (pod, "spec.hostname"), *s = tv_str (pod, "spec.subdomain");
            if (h && s && !strcmp (h, lab[0]) && !strcmp (s, lab[1]) && !strcmp (tv_str (pod, "metadata.namespace"), ns))
                add_addr (a, LDNS_SECTION_ANSWER, NULL, tv_str (pod, "status.podIP"), a->qtype);
        }
        return;
    }
    if (n == 4 && lab[0][0] == '_' && lab[1][0] == '_') {
        answer_srv (a, svc, fqdn, lab[0] + 1, lab[1] + 1);
        return;
    }
    if (n == 3 && lab[0][0] == '_') {   /* _<proto>.<svc>: an empty non-terminal when a port has it */
        size_t i;
        json_t *p;
        json_array_foreach (tv_get (svc, "spec.ports"), i, p) if (port_match (p, NULL, lab[0] + 1)) a->found = 1;
    }
}

static void
answer_pod_zone (ans_t *a, char **lab, int n)
{
    if (n <= 1) {
        a->found = 1;   /* pod.<domain> and <ns>.pod.<domain> */
        return;
    }
    if (n != 2)
        return;
    char ip[64];
    snprintf (ip, sizeof ip, "%s", lab[0]);
    for (char *p = ip; *p; p++)
        if (*p == '-')
            *p = '.';
    if (is_v4 (ip))
        add_addr (a, LDNS_SECTION_ANSWER, NULL, ip, a->qtype);
}

/* ---- PTR ------------------------------------------------------------------------------------ */

typedef struct {
    json_t *ptr;
    const char *fqdn;
} ptr_walk_t;

static void
ptr_ep (void *arg, const json_t *slice, const json_t *ep, const char *addr)
{
    (void) slice;
    ptr_walk_t *w = arg;
    char n[300], name[700];
    ep_name (ep, addr, n, sizeof n);
    snprintf (name, sizeof name, "%s.%s", n, w->fqdn);
    if (!json_object_get (w->ptr, addr))
        json_object_set_new (w->ptr, addr, json_string (name));
}

static void
ptr_build (dns_view_t *v)
{
    v->ptr = json_object ();
    const char *k;
    json_t *o;
    char fqdn[700];
    /* Service addresses win over endpoints, endpoints over pods */
    json_object_foreach (v->svcs, k, o) {
        snprintf (fqdn, sizeof fqdn, "%s.%s.svc.%s.", tv_str (o, "metadata.name"), tv_str (o, "metadata.namespace"), v->domain);
        if (!label_ok (tv_str (o, "metadata.name")))
            continue;
        json_t *ips = tv_get (o, "spec.clusterIPs");
        size_t i;
        json_t *ip;
        json_array_foreach (ips, i, ip) if (is_v4 (json_string_value (ip)) || is_v6 (json_string_value (ip)))
            json_object_set_new (v->ptr, json_string_value (ip), json_string (fqdn));
        const char *one = tv_str (o, "spec.clusterIP");
        if (is_v4 (one) || is_v6 (one))
            json_object_set_new (v->ptr, one, json_string (fqdn));
    }
    json_object_foreach (v->svcs, k, o) {
        if (!label_ok (tv_str (o, "metadata.name")))
            continue;
        snprintf (fqdn, sizeof fqdn, "%s.%s.svc.%s.", tv_str (o, "metadata.name"), tv_str (o, "metadata.namespace"), v->domain);
        ptr_walk_t w = { v->ptr, fqdn };
        foreach_endpoint (v, o, ptr_ep, &w);
    }
    json_object_foreach (v->pods, k, o) {
        const char *ip = tv_str (o, "status.podIP");
        if (!is_v4 (ip) || json_object_get (v->ptr, ip) || tv_bool (o, "spec.hostNetwork", false))
            continue;
        char d[64];
        dashed (ip, d, sizeof d);
        snprintf (fqdn, sizeof fqdn, "%s.%s.pod.%s.", d, tv_str (o, "metadata.namespace"), v->domain);
        json_object_set_new (v->ptr, ip, json_string (fqdn));
    }
}

/* lab: the labels before in-addr.arpa. 1: answered, 0: not ours. */
static int
answer_ptr (ans_t *a, char **lab, int n)
{
    if (n != 4)
        return 0;
    char ip[64];
    snprintf (ip, sizeof ip, "%s.%s.%s.%s", lab[3], lab[2], lab[1], lab[0]);
    if (!is_v4 (ip))
        return 0;
    if (!a->view->ptr)
        ptr_build (a->view);
    const char *name = json_string_value (json_object_get (a->view->ptr, ip));
    if (!name)
        return 0;
    add_name (a, LDNS_RR_TYPE_PTR, name);
    return 1;
}

/* ---- the entry point ------------------------------------------------------------------------ */

static uint8_t *
to_wire (ldns_pkt *p, size_t *len)
{
    uint8_t *buf = NULL;
    if (ldns_pkt2wire (&buf, p, len) != LDNS_STATUS_OK) {
        free (buf);
        return NULL;
    }
    return buf;
}

/* A header-only reply with rcode to the query whose header is q (12 bytes at least). */
static uint8_t *
header_reply (const uint8_t *q, size_t qlen, ldns_pkt_rcode rcode, size_t *outlen)
{
    if (qlen < 12)
        return NULL;
    ldns_pkt *p = ldns_pkt_new ();
    ldns_pkt_set_id (p, (uint16_t) (q[0] << 8 | q[1]));
    ldns_pkt_set_qr (p, true);
    ldns_pkt_set_opcode (p, (ldns_pkt_opcode) ((q[2] >> 3) & 0xf));
    ldns_pkt_set_rd (p, q[2] & 1);
    ldns_pkt_set_ra (p, true);
    ldns_pkt_set_rcode (p, rcode);
    /* the question when it parses, as resolvers match answers by it */
    ldns_pkt *qp = NULL;
    if (ldns_wire2pkt (&qp, q, qlen) == LDNS_STATUS_OK && ldns_pkt_qdcount (qp) == 1)
        ldns_pkt_push_rr (p, LDNS_SECTION_QUESTION, ldns_rr_clone (ldns_rr_list_rr (ldns_pkt_question (qp), 0)));
    ldns_pkt_free (qp);
    uint8_t *w = to_wire (p, outlen);
    ldns_pkt_free (p);
    return w;
}

uint8_t *
dns_servfail (const uint8_t *q, size_t qlen, size_t *outlen)
{
    return header_reply (q, qlen, LDNS_RCODE_SERVFAIL, outlen);
}

/* Removes records from the end (additional, then answers) until the packet fits max; sets TC
 * when anything was removed. */
static uint8_t *
fit (ldns_pkt *p, size_t max, size_t *len)
{
    uint8_t *w = to_wire (p, len);
    while (w && *len > max) {
        free (w);
        ldns_pkt_set_tc (p, true);
        ldns_rr_list *l = ldns_rr_list_rr_count (ldns_pkt_additional (p)) ? ldns_pkt_additional (p)
                          : ldns_rr_list_rr_count (ldns_pkt_authority (p)) ? ldns_pkt_authority (p)
                                                                           : ldns_pkt_answer (p);
        ldns_rr *rr = ldns_rr_list_pop_rr (l);
        if (!rr)
            return NULL;
        ldns_rr_free (rr);
        ldns_pkt_set_ancount (p, (uint16_t) ldns_rr_list_rr_count (ldns_pkt_answer (p)));
        ldns_pkt_set_nscount (p, (uint16_t) ldns_rr_list_rr_count (ldns_pkt_authority (p)));
        ldns_pkt_set_arcount (p, (uint16_t) ldns_rr_list_rr_count (ldns_pkt_additional (p)));
        w = to_wire (p, len);
    }
    return w;
}

/* Splits the lower-cased name (no trailing dot) into labels in place; -1 when too many. */
static int
split (char *name, char **lab, int max)
{
    int n = 0;
    if (!*name)
        return 0;
    for (char *s = name;;) {
        if (n == max)
            return -1;
        lab[n++] = s;
        char *dot = strchr (s, '.');
        if (!dot)
            return n;
        *dot = 0;
        s = dot + 1;
    }
}

/* The answer built with libldns; *cacheable set when it is a cluster answer (not an error). */
static dns_verdict_t
answer_slow (dns_view_t *self, const uint8_t *q, size_t qlen, int tcp, uint8_t **out, size_t *outlen, int *cacheable)
{
    *out = NULL;
    *outlen = 0;
    *cacheable = 0;
    if (qlen < 12 || (q[2] & 0x80))
        return DNS_DROP;   /* no header, or a response: never answer those */
    ldns_pkt *qp = NULL;
    if (ldns_wire2pkt (&qp, q, qlen) != LDNS_STATUS_OK || ldns_pkt_qdcount (qp) != 1 ||
        ldns_rr_list_rr_count (ldns_pkt_question (qp)) != 1) {
        ldns_pkt_free (qp);
        *out = header_reply (q, qlen, LDNS_RCODE_FORMERR, outlen);
        return *out ? DNS_ANSWER : DNS_DROP;
    }
    if (ldns_pkt_get_opcode (qp) != LDNS_PACKET_QUERY) {
        ldns_pkt_free (qp);
        *out = header_reply (q, qlen, LDNS_RCODE_NOTIMPL, outlen);
        return *out ? DNS_ANSWER : DNS_DROP;
    }
    ldns_rr *question = ldns_rr_list_rr (ldns_pkt_question (qp), 0);
    char *text = ldns_rdf2str (ldns_rr_owner (question));
    if (!text) {
        ldns_pkt_free (qp);
        return DNS_DROP;
    }
    for (char *p = text; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    size_t tl = strlen (text);
    if (tl && text[tl - 1] == '.')
        text[--tl] = 0;

    ans_t a = { .view = self, .qname = ldns_rr_owner (question), .qtype = ldns_rr_get_type (question) };
    a.resp = ldns_pkt_new ();
    size_t dl = strlen (self->domain);
    char *lab[MAX_LABELS];
    int ours = 0;
    if (ldns_rr_get_class (question) != LDNS_RR_CLASS_IN)
        ours = 0;
    else if (tl >= dl && !strcmp (text + tl - dl, self->domain) && (tl == dl || text[tl - dl - 1] == '.')) {
        if (self->not_ready) {
            free (text);
            ldns_pkt_free (a.resp);
            ldns_pkt_free (qp);
            *out = header_reply (q, qlen, LDNS_RCODE_SERVFAIL, outlen);
            return *out ? DNS_ANSWER : DNS_DROP;
        }
        ours = 1;
        text[tl == dl ? 0 : tl - dl - 1] = 0;   /* the labels under the domain */
        int n = split (text, lab, MAX_LABELS);
        if (n == 0) {
            a.found = 1;
            if (a.qtype == LDNS_RR_TYPE_SOA)
                add_soa (&a, LDNS_SECTION_ANSWER);
        } else if (n > 0 && !strcmp (lab[n - 1], "svc"))
            answer_svc_zone (&a, lab, n - 1);
        else if (n > 0 && !strcmp (lab[n - 1], "pod"))
            answer_pod_zone (&a, lab, n - 1);
    } else if (a.qtype == LDNS_RR_TYPE_PTR && tl > 13 && !strcmp (text + tl - 13, ".in-addr.arpa")) {
        text[tl - 13] = 0;
        int n = split (text, lab, MAX_LABELS);
        ours = n > 0 && answer_ptr (&a, lab, n);
    }
    free (text);
    if (!ours) {
        ldns_pkt_free (a.resp);
        ldns_pkt_free (qp);
        return DNS_FORWARD;
    }
    ldns_pkt *r = a.resp;
    ldns_pkt_set_id (r, ldns_pkt_id (qp));
    ldns_pkt_set_qr (r, true);
    ldns_pkt_set_aa (r, true);
    ldns_pkt_set_ra (r, true);
    ldns_pkt_set_rd (r, ldns_pkt_rd (qp));
    ldns_pkt_set_opcode (r, LDNS_PACKET_QUERY);
    ldns_pkt_push_rr (r, LDNS_SECTION_QUESTION, ldns_rr_clone (question));
    if (!a.found)
        ldns_pkt_set_rcode (r, LDNS_RCODE_NXDOMAIN);
    if (!ldns_rr_list_rr_count (ldns_pkt_answer (r)))
        add_soa (&a, LDNS_SECTION_AUTHORITY);   /* NXDOMAIN and NODATA carry the SOA */
    size_t max = 65535;
    if (!tcp) {
        max = 512;
        if (ldns_pkt_edns (qp) && ldns_pkt_edns_udp_size (qp) > 512)
            max = ldns_pkt_edns_udp_size (qp);
    }
    if (ldns_pkt_edns (qp)) {
        ldns_pkt_set_edns_udp_size (r, 1232);
        ldns_pkt_set_edns_do (r, ldns_pkt_edns_do (qp));
    }
    *out = fit (r, max, outlen);
    ldns_pkt_free (r);
    ldns_pkt_free (qp);
    *cacheable = *out != NULL;
    return *out ? DNS_ANSWER : DNS_DROP;
}

/* ---- the answer cache ----------------------------------------------------------------------- */

/* The cache key of query q, or -1 when the query is not one the cache takes: exactly a header
 * (a query, opcode QUERY, one question, no answer/authority records, at most one additional),
 * an uncompressed question, and an optional EDNS0 OPT (root owner, well-formed options) that ends
 * the packet. *qend: the offset just past the question. */
static int
cache_key (const uint8_t *q, size_t qlen, int tcp, uint8_t *key, size_t *keylen, size_t *qend)
{
    if (qlen < 12 + 5 || qlen > CACHE_QMAX || (q[2] & 0x80) || ((q[2] >> 3) & 0xf) != 0)
        return -1;
    if (q[4] || q[5] != 1 || q[6] || q[7] || q[8] || q[9] || q[10] || q[11] > 1)
        return -1;
    size_t o = 12, k = 0;
    for (;;) {
        if (o >= qlen)
            return -1;
        uint8_t l = q[o];
        if (l & 0xc0)
            return -1;   /* a pointer (or an extended label type) */
        if (o + 1 + l > qlen || k + 1 + l > 255)
            return -1;
        key[k++] = l;
        for (size_t i = 0; i < l; i++) {
            uint8_t c = q[o + 1 + i];
            key[k++] = c >= 'A' && c <= 'Z' ? (uint8_t) (c + 32) : c;
        }
        o += 1 + l;
        if (!l)
            break;
    }
    if (o + 4 > qlen)
        return -1;
    memcpy (key + k, q + o, 4);   /* qtype, qclass */
    k += 4;
    o += 4;
    *qend = o;
    uint8_t opt[8] = { (uint8_t) (tcp ? 1 : 0) };
    if (q[11]) {   /* the OPT: owner root, type 41, class = payload size, ttl = rcode/version/flags */
        if (o + 11 > qlen || q[o] != 0 || q[o + 1] != 0 || q[o + 2] != 41)
            return -1;
        size_t rdlen = (size_t) q[o + 9] << 8 | q[o + 10];
        size_t r = o + 11, end = r + rdlen;
        if (end != qlen)
            return -1;
        while (r < end) {   /* options: code, length, data */
            if (r + 4 > end)
                return -1;
            size_t ol = (size_t) q[r + 2] << 8 | q[r + 3];
            if (r + 4 + ol > end)
                return -1;
            r += 4 + ol;
        }
        opt[0] |= 2 | (rdlen ? 4 : 0);
        memcpy (opt + 1, q + o + 3, 6);   /* payload size, extended rcode, version, flags */
    } else if (o != qlen)
        return -1;
    memcpy (key + k, opt, 7);
    k += 7;
    *keylen = k;
    return 0;
}

static uint32_t
key_hash (const uint8_t *key, size_t len)
{
    return tr_fnv1a32 (key, len);
}

static int64_t
coarse_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The slot of key: its entry, or the empty slot where it would go. */
static size_t
cache_slot (const cache_t *c, const uint8_t *key, size_t keylen, uint32_t h)
{
    size_t i = h & (CACHE_SLOTS - 1);
    for (;;) {
        const centry_t *e = c->slots[i];
        if (!e || (e->hash == h && e->keylen == keylen && !memcmp (e->key, key, keylen)))
            return i;
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
}

/* The response to q from the cached template r: the query's id, RD bit and question bytes. */
static uint8_t *
patch (const uint8_t *r, size_t rlen, const uint8_t *q, size_t qend)
{
    uint8_t *out = malloc (rlen);
    memcpy (out, r, rlen);
    out[0] = q[0];
    out[1] = q[1];
    out[2] = (uint8_t) ((out[2] & ~1u) | (q[2] & 1u));
    memcpy (out + 12, q + 12, qend - 12);
    return out;
}

dns_verdict_t
dns_answer (dns_view_t *self, const uint8_t *q, size_t qlen, int tcp, uint8_t **out, size_t *outlen)
{
    uint8_t key[CACHE_KEYMAX];
    size_t keylen, qend;
    int cacheable;
    if (!self->cache.max_n || !self->cache.max_bytes || cache_key (q, qlen, tcp, key, &keylen, &qend))
        return answer_slow (self, q, qlen, tcp, out, outlen, &cacheable);
    cache_t *c = &self->cache;
    if (c->serial != self->serial) {
        cache_clear (c);
        c->serial = self->serial;
    }
    uint32_t h = key_hash (key, keylen);
    int64_t now = coarse_ms ();
    size_t slot;
    if (c->slots) {
        slot = cache_slot (c, key, keylen, h);
        centry_t *e = c->slots[slot];
        if (e && now - e->born_ms < c->max_age_ms) {
            c->st.hits++;
            *out = patch (e->resp, e->resplen, q, qend);
            *outlen = e->resplen;
            return DNS_ANSWER;
        }
        if (e)   /* too old: the whole cache goes (simpler than ageing each; it refills at once) */
            cache_clear (c);
    }
    c->st.misses++;
    /* built from the lower-cased query, so that the template is the same whoever asked first */
    uint8_t lq[CACHE_QMAX];
    memcpy (lq, q, qlen);
    memcpy (lq + 12, key, qend - 12 - 4);
    uint8_t *r;
    size_t rlen;
    dns_verdict_t v = answer_slow (self, lq, qlen, tcp, &r, &rlen, &cacheable);
    if (v != DNS_ANSWER)
        return v;
    if (!cacheable || rlen < qend || memcmp (r + 12, lq + 12, qend - 12)) {
        free (r);   /* an error reply, or a question not echoed as asked: built from q itself */
        return answer_slow (self, q, qlen, tcp, out, outlen, &cacheable);
    }
    *out = patch (r, rlen, q, qend);
    *outlen = rlen;
    if (!c->slots)
        c->slots = calloc (CACHE_SLOTS, sizeof *c->slots);
    if (rlen > c->max_bytes) {
        free (r);   /* larger than the whole cache */
        return DNS_ANSWER;
    }
    if (c->n >= c->max_n || c->bytes + rlen > c->max_bytes)
        cache_clear (c);
    slot = cache_slot (c, key, keylen, h);
    centry_t *e = malloc (sizeof *e);
    e->hash = h;
    e->keylen = (uint16_t) keylen;
    memcpy (e->key, key, keylen);
    e->born_ms = now;
    e->resp = r;
    e->resplen = rlen;
    c->slots[slot] = e;
    c->n++;
    c->bytes += rlen;
    return DNS_ANSWER;
}
