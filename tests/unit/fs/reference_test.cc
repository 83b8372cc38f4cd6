#include "fs/reference.h"

#include <gtest/gtest.h>

namespace berth::fs {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Valid {
  std::string in, domain, path, tag, digest, familiar;
};

TEST(FsReference, ValidReferences) {
  const std::vector<Valid> cases = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "busybox:1.36"},
      {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "", "busybox:latest"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "busybox:latest"},
      {"index.docker.io/foo/bar:v1", "docker.io", "foo/bar", "v1", "", "foo/bar:v1"},
      {"docker.io/foo/bar", "docker.io", "foo/bar", "latest", "", "foo/bar:latest"},
      {"foo/bar", "docker.io", "foo/bar", "latest", "", "foo/bar:latest"},
      {"foo/bar/baz", "docker.io", "foo/bar/baz", "latest", "", "foo/bar/baz:latest"},
      {"localhost:5000/x/y:t", "localhost:5000", "x/y", "t", "", "localhost:5000/x/y:t"},
      {"localhost:5000/x/y", "localhost:5000", "x/y", "latest", "", "localhost:5000/x/y:latest"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      // No slash: "localhost" is the repository and "5000" its tag, as in Docker.
      {"localhost:5000", "docker.io", "library/localhost", "5000", "", "localhost:5000"},
      {"quay.io/coreos/etcd:v3.5.0", "quay.io", "coreos/etcd", "v3.5.0", "", "quay.io/coreos/etcd:v3.5.0"},
      {"[::1]:5000/foo", "[::1]:5000", "foo", "latest", "", "[::1]:5000/foo:latest"},
      {"my-reg.example:443/a_b/c__d/e-f--g.h:Tag_1.0-x", "my-reg.example:443", "a_b/c__d/e-f--g.h",
       "Tag_1.0-x", "", "my-reg.example:443/a_b/c__d/e-f--g.h:Tag_1.0-x"},
      {"busybox@sha256:" + kHex, "docker.io", "library/busybox", "", "sha256:" + kHex,
       "busybox@sha256:" + kHex},
      {"busybox:1.36@sha256:" + kHex, "docker.io", "library/busybox", "1.36", "sha256:" + kHex,
       "busybox:1.36@sha256:" + kHex},
      {"a:" + std::string(128, 'x'), "docker.io", "library/a", std::string(128, 'x'), "",
       "a:" + std::string(128, 'x')},
      // A Hub path whose first component reads as a domain keeps docker.io
      // in its familiar form (found by the reference fuzzer).
      {"docker.io/a.b/c", "docker.io", "a.b/c", "latest", "", "docker.io/a.b/c:latest"},
  };
  for (const Valid& c : cases) {
    SCOPED_TRACE(c.in);
    auto r = parse_reference(c.in);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->digest, c.digest);
    EXPECT_EQ(r->familiar_string(), c.familiar);
    // The familiar form parses back to the same reference.
    auto again = parse_reference(r->familiar_string());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *r);
  }
}

TEST(FsReference, FullAndFamiliarNames) {
  auto r = parse_reference("busybox");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name(), "docker.io/library/busybox");
  EXPECT_EQ(r->string(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r->familiar_name(), "busybox");
  auto deep = parse_reference("docker.io/library/a/b");  // only one component drops "library/"
  ASSERT_TRUE(deep.has_value());
  EXPECT_EQ(deep->familiar_name(), "library/a/b");
}

struct Invalid {
  std::string in, message;
};

TEST(FsReference, InvalidReferences) {
  const std::vector<Invalid> cases = {
      {"", "invalid reference format"},
      {"Busybox", "invalid reference format: repository name must be lowercase"},
      {"docker.io/Foo/bar", "invalid reference format: repository name must be lowercase"},
      {"foo/Bar:1", "invalid reference format: repository name must be lowercase"},
      {"busybox:", "invalid reference format"},
      {"busybox:-x", "invalid reference format"},
      {"busybox:" + std::string(129, 'x'), "invalid reference format"},
      {"busybox:a b", "invalid reference format"},
      {"foo//bar", "invalid reference format"},
      {"/foo", "invalid reference format"},
      {"foo/", "invalid reference format"},
      {"-foo", "invalid reference format"},
      {"foo-", "invalid reference format"},
      {"foo___bar", "invalid reference format"},
      {"foo..bar", "invalid reference format"},
      {"foo bar", "invalid reference format"},
      {"ex_ample.com/foo", "invalid reference format"},
      {"example.com:port/foo", "invalid reference format"},
      {"-bad.example/foo", "invalid reference format"},
      {"busybox@sha256:abc", "invalid checksum digest format"},
      {"busybox@md5:" + kHex, "unsupported digest algorithm"},
      {"busybox@", "invalid reference format"},
      {kHex, "invalid repository name (" + kHex + "), cannot specify 64-byte hexadecimal strings"},
      {std::string(256, 'a'), "invalid reference format: repository name must not be more than 255 characters"},
  };
  for (const Invalid& c : cases) {
    SCOPED_TRACE(c.in);
    auto r = parse_reference(c.in);
    ASSERT_FALSE(r.has_value()) << r->string();
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.error().message(), c.message);
  }
}

TEST(FsReference, TagReferenceRefusesDigest) {
  EXPECT_TRUE(parse_tag_reference("foo:1").has_value());
  auto r = parse_tag_reference("foo@sha256:" + kHex);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("digest"), std::string::npos);
}

}  // namespace
}  // namespace berth::fs
