// Resources: the containers' cgroups (cgroups/ driver): each running
// container has one, made at start under its cgroup parent with its
// HostConfig limits and removed after its exit. Here: the limits' checks,
// making a cgroup (on a job lane), OOM notifications on the ring, releasing
// and removing cgroups (job lane, retried while the kernel still holds
// them), stats subscriptions and the PIDs for top. pause, unpause and
// update are the engine's verbs (container_pause.cc, container_update.cc);
// they use the Cgroup handle from the job lane.
//
// Thread: reactor thread, except the static make() (any thread). The driver
// keeps no state of its own, so job-lane work may hold it (shared_ptr), and
// a Cgroup handle is shared with stats and freeze jobs that may outlive a
// stop by one read.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"
#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/stats_hub.h"
#include "core/runtime/spec.h"

namespace berth::engine {

class Engine;

class Resources {
 public:
  // `driver` is null when berthd runs without cgroups (limits are refused).
  Resources(Engine& e, std::shared_ptr<cgroups::Driver> driver);
  Resources(const Resources&) = delete;
  Resources& operator=(const Resources&) = delete;

  const cgroups::Driver* driver() const { return driver_.get(); }
  std::shared_ptr<cgroups::Driver> shared_driver() const { return driver_; }
  // The memory cgroups kept for reuse go (cgroups::Driver::drain_pool): at
  // exit, once no job can give one back.
  void drain_pool() {
    if (driver_) driver_->drain_pool();
  }
  int online_cpus() const { return online_cpus_; }
  // Validates limits (create, update); kNotSupported without cgroups.
  Result<std::vector<std::string>> check(const cgroups::Resources& r) const;
  // The container's cgroup parent: its own, or the daemon's default.
  const std::string& parent_of(const Container& c) const;

  // A new cgroup with the limits applied (swap left out, with a warning,
  // where the host has no swap accounting) and the devices allowlist of
  // `security` and the user's `device_rules` (devices.h). Blocking: job lane.
  static Result<std::shared_ptr<cgroups::Cgroup>> make(cgroups::Driver& d, const std::string& parent,
                                                       const std::string& id, const cgroups::Resources& limits,
                                                       const runtime::Security& security,
                                                       const std::vector<cgroups::DeviceRule>& device_rules = {});
  // The limits onto an existing cgroup (a warm init's). Blocking: job lane.
  static Result<void> apply(cgroups::Cgroup& cg, const std::string& id, const cgroups::Resources& limits);

  // OOM kills of a running container with a memory limit: its cgroup's
  // notifier (made by the spawn job: oom_notifier_for) polled on the ring;
  // the counter, a cgroup file, is read on the job lane (opening one waits
  // on the kernel's kernfs lock, which making a network namespace holds for
  // milliseconds): State.OOMKilled and "oom" events.
  static bool wants_oom_watch(const cgroups::Resources& limits);
  void watch_oom(Container& c);
  // After the exit: false while the last read of the OOM counter is still
  // to come (started here); the exit waits for it, so "oom" precedes "die".
  bool oom_settled(Container& c);
  // The container's process is gone: stats subscribers told, the cgroup
  // removed on the job lane. A start of the same container meanwhile waits
  // for that removal (its new cgroup has the same path).
  void release(Container& c, bool removal_follows);
  // A crash's leftover cgroup of `c`, at daemon start (blocking: no loop yet).
  void remove_stale(const Container& c);
  // A re-adopted container's cgroup (container_keeper.cc); null if none.
  // At a daemon start, a parent's cgroups are opened all at once
  // (Driver::open_all) when the first of its containers asks, not with a
  // stat per hierarchy per container; end_reopen() drops what none took.
  std::shared_ptr<cgroups::Cgroup> reopen(const Container& c);
  void end_reopen() { reopened_.clear(); }
  // Removes the cgroups under berthd's own parent whose name is no
  // container's: a crash between a container's removal
  // (its state gone) and its cgroup's (on the job lane) leaves one, which
  // nothing would remove later. Start-up only, before end_reopen() and
  // before any warm init exists; one that still holds a process stays,
  // with a warning.
  void remove_strays();

  // docker stats: samples of a running container (nullptr at once if not).
  uint64_t watch_stats(Container& c, StatsHub::Sink sink);
  void unwatch_stats(uint64_t token) { stats_.unsubscribe(token); }
  // Where samples find a container's network interfaces (networks.h).
  void set_interfaces(StatsHub::InterfacesOf f) { stats_.set_interfaces(std::move(f)); }
  // docker top: the PIDs (host view) of every process of a running container.
  Result<std::vector<pid_t>> pids(Container& c);

 private:
  void oom_ready(Container& c, int32_t res);
  void read_oom(Container& c, bool final);
  // reopened_'s listing of `parent`, made by its first call (empty when the
  // listing fails, warned).
  std::map<std::string, std::unique_ptr<cgroups::Cgroup>>& listed(const std::string& parent);

  Engine& e_;
  std::shared_ptr<cgroups::Driver> driver_;
  int online_cpus_ = 1;
  StatsHub stats_;
  // reopen()'s cgroups by parent, then by container id (start-up only).
  std::map<std::string, std::map<std::string, std::unique_ptr<cgroups::Cgroup>>> reopened_;
};

using cgroups::destroy_retrying;   // cgroups.h; blocks: job lane or start-up only

}  // namespace berth::engine
