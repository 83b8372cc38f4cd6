// berthd --userns-remap: every container in a user namespace of its own,
// its root the host's uid 300000, the image layers seen through idmapped
// mounts (never chowned), and the options a remapped root cannot have
// refused unless the container keeps the host's namespace (--userns host).
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr uid_t kBase = 300000;

// path -> "uid:gid" of every entry of a tar stream.
std::map<std::string, std::string> tar_owners(const std::string& bytes) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK)
    out[archive_entry_pathname(e)] = std::to_string(archive_entry_uid(e)) + ":" + std::to_string(archive_entry_gid(e));
  archive_read_free(a);
  return out;
}

class UsernsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root()) return;
    daemon_ = std::make_unique<TestDaemon>();
    daemon_->set_extra_args({"--userns-remap", "300000:300000:65536"});
    std::string err;
    if (!daemon_->start(&err) || !daemon_->import_busybox(&err)) {
      start_error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    if (daemon_) EXPECT_EQ(daemon_->stop(), 0) << daemon_->log();
    daemon_.reset();
  }
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(daemon_) << "berthd failed to start: " << start_error_;
  }
  TestDaemon& d() { return *daemon_; }
  std::string run_ok(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "--rm"});
    auto r = d().ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  std::string fails(std::vector<std::string> args) {
    auto r = d().ctl(args);
    EXPECT_NE(r.exit_code, 0) << r.out;
    return r.err;
  }
  Json inspect(const std::string& ref) {
    auto r = d().client().request("GET", "/containers/" + ref + "/json");
    return r && r->status == 200 ? Json::parse(r->body, nullptr, false) : Json::object();
  }
  // Uid: line of /proc/<pid>/status, as the host sees it.
  static std::string host_uid_line(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("Uid:", 0) == 0) return line;
    return "";
  }

  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string start_error_;
};

