// Confinement of real containers spawned through core/runtime (no daemon):
// seccomp, capabilities, no_new_privs, the devices cgroup (v1 files, and
// the v2 BPF program on a cgroup2 mount where there is one), privileged,
// masked paths, sysctls, ulimits, groups, namespaces, and the CVE checks
// (CVE-2019-5736 for exec, CVE-2024-21626 for the working directory).
// Needs root; skips otherwise. Each test leaves no mount under its temp
// dir (the fixture checks), and removes the cgroups and keys it made.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <gtest/gtest.h>

#include "cgroups/cgroups.h"
#include "core/runtime/capabilities.h"
#include "core/runtime/late.h"
#include "core/runtime/security.h"
#include "core/runtime/spawn.h"
#include "core/engine/devices.h"
#include "tests/integration/runtime/spawn_fixture.h"

namespace berth::runtime {
namespace {

using namespace spawn_testing;  // NOLINT(build/namespaces): the fixture and its helpers

// Applets the fixture's image lacks, as a layer on top of it.
const char* const kMoreApplets[] = {"unshare", "mount", "umount", "mknod", "head", "ps", "sysctl", "mkdir"};

class SecurityTest : public SpawnTest {
 protected:
  void SetUp() override {
    SpawnTest::SetUp();
    if (IsSkipped()) return;
    std::string tools = dir_ + "/tools";
    stdfs::create_directories(tools + "/bin");
    for (const char* a : kMoreApplets) stdfs::create_symlink("busybox", tools + "/bin/" + a);
    stdfs::create_directories(tools + "/tmp");
    spec_.lower_dirs = {image_, tools};
    if (!have_testinit()) GTEST_SKIP() << "berth-testinit is not built next to this binary";
  }

  Outcome testinit(Spec s, std::vector<std::string> args) {
    args.insert(args.begin(), "berth-testinit");
    s.args = std::move(args);
    return run(s);
  }
  Outcome sh_with(Spec s, const std::string& script) {
    s.args = {"sh", "-c", script};
    return run(s);
  }
};

// A container cgroup from the host's driver, removed at the end.
class TestCgroup {
 public:
  explicit TestCgroup(const std::string& name) {
    auto d = cgroups::detect();
    if (!d) return;
    driver_ = std::move(*d);
    auto c = driver_->create("", name);
    if (c) cg_ = std::move(*c);
  }
  ~TestCgroup() {
    if (cg_) {
      auto r = cg_->destroy();
      EXPECT_TRUE(r) << r.error().message();
    }
    // v1 may have kept its memory cgroup for reuse, in this process's own.
    if (driver_) driver_->drain_pool();
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  cgroups::Cgroup* get() const { return cg_.get(); }
  bool v2() const { return driver_ && driver_->version() == cgroups::Version::kV2; }

 private:
  std::unique_ptr<cgroups::Driver> driver_;
  std::unique_ptr<cgroups::Cgroup> cg_;
};

// The container part of the device test: a node it makes itself
// cannot be read or written, nor can the host's hwrng and loop-control.
const char* const kMknodScript =
    "busybox mknod /dev/v c 7 0 && echo made; busybox mknod /dev/hwrng c 10 183; busybox mknod /dev/lc c 10 237;"
    " for d in /dev/v /dev/hwrng /dev/lc; do berth-testinit open $d r; berth-testinit open $d w; done;"
    " berth-testinit open /dev/null rw; head -c 3 /dev/zero | wc -c";
const char* const kMknodDenied =
    "made\nopen: EPERM\nopen: EPERM\nopen: EPERM\nopen: EPERM\nopen: EPERM\nopen: EPERM\nopen: ok\n3\n";

TEST_F(SecurityTest, MadeDeviceNodesCannotBeOpenedUnderTheDevicesCgroup) {
  TestCgroup cg("berth-sec-" + random_id().substr(0, 12));
  if (!cg.get()) GTEST_SKIP() << "no cgroups here";
  auto set = cg.get()->set_devices(engine::device_cgroup_rules(spec_.security, {}));
  if (!set && set.error().code() == Code::kNotSupported) GTEST_SKIP() << set.error().message();
  ASSERT_TRUE(set) << set.error().message();
  Spec s = spec_;
  s.args = {"sh", "-c", kMknodScript};
  if (cg.v2()) s.cgroup_fd = cg.get()->clone_into_fd();
  Outcome o = run(s, nullptr, [&](const Process& p) {
    if (!cg.v2()) {
      ASSERT_TRUE(cg.get()->add_process(p.pid));
    }
  });
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, kMknodDenied) << o.err;
}

// The v2 BPF device program, on the cgroup2 mount of a hybrid (or v2) host:
// loaded, attached, enforced (the BPF check runs before the v1 one).
TEST_F(SecurityTest, BpfDeviceProgramOnCgroup2) {
  std::string root;
  std::istringstream in(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    auto f = split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (dash != f.end() && dash + 1 != f.end() && dash[1] == "cgroup2") root = f[4];
  }
  if (root.empty()) GTEST_SKIP() << "no cgroup2 mount";
  std::string name = "berth-sec-bpf-" + random_id().substr(0, 12);
  auto driver = cgroups::make_v2(root, "/");
  auto cg = driver->create("/", name);
  ASSERT_TRUE(cg) << cg.error().message();
  struct Remove {
    cgroups::Cgroup* c;
    ~Remove() { EXPECT_TRUE(c->destroy()); }
  } remove{cg->get()};
  auto set = (*cg)->set_devices(cgroups::default_device_rules());
  ASSERT_TRUE(set) << set.error().message();
  Spec s = spec_;
  s.args = {"sh", "-c", kMknodScript};
  s.cgroup_fd = (*cg)->clone_into_fd();
  Outcome o = run(s);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, kMknodDenied) << o.err;
  // Set again (an update): the new program replaces the old one (not added
  // to it: /dev/urandom, allowed before, is not now; /dev/zero only reads).
  ASSERT_TRUE((*cg)->set_devices({{.type = 'c', .major = 1, .minor = 3},
                                  {.type = 'c', .major = 1, .minor = 5, .access = cgroups::kDeviceRead}}));
  s.args = {"sh", "-c", "berth-testinit open /dev/zero r; berth-testinit open /dev/zero w;"
                        " berth-testinit open /dev/urandom r; berth-testinit open /dev/null rw"};
  o = run(s);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "open: ok\nopen: EPERM\nopen: EPERM\nopen: ok\n") << o.err;
}

