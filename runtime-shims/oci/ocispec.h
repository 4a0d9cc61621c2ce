/* ocispec — the OCI runtime spec (a bundle's config.json) for one container, pure: the
 * CreateContainer request + the image's config + the sandbox's paths in, a json object out.
 * No I/O, so every rule is table-tested (tests/unit/test_ocispec.c).
 *
 * What it sets, as containerd's CRI plugin / CRI-O do for Kubernetes:
 * - process.args: Kubernetes' merge of command/args with the image's Entrypoint/Cmd (command
 *   given: command + args; only args: Entrypoint + args; neither: Entrypoint + Cmd); empty →
 *   error "no command specified".
 * - process.env: image Env, then the container's env (later wins by name), PATH defaulted,
 *   HOSTNAME set; cwd: workingDir, else the image's WorkingDir, else "/".
 * - process.user: runAsUser/runAsGroup (securityContext) else the image's User when numeric
 *   ("uid" or "uid:gid"); a named user is resolved by the caller against the rootfs' /etc/passwd
 *   (ocispec_resolve_user) before building and passed in the options (user_resolved, uid, gid);
 *   runAsGroup still overrides the gid. runAsNonRoot with uid 0 → error. supplementalGroups /
 *   fsGroup as additionalGids.
 * - capabilities (bounding = effective = permitted, inheritable empty): containerd's default set
 *   (CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
 *   NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE); in containerd's order: add ALL → all, drop
 *   ALL → none, then each added one, then each dropped one (one both added and dropped ends
 *   dropped). Names with or without "CAP_", any case; an unknown one is an error.
 *   privileged: all capabilities, no masked or read-only paths, no seccomp, /sys and the cgroup
 *   mount read-write, the devices cgroup allows every device (host device nodes are not
 *   created: that needs I/O, the caller may add them).
 * - noNewPrivileges: !allowPrivilegeEscalation (which defaults to true, as in Kubernetes: so
 *   noNewPrivileges is false unless allowPrivilegeEscalation: false), false when privileged.
 * - masked paths (/proc/acpi kcore keys latency_stats timer_list timer_stats sched_debug scsi,
 *   /sys/firmware, /sys/devices/virtual/powercap) and read-only paths (/proc/asound bus fs irq
 *   sys sysrq-trigger) as containerd's defaults; readonlyRootfs from
 *   readOnlyRootFilesystem; the default seccomp profile (RuntimeDefault: an allow list, errno
 *   EPERM for the rest; ocispec_seccomp_default) unless seccompProfile type Unconfined or
 *   privileged (type Localhost is refused: not supported).
 * - namespaces: pid, ipc, mount new; with a netns path: that network namespace, a new uts and the
 *   hostname from the sandbox; without (hostNetwork): the host's network and, as containerd,
 *   the host's uts (no hostname set).
 * - mounts: /proc, /dev (tmpfs), /dev/pts, /dev/shm (tmpfs, or the sandbox's shm_path bound),
 *   /dev/mqueue, /sys (ro), cgroup (ro), then the sandbox's /etc/hosts, /etc/resolv.conf,
 *   /etc/hostname (read-only when the rootfs is), then the request's mounts (volumes), each
 *   {containerPath, hostPath, readonly, propagation (PROPAGATION_PRIVATE|HOST_TO_CONTAINER|
 *   BIDIRECTIONAL or None|HostToContainer|Bidirectional)} as an rbind: in order, except that a
 *   parent comes before its children (a stable sort by depth, as containerd). A volume at the
 *   destination of a default mount replaces it.
 * - linux.resources: cpu shares/quota/period, memory limit (+ swap = limit), pids limit,
 *   oomScoreAdj; linux.cgroupsPath from the options.
 */
