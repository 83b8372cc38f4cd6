// logs: followers of a container's log. The output pump wakes them after
// each commit and rotation; finish_exit wakes them a last time, once every
// byte of the container's output is in the log.
#include "core/engine/process.h"

namespace berth::engine {

uint64_t Engine::watch_log(Container& c, std::function<void(bool ended)> fire) {
  if (!c.proc || (c.state.status != Status::kRunning && c.state.status != Status::kPaused)) return 0;
  uint64_t token = next_token_++;
  c.log_watchers.push_back({token, std::move(fire)});
  return token;
}

void Engine::unwatch_log(const std::string& id, uint64_t token) {
  // Deferred: a follower may leave from inside notify_log's loop.
  r_.defer([this, id, token] {
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    std::erase_if(it->second->log_watchers, [token](const LogWatcher& w) { return w.token == token; });
  });
}

void Engine::notify_log(Container& c, bool ended) {
  if (c.log_watchers.empty()) return;
  if (!ended) {
    // By index: a callback may register a new watcher (never remove one).
    for (size_t i = 0; i < c.log_watchers.size(); i++) {
      auto fire = c.log_watchers[i].fire;
      fire(false);
    }
    return;
  }
  auto watchers = std::move(c.log_watchers);
  c.log_watchers.clear();
  for (auto& w : watchers) w.fire(true);
}

}  // namespace berth::engine
