// Log files, rotation naming, the index sidecar and seeking with it
// (find_log_start over several files), without a reactor: the files are
// written here the way the pump writes them.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/engine/log_files.h"
#include "core/engine/log_format.h"
#include "core/engine/log_index.h"
#include "core/engine/log_reader.h"
#include "tests/unit/fs/temp_dir.h"

namespace berth::engine {
namespace {

using fs::TempDir;

// Builds one log file and its index like OutputPump does: an entry for the
// first record and then every `every` bytes, with the line-start bits.
struct LogWriter {
  std::string log, idx;
  uint8_t line_start = 3;
  uint64_t every = kIndexEveryBytes;
  bool indexed = false;
  uint64_t last = 0;

  void add(uint8_t stream, std::string_view payload, int64_t ts) {
    uint64_t off = log.size();
    if (!indexed || off >= last + every) {
      char e[kIndexEntryBytes];
      encode_index_entry({off, ts, line_start}, e);
      idx.append(e, sizeof e);
      indexed = true;
      last = off;
    }
    std::string h(kRecordHeaderBytes, '\0');
    encode_record_header({uint32_t(payload.size()), stream, ts}, h.data());
    log += h;
    log += payload;
    uint8_t bit = stream == 1 ? 1 : 2;
    if (!payload.empty()) line_start = payload.back() == '\n' ? (line_start | bit) : (line_start & ~bit);
  }
  // Starts the next file (rotation); line state carries over.
  void rotate() {
    log.clear();
    idx.clear();
    indexed = false;
  }
};

struct Files {
  std::vector<unique_fd> fds;
  std::vector<LogFileRef> refs;
  std::vector<std::string> contents;
  void add(const TempDir& d, const std::string& name, const std::string& log, const std::string* idx) {
    std::string p = d / name;
    EXPECT_TRUE(write_file_atomic(p, log));
    fds.push_back(*open_fd(p, O_RDONLY));
    int ifd = -1;
    if (idx) {
      EXPECT_TRUE(write_file_atomic(p + ".idx", *idx));
      fds.push_back(*open_fd(p + ".idx", O_RDONLY));
      ifd = fds.back().get();
    }
    refs.push_back({fds[fds.size() - (idx ? 2 : 1)].get(), ifd, log.size()});
    contents.push_back(log);
  }
  // Decodes from `start` to the end of the last file, as the handler does.
  std::string read_from(LogPosition start, const LogOptions& o = {}) {
    LogDecoder dec(o);
    dec.skip_first(start.skip);
    std::string out;
    for (size_t i = start.file; i < contents.size(); i++) {
      std::string_view bytes = contents[i];
      if (i == start.file) bytes.remove_prefix(start.offset);
      EXPECT_TRUE(dec.feed(bytes, [&](uint8_t, std::string_view d) { out += d; }));
      dec.end_file();
    }
    return out;
  }
};

std::string numbered(int from, int to) {
  std::string s;
  for (int i = from; i <= to; i++) s += std::to_string(i) + "\n";
  return s;
}

TEST(LogIndex, EntryRoundTripAndTornEntriesRejected) {
  char buf[kIndexEntryBytes];
  encode_index_entry({123456, 789, 2}, buf);
  IndexEntry e;
  ASSERT_TRUE(decode_index_entry(buf, &e));
  EXPECT_EQ(e, (IndexEntry{123456, 789, 2}));
  buf[3] ^= 1;  // a flipped offset bit fails the check
  EXPECT_FALSE(decode_index_entry(buf, &e));
}

TEST(LogIndex, LoadKeepsTheWellFormedPrefix) {
  TempDir d;
  LogWriter w;
  w.every = 64;
  for (int i = 0; i < 20; i++) w.add(1, numbered(i * 10, i * 10 + 9), 1000 + i);
  std::string idx = w.idx;
  ASSERT_GE(idx.size() / kIndexEntryBytes, 5u);
  idx.resize(idx.size() - 5);                       // a torn last entry
  idx[2 * kIndexEntryBytes + 8] ^= 0x40;            // a corrupt third entry
  Files f;
  f.add(d, "container.log", w.log, &idx);
  auto entries = load_log_index(f.refs[0].idx_fd, w.log.size());
  EXPECT_EQ(entries.size(), 2u);
  // Entries pointing past the log's committed end are not used.
  EXPECT_EQ(load_log_index(f.refs[0].idx_fd, kRecordHeaderBytes + 1).size(), 1u);
  EXPECT_TRUE(index_entry_matches(f.refs[0].log_fd, entries[1]));
  EXPECT_FALSE(index_entry_matches(f.refs[0].log_fd, IndexEntry{entries[1].offset, 5, 3}));
}

TEST(LogFiles, RotationShiftsNamesAndDropsTheOldest) {
  TempDir d;
  std::string base = d / "container.log";
  auto make = [&](const std::string& p, const std::string& text) {
    ASSERT_TRUE(write_file_atomic(p, text));
    ASSERT_TRUE(write_file_atomic(log_index_path(p), "i" + text));
  };
  make(base, "a");
  EXPECT_EQ(rotate_log_files(base, 3).value(), false);
  EXPECT_EQ(*read_file(base + ".1"), "a");
  EXPECT_EQ(*read_file(base + ".1.idx"), "ia");
  make(base, "b");
  EXPECT_EQ(rotate_log_files(base, 3).value(), false);
  make(base, "c");
  EXPECT_EQ(rotate_log_files(base, 3).value(), true);   // "a" leaves
  EXPECT_EQ(*read_file(log_drop_path(base)), "a");
  EXPECT_EQ(*read_file(base + ".2"), "b");
  EXPECT_EQ(*read_file(base + ".1"), "c");
  EXPECT_EQ(*read_file(base + ".1.idx"), "ic");
  EXPECT_FALSE(read_file(base).has_value());
  EXPECT_FALSE(read_file(base + ".3").has_value());
  // max-file 1: the only file is moved aside, never truncated in place.
  make(base, "d");
  EXPECT_EQ(rotate_log_files(base, 1).value(), true);
  EXPECT_EQ(*read_file(log_drop_path(base)), "d");
  EXPECT_EQ(log_file_path(base, 0), base);
  EXPECT_EQ(log_file_path(base, 2), base + ".2");
}

TEST(LogFiles, OpenLogFilesOldestFirst) {
  TempDir d;
  std::string base = d / "container.log";
  ASSERT_TRUE(write_file_atomic(base + ".2", "old"));
  ASSERT_TRUE(write_file_atomic(base + ".1", "newer"));
  ASSERT_TRUE(write_file_atomic(base, "current+uncommitted"));
  auto files = open_log_files(base, 7);
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].end, 3u);
  EXPECT_EQ((*files)[1].end, 5u);
  EXPECT_EQ((*files)[2].end, 7u);
  EXPECT_FALSE((*files)[0].idx);
}

