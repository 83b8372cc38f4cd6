// v2 memory controller: memory.max, memory.swap.max, memory.low; usage and
// OOM events. Kernel: Documentation/admin-guide/cgroup-v2.rst, "Memory".
//
// Docker's MemorySwap is memory + swap, while v2's memory.swap.max is swap
// alone, so set() writes the difference (runc's conversion).
#include <sys/inotify.h>

#include <string>

#include "cgroups/control.h"
#include "cgroups/v2_cgroup.h"

namespace berth::cgroups {
namespace {

// Docker's warning text for a host without swap accounting
// (CONFIG_MEMCG_SWAP off, or swapaccount=0 on the kernel command line).
constexpr std::string_view kNoSwapLimit =
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted";

std::string limit_or_max(int64_t v) { return v > 0 ? std::to_string(v) : "max"; }

Result<uint64_t> read_oom_kills(const std::string& dir) {
  std::optional<std::string> events = BERTH_TRY(read_control_if_exists(dir, "memory.events"));
  return events ? keyed_value(*events, "oom_kill").value_or(0) : 0;
}

// memory.swap.max for Docker's MemorySwap `total`, against the memory limit
// being set or, if none is, the one in force.
Result<std::string> swap_value(const std::string& dir, const std::string& path, const Resources& r,
                               int64_t total) {
  if (total < 0) return std::string("max");
  uint64_t memory = r.memory ? (*r.memory > 0 ? static_cast<uint64_t>(*r.memory) : 0)
                             : BERTH_TRY(read_limit(dir, "memory.max"));
  if (memory == 0) return Error::invalid("set swap limit on cgroup {}: a memory+swap limit needs a memory limit", path);
  if (static_cast<uint64_t>(total) < memory) {
    return Error::invalid("set swap limit on cgroup {}: memory+swap limit {} is below the memory limit {}", path,
                          total, memory);
  }
  return std::to_string(static_cast<uint64_t>(total) - memory);
}

}  // namespace

Result<void> V2Cgroup::check_memory(const Resources& r) const {
  bool limits = r.memory.value_or(0) > 0 || r.memory_swap.value_or(0) > 0 || r.memory_reservation.value_or(0) > 0;
  if (limits && !has_control(dir_, "memory.max")) return missing("memory limit", "memory.max");
  if (r.memory_swap.value_or(0) > 0 && !has_control(dir_, "memory.swap.max")) {
    return Error::make(Code::kNotSupported, "{}", kNoSwapLimit);
  }
  return ok();
}

// v2 has no ordering constraint between memory.max and memory.swap.max;
// the swap value is worked out first so that a bad one fails before any write.
Result<void> V2Cgroup::set_memory(const Resources& r) {
  if (!has_control(dir_, "memory.max")) return ok();  // only "unlimited" asked (check_memory)
  int64_t total = r.memory_swap.value_or(0);
  std::optional<std::string> swap;
  if (total != 0 && has_control(dir_, "memory.swap.max")) swap = BERTH_TRY(swap_value(dir_, path_, r, total));
  if (r.memory) BERTH_TRY_VOID(write_control(dir_, "memory.max", limit_or_max(*r.memory)));
  if (swap) BERTH_TRY_VOID(write_control(dir_, "memory.swap.max", *swap));
  if (r.memory_reservation) {
    int64_t v = *r.memory_reservation;
    BERTH_TRY_VOID(write_control(dir_, "memory.low", v > 0 ? std::to_string(v) : "0"));
  }
  return ok();
}

Result<void> V2Cgroup::memory_stats(Stats& s) const {
  std::optional<std::string> current = BERTH_TRY(read_control_if_exists(dir_, "memory.current"));
  if (!current) return ok();  // memory controller not enabled here
  s.memory_usage = parse_u64(*current).value_or(0);
  std::optional<std::string> peak = BERTH_TRY(read_control_if_exists(dir_, "memory.peak"));  // Linux 5.19+
  if (peak) s.memory_max_usage = parse_u64(*peak).value_or(0);
  s.memory_limit = BERTH_TRY(read_limit(dir_, "memory.max"));
  s.memory_stat = parse_flat_keyed(BERTH_TRY(read_control(dir_, "memory.stat")));
  s.oom_kills = BERTH_TRY(read_oom_kills(dir_));
  return ok();
}

Result<uint64_t> V2Cgroup::oom_kills() { return read_oom_kills(dir_); }

// The kernel signals a change of memory.events as IN_MODIFY (kernfs notify).
Result<unique_fd> V2Cgroup::oom_notifier() {
  std::string events = join_path(dir_, "memory.events");
  if (!has_control(dir_, "memory.events")) {
    return Error::make(Code::kNotSupported, "watch OOM of cgroup {}: no memory.events (memory controller not enabled)",
                       path_);
  }
  unique_fd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return Error::sys(errno, "inotify_init1");
  if (::inotify_add_watch(fd.get(), events.c_str(), IN_MODIFY) < 0) return Error::sys(errno, "watch {}", events);
  return fd;
}

}  // namespace berth::cgroups
