// Image import runs on the bulk lane: unpacking and hashing a rootfs tarball
// can take seconds.
#include <unistd.h>

#include "core/engine/engine.h"
#include "core/engine/images.h"

namespace berth::engine {

void ImageService::import(std::string tar_path, std::string repo_tag, fs::ImageConfig changes, std::string comment,
                          DoneWith<fs::Image> done) {
  auto result = std::make_shared<Result<fs::Image>>(Error(Code::kCancelled, "import not run"));
  auto store = store_;
  bool queued = e_.r_.run_bulk(
      [=] {
        *result = store->import_rootfs(tar_path, repo_tag, changes, comment);
        ::unlink(tar_path.c_str());
      },
      [result, done] { done(std::move(*result)); });
  if (!queued) {
    ::unlink(tar_path.c_str());
    done(Error(Code::kSystem, "import: berthd is too busy (job backlog full); try again"));
  }
}

}  // namespace berth::engine
