// extract_in_root (fs/path_tar.h): a cp upload unpacked into a container.
#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "fs/path_tar.h"
#include "fs/utf8_locale.h"

namespace berth::fs {

namespace {

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

Error archive_failure(archive* a, std::string_view verb) {
  const char* why = archive_error_string(a);
  return Error::invalid("{}: {}", verb, why ? why : "unknown error");
}

}  // namespace

Result<void> extract_in_root(unique_fd root, const std::string& dir, int tar_fd, TreeOptions o) {
  ScopedUtf8Ctype utf8;  // outlives the archive below
  o.whiteouts = false;
  o.allow_absolute = false;
  o.label = "archive entry";
  TreeWriter tree = BERTH_TRY(TreeWriter::open_in_root(std::move(root), dir, std::move(o)));
  std::unique_ptr<archive, ArchiveReadFree> a(archive_read_new());
  // Only the compressions Docker's archive.DecompressStream knows; no
  // filter that would run an external program.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), tar_fd, 64 << 10) != ARCHIVE_OK) return archive_failure(a.get(), "open archive");
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return archive_failure(a.get(), "read archive");
    BERTH_TRY_VOID(tree.write_entry(a.get(), e));
  }
  return tree.finish();
}

}  // namespace berth::fs
