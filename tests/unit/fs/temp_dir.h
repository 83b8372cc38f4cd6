// TempDir: a directory under /tmp for one test, removed with everything in
// it when the test ends. Shared by the fs unit tests.
#pragma once

#include <stdlib.h>

#include <string>
#include <string_view>

#include "core/base/file.h"

namespace berth::fs {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-fs-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)remove_tree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

 private:
  std::string path_;
};

}  // namespace berth::fs
