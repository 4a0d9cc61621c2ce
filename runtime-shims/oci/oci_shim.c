/* oci_shim — see oci_shim.h. */
#include "runtime-shims/oci/oci_shim.h"
#include "core/log.h"
#include "core/value.h"
#include "runtime-shims/cri.h"
#include "runtime-shims/oci/cgroup.h"
#include "runtime-shims/oci/cni.h"
#include "runtime-shims/oci/masq.h"
#include "runtime-shims/oci/imgref.h"
#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/ocirun.h"
#include "runtime-shims/oci/ocispec.h"
#include "runtime-shims/oci/seed.h"

#include <czmq.h>
#include <sodium.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define A "oci"

typedef struct {
    char id[80];
    json_t *rec;
    int64_t kill_at;   /* monotonic ms of the SIGKILL after a SIGTERM; 0 none */
    int starting;      /* a start job runs */
    int removing;      /* a removal job runs (runc delete, its directory) */
} ctr_t;

struct oci_shim {
    char state[1024];
    char run[400];
    char runc[1024], conmon[1024];
    char runc_root[1100], exits[1100], persist[1100], sock[1100];
    char cgroup_parent[128];
    char masq_table[32];  /* the node's nftables table for the pod network's masquerade (masq.h) */
    char cluster_cidr[64]; /* what pods reach without masquerade ("": the pod CIDR) */
    ocirun_paths_t paths;
    cni_config_t cni;
    imgstore_t *img;
    json_t *insecure, *mirrors;
    const char **insecure_v;
    int n_insecure;
    cgroup_version_t cgv;
    int min_oom_adj;      /* the lowest oom_score_adj we may give (ours, without CAP_SYS_RESOURCE) */
    int gc_high, gc_low;  /* image GC thresholds (% of the image store's filesystem) */
    int64_t next_gc;      /* monotonic ms of the next image GC check */
    int64_t next_masq;    /* monotonic ms of the next check that the masquerade table is there */
    int masq_nft;         /* the masquerade is the node's nftables table (else the plugin's, or none: tests) */
    int oom_warned;
    zhashx_t *ctrs;       /* id → ctr_t */
    zhashx_t *sandboxes;  /* id → json record */
    zhashx_t *pending_sb; /* sandbox ids being set up or torn down → "1" */
};

typedef enum { J_PULL = 1, J_SANDBOX, J_SANDBOX_RM, J_START, J_EXEC, J_CTR_RM, J_REOPEN } jkind_t;

struct oci_job {
    jkind_t kind;
    char key[700];
    char id[100];
    oci_shim_t *s;     /* only its constant parts and the image store (thread-safe) are used */
    json_t *in;        /* the request body (a copy) + what the job needs */
    int rc;            /* 0 ok, else a tr_code_t */
    json_t *out;
    char err[4096];
    int64_t t_new, t_run, t_done; /* monotonic ms: queued, started, ended (the logs' timings) */
    int64_t t_stage;              /* sandbox: ms spent in the CNI plugins */
};

static int64_t
wall_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int64_t
mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
mkdirs (const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf (tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (tmp, mode);
            *p = '/';
        }
    mkdir (tmp, mode);
}

static int
find_prog (const char *given, const char *name, char *out, size_t len)
{
    if (given && *given) {
        snprintf (out, len, "%s", given);
        return access (out, X_OK);
    }
    const char *path = getenv ("PATH");
    char buf[4096];
    snprintf (buf, sizeof buf, "%s:/usr/sbin:/usr/bin:/sbin:/bin", path ? path : "");
    for (char *save, *d = strtok_r (buf, ":", &save); d; d = strtok_r (NULL, ":", &save)) {
        snprintf (out, len, "%s/%s", d, name);
        if (access (out, X_OK) == 0)
            return 0;
    }
    out[0] = 0;
    return -1;
}

int
oci_shim_available (const oci_opts_t *o, char *err, size_t errlen)
{
    char p[PATH_MAX];
    const char *given[] = {o ? o->runc : NULL, o ? o->conmon : NULL}, *name[] = {"runc", "conmon"};
    for (int i = 0; i < 2; i++) {
        if (!find_prog (given[i], name[i], p, sizeof p))
            continue;
        if (given[i] && *given[i])
            snprintf (err, errlen, "%s %s: %s", name[i], given[i], strerror (errno));
        else
            snprintf (err, errlen, "%s not found on PATH (apt-get install %s)", name[i], name[i]);
        return -1;
    }
    return 0;
}

/* ---- records -------------------------------------------------------------------------------- */

static void
save_json (const char *path, const json_t *v)
{
    char tmp[PATH_MAX + 8];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file (v, tmp, JSON_COMPACT) == 0)
        rename (tmp, path);
}

static void
ctr_dir (const oci_shim_t *s, const char *id, char *buf, size_t len)
{
    snprintf (buf, len, "%s/containers/%s", s->state, id);
}

static void
ctr_save (oci_shim_t *s, ctr_t *c)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/containers/%s/record.json", s->state, c->id);
    save_json (path, c->rec);
}

static void
sb_save (oci_shim_t *s, const json_t *sb)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/sandboxes/%s.json", s->state, tv_str (sb, "sandboxId"));
    save_json (path, sb);
}

static void
ctr_free (void **p)
{
    ctr_t *c = *p;
    if (c)
        json_decref (c->rec);
    free (c);
    *p = NULL;
}

static void
jfree (void **p)
{
    json_decref (*p);
    *p = NULL;
}

/* ---- termination messages ------------------------------------------------------------------- */

#define TERM_MSG_MAX 4096
#define TERM_LOG_LINES 80
#define TERM_LOG_BYTES 2048

/* As the kubelet: a host file <bundle>/termination-log, bind-mounted at the container's
 * terminationMessagePath (writable by any user in the container); read at exit by apply_exit. */
static int
termination_log (const char *dir, const json_t *b, json_t *spec, char *err, size_t len)
{
    const char *path = tv_str (b, "terminationMessagePath");
    if (!path || !*path)
        return 0;
    /* runc resolves the destination inside the rootfs (symlinks and ".." cannot leave it) */
    if (path[0] != '/') {
        snprintf (err, len, "terminationMessagePath \"%s\" must be an absolute path", path);
        return -1;
    }
    char host[PATH_MAX];
    snprintf (host, sizeof host, "%.4000s/termination-log", dir);
    int fd = open (host, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        snprintf (err, len, "cannot create %.1500s: %s", host, strerror (errno));
        return -1;
    }
    fchmod (fd, 0666);
    close (fd);
    json_t *mounts = json_object_get (spec, "mounts");
    if (!json_is_array (mounts)) {
        mounts = json_array ();
        json_object_set_new (spec, "mounts", mounts);
    }
    json_array_append_new (mounts, json_pack ("{s:s,s:s,s:s,s:[s,s]}", "destination", path, "type", "bind", "source", host,
                                              "options", "rbind", "rw"));
    return 0;
}

/* The last TERM_LOG_LINES lines (at most TERM_LOG_BYTES) of a CRI-format log, as text. */
static json_t *
log_tail (const char *logpath)
{
    int fd = logpath ? open (logpath, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return NULL;
    struct stat st;
    char buf[TERM_LOG_BYTES * 4 + 1];
    size_t n = 0;
    if (!fstat (fd, &st) && st.st_size > 0) {
        off_t from = st.st_size > (off_t) sizeof buf - 1 ? st.st_size - (off_t) sizeof buf + 1 : 0;
        ssize_t r = pread (fd, buf, sizeof buf - 1, from);
        n = r > 0 ? (size_t) r : 0;
    }
    close (fd);
    buf[n] = 0;
    /* strip "<time> <stream> <P|F> " of each line, keep the text */
    char text[sizeof buf];
    size_t k = 0;
    for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr (line, '\n');
        if (!nl)
            break; /* a partial first/last line */
        *nl = 0;
        char *p = line;
        for (int f = 0; f < 3 && p; f++) {
            p = strchr (p, ' ');
            if (p)
                p++;
        }
        if (!p)
            continue;
        int partial = strstr (line, " P ") && strstr (line, " P ") < p;
        size_t l = strlen (p);
        memcpy (text + k, p, l);
        k += l;
        if (!partial)
            text[k++] = '\n';
    }
    text[k] = 0;
    /* the last lines, then the last bytes */
    size_t start = 0;
    int lines = 0;
    for (size_t i = k; i-- > 0;)
        if (text[i] == '\n' && i + 1 < k && ++lines == TERM_LOG_LINES) {
            start = i + 1;
            break;
        }
    if (k - start > TERM_LOG_BYTES)
        start = k - TERM_LOG_BYTES;
    return json_stringn_nocheck (text + start, k - start);
}

/* At exit: the container's termination message (its file, or its log's tail with
 * FallbackToLogsOnError when the file is empty and the container failed). */
static void
termination_message (json_t *rec, int code)
{
    const char *bundle = tv_str (rec, "bundle");
    if (!bundle || !tv_str (rec, "terminationMessagePath"))
        return;
    char path[PATH_MAX], buf[TERM_MSG_MAX + 1];
    snprintf (path, sizeof path, "%s/termination-log", bundle);
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    ssize_t n = 0;
    if (fd >= 0) {
        struct stat st;
        if (!fstat (fd, &st) && S_ISREG (st.st_mode))
            n = read (fd, buf, TERM_MSG_MAX);
        close (fd);
    }
    if (n > 0) {
        json_object_set_new (rec, "message", json_stringn_nocheck (buf, (size_t) n));
        return;
    }
    const char *pol = tv_str (rec, "terminationMessagePolicy");
    if (code != 0 && pol && !strcmp (pol, "FallbackToLogsOnError")) {
        json_t *t = log_tail (tv_str (rec, "logPath"));
        if (t && json_string_length (t))
            json_object_set_new (rec, "message", t);
        else
            json_decref (t);
    }
}

