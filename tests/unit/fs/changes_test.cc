// diff and the tars of commit and export, on hand-made layer trees in a temp
// dir: overlay whiteouts (0:0 character devices) and opaque directories
// (trusted.overlay.opaque) need root, so those tests skip without it.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "fs/changes.h"
#include "fs/layer.h"
#include "fs/rootfs_tar.h"
#include "tests/unit/fs/temp_dir.h"

namespace berth::fs {
namespace {

void put(const std::string& path, std::string_view data) {
  ASSERT_TRUE(make_dirs(path.substr(0, path.rfind('/'))).has_value());
  ASSERT_TRUE(write_file_atomic(path, data, 0644, false).has_value()) << path;
}
void dir(const std::string& path) { ASSERT_TRUE(make_dirs(path).has_value()) << path; }
void whiteout(const std::string& path) {
  ASSERT_EQ(::mknod(path.c_str(), S_IFCHR | 0, makedev(0, 0)), 0) << path << ": " << strerror(errno);
}
void opaque(const std::string& path) {
  ASSERT_EQ(::setxattr(path.c_str(), "trusted.overlay.opaque", "y", 1, 0), 0) << strerror(errno);
}
// Gives `path` the mode, owner and times of `like`, both in whole seconds
// (a tar keeps seconds, as Docker's do).
void same_meta(const std::string& path, const std::string& like) {
  struct stat st;
  ASSERT_EQ(::lstat(like.c_str(), &st), 0);
  ASSERT_EQ(::chmod(path.c_str(), st.st_mode & 07777), 0);
  ASSERT_EQ(::lchown(path.c_str(), st.st_uid, st.st_gid), 0);
  timespec times[2] = {{st.st_atim.tv_sec, 0}, {st.st_mtim.tv_sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, like.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

std::string render(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes) out += std::string(change_letter(c.kind)) + " " + c.path + "\n";
  return out;
}

struct TarItem {
  char type;  // f d l c b p h
  std::string data;  // file content, or link target
};

// Reads every entry of an uncompressed tar.
std::vector<std::pair<std::string, TarItem>> read_tar(const std::string& bytes) {
  std::vector<std::pair<std::string, TarItem>> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarItem it{'f', {}};
    if (const char* h = archive_entry_hardlink(e)) {
      it = {'h', h};
    } else {
      switch (archive_entry_filetype(e)) {
        case AE_IFDIR: it.type = 'd'; break;
        case AE_IFLNK: it = {'l', archive_entry_symlink(e)}; break;
        case AE_IFCHR: it.type = 'c'; break;
        case AE_IFIFO: it.type = 'p'; break;
        default: break;
      }
    }
    if (it.type == 'f') {
      char buf[4096];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) it.data.append(buf, size_t(n));
    }
    out.emplace_back(archive_entry_pathname(e), it);
  }
  archive_read_free(a);
  return out;
}

std::string names(const std::vector<std::pair<std::string, TarItem>>& entries) {
  std::string out;
  for (const auto& [path, it] : entries) out += std::string(1, it.type) + " " + path + "\n";
  return out;
}

// Two image layers and a container's upper dir, overlay format.
class FsChanges : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod of whiteouts, trusted.* xattrs)";
    // Bottom layer.
    put(bottom_ + "/etc/passwd", "root\n");
    put(bottom_ + "/etc/group", "root\n");
    put(bottom_ + "/bin/sh", "#!sh\n");
    put(bottom_ + "/dir/a", "a\n");
    put(bottom_ + "/dir/b", "b\n");
    put(bottom_ + "/dir/sub/c", "c\n");
    put(bottom_ + "/gone/x", "x\n");
    put(bottom_ + "/same/f", "f\n");
    put(bottom_ + "/opq/old", "old\n");
    // Top image layer: adds etc/hosts, deletes etc/group, replaces opq/.
    put(top_ + "/etc/hosts", "127.0.0.1\n");
    whiteout(top_ + "/etc/group");
    put(top_ + "/opq/new", "new\n");
    opaque(top_ + "/opq");
    // The container: modified, added, deleted, replaced.
    put(upper_ + "/etc/passwd", "root\nuser\n");
    put(upper_ + "/etc/new", "new\n");
    whiteout(upper_ + "/etc/hosts");
    whiteout(upper_ + "/etc/group");  // hidden by the image already: nothing to report
    put(upper_ + "/dir/a", "A\n");
    put(upper_ + "/dir/new2", "2\n");
    opaque(upper_ + "/dir");          // rm -rf /dir; mkdir /dir; ...
    whiteout(upper_ + "/gone");
    put(upper_ + "/newdir/f", "f\n");
    dir(upper_ + "/same");            // copied up, then nothing changed
    same_meta(upper_ + "/same", bottom_ + "/same");
  }

  std::vector<std::string> lowers() const { return {top_, bottom_}; }

  TempDir tmp_;
  std::string bottom_ = tmp_ / "l0", top_ = tmp_ / "l1", upper_ = tmp_ / "upper";
};

TEST_F(FsChanges, ListsAddedChangedDeletedInDockersOrder) {
  auto changes = list_changes(upper_, lowers());
  ASSERT_TRUE(changes.has_value()) << changes.error().message();
  EXPECT_EQ(render(*changes),
            "C /dir\n"
            "C /dir/a\n"
            "D /dir/b\n"
            "A /dir/new2\n"
            "D /dir/sub\n"
            "C /etc\n"
            "D /etc/hosts\n"
            "A /etc/new\n"
            "C /etc/passwd\n"
            "D /gone\n"
            "A /newdir\n"
            "A /newdir/f\n");
}

