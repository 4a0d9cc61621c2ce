/* profile — see profile.h. */
#include "actors/scheduler/profile.h"
#include "actors/scheduler/plugins/registry.h"
#include "core/value.h"
#include "core/yaml.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NPOINTS 10
static const char *const point_names[NPOINTS] = {"queueSort", "preFilter", "filter", "postFilter", "preScore",
                                                 "score",     "reserve",   "permit", "preBind",    "bind"};

/* ---- plugins from .so files --------------------------------------------------------------- */

static int
abi_check (const char *path, const tr_sched_plugin_t *d, char *err, size_t errlen)
{
    if (!d) {
        snprintf (err, errlen, "plugin %s: %s returned no descriptor", path, TR_SCHED_PLUGIN_ENTRY);
        return -1;
    }
    if (d->abi_major != TR_SCHED_ABI_MAJOR || d->abi_minor > TR_SCHED_ABI_MINOR) {
        snprintf (err, errlen, "plugin %s: built for ABI %u.%u, this scheduler has %u.%u", path, d->abi_major,
                  d->abi_minor, TR_SCHED_ABI_MAJOR, TR_SCHED_ABI_MINOR);
        return -1;
    }
    struct {
        const char *what;
        uint32_t theirs;
        size_t ours;
    } sz[] = {{"tr_sched_plugin_t", d->size, sizeof (tr_sched_plugin_t)},
              {"tr_sched_pod_t", d->pod_size, sizeof (tr_sched_pod_t)},
              {"tr_sched_node_t", d->node_size, sizeof (tr_sched_node_t)},
              {"tr_sched_host_t", d->host_size, sizeof (tr_sched_host_t)}};
    for (size_t i = 0; i < 4; i++)
        if (sz[i].theirs > sz[i].ours) {
            snprintf (err, errlen, "plugin %s: built with a larger %s than this scheduler's (%u > %zu bytes)", path,
                      sz[i].what, sz[i].theirs, sz[i].ours);
            return -1;
        }
    if (!d->name || !*d->name) {
        snprintf (err, errlen, "plugin %s: no name", path);
        return -1;
    }
    return 0;
}

static const tr_sched_plugin_t *
open_so (const char *path, void **dl, char *err, size_t errlen)
{
    *dl = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        snprintf (err, errlen, "plugin %s: %s", path, dlerror ());
        return NULL;
    }
    tr_sched_plugin_entry_fn entry = (tr_sched_plugin_entry_fn) dlsym (*dl, TR_SCHED_PLUGIN_ENTRY);
    if (!entry) {
        snprintf (err, errlen, "plugin %s: no symbol %s", path, TR_SCHED_PLUGIN_ENTRY);
        dlclose (*dl);
        *dl = NULL;
        return NULL;
    }
    const tr_sched_plugin_t *d = entry ();
    if (abi_check (path, d, err, errlen)) {
        dlclose (*dl);
        *dl = NULL;
        return NULL;
    }
    return d;
}

/* dlopen + entry + init + destroy in a child: a crash there costs the child, not the scheduler.
 * The child's exit: 0 fine, PROBE_OPEN_FAILED / PROBE_INIT_REFUSED (the parent's own open or init
 * then says why, safely); anything else (a signal, exit () from init, a sanitizer's report) is a
 * crash. */
enum { PROBE_OPEN_FAILED = 102, PROBE_INIT_REFUSED = 103 };
static int
probe (const char *path, const json_t *args, char *err, size_t errlen)
{
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0) {
        snprintf (err, errlen, "plugin %s: fork: %s", path, strerror (errno));
        return -1;
    }
    if (pid == 0) {
        /* a crash must kill the child: no inherited handler may catch it (and carry on as a
         * copy of the scheduler) */
        const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal (sigs[i], SIG_DFL);
        sigset_t all;
        sigemptyset (&all);
        sigprocmask (SIG_SETMASK, &all, NULL);
        void *dl;
        char e[512];
        const tr_sched_plugin_t *d = open_so (path, &dl, e, sizeof e);
        if (!d)
            _exit (PROBE_OPEN_FAILED); /* the parent says why, opening it itself */
        if (d->init) {
            void *self = d->init (args, fw_host (), e, sizeof e);
            if (!self)
                _exit (PROBE_INIT_REFUSED); /* the parent's init says why */
            if (d->destroy)
                d->destroy (self);
        }
        _exit (0);
    }
    int st = 0;
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid (pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf (err, errlen, "plugin %s: waitpid: %s", path, strerror (errno));
            return -1;
        }
        if (waited >= 10000) {
            kill (pid, SIGKILL);
            waitpid (pid, &st, 0);
            snprintf (err, errlen, "plugin %s: init did not return within 10 s", path);
            return -1;
        }
        nanosleep (&(struct timespec) {0, 10 * 1000 * 1000}, NULL);
    }
    if (WIFSIGNALED (st)) {
        const char *abbrev = sigabbrev_np (WTERMSIG (st));
        snprintf (err, errlen, "plugin %s crashed in init: SIG%s", path, abbrev ? abbrev : "?");
        return -1;
    }
    int code = WIFEXITED (st) ? WEXITSTATUS (st) : -1;
    if (code != 0 && code != PROBE_OPEN_FAILED && code != PROBE_INIT_REFUSED) {
        snprintf (err, errlen, "plugin %s crashed in init: exit status %d", path, code);
        return -1;
    }
    return 0;
}

