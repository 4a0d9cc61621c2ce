/* Every field of the supported kinds is honoured or refused, never silently ignored:
 * - docs/fields.md and the schema's markers agree, row by row;
 * - every refused field is refused with its path and "not supported yet", in a Pod and in the pod
 *   template of a Deployment and of a ReplicaSet, while the values that mean absence pass;
 * - every honoured or recorded field is accepted (tests/unit/fields_honoured.yaml holds them all);
 * - unknown fields still say "unknown field";
 * - the examples' YAML files and the manifests of the e2e scripts validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "core/value.h"
#include "core/yaml.h"
#include "tests/unit/schema_fixture.h"

static const char *
src_dir (void)
{
    return getenv ("TROUPE_SRC") ? getenv ("TROUPE_SRC") : "..";
}

static char *
read_text (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim (&text, &cap, '\0', f);
    fclose (f);
    if (n < 0) {
        free (text);
        return NULL;
    }
    return text;
}

static json_t *
load_docs (const char *text, const char *what)
{
    char err[256];
    json_t *docs = tr_yaml_load (text, strlen (text), err, sizeof err);
    if (!docs)
        fail_msg ("%s: yaml: %s", what, err);
    return docs;
}

static json_t *
load1 (const char *text)
{
    json_t *docs = load_docs (text, "inline");
    json_t *d = json_incref (json_array_get (docs, 0));
    json_decref (docs);
    return d;
}

/* 0 when valid; else -1 with err */
static int
check (json_t *obj, char *err, size_t errlen)
{
    schema_default (schemas, obj);
    return schema_validate (schemas, obj, err, errlen);
}

static void
expect_refused (const char *yaml, const char *needle)
{
    json_t *d = load1 (yaml);
    char err[800];
    if (check (d, err, sizeof err) == 0)
        fail_msg ("accepted: %s", yaml);
    if (!strstr (err, needle))
        fail_msg ("error \"%s\" lacks \"%s\"", err, needle);
    json_decref (d);
}

static void
expect_valid (const char *yaml)
{
    json_t *d = load1 (yaml);
    char err[800];
    if (check (d, err, sizeof err))
        fail_msg ("refused: %s\n  %s", err, yaml);
    json_decref (d);
}

/* ---- docs/fields.md against the schema ------------------------------------------------------- */

typedef struct {
    json_t *rows;  /* section -> path -> status */
    json_t *seen;  /* section -> path -> true */
    char problems[8192];
    size_t np;
} table_t;

static void
problem (table_t *t, const char *fmt, ...)
{
    size_t l = strlen (t->problems);
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (t->problems + l, sizeof t->problems - l, fmt, ap);
    va_end (ap);
    l = strlen (t->problems);
    snprintf (t->problems + l, sizeof t->problems - l, "\n");
    t->np++;
}

static void
trim (char *s)
{
    size_t n = strlen (s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    size_t k = strspn (s, " ");
    memmove (s, s + k, strlen (s + k) + 1);
}

static json_t *
parse_table (const char *text, table_t *t)
{
    json_t *rows = json_object ();
    char section[1024] = "";
    const char *line = text;
    while (line && *line) {
        const char *end = strchr (line, '\n');
        size_t n = end ? (size_t) (end - line) : strlen (line);
        char buf[1024];
        snprintf (buf, sizeof buf, "%.*s", (int) (n < sizeof buf - 1 ? n : sizeof buf - 1), line);
        if (!strncmp (buf, "## ", 3)) {
            snprintf (section, sizeof section, "%s", buf + 3);
            section[strcspn (section, " ")] = 0;
        } else if (!strncmp (buf, "| `", 3)) {
            char *f0 = buf + 3, *f1 = strchr (f0, '`');
            char *c2 = f1 ? strchr (f1, '|') : NULL;
            char *c3 = c2 ? strchr (c2 + 1, '|') : NULL;
            if (!f1 || !c2 || !c3) {
                problem (t, "fields.md: malformed row: %s", buf);
            } else {
                *f1 = 0;
                *c3 = 0;
                char status[64];
                snprintf (status, sizeof status, "%s", c2 + 1);
                trim (status);
                if (strcmp (status, "honoured") && strcmp (status, "recorded") && strcmp (status, "refused"))
                    problem (t, "fields.md: %s %s: status \"%s\" is not honoured, recorded or refused", section, f0, status);
                json_t *sec = json_object_get (rows, section);
                if (!sec) {
                    sec = json_object ();
                    json_object_set_new (rows, section, sec);
                }
                if (json_object_get (sec, f0))
                    problem (t, "fields.md: %s %s: two rows", section, f0);
                json_object_set_new (sec, f0, json_string (status));
            }
        }
        line = end ? end + 1 : NULL;
    }
    return rows;
}

static void
on_field_table (void *arg, const char *section, const char *path, const json_t *field, const char *unsupported)
{
    (void) field;
    table_t *t = arg;
    json_t *sec = json_object_get (t->rows, section);
    const char *status = json_string_value (sec ? json_object_get (sec, path) : NULL);
    if (!status) {
        problem (t, "fields.md lacks a row for %s `%s` (%s in the schema)", section, path, unsupported ? "refused" : "honoured");
        return;
    }
    json_t *ss = json_object_get (t->seen, section);
    if (!ss) {
        ss = json_object ();
        json_object_set_new (t->seen, section, ss);
    }
    json_object_set_new (ss, path, json_true ());
    int refused = !strcmp (status, "refused");
    if (refused && !unsupported)
        problem (t, "%s `%s`: fields.md says refused, the schema accepts it (no unsupported marker)", section, path);
    if (!refused && unsupported)
        problem (t, "%s `%s`: fields.md says %s, the schema refuses it (%s)", section, path, status, unsupported);
}

static void
table_matches_schema (void **state)
{
    (void) state;
    char path[1024];
    snprintf (path, sizeof path, "%s/docs/fields.md", src_dir ());
    char *text = read_text (path);
    if (!text)
        fail_msg ("cannot read %s (TROUPE_SRC)", path);
    table_t *t = calloc (1, sizeof *t);
    t->rows = parse_table (text, t);
    t->seen = json_object ();
    schema_fields_walk (schemas, on_field_table, t);
    const char *sec, *f;
    json_t *rows, *x;
    json_object_foreach (t->rows, sec, rows) json_object_foreach (rows, f, x) if (!json_object_get (json_object_get (t->seen, sec), f))
        problem (t, "fields.md has a row %s `%s` for a field the schema does not declare", sec, f);
    /* the walk itself must cover the kinds and the shared definitions */
    assert_non_null (json_object_get (t->seen, "PodSpec"));
    assert_non_null (json_object_get (t->seen, "Container"));
    assert_non_null (json_object_get (t->seen, "ObjectMeta"));
    assert_true (json_object_size (json_object_get (t->seen, "PodSpec")) >= 40);
    size_t np = t->np;
    if (np)
        print_error ("%s", t->problems);
    json_decref (t->rows);
    json_decref (t->seen);
    free (t);
    free (text);
    assert_int_equal (np, 0);
}

/* ---- every refused field is refused, everywhere a pod spec appears --------------------------- */

static const char *base_pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [sleep, '1']}]}\n";
static const char *base_deploy =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
    "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, command: [sleep, '1']}]}}}\n";
