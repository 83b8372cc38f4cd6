#include "core/runtime/security.h"

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <iterator>

#include "core/base/strings.h"
#include "core/runtime/child_error.h"

namespace berth::runtime {

namespace {

// "rwm", any subset in any order, none twice (Docker's --device
// permissions); the devices cgroup has its own parser for its rules.
bool parse_device_permissions(std::string_view p, uint8_t* out) {
  uint8_t bits = 0;
  for (char c : p) {
    uint8_t b = c == 'r' ? 1 : c == 'w' ? 2 : c == 'm' ? 4 : 0;
    if (!b || (bits & b)) return false;
    bits |= b;
  }
  *out = bits;
  return !p.empty();
}

}  // namespace

namespace {

struct RlimitName {
  const char* name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},       {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},   {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},       {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

constexpr int64_t kDefaultShmBytes = 64 << 20;

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool ipc_sysctl(std::string_view n) {
  return starts_with(n, "kernel.shm") || starts_with(n, "kernel.msg") || n == "kernel.sem" ||
         starts_with(n, "fs.mqueue.");
}

// Components of letters, digits, '_' and '-' (and '.' in an interface name
// when '/' separates), none empty, none "." or "..".
bool valid_sysctl_name(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  bool slashes = n.find('/') != std::string_view::npos;
  char sep = slashes ? '/' : '.';
  for (const std::string& part : split(n, sep)) {
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                (slashes && c == '.');
      if (!ok) return false;
    }
  }
  return true;
}

Result<void> validate_device(const Device& d) {
  if (d.path.empty() || d.path[0] != '/' || d.path == "/dev" || has_nul(d.path) || has_nul(d.host_path))
    return Error::invalid("device {}: the path in the container must be absolute", d.path);
  std::string clean;
  for (const auto& p : clean_path_parts(d.path)) clean += "/" + p;
  if (clean != d.path) return Error::invalid("device {}: the path in the container is not clean", d.path);
  if (d.type != 'c' && d.type != 'b') return Error::invalid("device {}: type '{}' is not c or b", d.path, d.type);
  uint8_t access;
  if (!parse_device_permissions(d.permissions, &access))
    return Error::invalid("invalid device mode: {}", d.permissions);
  return ok();
}

Result<void> validate_namespaces(const Security& s) {
  if (s.host_pid && s.join_pid_pidfd >= 0)
    return Error::invalid("the pid namespace is both the host's and another container's");
  if (s.host_ipc && s.join_ipc_pidfd >= 0)
    return Error::invalid("the IPC namespace is both the host's and another container's");
  if (s.host_ipc && !s.shm_dir.empty()) return Error::invalid("a host IPC namespace uses the host's /dev/shm");
  if (!s.shm_dir.empty() && (s.shm_dir[0] != '/' || has_nul(s.shm_dir)))
    return Error::invalid("/dev/shm source \"{}\" is not an absolute path", s.shm_dir);
  return ok();
}

Device device_of(const struct stat& st, std::string path, std::string host, const std::string& perms) {
  Device d;
  d.path = std::move(path);
  d.type = S_ISBLK(st.st_mode) ? 'b' : 'c';
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.file_mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  d.host_path = std::move(host);
  d.permissions = perms;
  return d;
}

bool is_device(const struct stat& st) { return S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode); }

}  // namespace

std::optional<int> rlimit_resource(std::string_view name) {
  for (const auto& r : kRlimits)
    if (name == r.name) return r.resource;
  return std::nullopt;
}

std::string_view rlimit_name(int resource) {
  for (const auto& r : kRlimits)
    if (r.resource == resource) return r.name;
  return "";
}

Result<void> validate_sysctl(std::string_view name, std::string_view value, bool host_network, bool host_ipc) {
  std::string dotted(name);
  for (char& c : dotted)
    if (c == '/') c = '.';
  bool net = starts_with(dotted, "net.");
  if (!valid_sysctl_name(name) || (!net && !ipc_sysctl(dotted)))
    return Error::invalid("sysctl '{}' is not whitelisted", name);
  if (has_nul(value) || value.size() > 4096) return Error::invalid("sysctl '{}': invalid value", name);
  if (net && host_network)
    return Error::invalid("sysctl '{}' is not allowed: the container shares the host's network namespace", name);
  if (!net && host_ipc)
    return Error::invalid("sysctl '{}' is not allowed: the container shares the host's IPC namespace", name);
  return ok();
}

bool parent_writes_sysctl(const Spec& spec, std::string_view name) {
  return spec.userns && spec.netns_fd >= 0 && spec.join_pidfd < 0 && name.substr(0, 4) == "net.";
}

