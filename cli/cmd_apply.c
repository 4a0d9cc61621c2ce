/* cmd_apply — apply, create, delete, scale. */
#include "cli/cli.h"
#include "core/value.h"

#include <stdlib.h>
#include <string.h>

static void
req_for (tr_env_t *req, tr_verb_t verb, const schema_kind_t *k, const char *ns, const char *name)
{
    tr_env_init (req);
    req->verb = verb;
    snprintf (req->kind, sizeof req->kind, "%s", schema_kind_name (k));
    if (schema_kind_namespaced (k) && ns)
        snprintf (req->ns, sizeof req->ns, "%s", ns);
    if (name)
        snprintf (req->name, sizeof req->name, "%s", name);
}

/* True when applying manifest onto live would change nothing (what kubectl reports "unchanged"). */
static int
unchanged (const schema_registry_t *schemas, const json_t *live, const json_t *manifest)
{
    json_t *merged = json_deep_copy (live);
    json_t *m = json_deep_copy (manifest);
    json_object_del (m, "status");
    schema_convert (schemas, m); /* as stored: a Secret's stringData is data */
    schema_canonicalize (schemas, m); /* live holds "500m" where the manifest says 0.5 */
    tv_merge_patch (merged, m);
    int same = json_equal (merged, live);
    json_decref (merged);
    json_decref (m);
    return same;
}

static int
apply_one (cli_t *g, json_t *obj, int quiet)
{
    const schema_kind_t *k = schema_kind_lookup (g->schemas, tv_str (obj, "kind"));
    const char *name = tv_str (obj, "metadata.name");
    const char *ns = schema_kind_namespaced (k) ? cli_namespace (g, obj) : NULL;
    char rn[300];
    tr_env_t req, rep;
    if (!name) { /* generateName: always a create */
        req_for (&req, TR_VERB_CREATE, k, ns, NULL);
        req.body = json_incref (obj);
        if (cli_call (g, &req, &rep)) {
            tr_env_clear (&req);
            return 1;
        }
        int bad = rep.code != TR_OK;
        if (bad)
            cli_print_error (&rep);
        else if (!quiet) {
            cli_resource_name (k, tv_str (rep.body, "metadata.name"), rn, sizeof rn);
            printf ("%s created\n", rn);
        }
        tr_env_clear (&req);
        tr_env_clear (&rep);
        return bad;
    }
    cli_resource_name (k, name, rn, sizeof rn);
    for (int attempt = 0; attempt < 5; attempt++) {
        req_for (&req, TR_VERB_GET, k, ns, name);
        if (cli_call (g, &req, &rep))
            return 1;
        tr_env_clear (&req);
        const char *result;
        if (rep.code == TR_NOT_FOUND) {
            req_for (&req, TR_VERB_CREATE, k, ns, name);
            req.body = json_incref (obj);
            result = "created";
        } else if (rep.code != TR_OK) {
            cli_print_error (&rep);
            tr_env_clear (&rep);
            return 1;
        } else if (unchanged (g->schemas, rep.body, obj)) {
            if (!quiet)
                printf ("%s unchanged\n", rn);
            tr_env_clear (&rep);
            return 0;
        } else {
            req_for (&req, TR_VERB_UPDATE, k, ns, name);
            req.body = json_deep_copy (obj);
            req.rv = rep.rv;
            /* keep what the manifest does not speak about, as a three-way merge would */
            json_t *ann = tv_get (rep.body, "metadata.annotations");
            if (ann && !tv_get (req.body, "metadata.annotations"))
                tv_set (req.body, "metadata.annotations", json_deep_copy (ann));
            /* a pod's node is set by its binding, not by the manifest: an update that dropped it
             * would be refused (spec is immutable but for images, docs/protocol.md) */
            const char *node = tv_str (rep.body, "spec.nodeName");
            if (node && *node && !tv_get (req.body, "spec.nodeName") && json_is_object (tv_get (req.body, "spec")))
                tv_set_str (req.body, "spec.nodeName", node);
            /* and its priority, set by the Priority admission plugin at create */
            static const char *const prio[] = {"spec.priority", "spec.priorityClassName", "spec.preemptionPolicy"};
            for (int i = 0; i < 3 && !strcmp (tv_str (obj, "kind") ? tv_str (obj, "kind") : "", "Pod"); i++)
                if (tv_get (rep.body, prio[i]) && !tv_get (req.body, prio[i]) && json_is_object (tv_get (req.body, "spec")))
                    tv_set (req.body, prio[i], json_deep_copy (tv_get (rep.body, prio[i])));
            /* likewise a Node's podCIDR, set once by the node IPAM (broker/immutable.c) */
            static const char *const cidr[] = {"spec.podCIDR", "spec.podCIDRs"};
            for (int i = 0; i < 2 && !strcmp (tv_str (obj, "kind") ? tv_str (obj, "kind") : "", "Node"); i++)
                if (tv_get (rep.body, cidr[i]) && !tv_get (req.body, cidr[i]) && json_is_object (tv_get (req.body, "spec")))
                    tv_set (req.body, cidr[i], json_deep_copy (tv_get (rep.body, cidr[i])));
            result = "configured";
        }
        tr_env_clear (&rep);
        if (cli_call (g, &req, &rep)) {
            tr_env_clear (&req);
            return 1;
        }
        tr_env_clear (&req);
        if (rep.code == TR_CONFLICT || rep.code == TR_ALREADY_EXISTS) {
            tr_env_clear (&rep);
            continue; /* somebody wrote in between: read again */
        }
        int bad = rep.code != TR_OK;
        if (bad)
            cli_print_error (&rep);
        else if (!quiet)
            printf ("%s %s\n", rn, result);
        tr_env_clear (&rep);
        return bad;
    }
    fprintf (stderr, "error: %s: kept conflicting with concurrent writers\n", rn);
    return 1;
}

