/* cgroup — the oci runtime's file operations on a cgroup mount: v1 / v2 detection, removal of a
 * pod's cgroups, the OOM record. They take the mount root as an argument so tests use a fake
 * tree. What the cgroups hold (QoS class, paths, values) is decided in core/qos.h. */
#ifndef TROUPE_CGROUP_H
#define TROUPE_CGROUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CGROUP_V1 = 1, CGROUP_V2 = 2 } cgroup_version_t;
/* Looks at the mount root ("/sys/fs/cgroup"): v2 if cgroup.controllers is there (unified),
 * else v1 (hybrid machines count as v1: the controllers are on v1). */
cgroup_version_t cgroup_detect (const char *mount_root);

/* Removes the pod's cgroup directories (every v1 controller directory under mount_root, or the
 * v2 dir), deepest first, only when empty (rmdir), never following symlinks; missing ones are
 * fine. 0, or -1 when one still has processes (or pod_path is not absolute or holds ".."); the
 * others are removed all the same. */
int cgroup_remove_pod (const char *mount_root, cgroup_version_t v, const char *pod_path);

/* After a container ended, before its cgroup is removed: did its cgroup record an OOM kill?
 * v1 memory.oom_control "oom_kill N" (Linux 4.13+), else memory.failcnt > 0 (the limit was hit);
 * v2 memory.events "oom_kill N". 1 yes, 0 no or unknown (no file). Used when conmon's "oom" file
 * is absent. */
int cgroup_oom_killed (const char *mount_root, cgroup_version_t v, const char *container_path);

#endif
