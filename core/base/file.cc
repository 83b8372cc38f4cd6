#include "core/base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace berth {

Result<unique_fd> open_fd(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return Error::sys(errno, "open {}", path);
  return unique_fd(fd);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  unique_fd fd = BERTH_TRY(open_fd(path, O_RDONLY));
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, "read {}", path);
    }
    if (n == 0) break;
    if (out.size() + n > max_bytes) return Error::make(Code::kTooLarge, "read {}: larger than {} bytes", path, max_bytes);
    out.append(buf, n);
  }
  return out;
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, "write");
    }
    data.remove_prefix(n);
  }
  return ok();
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  std::string tmp = path + ".tmp";
  {
    unique_fd fd = BERTH_TRY(open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    // A failed write (a full disk) leaves neither the old file touched nor
    // a partial temp file behind.
    auto w = write_all(fd.get(), data);
    if (!w) {
      ::unlink(tmp.c_str());
      return std::move(w.error()).context("write {}", tmp);
    }
    if (durable && ::fsync(fd.get()) < 0) {
      Error e = Error::sys(errno, "fsync {}", tmp);
      ::unlink(tmp.c_str());
      return e;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    Error e = Error::sys(errno, "rename {} to {}", tmp, path);
    ::unlink(tmp.c_str());
    return e;
  }
  if (!durable) return ok();
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return ok();
}

Result<void> make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return ok();
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (part.empty()) continue;
    if (::mkdir(part.c_str(), mode) < 0 && errno != EEXIST) return Error::sys(errno, "mkdir {}", part);
  }
  return ok();
}

namespace {
Result<void> remove_at(int parent, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return Error::sys(errno, "stat {}", name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Error::make(Code::kConflict, "remove {}: is a mount point", name);
    int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::sys(errno, "open {}", name);
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return Error::sys(errno, "opendir {}", name);
    }
    Result<void> r = ok();
    while (dirent* e = ::readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      r = remove_at(::dirfd(d), e->d_name, dev);
      if (!r) break;
    }
    ::closedir(d);
    if (!r) return std::move(r.error()).context("{}", name);
    if (::unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return Error::sys(errno, "rmdir {}", name);
    return ok();
  }
  if (::unlinkat(parent, name, 0) < 0 && errno != ENOENT) return Error::sys(errno, "unlink {}", name);
  return ok();
}
}  // namespace

Result<void> remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return ok();
    return Error::sys(errno, "stat {}", path);
  }
  auto r = remove_at(AT_FDCWD, path.c_str(), st.st_dev);
  if (!r) return std::move(r.error()).context("remove {}", path);
  return ok();
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

long count_open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

}  // namespace berth
