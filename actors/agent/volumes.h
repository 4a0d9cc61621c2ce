/* volumes — a pod's volumes as the kubelet sets them up: a pure planner (pod + what the agent read
 * → each volume's host directory and, for configMap/secret/downwardAPI/projected, the files it
 * holds) and the edge that makes them (directories, tmpfs mounts, files written atomically) and
 * removes them with the pod.
 *
 * Layout (the kubelet's): DATA/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>, plugin one of
 * empty-dir, configmap, secret, downward-api, projected. hostPath volumes are the host's path.
 *
 * Rules:
 * - emptyDir: a directory (mode 0777); medium Memory: a tmpfs mounted there, size = sizeLimit or
 *   the node's allocatable memory. sizeLimit on disk is measured (volumes_usage) by the agent.
 * - hostPath: type "" (no check), DirectoryOrCreate (made 0755), Directory, FileOrCreate (an
 *   empty file 0644; its parent must exist), File, Socket, CharDevice, BlockDevice: a failed
 *   check is `hostPath type check failed: <path> is not a directory` (…) — CreateContainerConfigError.
 * - configMap, secret: every key (ConfigMap data and binaryData), or the items' {key, path, mode};
 *   mode = item mode, else defaultMode, else 0644. A missing object is `configmap "x" not found`
 *   unless optional (then an empty volume); an item whose key is missing is `configmap references
 *   non-existent config key: k` unless optional. Secret volumes live on a tmpfs (never on disk).
 * - downwardAPI: items {path, fieldRef | resourceFieldRef, mode} (podenv_field, podenv_resource).
 * - projected: sources configMap, secret, downwardAPI in one directory (defaultMode for all);
 *   serviceAccountToken is refused ("no ServiceAccount tokens").
 * - paths of items are relative, without ".." components; configMap/secret/downwardAPI/projected
 *   volumes are mounted read-only, whatever the volumeMount says (as the kubelet since 1.10).
 * - volumeMounts: the named volume must exist; subPath is a relative path without ".."
 *   (subPathExpr expands $(VAR) from the container's env first), resolved on the host inside the
 *   volume (a symlink pointing out of it is refused) and made as a directory when absent, then
 *   bind-mounted from an fd opened without following symlinks (volumes_subpath_open);
 *   mountPropagation None only.
 * - securityContext.fsGroup (the kubelet's SetVolumeOwnership, for emptyDir, configMap, secret,
 *   downwardAPI and projected, never hostPath): every file and directory gets group fsGroup
 *   (lchown), files group rw (read-only volumes: group r, so a file's planned mode is ORed with
 *   0440), directories also g+x and setgid (new files inherit the group); symlinks are not
 *   chmodded. An emptyDir is owned once, when made; a files volume's files each time they are
 *   written, before they become visible (the new generation, before the ..data swap).
 *   fsGroupChangePolicy changes nothing for these volume kinds (as in Kubernetes: it applies to
 *   persistent volumes only).
 * - files are written as the kubelet's AtomicWriter: a new directory "..<timestamp>", the symlink
 *   "..data" swapped to it with rename(2), one symlink per top-level path "key -> ..data/key",
 *   then the old directory removed: a reader sees the old set or the new one, never a mix.
 */
#ifndef TROUPE_VOLUMES_H
#define TROUPE_VOLUMES_H

#include "actors/agent/podenv.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Adds to set the "Kind/ns/name" of every ConfigMap and Secret the pod's volumes reference. */
void volumes_refs (const json_t *pod, json_t *set);

/* The pod's volumes: {name: {type: emptyDir|hostPath|files, path, tmpfs?: bytes (a tmpfs of that
 * size), medium?, sizeLimit? (bytes, emptyDir on disk), sizeLimitText? (the quantity as written),
 * fsGroup? (gid), hostPathType?, files?: {relpath: {data,
 * mode}}, readOnly?: true}}. pods_dir: DATA/pods. PODENV_OK with *out (new reference), or
 * PODENV_ERROR / PODENV_PENDING with err. */
int volumes_plan (const json_t *pod, const podenv_src_t *src, const char *pods_dir, json_t **out, char *err, size_t errlen);

