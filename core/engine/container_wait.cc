// wait and attach: clients that follow a container's life and output.
#include "core/engine/process.h"

namespace berth::engine {

uint64_t Engine::wait(Container& c, WaitCondition cond, std::function<void(int, const std::string&)> fire) {
  bool running = c.state.status == Status::kRunning || c.state.status == Status::kPaused ||
                 c.state.status == Status::kRestarting;
  if (cond == WaitCondition::kNotRunning && !running) {
    fire(c.state.exit_code, c.state.error);
    return 0;
  }
  uint64_t token = next_token_++;
  c.waiters.push_back({token, cond, std::move(fire)});
  return token;
}

void Engine::cancel_wait(const std::string& id, uint64_t token) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  std::erase_if(it->second->waiters, [token](const Waiter& w) { return w.token == token; });
}

void Engine::fire_waiters(Container& c, bool removed) {
  std::vector<Waiter> fire;
  std::erase_if(c.waiters, [&](Waiter& w) {
    bool due = removed || w.condition != WaitCondition::kRemoved;
    if (due) fire.push_back(std::move(w));
    return due;
  });
  for (auto& w : fire) w.fire(c.state.exit_code, c.state.error);
}

uint64_t Engine::attach(Container& c, Attacher a) {
  a.token = next_token_++;
  c.attachers.push_back(std::move(a));
  return c.attachers.back().token;
}

void Engine::detach(const std::string& id, uint64_t token) {
  // Deferred: a client may detach from inside the output fan-out loop.
  r_.defer([this, id, token] {
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    std::erase_if(it->second->attachers, [token](const Attacher& a) { return a.token == token; });
  });
}

}  // namespace berth::engine
