#include "core/engine/progress_relay.h"

#include <map>
#include <string>

namespace berth::engine {

using fs::registry::ProgressEvent;

ProgressRelay::~ProgressRelay() {
  for (Node* n = head_.exchange(nullptr); n;) {
    Node* next = n->next;
    delete n;
    n = next;
  }
}

void ProgressRelay::push(const ProgressEvent& e) {
  auto* n = new Node{e, head_.load(std::memory_order_relaxed)};
  while (!head_.compare_exchange_weak(n->next, n, std::memory_order_release, std::memory_order_relaxed)) {
  }
  // One drain in flight at a time. The drain clears `posted_` before it
  // takes the list, so an event pushed after its take posts a new one.
  if (posted_.exchange(true)) return;
  std::weak_ptr<ProgressRelay> weak = weak_from_this();
  if (!r_.post([weak] {
        if (auto self = weak.lock()) self->drain();
      }))
    posted_ = false;  // the loop's queue is full: the next event (or done's drain) tries again
}

std::vector<ProgressEvent> ProgressRelay::coalesce(std::vector<ProgressEvent> events) {
  std::vector<ProgressEvent> out;
  out.reserve(events.size());
  std::map<std::string, size_t> last_of_layer;  // id -> index in `out` of its latest event
  for (ProgressEvent& e : events) {
    if (e.has_detail && !e.id.empty()) {
      auto it = last_of_layer.find(e.id);
      if (it != last_of_layer.end()) {
        ProgressEvent& prev = out[it->second];
        if (prev.has_detail && prev.status == e.status) {
          prev = std::move(e);
          continue;
        }
      }
    }
    if (!e.id.empty()) last_of_layer[e.id] = out.size();
    out.push_back(std::move(e));
  }
  return out;
}

void ProgressRelay::drain() {
  posted_ = false;
  Node* n = head_.exchange(nullptr, std::memory_order_acquire);
  std::vector<ProgressEvent> batch;
  for (Node* p = n; p; p = p->next) batch.push_back(std::move(p->event));  // newest first
  while (n) {
    Node* next = n->next;
    delete n;
    n = next;
  }
  if (closed_ || !sink_ || batch.empty()) return;
  std::vector<ProgressEvent> fifo(std::make_move_iterator(batch.rbegin()), std::make_move_iterator(batch.rend()));
  for (const ProgressEvent& e : coalesce(std::move(fifo))) {
    if (closed_) return;  // the sink closed the relay (its client went away)
    sink_(e);
  }
}

}  // namespace berth::engine
