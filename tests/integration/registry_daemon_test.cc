// Pull, push and login through berthd (the API and berthctl), against a
// real docker-registry serving in berthd's own network namespace (the
// TestDaemon's; nothing reaches the host's). Raw registry pushes of
// hand-made images run on a thread that enters that namespace.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "tools/testkit/daemon.h"
#include "tools/testkit/registry/registry.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// Runs `fn` on a thread inside the network namespace `netns` (a thread's
// namespace is its own: the test's other threads stay where they are).
template <class F>
void in_netns(const std::string& netns, F fn) {
  std::thread t([&] {
    int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << netns;
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0) << std::strerror(errno);
    ::close(fd);
    fn();
  });
  t.join();
}

// The image store's blobs, scratch files and layer directories.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const char* sub : {"/blobs/sha256", "/ingest", "/layers"}) {
    DIR* d = ::opendir((dir + sub).c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d))
      if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") out.push_back(std::string(sub) + "/" + e->d_name);
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = gen();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

class RegistryDaemon : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || !path_exists("/usr/bin/docker-registry")) return;
    certs_ = std::make_unique<TempDir>();
    config_ = std::make_unique<TempDir>();
    daemon_ = std::make_unique<TestDaemon>();
    daemon_->set_extra_args({"--registry-certs-dir=" + certs_->path(), "--warm-inits=0", "--netns-pool=0"});
    std::string err;
    if (!daemon_->start(&err) || !daemon_->import_busybox(&err)) {
      error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0) << daemon_->log();
    }
    daemon_.reset();
  }
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    if (!path_exists("/usr/bin/docker-registry")) GTEST_SKIP() << "docker-registry not installed (tools/setup)";
    ASSERT_TRUE(daemon_) << error_;
  }
  void TearDown() override {
    regs_.clear();
    (void)remove_tree(config_->path() + "/auth.json");
  }

  static std::string netns_of(const TestDaemon& d) { return "/proc/" + std::to_string(d.pid()) + "/ns/net"; }
  TestRegistry& start_registry(TestRegistry::Options o = {}, TestDaemon* d = nullptr) {
    o.netns = netns_of(d ? *d : *daemon_);
    regs_.push_back(std::make_unique<TestRegistry>(o));
    std::string err;
    EXPECT_TRUE(regs_.back()->start(&err)) << err;
    return *regs_.back();
  }
  CommandResult ctl(std::vector<std::string> args, const std::string& input = "", TestDaemon* d = nullptr) {
    args.insert(args.begin(), {bin_path("berthctl"), "-H", (d ? *d : *daemon_).host()});
    return run_command(args, input, {"BERTH_CONFIG=" + config_->path()});
  }
  ipc::Response api(const std::string& method, const std::string& path, const std::string& body = "") {
    auto c = daemon_->client();
    auto r = c.request(method, path, body);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
    return r ? *r : ipc::Response{};
  }
  Json image(const std::string& ref) {
    auto r = api("GET", "/images/" + ref + "/json");
    return r.status == 200 ? Json::parse(r.body) : Json();
  }
  // A hand-made image pushed straight to the registry: `layers` plain
  // layers with one file each.
  std::string push_raw(TestRegistry& reg, const std::string& repo, const std::string& tag,
                       const std::vector<std::string>& contents, const std::string& arch = "amd64",
                       Blob* manifest_out = nullptr, std::vector<Blob>* layers_out = nullptr) {
    std::vector<Blob> layers;
    std::vector<std::string> diff_ids;
    for (size_t i = 0; i < contents.size(); i++) {
      std::string diff;
      layers.push_back(make_layer({{"f" + std::to_string(i), contents[i]}}, fs::Compression::kNone, &diff));
      diff_ids.push_back(diff);
    }
    Blob manifest;
    std::string config, err;
    bool ok = false;
    in_netns(netns_of(*daemon_), [&] {
      ok = push_image(reg.url(), repo, tag, layers, diff_ids, arch, &manifest, &config, &err);
    });
    EXPECT_TRUE(ok) << err;
    if (manifest_out) *manifest_out = manifest;
    if (layers_out) *layers_out = layers;
    return config;
  }
  // Waits (bounded by attempts) for a line of the daemon's log holding
  // both texts.
  bool log_has(TestDaemon& d, const std::string& a, const std::string& b) {
    for (int i = 0; i < 12000; i++) {  // a hang guard of 2 minutes, not a timing
      for (const std::string& line : split(d.log(), '\n'))
        if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
      ::usleep(10000);
    }
    return false;
  }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::unique_ptr<TempDir> certs_, config_;
  static inline std::string error_;
  std::vector<std::unique_ptr<TestRegistry>> regs_;
};

