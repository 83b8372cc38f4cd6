#include "fs/layer_stack.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include "core/base/strings.h"

namespace berth::fs {

namespace {

constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

// openat2(2) (Linux 5.6) beneath `root`; EAGAIN means a concurrent rename
// raced the lookup: retry.
int open_beneath(int root, const std::string& rel, int flags) {
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  const char* p = rel.empty() ? "." : rel.c_str();
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, p, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

bool dir_is_opaque(int dirfd) {
  char v[4];
  ssize_t n = ::fgetxattr(dirfd, kOpaqueXattr, v, sizeof v);
  return n == 1 && v[0] == 'y';
}

// Every name in an open directory except "." and "..".
Result<std::vector<std::string>> list_names(int dirfd, const std::string& what) {
  int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return Error::sys(errno, "open directory {}", what);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int e = errno;
    ::close(dup);
    return Error::sys(e, "open directory {}", what);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    names.emplace_back(e->d_name);
  }
  int err = errno;
  ::closedir(d);
  if (err) return Error::sys(err, "read directory {}", what);
  return names;
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_leaf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// Merge state of one name while the layers of a directory are read.
struct Pending {
  StackEntry entry;
  bool closed = false;  // a lower copy can no longer merge into this one
};

}  // namespace

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

std::string join_rel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

Result<LayerStack> LayerStack::open(const std::vector<std::string>& top_first) {
  LayerStack s;
  for (const std::string& p : top_first) {
    int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error::sys(errno, "open layer {}", p);
    s.roots_.emplace_back(fd);
    s.paths_.push_back(p);
  }
  return s;
}

std::vector<size_t> LayerStack::all_layers() const {
  std::vector<size_t> out(roots_.size());
  for (size_t i = 0; i < out.size(); i++) out[i] = i;
  return out;
}

Result<unique_fd> LayerStack::open_dir(size_t layer, const std::string& rel) const {
  int fd = open_beneath(roots_[layer].get(), rel, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Error::sys(errno, "open {}/{}", paths_[layer], rel);
  return unique_fd(fd);
}

Result<unique_fd> LayerStack::open_file(size_t layer, const std::string& rel) const {
  int fd = open_beneath(roots_[layer].get(), rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Error::sys(errno, "open {}/{}", paths_[layer], rel);
  unique_fd f(fd);
  struct stat st;
  if (::fstat(f.get(), &st) < 0) return Error::sys(errno, "stat {}/{}", paths_[layer], rel);
  if (!S_ISREG(st.st_mode)) return Error::invalid("{}/{} is not a regular file", paths_[layer], rel);
  return f;
}

Result<std::string> LayerStack::read_link(size_t layer, const std::string& rel) const {
  auto [parent, leaf] = split_leaf(rel);
  unique_fd dir = BERTH_TRY(open_dir(layer, parent));
  std::string buf(4096, '\0');
  ssize_t n = ::readlinkat(dir.get(), leaf.c_str(), buf.data(), buf.size());
  if (n < 0) return Error::sys(errno, "read symlink {}/{}", paths_[layer], rel);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

// The l*xattr calls go through the parent's /proc/self/fd magic link (its
// resolution is the kernel's, not a path walk of ours) and never follow
// the last component, which also covers symlinks (no fd can be opened on
// one for fgetxattr).
Result<std::map<std::string, std::string>> LayerStack::xattrs(size_t layer, const std::string& rel) const {
  auto [parent, leaf] = split_leaf(rel);
  unique_fd dir = BERTH_TRY(open_dir(layer, parent));
  std::string path = fmt::format("/proc/self/fd/{}/{}", dir.get(), leaf);
  std::map<std::string, std::string> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n < 0 && (errno == ENOTSUP || errno == ENODATA)) return out;
  if (n < 0) return Error::sys(errno, "list xattrs of {}/{}", paths_[layer], rel);
  if (n == 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) return Error::sys(errno, "list xattrs of {}/{}", paths_[layer], rel);
  names.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < names.size();) {
    std::string name = names.c_str() + i;
    i += name.size() + 1;
    if (name.empty() || starts_with(name, kOverlayXattrPrefix)) continue;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0 && errno == ENODATA) continue;  // removed meanwhile
    if (vn < 0) return Error::sys(errno, "read xattr {} of {}/{}", name, paths_[layer], rel);
    std::string value(static_cast<size_t>(vn), '\0');
    vn = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn < 0) return Error::sys(errno, "read xattr {} of {}/{}", name, paths_[layer], rel);
    value.resize(static_cast<size_t>(vn));
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

Result<StackDir> LayerStack::read_dir(const std::string& rel, const std::vector<size_t>& layers,
                                      bool keep_whiteouts) const {
  std::map<std::string, Pending> merged;
  StackDir out;
  bool first = true;
  for (size_t layer : layers) {
    int raw = open_beneath(roots_[layer].get(), rel, O_RDONLY | O_DIRECTORY);
    // Missing, or not a directory there (any more; ELOOP: a symlink).
    if (raw < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) continue;
    if (raw < 0) return Error::sys(errno, "open {}/{}", paths_[layer], rel);
    unique_fd dir(raw);
    std::string what = paths_[layer] + "/" + rel;
    std::vector<std::string> names = BERTH_TRY(list_names(dir.get(), what));
    for (std::string& name : names) {
      struct stat st;
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) continue;
        return Error::sys(errno, "stat {}/{}", what, name);
      }
      auto [it, fresh] = merged.try_emplace(name);
      Pending& p = it->second;
      if (fresh) {
        p.entry.name = std::move(name);
        p.entry.st = st;
        p.entry.layer = layer;
        p.entry.whiteout = is_whiteout(st);
        p.closed = !S_ISDIR(st.st_mode);
        if (!p.closed) p.entry.dir_layers.push_back(layer);
        continue;
      }
      if (p.closed) continue;
      if (S_ISDIR(st.st_mode))
        p.entry.dir_layers.push_back(layer);
      else
        p.closed = true;  // a file or whiteout ends the merge below it
    }
    bool opaque = dir_is_opaque(dir.get());
    if (first) out.opaque = opaque;
    first = false;
    if (opaque) break;
  }
  out.entries.reserve(merged.size());
  for (auto& [name, p] : merged)
    if (keep_whiteouts || !p.entry.whiteout) out.entries.push_back(std::move(p.entry));
  return out;
}

}  // namespace berth::fs
