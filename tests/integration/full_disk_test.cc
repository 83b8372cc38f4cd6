// A full disk never lies (the robustness issue's item 4): berthd's --root
// is a small tmpfs that the test fills. What cannot be written fails with
// 507 "no space left on device" and leaves nothing half-made; kill and
// rm -f still work; run --rm returns; an exit seen while the disk was full
// is on disk once space returns, and a restart (even a crash) loses
// nothing that was reported saved.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (mounts a tmpfs)";
    d_.set_root_tmpfs(32 << 20);
    d_.set_extra_args({"--warm-inits=0"});
    std::string err;
    ASSERT_TRUE(d_.start(&err)) << err;
    ASSERT_TRUE(d_.import_busybox(&err)) << err;
  }
  void TearDown() override {
    if (filler_ >= 0) ::close(filler_);
  }

  // Writes a file on berthd's root until the tmpfs is full.
  void fill() {
    std::string path = d_.root() + "/filler";
    filler_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(filler_, 0) << std::strerror(errno);
    static char block[64 << 10];
    for (size_t size = sizeof block; size > 0; size /= 2) {
      while (::write(filler_, block, size) == ssize_t(size)) {
      }
    }
    ASSERT_EQ(::write(filler_, block, 1), -1);
    ASSERT_EQ(errno, ENOSPC);
  }
  void release() {
    ASSERT_EQ(::unlink((d_.root() + "/filler").c_str()), 0);
    ::close(filler_);
    filler_ = -1;
  }
  // Files under root/containers whose name ends in ".tmp".
  int temp_files() {
    auto r = run_command({"find", d_.root() + "/containers", d_.root() + "/volumes", "-name", "*.tmp"});
    int n = 0;
    for (char ch : r.out) n += ch == '\n';
    return n;
  }
  std::string inspect(const std::string& name, const std::string& format) {
    auto r = d_.ctl({"inspect", "-f", format, name});
    return r.exit_code == 0 ? r.out : "error: " + r.err;
  }
  // Every container's name, from the API.
  std::string names() {
    auto r = d_.client().request("GET", "/containers/json?all=1");
    std::string out;
    if (!r) return out;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& c : j) out += c.value("Names", nlohmann::json::array()).dump() + "\n";
    return out;
  }
  // A volume's labels, as JSON ("" if it does not exist).
  std::string volume_labels(const std::string& name) {
    auto r = d_.client().request("GET", "/volumes/" + name);
    if (!r || r->status != 200) return "";
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_object() && j.contains("Labels") ? j["Labels"].dump() : "";
  }
  int volumes_on_disk() {
    auto r = run_command({"ls", "-1", d_.root() + "/volumes"});
    int n = 0;
    for (char ch : r.out) n += ch == '\n';
    return n;
  }
  bool log_has(const std::string& words) { return d_.log().find(words) != std::string::npos; }

  TestDaemon d_;
  int filler_ = -1;
};