std::string sysctl_proc_path(std::string_view name) {
  std::string out;
  bool slashes = name.find('/') != std::string_view::npos;
  for (char c : name) out += (!slashes && c == '.') ? '/' : c;
  return out;
}

Result<void> validate_security(const Security& s, bool new_netns) {
  if (s.seccomp == Security::Seccomp::kProfile && !s.seccomp_profile)
    return Error::invalid("a seccomp profile was asked for but none given");
  for (const Rlimit& r : s.rlimits) {
    if (rlimit_name(r.resource).empty()) return Error::invalid("ulimit: unknown resource {}", r.resource);
    if (r.soft > r.hard)
      return Error::invalid("ulimit soft limit must be less than or equal to hard limit: {} > {}", r.soft, r.hard);
  }
  if (s.sysctls.size() > kMaxSysctls) return Error::invalid("too many sysctls ({}, at most {})", s.sysctls.size(), kMaxSysctls);
  if (s.group_add.size() > kMaxGroupAdd)
    return Error::invalid("too many groups in --group-add ({}, at most {})", s.group_add.size(), kMaxGroupAdd);
  for (const auto& [k, v] : s.sysctls) BERTH_TRY_VOID(validate_sysctl(k, v, !new_netns, s.host_ipc));
  for (const Device& d : s.devices) BERTH_TRY_VOID(validate_device(d));
  for (const auto& g : s.group_add)
    if (g.empty() || has_nul(g) || g.find(':') != std::string::npos)
      return Error::invalid("invalid group \"{}\" in --group-add", g);
  if (s.shm_size < 0) return Error::invalid("SHM size can not be less than 0");
  return validate_namespaces(s);
}

Result<std::vector<Device>> resolve_devices(const std::string& host_path, const std::string& container_path,
                                            const std::string& permissions) {
  uint8_t access;
  if (!parse_device_permissions(permissions, &access)) return Error::invalid("invalid device mode: {}", permissions);
  if (container_path.empty() || container_path[0] != '/')
    return Error::invalid("{} is not an absolute path", container_path);
  char resolved[PATH_MAX];
  if (!::realpath(host_path.c_str(), resolved))
    return Error::sys(errno, "error gathering device information while adding custom device \"{}\"", host_path);
  struct stat st;
  if (::stat(resolved, &st) < 0)
    return Error::sys(errno, "error gathering device information while adding custom device \"{}\"", host_path);
  if (is_device(st)) return std::vector<Device>{device_of(st, container_path, resolved, permissions)};
  if (!S_ISDIR(st.st_mode))
    return Error::invalid("error gathering device information while adding custom device \"{}\": not a device node",
                          host_path);
  // A directory: every device node below it (symlinks are not followed).
  std::vector<Device> out;
  std::error_code ec;
  namespace stdfs = std::filesystem;
  for (auto it = stdfs::recursive_directory_iterator(resolved, ec); !ec && it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat est;
    if (::lstat(it->path().c_str(), &est) < 0 || !is_device(est)) continue;
    std::string rel = it->path().lexically_relative(resolved).string();
    out.push_back(device_of(est, container_path + "/" + rel, it->path().string(), permissions));
  }
  if (ec) return Error::sys(ec.value(), "list devices under {}", host_path);
  if (out.empty()) return Error::invalid("no device nodes under \"{}\" to add", host_path);
  return out;
}

bool can_release_security(const Security& warm, const Security& final) {
  auto setup_is_default = [](const Security& s) {
    Security d;
    return !s.privileged && !s.unmasked_paths && s.devices.empty() && s.rlimits.empty() && s.sysctls.empty() &&
           s.shm_size == d.shm_size && s.group_add.empty() && !s.host_pid && !s.host_ipc && !s.host_uts &&
           s.join_pid_pidfd < 0 && s.join_ipc_pidfd < 0 && s.shm_dir.empty();
  };
  return setup_is_default(warm) && setup_is_default(final);
}

Result<void> make_shm(const std::string& dir, int64_t size_bytes) {
  std::string opts = fmt::format("mode=1777,size={}", size_bytes > 0 ? size_bytes : kDefaultShmBytes);
  if (::mount("shm", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.c_str()) < 0)
    return Error::sys(errno, "mount shm on {}", dir);
  return ok();
}

Result<void> remove_shm(const std::string& dir) {
  if (::umount2(dir.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return Error::sys(errno, "unmount shm on {}", dir);
  return ok();
}

}  // namespace berth::runtime
