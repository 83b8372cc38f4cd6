// FdBudget: berthd refuses a start it could not finish for want of file
// descriptors, before it begins, instead of failing half-way.
//
// A start holds about kStartFds descriptors at its peak (pipes, the pidfd,
// the log file and its index, the error pipe, the sync socket, the
// namespace and cgroup fds); a running container keeps about five. berthd's
// limit is its RLIMIT_NOFILE (raised to the hard limit at start, which may
// not be raisable further: 20,000 on the machines this was written on).
// take() counts the open descriptors (/proc/self/fd: about a millisecond at
// 10,000) when its count is older than kRecountNs or the budget is within
// kNear of the limit (a tenth of it, at least kNearMin), adds the starts in
// flight, and refuses if the start would leave less than the reserve (the
// API's connections, the job lanes' files, other containers' exits and
// execs). Between counts, each finished start leaves its descriptors open
// uncounted (give_back ends only its reservation): kNearMin bounds what a
// quarter-second of starts may add, so a small limit is counted every time.
//
// Thread: reactor only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/base/result.h"

namespace berth::engine {

class FdBudget {
 public:
  static constexpr size_t kStartFds = 16;
  static constexpr int64_t kRecountNs = 250'000'000;
  static constexpr size_t kNearMin = 512;

  // limit: RLIMIT_NOFILE's soft limit (read now when 0).
  explicit FdBudget(size_t limit = 0);

  // Reserves n descriptors for a start, or says why not. `headroom`: that
  // many more must still fit after them, not reserved (a warm init leaves
  // room for the cold start that may follow).
  Result<void> take(size_t n = kStartFds, size_t headroom = 0);
  void give_back(size_t n = kStartFds) { in_flight_ -= n <= in_flight_ ? n : in_flight_; }

  size_t limit() const { return limit_; }
  size_t reserve() const { return reserve_; }
  size_t last_count() const { return count_; }

 private:
  size_t limit_;
  size_t reserve_;
  size_t count_ = 0;
  int64_t counted_ns_ = 0;
  size_t in_flight_ = 0;
};

}  // namespace berth::engine