TEST_F(FullDiskTest, NothingHalfMadeAndNothingLost) {
  ASSERT_EQ(d_.ctl({"create", "--name", "kept", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(d_.ctl({"run", "-d", "--name", "victim", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(d_.ctl({"run", "-d", "--name", "doomed", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(d_.ctl({"run", "-d", "--name", "frozen", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(d_.ctl({"volume", "create", "--label", "a=b", "before"}).exit_code, 0);
  int dirs = d_.container_dirs();
  ASSERT_EQ(dirs, 4);
  int volumes = volumes_on_disk();
  fill();
  // Every file berthd makes from here until space returns must be gone
  // again (only a failed step's leftovers would be newer than this mark).
  std::string mark = d_.root() + "/mark";
  ASSERT_EQ(::close(::open(mark.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);

  // Through the API: 507 with the reason.
  auto api = d_.client().request("POST", "/containers/create?name=newone", R"({"Image":"busybox","Cmd":["true"]})");
  ASSERT_TRUE(api.has_value());
  EXPECT_EQ(api->status, 507) << api->body;
  EXPECT_THAT(api->body, HasSubstr("No space left on device"));
  auto vol_api = d_.client().request("POST", "/volumes/create", R"({"Name":"full"})");
  ASSERT_TRUE(vol_api.has_value());
  EXPECT_EQ(vol_api->status, 507) << vol_api->body;
  // Through the client: create, run -d, run --rm and volume create fail
  // and say why; run --rm returns.
  for (std::vector<std::string> args : {std::vector<std::string>{"create", "--name", "newtwo", "busybox", "true"},
                                        {"run", "-d", "--name", "newthree", "busybox", "sleep", "1000"},
                                        {"run", "--rm", "busybox", "echo", "hi"},
                                        {"volume", "create", "--label", "c=d", "full"},
                                        {"run", "-d", "-v", "/data", "busybox", "true"},
                                        {"commit", "kept", "committed:full"}}) {
    auto r = d_.ctl(args);
    EXPECT_NE(r.exit_code, 0) << args[0] << " " << args[1];
    EXPECT_THAT(r.err, HasSubstr("No space left on device")) << args[0] << " " << args[1];
    EXPECT_EQ(r.out.find("hi"), std::string::npos);
  }
  // Nothing half-made: no container, directory, name, volume or temp file.
  EXPECT_THAT(names(), Not(HasSubstr("new")));
  EXPECT_EQ(d_.container_dirs(), dirs);
  EXPECT_EQ(temp_files(), 0);
  EXPECT_EQ(volume_labels("full"), "");
  EXPECT_FALSE(path_exists(d_.root() + "/volumes/full"));
  EXPECT_EQ(volumes_on_disk(), volumes);
  auto newer = run_command({"find", d_.root(), "-newer", mark, "-type", "f", "!", "-name", "filler"});
  EXPECT_EQ(newer.out, "") << "left by the failed steps";
  EXPECT_EQ(d_.client().request("GET", "/images/committed:full/json")->status, 404);

  // A pause is made, and said not to be saved.
  auto pause = d_.ctl({"pause", "frozen"});
  EXPECT_NE(pause.exit_code, 0);
  EXPECT_THAT(pause.err, HasSubstr("the pause is made but not saved yet"));
  EXPECT_THAT(pause.err, HasSubstr("No space left on device"));
  EXPECT_EQ(inspect("frozen", "{{.State.Paused}}"), "true\n");

  // kill and rm -f work on the full disk.
  EXPECT_EQ(d_.ctl({"kill", "victim"}).exit_code, 0);
  auto waited = d_.ctl({"wait", "victim"});
  EXPECT_EQ(waited.out, "137\n") << waited.err;
  EXPECT_EQ(inspect("victim", "{{.State.Running}} {{.State.ExitCode}}"), "false 137\n");
  auto rm = d_.ctl({"rm", "-f", "doomed"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_THAT(names(), Not(HasSubstr("doomed")));
  EXPECT_TRUE(log_has("retrying every second")) << d_.log();

  // Space returns: the exit seen meanwhile reaches the disk (bounded wait
  // for the retry's log line), and the names and the volume name are free.
  release();
  for (int i = 0; i < 1000 && !log_has("saved now"); i++) ::usleep(10000);
  EXPECT_TRUE(log_has("saved now")) << d_.log();
  auto again = d_.ctl({"create", "--name", "newone", "busybox", "true"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(d_.ctl({"volume", "create", "full"}).exit_code, 0);
  EXPECT_EQ(d_.ctl({"unpause", "frozen"}).exit_code, 0);

  // A crash and a restart keep everything reported saved.
  d_.crash();
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  std::string after = names();
  EXPECT_THAT(after, HasSubstr("/kept"));
  EXPECT_THAT(after, HasSubstr("/victim"));
  EXPECT_THAT(after, HasSubstr("/newone"));
  EXPECT_THAT(after, Not(HasSubstr("doomed")));
  EXPECT_THAT(after, Not(HasSubstr("newtwo")));
  EXPECT_EQ(inspect("victim", "{{.State.Running}} {{.State.ExitCode}}"), "false 137\n");
  EXPECT_EQ(volume_labels("before"), R"({"a":"b"})");
  EXPECT_EQ(volume_labels("full"), "{}");
  EXPECT_EQ(d_.ctl({"rm", "-f", "kept", "victim", "newone", "frozen"}).exit_code, 0);
  EXPECT_EQ(d_.stop(), 0);
}

// A container running when the disk fills prints, then exits: its output
// cannot reach the log, yet `run --rm` gets it, returns with the exit code,
// and the container is removed (before, the exit waited for the log write
// until space came back).
TEST_F(FullDiskTest, RunRmReturnsWhenItsOutputCannotBeLogged) {
  char tmpl[] = "/tmp/berth-go-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string go = tmpl;
  std::atomic<bool> returned{false};
  CommandResult run;
  std::thread client([&] {
    run = d_.ctl({"run", "--rm", "--name", "late", "-v", go + ":/w", "busybox", "sh", "-c",
                  "while [ ! -e /w/go ]; do usleep 10000; done; echo out; exit 3"});
    returned = true;
  });
  bool running = false;
  for (int i = 0; i < 1000 && !running; i++) {
    running = inspect("late", "{{.State.Running}}") == "true\n";
    if (!running) ::usleep(10000);
  }
  EXPECT_TRUE(running) << d_.log();
  fill();
  ASSERT_EQ(::close(::open((go + "/go").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
  // A bound against a hung test: berthd would hold the exit until space returns.
  for (int i = 0; i < 3000 && !returned; i++) ::usleep(10000);
  EXPECT_TRUE(returned) << "run --rm did not return on a full disk\n" << d_.log();
  if (!returned) release();   // lets it finish, so the thread can be joined
  client.join();
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(run.out, "out\n");
  EXPECT_TRUE(log_has("output that cannot be written is not logged")) << d_.log();
  EXPECT_THAT(names(), Not(HasSubstr("late")));
  if (filler_ >= 0) release();
  (void)remove_tree(go);
  EXPECT_EQ(d_.stop(), 0);
}

// The container that fills the disk through its own log can be removed,
// which frees the space (before, rm -f hung: the exit waited for the log).
TEST_F(FullDiskTest, RmForceOfTheContainerFillingTheDisk) {
  auto run = d_.ctl({"run", "-d", "--name", "filler", "busybox", "sh", "-c", "yes filling the disk"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (int i = 0; i < 3000 && !log_has("write container log: No space left on device"); i++) ::usleep(10000);
  ASSERT_TRUE(log_has("write container log: No space left on device")) << d_.log();
  auto full = d_.ctl({"run", "--rm", "busybox", "true"});
  EXPECT_THAT(full.err, HasSubstr("No space left on device"));
  auto rm = d_.ctl({"rm", "-f", "filler"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_THAT(names(), Not(HasSubstr("filler")));
  // The space is back: a container runs again.
  auto again = d_.ctl({"run", "--rm", "busybox", "echo", "room"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "room\n");
  EXPECT_EQ(d_.stop(), 0);
}

}  // namespace
}  // namespace berth::test
