#include "core/engine/log_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/log_format.h"
#include "core/reactor/fd_vault.h"

namespace berth::engine {

namespace {

constexpr uint32_t kNoKey = reactor::FdVault::kNone;
constexpr size_t kBufBytes = kRecordHeaderBytes + OutputPump::kChunkBytes;
constexpr size_t kFreeBufsMax = 32;
// Splicing (log_pump.h): records of at least kSpliceMinBytes, up to the
// scratch pipe's size (kSpliceMaxBytes asked for), go through a record pipe.
constexpr size_t kSpliceMinBytes = 16 * 1024;
constexpr size_t kSpliceMaxBytes = 512 * 1024;
constexpr size_t kRecordPipesMax = 32;    // in flight at once, two descriptors each
constexpr size_t kRecordPipesFree = 8;    // kept open between records
// A pump takes records beyond one buffer's size only while no other pump of
// the thread has read output for this long (see log_pump.h, fair logs).
constexpr int64_t kAloneNs = 10'000'000;

// Stream buffers, shared by the thread's pumps: a pipe's buffer is taken
// when it has data and given back once its record is logged, so idle
// containers hold none.
std::vector<std::unique_ptr<char[]>>& free_bufs() {
  thread_local std::vector<std::unique_ptr<char[]>> v;
  return v;
}

std::unique_ptr<char[]> take_buf() {
  auto& v = free_bufs();
  if (v.empty()) return std::unique_ptr<char[]>(new char[kBufBytes]);
  auto b = std::move(v.back());
  v.pop_back();
  return b;
}

void give_buf(std::unique_ptr<char[]> b) {
  auto& v = free_bufs();
  if (b && v.size() < kFreeBufsMax) v.push_back(std::move(b));
}

// Which pumps of the thread read output last: the most recent one and the
// most recent other one, so any pump can tell when another last read.
struct Activity {
  const void* last = nullptr;
  int64_t last_ns = 0;
  int64_t before_ns = 0;   // the latest read by a pump other than `last`
};

Activity& activity() {
  thread_local Activity a;
  return a;
}

void note_read(const void* pump, int64_t now) {
  Activity& a = activity();
  if (a.last != pump) {
    a.before_ns = a.last_ns;
    a.last = pump;
  }
  a.last_ns = now;
}

bool others_read_since(const void* pump, int64_t since) {
  const Activity& a = activity();
  return (a.last == pump ? a.before_ns : a.last_ns) >= since;
}

// Record pipes, shared by the thread's pumps: one per spliced record in
// flight, given back empty once the record is in the log.
struct RecordPipes {
  std::vector<OutputPump::RecordPipe> free;
  size_t made = 0;   // open: free and in flight
  bool too_small = false;   // F_SETPIPE_SZ cannot make one big enough: not tried again
};

RecordPipes& record_pipes() {
  thread_local RecordPipes p;
  return p;
}

// A pipe that takes a header and `payload_max` bytes moved from the
// scratch pipe (whose pages it needs one slot each), or none: at the
// limit, or this pipe cannot be made that big.
OutputPump::RecordPipe take_record_pipe(size_t payload_max) {
  RecordPipes& rp = record_pipes();
  if (!rp.free.empty()) {
    OutputPump::RecordPipe p = std::move(rp.free.back());
    rp.free.pop_back();
    return p;
  }
  if (rp.made >= kRecordPipesMax || rp.too_small) return {};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return {};   // out of descriptors: maybe not next time
  OutputPump::RecordPipe p;
  p.r.reset(fds[0]);
  p.w.reset(fds[1]);
  int set_errno = ::fcntl(p.w.get(), F_SETPIPE_SZ, int(2 * payload_max)) < 0 ? errno : 0;
  int cap = ::fcntl(p.w.get(), F_GETPIPE_SZ);
  if (cap < 0 || size_t(cap) < payload_max + 4096) {
    // The same refusal would come for every big record (e.g. the user's
    // pipe pages over /proc/sys/fs/pipe-user-pages-soft): say so once and
    // copy from now on.
    rp.too_small = true;
    log::warn("logs", "a record pipe of {} bytes cannot be made ({}): big records are copied from now on",
              2 * payload_max, set_errno ? std::strerror(set_errno) : fmt::format("got {} bytes", cap));
    return {};
  }
  rp.made++;
  return p;
}

// `empty`: all its bytes went to the log, so it can serve again; else it
// is closed with whatever it held.
void give_record_pipe(OutputPump::RecordPipe p, bool empty) {
  if (!p) return;
  RecordPipes& rp = record_pipes();
  if (empty && rp.free.size() < kRecordPipesFree) {
    rp.free.push_back(std::move(p));
    return;
  }
  rp.made--;
}

}  // namespace

PumpParking::PumpParking(size_t open_max) : vault_(std::make_unique<reactor::FdVault>()), open_max_(open_max) {
  enabled_ = vault_->available();
  if (!enabled_)
    log::warn("logs", "idle containers keep their output descriptors: this kernel cannot give a vaulted file back "
              "(IORING_OP_FIXED_FD_INSTALL, Linux 6.8)");
}

PumpParking::~PumpParking() {
  while (head_) unlist(head_);
}

void PumpParking::settled(OutputPump* p) {
  p->listed_ = true;
  p->prev_ = nullptr;
  p->next_ = head_;
  if (head_) head_->prev_ = p;
  head_ = p;
  if (!tail_) tail_ = p;
  idle_n_++;
  while (idle_n_ > open_max_ && tail_) {
    OutputPump* victim = tail_;
    unlist(victim);
    (void)victim->park();  // not idle after all: it settles again later
  }
}

size_t PumpParking::park_all_idle() {
  size_t n = 0;
  while (tail_) {
    OutputPump* victim = tail_;
    unlist(victim);
    n += victim->park() ? 1 : 0;
  }
  return n;
}

void PumpParking::unlist(OutputPump* p) {
  if (!p->listed_) return;
  if (p->prev_) p->prev_->next_ = p->next_;
  else head_ = p->next_;
  if (p->next_) p->next_->prev_ = p->prev_;
  else tail_ = p->prev_;
  p->prev_ = p->next_ = nullptr;
  p->listed_ = false;
  idle_n_--;
}

OutputPump::OutputPump(reactor::Reactor& r, unique_fd log_fd, uint64_t log_size, unique_fd out,
                       unique_fd err, Callbacks cb, PumpParking* parking)
    : r_(r), log_fd_(std::move(log_fd)), log_size_(log_size), cb_(std::move(cb)),
      parking_(parking && parking->enabled() ? parking : nullptr) {
  streams_[0].id = 1;
  streams_[0].fd = std::move(out);
  streams_[1].id = 2;
  streams_[1].fd = std::move(err);
  for (Stream& s : streams_) {
    Stream* sp = &s;
    s.read_c.set_callback([this, sp](int32_t res, uint32_t) { read_done(*sp, res); });
    if (!s.fd) s.eof = true;
  }
  write_c_.set_callback([this](int32_t res, uint32_t) { write_done(res); });
  retry_c_.set_callback([this](int32_t, uint32_t) { write_next(); });
}

OutputPump::~OutputPump() {
  BERTH_ASSERT_MSG(!busy(), "OutputPump destroyed while busy");
  for (Stream& s : streams_) give_record_pipe(std::move(s.pipe), false);
  if (!parking_) return;
  parking_->unlist(this);
  if (parked_) parking_->parked_--;
  for (Stream& s : streams_) parking_->vault().drop(s.key);
  forget_log_keys();
}

// --- parking (see log_pump.h) ---

bool OutputPump::parkable() const {
  if (!parking_ || cancelled_ || drained_ || writer_gone_ || gave_up_ || rotating_ || truncating_) return false;
  if (!queue_.empty() || !copies_.empty() || written_ || write_c_.in_flight() || retry_c_.in_flight()) return false;
  if (index_ && index_->busy()) return false;
  bool any = false;
  for (const Stream& s : streams_) {
    if (s.eof) continue;
    if (!s.peek || !s.read_c.in_flight() || s.unconsumed || s.buf || s.pipe || !s.fd) return false;
    any = true;
  }
  return any;
}

void OutputPump::maybe_settle() {
  if (parking_ && !parked_ && !listed_ && parkable()) parking_->settled(this);
}

bool OutputPump::park() {
  if (parked_ || !parkable()) return false;
  reactor::FdVault& v = parking_->vault();
  auto stash = [&](int fd, uint32_t& key) {
    if (fd < 0 || key != kNoKey) return true;
    auto k = v.stash(fd);
    if (!k) {
      log::warn("logs", "{}: idle output keeps its descriptors: {}", path_, k.error().message());
      return false;
    }
    key = *k;
    return true;
  };
  for (Stream& s : streams_)
    if (!s.eof && !stash(s.fd.get(), s.key)) return false;
  if (!stash(log_fd_.get(), log_key_)) return false;
  if (index_ && !stash(index_->fd(), index_key_)) return false;
  // The polls hold the pipes' files once submitted; then the descriptors go.
  r_.flush();
  for (Stream& s : streams_)
    if (!s.eof) s.fd.reset();
  log_fd_.reset();
  if (index_) (void)index_->release_fd();
  parked_ = true;
  parking_->parked_++;
  return true;
}

// Every descriptor back from the vault. A pipe that cannot be had back
// ends its stream (logged); a log that cannot is retried by write_next().
bool OutputPump::unpark() {
  if (!parked_) return true;
  parked_ = false;
  parking_->parked_--;
  reactor::FdVault& v = parking_->vault();
  bool all = true;
  for (Stream& s : streams_) {
    if (s.eof || s.key == kNoKey) continue;
    auto fd = v.open(s.key);
    if (fd) {
      s.fd = std::move(*fd);
    } else {
      log::error("logs", "{}: its output pipe back from the vault: {}", path_, fd.error().message());
      all = false;
    }
  }
  if (!log_from_vault()) all = false;
  if (index_ && index_key_ != kNoKey)
    if (auto fd = v.open(index_key_); fd) index_->restore_fd(std::move(*fd));
  return all;
}

// The log's descriptor back from the vault, if it is there and not open.
bool OutputPump::log_from_vault() {
  if (log_fd_ || log_key_ == kNoKey) return true;
  auto fd = parking_->vault().open(log_key_);
  if (!fd) return false;
  log_fd_ = std::move(*fd);
  return true;
}

void OutputPump::end_stream(Stream& s) {
  s.eof = true;
  s.fd.reset();
  give_buf(std::move(s.buf));
  give_record_pipe(std::move(s.pipe), false);
  if (parking_ && s.key != kNoKey) {
    parking_->vault().drop(s.key);
    s.key = kNoKey;
  }
}

// The log and index keys name files the pump no longer appends to
// (rotation, drain, destruction).
void OutputPump::forget_log_keys() {
  if (!parking_) return;
  parking_->vault().drop(log_key_);
  parking_->vault().drop(index_key_);
  log_key_ = index_key_ = kNoKey;
}

bool OutputPump::busy() const {
  return streams_[0].read_c.in_flight() || streams_[1].read_c.in_flight() ||
         write_c_.in_flight() || retry_c_.in_flight() || rotating_ || truncating_ || (index_ && index_->busy());
}

void OutputPump::use_log_files(std::string path, const LogConfig& cfg,
                               Result<std::pair<unique_fd, uint64_t>> index) {
  path_ = std::move(path);
  cfg_ = cfg;
  index_ = std::make_unique<IndexWriter>(r_);
  // The index may still be writing when the output drains: tell the owner
  // again once it is done, so it can tell when the pump is no longer busy.
  index_->set_on_idle([this] {
    if (drained_ && !busy() && cb_.drained) cb_.drained();
    else maybe_settle();
  });
  if (!index) log::warn("logs", "{}: {}", path_, index.error().message());
  else index_->use(std::move(index->first), index->second);
}

// The scratch pipe tee copies into, one for every pump of the thread
// (pumps live on the reactor thread): peek_done empties it right after each
// tee (into a buffer or a record pipe), so it never holds a stream's bytes
// between calls. One per stream cost two descriptors per stream, four per
// container. Its size is the biggest spliced record.
OutputPump::Scratch& OutputPump::scratch() {
  thread_local Scratch s = [] {
    Scratch x;
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
      x.r.reset(p[0]);
      x.w.reset(p[1]);
      if (::fcntl(x.w.get(), F_SETPIPE_SZ, int(kSpliceMaxBytes)) < 0)
        (void)::fcntl(x.w.get(), F_SETPIPE_SZ, int(kChunkBytes));
      int cap = ::fcntl(x.w.get(), F_GETPIPE_SZ);
      x.null.reset(::open("/dev/null", O_WRONLY | O_CLOEXEC));
      if (x.null && cap > int(kChunkBytes)) x.splice_max = size_t(cap);
    }
    return x;
  }();
  return s;
}

