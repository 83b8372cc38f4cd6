#include "core/reactor/job_pool.h"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>

#include "core/base/assert.h"

namespace berth::reactor {

JobPool::JobPool(unsigned threads, int event_fd, int nice) : event_fd_(event_fd) {
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE));
  BERTH_ASSERT_MSG(wake_, "job pool: eventfd");
  for (unsigned i = 0; i < threads; i++)
    threads_.emplace_back([this, nice] {
      if (nice) (void)::setpriority(PRIO_PROCESS, id_t(::gettid()), nice);
      worker();
    });
}

JobPool::~JobPool() {
  {
    std::lock_guard lk(mu_);
    quit_ = true;
  }
  uint64_t all = threads_.size();
  ssize_t r = ::write(wake_.get(), &all, sizeof all);
  (void)r;
  for (auto& t : threads_) t.join();
}

bool JobPool::try_submit(std::function<void()>& work, std::function<void()>& done) {
  {
    std::unique_lock lk(mu_, std::try_to_lock);
    if (!lk.owns_lock() || queue_.size() >= kMaxQueued) return false;
    queue_.push_back({std::move(work), std::move(done)});
  }
  outstanding_++;
  uint64_t one = 1;
  ssize_t r = ::write(wake_.get(), &one, sizeof one);  // an eventfd write never blocks below 2^64-2
  (void)r;
  return true;
}

std::vector<std::function<void()>> JobPool::take_finished(bool* busy) {
  std::vector<std::function<void()>> out;
  {
    std::unique_lock lk(mu_, std::try_to_lock);
    if (!lk.owns_lock()) {
      *busy = true;
      return out;
    }
    out.swap(finished_);
  }
  outstanding_ -= out.size();
  return out;
}

void JobPool::worker() {
  for (;;) {
    uint64_t n;
    if (::read(wake_.get(), &n, sizeof n) < 0) continue;  // EINTR
    Job job;
    {
      std::lock_guard lk(mu_);
      if (quit_) return;
      if (queue_.empty()) continue;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.work();
    {
      std::lock_guard lk(mu_);
      finished_.push_back(std::move(job.done));
    }
    uint64_t one = 1;
    ssize_t r = ::write(event_fd_, &one, sizeof one);
    (void)r;  // an eventfd write only fails on counter overflow
  }
}

}  // namespace berth::reactor
