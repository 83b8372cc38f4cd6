#include "core/engine/events.h"

#include <vector>

#include "core/base/strings.h"

namespace berth::engine {

void EventBus::publish(Event e) {
  if (e.time_ns == 0) e.time_ns = now_ns();
  history_.push_back(e);
  if (history_.size() > kHistory) history_.pop_front();
  std::vector<uint64_t> tokens;
  for (auto& [t, s] : subs_) tokens.push_back(t);
  for (uint64_t t : tokens) {
    auto it = subs_.find(t);
    if (it == subs_.end()) continue;
    Sink sink = it->second;  // may unsubscribe itself
    sink(e);
  }
}

uint64_t EventBus::subscribe(Sink sink) {
  uint64_t t = next_token_++;
  subs_[t] = std::move(sink);
  return t;
}

}  // namespace berth::engine
