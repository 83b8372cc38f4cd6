// The cgroup v2 devices "controller": a BPF_PROG_TYPE_CGROUP_DEVICE program
// (Linux 4.15) attached to the container's cgroup with BPF_CGROUP_DEVICE.
// The kernel runs it on every open and mknod of a device node by a process
// in the cgroup, with a struct bpf_cgroup_dev_ctx {access_type, major,
// minor} (access_type = access << 16 | type; <linux/bpf.h>), and denies
// the access (EPERM) when it returns 0.
//
// The program is generated here instruction by instruction (no compiler,
// no libbpf): load the three fields, then one block per allow rule that
// jumps to the next block on any mismatch and returns 1 at its end; after
// the last block, return 0. A rule with type 'a' skips the type check, a
// "*" number skips that number's check, and the access check tests that no
// requested bit is outside the rule's (access & ~allowed == 0).
//
// device_program() is pure (unit-tested by running the instructions);
// load/attach are syscalls (bpf(2), as root). Any thread.
#pragma once

#include <linux/bpf.h>

#include <vector>

#include "cgroups/devices.h"
#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::cgroups {

// The instructions for `rules` (allow rules after an implicit deny-all).
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules);

// BPF_PROG_LOAD of `insns` as a cgroup device program. On a verifier
// refusal the message carries the verifier's log.
Result<unique_fd> load_device_program(const std::vector<bpf_insn>& insns);

// BPF_PROG_ATTACH of `prog` to the cgroup directory fd `cgroup` with
// BPF_CGROUP_DEVICE (BPF_F_ALLOW_MULTI, so a later program can replace it
// without a window where none is attached). The attachment holds the
// program: `prog` may be closed afterwards.
Result<void> attach_device_program(int cgroup, int prog);

// Detaches every device program but `keep` from `cgroup` (after attaching
// a replacement).
Result<void> detach_other_device_programs(int cgroup, int keep);

}  // namespace berth::cgroups
