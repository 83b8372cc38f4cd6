// The per-container log file format (container.log).
//
// A log file is a sequence of records, each a 16-byte little-endian header
// followed by `len` payload bytes exactly as read from the container's
// stdout or stderr (records are not split into lines; readers split them):
//
//   offset 0  u32  len        payload bytes (<= kMaxRecordPayload)
//   offset 4  u8   stream     1 = stdout, 2 = stderr
//   offset 5  u8   flags      0 (reserved)
//   offset 6  u16  magic      0xB7E1, to detect a torn or foreign file
//   offset 8  i64  ts_ns      wall-clock time the bytes were read (ns since epoch)
//
// Appends come only from the reactor thread, one write in flight per file,
// so a record is either wholly before the file's committed size or not yet
// visible. A reader stops at a truncated tail (a crash mid-write) without
// error. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace berth::engine {

inline constexpr size_t kRecordHeaderBytes = 16;
inline constexpr uint16_t kRecordMagic = 0xB7E1;
inline constexpr uint32_t kMaxRecordPayload = 1u << 20;

struct RecordHeader {
  uint32_t len = 0;
  uint8_t stream = 1;
  int64_t ts_ns = 0;
};

inline void encode_record_header(const RecordHeader& h, char* out) {
  std::memcpy(out, &h.len, 4);
  out[4] = char(h.stream);
  out[5] = 0;
  std::memcpy(out + 6, &kRecordMagic, 2);
  std::memcpy(out + 8, &h.ts_ns, 8);
}

// Returns false if `in` does not start with a valid header.
inline bool decode_record_header(const char* in, RecordHeader* h) {
  uint16_t magic;
  std::memcpy(&magic, in + 6, 2);
  if (magic != kRecordMagic) return false;
  std::memcpy(&h->len, in, 4);
  h->stream = uint8_t(in[4]);
  std::memcpy(&h->ts_ns, in + 8, 8);
  return h->len <= kMaxRecordPayload && (h->stream == 1 || h->stream == 2);
}

}  // namespace berth::engine
