/* manifests_actor — see manifests_actor.h. */
#include "actors/manifests/manifests_actor.h"
#include "actors/manifests/manifests.h"
#include "core/log.h"
#include "core/value.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define A "manifests"
#define T_SCAN 1
#define T_KICK 2
#define INFLIGHT_MS 5000

typedef struct {
    char dir[1024];
    char node[TR_NAME_MAX + 1];
    troupe_informer_t *pods;
    json_t *files;    /* file name → {size, mtime (ns), pods: [...]} or {size, mtime, error, pods: last good} */
    json_t *inflight; /* "ns/name" → monotonic ms of the request */
    json_t *dups;     /* "file pod" pairs already reported as duplicates */
    int dir_missing;  /* reported once */
} man_t;

static int
by_name (const void *x, const void *y)
{
    return strcmp (*(const char *const *) x, *(const char *const *) y);
}

/* Reads name again if its size or mtime moved. A bad version keeps the pods of the last good one. */
static void
read_file (man_t *m, const char *name, const struct stat *st)
{
    json_int_t mtime = (json_int_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    json_t *prev = json_object_get (m->files, name);
    if (prev && tv_int (prev, "size", -1) == (json_int_t) st->st_size && tv_int (prev, "mtime", -1) == mtime)
        return;
    char path[2400], err[3000];
    snprintf (path, sizeof path, "%s/%s", m->dir, name);
    json_t *pods = NULL;
    FILE *f = fopen (path, "rb");
    if (!f)
        snprintf (err, sizeof err, "%s: %s", path, strerror (errno));
    else {
        size_t cap = (size_t) st->st_size + 1, n;
        char *text = malloc (cap);
        n = fread (text, 1, cap - 1, f);
        fclose (f);
        text[n] = 0;
        pods = manifests_from_text (text, n, path, m->node, err, sizeof err);
        free (text);
    }
    json_t *rec = json_pack ("{s:I,s:I}", "size", (json_int_t) st->st_size, "mtime", mtime);
    if (pods) {
        TR_INFO (A, "%s %s pods=%zu", prev ? "read again" : "read", path, json_array_size (pods));
        json_object_set_new (rec, "pods", pods);
    } else {
        TR_ERROR (A, "%s", err);
        json_object_set_new (rec, "error", json_string (err));
        if (json_object_get (prev, "pods"))
            json_object_set (rec, "pods", json_object_get (prev, "pods"));
    }
    json_object_set_new (m->files, name, rec);
}

/* The folder as of now: "ns/name" → pod, files read in name order (the first of two files naming
 * the same pod wins, the other is reported). */
static json_t *
scan (man_t *m)
{
    json_t *seen = json_object ();
    struct dirent **ents = NULL;
    int n = scandir (m->dir, &ents, NULL, alphasort);
    if (n < 0) {
        if (!m->dir_missing)
            TR_WARN (A, "cannot read the manifests folder %s: %s (no static pods until it exists)", m->dir, strerror (errno));
        m->dir_missing = 1;
        n = 0;
    } else
        m->dir_missing = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        char path[2400];
        snprintf (path, sizeof path, "%s/%s", m->dir, ents[i]->d_name);
        if (manifests_wanted_file (ents[i]->d_name) && stat (path, &st) == 0 && S_ISREG (st.st_mode)) {
            read_file (m, ents[i]->d_name, &st);
            json_object_set_new (seen, ents[i]->d_name, json_true ());
        }
        free (ents[i]);
    }
    free (ents);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (m->files, tmp, k, v) if (!json_object_get (seen, k)) {
        TR_INFO (A, "%s/%s removed", m->dir, k);
        json_object_del (m->files, k);
    }
    json_decref (seen);
    json_t *desired = json_object ();
    const char **names = calloc (json_object_size (m->files) + 1, sizeof *names);
    size_t nn = 0;
    json_object_foreach (m->files, k, v) names[nn++] = k;
    qsort (names, nn, sizeof *names, by_name);
    json_t *dups = json_object ();
    for (size_t i = 0; i < nn; i++) {
        size_t j;
        json_t *p;
        json_array_foreach (tv_get (json_object_get (m->files, names[i]), "pods"), j, p) {
            char key[2 * TR_NAME_MAX + 4];
            snprintf (key, sizeof key, "%s/%s", tv_str (p, "metadata.namespace"), tv_str (p, "metadata.name"));
            if (json_object_get (desired, key)) {
                char dk[3 * TR_NAME_MAX];
                snprintf (dk, sizeof dk, "%s %s", names[i], key);
                if (!json_object_get (m->dups, dk))
                    TR_WARN (A, "%s/%s: pod %s is also in an earlier file: ignored here", m->dir, names[i], key);
                json_object_set_new (dups, dk, json_true ());
            } else
                json_object_set (desired, key, p);
        }
    }
    free (names);
    json_decref (m->dups);
    m->dups = dups;
    return desired;
}

