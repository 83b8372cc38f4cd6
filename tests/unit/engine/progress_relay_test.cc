// ProgressRelay (core/engine/progress_relay.h): events pushed from other
// threads reach the sink on the reactor thread, in order, with byte counts
// coalesced.
#include "core/engine/progress_relay.h"

#include <thread>

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using fs::registry::ProgressEvent;

ProgressEvent ev(std::string id, std::string status, int64_t current = -1) {
  ProgressEvent e;
  e.id = std::move(id);
  e.status = std::move(status);
  if (current >= 0) {
    e.has_detail = true;
    e.current = current;
    e.total = 100;
  }
  return e;
}

std::string show(const std::vector<ProgressEvent>& v) {
  std::string out;
  for (const auto& e : v) out += e.id + ":" + e.status + (e.has_detail ? "=" + std::to_string(e.current) : "") + " ";
  return out;
}

TEST(ProgressRelay, CoalesceKeepsTheLastCountOfARun) {
  std::vector<ProgressEvent> in = {
      ev("a", "Pulling fs layer"), ev("b", "Pulling fs layer"), ev("a", "Downloading", 10),
      ev("b", "Downloading", 5),   ev("a", "Downloading", 20),  ev("a", "Downloading", 30),
      ev("a", "Download complete"), ev("a", "Extracting", 50),  ev("a", "Extracting", 100),
      ev("b", "Downloading", 7),   ev("", "Digest: x")};
  EXPECT_EQ(show(ProgressRelay::coalesce(in)),
            "a:Pulling fs layer b:Pulling fs layer a:Downloading=30 b:Downloading=7 a:Download complete "
            "a:Extracting=100 :Digest: x ");
}

TEST(ProgressRelay, EventsFromAThreadArriveOnTheReactorInOrder) {
  auto r = reactor::Reactor::create(64, 1);
  ASSERT_TRUE(r.has_value());
  std::vector<ProgressEvent> got;
  auto reactor_thread = std::this_thread::get_id();
  auto relay = std::make_shared<ProgressRelay>(**r, [&](const ProgressEvent& e) {
    EXPECT_EQ(std::this_thread::get_id(), reactor_thread);
    got.push_back(e);
  });
  bool done = false;
  ASSERT_TRUE((*r)->run_bulk(
      [relay] {
        for (int layer = 0; layer < 5; layer++) {
          std::string id = "l" + std::to_string(layer);
          relay->push(ev(id, "Pulling fs layer"));
          for (int i = 1; i <= 100; i++) relay->push(ev(id, "Downloading", i));
          relay->push(ev(id, "Pull complete"));
        }
      },
      [&] {
        relay->drain();
        done = true;
      }));
  for (int i = 0; i < 100000 && !done; i++) (*r)->run_once(1000);
  ASSERT_TRUE(done);
  // Every status event is there, in order; each layer's last count is 100.
  std::vector<std::string> statuses;
  for (const auto& e : got)
    if (!e.has_detail) statuses.push_back(e.id + ":" + e.status);
  ASSERT_EQ(statuses.size(), 10u);
  for (int layer = 0; layer < 5; layer++) {
    std::string id = "l" + std::to_string(layer);
    EXPECT_EQ(statuses[2 * layer], id + ":Pulling fs layer");
    EXPECT_EQ(statuses[2 * layer + 1], id + ":Pull complete");
    int64_t last = -1;
    for (const auto& e : got)
      if (e.id == id && e.has_detail) {
        EXPECT_GT(e.current, last);
        last = e.current;
      }
    EXPECT_EQ(last, 100);
  }
}

TEST(ProgressRelay, ClosedRelayCallsNoSink) {
  auto r = reactor::Reactor::create(64, 1);
  ASSERT_TRUE(r.has_value());
  int calls = 0;
  auto relay = std::make_shared<ProgressRelay>(**r, [&](const ProgressEvent&) { calls++; });
  relay->push(ev("a", "Pulling fs layer"));
  relay->close();
  relay->drain();
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace berth::engine
