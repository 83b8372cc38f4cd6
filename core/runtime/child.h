// The post-clone child of spawn(): runs between clone3 and execve in the new
// namespaces. Internal to core/runtime.
//
// Everything here is async-signal-safe (DESIGN.md, Spawn): no allocation, no
// fmt or logging, no exceptions, no std::string construction, no glibc
// function that takes a lock or knows about other threads. In particular the
// set*id calls are raw syscalls: glibc's setuid() in a process that ever had
// threads broadcasts to every thread of the parent (SIGSETXID) and would wait
// forever for threads that do not exist in the child. The child reads only
// what prepare() laid out (ChildArgs) and writes only the buffers it names.
// Errors go out as one ChildError on the error pipe followed by _exit(127).
#pragma once

#include <cstddef>

#include "core/runtime/mount_plan.h"
#include "core/runtime/prepare.h"

namespace berth::runtime {

// Never returns: execs the container command or _exits. Takes a copy so the
// child can renumber its fds.
[[noreturn]] void child_main(ChildArgs a);

// Sets IFF_UP on `lo` in the caller's network namespace (SIOCSIFFLAGS on a
// throwaway socket). Returns 0 or an errno. Also used by create_netns().
int loopback_up();

// The mount-plan executor. Returns 0, or an errno with *failed_step set to the
// index of the step that failed. With `proc_sys_fd`, a plan that mounted
// /proc leaves an O_PATH fd of its sys directory there (O_CLOEXEC; -1 if
// none), below the read-only bind the plan puts over /proc/sys, for
// writes the container cannot redirect (sysctls, after release).
// `overlay_fd` (Spec::userns) and `sysfs_netns` (steps with template_netns)
// are used by the steps and closed.
int run_mount_plan(const MountPlan& plan, size_t* failed_step, int* proc_sys_fd = nullptr, int overlay_fd = -1,
                   int sysfs_netns = -1);

// mkdir -p of a path inside the container, after pivot_root (kMakeDir's
// executor; a deferred child runs it after release). 0 or an errno.
int make_working_dir(const char* path);

}  // namespace berth::runtime
