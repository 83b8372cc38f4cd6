// GET /containers/{id}/logs against a real daemon: integrity of 10 million
// numbered lines across rotation (plain, follow started mid-stream, tail),
// stream selection, timestamps, since/until, a last line without a newline,
// and LogConfig validation.
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/engine/log_index.h"
#include "ipc/proto/frames.h"
#include "tools/testkit/numbered_lines.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using Json = nlohmann::json;

// BERTH_LOGS_TEST_LINES overrides the line count (for debugging).
const long kLines = getenv("BERTH_LOGS_TEST_LINES") ? atol(getenv("BERTH_LOGS_TEST_LINES")) : 10'000'000;

// Checks a stream of berth-testinit `numbered` lines incrementally: each
// line is 15 digits and a newline, numbers consecutive from the first one.
struct LineChecker {
  long first = 0, next = 0, count = 0, bad = 0;
  NumberedSplitter splitter;

  void line(std::string_view l) {
    long v = 0;
    bool ok = l.size() == 16 && l[15] == '\n';
    for (size_t i = 0; ok && i < 15; i++) {
      ok = l[i] >= '0' && l[i] <= '9';
      v = v * 10 + (l[i] - '0');
    }
    if (!ok || (count > 0 && v != next)) {
      if (bad++ < 5) ADD_FAILURE() << "line " << count << ": got " << std::string(l) << " expected " << next;
    }
    if (count == 0) first = v;
    next = v + 1;
    count++;
  }
  void feed(std::string_view data) {
    splitter.feed(data, [this](std::string_view l) { line(l); });
  }
};

// Streams a logs response through `sink(stream, payload)`; returns the status.
int stream_logs(ipc::Client& c, const std::string& path, const std::function<void(uint8_t, std::string_view)>& sink) {
  auto head = c.start_stream("GET", path);
  if (!head) {
    ADD_FAILURE() << head.error().message();
    return 0;
  }
  if (head->status != 200) return head->status;
  ipc::FrameReader fr;
  uint8_t stream;
  std::string payload;
  for (;;) {
    auto piece = c.next_chunk();
    if (!piece) {
      ADD_FAILURE() << piece.error().message();
      break;
    }
    if (!*piece) break;
    fr.feed(**piece);
    while (fr.next(&stream, &payload)) sink(stream, payload);
  }
  EXPECT_EQ(fr.buffered(), 0u);
  return 200;
}

std::string logs_text(ipc::Client& c, const std::string& id, const std::string& query) {
  std::string out;
  int st = stream_logs(c, "/containers/" + id + "/logs?" + query, [&](uint8_t s, std::string_view d) {
    out += s == 1 ? "" : "E:";
    out += d;
  });
  EXPECT_EQ(st, 200);
  return out;
}

