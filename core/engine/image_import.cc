// Image import runs on the job pool: unpacking and hashing a rootfs tarball
// can take seconds.
#include <unistd.h>

#include "core/engine/engine.h"

namespace berth::engine {

void Engine::import_image(std::string tar_path, std::string repo_tag, fs::ImageConfig changes,
                          std::string comment, std::function<void(Result<fs::Image>)> done) {
  auto result = std::make_shared<Result<fs::Image>>(Error(Code::kCancelled, "import not run"));
  fs::ImageStore* store = images_.get();
  bool queued = r_.run_job(
      [=] {
        *result = store->import_rootfs(tar_path, repo_tag, changes, comment);
        ::unlink(tar_path.c_str());
      },
      [result, done] { done(std::move(*result)); });
  if (!queued) {
    ::unlink(tar_path.c_str());
    done(Error(Code::kSystem, "import: the daemon's job queue is full; try again"));
  }
}

}  // namespace berth::engine
