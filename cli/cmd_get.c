/* cmd_get — get (table, wide, yaml, json, name, watch) and describe. */
#include "cli/cli.h"
#include "cli/print.h"
#include "core/host.h"
#include "core/value.h"
#include "core/yaml.h"

#include <stdlib.h>
#include <string.h>

static void
print_json (const json_t *v)
{
    char *s = json_dumps (v, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
    printf ("%s\n", s ? s : "null");
    free (s);
}

static void
print_yaml (const json_t *v)
{
    char *s = tr_yaml_dump (v);
    fputs (s ? s : "", stdout);
    free (s);
}

static void
print_names (const schema_kind_t *k, const json_t *items)
{
    size_t i;
    json_t *o;
    json_array_foreach (items, i, o) {
        char rn[300];
        cli_resource_name (k, tv_str (o, "metadata.name"), rn, sizeof rn);
        printf ("%s\n", rn);
    }
}

static int
output (const schema_kind_t *k, const json_t *items, const char *fmt, int all_ns, int single, int no_headers)
{
    if (fmt && !strcmp (fmt, "json")) {
        if (single)
            print_json (json_array_get (items, 0));
        else {
            json_t *l = json_pack ("{s:s,s:s,s:O}", "apiVersion", "v1", "kind", "List", "items", items);
            print_json (l);
            json_decref (l);
        }
    } else if (fmt && !strcmp (fmt, "yaml")) {
        if (single)
            print_yaml (json_array_get (items, 0));
        else {
            json_t *l = json_pack ("{s:s,s:s,s:O}", "apiVersion", "v1", "kind", "List", "items", items);
            print_yaml (l);
            json_decref (l);
        }
    } else if (fmt && !strcmp (fmt, "name"))
        print_names (k, items);
    else if (!fmt || !strcmp (fmt, "wide")) {
        if (!json_array_size (items) && !no_headers) {
            fprintf (stderr, "No resources found\n");
            return 0;
        }
        print_opts_t po = {0};
        po.wide = fmt != NULL;
        po.all_namespaces = all_ns;
        po.no_headers = no_headers;
        po.now_ms = troupe_now_ms ();
        print_table (stdout, schema_kind_name (k), items, &po);
    } else {
        fprintf (stderr, "error: unable to match a printer suitable for the output format \"%s\" (json, yaml, "
                         "wide, name)\n",
                 fmt);
        return 1;
    }
    fflush (stdout);
    return 0;
}

static int
watch (cli_t *g, const schema_kind_t *k, const char *ns, const char *lsel, const char *fsel, uint64_t rv,
       const char *fmt, int all_ns)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    snprintf (req.kind, sizeof req.kind, "%s", schema_kind_name (k));
    snprintf (req.ns, sizeof req.ns, "%s", ns);
    req.rv = rv;
    req.opts = json_pack ("{s:i}", "credit", 1 << 30);
    if (lsel)
        json_object_set_new (req.opts, "labelSelector", json_string (lsel));
    if (fsel)
        json_object_set_new (req.opts, "fieldSelector", json_string (fsel));
    tr_client_t *c = cli_client (g);
    if (!c || tr_client_send (c, &req)) {
        tr_env_clear (&req);
        return 1;
    }
    uint64_t wid = req.id;
    tr_env_clear (&req);
    while (!zsys_interrupted) {
        tr_env_t ev;
        int rc = tr_client_recv (c, &ev, 5000);
        if (rc == TR_TIMEOUT)
            continue;
        if (rc != TR_OK)
            continue;
        if (ev.id == wid && ev.verb == TR_VERB_REPLY && ev.code != TR_OK) {
            cli_print_error (&ev);
            tr_env_clear (&ev);
            return 1;
        }
        if (ev.id == wid && ev.verb == TR_VERB_EVENT && ev.body) {
            json_t *one = json_pack ("[O]", ev.body);
            output (k, one, fmt, all_ns, 1, 1);
            json_decref (one);
        } else if (ev.verb == TR_VERB_EVENT && !strcmp (tv_str (ev.opts, "type") ? tv_str (ev.opts, "type") : "", "EXPIRED")) {
            fprintf (stderr, "error: watch expired; run the command again\n");
            tr_env_clear (&ev);
            return 1;
        }
        tr_env_clear (&ev);
    }
    return 0;
}

