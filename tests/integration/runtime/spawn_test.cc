// Real containers: spawn busybox (and berth-testinit, when built next to this
// binary) on an overlay of a temp-dir image. Needs root; skips otherwise.
// Each test checks that no mount under its temp dir is left on the host.
#include "core/runtime/spawn.h"
#include "netns/netns.h"

#include <sys/ioctl.h>

#include <chrono>

#include "tests/integration/runtime/spawn_fixture.h"

namespace berth::runtime {
namespace {

using namespace spawn_testing;  // NOLINT(build/namespaces): the fixture and its helpers


TEST_F(SpawnTest, ShellIsPid1WithHostnameAndOnlyTheImageRoot) {
  Outcome o = sh("echo $$; hostname; ls /");
  EXPECT_RAN(o);
  EXPECT_EQ(o.status.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "1\nberth-test\nbin\ndev\netc\nhome\nproc\nsys\n");
}

TEST_F(SpawnTest, ExitCodeAndSignalPropagate) {
  Outcome o = sh("exit 7");
  EXPECT_RAN(o);
  EXPECT_EQ(o.status.exit_code, 7);
  EXPECT_EQ(o.status.signal, 0);

  Spec s = spec_;
  s.args = {"sleep", "100"};
  auto p = spawn(s);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_TRUE(release(*p));
  ASSERT_TRUE(wait_exec(*p, s));
  auto running = reap(p->pidfd.get());
  ASSERT_TRUE(running);
  EXPECT_FALSE(running->has_value());
  ASSERT_TRUE(kill(p->pidfd.get(), SIGKILL));
  ExitStatus st = wait_exit(p->pidfd.get());
  EXPECT_EQ(st.exit_code, 137);
  EXPECT_EQ(st.signal, SIGKILL);
  auto again = reap(p->pidfd.get());  // reaped: nothing left to wait for
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().sys_errno(), ECHILD);
}

TEST_F(SpawnTest, MissingAndNonExecutableCommands) {
  Spec s = spec_;
  s.args = {"nope"};
  Outcome o = run(s);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(o.status.exit_code, 127);

  s.args = {"/bin/nope"};
  o = run(s);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "exec /bin/nope: no such file or directory");

  s.args = {"/etc/passwd"};
  o = run(s);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "exec /etc/passwd: permission denied");

  s.args = {"/etc/passwd/x"};
  o = run(s);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "exec /etc/passwd/x: not a directory");

  s.args = {"passwd"};  // found, not executable: EACCES wins over later ENOENTs
  s.env = {"PATH=/etc:/bin"};
  o = run(s);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "exec: \"passwd\": permission denied");
}

TEST_F(SpawnTest, NumericUser) {
  spec_.user = "1000:1000";  // uid 1000 is alice: her home and groups apply, as in runc
  Outcome o = sh("id -u; id -g; id -G; echo $HOME");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "1000\n1000\n1000 50\n/home/alice\n");

  spec_.user = "4242";
  o = sh("id -u; id -g; echo $HOME");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "4242\n0\n/\n");
}

TEST_F(SpawnTest, UserByNameAndGroups) {
  spec_.user = "alice";
  Outcome o = sh("id -u; id -g; id -G; echo $HOME");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "1000\n1000\n1000 50\n/home/alice\n");

  spec_.user = "";
  o = sh("id -u; id -G; echo $HOME");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "0\n0 10\n/root\n");
}

TEST_F(SpawnTest, UnknownUserAndGroup) {
  spec_.user = "nope";
  Outcome o = sh("true");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "unable to find user nope: no matching entries in passwd file");
  spec_.user = "alice:nogroup";
  o = sh("true");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "unable to find group nogroup: no matching entries in group file");
}