/* A RUNNING record whose container ended: its exit code and reason from conmon's files. */
static int
apply_exit (const ocirun_paths_t *p, json_t *rec)
{
    const char *id = tv_str (rec, "containerId"), *st = tv_str (rec, "state");
    if (!id || !st || strcmp (st, CRI_STATE_RUNNING))
        return 0;
    int code = 0, oom = 0;
    if (ocirun_exit_status (p, id, &code, &oom) != 0) {
        pid_t pid = (pid_t) tv_int (rec, "pid", 0), cpid = (pid_t) tv_int (rec, "conmonPid", 0);
        if (ocirun_alive (pid) || (cpid && ocirun_alive (cpid)))
            return 0;
        code = 255; /* neither the container nor its monitor is there, and no exit file */
        json_object_set_new (rec, "reason", json_string ("Unknown"));
        json_object_set_new (rec, "message", json_string ("the container and its conmon are gone without an exit file"));
    } else {
        json_object_set_new (rec, "reason", json_string (oom ? "OOMKilled" : code == 0 ? "Completed" : "Error"));
        termination_message (rec, code);
    }
    json_object_set_new (rec, "state", json_string (CRI_STATE_EXITED));
    json_object_set_new (rec, "exitCode", json_integer (code));
    json_object_set_new (rec, "finishedAt", json_integer (wall_ms ()));
    return 1;
}

static json_t *
load_dir_records (const char *dir, int containers)
{
    json_t *out = json_array ();
    DIR *d = opendir (dir);
    if (!d)
        return out;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        if (containers)
            snprintf (path, sizeof path, "%s/%s/record.json", dir, e->d_name);
        else {
            size_t n = strlen (e->d_name);
            if (n < 6 || strcmp (e->d_name + n - 5, ".json"))
                continue;
            snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        }
        json_t *rec = json_load_file (path, 0, NULL);
        if (json_is_object (rec))
            json_array_append_new (out, rec);
        else
            json_decref (rec);
    }
    closedir (d);
    return out;
}

static void
paths_for (const char *state, const char *run_root, char *exits, char *persist, char *runc_root, size_t len,
           ocirun_paths_t *p)
{
    snprintf (exits, len, "%.1024s/exits", state);
    snprintf (persist, len, "%.1024s/persist", state);
    snprintf (runc_root, len, "%.1024s/runc", run_root);
    p->exits_dir = exits;
    p->persist_dir = persist;
    p->runc_root = runc_root;
}

json_t *
oci_state_containers (const char *state_dir, const char *ns)
{
    char dir[PATH_MAX], exits[1100], persist[1100], rr[1100];
    snprintf (dir, sizeof dir, "%.2000s/containers", state_dir);
    ocirun_paths_t p = {0};
    paths_for (state_dir, "", exits, persist, rr, sizeof exits, &p);
    json_t *all = load_dir_records (dir, 1), *out = json_array ();
    size_t i;
    json_t *r;
    json_array_foreach (all, i, r) {
        if (ns && strcmp (ns, tv_str (r, "runtimeNamespace") ? tv_str (r, "runtimeNamespace") : OCI_DEFAULT_NAMESPACE))
            continue;
        apply_exit (&p, r);
        json_array_append (out, r);
    }
    json_decref (all);
    return out;
}

json_t *
oci_state_sandboxes (const char *state_dir, const char *ns)
{
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%.2000s/sandboxes", state_dir);
    json_t *all = load_dir_records (dir, 0), *out = json_array ();
    size_t i;
    json_t *r;
    json_array_foreach (all, i, r) if (!ns || !strcmp (ns, tv_str (r, "runtimeNamespace") ? tv_str (r, "runtimeNamespace")
                                                                                       : OCI_DEFAULT_NAMESPACE))
        json_array_append (out, r);
    json_decref (all);
    return out;
}

/* ---- life ----------------------------------------------------------------------------------- */

/* Images given offline: every *.tar of the preload folder (imported once: a file's name, size and
 * mtime are remembered), and the busybox seed. */
static void
preload (oci_shim_t *s, const oci_opts_t *o)
{
    char err[1024], mark[PATH_MAX];
    const char *ns = o->image_namespace && *o->image_namespace ? o->image_namespace : OCI_DEFAULT_NAMESPACE;
    if (o->preload_dir) {
        DIR *d = opendir (o->preload_dir);
        struct dirent *e;
        while (d && (e = readdir (d))) {
            size_t n = strlen (e->d_name);
            if (n < 5 || strcmp (e->d_name + n - 4, ".tar"))
                continue;
            char path[PATH_MAX];
            struct stat st;
            snprintf (path, sizeof path, "%.2000s/%.1000s", o->preload_dir, e->d_name);
            if (stat (path, &st))
                continue;
            snprintf (mark, sizeof mark, "%.2000s/images/.preloaded-%.200s-%lld-%lld", s->state, e->d_name, (long long) st.st_size,
                      (long long) st.st_mtime);
            if (access (mark, F_OK) == 0)
                continue;
            json_t *names = NULL;
            if (imgstore_import (s->img, ns, path, &names, err, sizeof err))
                TR_WARN (A, "preload %s: %s", path, err);
            else {
                TR_INFO (A, "preloaded %s images=%zu", path, json_array_size (names));
                FILE *f = fopen (mark, "w");
                if (f)
                    fclose (f);
            }
            json_decref (names);
        }
        if (d)
            closedir (d);
    }
    if (o->seed_busybox) {
        json_t *have = imgstore_get (s->img, ns, "docker.io/library/busybox:latest");
        const char *bb = access ("/bin/busybox", X_OK) == 0 ? "/bin/busybox" : "/usr/bin/busybox";
        if (!have && access (bb, X_OK) == 0) {
            char tar[PATH_MAX];
            snprintf (tar, sizeof tar, "%.2000s/images/.seed-busybox.tar", s->state);
            json_t *names = NULL;
            if (seed_busybox_layout (bb, tar, err, sizeof err) ||
                imgstore_import (s->img, ns, tar, &names, err, sizeof err))
                TR_WARN (A, "busybox seed image: %s", err);
            else
                TR_INFO (A, "seeded docker.io/library/busybox:latest from %s", bb);
            json_decref (names);
            unlink (tar);
        }
        json_decref (have);
    }
}

