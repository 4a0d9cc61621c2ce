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

/* A watch as an informer runs one: credit granted as events are consumed (the broker lets at most
 * BCACHE_MAX_CREDIT be outstanding), a ping every 2 s (the broker drops the watches of a silent
 * client). When the broker ends the watch (EXPIRED: too slow, silent too long) it resumes from the
 * last revision printed; if that has left the broker's window it relists, as kubectl's
 * reflector-based watchers do. */
#define WATCH_CREDIT 1024

static uint64_t
watch_send (tr_client_t *c, const schema_kind_t *k, const char *ns, const char *lsel, const char *fsel, uint64_t rv)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_WATCH;
    snprintf (req.kind, sizeof req.kind, "%s", schema_kind_name (k));
    snprintf (req.ns, sizeof req.ns, "%s", ns);
    req.rv = rv;
    req.opts = json_pack ("{s:i}", "credit", WATCH_CREDIT);
    if (lsel)
        json_object_set_new (req.opts, "labelSelector", json_string (lsel));
    if (fsel)
        json_object_set_new (req.opts, "fieldSelector", json_string (fsel));
    uint64_t id = tr_client_send (c, &req) ? 0 : req.id;
    tr_env_clear (&req);
    return id;
}

static void
small_send (tr_client_t *c, tr_verb_t verb, uint64_t rv, json_t *opts, uint64_t *id)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = verb;
    req.rv = rv;
    req.opts = opts;
    tr_client_send (c, &req);
    if (id)
        *id = req.id;
    tr_env_clear (&req);
}

static int list_items (cli_t *g, const schema_kind_t *k, const char *ns, const char *lsel, const char *fsel,
                       tr_env_t *rep);

static int
watch (cli_t *g, const schema_kind_t *k, const char *ns, const char *lsel, const char *fsel, uint64_t rv,
       const char *fmt, int all_ns)
{
    tr_client_t *c = cli_client (g);
    uint64_t wid = c ? watch_send (c, k, ns, lsel, fsel, rv) : 0;
    if (!wid)
        return 1;
    long unacked = 0;
    uint64_t ping_id = 0;
    int64_t next_ping = zclock_mono () + 2000;
    while (!zsys_interrupted) {
        if (zclock_mono () >= next_ping) {
            small_send (c, TR_VERB_PING, 0, NULL, &ping_id);
            next_ping = zclock_mono () + 2000;
        }
        tr_env_t ev;
        int rc = tr_client_recv (c, &ev, 500);
        if (rc != TR_OK) {
            tr_env_clear (&ev);
            continue;
        }
        const char *type = tv_str (ev.opts, "type");
        int resume = 0;
        if (ev.verb == TR_VERB_REPLY && ev.id == ping_id && tv_bool (ev.body, "watchesCut", false)) {
            fprintf (stderr, "watch cut by the server while this client was not answering; resuming from revision "
                             "%llu\n",
                     (unsigned long long) rv);
            small_send (c, TR_VERB_CANCEL, wid, NULL, NULL);
            resume = 1;
        } else if (ev.verb == TR_VERB_REPLY && ev.id == wid && ev.code == TR_EXPIRED) {
            fprintf (stderr, "revision %llu is no longer available (%s); relisting\n", (unsigned long long) rv,
                     ev.msg ? ev.msg : "");
            tr_env_t rep;
            if (list_items (g, k, ns, lsel, fsel, &rep)) {
                tr_env_clear (&ev);
                return 1;
            }
            json_t *items = tv_get (rep.body, "items");
            if (json_array_size (items))
                output (k, items, fmt, all_ns, 0, 1);
            rv = rep.rv;
            tr_env_clear (&rep);
            c = cli_client (g); /* the list may have moved to another server */
            resume = 1;
        } else if (ev.verb == TR_VERB_REPLY && ev.id == wid && ev.code != TR_OK) {
            cli_print_error (&ev);
            tr_env_clear (&ev);
            return 1;
        } else if (ev.verb == TR_VERB_EVENT && ev.id == wid && type && !strcmp (type, "EXPIRED")) {
            fprintf (stderr, "%s; resuming from revision %llu\n", ev.msg ? ev.msg : "watch ended by the server",
                     (unsigned long long) rv);
            resume = 1;
        } else if (ev.verb == TR_VERB_EVENT && ev.id == wid) {
            if (ev.rv > rv)
                rv = ev.rv;
            if (ev.body && type && strcmp (type, "BOOKMARK")) {
                json_t *one = json_pack ("[O]", ev.body);
                output (k, one, fmt, all_ns, 1, 1);
                json_decref (one);
            }
            if (++unacked >= WATCH_CREDIT / 2) {
                small_send (c, TR_VERB_CREDIT, wid, json_pack ("{s:I}", "credit", (json_int_t) unacked), NULL);
                unacked = 0;
            }
        }
        tr_env_clear (&ev);
        if (resume) {
            unacked = 0;
            if (!(wid = watch_send (c, k, ns, lsel, fsel, rv)))
                return 1;
        }
    }
    return 0;
}

