// The volume copy-up of the post-clone child; see copy_up.h. Every function
// here is a few syscalls on caller-owned fds and stack buffers.
#include "core/runtime/copy_up.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include "core/runtime/child_fd.h"

namespace berth::runtime {

namespace {

// Deeper trees fail with ELOOP instead of exhausting the child's stack or
// fd table (two fds and ~1 KiB of stack per level).
constexpr int kMaxDepth = 256;


// getdents64(2)'s record (glibc 2.36 has no wrapper we can rely on).
struct Dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

bool dot_or_dotdot(const char* n) { return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')); }

// 1 when the directory `path` has no entries, 0 when it has, -errno.
int is_empty_dir(const char* path) {
  ChildFd d(::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (d.fd < 0) return -child_errno();
  alignas(Dirent64) char buf[1024];
  for (;;) {
    long n = ::syscall(SYS_getdents64, d.fd, buf, sizeof buf);
    if (n < 0) return -child_errno();
    if (n == 0) return 1;
    for (long off = 0; off < n;) {
      auto* e = reinterpret_cast<Dirent64*>(buf + off);
      if (!dot_or_dotdot(e->name)) return 0;
      off += e->reclen;
    }
  }
}

// Owner, then permissions (chown clears set-id bits), then times.
int copy_meta(int fd, const struct stat& st) {
  if (::fchown(fd, st.st_uid, st.st_gid) < 0) return child_errno();
  if (::fchmod(fd, st.st_mode & 07777) < 0) return child_errno();
  const timespec ts[2] = {st.st_atim, st.st_mtim};
  return ::futimens(fd, ts) < 0 ? child_errno() : 0;
}

// copy_file_range within one filesystem; read/write through a static buffer
// across filesystems (EXDEV) or where it is not supported. The child is
// single-threaded, so the static buffer is its own.
int copy_data(int in, int out) {
  bool fallback = false;
  for (;;) {
    if (!fallback) {
      ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t(1) << 30, 0);
      if (n > 0) continue;
      if (n == 0) return 0;
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return child_errno();
      fallback = true;
    }
    static char buf[64 * 1024];
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return child_errno();
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buf + done, size_t(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return child_errno();
      done += w;
    }
  }
}

int copy_file(int src, int dst, const char* name, const struct stat& st) {
  ChildFd in(::openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (in.fd < 0) return child_errno();
  ChildFd out(::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.fd < 0) return child_errno();
  if (int e = copy_data(in.fd, out.fd)) return e;
  return copy_meta(out.fd, st);
}

// Not inlined: its PATH_MAX buffer must not sit in every copy_dir frame.
[[gnu::noinline]] int copy_symlink(int src, int dst, const char* name, const struct stat& st) {
  char link[PATH_MAX];
  ssize_t n = ::readlinkat(src, name, link, sizeof link - 1);
  if (n < 0) return child_errno();
  link[n] = '\0';
  if (::symlinkat(link, dst, name) < 0) return child_errno();
  if (::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) return child_errno();
  const timespec ts[2] = {st.st_atim, st.st_mtim};
  return ::utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? child_errno() : 0;
}

int copy_node(int dst, const char* name, const struct stat& st) {
  if (::mknodat(dst, name, st.st_mode, st.st_rdev) < 0) return child_errno();
  if (::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) return child_errno();
  if (::fchmodat(dst, name, st.st_mode & 07777, 0) < 0) return child_errno();
  const timespec ts[2] = {st.st_atim, st.st_mtim};
  return ::utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? child_errno() : 0;
}

int copy_dir(int src, int dst, int depth);

int copy_subdir(int src, int dst, const char* name, const struct stat& st, int depth) {
  if (depth >= kMaxDepth) return ELOOP;
  if (::mkdirat(dst, name, 0700) < 0) return child_errno();
  ChildFd in(::openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (in.fd < 0) return child_errno();
  ChildFd out(::openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (out.fd < 0) return child_errno();
  if (int e = copy_dir(in.fd, out.fd, depth + 1)) return e;
  return copy_meta(out.fd, st);  // last: the mode may forbid writing into it
}

int copy_entry(int src, int dst, const char* name, int depth) {
  struct stat st;
  if (::fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return child_errno();
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR: return copy_subdir(src, dst, name, st, depth);
    case S_IFREG: return copy_file(src, dst, name, st);
    case S_IFLNK: return copy_symlink(src, dst, name, st);
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO: return copy_node(dst, name, st);
    default: return 0;  // sockets: nothing to copy
  }
}

int copy_dir(int src, int dst, int depth) {
  alignas(Dirent64) char buf[1024];
  for (;;) {
    long n = ::syscall(SYS_getdents64, src, buf, sizeof buf);
    if (n < 0) return child_errno();
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      auto* e = reinterpret_cast<Dirent64*>(buf + off);
      off += e->reclen;
      if (dot_or_dotdot(e->name)) continue;
      if (int r = copy_entry(src, dst, e->name, depth)) return r;
    }
  }
}

}  // namespace

int copy_up(int root, const char* target, const char* dest) {
  int empty = is_empty_dir(dest);
  if (empty < 0) return -empty;
  if (!empty) return 0;
  while (*target == '/') target++;
  open_how how{};
  how.flags = uint64_t(O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  ChildFd src(int(::syscall(SYS_openat2, root, *target ? target : ".", &how, sizeof how)));
  if (src.fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : child_errno();
  ChildFd dst(::open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dst.fd < 0) return child_errno();
  if (int e = copy_dir(src.fd, dst.fd, 0)) return e;
  struct stat st;
  if (::fstat(src.fd, &st) < 0) return child_errno();
  return copy_meta(dst.fd, st);
}

}  // namespace berth::runtime
