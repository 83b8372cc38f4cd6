// PathTar: a tar of one path inside a container root (GET
// /containers/{id}/archive, docker cp out), made piece by piece like
// RootfsTar, so export's streaming (core/engine/piece_stream.h) serves both.
//
// Naming follows Docker: the top entry is the path's base name
// (split_container_path), or "." for "dir/." (the directory's contents);
// entries below it are "<base>/<rel>". A symlink named by the path is
// archived as a symlink (the client follows it with -L by asking again for
// its linkTarget).
//
// Safety: the path's directory is opened with openat2(RESOLVE_IN_ROOT)
// (fs/container_path.h); from there every step is one name opened with
// O_NOFOLLOW relative to an already open directory fd, so a directory
// swapped for a symlink while the tar is made is skipped (ELOOP/ENOTDIR),
// never followed. Regular files are opened O_NONBLOCK and checked to still
// be regular files (a FIFO swapped in cannot block). Entries that vanish
// during the walk are skipped; a file that shrinks is padded with zeros.
// Mount points below the path (volumes of a running container) are
// crossed, as Docker does, except kernel filesystems (/proc, /sys, cgroups,
// devpts: empty directories here). Sockets are skipped; xattrs are not
// archived.
//
// Blocking: job pool only, one thread at a time. It owns the root fd it is
// given, one fd per directory level being walked and at most one file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "fs/container_path.h"
#include "fs/id_shift.h"
#include "fs/tar_stream.h"
#include "fs/tree_writer.h"

namespace berth::fs {

class PathTar {
 public:
  // kNotFound when the path does not exist.
  // `shift`: a remapped container's root, whose host ids become its own.
  static Result<std::unique_ptr<PathTar>> open(unique_fd root, const std::string& path, IdShift shift = {});

  PathTar(const PathTar&) = delete;
  PathTar& operator=(const PathTar&) = delete;

  // Appends the next part of the tar to `*out`, stopping once `*out` holds
  // at least `budget_bytes` or the tar is complete; true when complete.
  Result<bool> produce(std::string* out, size_t budget_bytes);

 private:
  struct Frame {
    unique_fd dir;
    std::string rel;  // tar path of this directory
    std::vector<std::string> names;
    size_t next = 0;
  };

  PathTar(unique_fd root, TarStream tar) : root_(std::move(root)), tar_(std::move(tar)) {}
  Result<void> start(const ContainerPath& p);
  Result<void> step();
  Result<void> emit(int parent, const std::string& name, const std::string& rel);
  Result<void> emit_dir(int parent, const std::string& name, const std::string& rel);
  Result<void> emit_file(int parent, const std::string& name, const std::string& rel);
  Result<void> copy_file_piece();

  unique_fd root_;
  IdShift shift_;
  TarStream tar_;
  std::shared_ptr<std::string*> slot_;
  unique_fd top_parent_;
  std::vector<Frame> frames_;
  unique_fd file_;
  int64_t file_left_ = 0;
  std::string buf_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  bool done_ = false;
};

}  // namespace berth::fs

namespace berth::fs {

// PUT /containers/{id}/archive (docker cp in): extracts the tar in `tar_fd`
// (plain, gzip, zstd, xz or bzip2, as Docker accepts) into the directory
// `dir` of the container root `root` with an in-root TreeWriter (symlinks
// in the container followed inside it, never out; `..` and absolute entry
// names refused, naming the entry). Blocking: job pool only.
Result<void> extract_in_root(unique_fd root, const std::string& dir, int tar_fd, TreeOptions o);

}  // namespace berth::fs
