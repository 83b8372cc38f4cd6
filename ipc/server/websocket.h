// The WebSocket protocol (RFC 6455) as far as attach/ws needs it: the
// handshake's accept key, server frames (never masked), and a decoder for
// client frames (always masked): text/binary data with continuations,
// close, ping and pong. Pure; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::ipc {

enum WsOpcode : uint8_t { kWsContinuation = 0, kWsText = 1, kWsBinary = 2, kWsClose = 8, kWsPing = 9, kWsPong = 10 };

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string ws_accept_key(std::string_view client_key);

// One whole (FIN) server frame.
void append_ws_frame(std::string& out, uint8_t opcode, std::string_view payload);

// Client frames, fed as bytes arrive. Data frames (text or binary, with
// their continuations) come out through `data` a frame at a time; control
// frames through `control`. Frames must be masked and at most kMaxPayload
// bytes; anything else is an error (the server then closes).
class WsDecoder {
 public:
  static constexpr uint64_t kMaxPayload = 1 << 20;
  using DataFn = std::function<void(std::string_view payload)>;
  using ControlFn = std::function<void(uint8_t opcode, std::string_view payload)>;
  Result<void> feed(std::string_view in, const DataFn& data, const ControlFn& control);

 private:
  std::string buf_;
};

}  // namespace berth::ipc
