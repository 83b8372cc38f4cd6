// StatsHub: resource usage samples for `stats` subscribers. One read pass
// per interval, on the job pool, serves every subscriber: each container's
// cgroup is read once per pass however many clients watch it. The timer
// runs only while someone is subscribed.
//
// A pass goes to the job lane in chunks of kChunk containers: both of the
// lane's threads read, each chunk's samples are delivered as soon as it is
// read, and a start's job waits behind one chunk, not behind 10,000 reads.
// The veths of a pass's containers are read first, in one netlink dump.
// A new subscriber's first sample comes from a read made at once, shared
// by every subscriber that came meanwhile (the docker CLI's `stats
// --no-stream` subscribes to every container within a second): one first
// pass at a time, the next one taking all who came during it.
//
// Each subscriber sees its samples in the order they were read: a sample
// read before the last one it got is not given to it (a full pass and a
// first pass can finish out of order).
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

  static constexpr size_t kChunk = 256;   // containers read by one job

  explicit StatsHub(reactor::Reactor& r, int64_t interval_ms = 1000);
  ~StatsHub();
  StatsHub(const StatsHub&) = delete;
  StatsHub& operator=(const StatsHub&) = delete;

  // The first sample comes from a read made at once (a `stats --no-stream`
  // does not wait a whole interval for it), shared with the others who
  // subscribed meanwhile.
  uint64_t subscribe(const std::string& id, std::shared_ptr<cgroups::Cgroup> cg, Sink sink);
  void unsubscribe(uint64_t token);
  // The container stopped: every subscriber of it gets nullptr and is dropped.
  void container_stopped(const std::string& id);
  size_t subscribers() const { return subs_.size(); }
  uint64_t passes() const { return passes_; }              // read passes begun, first ones too
  uint64_t first_passes() const { return first_passes_; }
  bool first_pass_running() const { return first_pass_running_; }

 private:
  struct Sub {
    std::string id;
    std::shared_ptr<cgroups::Cgroup> cg;
    Sink sink;
    int64_t last_read_ns = 0;   // of the last sample given to it
  };
  using Targets = std::vector<std::pair<std::string, std::shared_ptr<cgroups::Cgroup>>>;
  void arm_timer();
  void tick(int32_t res);
  // The subscribers waiting for their first sample, read now (one first
  // pass at a time).
  void first_pass();
  // Reads the given cgroups on the job lane, in chunks, then hands each
  // sample to the subscribers of that container that are still there: all
  // of them (`first` null), or those of `first` only (a first pass).
  // `ended` runs on the loop when the last chunk is delivered.
  void read_pass(Targets targets, std::shared_ptr<std::vector<uint64_t>> first, std::function<void()> ended);
  struct Pass;
  void read_chunks(const std::shared_ptr<Pass>& pass);   // the pass's chunks, each a job
  void deliver(const std::map<std::string, StatsSample>& out, const std::vector<uint64_t>* first);
  void give(uint64_t token, const StatsSample& s);
  void forget(std::map<uint64_t, Sub>::iterator it);   // erases a subscriber and its index entry

  reactor::Reactor& r_;
  __kernel_timespec interval_{};
  std::map<uint64_t, Sub> subs_;
  std::multimap<std::string, uint64_t> by_id_;   // container id -> its subscribers' tokens
  uint64_t next_token_ = 1;
  uint64_t passes_ = 0;
  uint64_t first_passes_ = 0;
  bool full_pass_running_ = false;    // a pass of every subscribed container is on the job lane
  bool first_pass_running_ = false;   // a first pass is on the job lane
  std::vector<uint64_t> first_waiting_;   // subscribers whose first pass has not begun
  reactor::Completion timer_c_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  InterfacesOf interfaces_;
};

// /proc/stat's first line summed into ns (Docker's system_cpu_usage).
uint64_t read_system_cpu_ns();

}  // namespace berth::engine
