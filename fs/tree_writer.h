// TreeWriter: writes tar entries (libarchive `archive_entry`s) under one root
// directory and never outside it. Berth's own replacement for
// archive_write_disk, which resolves paths with chdir/fchdir, a process-wide
// side effect a multi-threaded daemon cannot afford.
//
// Safety rules, each refused with an error naming the entry:
//   - a path component ".." (leading "/" and "." components are dropped);
//   - a parent path, or a hard-link target, that passes through a symlink
//     (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; see openat2(2)), so
//     `x -> /` followed by `x/etc/passwd` cannot write to the host;
//   - xattrs in the "trusted.overlay." namespace from the archive: only the
//     whiteout conversion below may set overlayfs metadata.
// Entries keep mode, owner (when preserve_owner), mtime, xattrs, symlinks,
// hard links, device nodes and fifos. Directory metadata is applied in
// finish(), deepest first, after the children exist.
//
// OCI whiteouts become overlayfs whiteouts: `.wh.<name>` is a 0:0 character
// device <name>; `.wh..wh..opq` sets trusted.overlay.opaque=y on its
// directory; other `.wh..wh.*` (aufs bookkeeping) are skipped.
//
// Blocking; one instance belongs to one thread. It owns a dirfd for the root
// (and one cached parent dirfd) until destroyed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

struct archive;
struct archive_entry;

namespace berth::fs {

// Splits an archive path into its components, dropping a leading "/", empty
// and "." components; a ".." component is refused.
Result<std::vector<std::string>> clean_entry_path(std::string_view path);

class TreeWriter {
 public:
  // `root` must be an existing directory.
  static Result<TreeWriter> open(const std::string& root, bool preserve_owner);

  TreeWriter(TreeWriter&&) = default;
  TreeWriter& operator=(TreeWriter&&) = default;
  TreeWriter(const TreeWriter&) = delete;
  TreeWriter& operator=(const TreeWriter&) = delete;

  // Writes one entry; a regular file's data is read from `a`.
  Result<void> write_entry(archive* a, archive_entry* e);
  // Applies the deferred directory metadata. Call once, after the last entry.
  Result<void> finish();

  // Sum of the sizes of the regular files written.
  int64_t size_bytes() const { return size_bytes_; }

 private:
  struct Meta {
    mode_t perm = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    timespec times[2] = {};  // atime, mtime
  };
  struct DirFixup {
    std::string rel;  // "." for the root
    size_t depth = 0;
    Meta meta;
  };

  TreeWriter(unique_fd root, bool preserve_owner);

  Result<int> parent_dir(const std::string& rel);
  Result<int> make_parents(const std::string& rel);
  Result<void> make_room(int pfd, const std::string& leaf, bool keep_dir, bool* is_dir);
  static Meta meta_of(archive_entry* e);
  Result<void> write_node(archive* a, archive_entry* e, int pfd, const std::string& leaf,
                          const std::string& rel, const Meta& m);
  Result<void> write_dir(int pfd, const std::string& leaf, const std::string& rel, const Meta& m);
  Result<void> write_file(archive* a, archive_entry* e, int pfd, const std::string& leaf, const Meta& m);
  Result<void> copy_data(archive* a, int fd, int64_t size);
  Result<void> write_symlink(archive_entry* e, int pfd, const std::string& leaf, const Meta& m);
  Result<void> write_hardlink(const char* target, int pfd, const std::string& leaf);
  Result<void> write_special(archive_entry* e, int pfd, const std::string& leaf, const Meta& m);
  Result<void> write_whiteout(int pfd, const std::string& leaf, const Meta& m);
  Result<void> set_xattrs(archive_entry* e, int fd);
  Result<void> set_owner_at(int pfd, const std::string& leaf, const Meta& m);

  Error refuse(std::string_view why) const;
  Error sys(int err, std::string_view verb) const;

  unique_fd root_;
  bool preserve_owner_ = true;
  bool privileged_ = false;
  std::string entry_;  // the raw path of the entry being written, for messages
  std::string cached_rel_;
  unique_fd cached_fd_;
  std::vector<DirFixup> fixups_;
  int64_t size_bytes_ = 0;
};

}  // namespace berth::fs