TEST_F(SpawnTest, PasswdThatIsNotAFileFailsInsteadOfHanging) {
  std::string top = dir_ + "/fifo-layer";
  stdfs::create_directories(top + "/etc");
  ASSERT_EQ(::mkfifo((top + "/etc/passwd").c_str(), 0644), 0);
  spec_.lower_dirs = {image_, top};
  Outcome o = sh("true");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "read /etc/passwd: invalid argument");
}

TEST_F(SpawnTest, WorkingDirIsCreated) {
  spec_.cwd = "/srv/app/data";
  Outcome o = sh("pwd");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "/srv/app/data\n");
  EXPECT_TRUE(stdfs::is_directory(spec_.upper_dir + "/srv/app/data"));

  spec_.cwd = "/etc/passwd";
  o = sh("pwd");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(),
            "chdir to cwd (\"/etc/passwd\") set in container config failed: not a directory");
}

TEST_F(SpawnTest, OnlyStdioFdsAreOpen) {
  int leak = ::dup(2);  // no O_CLOEXEC: the child must close it anyway
  ASSERT_GE(leak, 0);
  Outcome o = sh("ls /proc/self/fd");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "0\n1\n2\n3\n");  // 3 is ls's own directory fd
  if (have_testinit()) {
    Spec s = spec_;
    s.args = {"berth-testinit", "fds"};
    o = run(s);
    EXPECT_RAN(o);
    EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 3) << o.out;
    EXPECT_EQ(o.out.substr(0, 5), "0 -> ") << o.out;
  }
  ::close(leak);
}

TEST_F(SpawnTest, NoHostMountAndUpperHoldsWrites) {
  auto before = host_mounts_under(dir_);
  Spec s = spec_;
  s.args = {"sh", "-c", "echo hi > /hello; mkdir -p /data; echo x > /data/f; echo ready; sleep 100"};
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  unique_fd out_r(out[0]), out_w(out[1]);
  s.stdout_fd = out_w.get();
  auto p = spawn(s);
  ASSERT_TRUE(p) << p.error().message();
  out_w.reset();
  ASSERT_TRUE(release(*p));
  ASSERT_TRUE(wait_exec(*p, s));
  char buf[6] = {};
  ASSERT_EQ(::read(out_r.get(), buf, 6), 6);
  EXPECT_EQ(std::string(buf, 6), "ready\n");
  // The overlay exists only in the container's mount namespace.
  EXPECT_EQ(host_mounts_under(dir_), before);
  ASSERT_TRUE(kill(p->pidfd.get(), SIGKILL));
  EXPECT_EQ(wait_exit(p->pidfd.get()).exit_code, 137);
  EXPECT_EQ(read_text(s.upper_dir + "/hello"), "hi\n");
  EXPECT_EQ(read_text(s.upper_dir + "/data/f"), "x\n");
  EXPECT_FALSE(stdfs::exists(image_ + "/hello"));
}

TEST_F(SpawnTest, StdinPipeAndDevNull) {
  Spec s = spec_;
  s.args = {"cat"};
  std::string input = "hello through the pipe\n";
  Outcome o = run(s, &input);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, input);
  o = run(s);  // stdin -1: /dev/null, cat sees EOF at once
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.status.exit_code, 0);
}

TEST_F(SpawnTest, NewNetnsHasOnlyLoAndItIsUp) {
  Outcome o = sh("ls /sys/class/net; cat /sys/class/net/lo/flags");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "lo\n0x9\n");  // IFF_UP | IFF_LOOPBACK
}

TEST_F(SpawnTest, HostNetworkSharesHostDevices) {
  spec_.new_netns = false;
  std::vector<std::string> names;
  for (auto& e : stdfs::directory_iterator("/sys/class/net")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  std::string want;
  for (const auto& n : names) want += n + "\n";
  Outcome o = sh("ls /sys/class/net; touch /sys/x 2>/dev/null || echo ro");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, want + "ro\n");
}