oci_shim_t *
oci_shim_new (const oci_opts_t *o, char *err, size_t errlen)
{
    if (oci_shim_available (o, err, errlen))
        return NULL;
    oci_shim_t *s = calloc (1, sizeof *s);
    if (strlen (o->state_dir) >= sizeof s->state - 64 || strlen (o->run_dir) >= sizeof s->run - 64) {
        snprintf (err, errlen, "state or run directory path too long");
        free (s);
        return NULL;
    }
    snprintf (s->state, sizeof s->state, "%s", o->state_dir);
    snprintf (s->run, sizeof s->run, "%s", o->run_dir);
    find_prog (o->runc, "runc", s->runc, sizeof s->runc);
    find_prog (o->conmon, "conmon", s->conmon, sizeof s->conmon);
    paths_for (s->state, s->run, s->exits, s->persist, s->runc_root, sizeof s->exits, &s->paths);
    snprintf (s->sock, sizeof s->sock, "%.400s/conmon", s->run);
    s->paths.runc = s->runc;
    s->paths.conmon = s->conmon;
    s->paths.sock_dir = s->sock;
    char d[PATH_MAX + 32];
    const char *sub[] = {"containers", "sandboxes", "exits", "persist", "images"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        snprintf (d, sizeof d, "%s/%s", s->state, sub[i]);
        mkdirs (d, 0700);
    }
    mkdirs (s->runc_root, 0700);
    mkdirs (s->sock, 0700);
    snprintf (d, sizeof d, "%s/images", s->state);
    s->img = imgstore_open (d, err, errlen);
    if (!s->img) {
        free (s);
        return NULL;
    }
    /* the node's name keeps bridges, cgroups and netns apart when nodes share a machine */
    const char *node = o->node && *o->node ? o->node : "node";
    unsigned h = 5381;
    for (const char *c = node; *c; c++)
        h = h * 33 + (unsigned char) *c;
    snprintf (s->cni.bin_dir, sizeof s->cni.bin_dir, "%.500s", o->cni_bin_dir ? o->cni_bin_dir : "/usr/lib/cni");
    snprintf (s->cni.conf_path, sizeof s->cni.conf_path, "%.990s/cni/10-troupe.conflist", s->state);
    snprintf (s->cni.netns_dir, sizeof s->cni.netns_dir, "%.400s/netns", s->run);
    snprintf (s->cni.state_dir, sizeof s->cni.state_dir, "%.400s/cni", s->run);
    snprintf (s->cni.bridge, sizeof s->cni.bridge, "tr%08x", h);
    snprintf (s->cni.subnet, sizeof s->cni.subnet, "%s", o->pod_cidr ? o->pod_cidr : "10.88.0.0/16");
    if (o->pod_cidr && o->cluster_cidr)
        snprintf (s->cluster_cidr, sizeof s->cluster_cidr, "%.63s", o->cluster_cidr);
    if (!o->pod_cidr) { /* the pod CIDR the agent gave last (UpdateRuntimeConfig), if any */
        snprintf (d, sizeof d, "%s/cni/network.json", s->state);
        json_t *nw = json_load_file (d, 0, NULL);
        if (nw && tv_str (nw, "podCidr") && strlen (tv_str (nw, "podCidr")) < sizeof s->cni.subnet) {
            snprintf (s->cni.subnet, sizeof s->cni.subnet, "%s", tv_str (nw, "podCidr"));
            snprintf (s->cluster_cidr, sizeof s->cluster_cidr, "%.63s", tv_str (nw, "clusterCidr") ? tv_str (nw, "clusterCidr") : "");
        }
        json_decref (nw);
    }
    s->cni.timeout_s = 20;
    snprintf (d, sizeof d, "%s/cni", s->state);
    mkdirs (d, 0700);
    mkdirs (s->cni.netns_dir, 0700);
    mkdirs (s->cni.state_dir, 0700);
    /* the pod network's masquerade, once for the node (masq.h: not the bridge plugin's per pod);
     * where nftables cannot (no nf_tables in the kernel), the bridge plugin's ipMasq as before */
    snprintf (s->masq_table, sizeof s->masq_table, "troupe_%s", s->cni.bridge);
    char merr[512];
    if (o->no_masq)
        s->cni.ip_masq = 0;
    else if (!masq_ensure (s->masq_table, s->cni.subnet, s->cluster_cidr, merr, sizeof merr))
        s->masq_nft = 1;
    else {
        s->cni.ip_masq = 1;
        TR_WARN (A, "masquerade of %s through nftables failed (%s): the CNI bridge plugin's ipMasq does it per pod",
                 s->cni.subnet, merr);
    }
    if (cni_write_conflist (&s->cni, err, errlen)) {
        imgstore_destroy (&s->img);
        free (s);
        return NULL;
    }
    snprintf (s->cgroup_parent, sizeof s->cgroup_parent, "troupe-%s", node);
    for (char *c = s->cgroup_parent; *c; c++)
        if (*c == '/')
            *c = '_';
    s->cgv = cgroup_detect ("/sys/fs/cgroup");
    s->min_oom_adj = -1000;
    FILE *st = fopen ("/proc/self/status", "r");
    char line[256];
    unsigned long long capeff = ~0ULL;
    while (st && fgets (line, sizeof line, st))
        if (!strncmp (line, "CapEff:", 7))
            capeff = strtoull (line + 7, NULL, 16);
    if (st)
        fclose (st);
    if (!(capeff & (1ULL << 24))) { /* CAP_SYS_RESOURCE */
        FILE *f = fopen ("/proc/self/oom_score_adj", "r");
        if (f) {
            if (fscanf (f, "%d", &s->min_oom_adj) != 1)
                s->min_oom_adj = 0;
            fclose (f);
        }
    }
    s->insecure = o->insecure ? json_deep_copy (o->insecure) : json_array ();
    s->mirrors = o->mirrors ? json_deep_copy (o->mirrors) : NULL;
    s->n_insecure = (int) json_array_size (s->insecure);
    s->insecure_v = calloc ((size_t) s->n_insecure + 1, sizeof *s->insecure_v);
    for (int i = 0; i < s->n_insecure; i++)
        s->insecure_v[i] = json_string_value (json_array_get (s->insecure, (size_t) i));
    s->gc_high = o->gc_high_pct > 0 ? o->gc_high_pct : 85;
    s->gc_low = o->gc_low_pct > 0 ? o->gc_low_pct : 80;
    s->next_gc = zclock_mono () + 60000;
    s->ctrs = zhashx_new ();
    zhashx_set_destructor (s->ctrs, ctr_free);
    s->sandboxes = zhashx_new ();
    zhashx_set_destructor (s->sandboxes, jfree);
    s->pending_sb = zhashx_new ();
    preload (s, o);
    /* re-adopt: records, with what conmon wrote while no shim was there */
    snprintf (d, sizeof d, "%s/sandboxes", s->state);
    json_t *sbs = load_dir_records (d, 0);
    size_t i;
    json_t *r;
    json_t *live = json_object ();
    json_array_foreach (sbs, i, r) if (tv_str (r, "sandboxId")) {
        const char *nsp = tv_str (r, "netns");
        if (nsp && *nsp && access (nsp, F_OK)) {
            /* its pinned netns is gone (the run directory, a tmpfs, with a reboot): a sandbox
             * whose containers could never start again; forgotten, so that the next
             * RunPodSandbox makes it anew (as the kubelet, for a sandbox not ready) */
            char path[PATH_MAX];
            TR_WARN (A, "sandbox id=%s lost its network namespace %s: forgotten", tv_str (r, "sandboxId"), nsp);
            snprintf (path, sizeof path, "%s/sandboxes/%s.json", s->state, tv_str (r, "sandboxId"));
            unlink (path);
            continue;
        }
        zhashx_update (s->sandboxes, tv_str (r, "sandboxId"), json_incref (r));
        json_object_set_new (live, tv_str (r, "sandboxId"), json_true ());
    }
    json_decref (sbs);
    snprintf (d, sizeof d, "%s/containers", s->state);
    json_t *cs = load_dir_records (d, 1);
    int adopted = 0, ended = 0;
    json_array_foreach (cs, i, r) {
        const char *id = tv_str (r, "containerId");
        if (!id || !tv_str (r, "state") || strlen (id) >= sizeof ((ctr_t *) 0)->id)
            continue; /* not a record of ours: every later look at it assumes these */
        ctr_t *c = calloc (1, sizeof *c);
        snprintf (c->id, sizeof c->id, "%s", id);
        c->rec = json_incref (r);
        const char *st = tv_str (r, "state");
        if (st && !strcmp (st, CRI_STATE_CREATED)) {
            /* a start interrupted by a crash: runc may have started it */
            char pf[PATH_MAX];
            long long pid = 0;
            snprintf (pf, sizeof pf, "%s/containers/%s/pidfile", s->state, id);
            FILE *f = fopen (pf, "r");
            if (f) {
                if (fscanf (f, "%lld", &pid) != 1)
                    pid = 0;
                fclose (f);
            }
            if (pid > 0 && ocirun_alive ((pid_t) pid)) {
                json_object_set_new (r, "state", json_string (CRI_STATE_RUNNING));
                json_object_set_new (r, "pid", json_integer (pid));
                json_object_set_new (r, "startedAt", json_integer (wall_ms ()));
            }
        }
        if (!strcmp (tv_str (r, "state") ? tv_str (r, "state") : "", CRI_STATE_RUNNING)) {
            /* runc keeps a container's state in the run directory (a tmpfs) until runc delete:
             * without it, the container did not survive a reboot, and the pids recorded may be
             * other processes' now (never to be signalled); its end is then Unknown (apply_exit) */
            char rs[PATH_MAX];
            int code, oom;
            snprintf (rs, sizeof rs, "%s/%s/state.json", s->runc_root, id);
            if (access (rs, F_OK) && ocirun_exit_status (&s->paths, id, &code, &oom) != 0) {
                json_object_set_new (r, "pid", json_integer (0));
                json_object_set_new (r, "conmonPid", json_integer (0));
            }
        }
        if (apply_exit (&s->paths, r))
            ended++;
        else if (st && !strcmp (tv_str (r, "state"), CRI_STATE_RUNNING))
            adopted++;
        ctr_save (s, c);
        zhashx_update (s->ctrs, id, c);
    }
    json_decref (cs);
    /* network namespaces and CNI results of sandboxes nobody records (a crash between ADD and
     * the record, or a record lost) */
    int orphans = cni_gc (&s->cni, live);
    json_decref (live);
    TR_INFO (A, "oci runtime ready state=%s containers=%zu running=%d exited_meanwhile=%d sandboxes=%zu orphans_removed=%d "
                "cgroup=v%d",
             s->state, zhashx_size (s->ctrs), adopted, ended, zhashx_size (s->sandboxes), orphans, (int) s->cgv);
    return s;
}

void
oci_shim_destroy (oci_shim_t **p)
{
    oci_shim_t *s = *p;
    if (!s)
        return;
    zhashx_destroy (&s->ctrs);
    zhashx_destroy (&s->sandboxes);
    zhashx_destroy (&s->pending_sb);
    imgstore_destroy (&s->img);
    json_decref (s->insecure);
    json_decref (s->mirrors);
    free (s->insecure_v);
    free (s);
    *p = NULL;
}

int
oci_shim_owns (oci_shim_t *s, const char *id)
{
    return id && zhashx_lookup (s->ctrs, id) != NULL;
}

int
oci_shim_owns_sandbox (oci_shim_t *s, const char *id)
{
    return id && (zhashx_lookup (s->sandboxes, id) || zhashx_lookup (s->pending_sb, id));
}

static json_t *
status_of (oci_shim_t *s, ctr_t *c)
{
    json_t *st = json_pack ("{s:s}", "runtime", "oci");
    static const char *keep[] = {"containerId", "sandboxId", "podUid", "name", "attempt", "image", "imageRef", "state",
                                 "pid", "exitCode", "reason", "message", "createdAt", "startedAt", "finishedAt",
                                 "logPath", "runtimeNamespace"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (json_object_get (c->rec, keep[i]))
            json_object_set (st, keep[i], json_object_get (c->rec, keep[i]));
    json_object_set_new (st, "logFormat", json_string ("cri"));
    const json_t *sb = zhashx_lookup (s->sandboxes, tv_str (c->rec, "sandboxId") ? tv_str (c->rec, "sandboxId") : "");
    if (sb && tv_str (sb, "podIP"))
        json_object_set_new (st, "podIP", json_string (tv_str (sb, "podIP")));
    return st;
}

json_t *
oci_shim_list (oci_shim_t *s, const char *uid)
{
    json_t *items = json_array ();
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs)) {
        const char *cu = tv_str (c->rec, "podUid");
        if (!uid || (cu && !strcmp (cu, uid)))
            json_array_append_new (items, status_of (s, c));
    }
    return items;
}

