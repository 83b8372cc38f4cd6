// OutputPump: moves a running container's stdout and stderr from its pipes
// into the container's log file (log_format.h) and fans the same bytes out
// to attached clients.
//
// Thread: reactor thread only. The pump owns both pipe read ends, the log
// fd and one buffer per stream; each buffer belongs to the kernel from the
// read's submission until its record has been written to the log. A stream
// is not read again until its previous record is on disk, so a slow disk
// slows the container (its pipe fills and its writes block) instead of
// losing output. One log write is in flight at a time, so records are
// appended in the order they were read.
//
// mode=non-blocking (LogConfig::non_blocking): the container must never wait
// for the disk. Each record is copied into a queue bounded by max-buffer-size
// and the stream is read again at once; a record that does not fit is
// dropped whole (counted in dropped_bytes()/dropped_records(), reported by
// `dropped`), never split, so the log stays well-formed. Attached clients
// still get every byte: the fan-out happens before the queue.
//
// With use_log_files(), the pump also appends the log's index (log_index.h)
// and rotates the log (log_files.h): once the current file reaches
// max-size, after the write in flight has completed and before the next
// starts, the files are renamed and a fresh one is opened (on the job lane:
// no write starts meanwhile), so a record never spans two files.
//
// Crash safety (a pipe, not a pty): the keeper holds the pipes too
// (runtime/keeper.h), so bytes still in a pipe when berthd dies are read by
// the next berthd. So a stream's bytes leave the pipe only once their
// record is in the log: the pump waits for POLLIN, copies the bytes with
// tee(2) (they stay in the pipe) through a scratch pipe into its buffer,
// and reads them out of the pipe (consume) when the record is written. A
// berthd killed in between leaves the bytes in the pipe: none lost; only
// the last record of the log may then be there twice, which the re-adoption
// (container_keeper.cc) finds by comparing and drops. mode=non-blocking
// consumes at once (its queue is lost in a crash, like its drops).
//
// Big records go by splice, not through memory: when a pipe holds at least
// kSpliceMinBytes and no attached client wants the bytes, the pump tees
// them into the scratch pipe, moves them behind a record header into a
// record pipe (a pool of at most 32, shared by the thread's pumps), and the
// kernel splices that pipe into the log at the record's offset
// (IORING_OP_SPLICE, on an io-wq worker). berthd copies nothing; the one
// copy is the page cache's. How much a record takes is the fairness rule:
// while any other pump of the thread has read output in the last 10 ms, one
// buffer's worth (64 KiB) per stream per turn of the loop, as before; alone,
// what the scratch pipe holds (512 KiB; with max-size, no more than the file
// has room for, so a rotated file ends at most one buffer's record past
// it), so a lone flood pays the per-record
// cost (a worker hand-off) once per 512 KiB. Smaller records, attached
// clients and mode=non-blocking take the copy path above. Consumption is a
// splice into /dev/null in both.
//
// Parking (PumpParking below): an idle pump (both pipes waiting on a poll,
// nothing read and not yet logged, no write in flight) holds neither
// descriptors nor buffers. Its pipes, log and index go into the engine's
// FdVault (reactor/fd_vault.h) and their descriptors are closed; the
// polls, armed and submitted before, hold the pipes' files by themselves.
// When a poll fires, the pump takes its descriptors back (one install
// each) and goes on as before. Buffers come from a free list shared by the
// thread's pumps when a pipe has data and go back when its record is
// logged. At most PumpParking's open_max idle pumps stay unparked (the
// most recently active), so a chatty container does not pay the install
// for every line. A tty's pump (a read, not a poll, in flight) never parks.
//
// Lifetime: the owner must not destroy the pump while busy(); cancel() asks
// the kernel to end in-flight reads (used at daemon shutdown).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string_view>

#include "core/base/unique_fd.h"
#include "core/engine/log_files.h"
#include "core/engine/log_index.h"
#include "core/reactor/reactor.h"

