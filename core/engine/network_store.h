// The configuration of berth's networks on disk: <root>/networks/<id>.json,
// one file per network (written atomically: temp, fsync, rename), beside
// its allocator <id>.ipam (netns/ipam.h). The predefined networks (bridge,
// host, none) have files too, so their ids survive restarts as Docker's do.
//
//   {"version": 1, "id": "<64 hex>", "name": "web", "driver": "bridge",
//    "created_ns": ..., "internal": false, "attachable": false,
//    "labels": {...}, "options": {...}, "bridge": "br-0123456789ab",
//    "subnet": "10.89.0.0/16", "gateway": "10.89.0.1", "ip_range": ""}
//
// encode/decode: pure, any thread. load_networks(): BLOCKS on the disk (the
// engine calls it before its loop runs).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::engine {

struct NetworkConfig {
  std::string id;
  std::string name;
  std::string driver = "bridge";  // "bridge", "host" or "null"
  int64_t created_ns = 0;
  bool internal = false;          // no way out, nothing published
  bool attachable = false;        // kept for Docker's shape; every local network is
  std::map<std::string, std::string> labels, options;
  std::string bridge;             // the root bridge (driver bridge)
  std::string subnet, gateway, ip_range;  // driver bridge: as given or chosen
  bool predefined() const { return name == "bridge" || name == "host" || name == "none"; }
};

std::string encode_network(const NetworkConfig& n);
Result<NetworkConfig> decode_network(std::string_view text, std::string_view what);
std::string network_file(std::string_view dir, std::string_view id);   // <dir>/<id>.json
// Every <dir>/*.json; a file that does not decode is skipped with a warning
// (and left for a human), as container states are.
Result<std::vector<NetworkConfig>> load_networks(const std::string& dir);

}  // namespace berth::engine
