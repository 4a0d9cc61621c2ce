/* broker + store actor in one process: what a write may change, through the object, the status
 * subresource and pods/binding (broker/immutable.h) — pod spec immutability, nodeName set once by
 * a binding, apps/v1 selectors, status and spec kept apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/store/store_actor.h"
#include "broker/broker.h"
#include "core/client.h"
#include "core/value.h"

typedef struct {
    char dir[256];
    char local[600];
    char tcp[64];
    zactor_t *store, *broker;
    zcert_t *server, *node1;
} fx_t;

static int
setup (void **state)
{
    fx_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/troupe-tbs-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char path[512], pki[400], store[400];
    snprintf (pki, sizeof pki, "%s/pki", f->dir);
    snprintf (path, sizeof path, "%s/clients", pki);
    mkdir (pki, 0700);
    mkdir (path, 0700);
    snprintf (store, sizeof store, "%s/store", f->dir);
    mkdir (store, 0700);
    f->server = zcert_new ();
    snprintf (path, sizeof path, "%s/server.cert", pki);
    zcert_save (f->server, path);
    f->node1 = zcert_new ();
    zcert_set_meta (f->node1, "name", "n1");
    zcert_set_meta (f->node1, "role", "node");
    snprintf (path, sizeof path, "%s/clients/n1.cert", pki);
    zcert_save_public (f->node1, path);
    snprintf (f->local, sizeof f->local, "inproc://tbs-broker-%d", getpid ());
    int port = 20000 + (getpid () + 6000) % 12000; /* below the ephemeral ports; not test_broker's */
    snprintf (f->tcp, sizeof f->tcp, "tcp://127.0.0.1:%d", port);
    char sep[64];
    snprintf (sep, sizeof sep, "inproc://tbs-store-%d", getpid ());
    f->store = store_actor_new (store, sep);
    assert_non_null (f->store);
    broker_opts_t o = {.store_endpoint = sep, .local_endpoints = f->local, .tcp_endpoint = f->tcp, .pki_dir = pki};
    f->broker = broker_new (&o);
    assert_non_null (f->broker);
    *state = f;
    return 0;
}

static int
teardown (void **state)
{
    fx_t *f = *state;
    zactor_destroy (&f->broker);
    zactor_destroy (&f->store);
    zcert_destroy (&f->server);
    zcert_destroy (&f->node1);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

/* Sends one request (body and opts stolen); returns the reply's code (TR_TIMEOUT if none). */
static int
call (tr_client_t *c, tr_verb_t verb, const char *kind, const char *name, uint64_t rv, json_t *body, json_t *opts,
      tr_env_t *out)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    snprintf (req.kind, sizeof req.kind, "%s", kind);
    snprintf (req.ns, sizeof req.ns, "default");
    if (name)
        snprintf (req.name, sizeof req.name, "%s", name);
    req.rv = rv;
    req.body = body;
    req.opts = opts;
    int rc = tr_client_call (c, &req, &rep, 5000);
    tr_env_clear (&req);
    if (rc)
        return TR_TIMEOUT;
    int code = rep.code;
    if (out)
        *out = rep;
    else
        tr_env_clear (&rep);
    return code;
}

static json_t *
sub (const char *s)
{
    return json_pack ("{s:s}", "subresource", s);
}

/* The stored object (caller frees). */
static json_t *
get (tr_client_t *c, const char *kind, const char *name)
{
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_GET, kind, name, 0, NULL, NULL, &rep), TR_OK);
    json_t *o = json_incref (rep.body);
    tr_env_clear (&rep);
    return o;
}

static json_t *
pod (const char *name)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[{s:s,s:s,s:[s,s]}]},s:{s:s}}", "apiVersion", "v1", "kind", "Pod",
                      "metadata", "name", name, "labels", "app", "web", "spec", "containers", "name", "c", "image",
                      "img:1", "command", "sleep", "60", "status", "phase", "Running");
}

static const char *
image_of (const json_t *p)
{
    return tv_str (json_array_get (tv_get (p, "spec.containers"), 0), "image");
}

static void
expect_msg (const tr_env_t *rep, const char *want)
{
    if (!rep->msg || !strstr (rep->msg, want))
        fail_msg ("message \"%s\" lacks \"%s\"", rep->msg ? rep->msg : "", want);
}