static const char *base_rs =
    "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {selector: {matchLabels: {a: b}}, "
    "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, command: [sleep, '1']}]}}}\n";

/* where a shared definition is placed to be tried (a template prefix: in a Deployment and a ReplicaSet) */
static const struct {
    const char *section, *prefix;
} embeds[] = {
    {"PodSpec", "spec"},         {"PodSpec", "spec.template.spec"},         {"Container", "spec.containers[0]"},
    {"Container", "spec.template.spec.containers[0]"}, {"ObjectMeta", "metadata"}, {"ObjectMeta", "spec.template.metadata"},
    {"Volume", "spec.volumes[0]"}, {"Volume", "spec.template.spec.volumes[0]"},
    {"Probe", "spec.containers[0].livenessProbe"}, {"Probe", "spec.template.spec.containers[0].readinessProbe"},
    {"LifecycleHandler", "spec.containers[0].lifecycle.preStop"},
    {"LifecycleHandler", "spec.template.spec.containers[0].lifecycle.postStart"},
    {"PodAffinityTerm", "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"},
    {"PodAffinityTerm", "spec.template.spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm"},
};

/* An array element created on the way to a field, with the fields it requires. */
static json_t *
new_element (const char *key)
{
    if (!strcmp (key, "env"))
        return json_pack ("{s:s}", "name", "A");
    if (!strcmp (key, "volumes"))
        return json_pack ("{s:s}", "name", "v");
    if (!strcmp (key, "volumeMounts"))
        return json_pack ("{s:s,s:s}", "name", "v", "mountPath", "/v");
    if (!strcmp (key, "ports"))
        return json_pack ("{s:i}", "containerPort", 80);
    if (!strcmp (key, "taints"))
        return json_pack ("{s:s,s:s}", "key", "k", "effect", "NoSchedule");
    if (!strcmp (key, "requiredDuringSchedulingIgnoredDuringExecution"))
        return json_pack ("{s:s}", "topologyKey", "kubernetes.io/hostname");
    if (!strcmp (key, "preferredDuringSchedulingIgnoredDuringExecution"))
        return json_pack ("{s:i,s:{s:s}}", "weight", 1, "podAffinityTerm", "topologyKey", "kubernetes.io/hostname");
    if (!strcmp (key, "ownerReferences"))
        return json_pack ("{s:s,s:s,s:s,s:s}", "apiVersion", "v1", "kind", "X", "name", "x", "uid", "1");
    return json_object ();
}

/* Sets a dotted path where "key[]" or "key[0]" steps into element 0 of an array (made if absent). */
static void
set_path (json_t *root, const char *path, json_t *val)
{
    char buf[1024];
    snprintf (buf, sizeof buf, "%s", path);
    json_t *cur = root;
    char *save = NULL;
    for (char *tok = strtok_r (buf, ".", &save); tok; tok = strtok_r (NULL, ".", &save)) {
        char *br = strchr (tok, '[');
        int last = save == NULL || *save == 0;
        if (br) {
            *br = 0;
            json_t *arr = json_object_get (cur, tok);
            if (!json_is_array (arr)) {
                arr = json_array ();
                json_object_set_new (cur, tok, arr);
            }
            if (!json_array_size (arr))
                json_array_append_new (arr, new_element (tok));
            cur = json_array_get (arr, 0);
            assert_false (last);
            continue;
        }
        if (last) {
            json_object_set_new (cur, tok, val);
            return;
        }
        json_t *next = json_object_get (cur, tok);
        if (!json_is_object (next)) {
            next = json_object ();
            json_object_set_new (cur, tok, next);
        }
        cur = next;
    }
}

