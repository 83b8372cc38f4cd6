// v1 memory controller: limits, stats and OOM events.
// Kernel: Documentation/admin-guide/cgroup-v1/memory.rst.
#include <fcntl.h>
#include <sys/eventfd.h>

#include <string>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"

namespace berth::cgroups {
namespace {

constexpr std::string_view kLimit = "memory.limit_in_bytes";
constexpr std::string_view kMemsw = "memory.memsw.limit_in_bytes";

// Docker's warning text for a host without swap accounting
// (CONFIG_MEMCG_SWAP off, or swapaccount=0 on the kernel command line).
constexpr std::string_view kNoSwapLimit =
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted";

// "oom_kill N" appeared in memory.oom_control in Linux 4.13; older kernels
// read as 0.
Result<uint64_t> read_oom_kills(const std::string& dir) {
  std::optional<std::string> oom = BERTH_TRY(read_control_if_exists(dir, "memory.oom_control"));
  return oom ? keyed_value(*oom, "oom_kill").value_or(0) : 0;
}

// memory.stat's event counters, which only grow (CounterBase's order), and
// the total_ forms that equal them in a leaf.
constexpr std::string_view kEvents[] = {"pgpgin", "pgpgout", "pgfault", "pgmajfault"};

// Index into kEvents of `key` or "total_" + one of them; -1 otherwise.
int event_index(std::string_view key) {
  if (key.rfind("total_", 0) == 0) key.remove_prefix(6);
  for (int i = 0; i < 4; i++)
    if (key == kEvents[i]) return i;
  return -1;
}

// A file's value from the parent, for a reset to what a new cgroup gets.
Result<void> copy_from_parent(const std::string& dir, std::string_view file) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  std::optional<std::string> v = BERTH_TRY(read_control_if_exists(parent, file));
  if (!v) return ok();
  return write_control(dir, file, trim(*v));
}

// write_control, where a file this kernel lacks is fine.
Result<void> write_if_present(const std::string& dir, std::string_view file, std::string_view value) {
  auto r = write_control(dir, file, value);
  if (!r && r.error().sys_errno() == ENOENT) return ok();
  return r;
}

}  // namespace

Result<Cgroup::CounterBase> read_memcg_counters(const std::string& dir) {
  Cgroup::CounterBase out{};
  for (const auto& [k, v] : parse_flat_keyed(BERTH_TRY(read_control(dir, "memory.stat"))))
    if (int i = event_index(k); i >= 0 && k.rfind("total_", 0) != 0) out[size_t(i)] = v;
  return out;
}

Result<bool> recycle_memcg(const std::string& dir) {
  if (!BERTH_TRY(child_cgroups(dir)).empty()) return false;
  if (!BERTH_TRY(read_procs(dir)).empty()) return false;
  if (BERTH_TRY(read_oom_kills(dir)) != 0) return false;
  // What may be carried to the next container is bounded, not reclaimed:
  // see MemcgPool::kMaxCarried.
  if (BERTH_TRY(read_u64(dir, "memory.usage_in_bytes")) > MemcgPool::kMaxCarried) return false;
  // Limits up first: memsw may never be below the memory limit.
  BERTH_TRY_VOID(write_if_present(dir, kMemsw, "-1"));
  BERTH_TRY_VOID(write_control(dir, kLimit, "-1"));
  BERTH_TRY_VOID(write_control(dir, "memory.soft_limit_in_bytes", "-1"));
  BERTH_TRY_VOID(write_if_present(dir, "memory.kmem.tcp.limit_in_bytes", "-1"));
  BERTH_TRY_VOID(write_control(dir, "memory.oom_control", "0"));
  BERTH_TRY_VOID(write_if_present(dir, "memory.move_charge_at_immigrate", "0"));
  BERTH_TRY_VOID(copy_from_parent(dir, "memory.swappiness"));
  BERTH_TRY_VOID(copy_from_parent(dir, "notify_on_release"));
  for (std::string_view counter : {"memory.failcnt", "memory.max_usage_in_bytes", "memory.memsw.failcnt",
                                   "memory.memsw.max_usage_in_bytes", "memory.kmem.failcnt",
                                   "memory.kmem.max_usage_in_bytes", "memory.kmem.tcp.failcnt",
                                   "memory.kmem.tcp.max_usage_in_bytes"})
    BERTH_TRY_VOID(write_if_present(dir, counter, "0"));
  return true;
}

