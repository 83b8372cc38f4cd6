// docker cp: HEAD/GET/PUT /containers/{id}/archive on a path inside the
// container's root filesystem, running or stopped.
//
// Which root. Unlike diff/export (which merge the layer dirs in user space,
// container_changes.cc), cp must resolve symlinks as the container sees
// them, so it needs one real directory tree standing for the container's
// "/", and then resolves every path inside it with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) (fs/container_path.h):
//   - running (or paused): /proc/<pid>/root, opened O_PATH on the reactor
//     thread. The init is berthd's own child and is reaped only on this
//     thread, so the pid cannot name another process here; the fd then
//     pins the container's root mount (and its mount namespace's volumes,
//     bind mounts and tmpfs, which are crossed as Docker does) however long
//     the job takes, even if the container exits meanwhile.
//   - stopped (created, exited): the overlay of the image's layers under
//     the container's upper dir, made with fsopen/fsconfig/fsmount on the
//     job pool and never attached to any mount point: the mount fd is the
//     root, invisible to every other process, and the kernel drops the
//     mount when the job closes it. Nothing to unmount, nothing left
//     behind if berthd dies mid-copy. Volumes and bind mounts are not
//     mounted into it (Docker mounts them for a stopped container's cp):
//     a path under a volume's target shows what the root itself has there.
// While such a copy holds the overlay, a start would mount a second overlay
// on the same upper dir (overlayfs: "upperdir is in-use", and the two would
// not see each other's changes): start refuses (409) until the copy ends.
// The hold is counted in Container::overlay_copies and dropped with the
// last object of the copy (job, stream producer), on whichever thread.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/files.h"
#include "core/engine/images.h"
#include "core/engine/warm.h"
#include "core/engine/piece_stream.h"
#include "core/runtime/userns.h"
#include "fs/path_tar.h"

