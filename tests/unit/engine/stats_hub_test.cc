// StatsHub (core/engine/stats_hub.h) on a real reactor, with cgroups that
// only answer stats(): a pass of every container is not queued again while
// one is still reading, each sample reaches its own container's
// subscribers and no one else's, subscribers who come together share one
// first read, and no subscriber gets a sample older than its last.
#include "core/engine/stats_hub.h"

#include <algorithm>
#include <atomic>
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

// Holds only its first stats() call at the gate.
class HoldFirstCgroup : public FakeCgroup {
 public:
  HoldFirstCgroup(Gate& gate, Gate& never) : FakeCgroup(0, never), gate_(gate) {}
  Result<cgroups::Stats> stats() override {
    if (calls_++ == 0) gate_.pass();
    return cgroups::Stats{};
  }

 private:
  Gate& gate_;
  std::atomic<int> calls_{0};
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

TEST(StatsHub, SubscribersWhoComeDuringAFirstReadShareTheNext) {
  auto r = reactor::Reactor::create(64, 2);
  ASSERT_TRUE(r.has_value());
  Gate gate;
  {
    StatsHub hub(**r, /*interval_ms=*/1);
    gate.set(false);
    constexpr int kSubs = 3 * int(StatsHub::kChunk) + 7;   // four chunks after the first
    std::vector<int> got(kSubs, 0);   // samples of its own container
    std::vector<uint64_t> tokens;
    for (int i = 0; i < kSubs; i++)
      tokens.push_back(hub.subscribe("c" + std::to_string(i), std::make_shared<FakeCgroup>(uint64_t(i), gate),
                                     [&got, i](const StatsSample* s) {
                                       if (s && s->stats.memory_usage == uint64_t(i)) got[i]++;
                                     }));
    // The first subscriber's read began at once (held at the gate); the
    // others wait for it to end, then are read together (full passes may
    // come between: the timer runs as well).
    EXPECT_EQ(hub.passes(), 1u);
    EXPECT_EQ(hub.first_passes(), 1u);
    gate.set(true);
    ASSERT_TRUE(run_until(**r, [&] { return std::count(got.begin(), got.end(), 0) == 0; }));
    EXPECT_EQ(hub.first_passes(), 2u);
    for (uint64_t t : tokens) hub.unsubscribe(t);
    let_timer_end(**r);
  }
  ASSERT_TRUE(run_until(**r, [&] { return (*r)->jobs_outstanding() == 0; }));
}

TEST(StatsHub, AFirstReadThatEndsAfterANewerOneIsNotGiven) {
  auto r = reactor::Reactor::create(64, 2);
  ASSERT_TRUE(r.has_value());
  Gate gate, open;
  {
    StatsHub hub(**r, /*interval_ms=*/1);
    gate.set(false);
    std::vector<int64_t> reads;
    uint64_t token = hub.subscribe("x", std::make_shared<HoldFirstCgroup>(gate, open), [&](const StatsSample* s) {
      if (s) reads.push_back(s->read_ns);
    });
    // The first read is held; a full pass reads the container again and
    // its sample is given first.
    ASSERT_TRUE(run_until(**r, [&] { return reads.size() >= 2; }));
    gate.set(true);   // the held read ends: older than what was given
    ASSERT_TRUE(run_until(**r, [&] { return !hub.first_pass_running(); }));
    ASSERT_TRUE(run_until(**r, [&] { return reads.size() >= 4; }));
    for (size_t i = 1; i < reads.size(); i++) EXPECT_GT(reads[i], reads[i - 1]) << "sample " << i;
    hub.unsubscribe(token);
    let_timer_end(**r);
  }
  ASSERT_TRUE(run_until(**r, [&] { return (*r)->jobs_outstanding() == 0; }));
}

TEST(StatsHub, NoSubscriberGetsASampleOlderThanItsLast) {
  auto r = reactor::Reactor::create(64, 2);
  ASSERT_TRUE(r.has_value());
  Gate gate;
  {
    StatsHub hub(**r, /*interval_ms=*/1);
    // Subscribers come while full passes (in chunks, on two threads) and
    // first passes run: their samples can finish out of order.
    constexpr int kContainers = 2 * int(StatsHub::kChunk) + 1;
    std::vector<std::shared_ptr<FakeCgroup>> cgs;
    for (int i = 0; i < kContainers; i++) cgs.push_back(std::make_shared<FakeCgroup>(uint64_t(i), gate));
    struct Seen {
      int64_t last = 0;
      int samples = 0, older = 0;
    };
    std::vector<Seen> seen(200);
    std::vector<uint64_t> tokens;
    for (size_t k = 0; k < seen.size(); k++) {
      int c = int(k * 7 % kContainers);
      tokens.push_back(hub.subscribe("c" + std::to_string(c), cgs[size_t(c)], [&seen, k](const StatsSample* s) {
        if (!s) return;
        if (s->read_ns < seen[k].last) seen[k].older++;
        seen[k].last = s->read_ns;
        seen[k].samples++;
      }));
      (*r)->run_once(0);
    }
    ASSERT_TRUE(run_until(**r, [&] {
      for (const auto& s : seen)
        if (s.samples < 3) return false;
      return true;
    }));
    for (size_t k = 0; k < seen.size(); k++) EXPECT_EQ(seen[k].older, 0) << "subscriber " << k;
    for (uint64_t t : tokens) hub.unsubscribe(t);
    let_timer_end(**r);
  }
  ASSERT_TRUE(run_until(**r, [&] { return (*r)->jobs_outstanding() == 0; }));
}

}  // namespace
}  // namespace berth::engine