static void
pod_spec_immutable (void **state)
{
    fx_t *f = *state;
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    json_t *np = pod ("p");
    tv_set_int (np, "metadata.deletionGracePeriodSeconds", 7); /* set by a delete only: dropped */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, np, NULL, &rep), TR_OK);
    assert_null (tv_get (rep.body, "status.phase")); /* a creator does not write status */
    assert_null (tv_get (rep.body, "metadata.deletionGracePeriodSeconds"));
    tr_env_clear (&rep);
    /* the command: refused, the field named, nothing stored */
    json_t *p = get (c, "Pod", "p");
    json_array_set_new (json_object_get (json_array_get (tv_get (p, "spec.containers"), 0), "command"), 1,
                        json_string ("99"));
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "p", 0, p, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than "
                      "`spec.containers[*].image`");
    expect_msg (&rep, "spec.containers[0].command[1]");
    tr_env_clear (&rep);
    /* the same through a patch */
    json_t *patch = json_loads ("{\"spec\":{\"restartPolicy\":\"Never\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "p", 0, patch, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "(changed: spec.restartPolicy)");
    tr_env_clear (&rep);
    /* the image: allowed; labels too */
    p = get (c, "Pod", "p");
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "image", json_string ("img:2"));
    tv_set_str (p, "metadata.labels.app", "web2");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "p", 0, p, NULL, NULL), TR_OK);
    p = get (c, "Pod", "p");
    assert_string_equal (image_of (p), "img:2");
    assert_string_equal (tv_str (p, "metadata.labels.app"), "web2");
    assert_string_equal (json_string_value (json_array_get (tv_get (json_array_get (tv_get (p, "spec.containers"), 0), "command"), 1)),
                         "60");
    /* spec.nodeName: not through the object, by update or patch */
    tv_set_str (p, "spec.nodeName", "n1");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "p", 0, p, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "(changed: spec.nodeName)");
    tr_env_clear (&rep);
    patch = json_loads ("{\"spec\":{\"nodeName\":\"n1\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "p", 0, patch, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "(changed: spec.nodeName)");
    tr_env_clear (&rep);
    p = get (c, "Pod", "p");
    assert_null (tv_str (p, "spec.nodeName"));
    json_decref (p);
    tr_client_destroy (&c);
}

