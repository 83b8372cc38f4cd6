// NetnsPool: a few network namespaces created ahead of time, so starting a
// container with its own network does not pay for creating one (about
// 0.5-1 ms here: a new netns, its loopback, its sysctls). Namespaces are
// made on the job pool (create_netns moves only the worker thread),
// handed out one per container start, and refilled in the background.
//
// Thread: reactor thread only. The pool owns its fds; take() hands one to the
// caller, who closes it after spawning (the child holds its own copy until
// it joins the namespace). If creating namespaces fails, the pool stops
// trying and take() returns nothing: callers then clone a new netns inline.
#pragma once

#include <memory>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"

namespace berth::netns {

class NetnsPool {
 public:
  NetnsPool(reactor::Reactor& r, size_t target) : r_(r), target_(target), alive_(std::make_shared<bool>(true)) {}
  ~NetnsPool() { *alive_ = false; }
  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;

  void fill();
  // A ready namespace, or an empty fd when none is ready.
  unique_fd take();
  size_t ready() const { return ready_.size(); }

 private:
  reactor::Reactor& r_;
  size_t target_;
  size_t in_flight_ = 0;
  bool failed_ = false;
  std::vector<unique_fd> ready_;
  // Job completions check this: the pool may be gone when a job finishes.
  std::shared_ptr<bool> alive_;
};

}  // namespace berth::netns
