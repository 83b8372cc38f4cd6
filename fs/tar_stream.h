// TarStream: writes an uncompressed pax tar stream (as Docker writes layers)
// to a sink function, entry by entry, with file data in as many pieces as
// the caller likes, so a file is never held in memory whole. Used by commit
// (a layer from an upper dir) and export (a merged root filesystem). For
// small hand-made archives, fs/tar_writer.h is simpler.
//
// The sink gets the stream in order, in pieces of up to 64 KiB; an error it
// returns fails the write in progress and every later one. The stream is
// not padded beyond tar's own 512-byte blocks.
//
// Blocking only as much as its sink; one instance belongs to one thread. It
// owns its libarchive handle and the sink.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "core/base/result.h"
#include "fs/tar_writer.h"

namespace berth::fs {

// An OCI whiteout's name prefix in a layer tar (".wh.<name>": <name> deleted),
// and the opaque marker (".wh..wh..opq": the directory hides the layers below).
inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kWhiteoutOpaque = ".wh..wh..opq";

class TarStream {
 public:
  using Sink = std::function<Result<void>(std::string_view)>;

  static Result<TarStream> open(Sink sink);

  TarStream(TarStream&&) noexcept;
  TarStream& operator=(TarStream&&) = delete;
  TarStream(const TarStream&) = delete;
  TarStream& operator=(const TarStream&) = delete;
  ~TarStream();

  // Writes the header of `e` (`e.data` is ignored). A regular file (not a
  // hard link) must then get exactly `size_bytes` of data through
  // write_data(); a short file is padded with zeros at the next header, and
  // data beyond `size_bytes` is dropped.
  Result<void> write_header(const TarEntry& e, int64_t size_bytes = 0);
  Result<void> write_data(std::string_view data);
  // Ends the archive (two zero blocks) and flushes everything to the sink.
  Result<void> close();

  struct State;  // opaque; public only for the libarchive callback

 private:
  explicit TarStream(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace berth::fs
