// labels_match: the label part of prune filters (label=k, label=k=v,
// label!=...), shared by image and container prune. Pure; any thread.
#pragma once

#include <map>
#include <string>

#include "core/engine/options.h"

namespace berth::engine {

inline bool labels_match(const std::map<std::string, std::string>& have, const PruneFilters& f) {
  auto has = [&](const std::string& k, const std::string& v) {
    auto it = have.find(k);
    return it != have.end() && (v.empty() || it->second == v);
  };
  for (const auto& [k, v] : f.labels)
    if (!has(k, v)) return false;
  for (const auto& [k, v] : f.not_labels)
    if (has(k, v)) return false;
  return true;
}

}  // namespace berth::engine