TEST_F(SpawnTest, DevicesProcMasksAndReadonlyPaths) {
  Outcome o = sh(
      "ls /dev; readlink /dev/fd; echo x > /dev/null && echo null-ok; wc -c < /proc/keys; wc -c < /proc/timer_list;"
      " touch /proc/sysrq-trigger 2>/dev/null || echo sysrq-ro;"
      " touch /sys/kernel/x 2>/dev/null || echo sys-ro; ls /sys/firmware | wc -l");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out,
            "fd\nfull\nmqueue\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n"
            "/proc/self/fd\nnull-ok\n0\n0\nsysrq-ro\nsys-ro\n0\n");
}

TEST_F(SpawnTest, DeviceNodesAreMadeNotBound) {
  Outcome o = sh(
      "stat -c '%n %F %t:%T %a %u' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty;"
      " head -c 4 /dev/zero | wc -c; grep -c ' /dev/null ' /proc/self/mountinfo");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out,
            "/dev/null character special file 1:3 666 0\n/dev/zero character special file 1:5 666 0\n"
            "/dev/full character special file 1:7 666 0\n/dev/random character special file 1:8 666 0\n"
            "/dev/urandom character special file 1:9 666 0\n/dev/tty character special file 5:0 666 0\n"
            "4\n0\n");  // no mount on /dev/null: a node in /dev's tmpfs
}

// Writes `text` to a cgroup file; false (with errno) on failure.
bool write_cgroup(const std::string& path, const std::string& text) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == ssize_t(text.size());
}

// A v1 devices cgroup without "m" makes mknod fail with EPERM (as a user
// namespace would): the devices are then the host's nodes, bound.
TEST_F(SpawnTest, DevicesAreBoundWhenMknodIsNotAllowed) {
  const std::string root = "/sys/fs/cgroup/devices";
  if (!stdfs::exists(root + "/devices.deny")) GTEST_SKIP() << "no cgroup v1 devices controller";
  std::string cg = root + "/berth-rt-test-" + random_id().substr(0, 12);
  ASSERT_EQ(::mkdir(cg.c_str(), 0755), 0) << strerror(errno);
  struct RemoveCgroup {
    std::string path;
    ~RemoveCgroup() { EXPECT_EQ(::rmdir(path.c_str()), 0) << path << ": " << strerror(errno); }
  } remove_at_end{cg};
  ASSERT_TRUE(write_cgroup(cg + "/devices.deny", "a")) << strerror(errno);
  ASSERT_TRUE(write_cgroup(cg + "/devices.allow", "c *:* rw")) << strerror(errno);

  // The child mounts before release(), in the cgroup it was cloned into: so
  // spawn from a process that is itself in the restricted cgroup (the case
  // of a berthd whose own cgroup forbids mknod).
  Spec s = spec_;
  s.args = {"sh", "-c", "echo x > /dev/null && echo null-ok; grep -c ' /dev/null ' /proc/self/mountinfo"};
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  unique_fd result_r(pipe_fds[0]), result_w(pipe_fds[1]);
  pid_t helper = ::fork();
  ASSERT_GE(helper, 0);
  if (helper == 0) {
    if (!write_cgroup(cg + "/cgroup.procs", "0")) ::_exit(2);
    Outcome o = run(s);
    std::string report = (o.exec ? "" : "exec failed: " + o.exec.error().message() + "\n") + o.out + o.err;
    ::_exit(write_all(result_w.get(), report) && o.status.exit_code == 0 ? 0 : 1);
  }
  result_w.reset();
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = ::read(result_r.get(), buf, sizeof buf)) > 0;) report.append(buf, size_t(n));
  int status = 0;
  ASSERT_EQ(::waitpid(helper, &status, 0), helper);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << report;
  EXPECT_EQ(report, "null-ok\n1\n");
}

