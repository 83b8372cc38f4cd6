// docker container prune: the containers that are not running (nor
// paused, restarting or being removed) and match the filters; their upper
// dirs are sized on the bulk lane, then each is removed like `rm`.
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/prune_filters.h"
#include "fs/image_store.h"

namespace berth::engine {

namespace {

bool active(Status s) { return is_running(s) || s == Status::kRestarting || s == Status::kRemoving; }

}  // namespace

void Engine::prune(PruneFilters f, DoneWith<PruneReport> done) {
  std::vector<std::pair<std::string, std::string>> victims;  // id, upper dir
  for (const auto& [id, c] : containers_) {
    if (active(c->state.status)) continue;
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
      Container* c = by_id(victims[i].first);
      if (!c || active(c->state.status)) {
        finish();
        continue;
      }
      std::string id = victims[i].first;
      int64_t bytes = (*sizes)[i];
      remove(*c, false, [rep, id, bytes, finish](Result<void> r) {
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
  if (!r_.run_bulk(std::move(job), std::move(sized)))
    done(Error(Code::kSystem, "container prune: berthd is too busy (job backlog full); try again"));
}

}  // namespace berth::engine
