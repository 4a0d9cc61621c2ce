/* endpointslice — see endpointslice.h. */
#include "actors/controllers/endpointslice.h"
#include "core/fnv.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
label (const json_t *obj, const char *key)
{
    /* label keys hold dots and slashes: looked up directly, not as a path */
    return json_string_value (json_object_get (tv_get (obj, "metadata.labels"), key));
}

int
eps_managed_for (const json_t *slice, const char *svc_name)
{
    const char *s = label (slice, EPS_SERVICE_LABEL), *m = label (slice, EPS_MANAGED_BY_LABEL);
    return s && m && svc_name && !strcmp (s, svc_name) && !strcmp (m, EPS_MANAGED_BY);
}

static int
selects (const json_t *selector, const json_t *pod)
{
    const char *k;
    json_t *v;
    const json_t *labels = tv_get (pod, "metadata.labels");
    json_object_foreach ((json_t *) selector, k, v) {
        const char *pv = json_string_value (json_object_get (labels, k));
        if (!pv || !json_string_value (v) || strcmp (pv, json_string_value (v)))
            return 0;
    }
    return 1;
}

static int
pod_ready (const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (pod, "status.conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), "Ready"))
        return tv_str (c, "status") && !strcmp (tv_str (c, "status"), "True");
    return 0;
}

/* The container port named name (protocol proto) of pod, or 0. */
static json_int_t
named_port (const json_t *pod, const char *name, const char *proto)
{
    size_t i, j;
    json_t *c, *p;
    json_array_foreach (tv_get (pod, "spec.containers"), i, c) json_array_foreach (json_object_get (c, "ports"), j, p) {
        const char *pn = tv_str (p, "name"), *pp = tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP";
        if (pn && !strcmp (pn, name) && !strcmp (pp, proto))
            return tv_int (p, "containerPort", 0);
    }
    return 0;
}

/* The slice ports of svc for pod (new array). */
static json_t *
pod_ports (const json_t *svc, const json_t *pod)
{
    json_t *out = json_array ();
    size_t i;
    json_t *sp;
    json_array_foreach (tv_get (svc, "spec.ports"), i, sp) {
        const char *proto = tv_str (sp, "protocol") ? tv_str (sp, "protocol") : "TCP";
        const json_t *tp = json_object_get (sp, "targetPort");
        json_int_t port = json_is_integer (tp) ? json_integer_value (tp)
                          : json_is_string (tp) ? named_port (pod, json_string_value (tp), proto)
                                                : tv_int (sp, "port", 0);
        if (port <= 0)
            continue; /* the pod has no port of that name: left out of this port */
        json_t *p = json_pack ("{s:s,s:s,s:I}", "name", tv_str (sp, "name") ? tv_str (sp, "name") : "", "protocol", proto,
                               "port", port);
        if (tv_str (sp, "appProtocol"))
            json_object_set (p, "appProtocol", json_object_get (sp, "appProtocol"));
        json_array_append_new (out, p);
    }
    return out;
}

static json_t *
endpoint (const json_t *svc, const json_t *pod)
{
    int serving = pod_ready (pod);
    int terminating = tv_get (pod, "metadata.deletionTimestamp") != NULL;
    int ready = tv_bool (svc, "spec.publishNotReadyAddresses", false) || (serving && !terminating);
    json_t *e = json_pack ("{s:[s],s:{s:b,s:b,s:b}}", "addresses", tv_str (pod, "status.podIP"), "conditions", "ready", ready,
                           "serving", serving, "terminating", terminating);
    if (tv_str (pod, "spec.nodeName"))
        json_object_set_new (e, "nodeName", json_string (tv_str (pod, "spec.nodeName")));
    json_object_set_new (e, "targetRef", json_pack ("{s:s,s:s,s:s,s:s}", "kind", "Pod", "namespace",
                                                    tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "",
                                                    "name", tv_str (pod, "metadata.name"), "uid",
                                                    tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : ""));
    return e;
}

static int
cmp_endpoint (const void *a, const void *b)
{
    const json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
    return strcmp (tv_str (x, "targetRef.name"), tv_str (y, "targetRef.name"));
}

static void
slice_name (const json_t *svc, int ordinal, char *buf, size_t len)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char seed[300];
    snprintf (seed, sizeof seed, "%s/%d", tv_str (svc, "metadata.uid") ? tv_str (svc, "metadata.uid") : "", ordinal);
    uint32_t h = tr_fnv1a32_str (seed);
    char sfx[6];
    for (int i = 0; i < 5; i++) {
        sfx[i] = alphabet[h % (sizeof alphabet - 1)];
        h /= (sizeof alphabet - 1);
        h ^= (uint32_t) (i + 1) * 2654435761u;
    }
    sfx[5] = 0;
    /* as generateName: the base is cut to leave 63 characters in all */
    snprintf (buf, len, "%.57s-%s", tv_str (svc, "metadata.name"), sfx);
}

