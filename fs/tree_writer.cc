#include "fs/tree_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>

#include "core/base/strings.h"
#include "fs/tar_stream.h"

namespace berth::fs {

constexpr int64_t kEarlyWritebackBytes = 256 << 10;

namespace {

constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr const char* kOverlayOpaqueXattr = "trusted.overlay.opaque";
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

// openat2(2) (Linux 5.6): resolve `rel` below `dirfd`, refusing symlinks,
// magic links and mount crossings anywhere in the path. glibc 2.36 has no
// wrapper. EAGAIN means a concurrent rename raced the lookup; retry.
int open_beneath(int dirfd, const std::string& rel, int flags) {
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

std::string join(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; i++) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

size_t depth_of(const std::string& rel) { return rel == "." ? 0 : 1 + std::count(rel.begin(), rel.end(), '/'); }

Result<void> pwrite_all(int fd, const char* p, size_t n, int64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, "write");
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += w;
  }
  return ok();
}

// openat2(RESOLVE_IN_ROOT): `path` (absolute or not) resolved inside the
// container root `root`, symlinks followed but clamped at that root.
int open_in_root_raw(int root, const std::string& path, int flags) {
  size_t b = path.find_first_not_of('/');
  std::string rel = b == std::string::npos ? "." : path.substr(b);
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

}  // namespace

Result<std::vector<std::string>> clean_entry_path(std::string_view path) {
  std::vector<std::string> out;
  for (std::string& c : split(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") return Error::invalid("refusing layer entry {}: path contains '..'", path);
    out.push_back(std::move(c));
  }
  return out;
}

TreeWriter::TreeWriter(unique_fd root, TreeOptions o)
    : root_(std::move(root)), opts_(std::move(o)), preserve_owner_(opts_.preserve_owner), privileged_(::geteuid() == 0) {}

Result<TreeWriter> TreeWriter::open(const std::string& root, bool preserve_owner) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::sys(errno, "open layer directory {}", root);
  TreeOptions o;
  o.preserve_owner = preserve_owner;
  return TreeWriter(unique_fd(fd), std::move(o));
}

Result<TreeWriter> TreeWriter::open_in_root(unique_fd root, const std::string& dir, TreeOptions o) {
  int fd = open_in_root_raw(root.get(), dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0 && errno == ENOTDIR) return Error::invalid("extraction point {} is not a directory", dir);
  if (fd < 0) return Error::sys(errno, "open {} in the container", dir);
  if (o.owner) o.preserve_owner = true;
  TreeWriter w(std::move(root), std::move(o));
  w.base_ = dir.empty() ? "/" : dir;
  w.base_fd_.reset(fd);
  return w;
}

int TreeWriter::open_rel(const std::string& rel, int flags) const {
  if (!base_fd_) return open_beneath(root_.get(), rel, flags);
  if (rel == "." || rel.empty()) return open_in_root_raw(root_.get(), base_, flags);
  return open_in_root_raw(root_.get(), base_ + "/" + rel, flags);
}

TreeWriter::Meta TreeWriter::meta_of(archive_entry* e) {
  Meta m;
  m.perm = archive_entry_perm(e);
  m.uid = static_cast<uid_t>(archive_entry_uid(e));
  m.gid = static_cast<gid_t>(archive_entry_gid(e));
  m.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  m.times[0] = archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                                             : m.times[1];
  return m;
}

Error TreeWriter::refuse(std::string_view why) const {
  return Error::invalid("refusing {} {}: {}", opts_.label, entry_, why);
}

Error TreeWriter::sys(int err, std::string_view verb) const { return Error::sys(err, "{} {}", verb, entry_); }

Result<void> TreeWriter::write_entry(archive* a, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (raw == nullptr) return Error::invalid("layer entry without a path name");
  entry_ = raw;
  if (!opts_.allow_absolute && starts_with(entry_, "/")) return refuse("absolute path");
  auto cleaned = clean_entry_path(entry_);
  if (!cleaned) return refuse("path contains '..'");
  std::vector<std::string> parts = std::move(*cleaned);
  Meta m = meta_of(e);
  if (opts_.owner) std::tie(m.uid, m.gid) = *opts_.owner;
  m.uid = opts_.shift.uid_out(m.uid);
  m.gid = opts_.shift.gid_out(m.gid);
  if (parts.empty()) {  // "/" or "./": the layer root itself
    if (archive_entry_filetype(e) != AE_IFDIR) return refuse("the root must be a directory");
    fixups_.push_back({".", 0, m});
    return ok();
  }
  std::string leaf = std::move(parts.back());
  std::string parent = join(parts, parts.size() - 1);
  int pfd = BERTH_TRY(parent_dir(parent));
  if (opts_.whiteouts && starts_with(leaf, kWhiteoutPrefix)) return write_whiteout(pfd, leaf, m);
  std::string rel = parent.empty() ? leaf : parent + "/" + leaf;
  return write_node(a, e, pfd, leaf, rel, m);
}

Result<void> TreeWriter::write_node(archive* a, archive_entry* e, int pfd, const std::string& leaf,
                                    const std::string& rel, const Meta& m) {
  if (const char* target = archive_entry_hardlink(e)) return write_hardlink(target, pfd, leaf);
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return write_dir(pfd, leaf, rel, m);
    case AE_IFREG:
      return write_file(a, e, pfd, leaf, m);
    case AE_IFLNK:
      return write_symlink(e, pfd, leaf, m);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return write_special(e, pfd, leaf, m);
    default:  // sockets cannot be archived meaningfully; tar skips them too
      return ok();
  }
}

