// BlobStore: content-addressed blobs under <root>/blobs/sha256/<hex> (the OCI
// image-layout blob directory). Every blob is named by the sha256 of its
// bytes: writes hash what they write and land by rename(2) from
// <root>/ingest/, so a blob path never holds a partial file; reads verify the
// content against the name and report a mismatch as Code::kCorrupt.
//
// Blocking (file I/O, fsync, hashing): job pool or start-up only. BlobStore
// holds only paths, so any thread may use it concurrently; writing the same
// blob twice at once is harmless (same bytes, atomic rename). A BlobWriter
// belongs to one thread and owns its temp file until commit() or destruction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "fs/digest.h"

namespace berth::fs {

class BlobWriter {
 public:
  BlobWriter(BlobWriter&& o) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();  // removes the temp file unless committed

  Result<void> write(std::string_view data);
  // Drops everything written so far (a download that has to start over).
  Result<void> restart();
  // fsyncs and renames the temp file into place; returns the digest. When
  // `expected` is given, a different digest is Code::kCorrupt.
  Result<std::string> commit(std::string_view expected = {});
  int64_t size_bytes() const { return size_bytes_; }

 private:
  friend class BlobStore;
  BlobWriter(std::string blobs_dir, std::string temp_path, unique_fd fd);

  std::string blobs_dir_;
  std::string temp_path_;
  unique_fd fd_;
  Sha256 hash_;
  int64_t size_bytes_ = 0;
};

class BlobStore {
 public:
  // Creates <root>/blobs/sha256 and <root>/ingest, and empties ingest/ of
  // temp files a crash left behind.
  static Result<BlobStore> open(const std::string& root);

  // <root>/blobs/sha256/<hex>; `digest` must be a valid sha256 digest.
  std::string path(std::string_view digest) const;
  bool contains(std::string_view digest) const;
  Result<int64_t> size(std::string_view digest) const;

  Result<std::string> put(std::string_view data) const;
  Result<BlobWriter> begin_write() const;
  // Reads a whole (small) blob and verifies it.
  Result<std::string> read(std::string_view digest, size_t max_bytes = 32 << 20) const;
  // Streams a blob of any size through sha256.
  Result<void> verify(std::string_view digest) const;

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::fs
