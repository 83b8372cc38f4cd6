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

#include <string>
#include <string_view>
#include <vector>

#include "cgroups/cgroups.h"

namespace berth::cgroups {

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

  V1Cgroup(std::vector<Dir> dirs, std::string path, DriverOptions opts)
      : dirs_(std::move(dirs)), path_(std::move(path)), opts_(opts) {}
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
};

// For a cpuset directory just made (or found empty after a crash): a new
// cpuset cgroup starts with empty cpuset.cpus/mems and refuses tasks
// (ENOSPC) until they are filled, so copy the parent's. In v1_cpu.cc.
Result<void> copy_cpuset_if_empty(const std::string& dir, const std::string& parent);

// Whether a hierarchy's directory is made only on demand (see Dir).
bool made_on_demand(const std::vector<std::string>& controllers);

}  // namespace berth::cgroups