TEST_F(SpawnTest, CapabilitiesNoNewPrivsAndCgroupNamespace) {
  Outcome o = sh("grep -E '^(CapEff|CapBnd|CapInh|NoNewPrivs)' /proc/self/status; cat /proc/self/cgroup");
  EXPECT_RAN(o);
  EXPECT_NE(o.out.find("CapInh:\t0000000000000000\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("CapEff:\t00000000a80425fb\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("CapBnd:\t00000000a80425fb\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("NoNewPrivs:\t0\n"), std::string::npos) << o.out;  // Docker: only with no-new-privileges
  for (const auto& line : split(o.out.substr(o.out.find("NoNewPrivs")), '\n'))
    if (std::count(line.begin(), line.end(), ':') >= 2) {
      EXPECT_EQ(line.back(), '/') << "cgroup namespace not rooted at the container's cgroup: " << line;
    }

  spec_.user = "1000";
  o = sh("grep -E '^(CapEff|CapPrm)' /proc/self/status");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n");
}

// Spec::signals_blocked (berth-init's): the command is exec'd with every
// signal blocked, so none sent after the start is dropped before its
// sigwaitinfo; without it, none is.
TEST_F(SpawnTest, SignalsBlockedAtExecOnlyWhenAsked) {
  Outcome o = sh("grep SigBlk /proc/self/status");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "SigBlk:\t0000000000000000\n");
  spec_.signals_blocked = true;
  o = sh("grep SigBlk /proc/self/status");
  EXPECT_RAN(o);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD, SIGWINCH})
    EXPECT_TRUE(blocks_signal(o.out, sig)) << "signal " << sig << " not blocked: " << o.out;
}

TEST_F(SpawnTest, UmaskIsNotBerthds) {
  mode_t old = ::umask(077);
  spec_.user = "1000";
  spec_.cwd = "/fresh";
  Outcome o = sh("umask; stat -c %a /fresh /dev/shm /proc");
  ::umask(old);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "0022\n755\n1777\n555\n");
}

// The mount point of a cgroup2 hierarchy, or "" (v1-only hosts).
std::string cgroup2_root() {
  std::istringstream in(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    auto f = split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (dash != f.end() && dash + 1 != f.end() && dash[1] == "cgroup2") return f[4];
  }
  return "";
}

TEST_F(SpawnTest, IntoCgroupV2WithItsOwnNamespace) {
  std::string root = cgroup2_root();
  if (root.empty()) GTEST_SKIP() << "no cgroup2 hierarchy mounted";
  std::string name = "berth-rt-test-" + random_id().substr(0, 12);
  std::string cg = root + "/" + name;
  ASSERT_EQ(::mkdir(cg.c_str(), 0755), 0) << strerror(errno);
  struct RemoveCgroup {
    std::string path;
    ~RemoveCgroup() { EXPECT_EQ(::rmdir(path.c_str()), 0) << path << ": " << strerror(errno); }
  } remove_at_end{cg};
  auto fd = open_fd(cg, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(fd);
  spec_.cgroup_fd = fd->get();

  Outcome o = sh("grep '^0::' /proc/self/cgroup");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "0::/\n");  // the cgroup namespace is rooted at its own cgroup

  // It starts there (no cgroup.procs write): look from outside before release.
  spec_.args = {"true"};
  auto p = spawn(spec_);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_NE(read_text(fmt::format("/proc/{}/cgroup", p->pid)).find("0::/" + name + "\n"), std::string::npos);
  p->sync_fd.reset();
  wait_exit(p->pidfd.get());
}