TEST_F(SecurityTest, DefaultSeccompBlocksHostWideSyscalls) {
  Outcome o = testinit(spec_, {"syscall", "keyctl", "add_key", "request_key", "perf_event_open", "io_uring_setup",
                               "personality-norandom", "personality-query", "bpf", "userfaultfd", "clone3",
                               "unshare-user", "mount", "kexec_load", "open_by_handle_at", "socket-vsock",
                               "socket-inet", "chroot"});
  EXPECT_RAN(o);
  EXPECT_EQ(o.out,
            "keyctl: EPERM\nadd_key: EPERM\nrequest_key: EPERM\nperf_event_open: EPERM\nio_uring_setup: EPERM\n"
            "personality-norandom: EPERM\npersonality-query: ok\nbpf: EPERM\nuserfaultfd: EPERM\nclone3: ENOSYS\n"
            "unshare-user: EPERM\nmount: EPERM\nkexec_load: EPERM\nopen_by_handle_at: EPERM\nsocket-vsock: EPERM\n"
            "socket-inet: ok\nchroot: ok\n")
      << o.err;
  o = sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "NoNewPrivs:\t0\nSeccomp:\t2\n");
}

TEST_F(SecurityTest, UnshareUserNamespaceThenMountFails) {
  Outcome o = sh("unshare -U -r -m sh -c 'mount -t tmpfs t /tmp' && echo mounted || echo refused");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "refused\n");
  EXPECT_NE(o.err.find("Operation not permitted"), std::string::npos) << o.err;
  // Unconfined, the same works: the filter is what stops it.
  Spec s = spec_;
  s.security.seccomp = Security::Seccomp::kUnconfined;
  o = sh_with(s, "unshare -U -r -m sh -c 'mount -t tmpfs t /tmp' && echo mounted || echo refused");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "mounted\n") << o.err;
}

