#include "ipc/proto/frames.h"

#include <algorithm>

namespace berth::ipc {

void append_frame(std::string& out, uint8_t stream, std::string_view payload) {
  constexpr size_t kMaxPayload = 0xffffffffu;
  while (!payload.empty()) {
    size_t n = std::min(payload.size(), kMaxPayload);
    auto size = static_cast<uint32_t>(n);
    char head[kFrameHeaderBytes] = {char(stream), 0, 0, 0, char(size >> 24), char(size >> 16),
                                    char(size >> 8), char(size)};
    out.append(head, sizeof head);
    out.append(payload.substr(0, n));
    payload.remove_prefix(n);
  }
}

void FrameReader::feed(std::string_view data) {
  // Compact before growing so a long stream does not accumulate consumed bytes.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ >= 64 * 1024)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data);
}

bool FrameReader::next(uint8_t* stream, std::string* payload) {
  if (buf_.size() - pos_ < kFrameHeaderBytes) return false;
  const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  uint32_t size = (uint32_t(h[4]) << 24) | (uint32_t(h[5]) << 16) | (uint32_t(h[6]) << 8) | h[7];
  if (buf_.size() - pos_ - kFrameHeaderBytes < size) return false;
  *stream = h[0];
  payload->assign(buf_, pos_ + kFrameHeaderBytes, size);
  pos_ += kFrameHeaderBytes + size;
  return true;
}

}  // namespace berth::ipc