static void
pod_binding_once (void **state)
{
    fx_t *f = *state;
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod ("b"), NULL, NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod ("k"), NULL, NULL), TR_OK);
    /* the scheduler's binding: a patch of pods/binding */
    json_t *bind = json_loads ("{\"spec\":{\"nodeName\":\"n1\"}}", 0, NULL);
    json_t *before = get (c, "Pod", "b");
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "b", 0, bind, sub ("binding"), &rep), TR_OK);
    /* answered as BindingREST answers: a Status of success, not the pod; the envelope carries the
     * binding's revision */
    json_t *want = json_pack ("{s:s,s:s,s:{},s:s,s:i}", "kind", "Status", "apiVersion", "v1", "metadata", "status",
                              "Success", "code", 201);
    assert_true (json_equal (rep.body, want));
    json_decref (want);
    assert_true (rep.rv > 0);
    uint64_t bound_rv = rep.rv;
    tr_env_clear (&rep);
    json_t *after = get (c, "Pod", "b");
    char rvs[24];
    snprintf (rvs, sizeof rvs, "%llu", (unsigned long long) bound_rv);
    assert_string_equal (tv_str (after, "metadata.resourceVersion"), rvs);
    assert_string_equal (tv_str (after, "spec.nodeName"), "n1");
    const json_t *cond = json_array_get (tv_get (after, "status.conditions"), 0);
    assert_string_equal (tv_str (cond, "type"), "PodScheduled");
    assert_string_equal (tv_str (cond, "status"), "True");
    assert_non_null (tv_str (cond, "lastTransitionTime"));
    /* the rest of the pod is the stored one; a change of spec moves the generation */
    assert_int_equal (tv_int (after, "metadata.generation", 0), tv_int (before, "metadata.generation", 0) + 1);
    assert_true (json_equal (tv_get (after, "spec.containers"), tv_get (before, "spec.containers")));
    assert_string_equal (tv_str (after, "metadata.uid"), tv_str (before, "metadata.uid"));
    assert_string_equal (tv_str (after, "kind"), "Pod");
    assert_string_equal (tv_str (after, "apiVersion"), "v1");
    json_decref (after);
    json_decref (before);
    /* a second binding conflicts, as the api-server's */
    bind = json_loads ("{\"spec\":{\"nodeName\":\"n2\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "b", 0, bind, sub ("binding"), &rep), TR_CONFLICT);
    expect_msg (&rep, "pod b is already assigned to node \"n1\"");
    tr_env_clear (&rep);
    json_t *p = get (c, "Pod", "b");
    assert_string_equal (tv_str (p, "spec.nodeName"), "n1");
    json_decref (p);
    /* a UID precondition, as Kubernetes' scheduler binds (never a resourceVersion): a wrong UID
     * conflicts with the api-server's message (the Binding below carries the right one) */
    json_t *kp = get (c, "Pod", "k");
    char kuid[128];
    snprintf (kuid, sizeof kuid, "%s", tv_str (kp, "metadata.uid"));
    json_decref (kp);
    bind = json_pack ("{s:{s:s},s:{s:s}}", "spec", "nodeName", "n1", "metadata", "uid", "not-k");
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "k", 0, bind, sub ("binding"), &rep), TR_CONFLICT);
    expect_msg (&rep, "Precondition failed: UID in precondition: not-k, UID in object meta: ");
    tr_env_clear (&rep);
    kp = get (c, "Pod", "k");
    assert_null (tv_str (kp, "spec.nodeName"));
    json_decref (kp);
    /* a binding carries only the node */
    bind = json_loads ("{\"spec\":{\"nodeName\":\"n1\",\"restartPolicy\":\"Never\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "k", 0, bind, sub ("binding"), NULL), TR_BAD_REQUEST);
    /* a Binding object, as POST pods/binding takes, through update */
    bind = json_pack ("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Binding", "metadata", "name", "k",
                      "uid", kuid, "target", "kind", "Node", "name", "n2");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "k", 0, bind, sub ("binding"), &rep), TR_OK);
    assert_string_equal (tv_str (rep.body, "kind"), "Status");
    assert_string_equal (tv_str (rep.body, "status"), "Success");
    tr_env_clear (&rep);
    kp = get (c, "Pod", "k");
    assert_string_equal (tv_str (kp, "spec.nodeName"), "n2");
    json_decref (kp);
    /* no binding for other kinds; unknown subresources are not served */
    assert_int_equal (call (c, TR_VERB_CREATE, "ConfigMap", NULL, 0,
                            json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", "m"),
                            NULL, NULL),
                      TR_OK);
    bind = json_loads ("{\"spec\":{\"nodeName\":\"n1\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "ConfigMap", "m", 0, bind, sub ("binding"), &rep), TR_NOT_FOUND);
    expect_msg (&rep, "configmaps has no subresource \"binding\"");
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "b", 0, json_object (), sub ("scale"), &rep), TR_NOT_FOUND);
    expect_msg (&rep, "no subresource \"scale\"");
    tr_env_clear (&rep);
    tr_client_destroy (&c);
}

