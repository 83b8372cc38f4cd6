#include "core/runtime/userns.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/base/strings.h"

namespace berth::runtime {

namespace {

Result<void> write_text(const std::string& path, std::string_view text) {
  unique_fd fd = BERTH_TRY(open_fd(path, O_WRONLY));
  if (auto r = write_all(fd.get(), text); !r) return std::move(r.error()).context("write {}", path);
  return ok();
}

// A child in a new user namespace that waits for its pipe to close: its
// namespace, mapped, outlives it through the fd opened here.
Result<unique_fd> make_mapping_userns(const IdMap& map) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
  unique_fd rd(p[0]), wr(p[1]);
  clone_args ca{};
  ca.flags = CLONE_NEWUSER;
  ca.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &ca, sizeof ca);
  if (pid < 0) return Error::sys(errno, "clone3 a user namespace");
  if (pid == 0) {
    ::close(wr.get());   // its copy: the parent's close must reach EOF here
    char b;
    (void)!::read(rd.get(), &b, 1);   // EOF: the parent is done
    ::_exit(0);
  }
  rd.reset();
  auto reap = [&] {
    wr.reset();
    while (::waitpid(pid_t(pid), nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  if (auto r = write_id_maps(pid_t(pid), map); !r) {
    reap();
    return std::move(r.error());
  }
  unique_fd ns(::open(fmt::format("/proc/{}/ns/user", pid).c_str(), O_RDONLY | O_CLOEXEC));
  int e = errno;
  reap();
  if (!ns) return Error::sys(e, "open the user namespace of pid {}", pid);
  return ns;
}

}  // namespace

Result<int> mapping_userns(const IdMap& map) {
  static std::mutex mu;
  static std::map<std::tuple<uint32_t, uint32_t, uint32_t>, int> cache;   // kept for the process's life
  std::lock_guard lock(mu);
  auto key = std::tuple{map.uid, map.gid, map.size};
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  unique_fd fd = BERTH_TRY(make_mapping_userns(map));
  int raw = fd.release();
  cache.emplace(key, raw);
  return raw;
}

Result<void> write_id_maps(pid_t pid, const IdMap& map) {
  BERTH_TRY_VOID(write_text(fmt::format("/proc/{}/uid_map", pid), fmt::format("0 {} {}\n", map.uid, map.size)));
  return write_text(fmt::format("/proc/{}/gid_map", pid), fmt::format("0 {} {}\n", map.gid, map.size));
}

Result<unique_fd> mount_idmapped_overlay(const Spec& spec, int userns_fd) {
  unique_fd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fsfd) return Error::sys(errno, "fsopen overlay");
  // lowerdir+ takes the topmost layer first. Each detached tree stays open
  // until the overlay is made: closing the last fd of a detached mount
  // unmounts it, and overlayfs clones the layers only at the create.
  std::vector<unique_fd> trees;
  for (auto it = spec.lower_dirs.rbegin(); it != spec.lower_dirs.rend(); ++it) {
    unique_fd& tree = trees.emplace_back(::open_tree(AT_FDCWD, it->c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!tree) return Error::sys(errno, "open_tree {}", *it);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = uint64_t(userns_fd);
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      return Error::sys(errno, "idmapped mount of layer {}", *it);
    if (::fsconfig(fsfd.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, tree.get()) < 0) {
      if (errno == EINVAL)
        return Error::sys(errno, "overlay layer {} by fd (idmapped layers need Linux 6.13 or later)", *it);
      return Error::sys(errno, "overlay layer {}", *it);
    }
  }
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", spec.upper_dir.c_str(), 0) < 0)
    return Error::sys(errno, "overlay upperdir {}", spec.upper_dir);
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", spec.work_dir.c_str(), 0) < 0)
    return Error::sys(errno, "overlay workdir {}", spec.work_dir);
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Error::sys(errno, "mount the overlay of container {}", spec.id.substr(0, 12));
  unique_fd m(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, 0));
  if (!m) return Error::sys(errno, "fsmount the overlay of container {}", spec.id.substr(0, 12));
  return m;
}

Result<SubIdRange> find_subid_range(std::string_view text, std::string_view name, std::string_view id) {
  for (const std::string& raw : split(text, '\n')) {
    std::string_view line = raw;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line[0] == '#') continue;
    auto parts = split(line, ':');
    if (parts.size() != 3) continue;
    if (parts[0] != name && (id.empty() || parts[0] != id)) continue;
    SubIdRange r;
    auto parse = [](std::string_view s, uint32_t* out) {
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      return ec == std::errc() && p == s.data() + s.size();
    };
    if (!parse(parts[1], &r.start) || !parse(parts[2], &r.count) || r.count == 0 ||
        uint64_t(r.start) + r.count > uint64_t(UINT32_MAX))
      return Error::invalid("malformed subordinate id range \"{}\"", line);
    return r;
  }
  return Error::not_found("no subordinate id range for {}", name);
}