namespace berth::reactor {
class FdVault;
}

namespace berth::engine {

class OutputPump;

// The engine's parking lot of idle pumps (see above): the vault and the
// list of idle pumps that still hold their descriptors, most recently
// settled first. Reactor thread only; it outlives every pump.
class PumpParking {
 public:
  explicit PumpParking(size_t open_max);
  ~PumpParking();
  PumpParking(const PumpParking&) = delete;
  PumpParking& operator=(const PumpParking&) = delete;
  bool enabled() const { return enabled_; }
  reactor::FdVault& vault() { return *vault_; }
  size_t parked() const { return parked_; }
  size_t idle_open() const { return idle_n_; }
  // Under descriptor pressure (a start FdBudget would refuse): parks every
  // idle pump the LRU keeps open; returns how many were parked.
  size_t park_all_idle();

 private:
  friend class OutputPump;
  void settled(OutputPump* p);   // idle with its descriptors: the LRU's front
  void unlist(OutputPump* p);    // active again, parked, or gone

  std::unique_ptr<reactor::FdVault> vault_;
  bool enabled_ = false;
  size_t open_max_;
  OutputPump* head_ = nullptr;   // most recently settled
  OutputPump* tail_ = nullptr;
  size_t idle_n_ = 0;
  size_t parked_ = 0;
};

class OutputPump {
 public:
  static constexpr size_t kChunkBytes = 64 * 1024;

  struct Callbacks {
    std::function<void(uint8_t stream, std::string_view data)> output;  // fan-out, before the log write
    std::function<void(uint64_t committed_bytes)> committed;            // log grew
    std::function<void()> drained;   // both streams at EOF and every record written; again
                                     // when a log index write still in flight then ends
    std::function<void()> rotated;   // a fresh log file begins (committed is 0 in it)
    std::function<void(uint64_t bytes)> dropped;   // non-blocking: a record did not fit
    // Whether `output` wants the bytes now (a client is attached); unset:
    // always. While it says no, big records bypass memory (splice).
    std::function<bool()> fan_out;
  };
  // A pipe a spliced record waits in, header first, until it is in the log.
  struct RecordPipe {
    unique_fd r, w;
    explicit operator bool() const { return bool(r); }
  };

  OutputPump(reactor::Reactor& r, unique_fd log_fd, uint64_t log_size, unique_fd out,
             unique_fd err, Callbacks cb, PumpParking* parking = nullptr);
  ~OutputPump();
  OutputPump(const OutputPump&) = delete;
  OutputPump& operator=(const OutputPump&) = delete;

  // Index and rotate `path` (the file log_fd is open on); before start().
  // `index` is IndexWriter::open_file()'s answer for its index (an error:
  // no index, logged).
  void use_log_files(std::string path, const LogConfig& cfg, Result<std::pair<unique_fd, uint64_t>> index);
  // A stdout that exists only after construction (a tty's pty master);
  // before start(). A pty master reads EIO once the container's side is
  // closed, which ends the stream like EOF.
  void set_output(unique_fd out);
  void start();
  void cancel();
  // The container's process exited: nothing waits on its pipes any more,
  // so a log write that fails (a full disk) no longer holds the output
  // back. What cannot be written is dropped (counted in dropped_bytes(),
  // warned about once; a record half written is cut off the log on the job
  // lane) and the pipes are read to their end, so the exit can be
  // recorded. Attached clients got every byte: the fan-out comes first.
  void writer_gone();
  bool busy() const;
  bool drained() const { return drained_; }
  bool parked() const { return parked_; }
  uint64_t write_errors() const { return write_errors_; }
  uint64_t dropped_bytes() const { return dropped_bytes_; }
  uint64_t dropped_records() const { return dropped_records_; }
  // This thread's record pipes holding a record (splicing; tests).
  static size_t record_pipes_in_use();

