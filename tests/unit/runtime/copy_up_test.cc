// copy_up (the volume copy-up of the post-clone child) on plain temp
// directories: what it copies, that it never follows a symlink out of the
// root, and that it leaves a non-empty volume alone. No root needed (owners
// are copied as they are: ours).
#include "core/runtime/copy_up.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/unique_fd.h"

namespace berth::runtime {
namespace {

class CopyUp : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-copyup-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = tmpl;
    ASSERT_EQ(::mkdir((dir_ + "/root").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/vol").c_str(), 0755), 0);
    root_.reset(::open((dir_ + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
  }
  void TearDown() override { (void)remove_tree(dir_); }
  std::string root(const std::string& rel) const { return dir_ + "/root/" + rel; }
  std::string vol(const std::string& rel = "") const { return dir_ + "/vol" + (rel.empty() ? "" : "/" + rel); }
  void write(const std::string& path, const std::string& data, mode_t mode = 0644) {
    ASSERT_TRUE(write_file_atomic(path, data, mode, false).has_value());
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  static std::string read(const std::string& path) {
    auto r = read_file(path);
    return r ? *r : "<missing>";
  }
  static mode_t mode_of(const std::string& path) {
    struct stat st{};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode;
  }

  std::string dir_;
  unique_fd root_;
};

TEST_F(CopyUp, CopiesTreeWithModesLinksAndFifos) {
  ASSERT_EQ(::mkdir(root("etc").c_str(), 0750), 0);
  ASSERT_EQ(::mkdir(root("etc/sub").c_str(), 0700), 0);
  write(root("etc/passwd"), "root:x:0:0::/root:/bin/sh\n", 0644);
  write(root("etc/sub/secret"), "s", 04750);
  ASSERT_EQ(::symlink("../passwd", root("etc/sub/link").c_str()), 0);
  ASSERT_EQ(::mkfifo(root("etc/fifo").c_str(), 0600), 0);
  timespec old[2] = {{1000000, 0}, {1000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, root("etc/passwd").c_str(), old, 0), 0);

  ASSERT_EQ(copy_up(root_.get(), "/etc", vol().c_str()), 0);
  EXPECT_EQ(read(vol("passwd")), "root:x:0:0::/root:/bin/sh\n");
  EXPECT_EQ(read(vol("sub/secret")), "s");
  EXPECT_EQ(mode_of(vol("sub/secret")) & 07777, 04750u);
  EXPECT_EQ(mode_of(vol("sub")) & 07777, 0700u);
  EXPECT_EQ(mode_of(vol()) & 07777, 0750u);  // the volume root takes the target's mode
  EXPECT_TRUE(S_ISLNK(mode_of(vol("sub/link"))));
  char link[64] = {};
  ASSERT_GT(::readlink(vol("sub/link").c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "../passwd");
  EXPECT_TRUE(S_ISFIFO(mode_of(vol("fifo"))));
  struct stat st{};
  ASSERT_EQ(::stat(vol("passwd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000);
}

TEST_F(CopyUp, NonEmptyVolumeIsLeftAlone) {
  ASSERT_EQ(::mkdir(root("data").c_str(), 0755), 0);
  write(root("data/image-file"), "from the image");
  write(vol("mine"), "already here");
  ASSERT_EQ(copy_up(root_.get(), "/data", vol().c_str()), 0);
  EXPECT_EQ(read(vol("image-file")), "<missing>");
  EXPECT_EQ(read(vol("mine")), "already here");
}

TEST_F(CopyUp, MissingOrNonDirectoryTargetCopiesNothing) {
  EXPECT_EQ(copy_up(root_.get(), "/nothing/here", vol().c_str()), 0);
  write(root("file"), "x");
  EXPECT_EQ(copy_up(root_.get(), "/file", vol().c_str()), 0);
  EXPECT_EQ(read(vol("file")), "<missing>");
}

// An image symlink at the target names a host path: it is resolved inside
// the root, so the host directory's content never reaches the volume.
TEST_F(CopyUp, SymlinkTargetResolvesInsideTheRoot) {
  ASSERT_EQ(::mkdir((dir_ + "/host-secret").c_str(), 0755), 0);
  write(dir_ + "/host-secret/key", "host only");
  ASSERT_EQ(::symlink((dir_ + "/host-secret").c_str(), root("data").c_str()), 0);
  EXPECT_EQ(copy_up(root_.get(), "/data", vol().c_str()), 0);
  EXPECT_EQ(read(vol("key")), "<missing>");
  // With ".." chains too: they stop at the root.
  ASSERT_EQ(::symlink("../../../../../../host-secret", root("data2").c_str()), 0);
  EXPECT_EQ(copy_up(root_.get(), "/data2", vol().c_str()), 0);
  EXPECT_EQ(read(vol("key")), "<missing>");
  // The same path inside the root is what gets copied.
  ASSERT_EQ(make_dirs(root("") + dir_ + "/host-secret").has_value(), true);
  write(root("") + dir_ + "/host-secret/key", "in the container");
  EXPECT_EQ(copy_up(root_.get(), "/data", vol().c_str()), 0);
  EXPECT_EQ(read(vol("key")), "in the container");
}

// A symlink inside the copied tree is copied as a link, never followed.
TEST_F(CopyUp, SymlinksInsideAreNotFollowed) {
  ASSERT_EQ(::mkdir(root("data").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir_ + "/outside").c_str(), 0755), 0);
  write(dir_ + "/outside/big", "outside");
  ASSERT_EQ(::symlink((dir_ + "/outside").c_str(), root("data/escape").c_str()), 0);
  ASSERT_EQ(copy_up(root_.get(), "/data", vol().c_str()), 0);
  EXPECT_TRUE(S_ISLNK(mode_of(vol("escape"))));
  EXPECT_EQ(read(vol("big")), "<missing>");
  EXPECT_EQ(read(dir_ + "/outside/big"), "outside");
}

}  // namespace
}  // namespace berth::runtime
