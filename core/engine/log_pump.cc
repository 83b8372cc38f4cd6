#include "core/engine/log_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

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
    if (!s.peek || !s.read_c.in_flight() || s.unconsumed || s.buf || !s.fd) return false;
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
// tee, so it never holds a stream's bytes between calls. One per stream
// cost two descriptors per stream, four per container.
const OutputPump::Scratch& OutputPump::scratch() {
  thread_local const Scratch s = [] {
    Scratch x;
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
      x.r.reset(p[0]);
      x.w.reset(p[1]);
      (void)::fcntl(x.w.get(), F_SETPIPE_SZ, int(kChunkBytes));
    }
    return x;
  }();
  return s;
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
  while (s.unconsumed > 0 && s.fd) {
    ssize_t n = ::read(s.fd.get(), s.buf.get() + kRecordHeaderBytes, std::min(s.unconsumed, kChunkBytes));
    if (n < 0 && errno == EINTR) continue;
    BERTH_ASSERT_MSG(n > 0, "consume: the bytes tee saw are gone from the pipe");
    s.unconsumed -= size_t(n);
  }
  s.unconsumed = 0;
}

// POLLIN came: a copy of what the pipe holds (tee leaves it there) in the
// buffer, as a read would have put it. 0: EOF; -EAGAIN: nothing yet.
int32_t OutputPump::peek_done(Stream& s, int32_t res) {
  if (res < 0) return res;
  if (!s.buf) s.buf = take_buf();
  const Scratch& sc = scratch();
  ssize_t n = ::tee(s.fd.get(), sc.w.get(), kChunkBytes, SPLICE_F_NONBLOCK);
  if (n < 0) return errno == EINTR ? -EAGAIN : -errno;
  if (n == 0) return 0;
  size_t got = 0;
  while (got < size_t(n)) {
    ssize_t k = ::read(sc.r.get(), s.buf.get() + kRecordHeaderBytes + got, size_t(n) - got);
    if (k < 0 && errno == EINTR) continue;
    BERTH_ASSERT_MSG(k > 0, "the scratch pipe lost what tee put there");
    got += size_t(k);
  }
  s.unconsumed = size_t(n);
  return int32_t(n);
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
  RecordHeader h;
  h.len = uint32_t(res);
  h.stream = s.id;
  h.ts_ns = now_ns();
  encode_record_header(h, s.buf.get());
  s.record_len = kRecordHeaderBytes + size_t(res);
  if (cb_.output) cb_.output(s.id, std::string_view(s.buf.get() + kRecordHeaderBytes, res));
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
  return queue_.front()->buf.get();
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
  r_.write(log_fd_.get(), rec + written_, unsigned(len - written_), log_size_ + written_, write_c_);
}

void OutputPump::write_done(int32_t res) {
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
    committed(rec, len, copies_.front().stream, record_offset);
    copied_bytes_ -= len;
    copies_.pop_front();
  } else {
    Stream& s = *queue_.front();
    queue_.pop_front();
    committed(rec, len, s.id, record_offset);
    consume(s);
    read_or_end(s);
  }
  if (cb_.committed) cb_.committed(log_size_);
  if (cfg_.max_size && log_size_ >= cfg_.max_size && !rotate_failed_) rotate();
  write_next();
  check_drained();
}

// Indexes the record just written at `record_offset` (from its header, still
// in the stream's buffer) and tracks where lines start.
void OutputPump::committed(const char* record, size_t len, uint8_t stream, uint64_t record_offset) {
  if (!index_) return;
  size_t payload = len - kRecordHeaderBytes;
  if (!indexed_any_ || record_offset >= last_indexed_ + kIndexEveryBytes) {
    RecordHeader h;
    decode_record_header(record, &h);
    index_->add({record_offset, h.ts_ns, line_start_});
    indexed_any_ = true;
    last_indexed_ = record_offset;
  }
  uint8_t bit = stream == 1 ? 1 : 2;
  if (payload && record[kRecordHeaderBytes + payload - 1] == '\n') line_start_ |= bit;
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
        r->log = open_fd(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
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
