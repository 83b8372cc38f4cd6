// What a tar stream holds, for tests of the archive endpoints (cp, export,
// changes): path -> content ("" for non-files; "->target" for symlinks and
// hard links). A stream libarchive cannot read fails the test.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace berth::test {

// keep_slash: directories' names as written ("d/"), else without the '/'.
inline std::map<std::string, std::string> tar_entries(const std::string& bytes, bool keep_slash = true) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    std::string data;
    if (const char* h = archive_entry_hardlink(e)) {
      data = std::string("->") + h;
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      data = std::string("->") + archive_entry_symlink(e);
    } else if (archive_entry_filetype(e) == AE_IFREG) {
      char buf[65536];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, size_t(n));
    }
    std::string name = archive_entry_pathname(e);
    if (!keep_slash && name.size() > 1 && name.back() == '/') name.pop_back();
    out[name] = data;
  }
  EXPECT_EQ(r, ARCHIVE_EOF) << archive_error_string(a);
  archive_read_free(a);
  return out;
}

}  // namespace berth::test
