// cgroups: one interface, two drivers (v1: a directory per controller
// hierarchy; v2: the unified tree). core/engine creates one Cgroup per
// container, places the container's init in it (v2: clone3 with
// CLONE_INTO_CGROUP on clone_into_fd(); v1: add_process() before the child is
// released), applies limits, reads stats, freezes, kills everything in it and
// removes it.
//
// Every path is rooted at a configurable directory, so the drivers are unit
// tested against a temporary tree laid out like cgroupfs.
//
// Thread safety: a Driver is immutable after detect()/make_*() and may be
// shared by threads; one Cgroup must be used by one thread at a time
// (different Cgroups on different threads is fine). Every call is a few
// syscalls on cgroupfs (no disk I/O) except freeze() and destroy(), which may
// wait for the kernel: call those from the job pool.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cgroups/devices.h"
#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::cgroups {

enum class Version { kV1 = 1, kV2 = 2 };

// Limits in Docker's HostConfig terms. Unset fields are left alone (set()
// then changes only what is given, which is what `update` needs).
struct Resources {
  std::optional<int64_t> memory;              // bytes, > 0 (0 = unlimited)
  std::optional<int64_t> memory_swap;         // memory + swap, bytes; -1 unlimited, 0 = unset
  std::optional<int64_t> memory_reservation;  // soft limit, bytes (v1 soft_limit, v2 memory.low)
  std::optional<int64_t> nano_cpus;           // 1e9 = one CPU; becomes quota over a 100 ms period
  std::optional<int64_t> cpu_shares;          // v1 cpu.shares; v2 cpu.weight (converted)
  std::optional<int64_t> cpu_period;          // microseconds
  std::optional<int64_t> cpu_quota;           // microseconds; <= 0 unlimited
  std::optional<std::string> cpuset_cpus;     // "0-1,3"
  std::optional<std::string> cpuset_mems;
  std::optional<int64_t> pids_limit;          // <= 0 unlimited
  std::optional<uint16_t> blkio_weight;       // 10..1000 (0 = unset)

  bool empty() const;
  // Whether a cpuset (cpus or mems, not empty) is asked for.
  bool sets_cpuset() const;
};

// Checks values the way Docker does, with Docker's messages ("Minimum memory
// limit allowed is 6MB", "Range of CPUs is from 0.01 to 2.00, as there are
// only 2 CPUs available", ...). `online_cpus` bounds NanoCpus and cpusets.
Result<void> validate(const Resources& r, int online_cpus);

struct BlkioEntry {
  uint32_t major = 0, minor = 0;
  std::string op;  // "Read", "Write", "Sync", "Async", "Discard", "Total"
  uint64_t value = 0;
};

// One read of a container's cgroup. Fields a hierarchy lacks stay 0/empty.
struct Stats {
  uint64_t memory_usage = 0;      // bytes (v1 usage_in_bytes, v2 memory.current)
  uint64_t memory_max_usage = 0;  // v1 max_usage_in_bytes; v2 memory.peak if present
  uint64_t memory_limit = 0;      // bytes; 0 = unlimited (caller shows host memory)
  std::vector<std::pair<std::string, uint64_t>> memory_stat;  // memory.stat, in file order
  uint64_t cpu_total_ns = 0;      // v1 cpuacct.usage, v2 cpu.stat usage_usec * 1000
  uint64_t cpu_user_ns = 0, cpu_system_ns = 0;
  std::vector<uint64_t> cpu_percpu_ns;  // v1 cpuacct.usage_percpu; empty on v2
  uint64_t throttling_periods = 0, throttled_periods = 0, throttled_time_ns = 0;
  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;        // 0 = unlimited
  std::vector<BlkioEntry> io_service_bytes, io_serviced;
  uint64_t oom_kills = 0;
};

// A container's cgroup: one directory per hierarchy (v1) or one (v2).
class Cgroup {
 public:
  virtual ~Cgroup() = default;

  // Path relative to the hierarchy root, as /proc/<pid>/cgroup shows it
  // ("/user.slice/berth/<id>"). For v1, that of the memory hierarchy.
  virtual const std::string& path() const = 0;

  // v2: an O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP),
  // owned by the Cgroup; v1: -1 (use add_process()).
  virtual int clone_into_fd() const = 0;

  // Moves `pid` (all its threads) into the cgroup in every hierarchy.
  virtual Result<void> add_process(pid_t pid) = 0;

  // Applies the limits that are set in `r`; kNotSupported names the missing
  // controller or file when a limit cannot be applied on this host.
  virtual Result<void> set(const Resources& r) = 0;

  // Limits device access to `rules` (devices.h; everything else denied):
  // v1 devices.deny "a" then devices.allow per rule, v2 a BPF device
  // program attached to the cgroup (device_bpf.h), replacing any earlier
  // one. kNotSupported when v1 has no devices hierarchy. Call before the
  // container's processes run in the cgroup (v2: before clone3).
  virtual Result<void> set_devices(const std::vector<DeviceRule>& rules) = 0;

  // Freezes every process and returns once the kernel reports the cgroup
  // frozen (v1 freezer.state FROZEN, v2 cgroup.events "frozen 1"); bounded
  // wait, kSystem on timeout. thaw() undoes it.
  virtual Result<void> freeze() = 0;
  virtual Result<void> thaw() = 0;
  virtual Result<bool> frozen() = 0;

  // SIGKILLs every process in the cgroup, forked or double-forked: v2
  // cgroup.kill; v1 (or v2 before 5.14) freeze, signal each pid, thaw.
  virtual Result<void> kill_all() = 0;

  // PIDs (host pid namespace) of every process in it.
  virtual Result<std::vector<pid_t>> pids() = 0;

