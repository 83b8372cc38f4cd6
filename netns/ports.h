// PortPlan: which bridge of a network takes the next container port.
//
// A Linux bridge takes at most 1,023 ports (BR_MAX_PORTS is 1,024 and port
// number 0 is never used: net/bridge/br_if.c find_portno() fails with
// EXFULL). A berth network therefore is a root bridge, which carries the
// gateway address, plus "leaf" bridges joined to the root by one veth pair
// each: one L2 segment, one subnet, no per-container routes. Containers fill
// the root first (a network of fewer than `per_bridge` containers is exactly
// Docker's one bridge, one hop), then leaf 1, 2, ... (lowest number with
// room first), and a leaf is made when every bridge is full.
//
// With per_bridge = 1,000 (the default) the root has 1,023 - 1,000 = 23
// ports left for leaf uplinks, so a network holds 24,000 containers; the 23
// spare ports on each bridge absorb ports the kernel has not yet removed
// (a container's veth goes away asynchronously when its namespace dies).
//
// Threads: a plain value, pure and non-blocking; one thread at a time.
#pragma once

#include <map>
#include <vector>

#include "core/base/result.h"

namespace berth::netns {

// Ports a bridge can take (BR_MAX_PORTS - 1).
constexpr unsigned kBridgeMaxPorts = 1023;

class PortPlan {
 public:
  // `per_bridge`: container ports per bridge, 1..1022. Leaves are numbered
  // 1..max_leaves(); bridge 0 is the root.
  explicit PortPlan(unsigned per_bridge = 1000);

  unsigned per_bridge() const { return per_bridge_; }
  unsigned max_leaves() const { return kBridgeMaxPorts - per_bridge_; }
  unsigned capacity() const { return per_bridge_ * (1 + max_leaves()); }

  struct Pick {
    unsigned bridge = 0;    // 0 = root, else the leaf number
    bool new_leaf = false;  // the leaf does not exist yet: make it first
  };
  // Counts one port on the chosen bridge. Errors: kConflict "network is
  // full: N containers on M bridges" when every bridge is full.
  Result<Pick> take();
  // A port left `bridge` (a no-op for a bridge with none counted).
  void give_back(unsigned bridge);
  // Restart: a bridge found with `used` container ports (creates the leaf).
  void set_used(unsigned bridge, unsigned used);
  // A leaf was deleted (must be empty) or could not be made.
  void drop_leaf(unsigned bridge);
  // A bridge refused a port (EXFULL: ports still being removed): counted
  // as full until a port leaves it.
  void mark_full(unsigned bridge);

  unsigned used(unsigned bridge) const;
  unsigned total_used() const;
  bool has_leaf(unsigned bridge) const { return bridge != 0 && used_.count(bridge); }
  std::vector<unsigned> leaves() const;
  std::vector<unsigned> empty_leaves() const;

 private:
  unsigned per_bridge_;
  std::map<unsigned, unsigned> used_;  // bridge -> container ports; root always present
  std::map<unsigned, unsigned> full_at_;  // bridge -> count at which it said EXFULL
};

}  // namespace berth::netns