static void
collect (void *arg, const json_t *pod)
{
    json_array_append ((json_t *) arg, (json_t *) pod);
}

static void
done (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    man_t *m = self;
    char *key = arg;
    json_object_del (m->inflight, key);
    if (reply->code != TR_OK && reply->code != TR_ALREADY_EXISTS && reply->code != TR_NOT_FOUND)
        TR_ERROR (A, "pod %s: %s (%s): the manifest is tried again in a moment", key, reply->msg ? reply->msg : "",
                  tr_code_name (reply->code));
    free (key);
    troupe_timer_within (ctx, T_KICK, 20);
}

static void
reconcile (man_t *m, troupe_ctx_t *ctx)
{
    json_t *desired = scan (m);
    if (!troupe_informer_synced (m->pods)) {
        json_decref (desired);
        return; /* nothing is decided before the store's pods are known */
    }
    json_t *observed = json_array ();
    troupe_informer_foreach (m->pods, collect, observed);
    ctrl_actions_t acts = {0};
    manifests_reconcile (desired, observed, &acts);
    int64_t now = troupe_mono_ms ();
    for (size_t i = 0; i < acts.n; i++) {
        ctrl_action_t *a = &acts.v[i];
        char key[2 * TR_NAME_MAX + 4];
        snprintf (key, sizeof key, "%s/%s", a->ns, a->name);
        json_t *t = json_object_get (m->inflight, key);
        if (t && now - json_integer_value (t) < INFLIGHT_MS)
            continue;
        json_object_set_new (m->inflight, key, json_integer (now));
        TR_INFO (A, "%s pod %s (%s)", a->verb == TR_VERB_CREATE ? "creating" : "deleting", key,
                 a->owner[0] == 'n' ? "new manifest" : a->owner[0] == 'c' ? "manifest changed: replaced" : "manifest removed");
        tr_env_t req;
        tr_env_init (&req);
        req.verb = a->verb;
        snprintf (req.kind, sizeof req.kind, "%s", a->kind);
        snprintf (req.ns, sizeof req.ns, "%s", a->ns);
        snprintf (req.name, sizeof req.name, "%s", a->name);
        req.body = a->body;
        a->body = NULL;
        troupe_request (ctx, &req, done, strdup (key));
        tr_env_clear (&req);
    }
    ctrl_actions_clear (&acts);
    json_decref (observed);
    json_decref (desired);
}

static void
kick_delete (void *self, troupe_ctx_t *ctx, const json_t *obj)
{
    (void) self;
    if (manifests_is_static (obj))
        troupe_timer_within (ctx, T_KICK, 20);
}

static void
kick_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    troupe_timer_within (ctx, T_KICK, 20);
}

static void *
man_create (troupe_ctx_t *ctx, const json_t *config)
{
    const char *dir = tv_str (config, "manifestDir");
    if (!dir || !*dir) {
        TR_ERROR (A, "config manifestDir is required");
        return NULL;
    }
    man_t *m = calloc (1, sizeof *m);
    snprintf (m->dir, sizeof m->dir, "%s", dir);
    const char *node = tv_str (config, "nodeName");
    snprintf (m->node, sizeof m->node, "%s", node && *node ? node : troupe_node_name (ctx));
    m->files = json_object ();
    m->inflight = json_object ();
    m->dups = json_object ();
    char fs[300];
    snprintf (fs, sizeof fs, "spec.nodeName=%s", m->node);
    troupe_handlers_t h = {.on_delete = kick_delete, .on_synced = kick_synced};
    m->pods = troupe_watch (ctx, "Pod", NULL, fs, &h);
    json_int_t every = tv_int (config, "intervalMs", 1000);
    troupe_timer (ctx, T_SCAN, every > 0 ? (int) every : 1000, 1);
    TR_INFO (A, "static pods from %s node=%s", m->dir, m->node);
    return m;
}

static int
man_timer (void *self, troupe_ctx_t *ctx, int id)
{
    (void) id;
    reconcile (self, ctx);
    return 0;
}

static void
man_destroy (void **p)
{
    man_t *m = *p;
    if (!m)
        return;
    json_decref (m->files);
    json_decref (m->inflight);
    json_decref (m->dups);
    free (m);
    *p = NULL;
}

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "manifests", man_create, NULL, man_timer, man_destroy};

const troupe_actor_t *
manifests_actor (void)
{
    return &def;
}
