// OutputPump's spliced records (log_pump.h): output that waits in the pipe
// goes to the log in records bigger than one buffer, through record pipes,
// with every byte in order, the index's line starts right, and the record
// pipes back in the pool; with a client attached, records are copied
// (and fanned out) as before.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/engine/log_format.h"
#include "core/engine/log_index.h"
#include "core/engine/log_pump.h"
#include "core/engine/log_reader.h"
#include "core/reactor/reactor.h"

namespace berth::engine {
namespace {

// Numbered 80-byte lines, `n` of them from `first`.
std::string lines(size_t first, size_t n) {
  std::string s;
  s.reserve(n * 80);
  for (size_t i = first; i < first + n; i++) {
    std::string l = std::to_string(i);
    l.resize(79, '.');
    s += l;
    s += '\n';
  }
  return s;
}

struct Parsed {
  std::string payload;            // of the output records, in order
  std::vector<uint32_t> lens;     // the records' lengths
  bool ok = true;
};

Parsed parse_log(const std::string& path) {
  Parsed p;
  auto bytes = read_file(path);
  if (!bytes) {
    p.ok = false;
    return p;
  }
  const std::string& b = *bytes;
  size_t off = 0;
  while (off < b.size()) {
    RecordHeader h;
    if (b.size() - off < kRecordHeaderBytes || !decode_record_header(b.data() + off, &h) ||
        b.size() - off - kRecordHeaderBytes < h.len) {
      p.ok = false;
      return p;
    }
    p.payload.append(b, off + kRecordHeaderBytes, h.len);
    p.lens.push_back(h.len);
    off += kRecordHeaderBytes + h.len;
  }
  return p;
}

class SplicedLog : public ::testing::Test {
 protected:
  void SetUp() override {
    // A pump takes big records only once no other pump of the thread has
    // read for 10 ms (log_pump.cc, kAloneNs): let an earlier test's pumps
    // fall out of that window. Not a timed assertion: the sleep only makes
    // the window pass, however slow the machine.
    ::usleep(20'000);
    char tmpl[] = "/tmp/berth-pump-splice-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/container.log";
    auto r = reactor::Reactor::create(64, 1);
    ASSERT_TRUE(r);
    r_ = std::move(*r);
  }
  void TearDown() override {
    r_.reset();
    if (!dir_.empty()) {
      EXPECT_TRUE(remove_tree(dir_));
    }
  }

  // Writes `data` into a 1 MiB pipe (the first `before` bytes before the
  // pump starts), turning the reactor while the pipe is full, then closes
  // it and runs the pump to its end. `attached`: a client wants the bytes.
  void pump(const std::string& data, size_t before, bool attached, LogConfig cfg = {}) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd out_r(p[0]), out_w(p[1]);
    ASSERT_GE(::fcntl(out_w.get(), F_SETPIPE_SZ, 1 << 20), 1 << 20);
    ASSERT_EQ(::fcntl(out_w.get(), F_SETFL, O_NONBLOCK), 0);
    auto log_fd = open_fd(path_, O_WRONLY | O_CREAT, 0600);
    ASSERT_TRUE(log_fd);
    OutputPump::Callbacks cb;
    cb.output = [this](uint8_t, std::string_view d) { fanned_.append(d); };
    cb.fan_out = [attached] { return attached; };
    OutputPump pump(*r_, std::move(*log_fd), 0, std::move(out_r), unique_fd(), std::move(cb));
    pump.use_log_files(path_, cfg, IndexWriter::open_file(log_index_path(path_)));
    size_t done = 0;
    auto write_some = [&](size_t upto) {
      while (done < upto) {
        ssize_t n = ::write(out_w.get(), data.data() + done, std::min<size_t>(upto - done, 64 << 10));
        if (n <= 0) break;
        done += size_t(n);
      }
    };
    write_some(before);
    ASSERT_EQ(done, before);
    pump.start();
    for (int turns = 0; done < data.size() && turns < 100000; turns++) {
      write_some(data.size());
      r_->run_once(5);
    }
    ASSERT_EQ(done, data.size());
    out_w.reset();
    for (int i = 0; i < 5000 && !(pump.drained() && !pump.busy()); i++) r_->run_once(5);
    ASSERT_TRUE(pump.drained());
    ASSERT_FALSE(pump.busy());
  }

