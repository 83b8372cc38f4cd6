// docker image prune, docker container prune and docker system df. The
// candidates are chosen on the reactor thread (containers are engine
// state); sizes and deletions run on the job pool.
#include <set>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"
#include "core/engine/volumes.h"
#include "core/engine/warm.h"
#include "core/engine/prune_filters.h"

namespace berth::engine {

namespace {

}  // namespace

void ImageService::prune(PruneFilters f, DoneWith<PruneReport> done) {
  std::set<std::string> used;
  for (const auto& [id, c] : e_.containers_) used.insert(c->image_id);
  std::vector<fs::Image> victims;
  for (fs::Image& img : store_->list()) {
    if (used.count(img.id)) continue;
    if (f.dangling_only && !img.repo_tags.empty()) continue;
    if (f.until_ns && img.created_ns >= f.until_ns) continue;
    if (!labels_match(img.config.labels, f)) continue;
    victims.push_back(std::move(img));
  }
  for (const fs::Image& img : victims) e_.warm_->drop_image(img.id);  // they hold its layers mounted
  auto result = std::make_shared<Result<PruneReport>>(PruneReport{});
  auto store = store_;
  bool queued = e_.r_.run_bulk(
      [result, store, victims = std::move(victims)] {
        PruneReport& rep = **result;
        for (const fs::Image& img : victims) {
          for (const std::string& t : img.repo_tags) {
            if (auto r = store->untag(t); !r) continue;  // retagged meanwhile: keep it
            rep.images.push_back({t, {}});
          }
          auto gc = store->remove_image(img.id);
          if (!gc) {
            if (gc.error().code() == Code::kNotFound) continue;  // another rmi won
            *result = std::move(gc.error());
            return;
          }
          rep.images.push_back({{}, img.id});
          for (const std::string& chain : gc->deleted_layers) rep.images.push_back({{}, chain});
          rep.bytes += gc->bytes;
        }
      },
      [this, result, done] {
        if (*result)
          for (const ImageDeleteItem& it : (*result)->images)
            e_.events_.publish({"image", it.untagged.empty() ? "delete" : "untag",
                             it.untagged.empty() ? it.deleted : it.untagged, {}, now_ns()});
        e_.events_.publish({"image", "prune", "", {}, now_ns()});
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "image prune: berthd is too busy (job backlog full); try again"));
}

void ImageService::disk_usage(DoneWith<DiskUsage> done) {
  auto du = std::make_shared<DiskUsage>();
  du->images = store_->list();
  std::map<std::string, std::string> uppers;
  for (const auto& [id, c] : e_.containers_) {
    du->image_containers[c->image_id]++;
    uppers[id] = c->dir + "/upper";
  }
  std::map<std::string, std::string> volume_dirs;
  const VolumeStore& volumes = e_.volumes_->store();
  for (const auto& [name, v] : volumes.all()) {
    volume_dirs[name] = v.data_dir();
    du->volume_refs[name] = static_cast<int64_t>(volumes.users(name).size());
  }
  bool queued = e_.r_.run_bulk(
      [du, uppers = std::move(uppers), volume_dirs = std::move(volume_dirs)] {
        std::set<std::string> layers;
        for (const fs::Image& img : du->images) layers.insert(img.layer_dirs.begin(), img.layer_dirs.end());
        for (const std::string& l : layers) du->layers_bytes += fs::tree_file_bytes(l);
        for (const auto& [id, dir] : uppers) du->container_rw_bytes[id] = fs::tree_file_bytes(dir);
        for (const auto& [name, dir] : volume_dirs) du->volume_bytes[name] = fs::tree_file_bytes(dir);
      },
      [du, done] { done(std::move(*du)); });
  if (!queued) done(Error(Code::kSystem, "system df: berthd is too busy (job backlog full); try again"));
}

}  // namespace berth::engine
