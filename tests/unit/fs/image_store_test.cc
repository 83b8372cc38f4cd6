#include "fs/image_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "tests/unit/fs/temp_dir.h"
#include "fs/tar_writer.h"

namespace berth::fs {
namespace {

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") out.push_back(e->d_name);
  ::closedir(d);
  return out;
}


class FsImageStore : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs_ = make_tar("rootfs", Compression::kNone, [](TarWriter& w) {
      expect_ok(w.add_dir("bin"));
      expect_ok(w.add_file("bin/busybox", "#!fake", 0755));
      expect_ok(w.add_symlink("bin/sh", "busybox"));
      expect_ok(w.add_hardlink("bin/ash", "bin/busybox"));
      expect_ok(w.add_dir("etc"));
      expect_ok(w.add_file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
      expect_ok(w.add_dir("tmp", 01777));
    });
    open_store();
  }

  void open_store() {
    store_.reset();
    auto s = ImageStore::open(root_);
    ASSERT_TRUE(s.has_value()) << s.error().message();
    store_ = std::move(*s);
  }

  template <class F>
  std::string make_tar(const std::string& name, Compression c, F&& fill) {
    std::string path = tmp_ / (name + ".tar");
    auto w = TarWriter::create(path, c);
    EXPECT_TRUE(w.has_value());
    fill(*w);
    expect_ok(w->close());
    return path;
  }

  Image import(const std::string& tag, const ImageConfig& changes = {}, const std::string& tar = {}) {
    auto img = store_->import_rootfs(tar.empty() ? rootfs_ : tar, tag, changes, "Imported from -");
    EXPECT_TRUE(img.has_value()) << img.error().message();
    return img.has_value() ? *img : Image{};
  }

  std::string blob_path(const std::string& digest) { return root_ + "/blobs/sha256/" + digest.substr(7); }

