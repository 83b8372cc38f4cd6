// StatsHub: resource usage samples for `stats` subscribers. One read pass
// per interval, on the job pool, serves every subscriber: each container's
// cgroup is read once per pass however many clients watch it, and /proc/stat
// once for all of them. The timer runs only while someone is subscribed.
//
// Thread: reactor thread only (the reads run on the job pool and complete
// back into the loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cgroups/cgroups.h"
#include "core/reactor/reactor.h"
#include "netns/link.h"

namespace berth::engine {

struct StatsSample {
  cgroups::Stats stats;
  bool ok = false;             // false: the read failed (the container is stopping)
  uint64_t system_cpu_ns = 0;  // /proc/stat "cpu" line, all CPUs, in ns
  int online_cpus = 0;
  int64_t read_ns = 0;         // wall clock of the read
  // Per interface of the container (name: eth0...), counted on the host
  // ends of its veths and turned round (Docker's "networks").
  std::vector<netns::InterfaceStats> networks;
};

class StatsHub {
 public:
  // A sample, or nullptr once: the container stopped and no more will come.
  using Sink = std::function<void(const StatsSample*)>;
  // A running container's (host veth, interface) pairs (networks.h).
  using InterfacesOf = std::function<std::vector<std::pair<std::string, std::string>>(const std::string& id)>;
  void set_interfaces(InterfacesOf f) { interfaces_ = std::move(f); }

  explicit StatsHub(reactor::Reactor& r, int64_t interval_ms = 1000);
  ~StatsHub();
  StatsHub(const StatsHub&) = delete;
  StatsHub& operator=(const StatsHub&) = delete;

  // The first sample comes from a read made for this subscriber at once
  // (a `stats --no-stream` does not wait a whole interval for it).
  uint64_t subscribe(const std::string& id, std::shared_ptr<cgroups::Cgroup> cg, Sink sink);
  void unsubscribe(uint64_t token);
  // The container stopped: every subscriber of it gets nullptr and is dropped.
  void container_stopped(const std::string& id);
  size_t subscribers() const { return subs_.size(); }
  uint64_t passes() const { return passes_; }

 private:
  struct Sub {
    std::string id;
    std::shared_ptr<cgroups::Cgroup> cg;
    Sink sink;
  };
  void arm_timer();
  void tick(int32_t res);
  // Reads the given cgroups on the job pool, then hands each sample to the
  // subscribers of that container that are still there.
  // only_token != 0: for that subscriber alone (its first sample).
  void read_pass(std::map<std::string, std::shared_ptr<cgroups::Cgroup>> targets, uint64_t only_token = 0);
  void deliver(const std::map<std::string, StatsSample>& out, uint64_t only_token);

  reactor::Reactor& r_;
  __kernel_timespec interval_{};
  std::map<uint64_t, Sub> subs_;
  uint64_t next_token_ = 1;
  uint64_t passes_ = 0;
  bool full_pass_running_ = false;   // a pass of every subscribed container is on the job pool
  reactor::Completion timer_c_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  InterfacesOf interfaces_;
};

// /proc/stat's first line summed into ns (Docker's system_cpu_usage).
uint64_t read_system_cpu_ns();

}  // namespace berth::engine
