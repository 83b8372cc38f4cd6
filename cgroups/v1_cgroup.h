// The cgroup v1 Cgroup: one directory per mounted hierarchy, all with the
// same relative name. Internal to cgroups/; built by make_v1()'s driver.
//
// Its methods are split by controller: v1_driver.cc (create, membership,
// removal, and the set()/stats() sequencing), v1_memory.cc, v1_cpu.cc (cpu,
// cpuacct, cpuset), v1_pids.cc, v1_blkio.cc and v1_freezer.cc. Each
// controller has a check_*() that set() runs for every controller before it
// writes anything, so an unsupported limit fails without applying the others.
//
// Thread safety: one thread at a time (see cgroups.h).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/cgroups.h"

namespace berth::cgroups {

// Memory cgroups of exited containers, kept for the next containers
// instead of removed. A memory cgroup's death is the costly part of a
// container's end at density: the kernel takes it offline in a kworker
// that holds the global cgroup_mutex while it walks every memcg-aware
// list_lru of the system (two per superblock: about 15 ms at 10,000
// containers), and every cgroup mkdir, rmdir and cgroup.procs write of a
// start waits behind it (bench/RESULTS.md). A kept one is reset and
// renamed to ".berth-pool-<pid>-<n>" in its parent; a create() under that
// parent renames it to the new container's name instead of mkdir. v1
// only: cgroup v2 refuses rename(2).
//
// Kept only what starts the next container nearly clean (recycle_memcg()):
// no process and no child cgroup in it, no OOM kill counted
// (memory.oom_control's oom_kill cannot be reset), and at most kMaxCarried
// charged (see there). Others are removed as before. Everything a
// container can write there is set back to its default or its parent's
// (limits, soft limit, swappiness, oom_control, move_charge_at_immigrate,
// tcp limit) and the failcnt/max_usage counters zeroed. memory.stat's
// event counters cannot be reset: the cgroup that takes one reads them as
// its base (Cgroup::counter_base).
//
// Thread safety: any thread (create() and destroy() run on job threads).
class MemcgPool {
 public:
  // The most a kept one may have charged. After its processes are gone a
  // container's memory cgroup holds the kernel's per-CPU charge caches
  // (precharged pages, up to 64 a CPU, replaced at the CPU's next charge
  // for another cgroup), kernel memory of its last moments whose free is
  // under way (RCU: gone within milliseconds), and page cache it was the
  // first to touch. The next container starts with that charged (shown in
  // its usage; clean cache is what its limit reclaims first). Reclaiming it
  // instead (memory.force_empty) would drop cache others use and, while
  // that kernel memory is still there, retries for 10-16 ms.
  static constexpr uint64_t kMaxCarried = 1 << 20;
  static constexpr std::string_view kPrefix = ".berth-pool-";

  explicit MemcgPool(size_t bound) : bound_(bound) {}

  // A kept directory under `parent` (absolute), or "". The first call for
  // a parent takes up the kept ones a crashed berthd left there.
  std::string take(const std::string& parent);
  // Resets `dir` and keeps it: true when it is now in the pool (no longer
  // at `dir`); false when it is not eligible, the pool is full or a step
  // failed, and the caller removes it.
  bool give(const std::string& dir);
  // rmdir of every kept directory.
  void drain();

 private:
  // free_[parent], with what an earlier berthd kept there taken up first.
  std::vector<std::string>& kept_locked(const std::string& parent);

