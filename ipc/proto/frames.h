// Docker's multiplexed stream format (attach, exec, logs without a tty).
//
// Format, one frame per write on the server:
//
//   byte 0     stream: 0 stdin, 1 stdout, 2 stderr, 3 system error
//   bytes 1-3  zero
//   bytes 4-7  payload size, uint32 big-endian
//   bytes 8-   payload
//
// Frames are only used when the container/exec has no tty; with a tty the
// stream is the raw pty output. The framing follows the Tty flag, never the
// Content-Type header (docker-cli-map.md §1, §2). Stream 3 carries an error
// text from the daemon (Docker's stdcopy reports it as
// "error from daemon in stream: …").
//
// Thread safety: append_frame is pure; a FrameReader belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace berth::ipc {

inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint8_t kStreamStdin = 0;
inline constexpr uint8_t kStreamStdout = 1;
inline constexpr uint8_t kStreamStderr = 2;
inline constexpr uint8_t kStreamSystemError = 3;

// Appends one frame (several if the payload exceeds 4 GiB - 1); nothing for
// an empty payload.
void append_frame(std::string& out, uint8_t stream, std::string_view payload);

// Incremental demultiplexer: feed bytes as they arrive, pop whole frames.
class FrameReader {
 public:
  void feed(std::string_view data);
  // Pops the next complete frame; false when none is fully buffered.
  bool next(uint8_t* stream, std::string* payload);
  // Bytes of an incomplete frame still buffered (non-zero at EOF means the
  // stream was cut short).
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;  // start of the first unread frame in buf_
};

}  // namespace berth::ipc
