/* cmd_runtime — the node's crictl/nerdctl: `troupe runtime ps|images|inspect|logs|rmi` and
 * `troupe image import`. They read the oci runtime's state under DATA/oci directly (records,
 * conmon's exit files, the image store), so they work with the agent and the shim stopped.
 * Runtime namespaces as containerd's: the cluster's pods live in troupe.io, standalone pods in
 * default; --namespace picks one (default: every namespace for ps/images). */
#include "cli/cli.h"
#include "core/conn.h"
#include "core/value.h"
#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/oci_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
state_dir (int *argc, char **argv, char *buf, size_t len)
{
    const char *d = cli_opt (argc, argv, "--data", NULL);
    char data[PATH_MAX];
    if (d)
        snprintf (data, sizeof data, "%s", d);
    else
        tr_conn_default_data_dir (data, sizeof data);
    snprintf (buf, len, "%.4000s/oci", data);
}

static void
age (int64_t ms, char *buf, size_t len)
{
    int64_t s = ms > 0 ? (int64_t) time (NULL) - ms / 1000 : 0;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf (buf, len, "%llds", (long long) s);
    else if (s < 7200)
        snprintf (buf, len, "%lldm", (long long) s / 60);
    else if (s < 172800)
        snprintf (buf, len, "%lldh", (long long) s / 3600);
    else
        snprintf (buf, len, "%lldd", (long long) s / 86400);
}

static const json_t *
find_ctr (const json_t *all, const char *id)
{
    size_t i, n = strlen (id);
    json_t *r;
    const json_t *hit = NULL;
    json_array_foreach (all, i, r) {
        const char *cid = tv_str (r, "containerId");
        if (cid && !strncmp (cid, id, n)) {
            if (hit)
                return NULL; /* ambiguous prefix */
            hit = r;
        }
    }
    return hit;
}

static int
ps (const char *st, const char *ns, int all, int json)
{
    json_t *cs = oci_state_containers (st, ns), *sbs = oci_state_sandboxes (st, ns);
    if (json) {
        char *t = json_dumps (cs, JSON_INDENT (2));
        printf ("%s\n", t);
        free (t);
    } else {
        printf ("%-14s %-36s %-8s %-10s %-20s %-8s %-32s %s\n", "CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT",
                "POD", "NAMESPACE");
        size_t i;
        json_t *r;
        json_array_foreach (cs, i, r) {
            const char *state = tv_str (r, "state") ? tv_str (r, "state") : "";
            if (!all && strcmp (state, "RUNNING"))
                continue;
            char ago[32];
            age (tv_int (r, "createdAt", 0), ago, sizeof ago);
            const json_t *sb = NULL;
            size_t j;
            json_t *x;
            json_array_foreach (sbs, j, x) if (tv_str (x, "sandboxId") && tv_str (r, "sandboxId") &&
                                               !strcmp (tv_str (x, "sandboxId"), tv_str (r, "sandboxId"))) sb = x;
            char pod[300];
            snprintf (pod, sizeof pod, "%s/%s", sb && tv_str (sb, "namespace") ? tv_str (sb, "namespace") : "",
                      tv_str (r, "podName") ? tv_str (r, "podName") : "");
            printf ("%-14.13s %-36.36s %-8s %-10s %-20.20s %-8lld %-32.32s %s\n", tv_str (r, "containerId"),
                    tv_str (r, "image") ? tv_str (r, "image") : "", ago, state, tv_str (r, "name") ? tv_str (r, "name") : "",
                    (long long) tv_int (r, "attempt", 0), pod,
                    tv_str (r, "runtimeNamespace") ? tv_str (r, "runtimeNamespace") : OCI_DEFAULT_NAMESPACE);
        }
    }
    json_decref (cs);
    json_decref (sbs);
    return 0;
}

static int
images (const char *st, const char *ns, int json)
{
    char root[PATH_MAX], err[300];
    snprintf (root, sizeof root, "%.4000s/images", st);
    imgstore_t *img = imgstore_open (root, err, sizeof err);
    if (!img) {
        fprintf (stderr, "error: image store %s: %s\n", root, err);
        return 1;
    }
    json_t *l = imgstore_list (img, ns);
    if (json) {
        char *t = json_dumps (l, JSON_INDENT (2));
        printf ("%s\n", t);
        free (t);
    } else {
        printf ("%-56s %-20s %-10s %s\n", "IMAGE", "DIGEST", "SIZE", "NAMESPACE");
        size_t i;
        json_t *r;
        json_array_foreach (l, i, r) {
            const char *d = tv_str (r, "digest") ? tv_str (r, "digest") : "";
            printf ("%-56s %-20.19s %-10.1fM %s\n", tv_str (r, "name") ? tv_str (r, "name") : "", d,
                    (double) tv_int (r, "size", 0) / 1048576.0, tv_str (r, "namespace") ? tv_str (r, "namespace") : "");
        }
    }
    json_decref (l);
    imgstore_destroy (&img);
    return 0;
}

