// A gtest fixture sharing one TestDaemon (with the busybox image imported)
// across the tests of a suite. Skips when not root.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/testkit/daemon.h"

namespace berth::test {

// GET /containers/<ref>/json on `d`, or an empty object.
inline nlohmann::json inspect_in(TestDaemon& d, const std::string& ref) {
  auto r = d.client().request("GET", "/containers/" + ref + "/json");
  if (!r || r->status != 200) return nlohmann::json::object();
  return nlohmann::json::parse(r->body, nullptr, false);
}

// Until `pred` holds on the container's inspect on `d`: polled every 20 ms
// for up to `limit` (bounded, never a timed assertion).
inline bool wait_in(TestDaemon& d, const std::string& id, const std::function<bool(const nlohmann::json&)>& pred,
                    std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    nlohmann::json j = inspect_in(d, id);
    if (j.is_object() && j.contains("State") && pred(j)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Until pred() holds, at most `attempts` tries 50 ms apart (20 s by
// default; bounded, never a timed assertion).
template <class F>
bool eventually(F pred, int attempts = 400) {
  for (int i = 0; i < attempts; i++) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

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

  // `run -d args...`: the new container's full id ("" when it failed,
  // which fails the test).
  std::string run_d(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d"});
    auto r = d().ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? r.out.substr(0, 64) : "";
  }
  // The suite's daemon's: inspect_in and wait_in above.
  nlohmann::json inspect(const std::string& ref) { return inspect_in(d(), ref); }
  bool wait_for(const std::string& id, const std::function<bool(const nlohmann::json&)>& pred) {
    return wait_in(d(), id, pred);
  }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string start_error_;
};

}  // namespace berth::test
