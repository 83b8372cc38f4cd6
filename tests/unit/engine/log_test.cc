#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/engine/log_format.h"
#include "core/engine/log_reader.h"

namespace berth::engine {
namespace {

std::string record(uint8_t stream, std::string_view payload, int64_t ts) {
  std::string out(kRecordHeaderBytes, '\0');
  encode_record_header({uint32_t(payload.size()), stream, ts}, out.data());
  out += payload;
  return out;
}

struct Piece {
  uint8_t stream;
  std::string data;
  bool operator==(const Piece&) const = default;
};

std::vector<Piece> decode(const std::string& file, LogOptions o, size_t feed_size, uint32_t skip = 0) {
  LogDecoder dec(o);
  dec.skip_first(skip);
  std::vector<Piece> out;
  for (size_t i = 0; i < file.size(); i += feed_size) {
    bool ok = dec.feed(std::string_view(file).substr(i, feed_size),
                       [&](uint8_t s, std::string_view d) { out.push_back({s, std::string(d)}); });
    EXPECT_TRUE(ok);
  }
  return out;
}

TEST(LogFormat, HeaderRoundTrip) {
  char buf[kRecordHeaderBytes];
  encode_record_header({1234, 2, 987654321}, buf);
  RecordHeader h;
  ASSERT_TRUE(decode_record_header(buf, &h));
  EXPECT_EQ(h.len, 1234u);
  EXPECT_EQ(h.stream, 2);
  EXPECT_EQ(h.ts_ns, 987654321);
  buf[6] = 0;  // magic
  EXPECT_FALSE(decode_record_header(buf, &h));
}

TEST(LogDecoder, RecordsSplitAcrossFeedsComeOutWhole) {
  std::string file = record(1, "hello\n", 1) + record(2, "err\n", 2) + record(1, "world\n", 3);
  for (size_t feed : {1, 3, 7, 16, 1000}) {
    auto out = decode(file, {}, feed);
    ASSERT_EQ(out.size(), 3u) << "feed " << feed;
    EXPECT_EQ(out[0], (Piece{1, "hello\n"}));
    EXPECT_EQ(out[1], (Piece{2, "err\n"}));
    EXPECT_EQ(out[2], (Piece{1, "world\n"}));
  }
}

TEST(LogDecoder, StreamSelectionAndTimeBounds) {
  std::string file = record(1, "a\n", 100) + record(2, "b\n", 200) + record(1, "c\n", 300);
  LogOptions o;
  o.want_stderr = false;
  EXPECT_EQ(decode(file, o, 64).size(), 2u);
  o = {};
  o.since_ns = 100;  // strictly after
  auto out = decode(file, o, 64);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].data, "b\n");
  o = {};
  o.until_ns = 200;
  EXPECT_EQ(decode(file, o, 64).size(), 2u);
}

TEST(LogDecoder, TimestampsPerLineNotPerRecord) {
  // "one\ntw" then "o\nthree" (no final newline): three lines, the second
  // split across records gets one timestamp, the last is not lost.
  std::string file = record(1, "one\ntw", 1000000000) + record(1, "o\nthree", 2000000000);
  LogOptions o;
  o.timestamps = true;
  auto out = decode(file, o, 4096);
  std::string all;
  for (auto& p : out) all += p.data;
  EXPECT_EQ(all,
            "1970-01-01T00:00:01.000000000Z one\n"
            "1970-01-01T00:00:01.000000000Z tw"
            "o\n"
            "1970-01-01T00:00:02.000000000Z three");
}

TEST(LogDecoder, CorruptHeaderStops) {
  std::string file = record(1, "ok\n", 1) + std::string(16, 'x');
  LogDecoder dec({});
  int n = 0;
  EXPECT_FALSE(dec.feed(file, [&](uint8_t, std::string_view) { n++; }));
  EXPECT_EQ(n, 1);
}

TEST(LogTail, FindsStartOfLastLines) {
  char tmpl[] = "/tmp/berth-logtest-XXXXXX";
  int fd = mkstemp(tmpl);
  std::string file = record(1, "l1\nl2\n", 1) + record(2, "e1\n", 2) + record(1, "l3\nl4\nl5", 3);
  ASSERT_TRUE(write_all(fd, file));
  auto lines_of = [&](int64_t tail, bool out, bool err, uint64_t end) {
    LogOptions o;
    o.tail = tail;
    o.want_stdout = out;
    o.want_stderr = err;
    auto start = find_log_start({LogFileRef{fd, -1, end}}, o);
    EXPECT_TRUE(start.has_value());
    std::string rest = file.substr(start->offset, end - start->offset);
    std::string all;
    for (auto& p : decode(rest, o, 4096, start->skip)) all += p.data;
    return all;
  };
  EXPECT_EQ(lines_of(2, true, true, file.size()), "l4\nl5");
  EXPECT_EQ(lines_of(3, true, true, file.size()), "l3\nl4\nl5");
  EXPECT_EQ(lines_of(4, true, true, file.size()), "e1\nl3\nl4\nl5");
  EXPECT_EQ(lines_of(4, true, false, file.size()), "l2\nl3\nl4\nl5");
  EXPECT_EQ(lines_of(100, true, true, file.size()), "l1\nl2\ne1\nl3\nl4\nl5");
  EXPECT_EQ(lines_of(0, true, true, file.size()), "");
  // A truncated tail (crash mid-append) is ignored, not an error.
  EXPECT_EQ(lines_of(1, true, true, file.size() - 3), "e1\n");
  close(fd);
  unlink(tmpl);
}

}  // namespace
}  // namespace berth::engine
