// The mount-plan executor, run by the post-clone child: async-signal-safe
// (see child.h). Each step is a handful of syscalls on the plan's strings.
// Every mount uses the new mount API (Linux 5.2+: fsopen, fsconfig, fsmount,
// open_tree, move_mount; 5.12+: mount_setattr), so targets are O_PATH fds
// resolved under the new root and never re-resolved by path.
//
// This runs on every container start, so it avoids repeated work: the
// directory the last entries were created in stays open for the next steps
// (/dev, for eleven steps in a row), device nodes are one mknodat each, and
// all masked directories share one empty mount.
#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <utility>

#include "core/runtime/child.h"
#include "core/runtime/child_fd.h"
#include "core/runtime/copy_up.h"

namespace berth::runtime {

namespace {

constexpr unsigned kMoveEmpty = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;


// O_PATH fd of `target` (absolute inside the container) resolved under
// root; `resolve` adds RESOLVE_* flags (RESOLVE_NO_SYMLINKS).
int open_in_root(int root, const char* target, int flags, uint64_t resolve = 0) {
  while (*target == '/') target++;
  open_how how{};
  how.flags = uint64_t(O_PATH | O_CLOEXEC | flags);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve;
  return int(::syscall(SYS_openat2, root, *target ? target : ".", &how, sizeof how));
}

// Splits "/a/b/c" into parent "/a/b" and name "c" inside `buf`.
bool split_path(const char* target, char (&buf)[PATH_MAX], const char** parent, const char** name) {
  size_t n = std::strlen(target);
  if (n == 0 || n >= sizeof buf) return false;
  std::memcpy(buf, target, n + 1);
  char* slash = std::strrchr(buf, '/');
  if (!slash || slash[1] == '\0') return false;
  *slash = '\0';
  *parent = buf[0] ? buf : "/";
  *name = slash + 1;
  return true;
}

// What the executor carries from step to step; run_mount_plan closes it.
struct Exec {
  int root = -1;              // the container's root (the overlay mount), from kOverlay on
  uint64_t resolve = 0;       // extra RESOLVE_* flags for the current step's target
  int proc_sys = -1;          // /proc/sys of the container's procfs (for sysctls after release)
  int dir = -1;               // cached directory under root that entries were created in...
  char dir_path[PATH_MAX] = "";  // ...and its path in the container
  int mask_dir = -1;          // the read-only mount attached over the first masked dir
  int overlay_fd = -1;        // a detached overlay the parent mounted (Spec::userns): attached, not made
  int sysfs_netns = -1;       // ChildArgs::sysfs_netns_fd (template_netns steps)
};

// Drops the cached directory: after a mount over an existing path, which may
// cover it.
void forget_dir(Exec& x) {
  if (x.dir >= 0) ::close(x.dir);
  x.dir = -1;
  x.dir_path[0] = '\0';
}

// mkdir -p of the container path `path` under root, one component at a
// time: each prefix is resolved from root (RESOLVE_IN_ROOT: symlinks stay
// inside), and a missing component is created in the directory its prefix
// resolved to. A component that exists but does not resolve (a dangling
// symlink) fails with ENOTDIR: what it names is not created. Returns an
// O_PATH fd of the directory, or -1 with errno.
int make_dirs_under_root(int root, const char* path) {
  char buf[PATH_MAX];
  size_t n = std::strlen(path);
  if (n >= sizeof buf) return errno = ENAMETOOLONG, -1;
  std::memcpy(buf, path, n + 1);
  int cur = ::fcntl(root, F_DUPFD_CLOEXEC, 3);
  for (size_t i = 0; cur >= 0;) {
    while (buf[i] == '/') i++;
    if (buf[i] == '\0') return cur;
    size_t j = i;
    while (buf[j] != '/' && buf[j] != '\0') j++;
    char saved = buf[j];
    buf[j] = '\0';
    int next = open_in_root(root, buf, O_DIRECTORY);
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(cur, buf + i, 0755) == 0 || errno == EEXIST) {
        next = ::openat(cur, buf + i, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (next >= 0 && (::fstat(next, &st) < 0 || !S_ISDIR(st.st_mode))) {
          ::close(next);
          next = -1;
          errno = ENOTDIR;
        }
      }
    }
    int e = errno;
    ::close(cur);
    errno = e;
    cur = next;
    buf[j] = saved;
    i = j;
  }
  return -1;
}

// The directory `parent` (a container path) to create entries in: root for
// "/", else the cached fd, else opened under root (created first with
// `create`) and cached. Owned by `x`. Returns -1 with errno on failure.
int parent_dir(Exec& x, const char* parent, bool create = false) {
  if (parent[0] == '/' && parent[1] == '\0') return x.root;
  if (x.dir >= 0 && std::strcmp(x.dir_path, parent) == 0) return x.dir;
  size_t n = std::strlen(parent);
  if (n >= sizeof x.dir_path) return errno = ENAMETOOLONG, -1;
  int fd = open_in_root(x.root, parent, O_DIRECTORY, x.resolve);
  if (fd < 0 && errno == ENOENT && create) fd = make_dirs_under_root(x.root, parent);
  if (fd < 0) return -1;
  forget_dir(x);
  x.dir = fd;
  std::memcpy(x.dir_path, parent, n + 1);
  return fd;
}

// Creates the missing mount point `name` in `pfd` (a dir, or an empty file)
// and opens it. A just-created entry is not a symlink, so it is opened
// relative to its parent without another walk from root. EEXIST (a dangling
// symlink, say) falls back to the resolving open, as if it had existed.
int create_mount_point(Exec& x, int pfd, const char* target, const char* name, bool dir, bool* created) {
  if (dir) {
    if (::mkdirat(pfd, name, 0755) < 0) return errno == EEXIST ? open_in_root(x.root, target, 0, x.resolve) : -1;
  } else {
    int f = ::openat(pfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0) return errno == EEXIST ? open_in_root(x.root, target, 0, x.resolve) : -1;
    ::close(f);
  }
  *created = true;
  return ::openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

// Opens `target`, creating it if it is missing; the parent must exist
// unless `parents`. Returns an fd or -1 with errno set. *created: we made
// it, so a mount on it covers nothing that existed before (the cached
// directory stays valid).
int open_mount_point(Exec& x, const char* target, bool dir, bool* created, bool parents = false) {
  *created = false;
  int fd = open_in_root(x.root, target, 0, x.resolve);
  if (fd >= 0 || errno != ENOENT) return fd;
  char buf[PATH_MAX];
  const char *parent, *name;
  if (!split_path(target, buf, &parent, &name)) return errno = EINVAL, -1;
  int pfd = parent_dir(x, parent, parents);
  if (pfd < 0) return -1;
  return create_mount_point(x, pfd, target, name, dir, created);
}

// Attaches the detached mount `mnt` on `target` (created if missing, with
// its parents if `parents`).
int attach(Exec& x, int mnt, const char* target, bool dir, bool parents = false) {
  bool created;
  ChildFd tfd(open_mount_point(x, target, dir, &created, parents));
  if (tfd.fd < 0) return child_errno();
  if (::move_mount(mnt, "", tfd.fd, "", kMoveEmpty) < 0) return child_errno();
  if (!created) forget_dir(x);
  return 0;
}

int configure(int fsfd, const MountOption& o) {
  int r = o.value.empty() ? ::fsconfig(fsfd, FSCONFIG_SET_FLAG, o.key.c_str(), nullptr, 0)
                          : ::fsconfig(fsfd, FSCONFIG_SET_STRING, o.key.c_str(), o.value.c_str(), 0);
  return r < 0 ? child_errno() : 0;
}

// fsopen(fstype) while in the network namespace `netns` (a sysfs context
// takes the opener's), then back in the child's own. Returns the fs context
// fd or -1 with errno.
int fsopen_in_netns(const char* fstype, int netns) {
  ChildFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (own.fd < 0) return -1;
  if (::setns(netns, CLONE_NEWNET) < 0) return -1;
  int fsfd = ::fsopen(fstype, FSOPEN_CLOEXEC);
  int e = errno;
  // Not back in its own network namespace, the container must not go on.
  if (::setns(own.fd, CLONE_NEWNET) < 0) {
    if (fsfd >= 0) ::close(fsfd);
    return -1;
  }
  errno = e;
  return fsfd;
}

// fsopen + options + create + fsmount: a detached mount fd, or -errno. The
// fs context is opened in the network namespace `netns` when >= 0.
int new_mount(const char* fstype, const MountOption* opts, size_t n, uint64_t attrs, int netns = -1) {
  ChildFd fsfd(netns >= 0 ? fsopen_in_netns(fstype, netns) : ::fsopen(fstype, FSOPEN_CLOEXEC));
  if (fsfd.fd < 0) return -child_errno();
  for (size_t i = 0; i < n; i++)
    if (int e = configure(fsfd.fd, opts[i])) return -e;
  if (::fsconfig(fsfd.fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) return -child_errno();
  int mfd = ::fsmount(fsfd.fd, FSMOUNT_CLOEXEC, unsigned(attrs));
  return mfd < 0 ? -child_errno() : mfd;
}

// Configures the overlay with one "lowerdir+" per layer, or with the classic
// "lowerdir" string when `classic`. Returns 0 or an errno; *unsupported is
// set when the kernel rejected "lowerdir+" itself.
int configure_overlay(int fsfd, const MountStep& s, bool classic, bool* unsupported) {
  if (classic) {
    if (::fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", s.fallback_lowerdir.c_str(), 0) < 0) return child_errno();
  }
  for (const auto& o : s.options) {
    bool plus = o.key == "lowerdir+";
    if (classic && plus) continue;
    if (int e = configure(fsfd, o)) {
      *unsupported = plus && e == EINVAL;
      return e;
    }
  }
  return ::fsconfig(fsfd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0 ? child_errno() : 0;
}

// Mounts the overlay on the host path s.target; returns its mount fd (the
// container's root from now on) or -errno.
int mount_overlay(const MountStep& s) {
  ChildFd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (fsfd.fd < 0) return -child_errno();
  bool unsupported = false;
  int e = configure_overlay(fsfd.fd, s, false, &unsupported);
  if (unsupported) {  // "lowerdir+" needs Linux 6.8; a fresh context for the classic form
    ::close(fsfd.fd);
    fsfd.fd = ::fsopen("overlay", FSOPEN_CLOEXEC);
    if (fsfd.fd < 0) return -child_errno();
    e = configure_overlay(fsfd.fd, s, true, &unsupported);
  }
  if (e) return -e;
  int mfd = ::fsmount(fsfd.fd, FSMOUNT_CLOEXEC, 0);
  if (mfd < 0) return -child_errno();
  if (::move_mount(mfd, "", AT_FDCWD, s.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    e = child_errno();
    ::close(mfd);
    return -e;
  }
  return mfd;
}

// Of the container's procfs, an O_PATH fd of its "sys" directory is kept
// (x.proc_sys): sysctls are written through it after release. Opened
// before /proc/sys is covered by its read-only bind, it stays below that
// mount (a lookup from it never crosses into the covering mount), and it
// is no path the container could redirect.
int bind_host(Exec& x, const MountStep& s, bool tree);

// A detached clone of the host path `source` (open_tree OPEN_TREE_CLONE; the
// whole tree with `tree`), with `attrs` (MOUNT_ATTR_*) set on all of it
// before anything can see it. Returns its mount fd, or -1 with errno.
int clone_host(const char* source, uint64_t attrs, bool tree) {
  unsigned rec = tree ? AT_RECURSIVE : 0;
  int fd = ::open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
  if (fd < 0 || !attrs) return fd;
  mount_attr attr{};
  attr.attr_set = attrs;
  if (::mount_setattr(fd, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int mount_filesystem(Exec& x, const MountStep& s) {
  if (s.template_netns && x.sysfs_netns < 0) return EBADF;  // a plan that wants it came without the fd
  int mfd = new_mount(s.fstype.c_str(), s.options.data(), s.options.size(), s.attrs,
                      s.template_netns ? x.sysfs_netns : -1);
  // A sysfs shows the netns of its mounter, who must own it: a remapped
  // container in a netns made by berthd (the host's user namespace owns
  // it) binds the host's /sys instead, read-only, as runc does.
  if (mfd == -EPERM && s.fstype == "sysfs") {
    MountStep host = s;
    host.source = "/sys";
    host.attrs |= MOUNT_ATTR_RDONLY;
    return bind_host(x, host, true);
  }
  if (mfd < 0) return -mfd;
  ChildFd m(mfd);
  if (int e = attach(x, m.fd, s.target.c_str(), true, s.make_parents)) return e;
  if (s.fstype == "proc" && s.target == "/proc" && x.proc_sys < 0) {
    x.proc_sys = ::openat(m.fd, "sys", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (x.proc_sys < 0) return child_errno();
  }
  return 0;
}

int bind_host(Exec& x, const MountStep& s, bool tree) {
  ChildFd src(clone_host(s.source.c_str(), s.attrs, tree));
  if (src.fd < 0) return child_errno();
  return attach(x, src.fd, s.target.c_str(), tree);
}

// A user's bind or volume: the host tree is cloned (recursively for an
// rbind), made read-only while still detached (so the container never sees
// it writable), then attached on the target, parents created.
int bind_user(Exec& x, const MountStep& s) {
  ChildFd src(clone_host(s.source.c_str(), s.attrs, s.recursive));
  if (src.fd < 0) return child_errno();
  return attach(x, src.fd, s.target.c_str(), !s.file, true);
}

// mknod in the (cached) parent dir, owned as asked; on EPERM, bind the
// host's node instead.
int make_device(Exec& x, const MountStep& s) {
  char buf[PATH_MAX];
  const char *parent, *name;
  if (!split_path(s.target.c_str(), buf, &parent, &name)) return EINVAL;
  int pfd = parent_dir(x, parent, s.make_parents);
  if (pfd < 0) return child_errno();
  if (::mknodat(pfd, name, mode_t(s.mode), makedev(s.dev_major, s.dev_minor)) < 0)
    return errno == EPERM ? bind_host(x, s, false) : child_errno();
  if ((s.uid || s.gid) && ::fchownat(pfd, name, s.uid, s.gid, AT_SYMLINK_NOFOLLOW) < 0) return child_errno();
  return 0;
}

// Host /dev entries a privileged container does not get: other devpts and
// tmpfs instances, the host's console, and ptmx (the container's is a link
// to its own devpts instance: the host's would hand out host ptys).
bool skipped_host_entry(const char* name, int depth) {
  static const char* const kDirs[] = {"pts", "shm", "mqueue", "fd", ".lxc", ".lxd-mounts", ".udev"};
  for (const char* d : kDirs)
    if (std::strcmp(name, d) == 0) return true;
  return depth == 0 && (std::strcmp(name, "console") == 0 || std::strcmp(name, "ptmx") == 0);
}

// One host node `name` in `host_dir`, made at the container path `cpath`
// ("/dev/x/name"): mknod with the host's mode, numbers and owner; an entry
// that exists (a default device) is kept; on EPERM the host node is bound.
int copy_host_device(Exec& x, int host_dir, const char* name, const struct stat& st, const char* cpath) {
  char buf[PATH_MAX];
  const char *parent, *leaf;
  if (!split_path(cpath, buf, &parent, &leaf)) return EINVAL;
  int pfd = parent_dir(x, parent, true);
  if (pfd < 0) return child_errno();
  if (::mknodat(pfd, leaf, st.st_mode & (S_IFMT | 07777), st.st_rdev) == 0) {
    if (::fchownat(pfd, leaf, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) return child_errno();
    return 0;
  }
  if (errno == EEXIST) return 0;
  if (errno != EPERM) return child_errno();
  ChildFd src(::open_tree(host_dir, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (src.fd < 0) return child_errno();
  return attach(x, src.fd, cpath, false);
}

// Walks the host directory `host_dir` (container path in cpath[0..len))
// with getdents64 into a stack buffer (opendir would allocate), at most
// four levels deep (/dev/bus/usb/001/002).
int copy_host_devices(Exec& x, int host_dir, char* cpath, size_t len, int depth) {
  alignas(8) char buf[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, host_dir, buf, sizeof buf);
    if (n < 0) return child_errno();
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0 || skipped_host_entry(name, depth)) continue;
      if (d->d_type != DT_DIR && d->d_type != DT_CHR && d->d_type != DT_BLK && d->d_type != DT_UNKNOWN) continue;
      struct stat st;
      if (::fstatat(host_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;  // gone meanwhile
      size_t nlen = std::strlen(name);
      if (len + 1 + nlen >= PATH_MAX) return ENAMETOOLONG;
      cpath[len] = '/';
      std::memcpy(cpath + len + 1, name, nlen + 1);
      int e = 0;
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        e = copy_host_device(x, host_dir, name, st, cpath);
      } else if (S_ISDIR(st.st_mode) && depth < 4) {
        ChildFd sub(::openat(host_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.fd >= 0) e = copy_host_devices(x, sub.fd, cpath, len + 1 + nlen, depth + 1);
      }
      cpath[len] = '\0';
      if (e) return e;
    }
  }
}

int make_host_devices(Exec& x, const MountStep& s) {
  ChildFd host(::open(s.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (host.fd < 0) return child_errno();
  char cpath[PATH_MAX];
  size_t len = s.target.size();
  if (len >= sizeof cpath) return ENAMETOOLONG;
  std::memcpy(cpath, s.target.c_str(), len + 1);
  return copy_host_devices(x, host.fd, cpath, len, 0);
}

int make_symlink(Exec& x, const MountStep& s) {
  char buf[PATH_MAX];
  const char *parent, *name;
  if (!split_path(s.target.c_str(), buf, &parent, &name)) return EINVAL;
  int pfd = parent_dir(x, parent);
  if (pfd < 0) return child_errno();
  if (::symlinkat(s.source.c_str(), pfd, name) < 0 && errno != EEXIST) return child_errno();
  return 0;
}

// A mount to put over a masked directory: the first one is a bind of the
// shared empty host directory `source` made read-only (no superblock of its
// own) or, without one, a new empty read-only tmpfs; it is kept in
// x.mask_dir once attached, and later ones are clones of it. Returns a
// mount fd or -1 with errno.
int mask_dir_mount(const Exec& x, const MountStep& s) {
  if (x.mask_dir >= 0) return ::open_tree(x.mask_dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (s.source.empty()) {
    int mfd = new_mount("tmpfs", nullptr, 0, MOUNT_ATTR_RDONLY);
    return mfd < 0 ? (errno = -mfd, -1) : mfd;
  }
  return clone_host(s.source.c_str(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                    false);
}

// A masked or read-only path must be on the filesystem its place says:
// procfs under /proc, sysfs under /sys (whatever symlink or mount the
// image or a racing container put there). EXDEV otherwise.
int check_kernel_fs(int fd, const char* target) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) < 0) return child_errno();
  if (std::strncmp(target, "/proc/", 6) == 0 && fs.f_type != PROC_SUPER_MAGIC) return EXDEV;
  if (std::strncmp(target, "/sys/", 5) == 0 && fs.f_type != SYSFS_MAGIC) return EXDEV;
  return 0;
}

// A clone of the host's /dev/null (a host path: the child has not pivoted
// yet), checked to be the null device itself (char 1:3) on the fd that is
// mounted, so nothing swapped in for it can be bound over a masked file.
int null_device_mount() {
  int m = ::open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (m < 0) return -child_errno();
  struct stat st;
  if (::fstat(m, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
    ::close(m);
    return -ENODEV;
  }
  return m;
}

// Docker's masking: /dev/null over a file, an empty read-only tmpfs over a dir.
int mask(Exec& x, const MountStep& s) {
  ChildFd tfd(open_in_root(x.root, s.target.c_str(), 0, x.resolve));
  if (tfd.fd < 0) return errno == ENOENT ? 0 : child_errno();
  if (int e = check_kernel_fs(tfd.fd, s.target.c_str())) return e;
  struct stat st;
  if (::fstat(tfd.fd, &st) < 0) return child_errno();
  bool dir = S_ISDIR(st.st_mode);
  int mfd = dir ? mask_dir_mount(x, s) : null_device_mount();
  if (dir && mfd < 0) return child_errno();
  if (mfd < 0) return -mfd;
  ChildFd m(mfd);
  if (::move_mount(m.fd, "", tfd.fd, "", kMoveEmpty) < 0) return child_errno();
  forget_dir(x);
  if (dir && x.mask_dir < 0) std::swap(x.mask_dir, m.fd);  // keep it to clone from
  return 0;
}

int make_readonly(Exec& x, const MountStep& s) {
  ChildFd tfd(open_in_root(x.root, s.target.c_str(), 0, x.resolve));
  if (tfd.fd < 0) return errno == ENOENT ? 0 : child_errno();
  if (int e = check_kernel_fs(tfd.fd, s.target.c_str())) return e;
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE;
  ChildFd tree(::open_tree(tfd.fd, "", flags));
  if (tree.fd < 0) return child_errno();
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(tree.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) return child_errno();
  if (::move_mount(tree.fd, "", tfd.fd, "", kMoveEmpty) < 0) return child_errno();
  forget_dir(x);
  return 0;
}

// pivot_root(".", ".") stacks the old root on the new one; the umount2 then
// detaches it (pivot_root(2), NOTES), so no put_old directory is needed.
int pivot(int root) {
  if (::fchdir(root) < 0) return child_errno();
  if (::syscall(SYS_pivot_root, ".", ".") < 0) return child_errno();
  if (::umount2(".", MNT_DETACH) < 0) return child_errno();
  return ::chdir("/") < 0 ? child_errno() : 0;
}

// mkdir -p after pivot_root: plain paths resolve inside the container.
int make_dirs_in_root(const char* path) {
  char buf[PATH_MAX];
  size_t n = std::strlen(path);
  if (n >= sizeof buf) return ENAMETOOLONG;
  std::memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (::mkdir(buf, 0755) < 0 && errno != EEXIST) return child_errno();
    buf[i] = c;
  }
  return 0;
}

int make_root_readonly() {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  return ::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0 ? child_errno() : 0;
}

int run_step(const MountStep& s, Exec& x) {
  x.resolve = s.no_symlinks ? RESOLVE_NO_SYMLINKS : 0;
  switch (s.kind) {
    case MountKind::kMakePrivate:
      return ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ? child_errno() : 0;
    case MountKind::kOverlay: {
      if (x.overlay_fd >= 0) {
        if (::move_mount(x.overlay_fd, "", AT_FDCWD, s.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
          return child_errno();
        x.root = std::exchange(x.overlay_fd, -1);
        return 0;
      }
      int fd = mount_overlay(s);
      if (fd < 0) return -fd;
      x.root = fd;
      return 0;
    }
    case MountKind::kMakeDir: return make_dirs_in_root(s.target.c_str());
    case MountKind::kReadonlyRoot: return make_root_readonly();
    default: break;
  }
  if (x.root < 0) return EINVAL;  // a plan without an overlay first is a bug
  switch (s.kind) {
    case MountKind::kFilesystem: return mount_filesystem(x, s);
    case MountKind::kDevice: return make_device(x, s);
    case MountKind::kBindTree: return bind_host(x, s, true);
    case MountKind::kSymlink: return make_symlink(x, s);
    case MountKind::kMask: return mask(x, s);
    case MountKind::kReadonly: return make_readonly(x, s);
    case MountKind::kPivotRoot: forget_dir(x); return pivot(x.root);
    case MountKind::kBind: return bind_user(x, s);
    case MountKind::kPopulate: return copy_up(x.root, s.target.c_str(), s.source.c_str());
    case MountKind::kHostDevices: return make_host_devices(x, s);
    default: return EINVAL;
  }
}

}  // namespace

int make_working_dir(const char* path) { return make_dirs_in_root(path); }

int run_mount_plan(const MountPlan& plan, size_t* failed_step, int* proc_sys_fd, int overlay_fd, int sysfs_netns) {
  Exec x;
  x.overlay_fd = overlay_fd;
  x.sysfs_netns = sysfs_netns;
  int e = 0;
  for (size_t i = 0; i < plan.steps.size() && !e; i++) {
    errno = 0;
    if ((e = run_step(plan.steps[i], x))) *failed_step = i;
  }
  forget_dir(x);
  for (int fd : {x.root, x.mask_dir, x.overlay_fd, x.sysfs_netns})
    if (fd >= 0) ::close(fd);
  if (proc_sys_fd && !e) {
    *proc_sys_fd = x.proc_sys;
  } else if (x.proc_sys >= 0) {
    ::close(x.proc_sys);
  }
  return e;
}

}  // namespace berth::runtime
