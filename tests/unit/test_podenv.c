/* podenv: Kubernetes' $(VAR_NAME) expansion of command, args and env values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "actors/agent/podenv.h"
#include "core/value.h"

static void
expect (const char *in, const json_t *vars, const char *want)
{
    char *got = podenv_expand (in, vars);
    if (strcmp (got, want))
        fail_msg ("expand \"%s\": got \"%s\", want \"%s\"", in, got, want);
    free (got);
}

static void
expand_rules (void **state)
{
    (void) state;
    json_t *v = json_pack ("{s:s,s:s,s:s}", "A", "alpha", "B_2", "b", "EMPTY", "");
    expect ("", v, "");
    expect ("plain", v, "plain");
    expect ("$(A)", v, "alpha");
    expect ("x$(A)y$(B_2)z", v, "xalphaybz");
    expect ("[$(EMPTY)]", v, "[]");
    expect ("$(MISSING)", v, "$(MISSING)");           /* undefined: unchanged */
    expect ("tick $(date +%T)", v, "tick $(date +%T)"); /* a shell's command substitution survives */
    expect ("$$(A)", v, "$(A)");                       /* escaped */
    expect ("$$$(A)", v, "$alpha");
    expect ("cost: $$5", v, "cost: $5");
    expect ("echo $$", v, "echo $");
    expect ("$A $HOME", v, "$A $HOME"); /* shell variables are not Kubernetes references */
    expect ("$(A", v, "$(A");           /* never closed */
    expect ("end$", v, "end$");
    expect ("$(A)$(A)", NULL, "$(A)$(A)");
    json_decref (v);
}

static void
container_env_order (void **state)
{
    (void) state;
    json_t *spec = json_pack ("{s:s,s:[s,s],s:[s,s],s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s},{s:s,s:s}]}", "name", "c",
                              "command", "/bin/sh", "-c", "args", "echo $(GREETING) $(LATE) $$(GREETING)", "$(NOPE)",
                              "env", "name", "WHO", "value", "world", "name", "GREETING", "value", "hello $(WHO) $(LATE)",
                              "name", "LATE", "value", "late", "name", "BLANK", "name", "WHO", "value", "again");
    json_t *out = podenv_container (spec);
    /* env values see only what was defined before them */
    json_t *env = tv_get (out, "env");
    assert_int_equal (json_array_size (env), 4); /* WHO defined twice: one entry, the last value */
    assert_string_equal (tv_str (json_array_get (env, 0), "name"), "WHO");
    assert_string_equal (tv_str (json_array_get (env, 0), "value"), "again");
    assert_string_equal (tv_str (json_array_get (env, 1), "value"), "hello world $(LATE)");
    assert_string_equal (tv_str (json_array_get (env, 3), "value"), "");
    /* command and args see all of it */
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "command"), 0)), "/bin/sh");
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "args"), 0)),
                         "echo hello world $(LATE) late $(GREETING)");
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "args"), 1)), "$(NOPE)");
    json_decref (out);
    json_decref (spec);
    /* absent lists stay absent */
    spec = json_pack ("{s:s}", "name", "c");
    out = podenv_container (spec);
    assert_int_equal (json_object_size (out), 0);
    json_decref (out);
    json_decref (spec);
}


/* A pod, the objects the agent read, and the facts of the node. */
static json_t *
pod_of (const char *containers_json)
{
    json_error_t e;
    json_t *c = json_loads (containers_json, 0, &e);
    if (!c)
        fail_msg ("bad json: %s", e.text);
    json_t *p = json_pack ("{s:{s:s,s:s,s:s,s:{s:s,s:s},s:{s:s}},s:{s:s,s:o},s:{s:s}}", "metadata", "name", "web-1", "namespace",
                           "ns1", "uid", "u-123", "labels", "app", "web", "tier", "front", "annotations", "note", "say \"hi\"",
                           "spec", "nodeName", "n1", "containers", c, "status", "podIP", "10.0.0.9");
    return p;
}

