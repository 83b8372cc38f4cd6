// TempTree: the undo step for a layer directory being unpacked (see
// ImageStore). Any thread; an instance belongs to one thread.
#pragma once

#include <string>

#include "core/base/file.h"

namespace berth::fs {

// A directory tree removed on destruction unless released: the undo step for
// a layer being unpacked.
class TempTree {
 public:
  explicit TempTree(std::string path) : path_(std::move(path)) {}
  TempTree(TempTree&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempTree& operator=(TempTree&&) = delete;
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  ~TempTree() {
    if (!path_.empty()) (void)remove_tree(path_);
  }
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace berth::fs