class LogsTest : public DaemonSuite {
 protected:
  // busybox plus /bin/berth-testinit, imported once per suite.
  void need_lines_image() {
    static const TestDaemon* done = nullptr;  // the suite's daemon it was imported into
    if (done == &d()) return;
    std::string tar = d().dir() + "/lines.tar";
    ASSERT_EQ(run_command({"cp", BERTH_BUSYBOX_TAR, tar}).exit_code, 0);
    auto r = run_command({"tar", "--append", "-f", tar, "-C", BERTH_BIN_DIR, "--transform", "s,^,bin/,",
                          "--owner=0", "--group=0", "berth-testinit"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(d().ctl({"import", tar, "lines:latest"}).exit_code, 0);
    unlink(tar.c_str());
    done = &d();
  }

  std::string create(ipc::Client& c, const Json& body, int* status = nullptr) {
    auto r = c.request("POST", "/containers/create", body.dump());
    EXPECT_TRUE(r.has_value());
    if (status) *status = r->status;
    if (r->status != 201) return "";
    return Json::parse(r->body)["Id"].get<std::string>();
  }
};

TEST_F(LogsTest, TenMillionLinesAcrossRotationPlainFollowAndTail) {
  need_lines_image();
  ipc::Client c = d().client();
  Json body = {{"Image", "lines:latest"},
               {"Cmd", {"/bin/berth-testinit", "numbered", std::to_string(kLines), std::to_string(kLines / 2), "-1"}},
               {"OpenStdin", true},
               {"HostConfig", {{"LogConfig", {{"Type", "json-file"}, {"Config", {{"max-size", "10m"}, {"max-file", "20"}}}}}}}};
  std::string id = create(c, body);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(c.request("POST", "/containers/" + id + "/start")->status, 204);

  // Wait until the writer is in its pause at the halfway line (it waits for
  // a byte on its stdin).
  for (int i = 0; i < 3000; i++) {
    std::string last = logs_text(c, id, "stdout=1&tail=1");
    if (last.size() == 16 && std::stol(last) >= kLines / 2) break;
    usleep(10'000);
  }
  // Two followers started mid-stream: from the start (all lines) and from the
  // last line (every later line). Both end when the container exits. The
  // writer goes on once the second has its first line.
  LineChecker all, later;
  std::atomic<bool> later_started{false};
  std::thread t_all([&] {
    ipc::Client c2 = d().client();
    stream_logs(c2, "/containers/" + id + "/logs?follow=1&stdout=1&stderr=1",
                [&](uint8_t, std::string_view data) { all.feed(data); });
  });
  std::thread t_later([&] {
    ipc::Client c3 = d().client();
    stream_logs(c3, "/containers/" + id + "/logs?follow=1&stdout=1&tail=1", [&](uint8_t, std::string_view data) {
      later.feed(data);
      later_started = true;
    });
  });
  for (int i = 0; i < 3000 && !later_started; i++) usleep(10'000);
  EXPECT_TRUE(later_started);
  {
    ipc::Client ca = d().client();
    auto a = ca.hijack("POST", "/containers/" + id + "/attach?stream=1&stdin=1");
    EXPECT_TRUE(a);
    if (a) {
      EXPECT_EQ(::send(a->fd.get(), "x", 1, MSG_NOSIGNAL), 1);
    }
  }
  t_all.join();
  t_later.join();
  EXPECT_EQ(all.first, 1);
  EXPECT_EQ(all.count, kLines);
  EXPECT_EQ(all.bad, 0);
  EXPECT_EQ(all.splitter.pending(), 0u);
  EXPECT_GE(later.first, kLines / 2);
  EXPECT_LT(later.first, kLines);
  EXPECT_EQ(later.next, kLines + 1);
  EXPECT_EQ(later.bad, 0);
  auto w = c.request("POST", "/containers/" + id + "/wait");
  EXPECT_EQ(Json::parse(w->body)["StatusCode"], 0);

  // Stored: every line exactly once, in order, across the rotated files.
  LineChecker stored;
  EXPECT_EQ(stream_logs(c, "/containers/" + id + "/logs?stdout=1&stderr=1",
                        [&](uint8_t, std::string_view data) { stored.feed(data); }),
            200);
  EXPECT_EQ(stored.first, 1);
  EXPECT_EQ(stored.count, kLines);
  EXPECT_EQ(stored.bad, 0);
  std::string expect_tail;
  for (long i = kLines - 9; i <= kLines; i++) expect_tail += fmt::format("{:015}\n", i);
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&tail=10"), expect_tail);

  // Rotated by renaming: 160 MB of records (10 M lines) in files of about 10 MiB.
  std::string dir = d().root() + "/containers/" + id + "/container.log";
  struct stat st;
  int rotated = 0;
  while (::stat((dir + "." + std::to_string(rotated + 1)).c_str(), &st) == 0) {
    EXPECT_LE(st.st_size, (10 << 20) + (64 << 10) + 16);
    rotated++;
  }
  EXPECT_GE(rotated, int(kLines * 16 / (10 << 20)) - 1);
  EXPECT_LE(rotated, 19);
  auto inspect = Json::parse(c.request("GET", "/containers/" + id + "/json")->body);
  EXPECT_EQ(inspect["HostConfig"]["LogConfig"]["Config"]["max-size"], "10m");
  EXPECT_EQ(c.request("DELETE", "/containers/" + id)->status, 204);
}

TEST_F(LogsTest, StreamsTimestampsSinceUntilAndLastLineWithoutNewline) {
  ipc::Client c = d().client();
  Json body = {{"Image", "busybox"},
               {"Cmd", {"sh", "-c", "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2; sleep 0.3; printf last"}}};
  std::string id = create(c, body);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(c.request("POST", "/containers/" + id + "/start")->status, 204);
  ASSERT_TRUE(c.request("POST", "/containers/" + id + "/wait").has_value());

  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1"), "out1\nE:err1\nout2\nlast");
  EXPECT_EQ(logs_text(c, id, "stdout=1"), "out1\nout2\nlast");
  EXPECT_EQ(logs_text(c, id, "stderr=1"), "E:err1\n");
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&tail=1"), "last");
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&tail=2"), "out2\nlast");
  // follow on an exited container ends after what is stored.
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&follow=1"), "out1\nE:err1\nout2\nlast");

  // Timestamps: each line starts with RFC 3339 nano time and a space.
  std::string ts = logs_text(c, id, "stdout=1&stderr=1&timestamps=1");
  std::vector<std::string> stamps;
  for (auto& line : split(ts, '\n')) {
    if (line.empty()) continue;
    std::string l = line.substr(0, 2) == "E:" ? line.substr(2) : line;
    ASSERT_GT(l.find(' '), 20u) << l;
    stamps.push_back(l.substr(0, l.find(' ')));
  }
  ASSERT_EQ(stamps.size(), 4u) << ts;
  // since/until as the API takes them: seconds.nanoseconds.
  auto unix_of = [](const std::string& rfc) {   // "2026-11-27T10:00:00.123456789Z"
    std::tm tm{};
    strptime(rfc.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    std::string frac = rfc.substr(20, rfc.size() - 21);
    frac.resize(9, '0');
    return fmt::format("{}.{}", int64_t(timegm(&tm)), frac);
  };
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&since=" + unix_of(stamps[1])), "out2\nlast");
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&until=" + unix_of(stamps[1])), "out1\nE:err1\n");
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&since=" + unix_of(stamps[0]) + "&until=" + unix_of(stamps[2])),
            "E:err1\nout2\n");
  // berthctl prints the same.
  auto r = d().ctl({"logs", "--tail", "2", id});
  EXPECT_EQ(r.out, "out2\nlast");
  EXPECT_EQ(c.request("DELETE", "/containers/" + id)->status, 204);
}

// Output that waits in the pipe goes to the log as big spliced records
// (log_pump.h), whose bytes berthd never sees: it reads a record's last
// byte back from the log to know whether the next record starts a line,
// which the index records and `logs --tail` counts on. Here every record
// ends a line (1 MiB of 16-byte lines, written 4 times with pauses), so
// every index entry must say that stdout is at a line start.
TEST_F(LogsTest, SplicedRecordsThatEndALineStartOneInTheIndex) {
  ipc::Client c = d().client();
  Json body = {{"Image", "busybox"},
               {"Cmd",
                {"sh", "-c",
                 "yes aaaaaaaaaaaaaaa | head -c 1048576 > /tmp/a; "
                 "for i in 1 2 3 4; do cat /tmp/a; sleep 0.2; done; echo last"}}};
  std::string id = create(c, body);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(c.request("POST", "/containers/" + id + "/start")->status, 204);
  auto w = c.request("POST", "/containers/" + id + "/wait");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(Json::parse(w->body)["StatusCode"], 0);
  std::string log = d().root() + "/containers/" + id + "/container.log";
  struct stat st{};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_GT(st.st_size, 4 << 20);
  unique_fd idx(::open((log + ".idx").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(idx) << std::strerror(errno);
  std::vector<engine::IndexEntry> entries = engine::load_log_index(idx.get(), uint64_t(st.st_size));
  ASSERT_GE(entries.size(), 3u) << "an index entry is written every MiB of log";
  for (const engine::IndexEntry& e : entries)
    EXPECT_EQ(e.line_start & 1, 1) << "the index entry at " << e.offset << " says stdout is not at a line start";
  EXPECT_EQ(logs_text(c, id, "stdout=1&stderr=1&tail=2"), "aaaaaaaaaaaaaaa\nlast\n");
  EXPECT_EQ(c.request("DELETE", "/containers/" + id)->status, 204);
}

TEST_F(LogsTest, InvalidLogConfigIsRejected) {
  ipc::Client c = d().client();
  int status = 0;
  create(c, {{"Image", "busybox"}, {"HostConfig", {{"LogConfig", {{"Config", {{"max-size", "ten"}}}}}}}}, &status);
  EXPECT_EQ(status, 400);
  create(c, {{"Image", "busybox"}, {"HostConfig", {{"LogConfig", {{"Type", "syslog"}}}}}}, &status);
  EXPECT_EQ(status, 400);
}

}  // namespace
}  // namespace berth::test
