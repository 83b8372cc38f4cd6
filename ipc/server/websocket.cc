#include "ipc/server/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace berth::ipc {

std::string ws_accept_key(std::string_view client_key) {
  std::string in(client_key);
  in += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 section 1.3
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), size_t(n));
}

void append_ws_frame(std::string& out, uint8_t opcode, std::string_view payload) {
  out.push_back(char(0x80 | (opcode & 0x0f)));
  uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(char(n));
  } else if (n <= 0xffff) {
    out.push_back(char(126));
    out.push_back(char(n >> 8));
    out.push_back(char(n & 0xff));
  } else {
    out.push_back(char(127));
    for (int i = 7; i >= 0; i--) out.push_back(char((n >> (8 * i)) & 0xff));
  }
  out.append(payload);
}

Result<void> WsDecoder::feed(std::string_view in, const DataFn& data, const ControlFn& control) {
  buf_.append(in);
  size_t pos = 0;
  for (;;) {
    std::string_view b(buf_.data() + pos, buf_.size() - pos);
    if (b.size() < 2) break;
    uint8_t b0 = uint8_t(b[0]), b1 = uint8_t(b[1]);
    uint8_t opcode = b0 & 0x0f;
    if (b0 & 0x70) return Error::invalid("websocket: reserved bits set");
    if (!(b1 & 0x80)) return Error::invalid("websocket: a client frame must be masked");
    uint64_t len = b1 & 0x7f;
    size_t head = 2;
    if (len == 126) {
      if (b.size() < 4) break;
      len = (uint64_t(uint8_t(b[2])) << 8) | uint8_t(b[3]);
      head = 4;
    } else if (len == 127) {
      if (b.size() < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | uint8_t(b[2 + i]);
      head = 10;
    }
    if (len > kMaxPayload) return Error::invalid("websocket: a frame of {} bytes is over the limit", len);
    if (b.size() < head + 4 + len) break;
    const char* mask = b.data() + head;
    std::string payload(b.substr(head + 4, len));
    for (size_t i = 0; i < payload.size(); i++) payload[i] = char(payload[i] ^ mask[i % 4]);
    pos += head + 4 + len;
    if (opcode >= 8) {
      if (!(b0 & 0x80) || len > 125) return Error::invalid("websocket: a control frame must be whole and short");
      control(opcode, payload);
    } else if (opcode == kWsText || opcode == kWsBinary || opcode == kWsContinuation) {
      data(payload);  // fragments go on as they come: the stream has no message boundaries
    } else {
      return Error::invalid("websocket: unknown opcode {}", opcode);
    }
  }
  buf_.erase(0, pos);
  return ok();
}

}  // namespace berth::ipc
