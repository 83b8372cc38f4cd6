// Warm inits: container init processes berthd starts before anyone asks,
// so that creating and starting a container only hands one over (runtime's
// deferred spawn, core/runtime/late.h). Engine-internal.
//
// A warm init is a whole container minus its request: an id and directory
// (<root>/containers/<id>, no state file yet), the namespaces, the cgroup
// (joined), the overlay root and every mount of the plan, the child blocked
// on its sync socket. It is made on the reactor's background lane (mkdirs,
// clone3, and on v1 the cgroup.procs writes, whose first one after a quiet
// spell waits for an RCU grace period), in the loop's idle moments, for the
// image of a container that started and could have used one
// (runtime::can_release_as, in berthd's default cgroup parent), and kept up
// to Options::warm_inits (least recently used image first out).
//
// create() adopts one when the new container's init spec can be released
// from it: the container takes its id and directory. start() then sends the
// command, env, user, cwd, hostname, tty and stdio (release(p, spec)) and
// carries on as after a clone3. An adopted init that is never started
// (rm, daemon stop) is killed like a pooled one.
//
// Life: a pooled warm init's pidfd is polled, so one that dies (its mount
// plan failed, or something killed it) leaves the pool at once. A deferred
// child whose set-up fails exits rather than waiting. rmi and prune drop
// the image's warm inits, and a build still under way for it is dropped
// when it lands (a generation count per image).
//
// Costs, per warm init: one process (pid, kernel stacks, page tables of a
// copy-on-write copy of berthd; as berthd writes its own memory afterwards,
// the init keeps the old pages: at worst berthd's whole resident size, 14
// MiB here), its namespaces, overlay and mounts, a cgroup
// in each hierarchy, one netns from the pool and about 20 KiB of
// directories. A marker file (kWarmMarker) tells a leftover from a crash
// from a container whose state file is missing.
//
// Thread: reactor thread, except WarmBuild's work on the background lane.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"
#include "core/engine/container.h"
#include "core/reactor/reactor.h"
#include "core/runtime/spawn.h"

namespace berth::engine {

class Engine;

// An empty file in its directory: with no state file beside it, the
// directory is a warm init's (from before a crash), not a container's.
inline constexpr const char* kWarmMarker = "warm-init";

struct WarmInit {
  std::string id;                  // the container id it will give
  std::string image_id;
  uint64_t generation = 0;         // of its image's warm inits, at the build's start
  std::string dir;                 // <root>/containers/<id>
  runtime::Spec spec;              // as spawned (deferred; fds cleared), for can_release_as
  runtime::Process proc;
  std::shared_ptr<cgroups::Cgroup> cgroup;
  unique_fd log_fd, index_fd;      // <dir>/container.log and its index, made with the directory
  // The pooled network namespace the child joins, kept: the start makes
  // the veths in it by this fd, never through /proc/<pid>/ns/net, which
  // names berthd's own namespace until the child has joined (a start right
  // after the build would put eth0 there). Empty when clone3 made the
  // namespace (CLONE_NEWNET: the child's from the start).
  unique_fd netns;
  uint64_t keeper_gen = 0;         // the keeper that cloned it (0: berthd did)
  int64_t since_ns = 0;            // CLOCK_REALTIME before its clone (KeeperLink::watch)
  uint64_t start_ticks = 0;        // runtime::identity, read by the build (0: unknown)
  bool adopted = false;            // a container has it (its dir is the container's)
  uint64_t last_used = 0;          // pool order: the image's last start
  bool dying = false;              // in Engine::warm_dying_: killed, or found dead
  bool handed_over = false;        // a start took its process; only exit_c's end is awaited
  reactor::Completion exit_c;      // POLLIN on the pidfd, from the pool on until it ends
  std::function<void()> after_exit;
};

// What start() takes from an adopted warm init that is alive.
struct WarmHandover {
  runtime::Process proc;
  std::shared_ptr<cgroups::Cgroup> cgroup;
  unique_fd log_fd, index_fd;
  unique_fd netns;   // WarmInit::netns
  uint64_t keeper_gen = 0;
  int64_t since_ns = 0;
  uint64_t start_ticks = 0;
};

class WarmPool {
 public:
  // `target`: Options::warm_inits.
  WarmPool(Engine& e, size_t target);
  ~WarmPool();
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  // create(): the container takes a warm init of its image if its init
  // spec can be released from it (c.id and c.dir become the init's).
  bool adopt(Container& c);
  // start(): the adopted init's process, cgroup and log file, if it is
  // alive; else nothing, its cgroup moved to c.cgroup for the cold spawn.
  std::optional<WarmHandover> take(Container& c);
  // After a start: its image may want warm inits (judged at idle time).
  void after_start(const Container& c, const runtime::Spec& final);
  // Kills `w` and removes what it leaves (its directory unless adopted),
  // then runs `then`.
  void drop(std::unique_ptr<WarmInit> w, std::function<void()> then);
  void drop_image(const std::string& image_id);   // rmi, prune
  void drop_all();                                // shutdown
  bool busy() const;                              // builds, kills or cleanups under way
  size_t ready() const { return ready_.size(); }
  bool id_taken(const std::string& id) const;

 private:
  // `no_network`: for --network none containers, whose /sys differs
  // (runtime::Spec::sysfs_netns_fd).
  Result<runtime::Spec> spec_for(const std::string& image_id, const std::string& id, const std::string& dir,
                                 bool no_network);
  bool parent_ok(const Container& c) const;
  void schedule();
  void judge_candidates();
  void top_up();
  void fill(const std::string& image_id, uint64_t used);
  void built(std::unique_ptr<WarmInit> w, Result<void> result);
  void exit_seen(WarmInit* wp, int32_t res);
  void retire(std::unique_ptr<WarmInit> w);
  void dropped(WarmInit* w);

  Engine& e_;
  size_t target_;
  std::vector<std::unique_ptr<WarmInit>> ready_;     // ready for adoption
  std::vector<std::unique_ptr<WarmInit>> dying_;     // killed, exit not yet seen
  std::vector<std::unique_ptr<WarmInit>> retired_;   // handed over, pidfd poll ending
  std::map<std::string, uint64_t> generation_;       // image id -> bumped when its inits are dropped
  struct Candidate {                                 // a start that may want warm inits
    uint64_t used = 0;
    std::string id, dir;
    runtime::Spec final;
    bool no_network = false;                         // --network none
  };
  std::map<std::string, Candidate> candidates_;      // image id -> its latest start
  std::map<std::string, size_t> building_;           // image id -> builds on the background lane
  size_t cleaning_ = 0;                              // cgroup/dir removals on the job lane
  uint64_t clock_ = 0;                               // orders images by last start
  struct Wanted {                                    // an image's last start that could use one
    uint64_t used = 0;
    bool no_network = false;                         // it was --network none
  };
  std::map<std::string, Wanted> wanted_;             // image id -> its last start that could use one
  bool top_up_queued_ = false;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);   // expires with the pool (idle tasks)
};

}  // namespace berth::engine
