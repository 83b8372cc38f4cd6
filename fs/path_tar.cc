#include "fs/path_tar.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace berth::fs {

namespace {

constexpr size_t kReadBytes = 256 << 10;

// Gone or changed type under a running container: skip it.
bool vanished(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENXIO; }

TarEntry entry_from_stat(const std::string& path, const struct stat& st, const IdShift& shift) {
  TarEntry t;
  t.path = path;
  t.mode = st.st_mode;
  t.uid = shift.uid_in(st.st_uid);
  t.gid = shift.gid_in(st.st_gid);
  t.mtime_s = st.st_mtim.tv_sec;
  return t;
}

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

// Kernel filesystems a running container has mounted (/proc, /sys, /dev/pts,
// cgroups): their files are not the container's data (and /proc/kcore
// claims a size of the whole address space), so, as in Docker (which reads
// the root mounted outside the container, where these are not mounted),
// their mount points are archived as empty directories.
bool is_kernel_fs(int dir) {
  struct statfs sf;
  if (::fstatfs(dir, &sf) < 0) return false;
  switch (static_cast<unsigned long>(sf.f_type)) {
    case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
    case DEVPTS_SUPER_MAGIC: case SECURITYFS_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
    case BPF_FS_MAGIC: case SELINUX_MAGIC:
      return true;
    default:
      return false;
  }
}

// The names in `dir` (not "." and ".."), sorted bytewise.
Result<std::vector<std::string>> list_dir(int dir) {
  int dup = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Error::sys(errno, "dup directory fd");
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int e = errno;
    ::close(dup);
    return Error::sys(e, "read directory");
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int e = errno;
  ::closedir(d);
  if (e) return Error::sys(e, "read directory");
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<std::unique_ptr<PathTar>> PathTar::open(unique_fd root, const std::string& path, IdShift shift) {
  ContainerPath p = split_container_path(path);
  BERTH_TRY_VOID(stat_in_root(root.get(), p));  // kNotFound, or not a directory
  auto slot = std::make_shared<std::string*>(nullptr);
  TarStream tar = BERTH_TRY(TarStream::open([slot](std::string_view data) -> Result<void> {
    if (*slot) (*slot)->append(data);
    return ok();
  }));
  std::unique_ptr<PathTar> t(new PathTar(std::move(root), std::move(tar)));
  t->slot_ = std::move(slot);
  t->shift_ = shift;
  t->buf_.resize(kReadBytes);
  BERTH_TRY_VOID(t->start(p));
  return t;
}

// "dir/." and "dir/" name the directory itself (a symlink to one is
// followed, in root, as Docker does); otherwise the last component is
// archived as it is, from its parent directory.
Result<void> PathTar::start(const ContainerPath& p) {
  if (p.base == "." || p.want_dir) {
    top_parent_ = BERTH_TRY(open_in_root(root_.get(), p.full(), O_PATH | O_DIRECTORY));
    return emit_dir(top_parent_.get(), ".", p.base);  // "." of the directory itself
  }
  top_parent_ = BERTH_TRY(open_in_root(root_.get(), p.dir, O_PATH | O_DIRECTORY));
  return emit(top_parent_.get(), p.base, p.base);
}

Result<bool> PathTar::produce(std::string* out, size_t budget_bytes) {
  *slot_ = out;
  auto r = [&]() -> Result<void> {
    while (!done_ && out->size() < budget_bytes) BERTH_TRY_VOID(step());
    return ok();
  }();
  *slot_ = nullptr;
  if (!r) return std::move(r.error());
  return done_;
}

Result<void> PathTar::step() {
  if (file_) return copy_file_piece();
  while (!frames_.empty() && frames_.back().next == frames_.back().names.size()) frames_.pop_back();
  if (frames_.empty()) {
    BERTH_TRY_VOID(tar_.close());
    done_ = true;
    return ok();
  }
  Frame& f = frames_.back();
  const std::string& name = f.names[f.next++];
  return emit(f.dir.get(), name, join(f.rel, name));
}

Result<void> PathTar::emit(int parent, const std::string& name, const std::string& rel) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (vanished(errno)) return ok();
    return Error::sys(errno, "stat {}", rel);
  }
  if (S_ISDIR(st.st_mode)) return emit_dir(parent, name, rel);
  if (S_ISSOCK(st.st_mode)) return ok();
  TarEntry t = entry_from_stat(rel, st, shift_);
  if (st.st_nlink > 1) {
    auto [it, fresh] = links_.try_emplace({st.st_dev, st.st_ino}, rel);
    if (!fresh) {
      t.hardlink = true;
      t.link_target = it->second;
      return tar_.write_header(t);
    }
  }
  if (S_ISREG(st.st_mode)) return emit_file(parent, name, rel);
  if (S_ISLNK(st.st_mode)) {
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlinkat(parent, name.c_str(), target.data(), target.size());
    if (n < 0) return vanished(errno) || errno == EINVAL ? ok() : Error::sys(errno, "readlink {}", rel);
    target.resize(static_cast<size_t>(n));
    t.link_target = std::move(target);
  } else {
    t.rdev = st.st_rdev;
  }
  return tar_.write_header(t);
}

// Opened without following a symlink, then described from the open fd, so
// the header and the names read are of the same directory.
Result<void> PathTar::emit_dir(int parent, const std::string& name, const std::string& rel) {
  int raw = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (raw < 0) return vanished(errno) ? ok() : Error::sys(errno, "open directory {}", rel);
  unique_fd dir(raw);
  struct stat st;
  if (::fstat(dir.get(), &st) < 0) return Error::sys(errno, "stat directory {}", rel);
  BERTH_TRY_VOID(tar_.write_header(entry_from_stat(rel, st, shift_)));
  std::vector<std::string> names;
  if (!is_kernel_fs(dir.get())) names = BERTH_TRY(list_dir(dir.get()));
  frames_.push_back({std::move(dir), rel, std::move(names), 0});
  return ok();
}

Result<void> PathTar::emit_file(int parent, const std::string& name, const std::string& rel) {
  int raw = ::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (raw < 0) return vanished(errno) ? ok() : Error::sys(errno, "open {}", rel);
  unique_fd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::sys(errno, "stat {}", rel);
  if (!S_ISREG(st.st_mode)) return ok();  // swapped for something else meanwhile
  BERTH_TRY_VOID(tar_.write_header(entry_from_stat(rel, st, shift_), st.st_size));
  file_left_ = st.st_size;
  if (file_left_ > 0) file_ = std::move(fd);
  return ok();
}

Result<void> PathTar::copy_file_piece() {
  size_t want = static_cast<size_t>(std::min<int64_t>(file_left_, static_cast<int64_t>(buf_.size())));
  ssize_t n;
  do n = ::read(file_.get(), buf_.data(), want);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys(errno, "read file for tar");
  if (n > 0) BERTH_TRY_VOID(tar_.write_data(std::string_view(buf_.data(), static_cast<size_t>(n))));
  file_left_ -= n;
  // Shrunk while read: the stream pads the entry with zeros.
  if (n == 0 || file_left_ == 0) file_.reset();
  return ok();
}

}  // namespace berth::fs
