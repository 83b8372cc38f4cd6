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
// In-root mode (open_in_root, for docker cp into a container): entries go
// below a directory `dir` of a container root, and every path (an entry's
// parent, a hard-link target) is resolved with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) from the container's "/": a symlink in the
// container is followed as the container would follow it, but can never
// lead out of the container root. Leaves are still created with O_NOFOLLOW
// / *at calls on the resolved parent, so a symlink at the leaf is replaced,
// never written through. ".." components are refused as always.
//
// Blocking; one instance belongs to one thread. It owns a dirfd for the root
// (and one cached parent dirfd) until destroyed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "fs/id_shift.h"

struct archive;
struct archive_entry;

namespace berth::fs {

// Splits an archive path into its components, dropping a leading "/", empty
// and "." components; a ".." component is refused.
Result<std::vector<std::string>> clean_entry_path(std::string_view path);

struct TreeOptions {
  bool preserve_owner = true;
  // false: `.wh.*` names are plain files (docker cp), not OCI whiteouts.
  bool whiteouts = true;
  // Refuse to replace a directory with a non-directory or the reverse
  // (Docker's noOverwriteDirNonDir).
  bool no_overwrite_dir_non_dir = false;
  // Every entry gets this owner instead of the archive's (cp without -a).
  std::optional<std::pair<uid_t, gid_t>> owner;
  // Into a remapped container (fs/id_shift.h): the archive's (or `owner`'s)
  // ids are the container's, written as their host ids.
  IdShift shift;
  // false: an absolute entry path ("/etc/passwd") is refused instead of
  // being taken as relative to the top directory.
  bool allow_absolute = true;
  // How refusals name an entry: "refusing layer entry x: ...".
  std::string label = "layer entry";
};

class TreeWriter {
 public:
  // `root` must be an existing directory.
  static Result<TreeWriter> open(const std::string& root, bool preserve_owner);
  // In-root mode: entries below `dir` (absolute in the container) of the
  // container root `root`; `dir` must be a directory (kNotFound if missing,
  // kInvalidArgument if not a directory).
  static Result<TreeWriter> open_in_root(unique_fd root, const std::string& dir, TreeOptions o);

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

  TreeWriter(unique_fd root, TreeOptions o);
  // `rel` ("." for the top) below the top directory, in either mode.
  int open_rel(const std::string& rel, int flags) const;
  int top() const { return base_fd_ ? base_fd_.get() : root_.get(); }

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
  TreeOptions opts_;
  std::string base_;    // in-root mode: the top directory, absolute in the container
  unique_fd base_fd_;   // in-root mode: that directory, opened
  bool preserve_owner_ = true;
  bool privileged_ = false;
  std::string entry_;  // the raw path of the entry being written, for messages
  std::string cached_rel_;
  unique_fd cached_fd_;
  std::vector<DirFixup> fixups_;
  int64_t size_bytes_ = 0;
};

}  // namespace berth::fs