static json_t *
slice_body (const json_t *svc, const char *name, json_t *endpoints, json_t *ports)
{
    json_t *labels = json_deep_copy (tv_get (svc, "metadata.labels"));
    if (!labels)
        labels = json_object ();
    json_object_set_new (labels, EPS_SERVICE_LABEL, json_string (tv_str (svc, "metadata.name")));
    json_object_set_new (labels, EPS_MANAGED_BY_LABEL, json_string (EPS_MANAGED_BY));
    return json_pack ("{s:s,s:s,s:{s:s,s:s,s:o,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:s,s:o,s:o}", "apiVersion",
                      "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name", name, "namespace",
                      tv_str (svc, "metadata.namespace"), "labels", labels, "ownerReferences", "apiVersion", "v1", "kind",
                      "Service", "name", tv_str (svc, "metadata.name"), "uid",
                      tv_str (svc, "metadata.uid") ? tv_str (svc, "metadata.uid") : "", "controller", 1,
                      "blockOwnerDeletion", 1, "addressType", "IPv4", "endpoints", endpoints, "ports", ports);
}

/* Does the stored slice already say what body says? */
static int
same_content (const json_t *cur, const json_t *body)
{
    static const char *const f[] = {"addressType", "endpoints", "ports", "metadata.labels", "metadata.ownerReferences"};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        json_t *a = tv_get (cur, f[i]), *b = tv_get (body, f[i]);
        int empty_a = !a || (json_is_array (a) && !json_array_size (a));
        int empty_b = !b || (json_is_array (b) && !json_array_size (b));
        if (!(empty_a && empty_b) && !(a && b && json_equal (a, b)))
            return 0;
    }
    return 1;
}

