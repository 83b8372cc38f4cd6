// OutputPump: the pump reports `drained` again once a late log index write
// ends. (Its full-disk behaviour needs a tmpfs mount: tests/integration/
// engine/log_pump_full_disk_test.cc.)
#include "core/engine/log_pump.h"

#include <fcntl.h>
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

TEST(OutputPumpIdle, DrainedIsReportedAgainWhenALateIndexWriteEnds) {
  char tmpl[] = "/tmp/berth-pump-idle-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/container.log";
  ASSERT_EQ(::mkfifo(log_index_path(path).c_str(), 0600), 0) << strerror(errno);
  unique_fd fifo_r(::open(log_index_path(path).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(fifo_r);
  {
    unique_fd filler(::open(log_index_path(path).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_TRUE(filler);
    std::string block(4096, 'f');
    while (::write(filler.get(), block.data(), block.size()) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
  }
  auto r = reactor::Reactor::create(64, 1);
  ASSERT_TRUE(r);
  {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd out_r(p[0]), out_w(p[1]);
    auto log_fd = open_fd(path, O_WRONLY | O_CREAT, 0600);
    ASSERT_TRUE(log_fd);
    std::vector<bool> busy_at_report;
    OutputPump* self = nullptr;
    OutputPump::Callbacks cb;
    cb.drained = [&] { busy_at_report.push_back(self->busy()); };
    OutputPump pump(**r, std::move(*log_fd), 0, std::move(out_r), unique_fd(), std::move(cb));
    self = &pump;
    pump.use_log_files(path, LogConfig{}, IndexWriter::open_file(log_index_path(path)));
    pump.start();
    ASSERT_TRUE(write_all(out_w.get(), "one line\n"));
    out_w.reset();
    for (int i = 0; i < 1000 && !pump.drained(); i++) (*r)->run_once(10);
    ASSERT_TRUE(pump.drained());
    // Drained, but the index write is stuck on the full FIFO.
    EXPECT_TRUE(pump.busy());
    ASSERT_EQ(busy_at_report, std::vector<bool>{true});
    char buf[65536];
    while (::read(fifo_r.get(), buf, sizeof buf) > 0) {
    }
    for (int i = 0; i < 1000 && pump.busy(); i++) (*r)->run_once(10);
    EXPECT_FALSE(pump.busy());
    EXPECT_EQ(busy_at_report, (std::vector<bool>{true, false}));
  }
  r->reset();
  EXPECT_TRUE(remove_tree(dir));
}

}  // namespace
}  // namespace berth::engine
