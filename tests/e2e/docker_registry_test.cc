// The real docker CLI's registry commands against berthd: login, push,
// pull (with --platform, by a terminal with its progress bars), the
// errors it prints, a pull cancelled by killing the CLI, and a pull that
// fills the disk. The registry (Debian's docker-registry) serves on
// localhost:5000 inside berthd's own network namespace, where berthd
// reaches it; the CLI only talks to berthd's socket.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>

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
using Json = nlohmann::json;

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

std::vector<std::string> store_listing(const std::string& image_dir) {
  std::vector<std::string> out;
  for (const char* sub : {"/blobs/sha256", "/ingest", "/layers"}) {
    DIR* d = ::opendir((image_dir + sub).c_str());
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

std::string netns_of(const TestDaemon& d) { return "/proc/" + std::to_string(d.pid()) + "/ns/net"; }

class DockerRegistry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || !have_program("docker") || !path_exists("/usr/bin/docker-registry")) return;
    daemon_ = std::make_unique<TestDaemon>();
    daemon_->set_extra_args({"--warm-inits=0", "--netns-pool=0"});
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
    if (!have_program("docker")) GTEST_SKIP() << "no docker CLI on this machine";
    if (!path_exists("/usr/bin/docker-registry")) GTEST_SKIP() << "docker-registry not installed (tools/setup)";
    ASSERT_TRUE(daemon_) << error_;
  }
  void TearDown() override { regs_.clear(); }

  TestRegistry& start_registry(TestRegistry::Options o = {}, TestDaemon* d = nullptr) {
    o.netns = netns_of(d ? *d : *daemon_);
    regs_.push_back(std::make_unique<TestRegistry>(o));
    std::string err;
    EXPECT_TRUE(regs_.back()->start(&err)) << err;
    return *regs_.back();
  }
  std::vector<std::string> docker_env(TestDaemon* d = nullptr) {
    return {"DOCKER_HOST=" + (d ? *d : *daemon_).host(), "DOCKER_CONFIG=" + config_.path()};
  }
  CommandResult docker(std::vector<std::string> args, const std::string& input = "", TestDaemon* d = nullptr) {
    args.insert(args.begin(), "docker");
    return run_command(args, input, docker_env(d));
  }
  std::string image_id(const std::string& ref) {
    auto r = docker({"image", "inspect", "--format", "{{.Id}}", ref});
    return r.exit_code == 0 ? r.out.substr(0, r.out.find('\n')) : "";
  }
  // An image with one layer of `bytes` (plain tar), pushed by hand.
  void push_big(TestDaemon& d, TestRegistry& reg, const std::string& repo, size_t bytes, unsigned seed) {
    std::string diff, config, err;
    std::vector<Blob> layers = {make_layer({{"big", random_bytes(bytes, seed)}}, fs::Compression::kNone, &diff)};
    Blob manifest;
    bool ok = false;
    in_netns(netns_of(d), [&] { ok = push_image(reg.url(), repo, "latest", layers, {diff}, "amd64", &manifest, &config, &err); });
    ASSERT_TRUE(ok) << err;
  }
  bool log_has(TestDaemon& d, const std::string& a, const std::string& b) {
    for (int i = 0; i < 12000; i++) {  // a hang guard of 2 minutes, not a timing
      for (const std::string& line : split(d.log(), '\n'))
        if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
      ::usleep(10000);
    }
    return false;
  }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string error_;
  TempDir config_;
  std::vector<std::unique_ptr<TestRegistry>> regs_;
};