static void
status_and_spec_apart (void **state)
{
    fx_t *f = *state;
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod ("s"), NULL, NULL), TR_OK);
    /* updateStatus with a changed spec and labels: only the status is taken */
    json_t *p = get (c, "Pod", "s");
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "image", json_string ("img:3"));
    tv_set_str (p, "metadata.labels.app", "other");
    tv_set_str (p, "status.phase", "Running");
    assert_int_equal (call (c, TR_VERB_UPDATE_STATUS, "Pod", "s", 0, p, NULL, NULL), TR_OK);
    p = get (c, "Pod", "s");
    assert_string_equal (tv_str (p, "status.phase"), "Running");
    assert_string_equal (image_of (p), "img:1");
    assert_string_equal (tv_str (p, "metadata.labels.app"), "web");
    /* update with opts.subresource=status is the same thing */
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "image", json_string ("img:4"));
    tv_set_str (p, "status.phase", "Succeeded");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "s", 0, p, sub ("status"), NULL), TR_OK);
    p = get (c, "Pod", "s");
    assert_string_equal (tv_str (p, "status.phase"), "Succeeded");
    assert_string_equal (image_of (p), "img:1");
    /* and a status patch drops its spec part */
    json_t *patch = json_loads ("{\"spec\":{\"activeDeadlineSeconds\":5},\"status\":{\"reason\":\"Done\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "s", 0, patch, sub ("status"), NULL), TR_OK);
    /* the other way round: the object's update takes the spec and keeps the status */
    json_decref (p);
    p = get (c, "Pod", "s");
    assert_string_equal (tv_str (p, "status.reason"), "Done");
    assert_string_equal (tv_str (p, "status.phase"), "Succeeded");
    assert_null (tv_get (p, "spec.activeDeadlineSeconds"));
    json_object_set_new (json_array_get (tv_get (p, "spec.containers"), 0), "image", json_string ("img:5"));
    tv_set_str (p, "status.phase", "Failed");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "s", 0, p, NULL, NULL), TR_OK);
    patch = json_loads ("{\"status\":{\"phase\":\"Unknown\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "s", 0, patch, NULL, NULL), TR_OK);
    p = get (c, "Pod", "s");
    assert_string_equal (image_of (p), "img:5");
    assert_string_equal (tv_str (p, "status.phase"), "Succeeded");
    json_decref (p);
    /* a node writes its pod's status through the subresource, and cannot bind */
    tr_creds_t cr;
    memset (&cr, 0, sizeof cr);
    strcpy (cr.server_key, zcert_public_txt (f->server));
    strcpy (cr.public_key, zcert_public_txt (f->node1));
    strcpy (cr.secret_key, zcert_secret_txt (f->node1));
    tr_client_t *n = tr_client_new (f->tcp, &cr, err, sizeof err);
    assert_non_null (n);
    json_t *bind = json_loads ("{\"spec\":{\"nodeName\":\"n1\"}}", 0, NULL);
    assert_int_equal (call (n, TR_VERB_PATCH, "Pod", "s", 0, bind, sub ("binding"), NULL), TR_FORBIDDEN);
    bind = json_loads ("{\"spec\":{\"nodeName\":\"n1\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "s", 0, bind, sub ("binding"), NULL), TR_OK);
    patch = json_loads ("{\"status\":{\"phase\":\"Running\"}}", 0, NULL);
    assert_int_equal (call (n, TR_VERB_PATCH, "Pod", "s", 0, patch, sub ("status"), NULL), TR_OK);
    patch = json_loads ("{\"metadata\":{\"labels\":{\"x\":\"y\"}}}", 0, NULL);
    assert_int_equal (call (n, TR_VERB_PATCH, "Pod", "s", 0, patch, NULL, &rep), TR_FORBIDDEN);
    tr_env_clear (&rep);
    p = get (c, "Pod", "s");
    assert_string_equal (tv_str (p, "status.phase"), "Running");
    assert_null (tv_get (p, "metadata.labels.x"));
    json_decref (p);
    tr_client_destroy (&n);
    tr_client_destroy (&c);
}

/* An update is validated where it changed (schema_validate_update): a status patch still gets
 * the status' type error, a spec or metadata change its own, each by its path; a binding and a
 * good status patch pass. */
static void
update_validated_where_changed (void **state)
{
    fx_t *f = *state;
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod ("v"), NULL, NULL), TR_OK);
    json_t *patch = json_loads ("{\"status\":\"Running\"}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "v", 0, patch, sub ("status"), &rep), TR_INVALID);
    expect_msg (&rep, "Pod \"v\" is invalid: status: Invalid type: expected object, got string");
    tr_env_clear (&rep);
    json_t *p = get (c, "Pod", "v");
    json_object_set_new (p, "status", json_integer (5));
    assert_int_equal (call (c, TR_VERB_UPDATE_STATUS, "Pod", "v", 0, p, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "status: Invalid type: expected object, got integer");
    tr_env_clear (&rep);
    p = get (c, "Pod", "v");
    tv_set (p, "spec.affinity", json_pack ("{s:{s:{s:[{s:[{s:s,s:s}]}]}}}", "nodeAffinity",
                                           "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
                                           "matchExpressions", "key", "zone", "operator", "In"));
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "v", 0, p, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                      ".matchExpressions[0].values: Required value");
    tr_env_clear (&rep);
    patch = json_loads ("{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"image\":\"b\",\"lifecycle\":{}}]}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "v", 0, patch, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers");
    tr_env_clear (&rep);
    patch = json_loads ("{\"metadata\":{\"labels\":{\"x\":\"-y\"}}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "v", 0, patch, NULL, &rep), TR_INVALID);
    expect_msg (&rep, "metadata.labels.x: Invalid value: \"-y\"");
    tr_env_clear (&rep);
    json_t *bind = json_loads ("{\"spec\":{\"nodeName\":\"n1\"}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "v", 0, bind, sub ("binding"), NULL), TR_OK);
    patch = json_loads ("{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "v", 0, patch, json_pack ("{s:s,s:s}", "subresource", "status",
                                                                              "patchType", "strategic"), NULL), TR_OK);
    p = get (c, "Pod", "v");
    assert_string_equal (tv_str (p, "spec.nodeName"), "n1");
    assert_string_equal (tv_str (p, "status.phase"), "Running");
    assert_null (tv_get (p, "spec.affinity"));
    assert_null (tv_get (p, "metadata.labels.x"));
    assert_int_equal (tv_int (p, "metadata.generation", 0), 2); /* the binding changed the spec */
    /* a full update leaving out a defaulted field: defaulted before the specs are compared, so no
     * change of spec (no new generation), as Kubernetes defaults when it decodes */
    assert_string_equal (tv_str (p, "spec.restartPolicy"), "Always");
    json_object_del (json_object_get (p, "spec"), "restartPolicy");
    tv_set_str (p, "metadata.labels.tier", "front");
    assert_int_equal (call (c, TR_VERB_UPDATE, "Pod", "v", 0, p, NULL, NULL), TR_OK);
    p = get (c, "Pod", "v");
    assert_string_equal (tv_str (p, "metadata.labels.tier"), "front");
    assert_string_equal (tv_str (p, "spec.restartPolicy"), "Always");
    assert_int_equal (tv_int (p, "metadata.generation", 0), 2);
    json_decref (p);
    tr_client_destroy (&c);
}