static json_t *
objs_of (void)
{
    /* Secret data is base64: "s3cret" = czNjcmV0, "u" = dQ== */
    return json_pack ("{s:{s:{s:s,s:s,s:s}},s:{s:{s:s,s:s}},s:n}", "ConfigMap/ns1/cfg", "data", "mode", "fast", "level", "3",
                      "bad-key!", "x", "Secret/ns1/creds", "data", "password", "czNjcmV0", "user", "dQ==",
                      "ConfigMap/ns1/gone");
}

static const char *
env_of (const json_t *out, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach (tv_get (out, "env"), i, x) if (!strcmp (tv_str (x, "name"), name)) return tv_str (x, "value");
    return NULL;
}

static int
resolve (const char *containers, json_t **out, json_t *warnings, char *err)
{
    json_t *pod = pod_of (containers), *objs = objs_of ();
    podenv_src_t src = {.objs = objs, .pod_ip = "10.88.0.7", .host_ip = "192.168.1.2", .alloc_cpu_milli = 4000,
                        .alloc_mem_bytes = 8LL << 30};
    int rc = podenv_resolve (pod, json_array_get (tv_get (pod, "spec.containers"), 0), &src, out, warnings, err, 300);
    json_decref (pod);
    json_decref (objs);
    return rc;
}

static void
value_from_sources (void **state)
{
    (void) state;
    json_t *out = NULL;
    char err[300];
    assert_int_equal (
        resolve ("[{\"name\":\"c\",\"command\":[\"echo\",\"$(MODE)-$(PASS)\"],\"env\":["
                 "{\"name\":\"MODE\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"mode\"}}},"
                 "{\"name\":\"PASS\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"creds\",\"key\":\"password\"}}},"
                 "{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
                 "{\"name\":\"HOST\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.hostIP\"}}},"
                 "{\"name\":\"NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
                 "{\"name\":\"NS\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.namespace\"}}},"
                 "{\"name\":\"UID\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.uid\"}}},"
                 "{\"name\":\"TIER\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['tier']\"}}},"
                 "{\"name\":\"NOTE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.annotations['note']\"}}},"
                 "{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}},"
                 "{\"name\":\"SA\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.serviceAccountName\"}}},"
                 "{\"name\":\"OPT\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"gone\",\"key\":\"x\",\"optional\":true}}},"
                 "{\"name\":\"OPTKEY\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"creds\",\"key\":\"nope\",\"optional\":true}}},"
                 "{\"name\":\"BOTH\",\"value\":\"$(MODE)/$(USER)\"}]}]",
                 &out, NULL, err),
        PODENV_OK);
    assert_string_equal (env_of (out, "MODE"), "fast");
    assert_string_equal (env_of (out, "PASS"), "s3cret"); /* decoded */
    assert_string_equal (env_of (out, "IP"), "10.88.0.7"); /* the sandbox's, not the stale status */
    assert_string_equal (env_of (out, "HOST"), "192.168.1.2");
    assert_string_equal (env_of (out, "NAME"), "web-1");
    assert_string_equal (env_of (out, "NS"), "ns1");
    assert_string_equal (env_of (out, "UID"), "u-123");
    assert_string_equal (env_of (out, "TIER"), "front");
    assert_string_equal (env_of (out, "NOTE"), "say \"hi\"");
    assert_string_equal (env_of (out, "NODE"), "n1");
    assert_string_equal (env_of (out, "SA"), "default");
    assert_null (env_of (out, "OPT"));    /* optional and missing: left out */
    assert_null (env_of (out, "OPTKEY")); /* optional key missing: left out */
    assert_string_equal (env_of (out, "BOTH"), "fast/$(USER)");
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "command"), 1)), "fast-s3cret");
    json_decref (out);
}

