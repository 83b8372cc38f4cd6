// berthctl's -v, --mount, --tmpfs and --read-only (tools/berthctl/mounts.h).
#include "tools/berthctl/mounts.h"

#include <gtest/gtest.h>

namespace berth::ctl {
namespace {

using json = nlohmann::json;

std::string error_of(const Result<json>& r) { return r ? "<ok>" : r.error().message(); }

TEST(MountFlag, BindWithOptions) {
  auto m = parse_mount_flag("type=bind,src=/h,dst=/c,readonly,bind-propagation=RPRIVATE,bind-nonrecursive=true");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(*m, json::parse(R"({"Type":"bind","Source":"/h","Target":"/c","ReadOnly":true,
                                "BindOptions":{"Propagation":"rprivate","NonRecursive":true}})"));
}

TEST(MountFlag, VolumeIsTheDefaultType) {
  auto m = parse_mount_flag("source=v1,target=/data,volume-nocopy,volume-label=a=b,volume-label=c,ro=false");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(*m, json::parse(R"({"Type":"volume","Source":"v1","Target":"/data","ReadOnly":false,
                                "VolumeOptions":{"NoCopy":true,"Labels":{"a":"b","c":""}}})"));
}

TEST(MountFlag, TmpfsSizeAndOctalMode) {
  auto m = parse_mount_flag("type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ((*m)["TmpfsOptions"]["SizeBytes"], 64 * 1024 * 1024);
  EXPECT_EQ((*m)["TmpfsOptions"]["Mode"], 01770);
}

TEST(MountFlag, CsvQuoting) {
  auto m = parse_mount_flag(R"("type=bind","source=/a,b",target=/c)");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ((*m)["Source"], "/a,b");
  EXPECT_EQ(error_of(parse_mount_flag(R"("type=bind,target=/c)")),
            "parse error on line 1: extraneous or missing \" in quoted-field");
}

TEST(MountFlag, Errors) {
  EXPECT_EQ(error_of(parse_mount_flag("type=bind,source=/h")), "target is required");
  EXPECT_EQ(error_of(parse_mount_flag("foo=1,target=/c")), "unexpected key 'foo' in 'foo=1'");
  EXPECT_EQ(error_of(parse_mount_flag("target=/c,bogus")), "invalid field 'bogus' must be a key=value pair");
  EXPECT_EQ(error_of(parse_mount_flag("target=/c,readonly=maybe")), "invalid value for readonly: maybe");
  EXPECT_EQ(error_of(parse_mount_flag("type=tmpfs,target=/c,tmpfs-size=lots")), "invalid value for tmpfs-size: lots");
  EXPECT_EQ(error_of(parse_mount_flag("type=tmpfs,target=/c,tmpfs-mode=999")), "invalid value for tmpfs-mode: 999");
  EXPECT_EQ(error_of(parse_mount_flag("type=bind,source=/h,target=/c,volume-nocopy")),
            "cannot mix 'volume-*' options with mount type 'bind'");
  EXPECT_EQ(error_of(parse_mount_flag("type=volume,target=/c,bind-propagation=rslave")),
            "cannot mix 'bind-*' options with mount type 'volume'");
  EXPECT_EQ(error_of(parse_mount_flag("type=bind,source=/h,target=/c,tmpfs-size=1m")),
            "cannot mix 'tmpfs-*' options with mount type 'bind'");
}

TEST(VolumeFlags, BindsAnonymousAndRelativeSources) {
  VolumeFlags v = split_volume_flags({"/h:/c:ro", "name:/d", "/anon", "./rel:/r", "../up/x:/u", ".:/dot"}, "/work/dir");
  EXPECT_EQ(v.binds, (std::vector<std::string>{"/h:/c:ro", "name:/d", "/work/dir/rel:/r", "/work/up/x:/u", "/work/dir:/dot"}));
  EXPECT_EQ(v.anonymous, std::vector<std::string>{"/anon"});
}

TEST(TmpfsFlag, TargetAndOptions) {
  EXPECT_EQ(parse_tmpfs_flag("/run"), (std::pair<std::string, std::string>{"/run", ""}));
  EXPECT_EQ(parse_tmpfs_flag("/run:size=1m,exec"), (std::pair<std::string, std::string>{"/run", "size=1m,exec"}));
}

TEST(ApplyMountFlags, FillsOnlyWhatWasGiven) {
  json cfg = json::object(), host = json::object();
  ASSERT_TRUE(apply_mount_flags({}, cfg, host));
  EXPECT_TRUE(cfg.empty());
  EXPECT_TRUE(host.empty());
  MountFlags f;
  f.volumes = {"/h:/c", "/anon"};
  f.mounts = {"type=tmpfs,target=/t"};
  f.tmpfs = {"/run:size=1m"};
  f.read_only = true;
  ASSERT_TRUE(apply_mount_flags(f, cfg, host));
  EXPECT_EQ(host["Binds"], json::array({"/h:/c"}));
  EXPECT_EQ(cfg["Volumes"], json::parse(R"({"/anon":{}})"));
  EXPECT_EQ(host["Mounts"][0]["Type"], "tmpfs");
  EXPECT_EQ(host["Tmpfs"], json::parse(R"({"/run":"size=1m"})"));
  EXPECT_EQ(host["ReadonlyRootfs"], true);
  f.mounts = {"nope"};
  auto bad = apply_mount_flags(f, cfg, host);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "invalid argument \"nope\" for \"--mount\" flag: invalid field 'nope' must be a key=value pair");
}

}  // namespace
}  // namespace berth::ctl
