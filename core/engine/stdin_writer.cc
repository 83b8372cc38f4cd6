#include "core/engine/stdin_writer.h"

#include <cstring>
#include <utility>

#include "core/base/log.h"

namespace berth::engine {

StdinWriter::StdinWriter(reactor::Reactor& r, std::function<void()> on_error)
    : r_(r), on_error_(std::move(on_error)) {
  c_.set_callback([this](int32_t res, uint32_t) { written(res); });
}

void StdinWriter::open(unique_fd fd) {
  if (dropped_) return;
  fd_ = std::move(fd);
  next();
}

void StdinWriter::write(std::string_view data, std::function<void()> done) {
  if (!accepting()) {
    if (done) done();
    return;
  }
  q_.push_back({std::string(data), std::move(done)});
  next();
}

void StdinWriter::close() {
  if (!accepting()) return;
  closing_ = true;
  next();
}

void StdinWriter::drop() {
  dropped_ = true;
  if (c_.in_flight()) return r_.cancel(c_);  // written() releases the queue
  fd_.reset();
  release_queue();
}

void StdinWriter::release_queue() {
  auto q = std::move(q_);
  q_.clear();
  off_ = 0;
  for (auto& chunk : q)
    if (chunk.done) chunk.done();
}

void StdinWriter::next() {
  if (c_.in_flight() || !fd_) return;  // not open yet: the queue waits
  while (!q_.empty() && off_ == q_.front().data.size()) {
    auto done = std::move(q_.front().done);
    q_.pop_front();
    off_ = 0;
    if (done) done();
  }
  // A `done` may have written more, which started the next write itself.
  if (c_.in_flight() || !fd_) return;
  if (q_.empty()) {
    if (closing_) fd_.reset();
    return;
  }
  const std::string& d = q_.front().data;
  r_.write(fd_.get(), d.data() + off_, unsigned(d.size() - off_), uint64_t(-1), c_);
}

void StdinWriter::written(int32_t res) {
  if (res <= 0 || dropped_) {
    // EPIPE/EIO (the process closed its stdin or its terminal), cancelled,
    // or dropped meanwhile: nothing more can be written.
    if (res < 0 && res != -EPIPE && res != -EIO && res != -ECANCELED)
      log::debug("engine", "stdin write: {}", std::strerror(-res));
    dropped_ = true;
    fd_.reset();
    release_queue();
    if (on_error_) on_error_();
    return;
  }
  off_ += size_t(res);
  next();
}

}  // namespace berth::engine
