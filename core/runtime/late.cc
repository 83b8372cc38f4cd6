#include "core/runtime/late.h"

#include "core/runtime/security.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace berth::runtime {

namespace {

size_t array_offset(size_t len) { return (len + 7) & ~size_t(7); }

// argv + NULL, env + HOME slot + NULL, exec candidates.
size_t pointer_count(size_t argc, size_t envc, size_t execc) { return argc + 1 + envc + 2 + execc; }

// The plan without its trailing mkdir of the working directory, which a
// deferred child runs after release.
MountPlan without_cwd(MountPlan p) {
  if (!p.steps.empty() && p.steps.back().kind == MountKind::kMakeDir) p.steps.pop_back();
  return p;
}

}  // namespace

Result<std::string> encode_late(const Spec& spec) {
  Spec full = spec;
  full.deferred = false;
  full.netns_fd = full.cgroup_fd = -1;  // the child has its namespaces and cgroup already
  Prepared p;
  BERTH_TRY_VOID(prepare(full, &p, /*child_buffers=*/false));
  const ChildArgs& a = p.args;
  LateHeader h{};
  h.magic = kLateMagic;
  h.argc = uint32_t(p.argv_strings.size());
  h.envc = uint32_t(p.env_strings.size());
  h.execc = uint32_t(p.exec_strings.size());
  h.mkdir_step = -1;
  for (size_t i = 0; i < p.plan.steps.size(); i++)
    if (p.plan.steps[i].kind == MountKind::kMakeDir) h.mkdir_step = int32_t(i);
  h.cap_keep = a.cap_keep;
  h.no_new_privs = a.no_new_privs;
  h.signals_blocked = a.signals_blocked;
  h.seccomp_len = a.seccomp_len;
  h.uid = p.user.uid;
  h.gid = p.user.gid;
  h.has_group = p.user.has_group;
  h.path_lookup = a.path_lookup;
  h.tty = a.tty;
  h.has_home = a.home_slot < 0;
  h.tty_rows = a.tty_rows;
  errno = 0;
  int nice = ::getpriority(PRIO_PROCESS, 0);  // this thread's; -1 is a valid value
  h.nice = int8_t(errno ? 0 : nice);
  h.tty_cols = a.tty_cols;
  for (int i = 0; i < 3; i++)
    if (!spec.tty && a.stdio[i] >= 0) h.stdio_mask = uint8_t(h.stdio_mask | (1 << i));

  std::string out(sizeof h, '\0');
  out.append(reinterpret_cast<const char*>(a.seccomp_filter), size_t(a.seccomp_len) * sizeof(sock_filter));
  auto put = [&out](const std::string& s) { out.append(s.c_str(), s.size() + 1); };
  put(p.hostname);
  put(p.cwd);
  put(p.user.user);
  put(p.user.group);
  for (const auto* v : {&p.argv_strings, &p.env_strings, &p.exec_strings})
    for (const auto& s : *v) put(s);
  size_t need = array_offset(out.size()) + pointer_count(h.argc, h.envc, h.execc) * sizeof(char*);
  if (need > kLateMax)
    return Error::invalid("container {}: command and environment take {} bytes, more than a deferred start allows",
                          spec.id.substr(0, 12), need);
  h.size = uint32_t(out.size());
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

int decode_late(char* buf, size_t len, const int* fds, size_t nfds, ChildArgs* a) {
  LateHeader h;
  if (len < sizeof h) return EPROTO;
  std::memcpy(&h, buf, sizeof h);
  if (h.magic != kLateMagic || h.size != len || h.argc == 0 || h.execc == 0) return EPROTO;
  size_t want_fds = size_t(__builtin_popcount(h.stdio_mask & 7u));
  if (nfds != want_fds) return EPROTO;
  size_t arr = array_offset(len);
  size_t nptr = pointer_count(h.argc, h.envc, h.execc);
  if (nptr > kLateMax / sizeof(char*) || arr + nptr * sizeof(char*) > kLateMax) return E2BIG;

  size_t filter_bytes = size_t(h.seccomp_len) * sizeof(sock_filter);
  if (h.seccomp_len > BPF_MAXINSNS || sizeof h + filter_bytes > len) return EPROTO;
  char* p = buf + sizeof h + filter_bytes;
  char* end = buf + len;
  auto next = [&p, end]() -> char* {
    if (p >= end) return nullptr;
    auto* z = static_cast<char*>(std::memchr(p, '\0', size_t(end - p)));
    if (!z) return nullptr;
    char* s = p;
    p = z + 1;
    return s;
  };
  char* hostname = next();
  char* cwd = next();
  char* user = next();
  char* group = next();
  if (!group) return EPROTO;
  auto** ptrs = reinterpret_cast<char**>(buf + arr);
  char** argv = ptrs;
  char** envp = argv + h.argc + 1;
  auto** exec = const_cast<const char**>(envp + h.envc + 2);
  for (uint32_t i = 0; i < h.argc; i++)
    if (!(argv[i] = next())) return EPROTO;
  argv[h.argc] = nullptr;
  for (uint32_t i = 0; i < h.envc; i++)
    if (!(envp[i] = next())) return EPROTO;
  envp[h.envc] = envp[h.envc + 1] = nullptr;
  for (uint32_t i = 0; i < h.execc; i++)
    if (!(exec[i] = next())) return EPROTO;
  if (p != end) return EPROTO;
  size_t hostname_len = std::strlen(hostname);
  if (hostname_len > 64) return EPROTO;

  a->hostname = hostname;
  a->hostname_len = hostname_len;
  a->cwd = cwd;
  a->user = {.user = user, .user_len = std::strlen(user), .uid = h.uid, .has_group = h.has_group != 0,
             .group = group, .group_len = std::strlen(group), .gid = h.gid};
  a->argv = argv;
  a->envp = envp;
  a->home_slot = h.has_home ? -1 : int(h.envc);
  a->exec_paths = exec;
  a->exec_path_count = h.execc;
  a->path_lookup = h.path_lookup != 0;
  a->cap_keep = h.cap_keep;
  a->no_new_privs = h.no_new_privs != 0;
  a->signals_blocked = h.signals_blocked != 0;
  a->seccomp_len = static_cast<unsigned short>(h.seccomp_len);
  a->seccomp_filter = h.seccomp_len ? reinterpret_cast<const sock_filter*>(buf + sizeof h) : nullptr;
  a->tty = h.tty != 0;
  a->tty_rows = h.tty_rows;
  a->tty_cols = h.tty_cols;
  a->mkdir_step = h.mkdir_step;
  a->nice = h.nice;
  size_t next_fd = 0;
  for (int i = 0; i < 3; i++) a->stdio[i] = (h.stdio_mask & (1 << i)) ? fds[next_fd++] : -1;
  return 0;
}

bool can_release_as(const Spec& warm, const Spec& final) {
  if (!warm.deferred || final.join_pidfd >= 0 || warm.join_pidfd >= 0) return false;
  if (warm.new_netns != final.new_netns) return false;
  if (warm.cgroup_view != final.cgroup_view || warm.cgroupns_host != final.cgroupns_host) return false;
  if (!can_release_security(warm.security, final.security)) return false;
  if (without_cwd(make_mount_plan(warm)).steps != without_cwd(make_mount_plan(final)).steps) return false;
  return encode_late(final).has_value();
}

}  // namespace berth::runtime
