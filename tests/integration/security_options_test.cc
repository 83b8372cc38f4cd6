// Confinement options through berthd (berthctl's flags, the create
// request, the state file, the start path): each one acts, or is refused
// with a message naming it. The runtime's own tests of the same options are
// security_test.cc; the docker CLI's, tests/e2e/docker_security_test.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class SecurityOptionsTest : public DaemonSuite {
 protected:
  // berth-testinit bound into the container, for raw syscalls and opens.
  std::string testinit() { return bin_path("berth-testinit") + ":/bin/berth-testinit:ro"; }

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
  Json inspect(const std::string& name) {
    auto r = d().client().request("GET", "/containers/" + name + "/json");
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }
};

TEST_F(SecurityOptionsTest, CapabilitiesPrivilegedAndNoNewPrivs) {
  EXPECT_EQ(run_ok({"--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status"}), "CapEff:\t0000000000000000\n");
  EXPECT_EQ(run_ok({"--cap-drop", "ALL", "--cap-add", "chown", "busybox", "grep", "CapEff", "/proc/self/status"}),
            "CapEff:\t0000000000000001\n");
  EXPECT_EQ(run_ok({"--privileged", "busybox", "sh", "-c",
                    "mount -t tmpfs t /tmp && echo mounted; grep -E '^Seccomp:' /proc/self/status; ls /dev/loop-control"}),
            "mounted\nSeccomp:\t0\n/dev/loop-control\n");
  EXPECT_EQ(run_ok({"busybox", "grep", "NoNewPrivs", "/proc/self/status"}), "NoNewPrivs:\t0\n");
  EXPECT_EQ(run_ok({"--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}),
            "NoNewPrivs:\t1\n");
}

TEST_F(SecurityOptionsTest, SeccompProfileFileDenyingMkdir) {
  std::string profile = d().dir() + "/nomkdir.json";
  std::ofstream(profile) << R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})";
  EXPECT_EQ(run_ok({"--security-opt", "seccomp=" + profile, "-v", testinit(), "busybox", "sh", "-c",
                    "mkdir /tmp/x 2>/dev/null && echo made || echo refused; berth-testinit syscall mkdir keyctl"}),
            "refused\nmkdir: EPERM\nkeyctl: ok\n");   // this profile allows keyctl: it replaces the default
  EXPECT_EQ(run_ok({"--security-opt", "seccomp=unconfined", "busybox", "grep", "^Seccomp:", "/proc/self/status"}),
            "Seccomp:\t0\n");
}

TEST_F(SecurityOptionsTest, DevicesWithPermissionsAndCgroupRules) {
  // --device with r only: the node is there, opens for reading, not for writing.
  EXPECT_EQ(run_ok({"--device", "/dev/loop-control:/dev/lc:r", "-v", testinit(), "busybox", "sh", "-c",
                    "berth-testinit open /dev/lc r; berth-testinit open /dev/lc w"}),
            "open: ok\nopen: EPERM\n");
  // --device-cgroup-rule: a node the container makes itself becomes usable.
  EXPECT_EQ(run_ok({"--device-cgroup-rule", "c 10:237 rw", "-v", testinit(), "busybox", "sh", "-c",
                    "mknod /dev/lc c 10 237; berth-testinit open /dev/lc rw; mknod /dev/v c 7 0; berth-testinit open /dev/v r"}),
            "open: ok\nopen: EPERM\n");
  EXPECT_THAT(fails({"run", "--rm", "--device", "/dev/nonexistent", "busybox", "true"}),
              HasSubstr("error gathering device information while adding custom device \"/dev/nonexistent\""));
  EXPECT_THAT(fails({"run", "--rm", "--device-cgroup-rule", "z 1:1 rwm", "busybox", "true"}),
              HasSubstr("invalid device cgroup format"));
}