const tr_sched_plugin_t *
sched_plugin_open (const char *path, const json_t *args, void **dl, char *err, size_t errlen)
{
    *dl = NULL;
    if (!path || path[0] != '/') {
        snprintf (err, errlen, "plugin %s: path must be absolute", path ? path : "(null)");
        return NULL;
    }
    if (probe (path, args, err, errlen))
        return NULL;
    return open_so (path, dl, err, errlen);
}

/* ---- profiles ----------------------------------------------------------------------------- */

typedef struct {
    char name[128];
    char path[512];
    int64_t weight;
} entry_t;

typedef struct {
    entry_t e[64];
    size_t n;
} list_t;

static void
list_add (list_t *l, const char *name, const char *path, int64_t weight)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp (l->e[i].name, name)) { /* re-configured: in place, new weight/path */
            if (weight)
                l->e[i].weight = weight;
            if (path)
                snprintf (l->e[i].path, sizeof l->e[i].path, "%s", path);
            return;
        }
    if (l->n == 64)
        return;
    entry_t *e = &l->e[l->n++];
    snprintf (e->name, sizeof e->name, "%s", name);
    snprintf (e->path, sizeof e->path, "%s", path ? path : "");
    e->weight = weight;
}

static int
has_name (const json_t *arr, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach (arr, i, x) {
        const char *n = tv_str (x, "name");
        if (n && (!strcmp (n, "*") || !strcmp (n, name)))
            return 1;
    }
    return 0;
}

/* Kubernetes' mergePluginSet: defaults minus disabled ("*": all), re-configured defaults in place,
 * then the other enabled ones in their order. Errors name the path in the file. */
static int
merge (list_t *out, const list_t *defaults, const json_t *set, const char *where, char *err, size_t errlen)
{
    const json_t *dis = tv_get (set, "disabled"), *en = tv_get (set, "enabled");
    out->n = 0;
    for (size_t i = 0; i < defaults->n; i++)
        if (!has_name (dis, defaults->e[i].name))
            list_add (out, defaults->e[i].name, defaults->e[i].path[0] ? defaults->e[i].path : NULL,
                      defaults->e[i].weight);
    size_t i;
    json_t *x;
    json_array_foreach (en, i, x) {
        const char *name = tv_str (x, "name");
        if (!name || !*name) {
            snprintf (err, errlen, "%s.enabled[%zu].name: required", where, i);
            return -1;
        }
        json_int_t w = json_integer_value (tv_get (x, "weight"));
        if (w < 0) {
            snprintf (err, errlen, "%s.enabled[%zu].weight: must be positive", where, i);
            return -1;
        }
        list_add (out, name, tv_str (x, "path"), w);
    }
    return 0;
}

typedef struct {
    char name[128];
    const tr_sched_plugin_t *p;
    void *dl;
    int used;
} resolved_t;

