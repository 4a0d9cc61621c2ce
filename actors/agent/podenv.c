/* podenv — see podenv.h. */
#include "actors/agent/podenv.h"
#include "core/quantity.h"
#include "core/value.h"

#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *s;
    size_t len, cap;
} buf_t;

static void
put (buf_t *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc (b->s, b->cap);
    }
    memcpy (b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

char *
podenv_expand (const char *in, const json_t *vars)
{
    buf_t b = {0};
    put (&b, "", 0);
    size_t n = strlen (in);
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '$' || i + 1 == n) {
            put (&b, in + i, 1);
            continue;
        }
        char next = in[i + 1];
        if (next == '$') { /* "$$" is an escaped "$" */
            put (&b, "$", 1);
            i++;
            continue;
        }
        const char *close = next == '(' ? strchr (in + i + 2, ')') : NULL;
        if (!close) { /* "$x" or an unclosed "$(": as written */
            put (&b, in + i, 2);
            i++;
            continue;
        }
        size_t nl = (size_t) (close - (in + i + 2));
        char *name = strndup (in + i + 2, nl);
        json_t *v = vars ? json_object_get (vars, name) : NULL;
        if (json_is_string (v))
            put (&b, json_string_value (v), json_string_length (v));
        else /* undefined: the reference stays */
            put (&b, in + i, nl + 3);
        free (name);
        i = (size_t) (close - in);
    }
    return b.s;
}

static json_t *
expand_list (const json_t *list, const json_t *vars)
{
    json_t *out = json_array ();
    size_t i;
    json_t *x;
    json_array_foreach (list, i, x) {
        if (!json_is_string (x)) {
            json_array_append (out, x);
            continue;
        }
        char *e = podenv_expand (json_string_value (x), vars);
        json_array_append_new (out, json_string (e));
        free (e);
    }
    return out;
}

/* Appends name=value to env (a later duplicate replaces the earlier in place) and to vars. */
static void
env_set (json_t *env, json_t *vars, const char *name, const char *value)
{
    json_t *item = json_pack ("{s:s,s:s}", "name", name, "value", value);
    size_t j;
    json_t *y;
    int dup = 0;
    json_array_foreach (env, j, y) if (!dup && !strcmp (tv_str (y, "name"), name)) {
        json_array_set (env, j, item);
        dup = 1;
    }
    if (!dup)
        json_array_append (env, item);
    json_decref (item);
    json_object_set_new (vars, name, json_string (value));
}

static int
fail (char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    if (err && errlen)
        vsnprintf (err, errlen, fmt, ap);
    va_end (ap);
    return rc;
}

static json_t *
finish (const json_t *spec, json_t *env, json_t *vars)
{
    json_t *out = json_object ();
    if (tv_get (spec, "env") || tv_get (spec, "envFrom") || json_array_size (env))
        json_object_set_new (out, "env", env);
    else
        json_decref (env);
    if (tv_get (spec, "command"))
        json_object_set_new (out, "command", expand_list (tv_get (spec, "command"), vars));
    if (tv_get (spec, "args"))
        json_object_set_new (out, "args", expand_list (tv_get (spec, "args"), vars));
    json_decref (vars);
    return out;
}

json_t *
podenv_container (const json_t *spec)
{
    json_t *vars = json_object (), *env = json_array ();
    size_t i;
    json_t *x;
    json_array_foreach (tv_get (spec, "env"), i, x) {
        const char *name = tv_str (x, "name"), *value = tv_str (x, "value");
        if (!name || tv_get (x, "valueFrom"))
            continue;
        char *e = podenv_expand (value ? value : "", vars);
        env_set (env, vars, name, e);
        free (e);
    }
    if (!tv_get (spec, "env")) {
        json_decref (env);
        env = json_array ();
    }
    return finish (spec, env, vars);
}

int
podenv_key (const json_t *obj, int secret, const char *key, char **out, size_t *len)
{
    json_t *v = json_object_get (tv_get (obj, "data"), key);
    int b64 = secret;
    if (!v && !secret) {
        v = json_object_get (tv_get (obj, "binaryData"), key);
        b64 = 1;
    }
    if (!json_is_string (v))
        return -1;
    const char *s = json_string_value (v);
    size_t n = json_string_length (v);
    if (!b64) {
        *out = malloc (n + 1);
        memcpy (*out, s, n);
        (*out)[n] = 0;
        *len = n;
        return 0;
    }
    *out = malloc (n + 1);
    size_t got = 0;
    if (sodium_base642bin ((unsigned char *) *out, n + 1, s, n, "\n\r ", &got, NULL, sodium_base64_VARIANT_ORIGINAL))
        got = 0; /* the schema checked it: not reached */
    (*out)[got] = 0;
    *len = got;
    return 0;
}