static void
apps_selector_immutable (void **state)
{
    fx_t *f = *state;
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    const char *kinds[] = {"Deployment", "ReplicaSet"};
    for (int i = 0; i < 2; i++) {
        json_t *d = json_pack ("{s:s,s:s,s:{s:s},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}}}", "apiVersion",
                               "apps/v1", "kind", kinds[i], "metadata", "name", "web", "spec", "replicas", 1, "selector",
                               "matchLabels", "app", "web", "template", "metadata", "labels", "app", "web", "spec",
                               "containers", "name", "c", "image", "img");
        assert_int_equal (call (c, TR_VERB_CREATE, kinds[i], NULL, 0, d, NULL, NULL), TR_OK);
        /* replicas may change */
        json_t *patch = json_loads ("{\"spec\":{\"replicas\":3}}", 0, NULL);
        assert_int_equal (call (c, TR_VERB_PATCH, kinds[i], "web", 0, patch, NULL, NULL), TR_OK);
        /* the selector may not (template labels changed too, so the selector still matches them) */
        patch = json_loads ("{\"spec\":{\"selector\":{\"matchLabels\":{\"tier\":\"a\"}},"
                            "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"a\"}}}}}",
                            0, NULL);
        assert_int_equal (call (c, TR_VERB_PATCH, kinds[i], "web", 0, patch, NULL, &rep), TR_INVALID);
        expect_msg (&rep, "\"web\" is invalid: spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"a\"}}: "
                          "field is immutable");
        tr_env_clear (&rep);
        json_t *o = get (c, kinds[i], "web");
        assert_int_equal (tv_int (o, "spec.replicas", -1), 3);
        assert_null (tv_get (o, "spec.selector.matchLabels.tier"));
        /* a status update cannot move the spec or the labels either */
        tv_set_int (o, "spec.replicas", 7);
        tv_set_str (o, "metadata.labels.x", "y");
        tv_set_int (o, "status.replicas", 3);
        assert_int_equal (call (c, TR_VERB_UPDATE_STATUS, kinds[i], "web", 0, o, NULL, NULL), TR_OK);
        o = get (c, kinds[i], "web");
        assert_int_equal (tv_int (o, "spec.replicas", -1), 3);
        assert_int_equal (tv_int (o, "status.replicas", -1), 3);
        assert_null (tv_get (o, "metadata.labels.x"));
        json_decref (o);
    }
    tr_client_destroy (&c);
}

/* The types of the pod's status.conditions, in order, joined by ",". */
static const char *
cond_types (const json_t *p, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *c;
    buf[0] = '\0';
    json_array_foreach (tv_get (p, "status.conditions"), i, c)
        off += snprintf (buf + off, off < len ? len - off : 0, "%s%s", i ? "," : "", tv_str (c, "type"));
    return buf;
}

static json_t *
opts2 (const char *subresource, const char *patch_type)
{
    json_t *o = json_pack ("{s:s}", "patchType", patch_type);
    if (subresource)
        json_object_set_new (o, "subresource", json_string (subresource));
    return o;
}

/* opts.patchType strategic: status.conditions merge by type (the scheduler's writes); merge (the
 * default) replaces the list; anything else is a bad request naming it. */