/* The value at a dotted path, "key[]" stepping into the elements of an array (the first one that
 * holds the rest of the path). */
static json_t *
get_path (json_t *root, const char *path)
{
    if (!root || !*path)
        return root;
    size_t n = strcspn (path, ".");
    char tok[256];
    snprintf (tok, sizeof tok, "%.*s", (int) n, path);
    const char *rest = path[n] ? path + n + 1 : "";
    char *br = strchr (tok, '[');
    if (br)
        *br = 0;
    json_t *cur = json_object_get (root, tok);
    if (!br)
        return get_path (cur, rest);
    size_t i;
    json_t *e;
    json_array_foreach (cur, i, e) {
        json_t *got = get_path (e, rest);
        if (got)
            return got;
    }
    return NULL;
}

/* A value that does not mean absence and is not among the accepted ones. */
static json_t *
refused_value (const json_t *field)
{
    const char *type = tv_str (field, "type");
    json_t *acc = json_object_get (field, "accepts");
    if (!type) /* the otherKeys marker of a map: a value for the extra key */
        return json_string ("1");
    if (!strcmp (type, "boolean")) {
        json_t *t = json_true ();
        size_t i;
        json_t *a;
        json_array_foreach (acc, i, a) if (json_is_true (a)) {
            json_decref (t);
            return json_false ();
        }
        return t;
    }
    if (!strcmp (type, "integer"))
        return json_integer (7);
    if (!strcmp (type, "string"))
        return json_string ("x-unsupported");
    if (!strcmp (type, "array"))
        return json_pack ("[s]", "x");
    if (!strcmp (type, "map"))
        return json_pack ("{s:s}", "k", "1");
    return json_pack ("{s:s}", "x", "1");
}

static void
expand (char *out, size_t outlen, const char *prefix, const char *path)
{
    char p[512];
    snprintf (p, sizeof p, "%s", path);
    /* "[]" -> "[0]", "<other>" -> a resource name Kubernetes knows */
    char tmp[600] = "";
    for (const char *s = p; *s;) {
        size_t l = strlen (tmp);
        if (!strncmp (s, "[]", 2)) {
            snprintf (tmp + l, sizeof tmp - l, "[0]");
            s += 2;
        } else if (!strncmp (s, "<other>", 7)) {
            snprintf (tmp + l, sizeof tmp - l, "ephemeral-storage");
            s += 7;
        } else {
            snprintf (tmp + l, sizeof tmp - l, "%c", *s);
            s++;
        }
    }
    snprintf (out, outlen, "%s%s%s", prefix, *prefix ? "." : "", tmp);
}

typedef struct {
    int refused, checked, untested;
    char problems[8192];
} refuse_t;

static void
try_refusal (refuse_t *r, const char *base, const char *prefix, const char *path, const json_t *field, const char *why)
{
    json_t *obj = load1 (base);
    char full[700], err[800], want[900];
    expand (full, sizeof full, prefix, path);
    set_path (obj, full, refused_value (field));
    snprintf (want, sizeof want, "%s: Unsupported: not supported yet by Troupe: %s", full, why);
    int rc = check (obj, err, sizeof err);
    size_t l = strlen (r->problems);
    if (rc == 0)
        snprintf (r->problems + l, sizeof r->problems - l, "%s accepted in %s\n", full, tv_str (obj, "kind"));
    else if (!strstr (err, want))
        snprintf (r->problems + l, sizeof r->problems - l, "%s: error \"%s\" lacks \"%s\"\n", full, err, want);
    r->checked++;
    json_decref (obj);
}

