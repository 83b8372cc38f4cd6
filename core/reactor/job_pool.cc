#include "core/reactor/job_pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>

namespace berth::reactor {

JobPool::JobPool(unsigned threads, int event_fd, int nice) : event_fd_(event_fd) {
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
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool JobPool::submit(std::function<void()> work, std::function<void()> done) {
  {
    std::lock_guard lk(mu_);
    if (queue_.size() >= kMaxQueued) return false;
    queue_.push_back({std::move(work), std::move(done)});
  }
  outstanding_++;
  cv_.notify_one();
  return true;
}

std::vector<std::function<void()>> JobPool::take_finished() {
  std::vector<std::function<void()>> out;
  {
    std::lock_guard lk(mu_);
    out.swap(finished_);
  }
  outstanding_ -= out.size();
  return out;
}

void JobPool::worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return quit_ || !queue_.empty(); });
      if (quit_) return;
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