static void
strategic_conditions (void **state)
{
    fx_t *f = *state;
    char err[256], types[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod ("sc"), NULL, NULL), TR_OK);
    json_t *p = get (c, "Pod", "sc");
    tv_set (p, "status.conditions",
            json_loads ("[{\"type\":\"Initialized\",\"status\":\"True\"},{\"type\":\"PodScheduled\",\"status\":\"True\","
                        "\"lastProbeTime\":\"t0\"}]",
                        0, NULL));
    assert_int_equal (call (c, TR_VERB_UPDATE_STATUS, "Pod", "sc", 0, p, NULL, NULL), TR_OK);
    p = get (c, "Pod", "sc");
    assert_string_equal (cond_types (p, types, sizeof types), "Initialized,PodScheduled");
    json_decref (p);
    /* one condition of a new type, through the status subresource: appended */
    json_t *patch = json_loads ("{\"status\":{\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\"}]}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "sc", 0, patch, opts2 ("status", "strategic"), NULL), TR_OK);
    p = get (c, "Pod", "sc");
    assert_string_equal (cond_types (p, types, sizeof types), "Initialized,PodScheduled,DisruptionTarget");
    json_decref (p);
    /* one of a type present, on the object itself: merged where it stands */
    patch = json_loads ("{\"status\":{\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"R\"}]}}",
                        0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "sc", 0, patch, opts2 ("status", "strategic"), NULL), TR_OK);
    p = get (c, "Pod", "sc");
    assert_string_equal (cond_types (p, types, sizeof types), "Initialized,PodScheduled,DisruptionTarget");
    const json_t *ps = json_array_get (tv_get (p, "status.conditions"), 1);
    assert_string_equal (tv_str (ps, "status"), "False");
    assert_string_equal (tv_str (ps, "reason"), "R");
    assert_string_equal (tv_str (ps, "lastProbeTime"), "t0");
    json_decref (p);
    /* an explicit merge patch, and one with no patchType, replace the list */
    patch = json_loads ("{\"metadata\":{\"labels\":{\"k\":\"v\"}},\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "sc", 0, patch, opts2 ("status", "merge"), NULL), TR_OK);
    p = get (c, "Pod", "sc");
    assert_string_equal (cond_types (p, types, sizeof types), "Ready");
    assert_null (tv_get (p, "metadata.labels.k")); /* still a status patch */
    json_decref (p);
    patch = json_loads ("{\"status\":{\"conditions\":[{\"type\":\"Initialized\"}]}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "sc", 0, patch, sub ("status"), NULL), TR_OK);
    p = get (c, "Pod", "sc");
    assert_string_equal (cond_types (p, types, sizeof types), "Initialized");
    json_decref (p);
    /* an unknown patchType, or one not a string: refused, named, nothing written */
    patch = json_loads ("{\"status\":{\"conditions\":null}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "sc", 0, patch, opts2 ("status", "json"), &rep), TR_BAD_REQUEST);
    expect_msg (&rep, "unsupported patchType \"json\"");
    tr_env_clear (&rep);
    patch = json_loads ("{\"status\":{\"conditions\":null}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "sc", 0, patch, json_pack ("{s:i}", "patchType", 7), &rep),
                      TR_BAD_REQUEST);
    expect_msg (&rep, "unsupported patchType 7");
    tr_env_clear (&rep);
    p = get (c, "Pod", "sc");
    assert_string_equal (cond_types (p, types, sizeof types), "Initialized");
    json_decref (p);
    tr_client_destroy (&c);
}

static json_t *
evict_body (const char *name)
{
    return json_pack ("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "policy/v1", "kind", "Eviction", "metadata", "name", name,
                      "namespace", "default");
}

static void
ready_pod (tr_client_t *c, const char *name)
{
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod (name), NULL, NULL), TR_OK);
    json_t *st = json_loads ("{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                             0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", name, 0, st, sub ("status"), NULL), TR_OK);
}

/* pods/eviction through the broker: the budget's status is spent then the pod deleted; a budget
 * with nothing left refuses with 429 and Kubernetes' cause; two budgets: 500; a stale
 * observedGeneration: 429 retry after 10 s; a Pending pod goes whatever the budget; NotFound,
 * BadRequest, Forbidden for a node. */