int
podenv_object (const podenv_src_t *src, const char *kind, const char *ns, const char *name, const json_t **obj, char *err,
               size_t errlen)
{
    char key[600];
    snprintf (key, sizeof key, "%s/%s/%s", kind, ns, name);
    const json_t *o = src && src->objs ? json_object_get (src->objs, key) : NULL;
    if (!o)
        return fail (err, errlen, PODENV_PENDING, "%s %s/%s not read yet", kind, ns, name);
    *obj = json_is_null (o) ? NULL : o;
    return PODENV_OK;
}

void
podenv_ref_add (json_t *set, const char *kind, const char *ns, const char *name)
{
    if (!name || !*name)
        return;
    char key[600];
    snprintf (key, sizeof key, "%s/%s/%s", kind, ns, name);
    json_object_set_new (set, key, json_true ());
}

void
podenv_refs (const json_t *pod, json_t *set)
{
    const char *ns = tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "default";
    static const char *lists[] = {"spec.initContainers", "spec.containers"};
    for (size_t l = 0; l < 2; l++) {
        size_t i, j;
        json_t *c, *e;
        json_array_foreach (tv_get (pod, lists[l]), i, c) {
            json_array_foreach (tv_get (c, "env"), j, e) {
                podenv_ref_add (set, "ConfigMap", ns, tv_str (e, "valueFrom.configMapKeyRef.name"));
                podenv_ref_add (set, "Secret", ns, tv_str (e, "valueFrom.secretKeyRef.name"));
            }
            json_array_foreach (tv_get (c, "envFrom"), j, e) {
                podenv_ref_add (set, "ConfigMap", ns, tv_str (e, "configMapRef.name"));
                podenv_ref_add (set, "Secret", ns, tv_str (e, "secretRef.name"));
            }
        }
    }
}

/* metadata.labels['k'] → the map's path "metadata.labels" and k; 0, or -1 when path is not one. */
static int
subscript (const char *path, const char *map, char *key, size_t keylen)
{
    size_t n = strlen (map);
    if (strncmp (path, map, n) || path[n] != '[')
        return -1;
    const char *q = path + n + 1;
    char quote = *q;
    if (quote != '\'' && quote != '"')
        return -1;
    const char *end = strchr (q + 1, quote);
    if (!end || strcmp (end + 1, "]"))
        return -1;
    snprintf (key, keylen, "%.*s", (int) (end - q - 1), q + 1);
    return 0;
}

int
podenv_field (const json_t *pod, const char *path, const podenv_src_t *src, char **out, char *err, size_t errlen)
{
    static const char *direct[][2] = {{"metadata.name", "metadata.name"},
                                      {"metadata.namespace", "metadata.namespace"},
                                      {"metadata.uid", "metadata.uid"},
                                      {"spec.nodeName", "spec.nodeName"}};
    char key[320];
    *out = NULL;
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        if (!strcmp (path, direct[i][0])) {
            const char *v = tv_str (pod, direct[i][1]);
            *out = strdup (v ? v : "");
            return PODENV_OK;
        }
    if (!strcmp (path, "spec.serviceAccountName")) {
        const char *v = tv_str (pod, "spec.serviceAccountName");
        *out = strdup (v && *v ? v : "default");
    } else if (!strcmp (path, "status.podIP") || !strcmp (path, "status.podIPs")) {
        const char *v = src && src->pod_ip && *src->pod_ip ? src->pod_ip : tv_str (pod, "status.podIP");
        *out = strdup (v ? v : "");
    } else if (!strcmp (path, "status.hostIP") || !strcmp (path, "status.hostIPs")) {
        const char *v = src && src->host_ip ? src->host_ip : tv_str (pod, "status.hostIP");
        *out = strdup (v ? v : "");
    } else if (!subscript (path, "metadata.labels", key, sizeof key)) {
        const char *v = json_string_value (json_object_get (tv_get (pod, "metadata.labels"), key));
        *out = strdup (v ? v : "");
    } else if (!subscript (path, "metadata.annotations", key, sizeof key)) {
        const char *v = json_string_value (json_object_get (tv_get (pod, "metadata.annotations"), key));
        *out = strdup (v ? v : "");
    } else if (!strcmp (path, "metadata.labels") || !strcmp (path, "metadata.annotations")) {
        /* the downward API's whole maps: one k="v" line per key, sorted (as the kubelet) */
        json_t *m = tv_get (pod, path);
        const char **keys = calloc (json_object_size (m) + 1, sizeof *keys);
        size_t n = 0, len = 0;
        const char *k;
        json_t *v;
        json_object_foreach (m, k, v) {
            keys[n++] = k;
            len += strlen (k) + 2 * json_string_length (v) + 5;
        }
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && strcmp (keys[b - 1], keys[b]) > 0; b--) {
                const char *t = keys[b];
                keys[b] = keys[b - 1];
                keys[b - 1] = t;
            }
        char *s = malloc (len + 1), *p = s;
        *p = 0;
        for (size_t a = 0; a < n; a++) {
            p += sprintf (p, "%s=\"", keys[a]);
            for (const char *c = json_string_value (json_object_get (m, keys[a])); c && *c; c++) {
                if (*c == '"' || *c == '\\')
                    *p++ = '\\';
                *p++ = *c;
            }
            p += sprintf (p, "\"%s", a + 1 < n ? "\n" : "");
        }
        free (keys);
        *out = s;
    } else
        return fail (err, errlen, PODENV_ERROR, "fieldRef %s: unsupported field path", path);
    return PODENV_OK;
}

