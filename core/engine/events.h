// EventBus: the daemon's event stream (GET /events): container lifecycle
// actions (create, start, die, destroy, kill, stop, pause, unpause, oom,
// update, ...) and image actions. Keeps the last kHistory events so a client
// asking `since` a moment ago sees what it missed; live subscribers get each
// event as it is published.
//
// Thread: reactor thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

namespace berth::engine {

struct Event {
  std::string type = "container";  // container | image
  std::string action;              // "start", "die", "oom", "kill", ...
  std::string id;                  // container id or image id/reference
  std::map<std::string, std::string> attributes;  // name, image, exitCode, signal, ...
  int64_t time_ns = 0;
};

class EventBus {
 public:
  static constexpr size_t kHistory = 1024;
  using Sink = std::function<void(const Event&)>;

  void publish(Event e);
  uint64_t subscribe(Sink sink);
  void unsubscribe(uint64_t token) { subs_.erase(token); }
  const std::deque<Event>& history() const { return history_; }

 private:
  std::deque<Event> history_;
  std::map<uint64_t, Sink> subs_;
  uint64_t next_token_ = 1;
};

}  // namespace berth::engine
