// Parsing of Binds, Mounts, Tmpfs and Config.Volumes (ipc/server/mount_request.h).
#include "ipc/server/mount_request.h"

#include <sys/mount.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipc/server/create_request.h"

namespace berth::ipc {
namespace {

using engine::MountSpec;
using ::testing::HasSubstr;

std::string error_of(const Result<MountSpec>& r) { return r ? "<ok>" : r.error().message(); }

TEST(ParseBind, HostPathBind) {
  auto m = parse_bind("/host/dir/:/ctr//data");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->type, MountSpec::Type::kBind);
  EXPECT_EQ(m->origin, MountSpec::Origin::kBinds);
  EXPECT_EQ(m->source, "/host/dir");
  EXPECT_EQ(m->target, "/ctr/data");
  EXPECT_FALSE(m->readonly);
  EXPECT_EQ(m->propagation, "rprivate");
  EXPECT_EQ(m->mode, "");
}

TEST(ParseBind, ModesReadonlyAndLabels) {
  auto m = parse_bind("/h:/c:ro,z");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->readonly);
  EXPECT_EQ(m->mode, "ro,z");
  auto rw = parse_bind("/h:/c:rw,private");
  ASSERT_TRUE(rw) << rw.error().message();
  EXPECT_FALSE(rw->readonly);
  EXPECT_EQ(rw->propagation, "private");
}

TEST(ParseBind, NamedAndAnonymousVolumes) {
  auto named = parse_bind("data_1:/var/lib/x:ro,nocopy");
  ASSERT_TRUE(named) << named.error().message();
  EXPECT_EQ(named->type, MountSpec::Type::kVolume);
  EXPECT_EQ(named->source, "data_1");
  EXPECT_TRUE(named->readonly);
  EXPECT_TRUE(named->nocopy);
  auto anon = parse_bind("/cache");
  ASSERT_TRUE(anon) << anon.error().message();
  EXPECT_EQ(anon->type, MountSpec::Type::kVolume);
  EXPECT_EQ(anon->source, "");
  EXPECT_EQ(anon->target, "/cache");
}

TEST(ParseBind, Errors) {
  EXPECT_THAT(error_of(parse_bind("")), HasSubstr("invalid volume specification"));
  EXPECT_THAT(error_of(parse_bind("/a:/b:ro:x")), HasSubstr("invalid volume specification: '/a:/b:ro:x'"));
  EXPECT_THAT(error_of(parse_bind("/ctr:ro")), HasSubstr("invalid volume specification"));
  EXPECT_THAT(error_of(parse_bind("/h:rel")), HasSubstr("invalid volume specification"));
  EXPECT_THAT(error_of(parse_bind("/h:/")), HasSubstr("destination can't be '/'"));
  EXPECT_THAT(error_of(parse_bind("/h:/c/..")), HasSubstr("destination can't be '/'"));
  EXPECT_THAT(error_of(parse_bind("/h:/proc/sys")), HasSubstr("inside /proc"));
  EXPECT_THAT(error_of(parse_bind("/h:/c:ro,rw")), HasSubstr("invalid mode: ro,rw"));
  EXPECT_THAT(error_of(parse_bind("/h:/c:bogus")), HasSubstr("invalid mode"));
  EXPECT_THAT(error_of(parse_bind("/h:/c:nocopy")), HasSubstr("invalid mode"));  // binds are never copied
  EXPECT_THAT(error_of(parse_bind("v1:/c:rshared")), HasSubstr("invalid mode"));
  EXPECT_THAT(error_of(parse_bind("/h:/c:rshared")), HasSubstr("propagation \"rshared\" is not supported"));
  EXPECT_THAT(error_of(parse_bind("a/b:/c")), HasSubstr("includes invalid characters for a local volume name"));
  EXPECT_THAT(error_of(parse_bind("x:/c")), HasSubstr("includes invalid characters"));  // one character
  EXPECT_THAT(error_of(parse_bind("v1:c")), HasSubstr("invalid volume specification"));
}

Json j(const char* text) { return Json::parse(text); }

TEST(ParseMount, BindVolumeTmpfs) {
  auto b = parse_mount(j(R"({"Type":"bind","Source":"/h","Target":"/c","ReadOnly":true,
                             "BindOptions":{"NonRecursive":true,"Propagation":"rprivate"}})"));
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->type, MountSpec::Type::kBind);
  EXPECT_EQ(b->origin, MountSpec::Origin::kMounts);
  EXPECT_TRUE(b->readonly);
  EXPECT_TRUE(b->nonrecursive);

  auto v = parse_mount(j(R"({"Type":"volume","Source":"v1","Target":"/d",
                             "VolumeOptions":{"NoCopy":true,"Labels":{"a":"b"}}})"));
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->source, "v1");
  EXPECT_TRUE(v->nocopy);
  EXPECT_EQ(v->volume_labels.at("a"), "b");

  auto t = parse_mount(j(R"({"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1023,
                             "Options":[["exec"],["uid","1000"]]}})"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->type, MountSpec::Type::kTmpfs);
  EXPECT_EQ(t->tmpfs_attrs, uint64_t(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));  // exec lifted noexec
  std::vector<std::pair<std::string, std::string>> want = {{"size", "1048576"}, {"mode", "1777"}, {"uid", "1000"}};
  EXPECT_EQ(t->tmpfs_options, want);
}