int
eps_reconcile (const json_t *svc, const json_t *pods, const json_t *slices, const json_t *nodes, ctrl_actions_t *out)
{
    const json_t *selector = tv_get (svc, "spec.selector");
    if (!json_is_object (selector) || tv_get (svc, "metadata.deletionTimestamp"))
        return 0; /* no selector: the Service's endpoints are not ours to manage */
    const char *ns = tv_str (svc, "metadata.namespace"), *name = tv_str (svc, "metadata.name");
    size_t before = out->n;
    /* groups: ports (dumped) → {ports, endpoints} */
    json_t *groups = json_object ();
    size_t i;
    json_t *pod;
    json_array_foreach (pods, i, pod) {
        const char *ip = tv_str (pod, "status.podIP"), *phase = tv_str (pod, "status.phase");
        const char *node = tv_str (pod, "spec.nodeName");
        if (!ip || !*ip || !selects (selector, pod))
            continue;
        if (phase && (!strcmp (phase, "Succeeded") || !strcmp (phase, "Failed")))
            continue;
        if (nodes && (!node || !json_object_get (nodes, node)))
            continue; /* its node is gone: out, as Kubernetes' controller leaves it */
        json_t *ports = pod_ports (svc, pod);
        char *key = json_dumps (ports, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *g = json_object_get (groups, key);
        if (!g) {
            g = json_pack ("{s:O,s:[]}", "ports", ports, "endpoints");
            json_object_set_new (groups, key, g);
        }
        json_array_append_new (json_object_get (g, "endpoints"), endpoint (svc, pod));
        free (key);
        json_decref (ports);
    }
    /* the desired slices: each group cut in chunks of EPS_MAX_ENDPOINTS */
    json_t *want = json_array (); /* [{ports, endpoints}] */
    const char *gk;
    json_t *g;
    json_object_foreach (groups, gk, g) {
        json_t *eps = json_object_get (g, "endpoints");
        size_t n = json_array_size (eps);
        json_t **v = malloc ((n ? n : 1) * sizeof *v);
        for (size_t k = 0; k < n; k++)
            v[k] = json_array_get (eps, k);
        qsort (v, n, sizeof *v, cmp_endpoint);
        for (size_t k = 0; k < n; k += EPS_MAX_ENDPOINTS) {
            json_t *chunk = json_array ();
            for (size_t m = k; m < n && m < k + EPS_MAX_ENDPOINTS; m++)
                json_array_append (chunk, v[m]);
            json_array_append_new (want, json_pack ("{s:O,s:o}", "ports", json_object_get (g, "ports"), "endpoints", chunk));
        }
        free (v);
    }
    if (!json_array_size (want)) /* the placeholder: no endpoints, no ports */
        json_array_append_new (want, json_pack ("{s:[],s:[]}", "ports", "endpoints"));
    /* the existing managed slices, matched first by ports, then any */
    json_t *mine = json_array ();
    json_t *s;
    json_array_foreach (slices, i, s) if (eps_managed_for (s, name) && tv_str (s, "metadata.namespace") &&
                                          !strcmp (tv_str (s, "metadata.namespace"), ns))
        json_array_append (mine, s);
    size_t nm = json_array_size (mine);
    char *used = calloc (nm ? nm : 1, 1);
    size_t nw = json_array_size (want);
    int *match = malloc ((nw ? nw : 1) * sizeof *match);
    for (int pass = 0; pass < 2; pass++)
        for (size_t w = 0; w < nw; w++) {
            if (pass == 0)
                match[w] = -1;
            if (match[w] >= 0)
                continue;
            json_t *wp = json_object_get (json_array_get (want, w), "ports");
            for (size_t m = 0; m < nm; m++) {
                if (used[m])
                    continue;
                json_t *mp = tv_get (json_array_get (mine, m), "ports");
                int eq = (!json_array_size (mp) && !json_array_size (wp)) || (mp && json_equal (mp, wp));
                if (pass == 1 || eq) {
                    match[w] = (int) m;
                    used[m] = 1;
                    break;
                }
            }
        }
    for (size_t w = 0; w < nw; w++) {
        json_t *d = json_array_get (want, w);
        json_t *eps = json_incref (json_object_get (d, "endpoints")), *ports = json_incref (json_object_get (d, "ports"));
        if (match[w] >= 0) {
            const json_t *cur = json_array_get (mine, (size_t) match[w]);
            const char *cn = tv_str (cur, "metadata.name");
            json_t *body = slice_body (svc, cn, eps, ports);
            if (same_content (cur, body)) {
                json_decref (body);
                continue;
            }
            tv_set_str (body, "metadata.resourceVersion", tv_str (cur, "metadata.resourceVersion"));
            ctrl_actions_add (out, TR_VERB_UPDATE, "EndpointSlice", ns, cn, ctrl_rv (cur), body, name);
        } else {
            /* the lowest ordinal whose name no slice of ours has */
            char sn[80];
            for (int ord = 0;; ord++) {
                slice_name (svc, ord, sn, sizeof sn);
                int taken = 0;
                for (size_t m = 0; m < nm && !taken; m++)
                    taken = !strcmp (tv_str (json_array_get (mine, m), "metadata.name"), sn);
                for (size_t k = before; k < out->n && !taken; k++)
                    taken = !strcmp (out->v[k].name, sn);
                if (!taken)
                    break;
            }
            ctrl_actions_add (out, TR_VERB_CREATE, "EndpointSlice", ns, sn, 0, slice_body (svc, sn, eps, ports), name);
        }
    }
    for (size_t m = 0; m < nm; m++)
        if (!used[m]) {
            const json_t *cur = json_array_get (mine, m);
            ctrl_actions_add (out, TR_VERB_DELETE, "EndpointSlice", ns, tv_str (cur, "metadata.name"), ctrl_rv (cur), NULL,
                              name);
        }
    free (used);
    free (match);
    json_decref (mine);
    json_decref (want);
    json_decref (groups);
    return (int) (out->n - before);
}