// The keyring finding: the kernel keyring is not namespaced, so an
// unconfined container's root reads the host root's user keyring.
TEST_F(SecurityTest, HostKeyringIsOutOfReach) {
  std::string desc = "berth-sec-" + random_id().substr(0, 12);
  long key = ::syscall(SYS_add_key, "user", desc.c_str(), "s3cret", 6, -4 /* KEY_SPEC_USER_KEYRING */);
  if (key < 0) GTEST_SKIP() << "add_key: " << strerror(errno);
  struct Drop {
    long k;
    ~Drop() { ::syscall(SYS_keyctl, 21 /* KEYCTL_INVALIDATE */, k); }
  } drop{key};
  std::string script = "berth-testinit syscall keyctl; berth-testinit readkey " + desc;
  Outcome o = sh(script);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "keyctl: EPERM\nreadkey: EPERM\n");
  Spec s = spec_;
  s.security.seccomp = Security::Seccomp::kUnconfined;
  o = sh_with(s, script);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "keyctl: ok\nreadkey: s3cret\n");  // what the filter prevents
}

TEST_F(SecurityTest, CapDropAllAndCapAdd) {
  Spec s = spec_;
  s.security.capabilities = *container_capabilities({}, {"ALL"}, false);
  Outcome o = sh_with(s, "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
  s.security.capabilities = *container_capabilities({"sys_admin", "CAP_NET_ADMIN"}, {"chown"}, false);
  o = sh_with(s, "grep -E '^CapEff' /proc/self/status; mount -t tmpfs t /tmp && echo mounted");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, fmt::format("CapEff:\t{:016x}\nmounted\n", s.security.capabilities)) << o.err;
}

TEST_F(SecurityTest, PrivilegedCanMountAndSeesHostDevices) {
  Spec s = spec_;
  s.security.privileged = true;
  Outcome o = sh_with(s,
                      "mount -t tmpfs t /tmp && echo mounted; grep -E '^(Seccomp|CapEff):' /proc/self/status;"
                      " grep -c -E ' /proc/(kcore|keys|sys) ' /proc/self/mountinfo;"
                      " grep ' /sys ' /proc/self/mountinfo | grep -c ' rw,';"
                      " test -c /dev/kmsg && echo kmsg; readlink /dev/ptmx; test -e /dev/console || echo noconsole;"
                      " test -e /dev/pts/0 || echo own-pts");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, fmt::format("mounted\nCapEff:\t{:016x}\nSeccomp:\t0\n0\n1\nkmsg\npts/ptmx\nnoconsole\nown-pts\n",
                               all_capabilities()))
      << o.err;
}

// The default profile without mkdir and mkdirat in its allowlist, as a
// user's profile file would be: both fall to the default action (EPERM).
TEST_F(SecurityTest, SeccompProfileDenyingMkdir) {
  auto p = std::make_shared<SeccompProfile>(*default_seccomp_profile());
  for (auto& rule : p->syscalls) std::erase_if(rule.names, [](const std::string& n) { return n == "mkdir" || n == "mkdirat"; });
  Spec s = spec_;
  s.security.seccomp = Security::Seccomp::kProfile;
  s.security.seccomp_profile = p;
  Outcome o = sh_with(s, "mkdir /tmp/x && echo made || echo refused; berth-testinit syscall mkdir keyctl");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "refused\nmkdir: EPERM\nkeyctl: EPERM\n");
  EXPECT_NE(o.err.find("Operation not permitted"), std::string::npos) << o.err;
}

TEST_F(SecurityTest, NoNewPrivsOnlyWhenAsked) {
  Outcome o = sh("grep NoNewPrivs /proc/self/status");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "NoNewPrivs:\t0\n");
  Spec s = spec_;
  s.security.no_new_privileges = true;
  s.user = "1000";
  o = sh_with(s, "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "NoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST_F(SecurityTest, SysctlsUlimitsGroupsAndShmSize) {
  std::string host_forward = read_text("/proc/sys/net/ipv4/ip_forward");
  Spec s = spec_;
  s.security.sysctls = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}};
  s.security.rlimits = {{RLIMIT_NOFILE, 1024, 2048}};
  s.security.group_add = {"staff", "4242"};
  s.security.shm_size = 1 << 20;
  Outcome o = sh_with(s,
                      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; ulimit -n; ulimit -Hn; id -G;"
                      " grep ' /dev/shm ' /proc/self/mountinfo | grep -o 'size=[0-9a-z]*';"
                      " echo 0 > /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo ro");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "1\n1234\n1024\n2048\n0 10 50 4242\nsize=1024k\nro\n") << o.err;
  EXPECT_EQ(read_text("/proc/sys/net/ipv4/ip_forward"), host_forward);

  s = spec_;
  s.security.sysctls = {{"net.ipv4.nope", "1"}};
  o = sh_with(s, "true");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "write sysctl net.ipv4.nope: no such file or directory");
  s = spec_;
  s.security.group_add = {"nogroup"};
  o = sh_with(s, "true");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "unable to find group nogroup: no matching entries in group file");
  s = spec_;
  s.args = {"true"};
  s.security.sysctls = {{"kernel.panic", "1"}};
  auto p = spawn(s);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("sysctl 'kernel.panic' is not whitelisted"), std::string::npos)
      << p.error().message();
}

