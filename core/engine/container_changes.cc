// diff and export: a container's filesystem read from its overlay upper dir
// and its image's layer dirs (fs/layer_stack.h) on the job pool.
//
// Why not the mounted overlay: a running container's overlay is mounted
// only inside its own mount namespace (the host never sees it, and nothing
// is left mounted when it exits), and a stopped container has no mount at
// all. Merging the layer directories in user space, top down, honouring
// whiteouts and opaque directories as overlayfs does, gives the same tree
// for both, needs no mount or setns, and reads through openat2 beneath each
// layer, so nothing the container planted can lead outside it. A running
// container may change its upper dir meanwhile: the result is then a
// snapshot of a moving tree, as Docker's export of a running container is.
#include <memory>

#include "core/base/log.h"
#include "core/engine/engine.h"
#include "fs/rootfs_tar.h"

namespace berth::engine {

namespace {

constexpr size_t kExportPieceBytes = 1 << 20;

// One export in progress, owned by the closures that continue it (the next
// job, or the `more` handed to the caller). `tar` is used by one job at a
// time and by nothing else; `piece` only on the reactor thread.
class ExportRun : public std::enable_shared_from_this<ExportRun> {
 public:
  ExportRun(reactor::Reactor& r, std::vector<std::string> layers, Engine::ExportPiece piece)
      : r_(r), layers_(std::move(layers)), piece_(std::move(piece)) {}

  void next() {
    auto self = shared_from_this();
    if (!r_.run_job([self] { self->make(); }, [self] { self->deliver(); }))
      piece_(Error(Code::kSystem, "export: the daemon's job queue is full; try again"), true, {});
  }

 private:
  void make() {  // job pool
    out_.clear();
    if (!tar_) {
      auto t = fs::RootfsTar::open(layers_, fs::TarMode::kMerged);
      if (!t) {
        result_ = std::move(t.error());
        return;
      }
      tar_ = std::move(*t);
    }
    result_ = tar_->produce(&out_, kExportPieceBytes);
  }

  void deliver() {  // reactor
    if (!result_) return piece_(std::move(result_.error()), true, {});
    bool last = *result_;
    std::function<void()> more;
    if (!last) more = [self = shared_from_this()] { self->next(); };
    piece_(std::move(out_), last, std::move(more));
  }

  reactor::Reactor& r_;
  const std::vector<std::string> layers_;
  Engine::ExportPiece piece_;
  std::unique_ptr<fs::RootfsTar> tar_;
  std::string out_;
  Result<bool> result_ = false;
};

}  // namespace

// The image's layer dirs, topmost first.
static Result<std::vector<std::string>> image_layers(fs::ImageStore& images, const Container& c) {
  if (c.state.status == Status::kRemoving)
    return Error::conflict("container {} is marked for removal", c.id);
  fs::Image img = BERTH_TRY_CTX(images.resolve(c.image_id), "container {}", c.id);
  return std::vector<std::string>(img.layer_dirs.rbegin(), img.layer_dirs.rend());
}

void Engine::changes(Container& c, std::function<void(Result<std::vector<fs::Change>>)> done) {
  auto lowers = image_layers(*images_, c);
  if (!lowers) return done(std::move(lowers.error()));
  auto result = std::make_shared<Result<std::vector<fs::Change>>>(Error(Code::kCancelled, "diff not run"));
  std::string upper = c.dir + "/upper";
  bool queued = r_.run_job([result, upper, lowers = std::move(*lowers)] { *result = fs::list_changes(upper, lowers); },
                           [result, done] { done(std::move(*result)); });
  if (!queued) done(Error(Code::kSystem, "diff: the daemon's job queue is full; try again"));
}

void Engine::export_rootfs(Container& c, ExportPiece piece) {
  auto lowers = image_layers(*images_, c);
  if (!lowers) return piece(std::move(lowers.error()), true, {});
  std::vector<std::string> layers{c.dir + "/upper"};
  layers.insert(layers.end(), lowers->begin(), lowers->end());
  log::debug("engine", "export id={}", c.id);
  std::make_shared<ExportRun>(r_, std::move(layers), std::move(piece))->next();
}

}  // namespace berth::engine