size_t OutputPump::record_pipes_in_use() {
  const RecordPipes& rp = record_pipes();
  return rp.made - rp.free.size();
}

// Where the next record read will land in the log: after the records
// queued before it.
uint64_t OutputPump::next_record_at() const {
  uint64_t at = log_size_;
  for (const Stream* q : queue_) at += q->record_len;
  return at;
}

// Whether an attached client wants the bytes of the record being read.
bool OutputPump::wants_output() const {
  return cb_.output && (!cb_.fan_out || cb_.fan_out());
}

bool OutputPump::splice_allowed() const {
  return scratch().splice_max && !cfg_.non_blocking && !wants_output();
}

// Reads (or splices into /dev/null) `n` bytes that are in `fd`, a pipe.
void OutputPump::discard(int fd, size_t n) {
  const Scratch& sc = scratch();
  bool by_splice = bool(sc.null);
  std::unique_ptr<char[]> spare;   // a stream buffer, if /dev/null takes no splice
  while (n > 0) {
    if (!by_splice && !spare) spare = take_buf();
    ssize_t k = by_splice ? ::splice(fd, nullptr, sc.null.get(), nullptr, n, SPLICE_F_NONBLOCK)
                          : ::read(fd, spare.get(), std::min(n, kChunkBytes));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && by_splice && errno == EINVAL) {
      by_splice = false;
      continue;
    }
    BERTH_ASSERT_MSG(k > 0, "discard: the bytes tee saw are gone from the pipe");
    n -= size_t(k);
  }
  give_buf(std::move(spare));
}