// A pty from the container's own devpts: the slave is stdio and the
// controlling terminal with the requested size, the master reaches the
// parent, and a window change through the master arrives as SIGWINCH.
TEST_F(SpawnTest, TtyIsTheControllingTerminalOfTheContainersOwnDevpts) {
  spec_.tty = true;
  spec_.tty_rows = 31;
  spec_.tty_cols = 97;
  spec_.user = "1000";
  spec_.args = {"sh", "-c",
                "tty; stty size; ls -1 /dev/pts; stat -c %u /proc/self/fd/0; "
                "trap 'stty size; exit 3' WINCH; echo ready; while :; do sleep 0.05; done"};
  auto p = spawn(spec_);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_TRUE(release(*p));
  ASSERT_TRUE(wait_exec(*p, spec_));
  auto master = receive_pty(*p);
  ASSERT_TRUE(master) << master.error().message();
  EXPECT_FALSE(p->sync_fd);
  std::string out;
  auto read_until = [&](std::string_view what) {
    char buf[4096];
    while (out.find(what) == std::string::npos) {
      ssize_t n = ::read(master->get(), buf, sizeof buf);
      if (n <= 0) break;  // EIO once every slave fd is closed
      out.append(buf, size_t(n));
    }
  };
  read_until("ready\r\n");
  // The pty turns \n into \r\n (ONLCR), like a terminal.
  EXPECT_EQ(out, "/dev/pts/0\r\n31 97\r\n0\r\nptmx\r\n1000\r\nready\r\n");
  struct winsize ws {};
  ws.ws_row = 40;
  ws.ws_col = 120;
  ASSERT_EQ(::ioctl(master->get(), TIOCSWINSZ, &ws), 0);
  read_until("40 120\r\n");
  EXPECT_NE(out.find("ready\r\n40 120\r\n"), std::string::npos) << out;
  ExitStatus st = wait_exit(p->pidfd.get());
  EXPECT_EQ(st.exit_code, 3);
}

TEST_F(SpawnTest, ReadonlyRootfs) {
  spec_.readonly_rootfs = true;
  spec_.cwd = "/made/before/ro";
  Outcome o = sh("pwd; touch /x 2>/dev/null || echo root-ro; touch /dev/shm/x && echo shm-rw");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "/made/before/ro\nroot-ro\nshm-rw\n");
}

TEST_F(SpawnTest, LayersStackTopFirst) {
  std::string top = dir_ + "/layer1";
  stdfs::create_directories(top + "/etc");
  write_text(top + "/etc/motd", "top\n");
  write_text(top + "/etc/only-top", "1\n");
  spec_.lower_dirs = {image_, top};  // lowest first
  Outcome o = sh("cat /etc/motd /etc/only-top; ls /bin/busybox");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "top\n1\n/bin/busybox\n");
}

TEST_F(SpawnTest, ClosingSyncWithoutReleaseEndsChildQuietly) {
  spec_.args = {"true"};
  auto p = spawn(spec_);
  ASSERT_TRUE(p) << p.error().message();
  p->sync_fd.reset();
  ExitStatus st = wait_exit(p->pidfd.get());
  EXPECT_EQ(st.exit_code, 0);
  char b;
  EXPECT_EQ(::read(p->error_fd.get(), &b, 1), 0);  // no ChildError
}