TEST_F(SecurityTest, SystempathsUnconfinedAndSymlinkedProc) {
  Spec s = spec_;
  s.security.unmasked_paths = true;
  Outcome o = sh_with(s, "grep -c -E ' /proc/(kcore|keys|sys|timer_list) ' /proc/self/mountinfo");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "0\n");

  // An image whose /proc is a symlink gets no procfs (nor masks) elsewhere.
  std::string top = dir_ + "/proc-link";
  stdfs::create_directories(top + "/tmp/p");
  stdfs::create_symlink("/tmp/p", top + "/proc");
  s = container_spec("fresh");  // an upper dir without the /proc made above
  s.lower_dirs = {image_, top};
  o = sh_with(s, "true");
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "mount proc on /proc: too many levels of symbolic links");
}

// CVE-2025-31133: the /dev/null that masks files must be the null device.
// A berthd whose /dev/null is something else (here a regular file bound
// over it in a mount namespace of the spawning process) fails to start
// containers rather than bind that file over /proc/kcore and the others.
TEST_F(SecurityTest, MaskingRefusesADevNullThatIsNotTheNullDevice) {
  std::string fake = dir_ + "/fake-null";
  write_text(fake, "");
  Spec s = spec_;
  s.args = {"true"};
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  unique_fd result_r(fds[0]), result_w(fds[1]);
  pid_t helper = ::fork();
  ASSERT_GE(helper, 0);
  if (helper == 0) {
    if (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
        ::mount(fake.c_str(), "/dev/null", nullptr, MS_BIND, nullptr) < 0)
      ::_exit(2);
    Outcome o = run(s);
    std::string report = o.exec ? "started" : o.exec.error().message();
    ::_exit(write_all(result_w.get(), report) ? 0 : 1);
  }
  result_w.reset();
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = ::read(result_r.get(), buf, sizeof buf)) > 0;) report.append(buf, size_t(n));
  int status = 0;
  ASSERT_EQ(::waitpid(helper, &status, 0), helper);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << report;
  EXPECT_EQ(report, "mask /proc/interrupts: no such device");  // the first masked file (asound, acpi: dirs or absent)
}

TEST_F(SecurityTest, DeviceOption) {
  auto devs = resolve_devices("/dev/zero", "/dev/myzero", "rw");
  ASSERT_TRUE(devs) << devs.error().message();
  Spec s = spec_;
  s.security.devices = *devs;
  TestCgroup cg("berth-sec-" + random_id().substr(0, 12));
  if (!cg.get()) GTEST_SKIP() << "no cgroups here";
  auto set = cg.get()->set_devices(engine::device_cgroup_rules(s.security, {}));
  if (!set && set.error().code() == Code::kNotSupported) GTEST_SKIP() << set.error().message();
  ASSERT_TRUE(set) << set.error().message();
  s.args = {"sh", "-c", "stat -c '%t:%T %a' /dev/myzero; head -c 5 /dev/myzero | wc -c"};
  if (cg.v2()) s.cgroup_fd = cg.get()->clone_into_fd();
  Outcome o = run(s, nullptr, [&](const Process& p) {
    if (!cg.v2()) {
      ASSERT_TRUE(cg.get()->add_process(p.pid));
    }
  });
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "1:5 666\n5\n") << o.err;
  if (stdfs::exists("/dev/net/tun")) {  // a directory: each device below it, at the same place
    auto dir = resolve_devices("/dev/net", "/dev/vnet", "rw");
    ASSERT_TRUE(dir) << dir.error().message();
    ASSERT_EQ(dir->size(), 1u);
    EXPECT_EQ((*dir)[0].path, "/dev/vnet/tun");
    EXPECT_EQ((*dir)[0].host_path, "/dev/net/tun");
    EXPECT_EQ((*dir)[0].major, 10u);
    EXPECT_EQ((*dir)[0].minor, 200u);
  }
  auto missing = resolve_devices("/dev/berth-nope", "/dev/x", "rwm");
  ASSERT_FALSE(missing);
  auto not_dev = resolve_devices("/etc/hostname", "/dev/x", "rwm");
  ASSERT_FALSE(not_dev);
  EXPECT_NE(not_dev.error().message().find("not a device node"), std::string::npos);
}