static void
pod_eviction (void **state)
{
    fx_t *f = *state;
    char err[256];
    tr_client_t *c = tr_client_new (f->local, NULL, err, sizeof err);
    tr_env_t rep;
    ready_pod (c, "e1");
    ready_pod (c, "e2");
    /* no budget yet: an absent pod is NotFound, a mismatched name BadRequest */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "nope", 0, evict_body ("nope"), sub ("eviction"), &rep), TR_NOT_FOUND);
    expect_msg (&rep, "pods \"nope\" not found");
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e1", 0, evict_body ("e2"), sub ("eviction"), &rep), TR_BAD_REQUEST);
    expect_msg (&rep, "name in URL does not match name in Eviction object");
    tr_env_clear (&rep);
    /* another subresource is not created */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e1", 0, evict_body ("e1"), sub ("scale"), NULL), TR_NOT_FOUND);
    /* a budget that allows one disruption, as the disruption controller would write it */
    json_t *b = json_loads ("{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"b\"},"
                            "\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}}",
                            0, NULL);
    assert_int_equal (call (c, TR_VERB_CREATE, "PodDisruptionBudget", NULL, 0, b, NULL, NULL), TR_OK);
    json_t *st = json_loads ("{\"status\":{\"observedGeneration\":1,\"disruptionsAllowed\":1,\"currentHealthy\":2,"
                             "\"desiredHealthy\":1,\"expectedPods\":2}}",
                             0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "PodDisruptionBudget", "b", 0, st, sub ("status"), NULL), TR_OK);
    /* a node may not evict */
    tr_creds_t cr;
    memset (&cr, 0, sizeof cr);
    strcpy (cr.server_key, zcert_public_txt (f->server));
    strcpy (cr.public_key, zcert_public_txt (f->node1));
    strcpy (cr.secret_key, zcert_secret_txt (f->node1));
    tr_client_t *n = tr_client_new (f->tcp, &cr, err, sizeof err);
    assert_non_null (n);
    assert_int_equal (call (n, TR_VERB_CREATE, "Pod", "e1", 0, evict_body ("e1"), sub ("eviction"), &rep), TR_FORBIDDEN);
    expect_msg (&rep, "cannot create resource \"pods/eviction\"");
    tr_env_clear (&rep);
    tr_client_destroy (&n);
    /* evicted: the budget spent, the pod gone */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e1", 0, evict_body ("e1"), sub ("eviction"), &rep), TR_OK);
    assert_string_equal (tv_str (rep.body, "status"), "Success");
    tr_env_clear (&rep);
    assert_int_equal (call (c, TR_VERB_GET, "Pod", "e1", 0, NULL, NULL, NULL), TR_NOT_FOUND);
    json_t *got = get (c, "PodDisruptionBudget", "b");
    assert_int_equal (tv_int (got, "status.disruptionsAllowed", -9), 0);
    assert_non_null (tv_str (got, "status.disruptedPods.e1"));
    assert_int_equal (tv_int (got, "status.currentHealthy", -9), 2);
    json_decref (got);
    /* nothing left: 429 with the budget's cause, the pod stays */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e2", 0, evict_body ("e2"), sub ("eviction"), &rep),
                      TR_TOO_MANY_REQUESTS);
    expect_msg (&rep, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert_string_equal (tv_str (json_array_get (tv_get (rep.body, "details.causes"), 0), "message"),
                         "The disruption budget b needs 1 healthy pods and has 2 currently");
    assert_int_equal (tv_int (rep.body, "details.retryAfterSeconds", -1), 0);
    tr_env_clear (&rep);
    json_decref (get (c, "Pod", "e2"));
    /* a bound pod is marked for deletion (its agent stops it) and says why: DisruptionTarget True,
     * EvictionByEvictionAPI, in the same write (Kubernetes' addConditionAndDeletePod) */
    ready_pod (c, "e4");
    assert_int_equal (call (c, TR_VERB_PATCH, "Pod", "e4", 0, json_pack ("{s:{s:s}}", "spec", "nodeName", "n1"),
                            sub ("binding"), NULL),
                      TR_OK);
    st = json_loads ("{\"status\":{\"disruptionsAllowed\":1}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "PodDisruptionBudget", "b", 0, st, sub ("status"), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e4", 0, evict_body ("e4"), sub ("eviction"), NULL), TR_OK);
    got = get (c, "Pod", "e4");
    assert_non_null (tv_str (got, "metadata.deletionTimestamp"));
    int found = 0, ready_kept = 0;
    size_t ci;
    json_t *cond;
    json_array_foreach (tv_get (got, "status.conditions"), ci, cond) {
        if (!strcmp (tv_str (cond, "type"), "DisruptionTarget") && !strcmp (tv_str (cond, "status"), "True") &&
            !strcmp (tv_str (cond, "reason"), "EvictionByEvictionAPI") &&
            !strcmp (tv_str (cond, "message"), "Eviction API: evicting"))
            found++;
        if (!strcmp (tv_str (cond, "type"), "Ready"))
            ready_kept++;
    }
    assert_int_equal (found, 1);
    assert_int_equal (ready_kept, 1); /* the other conditions stay */
    json_decref (got);
    /* two evictions at once under one disruption left: the second was decided from the same budget
     * and its write conflicts; run again from the newer budget it is refused: one Success, one 429,
     * one disruptedPods entry more */
    ready_pod (c, "e5");
    ready_pod (c, "e6");
    st = json_loads ("{\"status\":{\"disruptionsAllowed\":1,\"disruptedPods\":null}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "PodDisruptionBudget", "b", 0, st, sub ("status"), NULL), TR_OK);
    uint64_t ids[2];
    for (int k = 0; k < 2; k++) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_CREATE;
        strcpy (req.kind, "Pod");
        strcpy (req.ns, "default");
        strcpy (req.name, k ? "e6" : "e5");
        req.body = evict_body (req.name);
        req.opts = sub ("eviction");
        assert_int_equal (tr_client_send (c, &req), 0);
        ids[k] = req.id;
        tr_env_clear (&req);
    }
    int ok = 0, too_many = 0;
    for (int k = 0; k < 2; k++) {
        assert_int_equal (tr_client_recv (c, &rep, 5000), 0);
        assert_true (rep.id == ids[0] || rep.id == ids[1]);
        ok += rep.code == TR_OK;
        too_many += rep.code == TR_TOO_MANY_REQUESTS;
        tr_env_clear (&rep);
    }
    assert_int_equal (ok, 1);
    assert_int_equal (too_many, 1);
    got = get (c, "PodDisruptionBudget", "b");
    assert_int_equal (tv_int (got, "status.disruptionsAllowed", -9), 0);
    assert_int_equal (json_object_size (tv_get (got, "status.disruptedPods")), 1);
    json_decref (got);
    /* a Pending pod (no status yet) goes whatever the budget */
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", NULL, 0, pod ("e3"), NULL, NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e3", 0, evict_body ("e3"), sub ("eviction"), NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_GET, "Pod", "e3", 0, NULL, NULL, NULL), TR_NOT_FOUND);
    /* a spec change not yet observed: 429, retry after 10 s (more than this call's deadline: not retried) */
    json_t *patch = json_loads ("{\"spec\":{\"minAvailable\":0}}", 0, NULL);
    assert_int_equal (call (c, TR_VERB_PATCH, "PodDisruptionBudget", "b", 0, patch, NULL, NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e2", 0, evict_body ("e2"), sub ("eviction"), &rep),
                      TR_TOO_MANY_REQUESTS);
    assert_string_equal (tv_str (json_array_get (tv_get (rep.body, "details.causes"), 0), "message"),
                         "The disruption budget b is still being processed by the server.");
    assert_int_equal (tv_int (rep.body, "details.retryAfterSeconds", -1), 10);
    tr_env_clear (&rep);
    /* two budgets select it: 500 */
    b = json_loads ("{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"all\"},"
                    "\"spec\":{\"maxUnavailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}}",
                    0, NULL);
    assert_int_equal (call (c, TR_VERB_CREATE, "PodDisruptionBudget", NULL, 0, b, NULL, NULL), TR_OK);
    assert_int_equal (call (c, TR_VERB_CREATE, "Pod", "e2", 0, evict_body ("e2"), sub ("eviction"), &rep), TR_INTERNAL);
    expect_msg (&rep, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    tr_env_clear (&rep);
    json_decref (get (c, "Pod", "e2"));
    tr_client_destroy (&c);
}

int
main (void)
{
    setenv ("TROUPE_LOG", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (pod_spec_immutable, setup, teardown),
        cmocka_unit_test_setup_teardown (pod_binding_once, setup, teardown),
        cmocka_unit_test_setup_teardown (pod_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown (status_and_spec_apart, setup, teardown),
        cmocka_unit_test_setup_teardown (update_validated_where_changed, setup, teardown),
        cmocka_unit_test_setup_teardown (apps_selector_immutable, setup, teardown),
        cmocka_unit_test_setup_teardown (strategic_conditions, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
