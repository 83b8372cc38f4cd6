// Applies one image layer, a tar stream that may be gzip, zstd, xz or bzip2
// compressed (libarchive detects which), to an empty directory, in one pass
// over the source that also yields the layer's digests:
//
//   source fd ─▶ sha256 (blob digest) ─▶ decompressor ─▶ sha256 (diff ID)
//            └─▶ tee (optional)                              └─▶ tee (optional)
//                                                             ─▶ tar reader ─▶ TreeWriter
//
// The decompressor is ISA-L's igzip for gzip (fs/gunzip.h: several times
// zlib's speed; when the fd is at offset 0, so its head can be sniffed) and
// libarchive's filters for the rest.
//
// Entries are written with TreeWriter (fs/tree_writer.h): a path with ".."
// or one that would pass through a symlink is refused with an error naming
// the entry, and OCI whiteouts become overlayfs whiteouts on disk.
//
// Blocking (file I/O and hashing): call from the job pool or start-up, never
// from the reactor. Any thread; no shared state. The caller keeps `src_fd`
// and `tee` alive for the duration of the call.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::fs {

enum class Compression { kNone, kGzip, kZstd, kXz, kBzip2, kUnknown };

// Guesses the compression of a stream from its first bytes.
Compression sniff_compression(std::string_view head);
// Reads the first bytes of `fd` with pread (the offset is unchanged); a
// non-seekable fd gives kUnknown.
Compression sniff_compression(int fd);
// The OCI media type for a layer blob kept in this compression, or nullptr
// when OCI defines none (xz, bzip2): such layers are stored uncompressed.
const char* layer_media_type(Compression c);

struct LayerStats {
  std::string diff_id;          // sha256 of the uncompressed tar stream
  std::string blob_digest;      // sha256 of every byte read from the source
  int64_t blob_size_bytes = 0;  // bytes read from the source
  int64_t tar_size_bytes = 0;   // bytes of the uncompressed tar stream
  int64_t size_bytes = 0;       // sum of regular file sizes written
};

enum class TeeStream { kSource, kUncompressed };

struct ApplyOptions {
  bool preserve_owner = true;  // chown entries to their uid/gid (needs root: can_chown())
  // When set, receives a copy of one of the two streams, in order. An error
  // it returns aborts the apply.
  std::function<Result<void>(std::string_view)> tee;
  TeeStream tee_stream = TeeStream::kSource;
  // Hash the source (LayerStats::blob_digest). A caller that verified the
  // blob as it stored it (a pull) may skip this second pass; blob_digest
  // is then "".
  bool hash_source = true;
};

// Unpacks the layer read from `src_fd` (from its current offset to EOF) into
// `target_dir`, which must exist. On error the directory is left partly
// written; the caller removes it.
Result<LayerStats> apply_layer(int src_fd, const std::string& target_dir, const ApplyOptions& opts);

// Whether this process may chown what it unpacks (it is root).
bool can_chown();

}  // namespace berth::fs