// Starts `script` as a long-running init and returns its process (released).
Result<Process> start_init(const Spec& base, const std::string& script) {
  Spec s = base;
  s.args = {"sh", "-c", script};
  auto p = BERTH_TRY(spawn(s));
  BERTH_TRY_VOID(release(p));
  BERTH_TRY_VOID(wait_exec(p, s));
  return p;
}

// The pid of host pid `pid` inside its own (innermost) pid namespace.
std::string inner_pid(pid_t pid) {
  std::string status = read_text(fmt::format("/proc/{}/status", pid));
  auto at = status.find("NSpid:");
  if (at == std::string::npos) return "";
  std::string line = status.substr(at, status.find('\n', at) - at);
  return line.substr(line.find_last_of("\t ") + 1);
}

TEST_F(SecurityTest, ExecNeverExposesBerthdsBinary) {
  auto init = start_init(spec_, "sleep 100");
  ASSERT_TRUE(init) << init.error().message();
  // An exec held before its execve: a copy of this process (berthd's role),
  // born in the container's pid namespace.
  Spec held = spec_;
  held.join_pidfd = init->pidfd.get();
  held.args = {"true"};
  auto h = spawn(held);
  ASSERT_TRUE(h) << h.error().message();
  std::string n = inner_pid(h->pid);
  ASSERT_FALSE(n.empty());
  // A process in the container, root with the default capabilities, tries it.
  Spec probe = spec_;
  probe.join_pidfd = init->pidfd.get();
  probe.args = {"sh", "-c",
                fmt::format("berth-testinit open /proc/{0}/exe w; berth-testinit open /proc/{0}/exe r;"
                            " readlink /proc/{0}/exe || echo exe-hidden; readlink /proc/{0}/root || echo root-hidden;"
                            " for f in /proc/{0}/fd/*; do readlink $f || echo fd-hidden; break; done",
                            n)};
  Outcome o = run(probe);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "open: EACCES\nopen: EACCES\nexe-hidden\nroot-hidden\nfd-hidden\n") << o.err;
  h->sync_fd.reset();  // never released: it exits quietly
  wait_exit(h->pidfd.get());
  // An exec'd command, by contrast, is an ordinary (dumpable) process.
  probe.args = {"sh", "-c", "sleep 100 & p=$!; readlink /proc/$p/exe; kill $p"};
  o = run(probe);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "/bin/busybox\n") << o.err;
  ASSERT_TRUE(kill(init->pidfd.get(), SIGKILL));
  wait_exit(init->pidfd.get());
}

TEST_F(SecurityTest, ExecGetsTheContainersConfinement) {
  Spec s = spec_;
  s.security.capabilities = *container_capabilities({}, {"ALL"}, false);
  s.security.no_new_privileges = true;
  auto init = start_init(s, "sleep 100");
  ASSERT_TRUE(init) << init.error().message();
  Spec e = s;
  e.join_pidfd = init->pidfd.get();
  e.args = {"sh", "-c", "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; berth-testinit syscall keyctl"};
  Outcome o = run(e);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nkeyctl: EPERM\n");
  ASSERT_TRUE(kill(init->pidfd.get(), SIGKILL));
  wait_exit(init->pidfd.get());
}

