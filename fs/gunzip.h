// Gunzip: streaming gzip decompression with ISA-L's igzip inflate, which
// runs several times faster than zlib's (measured here: 0.12 s against
// 0.45 s of CPU for a 72 MiB layer of shared libraries). Concatenated
// members are read as gzip(1) reads them; bytes after the last member that
// do not start another one are left unread (the caller may drain them).
// Each member's CRC-32 and length are checked.
//
// Blocking only as much as its source; one instance belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "core/base/result.h"

struct inflate_state;

namespace berth::fs {

class Gunzip {
 public:
  // Returns the next piece of compressed input, valid until the next call;
  // empty at the end of the input.
  using Source = std::function<Result<std::string_view>()>;

  explicit Gunzip(Source src);
  ~Gunzip();
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  // The next piece of output, valid until the next call; empty at the end.
  // kInvalidArgument for corrupt or truncated data.
  Result<std::string_view> next();

 private:
  Result<void> refill();

  Source src_;
  std::unique_ptr<inflate_state> st_;
  std::vector<uint8_t> out_;
  bool in_eof_ = false;
  bool finished_ = false;
};

}  // namespace berth::fs
