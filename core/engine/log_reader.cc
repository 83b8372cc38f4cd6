#include "core/engine/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/engine/log_files.h"
#include "core/engine/log_index.h"

namespace berth::engine {

namespace {
bool selected(const LogOptions& o, const RecordHeader& h) {
  if (h.stream == 1 && !o.want_stdout) return false;
  if (h.stream == 2 && !o.want_stderr) return false;
  if (o.since_ns && h.ts_ns <= o.since_ns) return false;
  if (o.until_ns && h.ts_ns > o.until_ns) return false;
  return true;
}
}  // namespace

bool LogDecoder::feed(std::string_view bytes, const Emit& emit) {
  if (!pending_.empty()) {
    pending_.append(bytes);
    bytes = pending_;
  }
  size_t pos = 0;
  while (bytes.size() - pos >= kRecordHeaderBytes) {
    RecordHeader h;
    if (!decode_record_header(bytes.data() + pos, &h)) return false;
    if (bytes.size() - pos < kRecordHeaderBytes + h.len) break;
    record(h, bytes.substr(pos + kRecordHeaderBytes, h.len), emit);
    pos += kRecordHeaderBytes + h.len;
  }
  std::string rest(bytes.substr(pos));
  pending_ = std::move(rest);
  return true;
}

void LogDecoder::record(const RecordHeader& h, std::string_view payload, const Emit& emit) {
  if (skip_) {
    payload.remove_prefix(std::min<size_t>(skip_, payload.size()));
    skip_ = 0;
  }
  if (o_.until_ns && h.ts_ns > o_.until_ns) past_until_ = true;
  if (!selected(o_, h) || payload.empty()) return;
  if (!o_.timestamps) return emit(h.stream, payload);
  std::string ts = format_rfc3339_nano(h.ts_ns) + " ";
  while (!payload.empty()) {
    size_t nl = payload.find('\n');
    size_t n = nl == std::string_view::npos ? payload.size() : nl + 1;
    std::string_view line = payload.substr(0, n);
    if (line_start_[h.stream]) emit(h.stream, ts + std::string(line));
    else emit(h.stream, line);
    line_start_[h.stream] = nl != std::string_view::npos;
    payload.remove_prefix(n);
  }
}

namespace {

// Reads the records of [from, to) of a log file in large preads. Ends at
// `to`, at a truncated record or at a corrupt header (readers stop there).
class RecordScanner {
 public:
  static constexpr size_t kChunk = 1 << 20;
  RecordScanner(int fd, uint64_t from, uint64_t to)
      : fd_(fd), buf_off_(from), to_(to), buf_(new char[kChunk + kRecordHeaderBytes + kMaxRecordPayload]) {}

  Result<bool> next(RecordHeader* h, std::string_view* payload, uint64_t* offset) {
    if (!BERTH_TRY(fill(kRecordHeaderBytes))) return false;
    if (!decode_record_header(buf_.get() + begin_, h)) return false;
    if (!BERTH_TRY(fill(kRecordHeaderBytes + h->len))) return false;
    *payload = std::string_view(buf_.get() + begin_ + kRecordHeaderBytes, h->len);
    *offset = buf_off_ + begin_;
    begin_ += kRecordHeaderBytes + h->len;
    return true;
  }

 private:
  // Makes `n` bytes available at begin_; false at the end of the range.
  Result<bool> fill(size_t n) {
    if (len_ - begin_ >= n) return true;
    std::memmove(buf_.get(), buf_.get() + begin_, len_ - begin_);
    buf_off_ += begin_;
    len_ -= begin_;
    begin_ = 0;
    while (len_ < n) {
      uint64_t at = buf_off_ + len_;
      if (at >= to_) return false;
      size_t want = size_t(std::min<uint64_t>(std::max(kChunk, n) - len_, to_ - at));
      ssize_t got = ::pread(fd_, buf_.get() + len_, want, off_t(at));
      if (got < 0) return Error::sys(errno, "read log");
      if (got == 0) return false;
      len_ += size_t(got);
    }
    return true;
  }