uint32_t next_free_subid_start(std::string_view subuid, std::string_view subgid) {
  uint64_t start = 100000;
  for (std::string_view text : {subuid, subgid})
    for (const std::string& line : split(text, '\n')) {
      auto parts = split(line, ':');
      if (parts.size() != 3) continue;
      auto a = parse_int(parts[1]), n = parse_int(parts[2]);
      if (a && n && *a >= 0 && *n > 0 && uint64_t(*a + *n) > start) start = uint64_t(*a + *n);
    }
  start = (start + 65535) / 65536 * 65536;   // a whole block, as usermod picks them
  return start + 65536 > UINT32_MAX ? 0 : uint32_t(start);
}

namespace {

std::string read_text(const char* path) {
  auto t = read_file(path);
  return t ? *t : std::string();
}

// Appends "line\n" to the file (made 0644 if missing).
Result<void> append_line(const char* path, const std::string& line) {
  unique_fd fd = BERTH_TRY(open_fd(path, O_WRONLY | O_APPEND | O_CREAT, 0644));
  if (auto r = write_all(fd.get(), line + "\n"); !r) return std::move(r.error()).context("write {}", path);
  return ok();
}

// Docker's "default": a system user of our own with a range in each file.
Result<void> ensure_default_user(const char* name) {
  if (!::getpwnam(name)) {
    std::string cmd = fmt::format("useradd --system --no-create-home --shell /bin/false {} >/dev/null 2>&1", name);
    if (::system(cmd.c_str()) != 0 || !::getpwnam(name))
      return Error(Code::kSystem, fmt::format("--userns-remap default: could not add the user {} (useradd)", name));
  }
  std::string uids = read_text("/etc/subuid"), gids = read_text("/etc/subgid");
  bool has_uid = bool(find_subid_range(uids, name, "")), has_gid = bool(find_subid_range(gids, name, ""));
  if (has_uid && has_gid) return ok();
  uint32_t start = next_free_subid_start(uids, gids);
  if (start == 0) return Error(Code::kSystem, "--userns-remap default: no free subordinate id range");
  if (!has_uid) BERTH_TRY_VOID(append_line("/etc/subuid", fmt::format("{}:{}:65536", name, start)));
  if (!has_gid) BERTH_TRY_VOID(append_line("/etc/subgid", fmt::format("{}:{}:65536", name, start)));
  return ok();
}

}  // namespace

Result<RemapConfig> resolve_userns_remap(std::string_view value) {
  auto parts = split(value, ':');
  RemapConfig out;
  if (parts.size() == 3) {   // UID:GID:SIZE
    auto u = parse_int(parts[0]), g = parse_int(parts[1]), n = parse_int(parts[2]);
    if (!u || !g || !n || *u <= 0 || *g <= 0 || *n <= 0 || *u + *n > int64_t(UINT32_MAX) ||
        *g + *n > int64_t(UINT32_MAX))
      return Error::invalid("--userns-remap {}: UID:GID:SIZE must be host ids above 0 and a size above 0", value);
    out.map = {uint32_t(*u), uint32_t(*g), uint32_t(*n)};
    out.name = std::string(value);
    return out;
  }
  if (parts.empty() || parts.size() > 2 || parts[0].empty())
    return Error::invalid("--userns-remap {}: expected default, USER[:GROUP] or UID:GID:SIZE", value);
  std::string user = parts[0] == "default" ? "berthremap" : parts[0];
  if (parts[0] == "default") BERTH_TRY_VOID(ensure_default_user(user.c_str()));
  std::string user_name = user, user_id;
  if (const passwd* pw = parse_int(user) ? ::getpwuid(uid_t(*parse_int(user))) : ::getpwnam(user.c_str())) {
    user_name = pw->pw_name;
    user_id = std::to_string(pw->pw_uid);
  } else if (!parse_int(user)) {
    return Error::invalid("--userns-remap {}: no user {}", value, user);
  } else {
    user_id = user;
  }
  std::string group = parts.size() == 2 ? parts[1] : user_name;
  std::string group_name = group, group_id;
  if (const struct group* gr = parse_int(group) ? ::getgrgid(gid_t(*parse_int(group))) : ::getgrnam(group.c_str())) {
    group_name = gr->gr_name;
    group_id = std::to_string(gr->gr_gid);
  } else if (parse_int(group)) {
    group_id = group;
  }
  auto uids = find_subid_range(read_text("/etc/subuid"), user_name, user_id);
  if (!uids) return Error::invalid("--userns-remap {}: no range for {} in /etc/subuid", value, user_name);
  auto gids = find_subid_range(read_text("/etc/subgid"), group_name, group_id);
  if (!gids) return Error::invalid("--userns-remap {}: no range for {} in /etc/subgid", value, group_name);
  out.map = {uids->start, gids->start, std::min(uids->count, gids->count)};
  out.name = group_name == user_name ? user_name : user_name + ":" + group_name;
  return out;
}

}  // namespace berth::runtime
