/* cgroup — see cgroup.h: the few file operations on a cgroup mount (detection, removal, OOM
 * record). */
#include "runtime-shims/oci/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cgroup_version_t
cgroup_detect (const char *mount_root)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/cgroup.controllers", mount_root);
    return access (path, F_OK) == 0 ? CGROUP_V2 : CGROUP_V1;
}

/* A cgroup path relative to a controller root: absolute, no "..", not the root itself. */
static int
path_ok (const char *p)
{
    if (!p || p[0] != '/')
        return 0;
    const char *s = p;
    while (*s == '/')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0))
            return 0;
    }
    return 1;
}

/* Removes dir (relative to parent fd) and the directories below it, deepest first, never
 * following a symlink. 0 (also when it does not exist), or -1 when one could not go (busy). */
static int
rmdir_tree (int parent, const char *name, int depth)
{
    if (depth > 64)
        return -1;
    int fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *d = fdopendir (fd);
    if (!d) {
        close (fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
            continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat (fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
        }
        if (is_dir && rmdir_tree (fd, e->d_name, depth + 1) < 0)
            rc = -1;
    }
    closedir (d);
    if (unlinkat (parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

/* Removes mount_root/<sub>/<pod_path> (sub "" for v2). */
static int
remove_under (const char *mount_root, const char *sub, const char *pod_path)
{
    char base[4096];
    const char *slash = strrchr (pod_path, '/');
    snprintf (base, sizeof base, "%s%s%s%.*s", mount_root, *sub ? "/" : "", sub, (int) (slash - pod_path), pod_path);
    int dfd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    int rc = rmdir_tree (dfd, slash + 1, 0);
    close (dfd);
    return rc;
}

int
cgroup_remove_pod (const char *mount_root, cgroup_version_t v, const char *pod_path)
{
    char path[4096];
    snprintf (path, sizeof path, "%s", pod_path ? pod_path : "");
    size_t n = strlen (path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = 0;
    if (!path_ok (path))
        return -1;
    if (v == CGROUP_V2)
        return remove_under (mount_root, "", path);
    /* v1: every controller hierarchy mounted under the root (cpu, memory, pids, …; symlinks such
     * as cpu → cpu,cpuacct are skipped: their target is visited under its own name) */
    DIR *d = opendir (mount_root);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        char sub[4096];
        snprintf (sub, sizeof sub, "%s/%s", mount_root, e->d_name);
        if (lstat (sub, &st) < 0 || !S_ISDIR (st.st_mode))
            continue;
        if (remove_under (mount_root, e->d_name, path) < 0)
            rc = -1;
    }
    closedir (d);
    return rc;
}

/* The value of "key N" in a flat-keyed cgroup file: 1 found, 0 not (or no file). */
static int
read_key (const char *file, const char *key, long long *out)
{
    FILE *f = fopen (file, "re");
    if (!f)
        return 0;
    char line[256];
    size_t klen = strlen (key);
    int found = 0;
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, key, klen) == 0 && line[klen] == ' ') {
            *out = strtoll (line + klen + 1, NULL, 10);
            found = 1;
            break;
        }
    }
    fclose (f);
    return found;
}

int
cgroup_oom_killed (const char *mount_root, cgroup_version_t v, const char *container_path)
{
    if (!path_ok (container_path))
        return 0;
    char file[4096];
    long long n = 0;
    if (v == CGROUP_V2) {
        snprintf (file, sizeof file, "%s%s/memory.events", mount_root, container_path);
        return read_key (file, "oom_kill", &n) && n > 0;
    }
    snprintf (file, sizeof file, "%s/memory%s/memory.oom_control", mount_root, container_path);
    if (read_key (file, "oom_kill", &n)) /* Linux 4.13 and later count the kills */
        return n > 0;
    /* older kernels: the limit was hit (a kill is then the likely end of a process that stopped) */
    snprintf (file, sizeof file, "%s/memory%s/memory.failcnt", mount_root, container_path);
    FILE *f = fopen (file, "re");
    if (!f)
        return 0;
    if (fscanf (f, "%lld", &n) != 1)
        n = 0;
    fclose (f);
    return n > 0;
}
