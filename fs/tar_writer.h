// TarWriter: builds a tar stream (pax, as Docker writes layers), optionally
// compressed, from entries the caller describes. For export, save, commit
// and for tests that need hand-made (even hostile) archives: paths are
// written as given, unchecked.
//
// Blocking; one instance belongs to one thread. It owns its libarchive
// handle and, when made by create(), the output file; the fd passed to
// open() must outlive it.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "fs/layer.h"

struct archive;
struct archive_entry;

namespace berth::fs {

struct TarEntry {
  std::string path;
  mode_t mode = S_IFREG | 0644;   // file type and permission bits
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime_s = 0;
  std::string data;               // regular files
  std::string link_target;        // symlinks, and hard links (hardlink = true)
  bool hardlink = false;
  dev_t rdev = 0;                 // character and block devices
  std::map<std::string, std::string> xattrs;
};

// The libarchive header entry for `e` (a regular file of `size_bytes`), with
// its xattrs. Shared by TarWriter and TarStream (tar_stream.h); call it with
// a ScopedUtf8Ctype held (utf8_locale.h).
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const;
};
std::unique_ptr<archive_entry, ArchiveEntryFree> make_archive_entry(const TarEntry& e, int64_t size_bytes);

class TarWriter {
 public:
  // Writes to `fd` (not owned) with the given compression (kNone, kGzip,
  // kZstd, kXz or kBzip2).
  static Result<TarWriter> open(int fd, Compression c = Compression::kNone);
  // Creates (truncates) `path` and writes to it.
  static Result<TarWriter> create(const std::string& path, Compression c = Compression::kNone);

  TarWriter(TarWriter&&) noexcept;
  TarWriter& operator=(TarWriter&&) = delete;
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  ~TarWriter();

  Result<void> add(const TarEntry& e);
  Result<void> add_file(std::string_view path, std::string_view data, mode_t perm = 0644);
  Result<void> add_dir(std::string_view path, mode_t perm = 0755);
  Result<void> add_symlink(std::string_view path, std::string_view target);
  Result<void> add_hardlink(std::string_view path, std::string_view target);
  // Writes the end-of-archive blocks and flushes the compressor.
  Result<void> close();

 private:
  TarWriter(archive* a, unique_fd owned);
  archive* a_ = nullptr;
  unique_fd owned_;
};

}  // namespace berth::fs
