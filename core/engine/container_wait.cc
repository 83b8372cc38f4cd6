// wait: clients that follow a container's life (POST /wait).
#include "core/engine/engine.h"

namespace berth::engine {

uint64_t Engine::wait(Container& c, WaitCondition cond, std::function<void(int, const std::string&)> fire) {
  bool running = is_running(c.state.status) || c.state.status == Status::kRestarting;
  if (cond == WaitCondition::kNotRunning && !running) {
    fire(c.state.exit_code, c.state.error);
    return 0;
  }
  uint64_t t = token();
  c.waiters.push_back({t, cond, std::move(fire)});
  return t;
}

void Engine::cancel_wait(const std::string& id, uint64_t token) {
  if (Container* c = by_id(id)) std::erase_if(c->waiters, [token](const Waiter& w) { return w.token == token; });
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

}  // namespace berth::engine