static void
value_from_failures (void **state)
{
    (void) state;
    json_t *out = NULL;
    char err[300];
    assert_int_equal (resolve ("[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"gone\",\"key\":\"x\"}}}]}]",
                               &out, NULL, err),
                      PODENV_ERROR);
    assert_string_equal (err, "configmap \"gone\" not found");
    assert_null (out);
    assert_int_equal (resolve ("[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"nokey\"}}}]}]",
                               &out, NULL, err),
                      PODENV_ERROR);
    assert_string_equal (err, "couldn't find key nokey in ConfigMap ns1/cfg");
    assert_int_equal (resolve ("[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"creds\",\"key\":\"nokey\"}}}]}]",
                               &out, NULL, err),
                      PODENV_ERROR);
    assert_string_equal (err, "couldn't find key nokey in Secret ns1/creds");
    /* an object never read: pending, not an error */
    assert_int_equal (resolve ("[{\"name\":\"c\",\"envFrom\":[{\"secretRef\":{\"name\":\"unread\"}}]}]", &out, NULL, err), PODENV_PENDING);
    assert_int_equal (resolve ("[{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"gone\"}}]}]", &out, NULL, err), PODENV_ERROR);
    assert_string_equal (err, "configmap \"gone\" not found");
    assert_int_equal (resolve ("[{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"gone\",\"optional\":true}}]}]", &out, NULL, err),
                      PODENV_OK);
    json_decref (out);
}

static void
env_from_prefix_and_order (void **state)
{
    (void) state;
    json_t *out = NULL, *warn = json_array ();
    char err[300];
    assert_int_equal (resolve ("[{\"name\":\"c\",\"envFrom\":[{\"prefix\":\"CFG_\",\"configMapRef\":{\"name\":\"cfg\"}},"
                               "{\"secretRef\":{\"name\":\"creds\"}}],"
                               "\"env\":[{\"name\":\"CFG_mode\",\"value\":\"env-wins-$(user)\"}]}]",
                               &out, warn, err),
                      PODENV_OK);
    assert_string_equal (env_of (out, "CFG_level"), "3");
    assert_string_equal (env_of (out, "CFG_mode"), "env-wins-u"); /* env after envFrom, seeing its values */
    assert_string_equal (env_of (out, "password"), "s3cret");
    assert_null (env_of (out, "CFG_bad-key!"));
    assert_int_equal (json_array_size (warn), 1);
    assert_non_null (strstr (json_string_value (json_array_get (warn, 0)), "Keys [CFG_bad-key!] from the EnvFrom configMap ns1/cfg were skipped"));
    /* the place of the first definition is kept */
    size_t n = json_array_size (tv_get (out, "env"));
    assert_int_equal (n, 4);
    json_decref (out);
    json_decref (warn);
}

