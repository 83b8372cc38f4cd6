// The mount-plan executor, run by the post-clone child: async-signal-safe
// (see child.h). Each step is a handful of syscalls on the plan's strings.
// Every mount uses the new mount API (Linux 5.2+: fsopen, fsconfig, fsmount,
// open_tree, move_mount; 5.12+: mount_setattr), so targets are O_PATH fds
// resolved under the new root and never re-resolved by path.
//
// This runs on every container start, so it avoids repeated work: the
// directory the last entries were created in stays open for the next steps
// (/dev, for eleven steps in a row), device nodes are one mknodat each, and
// all masked directories share one empty tmpfs.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
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


// O_PATH fd of `target` (absolute inside the container) resolved under root.
int open_in_root(int root, const char* target, int flags) {
  while (*target == '/') target++;
  open_how how{};
  how.flags = uint64_t(O_PATH | O_CLOEXEC | flags);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
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
  int dir = -1;               // cached directory under root that entries were created in...
  char dir_path[PATH_MAX] = "";  // ...and its path in the container
  int mask_dir = -1;          // the read-only tmpfs attached over the first masked dir
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
  int fd = open_in_root(x.root, parent, O_DIRECTORY);
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
    if (::mkdirat(pfd, name, 0755) < 0) return errno == EEXIST ? open_in_root(x.root, target, 0) : -1;
  } else {
    int f = ::openat(pfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0) return errno == EEXIST ? open_in_root(x.root, target, 0) : -1;
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
  int fd = open_in_root(x.root, target, 0);
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

// fsopen + options + create + fsmount: a detached mount fd, or -errno.
int new_mount(const char* fstype, const MountOption* opts, size_t n, uint64_t attrs) {
  ChildFd fsfd(::fsopen(fstype, FSOPEN_CLOEXEC));
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

int mount_filesystem(Exec& x, const MountStep& s) {
  int mfd = new_mount(s.fstype.c_str(), s.options.data(), s.options.size(), s.attrs);
  if (mfd < 0) return -mfd;
  ChildFd m(mfd);
  return attach(x, m.fd, s.target.c_str(), true, s.make_parents);
}

int bind_host(Exec& x, const MountStep& s, bool tree) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (tree ? AT_RECURSIVE : 0);
  ChildFd src(::open_tree(AT_FDCWD, s.source.c_str(), flags));
  if (src.fd < 0) return child_errno();
  if (s.attrs) {
    mount_attr attr{};
    attr.attr_set = s.attrs;
    if (::mount_setattr(src.fd, "", AT_EMPTY_PATH | (tree ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
      return child_errno();
  }
  return attach(x, src.fd, s.target.c_str(), tree);
}

// A user's bind or volume: the host tree is cloned (recursively for an
// rbind), made read-only while still detached (so the container never sees
// it writable), then attached on the target, parents created.
int bind_user(Exec& x, const MountStep& s) {
  unsigned rec = s.recursive ? AT_RECURSIVE : 0;
  ChildFd src(::open_tree(AT_FDCWD, s.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec));
  if (src.fd < 0) return child_errno();
  if (s.attrs) {
    mount_attr attr{};
    attr.attr_set = s.attrs;
    if (::mount_setattr(src.fd, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0) return child_errno();
  }
  return attach(x, src.fd, s.target.c_str(), !s.file, true);
}

// mknod in the (cached) parent dir; on EPERM, bind the host's node instead.
int make_device(Exec& x, const MountStep& s) {
  char buf[PATH_MAX];
  const char *parent, *name;
  if (!split_path(s.target.c_str(), buf, &parent, &name)) return EINVAL;
  int pfd = parent_dir(x, parent);
  if (pfd < 0) return child_errno();
  if (::mknodat(pfd, name, mode_t(s.mode), makedev(s.dev_major, s.dev_minor)) == 0) return 0;
  return errno == EPERM ? bind_host(x, s, false) : child_errno();
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

// A mount to put over a masked directory: the first one is a new empty
// read-only tmpfs, kept in x.mask_dir once attached; later ones are clones
// of it (one superblock for all). Returns a mount fd or -1 with errno.
int mask_dir_mount(const Exec& x) {
  if (x.mask_dir >= 0) return ::open_tree(x.mask_dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  int mfd = new_mount("tmpfs", nullptr, 0, MOUNT_ATTR_RDONLY);
  return mfd < 0 ? (errno = -mfd, -1) : mfd;
}

// Docker's masking: /dev/null over a file, an empty read-only tmpfs over a dir.
int mask(Exec& x, const MountStep& s) {
  ChildFd tfd(open_in_root(x.root, s.target.c_str(), 0));
  if (tfd.fd < 0) return errno == ENOENT ? 0 : child_errno();
  struct stat st;
  if (::fstat(tfd.fd, &st) < 0) return child_errno();
  bool dir = S_ISDIR(st.st_mode);
  ChildFd m(dir ? mask_dir_mount(x) : ::open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (m.fd < 0) return child_errno();
  if (::move_mount(m.fd, "", tfd.fd, "", kMoveEmpty) < 0) return child_errno();
  forget_dir(x);
  if (dir && x.mask_dir < 0) std::swap(x.mask_dir, m.fd);  // keep it to clone from
  return 0;
}

int make_readonly(Exec& x, const MountStep& s) {
  ChildFd tfd(open_in_root(x.root, s.target.c_str(), 0));
  if (tfd.fd < 0) return errno == ENOENT ? 0 : child_errno();
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
  switch (s.kind) {
    case MountKind::kMakePrivate:
      return ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ? child_errno() : 0;
    case MountKind::kOverlay: {
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
    default: return EINVAL;
  }
}

}  // namespace

int make_working_dir(const char* path) { return make_dirs_in_root(path); }

int run_mount_plan(const MountPlan& plan, size_t* failed_step) {
  Exec x;
  for (size_t i = 0; i < plan.steps.size(); i++) {
    errno = 0;
    if (int e = run_step(plan.steps[i], x)) {
      *failed_step = i;
      return e;
    }
  }
  forget_dir(x);
  for (int fd : {x.root, x.mask_dir})
    if (fd >= 0) ::close(fd);
  return 0;
}

}  // namespace berth::runtime