  virtual Result<Stats> stats() = 0;

  // OOM kills so far: v1 memory.oom_control "oom_kill", v2 memory.events
  // "oom_kill". 0 when the memory controller is absent.
  virtual Result<uint64_t> oom_kills() = 0;

  // An fd that becomes readable when the cgroup hits its memory limit:
  // v1 an eventfd registered through cgroup.event_control on
  // memory.oom_control (read 8 bytes to re-arm); v2 an inotify fd watching
  // memory.events for IN_MODIFY (drain it to re-arm). The caller polls it and
  // then reads oom_kills() to tell an OOM kill from a near miss.
  virtual Result<unique_fd> oom_notifier() = 0;

  // Removes the directories (every hierarchy), children first. kConflict
  // while the kernel still holds it (EBUSY: processes not yet gone); the
  // caller retries later. Already gone is success. v1: the memory
  // cgroup may be kept for a later container instead (MemcgPool,
  // v1_cgroup.h); it is gone from this path either way.
  virtual Result<void> destroy() = 0;

  // A memory cgroup taken from the v1 pool has counted events for earlier
  // containers: memory.stat's pgpgin, pgpgout, pgfault and pgmajfault (and
  // their total_ forms) as they were when it was taken. stats() reports
  // them less this base. The engine keeps it in the container's state, so
  // that a restarted berthd, which opens the cgroup anew, sets it back.
  // All zero for a cgroup made new (and always on v2).
  using CounterBase = std::array<uint64_t, 4>;
  virtual CounterBase counter_base() const { return {}; }
  virtual void set_counter_base(const CounterBase&) {}
};

// destroy(), retried while the kernel still holds the cgroup (kConflict: a
// task not yet fully gone), 100 times 10 ms at most. Blocks: for a job
// thread, start-up or a test.
Result<void> destroy_retrying(Cgroup& cg);

class Driver {
 public:
  virtual ~Driver() = default;
  virtual Version version() const = 0;
  // Controllers usable for containers ("cpu", "memory", "pids", ...).
  virtual std::vector<std::string> controllers() const = 0;

  // Creates (or, after a daemon restart, opens) `parent/name` in every
  // hierarchy. A relative `parent` ("berth") is under the cgroup berthd
  // itself runs in (per hierarchy); an absolute one ("/berth") from the
  // hierarchy's root. Intermediate directories are created as needed, and on
  // v2 the needed controllers are enabled in each ancestor's
  // cgroup.subtree_control; on v1 cpuset.cpus/mems of new directories are
  // copied from their parent so processes can join.
  virtual Result<std::unique_ptr<Cgroup>> create(std::string_view parent, std::string_view name) = 0;
  // An existing cgroup (kNotFound if none). v1: the hierarchies that have
  // the directory, so that one left half-made by a crash can be destroyed.
  virtual Result<std::unique_ptr<Cgroup>> open(std::string_view parent, std::string_view name) = 0;
  // open() of every cgroup under `parent` at once, by name: one listing of
  // the parent per hierarchy instead of a stat per hierarchy per cgroup (a
  // daemon start re-adopting thousands of containers). Empty when the
  // parent does not exist.
  virtual Result<std::map<std::string, std::unique_ptr<Cgroup>>> open_all(std::string_view parent) = 0;
  // What a container's /sys/fs/cgroup should show, mounted inside its
  // cgroup namespace: {directory name, fstype, mount options} per
  // hierarchy the driver uses (v1), or one cgroup2 mount at the top (v2).
  struct ViewMount {
    std::string name, fstype, options;
  };
  virtual std::vector<ViewMount> container_view() const = 0;
  // Removes the memory cgroups kept for reuse (v1; see MemcgPool) that
  // this driver holds: at a clean shutdown, so that none outlives berthd
  // unused. A berthd that did not get here (a crash) leaves them, and the
  // next one takes them up. Blocks (an rmdir each).
  virtual void drain_pool() {}
};

// Tuning shared by both drivers (defaults suit a real host; unit tests
// shorten the waits).
struct DriverOptions {
  // How long freeze() waits for the kernel to report the cgroup frozen
  // before it thaws it again and fails (runc waits about as long).
  int freeze_timeout_ms = 5000;
  // v1: how many memory cgroups of exited containers are kept, reset, for
  // the next containers (MemcgPool, v1_cgroup.h); 0 turns the pool off.
  size_t memcg_pool = 64;
};

struct DetectOptions {
  std::string mountinfo = "/proc/self/mountinfo";
  std::string proc_self_cgroup = "/proc/self/cgroup";
  // Prefix prepended to every mount point read from mountinfo (tests: a
  // temporary tree); "" on a real host.
  std::string root_prefix;
  DriverOptions driver;
};

// Reads the host's layout. A v2 mount that holds every controller in use is
// v2; v1 hierarchies for the usual controllers (even next to a cgroup2 mount
// holding a leftover such as hugetlb: the hybrid layout) are v1.
Result<std::unique_ptr<Driver>> detect(const DetectOptions& opts = {});

// Direct constructors (tests, and detect() itself).
struct V1Hierarchy {
  std::string mount;                     // "/sys/fs/cgroup/memory"
  std::string self;                      // berthd's own cgroup in it ("/" or "/user.slice/x")
  std::vector<std::string> controllers;  // {"cpu", "cpuacct"} for a co-mounted hierarchy
};
std::unique_ptr<Driver> make_v1(std::vector<V1Hierarchy> hierarchies, DriverOptions opts = {});
std::unique_ptr<Driver> make_v2(std::string mount, std::string self, DriverOptions opts = {});

}  // namespace berth::cgroups
