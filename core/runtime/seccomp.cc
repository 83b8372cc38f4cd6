// libseccomp (2.5, Debian 12) compiles; the result is exported to a memfd
// (seccomp_export_bpf; seccomp_export_bpf_mem only arrived in 2.6) and read
// back into memory the child can load.
#include "core/runtime/seccomp.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "core/base/strings.h"
#include "core/base/unique_fd.h"

namespace berth::runtime {

namespace {

constexpr size_t kCacheMax = 32;

struct CacheEntry {
  std::shared_ptr<const SeccompProfile> profile;
  uint64_t caps;
  std::shared_ptr<const SeccompProgram> program;
};

struct Cache {
  std::mutex mu;
  std::vector<CacheEntry> entries;   // most recently used last
  SeccompCacheStats stats;
};

Cache& cache() {
  static Cache c;
  return c;
}

bool has(const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); }

bool kernel_at_least(int major, int minor) {
  auto [ma, mi] = kernel_version();
  return ma > major || (ma == major && mi >= minor);
}

uint32_t action_of(SeccompAction a, int errno_ret) {
  switch (a) {
    case SeccompAction::kAllow: return SCMP_ACT_ALLOW;
    case SeccompAction::kErrno: return SCMP_ACT_ERRNO(uint32_t(errno_ret < 0 ? EPERM : errno_ret));
    case SeccompAction::kKillThread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kKillProcess: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::kTrap: return SCMP_ACT_TRAP;
    case SeccompAction::kLog: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare op_of(SeccompOp op) {
  switch (op) {
    case SeccompOp::kNotEqual: return SCMP_CMP_NE;
    case SeccompOp::kLess: return SCMP_CMP_LT;
    case SeccompOp::kLessEqual: return SCMP_CMP_LE;
    case SeccompOp::kEqual: return SCMP_CMP_EQ;
    case SeccompOp::kGreaterEqual: return SCMP_CMP_GE;
    case SeccompOp::kGreater: return SCMP_CMP_GT;
    case SeccompOp::kMaskedEqual: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

// "SCMP_ARCH_X86_64" -> libseccomp's token for "x86_64".
Result<uint32_t> arch_token(const std::string& name) {
  std::string n = name;
  if (starts_with(n, "SCMP_ARCH_")) n = n.substr(10);
  for (char& c : n) c = char(std::tolower(static_cast<unsigned char>(c)));
  uint32_t t = seccomp_arch_resolve_name(n.c_str());
  if (t == 0) return Error::invalid("seccomp profile: unknown architecture \"{}\"", name);
  return t;
}

// Whether this kernel runs x32 programs (CONFIG_X86_X32_ABI; Debian's
// kernels do not): an x32 getpid is ENOSYS otherwise.
bool x32_abi() {
#if defined(__x86_64__)
  static const bool yes = ::syscall(0x40000000 | SYS_getpid) >= 0;
  return yes;
#else
  return false;
#endif
}

// The native arch's 32-bit companions, which Docker's archMap adds (x32
// only where the kernel has it: its rules would be a third of the program,
// and loading costs time in proportion; an x32 syscall on a kernel without
// it fails either way).
std::vector<uint32_t> default_arches() {
  uint32_t native = seccomp_arch_native();
  if (native == SCMP_ARCH_X86_64) return x32_abi() ? std::vector<uint32_t>{SCMP_ARCH_X86, SCMP_ARCH_X32}
                                                   : std::vector<uint32_t>{SCMP_ARCH_X86};
  if (native == SCMP_ARCH_AARCH64) return {SCMP_ARCH_ARM};
  if (native == SCMP_ARCH_S390X) return {SCMP_ARCH_S390};
  return {};
}

Result<void> add_arches(void* ctx, const SeccompProfile& p) {
  std::vector<uint32_t> arches;
  if (p.architectures.empty()) arches = default_arches();
  for (const auto& a : p.architectures) arches.push_back(BERTH_TRY(arch_token(a)));
  for (uint32_t a : arches) {
    int r = seccomp_arch_add(ctx, a);
    if (r < 0 && r != -EEXIST) return Error::sys(-r, "seccomp profile: add architecture {:#x}", a);
  }
  return ok();
}

// One rule for one syscall. libseccomp cannot AND two conditions on one
// argument, so conditions sharing an index become one rule each (an OR, as
// runc does).
Result<void> add_rule(void* ctx, const SeccompRule& rule, const std::string& name, int nr, uint32_t action) {
  std::vector<scmp_arg_cmp> conds;
  bool repeated = false;
  for (const SeccompArg& a : rule.args) {
    if (a.index > 5) return Error::invalid("seccomp profile: syscall {}: argument index {} is out of range", name, a.index);
    for (const auto& c : conds) repeated |= c.arg == a.index;
    conds.push_back({a.index, op_of(a.op), a.value, a.value_two});
  }
  auto add = [&](unsigned n, const scmp_arg_cmp* c) -> Result<void> {
    int r = seccomp_rule_add_array(ctx, action, nr, n, c);
    if (r < 0) return Error::sys(-r, "seccomp profile: add the rule for syscall {}", name);
    return ok();
  };
  if (!repeated) return add(unsigned(conds.size()), conds.data());
  for (const auto& c : conds) BERTH_TRY_VOID(add(1, &c));
  return ok();
}

// Two unconditional rules for one syscall with different actions are
// refused: libseccomp would keep one of them without saying which (and a
// rule whose action is the default is not added at all), so a profile that
// "denies" a syscall another entry allows would silently allow it.
Result<void> add_rules(void* ctx, const SeccompProfile& p, uint64_t caps) {
  uint32_t dflt = action_of(p.default_action, p.default_errno);
  std::map<std::string, uint32_t> unconditional;
  for (const SeccompRule& rule : p.syscalls) {
    if (!seccomp_rule_applies(rule, caps)) continue;
    uint32_t action = action_of(rule.action, rule.errno_ret);
    for (const std::string& name : rule.names) {
      if (rule.args.empty()) {
        auto [it, added] = unconditional.emplace(name, action);
        if (!added && it->second != action)
          return Error::invalid("seccomp profile: syscall {} has two rules with different actions", name);
      }
      if (action == dflt) continue;  // libseccomp refuses a rule that changes nothing
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: as Docker, skip it
      BERTH_TRY_VOID(add_rule(ctx, rule, name, nr, action));
    }
  }
  return ok();
}

Result<std::vector<sock_filter>> export_bpf(void* ctx) {
  unique_fd mem(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!mem) return Error::sys(errno, "memfd_create for the seccomp program");
  int r = seccomp_export_bpf(ctx, mem.get());
  if (r < 0) return Error::sys(-r, "export the seccomp program");
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size < 0) return Error::sys(errno, "size of the seccomp program");
  if (size == 0 || size % off_t(sizeof(sock_filter)) != 0 || size / off_t(sizeof(sock_filter)) > BPF_MAXINSNS)
    return Error::invalid("seccomp profile: the program has {} bytes (at most {} instructions of {} bytes)", size,
                          BPF_MAXINSNS, sizeof(sock_filter));
  std::vector<sock_filter> out(size_t(size) / sizeof(sock_filter));
  ssize_t n = ::pread(mem.get(), out.data(), size_t(size), 0);
  if (n != ssize_t(size)) return Error::sys(n < 0 ? errno : EIO, "read back the seccomp program");
  return out;
}

Result<std::shared_ptr<const SeccompProgram>> compile(const SeccompProfile& p, uint64_t caps) {
  Ctx ctx(seccomp_init(action_of(p.default_action, p.default_errno)));
  if (!ctx) return Error::invalid("seccomp profile: libseccomp refused the default action");
  // The program is only exported: whether no_new_privs is set is the
  // child's decision (--security-opt no-new-privileges).
  if (int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); r < 0)
    return Error::sys(-r, "seccomp: clear the no_new_privs attribute");
  // A binary search tree over syscall numbers instead of a linear chain: a
  // few comparisons per syscall with ~400 rules.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  BERTH_TRY_VOID(add_arches(ctx.get(), p));
  BERTH_TRY_VOID(add_rules(ctx.get(), p, caps));
  auto prog = std::make_shared<SeccompProgram>();
  prog->filter = BERTH_TRY(export_bpf(ctx.get()));
  return std::shared_ptr<const SeccompProgram>(std::move(prog));
}

}  // namespace

std::pair<int, int> kernel_version() {
  static const std::pair<int, int> v = [] {
    struct utsname u;
    if (::uname(&u) < 0) return std::pair<int, int>{0, 0};
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) < 1) return std::pair<int, int>{0, 0};
    return std::pair<int, int>{major, minor};
  }();
  return v;
}

