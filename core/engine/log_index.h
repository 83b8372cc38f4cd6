// The index sidecar of a log file (`container.log.idx`, log_files.h): where
// records start and when they were read, so `logs --tail` and `--since`
// seek instead of scanning the whole log.
//
// Format: a sequence of 24-byte little-endian entries, appended by the pump
// for the first record of each log file and then for the first record that
// starts at least kIndexEveryBytes after the previous entry:
//
//   offset 0   u64  offset      file offset of a record header
//   offset 8   i64  ts_ns       that record's timestamp
//   offset 16  u8   line_start  bit 0: stdout is at a line start there, bit 1: stderr
//   offset 17  u8   0
//   offset 18  u16  magic       0xB71D
//   offset 20  u32  check       a hash of the fields above, to detect torn or stale entries
//
// The index is advisory: it is written after the records it points to are
// committed and is never fsynced, so after a crash it may be short, torn or
// stale. Readers take only a prefix of well-formed entries with increasing
// offsets below the log's size, check that the log really has a record with
// that timestamp at an entry before using it (index_entry_matches), and
// otherwise scan from the file's start.
//
// Thread: IndexWriter is reactor-thread only and owned by the OutputPump;
// the rest are pure or blocking functions for the job pool.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"

namespace berth::engine {

inline constexpr size_t kIndexEntryBytes = 24;
inline constexpr uint16_t kIndexMagic = 0xB71D;
inline constexpr uint64_t kIndexEveryBytes = 1 << 20;

struct IndexEntry {
  uint64_t offset = 0;
  int64_t ts_ns = 0;
  uint8_t line_start = 3;
  bool operator==(const IndexEntry&) const = default;
};

void encode_index_entry(const IndexEntry& e, char* out);
bool decode_index_entry(const char* in, IndexEntry* e);

// Blocking (job pool). The well-formed prefix of an index (see above);
// empty if idx_fd < 0 or the file is unreadable.
// `file_bytes` (optional): the index file's size, as read.
std::vector<IndexEntry> load_log_index(int idx_fd, uint64_t log_end, uint64_t* file_bytes = nullptr);
// Whether the log has a record header with the entry's timestamp at its offset.
bool index_entry_matches(int log_fd, const IndexEntry& e);

// Appends entries to one index file through the reactor; at most one write
// in flight, entries that arrive meanwhile are batched (up to kBatch; more
// are dropped, which only makes the index coarser). switch_to() moves on to
// a new file (after rotation); a write still in flight finishes into the
// old one, whose fd is kept until then.
class IndexWriter {
 public:
  // Entries come one per MiB of log: 16 waiting behind one write is a
  // 16 MiB burst, and the arrays are per running container.
  static constexpr size_t kBatch = 16;

  explicit IndexWriter(reactor::Reactor& r);
  ~IndexWriter();
  IndexWriter(const IndexWriter&) = delete;
  IndexWriter& operator=(const IndexWriter&) = delete;

  // Opens (creating) `path`: the fd and where whole entries end (after any
  // torn tail). Blocking: a job lane (or before the loop).
  static Result<std::pair<unique_fd, uint64_t>> open_file(const std::string& path);
  // Appends to `fd` from `size` on (open_file's answer); an empty fd means
  // no index (readers then scan: slower, never wrong).
  void use(unique_fd fd, uint64_t size);
  void add(const IndexEntry& e);
  void cancel_pending() { pending_n_ = 0; }
  bool busy() const { return write_c_.in_flight(); }
  // Parking (log_pump.h): its descriptor out to the vault and back, only
  // while !busy(); no add() comes meanwhile.
  int fd() const { return fd_.get(); }
  unique_fd release_fd() { return std::move(fd_); }
  void restore_fd(unique_fd fd) { fd_ = std::move(fd); }
  // Called when a write completes and no other is started (busy() is false),
  // from within the writer's own completion: the callee must not destroy
  // the writer (or its owner) synchronously; defer that to a later turn.
  void set_on_idle(std::function<void()> f) { on_idle_ = std::move(f); }

 private:
  void write();
  void write_done(int32_t res);

  reactor::Reactor& r_;
  unique_fd fd_, old_fd_;
  uint64_t size_ = 0;
  char pending_[kBatch * kIndexEntryBytes];
  size_t pending_n_ = 0;
  char inflight_[kBatch * kIndexEntryBytes];
  size_t inflight_bytes_ = 0;
  reactor::Completion write_c_;
  std::function<void()> on_idle_;
};

}  // namespace berth::engine