  // The last `n` lines as `logs --tail n` finds them through the index.
  std::string tail(int64_t n) {
    unique_fd log(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    unique_fd idx(::open(log_index_path(path_).c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    EXPECT_EQ(::fstat(log.get(), &st), 0);
    LogOptions o;
    o.tail = n;
    std::vector<LogFileRef> files{{log.get(), idx.get(), uint64_t(st.st_size)}};
    auto start = find_log_start(files, o);
    EXPECT_TRUE(start);
    if (!start) return {};
    std::string bytes(size_t(st.st_size - start->offset), '\0');
    EXPECT_EQ(::pread(log.get(), bytes.data(), bytes.size(), off_t(start->offset)), ssize_t(bytes.size()));
    std::string out;
    LogDecoder d(o);
    d.skip_first(start->skip);
    EXPECT_TRUE(d.feed(bytes, [&](uint8_t, std::string_view s) { out.append(s); }));
    return out;
  }

  std::string dir_, path_, fanned_;
  std::unique_ptr<reactor::Reactor> r_;
};

TEST_F(SplicedLog, WaitingOutputGoesInBigRecordsEveryByteInOrder) {
  // 768 KiB wait before the first poll: the first record takes what the
  // scratch pipe holds (256 KiB asked for), more than one buffer.
  std::string data = lines(0, 60000);   // 4.8 MB
  pump(data, 768 << 10, false);
  Parsed p = parse_log(path_);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.payload.size(), data.size());
  EXPECT_TRUE(p.payload == data) << "the log's bytes differ from what was written";
  ASSERT_FALSE(p.lens.empty());
  EXPECT_GT(p.lens.front(), OutputPump::kChunkBytes) << "the first record was not spliced";
  EXPECT_EQ(OutputPump::record_pipes_in_use(), 0u);
  EXPECT_TRUE(fanned_.empty()) << "nobody attached, yet bytes were fanned out";
  // The index knows where lines start after spliced records; the decoder
  // gives back exactly the output.
  EXPECT_EQ(tail(3), lines(59997, 3));
  std::string whole = tail(-1);
  EXPECT_TRUE(whole == data) << "logs of the whole file differ from the output: " << whole.size() << " bytes against " << data.size();
}

TEST_F(SplicedLog, AnAttachedClientGetsEveryByteAndRecordsAreCopied) {
  std::string data = lines(0, 30000);
  pump(data, 768 << 10, true);
  Parsed p = parse_log(path_);
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.payload == data);
  EXPECT_TRUE(fanned_ == data) << "the attached client missed bytes";
  for (uint32_t len : p.lens) ASSERT_LE(len, OutputPump::kChunkBytes);
  EXPECT_EQ(OutputPump::record_pipes_in_use(), 0u);
}

TEST_F(SplicedLog, BigRecordsStopAtMaxSize) {
  // Rotation at 1 MiB: big records take no more than the file has room for,
  // so every rotated file ends at most one buffer's record past max-size.
  LogConfig cfg;
  cfg.max_size = 1 << 20;
  cfg.max_file = 4;
  std::string data = lines(0, 60000);
  pump(data, 768 << 10, false, cfg);
  size_t rotated = 0, big = 0;
  for (int i = 1; i < 4; i++) {
    std::string p = path_ + "." + std::to_string(i);
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) continue;
    rotated++;
    EXPECT_LE(uint64_t(st.st_size), cfg.max_size + kRecordHeaderBytes + OutputPump::kChunkBytes) << p;
    Parsed parsed = parse_log(p);
    EXPECT_TRUE(parsed.ok) << p;
    for (uint32_t len : parsed.lens) big += len > OutputPump::kChunkBytes;
  }
  EXPECT_EQ(rotated, 3u);
  EXPECT_GT(big, 0u) << "no record was bigger than a buffer";
  EXPECT_EQ(OutputPump::record_pipes_in_use(), 0u);
}

}  // namespace
}  // namespace berth::engine