/* Makes the planned volumes on the host (idempotent: directories made, tmpfs mounted once, files
 * rewritten only when they differ). 0, or -1 with err (a hostPath check, a mount or a write). */
int volumes_setup (const json_t *plan, char *err, size_t errlen);

/* A subPath is a relative path without ".." components: 0, or -1 with err. Pure. */
int volumes_subpath_ok (const char *sub, char *err, size_t errlen);

/* subPath sub inside directory vol, opened safely (the kubelet's fix for CVE-2017-1002101): the
 * longest existing prefix is resolved and must stay inside vol's real path; that resolved path is
 * then opened below vol with no symlink followed at all (openat2 RESOLVE_BENEATH|NO_SYMLINKS, or
 * O_NOFOLLOW one component at a time), and the absent rest is made as directories under that fd,
 * each opened O_NOFOLLOW. A symlink swapped in after the check cannot be followed: the open fails.
 * An O_PATH fd (the caller closes it), or -1 with err. */
int volumes_subpath_open (const char *vol, const char *sub, char *err, size_t errlen);

/* rel (no "..", no empty component) opened O_PATH below dirfd one component at a time, each
 * O_NOFOLLOW: a symlink anywhere → -1, errno ELOOP. The fallback of volumes_subpath_open on
 * kernels without openat2, public for its test. */
int volumes_open_nofollow (int dirfd, const char *rel);

/* The real path of volumes_subpath_open's fd. 0 with out, or -1 with err. */
int volumes_subpath_resolve (const char *vol, const char *sub, char *out, size_t outlen, char *err, size_t errlen);

/* The CreateContainer "mounts" of container spec: [{containerPath, hostPath, readonly,
 * propagation}]. env: the container's resolved env (for subPathExpr). A mount with a subPath:
 * volumes_subpath_open's fd is bind-mounted (/proc/self/fd/N) at
 * subpaths_dir/<volume>/<container>/<mount index> (the kubelet's volume-subpaths, unmounted by
 * volumes_teardown) and that is the hostPath: the runtime never re-resolves a path a container
 * could have changed. subpaths_dir NULL: the resolved real path instead (no mount; tests). A new
 * reference, or NULL with err. */
json_t *volumes_mounts (const json_t *spec, const json_t *plan, const json_t *env, const char *subpaths_dir, char *err,
                        size_t errlen);

/* Writes files ({relpath: {data, mode}}) into dir as the AtomicWriter (above). gid >= 0 (fsGroup):
 * the new generation owned as volumes_own (readonly: group r) before ..data is swapped to it, and
 * the new symlinks lchown'd — as the kubelet's AtomicWriter, a reader never meets the new files
 * before they are in the group. 1 when it wrote, 0 when dir already held exactly these files, -1
 * with err. */
int volumes_write_atomic (const char *dir, const json_t *files, long gid, int readonly, char *err, size_t errlen);

/* Tests only: called with the new generation's path just before ..data is swapped to it. */
extern void (*volumes_before_swap) (const char *gen);

/* The kubelet's SetVolumeOwnership over dir and all below it (same file system): group gid,
 * mode |= 0660 (0440 when readonly), directories also |= 02110; symlinks lchown'd only. 0, or -1
 * with err. */
int volumes_own (const char *dir, gid_t gid, int readonly, char *err, size_t errlen);

/* Bytes used under dir (blocks, as du), or -1. */
int64_t volumes_usage (const char *dir);

/* Removes pod_dir/volume-subpaths and pod_dir/volumes: unmounts what is mounted below them (mount
 * points read from /proc/self/mountinfo, its escapes decoded), then deletes them — volume-subpaths
 * never recursively (volumes_remove_subpaths), volumes only when nothing is mounted below it any
 * more, and not at all while a subPath bind could not be removed; pod_dir itself is removed when
 * nothing else is left in it. 0, or -1 (something could not be removed: the caller retries). */
int volumes_teardown (const char *pod_dir);

/* dir (a volume-subpaths) removed by its fixed layout <volume>/<container>/<index>, each entry with
 * rmdir/unlink alone: a bind still mounted at an index (a host path's contents) makes it fail
 * (EBUSY, ENOTEMPTY) instead of being emptied. 0 (also when dir is absent), or -1. Public for its
 * test. */
int volumes_remove_subpaths (const char *dir);

#endif
