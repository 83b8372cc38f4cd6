// StdinWriter: feeds a process's stdin (a pipe's write end, or a pty master)
// from attached clients, one write in flight, in arrival order.
//
// Each chunk's `done` runs once the chunk is written or dropped, and a client
// sends its next chunk only then, so a process that does not read its stdin
// stalls its clients, never berthd's memory. Chunks written before open()
// (a pty master not received yet) wait in the queue.
//
// Thread: reactor thread only. The owner must not destroy it while busy();
// `on_error` runs after a failed or cancelled write (the writer has dropped
// everything by then), so the owner can check whether it may free itself.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"

namespace berth::engine {

class StdinWriter {
 public:
  StdinWriter(reactor::Reactor& r, std::function<void()> on_error);
  StdinWriter(const StdinWriter&) = delete;
  StdinWriter& operator=(const StdinWriter&) = delete;

  // Starts writing to `fd` (blocking mode is fine: io_uring waits for room).
  void open(unique_fd fd);
  // Queues a copy of `data`. After close() or drop(), `done` runs at once.
  void write(std::string_view data, std::function<void()> done);
  // EOF once the queue drains: the fd is closed and the reader sees EOF
  // (pipes only: callers never close a pty's writer).
  void close();
  // The reader is gone: cancel the write in flight, free the queue and run
  // every `done`.
  void drop();

  bool accepting() const { return !closing_ && !dropped_; }
  bool busy() const { return c_.in_flight(); }

 private:
  struct Chunk {
    std::string data;
    std::function<void()> done;
  };
  void next();
  void written(int32_t res);
  void release_queue();

  reactor::Reactor& r_;
  std::function<void()> on_error_;
  unique_fd fd_;
  reactor::Completion c_;
  std::deque<Chunk> q_;
  size_t off_ = 0;          // bytes of q_.front() already written
  bool closing_ = false, dropped_ = false;
};

}  // namespace berth::engine
