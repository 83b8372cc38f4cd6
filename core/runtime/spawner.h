// Spawner: a small helper process that does every clone3 for berthd:
// container inits (cold and warm, core/engine/warm.h) and exec'd processes.
// berthd itself never forks.
//
// Why: a fork marks every writable page of berthd copy-on-write, and while
// the child lives (a warm init waits for minutes) each page berthd then
// writes costs it a fault, a copy and, berthd having several threads, a TLB
// shootdown across CPUs: measured, 75 faults and a third of the reactor
// thread's CPU per `run --rm`. Worse, a fork holds the parent's mmap lock
// for writing while it copies the page tables, so any page fault or mmap
// of the reactor thread during a job lane's clone3 waits for it
// (milliseconds: the watchdog of core/reactor saw 16-70 ms). The spawner is
// forked once, when the engine opens; berthd pays for each of its pages
// once, and the spawner's own children share only the spawner's pages,
// which berthd never writes.
//
// The child is clone3'd with CLONE_PARENT (runtime::Spec::sibling), so it
// is berthd's child, as if berthd had spawned it: berthd polls and reaps its
// pidfd, and its death signal follows berthd's thread that forked the
// spawner (the reactor thread, alive as long as berthd).
//
// Protocol, on a SOCK_SEQPACKET socketpair, one request at a time: the Spec
// as JSON (its Security and a custom seccomp profile included), with its
// fds (netns, cgroup, join pidfd, stdin, stdout, stderr, the pid and ipc
// namespaces' pidfds to join; those >= 0, in that order) as SCM_RIGHTS; the answer {"pid": N} with the
// pidfd, sync socket and error pipe as SCM_RIGHTS, or {"error": message,
// "code": n, "errno": n}.
//
// The spawner dies with berthd (PR_SET_PDEATHSIG) or when its socket closes
// (~Spawner reaps it). If it is gone, spawn() fails with kNotFound and the
// caller forks by itself (runtime::spawn), as without a spawner.
//
// Thread: spawn() from any thread, one call at a time (a mutex orders them;
// it blocks for the round trip: job lanes only); start() and the
// destructor from the thread that owns it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/runtime/spawn.h"

namespace berth::runtime {

class Spawner {
 public:
  // Forks the spawner. Call early, from the reactor thread.
  static Result<std::unique_ptr<Spawner>> start();
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  // runtime::spawn(spec) in the spawner, as berthd's child (spec.sibling is
  // set here). spec must be deferred and have no stdio fds.
  Result<Process> spawn(const Spec& spec);

  pid_t pid() const { return pid_; }

 private:
  Spawner(pid_t pid, unique_fd sock) : pid_(pid), sock_(std::move(sock)) {}
  pid_t pid_;
  unique_fd sock_;
  std::mutex mu_;
};

// spawn(spec) through `s` when it runs (spec.sibling set), else in the
// calling process (runtime::spawn). Blocking: job lanes.
Result<Process> spawn_with(Spawner* s, const Spec& spec);

}  // namespace berth::runtime
