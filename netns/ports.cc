#include "netns/ports.h"

#include "core/base/assert.h"

namespace berth::netns {

PortPlan::PortPlan(unsigned per_bridge) : per_bridge_(per_bridge) {
  BERTH_ASSERT(per_bridge >= 1 && per_bridge < kBridgeMaxPorts);
  used_[0] = 0;
}

Result<PortPlan::Pick> PortPlan::take() {
  for (auto& [bridge, n] : used_) {
    auto f = full_at_.find(bridge);
    unsigned limit = f != full_at_.end() && f->second < per_bridge_ ? f->second : per_bridge_;
    if (n < limit) {
      n++;
      return Pick{bridge, false};
    }
  }
  for (unsigned leaf = 1; leaf <= max_leaves(); leaf++) {
    if (used_.count(leaf)) continue;
    used_[leaf] = 1;
    return Pick{leaf, true};
  }
  return Error::conflict("network is full: {} containers on {} bridges", total_used(), used_.size());
}

void PortPlan::give_back(unsigned bridge) {
  auto it = used_.find(bridge);
  if (it == used_.end() || it->second == 0) return;
  it->second--;
  full_at_.erase(bridge);
}

void PortPlan::set_used(unsigned bridge, unsigned used) {
  BERTH_ASSERT(bridge == 0 || bridge <= max_leaves());
  used_[bridge] = used;
}

void PortPlan::drop_leaf(unsigned bridge) {
  if (bridge == 0) return;
  used_.erase(bridge);
  full_at_.erase(bridge);
}

void PortPlan::mark_full(unsigned bridge) {
  auto it = used_.find(bridge);
  if (it == used_.end()) return;
  // The port that failed was counted by take(): it is not there.
  if (it->second > 0) it->second--;
  full_at_[bridge] = it->second;
}

unsigned PortPlan::used(unsigned bridge) const {
  auto it = used_.find(bridge);
  return it == used_.end() ? 0 : it->second;
}

unsigned PortPlan::total_used() const {
  unsigned n = 0;
  for (const auto& [b, u] : used_) n += u;
  return n;
}

std::vector<unsigned> PortPlan::leaves() const {
  std::vector<unsigned> out;
  for (const auto& [b, u] : used_)
    if (b) out.push_back(b);
  return out;
}

std::vector<unsigned> PortPlan::empty_leaves() const {
  std::vector<unsigned> out;
  for (const auto& [b, u] : used_)
    if (b && u == 0) out.push_back(b);
  return out;
}

}  // namespace berth::netns
