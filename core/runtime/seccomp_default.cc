// berth's default seccomp profile: see seccomp_profile.h for what it allows
// and why. Grouped by what the syscalls do; a name this kernel or arch does
// not know is skipped when the profile is compiled (seccomp.cc), so the
// lists name the 32-bit and time64 variants too.
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include "core/runtime/seccomp_profile.h"

namespace berth::runtime {

namespace {

// Files, descriptors and file-system metadata.
const char* const kFiles[] = {
    "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fchdir", "fchmod",
    "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "flock", "fstat", "fstat64",
    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents",
    "getdents64", "lchown", "lchown32", "link", "linkat", "_llseek", "lseek", "lstat", "lstat64", "mkdir",
    "mkdirat", "mknod", "mknodat", "name_to_handle_at", "newfstatat", "open", "openat", "openat2", "pread64",
    "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "rename", "renameat", "renameat2", "rmdir", "sendfile", "sendfile64", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate",
    "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vmsplice",
    "write", "writev", "ioctl",
    // extended attributes
    "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr", "lgetxattr", "listxattr", "llistxattr",
    "lremovexattr", "lsetxattr", "removexattr", "setxattr",
    // readiness and event fds
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "fanotify_mark", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64", "select", "_newselect",
    "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "pipe", "pipe2",
    // the older asynchronous I/O (not io_uring: see the header)
    "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
    "ioprio_get", "ioprio_set",
};

// Processes, credentials, limits.
const char* const kProcesses[] = {
    "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "vfork", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getpgid", "getpgrp", "getpid",
    "getppid", "getpriority", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "ugetrlimit",
    "getrusage", "getsid", "gettid", "getuid", "getuid32", "kill", "tkill", "tgkill", "pidfd_open",
    "pidfd_send_signal", "prctl", "prlimit64", "process_mrelease", "setfsgid", "setfsgid32", "setfsuid",
    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setpgid", "setpriority", "setregid",
    "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "setsid", "setuid", "setuid32", "set_tid_address", "get_robust_list", "set_robust_list", "get_thread_area",
    "set_thread_area", "rseq", "wait4", "waitid", "waitpid", "restart_syscall", "seccomp", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "times", "uname", "sysinfo", "getcpu", "getrandom",
    "membarrier",
    // scheduling
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
};

// Memory, signals, time, futexes.
const char* const kMemorySignalsTime[] = {
    "brk", "madvise", "memfd_create", "memfd_secret", "mincore", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "remap_file_pages",
    "alarm", "getitimer", "setitimer", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo", "sigaltstack", "sigprocmask", "sigreturn",
    "adjtimex", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "gettimeofday", "nanosleep", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64",
    "futex", "futex_time64", "futex_waitv",
};

// Sockets (socket(2) itself is below, with its AF_VSOCK exception) and IPC
// (the container has its own IPC namespace).
const char* const kSocketsIpc[] = {
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recv",
    "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send", "sendmmsg", "sendmsg", "sendto", "setsockopt",
    "shutdown", "socketcall", "socketpair",
    "ipc", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop",
    "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
};

// What CAP_SYS_ADMIN governs: mounts (old and new API), namespaces, host
// names, quotas, the kernel's tracing and BPF interfaces.
const char* const kSysAdmin[] = {
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
    "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
    "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
};

// Every namespace flag of clone(2): without CAP_SYS_ADMIN, clone is allowed
// only when none is set.
constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                     CLONE_NEWPID | CLONE_NEWNET;

uint64_t cap(int c) { return uint64_t(1) << c; }

SeccompRule allow(std::vector<std::string> names) {
  SeccompRule r;
  r.names = std::move(names);
  return r;
}

template <size_t N>
SeccompRule allow(const char* const (&names)[N]) {
  return allow(std::vector<std::string>(names, names + N));
}

SeccompRule allow_with_cap(std::vector<std::string> names, int c) {
  SeccompRule r = allow(std::move(names));
  r.includes.caps = cap(c);
  return r;
}

SeccompRule allow_on(std::vector<std::string> names, std::vector<std::string> arches) {
  SeccompRule r = allow(std::move(names));
  r.includes.arches = std::move(arches);
  return r;
}

SeccompRule allow_if_arg(const char* name, unsigned index, SeccompOp op, uint64_t value, uint64_t value_two = 0) {
  SeccompRule r = allow({name});
  r.args.push_back({.index = index, .value = value, .value_two = value_two, .op = op});
  return r;
}

void add_conditional_rules(SeccompProfile& p) {
  auto& s = p.syscalls;
  // Safe without a capability since Linux 4.8 (ptrace could bypass seccomp before).
  SeccompRule trace = allow({"process_vm_readv", "process_vm_writev", "ptrace"});
  trace.includes.min_kernel_major = 4;
  trace.includes.min_kernel_minor = 8;
  s.push_back(trace);
  s.push_back(allow_if_arg("socket", 0, SeccompOp::kNotEqual, AF_VSOCK));
  // personality(2): only the execution domains Docker allows; no flag such
  // as ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC. 0xffffffff queries.
  for (uint64_t v : {uint64_t(PER_LINUX), uint64_t(UNAME26), uint64_t(PER_LINUX32), uint64_t(PER_LINUX32) | uint64_t(UNAME26),
                     uint64_t(0xffffffff)})
    s.push_back(allow_if_arg("personality", 0, SeccompOp::kEqual, v));
  s.push_back(allow_on({"sync_file_range2", "swapcontext"}, {"ppc64le"}));
  s.push_back(allow_on({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
                        "set_tls"},
                       {"arm", "arm64"}));
  s.push_back(allow_on({"arch_prctl"}, {"amd64", "x32"}));
  s.push_back(allow_on({"modify_ldt"}, {"amd64", "x32", "x86"}));
  s.push_back(allow_on({"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}, {"s390", "s390x"}));
  s.push_back(allow_on({"riscv_flush_icache"}, {"riscv64"}));
}

void add_capability_rules(SeccompProfile& p) {
  auto& s = p.syscalls;
  s.push_back(allow_with_cap({"open_by_handle_at"}, CAP_DAC_READ_SEARCH));
  SeccompRule admin = allow(kSysAdmin);
  admin.includes.caps = cap(CAP_SYS_ADMIN);
  s.push_back(admin);
  // Without CAP_SYS_ADMIN: clone without namespace flags (s390 swaps the
  // first two arguments), and clone3 as if the kernel lacked it.
  SeccompRule clone = allow_if_arg("clone", 0, SeccompOp::kMaskedEqual, kNamespaceFlags, 0);
  clone.excludes.caps = cap(CAP_SYS_ADMIN);
  clone.excludes.arches = {"s390", "s390x"};
  s.push_back(clone);
  SeccompRule clone_s390 = allow_if_arg("clone", 1, SeccompOp::kMaskedEqual, kNamespaceFlags, 0);
  clone_s390.includes.arches = {"s390", "s390x"};
  clone_s390.excludes.caps = cap(CAP_SYS_ADMIN);
  s.push_back(clone_s390);
  SeccompRule clone3;
  clone3.names = {"clone3"};
  clone3.action = SeccompAction::kErrno;
  clone3.errno_ret = ENOSYS;
  clone3.excludes.caps = cap(CAP_SYS_ADMIN);
  s.push_back(clone3);
  s.push_back(allow_with_cap({"reboot"}, CAP_SYS_BOOT));
  s.push_back(allow_with_cap({"chroot"}, CAP_SYS_CHROOT));
  s.push_back(allow_with_cap({"delete_module", "init_module", "finit_module"}, CAP_SYS_MODULE));
  s.push_back(allow_with_cap({"acct"}, CAP_SYS_PACCT));
  s.push_back(allow_with_cap({"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
                              "ptrace"},
                             CAP_SYS_PTRACE));
  s.push_back(allow_with_cap({"iopl", "ioperm"}, CAP_SYS_RAWIO));
  s.push_back(allow_with_cap({"settimeofday", "stime", "clock_settime", "clock_settime64"}, CAP_SYS_TIME));
  s.push_back(allow_with_cap({"vhangup"}, CAP_SYS_TTY_CONFIG));
  s.push_back(allow_with_cap({"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, CAP_SYS_NICE));
  s.push_back(allow_with_cap({"syslog"}, CAP_SYSLOG));
  s.push_back(allow_with_cap({"bpf"}, CAP_BPF));
  s.push_back(allow_with_cap({"perf_event_open"}, CAP_PERFMON));
}

std::shared_ptr<const SeccompProfile> build_default() {
  auto p = std::make_shared<SeccompProfile>();
  p->default_action = SeccompAction::kErrno;
  p->default_errno = EPERM;
  p->syscalls.push_back(allow(kFiles));
  p->syscalls.push_back(allow(kProcesses));
  p->syscalls.push_back(allow(kMemorySignalsTime));
  p->syscalls.push_back(allow(kSocketsIpc));
  add_conditional_rules(*p);
  add_capability_rules(*p);
  return p;
}

}  // namespace

const std::shared_ptr<const SeccompProfile>& default_seccomp_profile() {
  static const std::shared_ptr<const SeccompProfile> p = build_default();
  return p;
}

const char* native_arch_name() {
#if defined(__x86_64__) && defined(__ILP32__)
  return "x32";
#elif defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "x86";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "unknown";
#endif
}

}  // namespace berth::runtime