static void
resource_field_refs (void **state)
{
    (void) state;
    json_t *out = NULL;
    char err[300];
    assert_int_equal (
        resolve ("[{\"name\":\"c\",\"resources\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"128Mi\"},\"requests\":{\"memory\":\"64Mi\"}},\"env\":["
                 "{\"name\":\"LCPU\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\"}}},"
                 "{\"name\":\"LCPUM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\",\"divisor\":\"1m\"}}},"
                 "{\"name\":\"LMEM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.memory\",\"divisor\":\"1Mi\"}}},"
                 "{\"name\":\"RMEM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"requests.memory\"}}},"
                 "{\"name\":\"RCPU\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"requests.cpu\",\"divisor\":\"1m\"}}}]},"
                 "{\"name\":\"free\",\"env\":[]}]",
                 &out, NULL, err),
        PODENV_OK);
    assert_string_equal (env_of (out, "LCPU"), "2"); /* 1.5 rounded up */
    assert_string_equal (env_of (out, "LCPUM"), "1500");
    assert_string_equal (env_of (out, "LMEM"), "128");
    assert_string_equal (env_of (out, "RMEM"), "67108864");
    assert_string_equal (env_of (out, "RCPU"), "1500"); /* no request: the limit */
    json_decref (out);
    /* no limits: the node's allocatable; another container by name */
    json_t *pod = pod_of ("[{\"name\":\"a\"},{\"name\":\"b\",\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}}]");
    podenv_src_t src = {.alloc_cpu_milli = 4000, .alloc_mem_bytes = 8LL << 30};
    char *v;
    json_t *ref = json_pack ("{s:s}", "resource", "limits.memory");
    assert_int_equal (podenv_resource (pod, "a", ref, &src, &v, err, sizeof err), PODENV_OK);
    assert_string_equal (v, "8589934592");
    free (v);
    json_object_set_new (ref, "containerName", json_string ("b"));
    assert_int_equal (podenv_resource (pod, "a", ref, &src, &v, err, sizeof err), PODENV_OK);
    assert_string_equal (v, "1073741824");
    free (v);
    json_object_set_new (ref, "resource", json_string ("limits.cpu"));
    json_object_del (ref, "containerName");
    assert_int_equal (podenv_resource (pod, "a", ref, &src, &v, err, sizeof err), PODENV_OK);
    assert_string_equal (v, "4");
    free (v);
    json_object_set_new (ref, "resource", json_string ("limits.ephemeral-storage"));
    assert_int_equal (podenv_resource (pod, "a", ref, &src, &v, err, sizeof err), PODENV_ERROR);
    json_decref (ref);
    /* whole label map, sorted, quoted */
    assert_int_equal (podenv_field (pod, "metadata.labels", &src, &v, err, sizeof err), PODENV_OK);
    assert_string_equal (v, "app=\"web\"\ntier=\"front\"");
    free (v);
    assert_int_equal (podenv_field (pod, "metadata.annotations", &src, &v, err, sizeof err), PODENV_OK);
    assert_string_equal (v, "note=\"say \\\"hi\\\"\"");
    free (v);
    assert_int_equal (podenv_field (pod, "status.phase", &src, &v, err, sizeof err), PODENV_ERROR);
    json_decref (pod);
}

static void
refs_collected (void **state)
{
    (void) state;
    json_t *pod = pod_of ("[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"k\"}}}],"
                          "\"envFrom\":[{\"secretRef\":{\"name\":\"creds\"}}]}]");
    json_t *set = json_object ();
    podenv_refs (pod, set);
    assert_int_equal (json_object_size (set), 2);
    assert_non_null (json_object_get (set, "ConfigMap/ns1/cfg"));
    assert_non_null (json_object_get (set, "Secret/ns1/creds"));
    json_decref (set);
    json_decref (pod);
}

static json_t *
svc_obj (const char *ns, const char *name, const char *ip, const char *ports_json)
{
    json_error_t e;
    json_t *ports = json_loads (ports_json, 0, &e);
    return json_pack ("{s:s,s:{s:s,s:s},s:{s:s,s:o}}", "kind", "Service", "metadata", "namespace", ns, "name", name, "spec",
                      "clusterIP", ip, "ports", ports);
}

static const char *
env_value (const json_t *env, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach (env, i, e) if (!strcmp (tv_str (e, "name"), name)) return tv_str (e, "value");
    return NULL;
}

/* the kubelet's service environment: names, Docker link variables, the pod's namespace only (and
 * default/kubernetes), no headless, enableServiceLinks false, own env wins, $(VAR) sees them */