/* The kubelet's image GC: past gc_high % of the store's filesystem, unused images go, least
 * recently used first, down to gc_low %. Checked every 5 minutes, as the kubelet does. */
static void
image_gc (oci_shim_t *s)
{
    json_t *in_use = json_array ();
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        if (tv_str (c->rec, "imageRef"))
            json_array_append_new (in_use, json_string (tv_str (c->rec, "imageRef")));
    int n = imgstore_gc (s->img, s->gc_high, s->gc_low, in_use);
    json_decref (in_use);
    if (n > 0)
        TR_INFO (A, "image garbage collection removed=%d high=%d%% low=%d%%", n, s->gc_high, s->gc_low);
}

json_t *
oci_shim_sandboxes (oci_shim_t *s)
{
    json_t *out = json_array ();
    for (json_t *sb = zhashx_first (s->sandboxes); sb; sb = zhashx_next (s->sandboxes))
        json_array_append_new (out, json_pack ("{s:s,s:s}", "sandboxId", tv_str (sb, "sandboxId") ? tv_str (sb, "sandboxId") : "",
                                               "podUid", tv_str (sb, "podUid") ? tv_str (sb, "podUid") : ""));
    return out;
}

void
oci_shim_tick (oci_shim_t *s)
{
    int64_t now = zclock_mono ();
    if (now >= s->next_gc) {
        s->next_gc = now + 300000;
        image_gc (s);
    }
    /* the node's masquerade, put back if someone flushed it (a firewall reload, `nft flush ruleset`) */
    if (s->masq_nft && now >= s->next_masq) {
        s->next_masq = now + 30000;
        char *l = masq_list (s->masq_table);
        if (!l) {
            char merr[512];
            if (masq_ensure (s->masq_table, s->cni.subnet, s->cluster_cidr, merr, sizeof merr))
                TR_ERROR (A, "masquerade of %s gone and not restored: %s", s->cni.subnet, merr);
            else
                TR_WARN (A, "masquerade table %s was gone: restored", s->masq_table);
        }
        free (l);
    }
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs)) {
        if (c->starting || c->removing) /* a job thread owns its record and directory */
            continue;
        if (apply_exit (&s->paths, c->rec)) {
            c->kill_at = 0;
            ctr_save (s, c);
            TR_INFO (A, "container exited id=%.12s name=%s code=%d reason=%s", c->id, tv_str (c->rec, "name"),
                     (int) tv_int (c->rec, "exitCode", 0), tv_str (c->rec, "reason"));
            continue;
        }
        if (c->kill_at && now >= c->kill_at) {
            pid_t pid = (pid_t) tv_int (c->rec, "pid", 0);
            if (pid > 0)
                kill (pid, SIGKILL);
            c->kill_at = 0;
        }
    }
}

int
oci_shim_running (oci_shim_t *s)
{
    int n = 0;
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        n += !strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING);
    return n;
}

/* Does the container's init neither catch nor ignore SIGTERM? Then the kernel discards a
 * SIGTERM sent to it (a pid namespace's init gets no default actions), and waiting out the grace
 * period would only delay the SIGKILL that ends it anyway (docs/decisions.md). */
static int
term_is_dropped (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    unsigned long long cgt = ~0ULL, ign = ~0ULL;
    while (fgets (line, sizeof line, f)) {
        if (!strncmp (line, "SigCgt:", 7))
            cgt = strtoull (line + 7, NULL, 16);
        else if (!strncmp (line, "SigIgn:", 7))
            ign = strtoull (line + 7, NULL, 16);
    }
    fclose (f);
    unsigned long long term = 1ULL << (SIGTERM - 1);
    return !(cgt & term) && !(ign & term);
}

static void
stop_one (ctr_t *c, int timeout_s)
{
    if (strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING))
        return;
    pid_t pid = (pid_t) tv_int (c->rec, "pid", 0);
    if (pid <= 0)
        return;
    if (timeout_s <= 0 || term_is_dropped (pid)) {
        kill (pid, SIGKILL);
        return;
    }
    kill (pid, SIGTERM);
    int64_t at = zclock_mono () + (int64_t) timeout_s * 1000;
    if (!c->kill_at || at < c->kill_at)
        c->kill_at = at;
}

static void
remove_ctr (oci_shim_t *s, ctr_t *c)
{
    char err[512], dir[PATH_MAX];
    if (ocirun_delete (&s->paths, c->id, err, sizeof err))
        TR_WARN (A, "runc delete id=%.12s: %s", c->id, err);
    ctr_dir (s, c->id, dir, sizeof dir);
    if (ocirun_remove_dir (dir))
        TR_WARN (A, "cannot remove %s: %s", dir, strerror (errno));
    zhashx_delete (s->ctrs, c->id);
}

static void
remove_sandbox_now (oci_shim_t *s, const char *sb_id)
{
    const json_t *sb = zhashx_lookup (s->sandboxes, sb_id);
    if (!sb)
        return;
    char err[1024];
    if (tv_str (sb, "netns")) {
        if (cni_del (&s->cni, sb_id, tv_str (sb, "netns"), err, sizeof err))
            TR_WARN (A, "CNI DEL sandbox=%s: %s", sb_id, err);
        cni_netns_remove (&s->cni, sb_id);
    }
    if (tv_str (sb, "cgroupParent"))
        cgroup_remove_pod ("/sys/fs/cgroup", s->cgv, tv_str (sb, "cgroupParent"));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/sandboxes/%s.json", s->state, sb_id);
    unlink (path);
    snprintf (path, sizeof path, "%s/sandboxes/%s", s->state, sb_id);
    ocirun_remove_dir (path);
    zhashx_delete (s->sandboxes, sb_id);
}

void
oci_shim_stop_all (oci_shim_t *s, int grace_s)
{
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        stop_one (c, grace_s);
    int64_t end = zclock_mono () + (int64_t) grace_s * 1000 + 3000;
    while (oci_shim_running (s) && zclock_mono () < end) {
        oci_shim_tick (s);
        usleep (20000);
    }
    zlistx_t *ids = zhashx_keys (s->ctrs);
    for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
        ctr_t *c = zhashx_lookup (s->ctrs, id);
        if (c)
            remove_ctr (s, c);
    }
    zlistx_destroy (&ids);
    ids = zhashx_keys (s->sandboxes);
    for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids))
        remove_sandbox_now (s, id);
    zlistx_destroy (&ids);
    /* the node's kubepods hierarchy goes with its last pod (an orderly stop leaves no cgroup) */
    char parent[160];
    snprintf (parent, sizeof parent, "/%s", s->cgroup_parent);
    cgroup_remove_pod ("/sys/fs/cgroup", s->cgv, parent);
    /* its pinned-netns directory, a shared mount of its own (as ip-netns makes /run/netns), the
     * bridge the CNI bridge plugin made, and the run directory: a stopped node leaves nothing */
    umount2 (s->cni.netns_dir, MNT_DETACH);
    char ipbin[64] = "/usr/sbin/ip";
    if (access (ipbin, X_OK))
        snprintf (ipbin, sizeof ipbin, "/sbin/ip");
    char *argv[] = {ipbin, "link", "del", s->cni.bridge, NULL};
    ocirun_result_t r;
    if (ocirun_exec (argv, NULL, 0, 10000, 4096, &r) == 0 && r.exit_code != 0 && r.err && !strstr (r.err, "Cannot find"))
        TR_WARN (A, "ip link del %s: %s", s->cni.bridge, r.err);
    ocirun_result_clear (&r);
    char merr[512];
    if (s->masq_nft && masq_remove (s->masq_table, merr, sizeof merr))
        TR_WARN (A, "masquerade table %s: %s", s->masq_table, merr);
    if (zhashx_size (s->ctrs) == 0)
        ocirun_remove_dir (s->run);
}

/* ---- requests ------------------------------------------------------------------------------- */

static void
ok (tr_env_t *rep, json_t *body)
{
    rep->code = TR_OK;
    rep->body = body ? body : json_object ();
}

static void
fail (tr_env_t *rep, tr_code_t code, const char *fmt, ...)
{
    rep->code = code;
    va_list ap;
    va_start (ap, fmt);
    if (vasprintf (&rep->msg, fmt, ap) < 0)
        rep->msg = NULL;
    va_end (ap);
}

static oci_job_t *
job_new (oci_shim_t *s, jkind_t kind, const char *key, const json_t *in)
{
    oci_job_t *j = calloc (1, sizeof *j);
    j->kind = kind;
    j->s = s;
    snprintf (j->key, sizeof j->key, "%s", key ? key : "");
    j->in = json_deep_copy (in ? in : json_null ());
    j->t_new = mono_ms ();
    return j;
}

void
oci_job_free (oci_job_t **p)
{
    oci_job_t *j = *p;
    if (!j)
        return;
    json_decref (j->in);
    json_decref (j->out);
    free (j);
    *p = NULL;
}

const char *
oci_job_key (const oci_job_t *j)
{
    return j->key;
}

static const char *
ns_of (const json_t *body)
{
    const char *ns = tv_str (body, "runtimeNamespace");
    return ns && *ns ? ns : OCI_DEFAULT_NAMESPACE;
}

static ctr_t *
find (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const char *id = tv_str (req->body, "containerId");
    ctr_t *c = id ? zhashx_lookup (s->ctrs, id) : NULL;
    if (!c)
        fail (rep, TR_NOT_FOUND, "container \"%s\" not found", id ? id : "");
    return c;
}

