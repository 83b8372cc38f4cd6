#include "netns/netns_pool.h"

#include "core/base/log.h"
#include "netns/netns.h"

namespace berth::netns {

void NetnsPool::fill() {
  while (!failed_ && ready_.size() + in_flight_ < target_) {
    auto result = std::make_shared<Result<unique_fd>>(Error(Code::kCancelled, "not run"));
    bool queued = r_.run_background([result] { *result = create_netns(); },
                             [this, result, alive = alive_] {
                               if (!*alive) return;
                               in_flight_--;
                               if (!*result) {
                                 log::warn("engine", "network namespace pool disabled: {}",
                                           result->error().message());
                                 failed_ = true;
                                 return;
                               }
                               ready_.push_back(std::move(**result));
                             });
    if (!queued) return;
    in_flight_++;
  }
}

unique_fd NetnsPool::take() {
  unique_fd fd;
  if (!ready_.empty()) {
    fd = std::move(ready_.back());
    ready_.pop_back();
  }
  fill();
  return fd;
}

}  // namespace berth::netns