TEST(LogFiles, ParseLogConfig) {
  EXPECT_EQ(parse_log_size("10m"), 10u << 20);
  EXPECT_EQ(parse_log_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_log_size("512k"), 512u << 10);
  EXPECT_EQ(parse_log_size("100"), 100u);
  EXPECT_EQ(parse_log_size("1.5g"), uint64_t(1.5 * (1 << 30)));
  EXPECT_FALSE(parse_log_size("ten").has_value());
  EXPECT_FALSE(parse_log_size("10x").has_value());
  auto c = parse_log_config("json-file", {{"max-size", "10m"}, {"max-file", "3"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->max_size, 10u << 20);
  EXPECT_EQ(c->max_file, 3);
  EXPECT_FALSE(parse_log_config("syslog", {}).has_value());
  EXPECT_FALSE(parse_log_config("", {{"max-file", "0"}}).has_value());
  EXPECT_FALSE(parse_log_config("", {{"bogus", "1"}}).has_value());
  LogConfig daemon = *parse_log_config("", {{"max-size", "1m"}, {"max-file", "5"}});
  LogConfig r = resolve_log_config(*parse_log_config("", {{"max-file", "2"}}), daemon);
  EXPECT_EQ(r.max_size, 1u << 20);
  EXPECT_EQ(r.max_file, 2);
  EXPECT_EQ(r.type, "json-file");
  EXPECT_EQ(resolve_log_config({}, {}).max_size, 0u);   // default: never rotate
}

// Three files, 3,000 numbered lines in records of ~100 lines; a 16 KiB+
// line split over records straddles the index segments and the rotation.
struct RotatedLog {
  TempDir d;
  Files f;
  std::string all;
  RotatedLog(bool with_index) {
    LogWriter w;
    w.every = 1024;
    int line = 1;
    int64_t ts = 1000;
    for (int file = 0; file < 3; file++) {
      for (int r = 0; r < 10; r++, ts++) {
        std::string p = numbered(line, line + 99);
        line += 100;
        w.add(1, p, ts);
        all += p;
      }
      // A long line, in three records, the last one in the next file.
      std::string long1(9000, 'x'), long2(9000, 'y');
      w.add(2, long1, ts);
      all += long1;
      w.add(2, long2, ts);
      all += long2;
      f.add(d, "log." + std::to_string(file), w.log, with_index ? &w.idx : nullptr);
      w.rotate();
      w.add(2, "z\n", ts++);
      all += "z\n";
    }
    f.add(d, "log.3", w.log, with_index ? &w.idx : nullptr);
  }
};

std::string last_lines(const std::string& all, size_t n) {
  size_t pos = all.size() - 1;  // all ends with '\n'
  for (size_t i = 0; i < n; i++) {
    size_t nl = all.rfind('\n', pos - 1);
    if (nl == std::string::npos) return all;
    pos = nl;
  }
  return all.substr(pos + 1);
}

TEST(LogSeek, TailAcrossFilesWithAndWithoutIndex) {
  // Without an index a file is assumed to begin at a line start, so there
  // only stdout (whose lines never straddle the files here) is exact.
  for (bool with_index : {true, false}) {
    RotatedLog log(with_index);
    for (bool err : {true, false}) {
      if (err && !with_index) continue;
      LogOptions o{.want_stderr = err};
      std::string all = log.f.read_from({}, o);
      for (int64_t n : {1, 2, 3, 10, 150, 1010, 2999, 3003, 3004, 100000}) {
        o.tail = n;
        auto start = find_log_start(log.f.refs, o);
        ASSERT_TRUE(start.has_value());
        std::string got = log.f.read_from(*start, o), want = last_lines(all, size_t(n));
        EXPECT_TRUE(got == want) << "tail " << n << " index " << with_index << " stderr " << err << ": got "
                                 << got.size() << " bytes from " << start->file << ":" << start->offset << "+"
                                 << start->skip << ", want " << want.size();
      }
    }
  }
}

TEST(LogSeek, TailKeepsLongLinesWhole) {
  RotatedLog log(true);
  // The last line of file 2 is 18,002 bytes long, begun in log.2 and ended
  // by "z\n" in log.3.
  auto start = find_log_start(log.f.refs, LogOptions{.want_stdout = false, .tail = 1});
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->file, 2u);
  EXPECT_EQ(log.f.read_from(*start, LogOptions{.want_stdout = false}),
            std::string(9000, 'x') + std::string(9000, 'y') + "z\n");
}

TEST(LogSeek, SinceUsesTheIndexAndStopsAtTheFirstLaterRecord) {
  for (bool with_index : {true, false}) {
    RotatedLog log(with_index);
    // ts 1000..1009 file 0 (stdout), 1010 long line, 1011 "z" in file 1, ...
    auto start = find_log_start(log.f.refs, LogOptions{.since_ns = 1015});
    ASSERT_TRUE(start.has_value());
    EXPECT_EQ(start->file, 1u);
    std::string out = log.f.read_from(*start, LogOptions{.since_ns = 1015});
    EXPECT_EQ(out.substr(0, 5), "1501\n");   // records 1016.. of file 1: lines from 1501
    auto none = find_log_start(log.f.refs, LogOptions{.since_ns = 99999});
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(log.f.read_from(*none), "");
    // since and tail together: the last lines among the later records.
    if (with_index) {
      auto both = find_log_start(log.f.refs, LogOptions{.since_ns = 1015, .tail = 2});
      EXPECT_TRUE(log.f.read_from(*both) == last_lines(log.all, 2));
    }
    auto out2 = find_log_start(log.f.refs, LogOptions{.want_stderr = false, .since_ns = 1015, .tail = 2});
    EXPECT_EQ(log.f.read_from(*out2, LogOptions{.want_stderr = false}), "2999\n3000\n");
  }
}

TEST(LogSeek, StaleIndexFallsBackToScanning) {
  RotatedLog log(true);
  // An index from another file: entries exist but do not match the records.
  LogWriter other;
  other.every = 100;
  for (int i = 0; i < 50; i++) other.add(1, "a\n", 5);
  Files f;
  for (size_t i = 0; i < log.f.contents.size(); i++) f.add(log.d, "s." + std::to_string(i), log.f.contents[i], &other.idx);
  // As without an index: exact for stdout, whose lines do not straddle files.
  LogOptions o{.want_stderr = false};
  std::string all = f.read_from({}, o);
  for (int64_t n : {1, 5, 1500}) {
    o.tail = n;
    auto start = find_log_start(f.refs, o);
    ASSERT_TRUE(start.has_value());
    EXPECT_TRUE(f.read_from(*start, o) == last_lines(all, size_t(n))) << n;
  }
}

TEST(LogDecoder, TornRecordAtTheEndOfAFileIsNotJoinedToTheNext) {
  std::string a(kRecordHeaderBytes, '\0'), b(kRecordHeaderBytes, '\0');
  encode_record_header({3, 1, 1}, a.data());
  encode_record_header({3, 1, 2}, b.data());
  std::string first = a + "ab\n" + a.substr(0, 9);   // torn tail
  std::string second = b + "cd\n";
  LogDecoder dec({});
  std::string out;
  auto emit = [&](uint8_t, std::string_view d) { out += d; };
  EXPECT_TRUE(dec.feed(first, emit));
  dec.end_file();
  EXPECT_TRUE(dec.feed(second, emit));
  EXPECT_EQ(out, "ab\ncd\n");
}

TEST(LogDecoder, PastUntil) {
  std::string a(kRecordHeaderBytes, '\0'), b(kRecordHeaderBytes, '\0');
  encode_record_header({2, 1, 10}, a.data());
  encode_record_header({2, 1, 20}, b.data());
  LogDecoder dec(LogOptions{.until_ns = 15});
  std::string out;
  EXPECT_TRUE(dec.feed(a + "1\n", [&](uint8_t, std::string_view d) { out += d; }));
  EXPECT_FALSE(dec.past_until());
  EXPECT_TRUE(dec.feed(b + "2\n", [&](uint8_t, std::string_view d) { out += d; }));
  EXPECT_TRUE(dec.past_until());
  EXPECT_EQ(out, "1\n");
}

}  // namespace
}  // namespace berth::engine
