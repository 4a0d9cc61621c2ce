/* poddns — see poddns.h. */
#include "actors/agent/poddns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

#define MAX_NS 3
#define MAX_SEARCH 32
#define MAX_SEARCH_CHARS 2048

static void
add_unique (json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    if (!s || !*s)
        return;
    json_array_foreach (arr, i, v) if (!strcmp (json_string_value (v), s)) return;
    json_array_append_new (arr, json_string (s));
}

/* options: [{name, value?}], by name: a later one replaces the value in place */
static void
add_option (json_t *opts, const char *name, const char *value)
{
    size_t i;
    json_t *v;
    if (!name || !*name)
        return;
    json_array_foreach (opts, i, v) if (!strcmp (tv_str (v, "name"), name)) {
        if (value)
            json_object_set_new (v, "value", json_string (value));
        else
            json_object_del (v, "value");
        return;
    }
    json_t *o = json_pack ("{s:s}", "name", name);
    if (value)
        json_object_set_new (o, "value", json_string (value));
    json_array_append_new (opts, o);
}

static int
loopback (const char *a)
{
    return !strncmp (a, "127.", 4) || !strcmp (a, "::1") || !strcmp (a, "0:0:0:0:0:0:0:1");
}

/* The node's resolv.conf as {nameservers, searches, options}. */
static json_t *
host_config (const char *text)
{
    json_t *ns = json_array (), *search = json_array (), *opts = json_array ();
    char *copy = strdup (text ? text : "");
    for (char *lsave = NULL, *line = strtok_r (copy, "\n", &lsave); line; line = strtok_r (NULL, "\n", &lsave)) {
        char *save = NULL;
        char *key = strtok_r (line, " \t\r", &save);
        if (!key || key[0] == '#' || key[0] == ';')
            continue;
        if (!strcmp (key, "nameserver")) {
            char *a = strtok_r (NULL, " \t\r", &save);
            if (a && !loopback (a))
                add_unique (ns, a);
        } else if (!strcmp (key, "search") || !strcmp (key, "domain")) {
            json_array_clear (search);   /* the last one wins, as in glibc */
            for (char *w; (w = strtok_r (NULL, " \t\r", &save));) {
                size_t l = strlen (w);
                if (l > 1 && w[l - 1] == '.')
                    w[l - 1] = 0;   /* the kubelet trims the trailing dot */
                add_unique (search, w);
            }
        } else if (!strcmp (key, "options")) {
            for (char *w; (w = strtok_r (NULL, " \t\r", &save));) {
                char *colon = strchr (w, ':');
                if (colon)
                    *colon = 0;
                add_option (opts, w, colon ? colon + 1 : NULL);
            }
        }
    }
    free (copy);
    return json_pack ("{s:o,s:o,s:o}", "nameservers", ns, "searches", search, "options", opts);
}

json_t *
poddns_config (const json_t *pod, const poddns_node_t *node, json_t *warnings)
{
    const char *policy = tv_str (pod, "spec.dnsPolicy");
    if (!policy || !*policy)
        policy = "ClusterFirst";
    int host_net = tv_bool (pod, "spec.hostNetwork", false);
    int have_cluster = node->cluster_dns && *node->cluster_dns;
    json_t *cfg;
    if (!strcmp (policy, "None"))
        cfg = json_pack ("{s:[],s:[],s:[]}", "nameservers", "searches", "options");
    else {
        cfg = host_config (node->host_resolv);
        int cluster = (!strcmp (policy, "ClusterFirst") && !host_net) || !strcmp (policy, "ClusterFirstWithHostNet");
        if (cluster && !have_cluster && warnings)
            json_array_append_new (warnings, json_string ("pod has dnsPolicy " "ClusterFirst but the node has no cluster DNS "
                                                          "address (--cluster-dns): the node's resolv.conf is used"));
        if (cluster && have_cluster) {
            json_t *ns = json_array ();
            char *list = strdup (node->cluster_dns);
            for (char *save = NULL, *a = strtok_r (list, ", ", &save); a; a = strtok_r (NULL, ", ", &save))
                add_unique (ns, a);
            free (list);
            json_object_set_new (cfg, "nameservers", ns);
            json_t *search = json_array ();
            const char *d = node->cluster_domain;
            if (d && *d) {
                char s[600];
                snprintf (s, sizeof s, "%s.svc.%s", tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "default", d);
                add_unique (search, s);
                snprintf (s, sizeof s, "svc.%s", d);
                add_unique (search, s);
                add_unique (search, d);
            }
            size_t i;
            json_t *v;
            json_array_foreach (json_object_get (cfg, "searches"), i, v) add_unique (search, json_string_value (v));
            json_object_set_new (cfg, "searches", search);
            json_object_set_new (cfg, "options", json_pack ("[{s:s,s:s}]", "name", "ndots", "value", "5"));
        }
    }
    /* spec.dnsConfig, merged */
    const json_t *pc = tv_get (pod, "spec.dnsConfig");
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (pc, "nameservers"), i, v) add_unique (json_object_get (cfg, "nameservers"), json_string_value (v));
    json_array_foreach (json_object_get (pc, "searches"), i, v) add_unique (json_object_get (cfg, "searches"), json_string_value (v));
    json_array_foreach (json_object_get (pc, "options"), i, v) add_option (json_object_get (cfg, "options"), tv_str (v, "name"),
                                                                           tv_str (v, "value"));
    /* the limits */
    json_t *ns = json_object_get (cfg, "nameservers");
    if (json_array_size (ns) > MAX_NS) {
        if (warnings)
            json_array_append_new (warnings, json_sprintf ("Nameserver limits were exceeded, some nameservers have been "
                                                           "omitted: %zu given, %d kept", json_array_size (ns), MAX_NS));
        while (json_array_size (ns) > MAX_NS)
            json_array_remove (ns, MAX_NS);
    }
    json_t *search = json_object_get (cfg, "searches");
    size_t chars = 0, keep = 0;
    json_array_foreach (search, i, v) {
        chars += strlen (json_string_value (v)) + (i ? 1 : 0);
        if (i >= MAX_SEARCH || chars > MAX_SEARCH_CHARS)
            break;
        keep = i + 1;
    }
    if (keep < json_array_size (search)) {
        if (warnings)
            json_array_append_new (warnings, json_sprintf ("Search Line limits were exceeded, some search paths have been "
                                                           "omitted: %zu given, %zu kept", json_array_size (search), keep));
        while (json_array_size (search) > keep)
            json_array_remove (search, keep);
    }
    return cfg;
}