/* --chunk-size: objects per page of a list (kubectl's default 500; 0 lists in one message). */
static long chunk_size = 500;

/* Lists in pages of chunk_size (limit/continue), gathered into one reply: rep->body.items holds
 * every object, rep->rv the first page's revision (every page is of that snapshot). A token that
 * expires midway (the server kept the snapshot 60 s after each page) restarts the list. */
static int
list_items (cli_t *g, const schema_kind_t *k, const char *ns, const char *lsel, const char *fsel, tr_env_t *rep)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        json_t *all = NULL;
        uint64_t rv = 0;
        char *cont = NULL;
        int expired = 0;
        for (;;) {
            tr_env_t req, page;
            tr_env_init (&req);
            req.verb = TR_VERB_LIST;
            snprintf (req.kind, sizeof req.kind, "%s", schema_kind_name (k));
            snprintf (req.ns, sizeof req.ns, "%s", ns);
            req.opts = json_object ();
            if (lsel)
                json_object_set_new (req.opts, "labelSelector", json_string (lsel));
            if (fsel)
                json_object_set_new (req.opts, "fieldSelector", json_string (fsel));
            if (chunk_size > 0)
                json_object_set_new (req.opts, "limit", json_integer (chunk_size));
            if (cont)
                json_object_set_new (req.opts, "continue", json_string (cont));
            int rc = cli_call (g, &req, &page);
            tr_env_clear (&req);
            free (cont);
            cont = NULL;
            if (rc) {
                json_decref (all);
                return 1;
            }
            if (page.code == TR_EXPIRED && all) {
                tr_env_clear (&page);
                expired = 1;
                break;
            }
            if (page.code != TR_OK) {
                cli_print_error (&page);
                tr_env_clear (&page);
                json_decref (all);
                return 1;
            }
            if (!all) {
                all = json_incref (page.body);
                rv = page.rv;
            } else
                json_array_extend (json_object_get (all, "items"), tv_get (page.body, "items"));
            const char *next = tv_str (page.body, "metadata.continue");
            cont = next && *next ? strdup (next) : NULL;
            tr_env_clear (&page);
            if (!cont)
                break;
        }
        if (expired) {
            json_decref (all);
            continue;
        }
        json_t *md = json_object_get (all, "metadata");
        json_object_del (md, "continue");
        json_object_del (md, "remainingItemCount");
        tr_env_init (rep);
        rep->verb = TR_VERB_REPLY;
        rep->body = all;
        rep->rv = rv;
        return 0;
    }
    fprintf (stderr, "error: the list kept changing faster than it could be read in pages; retry, or use --chunk-size 0\n");
    return 1;
}

int
cmd_get (cli_t *g, int argc, char **argv)
{
    const char *fmt = cli_opt (&argc, argv, "--output", "-o");
    const char *lsel = cli_opt (&argc, argv, "--selector", "-l");
    const char *fsel = cli_opt (&argc, argv, "--field-selector", NULL);
    int w = cli_flag (&argc, argv, "--watch", "-w");
    int no_headers = cli_flag (&argc, argv, "--no-headers", NULL);
    const char *chunk = cli_opt (&argc, argv, "--chunk-size", NULL);
    if (chunk) {
        char *end;
        chunk_size = strtol (chunk, &end, 10);
        if (*end || chunk_size < 0) {
            fprintf (stderr, "error: --chunk-size: must be a non-negative integer (0: no paging), got \"%s\"\n", chunk);
            return 1;
        }
    }
    if (argc < 2) {
        fprintf (stderr, "usage: troupe get KIND [NAME...] [-o wide|yaml|json|name] [-l SELECTOR] [-A] [-w] [--chunk-size 500]\n");
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
    if (list_items (g, k, ns, lsel, fsel, &rep))
        return 1;
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
