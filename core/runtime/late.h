// The late part of a deferred spawn (Spec::deferred): what a container's
// init needs only once it is released, sent by release(p, spec) (spawn.h)
// over the sync socket and decoded by the child in place.
//
// Why: berthd starts inits ahead of any request (core/engine's warm inits):
// namespaces, cgroups and the whole mount plan made, the child blocked on the
// sync socket. Only the command, environment, working directory, user,
// hostname, terminal and stdio depend on the request; they travel here.
//
// Wire format (one machine, so native endianness and layout): a LateHeader,
// the seccomp program (seccomp_len sock_filter instructions, compiled by
// the parent for the final capabilities; 8-aligned after the header), then
// NUL-terminated strings: hostname, cwd, user name, group name (both ""
// when numeric), argv[argc], env[envc], exec candidates[execc]. The stdio
// fds that stdio_mask names ride as SCM_RIGHTS on the message's first bytes,
// in the order 0, 1, 2. The child lays argv, envp (with a HOME slot) and the
// exec candidates out as pointer arrays in the same buffer, after the
// message: kLateMax bounds both, and encode_late() refuses what would not
// fit, so the caller can fall back to a spawn with the full Spec.
//
// encode_late() and can_release_as(): parent, any thread. decode_late(): the
// post-clone child, async-signal-safe (child.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/base/result.h"
#include "core/runtime/prepare.h"
#include "core/runtime/spec.h"

namespace berth::runtime {

// Message plus pointer arrays. Well below a Unix socket's send buffer, so the
// parent's send never waits for the child.
constexpr size_t kLateMax = 64 << 10;

struct LateHeader {
  uint32_t magic;
  uint32_t size;            // of the whole message, header included
  uint32_t argc, envc, execc;
  int32_t mkdir_step;       // the final plan's kMakeDir index (error reports)
  uint64_t cap_keep;
  uint32_t uid, gid;        // the numeric parts of the user
  uint8_t has_group, path_lookup, tty, has_home, stdio_mask;
  int8_t nice;              // the releasing thread's: a warm init is made at a lower priority
  uint8_t no_new_privs;
  uint8_t signals_blocked;
  uint16_t tty_rows, tty_cols;
  uint32_t seccomp_len;     // instructions after the header; 0: unconfined
};
static_assert(sizeof(LateHeader) % 8 == 0, "the seccomp program follows the header, aligned");

constexpr uint32_t kLateMagic = 0x6c617465;  // "late"

// The message for `spec` (validated as spawn() validates); kInvalidArgument
// when it is bad or larger than kLateMax allows.
Result<std::string> encode_late(const Spec& spec);

// Decodes the `len` bytes at `buf` (kLateMax bytes of room, 8-aligned) into
// `a`'s command, env, cwd, user, hostname, caps, no_new_privs, seccomp, tty
// and stdio (`fds`, `nfds`: received in order). Returns 0, or EPROTO for a malformed message, E2BIG
// when the arrays do not fit.
int decode_late(char* buf, size_t len, const int* fds, size_t nfds, ChildArgs* a);

// Whether an init spawned deferred from `warm` can be released as `final`:
// both containers' inits, both in a network namespace of their own or both
// in the host's, with the same mount plan up to the working directory
// (which the child makes after release), security whose set-up part is the
// default in both (can_release_security(), security.h) and a late part
// that fits. The fds
// (netns_fd, cgroup_fd) are not compared: the warm init is in its namespace
// and cgroup already, and the caller chose them alike.
bool can_release_as(const Spec& warm, const Spec& final);

}  // namespace berth::runtime