TEST_F(SecurityTest, WorkingDirectoryThroughALeakedFdIsRefused) {
  // CVE-2024-21626: runc leaked a host directory fd into the container, and
  // a working directory of /proc/self/fd/N put the process outside its root.
  int dirfd = ::fcntl(unique_fd(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)).get(), F_DUPFD, 200);
  ASSERT_GE(dirfd, 200);  // a high number no kept fd of the child takes; not close-on-exec on purpose
  Spec s = spec_;
  s.cwd = fmt::format("/proc/self/fd/{}", dirfd);
  Outcome o = sh_with(s, "pwd");
  EXPECT_FALSE(o.exec);
  auto init = start_init(spec_, "sleep 100");
  ASSERT_TRUE(init) << init.error().message();
  Spec e = spec_;
  e.join_pidfd = init->pidfd.get();
  e.cwd = s.cwd;
  e.args = {"pwd"};
  o = run(e);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(),
            fmt::format("chdir to cwd (\"{}\") set in container config failed: no such file or directory", s.cwd));
  ::close(dirfd);
  ASSERT_TRUE(kill(init->pidfd.get(), SIGKILL));
  wait_exit(init->pidfd.get());
}

TEST_F(SecurityTest, PidIpcAndUtsNamespaces) {
  std::string host_name = read_text("/proc/sys/kernel/hostname");
  Spec s = spec_;
  s.security.host_uts = true;
  s.security.host_pid = true;
  Outcome o = sh_with(s, "hostname; test $$ -ne 1 && echo not-pid-1; readlink /proc/self/ns/pid");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, host_name + "not-pid-1\n" + stdfs::read_symlink("/proc/self/ns/pid").string() + "\n");

  s = spec_;
  s.security.host_ipc = true;
  o = sh_with(s, "readlink /proc/self/ns/ipc; grep -c ' /dev/shm ' /proc/self/mountinfo");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, stdfs::read_symlink("/proc/self/ns/ipc").string() + "\n1\n");

  // A shareable IPC namespace with its /dev/shm on the host, and a second
  // container in the same pid and IPC namespaces.
  std::string shm = dir_ + "/shm";
  stdfs::create_directories(shm);
  ASSERT_TRUE(make_shm(shm, 1 << 20));
  struct Unmount {
    std::string d;
    ~Unmount() { EXPECT_TRUE(remove_shm(d)); }
  } unmount{shm};
  Spec a = spec_;
  a.security.shm_dir = shm;
  auto first = start_init(a, "echo hi > /dev/shm/x; sleep 100");
  ASSERT_TRUE(first) << first.error().message();
  for (int i = 0; i < 2000 && read_text(shm + "/x") != "hi\n"; i++) ::usleep(10000);  // bounded: 20 s
  Spec b = container_spec("b");
  b.lower_dirs = spec_.lower_dirs;
  b.security.shm_dir = shm;
  b.security.join_ipc_pidfd = first->pidfd.get();
  b.security.join_pid_pidfd = first->pidfd.get();
  b.args = {"sh", "-c", "cat /dev/shm/x; readlink /proc/self/ns/ipc; readlink /proc/1/ns/ipc; test $$ -ne 1 && echo joined"};
  o = run(b);
  EXPECT_RAN(o);
  auto lines = split(o.out, '\n');
  ASSERT_GE(lines.size(), 4u) << o.out << o.err;
  EXPECT_EQ(lines[0], "hi");
  EXPECT_EQ(lines[1], lines[2]);  // the first container's IPC namespace
  EXPECT_EQ(lines[3], "joined");  // its init is pid 1 of the shared pid namespace
  ASSERT_TRUE(kill(first->pidfd.get(), SIGKILL));
  wait_exit(first->pidfd.get());
}

TEST_F(SecurityTest, WarmInitReleasedWithItsConfinement) {
  Spec warm = spec_;
  warm.args = {"true"};
  Spec final = spec_;
  final.args = {"sh", "-c", "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"};
  final.security.capabilities = kDefaultCapabilities | (uint64_t(1) << CAP_SYS_ADMIN);
  final.security.no_new_privileges = true;
  ASSERT_TRUE(can_release_as([&] { Spec w = warm; w.deferred = true; return w; }(), final));
  Outcome o = run_deferred(warm, final);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, fmt::format("CapEff:\t{:016x}\nNoNewPrivs:\t1\nSeccomp:\t2\n", final.security.capabilities));
  final.security.seccomp = Security::Seccomp::kUnconfined;
  final.security.no_new_privileges = false;
  o = run_deferred(warm, final);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, fmt::format("CapEff:\t{:016x}\nNoNewPrivs:\t0\nSeccomp:\t0\n", final.security.capabilities));
}

}  // namespace
}  // namespace berth::runtime
