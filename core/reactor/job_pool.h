// JobPool: a few threads for blocking or CPU-heavy work (tar, digests, fsync).
// Jobs are closures over owned input; results come back to the reactor
// thread: after `work` finishes on a pool thread, `done` is queued and the
// pool's eventfd is signalled; the reactor drains finished jobs and runs each
// `done` on its own thread. Jobs never touch reactor-owned objects.
//
// Thread: submit() and take_finished() are reactor-thread-only; the workers
// are the pool's own threads. The queue is bounded (kMaxQueued).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::reactor {

class JobPool {
 public:
  static constexpr size_t kMaxQueued = 4096;

  // `nice`: each worker thread's nice value (setpriority on its tid).
  JobPool(unsigned threads, int event_fd, int nice = 0);
  ~JobPool();
  JobPool(const JobPool&) = delete;
  JobPool& operator=(const JobPool&) = delete;

  bool submit(std::function<void()> work, std::function<void()> done);
  // The `done` callbacks of finished jobs, in finishing order.
  std::vector<std::function<void()>> take_finished();
  size_t outstanding() const { return outstanding_; }

 private:
  struct Job { std::function<void()> work, done; };
  void worker();

  int event_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<std::function<void()>> finished_;
  bool quit_ = false;
  size_t outstanding_ = 0;   // reactor thread only
  std::vector<std::thread> threads_;
};

}  // namespace berth::reactor