  TempDir tmp_;
  std::string root_ = tmp_ / "image";
  std::string rootfs_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(FsImageStore, ImportWritesLayoutBlobsAndLayer) {
  Image img = import("busybox:latest");
  std::string tar_bytes = *read_file(rootfs_);
  std::string diff_id = sha256_digest(tar_bytes);

  EXPECT_EQ(*read_file(root_ + "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  EXPECT_EQ(img.id, sha256_digest(img.config_json));  // Image ID = config digest
  EXPECT_EQ(*read_file(blob_path(img.id)), img.config_json);
  EXPECT_EQ(img.repo_tags, std::vector<std::string>{"busybox:latest"});
  EXPECT_EQ(img.diff_ids, std::vector<std::string>{diff_id});
  EXPECT_EQ(img.os, "linux");
  EXPECT_EQ(img.architecture, host_architecture());
  EXPECT_EQ(img.comment, "Imported from -");
  EXPECT_NEAR(static_cast<double>(img.created_ns), static_cast<double>(now_ns()), 60e9);
  EXPECT_EQ(img.size_bytes, 6 + 30);

  auto manifest = parse_manifest(*store_->blobs().read(img.manifest_digest));
  ASSERT_TRUE(manifest.has_value());
  EXPECT_EQ(manifest->config.digest, img.id);
  ASSERT_EQ(manifest->layers.size(), 1u);
  EXPECT_EQ(manifest->layers[0].media_type, "application/vnd.oci.image.layer.v1.tar");
  EXPECT_EQ(manifest->layers[0].digest, diff_id);  // a plain tar is stored as it is
  EXPECT_EQ(*read_file(blob_path(diff_id)), tar_bytes);

  // One layer: its chain ID is its diff ID.
  ASSERT_EQ(img.layer_dirs.size(), 1u);
  EXPECT_EQ(img.layer_dirs[0], root_ + "/layers/" + diff_id.substr(7));
  EXPECT_EQ(*read_file(img.layer_dirs[0] + "/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  struct stat st;
  ASSERT_EQ(::lstat((img.layer_dirs[0] + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 01777u);
  EXPECT_TRUE(dir_entries(root_ + "/ingest").empty());

  std::string repos = *read_file(root_ + "/repositories.json");
  EXPECT_NE(repos.find("\"busybox:latest\": \"" + img.id + "\""), std::string::npos) << repos;
  std::string index = *read_file(root_ + "/index.json");
  EXPECT_NE(index.find(img.manifest_digest), std::string::npos);
  EXPECT_NE(index.find("docker.io/library/busybox:latest"), std::string::npos) << index;
}

TEST_F(FsImageStore, ConfigComesOnlyFromChanges) {
  Image plain = import("");
  EXPECT_EQ(plain.config, ImageConfig{});
  EXPECT_TRUE(plain.repo_tags.empty());

  ImageConfig changes;
  changes.env = {"PATH=/bin", "X=1"};
  changes.cmd = {"sh"};
  changes.entrypoint = {"/bin/busybox"};
  changes.working_dir = "/tmp";
  changes.user = "nobody";
  changes.stop_signal = "SIGINT";
  changes.labels = {{"a", "b"}};
  changes.exposed_ports = {"80/tcp", "53/udp"};
  Image img = import("x:1", changes);
  changes.exposed_ports = {"53/udp", "80/tcp"};
  EXPECT_EQ(img.config, changes);
  auto doc = parse_image_config(img.config_json);
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->config, changes);
}

TEST_F(FsImageStore, CompressedImportsKeepGzipAndZstdButNotXz) {
  auto fill = [](TarWriter& w) { expect_ok(w.add_file("f", std::string(5000, 'z'))); };
  std::string plain_digest = sha256_digest(*read_file(make_tar("plain", Compression::kNone, fill)));
  struct Case {
    Compression c;
    const char* media_type;
    bool stored_compressed;
  };
  for (Case k : {Case{Compression::kGzip, "application/vnd.oci.image.layer.v1.tar+gzip", true},
                 Case{Compression::kZstd, "application/vnd.oci.image.layer.v1.tar+zstd", true},
                 Case{Compression::kXz, "application/vnd.oci.image.layer.v1.tar", false}}) {
    SCOPED_TRACE(k.media_type);
    std::string tar = make_tar("packed", k.c, fill);
    Image img = import("", {}, tar);
    EXPECT_EQ(img.diff_ids, std::vector<std::string>{plain_digest});
    auto m = parse_manifest(*store_->blobs().read(img.manifest_digest));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->layers[0].media_type, k.media_type);
    std::string expect_blob = k.stored_compressed ? sha256_digest(*read_file(tar)) : plain_digest;
    EXPECT_EQ(m->layers[0].digest, expect_blob);
    EXPECT_TRUE(store_->blobs().verify(expect_blob).has_value());
    EXPECT_EQ(m->layers[0].size, *store_->blobs().size(expect_blob));
    EXPECT_EQ(*read_file(img.layer_dirs[0] + "/f"), std::string(5000, 'z'));
  }
}

TEST_F(FsImageStore, ResolvesEveryForm) {
  Image img = import("busybox:latest");
  Image other = import("foo/bar:v1");
  std::string hex = img.id.substr(7);
  for (std::string ref : {std::string("busybox"), std::string("busybox:latest"),
                          std::string("docker.io/library/busybox"), std::string("docker.io/library/busybox:latest"),
                          std::string("index.docker.io/library/busybox"), img.id, hex,
                          "busybox@" + img.manifest_digest}) {
    SCOPED_TRACE(ref);
    auto r = store_->resolve(ref);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->id, img.id);
    EXPECT_EQ(r->repo_tags, std::vector<std::string>{"busybox:latest"});
  }
  EXPECT_EQ(store_->resolve("docker.io/foo/bar:v1")->id, other.id);
  // The shortest prefix that tells the two IDs apart, with and without "sha256:".
  size_t n = 1;
  while (hex.substr(0, n) == other.id.substr(7, n)) n++;
  EXPECT_EQ(store_->resolve(hex.substr(0, n))->id, img.id);
  EXPECT_EQ(store_->resolve("sha256:" + hex.substr(0, n))->id, img.id);
  EXPECT_EQ(store_->resolve(hex.substr(0, 12))->id, img.id);

  for (std::string missing : {std::string("nope"), std::string("busybox:2"), std::string("foo/bar"),
                              std::string("sha256:zz"), std::string("sha256:"), "other@" + img.manifest_digest}) {
    SCOPED_TRACE(missing);
    auto r = store_->resolve(missing);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Code::kNotFound);
    EXPECT_EQ(r.error().message(), "No such image: " + missing);
  }
  auto bad = store_->resolve("Busybox");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
}

TEST_F(FsImageStore, AmbiguousPrefixIsNotFound) {
  // Seventeen IDs over sixteen hex digits: two share a first digit.
  std::map<char, int> first;
  char shared = 0;
  while (!shared) {
    Image img = import("");
    if (++first[img.id[7]] == 2) shared = img.id[7];
  }
  auto r = store_->resolve(std::string(1, shared));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  // Every import of the same tarball shares one unpacked layer directory.
  EXPECT_EQ(dir_entries(root_ + "/layers").size(), 1u);
}

TEST_F(FsImageStore, NameWinsOverIdPrefix) {
  Image a = import("");
  std::string prefix = a.id.substr(7, 6);
  if (prefix.find_first_not_of("0123456789") == std::string::npos) prefix[0] = 'a';  // keep it a valid name
  Image b = import(prefix + ":latest");
  EXPECT_EQ(store_->resolve(prefix)->id, b.id);
}

TEST_F(FsImageStore, TagMovesBetweenImages) {
  Image a = import("app:1");
  Image b = import("");
  expect_ok(store_->tag(a.id, "app:stable"));
  EXPECT_EQ(store_->resolve("app:stable")->id, a.id);
  EXPECT_EQ(store_->resolve(a.id)->repo_tags, (std::vector<std::string>{"app:1", "app:stable"}));

  expect_ok(store_->tag(b.id.substr(7, 12), "docker.io/library/app:1"));  // normalised to app:1
  EXPECT_EQ(store_->resolve("app:1")->id, b.id);
  EXPECT_EQ(store_->resolve(a.id)->repo_tags, std::vector<std::string>{"app:stable"});

  auto missing = store_->tag("nope", "x:1");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  auto digest = store_->tag(a.id, "x@" + a.manifest_digest);
  ASSERT_FALSE(digest.has_value());
  EXPECT_EQ(digest.error().code(), Code::kInvalidArgument);
  auto upper = store_->tag(a.id, "X");
  ASSERT_FALSE(upper.has_value());
  EXPECT_EQ(upper.error().message(), "invalid reference format: repository name must be lowercase");
  auto bad_import = store_->import_rootfs(rootfs_, "Bad", {}, "");
  ASSERT_FALSE(bad_import.has_value());
  EXPECT_EQ(bad_import.error().code(), Code::kInvalidArgument);
}

TEST_F(FsImageStore, ListIsNewestFirst) {
  Image a = import("a:1");
  Image b = import("b:1");
  Image c = import("");
  std::vector<Image> all = store_->list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, c.id);
  EXPECT_EQ(all[1].id, b.id);
  EXPECT_EQ(all[2].id, a.id);
  EXPECT_EQ(all[1].repo_tags, std::vector<std::string>{"b:1"});
}

TEST_F(FsImageStore, ReopenReloadsTheSameImages) {
  ImageConfig changes;
  changes.cmd = {"sh"};
  import("a:1", changes);
  import("");
  std::vector<Image> before = store_->list();
  open_store();
  std::vector<Image> after = store_->list();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); i++) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].repo_tags, before[i].repo_tags);
    EXPECT_EQ(after[i].manifest_digest, before[i].manifest_digest);
    EXPECT_EQ(after[i].created_ns, before[i].created_ns);
    EXPECT_EQ(after[i].size_bytes, before[i].size_bytes);
    EXPECT_EQ(after[i].config, before[i].config);
    EXPECT_EQ(after[i].diff_ids, before[i].diff_ids);
    EXPECT_EQ(after[i].layer_dirs, before[i].layer_dirs);
    EXPECT_EQ(after[i].config_json, before[i].config_json);
    EXPECT_EQ(after[i].comment, before[i].comment);
  }
}

