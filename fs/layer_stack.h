// LayerStack: a read-only view, in user space, of directories stacked the
// way overlayfs stacks them (Documentation/filesystems/overlayfs.rst,
// "Directories" and "whiteouts and opaque directories"). Layer 0 is the top.
// A name is taken from the topmost layer that has it; a whiteout (a 0:0
// character device) there hides it and every lower copy; a directory merges
// with the directories of the same name below it until a layer has a
// non-directory there, or until a copy that is opaque
// (trusted.overlay.opaque=y) hides the layers under it.
//
// diff, commit and export read container root filesystems through this
// instead of the mounted overlay: a running container's overlay exists only
// in its own mount namespace, and reading the layer directories works the
// same for running and stopped containers. It assumes overlayfs's defaults
// berth mounts with: no redirect_dir (a renamed lower directory is copied
// up whole) and no metacopy (an upper file holds its data).
//
// Safety: the upper layer of a running container changes under us, and its
// content is the container's. Every open is beneath a layer's root with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV), and every stat or readlink is of one name inside an
// opened directory without following it, so a symlink planted or swapped in
// can change what we see inside the tree, never make us read outside it.
// Regular files are opened O_NONBLOCK, so a FIFO swapped in cannot block.
//
// Blocking (directory reads): job pool only. One instance belongs to one
// thread at a time; it owns one directory fd per layer until destroyed.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::fs {

// An overlayfs whiteout: a character device 0:0.
bool is_whiteout(const struct stat& st);

struct StackEntry {
  std::string name;
  struct stat st = {};     // of the topmost copy
  size_t layer = 0;        // the layer of the topmost copy
  bool whiteout = false;   // the topmost copy is a whiteout
  // Directories: the layers (top first, the topmost included) whose copies
  // merge into this one, before the copies' own opacity is considered.
  std::vector<size_t> dir_layers;
};

struct StackDir {
  std::vector<StackEntry> entries;  // sorted by name, bytewise
  bool opaque = false;              // the topmost copy read is opaque
};

class LayerStack {
 public:
  // Opens the root directory of every layer; `top_first[0]` is the top.
  static Result<LayerStack> open(const std::vector<std::string>& top_first);

  LayerStack(LayerStack&&) = default;
  LayerStack& operator=(LayerStack&&) = default;
  LayerStack(const LayerStack&) = delete;
  LayerStack& operator=(const LayerStack&) = delete;

  size_t size() const { return roots_.size(); }
  const std::string& path(size_t layer) const { return paths_[layer]; }
  // 0, 1, ..., size() - 1.
  std::vector<size_t> all_layers() const;

  // Directory `rel` ("" is the root; "a/b" below it) merged from `layers`
  // (top first). A layer without the directory is skipped. Whiteouts hide
  // the names below them and are listed (whiteout set) only with
  // `keep_whiteouts`. Names vanishing while read (a running container) are
  // skipped.
  Result<StackDir> read_dir(const std::string& rel, const std::vector<size_t>& layers, bool keep_whiteouts) const;

  // Opens `rel` in one layer, beneath its root, following no symlink.
  Result<unique_fd> open_dir(size_t layer, const std::string& rel) const;
  // A regular file for reading; kInvalidArgument if it is not one (any
  // more).
  Result<unique_fd> open_file(size_t layer, const std::string& rel) const;
  Result<std::string> read_link(size_t layer, const std::string& rel) const;
  // The extended attributes of `rel` (not followed), except overlayfs's own
  // (trusted.overlay.*), which describe the layer, not the file.
  Result<std::map<std::string, std::string>> xattrs(size_t layer, const std::string& rel) const;

 private:
  LayerStack() = default;
  std::vector<std::string> paths_;
  std::vector<unique_fd> roots_;
};

// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
std::string join_rel(const std::string& dir, const std::string& name);

}  // namespace berth::fs
