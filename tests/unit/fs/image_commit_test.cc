// Commit in the image store (a container's upper dir as a new layer over
// its parent image), and the config documents commit writes.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "fs/digest.h"
#include "fs/image_store.h"
#include "fs/layer_stack.h"
#include "fs/tar_writer.h"
#include "tests/unit/fs/temp_dir.h"

namespace berth::fs {
namespace {


class FsImageCommit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (whiteouts are character devices)";
    std::string tar = tmp_ / "rootfs.tar";
    auto w = TarWriter::create(tar);
    ASSERT_TRUE(w.has_value());
    expect_ok(w->add_dir("bin"));
    expect_ok(w->add_file("bin/sh", "#!sh", 0755));
    expect_ok(w->add_dir("etc"));
    expect_ok(w->add_file("etc/passwd", "root\n"));
    expect_ok(w->add_file("etc/group", "root\n"));
    expect_ok(w->close());
    auto s = ImageStore::open(tmp_ / "image");
    ASSERT_TRUE(s.has_value()) << s.error().message();
    store_ = std::move(*s);
    ImageConfig cfg;
    cfg.cmd = {"sh"};
    auto img = store_->import_rootfs(tar, "base:1", cfg, "");
    ASSERT_TRUE(img.has_value()) << img.error().message();
    base_ = *img;
    // A container's upper dir: passwd changed, a file added, group deleted.
    expect_ok(make_dirs(upper_ + "/etc"));
    expect_ok(write_file_atomic(upper_ + "/etc/passwd", "root\nuser\n"));
    expect_ok(write_file_atomic(upper_ + "/etc/added", "new\n"));
    ASSERT_EQ(::mknod((upper_ + "/etc/group").c_str(), S_IFCHR, makedev(0, 0)), 0);
  }

  Result<Image> commit(const std::string& upper, const std::string& tag) {
    CommitSpec spec;
    spec.parent_id = base_.id;
    spec.upper_dir = upper;
    spec.child.config = base_.config;
    spec.child.config.env = {"A=1"};
    spec.child.author = "Ann <ann@example.com>";
    spec.child.comment = "a commit";
    spec.child.created_by = "sh -c edit";
    spec.child.container_id = std::string(64, 'c');
    spec.repo_tag = tag;
    return store_->commit_container(spec);
  }

  TempDir tmp_;
  std::string upper_ = tmp_ / "upper";
  std::unique_ptr<ImageStore> store_;
  Image base_;
};

