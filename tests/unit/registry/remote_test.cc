#include "fs/registry/remote.h"

#include <gtest/gtest.h>

#include "fs/registry/manifest.h"

namespace berth::fs::registry {
namespace {

TEST(RegistryRemote, DockerHubGoesToRegistry1AfterMirrors) {
  RegistryOptions o;
  o.mirrors = {"https://mirror.example.com/", "http://10.1.2.3:5001"};
  auto r = resolve_remote("busybox", o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->registry, "docker.io");
  EXPECT_EQ(r->repository, "library/busybox");
  EXPECT_EQ(r->tag, "latest");
  ASSERT_EQ(r->endpoints.size(), 3u);
  EXPECT_EQ(r->endpoints[0].url, "https://mirror.example.com");
  EXPECT_TRUE(r->endpoints[0].mirror);
  EXPECT_EQ(r->endpoints[1].url, "http://10.1.2.3:5001");
  EXPECT_EQ(r->endpoints[2].url, "https://registry-1.docker.io");
  EXPECT_TRUE(r->endpoints[2].tls_verify);
  EXPECT_FALSE(r->endpoints[2].allow_http_fallback);
}

TEST(RegistryRemote, LocalhostMayFallBackToHttpButStaysVerified) {
  auto r = resolve_remote("localhost:5000/x/y@sha256:" + std::string(64, 'a'), RegistryOptions{});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->registry, "localhost:5000");
  EXPECT_EQ(r->repository, "x/y");
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, "sha256:" + std::string(64, 'a'));
  ASSERT_EQ(r->endpoints.size(), 1u);
  EXPECT_EQ(r->endpoints[0].url, "https://localhost:5000");
  EXPECT_EQ(r->endpoints[0].host, "localhost:5000");
  EXPECT_TRUE(r->endpoints[0].tls_verify);
  EXPECT_TRUE(r->endpoints[0].allow_http_fallback);
  EXPECT_TRUE(resolve_remote("127.0.0.1:5000/x", {})->endpoints[0].allow_http_fallback);
  EXPECT_FALSE(resolve_remote("reg.example:5000/x", {})->endpoints[0].allow_http_fallback);
}

TEST(RegistryRemote, InsecureRegistries) {
  RegistryOptions o;
  o.insecure = {"reg.example:5000", "10.0.0.0/8", "plainhost"};
  auto a = resolve_remote("reg.example:5000/x", o);
  EXPECT_FALSE(a->endpoints[0].tls_verify);
  EXPECT_TRUE(a->endpoints[0].allow_http_fallback);
  EXPECT_FALSE(resolve_remote("10.9.8.7:443/x", o)->endpoints[0].tls_verify);
  EXPECT_FALSE(resolve_remote("plainhost:81/x", o)->endpoints[0].tls_verify);
  EXPECT_TRUE(resolve_remote("11.0.0.1/x", o)->endpoints[0].tls_verify);
}

TEST(RegistryRemote, NormalizesServerAddresses) {
  EXPECT_EQ(normalize_registry(""), "docker.io");
  EXPECT_EQ(normalize_registry("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(normalize_registry("http://localhost:5000/"), "localhost:5000");
  EXPECT_EQ(normalize_registry("localhost:5000"), "localhost:5000");
}

TEST(RegistryRemote, BadReferenceIsDockersMessage) {
  auto r = resolve_remote("Busybox", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "invalid reference format: repository name must be lowercase");
}

TEST(RegistryManifest, TellsIndexFromManifest) {
  std::string idx = R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "digest":"sha256:)" + std::string(64, 'b') + R"(","size":12,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})";
  auto f = parse_fetched_manifest(idx, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_TRUE(f->is_index);
  ASSERT_EQ(f->entries.size(), 1u);
  EXPECT_EQ(f->entries[0].platform.architecture, "arm64");
  EXPECT_EQ(f->entries[0].size, 12);

  std::string man = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" + std::string(64, 'c') +
                    R"(","size":3},"layers":[]})";
  auto m = parse_fetched_manifest(man, "application/json");  // type from the document
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->media_type, kMediaDockerManifest);
  EXPECT_EQ(manifest_media_type(man), kMediaDockerManifest);
}

TEST(RegistryManifest, RefusesSchema1) {
  auto f = parse_fetched_manifest(R"({"schemaVersion":1,"name":"x"})",
                                  "application/vnd.docker.distribution.manifest.v1+prettyjws");
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code(), Code::kNotSupported);
}

}  // namespace
}  // namespace berth::fs::registry
