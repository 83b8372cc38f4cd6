// A gtest fixture sharing one TestDaemon (with the busybox image imported)
// across the tests of a suite. Skips when not root.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "tools/testkit/daemon.h"

namespace berth::test {

class DaemonSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root()) return;
    daemon_ = std::make_unique<TestDaemon>();
    std::string err;
    if (!daemon_->start(&err) || !daemon_->import_busybox(&err)) {
      start_error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      int rc = daemon_->stop();
      EXPECT_EQ(rc, 0) << "berthd did not shut down cleanly:\n" << daemon_->log();
    }
    daemon_.reset();
  }
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(daemon_) << "berthd failed to start: " << start_error_;
  }
  TestDaemon& d() { return *daemon_; }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string start_error_;
};

}  // namespace berth::test