TEST(ParseMount, Errors) {
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"nfs","Target":"/c"})"))), HasSubstr("mount type unknown"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"bind","Source":"/h"})"))),
              HasSubstr("invalid mount config for type \"bind\": field Target must not be empty"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"bind","Target":"/c"})"))), HasSubstr("field Source must not be empty"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"bind","Source":"rel","Target":"/c"})"))),
              HasSubstr("invalid mount path: 'rel' mount path must be absolute"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"tmpfs","Source":"x","Target":"/c"})"))),
              HasSubstr("field Source must not be specified"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"bind","Source":"/h","Target":"/c","VolumeOptions":{}})"))),
              HasSubstr("field VolumeOptions must not be specified"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"volume","Target":"/c","TmpfsOptions":{}})"))),
              HasSubstr("field TmpfsOptions must not be specified"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"tmpfs","Target":"/c","TmpfsOptions":{"SizeBytes":-1}})"))),
              HasSubstr("invalid size"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"volume","Source":"v1","Target":"/c",
                                         "VolumeOptions":{"DriverConfig":{"Name":"nfsplugin"}}})"))),
              HasSubstr("plugin \"nfsplugin\" not found"));
  EXPECT_THAT(error_of(parse_mount(j(R"({"Type":"volume","Target":"c"})"))), HasSubstr("must be absolute"));
}

TEST(ParseTmpfs, DefaultsOverridesAndValidation) {
  auto d = parse_tmpfs("/run", "");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->tmpfs_attrs, uint64_t(MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  EXPECT_FALSE(d->readonly);
  EXPECT_TRUE(d->tmpfs_options.empty());

  auto o = parse_tmpfs("/run", "rw,exec,size=64m,mode=1770,size=1g,ro,noatime,sync");
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_TRUE(o->readonly);
  EXPECT_EQ(o->tmpfs_attrs, uint64_t(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOATIME));
  std::vector<std::pair<std::string, std::string>> want = {{"mode", "1770"}, {"size", "1g"}, {"sync", ""}};
  EXPECT_EQ(o->tmpfs_options, want);  // the later size wins

  EXPECT_THAT(error_of(parse_tmpfs("/run", "foo")), HasSubstr("Invalid tmpfs option [\"foo\"]"));
  EXPECT_THAT(error_of(parse_tmpfs("/run", "foo=bar")), HasSubstr("Invalid tmpfs option [\"foo\" \"bar\"]"));
  EXPECT_THAT(error_of(parse_tmpfs("/run", "size=lots")), HasSubstr("invalid tmpfs option size=lots"));
  EXPECT_THAT(error_of(parse_tmpfs("/run", "mode=999")), HasSubstr("invalid tmpfs option mode=999"));
  EXPECT_THAT(error_of(parse_tmpfs("/run", "mode=17777")), HasSubstr("mode=17777"));
  EXPECT_THAT(error_of(parse_tmpfs("/run", "uid=1k")), HasSubstr("uid=1k"));
  EXPECT_THAT(error_of(parse_tmpfs("run", "")), HasSubstr("must be absolute"));
}

TEST(ParseMounts, AllSourcesAndDuplicates) {
  auto all = parse_mounts(j(R"({"Volumes":{"/anon":{},"/data":{}}})"),
                          j(R"({"Binds":["/h:/data","v1:/v"],"Mounts":[{"Type":"tmpfs","Target":"/m"}],
                                "Tmpfs":{"/t":"size=1m"}})"));
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 5u);  // /data from Volumes is already bound
  EXPECT_EQ((*all)[0].target, "/data");
  EXPECT_EQ((*all)[1].target, "/v");
  EXPECT_EQ((*all)[2].target, "/m");
  EXPECT_EQ((*all)[3].target, "/t");
  EXPECT_EQ((*all)[3].origin, MountSpec::Origin::kTmpfs);
  EXPECT_EQ((*all)[4].target, "/anon");
  EXPECT_TRUE((*all)[4].anonymous);
  EXPECT_EQ((*all)[4].origin, MountSpec::Origin::kVolumes);

  auto dup = parse_mounts(Json::object(), j(R"({"Binds":["/a:/x","/b:/x/"]})"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message(), "Duplicate mount point: /x");
  auto dup2 = parse_mounts(Json::object(), j(R"({"Binds":["/a:/x"],"Tmpfs":{"/x":""}})"));
  EXPECT_FALSE(dup2);
  auto from = parse_mounts(Json::object(), j(R"({"VolumesFrom":["other"]})"));
  ASSERT_FALSE(from);
  EXPECT_EQ(from.error().code(), Code::kNotSupported);
  EXPECT_TRUE(parse_mounts(Json::object(), j(R"({"VolumesFrom":null,"VolumeDriver":""})")));
  auto bad = parse_mounts(Json::object(), j(R"({"Binds":"/a:/b"})"));
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("invalid Binds"));
}

TEST(ParseMounts, CreateRequestCarriesMountsAndReadonlyRoot) {
  auto s = parse_create_request(
      R"({"Image":"busybox","Volumes":{"/v":{}},"HostConfig":{"Binds":["/h:/c:ro"],"ReadonlyRootfs":true}})", "");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->readonly_rootfs);
  ASSERT_EQ(s->mounts.size(), 2u);
  EXPECT_TRUE(s->mounts[0].readonly);
  EXPECT_EQ(s->mounts[1].target, "/v");
  // A bad mount is a 400 from create.
  auto bad = parse_create_request(R"({"Image":"busybox","HostConfig":{"Tmpfs":{"/t":"bogus"}}})", "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::ipc