Result<void> V1Cgroup::check_memory(const Resources& r) const {
  const std::string* dir = dir_of("memory");
  bool limits = r.memory.value_or(0) > 0 || r.memory_swap.value_or(0) > 0 || r.memory_reservation.value_or(0) > 0;
  if (!dir) {
    if (!limits) return ok();
    return Error::make(Code::kNotSupported, "set memory limit on cgroup {}: the memory controller is not mounted",
                       path_);
  }
  if (r.memory_swap.value_or(0) > 0 && !has_control(*dir, kMemsw)) {
    return Error::make(Code::kNotSupported, "{}", kNoSwapLimit);
  }
  return ok();
}

// The kernel keeps memory.limit <= memory.memsw.limit at every step, so the
// order of the two writes depends on the direction of the change: growing
// memsw goes first, shrinking memsw goes last. -1 is "unlimited" in both.
Result<void> V1Cgroup::set_memory(const Resources& r) {
  const std::string* dir = dir_of("memory");
  if (!dir) return ok();
  std::optional<int64_t> memory, swap;
  if (r.memory) memory = *r.memory > 0 ? *r.memory : -1;
  if (r.memory_swap && *r.memory_swap != 0) swap = *r.memory_swap > 0 ? *r.memory_swap : -1;
  if (!has_control(*dir, kMemsw)) {
    swap.reset();  // only "unlimited" gets here (check_memory): nothing to do
  } else if (memory == -1 && !swap) {
    swap = -1;  // memsw may not stay below a memory limit being lifted
  }
  if (memory && swap) {
    uint64_t current = BERTH_TRY(read_u64(*dir, kLimit));
    bool swap_first = *swap == -1 || static_cast<uint64_t>(*swap) > current;
    if (swap_first) BERTH_TRY_VOID(write_control(*dir, kMemsw, std::to_string(*swap)));
    BERTH_TRY_VOID(write_control(*dir, kLimit, std::to_string(*memory)));
    if (!swap_first) BERTH_TRY_VOID(write_control(*dir, kMemsw, std::to_string(*swap)));
  } else if (memory) {
    BERTH_TRY_VOID(write_control(*dir, kLimit, std::to_string(*memory)));
  } else if (swap) {
    BERTH_TRY_VOID(write_control(*dir, kMemsw, std::to_string(*swap)));
  }
  if (r.memory_reservation) {
    int64_t v = *r.memory_reservation > 0 ? *r.memory_reservation : -1;
    BERTH_TRY_VOID(write_control(*dir, "memory.soft_limit_in_bytes", std::to_string(v)));
  }
  return ok();
}

Result<void> V1Cgroup::memory_stats(Stats& s) const {
  const std::string* dir = dir_of("memory");
  if (!dir) return ok();
  s.memory_usage = BERTH_TRY(read_u64(*dir, "memory.usage_in_bytes"));
  s.memory_max_usage = BERTH_TRY(read_u64(*dir, "memory.max_usage_in_bytes"));
  s.memory_limit = BERTH_TRY(read_limit(*dir, kLimit));
  s.memory_stat = parse_flat_keyed(BERTH_TRY(read_control(*dir, "memory.stat")));
  for (auto& [k, v] : s.memory_stat)   // a cgroup from the pool counted earlier containers' events
    if (int i = event_index(k); i >= 0) v = v > base_[size_t(i)] ? v - base_[size_t(i)] : 0;
  s.oom_kills = BERTH_TRY(read_oom_kills(*dir));
  return ok();
}

// 0 on a host without the memory controller.
Result<uint64_t> V1Cgroup::oom_kills() {
  const std::string* dir = dir_of("memory");
  if (!dir) return uint64_t{0};
  return read_oom_kills(*dir);
}

// cgroup v1 notification API: writing "<eventfd> <fd of memory.oom_control>"
// to cgroup.event_control arms the eventfd; the kernel keeps its own
// reference to memory.oom_control, so that fd is closed here.
Result<unique_fd> V1Cgroup::oom_notifier() {
  const std::string* dir = dir_of("memory");
  if (!dir) {
    return Error::make(Code::kNotSupported, "watch OOM of cgroup {}: the memory controller is not mounted", path_);
  }
  unique_fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return Error::sys(errno, "eventfd");
  std::string oc_path = join_path(*dir, "memory.oom_control");
  unique_fd oc(::open(oc_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!oc) return Error::sys(errno, "open {}", oc_path);
  std::string registration = std::to_string(efd.get()) + " " + std::to_string(oc.get());
  BERTH_TRY_VOID(write_control(*dir, "cgroup.event_control", registration));
  return efd;
}

}  // namespace berth::cgroups
