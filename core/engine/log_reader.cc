#include "core/engine/log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <deque>
#include <memory>

#include "core/base/file.h"
#include "core/base/strings.h"

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

Result<TailStart> find_tail_start(const std::string& path, uint64_t limit, const LogOptions& o) {
  TailStart start;
  if (o.tail < 0) return start;
  unique_fd fd = BERTH_TRY(open_fd(path, O_RDONLY));
  // The positions where the last `tail` lines start, oldest first.
  std::deque<TailStart> starts;
  bool line_start[3] = {true, true, true};
  std::unique_ptr<char[]> buf(new char[kRecordHeaderBytes + kMaxRecordPayload]);
  uint64_t off = 0;
  while (off + kRecordHeaderBytes <= limit) {
    ssize_t n = ::pread(fd.get(), buf.get(), kRecordHeaderBytes, off);
    if (n != ssize_t(kRecordHeaderBytes)) break;
    RecordHeader h;
    if (!decode_record_header(buf.get(), &h)) return Error::make(Code::kCorrupt, "log {} corrupt at offset {}", path, off);
    if (off + kRecordHeaderBytes + h.len > limit) break;
    if (!selected(o, h)) {
      off += kRecordHeaderBytes + h.len;
      continue;
    }
    n = ::pread(fd.get(), buf.get(), h.len, off + kRecordHeaderBytes);
    if (n != ssize_t(h.len)) return Error::sys(n < 0 ? errno : EIO, "read log {}", path);
    for (uint32_t i = 0; i < h.len; i++) {
      if (line_start[h.stream]) {
        starts.push_back({off, i});
        if (int64_t(starts.size()) > o.tail) starts.pop_front();
      }
      line_start[h.stream] = buf[i] == '\n';
    }
    off += kRecordHeaderBytes + h.len;
  }
  if (o.tail == 0) return TailStart{limit, 0};
  if (starts.empty()) return TailStart{limit, 0};
  return starts.front();
}

}  // namespace berth::engine