// docker login (wrong, then right), docker push, docker rmi, docker pull
// (same image ID), docker run; and an unknown tag.
TEST_F(DockerRegistry, LoginPushPullRunAndErrors) {
  TestRegistry::Options o;
  o.htpasswd_user = "alice";
  o.htpasswd_password = "secret";
  o.tls = false;
  start_registry(o);
  auto wrong = docker({"login", "-u", "alice", "--password-stdin", "localhost:5000"}, "nope\n");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("Error response from daemon: login attempt to http://localhost:5000/v2/ failed with "
                                   "status: 401 Unauthorized"));
  auto login = docker({"login", "-u", "alice", "--password-stdin", "localhost:5000"}, "secret\n");
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_THAT(login.out, HasSubstr("Login Succeeded"));

  ASSERT_EQ(docker({"tag", "busybox", "localhost:5000/busybox"}).exit_code, 0);
  std::string id = image_id("localhost:5000/busybox");
  auto push = docker({"push", "localhost:5000/busybox"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_THAT(push.out, HasSubstr("The push refers to repository [localhost:5000/busybox]"));
  EXPECT_THAT(push.out, HasSubstr("latest: digest: sha256:"));

  ASSERT_EQ(docker({"rmi", "localhost:5000/busybox"}).exit_code, 0);
  auto pull = docker({"pull", "localhost:5000/busybox"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_THAT(pull.out, HasSubstr("latest: Pulling from busybox"));
  EXPECT_THAT(pull.out, HasSubstr(": Already exists"));  // busybox:latest keeps the layer
  EXPECT_THAT(pull.out, HasSubstr("Status: Downloaded newer image for localhost:5000/busybox:latest"));
  EXPECT_EQ(image_id("localhost:5000/busybox"), id);
  auto digests = docker({"images", "--digests", "--format", "{{.Repository}} {{.Digest}}"});
  EXPECT_THAT(digests.out, HasSubstr("localhost:5000/busybox sha256:")) << digests.out;
  auto run = docker({"run", "--rm", "localhost:5000/busybox", "echo", "pulled"});
  EXPECT_EQ(run.out, "pulled\n") << run.err;

  auto nope = docker({"pull", "localhost:5000/busybox:nope"});
  EXPECT_EQ(nope.exit_code, 1);
  EXPECT_THAT(nope.err, HasSubstr("Error response from daemon: manifest for localhost:5000/busybox:nope not found: "
                                  "manifest unknown: manifest unknown"));
  EXPECT_EQ(docker({"logout", "localhost:5000"}).exit_code, 0);
  auto refused = docker({"pull", "localhost:5000/busybox"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("unauthorized"));
  EXPECT_EQ(docker({"rmi", "localhost:5000/busybox"}).exit_code, 0);
}

// A fresh pull on a terminal draws Docker's bars (the CLI redraws them
// from progressDetail); `docker pull --platform` picks from an index.
TEST_F(DockerRegistry, ProgressOnATerminalAndPlatform) {
  TestRegistry& reg = start_registry();
  push_big(*daemon_, reg, "fresh", 6 << 20, 7);
  // script(1) gives the CLI a pty; stty makes it 200 columns wide.
  std::string cmd = "stty cols 200 rows 50; docker pull localhost:5000/fresh";
  auto shown = run_command({"script", "-q", "-e", "-c", cmd, "/dev/null"}, "", docker_env());
  ASSERT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("Downloading"));
  EXPECT_THAT(shown.out, HasSubstr("Extracting"));
  // Docker draws a finished 50-column bar as 50 "=" and the ">" head.
  EXPECT_THAT(shown.out, HasSubstr("[" + std::string(50, '=') + ">]"));
  EXPECT_THAT(shown.out, HasSubstr("\x1b[2K"));  // lines redrawn in place
  EXPECT_THAT(shown.out, HasSubstr("Pull complete"));

  std::string diff_a, diff_b, config_a, config_b, err;
  Blob la = make_layer({{"arch", "amd64"}}, fs::Compression::kGzip, &diff_a);
  Blob lb = make_layer({{"arch", "arm64"}}, fs::Compression::kGzip, &diff_b);
  Blob ma, mb;
  bool ok = false;
  in_netns(netns_of(*daemon_), [&] {
    ok = push_image(reg.url(), "multi", "amd", {la}, {diff_a}, "amd64", &ma, &config_a, &err) &&
         push_image(reg.url(), "multi", "arm", {lb}, {diff_b}, "arm64", &mb, &config_b, &err) &&
         put_manifest(reg.url(), "multi", "latest", make_index({{ma, "linux/amd64"}, {mb, "linux/arm64/v8"}}), &err);
  });
  ASSERT_TRUE(ok) << err;
  auto arm = docker({"pull", "--platform", "linux/arm64", "localhost:5000/multi"});
  ASSERT_EQ(arm.exit_code, 0) << arm.err;
  EXPECT_EQ(image_id("localhost:5000/multi"), config_b);
  auto arch = docker({"image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "localhost:5000/multi"});
  EXPECT_EQ(arch.out, "linux/arm64\n");
  auto host = docker({"pull", "localhost:5000/multi"});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  EXPECT_EQ(image_id("localhost:5000/multi"), config_a);
  for (const std::string& id : {config_a, config_b, image_id("localhost:5000/fresh")})
    (void)docker({"rmi", "-f", id});
}

// Killing the CLI mid-pull (ctrl-c does the same) closes its connection:
// berthd cancels the pull, stops its downloads and keeps nothing.
TEST_F(DockerRegistry, KilledCliCancelsThePull) {
  TestRegistry& reg = start_registry();
  push_big(*daemon_, reg, "big", 48 << 20, 11);
  std::string image_dir = daemon_->root() + "/image";
  auto before = store_listing(image_dir);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  // The environment is built before fork: the child only dup2s and execs.
  std::vector<std::string> env = docker_env();
  for (char** e = environ; *e; e++)
    if (!std::string_view(*e).starts_with("DOCKER_")) env.push_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* argv[] = {"docker", "pull", "localhost:5000/big", nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execvpe("docker", const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  ::close(out[1]);
  std::string got;
  char buf[4096];
  while (got.find("Pulling fs layer") == std::string::npos) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  reg.pause();  // the pull cannot finish before the CLI is gone
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  ASSERT_THAT(got, HasSubstr("Pulling fs layer"));
  EXPECT_TRUE(log_has(*daemon_, "engine pull localhost:5000/big:latest: ", "cancelled")) << daemon_->log();
  reg.resume();
  EXPECT_EQ(store_listing(image_dir), before);
  EXPECT_EQ(image_id("localhost:5000/big"), "");
}

// docker pull into a daemon whose disk fills: the CLI prints the error,
// and the partial blobs are gone.
TEST_F(DockerRegistry, DiskFullCleansUp) {
  TestDaemon small;
  small.set_root_tmpfs_mib(32);
  small.set_extra_args({"--warm-inits=0", "--netns-pool=0"});
  std::string err;
  ASSERT_TRUE(small.start(&err)) << err;
  TestRegistry& reg = start_registry({}, &small);
  push_big(small, reg, "fat", 40 << 20, 13);
  auto before = store_listing(small.root_view() + "/image");
  auto pull = docker({"pull", "localhost:5000/fat"}, "", &small);
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_THAT(pull.err, HasSubstr("No space left on device")) << pull.out << pull.err;
  EXPECT_EQ(store_listing(small.root_view() + "/image"), before);
  regs_.clear();
  EXPECT_EQ(small.stop(), 0) << small.log();
}

}  // namespace
}  // namespace berth::test
