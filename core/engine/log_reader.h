// Reading a container's log file (log_format.h) back for `logs`.
//
// LogDecoder turns file bytes into output pieces for the client: records of
// the selected streams, filtered by time, split into lines when timestamps
// are asked for (each line then starts with an RFC 3339 nano timestamp and a
// space, like Docker). Lines are never cut by the decoder; a line that was
// split across records comes out in pieces without a second timestamp. A
// final line without a newline is emitted as it is.
//
// find_tail_start() scans a log file (blocking: job pool only) for where the
// last N lines begin.
//
// Thread: LogDecoder is a plain object used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/base/result.h"
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
  // Feeds the next bytes of the file; emits complete records' pieces.
  // Returns false if the file is corrupt at this point (stop reading).
  bool feed(std::string_view bytes, const Emit& emit);

 private:
  void record(const RecordHeader& h, std::string_view payload, const Emit& emit);

  LogOptions o_;
  std::string pending_;   // a record split across feeds
  uint32_t skip_ = 0;
  bool line_start_[3] = {true, true, true};
};

struct TailStart {
  uint64_t offset = 0;   // file offset of the record holding the first line
  uint32_t skip = 0;     // payload bytes of that record before the line
};
Result<TailStart> find_tail_start(const std::string& path, uint64_t limit, const LogOptions& o);

}  // namespace berth::engine