static const char *
base_of_kind (const char *kind)
{
    static const struct {
        const char *kind, *yaml;
    } bases[] = {
        {"Pod", NULL},
        {"Deployment", NULL},
        {"ReplicaSet", NULL},
        {"ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
        {"Secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"},
        {"Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n"},
        {"Node", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n"},
        {"Lease", "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l, namespace: kube-node-lease}\n"},
        {"Event", "apiVersion: v1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {kind: Pod, name: p}\n"},
        {"Service", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n"},
        {"EndpointSlice", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\n"
                          "endpoints: [{addresses: [10.0.0.1]}]\n"},
    };
    if (!strcmp (kind, "Pod"))
        return base_pod;
    if (!strcmp (kind, "Deployment"))
        return base_deploy;
    if (!strcmp (kind, "ReplicaSet"))
        return base_rs;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        if (!strcmp (bases[i].kind, kind))
            return bases[i].yaml;
    return NULL;
}

static void
on_field_refuse (void *arg, const char *section, const char *path, const json_t *field, const char *why)
{
    refuse_t *r = arg;
    if (!why)
        return;
    r->refused++;
    int tried = 0;
    for (size_t i = 0; i < sizeof embeds / sizeof embeds[0]; i++) {
        if (strcmp (embeds[i].section, section))
            continue;
        const char *p = embeds[i].prefix;
        /* a pod spec lives in a Pod and in the template of both workload kinds */
        if (!strncmp (p, "spec.template", 13)) {
            try_refusal (r, base_deploy, p, path, field, why);
            try_refusal (r, base_rs, p, path, field, why);
        } else
            try_refusal (r, base_pod, p, path, field, why);
        tried = 1;
    }
    const char *kb = base_of_kind (section);
    if (kb) {
        try_refusal (r, kb, "", path, field, why);
        tried = 1;
    }
    if (!tried) {
        size_t l = strlen (r->problems);
        snprintf (r->problems + l, sizeof r->problems - l, "%s `%s` is refused but no test places it: add an embedding\n",
                  section, path);
        r->untested++;
    }
}

static void
refused_fields_say_not_supported (void **state)
{
    (void) state;
    refuse_t *r = calloc (1, sizeof *r);
    schema_fields_walk (schemas, on_field_refuse, r);
    if (r->problems[0])
        print_error ("%s", r->problems);
    int ok = !r->problems[0];
    /* at least the fields the issue names, each in a Pod and two templates */
    assert_true (r->refused >= 60);
    assert_true (r->checked >= 3 * 50);
    free (r);
    assert_true (ok);
    /* the message reads as the issue asks, in a Deployment's template */
    expect_refused ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {ephemeralContainers: [{name: e}], "
                    "containers: [{name: c, command: [sleep, '1']}]}}}\n",
                    "spec.template.spec.ephemeralContainers: Unsupported: not supported yet by Troupe: no ephemeral (debug) containers");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [sleep, '1'], "
                    "resources: {limits: {memory: 64Mi, hugepages-2Mi: 2Mi}}}]}\n",
                    "spec.containers[0].resources.limits.hugepages-2Mi: Unsupported: not supported yet");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, "
                    "securityContext: {seccompProfile: {type: Localhost, localhostProfile: x.json}}}]}\n",
                    "spec.containers[0].securityContext.seccompProfile.type: Unsupported value: \"Localhost\": not supported yet");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [sleep, '1'], "
                    "readinessProbe: {grpc: {port: 80}}}]}\n",
                    "spec.containers[0].readinessProbe.grpc: Unsupported: not supported yet");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [sleep, '1'], "
                    "livenessProbe: {httpGet: {port: 443, scheme: HTTPS}}}]}\n",
                    "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"HTTPS\": not supported yet");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [sleep, '1'], "
                    "livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 0}}]}\n",
                    "spec.containers[0].livenessProbe.periodSeconds");
    /* Kubernetes' rules across the container lists */
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {initContainers: [{name: i, command: [x], "
                    "readinessProbe: {exec: {command: [x]}}}], containers: [{name: c, command: [x]}]}\n",
                    "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers");
    expect_refused ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {initContainers: [{name: i, command: [x]}, "
                    "{name: j, command: [x], lifecycle: {preStop: {exec: {command: [x]}}}}], containers: [{name: c}]}}}\n",
                    "spec.template.spec.initContainers[1].lifecycle: Forbidden");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [x], "
                    "livenessProbe: {periodSeconds: 3}}]}\n",
                    "spec.containers[0].livenessProbe: Required value: must specify a handler type");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [x], "
                    "lifecycle: {preStop: {exec: {command: [x]}, tcpSocket: {port: 1}}}}]}\n",
                    "spec.containers[0].lifecycle.preStop: Forbidden: may not specify more than 1 handler type");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [x], "
                    "startupProbe: {exec: {command: [x]}, successThreshold: 2}}]}\n",
                    "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1");
    expect_valid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [x], "
                  "readinessProbe: {exec: {command: [x]}, successThreshold: 2}}]}\n");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {initContainers: [{name: c, command: [x]}], "
                    "containers: [{name: c, command: [x]}]}\n",
                    "spec.initContainers[0].name: Duplicate value: \"c\"");
    /* the second container is checked too, not only the first */
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, command: [x]}, "
                    "{name: b, command: [x], lifecycle: {preStop: {sleep: {seconds: 1}}}}]}\n",
                    "spec.containers[1].lifecycle.preStop.sleep: Unsupported: not supported yet");
}

