/* oci_shim — the oci runtime behind runtime-shims/cri.h: pod sandboxes are pinned network
 * namespaces set up by the CNI plugins, containers are runc containers under conmon on an
 * overlayfs of the image's layers, images come from imgstore.
 *
 * State (survives the shim and the agent; read by `troupe runtime` with nothing running):
 *   <state>/sandboxes/<sandboxId>.json   the sandbox record (+ <state>/sandboxes/<id>/ hosts,
 *                                        resolv.conf, hostname)
 *   <state>/containers/<id>/record.json  the container record; the bundle (config.json, rootfs
 *                                        mount, upper, work) beside it
 *   <state>/exits, <state>/persist       conmon's exit files and per-container persist dirs
 *   <state>/images                       the image store
 *   <run>/runc, <run>/netns, <run>/cni   runc's state, pinned netns, CNI results (tmpfs: a
 *                                        reboot forgets them, as it forgets the containers)
 * Containers keep running when the shim stops (conmon holds them); a new shim re-reads the
 * records and conmon's exit files: a container that ended meanwhile gets its real exit code.
 *
 * Slow work (pulls, sandbox set-up and tear-down, starting and removing a container: runc delete
 * and its directory, exec) runs in job threads: oci_shim_handle answers at once or hands back a job; the serve loop (shim.c) runs the
 * job on a thread and calls oci_job_finish on its own thread with the result.
 */
#ifndef TROUPE_OCI_SHIM_H
#define TROUPE_OCI_SHIM_H

#include "core/envelope.h"

#include <jansson.h>

#define OCI_DEFAULT_NAMESPACE "troupe.io"

typedef struct oci_shim oci_shim_t;
typedef struct oci_job oci_job_t;

typedef struct {
    const char *state_dir;     /* DATA/oci */
    const char *run_dir;       /* /run/troupe/<node> */
    const char *node;          /* names the bridge and the cgroup parent on a shared machine */
    const char *runc;          /* NULL: found on PATH */
    const char *conmon;
    const char *cni_bin_dir;   /* NULL: /usr/lib/cni */
    const char *pod_cidr;      /* NULL: the last UpdateRuntimeConfig's (<state>/cni/network.json), else 10.88.0.0/16 */
    const char *cluster_cidr;  /* not masqueraded; NULL: the pod CIDR (with pod_cidr only) */
    const json_t *insecure;    /* array of "HOST:PORT" spoken to over plain HTTP */
    const json_t *mirrors;     /* registries.yaml "mirrors" */
    const char *preload_dir;   /* image tarballs imported at start (k3s's agent/images), or NULL */
    int seed_busybox;          /* make docker.io/library/busybox:latest from busybox-static if absent (troupe up) */
    int gc_high_pct, gc_low_pct; /* image GC: imageGCHighThresholdPercent (85), imageGCLowThresholdPercent (80) */
    int no_masq;               /* tests: no masquerade at all (neither the node's nftables table nor ipMasq) */
    const char *image_namespace; /* the runtime namespace preloaded and seeded images go to; NULL:
                                  * OCI_DEFAULT_NAMESPACE ("default" on a standalone node) */
} oci_opts_t;

/* Finds runc and conmon (opts or PATH): 0, or -1 with err naming the one missing. */
int oci_shim_available (const oci_opts_t *o, char *err, size_t errlen);

oci_shim_t *oci_shim_new (const oci_opts_t *o, char *err, size_t errlen);
void oci_shim_destroy (oci_shim_t **self_p);

/* Handles req. 0: *rep is filled. 1: the answer comes from *job (run oci_job_run on a thread,
 * then oci_job_finish on the loop's thread); oci_job_key names it, for coalescing identical
 * pulls (the serve loop answers every waiter with the one result). */
int oci_shim_handle (oci_shim_t *self, const tr_env_t *req, tr_env_t *rep, oci_job_t **job);
void oci_job_run (oci_job_t *job);
const char *oci_job_key (const oci_job_t *job);
/* Applies the job's result to the shim's state and fills rep (code, body, msg); frees the job. */
void oci_job_finish (oci_shim_t *self, oci_job_t *job, tr_env_t *rep);
void oci_job_free (oci_job_t **job_p);

/* ExecStart {containerId, cmd[], tty, rows?, cols?}: the runc exec command line for a streamed
 * exec session (runtime-shims/execsess.h), with the pid file it writes (the command's pid: killed
 * when the session is abandoned), the process file it reads (written here:
 * ocispec_exec_process; removed with the session) and the container's pod uid (the session's
 * owner). NULL with rep's code and msg set when the container is unknown or not running, or cmd
 * is empty. */
json_t *oci_shim_exec_argv (oci_shim_t *self, const tr_env_t *req, const char *session, char *pid_file, size_t pflen,
                            char *proc_file, size_t prlen, char *owner, size_t olen, tr_env_t *rep);

/* Does this shim know the container / the sandbox? */
int oci_shim_owns (oci_shim_t *self, const char *container_id);
int oci_shim_owns_sandbox (oci_shim_t *self, const char *sandbox_id);
/* Container statuses (cri.h), of pod_uid or all (NULL). New array. */
json_t *oci_shim_list (oci_shim_t *self, const char *pod_uid);
/* [{sandboxId, podUid}] of every sandbox (ready, or being set up). New array. */
json_t *oci_shim_sandboxes (oci_shim_t *self);
/* Exit files, stop deadlines. Every 100 ms. */
void oci_shim_tick (oci_shim_t *self);
int oci_shim_running (oci_shim_t *self);
/* Stops every container (SIGTERM, SIGKILL after grace_s), then removes them and their sandboxes. */
void oci_shim_stop_all (oci_shim_t *self, int grace_s);

/* For `troupe runtime`: the records under state_dir as they are on disk (exits applied), with
 * nothing running. New arrays; ns NULL = every namespace. */
json_t *oci_state_containers (const char *state_dir, const char *ns);
json_t *oci_state_sandboxes (const char *state_dir, const char *ns);

#endif