// The `n` bytes tee just put in the scratch pipe go behind their header
// into a record pipe. 1: staged (s.pipe); 0: not (the scratch pipe still
// holds them); -1: failed half-way (the scratch pipe is emptied: peek again).
int OutputPump::stage(Stream& s, size_t n) {
  Scratch& sc = scratch();
  RecordPipe p = take_record_pipe(sc.splice_max);
  if (!p) return 0;
  RecordHeader h;
  h.len = uint32_t(n);
  h.stream = s.id;
  h.ts_ns = s.ts_ns;
  char head[kRecordHeaderBytes];
  encode_record_header(h, head);
  if (::write(p.w.get(), head, sizeof head) != ssize_t(sizeof head)) {
    give_record_pipe(std::move(p), false);
    return 0;
  }
  size_t moved = 0;
  while (moved < n) {
    ssize_t k = ::splice(sc.r.get(), nullptr, p.w.get(), nullptr, n - moved, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    moved += size_t(k);
  }
  if (moved < n) {
    // The record pipe was checked to hold a full scratch pipe and a header:
    // not expected. Splicing stops; the bytes are still in the container's pipe.
    log::error("logs", "{}: staging a record moved {} of {} bytes; records are copied from now on", path_, moved, n);
    sc.splice_max = 0;
    discard(sc.r.get(), n - moved);
    give_record_pipe(std::move(p), false);
    return -1;
  }
  s.pipe = std::move(p);
  return 1;
}

void OutputPump::set_output(unique_fd out) {
  streams_[0].fd = std::move(out);
  streams_[0].eof = !streams_[0].fd;
}

void OutputPump::start() {
  for (Stream& s : streams_) {
    struct stat st;
    if (s.fd && ::fstat(s.fd.get(), &st) == 0 && S_ISFIFO(st.st_mode) && scratch().r) {
      // Never blocks: only the pump reads this pipe (the keeper holds it).
      int fl = ::fcntl(s.fd.get(), F_GETFL);
      s.peek = fl >= 0 && ::fcntl(s.fd.get(), F_SETFL, fl | O_NONBLOCK) == 0;
    }
    if (!s.eof) read(s);
  }
  check_drained();
}

// The next read of a stream whose record is done; after cancel() none:
// the stream ends there (a read that completed with data just before the
// cancel must not leave it waiting for a read that never comes).
void OutputPump::read_or_end(Stream& s) {
  if (!cancelled_) return read(s);
  end_stream(s);
}

// The bytes of the record just logged (or dropped) leave the pipe.
void OutputPump::consume(Stream& s) {
  if (s.unconsumed > 0 && s.fd) discard(s.fd.get(), s.unconsumed);
  s.unconsumed = 0;
}

// POLLIN came: a copy of what the pipe holds (tee leaves it there), staged
// in a record pipe (big, see splice_allowed) or in the buffer, as a read
// would have put it. 0: EOF; -EAGAIN: nothing yet.
int32_t OutputPump::peek_done(Stream& s, int32_t res) {
  if (res < 0) return res;
  Scratch& sc = scratch();
  bool big = splice_allowed();
  // Alone, a record takes what the scratch pipe holds (up to max-size's
  // room left); while other containers log, one buffer's worth per turn.
  size_t limit = kChunkBytes;
  if (big && !others_read_since(this, s.ts_ns - kAloneNs)) {
    limit = sc.splice_max;
    if (cfg_.max_size) {
      uint64_t at = next_record_at();
      uint64_t room = cfg_.max_size > at + kRecordHeaderBytes ? cfg_.max_size - at - kRecordHeaderBytes : 0;
      limit = size_t(std::max<uint64_t>(kChunkBytes, std::min<uint64_t>(limit, room)));
    }
  }
  ssize_t n = ::tee(s.fd.get(), sc.w.get(), limit, SPLICE_F_NONBLOCK);
  if (n < 0) return errno == EINTR ? -EAGAIN : -errno;
  if (n == 0) return 0;
  note_read(this, s.ts_ns);
  if (big && size_t(n) >= kSpliceMinBytes) {
    int staged = stage(s, size_t(n));
    if (staged < 0) return -EAGAIN;
    if (staged > 0) {
      s.unconsumed = size_t(n);
      return int32_t(n);
    }
  }
  if (!s.buf) s.buf = take_buf();
  size_t want = std::min(size_t(n), kChunkBytes), got = 0;
  while (got < want) {
    ssize_t k = ::read(sc.r.get(), s.buf.get() + kRecordHeaderBytes + got, want - got);
    if (k < 0 && errno == EINTR) continue;
    BERTH_ASSERT_MSG(k > 0, "the scratch pipe lost what tee put there");
    got += size_t(k);
  }
  if (size_t(n) > want) discard(sc.r.get(), size_t(n) - want);
  s.unconsumed = want;
  return int32_t(want);
}

void OutputPump::cancel() {
  cancelled_ = true;
  for (Stream& s : streams_) r_.cancel(s.read_c);
  r_.cancel(retry_c_);
}

void OutputPump::writer_gone() {
  writer_gone_ = true;
  // A write waiting for its retry is tried now: it lands, or is given up.
  if (retry_c_.in_flight()) r_.cancel(retry_c_);
}

void OutputPump::read(Stream& s) {
  if (s.peek) {
    give_buf(std::move(s.buf));  // none while the pipe is empty
    r_.poll(s.fd.get(), POLLIN, s.read_c);
    return maybe_settle();
  }
  if (!s.buf) s.buf = take_buf();
  r_.read(s.fd.get(), s.buf.get() + kRecordHeaderBytes, kChunkBytes, uint64_t(-1), s.read_c);
}

void OutputPump::read_done(Stream& s, int32_t res) {
  if (parking_) parking_->unlist(this);  // active
  if (parked_ && res != -ECANCELED) (void)unpark();
  if (s.peek && res >= 0 && !s.fd) res = -EBADF;  // its pipe did not come back: the stream ends
  s.ts_ns = now_ns();
  if (s.peek) res = peek_done(s, res);
  if (res == -EINTR || res == -EAGAIN) {
    if (!cancelled_) return read(s);
    res = 0;
  }
  if (res <= 0) {
    // EOF (every writer closed) or an error reading our own pipe: the stream ends.
    end_stream(s);
    check_drained();
    return;
  }
  if (!s.peek) note_read(this, s.ts_ns);   // a tty's read counts as another logger too (peek_done's rule)
  s.record_len = kRecordHeaderBytes + size_t(res);
  if (!s.pipe) {   // a spliced record's header is in its pipe already
    RecordHeader h;
    h.len = uint32_t(res);
    h.stream = s.id;
    h.ts_ns = s.ts_ns;
    encode_record_header(h, s.buf.get());
    if (wants_output())
      cb_.output(s.id, std::string_view(s.buf.get() + kRecordHeaderBytes, res));
  }
  if (cfg_.non_blocking) return copy_record(s, res);
  queue_.push_back(&s);
  if (queue_.size() == 1) write_next();
}

void OutputPump::copy_record(Stream& s, int32_t payload) {
  // The first record always fits, so a max-buffer-size below one read's
  // size still logs something.
  if (copies_.empty() || copied_bytes_ + s.record_len <= cfg_.max_buffer) {
    copies_.push_back({std::string(s.buf.get(), s.record_len), s.id});
    copied_bytes_ += s.record_len;
    consume(s);
  } else {
    consume(s);
    if (dropped_records_++ == 0)
      log::warn("logs", "log buffer full ({} bytes): dropping output of {}", cfg_.max_buffer, path_);
    dropped_bytes_ += uint64_t(payload);
    if (cb_.dropped) cb_.dropped(uint64_t(payload));
  }
  read_or_end(s);
  write_next();
}

const char* OutputPump::front_record(size_t* len) const {
  if (cfg_.non_blocking) {
    *len = copies_.front().record.size();
    return copies_.front().record.data();
  }
  *len = queue_.front()->record_len;
  return queue_.front()->buf.get();   // null for a spliced record
}

void OutputPump::write_next() {
  // One write at a time, and none while a failed one waits for its retry
  // or the log rotates.
  if ((cfg_.non_blocking ? copies_.empty() : queue_.empty()) || write_c_.in_flight() || retry_c_.in_flight() ||
      rotating_)
    return;
  if (parked_) (void)unpark();
  else (void)log_from_vault();  // one an earlier unpark could not have back
  size_t len;
  const char* rec = front_record(&len);
  if (!cfg_.non_blocking && queue_.front()->pipe) {
    r_.splice(queue_.front()->pipe.r.get(), log_fd_.get(), unsigned(len - written_), 0, write_c_,
              int64_t(log_size_ + written_));
    return;
  }
  r_.write(log_fd_.get(), rec + written_, unsigned(len - written_), log_size_ + written_, write_c_);
}

void OutputPump::write_done(int32_t res) {
  if (res == -EINVAL && written_ == 0 && !cfg_.non_blocking && queue_.front()->pipe) {
    // The log's file system takes no splice: records are copied from now
    // on. This one is still in the container's pipe; it is peeked again.
    log::warn("logs", "{}: splice into the log: {}; records are copied from now on", path_, std::strerror(-res));
    scratch().splice_max = 0;
    Stream& s = *queue_.front();
    queue_.pop_front();
    give_record_pipe(std::move(s.pipe), false);
    s.unconsumed = 0;
    read_or_end(s);
    write_next();
    return check_drained();
  }
  if (res < 0) {
    // ENOSPC or EIO: keep the record and retry; the container blocks on its
    // full pipe meanwhile, so nothing is lost.
    if (write_errors_++ == 0) log::error("logs", "write container log: {}", std::strerror(-res));
    if (cancelled_ || writer_gone_) return give_up(-res);
    r_.timeout(&retry_ts_, retry_c_);
    return;
  }
  size_t len;
  const char* rec = front_record(&len);
  written_ += size_t(res);
  if (written_ < len) return write_next();  // short write: finish it
  uint64_t record_offset = log_size_;
  log_size_ += len;
  written_ = 0;
  if (cfg_.non_blocking) {
    RecordHeader h;
    decode_record_header(rec, &h);
    committed(h.ts_ns, len, rec[len - 1], copies_.front().stream, record_offset);
    copied_bytes_ -= len;
    copies_.pop_front();
  } else {
    Stream& s = *queue_.front();
    queue_.pop_front();
    char last = 0;
    if (s.pipe) {
      // Its last byte, for the index's line starts, from the page just
      // written (the log is open for reading too). Unread, the next index
      // entry would say no line starts there when one does, and `logs
      // --tail` could give a line more than asked.
      if (index_ && ::pread(log_fd_.get(), &last, 1, off_t(record_offset + len - 1)) != 1) {
        if (read_back_errors_++ == 0)
          log::warn("logs", "{}: read back a spliced record's last byte: {}", path_, std::strerror(errno));
        last = 0;
      }
      give_record_pipe(std::move(s.pipe), true);
    } else {
      last = rec[len - 1];
    }
    committed(s.ts_ns, len, last, s.id, record_offset);
    consume(s);
    read_or_end(s);
  }
  if (cb_.committed) cb_.committed(log_size_);
  if (cfg_.max_size && log_size_ >= cfg_.max_size && !rotate_failed_) rotate();
  write_next();
  check_drained();
}

// Indexes the record just written at `record_offset` (`len` bytes with its
// header, taken at `ts_ns`, its last byte `last`) and tracks where lines start.
void OutputPump::committed(int64_t ts_ns, size_t len, char last, uint8_t stream, uint64_t record_offset) {
  if (!index_) return;
  size_t payload = len - kRecordHeaderBytes;
  if (!indexed_any_ || record_offset >= last_indexed_ + kIndexEveryBytes) {
    index_->add({record_offset, ts_ns, line_start_});
    indexed_any_ = true;
    last_indexed_ = record_offset;
  }
  uint8_t bit = stream == 1 ? 1 : 2;
  if (payload && last == '\n') line_start_ |= bit;
  else if (payload) line_start_ &= uint8_t(~bit);
}

// What the rotation job hands back.
struct OutputPump::Rotated {
  Result<unique_fd> log = Error(Code::kCancelled, "rotation not run");
  Result<std::pair<unique_fd, uint64_t>> index = Error(Code::kCancelled, "rotation not run");
};

// No log write is in flight here, and none starts until the job is done:
// the renames, the new files' opens and the deletion of the dropped oldest
// file (freeing its blocks can take milliseconds) run on the job lane.
void OutputPump::rotate() {
  rotating_ = true;
  auto r = std::make_shared<Rotated>();
  bool queued = r_.run_job(
      [r, path = path_, max_file = cfg_.max_file] {
        auto dropped = rotate_log_files(path, max_file);
        if (!dropped) {
          r->log = std::move(dropped.error());
          return;
        }
        r->log = open_fd(path, O_RDWR | O_CREAT | O_EXCL, 0600);   // read: see write_done
        if (r->log) r->index = IndexWriter::open_file(log_index_path(path));
        if (*dropped) {
          std::string p = log_drop_path(path);
          ::unlink(p.c_str());
          ::unlink(log_index_path(p).c_str());
        }
      },
      [this, r] { rotated(*r); });
  if (!queued) {
    rotating_ = false;
    rotate_failed_ = true;
    log::error("logs", "rotate {}: the job backlog is full; the log grows past max-size", path_);
  }
}

void OutputPump::rotated(Rotated& r) {
  rotating_ = false;
  if (!r.log) {
    // Nothing renamed, or the old file renamed without a new one: either
    // way the pump keeps appending to the fd it has.
    rotate_failed_ = true;
    log::error("logs", "rotate {}: {}; the log grows past max-size", path_, r.log.error().message());
  } else {
    forget_log_keys();
    log_fd_ = std::move(*r.log);
    log_size_ = 0;
    if (!r.index) log::warn("logs", "{}: {}", path_, r.index.error().message());
    index_->use(r.index ? std::move(r.index->first) : unique_fd(), r.index ? r.index->second : 0);
    indexed_any_ = false;
    if (cb_.rotated) cb_.rotated();
  }
  write_next();
  check_drained();
}

// The log write failed and nobody waits for it (the daemon shuts down, or
// the container exited: see writer_gone()): the records waiting are
// dropped, and their streams read on to their end.
void OutputPump::give_up(int err) {
  uint64_t bytes = 0, records = 0;
  std::deque<Stream*> reread;
  if (cfg_.non_blocking) {
    for (const Copy& c : copies_) bytes += c.record.size() - kRecordHeaderBytes;
    records = copies_.size();
    copies_.clear();
    copied_bytes_ = 0;
  } else {
    for (Stream* s : queue_) bytes += s->record_len - kRecordHeaderBytes;
    records = queue_.size();
    reread = std::move(queue_);
    queue_.clear();
  }
  if (written_ > 0) cut_partial_record();
  if (!cancelled_) {
    dropped_bytes_ += bytes;
    dropped_records_ += records;
    if (!gave_up_)
      log::warn("logs", "{}: {}: the container has exited; output that cannot be written is not logged", path_,
                std::strerror(err));
    gave_up_ = true;
  }
  for (Stream* s : reread) {
    give_record_pipe(std::move(s->pipe), false);
    if (!cancelled_) consume(*s);   // cancelled: left in the pipe for the next berthd
    read_or_end(*s);
  }
  check_drained();
}

// A record partly written when its write failed: the log is cut back to
// its last whole record, so that what is appended later (a restart) parses.
void OutputPump::cut_partial_record() {
  written_ = 0;
  int dup = ::fcntl(log_fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return;
  auto fd = std::make_shared<unique_fd>(dup);
  off_t size = off_t(log_size_);
  truncating_ = true;
  bool queued = r_.run_job([fd, size] { (void)::ftruncate(fd->get(), size); },
                           [this] {
                             truncating_ = false;
                             check_drained();
                           });
  if (!queued) truncating_ = false;
}

void OutputPump::check_drained() {
  if (drained_ || !streams_[0].eof || !streams_[1].eof || !queue_.empty() || !copies_.empty() ||
      write_c_.in_flight() || rotating_ || truncating_)
    return maybe_settle();
  drained_ = true;
  log_fd_.reset();
  forget_log_keys();
  if (cb_.drained) cb_.drained();
}

}  // namespace berth::engine