static void
absent_equivalents_accepted (void **state)
{
    (void) state;
    /* the values that mean what absence means pass; others name what is accepted */
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostUsers: false, containers: [{name: c}]}\n",
                    "spec.hostUsers: Unsupported: not supported yet by Troupe: no user namespaces: containers run as the "
                    "host's users (accepted: true)");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {serviceAccountName: robot, containers: [{name: c}]}\n",
                    "spec.serviceAccountName: Unsupported");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {automountServiceAccountToken: true, containers: [{name: c}]}\n",
                    "spec.automountServiceAccountToken: Unsupported");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {os: {name: windows}, containers: [{name: c}]}\n",
                    "spec.os: Unsupported");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {runtimeClassName: kata, containers: [{name: c}]}\n",
                    "spec.runtimeClassName");
    expect_valid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, terminationMessagePath: /tmp/x}]}\n");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, terminationMessagePolicy: Always}]}\n",
                    "spec.containers[0].terminationMessagePolicy: Unsupported value");
    expect_refused ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {progressDeadlineSeconds: 60, "
                    "selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}\n",
                    "spec.progressDeadlineSeconds: Unsupported: not supported yet by Troupe: no progress deadline");
    expect_valid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {progressDeadlineSeconds: 600, "
                  "selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}\n");
    expect_valid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: 80, hostPort: 0}], "
                  "resources: {limits: {}, requests: {cpu: 1}}}], volumes: [], hostNetwork: false, securityContext: {}}\n");
    /* an accepted value still meets the field's own checks */
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostPID: '', containers: [{name: c}]}\n",
                    "spec.hostPID: Invalid type: expected boolean, got string");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: 'no', containers: [{name: c}]}\n",
                    "spec.hostNetwork: Invalid type: expected boolean, got string");
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {activeDeadlineSeconds: 0, containers: [{name: c}]}\n",
                    "spec.activeDeadlineSeconds: Invalid value: 0: must be greater than or equal to 1");
    /* a defaulted Pod is valid: defaulting never fills a refused value */
    json_t *d = load1 (base_pod);
    char err[800];
    assert_int_equal (check (d, err, sizeof err), 0);
    assert_string_equal (tv_str (d, "spec.dnsPolicy"), "ClusterFirst");
    assert_int_equal (schema_validate (schemas, d, err, sizeof err), 0);
    json_decref (d);
}


/* affinity, topology spread and priority fields: accepted when valid, refused with their path as
 * Kubernetes validates them, in a pod and in a workload's pod template */
static void
pod_with (const char *spec_extra, const char *needle)
{
    char y[2048];
    snprintf (y, sizeof y,
              "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, command: [sleep, '1']}], %s}\n",
              spec_extra);
    if (needle)
        expect_refused (y, needle);
    else
        expect_valid (y);
    /* the same in a Deployment's template: the path is under spec.template.spec */
    snprintf (y, sizeof y,
              "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
              "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, command: [sleep, '1']}], %s}}}\n",
              spec_extra);
    if (!needle) {
        expect_valid (y);
        return;
    }
    char n2[600];
    snprintf (n2, sizeof n2, "%s%s", strncmp (needle, "spec.", 5) ? "" : "spec.template.", needle);
    expect_refused (y, n2);
}

static void
scheduling_fields_validated (void **state)
{
    (void) state;
    const char *na = "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [";
    char y[1024];
    pod_with ("affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
              "[{matchExpressions: [{key: zone, operator: NotIn, values: [a]}, {key: n, operator: Lt, values: ['5']}]}, "
              "{matchFields: [{key: metadata.name, operator: In, values: [x]}]}]}}}", NULL);
    pod_with ("affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}",
              "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value");
    snprintf (y, sizeof y, "%s{matchExpressions: [{key: zone, operator: In, values: []}]}]}}}", na);
    pod_with (y, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]."
                 "matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
    snprintf (y, sizeof y, "%s{matchExpressions: [{key: zone, operator: Exists, values: [a]}]}]}}}", na);
    pod_with (y, "matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists'");
    snprintf (y, sizeof y, "%s{matchExpressions: [{key: a, operator: In, values: [x]}, {key: zone, operator: Gt, values: ['1', '2']}]}]}}}", na);
    pod_with (y, "nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'");
    snprintf (y, sizeof y, "%s{matchExpressions: [{key: zone, operator: Near, values: [a]}]}]}}}", na);
    pod_with (y, "matchExpressions[0].operator: Unsupported value: \"Near\"");
    snprintf (y, sizeof y, "%s{}, {matchFields: [{key: metadata.labels, operator: In, values: [a]}]}]}}}", na);
    pod_with (y, "nodeSelectorTerms[1].matchFields[0].key: Invalid value: \"metadata.labels\": not a valid field selector key");
    snprintf (y, sizeof y, "%s{matchFields: [{key: metadata.name, operator: In, values: [a, b]}]}]}}}", na);
    pod_with (y, "matchFields[0].values: Required value: must be only one value");
    snprintf (y, sizeof y, "%s{matchFields: [{key: metadata.name, operator: Exists}]}]}}}", na);
    pod_with (y, "matchFields[0].operator: Invalid value: \"Exists\": not a valid selector operator");
    pod_with ("affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 0, preference: {}}]}}",
              "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be greater than or equal to 1");
    pod_with ("affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 101, preference: {}}]}}",
              "preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 101: must be less than or equal to 100");
    pod_with ("affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {a: b}}}]}}",
              "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value");
    pod_with ("affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: ''}]}}",
              "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty");
    pod_with ("affinity: {podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 5, podAffinityTerm: {topologyKey: '', labelSelector: {}}}]}}",
              "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: Required value: can not be empty");
    pod_with ("affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, labelSelector: {matchExpressions: [{key: a, operator: In}]}}]}}",
              "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: Required value");
    pod_with ("affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, matchLabelKeys: [app]}]}}",
              "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys: Unsupported");
    pod_with ("affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, unknownThing: 1}]}}",
              "requiredDuringSchedulingIgnoredDuringExecution[0].unknownThing: unknown field");
    /* topology spread */
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: 3}, "
              "{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway}]", NULL);
    pod_with ("topologySpreadConstraints: [{maxSkew: 0, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]",
              "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than or equal to 1");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, whenUnsatisfiable: DoNotSchedule}]",
              "spec.topologySpreadConstraints[0].topologyKey: Required value");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: '', whenUnsatisfiable: DoNotSchedule}]",
              "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: Maybe}]",
              "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\"");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z}]",
              "spec.topologySpreadConstraints[0].whenUnsatisfiable: Required value");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: ScheduleAnyway, minDomains: 2}]",
              "spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: DoNotSchedule, minDomains: 0}]",
              "spec.topologySpreadConstraints[0].minDomains: Invalid value: 0");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Sometimes}]",
              "spec.topologySpreadConstraints[0].nodeTaintsPolicy: Unsupported value");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: DoNotSchedule}, "
              "{maxSkew: 2, topologyKey: y, whenUnsatisfiable: DoNotSchedule}, {maxSkew: 3, topologyKey: z, whenUnsatisfiable: DoNotSchedule}]",
              "spec.topologySpreadConstraints[2]: Duplicate value: \"{z, DoNotSchedule}\"");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: DoNotSchedule, matchLabelKeys: [app]}]",
              "spec.topologySpreadConstraints[0].matchLabelKeys: Forbidden: must not be specified when labelSelector is not set");
    pod_with ("topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: x}}, matchLabelKeys: [app]}]",
              "spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: \"app\": exists in both matchLabelKeys and labelSelector");
    /* priority */
    pod_with ("priorityClassName: high, priority: 5, preemptionPolicy: Never", NULL);
    pod_with ("priority: high", "spec.priority: Invalid type: expected integer");
    pod_with ("preemptionPolicy: Sometimes", "spec.preemptionPolicy: Unsupported value: \"Sometimes\"");
}