TEST_F(FsImageStore, CorruptBlobsAreDetected) {
  Image img = import("a:1");
  ASSERT_EQ(::truncate(blob_path(img.diff_ids[0]).c_str(), 100), 0);
  auto v = store_->blobs().verify(img.diff_ids[0]);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Code::kCorrupt);

  std::string config = img.config_json;
  config[config.find("linux")] = 'L';
  expect_ok(write_file_atomic(blob_path(img.id), config));
  auto r = store_->blobs().read(img.id);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kCorrupt);
  EXPECT_NE(r.error().message().find("blob " + img.id + " is corrupt"), std::string::npos);

  open_store();  // a corrupt image is skipped, not fatal
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(store_->resolve("a:1").error().code(), Code::kNotFound);

  // A later mutation keeps the skipped record on disk, so repairing the blob
  // brings the image back with its tag.
  import("b:1");
  expect_ok(write_file_atomic(blob_path(img.id), img.config_json));
  ASSERT_TRUE(write_file_atomic(blob_path(img.diff_ids[0]), *read_file(rootfs_)).has_value());
  open_store();
  EXPECT_EQ(store_->list().size(), 2u);
  EXPECT_EQ(store_->resolve("a:1")->id, img.id);
}

TEST_F(FsImageStore, MissingLayerDirectoryIsUnpackedAgain) {
  Image img = import("a:1");
  expect_ok(remove_tree(img.layer_dirs[0]));
  open_store();
  auto again = store_->resolve("a:1");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(*read_file(again->layer_dirs[0] + "/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
}

TEST_F(FsImageStore, HostileImportLeavesNothingBehind) {
  std::string outside = tmp_ / "outside";
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  std::string evil = make_tar("evil", Compression::kGzip, [&](TarWriter& w) {
    expect_ok(w.add_file("ok", "fine"));
    expect_ok(w.add_symlink("x", "/"));
    expect_ok(w.add_file("x" + outside + "/evil", "pwned"));
  });
  auto r = store_->import_rootfs(evil, "evil:1", {}, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("refusing layer entry x" + outside + "/evil"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(path_exists(outside + "/evil"));
  EXPECT_TRUE(store_->list().empty());
  EXPECT_TRUE(dir_entries(root_ + "/layers").empty());
  EXPECT_TRUE(dir_entries(root_ + "/ingest").empty());
  EXPECT_TRUE(dir_entries(root_ + "/blobs/sha256").empty());
  EXPECT_FALSE(path_exists(root_ + "/repositories.json"));
}

TEST_F(FsImageStore, OpenRemovesCrashLeftovers) {
  ASSERT_EQ(::mkdir((root_ + "/layers/tmp-123").c_str(), 0755), 0);
  expect_ok(write_file_atomic(root_ + "/layers/tmp-123/f", "x"));
  expect_ok(write_file_atomic(root_ + "/ingest/abc", "x"));
  open_store();
  EXPECT_TRUE(dir_entries(root_ + "/layers").empty());
  EXPECT_TRUE(dir_entries(root_ + "/ingest").empty());
}

TEST_F(FsImageStore, LookupsRunWhileImporting) {
  import("base:1");
  std::atomic<bool> done = false;
  std::thread worker([&] {
    for (int i = 0; i < 5; i++) {
      auto r = store_->import_rootfs(rootfs_, "w:" + std::to_string(i), {}, "");
      EXPECT_TRUE(r.has_value());
    }
    done = true;
  });
  size_t lookups = 0;
  while (!done) {
    EXPECT_TRUE(store_->resolve("base:1").has_value());
    EXPECT_GE(store_->list().size(), 1u);
    lookups++;
  }
  worker.join();
  EXPECT_GT(lookups, 0u);
  EXPECT_EQ(store_->list().size(), 6u);
  EXPECT_TRUE(store_->resolve("w:4").has_value());
}

}  // namespace
}  // namespace berth::fs
