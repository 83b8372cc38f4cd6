// CgroupTree: a temporary directory laid out like cgroupfs for driver unit
// tests. Files hold what the kernel would show; a plain file does not react
// to writes, so a test pre-sets the state it expects the kernel to report
// (e.g. cgroup.events "frozen 1"). Unlike cgroupfs, mkdir makes no control
// files and rmdir of a directory holding files fails (ENOTEMPTY), so a test
// that needs the kernel's files in a new cgroup creates them itself, and
// destroy() is tested on directories holding no files.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/base/file.h"

namespace berth::cgroups::test {

inline constexpr int64_t kMiB = 1024 * 1024;

class CgroupTree {
 public:
  CgroupTree() {
    char tmpl[] = "/tmp/berth-cgroups-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  ~CgroupTree() { (void)remove_tree(root_); }
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(std::string_view rel) const { return root_ + "/" + std::string(rel); }

  // Writes `rel` (making its directories), replacing any old content.
  void put(std::string_view rel, std::string_view content) const {
    std::string p = path(rel);
    ASSERT_TRUE(make_dirs(p.substr(0, p.rfind('/'))).has_value()) << p;
    ASSERT_TRUE(write_file_atomic(p, content, 0644, false).has_value()) << p;
  }
  void mkdir(std::string_view rel) const { ASSERT_TRUE(make_dirs(path(rel)).has_value()) << rel; }
  std::string get(std::string_view rel) const {
    auto r = read_file(path(rel));
    return r ? *r : "<missing " + std::string(rel) + ">";
  }
  bool exists(std::string_view rel) const { return path_exists(path(rel)); }

 private:
  std::string root_;
};

}  // namespace berth::cgroups::test
