// The cgroup v2 Cgroup: one directory in the unified hierarchy. Internal to
// cgroups/; built by make_v2()'s driver.
//
// Its methods are split by controller: v2_driver.cc (create, membership,
// removal, and the set()/stats() sequencing), v2_memory.cc, v2_cpu.cc (cpu,
// cpuset), v2_pids.cc, v2_io.cc and v2_freezer.cc (cgroup.freeze,
// cgroup.kill). A controller's files exist in a cgroup only while the parent
// has it in cgroup.subtree_control, so each check_*() tests for the file and
// set() runs them all before writing anything.
//
// Owns an O_DIRECTORY fd of the cgroup (for clone3 CLONE_INTO_CGROUP) for its
// whole life. Thread safety: one thread at a time (see cgroups.h).
#pragma once

#include <string>

#include "cgroups/cgroups.h"

namespace berth::cgroups {

class V2Cgroup final : public Cgroup {
 public:
  V2Cgroup(std::string dir, std::string path, unique_fd fd, DriverOptions opts)
      : dir_(std::move(dir)), path_(std::move(path)), fd_(std::move(fd)), opts_(opts) {}
  V2Cgroup(const V2Cgroup&) = delete;
  V2Cgroup& operator=(const V2Cgroup&) = delete;

  const std::string& path() const override { return path_; }
  int clone_into_fd() const override { return fd_.get(); }
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
  // kNotSupported naming `file` and the likely cause (controller not enabled).
  Error missing(std::string_view what, std::string_view file) const;

  Result<void> check_memory(const Resources& r) const;
  Result<void> set_memory(const Resources& r);
  Result<void> memory_stats(Stats& s) const;

  Result<void> check_cpu(const Resources& r) const;
  Result<void> set_cpu(const Resources& r);
  Result<void> cpu_stats(Stats& s) const;

  Result<void> check_pids(const Resources& r) const;
  Result<void> set_pids(const Resources& r);
  Result<void> pids_stats(Stats& s) const;

  Result<void> check_io(const Resources& r) const;
  Result<void> set_io(const Resources& r);
  Result<void> io_stats(Stats& s) const;

  std::string dir_;   // absolute: mount + path_
  std::string path_;  // relative to the hierarchy root
  unique_fd fd_;
  DriverOptions opts_;
};

}  // namespace berth::cgroups
