#include "core/engine/fd_budget.h"

#include <sys/resource.h>

#include <algorithm>

#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::engine {

FdBudget::FdBudget(size_t limit) : limit_(limit) {
  if (limit_ == 0) {
    rlimit rl{};
    limit_ = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? size_t(rl.rlim_cur) : 1 << 20;
  }
  reserve_ = limit_ / 50 > 64 ? limit_ / 50 : 64;
}

Result<void> FdBudget::take(size_t n, size_t headroom) {
  int64_t now = now_ns();
  size_t need = count_ + in_flight_ + n + headroom + reserve_;
  size_t near = std::max(limit_ / 10, kNearMin);
  if (now - counted_ns_ > kRecountNs || need + near > limit_) {
    long c = count_open_fds();
    if (c >= 0) count_ = size_t(c);
    counted_ns_ = now;
    need = count_ + in_flight_ + n + headroom + reserve_;
  }
  if (need > limit_)
    return Error(Code::kSystem,
                 fmt::format("berthd is at its file descriptor limit: {} open and {} held by starts in progress, of "
                             "{} (RLIMIT_NOFILE), keeping {} in reserve; a start needs about {}. Stop or remove "
                             "containers, or start berthd with a higher limit",
                             count_, in_flight_, limit_, reserve_, n + headroom),
                 EMFILE);
  in_flight_ += n;
  return ok();
}

}  // namespace berth::engine
