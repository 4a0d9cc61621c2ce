/* trpatch — a test helper (not part of the CLI): one patch request, as a controller or the
 * scheduler sends it, for e2e tests that play another writer.
 *
 *   trpatch KIND NAMESPACE NAME PATCH-JSON [--status] [--strategic] [--kubeconfig PATH]
 *
 * --status: the status subresource; --strategic: patchType strategic (conditions merge by type),
 * else a JSON merge patch. Credentials and endpoint as the CLI's (its default config). Prints the
 * reply's code (and message); exit 0 when it is OK. */
#include "core/client.h"
#include "core/conn.h"

#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
    const char *pos[4] = {0}, *config = NULL;
    int npos = 0, status = 0, strategic = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv[i], "--status"))
            status = 1;
        else if (!strcmp (argv[i], "--strategic"))
            strategic = 1;
        else if (!strcmp (argv[i], "--kubeconfig") && i + 1 < argc)
            config = argv[++i];
        else if (npos < 4)
            pos[npos++] = argv[i];
        else
            npos = 5;
    }
    if (npos != 4) {
        fprintf (stderr, "usage: trpatch KIND NAMESPACE NAME PATCH-JSON [--status] [--strategic] [--kubeconfig PATH]\n");
        return 2;
    }
    json_error_t jerr;
    json_t *body = json_loads (pos[3], 0, &jerr);
    if (!json_is_object (body)) {
        fprintf (stderr, "trpatch: the patch is not a JSON object: %s\n", jerr.text);
        json_decref (body);
        return 2;
    }
    char path[1024], endpoint[2048], err[512];
    tr_creds_t creds;
    memset (&creds, 0, sizeof creds);
    if (tr_conn_load_config (config ? config : tr_conn_default_config_path (path, sizeof path), endpoint, sizeof endpoint,
                             &creds, err, sizeof err)) {
        fprintf (stderr, "trpatch: %s\n", err);
        json_decref (body);
        return 2;
    }
    char *comma = strchr (endpoint, ',');
    if (comma)
        *comma = 0;
    tr_client_t *c = tr_client_new (endpoint, &creds, err, sizeof err);
    if (!c) {
        fprintf (stderr, "trpatch: %s\n", err);
        json_decref (body);
        return 2;
    }
    tr_env_t req, rep;
    tr_env_init (&req);
    tr_env_init (&rep);
    req.verb = TR_VERB_PATCH;
    snprintf (req.kind, sizeof req.kind, "%s", pos[0]);
    snprintf (req.ns, sizeof req.ns, "%s", pos[1]);
    snprintf (req.name, sizeof req.name, "%s", pos[2]);
    req.body = body;
    req.opts = json_object ();
    if (status)
        json_object_set_new (req.opts, "subresource", json_string ("status"));
    if (strategic)
        json_object_set_new (req.opts, "patchType", json_string ("strategic"));
    int rc = tr_client_call (c, &req, &rep, 15000);
    int ok = !rc && rep.code == TR_OK;
    printf ("%s%s%s\n", rc ? "Timeout" : tr_code_name (rep.code), rep.msg ? " " : "", rep.msg ? rep.msg : "");
    tr_env_clear (&req);
    tr_env_clear (&rep);
    tr_client_destroy (&c);
    return ok ? 0 : 1;
}