static void
h_pull (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    const char *image = tv_str (req->body, "image"), *policy = tv_str (req->body, "pullPolicy");
    const char *ns = ns_of (req->body);
    imgref_t ref;
    char err[600];
    if (!image || imgref_parse (image, &ref, err, sizeof err)) {
        fail (rep, TR_INVALID, "image \"%s\": %s", image ? image : "", image ? err : "Required value");
        return;
    }
    char norm[1200];
    imgref_format (&ref, norm, sizeof norm);
    if (!policy)
        policy = imgref_is_latest (&ref) ? "Always" : "IfNotPresent";
    json_t *rec = imgstore_get (s->img, ns, norm);
    /* an image given to the node offline (imported, preloaded, seeded) is the node's local mirror
     * for its name, tried before the registry as k3s's embedded mirror is: Always finds it here */
    int local = rec && !strcmp (tv_str (rec, "source") ? tv_str (rec, "source") : "", "import");
    if (rec && (strcmp (policy, "Always") || local)) {
        ok (rep, json_pack ("{s:s,s:s,s:b}", "image", norm, "imageRef", tv_str (rec, "digest") ? tv_str (rec, "digest") : "",
                            "pulled", 0));
        json_decref (rec);
        return;
    }
    json_decref (rec);
    if (!strcmp (policy, "Never")) {
        fail (rep, TR_NOT_FOUND, "Container image \"%s\" is not present with pull policy of Never", image);
        return;
    }
    /* pulls of one image coalesce when they carry the same credentials (a pod with the right
     * imagePullSecrets must not share the answer of one without) */
    char *auths = tv_get (req->body, "auths") ? json_dumps (tv_get (req->body, "auths"), JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    unsigned char h[8];
    crypto_generichash (h, sizeof h, (const unsigned char *) (auths ? auths : ""), auths ? strlen (auths) : 0, NULL, 0);
    free (auths);
    char key[700];
    snprintf (key, sizeof key, "pull/%.64s/%02x%02x%02x%02x%02x%02x%02x%02x/%.560s", ns, h[0], h[1], h[2], h[3], h[4], h[5],
              h[6], h[7], norm);
    TR_INFO (A, "pulling image=%s namespace=%s policy=%s", norm, ns, policy);
    *job = job_new (s, J_PULL, key, req->body);
    json_object_set_new ((*job)->in, "ref", json_string (norm));
    json_object_set_new ((*job)->in, "runtimeNamespace", json_string (ns));
}

static void
run_pull (oci_job_t *j)
{
    imgpull_opts_t o = {.insecure = j->s->insecure_v, .n_insecure = j->s->n_insecure, .auths = tv_get (j->in, "auths"),
                        .mirrors = j->s->mirrors};
    json_t *rec = NULL;
    int rc = imgstore_pull (j->s->img, tv_str (j->in, "runtimeNamespace"), tv_str (j->in, "ref"), &o, &rec, j->err,
                            sizeof j->err);
    if (rc) {
        j->rc = rc == IMG_ERR_NOT_FOUND ? TR_NOT_FOUND : rc == IMG_ERR_AUTH ? TR_FORBIDDEN
                : rc == IMG_ERR_INVALID                                ? TR_INVALID
                                                                       : TR_UNAVAILABLE;
        json_decref (rec);
        return;
    }
    j->out = json_pack ("{s:s,s:s,s:b}", "image", tv_str (j->in, "ref"), "imageRef",
                        tv_str (rec, "digest") ? tv_str (rec, "digest") : "", "pulled", 1);
    json_decref (rec);
}

static void
h_run_sandbox (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    const char *uid = tv_str (req->body, "podUid");
    if (!uid) {
        fail (rep, TR_INVALID, "podUid: Required value");
        return;
    }
    char id[96];
    snprintf (id, sizeof id, "sb-%.64s", uid);
    /* the id names files and directories (the sandbox dir, the pinned netns) */
    if (!cni_id_valid (id) || strlen (uid) > 64) {
        fail (rep, TR_INVALID, "podUid \"%s\": letters, digits, '-', '_', '.' only, at most 64", uid);
        return;
    }
    const json_t *sb = zhashx_lookup (s->sandboxes, id);
    if (sb && zhashx_lookup (s->pending_sb, id)) { /* a RemovePodSandbox runs: not ready any more */
        fail (rep, TR_CONFLICT, "sandbox \"%s\" is being torn down", id);
        return;
    }
    if (sb) { /* idempotent: the agent asks again after a restart */
        ok (rep, json_pack ("{s:s,s:s}", "sandboxId", id, "podIP", tv_str (sb, "podIP") ? tv_str (sb, "podIP") : ""));
        return;
    }
    char key[200];
    snprintf (key, sizeof key, "sandbox/%s", id);
    zhashx_update (s->pending_sb, id, "1");
    *job = job_new (s, J_SANDBOX, key, req->body);
    snprintf ((*job)->id, sizeof (*job)->id, "%s", id);
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/sandboxes/%s", s->state, id);
    json_object_set_new ((*job)->in, "dir", json_string (dir));
}

static void
run_sandbox (oci_job_t *j)
{
    oci_shim_t *s = j->s;
    const char *dir = tv_str (j->in, "dir");
    mkdirs (dir, 0755);
    const char *hostname = tv_str (j->in, "hostname") ? tv_str (j->in, "hostname") : tv_str (j->in, "name");
    char netns[PATH_MAX] = "", ip[64] = "", path[PATH_MAX];
    json_t *result = NULL;
    if (tv_bool (j->in, "hostNetwork", false)) {
        snprintf (ip, sizeof ip, "%s", tv_str (j->in, "hostIP") ? tv_str (j->in, "hostIP") : "");
    } else {
        if (cni_netns_create (&s->cni, j->id, netns, sizeof netns, j->err, sizeof j->err)) {
            j->rc = TR_INTERNAL;
            return;
        }
        int64_t t0 = mono_ms ();
        int cni_rc = cni_add (&s->cni, j->id, netns, tv_get (j->in, "portMappings"), &result, ip, sizeof ip, j->err,
                              sizeof j->err);
        j->t_stage = mono_ms () - t0;
        if (cni_rc) {
            char e2[256];
            cni_del (&s->cni, j->id, netns, e2, sizeof e2);
            cni_netns_remove (&s->cni, j->id);
            j->rc = TR_INTERNAL;
            return;
        }
        json_decref (result);
    }
    snprintf (path, sizeof path, "%s/hosts", dir);
    int bad = cni_write_hosts (path, ip, hostname ? hostname : "pod", tv_str (j->in, "hostDomain"), tv_get (j->in, "hostAliases"),
                               j->err, sizeof j->err);
    snprintf (path, sizeof path, "%s/resolv.conf", dir);
    if (bad || cni_write_resolv (path, "/etc/resolv.conf", tv_get (j->in, "dnsConfig"), j->err, sizeof j->err)) {
        /* nothing records this sandbox: its network goes now (its netns would block the retry) */
        if (netns[0]) {
            char e2[256];
            cni_del (&s->cni, j->id, netns, e2, sizeof e2);
            cni_netns_remove (&s->cni, j->id);
        }
        j->rc = TR_INTERNAL;
        return;
    }
    snprintf (path, sizeof path, "%s/hostname", dir);
    FILE *f = fopen (path, "w");
    if (f) {
        fprintf (f, "%s\n", hostname ? hostname : "pod");
        fclose (f);
    }
    j->out = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:s}", "sandboxId", j->id, "podUid",
                        tv_str (j->in, "podUid"), "name", tv_str (j->in, "name") ? tv_str (j->in, "name") : "",
                        "namespace", tv_str (j->in, "namespace") ? tv_str (j->in, "namespace") : "", "podIP", ip,
                        "hostname", hostname ? hostname : "pod", "dir", dir, "hostNetwork",
                        tv_bool (j->in, "hostNetwork", false), "createdAt", (json_int_t) wall_ms (), "runtimeNamespace",
                        ns_of (j->in));
    if (netns[0])
        json_object_set_new (j->out, "netns", json_string (netns));
    if (tv_str (j->in, "cgroupParent"))
        json_object_set_new (j->out, "cgroupParent", json_string (tv_str (j->in, "cgroupParent")));
}

static void
h_remove_sandbox (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    const char *id = tv_str (req->body, "sandboxId");
    if (!id) {
        fail (rep, TR_INVALID, "sandboxId: Required value");
        return;
    }
    int running = 0;
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        if (!strcmp (tv_str (c->rec, "sandboxId") ? tv_str (c->rec, "sandboxId") : "", id))
            running |= !strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING) || c->starting;
    if (running) {
        fail (rep, TR_CONFLICT, "sandbox \"%s\" still has running containers", id);
        return;
    }
    if (zhashx_lookup (s->pending_sb, id)) {
        fail (rep, TR_CONFLICT, "sandbox \"%s\" is being set up or torn down", id);
        return;
    }
    /* its containers (runc delete, their directories: slow on a loaded machine) and its network
     * go in a job: the loop answers other requests meanwhile */
    json_t *ids = json_array ();
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        if (!strcmp (tv_str (c->rec, "sandboxId") ? tv_str (c->rec, "sandboxId") : "", id) && !c->removing) {
            c->removing = 1;
            json_array_append_new (ids, json_string (c->id));
        }
    const json_t *sb = zhashx_lookup (s->sandboxes, id);
    if (!sb && !json_array_size (ids)) {
        json_decref (ids);
        ok (rep, NULL);
        return;
    }
    char key[200];
    snprintf (key, sizeof key, "sandbox-rm/%s", id);
    if (sb) {
        zhashx_update (s->pending_sb, id, "1");
        *job = job_new (s, J_SANDBOX_RM, key, sb);
    } else
        *job = job_new (s, J_CTR_RM, key, NULL);
    json_decref ((*job)->in);
    (*job)->in = sb ? json_deep_copy (sb) : json_object ();
    json_object_set_new ((*job)->in, "ctrIds", ids);
    snprintf ((*job)->id, sizeof (*job)->id, "%s", id);
}

