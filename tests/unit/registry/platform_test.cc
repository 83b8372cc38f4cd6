#include "fs/registry/platform.h"

#include <gtest/gtest.h>

namespace berth::fs::registry {
namespace {

std::vector<IndexEntry> entries(std::vector<Platform> ps) {
  std::vector<IndexEntry> out;
  for (size_t i = 0; i < ps.size(); i++) out.push_back(IndexEntry{"m", "sha256:" + std::string(64, char('a' + i)), 1, ps[i]});
  return out;
}

TEST(RegistryPlatform, Parses) {
  EXPECT_EQ(*parse_platform("linux/arm64/v8"), (Platform{"linux", "arm64", ""}));
  EXPECT_EQ(*parse_platform("linux/amd64"), (Platform{"linux", "amd64", ""}));
  EXPECT_EQ(*parse_platform("linux/arm"), (Platform{"linux", "arm", "v7"}));
  EXPECT_EQ(*parse_platform("linux/arm/v6"), (Platform{"linux", "arm", "v6"}));
  EXPECT_EQ(*parse_platform("arm64"), (Platform{"linux", "arm64", ""}));
  EXPECT_EQ(*parse_platform("Linux/x86_64"), (Platform{"linux", "amd64", ""}));
  for (const char* bad : {"", "linux/", "/amd64", "a/b/c/d", "linux"}) {
    auto r = parse_platform(bad);
    EXPECT_FALSE(r.has_value()) << bad;
  }
}

TEST(RegistryPlatform, HostIsLinux) {
  Platform h = host_platform();
  EXPECT_EQ(h.os, "linux");
  EXPECT_FALSE(h.architecture.empty());
}

TEST(RegistryPlatform, SelectsExactAndNormalised) {
  auto es = entries({{"linux", "arm", "v7"}, {"linux", "amd64", ""}, {"linux", "arm64", "v8"}, {"unknown", "unknown", ""}});
  EXPECT_EQ(*select_manifest(es, {"linux", "amd64", ""}), 1u);
  EXPECT_EQ(*select_manifest(es, *parse_platform("linux/arm64/v8")), 2u);
  EXPECT_EQ(*select_manifest(es, *parse_platform("linux/arm64")), 2u);
  EXPECT_EQ(*select_manifest(es, *parse_platform("linux/arm")), 0u);
}

TEST(RegistryPlatform, ArmV7RunsV6WhenNoV7) {
  auto es = entries({{"linux", "arm", "v5"}, {"linux", "arm", "v6"}});
  EXPECT_EQ(*select_manifest(es, *parse_platform("linux/arm/v7")), 1u);
  auto none = select_manifest(es, *parse_platform("linux/arm/v5"));
  EXPECT_EQ(*none, 0u);
}

TEST(RegistryPlatform, AmdVariantIgnoredUnlessAsked) {
  auto es = entries({{"linux", "amd64", "v3"}});
  EXPECT_EQ(*select_manifest(es, {"linux", "amd64", ""}), 0u);
}

TEST(RegistryPlatform, NoMatchIsDockersMessage) {
  auto es = entries({{"linux", "arm64", ""}, {"", "", ""}});
  auto r = select_manifest(es, {"linux", "amd64", ""});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().message(), "no matching manifest for linux/amd64 in the manifest list entries");
}

}  // namespace
}  // namespace berth::fs::registry
