#include "fs/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <utility>

#include "core/base/file.h"
#include "fs/utf8_locale.h"

namespace berth::fs {

namespace {

Error archive_error(archive* a, std::string_view verb) {
  const char* why = archive_error_string(a);
  int err = archive_errno(a);
  if (err > 0) return Error::sys(err, "{}: {}", verb, why ? why : "archive error");
  return Error::invalid("{}: {}", verb, why ? why : "archive error");
}

int add_filter(archive* a, Compression c) {
  switch (c) {
    case Compression::kGzip:
      return archive_write_add_filter_gzip(a);
    case Compression::kZstd:
      return archive_write_add_filter_zstd(a);
    case Compression::kXz:
      return archive_write_add_filter_xz(a);
    case Compression::kBzip2:
      return archive_write_add_filter_bzip2(a);
    default:
      return archive_write_add_filter_none(a);
  }
}

}  // namespace

void ArchiveEntryFree::operator()(archive_entry* e) const { archive_entry_free(e); }

std::unique_ptr<archive_entry, ArchiveEntryFree> make_archive_entry(const TarEntry& e, int64_t size_bytes) {
  std::unique_ptr<archive_entry, ArchiveEntryFree> ent(archive_entry_new());
  archive_entry* x = ent.get();
  archive_entry_set_pathname(x, e.path.c_str());
  archive_entry_set_mode(x, e.mode);
  archive_entry_set_uid(x, e.uid);
  archive_entry_set_gid(x, e.gid);
  archive_entry_set_mtime(x, e.mtime_s, 0);
  if (e.hardlink) {
    archive_entry_set_hardlink(x, e.link_target.c_str());
    archive_entry_set_size(x, 0);
  } else if (S_ISLNK(e.mode)) {
    archive_entry_set_symlink(x, e.link_target.c_str());
  } else if (S_ISCHR(e.mode) || S_ISBLK(e.mode)) {
    archive_entry_set_rdev(x, e.rdev);
  } else if (S_ISREG(e.mode)) {
    archive_entry_set_size(x, static_cast<la_int64_t>(size_bytes));
  }
  for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(x, k.c_str(), v.data(), v.size());
  return ent;
}

TarWriter::TarWriter(archive* a, unique_fd owned) : a_(a), owned_(std::move(owned)) {}

TarWriter::TarWriter(TarWriter&& o) noexcept : a_(std::exchange(o.a_, nullptr)), owned_(std::move(o.owned_)) {}

TarWriter::~TarWriter() {
  if (a_) archive_write_free(a_);
}

Result<TarWriter> TarWriter::open(int fd, Compression c) {
  ScopedUtf8Ctype utf8;
  archive* a = archive_write_new();
  TarWriter w(a, unique_fd());
  if (add_filter(a, c) != ARCHIVE_OK || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK)
    return archive_error(a, "set up tar writer");
  // Tar's default 10 KiB records pad the stream; 512-byte blocks keep
  // hand-made archives small and digests predictable.
  archive_write_set_bytes_per_block(a, 512);
  if (archive_write_open_fd(a, fd) != ARCHIVE_OK) return archive_error(a, "open tar writer");
  return w;
}

Result<TarWriter> TarWriter::create(const std::string& path, Compression c) {
  unique_fd fd = BERTH_TRY(open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  TarWriter w = BERTH_TRY(open(fd.get(), c));
  w.owned_ = std::move(fd);
  return w;
}

Result<void> TarWriter::add(const TarEntry& e) {
  ScopedUtf8Ctype utf8;  // pax writes path names as UTF-8; see utf8_locale.h
  auto ent = make_archive_entry(e, static_cast<int64_t>(e.data.size()));
  archive_entry* x = ent.get();
  if (archive_write_header(a_, x) != ARCHIVE_OK) return archive_error(a_, "write tar header for " + e.path);
  if (S_ISREG(e.mode) && !e.hardlink && !e.data.empty()) {
    la_ssize_t n = archive_write_data(a_, e.data.data(), e.data.size());
    if (n < 0 || static_cast<size_t>(n) != e.data.size()) return archive_error(a_, "write tar data for " + e.path);
  }
  return ok();
}

Result<void> TarWriter::add_file(std::string_view path, std::string_view data, mode_t perm) {
  TarEntry e;
  e.path = path;
  e.mode = S_IFREG | perm;
  e.data = data;
  return add(e);
}

Result<void> TarWriter::add_dir(std::string_view path, mode_t perm) {
  TarEntry e;
  e.path = path;
  e.mode = S_IFDIR | perm;
  return add(e);
}

Result<void> TarWriter::add_symlink(std::string_view path, std::string_view target) {
  TarEntry e;
  e.path = path;
  e.mode = S_IFLNK | 0777;
  e.link_target = target;
  return add(e);
}

Result<void> TarWriter::add_hardlink(std::string_view path, std::string_view target) {
  TarEntry e;
  e.path = path;
  e.mode = S_IFREG | 0644;
  e.link_target = target;
  e.hardlink = true;
  return add(e);
}

Result<void> TarWriter::close() {
  ScopedUtf8Ctype utf8;
  if (archive_write_close(a_) != ARCHIVE_OK) return archive_error(a_, "finish tar");
  owned_.reset();
  return ok();
}

}  // namespace berth::fs
