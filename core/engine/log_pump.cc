#include "core/engine/log_pump.h"

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/log_format.h"

namespace berth::engine {

OutputPump::OutputPump(reactor::Reactor& r, unique_fd log_fd, uint64_t log_size, unique_fd out,
                       unique_fd err, Callbacks cb)
    : r_(r), log_fd_(std::move(log_fd)), log_size_(log_size), cb_(std::move(cb)) {
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

OutputPump::~OutputPump() { BERTH_ASSERT_MSG(!busy(), "OutputPump destroyed while busy"); }

bool OutputPump::busy() const {
  return streams_[0].read_c.in_flight() || streams_[1].read_c.in_flight() ||
         write_c_.in_flight() || retry_c_.in_flight();
}

void OutputPump::start() {
  for (Stream& s : streams_)
    if (!s.eof) read(s);
  check_drained();
}

void OutputPump::cancel() {
  cancelled_ = true;
  for (Stream& s : streams_) r_.cancel(s.read_c);
  r_.cancel(retry_c_);
}

void OutputPump::read(Stream& s) {
  if (!s.buf) s.buf.reset(new char[kRecordHeaderBytes + kChunkBytes]);
  r_.read(s.fd.get(), s.buf.get() + kRecordHeaderBytes, kChunkBytes, uint64_t(-1), s.read_c);
}

void OutputPump::read_done(Stream& s, int32_t res) {
  if (res == -EINTR || res == -EAGAIN) {
    if (!cancelled_) return read(s);
    res = 0;
  }
  if (res <= 0) {
    // EOF (every writer closed) or an error reading our own pipe: the stream ends.
    s.eof = true;
    s.fd.reset();
    s.buf.reset();
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
  queue_.push_back(&s);
  if (queue_.size() == 1) write_next();
}

void OutputPump::write_next() {
  if (queue_.empty() || write_c_.in_flight()) return;
  Stream& s = *queue_.front();
  r_.write(log_fd_.get(), s.buf.get() + written_, unsigned(s.record_len - written_),
           log_size_ + written_, write_c_);
}

void OutputPump::write_done(int32_t res) {
  if (res < 0) {
    // ENOSPC or EIO: keep the record and retry; the container blocks on its
    // full pipe meanwhile, so nothing is lost.
    if (write_errors_++ == 0) log::error("logs", "write container log: {}", std::strerror(-res));
    if (cancelled_) {
      queue_.clear();
      check_drained();
      return;
    }
    r_.timeout(&retry_ts_, retry_c_);
    return;
  }
  Stream& s = *queue_.front();
  written_ += size_t(res);
  if (written_ < s.record_len) return write_next();  // short write: finish it
  log_size_ += s.record_len;
  written_ = 0;
  queue_.pop_front();
  if (cb_.committed) cb_.committed(log_size_);
  if (!cancelled_) read(s);
  write_next();
  check_drained();
}

void OutputPump::check_drained() {
  if (drained_ || !streams_[0].eof || !streams_[1].eof || !queue_.empty() || write_c_.in_flight())
    return;
  drained_ = true;
  log_fd_.reset();
  if (cb_.drained) cb_.drained();
}

}  // namespace berth::engine