static void
refused_values (void **state)
{
    (void) state;
    expect_valid ("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {taints: [{key: k, effect: NoExecute}]}\n");
    expect_refused ("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {taints: [{key: k, effect: PreferNoSchedule}]}\n",
                    "spec.taints[0].effect: Unsupported value: \"PreferNoSchedule\": not supported yet");
    expect_refused ("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {taints: [{key: k, effect: Sometimes}]}\n",
                    "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values:");
    expect_valid ("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {taints: [{key: k, effect: NoSchedule}]}\n");
    expect_valid ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
                  "template: {metadata: {labels: {a: b}}, spec: {tolerations: [{operator: Exists, effect: NoExecute, "
                  "tolerationSeconds: 30}], containers: [{name: c}]}}}\n");
    expect_valid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {tolerations: [{operator: Exists}], containers: [{name: c}]}\n");
    expect_refused ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/service-account-token\n",
                    "type: Unsupported value: \"kubernetes.io/service-account-token\": not supported yet");
    expect_valid ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: example.com/mine\n");
    /* containers are identified by name: two with one name are refused, as Kubernetes does */
    expect_refused ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}, {name: x}, {name: c}]}}}\n",
                    "spec.template.spec.containers[2].name: Duplicate value: \"c\"");
    expect_valid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}, {name: b}]}\n");
    /* a workload's pods restart Always (Kubernetes refuses the others in a template) */
    expect_refused ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {restartPolicy: Never, containers: [{name: c}]}}}\n",
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"");
    expect_refused ("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {selector: {matchLabels: {a: b}}, "
                    "template: {metadata: {labels: {a: b}}, spec: {restartPolicy: OnFailure, containers: [{name: c}]}}}\n",
                    "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\"");
    expect_valid ("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {selector: {matchLabels: {a: b}}, "
                  "template: {metadata: {labels: {a: b}}, spec: {restartPolicy: Always, containers: [{name: c}]}}}\n");
    expect_valid ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {restartPolicy: Never, containers: [{name: c}]}\n");
    /* extended resources in requests: named as the key's path */
    expect_refused ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {requests: "
                    "{cpu: 1, nvidia.com/gpu: 1}}}]}\n",
                    "spec.containers[0].resources.requests.nvidia.com/gpu: Unsupported: not supported yet by Troupe: only cpu "
                    "and memory requests are counted by the scheduler");
}

static void
unknown_fields_still_unknown (void **state)
{
    (void) state;
    const char *cases[][2] = {
        {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {foo: 1, containers: [{name: c}]}\n", "spec.foo: unknown field"},
        {"apiVersion: v1\nkind: Pod\nmetadata: {name: p, foo: 1}\nspec: {containers: [{name: c}]}\n", "metadata.foo: unknown field"},
        {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, imagePolicy: x}]}\n",
         "spec.containers[0].imagePolicy: unknown field"},
        {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, "
         "template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}], initContainer: []}}}\n",
         "spec.template.spec.initContainer: unknown field"},
        {"apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\nspec: {foo: 1}\n", "spec.foo: unknown field"},
        {"apiVersion: v1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {name: p, foo: 1}\n", "involvedObject.foo: unknown field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *d = load1 (cases[i][0]);
        char err[800];
        assert_int_not_equal (check (d, err, sizeof err), 0);
        if (!strstr (err, cases[i][1]) || strstr (err, "not supported"))
            fail_msg ("error \"%s\" is not \"%s\"", err, cases[i][1]);
        json_decref (d);
    }
}

/* ---- every honoured field is accepted --------------------------------------------------------- */

