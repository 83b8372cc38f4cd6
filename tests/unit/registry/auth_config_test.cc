#include "fs/registry/auth_config.h"

#include <gtest/gtest.h>

namespace berth::fs::registry {
namespace {

TEST(RegistryAuth, DecodesDockerCliHeader) {
  // What the docker CLI sends: base64url of the JSON AuthConfig, padded.
  std::string json = R"({"username":"ann","password":"s3cr?t>","serveraddress":"localhost:5000"})";
  auto c = decode_registry_auth(base64_encode(json, true));
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->username, "ann");
  EXPECT_EQ(c->password, "s3cr?t>");
  EXPECT_EQ(c->server_address, "localhost:5000");
  EXPECT_TRUE(c->identity_token.empty());
}

TEST(RegistryAuth, AcceptsStandardAlphabetAndNoPadding) {
  std::string json = R"({"identitytoken":"tok~en?","registrytoken":"rt"})";
  std::string std_b64 = base64_encode(json);
  while (!std_b64.empty() && std_b64.back() == '=') std_b64.pop_back();
  auto c = decode_registry_auth(std_b64);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->identity_token, "tok~en?");
  EXPECT_EQ(c->registry_token, "rt");
}

TEST(RegistryAuth, EmptyAndEmptyObjectAreAnonymous) {
  for (std::string h : {std::string(), base64_encode("{}", true), base64_encode("null", true)}) {
    auto c = decode_registry_auth(h);
    ASSERT_TRUE(c.has_value()) << h;
    EXPECT_TRUE(c->empty());
  }
}

TEST(RegistryAuth, AuthFieldGivesUserAndPassword) {
  auto c = parse_auth_config_json(R"({"auth":")" + base64_encode("bob:pa:ss") + R"("})");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "bob");
  EXPECT_EQ(c->password, "pa:ss");
}

TEST(RegistryAuth, RejectsGarbage) {
  auto bad_b64 = decode_registry_auth("!!!not base64");
  ASSERT_FALSE(bad_b64.has_value());
  EXPECT_EQ(bad_b64.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_b64.error().message().find("invalid X-Registry-Auth header"), std::string::npos);
  auto bad_json = decode_registry_auth(base64_encode("{not json", true));
  ASSERT_FALSE(bad_json.has_value());
  EXPECT_EQ(bad_json.error().code(), Code::kInvalidArgument);
}

TEST(RegistryAuth, RoundTrip) {
  Credentials c{"u", "p", "reg:1", "", ""};
  auto back = decode_registry_auth(encode_registry_auth(c));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->username, "u");
  EXPECT_EQ(back->password, "p");
  EXPECT_EQ(back->server_address, "reg:1");
}

TEST(RegistryAuth, Base64Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("\xfb\xff", true), "-_8=");
  EXPECT_EQ(*base64_decode("Zm9vYg"), "foob");
  EXPECT_EQ(*base64_decode("-_8="), "\xfb\xff");
}

TEST(RegistryChallenge, ParsesBearer) {
  auto cs = parse_challenges({R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")"});
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(cs[0].params["service"], "registry.docker.io");
  EXPECT_EQ(cs[0].params["scope"], "repository:library/busybox:pull");
}

TEST(RegistryChallenge, ParsesSeveralAndQuotedEscapes) {
  auto cs = parse_challenges({R"(Basic realm="basic-realm", Bearer Realm="a\"b",error="invalid_token")", "Basic"});
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].params["realm"], "basic-realm");
  EXPECT_EQ(cs[1].scheme, "bearer");
  EXPECT_EQ(cs[1].params["realm"], "a\"b");
  EXPECT_EQ(cs[1].params["error"], "invalid_token");
  EXPECT_EQ(cs[2].scheme, "basic");
}

}  // namespace
}  // namespace berth::fs::registry