bool seccomp_rule_applies(const SeccompRule& rule, uint64_t caps) {
  const char* arch = native_arch_name();
  const auto& in = rule.includes;
  const auto& ex = rule.excludes;
  if (!ex.arches.empty() && has(ex.arches, arch)) return false;
  if (ex.caps & caps) return false;
  if ((ex.min_kernel_major || ex.min_kernel_minor) && kernel_at_least(ex.min_kernel_major, ex.min_kernel_minor))
    return false;
  if (!in.arches.empty() && !has(in.arches, arch)) return false;
  if ((in.caps & caps) != in.caps) return false;
  if ((in.min_kernel_major || in.min_kernel_minor) && !kernel_at_least(in.min_kernel_major, in.min_kernel_minor))
    return false;
  return true;
}

Result<std::shared_ptr<const SeccompProgram>> compile_seccomp(const std::shared_ptr<const SeccompProfile>& profile,
                                                              uint64_t caps) {
  if (!profile) return Error::invalid("seccomp: no profile to compile");
  Cache& c = cache();
  {
    std::lock_guard lock(c.mu);
    for (size_t i = c.entries.size(); i-- > 0;) {
      CacheEntry& e = c.entries[i];
      if (e.caps != caps || (e.profile != profile && *e.profile != *profile)) continue;
      std::rotate(c.entries.begin() + long(i), c.entries.begin() + long(i) + 1, c.entries.end());
      c.stats.hits++;
      return c.entries.back().program;
    }
  }
  // Compiled without the lock: two threads may both compile one profile
  // once; both results are right.
  auto prog = BERTH_TRY(compile(*profile, caps));
  std::lock_guard lock(c.mu);
  c.stats.compiles++;
  if (c.entries.size() >= kCacheMax) c.entries.erase(c.entries.begin());
  c.entries.push_back({profile, caps, prog});
  return prog;
}

SeccompCacheStats seccomp_cache_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  return c.stats;
}

}  // namespace berth::runtime