TEST_F(FsChanges, EmptyUpperHasNoChanges) {
  dir(tmp_ / "empty");
  auto changes = list_changes(tmp_ / "empty", lowers());
  ASSERT_TRUE(changes.has_value()) << changes.error().message();
  EXPECT_TRUE(changes->empty()) << render(*changes);
}

TEST_F(FsChanges, DirectoryWithOnlyMetadataChangedIsModified) {
  ASSERT_EQ(::chmod((upper_ + "/same").c_str(), 0700), 0);
  auto changes = list_changes(upper_, lowers());
  ASSERT_TRUE(changes.has_value());
  EXPECT_NE(render(*changes).find("C /same\n"), std::string::npos) << render(*changes);
}

TEST_F(FsChanges, WalkOrderIsPerDirectoryNotWholePath) {
  // Docker walks the tree: "/a" and what is under it come before "/a.txt",
  // although "/a.txt" < "/a/x" as strings.
  TempDir t;
  dir(t / "lower");
  put(t / "upper/a/x", "x");
  put(t / "upper/a.txt", "t");
  auto changes = list_changes(t / "upper", {t / "lower"});
  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(render(*changes), "A /a\nA /a/x\nA /a.txt\n");
}

TEST_F(FsChanges, LayerTarHasOciWhiteouts) {
  auto tar = RootfsTar::open({upper_}, TarMode::kLayer);
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  std::string bytes;
  bool done = false;
  int calls = 0;
  while (!done) {  // a tiny budget: every step of the generator is exercised
    auto r = (*tar)->produce(&bytes, bytes.size() + 1);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    done = *r;
    ASSERT_LT(++calls, 10000);
  }
  auto entries = read_tar(bytes);
  EXPECT_EQ(names(entries),
            "d dir/\n"
            "f dir/.wh..wh..opq\n"
            "f dir/a\n"
            "f dir/new2\n"
            "d etc/\n"
            "f etc/.wh.group\n"
            "f etc/.wh.hosts\n"
            "f etc/new\n"
            "f etc/passwd\n"
            "f .wh.gone\n"
            "d newdir/\n"
            "f newdir/f\n"
            "d same/\n");
  EXPECT_EQ((*tar)->entries(), 13);
  // Applied as a layer, the tar gives back the overlay format.
  TempDir t;
  int fd = ::open((t / "layer.tar").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_TRUE(write_all(fd, bytes).has_value());
  ::lseek(fd, 0, SEEK_SET);
  dir(t / "applied");
  auto st = apply_layer(fd, t / "applied", {});
  ::close(fd);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  struct stat wo;
  ASSERT_EQ(::lstat((t / "applied/etc/hosts").c_str(), &wo), 0);
  EXPECT_TRUE(is_whiteout(wo));
  char v[2] = {};
  EXPECT_EQ(::getxattr((t / "applied/dir").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  auto again = list_changes(t / "applied", lowers());
  ASSERT_TRUE(again.has_value());
  auto orig = list_changes(upper_, lowers());
  EXPECT_EQ(render(*again), render(*orig));
}

TEST_F(FsChanges, MergedTarIsTheContainersView) {
  ASSERT_EQ(::symlink("passwd", (upper_ + "/etc/pw").c_str()), 0);
  ASSERT_EQ(::link((upper_ + "/etc/new").c_str(), (upper_ + "/newdir/hard").c_str()), 0);
  ASSERT_EQ(::mkfifo((upper_ + "/newdir/fifo").c_str(), 0600), 0);
  auto tar = RootfsTar::open({upper_, top_, bottom_}, TarMode::kMerged);
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  std::string bytes;
  auto r = (*tar)->produce(&bytes, 64 << 20);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(*r);
  auto entries = read_tar(bytes);
  EXPECT_EQ(names(entries),
            "d bin/\n"
            "f bin/sh\n"
            "d dir/\n"
            "f dir/a\n"
            "f dir/new2\n"
            "d etc/\n"
            "f etc/new\n"
            "f etc/passwd\n"
            "l etc/pw\n"
            "d newdir/\n"
            "f newdir/f\n"
            "p newdir/fifo\n"
            "h newdir/hard\n"
            "d opq/\n"
            "f opq/new\n"
            "d same/\n"
            "f same/f\n");
  std::map<std::string, TarItem> by_path(entries.begin(), entries.end());
  EXPECT_EQ(by_path["etc/passwd"].data, "root\nuser\n");  // the upper copy
  EXPECT_EQ(by_path["dir/a"].data, "A\n");
  EXPECT_EQ(by_path["bin/sh"].data, "#!sh\n");            // from the bottom layer
  EXPECT_EQ(by_path["etc/pw"].data, "passwd");
  EXPECT_EQ(by_path["newdir/hard"].data, "etc/new");
}

TEST(FsLayerStack, SymlinkedDirectoriesAreNotFollowed) {
  // A container may plant a symlink where a directory was; the walk never
  // goes through it.
  TempDir t;
  put(t / "outside/secret", "s");
  dir(t / "layer");
  ASSERT_EQ(::symlink((t / "outside").c_str(), (t / "layer/link").c_str()), 0);
  auto stack = LayerStack::open({t / "layer"});
  ASSERT_TRUE(stack.has_value());
  EXPECT_FALSE(stack->open_file(0, "link/secret").has_value());
  auto listing = stack->read_dir("link", {0}, false);
  ASSERT_TRUE(listing.has_value());
  EXPECT_TRUE(listing->entries.empty());  // not a directory of the layer
  auto tar = RootfsTar::open({t / "layer"}, TarMode::kMerged);
  ASSERT_TRUE(tar.has_value());
  std::string bytes;
  ASSERT_TRUE((*tar)->produce(&bytes, 1 << 20).has_value());
  EXPECT_EQ(names(read_tar(bytes)), "l link\n");
}

}  // namespace
}  // namespace berth::fs
