#include "fs/image_config.h"

#include <gtest/gtest.h>

#include "fs/digest.h"

namespace berth::fs {
namespace {

const std::string kDiff = sha256_digest("layer");

// Shaped like a config Docker writes: nulls for empty fields, extra keys.
const char* kDockerConfig = R"({
  "architecture": "amd64", "os": "linux",
  "created": "2023-07-18T23:19:33.655005962Z",
  "docker_version": "20.10.23",
  "config": {"Hostname": "", "Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"], "Entrypoint": null,
             "WorkingDir": "/w", "User": "1000:1000", "Labels": {"a": "b"}, "OnBuild": null,
             "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "StopSignal": "SIGQUIT"},
  "rootfs": {"type": "layers", "diff_ids": ["DIFF"]},
  "history": [{"created": "2023-07-18T23:19:33Z", "created_by": "/bin/sh -c #(nop) ADD file:x in / "},
              {"created": "2023-07-18T23:19:33Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]",
               "empty_layer": true}]
})";

TEST(FsImageConfig, ParsesDockerConfig) {
  std::string text = kDockerConfig;
  text.replace(text.find("DIFF"), 4, kDiff);
  auto doc = parse_image_config(text);
  ASSERT_TRUE(doc.has_value()) << doc.error().message();
  EXPECT_EQ(doc->architecture, "amd64");
  EXPECT_EQ(doc->os, "linux");
  EXPECT_EQ(doc->created_ns, 1689722373655005962);
  EXPECT_EQ(doc->config.env, std::vector<std::string>{"PATH=/usr/bin:/bin"});
  EXPECT_EQ(doc->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_TRUE(doc->config.entrypoint.empty());
  EXPECT_EQ(doc->config.working_dir, "/w");
  EXPECT_EQ(doc->config.user, "1000:1000");
  EXPECT_EQ(doc->config.stop_signal, "SIGQUIT");
  EXPECT_EQ(doc->config.labels.at("a"), "b");
  EXPECT_EQ(doc->config.exposed_ports, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(doc->diff_ids, std::vector<std::string>{kDiff});
  ASSERT_EQ(doc->history_created_by.size(), 2u);
  EXPECT_EQ(doc->history_created_by[1], "/bin/sh -c #(nop)  CMD [\"sh\"]");
}

TEST(FsImageConfig, RoundTrips) {
  ImageConfigDoc doc;
  doc.architecture = "arm64";
  doc.os = "linux";
  doc.comment = "Imported from -";
  doc.created_ns = 1700000000123456789;
  doc.config.env = {"A=1", "B=2"};
  doc.config.entrypoint = {"/bin/sh", "-c"};
  doc.config.cmd = {"echo hi"};
  doc.config.labels = {{"k", "v"}};
  doc.config.exposed_ports = {"8080/tcp"};
  doc.config.volumes = {"/cache", "/data"};
  doc.diff_ids = {kDiff};
  auto back = parse_image_config(make_image_config(doc));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->config, doc.config);
  EXPECT_EQ(back->architecture, "arm64");
  EXPECT_EQ(back->comment, doc.comment);
  EXPECT_EQ(back->created_ns, doc.created_ns);
  EXPECT_EQ(back->diff_ids, doc.diff_ids);
  EXPECT_EQ(back->history_created_by.size(), 1u);
}

// VOLUME entries: parsed sorted, kept by a commit merge as a union.
TEST(FsImageConfig, Volumes) {
  auto doc = parse_image_config(R"({"config":{"Volumes":{"/data":{},"/cache":{}}},"rootfs":{"diff_ids":[]}})");
  ASSERT_TRUE(doc.has_value()) << doc.error().message();
  EXPECT_EQ(doc->config.volumes, (std::vector<std::string>{"/cache", "/data"}));
  auto none = parse_image_config(R"({"config":{},"rootfs":{"diff_ids":[]}})");
  ASSERT_TRUE(none.has_value()) << none.error().message();
  EXPECT_TRUE(none->config.volumes.empty());
  EXPECT_FALSE(parse_image_config(R"({"config":{"Volumes":["/data"]}})").has_value());
  ImageConfig user, base;
  user.volumes = {"/z"};
  base.volumes = {"/a", "/z"};
  EXPECT_EQ(merge_image_config(user, base).volumes, (std::vector<std::string>{"/a", "/z"}));
}

TEST(FsImageConfig, RejectsMalformed) {
  for (const char* bad : {"", "[]", "{", R"({"config": {"Cmd": "sh"}})", R"({"config": 3})",
                          R"({"rootfs": {"diff_ids": ["sha256:nothex"]}})", R"({"created": "yesterday"})"}) {
    SCOPED_TRACE(bad);
    auto r = parse_image_config(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.error().message().rfind("parse image config", 0), 0u) << r.error().message();
  }
}

TEST(FsImageConfig, ManifestRoundTrips) {
  Manifest m;
  m.config = {std::string(kMediaTypeConfig), sha256_digest("c"), 12};
  m.layers = {{"application/vnd.oci.image.layer.v1.tar+gzip", kDiff, 3456}};
  auto back = parse_manifest(make_manifest(m));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->config.digest, m.config.digest);
  EXPECT_EQ(back->config.size, 12);
  ASSERT_EQ(back->layers.size(), 1u);
  EXPECT_EQ(back->layers[0].media_type, m.layers[0].media_type);
  EXPECT_EQ(back->layers[0].size, 3456);
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion": 1})").has_value());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion": 2, "config": {"digest": "x", "size": 1}, "layers": []})")
                   .has_value());
}

TEST(FsImageConfig, Rfc3339) {
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T00:00:01.5Z"), 1500000000);
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T02:00:00+02:00"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("0001-01-01T00:00:00Z"), 0);  // Go's zero time
  EXPECT_EQ(*parse_rfc3339_ns("2023-07-18T23:19:33.655005962Z"), 1689722373655005962);
  for (const char* bad : {"", "2023-07-18", "2023-07-18T23:19:33", "2023-13-18T23:19:33Z", "2023-07-18T23:19:33Zx",
                          "9999-01-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339_ns(bad).has_value()) << bad;
}

TEST(FsImageConfig, HostArchitectureIsGoName) {
  std::string arch = host_architecture();
  EXPECT_FALSE(arch.empty());
  EXPECT_EQ(arch.find("x86"), std::string::npos);
}

}  // namespace
}  // namespace berth::fs