typedef struct {
    json_t *docs; /* kind -> object */
    char problems[8192];
    int honoured;
} honoured_t;

static const struct {
    const char *section, *kind, *prefix;
} where[] = {
    {"ObjectMeta", "Pod", "metadata"},           {"PodSpec", "Pod", "spec"},
    {"Container", "Pod", "spec.containers[]"},    {"LabelSelector", "Deployment", "spec.selector"},
    {"PodTemplateSpec", "Deployment", "spec.template"}, {"ObjectReference", "Event", "involvedObject"},
    {"Volume", "Pod", "spec.volumes[]"},          {"KeyToPath", "Pod", "spec.volumes[].configMap.items[]"},
    {"DownwardAPIVolumeFile", "Pod", "spec.volumes[].downwardAPI.items[]"},
    {"ObjectFieldSelector", "Pod", "spec.containers[].env[].valueFrom.fieldRef"},
    {"ResourceFieldSelector", "Pod", "spec.containers[].env[].valueFrom.resourceFieldRef"},
    {"Probe", "Pod", "spec.containers[].livenessProbe"},  {"Probe", "Pod", "spec.containers[].readinessProbe"},
    {"Probe", "Pod", "spec.containers[].startupProbe"},   {"LifecycleHandler", "Pod", "spec.containers[].lifecycle.postStart"},
    {"LifecycleHandler", "Pod", "spec.containers[].lifecycle.preStop"},
    {"LifecycleHandler", "Deployment", "spec.template.spec.containers[].lifecycle.postStart"},
    {"HTTPGetAction", "Pod", "spec.containers[].livenessProbe.httpGet"},
    {"TCPSocketAction", "Pod", "spec.containers[].startupProbe.tcpSocket"},
    {"Affinity", "Pod", "spec.affinity"},
    {"NodeSelector", "Pod", "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"},
    {"NodeSelectorTerm", "Pod", "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[]"},
    {"NodeSelectorRequirement", "Pod", "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[].matchExpressions[]"},
    {"PodAffinity", "Pod", "spec.affinity.podAffinity"},
    {"PodAffinityTerm", "Pod", "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[]"},
    {"TopologySpreadConstraint", "Pod", "spec.topologySpreadConstraints[]"},
};

/* The path is set in one of the kind's documents of fields_honoured.yaml. */
static int
in_some_doc (const json_t *docs, const char *kind, const char *path)
{
    size_t i;
    json_t *d;
    json_array_foreach (json_object_get (docs, kind), i, d)
        if (get_path (d, path))
            return 1;
    return 0;
}

static void
on_field_honoured (void *arg, const char *section, const char *path, const json_t *field, const char *why)
{
    (void) field;
    honoured_t *h = arg;
    if (why)
        return;
    h->honoured++;
    /* a shared definition placed in several spots: found in any of them */
    const char *kind = section, *prefix = "";
    char full[700];
    int found = 0, placed = 0;
    for (size_t i = 0; i < sizeof where / sizeof where[0] && !found; i++)
        if (!strcmp (where[i].section, section)) {
            kind = where[i].kind;
            prefix = where[i].prefix;
            placed = 1;
            snprintf (full, sizeof full, "%s.%s", prefix, path);
            found = in_some_doc (h->docs, kind, full);
        }
    if (!placed) {
        snprintf (full, sizeof full, "%s", path);
        found = in_some_doc (h->docs, kind, full);
    }
    if (!found) {
        size_t l = strlen (h->problems);
        snprintf (h->problems + l, sizeof h->problems - l, "%s `%s` (%s %s) is honoured but fields_honoured.yaml lacks it\n",
                  section, path, kind, full);
    }
}

static void
honoured_fields_accepted (void **state)
{
    (void) state;
    char path[1024];
    snprintf (path, sizeof path, "%s/tests/unit/fields_honoured.yaml", src_dir ());
    char *text = read_text (path);
    if (!text)
        fail_msg ("cannot read %s", path);
    json_t *docs = load_docs (text, path);
    honoured_t *h = calloc (1, sizeof *h);
    h->docs = json_object ();
    size_t i;
    json_t *d;
    json_array_foreach (docs, i, d) {
        /* before defaulting: the file's own fields; a kind may have several documents (exclusive fields) */
        json_t *same = json_object_get (h->docs, tv_str (d, "kind"));
        if (!same)
            json_object_set_new (h->docs, tv_str (d, "kind"), same = json_array ());
        json_array_append (same, d);
        json_t *c = json_deep_copy (d);
        char err[800];
        if (check (c, err, sizeof err))
            fail_msg ("fields_honoured.yaml: %s %s: %s", tv_str (d, "kind"), tv_str (d, "metadata.name"), err);
        json_decref (c);
    }
    schema_fields_walk (schemas, on_field_honoured, h);
    int ok = !h->problems[0];
    if (!ok)
        print_error ("%s", h->problems);
    assert_true (h->honoured >= 100);
    json_decref (h->docs);
    free (h);
    json_decref (docs);
    free (text);
    assert_true (ok);
}

