// Spawner: berthd's side of the keeper (keeper.h), the one process per
// daemon that does every clone3 for berthd (container inits, cold and warm
// (core/engine/warm.h), and exec'd processes) and outlives berthd. berthd
// itself never forks, but to start a keeper.
//
// Why a separate process does the clone3s: a fork marks every writable page
// of berthd copy-on-write, and while the child lives (a warm init waits for
// minutes) each page berthd then writes costs it a fault, a copy and, berthd
// having several threads, a TLB shootdown across CPUs: measured, 75 faults
// and a third of the reactor thread's CPU per `run --rm`. Worse, a fork
// holds the parent's mmap lock for writing while it copies the page tables,
// so any page fault or mmap of the reactor thread during a job lane's
// clone3 waits for it (milliseconds). The keeper is exec'd from berthd's
// binary, so it shares none of berthd's memory.
//
// Why that process is also the keeper: the children are the keeper's, not
// berthd's, so they survive berthd's death (a crash, an upgrade, a clean
// exit with --live-restore). berthd can poll and signal a non-child's pidfd
// but not waitid it: the exit status comes from the keeper (kExit on the
// events connection, read by the engine's reactor; engine/keeper_link.h).
//
// Two connections to <exec-root>/keeper.sock (SOCK_SEQPACKET): `ctl`, one
// request at a time under a mutex (spawn: the Spec as JSON with its fds
// (netns, cgroup, join pidfd, stdin, stdout, stderr, the pid and ipc
// namespaces' pidfds to join; those >= 0, in that order) as SCM_RIGHTS; the
// answer {"pid": N} with the pidfd, sync socket and error pipe, or {"error":
// message, "code": n, "errno": n}; and hello); and `events`, non-blocking:
// berthd's fire-and-forget notes (hold, release, kill-warm, quit) and the
// keeper's pushed exits. Format: keeper_proto.h.
//
// If the keeper is gone, spawn() fails with kNotFound and the caller forks
// by itself (runtime::spawn), as without a keeper; the engine starts a new
// keeper for new containers.
//
// Thread: spawn() and hello() from any thread, one call at a time (a mutex
// orders them; they block for the round trip: job lanes, or before the
// loop); notify()/hold()/release() from any thread (one non-blocking
// sendmsg); start() and the destructor from the thread that owns it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/reactor/fd_vault.h"
#include "core/runtime/keeper_proto.h"
#include "core/runtime/spawn.h"

namespace berth::runtime {

// What the keeper holds for one process (its answer to hello()).
struct KeptProcess {
  pid_t pid = 0;
  KeptKind kind = KeptKind::kInit;
  bool exited = false;
  int exit_code = 0;
  int64_t exit_ns = 0;
  std::string id;
  std::vector<unique_fd> fds;   // as held (kHold), in the order given
  // Or, when start() was given a vault, those fds in it (same order): a
  // restart with 10,000 containers would otherwise receive 20,000 at once.
  std::vector<uint32_t> keys;
};

class Spawner {
 public:
  // Connects to the keeper of `exec_root`, or starts one (then *found is
  // false). Call before the loop (it blocks briefly), or on a job lane.
  // `vault`: where the descriptors of hello's answer go as they arrive.
  static Result<std::unique_ptr<Spawner>> start(const std::string& exec_root, bool* found,
                                                reactor::FdVault* vault = nullptr);
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  // runtime::spawn(spec) in the keeper, as the keeper's child (its fds
  // travel as SCM_RIGHTS). kNotFound: the keeper is gone.
  Result<Process> spawn(const Spec& spec);

  // Every process the keeper knows, with what it holds: its answer to the
  // hello of start(), taken once.
  std::vector<KeptProcess> take_kept() { return std::move(kept_); }
  // Fire and forget, on the events connection.
  Result<void> hold(pid_t pid, const std::string& id, const std::vector<int>& fds);
  Result<void> release(pid_t pid);
  Result<void> notify(const KeeperMsg& m, const std::vector<int>& fds);

  pid_t pid() const { return pid_; }
  int events_fd() const { return events_.get(); }

 private:
  Spawner(pid_t pid, unique_fd ctl, unique_fd events)
      : pid_(pid), ctl_(std::move(ctl)), events_(std::move(events)) {}
  Result<std::vector<KeptProcess>> hello(reactor::FdVault* vault = nullptr);   // blocking
  pid_t pid_;
  unique_fd ctl_, events_;
  std::vector<KeptProcess> kept_;
  std::mutex mu_;
};

// spawn(spec) through `s` when it runs (the keeper's child), else in the
// calling process (runtime::spawn). Blocking: job lanes.
Result<Process> spawn_with(Spawner* s, const Spec& spec);

}  // namespace berth::runtime