static int
rmi (const char *st, const char *ns, const char *ref)
{
    char root[PATH_MAX], err[600];
    snprintf (root, sizeof root, "%.4000s/images", st);
    imgstore_t *img = imgstore_open (root, err, sizeof err);
    if (!img) {
        fprintf (stderr, "error: image store %s: %s\n", root, err);
        return 1;
    }
    json_t *cs = oci_state_containers (st, NULL), *in_use = json_array ();
    size_t i;
    json_t *r;
    json_array_foreach (cs, i, r) if (tv_str (r, "imageRef")) json_array_append_new (in_use, json_string (tv_str (r, "imageRef")));
    int rc = imgstore_remove (img, ns ? ns : OCI_DEFAULT_NAMESPACE, ref, in_use, err, sizeof err);
    json_decref (cs);
    json_decref (in_use);
    imgstore_destroy (&img);
    if (rc) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    printf ("Deleted: %s\n", ref);
    return 0;
}

static int
logs (const char *st, const char *id, int timestamps)
{
    json_t *cs = oci_state_containers (st, NULL);
    const json_t *c = find_ctr (cs, id);
    if (!c) {
        fprintf (stderr, "error: container \"%s\" not found (or the prefix is ambiguous)\n", id);
        json_decref (cs);
        return 1;
    }
    FILE *f = fopen (tv_str (c, "logPath") ? tv_str (c, "logPath") : "", "r");
    if (!f) {
        json_decref (cs);
        return 0;
    }
    char line[65536];
    while (fgets (line, sizeof line, f)) {
        /* "<time> <stream> <P|F> <text>" */
        char *sp1 = strchr (line, ' '), *sp2 = sp1 ? strchr (sp1 + 1, ' ') : NULL, *sp3 = sp2 ? strchr (sp2 + 1, ' ') : NULL;
        if (!sp3) {
            fputs (line, stdout);
            continue;
        }
        int partial = sp2[1] == 'P';
        if (timestamps)
            fwrite (line, 1, (size_t) (sp1 - line) + 1, stdout);
        size_t n = strlen (sp3 + 1);
        if (partial && n && sp3[n] == '\n')
            n--;
        fwrite (sp3 + 1, 1, n, stdout);
    }
    fclose (f);
    json_decref (cs);
    return 0;
}

int
cmd_runtime (cli_t *g, int argc, char **argv)
{
    char st[PATH_MAX];
    state_dir (&argc, argv, st, sizeof st);
    /* main took --namespace/-n as the global option already */
    const char *ns = cli_opt (&argc, argv, "--namespace", "-n");
    if (!ns)
        ns = g->ns;
    const char *out = cli_opt (&argc, argv, "--output", "-o");
    int all = cli_flag (&argc, argv, "--all", "-a");
    int ts = cli_flag (&argc, argv, "--timestamps", NULL);
    int json = out && !strcmp (out, "json");
    if (argc < 2) {
        fprintf (stderr, "usage: troupe runtime ps [-a] | images | inspect ID | logs ID | rmi IMAGE  [--namespace NS] "
                         "[--data DIR] [-o json]\n");
        return 1;
    }
    if (!strcmp (argv[1], "ps"))
        return ps (st, ns, all, json);
    if (!strcmp (argv[1], "images"))
        return images (st, ns, json);
    if (!strcmp (argv[1], "rmi") && argc >= 3)
        return rmi (st, ns, argv[2]);
    if (!strcmp (argv[1], "logs") && argc >= 3)
        return logs (st, argv[2], ts);
    if (!strcmp (argv[1], "inspect") && argc >= 3) {
        json_t *cs = oci_state_containers (st, NULL);
        const json_t *c = find_ctr (cs, argv[2]);
        if (!c) {
            fprintf (stderr, "error: container \"%s\" not found (or the prefix is ambiguous)\n", argv[2]);
            json_decref (cs);
            return 1;
        }
        char *t = json_dumps (c, JSON_INDENT (2));
        printf ("%s\n", t);
        free (t);
        json_decref (cs);
        return 0;
    }
    fprintf (stderr, "error: unknown runtime command \"%s\" (ps, images, inspect, logs, rmi)\n", argv[1]);
    return 1;
}

int
cmd_image (cli_t *g, int argc, char **argv)
{
    char st[PATH_MAX];
    state_dir (&argc, argv, st, sizeof st);
    const char *ns = cli_opt (&argc, argv, "--namespace", "-n");
    if (!ns)
        ns = g->ns; /* main took --namespace/-n as the global option already */
    if (argc < 3 || strcmp (argv[1], "import")) {
        fprintf (stderr, "usage: troupe image import FILE.tar [--namespace troupe.io] [--data DIR]\n");
        return 1;
    }
    char root[PATH_MAX], err[1024];
    snprintf (root, sizeof root, "%.4000s/images", st);
    char mk[PATH_MAX];
    snprintf (mk, sizeof mk, "%s", root);
    for (char *p = mk + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (mk, 0700);
            *p = '/';
        }
    mkdir (mk, 0700);
    imgstore_t *img = imgstore_open (root, err, sizeof err);
    if (!img) {
        fprintf (stderr, "error: image store %s: %s\n", root, err);
        return 1;
    }
    json_t *names = NULL;
    int rc = imgstore_import (img, ns ? ns : OCI_DEFAULT_NAMESPACE, argv[2], &names, err, sizeof err);
    imgstore_destroy (&img);
    if (rc) {
        fprintf (stderr, "error: import %s: %s\n", argv[2], err);
        json_decref (names);
        return 1;
    }
    size_t i;
    json_t *n;
    json_array_foreach (names, i, n) printf ("imported %s\n", json_string_value (n));
    json_decref (names);
    return 0;
}