/* Builds one profile; NULL with err. */
static fw_profile_t *
build (const json_t *prof, const char *file, size_t index, int pct, char *err, size_t errlen)
{
    const char *sn = tv_str (prof, "schedulerName");
    if (!sn)
        sn = "default-scheduler";
    if (json_is_integer (tv_get (prof, "percentageOfNodesToScore")))
        pct = (int) json_integer_value (tv_get (prof, "percentageOfNodesToScore"));
    char where[256];
    const json_t *plugins = tv_get (prof, "plugins");
    const sched_default_t *defs;
    size_t ndefs = sched_registry_defaults (&defs);
    list_t dflt = {0}, multi = {0};
    for (size_t i = 0; i < ndefs; i++)
        list_add (&dflt, defs[i].name, NULL, defs[i].weight);
    char e[512];
    snprintf (where, sizeof where, "profiles[%zu].plugins.multiPoint", index);
    if (merge (&multi, &dflt, tv_get (plugins, "multiPoint"), where, e, sizeof e))
        goto bad;
    list_t *per = calloc (NPOINTS, sizeof *per);
    resolved_t *res = calloc (64, sizeof *res);
    size_t nres = 0;
    fw_profile_t *fp = fw_profile_new (sn, pct);
    for (int pt = 0; pt < NPOINTS; pt++) {
        snprintf (where, sizeof where, "profiles[%zu].plugins.%s", index, point_names[pt]);
        if (merge (&per[pt], &multi, tv_get (plugins, point_names[pt]), where, e, sizeof e))
            goto fail;
        for (size_t k = 0; k < per[pt].n; k++) {
            entry_t *en = &per[pt].e[k];
            size_t r;
            for (r = 0; r < nres && strcmp (res[r].name, en->name); r++)
                ;
            if (r == nres) {
                if (nres == 64) {
                    snprintf (e, sizeof e, "%s: too many plugins", where);
                    goto fail;
                }
                snprintf (res[r].name, sizeof res[r].name, "%s", en->name);
                const json_t *args = NULL;
                size_t c;
                json_t *pc;
                json_array_foreach (tv_get (prof, "pluginConfig"), c, pc) if (tv_str (pc, "name") &&
                                                                              !strcmp (tv_str (pc, "name"), en->name))
                    args = tv_get (pc, "args");
                if (en->path[0]) {
                    char pe[512];
                    res[r].p = sched_plugin_open (en->path, args, &res[r].dl, pe, sizeof pe);
                    if (!res[r].p) {
                        snprintf (e, sizeof e, "%.200s: %.300s", where, pe);
                        goto fail;
                    }
                    if (strcmp (res[r].p->name, en->name)) {
                        snprintf (e, sizeof e, "%.100s: plugin %.200s is named \"%.60s\", not \"%.60s\"", where, en->path,
                                  res[r].p->name, en->name);
                        dlclose (res[r].dl);
                        goto fail;
                    }
                } else if (!(res[r].p = sched_registry_find (en->name))) {
                    snprintf (e, sizeof e, "%s: unknown plugin \"%s\"", where, en->name);
                    goto fail;
                }
                nres++;
            }
            const json_t *args = NULL;
            size_t c;
            json_t *pc;
            json_array_foreach (tv_get (prof, "pluginConfig"), c, pc) if (tv_str (pc, "name") &&
                                                                          !strcmp (tv_str (pc, "name"), en->name))
                args = tv_get (pc, "args");
            char ae[512];
            /* the handle goes with the instance the first time it is added */
            if (fw_profile_add (fp, res[r].p, args, 1u << pt, pt == 5 ? en->weight : 0, res[r].used ? NULL : res[r].dl,
                                ae, sizeof ae)) {
                if (!res[r].used && res[r].dl)
                    dlclose (res[r].dl);
                res[r].used = 1;
                snprintf (e, sizeof e, "%.200s: %.300s", where, ae);
                goto fail;
            }
            res[r].used = 1;
        }
    }
    /* plugins opened but enabled nowhere that took them (no hook at that point) */
    for (size_t r = 0; r < nres; r++)
        if (!res[r].used && res[r].dl)
            dlclose (res[r].dl);
    if (!fw_profile_list (fp, FW_PT_BIND, NULL, NULL, 0)) {
        snprintf (e, sizeof e, "profiles[%zu].plugins.bind: at least one Bind plugin is required", index);
        goto fail2;
    }
    free (per);
    free (res);
    return fp;
fail:
    for (size_t r = 0; r < nres; r++)
        if (!res[r].used && res[r].dl)
            dlclose (res[r].dl);
fail2:
    free (per);
    free (res);
    fw_profile_destroy (&fp);
bad:
    snprintf (err, errlen, "%s%sprofile %s: %s", file ? file : "", file ? ": " : "", sn, e);
    return NULL;
}

fw_profile_t *
sched_profile_default (const char *scheduler_name, int percentage, char *err, size_t errlen)
{
    json_t *p = json_pack ("{s:s}", "schedulerName", scheduler_name ? scheduler_name : "default-scheduler");
    fw_profile_t *fp = build (p, NULL, 0, percentage, err, errlen);
    json_decref (p);
    return fp;
}

