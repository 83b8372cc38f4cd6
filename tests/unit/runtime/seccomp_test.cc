// The default seccomp profile compiled by libseccomp, and its verdicts on
// given syscalls computed by running the program in a small classic-BPF
// interpreter over a struct seccomp_data (no filter is installed: pure, no
// root). What the kernel does with the same program is the integration
// test's (tests/integration/security_test.cc).
#include "core/runtime/seccomp.h"

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include <cstring>

#include <gtest/gtest.h>

#include "core/runtime/capabilities.h"

namespace berth::runtime {
namespace {

// Runs a classic BPF seccomp program (the subset libseccomp emits: loads of
// seccomp_data words, the scratch memory, ALU with constants, conditional
// jumps on constants, returns) and returns the SECCOMP_RET_* value.
uint32_t run_filter(const std::vector<sock_filter>& prog, const seccomp_data& data) {
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const uint8_t*>(&data);
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k + 4 > sizeof data) return 0xdeadbeef;
        std::memcpy(&a, bytes + f.k, 4);
        break;
      case BPF_LD | BPF_MEM: a = mem[f.k]; break;
      case BPF_LDX | BPF_MEM: x = mem[f.k]; break;
      case BPF_ST: mem[f.k] = a; break;
      case BPF_STX: mem[f.k] = x; break;
      case BPF_LD | BPF_IMM: a = f.k; break;
      case BPF_ALU | BPF_AND | BPF_K: a &= f.k; break;
      case BPF_ALU | BPF_OR | BPF_K: a |= f.k; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & f.k) ? f.jt : f.jf; break;
      case BPF_RET | BPF_K: return f.k;
      case BPF_RET | BPF_A: return a;
      default: ADD_FAILURE() << "instruction the test interpreter lacks: code " << f.code; return 0xdeadbeef;
    }
  }
  ADD_FAILURE() << "the program ran off its end";
  return 0xdeadbeef;
}

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;

class SeccompDefault : public ::testing::Test {
 protected:
  uint32_t verdict(const char* name, uint64_t caps = kDefaultCapabilities, std::vector<uint64_t> args = {},
                   uint32_t arch = AUDIT_ARCH_X86_64) {
    auto prog = compile_seccomp(default_seccomp_profile(), caps);
    EXPECT_TRUE(prog) << prog.error().message();
    if (!prog) return 0;
    seccomp_data d{};
    d.arch = arch;
    int nr = seccomp_syscall_resolve_name_arch(arch, name);
    EXPECT_GE(nr, 0) << name;
    d.nr = nr;
    for (size_t i = 0; i < args.size() && i < 6; i++) d.args[i] = args[i];
    return run_filter((*prog)->filter, d);
  }
  void SetUp() override {
    if (seccomp_arch_native() != SCMP_ARCH_X86_64) GTEST_SKIP() << "syscall numbers here are x86_64's";
  }
};

TEST_F(SeccompDefault, CompilesToAProgramTheKernelTakes) {
  auto prog = compile_seccomp(default_seccomp_profile(), kDefaultCapabilities);
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_GT((*prog)->filter.size(), 50u);
  EXPECT_LE((*prog)->filter.size(), size_t(BPF_MAXINSNS));
}

TEST_F(SeccompDefault, EverydaySyscallsAreAllowed) {
  for (const char* n : {"read", "write", "openat", "execve", "mmap", "futex", "exit_group", "clone", "wait4",
                        "rt_sigaction", "getpid", "socket", "capset", "setresuid", "chdir", "close_range", "prctl"})
    EXPECT_EQ(verdict(n), kAllow) << n;
}

TEST_F(SeccompDefault, HostWideSyscallsFailWithEperm) {
  for (const char* n : {"keyctl", "add_key", "request_key", "perf_event_open", "bpf", "io_uring_setup",
                        "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
                        "open_by_handle_at", "userfaultfd", "mount", "umount2", "unshare", "setns", "pivot_root",
                        "init_module", "reboot", "swapon", "fsopen", "open_tree", "move_mount", "ptrace"})
    EXPECT_EQ(verdict(n), n == std::string("ptrace") ? kAllow : kEperm) << n;  // ptrace: allowed since 4.8
}

TEST_F(SeccompDefault, CloneNamespaceFlagsAndClone3) {
  EXPECT_EQ(verdict("clone", kDefaultCapabilities, {SIGCHLD}), kAllow);
  EXPECT_EQ(verdict("clone", kDefaultCapabilities, {CLONE_VM | CLONE_THREAD | CLONE_SIGHAND}), kAllow);
  for (uint64_t ns : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC,
                      CLONE_NEWCGROUP})
    EXPECT_EQ(verdict("clone", kDefaultCapabilities, {ns | SIGCHLD}), kEperm) << ns;
  EXPECT_EQ(verdict("clone3"), kEnosys);  // glibc falls back to clone
}

TEST_F(SeccompDefault, PersonalityOnlyWithSafeValues) {
  EXPECT_EQ(verdict("personality", kDefaultCapabilities, {PER_LINUX}), kAllow);
  EXPECT_EQ(verdict("personality", kDefaultCapabilities, {0xffffffff}), kAllow);
  EXPECT_EQ(verdict("personality", kDefaultCapabilities, {PER_LINUX32}), kAllow);
  EXPECT_EQ(verdict("personality", kDefaultCapabilities, {ADDR_NO_RANDOMIZE}), kEperm);
  EXPECT_EQ(verdict("personality", kDefaultCapabilities, {READ_IMPLIES_EXEC}), kEperm);
}

TEST_F(SeccompDefault, VsockSocketsRefused) {
  EXPECT_EQ(verdict("socket", kDefaultCapabilities, {AF_INET}), kAllow);
  EXPECT_EQ(verdict("socket", kDefaultCapabilities, {AF_VSOCK}), kEperm);
}

