/* seccomp — the RuntimeDefault seccomp profile of ocispec.h, as a static table.
 *
 * An allow list: every syscall not named here fails with EPERM (defaultAction SCMP_ACT_ERRNO,
 * defaultErrnoRet 1). The list is the one Docker and containerd allow by default (their
 * "default" profile), kept in step with their later additions; runc ignores names its
 * libseccomp does not know, so listing a syscall newer than the host's libseccomp is harmless.
 *
 * Rules that depend on the container:
 * - syscalls that only make sense with a capability (mount/unshare/setns with CAP_SYS_ADMIN,
 *   ptrace helpers with CAP_SYS_PTRACE, ...) are allowed only when that capability is in the
 *   bounding set, as in Docker's profile;
 * - without CAP_SYS_ADMIN, clone is allowed only when its flags ask for no new namespace
 *   (CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP masked to 0), and clone3 (whose
 *   flags live in a struct seccomp cannot read) answers ENOSYS so that glibc falls back to clone;
 * - personality only for the harmless personas (PER_LINUX, PER_LINUX32, UNAME26 and the query).
 */
#include "runtime-shims/oci/ocispec.h"

#include <string.h>

#define SCMP_EPERM 1
#define SCMP_ENOSYS 38

static const char *const allow_always[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
    "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2",
    "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
    "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
    "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir",
    "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
    "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue",
    "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
    "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
    "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
    "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
    "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr",
    "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
    "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
    "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect", "open",
    "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "poll", "ppoll",
    "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
    "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
    "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
    "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
    "sigreturn", "socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64",
    "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
    "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit",
    "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
    "vmsplice", "wait4", "waitid", "waitpid", "write", "writev", NULL,
};

/* Per machine: the architectures a process of this machine may call in, and their own calls. */
#if defined(__x86_64__)
static const char *const arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL};
static const char *const allow_arch[] = {"arch_prctl", "modify_ldt", NULL};
#elif defined(__aarch64__)
static const char *const arches[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};
static const char *const allow_arch[] = {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                                         "breakpoint", "cacheflush", "set_tls", NULL};
#else
#error "the RuntimeDefault seccomp profile is written for x86_64 and aarch64"
#endif

/* Allowed only when the capability is in the bounding set. */
static const struct {
    const char *cap;
    const char *const names[26];
} allow_with_cap[] = {
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at", NULL}},
    {"CAP_SYS_ADMIN",
     {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
      "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
      "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
      "umount", "umount2", "unshare", NULL}},
    {"CAP_SYS_BOOT", {"reboot", NULL}},
    {"CAP_SYS_CHROOT", {"chroot", NULL}},
    {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module", NULL}},
    {"CAP_SYS_PACCT", {"acct", NULL}},
    {"CAP_SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", NULL}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm", NULL}},
    {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64", NULL}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup", NULL}},
    {"CAP_SYSLOG", {"syslog", NULL}},
    {"CAP_BPF", {"bpf", NULL}},
    {"CAP_PERFMON", {"perf_event_open", NULL}},
};

/* personality(2) personas a container may switch to: PER_LINUX, PER_LINUX32, UNAME26,
 * PER_LINUX32|UNAME26, and 0xffffffff (query the current one). */
static const json_int_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
 * CLONE_NEWCGROUP, spelled out so the table does not depend on the build machine's headers. */
#define CLONE_NS_FLAGS 0x7E020000LL

static json_t *
names_of (const char *const *names)
{
    json_t *a = json_array ();
    for (; *names; names++)
        json_array_append_new (a, json_string (*names));
    return a;
}

static json_t *
rule (json_t *names, const char *action)
{
    return json_pack ("{s:o, s:s}", "names", names, "action", action);
}

static int
has_cap (const json_t *bounding, const char *cap)
{
    size_t i;
    json_t *v;
    json_array_foreach (bounding, i, v) {
        if (json_is_string (v) && strcmp (json_string_value (v), cap) == 0)
            return 1;
    }
    return 0;
}

json_t *
ocispec_seccomp_default (const json_t *bounding)
{
    json_t *rules = json_array ();
    json_array_append_new (rules, rule (names_of (allow_always), "SCMP_ACT_ALLOW"));
    json_array_append_new (rules, rule (names_of (allow_arch), "SCMP_ACT_ALLOW"));
    for (size_t i = 0; i < sizeof personas / sizeof personas[0]; i++) {
        json_t *r = rule (json_pack ("[s]", "personality"), "SCMP_ACT_ALLOW");
        json_object_set_new (r, "args",
                             json_pack ("[{s:i, s:I, s:s}]", "index", 0, "value", personas[i], "op", "SCMP_CMP_EQ"));
        json_array_append_new (rules, r);
    }
    for (size_t i = 0; i < sizeof allow_with_cap / sizeof allow_with_cap[0]; i++) {
        if (has_cap (bounding, allow_with_cap[i].cap))
            json_array_append_new (rules, rule (names_of (allow_with_cap[i].names), "SCMP_ACT_ALLOW"));
    }
    if (!has_cap (bounding, "CAP_SYS_ADMIN")) {
        /* flags are clone's first argument on x86_64, x86, x32, aarch64 and arm alike */
        json_t *r = rule (json_pack ("[s]", "clone"), "SCMP_ACT_ALLOW");
        json_object_set_new (r, "args",
                             json_pack ("[{s:i, s:I, s:i, s:s}]", "index", 0, "value", (json_int_t) CLONE_NS_FLAGS,
                                        "valueTwo", 0, "op", "SCMP_CMP_MASKED_EQ"));
        json_array_append_new (rules, r);
        r = rule (json_pack ("[s]", "clone3"), "SCMP_ACT_ERRNO");
        json_object_set_new (r, "errnoRet", json_integer (SCMP_ENOSYS));
        json_array_append_new (rules, r);
    }
    return json_pack ("{s:s, s:i, s:o, s:o}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", SCMP_EPERM,
                      "architectures", names_of (arches), "syscalls", rules);
}
