// Detach keys: the byte sequence that, typed on an attached stdin, detaches
// the client and leaves the container running (docker attach/run -it/exec -it,
// default ctrl-p ctrl-q).
//
// Format (Docker's): comma-separated keys, each "ctrl-<c>" with <c> one of
// a-z @ [ \ ] ^ _ (ctrl-a = 0x01 ... ctrl-@ = 0x00, ctrl-[ = 0x1b), or a
// single character standing for itself. Both berthd (which stops forwarding
// stdin and closes the stream) and berthctl (which must know it detached, not
// that the container ended) match the same sequence.
//
// Thread: plain values, any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::ipc {

inline constexpr std::string_view kDefaultDetachKeys = "ctrl-p,ctrl-q";

// The bytes of `spec`; an empty spec means kDefaultDetachKeys. kInvalidArgument
// for an unknown key, naming it.
Result<std::string> parse_detach_keys(std::string_view spec);

// Scans a stream for the sequence. Bytes that could start the sequence are
// held back until they either complete it (detach: they are never forwarded)
// or stop matching (then they are forwarded, in order). An empty sequence
// never matches: every byte goes through (a stream without a tty, where
// Docker applies no detach keys, so binary stdin arrives whole).
class DetachMatcher {
 public:
  explicit DetachMatcher(std::string keys) : keys_(std::move(keys)) {}
  // Appends to *out what `in` lets through. Returns true once the sequence is
  // complete; the rest of `in` after it is dropped and feed() must not be
  // called again.
  bool feed(std::string_view in, std::string* out);
  // Bytes held back as a possible start of the sequence.
  size_t pending() const { return matched_; }

 private:
  std::string keys_;
  size_t matched_ = 0;
};

}  // namespace berth::ipc
