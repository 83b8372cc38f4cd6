#include "core/engine/network_store.h"

#include <dirent.h>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"

namespace berth::engine {

using json = nlohmann::json;

std::string encode_network(const NetworkConfig& n) {
  json j{{"version", 1},          {"id", n.id},
         {"name", n.name},        {"driver", n.driver},
         {"created_ns", n.created_ns}, {"internal", n.internal},
         {"attachable", n.attachable}, {"labels", n.labels},
         {"options", n.options},  {"bridge", n.bridge},
         {"subnet", n.subnet},    {"gateway", n.gateway},
         {"ip_range", n.ip_range}};
  return j.dump() + "\n";
}

Result<NetworkConfig> decode_network(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::make(Code::kCorrupt, "network {}: not valid JSON", what);
  NetworkConfig n;
  try {
    using strmap = std::map<std::string, std::string>;
    n.id = j.at("id").get<std::string>();
    n.name = j.at("name").get<std::string>();
    n.driver = j.value("driver", "bridge");
    n.created_ns = j.value("created_ns", int64_t(0));
    n.internal = j.value("internal", false);
    n.attachable = j.value("attachable", false);
    n.labels = j.value("labels", strmap{});
    n.options = j.value("options", strmap{});
    n.bridge = j.value("bridge", "");
    n.subnet = j.value("subnet", "");
    n.gateway = j.value("gateway", "");
    n.ip_range = j.value("ip_range", "");
  } catch (const json::exception& e) {
    return Error::make(Code::kCorrupt, "network {}: {}", what, e.what());
  }
  if (n.id.size() != 64 || !is_hex(n.id) || n.name.empty())
    return Error::make(Code::kCorrupt, "network {}: bad id or name", what);
  return n;
}

std::string network_file(std::string_view dir, std::string_view id) { return fmt::format("{}/{}.json", dir, id); }

Result<std::vector<NetworkConfig>> load_networks(const std::string& dir) {
  std::vector<NetworkConfig> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Error::sys(errno, "open {}", dir);
  while (dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name.size() != 64 + 5 || name.substr(64) != ".json") continue;
    std::string path = dir + "/" + name;
    auto text = read_file(path);
    if (!text) {
      log::warn("engine", "skip network {}: {}", path, text.error().message());
      continue;
    }
    auto n = decode_network(*text, path);
    if (!n) {
      log::warn("engine", "skip network: {}", n.error().message());
      continue;
    }
    out.push_back(std::move(*n));
  }
  ::closedir(d);
  return out;
}

}  // namespace berth::engine