/* KubeSchedulerConfiguration's parallelism when unset: Kubernetes says 16; here 1, the scheduler's
 * thread alone. On this project's 2-core machine a second Filter thread halves a 5,000-node
 * scan when the other core is idle (bench_sched_scan) but moved nothing in the cluster benchmark,
 * where the other core is the broker's, the store's and the nodes' (docs/decisions.md). */
static int
default_parallelism (void)
{
    return 1;
}

int
sched_config_load (const json_t *cfg, const char *file, sched_config_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    if (!cfg) {
        fw_profile_t *p = sched_profile_default (NULL, 0, err, errlen);
        if (!p)
            return -1;
        fw_profile_set_parallelism (p, default_parallelism (), FW_PAR_PREFIX, FW_PAR_MIN_REST, 0);
        out->profiles[out->nprofiles++] = p;
        return 0;
    }
    const char *av = tv_str (cfg, "apiVersion"), *kind = tv_str (cfg, "kind");
    if (!json_is_object (cfg) || !av || strcmp (av, "kubescheduler.config.k8s.io/v1") || !kind ||
        strcmp (kind, "KubeSchedulerConfiguration")) {
        snprintf (err, errlen, "%s%snot a kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration", file ? file : "",
                  file ? ": " : "");
        return -1;
    }
    int pct = (int) json_integer_value (tv_get (cfg, "percentageOfNodesToScore"));
    if (pct < 0 || pct > 100) {
        snprintf (err, errlen, "%s%spercentageOfNodesToScore: must be 0..100", file ? file : "", file ? ": " : "");
        return -1;
    }
    const json_t *par = tv_get (cfg, "parallelism");
    if (par && (!json_is_integer (par) || json_integer_value (par) < 1 || json_integer_value (par) > 64)) {
        snprintf (err, errlen, "%s%sparallelism: must be an integer 1..64", file ? file : "", file ? ": " : "");
        return -1;
    }
    int parallelism = par ? (int) json_integer_value (par) : default_parallelism ();
    const json_t *profs = tv_get (cfg, "profiles");
    if (!json_array_size (profs)) {
        fw_profile_t *p = sched_profile_default (NULL, pct, err, errlen);
        if (!p)
            return -1;
        fw_profile_set_parallelism (p, parallelism, FW_PAR_PREFIX, FW_PAR_MIN_REST, 0);
        out->profiles[out->nprofiles++] = p;
        return 0;
    }
    size_t i;
    json_t *prof;
    json_array_foreach (profs, i, prof) {
        char e[512];
        const char *sn = tv_str (prof, "schedulerName");
        int dup = 0;
        for (size_t k = 0; k < out->nprofiles; k++)
            dup |= !strcmp (fw_profile_name (out->profiles[k]), sn ? sn : "default-scheduler");
        fw_profile_t *p = NULL;
        if (dup)
            snprintf (e, sizeof e, "%s%sprofiles[%zu].schedulerName: duplicate \"%s\"", file ? file : "",
                      file ? ": " : "", i, sn ? sn : "default-scheduler");
        else if (out->nprofiles == 16)
            snprintf (e, sizeof e, "%s%sprofiles[%zu]: at most 16 profiles", file ? file : "", file ? ": " : "", i);
        else
            p = build (prof, file, i, pct, e, sizeof e);
        if (p) {
            fw_profile_set_parallelism (p, parallelism, FW_PAR_PREFIX, FW_PAR_MIN_REST, 0);
            out->profiles[out->nprofiles++] = p;
        } else if (out->nerrors < 4)
            snprintf (out->errors[out->nerrors++], sizeof out->errors[0], "%s", e);
    }
    return 0;
}

int
sched_config_load_file (const char *path, sched_config_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, errlen, "%s: %s", path, strerror (errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream (&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread (chunk, 1, sizeof chunk, f)) > 0)
        fwrite (chunk, 1, n, m);
    fclose (f);
    fclose (m);
    char e[256];
    json_t *docs = tr_yaml_load (buf, len, e, sizeof e);
    free (buf);
    if (!docs) {
        snprintf (err, errlen, "%s: %s", path, e);
        return -1;
    }
    int rc = sched_config_load (json_array_get (docs, 0), path, out, err, errlen);
    json_decref (docs);
    return rc;
}

void
sched_config_clear (sched_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nprofiles; i++)
        fw_profile_destroy (&cfg->profiles[i]);
    cfg->nprofiles = 0;
    cfg->nerrors = 0;
}
