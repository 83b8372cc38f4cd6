// The security findings of the confinement issue, reproduced with the real
// docker CLI against berthd exactly as they were found, and passing now:
// host devices, seccomp (user namespaces with mounts, the host keyring),
// --cap-drop ALL, --privileged, a seccomp profile file, no_new_privs, the
// options that are refused, and two runc CVEs (CVE-2024-21626, a working
// directory through a leaked fd; CVE-2019-5736, berthd's binary seen
// through /proc/<pid>/exe of an exec). Skipped where no docker CLI exists.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;

class DockerSecurity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || !have_program("docker")) return;
    daemon_ = std::make_unique<TestDaemon>();
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
    ASSERT_TRUE(daemon_) << error_;
  }
  CommandResult docker(std::vector<std::string> args) {
    args.insert(args.begin(), "docker");
    return run_command(args, "", {"DOCKER_HOST=" + daemon_->host(), "DOCKER_CONFIG=" + daemon_->dir() + "/docker-config"});
  }
  // `docker run --rm [flags] busybox sh -c script`, with berth-testinit at /bin.
  CommandResult sh(std::vector<std::string> flags, const std::string& script) {
    std::vector<std::string> args{"run", "--rm", "-v", bin_path("berth-testinit") + ":/bin/berth-testinit:ro"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "sh", "-c", script});
    return docker(args);
  }
  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string error_;
};

// "mknod /dev/v c 7 0; head -c 100 /dev/v; echo hi > /dev/v" read and
// wrote the host console; /dev/hwrng and /dev/loop-control opened too.
TEST_F(DockerSecurity, HostDevicesAreOutOfReach) {
  auto r = sh({}, "mknod /dev/v c 7 0 && echo made; head -c 100 /dev/v; echo hi > /dev/v;"
                  " mknod /dev/hwrng c 10 183; mknod /dev/lc c 10 237;"
                  " for d in /dev/hwrng /dev/lc; do berth-testinit open $d r; done");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "made\nopen: EPERM\nopen: EPERM\n");
  EXPECT_THAT(r.err, HasSubstr("head: /dev/v: Operation not permitted"));
}

// `unshare -U -r sh -c 'mount -t tmpfs t /tmp'` worked inside a container.
TEST_F(DockerSecurity, NoUserNamespaceMounts) {
  auto r = sh({}, "unshare -U -r sh -c 'mount -t tmpfs t /tmp' 2>/dev/null && echo mounted || echo refused;"
                  " berth-testinit syscall unshare-user perf_event_open io_uring_setup personality-norandom");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "refused\nunshare-user: EPERM\nperf_event_open: EPERM\nio_uring_setup: EPERM\npersonality-norandom: EPERM\n");
}

// keyctl read a key from the host root's user keyring.
TEST_F(DockerSecurity, HostKeyringIsOutOfReach) {
  std::string desc = "berth-e2e-" + std::to_string(::getpid());
  long key = ::syscall(SYS_add_key, "user", desc.c_str(), "s3cret", 6, -4 /* KEY_SPEC_USER_KEYRING */);
  if (key < 0) GTEST_SKIP() << "add_key: " << std::strerror(errno);
  auto r = sh({}, "berth-testinit readkey " + desc);
  ::syscall(SYS_keyctl, 21 /* KEYCTL_INVALIDATE */, key);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "readkey: EPERM\n");
}

