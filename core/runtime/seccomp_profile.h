// A seccomp profile as plain data, in the shape of Docker's JSON profiles
// (defaultAction, syscalls[{names, action, errnoRet, args, includes,
// excludes}], architectures / archMap), and berth's default profile.
//
// The default profile (seccomp_default.cc) is an allowlist equivalent to
// moby's profiles/seccomp/default.json, written as berth's own data: every
// syscall not listed fails with EPERM; the syscalls that act on the whole
// host are allowed only with the capability that governs them
// (CAP_SYS_ADMIN: mount, umount2, unshare, setns, clone namespace flags,
// the new mount API, bpf, perf_event_open...; CAP_SYS_PTRACE: ptrace,
// process_vm_*, kcmp; CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_TIME...).
// Never allowed: keyctl, add_key, request_key (the kernel keyring is not
// namespaced), io_uring_* (its operations bypass this filter), kexec_*,
// userfaultfd, personality with flags other than Docker's safe values
// (ADDR_NO_RANDOMIZE and friends), socket(AF_VSOCK). clone3 fails with
// ENOSYS without CAP_SYS_ADMIN (a BPF filter cannot read its flags, which
// are behind a pointer), so glibc falls back to clone, whose flags it can.
//
// A profile from the user (Spec::Security::seccomp_profile) is parsed
// outside core/runtime (core/engine/seccomp_json.h) into this struct.
//
// compile_seccomp() (seccomp.h) turns a profile and a capability set into
// a BPF program. Plain values; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace berth::runtime {

// SCMP_ACT_* of Docker's profiles.
enum class SeccompAction { kAllow, kErrno, kKillThread, kKillProcess, kTrap, kLog };

// SCMP_CMP_* of Docker's profiles.
enum class SeccompOp { kNotEqual, kLess, kLessEqual, kEqual, kGreaterEqual, kGreater, kMaskedEqual };

struct SeccompArg {
  unsigned index = 0;       // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;   // kMaskedEqual: the value compared after masking with `value`
  SeccompOp op = SeccompOp::kEqual;
  bool operator==(const SeccompArg&) const = default;
};

// A rule applies only when its includes hold and its excludes do not
// (moby's semantics): includes.caps all in the container's capability set,
// includes.arches containing the host's arch name ("amd64", "arm64"...),
// the kernel at least includes.min_kernel; excludes.caps: any one present
// skips the rule, and likewise for arches and min_kernel.
struct SeccompFilterCondition {
  uint64_t caps = 0;                 // capability bits
  std::vector<std::string> arches;   // Go's names, as in Docker's profiles
  int min_kernel_major = 0, min_kernel_minor = 0;   // 0.0: no condition
  bool operator==(const SeccompFilterCondition&) const = default;
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::kAllow;
  int errno_ret = -1;                // kErrno: -1 means EPERM
  std::vector<SeccompArg> args;      // all must match (several on one index: any, as runc)
  SeccompFilterCondition includes, excludes;
  bool operator==(const SeccompRule&) const = default;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::kErrno;
  int default_errno = -1;            // -1 means EPERM
  // libseccomp names ("SCMP_ARCH_X86_64"); empty: the native arch and its
  // 32-bit companions (x86_64: x86, and x32 where the kernel has that ABI;
  // aarch64: arm).
  std::vector<std::string> architectures;
  std::vector<SeccompRule> syscalls;
  bool operator==(const SeccompProfile&) const = default;
};

// berth's default profile (built once; shared, never modified).
const std::shared_ptr<const SeccompProfile>& default_seccomp_profile();

// The host's architecture in the names Docker's profiles use ("amd64").
const char* native_arch_name();

}  // namespace berth::runtime
