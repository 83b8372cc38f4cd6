#include "fs/container_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <deque>

#include "core/base/strings.h"

namespace berth::fs {

namespace {

constexpr int kMaxLinks = 40;  // the kernel's limit (path_resolution(7))

std::string join_abs(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

Result<std::string> read_link_at(int dirfd, const std::string& name) {
  std::string buf(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
  if (n < 0) return Error::sys(errno, "readlink {}", name);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

}  // namespace

std::string ContainerPath::full() const {
  if (base == ".") return dir;
  return dir == "/" ? "/" + base : dir + "/" + base;
}

ContainerPath split_container_path(std::string_view path) {
  ContainerPath out;
  bool current_dir = path == "." || path.ends_with("/.");
  out.want_dir = current_dir || path.ends_with("/");
  std::vector<std::string> parts = clean_path_parts(path);  // lexical, as Go's filepath.Clean
  if (current_dir || parts.empty()) {
    out.dir = join_abs(parts);
    out.base.push_back('.');  // not `= "."`: g++ 12's false -Wrestrict (GCC PR 105329)
    return out;
  }
  out.base = parts.back();
  parts.pop_back();
  out.dir = join_abs(parts);
  return out;
}

Result<unique_fd> open_in_root(int root, std::string_view path, int flags) {
  std::string rel(path);
  size_t b = rel.find_first_not_of('/');
  rel = b == std::string::npos ? "." : rel.substr(b);
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return unique_fd(static_cast<int>(fd));
    if (errno != EAGAIN) return Error::sys(errno, "open {} in the container", path);
  }
}

Result<std::string> follow_in_root(int root, std::string_view path) {
  std::deque<std::string> todo;
  for (std::string& c : split(path, '/')) todo.push_back(std::move(c));
  std::vector<std::string> done;
  int links = 0;
  bool missing = false;  // past a missing component: the rest is lexical
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    if (!missing) {
      unique_fd dir = BERTH_TRY(open_in_root(root, join_abs(done), O_PATH | O_DIRECTORY));
      struct stat st;
      if (::fstatat(dir.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT) return Error::sys(errno, "stat {}", join_abs(done) + "/" + c);
        missing = true;
      } else if (S_ISLNK(st.st_mode)) {
        if (++links > kMaxLinks) return Error::sys(ELOOP, "follow {}", path);
        std::string target = BERTH_TRY(read_link_at(dir.get(), c));
        if (starts_with(target, "/")) done.clear();
        std::vector<std::string> parts = split(target, '/');
        todo.insert(todo.begin(), parts.begin(), parts.end());
        continue;
      }
    }
    done.push_back(std::move(c));
  }
  return join_abs(done);
}

Result<PathInfo> stat_in_root(int root, const ContainerPath& p) {
  PathInfo info;
  info.name = p.base;
  unique_fd dir = BERTH_TRY(open_in_root(root, p.dir, O_PATH | O_DIRECTORY));
  int r = p.base == "." ? ::fstat(dir.get(), &info.st)
                        : ::fstatat(dir.get(), p.base.c_str(), &info.st, AT_SYMLINK_NOFOLLOW);
  if (r < 0) return Error::sys(errno, "stat {} in the container", p.full());
  if (S_ISLNK(info.st.st_mode)) info.link_target = BERTH_TRY(follow_in_root(root, p.full()));
  // A trailing slash asserts a directory; a symlink to one counts (Docker
  // follows the link then).
  if (p.want_dir && !S_ISDIR(info.st.st_mode)) {
    struct stat target;
    auto fd = open_in_root(root, p.full(), O_PATH);
    if (!fd || ::fstat(fd->get(), &target) < 0 || !S_ISDIR(target.st_mode))
      return Error::invalid("{} is not a directory", p.full());
  }
  return info;
}

uint32_t go_file_mode(mode_t m) {
  uint32_t out = m & 0777;
  switch (m & S_IFMT) {
    case S_IFBLK: out |= 1u << 26; break;
    case S_IFCHR: out |= (1u << 26) | (1u << 21); break;
    case S_IFDIR: out |= 1u << 31; break;
    case S_IFIFO: out |= 1u << 25; break;
    case S_IFLNK: out |= 1u << 27; break;
    case S_IFSOCK: out |= 1u << 24; break;
    default: break;
  }
  if (m & S_ISUID) out |= 1u << 23;
  if (m & S_ISGID) out |= 1u << 22;
  if (m & S_ISVTX) out |= 1u << 20;
  return out;
}

Result<unique_fd> mount_overlay_detached(const std::vector<std::string>& lowers_top_first, const std::string& upper,
                                         const std::string& work) {
  int raw = ::fsopen("overlay", FSOPEN_CLOEXEC);
  if (raw < 0) return Error::sys(errno, "fsopen overlay");
  unique_fd fsfd(raw);
  auto set = [&](const char* key, const std::string& value) -> Result<void> {
    if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) < 0)
      return Error::sys(errno, "overlay option {}={}", key, value);
    return ok();
  };
  // "lowerdir+" (Linux 6.8) takes one layer per call, so the layer count
  // is not limited by a one-page option string.
  for (const std::string& l : lowers_top_first) BERTH_TRY_VOID(set("lowerdir+", l));
  BERTH_TRY_VOID(set("upperdir", upper));
  BERTH_TRY_VOID(set("workdir", work));
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Error::sys(errno, "create overlay for {}", upper);
  int mfd = ::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, 0);
  if (mfd < 0) return Error::sys(errno, "fsmount overlay for {}", upper);
  return unique_fd(mfd);
}

}  // namespace berth::fs
