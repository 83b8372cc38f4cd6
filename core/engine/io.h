// ContainerIo: a container's streams while it runs: clients attached to its
// output (POST /attach), its stdin (OpenStdin: a pipe berthd writes, or the
// pty master), the pty's window size, and the followers of its log (GET
// /logs?follow=1), woken as the output pump commits records.
//
// Input sent before the process exists (docker run -i attaches before
// start) waits on the Container and goes first at start (stdin_started).
//
// Thread: reactor thread only. Tokens name registrations; removal is
// deferred, since a client may leave from inside a fan-out loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/log_pump.h"
#include "core/engine/stdin_writer.h"

namespace berth::engine {

class Engine;

class ContainerIo {
 public:
  explicit ContainerIo(Engine& e) : e_(e) {}
  ContainerIo(const ContainerIo&) = delete;
  ContainerIo& operator=(const ContainerIo&) = delete;

  uint64_t attach(Container& c, Attacher a);
  void detach(const std::string& id, uint64_t token);
  // Log followers: returns 0 and registers nothing when the container is
  // not running (its log is final).
  uint64_t watch_log(Container& c, std::function<void(bool ended)> fire);
  void unwatch_log(const std::string& id, uint64_t token);

  // write_stdin queues a copy of `data`; `done` runs once it is written (or
  // dropped because the container's stdin is gone), so callers can apply
  // back-pressure. close_stdin ends the stream (EOF) after queued data.
  bool stdin_open(const Container& c) const;
  void write_stdin(Container& c, std::string_view data, std::function<void()> done);
  void close_stdin(Container& c);
  // Window size of a tty container's pty (SIGWINCH to its foreground
  // process group). kConflict when it is not running or has no tty.
  Result<void> resize(Container& c, unsigned short rows, unsigned short cols);

  // For the engine's start and exit paths.
  OutputPump::Callbacks pump_callbacks(Container& c);
  std::unique_ptr<StdinWriter> make_stdin_writer(Container& c);
  void stdin_started(Container& c);   // the process exists: pending input goes
  void pty_arrived(Container& c);     // tty: the master came with the exec status
  void notify_log(Container& c, bool ended);

 private:
  Engine& e_;
};

// TIOCSWINSZ on a pty master.
Result<void> set_window_size(int pty, unsigned short rows, unsigned short cols);

}  // namespace berth::engine
