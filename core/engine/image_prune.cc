// docker image prune, docker container prune and docker system df. The
// candidates are chosen on the reactor thread (containers are engine
// state); sizes and deletions run on the job pool.
#include <set>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"

namespace berth::engine {

namespace {

bool labels_match(const std::map<std::string, std::string>& have, const Engine::PruneFilters& f) {
  auto has = [&](const std::string& k, const std::string& v) {
    auto it = have.find(k);
    return it != have.end() && (v.empty() || it->second == v);
  };
  for (const auto& [k, v] : f.labels)
    if (!has(k, v)) return false;
  for (const auto& [k, v] : f.not_labels)
    if (has(k, v)) return false;
  return true;
}

bool is_active(Status s) {
  return s == Status::kRunning || s == Status::kPaused || s == Status::kRestarting || s == Status::kRemoving;
}

}  // namespace

void Engine::prune_images(PruneFilters f, std::function<void(Result<PruneReport>)> done) {
  std::set<std::string> used;
  for (const auto& [id, c] : containers_) used.insert(c->image_id);
  std::vector<fs::Image> victims;
  for (fs::Image& img : images_->list()) {
    if (used.count(img.id)) continue;
    if (f.dangling_only && !img.repo_tags.empty()) continue;
    if (f.until_ns && img.created_ns >= f.until_ns) continue;
    if (!labels_match(img.config.labels, f)) continue;
    victims.push_back(std::move(img));
  }
  for (const fs::Image& img : victims) warm_drop_image(img.id);  // they hold its layers mounted
  auto result = std::make_shared<Result<PruneReport>>(PruneReport{});
  fs::ImageStore* store = images_.get();
  bool queued = r_.run_job(
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
            events_.publish({"image", it.untagged.empty() ? "delete" : "untag",
                             it.untagged.empty() ? it.deleted : it.untagged, {}, now_ns()});
        events_.publish({"image", "prune", "", {}, now_ns()});
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "image prune: the daemon's job queue is full; try again"));
}

void Engine::prune_containers(PruneFilters f, std::function<void(Result<PruneReport>)> done) {
  std::vector<std::pair<std::string, std::string>> victims;  // id, upper dir
  for (const auto& [id, c] : containers_) {
    if (is_active(c->state.status)) continue;
    if (f.until_ns && c->created_ns >= f.until_ns) continue;
    if (!labels_match(c->spec.labels, f)) continue;
    victims.emplace_back(id, c->dir + "/upper");
  }
  auto sizes = std::make_shared<std::vector<int64_t>>();
  auto job = [sizes, victims] {
    for (const auto& v : victims) sizes->push_back(fs::tree_file_bytes(v.second));
  };
  auto sized = [this, sizes, victims, done] {
    auto rep = std::make_shared<PruneReport>();
    auto pending = std::make_shared<size_t>(victims.size() + 1);
    auto finish = [this, rep, pending, done] {
      if (--*pending > 0) return;
      events_.publish({"container", "prune", "", {}, now_ns()});
      done(std::move(*rep));
    };
    for (size_t i = 0; i < victims.size(); i++) {
      auto it = containers_.find(victims[i].first);
      if (it == containers_.end() || is_active(it->second->state.status)) {
        finish();
        continue;
      }
      std::string id = victims[i].first;
      int64_t bytes = (*sizes)[i];
      remove(*it->second, false, [rep, id, bytes, finish](Result<void> r) {
        if (r) {
          rep->containers.push_back(id);
          rep->bytes += bytes;
        } else {
          log::warn("engine", "prune: remove id={}: {}", id, r.error().message());
        }
        finish();
      });
    }
    finish();
  };
  if (!r_.run_job(std::move(job), std::move(sized)))
    done(Error(Code::kSystem, "container prune: the daemon's job queue is full; try again"));
}

void Engine::disk_usage(std::function<void(Result<DiskUsage>)> done) {
  auto du = std::make_shared<DiskUsage>();
  du->images = images_->list();
  std::map<std::string, std::string> uppers;
  for (const auto& [id, c] : containers_) {
    du->image_containers[c->image_id]++;
    uppers[id] = c->dir + "/upper";
  }
  std::map<std::string, std::string> volume_dirs;
  for (const auto& [name, v] : volumes_->all()) {
    volume_dirs[name] = v.data_dir();
    du->volume_refs[name] = static_cast<int64_t>(volumes_->users(name).size());
  }
  bool queued = r_.run_job(
      [du, uppers = std::move(uppers), volume_dirs = std::move(volume_dirs)] {
        std::set<std::string> layers;
        for (const fs::Image& img : du->images) layers.insert(img.layer_dirs.begin(), img.layer_dirs.end());
        for (const std::string& l : layers) du->layers_bytes += fs::tree_file_bytes(l);
        for (const auto& [id, dir] : uppers) du->container_rw_bytes[id] = fs::tree_file_bytes(dir);
        for (const auto& [name, dir] : volume_dirs) du->volume_bytes[name] = fs::tree_file_bytes(dir);
      },
      [du, done] { done(std::move(*du)); });
  if (!queued) done(Error(Code::kSystem, "system df: the daemon's job queue is full; try again"));
}

}  // namespace berth::engine
