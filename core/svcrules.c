/* svcrules — Service defaulting and validation beyond the schema. See svcrules.h. */
#include "core/svcrules.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

int
svc_parse_ipv4 (const char *s, unsigned *out)
{
    unsigned v = 0;
    int parts = 0;
    const char *p = s;
    if (!s)
        return 0;
    while (parts < 4) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned o = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits && o == 0) /* no leading zeros, as Go's netip */
                return 0;
            o = o * 10 + (unsigned) (*p - '0');
            if (o > 255 || ++digits > 3)
                return 0;
            p++;
        }
        v = (v << 8) | o;
        parts++;
        if (parts < 4) {
            if (*p != '.')
                return 0;
            p++;
        }
    }
    if (*p)
        return 0;
    if (out)
        *out = v;
    return 1;
}

int
svc_needs_node_ports (const json_t *svc)
{
    const char *t = tv_str (svc, "spec.type");
    return t && (!strcmp (t, "NodePort") || !strcmp (t, "LoadBalancer"));
}

void
svc_default (json_t *svc)
{
    json_t *spec = json_object_get (svc, "spec");
    if (!json_is_object (spec))
        return;
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get (spec, "ports"), i, p) {
        json_t *port = json_object_get (p, "port");
        if (json_is_object (p) && json_is_integer (port) && !json_object_get (p, "targetPort"))
            json_object_set (p, "targetPort", port);
    }
    const char *ip = tv_str (spec, "clusterIP");
    json_t *ips = json_object_get (spec, "clusterIPs");
    if (ip && *ip && !json_array_size (ips))
        json_object_set_new (spec, "clusterIPs", json_pack ("[s]", ip));
    else if ((!ip || !*ip) && json_is_string (json_array_get (ips, 0)))
        json_object_set (spec, "clusterIP", json_array_get (ips, 0));
    if (!json_object_get (spec, "ipFamilies"))
        json_object_set_new (spec, "ipFamilies", json_pack ("[s]", "IPv4"));
    if (!json_object_get (spec, "ipFamilyPolicy"))
        json_object_set_new (spec, "ipFamilyPolicy", json_string ("SingleStack"));
    if (svc_needs_node_ports (svc) && !json_object_get (spec, "externalTrafficPolicy"))
        json_object_set_new (spec, "externalTrafficPolicy", json_string ("Cluster"));
    const char *aff = tv_str (spec, "sessionAffinity");
    if (aff && !strcmp (aff, "ClientIP") && !tv_get (spec, "sessionAffinityConfig.clientIP.timeoutSeconds"))
        tv_set_int (spec, "sessionAffinityConfig.clientIP.timeoutSeconds", 10800);
    if (!tv_get (svc, "status.loadBalancer"))
        tv_set (svc, "status.loadBalancer", json_object ());
}

/* IANA_SVC_NAME: at most 15 lower-case letters, digits and '-', a letter at least, no '-' at
 * either end nor two together. */
static int
is_svc_name (const char *s)
{
    size_t n = strlen (s);
    int letter = 0;
    if (!n || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr (s, "--"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z')
            letter = 1;
        else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
            return 0;
    }
    return letter;
}

int
svc_rules (const json_t *svc, char *err, size_t errlen)
{
    const json_t *spec = json_object_get (svc, "spec");
    const char *type = tv_str (spec, "type");
    const char *ip = tv_str (spec, "clusterIP");
    int headless = ip && !strcmp (ip, "None");
    int node_ports = svc_needs_node_ports (svc);
    const json_t *ports = json_object_get (spec, "ports");
    size_t n = json_array_size (ports);
    if (!n && !headless) {
        snprintf (err, errlen, "spec.ports: Required value");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get (ports, i);
        const char *name = tv_str (p, "name");
        if (n > 1 && (!name || !*name)) {
            snprintf (err, errlen, "spec.ports[%zu].name: Required value", i);
            return -1;
        }
        json_int_t port = tv_int (p, "port", 0);
        const char *proto = tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP";
        for (size_t j = 0; j < i; j++) {
            const json_t *q = json_array_get (ports, j);
            const char *qn = tv_str (q, "name");
            if (name && *name && qn && !strcmp (name, qn)) {
                snprintf (err, errlen, "spec.ports[%zu].name: Duplicate value: \"%s\"", i, name);
                return -1;
            }
            const char *qp = tv_str (q, "protocol") ? tv_str (q, "protocol") : "TCP";
            if (tv_int (q, "port", 0) == port && !strcmp (qp, proto)) {
                snprintf (err, errlen, "spec.ports[%zu]: Duplicate value: {\"port\":%lld,\"protocol\":\"%s\"}", i,
                          (long long) port, proto);
                return -1;
            }
        }
        const json_t *tp = json_object_get (p, "targetPort");
        if (json_is_integer (tp) && (json_integer_value (tp) < 1 || json_integer_value (tp) > 65535)) {
            snprintf (err, errlen, "spec.ports[%zu].targetPort: Invalid value: %lld: must be between 1 and 65535, inclusive",
                      i, (long long) json_integer_value (tp));
            return -1;
        }
        if (json_is_string (tp) && !is_svc_name (json_string_value (tp))) {
            snprintf (err, errlen,
                      "spec.ports[%zu].targetPort: Invalid value: \"%.64s\": must contain only lower-case letters, "
                      "digits and '-', at most 15 characters, at least one letter",
                      i, json_string_value (tp));
            return -1;
        }
        json_int_t np = tv_int (p, "nodePort", 0);
        if (np && !node_ports) {
            snprintf (err, errlen, "spec.ports[%zu].nodePort: Forbidden: may not be used when `type` is '%s'", i,
                      type ? type : "ClusterIP");
            return -1;
        }
    }
    const json_t *ips = json_object_get (spec, "clusterIPs");
    if (json_array_size (ips) > 1) {
        snprintf (err, errlen, "spec.clusterIPs: Unsupported: not supported yet by Troupe: IPv4 only: no dual-stack Services");
        return -1;
    }
    if (ip && *ip) {
        if (!headless && !svc_parse_ipv4 (ip, NULL)) {
            snprintf (err, errlen, "spec.clusterIPs[0]: Invalid value: \"%.64s\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", ip);
            return -1;
        }
        if (headless && node_ports) {
            snprintf (err, errlen, "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for %s services",
                      type);
            return -1;
        }
        const char *first = json_string_value (json_array_get (ips, 0));
        if (first && strcmp (first, ip)) {
            snprintf (err, errlen, "spec.clusterIPs: Invalid value: [\"%.64s\"]: element [0] must match clusterIP", first);
            return -1;
        }
    }
    const char *aff = tv_str (spec, "sessionAffinity");
    if (tv_get (spec, "sessionAffinityConfig") && !(aff && !strcmp (aff, "ClientIP"))) {
        snprintf (err, errlen, "spec.sessionAffinityConfig: Forbidden: must not be set when `sessionAffinity` is None");
        return -1;
    }
    return 0;
}