int
podenv_resource (const json_t *pod, const char *container, const json_t *ref, const podenv_src_t *src, char **out,
                 char *err, size_t errlen)
{
    const char *cname = tv_str (ref, "containerName") && *tv_str (ref, "containerName") ? tv_str (ref, "containerName") : container;
    const char *res = tv_str (ref, "resource") ? tv_str (ref, "resource") : "";
    const json_t *spec = NULL;
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (pod, "spec.containers"), i, c) if (cname && tv_str (c, "name") && !strcmp (tv_str (c, "name"), cname)) spec = c;
    json_array_foreach (tv_get (pod, "spec.initContainers"), i, c) if (!spec && cname && tv_str (c, "name") && !strcmp (tv_str (c, "name"), cname)) spec = c;
    if (!spec)
        return fail (err, errlen, PODENV_ERROR, "resourceFieldRef: container \"%s\" not found in the pod", cname ? cname : "");
    int cpu = !strcmp (res, "limits.cpu") || !strcmp (res, "requests.cpu");
    int mem = !strcmp (res, "limits.memory") || !strcmp (res, "requests.memory");
    if (!cpu && !mem)
        return fail (err, errlen, PODENV_ERROR, "resourceFieldRef: unsupported resource \"%s\"", res);
    const char *what = cpu ? "cpu" : "memory";
    char lpath[64], rpath[64];
    snprintf (lpath, sizeof lpath, "resources.limits.%s", what);
    snprintf (rpath, sizeof rpath, "resources.requests.%s", what);
    int64_t milli = 0, div = 1000;
    int limits = !strncmp (res, "limits.", 7);
    const json_t *lv = tv_get (spec, lpath), *rv = tv_get (spec, rpath);
    const json_t *v = limits ? lv : (rv ? rv : lv);
    if (v) {
        if (tv_quantity_milli (v, &milli, err, errlen))
            return PODENV_ERROR;
    } else if (limits)
        milli = cpu ? (src ? src->alloc_cpu_milli : 0) : (src ? src->alloc_mem_bytes * 1000 : 0);
    if (tv_get (ref, "divisor") && (tv_quantity_milli (tv_get (ref, "divisor"), &div, err, errlen) || div <= 0))
        return div <= 0 ? fail (err, errlen, PODENV_ERROR, "resourceFieldRef: divisor must be positive") : PODENV_ERROR;
    /* ceil(value / divisor), both in thousandths */
    int64_t q = milli / div + (milli % div > 0);
    char buf[32];
    snprintf (buf, sizeof buf, "%lld", (long long) q);
    *out = strdup (buf);
    return PODENV_OK;
}