  int fd_;
  uint64_t buf_off_, to_;
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0, len_ = 0;
};

// The first record after since_ns in one file, if any.
Result<std::optional<uint64_t>> find_since_in(const LogFileRef& f, int64_t since_ns) {
  std::vector<IndexEntry> idx = load_log_index(f.idx_fd, f.end);
  // The last entry at or before since (timestamps grow with offsets, as long
  // as the wall clock does not step back).
  auto it = std::upper_bound(idx.begin(), idx.end(), since_ns,
                             [](int64_t t, const IndexEntry& e) { return t < e.ts_ns; });
  uint64_t from = 0;
  if (it != idx.begin() && index_entry_matches(f.log_fd, *std::prev(it))) from = std::prev(it)->offset;
  RecordScanner scan(f.log_fd, from, f.end);
  RecordHeader h;
  std::string_view payload;
  uint64_t off;
  while (BERTH_TRY(scan.next(&h, &payload, &off)))
    if (h.ts_ns > since_ns) return std::optional<uint64_t>(off);
  return std::optional<uint64_t>();
}

// Scans [from, to) of file `file`, where line_start tells which streams are
// at a line start at `from`; keeps the last `keep` line starts of selected
// records in `out` and returns how many there were.
Result<size_t> scan_line_starts(const LogFileRef& f, size_t file, uint64_t from, uint64_t to, uint8_t line_start,
                                const LogOptions& o, size_t keep, std::deque<LogPosition>& out) {
  RecordScanner scan(f.log_fd, from, to);
  RecordHeader h;
  std::string_view p;
  uint64_t off;
  size_t count = 0;
  auto push = [&](uint64_t rec, size_t at) {
    count++;
    out.push_back({file, rec, uint32_t(at)});
    if (out.size() > keep) out.pop_front();
  };
  while (BERTH_TRY(scan.next(&h, &p, &off))) {
    if (p.empty()) continue;
    uint8_t bit = h.stream == 1 ? 1 : 2;
    if (selected(o, h)) {
      if (line_start & bit) push(off, 0);
      const char* base = p.data();
      size_t pos = 0;
      while (const void* nl = std::memchr(base + pos, '\n', p.size() - pos)) {
        pos = size_t(static_cast<const char*>(nl) - base) + 1;
        if (pos < p.size()) push(off, pos);
        else break;
      }
    }
    if (p.back() == '\n') line_start |= bit;
    else line_start &= uint8_t(~bit);
  }
  return count;
}

// Walks the files back from the end, one index segment at a time, until
// `o.tail` line starts are found; never before `lower`.
Result<LogPosition> find_tail(const std::vector<LogFileRef>& files, const LogOptions& o, LogPosition lower) {
  size_t need = size_t(o.tail), have = 0;
  std::deque<LogPosition> starts;
  for (size_t i = files.size(); i-- > lower.file;) {
    const LogFileRef& f = files[i];
    std::vector<IndexEntry> idx = load_log_index(f.idx_fd, f.end);
    if (idx.empty() || idx[0].offset != 0) idx.insert(idx.begin(), IndexEntry{0, 0, 3});
    uint64_t seg_end = f.end;
    for (size_t k = idx.size(); k-- > 0;) {
      // A stale or torn entry is skipped: its range joins the one before.
      bool good = index_entry_matches(f.log_fd, idx[k]);
      if (k > 0 && !good) continue;
      uint64_t from = idx[k].offset;
      uint8_t line_start = good ? idx[k].line_start : 3;
      bool last = false;
      if (i == lower.file && from <= lower.offset) {
        if (seg_end <= lower.offset) return lower;
        from = lower.offset;
        line_start = 3;
        last = true;
      }
      starts.clear();
      size_t n = BERTH_TRY(scan_line_starts(f, i, from, seg_end, line_start, o, need - have, starts));
      if (have + n >= need) return starts.front();
      have += n;
      if (last) return lower;
      seg_end = from;
    }
  }
  return lower;
}

}  // namespace

Result<LogPosition> find_log_start(const std::vector<LogFileRef>& files, const LogOptions& o) {
  LogPosition start;
  if (files.empty()) return start;
  LogPosition end{files.size() - 1, files.back().end, 0};
  if (o.since_ns) {
    start = end;
    for (size_t i = 0; i < files.size(); i++) {
      std::optional<uint64_t> off = BERTH_TRY(find_since_in(files[i], o.since_ns));
      if (off) {
        start = LogPosition{i, *off, 0};
        break;
      }
    }
  }
  if (o.tail < 0) return start;
  if (o.tail == 0) return end;
  return find_tail(files, o, start);
}

Result<std::vector<OpenLogFile>> open_log_files(const std::string& base, uint64_t committed) {
  std::vector<OpenLogFile> files;
  auto open_one = [&files](const std::string& path, bool current, uint64_t end) -> Result<bool> {
    auto fd = open_fd(path, O_RDONLY);
    if (!fd) {
      if (fd.error().code() == Code::kNotFound) return false;
      return std::move(fd.error());
    }
    OpenLogFile f;
    f.log = std::move(*fd);
    if (auto idx = open_fd(log_index_path(path), O_RDONLY)) f.idx = std::move(*idx);
    struct stat st;
    if (!current && ::fstat(f.log.get(), &st) == 0) end = uint64_t(st.st_size);
    f.end = end;
    files.push_back(std::move(f));
    return true;
  };
  // Rotated files, newest (.1) first; the list is reversed below.
  for (int n = 1; n <= 1000; n++)
    if (!BERTH_TRY(open_one(log_file_path(base, n), false, 0))) break;
  std::reverse(files.begin(), files.end());
  BERTH_TRY(open_one(base, true, committed));
  return files;
}

}  // namespace berth::engine
