// berthctl's registry pieces: the progress display (as the docker CLI draws
// a pull) and the credentials file.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "tools/berthctl/auth_file.h"
#include "tools/berthctl/progress.h"

namespace berth::ctl {
namespace {

std::string feed_all(ProgressDisplay& d, const std::vector<std::string>& lines, std::string* error) {
  std::string out;
  for (const auto& l : lines) out += d.feed(l, error);
  return out;
}

const std::vector<std::string> kPull = {
    R"({"status":"Pulling from library/busybox","id":"latest"})",
    R"({"status":"Pulling fs layer","progressDetail":{},"id":"aaaaaaaaaaaa"})",
    R"({"status":"Pulling fs layer","progressDetail":{},"id":"bbbbbbbbbbbb"})",
    R"({"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"x","id":"aaaaaaaaaaaa"})",
    R"({"status":"Pull complete","progressDetail":{},"id":"aaaaaaaaaaaa"})",
    R"({"status":"Pull complete","progressDetail":{},"id":"bbbbbbbbbbbb"})",
    R"({"status":"Digest: sha256:abc"})",
    R"({"status":"Status: Downloaded newer image for busybox:latest"})",
};

TEST(ProgressDisplay, PlainLinesWithoutATerminal) {
  ProgressDisplay d(false, 80);
  std::string error;
  EXPECT_EQ(feed_all(d, kPull, &error),
            "latest: Pulling from library/busybox\n"
            "aaaaaaaaaaaa: Pulling fs layer\n"
            "bbbbbbbbbbbb: Pulling fs layer\n"
            "aaaaaaaaaaaa: Pull complete\n"
            "bbbbbbbbbbbb: Pull complete\n"
            "Digest: sha256:abc\n"
            "Status: Downloaded newer image for busybox:latest\n");
  EXPECT_EQ(error, "");
}

TEST(ProgressDisplay, OneLinePerLayerRedrawnOnATerminal) {
  ProgressDisplay d(true, 200);
  std::string error;
  std::string out = feed_all(d, kPull, &error);
  // A new layer takes a new line ("\n", up 1, clear, write, down 1); an
  // update of the first of two layers goes up 2 and comes back down 2.
  EXPECT_NE(out.find("\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Pulling fs layer \r\x1b[1B"), std::string::npos) << out;
  EXPECT_NE(out.find("\x1b[2A\x1b[2K\raaaaaaaaaaaa: Downloading [=========================>"), std::string::npos) << out;
  EXPECT_NE(out.find("1B/2B\r\x1b[2B"), std::string::npos) << out;
  EXPECT_NE(out.find("Status: Downloaded newer image for busybox:latest\n"), std::string::npos);
}

TEST(ProgressDisplay, NarrowTerminalHasNoBar) {
  ProgressDisplay d(true, 80);
  std::string error;
  std::string out = feed_all(d, kPull, &error);
  EXPECT_EQ(out.find("[="), std::string::npos);
  EXPECT_NE(out.find("Downloading       1B/2B"), std::string::npos) << out;
}

TEST(ProgressDisplay, ErrorLineAndAux) {
  ProgressDisplay d(false, 80);
  std::string error;
  EXPECT_EQ(d.feed(R"({"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:x","Size":1}})", &error), "");
  EXPECT_EQ(d.feed(R"({"errorDetail":{"message":"digest mismatch"},"error":"digest mismatch"})", &error), "");
  EXPECT_EQ(error, "digest mismatch");
}

TEST(AuthFile, KeysLikeTheDockerCli) {
  EXPECT_EQ(auth_key(""), "https://index.docker.io/v1/");
  EXPECT_EQ(auth_key("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(auth_key("https://index.docker.io/v1/"), "https://index.docker.io/v1/");
  EXPECT_EQ(auth_key("localhost:5000"), "localhost:5000");
  EXPECT_EQ(auth_key("https://localhost:5000/"), "localhost:5000");
  EXPECT_EQ(registry_of("busybox"), "docker.io");
  EXPECT_EQ(registry_of("library/busybox"), "docker.io");
  EXPECT_EQ(registry_of("localhost:5000/x/y"), "localhost:5000");
  EXPECT_EQ(registry_of("localhost/x"), "localhost");
  EXPECT_EQ(registry_of("reg.example.com/x"), "reg.example.com");
}

TEST(AuthFile, StoreLoadRemoveWithMode0600) {
  char tmpl[] = "/tmp/berth-auth-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/sub/auth.json";
  bool existed = true;
  ASSERT_TRUE(store_auth(path, "localhost:5000", {"alice", "s3:cret", ""}, &existed).has_value());
  EXPECT_FALSE(existed);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(store_auth(path, "other:1", {"bob", "", "tok"}, &existed).has_value());
  auto a = load_auth(path, "localhost:5000");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->username, "alice");
  EXPECT_EQ(a->password, "s3:cret");
  auto b = load_auth(path, "other:1");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->identity_token, "tok");
  ASSERT_TRUE(store_auth(path, "localhost:5000", {}, &existed).has_value());
  EXPECT_TRUE(existed);
  EXPECT_TRUE(load_auth(path, "localhost:5000")->empty());
  EXPECT_TRUE(load_auth(dir + "/missing.json", "x")->empty());
  ASSERT_TRUE(write_file_atomic(dir + "/bad.json", "{nope").has_value());
  EXPECT_FALSE(load_auth(dir + "/bad.json", "x").has_value());
  (void)remove_tree(dir);
}

TEST(AuthFile, RegistryAuthHeaderIsBase64UrlJson) {
  std::string h = registry_auth_header({"u", "p?>", ""}, "localhost:5000");
  EXPECT_EQ(h.find('+'), std::string::npos);
  EXPECT_EQ(h.find('/'), std::string::npos);
  // {"password":"p?>","serveraddress":"localhost:5000","username":"u"}
  EXPECT_EQ(h, "eyJwYXNzd29yZCI6InA_PiIsInNlcnZlcmFkZHJlc3MiOiJsb2NhbGhvc3Q6NTAwMCIsInVzZXJuYW1lIjoidSJ9");
}

}  // namespace
}  // namespace berth::ctl