/* On a job thread: runc delete and the directory of each container in j->in.ctrIds (they are
 * marked removing; the loop forgets them in oci_job_finish). */
static void
run_ctr_rm (oci_job_t *j)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (j->in, "ctrIds"), i, v) {
        char err[512], dir[PATH_MAX];
        const char *cid = json_string_value (v);
        if (ocirun_delete (&j->s->paths, cid, err, sizeof err))
            TR_WARN (A, "runc delete id=%.12s: %s", cid, err);
        ctr_dir (j->s, cid, dir, sizeof dir);
        if (ocirun_remove_dir (dir))
            TR_WARN (A, "cannot remove %s: %s", dir, strerror (errno));
    }
}

static void
forget_removed (oci_shim_t *s, const oci_job_t *j)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (j->in, "ctrIds"), i, v) zhashx_delete (s->ctrs, json_string_value (v));
}

static void
h_remove_container (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    ctr_t *c = find (s, req, rep);
    if (!c)
        return;
    if (!strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING) || c->starting) {
        fail (rep, TR_CONFLICT, "container \"%s\" is running; stop it first", c->id);
        return;
    }
    char key[200];
    snprintf (key, sizeof key, "ctr-rm/%s", c->id);
    *job = job_new (s, J_CTR_RM, key, NULL);
    json_decref ((*job)->in);
    /* a second request while one runs: the same key, so the serve loop makes it wait for that one */
    (*job)->in = json_pack ("{s:[]}", "ctrIds");
    if (!c->removing)
        json_array_append_new (json_object_get ((*job)->in, "ctrIds"), json_string (c->id));
    c->removing = 1;
    snprintf ((*job)->id, sizeof (*job)->id, "%s", c->id);
}

static void
run_sandbox_rm (oci_job_t *j)
{
    oci_shim_t *s = j->s;
    run_ctr_rm (j);
    if (tv_str (j->in, "netns")) {
        if (cni_del (&s->cni, j->id, tv_str (j->in, "netns"), j->err, sizeof j->err))
            TR_WARN (A, "CNI DEL sandbox=%s: %s", j->id, j->err);
        cni_netns_remove (&s->cni, j->id);
    }
    if (tv_str (j->in, "cgroupParent"))
        cgroup_remove_pod ("/sys/fs/cgroup", s->cgv, tv_str (j->in, "cgroupParent"));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/sandboxes/%s", s->state, j->id);
    ocirun_remove_dir (path);
    j->err[0] = 0;
}

static void
h_create (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const json_t *b = req->body;
    const char *name = tv_str (b, "name"), *sb_id = tv_str (b, "sandboxId"), *image = tv_str (b, "image");
    if (!name || !sb_id || !image || !tv_str (b, "logPath")) {
        fail (rep, TR_INVALID, "%s: Required value",
              !name ? "name" : !sb_id ? "sandboxId" : !image ? "image" : "logPath");
        return;
    }
    /* runc or conmon removed since the shim found them: CreateContainer fails before anything is
     * made (CRI-O's "executable file not found"), the kubelet's CreateContainerError, retried */
    const char *bins[][2] = {{"runc", s->runc}, {"conmon", s->conmon}};
    for (int i = 0; i < 2; i++)
        if (access (bins[i][1], X_OK) < 0) {
            fail (rep, TR_INTERNAL, "%s %s: %s (the OCI runtime cannot run)", bins[i][0], bins[i][1], strerror (errno));
            return;
        }
    const json_t *sb = zhashx_lookup (s->sandboxes, sb_id);
    if (!sb) {
        fail (rep, TR_NOT_FOUND, "sandbox \"%s\" not found (RunPodSandbox first)", sb_id);
        return;
    }
    if (zhashx_lookup (s->pending_sb, sb_id)) { /* being removed: its network and directory go */
        fail (rep, TR_CONFLICT, "sandbox \"%s\" is being torn down", sb_id);
        return;
    }
    const char *ns = ns_of (b);
    json_t *img = imgstore_get (s->img, ns, image);
    if (!img) {
        fail (rep, TR_NOT_FOUND, "image \"%s\" is not present in namespace %s (PullImage first)", image, ns);
        return;
    }
    unsigned char rnd[32];
    randombytes_buf (rnd, sizeof rnd);
    char id[65];
    for (int i = 0; i < 32; i++)
        snprintf (id + 2 * i, 3, "%02x", rnd[i]);
    char dir[PATH_MAX], err[2048];
    ctr_dir (s, id, dir, sizeof dir);
    mkdirs (dir, 0700);
    int copied = 0;
    if (ocirun_mount_rootfs (dir, tv_get (img, "layers"), &copied, err, sizeof err)) {
        ocirun_remove_dir (dir);
        json_decref (img);
        fail (rep, TR_INTERNAL, "rootfs of image \"%s\": %s", image, err);
        return;
    }
    char rootfs[PATH_MAX + 8], hosts[PATH_MAX], resolv[PATH_MAX], hn[PATH_MAX], cg[PATH_MAX];
    snprintf (rootfs, sizeof rootfs, "%s/rootfs", dir);
    const char *sbdir = tv_str (sb, "dir");
    snprintf (hosts, sizeof hosts, "%s/hosts", sbdir);
    snprintf (resolv, sizeof resolv, "%s/resolv.conf", sbdir);
    snprintf (hn, sizeof hn, "%s/hostname", sbdir);
    snprintf (cg, sizeof cg, "%s/%s", tv_str (sb, "cgroupParent") ? tv_str (sb, "cgroupParent") : "/troupe", id);
    ocispec_opts_t so = {.rootfs = rootfs, .hostname = tv_str (sb, "hostname"), .netns_path = tv_str (sb, "netns"),
                         .cgroups_path = cg, .hosts_path = hosts, .resolv_path = resolv, .hostname_path = hn};
    /* the user: runAsUser, else the image's User, resolved against the image's own /etc/passwd */
    char user[300] = "";
    if (tv_get (b, "securityContext.runAsUser"))
        snprintf (user, sizeof user, "%lld", (long long) tv_int (b, "securityContext.runAsUser", 0));
    else if (tv_str (img, "config.config.User") && *tv_str (img, "config.config.User"))
        snprintf (user, sizeof user, "%s", tv_str (img, "config.config.User"));
    else if (tv_str (img, "config.User") && *tv_str (img, "config.User"))
        snprintf (user, sizeof user, "%s", tv_str (img, "config.User"));
    if (user[0]) {
        if (ocispec_resolve_user (rootfs, user, &so.uid, &so.gid, err, sizeof err)) {
            ocirun_remove_dir (dir);
            json_decref (img);
            fail (rep, TR_INVALID, "user \"%s\": %s", user, err);
            return;
        }
        so.user_resolved = 1;
    }
    /* lowering an oom_score_adj below our own needs CAP_SYS_RESOURCE, which a root without it
     * (a container, a restricted sandbox) lacks: runc would fail the start, so it is raised to ours */
    json_t *breq = json_deep_copy (b);
    json_int_t want = tv_int (b, "linux.oomScoreAdj", 0);
    if (tv_get (b, "linux.oomScoreAdj") && want < s->min_oom_adj) {
        tv_set (breq, "linux.oomScoreAdj", json_integer (s->min_oom_adj));
        if (!s->oom_warned++)
            TR_WARN (A, "no CAP_SYS_RESOURCE: oom_score_adj below %d (Guaranteed pods ask -997) raised to %d",
                     s->min_oom_adj, s->min_oom_adj);
    }
    json_t *spec = ocispec_build (breq, tv_get (img, "config"), &so, err, sizeof err);
    json_decref (breq);
    if (!spec) {
        ocirun_remove_dir (dir);
        json_decref (img);
        fail (rep, TR_INVALID, "%s", err);
        return;
    }
    if (termination_log (dir, b, spec, err, sizeof err)) {
        json_decref (spec);
        ocirun_remove_dir (dir);
        json_decref (img);
        fail (rep, TR_INTERNAL, "%s", err);
        return;
    }
    char cfg[PATH_MAX + 16];
    snprintf (cfg, sizeof cfg, "%s/config.json", dir);
    int wrc = json_dump_file (spec, cfg, JSON_INDENT (1));
    json_decref (spec);
    if (wrc) {
        ocirun_remove_dir (dir);
        json_decref (img);
        fail (rep, TR_INTERNAL, "cannot write %s: %s", cfg, strerror (errno));
        return;
    }
    ctr_t *c = calloc (1, sizeof *c);
    snprintf (c->id, sizeof c->id, "%s", id);
    c->rec = json_deep_copy (b);
    json_object_set_new (c->rec, "containerId", json_string (id));
    json_object_set_new (c->rec, "state", json_string (CRI_STATE_CREATED));
    json_object_set_new (c->rec, "createdAt", json_integer (wall_ms ()));
    json_object_set_new (c->rec, "imageRef", json_string (tv_str (img, "digest") ? tv_str (img, "digest") : ""));
    json_object_set_new (c->rec, "runtimeNamespace", json_string (ns));
    json_object_set_new (c->rec, "bundle", json_string (dir));
    json_object_set_new (c->rec, "cgroupsPath", json_string (cg));
    if (copied)
        json_object_set_new (c->rec, "rootfsCopied", json_true ());
    json_decref (img);
    zhashx_update (s->ctrs, c->id, c);
    ctr_save (s, c);
    imgstore_touch (s->img, ns, image);
    ok (rep, json_pack ("{s:s}", "containerId", id));
}

