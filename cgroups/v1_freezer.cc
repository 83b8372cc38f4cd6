// v1 freezer controller, and kill_all() built on it.
// Kernel: Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst.
//
// Writing FROZEN starts a freeze; freezer.state reads FREEZING until every
// task is frozen. A task forking (or joining) meanwhile can leave it stuck in
// FREEZING, and writing FROZEN again retries, so the wait loop rewrites it.
#include <string>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"

namespace berth::cgroups {
namespace {

constexpr std::string_view kState = "freezer.state";

}  // namespace

Result<void> V1Cgroup::freeze() {
  const std::string* dir = dir_of("freezer");
  if (!dir) return Error::make(Code::kNotSupported, "freeze cgroup {}: the freezer controller is not mounted", path_);
  BERTH_TRY_VOID(write_control(*dir, kState, "FROZEN"));
  std::string state;
  bool done = BERTH_TRY(poll_until(opts_.freeze_timeout_ms, [&]() -> Result<bool> {
    state = std::string(trim(BERTH_TRY(read_control(*dir, kState))));
    if (state == "FROZEN") return true;
    BERTH_TRY_VOID(write_control(*dir, kState, "FROZEN"));
    return false;
  }));
  if (done) return ok();
  (void)write_control(*dir, kState, "THAWED");  // never leave it half frozen
  return Error::make(Code::kSystem, "freeze cgroup {}: still {} after {} ms; thawed it again", path_, state,
                     opts_.freeze_timeout_ms);
}

Result<void> V1Cgroup::thaw() {
  const std::string* dir = dir_of("freezer");
  if (!dir) return Error::make(Code::kNotSupported, "thaw cgroup {}: the freezer controller is not mounted", path_);
  return write_control(*dir, kState, "THAWED");
}

Result<bool> V1Cgroup::frozen() {
  const std::string* dir = dir_of("freezer");
  if (!dir) return false;
  return trim(BERTH_TRY(read_control(*dir, kState))) == "FROZEN";
}

// Frozen tasks cannot fork, so one read of cgroup.procs sees them all; they
// act on SIGKILL once thawed.
Result<void> V1Cgroup::kill_all() {
  const std::string* dir = dir_of("freezer");
  if (dir && freeze()) {
    auto pids = read_procs(*dir);
    Result<void> killed = pids ? kill_each(*pids) : Result<void>(pids.error());
    Result<void> thawed = thaw();
    if (!killed) return std::move(killed.error()).context("kill all in cgroup {}", path_);
    return thawed;
  }
  // No freezer, or a freeze that timed out (and was undone): signal anyway.
  const std::string* procs = procs_dir();
  return procs ? kill_in_rounds(*procs) : ok();
}

}  // namespace berth::cgroups