// The parent directory of the current entry, created (0755) where missing.
// Consecutive entries usually share a parent, so the last one is cached.
Result<int> TreeWriter::parent_dir(const std::string& rel) {
  if (rel.empty()) return top();
  if (cached_fd_ && rel == cached_rel_) return cached_fd_.get();
  cached_fd_.reset();
  int fd = open_rel(rel, O_RDONLY | O_DIRECTORY);
  if (fd < 0 && errno == ENOENT) fd = BERTH_TRY(make_parents(rel));
  if (fd < 0) {
    if (errno == ELOOP) return refuse(fmt::format("{} passes through a symlink", rel));
    if (errno == EXDEV) return refuse(fmt::format("{} escapes the layer root", rel));
    return Error::sys(errno, "open directory {} for layer entry {}", rel, entry_);
  }
  cached_fd_.reset(fd);
  cached_rel_ = rel;
  return fd;
}

Result<int> TreeWriter::make_parents(const std::string& rel) {
  unique_fd cur;
  std::string done;
  for (const std::string& c : split(rel, '/')) {
    int at = cur ? cur.get() : top();
    done += done.empty() ? c : "/" + c;
    if (::mkdirat(at, c.c_str(), 0755) < 0 && errno != EEXIST)
      return Error::sys(errno, "create directory {} for {} {}", done, opts_.label, entry_);
    // In-root mode follows an existing symlink, inside the container root.
    int fd = base_fd_ ? open_rel(done, O_RDONLY | O_DIRECTORY)
                      : ::openat(at, c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP) return refuse(fmt::format("{} is a symlink", done));
    if (fd < 0) return Error::sys(errno, "open directory {} for layer entry {}", done, entry_);
    cur.reset(fd);
  }
  return cur.release();
}

