// KeeperLink: the engine's ear on the keeper (runtime/keeper.h). The keeper,
// not berthd, is the parent of every container process, so berthd cannot
// waitid them; their exit statuses arrive here, pushed by the keeper on the
// events connection (runtime/spawner.h) as it reaps them.
//
// A container's init is watched from its start (watch(), container_exit.cc):
// berthd keeps no pidfd for it, and the keeper's push is what ends it. An
// exec's watch polls its pidfd; once readable and waitid says ECHILD (not
// our child), it asks on_exit() for the status, which the keeper sent or
// is about to send.
//
// If the keeper dies (EOF), the link logs an error, answers every waiter
// with nullopt (the status is lost; the processes died with their keeper:
// PDEATHSIG), counts the loss for GET /info, and calls `lost` so the engine
// starts a new keeper for new containers (attach() again).
//
// Thread: reactor thread only. The recv's Completion is embedded here; the
// owner calls close() and waits for !busy() before destroying it.
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "core/reactor/reactor.h"
#include "core/runtime/keeper_proto.h"

namespace berth::runtime {
class Spawner;
}

namespace berth::engine {

struct KeptExit {
  int exit_code = 0;
  int64_t exit_ns = 0;
};

class KeeperLink {
 public:
  KeeperLink(reactor::Reactor& r, std::function<void()> lost);
  KeeperLink(const KeeperLink&) = delete;
  KeeperLink& operator=(const KeeperLink&) = delete;

  // `s` is the keeper from now on (a new generation); listen() starts
  // reading its events connection (once the owner can no longer fail to
  // open: an owner must not go with the recv in flight).
  void attach(std::shared_ptr<runtime::Spawner> s);
  void listen() { receive(); }
  // Bumped by each attach(): a process spawned under an earlier keeper
  // has lost its status with that keeper.
  uint64_t generation() const { return generation_; }
  // fn(status) once the keeper of generation `gen` reported pid's exit: at
  // once if it has; nullopt at once if that keeper is gone.
  void on_exit(pid_t pid, uint64_t gen, std::function<void(std::optional<KeptExit>)> fn);
  // `fn` gets the exit of `pid`, a process of keeper `gen` that was alive
  // at CLOCK_REALTIME `since_ns`, once the keeper reports it (or at once if
  // it has). An exit already reported for the same pid is an earlier
  // process's (a reused pid) if it is older than `since_ns` and the caller
  // found the process alive (`alive`, checked through its pidfd just
  // before): it is dropped. nullopt: the keeper is gone.
  void watch(pid_t pid, uint64_t gen, int64_t since_ns, bool alive, std::function<void(std::optional<KeptExit>)> fn);
  // Stops a watch (or an on_exit wait) without calling it.
  void unwatch(pid_t pid) { waiters_.erase(pid); }
  // Exits the keeper reported before berthd asked (hello at start).
  void remember(pid_t pid, KeptExit e);
  // Ends the recv; `closed` runs once it is over (at once if none is in flight).
  void close(std::function<void()> closed);
  bool busy() const { return recv_c_.in_flight(); }
  bool connected() const { return connected_; }
  uint64_t losses() const { return losses_; }

 private:
  void receive();
  void received(int32_t res);

  reactor::Reactor& r_;
  std::function<void()> lost_, closed_;
  std::shared_ptr<runtime::Spawner> s_;
  runtime::KeeperMsg msg_;
  reactor::Completion recv_c_;
  bool connected_ = false, closing_ = false;
  uint64_t losses_ = 0, generation_ = 0;
  std::map<pid_t, KeptExit> exits_;           // reported, not asked for yet
  std::deque<pid_t> exit_order_;              // bounds exits_ (warm inits' are never asked for)
  std::map<pid_t, std::function<void(std::optional<KeptExit>)>> waiters_;
};

}  // namespace berth::engine
