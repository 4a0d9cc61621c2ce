/* cmd_secrets — the keys that encrypt Secrets at rest (broker/encryption.h), Kubernetes'
 * EncryptionConfiguration rotation as commands:
 *   secrets keys [--data DIR]                 the keys, the first one writes
 *   secrets add-key [--first] [--data DIR]    a new key: last (reads only), or first (writes)
 *   secrets use-key NAME [--data DIR]         NAME writes from now on
 *   secrets remove-key NAME [--data DIR]      a key no longer needed (never the writing one)
 *   secrets rotate-key [--data DIR]           add-key --first (one server; see docs/decisions.md)
 *   secrets rewrite                           every Secret written again, so it is sealed with the
 *                                             writing key (through the API, as kubectl replace)
 * The key commands edit DATA/pki/secrets-encryption.yaml of a server; its broker reads the change
 * within a second, and the other servers of a replicated cluster receive it within ~5 s. */
#include "broker/encryption.h"
#include "cli/cli.h"
#include "core/conn.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
config_path (int *argc, char **argv, char *buf, size_t len)
{
    const char *d = cli_opt (argc, argv, "--data", NULL);
    char data[1024];
    if (d)
        snprintf (data, sizeof data, "%s", d);
    else
        tr_conn_default_data_dir (data, sizeof data);
    snprintf (buf, len, "%s/pki/%s", data, ENC_CONFIG_FILE);
}

static void
print_keys (const encryption_t *e)
{
    const char *w = encryption_write_key (e);
    printf ("%-16s %s\n", "KEY", "USE");
    for (int i = 0; i < encryption_key_count (e); i++)
        printf ("%-16s %s\n", encryption_key_name (e, i),
                w && !strcmp (w, encryption_key_name (e, i)) ? "encrypts and decrypts" : "decrypts");
    if (!w)
        printf ("(identity is the first provider: new Secrets are written in plaintext)\n");
}

static int
rewrite (cli_t *g)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    snprintf (req.kind, sizeof req.kind, "Secret");
    if (cli_call (g, &req, &rep))
        return 1;
    tr_env_clear (&req);
    if (rep.code != TR_OK) {
        cli_print_error (&rep);
        tr_env_clear (&rep);
        return 1;
    }
    json_t *items = json_incref (json_object_get (rep.body, "items"));
    tr_env_clear (&rep);
    size_t i, done = 0, failed = 0;
    json_t *s;
    json_array_foreach (items, i, s) {
        /* an unchanged update: the broker seals it again with the key that writes now; a
         * Conflict means someone wrote it meanwhile, which sealed it just as well */
        tr_env_init (&req);
        req.verb = TR_VERB_UPDATE;
        snprintf (req.kind, sizeof req.kind, "Secret");
        snprintf (req.ns, sizeof req.ns, "%s", tv_str (s, "metadata.namespace"));
        snprintf (req.name, sizeof req.name, "%s", tv_str (s, "metadata.name"));
        req.body = json_incref (s);
        int rc = cli_call (g, &req, &rep);
        tr_env_clear (&req);
        if (rc) {
            json_decref (items);
            return 1;
        }
        if (rep.code == TR_OK || rep.code == TR_CONFLICT || rep.code == TR_NOT_FOUND)
            done++;
        else {
            fprintf (stderr, "secret %s/%s: ", tv_str (s, "metadata.namespace"), tv_str (s, "metadata.name"));
            cli_print_error (&rep);
            failed++;
        }
        tr_env_clear (&rep);
    }
    json_decref (items);
    printf ("%zu secrets rewritten%s\n", done, failed ? "" : " with the key that writes now");
    if (failed)
        printf ("%zu failed\n", failed);
    return failed ? 1 : 0;
}

int
cmd_secrets (cli_t *g, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (!strcmp (sub, "rewrite"))
        return rewrite (g);
    char path[1200], err[1400];
    int first = cli_flag (&argc, argv, "--first", NULL);
    config_path (&argc, argv, path, sizeof path);
    int edit = !strcmp (sub, "add-key") || !strcmp (sub, "rotate-key") || !strcmp (sub, "use-key") ||
               !strcmp (sub, "remove-key");
    if (!edit && strcmp (sub, "keys")) {
        fprintf (stderr, "usage: troupe secrets keys | add-key [--first] | use-key NAME | remove-key NAME | rotate-key "
                         "| rewrite   [--data DIR]\n");
        return 1;
    }
    if ((!strcmp (sub, "use-key") || !strcmp (sub, "remove-key")) && argc < 3) {
        fprintf (stderr, "usage: troupe secrets %s NAME [--data DIR]\n", sub);
        return 1;
    }
    encryption_t *e = encryption_load (path, err, sizeof err);
    if (!e) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    int rc = 0;
    char name[64] = "";
    if (!strcmp (sub, "add-key") || !strcmp (sub, "rotate-key"))
        rc = encryption_add_key (e, first || !strcmp (sub, "rotate-key"), name, sizeof name, err, sizeof err);
    else if (!strcmp (sub, "use-key"))
        rc = encryption_use_key (e, argv[2], err, sizeof err);
    else if (!strcmp (sub, "remove-key"))
        rc = encryption_remove_key (e, argv[2], err, sizeof err);
    if (!rc && edit)
        rc = encryption_save (e, path, err, sizeof err);
    if (rc)
        fprintf (stderr, "error: %s\n", err);
    else {
        if (*name)
            printf ("key %s added\n", name);
        print_keys (e);
        if (!strcmp (sub, "rotate-key") || (!strcmp (sub, "add-key") && first) || !strcmp (sub, "use-key"))
            printf ("next: `troupe secrets rewrite` seals every Secret with it; then older keys can be removed\n");
    }
    encryption_destroy (&e);
    return rc ? 1 : 0;
}
