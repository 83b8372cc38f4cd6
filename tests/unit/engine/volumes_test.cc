// VolumeStore (core/engine/volumes.h) on a temp directory, and the mounts
// of the container state file.
#include "core/engine/volumes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/engine/state_store.h"

namespace berth::engine {
namespace {

using ::testing::HasSubstr;

class Volumes : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-volumes-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = std::string(tmpl);
  }
  void TearDown() override { (void)remove_tree(dir_); }
  std::unique_ptr<VolumeStore> open() {
    auto s = VolumeStore::open(dir_ + "/volumes");
    EXPECT_TRUE(s) << s.error().message();
    return s ? std::move(*s) : nullptr;
  }
  std::string dir_;
};

TEST_F(Volumes, CreateLayoutAndReload) {
  auto s = open();
  auto v = s->create("data1", "local", {{"team", "a"}}, {});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->data_dir(), dir_ + "/volumes/data1/_data");
  EXPECT_TRUE(path_exists(v->data_dir()));
  EXPECT_TRUE(path_exists(dir_ + "/volumes/data1/volume.json"));
  struct stat st{};
  ASSERT_EQ(::stat((dir_ + "/volumes").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0701u);
  int64_t created = v->created_ns;
  EXPECT_GT(created, 0);

  // Idempotent: the same volume back, labels unchanged.
  auto again = s->create("data1", "", {{"other", "x"}}, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->created_ns, v->created_ns);
  EXPECT_EQ(again->labels, v->labels);
  EXPECT_EQ(again->labels.count("other"), 0u);

  auto reloaded = open();
  std::optional<Volume> r = reloaded->find("data1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->labels.at("team"), "a");
  EXPECT_EQ(r->created_ns, created);
  EXPECT_FALSE(r->anonymous());
}

TEST_F(Volumes, DirectoryWithoutMetadataIsStillAVolume) {
  ASSERT_TRUE(make_dirs(dir_ + "/volumes/orphan/_data"));
  ASSERT_TRUE(make_dirs(dir_ + "/volumes/x/_data"));  // an invalid name: skipped
  ASSERT_TRUE(make_dirs(dir_ + "/volumes/broken/_data"));
  ASSERT_TRUE(write_file_atomic(dir_ + "/volumes/broken/volume.json", "{not json", 0600, false));
  auto s = open();
  ASSERT_TRUE(s->find("orphan"));
  EXPECT_GT(s->find("orphan")->created_ns, 0);
  EXPECT_TRUE(s->find("broken"));
  EXPECT_FALSE(s->find("x"));
}

TEST_F(Volumes, Errors) {
  auto s = open();
  auto bad = s->create("a/b", "local", {}, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.error().message(), HasSubstr("includes invalid characters for a local volume name"));
  auto plugin = s->create("v1", "nfs", {}, {});
  ASSERT_FALSE(plugin);
  EXPECT_EQ(plugin.error().code(), Code::kNotFound);
  auto opts = s->create("v1", "local", {}, {{"type", "tmpfs"}});
  ASSERT_FALSE(opts);
  EXPECT_EQ(opts.error().code(), Code::kNotSupported);
  EXPECT_FALSE(s->find("v1"));
}

TEST_F(Volumes, UsersAndTakeOut) {
  auto s = open();
  ASSERT_TRUE(s->create("v1", "local", {{kAnonymousVolumeLabel, ""}}, {}));
  EXPECT_TRUE(s->find("v1")->anonymous());
  s->add_user("v1", "c2");
  s->add_user("v1", "c1");
  s->add_user("v1", "c1");
  EXPECT_TRUE(s->in_use("v1"));
  EXPECT_EQ(s->users("v1"), (std::vector<std::string>{"c1", "c2"}));
  s->drop_user("v1", "c1");
  s->drop_user("v1", "c2");
  s->drop_user("nope", "c2");
  EXPECT_FALSE(s->in_use("v1"));
  ASSERT_TRUE(make_dirs(dir_ + "/trash"));
  ASSERT_TRUE(s->take_out("v1", dir_ + "/trash/v1.1"));
  EXPECT_FALSE(s->find("v1"));
  EXPECT_TRUE(path_exists(dir_ + "/trash/v1.1/_data"));
  auto gone = s->take_out("v1", dir_ + "/trash/v1.2");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().message(), "get v1: no such volume");
}

TEST(VolumeNames, DockerRule) {
  EXPECT_TRUE(valid_volume_name("ab"));
  EXPECT_TRUE(valid_volume_name("my_vol-1.2"));
  EXPECT_TRUE(valid_volume_name(std::string(64, 'f')));
  EXPECT_FALSE(valid_volume_name("a"));
  EXPECT_FALSE(valid_volume_name("_ab"));
  EXPECT_FALSE(valid_volume_name("a b"));
  EXPECT_FALSE(valid_volume_name(".."));
  EXPECT_FALSE(valid_volume_name("a/b"));
}

TEST(StateStore, MountsRoundTrip) {
  Container c;
  c.id = std::string(64, 'c');
  c.spec.readonly_rootfs = true;
  MountSpec v;
  v.type = MountSpec::Type::kVolume;
  v.origin = MountSpec::Origin::kVolumes;
  v.source = std::string(64, 'a');
  v.target = "/data";
  v.anonymous = true;
  v.nocopy = true;
  v.host_path = "/r/volumes/x/_data";
  v.volume_labels = {{"k", "v"}};
  MountSpec t;
  t.type = MountSpec::Type::kTmpfs;
  t.origin = MountSpec::Origin::kTmpfs;
  t.target = "/run";
  t.readonly = true;
  t.tmpfs_attrs = 6;
  t.tmpfs_options = {{"size", "1m"}, {"sync", ""}};
  MountSpec b;
  b.type = MountSpec::Type::kBind;
  b.source = "/h";
  b.target = "/c";
  b.mode = "ro,z";
  b.propagation = "rprivate";
  b.nonrecursive = true;
  c.spec.mounts = {v, t, b};
  auto back = decode_container(encode_container(c));
  ASSERT_TRUE(back) << back.error().message();
  const auto& m = (*back)->spec.mounts;
  ASSERT_EQ(m.size(), 3u);
  EXPECT_TRUE((*back)->spec.readonly_rootfs);
  EXPECT_EQ(m[0].type, MountSpec::Type::kVolume);
  EXPECT_EQ(m[0].origin, MountSpec::Origin::kVolumes);
  EXPECT_EQ(m[0].source, v.source);
  EXPECT_TRUE(m[0].anonymous);
  EXPECT_TRUE(m[0].nocopy);
  EXPECT_EQ(m[0].host_path, v.host_path);
  EXPECT_EQ(m[0].volume_labels, v.volume_labels);
  EXPECT_EQ(m[1].type, MountSpec::Type::kTmpfs);
  EXPECT_EQ(m[1].origin, MountSpec::Origin::kTmpfs);
  EXPECT_TRUE(m[1].readonly);
  EXPECT_EQ(m[1].tmpfs_attrs, 6u);
  EXPECT_EQ(m[1].tmpfs_options, t.tmpfs_options);
  EXPECT_EQ(m[2].type, MountSpec::Type::kBind);
  EXPECT_EQ(m[2].mode, "ro,z");
  EXPECT_EQ(m[2].propagation, "rprivate");
  EXPECT_TRUE(m[2].nonrecursive);
}

}  // namespace
}  // namespace berth::engine
