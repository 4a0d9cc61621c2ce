/* cmd_patch — patch and label, as kubectl's: a strategic or merge patch (opts.patchType), on
 * the object or its status subresource; label as a merge patch of metadata.labels. */
#include "cli/cli.h"
#include "cli/patchargs.h"
#include "core/value.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* KIND NAME or KIND/NAME at argv[1..]: the kind (NULL after an error printed), the name and
 * how many arguments they took. */
static const schema_kind_t *
kind_and_name (cli_t *g, int argc, char **argv, const char **name, int *used, const char *usage)
{
    if (argc < 2) {
        fprintf (stderr, "%s", usage);
        return NULL;
    }
    static char kindbuf[128];
    snprintf (kindbuf, sizeof kindbuf, "%s", argv[1]);
    char *slash = strchr (kindbuf, '/');
    if (slash) {
        *slash = 0;
        *name = argv[1] + (slash - kindbuf) + 1;
        *used = 1;
    } else if (argc >= 3) {
        *name = argv[2];
        *used = 2;
    } else {
        fprintf (stderr, "%s", usage);
        return NULL;
    }
    if (!**name) {
        fprintf (stderr, "error: resource name may not be empty\n");
        return NULL;
    }
    return cli_kind (g, kindbuf);
}

static void
req_for (cli_t *g, tr_env_t *req, tr_verb_t verb, const schema_kind_t *k, const char *name)
{
    tr_env_init (req);
    req->verb = verb;
    snprintf (req->kind, sizeof req->kind, "%s", schema_kind_name (k));
    if (schema_kind_namespaced (k))
        snprintf (req->ns, sizeof req->ns, "%s", cli_namespace (g, NULL));
    snprintf (req->name, sizeof req->name, "%s", name);
}

/* GET the object into *rep (0), or print the server's error / transport failure (1). */
static int
get_object (cli_t *g, const schema_kind_t *k, const char *name, tr_env_t *rep)
{
    tr_env_t req;
    req_for (g, &req, TR_VERB_GET, k, name);
    return cli_call_ok (g, &req, rep);
}

/* The object as a patch can change it: without its resourceVersion (every write moves it). */
static json_t *
comparable (const json_t *obj)
{
    json_t *c = json_deep_copy (obj);
    tv_del (c, "metadata.resourceVersion");
    return c;
}

static const char patch_usage[] =
    "usage: troupe patch KIND NAME (-p PATCH | --patch-file FILE) [--type strategic|merge] [--subresource status] "
    "[-n NS]\n";

int
cmd_patch (cli_t *g, int argc, char **argv)
{
    const char *text = cli_opt (&argc, argv, "--patch", "-p");
    const char *file = cli_opt (&argc, argv, "--patch-file", NULL);
    const char *type_s = cli_opt (&argc, argv, "--type", NULL);
    const char *sub = cli_opt (&argc, argv, "--subresource", NULL);
    patch_type_t type = patch_type_parse (type_s);
    if (type == PATCH_JSON) {
        fprintf (stderr, "error: --type json is not supported (the server takes strategic and merge patches)\n");
        return 1;
    }
    if (type == PATCH_BAD) {
        fprintf (stderr, "error: --type must be one of [strategic merge], not \"%s\"\n", type_s);
        return 1;
    }
    if (text && file) {
        fprintf (stderr, "error: cannot specify --patch and --patch-file together\n");
        return 1;
    }
    if (!text && !file) {
        fprintf (stderr, "error: must specify --patch or --patch-file containing the contents of the patch\n");
        return 1;
    }
    const char *name = NULL;
    int used = 0;
    const schema_kind_t *k = kind_and_name (g, argc, argv, &name, &used, patch_usage);
    if (!k)
        return 1;
    if (argc > 1 + used) {
        fprintf (stderr, "error: unexpected argument \"%s\"\n%s", argv[1 + used], patch_usage);
        return 1;
    }
    char *buf = NULL;
    size_t len = text ? strlen (text) : 0;
    if (file && !(buf = cli_read_file (file, &len))) {
        fprintf (stderr, "error: unable to read patch file %s: %s\n", file, strerror (errno));
        return 1;
    }
    char err[600];
    json_t *patch = patch_parse (buf ? buf : text, len, err, sizeof err);
    free (buf);
    if (!patch) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    /* the object first: its absence is the server's NotFound, and "(no change)" is a comparison
     * with what it was, as kubectl's */
    tr_env_t rep;
    if (get_object (g, k, name, &rep)) {
        json_decref (patch);
        return 1;
    }
    json_t *before = comparable (rep.body);
    tr_env_clear (&rep);
    tr_env_t req;
    req_for (g, &req, TR_VERB_PATCH, k, name);
    req.body = patch;
    req.opts = json_pack ("{s:s}", "patchType", type == PATCH_MERGE ? "merge" : "strategic");
    if (sub)
        json_object_set_new (req.opts, "subresource", json_string (sub));
    int rc = cli_call (g, &req, &rep);
    tr_env_clear (&req);
    if (rc) {
        json_decref (before);
        return 1;
    }
    int bad = rep.code != TR_OK;
    if (bad)
        cli_print_error (&rep);
    else {
        json_t *after = comparable (rep.body);
        char rn[300];
        cli_resource_name (k, name, rn, sizeof rn);
        printf ("%s patched%s\n", rn, json_equal (before, after) ? " (no change)" : "");
        json_decref (after);
    }
    json_decref (before);
    tr_env_clear (&rep);
    return bad;
}