static void
h_start (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    ctr_t *c = find (s, req, rep);
    if (!c)
        return;
    if (c->removing) {
        fail (rep, TR_CONFLICT, "container \"%s\" is being removed", c->id);
        return;
    }
    if (c->starting || strcmp (tv_str (c->rec, "state"), CRI_STATE_CREATED)) {
        fail (rep, TR_CONFLICT, "container \"%s\" is %s, not CREATED", c->id, c->starting ? "starting" : tv_str (c->rec, "state"));
        return;
    }
    const char *logp = tv_str (c->rec, "logPath");
    char d[PATH_MAX];
    snprintf (d, sizeof d, "%s", logp);
    char *slash = strrchr (d, '/');
    if (slash) {
        *slash = 0;
        mkdirs (d, 0755);
    }
    c->starting = 1;
    char key[200];
    snprintf (key, sizeof key, "start/%s", c->id);
    *job = job_new (s, J_START, key, c->rec);
    snprintf ((*job)->id, sizeof (*job)->id, "%s", c->id);
}

static void
run_start (oci_job_t *j)
{
    pid_t pid = 0, cpid = 0;
    const char *stage = "create";
    char e2[64];
    ocirun_delete (&j->s->paths, j->id, e2, sizeof e2); /* what a crash mid-start left */
    if (ocirun_start (&j->s->paths, j->id, tv_str (j->in, "name"), tv_str (j->in, "bundle"), tv_str (j->in, "logPath"),
                      &pid, &cpid, &stage, j->err, sizeof j->err)) {
        j->rc = TR_INTERNAL;
        j->out = json_pack ("{s:s}", "stage", stage);
        return;
    }
    j->out = json_pack ("{s:i,s:i}", "pid", (int) pid, "conmonPid", (int) cpid);
}

/* ReopenContainerLog: as CRI-O, REOPEN_LOGS on conmon's control FIFO, then (on a job thread)
 * wait up to 3 s for conmon to have created the new file at logPath. */
/* UpdateRuntimeConfig (cri.h): a new pod CIDR for the sandboxes to come. */
static void
h_update_runtime_config (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const char *pod = tv_str (req->body, "podCidr"), *cluster = tv_str (req->body, "clusterCidr");
    char err[512], path[PATH_MAX];
    char *check = masq_ruleset ("t", pod, cluster, err, sizeof err); /* the same checks as the rule's */
    free (check);
    if (!check || strlen (pod) >= sizeof s->cni.subnet || (cluster && strlen (cluster) >= sizeof s->cluster_cidr)) {
        fail (rep, TR_INVALID, "podCidr, clusterCidr: %s", check ? "too long" : err);
        return;
    }
    if (!cluster)
        cluster = "";
    if (!strcmp (pod, s->cni.subnet) && !strcmp (cluster, s->cluster_cidr)) {
        ok (rep, NULL);
        return;
    }
    cni_config_t next = s->cni;
    snprintf (next.subnet, sizeof next.subnet, "%s", pod);
    if (cni_write_conflist (&next, err, sizeof err)) {
        fail (rep, TR_INTERNAL, "pod network %s: %s", pod, err);
        return;
    }
    if (s->masq_nft && masq_ensure (s->masq_table, pod, cluster, err, sizeof err))
        TR_ERROR (A, "masquerade of %s: %s", pod, err); /* retried by the periodic check only if gone */
    TR_INFO (A, "pod network %s (was %s), cluster %s", pod, s->cni.subnet, *cluster ? cluster : pod);
    memcpy (s->cni.subnet, next.subnet, sizeof next.subnet); /* job threads read the rest of s->cni, never the subnet */
    snprintf (s->cluster_cidr, sizeof s->cluster_cidr, "%s", cluster);
    json_t *nw = json_pack ("{s:s,s:s}", "podCidr", pod, "clusterCidr", cluster);
    char tmp[PATH_MAX + 8];
    snprintf (path, sizeof path, "%.990s/cni/network.json", s->state);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file (nw, tmp, JSON_COMPACT) || rename (tmp, path))
        TR_WARN (A, "cannot record the pod network in %s: %s", path, strerror (errno));
    json_decref (nw);
    ok (rep, NULL);
}

static void
h_reopen_log (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    ctr_t *c = find (s, req, rep);
    if (!c)
        return;
    if (c->starting || strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING) || !tv_str (c->rec, "bundle")) {
        fail (rep, TR_CONFLICT, "container \"%s\" is not running", c->id);
        return;
    }
    char key[200];
    snprintf (key, sizeof key, "reopen/%s", c->id);
    *job = job_new (s, J_REOPEN, key, c->rec);
    snprintf ((*job)->id, sizeof (*job)->id, "%s", c->id);
}

static void
run_reopen (oci_job_t *j)
{
    const char *logp = tv_str (j->in, "logPath");
    if (ocirun_reopen_log (tv_str (j->in, "bundle"), j->err, sizeof j->err)) {
        j->rc = TR_INTERNAL;
        return;
    }
    struct stat st;
    for (int i = 0; i < 300; i++) {
        if (!logp || stat (logp, &st) == 0)
            return;
        usleep (10000);
    }
    j->rc = TR_TIMEOUT;
    snprintf (j->err, sizeof j->err, "conmon did not reopen %s within 3s", logp);
}

static void
h_exec (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    ctr_t *c = find (s, req, rep);
    if (!c)
        return;
    if (strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING)) {
        fail (rep, TR_CONFLICT, "container \"%s\" is not running", tv_str (c->rec, "name"));
        return;
    }
    if (!json_array_size (tv_get (req->body, "cmd"))) {
        fail (rep, TR_INVALID, "cmd: Required value");
        return;
    }
    *job = job_new (s, J_EXEC, NULL, req->body);
    snprintf ((*job)->id, sizeof (*job)->id, "%s", c->id);
}

static void
run_exec (oci_job_t *j)
{
    json_t *cmd = tv_get (j->in, "cmd");
    size_t n = json_array_size (cmd);
    char rootarg[PATH_MAX + 16];
    snprintf (rootarg, sizeof rootarg, "--root=%s", j->s->runc_root);
    /* the process's pid, to end it at the timeout: killing runc exec leaves it running in the
     * container (a hung probe would pile up one per period), containerd kills it too */
    char pidfile[PATH_MAX + 64], pidarg[PATH_MAX + 80];
    snprintf (pidfile, sizeof pidfile, "%.2000s/containers/%.100s/exec-%08x.pid", j->s->state, j->id, randombytes_random ());
    snprintf (pidarg, sizeof pidarg, "--pid-file=%s", pidfile);
    char **argv = calloc (n + 8, sizeof *argv);
    size_t k = 0;
    argv[k++] = j->s->runc;
    argv[k++] = rootarg;
    argv[k++] = "exec";
    argv[k++] = pidarg;
    argv[k++] = j->id;
    for (size_t i = 0; i < n; i++)
        argv[k++] = (char *) (json_string_value (json_array_get (cmd, i)) ? json_string_value (json_array_get (cmd, i)) : "");
    const char *in = tv_str (j->in, "stdin");
    ocirun_result_t r;
    json_int_t timeout = tv_int (j->in, "timeout", 0);
    if (timeout > 86400) /* seconds; kept from overflowing the milliseconds */
        timeout = 86400;
    int rc = ocirun_exec (argv, in, in ? json_string_length (tv_get (j->in, "stdin")) : 0, timeout > 0 ? (int) timeout * 1000 : 60000, 1 << 20, &r);
    free (argv);
    FILE *pf = fopen (pidfile, "r");
    if (pf) {
        int pid = 0;
        if (rc == 0 && r.timed_out && fscanf (pf, "%d", &pid) == 1 && pid > 0)
            kill ((pid_t) pid, SIGKILL);
        fclose (pf);
        unlink (pidfile);
    }
    if (rc) {
        snprintf (j->err, sizeof j->err, "cannot run %.1024s: %s", j->s->runc, strerror (errno));
        j->rc = TR_INTERNAL;
        return;
    }
    j->out = json_pack ("{s:s%,s:s%,s:i,s:b}", "stdout", r.out ? r.out : "", r.out_len, "stderr", r.err ? r.err : "",
                        r.err_len, "exitCode", r.exit_code, "timedOut", r.timed_out);
    ocirun_result_clear (&r);
}

