// The loop under every hijacked stream of berthctl (run, exec, attach): the
// daemon's bytes go to a sink until the daemon closes the stream, and
// optionally an input fd (our stdin) goes the other way, through a filter
// that can end the loop (the detach keys). A third fd can wake the loop for
// a callback (SIGWINCH). Knows nothing of HTTP, frames or terminals, so it is
// unit-tested with a socketpair and pipes.
//
// Thread: blocking; the calling thread only. Callbacks run on it, between
// reads, never reentrantly.
// Ownership: every fd stays the caller's.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::ctl {

struct PumpInput {
  int fd = -1;  // copied into the socket; at its EOF the socket's write side is shut (half-close)
  // Turns input bytes into what is sent (appended to *out); returns true when
  // the input asked to detach: *out is still sent, then the loop ends. Null:
  // bytes go through as they are. (ipc::DetachMatcher::feed has this shape.)
  std::function<bool(std::string_view in, std::string* out)> filter;
  int wake_fd = -1;  // when readable, on_wake runs; it must consume what made it readable
  std::function<void()> on_wake;
};

enum class PumpEnd {
  kOutputEnded,  // the daemon closed the stream: the process's output is complete
  kDetached,     // the filter saw the detach keys; the stream is still open
};

// Runs until one of the two ends. A failed read of the socket or a failed
// sink is an error; a failed read of the input counts as its EOF, and a
// daemon that stops reading input only stops the input (output still counts).
Result<PumpEnd> pump_stream(int sock, const std::function<Result<void>(std::string_view)>& sink,
                            const PumpInput& input);

}  // namespace berth::ctl