// Push an image, remove it, pull it back: the same image ID, its
// RepoDigest, Docker's progress lines, and it runs.
TEST_F(RegistryDaemon, PushRemovePullGivesSameImageAndRuns) {
  TestRegistry& reg = start_registry();
  std::string ref = reg.host() + "/bb:v1";
  ASSERT_EQ(ctl({"run", "--name", "mk", "busybox", "sh", "-c", "echo unique > /u"}).exit_code, 0);
  ASSERT_EQ(ctl({"commit", "mk", ref}).exit_code, 0);
  ASSERT_EQ(ctl({"rm", "mk"}).exit_code, 0);
  std::string id = image(ref)["Id"];
  int64_t since = now_ns() / 1000000000 - 1;

  auto push = ctl({"push", ref});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_THAT(push.out, HasSubstr("The push refers to repository [" + reg.host() + "/bb]"));
  EXPECT_THAT(push.out, HasSubstr(": Pushed\n"));
  EXPECT_THAT(push.out, HasSubstr("v1: digest: sha256:"));
  std::string digest = push.out.substr(push.out.find("digest: ") + 8, 71);
  EXPECT_EQ(image(ref)["RepoDigests"], Json::array({reg.host() + "/bb@" + digest}));

  ASSERT_EQ(ctl({"rmi", ref}).exit_code, 0);
  EXPECT_EQ(api("GET", "/images/" + ref + "/json").status, 404);
  auto pull = ctl({"pull", ref});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_THAT(pull.out, HasSubstr("v1: Pulling from bb\n"));
  EXPECT_THAT(pull.out, HasSubstr(": Already exists\n"));  // busybox's own layer
  EXPECT_THAT(pull.out, HasSubstr(": Pull complete\n"));
  EXPECT_THAT(pull.out, HasSubstr("Digest: " + digest + "\n"));
  EXPECT_THAT(pull.out, HasSubstr("Status: Downloaded newer image for " + ref + "\n"));
  EXPECT_TRUE(pull.out.ends_with("\n" + ref + "\n")) << pull.out;
  EXPECT_THAT(pull.out, Not(HasSubstr("Downloading")));  // byte counts only on a terminal
  EXPECT_EQ(image(ref)["Id"], id);
  EXPECT_EQ(image(ref)["RepoDigests"], Json::array({reg.host() + "/bb@" + digest}));
  auto digests = ctl({"images", "--digests"});
  EXPECT_THAT(digests.out, HasSubstr(digest)) << digests.out;

  auto again = ctl({"pull", ref});
  EXPECT_THAT(again.out, HasSubstr("Status: Image is up to date for " + ref + "\n"));
  auto by_digest = ctl({"pull", reg.host() + "/bb@" + digest});
  ASSERT_EQ(by_digest.exit_code, 0) << by_digest.err;
  EXPECT_THAT(by_digest.out, HasSubstr("Digest: " + digest));

  auto run = ctl({"run", "--rm", ref, "cat", "/u"});
  EXPECT_EQ(run.out, "unique\n") << run.err;

  // Docker's image events: push and pull, named by the reference.
  auto ev = api("GET", fmt::format("/events?since={}&until={}", since, now_ns() / 1000000000 + 1));
  std::string actions;
  for (const std::string& line : split(ev.body, '\n'))
    if (!line.empty() && Json::parse(line)["Type"] == "image")
      actions += Json::parse(line)["Action"].get<std::string>() + ":" +
                 Json::parse(line)["Actor"]["ID"].get<std::string>() + " ";
  EXPECT_THAT(actions, HasSubstr("push:" + ref));
  EXPECT_THAT(actions, HasSubstr("pull:" + ref));
  EXPECT_EQ(ctl({"rmi", ref}).exit_code, 0);
}

