// Compiling a seccomp profile (seccomp_profile.h) for one container into a
// classic BPF program, in the parent, with libseccomp; the post-clone child
// only loads the finished instructions (prctl(PR_SET_SECCOMP) of a buffer
// the parent prepared: no allocation, async-signal-safe).
//
// A profile's rules depend on the container's capability set (includes /
// excludes caps), the host's arch and kernel version, so one program is
// made per (profile, capabilities). Compiled programs are cached (a small
// bounded cache, most recently used kept), so a start with a profile and
// capabilities seen before costs a lookup, not a libseccomp compile
// (about a millisecond here).
//
// Thread safety: compile_seccomp() may be called from any thread (the cache
// has its own lock; the lock is never held by a post-clone child, which
// does not call it). Programs are immutable once made.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/base/result.h"
#include "core/runtime/seccomp_profile.h"

namespace berth::runtime {

struct SeccompProgram {
  std::vector<sock_filter> filter;   // at most BPF_MAXINSNS instructions
};

// The BPF program for `profile` with capability set `caps`. Errors
// (kInvalidArgument) name what libseccomp refused: an unknown
// architecture, a bad argument index, a program too large.
Result<std::shared_ptr<const SeccompProgram>> compile_seccomp(const std::shared_ptr<const SeccompProfile>& profile,
                                                              uint64_t caps);

// How many compiles the cache saved and did (tests, benchmarks).
struct SeccompCacheStats {
  uint64_t hits = 0, compiles = 0;
};
SeccompCacheStats seccomp_cache_stats();

// The running kernel's version, "6.1.0-13-amd64" -> {6, 1}; read once.
std::pair<int, int> kernel_version();

// Whether `rule` applies to a container with `caps` on this host (arch,
// kernel): moby's includes/excludes semantics (seccomp_profile.h).
bool seccomp_rule_applies(const SeccompRule& rule, uint64_t caps);

}  // namespace berth::runtime
