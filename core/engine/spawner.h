// Spawner: a small helper process that clone3s warm inits (warm.h) for
// berthd, so that berthd itself does not fork for them.
//
// Why: a fork marks every writable page of berthd copy-on-write, and while
// the child lives (a warm init waits for minutes) each page berthd then
// writes costs it a fault, a copy and, berthd having several threads, a TLB
// shootdown across CPUs: measured, 75 faults and a third of the reactor
// thread's CPU per `run --rm`. The spawner is forked once, when the engine
// opens; berthd pays for each of its pages once, and the spawner's own
// children share only the spawner's pages, which berthd never writes.
//
// The init is clone3'd with CLONE_PARENT (runtime::Spec::sibling), so it is
// berthd's child, as if berthd had spawned it: berthd polls and reaps its
// pidfd, and its death signal follows berthd's thread that forked the
// spawner (the reactor thread, alive as long as berthd).
//
// Protocol, on a SOCK_SEQPACKET socketpair, one request at a time: the Spec
// as JSON, with its netns_fd and cgroup_fd (when >= 0) as SCM_RIGHTS; the
// answer {"pid": N} with the pidfd, sync socket and error pipe as
// SCM_RIGHTS, or {"error": message, "code": n, "errno": n}. Deferred specs
// without stdio only (warm inits): the child's stdio come with the release.
//
// The spawner dies with berthd (PR_SET_PDEATHSIG) or when its socket closes
// (~Spawner reaps it). If it is gone, spawn() fails with kNotFound and warm
// inits are forked by berthd's background lane, as without a spawner.
//
// Thread: spawn() from one thread at a time (the background lane);
// start() and the destructor from the reactor thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/runtime/spawn.h"

namespace berth::engine {

class Spawner {
 public:
  // Forks the spawner. Call early, from the reactor thread.
  static Result<std::unique_ptr<Spawner>> start();
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  // runtime::spawn(spec) in the spawner, as berthd's child (spec.sibling is
  // set here). spec must be deferred and have no stdio fds.
  Result<runtime::Process> spawn(const runtime::Spec& spec);

  pid_t pid() const { return pid_; }

 private:
  Spawner(pid_t pid, unique_fd sock) : pid_(pid), sock_(std::move(sock)) {}
  pid_t pid_;
  unique_fd sock_;
  std::mutex mu_;
};

}  // namespace berth::engine