// `run` of an image that is not here pulls it first, progress on stderr.
TEST_F(RegistryDaemon, RunPullsAMissingImage) {
  TestRegistry& reg = start_registry();
  std::string ref = reg.host() + "/runme:v1";
  ASSERT_EQ(ctl({"tag", "busybox", ref}).exit_code, 0);
  ASSERT_EQ(ctl({"push", ref}).exit_code, 0);
  ASSERT_EQ(ctl({"rmi", ref}).exit_code, 0);
  auto run = ctl({"run", "--rm", ref, "echo", "hi"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "hi\n");
  EXPECT_THAT(run.err, HasSubstr("Unable to find image '" + ref + "' locally"));
  EXPECT_THAT(run.err, HasSubstr("Status: Downloaded newer image for " + ref));
  EXPECT_EQ(ctl({"rmi", ref}).exit_code, 0);
}

// Unknown tags and repositories: 404 with Docker's message, before any
// stream; berthctl says it the docker CLI's way.
TEST_F(RegistryDaemon, UnknownTagOrRepositoryIs404) {
  TestRegistry& reg = start_registry();
  ASSERT_EQ(ctl({"tag", "busybox", reg.host() + "/known:v1"}).exit_code, 0);
  ASSERT_EQ(ctl({"push", reg.host() + "/known:v1"}).exit_code, 0);
  auto r = api("POST", "/images/create?fromImage=" + reg.host() + "%2Fknown&tag=nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["message"],
            "manifest for " + reg.host() + "/known:nope not found: manifest unknown: manifest unknown");
  auto repo = api("POST", "/images/create?fromImage=" + reg.host() + "%2Fnothing&tag=v1");
  EXPECT_EQ(repo.status, 404) << repo.body;
  auto pull = ctl({"pull", reg.host() + "/known:nope"});
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_THAT(pull.err, HasSubstr("Error response from daemon: manifest for " + reg.host() + "/known:nope not found"));
  // No tag at all means every tag (docker pull --all-tags): refused, named.
  auto all = api("POST", "/images/create?fromImage=" + reg.host() + "%2Fknown");
  EXPECT_EQ(all.status, 400);
  EXPECT_THAT(all.body, HasSubstr("--all-tags"));
  auto push = ctl({"push", reg.host() + "/notlocal:v1"});
  EXPECT_EQ(push.exit_code, 1);
  EXPECT_THAT(push.err, HasSubstr("An image does not exist locally with the tag: " + reg.host() + "/notlocal:v1"));
  EXPECT_EQ(ctl({"rmi", reg.host() + "/known:v1"}).exit_code, 0);
}

// The query parameters and the /auth body follow the API field table
// (tools/api-fields.tsv): an import's parameters are refused on a pull,
// push's platform is refused, an import's platform too; one the API does
// not have is ignored, as dockerd ignores it; /auth takes the deprecated
// email without acting on it.
TEST_F(RegistryDaemon, ParametersFollowTheApiFieldTable) {
  TestRegistry& reg = start_registry();
  std::string ref = reg.host() + "/table:v1";
  ASSERT_EQ(ctl({"tag", "busybox", ref}).exit_code, 0);
  auto platform = api("POST", "/images/" + reg.host() + "%2Ftable/push?tag=v1&platform=linux%2Famd64");
  EXPECT_EQ(platform.status, 400);
  EXPECT_THAT(platform.body, HasSubstr("berth does not support the query parameter platform"));
  auto push = api("POST", "/images/" + reg.host() + "%2Ftable/push?tag=v1&bogus=1");
  EXPECT_EQ(push.status, 200) << push.body;
  EXPECT_THAT(push.body, HasSubstr("v1: digest: sha256:"));
  for (std::string key : {"repo", "message", "changes"}) {
    auto r = api("POST", "/images/create?fromImage=" + reg.host() + "%2Ftable&tag=v1&" + key + "=x");
    EXPECT_EQ(r.status, 400) << key;
    EXPECT_THAT(r.body, HasSubstr("pull: the query parameter " + key + " is for imports")) << key;
  }
  auto pull = api("POST", "/images/create?fromImage=" + reg.host() + "%2Ftable&tag=v1&bogus=1");
  EXPECT_EQ(pull.status, 200) << pull.body;
  EXPECT_THAT(pull.body, HasSubstr("Status: Image is up to date for " + ref));
  auto import = api("POST", "/images/create?fromSrc=-&repo=imported&platform=linux%2Farm64", "");
  EXPECT_EQ(import.status, 400);
  EXPECT_THAT(import.body, HasSubstr("import: platform is not supported"));
  EXPECT_EQ(api("GET", "/images/imported/json").status, 404);
  auto login = api("POST", "/auth", Json{{"serveraddress", reg.host()}, {"email", "a@b.c"}}.dump());
  EXPECT_EQ(login.status, 200) << login.body;
  EXPECT_THAT(login.body, HasSubstr("Login Succeeded"));
  EXPECT_EQ(ctl({"rmi", ref}).exit_code, 0);
}

// Basic auth: /auth answers 401 with Docker's message for wrong
// credentials; login saves them 0600, pull and push send them, logout
// forgets them and the registry refuses again.
TEST_F(RegistryDaemon, LoginPushPullLogout) {
  TestRegistry::Options o;
  o.htpasswd_user = "alice";
  o.htpasswd_password = "secret";
  TestRegistry& reg = start_registry(o);
  std::string host = reg.host(), ref = host + "/private:v1";
  auto wrong = api("POST", "/auth", Json{{"username", "alice"}, {"password", "nope"}, {"serveraddress", host}}.dump());
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Json::parse(wrong.body)["message"],
            "login attempt to http://" + host + "/v2/ failed with status: 401 Unauthorized");
  auto bad = ctl({"login", "-u", "alice", "--password-stdin", host}, "nope\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("Error response from daemon: login attempt to http://" + host +
                                 "/v2/ failed with status: 401 Unauthorized"));
  EXPECT_FALSE(path_exists(config_->path() + "/auth.json"));

  auto good = ctl({"login", "-u", "alice", "--password-stdin", host}, "secret\n");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(good.out, "Login Succeeded\n");
  struct stat st {};
  ASSERT_EQ(::stat((config_->path() + "/auth.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(read_file(config_->path() + "/auth.json").value_or(""), Not(HasSubstr("secret")));

  ASSERT_EQ(ctl({"tag", "busybox", ref}).exit_code, 0);
  auto push = ctl({"push", ref});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  ASSERT_EQ(ctl({"rmi", ref}).exit_code, 0);
  auto pull = ctl({"pull", ref});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;

  auto out = ctl({"logout", host});
  EXPECT_EQ(out.out, "Removing login credentials for " + host + "\n");
  EXPECT_EQ(ctl({"logout", host}).out, "Not logged in to " + host + "\n");
  auto refused = ctl({"pull", ref});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("unauthorized: authentication required"));
  auto raw = api("POST", "/images/create?fromImage=" + host + "%2Fprivate&tag=v1");
  EXPECT_EQ(raw.status, 403) << raw.body;  // not 401: see handlers_registry.cc
  // A header that is not base64 JSON is a 400 naming it.
  std::string reply = daemon_->raw("POST /images/create?fromImage=x&tag=y HTTP/1.1\r\nHost: x\r\n"
                                   "X-Registry-Auth: !!!\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(reply, HasSubstr("400 Bad Request"));
  EXPECT_THAT(reply, HasSubstr("invalid X-Registry-Auth header"));
  EXPECT_EQ(ctl({"rmi", ref}).exit_code, 0);
}

// A multi-platform index: the host's platform by default, another with
// --platform, and Docker's message for one the index lacks.
TEST_F(RegistryDaemon, MultiPlatformIndexAndPlatformFlag) {
  TestRegistry& reg = start_registry();
  Blob ma, mb;
  std::string id_amd = push_raw(reg, "multi", "amd", {"amd64 file"}, "amd64", &ma);
  std::string id_arm = push_raw(reg, "multi", "arm", {"arm64 file"}, "arm64", &mb);
  Blob index = make_index({{mb, "linux/arm64/v8"}, {ma, "linux/amd64"}});
  std::string err;
  bool ok = false;
  in_netns(netns_of(*daemon_), [&] { ok = put_manifest(reg.url(), "multi", "latest", index, &err); });
  ASSERT_TRUE(ok) << err;
  std::string ref = reg.host() + "/multi:latest";
  auto host = ctl({"pull", ref});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  EXPECT_EQ(image(ref)["Id"], id_amd);  // this machine is amd64
  EXPECT_EQ(image(ref)["RepoDigests"], Json::array({reg.host() + "/multi@" + index.digest}));
  auto arm = ctl({"pull", "--platform", "linux/arm64", ref});
  ASSERT_EQ(arm.exit_code, 0) << arm.err;
  EXPECT_EQ(image(ref)["Id"], id_arm);
  EXPECT_EQ(image(ref)["Architecture"], "arm64");
  auto none = ctl({"pull", "--platform", "linux/s390x", ref});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("linux/s390x"));
  auto bad = ctl({"pull", "--platform", "linux//", ref});
  EXPECT_EQ(bad.exit_code, 1);
  for (const std::string& id : {id_amd, id_arm}) (void)ctl({"rmi", "-f", id});
}

// A blob changed in the registry: the pull fails with a digest error in
// the stream and stores nothing.
TEST_F(RegistryDaemon, TamperedBlobFailsAndLeavesNothing) {
  TestRegistry& reg = start_registry();
  std::vector<Blob> layers;
  push_raw(reg, "tampered", "v1", {std::string(300000, 'a')}, "amd64", nullptr, &layers);
  std::string path = reg.blob_data_path(layers[0].digest);
  std::string data = read_file(path, 1 << 20).value();
  data[data.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(path, data).has_value());
  auto before = listing(daemon_->root_view() + "/image");
  auto pull = ctl({"pull", reg.host() + "/tampered:v1"});
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_THAT(pull.err, HasSubstr("digest mismatch for layer " + layers[0].digest));
  EXPECT_EQ(listing(daemon_->root_view() + "/image"), before);
  EXPECT_EQ(api("GET", "/images/" + reg.host() + "/tampered:v1/json").status, 404);
}

// The client going away mid-pull (the registry stalled, so the pull is
// surely still running) cancels it: the daemon says so and keeps nothing.
TEST_F(RegistryDaemon, PullCancelledByTheClientLeavesNothing) {
  TestRegistry& reg = start_registry();
  push_raw(reg, "big", "v1", {random_bytes(48 << 20, 1)});
  auto before = listing(daemon_->root_view() + "/image");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, daemon_->socket().c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req = "POST /v1.50/images/create?fromImage=" + reg.host() + "%2Fbig&tag=v1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 0\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), ssize_t(req.size()));
  std::string got;
  char buf[4096];
  while (got.find("Pulling fs layer") == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0) << got;
    got.append(buf, size_t(n));
  }
  reg.pause();
  ::close(fd);
  EXPECT_TRUE(log_has(*daemon_, "engine pull " + reg.host() + "/big:v1: ", "cancelled")) << daemon_->log();
  reg.resume();
  EXPECT_EQ(listing(daemon_->root_view() + "/image"), before);
  EXPECT_EQ(api("GET", "/images/" + reg.host() + "/big:v1/json").status, 404);
}