// The init dies with the thread that spawned it, before and after exec, for
// root and for a non-root user (whose credential change clears PDEATHSIG).
TEST_F(SpawnTest, InitDiesWithItsParent) {
  for (const char* user : {"", "1000"}) {
    Spec s = spec_;
    s.user = user;
    s.args = {"sleep", "100"};
    int pids[2], go[2];
    ASSERT_EQ(::pipe2(pids, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
    pid_t helper = ::fork();
    ASSERT_GE(helper, 0);
    if (helper == 0) {  // test_in_child_process: spawn, report the pid, wait, exit
      ::close(pids[0]);
      ::close(go[1]);
      auto p = spawn(s);
      if (!p || !release(*p) || !wait_exec(*p, s)) ::_exit(1);
      pid_t pid = p->pid;
      char b;
      if (::write(pids[1], &pid, sizeof pid) != sizeof pid || ::read(go[0], &b, 1) < 0) ::_exit(1);
      ::_exit(0);
    }
    ::close(pids[1]);
    ::close(go[0]);
    pid_t pid = -1;
    ASSERT_EQ(::read(pids[0], &pid, sizeof pid), ssize_t(sizeof pid)) << "user " << user;
    unique_fd pidfd(int(::syscall(SYS_pidfd_open, pid, 0)));
    ASSERT_TRUE(pidfd) << strerror(errno);
    ::close(go[1]);  // the helper exits now
    int status;
    ASSERT_EQ(::waitpid(helper, &status, 0), helper);
    EXPECT_EQ(status, 0);
    pollfd pfd{pidfd.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 5000), 1) << "container of user \"" << user << "\" outlived its parent";
    ::close(pids[0]);
  }
}

TEST_F(SpawnTest, TestinitVerbs) {
  if (!have_testinit()) GTEST_SKIP() << "berth-testinit not built next to this binary";
  Spec s = spec_;
  s.args = {"berth-testinit", "pid"};
  Outcome o = run(s);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "1\n");
  s.args = {"/bin/berth-testinit", "isatty"};
  o = run(s);
  EXPECT_EQ(o.out, "stdin notty\nstdout notty\nstderr notty\n");
  s.args = {"berth-testinit", "env"};
  o = run(s);
  EXPECT_EQ(o.out, "PATH=/bin\nTERM=dumb\nHOME=/root\n");
  s.args = {"berth-testinit", "exit", "3"};
  EXPECT_EQ(run(s).status.exit_code, 3);
}

// Informational (no assertion on time): spawn() to exit of /bin/true, and
// its phases, with a new netns, the host's, and a pre-made one (the engine's
// pool; made before the timed loop, as the pool does in the background).
TEST_F(SpawnTest, SpawnToExitLatency) {
  constexpr int kRuns = 200;
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto pct = [](std::vector<double> v, int p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, v.size() * size_t(p) / 100)];
  };
  enum class Net { kNew, kHost, kPooled };
  for (Net net : {Net::kNew, Net::kHost, Net::kPooled}) {
    std::vector<unique_fd> pool;
    for (int i = 0; net == Net::kPooled && i < kRuns; i++) {
      auto fd = netns::create_netns();
      ASSERT_TRUE(fd) << fd.error().message();
      pool.push_back(std::move(*fd));
    }
    std::vector<double> total, clone, exec, exit;
    for (int i = 0; i < kRuns; i++) {
      Spec s = container_spec(fmt::format("b{}-{}", int(net), i));
      s.args = {"/bin/true"};
      s.new_netns = net != Net::kHost;
      if (net == Net::kPooled) s.netns_fd = pool[size_t(i)].get();
      auto t0 = Clock::now();
      auto p = spawn(s);
      auto t1 = Clock::now();
      ASSERT_TRUE(p) << p.error().message();
      // As the engine does: the container keeps its netns alive, so it is
      // torn down (asynchronously, as a cloned one) when the container exits.
      if (net == Net::kPooled) pool[size_t(i)].reset();
      ASSERT_TRUE(release(*p));
      ASSERT_TRUE(wait_exec(*p, s));
      auto t2 = Clock::now();
      ExitStatus st = wait_exit(p->pidfd.get());
      auto t3 = Clock::now();
      ASSERT_EQ(st.exit_code, 0);
      total.push_back(ms(t3 - t0));
      clone.push_back(ms(t1 - t0));
      exec.push_back(ms(t2 - t1));
      exit.push_back(ms(t3 - t2));
    }
    const char* name = net == Net::kNew ? "new netns" : net == Net::kHost ? "host netns" : "pooled netns";
    std::printf("[ spawn-to-exit of /bin/true, %s, %d runs ] p50 %.2f ms  p99 %.2f ms"
                "  (p50: spawn() %.2f, release to exec %.2f, exec to reaped %.2f)\n",
                name, kRuns, pct(total, 50), pct(total, 99), pct(clone, 50), pct(exec, 50), pct(exit, 50));
  }
}

}  // namespace
}  // namespace berth::runtime