json_t *
oci_shim_exec_argv (oci_shim_t *s, const tr_env_t *req, const char *session, char *pid_file, size_t pflen,
                    char *proc_file, size_t prlen, char *owner, size_t olen, tr_env_t *rep)
{
    ctr_t *c = find (s, req, rep);
    if (!c)
        return NULL;
    if (strcmp (tv_str (c->rec, "state"), CRI_STATE_RUNNING)) {
        fail (rep, TR_CONFLICT, "container \"%s\" is not running", tv_str (c->rec, "name"));
        return NULL;
    }
    json_t *cmd = tv_get (req->body, "cmd");
    if (!json_array_size (cmd)) {
        fail (rep, TR_INVALID, "cmd: Required value");
        return NULL;
    }
    /* the process, as CRI-O/containerd hand it to runc: the container's, with the command, the
     * terminal and its size (runc sizes its pty before the command runs: ocispec.h) */
    char cfg[PATH_MAX], err[256];
    snprintf (cfg, sizeof cfg, "%.4000s/config.json", tv_str (c->rec, "bundle") ? tv_str (c->rec, "bundle") : "");
    json_t *spec = json_load_file (cfg, 0, NULL);
    int tty = tv_bool (req->body, "tty", false);
    json_t *proc = ocispec_exec_process (json_object_get (spec, "process"), cmd, tty, (int) tv_int (req->body, "rows", 0),
                                         (int) tv_int (req->body, "cols", 0), err, sizeof err);
    int have = json_is_object (json_object_get (spec, "process"));
    json_decref (spec);
    if (!proc) {
        if (have)
            fail (rep, TR_INVALID, "%s", err);
        else
            fail (rep, TR_INTERNAL, "exec: cannot read the process of %s", cfg);
        return NULL;
    }
    snprintf (pid_file, pflen, "%.900s/exec-%s.pid", s->run, session);
    snprintf (proc_file, prlen, "%.900s/exec-%s.json", s->run, session);
    int wrc = json_dump_file (proc, proc_file, JSON_COMPACT);
    json_decref (proc);
    if (wrc) {
        unlink (proc_file);
        fail (rep, TR_INTERNAL, "exec: cannot write %s: %s", proc_file, strerror (errno));
        return NULL;
    }
    snprintf (owner, olen, "%s", tv_str (c->rec, "podUid") ? tv_str (c->rec, "podUid") : "");
    char rootarg[PATH_MAX + 16], pidarg[PATH_MAX + 16], procarg[PATH_MAX + 16];
    snprintf (rootarg, sizeof rootarg, "--root=%s", s->runc_root);
    snprintf (pidarg, sizeof pidarg, "--pid-file=%s", pid_file);
    snprintf (procarg, sizeof procarg, "--process=%s", proc_file);
    /* with a terminal, runc makes a pty inside the container (its devpts: `tty` names it, the
     * command gets it as its controlling terminal), sized from consoleSize, and copies between it
     * and its own stdio — the shim's pty, whose size it copies again on SIGWINCH */
    return json_pack ("[s,s,s,s,s,s]", s->runc, rootarg, "exec", pidarg, procarg, c->id);
}

void
oci_job_run (oci_job_t *j)
{
    j->t_run = mono_ms ();
    switch (j->kind) {
    case J_PULL: run_pull (j); break;
    case J_SANDBOX: run_sandbox (j); break;
    case J_SANDBOX_RM: run_sandbox_rm (j); break;
    case J_START: run_start (j); break;
    case J_EXEC: run_exec (j); break;
    case J_CTR_RM: run_ctr_rm (j); break;
    case J_REOPEN: run_reopen (j); break;
    }
    j->t_done = mono_ms ();
}

void
oci_job_finish (oci_shim_t *s, oci_job_t *j, tr_env_t *rep)
{
    rep->code = TR_OK;
    switch (j->kind) {
    case J_PULL:
        if (j->rc)
            TR_WARN (A, "pull failed image=%s error=\"%s\"", tv_str (j->in, "ref"), j->err);
        else
            TR_INFO (A, "pulled image=%s digest=%s", tv_str (j->in, "ref"), tv_str (j->out, "imageRef"));
        break;
    case J_SANDBOX:
        zhashx_delete (s->pending_sb, j->id);
        if (!j->rc) {
            sb_save (s, j->out);
            zhashx_update (s->sandboxes, j->id, json_incref (j->out));
            TR_INFO (A, "sandbox ready id=%s ip=%s queued_ms=%lld run_ms=%lld cni_ms=%lld", j->id,
                     tv_str (j->out, "podIP"), (long long) (j->t_run - j->t_new), (long long) (j->t_done - j->t_run),
                     (long long) j->t_stage);
        }
        break;
    case J_CTR_RM:
        forget_removed (s, j);
        j->rc = 0;
        break;
    case J_SANDBOX_RM: {
        forget_removed (s, j);
        zhashx_delete (s->pending_sb, j->id);
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/sandboxes/%s.json", s->state, j->id);
        unlink (path);
        zhashx_delete (s->sandboxes, j->id);
        j->rc = 0;
        break;
    }
    case J_START: {
        ctr_t *c = zhashx_lookup (s->ctrs, j->id);
        if (!c)
            break;
        c->starting = 0;
        if (!j->rc) {
            json_object_set_new (c->rec, "state", json_string (CRI_STATE_RUNNING));
            json_object_set (c->rec, "pid", json_object_get (j->out, "pid"));
            json_object_set (c->rec, "conmonPid", json_object_get (j->out, "conmonPid"));
            json_object_set_new (c->rec, "startedAt", json_integer (wall_ms ()));
            TR_INFO (A, "container started id=%.12s name=%s pid=%d queued_ms=%lld run_ms=%lld", c->id,
                     tv_str (c->rec, "name"), (int) tv_int (j->out, "pid", 0), (long long) (j->t_run - j->t_new),
                     (long long) (j->t_done - j->t_run));
            json_object_set_new (j->out, "status", status_of (s, c));
        } else {
            /* as containerd: a container that could not start ends at once, exit code 128 */
            int64_t now = wall_ms ();
            json_object_set_new (c->rec, "state", json_string (CRI_STATE_EXITED));
            json_object_set_new (c->rec, "exitCode", json_integer (128));
            json_object_set_new (c->rec, "reason", json_string ("StartError"));
            json_object_set_new (c->rec, "message", json_string (j->err));
            json_object_set_new (c->rec, "startedAt", json_integer (now));
            json_object_set_new (c->rec, "finishedAt", json_integer (now));
            TR_WARN (A, "container did not start id=%.12s name=%s stage=%s error=\"%s\"", c->id, tv_str (c->rec, "name"),
                     tv_str (j->out, "stage"), j->err);
        }
        ctr_save (s, c);
        break;
    }
    default: break;
    }
    if (j->rc) {
        rep->code = (tr_code_t) j->rc;
        rep->msg = strdup (j->err);
    } else
        rep->body = j->out ? json_incref (j->out) : json_object ();
    if (!rep->body && !j->rc)
        rep->body = json_object ();
    oci_job_free (&j);
}

static void
h_list_images (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    const char *ns = tv_str (req->body, "runtimeNamespace");
    ok (rep, json_pack ("{s:o}", "items", imgstore_list (s->img, ns)));
}

static void
h_remove_image (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep)
{
    json_t *in_use = json_array ();
    for (ctr_t *c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
        if (tv_str (c->rec, "imageRef"))
            json_array_append_new (in_use, json_string (tv_str (c->rec, "imageRef")));
    char err[600];
    int rc = imgstore_remove (s->img, ns_of (req->body), tv_str (req->body, "image") ? tv_str (req->body, "image") : "",
                              in_use, err, sizeof err);
    json_decref (in_use);
    if (rc)
        fail (rep, TR_CONFLICT, "%s", err);
    else
        ok (rep, NULL);
}

int
oci_shim_handle (oci_shim_t *s, const tr_env_t *req, tr_env_t *rep, oci_job_t **job)
{
    tr_env_init (rep);
    rep->id = req->id;
    rep->verb = TR_VERB_REPLY;
    *job = NULL;
    ctr_t *c;
    switch (req->verb) {
    case TR_VERB_PULL_IMAGE: h_pull (s, req, rep, job); break;
    case TR_VERB_LIST_IMAGES: h_list_images (s, req, rep); break;
    case TR_VERB_REMOVE_IMAGE: h_remove_image (s, req, rep); break;
    case TR_VERB_RUN_POD_SANDBOX: h_run_sandbox (s, req, rep, job); break;
    case TR_VERB_STOP_POD_SANDBOX: {
        const char *id = tv_str (req->body, "sandboxId");
        for (c = zhashx_first (s->ctrs); c; c = zhashx_next (s->ctrs))
            if (id && !strcmp (tv_str (c->rec, "sandboxId") ? tv_str (c->rec, "sandboxId") : "", id))
                stop_one (c, (int) tv_int (req->body, "timeout", 0));
        ok (rep, NULL);
        break;
    }
    case TR_VERB_REMOVE_POD_SANDBOX: h_remove_sandbox (s, req, rep, job); break;
    case TR_VERB_CREATE_CONTAINER: h_create (s, req, rep); break;
    case TR_VERB_START_CONTAINER: h_start (s, req, rep, job); break;
    case TR_VERB_STOP_CONTAINER:
        if ((c = find (s, req, rep))) {
            stop_one (c, (int) tv_int (req->body, "timeout", 0));
            ok (rep, NULL);
        }
        break;
    case TR_VERB_REMOVE_CONTAINER: h_remove_container (s, req, rep, job); break;
    case TR_VERB_CONTAINER_STATUS:
        if ((c = find (s, req, rep)))
            ok (rep, status_of (s, c));
        break;
    case TR_VERB_LIST_CONTAINERS: ok (rep, json_pack ("{s:o}", "items", oci_shim_list (s, tv_str (req->body, "podUid")))); break;
    case TR_VERB_EXEC_SYNC: h_exec (s, req, rep, job); break;
    case TR_VERB_REOPEN_CONTAINER_LOG: h_reopen_log (s, req, rep, job); break;
    case TR_VERB_UPDATE_RUNTIME_CONFIG: h_update_runtime_config (s, req, rep); break;
    case TR_VERB_PING: ok (rep, json_pack ("{s:s}", "runtime", "oci")); break;
    default: fail (rep, TR_METHOD_NOT_ALLOWED, "verb \"%s\" is not a runtime verb", tr_verb_name (req->verb));
    }
    return *job ? 1 : 0;
}