// Clears `leaf` so a new node can be created there: a directory stays when
// `keep_dir` (and *is_dir is set), otherwise it must be empty to be replaced.
Result<void> TreeWriter::make_room(int pfd, const std::string& leaf, bool keep_dir, bool* is_dir) {
  struct stat st;
  if (is_dir) *is_dir = false;
  if (::fstatat(pfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return sys(errno, "stat");
  }
  if (S_ISDIR(st.st_mode) && keep_dir) {
    if (is_dir) *is_dir = true;
    return ok();
  }
  if (opts_.no_overwrite_dir_non_dir && S_ISDIR(st.st_mode) != keep_dir)
    return S_ISDIR(st.st_mode) ? refuse(fmt::format("cannot overwrite directory {} with a non-directory", leaf))
                               : refuse(fmt::format("cannot overwrite non-directory {} with a directory", leaf));
  cached_fd_.reset();  // the cached parent may be the node being removed
  cached_rel_.clear();
  if (::unlinkat(pfd, leaf.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) return sys(errno, "replace");
  return ok();
}

Result<void> TreeWriter::write_dir(int pfd, const std::string& leaf, const std::string& rel, const Meta& m) {
  // 0700 until finish(), so children can be created whatever the final mode.
  if (::mkdirat(pfd, leaf.c_str(), 0700) < 0) {
    if (errno != EEXIST) return sys(errno, "create directory");
    bool is_dir = false;
    BERTH_TRY_VOID(make_room(pfd, leaf, true, &is_dir));
    if (!is_dir && ::mkdirat(pfd, leaf.c_str(), 0700) < 0) return sys(errno, "create directory");
  }
  fixups_.push_back({rel, depth_of(rel), m});
  return ok();
}

Result<void> TreeWriter::write_file(archive* a, archive_entry* e, int pfd, const std::string& leaf,
                                    const Meta& m) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int raw = ::openat(pfd, leaf.c_str(), kFlags, 0600);
  if (raw < 0 && errno == EEXIST) {
    BERTH_TRY_VOID(make_room(pfd, leaf, false, nullptr));
    raw = ::openat(pfd, leaf.c_str(), kFlags, 0600);
  }
  if (raw < 0) return sys(errno, "create file");
  unique_fd fd(raw);
  int64_t size = archive_entry_size(e);
  BERTH_TRY_VOID(copy_data(a, fd.get(), size));
  size_bytes_ += size;
  // Start writing a big file out now, asynchronously: the layer's syncfs
  // (ImageStore) then waits for less. A hint; its failure changes nothing.
  if (size >= kEarlyWritebackBytes) (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  // chown clears set-id bits and security.capability, so it goes first.
  if (preserve_owner_ && ::fchown(fd.get(), m.uid, m.gid) < 0) return sys(errno, "chown");
  if (::fchmod(fd.get(), m.perm) < 0) return sys(errno, "chmod");
  BERTH_TRY_VOID(set_xattrs(e, fd.get()));
  if (::futimens(fd.get(), m.times) < 0) return sys(errno, "set times on");
  return ok();
}

// Copies the entry's data blocks; holes in sparse entries stay holes.
Result<void> TreeWriter::copy_data(archive* a, int fd, int64_t size) {
  int64_t end = 0;
  for (;;) {
    const void* buf = nullptr;
    size_t n = 0;
    la_int64_t off = 0;
    int r = archive_read_data_block(a, &buf, &n, &off);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK)
      return Error::invalid("read layer entry {}: {}", entry_, archive_error_string(a) ?: "unknown error");
    auto w = pwrite_all(fd, static_cast<const char*>(buf), n, off);
    if (!w) return std::move(w.error()).context("layer entry {}", entry_);
    end = std::max<int64_t>(end, off + static_cast<int64_t>(n));
  }
  if (end < size && ::ftruncate(fd, size) < 0) return sys(errno, "extend");
  return ok();
}

Result<void> TreeWriter::set_xattrs(archive_entry* e, int fd) {
  archive_entry_xattr_reset(e);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (starts_with(name, kOverlayXattrPrefix)) continue;
    if (::fsetxattr(fd, name, value, size, 0) == 0) continue;
    // A filesystem without xattrs, or an unprivileged unpack of a privileged
    // namespace, loses the attribute as GNU tar would.
    if (errno == ENOTSUP || (errno == EPERM && !privileged_)) continue;
    return Error::sys(errno, "set xattr {} on {}", name, entry_);
  }
  return ok();
}

Result<void> TreeWriter::set_owner_at(int pfd, const std::string& leaf, const Meta& m) {
  if (preserve_owner_ && ::fchownat(pfd, leaf.c_str(), m.uid, m.gid, AT_SYMLINK_NOFOLLOW) < 0)
    return sys(errno, "chown");
  return ok();
}

Result<void> TreeWriter::write_symlink(archive_entry* e, int pfd, const std::string& leaf, const Meta& m) {
  const char* target = archive_entry_symlink(e);
  if (target == nullptr) return refuse("symlink without a target");
  if (::symlinkat(target, pfd, leaf.c_str()) < 0) {
    if (errno != EEXIST) return sys(errno, "create symlink");
    BERTH_TRY_VOID(make_room(pfd, leaf, false, nullptr));
    if (::symlinkat(target, pfd, leaf.c_str()) < 0) return sys(errno, "create symlink");
  }
  BERTH_TRY_VOID(set_owner_at(pfd, leaf, m));
  if (::utimensat(pfd, leaf.c_str(), m.times, AT_SYMLINK_NOFOLLOW) < 0) return sys(errno, "set times on");
  return ok();
}