TEST_F(SeccompDefault, CapabilitiesOpenTheirSyscalls) {
  uint64_t admin = kDefaultCapabilities | (1ULL << CAP_SYS_ADMIN);
  for (const char* n : {"mount", "umount2", "unshare", "setns", "fsopen", "bpf", "perf_event_open", "clone3"})
    EXPECT_EQ(verdict(n, admin), kAllow) << n;
  EXPECT_EQ(verdict("clone", admin, {CLONE_NEWUSER | SIGCHLD}), kAllow);
  EXPECT_EQ(verdict("keyctl", admin), kEperm);  // no capability opens the keyring
  EXPECT_EQ(verdict("io_uring_setup", admin), kEperm);
  EXPECT_EQ(verdict("chroot", 0), kEperm);
  EXPECT_EQ(verdict("chroot", 1ULL << CAP_SYS_CHROOT), kAllow);
  EXPECT_EQ(verdict("init_module", 1ULL << CAP_SYS_MODULE), kAllow);
  EXPECT_EQ(verdict("open_by_handle_at", 1ULL << CAP_DAC_READ_SEARCH), kAllow);
  EXPECT_EQ(verdict("perf_event_open", 1ULL << CAP_PERFMON), kAllow);
  EXPECT_EQ(verdict("settimeofday", 1ULL << CAP_SYS_TIME), kAllow);
}

TEST_F(SeccompDefault, ThirtyTwoBitSyscallsAreFilteredToo) {
  EXPECT_EQ(verdict("read", kDefaultCapabilities, {}, AUDIT_ARCH_I386), kAllow);
  EXPECT_EQ(verdict("keyctl", kDefaultCapabilities, {}, AUDIT_ARCH_I386), kEperm);
  EXPECT_EQ(verdict("chown32", kDefaultCapabilities, {}, AUDIT_ARCH_I386), kAllow);
}

TEST_F(SeccompDefault, CompiledOncePerProfileAndCapabilities) {
  uint64_t caps = kDefaultCapabilities & ~(1ULL << CAP_NET_RAW);  // a set no other test uses
  auto before = seccomp_cache_stats();
  auto a = compile_seccomp(default_seccomp_profile(), caps);
  auto b = compile_seccomp(default_seccomp_profile(), caps);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->get(), b->get());
  auto after = seccomp_cache_stats();
  EXPECT_EQ(after.compiles - before.compiles, 1u);
  EXPECT_EQ(after.hits - before.hits, 1u);
  // An equal profile in another object is the same cache entry.
  auto copy = std::make_shared<const SeccompProfile>(*default_seccomp_profile());
  auto c = compile_seccomp(copy, caps);
  ASSERT_TRUE(c);
  EXPECT_EQ(a->get(), c->get());
}

TEST(SeccompCustom, ProfileDenyingMkdir) {
  auto p = std::make_shared<SeccompProfile>();
  p->default_action = SeccompAction::kAllow;
  SeccompRule deny;
  deny.names = {"mkdir", "mkdirat"};
  deny.action = SeccompAction::kErrno;
  p->syscalls.push_back(deny);
  auto prog = compile_seccomp(p, kDefaultCapabilities);
  ASSERT_TRUE(prog) << prog.error().message();
  seccomp_data d{};
  d.arch = AUDIT_ARCH_X86_64;
  d.nr = uint32_t(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "mkdirat"));
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) GTEST_SKIP() << "x86_64 numbers";
  EXPECT_EQ(run_filter((*prog)->filter, d), kEperm);
  d.nr = uint32_t(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "read"));
  EXPECT_EQ(run_filter((*prog)->filter, d), kAllow);
}

TEST(SeccompCustom, ErrorsNameTheProblem) {
  auto p = std::make_shared<SeccompProfile>();
  p->architectures = {"SCMP_ARCH_NOPE"};
  auto r = compile_seccomp(p, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "seccomp profile: unknown architecture \"SCMP_ARCH_NOPE\"");

  p = std::make_shared<SeccompProfile>();
  SeccompRule bad;
  bad.names = {"read"};
  bad.args = {{.index = 7, .value = 1}};
  p->syscalls.push_back(bad);
  r = compile_seccomp(p, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "seccomp profile: syscall read: argument index 7 is out of range");
}

TEST(SeccompRules, IncludesAndExcludes) {
  SeccompRule r;
  r.includes.caps = 1ULL << CAP_SYS_ADMIN;
  EXPECT_FALSE(seccomp_rule_applies(r, kDefaultCapabilities));
  EXPECT_TRUE(seccomp_rule_applies(r, 1ULL << CAP_SYS_ADMIN));
  r = {};
  r.excludes.caps = 1ULL << CAP_SYS_ADMIN;
  EXPECT_TRUE(seccomp_rule_applies(r, 0));
  EXPECT_FALSE(seccomp_rule_applies(r, 1ULL << CAP_SYS_ADMIN));
  r = {};
  r.includes.arches = {"nope-arch"};
  EXPECT_FALSE(seccomp_rule_applies(r, 0));
  r.includes.arches = {native_arch_name()};
  EXPECT_TRUE(seccomp_rule_applies(r, 0));
  r = {};
  r.excludes.arches = {native_arch_name()};
  EXPECT_FALSE(seccomp_rule_applies(r, 0));
  r = {};
  r.includes.min_kernel_major = 999;
  EXPECT_FALSE(seccomp_rule_applies(r, 0));
  r.includes.min_kernel_major = 2;
  EXPECT_TRUE(seccomp_rule_applies(r, 0));
}

}  // namespace
}  // namespace berth::runtime