static void
service_links (void **state)
{
    (void) state;
    json_t *svcs = json_pack ("[o,o,o,o,o]",
                              svc_obj ("default", "my-web", "10.96.0.20",
                                       "[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"},{\"name\":\"dns-udp\",\"port\":53,\"protocol\":\"UDP\"}]"),
                              svc_obj ("default", "headless", "None", "[{\"port\":80}]"),
                              svc_obj ("other", "far", "10.96.0.30", "[{\"port\":80}]"),
                              svc_obj ("default", "kubernetes", "10.96.0.1", "[{\"name\":\"https\",\"port\":443}]"),
                              svc_obj ("default", "override", "10.96.0.40", "[{\"port\":8080}]"));
    json_t *pod = json_pack ("{s:{s:s,s:s},s:{}}", "metadata", "name", "p", "namespace", "default", "spec");
    json_t *v = podenv_service_vars (pod, svcs);
    assert_string_equal (tv_str (v, "MY_WEB_SERVICE_HOST"), "10.96.0.20");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_SERVICE_PORT")), "80");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_SERVICE_PORT_HTTP")), "80");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_SERVICE_PORT_DNS_UDP")), "53");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_PORT")), "tcp://10.96.0.20:80");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_PORT_80_TCP")), "tcp://10.96.0.20:80");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_PORT_80_TCP_PROTO")), "tcp");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_PORT_80_TCP_PORT")), "80");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_PORT_80_TCP_ADDR")), "10.96.0.20");
    assert_string_equal (json_string_value (json_object_get (v, "MY_WEB_PORT_53_UDP")), "udp://10.96.0.20:53");
    assert_string_equal (json_string_value (json_object_get (v, "KUBERNETES_SERVICE_HOST")), "10.96.0.1");
    assert_null (json_object_get (v, "HEADLESS_SERVICE_HOST"));
    assert_null (json_object_get (v, "FAR_SERVICE_HOST"));
    json_decref (v);
    /* enableServiceLinks: false leaves only default/kubernetes */
    tv_set (pod, "spec.enableServiceLinks", json_false ());
    v = podenv_service_vars (pod, svcs);
    assert_null (json_object_get (v, "MY_WEB_SERVICE_HOST"));
    assert_non_null (json_object_get (v, "KUBERNETES_SERVICE_HOST"));
    json_decref (v);
    /* in a container: after its own env, which wins; $(VAR) expands them */
    json_object_del (json_object_get (pod, "spec"), "enableServiceLinks");
    json_t *spec = json_pack ("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:[s,s]}", "name", "c", "env", "name", "OVERRIDE_SERVICE_HOST",
                              "value", "mine", "name", "URL", "value", "http://$(MY_WEB_SERVICE_HOST):$(MY_WEB_SERVICE_PORT)/",
                              "command", "echo", "$(KUBERNETES_SERVICE_PORT)");
    podenv_src_t src = {.services = svcs};
    json_t *out = NULL;
    char err[200];
    assert_int_equal (podenv_resolve (pod, spec, &src, &out, NULL, err, sizeof err), PODENV_OK);
    json_t *env = json_object_get (out, "env");
    assert_string_equal (tv_str (json_array_get (env, 0), "name"), "OVERRIDE_SERVICE_HOST");
    assert_string_equal (env_value (env, "OVERRIDE_SERVICE_HOST"), "mine");
    assert_string_equal (env_value (env, "URL"), "http://10.96.0.20:80/");
    assert_string_equal (env_value (env, "MY_WEB_SERVICE_HOST"), "10.96.0.20");
    assert_string_equal (json_string_value (json_array_get (json_object_get (out, "command"), 1)), "443");
    size_t n = 0, i;
    json_t *e;
    json_array_foreach (env, i, e) n += !strcmp (tv_str (e, "name"), "OVERRIDE_SERVICE_HOST");
    assert_int_equal (n, 1);
    json_decref (out);
    json_decref (spec);
    json_decref (pod);
    json_decref (svcs);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (expand_rules), cmocka_unit_test (container_env_order),
                                       cmocka_unit_test (value_from_sources), cmocka_unit_test (value_from_failures),
                                       cmocka_unit_test (env_from_prefix_and_order), cmocka_unit_test (resource_field_refs),
                                       cmocka_unit_test (refs_collected), cmocka_unit_test (service_links)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
