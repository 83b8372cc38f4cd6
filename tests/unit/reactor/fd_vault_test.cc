#include "core/reactor/fd_vault.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/base/file.h"

using berth::unique_fd;
using berth::reactor::FdVault;

// A pipe's read end goes into the vault and its descriptor is closed: the
// pipe stays open (a write still succeeds, no EPIPE), and a descriptor
// installed from the vault later reads what was written meanwhile.
TEST(FdVault, KeepsAFileWithoutItsDescriptor) {
  FdVault v;
  if (!v.available()) GTEST_SKIP() << "this kernel has no IORING_OP_FIXED_FD_INSTALL (Linux 6.8)";
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto key = v.stash(p[0]);
  ASSERT_TRUE(key) << key.error().message();
  ::close(p[0]);
  ASSERT_EQ(::write(p[1], "hello", 5), 5) << "the read end must still be open";
  auto back = v.open(*key);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_NE(::fcntl(back->get(), F_GETFD) & FD_CLOEXEC, 0);
  char buf[8] = {};
  ASSERT_EQ(::read(back->get(), buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  // Twice: the file stays in the vault after an open.
  auto again = v.open(*key);
  ASSERT_TRUE(again) << again.error().message();
  back->reset();
  again->reset();
  EXPECT_EQ(v.held(), 1u);
  // Dropped: the vault's reference was the last one, so the writer sees EPIPE.
  v.drop(*key);
  EXPECT_EQ(v.held(), 0u);
  ::signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(::write(p[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_FALSE(v.open(*key)) << "an empty slot installs nothing";
  ::close(p[1]);
}

// Many files, past one ring's table: the descriptors in use grow by one per
// ring, not one per file; every key opens its own file.
TEST(FdVault, HoldsMoreFilesThanDescriptors) {
  FdVault v;
  if (!v.available()) GTEST_SKIP() << "this kernel has no IORING_OP_FIXED_FD_INSTALL (Linux 6.8)";
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  size_t per_ring = std::min<size_t>(FdVault::kSlotsPerRing, lim.rlim_cur);
  size_t n = per_ring + per_ring / 2;  // two rings
  long before = berth::count_open_fds();
  std::vector<uint32_t> keys;
  std::vector<int> writers;
  for (size_t i = 0; i < n; i++) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    std::string tag = std::to_string(i);
    ASSERT_EQ(::write(p[1], tag.data(), tag.size()), ssize_t(tag.size()));
    ::close(p[1]);  // the reader sees the tag, then EOF
    auto key = v.stash(p[0]);
    ASSERT_TRUE(key) << i << ": " << key.error().message();
    ::close(p[0]);
    keys.push_back(*key);
  }
  EXPECT_EQ(v.held(), n);
  EXPECT_EQ(v.rings(), 2u);
  EXPECT_LE(berth::count_open_fds(), before + long(v.rings()) + 1) << "vaulted files must not hold descriptors";
  for (size_t i : {size_t(0), per_ring - 1, per_ring, n - 1}) {
    auto fd = v.open(keys[i]);
    ASSERT_TRUE(fd) << i << ": " << fd.error().message();
    char buf[32] = {};
    ssize_t got = ::read(fd->get(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, size_t(std::max<ssize_t>(got, 0))), std::to_string(i));
  }
  for (uint32_t k : keys) v.drop(k);
  EXPECT_EQ(v.held(), 0u);
}
