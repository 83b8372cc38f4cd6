#include "fs/rootfs_tar.h"

#include <sys/stat.h>
#include <unistd.h>

namespace berth::fs {

namespace {

constexpr size_t kReadBytes = 256 << 10;

// Something that vanished or changed type under a running container (a
// path component swapped for a symlink, a file for a FIFO): skip it.
bool vanished(const Error& e) {
  return e.code() == Code::kNotFound || e.sys_errno() == ENOTDIR || e.sys_errno() == ELOOP;
}

TarEntry entry_from_stat(const std::string& path, const struct stat& st, const IdShift& shift) {
  TarEntry t;
  t.path = path;
  t.mode = st.st_mode;
  t.uid = shift.uid_in(st.st_uid);
  t.gid = shift.gid_in(st.st_gid);
  t.mtime_s = st.st_mtim.tv_sec;
  return t;
}

}  // namespace

RootfsTar::RootfsTar(LayerStack stack, TarMode mode, TarStream tar)
    : stack_(std::move(stack)), mode_(mode), tar_(std::move(tar)) {}

Result<std::unique_ptr<RootfsTar>> RootfsTar::open(const std::vector<std::string>& top_first, TarMode mode,
                                                   IdShift top_shift) {
  if (top_first.empty() || (mode == TarMode::kLayer && top_first.size() != 1))
    return Error::invalid("a layer tar is made of exactly one directory");
  LayerStack stack = BERTH_TRY(LayerStack::open(top_first));
  // The sink appends to whatever buffer produce() was given; the slot is
  // shared because the stream is made before the object that owns it.
  auto slot = std::make_shared<std::string*>(nullptr);
  TarStream tar = BERTH_TRY(TarStream::open([slot](std::string_view data) -> Result<void> {
    if (*slot) (*slot)->append(data);
    return ok();
  }));
  std::unique_ptr<RootfsTar> t(new RootfsTar(std::move(stack), mode, std::move(tar)));
  t->slot_ = std::move(slot);
  t->top_shift_ = top_shift;
  t->buf_.resize(kReadBytes);
  return t;
}

Result<bool> RootfsTar::produce(std::string* out, size_t budget_bytes) {
  *slot_ = out;
  auto r = [&]() -> Result<void> {
    if (!started_) {
      started_ = true;
      BERTH_TRY_VOID(push("", mode_ == TarMode::kLayer ? std::vector<size_t>{0} : stack_.all_layers()));
    }
    while (!done_ && out->size() < budget_bytes) BERTH_TRY_VOID(step());
    return ok();
  }();
  *slot_ = nullptr;
  if (!r) return std::move(r.error());
  return done_;
}

Result<void> RootfsTar::step() {
  if (file_) return copy_file_piece();
  if (descend_) {
    auto [rel, layers] = std::move(*descend_);
    descend_.reset();
    return push(rel, layers);
  }
  while (!frames_.empty() && frames_.back().next == frames_.back().dir.entries.size()) frames_.pop_back();
  if (frames_.empty()) {
    BERTH_TRY_VOID(tar_.close());
    done_ = true;
    return ok();
  }
  Frame& f = frames_.back();
  const StackEntry& e = f.dir.entries[f.next++];
  std::string rel = join_rel(f.rel, e.name);
  auto r = emit(rel, e);
  if (!r && vanished(r.error())) return ok();
  return r;
}

// Reads directory `rel` from `layers` and makes it the current frame.
Result<void> RootfsTar::push(const std::string& rel, const std::vector<size_t>& layers) {
  bool layer = mode_ == TarMode::kLayer;
  Frame f;
  f.rel = rel;
  f.dir = BERTH_TRY(stack_.read_dir(rel, layers, layer));
  if (layer && f.dir.opaque) {
    TarEntry t;
    t.path = join_rel(rel, std::string(kWhiteoutOpaque));
    t.mode = S_IFREG | 0600;
    BERTH_TRY_VOID(tar_.write_header(t, 0));
    entries_++;
  }
  frames_.push_back(std::move(f));
  return ok();
}

Result<void> RootfsTar::emit(const std::string& rel, const StackEntry& e) {
  const struct stat& st = e.st;
  const IdShift shift = e.layer == 0 ? top_shift_ : IdShift{};
  if (e.whiteout) {  // kLayer only: kMerged never lists whiteouts
    size_t slash = rel.rfind('/');
    std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash + 1);
    TarEntry t = entry_from_stat(dir + std::string(kWhiteoutPrefix) + e.name, st, shift);
    t.mode = S_IFREG | 0600;
    t.uid = t.gid = 0;   // a marker, not a file: overlayfs made it as root
    entries_++;
    return tar_.write_header(t, 0);
  }
  if (S_ISSOCK(st.st_mode)) return ok();
  TarEntry t = entry_from_stat(rel, st, shift);
  t.xattrs = BERTH_TRY(stack_.xattrs(e.layer, rel));
  if (S_ISREG(st.st_mode)) return emit_file(rel, e, t);
  if (S_ISLNK(st.st_mode)) t.link_target = BERTH_TRY(stack_.read_link(e.layer, rel));
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) t.rdev = st.st_rdev;
  BERTH_TRY_VOID(tar_.write_header(t, 0));
  entries_++;
  if (S_ISDIR(st.st_mode))
    descend_.emplace(rel, mode_ == TarMode::kLayer ? std::vector<size_t>{0} : e.dir_layers);
  return ok();
}

Result<void> RootfsTar::emit_file(const std::string& rel, const StackEntry& e, TarEntry& t) {
  auto key = std::pair{e.st.st_dev, e.st.st_ino};
  if (e.st.st_nlink > 1) {
    if (auto it = links_.find(key); it != links_.end()) {
      t.hardlink = true;
      t.link_target = it->second;
      entries_++;
      return tar_.write_header(t, 0);
    }
  }
  auto opened = stack_.open_file(e.layer, rel);
  if (!opened && opened.error().code() == Code::kInvalidArgument) return ok();  // not a regular file any more
  unique_fd fd = BERTH_TRY(std::move(opened));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::sys(errno, "stat {}", rel);
  if (e.st.st_nlink > 1) links_.emplace(key, rel);
  BERTH_TRY_VOID(tar_.write_header(t, st.st_size));
  entries_++;
  file_ = std::move(fd);
  file_left_ = st.st_size;
  if (file_left_ == 0) file_.reset();
  return ok();
}

Result<void> RootfsTar::copy_file_piece() {
  size_t want = static_cast<size_t>(std::min<int64_t>(file_left_, static_cast<int64_t>(buf_.size())));
  ssize_t n;
  do n = ::read(file_.get(), buf_.data(), want);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys(errno, "read file for tar");
  if (n > 0) BERTH_TRY_VOID(tar_.write_data(std::string_view(buf_.data(), static_cast<size_t>(n))));
  file_bytes_ += n;
  file_left_ -= n;
  // Shrunk while read: libarchive pads the entry with zeros.
  if (n == 0 || file_left_ == 0) file_.reset();
  return ok();
}

}  // namespace berth::fs
