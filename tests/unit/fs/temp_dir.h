// TempDir: a directory under /tmp for one test, removed with everything in
// it when the test ends. Shared by the fs unit tests.
#pragma once

#include <stdlib.h>

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/result.h"

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

// A step of a test's set-up that must work.
inline void expect_ok(const Result<void>& r) { ASSERT_TRUE(r.has_value()) << r.error().message(); }

}  // namespace berth::fs