int
cli_apply_file (cli_t *g, const char *path, int quiet)
{
    json_t *objs = cli_load_manifests (g, path);
    if (!objs)
        return 1;
    int bad = 0;
    size_t i;
    json_t *o;
    json_array_foreach (objs, i, o) bad |= apply_one (g, o, quiet);
    json_decref (objs);
    return bad;
}

int
cmd_apply (cli_t *g, int argc, char **argv)
{
    const char *file = cli_opt (&argc, argv, "--filename", "-f");
    if (!file) {
        fprintf (stderr, "error: must specify -f FILE\n");
        return 1;
    }
    return cli_apply_file (g, file, 0);
}

static int
create_objects (cli_t *g, json_t *objs)
{
    int bad = 0;
    size_t i;
    json_t *o;
    json_array_foreach (objs, i, o) {
        const schema_kind_t *k = schema_kind_lookup (g->schemas, tv_str (o, "kind"));
        tr_env_t req, rep;
        req_for (&req, TR_VERB_CREATE, k, schema_kind_namespaced (k) ? cli_namespace (g, o) : NULL, NULL);
        req.body = json_incref (o);
        if (cli_call (g, &req, &rep)) {
            tr_env_clear (&req);
            return 1;
        }
        if (rep.code != TR_OK) {
            cli_print_error (&rep);
            bad = 1;
        } else {
            char rn[300];
            cli_resource_name (k, tv_str (rep.body, "metadata.name"), rn, sizeof rn);
            printf ("%s created\n", rn);
        }
        tr_env_clear (&req);
        tr_env_clear (&rep);
    }
    return bad;
}

int
cmd_create (cli_t *g, int argc, char **argv)
{
    const char *file = cli_opt (&argc, argv, "--filename", "-f");
    if (file) {
        json_t *objs = cli_load_manifests (g, file);
        if (!objs)
            return 1;
        int rc = create_objects (g, objs);
        json_decref (objs);
        return rc;
    }
    if (argc < 3) {
        fprintf (stderr, "usage: troupe create -f FILE | create configmap|secret NAME --from-literal k=v ... | "
                         "create namespace NAME\n");
        return 1;
    }
    const schema_kind_t *k = cli_kind (g, argv[1]);
    if (!k)
        return 1;
    const char *kind = schema_kind_name (k);
    json_t *obj = json_pack ("{s:s,s:s,s:{s:s}}", "apiVersion", schema_kind_api_version (k), "kind", kind, "metadata",
                             "name", argv[2]);
    if (!strcmp (kind, "ConfigMap") || !strcmp (kind, "Secret")) {
        json_t *data = json_object ();
        /* every --from-literal k=v (kubectl's flag), in order */
        const char *lit;
        while ((lit = cli_opt (&argc, argv, "--from-literal", NULL))) {
            const char *eq = strchr (lit, '=');
            if (!eq || eq == lit) {
                fprintf (stderr, "error: --from-literal \"%s\": expected key=value\n", lit);
                json_decref (data);
                json_decref (obj);
                return 1;
            }
            char key[254];
            snprintf (key, sizeof key, "%.*s", (int) (eq - lit), lit);
            json_object_set_new (data, key, json_string (eq + 1));
        }
        json_object_set_new (obj, !strcmp (kind, "Secret") ? "stringData" : "data", data);
    } else if (strcmp (kind, "Namespace")) {
        fprintf (stderr, "error: create %s NAME is not supported; use create -f FILE\n", argv[1]);
        json_decref (obj);
        return 1;
    }
    json_t *objs = json_pack ("[o]", obj);
    int rc = create_objects (g, objs);
    json_decref (objs);
    return rc;
}

