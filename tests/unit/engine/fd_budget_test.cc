// FdBudget against this process's real descriptor table.
#include "core/engine/fd_budget.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include <gtest/gtest.h>

#include "core/base/file.h"

namespace berth::engine {
namespace {

// Descriptors opened after a take() that finished (give_back) are seen by
// the next take(), even within the recount interval: near a small limit
// every take counts.
TEST(FdBudget, DescriptorsOpenedSinceTheLastCountAreSeenNearTheLimit) {
  long base = count_open_fds();
  ASSERT_GT(base, 0);
  size_t limit = size_t(base) + 300;
  FdBudget b(limit);
  ASSERT_TRUE(b.take().has_value());
  b.give_back();
  // What finished starts leave open: 250 descriptors, a moment later.
  std::vector<int> fds;
  for (int i = 0; i < 125; i++) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    fds.push_back(p[0]);
    fds.push_back(p[1]);
  }
  auto refused = b.take();   // base + 250 open + 16 + 64 reserved > base + 300
  EXPECT_FALSE(refused.has_value()) << "the start was let past the limit";
  if (!refused) {
    EXPECT_EQ(refused.error().sys_errno(), EMFILE);
    EXPECT_NE(refused.error().message().find("file descriptor limit"), std::string::npos);
  }
  for (int fd : fds) ::close(fd);
  EXPECT_TRUE(b.take().has_value());   // room again
}

// Far from the limit, a take does not count each time, and succeeds.
TEST(FdBudget, FarFromTheLimitStartsAreLetThrough) {
  FdBudget b(1 << 20);
  for (int i = 0; i < 100; i++) ASSERT_TRUE(b.take().has_value());
  for (int i = 0; i < 100; i++) b.give_back();
  EXPECT_EQ(b.reserve(), size_t((1 << 20) / 50));
}

}  // namespace
}  // namespace berth::engine