namespace berth::engine {

namespace {

// How a job reaches a container's root; made on the reactor thread, used
// once on the job pool.
class RootSource {
 public:
  static Result<std::shared_ptr<RootSource>> of(const fs::ImageStore& images, const std::string& init_layer,
                                                Container& c) {
    if (c.state.status == Status::kRemoving) return Error::conflict("container {} is marked for removal", c.id);
    auto s = std::make_shared<RootSource>();
    bool running = is_running(c.state.status) && c.state.pid > 0;
    // A created container with a warm init (warm.h): its overlay is mounted
    // there already, and a second one on the same upper dir must not be.
    pid_t pid = running ? c.state.pid : c.warm ? c.warm->proc.pid : 0;
    if (pid > 0) {
      std::string proc = fmt::format("/proc/{}/root", pid);
      int fd = ::open(proc.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return Error::sys(errno, "open the root of container {}", c.id);
      s->proc_root_.reset(fd);
      return s;
    }
    fs::Image img = BERTH_TRY_CTX(images.resolve(c.image_id), "container {}", c.id);
    s->lowers_ = {init_layer};  // as the running container sees its root
    s->lowers_.insert(s->lowers_.end(), img.layer_dirs.rbegin(), img.layer_dirs.rend());
    s->upper_ = c.dir + "/upper";
    s->work_ = c.dir + "/work";
    s->userns_ = c.spec.userns;
    if (!c.overlay_copies) c.overlay_copies = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> count = c.overlay_copies;
    count->fetch_add(1);
    s->hold_ = std::shared_ptr<void>(nullptr, [count](void*) { count->fetch_sub(1); });
    return s;
  }

  // Keeps a stopped container's start refused while alive (null if running).
  const std::shared_ptr<void>& hold() const { return hold_; }

  bool running() const { return static_cast<bool>(proc_root_); }

  Result<unique_fd> take() {  // job pool
    if (proc_root_) return std::move(proc_root_);
    if (!userns_) return fs::mount_overlay_detached(lowers_, upper_, work_);
    // Remapped: its layers idmapped as when it runs, so that every file
    // shows its host id, as through a running one's /proc/<pid>/root.
    runtime::Spec spec;
    spec.lower_dirs.assign(lowers_.rbegin(), lowers_.rend());   // lowest first
    spec.upper_dir = upper_;
    spec.work_dir = work_;
    int ns = BERTH_TRY(runtime::mapping_userns(userns_));
    return runtime::mount_idmapped_overlay(spec, ns);
  }

 private:
  unique_fd proc_root_;
  std::vector<std::string> lowers_;
  std::string upper_, work_;
  runtime::IdMap userns_;
  std::shared_ptr<void> hold_;
};

// Docker's answer to a write on a read-only root.
Error read_only_root() { return Error::invalid("container rootfs is marked read-only"); }

}  // namespace

void ContainerFiles::archive_stat(Container& c, std::string path, DoneWith<fs::PathInfo> done) {
  auto src = RootSource::of(e_.images().store(), e_.options().init_layer(), c);
  if (!src) return done(std::move(src.error()));
  auto result = std::make_shared<Result<fs::PathInfo>>(Error(Code::kCancelled, "stat not run"));
  bool queued = e_.r_.run_bulk(
      [result, src = *src, path = std::move(path)] {
        auto root = src->take();
        if (!root) *result = std::move(root.error());
        else *result = fs::stat_in_root(root->get(), fs::split_container_path(path));
      },
      [result, done] { done(std::move(*result)); });
  if (!queued) done(Error(Code::kSystem, "archive: berthd is too busy (job backlog full); try again"));
}

void ContainerFiles::archive_get(Container& c, std::string path, ExportPiece piece) {
  auto src = RootSource::of(e_.images().store(), e_.options().init_layer(), c);
  if (!src) return piece(std::move(src.error()), true, {});
  log::debug("engine", "archive get id={} path={}", c.id, path);
  auto open = [src = *src, path = std::move(path), shift = id_shift_of(c)]() -> Result<PieceProducer> {
    unique_fd root = BERTH_TRY(src->take());
    // Members are destroyed last to first: the tar (and the overlay's fd it
    // owns) goes before the hold, so a start cannot slip in between.
    struct Stream {
      std::shared_ptr<void> hold;
      std::shared_ptr<fs::PathTar> tar;
    };
    auto s = std::make_shared<Stream>(Stream{src->hold(), BERTH_TRY(fs::PathTar::open(std::move(root), path, shift))});
    return PieceProducer([s](std::string* out, size_t budget) { return s->tar->produce(out, budget); });
  };
  stream_pieces(e_.r_, std::move(open), std::move(piece), "archive");
}

void ContainerFiles::archive_put(Container& c, std::string path, std::string tar_path, ArchivePutOptions o, Done done) {
  auto src = RootSource::of(e_.images().store(), e_.options().init_layer(), c);
  if (!src) return done(std::move(src.error()));
  // A running container's kernel refuses writes to its read-only root
  // (EROFS) but takes them in its volumes; a stopped one's overlay here is
  // writable, so the flag is checked instead.
  if (c.spec.readonly_rootfs && !(*src)->running()) return done(read_only_root());
  log::debug("engine", "archive put id={} path={}", c.id, path);
  fs::TreeOptions topts;
  topts.no_overwrite_dir_non_dir = o.no_overwrite_dir_non_dir;
  if (!o.copy_uid_gid) topts.owner = std::pair<uid_t, gid_t>(0, 0);
  topts.shift = id_shift_of(c);
  auto result = std::make_shared<Result<void>>(Error(Code::kCancelled, "extract not run"));
  bool queued = e_.r_.run_bulk(
      [result, src = *src, path = std::move(path), tar_path = std::move(tar_path), topts]() mutable {
        *result = [&]() -> Result<void> {
          int raw = ::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC);
          if (raw < 0) return Error::sys(errno, "open upload {}", tar_path);
          unique_fd tar(raw);
          unique_fd root = BERTH_TRY(src->take());
          return fs::extract_in_root(std::move(root), path, tar.get(), std::move(topts));
        }();
        if (!*result && result->error().sys_errno() == EROFS) *result = read_only_root();
      },
      [result, done] { done(std::move(*result)); });
  if (!queued) done(Error(Code::kSystem, "archive: berthd is too busy (job backlog full); try again"));
}

}  // namespace berth::engine