// The target is resolved like any entry path: below the root, through no
// symlink. linkat without AT_SYMLINK_FOLLOW links a symlink itself.
Result<void> TreeWriter::write_hardlink(const char* target, int pfd, const std::string& leaf) {
  std::vector<std::string> parts = BERTH_TRY(clean_entry_path(target));
  if (parts.empty()) return refuse("hard link to the layer root");
  std::string tleaf = parts.back();
  std::string tparent = parts.size() > 1 ? join(parts, parts.size() - 1) : ".";
  int raw = open_rel(tparent, O_RDONLY | O_DIRECTORY);
  if (raw < 0 && (errno == ELOOP || errno == EXDEV))
    return refuse(fmt::format("hard link target {} passes through a symlink", target));
  if (raw < 0) return Error::sys(errno, "open hard link target {} for layer entry {}", target, entry_);
  unique_fd tfd(raw);
  if (::linkat(tfd.get(), tleaf.c_str(), pfd, leaf.c_str(), 0) < 0) {
    if (errno != EEXIST) return Error::sys(errno, "link {} to {}", entry_, target);
    BERTH_TRY_VOID(make_room(pfd, leaf, false, nullptr));
    if (::linkat(tfd.get(), tleaf.c_str(), pfd, leaf.c_str(), 0) < 0)
      return Error::sys(errno, "link {} to {}", entry_, target);
  }
  return ok();
}

Result<void> TreeWriter::write_special(archive_entry* e, int pfd, const std::string& leaf, const Meta& m) {
  mode_t type = archive_entry_filetype(e);
  dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
  if (::mknodat(pfd, leaf.c_str(), type | m.perm, dev) < 0) {
    if (errno != EEXIST) return sys(errno, "create device node");
    BERTH_TRY_VOID(make_room(pfd, leaf, false, nullptr));
    if (::mknodat(pfd, leaf.c_str(), type | m.perm, dev) < 0) return sys(errno, "create device node");
  }
  BERTH_TRY_VOID(set_owner_at(pfd, leaf, m));
  // mknod applied the umask; set the mode the archive asked for.
  if (::fchmodat(pfd, leaf.c_str(), m.perm, 0) < 0) return sys(errno, "chmod");
  if (::utimensat(pfd, leaf.c_str(), m.times, AT_SYMLINK_NOFOLLOW) < 0) return sys(errno, "set times on");
  return ok();
}

// OCI layer whiteouts (image-spec layer.md) to overlayfs's on-disk format
// (Documentation/filesystems/overlayfs.rst, "whiteouts and opaque directories").
Result<void> TreeWriter::write_whiteout(int pfd, const std::string& leaf, const Meta& m) {
  if (leaf == kWhiteoutOpaque) {
    if (::fsetxattr(pfd, kOverlayOpaqueXattr, "y", 1, 0) < 0) return sys(errno, "mark opaque directory for");
    return ok();
  }
  if (starts_with(leaf, kWhiteoutMetaPrefix)) return ok();
  std::string name = leaf.substr(kWhiteoutPrefix.size());
  if (name.empty() || name == "." || name == "..") return refuse("invalid whiteout name");
  if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) < 0) {
    if (errno != EEXIST) return sys(errno, "create whiteout for");
    BERTH_TRY_VOID(make_room(pfd, name, false, nullptr));
    if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) < 0) return sys(errno, "create whiteout for");
  }
  return set_owner_at(pfd, name, m);
}

Result<void> TreeWriter::finish() {
  // Deepest first, so a directory that loses its owner's write or search bit
  // is changed only after everything under it; among equals, the last entry
  // for a path wins.
  std::stable_sort(fixups_.begin(), fixups_.end(),
                   [](const DirFixup& a, const DirFixup& b) { return a.depth > b.depth; });
  cached_fd_.reset();
  for (const DirFixup& f : fixups_) {
    entry_ = f.rel;
    int raw = open_rel(f.rel, O_RDONLY | O_DIRECTORY);
    // Replaced by a later non-directory entry: nothing to fix up.
    if (raw < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) continue;
    if (raw < 0) return sys(errno, "open directory");
    unique_fd fd(raw);
    if (preserve_owner_ && ::fchown(fd.get(), f.meta.uid, f.meta.gid) < 0) return sys(errno, "chown");
    if (::fchmod(fd.get(), f.meta.perm) < 0) return sys(errno, "chmod");
    if (::futimens(fd.get(), f.meta.times) < 0) return sys(errno, "set times on");
  }
  fixups_.clear();
  return ok();
}

}  // namespace berth::fs