#ifndef TROUPE_OCISPEC_H
#define TROUPE_OCISPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *rootfs;          /* absolute path of the rootfs (the overlay mount point) */
    const char *hostname;        /* the pod's hostname */
    const char *netns_path;      /* "/run/…/netns/<id>", or NULL for the host's network */
    const char *cgroups_path;    /* "/kubepods/burstable/pod<uid>/<containerId>" */
    const char *hosts_path;      /* the sandbox's files to bind, or NULL */
    const char *resolv_path;
    const char *hostname_path;
    const char *shm_path;        /* the sandbox's /dev/shm to share between containers, or NULL */
    int user_resolved;           /* 1: uid/gid below are the user resolved with ocispec_resolve_user
                                  * (runAsUser as a number when set, else the image's User); the
                                  * gid is then the passwd entry's when no group was given */
    uint32_t uid, gid;
} ocispec_opts_t;

/* req: the CreateContainer body (runtime-shims/cri.h): command[], args[], env[{name,value}],
 * workingDir, securityContext{runAsUser, runAsGroup, runAsNonRoot, readOnlyRootFilesystem,
 * privileged, allowPrivilegeEscalation, capabilities{add[],drop[]}, seccompProfile{type},
 * supplementalGroups[]}, linux{cpuShares, cpuQuota, cpuPeriod, memoryLimitBytes, oomScoreAdj,
 * pidsLimit}, mounts[{containerPath, hostPath, readonly}], tty, stdin.
 * image_config: the image config's "config" object (Entrypoint, Cmd, Env, WorkingDir, User), or NULL.
 * Returns a new config.json object, or NULL with err naming the field ("command: no command
 * specified", "securityContext.runAsNonRoot: container has runAsNonRoot and image will run as
 * root"). */
json_t *ocispec_build (const json_t *req, const json_t *image_config, const ocispec_opts_t *o, char *err, size_t errlen);

/* The process of an exec in a container (runc exec --process FILE), as runc builds it without
 * --process and CRI-O/containerd do: the container's config.json "process" (env, cwd, user,
 * capabilities, noNewPrivileges, rlimits, … copied) with args = cmd (an array of strings, not
 * empty), terminal = tty, and with a terminal whose size is known (rows and cols in 1..65535)
 * consoleSize {height: rows, width: cols}: runc sizes the container's pty before the command
 * starts, so the command's first TIOCGWINSZ sees it (runc's own copy of its stdin's size comes
 * after the start: `stty size` raced it). A new object, or NULL with err. */
json_t *ocispec_exec_process (const json_t *ctr_process, const json_t *cmd, int tty, int rows, int cols, char *err,
                              size_t errlen);

/* Resolves user ("", "name", "uid", "name:group", "uid:gid", "uid:group", "name:gid": the
 * image's User or runAsUser as a number) to uid/gid with the rootfs's /etc/passwd and
 * /etc/group (read, never executed), as runc does: a name must exist; a numeric uid need not,
 * its gid is its passwd entry's or 0; no group → the user's primary group. The files are opened
 * without leaving the rootfs (openat2 RESOLVE_IN_ROOT, else O_NOFOLLOW: a symlink refused), only
 * regular files of at most 4 MiB. 0 or -1 with err. */
int ocispec_resolve_user (const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid, char *err, size_t errlen);

/* The RuntimeDefault seccomp profile (linux.seccomp) for a container whose bounding set is
 * bounding (an array of "CAP_…"): Docker's/containerd's allow list for this machine's
 * architectures (x86_64: X86_64, X86, X32; aarch64: AARCH64, ARM), everything else EPERM;
 * syscalls tied to a capability allowed only with it; without CAP_SYS_ADMIN, clone only without
 * namespace flags and clone3 → ENOSYS (glibc then falls back to clone). A new object. */
json_t *ocispec_seccomp_default (const json_t *bounding);

/* Every capability name Linux has, "CAP_CHOWN" … "CAP_CHECKPOINT_RESTORE", by number; NULL-ended. */
extern const char *const ocispec_all_caps[];

#endif