  std::mutex mu_;
  size_t bound_;
  size_t count_ = 0;       // kept plus being given (reserved)
  uint64_t seq_ = 0;
  std::map<std::string, std::vector<std::string>> free_;   // parent -> kept dirs
  std::set<std::string> adopted_;                           // parents listed once
};

// For `dir` (a v1 memory cgroup whose container has ended): whether it may
// be kept (see MemcgPool), and if so reset for the next. In v1_memory.cc.
Result<bool> recycle_memcg(const std::string& dir);

// memory.stat's event counters in `dir`, in CounterBase order. In v1_memory.cc.
Result<Cgroup::CounterBase> read_memcg_counters(const std::string& dir);

class V1Cgroup final : public Cgroup {
 public:
  // A hierarchy's directory. A cpuset-only hierarchy's is made only when a
  // cpuset is asked for (create() leaves it absent, and the container's
  // processes in the parent's cpuset, which is where the kernel would copy
  // a new leaf's cpus and mems from): every cpuset cgroup's creation and
  // removal walks all its siblings (validate_change, the sched domains),
  // which at thousands of containers is most of a start's kernel time.
  struct Dir {
    std::vector<std::string> controllers;
    std::string path;  // absolute: mount + cgroup path
    bool present = true;
    std::string parent;  // absolute; where its processes are while absent
  };

  V1Cgroup(std::vector<Dir> dirs, std::string path, DriverOptions opts, std::shared_ptr<MemcgPool> pool)
      : dirs_(std::move(dirs)), path_(std::move(path)), opts_(opts), pool_(std::move(pool)) {}
  V1Cgroup(const V1Cgroup&) = delete;
  V1Cgroup& operator=(const V1Cgroup&) = delete;

  const std::string& path() const override { return path_; }
  int clone_into_fd() const override { return -1; }
  Result<void> add_process(pid_t pid) override;
  Result<void> set(const Resources& r) override;
  Result<void> set_devices(const std::vector<DeviceRule>& rules) override;
  Result<void> freeze() override;
  Result<void> thaw() override;
  Result<bool> frozen() override;
  Result<void> kill_all() override;
  Result<std::vector<pid_t>> pids() override;
  Result<Stats> stats() override;
  Result<uint64_t> oom_kills() override;
  Result<unique_fd> oom_notifier() override;
  Result<void> destroy() override;
  CounterBase counter_base() const override { return base_; }
  void set_counter_base(const CounterBase& base) override { base_ = base; }

 private:
  // The directory of the hierarchy carrying `controller`, or nullptr (also
  // while it is absent).
  const std::string* dir_of(std::string_view controller) const;
  // The absent directory carrying `controller`, or nullptr.
  const Dir* absent_of(std::string_view controller) const;
  // Makes the absent directory carrying `controller` and moves the
  // container's processes into it (frozen meanwhile, so that none forks
  // past the move); nullptr-free afterwards. In v1_cpu.cc.
  Result<void> materialize(std::string_view controller);
  // Where to read cgroup.procs: every hierarchy holds the same processes.
  const std::string* procs_dir() const;

  Result<void> check_memory(const Resources& r) const;
  Result<void> set_memory(const Resources& r);
  Result<void> memory_stats(Stats& s) const;

  Result<void> check_cpu(const Resources& r) const;
  Result<void> set_cpu(const Resources& r);
  Result<void> cpu_stats(Stats& s) const;

  Result<void> check_pids(const Resources& r) const;
  Result<void> set_pids(const Resources& r);
  Result<void> pids_stats(Stats& s) const;

  Result<void> check_blkio(const Resources& r) const;
  Result<void> set_blkio(const Resources& r);
  Result<void> blkio_stats(Stats& s) const;

  std::vector<Dir> dirs_;
  std::string path_;
  DriverOptions opts_;
  std::shared_ptr<MemcgPool> pool_;   // null: the pool is off
  CounterBase base_{};
};

// For a cpuset directory just made (or found empty after a crash): a new
// cpuset cgroup starts with empty cpuset.cpus/mems and refuses tasks
// (ENOSPC) until they are filled, so copy the parent's. In v1_cpu.cc.
Result<void> copy_cpuset_if_empty(const std::string& dir, const std::string& parent);

// Whether a hierarchy's directories go through the MemcgPool: the memory
// controller's, mounted alone (a co-mounted controller's settings would be
// carried from one container to the next unreset).
bool pooled_hierarchy(const std::vector<std::string>& controllers);

// Whether a hierarchy's directory is made only on demand (see Dir).
bool made_on_demand(const std::vector<std::string>& controllers);

}  // namespace berth::cgroups
