// v2 freezer (cgroup.freeze, Linux 5.2) and cgroup.kill (Linux 5.14).
// Kernel: Documentation/admin-guide/cgroup-v2.rst, "Core Interface Files".
//
// Writing 1 to cgroup.freeze starts a freeze; the cgroup is frozen once
// cgroup.events says "frozen 1" (it can take a while for tasks in
// uninterruptible sleep).
#include <string>

#include "cgroups/control.h"
#include "cgroups/v2_cgroup.h"

namespace berth::cgroups {

Result<void> V2Cgroup::freeze() {
  if (!has_control(dir_, "cgroup.freeze")) {
    return Error::make(Code::kNotSupported, "freeze cgroup {}: no cgroup.freeze (Linux 5.2 or later needed)", path_);
  }
  BERTH_TRY_VOID(write_control(dir_, "cgroup.freeze", "1"));
  bool done = BERTH_TRY(poll_until(opts_.freeze_timeout_ms, [&]() { return frozen(); }));
  if (done) return ok();
  (void)write_control(dir_, "cgroup.freeze", "0");  // never leave it half frozen
  return Error::make(Code::kSystem, "freeze cgroup {}: not frozen after {} ms; thawed it again", path_,
                     opts_.freeze_timeout_ms);
}

Result<void> V2Cgroup::thaw() {
  if (!has_control(dir_, "cgroup.freeze")) {
    return Error::make(Code::kNotSupported, "thaw cgroup {}: no cgroup.freeze (Linux 5.2 or later needed)", path_);
  }
  return write_control(dir_, "cgroup.freeze", "0");
}

Result<bool> V2Cgroup::frozen() {
  std::optional<std::string> events = BERTH_TRY(read_control_if_exists(dir_, "cgroup.events"));
  return events && keyed_value(*events, "frozen").value_or(0) == 1;
}

// cgroup.kill SIGKILLs every process in the subtree atomically with respect
// to forks. Before 5.14: freeze (frozen tasks cannot fork), kill, thaw.
Result<void> V2Cgroup::kill_all() {
  if (has_control(dir_, "cgroup.kill")) return write_control(dir_, "cgroup.kill", "1");
  // No freezer, or a freeze that timed out (and was undone): signal anyway.
  if (!has_control(dir_, "cgroup.freeze") || !freeze()) return kill_in_rounds(dir_);
  auto pids = read_procs(dir_);
  Result<void> killed = pids ? kill_each(*pids) : Result<void>(pids.error());
  Result<void> thawed = thaw();
  if (!killed) return std::move(killed.error()).context("kill all in cgroup {}", path_);
  return thawed;
}

}  // namespace berth::cgroups
