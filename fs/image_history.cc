#include "fs/image_history.h"

#include <nlohmann/json.hpp>

#include "core/base/json_depth.h"
#include "fs/image_config.h"

namespace berth::fs {

Result<std::vector<HistoryEntry>> parse_history(std::string_view config_json) {
  using nlohmann::json;
  if (!json_depth_ok(config_json)) return Error::invalid("image config is nested too deeply");
  json j = json::parse(config_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("image config is not a JSON object");
  std::vector<HistoryEntry> out;
  auto it = j.find("history");
  if (it == j.end() || !it->is_array()) return out;
  for (const json& h : *it) {
    if (!h.is_object()) return Error::invalid("image config: a history entry is not an object");
    HistoryEntry e;
    auto str = [&](const char* key) {
      auto f = h.find(key);
      return f != h.end() && f->is_string() ? f->get<std::string>() : std::string();
    };
    if (std::string created = str("created"); !created.empty()) {
      auto ns = parse_rfc3339_ns(created);
      if (ns) e.created_ns = *ns;
    }
    e.created_by = str("created_by");
    e.comment = str("comment");
    e.author = str("author");
    auto empty = h.find("empty_layer");
    e.empty_layer = empty != h.end() && empty->is_boolean() && empty->get<bool>();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace berth::fs