static int
delete_one (cli_t *g, const schema_kind_t *k, const char *ns, const char *name, json_int_t grace)
{
    tr_env_t req, rep;
    req_for (&req, TR_VERB_DELETE, k, ns, name);
    if (grace >= 0)
        req.opts = json_pack ("{s:I}", "gracePeriodSeconds", grace);
    if (cli_call (g, &req, &rep)) {
        tr_env_clear (&req);
        return 1;
    }
    tr_env_clear (&req);
    int bad = rep.code != TR_OK;
    if (bad)
        cli_print_error (&rep);
    else {
        char rn[300];
        cli_resource_name (k, name, rn, sizeof rn);
        char *slash = strchr (rn, '/');
        if (slash)
            *slash = 0;
        printf ("%s \"%s\" deleted\n", rn, name);
    }
    tr_env_clear (&rep);
    return bad;
}

int
cmd_delete (cli_t *g, int argc, char **argv)
{
    const char *file = cli_opt (&argc, argv, "--filename", "-f");
    const char *gp = cli_opt (&argc, argv, "--grace-period", NULL);
    int force = cli_flag (&argc, argv, "--force", NULL);
    json_int_t grace = gp ? atoll (gp) : (force ? 0 : -1);
    int bad = 0;
    if (file) {
        json_t *objs = cli_load_manifests (g, file);
        if (!objs)
            return 1;
        /* reverse order: a Namespace listed first goes last */
        for (size_t i = json_array_size (objs); i-- > 0;) {
            json_t *o = json_array_get (objs, i);
            const schema_kind_t *k = schema_kind_lookup (g->schemas, tv_str (o, "kind"));
            if (tv_str (o, "metadata.name"))
                bad |= delete_one (g, k, schema_kind_namespaced (k) ? cli_namespace (g, o) : NULL,
                                   tv_str (o, "metadata.name"), grace);
        }
        json_decref (objs);
        return bad;
    }
    if (argc < 3) {
        fprintf (stderr, "usage: troupe delete KIND NAME... | delete -f FILE\n");
        return 1;
    }
    char kindbuf[128];
    snprintf (kindbuf, sizeof kindbuf, "%s", argv[1]);
    char *slash = strchr (kindbuf, '/');
    int first = 2;
    if (slash) { /* kind/name form */
        *slash = 0;
        first = 1;
    }
    const schema_kind_t *k = cli_kind (g, kindbuf);
    if (!k)
        return 1;
    for (int i = first; i < argc; i++) {
        const char *name = i == 1 ? strchr (argv[1], '/') + 1 : argv[i];
        bad |= delete_one (g, k, schema_kind_namespaced (k) ? cli_namespace (g, NULL) : NULL, name, grace);
    }
    return bad;
}

int
cmd_scale (cli_t *g, int argc, char **argv)
{
    const char *replicas = cli_opt (&argc, argv, "--replicas", NULL);
    if (!replicas || argc < 2) {
        fprintf (stderr, "usage: troupe scale KIND NAME --replicas N\n");
        return 1;
    }
    char kindbuf[128];
    snprintf (kindbuf, sizeof kindbuf, "%s", argv[1]);
    const char *name = argc > 2 ? argv[2] : NULL;
    char *slash = strchr (kindbuf, '/');
    if (slash) {
        *slash = 0;
        name = slash + 1;
    }
    char *end;
    long long n = strtoll (replicas, &end, 10);
    if (*end || !*replicas) {
        fprintf (stderr, "error: --replicas: \"%s\" is not an integer\n", replicas);
        return 1;
    }
    const schema_kind_t *k = cli_kind (g, kindbuf);
    if (!k || !name)
        return 1;
    tr_env_t req, rep;
    req_for (&req, TR_VERB_PATCH, k, cli_namespace (g, NULL), name);
    req.body = json_pack ("{s:{s:I}}", "spec", "replicas", (json_int_t) n);
    if (cli_call (g, &req, &rep)) {
        tr_env_clear (&req);
        return 1;
    }
    tr_env_clear (&req);
    int bad = rep.code != TR_OK;
    if (bad)
        cli_print_error (&rep);
    else {
        char rn[300];
        cli_resource_name (k, name, rn, sizeof rn);
        printf ("%s scaled\n", rn);
    }
    tr_env_clear (&rep);
    return bad;
}
