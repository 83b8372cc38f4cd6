#include "fs/layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "fs/digest.h"
#include "tests/unit/fs/temp_dir.h"
#include "fs/tar_writer.h"
#include "fs/tree_writer.h"

namespace berth::fs {
namespace {

struct stat lstat_of(const std::string& p) {
  struct stat st = {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

std::string read_link(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

class FsLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_ / "root";
    outside_ = tmp_ / "outside";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
  }

  // Builds a tar at tmp_/name.tar(.ext) from `fill`.
  template <class F>
  std::string make_tar(F&& fill, Compression c = Compression::kNone, const std::string& name = "layer") {
    std::string path = tmp_ / (name + ".tar");
    auto w = TarWriter::create(path, c);
    EXPECT_TRUE(w.has_value());
    fill(*w);
    expect_ok(w->close());
    return path;
  }

  Result<LayerStats> apply(const std::string& tar, ApplyOptions opts = {}) {
    opts.preserve_owner = can_chown();
    unique_fd fd = BERTH_TRY(open_fd(tar, O_RDONLY));
    return apply_layer(fd.get(), root_, opts);
  }

  TempDir tmp_;
  std::string root_, outside_;
};

TEST_F(FsLayer, CleansEntryPaths) {
  EXPECT_EQ(*clean_entry_path("/a//./b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(clean_entry_path("./")->empty());
  EXPECT_FALSE(clean_entry_path("a/../b").has_value());
  EXPECT_FALSE(clean_entry_path("..").has_value());
  EXPECT_EQ(*clean_entry_path("a..b/..c"), (std::vector<std::string>{"a..b", "..c"}));
}

TEST_F(FsLayer, UnpacksTree) {
  std::string tar = make_tar([](TarWriter& w) {
    expect_ok(w.add_dir("./"));
    expect_ok(w.add_dir("a", 0750));
    TarEntry f;
    f.path = "a/f";
    f.mode = S_IFREG | 0640;
    f.data = "hello";
    f.mtime_s = 1234567890;
    expect_ok(w.add(f));
    expect_ok(w.add_file("bin/x", "#!/bin/sh\n", 0755));  // parent not in the archive
    expect_ok(w.add_symlink("a/link", "f"));
    expect_ok(w.add_symlink("a/abs", "/etc/passwd"));  // dangling and absolute is fine
    expect_ok(w.add_hardlink("a/hl", "a/f"));
    expect_ok(w.add_file("/abs/file", "x"));
    expect_ok(w.add_file("./dot/file", "y"));
    TarEntry fifo;
    fifo.path = "a/fifo";
    fifo.mode = S_IFIFO | 0600;
    expect_ok(w.add(fifo));
    TarEntry ro;
    ro.path = "ro";
    ro.mode = S_IFDIR | 0555;
    ro.mtime_s = 1000;
    expect_ok(w.add(ro));
    expect_ok(w.add_file("ro/inside", "z"));  // written before ro becomes read-only
    TarEntry x;
    x.path = "a/xattr";
    x.data = "x";
    x.xattrs["user.berth"] = "v";
    expect_ok(w.add(x));
  });
  auto st = apply(tar);
  ASSERT_TRUE(st.has_value()) << st.error().message();

  EXPECT_EQ(*read_file(root_ + "/a/f"), "hello");
  EXPECT_EQ(lstat_of(root_ + "/a/f").st_mode, S_IFREG | 0640u);
  EXPECT_EQ(lstat_of(root_ + "/a/f").st_mtime, 1234567890);
  EXPECT_EQ(lstat_of(root_ + "/a").st_mode, S_IFDIR | 0750u);
  EXPECT_EQ(lstat_of(root_ + "/bin/x").st_mode, S_IFREG | 0755u);
  EXPECT_EQ(read_link(root_ + "/a/link"), "f");
  EXPECT_EQ(read_link(root_ + "/a/abs"), "/etc/passwd");
  EXPECT_EQ(lstat_of(root_ + "/a/hl").st_ino, lstat_of(root_ + "/a/f").st_ino);
  EXPECT_EQ(lstat_of(root_ + "/a/f").st_nlink, 2u);
  EXPECT_EQ(*read_file(root_ + "/abs/file"), "x");
  EXPECT_EQ(*read_file(root_ + "/dot/file"), "y");
  EXPECT_TRUE(S_ISFIFO(lstat_of(root_ + "/a/fifo").st_mode));
  EXPECT_EQ(lstat_of(root_ + "/ro").st_mode, S_IFDIR | 0555u);
  EXPECT_EQ(lstat_of(root_ + "/ro").st_mtime, 1000);  // set after its child was created
  EXPECT_EQ(*read_file(root_ + "/ro/inside"), "z");
  char v[8] = {};
  ssize_t n = ::getxattr((root_ + "/a/xattr").c_str(), "user.berth", v, sizeof v);
  if (n >= 0) {
    EXPECT_EQ(std::string(v, n), "v");
  }
  EXPECT_EQ(st->size_bytes, 5 + 10 + 1 + 1 + 1 + 1);  // regular files; the hard link is not counted
  EXPECT_EQ(st->diff_id, sha256_digest(*read_file(tar)));
  EXPECT_EQ(st->blob_digest, st->diff_id);
  ::chmod((root_ + "/ro").c_str(), 0755);  // let TempDir clean up without root
}

TEST_F(FsLayer, DigestsCoverBothStreams) {
  auto fill = [](TarWriter& w) {
    expect_ok(w.add_dir("d"));
    expect_ok(w.add_file("d/big", std::string(300000, 'q')));
  };
  std::string plain = make_tar(fill, Compression::kNone, "plain");
  std::string plain_digest = sha256_digest(*read_file(plain));
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kXz, Compression::kBzip2}) {
    SCOPED_TRACE(static_cast<int>(c));
    std::string packed = make_tar(fill, c, "packed");
    std::string packed_bytes = *read_file(packed);
    EXPECT_EQ(sniff_compression(packed_bytes), c);
    ASSERT_EQ(remove_tree(root_).has_value(), true);
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    std::string source_copy, tar_copy;
    ApplyOptions opts;
    opts.tee = [&](std::string_view d) -> Result<void> {
      source_copy.append(d);
      return berth::ok();
    };
    auto st = apply(packed, opts);
    ASSERT_TRUE(st.has_value()) << st.error().message();
    EXPECT_EQ(st->diff_id, plain_digest);
    EXPECT_EQ(st->blob_digest, sha256_digest(packed_bytes));
    EXPECT_EQ(st->blob_size_bytes, static_cast<int64_t>(packed_bytes.size()));
    EXPECT_EQ(source_copy, packed_bytes);
    EXPECT_EQ(read_file(root_ + "/d/big")->size(), 300000u);

    ASSERT_EQ(remove_tree(root_).has_value(), true);
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    opts.tee = [&](std::string_view d) -> Result<void> {
      tar_copy.append(d);
      return berth::ok();
    };
    opts.tee_stream = TeeStream::kUncompressed;
    ASSERT_TRUE(apply(packed, opts).has_value());
    EXPECT_EQ(tar_copy, *read_file(plain));
  }
  EXPECT_EQ(sniff_compression(*read_file(plain)), Compression::kNone);
}

TEST_F(FsLayer, TeeErrorAborts) {
  std::string tar = make_tar([](TarWriter& w) { expect_ok(w.add_file("f", "x")); });
  ApplyOptions opts;
  opts.tee = [](std::string_view) -> Result<void> { return Error::sys(ENOSPC, "write blob"); };
  auto st = apply(tar, opts);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().message(), "write blob: No space left on device");
}

TEST_F(FsLayer, RefusesDotDot) {
  std::string tar = make_tar([](TarWriter& w) { expect_ok(w.add_file("../evil", "x")); });
  auto st = apply(tar);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(st.error().message(), "refusing layer entry ../evil: path contains '..'");
  EXPECT_FALSE(path_exists(tmp_ / "evil"));
}

TEST_F(FsLayer, RefusesWritingThroughSymlinks) {
  const std::vector<std::pair<std::string, std::string>> escapes = {
      {outside_, "x/evil"},                 // absolute target outside the root
      {"../outside", "x/evil"},             // relative target climbing out
      {"/", "x" + outside_ + "/evil"},      // x -> / then x/<outside>/evil
      {".", "x/sub/evil"},                  // even a link that stays inside
  };
  for (const auto& [target, victim] : escapes) {
    SCOPED_TRACE(target);
    std::string tar = make_tar([&](TarWriter& w) {
      expect_ok(w.add_symlink("x", target));
      expect_ok(w.add_file(victim, "pwned"));
    });
    auto st = apply(tar);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
    EXPECT_NE(st.error().message().find("refusing layer entry " + victim), std::string::npos)
        << st.error().message();
    EXPECT_FALSE(path_exists(outside_ + "/evil"));
    EXPECT_FALSE(path_exists(root_ + "/sub/evil"));
    ASSERT_TRUE(remove_tree(root_).has_value());
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
  }
}

TEST_F(FsLayer, RefusesHardLinksOutOfTheRoot) {
  ASSERT_TRUE(write_file_atomic(outside_ + "/secret", "s").has_value());
  for (std::string target : {std::string("../outside/secret"), std::string("s/secret")}) {
    SCOPED_TRACE(target);
    std::string tar = make_tar([&](TarWriter& w) {
      expect_ok(w.add_symlink("s", outside_));
      expect_ok(w.add_hardlink("h", target));
    });
    auto st = apply(tar);
    ASSERT_FALSE(st.has_value());
    EXPECT_NE(st.error().message().find("refusing layer entry"), std::string::npos) << st.error().message();
    EXPECT_FALSE(path_exists(root_ + "/h"));
    EXPECT_EQ(lstat_of(outside_ + "/secret").st_nlink, 1u);
    ASSERT_TRUE(remove_tree(root_).has_value());
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
  }
}

TEST_F(FsLayer, ReplacesASymlinkInsteadOfFollowingIt) {
  ASSERT_TRUE(write_file_atomic(outside_ + "/target", "original").has_value());
  std::string tar = make_tar([&](TarWriter& w) {
    expect_ok(w.add_symlink("f", outside_ + "/target"));
    expect_ok(w.add_file("f", "new"));
  });
  ASSERT_TRUE(apply(tar).has_value());
  EXPECT_EQ(*read_file(outside_ + "/target"), "original");
  EXPECT_TRUE(S_ISREG(lstat_of(root_ + "/f").st_mode));
  EXPECT_EQ(*read_file(root_ + "/f"), "new");
}

TEST_F(FsLayer, LaterEntriesWin) {
  std::string tar = make_tar([&](TarWriter& w) {
    expect_ok(w.add_file("f", "one"));
    expect_ok(w.add_file("f", "two"));
    expect_ok(w.add_dir("d", 0700));
    expect_ok(w.add_dir("d", 0711));
  });
  ASSERT_TRUE(apply(tar).has_value());
  EXPECT_EQ(*read_file(root_ + "/f"), "two");
  EXPECT_EQ(lstat_of(root_ + "/d").st_mode, S_IFDIR | 0711u);
}

TEST_F(FsLayer, KeepsNonAsciiNames) {
  std::string tar = make_tar([&](TarWriter& w) { expect_ok(w.add_file("h\xc3\xa9llo/\xe2\x9c\x93", "u")); });
  auto st = apply(tar);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(*read_file(root_ + "/h\xc3\xa9llo/\xe2\x9c\x93"), "u");
}

TEST_F(FsLayer, CorruptStreamsFail) {
  std::string tar = make_tar([](TarWriter& w) { expect_ok(w.add_file("f", std::string(100000, 'a'))); },
                             Compression::kGzip);
  std::string bytes = *read_file(tar);
  ASSERT_TRUE(write_file_atomic(tar, bytes.substr(0, bytes.size() / 2)).has_value());
  EXPECT_FALSE(apply(tar).has_value());
  ASSERT_TRUE(write_file_atomic(tar, "this is not an archive at all").has_value());
  EXPECT_FALSE(apply(tar).has_value());
  ASSERT_TRUE(write_file_atomic(tar, "").has_value());
  EXPECT_FALSE(apply(tar).has_value());
}

TEST_F(FsLayer, WhiteoutsBecomeOverlayFormat) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod, trusted.* xattrs)";
  std::string tar = make_tar([&](TarWriter& w) {
    expect_ok(w.add_dir("d"));
    expect_ok(w.add_file("d/.wh.gone", ""));
    expect_ok(w.add_dir("opq"));
    expect_ok(w.add_file("opq/.wh..wh..opq", ""));
    expect_ok(w.add_file("opq/kept", "k"));
    expect_ok(w.add_file(".wh..wh.plnk", ""));  // aufs bookkeeping: skipped
    TarEntry sneaky;                       // overlay xattrs from the archive are dropped
    sneaky.path = "r";
    sneaky.xattrs["trusted.overlay.redirect"] = "/etc";
    expect_ok(w.add(sneaky));
  });
  auto st = apply(tar);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  struct stat wo = lstat_of(root_ + "/d/gone");
  EXPECT_TRUE(S_ISCHR(wo.st_mode));
  EXPECT_EQ(wo.st_rdev, makedev(0, 0));
  EXPECT_FALSE(path_exists(root_ + "/d/.wh.gone"));
  char v[4] = {};
  ASSERT_EQ(::getxattr((root_ + "/opq").c_str(), "trusted.overlay.opaque", v, sizeof v), 1) << strerror(errno);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(path_exists(root_ + "/opq/.wh..wh..opq"));
  EXPECT_TRUE(path_exists(root_ + "/opq/kept"));
  EXPECT_FALSE(path_exists(root_ + "/.wh..wh.plnk"));
  EXPECT_FALSE(path_exists(root_ + "/plnk"));
  EXPECT_LT(::getxattr((root_ + "/r").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
}

TEST_F(FsLayer, PreservesOwnersAndDevices) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown, mknod)";
  std::string tar = make_tar([&](TarWriter& w) {
    TarEntry f;
    f.path = "suid";
    f.mode = S_IFREG | 04755;
    f.uid = 1234;
    f.gid = 5678;
    f.data = "x";
    expect_ok(w.add(f));
    TarEntry d;
    d.path = "home";
    d.mode = S_IFDIR | 0700;
    d.uid = 1000;
    d.gid = 1000;
    expect_ok(w.add(d));
    TarEntry dev;
    dev.path = "dev/null";
    dev.mode = S_IFCHR | 0666;
    dev.rdev = makedev(1, 3);
    expect_ok(w.add(dev));
    TarEntry l;
    l.path = "link";
    l.mode = S_IFLNK | 0777;
    l.link_target = "suid";
    l.uid = 42;
    expect_ok(w.add(l));
  });
  auto st = apply(tar);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  struct stat s = lstat_of(root_ + "/suid");
  EXPECT_EQ(s.st_uid, 1234u);
  EXPECT_EQ(s.st_gid, 5678u);
  EXPECT_EQ(s.st_mode, S_IFREG | 04755u);  // chown did not clear set-uid
  EXPECT_EQ(lstat_of(root_ + "/home").st_uid, 1000u);
  struct stat dn = lstat_of(root_ + "/dev/null");
  EXPECT_TRUE(S_ISCHR(dn.st_mode));
  EXPECT_EQ(dn.st_rdev, makedev(1, 3));
  EXPECT_EQ(dn.st_mode & 07777, 0666u);
  EXPECT_EQ(lstat_of(root_ + "/link").st_uid, 42u);
}

}  // namespace
}  // namespace berth::fs