 private:
  struct Stream {
    uint8_t id = 1;
    unique_fd fd;
    uint32_t key = UINT32_MAX;   // the pipe in the vault (parking), once stashed
    std::unique_ptr<char[]> buf;
    RecordPipe pipe;             // the record in flight, spliced (else in buf)
    size_t record_len = 0;
    int64_t ts_ns = 0;           // the record's time
    bool eof = false;
    bool peek = false;           // a pipe: tee, then consume once logged
    size_t unconsumed = 0;       // bytes of the record in flight still in the pipe
    reactor::Completion read_c;
  };
  struct Scratch {
    unique_fd r, w;              // empty: no pipe could be made (then no peeking)
    unique_fd null;              // /dev/null, where consumed bytes are spliced
    size_t splice_max = 0;       // the biggest spliced record; 0: no splicing
  };
  static Scratch& scratch();
  bool wants_output() const;
  bool splice_allowed() const;
  uint64_t next_record_at() const;
  int stage(Stream& s, size_t n);
  static void discard(int fd, size_t n);
  void read(Stream& s);
  void read_done(Stream& s, int32_t res);
  int32_t peek_done(Stream& s, int32_t res);
  void consume(Stream& s);
  void read_or_end(Stream& s);
  void copy_record(Stream& s, int32_t payload);
  void write_next();
  void write_done(int32_t res);
  void give_up(int err);
  void cut_partial_record();
  void check_drained();
  // Parking: park() (PumpParking evicts the least recent idle pump) and
  // unpark() (a poll fired, or anything that needs a descriptor).
  bool parkable() const;
  void maybe_settle();
  bool park();
  bool unpark();
  bool log_from_vault();
  void end_stream(Stream& s);
  void forget_log_keys();
  void committed(int64_t ts_ns, size_t len, char last, uint8_t stream, uint64_t record_offset);
  // The record being written: a stream's buffer (blocking) or a copy.
  const char* front_record(size_t* len) const;
  void rotate();
  struct Rotated;
  void rotated(Rotated& r);

  reactor::Reactor& r_;
  unique_fd log_fd_;
  uint64_t log_size_;
  Stream streams_[2];
  std::deque<Stream*> queue_;   // records waiting to be written, in read order (blocking)
  struct Copy {
    std::string record;
    uint8_t stream;
  };
  std::deque<Copy> copies_;     // non-blocking: records waiting to be written
  size_t copied_bytes_ = 0;     // their total size, at most cfg_.max_buffer
  uint64_t dropped_bytes_ = 0, dropped_records_ = 0;
  size_t written_ = 0;          // bytes of queue_.front() already written
  reactor::Completion write_c_;
  reactor::Completion retry_c_;
  __kernel_timespec retry_ts_{1, 0};
  uint64_t write_errors_ = 0;
  uint64_t read_back_errors_ = 0;   // a spliced record's last byte could not be read
  bool drained_ = false;
  bool cancelled_ = false;
  bool writer_gone_ = false, gave_up_ = false;
  bool truncating_ = false;   // cut_partial_record()'s job is running
  Callbacks cb_;
  // Log files (use_log_files): rotation and the index.
  std::string path_;
  LogConfig cfg_;
  std::unique_ptr<IndexWriter> index_;
  bool indexed_any_ = false;      // the current file's index has an entry
  uint64_t last_indexed_ = 0;     // offset of the current file's last index entry
  uint8_t line_start_ = 3;        // log_index.h line_start bits after the last record
  bool rotate_failed_ = false;
  bool rotating_ = false;         // the rotation job is under way
  // Parking.
  PumpParking* parking_ = nullptr;
  bool parked_ = false;
  bool listed_ = false;           // in parking_'s list of idle, unparked pumps
  OutputPump* prev_ = nullptr;    // that list's links (towards its head / tail)
  OutputPump* next_ = nullptr;
  uint32_t log_key_ = UINT32_MAX, index_key_ = UINT32_MAX;
  friend class PumpParking;
};

}  // namespace berth::engine
