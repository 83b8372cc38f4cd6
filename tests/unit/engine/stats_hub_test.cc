// StatsHub (core/engine/stats_hub.h) on a real reactor, with cgroups that
// only answer stats(): a pass of every container is not queued again while
// one is still reading, and each sample reaches its own container's
// subscribers and no one else's.
#include "core/engine/stats_hub.h"

#include <condition_variable>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

// Holds every stats() call while closed.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  void set(bool o) {
    std::lock_guard lock(mu);
    open = o;
    cv.notify_all();
  }
  void pass() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return open; });
  }
};

// memory_usage names the container, so a sink can tell whose sample it got.
class FakeCgroup : public cgroups::Cgroup {
 public:
  FakeCgroup(uint64_t mark, Gate& gate) : mark_(mark), gate_(gate) {}
  const std::string& path() const override { return path_; }
  int clone_into_fd() const override { return -1; }
  Result<void> add_process(pid_t) override { return ok(); }
  Result<void> set(const cgroups::Resources&) override { return ok(); }
  Result<void> set_devices(const std::vector<cgroups::DeviceRule>&) override { return ok(); }
  Result<void> freeze() override { return ok(); }
  Result<void> thaw() override { return ok(); }
  Result<bool> frozen() override { return false; }
  Result<void> kill_all() override { return ok(); }
  Result<std::vector<pid_t>> pids() override { return std::vector<pid_t>{}; }
  Result<cgroups::Stats> stats() override {
    gate_.pass();
    cgroups::Stats s;
    s.memory_usage = mark_;
    return s;
  }
  Result<uint64_t> oom_kills() override { return uint64_t(0); }
  Result<unique_fd> oom_notifier() override { return Error::not_found("none"); }
  Result<void> destroy() override { return ok(); }

 private:
  std::string path_ = "/fake";
  uint64_t mark_;
  Gate& gate_;
};

// Runs the loop until `cond` holds, a bounded number of turns.
template <class Cond>
bool run_until(reactor::Reactor& r, Cond cond) {
  for (int i = 0; i < 20000 && !cond(); i++) r.run_once(5);
  return cond();
}

// Lets the last armed tick fire (the hub arms none once nobody is
// subscribed), so the hub can go with no timer in flight.
void let_timer_end(reactor::Reactor& r) {
  for (int i = 0; i < 20; i++) r.run_once(5);
}

TEST(StatsHub, APassOfEveryContainerIsNotQueuedAgainWhileOneIsReading) {
  auto r = reactor::Reactor::create(64, 2);
  ASSERT_TRUE(r.has_value());
  Gate gate;
  {
    StatsHub hub(**r, /*interval_ms=*/1);
    gate.set(false);
    int samples = 0;
    uint64_t token = hub.subscribe("a", std::make_shared<FakeCgroup>(1, gate), [&](const StatsSample* s) {
      if (s) samples++;
    });
    // The subscriber's own first read and one pass of every container, both
    // held at the gate, on the two workers.
    ASSERT_TRUE(run_until(**r, [&] { return hub.passes() >= 2; }));
    for (int i = 0; i < 200; i++) (*r)->run_once(2);  // some hundred ticks go by
    EXPECT_EQ(hub.passes(), 2u);
    gate.set(true);
    ASSERT_TRUE(run_until(**r, [&] { return samples >= 2; }));
    // Passes go on once the held one is done.
    ASSERT_TRUE(run_until(**r, [&] { return hub.passes() >= 3; }));
    hub.unsubscribe(token);
    let_timer_end(**r);
  }
  ASSERT_TRUE(run_until(**r, [&] { return (*r)->jobs_outstanding() == 0; }));
}

TEST(StatsHub, EachSampleReachesOnlyItsOwnContainersSubscribers) {
  auto r = reactor::Reactor::create(64, 2);
  ASSERT_TRUE(r.has_value());
  Gate gate;
  std::map<std::string, std::shared_ptr<FakeCgroup>> cgs = {
      {"a", std::make_shared<FakeCgroup>(1, gate)},
      {"b", std::make_shared<FakeCgroup>(2, gate)},
      {"c", std::make_shared<FakeCgroup>(3, gate)}};
  {
    StatsHub hub(**r, /*interval_ms=*/1);
    struct Seen {
      uint64_t want;
      int good = 0, wrong = 0;
    };
    std::vector<Seen> seen = {{1}, {1}, {2}, {3}};  // two subscribers of a
    std::vector<uint64_t> tokens;
    const char* ids[] = {"a", "a", "b", "c"};
    for (size_t i = 0; i < seen.size(); i++)
      tokens.push_back(hub.subscribe(ids[i], cgs[ids[i]], [&seen, i](const StatsSample* s) {
        if (!s) return;
        (s->stats.memory_usage == seen[i].want ? seen[i].good : seen[i].wrong)++;
      }));
    ASSERT_TRUE(run_until(**r, [&] {
      for (const auto& s : seen)
        if (s.good < 3) return false;
      return true;
    }));
    for (const auto& s : seen) EXPECT_EQ(s.wrong, 0) << "container " << s.want;
    for (uint64_t t : tokens) hub.unsubscribe(t);
    let_timer_end(**r);
  }
  ASSERT_TRUE(run_until(**r, [&] { return (*r)->jobs_outstanding() == 0; }));
}

}  // namespace
}  // namespace berth::engine
