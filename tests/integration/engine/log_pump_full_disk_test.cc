// OutputPump against a full disk: the log lives on a 64 KiB tmpfs, so every
// log write fails with ENOSPC. In the default (blocking) mode the container's
// pipe fills and its writer stalls, losing nothing; with mode=non-blocking the
// pipe keeps draining, and what does not fit in max-buffer-size is dropped
// and counted. No timing: "stalled" means the pipe stayed full for many
// reactor turns while every log write fails, which no scheduling can change.
#include "core/engine/log_pump.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/engine/log_index.h"
#include "core/reactor/reactor.h"

namespace berth::engine {
namespace {

class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts a tmpfs)";
    char tmpl[] = "/tmp/berth-pump-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k"), 0) << strerror(errno);
    mounted_ = true;
    auto r = reactor::Reactor::create(64, 1);
    ASSERT_TRUE(r);
    r_ = std::move(*r);
  }
  void TearDown() override {
    r_.reset();
    if (mounted_) {
      EXPECT_EQ(::umount2(dir_.c_str(), MNT_DETACH), 0);
    }
    if (!dir_.empty()) {
      EXPECT_EQ(::rmdir(dir_.c_str()), 0);
    }
  }

  struct Outcome {
    size_t written = 0;    // bytes the "container" got into its pipe
    uint64_t dropped = 0, write_errors = 0;
  };
  // Writes up to `total` bytes into the container's stdout pipe, turning the
  // reactor between writes; stops once the pipe stayed full for 200 turns.
  Outcome pump_through(bool non_blocking, size_t total) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd out_r(p[0]), out_w(p[1]);
    EXPECT_EQ(::fcntl(out_w.get(), F_SETFL, O_NONBLOCK), 0);
    std::string path = dir_ + "/container.log";
    ::unlink(path.c_str());
    auto log_fd = open_fd(path, O_WRONLY | O_CREAT, 0600);
    EXPECT_TRUE(log_fd);
    OutputPump::Callbacks cb;
    OutputPump pump(*r_, std::move(*log_fd), 0, std::move(out_r), unique_fd(), std::move(cb));
    LogConfig cfg;
    cfg.non_blocking = non_blocking;
    cfg.max_buffer = 128 << 10;
    pump.use_log_files(path, cfg, IndexWriter::open_file(log_index_path(path)));
    pump.start();

    std::string chunk(64 << 10, 'x');
    Outcome o;
    for (int stalls = 0; o.written < total && stalls < 200;) {
      ssize_t n = ::write(out_w.get(), chunk.data(), std::min(chunk.size(), total - o.written));
      if (n > 0) {
        o.written += size_t(n);
        stalls = 0;
      } else {
        EXPECT_EQ(errno, EAGAIN);
        stalls++;
      }
      r_->run_once(10);
    }
    out_w.reset();
    pump.cancel();  // ends the retries of the failing log write
    for (int i = 0; i < 1000 && pump.busy(); i++) r_->run_once(10);
    EXPECT_FALSE(pump.busy());
    o.dropped = pump.dropped_bytes();
    o.write_errors = pump.write_errors();
    return o;
  }

  std::string dir_;
  bool mounted_ = false;
  std::unique_ptr<reactor::Reactor> r_;
};

TEST_F(FullDisk, BlockingModeStallsTheContainerAndDropsNothing) {
  Outcome o = pump_through(false, 8 << 20);
  EXPECT_LT(o.written, size_t(8 << 20));   // the writer could not go on
  EXPECT_GT(o.write_errors, 0u);
  EXPECT_EQ(o.dropped, 0u);
}

TEST_F(FullDisk, NonBlockingModeKeepsTheContainerGoingAndCountsDrops) {
  Outcome o = pump_through(true, 8 << 20);
  EXPECT_EQ(o.written, size_t(8 << 20));   // never stalled on the log
  EXPECT_GT(o.write_errors, 0u);
  // At most max-buffer-size plus one read's record was kept; the rest dropped.
  EXPECT_GE(o.dropped, uint64_t(8 << 20) - (128 << 10) - (64 << 10) - (64 << 10));
  EXPECT_LE(o.dropped, uint64_t(8 << 20));
}

// The owner drops a pump (and, with AutoRemove, the whole container) when
// `drained` has been reported and busy() is false. A log index write may
// still be in flight when the output drains, so `drained` must be reported
// again once it ends. Made deterministic with a FIFO as the index file,
// filled up beforehand: the index write cannot complete until the test
// reads the FIFO.

}  // namespace
}  // namespace berth::engine