TEST_F(SecurityOptionsTest, PidAndIpcOfAnotherContainer) {
  ASSERT_EQ(d().ctl({"run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(d().ctl({"run", "-d", "--name", "private", "busybox", "sleep", "1000"}).exit_code, 0);
  std::string donor = inspect("donor")["Id"];
  std::string shm = d().root() + "/containers/" + donor + "/shm";
  EXPECT_EQ(d().mounts_under(shm), 1);
  EXPECT_EQ(run_ok({"--pid", "container:donor", "busybox", "sh", "-c", "ps -o comm | grep -c sleep"}), "1\n");
  EXPECT_EQ(run_ok({"--ipc", "container:donor", "busybox", "sh", "-c", "echo hi > /dev/shm/note; cat /dev/shm/note"}),
            "hi\n");
  auto seen = d().ctl({"exec", "donor", "cat", "/dev/shm/note"});
  EXPECT_EQ(seen.out, "hi\n") << seen.err;
  EXPECT_THAT(fails({"run", "--rm", "--ipc", "container:private", "busybox", "true"}), HasSubstr("non-shareable IPC"));
  EXPECT_THAT(fails({"run", "--rm", "--pid", "container:nobody", "busybox", "true"}), HasSubstr("No such container: nobody"));
  ASSERT_EQ(d().ctl({"stop", "-t", "0", "donor"}).exit_code, 0);
  EXPECT_THAT(fails({"run", "--rm", "--pid", "container:donor", "busybox", "true"}), HasSubstr("is not running"));
  // A stopped container's /dev/shm is unmounted (the exit's job), and a
  // start mounts a new one.
  for (int i = 0; i < 500 && d().mounts_under(shm) > 0; i++) ::usleep(10000);
  EXPECT_EQ(d().mounts_under(shm), 0);
  ASSERT_EQ(d().ctl({"start", "donor"}).exit_code, 0);
  EXPECT_EQ(d().mounts_under(shm), 1);
  EXPECT_EQ(d().ctl({"exec", "donor", "ls", "/dev/shm"}).out, "");
  EXPECT_EQ(d().ctl({"rm", "-f", "donor", "private"}).exit_code, 0);
  EXPECT_EQ(d().mounts_under(shm), 0);
}

TEST_F(SecurityOptionsTest, ExecPrivilegedKeepsTheContainersFilter) {
  auto id = d().ctl({"run", "-d", "--name", "ep", "busybox", "sleep", "1000"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  auto r = d().ctl({"exec", "--privileged", "ep", "sh", "-c",
                    "grep -E '^(CapEff|Seccomp):' /proc/self/status; mount -t tmpfs t /tmp 2>/dev/null || echo refused"});
  // Every capability, but the container's seccomp filter (compiled for its
  // own capabilities) still refuses mount, as runc's exec does.
  EXPECT_THAT(r.out, HasSubstr("Seccomp:\t2\nrefused\n"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("CapEff:\t00000000a80425fb")));
  EXPECT_EQ(d().ctl({"exec", "ep", "grep", "CapEff", "/proc/self/status"}).out, "CapEff:\t00000000a80425fb\n");
  EXPECT_EQ(d().ctl({"rm", "-f", "ep"}).exit_code, 0);
}

TEST_F(SecurityOptionsTest, RefusedWithTheirNames) {
  EXPECT_THAT(fails({"run", "--rm", "--security-opt", "apparmor=unconfined", "busybox", "true"}),
              HasSubstr("AppArmor or SELinux"));
  EXPECT_THAT(fails({"run", "--rm", "--security-opt", "label=disable", "busybox", "true"}), HasSubstr("AppArmor or SELinux"));
  EXPECT_THAT(fails({"run", "--rm", "--userns", "private", "busybox", "true"}),
              HasSubstr("HostConfig.UsernsMode: only host"));
  EXPECT_THAT(fails({"run", "--rm", "--runtime", "runc", "busybox", "true"}), HasSubstr("unknown or invalid runtime name"));
  EXPECT_THAT(fails({"run", "--rm", "--sysctl", "kernel.panic=1", "busybox", "true"}), HasSubstr("not whitelisted"));
  EXPECT_THAT(fails({"run", "--rm", "--security-opt", "bogus=1", "busybox", "true"}), HasSubstr("invalid --security-opt"));
  EXPECT_EQ(d().ctl({"ps", "-aq"}).out, "");
}

// One line of mountinfo: the superblock's device, the mount point, the
// per-mount options and the filesystem type.
struct MountLine {
  std::string dev, target, options, fstype;
};

std::vector<MountLine> parse_mountinfo(const std::string& text) {
  std::vector<MountLine> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, target, options, field;
    if (!(f >> id >> parent >> dev >> root >> target >> options)) continue;
    while (f >> field && field != "-") {
    }
    std::string fstype;
    f >> fstype;
    out.push_back({dev, target, options, fstype});
  }
  return out;
}

std::string dev_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return "?";
  return std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
}

// The container's superblocks that the host does not have, each named by
// its device and its first mount.
std::map<std::string, std::string> own_superblocks(const std::vector<MountLine>& container) {
  std::ifstream host_file("/proc/self/mountinfo");
  std::stringstream host;
  host << host_file.rdbuf();
  std::set<std::string> host_devs;
  std::map<std::string, std::string> own;
  for (const auto& m : parse_mountinfo(host.str())) host_devs.insert(m.dev);
  for (const auto& m : container)
    if (!host_devs.count(m.dev)) own.emplace(m.dev, m.fstype + " " + m.target);
  return own;
}

// Without CAP_SYS_ADMIN, the masked directories and the v1 cgroup view are
// read-only binds of berthd's shared directories, and a --network none
// container's /sys is the one sysfs of berthd's lo-only namespace: not
// superblocks of the container's own (each costs every memory cgroup a
// shrinker slot). With it, the container could remount them writable, so
// it keeps its own.
TEST_F(SecurityOptionsTest, MaskedDirsAndCgroupViewAreSharedBindsUnlessSysAdmin) {
  bool v1 = std::filesystem::exists("/sys/fs/cgroup/memory/cgroup.procs");
  auto shared = parse_mountinfo(run_ok({"busybox", "sh", "-c",
                                        "touch /proc/acpi/x /sys/firmware/x 2>/dev/null && echo wrote >&2;"
                                        " cat /proc/self/mountinfo"}));
  std::string empty_dev = dev_of(d().root() + "/empty");
  int masks = 0;
  for (const auto& m : shared) {
    if (m.target == "/proc/acpi" || m.target == "/proc/scsi" || m.target == "/sys/firmware") {
      masks++;
      EXPECT_EQ(m.dev, empty_dev) << m.target;
      EXPECT_EQ(m.options.rfind("ro,", 0), 0u) << m.target << " " << m.options;
    }
    if (m.target == "/sys/fs/cgroup" && v1) {
      EXPECT_EQ(m.dev, dev_of(d().root() + "/cgroup-view"));
      EXPECT_EQ(m.options.rfind("ro,", 0), 0u) << m.options;
    }
  }
  EXPECT_GT(masks, 0);
  // overlay, proc, /dev, devpts, /dev/shm, mqueue and sysfs.
  auto own = own_superblocks(shared);
  EXPECT_EQ(own.size(), 7u) << ::testing::PrintToString(own);
  EXPECT_TRUE(std::filesystem::is_empty(d().root() + "/empty"));

  // --network none: the sysfs of berthd's lo-only namespace, one for all
  // such containers (two at once here, so that a superblock freed by one
  // cannot lend its device number to the other), and only lo in it.
  ASSERT_EQ(d().ctl({"run", "-d", "--name", "none1", "--network", "none", "busybox", "sleep", "1000"}).exit_code, 0);
  auto sys_dev = [](const std::vector<MountLine>& ms) {
    for (const auto& m : ms)
      if (m.target == "/sys") return m.dev;
    return std::string("none");
  };
  auto exec1 = d().ctl({"exec", "none1", "cat", "/proc/self/mountinfo"});
  ASSERT_EQ(exec1.exit_code, 0) << exec1.err;
  auto none1 = parse_mountinfo(exec1.out);
  auto none2 = parse_mountinfo(run_ok({"--network", "none", "busybox", "sh", "-c",
                                       "ls /sys/class/net >&2; cat /proc/self/mountinfo"}));
  EXPECT_EQ(sys_dev(none1), sys_dev(none2));
  // A bridge container's sysfs is its own. Compared with one that is still
  // running: an exited one's device number is free to be taken again.
  ASSERT_EQ(d().ctl({"run", "-d", "--name", "bridged1", "busybox", "sleep", "1000"}).exit_code, 0);
  auto exec_br = d().ctl({"exec", "bridged1", "cat", "/proc/self/mountinfo"});
  ASSERT_EQ(exec_br.exit_code, 0) << exec_br.err;
  auto bridged = parse_mountinfo(exec_br.out);
  EXPECT_NE(sys_dev(bridged), "none");
  EXPECT_NE(sys_dev(none1), sys_dev(bridged));
  EXPECT_EQ(d().ctl({"rm", "-f", "bridged1"}).exit_code, 0);
  // Its own: neither the host's nor another container's (the shared sysfs
  // is in neither the host's mount table nor its own alone).
  auto own2 = own_superblocks(none2);
  for (const auto& m : none1) own2.erase(m.dev);
  EXPECT_EQ(own2.size(), 6u) << ::testing::PrintToString(own2);
  auto lo = d().ctl({"run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"});
  EXPECT_EQ(lo.out, "lo\n");
  EXPECT_EQ(d().ctl({"rm", "-f", "none1"}).exit_code, 0);

  auto admin = parse_mountinfo(run_ok({"--cap-add", "SYS_ADMIN", "busybox", "cat", "/proc/self/mountinfo"}));
  for (const auto& m : admin) {
    if (m.target == "/proc/acpi" || (m.target == "/sys/fs/cgroup" && v1)) {
      EXPECT_EQ(m.fstype, "tmpfs") << m.target;
    }
  }
  EXPECT_EQ(own_superblocks(admin).size(), v1 ? 9u : 8u) << ::testing::PrintToString(own_superblocks(admin));
}

// What is put into the shared empty directory would show in every
// container's masked directories: berthd refuses to start over it.
TEST_F(SecurityOptionsTest, DaemonRefusesAnEmptyDirThatIsNotEmpty) {
  TestDaemon own;
  std::string err;
  ASSERT_TRUE(own.start(&err)) << err;
  ASSERT_EQ(own.stop(), 0);
  // An empty directory there is taken away (a v1 hierarchy of an earlier
  // start leaves one in cgroup-view/); anything else stops the start.
  ASSERT_EQ(::mkdir((own.root() + "/empty/gone").c_str(), 0755), 0) << std::strerror(errno);
  std::string stray = own.root() + "/empty/stray";
  std::ofstream(stray) << "seen by every container";
  EXPECT_FALSE(own.start(&err));
  EXPECT_THAT(err, HasSubstr("holds stray, which berthd did not put there"));
  ASSERT_EQ(::unlink(stray.c_str()), 0);
  ASSERT_TRUE(own.start(&err)) << err;
  EXPECT_TRUE(std::filesystem::is_empty(own.root() + "/empty"));
  EXPECT_EQ(own.stop(), 0);
}

TEST_F(SecurityOptionsTest, InspectShowsTheOptions) {
  ASSERT_EQ(d().ctl({"create", "--name", "shown", "--cap-add", "net_admin", "--cap-drop", "MKNOD", "--shm-size", "1m",
                     "--ulimit", "nofile=10:20", "--security-opt", "no-new-privileges", "--ipc", "shareable",
                     "--device", "/dev/loop-control", "--group-add", "audio", "busybox", "true"})
                .exit_code,
            0);
  Json hc = inspect("shown")["HostConfig"];
  EXPECT_EQ(hc["CapAdd"], Json::array({"CAP_NET_ADMIN"}));
  EXPECT_EQ(hc["CapDrop"], Json::array({"CAP_MKNOD"}));
  EXPECT_EQ(hc["ShmSize"], 1 << 20);
  EXPECT_EQ(hc["IpcMode"], "shareable");
  EXPECT_EQ(hc["PidMode"], "");
  EXPECT_EQ(hc["Privileged"], false);
  EXPECT_EQ(hc["SecurityOpt"], Json::array({"no-new-privileges"}));
  EXPECT_EQ(hc["Ulimits"], Json::parse(R"([{"Name":"nofile","Hard":20,"Soft":10}])"));
  EXPECT_EQ(hc["Devices"][0]["PathInContainer"], "/dev/loop-control");
  EXPECT_EQ(hc["GroupAdd"], Json::array({"audio"}));
  EXPECT_TRUE(hc["MaskedPaths"].is_array());
  EXPECT_EQ(d().ctl({"rm", "shown"}).exit_code, 0);
}

// The options are in the state file: after a daemon restart the container
// starts with the same confinement.
TEST_F(SecurityOptionsTest, OptionsSurviveADaemonRestart) {
  TestDaemon own;
  std::string err;
  ASSERT_TRUE(own.start(&err)) << err;
  ASSERT_TRUE(own.import_busybox(&err)) << err;
  std::string profile = own.dir() + "/nomkdir.json";
  std::ofstream(profile) << R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]})";
  auto made = own.ctl({"create", "--name", "kept", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                       "--security-opt", "seccomp=" + profile, "--device", "/dev/loop-control:/dev/lc:r",
                       "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
                       "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; ulimit -n; ls /dev/lc;"
                       " mkdir /tmp/d 2>/dev/null || echo no-mkdir"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(own.stop(), 0);
  ASSERT_TRUE(own.start(&err)) << err;
  ASSERT_EQ(own.ctl({"start", "kept"}).exit_code, 0);
  EXPECT_EQ(own.ctl({"wait", "kept"}).out, "0\n");
  EXPECT_EQ(own.ctl({"logs", "kept"}).out, "CapEff:\t0000000000000000\nNoNewPrivs:\t1\n100\n/dev/lc\nno-mkdir\n");
  EXPECT_EQ(own.ctl({"rm", "kept"}).exit_code, 0);
  EXPECT_EQ(own.stop(), 0);
}

}  // namespace
}  // namespace berth::test
