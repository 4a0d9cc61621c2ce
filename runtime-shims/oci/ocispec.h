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
 *   (ocispec_resolve_user) before building. supplementalGroups / fsGroup as additionalGids.
 * - capabilities: containerd's default set (CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW
 *   SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE), then
 *   capabilities.drop (ALL drops all), then add; privileged: all capabilities, no masked or
 *   read-only paths, no seccomp, devices of the host allowed.
 * - noNewPrivileges: !allowPrivilegeEscalation (default true), false when privileged.
 * - masked paths and read-only paths as containerd's defaults; readonlyRootfs from
 *   readOnlyRootFilesystem; the default seccomp profile (RuntimeDefault: an allow list, errno
 *   EPERM for the rest) unless seccompProfile type Unconfined or privileged.
 * - namespaces: pid, ipc, uts, mount new; network: the sandbox's netns path (none: the host's,
 *   for hostNetwork); hostname from the sandbox.
 * - mounts: /proc, /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, /sys (ro), cgroup (ro), then
 *   the sandbox's /etc/hosts, /etc/resolv.conf, /etc/hostname, then the request's mounts
 *   (volumes), in order, each {containerPath, hostPath, readonly, propagation}.
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
} ocispec_opts_t;

/* req: the CreateContainer body (runtime-shims/cri.h): command[], args[], env[{name,value}],
 * workingDir, securityContext{runAsUser, runAsGroup, runAsNonRoot, readOnlyRootFilesystem,
 * privileged, allowPrivilegeEscalation, capabilities{add[],drop[]}, seccompProfile{type},
 * supplementalGroups[]}, linux{cpuShares, cpuQuota, cpuPeriod, memoryLimitBytes, oomScoreAdj,
 * pidsLimit}, mounts[{containerPath, hostPath, readonly}], tty, stdin.
 * image_config: the image config's "config" object (Entrypoint, Cmd, Env, WorkingDir, User), or NULL.
 * Returns a new config.json object, or NULL with err naming the field ("command: no command
 * specified", "securityContext.runAsNonRoot: image will run as root"). */
json_t *ocispec_build (const json_t *req, const json_t *image_config, const ocispec_opts_t *o, char *err, size_t errlen);

/* Resolves user (a name or "name:group", the image's User) to uid/gid with the rootfs's
 * /etc/passwd and /etc/group (read, never executed). 0 or -1 with err. */
int ocispec_resolve_user (const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid, char *err, size_t errlen);

#endif