TEST_F(DockerSecurity, CapDropAllLeavesNoCapability) {
  auto r = docker({"run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "CapEff:\t0000000000000000\n");
}

TEST_F(DockerSecurity, PrivilegedCanMountTmpfs) {
  auto r = docker({"run", "--rm", "--privileged", "busybox", "sh", "-c", "mount -t tmpfs t /tmp && echo mounted"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "mounted\n");
  auto plain = docker({"run", "--rm", "busybox", "sh", "-c", "mount -t tmpfs t /tmp 2>/dev/null || echo refused"});
  EXPECT_EQ(plain.out, "refused\n");
}

TEST_F(DockerSecurity, SeccompProfileFileDenyingMkdir) {
  std::string profile = daemon_->dir() + "/nomkdir.json";
  std::ofstream(profile) << R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})";
  auto r = sh({"--security-opt", "seccomp=" + profile}, "mkdir /x; berth-testinit syscall mkdir");
  EXPECT_EQ(r.out, "mkdir: EPERM\n");
  EXPECT_THAT(r.err, HasSubstr("mkdir: can't create directory '/x': Operation not permitted"));
}

TEST_F(DockerSecurity, NoNewPrivsOnlyWhenAsked) {
  EXPECT_EQ(docker({"run", "--rm", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}).out, "NoNewPrivs:\t0\n");
  EXPECT_EQ(docker({"run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
                    "/proc/self/status"})
                .out,
            "NoNewPrivs:\t1\n");
}

// The options the issue found silently ignored act now, or are refused.
TEST_F(DockerSecurity, OptionsActOrAreRefused) {
  EXPECT_EQ(docker({"run", "--rm", "--group-add", "1234", "busybox", "id", "-G"}).out, "0 10 1234\n");
  EXPECT_EQ(docker({"run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n"}).out, "100\n");
  EXPECT_EQ(docker({"run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat",
                    "/proc/sys/net/ipv4/ip_forward"})
                .out,
            "1\n");
  EXPECT_EQ(docker({"run", "--rm", "--shm-size", "1m", "busybox", "sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'"})
                .out,
            "1024\n");
  EXPECT_EQ(docker({"run", "--rm", "--uts", "host", "busybox", "hostname"}).out, run_command({"hostname"}).out);
  EXPECT_EQ(docker({"run", "--rm", "--device", "/dev/loop-control:/dev/lc:r", "busybox", "ls", "/dev/lc"}).out, "/dev/lc\n");
  for (auto [flags, words] : {std::pair{std::vector<std::string>{"--security-opt", "apparmor=unconfined"}, "AppArmor"},
                              {{"--security-opt", "label=disable"}, "AppArmor or SELinux"},
                              {{"--security-opt", "bogus=1"}, "invalid --security-opt"},
                              {{"--runtime", "runc"}, "unknown or invalid runtime name"},
                              {{"--ipc", "host", "--sysctl", "kernel.shmmax=1"}, "host's IPC namespace"}}) {
    std::vector<std::string> args{"run", "--rm"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "true"});
    auto r = docker(args);
    EXPECT_EQ(r.exit_code, 125) << flags.back();
    EXPECT_THAT(r.err, HasSubstr(words));
  }
  EXPECT_EQ(docker({"ps", "-aq"}).out, "");
}

// CVE-2024-21626: a working directory of /proc/self/fd/N reached a host
// directory through an fd runc leaked. Nothing leaks here, and such a
// working directory is refused for run and exec alike.
TEST_F(DockerSecurity, WorkingDirectoryThroughAnFdIsRefused) {
  for (int fd : {3, 4, 5, 7, 8}) {
    auto r = docker({"run", "--rm", "-w", "/proc/self/fd/" + std::to_string(fd), "busybox", "pwd"});
    EXPECT_NE(r.exit_code, 0) << fd << ": " << r.out;
  }
  auto c = docker({"run", "-d", "--name", "cwd", "busybox", "sleep", "1000"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  for (int fd : {3, 4, 5, 7}) {
    auto r = docker({"exec", "-w", "/proc/self/fd/" + std::to_string(fd), "cwd", "pwd"});
    EXPECT_NE(r.exit_code, 0) << fd << ": " << r.out;
  }
  auto fds = docker({"exec", "cwd", "ls", "/proc/self/fd"});
  EXPECT_EQ(fds.out, "0\n1\n2\n3\n") << "only stdio (and ls's own directory fd) reach the command";
  EXPECT_EQ(docker({"rm", "-f", "cwd"}).exit_code, 0);
}

// CVE-2019-5736: a process joining the container (exec) is a copy of the
// engine until its execve; if its /proc/<pid>/exe can be opened from inside,
// the container can rewrite the engine's binary. A watcher in the container
// tries every new process's exe while execs run: it never sees berthd.
TEST_F(DockerSecurity, ExecNeverShowsBerthdsBinary) {
  auto c = docker({"run", "-d", "--name", "watch", "-v", bin_path("berth-testinit") + ":/bin/berth-testinit:ro", "busybox",
                   "sh", "-c",
                   "while :; do for p in /proc/[0-9]*; do readlink $p/exe; done 2>/dev/null | grep -v -e busybox"
                   " -e berth-testinit >> /tmp/seen; done"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  for (int i = 0; i < 30; i++) EXPECT_EQ(docker({"exec", "watch", "true"}).exit_code, 0);
  auto seen = docker({"exec", "watch", "cat", "/tmp/seen"});
  EXPECT_EQ(seen.exit_code, 0) << seen.err;
  EXPECT_THAT(seen.out, ::testing::Not(HasSubstr("berthd")));
  EXPECT_EQ(docker({"rm", "-f", "watch"}).exit_code, 0);
}

}  // namespace
}  // namespace berth::test