TEST_F(UsernsTest, RootInsideIsTheRemappedUidOutside) {
  EXPECT_EQ(run_ok({"--network", "none", "busybox", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"}),
            "         0     300000      65536\n         0     300000      65536\n0\n");
  // The image's files are root's inside, through the idmapped layers.
  EXPECT_EQ(run_ok({"--network", "none", "busybox", "stat", "-c", "%u:%g", "/bin/busybox", "/"}), "0:0\n0:0\n");
  auto r = d().ctl({"run", "-d", "--name", "remapped", "busybox", "sh", "-c",
                    "mkdir /d; chown 5:6 /d; echo data > /made-here; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = inspect("remapped");
  std::string id = j["Id"];
  pid_t pid = j["State"]["Pid"];
  ASSERT_GT(pid, 0);
  EXPECT_EQ(host_uid_line(pid), "Uid:\t300000\t300000\t300000\t300000");
  // What the container writes is owned on the host by its remapped ids.
  std::string upper = d().root() + "/containers/" + id + "/upper";
  struct stat st{};
  for (int i = 0; i < 200 && ::stat((upper + "/made-here").c_str(), &st) != 0; i++) ::usleep(50000);
  ASSERT_EQ(::stat((upper + "/made-here").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase);
  EXPECT_EQ(st.st_gid, kBase);
  ASSERT_EQ(::stat((upper + "/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase + 5);
  EXPECT_EQ(st.st_gid, kBase + 6);
  // The image's layers on the host are untouched: no chown, no copy.
  for (const auto& layer : std::filesystem::directory_iterator(d().root() + "/image/layers")) {
    ASSERT_EQ(::stat((layer.path().string() + "/bin/busybox").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
  }
  // exec joins the user namespace too.
  auto ex = d().ctl({"exec", "remapped", "sh", "-c", "cat /proc/self/uid_map; id -u; cat /made-here"});
  EXPECT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_EQ(ex.out, "         0     300000      65536\n0\ndata\n");
  EXPECT_EQ(d().ctl({"rm", "-f", "remapped"}).exit_code, 0);
}

TEST_F(UsernsTest, ExecAfterADaemonCrashStillEntersTheUserNamespace) {
  auto r = d().ctl({"run", "-d", "--name", "survivor", "--network", "none", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  d().crash_daemon_only();
  std::string err;
  ASSERT_TRUE(d().start(&err)) << err;
  auto ex = d().ctl({"exec", "survivor", "sh", "-c", "cat /proc/self/uid_map; id -u"});
  EXPECT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_EQ(ex.out, "         0     300000      65536\n0\n");
  EXPECT_EQ(d().ctl({"rm", "-f", "survivor"}).exit_code, 0);
}

TEST_F(UsernsTest, HostDevicesAndKernelStayOutOfReach) {
  // Root of its own namespace only: no mknod, no host-wide sysctl, and
  // /proc/sys stays read-only as in any container.
  EXPECT_EQ(run_ok({"--network", "none", "busybox", "sh", "-c",
                    "mknod /tmp/v c 7 0 2>/dev/null && echo made || echo refused; "
                    "echo 1 > /proc/sys/kernel/printk 2>/dev/null && echo wrote || echo read-only"}),
            "refused\nread-only\n");
  // /dev/null and friends are the host's nodes, bound (mknod needs the
  // host's privilege), and they work.
  EXPECT_EQ(run_ok({"--network", "none", "busybox", "sh", "-c", "echo x > /dev/null && head -c 3 /dev/zero | wc -c"}),
            "3\n");
}

TEST_F(UsernsTest, BridgedRootBindsPort80AndIsReached) {
  auto r = d().ctl({"run", "-d", "--name", "web", "busybox", "sh", "-c",
                    "mkdir -p /www && echo hello remapped > /www/index.html && exec httpd -f -p 80 -h /www"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string ip = inspect("web")["NetworkSettings"]["IPAddress"];
  ASSERT_FALSE(ip.empty());
  std::string got;
  for (int i = 0; i < 50 && got.empty(); i++) {
    auto w = d().ctl({"run", "--rm", "busybox", "timeout", "5", "wget", "-q", "-O", "-", "http://" + ip + "/"});
    got = w.out;
    if (got.empty()) ::usleep(100000);
  }
  EXPECT_EQ(got, "hello remapped\n");
  // sysfs in a netns berthd made (not the container's user namespace's):
  // the host's /sys, read-only.
  EXPECT_EQ(run_ok({"busybox", "sh", "-c", "test -d /sys/class/net && echo sys; touch /sys/x 2>/dev/null || echo ro"}),
            "sys\nro\n");
  EXPECT_EQ(d().ctl({"rm", "-f", "web"}).exit_code, 0);
}

TEST_F(UsernsTest, VolumesBelongToTheRemappedRoot) {
  EXPECT_EQ(run_ok({"--network", "none", "-v", "remapvol:/data", "busybox", "sh", "-c",
                    "echo kept > /data/f && stat -c %u /data/f"}),
            "0\n");
  struct stat st{};
  ASSERT_EQ(::stat((d().root() + "/volumes/remapvol/_data/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase);
  EXPECT_EQ(d().ctl({"volume", "rm", "remapvol"}).exit_code, 0);
}

// Tars out of and into a remapped container carry its own ids, as the
// container sees them, never the host's mapped ones.
TEST_F(UsernsTest, CpExportAndCommitCarryTheContainersOwnIds) {
  auto r = d().ctl({"run", "-d", "--name", "owners", "--network", "none", "busybox", "sh", "-c",
                    "mkdir /d; echo x > /d/f; chown 7:8 /d/f; chown 5:6 /d; touch /ready; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 200 && d().ctl({"exec", "owners", "test", "-e", "/ready"}).exit_code != 0; i++) ::usleep(50000);
  auto get = [&](const std::string& path) {
    auto res = d().client().request("GET", path);
    EXPECT_TRUE(res && res->status == 200) << path;
    return res ? tar_owners(res->body) : std::map<std::string, std::string>{};
  };
  auto cp = get("/containers/owners/archive?path=/d");
  EXPECT_EQ(cp["d/"], "5:6");
  EXPECT_EQ(cp["d/f"], "7:8");
  auto ex = get("/containers/owners/export");
  EXPECT_EQ(ex["d/"], "5:6");
  EXPECT_EQ(ex["d/f"], "7:8");
  EXPECT_EQ(ex["bin/busybox"], "0:0");   // from the image, through the idmapped layer
  // Into it: cp without -a gives root, the container's root.
  std::string in = d().dir() + "/in.txt";
  std::ofstream(in) << "in\n";
  ASSERT_EQ(d().ctl({"cp", in, "owners:/in.txt"}).exit_code, 0);
  auto st = d().ctl({"exec", "owners", "stat", "-c", "%u:%g", "/in.txt"});
  EXPECT_EQ(st.out, "0:0\n") << st.err;
  // commit: the layer has the container's ids; any container sees them so.
  auto commit = d().client().request("POST", "/commit?container=owners&repo=remapcommit&tag=latest");
  ASSERT_TRUE(commit && commit->status == 201) << (commit ? commit->body : "");
  EXPECT_EQ(run_ok({"--network", "none", "remapcommit", "stat", "-c", "%u:%g", "/d", "/d/f"}), "5:6\n7:8\n");
  EXPECT_EQ(run_ok({"--userns", "host", "--network", "none", "remapcommit", "stat", "-c", "%u:%g", "/d/f"}),
            "7:8\n");
  // Stopped, its files are read through the same idmapped layers.
  ASSERT_EQ(d().ctl({"kill", "owners"}).exit_code, 0);
  for (int i = 0; i < 200 && inspect("owners")["State"]["Running"] == true; i++) ::usleep(50000);
  auto stopped = get("/containers/owners/archive?path=/d");
  EXPECT_EQ(stopped["d/f"], "7:8");
  auto etc = get("/containers/owners/archive?path=/bin/busybox");
  EXPECT_EQ(etc["busybox"], "0:0");
  EXPECT_EQ(d().ctl({"rm", "-f", "owners"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"rmi", "remapcommit"}).exit_code, 0);
}

TEST_F(UsernsTest, HostOnlyOptionsAreRefusedUnlessUsernsHost) {
  EXPECT_THAT(fails({"run", "--rm", "--privileged", "busybox", "true"}),
              HasSubstr("privileged mode is incompatible with user namespaces"));
  EXPECT_THAT(fails({"run", "--rm", "--network", "host", "busybox", "true"}),
              HasSubstr("cannot share the host's network namespace when user namespaces are enabled"));
  EXPECT_THAT(fails({"run", "--rm", "--pid", "host", "busybox", "true"}),
              HasSubstr("cannot share the host PID namespace when user namespaces are enabled"));
  EXPECT_THAT(fails({"run", "--rm", "--userns", "private", "busybox", "true"}), HasSubstr("HostConfig.UsernsMode: only host"));
  // --userns host: the host's ids, and then privileged is allowed.
  EXPECT_EQ(run_ok({"--userns", "host", "--network", "none", "busybox", "cat", "/proc/self/uid_map"}),
            "         0          0 4294967295\n");
  EXPECT_EQ(run_ok({"--userns", "host", "--privileged", "--network", "none", "busybox", "sh", "-c",
                    "mount -t tmpfs t /tmp && echo mounted"}),
            "mounted\n");
  auto info = d().client().request("GET", "/info");
  ASSERT_TRUE(info);
  Json j = Json::parse(info->body, nullptr, false);
  EXPECT_THAT(j["SecurityOptions"].dump(), HasSubstr("name=userns"));
}

}  // namespace
}  // namespace berth::test