static int
env_name_ok (const char *s)
{
    if (!*s || isdigit ((unsigned char) *s))
        return 0;
    for (; *s; s++)
        if (!isalnum ((unsigned char) *s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static int
env_from (const json_t *pod, const json_t *ef, const podenv_src_t *src, json_t *env, json_t *vars, json_t *warnings,
          char *err, size_t errlen)
{
    const char *ns = tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "default";
    int secret = tv_get (ef, "secretRef") != NULL;
    const json_t *ref = tv_get (ef, secret ? "secretRef" : "configMapRef");
    const char *name = tv_str (ref, "name") ? tv_str (ref, "name") : "";
    const char *prefix = tv_str (ef, "prefix") ? tv_str (ef, "prefix") : "";
    const json_t *obj;
    int rc = podenv_object (src, secret ? "Secret" : "ConfigMap", ns, name, &obj, err, errlen);
    if (rc)
        return rc;
    if (!obj) {
        if (tv_bool (ref, "optional", false))
            return PODENV_OK;
        return fail (err, errlen, PODENV_ERROR, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    }
    /* keys in order: data, then binaryData (ConfigMap) */
    char skipped[1024] = "";
    static const char *maps[] = {"data", "binaryData"};
    for (int m = 0; m < (secret ? 1 : 2); m++) {
        const char *k;
        json_t *v;
        json_object_foreach (tv_get (obj, maps[m]), k, v) {
            char full[600];
            snprintf (full, sizeof full, "%s%s", prefix, k);
            if (!env_name_ok (full)) {
                size_t l = strlen (skipped);
                snprintf (skipped + l, sizeof skipped - l, "%s%s", l ? ", " : "", full);
                continue;
            }
            char *val;
            size_t len;
            if (podenv_key (obj, secret, k, &val, &len))
                continue;
            env_set (env, vars, full, val);
            free (val);
        }
    }
    if (*skipped && warnings) {
        char msg[1400];
        snprintf (msg, sizeof msg,
                  "Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
                  skipped, secret ? "secret" : "configMap", ns, name);
        json_array_append_new (warnings, json_string (msg));
    }
    return PODENV_OK;
}

/* The value of one env item's valueFrom: PODENV_OK with *out (NULL: optional and absent: leave the
 * variable out), or an error. */
static int
value_from (const json_t *pod, const json_t *spec, const json_t *vf, const podenv_src_t *src, char **out, char *err,
            size_t errlen)
{
    const char *ns = tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "default";
    *out = NULL;
    if (tv_get (vf, "fieldRef"))
        return podenv_field (pod, tv_str (vf, "fieldRef.fieldPath") ? tv_str (vf, "fieldRef.fieldPath") : "", src, out, err, errlen);
    if (tv_get (vf, "resourceFieldRef"))
        return podenv_resource (pod, tv_str (spec, "name"), tv_get (vf, "resourceFieldRef"), src, out, err, errlen);
    int secret = tv_get (vf, "secretKeyRef") != NULL;
    const json_t *ref = tv_get (vf, secret ? "secretKeyRef" : "configMapKeyRef");
    if (!ref)
        return fail (err, errlen, PODENV_ERROR, "valueFrom: one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef is required");
    const char *name = tv_str (ref, "name") ? tv_str (ref, "name") : "", *key = tv_str (ref, "key") ? tv_str (ref, "key") : "";
    int optional = tv_bool (ref, "optional", false);
    const json_t *obj;
    int rc = podenv_object (src, secret ? "Secret" : "ConfigMap", ns, name, &obj, err, errlen);
    if (rc)
        return rc;
    if (!obj)
        return optional ? PODENV_OK : fail (err, errlen, PODENV_ERROR, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    size_t len;
    if (podenv_key (obj, secret, key, out, &len))
        return optional ? PODENV_OK
                        : fail (err, errlen, PODENV_ERROR, "couldn't find key %s in %s %s/%s", key, secret ? "Secret" : "ConfigMap", ns, name);
    return PODENV_OK;
}

static void
env_name (const char *svc, char *buf, size_t len)
{
    size_t i = 0;
    for (; svc[i] && i + 1 < len; i++)
        buf[i] = svc[i] == '-' ? '_' : (svc[i] >= 'a' && svc[i] <= 'z') ? (char) (svc[i] - 32) : svc[i];
    buf[i] = 0;
}

static int
cmp_by_name (const void *a, const void *b)
{
    return strcmp (tv_str (*(json_t *const *) a, "metadata.name"), tv_str (*(json_t *const *) b, "metadata.name"));
}

json_t *
podenv_service_vars (const json_t *pod, const json_t *services)
{
    json_t *out = json_object ();
    const char *ns = tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : "default";
    int links = tv_bool (pod, "spec.enableServiceLinks", true);
    size_t n = json_array_size (services), k = 0;
    const json_t **v = calloc (n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get (services, i);
        const char *sns = tv_str (s, "metadata.namespace"), *name = tv_str (s, "metadata.name");
        const char *ip = tv_str (s, "spec.clusterIP");
        if (!sns || !name || !ip || !*ip || !strcmp (ip, "None"))
            continue;
        int master = !strcmp (sns, "default") && !strcmp (name, "kubernetes");
        if ((links && !strcmp (sns, ns)) || master)
            v[k++] = s;
    }
    qsort (v, k, sizeof *v, cmp_by_name);
    for (size_t i = 0; i < k; i++) {
        const json_t *s = v[i];
        /* the pod's own namespace's Service of the same name wins over default/kubernetes */
        if (i + 1 < k && !strcmp (tv_str (s, "metadata.name"), tv_str (v[i + 1], "metadata.name")) &&
            strcmp (tv_str (s, "metadata.namespace"), ns))
            continue;
        char pre[260], name[512], val[400];
        env_name (tv_str (s, "metadata.name"), pre, sizeof pre);
        const char *ip = tv_str (s, "spec.clusterIP");
        const json_t *ports = tv_get (s, "spec.ports");
        snprintf (name, sizeof name, "%s_SERVICE_HOST", pre);
        json_object_set_new (out, name, json_string (ip));
        if (!json_array_size (ports))
            continue;
        snprintf (name, sizeof name, "%s_SERVICE_PORT", pre);
        snprintf (val, sizeof val, "%lld", (long long) tv_int (json_array_get (ports, 0), "port", 0));
        json_object_set_new (out, name, json_string (val));
        size_t j;
        json_t *p;
        json_array_foreach (ports, j, p) {
            const char *pn = tv_str (p, "name");
            if (!pn || !*pn)
                continue;
            char up[100];
            env_name (pn, up, sizeof up);
            snprintf (name, sizeof name, "%s_SERVICE_PORT_%s", pre, up);
            snprintf (val, sizeof val, "%lld", (long long) tv_int (p, "port", 0));
            json_object_set_new (out, name, json_string (val));
        }
        json_array_foreach (ports, j, p) {
            const char *proto = tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP";
            char lower[8], upper[8];
            size_t m = 0;
            for (; proto[m] && m < sizeof lower - 1; m++) {
                lower[m] = (proto[m] >= 'A' && proto[m] <= 'Z') ? (char) (proto[m] + 32) : proto[m];
                upper[m] = (proto[m] >= 'a' && proto[m] <= 'z') ? (char) (proto[m] - 32) : proto[m];
            }
            lower[m] = upper[m] = 0;
            long long port = (long long) tv_int (p, "port", 0);
            char url[340];
            snprintf (url, sizeof url, "%s://%s:%lld", lower, ip, port);
            if (j == 0) {
                snprintf (name, sizeof name, "%s_PORT", pre);
                json_object_set_new (out, name, json_string (url));
            }
            snprintf (name, sizeof name, "%s_PORT_%lld_%s", pre, port, upper);
            json_object_set_new (out, name, json_string (url));
            size_t l = strlen (name);
            snprintf (name + l, sizeof name - l, "_PROTO");
            json_object_set_new (out, name, json_string (lower));
            snprintf (name + l, sizeof name - l, "_PORT");
            snprintf (val, sizeof val, "%lld", port);
            json_object_set_new (out, name, json_string (val));
            snprintf (name + l, sizeof name - l, "_ADDR");
            json_object_set_new (out, name, json_string (ip));
        }
    }
    free (v);
    return out;
}

int
podenv_resolve (const json_t *pod, const json_t *spec, const podenv_src_t *src, json_t **out, json_t *warnings, char *err,
                size_t errlen)
{
    json_t *vars = json_object (), *env = json_array ();
    size_t i;
    json_t *x;
    *out = NULL;
    json_t *svc = src->services ? podenv_service_vars (pod, src->services) : json_object ();
    json_object_update (vars, svc); /* $(VAR) sees them; the container's own env overrides */
    json_array_foreach (tv_get (spec, "envFrom"), i, x) {
        int rc = env_from (pod, x, src, env, vars, warnings, err, errlen);
        if (rc) {
            json_decref (vars);
            json_decref (env);
            json_decref (svc);
            return rc;
        }
    }
    json_array_foreach (tv_get (spec, "env"), i, x) {
        const char *name = tv_str (x, "name");
        if (!name)
            continue;
        char *e = NULL;
        if (tv_get (x, "valueFrom")) {
            int rc = value_from (pod, spec, tv_get (x, "valueFrom"), src, &e, err, errlen);
            if (rc) {
                json_decref (vars);
                json_decref (env);
                json_decref (svc);
                return rc;
            }
            if (!e)
                continue; /* optional and absent */
        } else
            e = podenv_expand (tv_str (x, "value") ? tv_str (x, "value") : "", vars);
        env_set (env, vars, name, e);
        free (e);
    }
    /* the service variables the container does not define itself, after its own */
    const char *k;
    json_t *v;
    json_object_foreach (svc, k, v) {
        int defined = 0;
        json_array_foreach (env, i, x) defined |= !strcmp (tv_str (x, "name"), k);
        if (!defined)
            json_array_append_new (env, json_pack ("{s:s,s:O}", "name", k, "value", v));
    }
    json_decref (svc);
    *out = finish (spec, env, vars);
    return PODENV_OK;
}