// TLS verified with the CA from the certs directory (Docker's certs.d
// layout); a registry whose CA is not there is refused.
TEST_F(RegistryDaemon, TlsWithCertsDirAndUntrustedRegistry) {
  TestRegistry::Options o;
  o.tls = true;
  o.port = 5443;
  TestRegistry& reg = start_registry(o);
  ASSERT_TRUE(make_dirs(certs_->path() + "/" + reg.host()).has_value());
  ASSERT_TRUE(write_file_atomic(certs_->path() + "/" + reg.host() + "/ca.crt", read_file(reg.ca_cert_path()).value())
                  .has_value());
  std::string ref = reg.host() + "/secure:v1";
  ASSERT_EQ(ctl({"tag", "busybox", ref}).exit_code, 0);
  auto push = ctl({"push", ref});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  ASSERT_EQ(ctl({"rmi", ref}).exit_code, 0);
  auto pull = ctl({"pull", ref});
  EXPECT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_EQ(ctl({"rmi", ref}).exit_code, 0);

  TestRegistry::Options u;
  u.tls = true;
  u.port = 5444;
  TestRegistry& untrusted = start_registry(u);
  auto refused = ctl({"pull", untrusted.host() + "/x:v1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("certificate")) << refused.err;
}

// A pull that fills the disk: an error in the stream, and every partial
// blob and layer gone, the space given back.
TEST_F(RegistryDaemon, DiskFullCleansUp) {
  TestDaemon small;
  small.set_root_tmpfs_mib(40);
  small.set_extra_args({"--warm-inits=0", "--netns-pool=0"});
  std::string err;
  ASSERT_TRUE(small.start(&err)) << err;
  ASSERT_TRUE(small.import_busybox(&err)) << err;
  TestRegistry& reg = start_registry({}, &small);
  std::vector<std::string> contents = {random_bytes(12 << 20, 2), random_bytes(12 << 20, 3), random_bytes(12 << 20, 4)};
  std::vector<Blob> layers;
  std::vector<std::string> diff_ids;
  for (size_t i = 0; i < contents.size(); i++) {
    std::string diff;
    layers.push_back(make_layer({{"f", contents[i]}}, fs::Compression::kNone, &diff));
    diff_ids.push_back(diff);
  }
  Blob manifest;
  std::string config;
  bool ok = false;
  in_netns(netns_of(small), [&] { ok = push_image(reg.url(), "fat", "v1", layers, diff_ids, "amd64", &manifest, &config, &err); });
  ASSERT_TRUE(ok) << err;
  std::string image_dir = small.root_view() + "/image";
  auto before = listing(image_dir);
  struct statvfs free_before {};
  ASSERT_EQ(::statvfs(small.root_view().c_str(), &free_before), 0);
  auto pull = ctl({"pull", reg.host() + "/fat:v1"}, "", &small);
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_THAT(pull.err, HasSubstr("No space left on device")) << pull.out << pull.err;
  EXPECT_EQ(listing(image_dir), before);
  struct statvfs free_after {};
  ASSERT_EQ(::statvfs(small.root_view().c_str(), &free_after), 0);
  EXPECT_GE(free_after.f_bfree + 64, free_before.f_bfree);  // the partial blobs' space is back
  regs_.clear();
  EXPECT_EQ(small.stop(), 0) << small.log();
}

}  // namespace
}  // namespace berth::test