int
cmd_get (cli_t *g, int argc, char **argv)
{
    const char *fmt = cli_opt (&argc, argv, "--output", "-o");
    const char *lsel = cli_opt (&argc, argv, "--selector", "-l");
    const char *fsel = cli_opt (&argc, argv, "--field-selector", NULL);
    int w = cli_flag (&argc, argv, "--watch", "-w");
    int no_headers = cli_flag (&argc, argv, "--no-headers", NULL);
    if (argc < 2) {
        fprintf (stderr, "usage: troupe get KIND [NAME...] [-o wide|yaml|json|name] [-l SELECTOR] [-A] [-w]\n");
        return 1;
    }
    char kindbuf[128];
    snprintf (kindbuf, sizeof kindbuf, "%s", argv[1]);
    char *slash = strchr (kindbuf, '/');
    const char *one_name = NULL;
    if (slash) {
        *slash = 0;
        one_name = slash + 1;
    }
    const schema_kind_t *k = cli_kind (g, kindbuf);
    if (!k)
        return 1;
    int namespaced = schema_kind_namespaced (k);
    const char *ns = !namespaced || g->all_ns ? "" : cli_namespace (g, NULL);
    tr_env_t req, rep;
    int names = argc - 2 + (one_name != NULL);
    if (names > 0) {
        json_t *items = json_array ();
        int bad = 0;
        for (int i = 0; i < names; i++) {
            tr_env_init (&req);
            req.verb = TR_VERB_GET;
            snprintf (req.kind, sizeof req.kind, "%s", schema_kind_name (k));
            snprintf (req.ns, sizeof req.ns, "%s", namespaced ? cli_namespace (g, NULL) : "");
            snprintf (req.name, sizeof req.name, "%s", one_name ? one_name : argv[2 + i]);
            if (cli_call (g, &req, &rep)) {
                json_decref (items);
                return 1;
            }
            if (rep.code == TR_OK)
                json_array_append (items, rep.body);
            else {
                cli_print_error (&rep);
                bad = 1;
            }
            tr_env_clear (&rep);
        }
        int rc = json_array_size (items) ? output (k, items, fmt, 0, names == 1, no_headers) : 0;
        json_decref (items);
        return bad || rc;
    }
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    snprintf (req.kind, sizeof req.kind, "%s", schema_kind_name (k));
    snprintf (req.ns, sizeof req.ns, "%s", ns);
    req.opts = json_object ();
    if (lsel)
        json_object_set_new (req.opts, "labelSelector", json_string (lsel));
    if (fsel)
        json_object_set_new (req.opts, "fieldSelector", json_string (fsel));
    if (cli_call (g, &req, &rep)) {
        tr_env_clear (&req);
        return 1;
    }
    tr_env_clear (&req);
    if (rep.code != TR_OK) {
        cli_print_error (&rep);
        tr_env_clear (&rep);
        return 1;
    }
    int rc = output (k, tv_get (rep.body, "items"), fmt, g->all_ns && namespaced, 0, no_headers);
    uint64_t rv = rep.rv;
    tr_env_clear (&rep);
    if (w && !rc)
        return watch (g, k, ns, lsel, fsel, rv, fmt, g->all_ns && namespaced);
    return rc;
}

int
cmd_describe (cli_t *g, int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: troupe describe KIND NAME\n");
        return 1;
    }
    const schema_kind_t *k = cli_kind (g, argv[1]);
    if (!k)
        return 1;
    int bad = 0;
    for (int i = 2; i < argc; i++) {
        tr_env_t req, rep;
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        snprintf (req.kind, sizeof req.kind, "%s", schema_kind_name (k));
        if (schema_kind_namespaced (k))
            snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
        snprintf (req.name, sizeof req.name, "%s", argv[i]);
        if (cli_call (g, &req, &rep))
            return 1;
        if (rep.code != TR_OK) {
            cli_print_error (&rep);
            tr_env_clear (&rep);
            bad = 1;
            continue;
        }
        json_t *obj = json_incref (rep.body);
        tr_env_clear (&rep);
        /* recent events about the object, as kubectl describe shows them */
        tr_env_init (&req);
        req.verb = TR_VERB_LIST;
        snprintf (req.kind, sizeof req.kind, "Event");
        if (schema_kind_namespaced (k))
            snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
        char fs[600];
        snprintf (fs, sizeof fs, "involvedObject.name=%s,involvedObject.kind=%s", argv[i], schema_kind_name (k));
        req.opts = json_pack ("{s:s}", "fieldSelector", fs);
        json_t *events = NULL;
        if (cli_call (g, &req, &rep) == 0 && rep.code == TR_OK)
            events = json_incref (tv_get (rep.body, "items"));
        tr_env_clear (&req);
        tr_env_clear (&rep);
        if (i > 2)
            printf ("\n\n");
        print_describe (stdout, schema_kind_name (k), obj, events, troupe_now_ms ());
        json_decref (events);
        json_decref (obj);
    }
    return bad;
}