TEST_F(FsImageCommit, AddsTheUpperDirAsALayer) {
  auto child = commit(upper_, "docker.io/library/child:v2");
  ASSERT_TRUE(child.has_value()) << child.error().message();
  EXPECT_EQ(child->repo_tags, std::vector<std::string>{"child:v2"});
  EXPECT_EQ(child->id, sha256_digest(child->config_json));
  ASSERT_EQ(child->diff_ids.size(), 2u);
  EXPECT_EQ(child->diff_ids[0], base_.diff_ids[0]);
  ASSERT_EQ(child->layer_dirs.size(), 2u);
  EXPECT_EQ(child->layer_dirs[0], base_.layer_dirs[0]);  // shared, not copied
  EXPECT_EQ(child->layer_dirs[1], store_->dir() + "/layers/" + std::string(digest_hex(chain_id(child->diff_ids))));
  // The layer is unpacked in overlay format, its blob verified.
  EXPECT_EQ(*read_file(child->layer_dirs[1] + "/etc/passwd"), "root\nuser\n");
  struct stat st;
  ASSERT_EQ(::lstat((child->layer_dirs[1] + "/etc/group").c_str(), &st), 0);
  EXPECT_TRUE(is_whiteout(st));
  EXPECT_TRUE(store_->blobs().verify(child->diff_ids[1]).has_value());
  auto manifest = parse_manifest(*store_->blobs().read(child->manifest_digest));
  ASSERT_TRUE(manifest.has_value());
  ASSERT_EQ(manifest->layers.size(), 2u);
  EXPECT_EQ(manifest->layers[1].digest, child->diff_ids[1]);
  EXPECT_EQ(manifest->config.digest, child->id);

  EXPECT_EQ(child->config.env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(child->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_EQ(child->author, "Ann <ann@example.com>");
  EXPECT_EQ(child->comment, "a commit");
  auto doc = nlohmann::json::parse(child->config_json);
  EXPECT_EQ(doc["container"], std::string(64, 'c'));
  ASSERT_EQ(doc["history"].size(), 2u);
  EXPECT_EQ(doc["history"][1]["created_by"], "sh -c edit");
  EXPECT_EQ(doc["history"][1]["author"], "Ann <ann@example.com>");
  EXPECT_FALSE(doc["history"][1].contains("empty_layer"));
  EXPECT_EQ(child->size_bytes, base_.size_bytes + 14);  // "root\nuser\n" + "new\n"

  // The parent is untouched, and a reopened store has both.
  auto parent = store_->resolve("base:1");
  ASSERT_TRUE(parent.has_value());
  EXPECT_EQ(parent->id, base_.id);
  EXPECT_EQ(parent->layer_dirs, base_.layer_dirs);
  store_.reset();
  auto s = ImageStore::open(tmp_ / "image");
  ASSERT_TRUE(s.has_value());
  auto again = (*s)->resolve("child:v2");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(again->layer_dirs, child->layer_dirs);
  EXPECT_EQ(again->config, child->config);
}

TEST_F(FsImageCommit, EmptyUpperAddsNoLayer) {
  expect_ok(make_dirs(tmp_ / "empty"));
  auto child = commit(tmp_ / "empty", "");
  ASSERT_TRUE(child.has_value()) << child.error().message();
  EXPECT_TRUE(child->repo_tags.empty());
  EXPECT_NE(child->id, base_.id);
  EXPECT_EQ(child->diff_ids, base_.diff_ids);
  EXPECT_EQ(child->layer_dirs, base_.layer_dirs);
  auto doc = nlohmann::json::parse(child->config_json);
  ASSERT_EQ(doc["history"].size(), 2u);
  EXPECT_EQ(doc["history"][1]["empty_layer"], true);
}

TEST_F(FsImageCommit, SameChangesShareOneLayerDirectory) {
  auto a = commit(upper_, "a:1");
  auto b = commit(upper_, "b:1");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->layer_dirs, b->layer_dirs);
  EXPECT_EQ(a->diff_ids, b->diff_ids);
}

TEST_F(FsImageCommit, StacksOfCommits) {
  // A child of a child: three layers, every lower one shared.
  auto child = commit(upper_, "c:1");
  ASSERT_TRUE(child.has_value());
  base_ = *child;
  std::string upper2 = tmp_ / "upper2";
  expect_ok(make_dirs(upper2));
  expect_ok(write_file_atomic(upper2 + "/third", "3"));
  auto grandchild = commit(upper2, "c:2");
  ASSERT_TRUE(grandchild.has_value()) << grandchild.error().message();
  ASSERT_EQ(grandchild->layer_dirs.size(), 3u);
  EXPECT_EQ(grandchild->layer_dirs[1], child->layer_dirs[1]);
  EXPECT_TRUE(path_exists(grandchild->layer_dirs[2] + "/third"));
}

TEST_F(FsImageCommit, UnknownParentIsNotFound) {
  CommitSpec spec;
  spec.parent_id = "sha256:" + std::string(64, '0');
  spec.upper_dir = upper_;
  auto r = store_->commit_container(spec);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
}

TEST(FsImageConfig, MergeLikeDockersCommit) {
  ImageConfig base;
  base.env = {"PATH=/bin", "A=base"};
  base.cmd = {"sh"};
  base.entrypoint = {"/init"};
  base.user = "1000";
  base.working_dir = "/srv";
  base.labels = {{"a", "base"}, {"b", "base"}};
  base.exposed_ports = {"80/tcp"};
  ImageConfig user;
  user.env = {"A=user"};
  user.labels = {{"a", "user"}};
  user.exposed_ports = {"53/udp"};
  ImageConfig m = merge_image_config(user, base);
  EXPECT_EQ(m.env, (std::vector<std::string>{"A=user", "PATH=/bin"}));
  EXPECT_EQ(m.labels, (std::map<std::string, std::string>{{"a", "user"}, {"b", "base"}}));
  EXPECT_EQ(m.exposed_ports, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(m.cmd, base.cmd);
  EXPECT_EQ(m.entrypoint, base.entrypoint);
  EXPECT_EQ(m.user, "1000");
  EXPECT_EQ(m.working_dir, "/srv");
  // A Cmd of the user's own keeps the base entrypoint; an Entrypoint of
  // the user's own drops the base Cmd.
  user.cmd = {"echo"};
  m = merge_image_config(user, base);
  EXPECT_EQ(m.cmd, std::vector<std::string>{"echo"});
  EXPECT_EQ(m.entrypoint, base.entrypoint);
  ImageConfig ep;
  ep.entrypoint = {"/other"};
  m = merge_image_config(ep, base);
  EXPECT_TRUE(m.cmd.empty());
  EXPECT_EQ(m.entrypoint, std::vector<std::string>{"/other"});
}

TEST(FsImageConfig, ChildConfigKeepsWhatBerthDoesNotModel) {
  std::string parent = R"({"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
    "config":{"Cmd":["old"],"Shell":["/bin/bash","-c"],"Healthcheck":{"Test":["CMD","true"]}},"container_config":{"Cmd":["x"]},
    "rootfs":{"type":"layers","diff_ids":["sha256:)" + std::string(64, 'a') + R"("]},
    "history":[{"created":"2024-01-01T00:00:00Z","created_by":"import"}]})";
  ChildImage c;
  c.config.cmd = {"new"};
  c.diff_id = "sha256:" + std::string(64, 'b');
  c.created_ns = 1700000000LL * 1000000000;
  c.comment = "msg";
  auto out = make_child_config(parent, c);
  ASSERT_TRUE(out.has_value()) << out.error().message();
  auto j = nlohmann::json::parse(*out);
  EXPECT_EQ(j["config"]["Cmd"], nlohmann::json::array({"new"}));
  EXPECT_TRUE(j["config"].contains("Shell"));
  // Healthcheck is modelled (ImageConfig::health_test): the child's own, here none.
  EXPECT_FALSE(j["config"].contains("Healthcheck"));
  EXPECT_FALSE(j.contains("container_config"));
  EXPECT_FALSE(j.contains("author"));
  EXPECT_EQ(j["comment"], "msg");
  EXPECT_EQ(j["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["history"][1]["comment"], "msg");
  auto doc = parse_image_config(*out);
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->created_ns, c.created_ns);
  EXPECT_FALSE(make_child_config("[1]", c).has_value());
}

TEST(FsImageConfig, RuntimeConfigFromACommitBody) {
  EXPECT_EQ(*parse_runtime_config(""), ImageConfig{});
  EXPECT_EQ(*parse_runtime_config("null"), ImageConfig{});
  auto cfg = parse_runtime_config(R"({"Cmd":["a"],"Env":["X=1"],"Hostname":"ignored"})");
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->cmd, std::vector<std::string>{"a"});
  EXPECT_EQ(cfg->env, std::vector<std::string>{"X=1"});
  EXPECT_FALSE(parse_runtime_config("{").has_value());
  EXPECT_FALSE(parse_runtime_config(R"({"Cmd":"not a list"})").has_value());
}

}  // namespace
}  // namespace berth::fs
