// The pure parts of docker cp's path handling: Docker's split of a cp path
// (the tar's top entry) and Go's os.FileMode bits for the path-stat header.
#include "fs/container_path.h"

#include <gtest/gtest.h>

namespace berth::fs {
namespace {

TEST(SplitContainerPath, NamesTheTopEntryLikeDocker) {
  auto p = split_container_path("/etc/passwd");
  EXPECT_EQ(p.dir, "/etc");
  EXPECT_EQ(p.base, "passwd");
  EXPECT_FALSE(p.want_dir);
  EXPECT_EQ(p.full(), "/etc/passwd");
  p = split_container_path("/etc/");
  EXPECT_EQ(p.dir, "/");
  EXPECT_EQ(p.base, "etc");
  EXPECT_TRUE(p.want_dir);
  p = split_container_path("/etc/.");
  EXPECT_EQ(p.dir, "/etc");
  EXPECT_EQ(p.base, ".");
  EXPECT_EQ(p.full(), "/etc");
  p = split_container_path("/");
  EXPECT_EQ(p.dir, "/");
  EXPECT_EQ(p.base, ".");
  p = split_container_path("relative/x");
  EXPECT_EQ(p.dir, "/relative");
  EXPECT_EQ(p.base, "x");
}

TEST(SplitContainerPath, DotDotStopsAtTheRoot) {
  auto p = split_container_path("/../../../../etc/passwd");
  EXPECT_EQ(p.full(), "/etc/passwd");
  p = split_container_path("/a/b/../../../c");
  EXPECT_EQ(p.full(), "/c");
  p = split_container_path("..");
  EXPECT_EQ(p.full(), "/");
}

TEST(GoFileMode, TypeBitsMatchGo) {
  EXPECT_EQ(go_file_mode(S_IFREG | 0644), 0644u);
  EXPECT_EQ(go_file_mode(S_IFDIR | 0755), 0x80000000u | 0755u);
  EXPECT_EQ(go_file_mode(S_IFLNK | 0777), 0x8000000u | 0777u);
  EXPECT_EQ(go_file_mode(S_IFCHR | 0666), 0x4000000u | 0x200000u | 0666u);
  EXPECT_EQ(go_file_mode(S_IFBLK | 0660), 0x4000000u | 0660u);
  EXPECT_EQ(go_file_mode(S_IFIFO | 0600), 0x2000000u | 0600u);
  EXPECT_EQ(go_file_mode(S_IFSOCK | 0700), 0x1000000u | 0700u);
  EXPECT_EQ(go_file_mode(S_IFREG | S_ISUID | 0755), 0x800000u | 0755u);
  EXPECT_EQ(go_file_mode(S_IFREG | S_ISGID | 0755), 0x400000u | 0755u);
  EXPECT_EQ(go_file_mode(S_IFDIR | S_ISVTX | 01777), 0x80000000u | 0x100000u | 0777u);
}

}  // namespace
}  // namespace berth::fs