static void
secret_data (void **state)
{
    (void) state;
    /* stringData is write-only: merged into data base64-encoded, overriding the same key */
    json_t *s = load1 ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: eA==, b: eQ==}\nstringData: {b: hello, c: ''}\n");
    char err[800];
    if (check (s, err, sizeof err))
        fail_msg ("%s", err);
    assert_null (tv_get (s, "stringData"));
    assert_string_equal (tv_str (s, "data.a"), "eA==");
    assert_string_equal (tv_str (s, "data.b"), "aGVsbG8=");
    assert_string_equal (tv_str (s, "data.c"), "");
    assert_string_equal (tv_str (s, "type"), "Opaque");
    json_decref (s);
    expect_refused ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: not base64!}\n",
                    "data.k: Invalid value: \"not base64!\": must be base64");
    expect_refused ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: abc}\n", "data.k: Invalid value");
    expect_refused ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: [1]}\n", "stringData.k");
    expect_refused ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbinaryData: {k: '=abc'}\n", "binaryData.k: Invalid value");
    /* schema_convert: the same conversion without defaults, for a client comparing with the stored object */
    json_t *m = load1 ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {b: hello}\n");
    assert_int_equal (schema_convert (schemas, m), 0);
    assert_null (tv_get (m, "stringData"));
    assert_string_equal (tv_str (m, "data.b"), "aGVsbG8=");
    assert_null (tv_get (m, "type")); /* no default filled */
    json_decref (m);
    m = load1 ("apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n");
    assert_int_equal (schema_convert (schemas, m), -1);
    json_decref (m);
    expect_refused ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nimmutable: true\n",
                    "immutable: Unsupported: not supported yet by Troupe: immutable Secrets are not enforced");
}

/* ---- shipped manifests ------------------------------------------------------------------------- */

static int
validate_all (json_t *docs, const char *what)
{
    int bad = 0;
    size_t i;
    json_t *d;
    json_array_foreach (docs, i, d) {
        if (!tv_str (d, "kind"))
            continue;
        char err[800];
        json_t *c = json_deep_copy (d);
        if (check (c, err, sizeof err)) {
            print_error ("%s: %s %s: %s\n", what, tv_str (d, "kind"), tv_str (d, "metadata.name"), err);
            bad++;
        }
        json_decref (c);
    }
    return bad;
}

static int
each_file (const char *dir, const char *suffix, int (*fn) (const char *path, const char *text, int *count), int *count)
{
    DIR *dd = opendir (dir);
    if (!dd)
        fail_msg ("cannot open %s", dir);
    int bad = 0;
    struct dirent *e;
    while ((e = readdir (dd))) {
        size_t n = strlen (e->d_name), s = strlen (suffix);
        if (n <= s || strcmp (e->d_name + n - s, suffix))
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = read_text (path);
        if (!text)
            fail_msg ("cannot read %s", path);
        bad += fn (path, text, count);
        free (text);
    }
    closedir (dd);
    return bad;
}

static int
check_yaml_file (const char *path, const char *text, int *count)
{
    json_t *docs = load_docs (text, path);
    *count += (int) json_array_size (docs);
    int bad = validate_all (docs, path);
    json_decref (docs);
    return bad;
}

/* the manifests of e2e scripts are here-documents "<<Y" ... "Y" */
static int
check_heredocs (const char *path, const char *text, int *count)
{
    int bad = 0;
    for (const char *p = strstr (text, "<<Y\n"); p; p = strstr (p, "<<Y\n")) {
        p += 4;
        const char *end = strstr (p, "\nY\n");
        if (!end)
            break;
        char *yaml = strndup (p, (size_t) (end - p) + 1);
        /* an unquoted here-document unescapes \$, \` and \\ (variables stay as their names) */
        char *w = yaml;
        for (const char *r = yaml; *r; r++) {
            if (*r == '\\' && (r[1] == '$' || r[1] == '`' || r[1] == '\\'))
                r++;
            *w++ = *r;
        }
        *w = 0;
        if (strstr (yaml, "kind:")) {
            json_t *docs = load_docs (yaml, path);
            *count += (int) json_array_size (docs);
            bad += validate_all (docs, path);
            json_decref (docs);
        }
        free (yaml);
        p = end;
    }
    return bad;
}

static void
shipped_manifests_validate (void **state)
{
    (void) state;
    char dir[1024];
    int count = 0, bad = 0;
    snprintf (dir, sizeof dir, "%s/examples", src_dir ());
    bad += each_file (dir, ".yaml", check_yaml_file, &count);
    int examples = count;
    snprintf (dir, sizeof dir, "%s/tests/e2e", src_dir ());
    bad += each_file (dir, ".sh", check_heredocs, &count);
    assert_true (examples >= 4);      /* hello.yaml and web.yaml's three */
    assert_true (count >= examples + 3); /* single_node, split, ha, extension */
    assert_int_equal (bad, 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (table_matches_schema),    cmocka_unit_test (refused_fields_say_not_supported),
        cmocka_unit_test (absent_equivalents_accepted), cmocka_unit_test (refused_values), cmocka_unit_test (scheduling_fields_validated),
        cmocka_unit_test (unknown_fields_still_unknown), cmocka_unit_test (honoured_fields_accepted),
        cmocka_unit_test (secret_data),             cmocka_unit_test (shipped_manifests_validate),
    };
    return cmocka_run_group_tests (tests, schema_fixture_setup, schema_fixture_teardown);
}
