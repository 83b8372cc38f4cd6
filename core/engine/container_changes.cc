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
#include "core/engine/files.h"
#include "core/engine/images.h"
#include "core/engine/piece_stream.h"
#include "fs/rootfs_tar.h"

namespace berth::engine {

// The image's layer dirs, topmost first.
static Result<std::vector<std::string>> image_layers(const fs::ImageStore& images, const Container& c) {
  if (c.state.status == Status::kRemoving)
    return Error::conflict("container {} is marked for removal", c.id);
  fs::Image img = BERTH_TRY_CTX(images.resolve(c.image_id), "container {}", c.id);
  return std::vector<std::string>(img.layer_dirs.rbegin(), img.layer_dirs.rend());
}

void ContainerFiles::changes(Container& c, DoneWith<std::vector<fs::Change>> done) {
  auto lowers = image_layers(e_.images().store(), c);
  if (!lowers) return done(std::move(lowers.error()));
  auto result = std::make_shared<Result<std::vector<fs::Change>>>(Error(Code::kCancelled, "diff not run"));
  std::string upper = c.dir + "/upper";
  bool queued = e_.r_.run_bulk([result, upper, lowers = std::move(*lowers)] { *result = fs::list_changes(upper, lowers); },
                           [result, done] { done(std::move(*result)); });
  if (!queued) done(Error(Code::kSystem, "diff: berthd is too busy (job backlog full); try again"));
}

void ContainerFiles::export_rootfs(Container& c, ExportPiece piece) {
  auto lowers = image_layers(e_.images().store(), c);
  if (!lowers) return piece(std::move(lowers.error()), true, {});
  std::vector<std::string> layers{c.dir + "/upper", e_.options().init_layer()};
  layers.insert(layers.end(), lowers->begin(), lowers->end());
  log::debug("engine", "export id={}", c.id);
  auto open = [layers = std::move(layers), shift = id_shift_of(c)]() -> Result<PieceProducer> {
    std::shared_ptr<fs::RootfsTar> tar = BERTH_TRY(fs::RootfsTar::open(layers, fs::TarMode::kMerged, shift));
    return PieceProducer([tar](std::string* out, size_t budget) { return tar->produce(out, budget); });
  };
  stream_pieces(e_.r_, std::move(open), std::move(piece), "export");
}

}  // namespace berth::engine
