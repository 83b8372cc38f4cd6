// OutputPump parking (log_pump.h): an idle pump's pipes, log and index go
// to the vault and their descriptors close; output that comes later is
// logged all the same, and the pump parks again once idle.
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/engine/log_index.h"
#include "core/engine/log_pump.h"
#include "core/reactor/fd_vault.h"
#include "core/reactor/reactor.h"

namespace berth::engine {
namespace {

struct Box {
  std::string dir, path;
  unique_fd out_w, err_w;
  std::unique_ptr<OutputPump> pump;
  uint64_t committed = 0;
};

void make_box(Box& b, reactor::Reactor& r, PumpParking& parking) {
  char tmpl[] = "/tmp/berth-pump-park-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  b.dir = tmpl;
  b.path = b.dir + "/container.log";
  int o[2], e[2];
  ASSERT_EQ(::pipe2(o, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(e, O_CLOEXEC), 0);
  b.out_w.reset(o[1]);
  b.err_w.reset(e[1]);
  auto log_fd = open_fd(b.path, O_WRONLY | O_CREAT, 0600);
  ASSERT_TRUE(log_fd);
  OutputPump::Callbacks cb;
  cb.committed = [&b](uint64_t n) { b.committed = n; };
  b.pump = std::make_unique<OutputPump>(r, std::move(*log_fd), 0, unique_fd(o[0]), unique_fd(e[0]), std::move(cb),
                                        &parking);
  b.pump->use_log_files(b.path, LogConfig{}, IndexWriter::open_file(log_index_path(b.path)));
}

template <typename F>
void run_until(reactor::Reactor& r, F done) {
  for (int i = 0; i < 2000 && !done(); i++) r.run_once(5);
}

void finish(Box& b, reactor::Reactor& r) {
  b.out_w.reset();
  b.err_w.reset();
  run_until(r, [&] { return b.pump->drained() && !b.pump->busy(); });
  ASSERT_TRUE(b.pump->drained());
  b.pump.reset();
  EXPECT_TRUE(remove_tree(b.dir));
}

TEST(OutputPumpParking, AParkedPumpHoldsNoDescriptorAndStillLogsEverything) {
  auto r = reactor::Reactor::create(64, 1);
  ASSERT_TRUE(r);
  PumpParking parking(0);  // every idle pump parks at once
  if (!parking.enabled()) GTEST_SKIP() << "no IORING_OP_FIXED_FD_INSTALL here (Linux 6.8)";
  Box b;
  make_box(b, **r, parking);
  long before = count_open_fds();
  b.pump->start();
  run_until(**r, [&] { return b.pump->parked(); });
  ASSERT_TRUE(b.pump->parked());
  EXPECT_EQ(parking.parked(), 1u);
  EXPECT_EQ(parking.vault().held(), 4u) << "two pipes, the log and its index";
  // Its four descriptors are closed (start may have made the shared
  // scratch pipe and opened /dev/null: three more, once per thread).
  EXPECT_LE(count_open_fds() + 1, before);

  for (int round = 0; round < 3; round++) {
    std::string out = "out line " + std::to_string(round) + "\n", err = "err line " + std::to_string(round) + "\n";
    ASSERT_TRUE(write_all(b.out_w.get(), out));
    ASSERT_TRUE(write_all(b.err_w.get(), err));
    uint64_t want = b.committed + 2 * kRecordHeaderBytes + out.size() + err.size();
    run_until(**r, [&] { return b.committed >= want && b.pump->parked(); });
    EXPECT_EQ(b.committed, want) << "round " << round;
    EXPECT_TRUE(b.pump->parked()) << "parked again once idle, round " << round;
    auto log = read_file(b.path);
    ASSERT_TRUE(log);
    EXPECT_NE(log->find(out), std::string::npos);
    EXPECT_NE(log->find(err), std::string::npos);
  }
  EXPECT_LE(count_open_fds() + 1, before);
  finish(b, **r);
  EXPECT_EQ(parking.vault().held(), 0u) << "a drained pump leaves nothing in the vault";
  EXPECT_EQ(parking.parked(), 0u);
}

// With room for one idle pump, the most recently active keeps its
// descriptors and the other parks; output to the parked one swaps them.
TEST(OutputPumpParking, TheMostRecentlyActiveIdlePumpStaysOpen) {
  auto r = reactor::Reactor::create(64, 1);
  ASSERT_TRUE(r);
  PumpParking parking(1);
  if (!parking.enabled()) GTEST_SKIP() << "no IORING_OP_FIXED_FD_INSTALL here (Linux 6.8)";
  Box a, b;
  make_box(a, **r, parking);
  make_box(b, **r, parking);
  a.pump->start();
  run_until(**r, [&] { return parking.idle_open() == 1; });
  b.pump->start();
  run_until(**r, [&] { return a.pump->parked(); });
  EXPECT_TRUE(a.pump->parked());
  EXPECT_FALSE(b.pump->parked());
  ASSERT_TRUE(write_all(a.out_w.get(), "wake\n"));
  run_until(**r, [&] { return a.committed > 0 && b.pump->parked(); });
  EXPECT_GT(a.committed, 0u);
  EXPECT_FALSE(a.pump->parked());
  EXPECT_TRUE(b.pump->parked());
  finish(a, **r);
  finish(b, **r);
  EXPECT_EQ(parking.vault().held(), 0u);
}

// Under descriptor pressure every idle pump parks, the LRU's open ones too,
// and still logs what comes afterwards.
TEST(OutputPumpParking, ParkAllIdleEmptiesTheOpenList) {
  auto r = reactor::Reactor::create(64, 1);
  ASSERT_TRUE(r);
  PumpParking parking(8);
  if (!parking.enabled()) GTEST_SKIP() << "no IORING_OP_FIXED_FD_INSTALL here (Linux 6.8)";
  Box a, b;
  make_box(a, **r, parking);
  make_box(b, **r, parking);
  a.pump->start();
  b.pump->start();
  run_until(**r, [&] { return parking.idle_open() == 2; });
  ASSERT_EQ(parking.idle_open(), 2u);
  EXPECT_FALSE(a.pump->parked());
  EXPECT_EQ(parking.park_all_idle(), 2u);
  EXPECT_EQ(parking.idle_open(), 0u);
  EXPECT_TRUE(a.pump->parked());
  EXPECT_TRUE(b.pump->parked());
  EXPECT_EQ(parking.park_all_idle(), 0u);
  ASSERT_TRUE(write_all(b.out_w.get(), "after\n"));
  run_until(**r, [&] { return b.committed > 0; });
  EXPECT_GT(b.committed, 0u);
  finish(a, **r);
  finish(b, **r);
  EXPECT_EQ(parking.vault().held(), 0u);
}

}  // namespace
}  // namespace berth::engine