static const char label_usage[] =
    "usage: troupe label KIND NAME KEY=VALUE... KEY-... [--overwrite] [-n NS]\n";

int
cmd_label (cli_t *g, int argc, char **argv)
{
    int overwrite = cli_flag (&argc, argv, "--overwrite", NULL);
    const char *name = NULL;
    int used = 0;
    const schema_kind_t *k = kind_and_name (g, argc, argv, &name, &used, label_usage);
    if (!k)
        return 1;
    json_t *set, *del;
    char err[600];
    if (label_args_parse (argc - 1 - used, argv + 1 + used, &set, &del, err, sizeof err)) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    char rn[300];
    cli_resource_name (k, name, rn, sizeof rn);
    int bad = 1;
    /* read, decide, write on that revision: a label another client set in between is seen
     * (Conflict, read again) rather than overwritten without --overwrite */
    for (int attempt = 0; attempt < 5; attempt++) {
        tr_env_t rep, req;
        if (get_object (g, k, name, &rep))
            goto out;
        label_result_t result;
        json_t *missing = json_array ();
        json_t *patch = label_patch (tv_get (rep.body, "metadata.labels"), set, del, overwrite, &result, missing, err,
                                     sizeof err);
        uint64_t rv = rep.rv;
        tr_env_clear (&rep);
        size_t i;
        json_t *m;
        json_array_foreach (missing, i, m) fprintf (stderr, "label \"%s\" not found.\n", json_string_value (m));
        json_decref (missing);
        if (err[0]) {
            fprintf (stderr, "error: %s\n", err);
            goto out;
        }
        if (!patch) {
            printf ("%s not labeled\n", rn);
            bad = 0;
            goto out;
        }
        req_for (g, &req, TR_VERB_PATCH, k, name);
        req.body = patch;
        req.rv = rv;
        req.opts = json_pack ("{s:s}", "patchType", "merge");
        int rc = cli_call (g, &req, &rep);
        tr_env_clear (&req);
        if (rc)
            goto out;
        if (rep.code == TR_CONFLICT) {
            tr_env_clear (&rep);
            continue;
        }
        bad = rep.code != TR_OK;
        if (bad)
            cli_print_error (&rep);
        else
            printf ("%s %s\n", rn, result == LABEL_UNLABELED ? "unlabeled" : "labeled");
        tr_env_clear (&rep);
        goto out;
    }
    fprintf (stderr, "error: %s: kept conflicting with concurrent writers\n", rn);
out:
    json_decref (set);
    json_decref (del);
    return bad;
}
