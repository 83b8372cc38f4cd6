// Reading a container's log file (log_format.h) back for `logs`.
//
// LogDecoder turns file bytes into output pieces for the client: records of
// the selected streams, filtered by time, split into lines when timestamps
// are asked for (each line then starts with an RFC 3339 nano timestamp and a
// space, like Docker). Lines are never cut by the decoder; a line that was
// split across records comes out in pieces without a second timestamp. A
// final line without a newline is emitted as it is.
//
// Reading starts at a LogPosition in the log's files (log_files.h), oldest
// first. find_log_start() (blocking: job pool only) finds it for --since
// and --tail with the files' indexes (log_index.h): since by binary search
// on time, tail by scanning backwards one index segment (~1 MiB) at a
// time; a file without a usable index is scanned from its start (and is
// then assumed to begin at a line start: a line that straddles a rotation
// into such a file may count as two for --tail).
//
// Thread: LogDecoder is a plain object used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/engine/log_format.h"

namespace berth::engine {

struct LogOptions {
  bool want_stdout = true, want_stderr = true;
  bool timestamps = false;
  int64_t since_ns = 0;   // records strictly after (0: no bound)
  int64_t until_ns = 0;   // records at or before (0: no bound)
  int64_t tail = -1;      // last N lines (-1: all)
};

class LogDecoder {
 public:
  using Emit = std::function<void(uint8_t stream, std::string_view data)>;
  explicit LogDecoder(const LogOptions& o) : o_(o) {}

  // Skips the first `n` payload bytes of the next record (tail start).
  void skip_first(uint32_t n) { skip_ = n; }
  // A record newer than until_ns was seen: nothing more will be emitted
  // (logs end there; clocks that step back are not accounted for).
  bool past_until() const { return past_until_; }
  // The next bytes come from the next file: a torn record at the end of the
  // previous one (a crash mid-append) is dropped, not joined to them.
  void end_file() { pending_.clear(); }
  // Feeds the next bytes of the file; emits complete records' pieces.
  // Returns false if the file is corrupt at this point (stop reading).
  bool feed(std::string_view bytes, const Emit& emit);

 private:
  void record(const RecordHeader& h, std::string_view payload, const Emit& emit);

  LogOptions o_;
  std::string pending_;   // a record split across feeds
  uint32_t skip_ = 0;
  bool past_until_ = false;
  bool line_start_[3] = {true, true, true};
};

// A record start in the log's files (index into the oldest-first list),
// and how many payload bytes of that record come before the first line.
struct LogPosition {
  size_t file = 0;
  uint64_t offset = 0;
  uint32_t skip = 0;
  bool operator==(const LogPosition&) const = default;
};

// One log file as the job sees it: fds owned by the caller (idx_fd may be
// -1) and the end of its complete records.
struct LogFileRef {
  int log_fd = -1;
  int idx_fd = -1;
  uint64_t end = 0;
};

// Where reading starts for o.since and o.tail (the start of the first
// file if neither is set; the end of the last file if nothing matches).
// Blocking: job pool only.
Result<LogPosition> find_log_start(const std::vector<LogFileRef>& files, const LogOptions& o);

// An open log file of a snapshot (reactor thread: a few opens and fstats).
struct OpenLogFile {
  unique_fd log, idx;
  uint64_t end = 0;   // its size when opened (for the current file: `committed`)
};
// Opens the rotated files of the log at `base` (oldest first) and then the
// current one, whose end is `committed`. Missing files are left out.
Result<std::vector<OpenLogFile>> open_log_files(const std::string& base, uint64_t committed);

}  // namespace berth::engine
