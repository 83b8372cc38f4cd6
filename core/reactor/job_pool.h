// JobPool: a few threads for blocking or CPU-heavy work (tar, digests, fsync).
// Jobs are closures over owned input; results come back to the reactor
// thread: after `work` finishes on a pool thread, `done` is queued and the
// pool's eventfd is signalled; the reactor drains finished jobs and runs each
// `done` on its own thread. Jobs never touch reactor-owned objects.
//
// The reactor side never waits for a worker: it only ever try_lock()s the
// queue's mutex (a worker holding it may be preempted for a whole time
// slice on a busy host), and wakes workers through an eventfd in semaphore
// mode (a condition variable's signal can wait on the condvar's internal
// lock: glibc's pthread_cond_signal, seen holding the reactor for
// milliseconds). A failed try is retried by the caller.
//
// Thread: try_submit() and take_finished() are reactor-thread-only; the
// workers are the pool's own threads. The queue is bounded (kMaxQueued).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/base/unique_fd.h"

namespace berth::reactor {

class JobPool {
 public:
  static constexpr size_t kMaxQueued = 4096;

  // `nice`: each worker thread's nice value (setpriority on its tid).
  JobPool(unsigned threads, int event_fd, int nice = 0);
  ~JobPool();
  JobPool(const JobPool&) = delete;
  JobPool& operator=(const JobPool&) = delete;

  // Queues the job, taking `work` and `done` (moved from) only when there
  // is room and the queue's lock is free right now; false, leaving them as
  // they were, otherwise (the caller keeps them and tries again later).
  bool try_submit(std::function<void()>& work, std::function<void()>& done);
  // The `done` callbacks of finished jobs, in finishing order; `*busy` is
  // set when the lock was taken and nothing could be read (try again).
  std::vector<std::function<void()>> take_finished(bool* busy);
  size_t outstanding() const { return outstanding_; }

 private:
  struct Job { std::function<void()> work, done; };
  void worker();

  int event_fd_;            // the reactor's: one write per finished job
  unique_fd wake_;          // workers': EFD_SEMAPHORE, one count per queued job
  std::mutex mu_;
  std::deque<Job> queue_;
  std::vector<std::function<void()>> finished_;
  bool quit_ = false;
  size_t outstanding_ = 0;  // reactor thread only
  std::vector<std::thread> threads_;
};

}  // namespace berth::reactor
